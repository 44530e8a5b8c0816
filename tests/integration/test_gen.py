"""Integration test of sgs-gen: determinism, and the expectation file checked
against the generated events recomputed independently in Python (own working-day
calendar from configs/calendar-cn.json, own doc-number normalisation, own check
characters and quality rules; nothing of sgs's C code is used to judge it).

Every test makes several independent checks (sgstest.Checks): each prints `ok -
name` / `not ok - name`, and the test fails at its end naming every failed one.
"""
import datetime
import json
import os
import re
import subprocess
import time

import pytest

from sgstest import Checks, env, source_path

GEN = os.path.join(env.BUILD_DIR, "sgs-gen")
UNITS = source_path("configs", "units.tsv")
CALENDAR = source_path("configs", "calendar-cn.json")
BASE_ARGS = ["-X", "units.file=" + UNITS, "-X", "calendar.file=" + CALENDAR]


def run_gen(args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SGS_") or k in
           ("SGS_BUILD_DIR", "SGS_SOURCE_DIR")}
    p = subprocess.run([GEN] + BASE_ARGS + args, capture_output=True, env=env, timeout=600)
    if check and p.returncode != 0:
        raise RuntimeError("sgs-gen %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                         p.stderr.decode(errors="replace")))
    return p


# ---------------------------------------------------------------------------
# Independent domain code

def load_units(path):
    units = []  # (id, name, aliases)
    header = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not header:
                header = True
                continue
            cols = line.split("\t")
            aliases = [a for a in cols[3].split(",") if a] if len(cols) > 3 else []
            units.append((cols[0], cols[1], aliases))
    return units


class Calendar:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            c = json.load(f)
        self.years = set(c["years"])
        self.holidays = {datetime.date.fromisoformat(d) for d in c["holidays"]}
        self.workdays = {datetime.date.fromisoformat(d) for d in c["workdays"]}

    def is_workday(self, d):
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def deadline(self, decision, n):
        d = decision
        while n > 0:
            d += datetime.timedelta(days=1)
            if self.is_workday(d):
                n -= 1
        return d


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc_ok(s):
    if not isinstance(s, str) or len(s) != 18 or any(ch not in USCC_ALPHABET for ch in s):
        return False
    total = sum(USCC_ALPHABET.index(s[i]) * pow(3, i, 31) for i in range(17))
    return USCC_ALPHABET[(31 - total % 31) % 31] == s[17]


def idno_ok(s):
    if not isinstance(s, str) or len(s) != 18 or not s[:17].isdigit():
        return False
    if not (s[17].isdigit() or s[17] == "X"):
        return False
    try:
        datetime.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(s[i]) * weights[i] for i in range(17))
    return "10X98765432"[total % 11] == s[17]


BRACKETS = {"[": "]", "［": "］", "【": "】", "（": "）", "(": ")", "﹝": "﹞", "〖": "〗", "〔": "〕"}
YEAR_RE = re.compile("([%s])([0-9]{4})([%s])" % (re.escape("".join(BRACKETS)),
                                                   re.escape("".join(BRACKETS.values()))))


def normalise_doc_no(s):
    """Returns (normal form, prefix, year, serial) per RULES §4; serial None if none."""
    t = []
    for ch in s:
        o = ord(ch)
        if 0xFF10 <= o <= 0xFF19 or 0xFF21 <= o <= 0xFF3A or 0xFF41 <= o <= 0xFF5A:
            ch = chr(o - 0xFEE0)
        if ch.isspace() or ch == "\u3000":
            continue
        t.append(ch)
    t = "".join(t)
    for m in YEAR_RE.finditer(t):
        if BRACKETS[m.group(1)] != m.group(3):
            continue
        prefix, year, rest = t[:m.start()], int(m.group(2)), t[m.end():]
        ms = re.match(r"第?([0-9]+)(.*)$", rest)
        if not ms:
            return prefix + "〔%d〕" % year + rest, prefix, year, None
        serial = int(ms.group(1))
        return prefix + "〔%d〕%d%s" % (year, serial, ms.group(2)), prefix, year, serial
    return t, None, None, None


def parse_date_national(s):
    s = s.strip().split(" ")[0]
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
        try:
            return datetime.datetime.strptime(s, fmt).date()
        except ValueError:
            pass
    return None


def parse_date_native(s):
    if not isinstance(s, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return None
    try:
        return datetime.date.fromisoformat(s)
    except ValueError:
        return None


TZ = datetime.timezone(datetime.timedelta(hours=8))
SUBJ_NATIONAL = {"法人及非法人组织": "legal_person", "个体工商户": "individual_business",
                 "自然人": "natural_person"}


def to_record(obj):
    """National items to the native shape (the adapter of REFERENCE §3)."""
    if not any(k.startswith(("XK_", "CF_")) for k in obj):
        obj = dict(obj)
        obj.setdefault("op", None)
        return obj, "native"
    lic = any(k.startswith("XK_") for k in obj)
    p = "XK_" if lic else "CF_"
    jd = obj.get(p + "JDRQ")
    dd = parse_date_national(jd) if isinstance(jd, str) else None
    rec = {
        "kind": "license" if lic else "penalty",
        "unit_id": obj.get("XK_LYDWDM" if lic else "CF_SJLYDM"),
        "unit_name": obj.get("XK_LYDW" if lic else "CF_SJLY"),
        "doc_no": obj.get(p + "WSH"),
        "decision_date": dd.isoformat() if dd else "bad:%s" % jd,
        "subject": {"name": obj.get(p + "XDR_MC"),
                    "type": SUBJ_NATIONAL.get(obj.get(p + "XDR_LB"), obj.get(p + "XDR_LB")),
                    "uscc": obj.get(p + "XDR_SHXYM"), "id_no": obj.get(p + "XDR_ZJHM")},
        "authority": {"name": obj.get("XK_XKJG" if lic else "CF_CFJG"),
                      "uscc": obj.get("XK_XKJGDM" if lic else "CF_CFJGDM")},
        "op": {"I": "insert", "U": "update", "D": "revoke"}.get(obj.get("SYNC_STATUS"),
                                                                obj.get("SYNC_STATUS")),
    }
    if "reported_at" in obj:
        rec["reported_at"] = obj["reported_at"]
    if "_kafka_timestamp_ms" in obj:
        rec["_kafka_timestamp_ms"] = obj["_kafka_timestamp_ms"]
    if lic:
        rec["license"] = {"category": obj.get("XK_XKLB"), "content": obj.get("XK_NR"),
                          "valid_from": obj.get("XK_YXQZ"), "valid_to": obj.get("XK_YXQZI")}
        rec["penalty"] = None
    else:
        rec["license"] = None
        rec["penalty"] = {"category": obj.get("CF_CFLB"), "content": obj.get("CF_NR"),
                          "fine_amount": obj.get("CF_NR_FK")}
    return rec, "national"


def nonempty(v):
    return isinstance(v, str) and v.strip() != ""


def quality(rec, report_day, ts_ms_used):
    """The set of REFERENCE §4 codes this record fails."""
    bad = set()
    subj = rec.get("subject") or {}
    auth = rec.get("authority") or {}
    for v in (rec.get("kind"), rec.get("doc_no"), rec.get("decision_date"), subj.get("name"),
              subj.get("type"), auth.get("name")):
        if not nonempty(v):
            bad.add("missing_field")
    if not ts_ms_used and not nonempty(rec.get("reported_at")):
        bad.add("missing_field")
    kind = rec.get("kind")
    if kind not in ("license", "penalty") or not isinstance(rec.get(kind), dict):
        bad.add("bad_kind")
    dd = parse_date_native(rec.get("decision_date"))
    if nonempty(rec.get("decision_date")) and dd is None:
        bad.add("bad_date")
    if dd is not None and report_day is not None and dd > report_day:
        bad.add("future_decision")
    st = subj.get("type")
    us = subj.get("uscc")
    if st == "legal_person" and not uscc_ok(us):
        bad.add("bad_uscc")
    if st == "individual_business" and us not in (None, "00000000000000000X") and not uscc_ok(us):
        bad.add("bad_uscc")
    if st == "natural_person" and us is not None and not uscc_ok(us):
        bad.add("bad_uscc")
    if auth.get("uscc") is not None and not uscc_ok(auth.get("uscc")):
        bad.add("bad_uscc")  # checked when given (sgs/record.h)
    if st == "natural_person" and subj.get("id_no") is not None and not idno_ok(subj.get("id_no")):
        bad.add("bad_id_no")
    lic = rec.get("license")
    if kind == "license" and isinstance(lic, dict) and lic.get("valid_to"):
        vf = parse_date_native(lic.get("valid_from"))
        vt = parse_date_native(lic.get("valid_to"))
        if vf is None or vt is None or vt < vf:
            bad.add("bad_validity")
    pen = rec.get("penalty")
    if kind == "penalty" and isinstance(pen, dict):
        fa = pen.get("fine_amount")
        if fa is not None and (isinstance(fa, bool) or not isinstance(fa, (int, float))
                               or fa < 0 or fa != fa):
            bad.add("bad_amount")
    if nonempty(rec.get("doc_no")):
        norm = normalise_doc_no(rec["doc_no"])[0]
        if not 4 <= len(norm) <= 64:
            bad.add("bad_doc_no")
    return bad


PLACEHOLDER = "00000000000000000X"


def id_like(s):
    """An alias that the registry also finds as an id (registry.h)."""
    return all(0x21 <= ord(ch) <= 0x7E and ch != "|" for ch in s)


def national_unit(rec, ids, names):
    """(unit id or None, from the organ): the source unit by id, else by name;
    only a record that names no source unit, the deciding organ the same way
    (REFERENCE §3); the placeholder names no unit."""
    auth = rec.get("authority") or {}

    def named(key):
        return isinstance(key, str) and key and key != PLACEHOLDER

    candidates = [(rec.get("unit_id"), ids, False), (rec.get("unit_name"), names, False)]
    if not any(named(k) for k, _, _ in candidates):
        candidates += [(auth.get("uscc"), ids, True), (auth.get("name"), names, True)]
    for key, table, by_organ in candidates:
        if named(key) and key in table:
            return table[key], by_organ
    return None, False


def recompute(jsonl_path, month, cal, units, workdays=7):
    """Counts like a correct consumer, from the JSONL text alone."""
    ids = {}
    names = {}
    for u in units:
        ids[u[0]] = u[0]
        names[u[0]] = u[0]
        names[u[1]] = u[0]
        for a in u[2]:
            names[a] = u[0]
            if id_like(a):
                ids[a] = u[0]
    per = {u[0]: {"records": 0, "late": 0, "invalid": 0, "duplicates": 0, "licenses": 0,
                  "penalties": 0, "updates": 0, "revoked": 0, "from_organ": 0} for u in units}
    r = {"messages": 0, "malformed": 0, "unattributed": 0, "rejects": 0, "late_alerts": 0,
         "unknown_record": 0,
         "units": per, "bad_uscc_valid": 0, "bad_idno_valid": 0, "codes": {}, "multi": [],
         "formats": {"native": 0, "national": 0}, "outside_month": 0, "serials": {},
         "serials_all": {}, "norms": {}, "valid_usccs": 0, "valid_ids": 0}
    seen = set()
    with open(jsonl_path, "rb") as f:
        for raw in f:
            r["messages"] += 1
            raw = raw.rstrip(b"\n")
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                obj = None
            if not isinstance(obj, dict):
                r["malformed"] += 1
                r["rejects"] += 1
                continue
            rec, fmt = to_record(obj)
            r["formats"][fmt] += 1
            uid, from_organ = rec.get("unit_id"), False
            if fmt == "national":
                uid, from_organ = national_unit(rec, ids, names)
            elif uid in ids:
                uid = ids[uid]
            elif uid in names:  # a unit's name or alias name counts as it too
                uid = names[uid]
            # report time: reported_at, else the message timestamp
            ts_used = False
            report_day = None
            ra = rec.get("reported_at")
            if isinstance(ra, str):
                try:
                    report_day = datetime.datetime.fromisoformat(ra).astimezone(TZ).date()
                except ValueError:
                    report_day = None
            elif "_kafka_timestamp_ms" in rec:
                ts_used = True
                report_day = datetime.datetime.fromtimestamp(
                    rec["_kafka_timestamp_ms"] / 1000, TZ).date()
            if report_day is None or report_day.strftime("%Y-%m") != month:
                r["outside_month"] += 1
            if uid not in ids:
                r["unattributed"] += 1
                r["rejects"] += 1
                continue
            kind = rec.get("kind")
            norm, prefix, year, serial = normalise_doc_no(rec.get("doc_no") or "")
            identity = (uid, kind, norm) if 4 <= len(norm) <= 64 else None
            u = per[uid]
            op = rec.get("op")
            if op == "revoke":
                if identity is not None and identity in seen:
                    u["revoked"] += 1
                else:
                    r["unknown_record"] += 1
                    r["rejects"] += 1
                continue
            if op == "update" and identity is not None and identity in seen:
                u["updates"] += 1
                continue
            if identity is not None and identity in seen:
                u["duplicates"] += 1
                continue
            u["from_organ"] += from_organ
            if identity is not None:
                seen.add(identity)
            bad = quality(rec, report_day, ts_used)
            u["records"] += 1
            if kind == "license":
                u["licenses"] += 1
            elif kind == "penalty":
                u["penalties"] += 1
            dd = parse_date_native(rec.get("decision_date"))
            late = dd is not None and report_day is not None and kind in ("license", "penalty") \
                and report_day > cal.deadline(dd, workdays)
            if late:
                u["late"] += 1
                r["late_alerts"] += 1
            if serial is not None and kind in ("license", "penalty"):
                r["serials_all"].setdefault((uid, kind, prefix, year), set()).add(serial)
            if bad:
                u["invalid"] += 1
                r["rejects"] += 1
                for c in bad:
                    r["codes"][c] = r["codes"].get(c, 0) + 1
                if len(bad) != 1:
                    r["multi"].append((sorted(bad), raw[:200]))
                if late:
                    r["multi"].append((["invalid but late"], raw[:200]))
            else:
                subj = rec["subject"]
                if subj.get("uscc") not in (None, "00000000000000000X"):
                    r["valid_usccs"] += 1
                    if not uscc_ok(subj["uscc"]):
                        r["bad_uscc_valid"] += 1
                if subj.get("id_no") is not None:
                    r["valid_ids"] += 1
                    if not idno_ok(subj["id_no"]):
                        r["bad_idno_valid"] += 1
                if serial is not None:
                    r["serials"].setdefault((uid, kind, prefix, year), set()).add(serial)
                r["norms"].setdefault(uid, set()).add(norm)
    return r


def gaps_of(serials):
    out = {}
    for (uid, kind, _prefix, year), s in serials.items():
        missing = [x for x in range(min(s), max(s) + 1) if x not in s]
        if missing:
            out.setdefault(uid, []).append((kind, year, tuple(str(x) for x in missing)))
    return {k: sorted(v) for k, v in out.items()}


def expected_gaps(exp):
    out = {}
    for uid, lst in exp["gaps"].items():
        for g in lst:
            out.setdefault(uid, []).append((g["kind"], g["year"], tuple(g["missing"])))
    return {k: sorted(v) for k, v in out.items() if v}


# ---------------------------------------------------------------------------

def check_against(report, name, jsonl, expect_path, month, asked, cal, units):
    with open(expect_path, encoding="utf-8") as f:
        exp = json.load(f)
    r = recompute(jsonl, month, cal, units)
    report(name + ": month and message count",
           exp["month"] == month and exp["messages"] == r["messages"],
           "expect %s %s, counted %s" % (exp["month"], exp["messages"], r["messages"]))
    report(name + ": every registry unit in the expectation",
           set(exp["units"]) == {u[0] for u in units}, sorted(set(exp["units"]) ^
                                                            {u[0] for u in units}))
    base = {"records", "late", "invalid", "duplicates", "licenses", "penalties"}
    diffs = ["%s: expect %s, recomputed %s" % (uid, exp["units"].get(uid), c)
             for uid, c in r["units"].items()
             if not base <= set(exp["units"].get(uid, {}))
             or exp["units"][uid] != {k: c[k] for k in exp["units"][uid]}]
    report(name + ": per-unit counters equal the recomputed ones", not diffs,
           "\n".join(diffs))
    for key in ("unattributed", "malformed", "rejects", "late_alerts"):
        report(name + ": " + key, exp[key] == r[key], "expect %s, recomputed %s" % (exp[key],
                                                                                   r[key]))
    total = {k: sum(u[k] for u in r["units"].values()) for k in
             ("records", "late", "invalid", "duplicates", "licenses", "penalties")}
    want_late = round(asked["late_share"] * asked["records"])
    report(name + ": exactly the requested numbers",
           total["records"] == asked["records"] and total["late"] == want_late and
           total["invalid"] == asked["invalid"] and total["duplicates"] == asked["duplicates"]
           and r["malformed"] == asked["malformed"] and r["unattributed"] == asked["unknown"]
           and total["licenses"] + total["penalties"] == total["records"],
           "recomputed %s, malformed %d, unknown %d; asked %s (late %d)" %
           (total, r["malformed"], r["unattributed"], asked, want_late))
    report(name + ": every invalid record breaks exactly one rule and is on time",
           not r["multi"], "\n".join("%s %r" % m for m in r["multi"][:10]))
    if asked["invalid"] >= 9:
        report(name + ": the nine rules all occur", len(r["codes"]) == 9, r["codes"])
    report(name + ": every message in the month", r["outside_month"] == 0,
           "%d outside" % r["outside_month"])
    report(name + ": identifiers of valid records pass their check characters",
           r["bad_uscc_valid"] == 0 and r["bad_idno_valid"] == 0 and r["valid_usccs"] > 0,
           "%d bad USCC of %d, %d bad ID of %d" % (r["bad_uscc_valid"], r["valid_usccs"],
                                                   r["bad_idno_valid"], r["valid_ids"]))
    eg, rg = expected_gaps(exp), gaps_of(r["serials"])
    n_missing = sum(len(g[2]) for v in eg.values() for g in v)
    report(name + ": gaps equal the recomputed holes of valid numbers",
           eg == rg and n_missing == asked["gaps"], "expect %s\nrecomputed %s" % (eg, rg))
    report(name + ": invalid numbers add no holes", gaps_of(r["serials_all"]) == rg,
           gaps_of(r["serials_all"]))
    bad_docs = [(uid, d) for uid, lst in exp["doc_nos"].items() for d in lst
                if d not in r["norms"].get(uid, set())]
    n_docs = sum(len(v) for v in exp["doc_nos"].values())
    report(name + ": doc_nos were sent (normalised) by their unit", not bad_docs and n_docs > 0,
           bad_docs[:10])
    return exp, r


def check_errors(report, cases):
    """Each (label, arguments, word): exit 2 and one line that names word."""
    for label, args2, word in cases:
        p = run_gen(args2, check=False)
        err = p.stderr.decode(errors="replace").strip()
        report("error: " + label, p.returncode == 2 and word in err and len(err.splitlines()) == 1,
               "exit %d: %s" % (p.returncode, err))


# ---------------------------------------------------------------------------
# --key, --updates, --revokes, --national-by-organ, --resend-other-key

def read_objs(path):
    objs = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                o = None
            objs.append(o)
    return objs


def identity_of(obj, ids, names):
    rec, fmt = to_record(obj)
    uid = rec.get("unit_id")
    if fmt == "national":
        uid = national_unit(rec, ids, names)[0]
    norm = normalise_doc_no(rec.get("doc_no") or "")[0]
    return (uid, rec.get("kind"), norm), rec.get("op")


def write_alias_registry(tmp, units):
    """The shipped registry with an alias id for every other unit (REFERENCE §6:
    aliases hold other ids too, e.g. a county department's credit code)."""
    path = os.path.join(tmp, "units-alias.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("unit_id\tname\tgroup\taliases\n")
        for i, (uid, name, aliases) in enumerate(units):
            group = "city" if uid.startswith("11") else "county"
            al = list(aliases) + (["ALT-%03d" % i] if i % 2 == 0 else [])
            f.write("%s\t%s\t%s\t%s\n" % (uid, name, group, ",".join(al)))
    return path


def check_new_options(report, tmp, cal, units):
    reg = write_alias_registry(tmp, units)
    reg_units = load_units(reg)
    ids, names = {}, {}
    for uid, name, aliases in reg_units:
        ids[uid] = names[uid] = names[name] = uid
        for a in aliases:
            names[a] = uid
            if id_like(a):
                ids[a] = uid
    alias_of = {uid: next((a for a in al if id_like(a)), None) for uid, _n, al in reg_units}
    name_of = {uid: n for uid, n, _a in reg_units}
    # (the 20 re-sent under another key are duplicates too)
    asked = dict(records=3000, late_share=0.02, invalid=9, duplicates=25 + 20, malformed=5,
                 unknown=4, gaps=3)
    common = ["-X", "units.file=" + reg, "--month", "2024-03", "--seed", "11", "--records", "3000",
              "--invalid", "9", "--duplicates", "25", "--malformed", "5", "--unknown-unit", "4",
              "--gaps", "3", "--format", "mixed"]
    out = os.path.join(tmp, "new-options.jsonl")
    run_gen(common + ["--updates", "40", "--revokes", "30", "--national-by-organ", "50",
                      "--resend-other-key", "20", "--key", "mixed", "--out", out, "--expect",
                      out + ".json"])
    exp, r = check_against(report, "new options", out, out + ".json", "2024-03", asked, cal, reg_units)
    report("new options: expectation totals",
           exp.get("updates") == 40 and exp.get("revoked") == 30 and
           exp.get("unknown_record") == 3 and exp.get("from_organ") == 50 and
           exp.get("resent_other_key") == 20 and exp.get("key") == "mixed",
           {k: exp.get(k) for k in ("updates", "revoked", "unknown_record", "from_organ",
                                    "resent_other_key", "key")})
    tot = {k: sum(u[k] for u in r["units"].values()) for k in ("updates", "revoked",
                                                                 "from_organ", "duplicates")}
    report("new options: recomputed updates, revoked, unknown_record, from_organ, duplicates",
           tot["updates"] == 40 and tot["revoked"] == 30 and r["unknown_record"] == 3 and
           tot["from_organ"] == 50 and tot["duplicates"] == 25 + 20,
           "%s, unknown_record %d" % (tot, r["unknown_record"]))

    objs = read_objs(out)
    recs = [o for o in objs if isinstance(o, dict)]
    ops = {}
    for o in recs:
        op = o.get("op", o.get("SYNC_STATUS"))
        ops[op] = ops.get(op, 0) + 1
    report("new options: op in both spellings",
           ops.get("update", 0) + ops.get("U", 0) == 40 and
           ops.get("revoke", 0) + ops.get("D", 0) == 33 and ops.get("update", 0) > 0 and
           ops.get("U", 0) > 0 and ops.get("revoke", 0) > 0 and ops.get("D", 0) > 0 and
           "insert" not in ops and "I" not in ops, ops)
    # the by-organ records: no usable source unit, the organ names the unit
    by_organ = [o for o in recs if ("XK_WSH" in o or "CF_WSH" in o) and
                national_unit(to_record(o)[0], ids, names)[1]]
    spellings = {("XK_LYDWDM" in o or "CF_SJLYDM" in o,
                  (o.get("XK_LYDWDM") or o.get("CF_SJLYDM")) == PLACEHOLDER) for o in by_organ}
    report("new options: by-organ records lack their source unit three ways",
           len(by_organ) >= 50 and len(spellings) == 3, "%d, %s" % (len(by_organ), spellings))
    # keys: every line has one; a decision's messages share it but for the
    # re-sends under another key
    first_key, other, kinds = {}, 0, set()
    for o in recs:
        if "_kafka_key" not in o:
            other = -1000
            break
        ident, op = identity_of(o, ids, names)
        key = o["_kafka_key"]
        uid = ident[0]
        if uid in name_of:  # (records of unknown units are keyed by what they name)
            kinds.add("none" if key is None else "id" if key == uid else
                      "alias" if key == alias_of.get(uid) else
                      "name" if key == name_of.get(uid) else "?")
        if ident not in first_key:
            first_key[ident] = key
        elif key != first_key[ident] and op is None:
            other += 1
    report("new options: keys of a decision shared, but for the --resend-other-key ones",
           other == 20, other)
    report("new options: mixed keys are none, id, alias and name",
           kinds == {"none", "id", "alias", "name"}, kinds)

    # each single key mode
    for mode in ("none", "alias", "name", "unit"):
        p = os.path.join(tmp, "key-%s.jsonl" % mode)
        run_gen(["-X", "units.file=" + reg, "--month", "2024-03", "--seed", "12", "--records",
                 "400", "--format", "mixed", "--key", mode, "--out", p])
        bad = []
        for o in read_objs(p):
            if not isinstance(o, dict):
                continue
            uid = identity_of(o, ids, names)[0][0]
            want = {"none": None, "alias": alias_of.get(uid) or uid, "name": name_of.get(uid),
                    "unit": "absent"}[mode]
            if o.get("_kafka_key", "absent") != want:
                bad.append((o.get("_kafka_key", "absent"), want))
        report("--key %s: every line keyed so" % mode, not bad, bad[:5])

    # the extra stream leaves the rest as it was: the lines of a run without
    # the options are the same lines, in order, in a run with them
    a, b = os.path.join(tmp, "plain.jsonl"), os.path.join(tmp, "changes.jsonl")
    run_gen(common + ["--out", a])
    run_gen(common + ["--updates", "10", "--revokes", "10", "--out", b])
    la, lb = open(a, "rb").read().splitlines(), open(b, "rb").read().splitlines()
    it = iter(lb)
    report("--updates/--revokes only add lines", all(x in it for x in la) and
           len(lb) == len(la) + 10 + 10 + 1, "%d and %d lines" % (len(la), len(lb)))

    # errors name the option
    check_errors(report, [
        ("bad key", ["--month", "2024-03", "--key", "random"], "--key"),
        ("too many revokes", ["--month", "2024-03", "--records", "20", "--revokes", "30"],
         "--revokes"),
        ("too many by organ", ["--month", "2024-03", "--records", "20",
                               "--national-by-organ", "30"], "--national-by-organ"),
        ("negative updates", ["--month", "2024-03", "--updates", "-1"], "--updates"),
    ])

    # produced: keyless updates and revokes placed by the generator (mock cluster)
    p = run_gen(["--month", "2023-12", "--seed", "3", "--records", "500", "--updates", "5",
                 "--revokes", "5", "--key", "none", "--produce", "-X",
                 "kafka.test.mock.num.brokers=1", "-X", "topic.records=gen.keys"], check=False)
    err = p.stderr.decode(errors="replace")
    report("--produce with --key none and changes delivers every message (mock cluster)",
           p.returncode == 0 and "produced 511 of 511 messages to gen.keys (0 failed)" in err,
           "exit %d: %s" % (p.returncode, err))


@pytest.fixture
def report():
    """The test's soft checks: report(name, ok, detail); all judged at the end."""
    checks = Checks()
    yield checks
    checks.done()


@pytest.fixture(scope="module")
def cal_units():
    if not os.access(GEN, os.X_OK):
        pytest.fail("sgs-gen is built: %s not found" % GEN)
    return Calendar(CALENDAR), load_units(UNITS)


def test_determinism_and_spellings(report, tmp, cal_units):
    """1. determinism; 3. doc-number spellings vary while identities stay unique."""
    args = ["--month", "2023-12", "--seed", "42", "--invalid", "27", "--duplicates", "40",
            "--malformed", "12", "--unknown-unit", "9", "--gaps", "7", "--format", "mixed",
            "--no-reported-at-share", "0.03"]
    a, b = os.path.join(tmp, "a.jsonl"), os.path.join(tmp, "b.jsonl")
    run_gen(args + ["--out", a, "--expect", a + ".json"])
    run_gen(args + ["--out", b, "--expect", b + ".json"])
    same = open(a, "rb").read() == open(b, "rb").read() and \
        open(a + ".json", "rb").read() == open(b + ".json", "rb").read()
    report("same seed, byte-identical JSONL and expectation", same)
    c = os.path.join(tmp, "c.jsonl")
    run_gen(["--month", "2023-12", "--seed", "43", "--out", c])
    report("another seed, other output", open(a, "rb").read() != open(c, "rb").read())

    docs = []
    with open(a, encoding="utf-8", errors="replace") as f:
        for line in f:
            if _is_obj(line):
                o = json.loads(line)
                docs.append(o.get("doc_no", o.get("XK_WSH", o.get("CF_WSH"))))
    docs = [d for d in docs if isinstance(d, str)]
    spellings = {"〔": 0, "[": 0, "（": 0, "【": 0, "第": 0, "０": 0}
    for d in docs:
        for k in spellings:
            if k in d:
                spellings[k] += 1
    report("doc numbers in real-world spellings", all(v > 0 for v in spellings.values()),
           spellings)


CASES = [
    ("mixed 2023-12", "2023-12", "mixed", dict(records=11100, late_share=0.02, invalid=27,
                                               duplicates=40, malformed=12, unknown=9,
                                               gaps=7), ["--no-reported-at-share", "0.03"]),
    ("native 2024-01", "2024-01", "native", dict(records=3000, late_share=0.1, invalid=18,
                                                 duplicates=25, malformed=6, unknown=4,
                                                 gaps=5), []),
    ("national 2024-02", "2024-02", "national", dict(records=2500, late_share=0.05,
                                                     invalid=9, duplicates=10, malformed=3,
                                                     unknown=3, gaps=3), []),
    ("native 2023-10 tiny", "2023-10", "native", dict(records=60, late_share=0.05,
                                                      invalid=10, duplicates=3, malformed=2,
                                                      unknown=1, gaps=1), []),
]


@pytest.mark.parametrize("name,month,fmt,asked,extra", CASES, ids=[c[0] for c in CASES])
def test_expectation_matches_content(report, tmp, cal_units, name, month, fmt, asked, extra):
    """2. the expectation against the content, three formats and several months."""
    cal, units = cal_units
    out = os.path.join(tmp, name.replace(" ", "_") + ".jsonl")
    ex = out + ".json"
    run_gen(["--month", month, "--seed", "7", "--records", str(asked["records"]),
             "--late-share", str(asked["late_share"]), "--invalid", str(asked["invalid"]),
             "--duplicates", str(asked["duplicates"]), "--malformed",
             str(asked["malformed"]), "--unknown-unit", str(asked["unknown"]), "--gaps",
             str(asked["gaps"]), "--format", fmt, "--out", out, "--expect", ex] + extra)
    exp, r = check_against(report, name, out, ex, month, asked, cal, units)
    if fmt == "national":
        with open(out, encoding="utf-8", errors="replace") as f:
            objs = []
            for line in f:
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if isinstance(o, dict):
                    objs.append(o)
        xk = [o for o in objs if "XK_WSH" in o]
        cf = [o for o in objs if "CF_WSH" in o]
        need_xk = {"XK_XDR_MC", "XK_XDR_LB", "XK_WSH", "XK_XKLB", "XK_NR", "XK_JDRQ",
                   "XK_YXQZ", "XK_XKJG", "XK_XKJGDM", "XK_LYDW", "XK_LYDWDM"}
        need_cf = {"CF_XDR_MC", "CF_XDR_LB", "CF_WSH", "CF_WFXW", "CF_YJ", "CF_CFLB",
                   "CF_NR", "CF_JDRQ", "CF_CFJG", "CF_CFJGDM", "CF_SJLY", "CF_SJLYDM"}
        valid_national = [o for o in objs if "kind" not in o]
        report(name + ": national items (XK_/CF_) present",
               xk and cf and all(need_xk <= set(o) for o in xk) and
               all(need_cf <= set(o) for o in cf) and
               len(xk) + len(cf) == len(valid_national),
               "%d XK, %d CF of %d" % (len(xk), len(cf), len(objs)))
        dates = {o.get("XK_JDRQ", o.get("CF_JDRQ")) for o in xk + cf}
        report(name + ": national dates in several spellings",
               any("/" in d for d in dates) and any(re.fullmatch(r"\d{8}", d) for d in dates)
               and any("-" in d for d in dates))
    if fmt == "mixed":
        report(name + ": both formats present",
               r["formats"]["native"] > 100 and r["formats"]["national"] > 100,
               r["formats"])


def test_defaults(report, tmp, cal_units):
    """4. defaults: ~11,100 records, ~1,100 from city departments, one or two units empty."""
    _, units = cal_units
    d = os.path.join(tmp, "default.jsonl")
    run_gen(["--month", "2023-11", "--seed", "5", "--out", d, "--expect", d + ".json"])
    with open(d + ".json", encoding="utf-8") as f:
        exp = json.load(f)
    city = {u[0] for u in units if u[0].startswith("11")}
    rec_city = sum(v["records"] for k, v in exp["units"].items() if k in city)
    rec_all = sum(v["records"] for v in exp["units"].values())
    zeros = [k for k, v in exp["units"].items() if v["records"] == 0]
    few = [k for k, v in exp["units"].items() if 0 < v["records"] < 10]
    report("default volume and split", rec_all == 11100 and 900 <= rec_city <= 1300 and
           1 <= len(zeros) <= 2 and few, "all %d city %d zero %s few %s" %
           (rec_all, rec_city, zeros, few))
    late = sum(v["late"] for v in exp["units"].values())
    report("default late share 0.02", late == round(0.02 * 11100), late)



def test_errors(report, cal_units):
    """5. errors: one line naming the argument or file, exit 2."""
    check_errors(report, [
        ("bad month", ["--month", "2023-13"], "--month"),
        ("no month", [], "--month"),
        ("unknown argument", ["--month", "2023-12", "--bogus", "1"], "--bogus"),
        ("invalid > records", ["--month", "2023-12", "--records", "5", "--invalid", "6"],
         "--invalid"),
        ("bad share", ["--month", "2023-12", "--late-share", "1.5"], "--late-share"),
        ("bad format", ["--month", "2023-12", "--format", "xml"], "--format"),
        ("missing units file", ["--month", "2023-12", "-X", "units.file=/nonexistent/u.tsv"],
         "/nonexistent/u.tsv"),
        ("unknown config key", ["--month", "2023-12", "-X", "no.such.key=1"], "no.such.key"),
    ])


def test_produce_mock(report, cal_units):
    """6. --produce through librdkafka's in-process mock cluster."""
    p = run_gen(["--month", "2023-12", "--seed", "3", "--records", "3000", "--duplicates", "5",
                 "--malformed", "3", "--produce", "-X", "kafka.test.mock.num.brokers=1",
                 "-X", "topic.records=gen.test"], check=False)
    err = p.stderr.decode(errors="replace")
    report("--produce delivers every message (mock cluster)",
           p.returncode == 0 and "produced 3008 of 3008 messages to gen.test (0 failed)" in err,
           "exit %d: %s" % (p.returncode, err))



def test_new_options(report, tmp, cal_units):
    """7. the options of issue 14 (keys, op, the organ)."""
    cal, units = cal_units
    check_new_options(report, tmp, cal, units)


def test_speed(report, cal_units):
    """8. speed: 1,000,000 records in under 30 s."""
    t0 = time.monotonic()
    p = run_gen(["--month", "2023-12", "--seed", "1", "--records", "1000000", "--out",
                 os.devnull], check=False)
    dt = time.monotonic() - t0
    report("1,000,000 records in %.1f s (%.0f records/s)" % (dt, 1e6 / dt),
           p.returncode == 0 and dt < 30, p.stderr.decode(errors="replace"))


# ---------------------------------------------------------------------------
# Consecutive months (issue 17, point 9)

MONTHS_ARGS = ["--seed", "5", "--records", "4000", "--late-share", "0.05", "--invalid", "30",
               "--duplicates", "30", "--malformed", "3", "--unknown-unit", "3", "--gaps", "6",
               "--format", "mixed"]


def gen_month(tmp, month, name):
    """sgs-gen of one month with MONTHS_ARGS: (jsonl path, expectation)."""
    out = os.path.join(tmp, name + ".jsonl")
    run_gen(["--month", month] + MONTHS_ARGS + ["--out", out, "--expect", out + ".json"])
    with open(out + ".json", encoding="utf-8") as f:
        return out, json.load(f)


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def holes_of(numbers):
    """{(unit, kind, year, serial)} missing between the lowest and highest of
    each sequence of numbers {(unit, kind, prefix, year): {serial: month}}."""
    return {(uid, kind, year, x) for (uid, kind, _prefix, year), ss in numbers.items()
            for x in range(min(ss), max(ss) + 1) if x not in ss}


def left_out(exp, year=None):
    """{(unit, kind, year, serial)}: the numbers an expectation says sgs-gen left out."""
    return {(uid, g["kind"], g["year"], int(x)) for uid, lst in exp["gaps"].items()
            for g in lst for x in g["missing"] if year is None or g["year"] == year}


def test_consecutive_months(report, tmp, cal_units):
    """9. consecutive months (over a new year) continue each other's document
    numbers: together they show only the holes of --gaps, no number twice."""
    cal, units = cal_units
    months = ["2023-11", "2023-12", "2024-01", "2024-02"]
    alone, _ = gen_month(tmp, "2023-12", "dec-alone")  # before anything else
    runs = {m: gen_month(tmp, m, m) for m in months}
    report("December alone is byte-identical to December after November",
           same_bytes(alone, runs["2023-12"][0]) and
           same_bytes(alone + ".json", runs["2023-12"][0] + ".json"))
    numbers, twice = {}, []
    for m in months:
        r = recompute(runs[m][0], m, cal, units)
        # every number a consumer keeps: valid records' and invalid ones with a kind
        for key, ss in r["serials_all"].items():
            seen = numbers.setdefault(key, {})
            for x in ss:
                if x in seen:
                    twice.append((key, x, seen[x], m))
                seen.setdefault(x, m)
    report("no document number generated in two months", not twice, twice[:10])
    want = set().union(*(left_out(exp) for _, exp in runs.values()))
    got = holes_of(numbers)
    report("the holes of the four months together are the gaps they left out (%d)"
           % len(want), got == want and len(want) == 6 * len(months),
           "not left out: %s\nleft out, not missing: %s" % (sorted(got - want)[:10],
                                                            sorted(want - got)[:10]))
    years = {key[3] for key in numbers}
    report("the months number two years (December's late decisions reported in 2024)",
           years >= {2023, 2024}, years)
    firsts = {}
    for (uid, kind, prefix, year), ss in numbers.items():
        if year == 2024:
            firsts.setdefault(min(ss.items(), key=lambda kv: kv[0])[1], []).append(min(ss))
    report("January starts 2024's numbers at 1",
           firsts.get("2024-01") and set(firsts["2024-01"]) == {1}, firsts)
    usage = run_gen(["--help"]).stdout.decode()
    report("--help says how months continue each other",
           "consecutive months:" in usage and "same seed and options" in usage, usage[-900:])


def test_consecutive_months_snapshot(report, sgs, mock_broker):
    """9. November and December through sgs-consumer into Redis: the
    December snapshot's suspected omissions are exactly the numbers sgs-gen
    left out of the two months (before: tens of thousands)."""
    from sgstest import jsonl_messages
    from sgstest.fault import compare_snapshot, snapshot

    p = sgs("months", kafka=mock_broker, partitions=4)
    # (no malformed messages: a JSONL file has no send time for them, they
    # would count in the month they are produced in)
    opts = dict(seed=9, records=3000, late_share=0.05, invalid=30, duplicates=30,
                unknown_unit=3, gaps=8, format="mixed")
    dec_alone, _ = p.generate("2024-12", name="dec-alone", **opts)
    nov, exp_nov = p.generate("2024-11", name="nov", **opts)
    dec, exp_dec = p.generate("2024-12", name="dec", **opts)
    report("December alone is byte-identical to December after November",
           same_bytes(dec_alone, dec) and
           same_bytes(os.path.join(p.tmp, "dec-alone.expect.json"),
                      os.path.join(p.tmp, "dec.expect.json")))
    p.produce(jsonl_messages(nov) + jsonl_messages(dec))
    p.run_consumer(idle=3)
    for month, exp in (("2024-11", exp_nov), ("2024-12", exp_dec)):
        try:
            p.check_counts(exp, month=month)
            report("%s: counters equal the expectation" % month, True)
        except AssertionError as e:
            report("%s: counters equal the expectation" % month, False, str(e))
    for month, exps in (("2024-11", [exp_nov]), ("2024-12", [exp_nov, exp_dec])):
        snap = snapshot(p.tmp, p.conf, month=month)
        report("%s: snapshot counters equal the expectation" % month,
               not compare_snapshot(snap, exps[-1]), compare_snapshot(snap, exps[-1])[:10])
        want = set().union(*(left_out(e, year=2024) for e in exps))
        got = {(u["unit_id"], g["kind"], g["year"], int(x)) for u in snap["units"]
               for g in u["gaps"] for x in g["missing"]}
        count = sum(g["missing_count"] for u in snap["units"] for g in u["gaps"])
        report("%s: the suspected omissions are the %d numbers sgs-gen left out"
               % (month, len(want)),
               got == want and count == len(want) == 8 * len(exps),
               "reported %d: %s" % (count, sorted(got ^ want)[:10]))


def _is_obj(line):
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


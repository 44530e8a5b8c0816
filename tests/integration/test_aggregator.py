"""Integration tests of sgs-aggregator against a real redis-server and a Kafka
broker, both session fixtures of the shared library (sgstest: the real Apache
Kafka broker when it can be provisioned, else sgs-devbroker).

Redis is filled directly with the layout of docs/REDIS.md, from a list of
synthetic records; every expected figure (rates, order, flags, gaps, CSV rows,
the notice's numbers) is computed here from those records, independently of the
aggregator's code.
"""
import csv
import io
import json
import os
import random
import re
import signal
import subprocess
import time
import unicodedata
import zipfile
from decimal import ROUND_HALF_UP, Decimal

import pytest

from sgstest import build_path, check, check_eq, consume_all, free_port, wait_until

PARTS = ["sgs.records:0", "sgs.records:1", "sgs.records:2"]


def eq(got, want, what):
    check_eq(got, want, what)


class World:
    """One redis-server and one Kafka broker for the whole session; each case
    has its own Redis prefix and snapshots topic."""

    def __init__(self, redis_server, kafka):
        self.redis = redis_server
        self.kafka = kafka
        self.agg = build_path("sgs-aggregator")

    def messages(self, topic):
        """(key, value) of every message of the topic, in offset order."""
        return [(m.key_text(), m.text()) for m in consume_all(self.kafka.bootstrap, topic)]


# ---------------------------------------------------------------------------
# Fixtures: registry, calendar, config

UNITS = [
    # id, name, group, aliases
    ("11410400MB0000000X", "市市场监管局", "city", ["平顶山市市场监督管理局", "市场监管局"]),
    ("C02", "市公安局", "city", []),
    ("C03", "市交通局", "city", ["市交通运输局"]),
    ("C04", "市住建局", "city", ["市住房和城乡建设局"]),
    ("C05", "市统计局", "city", []),
    ("410423", "鲁山县", "county", []),
    ("410421", "宝丰县", "county", []),
    ("410425", "郏县", "county", []),
    ("C09", "市新设局", "city", []),  # "added after the month": never has records
]
GROUP_NAMES = {"city": "市直单位", "county": "县（市、区）"}

CAL = {
    "name": "test",
    "years": [2023, 2024],
    "holidays": ["2023-01-02", "2023-01-21", "2023-01-22", "2023-01-23", "2023-01-24",
                 "2023-01-25", "2023-01-26", "2023-01-27", "2023-04-05", "2023-04-29",
                 "2023-04-30", "2023-05-01", "2023-05-02", "2023-05-03", "2023-06-22",
                 "2023-06-23", "2023-06-24", "2023-09-29", "2023-09-30", "2023-10-01",
                 "2023-10-02", "2023-10-03", "2023-10-04", "2023-10-05", "2023-10-06",
                 "2024-01-01"],
    "workdays": ["2023-01-28", "2023-01-29", "2023-04-23", "2023-05-06", "2023-06-25",
                 "2023-10-07", "2023-10-08"],
}


class Case:
    """One test's world: temp dir, config, registry, calendar, Redis prefix and
    snapshots topic."""

    def __init__(self, env, tmp, name, low_volume=20, groups="county,city"):
        self.env = env
        self.dir = tmp
        self.prefix = "t%s" % name.replace("-", "")
        self.r = env.redis.client()
        self.raw = env.redis.client(decode=False)
        self.reports = os.path.join(self.dir, "reports")
        with open(os.path.join(self.dir, "units.tsv"), "w", encoding="utf-8") as f:
            f.write("# test registry\nunit_id\tname\tgroup\taliases\n")
            for uid, name_, group, aliases in UNITS:
                f.write("%s\t%s\t%s\t%s\n" % (uid, name_, group, ",".join(aliases)))
        with open(os.path.join(self.dir, "calendar.json"), "w", encoding="utf-8") as f:
            json.dump(CAL, f)
        self.conf = os.path.join(self.dir, "agg.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("redis.port = %d\n" % env.redis.port)
            f.write("redis.prefix = %s\n" % self.prefix)
            f.write("units.file = %s/units.tsv\n" % self.dir)
            f.write("calendar.file = %s/calendar.json\n" % self.dir)
            f.write("report.dir = %s\n" % self.reports)
            f.write("report.low_volume = %d\n" % low_volume)
            if groups:
                f.write("groups = %s\n" % groups)
            for g, n in GROUP_NAMES.items():
                f.write("group.%s.name = %s\n" % (g, n))
            f.write("kafka.bootstrap.servers = %s\n" % env.kafka.bootstrap)
            f.write("kafka.message.timeout.ms = 10000\n")
            f.write("topic.snapshots = snap.%s\n" % self.prefix)
        self.topic = "snap.%s" % self.prefix
        env.kafka.create_topics({self.topic: 1}, configs={"cleanup.policy": "compact"},
                                exist_ok=True)

    def env_vars(self, now=None):
        """The environment without SGS_* test variables (they are not config keys),
        plus SGS_NOW when given."""
        envv = {k: v for k, v in os.environ.items() if not k.startswith("SGS_")}
        if now:
            envv["SGS_NOW"] = now
        return envv

    def run(self, *args, now=None, timeout=120):
        p = subprocess.run([self.env.agg, "-c", self.conf] + list(args), capture_output=True,
                           env=self.env_vars(now), timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def key(self, rest):
        return "%s:%s" % (self.prefix, rest)

    def pkey(self, part, rest):
        return "%s:{%s}:%s" % (self.prefix, part, rest)


# ---------------------------------------------------------------------------
# Synthetic records and what the consumer would have written


class Rec:
    def __init__(self, unit, kind, docno, day, late=False, invalid=False, part=0, wdlate=0,
                 dup=False):
        self.unit, self.kind, self.docno, self.day = unit, kind, docno, day
        self.late, self.invalid, self.part, self.dup = late, invalid, part, dup
        self.wdlate = wdlate if late else 0


# The identity store of docs/REDIS.md, written here from its description: a
# number of the usual shape is a bit of the field "<unit>|<k>|<prefix>|<chunk>"
# of P:T:b:<year>; any other is its own field of P:T:x:<year>; the serials first
# counted in a month are bits of "<year>|<unit>|<k>|<prefix>|<chunk>" in
# P:T:g:<month>. Bits are numbered from the most significant of byte 0.
USUAL_DOC = re.compile(r"^(.*)〔(\d{4})〕([1-9]\d*)号$")
CHUNK = 8192


def _set_bit(fields, key, field, bit):
    b = fields.setdefault((key, field), bytearray())
    if len(b) <= bit // 8:
        b.extend(b"\0" * (bit // 8 + 1 - len(b)))
    b[bit // 8] |= 0x80 >> (bit % 8)


def store_identity(case, fields, part, unit, kind, docno, month, decision_year):
    k = "p" if kind == "penalty" else "l"
    m = USUAL_DOC.match(docno)
    if m and int(m.group(3)) < 2 ** 31:
        prefix, year, serial = m.group(1), m.group(2), int(m.group(3))
        _set_bit(fields, case.pkey(part, "b:" + year), "%s|%s|%s|%d" % (unit, k, prefix,
                                                                       serial // CHUNK),
                 serial % CHUNK)
        _set_bit(fields, case.pkey(part, "g:" + month), "%s|%s|%s|%s|%d" % (
            year, unit, k, prefix, serial // CHUNK), serial % CHUNK)
    else:
        fields[(case.pkey(part, "x:%d" % decision_year), "%s|%s|%s" % (unit, kind, docno))] = b"1"


def write_records(case, recs):
    """Counters per docs/REDIS.md: P:T:m, P:T:d, the identity store, P:T:offset
    (a partition holds state once its offset key exists). The identities written
    are kept per month in case.written."""
    r = case.r
    pipe = r.pipeline(transaction=False)
    fields = {}
    written = getattr(case, "written", None)
    if written is None:
        written = case.written = {}
    for rec in recs:
        part = PARTS[rec.part]
        pipe.incr(case.pkey(part, "offset"))
        month = rec.day[:7]
        for bucket in (case.pkey(part, "m:" + month), case.pkey(part, "d:" + rec.day)):
            if rec.unit is None:
                pipe.hincrby(bucket, "_|unattributed", 1)
                continue
            if rec.dup:
                pipe.hincrby(bucket, rec.unit + "|dup", 1)
                continue
            pipe.hincrby(bucket, rec.unit + "|records", 1)
            pipe.hincrby(bucket, rec.unit + ("|lic" if rec.kind == "license" else "|pen"), 1)
            if rec.late:
                pipe.hincrby(bucket, rec.unit + "|late", 1)
                pipe.hincrby(bucket, rec.unit + "|wdlate", rec.wdlate)
            if rec.invalid:
                pipe.hincrby(bucket, rec.unit + "|invalid", 1)
        if rec.unit is not None and not rec.dup and rec.docno:
            ident = "%s|%s|%s" % (rec.unit, rec.kind, rec.docno)
            if ident not in written.setdefault("all", set()):
                written["all"].add(ident)
                written.setdefault(month, set()).add(ident)
                store_identity(case, fields, part, rec.unit, rec.kind, rec.docno, month,
                               int(rec.day[:4]))
    for (key, field), value in fields.items():
        if key.split(":")[-2] in ("b", "g"):
            old = bytearray(case.raw.hget(key, field) or b"")
            if len(old) < len(value):
                old.extend(b"\0" * (len(value) - len(old)))
            for i, v in enumerate(value):
                old[i] |= v
            value = bytes(old)
        pipe.hset(key, field, value)
    pipe.execute()


def month_records(rnd, month, units, scale):
    """Random records for a month. units: {unit_id: number of records}."""
    recs = []
    for uid, n in units.items():
        for i in range(n):
            kind = "penalty" if i % 3 == 0 else "license"
            day = "%s-%02d" % (month, rnd.randint(1, 28))
            recs.append(Rec(uid, kind, None, day, late=rnd.random() < scale,
                            invalid=rnd.random() < 0.05, part=rnd.randrange(len(PARTS)),
                            wdlate=rnd.randint(1, 5)))
    return recs


def number_docs(recs, prefix_of, year, skip=None):
    """Gives the records consecutive doc numbers per (unit, kind), leaving out the
    serials in skip[(unit, kind)]."""
    counters = {}
    for rec in recs:
        if rec.unit is None or rec.dup:
            continue
        k = (rec.unit, rec.kind)
        n = counters.get(k, 0) + 1
        while n in (skip or {}).get(k, ()):
            n += 1
        counters[k] = n
        rec.docno = "%s〔%d〕%d号" % (prefix_of(rec.unit, rec.kind), year, n)


# ---------------------------------------------------------------------------
# Independent expectations


def rate(num, den):
    if den == 0:
        return None
    return (Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def rate_text(num, den):
    v = rate(num, den)
    return "-" if v is None else "%.2f" % v


def rate_json(num, den):
    v = rate(num, den)
    return None if v is None else float(v)


def expected_units(recs, concealed=None, prev=None):
    out = {}
    for uid, name, group, _ in UNITS:
        out[uid] = dict(unit_id=uid, name=name, group=group, records=0, late=0, invalid=0,
                        duplicates=0, concealed=0, licenses=0, penalties=0)
    for rec in recs:
        if rec.unit is None or rec.unit not in out:
            continue
        u = out[rec.unit]
        if rec.dup:
            u["duplicates"] += 1
            continue
        u["records"] += 1
        u["late"] += rec.late
        u["invalid"] += rec.invalid
        u["licenses" if rec.kind == "license" else "penalties"] += 1
    for ident in (concealed or []):
        out[ident.split("|")[0]]["concealed"] += 1
    for u in out.values():
        u["late_rate"] = rate_json(u["late"], u["records"])
        u["quality_rate"] = rate_json(u["records"] - u["invalid"], u["records"])
        u["prev_records"] = None if prev is None else prev.get(u["unit_id"])
    return out


def expected_order(units, groups_order):
    index = {uid: i for i, (uid, _, _, _) in enumerate(UNITS)}
    rows = []
    for g in groups_order:
        members = [u for u in units.values() if u["group"] == g]
        members.sort(key=lambda u: (-u["records"], index[u["unit_id"]]))
        rows.extend(members)
    return rows


def expected_flags(units, low_volume, has_prev):
    flags = {}
    top = {}
    for u in units.values():
        top[u["group"]] = max(top.get(u["group"], 0), u["records"])
    for uid, u in units.items():
        f = []
        if u["records"] > 0 and u["records"] == top[u["group"]]:
            f.append("high_volume")
        p = u["prev_records"]
        if has_prev and p is not None and u["records"] >= p + 10 and u["records"] * 5 >= p * 6:
            f.append("improved")
        if u["records"] < low_volume:
            f.append("low_volume")
        if u["late"] > 0:
            f.append("has_late")
        flags[uid] = f
    return flags


def expected_gaps(members, year):
    """members: identities '<unit>|<kind>|<prefix>〔YYYY〕N号' (our own simple form)."""
    seen = {}
    for m in members:
        uid, kind, doc = m.split("|", 2)
        mm = re.fullmatch(r"(.*)〔(\d{4})〕(\d+)号", doc)
        if not mm or int(mm.group(2)) != year:
            continue
        seen.setdefault(uid, {}).setdefault((kind, mm.group(1)), set()).add(int(mm.group(3)))
    out = {}
    for uid, groups in seen.items():
        gaps = []
        for (kind, prefix) in sorted(groups, key=lambda k: (k[0] != "license", k[1].encode())):
            nums = sorted(groups[(kind, prefix)])
            missing, listed = 0, []
            for a, b in zip(nums, nums[1:]):
                block = list(range(a + 1, b))
                missing += len(block)
                if len(block) <= 1000:  # a longer block is counted, not listed
                    listed += block
            if missing:
                gaps.append(dict(kind=kind, prefix=prefix, year=year, missing_count=missing,
                                 missing=[str(n) for n in listed]))
        if gaps:
            # every number listed, at most 5,000 per unit
            budget = 5000
            for g in gaps:
                g["missing"] = g["missing"][:budget]
                budget -= len(g["missing"])
            out[uid] = gaps
    return out


def sums(rows, fields):
    return {f: sum(r[f] for r in rows) for f in fields}


COUNT_FIELDS = ["records", "late", "invalid", "duplicates", "concealed", "licenses", "penalties"]


def read_csv(path):
    raw = open(path, "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf"), "%s: no UTF-8 BOM" % path
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))


def md_tables(text):
    """Markdown tables of the notice: list of row lists (header and separator dropped)."""
    tables, cur = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cur is None:
                cur = []
                continue  # header
            if set("".join(cells)) <= set("-: "):
                continue
            cur.append(cells)
        elif cur is not None:
            tables.append(cur)
            cur = None
    if cur is not None:
        tables.append(cur)
    return tables


# ---------------------------------------------------------------------------
# Tests

@pytest.fixture
def world(shared_redis, kafka):
    return World(shared_redis, kafka)


PREFIXES = {"license": "平许", "penalty": "平罚"}


def doc_prefix(uid, kind):
    return "%s%s" % (uid[-3:], PREFIXES[kind])


def golden_world(case):
    """November and December 2023 for the registry; returns (nov, dec) records."""
    rnd = random.Random(7)
    nov = month_records(rnd, "2023-11", {
        "11410400MB0000000X": 40, "C02": 12, "C03": 5, "C04": 30, "C05": 0,
        "410423": 60, "410421": 50, "410425": 9}, 0.1)
    dec = month_records(rnd, "2023-12", {
        "11410400MB0000000X": 55,  # improved: 40 -> 55 (+15, x1.375)
        "C02": 21,                 # +9: not improved (needs +10)
        "C03": 5, "C04": 30, "C05": 3,
        "410423": 60, "410421": 60,  # tie for the county's top
        "410425": 22,              # 9 -> 22: improved
    }, 0.1)
    # C05: only invalid records
    for rec in dec:
        if rec.unit == "C05":
            rec.invalid = True
            rec.late = False
    # duplicates and unattributed records
    dec.append(Rec("C02", "license", None, "2023-12-03", dup=True, part=1))
    dec.append(Rec("C02", "license", None, "2023-12-04", dup=True, part=2))
    dec.extend(Rec(None, "license", None, "2023-12-05", part=p) for p in (0, 1, 2))
    # a unit id in the counters that the registry does not know
    dec.append(Rec("GHOST", "penalty", "X〔2023〕1号", "2023-12-06", part=0))
    skip = {("11410400MB0000000X", "penalty"): {7, 8}, ("C04", "license"): {3},
            ("410423", "license"): set(range(10, 310))}  # 300 missing: every one listed
    # December continues November's numbering: both months in one pass
    number_docs(nov + dec, doc_prefix, 2023, skip)
    return nov, dec


def test_golden(world, tmp):
    """snapshot: golden JSON, CSV and notice computed independently"""
    case = Case(world, tmp, "golden")
    nov, dec = golden_world(case)
    write_records(case, nov + dec)

    rc, out, err = case.run("snapshot", "--month", "2023-11")
    eq(rc, 0, "snapshot 2023-11 exit (stderr %s)" % err)
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "snapshot 2023-12 exit (stderr %s)" % err)
    check("GHOST" in err and "not in the registry" in err, "no warning about GHOST: " + err)

    snap = json.load(open(os.path.join(case.reports, "2023-12.json"), encoding="utf-8"))
    eq(snap["month"], "2023-12", "month")
    eq(snap["version"], 1, "version")
    eq(snap["period"], {"from": "2023-12-01T00:00:00+08:00", "to": "2023-12-31T23:59:59+08:00"},
       "period")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", snap["generated_at"]),
          "generated_at " + snap["generated_at"])

    prev = {u: v["records"] for u, v in expected_units(nov).items()}
    units = expected_units(dec, prev=prev)
    flags = expected_flags(units, 20, True)
    members = set()
    for m in ("2023-11", "2023-12"):
        members |= case.written.get(m, set())
    gaps = expected_gaps(members, 2023)
    order = expected_order(units, ["county", "city"])

    eq([u["unit_id"] for u in snap["units"]], [u["unit_id"] for u in order], "unit order")
    for got in snap["units"]:
        want = units[got["unit_id"]]
        for k in ("name", "group", "records", "late", "late_rate", "invalid", "quality_rate",
                  "duplicates", "concealed", "licenses", "penalties", "prev_records"):
            eq(got[k], want[k], "%s.%s" % (got["unit_id"], k))
        eq(got["flags"], flags[got["unit_id"]], "%s flags" % got["unit_id"])
        wg = gaps.get(got["unit_id"], [])
        eq(len(got["gaps"]), len(wg), "%s gap entries" % got["unit_id"])
        for g, w in zip(got["gaps"], wg):
            for k in ("kind", "prefix", "year", "missing_count", "missing"):
                eq(g[k], w[k], "%s gap %s" % (got["unit_id"], k))
    eq(flags["11410400MB0000000X"].count("improved"), 1, "improved rule fixture")
    check("high_volume" in flags["410423"] and "high_volume" in flags["410421"], "tie fixture")
    eq(gaps["410423"][0]["missing_count"], 300, "gap fixture")
    # REFERENCE §8, §10: every suspected gap, in the JSON and in the ledger
    g423 = [u for u in snap["units"] if u["unit_id"] == "410423"][0]["gaps"][0]
    eq(g423["missing"], [str(n) for n in range(10, 310)], "410423: all 300 missing listed")
    rows = [row for row in read_csv(os.path.join(case.reports, "2023-12-ledger.csv"))[1:]
            if row[0] == "410423" and row[2] == "疑似漏报" and row[3] == "行政许可"]
    eq([row[4] for row in rows], ["423平许〔2023〕%d号" % n for n in range(10, 310)],
       "410423: a ledger row per missing number, no note")
    c05 = [u for u in snap["units"] if u["unit_id"] == "C05"][0]
    eq(c05["quality_rate"], 0.0, "only-invalid unit quality_rate")
    c09 = [u for u in snap["units"] if u["unit_id"] == "C09"][0]
    eq((c09["records"], c09["late_rate"], c09["quality_rate"], c09["prev_records"]),
       (0, None, None, 0), "unit without records")

    # groups and totals are sums of the unit rows
    eq([g["group"] for g in snap["groups"]], ["county", "city"], "group order")
    for g in snap["groups"]:
        rows = [u for u in snap["units"] if u["group"] == g["group"]]
        eq(g["name"], GROUP_NAMES[g["group"]], "group name")
        for f, v in sums(rows, COUNT_FIELDS).items():
            eq(g[f], v, "group %s %s" % (g["group"], f))
        eq(g["late_rate"], rate_json(g["late"], g["records"]), "group late_rate")
    t = snap["totals"]
    for f, v in sums(snap["units"], COUNT_FIELDS).items():
        eq(t[f], v, "totals " + f)
    eq(t["late_rate"], rate_json(t["late"], t["records"]), "totals late_rate")
    eq(t["quality_rate"], rate_json(t["records"] - t["invalid"], t["records"]), "quality")
    eq(t["unattributed"], 3, "unattributed")
    eq(t["duplicates"], 2, "duplicates")

    # CSV per group
    for g in snap["groups"]:
        rows = read_csv(os.path.join(case.reports, "2023-12-%s.csv" % g["group"]))
        eq(rows[0], ["序号", "成员单位名称", "数据总量", "迟报量", "迟报率(%)"], "csv header")
        members_ = [u for u in order if u["group"] == g["group"]]
        eq(len(rows), len(members_) + 2, "csv rows")
        for i, (row, u) in enumerate(zip(rows[1:], members_)):
            eq(row, [str(i + 1), u["name"], str(u["records"]), str(u["late"]),
                     rate_text(u["late"], u["records"])], "csv row")
        tot = sums(members_, ["records", "late"])
        eq(rows[-1], ["合计", "", str(tot["records"]), str(tot["late"]),
                      rate_text(tot["late"], tot["records"])], "csv 合计")
        check(sum(int(r[2]) for r in rows[1:-1]) == int(rows[-1][2]), "csv column sum")

    # the notice
    notice = open(os.path.join(case.reports, "2023-12-notice.md"), encoding="utf-8").read()
    check(notice.startswith("# 平顶山市“双公示”数据报送情况通报（2023年12月）"),
          "title: " + notice.splitlines()[0])
    tr = sum(u["records"] for u in units.values())
    tl = sum(u["late"] for u in units.values())
    ti = sum(u["invalid"] for u in units.values())
    for phrase in ["共归集“双公示”数据%d条" % tr,
                   "数据合格率%s%%" % rate_text(tr - ti, tr),
                   "迟报数据%d条，迟报率%s%%" % (tl, rate_text(tl, tr)),
                   "无法识别报送单位的数据3条",
                   "另有重复报送数据2条",
                   "一、总体情况", "二、各项指标情况", "三、工作要求"]:
        check(phrase in notice, "notice lacks %r" % phrase)
    for g in ("county", "city"):
        rows = [u for u in units.values() if u["group"] == g]
        s = sums(rows, ["records", "late"])
        phrase = "%s（%d个单位）报送%d条，占%s%%，迟报%d条，迟报率%s%%" % (
            GROUP_NAMES[g], len(rows), s["records"], rate_text(s["records"], tr), s["late"],
            rate_text(s["late"], s["records"]))
        check(phrase in notice, "notice lacks %r" % phrase)
    check("鲁山县报送60条" in notice and "宝丰县报送60条" in notice, "high volume in notice")
    check("市市场监管局（上月40条，本月55条，增加15条，增长37.50%）" in notice, "improved in notice")
    check("郏县（上月9条，本月22条，增加13条，增长144.44%）" in notice, "improved 郏县")
    low = [u for u in order if u["records"] < 20]
    check("低于20条的单位共%d个" % len(low) in notice, "low volume count")
    late_units = [u for u in units.values() if u["late"] > 0]
    check("本月有%d个单位存在迟报，共迟报数据%d条" % (len(late_units), tl) in notice, "late line")
    for u in late_units:
        check("%s迟报%d条（迟报率%s%%）" % (u["name"], u["late"], rate_text(u["late"], u["records"]))
              in notice, "late of " + u["name"])
    check("市统计局%d条（数据合格率0.00%%）" % units["C05"]["invalid"] in notice, "quality C05")
    check("市市场监管局行政处罚“" in notice and "缺7—8号" in notice, "gap in notice")
    total_missing = sum(g["missing_count"] for gs in gaps.values() for g in gs)
    check("疑似漏报文书号%d个" % total_missing in notice, "gap total")
    check("各成员单位要高度重视" in notice, "requirements paragraph")
    tables = md_tables(notice)
    eq(len(tables), 3, "annex tables: two groups and the ledger")
    for g, table in zip(["county", "city"], tables):
        csv_rows = read_csv(os.path.join(case.reports, "2023-12-%s.csv" % g))[1:]
        eq(table, csv_rows, "annex table %s equals the CSV" % g)
    # the ledger annex holds the ledger's rows (markdown has no apostrophe)
    ledger_rows = read_csv(os.path.join(case.reports, "2023-12-ledger.csv"))[1:]
    eq(tables[2], ledger_rows, "ledger annex equals the ledger CSV")

    # Redis: version stored, months set
    eq(case.r.get(case.key("snapshot:2023-12:latest")), "1", "latest")
    check(case.r.sismember(case.key("snapshot:months"), "2023-12"), "months set")
    stored = json.loads(case.r.get(case.key("snapshot:2023-12:v1")))
    eq(stored, snap, "stored v1 equals the file")
    # the stored offset of every partition read (REFERENCE §11)
    eq(snap["offsets"], stored_offsets(case), "offsets")


def stored_offsets(case):
    """{"<topic>:<partition>": offset} of the partitions with state."""
    out = {}
    for p in PARTS:
        v = case.r.get(case.pkey(p, "offset"))
        if v is not None:
            out[p] = int(v)
    return out


def test_versioning(world, tmp):
    """snapshot: re-run keeps the version, a late record makes v2 and is published"""
    case, snap = golden_world_only(world, tmp, "ver")
    # re-run: same version, same file
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "re-run exit: " + err)
    check("version 1 unchanged" in out, "re-run output: " + out)
    eq(case.r.get(case.key("snapshot:2023-12:latest")), "1", "latest after re-run")
    again = json.load(open(os.path.join(case.reports, "2023-12.json"), encoding="utf-8"))
    eq(again, snap, "re-run file")
    # a record of another month moves partition 0's offset, not December: the
    # version is kept, and with it the stored read's offsets
    write_records(case, [Rec("C03", "license", "03平许〔2024〕1号", "2024-01-02", part=0)])
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "re-run exit: " + err)
    check("version 1 unchanged" in out, "offsets alone make no version: " + out)
    again = json.load(open(os.path.join(case.reports, "2023-12.json"), encoding="utf-8"))
    eq(again, snap, "the file of the kept version")
    check(stored_offsets(case) != snap["offsets"], "the offsets did move")
    # one more late record for 市公安局 in partition 2
    rec = Rec("C02", "penalty", "02平罚〔2023〕999号", "2023-12-30", late=True, part=2, wdlate=2)
    write_records(case, [rec])
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "v2 exit: " + err)
    check("version 2 new" in out, "v2 output: " + out)
    v2 = json.load(open(os.path.join(case.reports, "2023-12.json"), encoding="utf-8"))
    eq(v2["version"], 2, "version 2")
    eq(v2["offsets"], stored_offsets(case), "v2 offsets: the read's")
    old = {u["unit_id"]: u for u in snap["units"]}
    new = {u["unit_id"]: u for u in v2["units"]}
    eq(new["C02"]["records"], old["C02"]["records"] + 1, "C02 records +1")
    eq(new["C02"]["late"], old["C02"]["late"] + 1, "C02 late +1")
    eq(v2["totals"]["late"], snap["totals"]["late"] + 1, "totals late +1")
    check("市公安局 (C02): records %d -> %d" % (old["C02"]["records"], new["C02"]["records"]) in err,
          "change log: " + err)
    eq(case.r.get(case.key("snapshot:2023-12:latest")), "2", "latest 2")
    eq(json.loads(case.r.get(case.key("snapshot:2023-12:v1")))["version"], 1, "v1 kept")
    # the topic's last message for the month is version 2
    msgs = [json.loads(v) for k, v in case.env.messages(case.topic) if k == "2023-12"]
    check(msgs, "no message for 2023-12 on " + case.topic)
    eq(msgs[-1]["version"], 2, "last message version")
    eq(msgs[-1], v2, "last message equals the file")


def test_version_writes(world, tmp):
    """versions: a crash between storing vN and raising latest is finished by the
    next run; a rival's vN is compared with, never overwritten; concurrent
    snapshots store one new version"""
    case, snap = golden_world_only(world, tmp, "vwr")
    latest = case.key("snapshot:2023-12:latest")
    # a crash after SET v2 NX: v2 stored, latest still 1 (readers see v1)
    write_records(case, [Rec("C02", "penalty", "02平罚〔2023〕998号", "2023-12-29", part=1)])
    rc, out, err = case.run("snapshot", "--month", "2023-12", "--out", os.path.join(tmp, "a"))
    check(rc == 0 and "version 2 new" in out, "v2: %s %s" % (out, err))
    v2 = case.r.get(case.key("snapshot:2023-12:v2"))
    case.r.set(latest, "1")
    case.r.srem(case.key("snapshot:months"), "2023-12")
    rc, out, err = case.run("snapshot", "--month", "2023-12", "--out", os.path.join(tmp, "b"))
    check(rc == 0 and "version 2 unchanged" in out, "v2 found above latest: %s %s" % (out, err))
    eq(case.r.get(latest), "2", "latest raised to the version found")
    check(case.r.sismember(case.key("snapshot:months"), "2023-12"), "months set repaired")
    eq(json.load(open(os.path.join(tmp, "b", "2023-12.json"), encoding="utf-8")),
       json.loads(v2), "the file is the stored v2")
    # a rival stored v3 (other figures) and has not raised latest yet: ours is v4
    rival = json.loads(v2)
    rival["version"] = 3
    rival["totals"]["records"] += 1000
    case.r.set(case.key("snapshot:2023-12:v3"), json.dumps(rival))
    rc, out, err = case.run("snapshot", "--month", "2023-12", "--out", os.path.join(tmp, "c"))
    check(rc == 0 and "version 4 new" in out, "after a rival's v3: %s %s" % (out, err))
    eq(json.loads(case.r.get(case.key("snapshot:2023-12:v3"))), rival, "the rival's v3 kept")
    eq(case.r.get(latest), "4", "latest 4")
    # latest is never lowered: a slow writer of v3 cannot undo v4
    case.r.eval(  # what raise_latest does with 3 (version.c), run by hand
        "local v = redis.call('GET', KEYS[1]) if not v or tonumber(v) < tonumber(ARGV[1]) "
        "then redis.call('SET', KEYS[1], ARGV[1]) end", 1, latest, 3)
    eq(case.r.get(latest), "4", "latest not lowered")
    # four snapshots at once after a change: one stores v5, the others keep it
    write_records(case, [Rec("C02", "penalty", "02平罚〔2023〕997号", "2023-12-29", part=2)])
    procs = [subprocess.Popen([case.env.agg, "-c", case.conf, "snapshot", "--month", "2023-12",
                               "--out", os.path.join(tmp, "p%d" % i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=case.env_vars()) for i in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (o, e) in zip(procs, outs):
        eq(p.returncode, 0, "concurrent snapshot: %s" % e.decode())
    texts = [o.decode() for o, _ in outs]
    eq(sum("version 5 new" in t for t in texts), 1, "one new version: %s" % texts)
    eq(sum("version 5 unchanged" in t for t in texts), 3, "the others keep it: %s" % texts)
    eq(case.r.get(latest), "5", "latest 5")
    eq(case.r.get(case.key("snapshot:2023-12:v6")), None, "no v6")
    files = [json.load(open(os.path.join(tmp, "p%d" % i, "2023-12.json"), encoding="utf-8"))
             for i in range(4)]
    for f in files[1:]:
        eq(f, files[0], "every file is the stored v5")
    eq(files[0], json.loads(case.r.get(case.key("snapshot:2023-12:v5"))), "v5")
    eq(snap["version"], 1, "the first version")


def golden_world_only(world, tmp, name):
    case = Case(world, tmp, name)
    nov, dec = golden_world(case)
    write_records(case, nov + dec)
    for m in ("2023-11", "2023-12"):
        rc, out, err = case.run("snapshot", "--month", m)
        eq(rc, 0, "snapshot %s: %s" % (m, err))
    snap = json.load(open(os.path.join(case.reports, "2023-12.json"), encoding="utf-8"))
    return case, snap


def test_spot_check(world, tmp):
    """spot-check: bracket variants, alias, missing decisions, repeated sample"""
    case = Case(world, tmp, "spot")
    recs = [
        Rec("11410400MB0000000X", "penalty", "平市监罚〔2023〕45号", "2023-12-04", part=0),
        Rec("11410400MB0000000X", "license", "平市监许〔2023〕1024号", "2023-12-05", part=1),
        Rec("C03", "penalty", "平交罚〔2023〕3号", "2023-12-06", part=2),
        Rec("C04", "penalty", "豫建(城)罚决字〔2023〕12号", "2023-12-07", part=1),
    ]
    write_records(case, recs)
    sample = os.path.join(case.dir, "sample.tsv")
    with open(sample, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\n")
        f.write("11410400MB0000000X\tpenalty\t平市监罚[2023]第045号\n")      # ASCII brackets, 第, zeros
        f.write("市场监管局\t行政许可\t平市监许【２０２３】１０２４ 号\n")      # alias, full-width
        f.write("市交通运输局\t处罚\t平交罚（2023）0003号\n")                 # alias, 全角括号
        f.write("C04\tpenalty\t豫建(城)罚决字﹝2023﹞第12号\n")              # prefix bracket stays
        f.write("C04\tpenalty\t豫建(城)罚决字〔2023〕13号\n")               # missing: concealed
        f.write("C02\tlicense\t平公许〔2023〕7号\n")                       # missing: concealed
        f.write("C02\t许可\t平公许［2023］007号\n")                        # the same again
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample)
    eq(rc, 0, "spot-check exit: " + err)
    res = json.loads(out)
    eq((res["month"], res["sampled"], res["found"], res["concealed"]), ("2023-12", 6, 4, 2),
       "spot-check counts")
    got = sorted((i["unit_id"], i["unit_name"], i["kind"], i["doc_no"]) for i in res["items"])
    eq(got, sorted([("C04", "市住建局", "penalty", "豫建(城)罚决字〔2023〕13号"),
                    ("C02", "市公安局", "license", "平公许〔2023〕7号")]), "concealed items")
    key = case.key("concealed:2023-12")
    eq(sorted(case.r.hkeys(key)), sorted(["C04|penalty|豫建(城)罚决字〔2023〕13号",
                                          "C02|license|平公许〔2023〕7号"]), "concealed hash")
    # the same sample again adds nothing
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample)
    eq(rc, 0, "repeat exit")
    eq(case.r.hlen(key), 2, "repeat does not double count")
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "snapshot after spot-check: " + err)
    snap = json.load(open(os.path.join(case.reports, "2023-12.json"), encoding="utf-8"))
    conc = {u["unit_id"]: u["concealed"] for u in snap["units"]}
    eq((conc["C04"], conc["C02"], conc["11410400MB0000000X"]), (1, 1, 0), "snapshot concealed")
    eq(snap["totals"]["concealed"], 2, "totals concealed")
    notice = open(os.path.join(case.reports, "2023-12-notice.md"), encoding="utf-8").read()
    check("本月发现瞒报数据2条，涉及2个单位" in notice, "notice concealed")


def test_spot_check_malformed(world, tmp):
    """spot-check: a malformed sample line is exit 2 naming it, nothing stored"""
    case = Case(world, tmp, "spotbad")
    write_records(case, [Rec("C02", "penalty", "平公罚〔2023〕1号", "2023-12-01")])
    cases = [
        ("C02\tpenalty\n", "expected 3 tab-separated columns"),
        ("C02\tpenalty\tx〔2023〕1号\textra\n", "expected 3 tab-separated columns"),
        ("市不存在局\tpenalty\t平公罚〔2023〕2号\n", "unknown unit"),
        ("C02\tfine\t平公罚〔2023〕2号\n", "kind 'fine'"),
        ("C02\tpenalty\tab\n", "does not normalise"),
    ]
    for bad, why in cases:
        sample = os.path.join(case.dir, "bad.tsv")
        with open(sample, "w", encoding="utf-8") as f:
            f.write("unit_id\tkind\tdoc_no\n")
            f.write("C02\tpenalty\t平公罚〔2023〕9号\n")  # a good line before: not stored either
            f.write(bad)
        rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample)
        eq(rc, 2, "exit for %r" % bad)
        check("%s:3:" % sample in err and why in err, "message for %r: %s" % (bad, err))
        eq(len(err.strip().splitlines()), 1, "one-line message")
        eq(case.r.exists(case.key("concealed:2023-12")), 0, "nothing stored for %r" % bad)
    # no header: the first decision would have been taken for it and skipped
    sample = os.path.join(case.dir, "noheader.tsv")
    with open(sample, "w", encoding="utf-8") as f:
        f.write("# a comment\nC02\tpenalty\t平公罚〔2023〕9号\nC02\tpenalty\t平公罚〔2023〕8号\n")
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample)
    eq(rc, 2, "exit without a header")
    check("%s:2: expected the header line" % sample in err, "no-header message: " + err)
    eq(case.r.exists(case.key("concealed:2023-12")), 0, "nothing stored without a header")


def test_empty_month(world, tmp):
    """snapshot: a month without records"""
    case = Case(world, tmp, "empty", groups="")
    for part in PARTS:
        case.r.set(case.pkey(part, "offset"), 0)
    rc, out, err = case.run("snapshot", "--month", "2023-10")
    eq(rc, 0, "exit: " + err)
    snap = json.load(open(os.path.join(case.reports, "2023-10.json"), encoding="utf-8"))
    eq(len(snap["units"]), len(UNITS), "every unit appears")
    for u in snap["units"]:
        eq((u["records"], u["late_rate"], u["quality_rate"], u["prev_records"], u["gaps"]),
           (0, None, None, None, []), "empty unit " + u["unit_id"])
        eq(u["flags"], ["low_volume"], "flags of an empty unit")
    eq((snap["totals"]["records"], snap["totals"]["late_rate"], snap["totals"]["quality_rate"]),
       (0, None, None), "empty totals")
    # groups in order of first appearance without `groups`
    eq([g["group"] for g in snap["groups"]], ["city", "county"], "first-appearance order")
    # registry order inside a group when all are 0
    eq([u["unit_id"] for u in snap["units"] if u["group"] == "city"],
       [u[0] for u in UNITS if u[2] == "city"], "ties in registry order")
    rows = read_csv(os.path.join(case.reports, "2023-10-city.csv"))
    check(all(r[4] == "-" for r in rows[1:]), "rates '-' without records")
    eq(rows[-1], ["合计", "", "0", "0", "-"], "empty 合计")
    notice = open(os.path.join(case.reports, "2023-10-notice.md"), encoding="utf-8").read()
    check("全市未归集到“双公示”数据" in notice, "empty notice")
    check("上月无数据快照" in notice, "no previous snapshot")


def test_unit_added(world, tmp):
    """snapshot: a unit added to the registry after the month appears with zeros"""
    case = Case(world, tmp, "added")
    recs = month_records(random.Random(5), "2023-12", {"C02": 25, "410423": 30}, 0.1)
    number_docs(recs, doc_prefix, 2023)
    write_records(case, recs)
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "v1: " + err)
    with open(os.path.join(case.dir, "units.tsv"), "a", encoding="utf-8") as f:
        f.write("C10\t市后设局\tcity\t\n")
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "v2: " + err)
    check("version 2 new" in out, "a registry change is a new version: " + out)
    check("市后设局" in err and "new in the registry" in err, "change log: " + err)
    snap = json.load(open(os.path.join(case.reports, "2023-12.json"), encoding="utf-8"))
    u = [x for x in snap["units"] if x["unit_id"] == "C10"]
    eq(len(u), 1, "new unit present")
    eq((u[0]["records"], u[0]["late"], u[0]["late_rate"], u[0]["quality_rate"], u[0]["flags"],
        u[0]["prev_records"]), (0, 0, None, None, ["low_volume"], None), "new unit zeros")
    # groups = county,city; C10 is last in the registry among the city's zeros
    eq([x["unit_id"] for x in snap["units"] if x["group"] == "city"],
       ["C02", "11410400MB0000000X", "C03", "C04", "C05", "C09", "C10"], "city order")


def test_status(world, tmp):
    """status: --json figures, --unit, aligned table"""
    case = Case(world, tmp, "status")
    recs = []
    rnd = random.Random(3)
    days = ["2023-11-25", "2023-11-29", "2023-12-01", "2023-12-20", "2023-12-22", "2023-12-27",
            "2023-12-28"]
    for day in days:
        for uid in ("C02", "410423"):
            for _ in range(rnd.randint(1, 4)):
                recs.append(Rec(uid, "license", None, day, late=rnd.random() < 0.3,
                                invalid=rnd.random() < 0.2, part=rnd.randrange(3)))
    write_records(case, recs)
    rc, out, err = case.run("status", "--json", now="2023-12-28")
    eq(rc, 0, "status exit: " + err)
    st = json.loads(out)
    eq((st["today"], st["month"]), ("2023-12-28", "2023-12"), "status dates")

    def window(uid, first, last):
        sel = [r for r in recs if r.unit == uid and first <= r.day <= last]
        n, late, inv = len(sel), sum(r.late for r in sel), sum(r.invalid for r in sel)
        return dict(records=n, late=late, late_rate=rate_json(late, n), invalid=inv)

    by = {u["unit_id"]: u for u in st["units"]}
    eq(len(by), len(UNITS), "every unit in status")
    for uid in ("C02", "410423", "C03"):
        eq(by[uid]["today"], window(uid, "2023-12-28", "2023-12-28"), uid + " today")
        eq(by[uid]["month"], window(uid, "2023-12-01", "2023-12-31"), uid + " month")
        eq(by[uid]["last_7_days"], window(uid, "2023-12-22", "2023-12-28"), uid + " 7 days")
        eq(by[uid]["last_30_days"], window(uid, "2023-11-29", "2023-12-28"), uid + " 30 days")
    rc, out, err = case.run("status", "--unit", "市交通运输局", "--json", now="2023-12-28")
    eq(rc, 0, "status --unit exit")
    eq([u["unit_id"] for u in json.loads(out)["units"]], ["C03"], "--unit by alias")
    rc, out, err = case.run("status", "--unit", "nope", now="2023-12-28")
    eq(rc, 2, "unknown --unit exit")
    check("--unit 'nope'" in err, "unknown unit message: " + err)
    rc, out, err = case.run("status", now="2023-12-28")
    eq(rc, 0, "table exit")
    lines = out.splitlines()
    # aligned: every data row has its '|' separators at the same display columns
    def cols(line):
        w, pos = 0, []
        for ch in line:
            if ch == "|":
                pos.append(w)
            w += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        return pos
    body = [l for l in lines[2:] if "|" in l]
    check(len(body) >= len(UNITS), "table rows")
    check(len({tuple(cols(l)) for l in body}) == 1, "columns aligned:\n" + out)
    check(any(l.startswith("市交通局") for l in lines), "names in table")


def test_watch(world, tmp):
    """watch: snapshots a closed month (SGS_NOW), v2 after a counter change"""
    case = Case(world, tmp, "watch")
    rnd = random.Random(11)
    dec = month_records(rnd, "2023-12", {"C02": 8, "410423": 15}, 0.2)
    number_docs(dec, doc_prefix, 2023)
    write_records(case, dec)
    # Not yet due on 2024-01-04 (the 3rd working day after 12-31 is 01-04).
    cmd = [case.env.agg, "-c", case.conf, "-X", "aggregator.watch_interval_s=1", "watch"]
    early_log = os.path.join(case.dir, "watch-early.log")
    with open(early_log, "wb") as logf:
        p = subprocess.Popen(cmd, stderr=logf, env=case.env_vars("2024-01-04"))
        try:
            # October and November are due, but predate the first record
            wait_until(lambda: "2023-12 is the first month with records" in
                       open(early_log, encoding="utf-8").read(), 20,
                       what="watch to find the first month")
            time.sleep(1.5)  # at least one more cycle
        finally:
            p.send_signal(signal.SIGTERM)
            eq(p.wait(timeout=20), 0, "watch exit on SIGTERM")
    eq(case.r.get(case.key("snapshot:2023-12:latest")), None, "not due on 2024-01-04")

    path = os.path.join(case.reports, "2023-12.json")

    def version():
        with open(path, encoding="utf-8") as f:
            return json.load(f)["version"]  # rename is atomic: never half a file

    with open(os.path.join(case.dir, "watch.log"), "wb") as logf:
        p = subprocess.Popen(cmd, stderr=logf, env=case.env_vars("2024-01-05"))
        try:
            wait_until(lambda: os.path.exists(path), 30, what="watch to write 2023-12.json")
            eq(version(), 1, "watch v1")
            for m in ("2023-12-county.csv", "2023-12-city.csv", "2023-12-notice.md",
                      "2023-12-ledger.csv", "2023-12.xlsx", "2023-12-report.html"):
                check(os.path.exists(os.path.join(case.reports, m)), "watch wrote " + m)
            # a late-arriving record changes the closed month
            write_records(case, [Rec("410423", "penalty", "423平罚〔2023〕500号", "2023-12-31",
                                     late=True, part=1, wdlate=1)])
            wait_until(lambda: version() == 2, 30, what="watch to write v2")
            eq(case.r.get(case.key("snapshot:2023-12:latest")), "2", "latest after watch")
            time.sleep(1.5)  # one more cycle: nothing changes
            eq(case.r.get(case.key("snapshot:2023-12:latest")), "2", "no v3 without changes")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=20)
    eq(rc, 0, "watch exit")
    log = open(os.path.join(case.dir, "watch.log"), encoding="utf-8").read()
    check("鲁山县 (410423): records" in log and "late" in log, "change log:\n" + log)
    # November closed long ago, but sgs has no record of it: not published
    eq(case.r.get(case.key("snapshot:2023-11:latest")), None, "2023-11 predates the first record")
    msgs = [json.loads(v) for k, v in case.env.messages(case.topic) if k == "2023-12"]
    check(msgs and msgs[-1]["version"] == 2, "topic's last 2023-12 message is v2")


def test_usage(world, tmp):
    """usage, configuration and runtime errors"""
    case = Case(world, tmp, "usage")
    for args, code, needle in [
        (["snapshot"], 2, "--month"),
        (["snapshot", "--month", "2023-13"], 2, "--month '2023-13'"),
        (["snapshot", "--month", "2023-12", "--json"], 2, "--json"),
        (["frobnicate"], 2, "frobnicate"),
        (["spot-check", "--month", "2023-12"], 2, "--sample"),
        (["spot-check", "--month", "2023-12", "--sample", "/nonexistent.tsv"], 2,
         "/nonexistent.tsv"),
        (["-X", "no.such.key=1", "status"], 2, "no.such.key"),
        (["-X", "report.low_volume=abc", "status"], 2, "report.low_volume"),
    ]:
        rc, out, err = case.run(*args)
        eq(rc, code, "exit of %s (stderr %s)" % (args, err))
        check(needle in err, "message of %s: %s" % (args, err))
        eq(len(err.strip().splitlines()), 1 if args != ["frobnicate"] else 1,
           "one line for %s: %r" % (args, err))
    rc, out, err = case.run("-X", "list")
    eq(rc, 0, "-X list exit")
    check("report.grace_workdays" in out and "redis.prefix" in out, "-X list output")
    # units file missing: configuration error naming the file
    rc, out, err = case.run("-X", "units.file=/nonexistent/units.tsv", "status")
    eq(rc, 2, "missing units file exit")
    check("/nonexistent/units.tsv" in err, "units file message: " + err)
    # Kafka unreachable: the version is stored and the files written, the publish
    # fails: exit 1 (a runtime failure) naming the topic and the brokers
    case.r.set(case.pkey(PARTS[0], "offset"), 0)
    dead = "127.0.0.1:%d" % free_port()
    rc, out, err = case.run("-X", "kafka.bootstrap.servers=" + dead,
                            "-X", "kafka.message.timeout.ms=1500", "snapshot", "--month", "2023-12")
    eq(rc, 1, "kafka down exit (%s)" % err)
    check(case.topic in err.splitlines()[-1] and dead in err.splitlines()[-1],
          "kafka down message: " + err)
    eq(case.r.get(case.key("snapshot:2023-12:latest")), "1", "stored before the publish")
    # a re-run with Kafka back publishes the unchanged version
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "re-run exit: " + err)
    check("version 1 unchanged" in out, "re-run: " + out)
    msgs = [json.loads(v) for k, v in case.env.messages(case.topic) if k == "2023-12"]
    check(msgs and msgs[-1]["version"] == 1, "re-run published v1")
    # Redis down: runtime failure naming redis
    rc, out, err = case.run("-X", "redis.port=%d" % free_port(), "snapshot", "--month", "2023-12")
    eq(rc, 1, "redis down exit")
    check("redis" in err.lower(), "redis down message: " + err)



# ---------------------------------------------------------------------------
# The month's lifecycle: the first deployment, previews, publishing


def report_names(month, groups=("city", "county")):
    return sorted([month + ".json", month + "-notice.md", month + "-ledger.csv", month + ".xlsx",
                   month + "-report.html"] + ["%s-%s.csv" % (month, g) for g in groups])


def xlsx_text(path):
    """Every XML part of a workbook as one text (strings, titles, properties)."""
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))


def test_watch_first_deployment(world, tmp):
    """watch on a new deployment whose records start in June: no notice for the
    months before; no praise after an empty month; a change of the previous month
    alone makes no new version"""
    case = Case(world, tmp, "first")
    rnd = random.Random(23)
    jun = month_records(rnd, "2024-06", {"C02": 30, "410423": 40, "C03": 15}, 0.1)
    aug = month_records(rnd, "2024-08", {"C02": 45, "410423": 60, "C03": 30}, 0.1)
    number_docs(jun + aug, doc_prefix, 2024)
    write_records(case, jun + aug)  # July: nothing reported, sgs running
    ours = ["2024-06", "2024-07", "2024-08"]
    before = ["2023-%02d" % m for m in range(9, 13)] + ["2024-%02d" % m for m in range(1, 6)]
    log_path = os.path.join(case.dir, "watch-first.log")
    cmd = [case.env.agg, "-c", case.conf, "-X", "aggregator.watch_interval_s=1",
           "-X", "aggregator.watch_months=12", "watch"]

    def log():
        return open(log_path, encoding="utf-8").read()

    def latest(m):
        return case.r.get(case.key("snapshot:%s:latest" % m))

    def doc(m):
        return json.load(open(os.path.join(case.reports, m + ".json"), encoding="utf-8"))

    with open(log_path, "wb") as logf:
        # 2024-09-10: August is due (its 3rd working day after is 09-04), and so
        # is every month of the last 12 before it
        p = subprocess.Popen(cmd, stderr=logf, env=case.env_vars("2024-09-10"))
        try:
            wait_until(lambda: "2024-08: version 1 written to" in log(), 30,
                       what="watch to publish 2024-08")
            time.sleep(1.5)  # one more cycle
            eq(sorted(case.r.smembers(case.key("snapshot:months"))), ours, "months stored")
            for m in before:
                eq(latest(m), None, "%s predates the first record: no version" % m)
            eq(sorted({f[:7] for f in os.listdir(case.reports)}), ours, "report files' months")
            for m in ours:
                eq(sorted(f for f in os.listdir(case.reports) if f.startswith(m)),
                   report_names(m), "files of " + m)
            eq(log().count("2024-06 is the first month with records"), 1, "said once:\n" + log())
            # June: the month before was not observed, no comparison
            d = doc("2024-06")
            eq({u["prev_records"] for u in d["units"]}, {None}, "June prev_records")
            eq([u["unit_id"] for u in d["units"] if "improved" in u["flags"]], [], "June praise")
            notice = open(os.path.join(case.reports, "2024-06-notice.md"), encoding="utf-8").read()
            check("上月无数据快照，本月暂不作环比比较" in notice, "June notice")
            # July: no records, but real (after the first month): published, and
            # compared with June
            d = doc("2024-07")
            eq(d["totals"]["records"], 0, "July empty")
            prev = {u["unit_id"]: u["prev_records"] for u in d["units"]}
            eq((prev["C02"], prev["410423"], prev["C03"], prev["C05"]), (30, 40, 15, 0),
               "July's prev_records are June's")
            # August after an empty July: no unit praised as improved
            d = doc("2024-08")
            eq({u["prev_records"] for u in d["units"]}, {None}, "August prev_records")
            eq([u["unit_id"] for u in d["units"] if "improved" in u["flags"]], [],
               "no praise from an empty month")
            notice = open(os.path.join(case.reports, "2024-08-notice.md"), encoding="utf-8").read()
            check("上月未归集到数据，本月暂不作环比比较" in notice, "August notice:\n" + notice)
            check("明显提升（增长20%以上且增加10条以上）的单位共" not in notice, "no praise in notice")
            keys = {k for k, _ in case.env.messages(case.topic)}
            eq(sorted(keys), ours, "months on " + case.topic)

            # a late record of June: June v2; July's prev_records change, its
            # own figures do not: no new version of July
            write_records(case, [Rec("C02", "license", "02平许〔2024〕900号", "2024-06-28",
                                     late=True, part=2, wdlate=3)])
            wait_until(lambda: latest("2024-06") == "2", 30, what="watch to make June v2")
            time.sleep(2.5)  # two more cycles
            eq((latest("2024-06"), latest("2024-07"), latest("2024-08")), ("2", "1", "1"),
               "versions after the June change:\n" + log())
            eq(doc("2024-07")["version"], 1, "July's file")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=20)
    eq(rc, 0, "watch exit")
    # July rebuilt by hand now: its kept version 1, with the comparison it was
    # stored with (prev_records of C02: 30, not 31), file and Redis alike
    out_dir = os.path.join(tmp, "july")
    rc, out, err = case.run("snapshot", "--month", "2024-07", "--out", out_dir, now="2024-09-10")
    eq(rc, 0, "July again: " + err)
    check("version 1 unchanged" in out, "July again: " + out)
    stored = json.loads(case.r.get(case.key("snapshot:2024-07:v1")))
    eq(json.load(open(os.path.join(out_dir, "2024-07.json"), encoding="utf-8")), stored,
       "July's file is its stored v1")
    eq([u["prev_records"] for u in stored["units"] if u["unit_id"] == "C02"], [30], "C02 prev")


def test_watch_older_months(world, tmp):
    """watch with a window of one month: the closed months before it, back to
    the first month with records, are snapshotted at once, and a late record of
    one of them makes its new version (REFERENCE §7: every closed month; within
    one cycle: test_watch_every_changed_month)"""
    case = Case(world, tmp, "older")
    rnd = random.Random(31)
    jun = month_records(rnd, "2024-06", {"C02": 20, "410423": 25}, 0.1)
    aug = month_records(rnd, "2024-08", {"C02": 15, "C03": 10}, 0.1)
    number_docs(jun + aug, doc_prefix, 2024)
    write_records(case, jun + aug)
    log_path = os.path.join(case.dir, "watch-older.log")
    cmd = [case.env.agg, "-c", case.conf, "-X", "aggregator.watch_interval_s=1",
           "-X", "aggregator.watch_months=1", "watch"]
    ours = ["2024-%02d" % m for m in range(6, 12)]  # June .. November

    def latest(m):
        return case.r.get(case.key("snapshot:%s:latest" % m))

    with open(log_path, "wb") as logf:
        # 2024-12-10: the window is November alone; June to October lie before it
        p = subprocess.Popen(cmd, stderr=logf, env=case.env_vars("2024-12-10"))
        try:
            wait_until(lambda: all(latest(m) == "1" for m in ours), 30,
                       what="watch to snapshot June to November")
            eq(sorted(case.r.smembers(case.key("snapshot:months"))), ours, "months stored")
            eq(latest("2024-05"), None, "May predates the first record")
            d = json.load(open(os.path.join(case.reports, "2024-06.json"), encoding="utf-8"))
            eq(d["totals"]["records"], 45, "June's records")
            d = json.load(open(os.path.join(case.reports, "2024-07.json"), encoding="utf-8"))
            eq(d["units"][0]["prev_records"] is not None, True,
               "July compared with a stored June (oldest first)")
            # a late record of June, an older month: June v2
            write_records(case, [Rec("C02", "license", "02平许〔2024〕901号", "2024-06-27",
                                     late=True, part=1, wdlate=2)])
            # the version is stored before its files are written: wait for the file
            # (renamed into place whole, never half a file)
            def june_file():
                with open(os.path.join(case.reports, "2024-06.json"), encoding="utf-8") as f:
                    return json.load(f)
            wait_until(lambda: june_file()["version"] == 2, 30, what="watch to write June v2")
            eq(latest("2024-06"), "2", "June v2 stored")
            eq(june_file()["totals"]["records"], 46, "June v2's file")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=20)
    eq(rc, 0, "watch exit")
    eq([latest(m) for m in ours[1:]], ["1"] * 5, "the other months keep version 1")


def test_watch_every_changed_month(world, tmp):
    """watch: a late record or a spot check of any closed month, however old,
    makes its new version in the first cycle that starts after it (REFERENCE
    §7: "again whenever late-arriving records change a closed month"), not one
    older month a cycle in turn; a cycle without changes rebuilds only the
    window (aggregator.watch_months, 3 by default)"""
    case = Case(world, tmp, "every")
    rnd = random.Random(43)
    y23 = month_records(rnd, "2023-01", {"C02": 10, "410423": 12}, 0.1) + \
        month_records(rnd, "2023-06", {"C02": 8}, 0.1)
    y24 = month_records(rnd, "2024-02", {"C03": 6}, 0.1)
    number_docs(y23, doc_prefix, 2023)
    number_docs(y24, doc_prefix, 2024)
    write_records(case, y23 + y24)
    # 2024-12-10: November is the newest closed month; the window is September
    # to November, and 2023-01 .. 2024-08 (20 months) lie before it
    months = ["2023-%02d" % m for m in range(1, 13)] + ["2024-%02d" % m for m in range(1, 12)]
    log_path = os.path.join(case.dir, "watch-every.log")
    cmd = [case.env.agg, "-c", case.conf, "-v", "-X", "aggregator.watch_interval_s=1", "watch"]

    def log():
        return open(log_path, encoding="utf-8").read()

    def cycles():
        """The cycles finished so far, per their debug line."""
        return re.findall(r"debug: cycle (\d+): (\d+) closed months (\S+) looked at in \d+ ms "
                          r"\((\d+) changed\), (\d+) rebuilt", log())

    def latest(m):
        return case.r.get(case.key("snapshot:%s:latest" % m))

    def version_file(m):
        with open(os.path.join(case.reports, m + ".json"), encoding="utf-8") as f:
            return json.load(f)

    def within_one_cycle(month, what):
        """Waits for the cycle after the one that may have been running when the
        change was made, then expects month's version 2 (stored, written)."""
        c0 = len(cycles())
        wait_until(lambda: len(cycles()) >= c0 + 2, 60, what="two more cycles after " + what)
        eq(latest(month), "2", "%s: version 2 within one cycle of %s:\n%s" % (month, what, log()))
        eq(version_file(month)["version"], 2, month + ": its files are version 2's")
        for m in months:
            if m != month:
                eq(latest(m), "1", "%s keeps version 1 after %s" % (m, what))

    with open(log_path, "wb") as logf:
        p = subprocess.Popen(cmd, stderr=logf, env=case.env_vars("2024-12-10"))
        try:
            # the first cycle, at start: every closed month from the first one
            wait_until(lambda: len(cycles()) >= 1, 60, what="watch's first cycle")
            first = cycles()[0]
            eq((first[1], first[2]), ("23", "2023-01..2024-11"), "first cycle's months")
            eq([latest(m) for m in months], ["1"] * len(months), "every month v1 in cycle 1")
            eq(latest("2022-12"), None, "2022-12 predates the first record")
            wait_until(lambda: len(cycles()) >= 3, 30, what="two quiet cycles")
            eq(cycles()[-1][3:], ("0", "3"), "a quiet cycle rebuilds the window only")

            # a late record of March 2023, 20 months before November 2024 (its
            # own issuer prefix: no other month's gaps change)
            write_records(case, [Rec("C02", "license", "02补许〔2023〕1号", "2023-03-30",
                                     late=True, part=1, wdlate=4)])
            within_one_cycle("2023-03", "a late record")
            eq(version_file("2023-03")["totals"]["records"], 1, "2023-03 v2 counts it")
            check("2023-03: late changes to a closed month: version 2 replaces 1" in log(),
                  "change logged:\n" + log())

            # a spot check of January 2024 finds a decision never reported
            sample = os.path.join(case.dir, "sample.tsv")
            with open(sample, "w", encoding="utf-8") as f:
                f.write("unit_id\tkind\tdoc_no\n")
                f.write("C03\tpenalty\t03核罚〔2024〕1号\n")
            rc, out, err = case.run("spot-check", "--month", "2024-01", "--sample", sample)
            eq((rc, json.loads(out)["concealed"]), (0, 1), "spot-check: " + err)
            # the other months keep version 1: 2023-03 has its version 2 now
            months.remove("2023-03")
            within_one_cycle("2024-01", "a spot check")
            eq(version_file("2024-01")["totals"]["concealed"], 1, "2024-01 v2 has the finding")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=20)
    eq(rc, 0, "watch exit")


def test_preview(world, tmp):
    """snapshot of a month not closed (open, in its grace days, future): stored
    and published as a version like any other (REFERENCE §7), marked "preview" and
    临时; once closed, the next snapshot is a new, final version; --final makes
    an open month final at once"""
    case = Case(world, tmp, "preview")
    rnd = random.Random(17)
    dec = month_records(rnd, "2023-12", {"C02": 12, "410423": 25, "C03": 8}, 0.2)
    number_docs(dec, doc_prefix, 2023)
    write_records(case, dec)
    latest = lambda m: case.r.get(case.key("snapshot:%s:latest" % m))  # noqa: E731
    # open (12-20); in the grace days (01-04 is the 3rd working day after
    # 12-31); a month in the future
    for month, now, version in (("2023-12", "2023-12-20", 1), ("2023-12", "2024-01-04", 1),
                                ("2024-02", "2023-12-20", 1)):
        out_dir = os.path.join(tmp, "preview-%s-%s" % (month, now))
        rc, out, err = case.run("snapshot", "--month", month, "--out", out_dir, now=now)
        what = "%s on %s" % (month, now)
        eq(rc, 0, "%s: exit (%s)" % (what, err))
        check("%s version %d %s (a preview: the month closes on " % (
            month, version, "new" if now == "2023-12-20" else "unchanged") in out
            and "published on " + case.topic in out, "%s: output %r" % (what, out))
        check("has not closed" in err and "--final" in err, "%s: stderr %r" % (what, err))
        eq(sorted(os.listdir(out_dir)), report_names(month), what + ": the usual files")
        d = json.load(open(os.path.join(out_dir, month + ".json"), encoding="utf-8"))
        eq((d["version"], d["preview"]), (version, True), what + ": version and preview")
        keys = list(d)
        eq(keys.index("preview"), keys.index("version") + 1, what + ": preview after version")
        eq(json.loads(case.r.get(case.key("snapshot:%s:v%d" % (month, version)))), d,
           what + ": stored as the file")
        eq(latest(month), str(version), what + ": latest")
        notice = open(os.path.join(out_dir, month + "-notice.md"), encoding="utf-8").read()
        title = notice.splitlines()[0]
        check("临时" in title, what + ": notice title " + title)
        check("（临时统计，非正式通报" in notice, what + ": notice line")
        check("临时" in xlsx_text(os.path.join(out_dir, month + ".xlsx")), what + ": workbook")
        page = open(os.path.join(out_dir, month + "-report.html"), encoding="utf-8").read()
        check("临时统计" in page, what + ": report page")
    msgs = [(k, json.loads(v)) for k, v in case.env.messages(case.topic)]
    check(all(m["preview"] is True for _, m in msgs) and
          {k for k, _ in msgs} == {"2023-12", "2024-02"}, "previews published, marked")
    preview = json.loads(case.r.get(case.key("snapshot:2023-12:v1")))

    # once closed: the same figures without the mark are a new, final version
    out_dir = os.path.join(tmp, "closed")
    rc, out, err = case.run("snapshot", "--month", "2023-12", "--out", out_dir, now="2024-01-05")
    eq(rc, 0, "closed exit: " + err)
    check("2023-12 version 2 new; files in" in out and "(a preview" not in out, "closed: " + out)
    check("final (was a preview)" in err, "the change is said: " + err)
    d = json.load(open(os.path.join(out_dir, "2023-12.json"), encoding="utf-8"))
    eq(d["version"], 2, "the final version")
    check("preview" not in d, "no preview field in a final version")
    notice = open(os.path.join(out_dir, "2023-12-notice.md"), encoding="utf-8").read()
    check("临时" not in notice, "final notice not 临时")
    check("临时" not in xlsx_text(os.path.join(out_dir, "2023-12.xlsx")), "final workbook")
    msgs = [json.loads(v) for k, v in case.env.messages(case.topic) if k == "2023-12"]
    eq(msgs[-1], d, "the last 2023-12 message is the final version")
    # the preview had the same figures: only version, preview and the time differ
    p = dict(preview)
    for k in ("version", "preview", "generated_at"):
        p.pop(k)
    eq(p, {k: v for k, v in d.items() if k not in ("version", "generated_at")},
       "the preview's figures are the final version's")
    # closed and unchanged: kept
    rc, out, err = case.run("snapshot", "--month", "2023-12", "--out", out_dir, now="2024-01-08")
    eq(rc, 0, "again exit: " + err)
    check("version 2 unchanged" in out, "again: " + out)

    # --final on an open month: final at once (no preview field)
    rc, out, err = case.run("snapshot", "--month", "2024-02", "--final", "--out",
                            os.path.join(tmp, "final"), now="2024-02-20")
    eq(rc, 0, "--final exit: " + err)
    check("2024-02 version 2 new; files in" in out, "--final: " + out)
    d = json.loads(case.r.get(case.key("snapshot:2024-02:v2")))
    check("preview" not in d, "--final: no preview field")


def test_publish_bounded(world, tmp):
    """--no-publish stores and writes without Kafka; with the brokers down the
    publish gives up after report.publish_timeout_s, naming the brokers and the
    topic, exit 1 with the files written"""
    case = Case(world, tmp, "pubdown")
    rnd = random.Random(29)
    dec = month_records(rnd, "2023-12", {"C02": 10, "410423": 12}, 0.2)
    number_docs(dec, doc_prefix, 2023)
    write_records(case, dec)
    dead = "127.0.0.1:%d" % free_port()
    latest = case.key("snapshot:2023-12:latest")
    out_dir = os.path.join(tmp, "nopub")
    rc, out, err = case.run("-X", "kafka.bootstrap.servers=" + dead, "snapshot", "--month",
                            "2023-12", "--no-publish", "--out", out_dir)
    eq(rc, 0, "--no-publish exit: " + err)
    check("version 1 new" in out and "not published (--no-publish)" in out, "--no-publish: " + out)
    eq(case.r.get(latest), "1", "--no-publish stores")
    eq(sorted(os.listdir(out_dir)), report_names("2023-12"), "--no-publish files")
    check(dead not in err, "--no-publish never connects to Kafka: " + err)

    # brokers down (librdkafka would wait 5 minutes): bounded by the key
    write_records(case, [Rec("C02", "penalty", "02平罚〔2023〕777号", "2023-12-29", part=1)])
    out_dir = os.path.join(tmp, "down")
    t0 = time.monotonic()
    rc, out, err = case.run("-X", "kafka.bootstrap.servers=" + dead,
                            "-X", "kafka.message.timeout.ms=300000",
                            "-X", "report.publish_timeout_s=2", "snapshot", "--month", "2023-12",
                            "--out", out_dir)
    took = time.monotonic() - t0
    eq(rc, 1, "exit with the brokers down (%s)" % err)
    check(took < 20, "bounded: %.1f s" % took)
    last = err.strip().splitlines()[-1]
    check(dead in last and case.topic in last and "report.publish_timeout_s" in last
          and "not published" in last, "message: " + last)
    eq(sorted(os.listdir(out_dir)), report_names("2023-12"), "files written")
    eq(json.load(open(os.path.join(out_dir, "2023-12.json"), encoding="utf-8"))["version"], 2,
       "the file is v2")
    eq(case.r.get(latest), "2", "v2 stored")
    eq(case.env.messages(case.topic), [], "nothing on " + case.topic)
    # Kafka back: a re-run publishes the stored version
    rc, out, err = case.run("snapshot", "--month", "2023-12", "--out", out_dir)
    eq(rc, 0, "re-run: " + err)
    check("version 2 unchanged" in out, "re-run: " + out)
    eq([k for k, _ in case.env.messages(case.topic)], ["2023-12"], "published after")


# Spot checks corrected (dry run, withdrawals) and a consistent notice


def spot_world(world, tmp, name):
    """C04's penalties 1, 2, 4, 6 and C02's licence 1 reported in December; a
    sample with 3 and 5 of C04 (missing: concealed, and gaps) and 7 of C02."""
    case = Case(world, tmp, name)
    recs = [Rec("C04", "penalty", "豫建罚〔2023〕%d号" % n, "2023-12-%02d" % (n + 1), part=n % 3)
            for n in (1, 2, 4, 6)]
    recs.append(Rec("C02", "license", "平公许〔2023〕1号", "2023-12-02", part=1))
    write_records(case, recs)
    sample = os.path.join(case.dir, "sample.tsv")
    with open(sample, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\n")
        f.write("C04\tpenalty\t豫建罚〔2023〕3号\n")
        f.write("C04\tpenalty\t豫建罚〔2023〕第005号\n")
        f.write("C02\tlicense\t平公许〔2023〕7号\n")
        f.write("C02\tlicense\t平公许〔2023〕1号\n")  # reported: found
    return case, sample


def read_month(case, month="2023-12"):
    snap = json.load(open(os.path.join(case.reports, month + ".json"), encoding="utf-8"))
    notice = open(os.path.join(case.reports, month + "-notice.md"), encoding="utf-8").read()
    ledger = read_csv(os.path.join(case.reports, month + "-ledger.csv"))
    return snap, notice, ledger


def test_spot_check_dry_run(world, tmp):
    """spot-check --dry-run: the same result with "dry_run": true, nothing stored"""
    case, sample = spot_world(world, tmp, "spotdry")
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample, "--dry-run")
    eq(rc, 0, "dry run exit: " + err)
    dry = json.loads(out)
    eq(dry["dry_run"], True, "dry_run in the result")
    eq((dry["sampled"], dry["found"], dry["concealed"]), (4, 1, 3), "dry run counts")
    eq(case.r.exists(case.key("concealed:2023-12")), 0, "a dry run stores nothing")
    check("dry run" in err, "the log says so: " + err)
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample)
    eq(rc, 0, "spot-check exit: " + err)
    real = json.loads(out)
    check("dry_run" not in real, "a real run has no dry_run")
    del dry["dry_run"]
    eq(real, dry, "the dry run showed what the real run stores")
    eq(case.r.hlen(case.key("concealed:2023-12")), 3, "stored by the real run")
    # --dry-run belongs to spot-check alone
    rc, out, err = case.run("snapshot", "--month", "2023-12", "--dry-run")
    eq(rc, 2, "snapshot --dry-run: " + err)
    check("--dry-run" in err, "names the option: " + err)


def test_spot_check_withdraw(world, tmp):
    """spot-check --withdraw: a finding withdrawn with its reason; the next
    snapshot is a new version whose figures, JSON, ledger and notice say so"""
    case, sample = spot_world(world, tmp, "spotwd")
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample)
    eq(rc, 0, "spot-check: " + err)
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "v1: " + err)
    v1, notice1, _ = read_month(case)
    eq(v1["version"], 1, "v1")
    eq(v1["totals"]["concealed"], 3, "v1 concealed")
    check("spot_check" not in v1, "no withdrawals: no spot_check member")

    wd = os.path.join(case.dir, "withdraw.tsv")
    with open(wd, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\n")
        f.write("市公安局\t许可\t平公许〔2023〕第7号\n")  # name and another spelling
    # refused: no reason, an empty one, a row naming no finding
    # and reasons the notice could not print as one line (the API's rule too)
    for args, why in ((["--withdraw"], "--reason"), (["--withdraw", "--reason", ""], "--reason"),
                      (["--reason", "x"], "--withdraw"),
                      (["--withdraw", "--reason", "样本\n有误"], "--reason: expected one line"),
                      (["--withdraw", "--reason", "x" * 1001], "1 to 1000 bytes, got 1001"),
                      (["--withdraw", "--reason", "ab\udcff"], "--reason: expected UTF-8")):
        rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", wd, *args)
        eq(rc, 2, "exit for %s" % args)
        check(why in err and len(err.strip().splitlines()) == 1, "message for %s: %s" % (args, err))
    bad = os.path.join(case.dir, "bad.tsv")
    with open(bad, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\n")
        f.write("C02\tlicense\t平公许〔2023〕7号\n")
        f.write("C02\tlicense\t平公许〔2023〕1号\n")  # reported: no finding
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", bad, "--withdraw",
                            "--reason", "样本有误")
    eq(rc, 2, "a row naming no finding: " + err)
    check("%s:3:" % bad in err and "no stored spot-check finding" in err, "message: " + err)
    eq(case.r.exists(case.key("withdrawn:2023-12")), 0, "nothing withdrawn")
    # a dry run of the withdrawal stores nothing
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", wd, "--withdraw",
                            "--reason", "该决定已于12月8日报送（文号录入有误）", "--dry-run")
    eq(rc, 0, "dry withdrawal: " + err)
    eq(json.loads(out)["dry_run"], True, "dry_run")
    eq(case.r.exists(case.key("withdrawn:2023-12")), 0, "a dry withdrawal stores nothing")

    reason = "该决定已于12月8日报送（文号录入有误）"
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", wd, "--withdraw",
                            "--reason", reason, now="2024-01-06T09:30:00+08:00")
    eq(rc, 0, "withdrawal: " + err)
    res = json.loads(out)
    eq(res["withdrawn_now"], 1, "withdrawn now")
    want = {"unit_id": "C02", "name": "市公安局", "kind": "license", "doc_no": "平公许〔2023〕7号",
            "reason": reason, "at": "2024-01-06T09:30:00+08:00"}
    eq(res["withdrawn"], [want], "the trail in the spot-check JSON")
    eq(case.r.hlen(case.key("concealed:2023-12")), 3, "the finding itself is kept")
    # again, with another reason: the first stays
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", wd, "--withdraw",
                            "--reason", "另一个原因")
    eq(rc, 0, "again: " + err)
    again = json.loads(out)
    eq((again["withdrawn_now"], again["items"][0]["already_withdrawn"]), (0, True), "again")
    eq(again["withdrawn"], [want], "the first reason kept")
    # sampling it again counts it no more
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample, "--dry-run")
    res = json.loads(out)
    eq((res["concealed"], res["withdrawn_before"]), (2, 1), "a withdrawn finding stays withdrawn")

    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "v2: " + err)
    check("version 2 new" in out, "a new version: " + out)
    check("spot-check finding withdrawn: 市公安局 (C02) license 平公许〔2023〕7号: " + reason in err,
          "the change log: " + err)
    v2, notice2, ledger2 = read_month(case)
    eq(v2["version"], 2, "v2")
    conc = {u["unit_id"]: u["concealed"] for u in v2["units"]}
    eq((conc["C02"], conc["C04"], v2["totals"]["concealed"]), (0, 2, 2), "v2 concealed")
    eq(v2["spot_check"], {"withdrawn": [want]}, "the withdrawal in the snapshot JSON")
    check("（第2版，替代此前发布的版本）" in notice2, "v2 notice")
    check("抽查发现的1条瞒报数据经核实已撤销，不计入瞒报：市公安局行政许可“平公许〔2023〕7号”"
          "（撤销原因：%s）。" % reason in notice2, "the notice says so:\n" + notice2)
    check("已撤销" not in notice1, "v1 had none")
    check(not any(r[0] == "C02" and r[2] == "瞒报" for r in ledger2[1:]), "not in the ledger")
    eq(sum(r[2] == "瞒报" for r in ledger2[1:]), 2, "C04's two stay in the ledger")


def test_concealed_not_a_gap(world, tmp):
    """a decision the spot check found concealed is 瞒报, not also 疑似漏报"""
    case, sample = spot_world(world, tmp, "spotgap")
    rc, out, err = case.run("snapshot", "--month", "2023-12", "--out", os.path.join(tmp, "before"))
    eq(rc, 0, "before: " + err)
    before = json.load(open(os.path.join(tmp, "before", "2023-12.json"), encoding="utf-8"))
    c04 = [u for u in before["units"] if u["unit_id"] == "C04"][0]
    eq([(g["missing"], g["missing_count"]) for g in c04["gaps"]], [(["3", "5"], 2)], "gaps before")
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample)
    eq(rc, 0, "spot-check: " + err)
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "after: " + err)
    snap, notice, ledger = read_month(case)
    c04 = [u for u in snap["units"] if u["unit_id"] == "C04"][0]
    eq((c04["concealed"], c04["gaps"]), (2, []), "C04: concealed, no gap")
    check("本月未发现文书号不连续情况" in notice, "the notice's gap sentence:\n" + notice)
    check("疑似漏报文书号" not in notice, "no gap count")
    rows = [(r[0], r[2], r[4]) for r in ledger[1:]]
    check(("C04", "瞒报", "豫建罚〔2023〕3号") in rows and ("C04", "瞒报", "豫建罚〔2023〕5号") in rows,
          "瞒报 rows: %s" % rows)
    eq([r for r in rows if r[1] == "疑似漏报"], [], "no 疑似漏报 rows")
    # withdrawn, the number is a suspected gap again
    wd = os.path.join(case.dir, "withdraw.tsv")
    with open(wd, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\nC04\tpenalty\t豫建罚〔2023〕5号\n")
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", wd, "--withdraw",
                            "--reason", "5号为作废文书号")
    eq(rc, 0, "withdraw: " + err)
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    snap, notice, ledger = read_month(case)
    c04 = [u for u in snap["units"] if u["unit_id"] == "C04"][0]
    eq((c04["concealed"], [(g["missing"], g["missing_count"]) for g in c04["gaps"]]),
       (1, [(["5"], 1)]), "withdrawn: a gap again")


BIG_UNITS = [("U%02d" % i, "单位%02d" % i, "city" if i <= 20 else "county") for i in range(1, 36)]


def test_notice_annex_references(world, tmp):
    """every 详见附件N names an annex of the notice, the workbook and the report
    that holds the units the list left out"""
    openpyxl = pytest.importorskip("openpyxl")
    case = Case(world, tmp, "annexref")
    with open(os.path.join(case.dir, "units.tsv"), "w", encoding="utf-8") as f:
        f.write("unit_id\tname\tgroup\taliases\n")
        for uid, name, group in BIG_UNITS:
            f.write("%s\t%s\t%s\t\n" % (uid, name, group))
    # 35 units: a gap each (1 and 3 reported), one concealed decision each
    recs = []
    for i, (uid, _, _) in enumerate(BIG_UNITS):
        for n in (1, 3):
            recs.append(Rec(uid, "penalty", "%s罚〔2023〕%d号" % (uid, n), "2023-12-05",
                            part=i % 3))
    write_records(case, recs)
    sample = os.path.join(case.dir, "sample.tsv")
    with open(sample, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\n")
        for uid, _, _ in BIG_UNITS:
            f.write("%s\tpenalty\t%s罚〔2023〕9号\n" % (uid, uid))
    rc, out, err = case.run("spot-check", "--month", "2023-12", "--sample", sample)
    eq(rc, 0, "spot-check: " + err)
    rc, out, err = case.run("snapshot", "--month", "2023-12")
    eq(rc, 0, "snapshot: " + err)
    snap, notice, ledger = read_month(case)
    refs = re.findall(r"等\d+个单位（详见(附件\d+(?:、附件\d+)*)）", notice)
    check(len(refs) >= 3, "cut lists name annexes: %s\n%s" % (refs, notice))
    check("详见附件）" not in notice, "no reference without a number")
    n_groups = len(snap["groups"])
    annex_list = re.search(r"\n附件：(.*)\n", notice).group(1)
    wb = openpyxl.load_workbook(os.path.join(case.reports, "2023-12.xlsx"))
    html = open(os.path.join(case.reports, "2023-12-report.html"), encoding="utf-8").read()
    sheet_of = {ws["A1"].value: ws for ws in wb.worksheets}
    for ref in refs:
        for annex in ref.split("、"):
            num = int(annex[2:])
            check(1 <= num <= n_groups + 1, "%s: an annex number" % annex)
            check("%d. " % num in annex_list, "%s in the annex list %s" % (annex, annex_list))
            check("\n## %s\n" % annex in notice, "%s in the notice" % annex)
            check('<p class="annex-no">%s</p>' % annex in html, "%s in the report" % annex)
            check(annex in sheet_of, "%s in the workbook (row 1 of a sheet): %s"
                  % (annex, list(sheet_of)))
    # the ledger annex: the 台账 sheet, holding the units the lists left out
    ledger_annex = "附件%d" % (n_groups + 1)
    eq(sheet_of[ledger_annex].title, "台账", "the ledger annex is the 台账 sheet")
    check("（详见%s）。" % ledger_annex in notice, "the gap and concealed lists name the ledger")
    rows = [[c.value for c in r] for r in sheet_of[ledger_annex].iter_rows(min_row=4)]
    for uid, _, _ in BIG_UNITS:
        check([uid, "瞒报"] in [r[0:3:2] for r in rows], "%s's concealed decision in the 台账" % uid)
        check([uid, "疑似漏报"] in [r[0:3:2] for r in rows], "%s's gap in the 台账" % uid)
    eq(len(rows), len(ledger) - 1, "台账 rows = ledger CSV rows")
    check("\n## %s\n\n### “双公示”数据报送问题台账（2023年12月）\n" % ledger_annex in notice,
          "the notice's ledger annex")
    check("| U35 | 单位35 | 瞒报 |" in notice, "the ledger annex holds the rows")


def test_notice_letterhead(world, tmp):
    """notice.issuer, notice.doc_no, notice.date: in the notice and the report
    when set; a bad date is a configuration error"""
    case = golden_world_only(world, tmp, "letter")[0]
    plain = open(os.path.join(case.reports, "2023-12-notice.md"), encoding="utf-8").read()
    check(plain.startswith("# 平顶山市“双公示”数据报送情况通报（2023年12月）"), "unset: as before")
    issuer = "平顶山市社会信用体系建设领导小组办公室"
    out_dir = os.path.join(tmp, "lh")
    rc, out, err = case.run("-X", "notice.issuer=" + issuer, "-X",
                            "notice.doc_no=平信用办〔{year}〕{month}号", "-X",
                            "notice.date=2024-01-04", "snapshot", "--month", "2023-12",
                            "--out", out_dir)
    eq(rc, 0, "snapshot: " + err)
    check("version 1 unchanged" in out, "the keys change no figure: " + out)
    notice = open(os.path.join(out_dir, "2023-12-notice.md"), encoding="utf-8").read()
    check(notice.startswith(issuer + "\n\n平信用办〔2023〕12号\n\n# 平顶山市“双公示”数据报送情况通报"),
          "letterhead: " + notice[:200])
    check("\n\n%s\n\n2024年1月4日\n\n---\n" % issuer in notice, "signature and date")
    html = open(os.path.join(out_dir, "2023-12-report.html"), encoding="utf-8").read()
    check('<p class="issuer">%s</p>' % issuer in html and
          '<p class="doc-no">平信用办〔2023〕12号</p>' in html and
          '<p class="date">2024年1月4日</p>' in html, "the report")
    rc, out, err = case.run("-X", "notice.date=2024-02-30", "snapshot", "--month", "2023-12")
    eq(rc, 2, "a bad date: " + err)
    check("notice.date" in err and "2024-02-30" in err, "names the key: " + err)

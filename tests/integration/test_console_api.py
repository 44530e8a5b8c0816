"""`sgs-aggregator serve`: the HTTP API of REFERENCE §9 against a generated month.

Every figure is checked against what was computed without the aggregator's
code: the generator's expectation (per-unit records, late, invalid,
duplicates, licences, penalties), the day buckets and alert lists read raw
from Redis, the registry file, the report files on disk, the alerts on the
Kafka topic. The month's live computation (/months/M/live) must equal the
stored snapshot of the same state.
"""
import json
import os
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import quote

import pytest

from sgstest import build_path, check, check_eq, consume_all, jsonl_messages, run, source_path
from sgstest.console import metrics, sample

MONTH = "2023-11"                      # 30 days: the rolling 30 days are the month
NOW = "2023-11-30T20:00:00+08:00"      # "today" for live figures
SNAP_NOW = "2023-12-06T09:00:00+08:00"  # the month has closed


def rate_json(num, den):
    if den == 0:
        return None
    return float((Decimal(num) * 100 / Decimal(den)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def registry(path):
    """[(id, name, group, [aliases])] of a units file, read here."""
    out, header = [], False
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            if not header:
                header = True
                continue
            cols = line.split("\t") + [""]
            aliases = [a.strip() for a in cols[3].replace("，", ",").split(",") if a.strip()]
            out.append((cols[0].strip(), cols[1].strip(), cols[2].strip(), aliases))
    return out


def day_sums(r, prefix, topic, days):
    """Per unit {records, late, invalid} over the day buckets of `days`, summed
    over every partition, straight from Redis."""
    out = {}
    for day in days:
        for key in r.scan_iter(match="%s:{%s:*}:d:%s" % (prefix, topic, day)):
            for field, value in r.hgetall(key).items():
                unit, _, name = field.rpartition("|")
                if name in ("records", "late", "invalid") and unit != "_":
                    out.setdefault(unit, {"records": 0, "late": 0, "invalid": 0})[name] += int(value)
    return out


def window(f):
    return {"records": f["records"], "late": f["late"], "late_rate": rate_json(f["late"], f["records"]),
            "invalid": f["invalid"]}


def raw_alerts(r, prefix, topic):
    """Every kept alert, read here: [(ms, alert dict)]."""
    out = []
    for key in r.scan_iter(match="%s:{%s:*}:al" % (prefix, topic)):
        for item in r.lrange(key, 0, -1):
            ms, _, text = item.partition(" ")
            out.append((int(ms), json.loads(text)))
    return out


@pytest.fixture
def month(sgs, request):
    """A generated month consumed into Redis: (pipeline, expectation). The
    session's broker is shared: topics and group are the test's own."""
    p = sgs("capi-" + request.node.name.replace("_", "-")[5:], partitions=4)
    jsonl, expect = p.generate(MONTH, seed=21, records=3000, late_share=0.04, invalid=40,
                               duplicates=30, unknown_unit=5, malformed=5)
    p.produce(jsonl_messages(jsonl))
    p.run_consumer()
    p.check_counts(expect)
    return p, expect


@pytest.mark.case_timeout(300)
def test_api_generated_month(month, console):
    """units, live, months, a month stored and live, files, alerts: exact figures"""
    p, expect = month
    r = p.client()
    c = console(p.conf, env={"SGS_NOW": NOW})

    # /api/v1/units: the registry, in its order
    status, units = c.json("/api/v1/units")
    check_eq(status, 200, "units status")
    want = [{"unit_id": i, "name": n, "group": g, "aliases": a}
            for i, n, g, a in registry(source_path("configs", "units.tsv"))]
    check_eq(units, want, "/api/v1/units")

    # /api/v1/live: the month from the expectation; today and 7 days from the
    # raw day buckets; the 30 days of November are the month
    status, live = c.json("/api/v1/live")
    check_eq(status, 200, "live status")
    check_eq((live["today"], live["month"], live["timezone"]), ("2023-11-30", MONTH, "+08:00"),
             "live dates")
    check_eq([g["group"] for g in live["groups"]], ["city", "county"], "live groups")
    check_eq([g["name"] for g in live["groups"]], ["市直单位", "县（市、区）"], "live group names")
    today = day_sums(r, p.prefix, p.topic, ["2023-11-30"])
    week = day_sums(r, p.prefix, p.topic, ["2023-11-%02d" % d for d in range(24, 31)])
    zero = {"records": 0, "late": 0, "invalid": 0}
    by = {u["unit_id"]: u for u in live["units"]}
    check_eq(sorted(by), sorted(expect["units"]), "live units")
    totals = {"records": 0, "late": 0, "invalid": 0}
    for uid, e in expect["units"].items():
        u = by[uid]
        check_eq(u["month"], window(e), uid + " month")
        check_eq(u["last_30_days"], window(e), uid + " 30 days")
        check_eq(u["today"], window(today.get(uid, zero)), uid + " today")
        check_eq(u["last_7_days"], window(week.get(uid, zero)), uid + " 7 days")
        for k in totals:
            totals[k] += e[k]
    check_eq(live["totals"]["month"], window(totals), "live totals")
    check(sum(u["today"]["records"] for u in live["units"]) > 0, "records today")

    # before any snapshot: no months, 404 for the month, its live figures
    check_eq(c.json("/api/v1/months"), (200, []), "months before a snapshot")
    status, err = c.json("/api/v1/months/" + MONTH)
    check_eq(status, 404, "stored month before a snapshot")
    check("error" in err, "404 is a JSON error")

    # the snapshot, then the stored month equals its file and the expectation
    run([build_path("sgs-aggregator"), "-c", p.conf, "snapshot", "--month", MONTH],
        env={"SGS_NOW": SNAP_NOW})
    check_eq(c.json("/api/v1/months"), (200, [{"month": MONTH, "latest_version": 1}]), "months")
    status, stored = c.json("/api/v1/months/" + MONTH)
    check_eq(status, 200, "stored month status")
    with open(os.path.join(p.tmp, "reports", MONTH + ".json"), encoding="utf-8") as f:
        check_eq(stored, json.load(f), "stored month == " + MONTH + ".json")
    check_eq(stored["version"], 1, "version")
    for u in stored["units"]:
        e = expect["units"][u["unit_id"]]
        for k in ("records", "late", "invalid", "duplicates", "licenses", "penalties"):
            check_eq(u[k], e[k], "%s %s" % (u["unit_id"], k))
        check_eq(u["late_rate"], rate_json(e["late"], e["records"]), u["unit_id"] + " late_rate")
    check_eq(stored["totals"]["unattributed"], expect["unattributed"], "unattributed")
    check_eq(c.json("/api/v1/months/%s?version=1" % MONTH), (200, stored), "?version=1")
    check_eq(c.json("/api/v1/months/%s?version=2" % MONTH)[0], 404, "?version=2")

    # /months/M/live: the same state computed now, stored nowhere
    status, lv = c.json("/api/v1/months/%s/live" % MONTH)
    check_eq(status, 200, "month live status")
    check_eq(lv["version"], None, "live version")
    check_eq(lv["generated_at"], NOW, "live generated_at")
    a, b = dict(stored), dict(lv)
    for k in ("version", "generated_at"):
        a.pop(k)
        b.pop(k)
    check_eq(b, a, "/months/M/live == the stored snapshot (but version, generated_at)")
    check_eq(c.json("/api/v1/months")[1], [{"month": MONTH, "latest_version": 1}],
             "live computation stored nothing")

    # report files: the list, the bytes, the types
    reports = os.path.join(p.tmp, "reports")
    on_disk = sorted(n for n in os.listdir(reports) if n.startswith(MONTH))
    status, files = c.json("/api/v1/months/%s/files" % MONTH)
    check_eq(status, 200, "files status")
    check_eq(sorted(f["name"] for f in files), on_disk, "files listed")
    types = {".json": "application/json", ".csv": "text/csv", ".md": "text/markdown",
             ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             ".html": "text/html"}
    for f in files:
        status, headers, data = c.get("/api/v1/months/%s/files/%s" % (MONTH, f["name"]))
        check_eq(status, 200, f["name"])
        with open(os.path.join(reports, f["name"]), "rb") as fh:
            check(data == fh.read(), f["name"] + ": the bytes on disk")
        check_eq(f["bytes"], len(data), f["name"] + " size")
        ext = os.path.splitext(f["name"])[1]
        check(headers["content-type"].startswith(types[ext]),
              "%s content type %s" % (f["name"], headers["content-type"]))
        check(f["name"] in headers.get("content-disposition", ""), f["name"] + " disposition")
    # a newer version whose files went elsewhere (snapshot --out DIR): the files
    # in report.dir are not the latest version's, so none of them is served;
    # the latest version's are listed without a size and rendered when asked
    # (test_files_rendered); this v2 was typed in, not built: its JSON is
    # served as stored, its figures (a total that is no sum) make no tables
    v2 = dict(stored, version=2)
    v2["totals"] = dict(stored["totals"], records=stored["totals"]["records"] + 1)
    r.set("%s:snapshot:%s:v2" % (p.prefix, MONTH), json.dumps(v2, ensure_ascii=False))
    r.set("%s:snapshot:%s:latest" % (p.prefix, MONTH), 2)
    try:
        status, listed = c.json("/api/v1/months/%s/files" % MONTH)
        check_eq((status, sorted(f["name"] for f in listed), {f["bytes"] for f in listed}),
                 (200, on_disk, {None}), "the latest version's files, none in report.dir")
        status, _, data = c.get("/api/v1/months/%s/files/%s.json" % (MONTH, MONTH))
        check_eq((status, json.loads(data)), (200, v2), "v2's JSON, not report.dir's v1")
        status, err = c.json("/api/v1/months/%s/files/%s-city.csv" % (MONTH, MONTH))
        check_eq(status, 409, "a table of figures that are no snapshot's: %s" % err)
        check("version 2" in err["error"], "the 409 names the version: %s" % err)
    finally:
        r.set("%s:snapshot:%s:latest" % (p.prefix, MONTH), 1)
        r.delete("%s:snapshot:%s:v2" % (p.prefix, MONTH))
    check_eq(c.get("/api/v1/months/%s/files/%s.json" % (MONTH, MONTH))[0], 200, "served again")

    # /api/v1/alerts: the lists kept in Redis, newest first, and only alerts
    # that went to Kafka
    kept = raw_alerts(r, p.prefix, p.topic)
    ms = {a["id"]: t for t, a in kept}
    check_eq(len(ms), len(kept), "kept alerts have distinct ids")
    on_topic = {json.loads(m.value)["id"] for m in consume_all(p.broker.bootstrap, p.tag + ".alerts")}
    check_eq(set(ms), on_topic, "kept alerts == alerts produced (fewer than alerts_kept)")
    late = [a for _, a in kept if a["type"] == "late"]
    check_eq(len(late), expect["late_alerts"], "late alerts kept")
    status, listed = c.json("/api/v1/alerts?limit=1000")
    check_eq(status, 200, "alerts status")
    check_eq(sorted(a["id"] for a in listed), sorted(ms), "every kept alert listed")
    check(all(ms[x["id"]] >= ms[y["id"]] for x, y in zip(listed, listed[1:])), "newest first")
    status, five = c.json("/api/v1/alerts?limit=5")
    check_eq(len(five), 5, "limit=5")
    cut = min(ms[a["id"]] for a in five)
    check(all(ms[i] <= cut for i in set(ms) - {a["id"] for a in five}), "the 5 newest")
    check_eq(len(c.json("/api/v1/alerts")[1]), min(100, len(kept)), "default limit 100")
    status, capped = c.json("/api/v1/alerts?limit=5000")
    check_eq(status, 200, "limit over 1000: served, not refused")
    check_eq(len(capped), min(1000, len(kept)), "limit=5000 serves at most 1000")

    # /metrics: the requests above, by endpoint; what watch owes (nothing: the
    # month has its snapshot)
    f = metrics(c.url("/metrics"))
    check_eq(sample(f, "sgs_aggregator_http_requests_total", endpoint="/api/v1/live",
                    code="200"), 1.0, "live requests counted")
    check_eq(sample(f, "sgs_aggregator_http_requests_total", endpoint="/api/v1/months/{month}",
                    code="404"), 2.0, "404s counted by route, not by path")
    check(sample(f, "sgs_aggregator_http_request_seconds_count", endpoint="/api/v1/live") == 1,
          "live latency observed")
    check_eq(sample(f, "sgs_aggregator_snapshot_versions_total"), 1.0, "versions stored")
    check_eq(sample(f, "sgs_aggregator_snapshot_latest_version", month=MONTH), 1.0, "latest")
    check_eq(sample(f, "sgs_aggregator_redis_up"), 1.0, "redis up")
    check_eq(c.stop(), 0, "serve exits 0 on SIGTERM")
    check("Sanitizer" not in c.log(), "no sanitizer report")


@pytest.mark.case_timeout(300)
def test_files_rendered(month, console):
    """GET /files/NAME answers the latest version's file whatever report.dir
    holds (REFERENCE §9): after snapshot --out DIR elsewhere every file equals
    the one written there byte for byte (the workbook included: it is dated by
    the version's generated_at); report.dir's copy is served when it is that
    version's, never when it is an older one's; once the month has changed in
    Redis, the files that hold the ledger are refused (409), the JSON and the
    group tables of the version are still served"""
    p, expect = month
    agg = build_path("sgs-aggregator")
    reports = os.path.join(p.tmp, "reports")
    unit, docs = next((u, d) for u, d in expect["doc_nos"].items() if len(d) >= 2)

    def spot_check(doc_no):
        path = os.path.join(p.tmp, "sample-%s.tsv" % doc_no[-8:])
        with open(path, "w", encoding="utf-8") as f:
            f.write("unit_id\tkind\tdoc_no\n%s\tlicense\t%s\n" % (unit, doc_no))
        run([agg, "-c", p.conf, "spot-check", "--month", MONTH, "--sample", path],
            env={"SGS_NOW": SNAP_NOW})

    def snapshot(out):
        run([agg, "-c", p.conf, "snapshot", "--month", MONTH, "--out", out],
            env={"SGS_NOW": SNAP_NOW})
        return {n: open(os.path.join(out, n), "rb").read() for n in os.listdir(out)}

    # a concealed decision, so the ledger has every kind of row but notes
    spot_check("不存在许〔2023〕99001号")
    v1 = snapshot(os.path.join(p.tmp, "elsewhere-v1"))
    check(not os.path.exists(reports) or not os.listdir(reports), "report.dir has no files")
    check(sum(1 for n in v1 if n.endswith(".csv")) == 3, "two group tables and the ledger")
    ledger = v1[MONTH + "-ledger.csv"].decode("utf-8-sig")
    for cat in ("迟报", "不合格", "瞒报"):
        check(",%s," % cat in ledger, "the ledger has %s rows" % cat)
    # served with another "today" than the snapshot's: nothing depends on it
    c = console(p.conf, env={"SGS_NOW": NOW})

    def served(files, what):
        status, listed = c.json("/api/v1/months/%s/files" % MONTH)
        check_eq((status, sorted(f["name"] for f in listed)), (200, sorted(files)),
                 what + ": the list")
        types = {f["name"]: f["content_type"] for f in listed}
        for name, data in files.items():
            status, headers, got = c.get("/api/v1/months/%s/files/%s" % (MONTH, name))
            check_eq(status, 200, "%s: %s (%s)" % (what, name, got[:300]))
            check(got == data, "%s: %s is the file snapshot wrote, byte for byte" % (what, name))
            check_eq(headers["content-type"], types[name], what + ": " + name + " type")
            check('filename="%s"' % name in headers["content-disposition"], name + " named")
        return listed

    listed = served(v1, "v1 written elsewhere, report.dir empty")
    check_eq({f["bytes"] for f in listed}, {None}, "no size: rendered when asked")

    # report.dir holds v1; v2 (another finding) is written elsewhere: v2's files
    os.makedirs(reports, exist_ok=True)
    for name, data in v1.items():
        with open(os.path.join(reports, name), "wb") as f:
            f.write(data)
    spot_check("不存在许〔2023〕99002号")
    v2 = snapshot(os.path.join(p.tmp, "elsewhere-v2"))
    check_eq(json.loads(v2[MONTH + ".json"])["version"], 2, "v2 stored")
    served(v2, "v2 written elsewhere, report.dir holding v1")

    # report.dir holds v2: its copies are served (one of them marked here)
    for name, data in v2.items():
        with open(os.path.join(reports, name), "wb") as f:
            f.write(data + (b"<!-- report.dir -->" if name.endswith(".html") else b""))
    status, listed = c.json("/api/v1/months/%s/files" % MONTH)
    check_eq({f["name"]: f["bytes"] for f in listed},
             {n: len(d) + (19 if n.endswith(".html") else 0) for n, d in v2.items()},
             "report.dir's files listed with their sizes")
    html = MONTH + "-report.html"
    check(c.get("/api/v1/months/%s/files/%s" % (MONTH, html))[2].endswith(b"<!-- report.dir -->"),
          "report.dir's copy is served when it is the latest version's")
    # one of them gone: rendered
    os.remove(os.path.join(reports, html))
    check(c.get("/api/v1/months/%s/files/%s" % (MONTH, html))[2] == v2[html],
          "a file report.dir lacks is rendered")

    # the month changes in Redis (a third finding, no snapshot yet): v2's ledger
    # is no longer in Redis; its JSON and tables are in the document
    for name in os.listdir(reports):
        os.remove(os.path.join(reports, name))
    spot_check("不存在许〔2023〕99003号")
    for name, data in sorted(v2.items()):
        status, headers, got = c.get("/api/v1/months/%s/files/%s" % (MONTH, name))
        if name == MONTH + ".json" or name in (MONTH + "-city.csv", MONTH + "-county.csv"):
            check_eq(status, 200, name + " of v2 after a change")
            check(got == data, name + ": still v2's, byte for byte")
        else:
            err = json.loads(got)["error"]
            check_eq(status, 409, "%s after a change: %s" % (name, err))
            check("version 2" in err and "changed" in err and "snapshot --month" in err,
                  "the 409 says why and what to do: " + err)
    # the snapshot that follows is v3, and served
    v3 = snapshot(os.path.join(p.tmp, "elsewhere-v3"))
    check_eq(json.loads(v3[MONTH + ".json"])["version"], 3, "v3 stored")
    served(v3, "v3 after the change")
    check_eq(c.stop(), 0, "serve exits 0")
    check("Sanitizer" not in c.log(), "no sanitizer report")


def test_months_owed(month, console):
    """sgs_aggregator_months_owed: a closed month past its grace days without a
    snapshot is owed (watch's rule), and no longer once it has one"""
    p, expect = month
    # 2023-11 with 3 grace working days is due from 2023-12-06 (Dec 1, 4, 5);
    # watch looks at the last closed month only
    one = {"SGS_AGGREGATOR_WATCH_MONTHS": "1"}
    c = console(p.conf, env=dict(one, SGS_NOW="2023-12-05T12:00:00+08:00"), name="serve-early")
    f = metrics(c.url("/metrics"))
    check_eq(sample(f, "sgs_aggregator_months_owed"), 0.0, "not due on Dec 5")
    c.stop()
    c = console(p.conf, env=dict(one, SGS_NOW=SNAP_NOW), name="serve-due")
    f = metrics(c.url("/metrics"))
    check_eq(sample(f, "sgs_aggregator_months_owed"), 1.0, "due on Dec 6, no snapshot")
    check_eq(sample(f, "sgs_aggregator_month_owed", month=MONTH), 1.0, "which month")
    run([build_path("sgs-aggregator"), "-c", p.conf, "snapshot", "--month", MONTH],
        env={"SGS_NOW": SNAP_NOW})
    f = metrics(c.url("/metrics"))
    check_eq(sample(f, "sgs_aggregator_months_owed"), 0.0, "owed no more")
    check_eq(sample(f, "sgs_aggregator_snapshot_versions_total"), 1.0, "one version stored")


@pytest.mark.case_timeout(300)
def test_spot_check_over_http(month, console):
    """POST spot-check: needs the token (constant-time compared), runs
    spot-check's code, shows in the month's figures; refused without a token"""
    p, expect = month
    unit, docs = next((u, d) for u, d in expect["doc_nos"].items() if len(d) >= 2)
    sample = ("unit_id\tkind\tdoc_no\n"
              + "".join("%s\t%s\t%s\n" % (unit, "penalty" if "罚" in d else "license", d)
                        for d in docs[:2])
              + "%s\tlicense\t不存在许〔2023〕99999号\n" % unit).encode("utf-8")
    path = "/api/v1/months/%s/spot-check" % MONTH

    plain = console(p.conf, env={"SGS_NOW": NOW})
    status, err = plain.json(path, method="POST", body=sample)
    check_eq(status, 403, "no http.token: writes refused")
    check("http.token" in err["error"], "403 names http.token: %s" % err)
    plain.stop()

    c = console(p.conf, env={"SGS_NOW": NOW, "SGS_HTTP_TOKEN": "s3cret-T0ken"}, token="s3cret-T0ken")
    check_eq(c.json(path, method="POST", body=sample, token=False)[0], 401, "no token")
    for wrong in ("s3cret", "s3cret-T0kenx", "x", ""):
        status, _, _ = c.request("POST", path, body=sample, token=False,
                                 headers={"Authorization": "Bearer " + wrong})
        check_eq(status, 401, "wrong token %r" % wrong)
    check_eq(c.json("/api/v1/live", token=False)[0], 401, "every /api/ request needs it")
    check_eq(c.get("/healthz", token=False)[0], 200, "/healthz does not")
    status, headers, _ = c.request("HEAD", "/", token=False)
    check_eq((status, headers.get("x-sgs-token")), (200, "required"), "the page says so")
    check_eq(c.get("/metrics", token=False)[0], 200, "/metrics does not")

    status, res = c.json(path, method="POST", body=sample)
    check_eq(status, 200, "spot-check: %s" % res)
    check_eq((res["month"], res["sampled"], res["found"], res["concealed"]), (MONTH, 3, 2, 1),
             "spot-check result")
    check_eq([i["line"] for i in res["items"]], [4], "the concealed line")
    check_eq(c.json(path, method="POST", body=sample)[1]["concealed"], 1, "a repeat adds nothing")
    status, lv = c.json("/api/v1/months/%s/live" % MONTH)
    by = {u["unit_id"]: u for u in lv["units"]}
    check_eq(by[unit]["concealed"], 1, "the finding shows in the month")
    check_eq(lv["totals"]["concealed"], 1, "and in its totals")

    status, err = c.json(path, method="POST", body=b"unit_id\tkind\tdoc_no\nnope\tlicense\tx1234\n")
    check_eq(status, 400, "a bad sample")
    check(":2:" in err["error"] and "nope" in err["error"], "names the line: %s" % err)
    check_eq(c.json(path, method="POST", body=b"")[0], 400, "an empty body")
    check_eq(c.json(path, method="GET")[0], 405, "GET spot-check")

    # a dry run looks up and stores nothing (?dry_run=1, spot-check --dry-run)
    other = ("unit_id\tkind\tdoc_no\n%s\tlicense\t不存在许〔2023〕88888号\n" % unit).encode("utf-8")
    status, res = c.json(path + "?dry_run=1", method="POST", body=other)
    check_eq(status, 200, "dry run: %s" % res)
    check_eq((res.get("dry_run"), res["sampled"], res["concealed"]), (True, 1, 1), "dry run result")
    status, lv = c.json("/api/v1/months/%s/live" % MONTH)
    check_eq(lv["totals"]["concealed"], 1, "a dry run stores nothing")
    # (yes/no as boolean configuration keys take it: yes, on, true, 1 or no, off, false, 0)
    status, res = c.json(path + "?dry_run=yes", method="POST", body=other)
    check_eq((status, res.get("dry_run")), (200, True), "dry_run=yes: %s" % res)
    check_eq(c.json("/api/v1/months/%s/live" % MONTH)[1]["totals"]["concealed"], 1,
             "dry_run=yes stores nothing")
    for query, word in (("?dry_run=maybe", "dry_run"), ("?withdraw=2", "withdraw"),
                        ("?withdraw=1", "reason"), ("?withdraw=1&reason=", "reason"),
                        ("?reason=x", "withdraw=1"), ("?withdraw=1&reason=%FF%FE", "UTF-8"),
                        ("?withdraw=1&reason=a%0Ab", "control"),
                        ("?withdraw=1&reason=" + "x" * 1001, "1000")):
        status, err = c.json(path + query, method="POST", body=sample)
        check_eq(status, 400, "refused: %s" % query[:40])
        check(word in err["error"], "%s: the error names %s: %s" % (query[:40], word, err))

    # a withdrawal (?withdraw=1&reason=TEXT, spot-check --withdraw --reason)
    concealed = ("unit_id\tkind\tdoc_no\n%s\tlicense\t不存在许〔2023〕99999号\n" % unit).encode("utf-8")
    why = quote("经核实已于次月补报")
    status, err = c.json(path + "?withdraw=1&reason=" + why, method="POST", body=other)
    check_eq(status, 400, "withdrawing what was never found")
    check("names no stored spot-check finding" in err["error"], "says so: %s" % err)
    status, res = c.json(path + "?withdraw=1&dry_run=1&reason=" + why, method="POST",
                         body=concealed)
    check_eq((status, res.get("dry_run"), res["withdrawn_now"]), (200, True, 0), "a dry withdrawal")
    check_eq(c.json("/api/v1/months/%s/live" % MONTH)[1]["totals"]["concealed"], 1,
             "a dry withdrawal changes nothing")
    status, res = c.json(path + "?withdraw=1&reason=" + why, method="POST", body=concealed)
    check_eq((status, res["withdrawn_now"], res["reason"]), (200, 1, "经核实已于次月补报"),
             "withdrawn: %s" % res)
    check_eq([(w["unit_id"], w["reason"]) for w in res["withdrawn"]],
             [(unit, "经核实已于次月补报")], "the trail")
    status, lv = c.json("/api/v1/months/%s/live" % MONTH)
    by = {u["unit_id"]: u for u in lv["units"]}
    check_eq((by[unit]["concealed"], lv["totals"]["concealed"]), (0, 0),
             "the withdrawn finding no longer counts")
    status, res = c.json(path + "?withdraw=1&reason=" + quote("另一个原因"), method="POST",
                         body=concealed)
    check_eq((res["withdrawn_now"], res["items"][0].get("already_withdrawn")), (0, True),
             "withdrawn once: the first reason stays")

"""One loader for every program, the calendar's horizon and SIGHUP reloads
(issue 17, points 7 and 8; docs/OPERATIONS.md "Adding a calendar year").

- sgs-consumer and each sgs-aggregator command (snapshot, spot-check, status,
  watch, serve) refuse the same bad inputs with the same line naming the
  configuration file and line: a mistyped group.<id>.name, a "groups" entry
  naming no group, a kafka.* property librdkafka does not know, a calendar
  that is not JSON;
- from 60 days before the end of the calendar's last year the warning shows in
  the logs, `status` (text and --json), /metrics of both programs and
  /api/v1/live (the console's banner): at 59 days and not at 61 (SGS_NOW);
- SIGHUP reloads units.file and calendar.file in a running consumer, serve and
  watch: a bad file is refused with the old ones kept, an added year takes the
  warning away, and a record of the new year gets its deadline from the new
  holidays."""

import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from sgstest import (build_path, check, check_eq, consumer_cmd, free_port, produce, redis_counts,
                     source_path, spawn, wait_until, write_config)
from sgstest.console import metrics, sample

UNITS = source_path("configs", "units.tsv")
CAL = source_path("configs", "calendar-cn.json")
WARNING = ("工作日历只到2026年12月31日（还剩%d天），"
           "请按国务院办公厅关于2027年部分节假日安排的通知补充2027年的节假日和调休上班日")


def run2(args, tmp, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SGS_")}
    e.update(env or {})
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, env=e, cwd=tmp)
    return r.returncode, r.stdout, r.stderr


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def programs(tmp):
    sample_file = write(tmp, "sample.tsv",
                        "unit_id\tkind\tdoc_no\n410423\tpenalty\t鲁山县罚〔2023〕1号\n")
    agg = build_path("sgs-aggregator")
    return {
        "consumer": lambda c: [build_path("sgs-consumer"), "-c", c],
        "snapshot": lambda c: [agg, "-c", c, "snapshot", "--month", "2023-12",
                               "--out", os.path.join(tmp, "out")],
        "spot-check": lambda c: [agg, "-c", c, "spot-check", "--month", "2023-12",
                                 "--sample", sample_file],
        "status": lambda c: [agg, "-c", c, "status"],
        "watch": lambda c: [agg, "-c", c, "watch"],
        "serve": lambda c: [agg, "-c", c, "serve", "--listen", "127.0.0.1:%d" % free_port()],
    }


def message(line):
    """The message of an error line without the program's prefix."""
    m = re.match(r"^(?:\S+ sgs-aggregator: error: |sgs-consumer: )(.*)$", line)
    check(m is not None, "an error line of a program: %r" % line)
    return m.group(1)


def refused_alike(tmp, conf, *needles):
    """Every program exits 2 with one line, the same message, holding needles."""
    seen = {}
    for name, cmd in programs(tmp).items():
        rc, out, err = run2(cmd(conf), tmp)
        lines = [l for l in err.splitlines() if l.strip()]
        check_eq(rc, 2, "%s: exit status (stderr: %s)" % (name, err.strip()))
        check(len(lines) == 1, "%s: one line on stderr, got %r" % (name, lines))
        seen[name] = message(lines[0])
        for n in needles:
            check(n in seen[name], "%s: %r in %r" % (name, n, seen[name]))
    check_eq(len(set(seen.values())), 1, "the same message from every program: %r" % seen)


def base_conf(tmp, extra, calendar=CAL):
    # nothing is reachable: a program that got past its checks would fail otherwise
    return write(tmp, "sgs.conf", "units.file = %s\ncalendar.file = %s\nredis.port = 1\n"
                 "kafka.bootstrap.servers = 127.0.0.1:1\ngroup.city.name = 市直单位\n%s"
                 % (UNITS, calendar, extra))


def test_group_typos_refused_by_every_program(tmp):
    """group.citty.name and a groups entry naming no group: the file and line,
    from the consumer and every aggregator command"""
    c = base_conf(tmp, "group.citty.name = 市直\n")
    refused_alike(tmp, c, "%s:6: key 'group.citty.name'" % c, "no group 'citty'",
                  "its groups: city, county")
    c = base_conf(tmp, "# order\ngroups = county, cityy\n")
    refused_alike(tmp, c, "%s:7: key 'groups'" % c, "no group 'cityy'", UNITS)


def test_kafka_typo_and_calendar_not_json_refused_by_every_program(tmp):
    """a kafka.* typo (librdkafka refuses the property) and a calendar that is
    not JSON: the same refusal from every program, also those without Kafka"""
    c = base_conf(tmp, "kafka.bootstrap.server = 127.0.0.1:9092\n")
    refused_alike(tmp, c, "%s:6: key 'kafka.bootstrap.server'" % c,
                  "No such configuration property")
    cal = write(tmp, "calendar.json", "years: 2023\n")
    c = base_conf(tmp, "", calendar=cal)
    refused_alike(tmp, c, "%s: line 1" % cal)


# ---- the horizon ------------------------------------------------------------------


def live_conf(tmp, broker, redis, calendar=CAL, **extra):
    values = {"units.file": UNITS, "calendar.file": calendar, "redis.port": redis.port,
              "kafka.bootstrap.servers": broker.bootstrap, "report.dir": os.path.join(tmp, "r"),
              "consumer.stats_interval_s": 0, "aggregator.watch_interval_s": 1}
    values.update(extra)
    return write_config(os.path.join(tmp, "live.conf"), values)


def start_consumer(tmp, conf, now, port, name="consumer"):
    p = spawn(consumer_cmd(conf, extra=["metrics.listen=127.0.0.1:%d" % port]), tmp, name=name,
              env={"SGS_NOW": now})

    def up():
        check(p.alive(), "sgs-consumer exited:\n%s" % p.tail(20))
        try:
            metrics("http://127.0.0.1:%d/metrics" % port, timeout=2)
            return True
        except OSError:
            return False
    wait_until(up, timeout=30, what="the consumer's /metrics")
    return p


def calendar_of(days):
    return {"last_year": 2026, "days_left": days, "warning": WARNING % days if days <= 60 else None}


@pytest.mark.case_timeout(300)
@pytest.mark.parametrize("now,days", [("2026-11-02", 59), ("2026-10-31", 61)])
def test_horizon_warning_59_not_61(tmp, mock_broker, redis_server, console, now, days):
    """59 days before 2026-12-31 every place warns; 61 days before none does"""
    due = days <= 60
    conf = live_conf(tmp, mock_broker, redis_server)
    agg = build_path("sgs-aggregator")

    rc, out, err = run2([agg, "-c", conf, "status"], tmp, env={"SGS_NOW": now})
    check_eq(rc, 0, "status: %s" % err)
    first = out.splitlines()[0]
    check_eq(WARNING % days in first, due, "status's first line: %r" % first)
    check_eq(WARNING % days in out, due, "status's text")
    rc, out, err = run2([agg, "-c", conf, "status", "--json"], tmp, env={"SGS_NOW": now})
    check_eq(rc, 0, "status --json: %s" % err)
    check_eq(json.loads(out)["calendar"], calendar_of(days), "status --json calendar")

    c = console(conf, env={"SGS_NOW": now})
    status, live = c.json("/api/v1/live")
    check_eq(status, 200, "/api/v1/live")
    check_eq(live["calendar"], calendar_of(days), "/api/v1/live calendar")
    fams = metrics(c.url("/metrics"))
    check_eq(sample(fams, "sgs_calendar_days_left"), days, "serve: sgs_calendar_days_left")
    check_eq(sample(fams, "sgs_calendar_last_year"), 2026, "serve: sgs_calendar_last_year")
    check_eq(sample(fams, "sgs_config_reloads_total", result="ok"), 0, "serve: no reload yet")
    page = c.get("/")[2].decode("utf-8")
    check('id="calendar-banner"' in page and "doc.calendar.warning" in page,
          "the console page has the calendar banner, filled from /api/v1/live")
    c.stop()
    check_eq(WARNING % days in c.log(), due, "serve's log warns: %s" % c.log()[-600:])

    port = free_port()
    p = start_consumer(tmp, conf, now, port)
    fams = metrics("http://127.0.0.1:%d/metrics" % port)
    check_eq(sample(fams, "sgs_calendar_days_left"), days, "consumer: sgs_calendar_days_left")
    check_eq(sample(fams, "sgs_calendar_last_year"), 2026, "consumer: sgs_calendar_last_year")
    check_eq(sample(fams, "sgs_config_reloads_total", result="error"), 0, "consumer: no reload")
    if due:
        wait_until(lambda: WARNING % days in p.log(), timeout=10, what="the consumer's warning")
    p.stop()
    lines = [l for l in p.log().splitlines() if "工作日历" in l]
    check_eq(len(lines), 1 if due else 0, "the consumer's warning, once: %r" % lines)
    if due:
        check(" warning: %s: " % CAL in lines[0],
              "at warning level, naming the file: %r" % lines[0])


EVICTS = "maxmemory-policy is allkeys-lru with maxmemory 536870912 bytes: it may evict sgs's keys"


@pytest.mark.case_timeout(180)
def test_evicting_redis_named_by_the_aggregator(tmp, mock_broker, redis_server, console):
    """a Redis that may evict keys (a maxmemory with allkeys-lru): every
    aggregator command warns once, status --json and /api/v1/live carry
    redis_warning (the console's red banner) until the policy is noeviction,
    and the figures are still served meanwhile"""
    conf = live_conf(tmp, mock_broker, redis_server)
    agg = build_path("sgs-aggregator")
    admin = redis_server.client()
    rc, out, err = run2([agg, "-c", conf, "status", "--json"], tmp, env={"SGS_NOW": NOW})
    check_eq(rc, 0, "status --json: %s" % err)
    check_eq(json.loads(out)["redis_warning"], None, "redis_warning with noeviction")
    check("maxmemory" not in err, "no warning with noeviction: %r" % err)

    admin.config_set("maxmemory", "512mb")
    admin.config_set("maxmemory-policy", "allkeys-lru")
    rc, out, err = run2([agg, "-c", conf, "status", "--json"], tmp, env={"SGS_NOW": NOW})
    check_eq(rc, 0, "status --json: %s" % err)
    why = json.loads(out)["redis_warning"]
    check(why and why.startswith("redis 127.0.0.1:%d: " % redis_server.port) and EVICTS in why,
          "status --json redis_warning: %r" % why)
    lines = [l for l in err.splitlines() if "maxmemory-policy" in l]
    check(len(lines) == 1 and " warning: " in lines[0] and EVICTS in lines[0],
          "status warns once, at warning level: %r" % err)
    rc, out, err = run2([agg, "-c", conf, "status"], tmp, env={"SGS_NOW": NOW})
    check(rc == 0 and err.count(EVICTS) == 1, "text status warns once too: %s %r" % (rc, err))

    c = console(conf, env={"SGS_NOW": NOW})
    status, live = c.json("/api/v1/live")
    check_eq(status, 200, "/api/v1/live while Redis may evict")
    check(live["redis_warning"] and EVICTS in live["redis_warning"],
          "/api/v1/live redis_warning: %r" % live.get("redis_warning"))
    check(isinstance(live["units"], list) and live["units"], "the figures are still served")
    page = c.get("/")[2].decode("utf-8")
    check('id="redis-banner"' in page and "doc.redis_warning" in page,
          "the console page has the Redis banner, filled from /api/v1/live")
    admin.config_set("maxmemory-policy", "noeviction")
    wait_until(lambda: c.json("/api/v1/live")[1]["redis_warning"] is None, timeout=25,
               what="redis_warning gone once the policy is noeviction (checked every 10 s)")
    c.stop()
    check_eq(c.log().count(EVICTS), 1, "serve logged it once: %s" % c.log()[-800:])


# ---- SIGHUP ------------------------------------------------------------------------

NOW = "2026-12-05"  # 26 days before the end of 2026


def record(n, reported):
    """A penalty decided on Thursday 2026-12-31, reported on `reported`."""
    return json.dumps({
        "kind": "penalty", "unit_id": "410423", "doc_no": "鲁山县罚〔2026〕%d号" % n,
        "decision_date": "2026-12-31", "reported_at": reported,
        "subject": {"name": "某某商贸有限公司", "type": "legal_person",
                    "uscc": "91350100M000100Y43"},
        "authority": {"name": "鲁山县市场监督管理局"},
        "penalty": {"category": ["罚款"], "fine_amount": 0.5}}, ensure_ascii=False)


@pytest.mark.case_timeout(300)
def test_sighup_reload_adds_a_year(tmp, mock_broker, redis_server, console):
    """consumer, serve and watch: a calendar that is not JSON is refused on
    SIGHUP (the old one stays, an error reload counted); 2027 added, the
    warning goes away and a 2027 record gets its deadline from the new
    holidays"""
    cal = os.path.join(tmp, "calendar.json")
    shutil.copy(CAL, cal)
    conf = live_conf(tmp, mock_broker, redis_server, calendar=cal,
                     **{"consumer.batch.max_ms": 10})
    port = free_port()
    consumer = start_consumer(tmp, conf, NOW, port)
    serve = console(conf, env={"SGS_NOW": NOW})
    watch = spawn([build_path("sgs-aggregator"), "-c", conf, "watch"], tmp, name="watch",
                  env={"SGS_NOW": NOW})
    cm = "http://127.0.0.1:%d/metrics" % port
    for name, proc in (("consumer", consumer), ("serve", serve.proc), ("watch", watch)):
        wait_until(lambda: WARNING % 26 in proc.log(), timeout=15, what="%s's warning" % name)
    check_eq(serve.json("/api/v1/live")[1]["calendar"]["days_left"], 26, "before")

    # Decided 2026-12-31 (Thu), reported 2027-01-13: with 2027 unlisted (Monday
    # to Friday) the 7th working day is 01-11, so it is late.
    produce(mock_broker.bootstrap, "sgs.records",
            [("410423", record(1, "2027-01-13T10:00:00+08:00"))])
    wait_until(lambda: redis_counts(redis_server.client())["units"].get("410423", {})
               .get("records") == 1, timeout=30, what="the first record counted")
    check_eq(redis_counts(redis_server.client())["units"]["410423"]["late"], 1,
             "late by Monday-Friday")

    # A calendar that is not JSON: refused, one line naming it; the old one stays.
    with open(cal, "w", encoding="utf-8") as f:
        f.write("{\"years\": [2023,\n")
    for proc in (consumer, serve.proc, watch):
        proc.send_signal(signal.SIGHUP)
    for name, proc in (("consumer", consumer), ("serve", serve.proc), ("watch", watch)):
        wait_until(lambda: "reload refused" in proc.log(), timeout=15,
                   what="%s refusing the reload" % name)
        line = [l for l in proc.log().splitlines() if "reload refused" in l][0]
        check(" error: " in line and "%s: line " % cal in line, "%s: %r" % (name, line))
        check(proc.alive(), "%s still running" % name)
    wait_until(lambda: sample(metrics(cm), "sgs_config_reloads_total", result="error") == 1,
               timeout=10, what="the consumer's error reload counted")
    fams = metrics(serve.url("/metrics"))
    check_eq(sample(fams, "sgs_config_reloads_total", result="error"), 1, "serve: error reload")
    check_eq(sample(fams, "sgs_calendar_last_year"), 2026, "serve: the old calendar stays")
    check_eq(serve.json("/api/v1/live")[1]["calendar"]["days_left"], 26, "still the old one")

    # 2027 added (test holidays: 01-01 and 01-04..08, make-up working Saturday 01-09).
    with open(CAL, encoding="utf-8") as f:
        doc = json.load(f)
    doc["years"].append(2027)
    doc["holidays"] += ["2027-01-01", "2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07",
                        "2027-01-08"]
    doc["workdays"].append("2027-01-09")
    with open(cal, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    for proc in (consumer, serve.proc, watch):
        proc.send_signal(signal.SIGHUP)
    wait_until(lambda: sample(metrics(cm), "sgs_config_reloads_total", result="ok") == 1,
               timeout=15, what="the consumer's reload")
    fams = metrics(cm)
    check_eq(sample(fams, "sgs_calendar_last_year"), 2027, "consumer: last year")
    check_eq(sample(fams, "sgs_calendar_days_left"), 391, "consumer: days left")
    wait_until(lambda: serve.json("/api/v1/live")[1]["calendar"] ==
               {"last_year": 2027, "days_left": 391, "warning": None}, timeout=15,
               what="serve's /api/v1/live without the warning")
    fams = metrics(serve.url("/metrics"))
    check_eq(sample(fams, "sgs_config_reloads_total", result="ok"), 1, "serve: ok reload")
    check_eq(sample(fams, "sgs_calendar_days_left"), 391, "serve: days left")
    wait_until(lambda: "reloaded" in watch.log(), timeout=15, what="watch's reload")

    # The same decision reported the same day: with 2027's holidays the 7th
    # working day is 01-18, so it is on time.
    produce(mock_broker.bootstrap, "sgs.records",
            [("410423", record(2, "2027-01-13T10:00:00+08:00"))])
    wait_until(lambda: redis_counts(redis_server.client())["units"]["410423"]["records"] == 2,
               timeout=30, what="the second record counted")
    check_eq(redis_counts(redis_server.client())["units"]["410423"]["late"], 1,
             "the second record on time by the new holidays")

    for name, proc in (("consumer", consumer), ("serve", serve.proc), ("watch", watch)):
        check_eq(proc.stop(), 0, "%s stops cleanly" % name)
        check_eq(proc.log().count(WARNING % 26), 1, "%s warned once, before the reload" % name)

"""sgs-consumer with metrics.listen: /metrics parsed by prometheus_client's
text parser equals the consumer's own exit summary (and the generator's
expectation); /healthz follows Redis (down from the start, stopped, back) and
the Kafka brokers, which the stats line names too instead of showing a stale
lag of 0."""
import json
import re
import time

import pytest

from sgstest import check, check_eq, free_port, jsonl_messages, wait_until
from sgstest.console import http_request, metrics, sample

MONTH = "2023-11"


def health(port):
    """(status, parsed body) of /healthz, or (None, None) while nothing answers."""
    import json
    try:
        status, _, body = http_request(port, "GET", "/healthz", timeout=3)
    except OSError:
        return None, None
    return status, json.loads(body)


def summary(log):
    """The figures of the last stats line and of the exit summary."""
    stats = [l for l in log.splitlines() if " stats: " in l][-1]
    out = {k: int(v) for k, v in re.findall(
        r"(messages|records|late|invalid|duplicates|rejects|unattributed|malformed) (\d+)",
        stats)}
    out["lag"] = re.search(r"lag (\d+|unknown)", stats).group(1)
    line = [l for l in log.splitlines() if l.startswith("sgs-consumer: counters: ")][-1]
    for k, v in re.findall(r"(batches|fenced|alerts late|alerts late_rate|delivery failures|"
                           r"redis errors) (\d+)", line):
        out[k] = int(v)
    return out


@pytest.mark.case_timeout(300)
def test_metrics_equal_exit_summary(sgs):
    """every counter of /metrics equals the exit summary and the expectation"""
    port = free_port()
    p = sgs("cmet", partitions=4, metrics__listen="127.0.0.1:%d" % port,
            consumer__stats_interval_s=1, consumer__batch__max_messages=500)
    jsonl, expect = p.generate(MONTH, seed=9, records=4000, late_share=0.05, invalid=30,
                               duplicates=40, malformed=6, unknown_unit=4)
    p.produce(jsonl_messages(jsonl))
    cons = p.consumer()
    url = "http://127.0.0.1:%d/metrics" % port

    def settled():
        f = metrics(url)
        return (sample(f, "sgs_consumer_messages_read_total") == expect["messages"]
                and sample(f, "sgs_consumer_outbox_pending") == 0 and f)
    wait_until(settled, timeout=120, interval=0.2, what="every message applied and delivered")
    time.sleep(0.5)
    f = metrics(url)
    check_eq(cons.stop(timeout=60), 0, "consumer exit status")
    s = summary(cons.log())

    def m(name, **labels):
        v = sample(f, name, **labels)
        check(v is not None, "metric %s%s present" % (name, labels or ""))
        return int(v)

    want = {"records": sum(u["records"] for u in expect["units"].values()),
            "late": sum(u["late"] for u in expect["units"].values()),
            "invalid": sum(u["invalid"] for u in expect["units"].values()),
            "duplicates": sum(u["duplicates"] for u in expect["units"].values())}
    for k, v in want.items():
        check_eq(s[k], v, "exit summary %s == expectation" % k)
    check_eq(m("sgs_consumer_messages_read_total"), s["messages"], "messages")
    check_eq(m("sgs_consumer_messages_total", result="counted"), s["records"], "counted")
    check_eq(m("sgs_consumer_messages_total", result="duplicate"), s["duplicates"], "duplicate")
    check_eq(m("sgs_consumer_messages_total", result="invalid"), s["invalid"], "invalid")
    check_eq(m("sgs_consumer_messages_total", result="rejected"), s["rejects"], "rejected")
    check_eq(m("sgs_consumer_messages_total", result="unattributed"), s["unattributed"],
             "unattributed")
    check_eq(m("sgs_consumer_messages_total", result="malformed"), expect["malformed"], "malformed")
    check_eq(s["malformed"], expect["malformed"], "the stats line's malformed")
    check_eq(m("sgs_consumer_messages_total", result="too_old"), 0, "too_old (no horizon)")
    check_eq(s["rejects"], expect["rejects"], "rejects == expectation")
    check_eq(m("sgs_consumer_late_total"), s["late"], "late")
    check_eq(m("sgs_consumer_batches_total"), s["batches"], "batches")
    check(s["batches"] >= 8, "several batches (%d)" % s["batches"])
    check_eq(m("sgs_consumer_batch_seconds_count"), s["batches"],
             "one latency per batch (none fenced)")
    check_eq(m("sgs_consumer_batch_seconds_bucket", le="+Inf"), s["batches"], "+Inf bucket")
    check(sample(f, "sgs_consumer_batch_seconds_sum") > 0, "latency sum")
    check_eq(m("sgs_consumer_fenced_batches_total"), s["fenced"], "fenced")
    check_eq(m("sgs_consumer_alerts_total", type="late"), s["alerts late"], "late alerts")
    check_eq(m("sgs_consumer_alerts_total", type="late_rate"), s["alerts late_rate"],
             "late_rate alerts")
    check_eq(s["alerts late"], expect["late_alerts"], "late alerts == expectation")
    check_eq(m("sgs_consumer_delivery_failures_total"), s["delivery failures"], "failures")
    check_eq(m("sgs_consumer_redis_errors_total"), s["redis errors"], "redis errors")
    lags = [x for fam in f.values() for x in fam.samples if x.name == "sgs_consumer_lag_messages"]
    check_eq(sorted(x.labels["partition"] for x in lags), ["0", "1", "2", "3"],
             "a lag per assigned partition")
    check(all(x.labels["topic"] == p.topic and x.value == 0 for x in lags), "no lag when idle")
    check_eq(s["lag"], "0", "the stats line's lag")
    check_eq(m("sgs_consumer_up"), 1, "up")
    check_eq(m("sgs_consumer_outbox_pending"), 0, "outbox")


@pytest.mark.case_timeout(180)
def test_healthz_follows_redis(sgs):
    """/healthz: 200, 503 naming Redis once it stops, 200 once it is back"""
    port = free_port()
    p = sgs("chz", partitions=2, metrics__listen="127.0.0.1:%d" % port)
    cons = p.consumer()
    wait_until(lambda: health(port)[0] == 200, timeout=30, what="healthy")
    check_eq(health(port)[1], {"status": "ok"}, "ok body")
    p.redis.kill()
    t0 = time.monotonic()
    wait_until(lambda: health(port)[0] == 503, timeout=10, what="503 with Redis stopped")
    status, body = health(port)
    print("# figures: /healthz 503 %.1f s after Redis stopped" % (time.monotonic() - t0))
    check(body["error"].startswith("redis: ") and body["status"] == "unavailable",
          "the reason: %s" % body)
    p.redis.restart()
    wait_until(lambda: health(port)[0] == 200, timeout=15, what="200 with Redis back")
    check_eq(cons.stop(timeout=30), 0, "exit status")
    log = cons.log()
    check_eq(log.count("redis unavailable"), 1, "outage logged once")
    check_eq(log.count("redis available again"), 1, "recovery logged once")


@pytest.mark.case_timeout(180)
def test_redis_down_from_the_start(sgs):
    """a consumer started while Redis is down says so at once (stats line,
    log, /healthz), before it has any partition"""
    port = free_port()
    p = sgs("crs", partitions=2, metrics__listen="127.0.0.1:%d" % port,
            consumer__stats_interval_s=1)
    p.redis.kill()
    cons = p.consumer()
    wait_until(lambda: "redis unavailable" in cons.log(), timeout=10,
               what="the outage logged without a partition")
    wait_until(lambda: health(port)[0] == 503, timeout=10, what="503")
    check("redis: " in health(port)[1]["error"], "names Redis")
    wait_until(lambda: ", redis down" in cons.log(), timeout=10, what="the stats line says so")
    p.redis.restart()
    wait_until(lambda: health(port)[0] == 200, timeout=20, what="200 once Redis is up")
    check("redis available again" in cons.log(), "the recovery logged")
    check_eq(cons.stop(timeout=30), 0, "exit status")


@pytest.mark.case_timeout(180)
def test_brokers_down(sgs, mock_broker):
    """every broker down: the stats line says the lag is unknown (not 0) and
    /healthz says so, still 200 (not a fatal error: 503 is for Redis, a fatal
    Kafka error, lost state); back up: 200 without it"""
    port = free_port()
    p = sgs("cbk", kafka=mock_broker, partitions=2, metrics__listen="127.0.0.1:%d" % port,
            consumer__stats_interval_s=1)
    jsonl, expect = p.generate(MONTH, seed=3, records=200)
    p.produce(jsonl_messages(jsonl))
    cons = p.consumer()
    wait_until(lambda: p.progress() >= expect["messages"], timeout=60, what="consumed")
    wait_until(lambda: health(port)[0] == 200, timeout=30, what="healthy")
    mock_broker.down(1)
    wait_until(lambda: "kafka" in (health(port)[1] or {}), timeout=20,
               what="/healthz saying the broker is down")
    status, body = health(port)
    check_eq(status, 200, "/healthz status with the broker down")
    check_eq(body["status"], "ok", "status field")
    check(body["kafka"].startswith("no broker reachable since "), "names Kafka: %r" % body)
    n = len(cons.log().splitlines())
    wait_until(lambda: any("lag unknown (no broker reachable)" in l and "kafka down" in l
                           for l in cons.log().splitlines()[n:]), timeout=10,
               what="the stats line saying the lag is unknown")
    f = metrics("http://127.0.0.1:%d/metrics" % port)
    check_eq(sample(f, "sgs_consumer_kafka_brokers_up"), 0, "no broker up")
    check_eq(sample(f, "sgs_consumer_lag_messages", partition="0"), None, "no stale lag")
    mock_broker.up(1)
    wait_until(lambda: health(port) == (200, {"status": "ok"}), timeout=30,
               what="200 without a word on Kafka with the broker back")
    check("reachable again" in cons.log(), "the recovery logged")
    check_eq(cons.stop(timeout=30), 0, "exit status")


def gap_record(n):
    return json.dumps({
        "kind": "penalty", "unit_id": "410423", "doc_no": "鲁山县罚〔2023〕%d号" % n,
        "decision_date": "2023-12-01", "reported_at": "2023-12-05T09:00:00+08:00",
        "subject": {"name": "某某商贸有限公司", "type": "legal_person",
                    "uscc": "91350100M000100Y43"},
        "authority": {"name": "鲁山县市场监督管理局"},
        "penalty": {"category": ["罚款"], "fine_amount": 0.5}}, ensure_ascii=False)


@pytest.mark.case_timeout(180)
def test_forward_gap_counted(sgs):
    """forwarded copies read ahead of a missing one (sequences 5 and 6 where 0
    is expected): not applied, one warning, sgs_consumer_forward_gaps_total 2"""
    from confluent_kafka import Producer
    port = free_port()
    p = sgs("cgap", partitions=2, metrics__listen="127.0.0.1:%d" % port)
    p.produce([("410423", gap_record(1))])
    cons = p.consumer()
    wait_until(lambda: p.progress() >= 1, timeout=60, what="the first record applied")
    route = p.client().get(p.prefix + ":route")
    check(route is not None, "the route is in Redis")
    epoch = route.split()[2]
    pr = Producer({"bootstrap.servers": p.broker.bootstrap})
    for seq in (5, 6):
        pr.produce(p.topic, key="410423", value=gap_record(100 + seq).encode(), partition=0,
                   headers=[("sgs-fwd", "%s:1:%d:%d" % (epoch, 1000 + seq, seq))])
    check_eq(pr.flush(30), 0, "copies delivered")
    url = "http://127.0.0.1:%d/metrics" % port
    wait_until(lambda: sample(metrics(url), "sgs_consumer_forward_gaps_total") == 2, timeout=60,
               what="two gaps counted")
    check_eq(cons.stop(timeout=30), 0, "exit status")
    warned = [l for l in cons.log().splitlines() if "has sequence 5, expected 0" in l]
    check_eq(len(warned), 1, "one warning for the missing copy")
    check(not any("has sequence 6" in l for l in cons.log().splitlines()),
          "no warning per copy after it")
    check_eq(p.counts("2023-12")["units"]["410423"]["records"], 1, "the copies are not counted")

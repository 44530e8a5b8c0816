"""sgs-consumer against real servers: exact counters for a generated month, kill -9
restarts, a consumer group changing mid-stream, a Redis outage, hostile input.

ctest runs this file three times: against the session's broker (the real one),
with SGS_KAFKA=mock for the generated month and the hostile input
(-k "generated_month or hostile"), and the generated month with sgs-consumer
under valgrind (SGSTEST_CONSUMER_WRAPPER, -k generated_month).

Each test's `sgs(tag, ...)` makes the topics <tag>.records (8 partitions),
.alerts, .rejects, .snapshots on the session's broker with retention.ms=-1
(generated months are in the past: keep them whatever their timestamps say), a
fresh redis-server, and a configuration with group and topics named by the tag."""

import json
import random
import time

import pytest

from confluent_kafka import Producer

from sgstest import (alerts_and_rejects, check, check_eq, consume_all, consumer_cmd, free_port,
                     jsonl_messages, produce, redis_counts, spawn, stored_offsets, wait_until)
from sgstest.console import http_request

MONTH = "2023-12"


def check_alerts_rejects(broker, tag, expect):
    types, rejects, n_alerts, n_rejects = alerts_and_rejects(consume_all, broker.bootstrap, tag)
    check_eq(len(types.get("late", ())), expect["late_alerts"], "distinct late alerts")
    check_eq(len(rejects), expect["rejects"], "distinct rejects")
    for rj in rejects.values():
        check(rj["reasons"] and all(x["code"] for x in rj["reasons"]), "reject without reason")
        check(rj["source"]["topic"] == tag + ".records", "reject source topic")
    return types, rejects


def test_generated_month_exact(sgs):
    """A generated month gives exact counters, one alert per late record, one
    reject per bad message; a second run finds nothing new."""
    m1 = sgs("m1")
    broker = m1.broker
    _, expect = m1.generate(MONTH, produce=True, seed=11, records=6000,
                            late_share=0.05, invalid=120, duplicates=80, malformed=25,
                            unknown_unit=15, gaps=10, format="mixed")
    p = m1.run_consumer(idle=3)
    m1.check_counts(expect)
    check_alerts_rejects(broker, "m1", expect)
    summary = [l for l in p.log().splitlines() if l.startswith("sgs-consumer: processed ")][0]
    check(summary.startswith("sgs-consumer: processed %d messages in " % expect["messages"]),
          "summary: " + summary)
    # A second run finds nothing new: Redis offsets are the truth.
    m1.run_consumer(idle=2, name="again")
    m1.check_counts(expect, what="after a rerun: ")


def test_assignment_fetches_at_once(sgs):
    """A fresh group's partitions start at their beginning: the offset lookups
    the assignment sends are used, not made outdated by a resume of partitions
    that were never paused (librdkafka 2.0.2 then asks again 500 ms later,
    and the partitions' first fetches straggled), and the producer knows its
    topics from the start. Counts exact."""
    p = sgs("fa")
    _, expect = p.generate(MONTH, produce=True, seed=12, records=800, late_share=0.05,
                           invalid=10, duplicates=5, malformed=2, unknown_unit=2)
    cons = p.run_consumer(idle=2, extra=["kafka.debug=topic", "log.level=debug"])
    log = cons.log()
    p.check_counts(expect)
    replies = log.count("Offset reply for topic fa.records")
    check(replies >= 8, "an offset lookup answered for each of the 8 partitions (%d)" % replies)
    outdated = [l for l in log.splitlines() if "outdated offset response" in l]
    check_eq(outdated, [], "offset lookups made outdated at the assignment")
    # the producer knows the alerts and rejects topics before any message
    # (else their first second of items waits for librdkafka's metadata round)
    lines = log.splitlines()
    first_assign = min(i for i, l in enumerate(lines) if "assigned fa.records [" in l)
    for t in ("fa.alerts", "fa.rejects"):
        known = [i for i, l in enumerate(lines)
                 if "librdkafka producer" in l and "New local topic: " + t in l]
        check(known and known[0] < first_assign,
              "the producer made %s known before the assignment" % t)


def test_kill9_five_times(sgs, tmp):
    """kill -9 five times while working through 50,000 records: counters exact."""
    k1 = sgs("k1", consumer__batch__max_messages=200)
    broker, r, conf = k1.broker, k1.redis, k1.conf
    jsonl, expect = k1.generate(MONTH, seed=12, records=50000,
                                late_share=0.03, invalid=300, duplicates=500, malformed=50,
                                unknown_unit=50)
    msgs = jsonl_messages(jsonl)
    total = expect["messages"]
    check_eq(len(msgs), total, "generated messages")
    # the last seventh is produced after the kills: however fast the consumer
    # runs, the fifth kill finds work left
    held = total // 7
    produce(broker.bootstrap, "k1.records", msgs[:total - held])
    rnd = random.Random(1234)
    c = r.client()
    kills = 0
    for i in range(5):
        target = (total - held) * (i + rnd.random()) / 6.0
        p = spawn(consumer_cmd(conf), tmp, name="victim%d" % i)
        # polled every millisecond: the consumer writes ~200 messages per ms
        wait_until(lambda: stored_offsets(c, topic="k1.records") >= target or not p.alive(),
                   timeout=120, interval=0.001, what="progress past %d" % target)
        if p.alive():
            p.kill()
            kills += 1
        p.wait(10)
    check(kills == 5, "5 kills landed mid-stream (got %d)" % kills)
    check(stored_offsets(c, topic="k1.records") < total, "work left after the kills")
    produce(broker.bootstrap, "k1.records", msgs[total - held:])
    k1.run_consumer(idle=3, timeout=300)
    k1.check_counts(expect)
    check_alerts_rejects(broker, "k1", expect)
    print("# kills: %d, messages: %d" % (kills, total))


def test_group_join_and_leave(sgs, tmp):
    """Two consumers in one group, one joins mid-stream and one leaves: exact."""
    g1 = sgs("g1", partitions=8, consumer__batch__max_messages=100)
    broker, r, conf = g1.broker, g1.redis, g1.conf
    jsonl, expect = g1.generate(MONTH, seed=13, records=30000, late_share=0.04,
                                invalid=100, duplicates=200, malformed=20, unknown_unit=20)
    msgs = jsonl_messages(jsonl)
    n = len(msgs)
    c = r.client()
    produce(broker.bootstrap, "g1.records", msgs[: n // 3])
    a = spawn(consumer_cmd(conf), tmp, name="a")
    wait_until(lambda: stored_offsets(c, topic="g1.records") > 0, timeout=60, what="a started")
    b = spawn(consumer_cmd(conf, idle=6), tmp, name="b")  # joins mid-stream
    produce(broker.bootstrap, "g1.records", msgs[n // 3: 2 * n // 3])
    wait_until(lambda: "assigned" in b.log(), timeout=60, what="b assigned")
    a.stop(timeout=30)  # leaves the group (SIGTERM: finish batch, close)
    check_eq(a.returncode, 0, "consumer a exit status")
    produce(broker.bootstrap, "g1.records", msgs[2 * n // 3:])
    check_eq(b.wait(180), 0, "consumer b exit status")
    g1.check_counts(expect)
    check_alerts_rejects(broker, "g1", expect)


def test_redis_outage_aof(sgs, tmp):
    """Redis stopped for 5 s mid-stream and started again from its AOF: exact."""
    # (deadline of a Redis call well under the outage, so that it is logged:
    # tests/fault/test_redis_outage.py)
    r1 = sgs("r1", aof=True, consumer__batch__max_messages=200, redis__timeout_ms=2000)
    broker, r, conf = r1.broker, r1.redis, r1.conf
    jsonl, expect = r1.generate(MONTH, seed=14, records=20000, late_share=0.03,
                                invalid=60, duplicates=100, malformed=10, unknown_unit=10)
    msgs = jsonl_messages(jsonl)
    half = len(msgs) // 2
    produce(broker.bootstrap, "r1.records", msgs[:half])
    p = spawn(consumer_cmd(conf, idle=8), tmp, name="consumer")
    c = r.client()
    wait_until(lambda: stored_offsets(c, topic="r1.records") > 0, timeout=60, what="progress")
    r.kill()
    produce(broker.bootstrap, "r1.records", msgs[half:])
    time.sleep(5)
    r.restart()
    check_eq(p.wait(240), 0, "consumer exit status")
    log = p.log()
    check("redis unavailable" in log, "the outage was logged")
    check("redis available again" in log, "the recovery was logged")
    r1.check_counts(expect)
    check_alerts_rejects(broker, "r1", expect)


def hostile_messages(rnd):
    """(description, bytes) pairs that are each one bad message."""
    good = {"kind": "penalty", "unit_id": "410423", "doc_no": "鲁山县罚〔2023〕1号",
            "decision_date": "2023-12-01", "reported_at": "2023-12-04T09:00:00+08:00",
            "subject": {"name": "某某", "type": "legal_person", "uscc": "91350100M000100Y43"},
            "authority": {"name": "鲁山县市场监督管理局"},
            "penalty": {"category": ["罚款"], "fine_amount": 1}}
    out = [
        ("not json", b"this is not json"),
        ("invalid utf-8", b'{"kind": "\xff\xfe"}'),
        ("truncated", json.dumps(good).encode()[:40]),
        ("deep nesting", b"[" * 10000 + b"]" * 10000),
        ("json array", b"[1,2,3]"),
        ("nul byte", b'{"kind":"license\x00"}'),
        ("escaped nul", b'{"kind":"license","unit_id":"410423","doc_no":"a\\u0000b"}'),
        ("lone surrogate", b'{"unit_id":"410423","kind":"\\ud800"}'),
        ("duplicate keys", b'{"unit_id":"410423","unit_id":"410421"}'),
        ("400 digits", b'{"unit_id":"410423","kind":"penalty","doc_no":' + b"9" * 400 + b"}"),
        ("1 MB string", json.dumps(dict(good, doc_no="罚" * 350000)).encode()),
        ("empty", b""),
        ("random bytes", bytes(rnd.getrandbits(8) for _ in range(300))),
    ]
    for field in ("kind", "doc_no", "decision_date", "reported_at", "subject", "authority",
                  "penalty", "unit_id"):
        for bad in (12, ["x"], {"a": 1}, True, "", None):
            if (field, bad) in (("reported_at", None), ("penalty", {"a": 1})):
                continue  # legitimate: no reported_at means the Kafka timestamp; any penalty object
            doc = dict(good, doc_no="鲁山县罚〔2023〕%d号" % (1000 + len(out)))
            doc[field] = bad
            out.append(("%s=%r" % (field, bad), json.dumps(doc, ensure_ascii=False).encode()))
    return out


def test_hostile_messages(sgs):
    """Hostile messages mixed into a good stream: each rejected with a reason,
    good counts exact."""
    h1 = sgs("h1")
    broker, r = h1.broker, h1.redis
    jsonl, expect = h1.generate(MONTH, seed=15, records=3000, late_share=0.03)
    good = jsonl_messages(jsonl)
    rnd = random.Random(99)
    bad = hostile_messages(rnd)
    mixed = list(good)
    for desc, value in bad:
        mixed.insert(rnd.randrange(len(mixed) + 1), ("410423", value, None))
    produce(broker.bootstrap, "h1.records", mixed, conf={"message.max.bytes": 4000000})
    h1.run_consumer(idle=3)
    c = r.client()
    # the good records are exact; the hostile ones are all accounted for
    got = redis_counts(c, topic="h1.records", month=MONTH)
    for unit, want in expect["units"].items():
        have = got["units"].get(unit, {})
        if unit == "410423":
            continue  # hostile messages are keyed to this unit and some count as invalid records
        for f in ("records", "late", "licenses", "penalties"):
            check_eq(have.get(f, 0), want[f], "%s %s" % (unit, f))
    _, rejects, _, _ = alerts_and_rejects(consume_all, broker.bootstrap, "h1")
    check_eq(len(rejects), len(bad) + expect["rejects"], "rejects (one per hostile message)")
    for rj in rejects.values():
        check(len(rj["reasons"]) >= 1, "reason present")
        if "payload_encoding" in rj:
            check(rj["payload_encoding"] == "base64", "payload encoding")
    # every message is counted somewhere: records + duplicates + updates + revoked +
    # revokes of nothing + too old + unattributed + malformed == messages
    everything = redis_counts(c, topic="h1.records")
    n_counted = sum(u["records"] + u["duplicates"] + u["updates"] + u["revoked"] +
                    u["unknown_record"] + u["too_old"] for u in everything["units"].values())
    n_counted += everything["unattributed"] + everything["malformed"]
    check_eq(n_counted, len(mixed), "every message counted once")


def test_big_batch_odd_doc_numbers(sgs):
    """5,000 decisions of one unit whose document numbers have no usual shape
    (each its own identity field in one key), read in one batch: the batch
    script writes 10,000 values to that key, in pieces Redis's Lua can unpack;
    counted exactly, in a handful of batches."""
    b1 = sgs("b1", consumer__batch__max_ms=5000)
    n = 5000
    msgs = []
    for i in range(n):
        rec = json.loads(record(i + 1, 5))
        rec["doc_no"] = "LSX-CF-2023-%05d" % (i + 1)
        msgs.append(("410423", json.dumps(rec, ensure_ascii=False), None))
    produce(b1.broker.bootstrap, "b1.records", msgs)
    p = b1.run_consumer(idle=3)
    check("too many results" not in p.log(), "a script error in the log")
    c = b1.redis.client()
    got = redis_counts(c, topic="b1.records", month=MONTH)["units"].get("410423", {})
    check_eq(got.get("records", 0), n, "records")
    check_eq(got.get("duplicates", 0), 0, "duplicates")
    check_eq(stored_offsets(c, topic="b1.records"), n, "stored offsets")
    idkeys = [k for k in c.keys("sgs:{b1.records:*}:x:2023")]
    check_eq(len(idkeys), 1, "one identity key of 2023")
    check_eq(c.hlen(idkeys[0]), n, "an identity field per decision")
    batches = c.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    check(batches <= 5, "%d batch scripts for 5,000 messages: the test wants big batches"
          % batches)


def record(n, reported_day, late_unit="410423"):
    return json.dumps({
        "kind": "penalty", "unit_id": late_unit, "doc_no": "鲁山县罚〔2023〕%d号" % n,
        "decision_date": "2023-12-01", "reported_at": "2023-12-%02dT09:00:00+08:00" % reported_day,
        "subject": {"name": "某某商贸有限公司", "type": "legal_person",
                    "uscc": "91350100M000100Y43"},
        "authority": {"name": "鲁山县市场监督管理局"},
        "penalty": {"category": ["罚款"], "fine_amount": 0.5}}, ensure_ascii=False)


def test_late_rate_alerts(sgs):
    """late_rate alerts fire once per upward crossing of the threshold, also on
    the Redis channel."""
    lrp = sgs("lr")
    broker, r = lrp.broker, lrp.redis
    c = r.client()
    pubsub = c.pubsub()
    pubsub.subscribe("sgs:alerts")
    n = [0]

    def phase(on_time, late):
        msgs = []
        for _ in range(on_time):
            n[0] += 1
            msgs.append(("410423", record(n[0], 4), None))
        for _ in range(late):
            n[0] += 1
            msgs.append(("410423", record(n[0], 20), None))  # deadline 2023-12-12
        produce(broker.bootstrap, "lr.records", msgs)
        lrp.run_consumer(idle=2, name="phase%d" % n[0])

    phase(9, 1)     # 1 late of 10: 10.00% reaches the 10% threshold -> alert
    phase(0, 5)     # still above: no new alert
    phase(100, 0)   # 6 of 115: below again -> re-armed
    phase(0, 20)    # 26 of 135 -> second alert
    alerts = [m.json() for m in consume_all(broker.bootstrap, "lr.alerts")]
    lr = [a for a in alerts if a["type"] == "late_rate"]
    late = {a["id"] for a in alerts if a["type"] == "late"}
    check_eq(len(late), 26, "distinct late alerts")
    check_eq(len({a["id"] for a in lr}), 2, "distinct late_rate alerts")
    first, second = sorted({a["id"]: a for a in lr}.values(), key=lambda a: a["records"])
    check_eq((first["unit_id"], first["unit_name"], first["window_days"], first["records"],
              first["late"], first["late_rate"], first["threshold"]),
             ("410423", "鲁山县", 30, 10, 1, 10.0, 10.0), "first late_rate alert")
    check_eq((second["records"], second["late"], second["late_rate"]), (135, 26, 19.26),
             "second late_rate alert")
    published = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(published) < 28:
        m = pubsub.get_message(timeout=0.5)
        if m and m["type"] == "message":
            published.append(json.loads(m["data"]))
    check_eq(sorted(a["id"] for a in published), sorted(late | {a["id"] for a in lr}),
             "alerts published on sgs:alerts")
    # a threshold with two decimals is said as configured (it was printed
    # with one: 12.2)
    lr2 = sgs("lr2", alert__late_rate_threshold=12.25)
    lr2.produce([("410423", record(i, 20 if i > 8 else 4), None) for i in range(1, 11)])
    lr2.run_consumer(idle=2)
    lr = [m.json() for m in consume_all(broker.bootstrap, "lr2.alerts")]
    lr = [a for a in lr if a["type"] == "late_rate"]
    check_eq([(a["late"], a["records"], a["late_rate"], a["threshold"]) for a in lr],
             [(2, 10, 20.0, 12.25)], "late_rate alert at 12.25")


def test_alerts_go_in_rounds(sgs):
    """The outbox gathers alerts and rejects for 50 ms and produces them
    together (outbox.c, ROUND_MS): records that come every 25 ms give alerts
    in rounds at least 50 ms apart, each round produced at once; every late
    record's alert is there, and none waited long."""
    rp = sgs("ar", consumer__batch__max_ms=5)
    p = rp.consumer()
    wait_until(lambda: "assigned" in p.log(), timeout=30, what="the consumer's assignment")
    prod = Producer({"bootstrap.servers": rp.broker.bootstrap, "linger.ms": 0, "log_level": 3})
    n = 0
    for _ in range(48):  # 48 bursts of 10 late records, one every 25 ms
        for _ in range(10):
            n += 1
            prod.produce("ar.records", key="410423", value=record(n, 20))
        prod.flush(10)
        time.sleep(0.025)
    wait_until(lambda: rp.progress() >= n, timeout=60, what="the records counted")
    sent = {(m.partition, m.offset): m.timestamp for m in consume_all(rp.broker.bootstrap,
                                                                      "ar.records")}

    def every_late_alert():
        a = consume_all(rp.broker.bootstrap, "ar.alerts")
        return a if len({m.json()["id"] for m in a if m.json()["type"] == "late"}) >= n else None
    alerts = wait_until(every_late_alert, timeout=30, what="every late alert on ar.alerts")
    p.stop()
    late = [m for m in alerts if m.json()["type"] == "late"]
    check_eq(len({m.json()["id"] for m in late}), n, "distinct late alerts")
    for m in late:
        part, off = m.json()["id"].split(":")[-2:]
        waited = m.timestamp - sent[(int(part), int(off))]
        check(waited < 3000, "alert %s produced %d ms after its record" % (m.json()["id"], waited))
    stamps = sorted({m.timestamp for m in alerts})
    rounds = [[stamps[0]]]
    for t in stamps[1:]:
        if t - rounds[-1][-1] <= 15:
            rounds[-1].append(t)
        else:
            rounds.append([t])
    check(len(rounds) >= 5, "alerts over %d ms in %d rounds" % (stamps[-1] - stamps[0],
                                                                 len(rounds)))
    for a, b in zip(rounds, rounds[1:]):
        check(b[0] - a[0] >= 48, "a round of alerts at +%d ms, %d ms after the round before "
              "(%s)" % (b[0] - stamps[0], b[0] - a[0], [(r[0] - stamps[0], len(r)) for r in rounds]))


@pytest.mark.case_timeout(180)
def test_evicting_redis_gets_no_batch(sgs, tmp):
    """a Redis with a maxmemory and a policy that may evict keys (allkeys-lru
    at the start, volatile-lru set while running: identities and day buckets
    carry expiries) gets no batch, and the log and /healthz say why, until
    its policy is noeviction again; then exact"""
    port = free_port()
    ev = sgs("ev", consumer__batch__max_messages=200, metrics__listen="127.0.0.1:%d" % port)
    broker, r, conf = ev.broker, ev.redis, ev.conf
    jsonl, expect = ev.generate(MONTH, seed=15, records=4000, late_share=0.03, invalid=20,
                                duplicates=40, malformed=5)
    msgs = jsonl_messages(jsonl)
    half = len(msgs) // 2
    admin = r.client()
    admin.config_set("maxmemory", "512mb")
    admin.config_set("maxmemory-policy", "allkeys-lru")
    produce(broker.bootstrap, "ev.records", msgs[:half])
    p = spawn(consumer_cmd(conf), tmp, name="consumer")
    wait_until(lambda: "maxmemory-policy is allkeys-lru" in p.log(), timeout=30,
               what="the policy named in the log")
    time.sleep(1.5)
    check_eq(stored_offsets(admin, topic="ev.records"), 0, "messages written while Redis may evict")
    status, _, body = http_request(port, "GET", "/healthz", timeout=3)
    check(status == 503 and "maxmemory-policy is allkeys-lru" in json.loads(body)["error"],
          "/healthz while paused: %s %s" % (status, body))
    admin.config_set("maxmemory-policy", "noeviction")
    wait_until(lambda: stored_offsets(admin, topic="ev.records") >= half, timeout=60,
               what="the first half written once the policy is noeviction")
    admin.config_set("maxmemory-policy", "volatile-lru")
    wait_until(lambda: "maxmemory-policy is volatile-lru" in p.log(), timeout=30,
               what="the policy changed while running noticed")
    at = stored_offsets(admin, topic="ev.records")
    produce(broker.bootstrap, "ev.records", msgs[half:])
    time.sleep(2.0)
    check_eq(stored_offsets(admin, topic="ev.records"), at,
             "messages written while volatile-lru (stored offsets)")
    admin.config_set("maxmemory-policy", "noeviction")
    wait_until(lambda: stored_offsets(admin, topic="ev.records") >= len(msgs), timeout=60,
               what="the rest written once the policy is noeviction again")
    check_eq(p.stop(timeout=30), 0, "consumer exit status")
    log = p.log()
    check_eq(log.count("maxmemory-policy is"), 2, "each pause logged once")
    check_eq(log.count("redis available again"), 2, "each resumption logged once")
    ev.check_counts(expect)

"""Fault scenario 6, alerts after crashes: a month with known late records
(the generator's `late_alerts`, 12 % of the records: late_rate alerts fire
too) streams in at 800 messages a second while sgs-consumer is SIGKILLed 8
times (strace kills at hiredis's read of a script's reply, at its write of a
script, at librdkafka's sendmsg, and from outside 1-2.5 s into a round) and
restarted; a clean run drains the rest.

The batch script stores a batch's alerts in the partition's outbox in the same
atomic step as its counters; the consumer produces them and deletes the outbox
entry only when every delivery report is positive, and a consumer that gets
the partition (or finds its own batch already applied) produces the entry
again. So alerts are at least once, and their ids make repeats harmless:
- every late record's alert id `late:<topic>:<partition>:<offset>` is on the
  alerts topic at least once, and names a real record (same doc_no);
- repeats are counted; every copy of an id is the same JSON; dropping repeats
  by id leaves exactly `late_alerts` late alerts;
- the Redis channel `<prefix>:alerts` (PUBLISHed by the script itself, which
  runs once per batch) carries each late alert exactly once, and the same
  alert ids as the topic.
"""

import json
import os
import random
import time

import pytest

from sgstest import (check, check_eq, consume_all, consumer_cmd, jsonl_messages, run_consumer,
                     spawn, wait_until)
from sgstest.fault import (MONTH, RESEND_LINE, AlertChannel, SteadyFeeder, classify_kill,
                           died_by_signal, finish, have_strace, kills_text, progress, seed,
                           strace_cmd)

TAG = "alr"
SEED = seed(20231206)
RECORDS = 30000
BATCH = 100


def stream_rounds(tmp, r, conf, kinds, rnd, feeder, extra):
    """Kills a consumer once per entry of `kinds` while `feeder` streams the
    month in (see faultkit.crash_rounds for the kinds); each round runs a
    fresh consumer. Plain kills come 1.0-2.5 s after the round's first batch
    (a new consumer's first alerts reach Kafka about 0.8 s after its first
    batch: the idempotent producer starts up first); strace's K is drawn so
    that it fires within about 3 s. A kill lands when
    the process died by SIGKILL (strace's, not a fallback kill from outside)
    while records were still arriving."""
    c = r.client()
    quiet = "log.level=warning"
    at_assign = 3 + 5 * 8
    landed = rounds = missed = resent = 0
    points, by_kind = {}, {}
    pending = list(kinds)
    while pending:
        check(rounds < 3 * len(kinds) + 5, "too many rounds (%d) for %d kills" % (rounds, landed))
        check(not feeder.done.is_set(), "the month was fed before %d kills landed" % len(kinds))
        kind = pending[0]
        base = progress(c, TAG)
        cmd = consumer_cmd(conf, extra=extra)
        k = trace = None
        if kind != "plain":
            k = {"sendto": at_assign + rnd.randint(20, 60),
                 "read": 26 + at_assign + rnd.randint(20, 60),
                 "sendmsg": rnd.randint(8, 30)}[kind]
            trace = os.path.join(tmp, "trace-%d.txt" % rounds)
            cmd = strace_cmd(consumer_cmd(conf, extra=extra + [quiet]), kind, k, trace)
        p = spawn(cmd, tmp, name="round%02d-%s" % (rounds, kind))
        rounds += 1
        wait_until(lambda: progress(c, TAG) > base or not p.alive(), timeout=60,
                   what="round %d: first batch" % rounds)
        fallback = False
        if kind == "plain":
            time.sleep(rnd.uniform(1.0, 2.5))
            p.kill()
        else:
            try:
                wait_until(lambda: not p.alive(), timeout=10, what="strace's kill")
            except TimeoutError:
                fallback = True
                p.kill()
        rc = p.wait(10)
        resent += p.log().count(RESEND_LINE)
        mid = died_by_signal(rc) and not fallback and not feeder.done.is_set()
        point = "outside: random moment" if kind == "plain" else None
        if mid and kind != "plain":
            point = classify_kill(trace, kind, k, r.port)
            mid = point is not None
        if mid:
            landed += 1
            pending.pop(0)
            points[point] = points.get(point, 0) + 1
            by_kind[kind] = by_kind.get(kind, 0) + 1
        else:
            missed += 1
        print("# round %d (%s%s): rc %s, written %d -> %d, fed %d: %s"
              % (rounds, kind, "" if k is None else " K=%d" % k, rc, base, progress(c, TAG),
                 feeder.sent, (point or "-") + ("" if mid else " (did not land)")))
    return {"kills": landed, "rounds": rounds, "kill_points": points, "kills_by_kind": by_kind,
            "missed_rounds": missed, "outbox_resends": resent}


@pytest.mark.figures("alerts")
@pytest.mark.case_timeout(300)
def test_alerts_after_crashes(sgs, apache_kafka, tmp, figures):
    """alerts after 8 SIGKILLs: every late record alerted, repeats dropped by id,
    the Redis channel carries each once"""
    res = figures
    rnd = random.Random(SEED)
    res["seed"] = SEED
    pl = sgs(TAG, kafka=apache_kafka, partitions=8, consumer__batch__max_messages=BATCH)
    broker, r, conf = pl.broker, pl.redis, pl.conf
    inst = "kafka.group.instance.id=%s-1" % TAG
    jsonl, expect = pl.generate(MONTH, seed=SEED % 100000, records=RECORDS,
                                late_share=0.12, invalid=100, duplicates=300, malformed=10,
                                unknown_unit=10, format="mixed")
    msgs = jsonl_messages(jsonl)
    res["records"] = RECORDS
    res["messages"] = len(msgs)
    # above the 10 % late-rate threshold: late_rate alerts too
    check(expect["late_alerts"] > 3000, "a month with many late records")
    channel = AlertChannel(r)

    # the month streams in at 800 messages a second (~38 s: eight rounds of a
    # consumer start, five of them under strace, take ~20 s here and more on a
    # loaded machine) while the consumer is killed and restarted: alerts are
    # produced, delivered and killed in between, so repeats happen
    feeder = SteadyFeeder(broker.bootstrap, TAG + ".records", msgs, rate=800)
    kinds = ["read"] * 2 + ["sendto"] * 1 + ["sendmsg"] * 2 + ["plain"] * 3
    if not have_strace():
        print("SKIPPED: strace not installed: all kills from outside")
        kinds = ["plain"] * len(kinds)
    rnd.shuffle(kinds)
    kf = stream_rounds(tmp, r, conf, kinds, rnd, feeder, [inst])
    res.data.update(kf)
    check_eq(kf["kills"], len(kinds), "kills landed mid-stream")
    feeder.join()
    drain = run_consumer(tmp, conf, idle=3, timeout=300, extra=[inst], name="drain")
    res["outbox_resends"] += drain.log().count(RESEND_LINE)
    time.sleep(0.5)
    published = channel.stop()
    check_eq(channel.reconnects, 0, "the channel watcher stayed connected")
    figures = finish(tmp, conf, expect, r, broker, TAG)
    res.data.update(figures)

    # --- the alerts topic: at least once, repeats identical, ids name real records
    records = {(m.partition, m.offset): m for m in consume_all(broker.bootstrap, TAG + ".records",
                                                               timeout=60)}
    copies = {}
    for m in consume_all(broker.bootstrap, TAG + ".alerts", timeout=30):
        a = json.loads(m.value)
        copies.setdefault(a["id"], []).append(m.value)
    late = {i: v for i, v in copies.items() if i.startswith("late:")}
    bad = []
    for i, vs in late.items():
        if any(v != vs[0] for v in vs):
            bad.append("%s: copies differ" % i)
        _, topic, part, off = i.split(":")
        m = records.get((int(part), int(off)))
        if topic != TAG + ".records" or m is None:
            bad.append("%s names no record" % i)
            continue
        a = json.loads(vs[0])
        try:
            rec = json.loads(m.value)
        except ValueError:
            rec = {}
        if not isinstance(rec, dict):
            rec = {}
        docs = {rec.get(k) for k in ("doc_no", "XK_WSH", "CF_WSH")}
        if a["doc_no"] not in docs:
            bad.append("%s: doc_no %r not the record's %r" % (i, a["doc_no"], docs - {None}))
    for i, vs in copies.items():
        if any(v != vs[0] for v in vs):
            bad.append("%s: copies differ" % i)
    if bad:
        raise AssertionError("%d problem(s): %s" % (len(bad), "; ".join(sorted(set(bad))[:10])))
    late_msgs = sum(len(v) for v in late.values())
    check_eq(len(late), expect["late_alerts"], "late alerts after dropping repeats by id")

    # --- the Redis channel: each late alert exactly once, same ids as the topic
    ch_late = [a["id"] for a in published if a.get("type") == "late"]
    check_eq(len(set(ch_late)), expect["late_alerts"], "distinct late alerts on the channel")
    check_eq(len(ch_late), expect["late_alerts"], "late alerts on the channel (each once)")
    check(set(ch_late) == set(late), "the channel and the topic carry the same late alert ids")
    ch_other = {a["id"] for a in published if a.get("type") != "late"}
    check(ch_other == set(copies) - set(late),
          "the channel and the topic carry the same late_rate alerts (%d vs %d)"
          % (len(ch_other), len(set(copies) - set(late))))

    res["late_alert_messages"] = late_msgs
    res["late_alert_repeats"] = late_msgs - len(late)
    res["late_rate_alerts"] = len(ch_other)
    res["channel_late_alerts"] = len(ch_late)
    res["alert_repeats"] = figures["alert_repeats"]
    res["faults"] = "%d SIGKILLs: %s" % (kf["kills"], kills_text(kf["kills_by_kind"]))


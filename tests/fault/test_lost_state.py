"""Fault scenario 8, lost partition state (issue 11, point 2): Redis loses
what it held of a partition while Kafka still holds the partition's messages
(a FLUSHALL, a deleted offset key; between runs and while the consumer
runs). The consumer never counts on from Kafka's committed offset or from
anywhere else: it stops with exit status 1 and one line naming the
partition and `sgs-consumer -c FILE --rebuild`. The rebuild deletes every
key of the topic's partitions (not the snapshots, not the spot-check
findings), counts the topic again from its beginning and exits when done;
meanwhile `sgs-aggregator snapshot` and `spot-check` refuse with one line.
Every counter is exact after the rebuild.

test_late_rate_id_after_replay (issue 11, point 8): a late_rate crossing is
counted again after Redis is restored from an RDB copy taken before it (in
other batches than the first time), and after --rebuild: its alert keeps its
id, late_rate:<topic>:<unit>:<n> (the n-th upward crossing of the unit), so
receivers drop the repeats. f898b6f named it after the batch that crossed
(late_rate:<topic>:<partition>:<batch end offset>:<unit>): another batching,
another id.

Before this work (f898b6f) a partition without a stored offset was consumed
from Kafka's committed offset (or from the beginning, counting on top of
what Redis still held) without a word: the counts after such a loss were
short, or doubled.
"""

import json
import os
import shutil
import signal
import time

import pytest

from sgstest import (build_path, check, check_eq, consume_all, consumer_cmd, jsonl_messages, run,
                     spawn, wait_until)
from sgstest.fault import MONTH, SteadyFeeder, counted_messages, finish, progress, seed

SEED = seed(20231208)
GEN = dict(records=3000, late_share=0.04, invalid=30, duplicates=60, malformed=10,
           unknown_unit=10)


def check_refused(proc, topic, partition=None, timeout=120):
    """The consumer stopped with exit status 1 and said once, as its last
    word, which partition lost its state and how to rebuild. Returns the
    partition named."""
    rc = proc.wait(timeout)
    log = proc.log()
    check_eq(rc, 1, "exit status of a consumer that found a partition's state lost "
             "(log: %s)" % proc.tail(8))
    finals = [l for l in log.splitlines() if l.startswith("sgs-consumer: partition ")]
    check_eq(len(finals), 1, "the one exit line naming the partition")
    line = finals[0]
    check("state lost" in line and "sgs-consumer -c FILE --rebuild" in line,
          "the line says what happened and how to rebuild: " + line)
    check(line.startswith("sgs-consumer: partition %s [" % topic), "names the topic: " + line)
    named = int(line.split("[", 1)[1].split("]", 1)[0])
    if partition is not None:
        check_eq(named, partition, "partition named (%s)" % line)
    logged = [l for l in log.splitlines() if "state lost" in l and ": error: " in l]
    check_eq(len(logged), 1, "log lines about the lost state")
    return named, line


def rebuild(p, name="rebuild", timeout=180):
    """sgs-consumer --rebuild to completion (exit 0)."""
    proc = spawn(consumer_cmd(p.conf) + ["--rebuild"], p.tmp, name=name)
    check_eq(proc.wait(timeout), 0, "rebuild exit status (%s)" % proc.tail(5))
    check("rebuild complete" in proc.log(), "the rebuild says it is complete")
    return proc


def aggregator(p, *args, check_rc=True):
    return run([build_path("sgs-aggregator"), "-c", p.conf] + list(args), check=check_rc,
               timeout=60)


@pytest.mark.figures("lost_flushall")
@pytest.mark.case_timeout(240)
def test_flushall(sgs, apache_kafka, tmp, figures):
    """FLUSHALL between runs, then mid-stream: refused naming the partition;
    --rebuild: exact"""
    res = figures
    p = sgs("lsf", kafka=apache_kafka, partitions=8, consumer__batch__max_messages=100)
    c = p.client()
    jsonl, expect = p.generate(MONTH, seed=SEED % 100000, **GEN)
    msgs = jsonl_messages(jsonl)
    half = len(msgs) // 2
    p.produce(msgs[:half])
    p.run_consumer(idle=2, name="first")
    # --- between runs
    c.flushall()
    again = p.consumer(idle=2, name="after-flushall")
    named, line = check_refused(again, p.topic)
    check("Kafka's committed offset" in line, "the evidence is Kafka's commit: " + line)
    check_eq(counted_messages(c, p.tag), 0, "nothing counted after the refusal")
    check_eq(progress(c, p.tag), 0, "no offset stored after the refusal")
    rebuild(p, name="rebuild1")
    check_eq(counted_messages(c, p.tag), half, "messages counted by the rebuild")
    # --- mid-stream: the rest streams in while a consumer runs
    cons = p.consumer(name="running")
    feeder = SteadyFeeder(p.broker.bootstrap, p.topic, msgs[half:-400], rate=1000)
    wait_until(lambda: counted_messages(c, p.tag) >= half + 300, timeout=60, interval=0.01,
               what="the consumer under way")
    c.flushall()
    at = time.monotonic()
    feeder.join()
    p.produce(msgs[-400:])  # more input after the loss, however fast the consumer was
    named2, line2 = check_refused(cons, p.topic)
    res["refused_after_s"] = round(time.monotonic() - at, 2)
    check("vanished" in line2, "mid-stream: the stored offset vanished: " + line2)
    rebuild(p, name="rebuild2")
    p.run_consumer(idle=2, name="after-rebuild")  # nothing new
    p.check_counts(expect)
    res.data.update(finish(tmp, p.conf, expect, p.redis, p.broker, p.tag))
    res["records"] = GEN["records"]
    res["messages"] = len(msgs)
    res["faults"] = ("FLUSHALL between runs (refused: [%d]) and mid-stream (refused: [%d]), "
                     "each followed by --rebuild" % (named, named2))


@pytest.mark.case_timeout(180)
def test_committed_offset_unreadable(sgs, mock_broker):
    """State lost (FLUSHALL) while Kafka's committed offsets cannot be read
    (OffsetFetch errors on the mock): the consumer never takes that as "never
    consumed" (it would count every partition again from its first message);
    it waits, says so once, and once the commits can be read, refuses as for
    any lost state"""
    p = sgs("lsc", kafka=mock_broker, partitions=2)
    c = p.client()
    jsonl, expect = p.generate(MONTH, seed=SEED % 100000, records=300)
    p.produce(jsonl_messages(jsonl))
    p.run_consumer(idle=2, name="first")
    c.flushall()
    mock_broker.push_errors(9, 8, -1)  # OffsetFetch: UNKNOWN_SERVER_ERROR, 8 times
    cons = p.consumer(idle=2, name="after-flushall")
    check_refused(cons, p.topic)
    log = cons.log()
    waited = [l for l in log.splitlines() if "committed offset cannot be read" in l]
    check(len(waited) >= 1, "the wait is said (log: %s)" % cons.tail(12))
    check(len(waited) <= 2, "said once per partition, not per attempt: %d lines" % len(waited))
    check_eq(counted_messages(c, p.tag), 0, "nothing counted")


@pytest.mark.case_timeout(120)
def test_offset_set_by_hand_badly(sgs, mock_broker):
    """An offset set by hand as '0005' (or ' 5', '-1', 'x'): refused with one
    line naming it, never fenced for ever (the fence compares the text the
    batch script writes); '5' is taken as it is"""
    p = sgs("lso", kafka=mock_broker, partitions=1)
    c = p.client()
    jsonl, expect = p.generate(MONTH, seed=SEED % 100000, records=40)
    p.produce(jsonl_messages(jsonl))
    p.run_consumer(idle=1, name="first")
    key = "%s:{%s:0}:offset" % (p.prefix, p.topic)
    for i, bad in enumerate(("0005", " 5", "-1", "x")):
        c.set(key, bad)
        cons = p.consumer(idle=1, name="bad%d" % i)
        named, line = check_refused(cons, p.topic, partition=0, timeout=60)
        check("'%s', not an offset as sgs writes it" % bad in line, "names the value: " + line)
    c.set(key, "5")
    cons = p.consumer(idle=1, name="good")
    check_eq(cons.wait(60), 0, "an offset of plain digits is taken (%s)" % cons.tail(5))
    check("sgs-consumer: processed 35 messages" in cons.log(),
          "read from offset 5 to 40 (%s)" % cons.tail(3))
    check_eq(c.get(key), "40", "stored offset at the end")


@pytest.mark.figures("lost_offset_key")
@pytest.mark.case_timeout(240)
def test_offset_key_deleted(sgs, apache_kafka, tmp, figures):
    """an offset key deleted between runs, then mid-stream: refused naming the
    partition; snapshot and spot-check refuse and watch waits during --rebuild; snapshots and
    spot-check findings survive it; exact"""
    res = figures
    p = sgs("lso", kafka=apache_kafka, partitions=8, consumer__batch__max_messages=100)
    c = p.client()
    jsonl, expect = p.generate(MONTH, seed=SEED % 100000 + 1, **GEN)
    msgs = jsonl_messages(jsonl)
    half = len(msgs) // 2
    p.produce(msgs[:half])
    p.run_consumer(idle=2, name="first")
    # a snapshot and a spot check (3 decisions found, 2 concealed) before the loss
    aggregator(p, "snapshot", "--month", MONTH, "--out", os.path.join(tmp, "snap-before"))
    sample = os.path.join(tmp, "sample.tsv")
    found = []
    for _, v, _ in msgs[:half]:
        try:
            r = json.loads(v)
        except ValueError:
            continue
        if (isinstance(r, dict) and r.get("unit_id") in expect["units"] and
                r.get("kind") in ("license", "penalty") and "〔2023〕" in (r.get("doc_no") or "")):
            found.append((r["unit_id"], r["kind"], r["doc_no"]))
    with open(sample, "w", encoding="utf-8") as f:
        f.write("unit_id\tkind\tdoc_no\n")
        for u, k, d in found[:3]:
            f.write("%s\t%s\t%s\n" % (u, k, d))
        f.write("410423\tpenalty\t鲁山县罚〔2023〕999001号\n")
        f.write("410421\tlicense\t宝丰县许〔2023〕999002号\n")
    aggregator(p, "spot-check", "--month", MONTH, "--sample", sample)
    kept = {k: (c.type(k), c.dump(k)) for k in c.scan_iter(match="sgs:snapshot:*")}
    kept.update({k: (c.type(k), c.dump(k)) for k in c.scan_iter(match="sgs:concealed:*")})
    check(any(":concealed:" in k for k in kept) and any(":snapshot:" in k for k in kept),
          "a snapshot and spot-check findings stored: %s" % sorted(kept))
    check_eq(c.hlen("sgs:concealed:%s" % MONTH), 2, "concealed decisions found")

    # --- between runs: partition 3 loses its offset key only
    okey = "sgs:{%s:3}:offset" % p.topic
    check(c.delete(okey) == 1, "offset key of partition 3 deleted")
    again = p.consumer(idle=2, name="after-del")
    named, line = check_refused(again, p.topic, partition=3)
    check(okey in line, "the line names the key: " + line)

    # --- --rebuild; the aggregator refuses while it runs
    rb = spawn(consumer_cmd(p.conf) + ["--rebuild"], tmp, name="rebuild1")
    wait_until(lambda: c.exists("sgs:rebuild"), timeout=30, interval=0.01,
               what="the rebuild marker")
    rb.send_signal(signal.SIGSTOP)
    watch_dir = os.path.join(tmp, "watch-during")
    try:
        snap = aggregator(p, "snapshot", "--month", MONTH, "--out",
                          os.path.join(tmp, "snap-during"), check_rc=False)
        spot = aggregator(p, "spot-check", "--month", MONTH, "--sample", sample,
                          check_rc=False)
        # watch, on a day the month is due (and already has a version 1):
        # it waits, and writes no version or file from a partial read
        latest = c.get("sgs:snapshot:%s:latest" % MONTH)
        env = dict(os.environ, SGS_NOW="2024-01-15T10:00:00+08:00")
        watch = spawn([build_path("sgs-aggregator"), "-c", p.conf, "-X",
                       "aggregator.watch_interval_s=1", "-X", "report.dir=" + watch_dir,
                       "watch"], tmp, name="watch-during", env=env)
        wait_until(lambda: "--rebuild" in watch.log() or not watch.alive(), timeout=30,
                   interval=0.1, what="watch to meet the rebuild")
        time.sleep(1.5)  # one more cycle
        check(watch.alive(), "watch keeps running during the rebuild: %s" % watch.tail(5))
        check_eq(watch.stop(timeout=20), 0, "watch exit status on SIGTERM")
        check_eq(c.get("sgs:snapshot:%s:latest" % MONTH), latest,
                 "no snapshot version stored by watch during the rebuild")
        check(not os.path.exists(os.path.join(watch_dir, MONTH + ".json")),
              "no report file written by watch during the rebuild")
        res["watch_during_rebuild"] = [l for l in watch.log().splitlines() if "--rebuild" in l][0]
    finally:
        rb.send_signal(signal.SIGCONT)
    for what, r in (("snapshot", snap), ("spot-check", spot)):
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check_eq(r.returncode, 1, "%s exit status during the rebuild (%s)" % (what, r.stderr))
        check(len(lines) == 1 and "rebuilt" in lines[0] and "--rebuild" in lines[0],
              "%s: one line saying a rebuild is running: %r" % (what, lines))
    check(not os.path.exists(os.path.join(tmp, "snap-during", MONTH + ".json")),
          "no snapshot written during the rebuild")
    check_eq(rb.wait(180), 0, "rebuild exit status (%s)" % rb.tail(5))
    check(not c.exists("sgs:rebuild"), "the rebuild marker is gone")
    for k, (t, d) in kept.items():
        check(c.dump(k) == d, "%s (%s) kept by the rebuild" % (k, t))
    check_eq(counted_messages(c, p.tag), half, "messages counted by the rebuild")

    # --- mid-stream: the rest streams in; an offset key is deleted meanwhile
    cons = p.consumer(name="running")
    feeder = SteadyFeeder(p.broker.bootstrap, p.topic, msgs[half:-400], rate=1000)
    wait_until(lambda: counted_messages(c, p.tag) >= half + 300, timeout=60, interval=0.01,
               what="the consumer under way")
    okey = "sgs:{%s:5}:offset" % p.topic
    check(c.delete(okey) == 1, "offset key of partition 5 deleted")
    feeder.join()
    p.produce(msgs[-400:])  # more input after the loss, however fast the consumer was
    named2, line2 = check_refused(cons, p.topic, partition=5)
    rebuild(p, name="rebuild2")
    p.run_consumer(idle=2, name="after-rebuild")
    p.check_counts(expect)
    res.data.update(finish(tmp, p.conf, expect, p.redis, p.broker, p.tag))
    for k, (t, d) in kept.items():
        check(c.dump(k) == d or ":snapshot:" in k, "%s (%s) kept by the rebuilds" % (k, t))
    check_eq(c.hlen("sgs:concealed:%s" % MONTH), 2, "spot-check findings kept")
    res["records"] = GEN["records"]
    res["messages"] = len(msgs)
    res["faults"] = ("offset key of [3] deleted between runs, of [5] mid-stream; each refused, "
                     "then --rebuild; snapshot/spot-check refused and watch waiting during it")


def lr_record(n, reported, decided):
    """A penalty of 410423 decided on `decided`, reported on `reported`."""
    return json.dumps({
        "kind": "penalty", "unit_id": "410423", "doc_no": "鲁山县罚〔2024〕%d号" % n,
        "decision_date": decided, "reported_at": reported + "T09:00:00+08:00",
        "subject": {"name": "某某商贸有限公司", "type": "legal_person",
                    "uscc": "91350100M000100Y43"},
        "authority": {"name": "鲁山县市场监督管理局"},
        "penalty": {"category": ["罚款"], "fine_amount": 0.5}}, ensure_ascii=False)


@pytest.mark.figures("stable_alert_ids")
@pytest.mark.case_timeout(180)
def test_late_rate_id_after_replay(sgs, apache_kafka, tmp, figures):
    """a late_rate crossing keeps its id after Redis is restored from a copy
    taken before it (and counted again in other batches), and after --rebuild"""
    res = figures
    p = sgs("lsi", kafka=apache_kafka, partitions=4)
    c = p.client()
    ontime = [("410423", lr_record(i, "2024-03-20", "2024-03-19"), None) for i in range(1, 21)]
    late = [("410423", lr_record(i, "2024-03-20", "2024-03-01"), None) for i in range(21, 31)]
    p.produce(ontime)
    p.run_consumer(idle=2, name="ontime")
    c.save()  # the copy an operator would restore: before the crossing
    backup = os.path.join(tmp, "before-crossing.rdb")
    shutil.copy(os.path.join(p.redis.dir, "dump.rdb"), backup)
    # 10 late of 30: 33 %, one upward crossing; batches of 3 messages here,
    # of up to 5,000 after the restore
    p.produce(late)
    p.run_consumer(idle=2, name="crossing", extra=["consumer.batch.max_messages=3"])

    def lr_ids():
        return [json.loads(m.value)["id"] for m in consume_all(p.broker.bootstrap,
                                                               p.tag + ".alerts")
                if json.loads(m.value)["type"] == "late_rate"]
    first = lr_ids()
    check_eq(len(first), 1, "the crossing's alert (%s)" % first)
    want = first[0]
    # Redis restored from the copy taken before the crossing
    p.redis.kill()
    shutil.copy(backup, os.path.join(p.redis.dir, "dump.rdb"))
    p.redis.restart()
    c = p.client()
    states = [c.hget(k, "410423") for k in c.scan_iter(match="sgs:{%s:*}:lr" % p.topic)]
    check(all(v is None or int(v) <= 0 for v in states),
          "the crossing is gone from Redis (%s)" % states)
    p.run_consumer(idle=2, name="after-restore")
    after_restore = lr_ids()
    check_eq(sorted(set(after_restore)), [want], "late_rate ids after the restore (%d copies)"
             % len(after_restore))
    # then everything counted again from the topic
    rebuild(p, name="rebuild")
    after_rebuild = lr_ids()
    check_eq(sorted(set(after_rebuild)), [want], "late_rate ids after the restore and the "
             "rebuild (%d copies)" % len(after_rebuild))
    check_eq(want, "late_rate:%s:410423:1" % p.topic, "the id names the unit's first crossing")
    check(len(after_restore) >= 2 and len(after_rebuild) >= 3,
          "the crossing was alerted again each time (%d, %d)"
          % (len(after_restore), len(after_rebuild)))
    got = p.counts()["units"]["410423"]
    check_eq((got["records"], got["late"], got["duplicates"]), (30, 10, 0), "410423 counters")
    late_ids = {json.loads(m.value)["id"] for m in consume_all(p.broker.bootstrap,
                                                               p.tag + ".alerts")
                if json.loads(m.value)["type"] == "late"}
    check_eq(len(late_ids), 10, "late alert ids (distinct) after both replays")
    res["records"] = 30
    res["messages"] = 30
    res["late_rate_copies"] = len(after_rebuild)
    res["faults"] = ("a late_rate crossing replayed twice: Redis restored from an RDB copy "
                     "taken before it, then --rebuild; one id, %d copies" % len(after_rebuild))

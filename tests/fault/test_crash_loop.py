"""Fault scenario 1, crash loop: sgs-consumer is SIGKILLed 20 times while it
works through a generated month of 100,000 records, and restarted each time.

The month is produced in slices, one before each round, so every round starts
with unread input. Two kinds of kill:
  - from outside: SIGKILL once the messages written to Redis pass a random
    point of the round's input;
  - from inside, with strace fault injection: the K-th `sendto` (the Redis
    client sends the batch script), `read` (it waits for the script's reply: Redis has
    run it or is running it, the consumer never learns the outcome) or
    `sendmsg` (librdkafka's broker threads: Fetch, Produce of alerts/rejects,
    commits, heartbeats) of one thread gets SIGKILL on entry, K random.
A kill counts when the process died by SIGKILL with messages produced but not
yet written to Redis (mid-stream). Rounds go on until 20 have landed.

Restarts use static group membership (kafka.group.instance.id): the broker
hands the restarted member its partitions at once instead of waiting 6 s for
the dead member's session to expire.

The end: one clean run drains the rest; the snapshot and the raw Redis hashes
must equal the generator's expectation exactly; every late record has an alert
and every reject arrived (by id); the outboxes are empty after the clean exit.
"""

import random

import pytest

from sgstest import check, check_eq, jsonl_messages, produce, run_consumer
from sgstest.fault import (MONTH, RESEND_LINE, crash_rounds, finish, have_strace, kills_text,
                           progress, seed)

TAG = "crash"
KILLS = 20
RECORDS = 100000
BATCH = 100
SEED = seed(20231201)


@pytest.mark.figures("crash_loop")
@pytest.mark.case_timeout(420)
def test_crash_loop(sgs, apache_kafka, tmp, figures):
    """crash loop: 20 SIGKILLs (random and strace-injected) over 100,000 records, exact"""
    res = figures
    rnd = random.Random(SEED)
    res["seed"] = SEED
    p = sgs(TAG, kafka=apache_kafka, partitions=8, consumer__batch__max_messages=BATCH)
    broker, r, conf = p.broker, p.redis, p.conf
    inst = "kafka.group.instance.id=%s-1" % TAG
    jsonl, expect = p.generate(MONTH, seed=SEED % 100000, records=RECORDS,
                               late_share=0.03, invalid=300, duplicates=500, malformed=50,
                               unknown_unit=50, gaps=20, format="mixed")
    msgs = jsonl_messages(jsonl)
    total = len(msgs)
    check_eq(total, expect["messages"], "generated messages")
    res["records"] = RECORDS
    res["messages"] = total
    c = r.client()

    # 8 kills from outside, 12 from strace (6 sendto, 3 read, 3 sendmsg), in random order
    kinds = ["plain"] * 8 + ["sendto"] * 6 + ["read"] * 3 + ["sendmsg"] * 3
    if not have_strace():
        print("SKIPPED: strace not installed: all kills from outside")
        kinds = ["plain"] * KILLS
    rnd.shuffle(kinds)

    kf, produced = crash_rounds(tmp, r, broker, conf, TAG, msgs, kinds, rnd, BATCH, 8,
                                extra=[inst])
    res.data.update(kf)
    check_eq(kf["kills"], KILLS, "kills landed mid-stream")
    check(progress(c, TAG) < total, "work left after the kills")
    # the rest of the month, then one clean run to the end
    produce(broker.bootstrap, TAG + ".records", msgs[produced:])
    drain = run_consumer(tmp, conf, idle=3, timeout=300, extra=[inst], name="drain")
    res["outbox_resends"] += drain.log().count(RESEND_LINE)
    figures = finish(tmp, conf, expect, r, broker, TAG)
    res.data.update(figures)
    left = [k for k in c.scan_iter(match="sgs:{%s.records:*}:outbox" % TAG) if c.hlen(k)]
    check(not left, "outbox entries left after a clean exit: %s" % left)
    res["faults"] = "%d SIGKILLs: %s" % (kf["kills"], kills_text(kf["kills_by_kind"]))


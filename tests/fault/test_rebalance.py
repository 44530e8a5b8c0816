"""Fault scenario 4, rebalances: three sgs-consumers share one group on the
real broker while the month streams in, and the membership keeps changing:

  A starts alone; B joins; C joins; B is SIGKILLed while records are being
  produced (its partitions stay with the dead member until its 6 s session
  expires, then move); A leaves with SIGTERM (finishes its batch, closes);
  D joins; C and D drain the rest and exit on idle.

Every change moves partitions between members. A batch in hand when a
partition is revoked is written once or dropped whole, and every batch script
first checks that Redis still holds the offset the writer believes in, so a
batch that straddles a rebalance cannot be applied twice. Run twice: with the
default eager protocol, and with cooperative-sticky (incremental assign).
Counters: snapshot and raw Redis equal the expectation exactly; every late
alert and reject arrived (by id).
"""

import random
import threading
import time

import pytest

from sgstest import check, check_eq, consumer_cmd, jsonl_messages, produce, spawn, wait_until
from sgstest.fault import MONTH, died_by_signal, finish, progress, seed

SEED = seed(20231204)
RECORDS = 30000


class Feeder:
    """Produces a slice of the month in a thread (so membership changes and
    kills happen while records arrive)."""

    def __init__(self, bootstrap, topic, msgs):
        self.done = threading.Event()
        self.error = None
        self.t = threading.Thread(target=self._run, args=(bootstrap, topic, msgs), daemon=True)
        self.t.start()

    def _run(self, bootstrap, topic, msgs):
        try:
            # small steps: the slice keeps arriving for a while
            for i in range(0, len(msgs), 500):
                produce(bootstrap, topic, msgs[i:i + 500])
        except Exception as e:  # reported by join()
            self.error = e
        finally:
            self.done.set()

    def join(self):
        self.t.join(120)
        if self.error:
            raise self.error


def rebalance_run(pl, tmp, res, tag, strategy):
    rnd = random.Random(SEED + len(tag))
    res["seed"] = SEED
    broker, r, conf = pl.broker, pl.redis, pl.conf
    jsonl, expect = pl.generate(MONTH, seed=(SEED + len(tag)) % 100000, records=RECORDS,
                                late_share=0.04, invalid=100, duplicates=150, malformed=20,
                                unknown_unit=20, format="mixed")
    msgs = jsonl_messages(jsonl)
    total = len(msgs)
    res["records"] = RECORDS
    res["messages"] = total
    cut = [0] + [total * i // 5 for i in range(1, 5)] + [total]
    extra = ["kafka.partition.assignment.strategy=" + strategy] if strategy else []
    c = r.client()
    topic = tag + ".records"

    def member(name, idle=None):
        return spawn(consumer_cmd(conf, idle=idle, extra=extra), tmp, name=name)

    def assigned(p):
        return "assigned %s [" % topic in p.log()

    produce(broker.bootstrap, topic, msgs[cut[0]:cut[1]])
    a = member("A")
    wait_until(lambda: progress(c, tag) > 0, timeout=60, what="A working")

    b = member("B")
    f = Feeder(broker.bootstrap, topic, msgs[cut[1]:cut[2]])
    wait_until(lambda: assigned(b), timeout=60, what="B assigned")
    f.join()

    cc = member("C", idle=10)
    f = Feeder(broker.bootstrap, topic, msgs[cut[2]:cut[3]])
    wait_until(lambda: assigned(cc), timeout=60, what="C assigned")
    f.join()
    # B must own partitions when it dies
    wait_until(lambda: b.log().count("assigned %s [" % topic) >
               b.log().count("revoked %s [" % topic), timeout=60, what="B owning partitions")

    f = Feeder(broker.bootstrap, topic, msgs[cut[3]:cut[4]])
    time.sleep(rnd.uniform(0.05, 0.3))
    mid = not f.done.is_set()
    b.kill()
    landed = died_by_signal(b.returncode) and mid
    check(landed, "B SIGKILLed while records were arriving (rc %s, feeder done %s)"
          % (b.returncode, f.done.is_set()))
    f.join()

    check_eq(a.stop(timeout=60), 0, "A exit status after SIGTERM")
    d = member("D", idle=10)
    produce(broker.bootstrap, topic, msgs[cut[4]:])
    check_eq(cc.wait(240), 0, "C exit status")
    check_eq(d.wait(240), 0, "D exit status")

    logs = {n: p.log() for n, p in (("A", a), ("B", b), ("C", cc), ("D", d))}
    res["partition_assignments"] = {n: l.count("assigned %s [" % topic) for n, l in logs.items()}
    res["partition_revocations"] = {n: l.count("revoked %s [" % topic) for n, l in logs.items()}
    res["fenced_batches"] = sum(l.count(": fenced: ") for l in logs.values())
    res["kills"] = 1
    figures = finish(tmp, conf, expect, r, broker, tag)
    res.data.update(figures)
    res["faults"] = ("3 members (%s): 4 joins, 1 leave (SIGTERM), 1 SIGKILL mid-stream"
                     % (strategy or "eager"))


@pytest.mark.figures("rebalance_eager")
@pytest.mark.case_timeout(300)
def test_rebalance_eager(sgs, apache_kafka, tmp, figures):
    """rebalances, eager: A, B, C join, B SIGKILLed, A leaves, D joins: exact"""
    pl = sgs("rbe", kafka=apache_kafka, partitions=12, consumer__batch__max_messages=100)
    rebalance_run(pl, tmp, figures, "rbe", None)


@pytest.mark.figures("rebalance_cooperative")
@pytest.mark.case_timeout(300)
def test_rebalance_cooperative(sgs, apache_kafka, tmp, figures):
    """rebalances, cooperative-sticky: the same membership changes: exact"""
    pl = sgs("rbc", kafka=apache_kafka, partitions=12, consumer__batch__max_messages=100)
    rebalance_run(pl, tmp, figures, "rbc", "cooperative-sticky")


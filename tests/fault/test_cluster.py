"""Fault scenario 7, clusters: three sgs-consumers in one group stream a
generated month (keys mixed: unit id, alias, name, none, and re-sends under
another key, so route first forwards) from a three-broker Kafka cluster
(KRaft, replication factor 3, min.insync.replicas 2) into a Redis Cluster of
3 masters + 3 replicas (cluster-node-timeout 2000, AOF everysec), while:

  7a  two Redis masters are SIGKILLed one after the other and their replicas
      take over. The first kill is plain. Before the second, the replication
      link of that master is cut (its replica is given a wrong masterauth,
      then the master drops it with CLIENT KILL TYPE replica) and the master
      is killed only once it has acknowledged batches its replica never got:
      what asynchronous replication can do at any failover, made certain.
      The consumers must notice that the promoted replica holds older
      offsets (`fenced: Redis holds offset X, this batch starts after Y`
      with X < Y), seek back and read those batches again;
  7b  slots holding partitions' keys move to another master with `redis-cli
      --cluster reshard` (MIGRATE, ASK, TRYAGAIN) while batches are written;
      and one partition's slot is held half migrated for a few seconds: its
      batch script must wait (test_slot_held_half_moved);
  7c  the Kafka broker that coordinates the group is SIGKILLed and restarted
      on its data a few seconds later (partition leaders and the group
      coordinator move; alerts, rejects and forwarded copies are produced
      with acks=all to the two brokers left).

Each case is judged the same way, after every partition's stored offset has
reached its end and the consumers stopped with SIGTERM (exit 0):

  - every counter exact: the generator's expectation (flow.check_counts, the
    raw hashes summed per unit over every master, identity store and gap bits
    agreeing), and every field of every month hash (wdlate, organ, ... too)
    summed per unit equal to the reference run: the same input through one
    redis-server and one consumer;
  - no batch applied twice: besides the counters (a batch applied twice would
    count its records again or as duplicates, and its malformed and
    unattributed messages again), every ledger entry's source
    (topic:partition:offset) appears once;
  - alerts at least once: every late alert id and every reject id the month
    must produce is on the alerts / rejects topics (repeats allowed);
  - the snapshot of the month (sgs-aggregator snapshot against the cluster)
    has the figures of the reference run's snapshot, unit by unit
    (fault.compare_snapshots; the per-partition "offsets" and the times
    ignored).

The Kafka cluster and the reference run are made once for the module.
"""

import json
import re
import time

import pytest

from sgstest import (RedisServer, Scope, check, check_eq, consumer_cmd, create_sgs_topics,
                     generate, jsonl_messages, make_tmpdir, produce, rekey, run_consumer, say,
                     sgs_config, spawn, wait_until, watermarks, write_config)
from sgstest.env import source_path
from sgstest.fault import (MONTH, SteadyFeeder, check_alerts, compare_snapshots, seed,
                           snapshot)
from sgstest.flow import check_counts
from sgstest.kafka import BrokerUnavailable, KafkaCluster, consume_all, kafka_mode
from sgstest.rediscluster import RedisCluster

SEED = seed(20231207)
RECORDS = 12000
PARTS = 6          # partitions of <tag>.records: two per consumer
CONSUMERS = 3
RATE = 600         # messages per second from the feeder: about 20 s of input
PREFIX = "sgs"

# what a consumer logs when Redis holds another offset of a partition than the
# one it wrote: a batch fenced, or its check while nothing is in hand
FENCED = re.compile(r"partition (\d+): fenced: Redis holds offset (\d+), this batch starts "
                    r"after (\d+)")
MOVED_BACK = re.compile(r"partition (\d+): Redis holds offset (-?\d+), not (\d+) as written "
                        r"here")
HOLD_S = 4.0  # 7b: seconds one slot is held half migrated
TAIL = 300  # 7a: messages held back for the failover at rest


# ---------------------------------------------------------------------------
# Module fixtures: the Kafka cluster, the month, the reference run

@pytest.fixture(scope="module")
def kcluster():
    """Three Kafka brokers for the module (skipped when the real broker
    cannot be had, as apache_kafka is)."""
    if kafka_mode() == "mock":
        pytest.skip("SGS_KAFKA=mock: these scenarios need three real Kafka brokers")
    scope = Scope("module kafka cluster")
    try:
        with scope.active():
            try:
                k = KafkaCluster(make_tmpdir("kafka-cluster"))
            except BrokerUnavailable as e:
                if kafka_mode() == "apache":
                    raise
                say("SKIPPED: real Kafka cluster unavailable: %s" % e)
                pytest.skip("real Kafka cluster unavailable: %s" % e)
            say("# kafka cluster: %s %s, 3 nodes at %s: storage format %.1f s, ready %.1f s "
                "after launch, RSS %s MB" % (k.kind, k.version, k.bootstrap, k.format_seconds,
                                             k.startup_seconds,
                                             "/".join("%.0f" % v for v in k.rss_mb().values())))
        yield k
    finally:
        scope.close()


@pytest.fixture(scope="module")
def month(kcluster):
    """(messages, expectation): the month, generated once."""
    scope = Scope("module month")
    try:
        with scope.active():
            tmp = make_tmpdir("cluster-month")
            conf = write_config(tmp + "/gen.conf", {
                "units.file": source_path("configs", "units.tsv"),
                "calendar.file": source_path("configs", "calendar-cn.json"),
                "topic.records": "gen.records"})
            jsonl, expect = generate(tmp, conf, MONTH, seed=SEED % 100000, records=RECORDS,
                                     late_share=0.05, invalid=100, duplicates=120, malformed=20,
                                     unknown_unit=20, resend_other_key=30, format="mixed",
                                     key="mixed")
            msgs = jsonl_messages(jsonl)
        check_eq(len(msgs), expect["messages"], "messages in the JSONL")
        yield msgs, expect
    finally:
        scope.close()


def month_fields(clients, topic, month=MONTH):
    """Every field of every partition's month hash, summed over partitions:
    {"<unit>|<counter>": n} (clients: one per master, or one redis-server)."""
    out = {}
    for c in clients:
        for key in c.scan_iter(match="%s:{%s:*}:m:%s" % (PREFIX, topic, month), count=1000):
            for f, v in c.hgetall(key).items():
                out[f] = out.get(f, 0) + int(v)
    return out


def ledger_sources(clients, topic):
    """The source of every ledger entry of every partition and month, and the
    repeated ones."""
    seen, repeated = set(), []
    for c in clients:
        for key in c.scan_iter(match="%s:{%s:*}:lg:*" % (PREFIX, topic), count=1000):
            for item in c.lrange(key, 0, -1):
                src = json.loads(item)["source"]
                if src in seen:
                    repeated.append(src)
                seen.add(src)
    return seen, repeated


def forwarded_twice(bootstrap, topic):
    """{(source partition, source offset, target partition): [sequences]} of
    the source messages whose forwarded copies (header sgs-fwd:
    <epoch>:<source partition>:<source offset>:<sequence>, docs/CONSUMER.md)
    carry more than one sequence number. A copy produced again for the same
    source message must repeat its number, or its target applies it twice."""
    seqs = {}
    for m in consume_all(bootstrap, topic, timeout=60):
        for k, v in m.headers:
            if k == "sgs-fwd":
                _epoch, sp, so, seq = v.decode().split(":")
                seqs.setdefault((int(sp), int(so), m.partition), set()).add(int(seq))
    return {k: sorted(v) for k, v in seqs.items() if len(v) > 1}


@pytest.fixture(scope="module")
def reference(kcluster, month):
    """The same input through one redis-server and one consumer: its month
    fields, ledger sources and snapshot."""
    msgs, expect = month
    scope = Scope("module reference run")
    try:
        with scope.active():
            tmp = make_tmpdir("cluster-reference")
            r = RedisServer(tmp)
            tag = "clref"
            create_sgs_topics(kcluster, tag, PARTS)
            conf = sgs_config(tmp, kcluster, r, group=tag, tag=tag)
            t0 = time.monotonic()
            produce(kcluster.bootstrap, tag + ".records", msgs)
            run_consumer(tmp, conf, idle=3)
            c = r.client()
            check_counts(c, expect, topic=tag + ".records", what="reference run: ")
            sources, repeated = ledger_sources([c], tag + ".records")
            check(not repeated, "reference run: ledger sources repeated: %s" % repeated[:5])
            ref = {"fields": month_fields([c], tag + ".records"), "ledger": len(sources),
                   "snapshot": snapshot(tmp, conf, MONTH)}
            say("# reference run: %d messages, one redis-server, one consumer: %.1f s"
                % (len(msgs), time.monotonic() - t0))
        yield ref
    finally:
        scope.close()


# ---------------------------------------------------------------------------
# One case

class Case:
    """One scenario's Redis Cluster, topics, consumers and feeder."""

    def __init__(self, tmp, kc, month, tag, res):
        self.tmp, self.kc, self.tag, self.res = tmp, kc, tag, res
        self.msgs, self.expect = month
        self.topic = tag + ".records"
        t0 = time.monotonic()
        self.cl = RedisCluster(tmp, masters=3, replicas=1, node_timeout=2000)
        create_sgs_topics(kc, tag, PARTS)
        self.conf = sgs_config(tmp, kc, self.cl, group=tag, tag=tag)
        res["records"] = RECORDS
        res["messages"] = len(self.msgs)
        res["seed"] = SEED
        res["kafka"] = "apache %s" % kc.version
        res["setup_s"] = round(time.monotonic() - t0, 1)
        self.members = []
        self.feeder = None

    def tag_slots(self):
        """{partition: slot of its hash tag}."""
        return {p: self.cl.keyslot("{%s:%d}" % (self.topic, p)) for p in range(PARTS)}

    def by_master(self):
        """{master ClusterNode: [partitions whose keys it holds]}."""
        out = {}
        for p, slot in self.tag_slots().items():
            out.setdefault(self.cl.master_of_slot(slot), []).append(p)
        return out

    def offsets(self, node=None):
        """{partition: stored offset (None: none yet)}, read on `node` or through
        the cluster."""
        keys = {p: "%s:{%s:%d}:offset" % (PREFIX, self.topic, p) for p in range(PARTS)}
        if node is not None:
            c = node.client(socket_timeout=2)
            try:
                c.execute_command("READONLY")  # a replica answers too (not MOVED)
                pipe = c.pipeline(transaction=False)  # (one slot per key: no MGET)
                for k in keys.values():
                    pipe.get(k)
                return {p: (None if v is None else int(v))
                        for p, v in zip(keys, pipe.execute(raise_on_error=False))
                        if not isinstance(v, Exception)}
            finally:
                c.close()
        c = self.cl.client(socket_timeout=2)
        try:
            return {p: (None if c.get(k) is None else int(c.get(k))) for p, k in keys.items()}
        finally:
            c.close()

    def progress(self):
        """Messages written to Redis so far (stored offsets summed), -1 when
        they cannot be read now (a master down)."""
        try:
            return sum(v or 0 for v in self.offsets().values())
        except Exception:
            return -1

    def start(self, hold=0, rate=RATE):
        """The members, and the feeder with all but the last `hold` messages."""
        self.members = [spawn(consumer_cmd(self.conf), self.tmp, name="c%d" % (i + 1))
                        for i in range(CONSUMERS)]
        self.feeder = SteadyFeeder(self.kc.bootstrap, self.topic,
                                   self.msgs[:len(self.msgs) - hold], rate=rate)
        self.t_start = time.monotonic()

    def wait_progress(self, share, timeout=90):
        goal = int(share * len(self.msgs))
        wait_until(lambda: self.progress() >= goal, timeout, 0.05,
                   "%d messages written to Redis" % goal)
        for m in self.members:
            check(m.alive(), "%s died: %s" % (m.name, m.tail(10)))

    def mid_stream(self, what):
        """The input is still arriving (a fault must land mid-stream)."""
        check(not self.feeder.done.is_set(),
              "%s: the feeder had already finished (sent %d of %d)"
              % (what, self.feeder.sent, len(self.msgs)))

    def drain(self, timeout=60, ready=True):
        """Until the feeder is done and every partition's stored offset is at
        its end (twice, a second apart: forwarded copies add messages); first,
        with `ready`, until the Redis Cluster is whole again."""
        res = self.res
        self.feeder.join(180)
        res["stream_s"] = round(time.monotonic() - self.t_start, 1)
        if ready:
            self.cl.wait_ready(60)

        def done():
            ends = {p: hi for p, (lo, hi) in watermarks(self.kc.bootstrap, self.topic).items()}
            return ends if self.offsets() == ends else None
        t0 = time.monotonic()
        try:
            ends = wait_until(done, timeout, 0.2, "every partition's stored offset at its end")
        except TimeoutError:
            ends = {p: hi for p, (lo, hi) in watermarks(self.kc.bootstrap, self.topic).items()}
            raise AssertionError("stored offsets %s, ends %s after %ss"
                                 % (self.offsets(), ends, timeout))
        time.sleep(1.0)
        ends2 = wait_until(done, timeout, 0.2, "every stored offset at its end (again)")
        check_eq(ends2, ends, "ends stable")
        res["drain_s"] = round(time.monotonic() - t0, 1)
        res["forwarded_copies"] = sum(ends.values()) - len(self.msgs)

    def finish(self, ref):
        """Drain, stop the members, judge (module docstring)."""
        self.drain()
        self.judge(ref)

    def judge(self, ref):
        res = self.res
        for m in self.members:
            check_eq(m.stop(timeout=60), 0, "%s exit status after SIGTERM" % m.name)
        logs = {m.name: m.log() for m in self.members}
        fenced = [(m.name,) + tuple(int(x) for x in f.groups())
                  for m in self.members for f in FENCED.finditer(logs[m.name])]
        res["fenced_batches"] = len(fenced)
        # (member, partition, offset in Redis, offset the member had written)
        self.back = [f for f in fenced if f[2] < f[3]] + [
            (m.name,) + tuple(int(x) for x in f.groups())
            for m in self.members for f in MOVED_BACK.finditer(logs[m.name])]
        res["went_back"] = len(self.back)
        masters = self.cl.master_clients()
        bad = []  # every problem, each judged on its own, then one failure naming all

        def judge(what, fn):
            try:
                fn()
            except AssertionError as e:
                bad.append("%s: %s" % (what, e))

        # counters: the expectation, and the reference run, field by field
        judge("counters", lambda: check_counts(masters, self.expect, topic=self.topic))
        fields = month_fields(masters, self.topic)
        diff = sorted(k for k in set(fields) | set(ref["fields"])
                      if fields.get(k, 0) != ref["fields"].get(k, 0))
        if diff:
            bad.append("month fields differ from the reference run (%d): %s" % (
                len(diff), ", ".join("%s %s (reference %s)" % (k, fields.get(k),
                                                              ref["fields"].get(k))
                                     for k in diff[:12])))
        # no batch applied twice: a source message forwarded again (its
        # batch read again) carries the sequence number it had the first time
        renumbered = forwarded_twice(self.kc.bootstrap, self.topic)
        res["copies_renumbered"] = len(renumbered)
        if renumbered:
            bad.append("source messages forwarded under two sequence numbers (%d), (source "
                       "partition, offset, target): sequences: %s"
                       % (len(renumbered), sorted(renumbered.items())[:8]))
        sources, repeated = ledger_sources(masters, self.topic)
        if repeated:
            bad.append("ledger entries applied twice: %s" % repeated[:5])
        if len(sources) != ref["ledger"]:
            bad.append("ledger entries: %d, reference run %d" % (len(sources), ref["ledger"]))
        # alerts and rejects at least once
        judge("alerts", lambda: res.data.update(check_alerts(self.kc, self.tag, self.expect)))
        # the month's snapshot against the reference run's
        snap = snapshot(self.tmp, self.conf, MONTH)
        diff = compare_snapshots(snap, ref["snapshot"])
        if diff:
            bad.append("snapshot differs from the reference run's (%d): %s"
                       % (len(diff), "; ".join(diff[:10])))
        res["snapshot_records"] = snap["totals"]["records"]
        if bad:
            raise AssertionError("%d problem(s):\n  %s" % (len(bad), "\n  ".join(bad)))

    def close(self):
        # the members first: without Redis a SIGTERM would wait on their batch
        for m in self.members:
            m.kill()
        if self.feeder:
            self.feeder.stop()
        self.cl.stop()


@pytest.fixture
def case(tmp, kcluster, month):
    made = []

    def make(tag, res):
        c = Case(tmp, kcluster, month, tag, res)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


# ---------------------------------------------------------------------------
# 7a: master failovers, the second with acknowledged batches lost

def cut_replication(cl, master):
    """Keeps `master`'s replica from (re)connecting (a wrong masterauth: the
    master has no password, so the replica's AUTH fails) and drops the link:
    from now on the master acknowledges writes its replica never gets.
    Returns the replica."""
    replica = cl.replicas_of(master)[0]
    replica.call("CONFIG", "SET", "masterauth", "sgs-test-wrong")
    master.call("CLIENT", "KILL", "TYPE", "replica")
    wait_until(lambda: master.info("replication").get("connected_slaves") == 0, 5, 0.01,
               "%s without replicas" % master.addr)
    return replica


@pytest.mark.figures("cluster_failover")
@pytest.mark.case_timeout(240)
def test_master_failovers(case, reference, figures):
    """Redis Cluster: two masters SIGKILLed, replicas promoted (the second
    without its master's last batches): exact"""
    res = figures
    c = case("clf", res)
    # (half the rate: two failovers of ~4 s and the catch-up between them
    # must come before the input ends, on a loaded machine too)
    c.start(hold=TAIL, rate=RATE // 2)
    c.wait_progress(0.2)
    owners = c.by_master()
    say("# partitions by master: %s" % {m.addr: ps for m, ps in owners.items()})

    # first: a plain SIGKILL of the master holding the most partitions
    victim = max(owners, key=lambda m: len(owners[m]))
    c.mid_stream("first kill")
    t0 = time.monotonic()
    c.cl.kill(victim)
    new = c.cl.wait_failover(victim, timeout=60)
    res["failover1_s"] = round(time.monotonic() - t0, 1)
    res["failover1_partitions"] = owners[victim]
    say("# %s killed, %s promoted after %.1f s (partitions %s)"
        % (victim.addr, new.addr, res["failover1_s"], owners[victim]))

    # second: another master with partitions and a replica, link cut first
    c.wait_progress(0.5)
    owners = c.by_master()
    cands = [m for m, ps in owners.items() if c.cl.replicas_of(m)]
    check(cands, "a master with partitions and a replica left: %s" % owners)
    victim = max(cands, key=lambda m: len(owners[m]))
    parts = owners[victim]
    c.mid_stream("second kill")
    replica = cut_replication(c.cl, victim)
    # the replica's data is frozen from now on: what it will be promoted with
    kept = c.offsets(replica)
    # until the master has acknowledged more batches of its partitions
    wait_until(lambda: any((c.offsets(victim)[p] or 0) > (kept[p] or 0) for p in parts), 20,
               0.005, "a batch acknowledged by %s after the cut" % victim.addr)
    check_eq(victim.info("replication").get("connected_slaves"), 0,
             "%s still without replicas at the kill" % victim.addr)
    acked = c.offsets(victim)
    t0 = time.monotonic()
    c.cl.kill(victim)
    check_eq(c.offsets(replica), kept, "the replica's offsets at the kill")
    new = c.cl.wait_failover(victim, timeout=60)
    res["failover2_s"] = round(time.monotonic() - t0, 1)
    check(new is replica, "%s promoted, not the replica %s" % (new.addr, replica.addr))
    replica.call("CONFIG", "SET", "masterauth", "")
    lost = {p: acked[p] - kept[p] for p in parts if acked[p] > kept[p]}
    say("# link of %s cut; it acknowledged offsets %s, its replica has %s; killed; %s "
        "promoted after %.1f s" % (victim.addr, {p: acked[p] for p in parts},
                                   {p: kept[p] for p in parts}, new.addr, res["failover2_s"]))
    check(lost, "the promoted replica lacks acknowledged batches")
    res["lost_messages"] = sum(lost.values())
    res["lost_partitions"] = sorted(lost)
    c.mid_stream("after the second failover")

    # third, at rest: the input is in and written; the last master that has a
    # replica gets its link cut, the month's tail arrives on its partitions
    # only, and it is killed once it has acknowledged batches of it. Nothing
    # arrives after, so no batch of those partitions is fenced: the consumers
    # must notice by themselves that Redis went back.
    c.drain()
    owners = c.by_master()
    cands = [m for m, ps in owners.items() if c.cl.replicas_of(m)]
    check(cands, "a master with partitions and a replica left: %s" % owners)
    victim = cands[0]
    parts3 = owners[victim]
    check(parts3, "%s holds partitions" % victim.addr)
    replica = cut_replication(c.cl, victim)
    kept = c.offsets(replica)
    produce(c.kc.bootstrap, c.topic, rekey(c.msgs[-TAIL:], key=lambda k: k,
                                           partition=lambda i: parts3[i % len(parts3)]))
    # everything written (copies between partitions too): no batch comes later
    c.drain(ready=False)  # (a replica link is cut)
    time.sleep(0.5)  # and the outbox entries' deletions done
    acked = c.offsets(victim)
    c.cl.kill(victim)
    check_eq(c.offsets(replica), kept, "the replica's offsets at the kill")
    t0 = time.monotonic()
    new = c.cl.wait_failover(victim, timeout=60)
    res["failover3_s"] = round(time.monotonic() - t0, 1)
    replica.call("CONFIG", "SET", "masterauth", "")
    lost3 = {p: acked[p] - kept[p] for p in parts3 if acked[p] > kept[p]}
    say("# at rest: %d messages to partitions %s of %s, link cut; it acknowledged %s, its "
        "replica has %s; killed; %s promoted after %.1f s"
        % (TAIL, parts3, victim.addr, {p: acked[p] for p in parts3},
           {p: kept[p] for p in parts3}, new.addr, res["failover3_s"]))
    check(lost3, "the promoted replica lacks acknowledged batches (at rest)")
    res["lost_at_rest"] = sum(lost3.values())
    c.drain()
    c.judge(reference)
    # every partition that went back was noticed by the consumer writing it
    say("# partitions that went back (member, partition, Redis offset, written): %s" % c.back)
    back = {f[1] for f in c.back}
    check(set(lost) | set(lost3) <= back, "partitions %s lost acknowledged batches, but only "
          "%s were noticed" % (sorted(set(lost) | set(lost3)), sorted(back)))
    res["kills"] = 3
    res["outage_s"] = res["failover1_s"] + res["failover2_s"] + res["failover3_s"]
    res["faults"] = ("3 Redis masters SIGKILLed (replicas promoted after %.1f, %.1f and %.1f "
                     "s); the second lost %d acknowledged messages of partitions %s mid-stream, "
                     "the third %d of partitions %s after the input ended"
                     % (res["failover1_s"], res["failover2_s"], res["failover3_s"],
                        res["lost_messages"], res["lost_partitions"], res["lost_at_rest"],
                        sorted(lost3)))


# ---------------------------------------------------------------------------
# 7b: slots move

def reshard_plan(c):
    """(source master, destination master, slot count): the source holds the
    most partitions; the count covers the lowest slots of the source up to its
    second partition's slot (redis-cli --cluster reshard takes a source's
    slots from its lowest), or its first when that would be more than 4,000."""
    owners = c.by_master()
    src = max(owners, key=lambda m: len(owners[m]))
    dst = [m for m in c.cl.masters() if m is not src][0]
    slots = []
    for e in c.cl.view():
        if e["addr"] == src.addr:
            for a, b in e["slots"]:
                slots.extend(range(a, b + 1))
    slots.sort()
    tag = c.tag_slots()
    pos = sorted(slots.index(tag[p]) for p in owners[src])
    n = pos[1] + 1 if len(pos) > 1 and pos[1] < 4000 else pos[0] + 1
    return src, dst, max(n, 200), [p for p in owners[src] if slots.index(tag[p]) < max(n, 200)]


@pytest.mark.figures("cluster_reshard")
@pytest.mark.case_timeout(240)
def test_reshard(case, reference, figures):
    """Redis Cluster: slots of partitions moved with redis-cli --cluster
    reshard while batches are written: exact"""
    res = figures
    c = case("clr", res)
    # (half the rate of the other cases: a reshard takes 10-20 s on a loaded
    # machine, and the input should outlast it)
    c.start(rate=RATE // 2)
    c.wait_progress(0.15)
    src, dst, n, moving = reshard_plan(c)
    c.mid_stream("reshard start")
    before = c.progress()
    t0 = time.monotonic()
    out = c.cl.reshard_wait(src, dst, n, pipeline=10)
    res["reshard_s"] = round(time.monotonic() - t0, 1)
    # what counts is that batches were written while the slots moved (the
    # input itself may end first when the reshard is slow)
    after = c.progress()
    res["written_during_reshard"] = after - before
    check(before >= 0 and after > before,
          "batches written while the slots moved (stored offsets %d -> %d)" % (before, after))
    now = c.by_master()
    moved = sorted(p for p in moving if p in now.get(dst, []))
    check_eq(moved, sorted(moving), "partitions moved to %s" % dst.addr)
    say("# %d slots moved %s -> %s in %.1f s, partitions %s with them (%d MIGRATE lines)"
        % (n, src.addr, dst.addr, res["reshard_s"], moved, out.count("Moving slot")))
    c.finish(reference)
    res["faults"] = ("redis-cli --cluster reshard of %d slots (partitions %s) in %.1f s, "
                     "mid-stream" % (n, moved, res["reshard_s"]))
    res["slots_moved"] = n
    res["partitions_moved"] = moved


def slot_dump(node, slot, asking=False):
    """{key: DUMP} of the keys of `slot` held by `node` (ASKING before each
    DUMP on a node importing the slot, which would answer MOVED otherwise)."""
    c = node.client(decode=False, socket_timeout=5)
    try:
        keys = c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100000)
        pipe = c.pipeline(transaction=False)
        for k in keys:
            if asking:
                pipe.execute_command("ASKING")
            pipe.dump(k)
        got = pipe.execute()
        return dict(zip(keys, got[1::2] if asking else got))
    finally:
        c.close()


def migrate(src, dst, keys):
    """MIGRATE keys from src to dst in one command: "OK", or the error (a key
    that already exists on dst answers BUSYKEY)."""
    try:
        return src.call("MIGRATE", dst.host, dst.port, "", 0, 10000, "KEYS", *keys,
                        timeout=15)
    except Exception as e:  # the reply is the verdict
        return "%s: %s" % (type(e).__name__, e)


@pytest.mark.figures("cluster_slot_held")
@pytest.mark.case_timeout(240)
def test_slot_held_half_moved(case, reference, figures):
    """Redis Cluster: one partition's slot held half migrated for a few
    seconds (MIGRATING on its master, IMPORTING on another, half its keys
    MIGRATEd, the offset among them) while that partition's batches keep
    coming: its batch script touches keys it does not declare, so run after
    ASKING it would create afresh on the target the keys the source still
    holds. The consumer must wait instead: no key of the slot on both nodes,
    the stored offset unchanged, the rest of the keys MIGRATE without
    "BUSYKEY Target key name already exists", and the month is exact"""
    res = figures
    c = case("clh", res)
    c.start(rate=RATE // 2)
    c.wait_progress(0.15)
    p, slot = sorted(c.tag_slots().items())[0]
    src = c.cl.master_of_slot(slot)
    dst = [m for m in c.cl.masters() if m is not src][0]
    check_eq(dst.call("CLUSTER", "SETSLOT", slot, "IMPORTING", src.node_id()), "OK",
             "SETSLOT IMPORTING on %s" % dst.addr)
    check_eq(src.call("CLUSTER", "SETSLOT", slot, "MIGRATING", dst.node_id()), "OK",
             "SETSLOT MIGRATING on %s" % src.addr)
    keys = sorted(slot_dump(src, slot))
    okey = ("%s:{%s:%d}:offset" % (PREFIX, c.topic, p)).encode()
    check(okey in keys and len(keys) >= 4, "partition %d's keys on %s: %s" % (p, src.addr, keys))
    first = [okey] + [k for k in keys if k != okey][::2]
    rest = [k for k in keys if k not in first]
    check_eq(migrate(src, dst, first), "OK", "MIGRATE of %d of the slot's keys" % len(first))
    c.mid_stream("slot held half moved")
    offset_before = slot_dump(dst, slot, asking=True).get(okey)
    end0 = watermarks(c.kc.bootstrap, c.topic)[p][1]
    progress0 = c.progress()
    time.sleep(HOLD_S)
    c.mid_stream("end of the hold")
    after = (slot_dump(src, slot), slot_dump(dst, slot, asking=True))
    end1 = watermarks(c.kc.bootstrap, c.topic)[p][1]
    progress1 = c.progress()
    res["held_s"] = HOLD_S
    res["keys_moved_first"], res["keys_moved_after"] = len(first), len(rest)
    res["arrived_while_held"] = end1 - end0
    res["written_while_held"] = progress1 - progress0
    check(end1 > end0, "messages of partition %d arrived while its slot was held (end offset "
          "%d -> %d)" % (p, end0, end1))
    check(progress1 > progress0, "the other partitions went on while one slot was held "
          "(stored offsets %d -> %d)" % (progress0, progress1))
    # (single-key commands, like the outbox's HDEL of delivered entries, are
    # rightly served where their key is: only the batch script must wait)
    both = sorted(set(after[0]) & set(after[1]))
    check(not both, "keys of slot %d on both %s and %s after the hold (written afresh on "
          "one while the other held them): %s" % (slot, src.addr, dst.addr,
                                                  [k.decode() for k in both][:8]))
    check_eq(after[1].get(okey), offset_before,
             "partition %d's stored offset (on %s) while its slot was half moved: no batch "
             "applied" % (p, dst.addr))
    if rest:
        check_eq(migrate(src, dst, rest), "OK", "MIGRATE of the slot's other %d keys"
                 % len(rest))
    for node in [dst, src] + [m for m in c.cl.masters() if m not in (src, dst)]:
        check_eq(node.call("CLUSTER", "SETSLOT", slot, "NODE", dst.node_id()), "OK",
                 "SETSLOT NODE on %s" % node.addr)
    say("# slot %d (partition %d) held half moved %s -> %s for %.0f s: %d messages of that "
        "partition arrived meanwhile, %d messages of the others were written"
        % (slot, p, src.addr, dst.addr, HOLD_S, end1 - end0, progress1 - progress0))
    c.finish(reference)
    waits = sum(m.log().count("redis: a slot is migrating") for m in c.members)
    res["migrating_waits_logged"] = waits
    check(waits > 0, "a consumer said it waited for slot %d to finish migrating" % slot)
    res["faults"] = ("slot %d of partition %d held half migrated %s -> %s for %.0f s "
                     "mid-stream" % (slot, p, src.addr, dst.addr, HOLD_S))


# ---------------------------------------------------------------------------
# 7c: a Kafka broker killed and restarted

@pytest.mark.figures("cluster_kafka_broker")
@pytest.mark.case_timeout(300)
def test_kafka_broker_killed(case, reference, figures, kcluster):
    """Kafka cluster: the group's coordinator broker SIGKILLed mid-stream and
    restarted 5 s later: exact"""
    res = figures
    kc = kcluster
    c = case("clk", res)
    # (half the rate: finding the coordinator, the kill and 5 s down must
    # come before the input ends, on a loaded machine too)
    c.start(rate=RATE // 2)
    c.wait_progress(0.25)
    coord = wait_until(lambda: kc.coordinator(c.tag), 30, 0.5, "the group's coordinator")
    victim = kc.node(coord)
    led = sorted(p for p, n in kc.leaders(c.topic).items() if n == victim.node_id)
    c.mid_stream("broker kill")
    t0 = time.monotonic()
    kc.kill(victim)
    time.sleep(5)
    c.mid_stream("broker restart")
    res["restart_s"] = round(kc.restart(victim), 1)
    res["outage_s"] = round(time.monotonic() - t0, 1)
    say("# broker %d (coordinator of %s, leader of %s [%s]) SIGKILLed, restarted after 5 s, "
        "ready %.1f s later" % (victim.node_id, c.tag, c.topic, led, res["restart_s"]))
    c.finish(reference)
    t1 = time.monotonic()
    kc.wait_in_sync(120)
    res["in_sync_s"] = round(time.monotonic() - t1, 1)
    res["kills"] = 1
    res["faults"] = ("Kafka broker %d of 3 (group coordinator, leader of %d records "
                     "partitions) SIGKILLed, restarted after 5 s (ready %.1f s later)"
                     % (victim.node_id, len(led), res["restart_s"]))

#!/usr/bin/python3
"""sgs-consumer's throughput with 1 and 3 Redis masters and 1 and 3 consumers
(docs/PERFORMANCE.md, "1 and 3 Redis masters, 1 and 3 consumers", has a run and what it shows).

    bench/run.sh cluster [--records 300000] [--runs 3] [--partitions 12]
                         [--masters 1,3] [--consumers 1,3] [--replicas 0]
                         [--key unit|mixed] [--json FILE]

One Apache Kafka broker (sgstest.KafkaBroker) holds one topic loaded in
advance with sgs-gen --produce (month 2024-03, seed 20240301, 2 % late, 1 %
invalid, 0.5 % duplicates, 0.1 % unknown units, 0.01 % malformed; --key unit:
keyed by unit id, so route first forwards nothing; --key mixed: about half is
forwarded). For every setup (masters x consumers), --runs runs, each with a
fresh consumer group and a fresh Redis prefix, so it reads the whole topic:

  masters 1   one redis-server, not in cluster mode (the single-node shape)
  masters 3   a Redis Cluster of 3 masters (+ --replicas each), on loopback
              (sgstest.rediscluster)
  consumers   that many sgs-consumer processes in the group, started
              together (the broker's group.initial.rebalance.delay.ms is 3 s,
              so they share the first assignment), --exit-on-idle 3

Redis as deployed: AOF with appendfsync everysec, noeviction. The consumers
use production timeouts (45 s session) and the shipped batch settings.

The setups run interleaved (round 1 of each, then round 2, ...). A run is
timed from the first offset stored in Redis to the moment every
partition's stored offset reaches the end of its partition (the offsets are
read every 20 ms, one pipeline per master), so group joins and the idle exit
stay out. Rate: the messages of the topic (forwarded copies included) over
that time. CPU seconds of the consumers (all of them, read from /proc at
that moment) and of every redis-server of the setup are measured over the
run; EVALSHA calls from INFO commandstats (reset before the run). After every
run every per-unit counter is checked against sgs-gen's expectation
(sgstest.check_counts, over every master): a broken run stops the benchmark.

Everything shares this machine's cores: the broker, the Redis servers, the
consumers and this script (docs/PERFORMANCE.md says what that can and cannot
show).
"""
import argparse
import json
import os
import re
import statistics
import sys
import time
import uuid

try:
    import sgstest as h
    from sgstest.rediscluster import RedisCluster
except ImportError:
    sys.exit("cluster_bench: run it with bench/run.sh cluster (it puts tests/lib, the start-up "
             "library, on PYTHONPATH)")

MONTH = "2024-03"
TOPIC = "sgs.records"
TICK = os.sysconf("SC_CLK_TCK")
RE_SUMMARY = re.compile(r"^sgs-consumer: processed (\d+) messages in ([\d.]+) s", re.M)
REDIS_ARGS = ["--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy",
              "noeviction"]


def say(line=""):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def cpu_s(pid):
    """utime + stime of a process (all threads), seconds; None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError, TypeError):
        return None


class Redis:
    """One setup's Redis: a redis-server, or a cluster of `masters` masters."""

    def __init__(self, tmp, masters, replicas):
        self.masters = masters
        if masters == 1:
            self.server = h.RedisServer(tmp, extra_args=REDIS_ARGS)
            self.cluster = None
            self.pids = [self.server.pid]
            self.label = "1 redis-server"
        else:
            self.server = None
            self.cluster = RedisCluster(os.path.join(tmp, "cluster"), masters=masters,
                                        replicas=replicas, appendfsync="everysec",
                                        extra_args=["--maxmemory-policy", "noeviction"])
            self.pids = [n.pid for n in self.cluster.nodes]
            self.label = "%d masters%s" % (masters,
                                           " + %d replicas" % (masters * replicas)
                                           if replicas else "")

    def target(self):
        """What sgs_config takes (its .config(): redis.host/port or redis.cluster)."""
        return self.server or self.cluster

    def clients(self):
        """A client per master (str replies)."""
        if self.cluster:
            return self.cluster.master_clients()
        return [self.server.client()]

    def node_of(self, key, clients):
        """The index in clients() of the master holding key."""
        if not self.cluster:
            return 0
        slot = self.cluster.keyslot(key)
        m = self.cluster.master_of_slot(slot)
        ports = [c.connection_pool.connection_kwargs["port"] for c in clients]
        return ports.index(m.port)

    def cpu(self):
        return sum(cpu_s(p) or 0.0 for p in self.pids)

    def stop(self):
        if self.cluster:
            self.cluster.stop()
        else:
            self.server.stop()


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = h.make_tmpdir("cluster-bench")

    def start(self):
        a = self.a
        t0 = time.monotonic()
        props = {"log.segment.bytes": str(1 << 30), "log.index.size.max.bytes": str(10 << 20),
                 # the consumers of a run join the same first generation
                 "group.initial.rebalance.delay.ms": "3000"}
        try:
            self.kafka = h.KafkaBroker(self.tmp, properties=props)
        except h.BrokerUnavailable as e:
            sys.exit("cluster_bench: the real Kafka broker is unavailable: %s" % e)
        self.kafka.create_topics({TOPIC: a.partitions, "sgs.alerts": 4, "sgs.rejects": 4,
                                  "sgs.snapshots": 1}, configs={"retention.ms": "-1"})
        say("broker: apache %s at %s (ready in %.1f s), heap %s"
            % (self.kafka.version, self.kafka.bootstrap, self.kafka.startup_seconds,
               " ".join(self.kafka.heap)))
        self.preload()
        say("setup: %.1f s" % (time.monotonic() - t0))

    def config(self, redis, group, prefix):
        values = {"topic.records": TOPIC,
                  "kafka.session.timeout.ms": "45000",
                  "kafka.heartbeat.interval.ms": "3000",
                  "kafka.topic.metadata.refresh.interval.ms": "300000",
                  "consumer.stats_interval_s": "10",
                  "consumer.retry_max_ms": "5000"}
        return h.sgs_config(self.tmp, self.kafka, redis.target(), group=group, prefix=prefix,
                            tag="sgs", **values)

    def preload(self):
        a = self.a
        r = h.RedisServer(self.tmp)  # only for the configuration file
        conf = h.sgs_config(self.tmp, self.kafka, r, group="gen", prefix="gen", tag="sgs")
        n = a.records
        self.expect_path = os.path.join(self.tmp, "gen.expect.json")
        cmd = [h.build_path("sgs-gen"), "-c", conf, "--month", MONTH, "--produce",
               "--expect", self.expect_path, "--seed", "20240301", "--records", str(n),
               "--late-share", "0.02", "--invalid", str(n // 100), "--duplicates",
               str(n // 200), "--unknown-unit", str(n // 1000), "--malformed",
               str(max(1, n // 10000)), "--key", a.key]
        t0 = time.monotonic()
        h.run(cmd, timeout=120 + n / 2000)
        with open(self.expect_path, encoding="utf-8") as f:
            self.expect = json.load(f)
        r.stop()
        say("preloaded %s: %d messages (%d records, --key %s) over %d partitions in %.1f s"
            % (TOPIC, self.expect["messages"], n, a.key, a.partitions, time.monotonic() - t0))

    def ends(self):
        return {p: hi for p, (lo, hi) in h.watermarks(self.kafka.bootstrap, TOPIC).items()}

    def run(self, redis, consumers, i):
        a = self.a
        tag = uuid.uuid4().hex[:8]
        group, prefix = "bench-%s" % tag, "b%s" % tag
        conf = self.config(redis, group, prefix)
        clients = redis.clients()
        for c in clients:
            c.config_resetstat()
        keys = ["%s:{%s:%d}:offset" % (prefix, TOPIC, p) for p in range(a.partitions)]
        where = [redis.node_of(k, clients) for k in keys]
        ends = self.ends()
        total = sum(ends.values())
        r0, b0 = redis.cpu(), cpu_s(self.kafka.pid) or 0.0
        procs = [h.spawn(h.consumer_cmd(conf, idle=3), self.tmp, name="c%d-%s" % (k, tag))
                 for k in range(consumers)]
        t_first = t_done = None
        polls = 0
        cons_cpu = 0.0
        deadline = time.monotonic() + 120 + total / 5000
        while True:
            now = time.monotonic()
            if now > deadline:
                sys.exit("cluster_bench: run not done after %.0f s" % (deadline - now))
            pipes = [c.pipeline(transaction=False) for c in clients]
            for k, w in zip(keys, where):
                pipes[w].get(k)
            got = [iter(p.execute()) for p in pipes]
            stored = [int(next(got[w]) or 0) for w in where]
            polls += 1
            if t_first is None and sum(stored) > 0:
                t_first = now
            if polls % 25 == 0 and a.key != "unit":
                ends = self.ends()  # forwarded copies add messages
                total = sum(ends.values())
            if all(stored[p] >= ends[p] for p in range(a.partitions)):
                ends2 = self.ends()
                if ends2 == ends:
                    t_done = now
                    cons_cpu = sum(cpu_s(p.pid) or 0.0 for p in procs)
                    break
                ends, total = ends2, sum(ends2.values())
            if any(not p.alive() for p in procs):
                bad = [p for p in procs if not p.alive() and p.returncode != 0]
                if bad:
                    sys.exit("cluster_bench: %s exited %s:\n%s"
                             % (bad[0].name, bad[0].returncode, bad[0].tail(20)))
            time.sleep(0.02)
        redis_cpu, broker_cpu = redis.cpu() - r0, (cpu_s(self.kafka.pid) or 0.0) - b0
        processed = 0
        for p in procs:
            rc = p.wait(60)
            if rc != 0:
                sys.exit("cluster_bench: %s exited %s:\n%s" % (p.name, rc, p.tail(20)))
            m = RE_SUMMARY.search(p.log())
            processed += int(m.group(1)) if m else 0
        evalsha = sum(int((c.info("commandstats").get("cmdstat_evalsha") or {})
                          .get("calls", 0)) for c in clients)
        h.check_counts(clients, self.expect, prefix=prefix, topic=TOPIC,
                       what="%s, %d consumers, run %d: " % (redis.label, consumers, i))
        secs = t_done - t_first
        res = {"masters": redis.masters, "consumers": consumers, "run": i,
               "messages": total, "secs": round(secs, 3), "rate": round(total / secs),
               "processed": processed, "evalsha": evalsha,
               "redis_cpu_s": round(redis_cpu, 2), "consumers_cpu_s": round(cons_cpu, 2),
               "broker_cpu_s": round(broker_cpu, 2)}
        say("  %s, %d consumer%s, run %d: %d msg in %.2f s = %d msg/s; Redis CPU %.2f s, "
            "consumers %.2f s, broker %.2f s; %d EVALSHA"
            % (redis.label, consumers, "" if consumers == 1 else "s", i, total, secs,
               res["rate"], redis_cpu, cons_cpu, broker_cpu, evalsha))
        for c in clients:
            c.close()
        return res


def table(results, labels):
    lines = ["| Redis | consumers | msg/s, median (all runs) | Redis CPU s per 100k msg | "
             "consumers' CPU s per 100k msg | msgs per EVALSHA |",
             "|---|---:|---|---:|---:|---:|"]
    keys = sorted({(r["masters"], r["consumers"]) for r in results})
    for m, c in keys:
        rs = [r for r in results if r["masters"] == m and r["consumers"] == c]
        rates = [r["rate"] for r in rs]
        med = statistics.median(rates)
        per = lambda f: statistics.median(r[f] * 1e5 / r["messages"] for r in rs)  # noqa: E731
        lines.append("| %s | %d | **%s** (%s) | %.2f | %.2f | %.0f |" % (
            labels[m], c, format(int(med), ","), ", ".join(format(x, ",") for x in rates),
            per("redis_cpu_s"), per("consumers_cpu_s"),
            statistics.median(r["messages"] / max(1, r["evalsha"]) for r in rs)))
    return "\n".join(lines)


def main():
    h.install_signal_handlers()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=300000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--masters", default="1,3", help="comma-separated (1: one redis-server)")
    ap.add_argument("--consumers", default="1,3", help="comma-separated")
    ap.add_argument("--replicas", type=int, default=0, help="replicas per cluster master")
    ap.add_argument("--key", choices=("unit", "mixed"), default="unit")
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--build", default=os.environ.get("SGS_BUILD_DIR"))
    a = ap.parse_args()
    if a.build:
        h.set_build_dir(a.build)
    masters = [int(x) for x in a.masters.split(",")]
    consumers = [int(x) for x in a.consumers.split(",")]
    say("cluster_bench: %d records, %d partitions, masters %s, consumers %s, %d runs each; "
        "%d cores, load average %s" % (a.records, a.partitions, masters, consumers, a.runs,
                                       os.cpu_count(), open("/proc/loadavg").read().split()[0]))
    results, labels = [], {}
    with h.Scope("cluster-bench"):
        b = Bench(a)
        b.start()
        setups = {}
        try:
            for m in masters:
                setups[m] = Redis(b.tmp, m, a.replicas)
                labels[m] = setups[m].label
            # interleaved: each round runs every setup once, so a change in
            # the machine's other load spreads over all of them
            for i in range(1, a.runs + 1):
                for m in masters:
                    for c in consumers:
                        results.append(b.run(setups[m], c, i))
        finally:
            for r in setups.values():
                r.stop()
    say("")
    say(table(results, labels))
    say("")
    say("load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()

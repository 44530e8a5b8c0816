#!/usr/bin/python3
"""End-to-end throughput benchmark of sgs-consumer (issue 7).

One run, one broker, one pre-loaded topic of realistic record events
(sgs-gen, ~570 bytes each, one calendar month, seeded; 2 % late, 1 % invalid,
0.5 % re-sent duplicates, 0.1 % unknown units, 0.01 % malformed). Then, for
each of --rounds rounds, three readers of the same topic:

  1. ceiling   bench/ceiling_consumer: a bare librdkafka group member that
               counts messages and does nothing with them (fresh group id;
               the same librdkafka settings as sgs-consumer);
  2. sgs       sgs-consumer end to end (parse, validate, deadline, one EVALSHA
               per partition per batch, alerts, rejects), fresh group id AND
               fresh Redis prefix (Redis is also flushed) so it starts from the
               beginning; run under /usr/bin/time -v for the peak RSS; Redis
               INFO commandstats before/after give the commands executed per
               message and the EVALSHA calls; its counters are checked against
               sgs-gen's expectation, so a broken run is never reported;
  3. peer      the Python reference peer peer_consumer.py (confluent-kafka +
               redis-py from Debian, /usr/bin/python3) on the whole topic,
               fresh group and prefix. Found as --peer FILE, else
               $SGSBENCH_PEER, else shared/bench/peer_consumer.py in a
               directory above the checkout, above its main worktree (git
               worktree) or above the local repository it was cloned from;
               on this machine /work/shared/bench/peer_consumer.py.

Rates: ceiling and sgs from their own summary lines (first message to last
one), the peer from its line. A ceiling run whose CPU time is under 0.6 s per
second of reading stalled (librdkafka 2.0's fetcher asleep with its queue
drained) and is run again, up to three runs a round; the fastest counts and the
stalled rates are listed under the CPU table. That table also gives each
program's main thread (from /proc schedstat): its CPU time and the time it was
runnable but waiting for a core (on this 2-core machine, shared with the
broker and Redis, a good part of sgs's reading time). Every run is under
/usr/bin/time -v, and the CPU seconds used during each run by redis-server
(its INFO cpu, to the microsecond) and by the broker (/proc, in 10 ms ticks)
are read, so the table shows where the time goes.

Peak RSS independent of volume: every sgs run samples its RSS from /proc
(when half of its CPU work is done, and at the end); after the rounds, one more sgs run reads a
second topic holding twice as many records (--no-double skips it).

Allocations per message (--allocs): one more ceiling run and one more sgs run
under the LD_PRELOAD allocation counter bench/preload/alloc_count.c
(build/libsgs_alloc_count.so), which samples the process's cumulative
malloc/calloc/realloc/memalign counts every 5 ms. Message counts at known times
come from the ceiling's own progress lines (--progress 5) and, for sgs, from the
sum of the offsets it stored in Redis, read every 20 ms (its stats line is not
printed while messages keep coming). The allocation counts are interpolated to
the first and the last of those times that lie between 20 % and 80 % of the
messages, so start-up, group joins and shutdown stay out. The ceiling's figure
is librdkafka's own per-message allocation; sgs's minus the ceiling's is what
sgs itself allocates per message. librdkafka allocates a message when it
fetches it, on its own threads, up to the prefetch cap ahead of the poll, so on
short runs (the mock's, or a topic not much larger than the prefetch queues)
the whole-process figures drift. The counter also counts the main thread alone
(the thread that polls and handles the messages): that figure does not drift.

The real Apache Kafka broker (sgstest.KafkaBroker of the tests' start-up
library tests/lib, jars from scripts/kafka-jars.sh or $SGS_KAFKA_JARS) is the
default. --broker mock
uses librdkafka's mock cluster (sgs-devbroker) instead, loudly, with 120,000
records over 32 partitions by default: it keeps only ~5 MiB per partition.

usage: bench/run.sh [--records N] [--rounds N] [--broker apache|mock]
                    [--partitions N] [--json FILE] [--build DIR]
                    [--set KEY=VALUE]... [--sgs-wrap CMD] [--ceiling-wrap CMD]
                    [--no-peer] [--peer FILE]
                    [--no-double] [--redis-aof yes|no] [--allocs] [--pin]
(bench/run.sh builds what is missing and runs this with tests/lib on
PYTHONPATH.) --set adds configuration
for sgs-consumer and the ceiling alike (e.g. kafka.queued.max.messages.kbytes);
--sgs-wrap prefixes the sgs-consumer command (perf record, strace ...),
--ceiling-wrap the ceiling's (e.g. to give it sgs-consumer's allocator).
--pin gives each reader's main thread CPU 0 to itself and puts everything
else (the readers' other threads, the broker, Redis, this script) on CPU 1:
on two cores, what a reader does when the thread that handles its messages
has a core of its own, as where the broker and Redis run on other hosts.
The ceiling, sgs and the peer are pinned alike.

Targets (issue 7): sgs >= 50 % of the ceiling on both brokers, >= 30x the
peer on the real broker, peak RSS <= 64 MB and not growing with volume, at
most one Redis round trip per batch.
"""
import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
import uuid

try:
    import sgstest as h
except ImportError:
    sys.exit("throughput: run it with bench/run.sh (it puts tests/lib, the start-up "
             "library, on PYTHONPATH)")

SOURCE = h.SOURCE_DIR
PEER_NAME = os.path.join("shared", "bench", "peer_consumer.py")
MONTH = "2024-03"
TOPIC, TOPIC2X = "sgs.records", "sgs.records2x"  # the peer hard-codes sgs.alerts/rejects
TICK = os.sysconf("SC_CLK_TCK")
CEILING_TRIES = 3  # ceiling runs per round at most (Bench.ceiling_unstalled)
CEILING_STALL = 0.6  # CPU seconds per second of reading below which a ceiling run stalled
PIN_MAIN, PIN_REST = 0, 1  # --pin: the readers' main threads; everything else

RE_CEIL = re.compile(r"^ceiling: (\d+) messages in ([\d.]+) s \(([\d.]+) msg/s\)", re.M)
RE_SGS = re.compile(r"^sgs-consumer: processed (\d+) messages in ([\d.]+) s \(([\d.]+) msg/s\)",
                    re.M)
RE_PEER = re.compile(r"^peer: (\d+) messages in ([\d.]+) s = ([\d.]+) msg/s", re.M)
RE_CEIL_PROGRESS = re.compile(r"^ceiling: progress at (\d+) ms: (\d+) messages", re.M)
ALLOC_LIB = "libsgs_alloc_count.so"
ALLOC_SAMPLE_MS = 5  # the counter's sampling interval and the ceiling's progress interval
ALLOC_WINDOW = (0.2, 0.8)  # steady state: between these shares of the messages
RE_TIME = {
    "max_rss_kb": re.compile(r"Maximum resident set size \(kbytes\): (\d+)"),
    "user_s": re.compile(r"User time \(seconds\): ([\d.]+)"),
    "sys_s": re.compile(r"System time \(seconds\): ([\d.]+)"),
    "wall": re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)"),
    "cpu_pct": re.compile(r"Percent of CPU this job got: (\d+)%"),
}


def say(line=""):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def cpu_s(pid):
    """utime + stime of a whole process (all threads), seconds; None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError, TypeError):
        return None


def sched_s(pid):
    """/proc schedstat of a process's threads: (main thread's CPU s, the time
    it waited runnable for a core s, all threads' CPU s, all threads' wait s);
    None if gone. The main thread (tid == pid) is the one that polls and
    handles the messages."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except (OSError, TypeError):
        return None
    main = [0.0, 0.0]
    total = [0.0, 0.0]
    for t in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                cpu, wait = (int(x) / 1e9 for x in f.read().split()[:2])
        except (OSError, ValueError):
            continue
        total[0] += cpu
        total[1] += wait
        if int(t) == pid:
            main = [cpu, wait]
    return (main[0], main[1], total[0], total[1])


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, TypeError):
        return None
    return None


def pin_threads(pid, main_cpu, rest_cpu):
    """The threads of process pid onto CPUs: its main thread (tid == pid) on
    main_cpu, the others on rest_cpu (os.sched_setaffinity on a thread id
    moves that thread only)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except (OSError, TypeError):
        return
    for t in tids:
        try:
            os.sched_setaffinity(int(t), {main_cpu if int(t) == pid else rest_cpu})
        except OSError:
            pass  # gone meanwhile


def pin_reader(pid):
    """--pin: a reader's main thread (the one that polls and handles the
    messages) on CPU 0, its other threads (librdkafka's) on CPU 1. Called
    every 20 ms while it runs: a thread the main thread starts inherits CPU 0
    and is moved at the next call."""
    pin_threads(pid, PIN_MAIN, PIN_REST)


def child_pid(pid):
    """The (single) child of `pid`: the program /usr/bin/time runs."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


def parse_time_v(text):
    out = {}
    for k, rx in RE_TIME.items():
        m = rx.search(text)
        if m:
            out[k] = m.group(1) if k == "wall" else float(m.group(1))
    return out


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = h.make_tmpdir("bench")
        self.build = a.build

    # ---- setup ----------------------------------------------------------

    def start(self):
        a = self.a
        t0 = time.monotonic()
        self.redis = h.RedisServer(self.tmp, extra_args=self.redis_args())
        if a.broker == "mock":
            say("*** --broker mock: librdkafka's MOCK cluster (sgs-devbroker), not Apache "
                "Kafka; it keeps ~5 MiB per partition, so %d records over %d partitions ***"
                % (a.records, a.partitions))
            self.kafka = h.MockBroker(self.tmp, partitions=a.partitions)
            self.kafka.create_topics({TOPIC2X: a.partitions}, exist_ok=True)
        else:
            props = {
                # production-like segments (the harness uses 1 MiB ones for tests)
                "log.segment.bytes": str(1 << 30),
                "log.index.size.max.bytes": str(10 << 20),
            }
            try:
                self.kafka = h.KafkaBroker(self.tmp, properties=props)
            except h.BrokerUnavailable as e:
                sys.exit("throughput: the real Kafka broker is unavailable: %s\n"
                         "  (set SGS_KAFKA_JARS, or run with --broker mock on purpose)" % e)
            self.kafka.create_topics({TOPIC: a.partitions, TOPIC2X: a.partitions,
                                      "sgs.alerts": 4, "sgs.rejects": 4},
                                     configs={"retention.ms": "-1"})
        say("broker: %s %s at %s (ready in %.1f s)%s; redis-server %d; %s"
            % (self.kafka.kind, self.kafka.version, self.kafka.bootstrap,
               self.kafka.startup_seconds or 0,
               " heap %s" % " ".join(self.kafka.heap) if a.broker == "apache" else "",
               self.redis.port, "AOF everysec" if a.redis_aof else "no persistence"))
        if a.pin:
            # the readers' main threads get CPU 0 to themselves (pin_reader)
            for pid in (os.getpid(), self.kafka.pid, self.redis.pid):
                pin_threads(pid, PIN_REST, PIN_REST)
            say("pinned: each reader's main thread on CPU %d; its other threads, the broker, "
                "Redis and this benchmark on CPU %d" % (PIN_MAIN, PIN_REST))
        self.conf = self.config("bench-gen", "gen")
        self.topic = TOPIC
        self.expect = self.preload(TOPIC, a.records, a.seed, MONTH)
        say("setup: %.1f s" % (time.monotonic() - t0))

    def redis_args(self):
        args = ["--maxmemory-policy", "noeviction"]
        if self.a.redis_aof:
            # as deployed (docs/OPERATIONS.md): AOF, fsync every second
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        return args

    def config(self, group, prefix, topic=TOPIC):
        values = {"topic.records": topic,
                  # production settings, not the test harness's short ones
                  "kafka.session.timeout.ms": "45000",
                  "kafka.heartbeat.interval.ms": "3000",
                  "kafka.topic.metadata.refresh.interval.ms": "300000",
                  "consumer.stats_interval_s": "10",
                  "consumer.retry_max_ms": "5000"}
        values.update(kv.split("=", 1) for kv in self.a.set)
        return h.sgs_config(self.tmp, self.kafka, self.redis, group=group, prefix=prefix,
                                  tag="sgs", **values)

    def preload(self, topic, records, seed, month):
        a = self.a
        conf = self.config("bench-gen", "gen", topic=topic)
        opts = dict(seed=seed, records=records, late_share=0.02,
                    invalid=records // 100, duplicates=records // 200,
                    unknown_unit=records // 1000, malformed=max(1, records // 10000))
        expect_path = os.path.join(self.tmp, "gen-%s.expect.json" % topic)
        cmd = [h.build_path("sgs-gen"), "-c", conf, "--month", month, "--produce",
               "--expect", expect_path]
        if a.key != "unit":
            cmd += ["--key", a.key]
        for k, v in opts.items():
            cmd += ["--" + k.replace("_", "-"), str(v)]
        t0 = time.monotonic()
        h.run(cmd, timeout=120 + records / 2000)
        secs = time.monotonic() - t0
        with open(expect_path, encoding="utf-8") as f:
            expect = json.load(f)
        n = expect["messages"]
        lo, hi = self.watermarks(topic)
        if sum(hi) - sum(lo) != n or any(lo):
            sys.exit("throughput: %s holds offsets %s..%s, expected %d messages from 0 "
                     "(mock eviction? use fewer records or more partitions)"
                     % (topic, lo, hi, n))
        size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in
                   os.walk(getattr(self.kafka, "data_dir", self.tmp)) for f in fs
                   if topic + "-" in r and f.endswith(".log")) if a.broker == "apache" else 0
        say("preloaded %s: %d messages (%d records, %d duplicates, %d unknown-unit, "
            "%d malformed) in %.1f s%s"
            % (topic, n, records, opts["duplicates"], opts["unknown_unit"], opts["malformed"],
               secs, ", %.0f MB on disk (lz4)" % (size / 1e6) if size else ""))
        return expect

    def watermarks(self, topic):
        from confluent_kafka import Consumer, TopicPartition
        parts = h.topic_partitions(self.kafka.bootstrap, topic)
        c = Consumer({"bootstrap.servers": self.kafka.bootstrap, "group.id": "bench-wm",
                      "log_level": 3})
        try:
            lo, hi = [], []
            for p in parts:
                l_, h_ = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                lo.append(l_)
                hi.append(h_)
            return lo, hi
        finally:
            c.close()

    # ---- one timed program ---------------------------------------------

    def redis_cpu_s(self):
        """Redis's own CPU seconds (INFO cpu: used_cpu_user + used_cpu_sys,
        getrusage to the microsecond; /proc's figures are whole 10 ms ticks,
        too coarse for the mock's ~0.1 s of Redis time); None if unreachable."""
        r = self.redis.client()
        try:
            info = r.info("cpu")
            return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        except Exception:  # noqa: BLE001 - a figure left out, never a failed run
            return None
        finally:
            r.close()

    def timed(self, cmd, name, timeout, sample=False, probe=None):
        """Runs cmd under /usr/bin/time -v; returns its log, the time -v
        figures, redis/broker CPU seconds used meanwhile, RSS samples (if
        sample) and the program's threads' schedstat (sched_s: what its main
        thread ran and waited for a core; the program is the child of time -v:
        sgs() drops them for a --sgs-wrap command, whose figures they are).
        probe, if given, is called every 20 ms while cmd runs."""
        kpid = self.kafka.pid
        r0, k0 = self.redis_cpu_s(), cpu_s(kpid)
        t0 = time.monotonic()
        p = h.spawn(["/usr/bin/time", "-v"] + cmd, self.tmp, name=name)
        samples, kid, sched = [], None, None
        deadline = t0 + timeout
        while p.alive():
            if time.monotonic() > deadline:
                p.kill()
                sys.exit("throughput: %s did not finish in %d s:\n%s" % (name, timeout,
                                                                          p.tail(20)))
            kid = kid or child_pid(p.pid)
            if kid and self.a.pin:
                pin_reader(kid)
            if sample:
                kb = rss_kb(kid) if kid else None
                if kb:
                    samples.append((time.monotonic() - t0, kb, cpu_s(kid) or 0.0))
            # the last reading before it exits (every reader idles at its end)
            sched = (sched_s(kid) if kid else None) or sched
            if probe:
                probe()
            time.sleep(0.02 if probe or self.a.pin else 0.25 if sample else 0.1)
        rc = p.wait()
        wall = time.monotonic() - t0
        r1, k1 = self.redis_cpu_s(), cpu_s(kpid)
        log = p.log()
        if rc != 0:
            sys.exit("throughput: %s exited with status %s:\n%s" % (name, rc, p.tail(30)))
        tv = parse_time_v(log)
        return {"log": log, "wall_s": wall, "time": tv,
                "cpu_s": tv.get("user_s", 0) + tv.get("sys_s", 0),
                "redis_cpu_s": (r1 - r0) if r0 is not None and r1 is not None else None,
                "broker_cpu_s": (k1 - k0) if k0 is not None and k1 is not None else None,
                "rss_samples": samples, "sched": sched}

    @staticmethod
    def strip(res):
        out = dict(res)
        out.pop("log", None)
        s = out.pop("rss_samples", [])
        if s:
            out["rss_mb_half"] = rss_at(s, 0.5) / 1024.0
            out["rss_mb_end"] = s[-1][1] / 1024.0
            out["rss_mb_max_sampled"] = max(x[1] for x in s) / 1024.0
        return out

    # ---- the three readers ------------------------------------------------

    def ceiling(self, rnd, name=None, prefix=(), extra=()):
        n = self.expect["messages"]
        group = "bench-ceiling-%s-%s" % (rnd, uuid.uuid4().hex[:8])
        if not prefix and self.a.ceiling_wrap:
            prefix = shlex.split(self.a.ceiling_wrap.replace("{name}", name or "ceiling-%s" % rnd))
        res = self.timed(list(prefix) + [h.build_path("ceiling_consumer"), "-c", self.conf,
                                         "--group", group, "--messages", str(n), "--idle", "5"]
                         + list(extra), name or "ceiling-%s" % rnd, self.timeout(n))
        m = RE_CEIL.search(res["log"])
        if not m or int(m.group(1)) != n:
            sys.exit("throughput: ceiling read %s of %d messages:\n%s"
                     % (m.group(1) if m else "?", n, res["log"][-2000:]))
        res.update(messages=n, secs=float(m.group(2)), rate=float(m.group(3)))
        return res

    def ceiling_unstalled(self, rnd):
        """A ceiling run that did not stall. librdkafka 2.0's fetcher
        sometimes sleeps for up to a second with its queue drained (sgs wakes
        it: consumer/kick.c; the bare ceiling does not), so a ceiling run may
        read the topic at a fraction of its rate with its CPU idle. Such a run
        measures the stall, not librdkafka; it is run again, at most
        CEILING_TRIES times in all, and the fastest run is kept. A run is
        stalled when its CPU time is under CEILING_STALL of its reading time
        (a run that reads flat out keeps a core busy: 0.8-1.3 here)."""
        best, stalled = None, []
        for attempt in range(CEILING_TRIES):
            c = self.ceiling(rnd if attempt == 0 else "%s-again%d" % (rnd, attempt))
            busy = c["cpu_s"] / c["secs"] if c["secs"] > 0 else 1.0
            if best is None or c["rate"] > best["rate"]:
                best = c
            if busy >= CEILING_STALL:
                break
            stalled.append(c["rate"])
            say("  ceiling  %9.0f msg/s  %.2f s with %.2f s of CPU: stalled; run again"
                % (c["rate"], c["secs"], c["cpu_s"]))
        best["stalled_runs"] = stalled
        return best

    def sgs(self, name, topic, expect, sample=True, wrap=None, progress=False):
        r = self.redis.client()
        r.flushall()
        r.config_resetstat()
        mem0 = r.info("memory")["used_memory"]
        tag = "%s-%s" % (name, uuid.uuid4().hex[:8])
        conf = self.config("bench-" + tag, "b" + tag.replace("-", ""), topic=topic)
        prefix = "b" + tag.replace("-", "")
        n = expect["messages"]
        if wrap is None:
            wrap = shlex.split(self.a.sgs_wrap.replace("{name}", name)) if self.a.sgs_wrap else []
        timeline, probe = [], None
        if progress:
            # messages done so far: the sum of the offsets stored in Redis, read
            # with one MGET every 20 ms (CLOCK_MONOTONIC ms, as the counter's)
            keys = ["%s:{%s:%d}:offset" % (prefix, topic, p) for p in range(self.a.partitions)]

            def probe():
                t = time.monotonic()
                timeline.append((int(1000 * t), sum(int(v or 0) for v in r.mget(keys))))
        res = self.timed(wrap + [h.build_path("sgs-consumer"), "-c", conf, "--exit-on-idle", "3"],
                         name, self.timeout(n), sample=sample and not wrap, probe=probe)
        if wrap:
            res["sched"] = None  # the wrapper's threads, not sgs's
        if progress:
            res["progress"] = timeline
        m = RE_SGS.search(res["log"])
        if not m:
            sys.exit("throughput: %s: no summary line:\n%s" % (name, res["log"][-3000:]))
        got = int(m.group(1))
        # The benchmark never measures a broken run: every counter must match.
        if got != n:
            sys.exit("throughput: %s processed %d messages, expected %d" % (name, got, n))
        h.check_counts(r, expect, prefix=prefix, topic=topic, what=name + ": ")
        stored = h.stored_offsets(r, prefix=prefix, topic=topic)
        # every message read once, forwarded copies too (a keyed run forwards none)
        if stored < n or (self.a.key == "unit" and stored != n):
            sys.exit("throughput: %s: stored offsets sum to %d, expected %d" % (name, stored, n))
        mem1 = r.info("memory")["used_memory"]
        records = sum(u["records"] for u in expect["units"].values())
        cstats = r.info("commandstats")
        stats = {k[len("cmdstat_"):] if k.startswith("cmdstat_") else k: v["calls"]
                 for k, v in cstats.items()}
        # Redis time per command (usec, scripts' own calls included in theirs and
        # counted again under each command they call)
        usec = {k[len("cmdstat_"):] if k.startswith("cmdstat_") else k: v.get("usec", 0)
                for k, v in cstats.items()}
        r.close()
        ours = ("info", "config", "flushall", "scan", "hgetall", "get", "ping", "hello",
                "client")
        # consumer: SADD/GET/HGETALL on assignment are its only direct commands besides
        # SCRIPT LOAD and EVALSHA; the check above used SCAN/HGETALL/GET.
        evalsha = stats.get("evalsha", 0)
        executed = sum(v for k, v in stats.items()
                       if k.split("|")[0] not in ours + ("evalsha", "script"))
        res.update(messages=n, secs=float(m.group(2)), rate=float(m.group(3)),
                   forwarded_copies=stored - n,
                   redis_mem_bytes=mem1 - mem0,
                   redis_bytes_per_record=(mem1 - mem0) / records if records else None,
                   redis_us_per_msg=(res["redis_cpu_s"] * 1e6 / n
                                     if res.get("redis_cpu_s") is not None else None),
                   redis_calls=stats, redis_usec=usec, evalsha=evalsha,
                   cmds_per_msg=executed / n, msgs_per_evalsha=n / evalsha if evalsha else None)
        return res

    def peer(self, rnd):
        n = self.expect["messages"]
        tag = "peer%d%s" % (rnd, uuid.uuid4().hex[:6])
        r = self.redis.client()
        r.flushall()
        r.close()
        cmd = ["/usr/bin/python3", self.a.peer, "--brokers", self.kafka.bootstrap,
               "--redis-port", str(self.redis.port),
               "--units", h.source_path("configs", "units.tsv"),
               "--calendar", h.source_path("configs", "calendar-cn.json"),
               "--topic", self.topic, "--group", tag, "--prefix", tag]
        res = self.timed(cmd, "peer-%d" % rnd, self.timeout(n, per_s=2000))
        m = RE_PEER.search(res["log"])
        if not m:
            sys.exit("throughput: peer: no summary line:\n%s" % res["log"][-3000:])
        if int(m.group(1)) != n:
            sys.exit("throughput: peer read %s of %d messages" % (m.group(1), n))
        res.update(messages=n, secs=float(m.group(2)), rate=float(m.group(3)))
        return res

    @staticmethod
    def timeout(n, per_s=5000):
        return 120 + n / per_s

    # ---- allocations per message (--allocs) ----------------------------------

    def alloc_env(self, name):
        out = os.path.join(self.tmp, "%s.allocs" % name)
        return out, ["env", "LD_PRELOAD=" + h.build_path(ALLOC_LIB), "ALLOC_COUNT_OUT=" + out,
                     "ALLOC_COUNT_INTERVAL_MS=%d" % ALLOC_SAMPLE_MS]

    def allocs(self):
        """One ceiling run and one sgs run under the allocation counter."""
        n = self.expect["messages"]
        out, env = self.alloc_env("ceiling-allocs")
        c = self.ceiling("allocs", name="ceiling-allocs", prefix=env,
                         extra=("--progress", str(ALLOC_SAMPLE_MS)))
        timeline = [(int(t), int(m)) for t, m in RE_CEIL_PROGRESS.findall(c["log"])]
        ca = alloc_figures(read_alloc_samples(out), "monotonic_ms", timeline, n)
        out, env = self.alloc_env("sgs-allocs")
        s = self.sgs("sgs-allocs", TOPIC, self.expect, sample=False, wrap=env, progress=True)
        sa = alloc_figures(read_alloc_samples(out), "monotonic_ms", s.pop("progress"), n)
        for what, x, run in (("ceiling", ca, c), ("sgs", sa, s)):
            if x is None:
                say("  %-8s allocations: too few progress points in the run (%.0f msg/s over "
                    "%.2f s); use more records" % (what, run["rate"], run["secs"]))
                continue
            x["rate"] = run["rate"]
            say("  %-8s %.3f allocations/msg (%.3f frees/msg, %.0f bytes/msg), main thread "
                "%.4f (%.0f bytes/msg), over messages %d..%d of %d (%.2f s)%s; all run: %d "
                "allocations (%.2f per message), main thread %d"
                % (what, x["per_msg"], x["frees_per_msg"], x["bytes_per_msg"],
                   x["main_per_msg"], x["main_bytes_per_msg"],
                   x["window_messages"][0], x["window_messages"][1], n, x["window_s"],
                   "" if x["steady"] else " (WIDENED: fewer than 2 points in 20-80 %)",
                   x["total_allocs"], x["total_allocs"] / n, x["total_main_allocs"]))
        own = sa["per_msg"] - ca["per_msg"] if ca and sa else None
        return {"ceiling": ca, "sgs": sa, "sgs_own_per_msg": own,
                "sample_ms": ALLOC_SAMPLE_MS, "window": ALLOC_WINDOW}

    # ---- the run ------------------------------------------------------------

    def fresh_topic(self, rnd):
        """A new topic with the same records for round rnd. Unkeyed, sgs forwards
        most messages to their unit's partition of the topic it reads, so a round
        on the first topic would also read every earlier round's copies."""
        a = self.a
        topic = "%s.r%d" % (TOPIC, rnd)
        self.kafka.create_topics({topic: a.partitions}, configs={"retention.ms": "-1"})
        self.topic = topic
        self.conf = self.config("bench-gen", "gen", topic=topic)
        self.expect = self.preload(topic, a.records, a.seed, MONTH)

    def run(self):
        a = self.a
        rounds = []
        for i in range(1, a.rounds + 1):
            if a.key != "unit" and i > 1:
                self.fresh_topic(i)
            load = os.getloadavg()[0]
            say("round %d/%d (load average %.2f)" % (i, a.rounds, load))
            c = self.ceiling_unstalled(i)
            p = None
            if not a.no_peer and a.key != "unit":
                p = self.peer(i)  # before sgs adds its forwarded copies to the topic
            say("  ceiling  %9.0f msg/s  %.2f s  cpu %.1f s, broker %.1f s, peak RSS %.1f MiB"
                % (c["rate"], c["secs"], c["cpu_s"], c["broker_cpu_s"] or 0,
                   c["time"].get("max_rss_kb", 0) / 1024.0))
            s = self.sgs("sgs-%d" % i, self.topic, self.expect)
            say("  sgs      %9.0f msg/s  %.2f s  cpu %.1f s, redis %.1f s (%.2f us/msg), broker "
                "%.1f s, peak RSS %.1f MiB, Redis memory %.1f bytes/record, %.2f Redis cmds/msg, "
                "%.0f msgs/EVALSHA, %d copies forwarded; counters checked"
                % (s["rate"], s["secs"], s["cpu_s"], s["redis_cpu_s"] or 0,
                   s["redis_us_per_msg"] or 0, s["broker_cpu_s"] or 0,
                   s["time"].get("max_rss_kb", 0) / 1024.0, s["redis_bytes_per_record"] or 0,
                   s["cmds_per_msg"], s["msgs_per_evalsha"] or 0, s["forwarded_copies"]))
            if s.get("sched"):
                say("           main thread: %.2f s of CPU, %.2f s runnable waiting for a core"
                    % s["sched"][:2])
            if not a.no_peer:
                if p is None:
                    p = self.peer(i)
                say("  peer     %9.0f msg/s  %.2f s  cpu %.1f s, redis %.1f s, broker %.1f s"
                    % (p["rate"], p["secs"], p["cpu_s"], p["redis_cpu_s"] or 0,
                       p["broker_cpu_s"] or 0))
            rounds.append({"load": load, "ceiling": c, "sgs": s, "peer": p})
        double = None
        if not a.no_double:
            say("volume check: %d more records on %s, one sgs run over twice the records"
                % (2 * a.records, TOPIC2X))
            exp2 = self.preload(TOPIC2X, 2 * a.records, a.seed + 1, MONTH)
            double = self.sgs("sgs-2x", TOPIC2X, exp2)
            say("  sgs 2x   %9.0f msg/s  %.2f s  peak RSS %.1f MiB (1x rounds: %s MiB)"
                % (double["rate"], double["secs"], double["time"].get("max_rss_kb", 0) / 1024.0,
                   ", ".join("%.1f" % (r["sgs"]["time"].get("max_rss_kb", 0) / 1024.0)
                             for r in rounds)))
        allocs = None
        if a.allocs:
            say("allocations: one ceiling and one sgs run under %s" % ALLOC_LIB)
            allocs = self.allocs()
        return rounds, double, allocs


def read_alloc_samples(path):
    """The counter's samples (bench/preload/alloc_count.c): dicts by column name."""
    cols, rows = None, []
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("# monotonic_ms"):
                    cols = line[1:].split()
                elif line.strip() and not line.startswith("#") and cols:
                    rows.append(dict(zip(cols, (int(x) for x in line.split()))))
    except OSError as e:
        sys.exit("throughput: no allocation samples: %s" % e)
    return rows


def alloc_figures(samples, clock, timeline, n):
    """Allocations per message in steady state. timeline: (time in ms on `clock`,
    messages so far) from the run's progress (see Bench.allocs); the cumulative
    counts are interpolated to the first and last such points between
    ALLOC_WINDOW of the n messages (all points strictly inside the run if fewer
    than two are). None if there are not two points."""
    keys = ("mallocs", "callocs", "reallocs", "memaligns", "frees", "bytes", "main_allocs",
            "main_frees", "main_bytes")
    samples = sorted(samples, key=lambda x: x[clock])
    pts = sorted(p for p in set(timeline) if 0 < p[1] < n)
    lo, hi = ALLOC_WINDOW
    inside = [p for p in pts if lo * n <= p[1] <= hi * n]
    steady = len(inside) >= 2 and inside[-1][1] > inside[0][1]
    if not steady:
        inside = pts
    if len(samples) < 2 or len(inside) < 2 or inside[-1][1] <= inside[0][1]:
        return None
    (t0, m0), (t1, m1) = inside[0], inside[-1]

    def at(t):
        # linear between the samples around t (ms resolution)
        prev = samples[0]
        for x in samples:
            if x[clock] >= t:
                if x[clock] == prev[clock]:
                    return x
                f = (t - prev[clock]) / (x[clock] - prev[clock])
                return {k: prev[k] + f * (x[k] - prev[k]) for k in keys}
            prev = x
        return samples[-1]

    a0, a1 = at(t0), at(t1)
    msgs = m1 - m0
    d = {k: (a1[k] - a0[k]) / msgs for k in keys}
    allocs = ("mallocs", "callocs", "reallocs", "memaligns")
    last = samples[-1]
    return {"per_msg": sum(d[k] for k in allocs), "frees_per_msg": d["frees"],
            "bytes_per_msg": d["bytes"], "by_call_per_msg": {k: d[k] for k in allocs},
            "main_per_msg": d["main_allocs"], "main_frees_per_msg": d["main_frees"],
            "main_bytes_per_msg": d["main_bytes"],
            "window_messages": [m0, m1], "window_s": (t1 - t0) / 1000.0, "steady": steady,
            "progress_points": len(pts), "total_allocs": sum(last[k] for k in allocs),
            "total_bytes": last["bytes"], "total_main_allocs": last["main_allocs"]}


def rss_at(samples, frac):
    """RSS (kB) when the program had used `frac` of its CPU time (so "half" is
    half of the work, not half of a wall time that includes joining the group
    and the idle wait at the end)."""
    target = frac * samples[-1][2]
    return min(samples, key=lambda s: abs(s[2] - target))[1]


def fmt_table(rounds, double):
    head = ("round", "ceiling msg/s", "sgs msg/s", "peer msg/s", "sgs/ceiling", "sgs/peer",
            "sgs RSS MiB", "Redis cmds/msg", "msgs/EVALSHA", "Redis CPU us/msg",
            "Redis bytes/record")
    rows = []
    vals = []
    for i, r in enumerate(rounds, 1):
        c, s, p = r["ceiling"], r["sgs"], r["peer"]
        v = (c["rate"], s["rate"], p["rate"] if p else None,
             s["rate"] / c["rate"], s["rate"] / p["rate"] if p else None,
             s["time"].get("max_rss_kb", 0) / 1024.0, s["cmds_per_msg"],
             s["msgs_per_evalsha"] or 0, s["redis_us_per_msg"], s["redis_bytes_per_record"])
        vals.append(v)
        rows.append((str(i),) + v)
    med = []
    for j in range(len(head) - 1):
        col = [v[j] for v in vals if v[j] is not None]
        med.append(statistics.median(col) if col else None)
    rows.append(("median",) + tuple(med))

    def cell(j, x):
        if x is None:
            return "-"
        if isinstance(x, str):
            return x
        if j in (1, 2, 3):
            return "{:,.0f}".format(x)
        if j == 4:
            return "%.0f %%" % (100 * x)
        if j == 5:
            return "%.1fx" % x
        if j in (8, 10):
            return "%.0f" % x
        return "%.2f" % x if j in (7, 9) else "%.1f" % x

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        lines.append("| " + " | ".join(cell(j, x) for j, x in enumerate(row)) + " |")
    cpu = ["", "| run | reading s | own CPU s | main thread CPU s | main thread waiting for "
           "a core s | redis-server CPU s | broker CPU s |",
           "|---|---|---|---|---|---|---|"]

    def cpu_row(label, x):
        sc = x.get("sched")
        main = ("%.2f | %.2f" % (sc[0], sc[1])) if sc else "- | -"
        return ("| %s | %.2f | %.2f | %s | %.2f | %.1f |"
                % (label, x["secs"], x["cpu_s"], main, x["redis_cpu_s"] or 0,
                   x["broker_cpu_s"] or 0))

    for i, r in enumerate(rounds, 1):
        for k in ("ceiling", "sgs", "peer"):
            x = r[k]
            if x:
                cpu.append(cpu_row("%s %d" % (k, i), x))
        stalled = r["ceiling"].get("stalled_runs")
        if stalled:
            cpu.append("| (ceiling %d, stalled and run again: %s msg/s) | | | | | | |"
                       % (i, ", ".join("{:,.0f}".format(v) for v in stalled)))
    if double:
        cpu.append(cpu_row("sgs 2x", double))
    rss = ["", "| sgs run | messages | peak RSS MiB (time -v) | RSS at half the work MiB "
           "| RSS at end MiB |",
           "|---|---|---|---|---|"]
    for i, r in enumerate(rounds, 1):
        s = Bench.strip(r["sgs"])
        rss.append("| round %d | %d | %.1f | %.1f | %.1f |"
                   % (i, s["messages"], s["time"].get("max_rss_kb", 0) / 1024.0,
                      s.get("rss_mb_half", 0), s.get("rss_mb_end", 0)))
    if double:
        s = Bench.strip(double)
        rss.append("| 2x records | %d | %.1f | %.1f | %.1f |"
                   % (s["messages"], s["time"].get("max_rss_kb", 0) / 1024.0,
                      s.get("rss_mb_half", 0), s.get("rss_mb_end", 0)))
    return "\n".join(lines + cpu + rss), med


def machine():
    info = {"nproc": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import confluent_kafka
        info["librdkafka"] = confluent_kafka.libversion()[0]
    except Exception:
        pass
    try:
        info["redis"] = subprocess.run(["redis-server", "--version"], capture_output=True,
                                       text=True).stdout.split()[2]
    except Exception:
        pass
    return info


def peer_roots():
    """Where a checkout's shared/ directory may be: the checkout, its main
    worktree (for a `git worktree`), and the local repository it was cloned
    from."""
    roots = [SOURCE]
    for args in (["rev-parse", "--path-format=absolute", "--git-common-dir"],
                 ["remote", "get-url", "origin"]):
        try:
            r = subprocess.run(["git", "-C", SOURCE] + args, capture_output=True, text=True,
                               timeout=10, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            continue
        d = r.stdout.strip()
        if r.returncode == 0 and d.startswith("/") and os.path.isdir(d):
            roots.append(d)
    return roots


def find_peer(explicit):
    """The Python peer: --peer, else $SGSBENCH_PEER (not SGS_*: every SGS_*
    variable is a configuration key for the sgs programs, which refuse unknown
    ones), else shared/bench/peer_consumer.py in the nearest directory above
    one of peer_roots(). Returns (path or None, the places looked at)."""
    if explicit:
        return explicit, [explicit]
    if os.environ.get("SGSBENCH_PEER"):
        return os.environ["SGSBENCH_PEER"], ["SGSBENCH_PEER=" + os.environ["SGSBENCH_PEER"]]
    looked = []
    for root in peer_roots():
        d = os.path.abspath(root)
        while True:
            cand = os.path.join(d, PEER_NAME)
            if cand not in looked:
                looked.append(cand)
                if os.path.isfile(cand):
                    return cand, looked
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    return None, looked


def main():
    h.install_signal_handlers()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, help="records to preload (default 1,000,000; "
                    "mock 120,000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--broker", choices=("apache", "mock"), default="apache")
    ap.add_argument("--partitions", type=int, help="partitions of the topic (default 8; mock 32)")
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--build", default=os.environ.get("SGS_BUILD_DIR")
                    or os.path.join(SOURCE, "build"))
    ap.add_argument("--seed", type=int, default=20240301)
    ap.add_argument("--no-peer", action="store_true", help="skip the Python peer")
    ap.add_argument("--peer", metavar="FILE",
                    help="the Python peer (default: $SGSBENCH_PEER, else "
                    "shared/bench/peer_consumer.py above the checkout)")
    ap.add_argument("--no-double", action="store_true",
                    help="skip the sgs run over twice the records (RSS vs volume)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra configuration for sgs-consumer and the ceiling alike "
                    "(e.g. kafka.queued.max.messages.kbytes=16384); repeatable")
    ap.add_argument("--sgs-wrap", metavar="CMD",
                    help="prefix for the sgs-consumer command, for profiling, e.g. "
                    "'perf record -o /tmp/{name}.data' ({name}: the run's name)")
    ap.add_argument("--ceiling-wrap", metavar="CMD",
                    help="prefix for the ceiling consumer's command, as --sgs-wrap, e.g. "
                    "'env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2' (the ceiling "
                    "with sgs-consumer's allocator)")
    ap.add_argument("--redis-aof", choices=("yes", "no"), default="yes",
                    help="Redis with AOF, fsync every second, as deployed (default yes)")
    ap.add_argument("--key", choices=("unit", "none", "alias", "name", "mixed"), default="unit",
                    help="how the preloaded messages are keyed (sgs-gen --key; default unit: "
                         "the canonical unit id, which sgs never forwards)")
    ap.add_argument("--allocs", action="store_true",
                    help="one more ceiling run and one more sgs run under the allocation "
                    "counter (%s): allocations per message in steady state" % ALLOC_LIB)
    ap.add_argument("--pin", action="store_true",
                    help="each reader's main thread on CPU 0 alone; its other threads, the "
                    "broker, Redis and the benchmark on CPU 1 (an experiment: a core for "
                    "the thread that handles the messages, as on a machine where the broker "
                    "and Redis run elsewhere)")
    a = ap.parse_args()
    if a.pin and (os.cpu_count() or 1) < 2:
        sys.exit("throughput: --pin needs two CPUs")
    a.redis_aof = a.redis_aof == "yes"
    if a.records is None:
        a.records = 120000 if a.broker == "mock" else 1000000
    if a.partitions is None:
        a.partitions = 32 if a.broker == "mock" else 8
    h.set_build_dir(a.build)
    for prog in ("ceiling_consumer", "sgs-consumer", "sgs-gen") + (
            ("sgs-devbroker",) if a.broker == "mock" else ()):
        h.build_path(prog)
    if a.allocs and not os.path.exists(os.path.join(h.BUILD_DIR, ALLOC_LIB)):
        sys.exit("throughput: --allocs needs %s in %s (target sgs_alloc_count; not in "
                 "SGS_SANITIZE builds)" % (ALLOC_LIB, h.BUILD_DIR))
    if not a.no_peer:
        a.peer, looked = find_peer(a.peer)
        if not a.peer or not os.path.isfile(a.peer):
            sys.exit("throughput: the Python peer (peer_consumer.py) not found; looked at %s. "
                     "Pass --peer FILE, set SGSBENCH_PEER, or use --no-peer"
                     % ", ".join(looked))

    info = machine()
    say("sgs throughput benchmark: %d records, %d partitions, %d rounds, broker %s; "
        "%s cores (%s), librdkafka %s, redis %s"
        % (a.records, a.partitions, a.rounds, a.broker, info.get("nproc"), info.get("cpu", "?"),
           info.get("librdkafka", "?"), info.get("redis", "?")))
    b = Bench(a)
    b.start()
    info["broker"] = "%s %s" % (b.kafka.kind, b.kafka.version)
    if a.broker == "apache":
        info["broker_heap"] = " ".join(b.kafka.heap)
    rounds, double, allocs = b.run()
    if a.broker == "apache":
        info["broker_rss_mb_end"] = b.kafka.rss_mb()
    table, med = fmt_table(rounds, double)
    say("")
    say("command: bench/run.sh " + " ".join(sys.argv[1:]))
    say(table)
    say("")
    targets = ["sgs/ceiling %.0f %% (target >= 50 %%)" % (100 * med[3])]
    if med[4] is not None:
        targets.append("sgs/peer %.1fx (target >= 30x on the real broker)" % med[4])
    rss_all = [r["sgs"]["time"].get("max_rss_kb", 0) / 1024.0 for r in rounds]
    if double:
        rss_all.append(double["time"].get("max_rss_kb", 0) / 1024.0)
    # the target is in MB (10^6 bytes); time -v reports KiB
    targets.append("peak RSS max %.1f MiB = %.1f MB (target <= 64 MB)"
                   % (max(rss_all), max(rss_all) * 1048576 / 1e6))
    say("medians: " + "; ".join(targets))
    if allocs:
        ca, sa = allocs["ceiling"], allocs["sgs"]
        say("allocations per message: ceiling %s, sgs %s, sgs own %s"
            % tuple("%.3f" % x if x is not None else "?" for x in
                    (ca and ca["per_msg"], sa and sa["per_msg"], allocs["sgs_own_per_msg"])))
        say("  on the main thread (poll and the record's path; librdkafka fetches on its "
            "own threads): ceiling %s, sgs %s"
            % tuple("%.4f" % x["main_per_msg"] if x else "?" for x in (ca, sa)))
    if a.json:
        out = {"args": vars(a), "machine": info, "expect_messages": b.expect["messages"],
               "rounds": [{k: (Bench.strip(v) if isinstance(v, dict) else v)
                           for k, v in r.items()} for r in rounds],
               "double": Bench.strip(double) if double else None,
               "medians": dict(zip(("ceiling", "sgs", "peer", "sgs_over_ceiling",
                                    "sgs_over_peer", "sgs_rss_mb", "redis_cmds_per_msg",
                                    "msgs_per_evalsha"), med))}
        if allocs:
            out["allocs"] = allocs
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
        say("wrote " + a.json)


if __name__ == "__main__":
    main()

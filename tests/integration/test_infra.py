"""Tests of the test infrastructure itself: the sgstest library (Redis, the real
Kafka broker or its loud fallback, the mock cluster, cleanup, the pytest
plugin's ownership of processes) and sgs-devbroker."""

import collections
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

import sgstest as h


def pid_gone(pid):
    """True once pid does not exist or is a zombie."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" in line.split()[1]
    except OSError:
        return True
    return False


# --------------------------------------------------------------------------- Redis

def test_redis_aof_survives_kill9(make_redis):
    """redis: AOF keeps acknowledged writes across kill -9 and restart."""
    r = make_redis(aof=True)
    c = r.client()
    p = c.pipeline(transaction=False)
    for i in range(1000):
        p.hset("infra:h", "f%d" % i, i)
        p.incrby("infra:n", 1)
    p.execute()
    port, pid = r.port, r.pid
    r.kill()
    h.check(pid_gone(pid), "redis still alive after kill")
    r.restart()
    h.check_eq(r.port, port, "port after restart")
    c = r.client()
    h.check_eq(c.hlen("infra:h"), 1000, "hash fields after restart")
    h.check_eq(c.get("infra:n"), "1000", "counter after restart")
    h.check_eq(c.hget("infra:h", "f999"), "999", "a field")
    r.stop()
    h.check(not r.alive(), "redis alive after stop")


def test_redis_without_aof_loses_all(redis_server):
    """redis: without AOF nothing survives kill -9 (no RDB either)."""
    r = redis_server
    r.client().set("k", "v")
    r.kill()
    r.restart()
    h.check_eq(r.client().get("k"), None, "key after restart without persistence")


# --------------------------------------------------------------------------- Kafka

TOPIC_N = 1000


def group_consume(bootstrap, topic, group, strategy, members=3, expect=TOPIC_N, timeout=90):
    """Consumes with `members` consumers of one group joining 0.7 s apart, each
    slowed down so that rebalances happen while messages are being read;
    commits in the revoke callback and at close. Returns (counter of
    (partition, offset), values, assignment events, errors)."""
    seen = collections.Counter()
    values = []
    events = []
    errors = []
    lock = threading.Lock()
    stop = threading.Event()
    coop = strategy == "cooperative-sticky"

    def member(i):
        time.sleep(0.7 * i)
        name = "m%d" % i

        def on_assign(c, parts):
            with lock:
                events.append((name, "assign", sorted(p.partition for p in parts)))
            if coop:
                c.incremental_assign(parts)
            else:
                c.assign(parts)

        def on_revoke(c, parts):
            with lock:
                events.append((name, "revoke", sorted(p.partition for p in parts)))
            try:
                c.commit(asynchronous=False)
            except KafkaException as e:
                if e.args[0].code() != KafkaError._NO_OFFSET:
                    with lock:
                        errors.append("%s commit on revoke: %s" % (name, e))
            if coop:
                c.incremental_unassign(parts)
            else:
                c.unassign()

        def on_lost(c, parts):
            with lock:
                events.append((name, "lost", sorted(p.partition for p in parts)))
            if coop:
                c.incremental_unassign(parts)
            else:
                c.unassign()

        c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                      "partition.assignment.strategy": strategy,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                      "log_level": 3})
        c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
        try:
            while not stop.is_set():
                m = c.poll(0.1)
                if m is None:
                    continue
                if m.error():
                    with lock:
                        errors.append("%s: %s" % (name, m.error()))
                    continue
                with lock:
                    seen[(m.partition(), m.offset())] += 1
                    values.append(m.value())
                time.sleep(0.004)  # slow reader: rebalances overlap reading
        finally:
            c.close()  # final revoke commits

    threads = [threading.Thread(target=member, args=(i,), daemon=True) for i in range(members)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with lock:
                assigned = {e[0] for e in events if e[1] == "assign" and e[2]}
                done = len(seen) >= expect and len(assigned) == members
            if done:
                break
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    return seen, values, events, errors


def check_group_run(k, strategy):
    topic = "infra.group.%s" % strategy
    k.create_topics({topic: 4})
    msgs = [("key-%d" % i, "value-%d" % i, None) for i in range(TOPIC_N)]
    t0 = time.monotonic()
    h.check_eq(h.produce(k.bootstrap, topic, msgs), TOPIC_N, "delivered")
    print("# produced %d messages in %.2f s" % (TOPIC_N, time.monotonic() - t0), flush=True)
    parts = h.topic_partitions(k.bootstrap, topic)
    h.check_eq(parts, [0, 1, 2, 3], "partitions")

    group = "infra-%s-%d" % (strategy, os.getpid())
    seen, values, events, errors = group_consume(k.bootstrap, topic, group, strategy)
    # The mock refuses commits while its group rebalances (a real broker
    # accepts them from the current generation), so there a commit made in the
    # revoke callback can fail and the next owner re-reads a few messages.
    strict = k.kind == "apache"
    refused = [e for e in errors if "REBALANCE_IN_PROGRESS" in e]
    if not strict:
        errors = [e for e in errors if e not in refused]
    dups = {po: n for po, n in seen.items() if n > 1}
    h.check(not errors, "consumer errors: %s" % errors[:3])
    h.check_eq(len(seen), TOPIC_N, "distinct messages consumed")
    if strict or not refused:
        h.check(not dups, "%d messages consumed twice, e.g. %s; events %s"
                % (len(dups), list(dups.items())[:3], events))
    h.check_eq(sorted(set(values)), sorted(v.encode() for _, v, _ in msgs), "values")
    members = {e[0] for e in events if e[1] == "assign" and e[2]}
    h.check_eq(len(members), 3, "members that owned partitions")
    h.check(not any(e[1] == "lost" for e in events), "assignment lost: %s" % events)

    c = Consumer({"bootstrap.servers": k.bootstrap, "group.id": group, "log_level": 3})
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        committed = [tp.offset for tp in c.committed(tps, timeout=10)]
        highs = [c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]
    finally:
        c.close()
    h.check_eq(sum(highs), TOPIC_N, "sum of high watermarks")
    h.check(all(hw > 0 for hw in highs), "a partition got no message: %s" % highs)
    if strict or not refused:
        h.check_eq(committed, highs, "committed offsets")
    print("# %s: %d rebalance events, per-partition %s%s"
          % (strategy, len(events), highs,
             "" if strict or not refused else
             "; mock refused %d commit(s) during rebalances, %d message(s) read twice"
             % (len(refused), len(dups))), flush=True)


@pytest.mark.case_timeout(300)
@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_kafka_group(kafka, strategy):
    """kafka: produce 1000, consume with a 3-member group (eager, range; and
    cooperative-sticky)."""
    check_group_run(kafka, strategy)


def test_kafka_consume_all(kafka):
    """kafka: consume_all reads keys, values and timestamps back in order."""
    k = kafka
    k.create_topics({"infra.ts": 2})
    ts0 = 1700000000000
    msgs = [("u%d" % (i % 7), '{"n": %d}' % i, ts0 + i) for i in range(300)]
    h.produce(k.bootstrap, "infra.ts", msgs)
    h.produce(k.bootstrap, "infra.ts", [(None, "null-key", None)], partition=1)
    got = h.consume_all(k.bootstrap, "infra.ts")
    h.check_eq(len(got), 301, "messages")
    by_value = {m.value: m for m in got}
    h.check_eq(by_value[b'{"n": 5}'].timestamp, ts0 + 5, "timestamp")
    h.check_eq(by_value[b'{"n": 5}'].json(), {"n": 5}, "json")
    h.check_eq(by_value[b"null-key"].key, None, "null key")
    for p in (0, 1):
        offs = [m.offset for m in got if m.partition == p]
        h.check_eq(offs, list(range(len(offs))), "offsets of partition %d" % p)
    k.create_topics({"infra.ts.empty": 1})
    h.check_eq(h.consume_all(k.bootstrap, "infra.ts.empty"), [], "empty topic")


def test_kafka_keys_partitions_and_tools(apache_kafka, kafka_tool):
    """kafka: messages without a key spread over the partitions, an explicit
    partition is kept, add_partitions() grows a topic (what kafka-topics
    --alter --partitions does), and a Kafka tool runs against the broker."""
    k = apache_kafka
    k.create_topics({"infra.keys": 2})
    k.add_partitions("infra.keys", 4)
    h.check_eq(h.topic_partitions(k.bootstrap, "infra.keys"), [0, 1, 2, 3], "partitions")
    msgs = [("u%d" % i, "v%d" % i, None) for i in range(400)]
    # without a key librdkafka picks a random partition per message once its
    # sticky partitioning (all unkeyed messages of 10 ms to one partition) is off
    h.produce(k.bootstrap, "infra.keys", h.rekey(msgs, key=None),
              conf={"sticky.partitioning.linger.ms": 0})
    unkeyed = h.watermarks(k.bootstrap, "infra.keys")
    h.check(all(hi > 0 for _, hi in unkeyed.values()), "unkeyed messages reach every "
            "partition: %s" % unkeyed)
    h.produce(k.bootstrap, "infra.keys", h.rekey(msgs[:50], key="same", partition=3))
    after = h.watermarks(k.bootstrap, "infra.keys")
    h.check_eq(after[3][1] - unkeyed[3][1], 50, "messages on the explicit partition 3")
    h.check_eq(sum(hi for _, hi in after.values()), 450, "messages in all")
    got = [m for m in h.consume_all(k.bootstrap, "infra.keys") if m.value == b"v7"]
    h.check(any(m.key is None for m in got) and any(m.key == b"same" for m in got),
            "keys as produced: %s" % got)
    r = kafka_tool("kafka-configs", "--describe", "--entity-type", "topics",
                   "--entity-name", "infra.keys")
    h.check("infra.keys" in r.stdout, "kafka-configs output: %r" % r.stdout[-500:])


# --------------------------------------------------------------------------- mock

def test_devbroker_produce_errors(tmp):
    """sgs-devbroker: produce and consume; Produce errors are retried."""
    m = h.MockBroker(tmp, partitions=4)
    h.check_eq(h.topic_partitions(m.bootstrap, "sgs.records"), [0, 1, 2, 3], "default topic")
    msgs = [("k%d" % i, "v%d" % i, None) for i in range(1000)]
    h.produce(m.bootstrap, "sgs.records", msgs)
    h.check_eq(len(h.consume_all(m.bootstrap, "sgs.records")), 1000, "consumed")

    # Injection is real: without retries the injected error reaches the producer.
    m.push_errors("Produce", 1, "_TRANSPORT")
    try:
        h.produce(m.bootstrap, "sgs.records", [("x", "lost", None)], partition=0,
                  conf={"enable.idempotence": False, "retries": 0})
        raise AssertionError("injected _TRANSPORT error not seen")
    except RuntimeError as e:
        h.check("_TRANSPORT" in str(e), "unexpected error %s" % e)

    # With retries (the default) everything arrives, exactly once for error
    # responses (the mock stores nothing for a request it answers with an error).
    m.push_errors(0, 3, "NOT_LEADER_FOR_PARTITION")
    m.push_errors("Produce", 2, "REQUEST_TIMED_OUT")
    more = [("k%d" % i, "w%d" % i, None) for i in range(1000)]
    h.check_eq(h.produce(m.bootstrap, "sgs.records", more), 1000, "delivered despite errors")
    got = h.consume_all(m.bootstrap, "sgs.records")
    h.check_eq(len(got), 2000, "consumed after injected errors")
    h.check_eq(sorted(x.value for x in got),
               sorted(v.encode() for _, v, _ in msgs + more), "values")

    # A dropped connection: everything arrives, but the mock does not
    # deduplicate idempotent retries, so a batch whose response was lost with
    # the connection may be stored twice (a real broker would drop the copy).
    m.push_errors("Produce", 1, -195)  # _TRANSPORT by number
    last = [("k%d" % i, "t%d" % i, None) for i in range(1000)]
    h.check_eq(h.produce(m.bootstrap, "sgs.records", last), 1000, "delivered after disconnect")
    got = [x.value for x in h.consume_all(m.bootstrap, "sgs.records") if x.value[:1] == b"t"]
    h.check_eq(sorted(set(got)), sorted(v.encode() for _, v, _ in last), "values after disconnect")
    print("# mock: %d message(s) stored twice after an injected disconnect"
          % (len(got) - len(set(got))), flush=True)


def test_devbroker_commands(tmp):
    """sgs-devbroker: commands, answers and a 3-member group on 3 brokers."""
    m = h.MockBroker(tmp, brokers=3, partitions=4, topics={"infra.a": 6, "infra.b": 2})
    h.check_eq(len(m.bootstrap.split(",")), 3, "bootstrap addresses")
    h.check_eq(h.topic_partitions(m.bootstrap, "infra.a"), list(range(6)), "infra.a")
    m.ping()
    m.create_topics({"infra.c": 3})
    m.create_topics({"infra.c": 3}, exist_ok=True)
    for bad in ("bogus", "down 99", "push_errors Nope 1 _TRANSPORT",
                "push_errors 0 1 NO_SUCH_ERROR", "leader infra.a x 1", "topic infra.c 3"):
        try:
            m.command(bad)
            raise AssertionError("%r answered ok" % bad)
        except h.MockError:
            pass
    m.rtt(2, 20)
    m.leader("infra.a", 0, 2)
    m.coordinator("infra-g", 3)
    m.down(1)
    m.up(1)
    m.clear_errors("Fetch")
    m.rtt(2, 0)
    seen, values, events, errors = group_consume(m.bootstrap, "infra.a", "infra-g",
                                                 "cooperative-sticky", expect=0, timeout=30)
    h.check(not errors, "errors: %s" % errors[:3])
    h.check_eq(len({e[0] for e in events if e[1] == "assign" and e[2]}), 3, "members assigned")
    # Usage errors exit 2 with one line on stderr.
    r = h.run([m.exe, "--brokers", "0"], check=False)
    h.check_eq(r.returncode, 2, "exit status of a usage error")
    h.check_eq(len(r.stderr.strip().splitlines()), 1, "lines on stderr")
    # SIGTERM ends it cleanly.
    h.check_eq(m.proc.stop(5), 0, "exit status after SIGTERM")


def test_devbroker_bootstrap_file(tmp):
    """sgs-devbroker: --bootstrap-file and stdin at end of input."""
    path = os.path.join(tmp, "bootstrap")
    p = h.spawn([h.build_path("sgs-devbroker"), "--bootstrap-file", path, "--topic", "x:2"], tmp)
    bs = h.wait_until(lambda: os.path.exists(path) and open(path).read().strip(), 10,
                      what="bootstrap file")
    # stdin is /dev/null for spawn(): the cluster keeps serving after EOF.
    time.sleep(0.3)
    h.check(p.alive(), "devbroker exited at end of input: %s" % p.tail())
    h.check_eq(h.topic_partitions(bs, "x"), [0, 1], "partitions of x")
    h.check("bootstrap.servers=%s" % bs in p.log(), "stdout line")
    h.check_eq(p.stop(5), 0, "exit status")


# --------------------------------------------------------------------------- harness

# A test file run by a child pytest (with the sgstest plugin): its first test
# starts a redis-server, writes "<pid> <tmp>" to $SGSTEST_CHILD_OUT and
# sleeps (or ends at once with SGSTEST_CHILD_SLEEP=0); the second checks that
# the first one's server is gone.
CHILD = r"""
import os, time

def pid_gone(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" in line.split()[1]
    except OSError:
        return True
    return False

started = []

def test_starts_redis(make_redis, tmp):
    r = make_redis()
    started.append(r.pid)
    with open(os.environ["SGSTEST_CHILD_OUT"], "w") as f:
        f.write("%d %s\n" % (r.pid, tmp))
    time.sleep(float(os.environ.get("SGSTEST_CHILD_SLEEP", "120")))

def test_its_redis_is_gone():
    assert started and pid_gone(started[0])
"""


def start_child(tmp, sleep=120):
    """A child pytest running CHILD; returns (Popen, redis pid, its tmp) once
    the redis-server runs (sleep=0: after the child has finished)."""
    script = os.path.join(tmp, "child_test.py")
    out = os.path.join(tmp, "child.out")
    with open(script, "w") as f:
        f.write(CHILD)
    env = h.pythonpath_env()
    env.update({"SGSTEST_CHILD_OUT": out, "SGSTEST_CHILD_SLEEP": str(sleep)})
    p = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "sgstest.plugin",
                          "-p", "no:cacheprovider", "-q", script], cwd=tmp, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = h.wait_until(lambda: os.path.exists(out) and open(out).read().strip(), 60,
                        what="the child test's redis-server").split()
    return p, int(line[0]), line[1]


def test_harness_sigterm_cleans_up(tmp):
    """harness: SIGTERM to a test stops its servers and removes its temp dir."""
    p, pid, d = start_child(tmp)
    try:
        p.send_signal(signal.SIGTERM)
        h.check_eq(p.wait(20), 128 + signal.SIGTERM, "exit status")
        h.wait_until(lambda: pid_gone(pid), 10, what="redis-server %d to end" % pid)
        h.check(not os.path.exists(d), "temp dir %s left behind" % d)
    finally:
        p.kill()
        p.wait()


def test_harness_sigkill_ends_servers(tmp):
    """harness: SIGKILL to a test still ends its servers (parent-death signal)."""
    p, pid, d = start_child(tmp)
    try:
        p.kill()
        p.wait(10)
        h.wait_until(lambda: pid_gone(pid), 10, what="redis-server %d to end" % pid)
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)  # nobody was left to remove it


def test_harness_case_processes_stopped(tmp):
    """harness: processes of a case are stopped when it ends (the next test of
    the same pytest session finds its redis-server gone)."""
    p, pid, d = start_child(tmp, sleep=0)
    out, _ = p.communicate(timeout=60)
    h.check_eq(p.returncode, 0, "inner pytest exit status (output: %s)" % out[-2000:])
    h.check("2 passed" in out, "inner tests: %s" % out[-2000:])
    h.check(pid_gone(pid), "redis of the inner case still running")


FALLBACK = r"""
import sgstest as h
k = h.kafka_broker(h.make_tmpdir("fallback"))
print("kind", k.kind, flush=True)
"""


def test_harness_broker_fallback(tmp):
    """harness: unavailable real broker falls back loudly; SGS_KAFKA=apache fails."""
    script = os.path.join(tmp, "fallback.py")
    with open(script, "w") as f:
        f.write(FALLBACK)
    env = {"SGS_KAFKA_JARS": os.path.join(tmp, "no-jars"), "SGS_KAFKA": "",
           "PYTHONPATH": h.pythonpath_env()["PYTHONPATH"]}
    r = h.run([sys.executable, script], env=env, timeout=60)
    h.check("SKIPPED: real Kafka broker unavailable: no kafka_2.13-*.jar" in r.stdout,
            "no loud skip line in %r" % r.stdout)
    h.check("kind mock" in r.stdout, "not the mock: %r" % r.stdout)
    env["SGS_KAFKA"] = "apache"
    r = h.run([sys.executable, script], env=env, timeout=60, check=False)
    h.check(r.returncode != 0, "SGS_KAFKA=apache without jars succeeded")
    h.check("BrokerUnavailable" in r.stderr, "error: %r" % r.stderr[-300:])
    env["SGS_KAFKA"] = "mock"
    r = h.run([sys.executable, script], env=env, timeout=60)
    h.check("kind mock" in r.stdout and "SKIPPED" not in r.stdout, "forced mock: %r" % r.stdout)


def test_harness_helpers(tmp):
    """harness: write_config, run, wait_until."""
    path = h.write_config(os.path.join(tmp, "t.conf"),
                          {"redis.port": 1234, "kafka.enable.idempotence": True,
                           "units.file": "configs/units.tsv", "skip.me": None})
    h.check_eq(open(path).read().splitlines()[1:],
               ["redis.port = 1234", "kafka.enable.idempotence = true",
                "units.file = configs/units.tsv"], "config lines")
    h.check_eq(h.run(["echo", "hi"]).stdout, "hi\n", "run stdout")
    try:
        h.run(["sleep", "5"], timeout=0.5)
        raise AssertionError("no timeout")
    except TimeoutError:
        pass
    try:
        h.run(["false"])
        raise AssertionError("no error for exit status 1")
    except RuntimeError:
        pass
    h.check_eq(h.wait_until(lambda: 42, 1), 42, "wait_until value")


def tool_variables():
    """{SGS_* name: [files]} the tools read or set: string literals in the
    Python of tests/lib and bench/, variable uses and assignments in the
    shell scripts of scripts/ and bench/ (prefixes ending in _ left out)."""
    import glob
    import re
    found = {}
    py = glob.glob(h.source_path("tests", "lib", "sgstest", "*.py")) + \
        glob.glob(h.source_path("bench", "*.py"))
    sh = glob.glob(h.source_path("scripts", "*.sh")) + glob.glob(h.source_path("bench", "*.sh"))
    for path in py + sh:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if path.endswith(".py"):
            names = re.findall(r"[\"'](SGS_[A-Z0-9_]+)[\"']", text)
        else:
            names = re.findall(r"\$\{?!?(SGS_[A-Z0-9_]+)", text)
            names += re.findall(r"(?m)(?:^|[\s;(])(?:export\s+|unset\s+)?(SGS_[A-Z0-9_]+)=", text)
        for n in names:
            if not n.endswith("_"):
                found.setdefault(n, []).append(os.path.relpath(path, h.SOURCE_DIR))
    return found


def test_tool_variables_are_not_config_keys():
    """harness: every SGS_* variable the tools (tests/lib, bench, scripts) use is
    either in the programs' table of tool variables (common/src/config.c), which
    they skip, or a configuration key used as one; nothing else (issue 15: the
    programs refuse an unknown SGS_* variable, as sgs-gen refused SGS_PEER)."""
    import re
    with open(h.source_path("common", "src", "config.c"), encoding="utf-8") as f:
        text = f.read()
    table = re.search(r"env_not_keys\[\]\s*=\s*\{(.*?)\};", text, re.S)
    h.check(table is not None, "no env_not_keys table in common/src/config.c")
    not_keys = set(re.findall(r'"(SGS_[A-Z0-9_]+)"', table.group(1)))
    r = h.run([h.build_path("sgs-consumer"), "-X", "list"])
    keys = {"SGS_" + line.split()[0].upper().replace(".", "_").replace("-", "_")
            for line in r.stdout.splitlines()[1:] if line.strip() and "<" not in line.split()[0]}
    bad = {n: files for n, files in tool_variables().items()
           if n not in not_keys and n not in keys and not n.startswith("SGS_KAFKA_")}
    h.check(not bad, "SGS_* variables that are neither tool variables nor configuration keys "
            "(the programs would refuse them; name them SGSTEST_/SGSBENCH_... or make "
            "them options): %s" % bad)


def cpus_allowed(pid, tid):
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    return None


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0),
                    reason="needs CPUs 0 and 1")
def test_bench_pin_reader():
    """bench --pin: pin_reader puts a reader's main thread (tid == pid) on
    CPU 0 and every other thread on CPU 1, including a thread started after a
    first call (it inherits the main thread's CPU 0 until the next call)."""
    sys.path.insert(0, h.source_path("bench"))
    try:
        import throughput
    finally:
        sys.path.pop(0)
    code = ("import os, sys, threading, time\n"
            "def idle():\n    time.sleep(30)\n"
            "threading.Thread(target=idle, daemon=True).start()\n"
            "sys.stdin.readline()\n"
            "threading.Thread(target=idle, daemon=True).start()\n"
            "print('started', flush=True)\n"
            "sys.stdin.readline()\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        h.wait_until(lambda: len(os.listdir("/proc/%d/task" % p.pid)) == 2, 10,
                     what="the first thread")
        throughput.pin_reader(p.pid)
        first = {int(t): cpus_allowed(p.pid, int(t)) for t in os.listdir("/proc/%d/task" % p.pid)}
        h.check_eq(first[p.pid], "0", "main thread's CPUs")
        h.check_eq(sorted(v for t, v in first.items() if t != p.pid), ["1"], "other thread's CPUs")
        p.stdin.write("\n")
        p.stdin.flush()
        h.check_eq(p.stdout.readline().strip(), "started", "second thread")
        late = [int(t) for t in os.listdir("/proc/%d/task" % p.pid) if int(t) not in first]
        h.check_eq(len(late), 1, "threads started after the first call")
        h.check_eq(cpus_allowed(p.pid, late[0]), "0", "a new thread inherits the main thread's CPU")
        throughput.pin_reader(p.pid)
        h.check_eq(cpus_allowed(p.pid, late[0]), "1", "moved at the next call")
        h.check_eq(cpus_allowed(p.pid, p.pid), "0", "main thread still on CPU 0")
    finally:
        p.kill()
        p.wait()

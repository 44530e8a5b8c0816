"""The fault suite's shared pieces (tests/fault/test_*.py): snapshots and
their comparison with the generator's expectation, the common end of every
scenario (finish()), the scenario's figures (Result, written by the pytest
plugin's `figures` fixture), alert watching, strace fault injection and the
crash rounds.

Each scenario streams a generated month through sgs-consumer while something
breaks, and ends with `finish()`: a snapshot taken with `sgs-aggregator
snapshot` whose per-unit counters must equal the sgs-gen expectation exactly,
the same comparison against the raw Redis hashes (flow.check_counts), and the
alert/reject checks.

Figures of every scenario are appended as one JSON line to the file named by
SGS_RELIABILITY_OUT (when set); scripts/reliability.sh turns them into the
table of docs/RELIABILITY.md. SGS_FAULT_SEED replaces every scenario's seed.
(Both names are in the C programs' table of tool variables.)
"""

import codecs
import collections
import json
import os
import re
import shutil
import threading
import time

import redis as _redis

from .env import build_path, source_path
from .flow import alerts_and_rejects, check_counts, consumer_cmd, stored_offsets
from .kafka import consume_all, produce
from .procs import check, check_eq, run, say, spawn, wait_until

MONTH = "2023-12"


def seed(default):
    """The scenario's random seed: SGS_FAULT_SEED if set, else `default`."""
    s = os.environ.get("SGS_FAULT_SEED")
    return int(s) if s else default


UNIT_FIELDS = ("records", "late", "invalid", "duplicates", "licenses", "penalties")
TOTAL_FIELDS = UNIT_FIELDS + ("concealed", "updates", "revoked")


# ---------------------------------------------------------------------------
# Snapshots

def snapshot(tmp, conf, month=MONTH, out=None, timeout=120):
    """Runs `sgs-aggregator -c conf snapshot --month M --out DIR`; returns the
    parsed <DIR>/<M>.json."""
    out = out or os.path.join(tmp, "snap-%s-%d" % (month, int(time.monotonic() * 1000)))
    run([build_path("sgs-aggregator"), "-c", conf, "-X", "kafka.message.timeout.ms=30000",
         "snapshot", "--month", month, "--out", out], timeout=timeout)
    with open(os.path.join(out, month + ".json"), encoding="utf-8") as f:
        return json.load(f)


def snapshot_consistency(snap):
    """Problems (a list of strings, empty when fine) inside one snapshot: every
    column of the units sums to its group and to the totals, group unit counts,
    rates consistent with their numerators."""
    bad = []
    units = snap["units"]
    groups = {g["group"]: g for g in snap["groups"]}
    for f in TOTAL_FIELDS:
        s = sum(u[f] for u in units)
        if snap["totals"][f] != s:
            bad.append("totals.%s %d != sum of units %d" % (f, snap["totals"][f], s))
        for gid, g in groups.items():
            gs = sum(u[f] for u in units if u["group"] == gid)
            if g[f] != gs:
                bad.append("group %s %s %d != sum %d" % (gid, f, g[f], gs))
    for gid, g in groups.items():
        n = sum(1 for u in units if u["group"] == gid)
        if g["units"] != n:
            bad.append("group %s units %d != %d" % (gid, g["units"], n))
    if sum(g["records"] for g in groups.values()) != snap["totals"]["records"]:
        bad.append("groups do not add up to totals.records")

    def rate(num, den):
        if den == 0:
            return None
        return ((20000 * num + den) // (2 * den)) / 100.0

    for row in units + list(groups.values()) + [snap["totals"]]:
        name = row.get("unit_id") or row.get("group") or "totals"
        want_late = rate(row["late"], row["records"])
        want_q = rate(row["records"] - row["invalid"], row["records"])
        if row["late_rate"] != want_late:
            bad.append("%s late_rate %r != %r" % (name, row["late_rate"], want_late))
        if row["quality_rate"] != want_q:
            bad.append("%s quality_rate %r != %r" % (name, row["quality_rate"], want_q))
    return bad


def compare_snapshot(snap, expect):
    """Problems (list) between a snapshot and the sgs-gen expectation: every
    unit's records/late/invalid/duplicates/licenses/penalties and
    totals.unattributed, exactly."""
    bad = []
    rows = {u["unit_id"]: u for u in snap["units"]}
    zero = {f: 0 for f in UNIT_FIELDS}
    for unit in sorted(set(rows) | set(expect["units"])):
        want = expect["units"].get(unit, zero)
        have = rows.get(unit)
        if have is None:
            bad.append("unit %s missing from the snapshot" % unit)
            continue
        for f in UNIT_FIELDS:
            if have[f] != want[f]:
                bad.append("%s %s: snapshot %d, expected %d" % (unit, f, have[f], want[f]))
    if snap["totals"]["unattributed"] != expect["unattributed"]:
        bad.append("totals.unattributed: snapshot %d, expected %d"
                   % (snap["totals"]["unattributed"], expect["unattributed"]))
    return bad


# Fields of a snapshot that differ between two runs of the same input: when
# and how often it was made, and where the partitions' offsets stood (their
# topic names and per-partition placement differ with the run).
SNAPSHOT_RUN_FIELDS = ("version", "generated_at", "offsets")


def compare_snapshots(snap, ref, ignore=SNAPSHOT_RUN_FIELDS):
    """Problems (list) between two snapshots of the same month and input (a
    run under faults and a reference run): every other field equal, the
    units compared by unit_id and the groups by group, whatever their order;
    `ignore` names top-level fields left out."""
    bad = []

    def walk(a, b, path):
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if k not in a or k not in b:
                    bad.append("%s.%s only in the %s" % (path, k, "snapshot" if k in a
                                                         else "reference"))
                else:
                    walk(a[k], b[k], "%s.%s" % (path, k))
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                bad.append("%s: %d items, reference %d" % (path, len(a), len(b)))
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, "%s[%d]" % (path, i))
        elif a != b:
            bad.append("%s: %r, reference %r" % (path, a, b))

    for k in sorted(set(snap) | set(ref)):
        if k in ignore:
            continue
        if k in ("units", "groups") and isinstance(snap.get(k), list) \
                and isinstance(ref.get(k), list):
            key = "unit_id" if k == "units" else "group"
            rows = {r.get(key): r for r in snap[k]}
            refs = {r.get(key): r for r in ref[k]}
            for rid in sorted(set(rows) | set(refs), key=str):
                if rid not in rows or rid not in refs:
                    bad.append("%s %s only in the %s" % (k, rid, "snapshot" if rid in rows
                                                          else "reference"))
                else:
                    walk(rows[rid], refs[rid], "%s[%s]" % (k, rid))
        elif k not in snap or k not in ref:
            bad.append("%s only in the %s" % (k, "snapshot" if k in snap else "reference"))
        else:
            walk(snap[k], ref[k], k)
    return bad


def check_alerts(broker, tag, expect, timeout=30):
    """Alerts and rejects on Kafka: every late record's alert present (by id),
    every reject present (distinct ids). Returns figures."""
    types, rejects, n_alerts, n_rejects = alerts_and_rejects(consume_all, broker.bootstrap, tag,
                                                            timeout=timeout)
    late = types.get("late", set())
    check_eq(len(late), expect["late_alerts"], "distinct late alerts (ids)")
    check(all(a.startswith("late:%s.records:" % tag) for a in late), "late alert id form")
    check_eq(len(rejects), expect["rejects"], "distinct rejects (ids)")
    return {"late_alerts": len(late), "alert_messages": n_alerts,
            "alert_repeats": n_alerts - sum(len(v) for v in types.values()),
            "rejects": len(rejects), "reject_repeats": n_rejects - len(rejects)}


def finish(tmp, conf, expect, r, broker, tag, month=MONTH, alerts=True):
    """The end of every scenario: snapshot == expectation, raw Redis ==
    expectation, the snapshot internally consistent, alerts/rejects complete.
    Raises AssertionError naming every difference; returns figures."""
    snap = snapshot(tmp, conf, month)
    bad = compare_snapshot(snap, expect)
    if not bad:
        bad = snapshot_consistency(snap)
    if bad:
        raise AssertionError("snapshot differs from the expectation (%d): %s"
                             % (len(bad), "; ".join(bad[:12])))
    # all months: malformed messages count in the month of their Kafka
    # timestamp, which is the time they were produced
    check_counts(r.client(), expect, topic=tag + ".records")
    figures = {"snapshot_version": snap["version"], "snapshot_records": snap["totals"]["records"],
               "kafka": "%s %s" % (broker.kind, broker.version)}
    if alerts:
        figures.update(check_alerts(broker, tag, expect))
    return figures


# ---------------------------------------------------------------------------
# Results

class Result:
    """Figures of one scenario, written as a JSON line to $SGS_RELIABILITY_OUT
    when the scenario ends (exact = passed)."""

    def __init__(self, scenario, **fields):
        self.t0 = time.monotonic()
        self.data = {"scenario": scenario, "records": 0, "messages": 0, "kills": 0,
                     "outage_s": 0.0, "faults": "", "alert_repeats": None, "exact": False}
        self.data.update(fields)

    def __setitem__(self, k, v):
        self.data[k] = v

    def __getitem__(self, k):
        return self.data[k]

    def get(self, k, default=None):
        return self.data.get(k, default)

    def write(self, exact, error=None):
        self.data["exact"] = bool(exact)
        self.data["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        if error:
            self.data["error"] = str(error)[:300]
        say("# figures: " + json.dumps(self.data, ensure_ascii=False, sort_keys=True))
        out = os.environ.get("SGS_RELIABILITY_OUT")
        if out:
            with open(out, "a", encoding="utf-8") as f:
                f.write(json.dumps(self.data, ensure_ascii=False, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------
# Watching

class AlertChannel:
    """Subscribes to <prefix>:alerts with redis-py in a thread and keeps every
    alert JSON published there. Reconnects when Redis goes away (a message
    published while disconnected is lost to this watcher: PUBLISH is fire and
    forget)."""

    def __init__(self, redis_server, prefix="sgs"):
        self.channel = prefix + ":alerts"
        self.server = redis_server
        self.messages = []
        self.reconnects = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        if not self._ready.wait(10):
            raise RuntimeError("could not subscribe to %s" % self.channel)

    def _loop(self):
        while not self._stop.is_set():
            try:
                c = _redis.Redis(host=self.server.host, port=self.server.port,
                                 decode_responses=True, socket_timeout=1)
                ps = c.pubsub(ignore_subscribe_messages=True)
                ps.subscribe(self.channel)
                self._ready.set()
                while not self._stop.is_set():
                    m = ps.get_message(timeout=0.2)
                    if m and m.get("type") == "message":
                        self.messages.append(json.loads(m["data"]))
                ps.close()
                c.close()
            except (_redis.ConnectionError, _redis.TimeoutError, OSError):
                self.reconnects += 1
                time.sleep(0.1)

    def stop(self):
        self._stop.set()
        self._t.join(5)
        return self.messages


def progress(r, tag, prefix="sgs"):
    """Sum of the stored next offsets of <tag>.records (messages written)."""
    try:
        return stored_offsets(r, prefix=prefix, topic=tag + ".records")
    except (_redis.ConnectionError, _redis.TimeoutError, _redis.ResponseError):
        return -1


# The counters of which every message a producer sent adds exactly one, in
# the partition that counts it (a record, a duplicate, an update, a revoke of
# a decision seen or never seen, a decision too old, an unknown unit, a
# malformed message).
MESSAGE_COUNTERS = ("records", "dup", "upd", "rev", "unkrec", "tooold", "unattributed",
                    "malformed")

# Sums those fields over every month hash of the topic (server side: one round
# trip, however many keys).
_COUNTED_LUA = """
local n, cursor = 0, '0'
local want = {}
for i = 2, #ARGV do want[ARGV[i]] = true end
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = r[1]
  for _, key in ipairs(r[2]) do
    local kv = redis.call('HGETALL', key)
    for j = 1, #kv, 2 do
      local f = kv[j]
      local name = string.match(f, '|([^|]*)$')
      if name and want[name] then n = n + tonumber(kv[j + 1]) end
    end
  end
until cursor == '0'
return n
"""


def counted_messages(r, tag, prefix="sgs"):
    """Messages of <tag>.records counted so far, each once wherever it was
    counted (MESSAGE_COUNTERS summed over the month hashes). Unlike the
    stored offsets, forwarded copies (route first) add nothing: this is the
    progress in messages as producers sent them. -1 when Redis does not
    answer."""
    pattern = "%s:{%s.records:*}:m:*" % (prefix, tag)
    try:
        return int(r.eval(_COUNTED_LUA, 0, pattern, *MESSAGE_COUNTERS))
    except (_redis.ConnectionError, _redis.TimeoutError, _redis.ResponseError):
        return -1


def alias_registry(tmp, source=None):
    """A copy of the unit registry (configs/units.tsv) in which every unit
    also has an alias id "ALT-<n>" (an alias that looks like an id, which
    sgs-gen --key alias keys messages by); returns its path and {unit id:
    alias id}."""
    source = source or source_path("configs", "units.tsv")
    path = os.path.join(tmp, "units-alias.tsv")
    aliases = {}
    header = False
    with open(source, encoding="utf-8") as f, open(path, "w", encoding="utf-8") as out:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#") or not header:
                header = header or (line.strip() and not line.lstrip().startswith("#"))
                out.write(line + "\n")
                continue
            cols = line.split("\t")
            while len(cols) < 4:
                cols.append("")
            alias = "ALT-%03d" % len(aliases)
            aliases[cols[0]] = alias
            cols[3] = ",".join([a for a in cols[3].split(",") if a] + [alias])
            out.write("\t".join(cols) + "\n")
    return path, aliases


def died_by_signal(rc, sig=9):
    return rc is not None and rc in (-sig, 128 + sig)


# ---------------------------------------------------------------------------
# strace fault injection (tests/README.md, "Techniques that work here")

KAFKA_APIS = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
              9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
              13: "LeaveGroup", 14: "SyncGroup", 18: "ApiVersions", 22: "InitProducerId"}


def have_strace():
    return shutil.which("strace") is not None


def strace_cmd(cmd, syscall, when, trace_file):
    """`cmd` run under strace so that the `when`-th `syscall` of any one
    thread gets SIGKILL on entry (the call itself never runs). Every traced
    call is written to trace_file (-yy: sockets shown with their addresses)
    so the kill point can be named afterwards (classify_kill)."""
    return ["strace", "-f", "-qq", "-yy", "-o", trace_file, "-e", "trace=" + syscall,
            "-e", "inject=%s:signal=KILL:when=%d" % (syscall, when)] + list(cmd)


_LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. )?(\w+)(\(| resumed>)(.*)$")


def _unescape(s):
    try:
        return codecs.escape_decode(s.encode("latin-1", "replace"))[0]
    except Exception:
        return b""


def classify_kill(trace_file, syscall, when, redis_port):
    """Names the call at which strace killed the process: the thread whose
    `when`-th traced call never returned. Returns a short text such as
    "write: Redis EVALSHA (batch script)", "sendmsg: Kafka Fetch",
    "read: Redis reply" or "write: log line"; None when nothing was killed."""
    counts = collections.Counter()
    last = {}
    try:
        with open(trace_file, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        m = _LINE.match(line)
        if not m or m.group(2) != syscall or m.group(3) != "(":
            continue
        tid = m.group(1)
        counts[tid] += 1
        if counts[tid] == when:
            last[tid] = m.group(4)
    if not last:
        return None
    # the thread that reached `when` (if several did, the unfinished one)
    args = None
    for tid, a in last.items():
        if a.rstrip().endswith("= ?") or "unfinished" in a:
            args = a
    if args is None:
        args = next(iter(last.values()))
    fd = re.match(r"\d+<((?:TCP|UDP|UNIX):\[[^\]]*\]|[^>]*)>", args)
    fdtext = fd.group(1) if fd else ""
    redis = ("->127.0.0.1:%d]" % redis_port) in fdtext
    if syscall == "sendmsg":
        m = re.search(r'iov_base="((?:[^"\\]|\\.)*)"', args)
        raw = _unescape(m.group(1)) if m else b""
        if redis:
            return "sendmsg: Redis"
        if len(raw) >= 6:
            api = int.from_bytes(raw[4:6], "big")
            return "sendmsg: Kafka %s request" % KAFKA_APIS.get(api, "api %d" % api)
        return "sendmsg: Kafka request"
    if syscall in ("write", "sendto"):
        m = re.search(r',\s*"((?:[^"\\]|\\.)*)"', args)
        raw = _unescape(m.group(1)) if m else b""
        if redis:
            words = re.findall(rb"\$\d+\r\n([A-Za-z]+)\r\n", raw[:64])
            cmd = words[0].decode() if words else "?"
            if cmd == "EVALSHA":
                return "%s: Redis EVALSHA (batch script)" % syscall
            return "%s: Redis %s" % (syscall, cmd)
        if fdtext.startswith("pipe:"):
            return "write: librdkafka wake-up pipe"
        if fdtext.endswith(".log") or fdtext.startswith("/"):
            return "write: log line"
        return "write: other (%s)" % fdtext[:40]
    if syscall == "read":
        if redis:
            return "read: Redis reply (script sent, reply unread)"
        if fdtext.startswith("pipe:"):
            return "read: librdkafka wake-up pipe"
        return "read: file (%s)" % os.path.basename(fdtext)[:40]
    return "%s: %s" % (syscall, fdtext[:40])


class SteadyFeeder:
    """Produces `msgs` ([(key, value, ts)], as for kafka.produce) to
    `topic` from a thread at about `rate` messages per second with one
    idempotent producer, so a consumer finds new input all the time.
    join() waits for every delivery and raises the first error; stop()
    stops producing (a test that gives up early)."""

    def __init__(self, bootstrap, topic, msgs, rate=5000):
        from confluent_kafka import Producer
        self.sent = 0
        self.errors = []
        self.done = threading.Event()
        self._stop = threading.Event()
        self._p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                            "linger.ms": 5, "compression.type": "lz4", "log_level": 3,
                            "queue.buffering.max.messages": 200000})
        self._t = threading.Thread(target=self._run, args=(topic, msgs, rate), daemon=True)
        self._t.start()

    def _dr(self, err, msg):
        if err is not None:
            self.errors.append(str(err))

    def _run(self, topic, msgs, rate):
        try:
            t0 = time.monotonic()
            for i, m in enumerate(msgs):
                if self._stop.is_set():
                    break
                kw = {"key": m[0].encode() if isinstance(m[0], str) else m[0],
                      "value": m[1].encode() if isinstance(m[1], str) else m[1],
                      "on_delivery": self._dr}
                if len(m) > 2 and m[2] is not None:
                    kw["timestamp"] = int(m[2])
                self._p.produce(topic, **kw)
                self.sent = i + 1
                if i % 100 == 99:
                    self._p.poll(0)
                    ahead = t0 + (i + 1) / float(rate) - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            left = self._p.flush(60)
            if left:
                self.errors.append("%d message(s) not delivered" % left)
        except Exception as e:
            self.errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            self.done.set()

    def stop(self, timeout=60):
        """Stops producing; waits for what was produced (errors not raised)."""
        self._stop.set()
        self._t.join(timeout)

    def join(self, timeout=120):
        self._t.join(timeout)
        if self._t.is_alive():
            raise TimeoutError("feeder still producing after %ss" % timeout)
        if self.errors:
            raise RuntimeError("feeding: %d error(s), first: %s" % (len(self.errors),
                                                                     self.errors[0]))


# logged (at info level) for each outbox entry a starting consumer produces again
RESEND_LINE = "re-sending undelivered alerts/rejects"


def crash_rounds(tmp, r, broker, conf, tag, msgs, kinds, rnd, batch, partitions, extra=(),
                 measure=None):
    """Runs sgs-consumer round after round and SIGKILLs it mid-stream, once
    per entry of `kinds` (in that order):
      "plain"   SIGKILL from outside once the messages written to Redis pass a
                random point (2-70 %) of the round's input;
      "sendto"  strace kills the K-th sendto(2) of a thread: the Redis client
                (sgs/rcluster.h, send with MSG_NOSIGNAL) sending a batch script
                (or a command at assignment);
      "read"    the K-th read(2): hiredis waiting for a script's reply (Redis
                ran it, or is running it; the consumer never learns);
      "sendmsg" the K-th sendmsg(2): a librdkafka broker thread sending a
                request (Fetch, Produce of alerts/rejects, commit, ...).
    Before each round, unread input is produced: what is left, shared by the
    kills still to land and the final drain (at least 2,000 messages, and
    1,000 kept back for each later kill). A kill lands when the process
    died by SIGKILL with produced messages not yet written to Redis; a round
    whose kill did not land (strace's K never reached, the input finished
    first) is repeated. Returns (figures dict, messages produced so far).

    K: the main thread's sendto calls are the Redis commands (CLUSTER SLOTS and
    SCRIPT LOAD, then five or six reads per partition at assignment: route,
    offset, forward sequences, rebuild mark, outbox), then one pipelined send
    per batch; its reads: about 26 while starting (libraries, config,
    registry, calendar), the replies at assignment, then one per batch. K is drawn over the batches the round's
    input makes. Each librdkafka broker thread sends about 5 requests before
    its first Fetch or Produce (ApiVersions, Metadata, FindCoordinator or
    InitProducerId), then a few per round.

    measure(client) -> messages written so far (default: progress(), the
    stored offsets' sum). With producers that do not key by unit, the
    consumer forwards records to their unit's partition and the stored
    offsets count those copies too: pass counted_messages there."""
    c = r.client()
    if measure is None:
        def measure(cl):
            return progress(cl, tag)
    total = len(msgs)
    kills = len(kinds)
    quiet = "log.level=warning"
    at_assign = 3 + 5 * partitions
    produced = landed = rounds = missed = resent = 0
    points, by_kind, restart_s = {}, {}, []
    pending = list(kinds)
    while pending:
        check(rounds < 2 * kills + 10, "too many rounds (%d) for %d kills" % (rounds, landed))
        kind = pending[0]
        base = measure(c)
        # keep 1,000 messages back for every later kill and for the drain
        reserve = 1000 * (kills - landed)
        target = min(base + max(2000, (total - base) // (kills - landed + 1)), total - reserve)
        if target <= base:
            target = min(total, base + 1000)
        n = max(0, target - produced)
        if n > 0:
            produce(broker.bootstrap, tag + ".records", msgs[produced: produced + n])
            produced += n
        batches = max(2, int((produced - base) / batch * 0.8))
        cmd = consumer_cmd(conf, extra=list(extra))
        trace = k = None
        if kind != "plain":
            k = {"sendto": at_assign + rnd.randint(1, batches),
                 "read": 26 + at_assign + rnd.randint(1, batches),
                 "sendmsg": rnd.randint(6, 8)}[kind]
            trace = os.path.join(tmp, "trace-%d.txt" % rounds)
            cmd = strace_cmd(consumer_cmd(conf, extra=list(extra) + [quiet]), kind, k, trace)
        t0 = time.monotonic()
        p = spawn(cmd, tmp, name="round%02d-%s" % (rounds, kind))
        rounds += 1
        wait_until(lambda: measure(c) > base or not p.alive(), timeout=60,
                   interval=0.001, what="round %d: first batch" % rounds)
        if measure(c) > base:
            restart_s.append(time.monotonic() - t0)
        if kind == "plain":
            # a random point of the round's input, not of time: the consumer
            # can go through a whole round's input in tens of milliseconds
            goal = base + int(rnd.uniform(0.02, 0.7) * (produced - base))
            wait_until(lambda: measure(c) >= goal or not p.alive(), timeout=60,
                       interval=0.001, what="round %d: kill point" % rounds)
            p.kill()
        else:
            # let strace fire; if K is never reached (the input is done and the
            # consumer idles), stop it from outside: that round does not count
            idle_since = [None]

            def done():
                if not p.alive():
                    return True
                if measure(c) >= produced:
                    idle_since[0] = idle_since[0] or time.monotonic()
                    return time.monotonic() - idle_since[0] > 1.5
                return False
            wait_until(done, timeout=60, what="round %d: strace kill" % rounds)
            if p.alive():
                p.kill()
        rc = p.wait(10)
        resent += p.log().count(RESEND_LINE)
        after = measure(c)
        mid = died_by_signal(rc) and after < produced
        point = None
        if kind == "plain":
            point = "outside: random moment"
        elif died_by_signal(rc):
            # strace re-raises the tracee's SIGKILL, so rc alone cannot tell the
            # injection from our kill: the trace names the call
            point = classify_kill(trace, kind, k, r.port)
            mid = mid and point is not None
        if mid:
            landed += 1
            pending.pop(0)
            points[point] = points.get(point, 0) + 1
            by_kind[kind] = by_kind.get(kind, 0) + 1
        else:
            missed += 1
        say("# round %d (%s%s): rc %s, written %d -> %d of %d produced: %s"
             % (rounds, kind, "" if k is None else " K=%d" % k, rc, base, after, produced,
                (point or "-") + ("" if mid else " (did not land mid-stream)")))
    figures = {"kills": landed, "rounds": rounds, "kill_points": points,
               "kills_by_kind": by_kind, "missed_rounds": missed, "outbox_resends": resent,
               "restart_to_first_batch_s_median":
                   round(sorted(restart_s)[len(restart_s) // 2], 2) if restart_s else None}
    return figures, produced


def kills_text(by_kind):
    names = {"plain": "from outside", "sendto": "at sendto", "read": "at read",
             "sendmsg": "at sendmsg"}
    return ", ".join("%d %s" % (by_kind[k], names.get(k, k))
                     for k in ("plain", "sendto", "read", "sendmsg") if k in by_kind)

"""The sgs pipeline end to end: configurations, the generator, consumers, and
the counters read back from Redis independently of the aggregator.

Pipeline bundles one scenario's servers and configuration; the pytest
fixture `sgs` makes them (tests/README.md)."""

import json
import os

import redis as _redis

from . import kafka as _kafka
from .env import build_path, source_path
from .procs import check, run, spawn, write_config

FIELDS = {"records": "records", "late": "late", "invalid": "invalid", "dup": "duplicates",
          "lic": "licenses", "pen": "penalties"}
# Counters compared only where the expectation has them (sgs-gen writes them
# when their options are used).
EXTRA_FIELDS = {"upd": "updates", "rev": "revoked", "unkrec": "unknown_record",
                "organ": "from_organ", "tooold": "too_old"}


def sgs_config(tmp, broker, redis_server, group="sgs-test", prefix="sgs", tag="sgs", **extra):
    """Writes a consumer/aggregator config for these servers (`redis_server`:
    a RedisServer, or a rediscluster.RedisCluster: its .config() keys), with topics
    <tag>.records/.alerts/.rejects/.snapshots; returns its path. Keyword
    arguments are more keys, `__` standing for `.`
    (consumer__batch__max_messages=100)."""
    values = {
        "topic.records": tag + ".records",
        "topic.alerts": tag + ".alerts",
        "topic.rejects": tag + ".rejects",
        "topic.snapshots": tag + ".snapshots",
        "kafka.bootstrap.servers": broker.bootstrap,
        "kafka.group.id": group,
        "kafka.session.timeout.ms": "6000",
        "kafka.heartbeat.interval.ms": "500",
        "kafka.topic.metadata.refresh.interval.ms": "1000",
        "redis.prefix": prefix,
        "units.file": source_path("configs", "units.tsv"),
        "calendar.file": source_path("configs", "calendar-cn.json"),
        "report.dir": os.path.join(tmp, "reports"),
        "group.city.name": "市直单位",
        "group.county.name": "县（市、区）",
        "consumer.stats_interval_s": "2",
        "consumer.retry_max_ms": "500",
    }
    # redis.host/.port of a RedisServer, redis.cluster of a RedisCluster (an
    # object with only a .port: that port on loopback)
    if callable(getattr(redis_server, "config", None)):
        values.update({k: str(v) for k, v in redis_server.config().items()})
    else:
        values.update({"redis.host": "127.0.0.1", "redis.port": str(redis_server.port)})
    for k, v in extra.items():
        values[k.replace("__", ".")] = str(v)
    path = os.path.join(tmp, "sgs-%s.conf" % group)
    write_config(path, values)
    return path


def create_sgs_topics(broker, tag, partitions=8, configs=None):
    """<tag>.records with `partitions` partitions, <tag>.alerts and .rejects
    with 2, <tag>.snapshots with 1. Generated months lie in the past, so the
    topics keep everything whatever the timestamps say (retention.ms=-1)."""
    c = {"retention.ms": "-1"}
    c.update(configs or {})
    broker.create_topics({tag + ".records": partitions, tag + ".alerts": 2, tag + ".rejects": 2,
                          tag + ".snapshots": 1}, configs=c)


def generate(tmp, conf, month, name="gen", produce=False, **opts):
    """Runs sgs-gen; returns (jsonl path or None, expectation dict). Keyword
    arguments are sgs-gen options (records=6000, late_share=0.05, ...);
    produce=True sends the month to the configured records topic instead of
    writing a JSONL file."""
    expect = os.path.join(tmp, name + ".expect.json")
    cmd = [build_path("sgs-gen"), "-c", conf, "--month", month, "--expect", expect]
    for k, v in opts.items():
        cmd += ["--" + k.replace("_", "-"), str(v)]
    out = None
    if produce:
        cmd.append("--produce")
    else:
        out = os.path.join(tmp, name + ".jsonl")
        cmd += ["--out", out]
    run(cmd, timeout=300)
    with open(expect, encoding="utf-8") as f:
        return out, json.load(f)


def jsonl_messages(path):
    """(key, value, timestamp) tuples for produce() from an sgs-gen JSONL
    file, keyed as sgs-gen --produce keys them: by the line's "_kafka_key"
    when it has one (sgs-gen --key, --resend-other-key; null: no key), else
    by the unit id the record names; kafka.rekey() keys them another way.
    (sgs-gen --produce also puts the keyless messages of a decision with an
    update or revoke on one partition; these tuples do not.)"""
    msgs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            key, ts = None, None
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                if "_kafka_key" in obj:
                    key = obj["_kafka_key"]
                else:
                    key = obj.get("unit_id") or obj.get("XK_LYDWDM") or obj.get("CF_SJLYDM")
                if not isinstance(key, str):
                    key = None
                ts = obj.get("_kafka_timestamp_ms")
            msgs.append((key, line, ts))
    return msgs


def consumer_cmd(conf, idle=None, extra=()):
    """The consumer's command line; SGSTEST_CONSUMER_WRAPPER (e.g. a valgrind
    command) is put in front when set."""
    wrapper = os.environ.get("SGSTEST_CONSUMER_WRAPPER", "").split()
    cmd = wrapper + [build_path("sgs-consumer"), "-c", conf]
    if idle:
        cmd += ["--exit-on-idle", str(idle)]
    for x in extra:
        cmd += ["-X", x]
    return cmd


def run_consumer(tmp, conf, idle=3, timeout=300, extra=(), name="consumer"):
    """Runs a consumer until it is idle; returns its Proc after checking exit 0
    and the summary line."""
    p = spawn(consumer_cmd(conf, idle, extra), tmp, name=name)
    rc = p.wait(timeout)
    if rc != 0:
        raise AssertionError("sgs-consumer exited %s:\n%s" % (rc, p.tail(30)))
    summary = [l for l in p.log().splitlines() if l.startswith("sgs-consumer: processed ")]
    check(len(summary) == 1, "exactly one summary line expected, got %r" % summary)
    return p


def _clients(r):
    """A client, or a list of them (the masters of a Redis Cluster, each read
    on its own: RedisCluster.master_clients()), as a list."""
    return list(r) if isinstance(r, (list, tuple)) else [r]


def redis_counts(r, prefix="sgs", topic="sgs.records", month=None):
    """Per-unit counters summed over every partition (and every month when month
    is None): {"units": {unit: {records, late, invalid, duplicates, licenses,
    penalties, updates, revoked, unknown_record, from_organ, too_old}},
    "unattributed": n, "malformed": n}. `r`: a client (str replies), or a
    list of clients of Redis Cluster masters (summed over all of them)."""
    units, glob_ = {}, {"unattributed": 0, "malformed": 0}
    pattern = "%s:{%s:*}:m:%s" % (prefix, topic, month or "*")
    for c in _clients(r):
        _add_counts(c, pattern, units, glob_)
    glob_["units"] = units
    return glob_


def _add_counts(r, pattern, units, glob_):
    for key in r.scan_iter(match=pattern, count=1000):
        for field, value in r.hgetall(key).items():
            unit, _, name = field.rpartition("|")
            if unit == "_":
                glob_[name] = glob_.get(name, 0) + int(value)
                continue
            name = FIELDS.get(name) or EXTRA_FIELDS.get(name)
            if not name:
                continue
            u = units.setdefault(unit, {v: 0 for v in list(FIELDS.values()) +
                                        list(EXTRA_FIELDS.values())})
            u[name] += int(value)


def check_counts(r, expect, month=None, prefix="sgs", what="", topic="sgs.records"):
    """Every unit's counters equal the generator's expectation, exactly (`r`:
    a client or a list of cluster masters' clients, as for redis_counts)."""
    got = redis_counts(r, prefix=prefix, month=month, topic=topic)
    bad = []
    for unit, want in expect["units"].items():
        have = got["units"].get(unit, {})
        for f in list(FIELDS.values()) + list(EXTRA_FIELDS.values()):
            if f in want and have.get(f, 0) != want[f]:
                bad.append("%s %s: got %d, want %d" % (unit, f, have.get(f, 0), want[f]))
    extra = set(got["units"]) - set(expect["units"])
    if extra:
        bad.append("units not in the expectation: %s" % sorted(extra)[:5])
    for g in ("unattributed", "malformed"):
        if got.get(g, 0) != expect[g]:
            bad.append("%s: got %d, want %d" % (g, got.get(g, 0), expect[g]))
    if bad:
        raise AssertionError("%scounters differ (%d): %s" % (what, len(bad), "; ".join(bad[:12])))
    for c in _clients(r):
        check_doc_lists(c, prefix=prefix, topic=topic, what=what)
    return got


def _bits(value):
    """The set bits of a bitmap (bit 0: the most significant of byte 0)."""
    return {i * 8 + k for i, b in enumerate(value) for k in range(8) if b & (0x80 >> k)}


def check_doc_lists(r, prefix="sgs", topic="sgs.records", what=""):
    """The identity store and the gap hashes agree (docs/REDIS.md): in each
    partition every identity bit of P:T:b:<year> is a bit of the same number in
    exactly one month's P:T:g:<month>, and no serial is first counted in two
    months."""
    kw = dict(r.connection_pool.connection_kwargs)
    kw["decode_responses"] = False
    raw = _redis.Redis(**kw)
    for key in raw.scan_iter(match=("%s:{%s:*}:offset" % (prefix, topic)).encode()):
        base = key[:-len(b":offset")]
        ids, gaps = set(), {}
        for bkey in raw.scan_iter(match=base + b":b:*"):
            year = bkey[len(base + b":b:"):]
            for field, value in raw.hgetall(bkey).items():
                unit_k_prefix, chunk = field.rsplit(b"|", 1)
                for bit in _bits(value):
                    ids.add((year + b"|" + unit_k_prefix, int(chunk) * 8192 + bit))
        for gkey in raw.scan_iter(match=base + b":g:*"):
            for field, value in raw.hgetall(gkey).items():
                head, chunk = field.rsplit(b"|", 1)
                for bit in _bits(value):
                    serial = (head, int(chunk) * 8192 + bit)
                    check(serial not in gaps, "%s%s: %r first counted in two months"
                          % (what, base, serial))
                    gaps[serial] = gkey
        missing = ids - set(gaps)
        check(not missing, "%s%s: %d identities of the store have no gap bit: %r"
              % (what, base, len(missing), sorted(missing)[:3]))


def stored_offsets(r, prefix="sgs", topic="sgs.records"):
    """Sum of the next offsets the consumer stored in Redis for the topic's
    partitions: the messages written so far (`r`: a client or a list of
    cluster masters' clients)."""
    total = 0
    for c in _clients(r):
        for key in c.scan_iter(match="%s:{%s:*}:offset" % (prefix, topic)):
            total += int(c.get(key) or 0)
    return total


def alerts_and_rejects(consume_all, bootstrap, tag="sgs", timeout=15):
    """Distinct alert ids by type and rejects by id from the topics, and the raw
    counts (repeats included)."""
    alerts = consume_all(bootstrap, tag + ".alerts", timeout=timeout)
    rejects = consume_all(bootstrap, tag + ".rejects", timeout=timeout)
    late = {}
    for m in alerts:
        a = json.loads(m.value)
        late.setdefault(a["type"], set()).add(a["id"])
    rej = {}
    for m in rejects:
        j = json.loads(m.value)
        rej[j["id"]] = j
    return late, rej, len(alerts), len(rejects)


class Pipeline:
    """One scenario's world: a broker, a fresh redis-server, the four topics
    <tag>.records/.alerts/.rejects/.snapshots and an sgs configuration for
    them (consumer group and Redis prefix as given). Made by the `sgs`
    fixture:

        p = sgs("unkeyed", kafka=apache_kafka, partitions=8)
        jsonl, expect = p.generate("2023-12", records=5000)
        p.produce(rekey(jsonl_messages(jsonl), key=None))   # no keys
        p.run_consumer()
        p.check_counts(expect)

    Attributes: tmp, broker, redis (RedisServer), tag, group, prefix, conf
    (path), topic (the records topic)."""

    def __init__(self, tmp, broker, redis_server, tag, partitions=8, group=None, prefix="sgs",
                 topics=True, **config):
        self.tmp = tmp
        self.broker = broker
        self.redis = redis_server
        self.tag = tag
        self.group = group or tag
        self.prefix = prefix
        self.topic = config.get("topic__records") or tag + ".records"
        if topics:
            create_sgs_topics(broker, tag, partitions)
        self.conf = sgs_config(tmp, broker, redis_server, group=self.group, prefix=prefix,
                               tag=tag, **config)

    def client(self):
        """A Redis client (str replies)."""
        return self.redis.client()

    def generate(self, month, name="gen", produce=False, **opts):
        """sgs-gen with this configuration: (jsonl path or None, expectation)."""
        return generate(self.tmp, self.conf, month, name=name, produce=produce, **opts)

    def produce(self, messages, topic=None, **kw):
        """kafka.produce() to the records topic (or `topic`)."""
        return _kafka.produce(self.broker.bootstrap, topic or self.topic, messages, **kw)

    def consumer(self, idle=None, extra=(), name="consumer"):
        """Starts sgs-consumer (log <tmp>/<name>.log); returns its Proc."""
        return spawn(consumer_cmd(self.conf, idle, extra), self.tmp, name=name)

    def run_consumer(self, idle=3, timeout=300, extra=(), name="consumer"):
        """Runs sgs-consumer until idle; checks exit 0 and its summary."""
        return run_consumer(self.tmp, self.conf, idle=idle, timeout=timeout, extra=extra,
                            name=name)

    def progress(self):
        """Messages written to Redis so far (the stored offsets' sum)."""
        return stored_offsets(self.client(), prefix=self.prefix, topic=self.topic)

    def counts(self, month=None):
        return redis_counts(self.client(), prefix=self.prefix, topic=self.topic, month=month)

    def check_counts(self, expect, month=None, what=""):
        return check_counts(self.client(), expect, month=month, prefix=self.prefix, what=what,
                            topic=self.topic)

    def alerts_and_rejects(self, timeout=15):
        return alerts_and_rejects(_kafka.consume_all, self.broker.bootstrap, self.tag, timeout)

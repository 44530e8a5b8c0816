"""Helpers shared by the tests that run the sgs pipeline end to end: configs,
the generator, running consumers, and reading the counters back from Redis
independently of the aggregator."""

import json
import os
import random
import signal
import time

from sgsharness import (build_path, check, check_eq, run, source_path, spawn, wait_until,
                        write_config)

FIELDS = {"records": "records", "late": "late", "invalid": "invalid", "dup": "duplicates",
          "lic": "licenses", "pen": "penalties"}


def sgs_config(tmp, broker, redis_server, group="sgs-test", prefix="sgs", tag="sgs", **extra):
    """Writes a consumer/aggregator config for these servers, with topics
    <tag>.records/.alerts/.rejects/.snapshots; returns its path."""
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
        "redis.host": "127.0.0.1",
        "redis.port": str(redis_server.port),
        "redis.prefix": prefix,
        "units.file": source_path("configs", "units.tsv"),
        "calendar.file": source_path("configs", "calendar-cn.json"),
        "report.dir": os.path.join(tmp, "reports"),
        "group.city.name": "市直单位",
        "group.county.name": "县（市、区）",
        "consumer.stats_interval_s": "2",
        "consumer.retry_max_ms": "500",
    }
    for k, v in extra.items():
        values[k.replace("__", ".")] = str(v)
    path = os.path.join(tmp, "sgs-%s.conf" % group)
    write_config(path, values)
    return path


def generate(tmp, conf, month, name="gen", produce=False, **opts):
    """Runs sgs-gen; returns (jsonl path or None, expectation dict)."""
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
    """(key, value, timestamp) tuples for produce() from an sgs-gen JSONL file."""
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
                key = obj.get("unit_id") or obj.get("XK_LYDWDM") or obj.get("CF_SJLYDM")
                if not isinstance(key, str):
                    key = None
                ts = obj.get("_kafka_timestamp_ms")
            msgs.append((key, line, ts))
    return msgs


def consumer_cmd(conf, idle=None, extra=()):
    """The consumer's command line; SGSTEST_CONSUMER_WRAPPER (e.g. a valgrind command)
    is put in front when set."""
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


def redis_counts(r, prefix="sgs", topic="sgs.records", month=None):
    """Per-unit counters summed over every partition (and every month when month
    is None): {"units": {unit: {records, late, invalid, duplicates, licenses,
    penalties}}, "unattributed": n, "malformed": n}."""
    units, glob_ = {}, {"unattributed": 0, "malformed": 0}
    pattern = "%s:{%s:*}:m:%s" % (prefix, topic, month or "*")
    for key in r.scan_iter(match=pattern, count=1000):
        for field, value in r.hgetall(key).items():
            unit, _, name = field.rpartition("|")
            if unit == "_":
                glob_[name] = glob_.get(name, 0) + int(value)
                continue
            if name not in FIELDS:
                continue
            u = units.setdefault(unit, {v: 0 for v in FIELDS.values()})
            u[FIELDS[name]] += int(value)
    glob_["units"] = units
    return glob_


def check_counts(r, expect, month=None, prefix="sgs", what="", topic="sgs.records"):
    """Every unit's counters equal the generator's expectation, exactly."""
    got = redis_counts(r, prefix=prefix, month=month, topic=topic)
    bad = []
    for unit, want in expect["units"].items():
        have = got["units"].get(unit, {v: 0 for v in FIELDS.values()})
        for f in FIELDS.values():
            if have[f] != want[f]:
                bad.append("%s %s: got %d, want %d" % (unit, f, have[f], want[f]))
    extra = set(got["units"]) - set(expect["units"])
    if extra:
        bad.append("units not in the expectation: %s" % sorted(extra)[:5])
    for g in ("unattributed", "malformed"):
        if got.get(g, 0) != expect[g]:
            bad.append("%s: got %d, want %d" % (g, got.get(g, 0), expect[g]))
    if bad:
        raise AssertionError("%scounters differ (%d): %s" % (what, len(bad), "; ".join(bad[:12])))
    check_doc_lists(r, prefix=prefix, topic=topic, what=what)
    return got


def check_doc_lists(r, prefix="sgs", topic="sgs.records", what=""):
    """Each partition's P:T:dn:YYYY-MM lists hold every identity of its seen hash
    exactly once, under the month seen gives (the aggregator's sequence gaps)."""
    for key in r.scan_iter(match="%s:{%s:*}:seen" % (prefix, topic)):
        base = key[:-len(":seen")]
        seen = r.hgetall(key)
        listed = {}
        for dkey in r.scan_iter(match=base + ":dn:*"):
            month = dkey[len(base + ":dn:"):]
            text = r.get(dkey)
            check(text.endswith("\n"), "%s%s ends with a newline" % (what, dkey))
            for ident in text[:-1].split("\n"):
                check(ident not in listed, "%s%s listed twice" % (what, ident))
                listed[ident] = month
        check(listed == seen, "%s%s: dn lists differ from seen (%d listed, %d seen)"
              % (what, base, len(listed), len(seen)))


def stored_offsets(r, prefix="sgs", topic="sgs.records"):
    total = 0
    for key in r.scan_iter(match="%s:{%s:*}:offset" % (prefix, topic)):
        total += int(r.get(key) or 0)
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

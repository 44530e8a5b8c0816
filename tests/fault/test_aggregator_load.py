"""Fault scenario 5, the aggregator under load: `sgs-aggregator snapshot` is
run again and again (each into its own directory) while sgs-consumer writes a
month that keeps arriving.

The snapshot reads every partition's counters in one MULTI/EXEC, and a
consumer batch is one atomic script, so every snapshot must be a state the
counters really passed through:
- inside each snapshot, every column of the units sums to its group and to
  the totals (records, late, invalid, duplicates, licenses, penalties,
  concealed), the rates match their numerators, and each unit's records equal
  its licenses plus penalties (the generator's records are all one or the
  other);
- from one snapshot to the next no counter of any unit goes down, the version
  goes up exactly when the figures changed and stays when they did not;
- the last snapshot, taken after the consumer drained, equals the
  expectation exactly, and one more run keeps its version.
"""

import json
import os

import pytest

from sgstest import check, check_eq, consumer_cmd, jsonl_messages, spawn, wait_until
from sgstest.fault import (MONTH, SteadyFeeder, finish, progress, seed, snapshot,
                           snapshot_consistency)

TAG = "agl"
SEED = seed(20231205)
RECORDS = 60000
COUNTERS = ("records", "late", "invalid", "duplicates", "licenses", "penalties")


def figures_of(snap):
    """The part of a snapshot that versions compare (not version, generated_at,
    offsets)."""
    s = dict(snap)
    s.pop("version", None)
    s.pop("generated_at", None)
    s.pop("offsets", None)
    return json.dumps(s, sort_keys=True, ensure_ascii=False)


@pytest.mark.figures("aggregator_load")
@pytest.mark.case_timeout(300)
def test_aggregator_load(sgs, apache_kafka, tmp, figures):
    """aggregator under load: snapshots taken while the consumer writes are each
    consistent and never go back"""
    res = figures
    res["seed"] = SEED
    pl = sgs(TAG, kafka=apache_kafka, partitions=8, consumer__batch__max_messages=200)
    broker, r, conf = pl.broker, pl.redis, pl.conf
    jsonl, expect = pl.generate(MONTH, seed=SEED % 100000, records=RECORDS,
                                late_share=0.03, invalid=200, duplicates=300, malformed=30,
                                unknown_unit=30, format="mixed")
    msgs = jsonl_messages(jsonl)
    total = len(msgs)
    res["records"] = RECORDS
    res["messages"] = total
    c = r.client()

    # the month arrives steadily over about 12 s
    feeder = SteadyFeeder(broker.bootstrap, TAG + ".records", msgs, rate=5000)
    p = spawn(consumer_cmd(conf, idle=4), tmp, name="consumer")
    wait_until(lambda: progress(c, TAG) > 0, timeout=60, what="consumer started")

    snaps = []
    during = 0
    while p.alive():
        before = progress(c, TAG)
        snaps.append(snapshot(tmp, conf, out=os.path.join(tmp, "snap-%03d" % len(snaps))))
        if before < total:
            during += 1
    feeder.join()
    check_eq(p.wait(10), 0, "consumer exit status")
    check(during >= 10, "at least 10 snapshots while records were being written (got %d)" % during)

    bad = []
    prev = None
    versions = []
    for i, s in enumerate(snaps):
        for b in snapshot_consistency(s):
            bad.append("snapshot %d: %s" % (i, b))
        for u in s["units"]:
            if u["records"] != u["licenses"] + u["penalties"]:
                bad.append("snapshot %d: %s records %d != licenses %d + penalties %d"
                           % (i, u["unit_id"], u["records"], u["licenses"], u["penalties"]))
        versions.append(s["version"])
        if prev is not None:
            changed = figures_of(s) != figures_of(prev)
            if changed and s["version"] != prev["version"] + 1:
                bad.append("snapshot %d: figures changed but version %d after %d"
                           % (i, s["version"], prev["version"]))
            if not changed and s["version"] != prev["version"]:
                bad.append("snapshot %d: same figures, version %d after %d"
                           % (i, s["version"], prev["version"]))
            old = {u["unit_id"]: u for u in prev["units"]}
            for u in s["units"]:
                for f in COUNTERS:
                    if u[f] < old[u["unit_id"]][f]:
                        bad.append("snapshot %d: %s %s went down %d -> %d"
                                   % (i, u["unit_id"], f, old[u["unit_id"]][f], u[f]))
            if s["totals"]["unattributed"] < prev["totals"]["unattributed"]:
                bad.append("snapshot %d: unattributed went down" % i)
            # the offsets of the read (or, when the version is kept, of its
            # stored read) never go back
            for part, off in prev["offsets"].items():
                if s["offsets"].get(part, -1) < off:
                    bad.append("snapshot %d: offset of %s went back %d -> %s"
                               % (i, part, off, s["offsets"].get(part)))
        prev = s
    if bad:
        raise AssertionError("%d problem(s): %s" % (len(bad), "; ".join(bad[:10])))
    figures = finish(tmp, conf, expect, r, broker, TAG)
    again = snapshot(tmp, conf)
    check_eq(again["version"], figures["snapshot_version"], "version of an unchanged re-run")
    res.data.update(figures)
    res["snapshots"] = len(snaps)
    res["snapshots_while_writing"] = during
    res["versions"] = "%d..%d" % (versions[0], again["version"])
    res["faults"] = ("%d snapshots (%d while writing), versions %d..%d"
                     % (len(snaps) + 2, during, versions[0], again["version"]))


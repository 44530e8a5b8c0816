#!/usr/bin/python3
"""Turns the figures the fault scenarios wrote (JSON lines, SGS_RELIABILITY_OUT)
into the tables of docs/RELIABILITY.md, between the markers
<!-- reliability:begin --> and <!-- reliability:end -->; the rest of the file
is kept. Run by scripts/reliability.sh.

usage: reliability_table.py RESULTS.jsonl DOC.md [--elapsed SECONDS] [--status N]
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys

BEGIN = "<!-- reliability:begin -->"
END = "<!-- reliability:end -->"

ORDER = [
    ("crash_loop", "1. Crash loop", "test_crash_loop.py"),
    ("redis_outage", "2. Redis outage", "test_redis_outage.py"),
    ("broker_faults", "3. Broker faults (mock cluster)", "test_broker_faults.py"),
    ("rebalance_eager", "4a. Rebalances, eager", "test_rebalance.py"),
    ("rebalance_cooperative", "4b. Rebalances, cooperative-sticky", "test_rebalance.py"),
    ("aggregator_load", "5. Aggregator under load", "test_aggregator_load.py"),
    ("alerts", "6. Alerts after crashes", "test_alerts.py"),
    ("identity_keys", "7a. Identity: keys every way", "test_identity.py"),
    ("identity_same_decisions", "7b. Identity: the same decisions keyed 4 ways",
     "test_identity.py"),
    ("identity_late_rate", "7c. Identity: late_rate across partitions", "test_identity.py"),
    ("identity_partitions_added", "7d. Identity: partitions added mid-stream",
     "test_identity.py"),
    ("identity_crash_loop", "7e. Identity: crash loop, keys mixed", "test_identity.py"),
    ("lost_flushall", "8a. Lost state: FLUSHALL", "test_lost_state.py"),
    ("lost_offset_key", "8b. Lost state: offset key deleted", "test_lost_state.py"),
    ("stable_alert_ids", "8c. late_rate id after a restore and a rebuild",
     "test_lost_state.py"),
    ("partitions_refused", "9a. Partitions first assigned while Redis refuses",
     "test_atomicity.py"),
    ("proto_max_bulk_len", "9b. proto-max-bulk-len 1mb", "test_atomicity.py"),
    ("wrong_type", "9c. Keys of the wrong type", "test_atomicity.py"),
    ("fence_failed_seeks", "9d. Two writers, failed seeks", "test_atomicity.py"),
    ("fence_failed_seeks_forwarding", "9e. Two writers, failed seeks, keys mixed",
     "test_atomicity.py"),
    ("zombie_sigstop", "9f. Zombie: SIGSTOP past the session", "test_atomicity.py"),
    ("outbox_full", "10a. Outbox full: alerts refused", "test_outbox.py"),
    ("reject_cut", "10b. Rejects over the broker's limit", "test_outbox.py"),
    ("out_of_memory", "10c. Failed builds (debug.fail_alloc)", "test_outbox.py"),
]


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def outage(r):
    parts = []
    if r.get("scenario") == "redis_outage":
        if r.get("outage_s"):
            parts.append("%.1f Redis down" % r["outage_s"])
        if r.get("refused_s"):
            parts.append("%.1f writes refused" % r["refused_s"])
    elif r.get("outage_s") and r.get("scenario") == "cluster_failover":
        parts.append("%.1f masters down" % r["outage_s"])
    elif r.get("outage_s"):
        parts.append("%.1f broker down" % r["outage_s"])
    elif r.get("refused_s"):
        parts.append("%.1f %s refused" % (r["refused_s"], "alerts" if r.get("scenario") ==
                                          "outbox_full" else "batches"))
    elif r.get("stopped_s"):
        parts.append("%.1f stopped" % r["stopped_s"])
    if r.get("slow_s"):
        parts.append("%.0f at 200 ms rtt" % r["slow_s"])
    return " + ".join(parts) or "–"


def repeats(r):
    if r.get("alert_repeats") is None:
        return "–"
    text = "%d of %d" % (r["alert_repeats"], r.get("alert_messages", 0))
    if r.get("reject_repeats"):
        text += " (rejects: %d)" % r["reject_repeats"]
    return text


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def render(results, elapsed, status):
    by = {}
    for r in results:
        by[r["scenario"]] = r  # the last line of a scenario wins
    lines = [BEGIN, ""]
    lines.append("| Scenario | Records (messages) | Kills landed | Outage, s | Faults injected "
                 "| Alert repeats | Exact | Elapsed, s |")
    lines.append("|---|---:|---:|---|---|---|---|---:|")
    kafka = set()
    rows = list(ORDER) + [(k, k.replace("_", " ").capitalize(), "") for k in sorted(by)
                          if k not in {o[0] for o in ORDER}]
    for key, name, _ in rows:
        r = by.get(key)
        if r is None:
            lines.append("| %s | – | – | – | not run | – | **no result** | – |" % name)
            continue
        if r.get("kafka"):
            kafka.add(r["kafka"])
        exact = "yes" if r.get("exact") else "**NO**"
        if r.get("skipped"):
            exact = "skipped: " + cell(r["skipped"])
        elif not r.get("exact") and r.get("error"):
            exact += ": " + cell(r["error"])[:160]
        lines.append("| %s | %s (%s) | %s | %s | %s | %s | %s | %.0f |" % (
            name, format(r.get("records", 0), ","), format(r.get("messages", 0), ","),
            r.get("kills", 0), outage(r), cell(r.get("faults", "")), repeats(r), exact,
            r.get("elapsed_s", 0)))
    lines.append("")
    points = {}
    kill_cols = ("crash_loop", "alerts", "identity_crash_loop")
    for key in kill_cols:
        for p, n in (by.get(key, {}).get("kill_points") or {}).items():
            points.setdefault(p, {})[key] = n
    if points:
        lines.append("Where the SIGKILLs landed (strace names the system call it killed):")
        lines.append("")
        lines.append("| Kill point | Crash loop | Alerts | Crash loop, keys mixed |")
        lines.append("|---|---:|---:|---:|")
        for p in sorted(points, key=lambda p: (-sum(points[p].values()), p)):
            lines.append("| %s | %s |" % (cell(p), " | ".join("%d" % points[p].get(k, 0)
                                                              for k in kill_cols)))
        lines.append("")
    extra = []
    cl = by.get("crash_loop")
    if cl and cl.get("restart_to_first_batch_s_median") is not None:
        extra.append("crash loop: %d rounds for %d kills; a restarted consumer wrote its first "
                     "batch %.2f s after it started (median; static membership); at least %d "
                     "outbox entries were produced again by the next consumer"
                     % (cl.get("rounds", 0), cl.get("kills", 0),
                        cl["restart_to_first_batch_s_median"], cl.get("outbox_resends", 0)))
    al = by.get("alerts")
    if al and al.get("channel_late_alerts") is not None:
        extra.append("alerts: %d late alerts on the topic in %d messages (%d repeats), %d "
                     "late_rate alerts; the Redis channel carried %d late alerts, each once; "
                     "at least %d outbox entries were produced again by the next consumer"
                     % (al.get("late_alerts", 0), al.get("late_alert_messages", 0),
                        al.get("late_alert_repeats", 0), al.get("late_rate_alerts", 0),
                        al.get("channel_late_alerts", 0), al.get("outbox_resends", 0)))
    ag = by.get("aggregator_load")
    if ag and ag.get("snapshots"):
        extra.append("aggregator under load: %d snapshots in the loop, %d of them while records "
                     "were being written, versions %s, every one consistent"
                     % (ag["snapshots"], ag.get("snapshots_while_writing", 0),
                        ag.get("versions", "?")))
    for key in ("rebalance_eager", "rebalance_cooperative"):
        rb = by.get(key)
        if rb and rb.get("partition_assignments"):
            extra.append("%s: %d partition assignments and %d revocations over the 4 members, "
                         "%d fenced batches" % (key.replace("_", ", "),
                                                sum(rb["partition_assignments"].values()),
                                                sum((rb.get("partition_revocations") or {})
                                                    .values()),
                                                rb.get("fenced_batches", 0)))
    ic = by.get("identity_crash_loop")
    if ic and ic.get("rounds"):
        extra.append("crash loop, keys mixed: %d rounds for %d kills; at least %d outbox entries "
                     "were produced again by the next consumer"
                     % (ic["rounds"], ic.get("kills", 0), ic.get("outbox_resends", 0)))
    fw = [(k, by[k]["forwarded"]) for k in ("identity_keys", "identity_same_decisions")
          if by.get(k, {}).get("forwarded")]
    if fw:
        extra.append("identity: records forwarded to their unit's partition: %s"
                     % ", ".join("%s %d" % (k.replace("identity_", "").replace("_", " "), n)
                                 for k, n in fw))
    for key in ("fence_failed_seeks", "fence_failed_seeks_forwarding"):
        fr = by.get(key)
        if fr and fr.get("fenced_batches"):
            extra.append("%s: %s batches fenced (A, B), every injected seek failure retried"
                         % (key.replace("_", " "),
                            ", ".join("%d" % n for n in fr["fenced_batches"].values())))
    ob = by.get("outbox_full")
    if ob and ob.get("left_in_redis") is not None:
        extra.append("outbox full: %d items left in Redis by the stopped consumer and re-sent by "
                     "the next; %d reject repeats (all of them items of those entries), every "
                     "alert once" % (ob["left_in_redis"], ob.get("reject_repeats", 0)))
    for e in extra:
        lines.append("- " + e)
    if extra:
        lines.append("")
    total = sum(r.get("elapsed_s", 0) for r in by.values())
    kafka = sorted("librdkafka %s mock cluster" % version(["pkg-config", "--modversion", "rdkafka"])
                   if k.startswith("mock") else k.replace("apache ", "Apache Kafka ")
                   for k in kafka)
    lines.append("Generated %s by `scripts/reliability.sh` on %d cores: the fault label took %s "
                 "(the scenarios themselves %.0f s, broker start-up included); ctest status %s. "
                 "Brokers: %s; %s." % (
                     datetime.date.today().isoformat(), os.cpu_count() or 0,
                     "%d s" % elapsed if elapsed is not None else "time not measured",
                     total, status if status is not None else "?",
                     ", ".join(kafka) or "?",
                     version(["redis-server", "--version"]).split(" sha=")[0]
                     .replace("Redis server v=", "Redis ")))
    lines.append("")
    lines.append(END)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("doc")
    ap.add_argument("--elapsed", type=int)
    ap.add_argument("--status", type=int)
    a = ap.parse_args()
    results = []
    if os.path.exists(a.results):
        with open(a.results, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    results.append(json.loads(line))
    block = render(results, a.elapsed, a.status)
    with open(a.doc, encoding="utf-8") as f:
        doc = f.read()
    if BEGIN in doc and END in doc:
        doc = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda m: block, doc,
                     flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    with open(a.doc, "w", encoding="utf-8") as f:
        f.write(doc)
    sys.stdout.write(block + "\n")


if __name__ == "__main__":
    main()

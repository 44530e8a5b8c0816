#!/usr/bin/python3
"""Pipelined batch-like scripts against one Redis and a 3-master cluster
(docs/REDIS.md "Redis Cluster" quotes the output).

    /usr/bin/python3 bench/rcl_bench.py [--scripts 10000] [--fields 100] [--tags 64] [--rounds 3]

For each setup, --rounds runs of build/rcl_bench (bench/rcl_bench.c): --scripts
EVALSHAs of --fields HINCRBYs each, one per tag per round over --tags tags,
pipelined through common/rcluster.c. Setups:
  1 node, plain hiredis   the same pipeline without the module (its own cost)
  1 node                  the module, redis.host/port (a cluster of one)
  1 node + 1 replica      the same with a replica (the other supported deployment)
  3 masters               a cluster without replicas (rediscluster.py)
  3 masters + 3 replicas  the same with a replica each (replication's cost)
No persistence anywhere (AOF off, no RDB), all on loopback. Printed per setup:
the median run's scripts/s and HINCRBY/s, the client's CPU seconds, and the
Redis servers' CPU seconds (INFO cpu, summed over every node) for that run.
The sum of every hash is checked against scripts x fields.
"""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

import redis

try:
    from sgstest import build_path, free_port, private_redis
    from sgstest.rediscluster import RedisCluster
except ImportError:
    sys.exit("rcl_bench: run it with bench/run.sh rcl (it puts tests/lib, the start-up library, "
             "on PYTHONPATH)")


def cpu(clients):
    return sum(float(c.info("cpu")["used_cpu_sys"]) + float(c.info("cpu")["used_cpu_user"])
               for c in clients)


def run(args, config, clients, raw=False):
    cmd = [build_path("rcl_bench"), "--scripts", str(args.scripts),
           "--fields", str(args.fields), "--tags", str(args.tags)]
    for k, v in config.items():
        cmd += ["-X", "%s=%s" % (k, v)]
    if raw:
        cmd.append("--raw")
    before = cpu(clients)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res = json.loads(out)
    res["redis_cpu_s"] = cpu(clients) - before
    return res


def check_sum(clients, want):
    total = 0
    for c in clients:
        for k in c.scan_iter("{bench:*}:m", count=1000):
            total += sum(int(v) for v in c.hvals(k))
    if total != want:
        sys.exit("rcl_bench.py: the hashes sum to %d, expected %d" % (total, want))


def setup(args, name, config, masters, nodes=None, raw=False, settle=None):
    """--rounds runs: FLUSHALL on the masters (replicas follow), settle(), run;
    Redis CPU summed over `nodes` (default: the masters)."""
    runs = []
    for _ in range(args.rounds):
        for c in masters:
            c.flushall()
        if settle:
            settle()
        runs.append(run(args, config, nodes or masters, raw))
        check_sum(masters, args.scripts * args.fields)
    runs.sort(key=lambda r: r["scripts_per_s"])
    m = runs[len(runs) // 2]
    print("%-24s %8.0f scripts/s  %10.0f HINCRBY/s  client CPU %.2f s  Redis CPU %.2f s  "
          "(%.2f s; runs: %s)"
          % (name, m["scripts_per_s"], m["hincrby_per_s"], m["client_cpu_s"],
             m["redis_cpu_s"], m["seconds"],
             ", ".join("%.0f" % r["scripts_per_s"] for r in runs)), flush=True)


@contextlib.contextmanager
def replica_of(port, tmp):
    """A redis-server replicating 127.0.0.1:port (no persistence), as a client."""
    rport = free_port()
    d = os.path.join(tmp, "replica")
    os.makedirs(d)
    p = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no", "--dir", d,
                          "--replicaof", "127.0.0.1", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        c = redis.Redis(port=rport)
        for _ in range(200):
            try:
                if c.info("replication").get("master_link_status") == "up":
                    break
            except redis.ConnectionError:
                pass
            time.sleep(0.05)
        yield c
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scripts", type=int, default=10000)
    ap.add_argument("--fields", type=int, default=100)
    ap.add_argument("--tags", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print("# %d scripts of %d HINCRBY over %d tags, %d runs each, %d CPUs"
          % (args.scripts, args.fields, args.tags, args.rounds, os.cpu_count()), flush=True)
    with private_redis("sgs-rclbench-") as (r, port, tmp):
        cfg = {"redis.host": "127.0.0.1", "redis.port": port}
        setup(args, "1 node, plain hiredis", cfg, [r], raw=True)
        setup(args, "1 node", cfg, [r])
        with replica_of(port, tmp) as rep:
            def synced():
                while rep.info("replication").get("master_link_status") != "up" or \
                        rep.info("replication")["slave_repl_offset"] != \
                        r.info("replication")["master_repl_offset"]:
                    time.sleep(0.05)
            setup(args, "1 node + 1 replica", cfg, [r], [r, rep], settle=synced)
    for replicas in (0, 1):
        with RedisCluster(masters=3, replicas=replicas, appendfsync=None) as cl:
            masters = [n.client(decode=False) for n in cl.masters()]
            nodes = [n.client(decode=False) for n in cl.nodes]
            setup(args, "3 masters" + (" + 3 replicas" if replicas else ""), cl.config(),
                  masters, nodes, settle=cl.wait_ready)


if __name__ == "__main__":
    main()

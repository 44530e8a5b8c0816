#!/usr/bin/python3
"""Times `sgs-aggregator snapshot` for a month with 5,000 registered units.

Starts its own redis-server on a free loopback port in a temporary directory
(sgstest.private_redis, the tests' start-up library),
writes a 5,000-unit registry, fills Redis directly with the layout of
docs/REDIS.md (4 partitions, every unit with counters, ~11,000 document numbers a
month in the dn lists from January to December, the previous month's snapshot),
then runs the December snapshot several times and prints the wall times.

Publishing goes to librdkafka's in-process mock cluster
(kafka.test.mock.num.brokers=1), so the time includes producing and waiting for
the delivery report, without a broker to start.

usage: bench/run.sh snapshot [--build DIR] [--units N] [--runs N] [--log-level LEVEL]
       (DIR defaults to $SGS_BUILD_DIR or ./build)
Target: under 1 s per snapshot.
"""
import argparse
import os
import random
import subprocess
import sys
import time

try:
    from sgstest import private_redis
except ImportError:
    sys.exit("snapshot_bench: run it with bench/run.sh (it puts tests/lib, the start-up library, "
             "on PYTHONPATH)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("SGS_BUILD_DIR", "build"))
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--wrap", default="", help="command prefix for the timed runs (perf record ...)")
    ap.add_argument("--log-level", default="warning",
                    help="the aggregator's log.level (default warning)")
    args = ap.parse_args()

    binary = os.path.join(args.build, "sgs-aggregator")
    if not os.access(binary, os.X_OK):
        sys.exit(f"snapshot_bench: {binary}: not built")
    with private_redis("snapshot-bench") as (r, port, tmp):
        rnd = random.Random(42)
        units = []
        with open(os.path.join(tmp, "units.tsv"), "w", encoding="utf-8") as f:
            f.write("unit_id\tname\tgroup\taliases\n")
            for i in range(args.units):
                uid = f"U{i:05d}"
                group = "city" if i < args.units // 10 else "county"
                units.append(uid)
                f.write(f"{uid}\t单位{i:05d}\t{group}\n")
        with open(os.path.join(tmp, "bench.conf"), "w", encoding="utf-8") as f:
            f.write(f"redis.port = {port}\nunits.file = {tmp}/units.tsv\n"
                    f"report.dir = {tmp}/reports\n"
                    "group.city.name = 市直单位\ngroup.county.name = 县（市、区）\n"
                    "kafka.test.mock.num.brokers = 1\n"
                    # a 5,000-unit snapshot is ~2 MB of JSON: above the 1 MB default
                    "kafka.message.max.bytes = 20000000\n")

        parts = [f"sgs.records:{p}" for p in range(args.partitions)]
        r.sadd("sgs:partitions", *parts)
        serial = {u: 0 for u in units}
        pipe = r.pipeline(transaction=False)
        for month in range(1, 13):
            ym = f"2023-{month:02d}"
            counters = [dict() for _ in parts]
            dn = [[] for _ in parts]
            for u in units:
                n = rnd.randint(0, 4)  # ~11,000 records a month over 5,000 units
                for _ in range(n):
                    serial[u] += 1 + (1 if rnd.random() < 0.02 else 0)
                    p = rnd.randrange(len(parts))
                    kind = "penalty" if rnd.random() < 0.4 else "license"
                    dn[p].append(f"{u}|{kind}|平罚〔2023〕{serial[u]}号")
                    c = counters[p]
                    c[f"{u}|records"] = c.get(f"{u}|records", 0) + 1
                    key = "pen" if kind == "penalty" else "lic"
                    c[f"{u}|{key}"] = c.get(f"{u}|{key}", 0) + 1
                    if rnd.random() < 0.05:
                        c[f"{u}|late"] = c.get(f"{u}|late", 0) + 1
                    if rnd.random() < 0.01:
                        c[f"{u}|invalid"] = c.get(f"{u}|invalid", 0) + 1
            for p, part in enumerate(parts):
                if counters[p]:
                    pipe.hset(f"sgs:{{{part}}}:m:{ym}", mapping=counters[p])
                if dn[p]:
                    pipe.append(f"sgs:{{{part}}}:dn:{ym}", "".join(i + "\n" for i in dn[p]))
        pipe.execute()
        members = sum((r.get(f"sgs:{{{p}}}:dn:2023-{m:02d}") or b"").count(b"\n")
                      for p in parts for m in range(1, 13))

        env = {k: v for k, v in os.environ.items() if not k.startswith("SGS_")}
        base = [binary, "-c", os.path.join(tmp, "bench.conf"), "-X", "log.level=" + args.log_level]
        subprocess.run(base + ["snapshot", "--month", "2023-11"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        times = []
        # One more record after each run, so every run writes a new version.
        for _ in range(args.runs):
            t0 = time.monotonic()
            subprocess.run(args.wrap.split() + base + ["snapshot", "--month", "2023-12"],
                           check=True, env=env,
                           stdout=subprocess.DEVNULL)
            times.append(time.monotonic() - t0)
            r.hincrby(f"sgs:{{{parts[0]}}}:m:2023-12", f"{units[0]}|records", 1)
        print(f"snapshot_bench: {args.units} units, {len(parts)} partitions, "
              f"{members} document numbers in 2023's dn lists")
        print("snapshot 2023-12 wall times (s): " + ", ".join(f"{t:.3f}" for t in times))
        print(f"best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s, "
              f"target < 1 s: {'ok' if max(times) < 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main()

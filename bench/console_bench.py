#!/usr/bin/python3
"""Benchmarks of `sgs-aggregator serve` (issue 13):

1. GET /api/v1/live for a 5,000-unit registry: the time to answer, measured by
   the client (a fresh connection per request, the whole 1.5 MB body read),
   for two months of counters in Redis:
     sparse: the snapshot benchmark's month (~11,000 records over 5,000 units,
             4 partitions);
     dense:  every unit reporting on 60 % of the working days (~140,000 fields
             in the 30 day buckets, 8 partitions).
   Target: under 200 ms.
2. 100 idle clients of GET /api/v1/alerts/stream: the server's CPU (utime +
   stime from /proc) over --idle-seconds with them connected, as a share of
   one core. Target: under 5 %.

Starts its own redis-server (sgstest.private_redis) and the server on free
loopback ports; everything is stopped at the end.

usage: bench/run.sh console [--build DIR] [--units N] [--runs N] [--idle-seconds S]
"""
import argparse
import datetime
import http.client
import os
import random
import socket
import statistics
import sys
import time

try:
    from sgstest import free_port, private_redis, spawn
except ImportError:
    sys.exit("console_bench: run it with bench/run.sh (it puts tests/lib, the start-up library, "
             "on PYTHONPATH)")

TODAY = datetime.date(2023, 12, 20)


def fill_sparse(r, units, parts):
    """~11,000 records in December over the units, on their report days."""
    rnd = random.Random(42)
    buckets = {}
    for u in units:
        for _ in range(rnd.randint(0, 4)):
            p = rnd.randrange(parts)
            day = TODAY - datetime.timedelta(days=rnd.randrange(20))
            for key in ("m:2023-12", "d:%s" % day):
                h = buckets.setdefault((p, key), {})
                h[u + "|records"] = h.get(u + "|records", 0) + 1
                h[u + "|lic"] = h.get(u + "|lic", 0) + 1
                if rnd.random() < 0.05:
                    h[u + "|late"] = h.get(u + "|late", 0) + 1
    return buckets


def fill_dense(r, units, parts):
    """Every unit on 60 % of the working days of the last 30, 1-3 records."""
    rnd = random.Random(7)
    buckets = {}
    for k in range(30):
        day = TODAY - datetime.timedelta(days=k)
        if day.weekday() >= 5:
            continue
        for i, u in enumerate(units):
            if rnd.random() >= 0.6:
                continue
            p, n = i % parts, rnd.randint(1, 3)
            late = rnd.random() < 0.1
            for key in ("d:%s" % day, "m:%s" % day.strftime("%Y-%m")):
                h = buckets.setdefault((p, key), {})
                for f, v in (("records", n), ("lic", n), ("late", 1 if late else 0),
                             ("wdlate", 2 if late else 0)):
                    if v:
                        h[u + "|" + f] = h.get(u + "|" + f, 0) + v
    return buckets


def load(r, buckets, parts):
    r.flushall()
    pipe = r.pipeline(transaction=False)
    for p in range(parts):
        pipe.set("sgs:{sgs.records:%d}:offset" % p, 1)
    fields = 0
    for (p, key), h in buckets.items():
        pipe.hset("sgs:{sgs.records:%d}:%s" % (p, key), mapping=h)
        if key.startswith("d:"):
            fields += len(h)
    pipe.execute()
    return fields


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError("%s: HTTP %d %r" % (path, resp.status, body[:200]))
        return body
    finally:
        conn.close()


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("SGS_BUILD_DIR", "build"))
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--idle-seconds", type=float, default=30)
    args = ap.parse_args()
    binary = os.path.join(args.build, "sgs-aggregator")
    if not os.access(binary, os.X_OK):
        sys.exit("console_bench: %s: not built" % binary)

    with private_redis("console-bench") as (r, port, tmp):
        units = ["U%05d" % i for i in range(args.units)]
        with open(os.path.join(tmp, "units.tsv"), "w", encoding="utf-8") as f:
            f.write("unit_id\tname\tgroup\taliases\n")
            for i, u in enumerate(units):
                f.write("%s\t单位%05d\t%s\n" % (u, i, "city" if i < args.units // 10 else "county"))
        hport = free_port()
        conf = os.path.join(tmp, "bench.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write("redis.port = %d\nunits.file = %s/units.tsv\nreport.dir = %s/reports\n"
                    "calendar.file = %s\nhttp.listen = 127.0.0.1:%d\nlog.level = warning\n"
                    "group.city.name = 市直单位\ngroup.county.name = 县（市、区）\n"
                    % (port, tmp, tmp, os.path.join(os.environ.get("SGS_SOURCE_DIR", "."),
                                                    "configs", "calendar-cn.json"), hport))
        server = spawn([binary, "-c", conf, "serve"], tmp, name="serve",
                       env={"SGS_NOW": TODAY.isoformat()})
        try:
            for _ in range(100):
                try:
                    get(hport, "/healthz")
                    break
                except (OSError, RuntimeError):
                    time.sleep(0.05)
            for name, fill, parts in (("sparse", fill_sparse, 4), ("dense", fill_dense, 8)):
                fields = load(r, fill(r, units, parts), parts)
                get(hport, "/api/v1/live")  # warm: the worker's connection
                times, size = [], 0
                for _ in range(args.runs):
                    t0 = time.monotonic()
                    size = len(get(hport, "/api/v1/live"))
                    times.append(time.monotonic() - t0)
                med = statistics.median(times)
                print("console_bench: GET /api/v1/live, %d units, %s month (%d partitions, %d "
                      "fields in the day buckets), %d bytes" % (args.units, name, parts, fields,
                                                                  size))
                print("  times (ms): %s" % ", ".join("%.0f" % (t * 1000) for t in times))
                print("  median %.0f ms, best %.0f ms, worst %.0f ms; target < 200 ms: %s"
                      % (med * 1000, min(times) * 1000, max(times) * 1000,
                         "ok" if med < 0.2 else "MISSED"))

            # idle event-stream clients
            base0, t0 = cpu(server.pid), time.monotonic()
            time.sleep(min(10, args.idle_seconds))
            base = (cpu(server.pid) - base0) / (time.monotonic() - t0)
            socks = []
            for _ in range(args.clients):
                s = socket.create_connection(("127.0.0.1", hport))
                s.sendall(b"GET /api/v1/alerts/stream HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            for s in socks:
                s.settimeout(10)
                if not s.recv(4096).startswith(b"HTTP/1.1 200"):
                    raise RuntimeError("a stream did not open")
            c0, t0 = cpu(server.pid), time.monotonic()
            time.sleep(args.idle_seconds)
            share = (cpu(server.pid) - c0) / (time.monotonic() - t0)
            for s in socks:
                s.close()
            print("console_bench: %d idle /api/v1/alerts/stream clients for %.0f s: %.2f %% of "
                  "a core (without them: %.2f %%); target < 5 %%: %s"
                  % (args.clients, args.idle_seconds, share * 100, base * 100,
                     "ok" if share < 0.05 else "MISSED"))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

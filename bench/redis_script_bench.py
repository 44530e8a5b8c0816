#!/usr/bin/python3
"""What one record costs Redis inside a batch script, step by step.

Starts a private redis-server (no persistence; sgstest.private_redis), then sends batches of identities shaped like the
consumer's (about 40 bytes of "<unit>|penalty|<doc_no>") to small Lua scripts
that each do one more part of the batch script's per-record work. Redis's own
CPU time (INFO cpu) per identity is printed for each, the median of --rounds.

    bench/run.sh redis-script [--batches 150] [--size 1600] [--rounds 3]

The steps (docs/PERFORMANCE.md quotes them):
  request+ARGV      EVALSHA parsing and the ARGV table only (a script that returns)
  + Lua tables      building the HSET argument list in Lua
  HMGET             the de-duplication lookup
  HMGET+HSET        lookup and insert into the seen hash (what the script does)
  HSET only         insert without the lookup
  SADD only         a set insert per identity (the old dn:YYYY-MM set)
  APPEND list       the dn list as the script writes it now (one APPEND per batch)
"""
import argparse
import random
import statistics
import sys

try:
    from sgstest import private_redis
except ImportError:
    sys.exit("redis_script_bench: run it with bench/run.sh (it puts tests/lib, the start-up library, "
             "on PYTHONPATH)")

SCRIPTS = {
    "request+ARGV": "return 0",
    "+ Lua tables": """
local hs, n = {}, 0
for i = 1, #ARGV do hs[n + 1] = ARGV[i]; hs[n + 2] = '2024-03'; n = n + 2 end
return n""",
    "HMGET": """
local r = redis.call('HMGET', KEYS[1], unpack(ARGV))
return #r""",
    "HMGET+HSET": """
local r = redis.call('HMGET', KEYS[1], unpack(ARGV))
local hs, n = {}, 0
for i = 1, #ARGV do
  if not r[i] then hs[n + 1] = ARGV[i]; hs[n + 2] = '2024-03'; n = n + 2 end
end
redis.call('HSET', KEYS[1], unpack(hs, 1, n))
return n""",
    "HSET only": """
local hs, n = {}, 0
for i = 1, #ARGV do hs[n + 1] = ARGV[i]; hs[n + 2] = '2024-03'; n = n + 2 end
redis.call('HSET', KEYS[1], unpack(hs, 1, n))
return n""",
    "SADD only": """
redis.call('SADD', KEYS[1], unpack(ARGV))
return 0""",
    "APPEND list": """
local l = {}
for i = 1, #ARGV do l[i] = ARGV[i] end
l[#ARGV + 1] = ''
redis.call('APPEND', KEYS[1], table.concat(l, '\\n'))
return 0""",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=150)
    ap.add_argument("--size", type=int, default=1600, help="identities per batch")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()

    with private_redis("redis-bench") as (r, _, _):
        rnd = random.Random(1)
        batches = [["%06d|penalty|平市监罚〔2024〕%d号" % (410400 + rnd.randrange(42),
                                                     b * a.size + i)
                    for i in range(a.size)] for b in range(a.batches)]
        results = {name: [] for name in SCRIPTS}
        for _ in range(a.rounds):
            for name, src in SCRIPTS.items():
                r.flushall()
                sha = r.script_load(src)
                info = r.info("cpu")
                c0 = info["used_cpu_user"] + info["used_cpu_sys"]
                for b in batches:
                    r.evalsha(sha, 1, "sgs:{sgs.records:0}:k", *b)
                info = r.info("cpu")
                c1 = info["used_cpu_user"] + info["used_cpu_sys"]
                results[name].append((c1 - c0) / (a.batches * a.size) * 1e6)
        print("Redis CPU per identity, %d batches of %d, median of %d rounds:"
              % (a.batches, a.size, a.rounds))
        for name, v in results.items():
            print("  %-14s %5.2f us" % (name, statistics.median(v)))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Redis CPU per message of the consumer's real batch scripts, step by step.

Runs sgs-consumer on librdkafka's mock cluster over a generated month (the
throughput benchmark's mix: 2 % late, 1 % invalid, duplicates, unknown units,
malformed), records every EVALSHA it sends (MONITOR), then replays those exact
batches, in order, against a fresh private redis-server (no persistence)
--rounds times, and prints Redis's own CPU time (INFO cpu) per message. The
steps are the "--@ <step>" lines of the script (consumer/script.c): the script
is cut before each in turn (offset still set, so the fence holds), and a step
costs the difference between its cut and the next one. The first line is a
script that returns at once, given the same arguments: what receiving them
costs. Batches are pipelined --partitions at a time, as the consumer writes a
round of them (one write, one read per round), so a round trip's system
calls are shared as they are there.

    bench/run.sh script-replay [--records 100000] [--rounds 3] [--partitions 8] [--key unit]

Replays measure the script alone: no AOF, no other clients; the consumer's own
reads of the fields it lacks (HMGET, at the start) are not in the batches.
"""
import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time

try:
    import sgstest as h
    from sgstest.kafka import MockBroker
    from sgstest.redisserver import RedisServer
    from sgstest import private_redis
except ImportError:
    sys.exit("script_replay: run it with bench/run.sh (it puts tests/lib, the start-up library, "
             "on PYTHONPATH)")

CUT = "do redis.call('SET', okey, newoff) return {'OK', '', ''} end\n"


def unrepr(line, i):
    """One quoted MONITOR argument at line[i] (a '"'); (bytes, index after)."""
    assert line[i:i + 1] == b'"'
    i += 1
    out = bytearray()
    esc = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b", b'"': b'"',
           b"\\": b"\\"}
    while True:
        c = line[i]
        if c == 0x22:
            return bytes(out), i + 1
        if c == 0x5C:
            d = line[i + 1:i + 2]
            if d == b"x":
                out.append(int(line[i + 2:i + 4], 16))
                i += 4
            else:
                out += esc[d]
                i += 2
            continue
        out.append(c)
        i += 1


def monitor_args(line):
    i = line.index(b"] ") + 2
    args = []
    while i < len(line):
        a, i = unrepr(line, i)
        args.append(a)
        i += 1
    return args


def capture(tmp, a):
    """The consumer's script and its EVALSHAs (argument lists after the command)."""
    broker = MockBroker(tmp, partitions=a.partitions)
    redis = RedisServer(tmp)
    conf = h.sgs_config(tmp, broker, redis, group="replay", prefix="replay",
                        **{"kafka.session.timeout.ms": "45000"})
    n = a.records
    _, expect = h.generate(tmp, conf, "2024-03", produce=True, seed=a.seed, records=n,
                           late_share=0.02, invalid=n // 100, duplicates=n // 200,
                           unknown_unit=n // 1000, malformed=max(1, n // 10000), key=a.key)
    sock = socket.create_connection(("127.0.0.1", redis.port))
    sock.sendall(b"MONITOR\r\n")
    f = sock.makefile("rb")
    if not f.readline().startswith(b"+OK"):
        sys.exit("script_replay: MONITOR refused")
    seen = {"script": None, "batches": []}

    def read():
        for line in f:
            head = line[:96].lower()
            if b'"evalsha"' in head:
                seen["batches"].append(monitor_args(line.rstrip(b"\r\n"))[1:])
            elif b'"script" "load"' in head:
                seen["script"] = monitor_args(line.rstrip(b"\r\n"))[2]

    t = threading.Thread(target=read, daemon=True)
    t.start()
    h.run_consumer(tmp, conf, idle=3, timeout=600)
    time.sleep(1.0)  # the last lines of MONITOR
    sock.close()
    if not seen["script"] or not seen["batches"]:
        sys.exit("script_replay: captured no script or no batch")
    return seen["script"].decode(), seen["batches"], expect["messages"]


def cuts(script):
    """[(step name, script cut before it)] in order, then ("", whole script)."""
    out = []
    for line in script.split("\n"):
        if line.startswith("--@ "):
            name = line[4:]
            out.append((name, script.replace(line + "\n", CUT + line + "\n", 1)))
    return out + [("", script)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20240301)
    ap.add_argument("--key", default="unit", choices=["unit", "none", "alias", "name", "mixed"],
                    help="how sgs-gen keys the messages (sgs-gen --key)")
    ap.add_argument("--build", default=os.environ.get("SGS_BUILD_DIR"))
    a = ap.parse_args()
    if a.build:
        h.set_build_dir(a.build)
    tmp = tempfile.mkdtemp(prefix="sgs-replay-")
    script, batches, messages = capture(tmp, a)
    variants = [("", "return {'OK', '', ''}\n")] + cuts(script)
    width = max(1, a.partitions)
    cpu = {i: [] for i in range(len(variants))}
    with private_redis("replay") as (r, _, _):
        for _ in range(a.rounds):
            for i, (_, src) in enumerate(variants):
                r.flushall()
                sha = r.script_load(src)
                info = r.info("cpu")
                c0 = info["used_cpu_user"] + info["used_cpu_sys"]
                for k in range(0, len(batches), width):
                    pipe = r.pipeline(transaction=False)
                    for b in batches[k:k + width]:
                        pipe.execute_command("EVALSHA", sha, *b[1:])
                    for rep in pipe.execute(raise_on_error=False):
                        if not isinstance(rep, list) or rep[0] not in (b"OK", "OK"):
                            sys.exit("script_replay: a replayed batch answered %r" % (rep,))
                info = r.info("cpu")
                cpu[i].append((info["used_cpu_user"] + info["used_cpu_sys"] - c0) * 1e6
                              / messages)
    med = [statistics.median(cpu[i]) for i in range(len(variants))]
    args = sum(len(b) - 3 for b in batches)
    size = sum(sum(len(x) for x in b[3:]) for b in batches)
    print("%d messages in %d batches (%.0f per batch), %.1f arguments and %.0f bytes per "
          "message; Redis CPU per message, median of %d replays:"
          % (messages, len(batches), messages / len(batches), args / messages, size / messages,
             a.rounds))
    print("  %-34s %6.3f us" % ("receiving the arguments", med[0]))
    print("  %-34s %6.3f us" % ("the fence and reading them", med[1] - med[0]))
    for i in range(1, len(variants) - 1):
        print("  %-34s %6.3f us" % (variants[i][0], med[i + 1] - med[i]))
    print("  %-34s %6.3f us" % ("whole script", med[-1]))


if __name__ == "__main__":
    sys.exit(main())

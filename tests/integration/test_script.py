"""The consumer's batch script (consumer/script.c, written out by script_dump)
against a real redis-server with batches larger than the end-to-end tests
make: thousands of fields in one key. Redis's Lua refuses to unpack ~8,000
values ("too many results to unpack"); a command given that many would fail
after the script's earlier writes, breaking its all-or-nothing rule."""
import subprocess

from sgstest import build_path, check, check_eq
from sgstest.redisserver import RedisServer

BASE = "sgs:{t.records:0}"
EPOCH = "0123456789abcdef"


def script_text():
    return subprocess.run([build_path("script_dump")], check=True, capture_output=True,
                          text=True).stdout


def batch_args(n):
    """A first batch (nothing stored yet) of offsets 0..99 carrying n of
    everything the script writes field by field: outbox acks, ledger entries
    of n units, n counter fields of one month key, n late-rate states, n
    forward sequences out and in, n identity fields of one key."""
    a = ["-1", "100", "0", "sgs", "90", "28800", "30", EPOCH, "100", "1000"]
    a += [str(n)] + ["ack%d" % i for i in range(n)]  # outbox fields to delete
    a += [""]  # no outbox entry
    a += ["0"]  # no alerts
    a += [str(n)]
    for i in range(n):
        a += ["U%d" % i, "2023-12", '{"unit_id": "U%d"}' % i]
    a += ["1", ":m:2023-12", str(n)] + ["U%d|records" % i for i in range(n)] + ["2"] * n
    a += [str(n)]
    for i in range(n):
        a += ["U%d" % i, "1"]
    a += [str(n)]
    for i in range(n):
        a += [str(i + 1), str(10 + i)]
    a += [str(n)]
    for i in range(n):
        a += [str(i + 1), str(20 + i)]
    a += ["1", ":x:2023", "0", "0", str(n)]
    for i in range(n):
        a += ["U%d|penalty|DOC-%d" % (i, i), "1"]
    return a


def test_big_batch_applies_whole(tmp):
    """5,000 of each in one batch: applied whole (every field written, the
    offset stored); and a batch of the same size refused by a field of the
    wrong type writes nothing."""
    server = RedisServer(tmp)
    r = server.client()
    sha = r.script_load(script_text())
    n = 5000
    r.hset(BASE + ":outbox", mapping={"ack%d" % i: "x" for i in range(n)})
    res = r.evalsha(sha, 1, BASE, *batch_args(n))
    check_eq(list(res), ["OK", "", ""], "reply")
    check_eq(r.get(BASE + ":offset"), "100", "stored offset")
    check_eq(r.hlen(BASE + ":outbox"), 0, "outbox fields acknowledged")
    m = r.hgetall(BASE + ":m:2023-12")
    check_eq(len(m), n, "counter fields")
    check(all(v == "2" for v in m.values()), "every counter incremented by 2")
    check_eq(r.hlen(BASE + ":x:2023"), n, "identity fields")
    check_eq(r.hlen(BASE + ":lr"), n, "late-rate states")
    check_eq(r.hlen(BASE + ":fo"), n, "forward sequences out")
    check_eq(r.hget(BASE + ":fo", str(n)), str(10 + n - 1), "last sequence out")
    fi = r.hgetall(BASE + ":fi")
    check_eq(len(fi), n + 2, "forward sequences in, and the epoch and first offset")
    check_eq(r.llen(BASE + ":lg:2023-12"), n, "ledger entries")
    check_eq(r.hlen(BASE + ":lgn:2023-12"), 2 * n, "ledger counts (kept, cut) of each unit")
    check_eq(r.hget(BASE + ":lgn:2023-12", "U%d" % (n - 1)), "1", "a unit's ledger count")

    # The same batch again on a fresh partition whose last counter field is not
    # an integer: refused before any write.
    base2 = "sgs:{t.records:1}"
    r.hset(base2 + ":m:2023-12", "U%d|records" % (n - 1), "x")
    before = sorted(r.keys(base2 + "*"))
    try:
        r.evalsha(sha, 1, base2, *batch_args(n))
        raise AssertionError("a counter field that is not an integer was accepted")
    except Exception as e:  # redis.ResponseError
        check("not an integer" in str(e), "refusal names the field: %s" % e)
    check_eq(sorted(r.keys(base2 + "*")), before, "nothing was written")
    check_eq(r.hlen(base2 + ":m:2023-12"), 1, "the counter key untouched")

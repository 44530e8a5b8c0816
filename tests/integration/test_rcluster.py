#!/usr/bin/python3
"""The Redis Cluster client (common/src/rcluster.c) against real servers: one
redis-server (the default path, a cluster of one), and a 6-node cluster (3
masters + 3 replicas, tests/integration/rediscluster.py) while a master is
SIGKILLed and its replica promoted, and while slots move with `redis-cli
--cluster reshard` (ASK/MOVED/TRYAGAIN mid-stream).

The workload is build/rcl_drive (tests/integration/rcl_drive.c): per round one
fenced script per tag (pipelined, re-sent after lost replies like the
consumer's batches), untagged INCRBYs of fresh keys (pipelined and blocking,
never re-sent), a MULTI/EXEC read of one slot and, now and then, a SCAN of every
master. During the reshard a second driver sends scripts of the consumer's
kind (--undeclared 1: their keys reached undeclared, SGS_RCL_SETTLED), which
must wait an ASK out. Afterwards an independent client (redis-py) reads
everything back: every acknowledged write must be there, no step applied
twice, and a key whose INCRBY was reported "may have run" holds 0 or 1, never
2."""

import json
import os
import time

import sgstest as h
from sgstest.rediscluster import RedisCluster


def start_drive(tmp, config, name, extra=()):
    """rcl_drive in the background; returns (proc, stop_file, out_file)."""
    stop = os.path.join(tmp, "%s.stop" % name)
    out = os.path.join(tmp, "%s.out" % name)
    cmd = [h.build_path("rcl_drive"), "--out", out, "--stop", stop, "--prefix", name]
    for k, v in config.items():
        cmd += ["-X", "%s=%s" % (k, v)]
    cmd += list(extra)
    return h.spawn(cmd, tmp, name=name), stop, out


def progress(proc):
    """The driver's latest progress counts (its once-a-second line), or {}."""
    if not proc.alive():
        raise AssertionError("rcl_drive exited: %s" % proc.tail(10))
    for line in reversed(proc.log().splitlines()):
        if line.startswith("rcl_drive: t="):
            return json.loads(line.split(" ", 2)[2])
    return {}


def wait_rounds(proc, rounds, timeout=60):
    """Until the driver's progress line shows `rounds` rounds."""
    h.wait_until(lambda: progress(proc).get("rounds", 0) >= rounds, timeout=timeout,
                 what="%d rounds of rcl_drive" % rounds)


def finish_drive(proc, stop, timeout=120):
    """Stops the driver (stop file), waits, returns its final counts."""
    open(stop, "w").close()
    rc = proc.wait(timeout)
    stats = None
    for line in proc.log().splitlines():
        if line.startswith("{"):
            stats = json.loads(line)
    h.check(rc == 0 and stats is not None,
            "rcl_drive exit status %s: %s" % (rc, proc.tail(15)))
    return stats


def verify(client, out, stats, what):
    """Reads back what the driver says it wrote; returns the tally and fails
    on any acknowledged write missing or any step applied twice."""
    tags, keys = [], []
    with open(out) as f:
        for line in f:
            w = line.split()
            if w[0] == "tag":
                tags.append((int(w[1]), int(w[2])))
            else:
                keys.append((w[1], w[2]))
    prefix = os.path.basename(out)[:-len(".out")]
    t = {"steps": 0, "read": 0, "lost": 0, "doubled": 0, "keys_acked": 0, "keys_read": 0,
         "keys_lost": 0, "keys_doubled": 0, "keys_unknown": 0, "keys_unknown_applied": 0,
         "keys_notrun_applied": 0}
    problems = []
    for tag, v in tags:
        c = client.get("{%s:%d}:c" % (prefix, tag))
        log = client.hgetall("{%s:%d}:log" % (prefix, tag))
        t["steps"] += v
        for step in range(1, v + 1):
            n = int(log.get(str(step), 0))
            if n == 0:
                t["lost"] += 1
                problems.append("tag %d step %d lost" % (tag, step))
            else:
                t["read"] += 1
            if n > 1:
                t["doubled"] += 1
                problems.append("tag %d step %d applied %d times" % (tag, step, n))
        extra = [f for f in log if int(f) > v]
        if extra or int(c or 0) != v:
            problems.append("tag %d: stored %s, log up to %s, expected %d"
                            % (tag, c, max(map(int, log), default=0), v))
    pipe = client.pipeline()
    for k, _ in keys:
        pipe.get(k)
    values = pipe.execute()
    for (k, e), val in zip(keys, values):
        n = int(val or 0)
        if n > 1:
            t["keys_doubled"] += 1
            problems.append("%s = %d" % (k, n))
        if e == "1":
            t["keys_acked"] += 1
            if n == 1:
                t["keys_read"] += 1
            else:
                t["keys_lost"] += 1
                problems.append("%s acknowledged, reads %s" % (k, val))
        elif e == "?":
            t["keys_unknown"] += 1
            t["keys_unknown_applied"] += n
        elif n:
            t["keys_notrun_applied"] += 1
            problems.append("%s reported not run, reads %s" % (k, val))
    print("# %s: scripts: %d steps acknowledged (%d on the first reply, %d found applied "
          "after a lost reply), %d read back, %d lost, %d doubled; rounds %d, attempts "
          "without an answer %d unavailable + %d lost" %
          (what, t["steps"], stats["acked"], stats["recovered"], t["read"], t["lost"],
           t["doubled"], stats["rounds"], stats["unavailable"], stats["lost"]), flush=True)
    print("# %s: INCRBY of fresh keys: %d acknowledged, %d read back, %d lost, %d doubled; "
          "%d reported 'may have run' (%d of them had), %d reported not run; "
          "MULTI reads %d ok / %d disagreeing / %d without answer; scans %d ok / %d wrong / "
          "%d gave up" %
          (what, t["keys_acked"], t["keys_read"], t["keys_lost"], t["keys_doubled"],
           t["keys_unknown"], t["keys_unknown_applied"],
           stats["incr_notrun"] + stats["blk_notrun"], stats["tx_ok"], stats["tx_bad"],
           stats["tx_failed"], stats["scan_ok"], stats["scan_bad"], stats["scan_failed"]),
          flush=True)
    print("# %s: followed: MOVED %d, ASK %d, TRYAGAIN %d, CLUSTERDOWN %d, LOADING/BUSY %d, "
          "READONLY %d, NOSCRIPT %d; connections %d (+%d refused), %d broken; %d re-sent after "
          "a lost reply; %d maps" %
          (what, stats["moved"], stats["ask"], stats["tryagain"], stats["clusterdown"],
           stats["busy"], stats["readonly"], stats["noscript"], stats["connects"],
           stats["connect_fails"], stats["broken"], stats["resent_lost"], stats["refreshes"]),
          flush=True)
    h.check(not problems, "%s: %d problems: %s" % (what, len(problems), "; ".join(problems[:10])))
    h.check(stats["mismatch"] == 0 and stats["tx_bad"] == 0 and stats["scan_bad"] == 0
            and stats["errors"] == 0 and stats["incr_bad"] == 0 and stats["blk_bad"] == 0,
            "%s: driver saw anomalies: %s" % (what, stats))
    # (with replies slower than the timeout on a loaded machine every INCRBY can
    # end "may have run": written, then given up on)
    h.check(t["steps"] > 0 and t["keys_acked"] + t["keys_unknown"] > 0,
            "%s: nothing was written" % what)
    return t


def test_single_redis_is_a_cluster_of_one(tmp):
    """one redis-server: the default path (redis.host/port, AUTH, SELECT), a cluster of one"""
    r = h.RedisServer(tmp, aof=True)
    r.client().config_set("requirepass", "s3cret")
    cfg = {"redis.host": r.host, "redis.port": r.port, "redis.password": "s3cret",
           "redis.db": 3}
    proc, stop, out = start_drive(tmp, cfg, "single", ["--fill", "5"])
    wait_rounds(proc, 40)
    stats = finish_drive(proc, stop)
    h.check_eq(stats["cluster"], 0, "is_cluster")
    h.check_eq(stats["masters"], 1, "masters")
    h.check_eq(stats["moved"] + stats["ask"] + stats["connect_fails"] + stats["broken"], 0,
               "redirections and failures")
    h.check_eq(stats["connects"], 1, "connections opened")
    # the replies were looked for before they were in, and then found
    h.check(stats["not_yet"] > 0, "sgs_rcl_pipe_replied never said no: %s" % stats)
    verify(r.client(password="s3cret", db=3), out, stats, "single")
    h.check_eq(r.client(password="s3cret", db=0).dbsize(), 0, "keys in db 0")
    # a wrong password: one line naming the node
    cfg["redis.password"] = "wrong"
    p = h.run([h.build_path("rcl_drive"), "--out", os.path.join(tmp, "x.out")] +
              sum((["-X", "%s=%s" % kv] for kv in cfg.items()), []), check=False)
    h.check(p.returncode == 1 and
            "rcl_drive: redis 127.0.0.1:%d: WRONGPASS" % r.port in p.stderr,
            "wrong password: %r" % p.stderr)


def test_master_killed_replica_promoted(tmp):
    """a master SIGKILLed mid-stream: its replica is promoted, nothing lost or doubled"""
    with RedisCluster(tmp, masters=3, replicas=1) as cl:
        # Scripts of ~2 ms and no pause between rounds: the kill finds
        # commands in flight (lost replies, re-sent scripts).
        proc, stop, out = start_drive(tmp, cl.config(), "failover",
                                      ["--fill", "20", "--spin", "200000", "--pause-ms", "0"])
        wait_rounds(proc, 30)
        victim = cl.master_of_slot(cl.keyslot("{failover:0}:c"))
        t0 = time.monotonic()
        cl.kill(victim)
        successor = cl.wait_failover(victim)
        print("# failover: %s killed, %s promoted and the cluster ok after %.1f s"
              % (victim.addr, successor.addr, time.monotonic() - t0), flush=True)
        time.sleep(3)
        stats = finish_drive(proc, stop)
        h.check_eq(stats["cluster"], 1, "is_cluster")
        h.check(stats["connect_fails"] + stats["broken"] > 0,
                "the driver never noticed the kill: %s" % stats)
        verify(cl.client(), out, stats, "failover")
        # The killed node comes back as a replica of its successor.
        victim.start()
        cl.wait_ready(60)
        h.check(victim in cl.replicas_of(successor), "%s did not rejoin as a replica of %s"
                % (victim.addr, successor.addr))


def test_slots_resharded_mid_stream(tmp):
    """slots resharded mid-stream: ASK/MOVED followed, nothing lost or doubled;
    a script of the consumer's kind (its keys undeclared) waits an ASK out"""
    with RedisCluster(tmp, masters=3, replicas=1) as cl:
        # 2000 keys in each tag's slot so that a moving slot stays half-moved
        # long enough for ASK and TRYAGAIN.
        proc, stop, out = start_drive(tmp, cl.config(), "reshard",
                                      ["--fill", "2000", "--tags", "64"])
        # Beside it, scripts that reach their keys undeclared, as the consumer's
        # batch script does (SGS_RCL_SETTLED): an ASK must be waited out until
        # the slot has moved. Followed, such a script would run on the target
        # with half the slot's keys still on the source (a FENCED mismatch
        # here, and "Target key exists" for the reshard).
        uproc, ustop, uout = start_drive(tmp, cl.config(), "reshardu",
                                         ["--fill", "2000", "--tags", "64", "--undeclared", "1"])
        wait_rounds(proc, 20)
        wait_rounds(uproc, 20)
        ms = cl.masters()
        t0 = time.monotonic()
        cl.reshard_wait(ms[0], ms[1], 1500, pipeline=2)
        cl.reshard_wait(ms[2], ms[0], 1500, pipeline=2)
        moves = 2
        # TRYAGAIN needs a round's script to find its slot half-moved: chance,
        # though likely; up to 3 more moves (back and forth) until one has
        for _ in range(3):
            time.sleep(1.5)  # the driver's next progress line
            if (progress(proc).get("tryagain", 0) > 0
                    and progress(uproc).get("ask_waits", 0) > 0):
                break
            cl.reshard_wait(ms[1], ms[0], 1500, pipeline=2)
            moves += 1
        print("# reshard: %d x 1500 slots moved in %.1f s while writing"
              % (moves, time.monotonic() - t0), flush=True)
        cl.wait_ready(60)
        time.sleep(2)
        stats = finish_drive(proc, stop)
        ustats = finish_drive(uproc, ustop)
        t = verify(cl.client(), out, stats, "reshard")
        h.check(stats["moved"] > 0 and stats["ask"] > 0 and stats["tryagain"] > 0,
                "MOVED, ASK and TRYAGAIN not all seen: %s" % stats)
        verify(cl.client(), uout, ustats, "reshard, keys undeclared")
        print("# reshard, keys undeclared: %d ASKs waited out" % ustats["ask_waits"], flush=True)
        h.check(ustats["ask_waits"] > 0 and ustats["moved"] > 0,
                "no ASK waited out by the undeclared scripts: %s" % ustats)
        del t


def test_connections_cut_mid_pipeline(tmp):
    """connections cut mid-pipeline: CLIENT KILL, and replies slower than the timeout; scripts that ran are recognised, none re-run"""
    with RedisCluster(tmp, masters=3, replicas=0) as cl:
        # CLIENT KILL between rounds and during them: idle connections found
        # closed before a write (not "lost"), and connections cut with replies
        # owed, of commands that had run or not.
        proc, stop, out = start_drive(tmp, cl.config(), "cut",
                                      ["--spin", "200000", "--pause-ms", "0"])
        wait_rounds(proc, 10)
        # Which command a kill finds in flight is chance: most find the
        # connection idle or in a blocking INCRBY. Killing goes on (6 s at
        # least, 60 s at most) until the driver has re-sent a script whose
        # reply the cut took.
        kills = 0
        t0 = time.monotonic()
        while time.monotonic() < t0 + 60:
            for m in cl.masters():
                kills += int(m.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"))
            time.sleep(0.15)
            if time.monotonic() >= t0 + 6 and progress(proc).get("resent_lost", 0) > 0:
                break
        time.sleep(1)
        stats = finish_drive(proc, stop)
        print("# cut: %d connections killed" % kills, flush=True)
        verify(cl.client(), out, stats, "cut")
        h.check(stats["broken"] > 0 and stats["resent_lost"] > 0,
                "no reply was lost: %s" % stats)

        # Replies later than redis.timeout_ms (15 ms; ~20 scripts of ~2 ms on
        # each master): the client gives up on the connection while Redis is
        # still running the batch. Those scripts ran; the re-sent ones answer
        # FENCED with our own value and count once. The fresh keys' INCRBYs
        # queued behind them are reported "may have run" (and had).
        cfg = dict(cl.config())
        cfg["redis.timeout_ms"] = 15
        proc, stop, out = start_drive(tmp, cfg, "slow",
                                      ["--spin", "200000", "--pause-ms", "0", "--blocking", "0",
                                       "--deadline-ms", "5000"])
        wait_rounds(proc, 15)
        stats = finish_drive(proc, stop)
        t = verify(cl.client(), out, stats, "slow")
        h.check(stats["recovered"] > 0 and stats["resent_lost"] > 0,
                "no script found applied after a lost reply: %s" % stats)
        h.check(t["keys_unknown_applied"] > 0, "no 'may have run' INCRBY had run")


def test_node_named_by_redis_host(tmp):
    """a cluster node named by redis.host: the map is found from it"""
    with RedisCluster(tmp, masters=3, replicas=0) as cl:
        n = cl.masters()[1]
        proc, stop, out = start_drive(tmp, {"redis.host": n.host, "redis.port": n.port},
                                      "byhost", ["--blocking", "1"])
        wait_rounds(proc, 20)
        stats = finish_drive(proc, stop)
        h.check_eq(stats["cluster"], 1, "is_cluster")
        h.check_eq(stats["masters"], 3, "masters")
        verify(cl.client(), out, stats, "byhost")
        # a cluster has database 0 only: redis.db is refused in one line
        p = h.run([h.build_path("rcl_drive"), "--out", os.path.join(tmp, "x.out"),
                   "-X", "redis.cluster=" + cl.seeds, "-X", "redis.db=2"], check=False)
        h.check(p.returncode == 1 and
                "ERR SELECT is not allowed in cluster mode" in p.stderr and
                p.stderr.startswith("rcl_drive: redis 127.0.0.1:"),
                "redis.db in a cluster: %r" % p.stderr)



def test_cluster_down_and_back(tmp):
    """a master and its replica SIGKILLed together: nobody holds their slots,
    and every node answers CLUSTERDOWN (cluster-require-full-coverage, the
    default) for every key. The client backs off and tries again; once both
    nodes are back on their append-only files, the writes go on: nothing lost
    or doubled, and CLUSTERDOWN replies were met live."""
    with RedisCluster(tmp, masters=3, replicas=1) as cl:
        proc, stop, out = start_drive(tmp, cl.config(), "down", ["--fill", "20"])
        wait_rounds(proc, 20)
        master = cl.master_of_slot(cl.keyslot("{down:0}:c"))
        pair = [master] + cl.replicas_of(master)
        h.check_eq(len(pair), 2, "the master and its replica")
        for n in pair:
            n.kill()
        other = next(n for n in cl.masters() if n not in pair)
        h.wait_until(lambda: "cluster_state:fail" in other.call("CLUSTER", "INFO"), timeout=30,
                     what="the cluster down on %s" % other.addr)
        # the live masters answer CLUSTERDOWN (the dead pair's slots: refused
        # connects); a round gives up on what it could not write after
        # redis.timeout_ms and goes on, counting it unavailable
        h.wait_until(lambda: progress(proc).get("clusterdown", 0) > 0, timeout=30,
                     what="the driver meeting CLUSTERDOWN")
        time.sleep(2)
        for n in pair:
            n.start()
        cl.wait_ready(60)
        wait_rounds(proc, progress(proc).get("rounds", 0) + 20)
        stats = finish_drive(proc, stop)
        h.check(stats["clusterdown"] > 0, "CLUSTERDOWN replies met: %s" % stats)
        verify(cl.client(), out, stats, "down")

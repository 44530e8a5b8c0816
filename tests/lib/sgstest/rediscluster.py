"""A Redis Cluster on loopback for tests and benchmarks: plain classes, no test
runner (so a pytest fixture can wrap them later), only the standard library
and the `redis` package.

    from sgstest.rediscluster import RedisCluster

    with RedisCluster(tmpdir, masters=3, replicas=1) as cl:   # started, ready
        cfg = cl.config()                  # {"redis.cluster": "127.0.0.1:P1,..."}
        m = cl.master_of_slot(866)         # a ClusterNode
        cl.kill(m)                         # SIGKILL
        new = cl.wait_failover(m)          # its replica, once promoted and ok
        p = cl.reshard(src, dst, 500)      # redis-cli --cluster reshard, running
        p.wait()                           # (or cl.reshard_wait(src, dst, 500))
        cl.client()                        # redis.cluster.RedisCluster (str replies)
        cl.master_clients()                # a redis.Redis per master (flow.check_counts)

What start() does (tests/README.md, "Techniques that work here"): picks free
ports P <= 55535 whose bus port P + 10000 is free too, starts one `redis-server
--cluster-enabled yes --cluster-config-file nodes-P.conf --cluster-node-timeout
T --appendonly yes` per node in its own directory under tmpdir, runs
`redis-cli --cluster create ... --cluster-replicas R --cluster-yes`, then waits
until every node says cluster_state:ok with all 16384 slots, every node agrees
on the map, and every replica says master_link_status:up (a replica that never
synced does not fail over). With cluster-node-timeout 2000 a SIGKILLed master's
replica is promoted about 4-5 s later.

Servers are stopped by stop() / the with block, at interpreter exit, and die
with the test process if it is SIGKILLed (PR_SET_PDEATHSIG, Linux).
"""

import atexit
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import redis
from redis.cluster import ClusterNode as _PyClusterNode
from redis.cluster import RedisCluster as _PyRedisCluster

__all__ = ["ClusterNode", "RedisCluster", "cluster_ports", "ClusterError"]

SLOTS = 16384
MAX_PORT = 55535  # the bus port is port + 10000

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _die_with_parent():
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ClusterError(Exception):
    pass


_ports_lock = threading.Lock()
_ports_given = set()


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _below_ephemeral(low, high):
    """The part of [low, high] whose ports and bus ports (+10000) lie below
    the kernel's ephemeral range: a port found free there can still be taken
    by any outgoing connection before redis-server binds it (seen in CI:
    "bind: Address already in use"). [low, high] itself when that part is
    too small."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return low, high
    top = min(high, eph_low - 1 - 10000)
    return (low, top) if top - low >= 500 else (low, high)


def cluster_ports(n, low=20000, high=MAX_PORT):
    """n distinct ports in [low, high] (below the ephemeral range when it
    leaves room) that are free on 127.0.0.1 and whose bus ports (+10000) are
    free too; never the same port twice in this process."""
    low, high = _below_ephemeral(low, high)
    out = []
    rnd = random.Random(os.getpid() ^ int(time.time() * 1000))
    with _ports_lock:
        for _ in range(20000):
            p = rnd.randint(low, high)
            if p in _ports_given or p in out:
                continue
            if _port_free(p) and _port_free(p + 10000):
                out.append(p)
                if len(out) == n:
                    _ports_given.update(out)
                    return out
    raise ClusterError("no %d free port pairs (P, P+10000) in %d..%d" % (n, low, high))


class ClusterNode:
    """One redis-server in cluster mode on 127.0.0.1:port, data in its own
    directory. start() / kill() (SIGKILL) / stop() / restart() (same port and
    directory: it rejoins with its nodes.conf, as a replica if it was failed
    over)."""

    def __init__(self, port, dir, node_timeout=2000, appendfsync="everysec", extra_args=(),
                 exe="redis-server"):
        self.host = "127.0.0.1"
        self.port = port
        self.dir = dir
        self.node_timeout = node_timeout
        self.appendfsync = appendfsync
        self.extra_args = list(extra_args)
        self.exe = exe
        self.proc = None
        self._log = None
        os.makedirs(dir, exist_ok=True)

    def __repr__(self):
        return "ClusterNode(%s)" % self.addr

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def log_path(self):
        return os.path.join(self.dir, "redis.log")

    def start(self, timeout=10):
        cmd = [self.exe, "--port", str(self.port), "--bind", self.host, "--dir", self.dir,
               "--cluster-enabled", "yes", "--cluster-config-file", "nodes-%d.conf" % self.port,
               "--cluster-node-timeout", str(self.node_timeout),
               "--save", "", "--daemonize", "no", "--protected-mode", "no",
               "--logfile", self.log_path, "--loglevel", "notice"]
        if self.appendfsync:
            cmd += ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        cmd += self.extra_args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        c = self.client(socket_timeout=2, socket_connect_timeout=1)
        while True:
            if self.proc.poll() is not None:
                raise ClusterError("redis-server %s exited with status %s: %s"
                                   % (self.addr, self.proc.returncode, self.log_tail()))
            try:
                if c.ping():
                    break
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError("redis-server %s not answering PING after %ss"
                                   % (self.addr, timeout))
            time.sleep(0.02)
        c.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def kill(self):
        """SIGKILL: what a crash does (no shutdown, no last write)."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=10):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self, timeout=10):
        self.kill()
        return self.start(timeout)

    def client(self, decode=True, **kw):
        """A plain redis.Redis to this node (no redirections followed)."""
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host=self.host, port=self.port, decode_responses=decode, **kw)

    def call(self, *args, timeout=5):
        """One command on this node (a fresh connection); str replies."""
        c = self.client(socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            return c.execute_command(*args)
        finally:
            c.close()

    def node_id(self):
        return self.call("CLUSTER", "MYID")

    def info(self, section):
        c = self.client(socket_timeout=5, socket_connect_timeout=2)
        try:
            return c.info(section)
        finally:
            c.close()

    def log_tail(self, n=10):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def _parse_nodes(text):
    """CLUSTER NODES text -> list of dicts: id, addr (host:port), flags (set),
    master (id or None), epoch (int), link, slots (list of (first, last)),
    moving (migrating/importing markers)."""
    out = []
    for line in text.strip().splitlines():
        f = line.split()
        if len(f) < 8:
            continue
        slots, moving = [], []
        for s in f[8:]:
            if s.startswith("["):
                moving.append(s)
            elif "-" in s:
                a, b = s.split("-")
                slots.append((int(a), int(b)))
            else:
                slots.append((int(s), int(s)))
        out.append({"id": f[0], "addr": f[1].split("@")[0], "flags": set(f[2].split(",")),
                    "master": None if f[3] == "-" else f[3], "epoch": int(f[6]), "link": f[7],
                    "slots": slots, "moving": moving})
    return out


class RedisCluster:
    """masters x (1 + replicas) ClusterNodes on loopback, created and ready
    (see the module's comment). tmpdir: where the nodes' directories go (a new
    temporary directory, removed by stop(), when None). appendfsync: None for
    no AOF, else "always" / "everysec" (the default: the brief's
    `--appendonly yes`)."""

    def __init__(self, tmpdir=None, masters=3, replicas=1, node_timeout=2000,
                 appendfsync="everysec", extra_args=(), start=True, ready_timeout=60):
        self._own_dir = tmpdir is None
        self.dir = tmpdir or tempfile.mkdtemp(prefix="sgs-rcluster-")
        self.n_masters = masters
        self.n_replicas = replicas
        ports = cluster_ports(masters * (1 + replicas))
        self.nodes = [ClusterNode(p, os.path.join(self.dir, "node-%d" % p), node_timeout,
                                  appendfsync, extra_args) for p in ports]
        self.ready_timeout = ready_timeout
        self._killed_slots = {}
        self._stopped = False
        atexit.register(self.stop)
        if start:
            self.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- start-up -----------------------------------------------------------

    def start(self):
        for n in self.nodes:
            n.start()
        cmd = ["redis-cli", "--cluster", "create"] + [n.addr for n in self.nodes] + \
              ["--cluster-replicas", str(self.n_replicas), "--cluster-yes"]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60, text=True)
        if p.returncode != 0 or "[OK] All 16384 slots covered" not in p.stdout:
            raise ClusterError("redis-cli --cluster create failed (%d): %s"
                               % (p.returncode, p.stdout[-2000:]))
        self.wait_ready(self.ready_timeout)
        return self

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def node(self, addr):
        for n in self.nodes:
            if n.addr == addr:
                return n
        raise KeyError(addr)

    def view(self, node=None):
        """CLUSTER NODES of one live node, parsed (see _parse_nodes)."""
        node = node or self.live()[0]
        return _parse_nodes(node.call("CLUSTER", "NODES"))

    def _state(self):
        """None when ready, else why not."""
        views = {}
        for n in self.live():
            try:
                info = n.call("CLUSTER", "INFO")
            except redis.RedisError as e:
                return "%s: %s" % (n.addr, e)
            if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                return "%s: cluster not ok" % n.addr
            v = self.view(n)
            views[n.addr] = sorted((e["addr"], tuple(e["slots"])) for e in v
                                   if "master" in e["flags"] and e["slots"]
                                   and "fail" not in e["flags"])
            me = [e for e in v if "myself" in e["flags"]][0]
            if "slave" in me["flags"]:
                try:
                    repl = n.info("replication")
                except redis.RedisError as e:
                    return "%s: %s" % (n.addr, e)
                if repl.get("master_link_status") != "up":
                    return "%s: replica link %s" % (n.addr, repl.get("master_link_status"))
        if len(set(map(tuple, views.values()))) != 1:
            return "nodes disagree on the map"
        return None

    def wait_ready(self, timeout=60):
        """Until every live node says cluster_state:ok with 16384 slots, all
        agree on the masters and their slots, and every replica's link is up."""
        deadline = time.monotonic() + timeout
        why = "not checked"
        while time.monotonic() < deadline:
            why = self._state()
            if why is None:
                return
            time.sleep(0.1)
        raise ClusterError("cluster not ready after %ss: %s" % (timeout, why))

    # ---- what tests need ----------------------------------------------------

    @property
    def seeds(self):
        """"host:port,..." of every node (the value of redis.cluster)."""
        return ",".join(n.addr for n in self.nodes)

    def config(self):
        """The sgs configuration keys for this cluster (for write_config)."""
        return {"redis.cluster": self.seeds}

    def masters(self):
        """The live nodes that are masters with slots, by their first slot."""
        v = [e for e in self.view() if "master" in e["flags"] and e["slots"]
             and "fail" not in e["flags"]]
        v.sort(key=lambda e: e["slots"][0][0])
        return [self.node(e["addr"]) for e in v]

    def replicas_of(self, master):
        mid = master.node_id()
        return [self.node(e["addr"]) for e in self.view()
                if e["master"] == mid and "fail" not in e["flags"]]

    def keyslot(self, key):
        return int(self.live()[0].call("CLUSTER", "KEYSLOT", key))

    def master_of_slot(self, slot):
        for e in self.view():
            if "master" in e["flags"] and "fail" not in e["flags"]:
                if any(a <= slot <= b for a, b in e["slots"]):
                    return self.node(e["addr"])
        raise ClusterError("no master serves slot %d" % slot)

    def kill(self, node):
        """SIGKILL one node (a master's slots are remembered for wait_failover)."""
        for e in self.view():
            if e["addr"] == node.addr and "master" in e["flags"] and e["slots"]:
                self._killed_slots[node.addr] = e["slots"][0][0]
        node.kill()

    def wait_failover(self, dead, timeout=30):
        """After kill(dead) of a master: until another node serves its slots and
        the live nodes are ready again (replicas in sync). Returns the new
        master of those slots."""
        slot = self._killed_slots[dead.addr]
        deadline = time.monotonic() + timeout
        why = "not checked"
        while time.monotonic() < deadline:
            try:
                m = self.master_of_slot(slot)
                if m is not dead:
                    why = self._state()
                    if why is None:
                        return m
                else:
                    why = "slot %d still on %s" % (slot, dead.addr)
            except (redis.RedisError, ClusterError) as e:
                why = str(e)
            time.sleep(0.1)
        raise ClusterError("no failover of %s after %ss: %s" % (dead.addr, timeout, why))

    def reshard(self, src, dst, slots, pipeline=10, timeout=None):
        """Starts `redis-cli --cluster reshard` moving `slots` slots from src to
        dst (ClusterNodes, masters) with MIGRATE batches of `pipeline` keys;
        returns the running subprocess.Popen (its output in .stdout, text)."""
        cmd = ["redis-cli", "--cluster", "reshard", src.addr,
               "--cluster-from", src.node_id(), "--cluster-to", dst.node_id(),
               "--cluster-slots", str(slots), "--cluster-yes",
               "--cluster-pipeline", str(pipeline)]
        if timeout:
            cmd += ["--cluster-timeout", str(timeout)]
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                preexec_fn=_die_with_parent)

    def reshard_wait(self, src, dst, slots, pipeline=10, timeout=600, attempts=5):
        """reshard() to completion, once the nodes agree on the map (redis-cli
        refuses "Nodes don't agree about configuration" while gossip spreads
        an earlier change; then it waits and tries again). Returns its output."""
        out = ""
        for _ in range(attempts):
            self.wait_ready(60)
            p = self.reshard(src, dst, slots, pipeline)
            out = p.communicate(timeout=timeout)[0]
            if p.returncode == 0:
                return out
            if "don't agree about configuration" not in out:
                break
            time.sleep(1)
        raise ClusterError("redis-cli --cluster reshard failed: %s" % out[-1500:])

    def master_clients(self, decode=True):
        """A plain redis.Redis per master with slots (str replies): what
        flow.redis_counts / check_counts / stored_offsets take as a list, each
        master read on its own. Between a master's failure and its replica's
        promotion that master is missing; while slots move a key can be seen
        twice or not at all, so read for checks only when the map is still."""
        return [m.client(decode=decode) for m in self.masters()]

    def client(self, **kw):
        """redis.cluster.RedisCluster on the live nodes (str replies): an
        independent client to check what the code under test wrote."""
        kw.setdefault("decode_responses", True)
        kw.setdefault("socket_timeout", 10)
        nodes = [_PyClusterNode(n.host, n.port) for n in self.live()]
        return _PyRedisCluster(startup_nodes=nodes, **kw)

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        for n in self.nodes:
            try:
                n.stop(timeout=5)
            except Exception:  # keep stopping the others
                pass
        if self._own_dir and os.environ.get("SGS_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

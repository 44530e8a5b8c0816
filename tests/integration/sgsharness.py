"""Harness for the sgs integration tests: real servers on free loopback ports.

Every integration test is a plain Python program (no pytest) run by ctest with
/usr/bin/python3 and the environment SGS_BUILD_DIR / SGS_SOURCE_DIR. Only the
standard library, confluent_kafka and redis are used.

    from sgsharness import *          # or: import sgsharness as h

    suite = Suite("consumer")

    @suite.case("counts one record once")
    def _(tmp):                       # tmp: a fresh directory for this case
        r = RedisServer(tmp, aof=True)
        k = kafka_broker(tmp)         # real Apache Kafka, or loudly the mock
        k.create_topics({"sgs.records": 4})
        produce(k.bootstrap, "sgs.records", [("u1", "{...}", None)])
        ...

    if __name__ == "__main__":
        suite.main()

Processes started through this module (servers, spawn()) are stopped at the
end of the case that started them, at exit, and on SIGINT/SIGTERM/SIGHUP; if
the test process itself is SIGKILLed (ctest timeout), children started from the
main thread get SIGKILL from the kernel (PR_SET_PDEATHSIG). Temporary
directories are removed at the end unless SGS_KEEP_TMP=1.

Environment:
  SGS_BUILD_DIR   where the built programs are (default <source>/build)
  SGS_SOURCE_DIR  the source tree (default: two levels above this file)
  SGS_KAFKA       "mock" forces sgs-devbroker, "apache" forces the real broker
                  (failure to start it is then an error); unset: real broker if
                  it can be provisioned and started, else a loud SKIPPED line
                  and the mock
  SGS_KAFKA_JARS  a directory of Kafka broker jars to use instead of running
                  scripts/kafka-jars.sh
  SGS_KAFKA_HEAP  JVM heap options for the broker (default "-Xms128m -Xmx768m")
  SGS_KEEP_TMP=1  keep temporary directories (their paths are printed)
  SGS_TMP_DIR     where temporary directories are made (default: system temp)
"""

import atexit
import base64
import ctypes
import glob
import inspect
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
import redis

__all__ = [
    "SOURCE_DIR", "BUILD_DIR", "free_port", "make_tmpdir", "build_path", "source_path",
    "Proc", "spawn", "run", "write_config", "wait_until", "check", "check_eq",
    "RedisServer", "KafkaBroker", "MockBroker", "MockError", "BrokerUnavailable",
    "kafka_broker", "produce", "consume_all", "Msg", "topic_partitions",
    "Suite", "Skip", "CaseTimeout", "shared",
]

SOURCE_DIR = os.path.abspath(
    os.environ.get("SGS_SOURCE_DIR")
    or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD_DIR = os.path.abspath(os.environ.get("SGS_BUILD_DIR") or os.path.join(SOURCE_DIR, "build"))


def _say(line):
    """A line on stdout, flushed (the test's report stream)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _note(line):
    """Diagnostics on stderr."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# Cleanup: every process and temp dir is registered in the current scope.
# Suite.run opens one scope per case; the outermost scope is closed at exit.

_lock = threading.RLock()
_scopes = [{"procs": [], "dirs": []}]
_cleaning = False
_shared_depth = 0  # > 0 while a shared() factory runs: register in the outer scope
_shared = {}


def _scope():
    return _scopes[0] if _shared_depth else _scopes[-1]


def _register_proc(p):
    with _lock:
        _scope()["procs"].append(p)


def _register_dir(d):
    with _lock:
        _scope()["dirs"].append(d)


def shared(key, factory):
    """factory() run once per test program and cached under `key`; the
    processes and directories it creates live until the program ends, so
    several cases can share, say, one Kafka broker:
        k = shared("kafka", lambda: kafka_broker(make_tmpdir("kafka")))
    A factory that raised raises the same error again on the next call."""
    global _shared_depth
    with _lock:
        if key not in _shared:
            _shared_depth += 1
            try:
                _shared[key] = (True, factory())
            except Exception as e:
                _shared[key] = (False, e)
            finally:
                _shared_depth -= 1
        ok, v = _shared[key]
    if not ok:
        raise v
    return v


def _close_scope(scope):
    for p in reversed(scope["procs"]):
        try:
            p.stop(timeout=10)
        except Exception as e:  # keep cleaning up the rest
            _note("sgsharness: stopping %s failed: %s" % (p.name, e))
    scope["procs"].clear()
    for d in scope["dirs"]:
        if os.environ.get("SGS_KEEP_TMP") == "1":
            _note("sgsharness: kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    scope["dirs"].clear()


def _cleanup_all():
    global _cleaning
    with _lock:
        if _cleaning:
            return
        _cleaning = True
        while _scopes:
            _close_scope(_scopes.pop())
        _scopes.append({"procs": [], "dirs": []})
        _shared.clear()
        _cleaning = False


def _on_signal(signum, frame):
    _cleanup_all()
    os._exit(128 + signum)


atexit.register(_cleanup_all)
if threading.current_thread() is threading.main_thread():
    for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(_s, _on_signal)

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _child_setup():
    # Runs in the child between fork and exec: die with the parent (Linux).
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# ---------------------------------------------------------------------------
# Small utilities

_ports_given = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (never the same one
    twice in this process)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port found")


def make_tmpdir(name="sgs"):
    """A new temporary directory, removed when the current scope (case, or the
    whole run) ends unless SGS_KEEP_TMP=1."""
    base = os.environ.get("SGS_TMP_DIR") or None
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:40]
    d = tempfile.mkdtemp(prefix="sgs-%s-" % safe, dir=base)
    _register_dir(d)
    return d


def build_path(name):
    """Path of a built program under SGS_BUILD_DIR; raises if it is missing."""
    p = os.path.join(BUILD_DIR, name)
    if not os.path.exists(p):
        raise FileNotFoundError("%s not built (SGS_BUILD_DIR=%s)" % (name, BUILD_DIR))
    return p


def source_path(*parts):
    return os.path.join(SOURCE_DIR, *parts)


def wait_until(fn, timeout=10.0, interval=0.05, what="condition"):
    """Calls fn() until it returns a true value (returned); raises TimeoutError
    naming `what` after `timeout` seconds. Exceptions from fn count as false."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:
            last = e
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s%s"
                               % (timeout, what, " (last error: %s)" % last if last else ""))
        time.sleep(interval)


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def check_eq(got, want, what="value"):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def write_config(path, values):
    """Writes an sgs configuration file: one `key = value` line per item, in
    order. Booleans become true/false, None values are left out."""
    lines = ["# written by sgsharness"]
    for k, v in values.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        v = str(v)
        if "\n" in v or "\n" in k:
            raise ValueError("newline in config %s" % k)
        lines.append("%s = %s" % (k, v))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _tail(path, n=20):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return "(no %s)" % path


# ---------------------------------------------------------------------------
# Processes

class Proc:
    """A long-running child process, registered for cleanup. stdout and stderr
    go to `log_path` unless stdout/stdin pipes are asked for."""

    def __init__(self, cmd, log_path, name=None, env=None, cwd=None, stdin=None, stdout=None):
        self.cmd = [str(c) for c in cmd]
        self.name = name or os.path.basename(self.cmd[0])
        self.log_path = log_path
        full_env = dict(os.environ)
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        self._log = open(log_path, "ab")
        main = threading.current_thread() is threading.main_thread()
        self.popen = subprocess.Popen(
            self.cmd, env=full_env, cwd=cwd,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else self._log,
            stderr=self._log,
            start_new_session=True,
            preexec_fn=_child_setup if main else None)
        self.pid = self.popen.pid
        _register_proc(self)

    def alive(self):
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def send_signal(self, sig):
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout=None):
        """Waits for exit; returns the exit status (negative: killed by signal)."""
        return self.popen.wait(timeout)

    def kill(self):
        """SIGKILL (the whole process group) and reap."""
        self.send_signal(signal.SIGKILL)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            pass
        return self.popen.poll()

    def stop(self, timeout=10, sig=signal.SIGTERM):
        """`sig`, then SIGKILL after `timeout` seconds; returns the exit status."""
        if self.alive():
            self.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _note("sgsharness: %s (pid %d) ignored signal %d for %ss, killing"
                      % (self.name, self.pid, sig, timeout))
                self.kill()
        self._close_files()
        return self.popen.poll()

    def _close_files(self):
        for f in (self.popen.stdin, self.popen.stdout):
            try:
                if f:
                    f.close()
            except OSError:
                pass
        try:
            self._log.close()
        except OSError:
            pass

    def log(self):
        """Everything the process wrote to its log so far."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, n=20):
        return _tail(self.log_path, n)


def _new_log_path(tmpdir, name):
    log = os.path.join(tmpdir, "%s.log" % name)
    i = 1
    while os.path.exists(log):
        i += 1
        log = os.path.join(tmpdir, "%s.%d.log" % (name, i))
    return log


def spawn(cmd, tmpdir, name=None, env=None, cwd=None):
    """Starts a long-running program (for example sgs-consumer) with its output
    in <tmpdir>/<name>.log; stopped at the end of the case. Returns a Proc."""
    name = name or os.path.basename(str(cmd[0]))
    return Proc(cmd, _new_log_path(tmpdir, name), name=name, env=env, cwd=cwd)


def run(cmd, timeout=60, check=True, env=None, cwd=None, input=None):
    """Runs a command to completion; returns subprocess.CompletedProcess with
    text stdout/stderr. On timeout the process is killed and TimeoutError
    raised; with check=True a non-zero exit raises RuntimeError showing the
    command, status and the end of stderr."""
    cmd = [str(c) for c in cmd]
    full_env = dict(os.environ)
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    main = threading.current_thread() is threading.main_thread()
    try:
        r = subprocess.run(cmd, env=full_env, cwd=cwd, timeout=timeout,
                           input=input, capture_output=True, text=True, errors="replace",
                           stdin=subprocess.DEVNULL if input is None else None,
                           preexec_fn=_child_setup if main else None)
    except subprocess.TimeoutExpired as e:
        raise TimeoutError("%s: no exit after %ss" % (" ".join(cmd), timeout)) from e
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit status %d: %s" % (" ".join(cmd), r.returncode,
                                                       r.stderr.strip()[-2000:]))
    return r


# ---------------------------------------------------------------------------
# Redis

class RedisServer:
    """redis-server on a free loopback port, data in <tmpdir>/redis-<port>.
    aof=True: --appendonly yes --appendfsync always (nothing acknowledged is
    lost by SIGKILL). RDB snapshots are off (--save '')."""

    def __init__(self, tmpdir, aof=False, port=None, extra_args=(), exe="redis-server"):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.aof = aof
        self.dir = os.path.join(tmpdir, "redis-%d" % self.port)
        os.makedirs(self.dir, exist_ok=True)
        self.extra_args = list(extra_args)
        self.exe = exe
        self.proc = None
        self.start()

    @property
    def url(self):
        return "redis://%s:%d/0" % (self.host, self.port)

    def start(self, timeout=10):
        cmd = [self.exe, "--port", str(self.port), "--bind", self.host, "--dir", self.dir,
               "--save", "", "--daemonize", "no", "--protected-mode", "no",
               "--logfile", "", "--loglevel", "warning"]
        if self.aof:
            cmd += ["--appendonly", "yes", "--appendfsync", "always"]
        cmd += self.extra_args
        self.proc = Proc(cmd, os.path.join(self.dir, "redis.log"), name="redis-server")
        c = redis.Redis(host=self.host, port=self.port, socket_timeout=2,
                        socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            if not self.proc.alive():
                raise RuntimeError("redis-server exited with status %s: %s"
                                   % (self.proc.returncode, self.proc.tail(5)))
            try:
                if c.ping():
                    break
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server on port %d not answering PING after %ss"
                                   % (self.port, timeout))
            time.sleep(0.02)
        c.close()
        return self

    def client(self, decode=True, **kw):
        """A redis.Redis client (str replies when decode=True)."""
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host=self.host, port=self.port, decode_responses=decode, **kw)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def kill(self):
        """SIGKILL: no shutdown, no final save (what a crash does)."""
        if self.proc:
            self.proc.kill()

    def restart(self, timeout=10):
        """Starts again on the same port and directory (SIGKILLs a running one
        first); with aof=True the data comes back from the AOF."""
        if self.alive():
            self.kill()
        return self.start(timeout)

    def stop(self, timeout=10):
        if self.proc:
            self.proc.stop(timeout)

    def config(self):
        """`redis.host` / `redis.port` keys for write_config."""
        return {"redis.host": self.host, "redis.port": self.port}


# ---------------------------------------------------------------------------
# Kafka: the real broker

class BrokerUnavailable(Exception):
    """The real Kafka broker could not be provisioned or started."""


_jars_cache = {}


def _kafka_jars():
    """Directory of broker jars: $SGS_KAFKA_JARS, else scripts/kafka-jars.sh."""
    if "dir" in _jars_cache:
        return _jars_cache["dir"]
    d = os.environ.get("SGS_KAFKA_JARS")
    if not d:
        script = source_path("scripts", "kafka-jars.sh")
        if shutil.which("java") is None:
            raise BrokerUnavailable("java not found")
        try:
            r = subprocess.run(["bash", script], capture_output=True, text=True, timeout=900,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise BrokerUnavailable("scripts/kafka-jars.sh took more than 900 s")
        if r.returncode != 0:
            why = (r.stderr.strip().splitlines() or ["exit status %d" % r.returncode])[-1]
            raise BrokerUnavailable("scripts/kafka-jars.sh failed: %s" % why)
        d = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    if not glob.glob(os.path.join(d, "kafka_2.13-*.jar")):
        raise BrokerUnavailable("no kafka_2.13-*.jar in %r" % d)
    _jars_cache["dir"] = d
    return d


def _kafka_uuid():
    # Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding.
    # Kafka refuses ids starting with '-' on the command line, so avoid them.
    while True:
        s = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not s.startswith("-"):
            return s


def _port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class KafkaBroker:
    """The real Apache Kafka broker: KRaft, one combined broker + controller on
    free 127.0.0.1 ports, data and logs under <tmpdir>/kafka-<port>.

    Measured here (Kafka 4.1.1, 2 cores, default heap -Xms128m -Xmx768m,
    Serial GC, C1 only): ready 1.7 s after start, 2.5 s including the storage
    format; RSS about 165 MB idle, 190 MB after 100,000 messages in and out.
    (G1 + C2 with -Xms256m: ready 3.0 s, RSS 250 MB.) stop() then start()
    keeps the data (about 2.3 s); kill() then start() too (about 6 s: the
    dead incarnation's broker session must expire first)."""

    kind = "apache"

    def __init__(self, tmpdir, jars=None, ready_timeout=90, properties=None, heap=None):
        self.jars = jars or _kafka_jars()
        jar = glob.glob(os.path.join(self.jars, "kafka_2.13-*.jar"))[0]
        self.version = re.sub(r"^kafka_2\.13-|\.jar$", "", os.path.basename(jar))
        self.port = free_port()
        self.controller_port = free_port()
        self.host = "127.0.0.1"
        self.dir = os.path.join(tmpdir, "kafka-%d" % self.port)
        self.data_dir = os.path.join(self.dir, "data")
        self.log_dir = os.path.join(self.dir, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.properties_path = os.path.join(self.dir, "server.properties")
        self.heap = (heap or os.environ.get("SGS_KAFKA_HEAP") or "-Xms128m -Xmx768m").split()
        self.proc = None
        self.startup_seconds = None
        self._write_properties(properties or {})
        self._logging_opts = self._write_logging()
        self._format()
        self.start(ready_timeout)

    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.port)

    def _write_properties(self, extra):
        p = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": "1@%s:%d" % (self.host, self.controller_port),
            "listeners": "PLAINTEXT://%s:%d,CONTROLLER://%s:%d"
                         % (self.host, self.port, self.host, self.controller_port),
            "advertised.listeners": "PLAINTEXT://%s:%d" % (self.host, self.port),
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": self.data_dir,
            "num.partitions": "4",
            "default.replication.factor": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Tests may use short consumer sessions (default minimum is 6 s).
            "group.min.session.timeout.ms": "1000",
            # Small segments: compaction and retention act on small test data.
            "log.segment.bytes": str(1024 * 1024),
            "log.index.size.max.bytes": str(1024 * 1024),
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "log.cleaner.backoff.ms": "1000",
            "log.retention.check.interval.ms": "10000",
            # After a kill -9 the restarted broker stays fenced until the old
            # incarnation's session expires (default 9 s): shorten it.
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "500",
            # Few threads: two cores shared with everything else under test.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.threads": "1",
        }
        if self.version.startswith("3."):
            p.pop("share.coordinator.state.topic.replication.factor")
            p.pop("share.coordinator.state.topic.min.isr")
        p.update({k: str(v) for k, v in extra.items()})
        with open(self.properties_path, "w") as f:
            for k, v in p.items():
                f.write("%s=%s\n" % (k, v))

    def _write_logging(self):
        """WARN and above to <dir>/logs/server.log; returns the JVM options."""
        log = os.path.join(self.log_dir, "server.log")
        if self.version.startswith("3."):  # log4j 1 (reload4j)
            path = os.path.join(self.dir, "log4j.properties")
            with open(path, "w") as f:
                f.write("log4j.rootLogger=WARN, F\n"
                        "log4j.appender.F=org.apache.log4j.FileAppender\n"
                        "log4j.appender.F.File=%s\n"
                        "log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
                        "log4j.appender.F.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n\n"
                        % log)
            return ["-Dlog4j.configuration=file:" + path]
        path = os.path.join(self.dir, "log4j2.xml")
        with open(path, "w") as f:
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<Configuration status="error">\n'
                    '  <Appenders>\n'
                    '    <File name="F" fileName="%s">\n'
                    '      <PatternLayout pattern="[%%d] %%p %%m (%%c)%%n"/>\n'
                    '    </File>\n'
                    '  </Appenders>\n'
                    '  <Loggers>\n'
                    '    <Root level="WARN"><AppenderRef ref="F"/></Root>\n'
                    '  </Loggers>\n'
                    '</Configuration>\n' % log)
        return ["-Dlog4j2.configurationFile=" + path]

    def _java(self, heap):
        # Serial GC and the C1 compiler only: the broker is up about a second
        # sooner and uses less memory than with G1 + C2 (measured here), and
        # test volumes never need C2's peak throughput.
        return (["java"] + heap +
                ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
                 "-Djava.awt.headless=true", "-Dkafka.logs.dir=" + self.log_dir]
                + self._logging_opts + ["-cp", os.path.join(self.jars, "*")])

    def _format(self):
        cmd = self._java(["-Xmx256m"]) + [
            "kafka.tools.StorageTool", "format", "-t", _kafka_uuid(),
            "-c", self.properties_path, "--ignore-formatted"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise BrokerUnavailable("kafka storage format took more than 120 s")
        except OSError as e:
            raise BrokerUnavailable("cannot run java: %s" % e)
        if r.returncode != 0:
            raise BrokerUnavailable("kafka storage format failed: %s"
                                    % (r.stderr or r.stdout).strip()[-500:])

    def start(self, ready_timeout=90):
        """Starts the broker (again: data kept) and waits until it answers a
        metadata request."""
        t0 = time.monotonic()
        self.proc = Proc(self._java(self.heap) + ["kafka.Kafka", self.properties_path],
                         os.path.join(self.log_dir, "stdout.log"), name="kafka")
        # Short reconnect backoff: readiness is noticed within 0.1 s.
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0,
                             "socket.connection.setup.timeout.ms": 1000,
                             "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 100})
        deadline = t0 + ready_timeout
        while True:
            if not self.proc.alive():
                raise BrokerUnavailable(
                    "kafka.Kafka exited with status %s: %s"
                    % (self.proc.returncode,
                       (self.proc.tail(5) + "\n" + _tail(os.path.join(self.log_dir,
                                                                      "server.log"), 5)).strip()))
            # A cheap TCP probe first: a metadata request to a port that is
            # not listening yet only fails after its whole timeout.
            if _port_open(self.host, self.port):
                try:
                    md = admin.list_topics(timeout=2)
                    if md.brokers:
                        break
                except KafkaException:
                    pass
            if time.monotonic() > deadline:
                self.proc.kill()
                raise BrokerUnavailable("kafka broker not ready after %ss: %s"
                                        % (ready_timeout, _tail(os.path.join(
                                            self.log_dir, "server.log"), 5)))
            time.sleep(0.05)
        self.startup_seconds = time.monotonic() - t0
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def rss_mb(self):
        """Resident memory of the broker JVM in MiB (None if not running)."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except (OSError, AttributeError):
            return None
        return None

    def create_topics(self, topics, configs=None, timeout=30, exist_ok=False):
        """Creates {name: partitions} (replication 1, topic `configs` such as
        {"cleanup.policy": "compact"}) and waits until every partition has a
        leader."""
        _create_topics_admin(self.bootstrap, topics, configs, timeout, exist_ok)

    def kill(self):
        if self.proc:
            self.proc.kill()

    def restart(self, ready_timeout=90):
        """Stops (SIGTERM) if running and starts again with the same data."""
        self.stop()
        return self.start(ready_timeout)

    def stop(self, timeout=20):
        """SIGTERM (controlled shutdown), SIGKILL after `timeout` seconds."""
        if self.proc:
            self.proc.stop(timeout)

    def server_log(self):
        try:
            with open(os.path.join(self.log_dir, "server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def _create_topics_admin(bootstrap, topics, configs, timeout, exist_ok):
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    new = [NewTopic(name, num_partitions=int(n), replication_factor=1,
                    config={k: str(v) for k, v in (configs or {}).items()})
           for name, n in topics.items()]
    for name, fut in admin.create_topics(new, request_timeout=timeout).items():
        try:
            fut.result(timeout)
        except KafkaException as e:
            err = e.args[0]
            if not (exist_ok and err.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise RuntimeError("create topic %s: %s" % (name, err.str()))

    def ready():
        md = admin.list_topics(timeout=5)
        for name, n in topics.items():
            t = md.topics.get(name)
            if t is None or t.error is not None or len(t.partitions) != int(n):
                return False
            if any(p.leader < 0 for p in t.partitions.values()):
                return False
        return True

    wait_until(ready, timeout, 0.1, "topics %s to have leaders" % ", ".join(topics))


# ---------------------------------------------------------------------------
# Kafka: librdkafka's mock cluster (sgs-devbroker)

class MockError(Exception):
    """sgs-devbroker answered a command with `error: ...`."""


class MockBroker:
    """librdkafka's in-memory mock cluster, run as the sgs-devbroker program.
    `brokers` brokers with ids 1..N; `topics` {name: partitions} created at
    start (default: the four sgs topics with `partitions` partitions each).
    Other topics are auto-created with 4 partitions when first used.
    Limits (librdkafka 2.0.2): about 5 MiB of batches kept per partition, no
    admin API, no timestamp lookups, the first group join waits 3 s; commits
    are refused (REBALANCE_IN_PROGRESS) while the group rebalances, even from
    a revoke callback; idempotent retries are not deduplicated, so a batch
    whose response was lost with a dropped connection (`_TRANSPORT`) can be
    stored twice. Error responses store nothing."""

    kind = "mock"
    version = "librdkafka-mock"

    def __init__(self, tmpdir, partitions=8, brokers=1, topics=None, exe=None, timeout=15):
        self.exe = exe or build_path("sgs-devbroker")
        self.dir = tmpdir
        cmd = [self.exe, "--brokers", str(brokers), "--partitions", str(partitions)]
        for name, n in (topics or {}).items():
            cmd += ["--topic", "%s:%d" % (name, n)]
        t0 = time.monotonic()
        self.proc = Proc(cmd, _new_log_path(tmpdir, "sgs-devbroker"), name="sgs-devbroker",
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._lock = threading.Lock()
        line = self._readline(timeout)
        if not line.startswith("bootstrap.servers="):
            raise RuntimeError("sgs-devbroker: unexpected first line %r: %s"
                               % (line, self.proc.tail(5)))
        self.bootstrap = line.split("=", 1)[1].strip()
        self.startup_seconds = time.monotonic() - t0

    def _readline(self, timeout):
        out = self.proc.popen.stdout
        deadline = time.monotonic() + timeout
        buf = b""
        fd = out.fileno()
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("sgs-devbroker: no answer within %ss" % timeout)
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 1)
            if not chunk:
                raise RuntimeError("sgs-devbroker exited (status %s): %s"
                                   % (self.proc.returncode, self.proc.tail(5)))
            buf += chunk
        return buf.decode("utf-8", "replace").rstrip("\n")

    def command(self, line, timeout=10):
        """Sends one command line; returns on `ok`, raises MockError on `error: ...`."""
        with self._lock:
            if not self.proc.alive():
                raise RuntimeError("sgs-devbroker is not running")
            self.proc.popen.stdin.write((line + "\n").encode())
            self.proc.popen.stdin.flush()
            answer = self._readline(timeout)
        if answer == "ok":
            return
        raise MockError("%s: %s" % (line, answer))

    def push_errors(self, apikey, count, error):
        """The next `count` requests of `apikey` (number or name such as
        "Produce", "Fetch", "OffsetCommit") fail with `error` (librdkafka name
        such as "NOT_LEADER_FOR_PARTITION", "_TRANSPORT", or a numeric code)."""
        self.command("push_errors %s %d %s" % (apikey, count, error))

    def clear_errors(self, apikey):
        self.command("clear_errors %s" % apikey)

    def down(self, broker_id):
        self.command("down %d" % broker_id)

    def up(self, broker_id):
        self.command("up %d" % broker_id)

    def rtt(self, broker_id, ms):
        self.command("rtt %d %d" % (broker_id, ms))

    def leader(self, topic, partition, broker_id):
        self.command("leader %s %d %d" % (topic, partition, broker_id))

    def coordinator(self, group, broker_id):
        self.command("coordinator %s %d" % (group, broker_id))

    def ping(self):
        self.command("ping")

    def create_topics(self, topics, configs=None, timeout=30, exist_ok=False):
        """Creates {name: partitions}; `configs` are ignored by the mock (it
        keeps no topic configuration, so compaction is not modelled)."""
        for name, n in topics.items():
            try:
                self.command("topic %s %d" % (name, n))
            except MockError as e:
                if not (exist_ok and "already exists" in str(e)):
                    raise

    def alive(self):
        return self.proc.alive()

    @property
    def pid(self):
        return self.proc.pid

    def kill(self):
        self.proc.kill()

    def stop(self, timeout=10):
        self.proc.stop(timeout)


def kafka_broker(tmpdir, partitions=8, **kw):
    """A Kafka to test against: the real broker (KafkaBroker) when it can be
    provisioned and started, else a loud `SKIPPED: real Kafka broker
    unavailable: <why>` line on stdout and a MockBroker. SGS_KAFKA=mock forces
    the mock, SGS_KAFKA=apache forces the real broker (failure raises).
    `partitions` only applies to the mock's default topics; keyword arguments
    go to KafkaBroker. Both have .bootstrap, .kind ("apache"/"mock"),
    .create_topics(), .stop()."""
    mode = os.environ.get("SGS_KAFKA", "").strip().lower()
    if mode == "mock":
        return MockBroker(tmpdir, partitions=partitions)
    if mode not in ("", "apache", "auto"):
        raise ValueError("SGS_KAFKA=%r: expected mock or apache" % mode)
    try:
        return KafkaBroker(tmpdir, **kw)
    except BrokerUnavailable as e:
        if mode == "apache":
            raise
        why = str(e).replace("\n", " | ")
        _say("SKIPPED: real Kafka broker unavailable: %s" % why)
        return MockBroker(tmpdir, partitions=partitions)


# ---------------------------------------------------------------------------
# Kafka clients

def _b(v):
    if v is None or isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    return str(v).encode("utf-8")


def produce(bootstrap, topic, messages, timeout=60, conf=None, partition=None):
    """Produces [(key, value, timestamp_ms_or_None)] (2-tuples allowed; str is
    UTF-8 encoded, None stays null) and waits for every delivery. Idempotent,
    lz4-compressed, batched. Raises RuntimeError on any delivery error.
    Returns the number delivered."""
    c = {"bootstrap.servers": bootstrap, "linger.ms": 10, "enable.idempotence": True,
         "compression.type": "lz4", "batch.num.messages": 10000,
         "queue.buffering.max.messages": 200000, "message.timeout.ms": int(timeout * 1000),
         "log_level": 3}
    c.update(conf or {})
    p = Producer(c)
    errors = []
    delivered = [0]

    def on_delivery(err, msg):
        if err is not None:
            errors.append("%s [%s]: %s" % (msg.topic(), msg.partition(), err))
        else:
            delivered[0] += 1

    n = 0
    for m in messages:
        key, value = m[0], m[1]
        ts = m[2] if len(m) > 2 else None
        kw = {"key": _b(key), "value": _b(value), "on_delivery": on_delivery}
        if ts is not None:
            kw["timestamp"] = int(ts)
        if partition is not None:
            kw["partition"] = partition
        while True:
            try:
                p.produce(topic, **kw)
                break
            except BufferError:
                p.poll(0.05)
        n += 1
        if n % 1000 == 0:
            p.poll(0)
    left = p.flush(timeout)
    if left:
        raise RuntimeError("produce to %s: %d message(s) not delivered after %ss"
                           % (topic, left, timeout))
    if errors:
        raise RuntimeError("produce to %s: %d delivery error(s), first: %s"
                           % (topic, len(errors), errors[0]))
    return delivered[0]


class Msg:
    """A consumed message: key/value are bytes (or None)."""
    __slots__ = ("topic", "partition", "offset", "key", "value", "timestamp", "headers")

    def __init__(self, m):
        self.topic = m.topic()
        self.partition = m.partition()
        self.offset = m.offset()
        self.key = m.key()
        self.value = m.value()
        self.timestamp = m.timestamp()[1]
        self.headers = m.headers() or []

    def key_text(self):
        return None if self.key is None else self.key.decode("utf-8")

    def text(self):
        return None if self.value is None else self.value.decode("utf-8")

    def json(self):
        return json.loads(self.value)

    def __repr__(self):
        return "Msg(%s[%d]@%d key=%r value=%r)" % (self.topic, self.partition, self.offset,
                                                   self.key, (self.value or b"")[:80])


def topic_partitions(bootstrap, topic, timeout=10):
    """Partition ids of a topic (waits until the topic exists)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sgsharness-md", "log_level": 3})
    try:
        def parts():
            md = c.list_topics(topic, timeout=2)
            t = md.topics.get(topic)
            if t is None or t.error is not None or not t.partitions:
                return None
            return sorted(t.partitions)
        return wait_until(parts, timeout, 0.1, "topic %s" % topic)
    finally:
        c.close()


def consume_all(bootstrap, topic, timeout=30, conf=None):
    """Every message in `topic` from the beginning up to the high watermarks
    read at the call (no consumer group, nothing committed), ordered by
    partition then offset. A topic that does not exist yet is waited for up
    to `timeout`; raises TimeoutError if the messages cannot all be read."""
    c = {"bootstrap.servers": bootstrap, "group.id": "sgsharness-consume-all",
         "enable.auto.commit": False, "enable.partition.eof": False, "log_level": 3,
         "fetch.wait.max.ms": 50}
    c.update(conf or {})
    cons = Consumer(c)
    out = []
    try:
        deadline = time.monotonic() + timeout
        parts = topic_partitions(bootstrap, topic, timeout)
        ends = {}
        for p in parts:
            lo, hi = cons.get_watermark_offsets(TopicPartition(topic, p),
                                                timeout=max(1.0, deadline - time.monotonic()))
            if hi > lo:
                ends[p] = (lo, hi)
        if not ends:
            return out
        cons.assign([TopicPartition(topic, p, lo) for p, (lo, _) in ends.items()])
        pos = {p: lo for p, (lo, _) in ends.items()}
        while any(pos[p] < ends[p][1] for p in ends):
            if time.monotonic() > deadline:
                short = {p: "%d/%d" % (pos[p], ends[p][1]) for p in ends if pos[p] < ends[p][1]}
                raise TimeoutError("consume_all %s: not all read after %ss (partition: at/end %s)"
                                   % (topic, timeout, short))
            for m in cons.consume(1000, 0.2):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise RuntimeError("consume %s: %s" % (topic, m.error()))
                if m.offset() < ends[m.partition()][1]:
                    out.append(Msg(m))
                pos[m.partition()] = m.offset() + 1
    finally:
        cons.close()
    out.sort(key=lambda x: (x.partition, x.offset))
    return out


# ---------------------------------------------------------------------------
# Test reporting

class Skip(Exception):
    """Raise inside a case to skip it (reported loudly, counted as neither)."""


class CaseTimeout(Exception):
    pass


class Suite:
    """Plain-program test runner: `@suite.case(name)` registers a function
    taking no argument or one (a fresh temporary directory); `suite.main()`
    runs them in order, prints `ok - <name>` / `not ok - <name>: <why>` (and
    `SKIPPED: <name>: <why>`), then `N passed, N failed`, and exits 1 if any
    failed. Processes started during a case are stopped when it ends.
    Command-line arguments, if given, select cases whose name contains one."""

    def __init__(self, name=None):
        self.name = name or os.path.splitext(os.path.basename(sys.argv[0]))[0]
        self.cases = []
        self.skipped = 0

    def case(self, name, timeout=600):
        def deco(fn):
            self.cases.append((name, fn, timeout))
            return fn
        return deco

    def _alarm(self, signum, frame):
        raise CaseTimeout("case timed out")

    def run(self, only=None):
        """Runs the cases; returns (passed, failed)."""
        passed = failed = skipped = 0
        t_all = time.monotonic()
        old = signal.signal(signal.SIGALRM, self._alarm)
        try:
            for name, fn, timeout in self.cases:
                if only and not any(o in name for o in only):
                    continue
                with _lock:
                    _scopes.append({"procs": [], "dirs": []})
                t0 = time.monotonic()
                try:
                    tmp = make_tmpdir(self.name)
                    args = [tmp] if len(inspect.signature(fn).parameters) >= 1 else []
                    signal.alarm(int(timeout))
                    try:
                        fn(*args)
                    finally:
                        signal.alarm(0)
                    _say("ok - %s (%.1fs)" % (name, time.monotonic() - t0))
                    passed += 1
                except Skip as e:
                    _say("SKIPPED: %s: %s" % (name, e))
                    skipped += 1
                except BaseException as e:
                    if isinstance(e, (KeyboardInterrupt, SystemExit)):
                        raise
                    why = ("%s: %s" % (type(e).__name__, e)).replace("\n", " | ")
                    _note("--- %s\n%s" % (name, traceback.format_exc()))
                    if isinstance(e, CaseTimeout):
                        why = "timed out after %ss" % timeout
                    _say("not ok - %s: %s" % (name, why[:1000]))
                    failed += 1
                finally:
                    with _lock:
                        scope = _scopes.pop()
                    _close_scope(scope)
        finally:
            signal.signal(signal.SIGALRM, old)
        _say("# %s: %.1fs" % (self.name, time.monotonic() - t_all))
        _say("%d passed, %d failed" % (passed, failed))
        self.skipped = skipped
        return passed, failed

    def main(self):
        """Runs the cases (filtered by command-line arguments) and exits."""
        passed, failed = self.run(sys.argv[1:] or None)
        _cleanup_all()
        sys.exit(1 if failed or passed + self.skipped == 0 else 0)

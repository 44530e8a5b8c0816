"""redis-server on a free loopback port in a temporary directory."""

import contextlib
import os
import time

import redis

from .procs import Proc, Scope, free_port, make_tmpdir


class RedisServer:
    """redis-server on a free loopback port, data in <tmpdir>/redis-<port>
    (or `dir`); its log is <dir>/redis.log. aof=True: --appendonly yes
    --appendfsync always (nothing acknowledged is lost by SIGKILL). RDB
    snapshots are off (--save ''). Owned by the current scope."""

    def __init__(self, tmpdir, aof=False, port=None, extra_args=(), exe="redis-server", dir=None):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.aof = aof
        self.dir = dir or os.path.join(tmpdir, "redis-%d" % self.port)
        os.makedirs(self.dir, exist_ok=True)
        self.extra_args = list(extra_args)
        self.exe = exe
        self.proc = None
        self.start()

    @property
    def url(self):
        return "redis://%s:%d/0" % (self.host, self.port)

    @property
    def log_path(self):
        return os.path.join(self.dir, "redis.log")

    def start(self, timeout=10):
        cmd = [self.exe, "--port", str(self.port), "--bind", self.host, "--dir", self.dir,
               "--save", "", "--daemonize", "no", "--protected-mode", "no",
               "--logfile", "", "--loglevel", "warning"]
        if self.aof:
            cmd += ["--appendonly", "yes", "--appendfsync", "always"]
        cmd += self.extra_args
        self.proc = Proc(cmd, self.log_path, name="redis-server")
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


@contextlib.contextmanager
def private_redis(name="redis", **kw):
    """A redis-server of its own for the block (the benchmarks): yields
    (client with bytes replies, port, temporary directory also free for the
    caller's files). The server is stopped and the directory removed at the
    end (kept with SGS_KEEP_TMP=1). Keyword arguments go to RedisServer."""
    with Scope(name):
        tmp = make_tmpdir(name)
        server = RedisServer(tmp, **kw)
        client = server.client(decode=False)
        try:
            yield client, server.port, tmp
        finally:
            client.close()

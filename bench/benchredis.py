"""A private redis-server for the benchmark scripts: a free loopback port, a
temporary directory, no persistence; stopped (and the directory removed, unless
$SGS_KEEP_TMP is set) when the block ends."""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

try:
    import redis
except ImportError:  # pragma: no cover
    sys.exit("bench: needs the Debian package python3-redis (/usr/bin/python3)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def private_redis(prefix):
    """Yields (client, port, tmp): a redis.Redis answering PING, its port, and
    the temporary directory it runs in (free for the caller's files too)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield r, port, tmp
    finally:
        server.terminate()
        server.wait()
        if not os.environ.get("SGS_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp} (redis stopped)")

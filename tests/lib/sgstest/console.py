"""The HTTP side of sgs in tests: `sgs-aggregator serve` (Console), plain HTTP
requests without a client library's retries or pooling (http_request), an
event-stream reader (SseClient), the Prometheus text parsed with Debian's
prometheus_client (metrics), and headless Chromium through python3-selenium
(browser).

    c = Console(tmp, conf)                       # serve on a free port, ready
    status, doc = c.json("/api/v1/live")
    with SseClient(c.port, "/api/v1/alerts/stream") as s:
        s.wait_event("alert", timeout=2)
    fams = metrics(c.url("/metrics"))             # {name: Family}
"""

import http.client
import json
import os
import queue
import shutil
import socket
import threading
import time

from .env import build_path
from .procs import Proc, check, free_port, new_log_path, wait_until


def http_request(port, method, path, body=None, headers=None, timeout=30, host="127.0.0.1"):
    """One request on a fresh connection: (status, headers dict (lower-case
    names), body bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


class Console:
    """`sgs-aggregator -c CONF serve --listen 127.0.0.1:PORT` (a Proc owned by the
    current scope, log <tmp>/<name>.log), ready when it answers HTTP. env: more
    environment (SGS_NOW...); token: sent as the bearer token by the helpers."""

    def __init__(self, tmp, conf, env=None, token=None, name="serve", port=None, extra=(),
                 ready_timeout=20):
        self.port = port or free_port()
        self.token = token
        self.cmd = [build_path("sgs-aggregator"), "-c", conf, "serve", "--listen",
                    "127.0.0.1:%d" % self.port] + list(extra)
        self.proc = Proc(self.cmd, new_log_path(tmp, name), name=name, env=env)

        def up():
            check(self.proc.alive(), "sgs-aggregator serve exited %s:\n%s"
                  % (self.proc.returncode, self.proc.tail(20)))
            try:
                http_request(self.port, "GET", "/healthz", timeout=2)
                return True
            except OSError:
                return False
        wait_until(up, timeout=ready_timeout, what="sgs-aggregator serve on port %d" % self.port)

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def headers(self, extra=None, token=True):
        h = dict(extra or {})
        if token and self.token:
            h["Authorization"] = "Bearer " + self.token
        return h

    def request(self, method, path, body=None, headers=None, token=True, timeout=30):
        return http_request(self.port, method, path, body=body,
                            headers=self.headers(headers, token), timeout=timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def json(self, path, method="GET", body=None, **kw):
        """(status, parsed JSON body)."""
        status, _, data = self.request(method, path, body=body, **kw)
        return status, json.loads(data.decode("utf-8"))

    def stop(self):
        return self.proc.stop()

    def log(self):
        return self.proc.log()


class SseClient:
    """A raw Server-Sent Events reader on its own socket and thread: events
    arrive in a queue as (event, data, monotonic time). read=False: connect
    and never read (a stalled client). rcvbuf: the socket's receive buffer."""

    def __init__(self, port, path="/api/v1/alerts/stream", token=None, read=True, rcvbuf=None,
                 timeout=10):
        self.events = queue.Queue()
        self.comments = []
        self.closed = threading.Event()
        self.status = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" % path
        if token:
            req += "Authorization: Bearer %s\r\n" % token
        self.sock.sendall((req + "\r\n").encode())
        self.thread = None
        if read:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()

    def _chunks(self, f):
        """The body's bytes, chunked transfer encoding undone."""
        while True:
            line = f.readline()
            if not line:
                return
            size = int(line.strip().split(b";")[0] or b"0", 16)
            if size == 0:
                return
            data = f.read(size)
            f.readline()
            yield data

    def _run(self):
        try:
            self.sock.settimeout(None)
            f = self.sock.makefile("rb")
            status = f.readline().split()
            self.status = int(status[1]) if len(status) > 1 else 0
            chunked = False
            while True:
                h = f.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                if h.lower().startswith(b"transfer-encoding:") and b"chunked" in h.lower():
                    chunked = True
            buf = b""
            source = self._chunks(f) if chunked else iter(lambda: f.read1(65536), b"")
            for data in source:
                buf += data
                while b"\n\n" in buf:
                    block, buf = buf.split(b"\n\n", 1)
                    self._block(block.decode("utf-8", "replace"))
        except (OSError, ValueError):
            pass
        finally:
            self.closed.set()

    def _block(self, block):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
        if data or event != "message":
            self.events.put((event, "\n".join(data), time.monotonic()))

    def wait_event(self, event="alert", timeout=5.0, pred=None):
        """The next event of that type (and matching pred(data)): (data, time);
        raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %r event within %.1f s" % (event, timeout))
            try:
                ev, data, t = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev == event and (pred is None or pred(data)):
                return data, t

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.thread:
            self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def metrics(url, timeout=10):
    """GET url and parse it with prometheus_client's text parser: {family name:
    Family}; a sample of a family: fam.samples[i].name/.labels/.value."""
    from prometheus_client.parser import text_string_to_metric_families
    import urllib.request
    with urllib.request.urlopen(url, timeout=timeout) as f:
        text = f.read().decode("utf-8")
    return {fam.name: fam for fam in text_string_to_metric_families(text)}


def sample(families, name, **labels):
    """The value of one sample (its full name, e.g. sgs_consumer_batches_total),
    or None."""
    for fam in families.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


# ---------------------------------------------------------------------------
# Headless Chromium

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage"]


def browser_unavailable():
    """Why headless Chromium cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is not installed"
    for exe in ("chromium", "chromedriver"):
        if not shutil.which(exe) and not os.path.exists("/usr/bin/" + exe):
            return "%s is not installed (Debian: chromium, chromium-driver)" % exe
    return None


def browser(tmp, width=1280, height=900, mobile=False):
    """Debian's chromium through chromium-driver, headless, with a fresh
    profile in tmp; the browser's console log is kept (get_log('browser'))."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = os.path.join(tmp, "chromium-profile-%d" % free_port())
    os.makedirs(profile, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for f in CHROMIUM_FLAGS:
        opts.add_argument(f)
    opts.add_argument("--user-data-dir=" + profile)
    opts.add_argument("--window-size=%d,%d" % (width, height))
    opts.add_argument("--lang=zh-CN")
    if mobile:
        opts.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0},
            "userAgent": "Mozilla/5.0 (Linux; Android 13) Mobile"})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver",
                      log_path=os.path.join(tmp, "chromedriver.log"))
    return webdriver.Chrome(options=opts, service=service)


def late_record(line, serial, reported_at):
    """A record made late from a generated one (a JSONL line of the native
    format): a new doc_no (serial 9NNNNN, so it is no duplicate), reported at
    reported_at ("YYYY-MM-DDTHH:MM:SS+08:00"), decided 40 days before.
    Returns (unit id, JSON text, doc_no)."""
    import datetime
    import re
    rec = json.loads(line)
    doc_no = re.sub(r"[0-9０-９]+(\s*号)\s*$", lambda m: "9%05d号" % serial, rec["doc_no"])
    if doc_no == rec["doc_no"]:
        raise ValueError("late_record: no serial in doc_no %r" % doc_no)
    rec["doc_no"] = doc_no
    day = datetime.date.fromisoformat(reported_at[:10])
    rec["reported_at"] = reported_at
    rec["decision_date"] = (day - datetime.timedelta(days=40)).isoformat()
    for k in list(rec):
        if k.startswith("_"):
            del rec[k]
    if rec.get("license"):
        rec["license"]["valid_from"] = rec["decision_date"]
    return rec["unit_id"], json.dumps(rec, ensure_ascii=False), rec["doc_no"]

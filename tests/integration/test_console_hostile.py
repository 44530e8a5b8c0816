"""Hostile requests to `sgs-aggregator serve`: 10 MB bodies, `../` and encoded
paths, bad months, versions and limits, wrong methods, 1,000 connections at
once, a unit whose name is HTML with quotes. Each gets a clear JSON error (or
is escaped), and the server keeps serving."""
import json
import os
import resource
import selectors
import socket
import time

import pytest

from sgstest import check, check_eq, source_path, wait_until, write_config
from sgstest.redisserver import RedisServer

HOSTILE_NAME = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">\'"&amp;单位'


@pytest.fixture
def served(console, tmp):
    """A server on an empty Redis, with a registry holding a hostile name, and
    a report file on disk."""
    r = RedisServer(tmp)
    units = os.path.join(tmp, "units.tsv")
    with open(units, "w", encoding="utf-8") as f:
        f.write("unit_id\tname\tgroup\taliases\n")
        f.write("U1\t市交通局\tcity\t\n")
        f.write("U2\t%s\tcounty\t\n" % HOSTILE_NAME)
    reports = os.path.join(tmp, "reports")
    os.makedirs(reports)
    with open(os.path.join(reports, "2023-11.json"), "w") as f:
        f.write('{"month": "2023-11", "version": 1}\n')  # the files of the latest version
    with open(os.path.join(tmp, "secret.txt"), "w") as f:
        f.write("must never be served\n")
    os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(reports, "2023-11-notice.md"))
    conf = write_config(os.path.join(tmp, "h.conf"), {
        "redis.port": r.port, "units.file": units, "report.dir": reports,
        "calendar.file": source_path("configs", "calendar-cn.json"),
        "http.token": "tok", "group.county.name": "县<b>区</b>"})
    c = console(conf, token="tok")
    r.client().set("sgs:{sgs.records:0}:offset", 1)
    r.client().set("sgs:snapshot:2023-11:latest", 1)
    return c, r


def raw_exchange(port, data, timeout=30):
    """Sends data on a raw connection and reads the answer's status and body
    (the connection closes after it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    reply = b""
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        while True:
            try:
                part = s.recv(65536)
            except OSError:
                break
            if not part:
                break
            reply += part
            head, sep, rest = reply.partition(b"\r\n\r\n")
            if sep and b"content-length:" in head.lower():
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) >= n:
                    break
    finally:
        s.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]) if head else 0, body


def is_json_error(status, headers, body, want):
    check_eq(status, want, "status (body %r)" % body[:200])
    check(headers.get("content-type", "").startswith("application/json"),
          "JSON error content type: %s" % headers.get("content-type"))
    doc = json.loads(body.decode("utf-8"))
    check(isinstance(doc.get("error"), str) and doc["error"], "an error message: %r" % doc)
    return doc["error"]


@pytest.mark.case_timeout(300)
def test_bodies_paths_and_values(served):
    """10 MB bodies, traversal and encoded paths, bad months/versions/limits,
    methods: each a 4xx JSON error; the server keeps serving"""
    c, r = served
    spot = "/api/v1/months/2023-11/spot-check"
    # 10 MB announced: refused before the body is read (the first 64 KB sent
    # are never looked at); the answer comes at once
    t0 = time.monotonic()
    status, body = raw_exchange(c.port, ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                         "tok\r\nContent-Length: %d\r\n\r\n"
                                         % (spot, 10 * 1024 * 1024)).encode() + b"x" * 65536)
    check_eq(status, 413, "10 MB with Content-Length")
    check("1048576" in json.loads(body)["error"], "413 names the cap: %r" % body)
    check(time.monotonic() - t0 < 5, "refused at once")

    # a chunked body (no length given) past the cap
    def chunks():
        for _ in range(160):
            yield b"y" * 65536
    s = socket.create_connection(("127.0.0.1", c.port), timeout=30)
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n"
               "Transfer-Encoding: chunked\r\n\r\n" % spot).encode())
    try:
        for ch in chunks():
            s.sendall(b"%x\r\n" % len(ch) + ch + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server may close after answering early
    reply = b""
    try:
        while b"\r\n\r\n" not in reply:
            part = s.recv(4096)
            if not part:
                break
            reply += part
    finally:
        s.close()
    check(reply.startswith(b"HTTP/1.1 413"), "chunked 10 MB: %r" % reply[:80])

    files = "/api/v1/months/2023-11/files/"
    paths = [
        (files + "../../../../etc/passwd", 404),
        (files + "..%2F..%2F..%2Fetc%2Fpasswd", 404),
        (files + "%2e%2e%2f%2e%2e%2fsecret.txt", 404),
        (files + "..%252f..%252fsecret.txt", 404),
        (files + "2023-11.json%00.csv", 404),
        (files + "2023-11.json/", 404),
        (files + "%2Fetc%2Fpasswd", 404),
        (files + "2023-11-notice.md", 404),  # a link to a file elsewhere: never followed
        (files + "2023-11-U2.csv", 404),     # no such group
        (files + "", 404),
        ("/api/v1/months/..%2F..%2Fetc/files/passwd", 404),
        ("/../../etc/passwd", 404),
        ("//etc/passwd", 404),
        ("/api/v1/months/2023-11/files/2023-11.json?x=../../etc", 200),
        ("/api/v1/months/2023-13", 400),
        ("/api/v1/months/1969-12", 400),
        ("/api/v1/months/2023-1", 400),
        ("/api/v1/months/202-11", 400),
        ("/api/v1/months/2023-11x", 400),
        ("/api/v1/months/%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%93-11", 400),
        ("/api/v1/months/2023-00/live", 400),
        ("/api/v1/months/" + "9" * 5000, 400),
        ("/api/v1/months/2023-11?version=0", 400),
        ("/api/v1/months/2023-11?version=-1", 400),
        ("/api/v1/months/2023-11?version=abc", 400),
        ("/api/v1/months/2023-11?version=1.5", 400),
        ("/api/v1/months/2023-11?version=99999999999", 400),
        ("/api/v1/months/2023-11?version=", 400),
        ("/api/v1/months/2023-11?version=%201", 400),
        ("/api/v1/months/2023-11?version=7", 404),
        ("/api/v1/alerts?limit=0", 400),
        ("/api/v1/alerts?limit=1001", 200),  # served as 1000 (REFERENCE §9: at most 1000)
        ("/api/v1/alerts?limit=99999999999", 400),
        ("/api/v1/alerts?limit=-5", 400),
        ("/api/v1/alerts?limit=ten", 400),
        ("/api/v1/nothing", 404),
        ("/api/v1/months/2023-11/other", 404),
    ]
    for path, want in paths:
        status, headers, body = c.get(path)
        if want == 200:
            check_eq(status, 200, path)
        else:
            is_json_error(status, headers, body, want)
    for method, path, allow in (("DELETE", "/api/v1/live", "GET, HEAD"),
                                ("PUT", "/api/v1/months/2023-11", "GET, HEAD"),
                                ("GET", "/api/v1/months/2023-11/spot-check", "POST"),
                                ("POST", "/", "GET, HEAD")):
        status, headers, body = c.request(method, path, body=b"" if method != "GET" else None)
        is_json_error(status, headers, body, 405)
        check_eq(headers.get("allow"), allow, method + " " + path + " Allow")
    check_eq(c.get("/api/v1/units")[0], 200, "still serving")


@pytest.mark.case_timeout(300)
def server_sockets(pid):
    """How many sockets the process holds open."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass  # closed meanwhile
    return n


def test_thousand_connections_at_once(served):
    """1,000 connections at once: each answered or closed, none hangs, and the
    server serves normally afterwards"""
    c, r = served
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    base = server_sockets(c.proc.pid)
    # 1,000 idle connections: the server holds at most its limit (512) open;
    # the rest wait in the kernel's listen queue until a slot frees
    idle = []
    t0 = time.monotonic()
    try:
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", c.port), timeout=10))
        time.sleep(1.0)
        held = server_sockets(c.proc.pid)
        print("# figures: 1000 idle connections opened in %.1f s; the server holds %d sockets"
              % (time.monotonic() - t0, held))
        check(held <= 512 + base + 5, "connections bounded: %d sockets open" % held)
    finally:
        for s in idle:
            s.close()
    # Each hang-up is seen and its socket closed, long before the 60 s idle
    # timeout would close it (with epoll, libmicrohttpd 0.9.75 kept a thread's
    # whole share in CLOSE-WAIT until then, and new clients waited behind them)
    t0 = time.monotonic()
    held = server_sockets(c.proc.pid)
    while held > base + 5 and time.monotonic() - t0 < 15:
        time.sleep(0.1)
        held = server_sockets(c.proc.pid)
    check(held <= base + 5, "the server closed the connections its clients closed within 15 s "
          "(it holds %d sockets, %d before)" % (held, base))
    print("# figures: all closed by the server %.1f s after their clients hung up"
          % (time.monotonic() - t0))
    wait_until(lambda: c.get("/healthz", timeout=2)[0] == 200, timeout=10,
               what="serving again once they are gone")

    # 1,000 requests at once
    t1 = time.monotonic()
    sel = selectors.DefaultSelector()
    socks = []
    try:
        for _ in range(1000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", c.port))
            socks.append(s)
            sel.register(s, selectors.EVENT_WRITE, {"out": b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                                           b"Connection: close\r\n\r\n", "in": b""})
        done, ok, closed = 0, 0, 0
        deadline = time.monotonic() + 60
        while done < len(socks) and time.monotonic() < deadline:
            for key, ev in sel.select(timeout=1):
                s, st = key.fileobj, key.data
                try:
                    if ev & selectors.EVENT_WRITE:
                        n = s.send(st["out"])
                        st["out"] = st["out"][n:]
                        if not st["out"]:
                            sel.modify(s, selectors.EVENT_READ, st)
                        continue
                    part = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    part = b""
                if part:
                    st["in"] += part
                    continue
                sel.unregister(s)
                done += 1
                if st["in"].startswith(b"HTTP/1.1 200"):
                    ok += 1
                else:
                    closed += 1
        print("# figures: 1000 connections at once: %d answered 200, %d closed unanswered, "
              "%.1f s" % (ok, closed, time.monotonic() - t1))
        check_eq(done, 1000, "every connection answered or closed within 60 s")
        check(ok >= 100, "at least the connection limit's worth answered (%d)" % ok)
    finally:
        for s in socks:
            s.close()
    time.sleep(0.5)
    t0 = time.monotonic()
    check_eq(c.get("/api/v1/units")[0], 200, "serving afterwards")
    check(time.monotonic() - t0 < 2, "and promptly")
    check_eq(c.get("/healthz")[0], 200, "healthy afterwards")


def test_hostile_unit_name_is_escaped(served):
    """a unit named with HTML and quotes comes back byte for byte in JSON (the
    browser test shows it is text on the page)"""
    c, r = served
    status, units = c.json("/api/v1/units")
    check_eq(status, 200, "units")
    check_eq([u["name"] for u in units], ["市交通局", HOSTILE_NAME], "names exactly")
    status, headers, body = c.get("/api/v1/live")
    check_eq(status, 200, "live")
    check(headers["content-type"].startswith("application/json"), "JSON, never HTML")
    check_eq(headers.get("x-content-type-options"), "nosniff", "nosniff")
    live = json.loads(body)
    check_eq(live["units"][1]["name"], HOSTILE_NAME, "live name")
    check_eq(live["groups"][1]["name"], "县<b>区</b>", "group name")
    status, headers, body = c.get("/", token=False)
    check_eq(status, 200, "the page")
    csp = headers.get("content-security-policy", "")
    check("connect-src 'self'" in csp and "default-src 'none'" in csp, "CSP: " + csp)
    check_eq(headers.get("x-frame-options"), "DENY", "no framing")
    check(b"<script>window.__xss" not in body, "the page holds no data")

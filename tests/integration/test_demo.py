"""scripts/demo.sh, run non-interactively on the already built programs
(SGS_DEMO_PREBUILT=1, SGS_BUILD_DIR): the whole pipeline on the mock cluster,
Ctrl-C, KEEP=1 (the console kept running), an existing cluster that already
holds messages, and KAFKA=apache.

Every run gets its own TMPDIR (where the demo makes its temporary directory) and
OUT; afterwards nothing the demo started may be running: no process whose
command line names that TMPDIR, none of the pids the demo printed, and the
temporary directory is gone."""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import sgstest as h
from sgstest.console import http_request

DEMO = h.source_path("scripts", "demo.sh")
MONTH = "2025-12"


def demo_env(tmp, **extra):
    """Environment for a demo run with its own TMPDIR and OUT under tmp."""
    t = os.path.join(tmp, "t")
    out = os.path.join(tmp, "reports")
    os.makedirs(t, exist_ok=True)
    env = dict(os.environ)
    for k in ("SGS_KAFKA_BOOTSTRAP_SERVERS", "MONTH", "SEED", "KAFKA", "KEEP", "OUT",
              "CONSOLE_PORT"):
        env.pop(k, None)
    env.update({"SGS_DEMO_PREBUILT": "1", "SGS_BUILD_DIR": h.BUILD_DIR, "TMPDIR": t,
                "OUT": out, "KAFKA": "mock", "MONTH": MONTH, "CONSOLE_PORT": str(h.free_port())})
    env.update({k: str(v) for k, v in extra.items()})
    return env, t, out


def run_demo(tmp, timeout=300, **extra):
    """Runs the demo to completion; returns (status, stdout, stderr, TMPDIR, OUT)."""
    env, t, out = demo_env(tmp, **extra)
    r = subprocess.run(["bash", DEMO], env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, errors="replace", timeout=timeout)
    return r.returncode, r.stdout, r.stderr, t, out


def printed_pids(text):
    """{pid: program} of the `NAME (pid N...` lines the demo printed."""
    pids = {}
    for m in re.finditer(r"(sgs-devbroker|redis-server|sgs-consumer|Apache Kafka \S+) \(pid (\d+)",
                         text):
        pids[int(m.group(2))] = m.group(1)
    return pids


def running(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        return False
    return False


def processes_naming(path):
    """(pid, command line) of the running processes whose command line names path."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if path in cmd and running(int(d)):
            found.append((int(d), cmd.strip()))
    return found


def check_nothing_left(t, err, expect_names):
    """Nothing the demo started is running and its temporary directory is gone."""
    pids = printed_pids(err)
    for name in expect_names:
        h.check(name in " ".join(pids.values()),
                "the demo did not print the pid of %s: %s" % (name, err[-2000:]))

    def gone():
        left = [(p, n) for p, n in pids.items() if running(p)]
        left += processes_naming(t)
        return not left or None
    try:
        h.wait_until(gone, 5, 0.1, "the demo's processes to be gone")
    except TimeoutError:
        left = ["%d %s" % (p, n) for p, n in pids.items() if running(p)]
        left += ["%d %s" % pc for pc in processes_naming(t)]
        for p, _ in list(pids.items()) + processes_naming(t):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        raise AssertionError("still running after the demo exited: %s" % "; ".join(left))
    left = [d for d in os.listdir(t) if d.startswith("sgs-demo.")]
    h.check(not left, "temporary directory left in %s: %s" % (t, left))


def check_results(rc, out, err, t, outdir, concealed=2):
    if rc != 0:
        raise AssertionError("demo exit status %d: %s" % (rc, (err + out)[-3000:]))
    notice = os.path.join(outdir, "%s-notice.md" % MONTH)
    h.check(os.path.isfile(notice), "no %s" % notice)
    with open(notice, encoding="utf-8") as f:
        text = f.read()
    h.check("一、总体情况" in text, "the notice has no 一、总体情况")
    h.check("发现瞒报数据%d条" % concealed in text,
            "the notice does not report %d concealed decisions" % concealed)
    h.check(text in out, "the notice was not printed")
    for name in ("%s.json" % MONTH, "%s-city.csv" % MONTH, "%s-county.csv" % MONTH):
        h.check(os.path.isfile(os.path.join(outdir, name)), "no %s in %s" % (name, outdir))
        h.check(name in out, "%s not listed" % name)
    h.check("counts match the generator's expectation" in out,
            "no counts-match line: %s" % out[-1500:])
    m = re.search(r"spot check: (\d+) sampled, (\d+) found, (\d+) concealed", out)
    h.check(m is not None, "no spot check line")
    h.check_eq(int(m.group(3)), concealed, "concealed in the spot check")
    h.check(int(m.group(2)) >= 1, "the spot check found none of the reported decisions")
    with open(os.path.join(outdir, "%s.json" % MONTH), encoding="utf-8") as f:
        snap = json.load(f)
    h.check_eq(snap["totals"]["concealed"], concealed, "snapshot totals.concealed")
    h.check(snap["totals"]["records"] > 10000, "snapshot records %d" % snap["totals"]["records"])
    h.check(re.search(r"processed \d+ messages in", err) is not None, "no consumer summary shown")
    h.check(re.search(r"== the console: http://127\.0\.0\.1:\d+/", out) is not None,
            "the console's address not printed: %s" % out[-800:])
    m = re.search(r"done in ([\d.]+) s \(pipeline ([\d.]+) s", out)
    h.check(m is not None, "no 'done in' line: %s" % out[-500:])
    return float(m.group(2))


def test_demo_mock(tmp):
    """mock cluster: the whole month, counts match, notice, nothing left running"""
    t0 = time.monotonic()
    rc, out, err, t, outdir = run_demo(tmp)
    wall = time.monotonic() - t0
    pipeline = check_results(rc, out, err, t, outdir)
    check_nothing_left(t, err, ["redis-server", "sgs-devbroker", "sgs-consumer"])
    print("# demo (mock cluster): %.1f s by its own clock, %.1f s wall" % (pipeline, wall),
          flush=True)
    h.check(pipeline < 60, "the demo took %.1f s (must be under a minute)" % pipeline)
    # not a terminal: plain progress lines, no carriage returns
    h.check("\r" not in err, "carriage returns in stderr although it is not a terminal")
    h.check(re.search(r"consumer: \d+ of \d+ messages", err) is not None,
            "no progress line: %s" % err[-1500:])


def test_demo_ctrl_c(tmp):
    """Ctrl-C while consuming: exit 130, everything it started is stopped"""
    env, t, outdir = demo_env(tmp)
    errpath = os.path.join(tmp, "demo.err")
    with open(os.path.join(tmp, "demo.out"), "wb") as o, open(errpath, "wb") as e:
        # its own session, so the SIGINT goes to its whole process group, as a
        # terminal's Ctrl-C does
        p = subprocess.Popen(["bash", DEMO], env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                             stdout=o, stderr=e, start_new_session=True)
    try:
        def err_text():
            with open(errpath, encoding="utf-8", errors="replace") as f:
                return f.read()
        h.wait_until(lambda: "sgs-consumer (pid" in err_text(), 120, 0.05,
                     "the demo to start the consumer")
        time.sleep(0.3)
        os.killpg(p.pid, signal.SIGINT)
        rc = p.wait(60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    err = err_text()
    h.check_eq(rc, 130, "exit status after Ctrl-C (stderr: %s)" % err[-1500:])
    h.check("interrupted" in err, "no 'interrupted' message")
    check_nothing_left(t, err, ["redis-server", "sgs-devbroker", "sgs-consumer"])


def test_demo_keep(tmp):
    """KEEP=1: the console stays up (with a consumer) until Ctrl-C, then exit 0
    and everything is stopped"""
    env, t, outdir = demo_env(tmp, KEEP="1")
    port = int(env["CONSOLE_PORT"])
    errpath, outpath = os.path.join(tmp, "demo.err"), os.path.join(tmp, "demo.out")
    with open(outpath, "wb") as o, open(errpath, "wb") as e:
        p = subprocess.Popen(["bash", DEMO], env=env, cwd=tmp, stdin=subprocess.DEVNULL,
                             stdout=o, stderr=e, start_new_session=True)

    def text(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    try:
        h.wait_until(lambda: "KEEP=1: the console stays at" in text(errpath), 180, 0.1,
                     "the demo to keep the console running")
        status, _, body = http_request(port, "GET", "/api/v1/live")
        h.check_eq(status, 200, "the kept console answers")
        live = json.loads(body)
        h.check(sum(u["month"]["records"] for u in live["units"]) > 10000,
                "its live table shows the generated month")
        h.check_eq(http_request(port, "GET", "/")[0], 200, "the page")
        time.sleep(1)
        h.check(p.poll() is None, "still running")
        os.killpg(p.pid, signal.SIGINT)
        rc = p.wait(60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    err, out = text(errpath), text(outpath)
    h.check_eq(rc, 0, "exit status after Ctrl-C with KEEP=1 (stderr: %s)" % err[-1500:])
    h.check("== the console: http://127.0.0.1:%d/" % port in out, "address printed")
    pids = printed_pids(err)
    h.wait_until(lambda: not [q for q in pids if running(q)] and not processes_naming(t), 10,
                 0.1, "everything the demo started to be stopped")
    for d in os.listdir(t):  # kept (KEEP=1): ours to remove
        shutil.rmtree(os.path.join(t, d), ignore_errors=True)


def test_demo_existing_cluster(tmp):
    """existing cluster (SGS_KAFKA_BOOTSTRAP_SERVERS): earlier messages are skipped"""
    k = h.kafka_broker(h.make_tmpdir("kafka"))
    # (the mock has the four topics already, with 8 partitions each)
    k.create_topics({"sgs.records": 6, "sgs.alerts": 2, "sgs.rejects": 2},
                    configs={"retention.ms": "-1"}, exist_ok=True)
    k.create_topics({"sgs.snapshots": 1}, configs={"cleanup.policy": "compact"}, exist_ok=True)
    # what an earlier producer left there: would count as malformed if read
    n = h.produce(k.bootstrap, "sgs.records",
                  [("k%d" % i, "not a record %d" % i, None) for i in range(200)])
    h.check_eq(n, 200, "messages produced beforehand")
    rc, out, err, t, outdir = run_demo(tmp, SGS_KAFKA_BOOTSTRAP_SERVERS=k.bootstrap)
    check_results(rc, out, err, t, outdir)
    h.check("200 messages already there (skipped)" in err,
            "the demo did not skip the 200 earlier messages: %s" % err[-2000:])
    check_nothing_left(t, err, ["redis-server", "sgs-consumer"])
    h.check(k.alive(), "the existing broker was stopped by the demo")
    print("# existing cluster: %s" % k.kind, flush=True)


def test_demo_apache(tmp):
    """KAFKA=apache: the real broker, started and stopped by the demo"""
    mode = os.environ.get("SGS_KAFKA", "").strip().lower()
    if mode == "mock":
        pytest.skip("SGS_KAFKA=mock")
    try:
        jars = h.kafka_jars()
    except h.BrokerUnavailable as e:
        if mode == "apache":
            raise
        pytest.skip("real Kafka broker unavailable: %s" % e)
    rc, out, err, t, outdir = run_demo(tmp, KAFKA="apache", SGS_KAFKA_JARS=jars)
    pipeline = check_results(rc, out, err, t, outdir)
    h.check("with Kafka: apache" in out, "not run on the Apache broker: %s" % out[-500:])
    check_nothing_left(t, err, ["redis-server", "Apache Kafka", "sgs-consumer"])
    print("# demo (Apache Kafka): %.1f s by its own clock" % pipeline, flush=True)


"""pytest fixtures and hooks of the sgs tests (loaded by tests/conftest.py).

Fixtures (tests/README.md shows them at work):
  tmp            a fresh temporary directory for the test (str)
  kafka          session: the real Apache Kafka broker, or librdkafka's mock
                 after a loud SKIPPED line when the real one is unavailable
                 (SGS_KAFKA=mock|apache forces one)
  apache_kafka   session: the real broker; the test is skipped without it
  mock_broker    a fresh sgs-devbroker (MockBroker) for the test
  kafka_tool     runs a Kafka command-line tool against apache_kafka:
                 kafka_tool("kafka-configs", "--describe", ...)
  kafka_admin    a confluent_kafka AdminClient on `kafka`
  make_redis     factory: make_redis(aof=True) -> a fresh RedisServer
  redis_server   a fresh redis-server (RedisServer) for the test
  redis_client   a client of redis_server (str replies)
  shared_redis   session: one redis-server for every test of the run
  sgs            factory: sgs(tag, kafka=..., partitions=8, aof=False,
                 **config) -> flow.Pipeline (broker, fresh Redis, topics,
                 configuration)
  figures        the fault scenario's Result (marker `figures(key)`), written
                 to SGS_RELIABILITY_OUT when the test ends
  console        factory: console(conf, env=None, token=None) -> a running
                 `sgs-aggregator serve` (sgstest.console.Console)
  chromium       factory: chromium(width=1280, height=900, mobile=False) ->
                 a headless Chromium WebDriver (python3-selenium); the test is
                 skipped without chromium / chromium-driver

Every process and temporary directory a test starts belongs to the test and
is stopped / removed when it ends (SGS_KEEP_TMP=1 keeps the directories).
When a test fails, the end of every log of its processes and of the session's
servers (broker, redis) is added to its report, and so are the commands it
ran to completion with the end of their stderr (--sgs-log-lines N lines each).

Markers: case_timeout(seconds) (default 600: the test fails with
CaseTimeout after that long), figures(key, **fields).
"""

import os
import re
import signal
import time

import pytest

from . import env
from .fault import Result
from .flow import Pipeline
from .kafka import MockBroker, fallback_notes, kafka_broker
from .console import Console, browser, browser_unavailable
from .procs import Scope, install_signal_handlers, make_tmpdir, open_scopes, tail
from .redisserver import RedisServer

DEFAULT_TIMEOUT = 600


class CaseTimeout(Exception):
    """A test ran longer than its case_timeout."""


def pytest_addoption(parser):
    group = parser.getgroup("sgs")
    group.addoption("--sgs-log-lines", type=int, default=60, metavar="N",
                    help="lines of each program's log shown when a test fails (default 60)")


def pytest_configure(config):
    config.addinivalue_line("markers", "case_timeout(seconds): fail the test after that long "
                            "(default %d)" % DEFAULT_TIMEOUT)
    config.addinivalue_line("markers", "figures(key, **fields): the fault scenario's figures "
                            "(the `figures` fixture) under this key")
    # SIGINT is pytest's (KeyboardInterrupt, then the fixtures' teardown);
    # on these two, stop everything and remove the temporary directories.
    install_signal_handlers((signal.SIGTERM, signal.SIGHUP))


def pytest_report_header(config):
    return ["sgs: SGS_SOURCE_DIR=%s SGS_BUILD_DIR=%s SGS_KAFKA=%s"
            % (env.SOURCE_DIR, env.BUILD_DIR, os.environ.get("SGS_KAFKA", "") or "(auto)")]


def pytest_terminal_summary(terminalreporter):
    for line in dict.fromkeys(fallback_notes):
        terminalreporter.write_line(line, yellow=True, bold=True)


# ---------------------------------------------------------------------------
# Ownership, timeouts, reports

@pytest.fixture(autouse=True)
def _sgs_scope(request):
    """Every process and temporary directory the test starts belongs to it."""
    with Scope(request.node.nodeid) as scope:
        request.node._sgs_scope = scope
        yield scope


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    m = item.get_closest_marker("case_timeout")
    secs = int(m.args[0]) if m else DEFAULT_TIMEOUT

    def alarm(signum, frame):
        raise CaseTimeout("timed out after %ss" % secs)

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(secs)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _log_sections(item, lines):
    """(title, text) sections: the logs of the test's processes and of every
    other process still owned by a scope (session servers), and the commands
    the test ran to completion."""
    out = []
    seen = set()
    mine = getattr(item, "_sgs_scope", None)
    scopes = ([mine] if mine else []) + [s for s in open_scopes() if s is not mine]
    for scope in scopes:
        for p in scope.procs:
            paths = [p.log_path] + list(p.extra_logs)
            for path in paths:
                if path in seen:
                    continue
                seen.add(path)
                rc = p.returncode
                state = "running" if rc is None else "exit %s" % rc
                title = "%s (pid %d, %s): %s" % (p.name, p.pid, state, path)
                if scope is not mine:
                    title += " [%s]" % scope.name
                try:
                    size = os.path.getsize(path)
                except OSError:
                    size = -1
                text = tail(path, lines) if size > 0 else "(empty)" if size == 0 else "(missing)"
                out.append(("log of " + title, text))
    if mine and mine.runs:
        text = []
        for cmd, rc, err in mine.runs[-12:]:
            text.append("$ %s  -> exit %s" % (" ".join(cmd), rc))
            text.extend("  | " + l for l in err.splitlines())
        out.append(("commands run to completion (last %d, end of stderr)"
                    % min(12, len(mine.runs)), "\n".join(text)))
    if out:
        out.append(("sgs logs", "temporary directories are removed after the test; "
                    "SGS_KEEP_TMP=1 keeps them (with every log whole)"))
    return out


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    reports = item.__dict__.setdefault("_sgs_reports", {})
    reports[rep.when] = (rep, call.excinfo)
    if rep.failed and rep.when in ("setup", "call"):
        lines = item.config.getoption("--sgs-log-lines")
        for title, text in _log_sections(item, lines):
            rep.sections.append((title, text))
    if rep.when == "setup" and rep.skipped and item.get_closest_marker("figures"):
        if not getattr(item, "_sgs_figures_written", False):
            res = _new_result(item)
            res["skipped"] = _skip_reason(rep)
            res.write(False)
            item._sgs_figures_written = True


# ---------------------------------------------------------------------------
# Fixtures

@pytest.fixture
def tmp(request):
    """A fresh temporary directory (str) of the test: the logs of the
    programs it starts go there. Removed after the test unless
    SGS_KEEP_TMP=1."""
    name = re.sub(r"^test_", "", request.node.name)
    return make_tmpdir(name)


def _session_scope(name):
    return Scope("session " + name)


@pytest.fixture(scope="session")
def kafka():
    """The session's Kafka: the real Apache Kafka broker when it can be
    provisioned and started, else librdkafka's mock cluster after a loud
    `SKIPPED: real Kafka broker unavailable: <why>` line (also repeated in
    the summary). SGS_KAFKA=mock forces the mock, SGS_KAFKA=apache the real
    broker (then a failure to start it is an error)."""
    scope = _session_scope("kafka")
    try:
        with scope.active():
            t0 = time.monotonic()
            k = kafka_broker(make_tmpdir("kafka"))
            rss = k.rss_mb() if k.kind == "apache" else None
            print("# kafka: %s %s at %s, ready in %.2f s%s%s"
                  % (k.kind, k.version, k.bootstrap, k.startup_seconds or 0,
                     " (%.2f s including storage format)" % (time.monotonic() - t0)
                     if k.kind == "apache" else "",
                     ", RSS %.0f MB" % rss if rss else ""), flush=True)
        yield k
    finally:
        scope.close()


@pytest.fixture(scope="session")
def apache_kafka(kafka):
    """The real Apache Kafka broker (the session's `kafka`); the test is
    skipped when only the mock is available."""
    if kafka.kind != "apache":
        pytest.skip("needs the real Kafka broker")
    return kafka


@pytest.fixture
def mock_broker(tmp):
    """A fresh librdkafka mock cluster (sgs-devbroker) with the four sgs
    topics of 8 partitions; MockBroker(tmp, ...) for other shapes."""
    return MockBroker(tmp)


@pytest.fixture
def kafka_tool(apache_kafka):
    """run(tool, *args) a Kafka command-line tool (KafkaBroker.run_tool:
    `--bootstrap-server` added, output captured, error on a non-zero exit)."""
    return apache_kafka.run_tool


@pytest.fixture
def kafka_admin(kafka):
    """A confluent_kafka AdminClient on the session's broker (the real one
    only: the mock has no admin API)."""
    if kafka.kind != "apache":
        pytest.skip("the mock cluster has no admin API")
    return kafka.admin()


@pytest.fixture
def make_redis(tmp):
    """make_redis(aof=False, extra_args=(), ...) -> a fresh RedisServer."""
    def make(**kw):
        return RedisServer(tmp, **kw)
    return make


@pytest.fixture
def redis_server(make_redis):
    """A fresh redis-server (no persistence) for the test."""
    return make_redis()


@pytest.fixture
def redis_client(redis_server):
    """A redis.Redis client of redis_server (str replies)."""
    c = redis_server.client()
    yield c
    c.close()


@pytest.fixture(scope="session")
def shared_redis():
    """One redis-server for every test of the session (tests keep apart by
    key prefix)."""
    scope = _session_scope("redis")
    try:
        with scope.active():
            r = RedisServer(make_tmpdir("redis"))
        yield r
    finally:
        scope.close()


@pytest.fixture
def sgs(request, tmp):
    """sgs(tag, kafka=None, partitions=8, aof=False, redis=None, **config) ->
    flow.Pipeline: topics <tag>.* on `kafka` (default: the session's
    broker), a fresh redis-server (or `redis`), and a configuration whose
    group is the tag; config keys as keyword arguments with `__` for `.`
    (consumer__batch__max_messages=100)."""
    def make(tag, kafka=None, partitions=8, aof=False, redis=None, **config):
        broker = kafka if kafka is not None else request.getfixturevalue("kafka")
        r = redis if redis is not None else RedisServer(tmp, aof=aof)
        return Pipeline(tmp, broker, r, tag, partitions=partitions, **config)
    return make


@pytest.fixture
def console(tmp):
    """console(conf, env=None, token=None, **kw) -> Console: `sgs-aggregator
    serve` on a free loopback port, answering HTTP; stopped when the test ends."""
    def make(conf, **kw):
        return Console(tmp, conf, **kw)
    return make


@pytest.fixture
def chromium(tmp):
    """chromium(width=1280, height=900, mobile=False) -> a selenium WebDriver on
    Debian's headless chromium (fresh profile in tmp, console log kept); every
    browser is quit when the test ends. Skips the test without chromium,
    chromium-driver or python3-selenium."""
    why = browser_unavailable()
    if why:
        pytest.skip(why)
    made = []

    def make(width=1280, height=900, mobile=False):
        d = browser(tmp, width, height, mobile)
        made.append(d)
        return d
    yield make
    for d in made:
        try:
            d.quit()
        except Exception:
            pass


def _new_result(item):
    m = item.get_closest_marker("figures")
    return Result(m.args[0], **m.kwargs)


def _skip_reason(rep):
    if isinstance(rep.longrepr, tuple) and len(rep.longrepr) == 3:
        return re.sub(r"^Skipped: ", "", str(rep.longrepr[2]))
    return str(rep.longrepr)


@pytest.fixture
def figures(request):
    """The scenario's figures (fault.Result under the test's `figures` marker
    key): fill it in; when the test ends it is written (exact = passed; a
    skip or the error is recorded) to SGS_RELIABILITY_OUT."""
    item = request.node
    if not item.get_closest_marker("figures"):
        raise pytest.UsageError("%s: the figures fixture needs @pytest.mark.figures(key)"
                                % item.nodeid)
    res = _new_result(item)
    yield res
    if getattr(item, "_sgs_figures_written", False):
        return
    item._sgs_figures_written = True
    reports = getattr(item, "_sgs_reports", {})
    rep, excinfo = reports.get("call") or reports.get("setup") or (None, None)
    if rep is None or rep.passed and rep.when == "call":
        res.write(True)
    elif rep.skipped:
        res["skipped"] = _skip_reason(rep)
        res.write(False)
    else:
        err = "%s: %s" % (excinfo.typename, excinfo.value) if excinfo else "failed"
        res.write(False, err)


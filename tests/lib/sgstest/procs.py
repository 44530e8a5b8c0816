"""Processes, temporary directories and the scopes that own them.

Every process started through this module (Proc, spawn(), the servers) and
every directory made by make_tmpdir() belongs to the scope that is active when
it is created: a test's scope (the pytest plugin opens one per test), a
session fixture's scope, or the root scope. Closing a scope stops its
processes (SIGTERM, then SIGKILL) in reverse order and removes its directories
(unless SGS_KEEP_TMP=1). The root scope and every scope still open are closed
at exit and, once install_signal_handlers() ran, on those signals. Children
started from the main thread also get SIGKILL from the kernel when the test
process dies (PR_SET_PDEATHSIG), e.g. when ctest kills it on a timeout.

Environment: SGS_KEEP_TMP=1 keeps temporary directories (their paths are
printed); SGS_TMP_DIR is where they are made (default: the system's).
"""

import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def say(line):
    """A line on stdout, flushed (the test's report stream)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def note(line):
    """Diagnostics on stderr."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def keep_tmp():
    return os.environ.get("SGS_KEEP_TMP") == "1"


# ---------------------------------------------------------------------------
# Scopes

_lock = threading.RLock()
_active = []  # scopes that receive new processes and directories (last wins)
_open = []    # every scope not yet closed, in creation order


class Scope:
    """Owns processes (Proc), temporary directories and a record of the
    commands run to completion (run()).

        with Scope("case"):            # active while the block runs, closed after
            RedisServer(tmp)

        s = Scope("kafka")             # a session-long owner:
        with s.active():               # active only while creating
            broker = kafka_broker(make_tmpdir("kafka"))
        ...
        s.close()
    """

    def __init__(self, name="scope"):
        self.name = name
        self.procs = []
        self.dirs = []
        self.runs = []  # (command, exit status, end of stderr), the last 30
        self.closed = False
        with _lock:
            _open.append(self)

    @contextlib.contextmanager
    def active(self):
        with _lock:
            _active.append(self)
        try:
            yield self
        finally:
            with _lock:
                for i in range(len(_active) - 1, -1, -1):
                    if _active[i] is self:
                        del _active[i]
                        break

    def __enter__(self):
        with _lock:
            _active.append(self)
        return self

    def __exit__(self, *exc):
        with _lock:
            for i in range(len(_active) - 1, -1, -1):
                if _active[i] is self:
                    del _active[i]
                    break
        self.close()
        return False

    def close(self):
        """Stops the processes (last started first) and removes the
        directories (unless SGS_KEEP_TMP=1). Idempotent."""
        with _lock:
            procs, self.procs = list(self.procs), []
            dirs, self.dirs = list(self.dirs), []
            self.closed = True
            if self in _open:
                _open.remove(self)
        for p in reversed(procs):
            try:
                if p.kill_on_close:
                    p.kill()
                    p.stop()  # (closes its files)
                else:
                    p.stop(timeout=p.stop_timeout)
            except Exception as e:  # keep cleaning up the rest
                note("sgstest: stopping %s failed: %s" % (p.name, e))
        for d in dirs:
            if keep_tmp():
                note("sgstest: kept %s" % d)
            else:
                shutil.rmtree(d, ignore_errors=True)


_root = Scope("root")


def current_scope():
    with _lock:
        return _active[-1] if _active else _root


def open_scopes():
    """Every scope not yet closed (the root scope first)."""
    with _lock:
        return list(_open)


def cleanup_all():
    """Closes every open scope, the newest first, then a fresh root scope
    stays for what comes after."""
    global _root
    with _lock:
        scopes = list(reversed(_open))
        del _active[:]
    for s in scopes:
        s.close()
    with _lock:
        if _root.closed:
            _root = Scope("root")


def _on_signal(signum, frame):
    cleanup_all()
    os._exit(128 + signum)


atexit.register(cleanup_all)


def install_signal_handlers(signals=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)):
    """On each of `signals`: stop everything started, remove the temporary
    directories and exit with 128 + the signal number. Only from the main
    thread. (Not done on import: pytest handles SIGINT itself.)"""
    for s in signals:
        signal.signal(s, _on_signal)


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
    """A new temporary directory of the current scope: removed when the scope
    closes unless SGS_KEEP_TMP=1."""
    base = os.environ.get("SGS_TMP_DIR") or None
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:40]
    d = tempfile.mkdtemp(prefix="sgs-%s-" % safe, dir=base)
    s = current_scope()
    with _lock:
        s.dirs.append(d)
    return d


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


class Checks:
    """Soft checks: every check runs, each prints `ok - name` or `not ok -
    name: why`, and done() raises one AssertionError naming every failure.
    For tests made of many independent facts (test_deploy, test_gen)."""

    def __init__(self):
        self.failed = []
        self.passed = 0

    def __call__(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            say("ok - " + name)
        else:
            detail = str(detail)
            self.failed.append((name, detail))
            say("not ok - %s%s" % (name, ": " + detail.splitlines()[0] if detail else ""))
            for line in detail.splitlines()[1:30]:
                say("#   " + line)
        return bool(ok)

    def done(self):
        if self.failed:
            raise AssertionError("%d of %d checks failed:\n%s" % (
                len(self.failed), len(self.failed) + self.passed,
                "\n".join("  %s: %s" % (n, d[:2000]) for n, d in self.failed)))


def write_config(path, values):
    """Writes an sgs configuration file: one `key = value` line per item, in
    order. Booleans become true/false, None values are left out."""
    lines = ["# written by sgstest"]
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


def tail(path, n=20):
    """The last n lines of a file (at most its last 64 KiB)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return "(no %s)" % path


# ---------------------------------------------------------------------------
# Processes

class Proc:
    """A long-running child process, owned by the current scope. stdout and
    stderr go to `log_path` unless stdout/stdin pipes are asked for.
    `extra_logs`: more files this process writes (shown with its log when a
    test fails). When its scope closes it gets SIGTERM (SIGKILL after
    `stop_timeout` seconds), or SIGKILL at once with `kill_on_close` (servers
    whose data is thrown away with their directory)."""

    stop_timeout = 10
    kill_on_close = False

    def __init__(self, cmd, log_path, name=None, env=None, cwd=None, stdin=None, stdout=None):
        self.cmd = [str(c) for c in cmd]
        self.name = name or os.path.basename(self.cmd[0])
        self.log_path = log_path
        self.extra_logs = []
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
        s = current_scope()
        with _lock:
            s.procs.append(self)

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

    def stop(self, timeout=10, sig=signal.SIGTERM, on_kill=None):
        """`sig`, then SIGKILL after `timeout` seconds; returns the exit
        status. on_kill(proc, timeout) is called before a SIGKILL (default: a
        note on stderr)."""
        if self.alive():
            self.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                if on_kill:
                    on_kill(self, timeout)
                else:
                    note("sgstest: %s (pid %d) ignored signal %d for %ss, killing"
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
        return tail(self.log_path, n)


def new_log_path(tmpdir, name):
    """<tmpdir>/<name>.log, or <name>.2.log, ... if taken."""
    log = os.path.join(tmpdir, "%s.log" % name)
    i = 1
    while os.path.exists(log):
        i += 1
        log = os.path.join(tmpdir, "%s.%d.log" % (name, i))
    return log


def spawn(cmd, tmpdir, name=None, env=None, cwd=None):
    """Starts a long-running program (for example sgs-consumer) with its output
    in <tmpdir>/<name>.log, owned by the current scope. Returns a Proc."""
    name = name or os.path.basename(str(cmd[0]))
    return Proc(cmd, new_log_path(tmpdir, name), name=name, env=env, cwd=cwd)


def run(cmd, timeout=60, check=True, env=None, cwd=None, input=None):
    """Runs a command to completion; returns subprocess.CompletedProcess with
    text stdout/stderr. On timeout the process is killed and TimeoutError
    raised; with check=True a non-zero exit raises RuntimeError showing the
    command, status and the end of stderr. The command and the end of its
    stderr are remembered by the current scope (shown when a test fails)."""
    cmd = [str(c) for c in cmd]
    full_env = dict(os.environ)
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    main = threading.current_thread() is threading.main_thread()
    scope = current_scope()
    try:
        r = subprocess.run(cmd, env=full_env, cwd=cwd, timeout=timeout,
                           input=input, capture_output=True, text=True, errors="replace",
                           stdin=subprocess.DEVNULL if input is None else None,
                           preexec_fn=_child_setup if main else None)
    except subprocess.TimeoutExpired as e:
        with _lock:
            scope.runs.append((cmd, "timeout", ""))
        raise TimeoutError("%s: no exit after %ss" % (" ".join(cmd), timeout)) from e
    with _lock:
        scope.runs.append((cmd, r.returncode, "\n".join(r.stderr.splitlines()[-15:])))
        del scope.runs[:-30]
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit status %d: %s" % (" ".join(cmd), r.returncode,
                                                       r.stderr.strip()[-2000:]))
    return r

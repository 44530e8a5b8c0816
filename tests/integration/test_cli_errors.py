"""Bad configuration, registry, calendar and sample files, and bad command lines:
each gives exit status 2 and one line on stderr naming the file and line (or key,
or argument) at fault, and nothing is started (no Redis or Kafka is reachable
here: a program that got as far as connecting would fail differently)."""

import os
import subprocess

from sgstest import build_path, check, check_eq, source_path

UNITS = source_path("configs", "units.tsv")
CAL = source_path("configs", "calendar-cn.json")


def run2(args, tmp, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SGS_")}
    e.update(env or {})
    r = subprocess.run(args, capture_output=True, text=True, timeout=30, env=e, cwd=tmp)
    return r.returncode, r.stdout, r.stderr


def expect_error(args, tmp, *needles, env=None):
    rc, out, err = run2(args, tmp, env)
    lines = [l for l in err.splitlines() if l.strip()]
    check_eq(rc, 2, "exit status of %s (stderr: %s)" % (" ".join(args[1:]), err.strip()))
    check(len(lines) == 1, "one line on stderr, got %r" % lines)
    for n in needles:
        check(n in lines[0], "%r in %r" % (n, lines[0]))
    return lines[0]


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def conf(tmp, extra=""):
    return write(tmp, "sgs.conf", "units.file = %s\ncalendar.file = %s\nredis.port = 1\n%s"
                 % (UNITS, CAL, extra))


PROGRAMS = [["sgs-consumer"], ["sgs-aggregator", "status"]]


def test_unknown_config_key(tmp):
    """unknown config key: FILE:LINE: unknown key"""
    c = conf(tmp, "# fine\nredis.hots = x\n")
    for prog in PROGRAMS:
        expect_error([build_path(prog[0]), "-c", c] + prog[1:], tmp,
                     "%s:5: unknown key 'redis.hots'" % c)


def test_bad_config_value(tmp):
    """bad config value names file, line and key"""
    c = conf(tmp, "redis.port = seventy\n")
    for prog in PROGRAMS:
        expect_error([build_path(prog[0]), "-c", c] + prog[1:], tmp, "%s:4:" % c,
                     "redis.port", "seventy")


def test_missing_file_bad_x_bad_env(tmp):
    """missing config file, bad -X, bad environment variable"""
    for prog in PROGRAMS:
        expect_error([build_path(prog[0]), "-c", "/nonexistent.conf"] + prog[1:], tmp,
                     "/nonexistent.conf: cannot open")
        expect_error([build_path(prog[0]), "-c", conf(tmp), "-X", "deadline.license.workdays=0"]
                     + prog[1:], tmp, "-X", "deadline.license.workdays")
        expect_error([build_path(prog[0]), "-c", conf(tmp)] + prog[1:], tmp,
                     "SGS_REDIS_PROT", env={"SGS_REDIS_PROT": "1"})


def test_registry_duplicate_name(tmp):
    """registry with a duplicate name names both lines"""
    reg = write(tmp, "units.tsv", "unit_id\tname\tgroup\taliases\n"
                "A1\t市交通局\tcity\t市交通运输局\n"
                "A2\t市公安局\tcity\t\n"
                "A3\t市交通运输局\tcity\t\n")
    c = conf(tmp, "units.file = %s\n" % reg)
    for prog in PROGRAMS:
        line = expect_error([build_path(prog[0]), "-c", c] + prog[1:], tmp, reg + ":4:",
                            "市交通运输局", "line 2")


def test_calendar_bad_date(tmp):
    """calendar with a bad date names the file and the entry"""
    cal = write(tmp, "cal.json", '{"name": "x", "years": [2024], "holidays": ["2024-02-30"], '
                '"workdays": []}')
    c = conf(tmp, "calendar.file = %s\n" % cal)
    for prog in (["sgs-consumer"], ["sgs-aggregator", "watch"]):
        expect_error([build_path(prog[0]), "-c", c] + prog[1:], tmp, cal, "2024-02-30")


def test_malformed_sample(tmp):
    """malformed spot-check sample names the line; nothing stored"""
    sample = write(tmp, "sample.tsv", "unit_id\tkind\tdoc_no\n410423\tpenalty\t鲁山县罚〔2023〕1号\n"
                   "410423\tpenalty\n")
    expect_error([build_path("sgs-aggregator"), "-c", conf(tmp), "spot-check", "--month",
                  "2023-12", "--sample", sample], tmp, sample + ":3")


def test_bad_command_lines(tmp):
    """bad command lines"""
    expect_error([build_path("sgs-consumer"), "-c", conf(tmp), "--exit-on-idle", "soon"], tmp,
                 "--exit-on-idle")
    expect_error([build_path("sgs-consumer"), "--bogus"], tmp, "--bogus")
    expect_error([build_path("sgs-aggregator"), "-c", conf(tmp), "snapshot", "--month",
                  "2023-13"], tmp, "2023-13")
    expect_error([build_path("sgs-aggregator"), "-c", conf(tmp), "frobnicate"], tmp,
                 "frobnicate")
    expect_error([build_path("sgs-aggregator"), "-c", conf(tmp)], tmp, "a command is required")
    rc, out, _ = run2([build_path("sgs-consumer"), "-X", "list"], tmp)
    check(rc == 0 and "redis.prefix" in out and "kafka.<property>" in out, "-X list")



def build_option(name):
    """A CMake cache entry of the build under test ("ON", "OFF", or None)."""
    with open(os.path.join(os.path.dirname(build_path("sgs-consumer")), "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    return None


def test_version_names_allocator(tmp):
    """`sgs-consumer --version` names the allocator in force: jemalloc with
    its built-in page decay in the default build, which MALLOC_CONF in the
    environment changes; glibc's malloc in a sanitizer or SGS_JEMALLOC=OFF build."""
    rc, out, err = run2([build_path("sgs-consumer"), "--version"], tmp)
    check_eq(rc, 0, "exit status of --version (%s)" % err.strip())
    check(out.startswith("sgs-consumer ") and "librdkafka 2." in out, "version line %r" % out)
    on = build_option("SGS_JEMALLOC") in ("ON", "TRUE", "1") and \
        build_option("SGS_SANITIZE") not in ("ON", "TRUE", "1")
    if not on:
        check("the C library's malloc" in out, "a build without jemalloc says so: %r" % out)
        return
    check("jemalloc 5." in out and "(dirty_decay_ms 500)" in out,
          "jemalloc with the built-in decay: %r" % out)
    rc, out, err = run2([build_path("sgs-consumer"), "--version"], tmp,
                        env={"MALLOC_CONF": "dirty_decay_ms:2000"})
    check("(dirty_decay_ms 2000)" in out, "MALLOC_CONF wins over the built-in: %r" % out)

"""The pipeline of scripts/demo.sh, after its set-up and build: servers, a
generated month, the consumer with progress, a spot check, the snapshot, the
count check, the results, and everything stopped on exit and on Ctrl-C.

At the end it starts the web console (sgs-aggregator serve) on the demo's
Redis and prints its address; with --keep 1 it keeps the console, Redis, the
broker and a consumer running until Ctrl-C.

scripts/demo.sh validates the environment it documents, installs and builds,
then runs `/usr/bin/python3 -m sgstest.demo OPTIONS` (PYTHONPATH=tests/lib);
run through it, not alone. Progress goes to stderr, results to stdout; exit
status 0 when everything ran and the counts match, 1 on any failure, 130 on
SIGINT, 143 on SIGTERM.
"""

import argparse
import calendar
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

from .env import source_path
from .kafka import BrokerUnavailable, KafkaBroker, MockBroker, kafka_jars
from .console import http_request
from .procs import Scope, free_port, spawn
from .redisserver import RedisServer


class Failure(Exception):
    """die(): a one-line reason, exit status 1."""


class Interrupted(BaseException):
    def __init__(self, name, status):
        super().__init__(name)
        self.name = name
        self.status = status


class Output:
    """Progress on stderr (one updating line on a terminal, plain lines
    otherwise)."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.line_open = False  # a progress line without its newline is on the terminal

    def endline(self):
        if self.line_open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.line_open = False

    def err(self, text):
        self.endline()
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def say(self, text):
        self.err("sgs demo: %s" % text)

    def progress(self, text):
        sys.stderr.write("\r\033[K%s" % text)
        sys.stderr.flush()
        self.line_open = True

    def show_tail(self, path, n=15):
        """The last lines of a log, indented."""
        self.endline()
        try:
            if os.path.getsize(path) > 0:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
                self.err("  --- last lines of %s:" % path)
                for line in lines[-n:]:
                    self.err("  | " + line)
        except OSError:
            pass


def secs(a, b):
    """Seconds with one decimal between two time_ns() values."""
    return "%.1f" % ((b - a) / 1e9)


def now_ms():
    return time.time_ns() // 1000000


def kafka_client_conf():
    """librdkafka settings from SGS_KAFKA_* (security settings of an existing
    cluster...), as the sgs programs take them."""
    conf = {}
    for var, value in os.environ.items():
        if var in ("SGS_KAFKA_BOOTSTRAP_SERVERS", "SGS_KAFKA_JARS", "SGS_KAFKA_HEAP", "SGS_KAFKA"):
            continue
        if var.startswith("SGS_KAFKA_"):
            conf[var[len("SGS_KAFKA_"):].lower().replace("_", ".")] = value
    return conf


def unit_field(units_file, unit, col):
    """Column `col` (1-based: 2 name, 4 aliases) of the unit's registry line."""
    with open(units_file, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if cols[0] == unit:
                return cols[col - 1] if len(cols) >= col else ""
    return ""


def fullwidth(text):
    return text.translate({ord(c): 0xFF10 + i for i, c in enumerate("0123456789")})


def before(s, sep):  # bash ${s%%sep*}
    return s.split(sep, 1)[0]


def after(s, sep):  # bash ${s#*sep}
    return s.split(sep, 1)[1] if sep in s else s


class Demo:
    def __init__(self, a):
        self.a = a
        self.out = Output()
        self.bdir = a.build
        self.mode = a.mode
        self.scope = Scope("demo")
        self.tmp = None
        self.finished = False
        self.t_start = a.t_start
        self.t_pipeline = a.t_start
        e = os.environ
        self.t_records = e.get("SGS_TOPIC_RECORDS", "sgs.records")
        self.t_alerts = e.get("SGS_TOPIC_ALERTS", "sgs.alerts")
        self.t_rejects = e.get("SGS_TOPIC_REJECTS", "sgs.rejects")
        self.t_snapshots = e.get("SGS_TOPIC_SNAPSHOTS", "sgs.snapshots")
        self.units_file = e.get("SGS_UNITS_FILE", source_path("configs", "units.tsv"))
        self.calendar_file = e.get("SGS_CALENDAR_FILE", source_path("configs", "calendar-cn.json"))
        self.base_offset = 0

    def die(self, text):
        raise Failure(text)

    def prog(self, name):
        return os.path.join(self.bdir, name)

    # ---- 1. Redis ---------------------------------------------------------

    def start_redis(self):
        d = os.path.join(self.tmp, "redis")
        try:
            self.redis = RedisServer(self.tmp, dir=d)
        except RuntimeError:
            self.out.show_tail(os.path.join(d, "redis.log"))
            self.die("redis-server did not start")
        self.out.say("redis-server (pid %d) on 127.0.0.1:%d" % (self.redis.pid, self.redis.port))

    # ---- 2. Kafka ---------------------------------------------------------

    def start_mock(self):
        log = os.path.join(self.tmp, "sgs-devbroker.log")
        # The mock keeps about 5 MiB of batches per partition: a month of ~11,000
        # records is ~6.5 MB, so the records topic gets 12 partitions.
        try:
            m = MockBroker(self.tmp, partitions=4, log_path=log, exe=self.prog("sgs-devbroker"),
                           topics={self.t_records: 12, self.t_alerts: 4, self.t_rejects: 4,
                                   self.t_snapshots: 1})
        except (RuntimeError, TimeoutError):
            self.out.show_tail(log)
            self.die("sgs-devbroker did not start")
        self.bootstrap = m.bootstrap
        self.out.say("sgs-devbroker (pid %d, librdkafka mock cluster) at %s"
                     % (m.pid, m.bootstrap))

    def start_apache(self):
        if not os.environ.get("SGS_KAFKA_JARS"):
            self.out.say("Kafka broker jars (scripts/kafka-jars.sh)")
        try:
            jars = kafka_jars(show_progress=True)
        except BrokerUnavailable as e:
            self.die(str(e))
        # As for the tests (one KRaft node, few threads), and retention.ms=-1
        # for every topic, auto-created ones included.
        try:
            k = KafkaBroker(self.tmp, jars=jars, properties={"log.retention.ms": "-1"})
        except BrokerUnavailable as e:
            self.out.endline()
            for line in str(e).splitlines():
                self.out.err("  | " + line)
            self.die("the Kafka broker did not start")
        self.bootstrap = k.bootstrap
        self.out.say("Apache Kafka %s (pid %d) at %s" % (k.version, k.pid, k.bootstrap))

    def seed_offsets(self):
        """Existing cluster: the records topic's end offsets become the
        consumer's starting positions in Redis (the consumer takes its
        positions from Redis), so only the month produced now is counted."""
        self.base_offset = 0
        conf = {"bootstrap.servers": self.bootstrap, "group.id": "sgs-demo-offsets",
                "log_level": 3}
        conf.update(kafka_client_conf())
        c = Consumer(conf)
        try:
            try:
                md = c.list_topics(self.t_records, timeout=30)
            except KafkaException as e:
                self.die("cannot read the metadata of %s: %s" % (self.bootstrap, e))
            t = md.topics.get(self.t_records)
            if t is None or t.error is not None or not t.partitions:
                self.out.say("topic %s not found on %s (it must exist or be auto-created)"
                             % (self.t_records, self.bootstrap))
                return
            r = self.redis.client()
            total = 0
            for p in sorted(t.partitions):
                try:
                    _, hi = c.get_watermark_offsets(TopicPartition(self.t_records, p), timeout=30)
                except KafkaException as e:
                    self.die("cannot read the end offsets of %s: %s" % (self.t_records, e))
                r.set("%s:{%s:%d}:offset" % (self.prefix, self.t_records, p), hi)
                total += hi
            self.base_offset = total
            self.out.say("%s: %d partitions, %d messages already there (skipped)"
                         % (self.t_records, len(t.partitions), total))
        finally:
            c.close()

    # ---- 3. Configuration -------------------------------------------------

    def write_config(self):
        """configs/sgs.conf with the demo's settings replacing its own."""
        run_id = "demo-%s-%d" % (time.strftime("%Y%m%d%H%M%S"), os.getpid())
        self.group = "sgs-" + run_id
        self.prefix = "sgs-" + run_id
        over = {
            "kafka.bootstrap.servers": self.bootstrap,
            "kafka.group.id": self.group,
            "redis.host": "127.0.0.1",
            "redis.port": str(self.redis.port),
            "redis.db": "0",
            "redis.prefix": self.prefix,
            "units.file": self.units_file,
            "calendar.file": self.calendar_file,
            "report.dir": self.outdir,
            "topic.records": self.t_records,
            "topic.alerts": self.t_alerts,
            "topic.rejects": self.t_rejects,
            "topic.snapshots": self.t_snapshots,
        }
        lines = []
        with open(source_path("configs", "sgs.conf"), encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                key = line.split("=", 1)[0].strip(" \t")
                if not re.match(r"^[ \t]*#", line) and "=" in line and key in over:
                    continue
                lines.append(line)
        lines += ["", "# --- scripts/demo.sh ---"]
        lines += sorted("%s = %s" % kv for kv in over.items())
        self.conf = os.path.join(self.tmp, "sgs.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    # ---- 4. Generate and produce ------------------------------------------

    def generate(self):
        a = self.a
        self.expect_path = os.path.join(self.tmp, "expect.json")
        self.out.say("generating %s and producing it to %s (sgs-gen --seed %s)"
                     % (a.month, self.t_records, a.seed))
        log = os.path.join(self.tmp, "sgs-gen.log")
        cmd = [self.prog("sgs-gen"), "-c", self.conf, "-X", "kafka.message.timeout.ms=60000",
               "--month", a.month, "--seed", a.seed, "--records", "11100", "--late-share", "0.05",
               "--invalid", "60", "--duplicates", "40", "--malformed", "5", "--unknown-unit", "8",
               "--gaps", "12", "--format", "mixed", "--no-reported-at-share", "0.01",
               "--produce", "--expect", self.expect_path]
        sys.stdout.flush()
        with open(log, "wb") as errf:
            rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stderr=errf).returncode
        if rc != 0:
            self.out.show_tail(log)
            self.die("sgs-gen failed")
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = [l for l in f.read().splitlines() if "produced" in l]
        gen_line = lines[-1] if lines else ""
        self.out.say(gen_line[len("sgs-gen: "):] if gen_line.startswith("sgs-gen: ") else gen_line)
        m = re.search(r"produced (\d+) of ", gen_line)
        if not m:
            self.die("cannot read the number produced from: %s" % gen_line)
        self.produced = int(m.group(1))
        with open(self.expect_path, encoding="utf-8") as f:
            self.expect = json.load(f)

    # ---- 5. Consume, with progress from Redis ------------------------------

    def consumed_now(self, r):
        """Messages written to Redis by the consumer so far (the sum of the
        partitions' stored offsets, less those skipped)."""
        try:
            s = int(r.eval("local s = 0\n"
                           "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do\n"
                           "    s = s + tonumber(redis.call('GET', k) or 0)\n"
                           "end\n"
                           "return s", 0, "%s:{%s:*}:offset" % (self.prefix, self.t_records)))
        except Exception:
            s = self.base_offset
        return s - self.base_offset

    def consume(self):
        log = os.path.join(self.tmp, "sgs-consumer.log")
        p = spawn([self.prog("sgs-consumer"), "-c", self.conf, "--exit-on-idle", "3"], self.tmp,
                  name="sgs-consumer")
        self.out.say("sgs-consumer (pid %d) until it has been idle for 3 s" % p.pid)
        r = self.redis.client(socket_timeout=5)
        produced = self.produced
        t0 = now_ms()
        t_first = n_first = t_last = last_n = last_print = 0
        limit_s = self.a.consumer_timeout
        while p.alive():
            now = now_ms()
            done_n = self.consumed_now(r)
            if done_n > 0 and t_first == 0:
                t_first, n_first = now, done_n
            if done_n > last_n:  # the rate while messages arrive, not while idle
                last_n, t_last = done_n, now
            lag = max(0, produced - done_n)
            if done_n == 0:
                try:
                    with open(log, encoding="utf-8", errors="replace") as f:
                        assigned = "assigned " in f.read()
                except OSError:
                    assigned = False
                state = "partitions assigned, reading" if assigned else \
                    "joining group %s" % self.group
                msg = "consumer: %s (%d s)" % (state, (now - t0) // 1000)
            else:
                rate = ""
                if t_last > t_first:
                    rate = ", %d msg/s" % ((last_n - n_first) * 1000 // (t_last - t_first))
                msg = "consumer: %d of %d messages (%d%%)%s, lag %d" % (
                    done_n, produced, done_n * 100 // (produced if produced > 0 else 1), rate, lag)
                if lag == 0:
                    msg += ", caught up (stops after 3 s idle)"
            if self.out.tty:
                self.out.progress(msg)
            elif now - last_print >= 2000:
                self.out.err("sgs demo: %s" % msg)
                last_print = now
            for q in self.scope.procs:  # a server that died leaves the consumer waiting
                if q is not p and not q.alive():
                    self.out.show_tail(log, 5)
                    self.die("%s (pid %d) exited while the consumer was running"
                             % (q.name, q.pid))
            if now - t0 > limit_s * 1000:
                self.out.show_tail(log)
                self.die("sgs-consumer still running after %d s" % limit_s)
            time.sleep(0.2)
        crc = p.wait()
        if crc < 0:
            crc = 128 - crc
        self.out.endline()
        if crc != 0:
            self.out.show_tail(log)
            self.die("sgs-consumer exited with status %d" % crc)
        text = p.log().splitlines()
        summary = [l for l in text if l.startswith("sgs-consumer: processed ")]
        if not summary:
            self.out.show_tail(log)
            self.die("sgs-consumer printed no summary line")
        self.summary = summary[-1][len("sgs-consumer: "):]
        stats = [l for l in text if "sgs-consumer: info: stats: " in l]
        stats = stats[-1] if stats else ""
        self.out.say(self.summary)
        stats = after(stats, "stats: ")
        self.stats = after(stats, " msg/s, ")
        self.out.say("consumer: " + self.stats)
        done_n = self.consumed_now(r)
        if done_n != produced:
            self.die("the consumer stored offsets for %d messages, %d were produced"
                     % (done_n, produced))
        m = re.match(r"processed (\d+) messages", self.summary)
        n_processed = int(m.group(1)) if m else 0
        if n_processed != produced:
            self.die("the consumer processed %s messages, %d were produced"
                     % (m.group(1) if m else "", produced))

    # ---- 6. Spot check ------------------------------------------------------

    def expect_items(self):
        """("D", unit, doc) for the first sent number of each unit and ("G",
        unit, kind, prefix, year, serial) for a number the generator left out."""
        e = self.expect
        docs = e.get("doc_nos", {})
        for unit, nos in docs.items():
            if nos:
                yield ("D", unit, nos[0])
        for unit, gaps in e.get("gaps", {}).items():
            for g in gaps:
                lic = g["kind"] == "license"
                same = [d for d in docs.get(unit, []) if d.split("〔")[0].endswith("许") == lic]
                if same and g["missing"]:
                    yield ("G", unit, g["kind"], same[0].split("〔")[0], "%s" % g["year"],
                           "%s" % g["missing"][0])

    def spot_check(self):
        """A few reported decisions (written with other bracket styles), and
        decisions never reported (numbers the generator left out) -> concealed."""
        a = self.a
        rows = ["unit_id\tkind\tdoc_no",
                "# built by scripts/demo.sh from the generator expectation"]
        d = g = 0
        for it in self.expect_items():
            if it[0] == "D" and d < 4:
                unit, doc = it[1], it[2]
                pre = before(doc, "〔")
                rest = after(doc, "〔")
                year = before(rest, "〕")
                serial = after(rest, "〕")
                if serial.endswith("号"):
                    serial = serial[:-1]
                lic = pre.endswith("许")
                kind = "license" if lic else "penalty"
                if d == 0:
                    rows.append("%s\t%s\t%s[%s]%s号" % (unit, kind, pre, year, serial))
                elif d == 1:
                    rows.append("%s\t%s\t%s（%s）%s号" % (
                        unit_field(self.units_file, unit, 2), "行政许可" if lic else "行政处罚",
                        pre, year, serial))
                elif d == 2:
                    alias = before(unit_field(self.units_file, unit, 4), ",")
                    rows.append("%s\t%s\t%s(%s)第0%s号" % (alias or unit, "许可" if lic else "处罚",
                                                        pre, year, serial))
                else:
                    rows.append("%s\t%s\t%s〔%s〕%s号" % (unit, kind, pre, year, fullwidth(serial)))
                d += 1
            elif it[0] == "G" and g < 2:
                rows.append("%s\t%s\t%s〔%s〕%s号" % it[1:])
                g += 1
        sample = os.path.join(self.tmp, "sample.tsv")
        with open(sample, "w", encoding="utf-8") as f:
            f.write("".join(r + "\n" for r in rows))
        self.want_found, self.want_concealed = d, g
        self.out.say("spot check of %d decisions (%d reported, %d never reported)"
                     % (d + g, d, g))
        res_path = os.path.join(self.tmp, "spot-check.json")
        log = os.path.join(self.tmp, "spot-check.log")
        with open(res_path, "wb") as o, open(log, "wb") as e:
            rc = subprocess.run([self.prog("sgs-aggregator"), "-c", self.conf, "spot-check",
                                 "--month", a.month, "--sample", sample],
                                stdin=subprocess.DEVNULL, stdout=o, stderr=e).returncode
        if rc != 0:
            self.out.show_tail(log)
            self.show_sample(rows)
            self.die("sgs-aggregator spot-check failed")
        try:
            with open(res_path, encoding="utf-8") as f:
                res = json.load(f)
            self.spot = (res["sampled"], res["found"], res["concealed"])
            items = "; ".join("%s %s" % (i["unit_name"], i["doc_no"]) for i in res["items"])
        except (OSError, ValueError, KeyError, TypeError):
            self.die("cannot read %s" % res_path)
        self.out.say("spot check: %s sampled, %s found, %s concealed: %s"
                     % (self.spot + (items or "none",)))
        if self.spot[1] != d or self.spot[2] != g:
            self.show_sample(rows)
            self.die("spot check: expected %d found and %d concealed" % (d, g))

    def show_sample(self, rows):
        self.out.endline()
        for r in rows:
            self.out.err("  | " + r)

    # ---- 7. Snapshot ----------------------------------------------------------

    def snapshot(self):
        a = self.a
        self.out.say("snapshot of %s (sgs-aggregator snapshot, dated %s)" % (a.month, a.now))
        out_path = os.path.join(self.tmp, "snapshot.out")
        log = os.path.join(self.tmp, "snapshot.log")
        env = dict(os.environ, SGS_NOW=a.now)
        # --final: the generated month is complete, and the notice is dated
        # a.now (by default the 5th of the next month, which may lie within
        # report.grace_workdays: without --final that would be a preview)
        with open(out_path, "wb") as o, open(log, "wb") as e:
            rc = subprocess.run([self.prog("sgs-aggregator"), "-c", self.conf, "-X",
                                 "kafka.message.timeout.ms=60000", "-X",
                                 "report.publish_timeout_s=60", "snapshot", "--month", a.month,
                                 "--final", "--out", self.outdir], env=env,
                                stdin=subprocess.DEVNULL, stdout=o, stderr=e).returncode
        if rc != 0:
            self.out.show_tail(log)
            self.die("sgs-aggregator snapshot failed")
        with open(out_path, encoding="utf-8", errors="replace") as f:
            self.out.say(f.read().rstrip("\n"))
        self.snap_path = os.path.join(self.outdir, a.month + ".json")
        self.notice = os.path.join(self.outdir, a.month + "-notice.md")
        for p in (self.snap_path, self.notice):
            if not (os.path.isfile(p) and os.path.getsize(p) > 0):
                self.die("the snapshot did not write %s and %s" % (self.snap_path, self.notice))

    # ---- 8. The counts against the generator's expectation --------------------

    def count_check(self):
        bad = []
        # the consumer's final stats line
        for stat, key in (("messages", "messages"), ("rejects", "rejects"),
                          ("late", "late_alerts"), ("unattributed", "unattributed")):
            got = re.findall(r" %s (\d+)" % stat, " " + self.stats)
            want = self.expect.get(key)
            if got and isinstance(want, int) and not isinstance(want, bool) \
                    and int(got[-1]) != want:
                bad.append("consumer %s: %s, expected %d" % (stat, got[-1], want))
        # the snapshot, unit by unit
        exp = self.expect
        with open(self.snap_path, encoding="utf-8") as f:
            snap = json.load(f)
        units = {u["unit_id"]: u for u in snap["units"]}
        for uid, want in exp["units"].items():
            got = units.get(uid)
            if got is None:
                bad.append("%s: not in the snapshot" % uid)
                continue
            for f in ("records", "late", "invalid", "duplicates", "licenses", "penalties"):
                if got.get(f) != want[f]:
                    bad.append("%s %s: snapshot %s, expected %s" % (uid, f, got.get(f), want[f]))
        for uid, got in units.items():
            if uid not in exp["units"] and got["records"]:
                bad.append("%s: %d records, none expected" % (uid, got["records"]))
        t = snap["totals"]
        if t["unattributed"] != exp["unattributed"]:
            bad.append("unattributed: snapshot %s, expected %s"
                       % (t["unattributed"], exp["unattributed"]))
        if t["concealed"] != self.want_concealed:
            bad.append("concealed: snapshot %s, expected %s" % (t["concealed"],
                                                                 self.want_concealed))
        if bad:
            self.out.endline()
            for line in bad[:40]:
                self.out.err("  " + line)
            self.die("the counts do NOT match the generator's expectation")

    # ---- 9. Results -------------------------------------------------------------

    def results(self):
        a = self.a
        w = sys.stdout
        w.write("\n")
        w.flush()
        with open(self.notice, "rb") as f:
            sys.stdout.buffer.write(f.read())
        sys.stdout.buffer.flush()
        w.write("\n== files written to %s\n" % self.outdir)
        w.flush()
        # every report file of the month: JSON, CSVs, notice, ledger, workbook, page
        files = sorted(os.path.basename(p) for p in glob.glob(
            os.path.join(glob.escape(self.outdir), a.month + "[.-]*")))
        ls = subprocess.run(["ls", "-l", "--"] + files, cwd=self.outdir, stdin=subprocess.DEVNULL,
                            capture_output=True)
        sys.stderr.buffer.write(ls.stderr)
        sys.stdout.buffer.write(b"".join(b"  " + l + b"\n" for l in ls.stdout.splitlines()))
        sys.stdout.buffer.flush()
        w.write("\n== %d messages: %s\n" % (self.produced, self.summary))
        w.write("== counts match the generator's expectation (per unit: records, late, invalid, "
                "duplicates, licences, penalties; unattributed; concealed %d)\n"
                % self.want_concealed)
        w.write("== spot check: %s sampled, %s found, %s concealed\n" % self.spot)
        w.write("== the notice: %s\n" % self.notice)
        w.flush()

    # ---- 10. The console ----------------------------------------------------------

    def console(self):
        """sgs-aggregator serve on 127.0.0.1 (the port of --console-port, else
        8080 when free, else any free one), its live "today" the last day of the
        month so the live table shows the generated month."""
        a = self.a
        port = a.console_port
        if not port:
            port = 8080
            try:
                http_request(port, "GET", "/", timeout=1)
                port = free_port()  # something answers on 8080 already
            except OSError:
                pass
        y, m = (int(x) for x in a.month.split("-"))
        now = "%s-%02dT20:00:00+08:00" % (a.month, calendar.monthrange(y, m)[1])
        p = spawn([self.prog("sgs-aggregator"), "-c", self.conf, "serve", "--listen",
                   "127.0.0.1:%d" % port], self.tmp, name="sgs-aggregator-serve",
                  env={"SGS_NOW": now})
        self.console_url = "http://127.0.0.1:%d/" % port
        deadline = time.monotonic() + 15
        while True:
            try:
                status, _, body = http_request(port, "GET", "/api/v1/months", timeout=5)
                if status == 200 and a.month in json.loads(body)[0]["month"]:
                    break
            except (OSError, ValueError, IndexError, KeyError):
                pass
            if not p.alive() or time.monotonic() > deadline:
                self.out.show_tail(p.log_path)
                self.die("the console did not answer on %s" % self.console_url)
            time.sleep(0.1)
        self.out.say("sgs-aggregator serve (pid %d): the console at %s (\"today\" is %s)"
                     % (p.pid, self.console_url, now[:10]))
        sys.stdout.write("== the console: %s%s\n" % (
            self.console_url, "" if a.keep == "1" else "  (stopped at the end; KEEP=1 keeps it "
                                                       "running)"))
        sys.stdout.flush()

    def keep_running(self):
        """KEEP=1: a consumer keeps reading (new records show up live in the
        console) until Ctrl-C."""
        p = spawn([self.prog("sgs-consumer"), "-c", self.conf], self.tmp, name="sgs-consumer")
        self.out.say("KEEP=1: the console stays at %s with Redis, the broker at %s and "
                     "sgs-consumer (pid %d) running; Ctrl-C stops everything"
                     % (self.console_url, self.bootstrap, p.pid))
        while p.alive():
            time.sleep(0.5)
        self.out.show_tail(p.log_path)
        self.die("sgs-consumer stopped")

    # ---- the run ------------------------------------------------------------------

    def run(self):
        a = self.a
        self.t_pipeline = time.time_ns()
        base = os.environ.get("TMPDIR") or "/tmp"
        self.tmp = tempfile.mkdtemp(prefix="sgs-demo.", dir=base)
        try:
            os.makedirs(a.out, exist_ok=True)
        except OSError:
            self.die("cannot create OUT=%s" % a.out)
        self.outdir = os.path.abspath(a.out)
        self.out.say("month %s, seed %s; temporary directory %s" % (a.month, a.seed, self.tmp))
        with self.scope.active():
            self.start_redis()
            if self.mode == "mock":
                self.start_mock()
            elif self.mode == "apache":
                self.start_apache()
            else:
                self.bootstrap = os.environ["SGS_KAFKA_BOOTSTRAP_SERVERS"]
                self.out.say("existing Kafka cluster at %s" % self.bootstrap)
            self.write_config()
            if self.mode == "existing":
                self.seed_offsets()
            self.generate()
            self.consume()
            self.spot_check()
            self.snapshot()
            self.count_check()
            self.results()
            self.console()
        self.finished = True  # cleanup prints the time taken once everything is stopped
        if a.keep == "1":
            with self.scope.active():
                self.keep_running()

    def cleanup(self, rc):
        """Stops everything started (the last first), removes or keeps the
        temporary directory, and on success prints the time taken."""
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_DFL)
        self.out.endline()
        with_kill = []

        def on_kill(p, limit):
            with_kill.append(p)
            self.out.err("sgs demo: %s (pid %d) ignored SIGTERM for %d s; killing it"
                         % (p.name, p.pid, limit))
        for p in reversed(list(self.scope.procs)):
            p.stop(timeout=20 if p.name == "kafka" else 10, on_kill=on_kill)
        self.scope.close()
        if self.tmp and os.path.isdir(self.tmp):
            if self.a.keep == "1":
                self.out.err("sgs demo: kept the temporary directory %s" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        if rc not in (0, 130, 143) and self.a.keep != "1" and self.tmp:
            self.out.err("sgs demo: (run again with KEEP=1 to keep the logs)")
        if rc == 0 and self.finished:
            t_end = time.time_ns()
            sys.stdout.write("== done in %s s (pipeline %s s with Kafka: %s), everything "
                             "started is stopped\n"
                             % (secs(self.t_start, t_end), secs(self.t_pipeline, t_end),
                                self.mode))
            sys.stdout.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m sgstest.demo",
                                 description="scripts/demo.sh's pipeline (run the script)")
    ap.add_argument("--month", required=True)
    ap.add_argument("--seed", required=True)
    ap.add_argument("--mode", required=True, choices=("mock", "apache", "existing"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--keep", default="0")
    ap.add_argument("--now", required=True, help="SGS_NOW of the snapshot")
    ap.add_argument("--build", required=True)
    ap.add_argument("--consumer-timeout", type=int, default=300)
    ap.add_argument("--console-port", type=int, default=0,
                    help="the console's port (default 8080, or a free one when taken)")
    ap.add_argument("--t-start", type=int, default=None,
                    help="time_ns() when the demo started (before set-up and build)")
    a = ap.parse_args(argv)
    if a.t_start is None:
        a.t_start = time.time_ns()
    demo = Demo(a)

    def on_signal(signum, frame):
        name = "INT" if signum == signal.SIGINT else "TERM"
        raise Interrupted(name, 130 if signum == signal.SIGINT else 143)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    rc = 1
    try:
        demo.run()
        rc = 0
    except Failure as e:
        demo.out.endline()
        demo.out.err("sgs demo: FAILED: %s" % e)
    except Interrupted as e:
        demo.out.endline()
        demo.out.err("sgs demo: interrupted (%s); stopping what was started" % e.name)
        # KEEP=1 ends with Ctrl-C once everything ran: that is success
        rc = 0 if demo.finished and a.keep == "1" else e.status
    except Exception as e:  # a bug here or an unexpected error: still clean up
        demo.out.endline()
        demo.out.err("sgs demo: FAILED: %s: %s" % (type(e).__name__, e))
    finally:
        try:
            demo.cleanup(rc)
        except Interrupted:
            pass
    return rc


if __name__ == "__main__":
    sys.exit(main())

"""Kafka for tests, benchmarks and the demo: the real Apache Kafka broker
(KRaft, one node, jars from scripts/kafka-jars.sh; KafkaCluster: three of
them in one quorum, replication factor 3), librdkafka's mock cluster (the
sgs-devbroker program), and small clients (produce, consume_all).

Environment:
  SGS_KAFKA       "mock" forces sgs-devbroker, "apache" forces the real broker
                  (failure to start it is then an error); unset: the real
                  broker if it can be provisioned and started, else a loud
                  SKIPPED line and the mock (kafka_broker())
  SGS_KAFKA_JARS  a directory of Kafka broker jars to use instead of running
                  scripts/kafka-jars.sh
  SGS_KAFKA_HEAP  JVM heap options for the single broker (default "-Xms128m
                  -Xmx768m"; a KafkaCluster's nodes take its `heap` argument)
(All three are in the C programs' table of tool variables.)
"""

import base64
import concurrent.futures
import glob
import inspect
import json
import os
import re
import select
import shutil
import socket
import subprocess
import threading
import time
import zipfile

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from .env import build_path, source_path
from .procs import Proc, current_scope, free_port, new_log_path, run, say, tail, wait_until

# Messages from kafka_broker() about a fallback to the mock, for the pytest
# plugin's summary (they are also printed on stdout when they happen).
fallback_notes = []


class BrokerUnavailable(Exception):
    """The real Kafka broker could not be provisioned or started."""


class MockError(Exception):
    """sgs-devbroker answered a command with `error: ...`."""


_jars_cache = {}


def kafka_jars(show_progress=False):
    """Directory of broker jars: $SGS_KAFKA_JARS, else what
    scripts/kafka-jars.sh provisions (downloads once, then cached; its
    messages go to our stderr with show_progress). Raises BrokerUnavailable
    saying why not."""
    if "dir" in _jars_cache:
        return _jars_cache["dir"]
    d = os.environ.get("SGS_KAFKA_JARS")
    if not d:
        script = source_path("scripts", "kafka-jars.sh")
        if shutil.which("java") is None:
            raise BrokerUnavailable("java not found")
        try:
            r = subprocess.run(["bash", script], stdout=subprocess.PIPE, text=True, timeout=900,
                               stdin=subprocess.DEVNULL,
                               stderr=None if show_progress else subprocess.PIPE)
        except subprocess.TimeoutExpired:
            raise BrokerUnavailable("scripts/kafka-jars.sh took more than 900 s")
        if r.returncode != 0:
            why = ((r.stderr or "").strip().splitlines()
                   or ["exit status %d" % r.returncode])[-1]
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


# The command-line tools of a Kafka distribution (bin/kafka-*.sh) are Java
# main classes; the first class found in the jars is used. The cached jars are
# the broker's (tools/kafka/pom.xml): they hold kafka-configs and
# kafka-storage, but not the org.apache.kafka:kafka-tools jar of
# kafka-topics / kafka-consumer-groups (add it to the POM to get those; for
# adding partitions, KafkaBroker.add_partitions does what
# `kafka-topics --alter --partitions N` does, through the admin API).
KAFKA_TOOLS = {
    "kafka-topics": ["org.apache.kafka.tools.TopicCommand", "kafka.admin.TopicCommand"],
    "kafka-configs": ["kafka.admin.ConfigCommand", "org.apache.kafka.tools.ConfigCommand"],
    "kafka-consumer-groups": ["org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                              "kafka.admin.ConsumerGroupCommand"],
    "kafka-metadata-quorum": ["org.apache.kafka.tools.MetadataQuorumCommand"],
    "kafka-storage": ["kafka.tools.StorageTool"],
}
_NO_BOOTSTRAP = {"kafka-storage"}
_classes_cache = {}


def _jar_classes(jars):
    """Every class name in the jars of a directory (cached)."""
    if jars not in _classes_cache:
        names = set()
        for jar in glob.glob(os.path.join(jars, "*.jar")):
            try:
                with zipfile.ZipFile(jar) as z:
                    names.update(n[:-6].replace("/", ".") for n in z.namelist()
                                 if n.endswith(".class"))
            except (OSError, zipfile.BadZipFile):
                pass
        _classes_cache[jars] = names
    return _classes_cache[jars]


class _KafkaAdmin:
    """What a single broker and a cluster share: topics, the admin client and
    the command-line tools, against `self.bootstrap` with
    `self.replication_factor` replicas per partition. Needs `jars` and
    `_java(heap)`."""

    replication_factor = 1
    topic_configs = {}

    def create_topics(self, topics, configs=None, timeout=30, exist_ok=False):
        """Creates {name: partitions} (replication_factor replicas, topic
        `configs` such as {"cleanup.policy": "compact"} on top of
        topic_configs) and waits until every partition has a leader."""
        c = dict(self.topic_configs)
        c.update(configs or {})
        create_topics_admin(self.bootstrap, topics, c, timeout, exist_ok,
                            replication_factor=self.replication_factor)

    def admin(self, **conf):
        """A confluent_kafka AdminClient for this broker (cluster)."""
        c = {"bootstrap.servers": self.bootstrap, "log_level": 3}
        c.update(conf)
        return AdminClient(c)

    def add_partitions(self, topic, total, timeout=30):
        """Raises the topic's partition count to `total` (what `kafka-topics
        --alter --topic T --partitions N` does: the CreatePartitions request)
        and waits until every new partition has a leader. Producers and
        consumers see the new partitions at their next metadata refresh."""
        admin = self.admin()
        for name, fut in admin.create_partitions([NewPartitions(topic, int(total))],
                                                 request_timeout=timeout).items():
            try:
                fut.result(timeout)
            except KafkaException as e:
                raise RuntimeError("add partitions to %s: %s" % (name, e.args[0].str()))
        _wait_partitions(admin, {topic: int(total)}, timeout)

    def java_command(self, main_class, *args, heap=("-Xmx256m",)):
        """The command line running a main class of the broker's jars with the
        broker's JVM settings (for tools that KAFKA_TOOLS does not name)."""
        return self._java(list(heap)) + [main_class] + [str(a) for a in args]

    def tool_command(self, tool, *args):
        """The command line of a Kafka tool, e.g. tool_command("kafka-configs",
        "--alter", "--entity-type", "topics", "--entity-name", "t",
        "--add-config", "retention.ms=1000"): `--bootstrap-server` this
        broker (cluster) is added. Raises RuntimeError when the tool's class
        is not in the jars (see KAFKA_TOOLS)."""
        if tool not in KAFKA_TOOLS:
            raise ValueError("unknown Kafka tool %r (known: %s)" % (tool, ", ".join(KAFKA_TOOLS)))
        classes = _jar_classes(self.jars)
        found = [c for c in KAFKA_TOOLS[tool] if c in classes]
        if not found:
            raise RuntimeError("%s: none of %s in %s (the broker's jars; add "
                               "org.apache.kafka:kafka-tools to tools/kafka/pom.xml)"
                               % (tool, KAFKA_TOOLS[tool], self.jars))
        pre = [] if tool in _NO_BOOTSTRAP else ["--bootstrap-server", self.bootstrap]
        return self.java_command(found[0], *(pre + list(args)))

    def run_tool(self, tool, *args, timeout=120, check=True):
        """Runs tool_command(tool, *args) to completion (sgstest.run: output
        captured, RuntimeError on a non-zero exit when check)."""
        return run(self.tool_command(tool, *args), timeout=timeout, check=check)


def _jars_version(jars):
    jar = glob.glob(os.path.join(jars, "kafka_2.13-*.jar"))[0]
    return re.sub(r"^kafka_2\.13-|\.jar$", "", os.path.basename(jar))


class KafkaBroker(_KafkaAdmin):
    """The real Apache Kafka broker: KRaft, one combined broker + controller on
    free 127.0.0.1 ports, data and logs under <tmpdir>/kafka-<port>. Owned by
    the current scope. `properties` are added to (or replace) the test
    settings of server.properties.

    The same class is one node of a KafkaCluster: `node_id`, `ports` (port,
    controller port), `voters` (controller.quorum.voters of every node) and
    `cluster_id` (the same for every node) given, `start=False`, then
    launch() / wait_ready() (a node of a quorum cannot be ready alone).

    Measured here (Kafka 4.1.1, 2 cores, default heap -Xms128m -Xmx768m,
    Serial GC, C1 only): ready 1.7 s after start, 2.5 s including the storage
    format; RSS about 165 MB idle, 190 MB after 100,000 messages in and out.
    (G1 + C2 with -Xms256m: ready 3.0 s, RSS 250 MB.) stop() then start()
    keeps the data (about 2.3 s); kill() then start() too (about 6 s: the
    dead incarnation's broker session must expire first)."""

    kind = "apache"

    def __init__(self, tmpdir, jars=None, ready_timeout=90, properties=None, heap=None,
                 node_id=1, ports=None, voters=None, cluster_id=None, start=True):
        self.jars = jars or kafka_jars()
        self.version = _jars_version(self.jars)
        self.host = "127.0.0.1"
        self.port, self.controller_port = ports or (free_port(), free_port())
        self.node_id = int(node_id)
        self.voters = voters or "%d@%s:%d" % (self.node_id, self.host, self.controller_port)
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
        self._format(cluster_id or _kafka_uuid())
        if start:
            self.start(ready_timeout)

    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def server_log_path(self):
        return os.path.join(self.log_dir, "server.log")

    def _write_properties(self, extra):
        p = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters,
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
        log = self.server_log_path
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

    def _format(self, cluster_id):
        cmd = self._java(["-Xmx256m"]) + [
            "kafka.tools.StorageTool", "format", "-t", cluster_id,
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

    def launch(self):
        """Starts the JVM (again: data kept) without waiting."""
        self.proc = Proc(self._java(self.heap) + ["kafka.Kafka", self.properties_path],
                         os.path.join(self.log_dir, "stdout.log"),
                         name="kafka" if self.voters.count("@") == 1 else "kafka-%d" % self.node_id)
        self.proc.stop_timeout = 20
        # its data goes with the temporary directory: no controlled shutdown
        # when the scope closes (stop() still does one)
        self.proc.kill_on_close = True
        self.proc.extra_logs = [self.server_log_path]
        return self

    def wait_ready(self, timeout=90, ready=None):
        """Until this node answers a metadata request that satisfies
        `ready(metadata)` (default: it lists a broker; a node of a cluster:
        it lists this node, i.e. the node is registered and unfenced)."""
        if ready is None:
            if self.voters.count("@") > 1:
                def ready(md):
                    return self.node_id in md.brokers
            else:
                def ready(md):
                    return bool(md.brokers)
        # Short reconnect backoff: readiness is noticed within 0.1 s.
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0,
                             "socket.connection.setup.timeout.ms": 1000,
                             "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 100})
        deadline = time.monotonic() + timeout
        while True:
            if not self.proc.alive():
                raise BrokerUnavailable(
                    "kafka.Kafka (node %d) exited with status %s: %s"
                    % (self.node_id, self.proc.returncode,
                       (self.proc.tail(5) + "\n" + tail(self.server_log_path, 5)).strip()))
            # A cheap TCP probe first: a metadata request to a port that is
            # not listening yet only fails after its whole timeout.
            if _port_open(self.host, self.port):
                try:
                    if ready(admin.list_topics(timeout=2)):
                        return self
                except KafkaException:
                    pass
            if time.monotonic() > deadline:
                self.proc.kill()
                raise BrokerUnavailable("kafka broker (node %d) not ready after %ss: %s"
                                        % (self.node_id, timeout, tail(self.server_log_path, 5)))
            time.sleep(0.05)

    def start(self, ready_timeout=90):
        """Starts the broker (again: data kept) and waits until it answers a
        metadata request (wait_ready)."""
        t0 = time.monotonic()
        self.launch()
        self.wait_ready(ready_timeout)
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
            with open(self.server_log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


# The settings of a KafkaCluster's nodes on top of KafkaBroker's: every topic
# (internal ones too) with a replica on each node, and acks=all writes that
# need two of them in sync.
def _cluster_properties(nodes, min_insync):
    return {
        "default.replication.factor": str(nodes),
        "min.insync.replicas": str(min_insync),
        "offsets.topic.replication.factor": str(nodes),
        "transaction.state.log.replication.factor": str(nodes),
        "transaction.state.log.min.isr": str(min_insync),
        "share.coordinator.state.topic.replication.factor": str(nodes),
        "share.coordinator.state.topic.min.isr": str(min_insync),
        "num.replica.fetchers": "1",
    }


class KafkaCluster(_KafkaAdmin):
    """`brokers` (3) real Apache Kafka nodes, each a combined broker +
    controller (KafkaBroker) with its own ports and directory under tmpdir,
    one cluster id and a static quorum (controller.quorum.voters=1@..,2@..,
    3@..). Topics made by create_topics() have a replica on every node and
    min.insync.replicas=`min_insync` (2); the offsets and transaction topics
    too. Ready (wait_ready) when the metadata lists every node and every
    partition of every topic has a leader. The nodes belong to the scope that
    is current when the cluster is made, also when restart() runs later from
    another one (a module fixture's cluster outlives a test's scope).

        k = KafkaCluster(tmp)                 # started, ready
        k.create_topics({"t": 6})             # RF 3, min.insync.replicas 2
        victim = k.node(k.leaders("t")[0])    # a KafkaBroker
        k.kill(victim)                        # SIGKILL
        k.restart(victim)                     # same data; ready again
        k.wait_in_sync()                      # every replica back in its ISR

    Measured here (Kafka 4.1.1, 2 cores busy with other jobs, heap -Xms64m
    -Xmx256m each, Serial GC, C1): see docs/PERFORMANCE.md ("Three Kafka
    brokers") for startup and memory; KafkaBroker's notes apply to each
    node."""

    kind = "apache"

    def __init__(self, tmpdir, brokers=3, jars=None, heap="-Xms64m -Xmx256m", properties=None,
                 ready_timeout=180, min_insync=2):
        self.jars = jars or kafka_jars()
        self.version = _jars_version(self.jars)
        self.dir = tmpdir
        self.replication_factor = brokers
        self.min_insync = min_insync
        self.topic_configs = {"min.insync.replicas": str(min_insync)}
        self.scope = current_scope()
        self.startup_seconds = None
        host = "127.0.0.1"
        ports = [(free_port(), free_port()) for _ in range(brokers)]
        voters = ",".join("%d@%s:%d" % (i + 1, host, c) for i, (_, c) in enumerate(ports))
        props = _cluster_properties(brokers, min_insync)
        if self.version.startswith("3."):
            props = {k: v for k, v in props.items() if not k.startswith("share.")}
        props.update({k: str(v) for k, v in (properties or {}).items()})
        cluster_id = _kafka_uuid()
        t0 = time.monotonic()
        # the storage format is a JVM start of its own per node: in parallel
        with concurrent.futures.ThreadPoolExecutor(brokers) as pool:
            futs = [pool.submit(KafkaBroker, tmpdir, jars=self.jars, properties=props,
                                heap=heap, node_id=i + 1, ports=ports[i], voters=voters,
                                cluster_id=cluster_id, start=False)
                    for i in range(brokers)]
            self.nodes = [f.result() for f in futs]
        self.format_seconds = time.monotonic() - t0
        t1 = time.monotonic()
        with self.scope.active():
            for n in self.nodes:
                n.launch()
        self.wait_ready(ready_timeout)
        self.startup_seconds = time.monotonic() - t1

    def __repr__(self):
        return "KafkaCluster(%s)" % self.bootstrap

    @property
    def bootstrap(self):
        """Every node's listener, comma-separated."""
        return ",".join(n.bootstrap for n in self.nodes)

    def _java(self, heap):
        return self.nodes[0]._java(heap)

    def node(self, which):
        """The KafkaBroker of a node id (1..N), or the node itself."""
        if isinstance(which, KafkaBroker):
            return which
        for n in self.nodes:
            if n.node_id == int(which):
                return n
        raise KeyError(which)

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def alive(self):
        return all(n.alive() for n in self.nodes)

    def metadata(self, timeout=5):
        """Cluster metadata (confluent_kafka ClusterMetadata) from a live node."""
        boot = ",".join(n.bootstrap for n in self.live()) or self.bootstrap
        admin = AdminClient({"bootstrap.servers": boot, "log_level": 0,
                             "socket.connection.setup.timeout.ms": 1000,
                             "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200})
        return admin.list_topics(timeout=timeout)

    def _not_ready(self, md, in_sync=False):
        """Why the cluster is not ready (None when it is)."""
        want = {n.node_id for n in self.nodes}
        if set(md.brokers) != want:
            return "brokers %s in the metadata, want %s" % (sorted(md.brokers), sorted(want))
        for name, t in md.topics.items():
            if t.error is not None:
                return "topic %s: %s" % (name, t.error)
            for pid, p in t.partitions.items():
                if p.leader < 0:
                    return "%s [%d] has no leader" % (name, pid)
                if in_sync and set(p.isrs) != set(p.replicas):
                    return "%s [%d]: in sync %s of replicas %s" % (name, pid, sorted(p.isrs),
                                                                   sorted(p.replicas))
        return None

    def wait_ready(self, timeout=120, in_sync=False):
        """Until every node lists itself as a broker, the metadata lists all
        of them and every partition has a leader (with in_sync: and every
        replica is in its partition's ISR)."""
        deadline = time.monotonic() + timeout
        for n in self.nodes:
            n.wait_ready(max(1.0, deadline - time.monotonic()))
        why = "not checked"
        while time.monotonic() < deadline:
            try:
                why = self._not_ready(self.metadata(), in_sync)
            except KafkaException as e:
                why = str(e)
            if why is None:
                return self
            time.sleep(0.1)
        raise BrokerUnavailable("kafka cluster not ready after %ss: %s" % (timeout, why))

    def wait_in_sync(self, timeout=120):
        """wait_ready(in_sync=True): every replica caught up (after a restart,
        before the next node may go without losing min.insync.replicas)."""
        return self.wait_ready(timeout, in_sync=True)

    def leaders(self, topic):
        """{partition: leader node id} of a topic."""
        t = self.metadata().topics[topic]
        return {pid: p.leader for pid, p in t.partitions.items()}

    def coordinator(self, group, timeout=10):
        """The node id of a consumer group's coordinator (None if unknown)."""
        try:
            for g in self.admin().list_groups(group, timeout=timeout):
                if g.id == group and g.broker is not None:
                    return g.broker.id
        except KafkaException:
            pass
        return None

    def kill(self, which):
        """SIGKILL one node (a node id or KafkaBroker): no controlled shutdown."""
        self.node(which).kill()

    def restart(self, which, timeout=120):
        """Starts a stopped or killed node again on its data (a running one is
        SIGKILLed first) and waits until the cluster is ready; returns the
        seconds it took."""
        n = self.node(which)
        if n.alive():
            n.kill()
        t0 = time.monotonic()
        with self.scope.active():
            n.launch()
        self.wait_ready(timeout)
        return time.monotonic() - t0

    def rss_mb(self):
        """{node id: resident MiB} of the running nodes."""
        return {n.node_id: n.rss_mb() for n in self.nodes if n.alive()}

    def server_log(self):
        return "".join("==> node %d\n%s" % (n.node_id, n.server_log()) for n in self.nodes)

    def stop(self, timeout=20):
        """SIGKILLs every node (their data is the test's, thrown away with
        its directory; a controlled shutdown of the last nodes of a quorum
        can wait for a controller that is already gone)."""
        for n in self.nodes:
            n.kill()


def _wait_partitions(admin, topics, timeout):
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


def create_topics_admin(bootstrap, topics, configs, timeout, exist_ok, replication_factor=1):
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    new = [NewTopic(name, num_partitions=int(n), replication_factor=int(replication_factor),
                    config={k: str(v) for k, v in (configs or {}).items()})
           for name, n in topics.items()]
    for name, fut in admin.create_topics(new, request_timeout=timeout).items():
        try:
            fut.result(timeout)
        except KafkaException as e:
            err = e.args[0]
            if not (exist_ok and err.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise RuntimeError("create topic %s: %s" % (name, err.str()))
    _wait_partitions(admin, topics, timeout)


# ---------------------------------------------------------------------------
# librdkafka's mock cluster (sgs-devbroker)

class MockBroker:
    """librdkafka's in-memory mock cluster, run as the sgs-devbroker program
    (owned by the current scope). `brokers` brokers with ids 1..N; `topics`
    {name: partitions} created at start (default: the four sgs topics with
    `partitions` partitions each). Other topics are auto-created with 4
    partitions when first used.
    Limits (librdkafka 2.0.2): about 5 MiB of batches kept per partition, no
    admin API (so no added partitions either), no timestamp lookups, the first
    group join waits 3 s; commits are refused (REBALANCE_IN_PROGRESS) while the
    group rebalances, even from a revoke callback; idempotent retries are not
    deduplicated, so a batch whose response was lost with a dropped
    connection (`_TRANSPORT`) can be stored twice. Error responses store
    nothing."""

    kind = "mock"
    version = "librdkafka-mock"

    def __init__(self, tmpdir, partitions=8, brokers=1, topics=None, exe=None, timeout=15,
                 log_path=None):
        self.exe = exe or build_path("sgs-devbroker")
        self.dir = tmpdir
        cmd = [self.exe, "--brokers", str(brokers), "--partitions", str(partitions)]
        for name, n in (topics or {}).items():
            cmd += ["--topic", "%s:%d" % (name, n)]
        t0 = time.monotonic()
        self.proc = Proc(cmd, log_path or new_log_path(tmpdir, "sgs-devbroker"),
                         name="sgs-devbroker", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.proc.kill_on_close = True  # in memory only: nothing to shut down
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

    def add_partitions(self, topic, total, timeout=30):
        raise MockError("the mock cluster cannot add partitions to %s (no admin API): "
                        "use the real broker (the apache_kafka fixture)" % topic)

    def alive(self):
        return self.proc.alive()

    @property
    def pid(self):
        return self.proc.pid

    def kill(self):
        self.proc.kill()

    def stop(self, timeout=10):
        self.proc.stop(timeout)


def kafka_mode():
    """SGS_KAFKA: "mock", "apache" or "" (real broker if possible)."""
    mode = os.environ.get("SGS_KAFKA", "").strip().lower()
    if mode == "auto":
        mode = ""
    if mode not in ("", "apache", "mock"):
        raise ValueError("SGS_KAFKA=%r: expected mock or apache" % mode)
    return mode


def kafka_broker(tmpdir, partitions=8, **kw):
    """A Kafka to test against: the real broker (KafkaBroker) when it can be
    provisioned and started, else a loud `SKIPPED: real Kafka broker
    unavailable: <why>` line on stdout and a MockBroker. SGS_KAFKA=mock forces
    the mock, SGS_KAFKA=apache forces the real broker (failure raises).
    `partitions` only applies to the mock's default topics; keyword arguments
    go to KafkaBroker. Both have .bootstrap, .kind ("apache"/"mock"),
    .create_topics(), .stop()."""
    mode = kafka_mode()
    if mode == "mock":
        return MockBroker(tmpdir, partitions=partitions)
    try:
        return KafkaBroker(tmpdir, **kw)
    except BrokerUnavailable as e:
        if mode == "apache":
            raise
        why = str(e).replace("\n", " | ")
        line = "SKIPPED: real Kafka broker unavailable: %s" % why
        fallback_notes.append(line)
        say(line)
        return MockBroker(tmpdir, partitions=partitions)


# ---------------------------------------------------------------------------
# Clients

def _b(v):
    if v is None or isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    return str(v).encode("utf-8")


def produce(bootstrap, topic, messages, timeout=60, conf=None, partition=None):
    """Produces messages and waits for every delivery. Each message is a tuple
    (key, value[, timestamp_ms[, partition]]): str is UTF-8 encoded, a None key
    is no key (librdkafka's partitioner then spreads the messages), a None
    timestamp is "now", a None or absent partition lets the partitioner choose
    (by key); `partition` applies to every message that names none.
    Idempotent, lz4-compressed, batched. Raises RuntimeError on any delivery
    error. Returns the number delivered."""
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
        part = m[3] if len(m) > 3 and m[3] is not None else partition
        kw = {"key": _b(key), "value": _b(value), "on_delivery": on_delivery}
        if ts is not None:
            kw["timestamp"] = int(ts)
        if part is not None:
            kw["partition"] = int(part)
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


def rekey(messages, key=None, partition=None):
    """The messages ((key, value, ts) tuples, e.g. from flow.jsonl_messages)
    keyed another way: `key` None drops every key (unkeyed), a string gives
    them all that key, a function maps the old key (or the whole tuple, when it
    takes two arguments: old key, value) to the new one; `partition` (an int,
    or a function of the message index) puts each message on an explicit
    partition. Returns (key, value, ts, partition) tuples for produce()."""
    two = callable(key) and len(inspect.signature(key).parameters) >= 2
    out = []
    for i, m in enumerate(messages):
        old, value = m[0], m[1]
        ts = m[2] if len(m) > 2 else None
        if callable(key):
            k = key(old, value) if two else key(old)
        else:
            k = key
        p = partition(i) if callable(partition) else partition
        out.append((k, value, ts, p))
    return out


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
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sgstest-md", "log_level": 3})
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


def watermarks(bootstrap, topic, timeout=10, conf=None):
    """{partition: (low, high)} of a topic (waits until the topic exists)."""
    parts = topic_partitions(bootstrap, topic, timeout)
    c = {"bootstrap.servers": bootstrap, "group.id": "sgstest-wm", "log_level": 3}
    c.update(conf or {})
    cons = Consumer(c)
    try:
        return {p: cons.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                for p in parts}
    finally:
        cons.close()


def consume_all(bootstrap, topic, timeout=30, conf=None):
    """Every message in `topic` from the beginning up to the high watermarks
    read at the call (no consumer group, nothing committed), ordered by
    partition then offset. A topic that does not exist yet is waited for up
    to `timeout`; raises TimeoutError if the messages cannot all be read."""
    c = {"bootstrap.servers": bootstrap, "group.id": "sgstest-consume-all",
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

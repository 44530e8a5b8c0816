"""Deployment files, checked without a Docker engine (docs/OPERATIONS.md).

Runs scripts/check-deploy.sh (docker-compose config -q, Dockerfile lint), then
reads the resolved compose file (`docker-compose config`, YAML) and asserts the
facts the deployment relies on: the consumer can be scaled (no container_name,
no host ports), the topics are created as the code expects (sgs.snapshots
compacted), Redis persists with AOF, has a maxmemory and never evicts, every
service has a restart policy and every long-running one a health check (the
consumer's and the console's on /healthz; Redis's with its password), the
console is published on loopback only, secrets come from .env (ignored by git
and the image build), start-up order by health/completion, and the image's
paths match the configuration defaults.

Each test makes many independent checks (sgstest.Checks): each prints `ok -
name` / `not ok - name: why`, and the test fails at its end naming every failed
one.
"""
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from sgstest import Checks, env
from sgstest.rediscluster import cluster_ports

SRC = env.SOURCE_DIR
COMPOSE = os.path.join(SRC, "docker-compose.yml")


@pytest.fixture
def check():
    """check(name, cond, why=""): one soft check; all judged at the test's end."""
    checks = Checks()
    yield checks
    checks.done()


def run(cmd, timeout=120):
    try:
        p = subprocess.run(cmd, cwd=SRC, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except FileNotFoundError as e:
        return 127, "", str(e)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout} s"


def conf_defaults():
    """key -> value of configs/sgs.conf."""
    out = {}
    with open(os.path.join(SRC, "configs", "sgs.conf"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip()
    return out


def as_list(cmd):
    """A compose command/test (string or list) as a list of words."""
    if cmd is None:
        return []
    if isinstance(cmd, str):
        return shlex.split(cmd)
    return [str(c) for c in cmd]


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def volumes_of(svc):
    """[(source, target, read_only)] whatever the syntax."""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            out.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
        else:
            parts = str(v).split(":")
            if len(parts) == 1:
                out.append((None, parts[0], False))
            else:
                mode = parts[2] if len(parts) > 2 else "rw"
                out.append((parts[0], parts[1], "ro" in mode.split(",")))
    return out


def depends(svc):
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        return {k: "service_started" for k in d}
    return {k: (v or {}).get("condition", "service_started") for k, v in d.items()}


def init_calls(init):
    """Runs a kafka-init service's script (with its environment) against
    stand-ins for the Kafka tools that log their arguments. Returns (exit
    status, stderr, [argv of each call]), or None when the service is not an
    entrypoint [... -c] with the script as its command."""
    ep = as_list(init.get("entrypoint"))
    cmd = as_list(init.get("command"))
    if not (ep[-2:] == ["-c"] or ep[-1:] == ["-c"]) or not cmd:
        return None
    script = cmd[0].replace("$$", "$")  # compose's escape for a literal $
    with tempfile.TemporaryDirectory() as tmp:
        calls = os.path.join(tmp, "calls")
        for tool in ("kafka-topics.sh", "kafka-configs.sh"):
            path = os.path.join(tmp, tool)
            with open(path, "w") as f:
                f.write(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n')
            os.chmod(path, 0o755)
        script = script.replace("/opt/kafka/bin", tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("INIT_")}
        env.update({k: v for k, v in env_of(init).items() if v is not None})
        try:
            p = subprocess.run(["bash", "-c", script], cwd=SRC, capture_output=True, text=True,
                               timeout=30, env=env)
        except subprocess.TimeoutExpired:
            return 124, "timed out", []
        made = []
        if os.path.exists(calls):
            with open(calls) as f:
                made = [ln.split() for ln in f]
        return p.returncode, p.stderr, made


def create_call(made, topic):
    for c in made:
        if c[0] == "kafka-topics.sh" and "--create" in c and topic in c:
            return c
    return None


def option(call, name):
    """The value after `name` in a call (None if absent)."""
    call = call or []
    for a, b in zip(call, call[1:]):
        if a == name:
            return b
    return None


def run_init_script(check, init, cfg):
    """Runs kafka-init's script with stand-ins for the Kafka tools that log their
    arguments: the script must finish with status 0 and make the expected calls."""
    got = init_calls(init)
    if got is None:
        check("kafka-init script runs against stand-in Kafka tools", False,
              f"expected entrypoint [... -c] and the script as command, got "
              f"{init.get('entrypoint')} {as_list(init.get('command'))[:1]}")
        return
    rc, err, made = got
    if not check("kafka-init script runs against stand-in Kafka tools", rc == 0,
                 f"exit {rc}: {err.strip()}"):
        return

    for key in ("topic.records", "topic.alerts", "topic.rejects", "topic.snapshots"):
        topic = cfg.get(key, "")
        c = create_call(made, topic)
        check(f"kafka-init run: creates {topic} with --if-not-exists",
              c and "--if-not-exists" in c and "--bootstrap-server" in c, f"calls: {made}")
    c = create_call(made, cfg.get("topic.snapshots", "sgs.snapshots")) or []
    check("kafka-init run: snapshots created with --config cleanup.policy=compact",
          any(a == "--config" and b == "cleanup.policy=compact" for a, b in zip(c, c[1:])),
          f"call: {c}")
    c = create_call(made, cfg.get("topic.records", "sgs.records")) or []
    check("kafka-init run: records created with --partitions 12",
          any(a == "--partitions" and b == "12" for a, b in zip(c, c[1:])), f"call: {c}")
    creates = [c for c in made if "--create" in c]
    check("kafka-init run: one replica per partition on the one node, no min.insync.replicas",
          creates and all(option(c, "--replication-factor") == "1"
                          and not any(a.startswith("min.insync") for a in c) for c in creates)
          and all(option(c, "--bootstrap-server") == "kafka:9092" for c in made),
          f"calls: {creates}")


def run_redis_command(check, redis):
    """Starts the local redis-server with the compose service's arguments (on a
    free loopback port, in a temporary directory) and reads the settings back."""
    cmd = as_list(redis.get("command"))
    server = shutil.which("redis-server")
    cli = shutil.which("redis-cli")
    name = "redis: the compose command's arguments are accepted by redis-server"
    if not check("redis: the command runs redis-server", cmd[:1] == ["redis-server"],
                 f"command {cmd}"):
        return
    if not server or not cli:
        check(name + " # SKIP redis-server not installed here", True)
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        argv = [server] + cmd[1:] + ["--port", str(port), "--bind", "127.0.0.1",
                                     "--dir", tmp, "--save", ""]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            got = {}
            for _ in range(100):
                if proc.poll() is not None:
                    break
                rc, out, _err = run([cli, "-p", str(port), "ping"], timeout=5)
                if rc == 0 and out.strip() == "PONG":
                    for key in ("appendonly", "appendfsync", "maxmemory-policy", "maxmemory"):
                        rc, out, _err = run([cli, "-p", str(port), "config", "get", key], timeout=5)
                        words = out.split()
                        got[key] = words[1] if len(words) > 1 else None
                    break
                time.sleep(0.05)
            if not check(name, got, f"redis-server did not start: "
                         f"{proc.stderr.read() if proc.poll() is not None else 'no PONG'}"):
                return
            check("redis: running with appendonly yes, noeviction",
                  got.get("appendonly") == "yes" and got.get("maxmemory-policy") == "noeviction"
                  and got.get("appendfsync") in ("everysec", "always"), f"CONFIG GET: {got}")
            check("redis: running with a maxmemory (noeviction alone refuses nothing)",
                  int(got.get("maxmemory") or 0) > 0, f"CONFIG GET: {got}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_redis_healthcheck(check, redis):
    """Runs Redis's health-check command against a local redis-server that
    requires a password: it passes with SGS_REDIS_PASSWORD set and fails
    without (so it really authenticates)."""
    test = as_list((redis.get("healthcheck") or {}).get("test"))
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if test[:1] != ["CMD-SHELL"] or not server or not cli:
        check("redis: health check runs with a password # SKIP " +
              ("not a CMD-SHELL check" if server else "redis-server not installed"), True)
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp,
                                 "--save", "", "--requirepass", "pa ss'w\"rd"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if run([cli, "-p", str(port), "--no-auth-warning", "-a", "pa ss'w\"rd", "ping"],
                       timeout=5)[1].strip() == "PONG":
                    break
                time.sleep(0.05)
            # the container's redis-cli talks to 6379; here to the test's port
            wrap = os.path.join(tmp, "bin")
            os.makedirs(wrap)
            with open(os.path.join(wrap, "redis-cli"), "w") as f:
                f.write('#!/bin/sh\nexec %s -p %d "$@"\n' % (cli, port))
            os.chmod(os.path.join(wrap, "redis-cli"), 0o755)
            script = test[1].replace("$$", "$")

            def hc(password):
                env = dict(os.environ, SGS_REDIS_PASSWORD=password,
                           PATH=wrap + os.pathsep + os.environ.get("PATH", ""))
                return subprocess.run(["sh", "-c", script], env=env, capture_output=True,
                                      timeout=10).returncode
            check("redis: the health check passes with the password", hc("pa ss'w\"rd") == 0, "")
            check("redis: the health check fails without it", hc("") != 0, "")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_check_deploy_sh(check):
    """1. The shell checks (compose validation, Dockerfile lint)."""
    rc, out, err = run(["bash", os.path.join(SRC, "scripts", "check-deploy.sh")])
    fails = [ln for ln in (out + err).splitlines() if "FAIL" in ln or "not found" in ln]
    check("scripts/check-deploy.sh passes", rc == 0,
          f"exit {rc}: " + (" | ".join(fails) or (err.strip().splitlines() or ["?"])[-1]))


def test_compose_file(check):
    """2. The resolved compose file (docker-compose config), and the Dockerfile's
    paths against the configuration defaults."""
    try:
        import yaml
    except ImportError:
        check("python3-yaml available to read docker-compose config", False,
              "install python3-yaml (a dependency of docker-compose)")
        return
    rc, out, err = run(["docker-compose", "-f", COMPOSE, "config"])
    if not check("docker-compose config resolves the file", rc == 0, err.strip()):
        return
    doc = yaml.safe_load(out)
    services = doc.get("services") or {}
    check("services kafka, kafka-init, redis, consumer, aggregator, console",
          {"kafka", "kafka-init", "redis", "consumer", "aggregator", "console"} <= set(services),
          f"have {sorted(services)}")
    kafka = services.get("kafka", {})
    init = services.get("kafka-init", {})
    redis = services.get("redis", {})
    consumer = services.get("consumer", {})
    aggregator = services.get("aggregator", {})
    console = services.get("console", {})
    cfg = conf_defaults()

    # Scaling: docker-compose up --scale consumer=N needs both.
    check("consumer has no container_name", "container_name" not in consumer,
          f"container_name: {consumer.get('container_name')}")
    check("consumer publishes no host ports", not consumer.get("ports"),
          f"ports: {consumer.get('ports')}")
    check("consumer and aggregator run one image built from the Dockerfile",
          consumer.get("image") and consumer.get("image") == aggregator.get("image")
          and consumer.get("build") and aggregator.get("build"),
          f"consumer {consumer.get('image')}/{consumer.get('build')}, "
          f"aggregator {aggregator.get('image')}/{aggregator.get('build')}")

    # Kafka: pinned official image, KRaft, data on a volume.
    kimg = kafka.get("image", "")
    check("kafka: pinned apache/kafka image", re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", kimg),
          f"image {kimg!r}")
    kenv = env_of(kafka)
    check("kafka: KRaft combined node",
          kenv.get("KAFKA_PROCESS_ROLES", "").replace(" ", "") in ("broker,controller", "controller,broker")
          and kenv.get("KAFKA_CONTROLLER_QUORUM_VOTERS") and kenv.get("KAFKA_NODE_ID"),
          f"KAFKA_PROCESS_ROLES={kenv.get('KAFKA_PROCESS_ROLES')}")
    check("kafka: offsets topic replication factor 1 on one node",
          kenv.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR") == "1",
          f"{kenv.get('KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR')}")
    logdir = kenv.get("KAFKA_LOG_DIRS", "")
    check("kafka: log.dirs is a volume", any(t == logdir and s for s, t, _ in volumes_of(kafka)),
          f"KAFKA_LOG_DIRS={logdir}, volumes {volumes_of(kafka)}")
    check("kafka-init runs the same Kafka image", init.get("image") == kimg,
          f"{init.get('image')} vs {kimg}")

    # Topics as the configuration names them.
    script = "\n".join(as_list(init.get("entrypoint")) + as_list(init.get("command")))
    script = script.replace("\\\n", " ")
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("#")]

    def creation(topic):
        for ln in lines:
            if re.search(r"(^|\s)(create|--create)\b", ln) and re.search(
                    r"(\s|^)" + re.escape(topic) + r"(\s|$)", ln):
                return ln
        # the helper form: create TOPIC ...
        for ln in lines:
            if re.match(r"\s*create\s+" + re.escape(topic) + r"(\s|$)", ln):
                return ln
        return None

    for key in ("topic.records", "topic.alerts", "topic.rejects", "topic.snapshots"):
        topic = cfg.get(key, "")
        check(f"kafka-init creates {key} = {topic}", topic and creation(topic),
              "no creation line for it in kafka-init's command")
    snap = creation(cfg.get("topic.snapshots", "sgs.snapshots")) or ""
    check("snapshots topic is created compacted", "cleanup.policy=compact" in snap,
          f"creation line: {snap.strip()!r}")
    rec = creation(cfg.get("topic.records", "sgs.records")) or ""
    m = re.search(r"--partitions[ =](\d+)", rec)
    check("records topic has 12 partitions", m and int(m.group(1)) == 12,
          f"creation line: {rec.strip()!r}")
    check("topic creation is idempotent (--if-not-exists)", "--if-not-exists" in script,
          "kafka-init would fail on its second run")
    check("kafka-init never alters partitions",
          not re.search(r"--alter\b[^\n]*--partitions|--partitions[^\n]*--alter\b", script),
          "adding partitions moves units between partitions (docs/OPERATIONS.md)")
    run_init_script(check, init, cfg)

    # Redis: AOF, no eviction, data on a volume.
    rcmd = as_list(redis.get("command"))
    joined = " ".join(rcmd)
    check("redis: redis 7 image", re.fullmatch(r"redis:7(\.\d+)*(-[a-z0-9.]+)?", redis.get("image", "")),
          f"image {redis.get('image')!r}")
    check("redis: appendonly yes", re.search(r"--appendonly\s+yes\b", joined), f"command: {joined}")
    check("redis: appendfsync everysec or always",
          re.search(r"--appendfsync\s+(everysec|always)\b", joined), f"command: {joined}")
    check("redis: maxmemory-policy noeviction (offsets and seen keys must never be evicted)",
          re.search(r"--maxmemory-policy\s+noeviction\b", joined), f"command: {joined}")
    check("redis: /data is a volume", any(t == "/data" and s for s, t, _ in volumes_of(redis)),
          f"volumes {volumes_of(redis)}")
    check("redis: a maxmemory", re.search(r"--maxmemory\s+\d+[kmg]?b?\b", joined),
          f"command: {joined}")
    check("redis: requirepass from the environment (.env)", "--requirepass" in rcmd,
          f"command: {joined}")
    rhc = " ".join(as_list((redis.get("healthcheck") or {}).get("test")))
    check("redis: the health check authenticates when a password is set",
          "REDISCLI_AUTH" in rhc and "SGS_REDIS_PASSWORD" in rhc, f"healthcheck: {rhc}")
    with open(COMPOSE, encoding="utf-8") as f:
        raw = f.read()
    check("secrets are ${...} from .env, not written in the file",
          "${SGS_REDIS_PASSWORD" in raw and "${SGS_HTTP_TOKEN" in raw, "")
    for ignore in (".gitignore", ".dockerignore"):
        with open(os.path.join(SRC, ignore), encoding="utf-8") as f:
            lines = [ln.strip() for ln in f]
        check(f"{ignore} ignores .env", ".env" in lines, f"{ignore}: {lines}")
    check(".env.example documents the variables",
          os.path.exists(os.path.join(SRC, ".env.example")), "missing .env.example")

    # Health checks on /healthz; the console on loopback only; the consumer's
    # metrics port on the compose network.
    for name, svc, port in (("consumer", consumer, "9464"), ("console", console, "8080")):
        test = " ".join(as_list((svc.get("healthcheck") or {}).get("test")))
        check(f"{name}: health check on /healthz (port {port})",
              f"127.0.0.1:{port}/healthz" in test, f"healthcheck: {test}")
    cenv = env_of(consumer)
    check("consumer: metrics.listen on 0.0.0.0:9464 (SGS_METRICS_LISTEN), exposed",
          cenv.get("SGS_METRICS_LISTEN") == "0.0.0.0:9464"
          and "9464" in [str(x).split("/")[0] for x in consumer.get("expose") or []],
          f"env {cenv.get('SGS_METRICS_LISTEN')}, expose {consumer.get('expose')}")
    ccmd = as_list(console.get("command"))
    check("console: runs sgs-aggregator serve on 0.0.0.0:8080 in the container",
          ccmd[:1] == ["sgs-aggregator"] and "serve" in ccmd and "0.0.0.0:8080" in ccmd,
          f"command {ccmd}")
    ports = [str(p) for p in console.get("ports") or []]
    check("console: published on the host's loopback only",
          ports and all(p.startswith("127.0.0.1:") for p in ports), f"ports {ports}")
    check("console: the token from .env (SGS_HTTP_TOKEN)", "SGS_HTTP_TOKEN" in env_of(console),
          f"env {sorted(env_of(console))}")
    check("console: same image", console.get("image") == consumer.get("image"),
          f"{console.get('image')}")

    run_redis_command(check, redis)
    run_redis_healthcheck(check, redis)

    # Restart policies and health checks.
    for name, svc in sorted(services.items()):
        check(f"{name}: restart policy", svc.get("restart") not in (None, ""),
              "no restart: key")
        one_shot = str(svc.get("restart")) == "no"
        if one_shot:
            continue
        hc = svc.get("healthcheck") or {}
        check(f"{name}: long-running, has a healthcheck",
              as_list(hc.get("test")) and not hc.get("disable"), f"healthcheck: {hc}")
        check(f"{name}: restart unless-stopped", svc.get("restart") == "unless-stopped",
              f"restart: {svc.get('restart')}")

    # Start-up order.
    check("kafka-init waits for a healthy kafka",
          depends(init).get("kafka") == "service_healthy", f"depends_on: {depends(init)}")
    for name, svc in (("consumer", consumer), ("aggregator", aggregator)):
        d = depends(svc)
        check(f"{name} waits for kafka-init to complete and redis to be healthy",
              d.get("kafka-init") == "service_completed_successfully"
              and d.get("redis") == "service_healthy", f"depends_on: {d}")
    check("console waits for redis to be healthy (it needs no Kafka)",
          depends(console).get("redis") == "service_healthy", f"depends_on: {depends(console)}")

    # The sgs services: environment, configuration, commands.
    listeners = kenv.get("KAFKA_ADVERTISED_LISTENERS", "")
    for name, svc in (("consumer", consumer), ("aggregator", aggregator), ("console", console)):
        env = env_of(svc)
        bs = env.get("SGS_KAFKA_BOOTSTRAP_SERVERS", "")
        check(f"{name}: SGS_KAFKA_BOOTSTRAP_SERVERS is an advertised listener",
              bs and all(("//" + b) in listeners for b in bs.split(",")),
              f"{bs!r} not in {listeners!r}")
        check(f"{name}: SGS_REDIS_HOST=redis", env.get("SGS_REDIS_HOST") == "redis",
              f"{env.get('SGS_REDIS_HOST')!r}")
        vols = volumes_of(svc)
        check(f"{name}: ./configs mounted read-only on /etc/sgs",
              any(s and os.path.basename(s.rstrip("/")) == "configs" and t == "/etc/sgs" and ro
                  for s, t, ro in vols), f"volumes {vols}")
        cmd = as_list(svc.get("command"))
        check(f"{name}: runs with -c /etc/sgs/sgs.conf",
              "-c" in cmd and cmd[cmd.index("-c") + 1:cmd.index("-c") + 2] == ["/etc/sgs/sgs.conf"],
              f"command {cmd}")
    ccmd = as_list(consumer.get("command"))
    check("consumer runs sgs-consumer", ccmd[:1] == ["sgs-consumer"], f"command {ccmd}")
    acmd = as_list(aggregator.get("command"))
    check("aggregator runs sgs-aggregator watch", acmd[:1] == ["sgs-aggregator"] and "watch" in acmd,
          f"command {acmd}")

    # Paths: the image's working directory makes the relative defaults resolve.
    with open(os.path.join(SRC, "Dockerfile"), encoding="utf-8") as f:
        dockerfile = f.read()
    workdirs = re.findall(r"(?m)^WORKDIR\s+(\S+)", dockerfile)
    wd = workdirs[-1] if workdirs else ""
    units = cfg.get("units.file", "")
    if units.startswith("configs/"):
        check("image: <WORKDIR>/configs links to /etc/sgs (units.file, calendar.file resolve)",
              re.search(r"ln -s /etc/sgs " + re.escape(wd.rstrip("/") + "/configs") + r"\b", dockerfile),
              f"WORKDIR {wd!r}, no 'ln -s /etc/sgs {wd}/configs'")
    report_dir = cfg.get("report.dir", "reports")
    want = report_dir if report_dir.startswith("/") else wd.rstrip("/") + "/" + report_dir
    check(f"aggregator: report.dir ({want}) is a volume",
          any(t == want and s for s, t, _ in volumes_of(aggregator)),
          f"volumes {volumes_of(aggregator)}")


CLUSTER = {"kafka": ["kafka-1", "kafka-2", "kafka-3"], "kafka-init": "kafka-cluster-init",
           "redis": ["redis-%d" % n for n in range(1, 7)], "create": "redis-cluster-create",
           "consumers": ["consumer-1", "consumer-2", "consumer-3"],
           "aggregator": "aggregator-cluster", "console": "console-cluster"}


def run_cluster_redis_node(check, name, node):
    """Starts the local redis-server with a cluster node's command (its shell
    line, with the service's environment and a password that needs quoting)
    on a free loopback port and reads the settings back."""
    cmd = as_list(node.get("command"))
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if not check(f"{name}: the command is sh -c 'exec redis-server ...'",
                 cmd[:2] == ["sh", "-c"] and len(cmd) == 3
                 and cmd[2].startswith("exec redis-server "), f"command {cmd}"):
        return
    if not server or not cli:
        check(f"{name}: the command runs here # SKIP redis-server not installed", True)
        return
    # a port whose cluster bus port (+10000) exists and is free too: an
    # ephemeral port above 55535 made redis-server exit at once
    port = cluster_ports(1)[0]
    password = "pa ss'w\"rd $x"
    with tempfile.TemporaryDirectory() as tmp:
        line = cmd[2].replace("$$", "$") + f" --port {port} --bind 127.0.0.1 --dir {tmp} --save ''"
        env = dict(os.environ, HOSTNAME=node.get("hostname", name), REDIS_MAXMEMORY="64mb",
                   SGS_REDIS_PASSWORD=password)
        env.update({k: v for k, v in env_of(node).items()
                    if k not in ("SGS_REDIS_PASSWORD", "REDIS_MAXMEMORY") and v is not None})
        log = os.path.join(tmp, "redis.log")
        with open(log, "wb") as logf:
            proc = subprocess.Popen(["sh", "-c", line], env=env, stdout=logf,
                                    stderr=subprocess.STDOUT)
        try:
            got = {}
            for _ in range(100):
                if proc.poll() is not None:
                    break
                rc, out, _err = run([cli, "-p", str(port), "--no-auth-warning", "-a", password,
                                     "ping"], timeout=5)
                if rc == 0 and out.strip() == "PONG":
                    for key in ("cluster-enabled", "cluster-announce-hostname",
                                "cluster-preferred-endpoint-type", "appendonly",
                                "maxmemory-policy", "maxmemory", "masterauth",
                                "cluster-node-timeout"):
                        rc, out, _err = run([cli, "-p", str(port), "--no-auth-warning", "-a",
                                             password, "config", "get", key], timeout=5)
                        lines = out.splitlines()
                        got[key] = lines[1] if len(lines) > 1 else None
                    break
                time.sleep(0.05)
            if not check(f"{name}: its command starts redis-server (password with spaces and "
                         f"quotes, from the environment)", got,
                         open(log, errors="replace").read()[-2000:]
                         if proc.poll() is not None else "no PONG"):
                return
            check(f"{name}: cluster mode, announcing its host name, clients sent to names",
                  got.get("cluster-enabled") == "yes"
                  and got.get("cluster-announce-hostname") == node.get("hostname")
                  and got.get("cluster-preferred-endpoint-type") == "hostname", f"{got}")
            check(f"{name}: AOF, noeviction, the maxmemory from the environment",
                  got.get("appendonly") == "yes" and got.get("maxmemory-policy") == "noeviction"
                  and got.get("maxmemory") == str(64 * 1024 * 1024), f"{got}")
            check(f"{name}: requirepass and masterauth are the password (replicas authenticate)",
                  got.get("masterauth") == password, f"masterauth {got.get('masterauth')!r}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_cluster_create(check, create, redis_names):
    """Runs redis-cluster-create's script with stand-ins for redis-cli and
    getent: on nodes that form no cluster yet it creates one of all six with
    a replica each (by address), authenticating with the password; on a
    cluster that exists it creates nothing."""
    ep = as_list(create.get("entrypoint"))
    cmd = as_list(create.get("command"))
    if not check("redis-cluster-create: entrypoint [... -c] with the script as command",
                 ep[-1:] == ["-c"] and cmd, f"{ep} {cmd[:1]}"):
        return
    script = cmd[0].replace("$$", "$")
    for exists in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            calls = os.path.join(tmp, "calls")
            with open(os.path.join(tmp, "getent"), "w") as f:
                f.write('#!/bin/sh\nn=${2#redis-}\necho "10.0.0.$n   $2"\n')
            with open(os.path.join(tmp, "redis-cli"), "w") as f:
                f.write('#!/bin/sh\n'
                        'echo "auth=${REDISCLI_AUTH:-} $*" >> "%s"\n'
                        'case "$*" in\n'
                        '  *"cluster info"*)\n'
                        '    if [ -e "%s/made" ]; then echo cluster_state:ok;'
                        ' else echo cluster_state:fail; fi ;;\n'
                        '  *"--cluster create"*) touch "%s/made" ;;\n'
                        'esac\n' % (calls, tmp, tmp))
            if exists:
                open(os.path.join(tmp, "made"), "w").close()
            for tool in ("getent", "redis-cli"):
                os.chmod(os.path.join(tmp, tool), 0o755)
            env = dict(os.environ, PATH=tmp + os.pathsep + os.environ.get("PATH", ""),
                       SGS_REDIS_PASSWORD="secret")
            p = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                               timeout=30)
            made = []
            if os.path.exists(calls):
                with open(calls) as f:
                    made = [ln.split() for ln in f]
        creates = [c for c in made if "--cluster" in c and "create" in c]
        what = "an existing cluster" if exists else "new nodes"
        if not check(f"redis-cluster-create on {what}: exit 0", p.returncode == 0,
                     f"exit {p.returncode}: {p.stderr.strip()[-300:]}"):
            continue
        if exists:
            check("redis-cluster-create on an existing cluster: creates nothing",
                  not creates, f"calls: {creates}")
            continue
        want = ["10.0.0.%s:6379" % n.rsplit("-", 1)[1] for n in redis_names]
        c = creates[0] if len(creates) == 1 else []
        check("redis-cluster-create on new nodes: --cluster create of the six nodes' addresses, "
              "one replica each, no question asked",
              c and [a for a in c if a.startswith("10.0.0.")] == want
              and option(c, "--cluster-replicas") == "1" and "--cluster-yes" in c,
              f"calls: {made}")
        check("redis-cluster-create: authenticates with the password (REDISCLI_AUTH)",
              made and all(c[0] == "auth=secret" for c in made), f"calls: {made}")


def test_compose_cluster_profile(check):
    """3. The cluster profile: three Kafka brokers (KRaft, RF 3, min.insync 2),
    six Redis nodes made a cluster by a one-shot service, three consumers with
    redis.cluster; the single-node services keep no profile."""
    try:
        import yaml
    except ImportError:
        check("python3-yaml available to read docker-compose config", False, "")
        return
    rc, out, err = run(["docker-compose", "-f", COMPOSE, "--profile", "cluster", "config", "-q"])
    check("docker-compose --profile cluster config -q passes silently", rc == 0 and not out
          and not err.strip(), f"exit {rc}: {(out + err).strip()}")
    rc, out, err = run(["docker-compose", "-f", COMPOSE, "--profile", "cluster", "config"])
    if not check("docker-compose --profile cluster config resolves the file", rc == 0,
                 err.strip()):
        return
    services = (yaml.safe_load(out) or {}).get("services") or {}
    names = (CLUSTER["kafka"] + [CLUSTER["kafka-init"]] + CLUSTER["redis"]
             + [CLUSTER["create"]] + CLUSTER["consumers"] + [CLUSTER["aggregator"],
                                                             CLUSTER["console"]])
    if not check("cluster services present", set(names) <= set(services),
                 f"missing {sorted(set(names) - set(services))}"):
        return
    check("every cluster service is in the profile cluster and only there",
          all(services[n].get("profiles") == ["cluster"] for n in names),
          {n: services[n].get("profiles") for n in names})
    single = ("kafka", "kafka-init", "redis", "consumer", "aggregator", "console")
    check("the single-node services have no profile (docker-compose up starts them as before)",
          all(not services.get(n, {}).get("profiles") for n in single),
          {n: services.get(n, {}).get("profiles") for n in single})

    # Kafka: three combined nodes, one quorum, one cluster id, RF 3, min.insync 2.
    kenvs = {n: env_of(services[n]) for n in CLUSTER["kafka"]}
    image = services["kafka"].get("image")
    check("kafka-N: the single kafka's pinned image",
          all(services[n].get("image") == image for n in CLUSTER["kafka"]), image)
    ids = {n: e.get("KAFKA_NODE_ID") for n, e in kenvs.items()}
    check("kafka-N: node ids 1, 2, 3", sorted(ids.values()) == ["1", "2", "3"], ids)
    check("kafka-N: one CLUSTER_ID, not the single node's",
          len({e.get("CLUSTER_ID") for e in kenvs.values()}) == 1
          and kenvs["kafka-1"].get("CLUSTER_ID") != env_of(services["kafka"]).get("CLUSTER_ID"),
          {n: e.get("CLUSTER_ID") for n, e in kenvs.items()})
    voters = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    check("kafka-N: the static quorum of the three (controller.quorum.voters)",
          all(e.get("KAFKA_CONTROLLER_QUORUM_VOTERS") == voters for e in kenvs.values())
          and all(services[n].get("hostname") == n for n in CLUSTER["kafka"])
          and all(e.get("KAFKA_PROCESS_ROLES", "").replace(" ", "") == "broker,controller"
                  for e in kenvs.values()),
          {n: e.get("KAFKA_CONTROLLER_QUORUM_VOTERS") for n, e in kenvs.items()})
    check("kafka-N: each advertises its own name",
          all(kenvs[n].get("KAFKA_ADVERTISED_LISTENERS") == f"PLAINTEXT://{n}:9092"
              for n in CLUSTER["kafka"]),
          {n: e.get("KAFKA_ADVERTISED_LISTENERS") for n, e in kenvs.items()})
    want = {"KAFKA_DEFAULT_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "2",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "2", "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false"}
    check("kafka-N: replication factor 3, min.insync.replicas 2 (internal topics too), no "
          "topic auto-creation",
          all(all(e.get(k) == v for k, v in want.items()) for e in kenvs.values()),
          {n: {k: e.get(k) for k in want} for n, e in kenvs.items()})
    vols = {n: [s for s, t, _ in volumes_of(services[n]) if t == kenvs[n].get("KAFKA_LOG_DIRS")]
            for n in CLUSTER["kafka"]}
    check("kafka-N: log.dirs on a volume of its own",
          all(len(v) == 1 and v[0] for v in vols.values())
          and len({v[0] for v in vols.values() if v}) == 3, vols)

    # kafka-cluster-init: the single kafka-init's script, on the three, RF 3, min.insync 2.
    init = services[CLUSTER["kafka-init"]]
    check("kafka-cluster-init: one-shot, waits for the three brokers to be healthy",
          str(init.get("restart")) == "no"
          and all(depends(init).get(n) == "service_healthy" for n in CLUSTER["kafka"]),
          f"restart {init.get('restart')}, depends_on {depends(init)}")
    check("kafka-cluster-init: the same script as kafka-init",
          as_list(init.get("command")) == as_list(services["kafka-init"].get("command"))
          and init.get("image") == image, "")
    got = init_calls(init)
    bootstrap = ",".join(f"{n}:9092" for n in CLUSTER["kafka"])
    if got and check("kafka-cluster-init: its run against stand-in tools exits 0", got[0] == 0,
                     got[1].strip()):
        creates = [c for c in got[2] if "--create" in c]
        cfg = conf_defaults()
        check("kafka-cluster-init run: the four topics, on the three brokers, replication "
              "factor 3, min.insync.replicas=2",
              all(create_call(creates, cfg.get(k, "")) for k in
                  ("topic.records", "topic.alerts", "topic.rejects", "topic.snapshots"))
              and all(option(c, "--bootstrap-server") == bootstrap
                      and option(c, "--replication-factor") == "3"
                      and any(a == "--config" and b == "min.insync.replicas=2"
                              for a, b in zip(c, c[1:])) for c in creates),
              f"calls: {creates}")

    # Redis: six cluster nodes, a volume each, made a cluster by the one-shot service.
    for n in CLUSTER["redis"]:
        node = services[n]
        data = [s for s, t, _ in volumes_of(node) if t == "/data"]
        check(f"{n}: redis 7 image, host name {n}, /data on a volume of its own",
              re.fullmatch(r"redis:7(\.\d+)*", node.get("image", ""))
              and node.get("hostname") == n and len(data) == 1 and data[0]
              and data[0].endswith(f"{n}-data"), f"{node.get('image')} {volumes_of(node)}")
    check("redis-N: one command for all six",
          len({tuple(as_list(services[n].get("command"))) for n in CLUSTER["redis"]}) == 1, "")
    run_cluster_redis_node(check, "redis-1", services["redis-1"])
    create = services[CLUSTER["create"]]
    check("redis-cluster-create: one-shot, waits for the six nodes to be healthy",
          str(create.get("restart")) == "no"
          and all(depends(create).get(n) == "service_healthy" for n in CLUSTER["redis"]),
          f"depends_on {depends(create)}")
    run_cluster_create(check, create, CLUSTER["redis"])

    # The consumers: redis.cluster, the three brokers, started after both one-shots.
    seeds = ",".join(f"{n}:6379" for n in CLUSTER["redis"])
    for n in CLUSTER["consumers"]:
        svc = services[n]
        env = env_of(svc)
        cmd = as_list(svc.get("command"))
        check(f"{n}: sgs-consumer -c /etc/sgs/sgs.conf from the consumer's image",
              cmd[:1] == ["sgs-consumer"] and option(cmd, "-c") == "/etc/sgs/sgs.conf"
              and svc.get("image") == services["consumer"].get("image"), f"{cmd}")
        check(f"{n}: SGS_REDIS_CLUSTER names the six nodes, SGS_KAFKA_BOOTSTRAP_SERVERS the "
              f"three brokers, the password from .env",
              env.get("SGS_REDIS_CLUSTER") == seeds
              and env.get("SGS_KAFKA_BOOTSTRAP_SERVERS") == bootstrap
              and "SGS_REDIS_PASSWORD" in env and "SGS_REDIS_HOST" not in env, env)
        d = depends(svc)
        check(f"{n}: starts once the topics and the Redis cluster are made",
              d == {CLUSTER["kafka-init"]: "service_completed_successfully",
                    CLUSTER["create"]: "service_completed_successfully"}, f"depends_on {d}")
        test = " ".join(as_list((svc.get("healthcheck") or {}).get("test")))
        check(f"{n}: health check on /healthz, metrics exposed, no host ports",
              "127.0.0.1:9464/healthz" in test and env.get("SGS_METRICS_LISTEN") == "0.0.0.0:9464"
              and not svc.get("ports"), f"{test}, {svc.get('ports')}")
        check(f"{n}: ./configs mounted read-only on /etc/sgs",
              any(s and os.path.basename(s.rstrip("/")) == "configs" and t == "/etc/sgs" and ro
                  for s, t, ro in volumes_of(svc)), f"{volumes_of(svc)}")

    # The aggregator's watch and the console on the cluster: redis.cluster, the
    # three brokers, the report files on a volume of their own that the console
    # reads; the console on another host port than the single shape's.
    agg, con = services[CLUSTER["aggregator"]], services[CLUSTER["console"]]
    for n, svc, sub in ((CLUSTER["aggregator"], agg, "watch"), (CLUSTER["console"], con, "serve")):
        env = env_of(svc)
        cmd = as_list(svc.get("command"))
        check(f"{n}: sgs-aggregator -c /etc/sgs/sgs.conf {sub} from the consumer's image",
              cmd[:1] == ["sgs-aggregator"] and option(cmd, "-c") == "/etc/sgs/sgs.conf"
              and sub in cmd and svc.get("image") == services["consumer"].get("image"), f"{cmd}")
        check(f"{n}: SGS_REDIS_CLUSTER names the six nodes, the brokers the three, no SGS_REDIS_HOST",
              env.get("SGS_REDIS_CLUSTER") == seeds
              and env.get("SGS_KAFKA_BOOTSTRAP_SERVERS") == bootstrap
              and "SGS_REDIS_PASSWORD" in env and "SGS_REDIS_HOST" not in env, env)
        check(f"{n}: starts once the Redis cluster is made",
              depends(svc).get(CLUSTER["create"]) == "service_completed_successfully",
              f"depends_on {depends(svc)}")
    check(f"{CLUSTER['aggregator']}: publishes once the topics are made",
          depends(agg).get(CLUSTER["kafka-init"]) == "service_completed_successfully",
          f"depends_on {depends(agg)}")
    agg_reports = [s for s, t, ro in volumes_of(agg) if t == "/var/lib/sgs/reports" and not ro]
    con_reports = [s for s, t, ro in volumes_of(con) if t == "/var/lib/sgs/reports" and ro]
    check("the cluster's report files: a volume of their own, written by watch, read by the "
          "console", agg_reports and agg_reports == con_reports
          and agg_reports[0] not in [s for s, t, _ in volumes_of(services["aggregator"])],
          f"{volumes_of(agg)}, {volumes_of(con)}")
    ports = [str(p) for p in con.get("ports") or []]
    single_ports = [str(p) for p in services["console"].get("ports") or []]
    check(f"{CLUSTER['console']}: published on loopback, another port than the single console's",
          len(ports) == 1 and "127.0.0.1" in ports[0] and ports != single_ports,
          f"{ports} vs {single_ports}")

#!/usr/bin/env bash
# The whole sgs pipeline on embedded defaults, from a fresh clone (Debian 12, as
# root): installs what is missing (scripts/setup.sh demo), builds
# (scripts/build.sh), then
#   1. starts redis-server on a free loopback port in a temporary directory and
#      a Kafka broker (see KAFKA below);
#   2. generates a realistic month for the shipped Pingdingshan registry with
#      sgs-gen (late, invalid, duplicate, malformed, unknown-unit records and
#      gaps in the document numbers) and produces it;
#   3. runs sgs-consumer until it has been idle for 3 s, showing progress;
#   4. runs a small concealment spot check (sgs-aggregator spot-check) and the
#      monthly snapshot (sgs-aggregator snapshot), checks the counts against the
#      generator's own expectation, prints the notice and lists the files;
#   5. starts the web console (sgs-aggregator serve) and prints its address;
#   6. stops everything it started (also on Ctrl-C) and prints the time taken;
#      with KEEP=1 it first keeps the console, Redis, the broker and a consumer
#      running until Ctrl-C.
#
#   bash scripts/demo.sh
#
# Environment (all optional):
#   MONTH=YYYY-MM     month to generate and report (default 2025-12; the shipped
#                     calendar, configs/calendar-cn.json, covers 2023-2026: other
#                     years fall back to Monday-Friday working days)
#   SEED=N            generator seed (default 20251231: same run, same figures)
#   KAFKA=mock        librdkafka's mock cluster in tools/sgs-devbroker (default;
#                     no Java needed)
#   KAFKA=apache      the real Apache Kafka broker of the integration tests (jars
#                     from scripts/kafka-jars.sh; installs openjdk-17-jre-headless
#                     and maven with apt if missing); topics are auto-created with
#                     retention.ms=-1 (the generated month lies in the past)
#   SGS_KAFKA_BOOTSTRAP_SERVERS=HOST:PORT,...
#                     use this existing cluster instead (KAFKA is then ignored).
#                     The topics (sgs.records, sgs.alerts, sgs.rejects,
#                     sgs.snapshots, or SGS_TOPIC_*) must exist or be
#                     auto-created; the demo WRITES to them (a generated month on
#                     the records topic, its snapshot on the snapshots topic).
#                     Messages already in the records topic are skipped (their
#                     end offsets are read from the cluster and stored in Redis
#                     as the consumer's starting positions). Other SGS_KAFKA_* variables
#                     (security settings...) are honoured as everywhere in sgs.
#   OUT=DIR           where the reports go (default ./reports, created)
#   DEMO_CONSUMER_TIMEOUT=S  give up when the consumer runs longer (default 300)
#   KEEP=1            keep the console (and Redis, the broker, a consumer) running
#                     until Ctrl-C, and keep the temporary directory
#                     (configuration, logs, the generator's expectation, Redis
#                     data); its path is printed
#   CONSOLE_PORT=N    the console's port on 127.0.0.1 (default 8080, or a free
#                     port when 8080 is taken)
#   SGS_NOW=...       date of the notice (default: the 5th of the month after
#                     MONTH, 09:00 +08:00, as if issued then; docs/AGGREGATOR.md);
#                     the month is snapshotted with --final, also within its
#                     grace days
#   SGS_BUILD_DIR=DIR build directory (default build)
#   SGS_DEMO_PREBUILT=1  skip setup.sh and build.sh and use SGS_BUILD_DIR as it is
#                     (tests/integration/test_demo.py)
#   SGS_KAFKA_JARS, SGS_KAFKA_HEAP, SGS_CACHE_DIR: as for the tests (KAFKA=apache)
#
# After the set-up and the build, the pipeline itself runs in Python with the
# start-up code the tests use (tests/lib/sgstest: demo.py for the steps above,
# the servers of redisserver.py and kafka.py), under /usr/bin/python3 with
# python3-redis and python3-confluent-kafka (setup.sh demo installs them).
#
# Progress goes to stderr (one updating line on a terminal, plain lines
# otherwise); the results (summary, notice, files) go to stdout. Exit status 0
# when everything ran and the counts match, 1 on any failure, 130 on Ctrl-C.
set -Eeuo pipefail

t_start=$(date +%s%N)
repo=$(cd "$(dirname "$0")/.." && pwd)

MONTH=${MONTH:-2025-12}
SEED=${SEED:-20251231}
KAFKA=${KAFKA:-mock}
KEEP=${KEEP:-0}
OUT=${OUT:-$PWD/reports}
prebuilt=${SGS_DEMO_PREBUILT:-0}
bdir=${SGS_BUILD_DIR:-$repo/build}
# The programs treat every SGS_* variable as a configuration key and refuse
# unknown ones: this one is the script's own.
unset SGS_DEMO_PREBUILT

say() { printf 'sgs demo: %s\n' "$*" >&2; }

die() {
    printf 'sgs demo: FAILED: %s\n' "$*" >&2
    exit 1
}

# Until the hand-over to Python (which then stops what it starts itself).
trap 'printf "sgs demo: interrupted (INT); stopping what was started\n" >&2; exit 130' INT
trap 'printf "sgs demo: interrupted (TERM); stopping what was started\n" >&2; exit 143' TERM
trap 'printf "sgs demo: FAILED: line %s: %s (status %s)\n" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

# ---------------------------------------------------------------------------
# Arguments and environment

[[ $MONTH =~ ^[0-9]{4}-(0[1-9]|1[0-2])$ ]] || die "MONTH='$MONTH': expected YYYY-MM"
[[ $SEED =~ ^[0-9]+$ ]] || die "SEED='$SEED': expected an unsigned integer"
if [ -n "${SGS_KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
    mode=existing
    [ "$KAFKA" = mock ] || say "SGS_KAFKA_BOOTSTRAP_SERVERS is set: using that cluster, not KAFKA=$KAFKA"
else
    case $KAFKA in
    mock | apache) mode=$KAFKA ;;
    *) die "KAFKA='$KAFKA': expected mock or apache" ;;
    esac
fi

# The demo runs its own Redis and picks its own group and key prefix: settings
# of these from the environment would point the programs elsewhere.
for v in SGS_REDIS_HOST SGS_REDIS_PORT SGS_REDIS_DB SGS_REDIS_PASSWORD SGS_REDIS_PREFIX \
    SGS_KAFKA_GROUP_ID SGS_REPORT_DIR; do
    if [ -n "${!v+x}" ]; then
        say "ignoring $v (the demo starts its own Redis and chooses these)"
        unset "$v"
    fi
done

[[ ${CONSOLE_PORT:-0} =~ ^[0-9]+$ ]] && ((${CONSOLE_PORT:-0} <= 65535)) ||
    die "CONSOLE_PORT='$CONSOLE_PORT': expected a port number"
[[ ${DEMO_CONSUMER_TIMEOUT:-300} =~ ^[0-9]+$ ]] ||
    die "DEMO_CONSUMER_TIMEOUT='$DEMO_CONSUMER_TIMEOUT': expected a number of seconds"

if [ -z "${SGS_NOW:-}" ]; then
    SGS_NOW="$(date -u -d "$MONTH-15 +1 month" +%Y-%m)-05T09:00:00+08:00"
fi

# ---------------------------------------------------------------------------
# 0. Packages and build

if [ "$prebuilt" = 1 ]; then
    say "using the programs in $bdir as they are (SGS_DEMO_PREBUILT=1)"
else
    say "checking packages (scripts/setup.sh demo)"
    bash "$repo/scripts/setup.sh" demo
    say "building (scripts/build.sh $bdir)"
    bash "$repo/scripts/build.sh" "$bdir" >&2
fi
for p in sgs-gen sgs-consumer sgs-aggregator sgs-devbroker; do
    [ -x "$bdir/$p" ] || die "$bdir/$p is missing (build first: bash scripts/build.sh)"
done
command -v redis-server >/dev/null || die "redis-server not found (bash scripts/setup.sh demo installs it)"
/usr/bin/python3 -c 'import redis, confluent_kafka' 2>/dev/null ||
    die "/usr/bin/python3 with python3-redis and python3-confluent-kafka not found" \
        "(bash scripts/setup.sh demo installs them)"

install_java() {
    local pkgs=() sudo=""
    command -v java >/dev/null || pkgs+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || pkgs+=(maven)
    ((${#pkgs[@]})) || return 0
    [ -n "${SGS_KAFKA_JARS:-}" ] && command -v java >/dev/null && return 0
    say "KAFKA=apache: installing ${pkgs[*]}"
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${pkgs[@]}" >/dev/null
}
if [ "$mode" = apache ]; then install_java; fi

# ---------------------------------------------------------------------------
# 1-9. The pipeline (tests/lib/sgstest/demo.py): Redis and Kafka, generate and
# produce, consume with progress, spot check, snapshot, count check, results;
# everything it starts is stopped on exit and on Ctrl-C.

trap - INT TERM ERR
export PYTHONPATH="$repo/tests/lib${PYTHONPATH:+:$PYTHONPATH}"
exec /usr/bin/python3 -m sgstest.demo --month "$MONTH" --seed "$SEED" --mode "$mode" \
    --out "$OUT" --keep "$KEEP" --now "$SGS_NOW" --build "$bdir" \
    --consumer-timeout "${DEMO_CONSUMER_TIMEOUT:-300}" --console-port "${CONSOLE_PORT:-0}" \
    --t-start "$t_start"

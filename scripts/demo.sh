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
#   5. stops everything it started (also on Ctrl-C) and prints the time taken.
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
#                     end offsets are read with kcat and stored in Redis as the
#                     consumer's starting positions). Other SGS_KAFKA_* variables
#                     (security settings...) are honoured as everywhere in sgs.
#   OUT=DIR           where the reports go (default ./reports, created)
#   DEMO_CONSUMER_TIMEOUT=S  give up when the consumer runs longer (default 300)
#   KEEP=1            keep the temporary directory (configuration, logs, the
#                     generator's expectation, Redis data); its path is printed
#   SGS_NOW=...       date of the notice (default: the 5th of the month after
#                     MONTH, 09:00 +08:00, as if issued then; docs/AGGREGATOR.md)
#   SGS_BUILD_DIR=DIR build directory (default build)
#   SGS_DEMO_PREBUILT=1  skip setup.sh and build.sh and use SGS_BUILD_DIR as it is
#                     (tests/integration/test_demo.py)
#   SGS_KAFKA_JARS, SGS_KAFKA_HEAP, SGS_CACHE_DIR: as for the tests (KAFKA=apache)
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

# ---------------------------------------------------------------------------
# Output

tty=0
[ -t 2 ] && tty=1
line_open=0 # a progress line without its newline is on the terminal

endline() {
    if ((line_open)); then
        printf '\n' >&2
        line_open=0
    fi
}

say() {
    endline
    printf 'sgs demo: %s\n' "$*" >&2
}

die() {
    endline
    printf 'sgs demo: FAILED: %s\n' "$*" >&2
    exit 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# seconds with one decimal between two `date +%s%N` values
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

# the last lines of a log, indented
show_tail() {
    endline
    if [ -s "$1" ]; then
        echo "  --- last lines of $1:" >&2
        tail -n "${2:-15}" "$1" | sed 's/^/  | /' >&2
    fi
}

# ---------------------------------------------------------------------------
# Cleanup: everything started is stopped on exit, error and Ctrl-C.

tmp=""
finished=0
t_pipeline=$t_start
started=() # "name pid" of the background processes, in start order

stop_pid() { # name pid seconds: SIGTERM, then SIGKILL after `seconds`
    local name=$1 pid=$2 limit=$3 i
    kill -0 "$pid" 2>/dev/null || {
        wait "$pid" 2>/dev/null || true
        return 0
    }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        printf 'sgs demo: %s (pid %s) ignored SIGTERM for %s s; killing it\n' "$name" "$pid" \
            "$limit" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? i name pid
    trap - EXIT INT TERM ERR
    endline
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do
        read -r name pid <<<"${started[i]}"
        case $name in
        kafka) stop_pid "$name" "$pid" 20 ;;
        *) stop_pid "$name" "$pid" 10 ;;
        esac
    done
    if [ -n "$tmp" ] && [ -d "$tmp" ]; then
        if [ "$KEEP" = 1 ]; then
            printf 'sgs demo: kept the temporary directory %s\n' "$tmp" >&2
        else
            rm -rf "$tmp"
        fi
    fi
    if ((rc != 0 && rc != 130 && rc != 143)) && [ "$KEEP" != 1 ] && [ -n "$tmp" ]; then
        printf 'sgs demo: (run again with KEEP=1 to keep the logs)\n' >&2
    fi
    if ((rc == 0 && finished)); then
        local t_end
        t_end=$(date +%s%N)
        echo "== done in $(secs "$t_start" "$t_end") s (pipeline $(secs "$t_pipeline" "$t_end") s" \
            "with Kafka: $mode), everything started is stopped"
    fi
    exit "$rc"
}

on_signal() {
    endline
    printf 'sgs demo: interrupted (%s); stopping what was started\n' "$1" >&2
    [ "$1" = INT ] && exit 130
    exit 143
}

trap cleanup EXIT
trap 'on_signal INT' INT
trap 'printf "sgs demo: FAILED: line %s: %s (status %s)\n" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR
trap 'on_signal TERM' TERM

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

t_records=${SGS_TOPIC_RECORDS:-sgs.records}
t_alerts=${SGS_TOPIC_ALERTS:-sgs.alerts}
t_rejects=${SGS_TOPIC_REJECTS:-sgs.rejects}
t_snapshots=${SGS_TOPIC_SNAPSHOTS:-sgs.snapshots}
units_file=${SGS_UNITS_FILE:-$repo/configs/units.tsv}
calendar_file=${SGS_CALENDAR_FILE:-$repo/configs/calendar-cn.json}

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
for p in redis-server redis-cli; do
    command -v "$p" >/dev/null || die "$p not found (bash scripts/setup.sh demo installs it)"
done

json_tool=""
if command -v python3 >/dev/null; then
    json_tool=python3
elif command -v jq >/dev/null; then
    json_tool=jq
fi

t_pipeline=$(date +%s%N)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sgs-demo.XXXXXX")
mkdir -p "$OUT" || die "cannot create OUT=$OUT"
OUT=$(cd "$OUT" && pwd)
say "month $MONTH, seed $SEED; temporary directory $tmp"

# ---------------------------------------------------------------------------
# Helpers

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A TCP port on 127.0.0.1 that nothing listens on now (not one of "$@").
pick_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        [[ " $* " == *" $p "* ]] && continue
        port_in_use "$p" || {
            echo "$p"
            return 0
        }
    done
    return 1
}

alive() { kill -0 "$1" 2>/dev/null; }

# kcat options for the cluster: -b and every SGS_KAFKA_* setting as -X.
kcat_args() {
    local v key
    printf '%s\0' -b "$bootstrap"
    while IFS='=' read -r v _; do
        case $v in
        SGS_KAFKA_BOOTSTRAP_SERVERS | SGS_KAFKA_JARS | SGS_KAFKA_HEAP | SGS_KAFKA) continue ;;
        SGS_KAFKA_*)
            key=$(printf '%s' "${v#SGS_KAFKA_}" | tr 'A-Z_' 'a-z.')
            printf '%s\0' -X "$key=${!v}"
            ;;
        esac
    done < <(env)
}

# ---------------------------------------------------------------------------
# 1. Redis

start_redis() {
    local try pid i
    mkdir -p "$tmp/redis"
    for ((try = 0; try < 5; try++)); do
        redis_port=$(pick_port) || die "no free TCP port found on 127.0.0.1"
        redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" --save '' \
            --appendonly no --daemonize no --protected-mode no \
            --logfile "$tmp/redis/redis.log" --loglevel warning </dev/null >/dev/null 2>&1 &
        pid=$!
        started+=("redis-server $pid")
        for ((i = 0; i < 100; i++)); do
            alive "$pid" || break
            if [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ]; then
                say "redis-server (pid $pid) on 127.0.0.1:$redis_port"
                return 0
            fi
            sleep 0.05
        done
        alive "$pid" && die "redis-server on port $redis_port not answering PING after 5 s"
        wait "$pid" 2>/dev/null || true # port taken meanwhile: another one
        unset 'started[-1]'
    done
    show_tail "$tmp/redis/redis.log"
    die "redis-server did not start"
}

rcli() { redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }

# ---------------------------------------------------------------------------
# 2. Kafka

start_mock() {
    local pid i log="$tmp/sgs-devbroker.log"
    : >"$log" # (the child opens it, maybe after the first look below)
    # The mock keeps about 5 MiB of batches per partition: a month of ~11,000
    # records is ~6.5 MB, so the records topic gets 12 partitions.
    "$bdir/sgs-devbroker" --partitions 4 --topic "$t_records:12" --topic "$t_alerts:4" \
        --topic "$t_rejects:4" --topic "$t_snapshots:1" </dev/null >"$log" 2>&1 &
    pid=$!
    started+=("sgs-devbroker $pid")
    for ((i = 0; i < 300; i++)); do
        bootstrap=$(sed -n 's/^bootstrap\.servers=//p' "$log" | head -n1)
        if [ -n "$bootstrap" ]; then
            say "sgs-devbroker (pid $pid, librdkafka mock cluster) at $bootstrap"
            return 0
        fi
        alive "$pid" || break
        sleep 0.05
    done
    show_tail "$log"
    die "sgs-devbroker did not start"
}

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

kafka_uuid() { # Kafka's Uuid text form; ids starting with '-' are refused
    local u
    while :; do
        u=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [ "${u:0:1}" != - ] && break
    done
    echo "$u"
}

start_apache() {
    local jars jar version kport cport kdir logopt pid i heap
    install_java
    if [ -n "${SGS_KAFKA_JARS:-}" ]; then
        jars=$SGS_KAFKA_JARS
    else
        say "Kafka broker jars (scripts/kafka-jars.sh)"
        jars=$(bash "$repo/scripts/kafka-jars.sh") || die "scripts/kafka-jars.sh failed"
    fi
    jar=$(compgen -G "$jars/kafka_2.13-*.jar" | head -n1) || true
    [ -n "$jar" ] || die "no kafka_2.13-*.jar in $jars"
    version=$(basename "$jar" .jar)
    version=${version#kafka_2.13-}
    kport=$(pick_port) || die "no free TCP port"
    cport=$(pick_port "$kport") || die "no free TCP port"
    kdir="$tmp/kafka"
    mkdir -p "$kdir/data" "$kdir/logs"
    # As tests/integration/sgsharness.py's KafkaBroker: one KRaft node, few
    # threads; and retention.ms=-1 for every topic (auto-created ones included).
    {
        echo "process.roles=broker,controller"
        echo "node.id=1"
        echo "controller.quorum.voters=1@127.0.0.1:$cport"
        echo "listeners=PLAINTEXT://127.0.0.1:$kport,CONTROLLER://127.0.0.1:$cport"
        echo "advertised.listeners=PLAINTEXT://127.0.0.1:$kport"
        echo "inter.broker.listener.name=PLAINTEXT"
        echo "controller.listener.names=CONTROLLER"
        echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        echo "log.dirs=$kdir/data"
        echo "num.partitions=4"
        echo "default.replication.factor=1"
        echo "auto.create.topics.enable=true"
        echo "log.retention.ms=-1"
        echo "offsets.topic.replication.factor=1"
        echo "offsets.topic.num.partitions=4"
        echo "transaction.state.log.replication.factor=1"
        echo "transaction.state.log.min.isr=1"
        echo "transaction.state.log.num.partitions=4"
        if [[ $version != 3.* ]]; then
            echo "share.coordinator.state.topic.replication.factor=1"
            echo "share.coordinator.state.topic.min.isr=1"
        fi
        echo "group.initial.rebalance.delay.ms=0"
        echo "num.network.threads=2"
        echo "num.io.threads=2"
        echo "background.threads=2"
        echo "num.recovery.threads.per.data.dir=1"
        echo "log.cleaner.threads=1"
    } >"$kdir/server.properties"
    if [[ $version == 3.* ]]; then
        printf '%s\n' "log4j.rootLogger=WARN, F" \
            "log4j.appender.F=org.apache.log4j.FileAppender" \
            "log4j.appender.F.File=$kdir/logs/server.log" \
            "log4j.appender.F.layout=org.apache.log4j.PatternLayout" \
            "log4j.appender.F.layout.ConversionPattern=[%d] %p %m (%c)%n" >"$kdir/log4j.properties"
        logopt="-Dlog4j.configuration=file:$kdir/log4j.properties"
    else
        cat >"$kdir/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="error">
  <Appenders>
    <File name="F" fileName="$kdir/logs/server.log">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="F"/></Root>
  </Loggers>
</Configuration>
EOF
        logopt="-Dlog4j2.configurationFile=$kdir/log4j2.xml"
    fi
    local java=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Djava.awt.headless=true
        "-Dkafka.logs.dir=$kdir/logs" "$logopt" -cp "$jars/*")
    java -Xmx256m "${java[@]}" kafka.tools.StorageTool format -t "$(kafka_uuid)" \
        -c "$kdir/server.properties" --ignore-formatted >"$kdir/logs/format.log" 2>&1 </dev/null ||
        {
            show_tail "$kdir/logs/format.log"
            die "kafka storage format failed"
        }
    read -r -a heap <<<"${SGS_KAFKA_HEAP:--Xms128m -Xmx768m}"
    java "${heap[@]}" "${java[@]}" kafka.Kafka "$kdir/server.properties" \
        </dev/null >"$kdir/logs/stdout.log" 2>&1 &
    pid=$!
    started+=("kafka $pid")
    bootstrap="127.0.0.1:$kport"
    for ((i = 0; i < 900; i++)); do
        if ! alive "$pid"; then
            show_tail "$kdir/logs/stdout.log" 5
            show_tail "$kdir/logs/server.log" 5
            die "the Kafka broker exited"
        fi
        if port_in_use "$kport"; then
            if ! command -v kcat >/dev/null ||
                timeout 5 kcat -b "$bootstrap" -L -m 2 2>/dev/null | grep -q '^  broker '; then
                say "Apache Kafka $version (pid $pid) at $bootstrap"
                return 0
            fi
        fi
        sleep 0.1
    done
    show_tail "$kdir/logs/server.log"
    die "the Kafka broker was not ready after 90 s"
}

# Existing cluster: the records topic's end offsets become the consumer's
# starting positions in Redis (the consumer takes its positions from Redis), so
# only the month produced now is counted.
seed_offsets() {
    local parts=() args=() p out n=0 total=0 t o
    base_offset=0
    if ! command -v kcat >/dev/null; then
        say "WARNING: kcat not found: messages already in $t_records will be counted too"
        return 0
    fi
    mapfile -d '' args < <(kcat_args)
    out=$(timeout 30 kcat "${args[@]}" -L -m 10 -t "$t_records" 2>&1) || {
        echo "$out" | tail -n 5 | sed 's/^/  | /' >&2
        die "cannot read the metadata of $bootstrap (kcat -L)"
    }
    mapfile -t parts < <(sed -n 's/^ *partition \([0-9][0-9]*\),.*/\1/p' <<<"$out")
    if ((${#parts[@]} == 0)); then
        say "topic $t_records not found on $bootstrap (it must exist or be auto-created)"
        return 0
    fi
    local q=()
    for p in "${parts[@]}"; do q+=(-t "$t_records:$p:-1"); done
    out=$(timeout 30 kcat "${args[@]}" -Q "${q[@]}" 2>&1) || {
        echo "$out" | sed 's/^/  | /' >&2
        die "cannot read the end offsets of $t_records with kcat"
    }
    while read -r t p o; do
        p=${p#[}
        p=${p%]}
        o=${o#offset }
        [[ $p =~ ^[0-9]+$ && $o =~ ^[0-9]+$ ]] || continue
        rcli SET "$prefix:{$t_records:$p}:offset" "$o" >/dev/null
        total=$((total + o))
        n=$((n + 1))
    done <<<"$out"
    ((n == ${#parts[@]})) || die "kcat -Q answered for $n of ${#parts[@]} partitions: $out"
    base_offset=$total
    say "$t_records: $n partitions, $total messages already there (skipped)"
}

start_redis
case $mode in
mock) start_mock ;;
apache) start_apache ;;
existing)
    bootstrap=$SGS_KAFKA_BOOTSTRAP_SERVERS
    say "existing Kafka cluster at $bootstrap"
    ;;
esac

# ---------------------------------------------------------------------------
# 3. Configuration: configs/sgs.conf with the demo's settings replacing its own

run_id="demo-$(date +%Y%m%d%H%M%S)-$$"
prefix="sgs-$run_id"
conf="$tmp/sgs.conf"
declare -A over=(
    [kafka.bootstrap.servers]=$bootstrap
    [kafka.group.id]="sgs-$run_id"
    [redis.host]=127.0.0.1
    [redis.port]=$redis_port
    [redis.db]=0
    [redis.prefix]=$prefix
    [units.file]=$units_file
    [calendar.file]=$calendar_file
    [report.dir]=$OUT
    [topic.records]=$t_records
    [topic.alerts]=$t_alerts
    [topic.rejects]=$t_rejects
    [topic.snapshots]=$t_snapshots
)
{
    awk -F= -v keys=" ${!over[*]} " '{
        k = $1; gsub(/^[ \t]+|[ \t]+$/, "", k)
        if ($0 !~ /^[ \t]*#/ && index($0, "=") && index(keys, " " k " ")) next
        print
    }' "$repo/configs/sgs.conf"
    echo
    echo "# --- scripts/demo.sh ---"
    for k in "${!over[@]}"; do echo "$k = ${over[$k]}"; done | sort
} >"$conf"

base_offset=0
if [ "$mode" = existing ]; then seed_offsets; fi

# ---------------------------------------------------------------------------
# 4. Generate and produce

expect="$tmp/expect.json"
say "generating $MONTH and producing it to $t_records (sgs-gen --seed $SEED)"
gen_args=(--month "$MONTH" --seed "$SEED" --records 11100 --late-share 0.05 --invalid 60
    --duplicates 40 --malformed 5 --unknown-unit 8 --gaps 12 --format mixed
    --no-reported-at-share 0.01)
"$bdir/sgs-gen" -c "$conf" -X kafka.message.timeout.ms=60000 "${gen_args[@]}" --produce --expect "$expect" 2>"$tmp/sgs-gen.log" || {
    show_tail "$tmp/sgs-gen.log"
    die "sgs-gen failed"
}
gen_line=$(grep 'produced' "$tmp/sgs-gen.log" | tail -n1) || true
say "${gen_line#sgs-gen: }"
produced=$(sed -n 's/.*produced \([0-9][0-9]*\) of .*/\1/p' <<<"$gen_line")
[[ $produced =~ ^[0-9]+$ ]] || die "cannot read the number produced from: $gen_line"

# ---------------------------------------------------------------------------
# 5. Consume, with progress from Redis (the sum of the partitions' offsets)

consumed_now() { # messages written to Redis by the consumer so far
    local s
    s=$(rcli --raw EVAL "local s = 0
        for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
            s = s + tonumber(redis.call('GET', k) or 0)
        end
        return s" 0 "$prefix:{$t_records:*}:offset" 2>/dev/null) || s=""
    [[ $s =~ ^[0-9]+$ ]] || s=$base_offset
    echo $((s - base_offset))
}

: >"$tmp/sgs-consumer.log"
"$bdir/sgs-consumer" -c "$conf" --exit-on-idle 3 </dev/null >"$tmp/sgs-consumer.log" 2>&1 &
cpid=$!
started+=("sgs-consumer $cpid")
say "sgs-consumer (pid $cpid) until it has been idle for 3 s"

t0=$(now_ms)
t_first=0
n_first=0
t_last=0
last_n=0
last_print=0
done_n=0
limit_s=${DEMO_CONSUMER_TIMEOUT:-300}
while alive "$cpid"; do
    now=$(now_ms)
    done_n=$(consumed_now)
    if ((done_n > 0 && t_first == 0)); then
        t_first=$now
        n_first=$done_n
    fi
    if ((done_n > last_n)); then # the rate while messages arrive, not while idle
        last_n=$done_n
        t_last=$now
    fi
    lag=$((produced - done_n))
    if ((lag < 0)); then lag=0; fi
    if ((done_n == 0)); then
        if grep -q 'assigned ' "$tmp/sgs-consumer.log" 2>/dev/null; then
            state="partitions assigned, reading"
        else
            state="joining group sgs-$run_id"
        fi
        msg="consumer: $state ($(((now - t0) / 1000)) s)"
    else
        rate=""
        if ((t_last > t_first)); then
            rate=", $(((last_n - n_first) * 1000 / (t_last - t_first))) msg/s"
        fi
        msg="consumer: $done_n of $produced messages ($((done_n * 100 / (produced > 0 ? produced : 1)))%)$rate, lag $lag"
        if ((lag == 0)); then msg+=", caught up (stops after 3 s idle)"; fi
    fi
    if ((tty)); then
        printf '\r\033[K%s' "$msg" >&2
        line_open=1
    elif ((now - last_print >= 2000)); then
        printf 'sgs demo: %s\n' "$msg" >&2
        last_print=$now
    fi
    for svc in "${started[@]}"; do # a server that died leaves the consumer waiting
        read -r name pid <<<"$svc"
        if [ "$name" != sgs-consumer ] && ! alive "$pid"; then
            show_tail "$tmp/sgs-consumer.log" 5
            die "$name (pid $pid) exited while the consumer was running"
        fi
    done
    if ((now - t0 > limit_s * 1000)); then
        show_tail "$tmp/sgs-consumer.log"
        die "sgs-consumer still running after $limit_s s"
    fi
    sleep 0.2
done
crc=0
wait "$cpid" || crc=$?
endline
if ((crc != 0)); then
    show_tail "$tmp/sgs-consumer.log"
    die "sgs-consumer exited with status $crc"
fi
summary=$(grep '^sgs-consumer: processed ' "$tmp/sgs-consumer.log" | tail -n1) || true
[ -n "$summary" ] || {
    show_tail "$tmp/sgs-consumer.log"
    die "sgs-consumer printed no summary line"
}
stats=$(grep 'sgs-consumer: info: stats: ' "$tmp/sgs-consumer.log" | tail -n1) || true
say "${summary#sgs-consumer: }"
stats=${stats#*stats: }
stats=${stats#* msg/s, }
say "consumer: $stats"
done_n=$(consumed_now)
((done_n == produced)) || die "the consumer stored offsets for $done_n messages, $produced were produced"
n_processed=$(sed -n 's/^sgs-consumer: processed \([0-9][0-9]*\) messages.*/\1/p' <<<"$summary")
((n_processed == produced)) || die "the consumer processed $n_processed messages, $produced were produced"

# ---------------------------------------------------------------------------
# 6. Spot check: a few reported decisions (written with other bracket styles),
#    and decisions never reported (numbers the generator left out) -> concealed

sample="$tmp/sample.tsv"
want_found=0
want_concealed=0
spot_check_ran=0

expect_items() { # D<TAB>unit<TAB>doc (first sent number of each unit) and
    #              G<TAB>unit<TAB>kind<TAB>prefix<TAB>year<TAB>serial (a left-out number)
    case $json_tool in
    python3)
        python3 - "$expect" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1], encoding="utf-8"))
docs = e.get("doc_nos", {})
for unit, nos in docs.items():
    if nos:
        print("D\t%s\t%s" % (unit, nos[0]))
for unit, gaps in e.get("gaps", {}).items():
    for g in gaps:
        lic = g["kind"] == "license"
        same = [d for d in docs.get(unit, []) if d.split("〔")[0].endswith("许") == lic]
        if same and g["missing"]:
            print("G\t%s\t%s\t%s\t%s\t%s" % (unit, g["kind"], same[0].split("〔")[0], g["year"],
                                             g["missing"][0]))
EOF
        ;;
    jq)
        jq -r '(.doc_nos | to_entries[] | select(.value | length > 0)
                | "D\t\(.key)\t\(.value[0])"),
               (.doc_nos as $d | .gaps | to_entries[] | .key as $u | .value[] | . as $g
                | ([$d[$u][] | select((split("〔")[0] | endswith("许")) == ($g.kind == "license"))]
                   | first) as $doc
                | select($doc != null and ($g.missing | length) > 0)
                | "G\t\($u)\t\($g.kind)\t\($doc | split("〔")[0])\t\($g.year)\t\($g.missing[0])")' \
            "$expect"
        ;;
    esac
}

unit_field() { # unit_id column -> that column of the registry (2 name, 4 aliases)
    awk -F'\t' -v id="$1" -v c="$2" '$1 == id { print $c; exit }' "$units_file"
}

fullwidth() { sed 's/0/０/g; s/1/１/g; s/2/２/g; s/3/３/g; s/4/４/g; s/5/５/g; s/6/６/g; s/7/７/g; s/8/８/g; s/9/９/g'; }

if [ -z "$json_tool" ]; then
    say "NOTE: neither python3 nor jq is installed: no spot check and no count check"
else
    mapfile -t items < <(expect_items)
    {
        printf 'unit_id\tkind\tdoc_no\n'
        printf '# built by scripts/demo.sh from the generator expectation\n'
        d=0
        g=0
        for it in "${items[@]}"; do
            IFS=$'\t' read -r tag unit a b c e <<<"$it"
            if [ "$tag" = D ] && ((d < 4)); then
                doc=$a
                pre=${doc%%〔*}
                rest=${doc#*〔}
                year=${rest%%〕*}
                serial=${rest#*〕}
                serial=${serial%号}
                if [[ $pre == *许 ]]; then kind=license; else kind=penalty; fi
                case $d in
                0) printf '%s\t%s\t%s[%s]%s号\n' "$unit" "$kind" "$pre" "$year" "$serial" ;;
                1) printf '%s\t%s\t%s（%s）%s号\n' "$(unit_field "$unit" 2)" \
                    "$([ $kind = license ] && echo 行政许可 || echo 行政处罚)" "$pre" "$year" "$serial" ;;
                2)
                    alias=$(unit_field "$unit" 4)
                    alias=${alias%%,*}
                    printf '%s\t%s\t%s(%s)第0%s号\n' "${alias:-$unit}" \
                        "$([ $kind = license ] && echo 许可 || echo 处罚)" "$pre" "$year" "$serial"
                    ;;
                3) printf '%s\t%s\t%s〔%s〕%s号\n' "$unit" "$kind" "$pre" "$year" \
                    "$(printf '%s' "$serial" | fullwidth)" ;;
                esac
                d=$((d + 1))
            elif [ "$tag" = G ] && ((g < 2)); then
                printf '%s\t%s\t%s〔%s〕%s号\n' "$unit" "$a" "$b" "$c" "$e"
                g=$((g + 1))
            fi
        done
    } >"$sample"
    want_found=$d
    want_concealed=$g
    say "spot check of $((want_found + want_concealed)) decisions ($want_found reported, $want_concealed never reported)"
    "$bdir/sgs-aggregator" -c "$conf" spot-check --month "$MONTH" --sample "$sample" \
        >"$tmp/spot-check.json" 2>"$tmp/spot-check.log" || {
        show_tail "$tmp/spot-check.log"
        sed 's/^/  | /' "$sample" >&2
        die "sgs-aggregator spot-check failed"
    }
    spot_check_ran=1
    case $json_tool in
    python3)
        spot=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["sampled"], r["found"], r["concealed"], "; ".join("%s %s" % (i["unit_name"], i["doc_no"]) for i in r["items"]))' "$tmp/spot-check.json") ||
            die "cannot read $tmp/spot-check.json"
        ;;
    jq)
        spot=$(jq -r '"\(.sampled) \(.found) \(.concealed) \([.items[] | "\(.unit_name) \(.doc_no)"] | join("; "))"' "$tmp/spot-check.json") ||
            die "cannot read $tmp/spot-check.json"
        ;;
    esac
    read -r s_sampled s_found s_concealed s_items <<<"$spot"
    say "spot check: $s_sampled sampled, $s_found found, $s_concealed concealed: ${s_items:-none}"
    if ((s_found != want_found || s_concealed != want_concealed)); then
        sed 's/^/  | /' "$sample" >&2
        die "spot check: expected $want_found found and $want_concealed concealed"
    fi
fi

# ---------------------------------------------------------------------------
# 7. Snapshot: the notice and its annexes

say "snapshot of $MONTH (sgs-aggregator snapshot, dated $SGS_NOW)"
SGS_NOW=$SGS_NOW "$bdir/sgs-aggregator" -c "$conf" -X kafka.message.timeout.ms=60000 snapshot --month "$MONTH" --out "$OUT" \
    >"$tmp/snapshot.out" 2>"$tmp/snapshot.log" || {
    show_tail "$tmp/snapshot.log"
    die "sgs-aggregator snapshot failed"
}
say "$(cat "$tmp/snapshot.out")"
snap="$OUT/$MONTH.json"
notice="$OUT/$MONTH-notice.md"
[ -s "$snap" ] && [ -s "$notice" ] || die "the snapshot did not write $snap and $notice"

# ---------------------------------------------------------------------------
# 8. The counts against the generator's expectation

count_check() { # prints mismatches, one a line; nothing when all match
    case $json_tool in
    python3)
        python3 - "$expect" "$snap" "$want_concealed" <<'EOF'
import json, sys
exp = json.load(open(sys.argv[1], encoding="utf-8"))
snap = json.load(open(sys.argv[2], encoding="utf-8"))
units = {u["unit_id"]: u for u in snap["units"]}
for uid, want in exp["units"].items():
    got = units.get(uid)
    if got is None:
        print("%s: not in the snapshot" % uid)
        continue
    for f in ("records", "late", "invalid", "duplicates", "licenses", "penalties"):
        if got.get(f) != want[f]:
            print("%s %s: snapshot %s, expected %s" % (uid, f, got.get(f), want[f]))
for uid, got in units.items():
    if uid not in exp["units"] and got["records"]:
        print("%s: %d records, none expected" % (uid, got["records"]))
t = snap["totals"]
if t["unattributed"] != exp["unattributed"]:
    print("unattributed: snapshot %s, expected %s" % (t["unattributed"], exp["unattributed"]))
if t["concealed"] != int(sys.argv[3]):
    print("concealed: snapshot %s, expected %s" % (t["concealed"], sys.argv[3]))
EOF
        ;;
    jq)
        jq -n -r --slurpfile e "$expect" --slurpfile s "$snap" --argjson c "$want_concealed" '
            $e[0] as $e | $s[0] as $s
            | ($s.units | map({key: .unit_id, value: .}) | from_entries) as $u
            | ($e.units | to_entries[] | .key as $id | .value as $w
               | if $u[$id] == null then "\($id): not in the snapshot"
                 else ("records", "late", "invalid", "duplicates", "licenses", "penalties")
                      | select($u[$id][.] != $w[.])
                      | "\($id) \(.): snapshot \($u[$id][.]), expected \($w[.])" end),
              (if $s.totals.unattributed != $e.unattributed
               then "unattributed: snapshot \($s.totals.unattributed), expected \($e.unattributed)"
               else empty end),
              (if $s.totals.concealed != $c
               then "concealed: snapshot \($s.totals.concealed), expected \($c)" else empty end)'
        ;;
    esac
}

# the consumer's final stats line against the expectation (no JSON tool needed)
stat_of() { sed -n "s/.* $1 \([0-9][0-9]*\).*/\1/p" <<<" $stats"; }
exp_of() { sed -n "s/^  \"$1\": \([0-9][0-9]*\),*$/\1/p" "$expect" | head -n1; }
bad=""
for pair in messages:messages rejects:rejects late:late_alerts unattributed:unattributed; do
    s=$(stat_of "${pair%%:*}")
    e=$(exp_of "${pair#*:}")
    if [ -n "$s" ] && [ -n "$e" ] && [ "$s" != "$e" ]; then
        bad+="consumer ${pair%%:*}: $s, expected $e"$'\n'
    fi
done
if [ -n "$json_tool" ]; then
    bad+=$(count_check) || die "the count check itself failed"
fi
if [ -n "$bad" ]; then
    endline
    printf '%s\n' "$bad" | head -n 40 | sed 's/^/  /' >&2
    die "the counts do NOT match the generator's expectation"
fi

# ---------------------------------------------------------------------------
# 9. Results

echo
cat "$notice"
echo
echo "== files written to $OUT"
(cd "$OUT" && ls -l -- "$MONTH.json" "$MONTH"-*.csv "$MONTH-notice.md") | sed 's/^/  /'
echo
echo "== $produced messages: ${summary#sgs-consumer: }"
if [ -n "$json_tool" ]; then
    echo "== counts match the generator's expectation (per unit: records, late, invalid," \
        "duplicates, licences, penalties; unattributed; concealed $want_concealed)"
    echo "== spot check: $s_sampled sampled, $s_found found, $s_concealed concealed"
else
    echo "== consumer totals match the generator's expectation (per-unit check skipped:" \
        "install python3 or jq)"
fi
echo "== the notice: $notice"
finished=1 # cleanup prints the time taken once everything is stopped

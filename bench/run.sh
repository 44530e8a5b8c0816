#!/bin/sh
# The benchmarks in one command (issue 7; docs/PERFORMANCE.md, docs/AGGREGATOR.md).
#
#   bench/run.sh                      throughput: real Apache Kafka broker, 1,000,000 records, 3 rounds
#   bench/run.sh --broker mock        librdkafka's mock cluster, 120,000 records / 32 partitions
#   bench/run.sh --records 200000 --rounds 1 --json out.json
#   bench/run.sh --allocs             also allocations per message (LD_PRELOAD counter)
#   bench/run.sh --peer FILE          the Python peer to compare with (default: found, below)
#   bench/run.sh snapshot [--units N] [--runs N]     sgs-aggregator snapshot, 5,000 units
#   bench/run.sh redis-script [--batches N] ...      Redis CPU per record, step by step
#   bench/run.sh script-replay [--records N] ...     the consumer's real batch scripts replayed:
#                                                     Redis CPU per message, step by step
#   bench/run.sh rcl [--scripts N] ...                scripts on 1 Redis node vs 3 cluster masters
#   bench/run.sh cluster [--records N] [--runs N]    sgs-consumer on 1 and 3 Redis masters, with 1
#                                                     and 3 consumers (--masters, --consumers lists)
#   bench/run.sh console [--units N] [--runs N]      sgs-aggregator serve: /api/v1/live for
#                                                     5,000 units, 100 idle alert streams
#
# Works from any checkout (a clone, a git worktree, any directory). Builds
# (incrementally) what the benchmark needs in $SGS_BUILD_DIR (default: build/ in
# this checkout): for the throughput sgs-consumer, sgs-gen, sgs-devbroker and
# bench/ceiling_consumer (with --allocs also the counter, libsgs_alloc_count.so),
# for snapshot sgs-aggregator. The throughput benchmark finds the broker jars
# (scripts/kafka-jars.sh, unless $SGS_KAFKA_JARS is set) and the Python peer
# (--peer, else $SGSBENCH_PEER, else shared/bench/peer_consumer.py in a directory
# above this checkout, its main worktree or the repository it was cloned from).
# The Python benchmarks run with /usr/bin/python3 (Debian's confluent-kafka and
# redis-py) and the tests' start-up library (tests/lib on PYTHONPATH). Every
# other option goes to the benchmark (--help lists them). Everything it starts
# (broker, Redis, consumers) is stopped when it ends or is interrupted.
#
# The benchmarks' own variables are never SGS_*: every SGS_* variable is a
# configuration key for the sgs programs, which refuse unknown ones.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${SGS_BUILD_DIR:-$src/build}

bench=throughput
case ${1:-} in
snapshot | redis-script | script-replay | rcl | console | cluster)
    bench=$1
    shift
    ;;
esac

case $bench in
throughput)
    script=throughput.py
    targets="sgs-consumer sgs-gen sgs-devbroker ceiling_consumer"
    for arg in "$@"; do
        [ "$arg" = --allocs ] && targets="$targets sgs_alloc_count"
    done
    ;;
snapshot)
    script=snapshot_bench.py
    targets="sgs-aggregator"
    ;;
redis-script)
    script=redis_script_bench.py
    targets=""
    ;;
script-replay)
    script=script_replay.py
    targets="sgs-consumer sgs-gen sgs-devbroker"
    ;;
rcl)
    script=rcl_bench.py
    targets="rcl_bench"
    ;;
console)
    script=console_bench.py
    targets="sgs-aggregator"
    ;;
cluster)
    script=cluster_bench.py
    targets="sgs-consumer sgs-gen"
    ;;
esac

if [ -n "$targets" ]; then
    # Always an incremental build: a stale binary would measure old code.
    [ -f "$build/CMakeCache.txt" ] ||
        cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    echo "run.sh: building $targets in $build" >&2
    # shellcheck disable=SC2086 # the target list is split on purpose
    cmake --build "$build" -j"$(nproc)" --target $targets >/dev/null
fi

if [ "$bench" = throughput ]; then
    mock=0
    prev=
    for arg in "$@"; do
        [ "$prev" = --broker ] && [ "$arg" = mock ] && mock=1
        [ "$arg" = --broker=mock ] && mock=1
        prev=$arg
    done
    if [ "$mock" = 0 ] && [ -z "${SGS_KAFKA_JARS:-}" ]; then
        SGS_KAFKA_JARS=$(bash "$src/scripts/kafka-jars.sh" | tail -n 1)
        export SGS_KAFKA_JARS
    fi
    set -- --build "$build" "$@"
elif [ "$bench" = snapshot ] || [ "$bench" = console ] || [ "$bench" = cluster ] ||
    [ "$bench" = script-replay ]; then
    set -- --build "$build" "$@"
fi

export SGS_BUILD_DIR="$build" SGS_SOURCE_DIR="$src"
PYTHONPATH="$src/tests/lib${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
exec /usr/bin/python3 "$src/bench/$script" "$@"

#!/bin/sh
# The throughput benchmark in one command (issue 7; docs/PERFORMANCE.md).
#
#   bench/run.sh                      real Apache Kafka broker, 1,000,000 records, 3 rounds
#   bench/run.sh --broker mock        librdkafka's mock cluster, 120,000 records / 32 partitions
#   bench/run.sh --records 200000 --rounds 1 --json out.json
#   bench/run.sh --allocs             also allocations per message (LD_PRELOAD counter)
#
# Builds (incrementally) sgs-consumer, sgs-gen, sgs-devbroker and
# bench/ceiling_consumer (with --allocs also the counter, libsgs_alloc_count.so)
# in $SGS_BUILD_DIR (default: build/ in the source tree), finds
# the broker jars (scripts/kafka-jars.sh, unless $SGS_KAFKA_JARS is set), then
# runs bench/throughput.py with /usr/bin/python3 (Debian's confluent-kafka and
# redis-py). Every option goes to throughput.py (--help lists them). Everything
# it starts (broker, Redis, consumers) is stopped when it ends or is interrupted.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${SGS_BUILD_DIR:-$src/build}

allocs=0
for arg in "$@"; do
    [ "$arg" = --allocs ] && allocs=1
done

targets="sgs-consumer sgs-gen sgs-devbroker ceiling_consumer"
[ "$allocs" = 1 ] && targets="$targets sgs_alloc_count"
# Always an incremental build: a stale binary would measure old code.
[ -f "$build/CMakeCache.txt" ] || cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
echo "run.sh: building $targets in $build" >&2
# shellcheck disable=SC2086 # the target list is split on purpose
cmake --build "$build" -j"$(nproc)" --target $targets >/dev/null

mock=0
for arg in "$@"; do
    [ "$arg" = mock ] && mock=1
    [ "$arg" = --broker=mock ] && mock=1
done
if [ "$mock" = 0 ] && [ -z "${SGS_KAFKA_JARS:-}" ]; then
    SGS_KAFKA_JARS=$(bash "$src/scripts/kafka-jars.sh" | tail -n 1)
    export SGS_KAFKA_JARS
fi

export SGS_BUILD_DIR="$build" SGS_SOURCE_DIR="$src"
exec /usr/bin/python3 "$src/bench/throughput.py" --build "$build" "$@"

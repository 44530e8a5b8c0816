#!/bin/sh
# The throughput benchmark in one command (issue 7; docs/PERFORMANCE.md).
#
#   bench/run.sh                      real Apache Kafka broker, 1,000,000 records, 3 rounds
#   bench/run.sh --broker mock        librdkafka's mock cluster, 120,000 records / 32 partitions
#   bench/run.sh --records 200000 --rounds 1 --json out.json
#
# Builds sgs-consumer, sgs-gen, sgs-devbroker and bench/ceiling_consumer into
# $SGS_BUILD_DIR (default: build/ in the source tree) when one is missing, finds
# the broker jars (scripts/kafka-jars.sh, unless $SGS_KAFKA_JARS is set), then
# runs bench/throughput.py with /usr/bin/python3 (Debian's confluent-kafka and
# redis-py). Every option goes to throughput.py (--help lists them). Everything
# it starts (broker, Redis, consumers) is stopped when it ends or is interrupted.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${SGS_BUILD_DIR:-$src/build}

need_build=0
for prog in sgs-consumer sgs-gen sgs-devbroker ceiling_consumer; do
    [ -x "$build/$prog" ] || need_build=1
done
if [ "$need_build" = 1 ]; then
    echo "run.sh: building into $build" >&2
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j"$(nproc)" --target sgs-consumer sgs-gen sgs-devbroker \
        ceiling_consumer >/dev/null
fi

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

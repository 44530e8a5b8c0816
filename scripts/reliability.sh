#!/usr/bin/env bash
# Runs the fault suite (ctest label "fault": tests/fault/test_*.py) and
# regenerates the tables of docs/RELIABILITY.md from the figures each scenario
# writes to $SGS_RELIABILITY_OUT; the text around the markers is kept.
#
# usage: scripts/reliability.sh [BUILD_DIR]    (default: build; built first)
#
# Needs what scripts/setup.sh test installs (redis-server, strace, Java and
# the Kafka broker jars, python3-confluent-kafka, python3-redis). Exits with
# ctest's status; the tables are rewritten either way (a failed scenario
# shows "NO" in the Exact column).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
bash scripts/build.sh "$dir"
if [ -z "${SGS_KAFKA_JARS:-}" ]; then
    SGS_KAFKA_JARS=$(bash scripts/kafka-jars.sh 2>/dev/null | tail -n 1) || SGS_KAFKA_JARS=
    [ -n "$SGS_KAFKA_JARS" ] && export SGS_KAFKA_JARS
fi
out=$(mktemp "${TMPDIR:-/tmp}/sgs-reliability.XXXXXX.jsonl")
trap 'rm -f "$out"' EXIT
export SGS_RELIABILITY_OUT="$out"
t0=$(date +%s)
status=0
(cd "$dir" && ctest -L fault --output-on-failure -j1) || status=$?
t1=$(date +%s)
/usr/bin/python3 tests/fault/reliability_table.py "$out" docs/RELIABILITY.md \
    --elapsed $((t1 - t0)) --status "$status"
echo "reliability: fault label took $((t1 - t0)) s; docs/RELIABILITY.md updated"
exit "$status"

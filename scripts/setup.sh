#!/usr/bin/env bash
# Installs what sgs needs from Debian's packages, calling apt-get only for
# packages that are absent (idempotent). Usage: scripts/setup.sh [build|demo|test]
#   build: compiler, CMake and the libraries (libxlsxwriter: the workbook;
#          libmicrohttpd: the console, metrics; libjemalloc: the consumer's
#          allocator)
#   demo:  build + redis-server, kcat, and Python 3 with the Redis and Kafka
#          clients (the demo's pipeline runs on the tests' start-up library)
#   test:  demo + pytest, Java and Maven (real Kafka broker), clang tools,
#          valgrind, strace, docker-compose (validates docker-compose.yml);
#          openpyxl (reads the workbook back), Chromium with chromium-driver and
#          python3-selenium (the console in a headless browser; the report page
#          printed to PDF), poppler-utils (a page to PNG) with a CJK font,
#          python3-prometheus-client (parses /metrics)
set -euo pipefail

profile=${1:-test}
pkgs=(build-essential cmake pkg-config librdkafka-dev libjansson-dev libhiredis-dev libcmocka-dev
    libxlsxwriter-dev libmicrohttpd-dev libjemalloc-dev)
case $profile in
build) ;;
demo) pkgs+=(redis-server kcat python3 python3-confluent-kafka python3-redis) ;;
test)
    pkgs+=(redis-server kcat python3 python3-confluent-kafka python3-redis python3-pytest
        openjdk-17-jre-headless maven clang clang-format libclang-rt-14-dev
        valgrind strace time docker-compose python3-openpyxl chromium chromium-driver
        python3-selenium python3-prometheus-client poppler-utils fonts-wqy-microhei)
    ;;
*)
    echo "setup.sh: unknown profile '$profile' (build, demo or test)" >&2
    exit 2
    ;;
esac

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    echo "setup.sh: installing ${missing[*]}" >&2
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

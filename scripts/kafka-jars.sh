#!/usr/bin/env bash
# Provisions the jars of a real Apache Kafka broker (for the integration tests)
# from Maven Central and prints the directory holding them.
#
#   scripts/kafka-jars.sh        -> ${SGS_CACHE_DIR:-/var/cache/sgs}/kafka-<version>
#
# The version and the logging backend are those of tools/kafka/pom.xml (the
# choice is explained there). Idempotent: a directory is trusted only when its
# marker file (.sgs-complete, holding the SHA-256 of the POM it came from) is
# present and matches, so an interrupted download or an edited POM is done
# again. The download goes to a scratch directory that is renamed into place at
# the end; concurrent runs serialise on a lock file. Messages go to stderr,
# only the directory to stdout. Needs mvn and Java (scripts/setup.sh test).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
pom="$here/tools/kafka/pom.xml"
cache=${SGS_CACHE_DIR:-/var/cache/sgs}

die() {
    echo "kafka-jars.sh: $*" >&2
    exit 1
}

[[ -f $pom ]] || die "missing $pom"
version=$(sed -n 's|.*<kafka.version>\([^<]*\)</kafka.version>.*|\1|p' "$pom" | head -n1)
[[ -n $version ]] || die "no <kafka.version> in $pom"
dir="$cache/kafka-$version"
marker="$dir/.sgs-complete"
want=$(sha256sum "$pom" | cut -d' ' -f1)

complete() {
    [[ -f $marker && $(cat "$marker") == "$want" ]] && compgen -G "$dir/kafka_2.13-$version.jar" >/dev/null
}

if complete; then
    echo "$dir"
    exit 0
fi

command -v mvn >/dev/null || die "mvn not found (install the Debian package 'maven'; scripts/setup.sh test does)"
command -v java >/dev/null || die "java not found (install 'openjdk-17-jre-headless'; scripts/setup.sh test does)"
mkdir -p "$cache" || die "cannot create $cache (set SGS_CACHE_DIR to a writable directory)"

# One provisioning at a time; the second waiter finds the cache complete.
exec 9>"$cache/.kafka-$version.lock"
if command -v flock >/dev/null; then
    flock 9
fi
if complete; then
    echo "$dir"
    exit 0
fi

# Scratch directories of runs that were killed (we hold the lock: none is live).
rm -rf "$cache/.kafka-$version.partial."*
echo "kafka-jars.sh: downloading Apache Kafka $version broker jars from Maven Central into $dir" >&2
tmp=$(mktemp -d "$cache/.kafka-$version.partial.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log="$tmp/.mvn.log"
if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$tmp" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "mvn dependency:copy-dependencies failed (network or Maven Central unreachable?)"
fi
rm -f "$log"
[[ -f $tmp/kafka_2.13-$version.jar ]] || die "kafka_2.13-$version.jar missing after download"
compgen -G "$tmp/log4j-core-*.jar" >/dev/null || compgen -G "$tmp/reload4j-*.jar" >/dev/null ||
    die "no logging backend jar after download (see $pom)"

echo "$want" >"$tmp/.sgs-complete"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"

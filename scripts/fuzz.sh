#!/usr/bin/env bash
# Builds the libFuzzer targets tests/fuzz/fuzz_*.c with clang under ASan + UBSan
# (build-fuzz/, -DSGS_FUZZ=ON) and, for each target:
#   1. runs every saved input of tests/fuzz/regressions/<target>/ once;
#   2. fuzzes for SECONDS seconds, starting from a temporary copy of
#      tests/fuzz/corpus/<target>/ plus the regressions (the repository's corpus
#      does not grow).
# Any crash, sanitizer report, broken invariant, leak, timeout (-timeout=10) or
# out-of-memory (-rss_limit_mb=2048) fails the run (exit 1); a new crashing input
# is saved under tests/fuzz/regressions/<target>/ to be committed with the fix.
# One fuzzer at a time (the CI machine has 2 cores).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]    (default 60 s, every target)
# scripts/test.sh calls it with 20 s per target: 7 targets x 20 s plus about a
# minute of build, ~3.5 minutes in all, inside the CI budget of ~40 minutes.
# Reproduce one input: build-fuzz/fuzz_<target> FILE
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
    echo "fuzz.sh: SECONDS must be a positive integer, got '$secs'" >&2
    exit 2
fi
if ! command -v clang >/dev/null; then
    echo "fuzz.sh: clang not found: install clang and libclang-rt-14-dev (scripts/setup.sh test)" >&2
    exit 1
fi

# Longest input each target makes up (-max_len); saved inputs may be longer.
declare -A max_len=([record]=65536 [jsonscan]=65536 [docno]=4096 [config]=16384
    [registry]=65536 [calendar]=65536 [sample]=16384)

targets=("$@")
all=0
if ((${#targets[@]} == 0)); then
    all=1
    for src in tests/fuzz/fuzz_*.c; do
        t=${src#tests/fuzz/fuzz_}
        targets+=("${t%.c}")
    done
fi

echo "== fuzz: build (clang, ASan + UBSan, build-fuzz/)"
dir=build-fuzz
if [[ -f $dir/CMakeCache.txt ]] && ! grep -q '^CMAKE_C_COMPILER:.*clang' "$dir/CMakeCache.txt"; then
    rm -rf "$dir" # configured with another compiler
fi
CC=clang cmake -S . -B "$dir" -DSGS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$dir" --target sgs_fuzz -j"$(nproc)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1:allocator_may_return_null=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:symbolize=1

work=$(mktemp -d "${TMPDIR:-/tmp}/sgs-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()

# The report of a failed run: from the first sanitizer/invariant line to the
# first SUMMARY line (what follows is libFuzzer's own stack).
show_report() {
    local log=$1
    local from
    from=$(grep -n -m1 -E '==[0-9]+== ?ERROR|runtime error|invariant broken|ALARM|out-of-memory' "$log" | cut -d: -f1 || true)
    sed -n "${from:-1},\$p" "$log" | sed '/^SUMMARY:/q' | sed -e 's/ (BuildId: [0-9a-f]*)//' -e 's/^/    /' | head -60
}

# One of libFuzzer's final statistics (-print_final_stats=1), '?' when absent.
final_stat() {
    grep -m1 -o "stat::$2: *[0-9]*" "$1" | grep -o '[0-9]*$' || echo '?'
}

# Copies libFuzzer's artifacts into the regressions and says so.
save_artifacts() {
    local t=$1 art=$2 f dest
    for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
        [[ -e $f ]] || continue
        dest=tests/fuzz/regressions/$t/$(basename "$f")
        mkdir -p "tests/fuzz/regressions/$t"
        cp "$f" "$dest"
        echo "  crashing input: $dest"
        echo "  (saved there from libFuzzer's $(basename "$f"): commit it with the fix; it runs as a regression every time)"
    done
}

for t in "${targets[@]}"; do
    bin=$dir/fuzz_$t
    if [[ ! -x $bin ]]; then
        if ((all)) && [[ -f tests/fuzz/fuzz_$t.c ]]; then
            echo "fuzz_$t: not built (CMakeLists.txt leaves it out: what it tests is absent)"
            continue
        fi
        echo "fuzz.sh: no target '$t' (tests/fuzz/fuzz_$t.c)" >&2
        failed+=("$t")
        continue
    fi
    echo "== fuzz_$t"

    # 1. Regressions, each input once.
    reg_failed=0
    n_reg=0
    if [[ -d tests/fuzz/regressions/$t ]]; then
        while IFS= read -r -d '' f; do
            n_reg=$((n_reg + 1))
            if ! "$bin" "$f" >"$work/reg.log" 2>&1; then
                echo "  FAIL regression $f:"
                show_report "$work/reg.log"
                reg_failed=1
            fi
        done < <(find "tests/fuzz/regressions/$t" -type f ! -name 'README*' -print0 | sort -z)
    fi
    if ((reg_failed)); then
        echo "fuzz_$t: regression inputs fail; not fuzzed"
        failed+=("$t")
        continue
    fi

    # 2. Fuzzing from a copy of the corpus (and the regressions).
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    if [[ -d tests/fuzz/corpus/$t ]]; then
        find "tests/fuzz/corpus/$t" -type f -exec cp {} "$work/$t/corpus/" \;
    fi
    if [[ -d tests/fuzz/regressions/$t ]]; then
        find "tests/fuzz/regressions/$t" -type f ! -name 'README*' -exec cp {} "$work/$t/corpus/" \;
    fi
    args=(-max_total_time="$secs" -max_len="${max_len[$t]:-65536}" -timeout=10
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/")
    if [[ -f tests/fuzz/$t.dict ]]; then
        args+=(-dict="tests/fuzz/$t.dict")
    fi
    status=0
    "$bin" "${args[@]}" "$work/$t/corpus" >"$work/$t/log" 2>&1 || status=$?

    log=$work/$t/log
    runs=$(final_stat "$log" number_of_executed_units)
    eps=$(final_stat "$log" average_exec_per_sec)
    rss=$(final_stat "$log" peak_rss_mb)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n1 || true)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || echo '?')
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || echo '?')
    corp=$(grep -o 'corp: [0-9]*' <<<"$last" | grep -o '[0-9]*$' || echo '?')
    verdict=ok
    if ((status != 0)); then
        verdict="FAILED (exit $status)"
    fi
    printf 'fuzz_%-9s %3d s  %10s runs  %7s exec/s  cov %5s  ft %6s  corpus %5s  rss %4s MB  regressions %d  %s\n' \
        "$t" "$secs" "$runs" "$eps" "$cov" "$ft" "$corp" "$rss" "$n_reg" "$verdict"
    if ((status != 0)); then
        show_report "$log"
        save_artifacts "$t" "$work/$t/artifacts"
        failed+=("$t")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]}"
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed (${secs} s each)"

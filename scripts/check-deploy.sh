#!/usr/bin/env bash
# Checks the deployment files as far as a machine without a Docker engine can:
#
#   docker-compose.yml  docker-compose config -q passes with no output (no
#                       errors, no warnings)
#   Dockerfile          base images pinned (not :latest); every apt-get install
#                       uses --no-install-recommends and cleans the apt lists;
#                       every package it installs exists in Debian's index (the
#                       local apt cache, when this machine runs the image's
#                       Debian release); every library -dev package of the
#                       build stage has its runtime library in the final stage;
#                       every COPY source exists and is not excluded by
#                       .dockerignore; every directory CMakeLists.txt names is
#                       copied; every binary copied out of the build stage is a
#                       CMake executable target and is built by the build step;
#                       the final stage runs as a non-root USER, has a
#                       HEALTHCHECK and a CMD or ENTRYPOINT
#   built binaries      when a build directory holds them ($SGS_BUILD_DIR or
#                       build/): each shared library they link directly comes
#                       from a package the final stage installs (or libc6)
#
# Usage: scripts/check-deploy.sh   (exit 0: all checks passed; 1: a check
# failed, each failure on its own line; 2: a tool it needs is missing)
# Idempotent; writes only a temporary directory, removed on exit; a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

failures=0
ok() { echo "check-deploy: ok - $*"; }
fail() {
    echo "check-deploy: FAIL - $*" >&2
    failures=$((failures + 1))
}
note() { echo "check-deploy: note - $*"; }
need() {
    command -v "$1" >/dev/null 2>&1 ||
        {
            echo "check-deploy: '$1' not found: $2" >&2
            exit 2
        }
}

need docker-compose "install the Debian package docker-compose (scripts/setup.sh test does)"
need apt-cache "this check needs a Debian system"
need cmake "install cmake (scripts/setup.sh build does)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in Dockerfile .dockerignore docker-compose.yml CMakeLists.txt; do
    [[ -f $f ]] || fail "$f: missing"
done
((failures == 0)) || exit 1

# --- docker-compose.yml -------------------------------------------------------
if out=$(docker-compose -f docker-compose.yml config -q 2>&1); then
    if [[ -n $out ]]; then
        fail "docker-compose.yml: docker-compose config printed warnings: $(tr "\n" " " <<<"$out")"
    else
        ok "docker-compose.yml: docker-compose $(docker-compose version --short 2>/dev/null) config -q"
    fi
else
    fail "docker-compose.yml: docker-compose config -q failed: $(tr "\n" " " <<<"$out")"
fi

# --- Dockerfile: logical instructions -----------------------------------------
# One line per instruction: comment lines dropped (Docker drops them inside
# continuations too), backslash continuations joined, tabs made spaces.
awk '
    { sub(/\r$/, "") }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { next }
    {
        line = $0
        gsub(/\t/, " ", line)
        if (sub(/\\[ ]*$/, "", line)) { cont = cont line " "; next }
        print cont line
        cont = ""
    }
    END { if (cont != "") print cont }
' Dockerfile >"$tmp/instructions"

stage=0
declare -a stage_name=() stage_image=()
declare -A installs=()  # stage index -> packages installed there
declare -a copies=()    # "stage|from|src...|dest"
declare -a build_runs=()
final_user="" final_health="" final_cmd=""
while IFS= read -r line; do
    read -r instr rest <<<"$line"
    instr=${instr^^}
    case $instr in
    FROM)
        stage=$((stage + 1))
        read -r -a w <<<"$rest"
        stage_image[stage]=${w[0]}
        stage_name[stage]=""
        if ((${#w[@]} >= 3)) && [[ ${w[1],,} == as ]]; then stage_name[stage]=${w[2]}; fi
        final_user="" final_health="" final_cmd=""
        ;;
    RUN)
        if [[ $rest == *"apt-get install"* ]]; then
            what="Dockerfile stage $stage (${stage_image[stage]}): apt-get install"
            [[ $rest == *--no-install-recommends* ]] || fail "$what without --no-install-recommends"
            [[ $rest == *"apt-get update"* ]] || fail "$what without apt-get update in the same RUN"
            [[ $rest == *"rm -rf /var/lib/apt/lists"* ]] || fail "$what without rm -rf /var/lib/apt/lists/* in the same RUN"
            # The words after "install" up to the next shell operator.
            pk=$(sed -E 's/.*apt-get install//; s/(&&|;|\||\)).*//' <<<"$rest")
            for wd in $pk; do
                [[ $wd == -* ]] && continue
                installs[$stage]+=" $wd"
            done
        fi
        [[ $rest == *"cmake --build"* ]] && build_runs+=("$rest")
        ;;
    COPY | ADD)
        read -r -a w <<<"$rest"
        from=""
        args=()
        for wd in "${w[@]}"; do
            case $wd in
            --from=*) from=${wd#--from=} ;;
            --*) ;;
            *) args+=("$wd") ;;
            esac
        done
        if [[ $instr == ADD ]] && [[ ${args[0]:-} == *://* ]]; then
            fail "Dockerfile: ADD of a URL (${args[0]}): download in a RUN with a checksum instead"
        fi
        if ((${#args[@]} < 2)); then
            fail "Dockerfile: $instr needs a source and a destination: $line"
        else
            copies+=("$stage|$from|${args[*]}")
        fi
        ;;
    USER) final_user=$rest ;;
    HEALTHCHECK) final_health=$rest ;;
    CMD | ENTRYPOINT) final_cmd=$rest ;;
    esac
done <"$tmp/instructions"
final=$stage

if ((final == 0)); then
    fail "Dockerfile: no FROM"
    exit 1
fi

# Base images: pinned, and the release whose package index this machine has.
image_release=""
for ((s = 1; s <= final; s++)); do
    img=${stage_image[s]}
    if [[ $img != *:* || $img == *:latest ]]; then
        fail "Dockerfile stage $s: base image '$img' is not pinned to a tag"
    fi
    case $img in
    debian:bookworm* | debian:12*) image_release=bookworm ;;
    esac
done
ok "Dockerfile: $final stages (${stage_image[*]})"

# --- Dockerfile: packages exist in Debian's index ------------------------------
codename=$( (. /etc/os-release && echo "${VERSION_CODENAME:-}") 2>/dev/null || true)
all_pkgs=$(for s in "${!installs[@]}"; do echo ${installs[$s]}; done | tr ' ' '\n' | sort -u | sed '/^$/d')
if [[ -z $all_pkgs ]]; then
    fail "Dockerfile: no apt-get install found"
elif [[ $image_release != "$codename" ]]; then
    note "package names not checked: the image is Debian '${image_release:-unknown}', this machine '${codename:-unknown}'"
else
    # One apt-cache call for all names (each call reads the whole index).
    found=$(apt-cache show --no-all-versions $all_pkgs 2>/dev/null | sed -n 's/^Package: //p' | sort -u)
    missing=$(comm -23 <(echo "$all_pkgs") <(echo "$found") | tr '\n' ' ' | sed 's/ $//')
    if [[ -z $found ]] && ! apt-cache show --no-all-versions dpkg 2>/dev/null | grep -x 'Package: dpkg' >/dev/null; then
        fail "apt-cache knows no packages: run apt-get update first"
    elif [[ -n $missing ]]; then
        fail "Dockerfile: not in Debian $codename's package index: $missing"
    else
        ok "Dockerfile: all $(wc -w <<<"$all_pkgs") apt packages exist in Debian $codename ($(echo $all_pkgs))"
    fi

    # Each library -dev package used to build has its runtime library in the
    # final stage (libcmocka-dev is for the unit tests only).
    runtime=" ${installs[$final]:-} "
    devs=()
    for s in "${!installs[@]}"; do
        ((s == final)) && continue
        for p in ${installs[$s]}; do
            [[ $p == lib*-dev && $p != libcmocka-dev ]] && devs+=("$p")
        done
    done
    if ((${#devs[@]})); then
        # "pkg" lines, then "  Depends: dep" lines; -> "pkg dep" pairs
        pairs=$(apt-cache depends --no-recommends --no-suggests "${devs[@]}" 2>/dev/null |
            awk '/^[^ ]/ { p = $1 } /^ *Depends: lib[^ <>]*$/ { print p, $2 }')
        for p in "${devs[@]}"; do
            deps=$(awk -v p="$p" '$1 == p { print $2 }' <<<"$pairs")
            hit=""
            for d in $deps; do [[ $runtime == *" $d "* ]] && hit=$d; done
            if [[ -n $hit ]]; then
                ok "Dockerfile: $p (build) -> $hit (runtime)"
            else
                fail "Dockerfile: the final stage installs none of the runtime libraries of $p ($(echo $deps))"
            fi
        done
    fi
fi

# --- Dockerfile: COPY sources ----------------------------------------------------
# .dockerignore patterns without negation, as shell globs on the first path
# component (enough for this repository's simple patterns).
ignore=()
while IFS= read -r pat; do
    pat=${pat%%#*}
    pat=$(sed 's/^[ \t]*//; s/[ \t]*$//' <<<"$pat")
    [[ -z $pat || $pat == !* ]] && continue
    pat=${pat#/}
    pat=${pat%/}
    ignore+=("$pat")
done <.dockerignore

declare -A copied_dirs=()
declare -a out_binaries=()
for c in "${copies[@]}"; do
    IFS='|' read -r s from list <<<"$c"
    read -r -a a <<<"$list"
    dest=${a[${#a[@]} - 1]}
    unset 'a[${#a[@]}-1]'
    for src in "${a[@]}"; do
        if [[ -n $from ]]; then
            out_binaries+=("$(basename "$src")")
            continue
        fi
        rel=${src#./}
        rel=${rel%/}
        if ! compgen -G "$rel" >/dev/null; then
            fail "Dockerfile: COPY source '$src' does not exist in the repository"
            continue
        fi
        first=${rel%%/*}
        for pat in "${ignore[@]}"; do
            # shellcheck disable=SC2053
            if [[ $first == $pat || $rel == $pat ]]; then
                fail "Dockerfile: COPY source '$src' is excluded by .dockerignore ('$pat')"
            fi
        done
        ((s == 1)) && copied_dirs[$first]=1
    done
    : "$dest"
done
ok "Dockerfile: COPY sources checked (${#copies[@]} COPY instructions)"

# Every top-level path CMakeLists.txt names is in the build context.
for d in $(grep -o '\${CMAKE_SOURCE_DIR}/[A-Za-z0-9_.-]*' CMakeLists.txt | sed 's|.*/||' | sort -u); do
    [[ -e $d ]] || continue
    [[ -n ${copied_dirs[$d]:-} ]] || fail "Dockerfile: CMakeLists.txt uses '$d' but the build stage does not COPY it"
done

# --- Dockerfile: binaries are CMake executable targets --------------------------
if ! cmake -S . -B "$tmp/cmake" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1; then
    fail "cmake configure failed (binaries not checked): $(grep -m1 -i 'error' "$tmp/cmake.log" || tail -n1 "$tmp/cmake.log")"
else
    built=$(for r in "${build_runs[@]}"; do
        sed -nE 's/.*--target +([^&;]*).*/\1/p' <<<"$r"
    done | tr ' ' '\n' | sed '/^$/d' | sort -u)
    if ((${#out_binaries[@]} == 0)); then
        fail "Dockerfile: no binary is copied out of the build stage"
    fi
    for b in "${out_binaries[@]}"; do
        link="$tmp/cmake/CMakeFiles/$b.dir/link.txt"
        if [[ ! -f $link ]] || ! grep -qE -- "-o $b( |$)" "$link"; then
            fail "Dockerfile: copies '$b', which is not a CMake executable target"
        elif [[ -n $built ]] && ! grep -qx "$b" <<<"$built"; then
            fail "Dockerfile: copies '$b' but the build step does not build it (--target $(echo $built))"
        else
            ok "Dockerfile: $b is a CMake executable target, built in the image"
        fi
    done
fi

# --- Dockerfile: final stage -------------------------------------------------------
if [[ -z $final_user ]]; then
    fail "Dockerfile: the final stage has no USER (it would run as root)"
elif [[ ${final_user%%:*} == root || ${final_user%%:*} == 0 ]]; then
    fail "Dockerfile: the final stage runs as root (USER $final_user)"
else
    ok "Dockerfile: runs as USER $final_user"
fi
[[ -n $final_health ]] && ok "Dockerfile: HEALTHCHECK $(echo $final_health)" ||
    fail "Dockerfile: the final stage has no HEALTHCHECK"
[[ -n $final_cmd ]] || fail "Dockerfile: the final stage has no CMD or ENTRYPOINT"

# --- Built binaries: their libraries come from the runtime packages ---------------
bdir=${SGS_BUILD_DIR:-build}
runtime=" ${installs[$final]:-} libc6 "
checked=0
if command -v readelf >/dev/null && command -v dpkg >/dev/null; then
    for b in "${out_binaries[@]}"; do
        bin="$bdir/$b"
        [[ -x $bin ]] || continue
        checked=1
        while read -r lib; do
            case $lib in lib[atl]san.so* | libubsan.so*) continue ;; esac
            path=$(ldd "$bin" 2>/dev/null | awk -v l="$lib" '$1 == l && $2 == "=>" { print $3 }')
            pkg=""
            for p in "$path" "${path#/usr}" "/usr$path"; do
                [[ -n $p ]] || continue
                pkg=$(dpkg -S "$p" 2>/dev/null | awk -F: 'NR == 1 { print $1 }') && [[ -n $pkg ]] && break
            done
            if [[ -z $pkg ]]; then
                fail "$bin: needs $lib, which no installed package provides here"
            elif [[ $runtime != *" $pkg "* ]]; then
                fail "$bin: needs $lib from package $pkg, which the final stage does not install"
            fi
        done < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        ok "$bin: every directly linked library comes from a runtime package"
    done
fi
((checked)) || note "no built binaries in $bdir: the libraries they link were not checked"

if ((failures)); then
    echo "check-deploy: $failures check(s) failed" >&2
    exit 1
fi
echo "check-deploy: all checks passed"

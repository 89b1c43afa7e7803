#!/usr/bin/env bash
# 80-examples: the programs in examples/ build warning-free and succeed.
#
#   demo.{gcc,clang}                 examples/demo.c, C11, -O2
#   sodium_kdf.{gcc,clang}           examples/sodium_kdf.c, -O2, libsodium:
#                                    0 residues after the sanitized run,
#                                    some after the plain call
#   sodium_kdf.no-wipe-is-seen       built with HSAFE_TEST_NO_WIPE it must
#                                    fail, reporting residue from the
#                                    sanitized run (its search is not blind)
#   cpp_example.{g++,clang++}        examples/cpp_example.cpp, C++11
#
# Every build uses -Wall -Wextra -Wpedantic -Werror. A compiler that is not
# installed skips its checks; libsodium-dev and pkgconf are installed when
# missing (as root), else the sodium_kdf checks are skipped.
. "$(dirname "$0")/../lib/common.sh"

PHASE=examples
B="$HSAFE_BUILD/80-examples"
E="$HSAFE_ROOT/examples"
WARN="-Wall -Wextra -Wpedantic -Werror"
# code run on hsafe stacks is built the way docs/guide.md recommends
SCP=-fstack-clash-protection
rm -rf "$B"
mkdir -p "$B"

# build_run OUT EXPECTED_EXIT COMPILER FLAGS... : compile, run, compare the
# exit code; the program's output is kept in OUT.log.
build_run() {
    local out=$1 want=$2 rc
    shift 2
    "$@" -o "$out" || return 1
    "$out" >"$out.log" 2>&1
    rc=$?
    cat "$out.log"
    if [ "$rc" -ne "$want" ]; then
        echo "exit code $rc, expected $want"
        return 1
    fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# ---- demo.c ------------------------------------------------------------------
for cc in gcc clang; do
    if [ ! -f "$E/demo.c" ]; then
        hsafe_skip "demo.$cc: examples/demo.c does not exist"
    elif ! have "$cc"; then
        hsafe_skip "demo.$cc: no $cc"
    else
        hsafe_check "demo.$cc" build_run "$B/demo.$cc" 0 \
            "$cc" -std=c11 -O2 $WARN $SCP -I"$HSAFE_ROOT" "$E/demo.c"
    fi
done

# ---- sodium_kdf.c -----------------------------------------------------------
if hsafe_need_pkgs libsodium-dev pkgconf && SODIUM=$(pkg-config --cflags --libs libsodium); then
    for cc in gcc clang; do
        if ! have "$cc"; then
            hsafe_skip "sodium_kdf.$cc: no $cc"
            continue
        fi
        # shellcheck disable=SC2086
        if hsafe_check "sodium_kdf.$cc" build_run "$B/sodium_kdf.$cc" 0 \
               "$cc" -std=c11 -O2 $WARN $SCP -I"$HSAFE_ROOT" "$E/sodium_kdf.c" $SODIUM; then
            grep '^residues' "$B/sodium_kdf.$cc.log" | sed "s/^/    $cc: /"
        fi
    done
    # The positive control: with the wipe off, the same search must see the
    # key after the sanitized run, and the program must say so and fail.
    control() {
        # (no -Werror: the test-only switch may leave helpers unused)
        build_run "$B/sodium_kdf.no-wipe" 1 gcc -std=c11 -O2 -DHSAFE_TEST_NO_WIPE \
            -I"$HSAFE_ROOT" "$E/sodium_kdf.c" $SODIUM &&
            grep -q 'FAIL: the sanitized run left secrets behind' "$B/sodium_kdf.no-wipe.log"
    }
    if have gcc; then
        hsafe_check "sodium_kdf.no-wipe-is-seen (HSAFE_TEST_NO_WIPE: residue must be found)" control
    else
        hsafe_skip "sodium_kdf.no-wipe-is-seen: no gcc"
    fi
else
    for t in sodium_kdf.gcc sodium_kdf.clang sodium_kdf.no-wipe-is-seen; do
        hsafe_skip "$t: needs libsodium-dev and pkgconf"
    done
fi

# ---- cpp_example.cpp ---------------------------------------------------------
for cxx in g++ clang++; do
    if ! have "$cxx"; then
        hsafe_skip "cpp_example.$cxx: no $cxx"
        continue
    fi
    hsafe_check "cpp_example.$cxx" build_run "$B/cpp_example.$cxx" 0 \
        "$cxx" -std=c++11 -O2 $WARN $SCP -I"$HSAFE_ROOT" "$E/cpp_example.cpp"
done

hsafe_phase_end_counted "$PHASE"

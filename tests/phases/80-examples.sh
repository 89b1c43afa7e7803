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
#   readme.N.{gcc,clang}             every ```c block of README.md that has
#                                    a main(): builds and exits 0
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

# ---- README.md's complete programs -----------------------------------------
mkdir -p "$B/readme"
python3 - "$HSAFE_ROOT/README.md" "$B/readme" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = [b for b in re.findall(r"```c\n(.*?)```", text, re.S) if "int main" in b]
for i, b in enumerate(blocks, 1):
    open("%s/%d.c" % (sys.argv[2], i), "w").write(b)
print("README.md: %d complete programs" % len(blocks))
PY
for src in "$B"/readme/*.c; do
    [ -f "$src" ] || { hsafe_fail "readme: no complete program found in README.md"; break; }
    n=$(basename "$src" .c)
    for cc in gcc clang; do
        if have "$cc"; then
            hsafe_check "readme.$n.$cc" build_run "$B/readme/$n.$cc" 0 \
                "$cc" -std=c11 -O2 $WARN -I"$HSAFE_ROOT" "$src" -lpthread
        else
            hsafe_skip "readme.$n.$cc: no $cc"
        fi
    done
done

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

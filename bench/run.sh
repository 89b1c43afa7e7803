#!/bin/sh
# bench/run.sh - build and run the hsafe benchmark (`make bench` runs this).
#
#   bench/run.sh                    gcc, -O2 -DNDEBUG
#   CC=clang bench/run.sh           another compiler
#
# Environment:
#   CC              compiler (default gcc)
#   BENCH_CFLAGS    extra compiler flags (after -O2 -DNDEBUG)
#   BENCH_OUT       build directory (default $HSAFE_BUILD/bench/<compiler>,
#                   HSAFE_BUILD defaulting to _build in the repository, which
#                   is git-ignored and removed by `make clean`)
#   BENCH_CPU       CPU to pin to (default: the idlest CPU over 0.3 s);
#                   BENCH_CPU=none runs unpinned
#   BENCH_ROUNDS    rounds (default 41)
#   BENCH_TARGET_MS milliseconds per measurement (default 10)
#   BENCH_FPU_SPLIT=1  also build the bench-only copies of the asm switch
#                   that save only one of the FP control words (diag lines)
#   HSAFE_NO_INSTALL  non-empty: never apt-get install (see below)
#   BENCH_HTTP_SECONDS, BENCH_HTTP_CONNS  bench/http.sh (run last)
#
# Packages: as the tests do (tests/lib/common.sh, hsafe_need_pkgs), a run
# as root on Debian apt-get installs what the benchmark needs and lacks:
# libboost-context-dev (switch_rt_ns.fcontext, .boost_raw, and their
# diag lines), and golang-go once a bench/go/ directory exists. Not root,
# HSAFE_NO_INSTALL set, or the install failed: it says which packages and
# which lines it skips, and runs the rest.
#
# Prints a table and one `BENCH <metric> <value>` line per metric; see
# bench/README.md. Exits 0 when the benchmark built and ran, non-zero when
# a required part failed to build or a correctness check in the benchmark
# failed. Missing optional parts (libboost_context; the x86_64 diagnostic
# variants) only drop their lines.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CC=${CC:-gcc}
ccname=$(basename "$(printf '%s' "$CC" | cut -d' ' -f1)")
out=${BENCH_OUT:-${HSAFE_BUILD:-$root/_build}/bench/$ccname}
mkdir -p "$out"

CFLAGS="-O2 -DNDEBUG -std=gnu11 -Wall -Wextra -Wno-unused-function ${BENCH_CFLAGS:-}"

# bench_need_pkgs PKG...: 0 if every Debian package is installed or could
# be installed now (as root, HSAFE_NO_INSTALL empty, apt-get present); 1 with
# a note otherwise. Without dpkg-query (not Debian) it returns 1 quietly:
# the link probes below then decide.
bench_need_pkgs() {
    command -v dpkg-query >/dev/null 2>&1 || return 1
    missing=""
    for p in "$@"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ -n "${HSAFE_NO_INSTALL:-}" ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "bench: not installed:$missing (run make bench as root, or apt-get install them)" >&2
        return 1
    fi
    echo "bench: apt-get install$missing (log: $out/apt.log)"
    # wait for a dpkg lock held by someone else instead of failing
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update \
            </dev/null >"$out/apt.log" 2>&1 &&
       DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
            --no-install-recommends $missing </dev/null >>"$out/apt.log" 2>&1; then
        return 0
    fi
    tail -n 10 "$out/apt.log" | sed 's/^/    | /' >&2
    echo "bench: apt-get install$missing failed (see $out/apt.log)" >&2
    return 1
}

bench_need_pkgs libboost-context-dev ||
    echo "bench: without libboost-context-dev, switch_rt_ns.fcontext, .boost_raw and their ratios are skipped (n/a)" >&2
if [ -d "$here/go" ]; then
    bench_need_pkgs golang-go ||
        echo "bench: without golang-go, the Go comparison (bench/go/) is skipped" >&2
fi

echo "bench: building with $CC $CFLAGS in $out"

# compile SRC OBJ [FLAGS...]: runs in the background, records failures
compile() {
    src=$1 obj=$2
    shift 2
    ( $CC $CFLAGS "$@" -c "$here/$src" -o "$out/$obj" 2>"$out/$obj.log" \
        || touch "$out/$obj.failed"
      cat "$out/$obj.log" >&2 ) &
}

rm -f "$out"/*.o "$out"/*.failed "$out/bench"
compile work.c        work.o
compile driver.c      driver.o
compile be_asm.c      be_asm.o
compile be_fullwipe.c be_fullwipe.o
compile be_wipevol.c  be_wipevol.o
compile be_ucontext.c be_ucontext.o
compile be_fcontext.c be_fcontext.o
compile boost_raw.c   boost_raw.o
compile be_savefpu.c  be_savefpu.o
compile be_internals.c be_internals.o
compile be_task.c     be_task.o
compile readloop.c    readloop.o
compile be_gen.c      be_gen.o
variants=""
case $($CC -dumpmachine 2>/dev/null) in
x86_64*) [ "${BENCH_FPU_SPLIT:-0}" = 1 ] && variants="nofp x87 mxcsr both" ;;
esac
for v in $variants; do
    compile be_asmvar.c "be_asmvar_$v.o" -DBENCH_VARIANT=$v
done
wait

for o in work driver be_asm be_fullwipe be_wipevol be_ucontext be_task readloop be_gen; do
    if [ -e "$out/$o.o.failed" ]; then
        echo "bench: FAILED to compile bench/$o.c (see above)" >&2
        exit 1
    fi
done

objs="$out/work.o $out/driver.o $out/be_asm.o $out/be_fullwipe.o $out/be_wipevol.o $out/be_ucontext.o $out/be_task.o $out/readloop.o"
objs="$objs $out/be_gen.o"
libs=""
# fcontext backend and the raw Boost reference need libboost_context
printf '%s\n' 'extern void jump_fcontext(void);' \
    'int main(void) { void (*volatile p)(void) = jump_fcontext; return p == 0; }' \
    >"$out/boost_probe.c"
if [ ! -e "$out/be_fcontext.o.failed" ] && [ ! -e "$out/boost_raw.o.failed" ] &&
   $CC -o "$out/boost_probe" "$out/boost_probe.c" -lboost_context >/dev/null 2>&1; then
    objs="$objs $out/be_fcontext.o $out/boost_raw.o"
    libs="-lboost_context"
else
    echo "bench: SKIPPED: libboost_context not usable (libboost-context-dev): switch_rt_ns.fcontext," \
         ".boost_raw, switch_ratio.*_vs_boost_raw and their diag lines are left out (n/a)" >&2
fi
rm -f "$out/boost_probe" "$out/boost_probe.c"
for o in be_internals be_savefpu $(for v in $variants; do echo "be_asmvar_$v"; done); do
    if [ -e "$out/$o.o.failed" ]; then
        echo "bench: optional bench/$o did not compile; its diag lines are left out" >&2
    elif [ -e "$out/$o.o" ]; then
        objs="$objs $out/$o.o"
    fi
done

# shellcheck disable=SC2086
$CC -o "$out/bench" $objs $libs

# The Go side of the driver's task lines (bench/go/sched, bench/go/cold;
# standard library only, built offline with its own cache under $out): the
# driver runs them with GOMAXPROCS=1. (bench/go/chan and go/httpd belong to
# chan.sh and http.sh.)
BENCH_GO_DIR=""
if [ -d "$here/go" ] && command -v go >/dev/null 2>&1; then
    gook=1
    for p in sched cold; do
        d="$here/go/$p"
        if ! (cd "$d" && GOCACHE="$out/gocache" GO111MODULE=off GOFLAGS= \
                go build -o "$out/go/$p" . ) >"$out/go_$p.log" 2>&1; then
            cat "$out/go_$p.log" >&2
            echo "bench: bench/go/$p did not build; the Go comparison is skipped" >&2
            gook=0
        fi
    done
    [ "$gook" = 1 ] && BENCH_GO_DIR="$out/go"
    echo "bench: Go: $(go version)"
elif [ -d "$here/go" ]; then
    echo "bench: no go command: the Go comparison (go_* lines) is skipped" >&2
fi
export BENCH_GO_DIR

# Pin to one CPU: the one that was idlest over the last 0.3 s (another
# process may be keeping the other one busy).
cpu=${BENCH_CPU:-}
if [ -r /proc/stat ]; then
    a=$(grep '^cpu[0-9]' /proc/stat)
    sleep 0.3
    b=$(grep '^cpu[0-9]' /proc/stat)
    # "<idlest cpu> <cpu:idle% ...>" over the 0.3 s
    idle=$(printf '%s\n%s\n' "$a" "$b" | awk '
        { id = substr($1, 4); idle = $5 + $6; tot = 0
          for (i = 2; i <= NF; i++) tot += $i
          if (id in fi) {
              di = idle - fi[id]; dt = tot - ft[id]
              pct = dt > 0 ? int(100 * di / dt) : 0
              list = list " cpu" id ":" pct "%"
              if (best == "" || di > bestd) { best = id; bestd = di }
          } else { fi[id] = idle; ft[id] = tot } }
        END { print best list }')
    echo "bench: idle over the last 0.3 s:${idle#* }"
    if [ -z "$cpu" ]; then cpu=${idle%% *}; fi
fi
run=""
if [ -n "$cpu" ] && [ "$cpu" != none ] && command -v taskset >/dev/null 2>&1; then
    run="taskset -c $cpu"
    echo "bench: pinned to CPU $cpu"
else
    echo "bench: not pinned"
fi

$run "$out/bench"

# HTTP servers side by side: hsafe, Go net/http, libuv (bench/http.sh; its
# own build directory $out/http and its own BENCH lines, ~90 s).
bench_need_pkgs wrk libsodium-dev libuv1-dev golang-go ||
    echo "bench: without them, bench/http.sh drops the lines it cannot measure" >&2
CC="$CC" BENCH_OUT="$out" bash "$here/http.sh" || echo "bench: bench/http.sh failed" >&2

# Channels (issue 12) next to Go: bench/chan.sh (its own programs, so the
# driver above is untouched).
CC="$CC" CFLAGS="$CFLAGS" BENCH_RUN="$run" sh "$here/chan.sh" "$out"

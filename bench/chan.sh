#!/bin/sh
# bench/chan.sh OUTDIR - the channel benchmarks (issue 12) next to Go, in
# the same `make bench` run (bench/run.sh calls this at its end).
#
#   chan_pingpong_ns / go_chan_pingpong_ns            (pinned: $BENCH_RUN)
#   xthread_chan_msgs_per_s / go_xthread_chan_msgs_per_s   (two CPUs)
#
# Builds bench/chan.c (one translation unit, $CC $CFLAGS) and, when the go
# command works, bench/go/chan (standard library, GO111MODULE=off, cache
# under OUTDIR). The two run alternately, ROUNDS times each (every run is
# itself the median of 5 repetitions), so load from other processes hits
# both alike; each metric is the median over the rounds, each ratio the
# median of the per-round ratios (a round's two runs ran back to back, as
# the driver's ratios). Prints the rounds on stderr, a table with the
# ratios, and the BENCH lines.
# Environment: CC, CFLAGS (from run.sh), BENCH_RUN (the pinning prefix for
# the single-CPU metric, e.g. "taskset -c 1"), BENCH_CHAN_ROUNDS (default 11).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=$(cd "$1" && pwd)    # absolute: GOCACHE must be
CC=${CC:-gcc}
CFLAGS=${CFLAGS:--O2 -DNDEBUG -std=gnu11 -Wall -Wextra}
rounds=${BENCH_CHAN_ROUNDS:-11}
pin=${BENCH_RUN:-}

if ! $CC $CFLAGS -I"$root" "$here/chan.c" -o "$out/bench_chan" -lpthread 2>"$out/bench_chan.log"; then
    cat "$out/bench_chan.log" >&2
    echo "bench: FAILED to compile bench/chan.c" >&2
    exit 1
fi
go_ok=0
if command -v go >/dev/null 2>&1 && [ -d "$here/go/chan" ]; then
    mkdir -p "$out/go"
    if (cd "$here/go/chan" && GOCACHE="$out/gocache" GO111MODULE=off GOFLAGS= \
            go build -o "$out/go/chan" .) >"$out/go_chan.log" 2>&1; then
        go_ok=1
    else
        cat "$out/go_chan.log" >&2
        echo "bench: bench/go/chan did not build: go_*chan* lines are skipped" >&2
    fi
else
    echo "bench: no go command: go_chan_pingpong_ns and go_xthread_chan_msgs_per_s are skipped" >&2
fi

vals="$out/chan_values.txt"
: >"$vals"
i=0
while [ "$i" -lt "$rounds" ]; do
    # shellcheck disable=SC2086
    $pin "$out/bench_chan" pingpong 2>/dev/null >>"$vals"
    [ "$go_ok" = 1 ] && $pin "$out/go/chan" pingpong 2>/dev/null >>"$vals"
    "$out/bench_chan" xthread 2>/dev/null >>"$vals"
    [ "$go_ok" = 1 ] && "$out/go/chan" xthread 2>/dev/null >>"$vals"
    i=$((i + 1))
done
sed 's/^/bench: chan round: /' "$vals" >&2

awk '
    $1 == "BENCH" { n[$2]++; v[$2, n[$2]] = $3 }
    function med(k,   m, i, j, t, a) {
        m = n[k]; if (!m) return ""
        for (i = 1; i <= m; i++) a[i] = v[k, i]
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return a[int((m + 1) / 2)]
    }
    # the median over rounds of a[r] / b[r] (each pair ran back to back)
    function rmed(a, b, k,   m, r) {
        m = n[a] < n[b] ? n[a] : n[b]; if (!m) return ""
        n[k] = m
        for (r = 1; r <= m; r++) v[k, r] = v[a, r] / v[b, r]
        return med(k)
    }
    END {
        pp = med("chan_pingpong_ns"); gpp = med("go_chan_pingpong_ns")
        xt = med("xthread_chan_msgs_per_s"); gxt = med("go_xthread_chan_msgs_per_s")
        rpp = rmed("chan_pingpong_ns", "go_chan_pingpong_ns", "r.pp")
        rxt = rmed("xthread_chan_msgs_per_s", "go_xthread_chan_msgs_per_s", "r.xt")
        printf "\nchannels (%d alternating rounds)             hsafe          Go      ratio   target\n", n["chan_pingpong_ns"]
        printf "  ping-pong, ns per round trip       %10s  %10s  %7s   <= 0.25\n", pp, gpp, rpp != "" ? sprintf("%.3f", rpp) : "n/a"
        printf "  two threads, msgs/s                %10s  %10s  %7s   >= 1\n", xt, gxt, rxt != "" ? sprintf("%.3f", rxt) : "n/a"
        print "  (values: medians over the rounds; ratios: median of the per-round ratios)"
        print "BENCH chan_pingpong_ns " pp
        if (gpp) print "BENCH go_chan_pingpong_ns " gpp
        print "BENCH xthread_chan_msgs_per_s " xt
        if (gxt) print "BENCH go_xthread_chan_msgs_per_s " gxt
        if (rpp != "") printf "BENCH ratio.chan_pingpong_vs_go %.4f\n", rpp
        if (rxt != "") printf "BENCH ratio.xthread_chan_vs_go %.4f\n", rxt
    }' "$vals"

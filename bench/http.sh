#!/usr/bin/env bash
# bench/http.sh - three HTTP servers with the same endpoints under wrk, side
# by side in one run (bench/run.sh calls it last; it also runs alone):
#   hsafe  examples/http_server.c (scoped tasks, each MAC in a sanitized run)
#   go     bench/go/httpd (net/http, crypto/hmac)
#   uv     bench/uv_httpd.c (libuv callbacks, same parser, no wipe)
#
#   bash bench/http.sh
#
# For each of GET / and POST /mac (a 256-byte body), each core count and
# each server: start it, 1 s of wrk to warm up, then
#   wrk -t1 -c100 -d5s --latency          (1core: server pinned to one CPU,
#                                           wrk to the other; hsafe and uv
#                                           with one loop, Go GOMAXPROCS=1)
#   wrk -t2 -c100 -d5s --latency          (2core: nothing pinned; two loops,
#                                           GOMAXPROCS=2; wrk shares the two
#                                           cores, so this shows overhead,
#                                           not scaling)
# The three servers take turns within each (endpoint, cores) pair, in an
# order that rotates, so drift on this shared machine hits them alike.
# Prints a table and BENCH lines:
#   BENCH {http,go_http,uv_http}_rps.{get,mac}.{1core,2core}   requests/s
#   BENCH {http,go_http,uv_http}_p99_ms.{get,mac}.{1core,2core} wrk's p99
#   BENCH http_ratio.{get,mac}.{1core,2core}.vs_{go,uv}         hsafe / other
#   BENCH diag.{http,go_http,uv_http}_cpu_us_per_req.{get,mac}.{1core,2core}
#         the server's CPU time (user + system, /proc/PID/stat) during the
#         timed wrk run / the requests it served: what a request costs the
#         server, whether or not wrk or the machine was what limited rps
# and the targets (1core): get vs Go >= 1.5, mac vs Go >= 1.2, both vs
# libuv >= 0.8 ("met" or "NOT MET"; the script does not fail on a miss).
#
# Environment: CC (gcc), BENCH_OUT (build directory; default
# $HSAFE_BUILD/bench/<cc>), BENCH_HTTP_SECONDS (5), BENCH_HTTP_CONNS (100).
# Needs wrk, libsodium-dev, libuv1-dev, golang-go (bench/run.sh installs
# them as root); a server that does not build drops its lines.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CC=${CC:-gcc}
ccname=$(basename "$(printf '%s' "$CC" | cut -d' ' -f1)")
out=${BENCH_OUT:-${HSAFE_BUILD:-$root/_build}/bench/$ccname}/http
SECS=${BENCH_HTTP_SECONDS:-5}
CONNS=${BENCH_HTTP_CONNS:-100}
mkdir -p "$out"

command -v wrk >/dev/null 2>&1 || { echo "bench/http.sh: SKIPPED: no wrk (Debian: wrk)" >&2; exit 0; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null

CFLAGS="-O2 -DNDEBUG -std=gnu11 -Wall -Wextra ${BENCH_CFLAGS:-}"
servers=""
if $CC $CFLAGS -I"$root" "$root/examples/http_server.c" -o "$out/hsafe" -lsodium -lpthread \
        2>"$out/hsafe.log"; then
    servers="$servers hsafe"
else
    echo "bench/http.sh: examples/http_server.c did not build (libsodium-dev?):" >&2
    tail -n 5 "$out/hsafe.log" >&2
fi
if $CC $CFLAGS "$here/uv_httpd.c" -o "$out/uv" -luv -lsodium -lpthread 2>"$out/uv.log"; then
    servers="$servers uv"
else
    echo "bench/http.sh: bench/uv_httpd.c did not build (libuv1-dev?); uv lines left out" >&2
fi
if command -v go >/dev/null 2>&1 &&
   (cd "$here/go/httpd" && GOCACHE="$out/gocache" GO111MODULE=off GOFLAGS= \
        go build -o "$out/go" .) >"$out/go.log" 2>&1; then
    servers="$servers go"
else
    echo "bench/http.sh: bench/go/httpd did not build (golang-go?); go lines left out" >&2
fi
[ -n "$servers" ] || { echo "bench/http.sh: no server built" >&2; exit 1; }

HTTP_SERVER_KEY_HEX=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export HTTP_SERVER_KEY_HEX
cat >"$out/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = string.rep("a", 256)
wrk.headers["Content-Type"] = "application/octet-stream"
EOF

SPID=
trap '[ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null' EXIT

# start SERVER CORES -> SPID, PORT
start() {
    local s=$1 n=$2 pin=""
    [ "$n" = 1 ] && pin="taskset -c 0"
    case $s in
        hsafe) $pin "$out/hsafe" --threads "$n" --max-conns 256 >"$out/server.out" 2>&1 & ;;
        uv)    $pin "$out/uv" --threads "$n" >"$out/server.out" 2>&1 & ;;
        go)    GOMAXPROCS=$n $pin "$out/go" >"$out/server.out" 2>&1 & ;;
    esac
    SPID=$!
    PORT=
    for _ in $(seq 1 50); do
        PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$out/server.out")
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    return 1
}

stop() {
    kill -KILL "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=
}

# to_ms "1.23ms" -> 1.23
to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.3f", n }'
}

# cpu_ticks PID: user + system CPU time of the whole process, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

declare -A RPS P99 NOTE CPU
measure() {     # server ep cores
    local s=$1 ep=$2 n=$3 url wargs=() f="$out/wrk.$1.$2.$3.out" pin="" c0 c1
    [ "$n" = 1 ] && pin="taskset -c 1"
    start "$s" "$n" || { echo "bench/http.sh: $s did not start" >&2; stop; return; }
    url="http://127.0.0.1:$PORT/"
    [ "$ep" = mac ] && { url="${url}mac"; wargs=(-s "$out/post.lua"); }
    $pin wrk -t"$n" -c"$CONNS" -d1s "${wargs[@]}" "$url" >/dev/null 2>&1
    c0=$(cpu_ticks "$SPID")
    $pin wrk -t"$n" -c"$CONNS" -d"${SECS}s" --latency "${wargs[@]}" "$url" >"$f" 2>&1
    c1=$(cpu_ticks "$SPID")
    stop
    RPS[$s.$ep.$n]=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$f")
    # the server's CPU time per request, in microseconds
    CPU[$s.$ep.$n]=$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v r="${RPS[$s.$ep.$n]:-0}" \
        -v t="$SECS" 'BEGIN { if (r > 0) printf "%.1f", c / hz * 1e6 / (r * t) }')
    P99[$s.$ep.$n]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$f")")
    NOTE[$s.$ep.$n]=""
    grep -q 'Socket errors\|Non-2xx' "$f" && NOTE[$s.$ep.$n]=" (errors: $(grep 'Socket errors\|Non-2xx' "$f" | tr -s ' ' | tr '\n' ';'))"
}

echo "bench/http.sh: servers:$servers; wrk -c$CONNS -d${SECS}s --latency; 1core: server on CPU 0, wrk on CPU 1"
rot=0
for n in 1 2; do
    for ep in get mac; do
        set -- $servers
        i=0
        while [ "$i" -lt $rot ]; do set -- "$@" "$1"; shift; i=$((i + 1)); done
        for s in "$@"; do measure "$s" "$ep" "$n"; done
        rot=$(((rot + 1) % $(echo $servers | wc -w)))
    done
done

name() { case $1 in hsafe) echo http ;; go) echo go_http ;; uv) echo uv_http ;; esac; }
printf '\n%-28s %12s %12s %12s\n' "HTTP (wrk -c$CONNS, ${SECS}s)" hsafe go libuv
for n in 1 2; do
    for ep in get mac; do
        printf '%-28s' "rps $ep ${n}core"
        for s in hsafe go uv; do printf ' %12s' "${RPS[$s.$ep.$n]:-n/a}"; done
        printf '\n%-28s' "  p99 ms"
        for s in hsafe go uv; do printf ' %12s' "${P99[$s.$ep.$n]:-n/a}"; done
        printf '\n%-28s' "  server CPU us/request"
        for s in hsafe go uv; do printf ' %12s' "${CPU[$s.$ep.$n]:-n/a}"; done
        printf '\n'
    done
done
echo
for n in 1 2; do
    for ep in get mac; do
        for s in hsafe go uv; do
            v=${RPS[$s.$ep.$n]:-}
            [ -n "$v" ] || continue
            echo "BENCH $(name "$s")_rps.$ep.${n}core $v${NOTE[$s.$ep.$n]}"
            echo "BENCH $(name "$s")_p99_ms.$ep.${n}core ${P99[$s.$ep.$n]}"
            [ -n "${CPU[$s.$ep.$n]:-}" ] && echo "BENCH diag.$(name "$s")_cpu_us_per_req.$ep.${n}core ${CPU[$s.$ep.$n]}"
        done
    done
done
target() {  # ep n other limit
    local h=${RPS[hsafe.$1.$2]:-} o=${RPS[$3.$1.$2]:-} r
    [ -n "$h" ] && [ -n "$o" ] || return 0
    r=$(awk -v a="$h" -v b="$o" 'BEGIN { printf "%.2f", a / b }')
    if [ -n "$4" ]; then
        if awk -v r="$r" -v l="$4" 'BEGIN { exit !(r >= l) }'; then m="met"; else m="NOT MET"; fi
        echo "BENCH http_ratio.$1.${2}core.vs_$3 $r   (target >= $4: $m)"
    else
        echo "BENCH http_ratio.$1.${2}core.vs_$3 $r"
    fi
}
target get 1 go 1.5
target mac 1 go 1.2
target get 1 uv 0.8
target mac 1 uv 0.8
for ep in get mac; do target "$ep" 2 go ""; target "$ep" 2 uv ""; done

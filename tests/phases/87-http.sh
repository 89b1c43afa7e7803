#!/usr/bin/env bash
# 87-http: examples/http_server.c, an HTTP/1.1 server on scoped tasks with
# an HMAC computed in sanitized runs, against real clients.
#
#   http_server.{gcc,clang} build  C11, -O2 -Wall -Wextra -Wpedantic -Werror
#                                  -fstack-clash-protection, libsodium
#   http.curl             curl: GET / (body), HEAD /, POST /mac equal to
#                         `openssl dgst -sha256 -mac HMAC` with the same key,
#                         keep-alive (two requests, one connection), 404,
#                         405, 413 (20 KB body), 431 (9 KB header); socat:
#                         400 for a bare-LF request, a space before ':',
#                         obsolete folding; 505 for HTTP/2.0
#   http.wrk-1000         wrk, 1000 connections, 3 s of GET / then 3 s of
#                         POST /mac: no socket errors, no non-2xx answers;
#                         meanwhile tests/http_check.py sample checks every
#                         answer it gets (GET body, MAC against Python's hmac)
#   http.slow-clients     3 clients sending one byte per second are cut at
#                         the request deadline (2 s here: 408 or close)
#                         while 4 others keep being answered
#   http.abort            200 connections send part of a request and vanish
#                         (half of them with a reset): open connections,
#                         task and run stacks in use and open fds return to
#                         their baseline (/debug/stats)
#   http.residue          after MAC requests, the server's whole memory
#                         (/proc/PID/mem) holds no 8-byte window of the
#                         keyed state (the SHA-256 states after key^ipad and
#                         key^opad) or of the key, except its own
#                         sodium_malloc'd copy
#   http.residue-control  the same build with -DHSAFE_TEST_NO_WIPE: the
#                         search finds the keyed state on a stack
#   http.sigterm-load     SIGTERM while wrk runs 200 connections: every loop
#                         drained within the grace (the 2 s deadline, + 1 s,
#                         as the server measures it), exit 0 (within 15 s,
#                         teardown included), "0 open, 0 stacks in use",
#                         fd counts equal
#
# The key comes in through HTTP_SERVER_KEY_HEX (random per run). Packages
# (installed as root): curl wrk libsodium-dev openssl socat python3.
# Takes about 45 s on 2 cores.
. "$(dirname "$0")/../lib/common.sh"

PHASE=http
B="$HSAFE_BUILD/87-http"
rm -rf "$B"
mkdir -p "$B"
CHECK="$HSAFE_ROOT/tests/http_check.py"
DEADLINE_MS=2000

SERVER_PID=
BG_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
    [ -n "$BG_PID" ] && kill -KILL "$BG_PID" 2>/dev/null
}
trap cleanup EXIT

ALL="http_server.gcc http_server.clang http.curl http.wrk-1000 http.slow-clients http.abort http.residue http.residue-control http.sigterm-load"
skip_all() {
    local t
    for t in $ALL; do hsafe_skip "$t: $1"; done
    hsafe_phase_end_counted "$PHASE"
}

hsafe_need_pkgs curl wrk libsodium-dev openssl socat python3 gcc ||
    skip_all "needs curl wrk libsodium-dev openssl socat python3"
ulimit -n "$(ulimit -Hn)" 2>/dev/null     # wrk's 1000 sockets

# ---- build ---------------------------------------------------------------------
WARN="-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -fstack-clash-protection"
build() {   # cc out [flags]
    local cc=$1 out=$2
    shift 2
    "$cc" $WARN "$@" -I"$HSAFE_ROOT" "$HSAFE_ROOT/examples/http_server.c" -o "$out" -lsodium -lpthread
}
hsafe_check "http_server.gcc builds" build gcc "$B/http_server" || skip_all "http_server did not build"
if command -v clang >/dev/null 2>&1; then
    hsafe_check "http_server.clang builds" build clang "$B/http_server.clang"
else
    hsafe_skip "http_server.clang: no clang"
fi
ALL=${ALL#http_server.gcc http_server.clang }

HTTP_SERVER_KEY_HEX=$(openssl rand -hex 32)
export HTTP_SERVER_KEY_HEX

# start BINARY NAME: the server in the background; sets SERVER_PID, PORT
start() {
    "$1" --threads 2 --deadline "$DEADLINE_MS" --debug >"$B/$2.out" 2>"$B/$2.err" &
    SERVER_PID=$!
    PORT=
    for _ in $(seq 1 100); do
        PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$B/$2.out")
        [ -n "$PORT" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$PORT" ]
}

# stop_server GRACE_S: SIGTERM, wait; sets SERVER_RC, STOP_MS
stop_server() {
    local t0
    t0=$(date +%s%N)
    kill -TERM "$SERVER_PID"
    for _ in $(seq 1 $(($1 * 10))); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        SERVER_RC="still running $1 s after SIGTERM"
    else
        wait "$SERVER_PID"
        SERVER_RC=$?
        SERVER_PID=
    fi
    STOP_MS=$((($(date +%s%N) - t0) / 1000000))
}

if ! start "$B/http_server" main; then
    hsafe_fail "http_server did not print 'listening on 127.0.0.1:PORT'"
    sed 's/^/    | /' "$B/main.out" "$B/main.err"
    skip_all "the server did not start"
fi
hsafe_log "http_server pid $SERVER_PID on 127.0.0.1:$PORT (deadline $DEADLINE_MS ms)"
U="http://127.0.0.1:$PORT"

# ---- 1. curl and socat ---------------------------------------------------------
expect() {  # what got want
    if [ "$2" = "$3" ]; then echo "ok   $1: $2"; else echo "FAIL $1: got '$2', want '$3'"; return 1; fi
}
raw() {     # bytes -> the status line the server answers
    printf "$1" | timeout 10 socat -t 2 - "TCP:127.0.0.1:$PORT" | head -n 1 | tr -d '\r'
}
curl_checks() {
    local ok=0 body mac want v
    body=$(curl -sS --max-time 10 "$U/") || return 1
    expect "GET / body" "$body" "Hello, world" || ok=1
    expect "HEAD / status" "$(curl -sS --max-time 10 -I "$U/" | head -n 1 | tr -d '\r')" "HTTP/1.1 200 OK" || ok=1
    head -c 3000 /dev/urandom >"$B/body.bin"
    mac=$(curl -sS --max-time 10 --data-binary @"$B/body.bin" "$U/mac") || return 1
    want=$(openssl dgst -sha256 -mac HMAC -macopt "hexkey:$HTTP_SERVER_KEY_HEX" <"$B/body.bin" | sed 's/^.*= //')
    expect "POST /mac (3000 random bytes) = openssl HMAC" "$mac" "$want" || ok=1
    mac=$(printf '' | curl -sS --max-time 10 --data-binary @- "$U/mac")
    want=$(printf '' | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$HTTP_SERVER_KEY_HEX" | sed 's/^.*= //')
    expect "POST /mac (empty body) = openssl HMAC" "$mac" "$want" || ok=1
    v=$(curl -sS --max-time 10 -v "$U/" "$U/" 2>&1 >/dev/null | grep -c 'Re-using existing connection')
    expect "keep-alive: the second request reuses the connection" "$v" 1 || ok=1
    expect "404" "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$U/nope")" 404 || ok=1
    expect "405" "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -X DELETE "$U/")" 405 || ok=1
    head -c 20000 /dev/zero >"$B/big.bin"
    expect "413 (20 KB body)" "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --data-binary @"$B/big.bin" "$U/mac")" 413 || ok=1
    expect "431 (9 KB header)" "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$U/")" 431 || ok=1
    expect "400 bare LF" "$(raw 'GET / HTTP/1.1\nHost: x\n\n')" "HTTP/1.1 400 Bad Request" || ok=1
    expect "400 space before colon" "$(raw 'GET / HTTP/1.1\r\nHost : x\r\n\r\n')" "HTTP/1.1 400 Bad Request" || ok=1
    expect "400 obsolete folding" "$(raw 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  2\r\n\r\n')" "HTTP/1.1 400 Bad Request" || ok=1
    expect "400 no Host in HTTP/1.1" "$(raw 'GET / HTTP/1.1\r\n\r\n')" "HTTP/1.1 400 Bad Request" || ok=1
    expect "505 HTTP/2.0" "$(raw 'GET / HTTP/2.0\r\n\r\n')" "HTTP/1.1 505 HTTP Version Not Supported" || ok=1
    return "$ok"
}
hsafe_check "http.curl (both endpoints, MAC = openssl, keep-alive, 400/404/405/413/431/505)" curl_checks

# ---- 2. wrk with 1000 connections, a checked sample alongside --------------------
cat >"$B/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = string.rep("a", 256)
wrk.headers["Content-Type"] = "application/octet-stream"
EOF
wrk_load() {
    local ok=0 what
    python3 "$CHECK" sample "$PORT" --seconds 6 >"$B/sample.out" 2>&1 &
    BG_PID=$!
    for what in get mac; do
        if [ "$what" = get ]; then
            timeout 30 wrk -t2 -c1000 -d3s --timeout 5s "$U/" >"$B/wrk.$what.out" 2>&1 || ok=1
        else
            timeout 30 wrk -t2 -c1000 -d3s --timeout 5s -s "$B/post.lua" "$U/mac" >"$B/wrk.$what.out" 2>&1 || ok=1
        fi
        sed "s/^/wrk $what: /" "$B/wrk.$what.out"
        grep -q 'Socket errors' "$B/wrk.$what.out" && { echo "wrk $what: socket errors"; ok=1; }
        grep -q 'Non-2xx' "$B/wrk.$what.out" && { echo "wrk $what: non-2xx answers"; ok=1; }
        grep -q 'requests in' "$B/wrk.$what.out" || ok=1
    done
    wait "$BG_PID" || ok=1
    BG_PID=
    cat "$B/sample.out"
    return "$ok"
}
hsafe_check "http.wrk-1000 (1000 connections, GET / and POST /mac: no errors; sampled answers correct)" wrk_load
grep -h 'Requests/sec\|^sample' "$B/wrk.get.out" "$B/wrk.mac.out" "$B/sample.out" 2>/dev/null | sed 's/^/    /'

# ---- 3. slow clients ---------------------------------------------------------------
hsafe_check "http.slow-clients (1 byte/s cut at the ${DEADLINE_MS} ms deadline; others served)" \
    timeout 60 python3 "$CHECK" slow "$PORT" --conns 3 --deadline-ms "$DEADLINE_MS"

# ---- 4. abrupt disconnects ------------------------------------------------------------
hsafe_check "http.abort (200 half-sent requests dropped: fds and stacks back to baseline)" \
    timeout 60 python3 "$CHECK" abort "$PORT" --conns 200

# ---- 5. residue -------------------------------------------------------------------------
residue() {     # expect
    local keyed
    python3 "$CHECK" sample "$PORT" --seconds 1 || return 1
    keyed=$(curl -sS --max-time 10 "$U/debug/stats" | sed -n 's/^keyed //p')
    timeout 120 python3 "$CHECK" residue "$SERVER_PID" --keyed "$keyed" --expect "$1"
}
hsafe_check "http.residue (no window of the keyed state or key outside its locked copy)" residue none

# ---- 6. SIGTERM under load -----------------------------------------------------------
# The load, the signal and the waits run here, in this shell (the server is
# its child); the check reads what they recorded.
timeout 30 wrk -t1 -c200 -d8s --timeout 5s "$U/" >"$B/wrk.term.out" 2>&1 &
BG_PID=$!
sleep 1.5
stop_server 15                  # a sanity bound: the drain is checked below
wait "$BG_PID"
BG_PID=
sigterm_load() {
    local line ms ok=0
    echo "server exit: $SERVER_RC after ${STOP_MS} ms"
    sed 's/^/server: /' "$B/main.out" "$B/main.err"
    grep 'requests in' "$B/wrk.term.out"
    [ "$SERVER_RC" = 0 ] || ok=1
    line=$(grep '^shutdown: ' "$B/main.out") || return 1
    echo "$line" | grep -Eq ', 0 open, 0 stacks in use \(signal 15; fds: ([0-9]+) at start, \1 at exit; drained [0-9.]+ ms after the signal\)$' ||
        { echo "unexpected shutdown line"; ok=1; }
    ms=$(echo "$line" | sed -n 's/.*; drained \([0-9]*\)[0-9.]* ms after the signal.*/\1/p')
    [ -n "$ms" ] && [ "$ms" -le $((DEADLINE_MS + 1000)) ] ||
        { echo "stopped $ms ms after the signal: more than the grace"; ok=1; }
    return "$ok"
}
hsafe_check "http.sigterm-load (drained within the grace under load, exit 0, 0 open, no fd leaked)" sigterm_load
grep -h '^shutdown: ' "$B/main.out" | sed "s/^/    /; s/\$/ [stopped in ${STOP_MS} ms]/"

# ---- 7. the positive control: no wipe ---------------------------------------------
if hsafe_check "http_server.no-wipe builds (-DHSAFE_TEST_NO_WIPE)" \
        build gcc "$B/http_server.nowipe" -DHSAFE_TEST_NO_WIPE &&
   start "$B/http_server.nowipe" nowipe; then
    U="http://127.0.0.1:$PORT"
    hsafe_check "http.residue-control (with -DHSAFE_TEST_NO_WIPE the same search finds the keyed state)" \
        residue some
    stop_server 5
else
    hsafe_fail "http.residue-control: the no-wipe server did not start"
fi

hsafe_phase_end_counted "$PHASE"

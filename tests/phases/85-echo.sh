#!/usr/bin/env bash
# 85-echo: examples/echo_server.c, a TCP echo server on scoped tasks, serves
# real clients and shuts down cleanly.
#
#   echo_server.gcc builds     C11, -O2 -Wall -Wextra -Wpedantic -Werror
#                              -fstack-clash-protection
#   echo.socat                 a few lines, then 1 MiB of random bytes,
#                              through `socat -t 5 - TCP:127.0.0.1:PORT`:
#                              every byte comes back (cmp)
#   echo.load-1000             tests/echo_load.py: 1000 connections open at
#                              once, a distinct random 4 KiB payload each,
#                              all echoed exactly (60 s total timeout)
#   echo.sigterm-shutdown      with 20 idle connections held open, SIGTERM:
#                              the server closes them (the client sees EOF
#                              on each), exits 0 within 5 s and prints
#                              "shutdown: N connections served, 0 open"
#                              with equal fd counts at start and exit
#
# The server runs on port 0 (it prints the port it got); it is killed on
# any exit of this script. socat (Debian package) is installed when missing
# (as root), else its check is skipped; no python3 skips the load check.
. "$(dirname "$0")/../lib/common.sh"

PHASE=echo
B="$HSAFE_BUILD/85-echo"
rm -rf "$B"
mkdir -p "$B"

SERVER_PID=
IDLE_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
    [ -n "$IDLE_PID" ] && kill -KILL "$IDLE_PID" 2>/dev/null
}
trap cleanup EXIT

have() { command -v "$1" >/dev/null 2>&1; }

skip_all() {
    local t
    for t in echo.socat echo.load-1000 echo.sigterm-shutdown; do hsafe_skip "$t: $1"; done
    hsafe_phase_end_counted "$PHASE"
}

# ---- build ---------------------------------------------------------------------
have gcc || skip_all "no gcc"
hsafe_check "echo_server.gcc builds" \
    gcc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -fstack-clash-protection \
        -I"$HSAFE_ROOT" "$HSAFE_ROOT/examples/echo_server.c" -o "$B/echo_server" ||
    skip_all "echo_server did not build"

# ---- start the server ------------------------------------------------------------
"$B/echo_server" --port 0 >"$B/server.out" 2>"$B/server.err" &
SERVER_PID=$!
PORT=
for _ in $(seq 1 100); do               # up to 10 s
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$B/server.out")
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    hsafe_fail "echo_server did not print 'listening on 127.0.0.1:PORT'"
    sed 's/^/    | /' "$B/server.out" "$B/server.err"
    skip_all "the server did not start"
fi
hsafe_log "echo_server pid $SERVER_PID listening on 127.0.0.1:$PORT"

# ---- 1. socat: lines and 1 MiB -----------------------------------------------
socat_echo() {
    printf 'hello\nsecond line\n\n  indented line with trailing spaces  \nlast line\n' >"$B/lines.txt"
    timeout 30 socat -t 5 - "TCP:127.0.0.1:$PORT" <"$B/lines.txt" >"$B/lines.back" || return 1
    cmp "$B/lines.txt" "$B/lines.back" || return 1
    head -c 1048576 /dev/urandom >"$B/random.bin"
    timeout 30 socat -t 5 - "TCP:127.0.0.1:$PORT" <"$B/random.bin" >"$B/random.back" || return 1
    cmp "$B/random.bin" "$B/random.back" || return 1
    echo "lines: $(wc -c <"$B/lines.back") bytes back; random: $(wc -c <"$B/random.back") bytes back"
}
if hsafe_need_pkgs socat; then
    hsafe_check "echo.socat (lines and 1 MiB of random bytes come back identical)" socat_echo
else
    hsafe_skip "echo.socat: socat is not installed"
fi

# ---- 2. 1000 concurrent connections ---------------------------------------------
load() {
    timeout 75 python3 "$HSAFE_ROOT/tests/echo_load.py" "$PORT" --conns 1000 --size 4096 --timeout 60 \
        >"$B/load.out" 2>&1
    local rc=$?
    cat "$B/load.out"
    return "$rc"
}
if have python3; then
    hsafe_check "echo.load-1000 (1000 connections at once, 4 KiB each)" load
    grep '^echo_load:' "$B/load.out" | sed 's/^/    /'
else
    hsafe_skip "echo.load-1000: no python3"
fi

# ---- 3. SIGTERM with idle connections open --------------------------------------
# The signal and the waits run here, in this shell (the server is its child);
# the check below reads what they recorded.
IDLE_RC=skipped
if have python3; then
    python3 "$HSAFE_ROOT/tests/echo_load.py" "$PORT" --idle 20 --timeout 30 >"$B/idle.out" 2>&1 &
    IDLE_PID=$!
    for _ in $(seq 1 200); do           # up to 20 s
        grep -q '^idle: ' "$B/idle.out" && break
        kill -0 "$IDLE_PID" 2>/dev/null || break
        sleep 0.1
    done
fi
T0=$(date +%s%N)
kill -TERM "$SERVER_PID"
for _ in $(seq 1 50); do                # up to 5 s
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
    SERVER_RC="still running 5 s after SIGTERM"
else
    wait "$SERVER_PID"
    SERVER_RC=$?
    SERVER_PID=
fi
STOP_MS=$((($(date +%s%N) - T0) / 1000000))
if [ -n "$IDLE_PID" ]; then
    for _ in $(seq 1 100); do           # up to 10 s for the client to see the EOFs
        kill -0 "$IDLE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$IDLE_PID" 2>/dev/null; then
        IDLE_RC="idle client still running"
    else
        wait "$IDLE_PID"
        IDLE_RC=$?
        IDLE_PID=
    fi
fi

shutdown_ok() {
    local line ok=0
    echo "server exit: $SERVER_RC after ${STOP_MS} ms; idle client: $IDLE_RC"
    sed 's/^/server stdout: /' "$B/server.out"
    sed 's/^/server stderr: /' "$B/server.err"
    sed 's/^/idle client: /' "$B/idle.out" 2>/dev/null
    [ "$SERVER_RC" = 0 ] || ok=1
    [ "$IDLE_RC" = 0 ] || [ "$IDLE_RC" = skipped ] || ok=1
    line=$(grep '^shutdown: ' "$B/server.out") || return 1
    # shutdown: N connections served, 0 open (signal 15; fds: S at start, E at exit)
    echo "$line" | grep -Eq '^shutdown: [0-9]+ connections served, 0 open \(signal 15; fds: ([0-9]+) at start, \1 at exit\)$' ||
        { echo "unexpected shutdown line"; ok=1; }
    return "$ok"
}
hsafe_check "echo.sigterm-shutdown (exit 0 within 5 s, 0 open, no fd leaked)" shutdown_ok
grep '^shutdown: ' "$B/server.out" | sed "s/^/    /; s/\$/ [stopped in ${STOP_MS} ms]/"

hsafe_phase_end_counted "$PHASE"

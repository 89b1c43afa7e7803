#!/bin/sh
# tests/gdb/run_gdb.sh GDB PROGRAM SCENARIO MODE
#
# Runs PROGRAM SCENARIO under gdb in batch mode, breaks in leaf_SCENARIO
# (a function called inside a coroutine, see gdb_bt.c), prints `bt` and
# checks the backtrace:
#   MODE linked   (asm backend, x86_64 and aarch64) the walk crosses every switch: it
#                 must show, innermost first, leaf_SCENARIO, the coroutine's
#                 body, hsafe__coro_main, "<signal handler called>" (the
#                 trampoline's frame, marked as a signal frame), the
#                 resumer's function and main; and gdb must not give up
#                 ("Backtrace stopped", "corrupt stack").
#   MODE ends     (ucontext, fcontext) the walk ends at the library's entry
#                 frame (glibc's __start_context, shown as ?? without libc
#                 debug symbols; Boost's make_fcontext) and does not reach
#                 the resumer: it must show leaf_SCENARIO, the body and
#                 hsafe__coro_main, then end without a gdb error.
# With HSAFE_GDB_QEMU set (a qemu-user binary, e.g. qemu-aarch64; GDB then
# is gdb-multiarch), PROGRAM is a foreign static binary: it is started as
# `$HSAFE_GDB_QEMU -g PORT PROGRAM SCENARIO` and gdb attaches to qemu's
# gdbstub (target remote) instead of running it (tests/phases/30-sanitizers.sh
# runs the aarch64 asm backend so).
# Exit 0 if so, 1 if not, 77 if gdb cannot run here.
gdb=$1 prog=$2 scen=$3 mode=$4
command -v "$gdb" >/dev/null 2>&1 || { echo "SKIP: no gdb"; exit 77; }
if [ -n "${HSAFE_GDB_QEMU:-}" ]; then
    command -v "$HSAFE_GDB_QEMU" >/dev/null 2>&1 || { echo "SKIP: no $HSAFE_GDB_QEMU"; exit 77; }
    # A port from the pid; qemu exits at once if it is taken: try the next.
    port=$((20000 + $$ % 20000)) tries=0
    while :; do
        "$HSAFE_GDB_QEMU" -g "$port" "$prog" "$scen" >/dev/null 2>&1 &
        qpid=$!
        sleep 0.3
        kill -0 "$qpid" 2>/dev/null && break
        tries=$((tries + 1))
        [ "$tries" -lt 20 ] || { echo "FAIL: qemu gdbstub would not start"; exit 1; }
        port=$((port + 1))
    done
    out=$(timeout 100 "$gdb" -nx -batch -ex "target remote 127.0.0.1:$port" \
          -ex "break leaf_$scen" -ex continue -ex bt -ex kill "$prog" 2>&1)
    kill "$qpid" 2>/dev/null
    wait "$qpid" 2>/dev/null
else
    out=$("$gdb" -nx -batch -ex "break leaf_$scen" -ex "run $scen" -ex bt "$prog" 2>&1)
fi
echo "$out" | grep -E '^#|Backtrace|corrupt|Breakpoint 1,|ptrace'
if echo "$out" | grep -q "ptrace: Operation not permitted\|Could not trace the inferior"; then
    echo "SKIP: gdb may not trace processes here"; exit 77
fi
echo "$out" | grep -q "^Breakpoint 1, leaf_$scen" || { echo "FAIL: did not stop in leaf_$scen"; exit 1; }
if echo "$out" | grep -q "Backtrace stopped\|corrupt stack"; then
    echo "FAIL: gdb stopped the walk with an error"; exit 1
fi
case $scen in
    pooled|above) want="leaf_$scen body_$scen hsafe__coro_main SIGFRAME resumer_function main" ;;
    nested) want="leaf_nested body_inner hsafe__coro_main SIGFRAME body_outer hsafe__coro_main SIGFRAME resumer_function main" ;;
    moved) want="leaf_moved body_moved hsafe__coro_main SIGFRAME second_resumer main" ;;
    run) want="leaf_run fn_run hsafe__run_main hsafe__coro_main SIGFRAME hsafe_run_ex hsafe_run run_caller main" ;;
    *) echo "FAIL: unknown scenario $scen"; exit 1 ;;
esac
if [ "$mode" = ends ]; then
    # Only the part on the coroutine's own stack.
    want=$(echo "$want" | sed 's/ SIGFRAME.*//')
fi
# The frame names, innermost first: "#3  <signal handler called>" becomes
# SIGFRAME; "#5  0x... in name (...)" and "#6  name (...)" become name.
frames=$(echo "$out" | sed -n 's/^#[0-9][0-9]* *<signal handler called>.*/SIGFRAME/p; s/^#[0-9][0-9]* *\(0x[0-9a-f]* in \)\{0,1\}\([A-Za-z_][A-Za-z_0-9]*\) .*/\2/p' | tr '\n' ' ')
rest=" $frames"
for w in $want; do
    case $rest in
        *" $w "*) rest=" ${rest#* "$w" }" ;;
        *) echo "FAIL: '$w' missing or out of order in: $frames (want: $want)"; exit 1 ;;
    esac
done
if [ "$mode" = ends ]; then
    case " $frames " in
        *" main "*) echo "NOTE: the walk now reaches main on this backend (update run_gdb.sh and the docs)";;
    esac
fi
echo "ok: $frames"
exit 0

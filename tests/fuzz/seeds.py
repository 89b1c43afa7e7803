#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/ (run from anywhere).

Encoding (see fuzz_hsafe.c, run_program): two pool-config bytes, then
operations of one byte (low 4 bits) plus arguments:
  0,1 acquire(pool a&1)          2 release(held a%8)
  3 release(held a%8 into pool (a>>3)&1)   4 release again(released a%8)
  5 garbage release(pool a&1)    6 dirty(held a%8, len, val)
  7 destroy(pool a&1, cfg)       8 init(slot a%3, static if (a>>2)&1 else held (a>>3)%8)
  9-11 resume(slot a%3, value of 1+((a>>2)&7) bytes)   12 fini(slot a%3)
  13,14 run(pool a&1, depth|panic<<4, seed:4, cleanup mask)
  15 stats(pool a&1), or with a&0x80 a scheduler program: a loop on a pool of
     capacity 2+(a&7), a budget of 16+8*((a>>3)&15) task operations; each
     running task then reads its own operations (byte op, byte arg):
     0,11 spawn  1,12 yield  2,13 sleep  3 open scope  4 close level (join /
     shield end)  5,14 cancel  6 shield  7,15 return  8 panic  9 push
     cleanup  10 pop cleanup (see fuzz_hsafe.c, scheduler programs)
Pool config byte: bit0 32K stacks (else 16K), bits1-2 capacity-1,
bit4 caller memory, bit5 no guard, bit6 dontdump.
"""
import os

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def resume(slot, value, nbytes=1):
    return [9, slot | ((nbytes - 1) << 2)] + list(value.to_bytes(nbytes, "little"))

def run(pool, depth, panic, seed, mask):
    return [13, pool, depth | (panic << 4)] + list(seed.to_bytes(4, "little")) + [mask]

def sched(cap, budget, *ops):
    """A scheduler program; ops are (op, arg) pairs, read by whichever task
    runs (in the order the loop runs them)."""
    out = [15, 0x80 | (cap - 2) | (((budget - 16) // 8) << 3)]
    for op, arg in ops:
        out += [op, arg]
    return out

SPAWN, YIELD, SLEEP, OPEN, CLOSE, CANCEL, SHIELD, RET, PANIC, PUSH, POP = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10

seeds = {
    "coro_values": [0, 0, 8, 4] + resume(0, 0x04) + resume(0, 0x0a) + resume(0, 0x0d)
        + resume(0, 0) + [12, 0] + resume(0, 0) + [12, 0],
    "coro_nested": [0, 0, 8, 4, 8, 5] + resume(0, 7) + resume(0, 3) + resume(0, 11)
        + resume(1, 0x1000 | 1, 2) + resume(0, 7) + [12, 0, 12, 1],
    "coro_pooled_stack": [1, 0, 0, 0, 8, 0] + resume(0, 0x3e) + [2, 0] + resume(0, 0xfff4, 2)
        + [12, 0, 2, 0, 15, 0],
    "pool_exhaust": [0, 0, 0, 0, 0, 0, 6, 0, 200, 7, 2, 0, 4, 0, 0, 0, 3, 8, 5, 0, 7, 0, 0,
        2, 0, 7, 0, 6, 0, 0, 7, 0, 6, 15, 0],
    "runs": [2, 2] + run(0, 5, 0, 0x12345678, 0xff) + run(0, 10, 1, 0xdeadbeef, 0x55)
        + [0, 0, 0, 0] + run(0, 3, 0, 7, 1) + [2, 0, 2, 0] + run(1, 15, 1, 1, 0x80),
    "caller_memory": [0x13, 0x11, 0, 0, 6, 0, 255, 9, 0, 1, 0, 1, 2, 1] + run(1, 8, 0, 99, 3)
        + [8, 1] + resume(1, 0x0e) + [12, 1, 7, 1, 0x13],
    "guards_and_flags": [0x61, 0x27, 0, 0, 0, 1, 6, 0, 3, 1, 6, 1, 5, 5, 3, 0] + run(0, 12, 0, 5, 0xf0),
    "everything": [0x05, 0x12, 0, 0, 1, 1, 8, 0, 8, 9, 8, 6] + resume(0, 0x102, 2) + resume(1, 0x46)
        + resume(2, 7) + run(0, 4, 1, 42, 0x0f) + [12, 1, 2, 1, 3, 0, 4, 0, 5, 1]
        + resume(0, 0x1d) + [7, 0, 0, 12, 0, 2, 0, 7, 0, 0x10, 15, 0],
    # root opens a scope, three children: one yields, one fails (fail-fast
    # cancels the others), one sleeps; cleanups in the root and a child
    "sched_failfast": [0, 0] + sched(5, 64, (OPEN, 0), (SPAWN, 0), (SPAWN, 0), (SPAWN, 0), (PUSH, 0),
        (CLOSE, 0), (PUSH, 0), (YIELD, 0), (RET, 2), (SLEEP, 3), (YIELD, 0), (RET, 0)),
    # a child sleeps, the root cancels the scope
    "sched_cancel_sleep": [0, 0] + sched(3, 48, (OPEN, 0), (SPAWN, 0), (YIELD, 0), (PUSH, 0),
        (SLEEP, 3), (CANCEL, 1), (CLOSE, 0), (RET, 0)),
    # a scope deadline (50-100 us) expires while its children sleep; a
    # scope opened with a deadline long past
    "sched_deadline": [0, 0] + sched(4, 64, (OPEN, 0x04 | (1 << 3)), (SPAWN, 0), (SPAWN, 0), (CLOSE, 0),
        (SLEEP, 3), (SLEEP, 3), (SLEEP, 3), (SLEEP, 3), (SLEEP, 3), (SLEEP, 3), (OPEN, 0x02), (SPAWN, 0),
        (CLOSE, 0)),
    # a parent panics with running children in a nested scope
    "sched_panic_parent": [0, 0] + sched(6, 80, (OPEN, 1), (SPAWN, 0), (CLOSE, 0), (PUSH, 0), (OPEN, 0),
        (SPAWN, 0), (SPAWN, 0), (PUSH, 0), (PANIC, 0), (PUSH, 0), (SLEEP, 3), (YIELD, 0), (YIELD, 0)),
    # a cancelled child shields its cleanup: sleeps inside (grace 100 us)
    "sched_shield": [0, 0] + sched(3, 64, (OPEN, 0), (SPAWN, 0), (YIELD, 0), (SHIELD, 2), (YIELD, 0),
        (CANCEL, 1), (CLOSE, 0), (SLEEP, 3), (PUSH, 0), (POP, 1), (PUSH, 0), (CLOSE, 0), (YIELD, 0),
        (RET, 1)),
    # cancelling a scope reaches the scope its child has open, so the
    # grandchild's yield returns HSAFE_ECANCELED
    "sched_cancel_tree": [0, 0] + sched(4, 48, (OPEN, 0), (SPAWN, 0), (YIELD, 0), (OPEN, 0), (SPAWN, 0),
        (YIELD, 0), (CANCEL, 1), (CLOSE, 0), (YIELD, 0), (RET, 0), (CLOSE, 0), (RET, 0), (RET, 0)),
    # a child sleeps past its scope's deadline (50 us): the deadline ends
    # the sleep with HSAFE_ECANCELED, join returns HSAFE_ETIMEDOUT
    "sched_deadline_sleep": [0, 0] + sched(3, 32, (OPEN, 0x04), (SPAWN, 0), (CLOSE, 0), (SLEEP, 2),
        (RET, 0), (RET, 0)),
    # capacity 2: the third spawn finds no stack (HSAFE_EBUSY); spawns
    # beside itself; collect-all
    "sched_busy": [0, 0] + sched(2, 48, (OPEN, 1), (SPAWN, 0), (SPAWN, 0), (SPAWN, 0x80), (CLOSE, 0),
        (SPAWN, 0x80), (RET, 2), (RET, 3)) + [13, 0, 3, 1, 2, 3, 4, 5],
}

os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes(data))
print("wrote %d seeds to %s" % (len(seeds), here))

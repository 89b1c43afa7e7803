#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/ (run from anywhere).

Encoding (see fuzz_hsafe.c, run_program): two pool-config bytes, then
operations of one byte (low 4 bits) plus arguments:
  0,1 acquire(pool a&1)          2 release(held a%8)
  3 release(held a%8 into pool (a>>3)&1)   4 release again(released a%8)
  5 garbage release(pool a&1)    6 dirty(held a%8, len, val)
  7 destroy(pool a&1, cfg)       8 init(slot a%3, static if (a>>2)&1 else held (a>>3)%8)
  9-11 resume(slot a%3, value of 1+((a>>2)&7) bytes)   12 fini(slot a%3)
  13,14 run(pool a&1, depth|panic<<4, seed:4, cleanup mask)   15 stats(pool a&1)
Pool config byte: bit0 32K stacks (else 16K), bits1-2 capacity-1,
bit4 caller memory, bit5 no guard, bit6 dontdump.
"""
import os

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def resume(slot, value, nbytes=1):
    return [9, slot | ((nbytes - 1) << 2)] + list(value.to_bytes(nbytes, "little"))

def run(pool, depth, panic, seed, mask):
    return [13, pool, depth | (panic << 4)] + list(seed.to_bytes(4, "little")) + [mask]

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
}

os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes(data))
print("wrote %d seeds to %s" % (len(seeds), here))

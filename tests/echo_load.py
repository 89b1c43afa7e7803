#!/usr/bin/env python3
"""echo_load.py - N concurrent connections against an echo server.

    python3 tests/echo_load.py PORT [--conns 1000] [--size 4096] [--timeout 60]

Opens every connection first (all of them are open at once), then on each
sends a distinct random payload in several chunks, reads back exactly that
many bytes, compares and closes. Stdlib only (asyncio). Exits 0 only if
every connection got its own payload back within the total timeout; prints
one summary line.

    python3 tests/echo_load.py PORT --idle N [--timeout 60]

Opens N connections, checks each echoes one line, prints "idle: N open"
(flushed) and then waits, idle, until the server closes every one of them
(EOF): a server that shuts down must close the connections it holds.
Exits 0 only if all N saw EOF within the timeout.
"""
import argparse
import asyncio
import os
import resource
import sys
import time

CHUNKS = 4


async def one(port, payload, opened, all_open):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        opened.append(1)
        await all_open.wait()
        step = (len(payload) + CHUNKS - 1) // CHUNKS
        for i in range(0, len(payload), step):
            writer.write(payload[i:i + step])
            await writer.drain()
            await asyncio.sleep(0)          # let the chunks go out apart
        got = await reader.readexactly(len(payload))
        return got == payload
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def run(args):
    payloads = [os.urandom(args.size) for _ in range(args.conns)]
    opened = []
    all_open = asyncio.Event()
    tasks = [asyncio.ensure_future(one(args.port, p, opened, all_open)) for p in payloads]

    async def release():
        # bounded: the total timeout below cancels this too
        while len(opened) < args.conns and not any(t.done() for t in tasks):
            await asyncio.sleep(0.01)
        all_open.set()

    rel = asyncio.ensure_future(release())
    results = await asyncio.gather(*tasks, return_exceptions=True)
    rel.cancel()
    return results, len(opened)


async def idle(args):
    conns = [await asyncio.open_connection("127.0.0.1", args.port) for _ in range(args.idle)]
    for i, (reader, writer) in enumerate(conns):
        line = f"idle {i}\n".encode()
        writer.write(line)
        await writer.drain()
        if await reader.readexactly(len(line)) != line:
            return 0
    print(f"idle: {len(conns)} open", flush=True)
    closed = 0
    for reader, writer in conns:
        if await reader.read(1) == b"":
            closed += 1
        writer.close()
    return closed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--idle", type=int, default=0)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.conns + 64
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))

    if args.idle:
        try:
            closed = asyncio.run(asyncio.wait_for(idle(args), args.timeout))
        except (asyncio.TimeoutError, OSError) as e:
            print(f"echo_load: idle: failed: {e!r}")
            return 1
        print(f"echo_load: idle: {closed}/{args.idle} closed by the server")
        return 0 if closed == args.idle else 1

    t0 = time.monotonic()
    try:
        results, opened = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except asyncio.TimeoutError:
        print(f"echo_load: TIMEOUT after {args.timeout:.0f} s ({args.conns} connections)")
        return 1
    ok = sum(1 for r in results if r is True)
    bad = sum(1 for r in results if r is False)
    errs = [r for r in results if isinstance(r, BaseException)]
    print(f"echo_load: {ok}/{args.conns} matched, {bad} mismatched, {len(errs)} errors, "
          f"{opened} open at once, {args.size} bytes each, {time.monotonic() - t0:.2f} s")
    for e in errs[:5]:
        print(f"  error: {e!r}")
    return 0 if ok == args.conns else 1


if __name__ == "__main__":
    sys.exit(main())

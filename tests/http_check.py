#!/usr/bin/env python3
"""http_check.py - client-side checks of examples/http_server.c (phase 87).

Stdlib only. Every subcommand prints what it saw and exits 0 when it passed.

  sample PORT --seconds S
      Keep-alive requests on 4 connections for S seconds, alternating GET /
      and POST /mac with a random body; every answer is checked (the body
      of GET /, the MAC against Python's hmac with HTTP_SERVER_KEY_HEX).
      Meant to run while wrk loads the server.

  slow PORT --conns N --deadline-ms D
      N clients each send a request one byte per second. The server must
      cut each one (408 or a close) between 0.8*D and D + 2 s after it
      connected, while 4 other connections keep getting correct answers
      (at least 10 each, none wrong or slower than 1 s).

  abort PORT --conns N
      N connections each send part of a request (part of the head, or a
      head and part of its body) and vanish: half close normally, half
      reset (SO_LINGER 0). Then /debug/stats is read until every worker is
      back to its baseline (open connections, stacks in use, fds): read
      before the aborts, compared after, within 10 s.

  residue PID
      Reads the server's memory (/proc/PID/maps and /proc/PID/mem; needs
      root or ptrace rights) and searches it for any 8-byte window of the
      HMAC key's keyed state: the two SHA-256 chaining values after the
      key^ipad and key^opad blocks (computed here with our own SHA-256
      compression, as 32-bit words in either byte order) and of the key
      itself. Hits inside the keyed-state region that /debug/stats names
      (the server's sodium_malloc'd copy) are expected and reported apart.
      --expect none (default): exit 0 only if nothing is found elsewhere;
      --expect some: exit 0 only if something is (the no-wipe control).
"""
import argparse
import hashlib
import hmac
import os
import re
import socket
import struct
import sys
import threading
import time


def key_bytes():
    return bytes.fromhex(os.environ["HTTP_SERVER_KEY_HEX"])


# ---- a tiny HTTP/1.1 client (keep-alive, Content-Length only) -------------

class Conn:
    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def request(self, method, path, body=b""):
        head = f"{method} {path} HTTP/1.1\r\nHost: t\r\n"
        if method == "POST":
            head += f"Content-Length: {len(body)}\r\n"
        self.s.sendall(head.encode() + b"\r\n" + body)
        return self.response()

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed before a response")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        n = 0
        for l in lines[1:]:
            k, v = l.split(":", 1)
            if k.lower() == "content-length":
                n = int(v)
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed inside a body")
            self.buf += d
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, body

    def close(self):
        self.s.close()


def check_one(c, i, key):
    if i % 2 == 0:
        st, body = c.request("GET", "/")
        return st == 200 and body == b"Hello, world\n"
    msg = os.urandom(1 + i % 300)
    st, body = c.request("POST", "/mac", msg)
    want = hmac.new(key, msg, hashlib.sha256).hexdigest().encode() + b"\n"
    return st == 200 and body == want


def loop_client(port, stop, res, key, max_latency):
    ok = bad = slowest = 0
    try:
        c = Conn(port)
        i = 0
        while not stop.is_set():
            t0 = time.monotonic()
            good = check_one(c, i, key)
            dt = time.monotonic() - t0
            slowest = max(slowest, dt)
            if good and dt <= max_latency:
                ok += 1
            else:
                bad += 1
            i += 1
        c.close()
    except (OSError, EOFError, ValueError) as e:
        res.append((ok, bad + 1, slowest, repr(e)))
        return
    res.append((ok, bad, slowest, ""))


def cmd_sample(a):
    stop = threading.Event()
    res = []
    ts = [threading.Thread(target=loop_client, args=(a.port, stop, res, key_bytes(), 30.0))
          for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(a.seconds)
    stop.set()
    for t in ts:
        t.join()
    ok = sum(r[0] for r in res)
    bad = sum(r[1] for r in res)
    errs = [r[3] for r in res if r[3]]
    print(f"sample: {ok} correct, {bad} wrong or failed, slowest {max(r[2] for r in res):.3f} s"
          + (f"; errors: {errs}" if errs else ""))
    return 0 if ok >= 20 and bad == 0 else 1


# ---- slow clients ----------------------------------------------------------

def slow_client(port, out, deadline_s):
    req = b"POST /mac HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n" + b"x" * 40
    s = socket.create_connection(("127.0.0.1", port), timeout=deadline_s + 10)
    t0 = time.monotonic()
    got = b""
    s.settimeout(1.0)
    for b in req:
        try:
            s.send(bytes([b]))
        except OSError:
            break
        try:
            d = s.recv(4096)          # waits up to 1 s: one byte per second
            got += d
            if not d:
                break
        except socket.timeout:
            continue
        except OSError:
            break
    # the server may have answered 408 and closed: read the rest
    s.settimeout(2.0)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except OSError:
        pass
    out.append((time.monotonic() - t0, got.split(b"\r\n", 1)[0].decode("latin-1")))
    s.close()


def cmd_slow(a):
    deadline_s = a.deadline_ms / 1000.0
    slow = []
    ts = [threading.Thread(target=slow_client, args=(a.port, slow, deadline_s))
          for _ in range(a.conns)]
    stop = threading.Event()
    res = []
    fast = [threading.Thread(target=loop_client, args=(a.port, stop, res, key_bytes(), 1.0))
            for _ in range(4)]
    for t in ts + fast:
        t.start()
    for t in ts:
        t.join()
    stop.set()
    for t in fast:
        t.join()
    rc = 0
    for dt, line in slow:
        cut = 0.8 * deadline_s <= dt <= deadline_s + 2.0
        print(f"slow client: cut after {dt:.2f} s ({line or 'closed'}): {'ok' if cut else 'WRONG'}")
        if not cut:
            rc = 1
    if len(slow) != a.conns:
        rc = 1
    for ok, bad, slowest, err in res:
        print(f"fast client: {ok} correct, {bad} wrong or late, slowest {slowest:.3f} s {err}")
        if ok < 10 or bad:
            rc = 1
    return rc


# ---- abrupt disconnects ----------------------------------------------------

def stats(port):
    c = Conn(port)
    st, body = c.request("GET", "/debug/stats")
    c.close()
    if st != 200:
        raise RuntimeError(f"/debug/stats: {st}")
    return body.decode()


def baseline(text):
    """What must come back: per worker (open, in_use, run_in_use) and fds.
    The connection reading the stats counts on one worker: take it out."""
    fds = int(re.search(r"^fds (\d+)$", text, re.M).group(1))
    ws = [tuple(int(x) for x in m) for m in
          re.findall(r"^worker \d+ open (\d+) in_use (\d+) run_in_use (\d+)", text, re.M)]
    return (fds, sum(w[0] for w in ws), sum(w[1] for w in ws), sum(w[2] for w in ws))


def cmd_abort(a):
    before = baseline(stats(a.port))
    partial = [b"GET / HT",
               b"POST /mac HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"y" * 37,
               b"POST /mac HTTP/1.1\r\nHost: t\r\nContent-Le"]
    socks = []
    for i in range(a.conns):
        s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        s.sendall(partial[i % len(partial)])
        socks.append(s)
    time.sleep(0.3)                  # let the server start reading them
    mid = baseline(stats(a.port))
    for i, s in enumerate(socks):
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    t0 = time.monotonic()
    after = None
    while time.monotonic() - t0 < 10:
        after = baseline(stats(a.port))
        if after == before:
            break
        time.sleep(0.1)
    print(f"abort: (fds, open, stacks in use, run stacks in use) before {before}, "
          f"with {a.conns} half-sent connections {mid}, after closing them {after}")
    return 0 if after == before and mid[1] >= before[1] + a.conns // 2 else 1


# ---- residue ---------------------------------------------------------------

def _iroot(n, k):
    lo, hi = 0, 1 << ((n.bit_length() + k - 1) // k + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid ** k <= n:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _primes(n):
    ps, x = [], 2
    while len(ps) < n:
        if all(x % p for p in ps):
            ps.append(x)
        x += 1
    return ps


# SHA-256 constants from their definition (FIPS 180-4 4.2.2, 5.3.3): the
# first 32 bits of the fractional parts of cube roots / square roots of primes.
_K = [_iroot(p << 96, 3) & 0xffffffff for p in _primes(64)]
_IV = [_iroot(p << 64, 2) & 0xffffffff for p in _primes(8)]


def _compress(state, block):
    def rotr(x, n):
        return ((x >> n) | (x << (32 - n))) & 0xffffffff
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & 0xffffffff)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]) & 0xffffffff
        t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & 0xffffffff
        a, b, c, d, e, f, g, h = (t1 + t2) & 0xffffffff, a, b, c, (d + t1) & 0xffffffff, e, f, g
    return [(x + y) & 0xffffffff for x, y in zip(state, [a, b, c, d, e, f, g, h])]


def _sha256(msg):          # only to prove _compress right against hashlib
    m = msg + b"\x80" + b"\0" * ((55 - len(msg)) % 64) + struct.pack(">Q", 8 * len(msg))
    st = _IV
    for i in range(0, len(m), 64):
        st = _compress(st, m[i:i + 64])
    return struct.pack(">8I", *st)


def keyed_states(key):
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = _compress(_IV, bytes(b ^ 0x36 for b in key))
    outer = _compress(_IV, bytes(b ^ 0x5c for b in key))
    return inner, outer


def read_mem(mem, pos, n):
    """n bytes at pos; pages that cannot be read (guard pages) read as zero."""
    try:
        mem.seek(pos)
        return mem.read(n)
    except OSError:
        pass
    out = bytearray(n)
    page = 4096
    p = pos
    while p < pos + n:
        step = min(page - p % page, pos + n - p)
        try:
            mem.seek(p)
            out[p - pos:p - pos + step] = mem.read(step)
        except OSError:
            pass
        p += step
    return bytes(out)


def cmd_residue(a):
    for m in (b"", b"abc", os.urandom(100)):
        assert _sha256(m) == hashlib.sha256(m).digest(), "SHA-256 compression self-test"
    key = key_bytes()
    inner, outer = keyed_states(key)
    secrets = {"inner state": inner, "outer state": outer}
    needles = {}
    for name, words in secrets.items():
        for order in ("<", ">"):
            b = struct.pack(order + "8I", *words)
            for off in range(0, len(b) - 7):
                needles[b[off:off + 8]] = name
    for off in range(0, len(key) - 7):
        needles[key[off:off + 8]] = "key"
    st = a.keyed.split("-")
    klo, khi = int(st[0], 16), int(st[1], 16)
    pat = re.compile(b"|".join(re.escape(n) for n in needles))
    hits, expected, scanned = [], 0, 0
    with open(f"/proc/{a.pid}/maps") as maps, open(f"/proc/{a.pid}/mem", "rb", 0) as mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if f[1][0] != "r" or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
                continue
            for pos in range(lo, hi, 1 << 16):
                chunk = read_mem(mem, pos, min(1 << 16, hi - pos))
                scanned += len(chunk)
                if not chunk.strip(b"\0"):
                    continue
                # windows that straddle a chunk border: pass over 7 bytes more
                tail = read_mem(mem, pos + len(chunk), 7) if pos + len(chunk) < hi else b""
                for m in pat.finditer(chunk + tail):
                    addr = pos + m.start()
                    if klo <= addr < khi:
                        expected += 1
                    else:
                        hits.append((addr, needles[m.group(0)],
                                     f[5] if len(f) > 5 else "anonymous"))
    print(f"residue: scanned {scanned >> 20} MiB of pid {a.pid}; windows of the keyed state "
          f"or key: {expected} in the keyed-state region (expected), {len(hits)} elsewhere")
    where = {}
    for addr, name, region in hits:
        where.setdefault((name, region), []).append(addr)
    for (name, region), addrs in sorted(where.items()):
        print(f"  {len(addrs)} windows of the {name} in {region}, first at 0x{addrs[0]:x}")
    if expected == 0:
        print("residue: the keyed state itself was not found: the search is broken")
        return 1
    if a.expect == "none":
        return 0 if not hits else 1
    return 0 if hits else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("port", type=int)
    s.add_argument("--seconds", type=float, default=3)
    s = sub.add_parser("slow")
    s.add_argument("port", type=int)
    s.add_argument("--conns", type=int, default=3)
    s.add_argument("--deadline-ms", type=int, required=True)
    s = sub.add_parser("abort")
    s.add_argument("port", type=int)
    s.add_argument("--conns", type=int, default=100)
    s = sub.add_parser("residue")
    s.add_argument("pid", type=int)
    s.add_argument("--keyed", required=True, help="LO-HI of the keyed state (from /debug/stats)")
    s.add_argument("--expect", choices=("none", "some"), default="none")
    a = p.parse_args()
    return {"sample": cmd_sample, "slow": cmd_slow, "abort": cmd_abort,
            "residue": cmd_residue}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())

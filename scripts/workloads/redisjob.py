#!/usr/bin/env python3
"""redisjob.py [KEYS] [VALUE_BYTES]: redis-server doing real work, for `uswap run` (issue 11).

Starts Debian's redis-server (its own jemalloc, linked dynamically) as a child on a Unix socket in
a fresh directory, no persistence but the one BGSAVE below. Then: loads KEYS keys (pipelined
SETs of deterministic values), GETs them all back and checks a checksum, takes DEBUG DIGEST and
BGSAVE in one go (nothing runs between them: redis is single-threaded), rewrites a third of the
keys while the fork child saves (copy-on-write under load), waits for the save, starts a second
redis-server on the dump and checks that its DEBUG DIGEST equals the one taken at the BGSAVE.
Prints the figures; deterministic (REDISJOB_PHASES=1 adds each phase's end time on stderr).
Unmanaged peak at the defaults: about 280 MiB in redis-server (and as much again in the second
one, which loads the dump).
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

keys = int(sys.argv[1]) if len(sys.argv) > 1 else 900000
size = int(sys.argv[2]) if len(sys.argv) > 2 else 200
BATCH = 2000


def value(i, gen=0):
    seed = hashlib.blake2b(f"{i}:{gen}".encode(), digest_size=16).hexdigest()
    return (seed * (size // len(seed) + 1))[:size].encode()


class RedisError(Exception):
    """An error reply."""


class Client:
    def __init__(self, path):
        for _ in range(200):
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                time.sleep(0.05)
        else:
            sys.exit(f"redisjob: cannot connect to {path}")
        self.buf = b""

    def send(self, *cmds):
        out = []
        for cmd in cmds:
            out.append(b"*%d\r\n" % len(cmd))
            for a in cmd:
                a = a if isinstance(a, bytes) else str(a).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                sys.exit("redisjob: redis-server closed the connection")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def reply(self):
        ln = self.line()
        kind, rest = ln[:1], ln[1:]
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(1 << 20)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        return rest

    def call(self, *cmd):
        self.send(cmd)
        return self.reply()


def start(directory, name, dbfile):
    sock = os.path.join(directory, name + ".sock")
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", sock, "--dir", directory, "--dbfilename", dbfile,
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--enable-debug-command", "yes"],
        stdout=subprocess.DEVNULL)
    return proc, Client(sock)


T0 = time.monotonic()
PHASES = os.environ.get("REDISJOB_PHASES") == "1"


def phase(name):
    """With REDISJOB_PHASES=1, each phase's end on stderr (stdout stays deterministic, and without
    it so does stderr): where a run's time goes."""
    if PHASES:
        print(f"redisjob: {name} done at {time.monotonic() - T0:.1f} s", file=sys.stderr, flush=True)


work = tempfile.mkdtemp(prefix="redisjob.")
servers = []
try:
    proc, r = start(work, "main", "dump.rdb")
    servers.append(proc)
    for lo in range(0, keys, BATCH):
        hi = min(keys, lo + BATCH)
        r.send(*[(b"SET", b"key:%d" % i, value(i)) for i in range(lo, hi)])
        for _ in range(lo, hi):
            r.reply()
    print(f"loaded {r.call('DBSIZE')} keys of {size} bytes", flush=True)
    phase("load")

    check = hashlib.sha256()
    bad = 0
    for lo in range(0, keys, BATCH):
        hi = min(keys, lo + BATCH)
        r.send(*[(b"GET", b"key:%d" % i) for i in range(lo, hi)])
        for i in range(lo, hi):
            v = r.reply()
            bad += v != value(i)
            check.update(v or b"")
    print(f"read back all keys: {bad} wrong, checksum {check.hexdigest()[:32]}", flush=True)
    phase("read back")

    r.send((b"DEBUG", b"DIGEST"), (b"BGSAVE",))
    digest, _ = r.reply(), r.reply()
    rewritten = 0
    for lo in range(0, keys, 3 * BATCH):
        hi = min(keys, lo + BATCH)
        r.send(*[(b"SET", b"key:%d" % i, value(i, 1)) for i in range(lo, hi)])
        for _ in range(lo, hi):
            r.reply()
        rewritten += hi - lo
    phase("rewrite")
    while True:
        info = r.call("INFO", "persistence").decode()
        if "rdb_bgsave_in_progress:0" in info:
            break
        time.sleep(0.1)
    status = [ln for ln in info.split("\r\n") if ln.startswith("rdb_last_bgsave_status")][0]
    print(f"BGSAVE while rewriting {rewritten} keys: {status.split(':')[1]}", flush=True)
    phase("BGSAVE")
    proc.terminate()
    proc.wait()
    servers.remove(proc)

    proc2, r2 = start(work, "check", "dump.rdb")
    servers.append(proc2)
    while True:  # DBSIZE answers LOADING until the dump is in
        try:
            loaded = r2.call("DBSIZE")
            break
        except RedisError:
            time.sleep(0.1)
    phase("dump load")
    same = r2.call("DEBUG", "DIGEST") == digest
    print(f"dump holds {loaded} keys, DEBUG DIGEST same as at BGSAVE: {same}", flush=True)
    if bad or not same:
        sys.exit(1)
finally:
    for p in servers:
        p.kill()
        p.wait()
    shutil.rmtree(work, ignore_errors=True)

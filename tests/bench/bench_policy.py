#!/usr/bin/python3
"""
NAME
    bench_policy - policy delegation: sluice-policyd (Redis) against postfwd
    and policyd-rate-limit, same request stream

SYNOPSIS
    tests/bench/bench_policy.py [--seconds S] [--rounds R] [--connections N]
                                [--no-callgrind]

DESCRIPTION
    Three policy servers, each with the same two rate limits, started on
    loopback or unix sockets in a temporary directory:
      sluice-policyd    against a throwaway redis-server (unix socket):
                        limit "per-sender" (${sender}, 1000000/hour, burst
                        1000000, unit recipients) and limit "low" (match
                        sender=limited@bench.example, 3/hour, burst 3),
                        plus the suppression check it always makes (global,
                        category and tenant scopes; a few entries stored)
      postfwd2 1.35     rules rate(sender/1000000/3600/...) and, for
                        sender==limited@bench.example, rate(sender/3/3600/...);
                        its request cache off (-c 0), no DNS (-n)
      policyd-rate-limit 1.0.1, sqlite3 backend (Debian's version has no
                        Redis or memory backend), limit_by_sender,
                        [1000000, 3600] and 3/hour for limited@bench.example
    Before timing, each server must defer the 4th request of
    limited@bench.example (so the limits really count) and sluice-policyd
    must refuse a suppressed recipient.

    Client: one Python process holding N persistent connections, one
    request in flight per connection (as Postfix's smtpd does), the same
    deterministic request stream for every server (100 senders, varied
    recipients, a fresh instance per request). Each round gives each
    server S seconds; rounds interleave the servers, order reversed every
    other round. Prints requests/s per round, the median, the ratio to
    sluice-policyd, latency p50/p99 over all rounds, the servers' CPU time
    per request (utime + stime from /proc, sluice-policyd and its
    redis-server together), peak RSS (VmHWM, all
    processes of the server; Redis listed apart), PSS after the rounds and, with valgrind, the
    instructions per request measured by callgrind as the difference of two
    runs (sluice-policyd and redis-server each under callgrind; postfwd's
    processes all under callgrind; policyd-rate-limit's Python).

    Needs root (the Debian daemons want to drop privileges), a built tree
    (SLUICE_BUILDDIR), redis-server, postfwd, policyd-rate-limit.
"""
import argparse
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import benchlib
from benchlib import harness, median

LIMITED = "limited@bench.example"


def request(i, rnd=0, sender=None, recipient=None):
    """The i-th request of the stream."""
    attrs = [("request", "smtpd_access_policy"), ("protocol_state", "RCPT"),
             ("protocol_name", "ESMTP"), ("client_address", "127.0.0.%d" % (1 + i % 50)),
             ("client_name", "client%d.test" % (i % 50)), ("helo_name", "client%d.test" % (i % 50)),
             ("queue_id", ""), ("instance", "%x.%x.%x" % (os.getpid(), rnd, i)),
             ("sender", sender or "user%d@sender%d.example" % (i % 100, i % 10)),
             ("recipient", recipient or "rcpt%d@dest%d.example" % (i, i % 37)),
             ("recipient_count", "0"), ("size", "2048"), ("sasl_username", "")]
    return "".join("%s=%s\n" % kv for kv in attrs).encode() + b"\n"


def connect(addr):
    s = socket.socket(socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET)
    s.connect(addr)
    if not isinstance(addr, str):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def ask(addr, reqs):
    """Send requests one by one on one connection; returns the actions."""
    s = connect(addr)
    out = []
    for r in reqs:
        s.sendall(r)
        buf = b""
        while not buf.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        out.append(buf.decode().split("\n")[0].split("=", 1)[1])
    s.close()
    return out


def load(addr, connections, seconds=None, count=None, rnd=0):
    """Closed loop over N connections; returns (completed, elapsed, latencies)."""
    sel = selectors.DefaultSelector()
    conns = []
    nxt = [0]
    lat = []

    def send(c):
        c["t"] = time.perf_counter()
        c["s"].sendall(request(nxt[0], rnd))
        nxt[0] += 1

    for _ in range(connections):
        c = {"s": connect(addr), "buf": b""}
        sel.register(c["s"], selectors.EVENT_READ, c)
        conns.append(c)
    t0 = time.perf_counter()
    end = t0 + seconds if seconds else None
    for c in conns:
        send(c)
    inflight = len(conns)
    while inflight:
        for key, _ in sel.select(timeout=30):
            c = key.data
            data = c["s"].recv(65536)
            if not data:
                raise ConnectionError("policy server closed the connection")
            c["buf"] += data
            while b"\n\n" in c["buf"]:
                _, c["buf"] = c["buf"].split(b"\n\n", 1)
                now = time.perf_counter()
                lat.append(now - c["t"])
                inflight -= 1
                if (end and now < end) or (count and nxt[0] < count):
                    send(c)
                    inflight += 1
    elapsed = time.perf_counter() - t0
    for c in conns:
        c["s"].close()
    return len(lat), elapsed, lat


def descendants(pid):
    out = []
    for c in benchlib.children(pid):
        out += [c] + descendants(c)
    return out


def stop_tree(pid, timeout=30):
    """SIGTERM a daemon and every process under it (postfwd's children outlive the master)."""
    pids = [pid] + descendants(pid)
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(harness.pid_alive(p) for p in pids):
        time.sleep(0.1)
        for p in pids:      # reap our own children
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass


class Server:
    name = ""

    def __init__(self, env, wrap=()):
        self.env, self.wrap = env, list(wrap)
        self.start()

    def pids(self):
        return [self.pid]

    def rss(self):
        return sum(benchlib.tree_hwm(p) for p in self.pids())

    def stop(self):
        for p in self.pids():
            stop_tree(p)


_serial = [0]


def serial():
    _serial[0] += 1
    return _serial[0]


class Sluice(Server):
    name = "sluice-policyd"

    def start(self):
        n = serial()
        env = self.env
        self.redis_sock = os.path.join(env.dir, "redis-%d.sock" % n)
        self.redis = harness.Proc(env, "redis-%d" % n, self.wrap + [
            "redis-server", "--port", "0", "--unixsocket", self.redis_sock, "--unixsocketperm", "777",
            "--save", "", "--appendonly", "no", "--dir", env.dir])
        harness.wait_for(lambda: harness.can_connect(self.redis_sock), 60, "redis")
        cli = ["redis-cli", "-s", self.redis_sock]
        for a in ("gone1@dest1.example", "gone2@dest2.example", "gone3@dest3.example"):
            subprocess.run(cli + ["HSET", "sluice:supp:global:" + a, "reason", "hard-bounce",
                                  "source", "bench"], check=True, capture_output=True)
        self.addr = os.path.join(env.dir, "policyd-%d.sock" % n)
        conf = env.file("policyd-%d.conf" % n, """
log_level = "warning"
secret_file = "%s"
redis { socket = "%s" prefix = "sluice:" connect_timeout = 1000 command_timeout = 1000 }
policyd {
  listen = { "unix:%s" }
  timeout = 1000
  limit "per-sender" { key = '${sender}' rate = "1000000/hour" burst = "1000000" unit = "recipients" }
  limit "low" { key = '${sender}' match = "sender=%s" rate = "3/hour" burst = "3" unit = "recipients" }
}
""" % (env.tokenkey, self.redis_sock, self.addr, LIMITED))
        self.proc = harness.Proc(env, "sluice-policyd-%d" % n, self.wrap + [
            harness.program("policyd", "sluice-policyd"), "-f", "-c", conf])
        harness.wait_for(lambda: harness.can_connect(self.addr) or not self.proc.alive(), 60,
                         "sluice-policyd")
        if not self.proc.alive():
            raise RuntimeError(self.proc.output())
        self.pid = self.proc.pid
        time.sleep(1.0 if not self.wrap else 3.0)   # the limit table is polled from Redis

    def pids(self):
        return [self.pid, self.redis.pid]

    def sanity(self):
        got = ask(self.addr, [request(0, 99, recipient="gone2@dest2.example")])
        if not got[0].upper().startswith("REJECT") and not got[0].startswith("5"):
            raise RuntimeError("sluice-policyd did not refuse a suppressed recipient: %s" % got)


class Postfwd(Server):
    name = "postfwd2"

    def start(self):
        n = serial()
        env = self.env
        port, cport = harness.free_port(), harness.free_port()
        rules = env.file("postfwd-%d.cf" % n,
                         "id=LOW; sender==%s; action=rate(sender/3/3600/450 4.7.1 rate exceeded)\n"
                         "id=RATE; action=rate(sender/1000000/3600/450 4.7.1 rate exceeded)\n" % LIMITED)
        pidfile = os.path.join(env.dir, "postfwd-%d.pid" % n)
        p = subprocess.run(self.wrap + ["postfwd2", "-d", "-f", rules,
                                        "--server_socket", "tcp:127.0.0.1:%d" % port,
                                        "--cache_socket", "tcp:127.0.0.1:%d" % cport,
                                        "--pidfile", pidfile, "-u", "root", "-g", "root",
                                        "-c", "0", "-n", "--perfmon"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        self.addr = ("127.0.0.1", port)
        harness.wait_for(lambda: os.path.exists(pidfile) and harness.can_connect(self.addr), 120,
                         "postfwd2")
        self.pid = int(open(pidfile).read().split()[0])
        if p.returncode != 0:
            raise RuntimeError("postfwd2 exited with %d" % p.returncode)

    def sanity(self):
        pass


class RateLimit(Server):
    name = "policyd-rate-limit"
    on_disk = False

    def stop(self):
        Server.stop(self)
        if not self.on_disk:
            shutil.rmtree(self.dbdir, ignore_errors=True)

    def start(self):
        n = serial()
        env = self.env
        self.addr = os.path.join(env.dir, "prl-%d.sock" % n)
        # sqlite on tmpfs: Redis runs without persistence too; on disk every
        # request waits for an fsync (about 60 requests/s here)
        self.dbdir = env.dir if self.on_disk else tempfile.mkdtemp(prefix="bench-prl-", dir="/dev/shm")
        conf = env.file("prl-%d.yaml" % n, """
debug: False
user: "root"
group: "root"
pidfile: "%(d)s/prl-%(n)d.pid"
backend: 0
sqlite_config:
    database: "%(db)s/prl-%(n)d.sqlite3"
SOCKET: "%(sock)s"
socket_permission: 0666
limits:
    - [1000000, 3600]
limits_by_id:
    "%(limited)s": [[3, 3600]]
limit_by_sasl: False
limit_by_sender: True
limit_by_ip: False
limited_networks: ["0.0.0.0/0"]
success_action: "dunno"
fail_action: "defer_if_permit Rate limit reach, retry later"
db_error_action: "dunno"
report: False
delay_to_close: 300
""" % {"d": env.dir, "n": n, "sock": self.addr, "limited": LIMITED, "db": self.dbdir})
        self.proc = harness.Proc(env, "prl-%d" % n, self.wrap + ["policyd-rate-limit", "-f", conf])
        harness.wait_for(lambda: harness.can_connect(self.addr) or not self.proc.alive(), 120,
                         "policyd-rate-limit")
        if not self.proc.alive():
            raise RuntimeError(self.proc.output())
        self.pid = self.proc.pid

    def sanity(self):
        pass


def check_limits(srv):
    """The 4th request of the limited sender must be deferred, the first three not."""
    got = ask(srv.addr, [request(i, 98, sender=LIMITED) for i in range(4)])
    low = [g.lower() for g in got]
    if any(g.startswith(("defer", "450", "4")) for g in low[:3]) or not low[3].startswith(("defer", "450")):
        raise RuntimeError("%s: limit not enforced as expected: %s" % (srv.name, got))
    srv.sanity()


def instructions(env, cls, n1, n2):
    """Callgrind instructions per request: {process kind: (I(n2) - I(n1)) / (n2 - n1)}."""
    totals = []
    for n in (n1, n2):
        out = os.path.join(env.dir, "cg-%s-%d-%d" % (cls.name, n, serial()))
        srv = cls(env, benchlib.callgrind_argv(out + ".%p") + ["--trace-children=yes"])
        load(srv.addr, 1, count=n, rnd=7)
        srv.stop()
        kinds = {}
        for path in benchlib._glob(out + ".*"):
            cmd = ""
            with open(path) as f:
                for line in f:
                    if line.startswith("cmd:"):
                        cmd = line.split()[1] if len(line.split()) > 1 else ""
                        break
            kind = "redis-server" if "redis" in cmd else cls.name
            kinds[kind] = kinds.get(kind, 0) + benchlib.callgrind_total(path)
        totals.append(kinds)
    return {k: (totals[1].get(k, 0) - totals[0].get(k, 0)) / (n2 - n1) for k in totals[1]}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description="policy servers: sluice-policyd vs postfwd vs policyd-rate-limit")
    ap.add_argument("--seconds", type=float, default=3.0, help="per server per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--no-callgrind", action="store_true")
    args = ap.parse_args()
    env = harness.Env("bench-policy")
    servers = []
    try:
        env.tokenkey = env.secret()
        servers = [cls(env) for cls in (Sluice, Postfwd, RateLimit)]
        for s in servers:
            check_limits(s)
        print("bench_policy: %.0f s per server per round, %d rounds, %d connections; %s" % (
            args.seconds, args.rounds, args.connections, benchlib.stamp()), flush=True)
        rates = {s.name: [] for s in servers}
        lats = {s.name: [] for s in servers}
        cpu = {s.name: -sum(benchlib.tree_cpu(p) for p in s.pids()) for s in servers}
        for rnd in range(args.rounds):
            for s in (servers if rnd % 2 == 0 else list(reversed(servers))):
                n, el, lat = load(s.addr, args.connections, seconds=args.seconds, rnd=rnd + 1)
                rates[s.name].append(n / el)
                lats[s.name] += lat
                print("round %d  %-20s %9.1f req/s" % (rnd + 1, s.name, n / el), flush=True)
        for s in servers:
            cpu[s.name] = (cpu[s.name] + sum(benchlib.tree_cpu(p) for p in s.pids())) / len(lats[s.name])
        rss, pss = {}, {}
        for s in servers:
            rss[s.name] = benchlib.tree_hwm(s.pid)
            pss[s.name] = benchlib.tree_pss(s.pid)
            if isinstance(s, Sluice):
                rss["redis-server"] = benchlib.vm_hwm(s.redis.pid)
                pss["redis-server"] = benchlib.pss(s.redis.pid)
            s.stop()
        servers = []
        ir = {}
        if not args.no_callgrind and benchlib.have("valgrind"):
            ir.update(instructions(env, Sluice, 500, 2500))
            ir.update(instructions(env, Postfwd, 100, 500))
            ir.update(instructions(env, RateLimit, 100, 300))
        print()
        base = median(rates["sluice-policyd"])
        rows = []
        for name in rates:
            m = median(rates[name])
            rows.append([name, "%.0f" % m, "%.2f" % (m / base),
                         "%.2f" % (pct(lats[name], 50) * 1000), "%.2f" % (pct(lats[name], 99) * 1000),
                         "%.0f" % (cpu[name] * 1e6),
                         "%.0fk" % (ir[name] / 1000) if name in ir else "-",
                         "%.1f" % (rss[name] / 1024), "%.1f" % (pss[name] / 1024)])
            if name == "sluice-policyd":
                rows.append(["  + its redis-server", "", "", "", "", "(incl.)",
                             "%.0fk" % (ir["redis-server"] / 1000) if "redis-server" in ir else "-",
                             "%.1f" % (rss["redis-server"] / 1024), "%.1f" % (pss["redis-server"] / 1024)])
        benchlib.table(rows, ["server", "req/s (median)", "ratio", "p50 ms", "p99 ms", "CPU us/req", "instr/req",
                              "peak RSS MiB", "PSS MiB"])
    finally:
        for s in servers:
            s.stop()
        env.close()


if __name__ == "__main__":
    main()

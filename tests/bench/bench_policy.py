#!/usr/bin/python3
"""
NAME
    bench_policy - policy delegation: sluice-policyd (Redis) against postfwd,
    policyd-rate-limit and the bare decision script, same request stream

SYNOPSIS
    tests/bench/bench_policy.py [--seconds S] [--rounds R] [--connections N[,N...]]
                                [--no-callgrind] [--no-rate-limit]

DESCRIPTION
    Policy servers with the same two rate limits, started on loopback or
    unix sockets in a temporary directory:
      sluice-policyd    against a throwaway redis-server (unix socket):
                        limit "per-sender" (${sender}, 1000000/hour, burst
                        1000000, unit recipients) and limit "low" (match
                        sender=limited@bench.example, 3/hour, burst 3),
                        plus the suppression check it always makes (global,
                        category and tenant scopes; a few entries stored)
      postfwd2 1.35     rules rate(sender/1000000/3600/...) and, for
                        sender==limited@bench.example, rate(sender/3/3600/...);
                        its request cache off (-c 0), no DNS (-n)
      policyd-rate-limit 1.0.1 (unless --no-rate-limit), sqlite3 backend
                        on tmpfs (Debian's version has no Redis or memory
                        backend), limit_by_sender, [1000000, 3600] and
                        3/hour for limited@bench.example
      bare EVALSHA      redis-benchmark sending the very EVALSHA that
                        sluice-policyd sends for a request of the stream
                        (caught with MONITOR: same script, keys and
                        arguments; sender and recipient numbered at random)
                        to the same redis-server: what the decision costs
                        Redis alone, without policyd and the protocol
    Before timing, each server must defer the 4th request of
    limited@bench.example (so the limits really count) and sluice-policyd
    must refuse a suppressed recipient.

    Client: tests/bench/policy_load (C, one thread per connection, one
    request in flight per connection as Postfix's smtpd does), the same
    deterministic request stream for every server (100 senders, varied
    recipients, a fresh instance per request). Each round gives each
    server S seconds at each concurrency; rounds interleave the servers,
    order reversed every other round. Prints requests/s per round, the
    median, sluice-policyd's rate over each peer's, latency p50/p99 (the
    medians over rounds), the servers' CPU time per request (utime + stime
    from /proc of all their processes; sluice-policyd with its
    redis-server), the client's, Redis' commands per EVALSHA and
    microseconds per EVALSHA (INFO commandstats), peak RSS (VmHWM), and
    with valgrind the instructions per request measured by callgrind as
    the difference of two runs (sluice-policyd and redis-server each
    under callgrind; postfwd's processes all under callgrind).

    Needs root (the Debian daemons want to drop privileges), a built tree
    (SLUICE_BUILDDIR; make check builds tests/bench/policy_load),
    redis-server, redis-benchmark, postfwd, policyd-rate-limit.
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
import keys  # noqa: E402  (benchlib puts tests/integration on the path)
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

    def all_pids(self):
        """Every process of the server (postfwd forks a cache and children)."""
        return [q for p in self.pids() for q in [p] + descendants(p)]

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
    program = None      # another build's sluice-policyd (--old-policyd)
    extra = ""          # more policyd { } options (bench_policy_conns.py)
    log_level = "warning"

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
            subprocess.run(cli + ["HSET", keys.supp("global", a), "reason", "hard-bounce",
                                  "source", "bench"], check=True, capture_output=True)
        self.addr = os.path.join(env.dir, "policyd-%d.sock" % n)
        conf = env.file("policyd-%d.conf" % n, """
log_level = "%s"
secret_file = "%s"
redis { socket = "%s" prefix = "sluice:" connect_timeout = 1000 command_timeout = 1000 }
policyd {
  listen = { "unix:%s" }
  timeout = 1000
  limit "per-sender" { key = '${sender}' rate = "1000000/hour" burst = "1000000" unit = "recipients" }
  limit "low" { key = '${sender}' match = "sender=%s" rate = "3/hour" burst = "3" unit = "recipients" }
%s}
""" % (self.log_level, env.tokenkey, self.redis_sock, self.addr, LIMITED, self.extra))
        self.proc = harness.Proc(env, "sluice-policyd-%d" % n, self.wrap + [
            self.program or harness.program("policyd", "sluice-policyd"), "-f", "-c", conf])
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
    args = ()           # more postfwd2 options (bench_policy_conns.py: --max_servers)

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
                                        "-c", "0", "-n", "--perfmon"] + list(self.args),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        self.addr = ("127.0.0.1", port)
        # the cache daemon too: postfwd2 keeps rate counters there, and a request
        # answered before it listens is not counted (DUNNO: check_limits fails)
        harness.wait_for(lambda: os.path.exists(pidfile) and harness.can_connect(self.addr)
                         and harness.can_connect(("127.0.0.1", cport)), 120, "postfwd2 and its cache")
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
            kind = ("redis-server (%s)" % cls.name) if "redis" in cmd else cls.name
            kinds[kind] = kinds.get(kind, 0) + benchlib.callgrind_total(path)
        totals.append(kinds)
    return {k: (totals[1].get(k, 0) - totals[0].get(k, 0)) / (n2 - n1) for k in totals[1]}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


POLICY_LOAD = os.path.join(harness.BUILDDIR, "tests", "bench", "policy_load")


def load_c(srv, connections, seconds, rnd):
    """One run of the C client (tests/bench/policy_load.c); returns its figures as a dict."""
    where = ["-s", srv.addr] if isinstance(srv.addr, str) else ["-t", "%s:%d" % srv.addr]
    argv = [POLICY_LOAD] + where + ["-c", str(connections), "-d", str(seconds), "-k", str(rnd),
                                    "-p", ",".join(str(p) for p in srv.all_pids())]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds * 10 + 120)
    if r.returncode != 0:
        raise RuntimeError("%s: policy_load failed: %s %s" % (srv.name, r.stdout, r.stderr))
    return {k: float(v) for k, v in (f.split("=", 1) for f in r.stdout.split())}


def redis_info(sock, section):
    out = subprocess.run(["redis-cli", "-s", sock, "INFO", section], capture_output=True,
                         text=True, check=True).stdout
    return dict(l.split(":", 1) for l in out.splitlines() if ":" in l)


def commandstats(sock):
    """{command: (calls, usec)} from INFO commandstats."""
    out = {}
    for k, v in redis_info(sock, "commandstats").items():
        if k.startswith("cmdstat_"):
            f = dict(x.split("=") for x in v.split(","))
            out[k[8:]] = (int(f["calls"]), int(f["usec"]))
    return out


def script_cost(before, after):
    """Commands run per EVALSHA and Redis microseconds per EVALSHA between two commandstats."""
    d = {c: (after[c][0] - before.get(c, (0, 0))[0], after[c][1] - before.get(c, (0, 0))[1])
         for c in after}
    ev = d.get("evalsha", (0, 0))
    if ev[0] == 0:
        return float("nan"), float("nan")
    inner = sum(n for c, (n, _) in d.items() if c not in ("evalsha", "info", "monitor"))
    return inner / ev[0], ev[1] / ev[0]


def capture_evalsha(srv):
    """The EVALSHA sluice-policyd sends for one request of the stream (seen with MONITOR)."""
    import shlex
    mon = subprocess.Popen(["redis-cli", "-s", srv.redis_sock, "MONITOR"], stdout=subprocess.PIPE,
                           text=True)
    try:
        mon.stdout.readline()           # OK
        ask(srv.addr, [request(0, 97)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = mon.stdout.readline()
            if '"EVALSHA"' in line or '"evalsha"' in line:
                return shlex.split(line.split("]", 1)[1])
        raise RuntimeError("no EVALSHA seen from sluice-policyd")
    finally:
        mon.kill()
        mon.wait()


class EvalSha(Server):
    """redis-benchmark sending sluice-policyd's own decision EVALSHA (same keys and
    arguments, sender and recipient numbered at random) straight to the same Redis:
    the rate of the script alone, without policyd and the policy protocol."""
    name = "bare EVALSHA (redis-benchmark)"

    def __init__(self, sluice):
        self.sluice = sluice
        self.redis_sock = sluice.redis_sock
        cmd = capture_evalsha(sluice)
        sender, rcpt = request_addrs(0)
        self.cmd = [a.replace(sender, "user__rand_int__@sender0.example")
                    .replace(rcpt, "rcpt__rand_int__@dest0.example") for a in cmd]
        self.n = 50000

    def all_pids(self):
        return [self.sluice.redis.pid]

    def run(self, connections, seconds):
        cpu0 = benchlib.cpu_seconds(self.sluice.redis.pid)
        t0 = time.monotonic()
        r = subprocess.run(["redis-benchmark", "-s", self.redis_sock, "-c", str(connections),
                            "-n", str(self.n), "-r", "100000", "--csv"] + self.cmd,
                           capture_output=True, text=True, timeout=600)
        el = time.monotonic() - t0
        cpu = benchlib.cpu_seconds(self.sluice.redis.pid) - cpu0
        rows = [l for l in r.stdout.splitlines() if l.startswith('"') and not l.startswith('"test"')]
        if r.returncode != 0 or not rows:
            raise RuntimeError("redis-benchmark failed: %s %s" % (r.stdout, r.stderr))
        rate = float(rows[-1].split(",")[1].strip('"'))
        n = self.n
        self.n = max(5000, int(rate * seconds))     # about `seconds` for the next round
        return {"req_per_s": rate, "requests": n, "server_cpu_us_per_req": cpu * 1e6 / n,
                "seconds": el}


def request_addrs(i):
    return "user%d@sender%d.example" % (i % 100, i % 10), "rcpt%d@dest%d.example" % (i, i % 37)


def main():
    ap = argparse.ArgumentParser(description="policy servers: sluice-policyd vs postfwd, "
                                 "policyd-rate-limit and the bare decision EVALSHA")
    ap.add_argument("--seconds", type=float, default=3.0, help="per server per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--connections", default="8", help="comma-separated, e.g. 8,64")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-rate-limit", action="store_true", help="leave policyd-rate-limit out")
    ap.add_argument("--old-policyd", help="also run this sluice-policyd binary (e.g. main's build)")
    args = ap.parse_args()
    conc = [int(c) for c in args.connections.split(",")]
    env = harness.Env("bench-policy")
    servers = []
    try:
        env.tokenkey = env.secret()
        classes = [Sluice, Postfwd] if args.no_rate_limit else [Sluice, Postfwd, RateLimit]
        if args.old_policyd:
            classes.append(type("OldSluice", (Sluice,), {"name": "sluice-policyd (old)",
                                                          "program": args.old_policyd}))
        servers = [cls(env) for cls in classes]
        for s in servers:
            check_limits(s)
        sluice = servers[0]
        peers = servers + [EvalSha(sluice)]
        print("bench_policy: %g s per server per round, %d rounds, connections %s, C client; %s" % (
            args.seconds, args.rounds, args.connections, benchlib.stamp()), flush=True)
        print("bare EVALSHA command: %s" % " ".join(peers[-1].cmd)[:400], flush=True)
        keys = [(p.name, c) for c in conc for p in peers]
        fig = {k: [] for k in keys}
        cost = {k: [] for k in keys}
        loads = []
        for rnd in range(args.rounds):
            for p in (peers if rnd % 2 == 0 else list(reversed(peers))):
                for c in conc:
                    rsock = getattr(p, "redis_sock", None)
                    before = commandstats(rsock) if rsock else None
                    r = p.run(c, args.seconds) if isinstance(p, EvalSha) else load_c(p, c, args.seconds, rnd + 1)
                    if before is not None:
                        cost[(p.name, c)].append(script_cost(before, commandstats(rsock)))
                    fig[(p.name, c)].append(r)
                    print("round %d  %-32s c=%-3d %9.1f req/s  %6.1f us CPU/req" % (
                        rnd + 1, p.name, c, r["req_per_s"], r["server_cpu_us_per_req"]), flush=True)
            loads.append(open("/proc/loadavg").read().split()[0])
        print("load average (1 min) after each round: %s" % " ".join(loads))
        rss = {s.name: benchlib.tree_hwm(s.pid) for s in servers}
        rss["redis-server"] = benchlib.vm_hwm(sluice.redis.pid)
        for s in servers:
            if isinstance(s, Sluice):
                rss[s.name] = benchlib.vm_hwm(s.pid)
        for s in servers:
            s.stop()
        servers = []
        ir = {}
        if not args.no_callgrind and benchlib.have("valgrind"):
            for cls in classes:
                if cls is not RateLimit:
                    ir.update(instructions(env, cls, 100, 500) if cls is Postfwd
                              else instructions(env, cls, 500, 2500))
        print()
        rows = []
        for c in conc:
            base = median([r["req_per_s"] for r in fig[("sluice-policyd", c)]])
            for name, _ in [k for k in keys if k[1] == c]:
                rs = fig[(name, c)]
                m = median([r["req_per_s"] for r in rs])
                cc = cost[(name, c)]
                rows.append([name, c, "%.0f" % m, "%.2f" % (base / m),
                             "%.2f" % median([r.get("p50_ms", float("nan")) for r in rs]),
                             "%.2f" % median([r.get("p99_ms", float("nan")) for r in rs]),
                             "%.0f" % median([r["server_cpu_us_per_req"] for r in rs]),
                             "%.0f" % median([r.get("client_cpu_us_per_req", float("nan")) for r in rs]),
                             "%.1f" % median([x[0] for x in cc]) if cc else "-",
                             "%.1f" % median([x[1] for x in cc]) if cc else "-",
                             "%.0fk" % (ir[name] / 1000) if name in ir else "-",
                             "%.1f" % (rss[name] / 1024) if name in rss else "-"])
        benchlib.table(rows, ["server", "conns", "req/s (median)", "sluice / this", "p50 ms", "p99 ms",
                              "server CPU us/req", "client CPU us/req", "redis cmds/EVALSHA",
                              "redis us/EVALSHA", "instr/req", "peak RSS MiB"])
        for name in sorted(ir):
            if name.startswith("redis-server"):
                print("callgrind: %s %.0fk instructions per request" % (name, ir[name] / 1000))
        print("peak RSS: redis-server %.1f MiB" % (rss["redis-server"] / 1024))
    finally:
        for s in servers:
            s.stop()
        env.close()


if __name__ == "__main__":
    main()

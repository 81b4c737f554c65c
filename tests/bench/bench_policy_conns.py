#!/usr/bin/python3
"""
NAME
    bench_policy_conns - memory of a policy server holding many concurrent
    connections (Postfix keeps one per smtpd process): sluice-policyd
    against postfwd, at 0, 100 and 1,000 connections

SYNOPSIS
    tests/bench/bench_policy_conns.py [--levels 0,100,1000] [--rounds R]
                                      [--seconds S] [--no-postfwd-default]

DESCRIPTION
    The servers of bench_policy.py (same limits, same request stream):
      sluice-policyd        its shipped max_connections (1000), its
                            redis-server on a unix socket
      postfwd2              --max_servers set to the largest level + 10
                            (at least 60, above its max_spare_servers 50):
                            postfwd is a prefork server, one child per
                            connection, so this is what an admin must set
                            for it to hold that many smtpd connections
      postfwd2 (defaults)   Debian's defaults (max_servers 100), unless
                            --no-postfwd-default: how many of the
                            connections it answers at all
    For each server (a fresh instance per round; rounds interleave the
    servers, order reversed every other round) the client opens the
    connections level by level on the same instance (0, then up to 100,
    then up to 1,000: the ones of the level before stay open), and at
    each level:
      0. opens the connections and, after 2 s, reads the memory figures
         below ("idle": connected, no request sent on the new ones yet);
      1. sends one request on every open connection and waits up to 30 s
         (10 s for postfwd's defaults) for the answers: "answered" counts
         them (the ones that did not answer stay open, unanswered);
      2. runs a closed loop for S seconds over every answered connection
         (one request in flight on each, as smtpd does); the rate is the
         client's (one niced Python process), not a figure of merit;
      3. then ("active"), the connections held open, each having served
         requests, reads every process of
         the server: the number of processes, RSS (VmRSS, summed: counts a
         shared page once per process), PSS (summed: shared pages divided
         among their sharers, the fair total for a prefork server) and,
         for sluice-policyd, its VmHWM (peak).
    The first figures are read before any connection ("start"), the last
    after all connections are closed ("closed"). Memory per connection is
    (figure at the level - figure at start) / level, in KiB. sluice-policyd's redis-server holds no
    connection of the clients (policyd has its own one or two); its RSS
    is printed apart.

    At 1,000 connections postfwd forks hundreds of Perl children (about
    3 GiB PSS and a load average past 100 on 2 cores): on a machine shared
    with others, --levels 0,100 keeps it light.

    The load generator is this process, run at nice 10 once the servers
    are up (the servers are not niced); it changes no memory figure.
    Needs root (postfwd drops privileges), a built tree (SLUICE_BUILDDIR),
    redis-server and postfwd. Figures only, nothing asserted.
"""
import argparse
import os
import selectors
import socket
import time

import benchlib
from benchlib import harness, median
import bench_policy
from bench_policy import Postfwd, Sluice, request


class SluiceReady(Sluice):
    """sluice-policyd, started once its limit table holds the limits (its log says
    "limit low: loaded"), not after a fixed pause: the limit check must not race
    the first poll on a loaded machine."""
    log_level = "info"

    def start(self):
        Sluice.start(self)
        harness.wait_for(lambda: "limit low: loaded" in self.proc.output(), 60,
                         "sluice-policyd's limit table")


def status_kib(pid, field):
    """A /proc/PID/status field in KiB (VmRSS, VmHWM), 0 when gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Client:
    """Many policy connections to one server, driven from one selector."""

    def __init__(self, addr):
        self.addr = addr
        self.conns = []         # [{"s": socket, "buf": bytes, "ok": answered once}]
        self.sel = selectors.DefaultSelector()
        self.next = 0
        self.refused = 0

    def open_to(self, n):
        while len(self.conns) < n:
            unix = isinstance(self.addr, str)
            s = socket.socket(socket.AF_UNIX if unix else socket.AF_INET)
            # a unix connect with a timeout fails at once (EAGAIN) while the
            # listen queue is full; a blocking one waits for the server
            s.settimeout(None if unix else 10)
            try:
                s.connect(self.addr)
            except OSError:
                self.refused += 1
                s.close()
                if self.refused > 50:
                    raise
                continue
            s.setblocking(False)
            c = {"s": s, "buf": b"", "ok": False, "busy": False}
            self.sel.register(s, selectors.EVENT_READ, c)
            self.conns.append(c)

    def _send(self, c):
        c["s"].setblocking(True)
        c["s"].sendall(request(self.next, 5))
        c["s"].setblocking(False)
        self.next += 1
        c["busy"] = True

    def _pump(self, deadline, again, watch=lambda c: True):
        """Read answers until deadline or no watched connection has one in flight;
        again(c) says whether to send the next request on c."""
        done = 0
        while time.monotonic() < deadline and any(c["busy"] and watch(c) for c in self.conns):
            for key, _ in self.sel.select(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
                c = key.data
                try:
                    data = c["s"].recv(65536)
                except BlockingIOError:
                    continue
                if not data:        # closed by the server (refused past its cap)
                    self.sel.unregister(c["s"])
                    c["busy"] = False
                    continue
                c["buf"] += data
                while b"\n\n" in c["buf"]:
                    _, c["buf"] = c["buf"].split(b"\n\n", 1)
                    c["busy"] = False
                    c["ok"] = True
                    done += 1
                    if again(c):
                        self._send(c)
        return done

    def answer_all(self, timeout):
        """One request on every idle connection; how many connections have answered."""
        for c in self.conns:
            if not c["busy"]:
                try:
                    self._send(c)
                except OSError:
                    pass
        self._pump(time.monotonic() + timeout, lambda c: False)
        return sum(1 for c in self.conns if c["ok"])

    def loop(self, seconds):
        """Closed loop over the answered connections; requests/s."""
        end = time.monotonic() + seconds
        for c in self.conns:
            if c["ok"] and not c["busy"]:
                self._send(c)
        t0 = time.monotonic()
        n = self._pump(end, lambda c: time.monotonic() < end, lambda c: c["ok"])
        el = time.monotonic() - t0
        self._pump(time.monotonic() + 30, lambda c: False, lambda c: c["ok"])  # the last in flight
        return n / el if el > 0 else 0.0

    def close(self):
        for c in self.conns:
            try:
                self.sel.unregister(c["s"])
            except (KeyError, ValueError):
                pass
            c["s"].close()
        self.conns = []


def memory(srv):
    """{procs, rss, pss, hwm} in KiB over the server's processes (sluice-policyd: itself only)."""
    pids = [srv.pid] if isinstance(srv, Sluice) else srv.all_pids()
    return {"procs": len(pids), "rss": sum(status_kib(p, "VmRSS") for p in pids),
            "pss": sum(benchlib.pss(p) for p in pids),
            "hwm": status_kib(srv.pid, "VmHWM") if isinstance(srv, Sluice) else 0}


def main():
    ap = argparse.ArgumentParser(description="policy servers' memory at many connections")
    ap.add_argument("--levels", default="0,100,1000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=2.0, help="closed loop per level")
    ap.add_argument("--no-postfwd-default", action="store_true")
    args = ap.parse_args()
    levels = sorted(int(x) for x in args.levels.split(","))
    if levels[0] != 0:
        levels.insert(0, 0)
    top = levels[-1]
    classes = [SluiceReady, type("PostfwdMax", (Postfwd,), {
        "name": "postfwd2", "args": ("--max_servers", str(max(top + 10, 60)))})]
    if not args.no_postfwd_default:
        classes.append(type("PostfwdDefault", (Postfwd,), {"name": "postfwd2 (defaults)"}))
    steps = [(0, "start")] + [(n, ph) for n in levels if n for ph in ("idle", "active")] + [(0, "closed")]
    env = harness.Env("bench-pconns")
    env.tokenkey = env.secret()
    fig = {}
    niced = False
    print("bench_policy_conns: levels %s, %d rounds, %g s closed loop per level; %s" % (
        ",".join(map(str, levels)), args.rounds, args.seconds, benchlib.stamp()), flush=True)
    loads = []
    try:
        for rnd in range(args.rounds):
            for cls in (classes if rnd % 2 == 0 else list(reversed(classes))):
                srv = cls(env)
                try:
                    bench_policy.check_limits(srv)
                    if not niced:
                        os.nice(10)
                        niced = True
                    cl = Client(srv.addr)
                    wait = 10 if cls.name.endswith("(defaults)") else 30
                    for step in steps:
                        n, phase = step
                        answered, rate = 0, 0.0
                        if phase == "closed":
                            cl.close()
                            time.sleep(2)
                        elif phase == "idle":
                            cl.open_to(n)
                            time.sleep(2)
                        elif phase == "active":
                            answered = cl.answer_all(wait)
                            rate = cl.loop(args.seconds)
                            time.sleep(0.5)
                        m = memory(srv)
                        m.update(answered=answered, rate=rate)
                        if isinstance(srv, Sluice):
                            m["redis"] = status_kib(srv.redis.pid, "VmRSS")
                        fig.setdefault((cls.name, step), []).append(m)
                        print("round %d  %-20s %5s %-6s  answered %4d  %6.0f req/s  procs %4d  RSS %8.1f MiB"
                              "  PSS %7.1f MiB" % (rnd + 1, cls.name, n, phase, answered, rate, m["procs"],
                                                   m["rss"] / 1024, m["pss"] / 1024), flush=True)
                    cl.close()
                finally:
                    pids = srv.all_pids()
                    srv.stop()
                    # postfwd's master reaps hundreds of children slowly: the
                    # next server must not start beside them
                    harness.wait_for(lambda: not any(harness.pid_alive(p) for p in pids), 180,
                                     "%s's processes to exit" % cls.name)
            loads.append(open("/proc/loadavg").read().split()[0])
    finally:
        env.close()
    print("load average (1 min) after each round: %s" % " ".join(loads))
    print()
    rows = []
    for cls in classes:
        base = median([m["pss"] for m in fig[(cls.name, (0, "start"))]])
        base_rss = median([m["rss"] for m in fig[(cls.name, (0, "start"))]])
        for step in steps:
            n, phase = step
            ms = fig[(cls.name, step)]
            pss = median([m["pss"] for m in ms])
            rss = median([m["rss"] for m in ms])
            per = "%.1f" % ((pss - base) / n) if n else "-"
            per_rss = "%.1f" % ((rss - base_rss) / n) if n else "-"
            rows.append([cls.name, n, phase,
                         "%d" % median([m["answered"] for m in ms]) if phase == "active" else "-",
                         "%d" % median([m["procs"] for m in ms]), "%.1f" % (rss / 1024),
                         "%.1f" % (pss / 1024), per_rss, per,
                         "%.1f" % (median([m["hwm"] for m in ms]) / 1024) if ms[0]["hwm"] else "-"])
    benchlib.table(rows, ["server", "conns", "state", "answered", "processes", "RSS MiB (sum)", "PSS MiB (sum)",
                          "RSS KiB/conn", "PSS KiB/conn", "peak RSS MiB"])
    reds = [m["redis"] for k, ms in fig.items() if k[0] == "sluice-policyd" for m in ms]
    print("sluice-policyd's redis-server: RSS %.1f-%.1f MiB at every level (no client connection reaches it)"
          % (min(reds) / 1024, max(reds) / 1024))


if __name__ == "__main__":
    main()

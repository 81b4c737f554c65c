#!/usr/bin/python3
"""
NAME
    bench_feedback_effects - Redis work and time per feedback message in sluice-feedback

SYNOPSIS
    SLUICE_BUILDDIR=build /usr/bin/python3 tests/bench/bench_feedback_effects.py [--old OLDBUILDDIR] [-n N]

DESCRIPTION
    Feeds genuine bounces (token minted and recipient record written as
    the tests do) to sluice-feedback against a throwaway redis-server and
    prints, per kind of message: Redis commands received per message (INFO
    commandstats, all commands), the server time of the feedback script
    (usec per EVALSHA call), and the wall time of one sluice-feedback run
    (median, process start to exit). With --old, the same messages go
    through another build (e.g. the one-command-per-write version of
    main) in a fresh Redis, for comparison. Figures only, no assertions.
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from benchlib import median, table  # noqa: E402
from test_feedback_effects import World, dsn, mint  # noqa: E402
from test_feedback_trust import multi_dsn  # noqa: E402


def commandstats(redis):
    """{command: (calls, usec)} from INFO commandstats."""
    out = {}
    for line in redis.cli("INFO", "commandstats").split("\n"):
        m = re.match(r"cmdstat_([a-z|]+):calls=(\d+),usec=(\d+)", line.strip())
        if m:
            out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


def run(exe, w, messages):
    """Feed (message, token) pairs; (commands per message, script usec per call, wall ms median)."""
    before = commandstats(w.redis)
    walls = []
    for msg, tok in messages:
        t0 = time.monotonic()
        p = subprocess.run([exe, "-c", w.conf, tok], input=msg, capture_output=True, timeout=60)
        walls.append((time.monotonic() - t0) * 1000)
        if p.returncode != 0:
            raise RuntimeError("exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    after = commandstats(w.redis)
    calls = {k: after[k][0] - before.get(k, (0, 0))[0] for k in after}
    usec = {k: after[k][1] - before.get(k, (0, 0))[1] for k in after}
    total = sum(v for k, v in calls.items() if k not in ("info",))
    scripts = calls.get("evalsha", 0) + calls.get("eval", 0)
    script_usec = (usec.get("evalsha", 0) + usec.get("eval", 0)) / scripts if scripts else 0
    # without a script every command is a round trip; with it, only these are
    trips = total if not scripts else scripts + sum(calls.get(k, 0) for k in TOP_LEVEL)
    return trips / len(messages), total / len(messages), script_usec, walls, calls


TOP_LEVEL = ("smismember", "ping", "auth", "select", "hello")


def workloads(w, n):
    """name -> list of (message, token): one-record hard bounces, 200-record DSNs, forged 60."""
    one, many, forged = [], [], []
    for i in range(n):
        msgid = "a%07d" % i
        w.bind(msgid, "r%d@example.net" % i)
        tok = mint(w.secret, msgid=msgid) + "@bounce.example.com"
        one.append((dsn("r%d@example.net" % i, token=tok), tok))
    for i in range(max(1, n // 20)):
        msgid = "m%07d" % i
        rcpts = ["m%d.%d@example.net" % (i, k) for k in range(200)]
        w.bind(msgid, *rcpts)
        tok = mint(w.secret, msgid=msgid) + "@bounce.example.com"
        many.append((multi_dsn(rcpts, tok), tok))
    for i in range(max(1, n // 20)):
        tok = mint(w.secret, msgid="f%07d" % i) + "@bounce.example.com"
        forged.append((multi_dsn(["v%d.%d@example.net" % (i, k) for k in range(60)], tok), tok))
    return [("1-record hard bounce", one), ("200-record DSN", many),
            ("forged DSN naming 60", forged)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", help="another build directory to compare with")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    builds = [("this build", harness.program("feedback", "sluice-feedback"))]
    if args.old:
        builds.append(("old", os.path.join(args.old, "feedback", "sluice-feedback")))
    results = {}
    env = harness.Env("bench-fb")
    try:
        for rnd in range(args.rounds):         # interleaved: the machine is shared
            for label, exe in builds:
                w = World(env)
                for name, msgs in workloads(w, args.n):
                    trips, per, su, walls, calls = run(exe, w, msgs)
                    r = results.setdefault((label, name), {"walls": [], "su": []})
                    r["walls"] += walls
                    r["su"].append(su)
                    r.update(n=len(msgs), trips=trips, per=per, calls=calls)
                w.redis.stop()
    finally:
        env.close()
    rows = []
    for (label, name), r in results.items():
        top = ", ".join("%s %d" % kv for kv in sorted(r["calls"].items(), key=lambda kv: -kv[1])[:4]
                        if kv[0] != "info")
        rows.append([label, name, r["n"], "%.1f" % r["trips"], "%.1f" % r["per"],
                     "%.0f" % median(r["su"]), "%.1f" % median(r["walls"]), top])
    table(rows, ["build", "message", "n", "round trips/msg", "commands/msg", "script us/call",
                 "wall ms (median)", "commands (top 4, last round)"])


if __name__ == "__main__":
    main()

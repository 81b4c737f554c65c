#!/usr/bin/python3
"""
NAME
    bench_feedback_pipe - bounces through sluice-feedback the way pipe(8)
    runs it (one process per bounce: parse, classify, verify the token,
    bind to the recipient record, write to Redis), in files/s and CPU time
    per bounce, against the floor of any pipe(8) command and sisimai

SYNOPSIS
    tests/bench/bench_feedback_pipe.py [--bounces N] [--rounds R]
                                       [--conc C[,C...]] [--no-sisimai]
                                       [--no-callgrind]

DESCRIPTION
    Postfix's pipe(8) starts the transport's command once per message,
    the message on standard input, and waits for its exit status (master.cf
    in doc/feedback.md). This script does the same through
    tests/bench/pipe_load (C, built by make check: fork, the file on
    standard input, exec, wait4; up to C commands at once, as a transport's
    maxproc allows pipe(8) processes), for three commands interleaved in every round (order reversed every other
    round):

      sluice-feedback   sluice-feedback -c sluice.conf RECIPIENT, against a
                        throwaway redis-server on a unix socket. Each
                        round gets N fresh genuine bounces (a Postfix-style
                        DSN, one failed recipient, 5.1.1): the VERP token
                        minted and the recipient recorded as sluice-milter
                        does (test_feedback_effects.World), so every bounce
                        takes the whole path: MIME parse, classification,
                        token check, recipient binding, and the one effects
                        script (suppression entry, counters, event).
                        Every bounce must exit 0, and after the round every
                        one of the N recipients must be suppressed
                        (hard-bounce): the fast path is the real path.
      cat (floor)       /bin/cat > /dev/null: what every pipe(8) command
                        costs before it does any work (fork, exec, reading
                        the message). No transport can be cheaper.
      sisimai           perl -MSisimai reading the message from standard
                        input and printing each recipient's reason: what a
                        site would run from pipe(8) with Debian's other
                        bounce classifier (libsisimai-perl 4.25). It only
                        classifies: no token, no recipient record, no
                        Redis, so it does less work than sluice-feedback.

    The same N messages go to cat and sisimai as to sluice-feedback.
    Figures per command and concurrency: files/s (N over the wall time of
    the batch; median over rounds), CPU time per bounce (utime + stime of
    the command's processes from wait4, plus for sluice-feedback
    redis-server's from /proc/PID/stat over the batch; median over
    rounds; "of it kernel" is the stime part), and peak RSS of one process
    (ru_maxrss). CPU time per bounce
    is what the machine's load disturbs least; at concurrency 1 the rate
    is a latency (one process after the other), at higher concurrency it
    is bound by the two cores and by whatever else runs on them. With
    valgrind (unless --no-callgrind), each command also runs once under
    callgrind on one more bounce (sluice-feedback on a fresh genuine one):
    the instructions per bounce, from process start to exit, which load
    does not change, and the share of them spent in the dynamic linker
    (ld-linux: loading and relocating the shared libraries).

    Needs a built tree (SLUICE_BUILDDIR, default ./build), redis-server,
    libsisimai-perl (unless --no-sisimai). No root. Figures only: nothing
    is asserted about speed.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import harness, median

sys.path.insert(0, os.path.join(benchlib.HERE, "..", "integration"))
import keys  # noqa: E402
from test_feedback_effects import World, dsn, mint  # noqa: E402

SISIMAI_PL = r"""
use strict; use warnings; use Sisimai;
my $v = Sisimai->make('STDIN', 'delivered' => 1);
if ($v) { printf "%s\t%s\n", $_->recipient->address, $_->reason for @$v }
"""


PIPE_LOAD = os.path.join(harness.BUILDDIR, "tests", "bench", "pipe_load")


def batch(cmd, jobs, conc, tmp):
    """Run cmd once per (path, extra args) job through pipe_load over conc processes;
    (wall s, CPU s of the commands, of it in the kernel, peak maxrss KiB)."""
    jobfile = os.path.join(tmp, "jobs")
    errlog = os.path.join(tmp, "errors")
    with open(jobfile, "w") as f:
        for path, extra in jobs:
            f.write("\t".join([path] + list(extra)) + "\n")
    if os.path.exists(errlog):
        os.unlink(errlog)
    r = subprocess.run([PIPE_LOAD, "-c", str(conc), "-f", jobfile, "-e", errlog, "--"] + cmd,
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        err = open(errlog, errors="replace").read()[-2000:] if os.path.exists(errlog) else ""
        raise RuntimeError("%s: pipe_load exited %d: %s %s %s" % (cmd[0], r.returncode, r.stdout,
                                                                  r.stderr, err))
    f = {k: float(v) for k, v in (x.split("=", 1) for x in r.stdout.split())}
    return (f["seconds"], f["cpu_us_per_file"] * f["files"] / 1e6,
            f["sys_us_per_file"] * f["files"] / 1e6, f["maxrss_kib"])


def callgrind_one(argv, path, tmp, name):
    """(instructions, of them in ld-linux) of one run of argv on the file at path."""
    out = os.path.join(tmp, "cg.%s" % name)
    with open(path, "rb") as inp:
        r = subprocess.run(benchlib.callgrind_argv(out) + argv, stdin=inp, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=600)
    if r.returncode != 0:
        return None, None
    total = benchlib.callgrind_total(out)
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", out], capture_output=True,
                         text=True).stdout
    dl = 0
    for line in ann.splitlines():        # _dl_start: the dynamic linker's own work before main
        if "rtld.c:_dl_start " in line or line.rstrip().endswith("rtld.c:_dl_start"):
            dl = int(line.split()[0].replace(",", ""))
            break
    return total, dl


def b32(i, width=8):
    """i in the token alphabet (a-z2-7), width characters: a message id."""
    out = ""
    for _ in range(width):
        out = "abcdefghijklmnopqrstuvwxyz234567"[i % 32] + out
        i //= 32
    return out


def make_bounces(w, tmp, n, serial):
    """N genuine one-recipient DSNs as files; [(path, token address, recipient)]."""
    out = []
    tag = "r%d" % serial
    for i in range(n):
        msgid = b32(serial * 1000000 + i)
        rcpt = "gone-%s-%d@example.net" % (tag, i)
        w.bind(msgid, rcpt)
        tok = mint(w.secret, msgid=msgid) + "@bounce.example.com"
        path = os.path.join(tmp, "%s-%d.eml" % (tag, i))
        with open(path, "wb") as f:
            f.write(dsn(rcpt, token=tok))
        out.append((path, tok, rcpt))
    return out


def suppressed(w, rcpts):
    """How many of rcpts have a global suppression entry (one EVAL)."""
    script = "local n = 0 for _, k in ipairs(KEYS) do n = n + redis.call('EXISTS', k) end return n"
    got = 0
    for i in range(0, len(rcpts), 500):
        part = [keys.supp("global", r) for r in rcpts[i:i + 500]]
        got += int(w.cli("EVAL", script, len(part), *part))
    return got


def main():
    ap = argparse.ArgumentParser(description="bounces through the pipe(8) path: sluice-feedback "
                                 "against cat and sisimai")
    ap.add_argument("--bounces", type=int, default=300, help="bounces per command, round and concurrency")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conc", default="1,4", help="parallel pipe(8) processes, e.g. 1,4")
    ap.add_argument("--no-sisimai", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true")
    args = ap.parse_args()
    conc = [int(c) for c in args.conc.split(",")]
    env = harness.Env("bench-fbpipe")
    tmp = tempfile.mkdtemp(prefix="bench-fbpipe-", dir=env.dir)
    try:
        w = World(env)
        exe = harness.program("feedback", "sluice-feedback")
        rpid = w.redis.proc.pid
        script = os.path.join(tmp, "sisimai.pl")
        with open(script, "w") as f:
            f.write(SISIMAI_PL)
        tools = ["sluice-feedback", "cat (floor)"]
        if not args.no_sisimai:
            tools.append("sisimai")
        print("bench_feedback_pipe: %d bounces per command, concurrency %s, %d rounds; %s" % (
            args.bounces, args.conc, args.rounds, benchlib.stamp()), flush=True)
        fig = {}
        loads = []
        serial = 0
        for rnd in range(args.rounds):
            for c in conc:
                serial += 1
                bounces = make_bounces(w, tmp, args.bounces, serial)
                for tool in (tools if rnd % 2 == 0 else list(reversed(tools))):
                    if tool == "sluice-feedback":
                        cmd, jobs = [exe, "-c", w.conf], [(p, [tok]) for p, tok, _ in bounces]
                    else:
                        cmd = ["/bin/cat"] if tool == "cat (floor)" else ["/usr/bin/perl", script]
                        jobs = [(p, []) for p, _, _ in bounces]
                    r0 = benchlib.cpu_seconds(rpid)
                    wall, cpu, ksys, rss = batch(cmd, jobs, c, tmp)
                    rcpu = benchlib.cpu_seconds(rpid) - r0 if tool == "sluice-feedback" else 0.0
                    if tool == "sluice-feedback":
                        got = suppressed(w, [r for _, _, r in bounces])
                        if got != len(bounces):
                            raise RuntimeError("only %d of %d bounced recipients suppressed"
                                               % (got, len(bounces)))
                    f = fig.setdefault((tool, c), {"rate": [], "cpu": [], "sys": [], "rcpu": [], "rss": 0})
                    n = len(jobs)
                    f["rate"].append(n / wall)
                    f["cpu"].append(cpu * 1e6 / n)
                    f["sys"].append(ksys * 1e6 / n)
                    f["rcpu"].append(rcpu * 1e6 / n)
                    f["rss"] = max(f["rss"], rss)
                    print("round %d  c=%-2d %-16s %8.1f files/s  %7.0f us CPU/bounce%s" % (
                        rnd + 1, c, tool, n / wall, cpu * 1e6 / n,
                        "  + redis %.0f" % (rcpu * 1e6 / n) if rcpu else ""), flush=True)
                for p, _, _ in bounces:
                    os.unlink(p)
            loads.append(open("/proc/loadavg").read().split()[0])
        print("load average (1 min) after each round: %s" % " ".join(loads))
        ir = {}
        if not args.no_callgrind and benchlib.have("valgrind"):
            serial += 1
            (path, tok, _), = make_bounces(w, tmp, 1, serial)
            ir["sluice-feedback"] = callgrind_one([exe, "-c", w.conf, tok], path, tmp, "sluice")
            ir["cat (floor)"] = callgrind_one(["/bin/cat"], path, tmp, "cat")
            if "sisimai" in tools:
                ir["sisimai"] = callgrind_one(["/usr/bin/perl", script], path, tmp, "sisimai")
        print()
        rows = []
        for c in conc:
            base = median(fig[("sluice-feedback", c)]["rate"])
            for tool in tools:
                f = fig[(tool, c)]
                cpu = median(f["cpu"])
                rc = median(f["rcpu"])
                rows.append([tool, c, "%.0f" % median(f["rate"]), "%.2f" % (median(f["rate"]) / base),
                             " ".join("%.0f" % x for x in f["rate"]), "%.0f" % cpu,
                             "%.0f" % median(f["sys"]),
                             "%.0f" % rc if rc else "-", "%.0f" % (cpu + rc),
                             "%.0f" % (1e6 / (cpu + rc)), "%.1f" % (f["rss"] / 1024),
                             "%.2fM" % (ir[tool][0] / 1e6) if ir.get(tool, (None,))[0] else "-",
                             "%.0f %%" % (100.0 * ir[tool][1] / ir[tool][0])
                             if ir.get(tool, (None,))[0] and ir[tool][1] else "-"])
        benchlib.table(rows, ["command", "conc", "files/s (median)", "rate / sluice", "files/s per round",
                              "CPU us/bounce", "of it kernel", "+ redis us", "total CPU us", "files/s per core (CPU)",
                              "peak RSS MiB", "instr/bounce", "of it ld.so"])
        print("(all %d bounces of every sluice-feedback batch were suppressed in Redis)" % args.bounces)
    finally:
        env.close()


if __name__ == "__main__":
    main()

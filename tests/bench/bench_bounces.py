#!/usr/bin/python3
"""
NAME
    bench_bounces - bounce parsing: sluice-feedback --classify against
    sisimai (Perl, libsisimai-perl), speed and agreement with the labels

SYNOPSIS
    tests/bench/bench_bounces.py [--rounds R] [--passes K] [--no-callgrind]
                                 [--corpus DIR]

DESCRIPTION
    Both tools read the same files: every *.eml of the bounce corpus
    (../shared/corpus/bounces, 299 files). In each round each tool runs
    once, in one process, over the corpus repeated K times (so start-up
    weighs little); the order of the tools alternates between rounds.
    Prints files/s per round, the medians and their ratio, the CPU time
    per file (utime + stime from wait4, median over rounds; 10^6 over it
    is the files/s one core would do, which the machine's load disturbs
    far less than the wall-clock rate), the start-up
    cost (one file), the peak RSS (wait4's ru_maxrss) and, with valgrind,
    the instructions per file measured by callgrind as the difference
    between a run over the whole corpus and a run over one file.

    Then the agreement of each tool with bounces/labels.tsv, per label row
    matched by order within a file, with the rules of
    tests/integration/test_feedback_corpus.py (raw figures, no deliberate
    disagreement accepted): recipient, enhanced status (rows whose status
    is a sisimai pseudo status are skipped), reason and hard/soft.
    Sisimai 4.25 has no hard-bounce flag; its softbounce == 0 is read as
    hard. The labels come from sisimai's own test suites (newer versions),
    so sisimai has a home advantage on reason names.

    Needs a built tree (SLUICE_BUILDDIR, default ./build) and
    libsisimai-perl; no root, no Redis.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import benchlib
from benchlib import harness, median

TOP = os.path.abspath(os.path.join(benchlib.HERE, "..", ".."))
NOT_BOUNCE = ("vacation", "delivered", "feedback", "not-a-bounce")

SISIMAI_PL = r"""
use strict; use warnings; use Sisimai;
for my $f (@ARGV) {
    my $v = Sisimai->make($f, 'delivered' => 1);
    if (!$v || !@$v) { print "$f\t-\n"; next }
    for my $e (@$v) {
        printf "%s\t%s\t%s\t%s\t%s\t%s\n", $f, $e->recipient->address, $e->deliverystatus,
            $e->replycode, $e->reason, $e->softbounce;
    }
}
"""


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if not l.startswith("#")]
    head = lines[0].split("\t")
    return [dict(zip(head, l.split("\t"))) for l in lines[1:] if l.strip()]


def sluice_argv(files):
    return [harness.program("feedback", "sluice-feedback"), "--classify"] + files


def sisimai_argv(script, files):
    return ["perl", script] + files


def parse_sluice(out):
    """{basename: [record, ...]} with recipient/status/reason/hard; kind per file."""
    recs, kinds = {}, {}
    for line in out.decode().splitlines():
        o = json.loads(line)
        name = os.path.basename(o["file"])
        kinds.setdefault(name, o.get("kind"))
        recs.setdefault(name, [])
        if o.get("recipient") is not None:
            recs[name].append({"recipient": o.get("recipient", ""), "status": o.get("status", ""),
                               "reason": o.get("reason"), "hard": o.get("hard")})
    return recs, kinds


def parse_sisimai(out):
    recs, kinds = {}, {}
    for line in out.decode("utf-8", "replace").splitlines():
        f = line.split("\t")
        name = os.path.basename(f[0])
        recs.setdefault(name, [])
        if len(f) < 6:
            kinds[name] = "unknown"
            continue
        kinds[name] = "bounce"
        recs[name].append({"recipient": f[1], "status": f[2], "reason": f[4],
                           "hard": f[5] == "0"})
    return recs, kinds


def agreement(rows, recs, kinds):
    """{check: [agreeing, rows]} over all label rows."""
    stats = {}
    seen = {}
    for r in rows:
        idx = seen.get(r["local_file"], 0)
        seen[r["local_file"]] = idx + 1
        mine = recs.get(r["local_file"], [])
        o = mine[idx] if idx < len(mine) else {}
        reason = r["expected_reason"]
        checks = {}
        if reason == "not-a-bounce":
            ok = kinds.get(r["local_file"]) == "unknown" or not mine
            checks = {"recipient": ok, "reason": ok, "hard": ok}
        else:
            checks["recipient"] = (o.get("recipient") or "").lower() == r["recipient"].lower()
            if r["status_is_sisimai_pseudo"] != "true":
                checks["status"] = o.get("status", "") == r["expected_status"]
            checks["reason"] = o.get("reason") == reason
            if r["expected_hardbounce"] == "na":
                checks["hard"] = o.get("hard") is False or o.get("reason") in NOT_BOUNCE
            else:
                checks["hard"] = o.get("hard") == (r["expected_hardbounce"] == "true")
        for k, v in checks.items():
            s = stats.setdefault(k, [0, 0])
            s[0] += int(v)
            s[1] += 1
    return stats


def instructions(argv_for, files, tmp, name):
    """Callgrind instructions per file: (whole corpus - one file) / (files - 1)."""
    totals = []
    for subset in (files[:1], files):
        out = os.path.join(tmp, "cg.%s.%d" % (name, len(subset)))
        r = subprocess.run(benchlib.callgrind_argv(out) + argv_for(subset),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        if r.returncode != 0:
            return None
        totals.append(benchlib.callgrind_total(out))
    return (totals[1] - totals[0]) / (len(files) - 1)


def main():
    ap = argparse.ArgumentParser(description="bounce parsing: sluice-feedback vs sisimai")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--passes", type=int, default=5, help="corpus repetitions per run")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--corpus", default=os.environ.get("SLUICE_CORPUS")
                    or os.path.join(TOP, "..", "shared", "corpus"))
    args = ap.parse_args()
    bdir = os.path.join(args.corpus, "bounces")
    files = sorted(os.path.join(bdir, f) for f in os.listdir(bdir) if f.endswith(".eml"))
    rows = read_tsv(os.path.join(bdir, "labels.tsv"))
    tmp = tempfile.mkdtemp(prefix="bench-bounces-")
    script = os.path.join(tmp, "sisimai.pl")
    with open(script, "w") as f:
        f.write(SISIMAI_PL)
    version = subprocess.run(["perl", "-MSisimai", "-e", "print $Sisimai::VERSION"],
                             capture_output=True, text=True).stdout.strip()
    tools = [("sluice-feedback", sluice_argv), ("sisimai " + version,
                                                lambda fs: sisimai_argv(script, fs))]
    print("bench_bounces: %d files, %d passes per run, %d rounds; %s" % (
        len(files), args.passes, args.rounds, benchlib.stamp()), flush=True)

    rates = {n: [] for n, _ in tools}
    cpu = {n: [] for n, _ in tools}
    rss = {n: 0 for n, _ in tools}
    for rnd in range(args.rounds):
        order = tools if rnd % 2 == 0 else list(reversed(tools))
        for name, argv_for in order:
            wall, rc, out, ru = benchlib.run_rusage(argv_for(files * args.passes))
            if rc != 0:
                sys.exit("%s exited with %d" % (name, rc))
            n = len(files) * args.passes
            rates[name].append(n / wall)
            cpu[name].append((ru.ru_utime + ru.ru_stime) * 1e6 / n)
            rss[name] = max(rss[name], ru.ru_maxrss)
            print("round %d  %-16s %9.1f files/s  %7.1f us CPU/file" % (
                rnd + 1, name, rates[name][-1], cpu[name][-1]), flush=True)

    startup = {}
    for name, argv_for in tools:
        startup[name] = median([benchlib.run_measured(argv_for(files[:1]))[0] for _ in range(5)])

    ir = {}
    if not args.no_callgrind and benchlib.have("valgrind"):
        for name, argv_for in tools:
            ir[name] = instructions(argv_for, files, tmp, name.split()[0])

    quality = {}
    for name, argv_for in tools:
        _, rc, out, _ = benchlib.run_measured(argv_for(files))
        recs, kinds = (parse_sluice if name.startswith("sluice") else parse_sisimai)(out)
        quality[name] = agreement(rows, recs, kinds)

    base = median(rates["sluice-feedback"])
    print()
    head = ["tool", "files/s (median)", "ratio", "CPU us/file", "files/s per core (CPU)",
            "start-up ms", "instr/file", "peak RSS MiB"]
    out = []
    for name, _ in tools:
        m = median(rates[name])
        c = median(cpu[name])
        out.append([name, "%.0f" % m, "%.2f" % (m / base), "%.1f" % c, "%.0f" % (1e6 / c),
                    "%.0f" % (startup[name] * 1000),
                    "%.0f" % ir[name] if ir.get(name) else "-", "%.1f" % (rss[name] / 1024)])
    benchlib.table(out, head)
    print()
    head = ["tool"] + ["%s agree" % k for k in ("recipient", "status", "reason", "hard")]
    out = []
    for name, _ in tools:
        q = quality[name]
        out.append([name] + ["%d/%d %.1f%%" % (q[k][0], q[k][1], 100.0 * q[k][0] / q[k][1])
                             for k in ("recipient", "status", "reason", "hard")])
    benchlib.table(out, head)
    print("\n(labels: %d rows from sisimai's own test suites; sisimai 4.25 softbounce==0 read as"
          " hard; status rows with sisimai pseudo statuses skipped)" % len(rows))
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()

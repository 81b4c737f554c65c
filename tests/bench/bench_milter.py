#!/usr/bin/python3
"""
NAME
    bench_milter - what signing costs the server: sluice-milter against
    OpenDKIM, driven by the C milter load client, with openssl speed as the
    physical limit

SYNOPSIS
    tests/bench/bench_milter.py [--messages N] [--rounds R] [--conc 1,4,16]
                                [--sizes 2048,51200] [--no-callgrind]
                                [--no-opendkim] [--no-speed] [--old-milter PATH]

DESCRIPTION
    Starts, on unix sockets in a temporary directory, sluice-milter with an
    RSA-2048 key, with an Ed25519 key, and with both (two signatures per
    message; redis = false and stats = false: category, envelope rewrite
    with a signed token, Feedback-ID and the signatures), and OpenDKIM
    (Mode s, same keys, same signed header list, From oversigned) with each
    key. Every setup's first message is verified with dkimpy before
    anything is timed.

    The load comes from tests/bench/milter_load (C, built by make check):
    it speaks the milter protocol directly, as Postfix does, honours the
    no-reply steps and macro lists each milter negotiates, and reads the
    server's CPU time from /proc/PID/stat. Each round runs every setup at
    every concurrency (--conc, connections at once) and body size
    (--sizes), N messages each; the setups are interleaved, the order
    reversed every other round. Printed: the median msg/s, the ratio to
    OpenDKIM with the same key, the median server CPU time per message
    (the figure load disturbs least), and the client's CPU per message
    (to show the client is not what bounds the rate).

    --old-milter PATH adds another sluice-milter binary (say, one built
    from an earlier commit) as "sluice-old", interleaved like the others:
    before and after in the same run.

    Then, unless --no-callgrind: each milter under callgrind, 20 and 120
    messages at concurrency 1 and 2 KB, the difference divided by 100, so
    start-up and key loading cancel out: instructions per message.

    And, unless --no-speed: `openssl speed -multi 2 rsa2048 ed25519`, the
    signatures per second the two cores can make with a parsed key, and
    sluice-milter's rate at 2 KB, c=4 as a share of it.

    Needs a built tree (SLUICE_BUILDDIR, default ./build) with
    tests/bench/milter_load, opendkim (contrib/install-deps.sh --bench),
    valgrind (optional), python3-dkim. Run as root from the repository root.
"""
import argparse
import os
import re
import subprocess

import bench_sign
import benchlib
from benchlib import harness, median


def load_client():
    return os.path.join(harness.BUILDDIR, "tests", "bench", "milter_load")


def sluice_starter(keys, binary=None):
    """sluice-milter (this tree's, or binary) with one dkim block per (alg, key path)."""
    def start(env, wrap):
        sock = bench_sign.fresh(env, "sluice")
        blocks = "\n".join('  dkim "b%d" { algorithm = "%s" key = "%s" }'
                           % (i + 1, "rsa-sha256" if alg == "rsa" else "ed25519-sha256", key)
                           for i, (alg, key) in enumerate(keys))
        conf = env.file("sluice-%d.conf" % bench_sign._serial[0], """
secret_file = "%s"
domain "example.com" {
  default_category = "transactional"
%s
}
category "transactional" { subdomain = "mail" }
milter { socket = "unix:%s" socket_mode = "0666" redis = false stats = false }
""" % (env.tokenkey, blocks, sock), 0o600)
        p = harness.Proc(env, "sluice-milter-%d" % bench_sign._serial[0],
                         wrap + [binary or harness.program("milter", "sluice-milter"), "-f", "-c", conf])
        bench_sign.wait_socket(env, p, sock, 60 if wrap else 10)
        return p, sock
    return start


class Setup(bench_sign.Setup):
    def __init__(self, name, alg, start, sigs):
        super().__init__(name, alg, start)
        self.sigs = sigs


def drive(setup, messages, conc, size, warmup=2):
    """One milter_load run; returns its figures as a dict."""
    r = subprocess.run([load_client(), "-s", setup.sock, "-p", str(setup.proc.pid), "-n", str(messages),
                        "-c", str(conc), "-b", str(size), "-e", str(setup.sigs), "-w", str(warmup)],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("%s: milter_load failed:\n%s%s" % (setup.name, r.stdout, r.stderr))
    return {k: float(v) for k, v in re.findall(r"(\w+)=([-\d.]+)", r.stdout)}


def verify(setup, txts):
    """One message through the milter; every signature must verify with dkimpy
    (selector b1, b2 ... hold the keys in txts, for both signing domains)."""
    c = benchlib.MilterClient(setup.sock, macros=bench_sign.MACROS)
    headers, body = benchlib.sample_message(0)
    reply, mods = c.send_message("app@example.com", ["rcpt@dest.example"], headers, body)
    c.close()
    final = list(headers)
    for cmd, data in mods:
        if cmd == b"h":
            n, v = data.split(b"\0")[:2]
            final.append((n.decode(), v.decode()))
        elif cmd == b"i":
            n, v = data[4:].split(b"\0")[:2]
            final.insert(int.from_bytes(data[:4], "big"), (n.decode(), v.decode()))
    raw = "".join("%s:%s%s\r\n" % (n, "" if v.startswith(" ") else " ", v.replace("\n", "\r\n"))
                  for n, v in final).encode() + b"\r\n" + body
    records = {}
    for i, txt in enumerate(txts):
        for d in ("example.com", "mail.example.com"):
            records["b%d._domainkey.%s" % (i + 1, d)] = txt
    res = harness.dkim_verify(raw, records)
    if len(res) != setup.sigs or not all(r[3] for r in res):
        raise RuntimeError("%s: signature check failed: reply %r, %r" % (setup.name, reply, res))


def instructions(env, setup, n1=20, n2=120):
    """Callgrind instructions per message, (I(n2) - I(n1)) / (n2 - n1), 2 KB, c=1."""
    totals = []
    for n in (n1, n2):
        out = os.path.join(env.dir, "cg-%s-%d-%d" % (setup.name.replace(" ", "-"), n, bench_sign._serial[0]))
        s = Setup(setup.name, setup.alg, setup._start, setup.sigs).start(env, benchlib.callgrind_argv(out + ".%p"))
        drive(s, n, 1, 2048, warmup=0)
        bench_sign.stop(s.proc)
        totals.append(sum(benchlib.callgrind_total(p) for p in benchlib._glob(out + ".*")))
    return (totals[1] - totals[0]) / (n2 - n1)


def openssl_speed(multi=2, seconds=2):
    """Signatures/s of `openssl speed -multi 2 rsa2048 ed25519` (parsed keys; summed over the
    processes; each measures its user CPU time, so with multi=1 1e6/rate is CPU us per signature)."""
    argv = ["openssl", "speed", "-seconds", str(seconds)] + (["-multi", str(multi)] if multi > 1 else [])
    r = subprocess.run(argv + ["rsa2048", "ed25519"], capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    rsa = re.search(r"^rsa 2048 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)", out, re.M)
    ed = re.search(r"^\s*253 bits EdDSA \(Ed25519\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)", out, re.M)
    return (float(rsa.group(1)) if rsa else float("nan"), float(ed.group(1)) if ed else float("nan"), out)


def main():
    ap = argparse.ArgumentParser(description="milter signing cost: sluice-milter vs OpenDKIM")
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conc", default="1,4,16")
    ap.add_argument("--sizes", default="2048,51200")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-opendkim", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--old-milter", metavar="PATH",
                    help="also run this sluice-milter binary (e.g. built from main) as 'sluice-old'")
    args = ap.parse_args()
    concs = [int(c) for c in args.conc.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    env = harness.Env("bench-milter")
    try:
        env.tokenkey = env.secret()
        keys = {alg: harness.dkim_keypair(env, "bench", alg) for alg in ("rsa", "ed25519")}
        setups = []
        for alg in ("rsa", "ed25519"):
            if not args.no_opendkim and benchlib.have("opendkim"):
                setups.append(Setup("opendkim " + alg, alg, bench_sign.opendkim_starter(keys[alg][0], alg), 1))
            setups.append(Setup("sluice-milter " + alg, alg, sluice_starter([(alg, keys[alg][0])]), 1))
            if args.old_milter:
                setups.append(Setup("sluice-old " + alg, alg,
                                    sluice_starter([(alg, keys[alg][0])], args.old_milter), 1))
        setups.append(Setup("sluice-milter both", "both",
                            sluice_starter([("rsa", keys["rsa"][0]), ("ed25519", keys["ed25519"][0])]), 2))
        for s in setups:
            s.start(env)
            verify(s, [keys["rsa"][1], keys["ed25519"][1]] if s.alg == "both" else [keys[s.alg][1]])
        print("bench_milter: %d messages per run, %d rounds, concurrency %s, bodies %s bytes; %s" % (
            args.messages, args.rounds, args.conc, args.sizes, benchlib.stamp()), flush=True)
        runs, speed = {}, []
        for rnd in range(args.rounds):
            if not args.no_speed:   # the physical limit, measured in the same rounds
                speed.append(openssl_speed()[:2])
                print("round %d  openssl speed -multi 2: %.0f RSA-2048, %.0f Ed25519 signatures/s"
                      % (rnd + 1, speed[-1][0], speed[-1][1]), flush=True)
            for s in (setups if rnd % 2 == 0 else list(reversed(setups))):
                for c in concs:
                    for b in sizes:
                        f = drive(s, args.messages, c, b)
                        runs.setdefault((s.name, c, b), []).append(f)
                        print("round %d  %-22s c=%-2d %6d B %8.1f msg/s %6.0f us CPU/msg (kernel %4.0f, "
                              "client %4.0f)" % (rnd + 1, s.name, c, b, f["msg_per_s"], f["server_cpu_us_per_msg"],
                                                 f["server_sys_us_per_msg"], f["client_cpu_us_per_msg"]), flush=True)
        hwm = {s.name: benchlib.tree_hwm(s.proc.pid) for s in setups}
        for s in setups:
            bench_sign.stop(s.proc, 15)
        print()
        print("peak RSS (VmHWM) after all rounds: " + ", ".join("%s %.1f MiB" % (s.name, hwm[s.name] / 1024)
                                                            for s in setups))
        print()
        rows = []
        for s in setups:
            for c in concs:
                for b in sizes:
                    rs = runs[(s.name, c, b)]
                    rate = median([f["msg_per_s"] for f in rs])
                    base = runs.get(("opendkim " + s.alg, c, b))
                    ratio = "%.2f" % (rate / median([f["msg_per_s"] for f in base])) if base else "-"
                    cpu_ratio = ("%.2f" % (median([f["server_cpu_us_per_msg"] for f in base])
                                           / max(1.0, median([f["server_cpu_us_per_msg"] for f in rs])))
                                 if base else "-")
                    rows.append([s.name, c, b, "%.0f" % rate, ratio,
                                 "%.0f" % median([f["server_cpu_us_per_msg"] for f in rs]),
                                 "%.0f" % median([f["server_sys_us_per_msg"] for f in rs]), cpu_ratio,
                                 "%.0f" % median([f["client_cpu_us_per_msg"] for f in rs])])
        benchlib.table(rows, ["milter", "conc", "body B", "msg/s (median)", "rate vs opendkim",
                              "server CPU us/msg", "of it kernel", "opendkim CPU / this", "client CPU us/msg"])
        if not args.no_callgrind and benchlib.have("valgrind"):
            print()
            for s in setups:
                print("callgrind %-22s %.3fM instructions/msg (2 KB, c=1)" % (s.name, instructions(env, s) / 1e6),
                      flush=True)
        if not args.no_speed:
            rsa, ed = median([x[0] for x in speed]), median([x[1] for x in speed])
            rsa1, ed1, _ = openssl_speed(multi=1)
            print()
            print("openssl speed -multi 2 rsa2048 ed25519 (median of the rounds): %.0f RSA-2048 and %.0f "
                  "Ed25519 signatures/s; one process: %.0f us and %.0f us of CPU per signature"
                  % (rsa, ed, 1e6 / rsa1, 1e6 / ed1))
            for s, lim, cpu1 in (("sluice-milter rsa", rsa, 1e6 / rsa1), ("sluice-milter ed25519", ed, 1e6 / ed1)):
                if (s, 4, 2048) in runs:
                    rate = median([f["msg_per_s"] for f in runs[(s, 4, 2048)]])
                    cpu = median([f["server_cpu_us_per_msg"] for f in runs[(s, 4, 2048)]])
                    print("%s, 2 KB, c=4: %.0f msg/s = %.0f %% of openssl speed's rate; the signature's CPU "
                          "is %.0f %% of the %.0f us per message" % (s, rate, 100 * rate / lim,
                                                                    100 * cpu1 / cpu, cpu))
    finally:
        env.close()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""
NAME
    bench_e2e - end-to-end throughput through Postfix: bare Postfix against
    Postfix + Sluice (milter, policyd, Redis) and the other signers, in one
    interleaved run, with the CPU time each process spends per message

SYNOPSIS
    tests/bench/bench_e2e.py [--messages N] [--rounds R] [--sessions S]
                             [--recipients K] [--setups a,b,...] [--tmpdir DIR]

DESCRIPTION
    For each setup and round, starts a fresh throwaway Postfix in front of
    smtp-sink (the harness of the integration tests; smtp-sink writes a
    file per message), injects N messages of 2 KiB with K recipients each
    with smtp-source over S parallel sessions (persistent, -d), and times
    from the first connection until smtp-sink has stored all N. Rounds
    interleave the setups (A B C ..., the order reversed every other
    round), so machine noise hits them alike.

    Setups (--setups picks some, by the names in brackets):
      bare postfix [bare]       no milter, no policy server
      sluice rsa+ed25519 [sluice]
                                sluice-milter (category, envelope rewrite
                                with a signed token, Feedback-ID, an
                                RSA-2048 and an Ed25519 signature, the
                                suppression check, the message and
                                recipient record in Redis) and
                                sluice-policyd (a rate limit and the
                                suppression check per recipient), one
                                redis-server on a unix socket
      sluice rsa [sluice-rsa]   the same with the RSA-2048 key only (like
                                for like with the one-key signers)
      rspamd rsa [rspamd]       rspamd 3.4 as a milter, only dkim_signing
                                (the set-up of bench_sign.py)
      opendkim rsa [opendkim]   OpenDKIM 2.11, Mode s
    Every setup gets the same Postfix (harness defaults plus max_use =
    10000, so that processes live through the round and their CPU time
    can be read; see below).

    Checks that make the fast path the real path: the first message at the
    sink must carry the setup's DKIM signatures, each verified with dkimpy
    against the setup's public keys (Sluice: one RSA-2048 and one Ed25519);
    bare Postfix must not sign; sluice-policyd's log must show a decision
    (a "request: state=RCPT" line with its action) for every recipient of
    every message, and sluice-milter's an "outbound:" line per message.

    CPU time per message: at the start and the end of the timed part, the
    utime + stime of every process of the setup (the Postfix master and
    its children, the milter, policyd, redis-server, smtp-sink), grouped
    by program; processes born during the round count from zero; the CPU
    of Postfix processes that exited meanwhile is the growth of the
    master's cutime + cstime ("postfix, exited"); smtp-source's own from
    wait4(). Divided by N. This moves less with the machine's load than
    the rate does.

    Prints every round, then per setup the median messages/s, the ratio to
    bare Postfix's median, the range of the per-round ratios (each round's
    rate over that round's bare rate) and the CPU table.

    The worlds (Postfix queue, smtp-sink's files, sockets) live in --tmpdir,
    by default /dev/shm: on disk, Postfix's fsync per queue file dominates
    and hides the milters' CPU cost (and adds much noise).
    Needs root and a built tree (SLUICE_BUILDDIR, default ./build).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import median  # noqa: E402

POSTFIX_MAIN = {"max_use": "10000"}
SENDER = "app@example.com"


class Setup:
    """What a setup started: Postfix parameters, daemons by program, the signatures to expect."""

    def __init__(self, params=None, procs=None, records=None, algs=()):
        self.params = params or {}
        self.procs = procs or {}        # program name -> harness.Proc
        self.records = records or {}    # selector._domainkey.domain -> TXT
        self.algs = sorted(algs)


def setup_bare(env):
    return Setup()


def setup_opendkim(env):
    """OpenDKIM signing every message with one RSA-2048 key, over a unix socket."""
    key, txt = harness.dkim_keypair(env, "example.com", "rsa")
    sock = os.path.join(env.dir, "opendkim.sock")
    conf = env.file("opendkim.conf",
                    "Domain example.com\nSelector bench\nKeyFile %s\nSocket local:%s\n"
                    "Canonicalization relaxed/relaxed\nMode s\nUMask 000\nUserID root\n"
                    "Background no\nSyslog no\nInternalHosts 127.0.0.0/8\n"
                    "RequireSafeKeys false\nOversignHeaders From\n"
                    "PidFile %s/opendkim.pid\n" % (key, sock, env.dir))
    p = env.daemon("opendkim", ["opendkim", "-f", "-x", conf],
                   ready=lambda: harness.can_connect(sock))
    return Setup({"milter": "unix:" + sock}, {"opendkim": p},
                 {"bench._domainkey.example.com": txt}, ["rsa-sha256"])


OLD_BUILD = None        # --old-build: another build tree's daemons


def setup_sluice(env, ed25519=True, build=None):
    """sluice-milter and sluice-policyd against one redis-server (see DESCRIPTION)."""
    redis = env.redis()
    rsa, rsa_txt = harness.dkim_keypair(env, "example.com", "rsa")
    keys = 'dkim "r1" { algorithm = "rsa-sha256" key = "%s" }\n' % rsa
    # the category's subdomain signs (d=tx.example.com); the same keys under both names
    records = {"r1._domainkey.example.com": rsa_txt, "r1._domainkey.tx.example.com": rsa_txt}
    algs = ["rsa-sha256"]
    if ed25519:
        ed, ed_txt = harness.dkim_keypair(env, "example.com", "ed25519")
        keys += '  dkim "e1" { algorithm = "ed25519-sha256" key = "%s" }\n' % ed
        records["e1._domainkey.example.com"] = records["e1._domainkey.tx.example.com"] = ed_txt
        algs.append("ed25519-sha256")
    msock = os.path.join(env.dir, "milter.sock")
    psock = os.path.join(env.dir, "policy.sock")
    conf = env.file("sluice.conf", redis.conf_section() + """
log_level = "info"
secret_file = "%s"
category "transactional" { subdomain = "tx" }
domain "example.com" {
  default_category = "transactional"
  %s}
milter { socket = "unix:%s" socket_mode = "0666" }
policyd {
  listen = { "unix:%s" }
  limit "per-sender" { key = '${sender}' rate = "1000000/hour" burst = "1000000" unit = "recipients" }
}
""" % (env.secret(), keys, msock, psock), 0o600)
    def prog(part, name):
        return os.path.join(build, part, name) if build else harness.program(part, name)

    procs = {"sluice-milter": env.daemon("sluice-milter", [prog("milter", "sluice-milter"),
                                                           "-f", "-c", conf],
                                         ready=lambda: harness.can_connect(msock)),
             "sluice-policyd": env.daemon("sluice-policyd", [prog("policyd", "sluice-policyd"),
                                                             "-f", "-c", conf],
                                          ready=lambda: harness.can_connect(psock)),
             "redis-server": redis.proc}
    st = Setup({"milter": "unix:" + msock, "policy": "unix:" + psock}, procs, records, algs)
    st.redis = redis
    return st


def setup_sluice_rsa(env):
    return setup_sluice(env, ed25519=False)


def setup_sluice_old(env):
    return setup_sluice(env, build=OLD_BUILD)


def setup_rspamd(env):
    """rspamd as a milter, only its dkim_signing module enabled (see bench_sign.py)."""
    import bench_sign
    key, txt = harness.dkim_keypair(env, "example.com", "rsa")
    proc, sock = bench_sign.rspamd_starter(key, "rsa")(env, [])
    return Setup({"milter": "unix:" + sock}, {"rspamd": proc}, {"b1._domainkey.example.com": txt},
                 ["rsa-sha256"])


SETUPS = {"bare": ("bare postfix", setup_bare), "sluice": ("sluice rsa+ed25519", setup_sluice),
          "sluice-rsa": ("sluice rsa", setup_sluice_rsa), "rspamd": ("rspamd rsa", setup_rspamd),
          "opendkim": ("opendkim rsa", setup_opendkim),
          "sluice-old": ("sluice rsa+ed25519 (old)", setup_sluice_old)}


def stat(pid):
    """(comm, starttime, utime+stime, cutime+cstime) in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    f = s.rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    return comm, int(f[19]), (int(f[11]) + int(f[12])) / hz, (int(f[13]) + int(f[14])) / hz


def snapshot(setup, pf, sink):
    """{(pid, start): (group, CPU s)} of every process of the setup, and the master's children CPU."""
    out = {}
    roots = [("postfix", pf.master_pid), ("smtp-sink", sink.proc.pid)]
    roots += [(name, p.pid) for name, p in setup.procs.items()]
    master_children = 0.0
    for group, root in roots:
        for pid in [root] + descendants(root):
            st = stat(pid)
            if st is None:
                continue
            comm, start, cpu, ccpu = st
            g = comm if group == "postfix" else group
            out[(pid, start)] = (g, cpu)
            if pid == pf.master_pid:
                master_children = ccpu
    return out, master_children


def descendants(pid):
    out = []
    for c in benchlib.children(pid):
        out += [c] + descendants(c)
    return out


def cpu_delta(before, after):
    """CPU seconds per group between two snapshots (exited processes are not in after)."""
    (b, bc), (a, ac) = before, after
    groups = {}
    for k, (g, cpu) in a.items():
        groups[g] = groups.get(g, 0.0) + cpu - (b[k][1] if k in b else 0.0)
    groups["postfix, exited"] = ac - bc
    return groups


def smtp_source(pf, messages, sessions, recipients):
    """Run smtp-source; returns (exit status, stderr, its CPU seconds)."""
    argv = ["smtp-source", "-s", str(sessions), "-m", str(messages), "-l", "2048", "-f", SENDER,
            "-t", "rcpt@dest.example", "-r", str(recipients), "-d", "-c", "127.0.0.1:%d" % pf.port]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    return os.waitstatus_to_exitcode(status), err.decode(errors="replace"), ru.ru_utime + ru.ru_stime


def check_first(name, setup, sink):
    """The first message at the sink carries exactly the setup's signatures, all valid (dkimpy)."""
    env, raw = harness.parse_sink_file(open(sink.files()[0], "rb").read())
    res = harness.dkim_verify(raw, setup.records) if b"\nDKIM-Signature:" in b"\n" + raw else []
    algs = sorted(r[2] for r in res)
    if algs != setup.algs or not all(r[3] for r in res):
        raise RuntimeError("%s: signatures at the sink %s, want %s all valid" % (name, res, setup.algs))
    return res


def check_logs(name, setup, messages, recipients):
    """sluice-policyd decided every recipient, sluice-milter logged every message."""
    if "sluice-policyd" in setup.procs:
        lines = [l for l in setup.procs["sluice-policyd"].output().splitlines()
                 if " request: state=RCPT " in l and " action=" in l]
        if len(lines) < messages * recipients:
            raise RuntimeError("%s: sluice-policyd logged %d decisions for %d recipients"
                               % (name, len(lines), messages * recipients))
    if "sluice-milter" in setup.procs:
        n = sum(" outbound: " in l and "signatures=%d" % len(setup.algs) in l
                for l in setup.procs["sluice-milter"].output().splitlines())
        if n < messages:
            raise RuntimeError("%s: sluice-milter signed %d of %d messages" % (name, n, messages))


def redis_counts(redis, messages):
    """EVALSHA calls (round trips: the daemons send nothing else per message) and the
    commands run inside them, per message, from INFO commandstats; returned as
    pseudo-groups "#..." (not CPU). sluice-policyd's limits poll (one EVALSHA every
    500 ms) is counted too."""
    out = subprocess.run(["redis-cli", "-s", redis.sock, "INFO", "commandstats"],
                         capture_output=True, text=True).stdout
    calls = {}
    for line in out.splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[8:].split(":", 1)
            calls[name] = int(rest.split("calls=")[1].split(",")[0])
    inner = sum(n for c, n in calls.items() if c not in ("evalsha", "eval", "info", "ping", "role",
                                                           "hello", "client", "select", "script"))
    return {"#EVALSHA": calls.get("evalsha", 0) / messages, "#commands in scripts": inner / messages}


def one_round(name, start, messages, sessions, recipients):
    """A fresh world, N messages through it; returns (msg/s, {group: CPU s}, signatures seen)."""
    env = harness.Env("bench")
    try:
        sink = env.sink()
        setup = start(env)
        main = dict(POSTFIX_MAIN)
        pf = env.postfix(relay=sink, main=main, **setup.params)
        before = snapshot(setup, pf, sink)
        t0 = time.monotonic()
        rc, err, src_cpu = smtp_source(pf, messages, sessions, recipients)
        if rc != 0:
            raise RuntimeError("%s: smtp-source failed: %s" % (name, err))
        harness.wait_for(lambda: len(sink.files()) >= messages, 600, "all messages at the sink", 0.02)
        rate = messages / (time.monotonic() - t0)
        cpu = cpu_delta(before, snapshot(setup, pf, sink))
        cpu["smtp-source"] = src_cpu
        sigs = check_first(name, setup, sink)
        if getattr(setup, "redis", None) is not None:
            cpu.update(redis_counts(setup.redis, messages))
        # the log lines are written as the messages pass: give the last ones a moment
        deadline = time.monotonic() + 10
        while True:
            try:
                check_logs(name, setup, messages, recipients)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        return rate, cpu, sigs
    finally:
        env.close()


ORDER = ["smtpd", "cleanup", "qmgr", "smtp", "trivial-rewrite", "master", "postfix, exited",
         "sluice-milter", "sluice-policyd", "redis-server", "rspamd", "opendkim", "smtp-sink",
         "smtp-source"]


def main():
    ap = argparse.ArgumentParser(description="end-to-end throughput through Postfix")
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--recipients", type=int, default=1)
    ap.add_argument("--setups", default="bare,sluice,sluice-rsa,rspamd,opendkim")
    ap.add_argument("--old-build", help="a build tree (e.g. of main) for the setup sluice-old")
    ap.add_argument("--tmpdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    help="where the worlds live (default /dev/shm: the queue on tmpfs)")
    args = ap.parse_args()
    global OLD_BUILD
    OLD_BUILD = args.old_build
    tempfile.tempdir = args.tmpdir
    keys = [k for k in args.setups.split(",") if k]
    if "rspamd" in keys and not benchlib.have("rspamd"):
        keys.remove("rspamd")
    if "opendkim" in keys and not benchlib.have("opendkim"):
        keys.remove("opendkim")
    if "bare" not in keys:
        keys.insert(0, "bare")
    print("bench_e2e: %d messages x %d recipients x %d rounds, %d sessions, in %s; %s" % (
        args.messages, args.recipients, args.rounds, args.sessions, tempfile.gettempdir(),
        benchlib.stamp()), flush=True)
    rates = {k: [] for k in keys}
    cpus = {k: {} for k in keys}
    loads = []
    counts = {}
    for rnd in range(args.rounds):
        for k in (keys if rnd % 2 == 0 else list(reversed(keys))):
            name, start = SETUPS[k]
            try:
                rate, cpu, sigs = one_round(name, start, args.messages, args.sessions, args.recipients)
            except RuntimeError as e:
                # seen once: "postfix check" failing with no output while other
                # instances start and stop on the machine; one retry
                print("round %d  %s: %s; retrying" % (rnd + 1, name, str(e).splitlines()[0]), flush=True)
                rate, cpu, sigs = one_round(name, start, args.messages, args.sessions, args.recipients)
            rates[k].append(rate)
            for g, s in cpu.items():
                if g.startswith("#"):
                    counts.setdefault(k, {}).setdefault(g, []).append(s)
                else:
                    cpus[k][g] = cpus[k].get(g, 0.0) + s
            if rnd == 0 and sigs:
                print("round 1  %s: first message at the sink: %s" % (name, ", ".join(
                    "%s d=%s s=%s %s" % (a, d, s, "valid" if ok else "INVALID") for d, s, a, ok in sigs)))
            print("round %d  %-22s %8.1f msg/s  load %s" % (
                rnd + 1, name, rate, open("/proc/loadavg").read().split()[0]), flush=True)
        loads.append(float(open("/proc/loadavg").read().split()[0]))
    print("load average (1 min) after each round: %s" % " ".join("%.2f" % x for x in loads))
    print()
    base = median(rates["bare"])
    rows = []
    for k in keys:
        per_round = [r / b for r, b in zip(rates[k], rates["bare"])]
        rows.append([SETUPS[k][0], "%.1f" % median(rates[k]), "%.2f" % (median(rates[k]) / base),
                     "%.2f-%.2f" % (min(per_round), max(per_round)),
                     " ".join("%.0f" % r for r in rates[k])])
    benchlib.table(rows, ["setup", "msg/s (median)", "ratio to bare", "per-round ratios", "msg/s per round"])
    print()
    groups = [g for g in ORDER if any(g in cpus[k] for k in keys)]
    groups += sorted({g for k in keys for g in cpus[k]} - set(groups))
    n = args.messages * args.rounds
    rows = []
    for g in groups:
        rows.append([g] + ["%.0f" % (cpus[k][g] * 1e6 / n) if g in cpus[k] else "-" for k in keys])
    rows.append(["total (all processes)"] + ["%.0f" % (sum(cpus[k].values()) * 1e6 / n) for k in keys])
    rows.append(["total without smtp-source/sink"] + [
        "%.0f" % (sum(v for g, v in cpus[k].items() if g not in ("smtp-source", "smtp-sink")) * 1e6 / n)
        for k in keys])
    benchlib.table(rows, ["CPU us per message"] + [SETUPS[k][0] for k in keys])
    for k, c in counts.items():
        print("redis, per message (%s): %s" % (SETUPS[k][0], ", ".join(
            "%s %.2f" % (g[1:], median(v)) for g, v in sorted(c.items()))))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""
NAME
    bench_sign - DKIM signing without an MTA: sluice-milter against OpenDKIM
    (and rspamd when asked), RSA-2048 and Ed25519, same messages

SYNOPSIS
    tests/bench/bench_sign.py [--messages N] [--rounds R] [--connections C]
                              [--no-callgrind] [--no-rspamd]

DESCRIPTION
    Starts each milter once, on a unix socket in a temporary directory:
    sluice-milter (one category, one domain, one key; redis = false and
    stats = false, so it does what it does per message without Redis:
    category, envelope rewrite with a signed token, Feedback-ID, one
    signature) and OpenDKIM (Mode s, same key, same signed header list,
    From oversigned), once with an RSA-2048 key and once with an Ed25519
    key. The MTA side is benchlib.MilterClient, a client of the milter
    protocol (version 6) like Postfix's smtpd: CONNECT and HELO once per
    connection, then MAIL, RCPT, DATA, 7 headers, EOH, a 2 KiB body and
    EOM for every message.

    Every signature of a first message is verified with dkimpy before
    anything is timed. Then R rounds, the setups interleaved (order
    reversed every other round): N messages over C connections, each
    connection in its own client process. Prints messages/s per round,
    medians, the ratio of each to OpenDKIM with the same algorithm, the
    daemon's CPU time per message (utime + stime from /proc over all
    rounds, all its processes: less sensitive to noise than the rate, and
    the only per-message cost given for rspamd), its peak RSS (VmHWM,
    summed over its processes) and PSS after the
    rounds, and, with valgrind, the instructions per
    message measured by callgrind: the daemon runs under callgrind twice
    (20 and 120 messages, one connection) and the difference is divided
    by 100, so start-up and key loading cancel out.

    rspamd 3.4 joins when installed (--no-rspamd leaves it out): two proxy
    workers in milter mode scanning themselves, with a settings rule that
    enables only the dkim_signing module (a full scan here would wait for
    DNS timeouts: no network). No callgrind figure for it (several
    processes, a long start-up).

    Needs a built tree (SLUICE_BUILDDIR, default ./build), opendkim,
    valgrind (optional), python3-dkim.
"""
import argparse
import base64
import multiprocessing
import os
import shutil
import signal
import subprocess
import time

import benchlib
from benchlib import harness, median

SIGN_HEADERS = ["From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version",
                "Content-Type", "Content-Transfer-Encoding"]
MACROS = {b"C": {"j": "mta.sluice.test", "{daemon_name}": "smtpd"},
          b"M": {"i": "BENCH0001", "{mail_addr}": "app@example.com"},
          b"E": {"i": "BENCH0001"}}


class Setup:
    """One milter: how to start it (optionally under callgrind) and where it listens."""

    def __init__(self, name, alg, start):
        self.name, self.alg, self._start = name, alg, start
        self.proc = None

    def start(self, env, wrap=()):
        self.proc, self.sock = self._start(env, list(wrap))
        return self


def wait_socket(env, proc, sock, timeout):
    harness.wait_for(lambda: harness.can_connect(sock) or not proc.alive(), timeout,
                     "%s socket" % proc.name)
    if not proc.alive():
        raise RuntimeError("%s exited:\n%s" % (proc.name, proc.output()))


_serial = [0]


def fresh(env, stem):
    """A fresh socket path (libmilter keeps old ones for seconds after SIGTERM)."""
    _serial[0] += 1
    return os.path.join(env.dir, "%s-%d.sock" % (stem, _serial[0]))


def sluice_starter(key, alg):
    def start(env, wrap):
        sock = fresh(env, "sluice")
        conf = env.file("sluice-%d.conf" % _serial[0], """
secret_file = "%s"
domain "example.com" {
  default_category = "transactional"
  dkim "b1" { algorithm = "%s" key = "%s" }
}
category "transactional" { subdomain = "mail" }
milter { socket = "unix:%s" socket_mode = "0666" redis = false stats = false }
""" % (env.tokenkey, "rsa-sha256" if alg == "rsa" else "ed25519-sha256", key, sock), 0o600)
        p = harness.Proc(env, "sluice-milter-%d" % _serial[0],
                         wrap + [harness.program("milter", "sluice-milter"), "-f", "-c", conf])
        wait_socket(env, p, sock, 60 if wrap else 10)
        return p, sock
    return start


def opendkim_starter(key, alg):
    def start(env, wrap):
        sock = fresh(env, "opendkim")
        conf = env.file("opendkim-%d.conf" % _serial[0],
                        "Domain example.com\nSelector b1\nKeyFile %s\nSocket local:%s\n"
                        "Canonicalization relaxed/relaxed\nMode s\nUMask 000\nUserID root\n"
                        "Background no\nSyslog no\nInternalHosts 127.0.0.0/8\n"
                        "RequireSafeKeys false\nSignatureAlgorithm %s\nSignHeaders %s\n"
                        "OversignHeaders From\nPidFile %s.pid\n"
                        % (key, sock, "rsa-sha256" if alg == "rsa" else "ed25519-sha256",
                           ",".join(SIGN_HEADERS), sock))
        p = harness.Proc(env, "opendkim-%d" % _serial[0], wrap + ["opendkim", "-f", "-x", conf])
        wait_socket(env, p, sock, 60 if wrap else 10)
        return p, sock
    return start


def rspamd_starter(key, alg):
    """rspamd: Debian's rspamd.conf with our own local.d/override.d (--var LOCAL_CONFDIR):
    two proxy workers speaking milter and scanning themselves (self_scan), normal
    and controller workers off, DNS pointed at a closed port, and a settings rule
    that enables only DKIM_SIGNED (the dkim_signing module) for 127.0.0.0/8."""
    def start(env, wrap):
        sock = fresh(env, "rspamd")
        d = os.path.join(env.dir, "rspamd-%d" % _serial[0])
        for sub in ("local.d", "override.d", "run", "db", "log"):
            os.makedirs(os.path.join(d, sub))
        if alg == "rsa":
            shutil.copy(key, os.path.join(d, "dkim.key"))
        else:   # rspamd wants libsodium's 64-byte secret key (seed, public key) in base64
            seed = subprocess.run(["openssl", "pkey", "-in", key, "-outform", "DER"],
                                  check=True, capture_output=True).stdout[-32:]
            pub = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                                 check=True, capture_output=True).stdout[-32:]
            env.file(os.path.join(os.path.basename(d), "dkim.key"),
                     base64.b64encode(seed + pub).decode() + "\n")
        files = {
            "override.d/worker-normal.inc": "enabled = false;\n",
            "override.d/worker-controller.inc": "enabled = false;\n",
            "override.d/worker-proxy.inc": 'bind_socket = "%s mode=0666";\nmilter = yes;\ntimeout = 120s;\n'
                                           'upstream "local" { default = yes; self_scan = yes; }\n'
                                           'count = 2;\n' % sock,
            "local.d/options.inc": 'local_addrs = "127.0.0.0/8";\n'
                                   'dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 0; }\n',
            "local.d/logging.inc": 'level = "error";\n',
            "local.d/dkim_signing.conf": 'enabled = true;\nsign_local = true;\nallow_hdrfrom_mismatch = true;\n'
                                         'allow_username_mismatch = true;\nuse_domain = "header";\n'
                                         'use_esld = false;\ntry_fallback = false;\n'
                                         'domain { example.com { selector = "b1"; path = "%s/dkim.key"; } }\n' % d,
            "local.d/settings.conf": 'bench { priority = high; ip = "127.0.0.0/8";'
                                     ' apply { symbols_enabled = ["DKIM_SIGNED"]; } }\n',
        }
        for name, text in files.items():
            env.file(os.path.join(os.path.basename(d), name), text)
        subprocess.run(["chown", "-R", "_rspamd:_rspamd", d], check=True)
        argv = ["rspamd", "-f", "-u", "_rspamd", "-g", "_rspamd", "-c", "/etc/rspamd/rspamd.conf"]
        for var, val in (("LOCAL_CONFDIR", d), ("RUNDIR", d + "/run"), ("DBDIR", d + "/db"),
                         ("LOGDIR", d + "/log")):
            argv += ["--var", "%s=%s" % (var, val)]
        p = harness.Proc(env, "rspamd-%d" % _serial[0], wrap + argv)
        wait_socket(env, p, sock, 120)
        return p, sock
    return start


def verify_once(setup, key_txt):
    """Send one message and check every signature the milter added with dkimpy."""
    c = benchlib.MilterClient(setup.sock, macros=MACROS)
    headers, body = benchlib.sample_message(0)
    reply, mods = c.send_message("app@example.com", ["rcpt@dest.example"], headers, body)
    c.close()
    final = [(n, v) for n, v in headers]
    for cmd, data in mods:
        if cmd == b"h":
            n, v = data.split(b"\0")[:2]
            final.append((n.decode(), v.decode()))
        elif cmd == b"i":
            idx = int.from_bytes(data[:4], "big")
            n, v = data[4:].split(b"\0")[:2]
            final.insert(idx, (n.decode(), v.decode()))
    raw = "".join("%s:%s%s\r\n" % (n, "" if v.startswith(" ") else " ", v.replace("\n", "\r\n"))
                  for n, v in final).encode() + b"\r\n" + body
    records = {"b1._domainkey.example.com": key_txt, "b1._domainkey.mail.example.com": key_txt}
    res = harness.dkim_verify(raw, records)
    if not res or not all(r[3] for r in res):
        raise RuntimeError("%s: signature check failed: reply %r, %r" % (setup.name, reply, res))
    return res


def client_worker(sock, count, offset, ready, go, out):
    """One connection: wait for the start signal, send count messages, report the end time."""
    c = benchlib.MilterClient(sock, macros=MACROS)
    msgs = [benchlib.sample_message(offset + i) for i in range(min(count, 50))]
    ready.release()
    go.wait()
    t0 = time.monotonic()
    for i in range(count):
        h, b = msgs[i % len(msgs)]
        reply, mods = c.send_message("app@example.com", ["rcpt%d@dest.example" % i], h, b)
        if reply not in (b"a", b"c") or not any(m[0] in (b"h", b"i") for m in mods):
            out.put(("error", "reply %r mods %r" % (reply, [m[0] for m in mods])))
            return
    out.put(("ok", t0, time.monotonic()))
    c.close()


def drive(sock, messages, connections):
    """messages over connections client processes; returns messages/s."""
    ctx = multiprocessing.get_context("fork")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    per = [messages // connections + (1 if i < messages % connections else 0) for i in range(connections)]
    procs = [ctx.Process(target=client_worker, args=(sock, n, 1000 * i, ready, go, out))
             for i, n in enumerate(per)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    errors = [r for r in results if r[0] != "ok"]
    if errors:
        raise RuntimeError(errors[0][1])
    return messages / (max(r[2] for r in results) - min(r[1] for r in results))


def stop(proc, timeout=60):
    """SIGTERM and wait (libmilter needs seconds; callgrind writes its file at exit)."""
    proc.signal(signal.SIGTERM)
    try:
        proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def instructions(env, setup, n1=20, n2=120):
    """Callgrind instructions per message: (I(n2) - I(n1)) / (n2 - n1)."""
    totals = []
    for n in (n1, n2):
        out = os.path.join(env.dir, "cg-%s-%d-%d" % (setup.name.split()[0], n, _serial[0]))
        s = Setup(setup.name, setup.alg, setup._start).start(env, benchlib.callgrind_argv(out + ".%p"))
        drive(s.sock, n, 1)
        stop(s.proc)
        totals.append(sum(benchlib.callgrind_total(p) for p in benchlib._glob(out + ".*")))
    return (totals[1] - totals[0]) / (n2 - n1)


def main():
    ap = argparse.ArgumentParser(description="DKIM signing rate: sluice-milter vs OpenDKIM")
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=2)
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-rspamd", action="store_true")
    args = ap.parse_args()
    env = harness.Env("bench-sign")
    try:
        env.tokenkey = env.secret()
        keys = {alg: harness.dkim_keypair(env, "bench", alg) for alg in ("rsa", "ed25519")}
        setups = []
        for alg in ("rsa", "ed25519"):
            key = keys[alg][0]
            setups.append(Setup("opendkim " + alg, alg, opendkim_starter(key, alg)))
            setups.append(Setup("sluice-milter " + alg, alg, sluice_starter(key, alg)))
            if not args.no_rspamd and benchlib.have("rspamd"):
                setups.append(Setup("rspamd " + alg, alg, rspamd_starter(key, alg)))
        for s in setups:
            s.start(env)
            verify_once(s, keys[s.alg][1])
        print("bench_sign: %d messages x %d rounds over %d connections; %s" % (
            args.messages, args.rounds, args.connections, benchlib.stamp()), flush=True)
        rates = {s.name: [] for s in setups}
        cpu0 = {s.name: benchlib.tree_cpu(s.proc.pid) for s in setups}
        for rnd in range(args.rounds):
            for s in (setups if rnd % 2 == 0 else list(reversed(setups))):
                rates[s.name].append(drive(s.sock, args.messages, args.connections))
                print("round %d  %-20s %8.1f msg/s" % (rnd + 1, s.name, rates[s.name][-1]), flush=True)
        cpu = {s.name: (benchlib.tree_cpu(s.proc.pid) - cpu0[s.name]) / (args.messages * args.rounds)
               for s in setups}
        rss = {s.name: benchlib.tree_hwm(s.proc.pid) for s in setups}
        pss = {s.name: benchlib.tree_pss(s.proc.pid) for s in setups}
        for s in setups:
            stop(s.proc, 15)
        ir = {}
        if not args.no_callgrind and benchlib.have("valgrind"):
            for s in setups:
                if not s.name.startswith("rspamd"):
                    ir[s.name] = instructions(env, s)
        print()
        rows = []
        for s in setups:
            m = median(rates[s.name])
            base = median(rates["opendkim " + s.alg])
            rows.append([s.name, "%.0f" % m, "%.2f" % (m / base), "%.0f" % (cpu[s.name] * 1e6),
                         "%.2fM" % (ir[s.name] / 1e6) if s.name in ir else "-",
                         "%.1f" % (rss[s.name] / 1024), "%.1f" % (pss[s.name] / 1024)])
        benchlib.table(rows, ["milter", "msg/s (median)", "vs opendkim", "CPU us/msg", "instr/msg", "peak RSS MiB",
                              "PSS MiB"])
    finally:
        env.close()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""
NAME
    bench_e2e - end-to-end throughput: bare Postfix, Postfix + OpenDKIM,
    Postfix + sluice-milter (+ sluice-policyd), measured in the same run

SYNOPSIS
    tests/bench/bench_e2e.py [--messages N] [--rounds R] [--sessions S]

DESCRIPTION
    For each setup, starts a throwaway Postfix in front of smtp-sink (the
    harness of the integration tests), injects N messages with smtp-source
    over S parallel sessions, and times from the first connection until
    smtp-sink has stored all N. Prints per-round figures, the median
    messages/s of each setup and its ratio to bare Postfix. Rounds of the
    setups are interleaved so that machine noise hits them alike.
    Needs root and a built tree (SLUICE_BUILDDIR, default ./build).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402


def setup_bare(env):
    """No milter, no policy server."""
    return {}


def setup_opendkim(env):
    """OpenDKIM signing every message with one RSA-2048 key, over a unix socket."""
    key, _ = harness.dkim_keypair(env, "example.com", "rsa")
    sock = os.path.join(env.dir, "opendkim.sock")
    conf = env.file("opendkim.conf",
                    "Domain example.com\nSelector bench\nKeyFile %s\nSocket local:%s\n"
                    "Canonicalization relaxed/relaxed\nMode s\nUMask 000\nUserID root\n"
                    "Background no\nSyslog no\nInternalHosts 127.0.0.0/8\n"
                    "PidFile %s/opendkim.pid\n" % (key, sock, env.dir))
    env.daemon("opendkim", ["opendkim", "-f", "-x", conf],
               ready=lambda: harness.can_connect(sock))
    return {"milter": "unix:" + sock}


def setup_sluice(env, with_policy=True):
    """sluice-milter (category rewrite, token, headers, RSA-2048 signature) and sluice-policyd."""
    redis = env.redis()
    key, _ = harness.dkim_keypair(env, "example.com", "rsa")
    secret = env.secret()
    msock = os.path.join(env.dir, "milter.sock")
    psock = os.path.join(env.dir, "policy.sock")
    conf = env.file("sluice.conf", redis.conf_section() + """
secret_file = "%s"
category transactional { subdomain = "tx" }
domain example.com {
  default_category = transactional
  dkim bench { algorithm = rsa-sha256 key = "%s" }
}
milter { socket = "unix:%s" }
policyd { socket = "unix:%s" }
""" % (secret, key, msock, psock))
    env.daemon("sluice-milter", [harness.program("milter", "sluice-milter"), "-f", "-c", conf],
               ready=lambda: harness.can_connect(msock))
    out = {"milter": "unix:" + msock}
    if with_policy:
        env.daemon("sluice-policyd", [harness.program("policyd", "sluice-policyd"), "-f", "-c", conf],
                   ready=lambda: harness.can_connect(psock))
        out["policy"] = "unix:" + psock
    return out


SETUPS = [("bare postfix", setup_bare), ("postfix+opendkim", setup_opendkim),
          ("postfix+sluice", setup_sluice)]


def one_round(name, setup, messages, sessions):
    """Start a fresh world, push messages, return messages per second."""
    env = harness.Env("bench")
    try:
        sink = env.sink()
        pf = env.postfix(relay=sink, **setup(env))
        t0 = time.monotonic()
        r = pf.smtp_source("-s", sessions, "-m", messages, "-l", 2048, "-f", "app@example.com",
                           "-t", "rcpt@dest.example", "-d", "-c", timeout=600)
        if r.returncode != 0:
            raise RuntimeError("%s: smtp-source failed: %s" % (name, r.stderr))
        harness.wait_for(lambda: len(sink.files()) >= messages, 600, "all messages at the sink", 0.02)
        return messages / (time.monotonic() - t0)
    finally:
        env.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=10)
    args = ap.parse_args()
    figures = {name: [] for name, _ in SETUPS}
    for rnd in range(args.rounds):
        for name, setup in SETUPS:
            rate = one_round(name, setup, args.messages, args.sessions)
            figures[name].append(rate)
            print("round %d  %-18s %8.1f msg/s" % (rnd + 1, name, rate), flush=True)
    base = statistics.median(figures["bare postfix"])
    print("\n%d messages x %d rounds, %d sessions, %s" % (args.messages, args.rounds, args.sessions,
                                                          time.strftime("%Y-%m-%d %H:%M")))
    for name, _ in SETUPS:
        med = statistics.median(figures[name])
        print("%-18s median %8.1f msg/s  ratio to bare %.2f" % (name, med, med / base))


if __name__ == "__main__":
    main()

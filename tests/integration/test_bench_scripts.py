"""
NAME
    test_bench_scripts - tiny runs of bench_e2e.py and bench_policy.py, so
    the benchmark scripts keep working

DESCRIPTION
    bench_e2e.py: 20 messages, one round, bare Postfix and Postfix with
    Sluice (milter, policyd, Redis, RSA and Ed25519): the script itself
    checks that the first message at the sink carries both signatures,
    valid by dkimpy, and that policyd logged a decision per recipient; here
    the summary and CPU tables must be printed. bench_policy.py (when
    postfwd is installed, contrib/install-deps.sh --bench): a fraction of a
    second per server, sluice-policyd, postfwd and the bare EVALSHA, each
    with its line in the table. bench_feedback_pipe.py: 5 bounces per
    command through sluice-feedback (each must end suppressed in Redis, the
    script checks), cat and (when installed) sisimai. bench_policy_conns.py
    (postfwd installed): 5 connections to sluice-policyd and postfwd.
    sim_scaleout.py: one short round on one Redis and on a 3-master
    cluster, two policyds, 100 milter messages and 5 bounces each.
    Figures are not asserted, only printed.
"""
import os
import shutil
import subprocess
import sys

import pytest

import harness

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")


def run(script, *args, timeout=600):
    env = dict(os.environ, SLUICE_BUILDDIR=harness.BUILDDIR)
    r = subprocess.run([sys.executable, os.path.join(BENCH, script)] + list(args), env=env,
                       capture_output=True, text=True, timeout=timeout)
    print(r.stdout[-3000:])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def test_bench_e2e_tiny(env):
    out = run("bench_e2e.py", "--messages", "20", "--rounds", "1", "--setups", "bare,sluice",
              "--sessions", "4", "--tmpdir", env.dir)
    assert "first message at the sink: rsa-sha256 d=tx.example.com s=r1 valid, " \
           "ed25519-sha256 d=tx.example.com s=e1 valid" in out, out
    for row in ("bare postfix ", "sluice rsa+ed25519 ", "sluice-milter ", "sluice-policyd ",
                "redis-server ", "smtpd ", "cleanup ", "total (all processes) "):
        assert "\n" + row in out, row


@pytest.mark.skipif(shutil.which("postfwd2") is None, reason="postfwd not installed (install-deps.sh --bench)")
def test_bench_policy_tiny(env):
    out = run("bench_policy.py", "--seconds", "0.3", "--rounds", "1", "--no-callgrind",
              "--no-rate-limit")
    for row in ("sluice-policyd ", "postfwd2 ", "bare EVALSHA (redis-benchmark) "):
        assert "\n" + row in out, row
    assert "bare EVALSHA command: EVALSHA " in out, out


def have_sisimai():
    return subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True).returncode == 0


def test_bench_feedback_pipe_tiny():
    out = run("bench_feedback_pipe.py", "--bounces", "5", "--rounds", "1", "--conc", "1,2",
              "--no-callgrind", *([] if have_sisimai() else ["--no-sisimai"]))
    for row in ("sluice-feedback ", "cat (floor) ") + (("sisimai ",) if have_sisimai() else ()):
        assert "\n" + row in out, row
    assert "all 5 bounces of every sluice-feedback batch were suppressed" in out, out


@pytest.mark.skipif(shutil.which("postfwd2") is None, reason="postfwd not installed (install-deps.sh --bench)")
def test_bench_policy_conns_tiny():
    out = run("bench_policy_conns.py", "--levels", "0,5", "--rounds", "1", "--seconds", "0.2",
              "--no-postfwd-default")
    for row in ("sluice-policyd ", "postfwd2 "):
        assert "\n" + row in out, row
    assert "sluice-policyd's redis-server: RSS" in out, out


def test_sim_scaleout_tiny():
    out = run("sim_scaleout.py", "--rounds", "1", "--seconds", "0.3", "--policyds", "2",
              "--connections", "2", "--users", "50", "--messages", "100", "--milter-connections", "2",
              "--idle", "0.1", "--bounces", "5")
    for kind in ("decision", "milter"):
        for backend in ("single", "cluster"):
            assert "round 0 %-8s %-9s " % (kind, backend) in out, (kind, backend)
    assert "round 0 feedback single " in out, out
    # measured, or said why not (a sluice-feedback that cannot use Cluster)
    assert ("round 0 feedback cluster " in out) != ("feedback on cluster: not measured" in out), out
    for row in ("decisions/s ", "redis CPU us per decision ", "script calls per decision (slot groups) ",
                "redis CPU us per milter ", "master 2 (port ", "cluster       2 "):
        assert "\n" + row in out, row

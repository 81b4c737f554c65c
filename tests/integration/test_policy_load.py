"""
NAME
    test_policy_load - the C policy load client (tests/bench/policy_load)
    against a real sluice-policyd and Redis, so the benchmark keeps working

DESCRIPTION
    A tiny run of what bench_policy.py measures: 300 requests of the
    benchmark's stream (100 senders, 3 requests each) over 8 connections
    at once to sluice-policyd with one limit of 2 recipients per hour and
    sender. Exactly 200 must pass and 100 be deferred, whatever the
    interleaving (the limit is charged atomically in Redis), policyd must
    log one decision per request, and the client's figures must be
    printed. A server that answers nonsense makes the client exit 1. No
    timing is asserted.
"""
import os
import re
import socket
import subprocess
import threading

import harness
from test_policyd_util import request_lines, start_policyd

LIMIT = """  limit "per-sender" { key = '${sender}' rate = "2/hour" burst = "2" unit = "recipients" }
"""


def load_client():
    return os.path.join(harness.BUILDDIR, "tests", "bench", "policy_load")


def test_load_client_counts_every_decision(env):
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis, policyd_extra=LIMIT)
    harness.wait_for(lambda: "limit per-sender: loaded" in proc.output(), 10, "limit loaded")
    r = subprocess.run([load_client(), "-s", sock, "-c", "8", "-n", "300", "-w", "0",
                        "-p", str(proc.pid)], capture_output=True, text=True, timeout=120)
    print(r.stdout.strip())
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"connections=8 requests=300 .*req_per_s=([\d.]+) dunno=200 defer=100 reject=0 "
                  r"other=0 .*server_cpu_us_per_req=([\d.]+) .*errors=0", r.stdout)
    assert m, r.stdout
    harness.wait_for(lambda: len(request_lines(proc)) >= 300, 10, "a log line per request")
    lines = request_lines(proc)
    assert len(lines) == 300
    assert sum('action="DUNNO"' in l for l in lines) == 200
    assert sum("DEFER_IF_PERMIT" in l for l in lines) == 100


def test_load_client_fails_on_nonsense(env):
    path = os.path.join(env.dir, "nonsense.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(4)

    def serve():
        try:
            c, _ = srv.accept()
            with c:
                c.recv(4096)
                c.sendall(b"hello\n\n")
        except OSError:
            pass            # the client gave up first: its exit status says why

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    r = subprocess.run([load_client(), "-s", path, "-c", "1", "-n", "1", "-w", "0"],
                       capture_output=True, text=True, timeout=30)
    srv.close()
    assert r.returncode == 1 and "bad answer: hello" in r.stderr, r.stdout + r.stderr

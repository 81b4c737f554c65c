"""
NAME
    test_milter_load - the C milter load client (tests/bench/milter_load)
    against a real sluice-milter, so the benchmark keeps working

DESCRIPTION
    A tiny run of what bench_milter.py measures: sluice-milter with an
    RSA-2048 and an Ed25519 key for the From domain (redis = false), and
    milter_load sending 50 messages over 4 connections, 2 KB and 50 KB
    bodies. Every message must end with continue and carry both
    DKIM-Signature fields (the client checks and exits 1 otherwise); the
    printed figures must be there. A client expecting a third signature
    must fail, so the check cannot pass by accident. No timing is asserted.
"""
import os
import re
import subprocess

import harness
import milter_helpers

CONF = """
secret_file = "%(secret)s"
domain "example.com" {
  default_category = "transactional"
  dkim "r1" { algorithm = "rsa-sha256" key = "%(rsa)s" }
  dkim "e1" { algorithm = "ed25519-sha256" key = "%(ed)s" }
}
category "transactional" { }
milter { socket = "{socket}" socket_mode = "0666" redis = false stats = false }
"""


def load_client():
    return os.path.join(harness.BUILDDIR, "tests", "bench", "milter_load")


def run(sock, pid, *args):
    return subprocess.run([load_client(), "-s", sock, "-p", str(pid)] + list(args),
                          capture_output=True, text=True, timeout=300)


def test_load_client_against_sluice(env):
    rsa, _ = harness.dkim_keypair(env, "load", "rsa")
    ed, _ = harness.dkim_keypair(env, "load", "ed25519")
    conf, sock = milter_helpers.write_conf(env, CONF % {"secret": env.secret(), "rsa": rsa, "ed": ed})
    proc, _ = milter_helpers.start_milter(env, conf, sock)
    for size in ("2048", "51200"):
        r = run(sock, proc.pid, "-n", "50", "-c", "4", "-b", size, "-e", "2")
        print(r.stdout.strip())
        assert r.returncode == 0, r.stdout + r.stderr
        m = re.search(r"messages=50 body_bytes=%s .*msg_per_s=([\d.]+) server_cpu_us_per_msg=(\d+) "
                      r".*signatures=100 errors=0" % size, r.stdout)
        assert m, r.stdout
        assert float(m.group(1)) > 0 and int(m.group(2)) >= 0
    r = run(sock, proc.pid, "-n", "4", "-c", "1", "-e", "3")
    assert r.returncode == 1 and "2 DKIM-Signature fields, want 3" in r.stderr, r.stdout + r.stderr
    assert proc.alive()

"""
NAME
    test_inbound_miltertest - inbound verification driven by miltertest

DESCRIPTION
    sluice-milter with inbound verification on and the zone file as its
    DNS; tests/milter/inbound_verify.lua plays the MTA: the A-R field is
    inserted, a forged one (our authserv-id) deleted through
    smfi_chgheader, a DMARC p=reject failure refused. The milter log
    line carries the same A-R; it must name the SPF result of each try.
"""
import os
import subprocess

import pytest

import harness
from inbound_fixtures import World
from milter_helpers import start_milter, write_conf

LUA = os.path.join(harness.SRCDIR, "tests", "milter")
AUTHSERV = "mx.sluice.test"


@pytest.fixture(scope="module")
def milter():
    env = harness.Env("inbound-mt")
    try:
        w = World(env)
        conf, sock = write_conf(env, 'milter { socket = "{socket}" socket_mode = "0666" redis = false '
                                'internal_networks = {} inbound { verify = true dns_zone = "%s" '
                                'authserv_id = "%s" } }\n' % (w.zone, AUTHSERV))
        yield start_milter(env, conf, sock)
    finally:
        env.close()


def test_inbound_verify_scenario(milter):
    proc, spec = milter
    r = subprocess.run(["miltertest", "-s", os.path.join(LUA, "inbound_verify.lua"), "-D", "socket=" + spec,
                        "-D", "dir=" + LUA, "-D", "authserv=" + AUTHSERV],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout, r.stderr, proc.output())
    proc.wait_output("disposition=accept")
    log = proc.wait_output("disposition=reject")
    assert "disposition=accept" in log and "spf=pass smtp.mailfrom=a@example.com" in log
    assert "disposition=reject" in log and "spf=fail smtp.mailfrom=a@example.com" in log
    assert proc.alive()

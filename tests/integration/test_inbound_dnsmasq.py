"""
NAME
    test_inbound_dnsmasq - the real DNS path (libresolv) against dnsmasq

DESCRIPTION
    The test zone is served by dnsmasq in its own network and mount
    namespace (unshare -m -n: only a loopback, /etc/resolv.conf bind-mounted
    to name 127.0.0.1; nothing can leave it, NOTES.md). "sluicectl verify"
    runs inside that namespace (nsenter) without --zone, so every answer
    goes through lib/dns.c's res_nquery path: TXT records split into
    several strings, A, MX, NXDOMAIN against NODATA, and a name whose
    server never answers (temperror after the timeout). Each case's
    Authentication-Results must equal the one the zone file gives.
"""
import os
import re
import shutil
import subprocess

import pytest

import harness
from inbound_fixtures import BAD_IP, GOOD_IP, World, forwarded, message, parse_authres, results
from test_inbound_verify import AUTHSERV

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("dnsmasq"),
                                reason="needs root and dnsmasq (dnsmasq-base)")


def dnsmasq_conf(zone_path):
    """dnsmasq options answering every record of the zone file."""
    out = ["no-resolv", "no-hosts", "listen-address=127.0.0.1", "bind-interfaces", "port=53",
           "local=/test/", "local=/com/", "local=/net/", "user=root"]
    with open(zone_path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, typ, data = (line.split(None, 2) + [""])[:3]
            if typ == "TXT":
                text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', data)) if data.startswith('"') else data
                chunks = [text[i:i + 200] for i in range(0, len(text), 200)] or [""]
                out.append("txt-record=%s,%s" % (name, ",".join('"%s"' % c for c in chunks)))
            elif typ == "A":
                out.append("host-record=%s,%s" % (name, data))
            elif typ == "MX":
                pref, host = data.split()
                out.append("mx-host=%s,%s,%s" % (name, host, pref))
            elif typ == "SERVFAIL":
                out.append("server=/%s/127.0.0.2" % name)   # nobody there: the query times out
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def ns():
    env = harness.Env("inbound-dnsmasq")
    try:
        w = World(env)
        conf = env.file("dnsmasq.conf", dnsmasq_conf(w.zone))
        resolv = env.file("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        script = ("ip link set lo up && mount --bind %s /etc/resolv.conf && "
                  "exec dnsmasq --keep-in-foreground --conf-file=%s" % (resolv, conf))
        proc = env.daemon("dnsmasq", ["unshare", "-m", "-n", "--propagation", "private", "sh", "-c", script])
        harness.wait_for(lambda: subprocess.run(
            ["nsenter", "-t", str(proc.pid), "-m", "-n", "getent", "hosts", "example.com"],
            capture_output=True).returncode == 0, 10, "dnsmasq in its namespace")
        w.ns_pid = proc.pid
        w.inbound_conf = env.file("dns.conf", 'milter { inbound { dns_timeout = 1 } }\n')
        yield w
    finally:
        env.close()


def run(world, msg, ip, mail_from, zone):
    argv = [os.path.abspath(harness.program("ctl", "sluicectl")), "-c", world.inbound_conf, "verify", "--ip", ip,
            "--helo", "helo.test", "--mail-from", mail_from, "--authserv-id", AUTHSERV]
    if zone:
        argv += ["--zone", world.zone]
    else:
        argv = ["nsenter", "-t", str(world.ns_pid), "-m", "-n"] + argv
    r = subprocess.run(argv, input=msg, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def test_namespace_has_no_way_out(ns):
    r = subprocess.run(["nsenter", "-t", str(ns.ns_pid), "-m", "-n", "getent", "hosts", "debian.org"],
                       capture_output=True, timeout=30)
    assert r.returncode != 0


CASES = [
    ("spf pass", lambda w: message(), GOOD_IP, "a@spf-pass.test"),
    ("spf fail", lambda w: message(), BAD_IP, "a@spf-pass.test"),
    ("spf none", lambda w: message(), GOOD_IP, "a@spf-none.test"),
    ("spf void", lambda w: message(), GOOD_IP, "a@spf-void.test"),
    ("spf temperror", lambda w: message(), GOOD_IP, "a@spf-temp.test"),
    ("dkim rsa", lambda w: w.sign(message()), BAD_IP, "a@example.com"),
    ("dkim ed25519", lambda w: w.sign(message(), selector="e1", ed=True), BAD_IP, "a@example.com"),
    ("dkim no key", lambda w: w.sign(message(), selector="gone"), BAD_IP, "a@example.com"),
    ("strict", lambda w: w.sign(message(frm="a@strict.test"), domain="mail.strict.test"), BAD_IP,
     "a@mail.strict.test"),
    ("tree walk", lambda w: message(frm="a@a.b.c.d.e.f.g.h.walk.test"), BAD_IP, "a@x.walk.test"),
    ("np", lambda w: message(frm="a@ghost.np.test"), BAD_IP, "a@ghost.np.test"),
    ("sp", lambda w: message(frm="a@real.np.test"), BAD_IP, "a@real.np.test"),
    ("arc", lambda w: forwarded(w), BAD_IP, "a@example.com"),
]


@pytest.mark.parametrize("name,make,ip,mail_from", CASES, ids=[c[0] for c in CASES])
def test_real_dns_same_as_zone_file(ns, name, make, ip, mail_from):
    msg = make(ns)
    real = run(ns, msg, ip, mail_from, zone=False)
    fake = run(ns, msg, ip, mail_from, zone=True)
    assert real == fake, (real, fake)
    ar = real.split("Authentication-Results: ", 1)[1].split("\ndisposition:")[0]
    items = parse_authres(ar)[1]
    if name == "spf temperror":
        assert results(items, "spf")[0][1] == "temperror"
    if name == "dkim rsa":
        assert results(items, "dkim")[0][1] == "pass"
    if name == "np":
        assert "np=reject" in results(items, "dmarc")[0][3]

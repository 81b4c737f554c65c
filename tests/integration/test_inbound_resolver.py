"""
NAME
    test_inbound_resolver - no test reaches the machine's resolver; no zone fails closed

DESCRIPTION
    resolver_guard.py (entered by conftest.py) gives the whole run a
    /etc/resolv.conf naming only GUARD_NS. These tests bind a small DNS
    server on GUARD_NS port 53 that answers SERVFAIL to everything and
    records what it was asked, then run inbound verification with no zone
    file and no dns_nameserver configured: through sluicectl verify,
    through the real milter behind a throwaway Postfix, and through
    sluicectl doctor. Each must fail closed (temperror, 451 4.7.0 with
    dns_error = tempfail, exit 75 for doctor), and its questions must be
    the ones that reached the guard: the machine's resolver was never the
    one asked. With dns_nameserver set, the questions go to that server and
    none to the guard.
"""
import fcntl
import os
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading

import pytest

import harness
import resolver_guard
from conftest import require_root
from inbound_fixtures import World, message
from milter_helpers import start_milter, write_conf

pytestmark = pytest.mark.skipif(os.environ.get("SLUICE_RESOLV_GUARD") != resolver_guard.GUARD_NS,
                                reason="resolver_guard not entered (needs root)")



@pytest.fixture
def signed(env):
    """A message signed by dkimpy for example.com, selector r1: its key must be looked up."""
    return World(env).sign(message()).decode()


class Servfail:
    """A DNS server on (addr, port) that answers SERVFAIL and records (name, type)."""

    def __init__(self, addr, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.asked = []
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                pkt, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            if len(pkt) < 12:
                continue            # not a DNS query: nothing to record or answer
            labels, i = [], 12
            while i < len(pkt) and pkt[i]:
                labels.append(pkt[i + 1:i + 1 + pkt[i]].decode("ascii", "replace"))
                i += 1 + pkt[i]
            qtype = struct.unpack("!H", pkt[i + 1:i + 3])[0] if i + 3 <= len(pkt) else 0
            self.asked.append((".".join(labels).lower(), qtype))
            flags = 0x8000 | (struct.unpack("!H", pkt[2:4])[0] & 0x0100) | 0x0080 | 2
            self.sock.sendto(pkt[:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + pkt[12:i + 5], peer)

    def names(self):
        return {n for n, _ in self.asked}

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def guard():
    """The server on the guard's address; one test at a time has it (pytest-xdist workers wait)."""
    require_root()
    with open(os.path.join(tempfile.gettempdir(), "sluice-resolv-guard.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        s = Servfail(resolver_guard.GUARD_NS, 53)
        try:
            yield s
        finally:
            s.close()


def conf_without_dns(env, extra=""):
    return write_conf(env, 'milter { socket = "{socket}" socket_mode = "0666" redis = false '
                      'internal_networks = {} inbound { verify = true authserv_id = "mx.sluice.test" '
                      'dns_timeout = 1 %s } }\n' % extra)


def verify(conf, msg):
    return subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf, "verify", "--ip", "192.0.2.1",
                           "--helo", "helo.test", "--mail-from", "a@example.com"], input=msg,
                          capture_output=True, text=True, timeout=120)


def test_the_run_sees_only_the_guard_resolver():
    with open("/etc/resolv.conf") as f:
        servers = [l.split()[1] for l in f if l.startswith("nameserver")]
    assert servers == [resolver_guard.GUARD_NS]


def test_verify_without_a_zone_fails_closed_at_the_guard(env, guard, signed):
    conf, _ = conf_without_dns(env)
    r = verify(conf, signed)
    assert r.returncode == 0, r.stderr
    assert "spf=temperror (DNS lookup failed) smtp.mailfrom=a@example.com" in r.stdout, r.stdout
    assert "dkim=temperror" in r.stdout and "dmarc=temperror" in r.stdout, r.stdout
    assert "disposition: tempfail 451 4.7.0" in r.stdout, r.stdout
    assert {"example.com", "helo.test", "r1._domainkey.example.com", "_dmarc.example.com"} <= guard.names()


def test_dns_nameserver_is_the_only_server_asked(env, guard):
    mine = Servfail("127.0.0.1")
    try:
        conf, _ = conf_without_dns(env, 'dns_nameserver = "127.0.0.1:%d"' % mine.port)
        msg = message(frm="a@ns-only.test").decode()
        r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf, "verify", "--ip", "192.0.2.1",
                            "--helo", "helo.ns-only.test", "--mail-from", "a@ns-only.test"], input=msg,
                           capture_output=True, text=True, timeout=120)
        assert "disposition: tempfail" in r.stdout, r.stdout + r.stderr
        assert {"ns-only.test", "helo.ns-only.test", "_dmarc.ns-only.test"} <= mine.names()
        # (other tests' stray lookups may reach the guard meanwhile: only this test's names count)
        assert not any(n.endswith("ns-only.test") for n in guard.names()), guard.asked
    finally:
        mine.close()


def test_milter_through_postfix_without_a_zone_tempfails(env, guard, signed):
    conf, sock = conf_without_dns(env)
    _, spec = start_milter(env, conf, sock)
    sink = env.sink()
    pf = env.postfix(relay=sink, milter=spec, main={"smtpd_authorized_xclient_hosts": "127.0.0.0/8",
                                                    "mynetworks": "127.0.0.0/8 192.0.2.0/24"})
    with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="client.test", timeout=60) as s:
        s.ehlo()
        code, text = s.docmd("XCLIENT", "ADDR=192.0.2.1 NAME=[UNAVAILABLE] HELO=helo.test")
        assert code == 220, text
        s.ehlo_resp = s.esmtp_features = None
        s.ehlo("helo.test")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@example.com", ["b@example.net"], signed)
    assert e.value.smtp_code == 451 and b"4.7.0" in e.value.smtp_error, e.value
    assert {"example.com", "r1._domainkey.example.com", "_dmarc.example.com"} <= guard.names()
    assert sink.files() == []


def test_doctor_without_zone_or_nameserver_asks_only_the_guard(env, guard):
    rsa, _ = harness.dkim_keypair(env, "g", "rsa")
    conf = env.file("doctor.conf", 'domain "example.com" { dkim "r1" { algorithm = "rsa-sha256" key = "%s" } }\n'
                    'category "tx" { subdomain = "mail" }\n' % rsa, 0o600)
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf, "doctor", "example.com", "--mx",
                        "mx.example.net"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 75 and "lookup failed" in r.stdout, r.stdout + r.stderr
    assert {"_dmarc.example.com", "r1._domainkey.example.com", "mail.example.com"} <= guard.names()


def test_bad_dns_nameserver_is_a_config_error(env):
    conf, _ = conf_without_dns(env, 'dns_nameserver = "resolver.example"')
    r = subprocess.run([harness.program("milter", "sluice-milter"), "-n", "-c", conf], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 78 and 'nameserver "resolver.example": use an IPv4 address' in r.stderr, r.stderr

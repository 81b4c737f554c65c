"""
NAME
    test_inbound_preflight - sluicectl doctor's DMARC pre-flight (milter_preflight.c)

DESCRIPTION
    For each category of a domain, will receivers see DMARC pass for a
    From on the domain, signed as the category signs and sent from its
    envelope subdomain by milter { preflight { relay_addresses } }? The
    DNS answers come from a zone file (--zone); the doctor's other checks
    ask a nameserver port where nobody listens (their lookups fail: exit
    75), so nothing reaches the machine's resolver.
"""
import socket
import subprocess

import pytest

import harness

CONF = """
domain "example.com" { dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" } }
domain "strict.test" { dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" } }
category "tx" { subdomain = "mail" }
category "news" { subdomain = "news" }
milter { preflight { relay_addresses = {"192.0.2.10"} } }
"""

ZONE = """
_dmarc.example.com TXT "v=DMARC1; p=reject"
mail.example.com TXT "v=spf1 ip4:192.0.2.10 -all"
news.example.com TXT "v=spf1 ip4:198.51.100.1 -all"
_dmarc.strict.test TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
mail.strict.test TXT "v=spf1 ip4:192.0.2.10 -all"
news.strict.test TXT "v=spf1 ip4:192.0.2.10 -all"
"""


@pytest.fixture(scope="module")
def setup():
    env = harness.Env("preflight")
    try:
        rsa, _ = harness.dkim_keypair(env, "p", "rsa")
        conf = env.file("sluice.conf", CONF % {"rsa": rsa}, 0o600)
        zone = env.file("pf.zone", ZONE)
        yield conf, zone
    finally:
        env.close()


def dead_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def doctor(conf, zone, domain):
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf, "doctor", domain, "--zone", zone,
                        "--nameserver", "127.0.0.1:%d" % dead_port()], capture_output=True, text=True,
                       timeout=120)
    lines = {}
    for line in r.stdout.splitlines():
        if "(category " in line:
            status, rest = line.split(None, 1)
            lines[rest.split(")")[0].split("(category ")[1]] = (status, line)
    return r, lines


def test_category_spf_without_the_relay_address_is_flagged(setup):
    r, lines = doctor(*setup, "example.com")
    assert lines["tx"][0] == "ok", r.stdout
    assert lines["news"][0] == "warn", r.stdout      # DKIM still aligns (relaxed)
    assert "SPF of news.example.com does not authorize 192.0.2.10" in lines["news"][1]


def test_from_domain_with_adkim_strict_is_flagged(setup):
    r, lines = doctor(*setup, "strict.test")
    for cat, sub in (("tx", "mail"), ("news", "news")):
        assert lines[cat][0] == "FAIL", r.stdout
        assert "adkim=s: d=%s.strict.test is not strict.test" % sub in lines[cat][1]
        assert "aspf=s" in lines[cat][1]
    assert r.returncode != 0

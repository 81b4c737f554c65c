"""
NAME
    test_inbound_preflight - sluicectl doctor's DMARC pre-flight (milter_preflight.c)

DESCRIPTION
    For each category of a domain, will receivers see DMARC pass for a
    From on the domain, signed as the category signs and sent from its
    envelope subdomain by milter { preflight { relay_addresses } }? Every
    DNS answer of the doctor comes from a zone file (--zone, lib/dns_zone.c):
    its DKIM, MX, SPF and DMARC checks too (no lookup fails, none reaches
    a resolver).
"""
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


def doctor(conf, zone, domain):
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf, "doctor", domain, "--zone", zone,
                        "--mx", "mx.example.com"], capture_output=True, text=True, timeout=120)
    assert "lookup failed" not in r.stdout and "ERROR" not in r.stdout, r.stdout
    lines = {}
    for line in r.stdout.splitlines():
        if "(category " in line:
            status, rest = line.split(None, 1)
            lines[rest.split(")")[0].split("(category ")[1]] = (status, line)
    return r, lines


def test_category_spf_without_the_relay_address_is_flagged(setup):
    r, lines = doctor(*setup, "example.com")
    # the other checks read the zone too: its DMARC record is shown, the DKIM key is missing
    assert "DMARC p=reject" in r.stdout and "no DKIM record" in r.stdout, r.stdout
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


MILTER_CONF = """
secret_file = "%(secret)s"
domain "example.com" { dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" } }
domain "shop.test" { dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" } }
domain "ok.test" { dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" } }
category "transactional" { subdomain = "mail" }
milter {
  socket = "{socket}"  socket_mode = "0666"  redis = false  default_category = "transactional"
  inbound { dns_zone = "%(zone)s" }
  preflight { relay_addresses = {"192.0.2.10"}  reject_domains = {"shop.test"} }
}
"""

MILTER_ZONE = """
_dmarc.example.com TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
_dmarc.shop.test TXT "v=DMARC1; p=reject; adkim=s"
_dmarc.ok.test TXT "v=DMARC1; p=reject"
"""


def test_milter_preflight_logs_once_and_refuses_listed_domains():
    """Outbound through Postfix: signed as mail.<domain>; adkim=s makes receivers fail it."""
    import smtplib
    from milter_helpers import start_milter, write_conf
    env = harness.Env("preflight-milter")
    try:
        rsa, _ = harness.dkim_keypair(env, "m", "rsa")
        zone = env.file("m.zone", MILTER_ZONE)
        conf, sock = write_conf(env, MILTER_CONF % {"secret": env.secret(), "rsa": rsa, "zone": zone})
        milter, spec = start_milter(env, conf, sock)
        sink = env.sink()
        pf = env.postfix(relay=sink, milter=spec)

        def send(frm, n):
            msg = "From: %s\r\nTo: b@dest.example\r\nSubject: %d\r\n\r\nHi.\r\n" % (frm, n)
            pf.send(frm, ["b@dest.example"], msg)
        send("a@example.com", 1)
        send("a@example.com", 2)
        send("a@ok.test", 3)
        with pytest.raises(smtplib.SMTPDataError) as e:
            send("a@shop.test", 4)
        assert e.value.smtp_code == 550 and b"DMARC fail for shop.test" in e.value.smtp_error
        sink.wait(3)
        log = milter.wait_output("dmarc pre-flight")
        lines = [l for l in log.splitlines() if "dmarc pre-flight" in l]
        assert len([l for l in lines if "from domain example.com" in l]) == 1, log   # once per interval
        assert "adkim=s: d=mail.example.com is not example.com" in lines[0]
        assert "from domain example.com category transactional: receivers will see DMARC fail (1 message)" \
            in lines[0], lines
        assert not any("ok.test" in l for l in lines)
    finally:
        env.close()

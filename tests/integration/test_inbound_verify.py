"""
NAME
    test_inbound_verify - sluicectl verify: SPF, DKIM, DMARC and one A-R header

DESCRIPTION
    Every case runs the milter's own verification module through
    "sluicectl verify --zone FILE" (no DNS: the zone file answers), with
    messages signed by dkimpy, and parses the Authentication-Results value
    back to check the method the case is about, and the disposition.
"""
import subprocess

import pytest

import harness
from inbound_fixtures import BAD_IP, GOOD_IP, World, forwarded, message, parse_authres, results

AUTHSERV = "mx.sluice.test"


@pytest.fixture(scope="module")
def world():
    env = harness.Env("inbound-verify")
    try:
        yield World(env)
    finally:
        env.close()


def verify(world, msg, ip=GOOD_IP, helo="helo.test", mail_from="a@example.com", conf=None):
    argv = [harness.program("ctl", "sluicectl")]
    if conf:
        argv += ["-c", conf]
    argv += ["verify", "--zone", world.zone, "--ip", ip, "--helo", helo,
             "--mail-from", mail_from, "--authserv-id", AUTHSERV]
    r = subprocess.run(argv, input=msg, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    ar = out.split("Authentication-Results: ", 1)[1].split("\nremoved:")[0].split("\ndisposition:")[0]
    disp = out.split("disposition: ", 1)[1].strip()
    ident, items = parse_authres(ar)
    assert ident == AUTHSERV
    return items, disp, out


def spf(items, which="mailfrom"):
    return [i for i in results(items, "spf") if ("smtp." + which) in i[2]][0]


@pytest.mark.parametrize("mail_from,ip,want,why", [
    ("a@spf-pass.test", GOOD_IP, "pass", ""),
    ("a@spf-pass.test", BAD_IP, "fail", ""),
    ("a@spf-soft.test", GOOD_IP, "softfail", ""),
    ("a@spf-neutral.test", GOOD_IP, "neutral", ""),
    ("a@spf-none.test", GOOD_IP, "none", ""),
    ("a@spf-temp.test", GOOD_IP, "temperror", "DNS"),
    ("a@spf-many.test", GOOD_IP, "permerror", ""),
    ("a@spf-void.test", GOOD_IP, "permerror", "void"),
])
def test_spf_results(world, mail_from, ip, want, why):
    items, _, _ = verify(world, message(), ip=ip, mail_from=mail_from)
    r = spf(items)
    assert r[1] == want, items
    assert r[2]["smtp.mailfrom"] == mail_from
    assert why in r[3]


def test_spf_helo_checked_too(world):
    items, _, _ = verify(world, message(), ip=BAD_IP, helo="helo.test")
    assert spf(items, "helo")[1] == "fail"
    items, _, _ = verify(world, message(), ip=GOOD_IP, helo="helo.test")
    assert spf(items, "helo")[1] == "pass"


def dkim_of(items):
    return results(items, "dkim")


def test_dkim_good_rsa(world):
    items, disp, _ = verify(world, world.sign(message()), ip=BAD_IP)
    (d,) = dkim_of(items)
    assert d[1] == "pass" and d[2]["header.d"] == "example.com" and d[2]["header.s"] == "r1"
    assert d[2]["header.a"] == "rsa-sha256"
    assert results(items, "dmarc")[0][1] == "pass"      # through DKIM only: SPF failed
    assert spf(items)[1] == "fail"
    assert disp == "accept"


def test_dkim_ed25519(world):
    items, _, _ = verify(world, world.sign(message(), selector="e1", ed=True), ip=BAD_IP)
    (d,) = dkim_of(items)
    assert d[1] == "pass" and d[2]["header.a"] == "ed25519-sha256", items


def test_dkim_body_altered(world):
    msg = world.sign(message()).replace(b"Hello.", b"Hellp.")
    items, disp, _ = verify(world, msg, ip=BAD_IP)
    (d,) = dkim_of(items)
    assert d[1] == "fail" and "body hash" in d[3]
    assert results(items, "dmarc")[0][1] == "fail"
    assert disp.startswith("reject 550 5.7.1")


def test_dkim_header_altered(world):
    msg = world.sign(message()).replace(b"Subject: hello", b"Subject: hellO")
    items, _, _ = verify(world, msg, ip=BAD_IP)
    (d,) = dkim_of(items)
    assert d[1] == "fail" and "signature" in d[3], items


def test_dkim_key_missing(world):
    items, _, _ = verify(world, world.sign(message(), selector="gone"), ip=BAD_IP)
    (d,) = dkim_of(items)
    assert d[1] == "permerror" and "no key" in d[3], items


def test_dkim_key_revoked(world):
    items, _, _ = verify(world, world.sign(message(), selector="rev"), ip=BAD_IP)
    (d,) = dkim_of(items)
    assert d[1] in ("fail", "permerror") and "revoked" in d[3], items


def test_dkim_two_signatures_different_results(world):
    msg = world.sign(world.sign(message(), selector="gone"), selector="e1", ed=True)
    items, _, _ = verify(world, msg, ip=BAD_IP)
    got = sorted((d[2]["header.s"], d[1]) for d in dkim_of(items))
    assert got == [("e1", "pass"), ("gone", "permerror")], items
    assert results(items, "dmarc")[0][1] == "pass"


def test_dmarc_pass_through_spf_only(world):
    items, disp, _ = verify(world, message(), ip=GOOD_IP, mail_from="bounce@example.com")
    assert dkim_of(items)[0][1] == "none"
    dm = results(items, "dmarc")[0]
    assert dm[1] == "pass" and dm[2]["header.from"] == "example.com"
    assert disp == "accept"


def test_dmarc_fail_rejected_550(world):
    items, disp, _ = verify(world, message(), ip=BAD_IP)
    assert results(items, "dmarc")[0][1] == "fail"
    assert disp.startswith("reject 550 5.7.1 DMARC policy of example.com")


def test_strict_alignment_subdomain_fails(world):
    """From strict.test, d=mail.strict.test, adkim=s: libopendmarc passes this, we must not."""
    msg = world.sign(message(frm="a@strict.test"), domain="mail.strict.test")
    items, disp, _ = verify(world, msg, ip=BAD_IP, mail_from="a@mail.strict.test")
    assert dkim_of(items)[0][1] == "pass"
    assert results(items, "dmarc")[0][1] == "fail", items
    assert disp.startswith("reject 550")


def test_relaxed_alignment_subdomain_passes(world):
    msg = world.sign(message(), domain="mail.example.com")
    items, disp, _ = verify(world, msg, ip=BAD_IP)
    assert dkim_of(items)[0][1] == "pass"
    assert results(items, "dmarc")[0][1] == "pass", items
    assert disp == "accept"


def test_tree_walk_deep_subdomain(world):
    items, disp, _ = verify(world, message(frm="a@a.b.c.d.e.f.g.h.walk.test"), ip=BAD_IP,
                            mail_from="a@a.b.c.d.e.f.g.h.walk.test")
    dm = results(items, "dmarc")[0]
    assert dm[1] == "fail" and "p=quarantine" in dm[3], items
    assert disp.startswith("quarantine")


def test_sp_applies_to_subdomain(world):
    items, disp, _ = verify(world, message(frm="a@sub.sp.test"), ip=BAD_IP, mail_from="a@sub.sp.test")
    assert "sp=reject" in results(items, "dmarc")[0][3]
    assert disp.startswith("reject 550")
    items, disp, _ = verify(world, message(frm="a@sp.test"), ip=BAD_IP, mail_from="a@sp.test")
    assert "p=none" in results(items, "dmarc")[0][3]
    assert disp == "accept"


def test_np_applies_to_nonexistent_subdomain(world):
    items, disp, _ = verify(world, message(frm="a@ghost.np.test"), ip=BAD_IP, mail_from="a@ghost.np.test")
    assert "np=reject" in results(items, "dmarc")[0][3], items
    assert disp.startswith("reject 550")
    items, disp, _ = verify(world, message(frm="a@real.np.test"), ip=BAD_IP, mail_from="a@real.np.test")
    assert "sp=quarantine" in results(items, "dmarc")[0][3], items
    assert disp.startswith("quarantine")


@pytest.mark.parametrize("frm,extra", [
    ("a@example.com, b@evil.test", ""),
    ("a@example.com", "From: b@evil.test\r\n"),
    ("undisclosed", ""),
])
def test_several_or_no_from_addresses_refused(world, frm, extra):
    msg = world.sign(message(frm=frm, extra=extra))
    items, disp, _ = verify(world, msg, ip=GOOD_IP)
    assert results(items, "dmarc")[0][1] == "permerror", items
    assert disp.startswith("reject 550 5.7.1"), disp


def test_forged_authres_removed_others_kept(world):
    extra = ("Authentication-Results: %s; dmarc=pass header.from=example.com\r\n"
             "Authentication-Results: other.example; spf=pass\r\n"
             "Authentication-Results: (comment) %s; dkim=pass\r\n" % (AUTHSERV, AUTHSERV.upper()))
    _, _, out = verify(world, message(extra=extra), ip=BAD_IP)
    removed = [line for line in out.splitlines() if line.startswith("removed:")]
    assert removed == ["removed: Authentication-Results #1 (claims our authserv-id)",
                       "removed: Authentication-Results #3 (claims our authserv-id)"]


def test_dns_temperror_tempfails_or_accepts(world):
    items, disp, _ = verify(world, message(frm="a@dnsfail.test"), ip=BAD_IP, mail_from="a@dnsfail.test")
    assert results(items, "dmarc")[0][1] == "temperror"
    assert disp.startswith("tempfail 451 4.7.0")
    conf = world.env.file("accept.conf", 'milter { inbound { dns_error = "accept" } }\n')
    _, disp, _ = verify(world, message(frm="a@dnsfail.test"), ip=BAD_IP, mail_from="a@dnsfail.test",
                        conf=conf)
    assert disp == "accept"


def test_policy_options(world):
    conf = world.env.file("q.conf", 'milter { inbound { dmarc_reject = "quarantine" quarantine = "hold" '
                          'monitor_domains = {"mon.test"} } }\n')
    _, disp, _ = verify(world, message(), ip=BAD_IP, conf=conf)
    assert disp.startswith("quarantine (hold)")
    items, disp, _ = verify(world, message(frm="a@mon.test"), ip=BAD_IP, mail_from="a@mon.test", conf=conf)
    assert results(items, "dmarc")[0][1] == "fail" and "monitor" in results(items, "dmarc")[0][3]
    assert disp == "accept"
    conf = world.env.file("m.conf", 'milter { inbound { dmarc_reject = "monitor" } }\n')
    _, disp, _ = verify(world, message(), ip=BAD_IP, conf=conf)
    assert disp == "accept"


def test_bad_zone_file_is_a_config_error(world):
    bad = world.env.file("bad.zone", "example.com BOGUS x\n")
    r = subprocess.run([harness.program("ctl", "sluicectl"), "verify", "--zone", bad],
                       input=message(), capture_output=True, timeout=30)
    assert r.returncode == 78 and b"bad.zone:1" in r.stderr


def test_outside_values_cannot_inject_results(world):
    """A HELO or MAIL FROM holding ';' or '(' stays one quoted value."""
    items, _, out = verify(world, message(), ip=BAD_IP, helo="evil;dmarc=pass",
                           mail_from='"x;dkim=pass(" @example.com')
    assert [i[1] for i in results(items, "dmarc")] == ["fail"], out
    assert [i[1] for i in results(items, "dkim")] == ["none"], out
    assert 'smtp.helo="evil;dmarc=pass"' in out


def test_signatures_past_eight_not_evaluated(world):
    msg = message()
    for _ in range(10):
        msg = world.sign(msg, selector="gone")
    items, _, _ = verify(world, msg, ip=BAD_IP)
    assert len(dkim_of(items)) == 8


TRUSTING = 'milter { inbound { trusted_arc_sealers = {"fwd.test"} } }\n'


def test_arc_pass_from_trusted_sealer_overrides_forwarding_fail(world):
    conf = world.env.file("arc.conf", TRUSTING)
    items, disp, _ = verify(world, forwarded(world), ip=BAD_IP, conf=conf)
    assert results(items, "dkim")[0][1] == "fail"          # the footer broke it
    (arc,) = results(items, "arc")
    assert arc[1] == "pass" and arc[2]["header.d"] == "fwd.test"
    dm = results(items, "dmarc")[0]
    assert dm[1] == "fail" and "override=arc" in dm[3]
    assert disp == "accept"


def test_arc_pass_from_untrusted_sealer_does_not_override(world):
    conf = world.env.file("arc.conf", TRUSTING)
    items, disp, _ = verify(world, forwarded(world, sealer="fwd2.test"), ip=BAD_IP, conf=conf)
    assert results(items, "arc")[0][1] == "pass"
    assert "override" not in results(items, "dmarc")[0][3]
    assert disp.startswith("reject 550")


def test_arc_two_hops(world):
    conf = world.env.file("arc.conf", TRUSTING)
    items, disp, _ = verify(world, forwarded(world, hops=2), ip=BAD_IP, conf=conf)
    (arc,) = results(items, "arc")
    assert arc[1] == "pass" and "i=2" in arc[3], items
    assert disp == "accept"


@pytest.mark.parametrize("tamper", ["body", "aar", "seal-cv"])
def test_arc_chain_broken_is_fail_and_no_override(world, tamper):
    conf = world.env.file("arc.conf", TRUSTING)
    msg = forwarded(world)
    if tamper == "body":
        msg = msg + b"one more line after the seal\r\n"
    elif tamper == "aar":
        msg = msg.replace(b"dmarc=pass header.from=example.com", b"dmarc=pass header.from=examp1e.com", 1)
    else:
        msg = msg.replace(b"cv=none", b"cv=pass", 1)
    items, disp, _ = verify(world, msg, ip=BAD_IP, conf=conf)
    assert results(items, "arc")[0][1] == "fail", items
    assert disp.startswith("reject 550")


def test_arc_none_without_sets(world):
    items, _, _ = verify(world, message(), ip=GOOD_IP)
    assert results(items, "arc")[0][1] == "none"



def test_several_mailboxes_of_one_domain_evaluated_once(world):
    msg = world.sign(message(frm='a@example.com, "B" <b@example.com>'))
    items, disp, _ = verify(world, msg, ip=BAD_IP)
    dm = results(items, "dmarc")[0]
    assert dm[1] == "pass" and dm[2]["header.from"] == "example.com", items
    assert disp == "accept"
    items, disp, _ = verify(world, message(frm="a@example.com, b@example.com"), ip=BAD_IP)
    assert results(items, "dmarc")[0][1] == "fail" and disp.startswith("reject 550")

"""
NAME
    test_inbound_verify - SPF, DKIM, DMARC, ARC and one A-R header, every case three ways

DESCRIPTION
    Every case runs three times (the module's world fixture has three
    params), with messages signed by dkimpy and the zone file as DNS, and
    parses the Authentication-Results value back to check the method the
    case is about, and the disposition:
      verify      "sluicectl verify --zone FILE", the milter's own module;
      miltertest  sluice-milter driven by tests/milter/inbound_one.lua (the
                  A-R field the milter inserts; for a refusal, its log line);
      postfix     sluice-milter behind a throwaway Postfix, the client
                  speaking XCLIENT as 192.0.2.x (the A-R field of the
                  delivered copy; for a refusal, the SMTP reply and the log).
    A case with its own inbound options (conf) gets its own milter (and
    Postfix) with them.
"""
import os
import re
import smtplib
import subprocess

import pytest

import harness
from inbound_fixtures import BAD_IP, GOOD_IP, World, forwarded, message, parse_authres, results
from milter_helpers import start_milter, write_conf

AUTHSERV = "mx.sluice.test"
LUA = os.path.join(harness.SRCDIR, "tests", "milter")
MILTER_CONF = """
milter {
  socket = "{socket}"  socket_mode = "0666"  redis = false  internal_networks = {}
  inbound { verify = true  dns_zone = "%s"  authserv_id = "%s"  %s }
}
"""


@pytest.fixture(scope="module", params=["verify", "miltertest", "postfix"])
def world(request):
    env = harness.Env("inbound-verify-" + request.param)
    try:
        w = World(env)
        w.path = request.param
        w.milters, w.envs = {}, []
        w.sink = env.sink() if w.path == "postfix" else None
        yield w
    finally:
        for e in getattr(w, "envs", []):
            e.close()
        env.close()


def milter_for(world, conf):
    """The milter (and for the postfix path its Postfix) running with conf's inbound options."""
    if conf not in world.milters:
        extra = ""
        if conf:
            extra = re.search(r"inbound \{(.*)\}\s*\}\s*$", open(conf).read(), re.S).group(1)
        path, sock = write_conf(world.env, MILTER_CONF % (world.zone, AUTHSERV, extra))
        m = type("Milter", (), {})()
        m.proc, m.spec = start_milter(world.env, path, sock)
        m.hold = 'quarantine = "hold"' in extra
        m.pf = None
        if world.path == "postfix":             # one Postfix per Env: its own for each milter
            world.envs.append(harness.Env("inbound-verify-pf%d" % len(world.envs)))
            m.pf = world.envs[-1].postfix(relay=world.sink, milter=m.spec, main={
                "smtpd_authorized_xclient_hosts": "127.0.0.0/8", "mynetworks": "127.0.0.0/8 192.0.2.0/24",
                "local_header_rewrite_clients": ""})  # an MX: a From without domain stays so
        world.milters[conf] = m
    return world.milters[conf]


def log_verdict(m, before):
    """The milter's log line for the message just sent: (A-R value, disposition word, reply)."""
    def line():
        new = [l for l in m.proc.output()[before:].splitlines() if "inbound: from=<" in l]
        return new[-1] if new else None
    text = harness.wait_for(line, 30, "the milter's inbound log line")
    rest = text.split(" disposition=", 1)[1]
    disp, ar = rest.split(" ", 1)
    reply = ""
    if ' reply="' in ar:
        ar, reply = ar.rsplit(' reply="', 1)
        reply = reply[:-1]
    return ar, disp, reply


def through_miltertest(world, m, msg, ip, helo, mail_from):
    path = world.env.file("msg-%d.eml" % len(m.proc.output()), msg.decode("utf-8", "replace"))
    before = len(m.proc.output())
    r = subprocess.run(["miltertest", "-s", os.path.join(LUA, "inbound_one.lua"), "-D", "socket=" + m.spec,
                        "-D", "dir=" + LUA, "-D", "msgfile=" + path, "-D", "ip=" + ip, "-D", "helo=" + helo,
                        "-D", "mailfrom=" + mail_from], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    ar_log, disp, reply = log_verdict(m, before)
    inserted = [l[3:] for l in lines if l.startswith("ar ")]
    word = [l for l in lines if l.startswith("reply ")][0].split()[1]
    assert word == ("accept" if disp in ("accept", "quarantine") else "refused"), (lines, disp)
    if disp in ("accept", "quarantine"):
        assert len(inserted) == 1, lines      # the field is inserted: check that one
        ar = inserted[0]
    else:
        assert inserted == [], lines          # a refused message is not edited
        ar = ar_log
    if disp == "quarantine":
        assert ("quarantine" in lines) == m.hold, lines
        disp = "quarantine (hold)" if m.hold else "quarantine (header X-Sluice-Quarantine)"
    elif disp != "accept":             # the code is the milter's reply (SMFIR_REPLYCODE)
        disp = "%s %s %s" % (disp, "550" if disp == "reject" else "451", reply)
    return ar, disp, "removed" in lines


def through_postfix(world, m, msg, ip, helo, mail_from):
    before_log, before_files = len(m.proc.output()), set(world.sink.files())
    refused = None
    with smtplib.SMTP("127.0.0.1", m.pf.port, local_hostname="client.test", timeout=60) as s:
        s.ehlo()
        code, text = s.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE] HELO=%s" % (ip, helo))
        assert code == 220, text
        s.ehlo_resp = s.esmtp_features = None
        s.ehlo(helo)
        try:
            s.sendmail(mail_from, ["b@example.net"], msg)
        except smtplib.SMTPDataError as e:
            refused = (e.smtp_code, e.smtp_error.decode())
    ar_log, disp, reply = log_verdict(m, before_log)
    if refused:
        assert disp in ("reject", "tempfail") and refused[1] == reply, (refused, disp, reply)
        return ar_log, "%s %d %s" % (disp, refused[0], refused[1]), None
    if disp == "quarantine" and m.hold:
        harness.wait_for(lambda: any(q.get("queue_name") == "hold" for q in m.pf.queue()), 30, "the hold queue")
        return ar_log, "quarantine (hold)", None
    end = msg.rstrip().replace(b"\r\n", b"\n").rsplit(b"\n", 1)[-1]

    def delivered():
        new = set(world.sink.files()) - before_files
        if len(new) != 1:
            return None
        with open(new.pop(), "rb") as f:
            data = f.read()
        return data if data.rstrip().endswith(end) else None
    raw = harness.parse_sink_file(harness.wait_for(delivered, 30, "the delivered message"))[1]
    ars = harness.header_values(raw, "Authentication-Results")
    ours = [a for a in ars if parse_authres(a)[0] == AUTHSERV]
    assert len(ours) == 1, ars
    if disp == "quarantine":
        assert harness.header_values(raw, "X-Sluice-Quarantine"), raw
        disp = "quarantine (header X-Sluice-Quarantine)"
    return ours[0], disp, ars


def verify(world, msg, ip=GOOD_IP, helo="helo.test", mail_from="a@example.com", conf=None):
    """(A-R items, disposition, extra): extra is sluicectl's output, miltertest's "an A-R field was
    removed", or the A-R fields of the message Postfix delivered."""
    if world.path != "verify":
        m = milter_for(world, conf)
        how = through_miltertest if world.path == "miltertest" else through_postfix
        ar, disp, extra = how(world, m, msg, ip, helo, mail_from)
        ident, items = parse_authres(ar)
        assert ident == AUTHSERV
        return items, disp, extra
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
    _, _, out = verify(world, message(extra=extra), ip=GOOD_IP, mail_from="bounce@example.com")
    if world.path == "verify":
        removed = [line for line in out.splitlines() if line.startswith("removed:")]
        assert removed == ["removed: Authentication-Results #1 (claims our authserv-id)",
                           "removed: Authentication-Results #3 (claims our authserv-id)"]
    elif world.path == "miltertest":
        assert out is True                    # smfi_chgheader deleted an A-R field
    else:                                     # what Postfix delivered: ours and the other one
        assert len(out) == 2 and "other.example; spf=pass" in out, out
        assert not any("header.from=example.com" in a and "dmarc=pass" in a and "spf=" not in a for a in out)
        assert not any(a.lstrip().startswith("(comment)") for a in out), out


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
    if world.path != "verify":
        pytest.skip("sluicectl verify's own exit status")
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
    assert [i[2].get("smtp.helo") for i in results(items, "spf") if "smtp.helo" in i[2]] == ["evil;dmarc=pass"]


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


def test_arc_ed25519_seal_checked_by_dkimpy_too(world):
    """An Ed25519 (RFC 8463) ARC set, written by dkimpy's ARC code (inbound_fixtures.arc_seal).
    dkimpy's arc_verify allows rsa-sha256 only for ARC (its ARC_HASH_ALGORITHMS); with
    ed25519-sha256 added there, its own canonicalization and Ed25519 check (the DKIM one)
    verify the chain: the independent verdict that ours must equal, for a good and a
    tampered chain."""
    import dkim
    conf = world.env.file("arc.conf", TRUSTING)
    msg = forwarded(world, ed=True)
    head = msg.split(b"\r\n\r\n", 1)[0]
    assert b"ARC-Seal: i=1; cv=none; a=ed25519-sha256; d=fwd.test; s=e1" in head
    saved = dict(dkim.ARC_HASH_ALGORITHMS)
    dkim.ARC_HASH_ALGORITHMS[b"ed25519-sha256"] = dkim.HASH_ALGORITHMS[b"ed25519-sha256"]
    try:
        assert dkim.arc_verify(msg, dnsfunc=world.txt)[0] == b"pass"
        bad = msg.replace(b"-- footer added by the list", b"-- footer added by the lisT")
        assert dkim.arc_verify(bad, dnsfunc=world.txt)[0] == b"fail"
    finally:
        dkim.ARC_HASH_ALGORITHMS.clear()
        dkim.ARC_HASH_ALGORITHMS.update(saved)
    items, disp, _ = verify(world, msg, ip=BAD_IP, conf=conf)
    (arc,) = results(items, "arc")
    assert arc[1] == "pass" and arc[2]["header.d"] == "fwd.test", items
    assert "override=arc" in results(items, "dmarc")[0][3] and disp == "accept"
    items, disp, _ = verify(world, bad, ip=BAD_IP, conf=conf)
    assert results(items, "arc")[0][1] == "fail" and disp.startswith("reject 550"), items


@pytest.mark.parametrize("domain", ["testing.test", "pct0.test"])
def test_testing_mode_and_pct_zero_apply_the_next_lower_policy(world, domain):
    """t=y (RFC 9989) and pct=0 (RFC 7489, still honoured): a reject policy is applied as quarantine."""
    items, disp, _ = verify(world, message(frm="a@" + domain), ip=BAD_IP, mail_from="a@" + domain)
    assert results(items, "dmarc")[0][1] == "fail", items
    assert disp.startswith("quarantine"), disp


def test_psd_record_stops_the_tree_walk_at_the_public_suffix(world):
    """_dmarc.psd.test has psd=y: the organizational domain of mail.shop.psd.test is shop.psd.test.
    d=shop.psd.test aligns (relaxed); d=psd.test, the public suffix domain itself, must not."""
    frm = message(frm="a@mail.shop.psd.test")
    items, disp, _ = verify(world, world.sign(frm, domain="shop.psd.test"), ip=BAD_IP, mail_from="a@x.test")
    assert results(items, "dkim")[0][1] == "pass" and results(items, "dmarc")[0][1] == "pass", items
    assert disp == "accept"
    items, disp, _ = verify(world, world.sign(frm, domain="psd.test"), ip=BAD_IP, mail_from="a@x.test")
    assert results(items, "dkim")[0][1] == "pass" and results(items, "dmarc")[0][1] == "fail", items
    assert disp.startswith("reject 550")

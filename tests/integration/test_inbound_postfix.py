"""
NAME
    test_inbound_postfix - inbound verification through a real Postfix

DESCRIPTION
    A throwaway Postfix hands mail to sluice-milter with inbound
    verification on and the zone file as its DNS, then relays to
    smtp-sink. The test client speaks XCLIENT (Postfix trusts it from
    loopback) to appear as 192.0.2.x with HELO helo.test: an outside,
    unauthenticated client, as the milter sees it (libspf2 would pass a
    loopback client without looking). The Authentication-Results header of each delivered
    message is parsed back; refusals are checked in the SMTP reply.
    Messages are signed by dkimpy. Nothing reaches DNS.
"""
import smtplib

import pytest

import harness
from inbound_fixtures import BAD_IP, GOOD_IP, World, forwarded, message, parse_authres, results
from milter_helpers import start_milter, write_conf

AUTHSERV = "mx.sluice.test"
EXTRA_ZONE = """
pf.test TXT "v=spf1 ip4:192.0.2.1 -all"
pf.test A 192.0.2.1
_dmarc.pf.test TXT "v=DMARC1; p=reject"
r1._domainkey.pf.test TXT "%(rsa)s"
"""

CONF = """
milter {
  socket = "{socket}"  socket_mode = "0666"  redis = false
  internal_networks = {}
  inbound { verify = true  dns_zone = "%(zone)s"  authserv_id = "%(id)s" %(extra)s }
}
"""


@pytest.fixture(scope="module")
def world():
    env = harness.Env("inbound-pf")
    try:
        w = World(env)
        with open(w.zone) as f:
            rsa_txt = [line for line in f if line.startswith("r1._domainkey.example.com")][0]
        with open(w.zone, "a") as f:
            f.write(EXTRA_ZONE % {"rsa": rsa_txt.split(" TXT ", 1)[1].strip().strip('"')})
        conf, sock = write_conf(env, CONF % {"zone": w.zone, "id": AUTHSERV,
                                       "extra": 'trusted_arc_sealers = {"fwd.test"}'})
        w.milter, spec = start_milter(env, conf, sock)
        w.sink = env.sink()
        w.pf = env.postfix(relay=w.sink, milter=spec, main={
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
            "mynetworks": "127.0.0.0/8 192.0.2.0/24"})
        yield w
    finally:
        env.close()


def send(world, mail_from, data, ip=GOOD_IP):
    """One message from ip (XCLIENT) with HELO helo.test."""
    with smtplib.SMTP("127.0.0.1", world.pf.port, local_hostname="client.test", timeout=60) as s:
        s.ehlo()
        code, text = s.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE] HELO=helo.test" % ip)
        assert code == 220, text
        s.ehlo_resp = s.esmtp_features = None
        s.ehlo("helo.test")
        return s.sendmail(mail_from, ["b@example.net"], data)


def deliver(world, mail_from, data, ip=GOOD_IP):
    """Send; wait for the delivered copy; return its A-R items and the raw message."""
    before = set(world.sink.files())
    send(world, mail_from, data, ip)
    def complete():
        """The one new file, once smtp-sink has written all of it (it ends with the body)."""
        new = set(world.sink.files()) - before
        if len(new) != 1:
            return None
        with open(new.pop(), "rb") as f:
            data = f.read()
        return data if data.rstrip().endswith(data_end) else None
    data_end = data.rstrip().replace(b"\r\n", b"\n").rsplit(b"\n", 1)[-1]
    raw = harness.parse_sink_file(harness.wait_for(complete, 30, "the delivered message"))[1]
    ars = harness.header_values(raw, "Authentication-Results")
    ours = [a for a in ars if parse_authres(a)[0] == AUTHSERV]
    assert len(ours) == 1, ars
    return parse_authres(ours[0])[1], ars, raw


def test_pass_spf_and_dkim_forged_ar_removed(world):
    extra = ("Authentication-Results: %s; dmarc=pass header.from=evil.test\r\n"
             "Authentication-Results: other.example; spf=pass\r\n" % AUTHSERV)
    msg = world.sign(message(frm="a@pf.test", extra=extra), domain="pf.test")
    items, ars, _ = deliver(world, "bounce@pf.test", msg)
    assert results(items, "spf")[0][1] == "pass"
    assert results(items, "dkim")[0][1] == "pass", items
    assert results(items, "dmarc")[0][1] == "pass"
    assert not any("evil.test" in a for a in ars)          # the forged one is gone
    assert any(a.startswith("other.example;") for a in ars)  # others are kept


def test_dkim_only_pass_from_unauthorized_ip(world):
    msg = world.sign(message(frm="a@pf.test"), domain="pf.test")
    items, _, _ = deliver(world, "bounce@pf.test", msg, BAD_IP)
    assert [i[1] for i in results(items, "spf")] == ["fail", "fail"]   # mailfrom, helo (helo.test allows 192.0.2.1 only)
    assert results(items, "dkim")[0][1] == "pass"
    assert results(items, "dmarc")[0][1] == "pass"


def test_ed25519_through_postfix(world):
    msg = world.sign(message(), selector="e1", ed=True)
    items, _, _ = deliver(world, "a@example.com", msg, BAD_IP)
    assert results(items, "dkim")[0][1] == "pass" and results(items, "dkim")[0][2]["header.a"] == "ed25519-sha256"


def test_body_altered_still_dmarc_pass_through_spf(world):
    msg = world.sign(message(frm="a@pf.test"), domain="pf.test").replace(b"Hello.", b"Jello.")
    items, _, _ = deliver(world, "bounce@pf.test", msg)
    assert results(items, "dkim")[0][1] == "fail"
    assert results(items, "dmarc")[0][1] == "pass"


def test_dmarc_reject_is_550_at_end_of_data(world):
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(world, "a@example.com", message(), BAD_IP)
    assert e.value.smtp_code == 550 and b"5.7.1" in e.value.smtp_error
    assert b"DMARC policy of example.com" in e.value.smtp_error


def test_quarantine_header(world):
    items, _, raw = deliver(world, "a@walk.test", message(frm="a@walk.test",
                                                           extra="X-Sluice-Quarantine: forged\r\n"), BAD_IP)
    assert results(items, "dmarc")[0][1] == "fail"
    q = harness.header_values(raw, "X-Sluice-Quarantine")
    assert len(q) == 1 and "DMARC policy of walk.test" in q[0], q


def test_several_from_refused(world):
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(world, "a@pf.test", world.sign(message(frm="a@pf.test, b@evil.test"), domain="pf.test"))
    assert e.value.smtp_code == 550 and b"one author domain" in e.value.smtp_error


def test_arc_trusted_sealer_accepted_untrusted_refused(world):
    items, _, _ = deliver(world, "a@example.com", forwarded(world), BAD_IP)
    assert results(items, "arc")[0][1] == "pass"
    assert "override=arc" in results(items, "dmarc")[0][3]
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(world, "a@example.com", forwarded(world, sealer="fwd2.test"), BAD_IP)
    assert e.value.smtp_code == 550


def test_quarantine_hold_puts_the_message_on_hold():
    """quarantine = "hold": Postfix's hold queue (smfi_quarantine), nothing delivered."""
    env = harness.Env("inbound-hold")
    try:
        w = World(env)
        conf, sock = write_conf(env, CONF % {"zone": w.zone, "id": AUTHSERV, "extra": 'quarantine = "hold"'})
        _, spec = start_milter(env, conf, sock)
        w.sink = env.sink()
        w.pf = env.postfix(relay=w.sink, milter=spec, main={
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
            "mynetworks": "127.0.0.0/8 192.0.2.0/24"})
        send(w, "a@walk.test", message(frm="a@walk.test"), BAD_IP)
        harness.wait_for(lambda: any(q.get("queue_name") == "hold" for q in w.pf.queue()), 30,
                         "the message in the hold queue")
        assert w.sink.files() == []
        # postlogd writes the log line after the queue file moves: wait for it
        harness.wait_for(lambda: "milter triggers HOLD action" in w.pf.log(), 10,
                         "cleanup's HOLD line in Postfix's log")
    finally:
        env.close()


def test_concurrent_sessions_each_get_their_own_verdict(world):
    """8 clients at once, 32 messages: signed ones pass, forged ones get 550, none mixed up."""
    import concurrent.futures
    before = set(world.sink.files())
    good = [world.sign(message(frm="a@pf.test", subject="good %d" % i), domain="pf.test",
                       selector="r1") for i in range(16)]
    bad = [message(subject="bad %d" % i) for i in range(16)]

    def one(job):
        kind, msg = job
        try:
            send(world, "bounce@pf.test" if kind == "good" else "a@example.com", msg,
                 GOOD_IP if kind == "good" else BAD_IP)
            return kind, "sent"
        except smtplib.SMTPDataError as e:
            return kind, e.smtp_code
    jobs = [("good", m) for m in good] + [("bad", m) for m in bad]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(one, jobs))
    assert got.count(("good", "sent")) == 16 and got.count(("bad", 550)) == 16, got
    def all_written():
        new = set(world.sink.files()) - before
        return len(new) >= 16 and all(open(p, "rb").read().rstrip().endswith(b"Hello.") for p in new)
    harness.wait_for(all_written, 60, "16 complete deliveries")
    for path in set(world.sink.files()) - before:
        with open(path, "rb") as f:
            raw = harness.parse_sink_file(f.read())[1]
        ours = [a for a in harness.header_values(raw, "Authentication-Results")
                if parse_authres(a)[0] == AUTHSERV]
        items = parse_authres(ours[0])[1]
        assert [i[1] for i in results(items, "dkim")] == ["pass"], items
        assert results(items, "dmarc")[0][1] == "pass"

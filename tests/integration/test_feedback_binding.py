"""
NAME
    test_feedback_binding - bounces, complaints and unsubscribes act only on
    the recipients of the token's message

DESCRIPTION
    A real message to two recipients goes through a throwaway Postfix with
    sluice-milter to smtp-sink; its envelope sender (the b2<kid>- token)
    and List-Unsubscribe mailto (u2<kid>-) are taken from what smtp-sink
    stored, and the milter's recipient record (rcpts:<msgid>) from Redis.
    Reports written here in the form Postfix, an FBL or a reader sends
    them are piped into sluice-feedback as pipe(8) would. Checked:
      - the milter writes the record (hashes of the final recipients only),
        and tempfails a message when Redis refuses that write;
      - a DSN for a real recipient suppresses it; the same DSN naming
        another address suppresses nobody and is an "unverified" event;
      - a complaint for a non-recipient and a mailto unsubscribe from a
        non-recipient suppress nobody; from the recipient they do, and an
        unsubscribe carrying our own Authentication-Results needs an
        aligned dmarc=pass;
      - an error reply to the record lookup makes sluice-feedback exit 75;
      - an expired token (made with sluicectl token encode --day) and an
        old version 1 token suppress nobody;
      - after sluicectl secret rotate (and a milter reload) new mail is
        signed with the new key, and bounces of mail sent before the
        rotation still verify and suppress; once the old key is removed
        from the keyring they suppress nobody.
    The keyring is made by sluicectl secret init. Needs root (Postfix).
"""
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

import feedback_helpers
import harness
import token_helpers as th
from milter_helpers import milter_world, start_milter, write_conf
import keys

CONF = """
log_level = "info"
secret_file = "%(secret)s"
domain "example.com" {
  default_category = "news"
  dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" }
}
category "news" { subdomain = "news"  list_unsubscribe = true }
milter {
  socket = "{socket}"
  socket_mode = "0666"
}
feedback {
  authserv_id = "mx.sluice.test"
}
"""


def ctl(w, *args):
    return subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def world():
    with milter_world("feedback-binding") as w:
        rsa, _ = harness.dkim_keypair(w.env, "example", "rsa")
        w.secret = os.path.join(w.env.dir, "token.key")
        w.conf, sock = write_conf(w.env, CONF % {"secret": w.secret, "rsa": rsa}, redis=w.redis)
        r = ctl(w, "secret", "init")
        assert r.returncode == 0, r.stderr
        w.milter, spec = start_milter(w.env, w.conf, sock)
        w.sink = w.env.sink()
        w.pf = w.env.postfix(relay=w.sink, milter=spec)
        yield w


def send(w, rcpts):
    """One message through Postfix and the milter; returns (bounce token, unsubscribe token, msgid)."""
    subject = "t-" + uuid.uuid4().hex[:12]
    w.pf.send("shop@example.com", rcpts, ("From: shop@example.com\r\nTo: %s\r\nSubject: %s\r\n\r\nhi\r\n"
                                          % (rcpts[0], subject)).encode())

    def find():
        for envelope, raw in w.sink.messages():
            if ("Subject: " + subject).encode() in raw:
                return envelope, raw
        return None
    envelope, raw = harness.wait_for(find, 20, "message %s at smtp-sink" % subject)
    lu = harness.header_values(raw, "List-Unsubscribe")[0]
    unsub = lu.split("mailto:")[1].split("?")[0]
    bounce = envelope["mail_from"]
    return bounce, unsub, bounce.split("-")[4]


def dsn(token, *rcpts):
    """A Postfix DSN to the bounce address, one failed record per recipient."""
    records = "".join(feedback_helpers.dsn_record(
        r, "550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table" % r)
        for r in rcpts)
    return feedback_helpers.dsn(
        token, records, "This is the mail system at host mx.dest.test. Your message could not be delivered.\n",
        mta="mx.dest.test", subject="hi")


def arf(token, rcpt):
    return feedback_helpers.arf(token, rcpt, sender="fbl@isp.test", to="fbl@news.example.com",
                                subject="hi", body="hi")


def unsubscribe(token, sender, authres=None):
    head = "Authentication-Results: %s\n" % authres if authres else ""
    return ("%sFrom: Reader <%s>\nTo: %s\nSubject: unsubscribe\n\nplease\n" % (head, sender, token)).encode()


def feed(w, data, rcpt, want=0):
    r = feedback_helpers.run_feedback(w.conf, data, rcpt)
    assert r.returncode == want, r.stderr.decode(errors="replace")
    return r.stderr.decode(errors="replace")


def suppressed(w, scope, addr):
    return w.redis.cli("EXISTS", keys.supp(scope, addr)) == "1"


def events(w):
    """The events stream as dicts (redis-cli --raw: an id line, then field and value lines)."""
    out = []
    for line in w.redis.cli("XRANGE", keys.key("events"), "-", "+").split("\n"):
        if re.fullmatch(r"\d+-\d+", line):
            out.append({})
            key = None
        elif out and key is None:
            key = line
        elif out:
            out[-1][key], key = line, None
    return out


def unverified_events(w, addr):
    """The unverified events naming addr, as "token|detail"."""
    return [e.get("token", "") + "|" + e.get("detail", "") for e in events(w)
            if e.get("type") == "unverified" and e.get("recipient") == addr]


def test_record_written_per_message(world):
    w = world
    bounce, unsub, msgid = send(w, ["one@dest.test", "Two@Dest.test"])
    assert bounce.startswith("b2a-news-") and unsub.startswith("u2a-news-")
    members = sorted(w.redis.cli("SMEMBERS", keys.key("rcpts", msgid)).split("\n"))
    ring, _ = th.read_ring(w.secret)
    assert members == sorted(th.rcpt_hash(ring["a"], msgid, a) for a in ("one@dest.test", "two@dest.test"))
    assert 30 * 86400 < int(w.redis.cli("TTL", keys.key("rcpts", msgid))) <= 31 * 86400
    assert "one@dest.test" not in w.redis.cli("KEYS", "*")       # hashes only, no addresses


def test_milter_tempfails_when_redis_refuses_the_record(world):
    """Redis up but refusing writes (maxmemory, noeviction): no record, so no mail (451, retried)."""
    import smtplib
    w = world
    w.redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
    w.redis.cli("CONFIG", "SET", "maxmemory", "1")
    try:
        with pytest.raises(smtplib.SMTPDataError) as e:
            w.pf.send("shop@example.com", ["full@dest.test"],
                      b"From: shop@example.com\r\nTo: full@dest.test\r\nSubject: oom\r\n\r\nhi\r\n")
        assert e.value.smtp_code == 451, e.value
    finally:
        w.redis.cli("CONFIG", "SET", "maxmemory", "0")
    w.milter.wait_output("recipient record not written: temporary failure")
    w.milter.wait_output("OOM")


def test_suppressed_recipient_not_in_the_record(world):
    """A recipient the milter removed as suppressed did not get the message: not bound."""
    w = world
    w.redis.cli("HSET", keys.supp("global", "gone@dest.test"), "reason", "manual")
    bounce, _, msgid = send(w, ["gone@dest.test", "here@dest.test"])
    ring, _ = th.read_ring(w.secret)
    assert w.redis.cli("SMEMBERS", keys.key("rcpts", msgid)) == th.rcpt_hash(ring["a"], msgid, "here@dest.test")


def test_genuine_dsn_suppresses_its_recipient_only(world):
    w = world
    bounce, _, _ = send(w, ["real1@dest.test", "real2@dest.test"])
    feed(w, dsn(bounce, "real1@dest.test"), bounce)
    assert suppressed(w, "global", "real1@dest.test")
    assert not suppressed(w, "global", "real2@dest.test")


def test_dsn_rewritten_to_another_address_suppresses_nobody(world):
    w = world
    bounce, _, _ = send(w, ["keep1@dest.test", "keep2@dest.test"])
    feed(w, dsn(bounce, "victim@third.test"), bounce)
    assert not suppressed(w, "global", "victim@third.test")
    assert unverified_events(w, "victim@third.test"), w.redis.cli("XRANGE", keys.key("events"), "-", "+")
    # mixed: the real recipient is acted on, the stranger is not
    feed(w, dsn(bounce, "victim2@third.test", "keep2@dest.test"), bounce)
    assert suppressed(w, "global", "keep2@dest.test")
    assert not suppressed(w, "global", "victim2@third.test")
    assert unverified_events(w, "victim2@third.test")
    assert not suppressed(w, "global", "keep1@dest.test")


def test_redis_error_reply_defers(world):
    """An error reply to the record lookup (here WRONGTYPE) is Redis trouble: exit 75, nothing done."""
    w = world
    bounce, _, msgid = send(w, ["wrongtype@dest.test"])
    w.redis.cli("DEL", keys.key("rcpts", msgid))
    w.redis.cli("SET", keys.key("rcpts", msgid), "not a set")
    feed(w, dsn(bounce, "wrongtype@dest.test"), bounce, want=75)
    assert not suppressed(w, "global", "wrongtype@dest.test")


def test_complaint_bound_to_the_recipient(world):
    w = world
    bounce, _, _ = send(w, ["angry@dest.test"])
    feed(w, arf(bounce, "framed@third.test"), "fbl@news.example.com")
    assert not suppressed(w, "cat:news", "framed@third.test")
    assert unverified_events(w, "framed@third.test")
    feed(w, arf(bounce, "angry@dest.test"), "fbl@news.example.com")
    assert suppressed(w, "cat:news", "angry@dest.test")


def test_mailto_unsubscribe_bound_to_the_recipient(world):
    w = world
    _, unsub, _ = send(w, ["reader@dest.test"])
    feed(w, unsubscribe(unsub, "stranger@third.test"), unsub)
    assert not suppressed(w, "cat:news", "stranger@third.test")
    assert unverified_events(w, "stranger@third.test")
    feed(w, unsubscribe(unsub, "reader@dest.test"), unsub)
    assert suppressed(w, "cat:news", "reader@dest.test")


def test_mailto_unsubscribe_needs_aligned_dmarc_pass_in_our_authres(world):
    w = world
    _, unsub, _ = send(w, ["reader2@dest.test"])
    # our A-R says DMARC failed: a forged From, even of a real recipient
    feed(w, unsubscribe(unsub, "reader2@dest.test",
                        "mx.sluice.test; dmarc=fail (p=none) header.from=dest.test"), unsub)
    assert not suppressed(w, "cat:news", "reader2@dest.test")
    # a pass for another domain is not aligned
    feed(w, unsubscribe(unsub, "reader2@dest.test",
                        "mx.sluice.test; dmarc=pass header.from=third.test"), unsub)
    assert not suppressed(w, "cat:news", "reader2@dest.test")
    # someone else's A-R is not ours: binding alone decides
    feed(w, unsubscribe(unsub, "reader2@dest.test",
                        "mx.elsewhere.test; dmarc=pass header.from=third.test"), unsub)
    assert suppressed(w, "cat:news", "reader2@dest.test")
    _, unsub, _ = send(w, ["reader3@dest.test"])
    feed(w, unsubscribe(unsub, "reader3@dest.test",
                        "mx.sluice.test; spf=pass smtp.mailfrom=dest.test;\n dmarc=pass (p=reject) "
                        "header.from=Dest.Test"), unsub)
    assert suppressed(w, "cat:news", "reader3@dest.test")


def test_expired_token_suppresses_nobody(world):
    w = world
    _, _, msgid = send(w, ["old@dest.test"])
    r = ctl(w, "token", "encode", "--category", "news", "--msgid", msgid, "--day", th.today() - 31)
    assert r.returncode == 0, r.stderr
    old = r.stdout.strip() + "@news.example.com"
    feed(w, dsn(old, "old@dest.test"), old)
    assert not suppressed(w, "global", "old@dest.test")
    assert any("expired" in e for e in unverified_events(w, "old@dest.test"))


def test_version_1_token_suppresses_nobody(world):
    """Mail sent before the upgrade: its b1- token verifies but has no recipient record."""
    w = world
    _, _, msgid = send(w, ["legacy@dest.test"])
    r = ctl(w, "token", "encode", "--category", "news", "--msgid", msgid, "--version", "1")
    old = r.stdout.strip() + "@news.example.com"
    assert old.startswith("b1-")
    feed(w, dsn(old, "legacy@dest.test"), old)
    assert not suppressed(w, "global", "legacy@dest.test")
    assert unverified_events(w, "legacy@dest.test")


def test_rotation_keeps_old_bounces_verifying_until_the_key_is_removed(world):
    w = world
    before, _, _ = send(w, ["early1@dest.test", "early2@dest.test", "early3@dest.test"])
    assert before.startswith("b2a-")
    r = ctl(w, "secret", "rotate")
    assert r.returncode == 0, r.stderr
    w.milter.signal(signal.SIGHUP)
    harness.wait_for(lambda: "configuration reloaded" in w.milter.output(), 10, "milter reload")
    after, _, _ = send(w, ["late@dest.test"])
    assert after.startswith("b2b-")
    feed(w, dsn(before, "early1@dest.test"), before)
    assert suppressed(w, "global", "early1@dest.test")
    feed(w, dsn(after, "late@dest.test"), after)
    assert suppressed(w, "global", "late@dest.test")
    # the old key removed from the keyring: its tokens suppress nobody
    ring, _ = th.read_ring(w.secret)
    with open(w.secret) as f:
        lines = f.read().split("\n")
    with open(w.secret, "w") as f:
        f.write("\n".join(l for l in lines if not l.startswith("a ")))
    feed(w, dsn(before, "early2@dest.test"), before)
    assert not suppressed(w, "global", "early2@dest.test")
    assert any("unknown or retired key" in e for e in unverified_events(w, "early2@dest.test"))
    # and so do they once the key is retired longer ago than the lifetime
    old = int(time.time()) - 40 * 86400
    with open(w.secret, "a") as f:
        f.write("a %d %d %s\n" % (old - 86400, old, ring["a"].hex()))
    feed(w, dsn(before, "early3@dest.test"), before)
    assert not suppressed(w, "global", "early3@dest.test")

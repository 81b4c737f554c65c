"""
NAME
    test_milter_outbound - categories, tenants, tokens, RFC 8058 headers, DKIM

DESCRIPTION
    One world per module (to keep the suite fast): redis-server, smtp-sink,
    a throwaway Postfix with SASL users, and sluice-milter with three
    categories, two tenants of a mall and a SASL user described in Redis.
    Every test sends its own messages (a unique Subject) and reads what
    reached smtp-sink: envelope sender, headers, signatures. Signatures
    are checked by dkimpy (RSA and Ed25519) and Mail::DKIM (RSA), with DNS
    answered from the test's own records.
"""
import os
import smtplib
import subprocess
import uuid

import pytest

import harness
import keys
from milter_helpers import (decode_token, dkim_results, milter_world, received, start_milter,
                            start_world, write_conf)

CONF = """
secret_file = "%(secret)s"
domain "example.com" {
  default_category = "transactional"
  dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" }
  dkim "e1" { algorithm = "ed25519-sha256"  key = "%(ed)s" }
}
domain "mall.test" {
  dkim "m1" { algorithm = "rsa-sha256"  key = "%(mall)s" }
}
category "transactional" { subdomain = "mail" }
category "notification" { subdomain = "notify" }
category "marketing" {
  subdomain = "news"
  rewrite_from = true
  list_unsubscribe = true
  unsubscribe_url = "https://unsub.example.com/one-click/%%t"
  feedback_type = "promo"
  sign_parent = true
}
tenant "shop1" {
  subdomain = "shop1"
  domains = {"shop1.mall.test"}
  sasl_users = {"alice"}
  default_category = "marketing"
  sender_id = "mall-shop1"
}
tenant "shop2" {
  subdomain = "shop2"
  domains = {"shop2.mall.test"}
  sasl_users = {"bob"}
}
milter {
  socket = "{socket}"
  socket_mode = "0666"
  rule "newsletter" { sender = {"news@example.com"}  category = "marketing" }
}
"""

SASL = {"alice": "alicepw", "bob": "bobpw", "carol": "carolpw"}


@pytest.fixture(scope="module")
def world():
    with milter_world("milter-outbound") as w:
        w.redis.cli("HSET", keys.key("sasl", "carol"), "category", "notification", "tenant", "shop3",
                    "domains", "example.com, *.example.net")
        rsa, w.rsa_txt = harness.dkim_keypair(w.env, "example", "rsa")
        ed, w.ed_txt = harness.dkim_keypair(w.env, "example", "ed25519")
        mall, w.mall_txt = harness.dkim_keypair(w.env, "mall", "rsa")
        w.secret = w.env.secret()
        start_world(w, CONF % {"secret": w.secret, "rsa": rsa, "ed": ed, "mall": mall}, SASL)
        for sub in ("", "mail.", "news.", "notify."):
            w.records["r1._domainkey.%sexample.com" % sub] = w.rsa_txt
            w.records["e1._domainkey.%sexample.com" % sub] = w.ed_txt
        for sub in ("", "shop1.", "shop2."):
            w.records["m1._domainkey.%small.test" % sub] = w.mall_txt
        yield w


def send(w, mail_from, rcpts, headers, body="Hello.\r\n", auth=None):
    """Send one message with a unique Subject; returns the Subject."""
    subject = "t-" + uuid.uuid4().hex[:12]
    text = "".join("%s: %s\r\n" % kv for kv in headers)
    text += "To: %s\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\n%s" % (
        rcpts[0], subject, subject, body)
    w.pf.send(mail_from, rcpts, text.encode(), auth=auth)
    return subject


def sig_tags(raw):
    """Each DKIM-Signature as a dict of tags."""
    out = []
    for v in harness.header_values(raw, "DKIM-Signature"):
        tags = {}
        for part in v.split(";"):
            if "=" in part:
                k, val = part.split("=", 1)
                tags[k.strip()] = "".join(val.split())
        out.append(tags)
    return out


def test_rsa_and_ed25519_signatures_verify(world):
    w = world
    subj = send(w, "alice@example.com", ["rcpt@remote.test"],
                [("From", "Alice <alice@example.com>"), ("X-Sluice-Category", "transactional")])
    envelope, raw = received(w, subj)
    results = dkim_results(raw, w.records)
    assert sorted(results) == [("mail.example.com", "e1", "ed25519-sha256", True),
                               ("mail.example.com", "r1", "rsa-sha256", True)], results
    assert harness.header_values(raw, "X-Sluice-Category") == []
    assert envelope["mail_from"].startswith("b2a-transactional-_-")
    assert envelope["mail_from"].endswith("@mail.example.com")
    assert harness.header_values(raw, "List-Unsubscribe") == []
    assert harness.header_values(raw, "Feedback-ID") == ["transactional:transactional::example.com"]
    for tags in sig_tags(raw):
        signed = tags["h"].lower().split(":")
        assert signed.count("from") == 2          # oversigned
        for name in ("to", "subject", "message-id", "feedback-id"):
            assert name in signed


MAIL_DKIM = r'''
use strict; use warnings;
use Mail::DKIM::Verifier; use Net::DNS;
my %txt;
open(my $rf, '<', $ARGV[0]) or die; while (<$rf>) { chomp; my ($n, $v) = split / /, $_, 2; $txt{lc $n} = $v; }
{ no warnings 'redefine';
  *Mail::DKIM::DNS::query = sub {
    my ($name, $type) = @_; my $v = $txt{lc $name};
    return () unless defined $v && $type eq 'TXT';
    my @chunks = unpack('(A255)*', $v);
    return (Net::DNS::RR->new(name => $name, type => 'TXT', txtdata => [@chunks]));
  };
}
my $dkim = Mail::DKIM::Verifier->new();
open(my $mf, '<', $ARGV[1]) or die; binmode $mf;
while (<$mf>) { s/\r?\n\z/\r\n/; $dkim->PRINT($_); }
$dkim->CLOSE;
foreach my $sig ($dkim->signatures) {
  print join(' ', $sig->domain, $sig->selector, $sig->algorithm, $sig->result), "\n";
}
'''


def mail_dkim(w, raw):
    """Mail::DKIM's result per signature: list of (d, s, a, result)."""
    env = w.env
    script = env.file("verify-%s.pl" % uuid.uuid4().hex[:6], MAIL_DKIM)
    recs = env.file("records-%s.txt" % uuid.uuid4().hex[:6],
                    "".join("%s %s\n" % kv for kv in w.records.items()))
    msg = env.file("msg-%s.eml" % uuid.uuid4().hex[:6], raw)
    r = subprocess.run(["perl", script, recs, msg], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [tuple(line.split()) for line in r.stdout.splitlines()]


def test_rsa_verifies_with_mail_dkim(world):
    w = world
    subj = send(w, "alice@example.com", ["rcpt@remote.test"],
                [("From", "Alice <alice@example.com>"), ("X-Sluice-Category", "notification")])
    _, raw = received(w, subj)
    results = mail_dkim(w, raw)
    rsa = [r for r in results if r[2] == "rsa-sha256"]
    assert rsa == [("notify.example.com", "r1", "rsa-sha256", "pass")], results
    # notification is not configured for List-Unsubscribe
    assert harness.header_values(raw, "List-Unsubscribe") == []
    assert harness.header_values(raw, "List-Unsubscribe-Post") == []
    # A changed header breaks it for Mail::DKIM too.
    assert mail_dkim(w, raw.replace(b"Subject: t-", b"Subject: T-"))[0][3] == "fail"


def test_two_signing_domains_and_unsubscribe_headers(world):
    w = world
    subj = send(w, "alice@example.com", ["rcpt@remote.test"],
                [("From", '"Alice Shop" <alice@example.com>'), ("X-Sluice-Category", "marketing")])
    envelope, raw = received(w, subj)
    results = dkim_results(raw, w.records)
    assert sorted(results) == [("example.com", "e1", "ed25519-sha256", True),
                               ("example.com", "r1", "rsa-sha256", True),
                               ("news.example.com", "e1", "ed25519-sha256", True),
                               ("news.example.com", "r1", "rsa-sha256", True)], results
    assert [r[3] for r in mail_dkim(w, raw) if r[2] == "rsa-sha256"] == ["pass", "pass"]
    lu = harness.header_values(raw, "List-Unsubscribe")
    assert len(lu) == 1
    assert "<mailto:u2a-marketing-_-" in lu[0] and "@news.example.com?subject=unsubscribe>" in lu[0]
    assert "<https://unsub.example.com/one-click/" in lu[0]
    assert harness.header_values(raw, "List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    for tags in sig_tags(raw):
        signed = tags["h"].lower().split(":")
        assert "list-unsubscribe" in signed and "list-unsubscribe-post" in signed
        assert "feedback-id" in signed and "reply-to" in signed
    # header From moved to the category subdomain, display name kept, replies go to the author
    assert harness.header_values(raw, "From") == ['"Alice Shop" <alice@news.example.com>']
    assert harness.header_values(raw, "Reply-To") == ['"Alice Shop" <alice@example.com>']
    assert envelope["mail_from"].endswith("@news.example.com")
    assert harness.header_values(raw, "Feedback-ID") == ["promo:marketing::example.com"]
    # the https URL token decodes to the recipient
    url_token = lu[0].split("/one-click/")[1].split(">")[0]
    rc, out = decode_token(w.conf, url_token)
    assert rc == 0 and "kind=u category=marketing" in out and "rcpt=rcpt@remote.test" in out


def test_unsubscribe_url_only_for_one_recipient(world):
    w = world
    subj = send(w, "news@example.com", ["r1@remote.test", "r2@remote.test"],
                [("From", "News <news@example.com>")])
    envelope, raw = received(w, subj)
    lu = harness.header_values(raw, "List-Unsubscribe")
    assert len(lu) == 1 and "mailto:" in lu[0] and "https:" not in lu[0]
    assert harness.header_values(raw, "List-Unsubscribe-Post") == []
    assert envelope["mail_from"].startswith("b2a-marketing-")   # chosen by the rule


def test_existing_list_unsubscribe_replaced_never_two(world):
    w = world
    subj = send(w, "alice@example.com", ["rcpt@remote.test"],
                [("From", "alice@example.com"), ("X-Sluice-Category", "marketing"),
                 ("List-Unsubscribe", "<mailto:app@example.com>"),
                 ("List-Unsubscribe", "<https://app.example.com/u>")])
    _, raw = received(w, subj)
    lu = harness.header_values(raw, "List-Unsubscribe")
    assert len(lu) == 1 and "app@example.com" not in lu[0] and "u2a-marketing" in lu[0]


def test_token_decodes_and_any_changed_character_fails(world):
    w = world
    subj = send(w, "alice@example.com", ["rcpt@remote.test"],
                [("From", "alice@example.com"), ("X-Sluice-Category", "marketing")])
    envelope, _ = received(w, subj)
    local = envelope["mail_from"].split("@")[0]
    rc, out = decode_token(w.conf, envelope["mail_from"])
    assert rc == 0, out
    assert "kind=b category=marketing tenant=-" in out
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, ch in enumerate(local):
        other = alphabet[(alphabet.index(ch) + 7) % len(alphabet)] if ch in alphabet else "a"
        changed = local[:i] + other + local[i + 1:]
        rc, out = decode_token(w.conf, changed)
        assert rc != 0, "changed position %d (%s) still verifies: %s" % (i, changed, out)


def test_tenant_subdomain_and_token(world):
    w = world
    subj = send(w, "shop@shop1.mall.test", ["rcpt@remote.test"],
                [("From", "Shop One <shop@shop1.mall.test>")], auth=("alice", "alicepw"))
    envelope, raw = received(w, subj)
    assert envelope["mail_from"].startswith("b2a-marketing-shop1-")
    assert envelope["mail_from"].endswith("@shop1.mall.test")
    rc, out = decode_token(w.conf, envelope["mail_from"])
    assert rc == 0 and "category=marketing tenant=shop1" in out, out
    assert harness.header_values(raw, "Feedback-ID") == ["promo:marketing:shop1:mall-shop1"]
    results = dkim_results(raw, w.records)
    assert ("shop1.mall.test", "m1", "rsa-sha256", True) in results, results


def test_sasl_user_cannot_sign_for_another_tenant(world):
    w = world
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(w, "shop@shop2.mall.test", ["rcpt@remote.test"],
             [("From", "shop@shop2.mall.test")], auth=("alice", "alicepw"))
    assert e.value.smtp_code == 550 and b"5.7.1" in e.value.smtp_error
    assert b"shop2.mall.test" in e.value.smtp_error
    with pytest.raises(smtplib.SMTPDataError):
        send(w, "x@example.com", ["rcpt@remote.test"], [("From", "x@example.com")],
             auth=("bob", "bobpw"))
    # bob can send as his own tenant
    subj = send(w, "shop@shop2.mall.test", ["rcpt@remote.test"],
                [("From", "shop@shop2.mall.test"), ("X-Sluice-Category", "transactional")],
                auth=("bob", "bobpw"))
    envelope, raw = received(w, subj)
    assert envelope["mail_from"].startswith("b2a-transactional-shop2-")
    assert [r[3] for r in dkim_results(raw, w.records)] == [True]


def test_sasl_entry_in_redis(world):
    w = world
    subj = send(w, "carol@example.com", ["rcpt@remote.test"], [("From", "carol@example.com")],
                auth=("carol", "carolpw"))
    envelope, raw = received(w, subj)
    assert envelope["mail_from"].startswith("b2a-notification-shop3-")
    assert envelope["mail_from"].endswith("@notify.example.com")
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(w, "carol@shop1.mall.test", ["rcpt@remote.test"],
             [("From", "carol@shop1.mall.test")], auth=("carol", "carolpw"))
    assert b"5.7.1" in e.value.smtp_error


def test_message_recorded_in_redis(world):
    w = world
    subj = send(w, "alice@example.com", ["a@remote.test", "b@remote.test", "c@remote.test"],
                [("From", "alice@example.com"), ("X-Sluice-Category", "notification")])
    envelope, _ = received(w, subj)
    qid = None
    for line in w.milter.output().splitlines():
        if "sender=<%s>" % envelope["mail_from"] in line:
            qid = line.split("]: ", 1)[1].split(":")[0]
    assert qid, w.milter.output()
    rec = w.redis.cli("HGETALL", keys.key("msg", qid)).splitlines()
    rec = dict(zip(rec[::2], rec[1::2]))
    rc, out = decode_token(w.conf, envelope["mail_from"].split("@")[0])
    assert rc == 0, out
    assert rec == {"category": "notification", "tenant": "", "sasl": "",
                   "sender": envelope["mail_from"], "msgid": out.split("msgid=")[1].split()[0]}
    ttl = int(w.redis.cli("TTL", keys.key("msg", qid)))
    assert 6 * 86400 < ttl <= 7 * 86400
    import time
    day = time.strftime("%Y%m%d", time.gmtime())
    assert int(w.redis.cli("HGET", keys.key("stats", day, "-", "notification"), "sent")) >= 3


def test_unknown_category_header_uses_default(world):
    w = world
    subj = send(w, "alice@example.com", ["rcpt@remote.test"],
                [("From", "alice@example.com"), ("X-Sluice-Category", "nosuchthing")])
    envelope, raw = received(w, subj)
    assert envelope["mail_from"].startswith("b2a-transactional-")   # the domain default
    assert harness.header_values(raw, "X-Sluice-Category") == []


def test_null_sender_not_rewritten(world):
    w = world
    subj = send(w, "", ["rcpt@remote.test"],
                [("From", "alice@example.com"), ("X-Sluice-Category", "transactional")])
    envelope, raw = received(w, subj)
    assert envelope["mail_from"] == ""
    assert [r[3] for r in dkim_results(raw, w.records)] == [True, True]


def test_long_header_8bit_body_verify_after_postfix(world):
    """A 5000-character header line and an 8-bit body survive Postfix and verify."""
    w = world
    body = "Gr\u00fc\u00dfe, J\u00f6rg \u65e5\u672c\r\nno final newline"
    subject = "t-" + uuid.uuid4().hex[:12]
    text = ("From: alice@example.com\r\nTo: rcpt@remote.test\r\nSubject: %s\r\n"
            "X-Long: %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n%s" % (subject, "y" * 5000, body))
    w.pf.send("alice@example.com", ["rcpt@remote.test"], text.encode("utf-8"))
    _, raw = received(w, subject)
    assert "J\u00f6rg".encode() in raw
    results = dkim_results(raw, w.records)
    assert [r[3] for r in results] == [True, True], results


def test_ten_megabytes_verify_after_postfix(world):
    w = world
    line = "0123456789abcdef" * 4 + "\r\n"
    subject = "t-" + uuid.uuid4().hex[:12]
    text = ("From: alice@example.com\r\nTo: rcpt@remote.test\r\nSubject: %s\r\n\r\n" % subject
            + line * (10 * 1024 * 1024 // len(line)))
    w.pf.send("alice@example.com", ["rcpt@remote.test"], text.encode())
    # smtp-sink writes the file as it receives: wait until it is whole
    lines = 10 * 1024 * 1024 // len(line)
    raw = harness.wait_for(lambda: (lambda r: r if r.count(line[:64].encode()) == lines else None)(
        received(w, subject, timeout=60)[1]), 60, "the whole 10 MB message")
    assert [r[3] for r in dkim_results(raw, w.records)] == [True, True]


def test_internal_headers_removed_and_feedback_id_replaced(world):
    w = world
    subj = send(w, "alice@example.com", ["rcpt@remote.test"],
                [("From", "alice@example.com"), ("X-Sluice-Category", "notification"),
                 ("X-Sluice-Tenant", "whatever"), ("X-Sluice-Category", "marketing"),
                 ("Feedback-ID", "app:own:ids:x")])
    envelope, raw = received(w, subj)
    assert envelope["mail_from"].startswith("b2a-notification-")   # the first header counts
    assert not any(line.lower().startswith(b"x-sluice-") for line in raw.split(b"\n"))
    assert harness.header_values(raw, "Feedback-ID") == ["notification:notification::example.com"]
    assert [r[3] for r in dkim_results(raw, w.records)] == [True, True]

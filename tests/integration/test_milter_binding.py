"""
NAME
    test_milter_binding - what a SASL tenant can and cannot get signed

DESCRIPTION
    One world for the module: redis-server, smtp-sink, a throwaway Postfix
    with real SASL logins (Cyrus sasldb: alice of tenant shop1, bob of
    tenant shop2, carol known only in Redis), and sluice-milter with
    on_internal_error = accept (the setting under which Redis trouble
    used to skip the binding). Signatures are checked with dkimpy.

    - An ambiguous header From (an address as display name, an encoded-word
      decoding to one, two <...>) is refused with 5.7.1 for a SASL user;
      "Name" <addr> and =?utf-8?q?...?= <addr> (and 40 generated values
      the parser accepts) are delivered, signed for the domain Python reads
      in the delivered From.
    - A category named in X-Sluice-Category (the sender writes it) whose
      sign_domains hold the operator's domain or another tenant's gives
      the tenant no signature of that domain, only its own.
    - A NUL in the From: Postfix cuts the header there for the milter and
      the receiver alike.
    - Redis down (the last Postfix test): the config still refuses mail as another
      tenant (451 4.7.1) and a user known only in Redis (451), and still
      delivers the tenant's own mail (unsigned, the accept policy).
"""
import email
import email.policy
import os
import smtplib
import stat
import uuid

import pytest

import harness
from milter_helpers import dkim_results, milter_world, received, start_milter, start_world, write_conf
import keys

CONF = """
secret_file = "%(secret)s"
domain "example.com" {
  dkim "op1" { algorithm = "rsa-sha256"  key = "%(op)s" }
}
domain "mall.test" {
  dkim "m1" { algorithm = "rsa-sha256"  key = "%(mall)s" }
}
domain "shop2.mall.test" {
  dkim "s2" { algorithm = "rsa-sha256"  key = "%(shop2)s" }
}
category "transactional" { subdomain = "mail" }
category "opsign" { subdomain = "op"  sign_domains = {"subdomain", "example.com"} }
category "shop2sign" { sign_domains = {"subdomain", "shop2.mall.test"} }
tenant "shop1" { subdomain = "shop1"  domains = {"shop1.mall.test"}  sasl_users = {"alice"}
  default_category = "transactional" }
tenant "shop2" { subdomain = "shop2"  domains = {"shop2.mall.test"}  sasl_users = {"bob"}
  default_category = "transactional" }
milter {
  socket = "{socket}"
  socket_mode = "0666"
  on_internal_error = "accept"
}
"""

SASL = {"alice": "alicepw", "bob": "bobpw", "carol": "carolpw", "dave": "davepw"}

# dave's entry allows only shop1.mall.testx; cut at 1023 bytes it would
# read as allowing shop1.mall.test
DAVE_DOMAINS = "p" * (1023 - len(",shop1.mall.test")) + ",shop1.mall.testx"


@pytest.fixture(scope="module")
def world():
    with milter_world("milter-binding") as w:
        w.redis.cli("HSET", keys.key("sasl", "carol"), "tenant", "shop3", "domains", "shop1.mall.test")
        w.redis.cli("HSET", keys.key("sasl", "dave"), "domains", DAVE_DOMAINS)
        op, op_txt = harness.dkim_keypair(w.env, "op", "rsa")
        mall, mall_txt = harness.dkim_keypair(w.env, "mall", "rsa")
        shop2, shop2_txt = harness.dkim_keypair(w.env, "shop2", "rsa")
        w.keys = (op, mall, shop2)
        start_world(w, CONF % {"secret": w.env.secret(), "op": op, "mall": mall, "shop2": shop2}, SASL)
        for d in ("example.com", "op.example.com", "op.shop1.mall.test"):
            w.records["op1._domainkey." + d] = op_txt
        for d in ("shop1.mall.test", "mail.mall.test", "mall.test"):
            w.records["m1._domainkey." + d] = mall_txt
        for d in ("shop2.mall.test", "shop2.shop2.mall.test"):
            w.records["s2._domainkey." + d] = shop2_txt
        yield w


def send(w, from_value, auth=("alice", "alicepw"), category=None, env_from="app@shop1.mall.test"):
    """One message with a unique Subject; returns the Subject."""
    subject = "b-" + uuid.uuid4().hex[:12]
    text = "From: %s\r\nTo: rcpt@remote.test\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n" % (
        from_value, subject, subject)
    if category:
        text += "X-Sluice-Category: %s\r\n" % category
    w.pf.send(env_from, ["rcpt@remote.test"], (text + "\r\nHello.\r\n").encode(), auth=auth)
    return subject


def refused(w, from_value, **kw):
    """The SMTP error of a message the milter refuses."""
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(w, from_value, **kw)
    return e.value.smtp_code, e.value.smtp_error.decode()


def python_from_domain(raw):
    """The domain of the one From address Python reads in a delivered message."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    addrs = msg["From"].addresses
    assert len(addrs) == 1, addrs
    return addrs[0].domain.lower()


@pytest.mark.parametrize("value", [
    "ceo@shop2.mall.test <a@shop1.mall.test>",
    "=?utf-8?q?ceo=40shop2.mall.test?= <a@shop1.mall.test>",
    '"ceo@shop2.mall.test" <a@shop1.mall.test>',
    "Shop <a@shop1.mall.test> <b@shop2.mall.test>",
    "a@shop1.mall.test (ceo@shop2.mall.test)",
    # (A source route is refused too, tests/unit/test_milter_headers.c, but
    # Postfix strips it from a local client's headers before the milter.)
])
def test_ambiguous_from_refused_for_sasl_user(world, value):
    code, text = refused(world, value)
    assert code == 550 and "5.7.1" in text and "ambiguous From header field" in text, (code, text)


@pytest.mark.parametrize("value", [
    '"Shop One" <a@shop1.mall.test>',
    "Shop One <a@shop1.mall.test>",
    "a@shop1.mall.test",
    "=?utf-8?q?Caf=C3=A9_One?= <a@shop1.mall.test>",
])
def test_normal_from_accepted_and_signed_for_what_python_reads(world, value):
    w = world
    _, raw = received(w, send(w, value))
    results = dkim_results(raw, w.records)
    assert results == [("shop1.mall.test", "m1", "rsa-sha256", True)], results
    assert python_from_domain(raw) == "shop1.mall.test"


def test_generated_accepted_froms_delivered_as_signed(world):
    """40 generated From values the milter accepts (test_milter_from.py's
    words), sent through Postfix: Python reads the delivered From on the
    domain of the only signature, and the milter refused nothing it accepts."""
    import random
    import test_milter_from as tf
    w = world
    rng = random.Random(8463)
    values = ["%s <a@shop1.mall.test>" % " ".join(rng.choice(tf.WORDS) for _ in range(rng.randint(1, 3)))
              for _ in range(400)]
    accepted = [v for v, (kind, _) in zip(values, tf.probe(values)) if kind == "OK"][:40]
    assert len(accepted) == 40
    for value in accepted:
        _, raw = received(w, send(w, value))
        assert python_from_domain(raw) == "shop1.mall.test", value
        assert [r[0] for r in dkim_results(raw, w.records) if r[3]] == ["shop1.mall.test"], value


def test_nul_in_from_cut_alike_for_milter_and_receiver(world):
    """Postfix cuts a header at a NUL byte before the milter sees it and
    delivers it cut the same way: the signed domain is the one delivered."""
    w = world
    subject = "n-" + uuid.uuid4().hex[:12]
    w.pf.send("app@shop1.mall.test", ["rcpt@remote.test"],
              b"From: a@shop1.mall.test\x00ceo@shop2.mall.test\r\nTo: rcpt@remote.test\r\n"
              b"Subject: " + subject.encode() + b"\r\n\r\nHello.\r\n", auth=("alice", "alicepw"))
    _, raw = received(w, subject)
    assert b"shop2" not in raw
    assert python_from_domain(raw) == "shop1.mall.test"
    assert [r[0] for r in dkim_results(raw, w.records)] == ["shop1.mall.test"]


def test_internal_client_ambiguous_from_leaves_unsigned(world):
    w = world
    _, raw = received(w, send(w, "ceo@shop2.mall.test <a@shop1.mall.test>", auth=None))
    assert dkim_results(raw, w.records) == []
    w.milter.wait_output("ambiguous From header field (unquoted")


def test_category_header_cannot_get_the_operators_signature(world):
    w = world
    _, raw = received(w, send(w, "Shop <a@shop1.mall.test>", category="opsign"))
    results = dkim_results(raw, w.records)
    assert not [r for r in results if r[0] == "example.com"], results
    assert results == [("shop1.mall.test", "m1", "rsa-sha256", True)], results
    w.milter.wait_output("sasl user alice: no signature for d=example.com (category opsign)")


def test_category_header_cannot_get_another_tenants_signature(world):
    w = world
    _, raw = received(w, send(w, "Shop <a@shop1.mall.test>", category="shop2sign"))
    results = dkim_results(raw, w.records)
    assert not [r for r in results if r[0] == "shop2.mall.test"], results
    assert results == [("shop1.mall.test", "m1", "rsa-sha256", True)], results


def test_operator_category_still_signs_for_internal_client(world):
    """The same category from an internal client (no SASL) keeps both signatures."""
    w = world
    _, raw = received(w, send(w, "Ops <ops@example.com>", auth=None, category="opsign",
                              env_from="ops@example.com"))
    results = sorted(dkim_results(raw, w.records))
    assert results == [("example.com", "op1", "rsa-sha256", True),
                       ("op.example.com", "op1", "rsa-sha256", True)], results


def test_oversized_redis_entry_is_an_error_not_cut(world):
    """A domains field longer than the milter holds is Redis trouble (here
    accept, and dave is in no config tenant: 451), never a cut list."""
    code, text = refused(world, "d@shop1.mall.test", auth=("dave", "davepw"))
    assert code == 451 and "cannot check what user dave may send" in text, (code, text)
    world.milter.wait_output("redis HGETALL %s: field domains too long" % keys.key("sasl", "dave"))


def test_redis_down_still_enforces_binding_from_config(world):
    """Last in the module: Redis stops. alice as shop2 and carol (known only
    in Redis) are deferred; alice as shop1 and an internal client deliver."""
    w = world
    w.redis.stop()
    try:
        code, text = refused(w, "x@shop2.mall.test")
        assert code == 451 and "4.7.1 user alice may not send mail from domain shop2.mall.test" in text
        code, text = refused(w, "c@shop1.mall.test", auth=("carol", "carolpw"))
        assert code == 451 and "4.7.1 cannot check what user carol may send" in text, text
        code, text = refused(w, "ceo@shop2.mall.test <a@shop1.mall.test>")
        assert code == 550 and "ambiguous" in text
        _, raw = received(w, send(w, "Shop <a@shop1.mall.test>"))
        assert dkim_results(raw, w.records) == []       # on_internal_error = accept: unsigned
        assert harness.header_values(raw, "X-Sluice-Category") == []
        _, raw = received(w, send(w, "Ops <ops@example.com>", auth=None, env_from="ops@example.com"))
        assert [r[3] for r in dkim_results(raw, w.records)] == [True]
        w.milter.wait_output("accepted unsigned (on_internal_error = accept)")
    finally:
        w.redis.start()


def test_default_socket_mode_is_0660(world):
    """Without socket_mode the unix socket is 0660: Postfix (in the service
    user's group) can reach it, other local users cannot forge SASL logins."""
    w = world
    text = CONF.replace('socket_mode = "0666"', "") % {
        "secret": w.env.secret("s2.key"), "op": w.keys[0], "mall": w.keys[1], "shop2": w.keys[2]}
    conf, sock = write_conf(w.env, text)
    start_milter(w.env, conf, sock)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660

"""
NAME
    test_policyd_suppress - suppression at RCPT through Postfix, per tenant scope

DESCRIPTION
    Two tenants, each with a SASL user (sluice:sasl:<user> in Redis; the
    SMTP client sets the SASL login with XCLIENT, see test_policyd_util). A
    recipient suppressed in tenant t1's scope is rejected at RCPT for t1's
    user with its reason; the same address is accepted for t2's user,
    whose scope does not list it, and the answer never shows t1's data.
    Also: the global scope, +tag and case forms, tenant status (paused
    defers, suspended rejects) and DISCARD scopes.
"""
from test_policyd_util import start_policyd, policy_query, send_as, XCLIENT_MAIN
import keys


def sasl_entries(redis):
    # Postfix reports the user with the SASL realm; write both spellings.
    for user, tenant in (("alice", "t1"), ("bob", "t2")):
        for name in (user, user + "@sluice.test"):
            redis.cli("HSET", keys.key("sasl", name), "tenant", tenant, "category", "news",
                      "domains", "shop.test")


def send(pf, user, rcpts):
    """(accepted recipients, {refused rcpt: (code, text)}) as a SASL user."""
    return send_as(pf, user, "a@shop.test", rcpts)


def test_suppressed_in_own_tenant_only(root_env):
    env = root_env
    redis = env.redis()
    sink = env.sink()
    sasl_entries(redis)
    redis.cli("HSET", keys.supp("tenant:t1", "gone@dest.test"), "reason", "hard-bounce",
              "source", "test", "added", "1700000000", "detail", "550 5.1.1 t1-private-detail")
    redis.cli("HSET", keys.supp("global", "blocked@dest.test"), "reason", "manual", "source", "test")
    redis.cli("HSET", keys.supp("cat:news", "unsub@dest.test"), "reason", "unsubscribe")
    proc, sock, _ = start_policyd(env, redis)
    pf = env.postfix(relay=sink, policy="unix:%s" % sock, main=XCLIENT_MAIN)

    ok, refused = send(pf, "alice", ["gone@dest.test", "Gone+promo@DEST.test", "fine@dest.test"])
    assert ok == ["fine@dest.test"]
    code, text = refused["gone@dest.test"]
    assert code == 550 and "5.1.1" in text and "hard-bounce" in text, text
    assert refused["Gone+promo@DEST.test"][0] == 550
    # bob is tenant t2: t1's suppression does not apply, and nothing of t1 leaks
    ok, refused = send(pf, "bob", ["gone@dest.test"])
    assert ok == ["gone@dest.test"] and refused == {}
    # global applies to everyone, the category scope to the user's category
    for user in ("alice", "bob"):
        ok, refused = send(pf, user, ["blocked@dest.test", "unsub@dest.test"])
        assert ok == [], refused
        assert "manual" in refused["blocked@dest.test"][1]
        assert "unsubscribe" in refused["unsub@dest.test"][1]
        assert "t1-private-detail" not in str(refused)
    sink.wait(2)
    delivered = sorted(r for e, _ in sink.messages() for r in e["rcpts"])
    assert delivered == ["fine@dest.test", "gone@dest.test"]


def test_tenant_status_and_discard(env):
    redis = env.redis()
    redis.cli("HSET", keys.key("sasl", "carol"), "tenant", "t3", "category", "news")
    proc, sock, _ = start_policyd(env, redis, 'discard_scopes = { "category" }\n')
    q = {"sasl_username": "carol", "recipient": "x@dest.test"}
    assert policy_query(sock, q) == "DUNNO"
    redis.cli("HSET", keys.key("tenant", "t3"), "status", "paused", "status_reason", "bounce rate 9%")
    import time
    import harness
    # the SASL entry cache lives a second: asked until carol's tenant is read
    a = harness.wait_for(lambda: (lambda a: a.startswith("DEFER_IF_PERMIT") and a)(policy_query(sock, q)),
                         10, "tenant t3 paused")
    assert a.startswith("DEFER_IF_PERMIT 4.7.1") and "paused" in a and "bounce rate 9%" in a, a
    redis.cli("HSET", keys.key("tenant", "t3"), "status", "suspended")
    a = policy_query(sock, q)
    assert a.startswith("REJECT 5.7.1") and "suspended" in a, a
    redis.cli("HSET", keys.key("tenant", "t3"), "status", "active")
    assert policy_query(sock, q) == "DUNNO"
    redis.cli("HSET", keys.supp("cat:news", "x@dest.test"), "reason", "complaint")
    a = policy_query(sock, q)
    assert a.startswith("DISCARD") and "complaint" in a, a
    # an entry whose expires has passed no longer applies (even without a TTL)
    redis.cli("HSET", keys.supp("global", "old@dest.test"), "reason", "manual",
              "expires", str(int(time.time()) - 10))
    assert policy_query(sock, {"recipient": "old@dest.test"}) == "DUNNO"
    redis.cli("HSET", keys.supp("global", "old@dest.test"), "expires", str(int(time.time()) + 3600))
    assert policy_query(sock, {"recipient": "old@dest.test"}).startswith("550 5.7.1 Suppressed: manual")
    # monitor mode for the tenant: DUNNO, but counted
    redis.cli("HSET", keys.key("mode"), "tenant:t3", "monitor")
    harness.wait_for(lambda: policy_query(sock, q) == "DUNNO", 10, "monitor mode for t3")
    proc.wait_output("monitor: suppressed")


def test_trailing_dot_and_idna_forms(root_env):
    """Issue 10: user@dest.test. is the suppressed user@dest.test (Postfix
    delivers it there), and a U-label domain (SMTPUTF8) is its A-label."""
    import smtplib
    env = root_env
    redis = env.redis()
    sink = env.sink()
    sasl_entries(redis)
    redis.cli("HSET", keys.supp("global", "gone@dest.test"), "reason", "hard-bounce", "source", "test")
    redis.cli("HSET", keys.supp("global", "user@xn--bcher-kva.example"), "reason", "complaint",
              "source", "test")
    proc, sock, _ = start_policyd(env, redis)
    pf = env.postfix(relay=sink, policy="unix:%s" % sock,
                     main=dict(XCLIENT_MAIN, smtputf8_enable="yes"))
    ok, refused = send(pf, "alice", ["gone@dest.test.", "fine@dest.test"])
    assert ok == ["fine@dest.test"], refused
    assert refused["gone@dest.test."][0] == 550 and "hard-bounce" in refused["gone@dest.test."][1]
    with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="client.sluice.test", timeout=60) as s:
        s.ehlo()
        assert s.docmd("XCLIENT", "LOGIN=alice")[0] == 220
        s.ehlo_resp = None
        s.ehlo()
        assert s.has_extn("smtputf8")
        assert s.mail("a@shop.test", ["SMTPUTF8"])[0] == 250
        code, text = s.rcpt("user@bücher.example")
        assert code == 550 and b"complaint" in text, (code, text)
        s.rset()

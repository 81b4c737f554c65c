"""
NAME
    test_feedback_postfix - a real bounce through a throwaway Postfix into sluice-feedback

DESCRIPTION
    A message whose envelope sender is a signed bounce address
    (b2a-<token>@bounce.sluice.test, minted here as sluice-milter would,
    with the recipient record sluice-milter writes)
    goes through Postfix to smtp-sink, which rejects every recipient with
    550 5.1.1. Postfix's own bounce goes back to the token address, which
    transport_maps route to sluice-feedback as a pipe(8) transport
    (contrib/postfix/feedback-master.cf). Checked:
      - the recipient ends up in sluice:supp:global:<address>, and the
        next message to it is rejected at RCPT by sluice-policyd;
      - with redis-server stopped, sluice-feedback exits 75, the bounce
        stays in Postfix's queue, and it is processed once Redis is back;
      - the same with Redis up but refusing writes (at maxmemory with
        noeviction): the error reply is an error, not a success.
    Each recipient is recorded as one of its message's recipients the way
    sluice-milter does (token_helpers.bind), or the bounce would suppress
    nobody.
    Needs root (Postfix).
"""
import os
import pwd
import smtplib
import time

import harness
import token_helpers
from test_feedback_effects import mint
from test_policyd_util import start_policyd
import keys

SINK_REPLY = "550 5.1.1 Recipient address rejected: User unknown in local recipient table"


def feedback_postfix(env, redis, policy=None, main_extra=None):
    """sluice.conf for sluice-feedback (run as nobody by pipe) and a Postfix routing bounces to it."""
    secret_path = env.secret("feedback.key")
    nobody = pwd.getpwnam("nobody")
    os.chown(secret_path, nobody.pw_uid, nobody.pw_gid)
    with open(secret_path, "rb") as f:
        secret = f.read().rstrip(b"\n")
    conf = env.file("feedback.conf", redis.conf_section()
                    + 'secret_file = "%s"\nfeedback {\n}\n' % secret_path)
    exe = harness.program("feedback", "sluice-feedback")
    sink = env.sink("-f", "RCPT", "-B", SINK_REPLY)
    master = ["sluice-feedback/unix=sluice-feedback unix - n n - 10 pipe flags=Rq user=nobody "
              "argv=%s -c %s ${recipient}" % (exe, conf)]
    main = {"transport_maps": "inline:{ bounce.sluice.test=sluice-feedback: }",
            "sluice-feedback_destination_recipient_limit": "1"}
    main.update(main_extra or {})
    pf = env.postfix(relay=sink, policy=policy, main=main, master=master)
    return pf, secret


def send(pf, sender, rcpt):
    try:
        pf.send(sender, [rcpt], b"Subject: hello\r\nFrom: shop@shop.test\r\n\r\nhi\r\n")
        return None
    except smtplib.SMTPRecipientsRefused as e:
        return e.recipients[rcpt]


def test_bounce_suppresses_and_policyd_rejects(root_env):
    env = root_env
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis)
    pf, secret = feedback_postfix(env, redis, policy="unix:%s" % sock)
    token = mint(secret, category="news", tenant="shop1") + "@bounce.sluice.test"
    token_helpers.bind(redis, secret, "abcd2345", ["gone@dest.test"])
    assert send(pf, token, "gone@dest.test") is None
    key = keys.supp("global", "gone@dest.test")
    try:
        harness.wait_for(lambda: redis.cli("EXISTS", key) == "1", 60, "suppression entry")
    except TimeoutError:
        raise AssertionError("no suppression; postfix log:\n" + pf.log()[-4000:])
    entry = redis.cli("HGET", key, "reason")
    assert entry == "hard-bounce", entry
    entry = redis.cli("HGET", key, "bounce_reason")
    assert entry == "userunknown", entry
    # Postfix logs the pipe delivery after sluice-feedback exited (after its Redis writes)
    harness.wait_for(lambda: "status=sent" in pf.log() and "sluice-feedback" in pf.log(), 30,
                     "the delivery to sluice-feedback logged")
    stats = redis.cli("HGET", keys.key("stats", time.strftime("%Y%m%d", time.gmtime()), "shop1", "news"),
                      "hard")
    assert stats == "1"
    # the next message to that address is refused at RCPT by sluice-policyd
    refused = send(pf, "shop@shop.test", "gone@dest.test")
    assert refused is not None and 500 <= refused[0] < 600, refused
    assert b"suppressed" in refused[1].lower(), refused


def deferred_by_feedback(pf):
    """Postfix deferred a bounce to a b2a- address through sluice-feedback; it is still queued."""
    return ("status=deferred" in pf.log() and "sluice-feedback" in pf.log()
            and any(r["address"].startswith("b2a-") for q in pf.queue()
                    for r in q.get("recipients", [])))


def test_redis_down_keeps_bounce_queued(root_env):
    env = root_env
    redis = env.redis()
    pf, secret = feedback_postfix(env, redis)
    redis.stop()
    token = mint(secret, category="news", tenant="shop1", msgid="zzzz2345") + "@bounce.sluice.test"
    assert send(pf, token, "late@dest.test") is None
    try:
        harness.wait_for(lambda: deferred_by_feedback(pf), 60, "bounce deferred by sluice-feedback")
    except TimeoutError:
        raise AssertionError("bounce not deferred; postfix log:\n" + pf.log()[-4000:])
    redis.start()               # empty: it keeps nothing on disk
    token_helpers.bind(redis, secret, "zzzz2345", ["late@dest.test"])
    pf.flush()
    key = keys.supp("global", "late@dest.test")
    harness.wait_for(lambda: redis.cli("EXISTS", key) == "1", 60, "suppression after Redis is back")
    harness.wait_for(lambda: not pf.queue(), 30, "empty queue")


def test_redis_at_maxmemory_keeps_bounce_queued(root_env):
    # Redis is up and answers, but every write is refused with -OOM
    # (maxmemory with the default noeviction policy): the bounce must stay
    # queued, and be applied once, when Redis accepts writes again.
    env = root_env
    redis = env.redis()
    pf, secret = feedback_postfix(env, redis)
    token_helpers.bind(redis, secret, "oomm2345", ["full@dest.test"])
    assert redis.cli("CONFIG", "GET", "maxmemory-policy").split("\n")[1] == "noeviction"
    redis.cli("CONFIG", "SET", "maxmemory", "1")
    token = mint(secret, category="news", tenant="shop1", msgid="oomm2345") + "@bounce.sluice.test"
    assert send(pf, token, "full@dest.test") is None
    try:
        harness.wait_for(lambda: deferred_by_feedback(pf), 60, "bounce deferred by sluice-feedback")
    except TimeoutError:
        raise AssertionError("bounce not deferred; postfix log:\n" + pf.log()[-4000:])
    key = keys.supp("global", "full@dest.test")
    assert redis.cli("EXISTS", key) == "0"
    assert redis.cli("KEYS", keys.pattern("stats")) == "" and redis.cli("EXISTS", keys.key("events")) == "0"
    redis.cli("CONFIG", "SET", "maxmemory", "0")
    pf.flush()
    harness.wait_for(lambda: redis.cli("EXISTS", key) == "1", 60, "suppression once Redis takes writes")
    harness.wait_for(lambda: not pf.queue(), 30, "empty queue")
    day = time.strftime("%Y%m%d", time.gmtime())
    assert redis.cli("HGET", keys.key("stats", day, "shop1", "news"), "hard") == "1"

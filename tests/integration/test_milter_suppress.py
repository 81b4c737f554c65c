"""
NAME
    test_milter_suppress - suppressed recipients removed or refused at end of message

DESCRIPTION
    sluice-policyd checks suppression at RCPT, before the message's
    category is known; sluice-milter checks every recipient again at end
    of message in the scopes of the message (global, cat:<category>,
    tenant:<its tenant>). Through a throwaway Postfix (no policy service,
    so whatever is removed or refused here is the milter's doing), a real
    Redis and smtp-sink:
      - a category-scoped entry removes that recipient from a marketing
        message (smfi_delrcpt) while the others get it, signatures intact;
        a transactional message to the same recipient is delivered;
      - every form policyd tries (case, +tag), expired entries ignored,
        another tenant's list never read;
      - all recipients suppressed: 550 5.7.1 at end of data, nothing queued;
      - the whole loop: one-click POST to sluice-policyd with the token
        of a delivered newsletter, then the next newsletter is refused;
      - Redis down: suppression_fail = accept delivers, tempfail gives 451.
"""
import re
import smtplib
import subprocess
import time
import urllib.request
import uuid

import pytest

import conftest
import harness
from milter_helpers import dkim_results, start_milter, write_conf
from milter_helpers import received as delivered
import keys

CONF = """
log_level = "info"
secret_file = "%(secret)s"
domain "example.com" {
  default_category = "transactional"
  dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" }
}
category "transactional" { subdomain = "mail" }
category "marketing" {
  subdomain = "news"
  list_unsubscribe = true
  unsubscribe_url = "https://unsub.example.com/u/%%t"
}
tenant "shop1" { domains = {"shop1.example.com"}  sasl_users = {"alice"} }
tenant "shop2" { domains = {"shop2.example.com"}  sasl_users = {"bob"} }
milter {
  socket = "{socket}"
  socket_mode = "0666"
%(milter)s
}
policyd {
  listen = { "unix:%(psock)s" }
  timeout = 5000          # not the 100 ms default, which fails open on a loaded machine (test_policyd_util)
  http_listen = "127.0.0.1:%(http)d"
}
"""

SASL = {"alice": "alicepw", "bob": "bobpw"}


class World:
    pass


def make_world(env, milter_opts="", policyd=False):
    """redis, smtp-sink, sluice-milter (and sluice-policyd), Postfix with the milter only."""
    w = World()
    w.env = env
    w.redis = env.redis()
    rsa, w.rsa_txt = harness.dkim_keypair(env, "example", "rsa")
    w.http = harness.free_port()
    psock = "%s/policyd-%s.sock" % (env.dir, uuid.uuid4().hex[:6])
    w.conf, sock = write_conf(env, CONF % {"secret": env.secret(), "rsa": rsa, "milter": milter_opts,
                                           "psock": psock, "http": w.http}, redis=w.redis)
    if policyd:
        w.policyd = env.daemon("sluice-policyd", [harness.program("policyd", "sluice-policyd"),
                                                  "-f", "-c", w.conf],
                               ready=lambda: harness.can_connect(("127.0.0.1", w.http)))
    w.milter, spec = start_milter(env, w.conf, sock)
    w.sink = env.sink()
    w.pf = env.postfix(relay=w.sink, milter=spec, sasl_users=SASL)
    w.records = {"r1._domainkey.%sexample.com" % s: w.rsa_txt for s in ("", "mail.", "news.")}
    return w


@pytest.fixture(scope="module")
def world():
    conftest.require_root()
    env = harness.Env("milter-suppress")
    try:
        yield make_world(env, policyd=True)
    finally:
        env.close()


def send(w, rcpts, category=None, sender="app@example.com", auth=None):
    """One message with a unique Subject; returns (subject, None) or (subject, (code, text))."""
    subject = "s-" + uuid.uuid4().hex[:12]
    hdr = "X-Sluice-Category: %s\r\n" % category if category else ""
    text = ("From: App <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@app.test>\r\n%s\r\n"
            "Hello.\r\n" % (sender, rcpts[0], subject, subject, hdr))
    try:
        w.pf.send(sender, rcpts, text.encode(), auth=auth)
        return subject, None
    except smtplib.SMTPDataError as e:
        return subject, (e.smtp_code, e.smtp_error.decode())


def all_delivered(w, subject):
    """Every copy with this Subject at smtp-sink, once Postfix's queue is empty (no copy to come)."""
    delivered(w, subject)
    harness.wait_for(lambda: w.pf.queue() == [], 60, "Postfix's queue to drain")
    return [(e, raw) for e, raw in w.sink.messages() if ("Subject: " + subject).encode() in raw]


def supp(w, scope, addr, reason="unsubscribe", **extra):
    w.redis.cli("HSET", keys.supp(scope, addr), "reason", reason, "source", "test",
                "added", int(time.time()), *[x for kv in extra.items() for x in kv])


def milter_log(w):
    return w.milter.output()


def stats(w, tenant="-", category="-"):
    key = keys.key("stats", time.strftime("%Y%m%d", time.gmtime()), tenant, category)
    flat = w.redis.cli("HGETALL", key).split("\n")
    return dict(zip(flat[0::2], flat[1::2]))


def events(w):
    """The sluice:events entries as dicts (redis-cli --raw flattens them: id, field, value, ...)."""
    out = subprocess.run(["redis-cli", "-s", w.redis.sock, "--raw", "XRANGE", keys.key("events"),
                          "-", "+"], capture_output=True, text=True).stdout.split("\n")
    evs, i = [], 0
    while i < len(out):
        if re.fullmatch(r"\d+-\d+", out[i]):
            evs.append({})
            i += 1
        elif evs and i + 1 < len(out):
            evs[-1][out[i]] = out[i + 1]
            i += 2
        else:
            i += 1
    return evs


def test_category_entry_removes_only_that_recipient(world):
    w = world
    supp(w, "cat:marketing", "gone@dest.test")
    before = int(stats(w, category="marketing").get("suppressed", "0"))
    subj, err = send(w, ["stay@dest.test", "gone@dest.test", "other@dest.test"], "marketing")
    assert err is None
    copies = all_delivered(w, subj)
    rcpts = sorted(r for e, _ in copies for r in e["rcpts"])
    assert rcpts == ["other@dest.test", "stay@dest.test"], rcpts
    for _, raw in copies:   # headers unchanged by the removal: signatures verify
        assert [ok for *_, ok in dkim_results(raw, w.records)] == [True]
    assert "suppressed: rcpt=<gone@dest.test> scope=cat:marketing reason=unsubscribe: " \
        "recipient removed" in milter_log(w)
    st = stats(w, category="marketing")
    assert int(st["suppressed"]) == before + 1
    ev = [e for e in events(w) if e.get("recipient") == "gone@dest.test"]
    assert ev and ev[-1]["type"] == "suppressed" and ev[-1]["kind"] == "milter"
    assert ev[-1]["source"] == "milter" and ev[-1]["detail"] == "cat:marketing"
    assert ev[-1]["reason"] == "unsubscribe" and ev[-1]["category"] == "marketing"

    # the same recipient still gets transactional mail
    subj, err = send(w, ["gone@dest.test"], "transactional")
    assert err is None
    envelope, _ = delivered(w, subj)
    assert envelope["rcpts"] == ["gone@dest.test"]


def test_address_forms_expiry_and_tenant_isolation(world):
    w = world
    supp(w, "cat:marketing", "mixed@dest.test")                    # lowercased, no tag
    supp(w, "cat:marketing", "old@dest.test", expires=str(int(time.time()) - 10))
    supp(w, "global", "Exact@dest.test", reason="manual")          # as written
    supp(w, "tenant:shop1", "t1@dest.test", reason="complaint")
    supp(w, "tenant:shop2", "t2@dest.test", reason="complaint")   # another tenant's list
    subj, err = send(w, ["Mixed+News@Dest.TEST", "old@dest.test", "Exact@dest.test",
                         "t1@dest.test", "t2@dest.test", "keep@dest.test"], "marketing",
                     sender="alice@shop1.example.com", auth=("alice", "alicepw"))
    assert err is None
    rcpts = sorted(r for e, _ in all_delivered(w, subj) for r in e["rcpts"])
    assert rcpts == ["keep@dest.test", "old@dest.test", "t2@dest.test"], rcpts
    log = milter_log(w)
    assert "rcpt=<Mixed+News@dest.test> scope=cat:marketing reason=unsubscribe" in log
    assert "rcpt=<Exact@dest.test> scope=global reason=manual" in log
    assert "rcpt=<t1@dest.test> scope=tenant:shop1 reason=complaint" in log
    assert "shop2" not in log
    assert "rcpts=3" in [l for l in log.splitlines() if "outbound:" in l and "tenant=shop1" in l][-1]


def test_all_suppressed_refused_with_550(world):
    w = world
    supp(w, "cat:marketing", "a1@dest.test")
    supp(w, "global", "a2@dest.test", reason="hard-bounce")
    subj, err = send(w, ["a1@dest.test", "a2@dest.test"], "marketing")
    assert err is not None and err[0] == 550, err
    assert err[1].startswith("5.7.1 All 2 recipients are suppressed:"), err
    assert "unsubscribe (category list)" in err[1] and "hard-bounce (global list)" in err[1]
    assert "a1@" not in err[1] and "a2@" not in err[1]
    subj2, err = send(w, ["a1@dest.test"], "marketing")
    assert err == (550, "5.7.1 Suppressed: unsubscribe (category list)"), err
    # refused at end of data: never queued, so an empty queue means no copy is on its way
    harness.wait_for(lambda: w.pf.queue() == [], 60, "Postfix's queue to drain")
    assert not any(("Subject: " + s).encode() in raw for _, raw in w.sink.messages()
                   for s in (subj, subj2))
    assert w.pf.queue() == []
    w.milter.wait_output("message refused (every recipient is suppressed)")


def test_one_click_then_next_newsletter_refused(world):
    w = world
    subj, err = send(w, ["reader@loop.test"], "marketing")
    assert err is None
    _, raw = delivered(w, subj)
    lu = harness.header_values(raw, "List-Unsubscribe")[0]
    url = [p.strip("<> \t\r\n") for p in lu.split(",") if "https://" in p][0]
    token = url.rsplit("/", 1)[1]
    req = urllib.request.Request("http://127.0.0.1:%d/u/%s" % (w.http, token),
                                 data=b"List-Unsubscribe=One-Click", method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    assert w.redis.cli("HGET", keys.supp("cat:marketing", "reader@loop.test"), "source") == "one-click"

    subj, err = send(w, ["reader@loop.test"], "marketing")
    assert err == (550, "5.7.1 Suppressed: unsubscribe (category list)"), err
    subj, err = send(w, ["reader@loop.test", "friend@loop.test"], "marketing")
    assert err is None
    assert sorted(r for e, _ in all_delivered(w, subj) for r in e["rcpts"]) == ["friend@loop.test"]
    subj, err = send(w, ["reader@loop.test"], "transactional")
    assert err is None
    delivered(w, subj)


def test_check_suppression_false(root_env):
    w = make_world(root_env, 'check_suppression = false')
    supp(w, "cat:marketing", "x@dest.test")
    subj, err = send(w, ["x@dest.test"], "marketing")
    assert err is None
    delivered(w, subj)


def redis_down(env, mode):
    """Redis killed after start: what happens to a marketing message to a suppressed address."""
    w = make_world(env, mode)
    supp(w, "cat:marketing", "x@dest.test")
    w.redis.kill()
    subj, err = send(w, ["x@dest.test"], "marketing")
    if "tempfail" in mode:
        assert err is not None and err[0] == 451 and err[1].startswith("4.3.0"), err
        w.milter.wait_output("temporary failure (suppression_fail = tempfail)")
        assert w.pf.queue() == []
    elif "on_internal_error" not in mode:
        # accepted past the suppression check, but its recipient record (what binds
        # its bounces) cannot be written: on_internal_error (tempfail by default)
        assert err is not None and err[0] == 451, err
        w.milter.wait_output("message accepted (suppression_fail = accept)")
        w.milter.wait_output("recipient record not written: temporary failure")
        assert w.pf.queue() == []
    else:
        assert err is None
        delivered(w, subj)
        w.milter.wait_output("message accepted (suppression_fail = accept)")
        w.milter.wait_output("recipient record not written: message accepted")


# (not parametrized: the test name becomes the temp dir name, and smtp-sink's
# file listing globs it, so brackets in it would hide the files)
def test_redis_down_default_accepts(root_env):
    redis_down(root_env, "")


def test_redis_down_accept(root_env):
    redis_down(root_env, 'suppression_fail = "accept"')


def test_redis_down_accept_everything(root_env):
    redis_down(root_env, 'suppression_fail = "accept"\non_internal_error = "accept"')


def test_redis_down_tempfail(root_env):
    redis_down(root_env, 'suppression_fail = "tempfail"')

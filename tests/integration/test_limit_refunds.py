"""
NAME
    test_limit_refunds - limits charged at RCPT are refunded when the message never leaves

DESCRIPTION
    One world for the module: redis-server, smtp-sink, sluice-policyd and
    sluice-milter on one sluice.conf, and a throwaway Postfix with both
    (policy first in smtpd_recipient_restrictions, then an inline map that
    refuses one recipient, then permit_sasl_authenticated) and real SASL
    logins (Cyrus sasldb). alice (tenant shop1) has three limits keyed on
    her login: recipients per day, messages per day (calendar counters,
    exact) and a 100/hour rate (a GCRA level, read with a small tolerance
    for the drain). Each test reads the counters before and after:

      - normal mail is charged exactly once per recipient and message,
        and leaves no charge record behind;
      - the milter claims the charge record inside its one end of message
        script: a message that leaves whole costs no claim or refund call
        of its own, one with a suppressed recipient one refund call;
      - a message the milter refuses at end of headers (From of another
        tenant: the SASL binding) leaves every counter where it was;
      - one whose only recipient is suppressed in the message's final
        category (known to the milter only) is refused at end of data
        and refunded;
      - a suppressed recipient the milter removes is refunded, the
        others and the message stay charged;
      - a recipient refused by a later restriction after policyd charged
        it is refunded;
      - a client that disconnects after RCPT, or sends RSET, is refunded;
      - so is one whose address and port a front proxy set with XCLIENT
        (policyd and the milter both see the client it names).
"""
import shlex
import smtplib
import socket
import subprocess
import time
import uuid

import pytest

import conftest
import harness
import keys
from milter_helpers import start_milter, write_conf

CONF = """
log_level = "info"
secret_file = "%(secret)s"
domain "example.com" {
  default_category = "transactional"
}
category "transactional" { subdomain = "mail" }
category "marketing" { subdomain = "news" }
tenant "shop1" { domains = {"shop1.example.com"}  sasl_users = {"alice"} }
tenant "shop2" { domains = {"shop2.example.com"}  sasl_users = {"bob"} }
milter {
  socket = "{socket}"
  socket_mode = "0666"
}
policyd {
  listen = { "unix:%(psock)s" }
  timeout = 5000          # not the 100 ms default, which fails open on a loaded machine (test_policyd_util)
  limit "rcpts" { key = '${sasl_username}' window = "day" max = "100000" unit = "recipients" }
  limit "msgs" { key = '${sasl_username}' window = "day" max = "100000" unit = "messages" }
  limit "hourly" { key = '${sasl_username}' rate = "100/hour" unit = "recipients" }
}
"""

SASL = {"alice": "alicepw", "bob": "bobpw"}
AUTH = ("alice", "alicepw")
BLOCKED = "blocked@dest.test"


class World:
    pass


@pytest.fixture(scope="module")
def world():
    conftest.require_root()
    env = harness.Env("refunds")
    try:
        w = World()
        w.env = env
        w.redis = env.redis()
        psock = "%s/policyd-%s.sock" % (env.dir, uuid.uuid4().hex[:6])
        w.conf, sock = write_conf(env, CONF % {"secret": env.secret(), "psock": psock}, redis=w.redis)
        w.policyd = env.daemon("sluice-policyd", [harness.program("policyd", "sluice-policyd"),
                                                  "-f", "-c", w.conf],
                               ready=lambda: harness.can_connect(psock))
        w.milter, spec = start_milter(env, w.conf, sock)
        w.sink = env.sink()
        w.pf = env.postfix(relay=w.sink, milter=spec, sasl_users=SASL, main={
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
            "smtpd_recipient_restrictions":
                "check_policy_service { unix:%s, default_action=DUNNO }, "
                "check_recipient_access inline:{ %s=REJECT }, "
                "permit_sasl_authenticated, reject" % (psock, BLOCKED)})
        harness.wait_for(lambda: w.redis.cli("SISMEMBER", keys.key("limits"), "hourly") == "1",
                         5, "limit seeds")
        yield w
    finally:
        env.close()


def counters(w, user="alice"):
    """(recipients today, messages today, the hourly bucket's level drained to now)."""
    day = time.strftime("%Y%m%d", time.localtime())
    rcpts = w.redis.cli("GET", keys.key("quota", "rcpts", day, user))
    msgs = w.redis.cli("GET", keys.key("quota", "msgs", day, user))
    level, ts = (w.redis.cli("HMGET", keys.key("rate", "hourly", user), "level", "ts").split("\n") + ["", ""])[:2]
    sec, usec = w.redis.cli("TIME").split("\n")
    now_ms = int(sec) * 1000 + int(usec) // 1000
    drained = max(0.0, float(level) - (now_ms - float(ts)) / 36000.0) if level else 0.0
    return int(rcpts or 0), int(msgs or 0), drained


def assert_same(before, after, rcpts=0, msgs=0):
    """Counters moved by exactly rcpts/msgs (the rate within its drain since then)."""
    assert after[0] == before[0] + rcpts, (before, after)
    assert after[1] == before[1] + msgs, (before, after)
    assert before[2] + rcpts - 0.2 <= after[2] <= before[2] + rcpts + 0.01, (before, after)


def message(rcpts, sender="app@shop1.example.com", category=None):
    subject = "r-" + uuid.uuid4().hex[:12]
    hdr = "X-Sluice-Category: %s\r\n" % category if category else ""
    return subject, ("From: App <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@app.test>\r\n%s\r\n"
                     "Hello.\r\n" % (sender, rcpts[0], subject, subject, hdr)).encode()


def send(w, rcpts, **kw):
    """One message as alice; returns (subject, refused recipients or the DATA error)."""
    subject, data = message(rcpts, **kw)
    try:
        return subject, w.pf.send(kw.get("sender", "app@shop1.example.com"), rcpts, data, auth=AUTH)
    except smtplib.SMTPDataError as e:
        return subject, (e.smtp_code, e.smtp_error.decode())


def delivered(w, subject, timeout=20):
    def find():
        for envelope, raw in w.sink.messages():
            if ("Subject: " + subject).encode() in raw:
                return envelope
        return None
    return harness.wait_for(find, timeout, "message %s at smtp-sink" % subject)


def no_records(w):
    return w.redis.cli("--scan", "--pattern", keys.pattern("charge")) == ""


def settled_to(w, expect, timeout=10):
    """Wait until the counters equal expect (the milter settles after our connection ended)."""
    last = []

    def same():
        last[:] = [counters(w)]
        a = last[0]
        return a[0] == expect[0] and a[1] == expect[1] and abs(a[2] - expect[2]) < 0.2
    try:
        harness.wait_for(same, timeout, "counters back to %s" % (expect,))
    except TimeoutError:
        raise AssertionError("counters %s, expected %s\n%s" % (last, expect, w.milter.output()[-3000:]))
    return last[0]


def test_normal_mail_is_charged_exactly_once(world):
    w = world
    before = counters(w)
    subjects = [send(w, ["n1@dest.test", "n2@dest.test"])[0] for _ in range(3)]
    for s in subjects:
        assert sorted(delivered(w, s)["rcpts"]) == ["n1@dest.test", "n2@dest.test"]
    assert_same(before, counters(w), rcpts=6, msgs=3)
    assert no_records(w)
    assert w.redis.cli("HGET", keys.key("rulestats", "rcpts"), "refunded") in ("", "0")


def milter_settling_calls(w, rcpts, **kw):
    """Send one message under redis-cli MONITOR; the EVALSHAs that settle
    charges apart from the end of message script: ("claim", n) for
    lib/charge.c's claim (1 key: a charge record), ("refund", n) for its
    refund (keys counter, rulestats ...)."""
    mon = subprocess.Popen(["redis-cli", "-s", w.redis.sock, "MONITOR"], stdout=subprocess.PIPE,
                           text=True)
    try:
        assert mon.stdout.readline().strip() == "OK"
        subject, refused = send(w, rcpts, **kw)
        delivered(w, subject)
        w.redis.cli("SET", "sluice:test-monitor-end", "1")
        lines = []
        for line in mon.stdout:
            lines.append(line)
            if "test-monitor-end" in line:
                break
    finally:
        mon.kill()
        mon.wait()
    calls = []
    for line in lines:
        args = shlex.split(line.split("]", 1)[1]) if "]" in line else []
        if len(args) < 4 or args[0].lower() != "evalsha":
            continue
        nkeys = int(args[2])
        ks = args[3:3 + nkeys]
        if nkeys == 1 and keys.is_kind("charge", ks[0]):
            calls.append(("claim", 1))
        elif is_refund(ks):
            calls.append(("refund", nkeys // 2))
    return subject, refused, calls


def is_refund(ks):
    """lib/charge.c's refund: keys in pairs (counter, its rulestats). Not
    policyd's pass-counter flush, whose keys are all rulestats hashes and
    which runs every poll_interval, so it may fall inside the window."""
    return (len(ks) >= 2 and len(ks) % 2 == 0
            and all(keys.is_kind("rulestats", k) for k in ks[1::2])
            and not any(keys.is_kind("rulestats", k) for k in ks[0::2]))


def test_end_of_message_script_claims_the_charges(world):
    """Issue 12's one round trip per message: the claim rides on the end of
    message script; a refund is a call of its own only when there is one."""
    w = world
    before = counters(w)
    subject, refused, calls = milter_settling_calls(w, ["c1@dest.test", "c2@dest.test"])
    assert refused == {} and calls == [], calls
    assert_same(before, counters(w), rcpts=2, msgs=1)
    assert no_records(w)
    w.redis.cli("HSET", keys.supp("cat:marketing", "gone@dest.test"), "reason", "unsubscribe",
                "source", "test", "added", str(int(time.time())))
    before = counters(w)
    subject, refused, calls = milter_settling_calls(w, ["c3@dest.test", "gone@dest.test"],
                                                    category="marketing")
    assert calls == [("refund", 2)], calls         # gone's recipients charge and rate, one call
    assert_same(before, counters(w), rcpts=1, msgs=1)
    assert no_records(w)


def test_refused_by_the_milter_at_end_of_headers_is_refunded(world):
    w = world
    before = counters(w)
    _, err = send(w, ["x1@dest.test", "x2@dest.test"], sender="app@shop2.example.com")
    assert err[0] == 550, err                      # another tenant's From: the SASL binding
    settled_to(w, before)
    assert no_records(w)
    w.milter.wait_output("limit charges refunded: 5 (message not accepted)")


def test_all_recipients_suppressed_in_the_final_category_is_refunded(world):
    w = world
    w.redis.cli("HSET", keys.supp("cat:marketing", "gone@dest.test"), "reason", "unsubscribe",
                "source", "test", "added", str(int(time.time())))
    before = counters(w)
    _, err = send(w, ["gone@dest.test"], category="marketing")
    assert err[0] == 550 and "unsubscribe" in err[1], err
    settled_to(w, before)


def test_suppressed_recipient_removed_by_the_milter_is_refunded(world):
    w = world
    w.redis.cli("HSET", keys.supp("cat:marketing", "left@dest.test"), "reason", "unsubscribe",
                "source", "test", "added", str(int(time.time())))
    before = counters(w)
    subject, refused = send(w, ["stay@dest.test", "left@dest.test"], category="marketing")
    assert refused == {}, refused                 # policyd cannot know the category: accepted at RCPT
    assert delivered(w, subject)["rcpts"] == ["stay@dest.test"]
    assert_same(before, counters(w), rcpts=1, msgs=1)
    assert no_records(w)


def test_recipient_refused_by_a_later_restriction_is_refunded(world):
    w = world
    before = counters(w)
    subject, refused = send(w, ["ok@dest.test", BLOCKED])
    assert list(refused) == [BLOCKED], refused
    assert delivered(w, subject)["rcpts"] == ["ok@dest.test"]
    assert_same(before, counters(w), rcpts=1, msgs=1)


def test_unqualified_recipient_stays_charged(world):
    """An address policyd cannot normalise (no domain: Postfix appends
    $myorigin later) is charged under "" and kept: no way around a limit."""
    w = world
    before = counters(w)
    subject, refused = send(w, ["plainbob", "q@dest.test"])
    assert refused == {}, refused
    assert len(delivered(w, subject)["rcpts"]) == 2
    assert_same(before, counters(w), rcpts=2, msgs=1)
    assert no_records(w)


@pytest.mark.parametrize("how", ["disconnect", "rset"])
def test_client_gone_after_rcpt_is_refunded(world, how):
    """Postfix tells the milter of a disconnect at once; of an RSET only with
    the client's next MAIL (or QUIT), which still comes before any charge of
    the next transaction."""
    w = world
    before = counters(w)
    s = smtplib.SMTP("127.0.0.1", w.pf.port, local_hostname="client.sluice.test", timeout=30)
    s.login(*AUTH)
    assert s.mail("app@shop1.example.com")[0] == 250
    for r in ("d1@dest.test", "d2@dest.test", "d3@dest.test"):
        assert s.rcpt(r)[0] == 250
    assert_same(before, counters(w), rcpts=3, msgs=1)  # charged at RCPT, as always
    if how == "disconnect":
        s.sock.shutdown(socket.SHUT_RDWR)
        s.sock.close()
        settled_to(w, before)
    else:
        assert s.rset()[0] == 250
        assert s.mail("app@shop1.example.com")[0] == 250
        assert counters(w)[:2] == before[:2]       # refunded before MAIL was answered
        assert s.rcpt("d4@dest.test")[0] == 250
        assert s.data(message(["d4@dest.test"])[1])[0] == 250
        s.quit()
        assert_same(before, counters(w), rcpts=1, msgs=1)
    assert no_records(w)


def test_client_named_by_xclient_is_refunded(world):
    """A front proxy that hands Postfix the real client's address and port
    (XCLIENT): policyd and the milter both see the client it names."""
    w = world
    before = counters(w)
    s = smtplib.SMTP("127.0.0.1", w.pf.port, local_hostname="client.sluice.test", timeout=30)
    s.ehlo()
    assert s.docmd("XCLIENT", "ADDR=192.0.2.9 PORT=4444 NAME=[UNAVAILABLE]")[0] == 220
    s.ehlo_resp = None
    s.ehlo()
    s.login(*AUTH)
    assert s.mail("app@shop1.example.com")[0] == 250
    assert s.rcpt("x1@dest.test")[0] == 250
    assert_same(before, counters(w), rcpts=1, msgs=1)
    assert w.redis.cli("EXISTS", keys.key("charge", "192.0.2.9/4444,127.0.0.1/%d" % w.pf.port)) == "1"
    s.sock.shutdown(socket.SHUT_RDWR)
    s.sock.close()
    settled_to(w, before)
    assert no_records(w)


@pytest.mark.parametrize("refunds", [True, False])
def test_refunds_off_writes_no_charge_record(env, refunds):
    """policyd without a milter: refunds = false keeps Redis free of records nobody settles."""
    from test_policyd_util import policy_query, start_policyd
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis, (
        'refunds = %s\n limit "per-sender" { key = \'${sender}\' window = "day" max = "10" }\n'
        % ("true" if refunds else "false")))
    harness.wait_for(lambda: "limit per-sender: loaded" in proc.output(), 5, "limit loaded")
    attrs = {"client_port": "40000", "server_address": "127.0.0.1", "server_port": "587",
             "instance": "1.2.3.4"}
    assert policy_query(sock, attrs) == "DUNNO"
    assert redis.cli("EXISTS", keys.key("charge", "127.0.0.1/40000,127.0.0.1/587")) == ("1" if refunds else "0")
    day = time.strftime("%Y%m%d", time.gmtime())
    assert redis.cli("GET", keys.key("quota", "per-sender", day, "alice@example.com")) == "1"

"""
NAME
    test_feedback_effects - sluice-feedback in normal mode against a real redis-server

DESCRIPTION
    Feeds messages written here (not corpus copies) to sluice-feedback on
    standard input, the way Postfix's pipe(8) does, with a throwaway
    redis-server, and checks what lands in Redis: suppression entries,
    the soft-bounce threshold, complaints and unsubscribes in the
    category's scope, DMARC summaries, counters, the automatic tenant
    pause, the events stream, and the exit codes (0 handled, 75 without
    Redis, 0 for a forged token or an unparseable message). Tokens are
    minted, and a genuine message's recipients recorded the way
    sluice-milter does (World.bind), with token_helpers.py, doc/tokens.md's
    version 2 format written independently of the C code. Needs no root. The trust rules
    (binding, who is at fault, exactly once, Redis refusals) are tested
    in test_feedback_trust.py.
"""
import base64
import gzip
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedback_helpers  # noqa: E402
import harness  # noqa: E402
import token_helpers  # noqa: E402
import keys


def mint(secret, kind="b", category="news", tenant="shop1", msgid="abcd2345", day=None):
    """A version 2 token local part (doc/tokens.md; key 'a' of a single-secret file)."""
    return token_helpers.local(secret, kind, category, tenant, day, msgid)


def dsn(rcpt, status="5.1.1", diag="550 5.1.1 <%s>: Recipient address rejected: User unknown",
        action="failed", token="b1-x@bounce.example.com"):
    """A Postfix-style DSN for one recipient."""
    diag = diag % rcpt if "%s" in diag else diag
    return feedback_helpers.dsn(
        token, feedback_helpers.dsn_record(rcpt, diag, status, action),
        "This is the mail system at host mx.example.com.\n\n"
        "<%s>: host mx.example.net[192.0.2.1] said: %s (in reply to RCPT TO command)\n" % (rcpt, diag),
        to=rcpt)


def arf(rcpt, token):
    return feedback_helpers.arf(token, rcpt)


DMARC_XML = b"""<?xml version="1.0"?>
<feedback>
  <report_metadata><org_name>isp.example</org_name><email>d@isp.example</email>
    <report_id>r-1</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>
  <record><row><source_ip>192.0.2.10</source_ip><count>7</count>
    <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers></record>
  <record><row><source_ip>198.51.100.9</source_ip><count>3</count>
    <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers></record>
</feedback>
"""


def dmarc_mail():
    payload = base64.encodebytes(gzip.compress(DMARC_XML)).decode()
    return ("""From: noreply-dmarc@isp.example
To: rua@feedback.example.com
Subject: Report Domain: example.com Submitter: isp.example Report-ID: r-1
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="CC"

--CC
Content-Type: text/plain

DMARC aggregate report.

--CC
Content-Type: application/gzip; name="isp.example!example.com!1700000000!1700086399.xml.gz"
Content-Transfer-Encoding: base64

%s
--CC--
""" % payload).encode()


class World:
    """A redis-server, a token secret and a sluice.conf for sluice-feedback.

    Several Worlds may share one env: each has its own file names; a World
    made with secret_from uses that World's secret.
    """
    _serial = 0

    def __init__(self, env, extra="", redis=None, secret_from=None):
        World._serial += 1
        self.n = World._serial
        self.env = env
        self.redis = redis or env.redis()
        self.secret_path = (secret_from.secret_path if secret_from
                            else env.secret("token-%d.key" % self.n))
        with open(self.secret_path, "rb") as f:
            self.secret = f.read().rstrip(b"\n")
        # 20 s: a script over hundreds of records on a loaded machine may
        # take seconds, and 75 (try again) would be right then; the tests of
        # a lost reply write their own redis { } block
        self.conf = self.config(self.redis.conf_section(command_timeout=20000), extra)
        self.exe = harness.program("feedback", "sluice-feedback")

    def config(self, redis_section, extra="", name="sluice.conf"):
        """A sluice.conf with this world's secret and the given redis { } block."""
        return self.env.file("%d-%s" % (self.n, name), redis_section +
                             'secret_file = "%s"\nfeedback {\n  pause_min_sent = 10\n%s}\n'
                             % (self.secret_path, extra))

    def feed(self, data, rcpt, conf=None):
        p = feedback_helpers.run_feedback(conf or self.conf, data, rcpt)
        return p.returncode, p.stderr.decode(errors="replace")

    def cli(self, *a):
        return self.redis.cli(*a)

    def bind(self, msgid, *addrs):
        """Make addrs recipients of message msgid, as sluice-milter records them."""
        token_helpers.bind(self.redis, self.secret, msgid, addrs)

    def hgetall(self, key):
        out = self.cli("HGETALL", key).split("\n")
        return dict(zip(out[0::2], out[1::2])) if out != [""] else {}

    def events(self):
        out = self.cli("XRANGE", keys.key("events"), "-", "+")
        return out


def today():
    return time.strftime("%Y%m%d", time.gmtime())


@pytest.fixture
def world(env):
    return World(env)


def test_check_config(world):
    p = subprocess.run([world.exe, "-n", "-c", world.conf], capture_output=True)
    assert p.returncode == 0, p.stderr
    bad = world.env.file("bad.conf", 'secret_file = "%s"\nfeedback {\n hard_bounce_scope = planet\n'
                         ' pause_window = 0\n}\n' % world.secret_path)
    p = subprocess.run([world.exe, "-n", "-c", bad], capture_output=True, text=True)
    assert p.returncode == 78  # EX_CONFIG
    assert "hard_bounce_scope" in p.stderr and "pause_window" in p.stderr


def test_hard_bounce_suppresses(world):
    tok = mint(world.secret) + "@bounce.example.com"
    world.bind("abcd2345", "gone@example.net")
    rc, err = world.feed(dsn("Gone@Example.NET", token=tok), tok)
    assert rc == 0, err
    e = world.hgetall(keys.supp("global", "gone@example.net"))
    assert e["reason"] == "hard-bounce" and e["source"] == "bounce", e
    assert e["bounce_reason"] == "userunknown", e
    assert abs(int(e["added"]) - time.time()) < 60
    assert "expires" not in e and world.cli("TTL", keys.supp("global", "gone@example.net")) == "-1"
    st = world.hgetall(keys.key("stats", today(), "shop1", "news"))
    assert st.get("hard") == "1", st
    assert "suppressed" in world.events()


def test_forged_and_missing_token_suppress_nobody(world):
    tok = mint(world.secret)
    forged = tok[:-1] + ("a" if tok[-1] != "a" else "b") + "@bounce.example.com"
    rc, err = world.feed(dsn("victim@example.net", token=forged), forged)
    assert rc == 0, err
    rc, err = world.feed(dsn("victim@example.net", token="shop@example.com"),
                         "postmaster@bounce.example.com")
    assert rc == 0, err
    assert world.cli("KEYS", keys.pattern("supp")) == ""
    ev = world.events()
    assert ev.count("unverified") == 2 and "MAC does not verify" in ev and "no token" in ev


def test_soft_bounces_reach_threshold(world):
    key = keys.supp("global", "full@example.net")
    for i in range(3):
        tok = mint(world.secret, msgid="abcd234%d" % (i + 2)) + "@bounce.example.com"
        world.bind("abcd234%d" % (i + 2), "full@example.net")
        rc, err = world.feed(dsn("full@example.net", status="5.2.2",
                                 diag="552 5.2.2 <%s>: Mailbox full"), tok)
        assert rc == 0, err
        if i < 2:
            assert world.cli("EXISTS", key) == "0", "suppressed after %d soft bounces" % (i + 1)
    e = world.hgetall(key)
    assert e["reason"] == "soft-bounce-threshold", e
    assert 0 < int(world.cli("TTL", key)) <= 30 * 86400
    assert world.hgetall(keys.key("stats", today(), "shop1", "news"))["soft"] == "3"


def filtered_dsn(rcpt, tok):
    return dsn(rcpt, status="5.2.0", diag="550 5.2.0 <%s>: Message filtered", token=tok)


def test_filtered_is_soft_by_default(world):
    tok = mint(world.secret) + "@bounce.example.com"
    world.bind("abcd2345", "picky@example.net")
    rc, err = world.feed(filtered_dsn("picky@example.net", tok), tok)
    assert rc == 0, err
    assert world.cli("EXISTS", keys.supp("global", "picky@example.net")) == "0"
    assert world.cli("ZCARD", keys.key("soft", "picky@example.net")) == "1"
    assert world.hgetall(keys.key("stats", today(), "shop1", "news"))["soft"] == "1"


def test_hard_reasons_option(env):
    w = World(env, extra='  hard_reasons = {"filtered", "suspend"}\n')
    tok = mint(w.secret) + "@bounce.example.com"
    w.bind("abcd2345", "picky@example.net")
    rc, err = w.feed(filtered_dsn("picky@example.net", tok), tok)
    assert rc == 0, err
    e = w.hgetall(keys.supp("global", "picky@example.net"))
    assert e["reason"] == "hard-bounce" and e["bounce_reason"] == "filtered", e
    assert w.hgetall(keys.key("stats", today(), "shop1", "news"))["hard"] == "1"
    bad = env.file("bad-reasons.conf", 'secret_file = "%s"\nfeedback {\n hard_reasons = {"nosuch"}\n}\n'
                   % w.secret_path)
    p = subprocess.run([w.exe, "-n", "-c", bad], capture_output=True, text=True)
    assert p.returncode == 78 and "hard_reasons" in p.stderr and "nosuch" in p.stderr, p.stderr


def test_complaint_category_scope(world):
    tok = mint(world.secret, category="promo") + "@bounce.example.com"
    world.bind("abcd2345", "angry@example.org")
    rc, err = world.feed(arf("angry@example.org", tok), "fbl@feedback.example.com")
    assert rc == 0, err
    e = world.hgetall(keys.supp("cat:promo", "angry@example.org"))
    assert e["reason"] == "complaint" and e["detail"] == "abuse", e
    assert world.cli("EXISTS", keys.supp("global", "angry@example.org")) == "0"
    assert world.hgetall(keys.key("stats", today(), "shop1", "promo"))["complaint"] == "1"


def test_unsubscribe_by_mail(world):
    tok = mint(world.secret, kind="u", category="letters") + "@unsub.example.com"
    world.bind("abcd2345", "reader@example.org")
    msg = b"From: Reader <reader@example.org>\nTo: " + tok.encode() + \
        b"\nSubject: unsubscribe\n\nplease\n"
    rc, err = world.feed(msg, tok)
    assert rc == 0, err
    e = world.hgetall(keys.supp("cat:letters", "reader@example.org"))
    assert e["reason"] == "unsubscribe", e
    assert world.hgetall(keys.key("stats", today(), "shop1", "letters"))["unsub"] == "1"


def test_dmarc_summary(world):
    rc, err = world.feed(dmarc_mail(), "rua@feedback.example.com")
    assert rc == 0, err
    day = time.strftime("%Y%m%d", time.gmtime(1700000000))
    s = world.hgetall(keys.key("dmarc", "example.com", day))
    assert s["reports"] == "1" and s["messages"] == "10" and s["pass"] == "7" and s["fail"] == "3", s
    assert s["src:198.51.100.9:fail"] == "3" and s["src:192.0.2.10:pass"] == "7"
    assert world.cli("SMEMBERS", keys.key("dmarc_unauth", "example.com", day)) == "198.51.100.9"


def test_tenant_pause(world):
    world.cli("HSET", keys.key("stats", today(), "shop1", "news"), "sent", "10")
    world.cli("HSET", keys.key("tenant", "shop1"), "status", "active")
    tok = mint(world.secret) + "@bounce.example.com"
    world.bind("abcd2345", "nobody@example.net")
    rc, err = world.feed(dsn("nobody@example.net", token=tok), tok)
    assert rc == 0, err
    t = world.hgetall(keys.key("tenant", "shop1"))
    assert t["status"] == "paused" and "bounce rate 10.00%" in t["status_reason"], t
    assert "tenant-paused" in world.events()


def test_tenant_pause_monitor_mode(env):
    w = World(env, extra="  pause_mode = monitor\n")
    w.cli("HSET", keys.key("stats", today(), "shop1", "news"), "sent", "10")
    tok = mint(w.secret) + "@bounce.example.com"
    w.bind("abcd2345", "nobody@example.net")
    rc, err = w.feed(dsn("nobody@example.net", token=tok), tok)
    assert rc == 0, err
    assert w.cli("HGET", keys.key("tenant", "shop1"), "status") == ""
    assert "would-pause" in w.events()


def test_tenant_pause_sums_categories(env):
    # 1 bounce of 20 messages over two categories is 5%: paused; the
    # bounced category alone (5 sent) is under pause_min_sent (10)
    w = World(env, extra="")
    with open(w.conf, "a") as f:
        f.write('category "news" {\n}\ncategory "promo" {\n}\n')
    day = today()
    w.cli("HSET", keys.key("stats", day, "shop1", "news"), "sent", "15")
    w.cli("HSET", keys.key("stats", day, "shop1", "promo"), "sent", "5")
    tok = mint(w.secret, category="promo") + "@bounce.example.com"
    w.bind("abcd2345", "nobody@example.net")
    rc, err = w.feed(dsn("nobody@example.net", token=tok), tok)
    assert rc == 0, err
    t = w.hgetall(keys.key("tenant", "shop1"))
    assert t.get("status") == "paused" and "(1 of 20)" in t["status_reason"], t


def test_unparseable_is_recorded_and_accepted(world):
    rc, err = world.feed(b"\x00\x01 this is not mail at all", "b1-junk@bounce.example.com")
    assert rc == 0, err
    assert "unknown" in world.events()
    assert world.cli("KEYS", keys.pattern("supp")) == ""


def test_redis_down_tempfails(world):
    world.redis.stop()
    tok = mint(world.secret) + "@bounce.example.com"
    t0 = time.time()
    rc, err = world.feed(dsn("gone@example.net", token=tok), tok)
    assert rc == 75, (rc, err)
    assert time.time() - t0 < 10

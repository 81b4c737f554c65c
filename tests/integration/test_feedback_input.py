"""
NAME
    test_feedback_input - sluice-feedback's input bounds: big messages, many
    recipients, entity bombs, invalid UTF-8

DESCRIPTION
    Messages are written here in the form Postfix's bounce(8) writes its
    DSNs (text/plain notification, message/delivery-status,
    message/rfc822 with the returned original) and fed to sluice-feedback
    on standard input as pipe(8) does, with a throwaway redis-server:

    - a DSN returning a 50 MB original (more than FB_MAX_INPUT, 32 MB) is
      acted on from its first 32 MB, since its delivery-status part comes
      before the original: written here, and (root) Postfix's own DSN
      through a throwaway Postfix with bounce_size_limit raised so it
      returns the whole original, delivered by pipe(8); a message over the cap whose records part is
      not whole in the first 32 MB, or that is nothing recognisable there,
      is deferred (exit 75) with a log line and writes nothing;
    - a DSN with 1,000 recipient records gives 1,000 records (--classify)
      and 1,000 suppression entries; one with FB_MAX_RCPTS (2,000)
      records or more is deferred and writes nothing;
    - a DMARC report with nested internal entities is refused with a clear
      reason and the child's peak RSS (ru_maxrss from wait4) stays under
      64 MB; one giant <record> is read without a document tree;
    - a diagnostic with an encoded surrogate, an overlong form and a
      truncated sequence comes out of --classify and into the Redis
      entry's detail as valid UTF-8.

    Tests that expect a suppression first write the message's recipient
    record as sluice-milter does (World.bind, token_helpers.bind): without
    it feedback_verify.c binds nobody and the bounce suppresses nobody.
    Needs no root, except test_real_postfix_dsn_with_50mb_original.
"""
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import token_helpers  # noqa: E402
from test_feedback_effects import World, mint  # noqa: E402
import keys

MB = 1 << 20
RSS_LIMIT_KB = 64 * 1024


def postfix_dsn(rcpts, token, original=b"", diag="550 5.1.1 <%s>: Recipient address rejected: User unknown"):
    """A DSN as Postfix's bounce(8) writes it, for many recipients and a returned original."""
    notes = "".join("<%s>: host mx.example.net[192.0.2.1] said: %s (in reply to RCPT TO command)\n\n"
                    % (r, diag % r) for r in rcpts)
    blocks = "".join("Final-Recipient: rfc822; %s\nOriginal-Recipient: rfc822;%s\nAction: failed\n"
                     "Status: 5.1.1\nRemote-MTA: dns; mx.example.net\nDiagnostic-Code: smtp; %s\n\n"
                     % (r, r, diag % r) for r in rcpts)
    head = ("""Return-Path: <>
From: MAILER-DAEMON@relay.example.com (Mail Delivery System)
To: %(token)s
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4A1B2C3D4E.1700000000/relay.example.com"
Content-Transfer-Encoding: 8bit
Message-Id: <20261203100000.4A1B2C3D4E@relay.example.com>

This is a MIME-encapsulated message.

--4A1B2C3D4E.1700000000/relay.example.com
Content-Description: Notification
Content-Type: text/plain; charset=utf-8

This is the mail system at host relay.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

%(notes)s--4A1B2C3D4E.1700000000/relay.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.com
X-Postfix-Queue-ID: 4A1B2C3D4E
X-Postfix-Sender: rfc822; %(token)s
Arrival-Date: Thu,  3 Dec 2026 10:00:00 +0000 (UTC)

%(blocks)s--4A1B2C3D4E.1700000000/relay.example.com
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

Return-Path: <%(token)s>
From: shop@example.com
To: %(to)s
Subject: the catalogue
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="ORIG"

--ORIG
Content-Type: text/plain

See the attachment.

--ORIG
Content-Type: application/pdf; name="catalogue.pdf"
Content-Transfer-Encoding: base64

""" % {"token": token, "notes": notes, "blocks": blocks, "to": rcpts[0]}).encode()
    return head + original + b"\n--ORIG--\n\n--4A1B2C3D4E.1700000000/relay.example.com--\n"


def base64_body(size):
    """size bytes of base64 lines, cheap to make"""
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\n"
    return line * (size // len(line))


# A fresh small process forks the program: ru_maxrss counts the RSS a child
# inherits at fork, and the test process holds messages of 50 MB.
LAUNCH = """import os, sys
p = os.fork()
if p == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, s, ru = os.wait4(p, 0)
sys.stderr.write("\\nmaxrss=%d\\n" % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(s))
"""


def run_measured(argv, data, tmp):
    """Run argv with data on stdin; (exit code, stdout, stderr, peak RSS in KB, seconds)"""
    paths = [os.path.join(tmp, n) for n in ("in", "out", "err")]
    with open(paths[0], "wb") as f:
        f.write(data)
    with open(paths[0], "rb") as i, open(paths[1], "wb") as o, open(paths[2], "wb") as e:
        t0 = time.monotonic()
        rc = subprocess.call(["/usr/bin/python3", "-c", LAUNCH] + argv, stdin=i, stdout=o, stderr=e,
                             timeout=300)
        secs = time.monotonic() - t0
    out, err = (open(x, "rb").read().decode(errors="replace") for x in paths[1:])
    for x in paths:
        os.unlink(x)
    err, _, rss = err.rpartition("\nmaxrss=")
    return rc, out, err, int(rss), secs


def classify(data, tmp, name="msg.eml"):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    p = subprocess.run([harness.program("feedback", "sluice-feedback"), "--classify", path],
                       capture_output=True, timeout=120)
    os.unlink(path)
    assert p.returncode == 0, p.stderr
    import json
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


@pytest.fixture
def world(env):
    return World(env)


def supp_keys(world):
    out = world.cli("KEYS", keys.pattern("supp"))
    return [k for k in out.split("\n") if k]


def test_dsn_with_50mb_original_is_acted_on(world):
    tok = mint(world.secret) + "@bounce.example.com"
    world.bind("abcd2345", "gone@example.net")          # as sluice-milter did
    msg = postfix_dsn(["gone@example.net"], tok, base64_body(50 * MB))
    assert len(msg) > 50 * MB
    rc, _, err, rss, secs = run_measured([world.exe, "-v", "-c", world.conf, tok], msg, world.env.dir)
    print("\n50 MB DSN: exit %d, %.1f s, peak RSS %d MB" % (rc, secs, rss // 1024))
    assert rc == 0, err
    assert "judged from its first" in err, err
    e = world.hgetall(keys.supp("global", "gone@example.net"))
    assert e.get("reason") == "hard-bounce", (e, err)


def test_real_postfix_dsn_with_50mb_original(root_env):
    """Postfix's own DSN, returning the whole 50 MB original (bounce_size_limit raised),
    reaches sluice-feedback through pipe(8) and suppresses the recipient."""
    from test_feedback_postfix import feedback_postfix
    env = root_env
    redis = env.redis()
    pf, secret = feedback_postfix(env, redis, main_extra={
        "message_size_limit": "120000000", "mailbox_size_limit": "0",
        "bounce_size_limit": "60000000"})
    token = mint(secret, category="news", tenant="shop1", msgid="bigg2345") + "@bounce.sluice.test"
    token_helpers.bind(redis, secret, "bigg2345", ["gone@dest.test"])   # as sluice-milter would
    body = (b"Subject: the catalogue\r\nFrom: shop@shop.test\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64_body(50 * MB).replace(b"\n", b"\r\n"))
    try:
        pf.send(token, ["gone@dest.test"], body)
    except Exception as e:  # the sink refuses the recipient: Postfix queues a bounce
        raise AssertionError("Postfix did not take the message: %r" % e)
    key = keys.supp("global", "gone@dest.test")
    try:
        harness.wait_for(lambda: redis.cli("EXISTS", key) == "1", 180, "suppression entry")
    except TimeoutError:
        raise AssertionError("no suppression; postfix log:\n" + pf.log()[-4000:])
    assert redis.cli("HGET", key, "reason") == "hard-bounce"
    log = pf.log()
    sizes = [int(w[5:].rstrip(",")) for w in log.split() if w.startswith("size=")]
    assert max(sizes) > 50 * MB, sizes      # the DSN carried the whole original
    harness.wait_for(lambda: not pf.queue(), 60, "empty queue")


def test_over_cap_without_whole_records_defers(world):
    tok = mint(world.secret) + "@bounce.example.com"
    # 40 MB of notification text before the delivery-status part: the cut falls inside it
    msg = postfix_dsn(["gone@example.net"], tok)
    msg = msg.replace(b"This is the mail system", (b"padding line\n" * (40 * MB // 13))
                      + b"This is the mail system", 1)
    rc, _, err, _, _ = run_measured([world.exe, "-v", "-c", world.conf, tok], msg, world.env.dir)
    assert rc == 75, err
    assert "larger than 32 MB" in err and "deferring" in err, err
    # the delivery-status part itself runs past the cap
    msg = postfix_dsn(["gone@example.net"], tok)
    msg = msg.replace(b"Diagnostic-Code:", b"".join(b"X-Padding-%d: %s\n" % (i, b"p" * 1000)
                                                     for i in range(40 * 1000)) + b"Diagnostic-Code:", 1)
    rc, _, err, _, _ = run_measured([world.exe, "-v", "-c", world.conf, tok], msg, world.env.dir)
    assert rc == 75, err
    assert "delivery-status part" in err and "deferring" in err, err
    # 40 MB of nothing recognisable
    rc, _, err, _, _ = run_measured([world.exe, "-v", "-c", world.conf, tok],
                                    b"Subject: x\n\n" + b"y" * (40 * MB), world.env.dir)
    assert rc == 75, err
    assert "not recognised from its first 32 MB" in err, err
    assert supp_keys(world) == []


def test_dsn_with_1000_recipients_fully_parsed(world):
    rcpts = ["user%04d@example.net" % i for i in range(1000)]
    tok = mint(world.secret) + "@bounce.example.com"
    msg = postfix_dsn(rcpts, tok)
    lines = classify(msg, world.env.dir)
    assert len(lines) == 1000
    assert [x["recipient"] for x in lines] == rcpts
    assert all(x["kind"] == "bounce" and x["hard"] and x["status"] == "5.1.1" for x in lines)
    assert not any("defer" in x for x in lines)
    # end to end: every record acted on, the message's recipient record written first
    # as sluice-milter does at the end of a message
    world.bind("abcd2345", *rcpts)
    rc, _, err, rss, secs = run_measured([world.exe, "-c", world.conf, tok], msg, world.env.dir)
    print("\n1,000-recipient DSN: exit %d, %.1f s, peak RSS %d MB" % (rc, secs, rss // 1024))
    assert rc == 0, err
    entries = supp_keys(world)
    assert len(entries) == 1000, len(entries)
    assert set(entries) == {keys.supp("global", r) for r in rcpts}


def test_dsn_over_recipient_cap_defers(world):
    rcpts = ["u%05d@example.net" % i for i in range(2000)]
    tok = mint(world.secret) + "@bounce.example.com"
    msg = postfix_dsn(rcpts, tok)
    lines = classify(msg, world.env.dir)
    assert lines and all(x.get("defer") == "2000 recipient records or more" for x in lines), lines[:2]
    rc, _, err, _, _ = run_measured([world.exe, "-v", "-c", world.conf, tok], msg, world.env.dir)
    assert rc == 75, err
    assert "2000 recipient records or more" in err and "deferring" in err, err
    assert supp_keys(world) == []


def entity_bomb(size):
    """A DMARC report of about size bytes whose org_name is thousands of references
    to one internal entity just under libxml2's per-entity check (999 bytes)."""
    head = '<?xml version="1.0"?>\n<!DOCTYPE feedback [\n<!ENTITY a "%s">\n]>\n' % ("x" * 999)
    meta = ("<feedback><report_metadata><org_name>%s</org_name><report_id>x</report_id>"
            "<date_range><begin>1</begin><end>2</end></date_range></report_metadata>\n")
    tail = ("<policy_published><domain>example.com</domain><p>none</p></policy_published>\n"
            "<record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated>"
            "<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated>"
            "</row><identifiers><header_from>example.com</header_from></identifiers></record></feedback>\n")
    n = (size - len(head) - len(meta) - len(tail)) // 3
    return (head + meta % ("&a;" * n) + tail).encode()


def nested_bomb():
    """The classic nested form (each entity ten of the one before)."""
    ents = ['<!ENTITY l0 "lol">'] + ['<!ENTITY l%d "%s">' % (i, ("&l%d;" % (i - 1)) * 10)
                                     for i in range(1, 10)]
    return ('<?xml version="1.0"?>\n<!DOCTYPE feedback [\n%s\n]>\n<feedback><report_metadata>'
            '<org_name>&l9;</org_name></report_metadata></feedback>\n' % "\n".join(ents)).encode()


@pytest.mark.parametrize("kind", ["wide", "nested"])
def test_dmarc_entity_bomb_bounded(world, kind):
    data = entity_bomb(280 * 1000) if kind == "wide" else nested_bomb()
    exe = harness.program("feedback", "sluice-feedback")
    path = os.path.join(world.env.dir, "bomb.xml")
    with open(path, "wb") as f:
        f.write(data)
    rc, out, err, rss, _ = run_measured([exe, "--classify", path], b"", world.env.dir)
    print("\nentity bomb (%s, %d bytes): peak RSS %d KB" % (kind, len(data), rss))
    assert rc == 0, err
    assert '"kind":"unknown"' in out and "DTD" in out, out
    assert rss < RSS_LIMIT_KB
    # the same report mailed to the rua address: refused, nothing stored, bounded
    rc, _, err, rss, _ = run_measured([world.exe, "-c", world.conf, "rua@feedback.example.com"],
                                      data, world.env.dir)
    assert rc == 0, err
    assert rss < RSS_LIMIT_KB
    assert world.cli("KEYS", keys.pattern("dmarc")) == ""


def test_dmarc_giant_record_bounded(world):
    """175 KB of gzip expanding to one 60 MB <record> of a million auth_results
    entries: read without a document tree (16 entries kept), peak RSS near the
    expanded size (a tree of it took about 1 GB)."""
    import gzip
    auth = "<dkim><domain>a.example</domain><result>pass</result></dkim>" * 1000000
    doc = ("<feedback><report_metadata><org_name>x</org_name><report_id>y</report_id>"
           "</report_metadata><record><row><source_ip>192.0.2.1</source_ip><count>1</count></row>"
           "<auth_results>%s</auth_results></record></feedback>" % auth).encode()
    path = os.path.join(world.env.dir, "giant.xml.gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(doc))
    rc, out, err, rss, _ = run_measured([harness.program("feedback", "sluice-feedback"),
                                         "--classify", path], b"", world.env.dir)
    print("\ngiant record (%d bytes expanded): peak RSS %d KB" % (len(doc), rss))
    assert rc == 0, err
    import json
    o = json.loads(out)
    assert o["kind"] == "dmarc-aggregate" and len(o["records"]) == 1, out[:300]
    assert len(o["records"][0]["auth_results"]["dkim"]) == 16
    if not harness.sanitized(harness.program("feedback", "sluice-feedback")):
        assert rss < 2 * len(doc) // 1024   # ASan's quarantine keeps freed memory


def test_invalid_utf8_is_replaced(world):
    tok = mint(world.secret) + "@bounce.example.com"
    world.bind("abcd2345", "gone@example.net")
    bad = b"550 5.1.1 <%s>: no such user \xed\xa0\x80 \xc0\xaf \xe2\x82"
    msg = postfix_dsn(["gone@example.net"], tok).replace(
        b"550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown",
        bad.replace(b"%s", b"gone@example.net"))
    lines = classify(msg, world.env.dir)
    assert lines and lines[0]["recipient"] == "gone@example.net"
    assert "\ufffd" in lines[0]["diagnostic"] and "\ud800" not in lines[0]["diagnostic"]
    rc, _, err, _, _ = run_measured([world.exe, "-c", world.conf, tok], msg, world.env.dir)
    assert rc == 0, err
    raw = subprocess.run(["redis-cli", "-s", world.redis.sock, "--raw", "HGET",
                          keys.supp("global", "gone@example.net"), "detail"],
                         capture_output=True, timeout=30).stdout
    assert b"no such user" in raw, raw
    raw.decode("utf-8")  # strict: raises on invalid UTF-8
    assert b"\xed\xa0\x80" not in raw and b"\xc0\xaf" not in raw and "\ufffd".encode() in raw

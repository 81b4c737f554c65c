"""
NAME
    test_ctl_feedback - what sluice-feedback records, sluicectl shows

DESCRIPTION
    One sluice.conf and a real redis-server (no Postfix, no root): a
    bounce address made by "sluicectl token encode" (lib/token.c) is the
    recipient of a DSN and of an ARF complaint fed to sluice-feedback the
    way pipe(8) does; sluicectl then finds the suppression entries, the
    day's counters, the events, and the DMARC summary of an aggregate
    report.
"""
import base64
import gzip
import subprocess
import time

import pytest

import feedback_helpers
import harness
import keys
import token_helpers


def ctl(conf, *args, input=None):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, input=input, timeout=60)


def start(env):
    redis = env.redis()
    secret = env.secret()
    env.token_keys = token_helpers.read_ring(secret)[0]
    conf = env.file("sluice.conf", (
        'secret_file = "%s"\n%s'
        'domain "example.com" { default_category = "news" }\n'
        'category "news" { subdomain = "news" }\n'
        'tenant "shop1" { subdomain = "shop1" }\n'
        'policyd {\n  strip_tag = true\n  lowercase_local_part = true\n}\n')
        % (secret, redis.conf_section()))
    return redis, conf


def bind(env, redis, token, *addrs):
    """Record addrs as recipients of the token's message (as sluice-milter does)."""
    local = token.split("@")[0]
    token_helpers.bind(redis, env.token_keys[local[2]], local.split("-")[4], addrs)


def feed(conf, data, rcpt):
    r = feedback_helpers.run_feedback(conf, data, rcpt)
    assert r.returncode == 0, r.stderr.decode(errors="replace")


def bounce_address(conf, tenant="shop1"):
    r = ctl(conf, "token", "encode", "--category", "news", "--tenant", tenant)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip() + "@news.example.com"


def dsn(rcpt, token):
    return feedback_helpers.dsn(
        token, feedback_helpers.dsn_record(rcpt, "550 5.1.1 <%s>: Recipient address rejected: User unknown" % rcpt),
        "<%s>: host mx.example.net[192.0.2.1] said: 550 5.1.1 User unknown\n" % rcpt,
        mta="mx.example.net", to=rcpt)


def arf(rcpt, token):
    return feedback_helpers.arf(token, rcpt, to=token)


def test_bounce_and_complaint_show_in_sluicectl(env):
    redis, conf = start(env)
    token = bounce_address(conf)
    assert ctl(conf, "token", "decode", token).returncode == 0
    bind(env, redis, token, "gone@example.org", "angry@example.org")
    feed(conf, dsn("gone@example.org", token), token)
    r = ctl(conf, "suppress", "check", "gone@example.org")
    assert r.returncode == 0, (r.stdout, redis.cli("KEYS", "*"))
    row = r.stdout.strip().split("\n")[1].split()
    h = redis.cli("HGET", keys.supp("global", "gone@example.org"), "reason")
    assert row[:3] == ["global", "gone@example.org", h] and h

    feed(conf, arf("angry@example.org", token), token)
    r = ctl(conf, "suppress", "check", "angry@example.org")
    assert r.returncode == 0
    assert "complaint" in r.stdout

    day = time.strftime("%Y%m%d", time.gmtime())
    r = ctl(conf, "stats", "--tenant", "shop1")
    row = [l.split() for l in r.stdout.split("\n") if l.startswith("shop1")][0]
    assert row[:2] == ["shop1", "news"] and row[3] == "1" and row[5] == "1", r.stdout
    r = ctl(conf, "events", "--count", "10")
    assert "gone@example.org" in r.stdout and "angry@example.org" in r.stdout, r.stdout
    assert day[:4] in r.stdout


def test_bounce_reason_is_an_agreed_reason(env):
    redis, conf = start(env)
    token = bounce_address(conf)
    bind(env, redis, token, "gone@example.org")
    feed(conf, dsn("gone@example.org", token), token)
    assert redis.cli("HGET", keys.supp("global", "gone@example.org"), "reason") == "hard-bounce"


def test_bounce_of_tagged_address_found_as_policyd_would(env):
    # feedback stores the canonical address (lowercased, +tag removed, as
    # policyd's strip_tag and lowercase_local_part say: lib/keyspace.c), so
    # policyd and sluicectl find it under the original spelling.
    redis, conf = start(env)
    token = bounce_address(conf)
    bind(env, redis, token, "Tagged+List@example.org")
    feed(conf, dsn("Tagged+List@example.org", token), token)
    assert redis.cli("EXISTS", keys.supp("global", "tagged@example.org")) == "1"
    r = ctl(conf, "suppress", "check", "Tagged+List@Example.org")
    assert r.returncode == 0, (r.stdout, redis.cli("KEYS", "*supp*"))
    assert "tagged@example.org" in r.stdout
    assert ctl(conf, "suppress", "remove", "Tagged+List@example.org").returncode == 0
    assert redis.cli("EXISTS", keys.supp("global", "tagged@example.org")) == "0"


def test_dmarc_report_summary(env):
    redis, conf = start(env)
    begin = int(time.time()) - 3600
    xml = ("""<?xml version="1.0"?>
<feedback>
  <report_metadata><org_name>isp.example</org_name><email>d@isp.example</email>
    <report_id>r-ctl-1</report_id><date_range><begin>%d</begin><end>%d</end></date_range>
  </report_metadata>
  <policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><pct>100</pct></policy_published>
  <record><row><source_ip>192.0.2.10</source_ip><count>7</count>
    <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers></record>
  <record><row><source_ip>198.51.100.9</source_ip><count>3</count>
    <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated></row>
    <identifiers><header_from>example.com</header_from></identifiers></record>
</feedback>
""" % (begin, begin + 3000)).encode()
    mail = ("""From: noreply-dmarc@isp.example
To: dmarc@news.example.com
Subject: Report Domain: example.com Submitter: isp.example Report-ID: r-ctl-1
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="CC"

--CC
Content-Type: text/plain

DMARC aggregate report.

--CC
Content-Type: application/gzip; name="isp.example!example.com!%d!%d.xml.gz"
Content-Transfer-Encoding: base64

%s
--CC--
""" % (begin, begin + 3000, base64.encodebytes(gzip.compress(xml)).decode())).encode()
    feed(conf, mail, "dmarc@news.example.com")
    r = ctl(conf, "dmarc", "example.com", "--days", "2")
    assert r.returncode == 0
    total = [l.split() for l in r.stdout.split("\n") if l.startswith("TOTAL")][0]
    assert total == ["TOTAL", "1", "10", "7", "3", "70.00%"], r.stdout
    assert "198.51.100.9" in r.stdout and "not authenticated" in r.stdout

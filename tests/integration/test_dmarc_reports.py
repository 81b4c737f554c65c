"""
NAME
    test_dmarc_reports - DMARC aggregate reports: counted by the milter, sent by sluicectl

DESCRIPTION
    sluice-milter with inbound verification, dmarc_reports = true, a real
    redis-server and the zone file as DNS; tests/milter/inbound_verify.lua
    (miltertest) sends a message that passes DMARC (SPF aligned) and one
    that fails it (p=reject, refused). Then "sluicectl dmarc send-reports
    --dry-run DIR" writes the report, and "sluice-feedback --classify"
    reads it back: every field must be what the milter saw. The rua of
    example.com names itself, an external domain without the RFC 9990
    authorization record (no report) and one with it (a report).
    --sendmail pointing at a script that saves its input shows the mail:
    subject, multipart/mixed, the attachment name, the gzip; a second run
    sends nothing (the day is marked sent).
"""
import base64
import email
import gzip
import json
import os
import subprocess
import time

import pytest

import harness
from inbound_fixtures import World, ZONE
from milter_helpers import start_milter, write_conf
import keys

LUA = os.path.join(harness.SRCDIR, "tests", "milter")
AUTHSERV = "mx.sluice.test"
SENDER = "dmarc-reports@bounces.sluice.test"
ORG = "mx.sluice.test"
RUA = "mailto:d@example.com,mailto:x@ext.test,mailto:y@auth.test"


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def world():
    env = harness.Env("dmarcrep")
    try:
        w = World(env)
        text = open(w.zone).read().replace("rua=mailto:d@example.com", "rua=" + RUA)
        text += 'example.com._report._dmarc.auth.test TXT "v=DMARC1"\n'
        w.zone = env.file("report.zone", text)
        w.redis = env.redis()
        conf, sock = write_conf(env, 'milter { socket = "{socket}" socket_mode = "0666" '
                                'internal_networks = {} inbound { verify = true dns_zone = "%s" '
                                'authserv_id = "%s" dmarc_reports = true dmarc_report_sender = "%s" '
                                'dmarc_report_org = "%s" } }\n' % (w.zone, AUTHSERV, SENDER, ORG),
                                redis=w.redis)
        w.conf = conf
        w.proc, spec = start_milter(env, conf, sock)
        w.proc_sock = sock
        r = subprocess.run(["miltertest", "-s", os.path.join(LUA, "inbound_verify.lua"), "-D",
                            "socket=" + spec, "-D", "dir=" + LUA, "-D", "authserv=" + AUTHSERV],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout, r.stderr)
        w.day = time.strftime("%Y%m%d", time.gmtime())
        w.env = env
        yield w
    finally:
        env.close()


def test_milter_counts_rows_and_policy(world):
    rows = world.redis.cli("HGETALL", keys.key("dmarcagg", world.day, "example.com")).split("\n")
    counts = dict(zip(rows[0::2], rows[1::2]))
    assert len(counts) == 2, counts
    fields = sorted(r.split("\t") for r in counts)
    assert fields[0][:9] == ["192.0.2.1", "example.com", "example.com", "pass", "fail", "pass", "",
                             "example.com", "pass"]
    assert fields[1][:9] == ["192.0.2.99", "example.com", "example.com", "reject", "fail", "fail", "",
                             "example.com", "fail"]
    assert set(counts.values()) == {"1"}
    assert int(world.redis.cli("TTL", keys.key("dmarcagg", world.day, "example.com"))) > 86400
    pol = world.redis.cli("HGETALL", keys.key("dmarcpol", world.day, "example.com")).split("\n")
    pol = dict(zip(pol[0::2], pol[1::2]))
    assert pol["p"] == "reject" and pol["rua"] == RUA and pol["adkim"] == "r" and pol["testing"] == "n"


def test_dry_run_report_reads_back_field_for_field(world):
    out = os.path.join(world.env.dir, "dry")
    os.makedirs(out, exist_ok=True)
    r = ctl(world.conf, "dmarc", "send-reports", "--day", world.day, "--dry-run", out)
    assert r.returncode == 0, r.stderr
    # the external destination without authorization gets nothing; with it, it does
    assert "x@ext.test" in r.stderr and "authorization" in r.stderr
    line = [l for l in r.stdout.splitlines() if l.startswith("example.com: ")][0]
    assert line.split()[2:] == ["d@example.com", "y@auth.test"]
    files = os.listdir(out)
    assert len(files) == 1 and files[0].startswith("%s!example.com!" % ORG) and files[0].endswith(".xml.gz")
    path = os.path.join(out, files[0])
    xml = gzip.open(path).read().decode()
    assert 'xmlns="urn:ietf:params:xml:ns:dmarc-2.0"' in xml
    c = subprocess.run([harness.program("feedback", "sluice-feedback"), "--classify", path],
                       capture_output=True, text=True, timeout=60)
    assert c.returncode == 0, c.stderr
    rep = json.loads(c.stdout.splitlines()[0])
    assert rep["kind"] == "dmarc-aggregate"
    assert rep["org_name"] == ORG and rep["email"] == SENDER and rep["version"] == "1.0"
    assert rep["report_id"] == "%s.example.com.%s" % (world.day, ORG)
    assert int(rep["end"]) - int(rep["begin"]) == 86399
    assert files[0] == "%s!example.com!%s!%s!%s.xml.gz" % (ORG, rep["begin"], rep["end"], rep["report_id"])
    pp = rep["policy_published"]
    assert (pp["domain"], pp["p"], pp["sp"], pp["adkim"], pp["aspf"], pp["testing"],
            pp["discovery_method"]) == ("example.com", "reject", "reject", "r", "r", "n", "treewalk")
    recs = sorted(rep["records"], key=lambda x: x["source_ip"])
    assert [(x["source_ip"], x["count"], x["disposition"], x["dkim"], x["spf"], x["header_from"],
             x["envelope_from"]) for x in recs] == [
        ("192.0.2.1", 1, "pass", "fail", "pass", "example.com", "example.com"),
        ("192.0.2.99", 1, "reject", "fail", "fail", "example.com", "example.com")]
    assert recs[0]["auth_results"]["spf"] == [{"domain": "example.com", "scope": "mfrom", "result": "pass"}]
    assert recs[1]["auth_results"]["spf"] == [{"domain": "example.com", "scope": "mfrom", "result": "fail"}]
    assert recs[0]["auth_results"]["dkim"] == [] and recs[0]["reasons"] == []
    # a dry run marks nothing
    assert world.redis.cli("EXISTS", keys.key("dmarcsent", world.day, "example.com")) == "0"


def test_sendmail_message_format_and_no_resend(world):
    saved = os.path.join(world.env.dir, "mail.saved")
    script = world.env.file("sendmail.sh", "#!/bin/sh\necho \"$@\" > %s.args\ncat > %s\n" % (saved, saved),
                            0o755)
    r = ctl(world.conf, "dmarc", "send-reports", "--day", world.day, "--sendmail", script)
    assert r.returncode == 0, r.stderr
    assert open(saved + ".args").read().split() == ["-f", SENDER, "-i", "--", "d@example.com", "y@auth.test"]
    msg = email.message_from_bytes(open(saved, "rb").read())
    rid = "%s.example.com.%s" % (world.day, ORG)
    assert msg["Subject"] == "Report Domain: example.com Submitter: %s Report-ID: <%s>" % (ORG, rid)
    assert msg["From"] == SENDER and msg.get_content_type() == "multipart/mixed"
    att = [p for p in msg.walk() if p.get_filename()]
    assert len(att) == 1 and att[0].get_content_type() == "application/gzip"
    assert att[0].get_filename().startswith("%s!example.com!" % ORG)
    assert b"<report_id>%s</report_id>" % rid.encode() in gzip.decompress(att[0].get_payload(decode=True))
    assert world.redis.cli("EXISTS", keys.key("dmarcsent", world.day, "example.com")) == "1"
    os.unlink(saved)
    r = ctl(world.conf, "dmarc", "send-reports", "--day", world.day, "--sendmail", script)
    assert r.returncode == 0 and not os.path.exists(saved), r.stdout
    assert "0 reports sent" in r.stdout


def test_failed_sendmail_leaves_the_day_unmarked(world):
    world.redis.cli("DEL", keys.key("dmarcsent", world.day, "example.com"))
    r = ctl(world.conf, "dmarc", "send-reports", "--day", world.day, "--sendmail", "/bin/false")
    assert r.returncode == 1 and "did not accept" in r.stderr
    assert world.redis.cli("EXISTS", keys.key("dmarcsent", world.day, "example.com")) == "0"


def test_markup_in_a_row_is_escaped_and_read_back(world):
    """A selector is the sender's text: XML markup in it stays text."""
    day = "20261101"
    world.redis.cli("HSET", keys.key("dmarcpol", day, "example.com"), "p", "none", "rua", "mailto:d@example.com")
    world.redis.cli("HSET", keys.key("dmarcagg", day, "example.com"),
                    "192.0.2.7\texample.com\texample.com\tnone\tfail\tfail\t\texample.com\tfail\t"
                    "example.com/a<b>&c\"/fail", "3")
    out = os.path.join(world.env.dir, "dry2")
    os.makedirs(out, exist_ok=True)
    r = ctl(world.conf, "dmarc", "send-reports", "--day", day, "--dry-run", out)
    assert r.returncode == 0, r.stderr
    path = os.path.join(out, os.listdir(out)[0])
    c = subprocess.run([harness.program("feedback", "sluice-feedback"), "--classify", path],
                       capture_output=True, text=True, timeout=60)
    rec = json.loads(c.stdout.splitlines()[0])["records"][0]
    assert rec["count"] == 3 and rec["auth_results"]["dkim"][0]["selector"] == 'a<b>&c"'
    assert json.loads(c.stdout.splitlines()[0])["policy_published"]["sp"] == "none"  # required


def test_bad_day_and_missing_sender_are_refused(world):
    r = ctl(world.conf, "dmarc", "send-reports", "--day", "2026-12-01")
    assert r.returncode != 0 and "usage" in r.stderr
    conf = world.env.file("nosender.conf", open(world.conf).read().replace(
        'dmarc_report_sender = "%s"' % SENDER, ""), 0o600)
    r = ctl(conf, "dmarc", "send-reports", "--dry-run", world.env.dir)
    assert r.returncode == 2 and "dmarc_report_sender" in r.stderr


@pytest.fixture(scope="module")
def pfworld():
    """Real Postfix in front of the milter: DKIM rows and the ARC override reason."""
    env = harness.Env("dmarcrep-pf")
    try:
        w = World(env)
        w.redis = env.redis()
        w.conf, sock = write_conf(env, 'milter { socket = "{socket}" socket_mode = "0666" '
                                  'internal_networks = {} inbound { verify = true dns_zone = "%s" '
                                  'authserv_id = "%s" dmarc_reports = true dmarc_report_sender = "%s" '
                                  'dmarc_report_org = "%s" trusted_arc_sealers = {"fwd.test"} } }\n'
                                  % (w.zone, AUTHSERV, SENDER, ORG), redis=w.redis)
        w.milter, spec = start_milter(env, w.conf, sock)
        w.sink = env.sink()
        w.pf = env.postfix(relay=w.sink, milter=spec, main={
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8", "mynetworks": "127.0.0.0/8 192.0.2.0/24"})
        w.env = env
        yield w
    finally:
        env.close()


def test_dkim_rows_and_arc_override_reason_through_postfix(pfworld):
    from inbound_fixtures import BAD_IP, forwarded, message
    from test_inbound_postfix import deliver
    deliver(pfworld, "a@example.com", pfworld.sign(message()), BAD_IP)   # DKIM only
    deliver(pfworld, "a@example.com", forwarded(pfworld), BAD_IP)        # ARC override
    day = time.strftime("%Y%m%d", time.gmtime())
    out = os.path.join(pfworld.env.dir, "dry")
    os.makedirs(out, exist_ok=True)
    r = ctl(pfworld.conf, "dmarc", "send-reports", "--day", day, "--dry-run", out)
    assert r.returncode == 0, r.stderr
    path = os.path.join(out, os.listdir(out)[0])
    c = subprocess.run([harness.program("feedback", "sluice-feedback"), "--classify", path],
                       capture_output=True, text=True, timeout=60)
    recs = json.loads(c.stdout.splitlines()[0])["records"]
    assert len(recs) == 2, recs
    dk = [x for x in recs if x["dkim"] == "pass"][0]
    arc = [x for x in recs if x["dkim"] == "fail"][0]
    assert (dk["disposition"], dk["spf"], dk["reasons"]) == ("pass", "fail", [])
    assert dk["auth_results"]["dkim"] == [{"domain": "example.com", "selector": "r1", "human_result": "",
                                          "result": "pass"}]
    assert arc["disposition"] == "none" and arc["source_ip"] == BAD_IP
    assert arc["reasons"] == [{"type": "trusted_forwarder", "comment": "arc=pass sealer=fwd.test"}]
    assert arc["auth_results"]["dkim"][0]["result"] == "fail"


def test_rows_are_capped_per_domain_and_day(world):
    """A sender varying what it sends cannot grow the hash without bound."""
    key = keys.key("dmarcagg", world.day, "example.com")
    world.redis.cli("EVAL", "for i = 1, 10000 do redis.call('HSET', KEYS[1], 'filler' .. i, 1) end", 1, key)
    before = int(world.redis.cli("HLEN", key))
    r = subprocess.run(["miltertest", "-s", os.path.join(LUA, "inbound_verify.lua"), "-D",
                        "socket=unix:" + world.proc_sock, "-D", "dir=" + LUA, "-D", "authserv=" + AUTHSERV],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    # the two known rows are counted again, nothing new is added but "overflow"
    assert int(world.redis.cli("HLEN", key)) == before
    rows = [f for f in world.redis.cli("HKEYS", key).split("\n") if f.startswith("192.0.2.")]
    assert sorted(world.redis.cli("HGET", key, f) for f in rows) == ["2", "2"]
    world.redis.cli("HDEL", key, rows[0])
    world.redis.cli("EVAL", "redis.call('HSET', KEYS[1], 'filler0', 1)", 1, key)
    r = subprocess.run(["miltertest", "-s", os.path.join(LUA, "inbound_verify.lua"), "-D",
                        "socket=unix:" + world.proc_sock, "-D", "dir=" + LUA, "-D", "authserv=" + AUTHSERV],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    assert world.redis.cli("HGET", key, "overflow") == "1"


# ---- the report read by parsers Sluice did not write (Debian's) ----
#
# Debian 12 ships no RFC 9990 (dmarc-2.0) schema. libmail-dmarc-perl ships
# RFC 7489 Appendix C's (namespace http://dmarc.org/dmarc-xml/0.1), which
# libxml2 cannot compile as published (its type references have no
# namespace prefix and no default namespace is declared): the test adds
# that declaration and elementFormDefault="qualified" to a temporary copy,
# moves a copy of the report into that namespace and validates. Every
# error left must be one of RFC 9990's changes to RFC 7489 (ALLOWED); any
# other (an element out of order, a bad value, a missing element) fails.
XSD_7489 = "/usr/share/perl5/auto/share/dist/Mail-DMARC/rua-schema.xsd"
NS_7489 = "http://dmarc.org/dmarc-xml/0.1"
ALLOWED = {
    ("generator", "not expected"),        # RFC 9990 adds report_metadata/generator
    ("discovery_method", "not expected"),  # ... and policy_published/discovery_method, np, testing
    ("source_ip", "pattern"),              # ... and IPv6 with zero compression (RFC 5952)
    ("identifiers", "missing"),            # ... and makes envelope_from optional
    ("disposition", "enumeration"),        # ... and the disposition "pass"
}
ROWS_DAY = "20261102"
ROWS = {
    # ip, header_from, envelope_from, disposition, dkim, spf, reason, spf domain, spf result, sigs
    "192.0.2.7\texample.com\texample.com\tpass\tpass\tfail\t\texample.com\tsoftfail\t"
    "example.com/s1/pass,other.test/s2/fail": "3",
    "2001:db8::5\tsub.example.com\t\treject\tfail\tfail\t\thelo.test\tnone\t": "1",
    "192.0.2.9\texample.com\tfwd.test\tnone\tfail\tfail\tarc=fwd.test\tfwd.test\tpass\texample.com/s1/fail": "2",
}

# Mail::DMARC's report parser, printing what it read as JSON
MAIL_DMARC = r'''
use Mail::DMARC::Report::Receive; use JSON::PP; use Scalar::Util qw(reftype);
sub plain { my $x = shift; my $t = reftype($x) // "";
  return [map { plain($_) } @$x] if $t eq "ARRAY";
  return {map { ($_ => plain($x->{$_})) } keys %$x} if $t eq "HASH"; return $x }
local $/; my $xml = <STDIN>; my $r = Mail::DMARC::Report::Receive->new; $r->handle_body($xml);
my $a = $r->report->aggregate;
print JSON::PP->new->canonical->encode({meta => plain($a->metadata), pp => plain($a->policy_published),
  records => plain($a->record)});
'''


@pytest.fixture(scope="module")
def rows_report(world):
    """The report of ROWS: its XML text."""
    world.redis.cli("HSET", keys.key("dmarcpol", ROWS_DAY, "example.com"), "p", "reject", "sp", "quarantine",
                    "np", "reject", "adkim", "s", "aspf", "r", "testing", "n", "rua", "mailto:d@example.com")
    for row, count in ROWS.items():
        world.redis.cli("HSET", keys.key("dmarcagg", ROWS_DAY, "example.com"), row, count)
    out = os.path.join(world.env.dir, "dry-rows")
    os.makedirs(out, exist_ok=True)
    r = ctl(world.conf, "dmarc", "send-reports", "--day", ROWS_DAY, "--dry-run", out)
    assert r.returncode == 0, r.stderr
    return gzip.open(os.path.join(out, os.listdir(out)[0])).read().decode()


def test_report_against_debians_rfc7489_schema(world, rows_report):
    d = world.env.dir
    xsd = open(XSD_7489).read().replace('targetNamespace="%s"' % NS_7489, 'xmlns="%s" elementFormDefault="qualified" '
                                        'targetNamespace="%s"' % (NS_7489, NS_7489), 1)
    assert 'xmlns="%s"' % NS_7489 in xsd
    xsd_path = world.env.file("rua-7489.xsd", xsd)
    assert rows_report.count('xmlns="urn:ietf:params:xml:ns:dmarc-2.0"') == 1
    doc = world.env.file("report-7489ns.xml", rows_report.replace("urn:ietf:params:xml:ns:dmarc-2.0", NS_7489))
    r = subprocess.run(["xmllint", "--noout", "--schema", xsd_path, doc], capture_output=True, text=True,
                       timeout=60, cwd=d)
    errors = set()
    for line in r.stderr.splitlines():
        if "Schemas validity error" not in line:
            continue
        elem = line.split(" element ", 1)[1].split(":", 1)[0]
        kind = ("not expected" if "is not expected" in line else "pattern" if "'pattern'" in line
                else "enumeration" if "'enumeration'" in line else "missing" if "Missing child" in line
                else line)
        errors.add((elem, kind))
    assert "Schemas parser error" not in r.stderr, r.stderr
    assert errors == ALLOWED, r.stderr


def test_report_read_by_mail_dmarc(rows_report):
    """libmail-dmarc-perl's parser (RFC 7489 era: it matches names in no namespace, so it reads a copy
    without the xmlns attribute) finds every field it knows."""
    r = subprocess.run(["perl", "-e", MAIL_DMARC], input=rows_report.replace(
        ' xmlns="urn:ietf:params:xml:ns:dmarc-2.0"', "", 1), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    m = got["meta"]
    assert (m["org_name"], m["email"], m["report_id"]) == (ORG, SENDER, "%s.example.com.%s" % (ROWS_DAY, ORG))
    assert int(m["date_range"]["end"]) - int(m["date_range"]["begin"]) == 86399
    pp = got["pp"]
    assert (pp["domain"], pp["p"], pp["sp"], pp["adkim"], pp["aspf"]) == ("example.com", "reject", "quarantine",
                                                                       "s", "r")
    recs = {x["row"]["source_ip"]: x for x in got["records"]}
    assert set(recs) == {"192.0.2.7", "2001:db8::5", "192.0.2.9"}
    for row, count in ROWS.items():
        f = row.split("\t")
        x = recs[f[0]]
        pe = x["row"]["policy_evaluated"]
        assert x["row"]["count"] == count
        # Mail::DMARC knows RFC 7489's dispositions only: RFC 9990's "pass" reads as "none"
        assert pe["disposition"] == (f[3] if f[3] != "pass" else "none")
        assert (pe["dkim"], pe["spf"]) == (f[4], f[5])
        assert pe["reason"] == ([{"type": "trusted_forwarder", "comment": "arc=pass sealer=fwd.test"}]
                                if f[6] else [])
        assert (x["identifiers"]["header_from"], x["identifiers"]["envelope_from"] or "") == (f[1], f[2])
        assert x["auth_results"]["spf"] == [{"domain": f[7], "scope": "mfrom", "result": f[8]}]
        sigs = [s.split("/") for s in f[9].split(",")] if f[9] else []
        # its DKIM loop reads every <dkim> element's fields from the first one (Mail::DMARC 1.20211209)
        assert [(s["domain"], s["selector"], s["result"]) for s in x["auth_results"]["dkim"]] == \
            ([tuple(sigs[0])] * len(sigs) if sigs else [])


def test_report_read_by_dmarc_cat(rows_report):
    """dmarc-cat (Go, namespace-blind) reads the report as sent; -N: no DNS lookups of the addresses."""
    r = subprocess.run(["dmarc-cat", "-N", "-t", "xml", "-"], input=rows_report, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Reporting by: %s — %s" % (ORG, SENDER) in out
    assert "From 2026-11-02 00:00:00 +0000 UTC to 2026-11-02 23:59:59 +0000 UTC" in out
    assert "Domain: example.com" in out and "Policy: p=reject; dkim=s; spf=r" in out
    table = {l.split()[0]: l.split() for l in out.splitlines()[out.splitlines().index(
        [l for l in out.splitlines() if l.startswith("IP ")][0]) + 1:] if l.strip()}
    assert set(table) == {"192.0.2.7", "2001:db8::5", "192.0.2.9"}
    for row, count in ROWS.items():
        f = row.split("\t")
        cols = table[f[0]]
        # IP Count From ... RSPF: the count, the header From, the SPF result; RDKIM the last signature's
        assert (cols[1], cols[2], cols[-1]) == (count, f[1], f[8]), cols
        if f[9]:
            assert cols[-2] == f[9].split(",")[-1].split("/")[2], cols


def test_rows_report_read_back_by_sluice_feedback(world, rows_report):
    """The same report through our own reader: every field, np, IPv6, a null envelope_from, two DKIM rows."""
    path = world.env.file("rows.xml", rows_report)
    c = subprocess.run([harness.program("feedback", "sluice-feedback"), "--classify", path],
                       capture_output=True, text=True, timeout=60)
    assert c.returncode == 0, c.stderr
    rep = json.loads(c.stdout.splitlines()[0])
    pp = rep["policy_published"]
    assert (pp["domain"], pp["p"], pp["sp"], pp["np"], pp["adkim"], pp["aspf"], pp["testing"],
            pp["discovery_method"]) == ("example.com", "reject", "quarantine", "reject", "s", "r", "n", "treewalk")
    recs = {x["source_ip"]: x for x in rep["records"]}
    assert set(recs) == {"192.0.2.7", "2001:db8::5", "192.0.2.9"}
    for row, count in ROWS.items():
        f = row.split("\t")
        x = recs[f[0]]
        assert (x["count"], x["header_from"], x["envelope_from"], x["disposition"], x["dkim"], x["spf"]) == \
            (int(count), f[1], f[2], f[3], f[4], f[5]), x
        assert x["reasons"] == ([{"type": "trusted_forwarder", "comment": "arc=pass sealer=fwd.test"}]
                                if f[6] else [])
        assert x["auth_results"]["spf"] == [{"domain": f[7], "scope": "mfrom", "result": f[8]}]
        sigs = [s.split("/") for s in f[9].split(",")] if f[9] else []
        assert [(s["domain"], s["selector"], s["result"]) for s in x["auth_results"]["dkim"]] == \
            [tuple(s) for s in sigs]

"""
NAME
    test_relay_policies - per-tenant relay policies through Postfix with real TLS

DESCRIPTION
    One world for the module: redis-server, smtp-sink, sluice-policyd and
    sluice-milter on one sluice.conf, and a throwaway Postfix whose smtpd
    offers STARTTLS with a certificate generated here, Cyrus SASL logins,
    and both daemons. Clients are smtplib, with starttls() when a test
    says so; the IP-authenticated client connects from 127.0.0.2 (loopback
    source address), the others from 127.0.0.1.

    - tenant shop1 (SASL user alice) requires TLS: a plain-text
      submission is refused with 530 5.7.10, the same mail after
      STARTTLS is delivered; an envelope sender outside its domains is
      refused with 550 5.7.1 (policyd), a From outside them with 5.7.1
      (milter).
    - tenant office is IP-authenticated (clients = 127.0.0.2, no SASL):
      its mail is delivered signed for its own domain only (dkimpy), the
      milter and policyd both name the tenant, its per-tenant daily limit
      applies (the third message is refused), its envelope sender and its
      From are bound to its domains; 127.0.0.1 is not mapped.
    - live in Redis: HSET sluice:tenant:office require_tls yes refuses
      the office's plain-text mail within a second; an invalid value is
      logged once and ignored (the config applies).
    - live allowed_senders (sluicectl tenant policy) reaches the milter's
      From check too: "any" lets the office's foreign From through,
      "users" narrows alice's From to her own name (a null envelope
      sender, so only the milter decides), an invalid value is logged
      once by the milter and the config applies.
    - the configuration check reports a bad clients entry and a bad
      allowed_senders at their lines, both in one run.
"""
import os
import smtplib
import ssl
import subprocess
import uuid

import pytest

import conftest
import harness
import keys

CONF = """
log_level = "info"
secret_file = "%(secret)s"
%(redis)s
domain "shop1.test" {
  dkim "s1" { key = "%(k1)s" }
}
domain "office.test" {
  dkim "o1" { key = "%(k2)s" }
}
domain "other.test" {
  dkim "x1" { key = "%(k3)s" }
}
category "transactional" { feedback_type = "tx" }
tenant "shop1" {
  domains = { "shop1.test" }
  sasl_users = { "alice" }
  require_tls = yes
  allowed_senders = domains
}
tenant "office" {
  domains = { "office.test" }
  clients = { "127.0.0.2/32" }
  default_category = "transactional"
}
tenant "lab" {
  domains = { "lab.test" }
  clients = { "127.0.0.3" }
  client_ports = { %(lab_port)d }
}
policyd {
  listen = { "unix:%(psock)s" }
  timeout = 5000          # not the 100 ms default, which fails open on a loaded machine (test_policyd_util)
  limit "office-day" {
    key = '${tenant}'
    match = "tenant=office"
    window = "day"
    max = 2
    unit = "messages"
    action = "reject"
  }
}
milter {
  socket = "unix:%(msock)s"
  socket_mode = "0666"
}
"""

SASL = {"alice": "alicepw"}


class World:
    pass


def make_cert(env):
    """A self-signed certificate and key for smtpd, readable by Postfix."""
    key = os.path.join(env.dir, "smtpd.key")
    cert = os.path.join(env.dir, "smtpd.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=mta.sluice.test", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture(scope="module")
def world():
    conftest.require_root()
    env = harness.Env("relay-policies")
    try:
        w = World()
        w.env = env
        w.redis = env.redis()
        keys = [harness.dkim_keypair(env, n, "rsa") for n in ("shop1", "office", "other")]
        w.records = {"s1._domainkey.shop1.test": keys[0][1],
                     "o1._domainkey.office.test": keys[1][1],
                     "x1._domainkey.other.test": keys[2][1]}
        psock = os.path.join(env.dir, "policyd.sock")
        msock = os.path.join(env.dir, "milter.sock")
        w.lab_port = harness.free_port()     # a second smtpd: the only one where lab maps
        w.conf = env.file("sluice.conf", CONF % {
            "secret": env.secret(), "redis": w.redis.conf_section(), "k1": keys[0][0],
            "k2": keys[1][0], "k3": keys[2][0], "psock": psock, "msock": msock,
            "lab_port": w.lab_port}, 0o600)
        w.policyd = env.daemon("policyd", [harness.program("policyd", "sluice-policyd"), "-f",
                                           "-c", w.conf], ready=lambda: harness.can_connect(psock))
        w.milter = env.daemon("milter", [harness.program("milter", "sluice-milter"), "-f", "-c",
                                         w.conf], ready=lambda: harness.can_connect(msock))
        w.sink = env.sink()
        cert, key = make_cert(env)
        w.pf = env.postfix(relay=w.sink, milter="unix:" + msock, policy="unix:" + psock,
                           sasl_users=SASL,
                           master=["127.0.0.1:%d/inet=127.0.0.1:%d inet n - n - - smtpd"
                                   % (w.lab_port, w.lab_port)],
                           main={"smtpd_tls_security_level": "may",
                                 "smtpd_tls_cert_file": cert, "smtpd_tls_key_file": key,
                                 "smtpd_tls_loglevel": "1"})
        yield w
    finally:
        env.close()


def message(from_addr, subject):
    return ("From: %s\r\nTo: rcpt@remote.test\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n"
            "\r\nHello.\r\n" % (from_addr, subject, subject)).encode()


def send(w, env_from, from_addr=None, tls=False, auth=None, source="127.0.0.1", port=None):
    """One message; returns its Subject. SMTP errors propagate."""
    subject = "r-" + uuid.uuid4().hex[:12]
    with smtplib.SMTP("127.0.0.1", port or w.pf.port, local_hostname="client.sluice.test", timeout=60,
                      source_address=(source, 0)) as s:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s.starttls(context=ctx)
        if auth:
            s.login(*auth)
        s.sendmail(env_from, ["rcpt@remote.test"], message(from_addr or env_from, subject))
    return subject


def refused_rcpt(w, env_from, **kw):
    """The (code, text) of a refused RCPT (the only recipient)."""
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        send(w, env_from, **kw)
    code, text = e.value.recipients["rcpt@remote.test"]
    return code, text.decode()


def received(w, subject, timeout=20):
    def find():
        for envelope, raw in w.sink.messages():
            if ("Subject: " + subject).encode() in raw:
                return envelope, raw
        return None
    return harness.wait_for(find, timeout, "message %s at smtp-sink" % subject)


def reset_quota(w):
    """Forget the office's day counter (the tests share one world)."""
    for k in w.redis.cli("KEYS", keys.key("quota", "office-day", "*", "*")).split():
        w.redis.cli("DEL", k)


def policyd_line(w, needle):
    return [l for l in w.policyd.output().splitlines() if " request: " in l and needle in l]


def test_tls_required_plain_refused(world):
    code, text = refused_rcpt(world, "app@shop1.test", auth=("alice", "alicepw"))
    assert code == 530 and "5.7.10" in text and "STARTTLS" in text, (code, text)
    assert any("relay policy" in l and "sasl=alice" in l for l in policyd_line(world, "530 5.7.10"))


def test_tls_required_after_starttls_delivered(world):
    subject = send(world, "app@shop1.test", tls=True, auth=("alice", "alicepw"))
    envelope, raw = received(world, subject)
    results = harness.dkim_verify(raw, world.records)
    assert ("shop1.test", "s1", "rsa-sha256", True) in results, results
    # the session was encrypted: Postfix says so, and policyd let it through
    assert "TLS connection established from" in world.pf.log()
    assert any('action="DUNNO"' in l for l in policyd_line(world, "sasl=alice"))


def test_sasl_envelope_sender_outside_domains(world):
    code, text = refused_rcpt(world, "app@other.test", tls=True, auth=("alice", "alicepw"))
    assert code == 550 and "5.7.1" in text and "app@other.test" in text, (code, text)


def test_sasl_from_outside_domains(world):
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(world, "app@shop1.test", from_addr="boss@other.test", tls=True,
             auth=("alice", "alicepw"))
    assert e.value.smtp_code == 550 and b"5.7.1" in e.value.smtp_error, e.value


def test_ip_client_mapped_signed_and_limited(world):
    reset_quota(world)
    first = send(world, "printer@office.test", source="127.0.0.2")
    _, raw = received(world, first)
    results = harness.dkim_verify(raw, world.records)
    assert results == [("office.test", "o1", "rsa-sha256", True)], results
    assert harness.header_values(raw, "Feedback-ID")[0].startswith("tx:transactional:office:")
    assert any("tenant=office" in l and "from=<printer@office.test>" in l
               for l in policyd_line(world, "state=RCPT")), world.policyd.output()
    world.milter.wait_output("tenant=office")
    # the tenant's daily limit of 2 messages follows the IP client
    send(world, "scanner@office.test", source="127.0.0.2")
    code, text = refused_rcpt(world, "printer@office.test", source="127.0.0.2")
    assert code == 554 and "office-day" in text, (code, text)
    reset_quota(world)


def test_ip_client_foreign_senders_refused(world):
    code, text = refused_rcpt(world, "printer@other.test", source="127.0.0.2")
    assert code == 550 and "5.7.1" in text, (code, text)
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(world, "printer@office.test", from_addr="ceo@other.test", source="127.0.0.2")
    assert e.value.smtp_code == 550 and b"5.7.1" in e.value.smtp_error, e.value
    reset_quota(world)


def test_client_ports_scope_the_mapping(world):
    """lab's address is lab only on its listener (policy server_port, milter {daemon_port})."""
    harness.wait_for(lambda: harness.can_connect(("127.0.0.1", world.lab_port)), 10, "lab smtpd")
    subject = send(world, "bot@lab.test", source="127.0.0.3", port=world.lab_port)
    received(world, subject)
    line = policyd_line(world, "from=<bot@lab.test>")[-1]
    assert "tenant=lab" in line, line
    # the From must be lab's: the milter binds it on that listener
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(world, "bot@lab.test", from_addr="x@office.test", source="127.0.0.3",
             port=world.lab_port)
    assert e.value.smtp_code == 550 and b"client 127.0.0.3" in e.value.smtp_error, e.value
    # on the main listener the same address is an internal client, no tenant
    send(world, "bot@lab.test", from_addr="x@office.test", source="127.0.0.3")
    line = policyd_line(world, "from=<bot@lab.test>")[-1]
    assert "tenant=-" in line, line


def test_other_address_not_mapped(world):
    subject = send(world, "printer@office.test")   # from 127.0.0.1: internal, not office
    received(world, subject)
    lines = policyd_line(world, "from=<printer@office.test>")
    assert lines and "tenant=-" in lines[-1], lines


def test_live_require_tls(world):
    reset_quota(world)
    world.redis.cli("HSET", keys.key("tenant", "office"), "require_tls", "yes")
    try:
        def refused():
            reset_quota(world)
            try:
                send(world, "printer@office.test", source="127.0.0.2")
                return False
            except smtplib.SMTPRecipientsRefused as e:
                return e.recipients["rcpt@remote.test"][0] == 530
        harness.wait_for(refused, 10, "live require_tls")
        subject = send(world, "printer@office.test", tls=True, source="127.0.0.2")
        received(world, subject)
        # an invalid value: logged once with key and field, the config (no TLS) applies
        world.redis.cli("HSET", keys.key("tenant", "office"), "require_tls", "maybe")

        def accepted():
            reset_quota(world)
            try:
                send(world, "printer@office.test", source="127.0.0.2")
                return True
            except smtplib.SMTPRecipientsRefused:
                return False
        harness.wait_for(accepted, 10, "invalid live value ignored")
        world.policyd.wait_output('tenant office (its Redis hash) field require_tls: invalid require_tls "maybe"')
        reset_quota(world)
        send(world, "printer@office.test", source="127.0.0.2")
        send(world, "printer@office.test", source="127.0.0.2")
        assert world.policyd.output().count('invalid require_tls "maybe"') == 1
    finally:
        world.redis.cli("DEL", keys.key("tenant", "office"))
        reset_quota(world)


def from_refused(w, env_from, from_addr, **kw):
    """True when the milter refused the message at end of headers (550 5.7.1)."""
    reset_quota(w)
    try:
        subject = send(w, env_from, from_addr=from_addr, **kw)
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 550 and b"5.7.1" in e.smtp_error, e
        return True
    received(w, subject)
    return False


def test_live_allowed_senders_reach_the_milter(world):
    office = keys.key("tenant", "office")
    shop1 = keys.key("tenant", "shop1")
    alice = dict(tls=True, auth=("alice", "alicepw"))
    try:
        # config: an IP client's From is bound to its domains
        assert from_refused(world, "printer@office.test", "ceo@other.test", source="127.0.0.2")
        r = sluicectl(world, "tenant", "policy", "office", "allowed_senders=any")
        assert r.returncode == 0, r
        harness.wait_for(lambda: not from_refused(world, "printer@office.test", "ceo@other.test",
                                                  source="127.0.0.2"), 10, "live any in the milter")
        # narrowing: alice (config: domains) may then only use her own name as From
        assert not from_refused(world, "", "app@shop1.test", **alice)
        r = sluicectl(world, "tenant", "policy", "shop1", "allowed_senders=users")
        assert r.returncode == 0, r
        harness.wait_for(lambda: from_refused(world, "", "app@shop1.test", **alice), 10,
                         "live users in the milter")
        # an invalid value written by hand: logged once by the milter, the config applies
        world.redis.cli("HSET", office, "allowed_senders", "everyone")
        harness.wait_for(lambda: from_refused(world, "printer@office.test", "ceo@other.test",
                                              source="127.0.0.2"), 10, "invalid value ignored")
        assert from_refused(world, "printer@office.test", "ceo@other.test", source="127.0.0.2")
        line = "%s field allowed_senders: invalid allowed_senders \"everyone\"" % office
        out = world.milter.wait_output(line)
        assert out.count(line) == 1, out
    finally:
        world.redis.cli("DEL", office, shop1)
        reset_quota(world)


def test_config_errors_at_their_lines(env):
    redis = env.redis()
    text = (redis.conf_section() + 'tenant "a" {\n  clients = { "10.0.0.0/33" }\n}\n'
            'tenant "b" {\n  allowed_senders = "everyone"\n}\n'
            'tenant "c" {\n  clients = { "10.0.0.0/8" }\n  client_ports = { "smtp" }\n}\n'
            'policyd {\n  listen = { "unix:%s" }\n}\n' % os.path.join(env.dir, "p.sock"))
    first = text.count("\n", 0, text.index("clients")) + 1
    second = text.count("\n", 0, text.index("allowed_senders")) + 1
    third = text.count("\n", 0, text.index("client_ports")) + 1
    path = env.file("bad.conf", text)
    r = subprocess.run([harness.program("policyd", "sluice-policyd"), "-n", "-c", path],
                       capture_output=True, text=True)
    assert r.returncode == 78, r.stderr
    assert ('%s:%d: tenant a: clients "10.0.0.0/33"' % (path, first)) in r.stderr, r.stderr
    assert ('%s:%d: tenant b: allowed_senders "everyone"' % (path, second)) in r.stderr, r.stderr
    assert ('%s:%d: tenant c: client_ports "smtp"' % (path, third)) in r.stderr, r.stderr


def sluicectl(w, *args):
    return subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_sluicectl_tenant_policy(world):
    try:
        r = sluicectl(world, "tenant", "policy", "office", "require_tls=maybe")
        assert r.returncode == 65 and 'invalid require_tls "maybe"' in r.stderr, r
        assert world.redis.cli("HEXISTS", keys.key("tenant", "office"), "require_tls") == "0"
        r = sluicectl(world, "tenant", "policy", "office")
        assert r.returncode == 0, r
        assert "require_tls: no (config)" in r.stdout, r.stdout
        assert "allowed_senders: unset (domains for IP clients) (config)" in r.stdout, r.stdout
        assert "clients: 127.0.0.2/32" in r.stdout, r.stdout
        r = sluicectl(world, "tenant", "policy", "office", "require_tls=yes", "allowed_senders=any")
        assert r.returncode == 0, r
        assert "require_tls: yes (redis)" in r.stdout and "allowed_senders: any (redis)" in r.stdout
        assert world.redis.cli("HGET", keys.key("tenant", "office"), "allowed_senders") == "any"
        world.redis.cli("HSET", keys.key("tenant", "office"), "allowed_senders", "everyone")
        r = sluicectl(world, "tenant", "policy", "office")
        assert "allowed_senders: unset (domains for IP clients) (config; redis value ignored" in r.stdout
        r = sluicectl(world, "tenant", "show", "office")
        assert 'warning: invalid allowed_senders "everyone"' in r.stdout, r.stdout
        r = sluicectl(world, "tenant", "policy", "office", "require_tls=default",
                      "allowed_senders=default")
        assert r.returncode == 0 and "require_tls: no (config)" in r.stdout, r
        assert world.redis.cli("EXISTS", keys.key("tenant", "office")) == "0"
    finally:
        world.redis.cli("DEL", keys.key("tenant", "office"))


def test_google_workspace_example_loads_and_acts(env):
    """contrib/google-workspace/google-workspace.conf: Google's addresses are the tenant, TLS, senders."""
    from test_policyd_util import policy_query
    redis = env.redis()
    text = open(os.path.join(harness.SRCDIR, "contrib", "google-workspace", "google-workspace.conf")).read()
    key, _ = harness.dkim_keypair(env, "gw2026", "rsa")
    psock = os.path.join(env.dir, "gw-policy.sock")
    msock = os.path.join(env.dir, "gw-milter.sock")
    text = text.replace('"/etc/sluice/keys/example.com.gw2026.pem"', '"%s"' % key)
    text = text.replace("unix:/var/spool/postfix/sluice/policy.sock", "unix:" + psock)
    text = text.replace("\npolicyd {\n", "\npolicyd {\n  timeout = 5000\n", 1)   # not 100 ms: a loaded machine
    assert key in text and psock in text and "timeout = 5000" in text
    conf = env.file("gw.conf", redis.conf_section() + 'secret_file = "%s"\n' % env.secret() + text
                    + 'milter {\n  socket = "unix:%s"\n}\n' % msock, 0o600)
    for part, name in (("policyd", "sluice-policyd"), ("milter", "sluice-milter")):
        r = subprocess.run([harness.program(part, name), "-n", "-c", conf], capture_output=True,
                           text=True)
        assert r.returncode == 0, (name, r.stderr)
    proc = env.daemon("gw-policyd", [harness.program("policyd", "sluice-policyd"), "-f", "-c", conf],
                      ready=lambda: harness.can_connect(psock))
    harness.wait_for(lambda: "limit gw-user-day: loaded" in proc.output(), 10, "limits seeded")
    google = {"client_address": "209.85.220.41", "sender": "ann@example.com",
              "recipient": "bob@remote.test", "server_port": "2525"}
    assert policy_query(psock, google).startswith("530 5.7.10")
    tls = dict(google, encryption_protocol="TLSv1.3")
    assert policy_query(psock, tls) == "DUNNO"
    assert policy_query(psock, dict(tls, client_address="2607:f8b0:4864:20::62b")) == "DUNNO"
    assert policy_query(psock, dict(tls, sender="eve@gmail.com")).startswith("550 5.7.1")
    # Google on port 25 (inbound mail), or another address: not the tenant
    assert policy_query(psock, dict(google, server_port="25", sender="x@gmail.com")) == "DUNNO"
    assert policy_query(psock, dict(google, client_address="198.51.100.1")) == "DUNNO"
    lines = [l for l in proc.output().splitlines() if " request: " in l]
    assert "tenant=workspace" in lines[1] and "tenant=-" in lines[-1], lines
    # the tenant's limits were charged for the accepted recipients
    assert redis.cli("EXISTS", keys.key("rate", "gw-user-day", "ann@example.com")) == "1"


def test_monitor_mode_logs_instead_of_refusing(world):
    from test_policyd_util import policy_query
    sock = os.path.join(world.env.dir, "policyd.sock")
    plain = {"client_address": "127.0.0.2", "sender": "printer@other.test",
             "recipient": "rcpt@remote.test"}
    world.redis.cli("HSET", keys.key("tenant", "office"), "require_tls", "yes")
    try:
        harness.wait_for(lambda: policy_query(sock, plain).startswith("530 5.7.10"), 10,
                         "live require_tls")
        world.redis.cli("HSET", keys.key("mode"), "tenant:office", "monitor")
        harness.wait_for(lambda: policy_query(sock, plain) == "DUNNO", 10, "monitor mode")
        out = world.policyd.output()
        assert "monitor: tenant office: relay-tls would be refused" in out, out
        assert "monitor: tenant office: relay-sender would be refused" in out, out
        world.redis.cli("HSET", keys.key("mode"), "tenant:office", "enforce")
        harness.wait_for(lambda: policy_query(sock, plain).startswith("530"), 10, "enforce again")
    finally:
        world.redis.cli("HDEL", keys.key("mode"), "tenant:office")
        world.redis.cli("DEL", keys.key("tenant", "office"))
        reset_quota(world)

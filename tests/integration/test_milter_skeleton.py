"""
NAME
    test_milter_skeleton - the walking skeleton: outbound mail leaves signed

DESCRIPTION
    One domain, one RSA-2048 key, no categories. Mail injected with
    smtp-source into a throwaway Postfix (client 127.0.0.1, an internal
    network) passes sluice-milter and reaches smtp-sink with a DKIM
    signature that dkimpy verifies with the published key.
"""
import harness
from milter_helpers import dkim_results, start_milter, write_conf


def test_smtp_source_mail_arrives_signed(root_env):
    env = root_env
    key, txt = harness.dkim_keypair(env, "example")
    conf, sock = write_conf(env, """
domain "example.com" {
  dkim "sel1" { algorithm = "rsa-sha256"  key = "%s" }
}
milter { socket = "{socket}"  socket_mode = "0666"  redis = false }
""" % key)
    milter, spec = start_milter(env, conf, sock)
    sink = env.sink()
    pf = env.postfix(relay=sink, milter=spec)
    r = pf.smtp_source("-m", "1", "-f", "alice@example.com", "-t", "bob@remote.test",
                       "-S", "skeleton")
    assert r.returncode == 0, r.stderr
    (envelope, raw), = sink.wait(1)
    assert envelope["mail_from"] == "alice@example.com"
    results = harness.dkim_verify(raw, {"sel1._domainkey.example.com": txt})
    assert results == [("example.com", "sel1", "rsa-sha256", True)], (results, raw[:2000])
    milter.wait_output("signatures=1 (d=example.com s=sel1 a=rsa-sha256)")


def test_signature_breaks_when_body_changes(root_env):
    """The verifier is not a rubber stamp: a changed body fails."""
    env = root_env
    key, txt = harness.dkim_keypair(env, "example")
    conf, sock = write_conf(env, """
domain "example.com" {
  dkim "sel1" { algorithm = "rsa-sha256"  key = "%s" }
}
milter { socket = "{socket}"  socket_mode = "0666"  redis = false }
""" % key)
    _, spec = start_milter(env, conf, sock)
    sink = env.sink()
    pf = env.postfix(relay=sink, milter=spec)
    pf.send("alice@example.com", ["bob@remote.test"],
            "From: Alice <alice@example.com>\r\nTo: bob@remote.test\r\nSubject: hi\r\n\r\nbody\r\n")
    (_, raw), = sink.wait(1)
    records = {"sel1._domainkey.example.com": txt}
    assert dkim_results(raw, records) == [("example.com", "sel1", "rsa-sha256", True)]
    tampered = raw.replace(b"body", b"bodY")
    assert dkim_results(tampered, records) == [("example.com", "sel1", "rsa-sha256", False)]


def test_inbound_passes_untouched(root_env):
    """No SASL, client outside the internal networks: nothing changes."""
    env = root_env
    key, txt = harness.dkim_keypair(env, "example")
    conf, sock = write_conf(env, """
secret_file = "%s"
domain "example.com" {
  default_category = "transactional"
  dkim "sel1" { algorithm = "rsa-sha256"  key = "%s" }
}
category "transactional" { subdomain = "mail" }
milter { socket = "{socket}"  socket_mode = "0666"  redis = false  internal_networks = {} }
""" % (env.secret(), key))
    _, spec = start_milter(env, conf, sock)
    sink = env.sink()
    pf = env.postfix(relay=sink, milter=spec)
    pf.send("someone@example.com", ["bob@remote.test"],
            "From: someone@example.com\r\nTo: bob@remote.test\r\nSubject: in\r\n"
            "X-Sluice-Category: transactional\r\n\r\nbody\r\n")
    (envelope, raw), = sink.wait(1)
    assert envelope["mail_from"] == "someone@example.com"
    assert harness.header_values(raw, "DKIM-Signature") == []
    assert harness.header_values(raw, "X-Sluice-Category") == ["transactional"]

"""
NAME
    test_skeleton - the foundation end to end: client -> Postfix -> sluice-milter -> smtp-sink

DESCRIPTION
    One throwaway Postfix with both daemons in place, as an admin would
    wire them (smtpd_milters and check_policy_service). smtp-source sends
    messages with several recipients each; every message reaches smtp-sink
    with a DKIM signature that dkimpy verifies, and sluice-policyd was asked
    once for every recipient of every message.
"""
import os

import harness


def test_smtp_source_through_milter_and_policy(root_env):
    env = root_env
    redis = env.redis()
    sink = env.sink()
    key, txt = harness.dkim_keypair(env, "example.com", "rsa")
    msock, psock = os.path.join(env.dir, "milter.sock"), os.path.join(env.dir, "policy.sock")
    conf = env.file("sluice.conf", redis.conf_section() + """
secret_file = "%s"
domain "example.com" { dkim "s1" { algorithm = "rsa-sha256"  key = "%s" } }
milter { socket = "unix:%s"  socket_mode = "0666" }
policyd { listen = { "unix:%s" } }
""" % (env.secret(), key, msock, psock), 0o600)
    policyd = env.daemon("sluice-policyd", [harness.program("policyd", "sluice-policyd"), "-f", "-c", conf],
                         ready=lambda: harness.can_connect(psock))
    milter = env.daemon("sluice-milter", [harness.program("milter", "sluice-milter"), "-f", "-c", conf],
                        ready=lambda: harness.can_connect(msock))
    milter.wake = msock     # as milter_helpers.start_milter does
    pf = env.postfix(relay=sink, milter="unix:" + msock, policy="unix:" + psock)

    # 5 messages x 3 recipients, over 2 sessions
    r = pf.smtp_source("-s", "2", "-m", "5", "-r", "3", "-f", "app@example.com",
                       "-t", "user@dest.example", "-S", "skeleton")
    assert r.returncode == 0, r.stderr
    messages = sink.wait(5)
    assert len(messages) == 5
    for envelope, raw in messages:
        assert len(envelope["rcpts"]) == 3
        assert envelope["mail_from"] == "app@example.com"  # no categories configured: no rewrite
        results = harness.dkim_verify(raw, {"s1._domainkey.example.com": txt})
        assert results == [("example.com", "s1", "rsa-sha256", True)], results
    rcpt_lines = [l for l in policyd.output().splitlines() if " request: " in l and "state=RCPT" in l]
    assert len(rcpt_lines) == 15, policyd.output()

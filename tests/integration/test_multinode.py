"""
NAME
    test_multinode - two MTA nodes, each with its own Sluice daemons, share one Redis

DESCRIPTION
    Two throwaway Postfix instances ("node a", "node b"), each with its own
    sluice-milter and sluice-policyd on its own sluice.conf (same Redis,
    same token secret, as two machines of one installation would have),
    relaying to smtp-sink:

      - a per-user limit of 100 an hour (a rate, seeded by both
        policyds): 300 messages as one SASL user, 150 through each node,
        six SMTP clients at once, let exactly 100 through across both
        (plus what the bucket drained meanwhile: one per 36 s), every
        accepted one is delivered, and both nodes took part;
      - a suppression learnt through one node is enforced by the other:
        a message through node a is refused by the next hop (550 5.1.1),
        node a's Postfix bounces it to the milter's token address, its
        transport hands the bounce to node a's sluice-feedback, and node
        b's sluice-policyd then refuses that recipient at RCPT.

    Nothing a daemon caches (the limits table, SASL entries for a second)
    holds a counter or a suppression entry: both are read and written in
    Redis by one script per decision, which is what this test checks.
"""
import os
import pwd
import smtplib
import threading
import time
import uuid

import pytest

import conftest
import harness
from milter_helpers import start_milter, write_conf
import keys

CONF = """
log_level = "info"
secret_file = "%(secret)s"
domain "example.com" {
  default_category = "transactional"
}
category "transactional" { subdomain = "mail" }
tenant "shop1" { domains = {"shop1.example.com"}  sasl_users = {"alice"} }
milter {
  socket = "{socket}"
  socket_mode = "0666"
}
policyd {
  listen = { "unix:%(psock)s" }
  timeout = 5000          # not the 100 ms default, which fails open on a loaded machine (test_policyd_util)
  limit "hourly" { key = '${sasl_username}' rate = "100/hour" }
}
feedback {
}
"""

SASL = {"alice": "alicepw"}
AUTH = ("alice", "alicepw")
# a client deferred 100 times on one connection is not hung up on or slowed down
MANY_ERRORS = {"smtpd_soft_error_limit": "1000", "smtpd_hard_error_limit": "1000",
               "smtpd_error_sleep_time": "0"}
REFUSE = "550 5.1.1 Recipient address rejected: User unknown in local recipient table"


class Node:
    """One MTA node: its own sluice.conf, sluice-policyd, sluice-milter and Postfix."""

    def __init__(self, env, name, redis, secret, sink, main=None, feedback=False, conf=CONF):
        psock = os.path.join(env.dir, "policyd-%s-%s.sock" % (name, uuid.uuid4().hex[:6]))
        self.conf, sock = write_conf(env, conf % {"secret": secret, "psock": psock}, redis=redis,
                                     name="sluice-%s.conf" % name)
        os.chmod(self.conf, 0o644)          # sluice-feedback runs as nobody (pipe user=)
        self.policyd = env.daemon("sluice-policyd-" + name,
                                  [harness.program("policyd", "sluice-policyd"), "-f", "-c", self.conf],
                                  ready=lambda: harness.can_connect(psock))
        self.milter, spec = start_milter(env, self.conf, sock)
        master = []
        if feedback:                        # bounces to the milter's token addresses
            master = ["sluice-feedback/unix=sluice-feedback unix - n n - 10 pipe flags=Rq "
                      "user=nobody argv=%s -c %s ${recipient}"
                      % (harness.program("feedback", "sluice-feedback"), self.conf)]
        self.pf = env.postfix(relay=sink, milter=spec, policy="unix:" + psock, sasl_users=SASL,
                              main=main, master=master, name="postfix-" + name)


@pytest.fixture
def world(root_env):
    env = root_env
    w = type("World", (), {})()
    w.env = env
    w.redis = env.redis()
    w.secret = env.secret("shared-token.key")
    nobody = pwd.getpwnam("nobody")
    os.chown(w.secret, nobody.pw_uid, nobody.pw_gid)
    w.sink = env.sink()
    return w


def sender_thread(pf, n, results):
    """n messages as alice on one connection, one recipient each; appends (rcpt, code)."""
    with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="client.sluice.test", timeout=60) as s:
        s.login(*AUTH)
        for _ in range(n):
            rcpt = "r-%s@dest.test" % uuid.uuid4().hex[:10]
            s.mail("app@shop1.example.com")
            code, _ = s.rcpt(rcpt)
            if code == 250:
                data = ("From: <app@shop1.example.com>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nhi\r\n"
                        % (rcpt, rcpt)).encode()
                code = s.data(data)[0]
            else:
                s.rset()
            results.append((pf.port, rcpt, code))


def send_split(a, b):
    """300 messages as alice, six connections at once, alternately through
    nodes a and b; returns ([(port, rcpt, code)], seconds taken)."""
    results, threads = [], []
    start = time.monotonic()
    for node in (a, b, a, b, a, b):
        threads.append(threading.Thread(target=sender_thread, args=(node.pf, 50, results)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return results, time.monotonic() - start


def test_per_user_limit_is_exact_across_two_nodes(world):
    w = world
    a = Node(w.env, "a", w.redis, w.secret, w.sink, main=MANY_ERRORS)
    b = Node(w.env, "b", w.redis, w.secret, w.sink, main=MANY_ERRORS)
    harness.wait_for(lambda: w.redis.cli("HGET", keys.key("limit", "hourly"), "rate") == "100/hour", 5,
                     "limit seeded")
    results, elapsed = send_split(a, b)
    assert len(results) == 300, len(results)
    accepted = [r for r in results if r[2] == 250]
    drained = int(elapsed * 100 / 3600)
    print("accepted %d of 300 in %.1f s" % (len(accepted), elapsed))
    assert 100 <= len(accepted) <= 100 + max(1, drained), (len(accepted), elapsed)
    assert all(code == 450 for _, _, code in results if code != 250), \
        sorted(set(c for _, _, c in results))
    ports = {port for port, _, _ in accepted}
    assert ports == {a.pf.port, b.pf.port}, ports           # both nodes charged the one bucket
    w.sink.wait(len(accepted), timeout=120)
    got = {r for e, _ in w.sink.messages() for r in e["rcpts"]}
    assert got == {rcpt for _, rcpt, _ in accepted}


def test_bounce_through_one_node_is_enforced_by_the_other(world):
    w = world
    refusing = w.env.sink("-f", "RCPT", "-B", REFUSE)
    a = Node(w.env, "a", w.redis, w.secret, w.sink, feedback=True, main={
        "transport_maps": "inline:{ mail.example.com=sluice-feedback:, "
                          "gone.test=smtp:[127.0.0.1]:%d }" % refusing.port,
        "sluice-feedback_destination_recipient_limit": "1"})
    b = Node(w.env, "b", w.redis, w.secret, w.sink)

    a.pf.send("app@shop1.example.com", ["gone@gone.test"],
              b"From: <app@shop1.example.com>\r\nTo: <gone@gone.test>\r\nSubject: x\r\n\r\nhi\r\n",
              auth=AUTH)
    key = keys.supp("global", "gone@gone.test")
    try:
        harness.wait_for(lambda: w.redis.cli("EXISTS", key) == "1", 60, "suppression from node a's bounce")
    except TimeoutError:
        raise AssertionError("no suppression; node a's log:\n" + a.pf.log()[-4000:])
    assert w.redis.cli("HGET", key, "reason") == "hard-bounce"
    # postlogd may write the pipe's delivery line after the effect is in Redis
    harness.wait_for(lambda: "relay=sluice-feedback" in a.pf.log() and "status=sent" in a.pf.log(),
                     30, "node a's log of the bounce handed to sluice-feedback")

    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        b.pf.send("app@shop1.example.com", ["gone@gone.test"],
                  b"From: <app@shop1.example.com>\r\nSubject: y\r\n\r\nhi\r\n", auth=AUTH)
    code, text = e.value.recipients["gone@gone.test"]
    assert code == 550 and b"Suppressed: hard-bounce (global list)" in text, (code, text)
    assert "gone@gone.test" in b.policyd.output() and "Suppressed" in b.policyd.output()


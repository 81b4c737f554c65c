"""
NAME
    test_milter_shutdown - sluice-milter stopped while SMTP sessions are open

DESCRIPTION
    A real Postfix with sluice-policyd (a recipients-per-day limit on the
    SASL login) and sluice-milter. smtplib clients keep sessions open
    while the milter gets SIGTERM: one in the middle of a transaction
    (after RCPT: policyd has charged the recipient, the milter has pinned
    a configuration snapshot for the message), one inside DATA, one with
    no message yet. The milter must release them at exit as a close
    would: exit 0, log "3 open sessions released" and "stopped", refund
    the charge of the message that never left (the day counter is back
    where it was), and under the sanitizer build (the ASan pass of
    .ci/run) leave nothing for LeakSanitizer. The harness fails a test on
    any sanitizer report; this one also looks itself, to name the cause.
"""
import smtplib
import time
import uuid

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
tenant "shop1" { domains = {"shop1.example.com"}  sasl_users = {"alice"} }
milter {
  socket = "{socket}"
  socket_mode = "0666"
}
policyd {
  listen = { "unix:%(psock)s" }
  timeout = 5000          # not the 100 ms default, which fails open on a loaded machine (test_policyd_util)
  limit "rcpts" { key = '${sasl_username}' window = "day" max = "100000" unit = "recipients" }
}
"""


def charged(redis):
    """alice's recipients today (policyd's calendar counter)."""
    day = time.strftime("%Y%m%d", time.localtime())
    return int(redis.cli("GET", keys.key("quota", "rcpts", day, "alice")) or 0)


def session(pf):
    s = smtplib.SMTP("127.0.0.1", pf.port, local_hostname="client.test", timeout=60)
    s.login("alice", "alicepw")
    return s


def test_stop_with_sessions_open(env):
    conftest.require_root()
    redis = env.redis()
    psock = "%s/policyd-%s.sock" % (env.dir, uuid.uuid4().hex[:6])
    conf, sock = write_conf(env, CONF % {"secret": env.secret(), "psock": psock}, redis=redis)
    env.daemon("sluice-policyd", [harness.program("policyd", "sluice-policyd"), "-f", "-c", conf],
               ready=lambda: harness.can_connect(psock))
    milter, spec = start_milter(env, conf, sock)
    sink = env.sink()
    pf = env.postfix(relay=sink, milter=spec, sasl_users={"alice": "alicepw"}, main={
        "smtpd_recipient_restrictions":
            "check_policy_service { unix:%s, default_action=DUNNO }, "
            "permit_sasl_authenticated, reject" % psock})
    clients = []
    try:
        before = charged(redis)
        # after RCPT: Postfix answers 250 only once policyd charged it and
        # the milter took MAIL (where it pins the snapshot)
        a = session(pf)
        clients.append(a)
        assert a.mail("app@shop1.example.com")[0] == 250
        assert a.rcpt("rcpt@remote.test")[0] == 250
        assert charged(redis) == before + 1
        # inside DATA (headers and signer state, if cleanup has passed them
        # on by the time of SIGTERM: not waited for, there is no sign)
        b = session(pf)
        clients.append(b)
        assert b.mail("app@shop1.example.com")[0] == 250
        assert b.rcpt("rcpt@remote.test")[0] == 250
        assert b.docmd("DATA")[0] == 354
        b.send(b"From: app@shop1.example.com\r\nTo: rcpt@remote.test\r\nSubject: held\r\n\r\n"
               + b"body line\r\n" * 2000)
        # no message yet: the milter holds its connection state only
        c = smtplib.SMTP("127.0.0.1", pf.port, local_hostname="client.test", timeout=60)
        clients.append(c)
        assert c.mail("app@example.com")[0] == 250
        assert c.rset()[0] == 250
        assert milter.stop(timeout=60) == 0, milter.output()
        # a's recipient never left: its charge is refunded (b's too, whatever
        # state its message reached)
        assert charged(redis) == before, (before, charged(redis))
        out = milter.output()
        assert harness.sanitizer_report(out) == "", out
        assert "3 open sessions released" in out and "stopped" in out, out
    finally:
        for s in clients:
            try:
                s.close()
            except OSError:
                pass

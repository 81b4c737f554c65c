"""
NAME
    test_policyd_util - helpers shared by the sluice-policyd integration tests

DESCRIPTION
    No tests here (pytest collects nothing). start_policyd() writes a
    sluice.conf for a throwaway Redis and starts sluice-policyd in the
    foreground on a unix socket (and an HTTP listener when asked);
    policy_query() speaks the policy protocol directly.
"""
import os
import re
import socket
import time
import urllib.request

import harness


def start_policyd(env, redis, policyd_extra="", top_extra="", http=False, name="policyd",
                  wrap=(), deadline_ms=5000):
    """Start sluice-policyd; returns (proc, socket path, http port or None).

    wrap: a command put in front (e.g. prlimit) that execs sluice-policyd.
    deadline_ms: the policyd timeout (per request) unless policyd_extra
    sets one; the product's 100 ms fails open on a loaded machine, which
    would change the decisions a test counts. None keeps the default
    (start_policyd_product_timeout: the tests of Redis going away and of
    latency bounds, which the 100 ms deadline is part of)."""
    if deadline_ms is not None and not re.search(r"(^|\n)\s*timeout\s*=", policyd_extra):
        policyd_extra = "  timeout = %d\n%s" % (deadline_ms, policyd_extra)
    sock = os.path.join(env.dir, "%s.sock" % name)
    http_port = harness.free_port() if http else None
    secret = env.secret("%s-token.key" % name)
    conf = ('log_level = "info"\nsecret_file = "%s"\n%s\n%s'
            'policyd {\n  listen = { "unix:%s" }\n%s%s}\n'
            % (secret, top_extra, redis.conf_section(), sock,
               '  http_listen = "127.0.0.1:%d"\n' % http_port if http else "",
               policyd_extra))
    path = env.file("%s.conf" % name, conf)
    proc = env.daemon(name, list(wrap) + [harness.program("policyd", "sluice-policyd"), "-f", "-c", path],
                      ready=lambda: harness.can_connect(sock)
                      and (not http or harness.can_connect(("127.0.0.1", http_port))))
    proc.conf_path = path
    proc.secret = secret
    return proc, sock, http_port


def start_policyd_product_timeout(*args, **kw):
    """start_policyd with the product's own per-request timeout (100 ms)."""
    kw.setdefault("deadline_ms", None)
    return start_policyd(*args, **kw)


def policy_query(sock, attrs, timeout=30.0):
    """Send one request on a new connection; returns the action string.

    The timeout only bounds a hang: on a loaded machine an answer may take
    seconds (tests of latency are marked serial and pass their own)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock)
        return policy_on(s, attrs)


def policy_on(s, attrs):
    """Send one request on an open connection; returns the action."""
    s.sendall(request_bytes(attrs))
    return read_answer(s)


def request_bytes(attrs):
    base = {"request": "smtpd_access_policy", "protocol_state": "RCPT",
            "protocol_name": "ESMTP", "client_address": "127.0.0.1",
            "client_name": "localhost", "helo_name": "client.test", "queue_id": "",
            "instance": "%x.%x" % (os.getpid(), int(time.monotonic() * 1e6)),
            "sender": "alice@example.com", "recipient": "bob@example.net",
            "sasl_username": ""}
    base.update(attrs)
    return "".join("%s=%s\n" % kv for kv in base.items()).encode() + b"\n"


def read_answer(s):
    buf = b""
    while not buf.endswith(b"\n\n"):
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("policy server closed the connection; got %r" % buf)
        buf += chunk
    line = buf.decode().split("\n")[0]
    assert line.startswith("action="), buf
    return line[len("action="):]


def request_lines(proc):
    """The policyd log lines for answered requests."""
    return [l for l in proc.output().splitlines() if " request: " in l]


def http_get(port, path, data=None, method=None):
    """(status, body) of an HTTP request to the policyd listener."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


XCLIENT_MAIN = {"smtpd_authorized_xclient_hosts": "127.0.0.0/8"}


def send_as(pf, user, mail_from, rcpts, data=b"Subject: t\r\n\r\nbody\r\n"):
    """Send one message as SASL user `user` (set with Postfix XCLIENT LOGIN=).

    The harness's Cyrus SASL setup (sasl_users=) fails here with "unable to
    open Berkeley db /etc/sasldb2"; XCLIENT LOGIN gives smtpd the same
    sasl_username for policy requests. Returns (accepted, {rcpt: (code, text)}).
    """
    import smtplib
    with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="client.sluice.test", timeout=60) as s:
        s.ehlo()
        code, msg = s.docmd("XCLIENT", "LOGIN=%s" % user)
        assert code == 220, (code, msg)
        s.ehlo_resp = None
        s.ehlo()
        try:
            refused = s.sendmail(mail_from, rcpts, data)
        except smtplib.SMTPRecipientsRefused as e:
            refused = e.recipients
    refused = {k: (c, t.decode()) for k, (c, t) in refused.items()}
    return [r for r in rcpts if r not in refused], refused

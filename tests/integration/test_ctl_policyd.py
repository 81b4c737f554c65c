"""
NAME
    test_ctl_policyd - what sluicectl writes, sluice-policyd enforces

DESCRIPTION
    The keyspace is the contract between the CLI and the daemons. Here one
    sluice.conf serves both: sluicectl writes suppression entries, SASL
    users and tenant states into a real redis-server, and sluice-policyd,
    asked over the Postfix policy protocol (no Postfix, no root), answers
    accordingly; limits seeded by policyd from the config show up in
    "sluicectl limits list" as active.
"""
import os
import re
import socket
import subprocess
import time

import harness
import keys


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return r


def start(env):
    """One config for both programs; sluice-policyd in the foreground."""
    redis = env.redis()
    sock = os.path.join(env.dir, "policyd.sock")
    conf = env.file("sluice.conf", (
        'secret_file = "%s"\n%s'
        'category "news" { subdomain = "news" }\n'
        'tenant "shop42" { subdomain = "shop42" }\n'
        'policyd {\n  listen = { "unix:%s" }\n  timeout = 5000\n  strip_tag = true\n'
        '  lowercase_local_part = false\n'
        '  limit "perdomain" { key = \'${recipient_domain}\'  rate = "1000/hour"  burst = "1000" }\n'
        '}\n') % (env.secret(), redis.conf_section(), sock))
    env.daemon("policyd", [harness.program("policyd", "sluice-policyd"), "-f", "-c", conf],
               ready=lambda: harness.can_connect(sock))
    return redis, conf, sock


def ask(sock, recipient, sasl=""):
    """One RCPT policy request; returns the action."""
    attrs = {"request": "smtpd_access_policy", "protocol_state": "RCPT",
             "protocol_name": "ESMTP", "client_address": "127.0.0.1",
             "client_name": "localhost", "helo_name": "client.test", "queue_id": "",
             "instance": "%x.%x" % (os.getpid(), int(time.monotonic() * 1e6)),
             "sender": "app@example.com", "recipient": recipient, "sasl_username": sasl}
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(sock)
        s.sendall("".join("%s=%s\n" % kv for kv in attrs.items()).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n\n"):
            chunk = s.recv(4096)
            assert chunk, "policyd closed the connection: %r" % buf
            buf += chunk
    line = buf.decode().split("\n")[0]
    assert line.startswith("action=")
    return line[len("action="):]


def refused(action):
    """A permanent refusal: REJECT or a 5xx access(5) answer."""
    return action.startswith("REJECT") or re.match(r"^5\d\d ", action) is not None


def deferred(action):
    """A temporary refusal: DEFER_IF_PERMIT, DEFER or a 4xx access(5) answer."""
    return action.startswith("DEFER") or re.match(r"^4\d\d ", action) is not None


def test_suppression_written_by_ctl_is_enforced(env):
    redis, conf, sock = start(env)
    assert ask(sock, "bob@Example.NET").upper().startswith("DUNNO")
    assert ctl(conf, "suppress", "add", "bob+promo@example.net", "--reason", "complaint").returncode == 0
    action = ask(sock, "bob@Example.NET")
    assert refused(action) and "complaint" in action, action
    assert refused(ask(sock, "bob+other@example.net"))     # +tag stripped alike
    # lowercase_local_part = false: another spelling of the local part is another address.
    assert ask(sock, "Bob@example.net").upper().startswith("DUNNO")
    assert ctl(conf, "suppress", "remove", "bob@example.net").returncode == 0
    assert ask(sock, "bob@Example.NET").upper().startswith("DUNNO")


def test_category_scope_follows_sasl_entry(env):
    redis, conf, sock = start(env)
    assert ctl(conf, "sasl", "set", "app1", "--category", "news").returncode == 0
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf, "suppress", "import", "-",
                        "--scope", "cat:news", "--reason", "unsubscribe"],
                       input="email\ncarol@example.org\n", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # policyd caches SASL entries for a second: asked until the new entry is read
    action = harness.wait_for(lambda: (lambda a: refused(a) and a)(ask(sock, "carol@example.org", sasl="app1")),
                              10, "the category of app1 set by sluicectl")
    assert "unsubscribe" in action, action
    # Another user's mail (no category) is not concerned by the news list.
    assert ask(sock, "carol@example.org", sasl="other").upper().startswith("DUNNO")


def test_tenant_status_set_by_ctl_is_enforced(env):
    redis, conf, sock = start(env)
    assert ctl(conf, "sasl", "set", "shopuser", "--tenant", "shop42").returncode == 0
    assert ask(sock, "dave@example.com", sasl="shopuser").upper().startswith("DUNNO")
    assert ctl(conf, "tenant", "status", "shop42", "paused", "--reason", "too many complaints").returncode == 0
    # policyd caches SASL entries for a second: asked until shopuser's tenant is read
    action = harness.wait_for(lambda: (lambda a: deferred(a) and a)(ask(sock, "dave@example.com", sasl="shopuser")),
                              10, "shopuser's tenant paused by sluicectl")
    assert "too many complaints" in action, action
    assert ctl(conf, "tenant", "status", "shop42", "suspended").returncode == 0
    assert refused(ask(sock, "dave@example.com", sasl="shopuser"))
    assert ctl(conf, "tenant", "status", "shop42", "active").returncode == 0
    assert ask(sock, "dave@example.com", sasl="shopuser").upper().startswith("DUNNO")


def test_limits_seeded_by_policyd_are_listed(env):
    redis, conf, sock = start(env)
    harness.wait_for(lambda: redis.cli("EXISTS", keys.key("limit", "perdomain")) == "1", 10,
                     "policyd to seed its limit")
    r = ctl(conf, "limits", "list")
    assert r.returncode == 0
    line = [l for l in r.stdout.split("\n") if l.startswith("perdomain")][0]
    assert line.split()[1] == "active" and "rate=1000/hour" in line
    r = ctl(conf, "limits", "show", "perdomain")
    assert "  key: ${recipient_domain}" in r.stdout


def test_limit_and_mode_set_by_ctl_are_enforced(env):
    redis, conf, sock = start(env)
    r = ctl(conf, "limits", "set", "tiny", "key=${recipient_domain}", "rate=1/hour", "burst=1")
    assert r.returncode == 0, r.stderr
    # policyd reloads its limit table every 500 ms; an unknown limit charges
    # nothing, so: accepted until it is loaded, then one more, then deferred.
    answers = []
    harness.wait_for(lambda: answers.append(ask(sock, "x@tiny.example")) or deferred(answers[-1]),
                     10, "the limit set by sluicectl to be enforced")
    assert answers[-2].upper().startswith("DUNNO"), answers
    # Monitor mode for the whole install: counted, not enforced.
    assert ctl(conf, "mode", "global", "monitor").returncode == 0
    harness.wait_for(lambda: ask(sock, "x@tiny.example").upper().startswith("DUNNO"), 10,
                     "monitor mode set by sluicectl")
    assert ctl(conf, "mode", "global", "inherit").returncode == 0
    harness.wait_for(lambda: deferred(ask(sock, "x@tiny.example")), 10, "enforce mode again")
    # policyd's counters of the limit, shown by limits show.
    r = ctl(conf, "limits", "show", "tiny")
    assert "counters (all time, %s):" % keys.key("rulestats", "tiny") in r.stdout, r.stdout
    counters = dict(l.strip().split(": ") for l in r.stdout.split("counters")[1].split("\n")[1:] if l.strip())
    assert int(counters["deferred"]) >= 2 and int(counters["would_defer"]) >= 1, counters
    assert ctl(conf, "limits", "remove", "tiny").returncode == 0
    harness.wait_for(lambda: ask(sock, "x@tiny.example").upper().startswith("DUNNO"), 10,
                     "the limit removed by sluicectl to be gone")

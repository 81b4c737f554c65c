"""
NAME
    test_policyd_basic - sluice-policyd is consulted by Postfix for every recipient

DESCRIPTION
    The walking skeleton: a throwaway Postfix with check_policy_service
    pointing at sluice-policyd; a message to three recipients makes three
    RCPT requests, each answered and logged on one line, and the message
    reaches smtp-sink with all three recipients.
"""
import harness
from test_policyd_util import start_policyd, policy_query, request_lines
import keys


def test_consulted_for_every_recipient(root_env):
    env = root_env
    redis = env.redis()
    sink = env.sink()
    proc, sock, _ = start_policyd(env, redis)
    pf = env.postfix(relay=sink, policy="unix:%s" % sock)
    rcpts = ["one@dest.test", "two@dest.test", "three@other.test"]
    refused = pf.send("sender@example.com", rcpts,
                      b"Subject: hello\r\nFrom: sender@example.com\r\n\r\nhi\r\n")
    assert refused == {}
    envelope, _ = sink.wait(1)[0]
    assert sorted(envelope["rcpts"]) == sorted(rcpts)
    lines = [l for l in request_lines(proc) if "state=RCPT" in l]
    assert len(lines) == 3, proc.output()
    for r in rcpts:
        assert sum("to=<%s>" % r in l for l in lines) == 1, lines
    assert all('action="DUNNO"' in l for l in lines), lines


def test_check_config_flag(env):
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis)
    import subprocess
    ok = subprocess.run([harness.program("policyd", "sluice-policyd"), "-n", "-c", proc.conf_path],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = env.file("bad.conf", redis.conf_section() + 'policyd {\n listen = { "tcp:x" }\n'
                   ' timeout = 0\n mode = "loud"\n}\n')
    r = subprocess.run([harness.program("policyd", "sluice-policyd"), "-n", "-c", bad],
                       capture_output=True, text=True)
    assert r.returncode == 78
    # every problem reported at once, each with file:line
    assert "listen" in r.stderr and "timeout" in r.stderr and "mode" in r.stderr, r.stderr
    assert policy_query(sock, {}) == "DUNNO"


def test_sighup_reload_and_sigterm(env):
    import signal
    import time
    from test_policyd_util import policy_query
    redis = env.redis()
    redis.cli("HSET", keys.supp("global", "gone@dest.test"), "reason", "manual")
    proc, sock, _ = start_policyd(env, redis)
    q = {"recipient": "gone@dest.test"}
    assert policy_query(sock, q).startswith("550 5.7.1 Suppressed: manual")
    with open(proc.conf_path) as f:
        good = f.read()
    # a broken file is refused and the running configuration kept
    with open(proc.conf_path, "w") as f:
        f.write(good.replace("policyd {", 'policyd {\n  mode = "sideways"'))
    proc.signal(signal.SIGHUP)
    harness.wait_for(lambda: "reload failed" in proc.output(), 5, "reload failure")
    assert policy_query(sock, q).startswith("550")
    # a good one takes effect: monitor mode answers DUNNO and counts
    with open(proc.conf_path, "w") as f:
        f.write(good.replace("policyd {", 'policyd {\n  mode = "monitor"'))
    proc.signal(signal.SIGHUP)
    harness.wait_for(lambda: "configuration reloaded" in proc.output(), 5, "reload")
    assert policy_query(sock, q) == "DUNNO"
    proc.wait_output("monitor: suppressed")
    assert proc.stop() == 0
    proc.wait_output("stopped")


def test_tcp_listener(env):
    import os
    import socket
    from test_policyd_util import policy_on
    redis = env.redis()
    port = harness.free_port()
    unix = os.path.join(env.dir, "policyd.sock")
    # a later "listen" replaces the earlier one: name both listeners
    proc, sock, _ = start_policyd(env, redis, 'listen = { "unix:%s", "inet:127.0.0.1:%d" }\n'
                                  % (unix, port))
    harness.wait_for(lambda: harness.can_connect(("127.0.0.1", port)), 5, "tcp listener")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        assert policy_on(s, {}) == "DUNNO"
        assert policy_on(s, {"recipient": "second@dest.test"}) == "DUNNO"
    assert "listening on inet:127.0.0.1:%d" % port in proc.output()

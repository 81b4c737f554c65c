"""
NAME
    test_live_edits - live edits fail loudly: one validator for sluicectl and the daemons

DESCRIPTION
    sluicectl refuses a limit that sluice-policyd would ignore (exit 65,
    the field named, nothing written). Values written by hand with
    redis-cli that the validator (lib/live.c) refuses are ignored by
    sluice-policyd, logged once with key and field however many requests
    meet them, counted on /metrics, and shown as ignored by
    sluicectl limits list and tenant show/list.
"""
import subprocess
import time

import harness
from test_policyd_util import http_get, policy_query, start_policyd
import keys


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def metric(port, name):
    code, body = http_get(port, "/metrics")
    assert code == 200
    for line in body.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[-1]))
    raise AssertionError("%s not in /metrics:\n%s" % (name, body))


def test_limits_set_refuses_what_policyd_would_ignore(env):
    redis = env.redis()
    conf = env.file("sluice.conf", redis.conf_section())
    r = ctl(conf, "limits", "set", "gmail", "rate=lots")
    assert r.returncode == 65 and 'invalid rate "lots"' in r.stderr, (r.returncode, r.stderr)
    assert "set and active" not in r.stdout
    assert redis.cli("EXISTS", keys.key("limit", "gmail")) == "0"
    assert redis.cli("SISMEMBER", keys.key("limits"), "gmail") == "0"
    r = ctl(conf, "limits", "set", "gmail", "key=${sender_domain}", "rate=50/hour")
    assert r.returncode == 0 and "set and active" in r.stdout, r.stderr
    # changing one field is checked against the whole result
    r = ctl(conf, "limits", "set", "gmail", "burst=-3")
    assert r.returncode == 65 and 'invalid burst "-3"' in r.stderr, r.stderr
    assert redis.cli("HGET", keys.key("limit", "gmail"), "burst") == ""


def test_hand_written_limit_shown_ignored_and_logged_once(env):
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, http=True)
    redis.cli("HSET", keys.key("limit", "gmail"), "key", "${sender}", "rate", "lots")
    redis.cli("SADD", keys.key("limits"), "gmail")
    harness.wait_for(lambda: "limit gmail: invalid rate" in proc.output(), 10, "limit logged")
    for _ in range(5):
        assert policy_query(sock, {"sender": "a@src.test"}) == "DUNNO"
    time.sleep(1.2)                      # several polls of the limits table
    assert proc.output().count("limit gmail: invalid rate \"lots\"") == 1, proc.output()
    assert metric(port, 'sluice_policyd_live_invalid_total{kind="limit"}') == 1
    r = ctl(proc.conf_path, "limits", "list")
    line = next(l for l in r.stdout.splitlines() if l.startswith("gmail"))
    assert " ignored " in line and 'invalid rate "lots"' in line, r.stdout
    # a mode written by hand: policyd logs and counts it once, sluicectl marks it
    redis.cli("HSET", keys.key("mode"), "global", "sideways")
    harness.wait_for(lambda: 'mode global="sideways"' in proc.output(), 10, "mode logged")
    time.sleep(1.2)
    assert proc.output().count('mode global="sideways"') == 1
    assert metric(port, 'sluice_policyd_live_invalid_total{kind="mode"}') == 1
    r = ctl(proc.conf_path, "limits", "list")
    assert "ignored by sluice-policyd: global" in r.stdout, r.stdout
    assert ctl(proc.conf_path, "mode", "global", "sideways").returncode == 64


def test_hand_written_tenant_status_logged_once_and_shown(env):
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, http=True,
                                     top_extra='tenant "shop1" {\n  sasl_users = {"alice"}\n}\n')
    redis.cli("HSET", keys.key("tenant", "shop1"), "status", "pasued")
    for _ in range(6):
        assert policy_query(sock, {"sasl_username": "alice"}) == "DUNNO"
    line = keys.key("tenant", "shop1") + ' field status: invalid value "pasued"'
    out = proc.wait_output(line)
    assert out.count(line) == 1, out
    assert metric(port, 'sluice_policyd_live_invalid_total{kind="tenant"}') == 1
    r = ctl(proc.conf_path, "tenant", "show", "shop1")
    assert r.returncode == 0 and "pasued (invalid: ignored, sends as active)" in r.stdout, r.stdout
    r = ctl(proc.conf_path, "tenant", "list")
    assert "pasued (invalid: ignored" in r.stdout, r.stdout
    # sluicectl itself refuses to write it
    r = ctl(proc.conf_path, "tenant", "status", "shop1", "pasued")
    assert r.returncode == 64
    # a valid status takes effect; a new invalid one is logged again (once)
    redis.cli("HSET", keys.key("tenant", "shop1"), "status", "paused")
    assert policy_query(sock, {"sasl_username": "alice"}).startswith("DEFER_IF_PERMIT 4.7.1")
    redis.cli("HSET", keys.key("tenant", "shop1"), "status", "Suspend")
    for _ in range(3):
        assert policy_query(sock, {"sasl_username": "alice"}) == "DUNNO"
    out = proc.wait_output('field status: invalid value "Suspend"')
    assert out.count('field status: invalid value "Suspend"') == 1, out
    assert metric(port, 'sluice_policyd_live_invalid_total{kind="tenant"}') == 2


def test_milter_logs_a_bad_sasl_entry_once(env):
    """A sasl:<user> hash written by hand with an invalid domain list: the
    milter logs key and field once, however many messages meet it; sluicectl
    sasl set refuses the same value."""
    import os
    from milter_helpers import start_milter, write_conf
    redis = env.redis()
    key, _ = harness.dkim_keypair(env, "sasl")
    text = ('secret_file = "%s"\ndomain "example.com" {\n  dkim "s1" { key = "%s" }\n}\n'
            'category "tx" { subdomain = "mail" }\n'
            'milter {\n  socket = "{socket}"\n  socket_mode = "0666"\n  default_category = "tx"\n}\n'
            % (env.secret(), key))
    conf, sock = write_conf(env, text, redis=redis)
    redis.cli("HSET", keys.key("sasl", "carol"), "domains", "example.com, b..org", "tenant", "Shop 1")
    proc, spec = start_milter(env, conf, sock)
    script = os.path.join(harness.SRCDIR, "tests", "milter", "sasl_redis_entry.lua")
    for _ in range(3):
        r = subprocess.run(["miltertest", "-s", script, "-D", "socket=" + spec,
                            "-D", "dir=" + os.path.dirname(script)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr, proc.output())
    proc.wait_output(keys.key("sasl", "carol") + ' field tenant: invalid tenant "Shop 1"')
    out = proc.wait_output(keys.key("sasl", "carol") + ' field domains: invalid domains: "b..org"')
    assert out.count(keys.key("sasl", "carol") + ' field domains: invalid domains: "b..org"') == 1, out
    assert out.count(keys.key("sasl", "carol") + ' field tenant: invalid tenant "Shop 1"') == 1, out
    r = ctl(conf, "sasl", "set", "carol", "--domains", "example.com, b..org")
    assert r.returncode == 64 and '"b..org" is not a domain name' in r.stderr, r.stderr

"""
NAME
    test_milter_miltertest - edge cases driven by miltertest (tests/milter/*.lua)

DESCRIPTION
    sluice-milter runs on a unix socket without an MTA; miltertest plays
    the MTA. Each Lua scenario prints "ok" at its end; a Lua error exits 1.
    After the scenarios the milter must still be alive (never a crash).
    Scenarios: empty body, body without final newline, 8-bit body, header
    lines over 998 characters, more than 10000 header fields, 100 recipients, several From headers, a
    10 MB message, a message already carrying a DKIM-Signature, inbound
    pass-through, SASL binding, Redis down (tempfail and accept, the binding
    still decided from the config), SIGHUP in
    the middle of a message.
"""
import os
import pwd
import shutil
import subprocess

import pytest

import conftest
import harness
from milter_helpers import start_milter, write_conf

LUA_DIR = os.path.join(harness.SRCDIR, "tests", "milter")

CONF = """
secret_file = "%(secret)s"
domain "example.com" {
  default_category = "transactional"
  dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" }
  dkim "e1" { algorithm = "ed25519-sha256"  key = "%(ed)s" }
}
domain "mall.test" {
  dkim "m1" { algorithm = "ed25519-sha256"  key = "%(ed)s" }
}
category "transactional" { subdomain = "%(tx)s" }
category "marketing" { subdomain = "news"  list_unsubscribe = true
  unsubscribe_url = "https://u.example.com/%%t" }
tenant "shop1" { subdomain = "shop1"  domains = {"shop1.mall.test"}  sasl_users = {"alice"}
  default_category = "marketing" }
tenant "shop2" { subdomain = "shop2"  domains = {"shop2.mall.test"}  sasl_users = {"bob"} }
%(redis)s
milter { socket = "{socket}"  socket_mode = "0666"  redis = %(use_redis)s  %(milter)s }
"""


@pytest.fixture(scope="module")
def keys():
    env = harness.Env("milter-mt-keys")
    try:
        rsa, _ = harness.dkim_keypair(env, "k", "rsa")
        ed, _ = harness.dkim_keypair(env, "k", "ed25519")
        yield env, rsa, ed, env.secret()
    finally:
        env.close()


def conf_text(keys, tx="mail", use_redis="false", redis="", milter=""):
    _, rsa, ed, secret = keys
    return CONF % {"secret": secret, "rsa": rsa, "ed": ed, "tx": tx, "redis": redis,
                   "use_redis": use_redis, "milter": milter}


def miltertest(script, spec, **defines):
    argv = ["miltertest", "-s", os.path.join(LUA_DIR, script), "-D", "socket=" + spec,
            "-D", "dir=" + LUA_DIR]
    for k, v in defines.items():
        argv += ["-D", "%s=%s" % (k, v)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def milter(keys):
    """One milter for the scenarios that do not change its config."""
    env = harness.Env("milter-mt")
    try:
        conf, sock = write_conf(env, conf_text(keys))
        yield start_milter(env, conf, sock)
    finally:
        env.close()


@pytest.mark.parametrize("script", [
    "empty_body.lua", "no_final_newline.lua", "eightbit_body.lua", "long_header.lua",
    "hundred_rcpts.lua", "several_from.lua", "ten_megabytes.lua", "already_signed.lua",
    "inbound.lua", "sasl_binding.lua", "too_many_headers.lua",
])
def test_scenario(milter, script):
    proc, spec = milter
    r = miltertest(script, spec)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout, r.stderr, proc.output())
    assert proc.alive(), proc.output()


def test_several_from_reply_names_the_problem(milter):
    proc, spec = milter
    r = miltertest("several_from.lua", spec)
    assert r.returncode == 0, r.stdout
    proc.wait_output("message has 2 From header fields")
    proc.wait_output("message has 0 From header fields")


REDIS_GONE = 'redis { socket = "/nonexistent/redis.sock"  connect_timeout = 200  command_timeout = 200 }'


def test_redis_down_tempfails(env, keys):
    conf, sock = write_conf(env, conf_text(keys, use_redis="true", redis=REDIS_GONE))
    proc, spec = start_milter(env, conf, sock)
    r = miltertest("redis_down.lua", spec)
    assert r.returncode == 0, (r.stdout, proc.output())
    proc.wait_output("temporary failure (on_internal_error = tempfail)")


def test_redis_down_accepts_unsigned(env, keys):
    conf, sock = write_conf(env, conf_text(keys, use_redis="true", redis=REDIS_GONE,
                                           milter='on_internal_error = "accept"'))
    proc, spec = start_milter(env, conf, sock)
    r = miltertest("redis_down_accept.lua", spec)
    assert r.returncode == 0, (r.stdout, proc.output())
    proc.wait_output("accepted unsigned")


def test_sighup_keeps_config_of_message_in_flight(env, keys):
    conf, sock = write_conf(env, conf_text(keys))
    newconf = env.file("new.conf", conf_text(keys, tx="tx").replace("{socket}", "unix:" + sock), 0o600)
    proc, spec = start_milter(env, conf, sock)
    r = miltertest("sighup.lua", spec, conf=conf, newconf=newconf, pid=proc.pid)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout, proc.output())
    proc.wait_output("configuration reloaded")
    assert proc.alive()


def test_bad_reload_keeps_running_config(env, keys):
    conf, sock = write_conf(env, conf_text(keys))
    proc, spec = start_milter(env, conf, sock)
    with open(conf, "a") as f:
        f.write('category "broken" { subdomain = "Not A Label" }\n')
    proc.signal(1)
    harness.wait_for(lambda: "reload failed" in proc.output(), 5, "reload failure")
    r = miltertest("empty_body.lua", spec)
    assert r.returncode == 0, (r.stdout, proc.output())
    assert "not A Label" not in proc.output() and proc.alive()


def test_privilege_drop_socket_owner_and_reload(env, keys):
    """As root with user = nobody: socket owned by nobody, serving as nobody,
    and a reload reads keys and secret the service user owns."""
    conftest.require_root()
    _, rsa, ed, secret = keys
    own = {}
    for name, src in (("rsa", rsa), ("ed", ed), ("secret", secret)):
        own[name] = env.file("nobody-" + name, open(src).read(), 0o600)
        shutil.chown(own[name], "nobody")
    text = (CONF % {"secret": own["secret"], "rsa": own["rsa"], "ed": own["ed"], "tx": "mail",
                    "redis": "", "use_redis": "false", "milter": ""})
    conf, sock = write_conf(env, 'user = "nobody"\n' + text)
    shutil.chown(conf, "nobody")
    proc, spec = start_milter(env, conf, sock)
    st = os.stat(sock)
    assert pwd.getpwuid(st.st_uid).pw_name == "nobody"
    with open("/proc/%d/status" % proc.pid) as f:
        uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
    assert set(uids) == {str(pwd.getpwnam("nobody").pw_uid)}
    newconf = env.file("new-nobody.conf", 'user = "nobody"\n' + text.replace(
        'subdomain = "mail"', 'subdomain = "tx"').replace("{socket}", "unix:" + sock), 0o600)
    shutil.chown(newconf, "nobody")
    r = miltertest("sighup.lua", spec, conf=conf, newconf=newconf, pid=proc.pid)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout, proc.output())
    proc.wait_output("configuration reloaded")


def test_unknown_category_rejected_when_configured(env, keys):
    conf, sock = write_conf(env, conf_text(keys, milter='unknown_category = "reject"'))
    proc, spec = start_milter(env, conf, sock)
    r = miltertest("unknown_category.lua", spec)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout, proc.output())
    proc.wait_output('5.7.0 unknown category "newsletterz" in X-Sluice-Category')


def test_sasl_monitor_mode_logs_and_leaves_unsigned(env, keys):
    conf, sock = write_conf(env, conf_text(keys, milter='sasl_binding = "monitor"'))
    proc, spec = start_milter(env, conf, sock)
    r = miltertest("sasl_monitor.lua", spec)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout, proc.output())
    proc.wait_output("not signed: sasl=alice")
    proc.wait_output("may not send mail from domain shop2.mall.test")


def test_redis_down_accept_still_binds_from_config(env, keys):
    conf, sock = write_conf(env, conf_text(keys, use_redis="true", redis=REDIS_GONE,
                                           milter='on_internal_error = "accept"'))
    proc, spec = start_milter(env, conf, sock)
    r = miltertest("redis_down_binding.lua", spec)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.stdout, proc.output())
    out = proc.output()
    assert "deferred: sasl=alice from=<x@shop2.mall.test>: 4.7.1 user alice may not send mail " \
        "from domain shop2.mall.test" in out, out
    assert "deferred: sasl=zed from=<z@shop1.mall.test>: 4.7.1 cannot check what user zed" in out
    assert "accepted unsigned (on_internal_error = accept)" in out

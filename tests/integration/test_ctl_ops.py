"""
NAME
    test_ctl_ops - sluicectl tenant, sasl, limits, stats, events, -n, exit codes

DESCRIPTION
    Against a real redis-server from the harness (no Postfix, no root).
    Values written by sluicectl are read back with redis-cli and values
    written with redis-cli are shown by sluicectl: the keyspace is the
    interface.
"""
import os
import select
import subprocess
import time

import harness
import keys

CONF_EXTRA = """
category "news" { subdomain = "news" }
tenant "shop42" { subdomain = "shop42" }
"""


def ctl(conf, *args, input=None):
    """Run sluicectl -c conf ARGS; returns the CompletedProcess (text)."""
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, input=input, timeout=60)


def start(env, extra=CONF_EXTRA):
    redis = env.redis()
    return redis, env.file("sluice.conf", redis.conf_section() + extra)


def hgetall(redis, key):
    out = redis.cli("HGETALL", key).split("\n")
    return dict(zip(out[0::2], out[1::2])) if out != [""] else {}


def test_tenant_status_show_set_list(env):
    redis, conf = start(env)
    r = ctl(conf, "tenant", "status", "shop42")
    assert r.returncode == 0 and "status: active (no entry)" in r.stdout
    r = ctl(conf, "tenant", "status", "shop42", "paused", "--reason", "complaint rate 0.4%")
    assert r.returncode == 0, r.stderr
    h = hgetall(redis, keys.key("tenant", "shop42"))
    assert h["status"] == "paused" and h["status_reason"] == "complaint rate 0.4%"
    assert abs(int(h["status_changed"]) - time.time()) < 5
    r = ctl(conf, "tenant", "status", "shop42")
    assert "status: paused" in r.stdout and 'status_reason: "complaint rate 0.4%"' in r.stdout
    # Back to active without a reason: the old reason goes away.
    assert ctl(conf, "tenant", "status", "shop42", "active").returncode == 0
    assert "status_reason" not in hgetall(redis, keys.key("tenant", "shop42"))
    # Each change is on the events stream.
    ev = redis.cli("XRANGE", keys.key("events"), "-", "+").split("\n")
    assert ev.count("tenant-status") == 2 and "paused" in ev and "active" in ev
    # A tenant set by hand with redis-cli, and one unknown to the config.
    redis.cli("HSET", keys.key("tenant", "mall7"), "status", "suspended", "status_reason", "unpaid")
    r = ctl(conf, "tenant", "status", "ghost", "paused")
    assert r.returncode == 0 and "not defined" in r.stderr
    r = ctl(conf, "tenant", "list")
    rows = [l.split() for l in r.stdout.strip().split("\n")[1:]]
    assert [(x[0], x[1], x[3]) for x in rows] == [
        ("ghost", "paused", "no"), ("mall7", "suspended", "no"), ("shop42", "active", "yes")]
    assert rows[1][4:] == ["unpaid"]
    for bad in (["tenant", "status", "shop42", "sleeping"], ["tenant", "status", "Shop_42"],
                ["tenant", "status", "shop42", "--reason", "x"], ["tenant", "list", "x"]):
        assert ctl(conf, *bad).returncode == 64, bad


def test_sasl_set_show(env):
    redis, conf = start(env)
    r = ctl(conf, "sasl", "show", "alice@shop42")
    assert r.returncode == 1 and "no entry" in r.stdout
    r = ctl(conf, "sasl", "set", "alice@shop42", "--category", "news", "--tenant", "shop42",
            "--domains", "Shop42.example, mail.shop42.example")
    assert r.returncode == 0, r.stderr
    assert hgetall(redis, keys.key("sasl", "alice@shop42")) == {
        "category": "news", "tenant": "shop42", "domains": "shop42.example,mail.shop42.example"}
    # Only the given fields change; an empty value removes a field.
    assert ctl(conf, "sasl", "set", "alice@shop42", "--tenant", "").returncode == 0
    assert hgetall(redis, keys.key("sasl", "alice@shop42")) == {
        "category": "news", "domains": "shop42.example,mail.shop42.example"}
    r = ctl(conf, "sasl", "show", "alice@shop42")
    assert r.returncode == 0
    assert r.stdout.split("\n")[:3] == ["user: alice@shop42", "category: news",
                                        "domains: shop42.example,mail.shop42.example"]
    r = ctl(conf, "sasl", "set", "bob", "--category", "promo")
    assert r.returncode == 0 and "not defined" in r.stderr      # warned, still written
    for bad in (["sasl", "set", "bob"], ["sasl", "set", "bob", "--category", "Bad!"],
                ["sasl", "set", "bob", "--domains", "a..b"], ["sasl", "show"]):
        assert ctl(conf, *bad).returncode == 64, bad


def test_limits_list_show(env):
    redis, conf = start(env)
    r = ctl(conf, "limits", "list")
    assert r.returncode == 0 and "no limits defined" in r.stdout
    redis.cli("HSET", keys.key("limit", "gmail-bulk"), "key", "${sender_orgdomain}", "rate", "50/hour",
              "burst", "50", "unit", "messages", "mode", "enforce")
    redis.cli("SADD", keys.key("limits"), "gmail-bulk")
    redis.cli("HSET", keys.key("limit", "draft"), "window", "day", "max", "10000")
    redis.cli("SET", keys.key("limit", "gmail-bulk:counter"), "3")        # not a limit
    redis.cli("HSET", keys.key("mode"), "global", "enforce", "tenant:shop42", "monitor")
    r = ctl(conf, "limits", "list")
    lines = r.stdout.strip().split("\n")
    assert lines[0].split()[:2] == ["draft", "inactive"] and "max=10000" in lines[0]
    assert lines[1].split()[:2] == ["gmail-bulk", "active"]
    assert "key=${sender_orgdomain}" in lines[1] and "rate=50/hour" in lines[1]
    assert lines[2] == "modes: global=enforce tenant:shop42=monitor"
    assert len(lines) == 3
    r = ctl(conf, "limits", "show", "gmail-bulk")
    assert r.returncode == 0
    assert "  rate: 50/hour" in r.stdout and "state: active" in r.stdout
    assert "inactive" in ctl(conf, "limits", "show", "draft").stdout
    assert ctl(conf, "limits", "show", "nope").returncode == 1


def test_stats_table(env):
    redis, conf = start(env)
    day = time.strftime("%Y%m%d", time.gmtime())
    redis.cli("HSET", keys.key("stats", day, "shop42", "news"), "sent", "1000", "hard", "12",
              "soft", "3", "complaint", "1", "unsub", "4", "sender_fault", "5",
              "sender_fault:blocked", "5", "unverified", "6")
    redis.cli("HSET", keys.key("stats", day, "-", "-"), "sent", "50")
    redis.cli("HSET", keys.key("stats", "20240101", "shop42", "news"), "sent", "7", "hard", "7")
    r = ctl(conf, "stats")
    assert r.returncode == 0
    rows = [l.split() for l in r.stdout.strip().split("\n")]
    assert rows[0] == ["day", day, "(UTC)"]
    assert rows[1][-4:] == ["SENDER", "UNVERIF", "HARD%", "COMPL%"]
    assert rows[2] == ["-", "-", "50", "0", "0", "0", "0", "0", "0", "0.00%", "0.00%"]
    assert rows[3] == ["shop42", "news", "1000", "12", "3", "1", "4", "5", "6", "1.20%", "0.10%"]
    assert rows[4] == ["TOTAL", "1050", "12", "3", "1", "4", "5", "6", "1.14%", "0.10%"]
    r = ctl(conf, "stats", "--day", "20240101", "--tenant", "shop42")
    rows = [l.split() for l in r.stdout.strip().split("\n")]
    assert rows[2] == ["shop42", "news", "7", "7", "0", "0", "0", "0", "0", "100.00%", "0.00%"]
    assert len(rows) == 4
    assert ctl(conf, "stats", "--day", "2024-01-01").returncode == 64


def test_events_last_and_follow(env):
    redis, conf = start(env)
    assert ctl(conf, "events").stdout == ""
    for i in range(5):
        redis.cli("XADD", keys.key("events"), "*", "type", "hard-bounce", "rcpt", "u%d@example.com" % i,
                  "detail", "550 5.1.1 user unknown")
    r = ctl(conf, "events", "--count", "2")
    lines = r.stdout.strip().split("\n")
    assert len(lines) == 2
    assert "rcpt=u3@example.com" in lines[0] and "rcpt=u4@example.com" in lines[1]
    assert 'detail="550 5.1.1 user unknown"' in lines[1]
    assert lines[0][:4] == time.strftime("%Y", time.gmtime())

    conf = env.file("follow.conf", redis.conf_section(command_timeout=500) + CONF_EXTRA)
    p = subprocess.Popen([harness.program("ctl", "sluicectl"), "-c", conf, "events", "--count", "0",
                          "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # It read the last id (XREVRANGE) before its first XREAD: an entry added
        # earlier would be taken as already seen. Wait until it blocks in XREAD
        # on a connection a second old or more (several rounds: command_timeout
        # is 500 ms here, each XREAD BLOCK 300 ms).
        def following():
            assert p.poll() is None, p.stderr.read()
            return any("cmd=xread" in l and int(l.split(" age=")[1].split()[0]) >= 1
                       for l in redis.cli("CLIENT", "LIST").splitlines())
        harness.wait_for(following, 30, "sluicectl events --follow in XREAD")
        redis.cli("XADD", keys.key("events"), "*", "type", "unsubscribe", "rcpt", "new@example.com")
        ready, _, _ = select.select([p.stdout], [], [], 30)
        assert ready, "no event printed by --follow"
        line = p.stdout.readline()
        assert "type=unsubscribe" in line and "rcpt=new@example.com" in line
        assert "u4@example.com" not in line
    finally:
        p.kill()
        p.wait()


def test_config_check_and_errors(env):
    redis, conf = start(env)
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf, "-n"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "configuration OK" in r.stdout
    bad = env.file("bad.conf", 'redis {\n  port = "many"\n}\n')
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", bad, "-n"],
                       capture_output=True, text=True)
    assert r.returncode == 78 and "bad.conf" in r.stderr
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", os.path.join(env.dir, "none.conf"),
                        "tenant", "list"], capture_output=True, text=True)
    assert r.returncode == 78
    r = subprocess.run([harness.program("ctl", "sluicectl")], capture_output=True, text=True)
    assert r.returncode == 64 and "suppress add" in r.stderr
    r = ctl(conf, "frobnicate")
    assert r.returncode == 64
    down = env.file("down.conf", 'redis {\n  host = "127.0.0.1"\n  port = %d\n  connect_timeout = 300\n}\n'
                    % harness.free_port())
    for args in (["tenant", "list"], ["sasl", "show", "x"], ["limits", "list"], ["stats"],
                 ["events"], ["tenant", "status", "shop42", "paused"]):
        r = ctl(down, *args)
        assert r.returncode == 75, (args, r.stderr)
        assert "redis at 127.0.0.1:" in r.stderr


def test_dmarc_summary(env):
    redis, conf = start(env)
    now = time.time()
    today = time.strftime("%Y%m%d", time.gmtime(now))
    yesterday = time.strftime("%Y%m%d", time.gmtime(now - 86400))
    old = time.strftime("%Y%m%d", time.gmtime(now - 30 * 86400))
    # As sluice-feedback writes them (HINCRBY per record of a report).
    redis.cli("HSET", keys.key("dmarc", "example.com", today), "reports", "2", "messages", "120",
              "pass", "118", "fail", "2", "src:192.0.2.1:pass", "100", "src:2001:db8::1:pass", "18",
              "src:198.51.100.7:fail", "2")
    redis.cli("HSET", keys.key("dmarc", "example.com", yesterday), "reports", "1", "messages", "10",
              "pass", "10", "fail", "0", "src:192.0.2.1:pass", "10")
    redis.cli("HSET", keys.key("dmarc", "example.com", old), "reports", "9", "messages", "999")
    r = ctl(conf, "dmarc", "Example.COM", "--days", "3")
    assert r.returncode == 0, r.stderr
    rows = [l.split() for l in r.stdout.strip().split("\n")]
    assert rows[2] == [yesterday, "1", "10", "10", "0", "100.00%"]
    assert rows[3] == [today, "2", "120", "118", "2", "98.33%"]
    assert rows[4] == ["TOTAL", "3", "130", "128", "2", "98.46%"]
    assert rows[5] == [] and rows[6] == ["SOURCE", "PASS", "FAIL"]
    assert rows[7] == ["192.0.2.1", "110", "0"]
    assert rows[8] == ["2001:db8::1", "18", "0"]
    assert rows[9][:3] == ["198.51.100.7", "0", "2"] and "not authenticated" in r.stdout
    r = ctl(conf, "dmarc", "example.com", "--days", "31")
    total = [l.split() for l in r.stdout.split("\n") if l.startswith("TOTAL")][0]
    assert total[:3] == ["TOTAL", "12", "1129"]
    assert ctl(conf, "dmarc").returncode == 64
    assert ctl(conf, "dmarc", "example.com", "--days", "0").returncode == 64


def test_limits_set_remove_and_modes(env):
    redis, conf = start(env)
    r = ctl(conf, "limits", "set", "per-user", "key=${sasl_username}", "rate=100/hour", "burst=20",
            "unit=recipients")
    assert r.returncode == 0, r.stderr
    assert hgetall(redis, keys.key("limit", "per-user")) == {
        "key": "${sasl_username}", "rate": "100/hour", "burst": "20", "unit": "recipients"}
    assert redis.cli("SISMEMBER", keys.key("limits"), "per-user") == "1"
    # Switch it to a calendar window: rate removed (empty value), window and max set.
    assert ctl(conf, "limits", "set", "per-user", "rate=", "burst=", "window=day",
               "max=5000").returncode == 0
    assert hgetall(redis, keys.key("limit", "per-user")) == {
        "key": "${sasl_username}", "unit": "recipients", "window": "day", "max": "5000"}
    # What policyd would ignore is refused, and nothing is written.
    for args, msg in ((["nokey", "rate=1/hour"], "key template"),
                      (["both", "key=x", "rate=1/hour", "window=day", "max=3"], "exactly one"),
                      (["nomax", "key=${sender}", "window=day"], "needs max"),
                      # the values themselves, with policyd's own validator
                      (["badkey", "key=x", "rate=1/hour"], 'invalid key "x"'),
                      (["lots", "key=${sender}", "rate=lots"], 'invalid rate "lots"'),
                      (["badmax", "key=${sender}", "window=day", "max=many"], 'invalid max'),
                      (["badunit", "key=${sender}", "rate=1/h", "unit=bytes"], 'invalid unit')):
        r = ctl(conf, "limits", "set", *args)
        assert r.returncode == 65 and msg in r.stderr, args
        assert redis.cli("EXISTS", keys.key("limit", args[0])) == "0"
    for bad in (["limits", "set", "x"], ["limits", "set", "a:b", "key=x"],
                ["limits", "set", "x", "colour=blue"], ["limits", "set", "x", "novalue"]):
        assert ctl(conf, *bad).returncode == 64, bad
    assert ctl(conf, "limits", "remove", "per-user").returncode == 0
    assert redis.cli("EXISTS", keys.key("limit", "per-user")) == "0"
    assert redis.cli("SISMEMBER", keys.key("limits"), "per-user") == "0"
    assert ctl(conf, "limits", "remove", "per-user").returncode == 1

    assert "every check is enforced" in ctl(conf, "mode").stdout
    assert ctl(conf, "mode", "tenant:shop42", "monitor").returncode == 0
    assert ctl(conf, "mode", "domain:example.com", "off").returncode == 0
    assert hgetall(redis, keys.key("mode")) == {"tenant:shop42": "monitor", "domain:example.com": "off"}
    assert ctl(conf, "mode", "domain:example.com", "inherit").returncode == 0
    assert ctl(conf, "mode").stdout == "tenant:shop42: monitor\n"
    for bad in (["mode", "tenant:shop42", "loud"], ["mode", "planet:x", "off"], ["mode", "global"]):
        assert ctl(conf, *bad).returncode == 64, bad

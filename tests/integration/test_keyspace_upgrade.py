"""
NAME
    test_keyspace_upgrade - keyspace format 1 (before Cluster hash tags) refused, migrated, enforced

DESCRIPTION
    Against a real redis-server and the real programs: a Redis holding
    entries under the names of before the hash tags (keys.old(), what the
    previous version wrote) makes sluice-policyd, sluice-milter and
    sluice-logd refuse to start (exit 78, a log line saying to run sluicectl
    migrate), sluicectl refuse its commands (78) and sluice-feedback
    tempfail a message (75:
    Postfix keeps it); nothing in Redis changes. After sluicectl migrate
    the marker says format 2 and sluice-policyd enforces the old entries:
    a suppressed recipient is refused at RCPT, a limit defined under the
    old names is loaded, and its day counter, merged with the one an
    upgraded node had written meanwhile, refuses the next message. Merges
    keep what each kind needs (the longer suppression, both soft bounces,
    both counts), markers and charge records go, a hand-made key of the
    wrong type is listed and kept, and a second run moves nothing.
    With Redis unreachable at their start, policyd, the milter and logd
    start with Redis held (policyd answers its fail action) and check
    when it comes: old names then stop them with 78 and nothing written,
    a fresh Redis gets the marker and is used. On a 3-master cluster an
    old name on a master that is not the first seed is found.
"""
import os
import subprocess
import time

import pytest

import feedback_helpers
import harness
import keys
import milter_helpers
from test_policyd_util import start_policyd, policy_query


class Patient:
    """The test's Redis with a 10 s command timeout in its redis { } block:
    on a loaded machine a check that times out is skipped with a warning
    (the daemons start without Redis), which is not what these tests test."""

    def __init__(self, redis):
        self.redis = redis

    def conf_section(self, prefix="sluice:"):
        return self.redis.conf_section(prefix, command_timeout=10000)


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def start(env):
    redis = env.redis()
    secret = env.secret()
    conf = env.file("sluice.conf", (
        'secret_file = "%s"\n%s'
        'domain "example.com" { default_category = "news" }\n'
        'category "news" { subdomain = "news" }\n'
        'tenant "shop1" { subdomain = "shop1" }\n'
        'policyd {\n  strip_tag = true\n  lowercase_local_part = true\n}\n')
        % (secret, Patient(redis).conf_section()))
    return redis, conf


def dump(redis):
    """Every key with its type, for 'nothing changed'."""
    ks = [k for k in redis.cli("KEYS", "*").split("\n") if k]
    return sorted((k, redis.cli("TYPE", k)) for k in ks)


def test_format1_refused_until_migrated(env):
    redis, conf = start(env)
    gone = keys.old("supp", "global", "gone@dest.test")
    redis.cli("HSET", gone, "reason", "hard-bounce", "source", "test", "added", "1764720000")
    before = dump(redis)
    # sluice-policyd: refuses to start, saying what to do
    with pytest.raises(RuntimeError) as e:
        start_policyd(env, Patient(redis))
    assert "exited with 78" in str(e.value) and "sluicectl migrate" in str(e.value), str(e.value)
    assert gone in str(e.value)                                     # names one old key
    # sluice-logd: the same
    logf = env.file("maillog", "")
    lconf = env.file("logd.conf", '%slogd { log_file = "%s" state_file = "%s" }\n'
                     % (Patient(redis).conf_section(), logf, os.path.join(env.dir, "logd.state")))
    r = subprocess.run([harness.program("logd", "sluice-logd"), "-f", "-c", lconf],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 78 and "sluicectl migrate" in r.stderr, (r.returncode, r.stderr)
    # sluice-milter: the same (with redis = true, its default)
    rsa, _ = harness.dkim_keypair(env, "example", "rsa")
    mconf, msock = milter_helpers.write_conf(env, (
        'secret_file = "%s"\ndomain "example.com" {\n  default_category = "news"\n'
        '  dkim "r1" { algorithm = "rsa-sha256" key = "%s" }\n}\ncategory "news" { }\n'
        'milter { socket = "{socket}" }\n') % (env.secret("m.key"), rsa), redis=Patient(redis))
    r = subprocess.run([milter_helpers.milter_binary(), "-f", "-c", mconf],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 78 and "sluicectl migrate" in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(msock)
    # sluicectl: every command but migrate
    r = ctl(conf, "suppress", "check", "gone@dest.test")
    assert r.returncode == 78 and "sluicectl migrate" in r.stderr, (r.returncode, r.stderr)
    # sluice-feedback: tempfail, so Postfix keeps the report until the migration
    tok = ctl(conf, "token", "encode", "--category", "news", "--tenant", "shop1")
    assert tok.returncode == 0, tok.stderr
    rcpt = tok.stdout.strip() + "@news.example.com"
    msg = feedback_helpers.dsn(
        rcpt, feedback_helpers.dsn_record("other@dest.test", "550 5.1.1 User unknown"),
        "<other@dest.test>: 550 5.1.1 User unknown\n", to="other@dest.test")
    r = feedback_helpers.run_feedback(conf, msg, rcpt, ["-v"])
    assert r.returncode == 75 and b"sluicectl migrate" in r.stderr, (r.returncode, r.stderr)
    assert dump(redis) == before                                    # nobody wrote anything
    # the migration; then the old entry is enforced at RCPT
    r = ctl(conf, "migrate")
    assert r.returncode == 0, r.stderr
    assert "1 names of keyspace format 1: 1 renamed" in r.stdout, r.stdout
    assert redis.cli("GET", keys.key("keyspace")) == "2"
    assert redis.cli("HGET", keys.supp("global", "gone@dest.test"), "reason") == "hard-bounce"
    assert redis.cli("EXISTS", gone) == "0"
    proc, sock, _ = start_policyd(env, redis)
    answer = policy_query(sock, {"recipient": "gone@dest.test", "sasl_username": "alice"})
    assert answer == "550 5.1.1 Suppressed: hard-bounce (global list)", answer
    assert policy_query(sock, {"recipient": "fine@dest.test", "sasl_username": "alice"}) == "DUNNO"
    assert ctl(conf, "suppress", "check", "gone@dest.test").returncode == 0


def test_fresh_keyspace_marked_at_first_start(env):
    redis, conf = start(env)
    redis.cli("SET", "other-app:supp:global:x@y.example", "1")   # another prefix: not ours
    assert redis.cli("EXISTS", keys.key("keyspace")) == "0"
    proc, sock, _ = start_policyd(env, redis)
    assert redis.cli("GET", keys.key("keyspace")) == "2"
    # a newer format than this version knows is refused too
    proc.terminate()
    redis.cli("SET", keys.key("keyspace"), "3")
    r = ctl(conf, "suppress", "check", "a@b.example")
    assert r.returncode == 78 and "newer" in r.stderr, (r.returncode, r.stderr)


def test_migrate_merges_and_limits_are_enforced(env):
    redis, conf = start(env)
    day = time.strftime("%Y%m%d", time.gmtime())
    # the old version's data
    redis.cli("HSET", keys.old("limit", "cap"), "key", "${sasl_username}", "window", "day", "max", "3")
    redis.cli("SADD", keys.old("limits"), "cap")
    redis.cli("HSET", keys.old("mode"), "tenant:zz", "monitor", "global", "enforce")
    redis.cli("SET", keys.old("quota", "cap", day, "alice"), "2", "EX", "86400")
    redis.cli("HSET", keys.old("supp", "global", "short@dest.test"), "reason", "unsubscribe")
    redis.cli("EXPIRE", keys.old("supp", "global", "short@dest.test"), "600")
    redis.cli("ZADD", keys.old("soft", "full@dest.test"), "100", "m1")
    redis.cli("SADD", keys.old("rcpts", "abcd2345"), "00aa")
    redis.cli("EXPIRE", keys.old("rcpts", "abcd2345"), "5000")
    redis.cli("SET", keys.old("fbdone", "0123abcd"), "1764720000", "EX", "600")
    redis.cli("HSET", keys.old("charge", "192.0.2.7/1,192.0.2.1/25"), "instance", "x")
    redis.cli("SET", keys.old("rate", "hourly", "bob"), "not a hash")   # hand-made, never read
    # what an upgraded node wrote meanwhile under today's names
    redis.cli("SET", keys.key("quota", "cap", day, "alice"), "1", "EX", "86400")
    redis.cli("HSET", keys.key("mode"), "global", "monitor")
    redis.cli("HSET", keys.supp("global", "short@dest.test"), "reason", "complaint")   # no expiry
    redis.cli("ZADD", keys.key("soft", "full@dest.test"), "200", "m2")
    assert ctl(conf, "migrate", "--dry-run").returncode == 0
    assert redis.cli("EXISTS", keys.key("keyspace")) == "0"         # a dry run writes nothing
    r = ctl(conf, "migrate")
    assert r.returncode == 0, r.stderr
    assert "left alone: %s (a string" % keys.old("rate", "hourly", "bob") in r.stdout, r.stdout
    assert "10 names of keyspace format 1: 3 renamed, 4 merged" in r.stdout, r.stdout
    assert "2 deleted" in r.stdout and "1 left alone" in r.stdout, r.stdout
    assert redis.cli("GET", keys.key("quota", "cap", day, "alice")) == "3"        # both counted
    assert redis.cli("HGET", keys.supp("global", "short@dest.test"), "reason") == "complaint"
    assert redis.cli("TTL", keys.supp("global", "short@dest.test")) == "-1"       # the longer one
    assert redis.cli("ZCARD", keys.key("soft", "full@dest.test")) == "2"
    assert 4000 < int(redis.cli("TTL", keys.key("rcpts", "abcd2345"))) <= 5000    # expiry kept
    mode = redis.cli("HGETALL", keys.key("mode")).split("\n")
    assert dict(zip(mode[0::2], mode[1::2])) == {"global": "monitor", "tenant:zz": "monitor"}
    assert redis.cli("EXISTS", keys.old("fbdone", "0123abcd")) == "0"
    assert redis.cli("EXISTS", keys.old("charge", "192.0.2.7/1,192.0.2.1/25")) == "0"
    assert redis.cli("GET", keys.old("rate", "hourly", "bob")) == "not a hash"
    assert redis.cli("GET", keys.key("keyspace")) == "2"
    again = ctl(conf, "migrate")
    assert again.returncode == 0, again.stderr
    assert ("1 names of keyspace format 1: 0 renamed, 0 merged with today's name, 0 deleted"
            in again.stdout), again.stdout                          # only the hand-made key
    assert redis.cli("GET", keys.key("quota", "cap", day, "alice")) == "3"        # not added twice
    # the migrated limit, in enforce mode for this request's tenant-less user
    redis.cli("HDEL", keys.key("mode"), "global")
    proc, sock, _ = start_policyd(env, redis)
    harness.wait_for(lambda: "limit cap: loaded" in proc.output(), what="limit cap loaded")
    answer = policy_query(sock, {"sasl_username": "alice", "recipient": "r@dest.test"})
    assert answer.startswith("DEFER_IF_PERMIT") or answer.startswith("REJECT"), answer
    assert policy_query(sock, {"sasl_username": "carol", "recipient": "r@dest.test"}) == "DUNNO"
    assert redis.cli("GET", keys.key("quota", "cap", day, "carol")) == "1"


class Later:
    """A redis { } block naming a unix socket where no Redis listens yet.

    up(redis) makes it reach that Redis at once (a symlink to its socket),
    so the test fills the server first and the daemons see it whole."""

    conf_section = harness.Redis.conf_section

    def __init__(self, env):
        self.sock = os.path.join(env.dir, "later.sock")

    def up(self, redis):
        os.symlink(redis.sock, self.sock)


def later_daemons(env, later):
    """sluice-policyd, sluice-milter and sluice-logd started on a Redis that is not there.

    policyd has a limit in its config: it seeds it into Redis as soon as it may
    write there (a daemon that wrote before the check would show it)."""
    policyd, sock, _ = start_policyd(env, later, 'limit "per-user" {\n key = \'${sasl_username}\'\n'
                                     ' rate = "5/hour"\n unit = "recipients"\n}\n')
    rsa, _ = harness.dkim_keypair(env, "example", "rsa")
    mconf, msock = milter_helpers.write_conf(env, (
        'secret_file = "%s"\ndomain "example.com" {\n  default_category = "news"\n'
        '  dkim "r1" { algorithm = "rsa-sha256" key = "%s" }\n}\ncategory "news" { }\n'
        'milter { socket = "{socket}" }\n') % (env.secret("m.key"), rsa), redis=later)
    milter, _ = milter_helpers.start_milter(env, mconf, msock)
    logf = env.file("maillog", "")
    lconf = env.file("logd.conf", '%slogd { log_file = "%s" state_file = "%s" }\n'
                     % (later.conf_section(), logf, os.path.join(env.dir, "logd.state")))
    logd = env.daemon("logd", [harness.program("logd", "sluice-logd"), "-f", "-c", lconf],
                      ready=lambda: True)
    for p in (policyd, milter, logd):
        p.wait_output("keyspace format not checked", timeout=60)
    return policyd, sock, milter, logd


def test_redis_down_at_start_then_old_names_refused(env):
    later = Later(env)
    policyd, sock, milter, logd = later_daemons(env, later)
    # while the format is unknown policyd answers as with Redis down (its fail action)
    assert policy_query(sock, {"recipient": "gone@dest.test", "sasl_username": "alice"}) == "DUNNO"
    redis = env.redis()
    gone = keys.old("supp", "global", "gone@dest.test")
    redis.cli("HSET", gone, "reason", "hard-bounce", "source", "test", "added", "1764720000")
    before = dump(redis)
    later.up(redis)
    for p in (policyd, milter, logd):
        harness.wait_for(lambda: not p.alive(), 60, "%s to stop on the old keyspace" % p.name)
        assert p.popen.returncode == 78, (p.name, p.popen.returncode, p.output())
        out = p.output()
        assert "sluicectl migrate" in out and gone in out, out
    assert dump(redis) == before                                    # nobody wrote anything
    assert redis.cli("EXISTS", keys.key("keyspace")) == "0"


def test_redis_down_at_start_then_fresh_redis_used(env):
    later = Later(env)
    policyd, sock, milter, logd = later_daemons(env, later)
    assert policy_query(sock, {"recipient": "gone@dest.test", "sasl_username": "alice"}) == "DUNNO"
    redis = env.redis()
    redis.cli("HSET", keys.supp("global", "gone@dest.test"), "reason", "hard-bounce",
              "source", "test", "added", "1764720000")
    later.up(redis)
    for p in (policyd, milter, logd):
        p.wait_output("keyspace format checked: redis in use", timeout=60)
    assert redis.cli("GET", keys.key("keyspace")) == "2"
    policyd.wait_output("limit per-user: loaded", timeout=60)          # seeded once in use
    assert redis.cli("HGET", keys.key("limit", "per-user"), "rate") == "5/hour"
    harness.wait_for(lambda: policy_query(sock, {"recipient": "gone@dest.test",
                                                  "sasl_username": "alice"})
                     == "550 5.1.1 Suppressed: hard-bounce (global list)", 30,
                     "policyd to read the suppression list")
    assert policy_query(sock, {"recipient": "fine@dest.test", "sasl_username": "alice"}) == "DUNNO"
    assert all(p.alive() for p in (policyd, milter, logd))


def test_old_names_on_any_master_of_a_cluster(root_env):
    env = root_env
    cl = env.cluster()
    conf = env.file("ctl.conf", 'secret_file = "%s"\n%s' % (env.secret(), cl.conf_section()))
    # an old name whose slot is served by a master that is not the first seed
    n = 0
    while cl.owner(keys.old("supp", "global", "u%d@dest.test" % n)) is cl.nodes[0]:
        n += 1
    gone = keys.old("supp", "global", "u%d@dest.test" % n)
    cl.owner(gone).cli("HSET", gone, "reason", "hard-bounce", "source", "test", "added", "1")
    r = ctl(conf, "suppress", "check", "u%d@dest.test" % n)
    assert r.returncode == 78 and gone in r.stderr, (r.returncode, r.stderr)
    with pytest.raises(RuntimeError) as e:
        start_policyd(env, cl)
    assert "exited with 78" in str(e.value) and gone in str(e.value), str(e.value)
    marker = keys.key("keyspace")
    assert cl.owner(marker).cli("EXISTS", marker) == "0"

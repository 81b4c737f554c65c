"""
NAME
    test_ctl_migrate - sluicectl migrate: old-format suppression entries moved

DESCRIPTION
    Against a real redis-server from the harness: a Redis holding entries
    the way older writers and operators left them (sluice-feedback kept the
    +tag, redis-cli users kept the case) gets each moved to the canonical
    address every writer now uses (lib/keyspace.c), fields and expiry kept;
    where both names exist the longer-lasting entry wins; entries in the
    canonical form, other keys and other prefixes are untouched; a second
    run moves nothing; --dry-run changes nothing; more entries than one
    batch all move; and sluicectl check finds every address afterwards.
"""
import subprocess

import harness
import keys

POLICYD = "policyd {\n  strip_tag = true\n  lowercase_local_part = true\n}\n"


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def start(env):
    redis = env.redis()
    conf = env.file("sluice.conf", redis.conf_section("sluice:") + POLICYD)
    return redis, conf


def hgetall(redis, key):
    out = redis.cli("HGETALL", key).split("\n")
    return dict(zip(out[0::2], out[1::2])) if out != [""] else {}


def test_old_entries_moved_to_the_canonical_address(env):
    redis, conf = start(env)
    old_fb = keys.supp("global", "tagged+list@example.org")        # older sluice-feedback
    old_ops = keys.supp("cat:news", "Bob@example.net")              # an operator's redis-cli
    canon = keys.supp("tenant:shop1", "carol@example.org")          # already canonical
    redis.cli("HSET", old_fb, "reason", "hard-bounce", "source", "bounce", "added", "1700000000",
              "bounce_reason", "userunknown")
    redis.cli("HSET", old_ops, "reason", "manual", "source", "ops", "added", "1700000001",
              "expires", "4102444800")
    redis.cli("EXPIREAT", old_ops, "4102444800")
    redis.cli("HSET", canon, "reason", "complaint", "source", "complaint", "added", "1")
    redis.cli("SET", keys.supp("global", "Str@example.org"), "not a hash")
    redis.cli("HSET", keys.supp("global", "X+y@example.org", prefix="other:"), "reason", "manual")

    r = ctl(conf, "migrate", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "3 not under their canonical address" in r.stdout, r.stdout
    assert redis.cli("EXISTS", old_fb) == "1"

    r = ctl(conf, "migrate")
    assert r.returncode == 0, r.stderr
    assert "2 moved to their canonical address, 0 merged" in r.stdout, r.stdout
    assert redis.cli("EXISTS", old_fb, old_ops) == "0"
    h = hgetall(redis, keys.supp("global", "tagged@example.org"))
    assert h == {"reason": "hard-bounce", "source": "bounce", "added": "1700000000",
                 "bounce_reason": "userunknown"}
    moved = keys.supp("cat:news", "bob@example.net")
    assert hgetall(redis, moved)["reason"] == "manual"
    assert int(redis.cli("TTL", moved)) > 86400 * 365      # the expiry went with it
    assert hgetall(redis, canon)["reason"] == "complaint"
    assert redis.cli("GET", keys.supp("global", "Str@example.org")) == "not a hash"
    assert redis.cli("EXISTS", keys.supp("global", "X+y@example.org", prefix="other:")) == "1"

    r = ctl(conf, "migrate")                                 # idempotent
    assert r.returncode == 0 and "0 moved" in r.stdout and "0 merged" in r.stdout, r.stdout
    r = ctl(conf, "suppress", "check", "Tagged+List@Example.org")
    assert r.returncode == 0 and "hard-bounce" in r.stdout, r.stdout


def test_both_names_the_longer_lasting_entry_stays(env):
    redis, conf = start(env)
    # a permanent old entry beats a canonical one that expires
    old1, new1 = keys.supp("global", "A+x@example.org"), keys.supp("global", "a@example.org")
    redis.cli("HSET", old1, "reason", "hard-bounce")
    redis.cli("HSET", new1, "reason", "unsubscribe")
    redis.cli("EXPIRE", new1, "3600")
    # an old entry that expires sooner goes; the canonical one stays as it was
    old2, new2 = keys.supp("global", "B+x@example.org"), keys.supp("global", "b@example.org")
    redis.cli("HSET", old2, "reason", "manual")
    redis.cli("EXPIRE", old2, "60")
    redis.cli("HSET", new2, "reason", "complaint")
    r = ctl(conf, "migrate")
    assert r.returncode == 0, r.stderr
    assert "0 moved to their canonical address, 2 merged" in r.stdout, r.stdout
    assert hgetall(redis, new1)["reason"] == "hard-bounce"
    assert redis.cli("TTL", new1) == "-1"
    assert hgetall(redis, new2)["reason"] == "complaint"
    assert redis.cli("EXISTS", old1, old2) == "0"


def test_more_than_one_batch(env):
    redis, conf = start(env)
    n = 700                                                  # batches of 128 pairs
    cmds = "".join("HSET %s reason manual\n" % keys.supp("global", "U%d+t@example.org" % i)
                   for i in range(n))
    subprocess.run(["redis-cli", "-s", redis.sock], input=cmds, text=True, capture_output=True,
                   check=True, timeout=60)
    r = ctl(conf, "migrate")
    assert r.returncode == 0, r.stderr
    assert "%d suppression entries, %d moved" % (n, n) in r.stdout, r.stdout
    assert redis.cli("EXISTS", *[keys.supp("global", "u%d@example.org" % i)
                                 for i in range(n)]) == str(n)

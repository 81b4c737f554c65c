"""
NAME
    test_supp_compact - the compact suppression layout's Redis functions (lib/supp_compact.lua)

DESCRIPTION
    Loads the function library into a throwaway redis-server as an
    operator would (redis-cli FUNCTION LOAD) and reads and writes entries
    with FCALL only, as doc/redis-keys.md shows: put, get (also
    FCALL_RO), replace, delete, scopes kept apart, expiry, an address too
    long for a listpack field stored by its hash, an unknown reason
    refused; and the bucket written by the client-side importer formula
    (SHA-1, first 8 hex digits, modulo the bucket count) is the one the
    function reads. Buckets stay listpacks.
"""
import hashlib
import os
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "..", "..", "lib", "supp_compact.lua")


@pytest.fixture
def redis(env):
    r = env.redis()
    with open(LUA) as f:
        assert r.cli("FUNCTION", "LOAD", "REPLACE", f.read()) == "sluice_supp"
    return r


def get(redis, *args, ro=False):
    out = redis.cli("FCALL_RO" if ro else "FCALL", "sluice_supp_get", 0, *args)
    return out.split("\n") if out else None


def test_put_get_replace_delete(redis):
    now = int(time.time())
    assert redis.cli("FCALL", "sluice_supp_put", 0, "bob@example.net", "hard-bounce", now, 0,
                     "bounce") == "1"
    assert get(redis, "bob@example.net") == ["hard-bounce", str(now), "", "bounce"]
    assert get(redis, "bob@example.net", ro=True) == ["hard-bounce", str(now), "", "bounce"]
    assert get(redis, "Bob@example.net") is None           # the canonical form is the writer's job
    assert get(redis, "bob@example.net", "cat:news") is None
    redis.cli("FCALL", "sluice_supp_put", 0, "bob@example.net", "complaint", now + 5, 0, "fbl")
    assert get(redis, "bob@example.net")[0] == "complaint"
    assert redis.cli("FCALL", "sluice_supp_del", 0, "bob@example.net") == "1"
    assert get(redis, "bob@example.net") is None
    assert redis.cli("FCALL", "sluice_supp_del", 0, "bob@example.net") == "0"


def test_scopes_expiry_long_address_and_bad_reason(redis):
    now = int(time.time())
    redis.cli("FCALL", "sluice_supp_put", 0, "dave@example.com", "unsubscribe", now, now + 3600,
              "one-click", "cat:news")
    assert get(redis, "dave@example.com", "cat:news") == ["unsubscribe", str(now), str(now + 3600),
                                                          "one-click"]
    assert get(redis, "dave@example.com") is None
    redis.cli("FCALL", "sluice_supp_put", 0, "old@example.com", "manual", now - 10, now - 1, "ops")
    assert get(redis, "old@example.com") is None          # expired
    long = "a" * 60 + "@example.com"
    redis.cli("FCALL", "sluice_supp_put", 0, long, "import", now, 0, "x" * 100)
    assert get(redis, long) == ["import", str(now), "", "x" * 24]
    keys = redis.cli("KEYS", "sluice:suppb:*").split("\n")
    assert all(redis.cli("OBJECT", "ENCODING", k) == "listpack" for k in keys), keys
    assert all(long not in redis.cli("HKEYS", k) for k in keys)
    out = redis.cli("FCALL", "sluice_supp_put", 0, "x@example.com", "sideways", now, 0, "s", check=False)
    assert "unknown reason sideways" in out, out
    assert get(redis, "x@example.com") is None


def test_importer_formula_matches_the_function(redis):
    addr = "carol@example.org"
    bucket = int(hashlib.sha1(addr.encode()).hexdigest()[:8], 16) % 4096
    redis.cli("HSET", "sluice:suppb:global:%d" % bucket, addr, "h%s::import" % "1")
    assert get(redis, addr) == ["hard-bounce", "1", "", "import"]

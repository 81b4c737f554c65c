"""
NAME
    test_policyd_redis_errors - error replies from Redis are failures

DESCRIPTION
    With Redis at maxmemory and maxmemory-policy noeviction, the decision
    script's writes fail with OOM. Before issue 10 the charge was lost and
    the limit silently lifted (8 of 8 passed a limit of 3). Now the script
    stops at the first failed write, sluice-policyd answers the configured
    limit_fail_action (defer here), logs the key (rate limited), counts the
    error reply on /metrics, and the circuit breaker sees a failure.
"""
import harness
from test_policyd_util import start_policyd, policy_query, http_get
import keys


def test_maxmemory_defers_and_logs(env):
    redis = env.redis()
    proc, sock, http = start_policyd(env, redis, "limit_fail_action = defer\n", http=True)
    redis.cli("HSET", keys.key("limit", "cap3"), "key", "${sasl_username}", "window", "day", "max", "3")
    redis.cli("SADD", keys.key("limits"), "cap3")
    harness.wait_for(lambda: "limit cap3: loaded" in proc.output(), what="limit cap3 loaded")
    proc.wait_output("limit cap3: loaded")
    # fill it, then forbid writes
    for i in range(200):
        redis.cli("SET", "filler:%d" % i, "x" * 1000)
    redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
    redis.cli("CONFIG", "SET", "maxmemory", "1")
    assert "OOM" in redis.cli("SET", "probe", "1", check=False)
    answers = [policy_query(sock, {"sasl_username": "alice", "recipient": "r%d@dest.test" % i})
               for i in range(8)]
    redis.cli("CONFIG", "SET", "maxmemory", "0")
    assert not any(a == "DUNNO" for a in answers), answers       # never silently lifted
    assert all(a.startswith("DEFER_IF_PERMIT") or a.startswith("DEFER") for a in answers), answers
    out = proc.output()
    assert "redis error reply (decision script)" in out and "OOM" in out, out[-3000:]
    errline = [l for l in out.splitlines() if "redis error reply" in l][0]
    assert "alice" in errline, errline                              # the key is named
    assert out.count("redis error reply") <= 3                        # rate limited
    status, body = http_get(http, "/metrics")
    line = [l for l in body.splitlines() if l.startswith("sluice_policyd_redis_error_replies_total")]
    assert line and int(line[0].split()[1]) >= 1, line


def test_maxmemory_when_the_limit_refuses(env):
    """Over the limit, a failed statistics write is reported but the refusal stands."""
    redis = env.redis()
    proc, sock, http = start_policyd(env, redis, "limit_fail_action = dunno\n", http=True)
    redis.cli("HSET", keys.key("limit", "cap3"), "key", "${sasl_username}", "window", "day", "max", "3")
    redis.cli("SADD", keys.key("limits"), "cap3")
    harness.wait_for(lambda: "limit cap3: loaded" in proc.output(), what="limit cap3 loaded")
    ok = [policy_query(sock, {"sasl_username": "bob", "recipient": "r%d@dest.test" % i})
          for i in range(3)]
    assert ok == ["DUNNO"] * 3
    redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
    redis.cli("CONFIG", "SET", "maxmemory", "1")
    over = policy_query(sock, {"sasl_username": "bob", "recipient": "x@dest.test"})
    redis.cli("CONFIG", "SET", "maxmemory", "0")
    print("\nover the limit at maxmemory: %s" % over)
    assert over.startswith("DEFER") and "cap3" in proc.output(), over   # not the dunno fail action
    proc.wait_output("redis error reply (decision script)")
    status, body = http_get(http, "/metrics")
    line = [l for l in body.splitlines() if l.startswith("sluice_policyd_redis_error_replies_total")]
    assert int(line[0].split()[1]) >= 1

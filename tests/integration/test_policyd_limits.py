"""
NAME
    test_policyd_limits - rate limits and quotas through Postfix and a real Redis

DESCRIPTION
    smtp-source authenticates nobody, so the 200-message test keys its
    limit on the envelope sender (${sender}); the SASL variant keys on
    ${sasl_username} with fewer messages, the login set with XCLIENT.
    Deferrals are counted from Postfix's log (NOQUEUE: reject: RCPT ...
    450), acceptances from smtp-sink.
"""
import re
import time

import harness
import keys
from test_policyd_util import (start_policyd, policy_query, policy_on, send_as, XCLIENT_MAIN,
                               http_get)


def define(redis, name, **fields):
    args = []
    for k, v in fields.items():
        args += [k, v]
    redis.cli("DEL", keys.key("limit", name))
    redis.cli("HSET", keys.key("limit", name), *args)
    redis.cli("SADD", keys.key("limits"), name)


def wait_loaded(proc, name, what="loaded", count=1):
    try:
        harness.wait_for(lambda: proc.output().count("limit %s: %s" % (name, what)) >= count,
                         what="limit %s %s" % (name, what))
    except TimeoutError:
        raise AssertionError("limit %s not %s:\n%s" % (name, what, proc.output()))


def deferred(pf, sender):
    return len([l for l in pf.log().splitlines()
                if "NOQUEUE: reject: RCPT" in l and " 450 4.7.1" in l and "from=<%s>" % sender in l])


def delivered(sink, sender):
    return len([e for e, _ in sink.messages() if e["mail_from"] == sender])


def settle(pf, sink, sender, expect):
    """Wait for expect deliveries and an empty queue (no more to come); the count."""
    try:
        harness.wait_for(lambda: delivered(sink, sender) >= expect and pf.queue() == [], 120,
                         "%d deliveries from %s and an empty queue" % (expect, sender))
    except TimeoutError:
        pass                    # the count says what arrived
    return delivered(sink, sender)


def test_200_messages_50_per_hour_then_live_change_and_monitor(root_env):
    env = root_env
    redis = env.redis()
    sink = env.sink()
    proc, sock, http = start_policyd(env, redis, http=True)
    pf = env.postfix(relay=sink, policy="unix:%s" % sock)
    define(redis, "per-sender", key="${sender}", rate="50/hour", match="sender=a@src.test")
    define(redis, "watch", key="${sender}", rate="50/hour", match="sender=m@src.test",
           mode="monitor")
    wait_loaded(proc, "per-sender")
    wait_loaded(proc, "watch")

    r = pf.smtp_source("-A", "-s", "4", "-m", "200", "-f", "a@src.test", "-t", "r@dest.test")
    assert r.returncode == 0, r.stderr
    assert settle(pf, sink, "a@src.test", 50) == 50
    # Postfix's log goes through postlogd: its lines may come after the replies
    harness.wait_for(lambda: deferred(pf, "a@src.test") >= 150, 30, "150 deferrals logged")
    assert deferred(pf, "a@src.test") == 150
    assert redis.cli("HGET", keys.key("rulestats", "per-sender"), "deferred") == "150"

    # raising the limit with redis-cli takes effect for the next message
    redis.cli("HSET", keys.key("limit", "per-sender"), "rate", "60/hour")
    wait_loaded(proc, "per-sender", "changed")
    q = {"sender": "a@src.test", "recipient": "r@dest.test"}
    assert policy_query(sock, q) == "DUNNO"

    # monitor mode: everything passes, 150 counted as would-defer
    r = pf.smtp_source("-A", "-s", "4", "-m", "200", "-f", "m@src.test", "-t", "r@dest.test")
    assert r.returncode == 0, r.stderr
    assert settle(pf, sink, "m@src.test", 200) == 200
    assert deferred(pf, "m@src.test") == 0
    assert redis.cli("HGET", keys.key("rulestats", "watch"), "would_defer") == "150"
    status, body = http_get(http, "/metrics")
    assert status == 200
    assert 'sluice_policyd_rule_total{rule="watch",result="would_defer"} 150' in body, body
    assert 'sluice_policyd_rule_total{rule="per-sender",result="deferred"} 150' in body, body


def test_sasl_user_limit(root_env):
    env = root_env
    redis = env.redis()
    sink = env.sink()
    proc, sock, _ = start_policyd(env, redis, 'limit "per-user" {\n key = \'${sasl_username}\'\n'
                                  ' rate = "5/hour"\n unit = "recipients"\n}\n')
    pf = env.postfix(relay=sink, policy="unix:%s" % sock, main=XCLIENT_MAIN)
    wait_loaded(proc, "per-user")     # seeded from the config file
    assert redis.cli("HGET", keys.key("limit", "per-user"), "rate") == "5/hour"
    results = [send_as(pf, "alice", "alice@shop.test", ["r%d@dest.test" % i]) for i in range(8)]
    accepted = sum(1 for ok, _ in results if ok)
    refused = [list(ref.values())[0] for ok, ref in results if not ok]
    assert accepted == 5 and len(refused) == 3
    assert all(code == 450 and "Rate limit exceeded (per-user)" in text
               and re.search(r"try again in \d+ seconds", text) for code, text in refused), refused
    # another user has its own bucket
    assert send_as(pf, "bob", "bob@shop.test", ["x@dest.test"])[0] == ["x@dest.test"]
    sink.wait(6)


def test_all_or_nothing(env):
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis)
    define(redis, "wide", key="${client_address}", rate="100/hour")
    define(redis, "narrow", key="${sender}", rate="2/hour")
    wait_loaded(proc, "wide")
    wait_loaded(proc, "narrow")
    answers = [policy_query(sock, {"sender": "s@src.test"}) for _ in range(5)]
    assert answers[:2] == ["DUNNO", "DUNNO"]
    assert all(a.startswith("DEFER_IF_PERMIT 4.7.1 Rate limit exceeded (narrow)") for a in answers[2:])
    # the refused requests charged nothing: "wide" holds 2, not 5
    level = float(redis.cli("HGET", keys.key("rate", "wide", "127.0.0.1"), "level"))
    assert 1.9 < level <= 2.0, level
    assert redis.cli("HGET", keys.key("rulestats", "narrow"), "deferred") == "3"


def test_calendar_window_reject_and_messages_unit(env):
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis, 'time_zone = "Asia/Tokyo"\n')
    define(redis, "daily", key="${sender_domain}", window="day", max="3", action="reject",
           unit="messages", text="Daily quota reached")
    wait_loaded(proc, "daily")
    import socket
    answers = []
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock)
        # one message with three recipients counts once (unit messages)
        for rcpt in ("a@x.test", "b@x.test", "c@x.test"):
            answers.append(policy_on(s, {"sender": "u@Src.TEST", "recipient": rcpt,
                                         "instance": "msg1"}))
        for i in range(4):
            answers.append(policy_on(s, {"sender": "u@src.test", "instance": "msg%d" % (i + 2)}))
    assert answers[:5] == ["DUNNO"] * 5, answers
    assert answers[5:] == ["REJECT 5.7.1 Daily quota reached"] * 2
    day = time.strftime("%Y%m%d", time.gmtime(time.time() + 9 * 3600))
    key = keys.key("quota", "daily", day, "src.test")
    assert redis.cli("GET", key) == "3"
    assert int(redis.cli("TTL", key)) > 3600


def test_invalid_value_logged_and_ignored(env):
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis)
    define(redis, "good", key="${sender}", rate="1/hour", match="sender=z@src.test")
    define(redis, "bad", key="${sender}", rate="lots")
    wait_loaded(proc, "good")
    wait_loaded(proc, "bad", "invalid rate")
    assert policy_query(sock, {"sender": "z@src.test"}) == "DUNNO"
    assert policy_query(sock, {"sender": "z@src.test"}).startswith("DEFER_IF_PERMIT")
    redis.cli("HSET", keys.key("mode"), "global", "sideways")
    proc.wait_output("mode global=\"sideways\"")      # a later poll than the one that logged "bad"
    assert proc.alive()
    assert proc.output().count("limit bad: invalid rate") == 1   # logged once, not every poll
    # a warning threshold is logged and exported
    define(redis, "bulk", key="${sender_orgdomain}", window="day", max="1000", warn="2",
           match="recipient_domain=gmail.com,googlemail.com", mode="monitor")
    wait_loaded(proc, "bulk")
    for rcpt in ("a@gmail.com", "b@googlemail.com", "c@example.org"):
        policy_query(sock, {"sender": "news@mail.shop.co.uk", "recipient": rcpt})
    proc.wait_output("limit bulk: warning threshold 2 reached")
    day = time.strftime("%Y%m%d", time.gmtime())
    assert redis.cli("GET", keys.key("quota", "bulk", day, "shop.co.uk")) == "2"


def test_rate_refills(env):
    """GCRA: 1 a second with a burst of 2; the bucket drains at the rate."""
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis)
    define(redis, "fast", key="${client_address}", rate="60/minute", burst="2")
    wait_loaded(proc, "fast")
    # The answers depend on when the queries come. On a loaded machine an
    # attempt may be too slow to mean anything (the third query over a second
    # after the first, the fifth two seconds after it): it is made again with
    # a fresh bucket (another client address). A wrong answer within the
    # timing fails at once.
    for attempt in range(1, 11):
        q = {"client_address": "127.0.0.%d" % attempt}
        t0 = time.monotonic()
        got = [policy_query(sock, q) for _ in range(3)]
        if time.monotonic() - t0 >= 0.95:
            continue
        assert got[:2] == ["DUNNO", "DUNNO"]
        assert got[2] == "DEFER_IF_PERMIT 4.7.1 Rate limit exceeded (fast), try again in 1 seconds"
        time.sleep(1.05)                # a token comes back a second after the first query
        got = [policy_query(sock, q) for _ in range(2)]
        if time.monotonic() - t0 >= 1.95:
            continue
        assert got[0] == "DUNNO"
        assert got[1].startswith("DEFER_IF_PERMIT")
        ttl = int(redis.cli("PTTL", keys.key("rate", "fast", "127.0.0.%d" % attempt)))
        assert 0 < ttl <= 3100, ttl      # the key lives as long as the bucket takes to drain
        break
    else:
        raise AssertionError("10 attempts, none fast enough to tell (machine too loaded)")


def test_keys_of_the_wrong_type(env):
    """Hand-written keys of the wrong type are skipped; everything else still works."""
    redis = env.redis()
    redis.cli("HSET", keys.key("sasl", "wt"), "tenant", "t9")
    redis.cli("SET", keys.key("tenant", "t9"), "paused")                  # not a hash
    redis.cli("SET", keys.supp("global", "w@dest.test"), "yes")       # not a hash
    redis.cli("HSET", keys.supp("global", "gone@dest.test"), "reason", "manual")
    redis.cli("SET", keys.key("mode"), "monitor")                      # not a hash
    redis.cli("SET", keys.key("limit", "stringy"), "50/hour")
    redis.cli("SADD", keys.key("limits"), "stringy")
    proc, sock, _ = start_policyd(env, redis)
    define(redis, "ok1", key="${sasl_username}", rate="2/hour")
    define(redis, "broken", key="${client_address}", window="day", max="5")
    wait_loaded(proc, "ok1")
    day = time.strftime("%Y%m%d", time.gmtime())
    redis.cli("SET", keys.key("quota", "broken", day, "127.0.0.1"), "lots")  # not a number
    q = {"sasl_username": "wt", "recipient": "w@dest.test"}
    assert policy_query(sock, q) == "DUNNO"
    assert policy_query(sock, q) == "DUNNO"
    assert policy_query(sock, q).startswith("DEFER_IF_PERMIT 4.7.1 Rate limit exceeded (ok1)")
    assert policy_query(sock, {"recipient": "gone@dest.test"}).startswith("550")
    proc.wait_output("limit stringy: the key is a string, not a hash")
    proc.wait_output("mode: the key is a string, not a hash")
    out = proc.wait_output("has the wrong type or value")
    assert "circuit breaker open" not in out
    assert proc.alive()


def test_passes_counted_off_the_decision_path_same_totals(env):
    """The decision script reports passes; policyd adds them up and writes
    rulestats:<name> passed every poll interval and at the stop: the totals
    are those of one write per request, none lost at a clean stop."""
    import os
    import signal
    import subprocess
    import harness
    redis = env.redis()
    define(redis, "count", key="${sender}", rate="1000/hour", burst="1000")
    # a poll every 3 s: the last passes are still pending at the SIGTERM below
    proc, sock, _ = start_policyd(env, redis, policyd_extra="  poll_interval = 3000\n")
    # the first poll may come before Redis is connected: the next is 3 s later
    harness.wait_for(lambda: "limit count: loaded" in proc.output(), 15, "limit loaded")
    load = os.path.join(harness.BUILDDIR, "tests", "bench", "policy_load")
    r = subprocess.run([load, "-s", sock, "-c", "4", "-n", "400", "-w", "0"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "dunno=400" in r.stdout, r.stdout + r.stderr
    harness.wait_for(lambda: redis.cli("HGET", keys.key("rulestats", "count"), "passed") == "400", 10,
                     "400 passes counted")
    for i in range(7):
        assert policy_query(sock, {"sender": "s%d@src.test" % i}) == "DUNNO"
    proc.signal(signal.SIGTERM)
    assert proc.stop() == 0
    assert redis.cli("HGET", keys.key("rulestats", "count"), "passed") == "407"

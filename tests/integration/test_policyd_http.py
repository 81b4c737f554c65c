"""
NAME
    test_policyd_http - one-click unsubscribe (RFC 8058), /metrics, /healthz

DESCRIPTION
    The token is made by sluicectl (lib/token.c, the same code the milter
    uses for List-Unsubscribe) with policyd's secret. A POST with curl adds
    the category-scoped suppression once (idempotent) and the recipient
    is then rejected at RCPT for users of that category; a tampered token
    is refused and adds nothing; a GET only shows a confirmation page.
"""
import base64
import subprocess
import time

import harness
from test_policyd_util import start_policyd, policy_query, http_get
import keys


def url_token(proc, rcpt, category="news", tenant="shop1", *extra):
    conf = proc.conf_path
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf, "token", "encode",
                        "--kind", "u", "--category", category, "--tenant", tenant, "--rcpt", rcpt]
                       + list(extra), capture_output=True, text=True, check=True)
    return r.stdout.split()[-1]


def curl(*args):
    r = subprocess.run(["curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}"] + list(args),
                       capture_output=True, text=True, timeout=60)
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def test_one_click(env):
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, http=True)
    redis.cli("HSET", keys.key("sasl", "alice"), "tenant", "shop1", "category", "news")
    token = url_token(proc, "Reader+news@Example.COM")
    url = "http://127.0.0.1:%d/u/%s" % (port, token)

    code, body = curl(url)                      # GET: a page with a button, nothing recorded
    assert code == 200 and "<form method=\"post\" action=\"\">" in body and "Unsubscribe" in body
    assert redis.cli("KEYS", keys.pattern("supp")) == ""

    code, body = curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", url)
    assert code == 200 and "unsubscribed" in body
    key = keys.supp("cat:news", "reader@example.com")   # +tag and case per strip_tag, lowercase_local_part
    assert redis.cli("HGET", key, "reason") == "unsubscribe"
    assert redis.cli("HGET", key, "source") == "one-click"
    added = redis.cli("HGET", key, "added")
    code, _ = curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", url)   # idempotent
    assert code == 200 and redis.cli("HGET", key, "added") == added
    assert redis.cli("KEYS", keys.key("stats", "*", "shop1", "news")) != ""
    assert redis.cli("HGET", redis.cli("KEYS", keys.key("stats", "*", "shop1", "news")), "unsub") == "1"

    # tampered: one character of the MAC changed, or the payload changed
    bad = token[:-1] + ("a" if token[-1] != "a" else "b")
    code, body = curl("-X", "POST", "-d", "List-Unsubscribe=One-Click",
                      "http://127.0.0.1:%d/u/%s" % (port, bad))
    assert code == 400 and "not valid" in body
    other = url_token(proc, "victim@example.com")
    forged = other[:-22] + token[-22:]      # another nonce and ciphertext under this tag
    assert "example" not in base64.urlsafe_b64decode(token[4:] + "==").decode("latin-1").lower()
    code, _ = curl("-X", "POST", "http://127.0.0.1:%d/u/%s" % (port, forged))
    assert code == 400
    assert redis.cli("EXISTS", keys.supp("cat:news", "victim@example.com")) == "0"

    # the suppression now applies at RCPT to the category's users
    a = policy_query(sock, {"sasl_username": "alice", "recipient": "reader@example.com"})
    assert a.startswith("550 5.7.1") and "unsubscribe" in a, a

    code, body = curl("http://127.0.0.1:%d/metrics" % port)
    assert code == 200
    assert 'sluice_policyd_unsubscribe_total{result="ok"} 2' in body
    assert 'sluice_policyd_unsubscribe_total{result="bad_token"} 2' in body
    assert "sluice_policyd_breaker_state 0" in body
    assert "sluice_policyd_redis_seconds_count" in body
    assert "sluice_policyd_requests_total 1" in body


def test_one_click_expired_token_refused(env):
    """A URL older than token_lifetime_days unsubscribes nobody."""
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, http=True)
    old = url_token(proc, "late@example.com", "news", "shop1", "--day", str(int(time.time()) // 86400 - 31))
    code, body = curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", "http://127.0.0.1:%d/u/%s" % (port, old))
    assert code == 400 and "not valid" in body
    assert redis.cli("KEYS", keys.pattern("supp")) == ""
    fresh = url_token(proc, "late@example.com", "news", "shop1", "--day", str(int(time.time()) // 86400 - 30))
    code, _ = curl("-X", "POST", "-d", "List-Unsubscribe=One-Click", "http://127.0.0.1:%d/u/%s" % (port, fresh))
    assert code == 200
    assert redis.cli("EXISTS", keys.supp("cat:news", "late@example.com")) == "1"


def test_healthz(env):
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, http=True)
    harness.wait_for(lambda: http_get(port, "/healthz")[0] == 200, 5, "healthz ok")
    assert http_get(port, "/healthz")[1] == "ok\n"
    assert http_get(port, "/nothing")[0] == 404
    redis.kill()
    harness.wait_for(lambda: http_get(port, "/healthz")[0] == 503, 10, "healthz 503")
    assert "redis" in http_get(port, "/healthz")[1]

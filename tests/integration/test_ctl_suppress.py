"""
NAME
    test_ctl_suppress - sluicectl suppress add/remove/check/list/import/export

DESCRIPTION
    Against a real redis-server from the harness (no Postfix, no root):
    entries are plain hashes a redis-cli user can read and write, scopes
    and TTLs work, listing uses SCAN (KEYS is forbidden to the client by
    an ACL), exports import back, and a messy Amazon SES export is
    imported with its bad lines reported by line number.
"""
import csv
import io
import os
import subprocess
import time

import harness
import keys


def ctl(conf, *args, input=None):
    """Run sluicectl -c conf ARGS; returns the CompletedProcess (text)."""
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, input=input, timeout=60)


# Addresses are normalized as policyd's options say; pin them so that the
# tests do not depend on policyd's defaults (test_normalization_* covers both).
POLICYD = "policyd {\n  strip_tag = true\n  lowercase_local_part = false\n}\n"


def start(env, extra=POLICYD, prefix="sluice:"):
    redis = env.redis()
    conf = env.file("sluice.conf", redis.conf_section(prefix) + extra)
    return redis, conf


def hgetall(redis, key):
    out = redis.cli("HGETALL", key).split("\n")
    return dict(zip(out[0::2], out[1::2])) if out != [""] else {}


def test_add_check_remove(env):
    redis, conf = start(env)
    r = ctl(conf, "suppress", "add", "Alice@Example.COM", "--reason", "complaint",
            "--detail", "reported by phone")
    assert r.returncode == 0, r.stderr
    h = hgetall(redis, keys.supp("global", "Alice@example.com"))
    assert h["reason"] == "complaint"
    assert h["source"] == "sluicectl"
    assert h["detail"] == "reported by phone"
    assert abs(int(h["added"]) - time.time()) < 5
    assert "expires" not in h
    assert redis.cli("TTL", keys.supp("global", "Alice@example.com")) == "-1"

    r = ctl(conf, "suppress", "add", "alice@example.com", "--scope", "cat:news", "--ttl", "3600")
    assert r.returncode == 0, r.stderr
    h = hgetall(redis, keys.supp("cat:news", "alice@example.com"))
    assert h["reason"] == "manual"
    assert int(h["expires"]) - int(h["added"]) in (3599, 3600, 3601)
    assert 3590 <= int(redis.cli("TTL", keys.supp("cat:news", "alice@example.com"))) <= 3600

    r = ctl(conf, "suppress", "check", "alice@EXAMPLE.com")
    assert r.returncode == 0
    lines = r.stdout.strip().split("\n")
    assert lines[0].split()[:3] == ["SCOPE", "ADDRESS", "REASON"]
    assert len(lines) == 2 and lines[1].split()[:3] == ["cat:news", "alice@example.com", "manual"]
    r = ctl(conf, "suppress", "check", "Alice@example.com")
    assert r.returncode == 0 and "complaint" in r.stdout and '"reported by phone"' in r.stdout
    r = ctl(conf, "suppress", "check", "nobody@example.com")
    assert r.returncode == 1 and "not suppressed" in r.stdout
    # Soft bounces counted by sluice-feedback (sorted set, score = time) are shown.
    now = int(time.time())
    redis.cli("ZADD", keys.key("soft", "nobody@example.com"), now - 7200, "m1", now - 3 * 86400, "m2")
    r = ctl(conf, "suppress", "check", "nobody@example.com")
    assert r.returncode == 1
    assert "nobody@example.com: 2 soft bounces counted, the last 2h0m ago" in r.stdout
    r = ctl(conf, "suppress", "check", "alice@example.com", "--scope", "global")
    assert r.returncode == 1

    r = ctl(conf, "suppress", "remove", "alice@example.com")
    assert r.returncode == 1 and "not suppressed in global" in r.stdout
    r = ctl(conf, "suppress", "remove", "alice@example.com", "--scope", "cat:news")
    assert r.returncode == 0
    assert redis.cli("EXISTS", keys.supp("cat:news", "alice@example.com")) == "0"
    assert redis.cli("EXISTS", keys.supp("global", "Alice@example.com")) == "1"


def test_remove_all_scopes_and_hand_written_entries(env):
    redis, conf = start(env)
    # Entries written with redis-cli, as an operator would.
    redis.cli("HSET", keys.supp("global", "bob@example.com"), "reason", "hard-bounce",
              "source", "redis-cli", "added", str(int(time.time()) - 3 * 86400))
    redis.cli("HSET", keys.supp("tenant:shop42", "bob@example.com"), "reason", "unsubscribe",
              "source", "redis-cli", "added", str(int(time.time())))
    redis.cli("HSET", keys.supp("global", "notbob@example.com"), "reason", "manual")
    r = ctl(conf, "suppress", "check", "bob@example.com")
    assert r.returncode == 0
    rows = sorted(l.split()[:4] for l in r.stdout.strip().split("\n")[1:])
    # the ages as of the check: a loaded machine may take a second or two
    # between the HSET and sluicectl's clock
    assert [row[:3] for row in rows] == [["global", "bob@example.com", "hard-bounce"],
                                         ["tenant:shop42", "bob@example.com", "unsubscribe"]]
    assert rows[0][3] == "3d0h" and rows[1][3] in ("0s", "1s", "2s", "3s"), rows
    r = ctl(conf, "suppress", "remove", "bob@example.com", "--all")
    assert r.returncode == 0
    assert sorted(r.stdout.strip().split("\n")) == [
        "removed bob@example.com from global", "removed bob@example.com from tenant:shop42"]
    assert redis.cli("EXISTS", keys.supp("global", "notbob@example.com")) == "1"
    assert ctl(conf, "suppress", "remove", "bob@example.com", "--all").returncode == 1


def test_normalization_follows_policyd(env):
    # policyd strips +tags by default: so must sluicectl, or entries never match.
    redis, conf = start(env)
    assert ctl(conf, "suppress", "add", "Carol+News@Example.ORG").returncode == 0
    assert redis.cli("EXISTS", keys.supp("global", "Carol@example.org")) == "1"
    env2_conf = env.file("lower.conf", redis.conf_section() +
                         "policyd {\n  strip_tag = false\n  lowercase_local_part = true\n}\n")
    assert ctl(env2_conf, "suppress", "add", "Dan+X@Example.ORG").returncode == 0
    assert redis.cli("EXISTS", keys.supp("global", "dan+x@example.org")) == "1"
    # issue 10: the trailing dot and U-labels are stored in policyd's canonical form
    assert ctl(conf, "suppress", "add", "eve@Example.ORG.").returncode == 0
    assert redis.cli("EXISTS", keys.supp("global", "eve@example.org")) == "1"
    assert ctl(conf, "suppress", "add", "fay@b\u00fccher.example").returncode == 0
    assert redis.cli("EXISTS", keys.supp("global", "fay@xn--bcher-kva.example")) == "1"
    imported = ctl(conf, "suppress", "import", "-", input="gil@B\u00dcCHER.example.\n")
    assert imported.returncode == 0, imported.stderr
    assert redis.cli("EXISTS", keys.supp("global", "gil@xn--bcher-kva.example")) == "1"


def test_bad_arguments(env):
    redis, conf = start(env)
    for args in (["suppress", "add", "not-an-address"],
                 ["suppress", "add", "a@example.com", "--reason", "whim"],
                 ["suppress", "add", "a@example.com", "--scope", "planet:mars"],
                 ["suppress", "add", "a@example.com", "--scope", "cat:Bad_Name"],
                 ["suppress", "add", "a@example.com", "--ttl", "soon"],
                 ["suppress", "check"],
                 ["suppress", "list", "extra"],
                 ["suppress", "remove", "a@example.com", "--all", "--scope", "global"],
                 ["suppress", "frobnicate"]):
        r = ctl(conf, *args)
        assert r.returncode == 64, (args, r.stdout, r.stderr)
        assert "usage:" in r.stderr
    assert redis.cli("DBSIZE") == "0"


def test_list_uses_scan_and_prefix(env):
    redis, conf = start(env, prefix="acme:")  # noqa
    # The client may not run KEYS at all: listing must work with SCAN alone.
    redis.cli("ACL", "SETUSER", "default", "-keys")
    for i in range(30):
        assert ctl(conf, "suppress", "add", "u%02d@example.com" % i,
                   "--scope", "cat:news" if i % 3 == 0 else "global").returncode == 0
    redis.cli("SET", keys.supp("oddball", "x", prefix="acme:"), "not a hash")          # skipped, not a crash
    redis.cli("HSET", keys.supp("global", "other@example.com"), "reason", "manual")  # other prefix
    r = ctl(conf, "suppress", "list")
    assert r.returncode == 0, r.stderr
    rows = r.stdout.strip().split("\n")[1:]
    assert len(rows) == 30
    assert "30 entries" in r.stderr
    assert all("other@example.com" not in row for row in rows)
    r = ctl(conf, "suppress", "list", "--scope", "cat:news")
    rows = r.stdout.strip().split("\n")[1:]
    assert len(rows) == 10 and all(row.split()[0] == "cat:news" for row in rows)
    assert redis.cli("EXISTS", keys.supp("cat:news", "u00@example.com", prefix="acme:")) == "1"


def test_export_then_import_round_trip(env):
    redis, conf = start(env)
    assert ctl(conf, "suppress", "add", "a@example.com", "--reason", "hard-bounce",
               "--detail", 'said "no", twice').returncode == 0
    assert ctl(conf, "suppress", "add", "b@example.com", "--scope", "tenant:shop42").returncode == 0
    r = ctl(conf, "suppress", "export")
    assert r.returncode == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert sorted((x["address"], x["scope"], x["reason"]) for x in rows) == [
        ("a@example.com", "global", "hard-bounce"), ("b@example.com", "tenant:shop42", "manual")]
    a = [x for x in rows if x["address"] == "a@example.com"][0]
    assert a["detail"] == 'said "no", twice'
    assert a["added"].endswith("Z") and a["source"] == "sluicectl"
    r = ctl(conf, "suppress", "export", "--scope", "global")
    global_csv = env.file("global.csv", r.stdout)

    # Into a second install sharing the Redis (another prefix).
    conf2 = env.file("second.conf", redis.conf_section("second:") + POLICYD)
    r = ctl(conf2, "suppress", "import", global_csv, "--scope", "cat:news")
    assert r.returncode == 0, r.stderr
    assert "sluicectl" in r.stdout and "1 added to cat:news" in r.stdout
    h = hgetall(redis, keys.supp("cat:news", "a@example.com", prefix="second:"))
    assert h["reason"] == "hard-bounce"                       # the file's reason column
    assert h["source"] == "import:global.csv"
    assert h["added"] == hgetall(redis, keys.supp("global", "a@example.com"))["added"]


SES_EXPORT = (
    "EmailAddress,Reason,LastUpdateTime\r\n"                        # 1
    "bounced@Example.com,BOUNCE,2023-05-04T21:52:05.520000+00:00\r\n"  # 2
    "complainer@example.net,COMPLAINT,2023-06-01T00:00:00Z\r\n"        # 3
    "\r\n"                                                             # 4
    "\"broken@example.com,BOUNCE,2023-06-01T00:00:00Z\r\n"            # 5 bad: open quote
    "no-at-sign,BOUNCE,2023-06-01T00:00:00Z\r\n"                       # 6 bad: no address
    "spaces in@example.com,BOUNCE,\r\n"                                # 7 bad
    "kept@example.com,BOUNCE,2023-06-01T00:00:00Z\r\n"                 # 8 already suppressed
    "odd@example.org,SOMETHING_NEW,not a date\r\n"                     # 9 unknown reason
    "user@bad_domain.com,COMPLAINT,\r\n"                               # 10 bad
)


def test_import_messy_ses_export(env):
    redis, conf = start(env)
    assert ctl(conf, "suppress", "add", "kept@example.com", "--reason", "complaint").returncode == 0
    path = env.file("ses-suppressed.csv", SES_EXPORT)
    r = ctl(conf, "suppress", "import", path)
    assert r.returncode == 65, (r.stdout, r.stderr)              # some lines were skipped
    bad = [l for l in r.stderr.split("\n") if "(skipped)" in l]
    assert [l.split(":")[2] for l in bad] == ["5", "6", "7", "10"]
    assert "unterminated quoted field" in bad[0]
    assert "Amazon SES" in r.stdout
    assert "10 lines: 4 addresses, 3 added to global, 1 already suppressed, 4 bad lines skipped" in r.stdout

    h = hgetall(redis, keys.supp("global", "bounced@example.com"))
    assert h["reason"] == "hard-bounce" and h["added"] == "1683237125"
    assert h["source"] == "import:ses-suppressed.csv"
    assert h["detail"] == "Amazon SES reason: BOUNCE"
    assert hgetall(redis, keys.supp("global", "complainer@example.net"))["reason"] == "complaint"
    odd = hgetall(redis, keys.supp("global", "odd@example.org"))
    assert odd["reason"] == "import" and "SOMETHING_NEW" in odd["detail"]
    assert abs(int(odd["added"]) - time.time()) < 10               # unparseable time: now
    assert hgetall(redis, keys.supp("global", "kept@example.com"))["reason"] == "complaint"
    assert redis.cli("EXISTS", keys.supp("global", "no-at-sign")) == "0"

    # --replace overwrites; --reason overrides the file; --ttl expires.
    r = ctl(conf, "suppress", "import", path, "--replace", "--reason", "manual", "--ttl", "600",
            "--scope", "tenant:shop42")
    assert r.returncode == 65
    assert "4 added to tenant:shop42" in r.stdout
    h = hgetall(redis, keys.supp("tenant:shop42", "kept@example.com"))
    assert h["reason"] == "manual" and "expires" in h
    assert 590 <= int(redis.cli("TTL", keys.supp("tenant:shop42", "kept@example.com"))) <= 600


def test_import_plain_list_stdin_and_dry_run(env):
    redis, conf = start(env)
    text = "# our old list\none@example.com\nTWO@EXAMPLE.COM\n\nthree@example.com\n"
    r = ctl(conf, "suppress", "import", "-", "--dry-run", input=text)
    assert r.returncode == 0 and "nothing written" in r.stdout and "3 addresses" in r.stdout
    assert redis.cli("DBSIZE") == "0"
    r = ctl(conf, "suppress", "import", "-", input=text)
    assert r.returncode == 0, r.stderr
    assert "plain list" in r.stdout and "3 added to global" in r.stdout
    assert redis.cli("EXISTS", keys.supp("global", "TWO@example.com")) == "1"
    assert hgetall(redis, keys.supp("global", "one@example.com"))["source"] == "import:stdin"
    r = ctl(conf, "suppress", "import", os.path.join(env.dir, "missing.csv"))
    assert r.returncode == 66


def test_import_postmark_and_sendgrid(env):
    redis, conf = start(env)
    pm = env.file("postmark.csv", "EmailAddress,SuppressionReason,Origin,CreatedAt\n"
                  "p1@example.com,HardBounce,Recipient,2024-01-02T03:04:05-05:00\n"
                  "p2@example.com,SpamComplaint,Recipient,2024-01-02T03:04:05Z\n"
                  "p3@example.com,ManualSuppression,Customer,2024-01-02T03:04:05Z\n")
    r = ctl(conf, "suppress", "import", pm)
    assert r.returncode == 0 and "Postmark" in r.stdout
    assert [hgetall(redis, keys.supp("global", "p%d@example.com" % i))["reason"] for i in (1, 2, 3)] == [
        "hard-bounce", "complaint", "manual"]
    assert hgetall(redis, keys.supp("global", "p1@example.com"))["added"] == "1704182645"
    sg = env.file("sendgrid.csv", "email,created,reason,status\n"
                  "s1@example.com,1700000000,\"550 5.1.1 The email account that you tried to reach does not exist, sorry\",5.1.1\n")
    r = ctl(conf, "suppress", "import", sg, "--scope", "cat:news")
    assert r.returncode == 0 and "SendGrid" in r.stdout
    h = hgetall(redis, keys.supp("cat:news", "s1@example.com"))
    assert h["reason"] == "import" and h["added"] == "1700000000"
    assert "does not exist, sorry" in h["detail"]


def test_import_large_file_in_batches(env):
    redis, conf = start(env)
    n = 5000
    path = env.file("big.csv", "email\n" + "".join("user%05d@example.com\n" % i for i in range(n)))
    def scripts():
        """Calls of EVAL/EVALSHA so far (the commands inside a script count apart)."""
        return sum(int(l.split("calls=")[1].split(",")[0])
                   for l in redis.cli("INFO", "commandstats").splitlines()
                   if l.startswith(("cmdstat_eval:", "cmdstat_evalsha:")))
    r = ctl(conf, "suppress", "import", path)
    assert r.returncode == 0, r.stderr
    assert "%d added" % n in r.stdout
    assert int(redis.cli("DBSIZE")) == n + 1                  # and the keyspace marker
    assert redis.cli("EXISTS", keys.key("keyspace")) == "1"
    # in batches: a script call per few hundred addresses (counted, not
    # timed: the suite shares 2 cores with ASan builds)
    calls = scripts()
    assert 1 <= calls <= n / 100, "import of %d addresses: %d script calls" % (n, calls)
    r = ctl(conf, "suppress", "import", path)
    assert "0 added to global, %d already suppressed" % n in r.stdout


def test_redis_unreachable_exits_75(env):
    conf = env.file("down.conf", 'redis {\n  socket = "%s"\n  connect_timeout = 300\n}\n'
                    % os.path.join(env.dir, "nothing.sock"))
    r = ctl(conf, "suppress", "check", "a@example.com")
    assert r.returncode == 75
    assert "redis at" in r.stderr and "nothing.sock" in r.stderr
    r = ctl(conf, "suppress", "import", "-", input="a@example.com\n")
    assert r.returncode == 75


def test_check_and_remove_every_form_policyd_looks_up(env):
    # Writers differ (feedback lowercases and keeps +tags; an operator's
    # redis-cli keeps case): policyd looks up every form, so must check/remove.
    redis, conf = start(env, extra="policyd {\n  strip_tag = true\n  lowercase_local_part = true\n}\n")
    redis.cli("HSET", keys.supp("global", "carol+news@example.org"), "reason", "complaint")
    redis.cli("HSET", keys.supp("global", "Carol+News@example.org"), "reason", "manual")
    redis.cli("HSET", keys.supp("cat:news", "carol@example.org"), "reason", "unsubscribe")
    redis.cli("HSET", keys.supp("global", "carol+other@example.org"), "reason", "manual")
    r = ctl(conf, "suppress", "check", "Carol+News@EXAMPLE.org")
    assert r.returncode == 0
    rows = sorted(tuple(l.split()[:3]) for l in r.stdout.strip().split("\n")[1:])
    assert rows == [("cat:news", "carol@example.org", "unsubscribe"),
                    ("global", "Carol+News@example.org", "manual"),
                    ("global", "carol+news@example.org", "complaint")]
    r = ctl(conf, "suppress", "remove", "Carol+News@example.org")
    assert r.returncode == 0
    assert sorted(r.stdout.strip().split("\n")) == [
        "removed Carol+News@example.org from global", "removed carol+news@example.org from global"]
    assert redis.cli("EXISTS", keys.supp("cat:news", "carol@example.org")) == "1"
    assert redis.cli("EXISTS", keys.supp("global", "carol+other@example.org")) == "1"
    assert ctl(conf, "suppress", "add", "Carol+Y@Example.org").returncode == 0
    assert redis.cli("EXISTS", keys.supp("global", "carol@example.org")) == "1"   # canonical form
    r = ctl(conf, "suppress", "remove", "carol+z@example.org", "--all")
    assert sorted(r.stdout.strip().split("\n")) == [
        "removed carol@example.org from cat:news", "removed carol@example.org from global"]
    r = ctl(conf, "suppress", "check", "CAROL@example.org")
    assert r.returncode == 1 and "carol@example.org is not suppressed" in r.stdout

"""
NAME
    test_feedback_trust - sluice-feedback's effects that forgers and failures cannot move

DESCRIPTION
    Against real redis-servers (no root, no Postfix; test_feedback_postfix.py
    has the same through Postfix's pipe(8)):
      - Redis errors are errors: at maxmemory (noeviction), as a read-only
        replica, and for an ACL user without write rights, a genuine
        bounce exits 75 with nothing written, and is applied once Redis
        takes writes again;
      - exactly once: a message applied twice (simply run twice; Redis
        refusing one of its commands; the reply of the applied script lost
        on the way back) leaves the keys of one processing, compared as
        full key dumps;
      - thresholds by who is at fault: three `blocked` soft bounces of one
        recipient at one provider do not suppress it (they are counted
        per tenant, category and provider), three `mailboxfull` do;
      - rates forgers cannot move: a forged DSN naming 60 addresses and a
        forged complaint, both to a genuine token, suppress nobody and do
        not pause the tenant (counted as unverified, at most 50 per
        message); genuine ones still do; sluicectl stats shows both; a
        mailto unsubscribe from a non-recipient suppresses nobody;
      - DMARC counts (no token needed) cannot go negative or overflow.
    "Genuine" means the token verifies and the address is in the token
    message's recipient record (World.bind: token_helpers.bind, written as
    sluice-milter does by doc/tokens.md).
"""
import os
import socket
import subprocess
import threading
import time

import feedback_helpers
import harness
from test_feedback_effects import World, arf, dsn, mint, today
import keys

DOMAIN = "bounce.example.com"


def feed(w, data, rcpt, conf=None):
    """Run sluice-feedback -v as pipe(8) would; (exit status, log)."""
    p = feedback_helpers.run_feedback(conf or w.conf, data, rcpt, ["-v"])
    return p.returncode, p.stderr.decode(errors="replace")


def genuine(w, rcpt="gone@example.net", msgid="abcd2345", **kw):
    """A hard bounce for a real recipient of message msgid: (message, token address)."""
    w.bind(msgid, rcpt)
    tok = mint(w.secret, msgid=msgid, **kw) + "@" + DOMAIN
    return dsn(rcpt, token=tok), tok


def dump(redis):
    """Every key with its type, TTL state and content, as comparable text.

    Stream entry ids are left out (they are times); so are the values that
    are the time of processing (`added`, `expires`, `status_changed`, the
    done marker's value, soft-bounce scores), and the keyspace format
    marker, which the first program to meet an empty Redis writes before
    anything else (lib/keyspace_version.c), whatever the message does.
    """
    out = {}
    for key in sorted(k for k in redis.cli("KEYS", "*").split("\n") if k and k != keys.key("keyspace")):
        t = redis.cli("TYPE", key)
        ttl = int(redis.cli("TTL", key))
        if t == "hash":
            v = redis.cli("HGETALL", key).split("\n")
            h = dict(zip(v[0::2], v[1::2]))
            for f in ("added", "expires", "status_changed"):
                if f in h:
                    h[f] = "<time>"
            val = sorted(h.items())
        elif t == "set":
            val = sorted(redis.cli("SMEMBERS", key).split("\n"))
        elif t == "zset":
            val = redis.cli("ZRANGE", key, "0", "-1").split("\n")
        elif t == "stream":
            lines = redis.cli("XRANGE", key, "-", "+").split("\n")
            val = [l for l in lines if not (l.replace("-", "").isdigit() and "-" in l)]
        else:
            val = "<time>" if ":fbdone:" in key else redis.cli("GET", key)
        out[key] = (t, ttl > 0, val)
    return out


def reference(env, of, message, rcpt, setup):
    """The dump of one clean processing of message, in a Redis of its own."""
    w = World(env, secret_from=of)
    setup(w)
    rc, err = feed(w, message, rcpt)
    assert rc == 0, err
    return w, dump(w.redis)


# --- Redis errors are errors -------------------------------------------------

def test_maxmemory_exits_75_and_writes_nothing(env):
    w = World(env)
    msg, tok = genuine(w)
    before = dump(w.redis)
    w.cli("CONFIG", "SET", "maxmemory", "1")            # noeviction is the default
    rc, err = feed(w, msg, tok)
    assert rc == 75 and "OOM" in err and "fbdone:" in err, (rc, err)
    w.cli("CONFIG", "SET", "maxmemory", "0")
    assert dump(w.redis) == before
    rc, err = feed(w, msg, tok)
    assert rc == 0, err
    assert w.hgetall(keys.supp("global", "gone@example.net"))["reason"] == "hard-bounce"
    assert w.hgetall(keys.key("stats", today(), "shop1", "news"))["hard"] == "1"


def test_read_only_replica_exits_75_until_promoted(env):
    master = env.redis(tcp=True)
    replica = env.redis()
    w = World(env, redis=replica)
    replica.cli("REPLICAOF", "127.0.0.1", master.port)
    harness.wait_for(lambda: "master_link_status:up" in replica.cli("INFO", "replication"), 20,
                     "replica in sync")
    mw = World(env, redis=master, secret_from=w)
    msg, tok = genuine(mw)
    harness.wait_for(lambda: replica.cli("EXISTS", keys.key("rcpts", "abcd2345")) == "1", 10,
                     "record replicated")
    rc, err = feed(w, msg, tok)
    assert rc == 75 and "READONLY" in err, (rc, err)
    assert replica.cli("KEYS", keys.pattern("supp")) == "" and master.cli("KEYS", keys.pattern("supp")) == ""
    replica.cli("REPLICAOF", "NO", "ONE")                 # the failover
    rc, err = feed(w, msg, tok)
    assert rc == 0, err
    assert replica.cli("HGET", keys.supp("global", "gone@example.net"), "reason") == "hard-bounce"


def acl_world(env, rules):
    """A World whose sluice-feedback logs in as ACL user fb with the given rules."""
    w = World(env)
    w.cli("ACL", "SETUSER", "fb", "reset", "on", ">fbpass", "~*", "&*", *rules)
    section = ('redis {\n  socket = "%s"\n  user = "fb"\n  password = "fbpass"\n'
               '  connect_timeout = 500\n  command_timeout = 500\n}\n' % w.redis.sock)
    return w, w.config(section, name="acl.conf")


def test_acl_user_without_write_rights_exits_75(env):
    w, conf = acl_world(env, ["+@all", "-@write"])
    msg, tok = genuine(w)
    before = dump(w.redis)
    rc, err = feed(w, msg, tok, conf)
    assert rc == 75 and "NOPERM" in err, (rc, err)
    assert dump(w.redis) == before
    w.cli("ACL", "SETUSER", "fb", "+@write")
    rc, err = feed(w, msg, tok, conf)
    assert rc == 0, err
    assert w.cli("HGET", keys.supp("global", "gone@example.net"), "reason") == "hard-bounce"


def test_key_of_the_wrong_type_exits_75_and_writes_nothing(env):
    # An operator's hand-written key where a counter hash belongs, then a
    # counter that is no integer: refused before the first write, and
    # applied once both are repaired.
    w = World(env)
    msg, tok = genuine(w)
    stats = keys.key("stats", today(), "shop1", "news")
    w.cli("SET", stats, "oops")
    before = dump(w.redis)
    rc, err = feed(w, msg, tok)
    assert rc == 75 and "WRONGTYPE" in err and stats in err, (rc, err)
    assert dump(w.redis) == before
    w.cli("DEL", stats)
    w.cli("HSET", stats, "hard", "many")
    before = dump(w.redis)
    rc, err = feed(w, msg, tok)
    assert rc == 75 and "not an integer" in err, (rc, err)
    assert dump(w.redis) == before
    w.cli("HSET", stats, "hard", "0")
    rc, err = feed(w, msg, tok)
    assert rc == 0, err
    assert w.hgetall(stats)["hard"] == "1"


# --- exactly once -------------------------------------------------------------

def test_run_twice_changes_nothing_the_second_time(env):
    w = World(env)
    w.cli("HSET", keys.key("stats", today(), "shop1", "news"), "sent", "10")
    msg, tok = genuine(w)
    rc, err = feed(w, msg, tok)
    assert rc == 0, err
    once = dump(w.redis)
    assert any(":fbdone:" in k for k in once) and keys.supp("global", "gone@example.net") in once
    assert w.cli("HGET", keys.key("tenant", "shop1"), "status") == "paused"   # 1 of 10
    rc, err = feed(w, msg, tok)
    assert rc == 0 and "applied before" in err, err
    assert dump(w.redis) == once


def test_refused_command_midway_writes_nothing_then_once(env):
    # The user may do everything but XADD: the script would fail at its
    # event after its counters; it checks every write first instead.
    w, conf = acl_world(env, ["+@all", "-xadd"])
    msg, tok = genuine(w)
    before = dump(w.redis)
    rc, err = feed(w, msg, tok, conf)
    assert rc == 75 and "NOPERM" in err and "XADD" in err, (rc, err)
    assert dump(w.redis) == before
    w.cli("ACL", "SETUSER", "fb", "+xadd")
    rc, err = feed(w, msg, tok, conf)
    assert rc == 0, err
    rc, err = feed(w, msg, tok, conf)                    # and once more: nothing
    assert rc == 0, err
    _, ref = reference(env, w, msg, tok, lambda r: r.bind("abcd2345", "gone@example.net"))
    got = dump(w.redis)
    assert {k: v for k, v in got.items()} == ref


class ReplyLosingProxy:
    """A unix-socket proxy to redis that lets the script run, then drops its reply.

    The first reply to an EVAL/EVALSHA that is not NOSCRIPT never reaches
    the client: the connection is closed instead, as when Redis or the
    network dies right after the script ran.
    """

    def __init__(self, env, target):
        self.path = os.path.join(env.dir, "proxy.sock")
        self.target = target
        self.dropped = 0
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.path)
        os.chmod(self.path, 0o777)
        self.srv.listen(4)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        """Client to Redis in a thread, Redis to client here. A side that ends
        shuts both sockets down (which wakes the other thread's recv; a close
        would not, and the thread would then read a closed descriptor); they
        are closed once both threads are done."""
        r = socket.socket(socket.AF_UNIX)
        armed = []

        def end():
            for s in (c, r):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass            # not connected, or already shut down

        def up():
            try:
                while True:
                    data = c.recv(65536)
                    if not data:
                        break
                    if b"EVAL" in data.upper():
                        armed.append(1)
                    r.sendall(data)
            except OSError:
                pass
            end()

        t = None
        try:
            r.connect(self.target)
            t = threading.Thread(target=up, daemon=True)
            t.start()
            while True:
                data = r.recv(65536)
                if not data:
                    break
                if armed and not data.startswith(b"-NOSCRIPT"):
                    self.dropped += 1
                    break
                c.sendall(data)
        except OSError:
            pass
        end()
        if t:
            t.join()
        c.close()
        r.close()

    def close(self):
        try:
            self.srv.shutdown(socket.SHUT_RDWR)     # wakes the accept()
        except OSError:
            pass
        self.srv.close()


def test_reply_lost_after_the_script_ran_then_retried(env):
    w = World(env)
    w.cli("HSET", keys.key("stats", today(), "shop1", "news"), "sent", "100")
    msg, tok = genuine(w)
    proxy = ReplyLosingProxy(env, w.redis.sock)
    section = ('redis {\n  socket = "%s"\n  connect_timeout = 500\n  command_timeout = 500\n}\n'
               % proxy.path)
    rc, err = feed(w, msg, tok, w.config(section, name="proxy.conf"))
    proxy.close()
    assert rc == 75 and proxy.dropped == 1, (rc, err)
    applied = dump(w.redis)
    assert keys.supp("global", "gone@example.net") in applied     # it did run
    rc, err = feed(w, msg, tok)                                   # Postfix's retry
    assert rc == 0 and "applied before" in err, err
    assert dump(w.redis) == applied
    _, ref = reference(env, w, msg, tok, lambda r: (r.bind("abcd2345", "gone@example.net"),
                                                 r.cli("HSET", keys.key("stats", today(), "shop1", "news"),
                                                       "sent", "100")))
    assert applied == ref


def test_redis_killed_after_applying_then_retried(env):
    # Redis persists every write (AOF, fsync always) and is killed -9 right
    # after the script ran, before anyone could read anything: after the
    # restart the effects and the done marker are both there or both not.
    redis = env.redis(args=["--appendonly", "yes", "--appendfsync", "always",
                            "--appendfilename", "kill.aof", "--appenddirname", "aof-kill"])
    w = World(env, redis=redis)
    msg, tok = genuine(w)
    rc, err = feed(w, msg, tok)
    assert rc == 0, err
    applied = dump(redis)
    redis.kill()
    redis.start()
    assert dump(redis) == applied
    rc, err = feed(w, msg, tok)                              # the retry
    assert rc == 0 and "applied before" in err, err
    assert dump(redis) == applied


def test_a_second_report_of_the_same_bounce_counts_once(env):
    # Two different messages (a remote MTA's duplicate DSN, or a replay with
    # new headers) about one original message and recipient: counted once.
    w = World(env)
    msg, tok = genuine(w)
    assert feed(w, msg, tok)[0] == 0
    rc, err = feed(w, msg.replace(b"Subject: Undelivered", b"Subject: Again undelivered"), tok)
    assert rc == 0, err
    assert w.hgetall(keys.key("stats", today(), "shop1", "news"))["hard"] == "1"
    assert "duplicate" in w.events()


def test_counted_recipients_remembered_as_long_as_tokens_verify(env):
    # A token verifies for token_lifetime_days, so a report about its message
    # can come (or be replayed) that late: the seen set must outlive it.
    w = World(env)
    msg, tok = genuine(w)
    assert feed(w, msg, tok)[0] == 0
    ttl = int(w.cli("TTL", keys.key("fbseen", "abcd2345")))
    assert 34 * 86400 < ttl <= 35 * 86400, ttl                    # default lifetime 30 days
    long_conf = w.env.file("%d-long.conf" % w.n, "token_lifetime_days = 100\n" + open(w.conf).read())
    msg, tok = genuine(w, rcpt="late@example.net", msgid="ffff2345")
    assert feed(w, msg, tok, conf=long_conf)[0] == 0
    ttl = int(w.cli("TTL", keys.key("fbseen", "ffff2345")))
    assert 104 * 86400 < ttl <= 105 * 86400, ttl


# --- thresholds by who is at fault -------------------------------------------

BLOCKED = "550 5.7.1 Service unavailable; client host [192.0.2.7] blocked using zen.spamhaus.org"
FULL = "552 5.2.2 <%s>: Mailbox full"


def soft_three(w, rcpt, status, diag, first):
    """Three soft bounces of rcpt, for three original messages from msgid number first on."""
    for i in range(3):
        msgid = "soft%04d" % (first + i)
        w.bind(msgid, rcpt)
        tok = mint(w.secret, msgid=msgid) + "@" + DOMAIN
        rc, err = feed(w, dsn(rcpt, status=status, diag=diag), tok)
        assert rc == 0, err


def test_three_blocked_do_not_suppress_three_mailboxfull_do(env):
    w = World(env)
    soft_three(w, "reader@example.net", "5.7.1", BLOCKED, 2345)
    assert w.cli("EXISTS", keys.supp("global", "reader@example.net")) == "0"
    assert w.cli("EXISTS", keys.key("soft", "reader@example.net")) == "0"
    st = w.hgetall(keys.key("stats", today(), "shop1", "news"))
    assert st.get("sender_fault") == "3" and st.get("sender_fault:blocked") == "3", st
    assert "soft" not in st and "hard" not in st, st
    prov = w.hgetall(keys.key("provider", today(), "example.net"))
    assert prov == {"sender_fault": "3", "sender_fault:blocked": "3",
                    "tenant:shop1:news": "3"}, prov
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf, "stats", "--tenant", "shop1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    row = [l.split() for l in r.stdout.split("\n") if l.startswith("shop1")][0]
    assert row[2:9] == ["0", "0", "0", "0", "0", "3", "0"], r.stdout     # SENDER 3
    assert "example.net" in r.stdout and "blocked 3" in r.stdout, r.stdout
    soft_three(w, "reader@example.net", "5.2.2", FULL, 3345)
    e = w.hgetall(keys.supp("global", "reader@example.net"))
    assert e.get("reason") == "soft-bounce-threshold" and e["bounce_reason"] == "mailboxfull", e
    assert w.hgetall(keys.key("stats", today(), "shop1", "news"))["soft"] == "3"


def test_sender_side_reason_refused_in_hard_reasons(env):
    w = World(env)
    bad = w.config(w.redis.conf_section(), '  hard_reasons = {"blocked"}\n', name="bad.conf")
    p = subprocess.run([w.exe, "-n", "-c", bad], capture_output=True, text=True)
    assert p.returncode == 78 and "blocked" in p.stderr and "sender" in p.stderr, p.stderr


# --- rates forgers cannot move ------------------------------------------------

def multi_dsn(rcpts, token):
    """One DSN naming every address of rcpts, each a 5.1.1 user unknown."""
    return feedback_helpers.dsn(token, "".join(feedback_helpers.dsn_record(r, "550 5.1.1 User unknown")
                                               for r in rcpts),
                                "Delivery failed.\n", mailer_comment=False, auto_submitted=False)


def test_forged_reports_with_a_genuine_token_move_nothing(env):
    w = World(env)
    day = today()
    w.cli("HSET", keys.key("stats", day, "shop1", "news"), "sent", "1000")
    w.cli("HSET", keys.key("tenant", "shop1"), "status", "active")
    w.bind("abcd2345", "reader@example.org")          # the one real recipient
    tok = mint(w.secret) + "@" + DOMAIN
    victims = ["victim%02d@example.net" % i for i in range(60)]
    rc, err = feed(w, multi_dsn(victims, tok), tok)
    assert rc == 0, err
    rc, err = feed(w, arf("third.party@example.org", tok), "fbl@feedback.example.com")
    assert rc == 0, err
    assert w.cli("KEYS", keys.pattern("supp")) == ""
    assert w.cli("HGET", keys.key("tenant", "shop1"), "status") == "active"
    st = w.hgetall(keys.key("stats", day, "shop1", "news"))
    assert st == {"sent": "1000", "unverified": "51"}, st   # 50 of the DSN (the cap) + 1
    ev = w.events()
    assert ev.count("not a recipient of the message") == 51 and "10 more not shown" in ev
    # sluicectl shows them
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf, "stats"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "UNVERIF" in r.stdout and "SENDER" in r.stdout, r.stdout
    row = [l.split() for l in r.stdout.split("\n") if l.startswith("shop1")][0]
    assert row[-3] == "51", r.stdout


def test_genuine_reports_still_suppress_and_pause(env):
    w = World(env)
    day = today()
    w.cli("HSET", keys.key("stats", day, "shop1", "news"), "sent", "1000")
    real = ["real%02d@example.net" % i for i in range(60)]
    w.bind("abcd2345", *real)
    tok = mint(w.secret) + "@" + DOMAIN
    rc, err = feed(w, multi_dsn(real + ["forged@example.net"], tok), tok)
    assert rc == 0, err
    assert len(w.cli("KEYS", keys.supp("global", "*")).split("\n")) == 60
    assert w.cli("EXISTS", keys.supp("global", "forged@example.net")) == "0"
    st = w.hgetall(keys.key("stats", day, "shop1", "news"))
    assert st["hard"] == "60" and st["unverified"] == "1", st
    t = w.hgetall(keys.key("tenant", "shop1"))
    assert t["status"] == "paused" and "(60 of 1000)" in t["status_reason"], t
    # a genuine complaint from a real recipient
    w2 = World(env, extra="  pause_mode = off\n")
    ctok = mint(w2.secret, category="promo", msgid="cccc2345") + "@" + DOMAIN
    w2.bind("cccc2345", "angry@example.org")
    rc, err = feed(w2, arf("angry@example.org", ctok), "fbl@feedback.example.com")
    assert rc == 0, err
    assert w2.hgetall(keys.supp("cat:promo", "angry@example.org"))["reason"] == "complaint"
    assert w2.hgetall(keys.key("stats", day, "shop1", "promo"))["complaint"] == "1"


def test_many_records_one_call(env):
    # fbinput raises the recipient cap: the script walks any number of
    # records (no unpack()); 1,000 genuine recipients in one DSN.
    w = World(env)
    real = ["r%04d@example.net" % i for i in range(1000)]
    for i in range(0, 1000, 100):
        w.bind("abcd2345", *real[i:i + 100])
    tok = mint(w.secret) + "@" + DOMAIN
    msg = multi_dsn(real, tok)
    t0 = time.monotonic()
    rc, err = feed(w, msg, tok)
    took = time.monotonic() - t0
    assert rc == 0, err
    n = int(w.hgetall(keys.key("stats", today(), "shop1", "news")).get("hard", "0"))
    print("1,000-recipient DSN: %d applied in %.2f s" % (n, took))
    # every record parsed is applied (FB_MAX_RCPTS decides how many are parsed)
    assert n >= 200 and n == len(w.cli("KEYS", keys.supp("global", "*")).split("\n"))


def test_dmarc_counts_cannot_go_negative_or_overflow(env, monkeypatch):
    # DMARC reports need no token: anyone can send one. A negative count
    # must not take counters down, an absurd one is clamped (2^32).
    import test_feedback_effects as tfe
    xml = tfe.DMARC_XML.replace(b"<count>7</count>", b"<count>-1000</count>").replace(
        b"<count>3</count>", b"<count>99999999999999999</count>")
    monkeypatch.setattr(tfe, "DMARC_XML", xml)
    w = World(env)
    for _ in range(2):                   # two reports (different bytes: new Received lines)
        rc, err = feed(w, tfe.dmarc_mail() + b"\n" * (_ + 1), "rua@feedback.example.com")
        assert rc == 0, err
    day = time.strftime("%Y%m%d", time.gmtime(1700000000))
    s = w.hgetall(keys.key("dmarc", "example.com", day))
    assert s["reports"] == "2" and s["pass"] == "0" and s["src:192.0.2.10:pass"] == "0", s
    assert s["messages"] == str(2 * 2 ** 32) and s["fail"] == str(2 * 2 ** 32), s


def test_mailto_unsubscribe_from_a_non_recipient_suppresses_nobody(env):
    w = World(env)
    w.bind("abcd2345", "reader@example.org")
    tok = mint(w.secret, kind="u", category="letters") + "@unsub.example.com"
    for sender, suppressed in (("stranger@example.org", False), ("reader@example.org", True)):
        msg = ("From: <%s>\nTo: %s\nSubject: unsubscribe\n\nplease\n" % (sender, tok)).encode()
        rc, err = feed(w, msg, tok)
        assert rc == 0, err
        key = keys.supp("cat:letters", sender)
        assert w.cli("EXISTS", key) == ("1" if suppressed else "0"), sender
    st = w.hgetall(keys.key("stats", today(), "shop1", "letters"))
    assert st == {"unverified": "1", "unsub": "1"}, st

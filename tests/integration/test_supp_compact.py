"""
NAME
    test_supp_compact - the compact suppression layout, by redis-cli and by the daemons

DESCRIPTION
    suppression { layout = "compact" } stores entries as fields of bucket
    hashes suppb:{<bucket>}:<scope> (doc/redis-keys.md, "Compact
    suppression layout").

    The functions, as an operator uses them: sluicectl suppress functions
    loads the library (FUNCTION LOAD REPLACE, the configured bucket
    count), then FCALL only: put, get (also FCALL_RO), replace, delete,
    scopes kept apart, expiry, an address too long for a listpack field
    stored by its hash, an unknown reason refused; buckets stay listpacks;
    sluice_supp_key names the bucket the C side computes.

    The daemons, through a throwaway Postfix with sluice-policyd,
    sluice-milter and sluice-feedback on a real Redis, in the compact
    layout (64 buckets):
      - entries added with sluicectl in the global, category and tenant
        scope are refused at RCPT by sluice-policyd with the reason and
        the kind of list; no per-address hash is written;
      - a category entry the policy service cannot know (no SASL user)
        is removed at end of message by sluice-milter;
      - a bounce through sluice-feedback lands in the recipient's bucket,
        FCALL sluice_supp_get reads it, and policyd then refuses the
        recipient;
      - sluicectl suppress import of a list, then check and export;
        expired fields read as absent and sluicectl suppress prune
        reclaims them.
    And a migration with mail flowing: hash entries enforced, the
    daemons switched to layout = compact with migrating = yes (SIGHUP),
    still enforced from the hash layout, sluicectl suppress migrate --to
    compact (idempotent), enforced from the buckets, migrating = no, and
    back with --to hash.
"""
import os
import pwd
import re
import smtplib
import time
import urllib.request
import uuid

import pytest

import conftest
import harness
import keys
from milter_helpers import received as delivered
from milter_helpers import start_milter, write_conf

BUCKETS = 64

CONF = """
log_level = "info"
secret_file = "%(secret)s"
suppression {
  layout = "%(layout)s"
  buckets = %(buckets)d
  migrating = %(migrating)s
}
domain "example.com" {
  default_category = "transactional"
}
category "transactional" { subdomain = "mail" }
category "marketing" {
  subdomain = "news"
  list_unsubscribe = true
  unsubscribe_url = "https://unsub.example.com/u/%%t"
}
tenant "shop1" { domains = {"shop1.example.com"}  sasl_users = {"alice"} }
milter {
  socket = "{socket}"
  socket_mode = "0666"
}
policyd {
  listen = { "unix:%(psock)s" }
  http_listen = "127.0.0.1:%(http)d"
}
feedback {
}
"""

SASL = {"alice": "alicepw"}
AUTH = ("alice", "alicepw")
REFUSE = "550 5.1.1 Recipient address rejected: User unknown in local recipient table"


def ctl(w, *args, check=True, input=None):
    """sluicectl -c <the world's config> ARGS; the CompletedProcess (text)."""
    import subprocess
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf] + [str(a) for a in args],
                       capture_output=True, text=True, input=input, timeout=120)
    if check:
        assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
    return r


def conf_text(w, layout, migrating=False):
    return CONF % {"secret": w.secret, "psock": w.psock, "http": w.http, "layout": layout,
                   "buckets": BUCKETS,
                   "migrating": "yes" if migrating else "no"}


def make_world(env, layout="compact"):
    """Redis, two smtp-sinks (one refusing), policyd, milter, Postfix with feedback's transport."""
    w = type("World", (), {})()
    w.env = env
    w.redis = env.redis()
    # set once, before policyd starts: it caches SASL entries for a second
    w.redis.cli("HSET", keys.key("sasl", "alice"), "category", "marketing", "tenant", "shop1")
    w.secret = env.secret("token.key")
    nobody = pwd.getpwnam("nobody")
    os.chown(w.secret, nobody.pw_uid, nobody.pw_gid)
    w.psock = os.path.join(env.dir, "policyd-%s.sock" % uuid.uuid4().hex[:6])
    w.http = harness.free_port()
    w.conf, sock = write_conf(env, conf_text(w, layout), redis=w.redis)
    os.chmod(w.conf, 0o644)                 # sluice-feedback runs as nobody (pipe user=)
    w.conf_body_sock = sock
    w.policyd = env.daemon("sluice-policyd", [harness.program("policyd", "sluice-policyd"),
                                              "-f", "-c", w.conf],
                           ready=lambda: harness.can_connect(w.psock))
    w.milter, spec = start_milter(env, w.conf, sock)
    w.sink = env.sink()
    w.refusing = env.sink("-f", "RCPT", "-B", REFUSE)
    master = ["sluice-feedback/unix=sluice-feedback unix - n n - 10 pipe flags=Rq "
              "user=nobody argv=%s -c %s ${recipient}"
              % (harness.program("feedback", "sluice-feedback"), w.conf)]
    w.pf = env.postfix(relay=w.sink, milter=spec, policy="unix:" + w.psock, sasl_users=SASL,
                       master=master, main={
                           "transport_maps": "inline:{ mail.example.com=sluice-feedback:, "
                                             "news.example.com=sluice-feedback:, "
                                             "gone.test=smtp:[127.0.0.1]:%d }" % w.refusing.port,
                           "sluice-feedback_destination_recipient_limit": "1"})
    return w


def relayout(w, layout, migrating):
    """Rewrite the config and SIGHUP policyd and the milter; wait until both reloaded."""
    text = w.redis.conf_section() + conf_text(w, layout, migrating).replace(
        "{socket}", "unix:" + w.conf_body_sock)
    with open(w.conf, "w") as f:
        f.write(text)
    n_pd = w.policyd.output().count("configuration reloaded")
    n_ml = w.milter.output().count("configuration reloaded")
    w.policyd.signal(1)
    w.milter.signal(1)
    harness.wait_for(lambda: w.policyd.output().count("configuration reloaded") > n_pd, 10,
                     "policyd reloaded")
    harness.wait_for(lambda: w.milter.output().count("configuration reloaded") > n_ml, 10,
                     "milter reloaded")


@pytest.fixture(scope="module")
def world():
    conftest.require_root()
    env = harness.Env("supp-compact")
    try:
        yield make_world(env)
    finally:
        env.close()


def message(rcpt, subject, category=None, sender="app@shop1.example.com"):
    hdr = "X-Sluice-Category: %s\r\n" % category if category else ""
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@app.test>\r\n%s\r\nhi\r\n"
            % (sender, rcpt, subject, subject, hdr)).encode()


def refused_at_rcpt(w, rcpt, auth=AUTH):
    """(code, "<status> <policyd's text>") of the RCPT refusal, or None when accepted."""
    subject = "s-" + uuid.uuid4().hex[:12]
    try:
        w.pf.send("app@shop1.example.com", [rcpt], message(rcpt, subject), auth=auth)
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients[rcpt]
        text = text.decode()            # "5.1.1 <rcpt>: Recipient address rejected: <policyd's text>"
        return code, text.split()[0] + " " + text.split("Recipient address rejected: ")[-1]
    return None


def fcall(w, fn, *args, ro=False):
    out = w.redis.cli("FCALL_RO" if ro else "FCALL", fn, 0, *args)
    return out.split("\n") if out else None


def hash_entries(w):
    return [k for k in w.redis.cli("KEYS", keys.key("supp", "*", "*")).split("\n") if k]


# --- the functions, as redis-cli uses them

def test_functions_put_get_replace_delete(world):
    w = world
    assert "64 buckets" in ctl(w, "suppress", "functions").stdout
    now = int(time.time())
    a = "fn-bob@example.net"
    assert fcall(w, "sluice_supp_put", a, "hard-bounce", now, 0, "bounce") == ["1"]
    assert fcall(w, "sluice_supp_get", a) == ["hard-bounce", str(now), "", "bounce"]
    assert fcall(w, "sluice_supp_get", a, ro=True) == ["hard-bounce", str(now), "", "bounce"]
    assert fcall(w, "sluice_supp_key", a) == [keys.suppb("global", a, BUCKETS), a]
    assert w.redis.cli("HEXISTS", keys.suppb("global", a, BUCKETS), a) == "1"
    assert fcall(w, "sluice_supp_get", "Fn-Bob@example.net") is None   # canonical: the writer's job
    assert fcall(w, "sluice_supp_get", a, "cat:news") is None
    fcall(w, "sluice_supp_put", a, "complaint", now + 5, 0, "fbl")
    assert fcall(w, "sluice_supp_get", a)[0] == "complaint"
    assert fcall(w, "sluice_supp_del", a) == ["1"]
    assert fcall(w, "sluice_supp_get", a) is None
    assert fcall(w, "sluice_supp_del", a) == ["0"]
    # the Cluster form: the bucket key given, routable by redis-cli -c
    fcall(w, "sluice_supp_put", a, "manual", now, 0, "ops", "tenant:shop1")
    k = keys.suppb("tenant:shop1", a, BUCKETS)
    assert w.redis.cli("FCALL", "sluice_supp_get", 1, k, a).split("\n")[0] == "manual"


def test_functions_scopes_expiry_long_address_and_bad_reason(world):
    w = world
    ctl(w, "suppress", "functions")
    now = int(time.time())
    fcall(w, "sluice_supp_put", "fn-dave@example.com", "unsubscribe", now, now + 3600, "one-click",
          "cat:news")
    assert fcall(w, "sluice_supp_get", "fn-dave@example.com", "cat:news") == [
        "unsubscribe", str(now), str(now + 3600), "one-click"]
    assert fcall(w, "sluice_supp_get", "fn-dave@example.com") is None
    fcall(w, "sluice_supp_put", "fn-old@example.com", "manual", now - 10, now - 1, "ops")
    assert fcall(w, "sluice_supp_get", "fn-old@example.com") is None       # expired
    long = "fn" + "a" * 60 + "@example.com"
    fcall(w, "sluice_supp_put", long, "import", now, 0, "x" * 100)
    assert fcall(w, "sluice_supp_get", long) == ["import", str(now), "", "x" * 24]
    bucket = keys.suppb("global", long, BUCKETS)
    assert w.redis.cli("HEXISTS", bucket, keys.supp_field(long)) == "1"
    for k in w.redis.cli("KEYS", keys.key("suppb", "*", "*")).split("\n"):
        assert w.redis.cli("OBJECT", "ENCODING", k) == "listpack", k
    out = w.redis.cli("FCALL", "sluice_supp_put", 0, "fn-x@example.com", "sideways", now, 0, "s",
                      check=False)
    assert "unknown reason sideways" in out, out
    assert fcall(w, "sluice_supp_get", "fn-x@example.com") is None
    fcall(w, "sluice_supp_del", long)
    fcall(w, "sluice_supp_del", "fn-dave@example.com", "cat:news")


def test_nonsense_refused_at_its_line(env):
    import subprocess
    path = env.file("bad.conf", 'log_level = "info"\nsuppression {\n  layout = "bucketed"\n'
                    '  buckets = 1000\n}\n')
    for argv in ([harness.program("ctl", "sluicectl"), "-c", path, "suppress", "list"],
                 [harness.program("policyd", "sluice-policyd"), "-n", "-c", path]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert r.returncode == 78, (argv, r.returncode, r.stderr)
        assert 'bad.conf:3: suppression layout "bucketed": use hash or compact' in r.stderr, r.stderr
        assert "bad.conf:4: suppression buckets 1000: a power of two from 16 to 16777216" in r.stderr


# --- the daemons

def test_policyd_refuses_every_scope_at_rcpt(world):
    w = world
    ctl(w, "suppress", "add", "g1@dest.test", "--reason", "hard-bounce")
    ctl(w, "suppress", "add", "c1@dest.test", "--scope", "cat:marketing", "--reason", "unsubscribe")
    ctl(w, "suppress", "add", "T1+News@Dest.test", "--scope", "tenant:shop1", "--reason", "complaint")
    # alice's category (marketing) and tenant (shop1) are known at RCPT: sasl:alice
    assert refused_at_rcpt(w, "g1@dest.test") == (550, "5.1.1 Suppressed: hard-bounce (global list)")
    assert refused_at_rcpt(w, "c1@dest.test") == (550, "5.7.1 Suppressed: unsubscribe (category list)")
    assert refused_at_rcpt(w, "t1@dest.test") == (550, "5.7.1 Suppressed: complaint (tenant list)")
    assert refused_at_rcpt(w, "free1@dest.test") is None
    # written as bucket fields only, readable with the documented function
    assert hash_entries(w) == []
    assert w.redis.cli("HEXISTS", keys.suppb("tenant:shop1", "t1@dest.test", BUCKETS),
                       "t1@dest.test") == "1"
    assert fcall(w, "sluice_supp_get", "c1@dest.test", "cat:marketing")[0] == "unsubscribe"


def test_milter_removes_a_category_entry_at_end_of_message(world):
    w = world
    ctl(w, "suppress", "add", "m1@dest.test", "--scope", "cat:marketing")
    subject = "s-" + uuid.uuid4().hex[:12]
    # no SASL user: policyd cannot know the category, the milter learns it from the header
    w.pf.send("app@example.com", ["m1@dest.test", "m2@dest.test"],
              message("m1@dest.test", subject, "marketing", sender="app@example.com"))
    envelope, _ = delivered(w, subject)
    assert envelope["rcpts"] == ["m2@dest.test"], envelope
    harness.wait_for(lambda: "rcpt=<m1@dest.test> scope=cat:marketing reason=manual: recipient removed"
                     in w.milter.output(), 10, "the milter's removal line")


def test_bounce_through_feedback_lands_in_a_bucket_and_is_enforced(world):
    w = world
    rcpt = "gone-%s@gone.test" % uuid.uuid4().hex[:6]
    w.pf.send("app@shop1.example.com", [rcpt], message(rcpt, "bounce-me"), auth=AUTH)
    bucket = keys.suppb("global", rcpt, BUCKETS)
    try:
        harness.wait_for(lambda: w.redis.cli("HEXISTS", bucket, rcpt) == "1", 60,
                         "suppression from the bounce")
    except TimeoutError:
        raise AssertionError("no suppression; Postfix log:\n" + w.pf.log()[-4000:])
    got = fcall(w, "sluice_supp_get", rcpt)
    assert got[0] == "hard-bounce" and got[3] == "bounce", got
    assert not w.redis.cli("EXISTS", keys.supp("global", rcpt)) == "1"
    assert refused_at_rcpt(w, rcpt) == (550, "5.1.1 Suppressed: hard-bounce (global list)")
    r = ctl(w, "suppress", "check", rcpt)
    assert "hard-bounce" in r.stdout and "bounce" in r.stdout


def test_one_click_unsubscribe_lands_in_a_bucket(world):
    w = world
    rcpt = "reader@loop.test"
    subject = "s-" + uuid.uuid4().hex[:12]
    w.pf.send("app@shop1.example.com", [rcpt], message(rcpt, subject), auth=AUTH)
    _, raw = delivered(w, subject)
    lu = harness.header_values(raw, "List-Unsubscribe")[0]
    token = [p.strip("<> \t\r\n") for p in lu.split(",") if "https://" in p][0].rsplit("/", 1)[1]
    req = urllib.request.Request("http://127.0.0.1:%d/u/%s" % (w.http, token),
                                 data=b"List-Unsubscribe=One-Click", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    got = fcall(w, "sluice_supp_get", rcpt, "cat:marketing")
    assert got[0] == "unsubscribe" and got[3] == "one-click", got
    assert w.redis.cli("EXISTS", keys.supp("cat:marketing", rcpt)) == "0"
    assert refused_at_rcpt(w, rcpt) == (550, "5.7.1 Suppressed: unsubscribe (category list)")


def test_import_check_export_expiry_and_prune(world):
    w = world
    addrs = ["imp%04d@list.test" % i for i in range(600)]
    path = w.env.file("list-%s.csv" % uuid.uuid4().hex[:6], "email\n" + "\n".join(addrs) + "\n")
    r = ctl(w, "suppress", "import", path, "--scope", "cat:marketing")
    assert "600 added to cat:marketing" in r.stdout, r.stdout
    r = ctl(w, "suppress", "import", path, "--scope", "cat:marketing")
    assert "0 added to cat:marketing, 600 already suppressed" in r.stdout, r.stdout
    r = ctl(w, "suppress", "check", "Imp0042@List.test")
    assert "cat:marketing" in r.stdout and "imp0042@list.test" in r.stdout and "import" in r.stdout
    r = ctl(w, "suppress", "export", "--scope", "cat:marketing")
    rows = [l.split(",") for l in r.stdout.splitlines()[1:]]
    exported = {row[0] for row in rows if row[0].endswith("@list.test")}
    assert exported == set(addrs)
    assert all(row[2] == "import" and row[5].startswith("import:list-") for row in rows
               if row[0].endswith("@list.test"))
    # the import is read by the daemons too
    assert refused_at_rcpt(w, "imp0599@list.test")[0] == 550
    # an expired field reads as absent everywhere, and prune reclaims it
    now = int(time.time())
    fcall(w, "sluice_supp_put", "exp1@dest.test", "manual", now - 10, now - 1, "ops")
    bucket = keys.suppb("global", "exp1@dest.test", BUCKETS)
    assert w.redis.cli("HEXISTS", bucket, "exp1@dest.test") == "1"
    w.redis.cli("HSET", bucket, "junk@dest.test", "not an entry")       # written by hand
    assert ctl(w, "suppress", "check", "exp1@dest.test", check=False).returncode == 1
    assert refused_at_rcpt(w, "exp1@dest.test") is None
    r = ctl(w, "suppress", "prune")
    m = re.search(r"(\d+) expired entries removed", r.stdout)
    assert m and int(m.group(1)) >= 1, r.stdout       # this one, and any an earlier test left
    assert w.redis.cli("HEXISTS", bucket, "exp1@dest.test") == "0"
    assert w.redis.cli("HGET", bucket, "junk@dest.test") == "not an entry"  # not ours to drop
    assert fcall(w, "sluice_supp_get", "junk@dest.test") is None
    # remove takes it out of its bucket
    ctl(w, "suppress", "remove", "imp0001@list.test", "--scope", "cat:marketing")
    assert ctl(w, "suppress", "check", "imp0001@list.test", check=False).returncode == 1


def test_long_address_is_enforced_but_not_exported(world):
    w = world
    long = "l" * 50 + "@dest.test"
    ctl(w, "suppress", "add", long, "--scope", "tenant:shop1")
    assert refused_at_rcpt(w, long)[0] == 550
    assert "tenant:shop1" in ctl(w, "suppress", "check", long).stdout
    r = ctl(w, "suppress", "export", "--scope", "tenant:shop1", check=False)
    assert r.returncode == 1 and "not exported" in r.stderr, (r.returncode, r.stderr)
    assert long not in r.stdout
    ctl(w, "suppress", "remove", long, "--scope", "tenant:shop1")
    # an address may begin with '#': it is no hashed one
    ctl(w, "suppress", "add", "#hash@dest.test", "--scope", "tenant:shop1")
    r = ctl(w, "suppress", "export", "--scope", "tenant:shop1")
    assert "#hash@dest.test,tenant:shop1,manual," in r.stdout, r.stdout
    ctl(w, "suppress", "remove", "#hash@dest.test", "--scope", "tenant:shop1")


def test_migrate_hash_to_compact_and_back_with_mail_flowing(root_env):
    w = make_world(root_env, layout="hash")
    ctl(w, "suppress", "add", "h1@dest.test", "--reason", "hard-bounce", "--detail", "5.1.1 gone")
    ctl(w, "suppress", "add", "h2@dest.test", "--scope", "cat:marketing", "--reason", "unsubscribe")
    ctl(w, "suppress", "add", "h3@dest.test", "--scope", "tenant:shop1", "--ttl", "3600")
    assert len(hash_entries(w)) == 3

    def enforced():
        assert refused_at_rcpt(w, "h1@dest.test") == (550, "5.1.1 Suppressed: hard-bounce (global list)")
        assert refused_at_rcpt(w, "h2@dest.test")[0] == 550
        assert refused_at_rcpt(w, "h3@dest.test")[0] == 550
        assert refused_at_rcpt(w, "free@dest.test") is None
        # no SASL user: the category entry is the milter's to enforce, at end of message
        subject = "s-" + uuid.uuid4().hex[:12]
        w.pf.send("app@example.com", ["h2@dest.test", "free@dest.test"],
                  message("h2@dest.test", subject, "marketing", sender="app@example.com"))
        envelope, _ = delivered(w, subject)
        assert envelope["rcpts"] == ["free@dest.test"], envelope
    enforced()

    # compact, reading the hash layout too while the entries move
    relayout(w, "compact", migrating=True)
    enforced()
    ctl(w, "suppress", "add", "n1@dest.test")                  # a new entry goes to its bucket
    assert w.redis.cli("HEXISTS", keys.suppb("global", "n1@dest.test", BUCKETS), "n1@dest.test") == "1"
    r = ctl(w, "suppress", "migrate", "--to", "compact")
    assert "3 moved to the compact layout" in r.stdout, r.stdout
    assert hash_entries(w) == []
    assert "0 suppression entries" in ctl(w, "suppress", "migrate", "--to", "compact").stdout
    enforced()
    got = fcall(w, "sluice_supp_get", "h3@dest.test", "tenant:shop1")
    assert got[0] == "manual" and int(got[2]) > time.time(), got   # the expiry moved along

    relayout(w, "compact", migrating=False)
    enforced()
    assert refused_at_rcpt(w, "n1@dest.test")[0] == 550

    # and back: every entry a hash again (the detail was not kept by the compact layout)
    r = ctl(w, "suppress", "migrate", "--to", "hash")
    assert "4 moved to the hash layout" in r.stdout, r.stdout
    assert w.redis.cli("KEYS", keys.key("suppb", "*", "*")) == ""
    assert w.redis.cli("HGET", keys.supp("global", "h1@dest.test"), "reason") == "hard-bounce"
    assert int(w.redis.cli("TTL", keys.supp("tenant:shop1", "h3@dest.test"))) > 0
    relayout(w, "hash", migrating=False)
    enforced()
    assert refused_at_rcpt(w, "n1@dest.test")[0] == 550


def test_import_on_a_cluster_batches_by_slot(root_env):
    """sluicectl on a 3-master Redis Cluster: each script's keys in one slot (no CROSSSLOT)."""
    cl = root_env.cluster()
    conf = root_env.file("ctl.conf", 'secret_file = "%s"\n%ssuppression {\n  layout = "compact"\n'
                         '  buckets = %d\n}\n' % (root_env.secret(), cl.conf_section(), BUCKETS))
    w = type("W", (), {"conf": conf})()
    addrs = ["cl%03d@dest.test" % i for i in range(300)]
    path = root_env.file("list.csv", "\n".join(addrs) + "\n")
    r = ctl(w, "suppress", "import", path)
    assert "300 added to global" in r.stdout, (r.stdout, r.stderr)
    assert "on Redis Cluster, load the functions on every master" in r.stderr
    owners = {cl.owner(keys.suppb("global", a, BUCKETS)).port for a in addrs}
    assert len(owners) == 3, owners
    for a in addrs[::50]:
        k = keys.suppb("global", a, BUCKETS)
        assert cl.owner(k).cli("HGET", k, a).startswith("I"), a
        assert "import" in ctl(w, "suppress", "check", "--scope", "global", a).stdout
    r = ctl(w, "suppress", "remove", "--scope", "global", addrs[0])
    assert ctl(w, "suppress", "check", "--scope", "global", addrs[0], check=False).returncode == 1


def test_feedback_writes_every_kind_into_buckets(env):
    """sluice-feedback alone (stdin, as pipe(8) runs it): bounce, soft threshold, complaint, unsubscribe."""
    from test_feedback_effects import World as FbWorld, arf, dsn, mint
    w = FbWorld(env)
    w.conf = w.config(w.redis.conf_section(command_timeout=20000)
                      + 'suppression {\n  layout = "compact"\n  buckets = %d\n}\n' % BUCKETS,
                      name="compact.conf")
    def entry(addr, scope="global"):
        k = keys.suppb(scope, addr, BUCKETS)
        return w.cli("HGET", k, addr)

    tok = mint(w.secret) + "@bounce.example.com"
    w.bind("abcd2345", "gone@example.net")
    assert w.feed(dsn("Gone@Example.NET", token=tok), tok)[0] == 0
    assert entry("gone@example.net").startswith("h"), entry("gone@example.net")
    for i in range(3):
        tok = mint(w.secret, msgid="abcd234%d" % (i + 2)) + "@bounce.example.com"
        w.bind("abcd234%d" % (i + 2), "full@example.net")
        assert w.feed(dsn("full@example.net", status="5.2.2",
                          diag="552 5.2.2 <%s>: Mailbox full"), tok)[0] == 0
    v = entry("full@example.net")
    assert v.startswith("s") and v.split(":")[1] != "", v       # with its expiry
    tok = mint(w.secret, category="promo") + "@bounce.example.com"
    w.bind("abcd2345", "angry@example.org")
    assert w.feed(arf("angry@example.org", tok), "fbl@feedback.example.com")[0] == 0
    assert entry("angry@example.org", "cat:promo").startswith("c")
    tok = mint(w.secret, kind="u", category="letters") + "@unsub.example.com"
    w.bind("abcd2345", "reader@example.org")
    msg = b"From: Reader <reader@example.org>\nTo: " + tok.encode() + b"\nSubject: unsubscribe\n\nplease\n"
    assert w.feed(msg, tok)[0] == 0
    assert entry("reader@example.org", "cat:letters").startswith("u")
    assert w.cli("KEYS", keys.key("supp", "*", "*")) == ""


def test_policyd_on_a_cluster_reads_the_buckets(root_env):
    """sluice-policyd on a 3-master Redis Cluster in the compact layout: every scope of a
    recipient is in buckets with one hash tag, looked up and refused as on one Redis."""
    from test_policyd_util import policy_query, start_policyd
    cl = root_env.cluster()
    top = 'suppression {\n  layout = "compact"\n  buckets = %d\n}\n' % BUCKETS
    proc, sock, _ = start_policyd(root_env, cl, top_extra=top)
    w = type("W", (), {"conf": proc.conf_path})()
    addrs = ["pc%02d@dest.test" % i for i in range(12)]
    for a in addrs:
        ctl(w, "suppress", "add", a, "--reason", "hard-bounce")
    assert len({cl.owner(keys.suppb("global", a, BUCKETS)).port for a in addrs}) > 1
    for a in addrs:
        got = policy_query(sock, {"recipient": a})
        assert got.startswith("550 5.1.1 Suppressed: hard-bounce"), (a, got, proc.output()[-2000:])
    assert not policy_query(sock, {"recipient": "free@dest.test"}).startswith("550")

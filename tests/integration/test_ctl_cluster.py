"""
NAME
    test_ctl_cluster - sluicectl's whole-keyspace commands on a real 3-master Redis Cluster

DESCRIPTION
    A 3-master cluster started by the test (harness.Cluster). What used to
    reach one node only now reaches every master: suppress import of
    10,000 addresses (sorted by slot into one-slot script calls), export
    giving every one back, list counting them all, check without --scope
    finding an entry on any master, prune per slot; suppress migrate --to
    compact moving hash entries of every master into their buckets
    (each move across two slots), after which sluice-policyd on the
    cluster refuses a migrated address; and sluicectl migrate of
    format-1 names spread over all three masters (renamed across slots,
    merged with today's name where both exist, TTLs kept) and an entry
    moved to its canonical address across slots, after which
    the daemons start and a second run moves nothing.

    Each test starts its own cluster: they run in parallel with the rest
    of the suite.
"""
import subprocess
import time

import harness
import keys
from test_policyd_util import start_policyd, policy_query

BUCKETS = 64


def ctl(conf, *args, check=True):
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, (args, r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return r


def scan(cl, pattern):
    """Keys matching pattern on every master."""
    return sorted(k for n in cl.nodes for k in n.cli("--scan", "--pattern", pattern).split())


def world(env, layout="hash"):
    cl = env.cluster()
    top = 'suppression {\n  layout = "%s"\n  buckets = %d\n}\n' % (layout, BUCKETS)
    conf = env.file("ctl-%s.conf" % layout,
                    'secret_file = "%s"\n%s%s' % (env.secret(), cl.conf_section(), top))
    return cl, conf


def spread(cl, names):
    """The masters' ports holding names (each name's slot owner)."""
    return {cl.owner(k).port for k in names}


def check_import_export_list(env, layout):
    cl, conf = world(env, layout)
    addrs = ["u%05d@list.test" % i for i in range(10000)]
    path = env.file("list.csv", "email\n" + "\n".join(addrs) + "\n")
    r = ctl(conf, "suppress", "import", path)
    assert "10000 addresses, 10000 added to global" in r.stdout, r.stdout
    if layout == "hash":
        assert spread(cl, [keys.supp("global", a) for a in addrs[:30]]) == {n.port for n in cl.nodes}
        assert len(scan(cl, keys.supp("global", "*"))) == 10000
    else:
        assert spread(cl, [keys.suppb("global", a, BUCKETS) for a in addrs[:30]]) == \
            {n.port for n in cl.nodes}
    r = ctl(conf, "suppress", "import", path)                      # nothing new the second time
    assert "0 added to global, 10000 already suppressed" in r.stdout, r.stdout
    r = ctl(conf, "suppress", "export")
    rows = [l.split(",") for l in r.stdout.splitlines()[1:]]
    assert sorted(row[0] for row in rows) == addrs
    r = ctl(conf, "suppress", "list")
    assert "10000 entries" in r.stderr, r.stderr[-500:]
    # check without --scope: entries on every master found
    for a in addrs[::1111]:
        r = ctl(conf, "suppress", "check", a)
        assert "global" in r.stdout and a in r.stdout, r.stdout
    assert ctl(conf, "suppress", "check", "nobody@list.test", check=False).returncode == 1
    return cl, conf


def test_import_export_list_check_hash_layout(root_env):
    check_import_export_list(root_env, "hash")


def test_import_export_list_check_prune_compact_layout(root_env):
    cl, conf = check_import_export_list(root_env, "compact")
    # prune: expired fields in buckets of every master, one slot per script call
    now = int(time.time())
    old = ["exp%02d@dest.test" % i for i in range(30)]
    for a in old:
        k = keys.suppb("global", a, BUCKETS)
        ctl(conf, "suppress", "add", a, "--ttl", "1")
    assert spread(cl, [keys.suppb("global", a, BUCKETS) for a in old]) == {n.port for n in cl.nodes}
    harness.wait_for(lambda: int(time.time()) > now + 2, 10, "the entries to expire")
    r = ctl(conf, "suppress", "prune")
    assert "%d buckets, 30 expired entries removed" % BUCKETS in r.stdout, r.stdout
    assert "10000 entries" in ctl(conf, "suppress", "list").stderr


def test_suppress_migrate_to_compact_then_policyd_refuses(root_env):
    env = root_env
    cl, hconf = world(env, "hash")
    addrs = ["m%03d@dest.test" % i for i in range(300)]
    path = env.file("list.csv", "\n".join(addrs) + "\n")
    ctl(hconf, "suppress", "import", path, "--reason", "hard-bounce")
    ctl(hconf, "suppress", "add", "--scope", "cat:news", "cat1@dest.test", "--reason", "complaint")
    hashes = scan(cl, keys.supp("*", "*"))
    assert len(hashes) == 301 and spread(cl, hashes) == {n.port for n in cl.nodes}
    cconf = env.file("ctl-c.conf", open(hconf).read().replace('layout = "hash"',
                                                              'layout = "compact"'))
    assert ctl(cconf, "suppress", "migrate", "--to", "compact", "--dry-run").stdout.startswith(
        "301 suppression entries would move")
    r = ctl(cconf, "suppress", "migrate", "--to", "compact")
    assert "301 suppression entries: 301 moved to the compact layout" in r.stdout, r.stdout
    assert scan(cl, keys.supp("*", "*")) == []                       # no hash left, no scratch
    assert not [k for k in scan(cl, "*") if "moving" in k]
    r = ctl(cconf, "suppress", "migrate", "--to", "compact")          # a second run: nothing
    assert r.stdout.startswith("0 suppression entries"), r.stdout
    assert "301 entries" in ctl(cconf, "suppress", "list").stderr
    top = 'suppression {\n  layout = "compact"\n  buckets = %d\n}\n' % BUCKETS
    proc, sock, _ = start_policyd(env, cl, top_extra=top)
    for a in addrs[::37]:
        got = policy_query(sock, {"recipient": a})
        assert got.startswith("550 5.1.1 Suppressed: hard-bounce"), (a, got)
    assert not policy_query(sock, {"recipient": "free@dest.test"}).startswith("550")
    # and back: every bucket field a hash again
    r = ctl(hconf, "suppress", "migrate", "--to", "hash")
    assert "301 moved to the hash layout" in r.stdout, r.stdout
    assert len(scan(cl, keys.supp("*", "*"))) == 301
    assert scan(cl, keys.key("suppb", "*", "*")) == []


def test_migrate_old_names_over_all_three_masters(root_env):
    env = root_env
    cl, conf = world(env, "hash")
    day = time.strftime("%Y%m%d", time.gmtime())
    old = []
    for i in range(60):
        k = keys.old("supp", "global", "o%02d@dest.test" % i)
        cl.owner(k).cli("HSET", k, "reason", "hard-bounce", "source", "test", "added", "1764720000")
        old.append(k)
    cl.owner(old[0]).cli("EXPIRE", old[0], "5000")
    for user, n in (("alice", 2), ("bob", 5), ("carol", 1)):
        k = keys.old("quota", "cap", day, user)
        cl.owner(k).cli("SET", k, str(n), "EX", "86400")
        old.append(k)
    k = keys.old("soft", "full@dest.test")
    cl.owner(k).cli("ZADD", k, "100", "m1")
    old.append(k)
    assert spread(cl, old) == {n.port for n in cl.nodes}
    # today's name under a form policyd never looks up (+tag): to its canonical address
    fwd = keys.supp("global", "fwd+tag@Dest.test")
    cl.owner(fwd).cli("HSET", fwd, "reason", "complaint", "source", "test", "added", "1")
    # what an upgraded node wrote meanwhile under today's name: merged
    q = keys.key("quota", "cap", day, "alice")
    cl.owner(q).cli("SET", q, "1", "EX", "86400")
    r = ctl(conf, "suppress", "check", "o01@dest.test", check=False)
    assert r.returncode == 78, (r.returncode, r.stderr)
    r = ctl(conf, "migrate")
    assert "64 names of keyspace format 1: 63 renamed, 1 merged" in r.stdout, r.stdout
    assert "0 left alone" in r.stdout, r.stdout
    assert "1 moved to their canonical address" in r.stdout, r.stdout
    canon = keys.supp("global", "fwd@dest.test")
    assert cl.owner(canon).cli("HGET", canon, "reason") == "complaint"
    assert cl.owner(fwd).cli("EXISTS", fwd) == "0"
    for k in old:
        assert cl.owner(k).cli("EXISTS", k) == "0", k
    for i in range(60):
        k = keys.supp("global", "o%02d@dest.test" % i)
        assert cl.owner(k).cli("HGET", k, "reason") == "hard-bounce", k
    k = keys.supp("global", "o00@dest.test")
    assert 4000 < int(cl.owner(k).cli("TTL", k)) <= 5000                 # the TTL came along
    assert cl.owner(q).cli("GET", q) == "3"                             # both counted
    k = keys.key("quota", "cap", day, "bob")
    assert cl.owner(k).cli("GET", k) == "5" and 0 < int(cl.owner(k).cli("TTL", k)) <= 86400
    assert not [k for k in scan(cl, "*") if "moving" in k]               # no scratch left
    marker = keys.key("keyspace")
    assert cl.owner(marker).cli("GET", marker) == "2"
    again = ctl(conf, "migrate")
    assert "0 names of keyspace format 1" in again.stdout, again.stdout
    assert cl.owner(q).cli("GET", q) == "3"
    proc, sock, _ = start_policyd(env, cl)
    got = policy_query(sock, {"recipient": "o07@dest.test"})
    assert got.startswith("550 5.1.1 Suppressed: hard-bounce"), got

"""
NAME
    test_redis_sentinel - Sluice on Redis Sentinel: discovery and failover

DESCRIPTION
    A primary, a replica and three redis-sentinel processes on loopback
    (harness.SentinelSet). sluice-policyd and sluicectl find the master
    through the sentinels; SENTINEL FAILOVER during a load of policy
    requests: decisions come back from the new master within seconds
    (the gap is printed; run with -s to see it), limits and suppression
    keep working afterwards, and the old master gets no script call
    (EVALSHA/EVAL: how every policyd decision is sent) after it became
    a replica. A sentinel that points at a replica (stale) is refused by
    the ROLE check.
"""
import re
import socket
import subprocess
import threading
import time

import harness
from test_policyd_util import start_policyd_product_timeout as start_policyd, policy_query, policy_on
import keys

SUPPRESSED = "gone@dest.test"


def define_limit(node, name, **fields):
    args = []
    for k, v in fields.items():
        args += [k, v]
    node.cli("HSET", keys.key("limit", name), *args)
    node.cli("SADD", keys.key("limits"), name)


def script_calls(node):
    """Calls of EVAL/EVALSHA (also rejected or failed ones) on one server."""
    total = 0
    for line in node.cli("INFO", "commandstats").splitlines():
        m = re.match(r"cmdstat_(eval|evalsha):(.*)", line)
        if m:
            f = dict(kv.split("=") for kv in m.group(2).split(","))
            total += sum(int(f.get(k, 0)) for k in ("calls", "rejected_calls", "failed_calls"))
    return total


class Load(threading.Thread):
    """Policy requests for a suppressed recipient, back to back, on one connection.

    Every answer is recorded with its time: REJECT (550) means the
    decision came from Redis; DUNNO is the fail action (Redis not
    reachable within the check's timeout)."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.answers = []           # (monotonic time, from redis?)
        self.stop = False

    def run(self):
        s = None
        while not self.stop:
            try:
                if s is None:
                    s = socket.socket(socket.AF_UNIX)
                    s.settimeout(5)
                    s.connect(self.sock)
                a = policy_on(s, {"recipient": SUPPRESSED, "sender": "load@src.test"})
                self.answers.append((time.monotonic(), a.startswith("550")))
            except OSError:
                s = None
                time.sleep(0.01)

    def longest_gap(self):
        """Longest time between two answers from Redis (seconds)."""
        good = [t for t, ok in self.answers if ok]
        return max((b - a for a, b in zip(good, good[1:])), default=0.0)


def test_policyd_follows_sentinel_failover(root_env):
    env = root_env
    ss = env.sentinels()
    master = ss.master()
    master.cli("HSET", keys.supp("global", SUPPRESSED), "reason", "hard-bounce", "source", "test")
    define_limit(master, "five", key="${sender}", rate="5/hour")
    proc, sock, _ = start_policyd(env, ss)
    harness.wait_for(lambda: "limit five: loaded" in proc.output(), 10, "limit loaded")
    assert policy_query(sock, {"recipient": SUPPRESSED}).startswith("550 ")

    load = Load(sock)
    load.start()
    harness.wait_for(lambda: len(load.answers) >= 1000, 60, "1000 answers before the failover")
    at_switch = {}
    old, new = ss.failover(on_switch=lambda o, n: at_switch.update(calls=script_calls(o)))
    t = ss.times
    before = script_calls(old)
    n_at_demotion = len(load.answers)
    harness.wait_for(lambda: len(load.answers) >= n_at_demotion + 2000
                     and any(ok and when > t["demoted"] + 1 for when, ok in load.answers), 120,
                     "2000 answers, and answers from redis, after the demotion")
    load.stop = True
    load.join(10)
    after = script_calls(old)

    gap = load.longest_gap()
    during = [ok for when, ok in load.answers if when >= t["failover"]]
    print("\nsentinel failover: %d answers during and after it, %d by the fail action; longest gap "
          "between answers from redis %.2f s; switch-master %.2f s and demotion %.2f s after "
          "SENTINEL FAILOVER; script calls on the old master between switch-master and its "
          "demotion: %d, after the demotion: %d"
          % (len(during), during.count(False), gap, t["switch"] - t["failover"],
             t["demoted"] - t["failover"], before - at_switch["calls"], after - before))
    # The issue asks for 5 s; the bound is loose for a shared 2-core machine.
    assert gap < 10, gap
    # The old master, now a replica, got no script call after its demotion.
    assert after == before, (before, after)
    assert ss.role(old) == "slave"
    # Decisions are now the new master's: limits and suppression work.
    answers = [policy_query(sock, {"sender": "fresh@src.test", "recipient": "r%d@dest.test" % i})
               for i in range(7)]
    assert answers[:5] == ["DUNNO"] * 5, answers
    assert all(a.startswith("DEFER_IF_PERMIT") for a in answers[5:]), answers
    new.cli("HSET", keys.supp("global", "new@dest.test"), "reason", "complaint", "source", "test")
    assert policy_query(sock, {"recipient": "new@dest.test"}).startswith("550 ")
    assert re.search(r"redis %s@127\.0\.0\.1:%d: (connection lost|reconnected)"
                     % (ss.MASTER_NAME, old.port), proc.output()), proc.output()[-3000:]


def ctl(env, conf, *args):
    return subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_sluicectl_through_sentinels_and_failover(root_env):
    env = root_env
    ss = env.sentinels()
    conf = env.file("ctl.conf", 'secret_file = "%s"\n%s' % (env.secret(), ss.conf_section()))
    r = ctl(env, conf, "suppress", "add", "one@dest.test")
    assert r.returncode == 0, r.stderr
    assert ss.master().cli("EXISTS", keys.supp("global", "one@dest.test")) == "1"
    old, new = ss.failover()
    r = ctl(env, conf, "suppress", "add", "two@dest.test")
    assert r.returncode == 0, r.stderr
    assert new.cli("EXISTS", keys.supp("global", "two@dest.test")) == "1"
    r = ctl(env, conf, "suppress", "check", "one@dest.test")
    assert r.returncode == 0 and "one@dest.test" in r.stdout, (r.stdout, r.stderr)


def fake_sentinel(port_to_name):
    """A TCP server answering every command with ["127.0.0.1", port]: a stale sentinel."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    answer = b"*2\r\n$9\r\n127.0.0.1\r\n$%d\r\n%d\r\n" % (len(str(port_to_name)), port_to_name)

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                c.settimeout(2)
                try:
                    while c.recv(4096):
                        c.sendall(answer)
                except OSError:
                    pass
    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_stale_sentinel_answer_is_refused(root_env):
    """A sentinel that names the replica: the ROLE check refuses it, nothing is written."""
    env = root_env
    primary = env.redis(tcp=True)
    replica = env.redis(tcp=True, args=["--replicaof", "127.0.0.1", str(primary.port)])
    harness.wait_for(lambda: "master_link_status:up" in replica.cli("INFO", "replication"), 20)
    fake = fake_sentinel(replica.port)
    try:
        conf = env.file("ctl.conf", 'secret_file = "%s"\nredis {\n  sentinels = { "127.0.0.1:%d" }\n'
                        '  master_name = "m"\n  connect_timeout = 300\n  command_timeout = 300\n}\n'
                        % (env.secret(), fake.getsockname()[1]))
        r = ctl(env, conf, "suppress", "add", "x@dest.test")
        assert r.returncode != 0
        assert "not the master" in r.stderr, r.stderr
        assert replica.cli("DBSIZE") == "0" and primary.cli("DBSIZE") == "0"
        # policyd: the same answer, so the check's fail action (DUNNO), and no write
        proc, sock, _ = start_policyd(env, type("R", (), {"conf_section": lambda self: open(conf).read()
                                                           .split("\n", 1)[1]})())
        assert policy_query(sock, {"recipient": "y@dest.test"}) == "DUNNO"
        harness.wait_for(lambda: "not the master" in proc.output(), 5, "ROLE refusal logged")
        assert primary.cli("DBSIZE") == "0"
    finally:
        fake.close()


def test_mail_through_postfix_during_failover(root_env):
    """2,000 messages through the throwaway Postfix while Sentinel fails over: all delivered."""
    from test_policyd_util import request_lines
    env = root_env
    ss = env.sentinels()
    sink = env.sink()
    proc, sock, _ = start_policyd(env, ss)
    pf = env.postfix(relay=sink, policy="unix:%s" % sock)
    time.sleep(0.6)
    n = 2000
    src = subprocess.Popen(["smtp-source", "-A", "-s", "5", "-m", str(n), "-f", "load@src.test",
                            "-t", "r@dest.test", "127.0.0.1:%d" % pf.port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    harness.wait_for(lambda: len(request_lines(proc)) >= 300, 60, "some answered requests")
    old, new = ss.failover()
    before = script_calls(old)
    assert src.wait(300) == 0, src.stderr.read()
    harness.wait_for(lambda: len(sink.files()) >= n, 120, "every message delivered")
    assert len(sink.files()) == n
    assert script_calls(old) == before
    # decisions after it come from the new master
    new.cli("HSET", keys.supp("global", SUPPRESSED), "reason", "hard-bounce", "source", "test")
    assert policy_query(sock, {"recipient": SUPPRESSED}).startswith("550 ")
    lines = request_lines(proc)
    print("\nmail during failover: %d messages delivered, %d policy answers, %d by the fail action"
          % (len(sink.files()), len(lines), sum("(redis: " in l for l in lines)))


def test_sentinel_and_acl_auth(root_env):
    """Sentinels with an ACL user and password; data nodes with the ACL user Sluice uses."""
    env = root_env
    ss = env.sentinels(auth=True)
    master = ss.master()
    master.cli("HSET", keys.supp("global", SUPPRESSED), "reason", "hard-bounce", "source", "test")
    proc, sock, _ = start_policyd(env, ss)
    assert policy_query(sock, {"recipient": SUPPRESSED}).startswith("550 ")
    conf = env.file("ctl.conf", 'secret_file = "%s"\n%s' % (env.secret(), ss.conf_section()))
    r = ctl(env, conf, "suppress", "add", "acl@dest.test")
    assert r.returncode == 0, r.stderr
    assert "cmdstat_hset" in master.cli("INFO", "commandstats")
    assert ss.master().cli("ACL", "LOG").count("sluice") == 0   # no refused command by our user
    old, new = ss.failover()
    harness.wait_for(lambda: policy_query(sock, {"recipient": SUPPRESSED}).startswith("550 "), 15,
                     "decisions from the new master")
    r = ctl(env, conf, "suppress", "add", "acl2@dest.test")
    assert r.returncode == 0, r.stderr
    assert new.cli("EXISTS", keys.supp("global", "acl2@dest.test")) == "1"
    # a wrong sentinel password: a clear error, nothing written anywhere
    bad = env.file("bad.conf", 'secret_file = "%s"\n%s' % (env.secret("b.key"), ss.conf_section(
        extra='  sentinel_password_file = "%s"\n' % env.file("bad.pw", "wrong\n", 0o600))))
    r = ctl(env, bad, "suppress", "add", "nope@dest.test")
    assert r.returncode != 0 and "sentinel" in r.stderr, r.stderr
    assert new.cli("EXISTS", keys.supp("global", "nope@dest.test")) == "0"


def test_master_killed(root_env):
    """The master dies (SIGKILL): the sentinels elect the replica, policyd follows."""
    env = root_env
    ss = env.sentinels()
    master = ss.master()
    master.cli("HSET", keys.supp("global", SUPPRESSED), "reason", "hard-bounce", "source", "test")
    harness.wait_for(lambda: ss.replica.cli("EXISTS", keys.supp("global", SUPPRESSED)) == "1", 10)
    proc, sock, _ = start_policyd(env, ss)
    load = Load(sock)
    load.start()
    harness.wait_for(lambda: len(load.answers) >= 500, 60, "answers before the kill")
    t0 = time.monotonic()
    master.kill()
    harness.wait_for(lambda: ss.master_port() != master.port, 60, "switch-master")
    t_switch = time.monotonic()
    harness.wait_for(lambda: any(ok and t > t_switch for t, ok in load.answers), 30,
                     "answers from the new master")
    t_back = min(t for t, ok in load.answers if ok and t > t_switch)
    load.stop = True
    load.join(10)
    worst = max((t for t, ok in load.answers if not ok), default=t0)
    print("\nmaster killed: switch-master %.2f s after SIGKILL, first decision from the new "
          "master %.2f s after switch-master; %d answers by the fail action meanwhile"
          % (t_switch - t0, t_back - t_switch, sum(not ok for _, ok in load.answers)))
    assert ss.role(ss.replica) == "master"
    assert worst >= t0
    assert policy_query(sock, {"recipient": SUPPRESSED}).startswith("550 ")


def test_first_sentinel_down(root_env):
    """The first configured sentinel is down: discovery and the once-a-second poll use the others."""
    env = root_env
    ss = env.sentinels()
    ss.master().cli("HSET", keys.supp("global", SUPPRESSED), "reason", "hard-bounce", "source", "test")
    ss.stop_sentinel(0)
    proc, sock, _ = start_policyd(env, ss)
    assert policy_query(sock, {"recipient": SUPPRESSED}).startswith("550 ")
    conf = env.file("ctl.conf", 'secret_file = "%s"\n%s' % (env.secret(), ss.conf_section()))
    assert ctl(env, conf, "suppress", "add", "a@dest.test").returncode == 0
    old, new = ss.failover()
    # policyd left the old master before its demotion (the poll), not at it
    assert re.search(r"connection lost: sentinels name 127\.0\.0\.1:%d as master" % new.port,
                     proc.output()), proc.output()[-2000:]
    harness.wait_for(lambda: policy_query(sock, {"recipient": SUPPRESSED}).startswith("550 "), 15,
                     "decisions from the new master")
    r = ctl(env, conf, "suppress", "add", "b@dest.test")
    assert r.returncode == 0, r.stderr
    assert new.cli("EXISTS", keys.supp("global", "b@dest.test")) == "1"


def test_milter_through_sentinel_failover(root_env):
    """sluice-milter (the sync client, in a threaded daemon) before and after a failover:
    suppressed recipients removed, messages delivered, counted on the new master."""
    import uuid
    import test_milter_suppress as ms
    from milter_helpers import start_milter, write_conf
    env = root_env
    ss = env.sentinels()
    w = ms.World()
    w.env = env
    rsa, w.rsa_txt = harness.dkim_keypair(env, "example", "rsa")
    w.http = harness.free_port()
    psock = "%s/policyd-%s.sock" % (env.dir, uuid.uuid4().hex[:6])
    w.conf, sock = write_conf(env, ms.CONF % {"secret": env.secret(), "rsa": rsa, "milter": "",
                                              "psock": psock, "http": w.http}, redis=ss)
    w.milter, spec = start_milter(env, w.conf, sock)
    w.sink = env.sink()
    w.pf = env.postfix(relay=w.sink, milter=spec, sasl_users=ms.SASL)

    def through(gone):
        w.redis = ss.master()
        ms.supp(w, "global", gone)
        subj, err = ms.send(w, ["stay@dest.test", gone], "transactional")
        assert err is None, err
        rcpts = sorted(r for e, _ in ms.all_delivered(w, subj) for r in e["rcpts"])
        assert rcpts == ["stay@dest.test"], rcpts
        return int(ms.stats(w, category="transactional").get("suppressed", "0"))

    assert through("gone1@dest.test") == 1
    old, new = ss.failover()
    assert through("gone2@dest.test") == 2      # the replica had the first count
    assert ss.role(old) == "slave"
    w.milter.wait_output("suppressed: rcpt=<gone2@dest.test>")

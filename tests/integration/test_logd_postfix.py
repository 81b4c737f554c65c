"""
NAME
    test_logd_postfix - sluice-logd on a real Postfix's maillog_file

DESCRIPTION
    One world: redis-server, sluice-milter (tenant shop1 of a mall, SASL
    user alice, category marketing), a throwaway Postfix writing
    maillog_file, and three next hops reached through transport_maps:
    smtp-sink accepting (the relayhost), smtp-sink refusing RCPT with
    5xx (refuse.test) and smtp-sink refusing RCPT with 4xx (defer.test).
    sluice-logd follows the maillog. The tests check, against the log
    itself, that every delivery line of our messages became exactly one
    event with tenant and category, that the day counters match, and
    that a rotation during the run and a restart lose and repeat nothing.
"""
import gzip
import json
import os
import re
import signal
import socketserver
import subprocess
import threading
import time
import uuid

import pytest

import conftest
import harness
from milter_helpers import start_milter, write_conf
import keys

CONF = """
secret_file = "%(secret)s"
domain "mall.test" { default_category = "transactional" }
category "transactional" { subdomain = "mail" }
category "marketing" { subdomain = "news" }
tenant "shop1" {
  subdomain = "shop1"
  domains = {"shop1.mall.test"}
  sasl_users = {"alice"}
  default_category = "marketing"
}
milter {
  socket = "{socket}"
  socket_mode = "0666"
}
logd {
  log_file = "%(maillog)s"
  state_file = "%(state)s"
  poll_interval = 50
  block_threshold = 3
  block_window = 600
  block_quiet = 1
  block_command = "%(alert)s"
  provider "fake" { domains = {"fake.test"} }
}
"""

DELIVERY = re.compile(r"postfix/\w+\[\d+\]: (\w+): to=<([^>]*)>,.* status=(\w+)")
RESULT = {"sent": "delivered", "deferred": "deferred", "bounced": "bounced"}


GOOGLE_4728 = [
    "421-4.7.28 [127.0.0.1      15] Our system has detected an unusual rate of",
    "421-4.7.28 unsolicited mail originating from your IP address. To protect our",
    "421-4.7.28 users from spam, mail sent from your IP address has been temporarily",
    "421-4.7.28 rate limited. Please visit",
    "421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError to",
    "421 4.7.28 review our Bulk Email Senders Guidelines. a1si2 - gsmtp",
]


class FakeProvider(socketserver.ThreadingTCPServer):
    """A tiny SMTP server that answers RCPT with Google's 421-4.7.28 while .refusing."""
    allow_reuse_address = True
    daemon_threads = True
    refusing = True
    accepted = 0


class FakeHandler(socketserver.StreamRequestHandler):
    def reply(self, *lines):
        self.wfile.write("".join(l + "\r\n" for l in lines).encode())

    def handle(self):
        self.reply("220 fake.test ESMTP")
        in_data = False
        for raw in self.rfile:
            line = raw.decode("latin-1").rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data = False
                    self.server.accepted += 1
                    self.reply("250 2.0.0 OK a1si3 - gsmtp")
                continue
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 fake.test")
            elif verb == "RCPT" and self.server.refusing:
                self.reply(*GOOGLE_4728)
                return
            elif verb == "DATA":
                in_data = True
                self.reply("354 go ahead")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


class World:
    pass


def logd_binary():
    return harness.program("logd", "sluice-logd")


@pytest.fixture(scope="module")
def world():
    conftest.require_root()
    env = harness.Env("logd-postfix")
    try:
        w = World()
        w.env = env
        w.redis = env.redis()
        w.ok = env.sink()
        w.refuse = env.sink("-f", "RCPT")
        w.defer = env.sink("-r", "RCPT")
        w.fake = FakeProvider(("127.0.0.1", 0), FakeHandler)
        threading.Thread(target=w.fake.serve_forever, daemon=True).start()
        transport = env.file("transport", "refuse.test smtp:[127.0.0.1]:%d\n"
                             "defer.test smtp:[127.0.0.1]:%d\nfake.test smtp:[127.0.0.1]:%d\n"
                             % (w.refuse.port, w.defer.port, w.fake.server_address[1]))
        w.state = os.path.join(env.dir, "logd.state")
        maillog = os.path.join(env.dir, "postfix", "log", "maillog")
        w.alerts = os.path.join(env.dir, "alerts")
        alert = env.file("alert.sh", '#!/bin/sh\necho "$* $SLUICE_BLOCK_COUNT $SLUICE_BLOCK_WHY"'
                         ' >> %s\n' % w.alerts, 0o755)
        w.conf, sock = write_conf(env, CONF % {"secret": env.secret(), "maillog": maillog,
                                               "state": w.state, "alert": alert}, redis=w.redis)
        w.milter, spec = start_milter(env, w.conf, sock)
        w.pf = env.postfix(relay=w.ok, milter=spec, sasl_users={"alice": "alicepw"},
                           main={"transport_maps": "texthash:" + transport})
        assert w.pf.maillog == maillog
        harness.wait_for(lambda: os.path.exists(maillog), what="maillog")
        w.logd = start_logd(w)
        w.qids = []
        yield w
    finally:
        env.close()
        if getattr(w, "fake", None):
            w.fake.shutdown()


def start_logd(w):
    return w.env.daemon("sluice-logd-%d" % time.monotonic_ns(),
                        [logd_binary(), "-f", "-c", w.conf],
                        ready=lambda: os.path.exists(w.state))


def send(w, rcpts):
    """A message from alice; returns its queue id (from the milter's msg: record)."""
    subject = "t-" + uuid.uuid4().hex[:12]
    text = ("From: Shop <news@shop1.mall.test>\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@client.test>\r\n\r\nHello.\r\n" % (rcpts[0], subject, subject))
    w.pf.send("news@shop1.mall.test", rcpts, text.encode(), auth=("alice", "alicepw"))

    def qid():
        m = re.search(r"(\w+): message-id=<%s@client.test>" % subject, w.pf.log())
        return m and m.group(1)
    q = harness.wait_for(qid, 20, "queue id of %s" % subject)
    w.qids.append(q)
    return q


def log_lines(w):
    """(qid, rcpt, result) of every delivery line of our messages, rotated files too."""
    out = []
    logdir = os.path.dirname(w.pf.maillog)
    for name in sorted(os.listdir(logdir)):
        path = os.path.join(logdir, name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", errors="replace") as f:
            for line in f:
                m = DELIVERY.search(line)
                if m and m.group(1) in w.qids and m.group(3) in RESULT:
                    out.append((m.group(1), m.group(2), RESULT[m.group(3)]))
    return sorted(out)


def events(w):
    """Every delivery event in the stream, as dicts."""
    out = []
    raw = subprocess.run(["redis-cli", "-s", w.redis.sock, "--json", "XRANGE", keys.key("events"),
                          "-", "+"], capture_output=True, text=True, check=True).stdout
    for _id, fields in json.loads(raw or "[]"):
        d = dict(zip(fields[::2], fields[1::2]))
        if d.get("type") == "delivery":
            out.append(d)
    return out


def event_keys(w):
    return sorted((e["queue_id"], e["recipient"], e["result"]) for e in events(w))


def settle(w, timeout=20):
    """Wait until the events are exactly the log's delivery lines; return them."""
    def same():
        want = log_lines(w)
        return want if event_keys(w) == want else None
    try:
        return harness.wait_for(same, timeout, "events matching the maillog")
    except TimeoutError:
        raise AssertionError("log %s\nevents %s\nlogd: %s" % (log_lines(w), event_keys(w),
                                                              w.logd.output()))


def caught_up(w, offset):
    """Wait until sluice-logd has handed on every line of the maillog up to offset.

    Its state file says how far it read, written after the events of those
    lines went out: the sync point of an assertion that a line made no event."""
    ino = os.stat(w.pf.maillog).st_ino

    def state():
        with open(w.state) as f:
            i, off = f.read().split()
        return int(i) == ino and int(off) >= offset
    harness.wait_for(state, 30, "sluice-logd past offset %d of the maillog" % offset)


def stop_retries(w, qid):
    """Delete a message from the queue, so its deferrals stop."""
    subprocess.run(["postsuper", "-c", w.pf.etc, "-d", qid], capture_output=True)
    harness.wait_for(lambda: re.search(r"%s: removed" % qid, w.pf.log()), 20, "removed")


def day():
    return time.strftime("%Y%m%d", time.gmtime())


def test_three_next_hops_one_event_per_recipient_and_attempt(world):
    w = world
    q = send(w, ["a@accept.test", "b@refuse.test", "c@defer.test"])
    for rcpt, status in (("a@accept", "sent"), ("b@refuse", "bounced"), ("c@defer", "deferred")):
        harness.wait_for(lambda: re.search(r"%s: to=<%s.test>.*status=%s" % (q, rcpt, status),
                                           w.pf.log()), 30, "%s %s" % (rcpt, status))
    # Postfix sends the notice for b@refuse.test after this delivery pass;
    # deleting the message first would take the notice with it (a later
    # test is about that notice).
    harness.wait_for(lambda: re.search(r"%s: sender non-delivery notification" % q, w.pf.log()),
                     30, "the bounce notice queued")
    stop_retries(w, q)
    got = settle(w)
    results = {(r, res) for _q, r, res in got}
    assert ("a@accept.test", "delivered") in results
    assert ("b@refuse.test", "bounced") in results
    assert ("c@defer.test", "deferred") in results
    for e in events(w):
        assert e["tenant"] == "shop1" and e["category"] == "marketing", e
        assert e["sasl"] == "alice"
        assert len(e["msgid"]) >= 8 and e["message_id"].endswith("@client.test"), e
        assert e["sender"].endswith("shop1.mall.test") or "mall.test" in e["sender"], e
        assert e["relay_addr"] == "127.0.0.1", e
    by_rcpt = {e["recipient"]: e for e in events(w)}
    assert by_rcpt["b@refuse.test"]["dsn"].startswith("5.")
    assert "in reply to RCPT TO command" in by_rcpt["b@refuse.test"]["reply"]
    assert by_rcpt["c@defer.test"]["dsn"].startswith("4.")
    assert by_rcpt["a@accept.test"]["relay_port"] == str(w.ok.port)
    stats = w.redis.cli("HGETALL", keys.key("stats", day(), "shop1", "marketing")).split("\n")
    stats = dict(zip(stats[::2], stats[1::2]))
    count = lambda res: str(sum(1 for _q, _r, x in got if x == res))
    assert stats.get("delivered") == count("delivered") == "1"
    assert stats.get("bounced") == count("bounced") == "1"
    assert stats.get("deferred") == count("deferred")
    assert stats.get("sent") == "3"     # the milter's count of recipients
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf, "stats"],
                       capture_output=True, text=True, timeout=30)
    table = r.stdout.split("deliveries (sluice-logd")[1].split("\n")
    row = [l.split() for l in table if l.startswith("shop1")][0]
    assert row == ["shop1", "marketing", "1", count("deferred"), "1", "0", "50.00%", "0.00%"], r.stdout
    table = r.stdout.split("deliveries by provider")[1].split("\n")
    row = [l.split() for l in table if l.startswith("other")][0]
    assert row[:5] == ["other", "1", count("deferred"), "1", "0"], r.stdout
    assert "other " + str(int(count("deferred")) + 1) in r.stdout.split("deliveries by provider")[1]


def test_bounce_notices_are_not_counted_as_tenant_mail(world):
    w = world
    # the non-delivery notice for b@refuse.test is a message of Postfix's own
    notice = harness.wait_for(lambda: re.search(r"sender non-delivery notification: (\w+)",
                                                w.pf.log()), 20, "a bounce notice")
    nq = notice.group(1)
    sent = harness.wait_for(lambda: re.search(r"%s: to=<.*status=sent.*\n" % nq, w.pf.log()), 20,
                            "the notice delivered")
    caught_up(w, len(w.pf.log()[:sent.end()].encode()))
    assert all(e["queue_id"] != nq for e in events(w))


def test_rotation_during_a_run_loses_and_repeats_nothing(world):
    w = world
    q1 = send(w, ["r1@accept.test", "r2@accept.test"])
    w.pf.cmd("logrotate")
    q2 = send(w, ["r3@accept.test"])
    harness.wait_for(lambda: len([1 for x in log_lines(w) if x[0] in (q1, q2)]) == 3, 30,
                     "deliveries")
    got = settle(w)
    assert len([1 for x in got if x[0] in (q1, q2)]) == 3
    assert len(os.listdir(os.path.dirname(w.pf.maillog))) >= 2    # it did rotate


def test_restart_continues_where_it_stopped(world):
    w = world
    assert w.logd.stop() == 0
    with open(w.state) as f:
        ino, off = f.read().split()
    assert int(ino) == os.stat(w.pf.maillog).st_ino
    q = send(w, ["s1@accept.test", "s2@accept.test"])
    harness.wait_for(lambda: len([1 for x in log_lines(w) if x[0] == q]) == 2, 30, "deliveries")
    w.logd = start_logd(w)
    got = settle(w)
    assert len([1 for x in got if x[0] == q]) == 2
    # and once more after a rotation while it was down: the old file is
    # found by its inode (not when compressed: see doc/logd.md)
    w.pf.postconf("maillog_file_compressor=true")
    assert w.logd.stop() == 0
    q2 = send(w, ["s3@accept.test"])
    harness.wait_for(lambda: len([1 for x in log_lines(w) if x[0] == q2]) == 1, 30, "delivery")
    w.pf.cmd("logrotate")
    q3 = send(w, ["s4@accept.test"])
    harness.wait_for(lambda: len([1 for x in log_lines(w) if x[0] == q3]) == 1, 30, "delivery")
    w.logd = start_logd(w)
    settle(w)


def all_events(w, typ):
    raw = subprocess.run(["redis-cli", "-s", w.redis.sock, "--json", "XRANGE", keys.key("events"),
                          "-", "+"], capture_output=True, text=True, check=True).stdout
    out = [dict(zip(f[::2], f[1::2])) for _id, f in json.loads(raw or "[]")]
    return [e for e in out if e.get("type") == typ]


def test_google_rate_limit_text_declares_a_block_that_ends_after_deliveries(world):
    w = world
    q = send(w, ["x1@fake.test", "x2@fake.test", "x3@fake.test"])
    start = harness.wait_for(lambda: all_events(w, "block-start"), 30, "block-start event")[0]
    assert start["provider"] == "fake" and start["class"] == "rate-limited", start
    assert start["source"] == "shop1.mall.test" or start["source"].endswith("mall.test"), start
    assert "4.7.28" in start["reply"] and int(start["count"]) >= 3
    key = keys.key("block", "fake", start["source"])
    state = w.redis.cli("HGETALL", key).split("\n")
    state = dict(zip(state[::2], state[1::2]))
    assert state["class"] == "rate-limited" and state["set_by"] == "sluice-logd", state
    assert 0 < int(w.redis.cli("TTL", key)) <= 3600
    fake = [e for e in events(w) if e["queue_id"] == q]
    assert {e["result"] for e in fake} == {"deferred"}
    assert {e["provider"] for e in fake} == {"fake"}
    # 421 closes the session: the first recipient has the reply, the others a lost connection
    assert {e["class"] for e in fake if e["recipient"] == "x1@fake.test"} == {"rate-limited"}
    assert {e["class"] for e in fake if e["recipient"] != "x1@fake.test"} == {"other"}
    # the provider lifts it; after the quiet period a delivery ends the block
    w.fake.refusing = False
    time.sleep(1.2)
    w.pf.flush()
    end = harness.wait_for(lambda: all_events(w, "block-end"), 60, "block-end event")[0]
    assert end["provider"] == "fake" and end["why"] == "quiet", end
    assert w.redis.cli("EXISTS", key) == "0"
    assert len(all_events(w, "block-start")) == 1
    # the operator's block_command ran at the start and at the end
    lines = harness.wait_for(lambda: os.path.exists(w.alerts) and
                             len(open(w.alerts).read().splitlines()) == 2 and
                             open(w.alerts).read().splitlines(), 10, "two alerts")
    assert lines[0].startswith("start fake %s rate-limited " % start["source"]), lines
    assert lines[1].startswith("end fake %s" % start["source"]) and lines[1].endswith("quiet")
    harness.wait_for(lambda: len([e for e in events(w) if e["queue_id"] == q
                                  and e["result"] == "delivered"]) == 3, 30, "deliveries")


def ctl(w, *args):
    return subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_sluicectl_sets_lists_and_clears_a_block(world):
    w = world
    r = ctl(w, "block", "set", "google", "news.shop1.mall.test", "--class", "reputation",
            "--ttl", "600", "--reason", "ticket 42")
    assert r.returncode == 0, r.stderr
    key = keys.key("block", "google", "news.shop1.mall.test")
    assert w.redis.cli("HGET", key, "class") == "reputation"
    assert w.redis.cli("HGET", key, "set_by") == "sluicectl"
    assert 0 < int(w.redis.cli("TTL", key)) <= 600
    rows = [l.split() for l in ctl(w, "block", "list").stdout.splitlines()]
    assert ["google", "news.shop1.mall.test", "reputation"] == [x for x in rows if
                                                                 x[0] == "google"][0][:3]
    assert ctl(w, "block", "clear", "google", "news.shop1.mall.test").returncode == 0
    assert w.redis.cli("EXISTS", key) == "0"
    ends = [e for e in all_events(w, "block-end") if e["source"] == "news.shop1.mall.test"]
    assert ends and ends[-1]["reply"] == "cleared"
    for bad in (["block", "set", "Google!", "x.test"], ["block", "set", "google", "a b"],
                ["block", "set", "google", "x.test", "--class", "nonsense"],
                ["block", "set", "google", "x.test", "--ttl", "0"]):
        assert ctl(w, *bad).returncode == 64, bad


def test_redis_outage_buffers_events_and_loses_none(world):
    w = world
    q = send(w, ["o1@accept.test", "o2@defer.test"])
    harness.wait_for(lambda: re.search(r"%s: to=<o2@defer.test>.*status=deferred" % q,
                                       w.pf.log()), 30, "a first deferral")
    settle(w)
    w.redis.cli("SAVE")                 # the restarted server loads it (same --dir)
    w.redis.stop()
    before = len([1 for x in log_lines(w) if x[0] == q])
    harness.wait_for(lambda: len([1 for x in log_lines(w) if x[0] == q]) >= before + 2, 40,
                     "two more deferrals while Redis is down")
    assert w.logd.alive()
    w.redis.start()
    stop_retries(w, q)
    got = settle(w, timeout=30)
    assert len([1 for x in got if x[0] == q]) >= 4
    w.logd.wait_output("events wait in memory")


def test_parse_prints_the_events_of_the_log(world):
    w = world
    logdir = os.path.dirname(w.pf.maillog)
    text = ""
    for name in sorted(n for n in os.listdir(logdir) if n != "maillog") + ["maillog"]:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(os.path.join(logdir, name), "rt", errors="replace") as f:
            text += f.read()
    r = subprocess.run([logd_binary(), "--parse", "-"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    evs = [json.loads(l) for l in r.stdout.splitlines()]
    assert evs and all(e["result"] in ("delivered", "deferred", "bounced", "expired") for e in evs)
    # the same events as in Redis, line for line (Redis also has the unattributed ones left out)
    ours = sorted((e["queue_id"], e["recipient"], e["result"]) for e in evs if e["queue_id"] in w.qids)
    assert ours == event_keys(w)
    assert "0 malformed" in r.stderr


def test_check_config(world):
    w = world
    r = subprocess.run([logd_binary(), "-n", "-c", w.conf], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    bad = w.env.file("bad-logd.conf", 'logd { queue_max = 0  state_file = "rel" '
                     'provider "Bad Name" { domains = {"x.test"} } }\n')
    r = subprocess.run([logd_binary(), "-n", "-c", bad], capture_output=True, text=True)
    assert r.returncode == 1
    for what in ("queue_max", "state_file", "Bad Name"):
        assert what in r.stderr, r.stderr

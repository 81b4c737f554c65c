"""
NAME
    test_logd_reactions - sluice-policyd reacting to the blocks sluice-logd declares

DESCRIPTION
    One world: redis-server, sluice-milter (tenant shop1, SASL user alice),
    sluice-logd following the maillog, sluice-policyd at RCPT, a throwaway
    Postfix, and these next hops:
      - smtp-sink "ok", the relayhost (provider "other");
      - two fake providers (small SMTP servers in this process) reached
        through transport_maps: fake.test (provider "fake", reaction
        defer) and fake2.test (provider "fake2", reaction filter to the
        master.cf service "alt");
      - smtp-sink "alt", reached by alt (smtp_bind_address 127.0.0.2), the
        switch transport.
    Each fake provider answers Google's 421-4.7.28 text until told not to;
    sluice-logd declares the block; sluice-policyd then defers (fake) or
    re-routes (fake2) new mail to that provider only, while mail to other
    providers goes on as before; after redis-cli DEL the traffic resumes
    along the ramp (one recipient at first, all once the ramp is over).
"""
import os
import re
import smtplib
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

import conftest
import harness
import keys
from milter_helpers import start_milter, write_conf
from test_logd_postfix import FakeHandler, FakeProvider, all_events

CONF = """
log_level = "info"
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
policyd {
  listen = { "unix:%(policy)s" }
  timeout = 5000          # not the 100 ms default, which fails open on a loaded machine (test_policyd_util)
  socket_mode = "0666"
  poll_interval = 100
  block_reaction "fake" { mode = "defer" retry = 300 }
  block_reaction "fake2" { mode = "filter" transport = "alt:[127.0.0.1]:%(alt)d" }
  block_ramp = %(ramp)d
  block_ramp_start = 1
  block_ramp_step = 3600
  limit "warmup" {
    key = '${sending_domain}'
    match = 'recipient_provider=fake3'
    window = "day"
    schedule = "3,6,12"
    schedule_start = "%(today)s"
    unit = "recipients"
  }
}
logd {
  log_file = "%(maillog)s"
  state_file = "%(state)s"
  poll_interval = 50
  block_threshold = 3
  block_window = 600
  block_quiet = 3600
  provider "fake" { domains = {"fake.test"} }
  provider "fake2" { domains = {"fake2.test"} }
  provider "fake3" { domains = {"fake3.test"} }
  metrics_listen = "127.0.0.1:%(metrics)d"
}
"""

RAMP = 15        # seconds of ramp after a block ends
# block_quiet is an hour: the blocks here end only when a test lifts them by
# hand. With a short one, a delivery through the filter transport (z1 at
# alt, a retried x1 once the fake accepts) ended the block by itself when
# it came a second after the last refusal, a matter of load.


def day(offset):
    """YYYYMMDD of today (UTC, policyd's time_zone) plus offset days."""
    return time.strftime("%Y%m%d", time.gmtime(time.time() + offset * 86400))


class World:
    pass


def fake_server():
    srv = FakeProvider(("127.0.0.1", 0), FakeHandler)
    srv.refusing = True
    srv.accepted = 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture(scope="module")
def world():
    conftest.require_root()
    env = harness.Env("logd-reactions")
    w = World()
    try:
        w.env = env
        w.redis = env.redis()
        w.ok = env.sink()
        w.alt = env.sink()
        w.fake, w.fake2 = fake_server(), fake_server()
        transport = env.file("transport", "fake.test smtp:[127.0.0.1]:%d\n"
                             "fake2.test smtp:[127.0.0.1]:%d\n"
                             % (w.fake.server_address[1], w.fake2.server_address[1]))
        maillog = os.path.join(env.dir, "postfix", "log", "maillog")
        w.state = os.path.join(env.dir, "logd.state")
        w.policy = os.path.join(env.dir, "policy.sock")
        w.metrics_port = harness.free_port()
        w.blocks_declared = 0
        w.conf, sock = write_conf(env, CONF % {
            "secret": env.secret(), "maillog": maillog, "state": w.state, "policy": w.policy,
            "alt": w.alt.port, "ramp": RAMP, "today": day(0),
            "metrics": w.metrics_port}, redis=w.redis)
        w.milter, spec = start_milter(env, w.conf, sock)
        w.policyd = env.daemon("sluice-policyd", [harness.program("policyd", "sluice-policyd"),
                                                   "-f", "-c", w.conf],
                               ready=lambda: harness.can_connect(w.policy))
        w.pf = env.postfix(relay=w.ok, milter=spec, policy="unix:" + w.policy,
                           sasl_users={"alice": "alicepw"},
                           main={"transport_maps": "texthash:" + transport},
                           master=["alt/unix=alt unix - - n - - smtp "
                                   "-o smtp_bind_address=127.0.0.2"])
        harness.wait_for(lambda: os.path.exists(maillog), what="maillog")
        w.logd = env.daemon("sluice-logd", [harness.program("logd", "sluice-logd"), "-f", "-c",
                                            w.conf], ready=lambda: os.path.exists(w.state))
        yield w
    finally:
        env.close()
        for s in ("fake", "fake2"):
            if getattr(w, s, None):
                getattr(w, s).shutdown()


def send(w, rcpts):
    """One message from alice; returns {rcpt: (code, text)} of the refused ones."""
    subject = "t-" + uuid.uuid4().hex[:12]
    text = ("From: Shop <news@shop1.mall.test>\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s@client.test>\r\n\r\nHello.\r\n" % (rcpts[0], subject, subject))
    try:
        refused = w.pf.send("news@shop1.mall.test", rcpts, text.encode(), auth=("alice", "alicepw"))
    except smtplib.SMTPRecipientsRefused as e:
        refused = e.recipients
    return {k: (c, t.decode()) for k, (c, t) in refused.items()}


def block_of(w, provider, srv):
    """Let the fake provider refuse three recipients: sluice-logd declares the block."""
    assert send(w, ["x1@%s" % srv, "x2@%s" % srv, "x3@%s" % srv]) == {}
    start = harness.wait_for(lambda: [e for e in all_events(w, "block-start")
                                      if e["provider"] == provider], 40, "block-start")[0]
    assert start["source"] == "shop1.mall.test", start
    assert start["class"] == "rate-limited"
    w.blocks_declared += 1
    key = keys.key("block", provider, "shop1.mall.test")
    assert w.redis.cli("SISMEMBER", keys.key("blocks"), "%s:shop1.mall.test" % provider) == "1"
    return key


def client_addr(sink, rcpt):
    """The address the sink saw the message to rcpt come from (smtp-sink's X-Client-Addr)."""
    for path in sink.files():
        data = open(path, "rb").read()
        if ("<%s>" % rcpt).encode() in data.split(b"\n\n")[0] or rcpt.encode() in data[:2000]:
            for line in data.split(b"\n"):
                if line.startswith(b"X-Client-Addr:"):
                    return line.split(b":", 1)[1].strip().decode()
    return None


def in_force(w, provider):
    """Wait until sluice-policyd has the block in memory (it logs it)."""
    harness.wait_for(lambda: "provider block in force: %s:shop1.mall.test" % provider
                     in w.policyd.output(), 20, "policyd sees the block")


def ramping(w, provider):
    """Wait until the block is gone and sluice-policyd ramps up (one ramp for every node)."""
    member = "%s:shop1.mall.test" % provider
    harness.wait_for(lambda: w.redis.cli("ZSCORE", keys.key("ramps"), member), 10, "the ramp")
    harness.wait_for(lambda: "ramping up: " + member in w.policyd.output(), 10,
                     "policyd ramping up")


def delivered_to(sink, rcpt):
    return [env for env, _raw in sink.messages() if rcpt in env["rcpts"]]


def test_defer_mode_holds_back_that_provider_only(world):
    w = world
    key = block_of(w, "fake", "fake.test")
    in_force(w, "fake")
    # new mail to fake.test is deferred at RCPT
    refused = send(w, ["y1@fake.test"])
    code, text = refused["y1@fake.test"]
    assert code == 450 and text.startswith("4.7.1 ") and "Mail to fake is held back" in text, refused
    assert "try again in" in text
    # the same sender's mail to another provider flows unchanged (also in one message)
    refused = send(w, ["other1@accept.test", "y2@fake.test"])
    assert list(refused) == ["y2@fake.test"], refused
    w.ok.wait(1)
    env = harness.wait_for(lambda: delivered_to(w.ok, "other1@accept.test"), 30, "delivery")[0]
    assert env["mail_from"].endswith("@shop1.mall.test")
    # the block is lifted by hand: the traffic resumes along the ramp
    w.fake.refusing = False
    assert w.redis.cli("DEL", key) == "1"
    ramping(w, "fake")
    listed = subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf, "block", "list"],
                            capture_output=True, text=True, timeout=30).stdout
    assert "ramping up after a block" in listed and "fake:shop1.mall.test" in listed, listed
    refused = send(w, ["r1@fake.test", "r2@fake.test", "r3@fake.test", "r4@fake.test"])
    assert sorted(refused) == ["r2@fake.test", "r3@fake.test", "r4@fake.test"], refused
    assert all(c == 450 and "while delivery resumes after a block" in t
               for c, t in refused.values()), refused
    # the ramp ends after block_ramp seconds: everything passes again
    harness.wait_for(lambda: send(w, ["s1@fake.test", "s2@fake.test"]) == {}, RAMP + 20,
                     "the end of the ramp")
    assert w.redis.cli("ZSCORE", keys.key("ramps"), "fake:shop1.mall.test") == ""
    harness.wait_for(lambda: w.fake.accepted >= 2, 60, "mail at the fake provider again")


def test_filter_mode_switches_that_provider_to_the_other_transport(world):
    w = world
    key = block_of(w, "fake2", "fake2.test")
    before = w.fake2.accepted
    in_force(w, "fake2")
    # accepted at RCPT (FILTER alt:...), delivered by the alt transport from 127.0.0.2
    assert send(w, ["z1@fake2.test"]) == {}
    env = harness.wait_for(lambda: delivered_to(w.alt, "z1@fake2.test"), 30, "z1 at alt")[0]
    assert env["mail_from"].endswith("@shop1.mall.test")
    assert client_addr(w.alt, "z1@fake2.test") == "127.0.0.2"
    assert w.fake2.accepted == before
    # mail to another provider still leaves through the normal route
    assert send(w, ["other2@accept.test"]) == {}
    harness.wait_for(lambda: delivered_to(w.ok, "other2@accept.test"), 30, "other2 at ok")
    assert not delivered_to(w.alt, "other2@accept.test")
    # lifted: during the ramp the first recipient goes the normal way, the rest still via alt
    w.fake2.refusing = False
    assert w.redis.cli("DEL", key) == "1"
    ramping(w, "fake2")
    for r in ("q1@fake2.test", "q2@fake2.test"):
        assert send(w, [r]) == {}
    harness.wait_for(lambda: delivered_to(w.alt, "q2@fake2.test"), 30, "q2 at alt")
    assert not delivered_to(w.alt, "q1@fake2.test")
    harness.wait_for(lambda: re.search(r"to=<q1@fake2.test>, relay=127.0.0.1\[127.0.0.1\]:%d,.*"
                                       r"status=sent" % w.fake2.server_address[1], w.pf.log()),
                     60, "q1 at fake2")


def test_warmup_schedule_caps_the_day_and_rises_the_next(world):
    w = world
    rcpts = ["w%d@fake3.test" % i for i in range(5)]
    refused = send(w, rcpts)
    # day 0 of the schedule: 3 recipients for shop1.mall.test at provider fake3
    assert sorted(refused) == rcpts[3:], refused
    assert all(c == 450 and "Rate limit exceeded (warmup)" in t for c, t in refused.values())
    # other providers and other limits are not touched
    assert send(w, ["warm-other@accept.test"]) == {}
    used = w.redis.cli("GET", keys.key("quota", "warmup", day(0), "shop1.mall.test"))
    assert used == "3", used
    # the next (simulated) day: the schedule started yesterday, so today is day 1: 6
    w.redis.cli("HSET", keys.key("limit", "warmup"), "schedule_start", day(-1))
    harness.wait_for(lambda: send(w, [rcpts[3]]) == {}, 10, "the day-1 figure in force")
    refused = send(w, rcpts[4:] + ["w5@fake3.test", "w6@fake3.test"])
    assert sorted(refused) == ["w6@fake3.test"], refused
    assert w.redis.cli("GET", keys.key("quota", "warmup", day(0), "shop1.mall.test")) == "6"
    # a block on a day holds the schedule: sluice-policyd notes the day in holds ...
    ctl = lambda *a: subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf] + list(a),
                                    capture_output=True, text=True, timeout=30)
    assert ctl("block", "set", "fake3", "shop1.mall.test", "--ttl", "600").returncode == 0
    harness.wait_for(lambda: day(0) in w.redis.cli("HGET", keys.key("holds"), "shop1.mall.test"),
                     20, "today noted as a day with a block")
    assert ctl("block", "clear", "fake3", "shop1.mall.test", "--no-ramp").returncode == 0
    # ... and such a day before today does not count: started 2 days ago with yesterday
    # held, today is day 1 (6, all used), not day 2 (12)
    w.redis.cli("HSET", keys.key("holds"), "shop1.mall.test", day(-1))
    w.redis.cli("HSET", keys.key("limit", "warmup"), "schedule_start", day(-2))
    refused = harness.wait_for(lambda: send(w, ["w7@fake3.test"]) or None, 20,
                               "the held schedule's day-1 figure")
    assert "Rate limit exceeded (warmup)" in refused["w7@fake3.test"][1]
    w.redis.cli("HDEL", keys.key("holds"), "shop1.mall.test")
    harness.wait_for(lambda: send(w, ["w8@fake3.test"]) == {}, 20, "day 2 without the hold")
    # a bad schedule written by hand is refused by sluicectl and ignored by policyd
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf, "limits", "set",
                        "warmup", "schedule=3,,6"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 65, (r.returncode, r.stderr)
    assert "schedule" in r.stderr


def test_policyd_check_refuses_bad_reactions(world):
    w = world
    bad = w.env.file("bad-react.conf", 'policyd { listen = { "unix:/tmp/x.sock" }\n'
                     ' block_reaction "google" { mode = "switch" }\n'
                     ' block_reaction "yahoo" { mode = "filter" transport = "no colon" }\n'
                     ' block_ramp_start = 0 }\n')
    r = subprocess.run([harness.program("policyd", "sluice-policyd"), "-n", "-c", bad],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    for what in ('mode "switch"', "mode filter needs transport", "block_ramp_start"):
        assert what in r.stderr, r.stderr


def metrics(w, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (w.metrics_port, path),
                                timeout=30) as r:
        return r.read().decode()


def series(text, name):
    """{labels: value} of one metric family."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, value = line[len(name):].rsplit(" ", 1)
            out[labels] = float(value)
    return out


def test_logd_metrics_count_deliveries_per_provider_and_blocks(world):
    w = world
    key = '{provider="other",result="delivered"}'
    before = series(metrics(w), "sluice_logd_deliveries_total").get(key, 0)
    assert send(w, ["metrics1@accept.test", "metrics2@accept.test"]) == {}
    harness.wait_for(lambda: series(metrics(w), "sluice_logd_deliveries_total").get(key, 0)
                     >= before + 2, 30, "two more deliveries on /metrics")
    text = metrics(w)
    assert "# TYPE sluice_logd_deliveries_total counter" in text
    assert series(text, "sluice_logd_lines_total")['{kind="read"}'] > 0
    assert series(text, "sluice_logd_blocks_total")['{change="start"}'] >= w.blocks_declared
    if w.blocks_declared:
        refusals = series(text, "sluice_logd_refusals_total")
        assert any('class="rate-limited"' in k and v > 0 for k, v in refusals.items()), refusals
    assert metrics(w, "/healthz") == "ok\n"
    with pytest.raises(urllib.error.HTTPError) as e:
        metrics(w, "/nothing")
    assert e.value.code == 404


def test_policyd_follows_a_moved_subdomain(world):
    """After sluicectl subdomain move, a block on the new subdomain is the one that applies."""
    w = world
    ctl = lambda *a: subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf] + list(a),
                                    capture_output=True, text=True, timeout=30)
    assert ctl("subdomain", "move", "tenant", "shop1", "shop1b", "--mx", "mx.mall.test").returncode == 0
    try:
        r = ctl("block", "set", "fake", "shop1b.mall.test", "--class", "reputation", "--ttl", "600")
        assert r.returncode == 0, r.stderr
        harness.wait_for(lambda: "provider block in force: fake:shop1b.mall.test"
                         in w.policyd.output(), 20, "policyd sees the block")
        refused = harness.wait_for(lambda: send(w, ["mv1@fake.test"]) or None, 20,
                                   "a deferral for the moved tenant")
        assert "Mail to fake is held back" in refused["mv1@fake.test"][1]
        # the old subdomain's mail is not what the block names: the milter sends from shop1b
        assert ctl("subdomain", "revert", "tenant", "shop1").returncode == 0
        harness.wait_for(lambda: send(w, ["mv2@fake.test"]) == {}, 20,
                         "no deferral once the tenant is back on shop1")
    finally:
        ctl("subdomain", "revert", "tenant", "shop1")
        ctl("block", "clear", "fake", "shop1b.mall.test")


def test_sluicectl_block_set_and_clear_without_ramp(world):
    """A block set with sluicectl applies; cleared with --no-ramp, mail flows at full speed."""
    w = world
    ctl = lambda *a: subprocess.run([harness.program("ctl", "sluicectl"), "-c", w.conf] + list(a),
                                    capture_output=True, text=True, timeout=30)
    r = ctl("block", "set", "fake", "*", "--class", "blocklist", "--ttl", "600")
    assert r.returncode == 0, r.stderr
    harness.wait_for(lambda: "provider block in force: fake:*" in w.policyd.output(), 20,
                     "policyd sees the provider-wide block")
    refused = send(w, ["nr1@fake.test", "nr-other@accept.test"])
    assert list(refused) == ["nr1@fake.test"], refused
    assert ctl("block", "clear", "fake", "*", "--no-ramp").returncode == 0
    assert w.redis.cli("SISMEMBER", keys.key("blocks"), "fake:*") == "0"
    harness.wait_for(lambda: "provider block and ramp over: fake:*" in w.policyd.output(), 20,
                     "policyd drops it")
    assert send(w, ["nr%d@fake.test" % i for i in range(2, 6)]) == {}
    assert w.redis.cli("ZSCORE", keys.key("ramps"), "fake:*") == ""

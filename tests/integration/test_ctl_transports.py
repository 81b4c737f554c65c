"""
NAME
    test_ctl_transports - marketing and transactional mail leave through their own transports

DESCRIPTION
    sluicectl transports prints the Postfix lines of the config's
    per-category transports; the test installs exactly those lines in a
    throwaway Postfix (map as texthash, master.cf services with
    smtp_bind_address 127.0.0.2 and 127.0.0.3), sends one message of each
    category through sluice-milter, and checks at two sinks the address
    each message came from, and that a message of a category without a
    transport leaves by the default route.
"""
import subprocess
import uuid

import pytest

import conftest
import harness
from milter_helpers import start_milter, write_conf

CONF = """
secret_file = "%(secret)s"
domain "mall.test" { default_category = "transactional" }
category "transactional" { subdomain = "mail" transport = "smtp-mail" }
category "marketing" { subdomain = "news" transport = "smtp-news" }
category "other" { subdomain = "misc" }
transport "smtp-mail" { bind_address = "127.0.0.2" helo_name = "mail-out.mall.test" }
transport "smtp-news" {
  bind_address = "127.0.0.3"
  helo_name = "news-out.mall.test"
}
milter {
  socket = "{socket}"
  socket_mode = "0666"
}
"""


def ctl(conf, *args):
    return subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf] + list(args),
                          capture_output=True, text=True, timeout=30)


def snippet(out):
    """(main.cf parameter, map text, master.cf lines for postconf -M) from the output."""
    main, rest = out.split("\n\n", 1)
    param = [l for l in main.splitlines() if not l.startswith("#")][0]
    maptext, master = rest.split("# master.cf\n", 1)
    master = master.split("\n\n")[0]
    services = []
    for line in master.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(" "):
            services[-1] += " " + line.strip()
        else:
            f = line.split()
            services.append("%s/%s=%s" % (f[0], f[1], " ".join(f)))
    return param, "\n".join(l.split("#")[0] for l in maptext.splitlines()) + "\n", services


@pytest.fixture(scope="module")
def world():
    conftest.require_root()
    env = harness.Env("ctl-transports")
    try:
        redis = env.redis()
        conf, sock = write_conf(env, CONF % {"secret": env.secret()}, redis=redis)
        r = ctl(conf, "transports")
        assert r.returncode == 0, r.stderr
        param, maptext, services = snippet(r.stdout)
        assert param == ("sender_dependent_default_transport_maps = "
                         "hash:/etc/postfix/sluice_transport")
        mapfile = env.file("sluice_transport", maptext)
        milter, spec = start_milter(env, conf, sock)
        sink = env.sink()
        pf = env.postfix(relay=sink, milter=spec, master=services, main={
            "sender_dependent_default_transport_maps": "texthash:" + mapfile})
        yield env, conf, pf, sink, r.stdout
    finally:
        env.close()


def client_addr(sink, rcpt):
    """The address smtp-sink saw the message to rcpt come from, and its HELO."""
    for path in sink.files():
        with open(path, "rb") as f:
            data = f.read()
        head = data.split(b"\n\n")[0].decode("latin-1")
        if "<%s>" % rcpt in head or rcpt in head:
            addr = [l.split(":", 1)[1].strip() for l in head.splitlines()
                    if l.startswith("X-Client-Addr:")]
            helo = [l.split(":", 1)[1].strip() for l in head.splitlines()
                    if l.startswith("X-Helo-Args:")]
            return (addr or [None])[0], (helo or [None])[0]
    return None


def send(pf, category, rcpt):
    subject = uuid.uuid4().hex[:10]
    text = ("From: Shop <info@mall.test>\r\nTo: %s\r\nSubject: %s\r\nX-Sluice-Category: %s\r\n"
            "\r\nHello.\r\n" % (rcpt, subject, category))
    pf.send("info@mall.test", [rcpt], text.encode())


def test_each_category_leaves_from_its_own_address(world):
    env, conf, pf, sink, out = world
    send(pf, "marketing", "m@example.net")
    send(pf, "transactional", "t@example.net")
    send(pf, "other", "o@example.net")
    sink.wait(3)
    got = {r: harness.wait_for(lambda: client_addr(sink, r), 30, r)
           for r in ("m@example.net", "t@example.net", "o@example.net")}
    assert got["m@example.net"] == ("127.0.0.3", "news-out.mall.test"), got
    assert got["t@example.net"] == ("127.0.0.2", "mail-out.mall.test"), got
    assert got["o@example.net"][0] == "127.0.0.1", got      # no transport: the default
    froms = {e["rcpts"][0]: e["mail_from"] for e, _raw in sink.messages()}
    assert froms["m@example.net"].endswith("@news.mall.test")
    assert froms["t@example.net"].endswith("@mail.mall.test")
    # the DNS records each source address needs
    assert "3.0.0.127.in-addr.arpa.\tPTR\tnews-out.mall.test." in out
    assert "mail-out.mall.test.\tA\t127.0.0.2" in out


def test_bad_transport_is_refused(world):
    env = world[0]
    path = env.file("bad-transports.conf", 'domain "x.test" { }\n'
                    'category "c" { subdomain = "c" transport = "smtp news" }\n'
                    'transport "smtp-a" { bind_address = "not-an-ip" }\n')
    r = ctl(path, "transports")
    assert r.returncode == 65, (r.returncode, r.stderr)
    assert 'transport "smtp news"' in r.stderr and '"not-an-ip"' in r.stderr, r.stderr


def test_subdomain_move_replaces_a_burnt_subdomain_in_one_step(world):
    """sluicectl subdomain move: new mail of the category leaves from the new label."""
    env, conf, pf, sink, _out = world
    r = ctl(conf, "subdomain", "plan", "category", "marketing", "news2", "--mx", "mx.mall.test")
    assert r.returncode == 0, r.stderr
    assert "news2.mall.test.\tMX\t10 mx.mall.test." in r.stdout, r.stdout
    assert "@news2.mall.test\tsmtp-news" in r.stdout      # the transport map line to add
    assert "news.mall.test.\tMX" not in r.stdout           # only the new name's records
    assert ctl(conf, "subdomain", "list").stdout.count("\n") == 1   # plan changed nothing
    r = ctl(conf, "subdomain", "move", "category", "marketing", "news2", "--mx", "mx.mall.test")
    assert r.returncode == 0, r.stderr
    assert "category:marketing" in ctl(conf, "subdomain", "list").stdout

    def moved():
        rcpt = "mv-%s@example.net" % uuid.uuid4().hex[:6]
        send(pf, "marketing", rcpt)
        env_ = harness.wait_for(lambda: [e for e, _r in sink.messages() if rcpt in e["rcpts"]],
                                30, rcpt)[0]
        return env_["mail_from"].endswith("@news2.mall.test") and env_
    env_ = harness.wait_for(moved, 20, "marketing mail from news2.mall.test")
    # transactional mail is not moved
    send(pf, "transactional", "t2@example.net")
    t2 = harness.wait_for(lambda: [e for e, _r in sink.messages() if "t2@example.net" in e["rcpts"]],
                          30, "t2")[0]
    assert t2["mail_from"].endswith("@mail.mall.test")
    # bad arguments, then back to the configured label
    for bad in (["subdomain", "move", "category", "nosuch", "x"],
                ["subdomain", "move", "category", "marketing", "Bad_Label"],
                ["subdomain", "move", "category", "marketing", "news2"],      # in force already
                ["subdomain", "move", "colour", "marketing", "x"]):
        assert ctl(conf, *bad).returncode == 64, bad
    assert ctl(conf, "subdomain", "revert", "category", "marketing").returncode == 0

    def back():
        rcpt = "rv-%s@example.net" % uuid.uuid4().hex[:6]
        send(pf, "marketing", rcpt)
        e = harness.wait_for(lambda: [e for e, _r in sink.messages() if rcpt in e["rcpts"]],
                             30, rcpt)[0]
        return e["mail_from"].endswith("@news.mall.test")
    harness.wait_for(back, 20, "marketing mail from news.mall.test again")
    assert env_

"""
NAME
    test_ctl_rotate - sluicectl dkim rotate: publish, switch, retire, with real mail

DESCRIPTION
    example.com's section lives in conf.d/example.com.conf, which
    sluice.conf includes; sluice-milter signs behind a throwaway Postfix,
    and a throwaway dnsmasq on loopback plays the domain's DNS.

    - publish (--selector s2): a new key and its zone-file line; mail is
      still signed with s1 only (the new record may not be out yet).
    - switch is refused while DNS does not carry s2's key (no record, or
      another key), and nothing changes; once dnsmasq serves the record
      read from the .txt zone file, switch signs with s2 and s1 (a grace
      period), both verified by dkimpy after a reload.
    - retire: s2 only, verified against the record in the zone file.
    - a domain written in sluice.conf itself is refused (78): sluicectl
      rewrites only a file holding the section alone.
"""
import os
import signal
import subprocess
import uuid

import harness
from test_ctl_doctor import dnsmasq, zone


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def zone_file(path):
    """The (TXT, owner, strings) records of a .txt file as dkim keygen writes it."""
    with open(path) as f:
        return zone(f.read())


def send_and_get(pf, sink, domain="example.com"):
    subject = "rot-" + uuid.uuid4().hex[:10]
    pf.send("app@" + domain, ["rcpt@remote.test"],
            ("From: App <app@%s>\r\nTo: rcpt@remote.test\r\nSubject: %s\r\n"
             "Message-ID: <%s@app.test>\r\n\r\nHello.\r\n" % (domain, subject, subject)).encode())

    def find():
        for _, raw in sink.messages():
            if ("Subject: " + subject).encode() in raw:
                return raw
        return None
    return harness.wait_for(find, 30, "message %s" % subject)


def reload(milter, count):
    milter.signal(signal.SIGUSR1)
    harness.wait_for(lambda: milter.output().count("configuration reloaded") >= count, 10,
                     "milter reload")


def records_of(*zones):
    return {owner: "".join(value) for z in zones for kind, owner, value in z if kind == "TXT"}


def test_rotate_publish_switch_retire(root_env):
    env = root_env
    keys = os.path.join(env.dir, "keys")
    os.makedirs(keys)
    os.makedirs(os.path.join(env.dir, "conf.d"))
    empty = env.file("empty.conf", "")
    r = ctl(empty, "dkim", "keygen", "--domain", "example.com", "--selector", "s1", "--out", keys)
    assert r.returncode == 0, r.stderr
    s1 = zone_file(os.path.join(keys, "example.com.s1.txt"))
    domain_file = env.file("conf.d/example.com.conf",
                           'domain "example.com" {\n  dkim "s1" { key = "%s/example.com.s1.pem" }\n}\n'
                           % keys)
    redis = env.redis()
    sock = os.path.join(env.dir, "milter.sock")
    conf = env.file("sluice.conf", redis.conf_section() +
                    'secret_file = "%s"\ninclude "conf.d/*.conf"\n'
                    'milter {\n  socket = "unix:%s"\n  socket_mode = "0666"\n}\n'
                    % (env.secret(), sock), 0o600)
    milter = env.daemon("milter", [harness.program("milter", "sluice-milter"), "-f", "-c", conf],
                        ready=lambda: harness.can_connect(sock))
    sink = env.sink()
    pf = env.postfix(relay=sink, milter="unix:" + sock)
    raw = send_and_get(pf, sink)
    assert harness.dkim_verify(raw, records_of(s1)) == [("example.com", "s1", "rsa-sha256", True)]

    # publish: a new key and its record; nothing signs with it yet
    r = ctl(conf, "dkim", "rotate", "example.com", "--selector", "s2")
    assert r.returncode == 0, r.stderr
    assert "s2._domainkey.example.com. 3600 IN TXT" in r.stdout, r.stdout
    s2 = zone_file(os.path.join(keys, "example.com.s2.txt"))
    assert s2 and s2[0][1] == "s2._domainkey.example.com"
    assert "stage=publish new=s2" in open(domain_file).read()
    assert "rotation: publish" in ctl(conf, "dkim", "rotate", "example.com").stdout
    assert ctl(conf, "check", "--no-connect").returncode == 0
    reload(milter, 1)
    raw = send_and_get(pf, sink)
    assert [s[1] for s in harness.dkim_verify(raw, records_of(s1, s2))] == ["s1"]

    # switch refused until DNS carries the new key
    before = open(domain_file).read()
    port = dnsmasq(env, s1, name="dns-old")
    r = ctl(conf, "dkim", "rotate", "example.com", "--switch", "--nameserver", "127.0.0.1:%d" % port)
    assert r.returncode == 65 and "no record" in r.stderr, r
    other = ctl(empty, "dkim", "keygen", "--domain", "example.com", "--selector", "s2",
                "--out", env.dir)
    wrong = [("TXT", "s2._domainkey.example.com", zone(other.stdout)[0][2])]
    port = dnsmasq(env, s1 + wrong, name="dns-wrong")
    r = ctl(conf, "dkim", "rotate", "example.com", "--switch", "--nameserver", "127.0.0.1:%d" % port)
    assert r.returncode == 65 and "another key" in r.stderr, r
    assert open(domain_file).read() == before

    port = dnsmasq(env, s1 + s2, name="dns-new")
    r = ctl(conf, "dkim", "rotate", "example.com", "--switch", "--nameserver", "127.0.0.1:%d" % port)
    assert r.returncode == 0, r.stderr
    assert "stage=switched new=s2 old=s1" in open(domain_file).read()
    reload(milter, 2)
    raw = send_and_get(pf, sink)
    assert sorted(harness.dkim_verify(raw, records_of(s1, s2))) == [
        ("example.com", "s1", "rsa-sha256", True), ("example.com", "s2", "rsa-sha256", True)]

    # retire: the new selector only, verified against the zone file's record
    assert ctl(conf, "dkim", "rotate", "example.com", "--retire").returncode == 0
    assert "sluicectl-rotate" not in open(domain_file).read()
    reload(milter, 3)
    raw = send_and_get(pf, sink)
    assert harness.dkim_verify(raw, records_of(s2)) == [("example.com", "s2", "rsa-sha256", True)]
    r = ctl(conf, "dkim", "rotate", "example.com", "--retire")
    assert r.returncode == 65 and "nothing to retire" in r.stderr


def test_rotate_refuses_section_in_main_file(env):
    keys = os.path.join(env.dir, "keys")
    os.makedirs(keys)
    empty = env.file("empty.conf", "")
    assert ctl(empty, "dkim", "keygen", "--domain", "example.com", "--selector", "s1",
               "--out", keys).returncode == 0
    conf = env.file("sluice.conf", 'domain "example.com" {\n  dkim "s1" { key = "%s/example.com.s1.pem" }\n}\n'
                    'category "news" { }\n' % keys)
    r = ctl(conf, "dkim", "rotate", "example.com", "--selector", "s2")
    assert r.returncode == 78 and "file of its own" in r.stderr, r
    assert not os.path.exists(os.path.join(keys, "example.com.s2.pem"))
    assert "sluicectl-rotate" not in open(conf).read()

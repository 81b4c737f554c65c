"""
NAME
    test_ctl_doctor - sluicectl doctor against a local DNS server (dnsmasq)

DESCRIPTION
    The records printed by "sluicectl dns" are served by a throwaway
    dnsmasq on 127.0.0.1 (its own port, no upstream, stopped by pid);
    "sluicectl doctor --nameserver" must find them all, then name every
    record that is missing or wrong when the zone is broken on purpose,
    and exit 75 when no server answers. Nothing leaves the machine.
"""
import os
import re
import shutil
import subprocess

import pytest

import harness


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def udp_port():
    """A port for dnsmasq, which binds it for UDP and TCP."""
    return harness.free_port(udp=True)


def zone(text):
    """("TXT"|"MX", owner, value) from zone-file lines printed by sluicectl dns."""
    out = []
    for line in text.split("\n"):
        m = re.match(r"^(\S+)\. \d+ IN (TXT|MX) (.*)$", line)
        if not m:
            continue
        if m.group(2) == "TXT":
            out.append(("TXT", m.group(1), re.findall(r'"([^"]*)"', m.group(3))))
        else:
            out.append(("MX", m.group(1), m.group(3).split()[1].rstrip(".")))
    return out


def dnsmasq(env, records, name="dnsmasq"):
    """Serve records (as from zone()) on a fresh loopback port; returns the port."""
    if shutil.which("dnsmasq") is None and not os.path.exists("/usr/sbin/dnsmasq"):
        pytest.skip("dnsmasq (Debian package dnsmasq-base) is not installed")
    port = udp_port()
    argv = ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--port=%d" % port, "--pid-file=", "--local=/example.com/", "--log-facility=-"]
    for kind, owner, value in records:
        if kind == "TXT":
            argv.append("--txt-record=%s,%s" % (owner, ",".join(value)))
        else:
            argv.append("--mx-host=%s,%s,10" % (owner, value))
    env.daemon(name, argv, ready=lambda: dig_ok(port))
    return port


def dig_ok(port):
    r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(port), "@127.0.0.1",
                        "SOA", "example.com"], capture_output=True, text=True)
    return r.returncode == 0


def setup_domain(env):
    keys = os.path.join(env.dir, "keys")
    os.makedirs(keys)
    empty = env.file("empty.conf", "")
    for sel, alg in (("s1", "rsa"), ("e1", "ed25519"), ("other", "rsa")):
        r = ctl(empty, "dkim", "keygen", "--domain", "example.com", "--selector", sel,
                "--algorithm", alg, "--out", keys)
        assert r.returncode == 0, r.stderr
    conf = env.file("sluice.conf", """
domain "example.com" {
  dkim "s1" { algorithm = "rsa-sha256"  key = "%(k)s/example.com.s1.pem" }
  dkim "e1" { algorithm = "ed25519-sha256"  key = "%(k)s/example.com.e1.pem" }
}
category "news" { subdomain = "news" }
tenant "shop42" { subdomain = "shop42" }
""" % {"k": keys})
    r = ctl(conf, "dns", "example.com", "--mx", "mx1.relay.example.net")
    assert r.returncode == 0, r.stderr
    other = ctl(empty, "dkim", "keygen", "--domain", "example.com", "--selector", "x",
                "--out", keys)
    return conf, zone(r.stdout), zone(other.stdout)[0][2]


def results(stdout):
    """{(name, type): status} from doctor's lines."""
    out = {}
    for line in stdout.split("\n"):
        f = line.split()
        if len(f) >= 3 and f[0] in ("ok", "warn", "FAIL", "ERROR"):
            out[(f[1], f[2])] = f[0]
    return out


def test_doctor_all_published(env):
    conf, records, _ = setup_domain(env)
    port = dnsmasq(env, records)
    r = ctl(conf, "doctor", "example.com", "--mx", "mx1.relay.example.net",
            "--nameserver", "127.0.0.1:%d" % port)
    assert r.returncode == 0, r.stdout + r.stderr
    res = results(r.stdout)
    assert len(res) == 6 + 2 * 2 + 1        # 2 selectors x 3 names, MX+SPF x 2 subdomains, DMARC
    assert set(res.values()) == {"ok"}
    assert "11 ok, 0 warnings, 0 failed, 0 lookup errors" in r.stdout


def test_doctor_names_what_is_wrong(env):
    conf, records, other_key = setup_domain(env)
    broken = []
    for kind, owner, value in records:
        if owner == "s1._domainkey.news.example.com":
            value = other_key                                   # someone else's key
        if owner == "e1._domainkey.shop42.example.com":
            continue                                            # not published
        if kind == "MX" and owner == "shop42.example.com":
            value = "mx.elsewhere.example.org"                  # bounces go elsewhere
        if owner == "_dmarc.example.com":
            value = ["v=DMARC1; p=quarantine"]                  # no rua: a warning
        broken.append((kind, owner, value))
    broken.append(("TXT", "news.example.com", ["v=spf1 include:_spf.example.org ~all"]))
    port = dnsmasq(env, broken)
    r = ctl(conf, "doctor", "example.com", "--mx", "mx1.relay.example.net",
            "--nameserver", "127.0.0.1:%d" % port)
    assert r.returncode == 1, r.stdout
    res = results(r.stdout)
    assert res[("s1._domainkey.news.example.com", "TXT")] == "FAIL"
    assert "not the configured key" in r.stdout
    assert res[("e1._domainkey.shop42.example.com", "TXT")] == "FAIL"
    assert res[("shop42.example.com", "MX")] == "FAIL"
    assert res[("news.example.com", "TXT")] == "FAIL" and "several SPF records" in r.stdout
    assert res[("_dmarc.example.com", "TXT")] == "warn" and "p=quarantine" in r.stdout
    assert res[("s1._domainkey.example.com", "TXT")] == "ok"
    assert res[("shop42.example.com", "TXT")] == "ok"
    assert "4 failed" in r.stdout


def test_doctor_dns_unreachable(env):
    conf, _, _ = setup_domain(env)
    r = ctl(conf, "doctor", "example.com", "--mx", "mx1.relay.example.net",
            "--nameserver", "127.0.0.1:%d" % udp_port())
    assert r.returncode == 75, r.stdout + r.stderr
    assert "lookup failed" in r.stdout
    assert ctl(conf, "doctor", "example.com", "--nameserver", "not-an-ip").returncode == 64
    assert ctl(conf, "doctor", "unknown.example", "--mx", "m.example").returncode == 1

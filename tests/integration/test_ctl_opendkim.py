"""
NAME
    test_ctl_opendkim - sluicectl import-opendkim on a real opendkim.conf,
    and the imported Sluice signing as OpenDKIM did

DESCRIPTION
    Keys from opendkim-genkey (RSA, with its .txt record) and openssl
    (Ed25519); an opendkim.conf with a KeyTable and a refile: SigningTable
    holding what has an equivalent (two domains, one with two selectors)
    and what has none (a single sender, a wildcard subdomain, a key whose
    d= is another domain), each of which must be named on standard error
    with its file:line. The imported sections, in a file sluice.conf includes,
    must pass sluice-milter -n, and the milter behind Postfix must sign
    each domain with the same d= and selectors, verified by dkimpy from
    the records opendkim-genkey wrote. The single-key form (Domain,
    Selector, KeyFile) and a missing key file (exit 65, nothing written)
    are checked too.
"""
import os
import re
import subprocess
import uuid

import pytest

import conftest
import harness
from milter_helpers import check_conf, dkim_results, start_milter, write_conf


def sluicectl(*args):
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", "/dev/null"] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def genkey(env, domain, selector):
    """opendkim-genkey's private key (mode 600) and its TXT record value."""
    d = os.path.join(env.dir, "keys", domain)
    os.makedirs(d, exist_ok=True)
    subprocess.run(["opendkim-genkey", "-D", d, "-d", domain, "-s", selector, "-b", "2048"],
                   check=True, capture_output=True)
    key = os.path.join(d, selector + ".private")
    os.chmod(key, 0o600)
    with open(os.path.join(d, selector + ".txt")) as f:
        txt = "".join(re.findall(r'"([^"]*)"', f.read()))
    return key, txt


@pytest.fixture
def site(env):
    """A real OpenDKIM setup: keys, KeyTable, refile SigningTable, opendkim.conf."""
    s = {}
    s["ex_rsa"], s["ex_rsa_txt"] = genkey(env, "example.com", "s2024")
    s["ex_ed"], s["ex_ed_txt"] = harness.dkim_keypair(env, "example-ed", "ed25519")
    s["shop"], s["shop_txt"] = genkey(env, "shop.test", "mail")
    other, _ = genkey(env, "other.test", "o1")
    keytable = env.file("KeyTable", (
        "# name domain:selector:keyfile\n"
        "ex-rsa   example.com:s2024:%s\n"
        "ex-ed    example.com:e2024:%s\n"
        "shop     shop.test:mail:%s\n"
        "other    other.test:o1:%s\n" % (s["ex_rsa"], s["ex_ed"], s["shop"], other)))
    signing = env.file("SigningTable", (
        "# refile: patterns\n"
        "*@example.com     ex-rsa,ex-ed\n"
        "*@shop.test       shop\n"
        "bob@person.test   shop\n"
        "*@*.wild.test     shop\n"
        "*@borrowed.test   other\n"))
    s["conf"] = env.file("opendkim.conf", (
        "Syslog yes\nUMask 007\nMode sv\nCanonicalization relaxed/simple\n"
        "OversignHeaders From\nKeyTable file:%s\nSigningTable refile:%s\n"
        "Socket local:/run/opendkim/opendkim.sock\n" % (keytable, signing)))
    s["signing"] = signing
    return s


def test_import_names_what_it_leaves_out(env, site):
    out = os.path.join(env.dir, "imported.conf")
    rc, stdout, err = sluicectl("import-opendkim", "--out", out, site["conf"])
    assert rc == 1, err                  # something was left out
    for line, what in ((4, "bob@person.test"), (5, r"\*@\*.wild.test"), (6, r"\*@borrowed.test")):
        assert re.search(r"%s:%d: not imported: %s" % (re.escape(site["signing"]), line, what),
                         err), err
    text = open(out).read()
    assert re.search(r'domain "example.com" \{\n  dkim "s2024" \{ algorithm = "rsa-sha256"  key = "%s" \}\n'
                     r'  dkim "e2024" \{ algorithm = "ed25519-sha256"  key = "%s" \}\n\}'
                     % (re.escape(site["ex_rsa"]), re.escape(site["ex_ed"])), text), text
    assert 'domain "shop.test"' in text
    for absent in ("person.test", "wild.test", "borrowed.test", "other.test"):
        assert absent not in text
    # never over an existing file
    rc, _, err = sluicectl("import-opendkim", "--out", out, site["conf"])
    assert rc == 73 and "File exists" in err


def test_imported_sluice_signs_like_opendkim(root_env, site):
    env = root_env
    os.makedirs(os.path.join(env.dir, "conf.d"))
    out = os.path.join(env.dir, "conf.d", "opendkim.conf")
    rc, _, err = sluicectl("import-opendkim", "--out", out, site["conf"])
    assert rc == 1, err
    redis = env.redis()
    # the imported sections stay in their own file, which sluice.conf includes
    base = ('secret_file = "%s"\ninternal_networks = { "127.0.0.0/8" }\n'
            'include "conf.d/*.conf"\n'
            'milter {\n  socket = "{socket}"\n  socket_mode = "0666"\n}\n' % env.secret())
    conf, sock = write_conf(env, base, redis=redis)
    rc, text = check_conf(conf)
    assert rc == 0, text
    milter, spec = start_milter(env, conf, sock)
    sink = env.sink()
    pf = env.postfix(relay=sink, milter=spec)
    records = {"s2024._domainkey.example.com": site["ex_rsa_txt"],
               "e2024._domainkey.example.com": site["ex_ed_txt"],
               "mail._domainkey.shop.test": site["shop_txt"]}
    want = {"example.com": [("example.com", "e2024", "ed25519-sha256", True),
                            ("example.com", "s2024", "rsa-sha256", True)],
            "shop.test": [("shop.test", "mail", "rsa-sha256", True)]}
    for domain, sigs in want.items():
        subject = "od-" + uuid.uuid4().hex[:10]
        pf.send("app@" + domain, ["rcpt@remote.test"],
                ("From: App <app@%s>\r\nTo: rcpt@remote.test\r\nSubject: %s\r\n"
                 "Message-ID: <%s@app.test>\r\n\r\nHello.\r\n" % (domain, subject, subject)).encode())

        def find():
            for _, raw in sink.messages():
                if ("Subject: " + subject).encode() in raw:
                    return raw
            return None
        raw = harness.wait_for(find, 30, "message from %s" % domain)
        assert sorted(dkim_results(raw, records)) == sigs, raw


def test_single_key_form(env):
    key, _ = genkey(env, "one.test", "k1")
    conf = env.file("opendkim-single.conf",
                    "Domain one.test, two.test\nSelector k1\nKeyFile %s\n" % key)
    rc, stdout, err = sluicectl("import-opendkim", conf)
    assert rc == 0, err
    for d in ("one.test", "two.test"):
        assert 'domain "%s" {\n  dkim "k1" { algorithm = "rsa-sha256"  key = "%s" }\n}' % (d, key) \
            in stdout, stdout


def test_missing_key_writes_nothing(env):
    table = env.file("KT", "a a.test:s:%s/nonexistent.private\n" % env.dir)
    signing = env.file("ST", "a.test a\n")
    conf = env.file("od.conf", "KeyTable %s\nSigningTable file:%s\n" % (table, signing))
    out = os.path.join(env.dir, "never.conf")
    rc, _, err = sluicectl("import-opendkim", "--out", out, conf)
    assert rc == 65, err
    assert "%s:1:" % signing in err and "nonexistent.private" in err, err
    assert not os.path.exists(out)


def test_import_one_file_per_domain_for_rotation(env, site):
    """--out-dir: one included file per domain, each one dkim rotate can rewrite."""
    confd = os.path.join(env.dir, "conf.d")
    os.makedirs(confd)
    rc, _, err = sluicectl("import-opendkim", "--out-dir", confd, site["conf"])
    assert rc == 1, err                  # the same entries left out as with --out
    assert sorted(os.listdir(confd)) == ["example.com.conf", "shop.test.conf"]
    assert 'dkim "mail"' in open(os.path.join(confd, "shop.test.conf")).read()
    conf = env.file("sluice.conf", 'include "conf.d/*.conf"\n')
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf, "dkim", "rotate",
                        "example.com"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "signing with: s2024 e2024" in r.stdout or "signing with: e2024 s2024" in r.stdout, r.stdout
    # a second import writes nothing over the first
    rc, _, err = sluicectl("import-opendkim", "--out-dir", confd, site["conf"])
    assert rc == 73 and "exists (nothing written)" in err, err

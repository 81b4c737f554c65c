"""
NAME
    test_ctl_dkim - sluicectl dkim keygen and dns, checked by dkimpy

DESCRIPTION
    Keys made by "sluicectl dkim keygen" (RSA-2048 and Ed25519) sign a
    message with dkimpy (Debian's python3-dkim, an independent
    implementation), and the signature verifies against the TXT record
    sluicectl printed, and against the records "sluicectl dns" computes
    from the key files named in sluice.conf for the domain and its
    category and tenant subdomains. No Redis, no root.
"""
import base64
import os
import re
import stat
import socket
import subprocess
import sys

import harness

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import dkim  # noqa: E402

MESSAGE = (b"From: Alice <alice@example.com>\r\n"
           b"To: bob@example.net\r\n"
           b"Subject: keygen test\r\n"
           b"Date: Wed, 25 Nov 2026 09:00:00 +0000\r\n"
           b"Message-ID: <keygen-1@example.com>\r\n"
           b"\r\n"
           b"Hello, this body is signed.\r\n")


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def txt_records(text):
    """Zone-file TXT lines as {owner without the dot: joined strings}."""
    out = {}
    for line in text.split("\n"):
        m = re.match(r"^(\S+)\. \d+ IN TXT (.*)$", line)
        if m:
            out[m.group(1)] = "".join(re.findall(r'"([^"]*)"', m.group(2)))
    return out


def sign(key_path, domain, selector, algorithm):
    """A DKIM signature made by dkimpy with the private key file."""
    with open(key_path, "rb") as f:
        pem = f.read()
    if algorithm == "ed25519":
        # dkimpy takes the 32-byte seed in base64; the PKCS#8 DER ends with it.
        der = base64.b64decode(b"".join(l for l in pem.split(b"\n") if l and not l.startswith(b"-----")))
        key, alg = base64.b64encode(der[-32:]), b"ed25519-sha256"
    else:
        key, alg = pem, b"rsa-sha256"
    sig = dkim.sign(MESSAGE, selector.encode(), domain.encode(), key, signature_algorithm=alg,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + MESSAGE


def verify(msg, records):
    def dnsfunc(name, timeout=5):
        return records.get(name.decode().rstrip("."), "").encode()
    return dkim.verify(msg, dnsfunc=dnsfunc)


def keygen(env, algorithm, selector, domain="example.com"):
    out = os.path.join(env.dir, "keys")
    os.makedirs(out, exist_ok=True)
    r = ctl(env.file("empty.conf", ""), "dkim", "keygen", "--domain", domain,
            "--selector", selector, "--algorithm", algorithm, "--out", out)
    assert r.returncode == 0, r.stderr
    path = os.path.join(out, "%s.%s.pem" % (domain, selector))
    return path, r.stdout


def test_keygen_rsa_and_ed25519_verify_with_dkimpy(env):
    for algorithm, selector, k in (("rsa", "s2026", "rsa"), ("ed25519", "e2026", "ed25519")):
        path, out = keygen(env, algorithm, selector)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as f:
            assert f.read().startswith("-----BEGIN PRIVATE KEY-----")
        records = txt_records(out)
        name = "%s._domainkey.example.com" % selector
        assert list(records) == [name]
        assert records[name].startswith("v=DKIM1; k=%s; p=" % k)
        assert "key = \"%s\"" % path in out
        msg = sign(path, "example.com", selector, algorithm)
        assert verify(msg, records), algorithm
        # A different key's record must not verify: the check has teeth.
        other, other_out = keygen(env, algorithm, selector + "x")
        wrong = {name: txt_records(other_out)["%sx._domainkey.example.com" % selector]}
        assert not verify(msg, wrong), algorithm
    rsa = txt_records(keygen(env, "rsa", "long")[1])["long._domainkey.example.com"]
    assert len(base64.b64decode(rsa.split("p=")[1])) == 294      # RSA-2048 SubjectPublicKeyInfo


def test_keygen_refuses_to_overwrite_and_bad_args(env):
    path, _ = keygen(env, "rsa", "s1")
    empty = env.file("empty.conf", "")
    before = open(path).read()
    r = ctl(empty, "dkim", "keygen", "--domain", "example.com", "--selector", "s1",
            "--out", os.path.dirname(path))
    assert r.returncode == 73 and "refusing to overwrite" in r.stderr
    assert open(path).read() == before
    for args in (["--domain", "example.com"], ["--selector", "s1"],
                 ["--domain", "Bad Domain", "--selector", "s1"],
                 ["--domain", "example.com", "--selector", "s1", "--algorithm", "dsa"]):
        assert ctl(empty, "dkim", "keygen", *args).returncode == 64, args
    r = ctl(empty, "dkim", "keygen", "--domain", "example.com", "--selector", "s9",
            "--out", os.path.join(env.dir, "no", "such", "dir"))
    assert r.returncode == 73


def test_dns_records_for_domain_and_subdomains(env):
    rsa, _ = keygen(env, "rsa", "s1")
    ed, _ = keygen(env, "ed25519", "e1")
    conf = env.file("sluice.conf", """
domain "example.com" {
  default_category = "news"
  dkim "s1" { algorithm = "rsa-sha256"  key = "%s" }
  dkim "e1" { algorithm = "ed25519-sha256"  key = "%s" }
}
category "news" { subdomain = "news" }
category "tx" { subdomain = "tx" }
category "plain" { }
tenant "shop42" { subdomain = "shop42"  domains = { "example.com" } }
tenant "other" { subdomain = "other"  domains = { "other.example" } }
""" % (rsa, ed))
    r = ctl(conf, "dns", "example.com", "--mx", "mx1.relay.example.net")
    assert r.returncode == 0, r.stderr
    records = txt_records(r.stdout)
    subs = ["news.example.com", "tx.example.com", "shop42.example.com"]
    for d in ["example.com"] + subs:
        for sel, alg in (("s1", "rsa"), ("e1", "ed25519")):
            assert "%s._domainkey.%s" % (sel, d) in records, (sel, d)
            # The milter signs as the subdomain with the domain's keys.
            assert verify(sign(rsa if alg == "rsa" else ed, d, sel, alg), records), (sel, d)
    for d in subs:
        assert "%s. 3600 IN MX 10 mx1.relay.example.net." % d in r.stdout
        assert records[d] == "v=spf1 a:mx1.relay.example.net -all"
    assert "other.example.com" not in r.stdout
    assert records["_dmarc.example.com"] == \
        "v=DMARC1; p=none; rua=mailto:dmarc@news.example.com; adkim=r; aspf=r"
    r = ctl(conf, "dns", "example.com", "--mx", "mx1.relay.example.net", "--rua", "mailto:rua@example.org")
    assert "rua=mailto:rua@example.org;" in txt_records(r.stdout)["_dmarc.example.com"]
    r = ctl(conf, "dns", "unknown.example", "--mx", "mx1.relay.example.net")
    assert r.returncode == 1 and "not configured" in r.stderr
    # each record also as one unsplit line for DNS web forms
    r = ctl(conf, "dns", "example.com", "--mx", "mx1.relay.example.net")
    single = r.stdout.split("single strings", 1)[1]
    assert "news.example.com\tMX\t10 mx1.relay.example.net\n" in single
    assert "s1._domainkey.example.com\tTXT\t%s\n" % records["s1._domainkey.example.com"] in single
    assert "_dmarc.example.com\tTXT\tv=DMARC1; p=none;" in single
    # unqualified names are refused, never printed as "MX 10 vm."
    r = ctl(conf, "dns", "example.com", "--mx", "vm")
    assert r.returncode == 64 and "fully qualified" in r.stderr and "MX" not in r.stdout
    if "." not in socket.getfqdn():
        r = ctl(conf, "dns", "example.com")
        assert r.returncode == 64 and "not fully qualified" in r.stderr
    # the relay's outgoing addresses, or a provider's include, make the SPF record
    r = ctl(conf, "dns", "example.com", "--mx", "mx1.relay.example.net", "--ip4", "192.0.2.10",
            "--ip6", "2001:db8::/64", "--spf-include", "_spf.relay.example.net")
    assert r.returncode == 0, r.stderr
    assert txt_records(r.stdout)["news.example.com"] == \
        "v=spf1 ip4:192.0.2.10 ip6:2001:db8::/64 include:_spf.relay.example.net -all"
    for bad in (["--ip4", "300.1.1.1"], ["--ip6", "192.0.2.1"], ["--ip4", "192.0.2.0/33"],
                ["--spf-include", "relay"]):
        r = ctl(conf, "dns", "example.com", "--mx", "mx1.relay.example.net", *bad)
        assert r.returncode == 64, bad


def test_dns_reports_unreadable_key(env):
    rsa, _ = keygen(env, "rsa", "s1")
    with open(rsa, "w") as f:
        f.write("not a key\n")
    conf = env.file("sluice.conf", 'domain "example.com" {\n  dkim "s1" { key = "%s" }\n}\n' % rsa)
    r = ctl(conf, "dns", "example.com", "--mx", "mx.example.net")
    assert r.returncode == 1 and "not a PEM private key" in r.stderr
    assert "_dmarc.example.com" in r.stdout


def test_keygen_bits_testing_txt_file_and_owner(env):
    import pwd
    out = os.path.join(env.dir, "keys2")
    os.makedirs(out)
    empty = env.file("empty.conf", "")

    def gen(selector, *extra):
        return ctl(empty, "dkim", "keygen", "--domain", "example.com", "--selector", selector,
                   "--out", out, *extra)
    r = gen("big", "--bits", "3072", "--testing")
    assert r.returncode == 0, r.stderr
    rec = txt_records(r.stdout)["big._domainkey.example.com"]
    assert rec.startswith("v=DKIM1; k=rsa; t=y; p=")
    assert len(base64.b64decode(rec.split("p=")[1])) == 422      # RSA-3072 SubjectPublicKeyInfo
    # the .txt beside the key, as opendkim-genkey writes it: the same record
    txt = open(os.path.join(out, "example.com.big.txt")).read()
    assert txt_records(txt) == {"big._domainkey.example.com": rec}
    key = os.path.join(out, "example.com.big.pem")
    assert verify(sign(key, "example.com", "big", "rsa"), {"big._domainkey.example.com": rec})
    for bad in (["--bits", "1024"], ["--bits", "lots"], ["--bits", "8192"],
                ["--algorithm", "ed25519", "--bits", "3072"]):
        r = gen("b" + str(len(bad)) + bad[-1], *bad)
        assert r.returncode == 64, (bad, r.stderr)
    assert "1024-bit RSA is too weak" in gen("weak", "--bits", "1024").stderr
    assert not os.path.exists(os.path.join(out, "example.com.weak.pem"))
    r = gen("nouser", "--owner", "sluice-no-such-user")
    assert r.returncode == 64 and "no such user" in r.stderr
    assert not os.path.exists(os.path.join(out, "example.com.nouser.pem"))
    if os.geteuid() == 0:
        r = gen("svc", "--owner", "nobody")
        assert r.returncode == 0, r.stderr
        st = os.stat(os.path.join(out, "example.com.svc.pem"))
        assert st.st_uid == pwd.getpwnam("nobody").pw_uid and stat.S_IMODE(st.st_mode) == 0o600

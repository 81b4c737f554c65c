"""
NAME
    test_ctl_token - sluicectl token decode/encode against lib/token.c

DESCRIPTION
    Tokens are made two ways: by lib/token.c (through the hidden
    "sluicectl token encode") and by an independent Python rendering of
    the format in doc/tokens.md (HMAC-SHA256, truncated, base32). decode
    must accept both in every form (local part, address, URL token,
    unsubscribe URL), survive a case change, and exit 1 on a forged or
    altered token. No Redis is needed.
"""
import base64
import hashlib
import hmac
import os
import subprocess

import harness


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def b36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        out = digits[n % 36] + out
        n //= 36
        if n == 0:
            return out


def py_local(secret, kind, cat, tenant, day, msgid):
    """The local-part token, written from the format description."""
    fields = "%s1-%s-%s-%s-%s" % (kind, cat, tenant or "_", b36(day), msgid)
    mac = hmac.new(secret, fields.encode(), hashlib.sha256).digest()
    return fields + "-" + base64.b32encode(mac).decode()[:12].lower()


def py_url(secret, kind, cat, tenant, day, msgid, rcpt):
    payload = "%s1-%s-%s-%s-%s-%s" % (kind, cat, tenant or "_", b36(day), msgid, rcpt)
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    b64 = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return b64 + "." + base64.b32encode(mac).decode()[:16].lower()


def start(env):
    path = env.secret()
    with open(path, "rb") as f:
        secret = f.read().rstrip(b"\r\n")
    conf = env.file("sluice.conf", 'secret_file = "%s"\n' % path)
    return conf, secret


def fields(out):
    return dict(line.split(": ", 1) for line in out.strip().split("\n"))


def test_decode_python_made_tokens(env):
    conf, secret = start(env)
    local = py_local(secret, "b", "marketing", "shop42", 20417, "a7x2m9qd")
    for form in (local, local + "@news.example.com", "<%s@news.example.com>" % local, local.upper()):
        r = ctl(conf, "token", "decode", form)
        assert r.returncode == 0, (form, r.stdout, r.stderr)
        f = fields(r.stdout)
        assert f == {"form": "address", "kind": "bounce", "category": "marketing",
                     "tenant": "shop42", "day": "20417 (2025-11-25)", "msgid": "a7x2m9qd"}
    url = py_url(secret, "u", "news", "", 20000, "bcdefgh2", "Some.One+x@example.com")
    for form in (url, "https://unsub.example.com/u/" + url, "https://unsub.example.com/?t=" + url + "&x=1"):
        r = ctl(conf, "token", "decode", form)
        assert r.returncode == 0, (form, r.stdout, r.stderr)
        f = fields(r.stdout)
        assert f["form"] == "url" and f["kind"] == "unsubscribe" and f["tenant"] == "-"
        assert f["recipient"] == "Some.One+x@example.com"


def test_decode_rejects_forgeries(env):
    conf, secret = start(env)
    local = py_local(secret, "b", "marketing", "shop42", 20417, "a7x2m9qd")
    forged = py_local(b"another secret of 32 bytes......", "b", "marketing", "shop42", 20417, "a7x2m9qd")
    altered = local.replace("shop42", "shop43")
    for bad in (forged, altered, local[:-1] + ("a" if local[-1] != "a" else "b")):
        r = ctl(conf, "token", "decode", bad)
        assert r.returncode == 1, bad
        assert "does not verify" in r.stdout and "MAC" in r.stderr
    for bad in ("hello", "b1-x-y", "zz@example.com", "abc.def"):
        r = ctl(conf, "token", "decode", bad)
        assert r.returncode == 1, bad
        assert "malformed" in r.stdout
    url = py_url(secret, "u", "news", "", 20000, "bcdefgh2", "a@example.com")
    assert ctl(conf, "token", "decode", url[:-1] + ("a" if url[-1] != "a" else "b")).returncode == 1


def test_encode_matches_the_format(env):
    conf, secret = start(env)
    r = ctl(conf, "token", "encode", "--category", "news", "--tenant", "shop42", "--kind", "u",
            "--day", "20417", "--msgid", "a7x2m9qd", "--rcpt", "a@example.com")
    assert r.returncode == 0, r.stderr
    local, url = r.stdout.strip().split("\n")
    assert local == py_local(secret, "u", "news", "shop42", 20417, "a7x2m9qd")
    assert url == py_url(secret, "u", "news", "shop42", 20417, "a7x2m9qd", "a@example.com")
    # Defaults: a bounce token of today with a fresh message id, which decodes.
    r = ctl(conf, "token", "encode", "--category", "news")
    token = r.stdout.strip()
    assert token.startswith("b1-news-_-") and len(token) <= 64
    assert fields(ctl(conf, "token", "decode", token).stdout)["msgid"] == token.split("-")[4]
    assert ctl(conf, "token", "encode", "--category", "News!").returncode == 64
    assert ctl(conf, "token", "encode").returncode == 64


def test_secret_needed(env):
    conf = env.file("nosecret.conf", "")
    r = ctl(conf, "token", "decode", "b1-news-_-g1a-abcdefgh-abcdefghijkl")
    assert r.returncode == 78 and "secret_file" in r.stderr
    open_secret = env.file("open.key", os.urandom(24).hex() + "\n", 0o644)
    conf = env.file("open.conf", 'secret_file = "%s"\n' % open_secret)
    r = ctl(conf, "token", "decode", "b1-news-_-g1a-abcdefgh-abcdefghijkl")
    assert r.returncode == 78 and "chmod 600" in r.stderr

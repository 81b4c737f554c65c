"""
NAME
    test_ctl_token - sluicectl token decode/encode and secret init/rotate/list

DESCRIPTION
    Tokens are made two ways: by lib/token.c (through the hidden
    "sluicectl token encode") and by an independent Python rendering of
    the format in doc/tokens.md (token_helpers.py: HMAC-SHA256 truncated
    in base32; AES-256-GCM under HKDF for the URL form). decode must
    accept both in every form (local part, address, URL token,
    unsubscribe URL), survive a case change, and exit 1 on a forged,
    altered, expired or unknown-key token. The keyring is created and
    rotated by sluicectl secret; tokens of a retired key still verify, a
    key removed from the file does not. No Redis is needed.
"""
import os
import pwd
import stat
import subprocess
import time

import harness
import token_helpers as th


def ctl(conf, *args):
    argv = [harness.program("ctl", "sluicectl"), "-c", conf] + [str(a) for a in args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def start(env):
    """A config whose secret_file is the old single raw secret (key 'a')."""
    path = env.secret()
    with open(path, "rb") as f:
        secret = f.read().rstrip(b"\r\n")
    conf = env.file("sluice.conf", 'secret_file = "%s"\n' % path)
    return conf, secret


def fields(out):
    return dict(line.split(": ", 1) for line in out.strip().split("\n"))


def test_decode_python_made_tokens(env):
    conf, secret = start(env)
    day = th.today() - 3
    date = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
    local = th.local(secret, "b", "marketing", "shop42", day, "a7x2m9qd")
    assert local.startswith("b2a-")
    for form in (local, local + "@news.example.com", "<%s@news.example.com>" % local, local.upper()):
        r = ctl(conf, "token", "decode", form)
        assert r.returncode == 0, (form, r.stdout, r.stderr)
        assert fields(r.stdout) == {"form": "address", "kind": "bounce", "version": "2", "key": "a",
                                    "category": "marketing", "tenant": "shop42",
                                    "day": "%d (%s)" % (day, date), "msgid": "a7x2m9qd"}
    url = th.url(secret, "a", "Some.One+x@example.com", tenant="", msgid="bcdefgh2")
    assert "example" not in url.lower()
    for form in (url, "https://unsub.example.com/u/" + url, "https://unsub.example.com/?t=" + url + "&x=1"):
        r = ctl(conf, "token", "decode", form)
        assert r.returncode == 0, (form, r.stdout, r.stderr)
        f = fields(r.stdout)
        assert f["form"] == "url" and f["kind"] == "unsubscribe" and f["tenant"] == "-"
        assert f["recipient"] == "Some.One+x@example.com"


def test_decode_version_1_tokens(env):
    """Mail sent before the upgrade: b1- tokens still verify (version 1, no key)."""
    conf, secret = start(env)
    old = th.local(secret, "b", "marketing", "shop42", th.today(), "a7x2m9qd", version=1)
    assert old.startswith("b1-marketing-")
    r = ctl(conf, "token", "decode", old)
    assert r.returncode == 0, r.stderr
    assert fields(r.stdout)["version"] == "1" and "key" not in fields(r.stdout)
    r = ctl(conf, "token", "encode", "--category", "marketing", "--tenant", "shop42", "--version", "1",
            "--day", th.today(), "--msgid", "a7x2m9qd")
    assert r.stdout.strip() == old


def test_decode_rejects_forgeries(env):
    conf, secret = start(env)
    local = th.local(secret, "b", "marketing", "shop42", None, "a7x2m9qd")
    forged = th.local(b"another secret of 32 bytes......", "b", "marketing", "shop42", None, "a7x2m9qd")
    altered = local.replace("shop42", "shop43")
    for bad in (forged, altered, local[:-1] + ("a" if local[-1] != "a" else "b")):
        r = ctl(conf, "token", "decode", bad)
        assert r.returncode == 1, bad
        assert "does not verify" in r.stdout and "MAC" in r.stderr
    for bad in ("hello", "b1-x-y", "zz@example.com", "abc.def"):
        r = ctl(conf, "token", "decode", bad)
        assert r.returncode == 1, bad
        assert "malformed" in r.stdout
    other_key = th.local(secret, "b", "marketing", "shop42", None, "a7x2m9qd", kid="k")
    r = ctl(conf, "token", "decode", other_key)
    assert r.returncode == 1 and "unknown or retired key" in r.stdout
    url = th.url(secret, "a", "a@example.com")
    assert ctl(conf, "token", "decode", url).returncode == 0
    assert ctl(conf, "token", "decode", url[:-1] + ("A" if url[-1] != "A" else "B")).returncode == 1
    assert ctl(conf, "token", "decode", th.url(b"another secret of 32 bytes......", "a",
                                               "a@example.com")).returncode == 1


def test_decode_expired(env):
    conf, secret = start(env)
    old = th.local(secret, "b", "marketing", "shop42", th.today() - 31, "a7x2m9qd")
    r = ctl(conf, "token", "decode", old)
    assert r.returncode == 1 and fields(r.stdout)["expired"] == "yes", r.stdout
    assert "31 days old" in r.stderr
    assert ctl(conf, "token", "decode", th.local(secret, day=th.today() - 30)).returncode == 0
    longer = env.file("long.conf", 'secret_file = "%s"\ntoken_lifetime_days = 60\n' % env.secret())
    with open(longer) as f:
        path = f.read().split('"')[1]
    with open(path, "rb") as f:
        s2 = f.read().rstrip(b"\n")
    assert ctl(longer, "token", "decode", th.local(s2, day=th.today() - 31)).returncode == 0


def test_encode_matches_the_format(env):
    conf, secret = start(env)
    day = th.today()
    r = ctl(conf, "token", "encode", "--category", "news", "--tenant", "shop42", "--kind", "u",
            "--day", day, "--msgid", "a7x2m9qd", "--rcpt", "a@example.com")
    assert r.returncode == 0, r.stderr
    local, url = r.stdout.strip().split("\n")
    assert local == th.local(secret, "u", "news", "shop42", day, "a7x2m9qd")
    assert url.startswith("u2a.") and "example" not in url
    assert th.open_url(secret, url) == "u2a-news-shop42-%s-a7x2m9qd-a@example.com" % th.b36(day)
    # Defaults: a bounce token of today with a fresh message id, which decodes.
    r = ctl(conf, "token", "encode", "--category", "news")
    token = r.stdout.strip()
    assert token.startswith("b2a-news-_-") and len(token) <= 64
    assert fields(ctl(conf, "token", "decode", token).stdout)["msgid"] == token.split("-")[4]
    assert ctl(conf, "token", "encode", "--category", "News!").returncode == 64
    assert ctl(conf, "token", "encode").returncode == 64


def test_secret_needed(env):
    conf = env.file("nosecret.conf", "")
    r = ctl(conf, "token", "decode", "b2a-news-_-g1a-abcdefgh-abcdefghijkl")
    assert r.returncode == 78 and "secret_file" in r.stderr
    open_secret = env.file("open.key", os.urandom(24).hex() + "\n", 0o644)
    conf = env.file("open.conf", 'secret_file = "%s"\n' % open_secret)
    r = ctl(conf, "token", "decode", "b2a-news-_-g1a-abcdefgh-abcdefghijkl")
    assert r.returncode == 78 and "chmod 600" in r.stderr


def test_secret_init_rotate_list(env):
    """init: mode 600, the service user's; rotate keeps old tokens verifying; removed keys do not."""
    path = os.path.join(env.dir, "keys", "token.key")
    os.makedirs(os.path.dirname(path))
    conf = env.file("ring.conf", 'user = "nobody"\nsecret_file = "%s"\n' % path)
    assert ctl(conf, "token", "decode", "x").returncode == 78     # the file does not exist yet
    r = ctl(conf, "secret", "init")
    assert r.returncode == 0, r.stderr
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == pwd.getpwnam("nobody").pw_uid
    assert ctl(conf, "secret", "init").returncode == 73            # never replaced by accident
    keys, cur = th.read_ring(path)
    assert cur == "a" and len(keys["a"]) == 32
    before = ctl(conf, "token", "encode", "--category", "news").stdout.strip()
    assert before.startswith("b2a-")
    assert th.local(keys["a"], "b", "news", "", th.today(), before.split("-")[4]) == before

    r = ctl(conf, "secret", "rotate")
    assert r.returncode == 0, r.stderr
    assert "current key b" in r.stdout
    st2 = os.stat(path)
    assert stat.S_IMODE(st2.st_mode) == 0o600 and st2.st_uid == st.st_uid
    keys2, cur2 = th.read_ring(path)
    assert cur2 == "b" and keys2["a"] == keys["a"] and keys2["b"] != keys["a"]
    after = ctl(conf, "token", "encode", "--category", "news").stdout.strip()
    assert after.startswith("b2b-")
    assert ctl(conf, "token", "decode", before).returncode == 0     # the retired key still verifies
    assert ctl(conf, "token", "decode", after).returncode == 0
    r = ctl(conf, "secret", "list")
    assert r.returncode == 0
    rows = {line.split()[0]: line for line in r.stdout.strip().split("\n")[1:]}
    assert "current" in rows["b"] and "verifies until" in rows["a"]
    assert keys["a"].hex() not in r.stdout and keys2["b"].hex() not in r.stdout

    # a key retired longer ago than the lifetime is dead, and the next rotation prunes it
    with open(path) as f:
        text = f.read()
    old = int(time.time()) - 40 * 86400
    text = "\n".join(("a %d %d %s" % (old - 86400, old, keys["a"].hex())) if l.startswith("a ") else l
                     for l in text.split("\n"))
    with open(path, "w") as f:
        f.write(text)
    r = ctl(conf, "token", "decode", before)
    assert r.returncode == 1 and "unknown or retired key" in r.stdout
    assert "dead since" in ctl(conf, "secret", "list").stdout
    assert ctl(conf, "secret", "rotate").returncode == 0
    keys3, cur3 = th.read_ring(path)
    assert cur3 == "c" and sorted(keys3) == ["b", "c"]
    assert ctl(conf, "token", "decode", after).returncode == 0


def test_secret_rotate_converts_a_single_secret(env):
    """The old single-secret file becomes a keyring; its secret stays as retired key 'a'."""
    conf, secret = start(env)
    v1 = th.local(secret, "b", "news", "shop1", None, "abcd2345", version=1)
    v2 = th.local(secret, "b", "news", "shop1", None, "abcd2345")
    r = ctl(conf, "secret", "rotate")
    assert r.returncode == 0, r.stderr
    path = open(conf).read().split('"')[1]
    keys, cur = th.read_ring(path)
    assert cur == "b" and keys["a"] == secret
    assert ctl(conf, "token", "decode", v1).returncode == 0
    assert ctl(conf, "token", "decode", v2).returncode == 0


def test_lifetime_option_checked(env):
    path = env.secret()
    for bad in ("0", "366"):
        conf = env.file("life-%s.conf" % bad, 'secret_file = "%s"\ntoken_lifetime_days = %s\n' % (path, bad))
        r = subprocess.run([harness.program("ctl", "sluicectl"), "-n", "-c", conf],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "token_lifetime_days" in r.stderr, (bad, r.stderr)

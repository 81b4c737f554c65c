"""
NAME
    token_helpers - an independent Python rendering of doc/tokens.md

DESCRIPTION
    Tests make and check tokens with this module rather than with
    lib/token.c, so a mistake in the C code cannot hide behind the same
    mistake in the test:
      read_ring(path)              {kid: secret bytes}, current kid
      local(secret, kind, ...)     a local-part token (version 2, or 1)
      url(secret, kid, ...)        a one-click URL token (AES-256-GCM)
      open_url(secret, token)      its plaintext
      rcpt_hash(secret, msgid, a)  the milter's keyed recipient hash
      bind(redis, secret, kid, msgid, addrs)  write the rcpts:<msgid> record
                                   as sluice-milter does at end of message
      today()                      the token day of now
"""
import base64
import hashlib
import hmac
import os
import re
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import keys


def today():
    return int(time.time()) // 86400


def b36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        out = digits[n % 36] + out
        n //= 36
        if n == 0:
            return out


def read_ring(path):
    """The keys of a secret_file: a keyring, or the old single raw secret (key 'a')."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"sluice-keyring 1"):
        return {"a": data.rstrip(b"\r\n")}, "a"
    keys, current = {}, None
    for line in data.decode().splitlines()[1:]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        kid, created, retired, secret = line.split()
        keys[kid] = bytes.fromhex(secret)
        if retired == "0":
            current = kid
    return keys, current


def fields(kind, cat, tenant, day, msgid, kid="a", version=2):
    head = "%s1" % kind if version == 1 else "%s2%s" % (kind, kid)
    return "%s-%s-%s-%s-%s" % (head, cat, tenant or "_", b36(day), msgid)


def local(secret, kind="b", cat="news", tenant="shop1", day=None, msgid="abcd2345", kid="a", version=2):
    """A local-part token: fields, "-", first 60 bits of HMAC-SHA256 in base32."""
    f = fields(kind, cat, tenant, today() if day is None else day, msgid, kid, version)
    mac = hmac.new(secret, f.encode(), hashlib.sha256).digest()
    return f + "-" + base64.b32encode(mac).decode()[:12].lower()


def url_key(secret):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"sluice unsubscribe url v2").derive(secret)


def url(secret, kid, rcpt, kind="u", cat="news", tenant="shop1", day=None, msgid="abcd2345"):
    """The one-click URL token: "<kind>2<kid>." base64url(nonce, AES-256-GCM(fields "-" rcpt), tag)."""
    head = "%s2%s" % (kind, kid)
    plain = fields(kind, cat, tenant, today() if day is None else day, msgid, kid) + "-" + rcpt
    nonce = os.urandom(12)
    blob = nonce + AESGCM(url_key(secret)).encrypt(nonce, plain.encode(), head.encode())
    return head + "." + base64.urlsafe_b64encode(blob).decode().rstrip("=")


def open_url(secret, token):
    head, b64 = token.split(".", 1)
    blob = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
    return AESGCM(url_key(secret)).decrypt(blob[:12], blob[12:], head.encode()).decode()


def rcpt_hash(secret, msgid, addr):
    """First 64 bits, hex, of HMAC-SHA256(secret, msgid NUL canonical address)."""
    canon = addr.strip().strip("<>").lower()
    return hmac.new(secret, msgid.encode() + b"\0" + canon.encode(), hashlib.sha256).hexdigest()[:16]


def bind(redis, secret, msgid, addrs, prefix="sluice:", ttl=31 * 86400):
    """The recipient record sluice-milter writes at the end of a message."""
    key = keys.key("rcpts", msgid, prefix=prefix)
    redis.cli("SADD", key, *[rcpt_hash(secret, msgid, a) for a in addrs])
    redis.cli("EXPIRE", key, ttl)


TOKEN_RE = re.compile(r"\b[bu]2[a-z2-7]-[a-z0-9_]+-[a-z0-9_]+-[a-z0-9]+-[a-z2-7]{8}-[a-z2-7]{12}", re.I)
ADDR_RE = re.compile(r"[A-Za-z0-9.+_-]+@[A-Za-z0-9.-]+[A-Za-z]")


def bind_report(redis, keys, rcpt, data, prefix="sluice:"):
    """Play sluice-milter for a hand-written report: the message of its token
    (the recipient argument's, else the first in the report) went to every
    address the report names. keys: {kid: secret} (read_ring()). Returns the
    addresses bound ([] when there is no version 2 token)."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    m = TOKEN_RE.search(rcpt) or TOKEN_RE.search(text)
    if m is None or m.group(0)[2].lower() not in keys:
        return []
    tok = m.group(0).lower()
    addrs = sorted(set(a for a in ADDR_RE.findall(text) if not TOKEN_RE.match(a)))
    if addrs:
        bind(redis, keys[tok[2]], tok.split("-")[4], addrs, prefix)
    return addrs

"""
NAME
    inbound_fixtures - test zone, keys and signed messages for inbound verification

DESCRIPTION
    World(env) writes a zone file (lib/dns_zone.c's "name TYPE data" format)
    with SPF, DKIM and DMARC records for every case, generates RSA and
    Ed25519 keys, and signs messages with dkimpy (an independent signer).
    parse_authres(value) reads an Authentication-Results value back into
    (authserv_id, [(method, result, {property: value}, comment)]), so each
    test asserts on the method it is about. Nothing here reaches DNS.
"""
import re
import sys

import harness

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import dkim  # noqa: E402  (Debian's python3-dkim)

GOOD_IP = "192.0.2.1"
BAD_IP = "192.0.2.99"

ZONE = """
# SPF
spf-pass.test TXT "v=spf1 ip4:192.0.2.1 -all"
spf-soft.test TXT "v=spf1 ~all"
spf-neutral.test TXT "v=spf1 ?all"
spf-none.test A 192.0.2.1
spf-temp.test SERVFAIL
spf-many.test TXT "v=spf1 include:i1.spf-many.test include:i2.spf-many.test include:i3.spf-many.test include:i4.spf-many.test include:i5.spf-many.test include:i6.spf-many.test" " include:i7.spf-many.test include:i8.spf-many.test include:i9.spf-many.test include:i10.spf-many.test include:i11.spf-many.test -all"
%(many)s
spf-void.test TXT "v=spf1 a:v1.spf-void.test a:v2.spf-void.test a:v3.spf-void.test ip4:192.0.2.1 -all"
helo.test TXT "v=spf1 ip4:192.0.2.1 -all"
# DKIM and DMARC
example.com TXT "v=spf1 ip4:192.0.2.1 -all"
example.com A 192.0.2.1
_dmarc.example.com TXT "v=DMARC1; p=reject; rua=mailto:d@example.com"
r1._domainkey.example.com TXT "%(rsa)s"
e1._domainkey.example.com TXT "%(ed)s"
rev._domainkey.example.com TXT "v=DKIM1; k=rsa; p="
r1._domainkey.mail.example.com TXT "%(rsa)s"
strict.test A 192.0.2.1
_dmarc.strict.test TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
r1._domainkey.mail.strict.test TXT "%(rsa)s"
walk.test A 192.0.2.1
_dmarc.walk.test TXT "v=DMARC1; p=quarantine"
a.b.c.d.e.f.g.h.walk.test A 192.0.2.1
sp.test A 192.0.2.1
_dmarc.sp.test TXT "v=DMARC1; p=none; sp=reject"
sub.sp.test A 192.0.2.1
np.test A 192.0.2.1
_dmarc.np.test TXT "v=DMARC1; p=none; sp=quarantine; np=reject"
real.np.test A 192.0.2.1
mon.test A 192.0.2.1
_dmarc.mon.test TXT "v=DMARC1; p=reject"
_dmarc.dnsfail.test SERVFAIL
testing.test A 192.0.2.1
_dmarc.testing.test TXT "v=DMARC1; p=reject; t=y"
pct0.test A 192.0.2.1
_dmarc.pct0.test TXT "v=DMARC1; p=reject; pct=0"
_dmarc.psd.test TXT "v=DMARC1; p=reject; psd=y"
mail.shop.psd.test A 192.0.2.1
r1._domainkey.shop.psd.test TXT "%(rsa)s"
r1._domainkey.psd.test TXT "%(rsa)s"
# ARC sealers (forwarders)
a1._domainkey.fwd.test TXT "%(rsa)s"
e1._domainkey.fwd.test TXT "%(ed)s"
a1._domainkey.fwd2.test TXT "%(rsa)s"
e1._domainkey.fwd2.test TXT "%(ed)s"
"""


class World:
    """The zone file and the keys of one test module."""

    def __init__(self, env):
        self.env = env
        self.rsa, rsa_txt = harness.dkim_keypair(env, "w", "rsa")
        self.ed, ed_txt = harness.dkim_keypair(env, "w", "ed25519")
        many = "\n".join('i%d.spf-many.test TXT "v=spf1 -all"' % i for i in range(1, 12))
        self.zone = env.file("test.zone", ZONE % {"rsa": rsa_txt, "ed": ed_txt, "many": many})

    def sign(self, msg, domain="example.com", selector="r1", ed=False):
        """msg (bytes, CRLF) with one more DKIM-Signature on top (dkimpy)."""
        with open(self.ed if ed else self.rsa, "rb") as f:
            key = f.read()
        if ed:
            key = ed_seed(key)
        sig = dkim.sign(msg, selector.encode(), domain.encode(), key,
                        signature_algorithm=b"ed25519-sha256" if ed else b"rsa-sha256",
                        include_headers=[b"from", b"to", b"subject", b"date"])
        return sig + msg


    def arc_seal(self, msg, sealer="fwd.test", selector="a1", ed=False):
        """msg with one more ARC set by sealer (dkimpy's ARC signer), based on its
        Authentication-Results field with the sealer as authserv-id. dkimpy's
        ARC.sign parses an RSA PEM key only; for Ed25519 (RFC 8463) its key
        parser is swapped for PyNaCl's during the call: dkimpy still
        canonicalizes, hashes and writes the set, gen_header signs with
        the Ed25519 key as it does for DKIM."""
        with open(self.ed if ed else self.rsa, "rb") as f:
            key = f.read()
        if not ed:
            sets = dkim.arc_sign(msg, selector.encode(), sealer.encode(), key, sealer.encode())
        else:
            import nacl.encoding
            import nacl.signing
            real = dkim.parse_pem_private_key
            dkim.parse_pem_private_key = lambda k: nacl.signing.SigningKey(k, encoder=nacl.encoding.Base64Encoder)
            try:
                sets = dkim.ARC(msg, signature_algorithm=b"ed25519-sha256").sign(
                    selector.encode(), sealer.encode(), ed_seed(key), sealer.encode())
            finally:
                dkim.parse_pem_private_key = real
        assert sets, "dkimpy made no ARC set"
        return b"".join(sets) + msg

    def txt(self, name, timeout=5):
        """A dnsfunc for dkimpy: the zone file's TXT record of name (bytes), or b""."""
        name = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
        with open(self.zone) as f:
            for line in f:
                parts = line.split(None, 2)
                if len(parts) == 3 and parts[0].lower() == name and parts[1] == "TXT":
                    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', parts[2])).encode()
        return b""


def forwarded(world, sealer="fwd.test", hops=1, ed=False):
    """A message signed by example.com, then changed and sealed by forwarders
    (a mailing list adding a footer breaks the DKIM signature)."""
    msg = world.sign(message())
    for hop in range(hops):
        name = sealer if hop == hops - 1 else "fwd2.test"
        arc = "; arc=pass" if hop else ""
        msg = (("Authentication-Results: %s; dkim=pass header.d=example.com; "
                "dmarc=pass header.from=example.com%s\r\n" % (name, arc)).encode() + msg)
        msg = msg + b"-- footer added by the list\r\n"
        msg = world.arc_seal(msg, sealer=name, selector="e1" if ed else "a1", ed=ed)
    return msg


def ed_seed(pem):
    """dkimpy wants the raw base64 Ed25519 seed, not PEM."""
    import base64
    import subprocess
    der = subprocess.run(["openssl", "pkey", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    return base64.b64encode(der[-32:])


def message(frm="a@example.com", subject="hello", body="Hello.\r\n", extra=""):
    """A small CRLF message."""
    text = ("From: %s\r\nTo: b@example.net\r\nSubject: %s\r\nDate: Thu, 3 Dec 2026 12:00:00 +0000\r\n"
            "Message-ID: <x@example.com>\r\n%s\r\n%s" % (frm, subject, extra, body))
    return text.encode()


def split_top(value):
    """Split an A-R value at ";" outside quoted strings and comments."""
    parts, cur, depth, quoted, esc = [], [], 0, False, False
    for ch in value:
        if esc:
            cur.append(ch)
            esc = False
            continue
        if ch == "\\" and (quoted or depth):
            esc = True
        elif ch == '"' and not depth:
            quoted = not quoted
        elif ch == "(" and not quoted:
            depth += 1
        elif ch == ")" and not quoted and depth:
            depth -= 1
        elif ch == ";" and not quoted and not depth:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def words_of(part):
    """(comment text, words) of one result: comments removed, quoted strings kept whole."""
    comment, words, cur, depth, quoted, esc = [], [], [], 0, False, False
    for ch in part + " ":
        if esc:
            (comment if depth else cur).append(ch)
            esc = False
        elif ch == "\\" and (quoted or depth):
            esc = True
        elif depth:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            if depth:
                comment.append(ch)
        elif ch == '"':
            quoted = not quoted
        elif quoted:
            cur.append(ch)
        elif ch == "(":
            depth = 1
        elif ch.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    return "".join(comment), words


def parse_authres(value):
    """(authserv_id, [(method, result, props, comment)]) from an A-R value."""
    value = re.sub(r"\r?\n[ \t]+", " ", value)
    parts = split_top(value)
    items = []
    for part in parts[1:]:
        comment, words = words_of(part)
        if not words:
            continue
        method, _, result = words[0].partition("=")
        props = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        items.append((method, result, props, comment))
    return words_of(parts[0])[1][0], items


def results(items, method):
    """The results of one method, in order."""
    return [i for i in items if i[0] == method]

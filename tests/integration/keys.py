"""keys.py - the Redis key names of Sluice, for the tests.

A mirror of lib/keyspace.c's template table (doc/redis-keys.md): a test
that reads or writes a key by hand names it here, so a renamed key is
changed in two places only, the module and this file. The unit test
test_keyspace checks the module against the document's examples; keep
this table in step with lib/keyspace.c's.
"""

import binascii
import re

PREFIX = "sluice:"

TEMPLATES = {
    "supp": "supp:$1:{$2}",
    "soft": "soft:{$1}",
    "tenant": "tenant:$1",
    "sasl": "sasl:$1",
    "stats": "stats:$1:$2:$3",
    "limits": "limits{conf}",
    "limit": "limit:$1{conf}",
    "limits_seeded": "limits:seeded{conf}",
    "mode": "mode{conf}",
    "rate": "rate:$1:{$2}",
    "quota": "quota:$1:$2:{$3}",
    "rulestats": "rulestats:$1",
    "msg": "msg:$1",
    "rcpts": "rcpts:{$1}",
    "block": "block:$1:$2",
    "pstats": "pstats:$1:$2",
    "dmarc": "dmarc:$1:$2",
    "dmarc_unauth": "dmarc:$1:$2:unauth",
    "dmarcagg": "dmarcagg:$1:$2",
    "dmarcpol": "dmarcpol:$1:$2",
    "dmarcsent": "dmarcsent:$1:$2",
    "provider": "provider:$1:$2",
    "fbdone": "fbdone:{$1}:$2",
    "fbseen": "fbseen:{$1}",
    "events": "events",
    "blocks": "blocks",
    "ramps": "ramps",
    "pdomains": "pdomains:$1",
    "holds": "holds",
    "relabel": "relabel",
    "charge": "charge:{$1}",
    "keyspace": "keyspace",
}


# The names of keyspace format 1 (before Cluster hash tags), for the
# upgrade tests: lib/keyspace.c's old_templates.
OLD_TEMPLATES = {
    "supp": "supp:$1:$2", "soft": "soft:$1", "limits": "limits", "limit": "limit:$1",
    "limits_seeded": "limits:seeded", "mode": "mode", "rate": "rate:$1:$2",
    "quota": "quota:$1:$2:$3", "rcpts": "rcpts:$1", "fbdone": "fbdone:$1",
    "fbseen": "fbseen:$1", "charge": "charge:$1",
}


def old(kind, *parts, prefix=PREFIX):
    """A key's format-1 name (what a version before the hash tags wrote)."""
    t = OLD_TEMPLATES[kind]
    for i, p in enumerate(parts, 1):
        t = t.replace("$%d" % i, str(p))
    assert "$" not in t, (kind, parts)
    return prefix + t


def key(kind, *parts, prefix=PREFIX):
    """The name of a key of kind with its parts, as sl_key() makes it."""
    t = TEMPLATES[kind]
    for i, p in enumerate(parts, 1):
        t = t.replace("$%d" % i, str(p))
    assert "$" not in t, (kind, parts)
    return prefix + t


def pattern(kind, prefix=PREFIX):
    """A SCAN/KEYS pattern matching every key of kind."""
    return key(kind, *["*"] * TEMPLATES[kind].count("$"), prefix=prefix)


def is_kind(kind, name, prefix=PREFIX):
    """Whether name is a key of kind (each part at least one character)."""
    rx = "".join(".+" if re.fullmatch(r"\$\d", t) else re.escape(t)
                 for t in re.split(r"(\$\d)", TEMPLATES[kind]) if t)
    return re.fullmatch(re.escape(prefix) + rx, name) is not None


def slot(name):
    """The Redis Cluster slot of a key name: CRC16-XMODEM of its hash tag
    (the text between the first { and the next }, when not empty), else of
    the whole name."""
    i = name.find("{")
    j = name.find("}", i + 1) if i >= 0 else -1
    if i >= 0 and j > i + 1:
        name = name[i + 1:j]
    return binascii.crc_hqx(name.encode(), 0) % 16384


def supp(scope, address, prefix=PREFIX):
    """A suppression entry: scope "global", "cat:<c>" or "tenant:<t>"."""
    return key("supp", scope, address, prefix=prefix)

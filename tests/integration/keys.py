"""keys.py - the Redis key names of Sluice, for the tests.

A mirror of lib/keyspace.c's template table (doc/redis-keys.md): a test
that reads or writes a key by hand names it here, so a renamed key is
changed in two places only, the module and this file. The unit test
test_keyspace checks the module against the document's examples; keep
this table in step with lib/keyspace.c's.
"""

PREFIX = "sluice:"

TEMPLATES = {
    "supp": "supp:$1:$2",
    "soft": "soft:$1",
    "tenant": "tenant:$1",
    "sasl": "sasl:$1",
    "stats": "stats:$1:$2:$3",
    "limits": "limits",
    "limit": "limit:$1",
    "limits_seeded": "limits:seeded",
    "mode": "mode",
    "rate": "rate:$1:$2",
    "quota": "quota:$1:$2:$3",
    "rulestats": "rulestats:$1",
    "msg": "msg:$1",
    "rcpts": "rcpts:$1",
    "block": "block:$1:$2",
    "pstats": "pstats:$1:$2",
    "dmarc": "dmarc:$1:$2",
    "dmarc_unauth": "dmarc:$1:$2:unauth",
    "dmarcagg": "dmarcagg:$1:$2",
    "dmarcpol": "dmarcpol:$1:$2",
    "dmarcsent": "dmarcsent:$1:$2",
    "provider": "provider:$1:$2",
    "fbdone": "fbdone:$1",
    "fbseen": "fbseen:$1",
    "events": "events",
    "blocks": "blocks",
    "ramps": "ramps",
    "pdomains": "pdomains:$1",
    "holds": "holds",
    "relabel": "relabel",
    "charge": "charge:$1",
    "suppb": "suppb:{$1}:$2",
}


def key(kind, *parts, prefix=PREFIX):
    """The name of a key of kind with its parts, as sl_key() makes it."""
    t = TEMPLATES[kind]
    for i, p in enumerate(parts, 1):
        t = t.replace("$%d" % i, str(p))
    assert "$" not in t, (kind, parts)
    return prefix + t


def supp(scope, address, prefix=PREFIX):
    """A suppression entry: scope "global", "cat:<c>" or "tenant:<t>"."""
    return key("supp", scope, address, prefix=prefix)


def supp_field(address):
    """The field of an address in a compact bucket (lib/keyspace_supp.c's sl_supp_field())."""
    import hashlib
    if len(address.encode()) > 48:
        return "#" + hashlib.sha1(address.encode()).hexdigest()[:32]
    return address


def suppb(scope, address, buckets=4096, prefix=PREFIX):
    """The compact layout's bucket of an address in a scope (sl_supp_bucket_key())."""
    import hashlib
    field = supp_field(address)
    bucket = int(hashlib.sha1(field.encode()).hexdigest()[:8], 16) % buckets
    return key("suppb", bucket, scope, prefix=prefix)

#!/bin/sh
# keyspace-grep.sh - no key name is formatted outside lib/keyspace*
#
# Every key name comes from lib/keyspace.c's templates (doc/redis-keys.md,
# lib/keyspace.h). This greps the programs' C sources, headers, Lua files
# and scripts for the ways a key name gets spelled by hand:
#   "%ssupp:%s..."         a prefix and a key name in a format
#   "supp:%s", "limit:*"   a key name in a format or a SCAN pattern
#   'supp:' .. x           a key name built in Lua
#   .. 'events'            a bare key name appended in Lua
#   "cat:%s"               a suppression scope
# and fails, naming each line, when one is found anywhere but in
# lib/keyspace*; and in the Python tests, benchmarks and quick start for a
# key name spelled outside tests/integration/keys.py. Run by make check
# (tests/Makefile.am).
set -u
top=${top_srcdir:-$(dirname "$0")/..}
names='supp|soft|stats|rate|quota|tenant|sasl|limits?|mode|rulestats|msg|rcpts|block|blocks|ramps|pdomains|holds|relabel|pstats|dmarc|dmarcagg|dmarcpol|dmarcsent|provider|fbdone|fbseen|events'
colon='supp|soft|stats|rate|quota|tenant|sasl|limit|limits|rulestats|msg|rcpts|block|pdomains|pstats|dmarc|dmarcagg|dmarcpol|dmarcsent|provider|fbdone|fbseen'
pat="%s($names)\\b|\"($colon):(%|\\*)|'($colon):' *\\.\\.|\\.\\. *'($names)'|\"(cat|tenant):%s\""
cd "$top" || exit 99
files=$(find milter policyd feedback logd ctl lib contrib \
	\( -name '*.c' -o -name '*.h' -o -name '*.lua' -o -name '*.sh' -o -name '*.py' \) \
	! -name 'keyspace*' -type f | sort)
hits=$(grep -nHE "$pat" $files)
if [ -n "$hits" ]; then
	echo "keyspace-grep: key names formatted outside lib/keyspace* (use sl_key()):"
	echo "$hits"
	exit 1
fi
# the tests, the benchmarks and the quick start name keys through
# tests/integration/keys.py only: a string that starts with a prefix and a
# key name ("sluice:supp:...", 'acme:limits') is spelled by hand
tpat="[\"'][a-z0-9]+:($names|charge)(:|[\"'])|%s($names|charge):"
tfiles=$(find tests/integration tests/bench contrib -name '*.py' ! -name keys.py -type f | sort)
hits=$(grep -nHE "$tpat" $tfiles)
if [ -n "$hits" ]; then
	echo "keyspace-grep: key names spelled in tests (use keys.key() or keys.supp()):"
	echo "$hits"
	exit 1
fi
# the check itself: it must see a key formatted the old way
probe=$(printf '%s\n' 'snprintf(k, n, "%ssupp:%s:%s", p, s, a);' "x = P .. 'stats:' .. day" \
	'ctl_key(ctx, k, n, "limit:%s", name)' | grep -cE "$pat")
[ "$probe" -eq 3 ] || { echo "keyspace-grep: the pattern misses known spellings"; exit 99; }
probe=$(printf '%s\n' 'cli("HSET", "sluice:supp:global:" + a)' "cli('GET', 'acme:limits')" \
	'keys.supp("cat:news", a), "tenant:shop1"' 'key = "%srcpts:%s" % (prefix, m)' | grep -cE "$tpat")
[ "$probe" -eq 3 ] || { echo "keyspace-grep: the test pattern misses known spellings"; exit 99; }
echo "keyspace-grep: $(echo "$files" | wc -l) files, $(echo "$tfiles" | wc -l) test files, no key name outside lib/keyspace* and keys.py"

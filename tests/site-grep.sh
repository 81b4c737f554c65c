#!/bin/sh
# site-grep.sh - no program walks the domain, category or tenant sections
#
# The site model (lib/site.c, lib/site.h) is the one reader of sluice.conf's
# domain, category and tenant sections (and the domains' dkim subsections);
# lib/conf_schema.c declares them. This greps every other C file for a
# libconfuse call on one of those sections (cfg_getnsec, cfg_gettsec,
# cfg_getsec, cfg_size, cfg_opt_size, cfg_getopt with "domain", "category",
# "tenant" or "dkim") and fails, naming each line, when it finds one:
# a program reads the typed model (conf->site), not the sections. Run by
# make check (tests/unit/lib.am).
set -u
top=${top_srcdir:-$(dirname "$0")/..}
pat='cfg_(getn?sec|gettsec|size|opt_size|getopt)\([^;]*"(domain|category|tenant|dkim)"'
cd "$top" || exit 99
files=$(find milter policyd feedback logd ctl lib tests/unit tests/fuzz -name '*.[ch]' \
	! -path lib/site.c ! -path lib/conf_schema.c -type f | sort)
hits=$(grep -nHE "$pat" $files)
if [ -n "$hits" ]; then
	echo "site-grep: site sections read outside lib/site.c (use conf->site, lib/site.h):"
	echo "$hits"
	exit 1
fi
# the check itself: it must see the ways a section is walked
probe=$(printf '%s\n' 'cfg_t *s = cfg_getnsec(cfg, "domain", i);' \
	'for (i = 0; i < cfg_size(root, "category"); i++)' \
	'return cfg_gettsec(ctx->conf->cfg, "tenant", name) != NULL;' \
	'n = cfg_size(sec, "dkim");' 'x = cfg_getstr(sec, "category");' | grep -cE "$pat")
[ "$probe" -eq 4 ] || { echo "site-grep: the pattern misses known spellings"; exit 99; }
echo "site-grep: $(echo "$files" | wc -l) files, no site section read outside lib/site.c"

/*
 * NAME
 *	test_keyspace - the key names of lib/keyspace.c against doc/redis-keys.md
 * DESCRIPTION
 *	Every example key of doc/redis-keys.md is formatted from its parts
 *	and parsed back to them (the table below); and every key named in
 *	a redis-cli line of the document is read from the file itself and
 *	must parse as some kind and format back to the same name, so an
 *	example the module cannot make fails here. Scopes round-trip, bad
 *	scopes and names that do not fit are refused, and suppression keys
 *	split into scope and address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "addr.h"
#include "conf.h"
#include "keyspace.h"
#include "keyspace_supp.h"
#include "redis.h"

#define P "sluice:"

/* The examples of doc/redis-keys.md, with their parts. */
static const struct example {
	enum sl_key_kind kind;
	const char *key;
	const char *part[SL_KEY_PARTS];
} examples[] = {
    {SL_KEY_SUPP, P "supp:global:{bob@example.net}", {"global", "bob@example.net"}},
    {SL_KEY_SUPP, P "supp:tenant:shop1:{carol@example.org}", {"tenant:shop1", "carol@example.org"}},
    {SL_KEY_SUPP, P "supp:cat:news:{dave@example.com}", {"cat:news", "dave@example.com"}},
    {SL_KEY_SUPPB, P "suppb:{1754}:global", {"1754", "global"}},
    {SL_KEY_SUPPB, P "suppb:{2479}:tenant:shop1", {"2479", "tenant:shop1"}},
    {SL_KEY_SOFT, P "soft:{erin@example.net}", {"erin@example.net"}},
    {SL_KEY_TENANT, P "tenant:shop1", {"shop1"}},
    {SL_KEY_SASL, P "sasl:alice@shop1.example", {"alice@shop1.example"}},
    {SL_KEY_STATS, P "stats:20261125:shop1:news", {"20261125", "shop1", "news"}},
    {SL_KEY_STATS, P "stats:20261125:-:-", {"20261125", "-", "-"}},
    {SL_KEY_LIMITS, P "limits{conf}", {NULL}},
    {SL_KEY_LIMIT, P "limit:per-user{conf}", {"per-user"}},
    {SL_KEY_LIMIT, P "limit:tenant-month{conf}", {"tenant-month"}},
    {SL_KEY_LIMIT, P "limit:docomo{conf}", {"docomo"}},
    {SL_KEY_LIMIT, P "limit:gmail-bulk{conf}", {"gmail-bulk"}},
    {SL_KEY_LIMIT, P "limit:hourly{conf}", {"hourly"}},
    {SL_KEY_LIMITS_SEEDED, P "limits:seeded{conf}", {NULL}},
    {SL_KEY_MODE, P "mode{conf}", {NULL}},
    {SL_KEY_RATE, P "rate:hourly:{alice@shop1.example}", {"hourly", "alice@shop1.example"}},
    {SL_KEY_RATE, P "rate:t:{shop1:gmail.com}", {"t", "shop1:gmail.com"}},
    {SL_KEY_QUOTA,
     P "quota:gmail-bulk:20261125:{shop1.example}",
     {"gmail-bulk", "20261125", "shop1.example"}},
    {SL_KEY_RULESTATS, P "rulestats:hourly", {"hourly"}},
    {SL_KEY_MSG, P "msg:4PQR1x2Y3Zz8AB", {"4PQR1x2Y3Zz8AB"}},
    {SL_KEY_BLOCK, P "block:google:news.example.com", {"google", "news.example.com"}},
    {SL_KEY_PSTATS, P "pstats:20261203:google", {"20261203", "google"}},
    {SL_KEY_RCPTS, P "rcpts:{a7x2m9qd}", {"a7x2m9qd"}},
    {SL_KEY_DMARC, P "dmarc:example.com:20261125", {"example.com", "20261125"}},
    {SL_KEY_DMARC_UNAUTH, P "dmarc:example.com:20261125:unauth", {"example.com", "20261125"}},
    {SL_KEY_DMARCAGG, P "dmarcagg:20261203:example.org", {"20261203", "example.org"}},
    {SL_KEY_DMARCPOL, P "dmarcpol:20261203:example.org", {"20261203", "example.org"}},
    {SL_KEY_DMARCSENT, P "dmarcsent:20261203:example.org", {"20261203", "example.org"}},
    {SL_KEY_PROVIDER, P "provider:20261203:gmail.com", {"20261203", "gmail.com"}},
    {SL_KEY_FBDONE, P "fbdone:{a7x2m9qd}:0123abcd", {"a7x2m9qd", "0123abcd"}},
    {SL_KEY_FBDONE, P "fbdone:{-}:0123abcd", {"-", "0123abcd"}},
    {SL_KEY_FBSEEN, P "fbseen:{a7x2m9qd}", {"a7x2m9qd"}},
    {SL_KEY_EVENTS, P "events", {NULL}},
    {SL_KEY_BLOCKS, P "blocks", {NULL}},
    {SL_KEY_RAMPS, P "ramps", {NULL}},
    {SL_KEY_PDOMAINS, P "pdomains:google", {"google"}},
    {SL_KEY_HOLDS, P "holds", {NULL}},
    {SL_KEY_RELABEL, P "relabel", {NULL}},
    {SL_KEY_CHARGE, P "charge:{192.0.2.7/50820,192.0.2.1/587}", {"192.0.2.7/50820,192.0.2.1/587"}},
    {SL_KEY_KEYSPACE, P "keyspace", {NULL}},
    {SL_KEY_LIMIT, P "limit:warm-gmail{conf}", {"warm-gmail"}},
};

/* format - sl_key with up to three parts */
static int
format(char *out, size_t len, const char *prefix, enum sl_key_kind k, const char *const *part)
{
	return sl_key(out, len, prefix, k, part[0], part[1], part[2]);
}

/* test_examples - each example formatted from its parts and parsed back */
static void
test_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(examples) / sizeof(*examples); i++) {
		const struct example *e = &examples[i];
		char key[SL_KEY_MAX];
		sl_key_parts p;

		assert_int_equal(format(key, sizeof(key), P, e->kind, e->part), 0);
		assert_string_equal(key, e->key);
		assert_int_equal(sl_key_parse(e->key, P, e->kind, &p), 0);
		assert_int_equal(p.n, sl_key_nparts(e->kind));
		for (int k = 0; k < p.n; k++)
			assert_string_equal(p.part[k], e->part[k]);
	}
}

/* round_trips - some kind parses key and formats it back identically */
static int
round_trips(const char *key)
{
	for (int k = 0; k < SL_KEYS; k++) {
		sl_key_parts p;
		const char *part[SL_KEY_PARTS];
		char again[SL_KEY_MAX];

		if (sl_key_parse(key, P, (enum sl_key_kind)k, &p) < 0)
			continue;
		for (int i = 0; i < SL_KEY_PARTS; i++)
			part[i] = p.part[i];
		if (format(again, sizeof(again), P, (enum sl_key_kind)k, part) == 0 &&
		    strcmp(again, key) == 0)
			return 1;
	}
	return 0;
}

/* test_doc_examples - every sluice: key in a redis-cli line of the document */
static void
test_doc_examples(void **state)
{
	const char *top = getenv("top_srcdir");
	char path[4096], line[4096];
	FILE *fp;
	int n = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/doc/redis-keys.md", top ? top : "..");
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		char *s = line, *k;

		if (strstr(line, "redis-cli") == NULL)
			continue;
		while ((k = strstr(s, P)) != NULL) {
			size_t len = strcspn(k, " \t\r\n'\"`)|");
			char key[SL_KEY_MAX];

			snprintf(key, sizeof(key), "%.*s", (int)len, k);
			if (!round_trips(key))
				fail_msg("doc/redis-keys.md: %s is no key lib/keyspace.c makes",
				         key);
			n++;
			s = k + len;
		}
	}
	fclose(fp);
	assert_true(n >= 20);
}

/* test_scope - format and parse of the three kinds; bad ones refused */
static void
test_scope(void **state)
{
	const char *good[] = {"global", "cat:news", "tenant:shop1"};
	const char *bad[] = {"",         "globalx",    "cat:",   "tenant:",
	                     "cat:News", "tenant:a:b", "user:x", "cat:abcdefghijklmnop"};
	sl_scope s;
	char out[SL_SCOPE_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		assert_int_equal(sl_scope_parse(good[i], &s), 0);
		assert_int_equal(sl_scope_format(&s, out, sizeof(out)), 0);
		assert_string_equal(out, good[i]);
	}
	assert_int_equal(sl_scope_parse("category:news", &s), 0);
	assert_int_equal(s.kind, SL_SCOPE_CATEGORY);
	assert_string_equal(s.name, "news");
	assert_string_equal(sl_scope_kind_name(s.kind), "category");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(sl_scope_parse(bad[i], &s), -1);
}

/* test_supp_key - entries named and split, the canonical address */
static void
test_supp_key(void **state)
{
	char key[SL_KEY_MAX], addr[SL_ADDR_MAX + 1], out[SL_SCOPE_MAX];
	sl_scope s;

	(void)state;
	assert_int_equal(sl_scope_make(&s, SL_SCOPE_TENANT, "shop1"), 0);
	assert_int_equal(sl_supp_key(key, sizeof(key), "x:", &s, "a:b@example.org"), 0);
	assert_string_equal(key, "x:supp:tenant:shop1:{a:b@example.org}");
	memset(&s, 0, sizeof(s));
	assert_int_equal(sl_supp_key_parse(key, "x:", &s, addr, sizeof(addr)), 0);
	assert_int_equal(s.kind, SL_SCOPE_TENANT);
	assert_string_equal(addr, "a:b@example.org");
	assert_int_equal(
	    sl_supp_key_parse("x:supp:global:{a@b.example}", "x:", &s, addr, sizeof(addr)), 0);
	assert_int_equal(sl_scope_format(&s, out, sizeof(out)), 0);
	assert_string_equal(out, "global");
	assert_int_equal(sl_supp_key_parse("x:supp:user:u:{a@b}", "x:", &s, addr, sizeof(addr)),
	                 -1);
	assert_int_equal(sl_supp_key_parse("y:supp:global:{a@b}", "x:", &s, addr, sizeof(addr)),
	                 -1);
	assert_int_equal(sl_supp_key_parse("x:supp:global:{}", "x:", &s, addr, sizeof(addr)), -1);
	assert_int_equal(sl_supp_canon("<Bob+News@Example.NET>",
	                               SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL, addr, sizeof(addr)),
	                 0);
	assert_string_equal(addr, "bob@example.net");
	assert_int_equal(sl_supp_canon("Bob+News@Example.NET", 0, addr, sizeof(addr)), 0);
	assert_string_equal(addr, "Bob+News@example.net");
	assert_int_equal(sl_supp_canon("no-at-sign", 0, addr, sizeof(addr)), -1);
}

/* test_supp_compact - fields, buckets, bucket keys and the places of an entry (doc/redis-keys.md)
 */
static void
test_supp_compact(void **state)
{
	char field[SL_SUPP_FIELD_MAX], key[SL_KEY_MAX], *lib;
	sl_supp_layout l = {.compact = 1, .buckets = 4096};
	sl_supp_loc loc[2];
	unsigned long b;
	sl_scope s;

	(void)state;
	sl_supp_field("bob@example.net", field);
	assert_string_equal(field, "bob@example.net");
	assert_int_equal(sl_supp_bucket(field, 4096), 1754);
	assert_int_equal(sl_supp_bucket("carol@example.org", 4096), 2479);
	assert_int_equal(sl_supp_bucket("dave@example.com", 64), 52);
	sl_supp_field("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", field);
	assert_string_equal(field, "#b9de1af63f92472c19b389ce657fa29f");
	/* 48 bytes is still a field of its own */
	sl_supp_field("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", field);
	assert_string_equal(field, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com");

	assert_int_equal(sl_scope_make(&s, SL_SCOPE_TENANT, "shop1"), 0);
	assert_int_equal(sl_supp_bucket_key(key, sizeof(key), P, 2479, &s), 0);
	assert_string_equal(key, P "suppb:{2479}:tenant:shop1");
	memset(&s, 0, sizeof(s));
	assert_int_equal(sl_supp_bucket_key_parse(key, P, &b, &s), 0);
	assert_int_equal(b, 2479);
	assert_int_equal(s.kind, SL_SCOPE_TENANT);
	assert_string_equal(s.name, "shop1");
	assert_int_equal(sl_supp_bucket_key_parse(P "suppb:{x1}:global", P, &b, &s), -1);
	assert_int_equal(sl_supp_bucket_key_parse(P "suppb:{}:global", P, &b, &s), -1);
	assert_int_equal(sl_supp_bucket_key_parse(P "supp:global:a@b", P, &b, &s), -1);

	/* all scopes of one address: buckets of the same number, one hash tag */
	assert_int_equal(sl_scope_make(&s, SL_SCOPE_GLOBAL, NULL), 0);
	assert_int_equal(sl_supp_locate(&l, P, &s, "bob@example.net", loc), 1);
	assert_string_equal(loc[0].key, P "suppb:{1754}:global");
	assert_string_equal(loc[0].field, "bob@example.net");
	l.migrating = 1;
	assert_int_equal(sl_supp_locate(&l, P, &s, "bob@example.net", loc), 2);
	assert_string_equal(loc[1].key, P "supp:global:{bob@example.net}");
	assert_string_equal(loc[1].field, "");
	l.compact = 0;
	assert_int_equal(sl_supp_locate(&l, P, &s, "bob@example.net", loc), 2);
	assert_string_equal(loc[0].key, P "supp:global:{bob@example.net}");
	assert_string_equal(loc[1].key, P "suppb:{1754}:global");
	assert_int_equal(sl_supp_locate(NULL, P, &s, "bob@example.net", loc), 1);
	assert_string_equal(loc[0].key, P "supp:global:{bob@example.net}");

	/* the function library: its settings, then the shared Lua */
	l.buckets = 65536;
	lib = sl_supp_library(&l, "it's:");
	assert_non_null(lib);
	assert_true(strncmp(lib, "#!lua name=sluice_supp\n", 23) == 0);
	assert_non_null(
	    strstr(lib, "local BUCKETS, SUPPB, PREFIX = 65536, 'suppb:{$1}:$2', 'it\\'s:'\n"));
	assert_non_null(strstr(lib, "local function sl_supp_decode("));
	assert_non_null(strstr(lib, "sluice_supp_get"));
	free(lib);
}

/* conf_of - a config file with this text, loaded (NULL when refused) */
static sl_conf *
conf_of(const char *text)
{
	char path[] = "/tmp/test_keyspace-XXXXXX";
	int fd = mkstemp(path);
	sl_conf *c;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	c = sl_conf_load(path);
	unlink(path);
	return c;
}

/* test_supp_layout_conf - the suppression { } section: defaults, values, refusals */
static void
test_supp_layout_conf(void **state)
{
	sl_supp_layout l;
	sl_conf *c;

	(void)state;
	c = conf_of("log_level = info\n");
	assert_non_null(c);
	assert_int_equal(sl_supp_layout_conf(c, &l), 0);
	assert_int_equal(l.compact, 0);
	assert_int_equal(l.migrating, 0);
	assert_int_equal(l.buckets, 4096);
	sl_conf_free(c);
	c = conf_of("suppression {\n layout = compact\n buckets = 524288\n migrating = yes\n}\n");
	assert_non_null(c);
	assert_int_equal(sl_supp_layout_conf(c, &l), 0);
	assert_int_equal(l.compact, 1);
	assert_int_equal(l.migrating, 1);
	assert_int_equal(l.buckets, 524288);
	sl_conf_free(c);
	assert_null(conf_of("suppression {\n layout = bucketed\n}\n"));
	assert_null(conf_of("suppression {\n buckets = 1000\n}\n"));
	assert_null(conf_of("suppression {\n buckets = 8\n}\n"));
	assert_null(conf_of("suppression {\n buckets = 33554432\n}\n"));
}

/* test_refused - missing or empty parts, names that do not fit, wrong shapes */
static void
test_refused(void **state)
{
	char key[SL_KEY_MAX], small[12];
	sl_key_parts p;

	(void)state;
	assert_int_equal(sl_key(key, sizeof(key), P, SL_KEY_TENANT, ""), -1);
	assert_int_equal(sl_key(key, sizeof(key), P, SL_KEY_STATS, "20261125", NULL, "x"), -1);
	assert_int_equal(sl_key(small, sizeof(small), P, SL_KEY_TENANT, "shop1"), -1);
	assert_int_equal(sl_key(key, sizeof(key), P, SL_KEYS), -1);
	assert_int_equal(sl_key_parse(P "tenant:", P, SL_KEY_TENANT, &p), -1);
	assert_int_equal(sl_key_parse(P "stats:20261125:x", P, SL_KEY_STATS, &p), -1);
	assert_int_equal(sl_key_parse(P "dmarc:d:1", P, SL_KEY_DMARC_UNAUTH, &p), -1);
	assert_int_equal(sl_key_parse(P "limitsx", P, SL_KEY_LIMITS, &p), -1);
	assert_int_equal(sl_key(key, sizeof(key), P, SL_KEY_SUPP, "*", "a@b"), 0);
	assert_string_equal(key, P "supp:*:{a@b}");
	assert_int_equal(
	    sl_supp_key_parse("x:supp:global:a@b.example", "x:", &(sl_scope){0}, key, sizeof(key)),
	    -1); /* format 1 */
	assert_int_equal(sl_key(key, sizeof(key), NULL, SL_KEY_EVENTS), 0);
	assert_string_equal(key, "events");
}

/* The names of format 1 (before hash tags) and what they are now. */
static const struct old {
	const char *old, *now;
	enum sl_key_kind kind;
} olds[] = {
    {P "supp:global:bob@example.net", P "supp:global:{bob@example.net}", SL_KEY_SUPP},
    {P "supp:cat:news:Bob+x@example.net", P "supp:cat:news:{Bob+x@example.net}", SL_KEY_SUPP},
    {P "supp:tenant:shop1:a@b.example", P "supp:tenant:shop1:{a@b.example}", SL_KEY_SUPP},
    {P "soft:erin@example.net", P "soft:{erin@example.net}", SL_KEY_SOFT},
    {P "limits", P "limits{conf}", SL_KEY_LIMITS},
    {P "limit:hourly", P "limit:hourly{conf}", SL_KEY_LIMIT},
    {P "limits:seeded", P "limits:seeded{conf}", SL_KEY_LIMITS_SEEDED},
    {P "mode", P "mode{conf}", SL_KEY_MODE},
    {P "rate:hourly:alice", P "rate:hourly:{alice}", SL_KEY_RATE},
    {P "rate:t:shop1:gmail.com", P "rate:t:{shop1:gmail.com}", SL_KEY_RATE},
    {P "quota:daily:20261203:alice", P "quota:daily:20261203:{alice}", SL_KEY_QUOTA},
    {P "rcpts:a7x2m9qd", P "rcpts:{a7x2m9qd}", SL_KEY_RCPTS},
    {P "fbseen:a7x2m9qd", P "fbseen:{a7x2m9qd}", SL_KEY_FBSEEN},
    {P "charge:192.0.2.7/1,192.0.2.1/25", P "charge:{192.0.2.7/1,192.0.2.1/25}", SL_KEY_CHARGE},
    {P "fbdone:0123abcd", NULL, SL_KEY_FBDONE}, /* dropped by migrate: no msgid */
};

/* test_old_names - format-1 names recognised and renamed; today's are not old */
static void
test_old_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(olds) / sizeof(*olds); i++) {
		sl_key_parts p;
		char now[SL_KEY_MAX];

		assert_int_equal(sl_key_old_kind(olds[i].old, P, &p), olds[i].kind);
		if (olds[i].now == NULL) {
			assert_int_equal(sl_key_parts_name(now, sizeof(now), P, olds[i].kind, &p),
			                 -1);
			continue;
		}
		assert_int_equal(sl_key_parts_name(now, sizeof(now), P, olds[i].kind, &p), 0);
		assert_string_equal(now, olds[i].now);
		assert_int_equal(sl_key_old_kind(olds[i].now, P, &p), -1);
	}
	for (size_t i = 0; i < sizeof(examples) / sizeof(*examples); i++) {
		sl_key_parts p;

		assert_int_equal(sl_key_old_kind(examples[i].key, P, &p), -1);
	}
	assert_int_equal(sl_key_old_kind(P "suppb:global:17", P, &(sl_key_parts){0}), -1);
	assert_int_equal(sl_key_old_kind("other:limits", P, &(sl_key_parts){0}), -1);
}

/* test_slots - the keys of one decision share a slot (doc/redis-keys.md) */
static void
test_slots(void **state)
{
	static const char *const addr[] = {"bob@example.net", "a}b@example.org", "x{y@example.com"};
	char a[SL_KEY_MAX], b[SL_KEY_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(addr) / sizeof(*addr); i++) {
		sl_key(a, sizeof(a), P, SL_KEY_SUPP, "global", addr[i]);
		sl_key(b, sizeof(b), P, SL_KEY_SUPP, "cat:news", addr[i]);
		assert_int_equal(sl_redis_keyslot_str(a), sl_redis_keyslot_str(b));
		sl_key(b, sizeof(b), P, SL_KEY_SUPP, "tenant:shop1", addr[i]);
		assert_int_equal(sl_redis_keyslot_str(a), sl_redis_keyslot_str(b));
		sl_key(b, sizeof(b), P, SL_KEY_SOFT, addr[i]);
		assert_int_equal(sl_redis_keyslot_str(a), sl_redis_keyslot_str(b));
		sl_key(b, sizeof(b), "other:", SL_KEY_SUPP, "global", addr[i]);
		assert_int_equal(sl_redis_keyslot_str(a),
		                 sl_redis_keyslot_str(b)); /* the tag, not the prefix */
	}
	sl_key(a, sizeof(a), P, SL_KEY_RATE, "hourly", "alice");
	sl_key(b, sizeof(b), P, SL_KEY_QUOTA, "daily", "20261203", "alice");
	assert_int_equal(sl_redis_keyslot_str(a), sl_redis_keyslot_str(b));
	sl_key(b, sizeof(b), P, SL_KEY_RATE, "hourly", "bob");
	assert_int_not_equal(sl_redis_keyslot_str(a),
	                     sl_redis_keyslot_str(b)); /* another value: its own slot */
	sl_key(a, sizeof(a), P, SL_KEY_LIMITS);
	sl_key(b, sizeof(b), P, SL_KEY_LIMIT, "hourly");
	assert_int_equal(sl_redis_keyslot_str(a), sl_redis_keyslot_str(b));
	sl_key(b, sizeof(b), P, SL_KEY_MODE);
	assert_int_equal(sl_redis_keyslot_str(a), sl_redis_keyslot_str(b));
	sl_key(b, sizeof(b), P, SL_KEY_LIMITS_SEEDED);
	assert_int_equal(sl_redis_keyslot_str(a), sl_redis_keyslot_str(b));
	sl_key(a, sizeof(a), P, SL_KEY_FBDONE, "a7x2m9qd", "0123abcd");
	sl_key(b, sizeof(b), P, SL_KEY_FBSEEN, "a7x2m9qd");
	assert_int_equal(sl_redis_keyslot_str(a), sl_redis_keyslot_str(b));
	sl_key(b, sizeof(b), P, SL_KEY_RCPTS, "a7x2m9qd");
	assert_int_equal(sl_redis_keyslot_str(a), sl_redis_keyslot_str(b));
}

/* test_day - the UTC day of stats keys */
static void
test_day(void **state)
{
	char day[9];

	(void)state;
	sl_key_day(1764720000LL, day); /* 2025-12-03 00:00:00 UTC */
	assert_string_equal(day, "20251203");
	sl_key_day(1764719999LL, day);
	assert_string_equal(day, "20251202");
}

/* the scratch name of a move across slots is in its destination's slot */
static void
test_scratch(void **state)
{
	static const char *const to[] = {P "supp:global:{bob@example.net}",
	                                 P "suppb:{17}:cat:news",
	                                 P "limit:hourly{conf}",
	                                 "untagged",
	                                 "odd}{name",
	                                 "x{}y"};
	char s[SL_KEY_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(to) / sizeof(to[0]); i++) {
		assert_int_equal(sl_key_scratch(s, sizeof(s), P, to[i]), 0);
		assert_true(strncmp(s, P "moving:{", strlen(P "moving:{")) == 0);
		if (i < 4) /* a '}' but no tag: another slot, which ctl_xslot_move() refuses */
			assert_int_equal(sl_redis_keyslot_str(s), sl_redis_keyslot_str(to[i]));
	}
	assert_int_equal(sl_key_scratch(s, 12, P, to[0]), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples),
	    cmocka_unit_test(test_doc_examples),
	    cmocka_unit_test(test_scope),
	    cmocka_unit_test(test_supp_key),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_day),
	    cmocka_unit_test(test_old_names),
	    cmocka_unit_test(test_slots),
	    cmocka_unit_test(test_scratch),
	    cmocka_unit_test(test_supp_compact),
	    cmocka_unit_test(test_supp_layout_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

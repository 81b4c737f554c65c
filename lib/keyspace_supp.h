/*
 * NAME
 *	keyspace_supp 3h - the suppression layouts and scripts (one read, one write)
 * SYNOPSIS
 *	sl_supp_layout_conf(conf, &layout)	the suppression { } section
 *	sl_supp_locate(&layout, prefix, &scope, address, locs)
 *		where an entry is: 1 place, 2 while a migration runs
 *	sl_supp_library(&layout, prefix)	the FUNCTION library (malloc'd)
 *
 *	sl_supp_get_script: KEYS the entries, ARGV their fields; returns
 *	{index, reason, ...} of the live ones (1-based), a key of another
 *	type skipped.
 *
 *	sl_supp_put_script: KEYS n entries, then the stats hash when a
 *	counter is named; ARGV mode ("replace" or "keep": a live entry
 *	stays), expires (Unix time, 0: none), source, counter field ("":
 *	none), then reason, added, detail and field per entry. Returns how
 *	many entries it wrote; the counter goes up by as many.
 *
 *	sl_supp_show_script: KEYS entries or buckets, ARGV their fields ("*":
 *	every field of a bucket); returns index, field, reason, source,
 *	added, expires, detail per live entry (sluicectl check, list, export).
 *
 *	sl_supp_move_script: KEYS pairs (an entry under another form of its
 *	address, the entry of the canonical form; hash layout); moves each
 *	to the canonical name, the longer-lasting entry winning when both
 *	exist. Returns {moved, merged} (sluicectl migrate).
 *
 *	sl_supp_relayout_script: KEYS pairs (from, to), ARGV their fields:
 *	moves entries between the layouts; returns {moved, merged, skipped}
 *	(sluicectl suppress migrate).
 *
 *	sl_supp_prune_script: KEYS buckets; deletes expired fields, returns
 *	how many (sluicectl suppress prune).
 *
 *	SL_LUA_SUPP: the Lua functions sl_supp_read(key, field, now),
 *	sl_supp_entry(key, field, now), sl_supp_write(key, field, reason,
 *	source, added, detail, bounce_reason, expires), sl_supp_drop(key,
 *	field) and the compact value's sl_supp_encode() / sl_supp_decode(),
 *	for scripts that read or write entries among other work.
 * DESCRIPTION
 *	Two layouts (doc/redis-keys.md): the hash layout, a hash per entry
 *	(supp:<scope>:<address>, field ""), and the compact layout, a field
 *	of a bucket hash (suppb:{<bucket>}:<scope>, the field the address or
 *	its hash). An entry is a key and a field (sl_supp_loc); the bucket
 *	is computed here, in C, so that scripts get every key in KEYS. The
 *	Lua sources are lib/keyspace_supp*.lua, embedded at build time into
 *	keyspace_lua.h (generated in the build tree); the value's encoding
 *	is in keyspace_supp.lua alone, used by the scripts and the function
 *	library alike.
 */
#ifndef SL_KEYSPACE_SUPP_H
#define SL_KEYSPACE_SUPP_H

#include "conf.h"
#include "keyspace.h"
#include "lib/keyspace_lua.h"
#include "redis.h"

#define SL_SUPP_FIELD_MAX 49 /* a field, NUL included: 48 bytes of address */
#define SL_SUPP_BUCKETS_MIN 16
#define SL_SUPP_BUCKETS_MAX 16777216 /* 2^24 */

typedef struct sl_supp_layout {
	int compact;           /* entries written to suppb: buckets */
	int migrating;         /* the other layout read too */
	unsigned long buckets; /* a power of two */
} sl_supp_layout;

/* Where an entry is: a key, and a field ("" in the hash layout). */
typedef struct sl_supp_loc {
	char key[SL_KEY_MAX];
	char field[SL_SUPP_FIELD_MAX];
} sl_supp_loc;

/*
 * The layout of the suppression { } section of c (defaults when absent);
 * every problem reported with sl_conf_error() and counted in c->errors.
 */
int sl_supp_layout_conf(sl_conf *c, sl_supp_layout *l);

/*
 * The field of a (canonical) address: itself, or (over 48 bytes) '#' and 32
 * hex digits of its SHA-1, which has no '@' (an address may begin with '#').
 */
void sl_supp_field(const char *address, char field[SL_SUPP_FIELD_MAX]);

/* The bucket of a field: its SHA-1's first 4 bytes (big-endian) modulo buckets. */
unsigned long sl_supp_bucket(const char *field, unsigned long buckets);

/* prefix + suppb:{<bucket>}:<scope> */
int sl_supp_bucket_key(char *out, size_t outlen, const char *prefix, unsigned long bucket,
                       const sl_scope *s);

/* The bucket and scope of a bucket key; -1 when it is not one. */
int sl_supp_bucket_key_parse(const char *key, const char *prefix, unsigned long *bucket,
                             sl_scope *s);

/*
 * The places an entry for address (as given) in scope is read from: the
 * configured layout's first, the other's second while l->migrating.
 * Returns how many (1 or 2), -1 when a name does not fit.
 */
int sl_supp_locate(const sl_supp_layout *l, const char *prefix, const sl_scope *s,
                   const char *address, sl_supp_loc locs[2]);

/* The function library for FUNCTION LOAD REPLACE, malloc'd; NULL when out of memory. */
char *sl_supp_library(const sl_supp_layout *l, const char *prefix);

extern sl_script sl_supp_get_script;
extern sl_script sl_supp_put_script;
extern sl_script sl_supp_show_script;
extern sl_script sl_supp_move_script;
extern sl_script sl_supp_relayout_script;
extern sl_script sl_supp_prune_script;

/*
 * sl_keyspace_rename_script (keyspace_version.c, keyspace_rename.lua):
 * KEYS pairs (a format-1 name, its name today), ARGV a way and a type
 * per pair; returns {moved, merged, dropped, then name and type of each
 * key left alone} (sluicectl migrate).
 */
extern sl_script sl_keyspace_rename_script;

#endif

/*
 * NAME
 *	keyspace 3h - every Redis key name of Sluice, formatted in one place
 * SYNOPSIS
 *	#include "keyspace.h"
 *
 *	sl_key(out, outlen, prefix, SL_KEY_SUPP, "global", "bob@example.net")
 *	sl_key_parse(key, prefix, SL_KEY_SUPP, &parts)
 *	sl_scope_format(&scope, out, outlen), sl_scope_parse("cat:news", &scope)
 *	sl_supp_key(out, outlen, prefix, &scope, address)
 *	sl_supp_canon(in, flags, out, outlen)
 * DESCRIPTION
 *	The keyspace is Sluice's public interface (doc/redis-keys.md). Every
 *	program formats its key names here, from one table of templates, so
 *	that a key is named once: the grep test (tests/keyspace-grep.sh)
 *	fails when a key pattern appears anywhere else. tests/integration/
 *	keys.py mirrors the templates for the integration tests.
 *
 *	A template is literal text with numbered parts, $1 to $3, filled in
 *	order from the variadic arguments of sl_key(); a part may be "*" to
 *	make a SCAN MATCH pattern. sl_key_parse() is the inverse: each part
 *	but the last ends at the next literal text; the last takes the rest.
 *
 *	A suppression scope (sl_scope) is global, a category or a tenant,
 *	written "global", "cat:<name>" or "tenant:<name>" in keys and on
 *	sluicectl's command line ("category:<name>" is read as well).
 *
 *	sl_supp_canon() is the canonical address form every writer of a
 *	suppression entry applies (lib/addr.c's sl_addr_normalize() with
 *	the flags of the policyd section: strip_tag, lowercase_local_part;
 *	sl_supp_flags()). The scripts that read and write entries are in
 *	keyspace_supp.c (keyspace_supp.lua, embedded at build time).
 * ERRORS
 *	Functions returning int give 0 on success, -1 when a name does not
 *	fit, a part is missing or input is malformed.
 */
#ifndef SL_KEYSPACE_H
#define SL_KEYSPACE_H

#include <stdarg.h>
#include <stddef.h>

#define SL_KEY_MAX 1024 /* a key name, prefix included, at most */

enum sl_key_kind {
	SL_KEY_SUPP,          /* supp:<scope>:{<address>} (hash) */
	SL_KEY_SOFT,          /* soft:{<address>} (sorted set) */
	SL_KEY_TENANT,        /* tenant:<name> (hash) */
	SL_KEY_SASL,          /* sasl:<user> (hash) */
	SL_KEY_STATS,         /* stats:<day>:<tenant|->:<category|-> (hash) */
	SL_KEY_LIMITS,        /* limits{conf} (set) */
	SL_KEY_LIMIT,         /* limit:<name>{conf} (hash) */
	SL_KEY_LIMITS_SEEDED, /* limits:seeded{conf} (string) */
	SL_KEY_MODE,          /* mode{conf} (hash) */
	SL_KEY_RATE,          /* rate:<limit>:{<value>} (hash) */
	SL_KEY_QUOTA,         /* quota:<limit>:<period>:{<value>} (string) */
	SL_KEY_RULESTATS,     /* rulestats:<limit> (hash) */
	SL_KEY_MSG,           /* msg:<queue id> (hash) */
	SL_KEY_RCPTS,         /* rcpts:{<msgid>} (set) */
	SL_KEY_BLOCK,         /* block:<provider>:<sending domain> (hash) */
	SL_KEY_PSTATS,        /* pstats:<day>:<provider> (hash) */
	SL_KEY_DMARC,         /* dmarc:<domain>:<day> (hash) */
	SL_KEY_DMARC_UNAUTH,  /* dmarc:<domain>:<day>:unauth (set) */
	SL_KEY_DMARCAGG,      /* dmarcagg:<day>:<policy domain> (hash) */
	SL_KEY_DMARCPOL,      /* dmarcpol:<day>:<policy domain> (hash) */
	SL_KEY_DMARCSENT,     /* dmarcsent:<day>:<policy domain> (string) */
	SL_KEY_PROVIDER,      /* provider:<day>:<orgdomain> (hash) */
	SL_KEY_FBDONE,        /* fbdone:{<msgid>|->}:<id> (string) */
	SL_KEY_FBSEEN,        /* fbseen:{<msgid>|->} (set) */
	SL_KEY_EVENTS,        /* events (stream) */
	SL_KEY_BLOCKS,        /* blocks (set of <provider>:<sending domain>) */
	SL_KEY_RAMPS,         /* ramps (sorted set) */
	SL_KEY_PDOMAINS,      /* pdomains:<provider> (set) */
	SL_KEY_HOLDS,         /* holds (hash) */
	SL_KEY_RELABEL,       /* relabel (hash) */
	SL_KEY_CHARGE,        /* charge:{<client>/<port>,<server>/<port>} (hash) */
	SL_KEY_KEYSPACE,      /* keyspace (string: the format, SL_KEYSPACE_FORMAT) */
	SL_KEY_SUPPB,         /* suppb:{<bucket>}:<scope> (hash, compact layout) */
	SL_KEYS
};

#define SL_KEY_PARTS 3

typedef struct sl_key_parts {
	int n;
	char part[SL_KEY_PARTS][SL_KEY_MAX];
} sl_key_parts;

/* The template of a kind ("supp:$1:$2"), and how many parts it takes. */
const char *sl_key_template(enum sl_key_kind kind);
int sl_key_nparts(enum sl_key_kind kind);

/* prefix + the kind's template with its parts (const char *, as many as it takes) */
int sl_key(char *out, size_t outlen, const char *prefix, enum sl_key_kind kind, ...);
int sl_keyv(char *out, size_t outlen, const char *prefix, enum sl_key_kind kind, va_list ap);

/*
 * prefix + the kind's template ("sluice:stats:$1:$2:$3"), for a script
 * that must name a key from what it reads (sl_key_fill() in
 * keyspace_keys.lua, SL_LUA_KEYS in keyspace_lua.h).
 */
int sl_key_template_full(char *out, size_t outlen, const char *prefix, enum sl_key_kind kind);

/* The parts of a key of that kind; -1 when the key is not one. */
int sl_key_parse(const char *key, const char *prefix, enum sl_key_kind kind, sl_key_parts *p);

/* prefix + the kind's template with parts p (as sl_key_parse() gives them) */
int sl_key_parts_name(char *out, size_t outlen, const char *prefix, enum sl_key_kind kind,
                      const sl_key_parts *p);

/*
 * Keyspace formats. 1: names without hash tags (before 2026-12-03);
 * 2: today's (SL_KEYSPACE_FORMAT). The key "keyspace" holds the format
 * of the data (keyspace_version.c); sluicectl migrate moves format-1
 * names to today's.
 */
#define SL_KEYSPACE_FORMAT 2

/* A kind's format-1 template ("supp:$1:$2"), NULL when it did not change. */
const char *sl_key_old_template(enum sl_key_kind kind);

/* The kind of a format-1 name (not also one of today's), parts in p; -1: none. */
int sl_key_old_kind(const char *key, const char *prefix, sl_key_parts *p);

/*
 * The format of the data (keyspace_version.c): 0 this version's (the
 * marker says so, or no format-1 name exists and the marker was written
 * now), 1 format-1 names are there (run sluicectl migrate), 2 a newer
 * format, -1 Redis failed; msg says which. sl_keyspace_mark() writes the
 * marker (sluicectl migrate, when it is done).
 */
struct sl_redis;
int sl_keyspace_check(struct sl_redis *r, char *msg, size_t msglen);
int sl_keyspace_mark(struct sl_redis *r);

/* sl_keyspace_check() logged: 1 the program must stop (or retry later), 0 go on */
int sl_keyspace_require(struct sl_redis *r);

/*
 * A daemon's start: sl_keyspace_require() on a connection of its own; 1
 * refuse. 0 go on, also when Redis could not be asked: the Redis gate is
 * then closed (sl_redis_gate()) until sl_keyspace_watch()'s thread, to be
 * started after daemon(), has checked; when that check refuses, it
 * sends SIGTERM and sl_keyspace_refused() says to exit 78.
 */
struct sl_redis_opts;
int sl_keyspace_require_opts(const struct sl_redis_opts *o);
void sl_keyspace_watch(void);
int sl_keyspace_refused(void);

/* <prefix>moving:{<tag>}: a scratch name in key's Cluster slot (moves across slots); -1 */
int sl_key_scratch(char *out, size_t outlen, const char *prefix, const char *key);

/* in with the SCAN MATCH metacharacters * ? [ ] \ escaped */
void sl_key_glob_escape(const char *in, char *out, size_t outlen);

/* Counter fields of stats:<day>:<tenant>:<category> (doc/redis-keys.md). */
#define SL_STAT_SENT "sent"
#define SL_STAT_HARD "hard"
#define SL_STAT_SOFT "soft"
#define SL_STAT_COMPLAINT "complaint"
#define SL_STAT_UNSUB "unsub"
#define SL_STAT_SUPPRESSED "suppressed"
#define SL_STAT_DELIVERED "delivered"
#define SL_STAT_DEFERRED "deferred"
#define SL_STAT_BOUNCED "bounced"
#define SL_STAT_EXPIRED "expired"
#define SL_STAT_LOGD_DROPPED "logd_dropped"
#define SL_STAT_UNVERIFIED "unverified"
#define SL_STAT_SENDER_FAULT "sender_fault"

/* The field of provider:<day>:<org> counting one tenant and category. */
int sl_key_provider_field(char *out, size_t outlen, const char *tenant, const char *category);

/* The day of a stats key: yyyymmdd, UTC, of t. */
void sl_key_day(long long t, char out[9]);

/* Suppression scopes. */
enum sl_scope_kind { SL_SCOPE_GLOBAL, SL_SCOPE_CATEGORY, SL_SCOPE_TENANT };

#define SL_SCOPE_MAX 64 /* "tenant:<name>", NUL included */

typedef struct sl_scope {
	enum sl_scope_kind kind;
	char name[SL_SCOPE_MAX]; /* "" for global */
} sl_scope;

/* "global", "cat:<name>" or "tenant:<name>" */
int sl_scope_format(const sl_scope *s, char *out, size_t outlen);

/* The scope written in; the name 1-15 of a-z 0-9 (lib/live.c). */
int sl_scope_parse(const char *in, sl_scope *s);

/* Shorthand for a scope of a kind and name; -1 for a bad name. */
int sl_scope_make(sl_scope *s, enum sl_scope_kind kind, const char *name);

/* The kind as replies and logs name it: "global", "category", "tenant". */
const char *sl_scope_kind_name(enum sl_scope_kind kind);

/* prefix + supp:<scope>:<address>; address as given (already canonical) */
int sl_supp_key(char *out, size_t outlen, const char *prefix, const sl_scope *s,
                const char *address);

/* The scope and address of a suppression key; -1 when it is not one. */
int sl_supp_key_parse(const char *key, const char *prefix, sl_scope *s, char *addr, size_t addrlen);

/*
 * The canonical form of an address in a suppression key, the one every
 * writer stores: sl_addr_normalize() with flags (SL_ADDR_STRIP_TAG,
 * SL_ADDR_LOWER_LOCAL) as the policyd section says (sl_supp_flags()).
 */
int sl_supp_canon(const char *in, int flags, char *out, size_t outlen);

/* The SL_ADDR_* flags of the policyd section: strip_tag, lowercase_local_part. */
struct cfg_t;
int sl_supp_flags(struct cfg_t *policyd_section);

#endif

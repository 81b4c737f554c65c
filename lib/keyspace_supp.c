/*
 * NAME
 *	keyspace_supp 3 - suppression keys, layouts, the canonical address, the scripts
 * SYNOPSIS
 *	#include "keyspace.h"
 *	#include "keyspace_supp.h"
 * DESCRIPTION
 *	sl_supp_key() names an entry of the hash layout, sl_supp_key_parse()
 *	reads one back; sl_supp_bucket_key() names a bucket of the compact
 *	layout, and sl_supp_locate() says where an entry is read in the
 *	configured layout (sl_supp_layout_conf()). sl_supp_canon() is the
 *	address form every writer stores. sl_supp_get_script and
 *	sl_supp_put_script are the one lookup and the one writer
 *	(keyspace_supp*.lua, embedded as keyspace_lua.h); scripts that do
 *	more in the same call (policyd's decision, the milter's end of
 *	message, the feedback effects) put SL_LUA_SUPP in front of their own
 *	source and call sl_supp_read() / sl_supp_write() from it.
 *	sl_supp_library() is the same Lua as a Redis 7 function library.
 */
#include "config.h"

#include <confuse.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "keyspace.h"
#include "keyspace_supp.h"

sl_script sl_supp_get_script = {.source = SL_LUA_SUPP SL_LUA_SUPP_GET};
sl_script sl_supp_put_script = {.source = SL_LUA_SUPP SL_LUA_SUPP_PUT};
sl_script sl_supp_show_script = {.source = SL_LUA_SUPP SL_LUA_SUPP_SHOW};
sl_script sl_supp_move_script = {.source = SL_LUA_SUPP_MOVE};
sl_script sl_supp_relayout_script = {.source = SL_LUA_SUPP SL_LUA_SUPP_RELAYOUT};
sl_script sl_supp_prune_script = {.source = SL_LUA_SUPP SL_LUA_SUPP_PRUNE};

/* sl_supp_layout_conf - the suppression { } section: layout, buckets, migrating */
int
sl_supp_layout_conf(sl_conf *c, sl_supp_layout *l)
{
	cfg_t *sec = cfg_getsec(c->cfg, "suppression");
	const char *layout = sec ? cfg_getstr(sec, "layout") : "hash";
	long buckets = sec ? cfg_getint(sec, "buckets") : 4096;
	int errors = c->errors;

	memset(l, 0, sizeof(*l));
	if (strcmp(layout, "compact") == 0)
		l->compact = 1;
	else if (strcmp(layout, "hash") != 0)
		sl_conf_error(c, sec, "suppression layout \"%s\": use hash or compact", layout);
	if (buckets < SL_SUPP_BUCKETS_MIN || buckets > SL_SUPP_BUCKETS_MAX ||
	    (buckets & (buckets - 1)) != 0)
		sl_conf_error(c, sec, "suppression buckets %ld: a power of two from %d to %d",
		              buckets, SL_SUPP_BUCKETS_MIN, SL_SUPP_BUCKETS_MAX);
	else
		l->buckets = (unsigned long)buckets;
	l->migrating = sec && cfg_getbool(sec, "migrating");
	return c->errors > errors ? -1 : 0;
}

/* sha1 - the SHA-1 of s; 0, or -1 when OpenSSL failed */
static int
sha1(const char *s, unsigned char md[EVP_MAX_MD_SIZE])
{
	unsigned int len = 0;

	return EVP_Digest(s, strlen(s), md, &len, EVP_sha1(), NULL) && len == 20 ? 0 : -1;
}

/* sl_supp_field - the field of an address: itself up to 48 bytes, else '#' + 32 hex digits */
void
sl_supp_field(const char *address, char field[SL_SUPP_FIELD_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE] = {0};

	if (strlen(address) < SL_SUPP_FIELD_MAX) {
		snprintf(field, SL_SUPP_FIELD_MAX, "%s", address);
		return;
	}
	(void)sha1(address, md);
	field[0] = '#';
	for (int i = 0; i < 16; i++)
		snprintf(field + 1 + 2 * i, 3, "%02x", md[i]);
}

/* sl_supp_bucket - the bucket of a field: SHA-1's first 4 bytes modulo buckets */
unsigned long
sl_supp_bucket(const char *field, unsigned long buckets)
{
	unsigned char md[EVP_MAX_MD_SIZE] = {0};
	unsigned long v;

	(void)sha1(field, md);
	v = (unsigned long)md[0] << 24 | (unsigned long)md[1] << 16 | (unsigned long)md[2] << 8 |
	    md[3];
	return buckets ? v % buckets : 0;
}

/* sl_supp_bucket_key - prefix + suppb:{<bucket>}:<scope> */
int
sl_supp_bucket_key(char *out, size_t outlen, const char *prefix, unsigned long bucket,
                   const sl_scope *s)
{
	char scope[SL_SCOPE_MAX + 8], b[24];

	if (sl_scope_format(s, scope, sizeof(scope)) < 0)
		return -1;
	snprintf(b, sizeof(b), "%lu", bucket);
	return sl_key(out, outlen, prefix, SL_KEY_SUPPB, b, scope);
}

/* sl_supp_bucket_key_parse - bucket and scope of a bucket key */
int
sl_supp_bucket_key_parse(const char *key, const char *prefix, unsigned long *bucket, sl_scope *s)
{
	sl_key_parts p;
	char *end;

	if (sl_key_parse(key, prefix, SL_KEY_SUPPB, &p) < 0 || sl_scope_parse(p.part[1], s) < 0)
		return -1;
	*bucket = strtoul(p.part[0], &end, 10);
	return *end == '\0' && p.part[0][0] >= '0' && p.part[0][0] <= '9' ? 0 : -1;
}

/* one_loc - the place of an entry in one layout */
static int
one_loc(int compact, unsigned long buckets, const char *prefix, const sl_scope *s,
        const char *address, sl_supp_loc *loc)
{
	if (!compact) {
		loc->field[0] = '\0';
		return sl_supp_key(loc->key, sizeof(loc->key), prefix, s, address);
	}
	sl_supp_field(address, loc->field);
	return sl_supp_bucket_key(loc->key, sizeof(loc->key), prefix,
	                          sl_supp_bucket(loc->field, buckets), s);
}

/* sl_supp_locate - where an entry is read: the layout's place, and the other's while migrating */
int
sl_supp_locate(const sl_supp_layout *l, const char *prefix, const sl_scope *s, const char *address,
               sl_supp_loc locs[2])
{
	unsigned long buckets = l && l->buckets ? l->buckets : 4096;
	int compact = l && l->compact;

	if (one_loc(compact, buckets, prefix, s, address, &locs[0]) < 0)
		return -1;
	if (!(l && l->migrating))
		return 1;
	return one_loc(!compact, buckets, prefix, s, address, &locs[1]) < 0 ? -1 : 2;
}

/* sl_supp_library - "#!lua name=sluice_supp", the settings, then the shared Lua */
char *
sl_supp_library(const sl_supp_layout *l, const char *prefix)
{
	static const char body[] = SL_LUA_KEYS SL_LUA_SUPP SL_LUA_SUPP_FN;
	const char *t = sl_key_template(SL_KEY_SUPPB);
	size_t len = sizeof(body) + strlen(t) + 2 * strlen(prefix ? prefix : "") + 128;
	char *out = malloc(len), *q;
	size_t o;

	if (out == NULL)
		return NULL;
	o = (size_t)snprintf(out, len,
	                     "#!lua name=sluice_supp\nlocal BUCKETS, SUPPB, PREFIX = %lu, '%s', '",
	                     l && l->buckets ? l->buckets : 4096UL, t);
	for (const char *p = prefix ? prefix : ""; *p && o + 2 < len; p++) {
		if (*p == '\'' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	q = out + o;
	snprintf(q, len - o, "'\n%s", body);
	return out;
}

/* sl_supp_key - prefix + supp:<scope>:<address> */
int
sl_supp_key(char *out, size_t outlen, const char *prefix, const sl_scope *s, const char *address)
{
	char scope[SL_SCOPE_MAX + 8];

	if (sl_scope_format(s, scope, sizeof(scope)) < 0)
		return -1;
	return sl_key(out, outlen, prefix, SL_KEY_SUPP, scope, address);
}

/* sl_supp_key_parse - scope and address of a suppression key */
int
sl_supp_key_parse(const char *key, const char *prefix, sl_scope *s, char *addr, size_t addrlen)
{
	sl_key_parts p;

	if (sl_key_parse(key, prefix, SL_KEY_SUPP, &p) < 0 || sl_scope_parse(p.part[0], s) < 0 ||
	    strlen(p.part[1]) >= addrlen)
		return -1;
	snprintf(addr, addrlen, "%s", p.part[1]);
	return 0;
}

/* sl_supp_canon - the address form suppression entries are stored under */
int
sl_supp_canon(const char *in, int flags, char *out, size_t outlen)
{
	return sl_addr_normalize(in, out, outlen,
	                         flags & (SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL));
}

/* sl_supp_flags - SL_ADDR_* as the policyd section's strip_tag, lowercase_local_part say */
int
sl_supp_flags(cfg_t *pd)
{
	if (pd == NULL)
		return SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL;
	return (cfg_getbool(pd, "strip_tag") ? SL_ADDR_STRIP_TAG : 0) |
	       (cfg_getbool(pd, "lowercase_local_part") ? SL_ADDR_LOWER_LOCAL : 0);
}

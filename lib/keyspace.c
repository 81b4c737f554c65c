/*
 * NAME
 *	keyspace 3 - the key name templates, their formatter and parser
 * DESCRIPTION
 *	One table names every key (doc/redis-keys.md; keyspace.h). sl_key()
 *	expands a template, sl_key_parse() reads one back. Scopes are
 *	formatted and parsed here too; the suppression helpers are in
 *	keyspace_supp.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keyspace.h"
#include "live.h"

/*
 * The templates: literal text and parts $1..$3 (doc/redis-keys.md). A
 * part in braces is the key's Redis Cluster hash tag: keys of one
 * recipient, one limit value, one original message or the limits
 * configuration share a slot (doc/redis-keys.md, "Cluster hash tags").
 */
static const char *const templates[SL_KEYS] = {
    [SL_KEY_SUPP] = "supp:$1:{$2}",
    [SL_KEY_SOFT] = "soft:{$1}",
    [SL_KEY_TENANT] = "tenant:$1",
    [SL_KEY_SASL] = "sasl:$1",
    [SL_KEY_STATS] = "stats:$1:$2:$3",
    [SL_KEY_LIMITS] = "limits{conf}",
    [SL_KEY_LIMIT] = "limit:$1{conf}",
    [SL_KEY_LIMITS_SEEDED] = "limits:seeded{conf}",
    [SL_KEY_MODE] = "mode{conf}",
    [SL_KEY_RATE] = "rate:$1:{$2}",
    [SL_KEY_QUOTA] = "quota:$1:$2:{$3}",
    [SL_KEY_RULESTATS] = "rulestats:$1",
    [SL_KEY_MSG] = "msg:$1",
    [SL_KEY_RCPTS] = "rcpts:{$1}",
    [SL_KEY_BLOCK] = "block:$1:$2",
    [SL_KEY_PSTATS] = "pstats:$1:$2",
    [SL_KEY_DMARC] = "dmarc:$1:$2",
    [SL_KEY_DMARC_UNAUTH] = "dmarc:$1:$2:unauth",
    [SL_KEY_DMARCAGG] = "dmarcagg:$1:$2",
    [SL_KEY_DMARCPOL] = "dmarcpol:$1:$2",
    [SL_KEY_DMARCSENT] = "dmarcsent:$1:$2",
    [SL_KEY_PROVIDER] = "provider:$1:$2",
    [SL_KEY_FBDONE] = "fbdone:{$1}:$2",
    [SL_KEY_FBSEEN] = "fbseen:{$1}",
    [SL_KEY_EVENTS] = "events",
    [SL_KEY_BLOCKS] = "blocks",
    [SL_KEY_RAMPS] = "ramps",
    [SL_KEY_PDOMAINS] = "pdomains:$1",
    [SL_KEY_HOLDS] = "holds",
    [SL_KEY_RELABEL] = "relabel",
    [SL_KEY_CHARGE] = "charge:{$1}",
    [SL_KEY_KEYSPACE] = "keyspace",
    [SL_KEY_SUPPB] = "suppb:{$1}:$2",
};

/*
 * The names of keyspace format 1 (before hash tags), for sluicectl
 * migrate and the start-up check (keyspace_version.c); NULL: unchanged.
 */
static const char *const old_templates[SL_KEYS] = {
    [SL_KEY_SUPP] = "supp:$1:$2",
    [SL_KEY_SOFT] = "soft:$1",
    [SL_KEY_LIMITS] = "limits",
    [SL_KEY_LIMIT] = "limit:$1",
    [SL_KEY_LIMITS_SEEDED] = "limits:seeded",
    [SL_KEY_MODE] = "mode",
    [SL_KEY_RATE] = "rate:$1:$2",
    [SL_KEY_QUOTA] = "quota:$1:$2:$3",
    [SL_KEY_RCPTS] = "rcpts:$1",
    [SL_KEY_FBDONE] = "fbdone:$1",
    [SL_KEY_FBSEEN] = "fbseen:$1",
    [SL_KEY_CHARGE] = "charge:$1",
};

/* Parts that are a scope ("cat:news" holds a colon): bit i for part i+1. */
static const unsigned scope_parts[SL_KEYS] = {
    [SL_KEY_SUPP] = 1,
};

/* sl_key_template - the template of a kind, "" for an unknown kind */
const char *
sl_key_template(enum sl_key_kind kind)
{
	return (unsigned)kind < SL_KEYS ? templates[kind] : "";
}

/* sl_key_old_template - a kind's format-1 template, NULL when it did not change */
const char *
sl_key_old_template(enum sl_key_kind kind)
{
	return (unsigned)kind < SL_KEYS ? old_templates[kind] : NULL;
}

/* tmpl_nparts - how many parts a template takes */
static int
tmpl_nparts(const char *t)
{
	int n = 0;

	for (; *t; t++)
		if (t[0] == '$' && t[1] >= '1' && t[1] <= '0' + SL_KEY_PARTS)
			n++;
	return n;
}

/* sl_key_nparts - how many parts a kind's template takes */
int
sl_key_nparts(enum sl_key_kind kind)
{
	return tmpl_nparts(sl_key_template(kind));
}

/* put - append a string to out at *o; -1 when it does not fit */
static int
put(char *out, size_t outlen, size_t *o, const char *s, size_t len)
{
	if (*o + len >= outlen)
		return -1;
	memcpy(out + *o, s, len);
	*o += len;
	out[*o] = '\0';
	return 0;
}

/* sl_key - prefix + the template of kind with its parts */
int
sl_key(char *out, size_t outlen, const char *prefix, enum sl_key_kind kind, ...)
{
	va_list ap;
	int rc;

	va_start(ap, kind);
	rc = sl_keyv(out, outlen, prefix, kind, ap);
	va_end(ap);
	return rc;
}

/* expand - prefix + template t with its parts */
static int
expand(char *out, size_t outlen, const char *prefix, const char *t, const char *const *part)
{
	size_t o = 0;

	if (outlen == 0 || t == NULL || *t == '\0')
		return -1;
	out[0] = '\0';
	if (put(out, outlen, &o, prefix ? prefix : "", prefix ? strlen(prefix) : 0) < 0)
		return -1;
	for (; *t; t++) {
		if (t[0] == '$' && t[1] >= '1' && t[1] <= '0' + SL_KEY_PARTS) {
			const char *v = part[t[1] - '1'];

			if (v == NULL || *v == '\0' || put(out, outlen, &o, v, strlen(v)) < 0)
				return -1;
			t++;
		} else if (put(out, outlen, &o, t, 1) < 0)
			return -1;
	}
	return 0;
}

/* sl_keyv - sl_key() with a va_list */
int
sl_keyv(char *out, size_t outlen, const char *prefix, enum sl_key_kind kind, va_list ap)
{
	const char *part[SL_KEY_PARTS] = {NULL};
	int n = sl_key_nparts(kind);

	for (int i = 0; i < n; i++)
		part[i] = va_arg(ap, const char *);
	return expand(out, outlen, prefix, sl_key_template(kind), part);
}

/* sl_key_parts_name - prefix + the kind's template filled with parts p */
int
sl_key_parts_name(char *out, size_t outlen, const char *prefix, enum sl_key_kind kind,
                  const sl_key_parts *p)
{
	const char *part[SL_KEY_PARTS] = {p->part[0], p->part[1], p->part[2]};

	return p->n == sl_key_nparts(kind)
	           ? expand(out, outlen, prefix, sl_key_template(kind), part)
	           : -1;
}

/* sl_key_template_full - prefix + template, for sl_key_fill() in a script */
int
sl_key_template_full(char *out, size_t outlen, const char *prefix, enum sl_key_kind kind)
{
	int n = snprintf(out, outlen, "%s%s", prefix ? prefix : "", sl_key_template(kind));

	return n < 0 || (size_t)n >= outlen || *sl_key_template(kind) == '\0' ? -1 : 0;
}

/* literal_len - length of the literal text at t, up to the next part or the end */
static size_t
literal_len(const char *t)
{
	size_t n = 0;

	while (t[n] && !(t[n] == '$' && t[n + 1] >= '1' && t[n + 1] <= '0' + SL_KEY_PARTS))
		n++;
	return n;
}

/*
 * take_part - one part of a key at *k, ending at the literal lit (or the
 * end); a scope part holds one colon unless it is "global"
 */
static int
take_part(const char **k, const char *lit, size_t litlen, int last, int scope, char *out)
{
	const char *end, *from = *k;
	size_t klen = strlen(*k);

	if (scope && strncmp(*k, "global", 6) != 0) {
		if ((from = strchr(*k, ':')) == NULL)
			return -1;
		from++;
	}

	if (litlen == 0)
		end = *k + klen;
	else if (last) {
		if (klen < litlen || strcmp(*k + klen - litlen, lit) != 0)
			return -1;
		end = *k + klen - litlen;
	} else {
		char needle[64];

		if (litlen >= sizeof(needle))
			return -1;
		memcpy(needle, lit, litlen);
		needle[litlen] = '\0';
		if ((end = strstr(from, needle)) == NULL)
			return -1;
	}
	if (end == *k || (size_t)(end - *k) >= SL_KEY_MAX)
		return -1;
	memcpy(out, *k, (size_t)(end - *k));
	out[end - *k] = '\0';
	*k = end;
	return 0;
}

/* parse - the parts of key under template t (scope parts: kind's) */
static int
parse(const char *t, const char *key, const char *prefix, enum sl_key_kind kind, sl_key_parts *p)
{
	const char *k = key;
	size_t plen = prefix ? strlen(prefix) : 0;
	int n = t ? tmpl_nparts(t) : 0;

	memset(p, 0, sizeof(*p));
	if (t == NULL || *t == '\0' || strncmp(key, prefix ? prefix : "", plen) != 0)
		return -1;
	k += plen;
	while (*t) {
		size_t ll = literal_len(t);

		if (ll > 0) {
			if (strncmp(k, t, ll) != 0)
				return -1;
			k += ll, t += ll;
			continue;
		}
		t += 2; /* a part: $N */
		ll = literal_len(t);
		if (take_part(&k, t, ll, p->n == n - 1, (scope_parts[kind] >> p->n) & 1,
		              p->part[p->n]) < 0)
			return -1;
		p->n++;
	}
	return *k == '\0' && p->n == n ? 0 : -1;
}

/* sl_key_parse - the parts of a key of kind; -1 when it is not one */
int
sl_key_parse(const char *key, const char *prefix, enum sl_key_kind kind, sl_key_parts *p)
{
	return parse(sl_key_template(kind), key, prefix, kind, p);
}

/*
 * sl_key_old_kind - the kind whose format-1 name key is (and not also a
 * name of today's format), its parts in p; -1 when none
 */
int
sl_key_old_kind(const char *key, const char *prefix, sl_key_parts *p)
{
	sl_key_parts now;

	for (int k = 0; k < SL_KEYS; k++)
		if (old_templates[k] && parse(old_templates[k], key, prefix, k, p) == 0 &&
		    sl_key_parse(key, prefix, k, &now) < 0)
			return k;
	return -1;
}

/* sl_key_glob_escape - in with SCAN's glob metacharacters escaped */
void
sl_key_glob_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in && o + 2 < outlen; in++) {
		if (strchr("*?[]\\", *in))
			out[o++] = '\\';
		out[o++] = *in;
	}
	if (outlen > 0)
		out[o] = '\0';
}

/*
 * sl_key_scratch - <prefix>moving:{<tag>}, a name in the Cluster slot of
 * key (its hash tag, or all of key as the tag) for a value on its way
 * there from another slot (sluicectl's moves across slots); -1 when it
 * does not fit
 */
int
sl_key_scratch(char *out, size_t outlen, const char *prefix, const char *key)
{
	const char *o = strchr(key, '{'), *c = o ? strchr(o + 1, '}') : NULL;
	int n;

	if (c != NULL && c > o + 1)
		n = snprintf(out, outlen, "%smoving:%.*s", prefix, (int)(c - o + 1), o);
	else
		n = snprintf(out, outlen, "%smoving:{%s}", prefix, key);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* sl_key_provider_field - "tenant:<tenant|->:<category|->" (doc/redis-keys.md) */
int
sl_key_provider_field(char *out, size_t outlen, const char *tenant, const char *category)
{
	int n = snprintf(out, outlen, "tenant:%s:%s", tenant, category);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* sl_key_day - yyyymmdd (UTC) of t, as stats and day keys carry it */
void
sl_key_day(long long t, char out[9])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (strftime(out, 9, "%Y%m%d", &tm) == 0)
		out[0] = '\0';
}

/* sl_scope_kind_name - "global", "category" or "tenant", as replies name a list */
const char *
sl_scope_kind_name(enum sl_scope_kind kind)
{
	return kind == SL_SCOPE_CATEGORY ? "category"
	       : kind == SL_SCOPE_TENANT ? "tenant"
	                                 : "global";
}

/* sl_scope_make - a scope of a kind and name; -1 for a bad name */
int
sl_scope_make(sl_scope *s, enum sl_scope_kind kind, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	if (kind == SL_SCOPE_GLOBAL)
		return 0;
	if (name == NULL || !sl_live_label_ok(name))
		return -1;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return 0;
}

/* sl_scope_format - "global", "cat:<name>" or "tenant:<name>" */
int
sl_scope_format(const sl_scope *s, char *out, size_t outlen)
{
	int n;

	if (s->kind == SL_SCOPE_GLOBAL)
		n = snprintf(out, outlen, "global");
	else if (*s->name == '\0')
		return -1;
	else
		n = snprintf(out, outlen, "%s:%s", s->kind == SL_SCOPE_CATEGORY ? "cat" : "tenant",
		             s->name);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* sl_scope_parse - a scope as keys and sluicectl write it */
int
sl_scope_parse(const char *in, sl_scope *s)
{
	if (strcmp(in, "global") == 0)
		return sl_scope_make(s, SL_SCOPE_GLOBAL, NULL);
	if (strncmp(in, "cat:", 4) == 0)
		return sl_scope_make(s, SL_SCOPE_CATEGORY, in + 4);
	if (strncmp(in, "category:", 9) == 0)
		return sl_scope_make(s, SL_SCOPE_CATEGORY, in + 9);
	if (strncmp(in, "tenant:", 7) == 0)
		return sl_scope_make(s, SL_SCOPE_TENANT, in + 7);
	memset(s, 0, sizeof(*s));
	return -1;
}

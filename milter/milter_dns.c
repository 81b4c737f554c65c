/*
 * NAME
 *	milter_dns 3 - the one DNS layer of inbound verification
 * SYNOPSIS
 *	ml_dns *d = ml_dns_new(zone_file_or_NULL, timeout, err, errlen);
 *	status = ml_dns_query(d, name, ML_DNS_TXT, &ans); ml_dns_ans_free(&ans);
 *	ml_dns_free(d);
 * DESCRIPTION
 *	Real DNS goes through libresolv (res_nquery) with one private
 *	res_state per thread, so lookups of concurrent messages never share
 *	resolver state (libopendkim's and libspf2's own resolvers do), and
 *	with the per-try timeout and one retry set here. Answers are cached
 *	in-process (a small table, a mutex, the record's TTL capped at five
 *	minutes, negative and temporary answers kept one minute or less).
 *
 *	With a zone file nothing reaches the network: every name is answered
 *	from the file. The format, one record per line:
 *		name TYPE data
 *	TYPE is A, AAAA, MX ("pref host" or "host"), PTR, TXT (the rest of the
 *	line; "quoted" strings are joined, so a long record can be split), or
 *	the pseudo types SERVFAIL (every query for the name fails temporarily)
 *	and NXDOMAIN (documentation only: a name without lines does not
 *	exist). A name with records of other types answers NODATA. Blank
 *	lines and lines starting with "#" are ignored; names are matched
 *	without case and without a trailing dot.
 * OWNERSHIP
 *	An answer's strings belong to the caller until ml_dns_ans_free().
 *	An ml_dns is shared by every thread; free it after the last query.
 * ERRORS
 *	ml_dns_new() fails with err on an unreadable zone file or a bad line
 *	(file:line). A strange answer (a TXT record with a NUL byte, a
 *	malformed packet) is skipped or counted as a temporary error, never
 *	trusted. Nothing here blocks longer than timeout times two tries.
 */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "milter_verify.h"

#define CACHE_SLOTS 1024
#define CACHE_TTL_MAX 300
#define CACHE_NEG_TTL 60
#define ZONE_LINE_MAX 8192
#define ZONE_TYPE_SERVFAIL -1

typedef struct zone_rr {
	char *name;
	int type; /* ml_dns_type or ZONE_TYPE_SERVFAIL */
	char *data;
} zone_rr;

typedef struct cache_ent {
	char *name;
	int type;
	time_t expires;
	ml_dns_ans ans;
} cache_ent;

struct ml_dns {
	int timeout;
	int has_server;			/* ask only this server (ml_dns_set_server) */
	struct sockaddr_in server;
	zone_rr *zone; /* NULL: real DNS */
	size_t nzone;
	int use_zone;
	pthread_mutex_t lock;
	cache_ent cache[CACHE_SLOTS];
};

static const struct {
	const char *name;
	int type;
} types[] = {
    {"A", ML_DNS_A},     {"AAAA", ML_DNS_AAAA}, {"MX", ML_DNS_MX},
    {"PTR", ML_DNS_PTR}, {"TXT", ML_DNS_TXT},   {"SERVFAIL", ZONE_TYPE_SERVFAIL},
    {"NXDOMAIN", 0},
};

/* norm_name - a lowercase copy without the trailing dot; -1 when too long */
static int
norm_name(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);

	if (n && in[n - 1] == '.')
		n--;
	if (n == 0 || n >= outlen || n >= ML_DNS_NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[n] = '\0';
	return 0;
}

/* unquote - TXT data: "a" "b" joined to ab; unquoted text as it is */
static char *
unquote(const char *s)
{
	char *out = sl_malloc(strlen(s) + 1), *o = out;

	if (*s != '"') {
		strcpy(out, s);
		return out;
	}
	while (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			*o++ = *s;
		}
		if (*s == '"')
			s++;
		s += strspn(s, " \t");
	}
	*o = '\0';
	return out;
}

/* ml_dns_zone_line - split "name TYPE data"; 0 ok, 1 blank or comment, -1 bad */
int
ml_dns_zone_line(const char *line, char *name, size_t namelen, enum ml_dns_type *type,
                 const char **data)
{
	char word[ML_DNS_NAME_MAX + 1], tname[16];
	size_t n;
	int found = 0;

	line += strspn(line, " \t");
	if (*line == '\0' || *line == '#' || *line == '\n' || *line == '\r')
		return 1;
	n = strcspn(line, " \t\r\n");
	if (n >= sizeof(word))
		return -1;
	memcpy(word, line, n);
	word[n] = '\0';
	if (norm_name(word, name, namelen) < 0)
		return -1;
	line += n;
	line += strspn(line, " \t");
	n = strcspn(line, " \t\r\n");
	if (n == 0 || n >= sizeof(tname))
		return -1;
	memcpy(tname, line, n);
	tname[n] = '\0';
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(types[i].name, tname) == 0) {
			*type = (enum ml_dns_type)types[i].type;
			found = 1;
		}
	line += n;
	*data = line + strspn(line, " \t");
	return found ? 0 : -1;
}

/* zone_add - keep one zone record; data without the line end */
static void
zone_add(ml_dns *d, const char *name, int type, const char *data)
{
	char buf[ZONE_LINE_MAX];
	size_t n = strcspn(data, "\r\n");

	snprintf(buf, sizeof(buf), "%.*s", (int)n, data);
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	d->zone = sl_realloc(d->zone, (d->nzone + 1) * sizeof(*d->zone));
	d->zone[d->nzone].name = sl_strdup(name);
	d->zone[d->nzone].type = type;
	d->zone[d->nzone++].data = type == ML_DNS_TXT ? unquote(buf) : sl_strdup(buf);
}

/* zone_load - read every line of the zone file; -1 with err */
static int
zone_load(ml_dns *d, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[ZONE_LINE_MAX], name[ML_DNS_NAME_MAX];
	enum ml_dns_type type;
	const char *data;
	int lineno = 0, rc;

	if (fp == NULL) {
		snprintf(err, errlen, "zone file %s: cannot open", path);
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		lineno++;
		if ((rc = ml_dns_zone_line(line, name, sizeof(name), &type, &data)) < 0) {
			snprintf(err, errlen,
			         "%s:%d: not \"name TYPE data\" (A, AAAA, MX, PTR, TXT, "
			         "SERVFAIL, NXDOMAIN)",
			         path, lineno);
			fclose(fp);
			return -1;
		}
		if (rc == 0 && type != 0)
			zone_add(d, name, (int)type, data);
	}
	fclose(fp);
	d->use_zone = 1;
	return 0;
}

/* ml_dns_new - a resolver: the zone file's, or real DNS with timeout seconds */
ml_dns *
ml_dns_new(const char *zone_file, int timeout, char *err, size_t errlen)
{
	ml_dns *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->timeout = timeout > 0 ? timeout : 5;
	pthread_mutex_init(&d->lock, NULL);
	if (zone_file && *zone_file && zone_load(d, zone_file, err, errlen) < 0) {
		ml_dns_free(d);
		return NULL;
	}
	return d;
}

/* ml_dns_set_server - ask only IP[:PORT] (IPv4), not /etc/resolv.conf's servers */
int
ml_dns_set_server(ml_dns *d, const char *server, char *err, size_t errlen)
{
	char ip[64];
	const char *colon = strchr(server, ':');
	long port = colon ? strtol(colon + 1, NULL, 10) : 53;

	snprintf(ip, sizeof(ip), "%.*s", (int)(colon ? (size_t)(colon - server) : strlen(server)),
	         server);
	memset(&d->server, 0, sizeof(d->server));
	d->server.sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &d->server.sin_addr) != 1 || port <= 0 || port > 65535) {
		snprintf(err, errlen, "nameserver \"%s\": use an IPv4 address, optionally :PORT", server);
		return -1;
	}
	d->server.sin_port = htons((unsigned short)port);
	d->has_server = 1;
	return 0;
}

/* ml_dns_ans_free - release an answer's strings */
void
ml_dns_ans_free(ml_dns_ans *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->rr[i]);
	a->n = 0;
}

/* ml_dns_free - release the zone and the cache */
void
ml_dns_free(ml_dns *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nzone; i++) {
		free(d->zone[i].name);
		free(d->zone[i].data);
	}
	free(d->zone);
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		free(d->cache[i].name);
		ml_dns_ans_free(&d->cache[i].ans);
	}
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* zone_query - the answer from the zone file */
static enum ml_dns_status
zone_query(const ml_dns *d, const char *name, int type, ml_dns_ans *a)
{
	int exists = 0;

	for (size_t i = 0; i < d->nzone; i++) {
		if (strcmp(d->zone[i].name, name) != 0)
			continue;
		if (d->zone[i].type == ZONE_TYPE_SERVFAIL) {
			ml_dns_ans_free(a);
			return a->status = ML_DNS_TEMP;
		}
		exists = 1;
		if (d->zone[i].type == type && a->n < ML_DNS_ANS_MAX)
			a->rr[a->n++] = sl_strdup(d->zone[i].data);
	}
	if (a->n)
		return a->status = ML_DNS_FOUND;
	return a->status = exists ? ML_DNS_NODATA : ML_DNS_NXDOMAIN;
}

/* rr_text - one answer record as text, or NULL to skip it */
static char *
rr_text(ns_msg *msg, ns_rr *rr)
{
	const unsigned char *p = ns_rr_rdata(*rr), *end = p + ns_rr_rdlen(*rr);
	char host[NS_MAXDNAME], buf[INET6_ADDRSTRLEN + 8], *out;
	size_t o = 0;

	switch (ns_rr_type(*rr)) {
	case ns_t_a:
	case ns_t_aaaa:
		if (ns_rr_rdlen(*rr) != (ns_rr_type(*rr) == ns_t_a ? 4 : 16))
			return NULL;
		inet_ntop(ns_rr_type(*rr) == ns_t_a ? AF_INET : AF_INET6, p, buf, sizeof(buf));
		return sl_strdup(buf);
	case ns_t_mx:
	case ns_t_ptr:
		if (ns_rr_type(*rr) == ns_t_mx && ns_rr_rdlen(*rr) < 3)
			return NULL;
		if (dn_expand(ns_msg_base(*msg), ns_msg_end(*msg),
		              p + (ns_rr_type(*rr) == ns_t_mx ? 2 : 0), host, sizeof(host)) < 0)
			return NULL;
		if (ns_rr_type(*rr) == ns_t_ptr)
			return sl_strdup(host);
		snprintf(buf, sizeof(buf), "%u ", (unsigned)ns_get16(p));
		out = sl_malloc(strlen(buf) + strlen(host) + 1);
		return strcat(strcpy(out, buf), host);
	default: /* TXT: <len><bytes>... joined */
		out = sl_malloc((size_t)(end - p) + 1);
		while (p < end && p + 1 + *p <= end) {
			if (memchr(p + 1, '\0', *p)) {
				free(out);
				return NULL;
			}
			memcpy(out + o, p + 1, *p);
			o += *p;
			p += 1 + *p;
		}
		out[o] = '\0';
		return out;
	}
}

/* thread_res - this thread's resolver state, set up on first use */
static res_state
thread_res(int timeout)
{
	static __thread struct __res_state rs;
	static __thread int ready;

	if (!ready) {
		if (res_ninit(&rs) != 0)
			return NULL;
		rs.retrans = timeout;
		rs.retry = 2;
		ready = 1;
	}
	return &rs;
}

/* res_query_answer - one real lookup; *ttl the smallest answer TTL */
static enum ml_dns_status
res_query_answer(ml_dns *d, const char *name, int type, ml_dns_ans *a, unsigned *ttl)
{
	static __thread unsigned char pkt[65536];
	res_state rs = thread_res(d->timeout);
	ns_msg msg;
	ns_rr rr;
	int len;

	*ttl = CACHE_NEG_TTL;
	if (rs == NULL)
		return a->status = ML_DNS_TEMP;
	if (d->has_server) {
		rs->nsaddr_list[0] = d->server;
		rs->nscount = 1;
	}
	len = res_nquery(rs, name, ns_c_in, type, pkt, sizeof(pkt));
	if (len < 0) {
		if (rs->res_h_errno == HOST_NOT_FOUND)
			return a->status = ML_DNS_NXDOMAIN;
		return a->status = rs->res_h_errno == NO_DATA ? ML_DNS_NODATA : ML_DNS_TEMP;
	}
	if (ns_initparse(pkt, len, &msg) < 0)
		return a->status = ML_DNS_TEMP;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && a->n < ML_DNS_ANS_MAX; i++)
		if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 && (int)ns_rr_type(rr) == type &&
		    (a->rr[a->n] = rr_text(&msg, &rr)) != NULL) {
			a->n++;
			if (ns_rr_ttl(rr) < *ttl || a->n == 1)
				*ttl = ns_rr_ttl(rr);
		}
	if (*ttl > CACHE_TTL_MAX)
		*ttl = CACHE_TTL_MAX;
	return a->status = a->n ? ML_DNS_FOUND : ML_DNS_NODATA;
}

/* slot - the cache slot of (name, type) */
static size_t
slot(const char *name, int type)
{
	unsigned long h = 5381 + (unsigned long)type;

	for (; *name; name++)
		h = h * 33 + (unsigned char)*name;
	return h % CACHE_SLOTS;
}

/* copy_ans - a deep copy of an answer */
static void
copy_ans(ml_dns_ans *dst, const ml_dns_ans *src)
{
	dst->status = src->status;
	dst->n = src->n;
	for (int i = 0; i < src->n; i++)
		dst->rr[i] = sl_strdup(src->rr[i]);
}

/* cache_get - a cached answer for (name, type); 1 found */
static int
cache_get(ml_dns *d, const char *name, int type, ml_dns_ans *a)
{
	cache_ent *e = &d->cache[slot(name, type)];
	int hit = 0;

	pthread_mutex_lock(&d->lock);
	if (e->name && e->type == type && strcmp(e->name, name) == 0 && e->expires > time(NULL)) {
		copy_ans(a, &e->ans);
		hit = 1;
	}
	pthread_mutex_unlock(&d->lock);
	return hit;
}

/* cache_put - remember an answer for ttl seconds */
static void
cache_put(ml_dns *d, const char *name, int type, const ml_dns_ans *a, unsigned ttl)
{
	cache_ent *e = &d->cache[slot(name, type)];

	if (ttl == 0)
		return;
	pthread_mutex_lock(&d->lock);
	free(e->name);
	ml_dns_ans_free(&e->ans);
	e->name = sl_strdup(name);
	e->type = type;
	e->expires = time(NULL) + (time_t)ttl;
	copy_ans(&e->ans, a);
	pthread_mutex_unlock(&d->lock);
}

/* ml_dns_query - the answers of one type for name */
enum ml_dns_status
ml_dns_query(ml_dns *d, const char *name, enum ml_dns_type type, ml_dns_ans *a)
{
	char n[ML_DNS_NAME_MAX];
	unsigned ttl;

	a->n = 0;
	if (norm_name(name, n, sizeof(n)) < 0)
		return a->status = ML_DNS_NXDOMAIN; /* no such name can exist */
	if (d->use_zone)
		return zone_query(d, n, (int)type, a);
	if (cache_get(d, n, (int)type, a))
		return a->status;
	res_query_answer(d, n, (int)type, a, &ttl);
	cache_put(d, n, (int)type, a, a->status == ML_DNS_TEMP ? 5 : ttl);
	return a->status;
}

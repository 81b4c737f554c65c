/*
 * NAME
 *	dns 3 - real DNS for every Sluice lookup: libresolv, timeouts, a cache
 * SYNOPSIS
 *	sl_dns *d = sl_dns_new(zone_file_or_NULL, timeout, err, errlen);
 *	sl_dns_set_server(d, "IP[:PORT]", err, errlen);
 *	status = sl_dns_query(d, name, SL_DNS_TXT, &ans); sl_dns_ans_free(&ans);
 *	sl_dns_free(d);
 * DESCRIPTION
 *	Real DNS goes through libresolv (res_nquery) with one private
 *	res_state per thread, so lookups of concurrent messages never share
 *	resolver state (libopendkim's and libspf2's own resolvers do), and
 *	with the per-try timeout and one retry set here. Answers are cached
 *	in-process (a small table, a mutex, the record's TTL capped at five
 *	minutes, negative answers one minute or less, temporary ones five
 *	seconds). sl_dns_set_server() sends every query to that one server
 *	instead of /etc/resolv.conf's (config dns_nameserver, sluicectl
 *	--nameserver). With a zone file (dns_zone.c) nothing reaches the
 *	network: every name is answered from the file, uncached.
 * OWNERSHIP
 *	An answer's strings belong to the caller until sl_dns_ans_free().
 *	An sl_dns is shared by every thread; free it after the last query.
 * ERRORS
 *	sl_dns_new() fails with err on an unreadable zone file or a bad line
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
#include <time.h>

#include "dns.h"
#include "log.h"

#define CACHE_SLOTS 1024
#define CACHE_TTL_MAX 300
#define CACHE_NEG_TTL 60
#define CACHE_TEMP_TTL 5

typedef struct cache_ent {
	char *name;
	int type;
	time_t expires;
	sl_dns_ans ans;
} cache_ent;

struct sl_dns {
	int timeout;
	int has_server; /* ask only this server (sl_dns_set_server) */
	struct sockaddr_in server;
	sl_dns_zone *zone; /* NULL: real DNS */
	pthread_mutex_t lock;
	cache_ent cache[CACHE_SLOTS];
};

/* sl_dns_norm_name - a lowercase copy without the trailing dot; -1 when too long */
int
sl_dns_norm_name(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);

	if (n && in[n - 1] == '.')
		n--;
	if (n == 0 || n >= outlen || n >= SL_DNS_NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[n] = '\0';
	return 0;
}

/* sl_dns_new - a resolver: the zone file's, or real DNS with timeout seconds */
sl_dns *
sl_dns_new(const char *zone_file, int timeout, char *err, size_t errlen)
{
	sl_dns *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->timeout = timeout > 0 ? timeout : 5;
	pthread_mutex_init(&d->lock, NULL);
	if (zone_file && *zone_file &&
	    (d->zone = sl_dns_zone_load(zone_file, err, errlen)) == NULL) {
		sl_dns_free(d);
		return NULL;
	}
	return d;
}

/* sl_dns_set_server - ask only IP[:PORT] (IPv4), not /etc/resolv.conf's servers */
int
sl_dns_set_server(sl_dns *d, const char *server, char *err, size_t errlen)
{
	char ip[64];
	const char *colon = strchr(server, ':');
	long port = colon ? strtol(colon + 1, NULL, 10) : 53;

	snprintf(ip, sizeof(ip), "%.*s", (int)(colon ? (size_t)(colon - server) : strlen(server)),
	         server);
	memset(&d->server, 0, sizeof(d->server));
	d->server.sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &d->server.sin_addr) != 1 || port <= 0 || port > 65535) {
		snprintf(err, errlen, "nameserver \"%s\": use an IPv4 address, optionally :PORT",
		         server);
		return -1;
	}
	d->server.sin_port = htons((unsigned short)port);
	d->has_server = 1;
	return 0;
}

/* sl_dns_ans_free - release an answer's strings */
void
sl_dns_ans_free(sl_dns_ans *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->rr[i]);
	a->n = 0;
}

/* sl_dns_free - release the zone and the cache */
void
sl_dns_free(sl_dns *d)
{
	if (d == NULL)
		return;
	sl_dns_zone_free(d->zone);
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		free(d->cache[i].name);
		sl_dns_ans_free(&d->cache[i].ans);
	}
	pthread_mutex_destroy(&d->lock);
	free(d);
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
static enum sl_dns_status
res_query_answer(sl_dns *d, const char *name, int type, sl_dns_ans *a, unsigned *ttl)
{
	static __thread unsigned char pkt[65536];
	res_state rs = thread_res(d->timeout);
	ns_msg msg;
	ns_rr rr;
	int len;

	*ttl = CACHE_NEG_TTL;
	if (rs == NULL)
		return a->status = SL_DNS_TEMP;
	if (d->has_server) {
		rs->nsaddr_list[0] = d->server;
		rs->nscount = 1;
	}
	len = res_nquery(rs, name, ns_c_in, type, pkt, sizeof(pkt));
	if (len < 0) {
		if (rs->res_h_errno == HOST_NOT_FOUND)
			return a->status = SL_DNS_NXDOMAIN;
		return a->status = rs->res_h_errno == NO_DATA ? SL_DNS_NODATA : SL_DNS_TEMP;
	}
	if (ns_initparse(pkt, len, &msg) < 0)
		return a->status = SL_DNS_TEMP;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && a->n < SL_DNS_ANS_MAX; i++)
		if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 && (int)ns_rr_type(rr) == type &&
		    (a->rr[a->n] = rr_text(&msg, &rr)) != NULL) {
			a->n++;
			if (ns_rr_ttl(rr) < *ttl || a->n == 1)
				*ttl = ns_rr_ttl(rr);
		}
	if (*ttl > CACHE_TTL_MAX)
		*ttl = CACHE_TTL_MAX;
	return a->status = a->n ? SL_DNS_FOUND : SL_DNS_NODATA;
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
copy_ans(sl_dns_ans *dst, const sl_dns_ans *src)
{
	dst->status = src->status;
	dst->n = src->n;
	for (int i = 0; i < src->n; i++)
		dst->rr[i] = sl_strdup(src->rr[i]);
}

/* cache_get - a cached answer for (name, type); 1 found */
static int
cache_get(sl_dns *d, const char *name, int type, sl_dns_ans *a)
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
cache_put(sl_dns *d, const char *name, int type, const sl_dns_ans *a, unsigned ttl)
{
	cache_ent *e = &d->cache[slot(name, type)];

	if (ttl == 0)
		return;
	pthread_mutex_lock(&d->lock);
	free(e->name);
	sl_dns_ans_free(&e->ans);
	e->name = sl_strdup(name);
	e->type = type;
	e->expires = time(NULL) + (time_t)ttl;
	copy_ans(&e->ans, a);
	pthread_mutex_unlock(&d->lock);
}

/* sl_dns_query - the answers of one type for name */
enum sl_dns_status
sl_dns_query(sl_dns *d, const char *name, enum sl_dns_type type, sl_dns_ans *a)
{
	char n[SL_DNS_NAME_MAX];
	unsigned ttl;

	a->n = 0;
	if (sl_dns_norm_name(name, n, sizeof(n)) < 0)
		return a->status = SL_DNS_NXDOMAIN; /* no such name can exist */
	if (d->zone)
		return sl_dns_zone_query(d->zone, n, (int)type, a);
	if (cache_get(d, n, (int)type, a))
		return a->status;
	res_query_answer(d, n, (int)type, a, &ttl);
	cache_put(d, n, (int)type, a, a->status == SL_DNS_TEMP ? CACHE_TEMP_TTL : ttl);
	return a->status;
}

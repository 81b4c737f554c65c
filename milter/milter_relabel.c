/*
 * NAME
 *	milter_relabel 3 - a burnt subdomain replaced: sluice:relabel overrides
 * SYNOPSIS
 *	ml_relabel_refresh(conf)	before a decision: re-read when stale
 *	label = ml_relabel_label(kind, name, configured, buf, len)
 * DESCRIPTION
 *	The hash <prefix>relabel (doc/redis-keys.md), written by "sluicectl
 *	subdomain move", maps "category:<name>" or "tenant:<name>" to a new
 *	subdomain label that replaces the configured one for new mail: the
 *	envelope sender, the signing domain and (with rewrite_from) the From
 *	move there, while bounces and unsubscribes of mail already sent keep
 *	coming to the old subdomain (its tokens stay valid: they do not name
 *	the domain).
 *
 *	The hash is read at most every REFRESH_S seconds by whichever thread
 *	finds the copy stale (one HGETALL, not one per message); the copy is
 *	shared under a mutex. When Redis cannot answer, the last copy stays
 *	in force (logged at most once a minute). A value that is not a DNS
 *	label (1-63 of a-z 0-9 -, not starting or ending with -) is ignored
 *	and logged.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyspace.h"
#include "live.h"
#include "log.h"
#include "milter.h"

#define REFRESH_S 2
#define RELABEL_MAX 256
#define NAME_MAX_ 40

typedef struct relabel {
	char field[NAME_MAX_]; /* "category:news" */
	char label[64];
} relabel;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static relabel table[RELABEL_MAX];
static int ntable;
static time_t fetched, warned;
static int fetching;

/* load - the hash's fields into a new table (the caller holds nothing) */
static int
load(const sl_reply *rep, relabel *t)
{
	int n = 0;

	for (size_t i = 0; i + 1 < rep->elements && n < RELABEL_MAX; i += 2) {
		const char *f = rep->element[i]->str, *v = rep->element[i + 1]->str;

		if (f == NULL || v == NULL || strlen(f) >= NAME_MAX_ ||
		    (strncmp(f, "category:", 9) != 0 && strncmp(f, "tenant:", 7) != 0))
			continue;
		if (!sl_live_dns_label_ok(v)) {
			sl_warn("relabel %s = \"%.63s\": not a DNS label, ignored", f, v);
			continue;
		}
		snprintf(t[n].field, sizeof(t[n].field), "%s", f);
		snprintf(t[n].label, sizeof(t[n].label), "%s", v);
		n++;
	}
	return n;
}

/* ml_relabel_refresh - re-read the overrides when the copy is older than REFRESH_S */
void
ml_relabel_refresh(const ml_conf *c)
{
	static relabel next[RELABEL_MAX];
	char key[SL_KEY_MAX];
	const char *argv[2] = {"HGETALL", key};
	sl_reply *rep = NULL;
	time_t now = time(NULL);
	sl_redis *r;
	int n = -1;

	if (c->pool == NULL)
		return;
	pthread_mutex_lock(&lock);
	if (fetching || now - fetched < REFRESH_S) {
		pthread_mutex_unlock(&lock);
		return;
	}
	fetching = 1;
	pthread_mutex_unlock(&lock);
	if (sl_key(key, sizeof(key), c->redis.prefix, SL_KEY_RELABEL) < 0) {
		pthread_mutex_lock(&lock);
		fetching = 0;
		pthread_mutex_unlock(&lock);
		return;
	}
	r = ml_redis_get(c->pool);
	if (sl_redis_cmdv(r, &rep, 2, argv, NULL) == 0 && rep->type == SL_REPLY_ARRAY)
		n = load(rep, next); /* only this thread fetches: next is ours */
	else if (now - warned >= 60) {
		warned = now;
		sl_warn("redis HGETALL %s: %s: subdomain overrides unchanged", key,
		        rep && rep->type == SL_REPLY_ERROR ? rep->str : sl_redis_errstr(r));
	}
	sl_reply_free(rep);
	ml_redis_put(c->pool, r);
	pthread_mutex_lock(&lock);
	if (n >= 0) {
		memcpy(table, next, (size_t)n * sizeof(*table));
		ntable = n;
	}
	fetched = now, fetching = 0;
	pthread_mutex_unlock(&lock);
}

/* ml_relabel_label - the label in force for a category or tenant: the override, else configured */
const char *
ml_relabel_label(const char *kind, const char *name, const char *configured, char *buf, size_t len)
{
	char field[NAME_MAX_];
	const char *out = configured;

	snprintf(field, sizeof(field), "%s:%s", kind, name);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < ntable; i++)
		if (strcmp(table[i].field, field) == 0) {
			snprintf(buf, len, "%s", table[i].label);
			out = buf;
			break;
		}
	pthread_mutex_unlock(&lock);
	return out;
}

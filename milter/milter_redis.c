/*
 * NAME
 *	milter_redis 3 - the milter's Redis keys: SASL entries, records, counters
 * SYNOPSIS
 *	ml_sasl_lookup(conf, user, &entry, err, len)	0, or -1 when Redis failed
 *	ml_record_message(conf, qid, decision, sasl, sender, nrcpt, msgid)
 *	ml_redis_get(pool), ml_redis_put(pool, handle)	borrow a handle
 *	ml_redis_prepare()	script SHA1s, once before the threads start
 * DESCRIPTION
 *	Keys (prefix from the redis section, default "sluice:"):
 *	  <prefix>sasl:<user>	hash, written by the operator: category,
 *				tenant, domains (comma-separated From domains)
 *	  <prefix>msg:<qid>	hash written per outbound message: category,
 *				tenant, sasl, sender, msgid (the token's);
 *				expires after message_ttl
 *				(default 7 days); read by sluice-logd
 *	  <prefix>stats:<yyyymmdd>:<tenant|->:<category|->
 *				hash; field "sent" += recipients (UTC day);
 *				sluice-feedback counts bounces in the same hash
 *	Handles come from a small pool per config snapshot (a handle is not
 *	thread-safe; libmilter runs a thread per connection), so a reload
 *	that changes the redis section takes effect for new messages.
 * ERRORS
 *	A failed SASL lookup is internal trouble: the caller applies
 *	on_internal_error. An entry field longer than the milter holds is
 *	such a failure too, never cut short. A failed record is logged and otherwise ignored:
 *	counting must never hold mail back.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "milter.h"

#define POOL_IDLE_MAX	16

struct ml_redis_pool {
	pthread_mutex_t lock;
	sl_redis_opts opts;		/* strings borrowed from the snapshot */
	sl_redis *idle[POOL_IDLE_MAX];
	int	nidle;
};

static sl_script record_script = {
	.source =
	"redis.call('HINCRBY', KEYS[1], 'sent', ARGV[1])\n"
	"redis.call('HSET', KEYS[2], 'category', ARGV[2], 'tenant', ARGV[3],"
	" 'sasl', ARGV[4], 'sender', ARGV[5], 'msgid', ARGV[7])\n"
	"redis.call('EXPIRE', KEYS[2], ARGV[6])\n"
	"return 1\n",
};

/* ml_redis_prepare - compute every script's SHA1 once, before threads share them */
void
ml_redis_prepare(void)
{
	(void) sl_script_sha1(&record_script);
	ml_supp_prepare();
}

/* ml_redis_pool_new - an empty pool; handles connect on first use */
ml_redis_pool *
ml_redis_pool_new(const sl_redis_opts *opts)
{
	ml_redis_pool *p = sl_calloc(1, sizeof(*p));

	pthread_mutex_init(&p->lock, NULL);
	p->opts = *opts;
	return p;
}

/* ml_redis_pool_free - close every idle handle; NULL is a no-op */
void
ml_redis_pool_free(ml_redis_pool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->nidle; i++)
		sl_redis_free(p->idle[i]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* ml_redis_get - an idle handle of the pool, or a new one */
sl_redis *
ml_redis_get(ml_redis_pool *p)
{
	sl_redis *r = NULL;

	pthread_mutex_lock(&p->lock);
	if (p->nidle > 0)
		r = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->lock);
	return r ? r : sl_redis_new(&p->opts);
}

/* ml_redis_put - give a handle back (closed when the pool is full) */
void
ml_redis_put(ml_redis_pool *p, sl_redis *r)
{
	pthread_mutex_lock(&p->lock);
	if (p->nidle < POOL_IDLE_MAX) {
		p->idle[p->nidle++] = r;
		r = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	sl_redis_free(r);
}

/*
 * entry_field - copy one HGETALL field into the entry; -1 when it does not
 * fit (a cut domain list or name could allow another domain or tenant)
 */
static int
entry_field(ml_sasl_entry *e, const char *name, const char *value)
{
	char   *dst = strcmp(name, "category") == 0 ? e->category
	    : strcmp(name, "tenant") == 0 ? e->tenant : strcmp(name, "domains") == 0 ? e->domains : NULL;
	size_t	size = dst == e->domains ? sizeof(e->domains)
	    : dst == e->tenant ? sizeof(e->tenant) : sizeof(e->category);

	if (dst == NULL)
		return 0;
	return (size_t) snprintf(dst, size, "%s", value) < size ? 0 : -1;
}

/* ml_sasl_lookup - the Redis entry of a SASL user; -1 on Redis trouble */
int
ml_sasl_lookup(const ml_conf *c, const char *user, ml_sasl_entry *e, char *err, size_t errlen)
{
	char	key[512];
	const char *argv[2] = {"HGETALL", key};
	sl_reply *rep = NULL;
	sl_redis *r;
	int	rc = 0;

	memset(e, 0, sizeof(*e));
	if (c->pool == NULL)
		return 0;
	snprintf(key, sizeof(key), "%ssasl:%s", c->redis.prefix, user);
	r = ml_redis_get(c->pool);
	if (sl_redis_cmdv(r, &rep, 2, argv, NULL) < 0) {
		snprintf(err, errlen, "redis: %s", sl_redis_errstr(r));
		rc = -1;
	} else if (rep->type != SL_REPLY_ARRAY) {
		snprintf(err, errlen, "redis HGETALL %s: %s", key,
			 rep->type == SL_REPLY_ERROR ? rep->str : "unexpected reply");
		rc = -1;
	} else {
		e->found = rep->elements > 0;
		for (size_t i = 0; rc == 0 && i + 1 < rep->elements; i += 2)
			if (rep->element[i]->str && rep->element[i + 1]->str
			    && entry_field(e, rep->element[i]->str, rep->element[i + 1]->str) < 0) {
				snprintf(err, errlen, "redis HGETALL %s: field %s too long", key,
					 rep->element[i]->str);
				rc = -1;
			}
	}
	sl_reply_free(rep);
	ml_redis_put(c->pool, r);
	return rc;
}

/* ml_record_message - count the message and remember its queue id */
void
ml_record_message(const ml_conf *c, const ml_decision *d, const char *qid,
		  const char *sasl, const char *sender, size_t nrcpt, const char *msgid)
{
	char	stats[256], msg[256], day[16], n[32], ttl[32];
	time_t	now = time(NULL);
	struct tm tm;
	const char *argv[9];
	sl_reply *rep = NULL;
	sl_redis *r;

	if (c->pool == NULL || !c->stats || qid == NULL || *qid == '\0')
		return;
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	snprintf(stats, sizeof(stats), "%sstats:%s:%s:%s", c->redis.prefix, day,
		 d->tenant_name[0] ? d->tenant_name : "-", d->category ? d->category->name : "-");
	snprintf(msg, sizeof(msg), "%smsg:%s", c->redis.prefix, qid);
	snprintf(n, sizeof(n), "%zu", nrcpt);
	snprintf(ttl, sizeof(ttl), "%ld", c->msg_ttl);
	argv[0] = stats, argv[1] = msg, argv[2] = n;
	argv[3] = d->category ? d->category->name : "";
	argv[4] = d->tenant_name, argv[5] = sasl ? sasl : "", argv[6] = sender, argv[7] = ttl;
	argv[8] = msgid ? msgid : "";
	r = ml_redis_get(c->pool);
	if (sl_redis_eval(r, &record_script, &rep, 2, 9, argv, NULL) < 0)
		sl_warn("redis: message not counted: %s", sl_redis_errstr(r));
	else if (rep->type == SL_REPLY_ERROR)
		sl_warn("redis: message not counted: %s", rep->str);
	sl_reply_free(rep);
	ml_redis_put(c->pool, r);
}

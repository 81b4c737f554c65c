/*
 * NAME
 *	milter_redis 3 - the milter's Redis keys: SASL entries, records, counters
 * SYNOPSIS
 *	ml_sasl_lookup(conf, user, &entry, err, len)	0, or -1 when Redis failed
 *	ml_record_message(conf, decision, qid, sasl, sender, nsent, msgid,
 *			  rcpts, nrcpt)		-1 when the recipient record failed
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
 *	  <prefix>rcpts:<msgid>	set of the keyed hashes (sl_token_rcpt_hash())
 *				of the message's final recipients, for a
 *				message with tokens; expires after the token
 *				lifetime plus a day; read by sluice-feedback
 *				to bind a bounce to a real recipient
 *	Handles come from a small pool per config snapshot (a handle is not
 *	thread-safe; libmilter runs a thread per connection), so a reload
 *	that changes the redis section takes effect for new messages.
 * ERRORS
 *	A failed SASL lookup is internal trouble: the caller applies
 *	on_internal_error. An entry field longer than the milter holds is
 *	such a failure too, never cut short. A failed count is logged and
 *	otherwise ignored: counting must never hold mail back. The recipient
 *	record of a message with tokens is written in the same script (one
 *	round trip); when it fails, the caller applies on_internal_error too.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "charge.h"
#include "live.h"
#include "log.h"
#include "milter.h"

#define POOL_IDLE_MAX	16

struct ml_redis_pool {
	pthread_mutex_t lock;
	sl_redis_opts opts;		/* strings borrowed from the snapshot */
	sl_redis *idle[POOL_IDLE_MAX];
	int	nidle;
};

/*
 * KEYS stats, msg, rcpts; ARGV n, category, tenant, sasl, sender, msg ttl,
 * count ('1' or '0'), rcpts ttl, msgid, then the recipient hashes (maybe none)
 */
static sl_script record_script = {
	.source =
	"if ARGV[7] == '1' then\n"
	"  redis.call('HINCRBY', KEYS[1], 'sent', ARGV[1])\n"
	"  redis.call('HSET', KEYS[2], 'category', ARGV[2], 'tenant', ARGV[3],"
	" 'sasl', ARGV[4], 'sender', ARGV[5], 'msgid', ARGV[9])\n"
	"  redis.call('EXPIRE', KEYS[2], ARGV[6])\n"
	"end\n"
	"if #ARGV >= 10 then\n"
	"  for i = 10, #ARGV, 100 do\n"
	"    redis.call('SADD', KEYS[3], unpack(ARGV, i, math.min(i + 99, #ARGV)))\n"
	"  end\n"
	"  redis.call('EXPIRE', KEYS[3], ARGV[8])\n"
	"end\n"
	"return 1\n",
};

/* ml_redis_prepare - compute every script's SHA1 once, before threads share them */
void
ml_redis_prepare(void)
{
	(void) sl_script_sha1(&record_script);
	sl_charge_prepare();
	ml_supp_prepare();
	ml_dmarcagg_prepare();
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

/*
 * warn_invalid - a field of a SASL entry written by hand that lib/live.c
 * refuses: logged once per key, field and value (the last SEEN_MAX kept),
 * not per message. The value is used as written (an invalid category is
 * unknown, an invalid domain matches nothing): never more than intended.
 */
#define SEEN_MAX 256
static void
warn_invalid(const char *key, const char *field, const char *value)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char *seen[SEEN_MAX];
	static int nseen;
	char	err[300], id[1100];
	int	found = 0;

	if (sl_live_sasl_field(field, value, err, sizeof(err)) == 0)
		return;
	snprintf(id, sizeof(id), "%s\n%s\n%.200s", key, field, value);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nseen && !found; i++)
		found = strcmp(seen[i], id) == 0;
	if (!found) {
		if (nseen == SEEN_MAX) {
			for (int i = 0; i < nseen; i++)
				free(seen[i]);
			nseen = 0;
		}
		seen[nseen++] = sl_strdup(id);
	}
	pthread_mutex_unlock(&lock);
	if (!found)
		sl_warn("%s field %s: %s (written by hand? sluicectl sasl set refuses it)", key,
			field, err);
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
	if (sl_key(key, sizeof(key), c->redis.prefix, SL_KEY_SASL, user) < 0)
		return 0;
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
		for (size_t i = 0; i + 1 < rep->elements; i += 2)
			if (rep->element[i]->str && rep->element[i + 1]->str)
				warn_invalid(key, rep->element[i]->str, rep->element[i + 1]->str);
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

/* rcpt_hashes - argv entries for the recipient record; how many were added */
static size_t
rcpt_hashes(const ml_conf *c, const char *msgid, const char *const *rcpts, size_t nrcpt,
	    char (*hash)[SL_TOKEN_RCPT_HASH_LEN + 1], const char **argv)
{
	char	kid = c->ring.key[c->ring.current].kid;
	size_t	n = 0;

	for (size_t i = 0; i < nrcpt; i++)
		if (rcpts[i] && sl_token_rcpt_hash(&c->ring, kid, msgid, rcpts[i], hash[n]) == 0) {
			argv[n] = hash[n];
			n++;
		}
	return n;
}

/*
 * ml_record_message - count the message, remember its queue id and, when
 * it carries tokens (a category), write the keyed hashes of its final
 * recipients (NULL entries of rcpts are the suppressed ones) under
 * rcpts:<msgid> for sluice-feedback. -1 when that record failed: the
 * caller applies on_internal_error. A failed count alone is only logged.
 */
int
ml_record_message(const ml_conf *c, const ml_decision *d, const char *qid, const char *sasl,
		  const char *sender, size_t nsent, const char *msgid,
		  const char *const *rcpts, size_t nrcpt)
{
	char	stats[SL_KEY_MAX], msg[SL_KEY_MAX], rkey[SL_KEY_MAX], day[16], n[32], ttl[32],
		rttl[32];
	char	(*hash)[SL_TOKEN_RCPT_HASH_LEN + 1] = sl_calloc(nrcpt + 1, sizeof(*hash));
	const char **argv = sl_calloc(12 + nrcpt, sizeof(*argv));
	int	count = c->stats && qid != NULL && *qid != '\0', rc = 0;
	size_t	nhash = 0;
	time_t	now = time(NULL);
	sl_reply *rep = NULL;
	sl_redis *r;

	if (c->pool != NULL && c->have_key && d->category && msgid && *msgid)
		nhash = rcpt_hashes(c, msgid, rcpts, nrcpt, hash, argv + 12);
	if (c->pool == NULL || (!count && nhash == 0))
		goto done;
	sl_key_day(now, day);
	sl_key(stats, sizeof(stats), c->redis.prefix, SL_KEY_STATS, day,
	       d->tenant_name[0] ? d->tenant_name : "-", d->category ? d->category->name : "-");
	/* "-": not written (no queue id: not counted; no msgid: no hashes) */
	sl_key(msg, sizeof(msg), c->redis.prefix, SL_KEY_MSG, qid && *qid ? qid : "-");
	sl_key(rkey, sizeof(rkey), c->redis.prefix, SL_KEY_RCPTS, msgid && *msgid ? msgid : "-");
	snprintf(n, sizeof(n), "%zu", nsent);
	snprintf(ttl, sizeof(ttl), "%ld", c->msg_ttl);
	/* a day more than the lifetime: a bounce on a token's last valid day still finds it */
	snprintf(rttl, sizeof(rttl), "%ld", ((long) sl_token_ring_lifetime(&c->ring) + 1) * 86400L);
	argv[0] = stats, argv[1] = msg, argv[2] = rkey, argv[3] = n;
	argv[4] = d->category ? d->category->name : "", argv[5] = d->tenant_name;
	argv[6] = sasl ? sasl : "", argv[7] = sender, argv[8] = ttl;
	argv[9] = count ? "1" : "0", argv[10] = rttl, argv[11] = msgid ? msgid : "";
	r = ml_redis_get(c->pool);
	if (sl_redis_eval(r, &record_script, &rep, 3, (int) (12 + nhash), argv, NULL) < 0)
		rc = -1, sl_warn("redis: message not recorded: %s", sl_redis_errstr(r));
	else if (rep->type == SL_REPLY_ERROR)
		rc = -1, sl_warn("redis: message not recorded: %s", rep->str);
	sl_reply_free(rep);
	ml_redis_put(c->pool, r);
done:
	free(hash);
	free(argv);
	return nhash > 0 ? rc : 0;
}

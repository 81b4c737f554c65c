/*
 * NAME
 *	milter_redis 3 - the milter's Redis keys: SASL entries, records, counters
 * SYNOPSIS
 *	ml_sasl_lookup(conf, user, &entry, err, len)	0, or -1 when Redis failed
 *	ml_tenant_senders(conf, tenant, &senders, err, len)	live allowed_senders
 *	ml_end_message(conf, decision, info, rcpts, nrcpt, &supp, &unchecked,
 *		       &lost, err, len)	suppression and record, one round trip
 *	ml_redis_get(pool), ml_redis_put(pool, handle)	borrow a handle
 *	ml_redis_prepare()	script SHA1s, once before the threads start
 * DESCRIPTION
 *	Keys (prefix from the redis section, default "sluice:"):
 *	  <prefix>sasl:<user>	hash, written by the operator: category,
 *				tenant, domains (comma-separated From domains)
 *	  <prefix>tenant:<t>	hash; field allowed_senders, written by
 *				sluicectl tenant policy (read with one HGET,
 *				cached for a second per tenant as in policyd)
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
 *	At end of message one script (one round trip, none when there is
 *	nothing to look up or write) looks the recipients up in their
 *	suppression scopes (milter_suppress.c builds the keys and reads the
 *	answer), writes the record of the message without the suppressed
 *	ones (the stats count, msg:<qid> and rcpts:<msgid>) and claims the
 *	connection's charge record (lib/charge.c, milter_charge.c).
 *	Handles come from a small pool per config snapshot (a handle is not
 *	thread-safe; libmilter runs a thread per connection), so a reload
 *	that changes the redis section takes effect for new messages.
 * ERRORS
 *	A failed SASL lookup is internal trouble: the caller applies
 *	on_internal_error. An entry field longer than the milter holds is
 *	such a failure too, never cut short. A failed count is logged and
 *	otherwise ignored: counting must never hold mail back. When the end
 *	of message script fails, the caller applies suppression_fail (the
 *	lookup was due) and on_internal_error (the recipient record of a
 *	message with tokens was due). A message tempfailed after the script
 *	(the MTA refused to remove a suppressed recipient) stays counted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "charge.h"
#include "keyspace_supp.h"
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
 * The one round trip at end of message: the suppression lookup, the
 * record of what is sent, and the claim of policyd's limit charges. KEYS
 * stats, msg, rcpts, the charge record, then the suppression keys
 * (supp:<scope>:<address>...). ARGV category, tenant, sasl, sender, msg
 * ttl, count ('1', '0', or on Cluster 's' stats only, 'm' msg only), rcpts ttl, msgid, the number of recipients R,
 * claim ('1' or '0'), then R recipient hashes ('' for none), then for each
 * suppression key the (1-based) recipient it is for, then the R
 * recipients normalised as policyd saw them. A suppression entry counts
 * when it has a reason and its expires field (if any, > 0) is still in
 * the future by Redis' clock, as in policyd. Suppressed recipients are
 * neither counted nor recorded; when all are, nothing is (the message is
 * refused). The charge record is claimed last (after every write that
 * could fail): the charges of the recipients that stay and the
 * per-message ones are kept, the others to be refunded; all when none
 * stays. Returns {{key index, reason, ...} of the live entries, charges
 * to refund, charges kept}.
 */
static sl_script eom_script = {
	.source = SL_LUA_SUPP SL_LUA_CHARGE_CLAIM
	"local nr, nk = tonumber(ARGV[9]), #KEYS - 4\n"
	"local out, hit, nhit = {}, {}, 0\n"
	"local function claim()\n"
	"  if ARGV[10] ~= '1' then return {}, {} end\n"
	"  local keep = nil\n"
	"  if nhit < nr then\n"
	"    keep = {m = true}\n"
	"    for i = 1, nr do\n"
	"      if not hit[i] then keep['r:' .. ARGV[10 + nr + nk + i]] = true end\n"
	"    end\n"
	"  end\n"
	"  return sl_charge_claim(KEYS[4], keep)\n"
	"end\n"
	"if nk > 0 then\n"
	"  local now = tonumber(redis.call('TIME')[1])\n"
	"  for i = 5, #KEYS do\n"
	"    local r = sl_supp_read(KEYS[i], now)\n"
	"    if r then\n"
	"      local k = tonumber(ARGV[10 + nr + i - 4])\n"
	"      out[#out+1] = i - 4; out[#out+1] = r\n"
	"      if not hit[k] then hit[k] = true; nhit = nhit + 1 end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if nr > 0 and nhit == nr then\n"
	"  local refund, kept = claim()\n"
	"  return {out, refund, kept}\n"
	"end\n"
	"if ARGV[6] == '1' or ARGV[6] == 's' then\n"
	"  redis.call('HINCRBY', KEYS[1], 'sent', nr - nhit)\n"
	"end\n"
	"if ARGV[6] == '1' or ARGV[6] == 'm' then\n"
	"  redis.call('HSET', KEYS[2], 'category', ARGV[1], 'tenant', ARGV[2],"
	" 'sasl', ARGV[3], 'sender', ARGV[4], 'msgid', ARGV[8])\n"
	"  redis.call('EXPIRE', KEYS[2], ARGV[5])\n"
	"end\n"
	"local h = {}\n"
	"for i = 1, nr do\n"
	"  if ARGV[10 + i] ~= '' and not hit[i] then h[#h+1] = ARGV[10 + i] end\n"
	"end\n"
	"for i = 1, #h, 100 do\n"
	"  redis.call('SADD', KEYS[3], unpack(h, i, math.min(i + 99, #h)))\n"
	"end\n"
	"if #h > 0 then redis.call('EXPIRE', KEYS[3], ARGV[7]) end\n"
	"local refund, kept = claim()\n"
	"return {out, refund, kept}\n",
};

/* ml_redis_prepare - compute every script's SHA1 once, before threads share them */
void
ml_redis_prepare(void)
{
	(void) sl_script_sha1(&eom_script);
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
 * first_time - has nobody warned about this key, field and value yet?
 * Records it (the last SEEN_MAX kept), so a value written by hand is
 * logged once, not per message.
 */
#define SEEN_MAX 256
static int
first_time(const char *key, const char *field, const char *value)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char *seen[SEEN_MAX];
	static int nseen;
	char	id[1100];
	int	found = 0;

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
	return !found;
}

/*
 * warn_invalid - a field of a SASL entry written by hand that lib/live.c
 * refuses: logged once per key, field and value. The value is used as
 * written (an invalid category is unknown, an invalid domain matches
 * nothing): never more than intended.
 */
static void
warn_invalid(const char *key, const char *field, const char *value)
{
	char	err[300];

	if (sl_live_sasl_field(field, value, err, sizeof(err)) == 0)
		return;
	if (first_time(key, field, value))
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

/* One tenant's live allowed_senders, as last read (policyd keeps the same for a second). */
#define SENDERS_CACHE_MS	1000
#define SENDERS_CACHE_MAX	256
typedef struct senders_entry {
	char	key[SL_KEY_MAX];	/* <prefix>tenant:<t>, so a new prefix misses */
	int	senders;		/* enum sl_senders, -1 for none */
	long long fetched_ms;
} senders_entry;

static pthread_mutex_t senders_lock = PTHREAD_MUTEX_INITIALIZER;
static senders_entry senders_cache[SENDERS_CACHE_MAX];
static int senders_n;

/* now_ms - a monotonic clock in milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* senders_cached - the cached value of key if fresh (1), else 0 */
static int
senders_cached(const char *key, int *senders)
{
	int	hit = 0;

	pthread_mutex_lock(&senders_lock);
	for (int i = 0; i < senders_n && !hit; i++)
		if (strcmp(senders_cache[i].key, key) == 0
		    && now_ms() - senders_cache[i].fetched_ms <= SENDERS_CACHE_MS) {
			*senders = senders_cache[i].senders;
			hit = 1;
		}
	pthread_mutex_unlock(&senders_lock);
	return hit;
}

/* senders_store - remember what key said; the cache is cleared when full */
static void
senders_store(const char *key, int senders)
{
	int	i;

	pthread_mutex_lock(&senders_lock);
	for (i = 0; i < senders_n && strcmp(senders_cache[i].key, key) != 0; i++)
		;
	if (i == senders_n) {
		if (senders_n == SENDERS_CACHE_MAX)
			senders_n = 0;
		i = senders_n++;
		snprintf(senders_cache[i].key, sizeof(senders_cache[i].key), "%s", key);
	}
	senders_cache[i].senders = senders;
	senders_cache[i].fetched_ms = now_ms();
	pthread_mutex_unlock(&senders_lock);
}

/*
 * senders_reply - the HGET answer as enum sl_senders or -1 (unset, or
 * invalid: logged once, the configuration applies, as in policyd); -2 for
 * a Redis error reply (a hash of the wrong type is ignored, with a warning)
 */
static int
senders_reply(const char *key, const sl_reply *rep, char *err, size_t errlen)
{
	char	why[200];
	int	v;

	if (rep->type == SL_REPLY_ERROR && strncmp(rep->str, "WRONGTYPE", 9) == 0) {
		if (first_time(key, "", "WRONGTYPE"))
			sl_warn("%s has the wrong type: its relay policy fields are ignored", key);
		return -1;
	}
	if (rep->type == SL_REPLY_ERROR) {
		snprintf(err, errlen, "redis HGET %s allowed_senders: %s", key, rep->str);
		return -2;
	}
	if (rep->type != SL_REPLY_STRING)
		return -1;
	if ((v = sl_live_tenant_senders(rep->str, why, sizeof(why))) < 0
	    && first_time(key, "allowed_senders", rep->str))
		sl_warn("%s field allowed_senders: %s: ignored, the configuration applies", key,
			why);
	return v;
}

/*
 * ml_tenant_senders - the tenant's live allowed_senders (sluice:tenant:<t>,
 * written by sluicectl tenant policy): *senders is its enum sl_senders, or
 * -1 when none is in force; -1 on Redis trouble (err says what)
 */
int
ml_tenant_senders(const ml_conf *c, const char *tenant, int *senders, char *err, size_t errlen)
{
	char	key[SL_KEY_MAX];
	const char *argv[3] = {"HGET", key, "allowed_senders"};
	sl_reply *rep = NULL;
	sl_redis *r;
	int	rc = 0;

	*senders = -1;
	if (c->pool == NULL || tenant == NULL || *tenant == '\0'
	    || sl_key(key, sizeof(key), c->redis.prefix, SL_KEY_TENANT, tenant) < 0)
		return 0;
	if (senders_cached(key, senders))
		return 0;
	r = ml_redis_get(c->pool);
	if (sl_redis_cmdv(r, &rep, 3, argv, NULL) < 0) {
		snprintf(err, errlen, "redis: %s", sl_redis_errstr(r));
		rc = -1;
	} else if ((*senders = senders_reply(key, rep, err, errlen)) == -2) {
		*senders = -1;
		rc = -1;
	} else
		senders_store(key, *senders);
	sl_reply_free(rep);
	ml_redis_put(c->pool, r);
	return rc;
}

/* rcpt_hashes - the keyed hash of each recipient as argv entries ("" when none); how many */
static size_t
rcpt_hashes(const ml_conf *c, const char *msgid, const char *const *rcpts, size_t nrcpt,
	    char (*hash)[SL_TOKEN_RCPT_HASH_LEN + 1], const char **argv)
{
	char	kid = c->ring.key[c->ring.current].kid;
	size_t	n = 0;

	for (size_t i = 0; i < nrcpt; i++) {
		if (rcpts[i] && sl_token_rcpt_hash(&c->ring, kid, msgid, rcpts[i], hash[i]) == 0)
			n++;
		else
			hash[i][0] = '\0';
		argv[i] = hash[i];
	}
	return n;
}

/* eom_call - run eom_script; the reply, or NULL with err */
static sl_reply *
eom_call(const ml_conf *c, int nkeys, int argc, const char **argv, char *err, size_t errlen)
{
	sl_reply *rep = NULL;
	sl_redis *r = ml_redis_get(c->pool);

	if (sl_redis_eval(r, &eom_script, &rep, nkeys, argc, argv, NULL) < 0) {
		snprintf(err, errlen, "redis: %s", sl_redis_errstr(r));
		sl_reply_free(rep);
		rep = NULL;
	} else if (rep->type == SL_REPLY_ERROR) {
		snprintf(err, errlen, "redis: %s", rep->str);
		sl_reply_free(rep);
		rep = NULL;
	}
	ml_redis_put(c->pool, r);
	return rep;
}

/*
 * Redis Cluster: the end of message script in steps, one per slot, each
 * the same script with the keys of one slot (the other key positions
 * repeat one of them and are not touched): the suppression entries
 * grouped by slot, then the count (stats:), the message (msg:), the
 * recipients (rcpts:) and the claim, in that order, as in the one
 * script. The answer has the one script's shape.
 */
#define EOM_FIXED 10 /* ARGV before the per-recipient ones */

typedef struct eom_args {
	const char **keys; /* stats, msg, rcpts, charge, suppression keys */
	size_t nk;
	const char **a; /* the one script's ARGV */
	size_t nrcpt;
} eom_args;

/* eom_step - the script on key k (x4) plus the nsk suppression keys sk */
static sl_reply *
eom_step(const ml_conf *c, const eom_args *e, const char *k, const char *const *sk,
         const char *const *six, size_t nsk, const char *count, const char *claim,
         const char *const *hash, const char *const *norm, size_t nr, char *err, size_t errlen)
{
	const char **argv = sl_calloc(4 + nsk + EOM_FIXED + 2 * nr + nsk + 1, sizeof(*argv));
	char n[32];
	size_t i = 0;
	sl_reply *rep;

	for (int j = 0; j < 4; j++)
		argv[i++] = k;
	for (size_t j = 0; j < nsk; j++)
		argv[i++] = sk[j];
	for (int j = 0; j < EOM_FIXED; j++)
		argv[i++] = e->a[j];
	snprintf(n, sizeof(n), "%zu", nr);
	argv[4 + nsk + 5] = count, argv[4 + nsk + 8] = n, argv[4 + nsk + 9] = claim;
	for (size_t j = 0; j < nr; j++)
		argv[i++] = hash ? hash[j] : "";
	for (size_t j = 0; j < nsk; j++)
		argv[i++] = six[j];
	for (size_t j = 0; j < nr; j++)
		argv[i++] = norm ? norm[j] : "";
	rep = eom_call(c, (int)(4 + nsk), (int)i, argv, err, errlen);
	free(argv);
	return rep;
}

/* eom_supp - the suppression steps: hits by slot, indexes made global; NULL on failure */
static sl_reply *
eom_supp(const ml_conf *c, const eom_args *e, char *err, size_t errlen)
{
	const char *const *sk = e->keys + 4, *const *six = e->a + EOM_FIXED + e->nrcpt;
	const char **gk = sl_calloc(e->nk + 1, sizeof(*gk)), **gix = sl_calloc(e->nk + 1, sizeof(*gix));
	size_t *gi = sl_calloc(e->nk + 1, sizeof(*gi));
	char *done = sl_calloc(e->nk + 1, 1);
	sl_reply *out = sl_calloc(1, sizeof(*out));

	out->type = SL_REPLY_ARRAY;
	out->element = sl_calloc(2 * e->nk + 1, sizeof(*out->element));
	for (size_t i = 0; i < e->nk && out != NULL; i++) {
		unsigned slot = sl_redis_keyslot(sk[i], strlen(sk[i]));
		size_t ng = 0;
		sl_reply *rep;

		if (done[i])
			continue;
		for (size_t j = i; j < e->nk; j++)
			if (!done[j] && sl_redis_keyslot(sk[j], strlen(sk[j])) == slot)
				done[j] = 1, gk[ng] = sk[j], gix[ng] = six[j], gi[ng++] = j;
		rep = eom_step(c, e, gk[0], gk, gix, ng, "0", "0", NULL, NULL, e->nrcpt, err, errlen);
		if (rep == NULL || rep->type != SL_REPLY_ARRAY || rep->elements != 3 ||
		    rep->element[0]->type != SL_REPLY_ARRAY || rep->element[0]->elements % 2) {
			if (rep != NULL)
				snprintf(err, errlen, "redis: end of message: unexpected reply");
			sl_reply_free(rep);
			sl_reply_free(out);
			out = NULL;
			break;
		}
		for (size_t h = 0; h + 1 < rep->element[0]->elements; h += 2) {
			sl_reply *ix = rep->element[0]->element[h];

			if (ix->type == SL_REPLY_INTEGER && ix->integer >= 1 && (size_t)ix->integer <= ng)
				ix->integer = (long long)gi[ix->integer - 1] + 1;
			out->element[out->elements++] = ix;
			out->element[out->elements++] = rep->element[0]->element[h + 1];
		}
		rep->element[0]->elements = 0; /* moved to out */
		sl_reply_free(rep);
	}
	free(gk), free(gix), free(gi), free(done);
	return out;
}

/* empty_array - an array reply with no elements */
static sl_reply *
empty_array(void)
{
	sl_reply *r = sl_calloc(1, sizeof(*r));

	r->type = SL_REPLY_ARRAY;
	return r;
}

/*
 * eom_split - the end of message script on Cluster, in steps; the one
 * script's answer {hits, refund, kept}, or NULL with err (the lookup or
 * a write failed: some writes may have been made, an over-count)
 */
static sl_reply *
eom_split(const ml_conf *c, const eom_args *e, const ml_supp *s, int count, int claim,
          char *err, size_t errlen)
{
	sl_reply *hits, *rep, *out;
	char *hit = sl_calloc(e->nrcpt + 1, 1);
	const char **hash = sl_calloc(e->nrcpt + 1, sizeof(*hash));
	const char **norm = sl_calloc(e->nrcpt + 1, sizeof(*norm));
	size_t nhit = 0, left, nhash = 0;
	int ok = 1;

	if ((hits = eom_supp(c, e, err, errlen)) == NULL) {
		free(hit), free(hash), free(norm);
		return NULL;
	}
	for (size_t i = 0; i + 1 < hits->elements; i += 2) {
		long long k = hits->element[i]->integer;

		if (hits->element[i]->type == SL_REPLY_INTEGER && k >= 1 && (size_t)k <= e->nk &&
		    !hit[s->key_rcpt[k - 1]])
			hit[s->key_rcpt[k - 1]] = 1, nhit++;
	}
	left = e->nrcpt - nhit;
	for (size_t i = 0; i < e->nrcpt; i++) {
		hash[i] = hit[i] ? "" : e->a[EOM_FIXED + i];
		/* a suppressed recipient's charges are not kept: a field no record has */
		norm[i] = hit[i] ? "\n" : e->a[EOM_FIXED + e->nrcpt + e->nk + i];
		nhash += *hash[i] != '\0';
	}
	if (e->nrcpt == 0 || left > 0) {
		/* as in the script: stats counts the recipients left, with nr = left */
		if (count && (rep = eom_step(c, e, e->keys[0], NULL, NULL, 0, "s", "0", NULL, NULL,
		                             left, err, errlen)) != NULL)
			sl_reply_free(rep);
		else if (count)
			sl_warn("%s: message not counted", err);
		if (count && (rep = eom_step(c, e, e->keys[1], NULL, NULL, 0, "m", "0", NULL, NULL, 0,
		                             err, errlen)) != NULL)
			sl_reply_free(rep);
		else if (count)
			sl_warn("%s: message not recorded", err);
		rep = NULL;
		if (nhash && (rep = eom_step(c, e, e->keys[2], NULL, NULL, 0, "0", "0", hash, NULL,
		                             e->nrcpt, err, errlen)) == NULL)
			ok = 0; /* the recipient record: the caller tempfails */
		sl_reply_free(rep);
	}
	out = sl_calloc(1, sizeof(*out));
	out->type = SL_REPLY_ARRAY, out->elements = 3;
	out->element = sl_calloc(3, sizeof(*out->element));
	out->element[0] = hits;
	rep = !ok || !claim ? NULL
	      : eom_step(c, e, e->keys[3], NULL, NULL, 0, "0", "1", NULL, norm,
	                 left > 0 ? e->nrcpt : 0, err, errlen);
	if (rep != NULL && rep->type == SL_REPLY_ARRAY && rep->elements == 3) {
		out->element[1] = rep->element[1], out->element[2] = rep->element[2];
		rep->elements = 1;
	} else if (claim && ok) { /* claimed() refuses it: ml_charge_settle() claims later */
		out->element[1] = sl_calloc(1, sizeof(sl_reply));
		out->element[1]->type = SL_REPLY_ERROR;
		out->element[1]->str = sl_strdup(rep == NULL ? err : "unexpected reply");
		out->element[2] = empty_array();
	} else {
		out->element[1] = empty_array(), out->element[2] = empty_array();
	}
	sl_reply_free(rep);
	free(hit), free(hash), free(norm);
	if (!ok) {
		sl_reply_free(out);
		return NULL;
	}
	return out;
}

/* eom_one_slot - are all the keys of this end of message in one slot? */
static int
eom_one_slot(const char *const *keys, size_t n, int count, int nhash, int claim)
{
	unsigned first = 0;
	int have = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned s;

		if ((i == 0 || i == 1) && !count)
			continue;
		if ((i == 2 && !nhash) || (i == 3 && !claim))
			continue;
		s = sl_redis_keyslot(keys[i], strlen(keys[i]));
		if (have && s != first)
			return 0;
		first = s, have = 1;
	}
	return 1;
}

/* claimed - take the claim lists out of the reply (which cl then owns); -1 if malformed */
static int
claimed(sl_reply *rep, ml_claim *cl, char *err, size_t errlen)
{
	cl->refund = sl_charge_strings(rep->element[1], &cl->nrefund, err, errlen);
	cl->kept = sl_charge_strings(rep->element[2], &cl->nkept, err, errlen);
	if (cl->refund == NULL || cl->kept == NULL) {
		free(cl->refund);
		free(cl->kept);
		memset(cl, 0, sizeof(*cl));
		return -1;
	}
	cl->rep = rep;
	return 0;
}

/*
 * ml_end_message - at end of message, in one round trip: look every
 * recipient up in the message's suppression scopes (hits in s, to be
 * freed with ml_supp_free()) and, when m->record, count the message,
 * remember its queue id and, when it carries tokens (a category), write
 * the keyed hashes of its final recipients under rcpts:<msgid> for
 * sluice-feedback; claim m->charge, policyd's limit charges (in cl, for
 * ml_charge_finish(); cl->rep NULL when not claimed). Suppressed
 * recipients are not counted or recorded, their charges are to refund.
 * No call at all when there is nothing to look up, write or claim. -1
 * with err when Redis failed: *unchecked says the suppression was due,
 * *lost that the recipient record was (the caller applies
 * suppression_fail and on_internal_error); a failed count alone is only
 * logged. A failed claim leaves the record for ml_charge_settle().
 */
int
ml_end_message(const ml_conf *c, const ml_decision *d, const ml_msginfo *m,
               const char *const *rcpts, size_t nrcpt, ml_supp *s, ml_claim *cl, int *unchecked,
               int *lost, char *err, size_t errlen)
{
	char	stats[SL_KEY_MAX], msg[SL_KEY_MAX], rkey[SL_KEY_MAX], day[16], n[32], ttl[32],
		rttl[32], *ix = NULL;
	char	(*hash)[SL_TOKEN_RCPT_HASH_LEN + 1] = sl_calloc(nrcpt + 1, sizeof(*hash));
	char	(*addr)[SL_ADDR_MAX + 1] = sl_calloc(nrcpt + 1, sizeof(*addr));
	int count = m->record && c->stats && m->qid != NULL && *m->qid != '\0', rc = 0;
	int claim = c->pool != NULL && m->charge != NULL && *m->charge != '\0';
	size_t nhash = 0, nk, argc = 10 + 2 * nrcpt;
	const char **argv, **a;
	time_t	now = time(NULL);
	sl_reply *rep;

	memset(s, 0, sizeof(*s));
	memset(cl, 0, sizeof(*cl));
	*unchecked = *lost = 0;
	if (c->pool != NULL && c->check_supp)
		ml_supp_init(s, c->redis.prefix ? c->redis.prefix : "sluice:", d, c->supp_flags,
		             rcpts, nrcpt);
	nk = s->nkeys;
	argv = sl_calloc(4 + nk + argc + nk + 1, sizeof(*argv));
	a = argv + 4 + nk;
	if (c->pool != NULL && m->record && c->have_key && d->category && m->msgid && *m->msgid)
		nhash = rcpt_hashes(c, m->msgid, rcpts, nrcpt, hash, a + 10);
	else
		for (size_t i = 0; i < nrcpt; i++)
			a[10 + i] = "";
	if (c->pool == NULL || (!count && nhash == 0 && nk == 0 && !claim))
		goto done;
	sl_key_day(now, day);
	sl_key(stats, sizeof(stats), c->redis.prefix, SL_KEY_STATS, day,
	       d->tenant_name[0] ? d->tenant_name : "-", d->category ? d->category->name : "-");
	/* "-": not written (no queue id: not counted; no msgid: no hashes) */
	sl_key(msg, sizeof(msg), c->redis.prefix, SL_KEY_MSG, m->qid && *m->qid ? m->qid : "-");
	sl_key(rkey, sizeof(rkey), c->redis.prefix, SL_KEY_RCPTS,
	       m->msgid && *m->msgid ? m->msgid : "-");
	snprintf(n, sizeof(n), "%zu", nrcpt);
	snprintf(ttl, sizeof(ttl), "%ld", c->msg_ttl);
	/* a day more than the lifetime: a bounce on a token's last valid day still finds it */
	snprintf(rttl, sizeof(rttl), "%ld", ((long) sl_token_ring_lifetime(&c->ring) + 1) * 86400L);
	argv[0] = stats, argv[1] = msg, argv[2] = rkey;
	argv[3] = claim ? m->charge : msg; /* not touched without a claim */
	for (size_t i = 0; i < nk; i++)
		argv[4 + i] = s->keys[i];
	a[0] = d->category ? d->category->name : "", a[1] = d->tenant_name;
	a[2] = m->sasl ? m->sasl : "", a[3] = m->sender, a[4] = ttl, a[5] = count ? "1" : "0";
	a[6] = rttl, a[7] = m->msgid ? m->msgid : "", a[8] = n, a[9] = claim ? "1" : "0";
	ix = sl_calloc(nk + 1, 24);
	for (size_t i = 0; i < nk; i++) {
		snprintf(ix + 24 * i, 24, "%zu", s->key_rcpt[i] + 1);
		a[10 + nrcpt + i] = ix + 24 * i;
	}
	for (size_t i = 0; i < nrcpt; i++) /* one by one: the i-th stays the i-th */
		if (ml_charge_final(rcpts + i, 1, addr + i, a + 10 + nrcpt + nk + i) == 0)
			a[10 + nrcpt + nk + i] = "";
	if (c->pool->opts.ncluster_nodes > 0 && !eom_one_slot(argv, 4 + nk, count, nhash > 0, claim)) {
		eom_args e = {.keys = argv, .nk = nk, .a = a, .nrcpt = nrcpt};

		rep = eom_split(c, &e, s, count, claim, err, errlen);
	} else
		rep = eom_call(c, (int)(4 + nk), (int)(4 + nk + argc + nk), argv, err, errlen);
	if (rep == NULL) {
		*unchecked = nk > 0;
		*lost = nhash > 0;
		if (!*unchecked && !*lost)
			sl_warn("%s: message not counted%s", err,
			        claim ? ", limit charges left for the end of the transaction" : "");
		rc = *unchecked || *lost ? -1 : 0;
	} else if (rep->type != SL_REPLY_ARRAY || rep->elements != 3) {
		snprintf(err, errlen, "redis: end of message: unexpected reply");
		*unchecked = nk > 0;
		rc = nk > 0 ? -1 : 0;
		sl_reply_free(rep);
	} else {
		rc = ml_supp_parse(s, rcpts, rep->element[0], err, errlen);
		*unchecked = rc < 0;
		if (claimed(rep, cl, err, errlen) < 0) {
			sl_warn("%s: limit charges not settled (they stand)", err);
			sl_reply_free(rep);
		}
	}
done:
	free(ix);
	free(hash);
	free(addr);
	free(argv);
	return rc;
}

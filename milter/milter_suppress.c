/*
 * NAME
 *	milter_suppress 3 - suppressed recipients, checked at end of message
 * SYNOPSIS
 *	ml_supp_init(&s, prefix, decision, flags, rcpts, n)	the keys
 *	ml_supp_parse(&s, rcpts, reply, err, len)	the hits, -1 malformed
 *	ml_supp_reply(&s, text, len)		"5.7.1 ..." when all are suppressed
 *	ml_supp_log(&s, refused)		one line per suppressed recipient
 *	ml_supp_record(conf, decision, &s, qid, msgid)	events and counter
 *	ml_supp_free(&s)
 *	ml_supp_prepare()			script SHA1s, before threads start
 * DESCRIPTION
 *	sluice-policyd checks suppression at RCPT, but the category of a
 *	message is only known here, after its headers (X-Sluice-Category,
 *	rules). So at end of message every recipient is looked up again in
 *	the scopes that apply to the message: global, cat:<category> and
 *	tenant:<tenant> (its own tenant only: another tenant's list is never
 *	read, so its data never shows in a log line or a reply). Each scope
 *	is tried with every form policyd tries (sl_addr_forms(): as written
 *	with the domain lowercased, lowercased, without +tag, as policyd's
 *	strip_tag and lowercase_local_part allow).
 *
 *	All keys go to the milter's one script at end of message
 *	(ml_end_message(), milter_redis.c), which reads each entry with the
 *	keyspace's sl_supp_read() (lib/keyspace_supp.lua) and writes the
 *	message's record: one round trip per message. An entry counts when it
 *	has a reason and its expires field (if any, > 0) is still in the
 *	future by Redis' clock, as in policyd.
 *
 *	ml_supp_init() and ml_supp_parse() are pure (keys from a decision,
 *	hits from a script reply) so unit tests need no Redis.
 * OWNERSHIP
 *	An ml_supp owns its keys and hits; ml_supp_free() releases them (a
 *	zeroed ml_supp is fine). The recipient strings are the caller's.
 * ERRORS
 *	ml_supp_parse() returns -1 with err when Redis answered nonsense:
 *	the caller applies suppression_fail. ml_supp_record() logs
 *	a failure and goes on: counting never holds mail back.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyspace_supp.h"
#include "log.h"
#include "milter.h"
#include "suppress.h"

/*
 * KEYS[1] events stream, KEYS[2] stats hash; ARGV: maxlen, count (0: do
 * not count), category, tenant, msgid, queue id, then recipient, reason,
 * scope for each suppressed recipient
 */
static sl_script record_script = {
	.source =
	"for i = 7, #ARGV, 3 do\n"
	"  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', 'suppressed',\n"
	"    'kind', 'milter', 'source', 'milter', 'recipient', ARGV[i], 'reason', ARGV[i+1],\n"
	"    'category', ARGV[3], 'tenant', ARGV[4], 'msgid', ARGV[5], 'queue_id', ARGV[6],\n"
	"    'detail', ARGV[i+2])\n"
	"end\n"
	"if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[2], 'suppressed', ARGV[2]) end\n"
	"return 1\n",
};

/* ml_supp_prepare - the scripts' SHA1s, computed before threads share them */
void
ml_supp_prepare(void)
{
	(void) sl_script_sha1(&record_script);
}

/* ml_supp_kind - the kind of list a scope is, as policyd names it in replies */
const char *
ml_supp_kind(enum ml_scope scope)
{
	static const enum sl_scope_kind kind[ML_SCOPES] = {SL_SCOPE_GLOBAL, SL_SCOPE_CATEGORY,
							   SL_SCOPE_TENANT};

	return sl_scope_kind_name(scope < ML_SCOPES ? kind[scope] : SL_SCOPE_GLOBAL);
}

/* add_key - one more key, for a recipient and a scope */
static void
add_key(ml_supp *s, size_t cap, char *key, size_t rcpt, enum ml_scope scope)
{
	if (s->nkeys == cap) {
		free(key);
		return;
	}
	s->keys[s->nkeys] = key;
	s->key_rcpt[s->nkeys] = rcpt;
	s->key_scope[s->nkeys++] = scope;
}

/* ml_supp_init - the scopes of a message and every key to look up */
void
ml_supp_init(ml_supp *s, const char *prefix, const ml_decision *d, int flags,
	     const char *const *rcpts, size_t nrcpt)
{
	char	forms[SL_ADDR_FORMS_MAX][SL_ADDR_MAX + 1];
	size_t	cap = nrcpt * ML_SCOPES * SL_ADDR_FORMS_MAX;
	sl_scope scs[ML_SCOPES];

	memset(s, 0, sizeof(*s));
	memset(scs, 0, sizeof(scs));
	sl_scope_make(&scs[ML_SCOPE_GLOBAL], SL_SCOPE_GLOBAL, NULL);
	if (d && d->category)
		sl_scope_make(&scs[ML_SCOPE_CATEGORY], SL_SCOPE_CATEGORY, d->category->name);
	if (d && d->tenant_name[0])
		sl_scope_make(&scs[ML_SCOPE_TENANT], SL_SCOPE_TENANT, d->tenant_name);
	for (int i = 0; i < ML_SCOPES; i++)
		if (i == ML_SCOPE_GLOBAL || *scs[i].name)
			sl_scope_format(&scs[i], s->scope[i], sizeof(s->scope[0]));
	s->nrcpt = nrcpt;
	s->keys = sl_calloc(cap + 1, sizeof(*s->keys));
	s->key_rcpt = sl_calloc(cap + 1, sizeof(*s->key_rcpt));
	s->key_scope = sl_calloc(cap + 1, sizeof(*s->key_scope));
	s->hits = sl_calloc(nrcpt + 1, sizeof(*s->hits));
	for (size_t r = 0; r < nrcpt; r++) {
		int	nf = rcpts[r] ? sl_addr_forms(rcpts[r], flags, forms) : 0;

		for (int sc = 0; sc < ML_SCOPES; sc++)
			for (int f = 0; *s->scope[sc] && f < nf; f++) {
				char	key[SL_KEY_MAX];

				if (sl_supp_key(key, sizeof(key), prefix, &scs[sc], forms[f]) == 0)
					add_key(s, cap, sl_strdup(key), r, (enum ml_scope) sc);
			}
	}
}

/* already_hit - has this recipient a hit yet? (the first scope found wins) */
static int
already_hit(const ml_supp *s, size_t rcpt)
{
	for (size_t i = 0; i < s->nhits; i++)
		if (s->hits[i].rcpt == rcpt)
			return 1;
	return 0;
}

/* ml_supp_parse - the hits in the end of message script's reply; -1 on a malformed one */
int
ml_supp_parse(ml_supp *s, const char *const *rcpts, const sl_reply *rep, char *err, size_t errlen)
{
	s->nhits = 0;
	if (rep == NULL || rep->type != SL_REPLY_ARRAY || rep->elements % 2) {
		snprintf(err, errlen, "redis suppression lookup: %s",
			 rep && rep->type == SL_REPLY_ERROR ? rep->str : "unexpected reply");
		return -1;
	}
	for (size_t i = 0; i < rep->elements; i += 2) {
		const sl_reply *ix = rep->element[i], *why = rep->element[i + 1];
		ml_supp_hit *h;
		size_t	k;

		if (ix->type != SL_REPLY_INTEGER || ix->integer < 1
		    || (size_t) ix->integer > s->nkeys || why->type != SL_REPLY_STRING) {
			snprintf(err, errlen, "redis suppression lookup: unexpected reply");
			return -1;
		}
		k = (size_t) ix->integer - 1;
		if (already_hit(s, s->key_rcpt[k]))
			continue;
		h = &s->hits[s->nhits++];
		h->rcpt = s->key_rcpt[k];
		h->scope = s->key_scope[k];
		snprintf(h->reason, sizeof(h->reason), "%s", sl_supp_reason_shown(why->str));
		if (sl_addr_normalize(rcpts[h->rcpt], h->addr, sizeof(h->addr), 0) < 0)
			snprintf(h->addr, sizeof(h->addr), "?");
	}
	return 0;
}

/* pair_seen - was this reason and scope kind listed before hit i? */
static int
pair_seen(const ml_supp *s, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (s->hits[k].scope == s->hits[i].scope
		    && strcmp(s->hits[k].reason, s->hits[i].reason) == 0)
			return 1;
	return 0;
}

/*
 * ml_supp_reply - the text refusing a message whose recipients are all
 * suppressed, like policyd's answer: reasons and kinds of list, never an
 * address or a tenant name
 */
void
ml_supp_reply(const ml_supp *s, char *out, size_t outlen)
{
	size_t	o;

	if (s->nrcpt <= 1)
		o = (size_t) snprintf(out, outlen, "5.7.1 Suppressed: ");
	else
		o = (size_t) snprintf(out, outlen, "5.7.1 All %zu recipients are suppressed: ",
				      s->nrcpt);
	for (size_t i = 0; i < s->nhits && o < outlen; i++)
		if (!pair_seen(s, i))
			o += (size_t) snprintf(out + o, outlen - o, "%s%s (%s list)", i ? ", " : "",
					       s->hits[i].reason, ml_supp_kind(s->hits[i].scope));
}

/* ml_supp_log - one line per suppressed recipient */
void
ml_supp_log(const ml_supp *s, int refused)
{
	for (size_t i = 0; i < s->nhits; i++)
		sl_info("suppressed: rcpt=<%s> scope=%s reason=%s: %s", s->hits[i].addr,
			s->scope[s->hits[i].scope], s->hits[i].reason,
			refused ? "message refused (every recipient is suppressed)"
			: "recipient removed");
}

/* ml_supp_record - an event per suppressed recipient and the day's counter */
void
ml_supp_record(const ml_conf *c, const ml_decision *d, const ml_supp *s,
	       const char *qid, const char *msgid)
{
	char	events[SL_KEY_MAX], stats[SL_KEY_MAX], day[16], maxlen[24], count[24];
	const char *prefix = c->redis.prefix ? c->redis.prefix : "sluice:";
	size_t	argc = 8 + 3 * s->nhits;
	const char **argv;
	sl_reply *rep = NULL;
	sl_redis *r;

	if (c->pool == NULL || s->nhits == 0)
		return;
	sl_key_day(time(NULL), day);
	sl_key(events, sizeof(events), prefix, SL_KEY_EVENTS);
	sl_key(stats, sizeof(stats), prefix, SL_KEY_STATS, day,
	       d && d->tenant_name[0] ? d->tenant_name : "-",
	       d && d->category ? d->category->name : "-");
	snprintf(maxlen, sizeof(maxlen), "%ld", c->events_maxlen);
	snprintf(count, sizeof(count), "%zu", c->stats ? s->nhits : 0);
	argv = sl_calloc(argc, sizeof(*argv));
	argv[0] = events, argv[1] = stats, argv[2] = maxlen, argv[3] = count;
	argv[4] = d && d->category ? d->category->name : "";
	argv[5] = d ? d->tenant_name : "", argv[6] = msgid ? msgid : "", argv[7] = qid ? qid : "";
	for (size_t i = 0; i < s->nhits; i++) {
		argv[8 + 3 * i] = s->hits[i].addr;
		argv[9 + 3 * i] = s->hits[i].reason;
		argv[10 + 3 * i] = s->scope[s->hits[i].scope];
	}
	r = ml_redis_get(c->pool);
	if (sl_redis_cluster(r)) {	/* the stats hash is in another slot: its own call */
		argv[1] = events, argv[3] = "0";
	}
	if (sl_redis_eval(r, &record_script, &rep, 2, (int) argc, argv, NULL) < 0)
		sl_warn("redis: suppressed recipients not recorded: %s", sl_redis_errstr(r));
	else if (rep->type == SL_REPLY_ERROR)
		sl_warn("redis: suppressed recipients not recorded: %s", rep->str);
	else if (sl_redis_cluster(r) && c->stats) {
		sl_reply_free(rep);
		rep = NULL;
		if (sl_redis_cmd(r, &rep, "HINCRBY %s suppressed %s", stats, count) < 0
		    || rep->type == SL_REPLY_ERROR)
			sl_warn("redis: suppressed recipients not counted: %s",
				rep ? rep->str : sl_redis_errstr(r));
	}
	sl_reply_free(rep);
	ml_redis_put(c->pool, r);
	free(argv);
}

/* ml_supp_free - release the keys and hits; a zeroed ml_supp is fine */
void
ml_supp_free(ml_supp *s)
{
	for (size_t i = 0; i < s->nkeys; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->key_rcpt);
	free(s->key_scope);
	free(s->hits);
	memset(s, 0, sizeof(*s));
}

/*
 * NAME
 *	logd_redis 3 - delivery events and day counters into Redis
 * SYNOPSIS
 *	s = ld_sink_new(opts, buffer_max, events_maxlen, all_messages)
 *	ld_sink_event(s, ev, now)	queue one event (copied)
 *	ld_sink_flush(s, now)		write what is queued; -1 if Redis failed
 * DESCRIPTION
 *	One script per event, atomic: it reads the milter's record
 *	<prefix>msg:<queue id> (tenant, category, sasl, msgid), adds an entry
 *	type=delivery to <prefix>events (XADD MAXLEN ~ events_maxlen) and
 *	counts the result (delivered, deferred, bounced, expired) in
 *	<prefix>stats:<yyyymmdd>:<tenant|->:<category|-> (UTC day of the
 *	write), and per provider in <prefix>pstats:<yyyymmdd>:<provider>
 *	(the result, and class:<class> for a refusal; kept 40 days). A
 *	queue id without a record (mail that did not pass the
 *	milter: bounces Postfix made, local mail) is counted as
 *	"unattributed" and written only when all_messages is set (under
 *	tenant and category "-"). A recipient domain whose provider only
 *	its MX host told (a Google Workspace domain) is added to
 *	<prefix>pdomains:<provider> (a set of at most 100000, kept 30 days
 *	after the last addition), which sluice-policyd reads at RCPT.
 *	A block's start also adds "<provider>:<source>" to <prefix>blocks,
 *	the index sluice-policyd reads; its end only deletes the hash
 *	(sluice-policyd notices, and ramps up).
 * OUTAGE
 *	Events wait in a queue of at most buffer_max while Redis cannot be
 *	reached or answers a transient error (OOM, READONLY, LOADING, BUSY,
 *	MASTERDOWN, NOPERM); past that, new events are dropped and counted,
 *	and the count is logged and added to stats:<day>:-:- field
 *	logd_dropped when Redis is back. Any other error reply is a fault of
 *	that one event: it is logged, counted in errors and skipped, so one
 *	bad key never stops the queue. Delivery never waits on this.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyspace.h"
#include "lib/keyspace_lua.h"
#include "log.h"
#include "logd.h"

#define NFIELDS 17 /* event field pairs (name, value) */
#define NARGS (2 + 8 + 2 * NFIELDS)

static sl_script event_script = {
    .source = SL_LUA_KEYS "if ARGV[7] ~= '' then -- a domain only its MX maps: for sluice-policyd\n"
              "  if redis.call('SCARD', ARGV[8]) < 100000 then redis.call('SADD', ARGV[8], ARGV[7]) end\n"
              "  redis.call('EXPIRE', ARGV[8], 30 * 86400)\n"
              "end\n"
              "local rec = redis.call('HMGET', KEYS[1], 'tenant', 'category', 'sasl', 'msgid')\n"
              "local tenant, cat, sasl = rec[1] or '', rec[2] or '', rec[3] or ''\n"
              "local known = redis.call('EXISTS', KEYS[1]) == 1\n"
              "if not known and ARGV[4] ~= '1' then return 0 end\n"
              "local t = tenant ~= '' and tenant or '-'\n"
              "local c = cat ~= '' and cat or '-'\n"
              "redis.call('HINCRBY', sl_key_fill(ARGV[1], ARGV[2], t, c), ARGV[5], 1)\n"
              "local a = {'XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'type', 'delivery',\n"
              "  'result', ARGV[5], 'tenant', tenant, 'category', cat, 'sasl', sasl,\n"
              "  'msgid', rec[4] or ''}\n"
              "local f = {}\n"
              "for i = 9, #ARGV, 2 do\n"
              "  a[#a + 1] = ARGV[i]; a[#a + 1] = ARGV[i + 1]; f[ARGV[i]] = ARGV[i + 1]\n"
              "end\n"
              "redis.call(unpack(a))\n"
              "if known then\n"
              "  local pk = sl_key_fill(ARGV[6], ARGV[2], f['provider'])\n"
              "  redis.call('HINCRBY', pk, ARGV[5], 1)\n"
              "  if f['class'] ~= '' then redis.call('HINCRBY', pk, 'class:' .. f['class'], 1) end\n"
              "  redis.call('EXPIRE', pk, 40 * 86400)\n"
              "end\n"
              "return known and 1 or 2\n",
};

static sl_script block_script = {
    .source = "if ARGV[1] == 'end' then\n"
              "  redis.call('DEL', KEYS[1])\n"
              "else\n"
              "  redis.call('HSET', KEYS[1], 'provider', ARGV[4], 'source', ARGV[5], 'class',\n"
              "    ARGV[6], 'reply', ARGV[7], 'count', ARGV[8], 'since', ARGV[9], 'until',\n"
              "    ARGV[11], 'set_by', 'sluice-logd')\n"
              "  redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
              "  redis.call('SADD', ARGV[12], ARGV[4] .. ':' .. ARGV[5])\n"
              "end\n"
              "if ARGV[1] ~= 'going' then\n"
              "  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'type', 'block-' .. "
              "ARGV[1],\n"
              "    'provider', ARGV[4], 'source', ARGV[5], 'class', ARGV[6], 'reply', ARGV[7],\n"
              "    'count', ARGV[8], 'since', ARGV[9], 'why', ARGV[10])\n"
              "end\n"
              "return 1\n",
};

typedef struct queued {
	sl_script *script; /* event_script or block_script */
	char *argv[NARGS];
	int argc;
} queued;

struct ld_sink {
	sl_redis *r;
	queued *q; /* ring of buffer_max */
	size_t max, head, n;
	long maxlen;
	int all;
	char prefix[128];
	unsigned long long dropped_unreported;
	ld_sink_stats st;
};

/* ld_sink_new - a sink writing to Redis with opts (copied) */
ld_sink *
ld_sink_new(const sl_redis_opts *opts, size_t buffer_max, long events_maxlen, int all_messages)
{
	ld_sink *s = sl_calloc(1, sizeof(*s));

	s->r = sl_redis_new(opts);
	s->max = buffer_max ? buffer_max : 1;
	s->q = sl_calloc(s->max, sizeof(*s->q));
	s->maxlen = events_maxlen;
	s->all = all_messages;
	snprintf(s->prefix, sizeof(s->prefix), "%s", sl_redis_prefix(s->r));
	(void)sl_script_sha1(&event_script);
	(void)sl_script_sha1(&block_script);
	return s;
}

/* queued_free - the strings of one queued event */
static void
queued_free(queued *e)
{
	for (int i = 0; i < e->argc; i++)
		free(e->argv[i]);
	e->argc = 0;
}

/* ld_sink_free - drop what is queued; NULL is a no-op */
void
ld_sink_free(ld_sink *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		queued_free(&s->q[(s->head + i) % s->max]);
	free(s->q);
	sl_redis_free(s->r);
	free(s);
}

/* push - add one argument (copied) */
static void
push(queued *e, const char *v)
{
	e->argv[e->argc++] = sl_strdup(v ? v : "");
}

/* pair - add one field name and value */
static void
pair(queued *e, const char *name, const char *v)
{
	push(e, name);
	push(e, v);
}

/* ld_sink_event - queue an event; dropped and counted when the queue is full */
void
ld_sink_event(ld_sink *s, const ld_event *ev, time_t now)
{
	char buf[256];
	queued *e;

	(void)now;
	if (s->n >= s->max) {
		s->st.dropped++, s->dropped_unreported++;
		return;
	}
	e = &s->q[(s->head + s->n++) % s->max];
	e->script = &event_script;
	sl_key(buf, sizeof(buf), s->prefix, SL_KEY_MSG, *ev->qid ? ev->qid : "-");
	push(e, buf);
	sl_key(buf, sizeof(buf), s->prefix, SL_KEY_EVENTS);
	push(e, buf);
	/* named by the record the script reads, so filled in there (lib/keyspace_keys.lua) */
	sl_key_template_full(buf, sizeof(buf), s->prefix, SL_KEY_STATS);
	push(e, buf);
	push(e, ""); /* the day, filled when written */
	snprintf(buf, sizeof(buf), "%ld", s->maxlen);
	push(e, buf);
	push(e, s->all ? "1" : "0");
	push(e, ev->result);
	sl_key_template_full(buf, sizeof(buf), s->prefix, SL_KEY_PSTATS);
	push(e, buf);
	push(e, ev->learnt ? ev->learnt : ""); /* pdomains:<provider>, for sluice-policyd */
	sl_key(buf, sizeof(buf), s->prefix, SL_KEY_PDOMAINS, ev->provider);
	push(e, buf);
	pair(e, "queue_id", ev->qid);
	pair(e, "recipient", ev->rcpt);
	pair(e, "orig_recipient", ev->orig_rcpt);
	pair(e, "sender", ev->sender);
	pair(e, "message_id", ev->msgid);
	pair(e, "service", ev->service);
	pair(e, "relay_host", ev->relay_host);
	pair(e, "relay_addr", ev->relay_addr);
	snprintf(buf, sizeof(buf), "%d", ev->relay_port);
	pair(e, "relay_port", buf);
	pair(e, "dsn", ev->dsn);
	pair(e, "reply", ev->reply);
	snprintf(buf, sizeof(buf), "%.2f", ev->delay);
	pair(e, "delay", buf);
	pair(e, "delays", ev->delays);
	pair(e, "provider", ev->provider);
	pair(e, "class", ev->class_);
	pair(e, "log_time", ev->stamp);
	s->st.buffered = s->n;
}

/* ld_sink_block - queue a block's start, extension or end */
void
ld_sink_block(ld_sink *s, enum ld_block_change change, const ld_block_info *info, long ttl)
{
	static const char *const names[] = {
	    [LD_BLOCK_START] = "start", [LD_BLOCK_GOING] = "going", [LD_BLOCK_END] = "end"};
	char buf[512];
	queued *e;

	if (change == LD_BLOCK_SAME)
		return;
	if (s->n >= s->max) {
		s->st.dropped++, s->dropped_unreported++;
		return;
	}
	e = &s->q[(s->head + s->n++) % s->max];
	e->script = &block_script;
	sl_key(buf, sizeof(buf), s->prefix, SL_KEY_BLOCK, info->provider, info->source);
	push(e, buf);
	sl_key(buf, sizeof(buf), s->prefix, SL_KEY_EVENTS);
	push(e, buf);
	push(e, names[change]);
	snprintf(buf, sizeof(buf), "%ld", s->maxlen);
	push(e, buf);
	snprintf(buf, sizeof(buf), "%ld", ttl);
	push(e, buf);
	push(e, info->provider);
	push(e, info->source);
	push(e, info->class_);
	push(e, info->reply);
	snprintf(buf, sizeof(buf), "%d", info->count);
	push(e, buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)info->since);
	push(e, buf);
	push(e, info->why ? info->why : "");
	snprintf(buf, sizeof(buf), "%lld", (long long)(time(NULL) + ttl));
	push(e, buf);
	sl_key(buf, sizeof(buf), s->prefix, SL_KEY_BLOCKS); /* what sluice-policyd reads */
	push(e, buf);
	s->st.buffered = s->n;
}

/* transient - an error reply that a later try may not get */
static int
transient(const char *err)
{
	static const char *const words[] = {"OOM",        "READONLY", "LOADING",  "BUSY",
	                                    "MASTERDOWN", "NOPERM",   "TRYAGAIN", "CLUSTERDOWN"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strncmp(err, words[i], strlen(words[i])) == 0)
			return 1;
	return 0;
}

/* write_one - one queued event; 1 written or skipped, 0 to try later */
static int
write_one(ld_sink *s, queued *e, const char *day)
{
	sl_reply *rep = NULL;
	int done = 1;

	if (e->script == &event_script) {
		free(e->argv[3]);
		e->argv[3] = sl_strdup(day);
	}
	if (sl_redis_eval(s->r, e->script, &rep, 2, e->argc, (const char **)e->argv, NULL) < 0) {
		sl_warn("redis: events wait in memory (%zu queued): %s", s->n,
		        sl_redis_errstr(s->r));
		done = 0;
	} else if (rep->type == SL_REPLY_ERROR && transient(rep->str)) {
		sl_warn("redis: events wait in memory (%zu queued): %s", s->n, rep->str);
		done = 0;
	} else if (rep->type == SL_REPLY_ERROR) {
		sl_error("redis: delivery event of %s skipped: %s", e->argv[11], rep->str);
		s->st.errors++;
	} else if (e->script == &block_script ||
	           (rep->type == SL_REPLY_INTEGER && rep->integer == 1))
		s->st.written++;
	else {
		s->st.unattributed++;
		s->st.written += rep->type == SL_REPLY_INTEGER && rep->integer == 2;
	}
	sl_reply_free(rep);
	return done;
}

/* report_dropped - once Redis is back, say how many events were lost */
static void
report_dropped(ld_sink *s, const char *day)
{
	char key[SL_KEY_MAX], n[32];
	const char *argv[4] = {"HINCRBY", key, SL_STAT_LOGD_DROPPED, n};
	sl_reply *rep = NULL;

	if (s->dropped_unreported == 0)
		return;
	sl_warn("%llu delivery events were dropped while Redis was unavailable",
	        s->dropped_unreported);
	sl_key(key, sizeof(key), s->prefix, SL_KEY_STATS, day, "-", "-");
	snprintf(n, sizeof(n), "%llu", s->dropped_unreported);
	if (sl_redis_cmdv(s->r, &rep, 4, argv, NULL) == 0 && rep->type == SL_REPLY_INTEGER)
		s->dropped_unreported = 0;
	sl_reply_free(rep);
}

/* ld_sink_flush - write the queue in order; -1 when Redis stopped it */
int
ld_sink_flush(ld_sink *s, time_t now)
{
	char day[16];
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	while (s->n > 0) {
		queued *e = &s->q[s->head];

		if (!write_one(s, e, day)) {
			s->st.buffered = s->n;
			return -1;
		}
		queued_free(e);
		s->head = (s->head + 1) % s->max, s->n--;
	}
	s->st.buffered = 0;
	report_dropped(s, day);
	return 0;
}

/* ld_sink_get_stats - counters for the log and /metrics */
void
ld_sink_get_stats(const ld_sink *s, ld_sink_stats *st)
{
	*st = s->st;
}

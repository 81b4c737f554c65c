/*
 * NAME
 *	logd_event 3 - log lines into delivery events, and events as JSON
 * SYNOPSIS
 *	ld_feed(feeder, line, len, now)		calls feeder->cb per event
 *	ld_event_json(ev, fp)			one JSON object and a newline
 * DESCRIPTION
 *	One event per recipient and attempt: a delivery line with
 *	status=sent is "delivered", deferred "deferred", bounced "bounced";
 *	qmgr's "status=expired, returned to sender" gives one "expired"
 *	event per recipient whose last attempt of that message was deferred
 *	(logd_correlate.c). Events carry what earlier lines of the queue id
 *	said (sender, message-id), the provider of the recipient and the
 *	class of the remote reply (logd_provider.c). Tenant and category are
 *	added where the event is stored (logd_redis.c), from the milter's
 *	msg:<queue id> record.
 *	Lines are counted: lines, skipped (not ours), bad (ours but
 *	malformed), toolong (over LD_LINE_MAX, not parsed), events.
 */
#include "config.h"

#include <string.h>

#include "logd.h"
#include "json.h"

/* emit - fill the provider and class of an event and hand it on */
static void
emit(ld_feeder *f, ld_event *ev)
{
	const char *at = ev->rcpt ? strrchr(ev->rcpt, '@') : NULL;

	ev->provider = ld_provider_of(f->providers, ev->rcpt, ev->relay_host);
	ev->learnt = NULL;
	if (at && at[1] && strcmp(ev->provider, "other") != 0 &&
	    strcmp(sl_provider_of(f->providers, at + 1, NULL), "other") == 0)
		ev->learnt = at + 1; /* e.g. a Google Workspace domain: policyd learns it */
	ev->class_ =
	    ld_class_name(strcmp(ev->result, "deferred") != 0 && strcmp(ev->result, "bounced") != 0
	                      ? LD_CLASS_NONE
	                      : ld_classify_reply(ev->dsn, ev->reply));
	f->stats.events++;
	f->cb(ev, f->arg);
}

/* delivery - one event of a delivery line */
static void
delivery(ld_feeder *f, const ld_line *l, time_t now)
{
	ld_msg *m = ld_table_get(f->table, l->qid, now, 1);
	ld_event ev = {
	    .result = ld_status_name(l->status),
	    .qid = l->qid,
	    .rcpt = l->to,
	    .orig_rcpt = l->orig_to,
	    .service = l->service,
	    .relay_host = l->relay_host,
	    .relay_addr = l->relay_addr,
	    .relay_port = l->relay_port,
	    .dsn = l->dsn,
	    .reply = l->reply,
	    .delays = l->delays,
	    .stamp = l->stamp,
	    .delay = l->delay,
	    .sender = m->from,
	    .msgid = m->msgid,
	};

	ld_msg_deferred(m, l->to, l->status == LD_ST_DEFERRED);
	emit(f, &ev);
}

/* expired - one event per recipient still deferred when the message expired */
static void
expired(ld_feeder *f, const ld_line *l, time_t now)
{
	ld_msg *m = ld_table_get(f->table, l->qid, now, 1);
	ld_event ev = {
	    .result = "expired",
	    .qid = l->qid,
	    .orig_rcpt = "",
	    .service = l->service,
	    .relay_host = "",
	    .relay_addr = "",
	    .dsn = "",
	    .reply = "returned to sender",
	    .delays = "",
	    .stamp = l->stamp,
	    .sender = l->from,
	    .msgid = m->msgid,
	};

	while (m->ndeferred > 0) {
		ev.rcpt = m->deferred[m->ndeferred - 1];
		emit(f, &ev);
		ld_msg_deferred(m, ev.rcpt, 0);
	}
}

/* ld_feed - one log line: update the table, emit its events */
void
ld_feed(ld_feeder *f, const char *line, size_t len, time_t now)
{
	static ld_line l; /* 16 KB: not on the stack; one feeder thread */
	ld_msg *m;

	f->stats.lines++;
	if (len > LD_LINE_MAX) {
		f->stats.toolong++;
		return;
	}
	switch (ld_parse_line(line, len, &l)) {
	case LD_DELIVERY:
		delivery(f, &l, now);
		break;
	case LD_QMGR_FROM:
		m = ld_table_get(f->table, l.qid, now, 1);
		snprintf(m->from, sizeof(m->from), "%s", l.from);
		break;
	case LD_MSGID:
		m = ld_table_get(f->table, l.qid, now, 1);
		snprintf(m->msgid, sizeof(m->msgid), "%s", l.msgid);
		break;
	case LD_EXPIRED:
		expired(f, &l, now);
		break;
	case LD_REMOVED:
		ld_table_remove(f->table, l.qid);
		break;
	case LD_NOTICE:
		break; /* the notice is a message of its own */
	case LD_BAD:
		f->stats.bad++;
		break;
	default:
		f->stats.skipped++;
	}
}

/* field - one "name":"value" pair after a comma */
static void
field(FILE *fp, const char *name, const char *v)
{
	fprintf(fp, ",\"%s\":", name);
	sl_json_fputs(fp, v);
}

/* ld_event_json - an event as one JSON line (the --parse output) */
void
ld_event_json(const ld_event *ev, FILE *fp)
{
	fputs("{\"type\":\"delivery\",\"result\":", fp);
	sl_json_fputs(fp, ev->result);
	field(fp, "queue_id", ev->qid);
	field(fp, "recipient", ev->rcpt);
	field(fp, "orig_recipient", ev->orig_rcpt);
	field(fp, "sender", ev->sender);
	field(fp, "message_id", ev->msgid);
	field(fp, "service", ev->service);
	field(fp, "relay_host", ev->relay_host);
	field(fp, "relay_addr", ev->relay_addr);
	fprintf(fp, ",\"relay_port\":%d", ev->relay_port);
	field(fp, "dsn", ev->dsn);
	field(fp, "reply", ev->reply);
	fprintf(fp, ",\"delay\":%.2f", ev->delay);
	field(fp, "delays", ev->delays);
	field(fp, "provider", ev->provider);
	field(fp, "class", ev->class_);
	field(fp, "log_time", ev->stamp);
	fputs("}\n", fp);
}

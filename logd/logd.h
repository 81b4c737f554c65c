/*
 * NAME
 *	logd 3h - sluice-logd: Postfix's delivery log into events and counters
 * DESCRIPTION
 *	One section per file:
 *	  logd_parse.c		pure parser of one Postfix 3.x log line
 *	  logd_correlate.c	queue-id table: sender, message-id, deferred
 *				recipients (for expiry); bounded, with expiry
 *	  logd_event.c		delivery events and their JSON form
 *	  logd_provider.c	recipient -> provider; reply -> block class
 *	  logd_block.c		blocks per provider and sending domain
 *	  logd_alert.c		the operator's command on block start and end
 *	  logd_follow.c		a maillog_file followed across rotation, with
 *				a state file (inode + offset); or stdin
 *	  logd_redis.c		events and day counters into Redis, with a
 *				bounded buffer during an outage
 *	  logd_metrics.c	GET /metrics (Prometheus text) in the loop's pause
 *	  logd_main.c		options, config, the loop
 * OWNERSHIP
 *	Parsed fields point into caller-owned fixed buffers of ld_line;
 *	nothing here allocates except the correlation table and the buffer.
 */
#ifndef LOGD_H
#define LOGD_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "provider.h"
#include "redis.h"

/* Longest log line handled; a longer one is counted and skipped. */
#define LD_LINE_MAX 16384
#define LD_ADDR_MAX 512
#define LD_REPLY_MAX 4096
#define LD_QID_MAX 32
#define LD_HOST_MAX 256

/* ---- logd_parse.c ---- */

enum ld_kind {
	LD_SKIP = 0,  /* a line of no interest (smtpd, anvil, ...) */
	LD_BAD,       /* a Postfix line we should read but cannot */
	LD_DELIVERY,  /* to=<...>, ..., status=... */
	LD_QMGR_FROM, /* from=<...>, size=..., nrcpt=... */
	LD_EXPIRED,   /* from=<...>, status=expired, returned to sender */
	LD_REMOVED,   /* removed */
	LD_MSGID,     /* cleanup: message-id=<...> */
	LD_NOTICE     /* bounce: sender non-delivery notification: QID */
};

enum ld_status { LD_ST_NONE = 0, LD_ST_SENT, LD_ST_DEFERRED, LD_ST_BOUNCED, LD_ST_EXPIRED };

typedef struct ld_line {
	enum ld_kind kind;
	char stamp[40];   /* the line's time stamp as written */
	char service[32]; /* smtp, lmtp, qmgr, local, ... */
	char qid[LD_QID_MAX];
	/* LD_DELIVERY */
	char to[LD_ADDR_MAX];
	char orig_to[LD_ADDR_MAX];
	char relay_host[LD_HOST_MAX]; /* "none", "local", a host name */
	char relay_addr[64];          /* the address in brackets, or "" */
	int relay_port;               /* 0 when none */
	double delay;
	char delays[64];
	char dsn[16];
	enum ld_status status;
	char reply[LD_REPLY_MAX]; /* the text in parentheses */
	int reply_cut;            /* reply longer than LD_REPLY_MAX - 1 */
	/* LD_QMGR_FROM, LD_EXPIRED */
	char from[LD_ADDR_MAX];
	long size;
	int nrcpt;
	/* LD_MSGID */
	char msgid[LD_ADDR_MAX];
	/* LD_NOTICE */
	char notice_qid[LD_QID_MAX];
} ld_line;

enum ld_kind ld_parse_line(const char *line, size_t len, ld_line *out);
const char *ld_status_name(enum ld_status st);

/* ---- logd_provider.c ---- */

enum ld_class {
	LD_CLASS_NONE = 0,
	LD_CLASS_RATE,
	LD_CLASS_REPUTATION,
	LD_CLASS_BLOCKLIST,
	LD_CLASS_AUTH,
	LD_CLASS_OTHER
};

const char *ld_provider_of(const sl_providers *p, const char *rcpt, const char *relay_host);
enum ld_class ld_classify_reply(const char *dsn, const char *reply);
const char *ld_class_name(enum ld_class c);

/* ---- logd_correlate.c ---- */

typedef struct ld_table ld_table;
typedef struct ld_msg {
	char qid[LD_QID_MAX];
	char from[LD_ADDR_MAX];
	char msgid[LD_ADDR_MAX];
	time_t seen;     /* last line about it (for expiry) */
	char **deferred; /* recipients whose last attempt deferred */
	size_t ndeferred;
	struct ld_msg *next, *lru_prev, *lru_next;
} ld_msg;

typedef struct ld_table_stats {
	size_t entries;
	unsigned long long evicted; /* dropped for room before "removed" */
	unsigned long long expired; /* dropped after ttl without a line */
} ld_table_stats;

ld_table *ld_table_new(size_t max_entries, long ttl);
void ld_table_free(ld_table *t);
ld_msg *ld_table_get(ld_table *t, const char *qid, time_t now, int create);
void ld_table_remove(ld_table *t, const char *qid);
void ld_table_expire(ld_table *t, time_t now);
void ld_msg_deferred(ld_msg *m, const char *rcpt, int still);
void ld_table_get_stats(const ld_table *t, ld_table_stats *s);

/* ---- logd_event.c ---- */

typedef struct ld_event {
	const char *result; /* delivered, deferred, bounced, expired */
	const char *qid, *rcpt, *orig_rcpt, *service;
	const char *relay_host, *relay_addr;
	int relay_port;
	const char *dsn, *reply, *delays, *stamp;
	double delay;
	const char *sender, *msgid, *provider, *class_;
	const char *learnt; /* the recipient domain when only the MX told its provider */
} ld_event;

/* Called once per event; ld_feed() fills the event from the line. */
typedef void ld_event_cb(const ld_event *ev, void *arg);

typedef struct ld_feed_stats {
	unsigned long long lines, skipped, bad, toolong, events;
} ld_feed_stats;

typedef struct ld_feeder {
	ld_table *table;
	const sl_providers *providers;
	ld_event_cb *cb;
	void *arg;
	ld_feed_stats stats;
} ld_feeder;

void ld_feed(ld_feeder *f, const char *line, size_t len, time_t now);
void ld_event_json(const ld_event *ev, FILE *fp);

/* ---- logd_block.c ---- */

typedef struct ld_block_conf {
	int threshold;           /* block replies within window to declare */
	long window, quiet, ttl; /* seconds */
} ld_block_conf;

enum ld_block_change { LD_BLOCK_SAME = 0, LD_BLOCK_START, LD_BLOCK_GOING, LD_BLOCK_END };

typedef struct ld_block_info {
	char provider[32];
	char source[LD_HOST_MAX]; /* the sending domain (category subdomain) */
	char class_[16];
	char reply[512];
	int count; /* block replies in the window */
	time_t since;
	const char *why; /* of an end: "quiet" or "expired" */
} ld_block_info;

typedef struct ld_blocks ld_blocks;

ld_blocks *ld_blocks_new(const ld_block_conf *conf);
void ld_blocks_free(ld_blocks *b);
enum ld_block_change ld_blocks_event(ld_blocks *b, const ld_event *ev, time_t now,
                                     ld_block_info *out);
enum ld_block_change ld_blocks_tick(ld_blocks *b, time_t now, ld_block_info *out);

/* ---- logd_alert.c ---- */

typedef struct ld_alert ld_alert;

ld_alert *ld_alert_new(const char *command, long timeout);
void ld_alert_block(ld_alert *a, enum ld_block_change change, const ld_block_info *b);
void ld_alert_reap(ld_alert *a);
void ld_alert_free(ld_alert *a);

/* ---- logd_follow.c ---- */

typedef struct ld_follow ld_follow;
/* Called per complete line (without its newline); offset is past it. */
typedef void ld_line_cb(const char *line, size_t len, void *arg);

ld_follow *ld_follow_open(const char *path, const char *state_path, char *err, size_t errlen);
int ld_follow_poll(ld_follow *f, ld_line_cb *cb, void *arg);
int ld_follow_save(ld_follow *f, char *err, size_t errlen);
void ld_follow_close(ld_follow *f);

/* ---- logd_redis.c ---- */

typedef struct ld_sink ld_sink;
typedef struct ld_sink_stats {
	unsigned long long written, buffered, dropped, unattributed, errors;
} ld_sink_stats;

ld_sink *ld_sink_new(const sl_redis_opts *opts, size_t buffer_max, long events_maxlen,
                     int all_messages);
void ld_sink_free(ld_sink *s);
void ld_sink_event(ld_sink *s, const ld_event *ev, time_t now);
void ld_sink_block(ld_sink *s, enum ld_block_change change, const ld_block_info *info, long ttl);
int ld_sink_flush(ld_sink *s, time_t now);
void ld_sink_get_stats(const ld_sink *s, ld_sink_stats *st);

/* ---- logd_metrics.c ---- */

typedef struct ld_metrics ld_metrics;
typedef struct ld_metrics_view {
	const ld_feed_stats *feed;
	ld_sink_stats sink;
	ld_table_stats table;
} ld_metrics_view;

ld_metrics *ld_metrics_new(const char *listen_on, char *err, size_t errlen);
void ld_metrics_free(ld_metrics *m);
void ld_metrics_delivery(ld_metrics *m, const char *provider, const char *result,
                         const char *class_);
void ld_metrics_block(ld_metrics *m, enum ld_block_change change);
void ld_metrics_wait(ld_metrics *m, long ms, const ld_metrics_view *v);

#endif

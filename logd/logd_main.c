/*
 * NAME
 *	sluice-logd 8 - Postfix's delivery log into delivery events and counters
 * SYNOPSIS
 *	sluice-logd [-f] [-n] [-c config]
 *	sluice-logd --parse file	(no config, no Redis; "-": stdin)
 * DESCRIPTION
 *	The wiring: options, the logd section of sluice.conf, the follower
 *	(logd_follow.c), the parser and correlation (logd_event.c), the
 *	Redis sink (logd_redis.c) and the loop. Each poll interval the
 *	appended lines are parsed, their events queued and written; the
 *	position is saved once every queued event is in Redis.
 *
 *	-c config  configuration file (default /etc/sluice/sluice.conf)
 *	-n         check the configuration and exit (0 when good)
 *	-f         stay in the foreground and log to stderr
 *	--parse F  print the delivery events of a log file as JSON lines
 *
 *	SIGTERM and SIGINT write what is queued, save the position and exit.
 *	SIGHUP is ignored: a rotation is noticed without it, and a changed
 *	configuration needs a restart (which loses and repeats nothing).
 * EXIT STATUS
 *	0 on a clean stop or a good check; 1 for a bad configuration or a
 *	file --parse cannot read.
 * SEE ALSO
 *	doc/sluice-logd.8, doc/logd.md, doc/redis-keys.md
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "keyspace.h"
#include "log.h"
#include "logd.h"
#include "privs.h"
#include "service.h"

typedef struct ld_conf {
	const char *log_file, *state_file, *user;
	int all_messages;
	long events_maxlen, buffer_max, queue_max, queue_ttl, poll_ms;
	sl_providers *providers;
	ld_block_conf block;
	const char *block_command, *metrics_listen;
	long block_command_timeout;
	sl_redis_opts redis;
} ld_conf;

typedef struct run {
	ld_feeder feeder;
	ld_sink *sink;
	ld_blocks *blocks;
	ld_alert *alert;
	ld_metrics *metrics; /* NULL without metrics_listen */
	long block_ttl;
} run;

#define STATS_EVERY 300 /* seconds between two counter lines in the log */

static volatile sig_atomic_t stopping;

/* usage - the synopsis, then exit 1 */
static void
usage(void)
{
	fprintf(stderr, "usage: sluice-logd [-f] [-n] [-c config]\n"
	                "       sluice-logd --parse file\n");
	exit(1);
}

/* on_signal - ask the loop to stop */
static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* conf_int - a bounded integer option, reported when out of range */
static long
conf_int(sl_conf *c, cfg_t *sec, const char *name, long min, long max)
{
	long v = cfg_getint(sec, name);

	if (v < min || v > max)
		sl_conf_error(c, sec, "logd: %s must be %ld to %ld", name, min, max);
	return v;
}

/* conf_providers - the operator's provider rules, before the defaults */
static void
conf_providers(sl_conf *c, cfg_t *sec, ld_conf *lc)
{
	char err[256];

	if (sl_providers_conf(lc->providers, sec, err, sizeof(err)) < 0)
		sl_conf_error(c, sec, "logd: %s", err);
}

/* conf_read - the logd section into lc; every error reported */
static void
conf_read(sl_conf *c, ld_conf *lc)
{
	cfg_t *sec = cfg_getsec(c->cfg, "logd");

	lc->log_file = cfg_getstr(sec, "log_file");
	lc->state_file = cfg_getstr(sec, "state_file");
	lc->user = cfg_getstr(c->cfg, "user");
	lc->all_messages = cfg_getbool(sec, "all_messages");
	lc->events_maxlen = conf_int(c, sec, "events_maxlen", 1, 100000000);
	lc->buffer_max = conf_int(c, sec, "buffer_max", 1, 10000000);
	lc->queue_max = conf_int(c, sec, "queue_max", 1, 10000000);
	lc->queue_ttl = conf_int(c, sec, "queue_ttl", 60, 100 * 86400);
	lc->poll_ms = conf_int(c, sec, "poll_interval", 10, 60000);
	lc->block.threshold = (int)conf_int(c, sec, "block_threshold", 1, 1000);
	lc->block.window = conf_int(c, sec, "block_window", 1, 7 * 86400);
	lc->block.quiet = conf_int(c, sec, "block_quiet", 0, 7 * 86400);
	lc->block.ttl = conf_int(c, sec, "block_ttl", 1, 30 * 86400);
	lc->block_command = cfg_getstr(sec, "block_command");
	lc->block_command_timeout = conf_int(c, sec, "block_command_timeout", 1, 3600);
	lc->metrics_listen = cfg_getstr(sec, "metrics_listen");
	{
		char host[256];
		int port;

		if (*lc->metrics_listen &&
		    sl_redis_hostport(lc->metrics_listen, host, sizeof(host), &port) < 0)
			sl_conf_error(c, sec, "logd: metrics_listen \"%s\": use host:port",
			              lc->metrics_listen);
	}
	if (*lc->block_command &&
	    (lc->block_command[0] != '/' || access(lc->block_command, X_OK) < 0))
		sl_conf_error(c, sec,
		              "logd: block_command: an executable given by its absolute path");
	if (*lc->log_file == 0)
		sl_conf_error(c, sec, "logd: log_file: required (Postfix's maillog_file, or -)");
	if (strcmp(lc->log_file, "-") != 0 && lc->state_file[0] != '/')
		sl_conf_error(c, sec, "logd: state_file: an absolute path is required");
	lc->providers = sl_providers_new();
	conf_providers(c, sec, lc);
	sl_conf_redis_opts(c, &lc->redis);
}

/* print_event - the --parse output */
static void
print_event(const ld_event *ev, void *arg)
{
	(void)arg;
	ld_event_json(ev, stdout);
}

/* parse_file - --parse: every event of a file on stdout */
static int
parse_file(const char *path)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	sl_providers *prov = sl_providers_new();
	ld_feeder f = {
	    .table = ld_table_new(1000000, 100 * 86400), .providers = prov, .cb = print_event};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (fp == NULL) {
		fprintf(stderr, "sluice-logd: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = getline(&line, &cap, fp)) > 0)
		ld_feed(&f, line, (size_t)n - (line[n - 1] == '\n'), time(NULL));
	fprintf(stderr,
	        "sluice-logd: %llu lines, %llu events, %llu skipped, %llu malformed, "
	        "%llu too long\n",
	        f.stats.lines, f.stats.events, f.stats.skipped, f.stats.bad, f.stats.toolong);
	free(line);
	if (fp != stdin)
		fclose(fp);
	ld_table_free(f.table);
	sl_providers_free(prov);
	return 0;
}

/* log_block - a block's start or end in the log */
static void
log_block(enum ld_block_change ch, const ld_block_info *b)
{
	if (ch == LD_BLOCK_START)
		sl_warn("block start: provider %s, sending domain %s: %d %s replies: %.200s",
		        b->provider, b->source, b->count, b->class_, b->reply);
	else if (ch == LD_BLOCK_END)
		sl_info("block end (%s): provider %s, sending domain %s", b->why, b->provider,
		        b->source);
}

/* queue_event - the daemon's event callback: into the sink, then block detection */
static void
queue_event(const ld_event *ev, void *arg)
{
	run *r = arg;
	ld_block_info b;
	enum ld_block_change ch;

	ld_sink_event(r->sink, ev, time(NULL));
	ld_metrics_delivery(r->metrics, ev->provider, ev->result, ev->class_);
	if ((ch = ld_blocks_event(r->blocks, ev, time(NULL), &b)) != LD_BLOCK_SAME) {
		log_block(ch, &b);
		ld_metrics_block(r->metrics, ch);
		ld_alert_block(r->alert, ch, &b);
		ld_sink_block(r->sink, ch, &b, r->block_ttl);
	}
}

/* tick_blocks - end the blocks whose ttl passed */
static void
tick_blocks(run *r)
{
	ld_block_info b;

	while (ld_blocks_tick(r->blocks, time(NULL), &b) == LD_BLOCK_END) {
		log_block(LD_BLOCK_END, &b);
		ld_metrics_block(r->metrics, LD_BLOCK_END);
		ld_alert_block(r->alert, LD_BLOCK_END, &b);
		ld_sink_block(r->sink, LD_BLOCK_END, &b, r->block_ttl);
	}
}

/* feed_line - the follower's line callback */
static void
feed_line(const char *line, size_t len, void *arg)
{
	run *r = arg;

	ld_feed(&r->feeder, line, len, time(NULL));
}

/* open_log - the followed file; waits (a warning once) until it exists */
static ld_follow *
open_log(const ld_conf *lc)
{
	char err[512];
	ld_follow *f;
	int warned = 0;

	while ((f = ld_follow_open(lc->log_file, lc->state_file, err, sizeof(err))) == NULL &&
	       !stopping) {
		if (!warned++)
			sl_warn("%s; waiting for it", err);
		sleep(1);
	}
	return f;
}

/* pause_ms - sleep, cut short by a signal */
static void
pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* save - the position, once nothing read is still waiting for Redis */
static void
save(ld_follow *f, ld_sink *s)
{
	ld_sink_stats st;
	char err[512];

	ld_sink_get_stats(s, &st);
	if (st.buffered == 0 && ld_follow_save(f, err, sizeof(err)) < 0)
		sl_warn("state not saved: %s", err);
}

/* log_stats - the counters, every STATS_EVERY seconds and at the stop */
static void
log_stats(const run *r, const char *when)
{
	ld_sink_stats ss;
	ld_table_stats ts;
	const ld_feed_stats *f = &r->feeder.stats;

	ld_sink_get_stats(r->sink, &ss);
	ld_table_get_stats(r->feeder.table, &ts);
	sl_info("%s: %llu lines (%llu skipped, %llu malformed, %llu too long), %llu events: "
	        "%llu written, %llu unattributed, %llu waiting, %llu dropped, %llu errors; "
	        "%zu queue ids (%llu evicted, %llu expired)",
	        when, f->lines, f->skipped, f->bad, f->toolong, f->events, ss.written,
	        ss.unattributed, ss.buffered, ss.dropped, ss.errors, ts.entries, ts.evicted,
	        ts.expired);
}

/* loop - follow, feed, write, save, until a signal or stdin's end */
static void
loop(const ld_conf *lc, run *r, ld_follow *f)
{
	time_t last_expire = time(NULL), last_stats = time(NULL);
	int n = 0;

	while (!stopping && n >= 0) {
		n = ld_follow_poll(f, feed_line, r);
		tick_blocks(r);
		ld_alert_reap(r->alert);
		ld_sink_flush(r->sink, time(NULL));
		save(f, r->sink);
		if (time(NULL) - last_expire >= 60) {
			ld_table_expire(r->feeder.table, time(NULL));
			last_expire = time(NULL);
		}
		if (time(NULL) - last_stats >= STATS_EVERY) {
			log_stats(r, "counters");
			last_stats = time(NULL);
		}
		if (r->metrics) {
			ld_metrics_view v = {.feed = &r->feeder.stats};

			ld_sink_get_stats(r->sink, &v.sink);
			ld_table_get_stats(r->feeder.table, &v.table);
			ld_metrics_wait(r->metrics, n == 0 ? lc->poll_ms : 0, &v); /* serves too */
		} else if (n == 0)
			pause_ms(lc->poll_ms);
	}
}

/* serve - the daemon */
static int
serve(const ld_conf *lc, int foreground)
{
	run r = {.feeder = {.table = ld_table_new((size_t)lc->queue_max, lc->queue_ttl),
	                    .providers = lc->providers,
	                    .cb = queue_event}};
	ld_follow *f;
	char err[256];

	r.feeder.arg = &r;
	r.blocks = ld_blocks_new(&lc->block);
	r.alert = ld_alert_new(lc->block_command, lc->block_command_timeout);
	r.block_ttl = lc->block.ttl;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, SIG_IGN); /* rotation is noticed by itself; config changes need a restart */
	/* before the metrics listener: a refused start never shows a socket that answers */
	if (sl_keyspace_require_opts(&lc->redis))
		exit(EX_CONFIG); /* a keyspace of an older format: sluicectl migrate */
	if (*lc->metrics_listen &&
	    (r.metrics = ld_metrics_new(lc->metrics_listen, err, sizeof(err))) == NULL)
		sl_fatal("%s", err);
	if (!foreground && daemon(0, 0) < 0)
		sl_fatal("daemon: %s", strerror(errno));
	if ((f = open_log(lc)) == NULL)
		return 0;
	if (*lc->user && sl_drop_privileges(lc->user, err, sizeof(err)) < 0)
		sl_fatal("%s", err);
	sl_keyspace_watch(); /* Redis unreachable at the check: asked again meanwhile */
	r.sink =
	    ld_sink_new(&lc->redis, (size_t)lc->buffer_max, lc->events_maxlen, lc->all_messages);
	sl_info("started: following %s", lc->log_file);
	sl_notify("READY=1"); /* Type=notify in contrib/systemd/sluice-logd.service */
	loop(lc, &r, f);
	ld_sink_flush(r.sink, time(NULL));
	save(f, r.sink);
	log_stats(&r, "stopped");
	ld_follow_close(f);
	ld_sink_free(r.sink);
	ld_table_free(r.feeder.table);
	ld_blocks_free(r.blocks);
	ld_alert_free(r.alert);
	ld_metrics_free(r.metrics);
	return sl_keyspace_refused() ? EX_CONFIG : 0; /* the later check found an older keyspace */
}

/* main - options, config, follow */
int
main(int argc, char **argv)
{
	const char *path = SL_CONF_DEFAULT_PATH;
	static char abspath[PATH_MAX];
	int ch, check_only = 0, foreground = 0, rc;
	ld_conf lc = {0};
	sl_conf *c;

	if (argc == 3 && strcmp(argv[1], "--parse") == 0)
		return parse_file(argv[2]);
	while ((ch = getopt(argc, argv, "c:fn")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (path[0] != '/' && realpath(path, abspath) != NULL)
		path = abspath;
	sl_log_init("sluice-logd", foreground || check_only ? SL_LOG_STDERR : SL_LOG_SYSLOG,
	            SL_LOG_INFO);
	if ((c = sl_conf_load(path)) == NULL)
		return 1;
	conf_read(c, &lc);
	if (c->errors > 0) {
		sl_conf_free(c);
		return 1;
	}
	if (check_only) {
		printf("%s: configuration OK\n", path);
		rc = 0;
	} else
		rc = serve(&lc, foreground);
	sl_providers_free(lc.providers);
	sl_conf_free(c);
	return rc;
}

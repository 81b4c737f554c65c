/*
 * NAME
 *	sluice-policyd 8 - Postfix policy server: limits, suppression, tenants
 * SYNOPSIS
 *	sluice-policyd [-f] [-n] [-c config] [-p pidfile]
 * DESCRIPTION
 *	The wiring of the daemon: options, configuration (pd_config, built
 *	from sluice.conf and checked with every problem reported at once),
 *	listeners, privilege drop, the Redis client, signals and the event
 *	loop. Each concern lives in its own policyd_*.c file.
 *
 *	-c config  configuration file (default /etc/sluice/sluice.conf)
 *	-n         check the whole configuration for every program and exit
 *	--version  print the version and exit
 * EXIT STATUS
 *	0 ok, 64 (EX_USAGE) bad arguments, 78 (EX_CONFIG) bad configuration.
 *	-f         stay in the foreground and log to stderr
 *	-p pidfile write the daemon's pid there (removed at exit)
 *
 *	SIGHUP reloads the configuration: timeouts, fail actions, modes,
 *	tenants, limit seeds and the time zone change at once; listeners
 *	and the service user need a restart. SIGTERM and SIGINT stop
 *	accepting and exit cleanly. Under systemd (Type=notify) READY=1 is
 *	sent when the listeners accept, RELOADING=1 and READY=1 around a reload.
 * SEE ALSO
 *	doc/sluice-policyd.8, doc/policyd.md, doc/redis-keys.md
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf_check.h"
#include "keyspace.h"
#include "log.h"
#include "policyd.h"
#include "privs.h"
#include "service.h"

pd_server pd_srv;

static struct event *sig_hup, *sig_term, *sig_int;
static const char *pidfile;
static volatile int terminating;	/* SIGTERM or SIGINT seen, maybe before the loop runs */

/* apply_time_zone - calendar windows use the configured zone */
static void
apply_time_zone(const pd_config *pc)
{
	setenv("TZ", pc->time_zone, 1);
	tzset();
}

/* apply_log_level - the top-level log_level option */
static void
apply_log_level(const pd_config *pc)
{
	enum sl_log_level lv;

	if (sl_log_parse_level(cfg_getstr(pc->conf->cfg, "log_level"), &lv) == 0)
		sl_log_set_level(lv);
}

/* on_hup - reload the configuration; keep the old one when the new is bad */
static void
on_hup(evutil_socket_t fd, short what, void *arg)
{
	pd_config *pc;

	(void) fd, (void) what, (void) arg;
	sl_info("SIGHUP: reloading %s", pd_srv.cfg->path);
	sl_notify("RELOADING=1");
	if ((pc = pd_config_load(pd_srv.cfg->path)) == NULL) {
		sl_warn("reload failed: keeping the running configuration");
		sl_notify("READY=1");
		return;
	}
	if (strcmp(pc->http_listen, pd_srv.cfg->http_listen) != 0 ||
	    strcmp(pc->metrics_listen, pd_srv.cfg->metrics_listen) != 0 ||
	    pc->nlisten != pd_srv.cfg->nlisten)
		sl_warn("listener changes take effect at the next restart");
	pd_config_unref(pd_srv.cfg);
	pd_srv.cfg = pc;
	apply_time_zone(pc);
	apply_log_level(pc);
	pd_tenant_cache_clear(pd_srv.tenants);
	pd_limits_seed_again(&pd_srv);
	sl_info("configuration reloaded");
	sl_notify("READY=1");
}

/* on_term - stop accepting and leave the loop */
static void
on_term(evutil_socket_t fd, short what, void *arg)
{
	(void) fd, (void) what, (void) arg;
	sl_info("terminating on signal");
	terminating = 1;
	event_base_loopexit(pd_srv.base, NULL);
}

/* usage - the options, then exit (0 for --help, 64 for a mistake) */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: sluice-policyd [-f] [-n] [-c config] [-p pidfile]\n"
		"       sluice-policyd --version | --help\n");
	exit(status);
}

/* check_own - policyd's own checks, for sl_conf_check_main() */
static int
check_own(const char *path)
{
	pd_config *pc = pd_config_load(path);

	if (pc == NULL)
		return -1;
	pd_config_unref(pc);
	return 0;
}

#define FD_RESERVE 64 /* Redis, logging, listeners, slack */

/*
 * raise_fd_limit - RLIMIT_NOFILE for what the caps need: every policy
 * connection, every HTTP connection of each listener, and a reserve, so
 * that a full HTTP listener can never take the policy socket's share.
 * When the hard limit is lower, the HTTP cap shrinks to what is left
 * after the policy connections and the reserve.
 */
static void
raise_fd_limit(pd_config *pc)
{
	struct rlimit rl;
	int nhttp = (*pc->http_listen != '\0') + (*pc->metrics_listen != '\0');
	rlim_t need =
	    (rlim_t)pc->max_conns + (rlim_t)nhttp * (rlim_t)pc->http_max_conns + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need && geteuid() == 0) {
		struct rlimit want = {.rlim_cur = need, .rlim_max = need};

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		sl_warn(
		    "file descriptor limit %llu is below the %llu that max_connections (%d) and "
		    "http_max_connections (%d x %d) need: raise the hard limit (LimitNOFILE= in "
		    "systemd) or lower the caps",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need, pc->max_conns, nhttp,
		    pc->http_max_conns);
	if (rl.rlim_cur < need && nhttp > 0) {
		long left = ((long)rl.rlim_cur - pc->max_conns - FD_RESERVE) / nhttp;

		pc->http_max_conns = left < 4 ? 4 : (int)left;
		sl_warn("http_max_connections lowered to %d per listener: HTTP must not take the "
			"policy connections' descriptors", pc->http_max_conns);
	}
}

/* server_setup - listeners, privileges, Redis, timers, signals */
static void
server_setup(pd_config *pc, int foreground)
{
	char	err[256];
	struct event_config *ec = event_config_new();

	/*
	 * epoll changelist: a write event enabled and disabled again within
	 * one loop pass (an answer, an EVALSHA written at once) costs no
	 * epoll_ctl at all; without it every request made 2-3 of them
	 */
	if (ec != NULL)
		event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	pd_srv.base = ec ? event_base_new_with_config(ec) : NULL;
	event_config_free(ec);
	if (pd_srv.base == NULL)
		sl_fatal("cannot create an event base");
	pd_srv.cfg = pc;
	raise_fd_limit(pc);
	/* before the listeners: a refused start never shows a socket that answers */
	if (sl_keyspace_require_opts(&pc->redis))
		exit(EX_CONFIG); /* a keyspace of an older format: sluicectl migrate */
	for (int i = 0; i < pc->nlisten; i++)
		if (pd_listen(&pd_srv, pc->listen[i]) < 0)
			sl_fatal("cannot listen on %s", pc->listen[i]);
	if (pd_http_start(&pd_srv) < 0)
		sl_fatal("cannot start the http listeners");
	if (!foreground && daemon(0, 0) < 0)
		sl_fatal("cannot detach: %s", strerror(errno));
	if (pidfile && sl_pidfile_write(pidfile, err, sizeof(err)) < 0)
		sl_fatal("%s", err);
	if (sl_drop_privileges(pc->user, err, sizeof(err)) < 0)
		sl_fatal("%s", err);
	sl_keyspace_watch(); /* Redis unreachable at the check: asked again meanwhile */
	pd_srv.redis = sl_aredis_new(pd_srv.base, &pc->redis);
	pd_srv.breaker = pd_breaker_new();
	pd_srv.tenants = pd_tenant_cache_new();
	pd_limits_start(&pd_srv);
	pd_provider_start(&pd_srv);
	signal(SIGPIPE, SIG_IGN);
	sig_hup = evsignal_new(pd_srv.base, SIGHUP, on_hup, NULL);
	sig_term = evsignal_new(pd_srv.base, SIGTERM, on_term, NULL);
	sig_int = evsignal_new(pd_srv.base, SIGINT, on_term, NULL);
	evsignal_add(sig_hup, NULL);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
}

/*
 * wait_for_redis - before answering anyone, give Redis up to its connect
 * timeout: otherwise the first requests after a start would all get the
 * fail actions (DUNNO by default) although Redis is about to answer.
 * Clients that connect meanwhile wait in the listen backlog.
 */
static void
wait_for_redis(int grace_ms)
{
	struct timeval slice = {.tv_sec = 0, .tv_usec = 20000};
	struct timespec t0, t;
	long	waited = 0;

	pd_listeners_enable(0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!sl_aredis_connected(pd_srv.redis) && waited < grace_ms && !terminating) {
		event_base_loopexit(pd_srv.base, &slice);
		event_base_dispatch(pd_srv.base);
		clock_gettime(CLOCK_MONOTONIC, &t);
		waited = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
	}
	if (!sl_aredis_connected(pd_srv.redis) && !terminating)
		sl_warn("redis not connected after %ld ms: answering with the fail actions until it is",
			waited);
	pd_listeners_enable(1);
}

/* flush_counters - at the stop: the limits' pending pass counters, waiting up to 1 s */
static void
flush_counters(void)
{
	struct timeval slice = {.tv_sec = 0, .tv_usec = 20000};

	for (int i = 0; i < 50 && pd_limits_flush(&pd_srv); i++) {
		event_base_loopexit(pd_srv.base, &slice);
		event_base_dispatch(pd_srv.base);
	}
}

/* main - options, config, serve */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = SL_CONF_DEFAULT_PATH;
	static char abspath[PATH_MAX];
	int	ch, check_only = 0, foreground = 0;
	pd_config *pc;

	while ((ch = getopt_long(argc, argv, "c:fnhp:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f': foreground = 1; break;
		case 'n': check_only = 1; break;
		case 'p': pidfile = optarg; break;
		case 'h': usage(0);
		case 'V': printf("sluice-policyd %s\n", PACKAGE_VERSION); return 0;
		default: usage(EX_USAGE);
		}
	}
	if (optind != argc)
		usage(EX_USAGE);
	/* daemon() changes to /: keep a path SIGHUP can still open */
	if (!check_only && path[0] != '/' && realpath(path, abspath) != NULL)
		path = abspath;
	sl_log_init("sluice-policyd", foreground || check_only ? SL_LOG_STDERR : SL_LOG_SYSLOG,
		    SL_LOG_INFO);
	if (check_only)
		return sl_conf_check_main(path, "policyd", check_own, 0);
	if ((pc = pd_config_load(path)) == NULL)
		return EX_CONFIG;
	apply_time_zone(pc);
	apply_log_level(pc);
	server_setup(pc, foreground);
	wait_for_redis(pc->redis.connect_timeout_ms > 0 ? pc->redis.connect_timeout_ms : 1000);
	if (!terminating) {			/* a SIGTERM while waiting for Redis stops here */
		sl_info("started");
		sl_notify("READY=1");
		event_base_dispatch(pd_srv.base);
	}
	sl_notify("STOPPING=1");
	pd_listeners_close();
	flush_counters();
	pd_http_stop(&pd_srv);
	sl_pidfile_remove(pidfile);
	sl_info("stopped");
	return sl_keyspace_refused() ? EX_CONFIG : 0; /* the later check found an older keyspace */
}

/*
 * NAME
 *	sluice-policyd 8 - Postfix policy server: limits, suppression, tenants
 * SYNOPSIS
 *	sluice-policyd [-f] [-n] [-c config]
 * DESCRIPTION
 *	The wiring of the daemon: options, configuration (pd_config, built
 *	from sluice.conf and checked with every problem reported at once),
 *	listeners, privilege drop, the Redis client, signals and the event
 *	loop. Each concern lives in its own policyd_*.c file.
 *
 *	-c config  configuration file (default /etc/sluice/sluice.conf)
 *	-n         check the configuration and exit (0 when good)
 *	-f         stay in the foreground and log to stderr
 *
 *	SIGHUP reloads the configuration: timeouts, fail actions, modes,
 *	tenants, limit seeds and the time zone change at once; listeners
 *	and the service user need a restart. SIGTERM and SIGINT stop
 *	accepting and exit cleanly.
 * SEE ALSO
 *	doc/sluice-policyd.8, doc/policyd.md, doc/redis-keys.md
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "policyd.h"
#include "privs.h"

pd_server pd_srv;

static struct event *sig_hup, *sig_term, *sig_int;

/* pd_mode_parse - "enforce", "monitor" or "off" */
int
pd_mode_parse(const char *s, enum pd_mode *mode)
{
	if (strcasecmp(s, "enforce") == 0)
		*mode = PD_MODE_ENFORCE;
	else if (strcasecmp(s, "monitor") == 0)
		*mode = PD_MODE_MONITOR;
	else if (strcasecmp(s, "off") == 0)
		*mode = PD_MODE_OFF;
	else
		return -1;
	return 0;
}

/* pd_mode_name - the name of a mode, for logs and metrics */
const char *
pd_mode_name(enum pd_mode mode)
{
	static const char *names[] = {"inherit", "enforce", "monitor", "off"};

	return names[mode];
}

/* config_fail - parse "dunno" or "defer" */
static int
config_fail(sl_conf *c, cfg_t *sec, const char *opt, enum pd_fail *out)
{
	const char *s = cfg_getstr(sec, opt);

	if (strcasecmp(s, "dunno") == 0)
		*out = PD_FAIL_DUNNO;
	else if (strcasecmp(s, "defer") == 0 || strcasecmp(s, "defer_if_permit") == 0)
		*out = PD_FAIL_DEFER;
	else {
		sl_conf_error(c, sec, "%s \"%s\": use dunno or defer", opt, s);
		return -1;
	}
	return 0;
}

/* config_listeners - listen list plus the socket shorthand */
static void
config_listeners(pd_config *pc, sl_conf *c, cfg_t *sec)
{
	unsigned n = cfg_size(sec, "listen");
	const char *sock = cfg_getstr(sec, "socket");

	pc->listen = sl_calloc(n + 2, sizeof(char *));
	for (unsigned i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, "listen", i);

		if (strncmp(s, "unix:", 5) != 0 && strncmp(s, "inet:", 5) != 0)
			sl_conf_error(c, sec, "listen \"%s\": use unix:/path or inet:host:port", s);
		pc->listen[pc->nlisten++] = sl_strdup(s);
	}
	if (*sock) {
		char	buf[1100];

		snprintf(buf, sizeof(buf), "unix:%s", sock);
		pc->listen[pc->nlisten++] = sl_strdup(buf);
	}
	if (pc->nlisten == 0)
		sl_conf_error(c, sec, "policyd: no listener (set listen or socket)");
}

/* config_tenants - the tenant sections: name, sasl users, category */
static void
config_tenants(pd_config *pc, sl_conf *c)
{
	unsigned n = cfg_size(c->cfg, "tenant");

	pc->tenants = sl_calloc(n + 1, sizeof(*pc->tenants));
	for (unsigned i = 0; i < n; i++) {
		cfg_t  *t = cfg_getnsec(c->cfg, "tenant", i);
		pd_tenant_conf *tc = &pc->tenants[pc->ntenants++];

		tc->name = sl_strdup(cfg_title(t));
		tc->category = sl_strdup(cfg_getstr(t, "default_category"));
		tc->nsasl = (int) cfg_size(t, "sasl_users");
		tc->sasl_users = sl_calloc((size_t) tc->nsasl + 1, sizeof(char *));
		for (int k = 0; k < tc->nsasl; k++)
			tc->sasl_users[k] = sl_strdup(cfg_getnstr(t, "sasl_users", (unsigned) k));
	}
}

/* config_seeds - limit sections: checked now, written to Redis later */
static void
config_seeds(pd_config *pc, sl_conf *c, cfg_t *sec)
{
	static const char *fields[] = {"key", "match", "rate", "burst", "window", "max",
				       "unit", "action", "mode", "warn", "text"};
	unsigned n = cfg_size(sec, "limit");

	pc->seeds = sl_calloc(n + 1, sizeof(*pc->seeds));
	for (unsigned i = 0; i < n; i++) {
		cfg_t  *l = cfg_getnsec(sec, "limit", i);
		pd_seed *s = &pc->seeds[pc->nseeds++];
		pd_limit lim;
		char	err[256];

		s->name = sl_strdup(cfg_title(l));
		s->field = sl_calloc(2 * (sizeof(fields) / sizeof(*fields)), sizeof(char *));
		for (size_t k = 0; k < sizeof(fields) / sizeof(*fields); k++) {
			if (*cfg_getstr(l, fields[k]) == '\0')
				continue;
			s->field[s->nfields++] = sl_strdup(fields[k]);
			s->field[s->nfields++] = sl_strdup(cfg_getstr(l, fields[k]));
		}
		if (pd_limit_parse(&lim, s->name, s->nfields, (const char **) s->field,
				   err, sizeof(err)) < 0)
			sl_conf_error(c, l, "limit %s: %s", s->name, err);
		pd_limit_clear(&lim);
	}
}

/* config_numbers - integer options with their ranges */
static void
config_numbers(pd_config *pc, sl_conf *c, cfg_t *sec)
{
	struct {
		const char *opt;
		int    *dst;
		long	min, max;
	}	opts[] = {
		{"timeout", &pc->timeout_ms, 1, 60000},
		{"breaker_failures", &pc->breaker_failures, 1, 1000000},
		{"breaker_cooldown", &pc->breaker_cooldown_ms, 10, 600000},
		{"poll_interval", &pc->poll_ms, 50, 60000},
		{"max_connections", &pc->max_conns, 1, 100000},
		{"pipeline_max", &pc->pipeline_max, 1, 10000},
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(*opts); i++) {
		long	v = cfg_getint(sec, opts[i].opt);

		if (v < opts[i].min || v > opts[i].max)
			sl_conf_error(c, sec, "%s = %ld: use %ld to %ld", opts[i].opt, v,
				      opts[i].min, opts[i].max);
		*opts[i].dst = (int) v;
	}
}

/* config_scopes - which suppression scopes answer DISCARD */
static void
config_scopes(pd_config *pc, sl_conf *c, cfg_t *sec)
{
	for (unsigned i = 0; i < cfg_size(sec, "discard_scopes"); i++) {
		const char *s = cfg_getnstr(sec, "discard_scopes", i);

		if (strcmp(s, "global") == 0)
			pc->discard_global = 1;
		else if (strcmp(s, "category") == 0)
			pc->discard_category = 1;
		else if (strcmp(s, "tenant") == 0)
			pc->discard_tenant = 1;
		else
			sl_conf_error(c, sec, "discard_scopes \"%s\": use global, category or tenant", s);
	}
}

/* config_misc - modes, actions, time zone, secret */
static void
config_misc(pd_config *pc, sl_conf *c, cfg_t *sec)
{
	const char *mode = cfg_getstr(sec, "mode");
	const char *def = cfg_getstr(sec, "default_action");
	const char *secret = cfg_getstr(c->cfg, "secret_file");
	char   *end, err[300];
	long	m = strtol(cfg_getstr(sec, "socket_mode"), &end, 8);

	if (*end || m < 0 || m > 0777)
		sl_conf_error(c, sec, "socket_mode \"%s\": use an octal mode such as 0660",
			      cfg_getstr(sec, "socket_mode"));
	pc->socket_mode = (int) m;
	if (pd_mode_parse(mode, &pc->mode) < 0)
		sl_conf_error(c, sec, "mode \"%s\": use enforce, monitor or off", mode);
	if (strcasecmp(def, "DUNNO") != 0 && strncasecmp(def, "DEFER_IF_PERMIT", 15) != 0
	    && strncasecmp(def, "DEFER", 5) != 0 && strncasecmp(def, "REJECT", 6) != 0)
		sl_conf_error(c, sec, "default_action \"%s\": use DUNNO, DEFER_IF_PERMIT, DEFER or REJECT", def);
	pc->default_action = sl_strdup(def);
	config_fail(c, sec, "limit_fail_action", &pc->limit_fail);
	config_fail(c, sec, "suppression_fail_action", &pc->suppress_fail);
	pc->strip_tag = cfg_getbool(sec, "strip_tag");
	pc->lower_local = cfg_getbool(sec, "lowercase_local_part");
	pc->time_zone = sl_strdup(cfg_getstr(sec, "time_zone"));
	pc->http_listen = sl_strdup(cfg_getstr(sec, "http_listen"));
	pc->user = sl_strdup(cfg_getstr(c->cfg, "user"));
	if (*secret && sl_conf_read_secret(secret, pc->token_key.secret, sizeof(pc->token_key.secret),
					   &pc->token_key.len, err, sizeof(err)) == 0)
		pc->have_token_key = 1;
	else if (*secret)
		sl_conf_error(c, c->cfg, "secret_file: %s", err);
	else if (*pc->http_listen)
		sl_conf_error(c, sec, "http_listen needs secret_file (to verify unsubscribe tokens)");
}

/* pd_config_load - read and check sluice.conf; NULL after logging errors */
pd_config *
pd_config_load(const char *path)
{
	sl_conf *c = sl_conf_load(path);
	pd_config *pc;
	cfg_t  *sec;

	if (c == NULL)
		return NULL;
	pc = sl_calloc(1, sizeof(*pc));
	pc->refs = 1;
	pc->conf = c;
	pc->path = sl_strdup(path);
	sec = cfg_getsec(c->cfg, "policyd");
	config_listeners(pc, c, sec);
	config_numbers(pc, c, sec);
	config_scopes(pc, c, sec);
	config_misc(pc, c, sec);
	config_tenants(pc, c);
	config_seeds(pc, c, sec);
	sl_conf_redis_opts(c, &pc->redis);
	if (c->errors) {
		sl_error("%s: %d error%s", path, c->errors, c->errors == 1 ? "" : "s");
		pd_config_unref(pc);
		return NULL;
	}
	return pc;
}

/* pd_config_ref - one more user of a snapshot */
pd_config *
pd_config_ref(pd_config *pc)
{
	pc->refs++;
	return pc;
}

/* strv_free - free a counted string vector */
static void
strv_free(char **v, int n)
{
	for (int i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* pd_config_unref - drop a snapshot when its last user is done */
void
pd_config_unref(pd_config *pc)
{
	if (pc == NULL || --pc->refs > 0)
		return;
	strv_free(pc->listen, pc->nlisten);
	for (int i = 0; i < pc->ntenants; i++) {
		free(pc->tenants[i].name);
		free(pc->tenants[i].category);
		strv_free(pc->tenants[i].sasl_users, pc->tenants[i].nsasl);
	}
	free(pc->tenants);
	for (int i = 0; i < pc->nseeds; i++) {
		free(pc->seeds[i].name);
		strv_free(pc->seeds[i].field, pc->seeds[i].nfields);
	}
	free(pc->seeds);
	free(pc->default_action);
	free(pc->time_zone);
	free(pc->http_listen);
	free(pc->user);
	free(pc->path);
	sl_conf_free(pc->conf);
	free(pc);
}

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
	if ((pc = pd_config_load(pd_srv.cfg->path)) == NULL) {
		sl_warn("reload failed: keeping the running configuration");
		return;
	}
	if (strcmp(pc->http_listen, pd_srv.cfg->http_listen) != 0 || pc->nlisten != pd_srv.cfg->nlisten)
		sl_warn("listener changes take effect at the next restart");
	pd_config_unref(pd_srv.cfg);
	pd_srv.cfg = pc;
	apply_time_zone(pc);
	apply_log_level(pc);
	pd_tenant_cache_clear(pd_srv.tenants);
	pd_limits_seed_again(&pd_srv);
	sl_info("configuration reloaded");
}

/* on_term - stop accepting and leave the loop */
static void
on_term(evutil_socket_t fd, short what, void *arg)
{
	(void) fd, (void) what, (void) arg;
	sl_info("terminating on signal");
	event_base_loopexit(pd_srv.base, NULL);
}

/* usage - the options, then exit */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: sluice-policyd [-f] [-n] [-c config]\n");
	exit(2);
}

/* server_setup - listeners, privileges, Redis, timers, signals */
static void
server_setup(pd_config *pc, int foreground)
{
	char	err[256];

	pd_srv.base = event_base_new();
	if (pd_srv.base == NULL)
		sl_fatal("cannot create an event base");
	pd_srv.cfg = pc;
	for (int i = 0; i < pc->nlisten; i++)
		if (pd_listen(&pd_srv, pc->listen[i], pc->socket_mode) < 0)
			sl_fatal("cannot listen on %s", pc->listen[i]);
	if (*pc->http_listen && pd_http_start(&pd_srv, pc->http_listen) < 0)
		sl_fatal("cannot listen on http %s", pc->http_listen);
	if (!foreground && daemon(0, 0) < 0)
		sl_fatal("cannot detach: %s", strerror(errno));
	if (sl_drop_privileges(pc->user, err, sizeof(err)) < 0)
		sl_fatal("%s", err);
	pd_srv.redis = sl_aredis_new(pd_srv.base, &pc->redis);
	pd_srv.breaker = pd_breaker_new();
	pd_srv.tenants = pd_tenant_cache_new();
	pd_limits_start(&pd_srv);
	signal(SIGPIPE, SIG_IGN);
	sig_hup = evsignal_new(pd_srv.base, SIGHUP, on_hup, NULL);
	sig_term = evsignal_new(pd_srv.base, SIGTERM, on_term, NULL);
	sig_int = evsignal_new(pd_srv.base, SIGINT, on_term, NULL);
	evsignal_add(sig_hup, NULL);
	evsignal_add(sig_term, NULL);
	evsignal_add(sig_int, NULL);
}

/* main - options, config, serve */
int
main(int argc, char **argv)
{
	const char *path = SL_CONF_DEFAULT_PATH;
	int	ch, check_only = 0, foreground = 0;
	pd_config *pc;

	while ((ch = getopt(argc, argv, "c:fn")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f': foreground = 1; break;
		case 'n': check_only = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	sl_log_init("sluice-policyd", foreground || check_only ? SL_LOG_STDERR : SL_LOG_SYSLOG,
		    SL_LOG_INFO);
	if ((pc = pd_config_load(path)) == NULL)
		return 1;
	if (check_only) {
		printf("%s: configuration OK\n", path);
		pd_config_unref(pc);
		return 0;
	}
	apply_time_zone(pc);
	apply_log_level(pc);
	server_setup(pc, foreground);
	sl_info("started");
	event_base_dispatch(pd_srv.base);
	pd_listeners_close();
	pd_http_stop(&pd_srv);
	sl_info("stopped");
	return 0;
}

/*
 * NAME
 *	policyd_config 3 - sluice.conf as sluice-policyd uses it
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	pd_config *pd_config_load(const char *path)
 *	pd_config *pd_config_ref(pd_config *cfg)
 *	void pd_config_unref(pd_config *cfg)
 * DESCRIPTION
 *	Loads the file with lib/conf.c (the "policyd { }" section is
 *	lib/conf_policyd.c), checks every value and reports every problem
 *	at once with file:line, then builds the snapshot the daemon uses:
 *	listeners, timeouts, fail actions, modes, tenants (SASL users from
 *	the tenant sections), limit seeds (checked like limits in Redis),
 *	the Redis options and the token secret.
 * OWNERSHIP
 *	Reference counted: the daemon holds one reference, each request in
 *	flight another, so a SIGHUP reload never changes a snapshot in use.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "policyd.h"
#include "tenant_map.h"

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

/* config_seeds - limit sections: checked now, written to Redis later */
static void
config_seeds(pd_config *pc, sl_conf *c, cfg_t *sec)
{
	static const char *fields[] = {"key", "match", "rate", "burst", "window", "max",
				       "unit", "action", "mode", "warn", "text", "schedule",
				       "schedule_start"};
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
		{"http_max_connections", &pc->http_max_conns, 1, 100000},
		{"http_timeout", &pc->http_timeout_s, 1, 600},
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
	pc->refunds = cfg_getbool(sec, "refunds");
	pc->lower_local = cfg_getbool(sec, "lowercase_local_part");
	(void) sl_supp_layout_conf(c, &pc->supp_layout);
	pc->time_zone = sl_strdup(cfg_getstr(sec, "time_zone"));
	pc->http_listen = sl_strdup(cfg_getstr(sec, "http_listen"));
	pc->metrics_listen = sl_strdup(cfg_getstr(sec, "metrics_listen"));
	pc->socket_group = sl_strdup(cfg_getstr(sec, "socket_group"));
	pc->user = sl_strdup(cfg_getstr(c->cfg, "user"));
	if (*secret && sl_conf_token_ring(c, &pc->token_ring, err, sizeof(err)) == 0)
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
	pc->site = c->site;
	config_seeds(pc, c, sec);
	pc->react = pd_provider_config(c, sec);
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
	for (int i = 0; i < pc->nseeds; i++) {
		free(pc->seeds[i].name);
		strv_free(pc->seeds[i].field, pc->seeds[i].nfields);
	}
	free(pc->seeds);
	pd_provider_config_free(pc->react);
	free(pc->default_action);
	free(pc->time_zone);
	free(pc->http_listen);
	free(pc->metrics_listen);
	free(pc->socket_group);
	free(pc->user);
	free(pc->path);
	sl_conf_free(pc->conf);
	free(pc);
}

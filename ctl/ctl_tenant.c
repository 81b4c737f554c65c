/*
 * NAME
 *	ctl_tenant 3 - sluicectl tenant status|show|list
 * DESCRIPTION
 *	A tenant's state is the hash <prefix>tenant:<name> with the fields
 *	status (active, paused or suspended), status_reason and
 *	status_changed (unix time). No hash means active. sluice-policyd
 *	defers the mail of a paused or suspended tenant; it may also pause a
 *	tenant by itself, writing the same fields. Setting a status also
 *	appends an event (type tenant-status) to <prefix>events, so the
 *	change is on record. A status written by hand that is none of the
 *	three (lib/live.c) is shown as ignored: policyd lets the tenant send
 *	and logs it once.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "live.h"
#include "log.h"

/* status_ok - one of the three states (lib/live.c decides) */
static int
status_ok(const char *s)
{
	return sl_live_tenant_status(s) >= 0;
}

/* status_shown - a status for display; a hand-written invalid one marked */
static const char *
status_shown(const char *s, char *buf, size_t size)
{
	char	v[100];

	if (status_ok(s))
		return s;
	sl_live_printable(s, v, sizeof(v));
	snprintf(buf, size, "%s (invalid: ignored, sends as active)", v);
	return buf;
}

/* configured - is the tenant defined in sluice.conf */
static int
configured(const ctl_ctx *ctx, const char *name)
{
	return sl_site_tenant(ctx->conf->site, name) != NULL;
}

/* show_status - print a tenant's hash, "active" when there is none */
static int
show_status(ctl_ctx *ctx, const char *name, const char *key)
{
	sl_reply *h = ctl_hgetall(ctx, key);
	const char *st = h ? ctl_hget(h, "status") : NULL;
	char	buf[160];

	printf("tenant: %s%s\n", name, configured(ctx, name) ? "" : " (not in the config file)");
	if (h == NULL) {
		printf("status: active (no entry)\n");
		return 0;
	}
	ctl_print_hash(stdout, h, "");
	if (st && !status_ok(st))
		printf("warning: status %s\n", status_shown(st, buf, sizeof(buf)));
	for (int i = 0; i < 2; i++) { /* the relay policy fields (ctl_relay.c) */
		const char *f = i ? "allowed_senders" : "require_tls", *v = ctl_hget(h, f);

		if (v && sl_live_tenant_field(f, v, buf, sizeof(buf)) < 0)
			printf("warning: %s (ignored: the configuration applies)\n", buf);
	}
	sl_reply_free(h);
	return 0;
}

/* log_event - record the change on the events stream */
static void
log_event(ctl_ctx *ctx, const char *name, const char *status, const char *reason)
{
	char	key[CTL_KEY_MAX];
	const char *argv[] = {"XADD", key, "*", "type", "tenant-status", "tenant", name,
			      "status", status, "reason", reason ? reason : "",
			      "source", "sluicectl"};

	if (ctl_key(ctx, key, sizeof(key), SL_KEY_EVENTS) == 0)
		sl_reply_free(ctl_cmd_ok(ctx, 13, argv));
}

/* set_status - write status, reason and time in one HSET */
static int
set_status(ctl_ctx *ctx, const char *name, const char *key, const char *status,
	   const char *reason)
{
	char	now[32];
	const char *hset[] = {"HSET", key, "status", status, "status_changed", now,
			      "status_reason", reason};
	const char *hdel[] = {"HDEL", key, "status_reason"};

	snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
	sl_reply_free(ctl_cmd_ok(ctx, reason ? 8 : 6, hset));
	if (reason == NULL)
		sl_reply_free(ctl_cmd_ok(ctx, 3, hdel));
	log_event(ctx, name, status, reason);
	printf("tenant %s: %s%s%s\n", name, status, reason ? " - " : "", reason ? reason : "");
	if (!configured(ctx, name))
		ctl_err("note: tenant %s is not defined in %s", name, ctx->conf_path);
	return 0;
}

/* ctl_tenant_status - show or set a tenant's status */
int
ctl_tenant_status(ctl_ctx *ctx, int argc, char **argv)
{
	const char *reason = NULL, *name, *status;
	char	key[CTL_KEY_MAX];
	const ctl_opt opts[] = {CTL_ARG("reason", &reason), CTL_OPT_END};
	int	i = ctl_getopt(ctx, argc, argv, opts, 1, 2);

	name = argv[i];
	status = argc - i == 2 ? argv[i + 1] : NULL;
	if (!ctl_label_ok(name)) {
		ctl_err("tenant \"%s\": a name is 1-15 characters a-z 0-9", name);
		ctl_usage(ctx);
	}
	if ((status && !status_ok(status)) || (reason && !status))
		ctl_usage(ctx);
	ctl_key(ctx, key, sizeof(key), SL_KEY_TENANT, name);
	return status ? set_status(ctx, name, key, status, reason) : show_status(ctx, name, key);
}

/* ctl_tenant_show - a tenant's status, a hand-written invalid one marked */
int
ctl_tenant_show(ctl_ctx *ctx, int argc, char **argv)
{
	char	key[CTL_KEY_MAX];

	if (argc != 2 || !ctl_label_ok(argv[1]))
		ctl_usage(ctx);
	ctl_key(ctx, key, sizeof(key), SL_KEY_TENANT, argv[1]);
	return show_status(ctx, argv[1], key);
}

typedef struct name_list {
	char  **names;
	size_t	n, cap;
} name_list;

/* names_add - collect a name once */
static void
names_add(name_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return;
	l->names = sl_grow(l->names, l->n, &l->cap, sizeof(char *));
	l->names[l->n++] = sl_strdup(name);
}

/* tenant_scan - SCAN callback: tenant names from tenant:<name> keys */
static int
tenant_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	const char *name = key + strlen(ctx->prefix) + 7;

	if (strchr(name, ':') == NULL && *name)
		names_add(arg, name);
	return 0;
}

/* cmp_names - qsort order */
static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* print_tenant - one row of tenant list */
static void
print_tenant(ctl_ctx *ctx, const char *name)
{
	char	key[CTL_KEY_MAX], age[32] = "-", buf[160];
	sl_reply *h;
	const char *status = "active", *reason = "", *changed;

	ctl_key(ctx, key, sizeof(key), SL_KEY_TENANT, name);
	h = ctl_hgetall(ctx, key);
	if (h && ctl_hget(h, "status"))
		status = ctl_hget(h, "status");
	if (h && ctl_hget(h, "status_reason"))
		reason = ctl_hget(h, "status_reason");
	if (h && (changed = ctl_hget(h, "status_changed")) != NULL)
		ctl_age((time_t) atoll(changed), time(NULL), age, sizeof(age));
	printf("%-16s %-10s %-8s %-4s %s\n", name, status_shown(status, buf, sizeof(buf)), age,
	       configured(ctx, name) ? "yes" : "no", reason);
	sl_reply_free(h);
}

/* ctl_tenant_list - every tenant in the config or in Redis, with status */
int
ctl_tenant_list(ctl_ctx *ctx, int argc, char **argv)
{
	name_list l = {0};
	char	pattern[CTL_KEY_MAX], p[256];

	if (argc != 1)
		ctl_usage(ctx);
	(void) argv;
	for (size_t i = 0; i < ctx->conf->site->ntenants; i++)
		names_add(&l, ctx->conf->site->tenants[i].name);
	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	sl_key(pattern, sizeof(pattern), p, SL_KEY_TENANT, "*");
	ctl_scan(ctx, pattern, tenant_scan, &l);
	if (l.n > 1)
		qsort(l.names, l.n, sizeof(char *), cmp_names);
	printf("%-16s %-10s %-8s %-4s %s\n", "TENANT", "STATUS", "CHANGED", "CONF", "REASON");
	for (size_t i = 0; i < l.n; i++) {
		print_tenant(ctx, l.names[i]);
		free(l.names[i]);
	}
	free(l.names);
	return 0;
}

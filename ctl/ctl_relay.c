/*
 * NAME
 *	ctl_relay 3 - sluicectl tenant policy: a tenant's relay policy, live
 * SYNOPSIS
 *	sluicectl tenant policy NAME [require_tls=yes|no|default]
 *				     [allowed_senders=domains|users|any|default]
 * DESCRIPTION
 *	Prints the relay policy sluice-policyd applies to the tenant: each
 *	field from <prefix>tenant:<name> when set there and valid, else from
 *	the tenant section of sluice.conf, and its IP-authenticated clients
 *	(config only). With settings, writes them first (one HSET; "default"
 *	removes the field, so the config applies again). A value lib/live.c
 *	refuses is refused here (exit 65) and nothing is written; one written
 *	by hand is shown as ignored, as sluice-policyd ignores it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "live.h"
#include "tenant_map.h"

static const char *const fields[] = {"require_tls", "allowed_senders"};

/* config_value - the value of a policy field in the tenant's section */
static const char *
config_value(const ctl_ctx *ctx, const char *name, int i)
{
	const struct sl_site_tenant *t = sl_site_tenant(ctx->conf->site, name);
	const char *s;

	if (t == NULL)
		return i == 0 ? "no" : "unset";
	if (i == 0)
		return t->require_tls ? "yes" : "no";
	s = t->allowed_senders;
	return *s ? s : t->nclient_list ? "unset (domains for IP clients)" : "unset";
}

/* print_policy - each field with where it comes from, then the clients */
static void
print_policy(ctl_ctx *ctx, const char *name, const char *key)
{
	sl_reply *h = ctl_hgetall(ctx, key);
	const struct sl_site_tenant *t = sl_site_tenant(ctx->conf->site, name);
	char err[200];

	printf("tenant: %s%s\n", name, t ? "" : " (not in the config file)");
	for (int i = 0; i < 2; i++) {
		const char *v = h ? ctl_hget(h, fields[i]) : NULL;

		if (v && sl_live_tenant_field(fields[i], v, err, sizeof(err)) == 0)
			printf("%s: %s (redis)\n", fields[i], v);
		else if (v)
			printf("%s: %s (config; redis value ignored: %s)\n", fields[i],
			       config_value(ctx, name, i), err);
		else
			printf("%s: %s (config)\n", fields[i], config_value(ctx, name, i));
	}
	printf("clients:");
	for (size_t k = 0; t && k < t->nclient_list; k++)
		printf(" %s", t->client_list[k]);
	printf("%s\n", t && t->nclient_list ? "" : " none (SASL only)");
	sl_reply_free(h);
}

/* field_index - 0 or 1 for a policy field name of n bytes, -1 otherwise */
static int
field_index(const char *s, size_t n)
{
	for (int i = 0; i < 2; i++)
		if (strlen(fields[i]) == n && strncmp(s, fields[i], n) == 0)
			return i;
	return -1;
}

/* ctl_tenant_policy - show, or set then show, a tenant's relay policy */
int
ctl_tenant_policy(ctl_ctx *ctx, int argc, char **argv)
{
	char key[CTL_KEY_MAX], err[200];
	const char *hset[2 + 4], *hdel[2 + 2];
	int nset = 2, ndel = 2;

	if (argc < 2 || !ctl_label_ok(argv[1]))
		ctl_usage(ctx);
	ctl_key(ctx, key, sizeof(key), SL_KEY_TENANT, argv[1]);
	hset[0] = "HSET", hdel[0] = "HDEL", hset[1] = hdel[1] = key;
	for (int i = 2; i < argc; i++) {
		size_t n = strcspn(argv[i], "=");
		const char *v = argv[i] + n + 1;
		int f = argv[i][n] == '=' ? field_index(argv[i], n) : -1;

		if (f < 0 || i - 2 >= 2) {
			ctl_err("\"%s\": use require_tls=yes|no|default or "
			        "allowed_senders=domains|users|any|default",
			        argv[i]);
			ctl_usage(ctx);
		}
		if (strcmp(v, "default") == 0) {
			hdel[ndel++] = fields[f];
			continue;
		}
		if (sl_live_tenant_field(fields[f], v, err, sizeof(err)) < 0) {
			ctl_err("tenant %s: %s", argv[1], err);
			return EX_DATAERR;
		}
		hset[nset++] = fields[f], hset[nset++] = v;
	}
	if (nset > 2)
		sl_reply_free(ctl_cmd_ok(ctx, nset, hset));
	if (ndel > 2)
		sl_reply_free(ctl_cmd_ok(ctx, ndel, hdel));
	print_policy(ctx, argv[1], key);
	return 0;
}

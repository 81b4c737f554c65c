/*
 * NAME
 *	ctl_subdomain 3 - sluicectl subdomain move|revert|list: replace a burnt subdomain
 * DESCRIPTION
 *	When a category's or tenant's sending subdomain has a reputation that
 *	cannot be repaired, "move" gives it a new label in one step: the field
 *	category:<name> (or tenant:<name>) of the hash <prefix>relabel, which
 *	sluice-milter reads within two seconds (milter_relabel.c) and
 *	sluice-policyd at its next poll: new mail is then sent, signed and
 *	predicted from <label>.<domain>. Bounces and unsubscribes of mail
 *	already sent keep arriving at the old subdomain and are still
 *	processed (their tokens do not name the domain): keep its MX and its
 *	route to sluice-feedback. The command prints the records to publish
 *	for the new name (DKIM, MX, SPF: those of the old one, renamed) and
 *	adds a subdomain-move event. "plan" prints the records without
 *	moving (publish them first: mail signed for the new name fails DKIM
 *	until its key record is there). "revert" removes the override,
 *	"list" shows them.
 * ERRORS
 *	64 for bad arguments (an unknown category, a label that is not a DNS
 *	label, the label in force already); 69 when Redis cannot be reached.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "live.h"

/* current_label - the label in force: the override, else the configured one */
static const char *
current_label(ctl_ctx *ctx, const char *field, const char *configured, char *buf, size_t len)
{
	char key[CTL_KEY_MAX];
	const char *argv[] = {"HGET", key, field};
	sl_reply *r;

	if (ctl_key(ctx, key, sizeof(key), SL_KEY_RELABEL) < 0)
		return configured;
	r = ctl_cmd_ok(ctx, 3, argv);
	if (r->type == SL_REPLY_STRING)
		snprintf(buf, len, "%s", r->str), configured = buf;
	sl_reply_free(r);
	return configured;
}

/* print_renamed - the records of old.<domain> in the plan, under new.<domain> */
static void
print_renamed(const ctl_dns_plan *p, const char *old, const char *new)
{
	size_t ol = strlen(old);

	for (int i = 0; i < p->n; i++) {
		const ctl_rr *rr = &p->rr[i];
		size_t nl = strlen(rr->name);
		char name[600];

		if (rr->kind == CTL_RR_NOTE || rr->kind == CTL_RR_DMARC || nl < ol ||
		    strcmp(rr->name + nl - ol, old) != 0 ||
		    (nl > ol && rr->name[nl - ol - 1] != '.'))
			continue;
		snprintf(name, sizeof(name), "%.*s%s", (int)(nl - ol), rr->name, new);
		if (rr->kind == CTL_RR_MX)
			printf("%s.\tMX\t10 %s.\n", name, rr->value);
		else
			ctl_dkim_print_txt(stdout, name, rr->value);
	}
}

/* entry - a configured category's or tenant's subdomain and transport; 0: not configured */
static int
entry(const ctl_ctx *ctx, const char *kind, const char *name, const char **subdomain,
      const char **transport)
{
	const struct sl_site_category *c = NULL;
	const struct sl_site_tenant *t = NULL;

	if (strcmp(kind, "category") == 0)
		c = sl_site_category(ctx->conf->site, name);
	else
		t = sl_site_tenant(ctx->conf->site, name);
	*subdomain = c ? c->subdomain : t ? t->subdomain : "";
	*transport = c ? c->transport : t ? t->transport : "";
	return c != NULL || t != NULL;
}

/* records - what to publish for the new label under every configured domain */
static int
records(ctl_ctx *ctx, const char *kind, const char *name, const char *old, const char *new,
        const char *mx)
{
	const char *transport, *label;
	char host[256], o[300], n[300];
	const sl_site *site = ctx->conf->site;
	int rc = 0;

	(void)entry(ctx, kind, name, &label, &transport);
	if ((mx = ctl_dns_host(mx, host, sizeof(host))) == NULL)
		return 1;
	for (size_t i = 0; i < site->ndomains; i++) {
		const char *d = site->domains[i].name;
		ctl_dns_plan p;

		snprintf(o, sizeof(o), "%s.%s", old, d);
		snprintf(n, sizeof(n), "%s.%s", new, d);
		printf("; publish for %s (replacing %s; keep %s's MX for the bounces of mail "
		       "already sent):\n",
		       n, o, o);
		if (ctl_dns_plan_make(ctx, d, mx, NULL, "", &p) < 0) {
			rc = 1;
			continue;
		}
		print_renamed(&p, o, n);
		if (*transport)
			printf("; and in the sender_dependent_default_transport_maps table "
			       "(sluicectl transports):\n; @%s\t%s\n",
			       n, transport);
		rc |= p.errors != 0;
		ctl_dns_plan_free(&p);
	}
	return rc;
}

/* event - subdomain-move or subdomain-revert on the events stream */
static void
event(ctl_ctx *ctx, const char *type, const char *field, const char *old, const char *new)
{
	char key[CTL_KEY_MAX];
	const char *argv[] = {"XADD", key, "*",   "type", type,     "what",     field,
	                      "old",  old, "new", new,    "set_by", "sluicectl"};

	if (ctl_key(ctx, key, sizeof(key), SL_KEY_EVENTS) == 0)
		sl_reply_free(ctl_cmd_ok(ctx, 13, argv));
}

/* configured - the section's configured label; NULL (usage) for an unknown category */
static const char *
configured(ctl_ctx *ctx, const char *kind, const char *name)
{
	const char *label, *transport;

	if (!ctl_label_ok(name))
		ctl_usage(ctx);
	if (!entry(ctx, kind, name, &label, &transport) && strcmp(kind, "category") == 0) {
		ctl_err("category %s is not configured in %s", name, ctx->conf_path);
		ctl_usage(ctx);
	}
	return label; /* "" for a tenant that lives in Redis only */
}

/* list - every override in force */
static int
list(ctl_ctx *ctx)
{
	char key[CTL_KEY_MAX];
	sl_reply *h;

	if (ctl_key(ctx, key, sizeof(key), SL_KEY_RELABEL) < 0)
		return 1;
	h = ctl_hgetall(ctx, key);
	printf("%-28s %s\n", "CATEGORY OR TENANT", "SUBDOMAIN LABEL");
	for (size_t i = 0; h && i + 1 < h->elements; i += 2) {
		printf("%-28s ", h->element[i]->str ? h->element[i]->str : "?");
		ctl_print_value(stdout, h->element[i + 1]->str ? h->element[i + 1]->str : "");
		printf("\n");
	}
	sl_reply_free(h);
	return 0;
}

/* ctl_subdomain - move a category or tenant to a new subdomain, revert, list */
int
ctl_subdomain(ctl_ctx *ctx, int argc, char **argv)
{
	const char *mx = NULL, *what, *kind, *name, *conf_label, *old;
	char field[64], key[CTL_KEY_MAX], buf[64];
	const ctl_opt opts[] = {CTL_ARG("mx", &mx), CTL_OPT_END};
	int i = ctl_getopt(ctx, argc, argv, opts, 1, CTL_ANY_ARGS);

	argc -= i, argv += i;
	what = argv[0];
	if (strcmp(what, "list") == 0 && argc == 1)
		return list(ctx);
	if (argc < 3 || ctl_key(ctx, key, sizeof(key), SL_KEY_RELABEL) < 0)
		ctl_usage(ctx);
	kind = argv[1], name = argv[2];
	if (strcmp(kind, "category") != 0 && strcmp(kind, "tenant") != 0)
		ctl_usage(ctx);
	conf_label = configured(ctx, kind, name);
	snprintf(field, sizeof(field), "%s:%s", kind, name);
	old = current_label(ctx, field, conf_label, buf, sizeof(buf));
	if (strcmp(what, "revert") == 0 && argc == 3) {
		const char *del[] = {"HDEL", key, field};

		sl_reply_free(ctl_cmd_ok(ctx, 3, del));
		event(ctx, "subdomain-revert", field, old, conf_label);
		printf("%s: back to the configured subdomain label \"%s\"\n", field, conf_label);
		return 0;
	}
	if ((strcmp(what, "move") != 0 && strcmp(what, "plan") != 0) || argc != 4 ||
	    !sl_live_dns_label_ok(argv[3]))
		ctl_usage(ctx);
	if (strcmp(argv[3], old) == 0) {
		ctl_err("%s already sends from the label %s", field, old);
		ctl_usage(ctx);
	}
	if (strcmp(what, "plan") == 0) /* the records only: publish them, then move */
		return *old && records(ctx, kind, name, old, argv[3], mx) ? 1 : 0;
	{
		const char *hset[] = {"HSET", key, field, argv[3]};

		sl_reply_free(ctl_cmd_ok(ctx, 4, hset));
	}
	event(ctx, "subdomain-move", field, old, argv[3]);
	printf("%s: new mail leaves from the label %s (was %s) within seconds\n", field, argv[3],
	       *old ? old : "none");
	if (*old == '\0')
		return 0;
	return records(ctx, kind, name, old, argv[3], mx) ? 1 : 0;
}

/*
 * NAME
 *	ctl_sasl 3 - sluicectl sasl set|show
 * DESCRIPTION
 *	A SASL user's entry is the hash <prefix>sasl:<user> with the fields
 *	category, tenant and domains (comma-separated, lowercased): the
 *	milter takes the message's category and tenant from it and lets the
 *	user sign only for those From domains. "set" changes only the
 *	fields given; an empty value ("--tenant ''") removes the field.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "live.h"

/* user_ok - a SASL login name: printable, no blanks, at most 255 bytes */
static int
user_ok(const char *u)
{
	if (*u == '\0' || *u == '-' || strlen(u) > 255)
		return 0;
	for (; *u; u++)
		if ((unsigned char) *u <= ' ' || *u == 0x7f)
			return 0;
	return 1;
}

/* clean_domains - "A.com, b.org" to "a.com,b.org" (lib/live.c); -1 on a bad domain */
static int
clean_domains(const char *in, char *out, size_t outlen)
{
	char	bad[100];

	if (sl_live_domains(in, out, outlen, bad, sizeof(bad)) < 0) {
		ctl_err("--domains: \"%s\" is not a domain name", bad);
		return -1;
	}
	return 0;
}

/* set_field - HSET one field, or HDEL it when the value is empty */
static void
set_field(ctl_ctx *ctx, const char *key, const char *field, const char *value)
{
	const char *hset[] = {"HSET", key, field, value};
	const char *hdel[] = {"HDEL", key, field};

	if (*value)
		sl_reply_free(ctl_cmd_ok(ctx, 4, hset));
	else
		sl_reply_free(ctl_cmd_ok(ctx, 3, hdel));
}

/* check_names - category and tenant: valid labels; warn when not configured */
static int
check_names(const ctl_ctx *ctx, const char *cat, const char *tenant)
{
	if (cat && *cat && !ctl_label_ok(cat)) {
		ctl_err("category \"%s\": a name is 1-15 characters a-z 0-9", cat);
		return -1;
	}
	if (tenant && *tenant && !ctl_label_ok(tenant)) {
		ctl_err("tenant \"%s\": a name is 1-15 characters a-z 0-9", tenant);
		return -1;
	}
	if (cat && *cat && sl_site_category(ctx->conf->site, cat) == NULL)
		ctl_err("note: category %s is not defined in %s", cat, ctx->conf_path);
	if (tenant && *tenant && sl_site_tenant(ctx->conf->site, tenant) == NULL)
		ctl_err("note: tenant %s is not defined in %s", tenant, ctx->conf_path);
	return 0;
}

/* ctl_sasl_set - set some fields of a SASL user's entry */
int
ctl_sasl_set(ctl_ctx *ctx, int argc, char **argv)
{
	const char *cat = NULL, *tenant = NULL, *domains = NULL;
	char	key[CTL_KEY_MAX], dom[1024];
	const ctl_opt opts[] = {CTL_ARG("category", &cat), CTL_ARG("tenant", &tenant),
	                        CTL_ARG("domains", &domains), CTL_OPT_END};
	const char *user = argv[ctl_getopt(ctx, argc, argv, opts, 1, 1)];

	if (!user_ok(user) || (!cat && !tenant && !domains))
		ctl_usage(ctx);
	if (check_names(ctx, cat, tenant) < 0 || (domains && clean_domains(domains, dom, sizeof(dom)) < 0))
		ctl_usage(ctx);
	if (ctl_key(ctx, key, sizeof(key), SL_KEY_SASL, user) < 0)
		ctl_usage(ctx);
	if (cat)
		set_field(ctx, key, "category", cat);
	if (tenant)
		set_field(ctx, key, "tenant", tenant);
	if (domains)
		set_field(ctx, key, "domains", dom);
	printf("sasl user %s updated\n", user);
	return 0;
}

/* ctl_sasl_show - print a SASL user's entry; 1 when there is none */
int
ctl_sasl_show(ctl_ctx *ctx, int argc, char **argv)
{
	char	key[CTL_KEY_MAX];
	sl_reply *h;

	if (argc != 2 || !user_ok(argv[1]) || ctl_key(ctx, key, sizeof(key), SL_KEY_SASL, argv[1]) < 0)
		ctl_usage(ctx);
	if ((h = ctl_hgetall(ctx, key)) == NULL) {
		printf("sasl user %s: no entry\n", argv[1]);
		return CTL_NO;
	}
	printf("user: %s\n", argv[1]);
	ctl_print_hash(stdout, h, "");
	sl_reply_free(h);
	return 0;
}

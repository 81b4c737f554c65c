/*
 * NAME
 *	provider 3 - recipient domain (or MX host) -> mailbox provider
 * DESCRIPTION
 *	The rules of provider.h: a fixed table, operator rules first.
 *	At most SL_MAX_PROVIDER_RULES rules; a pattern is a domain of at
 *	most 255 bytes without '@'.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "provider.h"

#define SL_MAX_PROVIDER_RULES 256
#define PATTERN_MAX 256

typedef struct rule {
	char name[SL_PROVIDER_NAME_MAX];
	char pattern[PATTERN_MAX];
	int mx;
} rule;

struct sl_providers {
	rule r[SL_MAX_PROVIDER_RULES];
	size_t n;
	size_t nuser; /* operator rules come first */
};

static const rule defaults[] = {
    {"google", "gmail.com", 0},
    {"google", "googlemail.com", 0},
    {"google", ".google.com", 1},
    {"google", ".googlemail.com", 1},
    {"yahoo", ".yahoo.com", 0},
    {"yahoo", ".yahoo.co.jp", 0},
    {"yahoo", "ymail.com", 0},
    {"yahoo", "rocketmail.com", 0},
    {"yahoo", "aol.com", 0},
    {"yahoo", "aim.com", 0},
    {"yahoo", ".yahoodns.net", 1},
    {"yahoo", ".aol.com", 1},
    {"microsoft", ".outlook.com", 0},
    {"microsoft", ".hotmail.com", 0},
    {"microsoft", ".live.com", 0},
    {"microsoft", "msn.com", 0},
    {"microsoft", ".protection.outlook.com", 1},
    {"microsoft", ".olc.protection.outlook.com", 1},
    {"docomo", "docomo.ne.jp", 0},
    {"au", "ezweb.ne.jp", 0},
    {"au", "au.com", 0},
    {"softbank", "softbank.ne.jp", 0},
    {"softbank", "i.softbank.jp", 0},
};

/* sl_providers_new - a table with the built-in rules */
sl_providers *
sl_providers_new(void)
{
	sl_providers *p = sl_calloc(1, sizeof(*p));

	memcpy(p->r, defaults, sizeof(defaults));
	p->n = sizeof(defaults) / sizeof(defaults[0]);
	return p;
}

/* sl_providers_free - NULL is a no-op */
void
sl_providers_free(sl_providers *p)
{
	free(p);
}

/* sl_provider_name_ok - a provider name: 1-31 of a-z 0-9 - _ */
int
sl_provider_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= SL_PROVIDER_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' ||
		      *s == '_'))
			return 0;
	return 1;
}

/* sl_providers_add - an operator rule, before the defaults; -1 with err when bad */
int
sl_providers_add(sl_providers *p, const char *name, const char *pattern, int mx, char *err,
                 size_t errlen)
{
	if (!sl_provider_name_ok(name)) {
		snprintf(err, errlen, "provider name \"%s\": 1-31 of a-z 0-9 - _", name);
		return -1;
	}
	if (*pattern == 0 || strlen(pattern) >= PATTERN_MAX || strchr(pattern, '@')) {
		snprintf(err, errlen, "provider %s: bad domain pattern \"%s\"", name, pattern);
		return -1;
	}
	if (p->n >= SL_MAX_PROVIDER_RULES) {
		snprintf(err, errlen, "more than %d provider rules", SL_MAX_PROVIDER_RULES);
		return -1;
	}
	memmove(&p->r[p->nuser + 1], &p->r[p->nuser], (p->n - p->nuser) * sizeof(rule));
	snprintf(p->r[p->nuser].name, sizeof(p->r[0].name), "%s", name);
	snprintf(p->r[p->nuser].pattern, sizeof(p->r[0].pattern), "%s", pattern);
	p->r[p->nuser].mx = mx;
	p->nuser++, p->n++;
	return 0;
}

/* sl_providers_conf - the provider sections of logd { }; -1 with err at the first bad one */
int
sl_providers_conf(sl_providers *p, cfg_t *logd_sec, char *err, size_t errlen)
{
	for (unsigned i = 0; logd_sec && i < cfg_size(logd_sec, "provider"); i++) {
		cfg_t *s = cfg_getnsec(logd_sec, "provider", i);

		for (int mx = 0; mx < 2; mx++)
			for (unsigned j = 0; j < cfg_size(s, mx ? "mx" : "domains"); j++)
				if (sl_providers_add(p, cfg_title(s),
				                     cfg_getnstr(s, mx ? "mx" : "domains", j), mx,
				                     err, errlen) < 0)
					return -1;
	}
	return 0;
}

/* matches - a domain against a pattern ("x.com" exact, ".x.com" it and below) */
static int
matches(const char *domain, const char *pattern)
{
	size_t dn = strlen(domain), pn = strlen(pattern);

	if (dn > 0 && domain[dn - 1] == '.')
		dn--;
	if (pattern[0] != '.')
		return dn == pn && strncasecmp(domain, pattern, pn) == 0;
	if (dn == pn - 1 && strncasecmp(domain, pattern + 1, dn) == 0)
		return 1;
	return dn > pn && strncasecmp(domain + dn - pn, pattern, pn) == 0;
}

/* sl_provider_of - the provider of a recipient domain (or of the MX it was sent to) */
const char *
sl_provider_of(const sl_providers *p, const char *domain, const char *relay_host)
{
	if (p == NULL)
		return "other";
	for (size_t i = 0; i < p->n; i++)
		if (matches(p->r[i].mx ? (relay_host ? relay_host : "") : (domain ? domain : ""),
		            p->r[i].pattern))
			return p->r[i].name;
	return "other";
}

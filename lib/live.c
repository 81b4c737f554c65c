/*
 * NAME
 *	live 3 - validators of what operators write into Redis by hand
 * DESCRIPTION
 *	A tenant status is active, paused or suspended (no entry: active).
 *	A mode is enforce, monitor or off. A limit hash has a key template,
 *	exactly one of rate (N/unit, N/Munit: s, m, h, d and their long
 *	names) and window (minute, hour, day, month, which needs max), and
 *	optionally burst, max, warn (positive integers up to 10^9), unit
 *	(messages, recipients), action (defer, reject), mode, match, text
 *	(printable ASCII, at most 200), description and note.
 *	key and match may name only the attributes of a policy request
 *	(sl_live_attributes: ${sasl_username}, recipient_orgdomain=...), the
 *	ones sluice-policyd's pd_facts_get() knows (a unit test keeps the two
 *	lists equal). sluice-policyd parses limits with these same functions.
 *	A SASL user's entry has category and tenant (names of 1-15 a-z 0-9)
 *	and domains (comma-separated lowercase domains, "*." allowed first).
 *	A tenant hash may also carry the relay policy (tenant_map.c):
 *	require_tls (yes, no) and allowed_senders (domains, users, any);
 *	sl_live_tenant_senders() is the one reading of a live allowed_senders
 *	value, for both daemons.
 *	sluicectl refuses what fails here; the daemons ignore it, log it
 *	once with key and field, and count it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "live.h"
#include "tenant_map.h"

/* sl_live_tenant_status - the status named, -1 when it is none of the three */
int
sl_live_tenant_status(const char *s)
{
	if (s == NULL || strcmp(s, "active") == 0)
		return SL_TENANT_ACTIVE;
	if (strcmp(s, "paused") == 0)
		return SL_TENANT_PAUSED;
	if (strcmp(s, "suspended") == 0)
		return SL_TENANT_SUSPENDED;
	return -1;
}

/* sl_live_yesno - 1 for yes, 0 for no, -1 otherwise */
int
sl_live_yesno(const char *s)
{
	if (strcmp(s, "yes") == 0)
		return 1;
	if (strcmp(s, "no") == 0)
		return 0;
	return -1;
}

/* sl_live_tenant_field - a relay policy field of sluice:tenant:<t>; -1 with err */
int
sl_live_tenant_field(const char *f, const char *v, char *err, size_t errlen)
{
	char shown[84];
	int ok = 1;

	if (strcmp(f, "require_tls") == 0)
		ok = sl_live_yesno(v) >= 0;
	else if (strcmp(f, "allowed_senders") == 0)
		ok = *v && sl_tenant_senders_parse(v) > 0;
	else if (strcmp(f, "status") == 0)
		ok = sl_live_tenant_status(v) >= 0;
	if (ok)
		return 0;
	sl_live_printable(v, shown, sizeof(shown));
	snprintf(err, errlen, "invalid %s \"%s\" (%s)", f, shown,
	         strcmp(f, "require_tls") == 0       ? "use yes or no"
	         : strcmp(f, "allowed_senders") == 0 ? "use domains, users or any"
	                                             : "use active, paused or suspended");
	return -1;
}

/*
 * sl_live_tenant_senders - a live allowed_senders value (NULL: unset):
 * its enum sl_senders, or -1 when unset or invalid (err says why, "" if unset)
 */
int
sl_live_tenant_senders(const char *v, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (v == NULL || sl_live_tenant_field("allowed_senders", v, err, errlen) < 0)
		return -1;
	return sl_tenant_senders_parse(v);
}

/* sl_live_mode - enforce, monitor or off (any case); -1 otherwise */
int
sl_live_mode(const char *s)
{
	if (strcasecmp(s, "enforce") == 0)
		return SL_LIVE_ENFORCE;
	if (strcasecmp(s, "monitor") == 0)
		return SL_LIVE_MONITOR;
	if (strcasecmp(s, "off") == 0)
		return SL_LIVE_OFF;
	return -1;
}

/* unit_ms - milliseconds in a period unit name, 0 if unknown */
static double
unit_ms(const char *u)
{
	static const struct {
		const char *name;
		double ms;
	} units[] = {
	    {"s", 1e3},       {"sec", 1e3},    {"second", 1e3},  {"seconds", 1e3}, {"m", 6e4},
	    {"min", 6e4},     {"minute", 6e4}, {"minutes", 6e4}, {"h", 3.6e6},     {"hour", 3.6e6},
	    {"hours", 3.6e6}, {"d", 8.64e7},   {"day", 8.64e7},  {"days", 8.64e7},
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++)
		if (strcasecmp(u, units[i].name) == 0)
			return units[i].ms;
	return 0;
}

/* sl_live_rate - "50/hour", "100/10m", "5/s" into a count and a period */
int
sl_live_rate(const char *s, long long *count, double *period_ms)
{
	char *end;
	long long n, mult = 1;
	double u;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || n <= 0 || n > 1000000000LL || *end != '/')
		return -1;
	s = end + 1;
	if (isdigit((unsigned char)*s)) {
		mult = strtoll(s, &end, 10);
		if (mult <= 0 || mult > 1000000)
			return -1;
		s = end;
	}
	if ((u = unit_ms(s)) == 0)
		return -1;
	*count = n;
	*period_ms = u * (double)mult;
	return 0;
}

/* sl_live_window - 1 minute, 2 hour, 3 day, 4 month; -1 otherwise */
int
sl_live_window(const char *s)
{
	static const char *names[] = {"minute", "hour", "day", "month"};

	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i + 1;
	return -1;
}

/* sl_live_count - a positive integer up to 10^9 */
int
sl_live_count(const char *v, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(v, &end, 10);
	return errno || end == v || *end || *out <= 0 || *out > 1000000000LL ? -1 : 0;
}

/* sl_live_text_ok - a reply text: printable ASCII, at most 200 */
int
sl_live_text_ok(const char *s)
{
	if (strlen(s) > 200)
		return 0;
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

/* the attributes of a policy request a key or match may name (policyd's pd_facts) */
const char *const sl_live_attributes[] = {
    "sasl_username", "sender",         "sender_domain", "sender_orgdomain",
    "recipient",     "recipient_domain", "recipient_orgdomain", "client_address",
    "client_name",   "helo_name",      "tenant",        "category",
    "recipient_provider", "sending_domain", /* policyd_provider.c */
    NULL};

/* sl_live_attribute - is name (n bytes) an attribute of a policy request? */
int
sl_live_attribute(const char *name, size_t n)
{
	for (const char *const *a = sl_live_attributes; *a; a++)
		if (strlen(*a) == n && strncmp(*a, name, n) == 0)
			return 1;
	return 0;
}

/* template_ok - "${name}" parts well formed, known, and at least one */
static int
template_ok(const char *t)
{
	int vars = 0;

	if (*t == '\0' || strlen(t) > 200)
		return 0;
	for (const char *p = strchr(t, '$'); p; p = strchr(p + 1, '$')) {
		const char *end = strchr(p, '}');

		if (p[1] != '{' || end == NULL || end == p + 2 || end - p > 64
		    || !sl_live_attribute(p + 2, (size_t)(end - p - 2)))
			return 0;
		vars++;
	}
	return vars > 0;
}

/* match_ok - "attr=v1,v2; attr2!=v3" with known attributes (empty: all) */
static int
match_ok(const char *m)
{
	if (strlen(m) > 500)
		return 0;
	while (*m) {
		size_t len = strcspn(m, ";"), n;
		const char *eq = memchr(m, '=', len), *a = m;

		while (a < m + len && isspace((unsigned char)*a))
			a++;
		if (a < m + len) {
			if (eq == NULL)
				return 0;
			n = (size_t)(eq - a);
			if (n > 0 && a[n - 1] == '!')
				n--;
			while (n > 0 && isspace((unsigned char)a[n - 1]))
				n--;
			if (n == 0 || !sl_live_attribute(a, n))
				return 0;
		}
		m += len + (m[len] == ';');
	}
	return 1;
}

/* sl_live_limit_field - one field of a limit hash; -1 with err when invalid */
int
sl_live_limit_field(const char *f, const char *v, char *err, size_t errlen)
{
	long long n;
	double d;
	int ok;

	if (strcmp(f, "key") == 0)
		ok = template_ok(v);
	else if (strcmp(f, "match") == 0)
		ok = match_ok(v);
	else if (strcmp(f, "rate") == 0)
		ok = sl_live_rate(v, &n, &d) == 0;
	else if (strcmp(f, "burst") == 0 || strcmp(f, "max") == 0 || strcmp(f, "warn") == 0)
		ok = sl_live_count(v, &n) == 0;
	else if (strcmp(f, "window") == 0)
		ok = sl_live_window(v) > 0;
	else if (strcmp(f, "unit") == 0)
		ok = strcmp(v, "messages") == 0 || strcmp(v, "recipients") == 0;
	else if (strcmp(f, "action") == 0)
		ok = strcmp(v, "defer") == 0 || strcmp(v, "reject") == 0;
	else if (strcmp(f, "mode") == 0)
		ok = *v == '\0' || sl_live_mode(v) > 0;
	else if (strcmp(f, "text") == 0)
		ok = sl_live_text_ok(v);
	else if (strcmp(f, "schedule") == 0)
		ok = sl_live_schedule(v, NULL, 0) > 0;
	else if (strcmp(f, "schedule_start") == 0)
		ok = sl_live_day(v, &n) == 0;
	else if (strcmp(f, "description") == 0 || strcmp(f, "note") == 0)
		ok = 1;
	else {
		snprintf(err, errlen, "unknown field \"%.40s\"", f);
		return -1;
	}
	if (!ok) {
		char shown[84];

		sl_live_printable(v, shown, sizeof(shown));
		snprintf(err, errlen, "invalid %s \"%s\"", f, shown);
		return -1;
	}
	return 0;
}

/*
 * sl_live_schedule - a warm-up schedule "50,100,200" (1-365 day figures,
 * each a count): how many, stored into out[0..max-1] when out is given;
 * -1 when malformed
 */
int
sl_live_schedule(const char *s, long long *out, int max)
{
	int n = 0;

	while (*s) {
		char num[32];
		size_t len = strcspn(s, ",");
		long long v;

		if (len == 0 || len >= sizeof(num) || n >= SL_LIVE_SCHEDULE_MAX)
			return -1;
		memcpy(num, s, len), num[len] = '\0';
		if (sl_live_count(num, &v) < 0)
			return -1;
		if (out && n < max)
			out[n] = v;
		n++;
		s += len;
		if (*s == ',' && *++s == '\0')
			return -1;
	}
	return n > 0 ? n : -1;
}

/* sl_live_day - "YYYYMMDD" to days since 1970-01-01; -1 when malformed */
int
sl_live_day(const char *s, long long *days)
{
	int y, m, d;
	char end;
	static const int cum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (strlen(s) != 8 || strspn(s, "0123456789") != 8 ||
	    sscanf(s, "%4d%2d%2d%c", &y, &m, &d, &end) != 3 || y < 1970 || m < 1 || m > 12 ||
	    d < 1 || d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -1;
	*days = (long long)(y - 1970) * 365 + (y - 1969) / 4 - (y - 1901) / 100 + (y - 1601) / 400 +
	        cum[m - 1] + (m > 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) + d - 1;
	return 0;
}

/* has - the value of a field in a flat field/value list, or NULL */
static const char *
has(int n, const char *const *field, const char *name)
{
	const char *v = NULL;

	for (int i = 0; i + 1 < n; i += 2)
		if (strcmp(field[i], name) == 0)
			v = field[i + 1];
	return v;
}

/* sl_live_limit_check - a whole limit hash (field, value, ...); -1 with err */
int
sl_live_limit_check(int n, const char *const *field, char *err, size_t errlen)
{
	int kinds = (has(n, field, "rate") != NULL) + (has(n, field, "window") != NULL);

	if (kinds != 1) {
		snprintf(err, errlen,
		         "set exactly one of rate (e.g. 50/hour) or window "
		         "(minute, hour, day, month)");
		return -1;
	}
	for (int i = 0; i + 1 < n; i += 2)
		if (sl_live_limit_field(field[i], field[i + 1], err, errlen) < 0)
			return -1;
	if (has(n, field, "key") == NULL) {
		snprintf(err, errlen, "no key template (field key)");
		return -1;
	}
	if (has(n, field, "schedule") &&
	    (has(n, field, "window") == NULL || strcmp(has(n, field, "window"), "day") != 0 ||
	     has(n, field, "schedule_start") == NULL)) {
		snprintf(err, errlen, "schedule needs window day and schedule_start (YYYYMMDD)");
		return -1;
	}
	if (has(n, field, "window") && has(n, field, "max") == NULL && !has(n, field, "schedule")) {
		snprintf(err, errlen, "window %s needs max", has(n, field, "window"));
		return -1;
	}
	return 0;
}

/* sl_live_label_ok - a category or tenant name: 1-15 of a-z 0-9 */
int
sl_live_label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") == n;
}

/* sl_live_dns_label_ok - a subdomain label: 1-63 of a-z 0-9 -, no leading or trailing - */
int
sl_live_dns_label_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
	       s[0] != '-' && s[n - 1] != '-';
}

/* domain_ok - one lowercase domain, maybe "*." first: [a-z0-9.-], no empty label */
static int
domain_ok(const char *d, size_t n)
{
	if (n > 2 && d[0] == '*' && d[1] == '.')
		d += 2, n -= 2;
	if (n == 0 || n > 253 || d[0] == '.' || d[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((d[i] == '.' && d[i + 1] == '.') ||
		    !strchr("abcdefghijklmnopqrstuvwxyz0123456789.-", d[i]))
			return 0;
	return 1;
}

/* sl_live_domains - "A.com, *.b.org" to "a.com,*.b.org"; -1 with the bad one */
int
sl_live_domains(const char *in, char *out, size_t outlen, char *bad, size_t badlen)
{
	size_t o = 0;

	out[0] = '\0';
	while (*in) {
		size_t skip = strspn(in, ", \t"), n;
		char d[256];

		in += skip;
		if ((n = strcspn(in, ", \t")) == 0)
			break;
		snprintf(d, sizeof(d), "%.*s", (int)(n < 255 ? n : 255), in);
		for (char *p = d; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (n > 255 || !domain_ok(d, strlen(d))) {
			sl_live_printable(d, bad, badlen);
			return -1;
		}
		o +=
		    (size_t)snprintf(out + o, outlen > o ? outlen - o : 0, "%s%s", o ? "," : "", d);
		if (o >= outlen) {
			snprintf(bad, badlen, "(the list is too long)");
			return -1;
		}
		in += n;
	}
	return 0;
}

/* sl_live_sasl_field - one field of sluice:sasl:<user>; -1 with err */
int
sl_live_sasl_field(const char *f, const char *v, char *err, size_t errlen)
{
	char out[1024], bad[100];

	if ((strcmp(f, "category") == 0 || strcmp(f, "tenant") == 0) && *v &&
	    !sl_live_label_ok(v)) {
		sl_live_printable(v, bad, sizeof(bad));
		snprintf(err, errlen, "invalid %s \"%s\": a name is 1-15 characters a-z 0-9", f,
		         bad);
		return -1;
	}
	if (strcmp(f, "domains") == 0 &&
	    sl_live_domains(v, out, sizeof(out), bad, sizeof(bad)) < 0) {
		snprintf(err, errlen, "invalid domains: \"%s\" is not a domain name", bad);
		return -1;
	}
	return 0;
}

/* sl_live_printable - a value fit for a log line: bounded, controls as '?' */
void
sl_live_printable(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; in && *in && o + 4 < outlen; in++)
		out[o++] = (unsigned char)*in < 0x20 || *in == 0x7f ? '?' : *in;
	if (in && *in && o + 3 < outlen)
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	if (outlen)
		out[o < outlen ? o : outlen - 1] = '\0';
}

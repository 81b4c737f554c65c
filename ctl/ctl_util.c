/*
 * NAME
 *	ctl_util 3 - small helpers of sluicectl: names, numbers, time, output
 * DESCRIPTION
 *	ctl_label_ok() checks a category or tenant name (the same rule as the
 *	config and the tokens: 1-15 of a-z 0-9). ctl_scope_parse() accepts
 *	"global", "cat:NAME" (or "category:NAME") and "tenant:NAME".
 *	ctl_parse_long() is a strict strtoll with bounds. ctl_age() and
 *	ctl_iso_time() format times for people; ctl_glob_escape() quotes a
 *	string for a SCAN MATCH pattern; ctl_print_value() writes a value
 *	quoted when it holds spaces or control characters.
 * ERRORS
 *	Functions returning int give 0 on success, -1 on bad input.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "keyspace.h"
#include "live.h"

/* ctl_label_ok - a category or tenant name: 1-15 of [a-z0-9] (lib/live.c) */
int
ctl_label_ok(const char *s)
{
	return sl_live_label_ok(s);
}

/* ctl_scope_parse - a suppression scope as written in keys ("cat:news"; lib/keyspace.c) */
int
ctl_scope_parse(const char *in, char *out, size_t outlen)
{
	sl_scope s;

	return sl_scope_parse(in, &s) < 0 ? -1 : sl_scope_format(&s, out, outlen);
}

/* ctl_parse_long - a whole decimal number within [min, max] */
int
ctl_parse_long(const char *s, long long min, long long max, long long *out)
{
	char   *end;
	long long v;

	if (!isdigit((unsigned char) *s) && !(*s == '-' && isdigit((unsigned char) s[1])))
		return -1;			/* no blanks or "+" before it */
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* ctl_age - "3d4h", "12m", "40s": how long ago then was */
void
ctl_age(time_t then, time_t now, char *out, size_t outlen)
{
	long long d = (long long) (now - then);

	if (then <= 0)
		snprintf(out, outlen, "?");
	else if (d < 0)
		snprintf(out, outlen, "future");
	else if (d < 120)
		snprintf(out, outlen, "%llds", d);
	else if (d < 7200)
		snprintf(out, outlen, "%lldm", d / 60);
	else if (d < 2 * 86400)
		snprintf(out, outlen, "%lldh%lldm", d / 3600, d % 3600 / 60);
	else
		snprintf(out, outlen, "%lldd%lldh", d / 86400, d % 86400 / 3600);
}

/* ctl_iso_time - "2026-11-25T09:30:00Z", or "" for 0 */
void
ctl_iso_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (t <= 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(out, outlen, "%s", "");
		return;
	}
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ctl_glob_escape - quote *?[]\ so that SCAN MATCH takes s literally */
void
ctl_glob_escape(const char *in, char *out, size_t outlen)
{
	sl_key_glob_escape(in, out, outlen);
}

/* ctl_print_value - a value as is, or double-quoted with escapes if needed */
void
ctl_print_value(FILE *fp, const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (isspace((unsigned char) *p) || iscntrl((unsigned char) *p) || *p == '"')
			break;
	if (*p == '\0' && *s != '\0') {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (iscntrl((unsigned char) *p))
			fprintf(fp, "\\x%02x", (unsigned char) *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

/*
 * NAME
 *	dns_zone 3 - a zone file in place of DNS (tests, operators)
 * SYNOPSIS
 *	sl_dns_zone *z = sl_dns_zone_load(path, err, errlen);
 *	status = sl_dns_zone_query(z, name, SL_DNS_TXT, &ans);
 *	sl_dns_zone_free(z);
 * DESCRIPTION
 *	With a zone file nothing reaches the network: every name is answered
 *	from the file (dns.c asks it instead of libresolv). The format, one
 *	record per line:
 *		name TYPE data
 *	TYPE is A, AAAA, MX ("pref host" or "host"), PTR, TXT (the rest of the
 *	line; "quoted" strings are joined, so a long record can be split), or
 *	the pseudo types SERVFAIL (every query for the name fails temporarily)
 *	and NXDOMAIN (documentation only: a name without lines does not
 *	exist). A name with records of other types answers NODATA. Blank
 *	lines and lines starting with "#" are ignored; names are matched
 *	without case and without a trailing dot.
 * OWNERSHIP
 *	An answer's strings belong to the caller until sl_dns_ans_free().
 *	A loaded zone is read-only: any thread may query it.
 * ERRORS
 *	sl_dns_zone_load() fails with err on an unreadable file or a bad
 *	line (file:line).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns.h"
#include "log.h"

#define ZONE_LINE_MAX 8192
#define ZONE_TYPE_SERVFAIL -1

typedef struct zone_rr {
	char *name;
	int type; /* sl_dns_type or ZONE_TYPE_SERVFAIL */
	char *data;
} zone_rr;

struct sl_dns_zone {
	zone_rr *rr;
	size_t n;
};

static const struct {
	const char *name;
	int type;
} types[] = {
    {"A", SL_DNS_A},     {"AAAA", SL_DNS_AAAA}, {"MX", SL_DNS_MX},
    {"PTR", SL_DNS_PTR}, {"TXT", SL_DNS_TXT},   {"SERVFAIL", ZONE_TYPE_SERVFAIL},
    {"NXDOMAIN", 0},
};

/* unquote - TXT data: "a" "b" joined to ab; unquoted text as it is */
static char *
unquote(const char *s)
{
	char *out = sl_malloc(strlen(s) + 1), *o = out;

	if (*s != '"') {
		strcpy(out, s);
		return out;
	}
	while (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			*o++ = *s;
		}
		if (*s == '"')
			s++;
		s += strspn(s, " \t");
	}
	*o = '\0';
	return out;
}

/* sl_dns_zone_line - split "name TYPE data"; 0 ok, 1 blank or comment, -1 bad */
int
sl_dns_zone_line(const char *line, char *name, size_t namelen, enum sl_dns_type *type,
                 const char **data)
{
	char word[SL_DNS_NAME_MAX + 1], tname[16];
	size_t n;
	int found = 0;

	line += strspn(line, " \t");
	if (*line == '\0' || *line == '#' || *line == '\n' || *line == '\r')
		return 1;
	n = strcspn(line, " \t\r\n");
	if (n >= sizeof(word))
		return -1;
	memcpy(word, line, n);
	word[n] = '\0';
	if (sl_dns_norm_name(word, name, namelen) < 0)
		return -1;
	line += n;
	line += strspn(line, " \t");
	n = strcspn(line, " \t\r\n");
	if (n == 0 || n >= sizeof(tname))
		return -1;
	memcpy(tname, line, n);
	tname[n] = '\0';
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(types[i].name, tname) == 0) {
			*type = (enum sl_dns_type)types[i].type;
			found = 1;
		}
	line += n;
	*data = line + strspn(line, " \t");
	return found ? 0 : -1;
}

/* zone_add - keep one zone record; data without the line end */
static void
zone_add(sl_dns_zone *z, const char *name, int type, const char *data)
{
	char buf[ZONE_LINE_MAX];
	size_t n = strcspn(data, "\r\n");

	snprintf(buf, sizeof(buf), "%.*s", (int)n, data);
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	z->rr = sl_realloc(z->rr, (z->n + 1) * sizeof(*z->rr));
	z->rr[z->n].name = sl_strdup(name);
	z->rr[z->n].type = type;
	z->rr[z->n++].data = type == SL_DNS_TXT ? unquote(buf) : sl_strdup(buf);
}

/* sl_dns_zone_load - read every line of the zone file; NULL with err */
sl_dns_zone *
sl_dns_zone_load(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[ZONE_LINE_MAX], name[SL_DNS_NAME_MAX];
	enum sl_dns_type type;
	const char *data;
	int lineno = 0, rc;
	sl_dns_zone *z;

	if (fp == NULL) {
		snprintf(err, errlen, "zone file %s: cannot open", path);
		return NULL;
	}
	z = sl_malloc(sizeof(*z));
	z->rr = NULL;
	z->n = 0;
	while (fgets(line, sizeof(line), fp)) {
		lineno++;
		if ((rc = sl_dns_zone_line(line, name, sizeof(name), &type, &data)) < 0) {
			snprintf(err, errlen,
			         "%s:%d: not \"name TYPE data\" (A, AAAA, MX, PTR, TXT, "
			         "SERVFAIL, NXDOMAIN)",
			         path, lineno);
			fclose(fp);
			sl_dns_zone_free(z);
			return NULL;
		}
		if (rc == 0 && type != 0)
			zone_add(z, name, (int)type, data);
	}
	fclose(fp);
	return z;
}

/* sl_dns_zone_free - release a zone; NULL is a no-op */
void
sl_dns_zone_free(sl_dns_zone *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->n; i++) {
		free(z->rr[i].name);
		free(z->rr[i].data);
	}
	free(z->rr);
	free(z);
}

/* sl_dns_zone_query - the answer for a normalised name from the zone file */
enum sl_dns_status
sl_dns_zone_query(const sl_dns_zone *z, const char *name, int type, sl_dns_ans *a)
{
	int exists = 0;

	for (size_t i = 0; i < z->n; i++) {
		if (strcmp(z->rr[i].name, name) != 0)
			continue;
		if (z->rr[i].type == ZONE_TYPE_SERVFAIL) {
			sl_dns_ans_free(a);
			return a->status = SL_DNS_TEMP;
		}
		exists = 1;
		if (z->rr[i].type == type && a->n < SL_DNS_ANS_MAX)
			a->rr[a->n++] = sl_strdup(z->rr[i].data);
	}
	if (a->n)
		return a->status = SL_DNS_FOUND;
	return a->status = exists ? SL_DNS_NODATA : SL_DNS_NXDOMAIN;
}

/*
 * NAME
 *	ctl_csv 3 - read suppression lists: plain, CSV, other providers' exports
 * SYNOPSIS
 *	ctl_csv_layout lay = {0};
 *	ctl_csv_read(fp, &lay, rec_fn, bad_fn, arg, &stats);
 * DESCRIPTION
 *	A pure parser over a stdio stream: no Redis, no config, so that the
 *	unit tests (tests/unit/test_ctl_csv.c) drive it with fmemopen(3).
 *
 *	The first non-blank, non-comment line decides the layout. It is a
 *	header when one of its fields names an address column ("email",
 *	"EmailAddress", "Email Address", "address", "recipient" ...) or when
 *	none of its fields holds an "@"; the address column is then the named
 *	one, or the first. Columns named like a reason ("Reason",
 *	"SuppressionReason", "type") and a time ("LastUpdateTime", "created",
 *	"CreatedAt", "added" ...) are used too. So the exports of Amazon SES
 *	(EmailAddress,Reason,LastUpdateTime), Postmark (EmailAddress,
 *	SuppressionReason,Origin,CreatedAt), SendGrid (email,created,...),
 *	Mailgun (address,code,error,created_at) and sluicectl itself
 *	(address,scope,reason,...) are read without options. Otherwise every
 *	line is data and the address is its first column (one address per
 *	line is the one-column case). The delimiter is the most frequent of
 *	",", ";" and TAB outside quotes on that first line.
 *
 *	Fields follow RFC 4180: double quotes around a field, "" inside for
 *	one quote; spaces around unquoted fields are dropped. A record is one
 *	line: a quote left open at the end of the line makes a bad line.
 * ERRORS
 *	Bad lines (unparseable CSV, a missing or invalid address, a line over
 *	CTL_CSV_LINE_MAX bytes, a NUL byte) go to bad_fn with the line number
 *	and a reason, and reading goes on. Blank lines and lines starting
 *	with "#" are skipped and counted. ctl_csv_read() returns -1 only when
 *	rec_fn asks to stop (returns < 0) or on a read error.
 */
#define _GNU_SOURCE 1			/* strptime, timegm */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "ctl.h"

/* split_quoted - one quoted field at *pp into *op; -1 on bad quoting */
static int
split_quoted(const char **pp, char **op, char delim, const char **err)
{
	const char *p = *pp + 1;
	char   *o = *op;

	for (;; p++) {
		if (*p == '\0') {
			*err = "unterminated quoted field";
			return -1;
		}
		if (*p == '"' && p[1] == '"')
			*o++ = *p++;
		else if (*p == '"')
			break;
		else
			*o++ = *p;
	}
	for (p++; *p == ' ' || (*p == '\t' && delim != '\t'); p++)
		;
	if (*p != '\0' && *p != delim) {
		*err = "text after a closing quote";
		return -1;
	}
	*pp = p;
	*op = o;
	return 0;
}

/* split_plain - one unquoted field, surrounding spaces dropped */
static void
split_plain(const char **pp, char **op, char delim)
{
	const char *p = *pp, *end;

	while (*p == ' ' || (*p == '\t' && delim != '\t'))
		p++;
	for (end = p; *end && *end != delim; end++)
		;
	*pp = end;
	while (end > p && (end[-1] == ' ' || (end[-1] == '\t' && delim != '\t')))
		end--;
	memcpy(*op, p, (size_t) (end - p));
	*op += end - p;
}

/* field_start - skip blanks; true when the field starts with a quote */
static int
field_start(const char **pp, char delim)
{
	const char *p = *pp;

	while (*p == ' ' || (*p == '\t' && delim != '\t'))
		p++;
	if (*p == '"') {
		*pp = p;
		return 1;
	}
	return 0;
}

/* ctl_csv_split - one line into fields (row->buf holds their text) */
int
ctl_csv_split(const char *line, char delim, ctl_csv_row *row, const char **err)
{
	const char *p = line;
	char   *o = row->buf;

	row->nfields = 0;
	if (strlen(line) > CTL_CSV_LINE_MAX) {
		*err = "line too long";
		return -1;
	}
	for (;;) {
		if (row->nfields == CTL_CSV_FIELDS) {
			*err = "too many fields";
			return -1;
		}
		row->field[row->nfields++] = o;
		if (field_start(&p, delim)) {
			if (split_quoted(&p, &o, delim, err) < 0)
				return -1;
		} else
			split_plain(&p, &o, delim);
		*o++ = '\0';
		if (*p == '\0')
			return 0;
		p++;				/* the delimiter */
	}
}

/* ctl_csv_delim - the most frequent of , ; TAB outside quotes (default ,) */
char
ctl_csv_delim(const char *line)
{
	int	comma = 0, semi = 0, tab = 0, quoted = 0;

	for (const char *p = line; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted)
			comma += *p == ',', semi += *p == ';', tab += *p == '\t';
	}
	if (semi > comma && semi >= tab)
		return ';';
	if (tab > comma && tab > semi)
		return '\t';
	return ',';
}

/* squash - lowercase letters and digits only: "Email Address" -> "emailaddress" */
static void
squash(const char *in, char *out, size_t outlen)
{
	size_t	o = 0;

	for (; *in && o + 1 < outlen; in++)
		if (isalnum((unsigned char) *in))
			out[o++] = (char) tolower((unsigned char) *in);
	out[o] = '\0';
}

/* in_list - is s one of the NULL-terminated words */
static int
in_list(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

static const char *const addr_names[] = {
	"email", "emailaddress", "address", "recipient", "mail", "emailaddr",
	"recipientaddress", "destination", NULL
};
static const char *const reason_names[] = {
	"reason", "suppressionreason", "type", "bouncetype", "category", NULL
};
static const char *const time_names[] = {
	"lastupdatetime", "created", "createdat", "added", "date", "timestamp",
	"suppressedat", "time", "updatedat", NULL
};

/* guess_vendor - a name for the summary line, from the header's columns */
static const char *
guess_vendor(const ctl_csv_row *row, const ctl_csv_layout *lay)
{
	char	a[64], t[64] = "", r[64] = "";

	squash(row->field[lay->addr_col], a, sizeof(a));
	if (lay->time_col >= 0)
		squash(row->field[lay->time_col], t, sizeof(t));
	if (lay->reason_col >= 0)
		squash(row->field[lay->reason_col], r, sizeof(r));
	if (strcmp(a, "emailaddress") == 0 && strcmp(t, "lastupdatetime") == 0)
		return "Amazon SES";
	if (strcmp(r, "suppressionreason") == 0)
		return "Postmark";
	if (strcmp(a, "address") == 0 && strcmp(t, "added") == 0)
		return "sluicectl";
	if (strcmp(a, "address") == 0 && strcmp(t, "createdat") == 0)
		return "Mailgun";
	if (strcmp(a, "email") == 0 && strcmp(t, "created") == 0)
		return "SendGrid";
	return "CSV with header";
}

/* header_columns - find the named columns; true when the line is a header */
static int
header_columns(const ctl_csv_row *row, ctl_csv_layout *lay)
{
	int	at = 0, named = 0;
	char	name[64];

	for (int i = 0; i < row->nfields; i++) {
		squash(row->field[i], name, sizeof(name));
		at |= strchr(row->field[i], '@') != NULL;
		if (in_list(name, addr_names) && !named) {
			lay->addr_col = i;
			named = 1;
		} else if (in_list(name, reason_names) && lay->reason_col < 0)
			lay->reason_col = i;
		else if (in_list(name, time_names) && lay->time_col < 0)
			lay->time_col = i;
	}
	return named || !at;
}

/* ctl_csv_detect - the layout of a file from its first non-blank line */
void
ctl_csv_detect(const char *line, ctl_csv_layout *lay)
{
	ctl_csv_row *row = malloc(sizeof(*row));
	const char *err;

	lay->delim = ctl_csv_delim(line);
	lay->addr_col = 0;
	lay->reason_col = lay->time_col = -1;
	lay->header = 0;
	lay->vendor = "plain list";
	if (row == NULL || ctl_csv_split(line, lay->delim, row, &err) < 0) {
		free(row);
		return;
	}
	if (header_columns(row, lay)) {
		lay->header = 1;
		lay->vendor = guess_vendor(row, lay);
	} else {
		lay->reason_col = lay->time_col = -1;
		lay->vendor = row->nfields > 1 ? "CSV without header" : "plain list";
	}
	free(row);
}

/* domain_ok - labels of [a-z0-9-] (or UTF-8), no empty label, one dot at least */
static int
domain_ok(const char *d)
{
	size_t	label = 0;
	int	dots = 0;

	if (*d == '[')			/* address literal: [192.0.2.1] */
		return d[strlen(d) - 1] == ']';
	for (; *d; d++) {
		if (*d == '.') {
			if (label == 0)
				return 0;
			label = 0;
			dots++;
		} else if (isalnum((unsigned char) *d) || *d == '-' || (unsigned char) *d >= 0x80)
			label++;
		else
			return 0;
	}
	return label > 0 && dots > 0;
}

/* ctl_csv_addr - normalize (domain lowercased, flags as policyd) and check */
int
ctl_csv_addr(const char *in, int flags, char *out, size_t outlen, const char **err)
{
	const char *at;

	if (strncasecmp(in, "mailto:", 7) == 0)
		in += 7;
	if (*in == '\0') {
		*err = "no address";
		return -1;
	}
	if (sl_addr_normalize(in, out, outlen, flags) < 0) {
		*err = "not an e-mail address";
		return -1;
	}
	at = strrchr(out, '@');
	if (at - out > 64 || strcspn(out, "\"(),:;<>[\\]") < (size_t) (at - out)) {
		*err = "invalid local part";
		return -1;
	}
	if (!domain_ok(at + 1)) {
		*err = "invalid domain";
		return -1;
	}
	return 0;
}

static const struct {
	const char *vendor;		/* squashed */
	const char *reason;
} reason_map[] = {
	{"hardbounce", "hard-bounce"}, {"bounce", "hard-bounce"},
	{"bounced", "hard-bounce"}, {"hard", "hard-bounce"},
	{"permanent", "hard-bounce"}, {"bounces", "hard-bounce"},
	{"softbounce", "soft-bounce-threshold"}, {"softbouncethreshold", "soft-bounce-threshold"},
	{"soft", "soft-bounce-threshold"},
	{"complaint", "complaint"}, {"spamcomplaint", "complaint"},
	{"spam", "complaint"}, {"spamreport", "complaint"},
	{"spamreports", "complaint"}, {"abuse", "complaint"},
	{"unsubscribe", "unsubscribe"}, {"unsubscribed", "unsubscribe"},
	{"unsubscribes", "unsubscribe"}, {"optout", "unsubscribe"},
	{"groupunsubscribe", "unsubscribe"},
	{"manual", "manual"}, {"manualsuppression", "manual"},
	{"import", "import"},
};

/* ctl_csv_reason - a provider's reason mapped to ours, or NULL */
const char *
ctl_csv_reason(const char *vendor_reason)
{
	char	s[64];

	squash(vendor_reason, s, sizeof(s));
	for (size_t i = 0; i < sizeof(reason_map) / sizeof(reason_map[0]); i++)
		if (strcmp(s, reason_map[i].vendor) == 0)
			return reason_map[i].reason;
	return NULL;
}

/* tz_offset - seconds east of UTC from "Z", "+09:00", "-0500", " UTC"; -1 bad */
static int
tz_offset(const char *p, long *off)
{
	int	h, m = 0;

	while (*p == ' ')
		p++;
	*off = 0;
	if (*p == '\0' || strcmp(p, "Z") == 0 || strcmp(p, "UTC") == 0 || strcmp(p, "GMT") == 0)
		return 0;
	if ((*p != '+' && *p != '-') || !isdigit((unsigned char) p[1]) || !isdigit((unsigned char) p[2]))
		return -1;
	h = (p[1] - '0') * 10 + (p[2] - '0');
	if (p[3] == ':' ? sscanf(p + 4, "%2d", &m) != 1 : p[3] && sscanf(p + 3, "%2d", &m) != 1)
		return -1;
	*off = (h * 3600L + m * 60L) * (*p == '-' ? -1 : 1);
	return 0;
}

/* ctl_csv_time - a provider's time: epoch seconds or ms, or ISO 8601; 0 if not */
time_t
ctl_csv_time(const char *s)
{
	struct tm tm = {0};
	long long v;
	long	off;
	char   *end;

	if (*s && strspn(s, "0123456789") == strlen(s) && ctl_parse_long(s, 1, 99999999999999LL, &v) == 0)
		return (time_t) (v > 99999999999LL ? v / 1000 : v);
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL)
		return 0;
	if (*end == 'T' || *end == ' ')
		if ((end = strptime(end + 1, "%H:%M:%S", &tm)) == NULL)
			return 0;
	if (*end == '.')
		for (end++; isdigit((unsigned char) *end); end++)
			;
	if (tz_offset(end, &off) < 0)
		return 0;
	return timegm(&tm) - off;
}

/* ctl_csv_record - one data line into rec; -1 with err for a bad line */
int
ctl_csv_record(const ctl_csv_layout *lay, const char *line, ctl_csv_rec *rec,
	       const char **err)
{
	ctl_csv_row *row = malloc(sizeof(*row));
	int	rc = -1;

	memset(rec, 0, sizeof(*rec));
	if (row == NULL) {
		*err = "out of memory";
		return -1;
	}
	if (ctl_csv_split(line, lay->delim, row, err) < 0)
		goto out;
	if (row->nfields <= lay->addr_col || row->field[lay->addr_col][0] == '\0') {
		*err = "no address in the address column";
		goto out;
	}
	if (ctl_csv_addr(row->field[lay->addr_col], lay->addr_flags, rec->addr, sizeof(rec->addr), err) < 0)
		goto out;
	if (lay->reason_col >= 0 && row->nfields > lay->reason_col) {
		snprintf(rec->vendor_reason, sizeof(rec->vendor_reason), "%s", row->field[lay->reason_col]);
		rec->reason = ctl_csv_reason(rec->vendor_reason);
	}
	if (lay->time_col >= 0 && row->nfields > lay->time_col)
		rec->added = ctl_csv_time(row->field[lay->time_col]);
	rc = 0;
out:
	free(row);
	return rc;
}

/* blank_line - nothing but blanks and delimiters, or a "#" comment */
static int
blank_line(const char *s)
{
	s += strspn(s, " \t");
	return *s == '#' || strspn(s, " \t,;") == strlen(s);
}

/* read_line - the next line without CR/LF; its length, or -1 at the end */
static ssize_t
read_line(FILE *fp, char **buf, size_t *size, long lineno)
{
	ssize_t	n = getline(buf, size, fp);

	if (n < 0)
		return -1;
	if (lineno == 1 && n >= 3 && memcmp(*buf, "\xef\xbb\xbf", 3) == 0) {
		memmove(*buf, *buf + 3, (size_t) n - 2);	/* UTF-8 BOM */
		n -= 3;
	}
	while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
		(*buf)[--n] = '\0';
	return n;
}

/* one_line - classify and hand on one line; -1 when rec_fn asks to stop */
static int
one_line(const char *line, size_t len, long lineno, ctl_csv_layout *lay,
	 ctl_csv_rec_fn *rec_fn, ctl_csv_bad_fn *bad_fn, void *arg, ctl_csv_stats *st)
{
	ctl_csv_rec rec;
	const char *err;

	if (strlen(line) != len) {
		st->bad++;
		bad_fn(lineno, "NUL byte in line", arg);
		return 0;
	}
	if (blank_line(line)) {
		st->skipped++;
		return 0;
	}
	if (lay->delim == 0) {
		ctl_csv_detect(line, lay);
		if (lay->header)
			return 0;
	}
	if (ctl_csv_record(lay, line, &rec, &err) < 0) {
		st->bad++;
		bad_fn(lineno, err, arg);
		return 0;
	}
	rec.line = lineno;
	st->records++;
	return rec_fn(&rec, arg) < 0 ? -1 : 0;
}

/* ctl_csv_read - every line of fp: records to rec_fn, bad lines to bad_fn */
int
ctl_csv_read(FILE *fp, ctl_csv_layout *lay, ctl_csv_rec_fn *rec_fn,
	     ctl_csv_bad_fn *bad_fn, void *arg, ctl_csv_stats *st)
{
	char   *buf = NULL;
	size_t	size = 0;
	ssize_t	n;
	int	rc = 0;

	memset(st, 0, sizeof(*st));
	while (rc == 0 && (n = read_line(fp, &buf, &size, st->lines + 1)) >= 0) {
		st->lines++;
		if ((size_t) n > CTL_CSV_LINE_MAX) {
			st->bad++;
			bad_fn(st->lines, "line too long", arg);
			continue;
		}
		rc = one_line(buf, (size_t) n, st->lines, lay, rec_fn, bad_fn, arg, st);
	}
	free(buf);
	return rc < 0 || ferror(fp) ? -1 : 0;
}

/*
 * NAME
 *	test_ctl_csv - sluicectl's suppression-list reader (ctl/ctl_csv.c)
 * DESCRIPTION
 *	Field splitting (RFC 4180 quoting), delimiter and header detection
 *	for plain lists and the exports of Amazon SES, Postmark, SendGrid
 *	and Mailgun, address checks, reason and time mapping, and a whole
 *	messy file read through fmemopen(3) with its bad lines reported by
 *	line number.
 */
#define _GNU_SOURCE 1
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "ctl.h"

/* split - ctl_csv_split() into a static row; returns the field count or -1 */
static ctl_csv_row row;
static const char *split_err;

static int
split(const char *line, char delim)
{
	return ctl_csv_split(line, delim, &row, &split_err) < 0 ? -1 : row.nfields;
}

/* test_split_plain - unquoted fields, blanks around them dropped, empty ones kept */
static void
test_split_plain(void **state)
{
	(void) state;
	assert_int_equal(split("a@b.com", ','), 1);
	assert_string_equal(row.field[0], "a@b.com");
	assert_int_equal(split("  a@b.com , x ,,y", ','), 4);
	assert_string_equal(row.field[0], "a@b.com");
	assert_string_equal(row.field[1], "x");
	assert_string_equal(row.field[2], "");
	assert_string_equal(row.field[3], "y");
	assert_int_equal(split("a;b;c", ';'), 3);
	assert_string_equal(row.field[2], "c");
	assert_int_equal(split("a\t b\tc", '\t'), 3);
	assert_string_equal(row.field[1], "b");
	assert_int_equal(split("", ','), 1);
	assert_string_equal(row.field[0], "");
}

/* test_split_quoted - RFC 4180 quotes: delimiters and "" inside a field */
static void
test_split_quoted(void **state)
{
	(void) state;
	assert_int_equal(split("\"a@b.com\",\"550 5.1.1, user unknown\",3", ','), 3);
	assert_string_equal(row.field[0], "a@b.com");
	assert_string_equal(row.field[1], "550 5.1.1, user unknown");
	assert_string_equal(row.field[2], "3");
	assert_int_equal(split("\"say \"\"hi\"\"\" , x", ','), 2);
	assert_string_equal(row.field[0], "say \"hi\"");
	assert_string_equal(row.field[1], "x");
	assert_int_equal(split("\"\",\"\"", ','), 2);
	assert_string_equal(row.field[0], "");
	assert_string_equal(row.field[1], "");
}

/* test_split_errors - open quote, text after a quote, too many fields, too long */
static void
test_split_errors(void **state)
{
	char	*longline = malloc(CTL_CSV_LINE_MAX + 10);
	char	many[CTL_CSV_FIELDS * 2 + 8];

	(void) state;
	assert_int_equal(split("\"a@b.com,x", ','), -1);
	assert_string_equal(split_err, "unterminated quoted field");
	assert_int_equal(split("\"a@b.com\"x,y", ','), -1);
	assert_string_equal(split_err, "text after a closing quote");
	memset(many, ',', CTL_CSV_FIELDS);
	many[CTL_CSV_FIELDS] = '\0';
	assert_int_equal(split(many, ','), -1);
	assert_string_equal(split_err, "too many fields");
	many[CTL_CSV_FIELDS - 1] = '\0';
	assert_int_equal(split(many, ','), CTL_CSV_FIELDS);
	memset(longline, 'a', CTL_CSV_LINE_MAX + 5);
	longline[CTL_CSV_LINE_MAX + 5] = '\0';
	assert_int_equal(split(longline, ','), -1);
	assert_string_equal(split_err, "line too long");
	free(longline);
}

/* test_delim - the most frequent delimiter outside quotes wins */
static void
test_delim(void **state)
{
	(void) state;
	assert_int_equal(ctl_csv_delim("a@b.com"), ',');
	assert_int_equal(ctl_csv_delim("email;created;reason"), ';');
	assert_int_equal(ctl_csv_delim("email\tcreated"), '\t');
	assert_int_equal(ctl_csv_delim("\"a;b;c\",x,y"), ',');
	assert_int_equal(ctl_csv_delim("Email Address,Reason"), ',');
}

/* detect - ctl_csv_detect() into a fresh layout */
static ctl_csv_layout
detect(const char *line)
{
	ctl_csv_layout lay = {0};

	ctl_csv_detect(line, &lay);
	return lay;
}

/* test_detect_vendors - headers of other providers' exports */
static void
test_detect_vendors(void **state)
{
	ctl_csv_layout l;

	(void) state;
	l = detect("EmailAddress,Reason,LastUpdateTime");
	assert_true(l.header);
	assert_int_equal(l.addr_col, 0);
	assert_int_equal(l.reason_col, 1);
	assert_int_equal(l.time_col, 2);
	assert_string_equal(l.vendor, "Amazon SES");
	l = detect("EmailAddress,SuppressionReason,Origin,CreatedAt");
	assert_true(l.header);
	assert_int_equal(l.reason_col, 1);
	assert_int_equal(l.time_col, 3);
	assert_string_equal(l.vendor, "Postmark");
	l = detect("email,created,reason,status");
	assert_int_equal(l.addr_col, 0);
	assert_int_equal(l.time_col, 1);
	assert_int_equal(l.reason_col, 2);
	assert_string_equal(l.vendor, "SendGrid");
	l = detect("address,code,error,created_at");
	assert_int_equal(l.time_col, 3);
	assert_string_equal(l.vendor, "Mailgun");
	l = detect("address,scope,reason,added,expires,source,detail");
	assert_string_equal(l.vendor, "sluicectl");
	l = detect("\"First Name\";\"Email Address\";\"Reason\"");
	assert_int_equal(l.delim, ';');
	assert_true(l.header);
	assert_int_equal(l.addr_col, 1);
	assert_int_equal(l.reason_col, 2);
}

/* test_detect_plain - data on the first line, or an unknown header */
static void
test_detect_plain(void **state)
{
	ctl_csv_layout l;

	(void) state;
	l = detect("alice@example.com");
	assert_false(l.header);
	assert_int_equal(l.addr_col, 0);
	assert_int_equal(l.reason_col, -1);
	assert_string_equal(l.vendor, "plain list");
	l = detect("alice@example.com,bounce,2023-01-01");
	assert_false(l.header);
	assert_int_equal(l.reason_col, -1);	/* no header: only the address is used */
	assert_string_equal(l.vendor, "CSV without header");
	l = detect("id,name,when");		/* no "@", no known name: header, first column */
	assert_true(l.header);
	assert_int_equal(l.addr_col, 0);
	assert_int_equal(l.time_col, -1);
}

/* addr - ctl_csv_addr() result, or NULL */
static char addr_out[SL_ADDR_MAX + 1];
static const char *addr_err;

static const char *
addr(const char *in, int flags)
{
	return ctl_csv_addr(in, flags, addr_out, sizeof(addr_out), &addr_err) < 0 ? NULL : addr_out;
}

/* test_addr - normalization as policyd does it, and what is refused */
static void
test_addr(void **state)
{
	(void) state;
	assert_string_equal(addr("Alice@Example.COM", 0), "Alice@example.com");
	assert_string_equal(addr("<bob@example.com>", 0), "bob@example.com");
	assert_string_equal(addr("mailto:bob@example.com", 0), "bob@example.com");
	assert_string_equal(addr("Bob+news@Example.com", SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL),
			    "bob@example.com");
	assert_string_equal(addr("taro..yamada.@docomo.ne.jp", 0), "taro..yamada.@docomo.ne.jp");
	assert_string_equal(addr("x@[192.0.2.1]", 0), "x@[192.0.2.1]");
	assert_null(addr("", 0));
	assert_null(addr("not an address", 0));
	assert_null(addr("nobody", 0));
	assert_null(addr("a@localhost", 0));
	assert_string_equal(addr_err, "invalid domain");
	assert_null(addr("a@exa_mple.com", 0));
	assert_null(addr("a@example..com", 0));
	assert_null(addr("a@.example.com", 0));
	assert_string_equal(addr("a@example.com.", 0),
	                    "a@example.com"); /* canonical: no trailing dot */
	assert_null(addr("a,b@example.com", 0));
	assert_string_equal(addr_err, "invalid local part");
	assert_null(addr("\"a b\"@example.com", 0));
	assert_null(addr("John <john@example.com>", 0));
	assert_null(addr("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com", 0));
}

/* test_reason - providers' words mapped to ours; unknown text is NULL */
static void
test_reason(void **state)
{
	(void) state;
	assert_string_equal(ctl_csv_reason("BOUNCE"), "hard-bounce");
	assert_string_equal(ctl_csv_reason("COMPLAINT"), "complaint");
	assert_string_equal(ctl_csv_reason("HardBounce"), "hard-bounce");
	assert_string_equal(ctl_csv_reason("SpamComplaint"), "complaint");
	assert_string_equal(ctl_csv_reason("ManualSuppression"), "manual");
	assert_string_equal(ctl_csv_reason("Unsubscribe"), "unsubscribe");
	assert_string_equal(ctl_csv_reason("hard-bounce"), "hard-bounce");
	assert_string_equal(ctl_csv_reason("soft-bounce-threshold"), "soft-bounce-threshold");
	assert_null(ctl_csv_reason("550 5.1.1 <a@b.com>: user unknown"));
	assert_null(ctl_csv_reason(""));
}

/* test_time - epoch seconds and ms, ISO 8601 with fraction and offset */
static void
test_time(void **state)
{
	(void) state;
	assert_int_equal(ctl_csv_time("2023-01-02T03:04:05Z"), 1672628645);
	assert_int_equal(ctl_csv_time("2023-01-02T03:04:05.520000+00:00"), 1672628645);
	assert_int_equal(ctl_csv_time("2023-01-02 12:04:05+09:00"), 1672628645);
	assert_int_equal(ctl_csv_time("2023-01-01T22:04:05-0500"), 1672628645);
	assert_int_equal(ctl_csv_time("2023-01-02 03:04:05 UTC"), 1672628645);
	assert_int_equal(ctl_csv_time("2023-01-02"), 1672617600);
	assert_int_equal(ctl_csv_time("1700000000"), 1700000000);
	assert_int_equal(ctl_csv_time("1700000000123"), 1700000000);
	assert_int_equal(ctl_csv_time("yesterday"), 0);
	assert_int_equal(ctl_csv_time("2023-13-45"), 0);
	assert_int_equal(ctl_csv_time("2023-01-02T03:04:05 PST8"), 0);
	assert_int_equal(ctl_csv_time(""), 0);
}

/*
 * A messy file read end to end.
 */
typedef struct got {
	int	nrec, nbad;
	ctl_csv_rec rec[16];
	long	badline[16];
	char	badwhy[16][64];
} got;

/* on_rec - collect records */
static int
on_rec(const ctl_csv_rec *rec, void *arg)
{
	got    *g = arg;

	if (g->nrec < 16)
		g->rec[g->nrec++] = *rec;
	return 0;
}

/* on_bad - collect bad lines */
static void
on_bad(long line, const char *why, void *arg)
{
	got    *g = arg;

	if (g->nbad < 16) {
		g->badline[g->nbad] = line;
		snprintf(g->badwhy[g->nbad++], sizeof(g->badwhy[0]), "%s", why);
	}
}

/* read_text - ctl_csv_read() over a buffer of len bytes */
static int
read_text(const char *text, size_t len, ctl_csv_layout *lay, got *g, ctl_csv_stats *st)
{
	FILE   *fp = fmemopen((void *) text, len, "r");
	int	rc;

	assert_non_null(fp);
	memset(g, 0, sizeof(*g));
	rc = ctl_csv_read(fp, lay, on_rec, on_bad, g, st);
	fclose(fp);
	return rc;
}

/* test_read_ses_messy - BOM, CRLF, blanks, comments and bad lines of all kinds */
static void
test_read_ses_messy(void **state)
{
	static const char text[] =
		"\xef\xbb\xbf" "EmailAddress,Reason,LastUpdateTime\r\n"	/* 1 */
		"alice@Example.com,BOUNCE,2023-01-02T03:04:05Z\r\n"		/* 2 */
		"\r\n"								/* 3 */
		"# exported by hand\r\n"					/* 4 */
		"\"bob@example.com\",COMPLAINT,1700000000\r\n"		/* 5 */
		"\"carol@example.com,BOUNCE,\r\n"				/* 6 bad */
		",BOUNCE,2023-01-02\r\n"					/* 7 bad */
		"dave@example,BOUNCE,2023-01-02\r\n"				/* 8 bad */
		"eve@example.org,SOMETHING ELSE,garbage\r\n"			/* 9 */
		",,\r\n"							/* 10 blank */
		"fr\0nk@example.com,BOUNCE,\r\n"				/* 11 bad */
		"gina@example.com";						/* 12, no EOL */
	ctl_csv_layout lay = {0};
	ctl_csv_stats st;
	got	g;

	(void) state;
	assert_int_equal(read_text(text, sizeof(text) - 1, &lay, &g, &st), 0);
	assert_string_equal(lay.vendor, "Amazon SES");
	assert_int_equal(st.lines, 12);
	assert_int_equal(st.records, 4);
	assert_int_equal(st.bad, 4);
	assert_int_equal(st.skipped, 3);
	assert_int_equal(g.nrec, 4);
	assert_string_equal(g.rec[0].addr, "alice@example.com");
	assert_int_equal(g.rec[0].line, 2);
	assert_string_equal(g.rec[0].reason, "hard-bounce");
	assert_int_equal(g.rec[0].added, 1672628645);
	assert_string_equal(g.rec[1].addr, "bob@example.com");
	assert_string_equal(g.rec[1].reason, "complaint");
	assert_int_equal(g.rec[1].added, 1700000000);
	assert_string_equal(g.rec[2].addr, "eve@example.org");
	assert_null(g.rec[2].reason);
	assert_string_equal(g.rec[2].vendor_reason, "SOMETHING ELSE");
	assert_int_equal(g.rec[2].added, 0);
	assert_string_equal(g.rec[3].addr, "gina@example.com");
	assert_int_equal(g.rec[3].line, 12);
	assert_int_equal(g.nbad, 4);
	assert_int_equal(g.badline[0], 6);
	assert_string_equal(g.badwhy[0], "unterminated quoted field");
	assert_int_equal(g.badline[1], 7);
	assert_string_equal(g.badwhy[1], "no address in the address column");
	assert_int_equal(g.badline[2], 8);
	assert_string_equal(g.badwhy[2], "invalid domain");
	assert_int_equal(g.badline[3], 11);
	assert_string_equal(g.badwhy[3], "NUL byte in line");
}

/* test_read_plain - one address per line, a too-long line in the middle */
static void
test_read_plain(void **state)
{
	size_t	n = CTL_CSV_LINE_MAX + 200;
	char   *text = malloc(n + 100);
	ctl_csv_layout lay = {.addr_flags = SL_ADDR_STRIP_TAG};
	ctl_csv_stats st;
	got	g;
	int	off;

	(void) state;
	off = sprintf(text, "a+tag@example.com\n");
	memset(text + off, 'x', CTL_CSV_LINE_MAX + 1);
	off += CTL_CSV_LINE_MAX + 1;
	off += sprintf(text + off, "@example.com\nb@example.com\n");
	assert_int_equal(read_text(text, (size_t) off, &lay, &g, &st), 0);
	assert_false(lay.header);
	assert_int_equal(st.lines, 3);
	assert_int_equal(g.nrec, 2);
	assert_string_equal(g.rec[0].addr, "a@example.com");
	assert_string_equal(g.rec[1].addr, "b@example.com");
	assert_int_equal(g.rec[1].line, 3);
	assert_int_equal(g.nbad, 1);
	assert_int_equal(g.badline[0], 2);
	assert_string_equal(g.badwhy[0], "line too long");
	free(text);
}

/* test_read_semicolon_header - a European spreadsheet export, address second */
static void
test_read_semicolon_header(void **state)
{
	static const char text[] = "Name;E-Mail\nAlice;alice@example.com\nBob;\n";
	ctl_csv_layout lay = {0};
	ctl_csv_stats st;
	got	g;

	(void) state;
	assert_int_equal(read_text(text, sizeof(text) - 1, &lay, &g, &st), 0);
	assert_true(lay.header);
	assert_int_equal(lay.addr_col, 1);
	assert_int_equal(g.nrec, 1);
	assert_string_equal(g.rec[0].addr, "alice@example.com");
	assert_int_equal(g.nbad, 1);
	assert_int_equal(g.badline[0], 3);
}

/* stop_rec - a callback that asks to stop */
static int
stop_rec(const ctl_csv_rec *rec, void *arg)
{
	(void) rec, (void) arg;
	return -1;
}

/* test_read_stop - rec_fn < 0 stops reading with -1; a blank file is fine */
static void
test_read_stop(void **state)
{
	static const char text[] = "a@example.com\nb@example.com\n";
	ctl_csv_layout lay = {0};
	ctl_csv_stats st;
	got	g;
	FILE   *fp = fmemopen((void *) text, sizeof(text) - 1, "r");

	(void) state;
	assert_int_equal(ctl_csv_read(fp, &lay, stop_rec, on_bad, &g, &st), -1);
	assert_int_equal(st.lines, 1);
	fclose(fp);
	memset(&lay, 0, sizeof(lay));
	assert_int_equal(read_text("\n", 1, &lay, &g, &st), 0);
	assert_int_equal(st.lines, 1);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(lay.delim, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_plain),
		cmocka_unit_test(test_split_quoted),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_delim),
		cmocka_unit_test(test_detect_vendors),
		cmocka_unit_test(test_detect_plain),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_read_ses_messy),
		cmocka_unit_test(test_read_plain),
		cmocka_unit_test(test_read_semicolon_header),
		cmocka_unit_test(test_read_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

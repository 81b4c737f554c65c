/*
 * NAME
 *	logd_parse 3 - one Postfix 3.x log line into its fields (pure)
 * SYNOPSIS
 *	kind = ld_parse_line(line, len, &out)
 * DESCRIPTION
 *	Reads both shapes of a Postfix log line:
 *	  syslog / maillog_file:  "Dec  3 12:00:00[.123456] host ident[pid]: text"
 *	  RFC 3339 stamps:        "2026-12-03T12:00:00.123+00:00 host ident[pid]: text"
 *	The ident is Postfix's syslog_name and the program ("postfix/smtp",
 *	"postfix-out/lmtp", "postfix/submission/smtpd"); the service is the
 *	part after its last slash. Texts recognised, after "QUEUEID: ":
 *	  to=<r>, [orig_to=<o>,] relay=h[a]:p, ..., dsn=x.y.z, status=s (reply)
 *	      from any delivery agent (smtp, lmtp, local, virtual, pipe, error,
 *	      discard, retry): LD_DELIVERY
 *	  from=<s>, size=n, nrcpt=n (queue active)		qmgr: LD_QMGR_FROM
 *	  from=<s>, status=expired, returned to sender	qmgr: LD_EXPIRED
 *	  removed						qmgr, postsuper: LD_REMOVED
 *	  message-id=<m>				cleanup: LD_MSGID
 *	  sender non-delivery notification: QID		bounce: LD_NOTICE
 *	Address verification probes (status=deliverable/undeliverable) and
 *	every other line are LD_SKIP. A line that looks like one of the
 *	above but does not parse (no status, an unterminated address, a field
 *	too long for its buffer) is LD_BAD: the caller counts and skips it.
 *	The remote reply is the text inside the parentheses after the status,
 *	to the line's last ')'; a reply cut by syslog (no ')') is kept.
 * SECURITY
 *	Input is untrusted (a remote server writes the reply). Every copy is
 *	bounded by its buffer; nothing is allocated; no field is guessed.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "logd.h"

typedef struct cursor {
	const char *p, *end;
} cursor;

/* copy_field - copy [s, s+n) into a buffer; -1 when it does not fit */
static int
copy_field(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size)
		return -1;
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

/* number - a decimal number in [s, end), never read past end (no NUL there) */
static double
number(const char *s, const char *end)
{
	char buf[32];
	size_t n = 0;

	while (s + n < end && n < sizeof(buf) - 1 && (isdigit((unsigned char)s[n]) || s[n] == '.'))
		n++;
	memcpy(buf, s, n);
	buf[n] = 0;
	return strtod(buf, NULL);
}

/* skip_spaces - advance past blanks */
static void
skip_spaces(cursor *c)
{
	while (c->p < c->end && *c->p == ' ')
		c->p++;
}

/* token - the next blank-separated word: start and length; 0 at the end */
static size_t
token(cursor *c, const char **start)
{
	skip_spaces(c);
	*start = c->p;
	while (c->p < c->end && *c->p != ' ')
		c->p++;
	return (size_t)(c->p - *start);
}

/* parse_stamp - the time stamp (one RFC 3339 word or three BSD words) */
static int
parse_stamp(cursor *c, ld_line *out)
{
	const char *s, *w;
	size_t n = token(c, &s);

	if (n == 0)
		return -1;
	if (!(n >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-')) {
		/* "Dec  3 12:00:00": month, day, time */
		if (n != 3 || token(c, &w) == 0 || token(c, &w) < 8 || w[2] != ':')
			return -1;
		n = (size_t)(c->p - s);
	}
	return copy_field(out->stamp, sizeof(out->stamp), s, n);
}

/* parse_ident - host, then "ident[pid]:"; the service is the ident's last part */
static int
parse_ident(cursor *c, ld_line *out)
{
	const char *s, *slash = NULL, *br = NULL;
	size_t n;

	if (token(c, &s) == 0 || (n = token(c, &s)) < 4 || s[n - 1] != ':')
		return -1;
	for (const char *q = s; q < s + n; q++)
		if (*q == '/')
			slash = q;
		else if (*q == '[' && br == NULL)
			br = q;
	if (slash == NULL || (br != NULL && br < slash))
		return -1;
	if (br == NULL)
		br = s + n - 1;
	return copy_field(out->service, sizeof(out->service), slash + 1, (size_t)(br - slash - 1));
}

/* parse_qid - "QUEUEID: " at the start of the text */
static int
parse_qid(cursor *c, ld_line *out)
{
	const char *s = c->p;

	while (c->p < c->end && isalnum((unsigned char)*c->p))
		c->p++;
	if (c->p - s < 5 || c->end - c->p < 2 || c->p[0] != ':' || c->p[1] != ' ')
		return -1;
	if (copy_field(out->qid, sizeof(out->qid), s, (size_t)(c->p - s)) < 0)
		return -1;
	c->p += 2;
	return 0;
}

/* starts - the text at the cursor begins with word */
static int
starts(const cursor *c, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0;
}

/*
 * value - the value of "name=" at the cursor, to the next ", " (or the end,
 * or the " (" of a status); an address "<...>" runs to its closing '>' so a
 * quoted local part may hold a comma. Leaves the cursor past the separator.
 */
static int
value(cursor *c, const char **v, size_t *n)
{
	const char *s = c->p, *q;

	if (s < c->end && *s == '<') {
		for (q = s + 1; q < c->end && !(*q == '>' && (q + 1 == c->end || q[1] == ','));)
			q++;
		if (q >= c->end)
			return -1;
		*v = s + 1, *n = (size_t)(q - s - 1);
		c->p = q + 1;
	} else {
		for (q = s;
		     q < c->end && *q != ',' && !(*q == ' ' && q + 1 < c->end && q[1] == '(');)
			q++;
		*v = s, *n = (size_t)(q - s);
		c->p = q;
	}
	if (c->p < c->end && *c->p == ',')
		c->p++;
	skip_spaces(c);
	return 0;
}

/* parse_relay - "host[addr]:port", "none", "local", "private/dovecot-lmtp" */
static int
parse_relay(ld_line *out, const char *v, size_t n)
{
	const char *br = memchr(v, '[', n), *close;

	if (br == NULL)
		return copy_field(out->relay_host, sizeof(out->relay_host), v, n);
	close = memchr(br, ']', (size_t)(v + n - br));
	if (close == NULL ||
	    copy_field(out->relay_host, sizeof(out->relay_host), v, (size_t)(br - v)) < 0 ||
	    copy_field(out->relay_addr, sizeof(out->relay_addr), br + 1, (size_t)(close - br - 1)) <
	        0)
		return -1;
	if (close + 1 < v + n && close[1] == ':')
		out->relay_port = (int)number(close + 2, v + n);
	return 0;
}

/* parse_status - the status word and the reply in parentheses after it */
static int
parse_status(cursor *c, ld_line *out, const char *v, size_t n)
{
	static const struct {
		const char *word;
		enum ld_status st;
	} words[] = {
	    {"sent", LD_ST_SENT},           {"deferred", LD_ST_DEFERRED},
	    {"SOFTBOUNCE", LD_ST_DEFERRED}, {"bounced", LD_ST_BOUNCED},
	    {"expired", LD_ST_EXPIRED},
	};
	const char *r, *last;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].word) == n && memcmp(words[i].word, v, n) == 0)
			out->status = words[i].st;
	if (out->status == LD_ST_NONE) /* deliverable, undeliverable: probes */
		return (n == 11 && memcmp(v, "deliverable", n) == 0) ||
		               (n == 13 && memcmp(v, "undeliverable", n) == 0)
		           ? 1
		           : -1;
	if (c->p >= c->end || *c->p != '(')
		return 0;
	r = c->p + 1;
	for (last = c->end; last > r && last[-1] != ')';)
		last--;
	if (last == r)
		last = c->end, out->reply_cut = 1;
	else
		last--;
	n = (size_t)(last - r);
	if (n >= sizeof(out->reply))
		n = sizeof(out->reply) - 1, out->reply_cut = 1;
	memcpy(out->reply, r, n);
	out->reply[n] = 0;
	return 0;
}

/* parse_field - one "name=value" of a delivery line; 1 after the status */
static int
parse_field(cursor *c, ld_line *out)
{
	const char *eq = memchr(c->p, '=', (size_t)(c->end - c->p)), *name = c->p, *v;
	size_t nl, n;

	if (eq == NULL)
		return -1;
	nl = (size_t)(eq - name);
	c->p = eq + 1;
	if (value(c, &v, &n) < 0)
		return -1;
#define IS(s) (nl == sizeof(s) - 1 && memcmp(name, s, nl) == 0)
	if (IS("to"))
		return copy_field(out->to, sizeof(out->to), v, n);
	if (IS("orig_to"))
		return copy_field(out->orig_to, sizeof(out->orig_to), v, n);
	if (IS("relay"))
		return parse_relay(out, v, n);
	if (IS("delay"))
		return (out->delay = number(v, v + n)), 0;
	if (IS("delays"))
		return copy_field(out->delays, sizeof(out->delays), v, n);
	if (IS("dsn"))
		return copy_field(out->dsn, sizeof(out->dsn), v, n);
	if (IS("status")) {
		int rc = parse_status(c, out, v, n);

		return rc < 0 ? -1 : rc == 1 ? 2 : 1;
	}
#undef IS
	return 0; /* conn_use=, and what a later Postfix adds */
}

/* parse_delivery - "to=<...>, ... status=..." */
static enum ld_kind
parse_delivery(cursor *c, ld_line *out)
{
	int rc = 0;

	while (c->p < c->end && (rc = parse_field(c, out)) == 0)
		;
	if (rc == 2)
		return LD_SKIP;
	if (rc != 1 || out->to[0] == 0)
		return LD_BAD;
	return LD_DELIVERY;
}

/* parse_from - qmgr's "from=<s>, size=n, nrcpt=n" or "from=<s>, status=expired, ..." */
static enum ld_kind
parse_from(cursor *c, ld_line *out)
{
	const char *v;
	size_t n;

	c->p += 5;
	if (value(c, &v, &n) < 0 || copy_field(out->from, sizeof(out->from), v, n) < 0)
		return LD_BAD;
	if (starts(c, "status=expired"))
		return LD_EXPIRED;
	while (c->p < c->end) {
		const char *name = c->p;

		if (starts(c, "size="))
			out->size = (long)number(name + 5, c->end);
		else if (starts(c, "nrcpt="))
			out->nrcpt = (int)number(name + 6, c->end);
		while (c->p < c->end && *c->p != ',')
			c->p++;
		c->p += c->p < c->end;
		skip_spaces(c);
	}
	return LD_QMGR_FROM;
}

/* parse_notice - bounce's "sender non-delivery notification: QID" (and kin) */
static enum ld_kind
parse_notice(cursor *c, ld_line *out)
{
	const char *colon = memchr(c->p, ':', (size_t)(c->end - c->p)), *s;
	size_t n;

	if (colon == NULL)
		return LD_SKIP;
	c->p = colon + 1;
	if ((n = token(c, &s)) == 0 ||
	    copy_field(out->notice_qid, sizeof(out->notice_qid), s, n) < 0)
		return LD_BAD;
	return LD_NOTICE;
}

/* parse_text - what follows "QUEUEID: " */
static enum ld_kind
parse_text(cursor *c, ld_line *out)
{
	const char *v;
	size_t n;

	if (starts(c, "to=<"))
		return parse_delivery(c, out);
	if (starts(c, "from=<") && strcmp(out->service, "qmgr") == 0)
		return parse_from(c, out);
	if (c->end - c->p == 7 && starts(c, "removed"))
		return LD_REMOVED;
	if (starts(c, "message-id=") && strcmp(out->service, "cleanup") == 0) {
		c->p += 11;
		if (value(c, &v, &n) < 0 || copy_field(out->msgid, sizeof(out->msgid), v, n) < 0)
			return LD_BAD;
		return LD_MSGID;
	}
	if (strcmp(out->service, "bounce") == 0 &&
	    (starts(c, "sender non-delivery notification:") ||
	     starts(c, "sender delivery status notification:") ||
	     starts(c, "sender delay notification:") ||
	     starts(c, "postmaster non-delivery notification:")))
		return parse_notice(c, out);
	return LD_SKIP;
}

/* ld_parse_line - classify and split one log line (without its newline) */
enum ld_kind
ld_parse_line(const char *line, size_t len, ld_line *out)
{
	cursor c = {line, line + len};

	memset(out, 0, sizeof(*out));
	while (c.end > c.p && (c.end[-1] == '\n' || c.end[-1] == '\r'))
		c.end--;
	if (parse_stamp(&c, out) < 0 || parse_ident(&c, out) < 0)
		return out->kind = LD_SKIP;
	skip_spaces(&c);
	if (parse_qid(&c, out) < 0)
		return out->kind = LD_SKIP;
	return out->kind = parse_text(&c, out);
}

/* ld_status_name - the event name of a delivery status */
const char *
ld_status_name(enum ld_status st)
{
	switch (st) {
	case LD_ST_SENT:
		return "delivered";
	case LD_ST_DEFERRED:
		return "deferred";
	case LD_ST_BOUNCED:
		return "bounced";
	case LD_ST_EXPIRED:
		return "expired";
	default:
		return "none";
	}
}

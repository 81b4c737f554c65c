/*
 * NAME
 *	feedback_dsn 3 - delivery status notifications (RFC 3464)
 * SYNOPSIS
 *	n = fb_dsn_parse(mail, res);	records added, 0 when no DSN
 * DESCRIPTION
 *	Reads the message/delivery-status part: one record per
 *	per-recipient block (Final-Recipient, else Original-Recipient),
 *	with Action, Status and Diagnostic-Code. When the DSN carries no
 *	diagnostic, the paragraph of the human-readable part that names
 *	the recipient is used instead (Postfix writes the remote reply
 *	there). Also hosts the helpers that find addresses, enhanced
 *	status codes, reply codes and SMTP commands in free text, shared
 *	with feedback_vendor.c.
 * LIMITS
 *	At most FB_MAX_RCPTS records (fb_classify() defers a message that
 *	reaches it); diagnostics are squeezed to one line of at most
 *	FB_DIAG_MAX bytes.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "feedback.h"

#define DSN_FIELD_MAX 4096
#define DSN_BLOCK_FIELDS 64

/*
 * fb_strcasestr - case-insensitive strstr for ASCII. glibc's strcasestr
 * (two-way search) instead of strncasecmp at every position, which was
 * half of the classifier's instructions (doc/benchmarks.md).
 */
const char *
fb_strcasestr(const char *hay, const char *needle)
{
	return strcasestr(hay, needle);
}

/* is_local_char - may this byte appear in an unquoted local part? */
static int
is_local_char(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL);
}

/* is_domain_char - may this byte appear in a domain? */
static int
is_domain_char(int c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/* addr_at - the address around the '@' at p, or 0 */
static int
addr_at(const char *start, const char *p, char *out, size_t outlen)
{
	const char *l = p, *r = p + 1;
	size_t	n;

	while (l > start && is_local_char((unsigned char) l[-1]))
		l--;
	while (*r && is_domain_char((unsigned char) *r))
		r++;
	while (r > p + 1 && (r[-1] == '.' || r[-1] == '-'))
		r--;
	while (l < p && *l == '.')
		l++;
	if (l == p || r == p + 1 || memchr(p + 1, '.', r - p - 1) == NULL)
		return 0;
	n = r - l;
	if (n >= outlen)
		return 0;
	memcpy(out, l, n);
	out[n] = 0;
	return 1;
}

/* fb_text_find_addr - the first plausible mail address in s */
int
fb_text_find_addr(const char *s, char *out, size_t outlen)
{
	const char *p;

	for (p = s; (p = strchr(p, '@')) != NULL; p++)
		if (addr_at(s, p, out, outlen))
			return 1;
	return 0;
}

/* status_at - an enhanced status code starting at p, or 0 */
static size_t
status_at(const char *s, const char *p)
{
	const char *q = p + 2;
	int	d;

	if (p > s && (isdigit((unsigned char) p[-1]) || p[-1] == '.'))
		return 0;
	if (!(p[0] == '2' || p[0] == '4' || p[0] == '5') || p[1] != '.')
		return 0;
	for (d = 0; isdigit((unsigned char) *q) && d < 3; q++, d++)
		;
	if (d == 0 || *q != '.')
		return 0;
	q++;
	for (d = 0; isdigit((unsigned char) *q) && d < 3; q++, d++)
		;
	if (d == 0 || isdigit((unsigned char) *q) || (*q == '.' && isdigit((unsigned char) q[1])))
		return 0;
	return q - p;
}

/* fb_text_find_status - the first enhanced status code (x.y.z) in s */
int
fb_text_find_status(const char *s, char out[16])
{
	const char *p;
	size_t	n;

	for (p = s; *p; p++)
		if ((n = status_at(s, p)) > 0 && n < 16) {
			memcpy(out, p, n);
			out[n] = 0;
			return 1;
		}
	return 0;
}

/* fb_text_find_reply - the first SMTP reply code (2xx..5xx) in s */
int
fb_text_find_reply(const char *s, char out[4])
{
	const char *p;

	for (p = s; *p; p++) {
		if (p > s && (isalnum((unsigned char) p[-1]) || p[-1] == '.'
			      || p[-1] == '#' || p[-1] == '-' || p[-1] == ':'))
			continue;
		if ((*p == '2' || *p == '4' || *p == '5')
		    && isdigit((unsigned char) p[1]) && isdigit((unsigned char) p[2])
		    && p[1] <= '5' && (p[3] == ' ' || p[3] == '-' || p[3] == 0)) {
			memcpy(out, p, 3);
			out[3] = 0;
			return 1;
		}
	}
	return 0;
}

/*
 * transcript_command - in a session transcript (">>> RCPT To:<a>" then
 * "<<< 550 ..."), the last command sent before the first 4xx/5xx reply.
 */
static int
transcript_command(const char *s, char out[8])
{
	const char *err = s, *p, *last = NULL, *talk = NULL;
	size_t	n;

	while ((err = strstr(err, "<<< ")) != NULL && !(err[4] == '4' || err[4] == '5'))
		err += 4;
	if (err == NULL)
		return 0;
	for (p = s; (p = strstr(p, ">>> ")) != NULL && p < err; p += 4)
		last = p + 4;
	/* refused at the greeting: no command sent since "while talking to" */
	for (p = s; (p = strstr(p, "while talking to ")) != NULL && p < err; p++)
		talk = p;
	if (talk != NULL && (last == NULL || last < talk)) {
		strcpy(out, "CONN");
		return 1;
	}
	if (last == NULL)
		return 0;
	/* "503 need RCPT" to DATA (RFC 5321 3.3): every RCPT was refused */
	if (strncasecmp(last, "DATA", 4) == 0 && strstr(err, "<<< 503") != NULL) {
		strcpy(out, "RCPT");
		return 1;
	}
	n = strspn(last, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
	if (n == 0 || n > 4)
		return 0;
	memcpy(out, last, n);
	out[n] = 0;
	for (p = out; *p; p++)
		out[p - out] = (char) toupper((unsigned char) *p);
	if (strcmp(out, "HELO") == 0)
		strcpy(out, "EHLO");
	return 1;
}

/* fb_text_find_command - the SMTP command a diagnostic blames */
void
fb_text_find_command(const char *s, char out[8])
{
	static const struct { const char *pat; const char *cmd; } tab[] = {
		{ "in reply to rcpt to", "RCPT" }, { "after rcpt to", "RCPT" },
		{ ">>> rcpt to", "RCPT" }, { "rcpt to response", "RCPT" }, { "smtp:rcpt ", "RCPT" },
		{ "does not like recipient", "RCPT" }, { "did not like our rcpt", "RCPT" },
		{ "did not like our final data", "DATA" }, { "[rcpt_to]", "RCPT" },
		{ "smtp command data", "DATA" }, { "smtp command rcpt", "RCPT" },
		{ "in reply to mail from", "MAIL" }, { "after mail from", "MAIL" },
		{ ">>> mail from", "MAIL" },
		{ "in reply to end of data", "DATA" }, { "after end of data", "DATA" },
		{ "in reply to data", "DATA" }, { "after data", "DATA" },
		{ ">>> data", "DATA" },
		{ "in reply to ehlo", "EHLO" }, { "in reply to helo", "HELO" },
		{ "after ehlo", "EHLO" }, { "after helo", "HELO" },
		{ "after initial connection", "CONN" },
		/* Exim with PIPELINING: "SMTP error from remote mail server
		 * after pipelined RCPT TO:<a>" */
		{ "after pipelined rcpt to", "RCPT" }, { "after pipelined mail from", "MAIL" },
		{ "after pipelined end of data", "DATA" }, { "after pipelined data", "DATA" },
		/* qmail-remote's own words for each step */
		{ "failed after i sent the message", "DATA" }, { "but sender was rejected", "MAIL" },
		{ "but greeting failed", "CONN" }, { "but my name was rejected", "EHLO" },
		/* Postfix smtp(8): the server's greeting was not 2xx */
		{ "refused to talk to me", "CONN" },
	};
	char	low[FB_DIAG_MAX];
	size_t	i;

	out[0] = 0;
	if (transcript_command(s, out))
		return;
	/* one lowercased copy (a diagnostic is at most FB_DIAG_MAX), then plain searches */
	fb_strlcpy(low, s, sizeof(low));
	fb_strlower(low);
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strstr(low, tab[i].pat) != NULL) {
			fb_strlcpy(out, tab[i].cmd, 8);
			return;
		}
}

/* fb_text_squeeze - copy n bytes as one line with single spaces */
void
fb_text_squeeze(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t	o = 0, i;
	int	sp = 1;

	for (i = 0; i < n && src[i] && o + 1 < dstlen; i++) {
		if (isspace((unsigned char) src[i])) {
			if (!sp)
				dst[o++] = ' ';
			sp = 1;
		} else {
			dst[o++] = src[i];
			sp = 0;
		}
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = 0;
}

/* A DSN field, unfolded. */
typedef struct dsn_field {
	char	name[64];
	char	value[DSN_FIELD_MAX];
} dsn_field;

/* dsn_next_field - read one (folded) field; returns bytes used, 0 at end */
static size_t
dsn_next_field(const char *s, dsn_field *f, int *blank)
{
	const char *p = s, *colon, *eol;
	char	buf[DSN_FIELD_MAX];
	size_t	n = 0;

	*blank = 0;
	if (*p == 0)
		return 0;
	if (*p == '\n') {
		*blank = 1;
		return 1;
	}
	eol = strchr(p, '\n');
	if (eol == NULL)
		eol = p + strlen(p);
	for (;;) {
		size_t	len = eol - p;

		if (n + len + 1 < sizeof(buf)) {
			memcpy(buf + n, p, len);
			n += len;
			buf[n++] = ' ';
		}
		p = *eol ? eol + 1 : eol;
		if (!(*p == ' ' || *p == '\t'))
			break;
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
	}
	buf[n] = 0;
	f->name[0] = f->value[0] = 0;
	colon = strchr(buf, ':');
	if (colon != NULL && (size_t) (colon - buf) < sizeof(f->name)) {
		memcpy(f->name, buf, colon - buf);
		f->name[colon - buf] = 0;
		fb_text_squeeze(f->value, sizeof(f->value), colon + 1, strlen(colon + 1));
	} else if (n > 0 && (buf[0] == ' ' || buf[0] == '\t')) {
		*blank = 0;
	}
	return p - s;
}

/* dsn_addr - the address of "rfc822; <addr>" */
static void
dsn_addr(const char *v, char *out, size_t outlen)
{
	const char *semi = strchr(v, ';');
	char	tmp[FB_ADDR_MAX];

	if (semi != NULL)
		v = semi + 1;
	if (fb_text_find_addr(v, tmp, sizeof(tmp)))
		fb_strlcpy(out, tmp, outlen);
}

/* dsn_status - the code of "5.1.1 (comment)" */
static void
dsn_status(const char *v, char out[16])
{
	char	tmp[16];

	if (fb_text_find_status(v, tmp))
		fb_strlcpy(out, tmp, 16);
}

/* dsn_diag - "smtp; 550 ..." into type and text */
static void
dsn_diag(const char *v, fb_rcpt *r)
{
	const char *semi = strchr(v, ';');

	if (semi != NULL && semi - v < 16 && semi > v) {
		size_t	n = semi - v;

		memcpy(r->diag_type, v, n);
		r->diag_type[n] = 0;
		fb_strlower(r->diag_type);
		v = semi + 1;
		while (*v == ' ')
			v++;
	}
	if (r->diag[0] == 0)
		fb_strlcpy(r->diag, v, sizeof(r->diag));
}

/* dsn_apply - put one per-recipient field into the record */
static void
dsn_apply(const dsn_field *f, fb_rcpt *r, char *orig, size_t origlen)
{
	if (strcasecmp(f->name, "Final-Recipient") == 0)
		dsn_addr(f->value, r->addr, sizeof(r->addr));
	else if (strcasecmp(f->name, "Original-Recipient") == 0)
		dsn_addr(f->value, orig, origlen);
	else if (strcasecmp(f->name, "Action") == 0) {
		fb_text_squeeze(r->action, sizeof(r->action), f->value, strlen(f->value));
		fb_strlower(r->action);
	} else if (strcasecmp(f->name, "Status") == 0)
		dsn_status(f->value, r->status);
	else if (strcasecmp(f->name, "Diagnostic-Code") == 0)
		dsn_diag(f->value, r);
	else if (strcasecmp(f->name, "Remote-MTA") == 0) {
		const char *semi = strchr(f->value, ';');

		fb_strlcpy(r->rhost, semi ? semi + 1 + strspn(semi + 1, " \t") : f->value,
			   sizeof(r->rhost));
	}
}

/* line_names_other - does the line start with an address other than addr? */
static int
line_names_other(const char *line, const char *addr)
{
	char	a[FB_ADDR_MAX];
	const char *p = line + strspn(line, " \t<");
	const char *eol = strchr(p, '\n');
	size_t	len = eol ? (size_t) (eol - p) : strlen(p);
	char	buf[FB_ADDR_MAX + 8];

	snprintf(buf, sizeof(buf), "%.*s", (int) (len < FB_ADDR_MAX ? len : FB_ADDR_MAX), p);
	if (!fb_text_find_addr(buf, a, sizeof(a)) || strncasecmp(buf, a, strlen(a)) != 0)
		return 0;
	return strcasecmp(a, addr) != 0;
}

/* dsn_lines - the lines from the one holding p to a blank line or another address */
static void
dsn_lines(const char *text, const char *p, const char *addr, char *out, size_t outlen)
{
	const char *start = p, *end;

	while (start > text && start[-1] != '\n')
		start--;
	for (end = strchr(p, '\n'); end != NULL; end = strchr(end + 1, '\n'))
		if (end[1] == '\n' || end[1] == 0 || line_names_other(end + 1, addr))
			break;
	if (end == NULL)
		end = p + strlen(p);
	fb_text_squeeze(out, outlen, start, end - start);
}

/*
 * dsn_paragraph - the human-readable lines about addr: from the line that
 * names it to a blank line or a line starting with another address. When
 * that says nothing beyond the address (a list of bare addresses first),
 * a later mention that says more is used.
 */
static void
dsn_paragraph(const char *text, const char *addr, char *out, size_t outlen)
{
	const char *p = fb_strcasestr(text, addr);
	size_t	alen = strlen(addr);

	out[0] = 0;
	if (p == NULL || *addr == 0)
		return;
	dsn_lines(text, p, addr, out, outlen);
	while (strlen(out) <= alen + 12 && (p = fb_strcasestr(p + alen, addr)) != NULL)
		dsn_lines(text, p, addr, out, outlen);
}

/*
 * quoted_status - the enhanced code of a quoted remote reply inside a
 * summary ("5.1.0 - Unknown address error 550-'5.7.1 ..."): a reply
 * code, a space, dash or quote, then the code. 0 when there is none
 * or the diagnostic starts with it (then it is the summary itself);
 * else where the quoted reply starts.
 */
static const char *
quoted_status(const char *d, char out[16])
{
	const char *p;

	for (p = d; *p; p++) {
		if (p > d && p[-1] >= '0' && p[-1] <= '9')
			continue;
		if ((p[0] == '4' || p[0] == '5') && isdigit((unsigned char) p[1])
		    && isdigit((unsigned char) p[2]) && (p[3] == ' ' || p[3] == '-')
		    && p > d + 4) {
			const char *q = p + 4 + (p[4] == '\'' || p[4] == '"');

			if (fb_text_find_status(q, out) && strncmp(q, out, strlen(out)) == 0)
				return p;
		}
	}
	return NULL;
}

/* specific - an enhanced code with neither subject nor detail zero (5.7.1, not 5.7.0) */
static int
specific(const char *st)
{
	const char *d = strchr(st + 2, '.');

	return st[2] != '0' && d != NULL && d[1] != '0';
}

/* dsn_finish - fill what the DSN fields left out */
static void
dsn_finish(const fb_mail *m, fb_rcpt *r, const char *orig)
{
	char	para[FB_DIAG_MAX];
	char	st[16];
	const char *q;

	if (r->addr[0] == 0)
		fb_strlcpy(r->addr, orig, sizeof(r->addr));
	dsn_paragraph(m->text, r->addr, para, sizeof(para));
	if (r->diag[0] == 0 || (strlen(r->diag) < 8 && para[0]))
		fb_strlcpy(r->diag, para, sizeof(r->diag));
	if (r->command[0] == 0)
		fb_text_find_command(r->diag, r->command);
	if (r->command[0] == 0 && para[0])
		fb_text_find_command(para, r->command);
	if (r->command[0] == 0)
		transcript_command(m->text, r->command);
	if (r->reply_code[0] == 0)
		fb_text_find_reply(r->diag, r->reply_code);
	if (r->status[0] == 0 && fb_text_find_status(r->diag, st))
		fb_strlcpy(r->status, st, sizeof(r->status));
	else if ((q = quoted_status(r->diag, st)) != NULL && st[0] == r->status[0]
		 && strcmp(st, r->status) != 0) {
		/* the remote server's own words, not the relay's summary of them */
		fb_strlcpy(r->status, st, sizeof(r->status));
		memmove(r->diag, q, strlen(q) + 1);
	}
	else if (strlen(r->status) == 5 && strcmp(r->status + 1, ".0.0") == 0
		 && fb_text_find_status(r->diag, st) && st[0] == r->status[0])
		fb_strlcpy(r->status, st, sizeof(r->status));
	else if (fb_text_find_status(r->diag, st) && st[0] == r->status[0] && specific(st))
		/* the server's reply names a precise code: it wins over the DSN's */
		fb_strlcpy(r->status, st, sizeof(r->status));
	else if (r->status[0] == '4' && strcmp(r->action, "failed") == 0 && r->reply_code[0] == '5'
		 && fb_text_find_status(r->diag, st) && st[0] == '5')
		/* a 4.x.x Status contradicts its own "failed" and the 5xx reply */
		fb_strlcpy(r->status, st, sizeof(r->status));
}

/* dsn_drop_empty - remove records (from index first on) that name nobody */
static int
dsn_drop_empty(fb_result *res, size_t first)
{
	size_t	i, o = first;
	int	dropped = 0;

	for (i = first; i < res->nrcpt; i++) {
		if (res->rcpt[i].addr[0] == 0) {
			dropped++;
			continue;
		}
		if (o != i)
			res->rcpt[o] = res->rcpt[i];
		o++;
	}
	res->nrcpt = o;
	return dropped;
}

/* is_rcpt_field - does this field name a recipient? */
static int
is_rcpt_field(const dsn_field *f)
{
	return strcasecmp(f->name, "Final-Recipient") == 0
	    || strcasecmp(f->name, "Original-Recipient") == 0;
}

/*
 * dsn_block - the records of one blank-line separated block. Fields may
 * come in any order; a block naming several Final-Recipients (a broken
 * DSN) starts a record at each.
 */
static void
dsn_block(const fb_mail *m, const dsn_field *f, size_t nf, fb_result *res)
{
	size_t	i, finals = 0;
	fb_rcpt *r = NULL;
	char	orig[FB_ADDR_MAX] = "";

	for (i = 0; i < nf; i++)
		finals += strcasecmp(f[i].name, "Final-Recipient") == 0;
	for (i = 0; i < nf; i++) {
		if (r == NULL && !is_rcpt_field(&f[i]) && finals <= 1)
			continue;
		if (r == NULL || (finals > 1 && r->addr[0]
				  && strcasecmp(f[i].name, "Final-Recipient") == 0)) {
			if (r != NULL)
				dsn_finish(m, r, orig);
			if (res->nrcpt >= FB_MAX_RCPTS)
				return;
			r = fb_result_add(res);
			orig[0] = 0;
		}
		dsn_apply(&f[i], r, orig, sizeof(orig));
	}
	if (r == NULL)
		return;
	if (finals <= 1)		/* fields before the recipient belong to it too */
		for (i = 0; i < nf && !is_rcpt_field(&f[i]); i++)
			dsn_apply(&f[i], r, orig, sizeof(orig));
	dsn_finish(m, r, orig);
}

/* fb_dsn_parse - one record per per-recipient block of the DSN */
int
fb_dsn_parse(const fb_mail *m, fb_result *res)
{
	return fb_dsn_parse_text(m, m->dsn, res);
}

/* fb_dsn_in_text - where DSN fields start in free text (a forwarded DSN), or NULL */
const char *
fb_dsn_in_text(const char *text)
{
	const char *p = fb_strcasestr(text, "\nReporting-MTA:");

	if (p == NULL)
		p = fb_strcasestr(text, "\nFinal-Recipient:");
	if (p == NULL || fb_strcasestr(p, "\nStatus:") == NULL)
		return NULL;
	return p + 1;
}

/* fb_dsn_parse_text - the per-recipient blocks of DSN fields in dsn */
int
fb_dsn_parse_text(const fb_mail *m, const char *dsn, fb_result *res)
{
	const char *p = dsn;
	dsn_field *f = sl_malloc(DSN_BLOCK_FIELDS * sizeof(*f));
	size_t	nf = 0, n, before = res->nrcpt;
	int	blank;

	for (;;) {
		n = dsn_next_field(p, &f[nf], &blank);
		p += n;
		if (n == 0 || blank) {
			dsn_block(m, f, nf, res);
			nf = 0;
			if (n == 0)
				break;
			continue;
		}
		if (f[nf].name[0] && nf + 1 == DSN_BLOCK_FIELDS && is_rcpt_field(&f[nf])) {
			/* a full block meets one more recipient: keep it, in a new block */
			dsn_block(m, f, nf, res);
			f[0] = f[nf];
			nf = 0;
		}
		if (f[nf].name[0] && nf + 1 < DSN_BLOCK_FIELDS)
			nf++;
	}
	free(f);
	return (int) (res->nrcpt - before) - dsn_drop_empty(res, before);
}

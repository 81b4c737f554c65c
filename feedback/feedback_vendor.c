/*
 * NAME
 *	feedback_vendor 3 - bounces without a delivery-status part
 * SYNOPSIS
 *	n = fb_vendor_parse(mail, res);	records added, 0 when none
 * DESCRIPTION
 *	Many MTAs and providers (qmail, Exim, old Sendmail, Gmail, Yahoo,
 *	Exchange, Japanese mobile carriers, mailing-list hosts, ...) write
 *	their bounces as free text. Their text has the same shape: an
 *	introduction, then per recipient a line that names the address
 *	followed by the remote server's reply, then a copy of the original
 *	message. The vendor table below lists, per format, the phrases
 *	that say "this is a bounce" (used to tell a bounce from other
 *	mail) and the markers where the returned copy starts. Between the
 *	start of the text and the first such marker, a line that is
 *	mostly an address starts a recipient record and the lines up to
 *	the next one are its diagnostic. When no line names a recipient,
 *	the To: of the returned original is used.
 * LIMITS
 *	Lines are looked at up to FB_MAX_TEXT bytes; at most FB_MAX_RCPTS
 *	records.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "feedback.h"

/* One known format: how to tell it is a bounce. */
typedef struct vendor_fmt {
	const char *name;
	const char *const *says;	/* any phrase: this text is a bounce */
} vendor_fmt;

#define V(...) (const char *const []){ __VA_ARGS__, NULL }

static const vendor_fmt vendor_tab[] = {
	{ .name = "Postfix", .says = V("this is the mail system at host",
	    "i'm sorry to have to inform you that your message could not") },
	{ .name = "qmail", .says = V("this is the qmail-send program",
	    "i wasn't able to deliver your message", "this is a permanent error; i've given up") },
	{ .name = "Exim", .says = V("this message was created automatically by mail delivery software",
	    "the following address(es) failed", "could not be delivered to one or more of its",
	    "recipient addresses that were incorrectly constructed") },
	{ .name = "Sendmail", .says = V("transcript of session follows",
	    "the following addresses had permanent fatal errors", "----- unsent message follows -----",
	    "the original message was received at") },
	{ .name = "Gmail", .says = V("delivery to the following recipient failed",
	    "delivery to the following recipients failed", "technical details of permanent failure",
	    "the response from the remote server was", "address not found") },
	{ .name = "Google Groups", .says = V("google groups", "couldn't be delivered to") },
	{ .name = "Yahoo", .says = V("sorry, we were unable to deliver your message",
	    "unable to deliver message to the following address") },
	{ .name = "Exchange/Office 365", .says = V("your message did not reach some or all of the intended recipients",
	    "delivery has failed to these recipients or groups", "the following recipient(s) cannot be reached",
	    "your message couldn't be delivered", "delivery has failed to these recipients") },
	{ .name = "Domino/Notes", .says = V("your message was not delivered to", "was not delivered to:") },
	{ .name = "mail.ru/Yandex", .says = V("message was not delivered", "this is the mail delivery agent at",
	    "message could not be delivered") },
	{ .name = "Japanese carriers", .says = V("送信できませんでした", "届きませんでした",
	    "宛先", "配信できませんでした", "the user(s) account is disabled", "could not be delivered to the following") },
	{ .name = "generic", .says = V("undeliverable", "delivery failure", "delivery status notification",
	    "mail delivery failed", "returned mail", "failure notice", "could not be delivered",
	    "permanent error", "delivery failed", "message not delivered", "was not delivered",
	    "non-delivery", "unable to deliver", "undelivered mail") },
};

/* Where the returned copy of the original starts. */
static const char *const vendor_stop[] = {
	"--- below this line is a copy of the message",
	"------ this is a copy of the message",
	"----- original message -----",
	"------ original message ------",
	"-----original message-----",
	"original message follows",
	"--- original message follows",
	"----- unsent message follows -----",
	"----- message header follows -----",
	"------- returned message --------",
	"--- the header of the original message is following",
	"original message header:",
	"content-type: message/rfc822",
	"------ forwarded message",
	"----- the following is a copy of the message",
	"the original message headers are included",
	"\nreturn-path: <",
	"\nreceived: from ",
	"\nreceived:from ",
	"original message:",
	"original message headers:",
	"\nreceived: by ",
	NULL,
};

/* vendor_says - does the text read like a bounce? the format name or NULL */
static const char *
vendor_says(const char *s)
{
	size_t	i, j;

	for (i = 0; i < sizeof(vendor_tab) / sizeof(vendor_tab[0]); i++)
		for (j = 0; vendor_tab[i].says[j]; j++)
			if (fb_strcasestr(s, vendor_tab[i].says[j]) != NULL)
				return vendor_tab[i].name;
	return NULL;
}

/* vendor_cut - length of the text before the returned original */
static size_t
vendor_cut(const char *s)
{
	size_t	best = strlen(s), i;
	const char *p;

	for (i = 0; vendor_stop[i]; i++)
		if ((p = fb_strcasestr(s, vendor_stop[i])) != NULL && (size_t) (p - s) < best
		    && p - s > 16)
			best = p - s;
	return best;
}

/* is_sender_line - a line naming the sender, not a recipient */
static int
is_sender_line(const char *l)
{
	static const char *const pfx[] = { ">>> mail from", "mail from:", "from:",
	    "return-path:", "sender:", "reply-to:", "envelope-from", "x-", "received:",
	    "message-id:", "date:", NULL };
	size_t	i;

	while (*l == ' ' || *l == '\t')
		l++;
	for (i = 0; pfx[i]; i++)
		if (strncasecmp(l, pfx[i], strlen(pfx[i])) == 0)
			return 1;
	return 0;
}

/* vendor_unbullet - blank out list bullets and a leading reply code */
static void
vendor_unbullet(char *line)
{
	char   *p = line + strspn(line, " \t");

	while (*p == '*' || *p == '-' || *p == '#' || (unsigned char) *p == 0xe2) {
		if ((unsigned char) *p == 0xe2 && (unsigned char) p[1] == 0x80
		    && (unsigned char) p[2] == 0xa2) {	/* U+2022 bullet */
			memset(p, ' ', 3);
			p += 3;
		} else if ((unsigned char) *p == 0xe2)
			break;
		else
			*p++ = ' ';
		p += strspn(p, " \t");
	}
	/* sendmail v5: "554 <addr>... 550 Host unknown" */
	if (isdigit((unsigned char) p[0]) && isdigit((unsigned char) p[1])
	    && isdigit((unsigned char) p[2]) && p[3] == ' ' && p[4] == '<')
		memset(p, ' ', 3);
}

/* is_rcpt_line - is this line mostly one address (a recipient heading)? */
static int
is_rcpt_line(const char *l, size_t n, char *addr, size_t addrlen, int weak)
{
	char	line[1024], rest[1024];
	char   *at, *a, *b;
	size_t	words = 0, i;

	if (n >= sizeof(line) || n == 0)
		return 0;
	memcpy(line, l, n);
	line[n] = 0;
	vendor_unbullet(line);
	if (is_sender_line(line) || !fb_text_find_addr(line, addr, addrlen))
		return 0;
	at = (char *) fb_strcasestr(line, addr);
	a = at;
	b = at + strlen(addr);
	/*
	 * "phrase <addr-spec>" (RFC 5322 3.4): the address is the bracketed
	 * one, even when the phrase looks like an address (Exim's notice of
	 * an incorrectly constructed recipient: "a@x <b@y>: malformed address");
	 * a stays at the phrase, which is part of the heading, not words before it
	 */
	if (*b == ' ' && b[1] == '<' && strchr(b + 2, '>') != NULL) {
		char	inner[FB_ADDR_MAX];
		size_t	il = (size_t) (strchr(b + 2, '>') - (b + 2));

		if (il < sizeof(inner)) {
			memcpy(inner, b + 2, il);
			inner[il] = 0;
			if (fb_text_find_addr(inner, addr, addrlen) && strlen(addr) == il) {
				at = b + 2;
				b = at + il;
			}
		}
	}
	if (a > line && (a[-1] == '<' || a[-1] == '(' || a[-1] == '"'))
		a--;
	if (*b == '>' || *b == ')' || *b == '"')
		b++;
	snprintf(rest, sizeof(rest), "%.*s", (int) (a - line), line);
	/* before the address: nothing, or a short label ending in ':' */
	for (i = 0; rest[i]; i++)
		if (!isspace((unsigned char) rest[i]) && (i == 0 || isspace((unsigned char) rest[i - 1])))
			words++;
	if (!weak && words > 0 && (strncasecmp(rest, "to:", 3) == 0
				   || fb_strcasestr(rest, " to:") != NULL))
		return 0;
	/*
	 * Exim names a pipe, file or autoreply delivery by its command or
	 * path ("save to /var/mail/x", "pipe to |cmd") and the address it
	 * was made for on the next line, "generated by <addr>"
	 */
	if (words == 2 && strcasecmp(rest + strspn(rest, " \t"), "generated by ") == 0)
		return 1;
	if (words > 0) {
		char   *e = rest + strlen(rest);

		while (e > rest && isspace((unsigned char) e[-1]))
			e--;
		if (e == rest || (e[-1] != ':' && e[-1] != ';') || words > 4)
			return 0;
	}
	/* after the address: nothing, punctuation, or "...", ":" then text */
	while (*b == ' ' || *b == '\t')
		b++;
	if (*b == 0 || *b == ':' || *b == ',' || strncmp(b, "...", 3) == 0)
		return 1;
	if (*b == '(' || *b == '[' || strncmp(b, "on ", 3) == 0)
		return 1;
	/* an address opening the line, then its error text */
	return words == 0 && a == line + strspn(line, " \t") && b > at + strlen(addr) - 1
	    && isalpha((unsigned char) *b) && !weak;
}

/* A recipient heading found in the text. */
typedef struct vendor_hit {
	char	addr[FB_ADDR_MAX];
	size_t	off;			/* line start */
	size_t	body;			/* after the line */
} vendor_hit;

/*
 * A few addresses that are never a recipient: the bounce's own From
 * (mailer-daemon, postmaster: always, the first "keep" entries) and the
 * sender of the original (dropped again for a bounce to oneself).
 */
typedef struct vendor_senders {
	char	addr[5][FB_ADDR_MAX];
	int	n;
	int	keep;
} vendor_senders;

/* senders_add - remember the address of a header-like "Name: value" in s */
static void
senders_add(vendor_senders *vs, const char *s, const char *name)
{
	const char *p = s;
	size_t	nl = strlen(name);

	while (p && *p && vs->n < 5) {
		if (strncasecmp(p, name, nl) == 0) {
			char	line[512];
			const char *eol = strchr(p, '\n');
			size_t	len = eol ? (size_t) (eol - p) : strlen(p);

			snprintf(line, sizeof(line), "%.*s", (int) len, p + nl);
			if (fb_text_find_addr(line, vs->addr[vs->n], FB_ADDR_MAX))
				vs->n++;
			return;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
}

/* is_sender - is addr one of the original's senders? */
static int
is_sender(const vendor_senders *vs, const char *addr)
{
	int	i;

	for (i = 0; i < vs->n; i++)
		if (strcasecmp(vs->addr[i], addr) == 0)
			return 1;
	return 0;
}

/* vendor_scan - find recipient headings in s[0..n) */
static size_t
vendor_scan(const char *s, size_t n, vendor_hit *hits, size_t max, int weak,
	    const vendor_senders *vs)
{
	size_t	off = 0, nh = 0, i;

	while (off < n && nh < max) {
		const char *eol = memchr(s + off, '\n', n - off);
		size_t	len = eol ? (size_t) (eol - (s + off)) : n - off;
		char	addr[FB_ADDR_MAX];

		if (is_rcpt_line(s + off, len, addr, sizeof(addr), weak) && !is_sender(vs, addr)) {
			for (i = 0; i < nh; i++)
				if (strcasecmp(hits[i].addr, addr) == 0)
					break;
			if (i == nh) {
				fb_strlcpy(hits[nh].addr, addr, sizeof(hits[nh].addr));
				hits[nh].off = off;
				hits[nh].body = off + len;
				nh++;
			}
		}
		off += len + 1;
	}
	return nh;
}

/* vendor_orig_to - the To: of the returned original message */
static int
vendor_orig_to(const fb_mail *m, char *out, size_t outlen)
{
	const char *p = m->orig;
	const char *text_to;

	while (p && *p) {
		if (strncasecmp(p, "To:", 3) == 0)
			return fb_text_find_addr(p + 3, out, outlen);
		if (*p == '\n')
			break;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	/* an inline copy in the text */
	text_to = fb_strcasestr(m->text, "\nTo:");
	if (text_to != NULL) {
		char	line[512];
		const char *eol = strchr(text_to + 1, '\n');
		size_t	len = eol ? (size_t) (eol - text_to) : strlen(text_to);

		snprintf(line, sizeof(line), "%.*s", (int) len, text_to + 4);
		return fb_text_find_addr(line, out, outlen);
	}
	return 0;
}

/* vendor_fill - set a record from its address and diagnostic text */
static void
vendor_fill(fb_rcpt *r, const char *addr, const char *diag, size_t dlen)
{
	memset(r, 0, sizeof(*r));
	fb_strlcpy(r->addr, addr, sizeof(r->addr));
	fb_text_squeeze(r->diag, sizeof(r->diag), diag, dlen);
	fb_text_find_command(r->diag, r->command);
	fb_text_find_status(r->diag, r->status);
	fb_text_find_reply(r->diag, r->reply_code);
	fb_strlcpy(r->action, "failed", sizeof(r->action));
}

/* vendor_record - one record with its diagnostic text */
static void
vendor_record(fb_result *res, const char *addr, const char *diag, size_t dlen)
{
	if (res->nrcpt < FB_MAX_RCPTS)
		vendor_fill(fb_result_add(res), addr, diag, dlen);
}

/* vendor_says_nothing - does a record's diagnostic name no code and no reason? */
static int
vendor_says_nothing(const fb_rcpt *r)
{
	return !r->status[0] && !r->reply_code[0] && fb_reason_from_text(r->diag) == NULL;
}

/*
 * vendor_failed_header - one record per address of X-Failed-Recipients
 * (Exim adds it to every bounce it writes, and others copy it), with
 * the whole error section as diagnostic; the number added
 */
static int
vendor_failed_header(const fb_mail *m, fb_result *res, const char *s, size_t n)
{
	const char *h = fb_mail_header(m, "X-Failed-Recipients");
	char	addr[FB_ADDR_MAX];
	int	added = 0;

	while (h != NULL && *h && fb_text_find_addr(h, addr, sizeof(addr))) {
		const char *at = fb_strcasestr(h, addr);

		vendor_record(res, addr, s, n);
		added++;
		if (at == NULL)
			break;
		h = at + strlen(addr);
	}
	return added;
}

/* transcript_reply - the first 4xx/5xx reply line of a session transcript, or NULL */
static const char *
transcript_reply(const char *s, size_t n, size_t *len)
{
	static const char *const mark[] = { "\n Out: ", "\n<<< ", NULL };
	const char *best = NULL, *p, *eol;
	size_t	i;

	for (i = 0; mark[i]; i++)
		for (p = s; (p = strstr(p, mark[i])) != NULL && (size_t) (p - s) < n; p++) {
			const char *c = p + strlen(mark[i]);

			/* Postfix's smtpd notices are about a session it received:
			 * only its own temporary errors (resource, software) */
			if ((c[0] == '4' || (c[0] == '5' && i > 0)) && isdigit((unsigned char) c[1])
			    && isdigit((unsigned char) c[2])) {
				if (best == NULL || c < best)
					best = c;
				break;
			}
		}
	if (best == NULL)
		return NULL;
	eol = strchr(best, '\n');
	*len = eol ? (size_t) (eol - best) : strlen(best);
	return best;
}

/*
 * vendor_transcript - a session transcript with nobody named otherwise
 * (Postfix's notices "Transcript of session follows" with " In:" and
 * " Out:" lines, Sendmail's ">>>" and "<<<"): one record per address of
 * a RCPT TO command (the first four), with the first error reply as
 * diagnostic
 */
static void
vendor_transcript(fb_result *res, const char *s, size_t n)
{
	const char *p, *reply;
	char	addr[FB_ADDR_MAX], seen[4][FB_ADDR_MAX];
	size_t	len = 0, ns = 0, i;

	if ((reply = transcript_reply(s, n, &len)) == NULL)
		return;
	for (p = s; (p = fb_strcasestr(p, "RCPT TO:<")) != NULL && (size_t) (p - s) < n; p += 9) {
		const char *gt = strchr(p + 9, '>');
		char	one[FB_ADDR_MAX];

		if (gt == NULL || (size_t) (gt - p - 9) >= sizeof(one))
			continue;
		memcpy(one, p + 9, gt - p - 9);
		one[gt - p - 9] = 0;
		if (!fb_text_find_addr(one, addr, sizeof(addr)))
			continue;
		for (i = 0; i < ns && strcasecmp(seen[i], addr) != 0; i++)
			;
		if (i < ns || ns == 4)
			continue;
		if (res->nrcpt >= FB_MAX_RCPTS)
			break;
		fb_strlcpy(seen[ns++], addr, FB_ADDR_MAX);
		vendor_record(res, addr, reply, len);
		/* a notice of one session, not an MTA that gave up on a queue */
		res->rcpt[res->nrcpt - 1].action[0] = 0;
	}
}

/*
 * vendor_lone_addr - the one address of s[0..n) that is no sender's, when
 * there is exactly one (a notice that names its recipient only inside a
 * sentence: "The following message to <a@example.org> was undeliverable")
 */
static int
vendor_lone_addr(const char *s, size_t n, const vendor_senders *vs, char *out, size_t outlen)
{
	char	one[FB_ADDR_MAX], line[1024];
	size_t	off = 0;
	int	found = 0;

	while (off < n) {
		const char *eol = memchr(s + off, '\n', n - off);
		size_t	len = eol ? (size_t) (eol - (s + off)) : n - off;
		const char *p = line;

		snprintf(line, sizeof(line), "%.*s", (int) len, s + off);
		while (!is_sender_line(line) && fb_text_find_addr(p, one, sizeof(one))) {
			const char *at = fb_strcasestr(p, one);

			if (!is_sender(vs, one)) {
				if (found && strcasecmp(out, one) != 0)
					return 0;
				fb_strlcpy(out, one, outlen);
				found = 1;
			}
			if (at == NULL)
				break;
			p = at + strlen(one);
		}
		off += len + 1;
	}
	return found;
}

/* fb_vendor_parse - records from a free-text bounce */
int
fb_vendor_parse(const fb_mail *m, fb_result *res)
{
	vendor_hit *hits;
	const char *s = m->text;
	size_t	n = vendor_cut(s), nh, i, before = res->nrcpt;
	char	addr[FB_ADDR_MAX];
	vendor_senders vs = { .n = 0 }, all;
	const char *to = fb_mail_header(m, "To");
	const char *from = fb_mail_header(m, "From");

	if (from != NULL && fb_text_find_addr(from, vs.addr[vs.n], FB_ADDR_MAX))
		vs.n++;
	vs.keep = vs.n;
	if (to != NULL && fb_text_find_addr(to, vs.addr[vs.n], FB_ADDR_MAX))
		vs.n++;
	senders_add(&vs, s + n, "Return-path:");
	senders_add(&vs, m->orig, "Return-path:");
	all = vs;
	hits = sl_calloc(FB_MAX_RCPTS, sizeof(*hits));
	nh = vendor_scan(s, n, hits, FB_MAX_RCPTS, 0, &vs);
	if (nh == 0) {			/* a bounce to oneself names the sender */
		vs.n = vs.keep;
		nh = vendor_scan(s, n, hits, FB_MAX_RCPTS, 0, &vs);
	}
	if (nh == 0)
		nh = vendor_scan(s, n, hits, FB_MAX_RCPTS, 1, &vs);
	for (i = 0; i < nh; i++) {
		size_t	end = i + 1 < nh ? hits[i + 1].off : n;
		size_t	from = hits[i].off;

		/* a list of bare addresses first, reasons after: share the tail */
		if (end - hits[i].body < 4 && i + 1 < nh)
			end = n;
		vendor_record(res, hits[i].addr, s + from, end - from);
		/*
		 * One recipient listed after the reason (MailMarshal: "Could
		 * not be delivered because of <reply>", then "The following
		 * recipients were affected"): when its own lines name no
		 * code and no reason, the whole notice is its diagnostic
		 */
		if (nh == 1 && res->nrcpt > before && vendor_says_nothing(&res->rcpt[res->nrcpt - 1]))
			vendor_fill(&res->rcpt[res->nrcpt - 1], hits[i].addr, s, n);
	}
	/* nobody named in the text: the original's To, else X-Failed-Recipients */
	if (nh == 0 && vendor_orig_to(m, addr, sizeof(addr)))
		vendor_record(res, addr, s, n);
	else if (nh == 0 && vendor_failed_header(m, res, s, n) == 0)
		vendor_transcript(res, s, n);
	if (res->nrcpt == before && vendor_lone_addr(s, n, &all, addr, sizeof(addr)))
		vendor_record(res, addr, s, n);
	free(hits);
	return (int) (res->nrcpt - before);
}

/*
 * What some senders mean, whatever their words: a rule applies when the
 * mail (From, Subject, headers' vendor marks or text) has "where" and the
 * recipient's diagnostic has "what" (NULL: anything).
 */
static const struct vendor_reason {
	const char *where;
	const char *what;
	const char *reason;
} vendor_reason_tab[] = {
	{ "googlegroups.com", NULL, "rejected" },	/* not a member / no such group */
	{ "'send mail as'", NULL, "rejected" },		/* Google Workspace alias misconfigured */
	{ "mcafee", "unknown user", "filtered" },	/* appliance filter, not the mailbox */
	{ "surfcontrol", "no such user", "filtered" },
	{ "---the following addresses had delivery errors---", "user unknown", "filtered" },
	{ "domino directory", NULL, "userunknown" },
	{ "the recipient name is not recognized", NULL, "userunknown" },
	{ "unknown user:", NULL, "userunknown" },	/* IMail */
	{ "ezweb.ne.jp", "was rejected by a remote mail server", "filtered" },
	{ "the user(s) account is disabled", NULL, "suspend" },	/* au EZweb's own notice */
	{ "interscan messaging security suite", "check if address is correct", "userunknown" },
	{ "could not be delivered to mobile", "no valid recipients for this mm", "userunknown" },	/* Verizon MMS */
};

/* vendor_where - does the mail carry the mark? */
static int
vendor_where(const fb_mail *m, const char *mark)
{
	size_t	i;

	if (fb_strcasestr(m->text, mark) != NULL)
		return 1;
	for (i = 0; i < m->nhdr; i++)
		if (strcasecmp(m->hdr[i].name, "Received") != 0
		    && fb_strcasestr(m->hdr[i].value, mark) != NULL)
			return 1;
	return 0;
}

/* fb_vendor_reason - a sender-specific reason for one record, if any */
void
fb_vendor_reason(const fb_mail *m, fb_rcpt *r)
{
	size_t	i;

	for (i = 0; i < sizeof(vendor_reason_tab) / sizeof(vendor_reason_tab[0]); i++) {
		const struct vendor_reason *v = &vendor_reason_tab[i];

		if ((v->what == NULL || fb_strcasestr(r->diag, v->what) != NULL)
		    && vendor_where(m, v->where)) {
			fb_strlcpy(r->reason, v->reason, sizeof(r->reason));
			return;
		}
	}
}

/* fb_vendor_format - the format whose phrases the mail has, or NULL */
const char *
fb_vendor_format(const fb_mail *m)
{
	const char *subj = fb_mail_header(m, "Subject");
	const char *v = vendor_says(m->text);

	if (v == NULL && subj != NULL)
		v = vendor_says(subj);
	return v;
}

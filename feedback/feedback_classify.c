/*
 * NAME
 *	feedback_classify 3 - bytes in, fb_result out
 * SYNOPSIS
 *	fb_result *res = fb_classify(buf, len, name);
 * DESCRIPTION
 *	Decides what one input is and calls the parser for it, in this
 *	order: a bare DMARC report (XML, gzip, zip); then, for a mail, an
 *	ARF complaint, an RFC 3464 DSN, an attached DMARC report, a
 *	free-text bounce (feedback_vendor.c), an unsubscribe request, an
 *	auto-reply. Every bounce record is then classified
 *	(feedback_reason.c). Anything else is kind unknown with a reason in
 *	res->why. Never fails: the result is always returned.
 *
 *	fb_classify_cut() reads the first FB_MAX_INPUT bytes of a larger
 *	input: the result stands when the part it comes from was read whole
 *	(a DSN's delivery-status part, an ARF report, which come before the
 *	returned original; an unsubscribe or auto-reply, from the headers;
 *	a DMARC report that parsed, since a cut one cannot). Otherwise
 *	res->defer says why the message must be deferred: nothing is acted
 *	on and sluice-feedback exits 75. The same holds, whole input or not,
 *	for a delivery-status or feedback-report part cut at FB_MAX_DSN and
 *	for FB_MAX_RCPTS records or more.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "token.h"
#include "feedback.h"

#define MiB(n) ((unsigned)((n) >> 20))

/* from_daemon - is the mail from a mailer daemon or postmaster? */
static int
from_daemon(const fb_mail *m)
{
	const char *from = fb_mail_header(m, "From");

	if (from == NULL)
		return 1;		/* bounces are often sent with an empty From */
	return fb_strcasestr(from, "mailer-daemon") != NULL
	    || fb_strcasestr(from, "postmaster") != NULL
	    || fb_strcasestr(from, "mail delivery") != NULL
	    || fb_strcasestr(from, "maildelivery") != NULL;
}

/* unsub_detect - a mailto unsubscribe request (u2-/u1- token address or subject) */
static int
unsub_detect(const fb_mail *m, fb_result *res)
{
	const char *to = fb_mail_header(m, "To");
	const char *subj = fb_mail_header(m, "Subject");
	const char *from = fb_mail_header(m, "From");
	char	addr[FB_ADDR_MAX] = "";
	fb_rcpt *r;

	if (to != NULL)
		fb_text_find_addr(to, addr, sizeof(addr));
	if (!(sl_token_prefix(addr) > 0 && (addr[0] == 'u' || addr[0] == 'U'))
	    && (subj == NULL || strncasecmp(subj, "unsubscribe", 11) != 0))
		return 0;
	res->kind = FB_KIND_UNSUBSCRIBE;
	r = fb_result_add(res);
	if (from != NULL)
		fb_text_find_addr(from, r->addr, sizeof(r->addr));
	fb_strlcpy(r->reason, "unsubscribe", sizeof(r->reason));
	return 1;
}

/* classify_records - the reason of every bounce record */
static void
classify_records(const fb_mail *m, fb_result *res)
{
	size_t	i;

	if (res->nrcpt >= FB_MAX_RCPTS)
		return; /* deferred anyway (fb_classify_cut): spare the work */
	for (i = 0; i < res->nrcpt; i++) {
		if (res->kind == FB_KIND_COMPLAINT)
			continue;
		fb_vendor_reason(m, &res->rcpt[i]);
		if (res->rcpt[i].reason[0] == 0)
			fb_vendor_rhost(m, &res->rcpt[i]);
		fb_reason_classify(&res->rcpt[i]);
	}
}

/*
 * vague_drop - free text that names an address but no status, no reply
 * code and no known reason is no bounce we can act on: 0, records dropped.
 */
static int
vague_drop(fb_result *res)
{
	size_t	i;

	for (i = 0; i < res->nrcpt; i++) {
		const fb_rcpt *r = &res->rcpt[i];

		if (r->status[0] || r->reply_code[0] || (strcmp(r->reason, "onhold") != 0
							  && strcmp(r->reason, "undefined") != 0))
			return 1;
	}
	res->nrcpt = 0;
	res->kind = FB_KIND_UNKNOWN;
	return 0;
}

/* classify_bounce - DSN or free text; 1 when records were found */
static int
classify_bounce(const fb_mail *m, fb_result *res)
{

	const char *fwd;

	if (m->dsn[0] == 0 || fb_dsn_parse(m, res) == 0) {
		if (!from_daemon(m) && fb_vendor_format(m) == NULL)
			return 0;
		fwd = fb_dsn_in_text(m->text);
		if (fwd == NULL || fb_dsn_parse_text(m, fwd, res) == 0) {
			if (fb_vendor_parse(m, res) == 0)
				return 0;
			res->kind = FB_KIND_BOUNCE;
			classify_records(m, res);
			return fb_vendor_format(m) != NULL || vague_drop(res);
		}
	}
	res->kind = FB_KIND_BOUNCE;
	classify_records(m, res);
	return 1;
}

/* find_token - the first token address (b2x-, u2x-, b1-, u1-) in s, if any */
static void
find_token(const char *s, char *out, size_t outlen)
{
	const char *p;

	for (p = s; p && *p; p++) {
		if (sl_token_prefix(p) == 0 || (p > s && !strchr("<: \t\n\"'=", p[-1])))
			continue;
		if (fb_text_find_addr(p, out, outlen) && strncasecmp(out, p, (size_t) sl_token_prefix(p)) == 0)
			return;
	}
	out[0] = 0;
}

/* cut_part - the FB_CUT_* bit of the part a result of this kind comes from; 0: headers */
static int
cut_part(const fb_mail *m, const fb_result *res)
{
	switch (res->kind) {
	case FB_KIND_BOUNCE:
		return m->dsn[0] ? FB_CUT_DSN : FB_CUT_TEXT;
	case FB_KIND_COMPLAINT:
		return FB_CUT_FEEDBACK;
	case FB_KIND_UNSUBSCRIBE:
	case FB_KIND_AUTOREPLY:
	case FB_KIND_DMARC: /* a report that parsed was whole */
		return 0;
	default:
		return -1;
	}
}

/* cut_judge - set res->defer when the records may be incomplete */
static void
cut_judge(const fb_mail *m, fb_result *res, int cut)
{
	int part = cut_part(m, res);

	if (part > 0 && (m->cut & part & (FB_CUT_DSN | FB_CUT_FEEDBACK)))
		snprintf(res->defer, sizeof(res->defer), "%s part larger than %u MB",
		         part == FB_CUT_DSN ? "delivery-status" : "feedback-report",
		         MiB(FB_MAX_DSN));
	else if (cut && part < 0)
		snprintf(res->defer, sizeof(res->defer),
		         "message larger than %u MB and not recognised from its first %u MB",
		         MiB(FB_MAX_INPUT), MiB(FB_MAX_INPUT));
	else if (cut && part > 0 && m->last == part)
		snprintf(res->defer, sizeof(res->defer),
		         "message larger than %u MB, cut inside its %s part", MiB(FB_MAX_INPUT),
		         part == FB_CUT_DSN    ? "delivery-status"
		         : part == FB_CUT_TEXT ? "text"
		                               : "feedback-report");
}

/* classify_mail - everything that arrives as a mail */
static void
classify_mail(const char *buf, size_t len, fb_result *res, int cut)
{
	fb_mail *m = fb_mail_parse(buf, len, res->why, sizeof(res->why));
	int	rc;

	if (m == NULL) {
		if (cut)
			snprintf(res->defer, sizeof(res->defer),
			         "message larger than %u MB and not a MIME message",
			         MiB(FB_MAX_INPUT));
		return;
	}
	find_token(m->orig, res->orig_token, sizeof(res->orig_token));
	if (res->orig_token[0] == 0)
		find_token(m->feedback, res->orig_token, sizeof(res->orig_token));
	if (fb_arf_parse(m, res))
		goto done;
	if (m->dsn[0] && classify_bounce(m, res))
		goto done;
	if ((rc = fb_dmarc_from_mail(m, res)) != 0) {
		if (rc < 0)
			res->kind = FB_KIND_UNKNOWN;
		goto done;
	}
	if ((rc = fb_vendor_ses(m, res)) != 0) {
		if (rc < 0)
			res->kind = FB_KIND_UNKNOWN;	/* res->why: what jansson refused */
		else
			classify_records(m, res);
		goto done;
	}
	if (unsub_detect(m, res))
		goto done;
	if ((from_daemon(m) || fb_vendor_format(m) != NULL) && classify_bounce(m, res))
		goto done;
	if (!from_daemon(m) && fb_autoreply_detect(m, res))
		goto done;
	fb_strlcpy(res->why, "not a bounce, complaint, report or auto-reply", sizeof(res->why));
done:
	cut_judge(m, res, cut);
	fb_mail_free(m);
}

/* classify_any - a bare report or a mail */
static void
classify_any(const char *buf, size_t len, const char *name, fb_result *res, int cut)
{
	if (len == 0) {
		fb_strlcpy(res->why, "empty input", sizeof(res->why));
		return;
	}
	if (len > FB_MAX_INPUT) {
		fb_strlcpy(res->why, "input larger than the size limit", sizeof(res->why));
		fb_strlcpy(res->defer, res->why, sizeof(res->defer));
		return;
	}
	if (!fb_mime_is_mail(buf, len)) {
		if (fb_dmarc_parse_buf((const unsigned char *)buf, len, name, res) < 0) {
			res->kind = FB_KIND_UNKNOWN;
			if (cut)
				snprintf(res->defer, sizeof(res->defer), "report larger than %u MB",
				         MiB(FB_MAX_INPUT));
		}
		return;
	}
	classify_mail(buf, len, res, cut);
}

/* fb_classify_cut - what one input is; cut: buf holds only its first FB_MAX_INPUT bytes */
fb_result *
fb_classify_cut(const char *buf, size_t len, const char *name, int cut)
{
	fb_result *res = fb_result_new();

	classify_any(buf, len, name, res, cut);
	if (res->nrcpt >= FB_MAX_RCPTS && res->defer[0] == 0)
		snprintf(res->defer, sizeof(res->defer), "%d recipient records or more",
		         FB_MAX_RCPTS);
	fb_result_sanitize(res);
	return res;
}

/* fb_classify - what one whole input is */
fb_result *
fb_classify(const char *buf, size_t len, const char *name)
{
	return fb_classify_cut(buf, len, name, 0);
}

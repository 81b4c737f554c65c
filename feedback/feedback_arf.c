/*
 * NAME
 *	feedback_arf 3 - complaints (RFC 5965 ARF) and auto-replies (RFC 3834)
 * SYNOPSIS
 *	fb_arf_parse(mail, res);	1: a complaint, res filled
 *	fb_autoreply_detect(mail, res);	1: an auto-reply, res filled
 * DESCRIPTION
 *	A complaint is a multipart/report with report-type feedback-report
 *	and a message/feedback-report part, or Microsoft's JMRP variant
 *	(the original attached as message/rfc822 with an
 *	X-HmXmrOriginalRecipient field). The complained-about recipient is
 *	Original-Rcpt-To, else the JMRP field, else the To: of the
 *	returned original. A report whose original hides the recipient
 *	yields a complaint with an empty recipient: it suppresses nobody.
 *
 *	An auto-reply carries Auto-Submitted: auto-replied (RFC 3834), or
 *	one of the well-known vendor fields (X-Autoreply, X-Autorespond,
 *	Precedence: auto_reply), or an out-of-office subject. Its recipient
 *	is the address that replied (From:).
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "feedback.h"

/* arf_field - the value of "Name:" in a header-like block, unfolded */
static int
arf_field(const char *block, const char *name, char *out, size_t outlen)
{
	const char *p = block;
	size_t	n = strlen(name);

	while (p && *p) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e = v;

			while ((e = strchr(e, '\n')) != NULL && (e[1] == ' ' || e[1] == '\t'))
				e++;
			if (e == NULL)
				e = v + strlen(v);
			fb_text_squeeze(out, outlen, v, e - v);
			return 1;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

/* arf_addr_field - the address in field name of block */
static int
arf_addr_field(const char *block, const char *name, char *out, size_t outlen)
{
	char	v[1024];

	return arf_field(block, name, v, sizeof(v)) && fb_text_find_addr(v, out, outlen);
}

/* arf_is_jmrp - Microsoft's complaint format without a feedback part */
static int
arf_is_jmrp(const fb_mail *m)
{
	return m->orig[0] && fb_strcasestr(m->orig, "X-HmXmrOriginalRecipient:") != NULL;
}

/* arf_recipient - who received the message complained about */
static void
arf_recipient(const fb_mail *m, fb_arf *a, char *out, size_t outlen)
{
	if (a->original_rcpt[0]) {
		fb_strlcpy(out, a->original_rcpt, outlen);
		return;
	}
	if (arf_addr_field(m->orig, "X-HmXmrOriginalRecipient", out, outlen))
		return;
	if (arf_addr_field(m->orig, "To", out, outlen))
		return;
	out[0] = 0;
}

/* fb_arf_parse - a complaint report; 0 when the mail is none */
int
fb_arf_parse(const fb_mail *m, fb_result *res)
{
	fb_arf *a = &res->arf;
	fb_rcpt *r;
	char	v[256];

	if (m->feedback[0] == 0 && strcmp(m->report_type, "feedback-report") != 0
	    && !arf_is_jmrp(m))
		return 0;
	res->kind = FB_KIND_COMPLAINT;
	if (arf_field(m->feedback, "Feedback-Type", v, sizeof(v))) {
		fb_strlcpy(a->feedback_type, v, sizeof(a->feedback_type));
		fb_strlower(a->feedback_type);
	} else
		fb_strlcpy(a->feedback_type, "abuse", sizeof(a->feedback_type));
	arf_field(m->feedback, "User-Agent", a->user_agent, sizeof(a->user_agent));
	if (!arf_addr_field(m->feedback, "Original-Rcpt-To", a->original_rcpt, sizeof(a->original_rcpt)))
		arf_addr_field(m->feedback, "Removal-Recipient", a->original_rcpt,
			       sizeof(a->original_rcpt));
	arf_addr_field(m->feedback, "Original-Mail-From", a->original_mail_from,
		       sizeof(a->original_mail_from));
	arf_field(m->feedback, "Source-IP", a->source_ip, sizeof(a->source_ip));
	arf_field(m->feedback, "Reported-Domain", a->reported_domain, sizeof(a->reported_domain));
	arf_field(m->feedback, "Arrival-Date", a->arrival_date, sizeof(a->arrival_date));
	r = fb_result_add(res);
	arf_recipient(m, a, r->addr, sizeof(r->addr));
	fb_strlcpy(r->reason, "feedback", sizeof(r->reason));
	if (a->original_mail_from[0] == 0)
		arf_addr_field(m->orig, "From", res->orig_from, sizeof(res->orig_from));
	else
		fb_strlcpy(res->orig_from, a->original_mail_from, sizeof(res->orig_from));
	return 1;
}

/* autoreply_subject - does the subject say out of office? */
static int
autoreply_subject(const char *s)
{
	static const char *const pfx[] = { "auto:", "automatic reply", "autoreply",
	    "auto-reply", "auto reply", "out of office", "out of the office",
	    "vacation", "away from", "autoresponse", "auto response", "自動応答",
	    "自動返信", "不在", "réponse automatique", "abwesenheit", NULL };
	size_t	i;

	for (i = 0; pfx[i]; i++)
		if (fb_strcasestr(s, pfx[i]) != NULL)
			return 1;
	return 0;
}

/* fb_autoreply_detect - an auto-reply; 0 when the mail is none */
int
fb_autoreply_detect(const fb_mail *m, fb_result *res)
{
	const char *as = fb_mail_header(m, "Auto-Submitted");
	const char *prec = fb_mail_header(m, "Precedence");
	const char *subj = fb_mail_header(m, "Subject");
	const char *from = fb_mail_header(m, "From");
	int	yes = 0;
	fb_rcpt *r;

	if (as != NULL && fb_strcasestr(as, "auto-replied") != NULL)
		yes = 1;
	if (fb_mail_header(m, "X-Autoreply") || fb_mail_header(m, "X-Autorespond"))
		yes = 1;
	if (prec != NULL && fb_strcasestr(prec, "auto_reply") != NULL)
		yes = 1;
	if (!yes && subj != NULL && autoreply_subject(subj))
		yes = 1;
	if (!yes)
		return 0;
	res->kind = FB_KIND_AUTOREPLY;
	r = fb_result_add(res);
	if (from != NULL)
		fb_text_find_addr(from, r->addr, sizeof(r->addr));
	fb_strlcpy(r->reason, "vacation", sizeof(r->reason));
	return 1;
}

/*
 * NAME
 *	feedback_vendor_ses 3 - Amazon SES notifications forwarded by mail (SNS)
 * SYNOPSIS
 *	n = fb_vendor_ses(mail, res);	records added, 0 when it is none
 * DESCRIPTION
 *	SES delivers bounce, complaint and delivery notifications as a JSON
 *	document in the body of an SNS mail. Only a few string members are
 *	needed (notificationType, emailAddress, status, diagnosticCode,
 *	smtpResponse, complaintFeedbackType), so they are looked up by key
 *	in the text; nothing else of the document is interpreted. Strings
 *	are copied up to their closing quote, escapes kept as they are.
 * LIMITS
 *	At most FB_MAX_RCPTS records; values are cut at FB_DIAG_MAX bytes.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "feedback.h"

/* ses_value - the string value of "key":"..." at or after p, before end */
static const char *
ses_value(const char *p, const char *end, const char *key, char *out, size_t outlen)
{
	char	pat[64];
	const char *v, *q;
	size_t	n;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	v = strstr(p, pat);
	if (v == NULL || (end != NULL && v >= end))
		return NULL;
	v += strlen(pat);
	for (q = v; *q && *q != '"'; q++)
		if (*q == '\\' && q[1])
			q++;
	n = (size_t) (q - v) < outlen ? (size_t) (q - v) : outlen - 1;
	memcpy(out, v, n);
	out[n] = 0;
	return q;
}

/* ses_recipients - one record per emailAddress of the array named list */
static void
ses_recipients(const char *doc, const char *list, fb_result *res)
{
	const char *p = strstr(doc, list), *next;
	char	addr[FB_ADDR_MAX], v[FB_DIAG_MAX];
	fb_rcpt *r;

	while (p != NULL && res->nrcpt < FB_MAX_RCPTS
	       && (p = ses_value(p, NULL, "emailAddress", addr, sizeof(addr))) != NULL) {
		next = strstr(p, "\"emailAddress\":\"");
		r = fb_result_add(res);
		fb_text_find_addr(addr, r->addr, sizeof(r->addr));
		if (ses_value(p, next, "status", v, sizeof(v)))
			fb_text_find_status(v, r->status);
		if (ses_value(p, next, "action", v, sizeof(v)))
			fb_strlcpy(r->action, v, sizeof(r->action));
		if (ses_value(p, next, "diagnosticCode", v, sizeof(v))) {
			const char *semi = strchr(v, ';');

			fb_strlcpy(r->diag_type, "smtp", sizeof(r->diag_type));
			fb_strlcpy(r->diag, semi ? semi + 1 + (semi[1] == ' ') : v, sizeof(r->diag));
			fb_text_find_reply(r->diag, r->reply_code);
			fb_text_find_command(r->diag, r->command);
		}
		p = next;
	}
}

/* ses_strings - one record per address of a JSON array of strings */
static void
ses_strings(const char *doc, const char *list, fb_result *res)
{
	const char *p = strstr(doc, list), *end;
	char	one[FB_ADDR_MAX];

	if (p == NULL || (end = strchr(p, ']')) == NULL)
		return;
	for (p += strlen(list); p < end && res->nrcpt < FB_MAX_RCPTS; p++) {
		const char *q;

		if (*p != '"' || (q = memchr(p + 1, '"', end - p - 1)) == NULL)
			continue;
		snprintf(one, sizeof(one), "%.*s", (int) (q - p - 1), p + 1);
		if (fb_text_find_addr(one, fb_result_add(res)->addr, FB_ADDR_MAX) == 0)
			res->nrcpt--;
		p = q;
	}
}

/* fb_vendor_ses - an SES notification: bounce, complaint or delivery */
int
fb_vendor_ses(const fb_mail *m, fb_result *res)
{
	const char *doc = strstr(m->text, "{\"notificationType\":\"");
	char	type[32], v[FB_DIAG_MAX];
	size_t	before = res->nrcpt, i;

	if (doc == NULL || ses_value(doc, NULL, "notificationType", type, sizeof(type)) == NULL)
		return 0;
	if (strcmp(type, "Bounce") == 0) {
		ses_recipients(doc, "\"bouncedRecipients\"", res);
		res->kind = FB_KIND_BOUNCE;
	} else if (strcmp(type, "Complaint") == 0) {
		ses_recipients(doc, "\"complainedRecipients\"", res);
		res->kind = FB_KIND_COMPLAINT;
		if (ses_value(doc, NULL, "complaintFeedbackType", v, sizeof(v)))
			fb_strlcpy(res->arf.feedback_type, v, sizeof(res->arf.feedback_type));
		else
			fb_strlcpy(res->arf.feedback_type, "abuse", sizeof(res->arf.feedback_type));
		for (i = before; i < res->nrcpt; i++)
			fb_strlcpy(res->rcpt[i].reason, "feedback", sizeof(res->rcpt[i].reason));
	} else if (strcmp(type, "Delivery") == 0) {
		ses_strings(doc, "\"recipients\":[", res);
		res->kind = FB_KIND_BOUNCE;
		if (ses_value(doc, NULL, "smtpResponse", v, sizeof(v)))
			for (i = before; i < res->nrcpt; i++) {
				fb_text_find_status(v, res->rcpt[i].status);
				fb_text_find_reply(v, res->rcpt[i].reply_code);
				fb_strlcpy(res->rcpt[i].diag, v, sizeof(res->rcpt[i].diag));
				fb_strlcpy(res->rcpt[i].action, "delivered", sizeof(res->rcpt[i].action));
			}
	}
	return (int) (res->nrcpt - before);
}

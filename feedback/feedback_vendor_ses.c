/*
 * NAME
 *	feedback_vendor_ses 3 - Amazon SES notifications forwarded by mail (SNS)
 * SYNOPSIS
 *	n = fb_vendor_ses(mail, res);	records added, 0 when it is none, -1 refused
 * DESCRIPTION
 *	SES delivers bounce, complaint and delivery notifications as a JSON
 *	document in the body of an SNS mail: the document itself ("email"
 *	delivery) or an SNS envelope whose "Message" string holds it
 *	("email-json": Type "Notification"). The body is parsed with jansson
 *	(strict RFC 8259: UTF-8 checked, escapes decoded, duplicate keys
 *	refused) and members are read from the object they belong to:
 *	notificationType at the top; bounce.bounceType and
 *	bounce.bouncedRecipients[] (emailAddress, action, status,
 *	diagnosticCode); complaint.complainedRecipients[].emailAddress and
 *	complaint.complaintFeedbackType; delivery.recipients[] and
 *	delivery.smtpResponse.
 *
 *	A document starts with a "{" at the start of a line. Sendmail's
 *	long-line split ("!", newline, space) cannot occur in valid JSON and
 *	is joined back before parsing.
 * DIAGNOSTICS
 *	-1 when the body holds a "notificationType" but no document parses
 *	(malformed or hostile JSON: nesting deeper than jansson's 2048 levels,
 *	a number out of range, invalid UTF-8, a duplicate key, a document
 *	over SES_MAX_JSON bytes); res->why says what jansson refused. The
 *	caller records the message as unknown, as it does with any
 *	unparseable message (or defers it when the text was cut).
 * LIMITS
 *	SES_MAX_JSON bytes per document; SES_MAX_TRIES candidate lines; at
 *	most FB_MAX_RCPTS records (fb_classify() defers beyond); values are
 *	cut at FB_DIAG_MAX bytes.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "feedback.h"

#define SES_MAX_JSON (1u << 20) /* bytes of one notification document */
#define SES_MAX_TRIES 16        /* lines starting with "{" tried per mail */
#define SES_FLAGS (JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK)

/* ses_str - the string member key of object o, or NULL */
static const char *
ses_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ses_bounce_status - the status a bounceType implies, for a recipient without one */
static const char *
ses_bounce_status(const json_t *bounce)
{
	const char *t = ses_str(bounce, "bounceType");

	if (t && strcmp(t, "Permanent") == 0)
		return "5.0.0";
	if (t && strcmp(t, "Transient") == 0)
		return "4.0.0";
	return NULL;
}

/* ses_recipient - the fields of one bouncedRecipients/complainedRecipients element */
static void
ses_recipient(const json_t *e, const char *fallback, fb_result *res)
{
	const char *addr = ses_str(e, "emailAddress"), *v;
	fb_rcpt *r;

	if (addr == NULL)
		return;
	r = fb_result_add(res);
	fb_text_find_addr(addr, r->addr, sizeof(r->addr));
	if ((v = ses_str(e, "status")) != NULL)
		fb_text_find_status(v, r->status);
	if (r->status[0] == 0 && fallback != NULL)
		fb_strlcpy(r->status, fallback, sizeof(r->status));
	if ((v = ses_str(e, "action")) != NULL)
		fb_strlcpy(r->action, v, sizeof(r->action));
	if ((v = ses_str(e, "diagnosticCode")) != NULL) {
		const char *semi = strchr(v, ';');

		fb_strlcpy(r->diag_type, "smtp", sizeof(r->diag_type));
		fb_strlcpy(r->diag, semi ? semi + 1 + (semi[1] == ' ') : v, sizeof(r->diag));
		fb_text_find_reply(r->diag, r->reply_code);
		fb_text_find_command(r->diag, r->command);
	}
}

/* ses_recipients - one record per element of the array list in object o */
static void
ses_recipients(const json_t *o, const char *list, const char *fallback, fb_result *res)
{
	const json_t *a = json_object_get(o, list);
	size_t i;

	for (i = 0; i < json_array_size(a) && res->nrcpt < FB_MAX_RCPTS; i++)
		ses_recipient(json_array_get(a, i), fallback, res);
}

/* ses_delivery - one "delivered" record per address of delivery.recipients */
static void
ses_delivery(const json_t *d, fb_result *res)
{
	const json_t *a = json_object_get(d, "recipients");
	const char *smtp = ses_str(d, "smtpResponse"), *s;
	fb_rcpt *r;
	size_t i;

	for (i = 0; i < json_array_size(a) && res->nrcpt < FB_MAX_RCPTS; i++) {
		if ((s = json_string_value(json_array_get(a, i))) == NULL)
			continue;
		r = fb_result_add(res);
		if (fb_text_find_addr(s, r->addr, sizeof(r->addr)) == 0) {
			res->nrcpt--;
			continue;
		}
		if (smtp == NULL)
			continue;
		fb_text_find_status(smtp, r->status);
		fb_text_find_reply(smtp, r->reply_code);
		fb_strlcpy(r->diag, smtp, sizeof(r->diag));
		fb_strlcpy(r->action, "delivered", sizeof(r->action));
	}
}

/* ses_records - records of one SES document; its notificationType decides which */
static void
ses_records(const json_t *doc, fb_result *res)
{
	const char *type = ses_str(doc, "notificationType"), *v;
	const json_t *o;
	size_t before = res->nrcpt, i;

	if (type == NULL)
		return;
	if (strcmp(type, "Bounce") == 0) {
		o = json_object_get(doc, "bounce");
		ses_recipients(o, "bouncedRecipients", ses_bounce_status(o), res);
		res->kind = FB_KIND_BOUNCE;
	} else if (strcmp(type, "Complaint") == 0) {
		o = json_object_get(doc, "complaint");
		ses_recipients(o, "complainedRecipients", NULL, res);
		res->kind = FB_KIND_COMPLAINT;
		v = ses_str(o, "complaintFeedbackType");
		fb_strlcpy(res->arf.feedback_type, v ? v : "abuse", sizeof(res->arf.feedback_type));
		for (i = before; i < res->nrcpt; i++)
			fb_strlcpy(res->rcpt[i].reason, "feedback", sizeof(res->rcpt[i].reason));
	} else if (strcmp(type, "Delivery") == 0) {
		ses_delivery(json_object_get(doc, "delivery"), res);
		res->kind = FB_KIND_BOUNCE;
	}
}

/* ses_unwrap - the SES document of an SNS "email-json" envelope, or doc itself */
static json_t *
ses_unwrap(json_t *doc, json_error_t *err)
{
	const char *type = ses_str(doc, "Type");
	const json_t *msg = json_object_get(doc, "Message");
	json_t *inner;

	if (type == NULL || strcmp(type, "Notification") != 0 || !json_is_string(msg))
		return json_incref(doc);
	inner = json_loadb(json_string_value(msg), json_string_length(msg), JSON_REJECT_DUPLICATES,
	                   err);
	if (inner != NULL && !json_is_object(inner)) {
		json_decref(inner);
		snprintf(err->text, sizeof(err->text), "SNS Message is not a JSON object");
		return NULL;
	}
	return inner;
}

/* ses_load - the document at p (len bytes), sendmail's "!\n " splits joined */
static json_t *
ses_load(const char *p, size_t len, json_error_t *err)
{
	char *buf, *w;
	size_t i;
	json_t *doc;

	if (memmem(p, len, "!\n ", 3) == NULL && memmem(p, len, "!\r\n ", 4) == NULL)
		return json_loadb(p, len, SES_FLAGS, err);
	w = buf = sl_malloc(len);
	for (i = 0; i < len; i++) {
		if (p[i] == '!' && i + 2 < len && p[i + 1] == '\n' && p[i + 2] == ' ')
			i += 2;
		else if (p[i] == '!' && i + 3 < len && memcmp(p + i + 1, "\r\n ", 3) == 0)
			i += 3;
		else
			*w++ = p[i];
	}
	doc = json_loadb(buf, (size_t)(w - buf), SES_FLAGS, err);
	free(buf);
	return doc;
}

/* ses_next - the next line of text at or after p that starts with "{", or NULL */
static const char *
ses_next(const char *text, const char *p)
{
	for (; (p = strchr(p, '{')) != NULL; p++) {
		const char *b = p;

		while (b > text && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b == text || b[-1] == '\n')
			return p;
	}
	return NULL;
}

/* ses_find - the SES document of text, or NULL (why: the first refusal, if any) */
static json_t *
ses_find(const char *text, char *why, size_t whylen)
{
	const char *p = text;
	json_error_t err;
	json_t *doc, *ses;
	int tries, bad;

	why[0] = 0;
	for (tries = 0; tries < SES_MAX_TRIES && (p = ses_next(text, p)) != NULL; tries++, p++) {
		size_t len = strlen(p);

		doc = ses_load(p, len < SES_MAX_JSON ? len : SES_MAX_JSON, &err);
		ses = json_is_object(doc) ? ses_unwrap(doc, &err) : NULL;
		bad = doc == NULL || ses == NULL; /* not JSON, or SNS's Message is not */
		json_decref(doc);
		if (ses != NULL && json_object_get(ses, "notificationType") != NULL)
			return ses;
		json_decref(ses);
		if (why[0] == 0 && bad && strstr(p, "notificationType"))
			snprintf(why, whylen,
			         "ses: invalid JSON notification: %s (line %d, column %d)",
			         err.text, err.line, err.column);
	}
	return NULL;
}

/* fb_vendor_ses - an SES notification: bounce, complaint or delivery */
int
fb_vendor_ses(const fb_mail *m, fb_result *res)
{
	char why[sizeof(res->why)];
	size_t before = res->nrcpt;
	json_t *doc;

	if (m->text == NULL || strstr(m->text, "notificationType") == NULL)
		return 0;
	if ((doc = ses_find(m->text, why, sizeof(why))) == NULL) {
		if (why[0] == 0)
			return 0;
		fb_strlcpy(res->why, why, sizeof(res->why));
		return -1;
	}
	ses_records(doc, res);
	json_decref(doc);
	return (int)(res->nrcpt - before);
}

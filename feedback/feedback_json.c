/*
 * NAME
 *	feedback_json 3 - fb_result helpers and the --classify output
 * SYNOPSIS
 *	char *lines = fb_json_result(res, file);  one JSON object per line
 * DESCRIPTION
 *	Bounces, complaints, auto-replies and unsubscribes give one object
 *	per recipient record: file, kind, recipient, status, reply_code,
 *	reason, hard (and feedback_type for complaints). A DMARC report
 *	gives one object with the report's metadata, policy and records.
 *	Anything else gives one object of kind unknown with a reason.
 *	Strings are written by lib/json.c (RFC 8259; control characters as
 *	\u00XX, bytes that are not valid UTF-8 as \ufffd), so the output
 *	always parses.
 *	fb_result_sanitize() applies the same validator to every text field
 *	of a result, so what feedback_effects.c stores in Redis is valid
 *	UTF-8 too; fb_classify() calls it on every result it returns.
 * OWNERSHIP
 *	The caller frees the returned string.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "json.h"
#include "utf8.h"
#include "feedback.h"

/* fb_strlcpy - bounded copy that always terminates */
void
fb_strlcpy(char *dst, const char *src, size_t size)
{
	size_t	n;

	if (size == 0)
		return;
	n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* fb_strlower - ASCII lowercase in place */
void
fb_strlower(char *s)
{
	for (; s && *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/* fb_result_new - an empty result (kind unknown) */
fb_result *
fb_result_new(void)
{
	return sl_calloc(1, sizeof(fb_result));
}

/*
 * fb_result_add - append a zeroed recipient record. The array doubles
 * when nrcpt reaches a power of two, so thousands of records cost no
 * quadratic copying; callers that shrink nrcpt keep a large enough array.
 */
fb_rcpt *
fb_result_add(fb_result *res)
{
	size_t n = res->nrcpt;

	if ((n & (n - 1)) == 0)
		res->rcpt = sl_realloc(res->rcpt, (n ? 2 * n : 1) * sizeof(*res->rcpt));
	memset(&res->rcpt[res->nrcpt], 0, sizeof(*res->rcpt));
	return &res->rcpt[res->nrcpt++];
}

/* fb_result_free - release a result */
void
fb_result_free(fb_result *res)
{
	size_t i;

	if (res == NULL)
		return;
	for (i = 0; res->dmarc != NULL && i < res->dmarc->nrec; i++) {
		free(res->dmarc->rec[i].auth);
		free(res->dmarc->rec[i].reason);
	}
	if (res->dmarc != NULL)
		free(res->dmarc->rec);
	free(res->dmarc);
	free(res->rcpt);
	free(res);
}

#define FIX(f) sl_utf8_fix((f), sizeof(f))

/* sanitize_dmarc - valid UTF-8 in every text field of a DMARC report */
static void
sanitize_dmarc(fb_dmarc *d)
{
	size_t i, j;

	FIX(d->version), FIX(d->org_name), FIX(d->email), FIX(d->generator);
	FIX(d->report_id), FIX(d->domain), FIX(d->p), FIX(d->sp), FIX(d->pct);
	FIX(d->adkim), FIX(d->aspf), FIX(d->np), FIX(d->fo), FIX(d->testing);
	FIX(d->discovery_method);
	for (i = 0; i < d->nrec; i++) {
		fb_dmarc_rec *r = &d->rec[i];

		FIX(r->source_ip), FIX(r->disposition), FIX(r->dkim), FIX(r->spf);
		FIX(r->header_from), FIX(r->envelope_from), FIX(r->envelope_to);
		for (j = 0; j < r->nreason; j++)
			FIX(r->reason[j].type), FIX(r->reason[j].comment);
		for (j = 0; j < r->nauth; j++) {
			FIX(r->auth[j].domain), FIX(r->auth[j].selector), FIX(r->auth[j].scope);
			FIX(r->auth[j].result), FIX(r->auth[j].human_result);
		}
	}
}

/*
 * fb_result_sanitize - valid UTF-8 in every text field, in place: the
 * parsers copy bytes from the message and cut them at fixed sizes.
 */
void
fb_result_sanitize(fb_result *res)
{
	size_t i;

	FIX(res->why), FIX(res->orig_from), FIX(res->orig_token), FIX(res->defer);
	FIX(res->arf.feedback_type), FIX(res->arf.user_agent), FIX(res->arf.original_rcpt);
	FIX(res->arf.original_mail_from), FIX(res->arf.source_ip);
	FIX(res->arf.reported_domain), FIX(res->arf.arrival_date);
	for (i = 0; i < res->nrcpt; i++) {
		fb_rcpt *r = &res->rcpt[i];

		FIX(r->addr), FIX(r->status), FIX(r->reply_code), FIX(r->action);
		FIX(r->command), FIX(r->diag_type), FIX(r->rhost), FIX(r->reason);
		FIX(r->diag);
	}
	if (res->dmarc != NULL)
		sanitize_dmarc(res->dmarc);
}

#undef FIX

/* fb_kind_name - the kind as printed */
const char *
fb_kind_name(enum fb_kind kind)
{
	switch (kind) {
	case FB_KIND_BOUNCE:
		return "bounce";
	case FB_KIND_COMPLAINT:
		return "complaint";
	case FB_KIND_UNSUBSCRIBE:
		return "unsubscribe";
	case FB_KIND_DMARC:
		return "dmarc-aggregate";
	case FB_KIND_AUTOREPLY:
		return "autoreply";
	default:
		return "unknown";
	}
}

/* jb_kv - append "key":"value" with a leading comma */
static void
jb_kv(sl_jbuf *b, const char *key, const char *val)
{
	sl_jbuf_printf(b, ",\"%s\":", key);
	sl_json_str(b, val);
}

/* json_rcpt - one recipient record */
static void
json_rcpt(sl_jbuf *b, const fb_result *res, const fb_rcpt *r, const char *file)
{
	sl_jbuf_add(b, "{\"file\":", 8);
	sl_json_str(b, file);
	jb_kv(b, "kind", fb_kind_name(res->kind));
	jb_kv(b, "recipient", r->addr);
	jb_kv(b, "status", r->status);
	jb_kv(b, "reply_code", r->reply_code);
	jb_kv(b, "reason", r->reason);
	sl_jbuf_printf(b, ",\"hard\":%s", r->hard ? "true" : "false");
	if (res->defer[0])
		jb_kv(b, "defer", res->defer);
	if (res->kind == FB_KIND_COMPLAINT)
		jb_kv(b, "feedback_type", res->arf.feedback_type);
	if (r->diag[0])
		jb_kv(b, "diagnostic", r->diag);
	sl_jbuf_add(b, "}\n", 2);
}

/* json_auth - the <auth_results> entries of one method as a JSON array */
static void
json_auth(sl_jbuf *b, const fb_dmarc_rec *r, const char *method)
{
	size_t i;
	int n = 0;

	sl_jbuf_printf(b, "\"%s\":[", method);
	for (i = 0; i < r->nauth; i++) {
		const fb_dmarc_auth *a = &r->auth[i];

		if (strcmp(a->method, method) != 0)
			continue;
		if (n++)
			sl_jbuf_add(b, ",", 1);
		sl_jbuf_add(b, "{\"domain\":", 10);
		sl_json_str(b, a->domain);
		if (strcmp(method, "dkim") == 0) {
			jb_kv(b, "selector", a->selector);
			jb_kv(b, "human_result", a->human_result);
		} else
			jb_kv(b, "scope", a->scope);
		jb_kv(b, "result", a->result);
		sl_jbuf_add(b, "}", 1);
	}
	sl_jbuf_add(b, "]", 1);
}

/* json_dmarc_rec - one <record> */
static void
json_dmarc_rec(sl_jbuf *b, const fb_dmarc_rec *r)
{
	size_t i;

	sl_jbuf_add(b, "{\"source_ip\":", 13);
	sl_json_str(b, r->source_ip);
	sl_jbuf_printf(b, ",\"count\":%lld", r->count);
	jb_kv(b, "disposition", r->disposition);
	jb_kv(b, "dkim", r->dkim);
	jb_kv(b, "spf", r->spf);
	sl_jbuf_add(b, ",\"reasons\":[", 12);
	for (i = 0; i < r->nreason; i++) {
		sl_jbuf_add(b, i ? ",{\"type\":" : "{\"type\":", i ? 9 : 8);
		sl_json_str(b, r->reason[i].type);
		jb_kv(b, "comment", r->reason[i].comment);
		sl_jbuf_add(b, "}", 1);
	}
	sl_jbuf_add(b, "]", 1);
	jb_kv(b, "header_from", r->header_from);
	jb_kv(b, "envelope_from", r->envelope_from);
	jb_kv(b, "envelope_to", r->envelope_to);
	sl_jbuf_add(b, ",\"auth_results\":{", 17);
	json_auth(b, r, "dkim");
	sl_jbuf_add(b, ",", 1);
	json_auth(b, r, "spf");
	sl_jbuf_add(b, "}}", 2);
}

/* json_dmarc - one DMARC report */
static void
json_dmarc(sl_jbuf *b, const fb_dmarc *d, const char *file)
{
	size_t	i;

	sl_jbuf_add(b, "{\"file\":", 8);
	sl_json_str(b, file);
	jb_kv(b, "kind", "dmarc-aggregate");
	jb_kv(b, "version", d->version);
	jb_kv(b, "org_name", d->org_name);
	jb_kv(b, "email", d->email);
	jb_kv(b, "report_id", d->report_id);
	jb_kv(b, "generator", d->generator);
	sl_jbuf_printf(b, ",\"begin\":%lld,\"end\":%lld,\"policy_published\":{\"domain\":", d->begin, d->end);
	sl_json_str(b, d->domain);
	jb_kv(b, "p", d->p);
	jb_kv(b, "sp", d->sp);
	jb_kv(b, "np", d->np);
	jb_kv(b, "pct", d->pct);
	jb_kv(b, "adkim", d->adkim);
	jb_kv(b, "aspf", d->aspf);
	jb_kv(b, "fo", d->fo);
	jb_kv(b, "testing", d->testing);
	jb_kv(b, "discovery_method", d->discovery_method);
	sl_jbuf_add(b, "},\"records\":[", 13);
	for (i = 0; i < d->nrec; i++) {
		if (i)
			sl_jbuf_add(b, ",", 1);
		json_dmarc_rec(b, &d->rec[i]);
	}
	sl_jbuf_add(b, "]}\n", 3);
}

/* fb_json_result - the --classify lines of one result */
char *
fb_json_result(const fb_result *res, const char *file)
{
	sl_jbuf	b = { 0 };
	size_t	i;

	if (res->kind == FB_KIND_DMARC && res->dmarc != NULL)
		json_dmarc(&b, res->dmarc, file);
	else if (res->kind != FB_KIND_UNKNOWN && res->nrcpt > 0)
		for (i = 0; i < res->nrcpt; i++)
			json_rcpt(&b, res, &res->rcpt[i], file);
	else {
		sl_jbuf_add(&b, "{\"file\":", 8);
		sl_json_str(&b, file);
		jb_kv(&b, "kind", fb_kind_name(res->kind));
		jb_kv(&b, "reason", res->why[0] ? res->why : "no recipient found");
		if (res->defer[0])
			jb_kv(&b, "defer", res->defer);
		sl_jbuf_add(&b, "}\n", 2);
	}
	return b.s;
}

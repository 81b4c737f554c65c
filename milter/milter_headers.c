/*
 * NAME
 *	milter_headers 3 - the header edits of one outbound message
 * SYNOPSIS
 *	ml_headers_plan(conf, decision, input, &plan); ... ml_plan_free(&plan)
 * DESCRIPTION
 *	Computes, without touching the message, the list of edits the
 *	callbacks apply at end of message, and the header set the message
 *	will have afterwards (what DKIM signs):
 *	- internal headers (the category header and every X-Sluice-*) go;
 *	- with a category that asks for it, the From moves to the sending
 *	  domain (display name kept) and the original becomes Reply-To when
 *	  the message has none;
 *	- with list_unsubscribe: List-Unsubscribe with a mailto address on
 *	  the sending domain carrying a 'u' token, plus the https URL of
 *	  unsubscribe_url (%t = URL token with the recipient) when the
 *	  message has exactly one recipient, and then List-Unsubscribe-Post:
 *	  List-Unsubscribe=One-Click (RFC 8058 needs the https URL). An
 *	  existing List-Unsubscribe is kept or replaced per category; never
 *	  two of either header;
 *	- Feedback-ID: <type>:<category>:<tenant>:<sender id> replaces any
 *	  the application set.
 *	Deletions are listed from the last occurrence to the first, so the
 *	indexes hold whether the MTA counts deleted headers or not.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "milter.h"

#define HDR_VALUE_MAX	2048

/* ml_header_count - occurrences of a header name */
size_t
ml_header_count(const ml_header *h, size_t n, const char *name)
{
	size_t	count = 0;

	for (size_t i = 0; i < n; i++)
		count += strcasecmp(h[i].name, name) == 0;
	return count;
}

/* ml_header_get - the value of the first occurrence, or NULL */
const char *
ml_header_get(const ml_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

/* ml_header_internal - a header the milter removes before sending */
int
ml_header_internal(const ml_conf *c, const char *name)
{
	return strncasecmp(name, "X-Sluice-", 9) == 0 || strcasecmp(name, c->category_header) == 0;
}

/* plan_edit - append one edit */
static void
plan_edit(ml_plan *p, enum ml_edit_op op, const char *name, int index, const char *value)
{
	ml_edit *e;

	p->edits = sl_realloc(p->edits, (p->nedits + 1) * sizeof(*p->edits));
	e = &p->edits[p->nedits++];
	e->op = op;
	e->name = sl_strdup(name);
	e->index = index;
	e->value = value ? sl_strdup(value) : NULL;
}

/* plan_delete_all - delete every occurrence of name, last first */
static void
plan_delete_all(ml_plan *p, const ml_hdr_input *in, const char *name, size_t keep)
{
	for (size_t k = ml_header_count(in->headers, in->nheaders, name); k > keep; k--)
		plan_edit(p, ML_HDR_DELETE, name, (int) k, NULL);
}

/* plan_internal - delete the internal headers, each name once */
static void
plan_internal(const ml_conf *c, const ml_hdr_input *in, ml_plan *p)
{
	for (size_t i = 0; i < in->nheaders; i++) {
		const char *name = in->headers[i].name;
		int	seen = 0;

		if (!ml_header_internal(c, name))
			continue;
		for (size_t j = 0; j < i; j++)
			seen |= strcasecmp(in->headers[j].name, name) == 0;
		if (!seen)
			plan_delete_all(p, in, name, 0);
	}
}

/* plan_from - From on the sending domain, Reply-To to the author */
static int
plan_from(const ml_decision *d, const ml_hdr_input *in, ml_plan *p)
{
	const char *from = ml_header_get(in->headers, in->nheaders, "From");
	char	nfrom[HDR_VALUE_MAX], rt[HDR_VALUE_MAX];

	if (from == NULL || strcasecmp(d->send_domain, d->from_domain) == 0)
		return 0;
	if (ml_rewrite_from(from, d->send_domain, nfrom, sizeof(nfrom), rt, sizeof(rt)) < 0)
		return -1;
	plan_edit(p, ML_HDR_CHANGE, "From", 1, nfrom);
	if (ml_header_count(in->headers, in->nheaders, "Reply-To") == 0)
		plan_edit(p, ML_HDR_ADD, "Reply-To", 0, rt);
	return 0;
}

/* unsubscribe_url - the category's template with %t replaced by the token */
static int
unsubscribe_url(const ml_conf *c, const ml_decision *d, const ml_hdr_input *in,
		char *out, size_t outlen)
{
	char	tok[SL_TOKEN_URL_MAX];
	const char *tpl = d->category->unsubscribe_url, *pct = strstr(tpl, "%t");
	sl_token t;
	int	n;

	ml_token_fill(&t, 'u', d, in->msgid, in->day);
	if (in->rcpt == NULL || pct == NULL
	    || sl_addr_normalize(in->rcpt, t.rcpt, sizeof(t.rcpt), 0) < 0
	    || sl_token_url(&t, &c->ring, tok, sizeof(tok)) < 0)
		return -1;
	n = snprintf(out, outlen, "%.*s%s%s", (int) (pct - tpl), tpl, tok, pct + 2);
	return n < 0 || (size_t) n >= outlen ? -1 : 0;
}

/* plan_unsubscribe - List-Unsubscribe and List-Unsubscribe-Post */
static int
plan_unsubscribe(const ml_conf *c, const ml_decision *d, const ml_hdr_input *in, ml_plan *p)
{
	char	local[SL_TOKEN_LOCAL_MAX], url[HDR_VALUE_MAX], value[2 * HDR_VALUE_MAX];
	int	have_url;
	sl_token t;

	if (ml_header_count(in->headers, in->nheaders, "List-Unsubscribe") > 0
	    && !d->category->lu_replace) {
		plan_delete_all(p, in, "List-Unsubscribe", 1);
		plan_delete_all(p, in, "List-Unsubscribe-Post", 1);
		return 0;
	}
	plan_delete_all(p, in, "List-Unsubscribe", 0);
	plan_delete_all(p, in, "List-Unsubscribe-Post", 0);
	ml_token_fill(&t, 'u', d, in->msgid, in->day);
	if (sl_token_local(&t, &c->ring, local, sizeof(local)) < 0)
		return -1;
	have_url = *d->category->unsubscribe_url && in->nrcpt == 1
	    && unsubscribe_url(c, d, in, url, sizeof(url)) == 0;
	snprintf(value, sizeof(value), "<mailto:%s@%s?subject=unsubscribe>%s%s%s", local,
		 d->send_domain, have_url ? ",\n\t<" : "", have_url ? url : "", have_url ? ">" : "");
	plan_edit(p, ML_HDR_ADD, "List-Unsubscribe", 0, value);
	if (have_url)
		plan_edit(p, ML_HDR_ADD, "List-Unsubscribe-Post", 0, "List-Unsubscribe=One-Click");
	return 0;
}

/* plan_feedback_id - Feedback-ID: type:category:tenant:sender */
static void
plan_feedback_id(const ml_conf *c, const ml_decision *d, const ml_hdr_input *in, ml_plan *p)
{
	const char *sender = d->base->name;
	char	value[512];

	if (d->tenant && *d->tenant->sender_id)
		sender = d->tenant->sender_id;
	else if (*c->sender_id)
		sender = c->sender_id;
	snprintf(value, sizeof(value), "%s:%s:%s:%s", d->category->feedback_type,
		 d->category->name, d->tenant_name, sender);
	plan_delete_all(p, in, "Feedback-ID", 0);
	plan_edit(p, ML_HDR_ADD, "Feedback-ID", 0, value);
}

/* final_delete - remove occurrence idx of name from the final list */
static void
final_delete(ml_plan *p, const char *name, int idx)
{
	int	seen = 0;

	for (size_t i = 0; i < p->nfinal; i++)
		if (strcasecmp(p->final[i].name, name) == 0 && ++seen == idx) {
			memmove(&p->final[i], &p->final[i + 1], (p->nfinal - i - 1) * sizeof(*p->final));
			p->nfinal--;
			return;
		}
}

/* final_change - replace the value of occurrence idx of name */
static void
final_change(ml_plan *p, const char *name, int idx, char *value)
{
	int	seen = 0;

	for (size_t i = 0; i < p->nfinal; i++)
		if (strcasecmp(p->final[i].name, name) == 0 && ++seen == idx) {
			p->final[i].value = value;
			return;
		}
}

/* plan_final - the header set once every edit is applied */
static void
plan_final(const ml_hdr_input *in, ml_plan *p)
{
	p->final = sl_calloc(in->nheaders + p->nedits + 1, sizeof(*p->final));
	memcpy(p->final, in->headers, in->nheaders * sizeof(*p->final));
	p->nfinal = in->nheaders;
	for (size_t i = 0; i < p->nedits; i++) {
		ml_edit *e = &p->edits[i];

		if (e->op == ML_HDR_DELETE)
			final_delete(p, e->name, e->index);
		else if (e->op == ML_HDR_CHANGE)
			final_change(p, e->name, e->index, e->value);
		else
			p->final[p->nfinal++] = (ml_header) {.name = e->name, .value = e->value};
	}
}

/* ml_headers_plan - every header edit of the message, and the result */
int
ml_headers_plan(const ml_conf *c, const ml_decision *d, const ml_hdr_input *in, ml_plan *p)
{
	int	rc = 0;

	memset(p, 0, sizeof(*p));
	plan_internal(c, in, p);
	if (in->full && d && d->category) {
		if (d->category->rewrite_from && plan_from(d, in, p) < 0)
			rc = -1;
		if (rc == 0 && d->category->list_unsubscribe && plan_unsubscribe(c, d, in, p) < 0)
			rc = -1;
		if (rc == 0)
			plan_feedback_id(c, d, in, p);
	}
	plan_final(in, p);
	return rc;
}

/* ml_plan_free - release the edits and the final list */
void
ml_plan_free(ml_plan *p)
{
	for (size_t i = 0; i < p->nedits; i++) {
		free(p->edits[i].name);
		free(p->edits[i].value);
	}
	free(p->edits);
	free(p->final);
	memset(p, 0, sizeof(*p));
}

/*
 * NAME
 *	milter_rewrite 3 - envelope sender and header From rewriting
 * SYNOPSIS
 *	ml_rewrite_sender(conf, decision, msgid, day, out, len)
 *	ml_rewrite_from(value, domain, from, len, reply_to, len)
 * DESCRIPTION
 *	The new envelope sender is "<token>@<sending domain>", the token
 *	being lib/token.c's kind 'b' local part (category, tenant, day,
 *	message id, truncated HMAC; see doc/tokens.md), so that a bounce
 *	names its message without any state. The null sender is never
 *	rewritten (the caller checks).
 *	A rewritten header From keeps the display name and the local part
 *	and moves the address to the sending domain; the original value
 *	becomes Reply-To (added only when the message has none), so replies
 *	still reach the author.
 * ERRORS
 *	-1 for a From value ml_from_parse() refuses or an output that would
 *	not fit.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "milter.h"

/* ml_token_fill - the token fields of one message */
void
ml_token_fill(sl_token *t, char kind, const ml_decision *d, const char *msgid, unsigned day)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	snprintf(t->category, sizeof(t->category), "%s", d->category ? d->category->name : "");
	snprintf(t->tenant, sizeof(t->tenant), "%s", d->tenant_name);
	t->day = day;
	snprintf(t->msgid, sizeof(t->msgid), "%s", msgid);
}

/* ml_rewrite_sender - "<b-token>@<sending domain>" */
int
ml_rewrite_sender(const ml_conf *c, const ml_decision *d, const char *msgid,
		  unsigned day, char *out, size_t outlen)
{
	char	local[SL_TOKEN_LOCAL_MAX];
	sl_token t;
	int	n;

	if (!c->have_key || d->category == NULL)
		return -1;
	ml_token_fill(&t, 'b', d, msgid, day);
	if (sl_token_local(&t, &c->ring, local, sizeof(local)) < 0)
		return -1;
	n = snprintf(out, outlen, "%s@%s", local, d->send_domain);
	return n < 0 || (size_t) n >= outlen || n > SL_ADDR_MAX ? -1 : 0;
}

/* ml_rewrite_from - From moved to domain, display name kept; Reply-To */
int
ml_rewrite_from(const char *value, const char *domain, char *from, size_t fromlen,
		char *reply_to, size_t rtlen)
{
	ml_from f;
	const char *at;
	int	n;

	if (ml_from_parse(value, &f) != ML_FROM_OK || (at = strrchr(f.addr, '@')) == NULL)
		return -1;
	if (*f.display)
		n = snprintf(from, fromlen, "%s <%.*s@%s>", f.display, (int) (at - f.addr), f.addr, domain);
	else
		n = snprintf(from, fromlen, "<%.*s@%s>", (int) (at - f.addr), f.addr, domain);
	if (n < 0 || (size_t) n >= fromlen)
		return -1;
	n = snprintf(reply_to, rtlen, "%s", value);
	return n < 0 || (size_t) n >= rtlen ? -1 : 0;
}

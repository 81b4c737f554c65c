/*
 * NAME
 *	milter_rewrite 3 - envelope sender and header From rewriting
 * SYNOPSIS
 *	ml_header_address(value, addr, len)	the address of a From value
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
 *	-1 for an unparsable From value or an output that would not fit.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "milter.h"

/* skip_quoted - past a quoted string starting at p (on the quote) */
static const char *
skip_quoted(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p ? p + 1 : p;
}

/* skip_comment - past a (possibly nested) comment starting at p */
static const char *
skip_comment(const char *p)
{
	int	depth = 0;

	for (; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return p;
}

/* find_angle - the '<' of the first mailbox outside quotes and comments */
static const char *
find_angle(const char *v)
{
	for (const char *p = v; *p;) {
		if (*p == '"')
			p = skip_quoted(p);
		else if (*p == '(')
			p = skip_comment(p);
		else if (*p == '<')
			return p;
		else if (*p == ',')
			return NULL;
		else
			p++;
	}
	return NULL;
}

/* bare_address - an addr-spec without brackets: drop comments and spaces */
static int
bare_address(const char *v, char *out, size_t outlen)
{
	size_t	o = 0;

	for (const char *p = v; *p && *p != ',';) {
		if (*p == '(') {
			p = skip_comment(p);
			continue;
		}
		if (!isspace((unsigned char) *p)) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = *p;
		}
		p++;
	}
	out[o] = '\0';
	return o ? 0 : -1;
}

/* several_mailboxes - a comma outside quotes, comments and angle brackets */
static int
several_mailboxes(const char *v)
{
	int	angle = 0;

	for (const char *p = v; *p;) {
		if (*p == '"')
			p = skip_quoted(p);
		else if (*p == '(')
			p = skip_comment(p);
		else {
			angle += (*p == '<') - (*p == '>');
			if (*p == ',' && angle <= 0)
				return 1;
			p++;
		}
	}
	return 0;
}

/* ml_header_address - the one address of a From value; -1 for none or several */
int
ml_header_address(const char *value, char *addr, size_t addrlen)
{
	char	raw[SL_ADDR_MAX + 3];
	const char *lt = find_angle(value), *gt;

	/* A second author would ride on the first one's signature. */
	if (several_mailboxes(value))
		return -1;
	if (lt != NULL) {
		if ((gt = strchr(lt, '>')) == NULL || (size_t) (gt - lt - 1) >= sizeof(raw))
			return -1;
		memcpy(raw, lt + 1, (size_t) (gt - lt - 1));
		raw[gt - lt - 1] = '\0';
	} else if (bare_address(value, raw, sizeof(raw)) < 0)
		return -1;
	return sl_addr_normalize(raw, addr, addrlen, 0);
}

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

/* display_name - the text before '<', trimmed; "" when none */
static void
display_name(const char *value, const char *lt, char *out, size_t outlen)
{
	const char *s = value, *e = lt;

	while (s < e && isspace((unsigned char) *s))
		s++;
	while (e > s && isspace((unsigned char) e[-1]))
		e--;
	snprintf(out, outlen, "%.*s", (int) (e - s), s);
}

/* ml_rewrite_from - From moved to domain, display name kept; Reply-To */
int
ml_rewrite_from(const char *value, const char *domain, char *from, size_t fromlen,
		char *reply_to, size_t rtlen)
{
	char	addr[SL_ADDR_MAX + 1], name[1024] = "";
	const char *lt = find_angle(value), *at;
	int	n;

	if (ml_header_address(value, addr, sizeof(addr)) < 0 || (at = strrchr(addr, '@')) == NULL)
		return -1;
	if (lt != NULL)
		display_name(value, lt, name, sizeof(name));
	if (*name)
		n = snprintf(from, fromlen, "%s <%.*s@%s>", name, (int) (at - addr), addr, domain);
	else
		n = snprintf(from, fromlen, "<%.*s@%s>", (int) (at - addr), addr, domain);
	if (n < 0 || (size_t) n >= fromlen)
		return -1;
	n = snprintf(reply_to, rtlen, "%s", value);
	return n < 0 || (size_t) n >= rtlen ? -1 : 0;
}

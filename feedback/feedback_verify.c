/*
 * NAME
 *	feedback_verify 3 - whom a feedback message may act on: the token,
 *	its age and key, and the recipients it is bound to
 * SYNOPSIS
 *	fb_verify_origin(rcpt, res, ring, &o)	the token into o (pure)
 *	fb_verify_bind(r, ring, fc, res, &o, buf, len)	0, or -1: Redis trouble
 *	fb_verify_authres(headers, n, authserv_id, from)	pure, for tests
 * DESCRIPTION
 *	fb_verify_origin() verifies the token of the recipient argument (the
 *	b2-/u2- address the report came to) or else the one found in the
 *	returned original. o->verified is 0, with why, for no token, a bad
 *	MAC, a key id the keyring does not know or retired longer ago than
 *	the token lifetime ("unknown or retired key") and a token older than
 *	the lifetime ("expired").
 *
 *	fb_verify_bind() then sets each record's bound flag: 1 only when the
 *	record's address is a recipient of the token's message, i.e. its
 *	keyed hash (sl_token_rcpt_hash()) is in the set <prefix>rcpts:<msgid>
 *	sluice-milter wrote at the end of that message (one SMISMEMBER for
 *	all records). Bounces bind every recipient record, complaints the
 *	original recipient (record 0), mailto unsubscribes the From of the
 *	request (record 0); other kinds bind nothing.
 *	For a mailto unsubscribe that carries this site's own
 *	Authentication-Results (feedback authserv_id), the From is bound only
 *	when those results hold an aligned dmarc=pass (header.from is the
 *	From's domain) and no other dmarc result; without our A-R, binding
 *	alone decides. Version 1 tokens (made before key ids) have no
 *	record: nothing they name is bound, so they suppress nobody.
 *	feedback_effects.c acts only on verified && bound records.
 * ERRORS
 *	fb_verify_bind() returns -1 when Redis failed or answered with an
 *	error reply (read-only replica, ACL, ...): the caller exits 75.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "keyspace.h"
#include "log.h"
#include "redis.h"
#include "token.h"
#include "feedback.h"

/* origin_copy - the verified fields of t into o */
static void
origin_copy(const sl_token *t, fb_origin *o)
{
	o->kind = t->kind;
	o->version = t->version;
	o->kid = t->kid;
	fb_strlcpy(o->category, t->category, sizeof(o->category));
	fb_strlcpy(o->tenant, t->tenant, sizeof(o->tenant));
	o->day = t->day;
	fb_strlcpy(o->msgid, t->msgid, sizeof(o->msgid));
}

/* origin_from - verify the token of one address into o; 1 when it had one */
static int
origin_from(const char *addr, const sl_token_ring *ring, fb_origin *o)
{
	char local[SL_TOKEN_LOCAL_MAX + 1], err[128];
	const char *at = strrchr(addr, '@');
	size_t n = at ? (size_t)(at - addr) : strlen(addr);
	sl_token t;
	int rc;

	if (sl_token_prefix(addr) == 0)
		return 0;
	if (n >= sizeof(local)) {
		fb_strlcpy(o->why, "token too long", sizeof(o->why));
		return 1;
	}
	memcpy(local, addr, n);
	local[n] = 0;
	rc = sl_token_parse_local(local, ring, &t, err, sizeof(err));
	if (rc == SL_TOKEN_OK) {
		o->verified = 1;
		fb_strlcpy(o->why, "", sizeof(o->why));
		origin_copy(&t, o);
	} else if (rc == SL_TOKEN_EXPIRED) {
		fb_strlcpy(o->why, "expired", sizeof(o->why));
		origin_copy(&t, o);
		sl_info("token %s: %s", local, err);
	} else if (rc == SL_TOKEN_BADKEY)
		fb_strlcpy(o->why, "unknown or retired key", sizeof(o->why));
	else
		snprintf(o->why, sizeof(o->why), "bad token: %.100s", err);
	return 1;
}

/* fb_verify_origin - the token of the recipient argument, else of the report */
void
fb_verify_origin(const char *rcpt, const fb_result *res, const sl_token_ring *ring, fb_origin *o)
{
	memset(o, 0, sizeof(*o));
	fb_strlcpy(o->why, "no token", sizeof(o->why));
	if (rcpt != NULL && origin_from(rcpt, ring, o))
		return;
	if (res->orig_token[0])
		origin_from(res->orig_token, ring, o);
}

/* strip_comments - copy s without (nested) RFC 5322 comments */
static void
strip_comments(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	int depth = 0;

	for (; *s && o + 1 < outlen; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')' && depth > 0)
			depth--;
		else if (depth == 0)
			out[o++] = *s;
	}
	out[o] = '\0';
}

/* resinfo_dmarc - one "dmarc=result ... header.from=d" of an A-R: -1 none, 0 other, 1 aligned pass
 */
static int
resinfo_dmarc(char *ri, const char *from_domain)
{
	char *tok, *save = NULL, *res = NULL, *hfrom = NULL;

	while (isspace((unsigned char)*ri))
		ri++;
	if (strncasecmp(ri, "dmarc", 5) != 0 || !(ri[5] == '=' || isspace((unsigned char)ri[5])))
		return -1;
	for (tok = strtok_r(ri, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (strncasecmp(tok, "dmarc=", 6) == 0)
			res = tok + 6;
		else if (strncasecmp(tok, "header.from=", 12) == 0)
			hfrom = tok + 12;
	}
	if (res == NULL)
		return 0;
	return strcasecmp(res, "pass") == 0 && hfrom && strcasecmp(hfrom, from_domain) == 0;
}

/* authres_one - one A-R value: -1 not ours, else as resinfo_dmarc (none: 0 ok) */
static int
authres_one(const char *value, const char *authserv_id, const char *from_domain, int *pass,
            int *bad)
{
	char buf[2048], *ri, *save = NULL;
	size_t n;

	strip_comments(value, buf, sizeof(buf));
	ri = buf + strspn(buf, " \t");
	n = strcspn(ri, " \t;");
	if (n != strlen(authserv_id) || strncasecmp(ri, authserv_id, n) != 0)
		return -1;
	for (ri = strtok_r(ri + n, ";", &save); ri; ri = strtok_r(NULL, ";", &save)) {
		int d = resinfo_dmarc(ri, from_domain);

		*pass |= d == 1;
		*bad |= d == 0;
	}
	return 0;
}

/*
 * fb_verify_authres - may the From of a request be trusted, as far as this
 * site's own Authentication-Results say? 1 when there are none or they
 * hold an aligned dmarc=pass and no other dmarc result, else 0
 */
int
fb_verify_authres(const fb_header *hdr, size_t nhdr, const char *authserv_id, const char *from)
{
	const char *domain = sl_addr_domain(from);
	int ours = 0, pass = 0, bad = 0;

	if (authserv_id == NULL || *authserv_id == '\0')
		return 1;
	for (size_t i = 0; i < nhdr; i++)
		if (strcasecmp(hdr[i].name, "Authentication-Results") == 0 &&
		    authres_one(hdr[i].value, authserv_id, domain ? domain : "", &pass, &bad) == 0)
			ours++;
	return ours == 0 || (pass && !bad);
}

/* bind_reply - the SMISMEMBER answer into the records' bound flags */
static int
bind_reply(fb_result *res, const size_t *rec, size_t n, const sl_reply *rep)
{
	if (rep == NULL || rep->type != SL_REPLY_ARRAY || rep->elements != n) {
		sl_warn("redis SMISMEMBER: %s",
		        rep && rep->type == SL_REPLY_ERROR ? rep->str : "unexpected reply");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (rep->element[i]->type != SL_REPLY_INTEGER) {
			sl_warn("redis SMISMEMBER: unexpected reply");
			return -1;
		}
		res->rcpt[rec[i]].bound = rep->element[i]->integer == 1;
	}
	return 0;
}

/* bind_count - the records that may be bound: all of a bounce, the first of a complaint or
 * unsubscribe, none of anything else */
static size_t
bind_count(const fb_result *res)
{
	switch (res->kind) {
	case FB_KIND_BOUNCE:
		return res->nrcpt;
	case FB_KIND_COMPLAINT:
	case FB_KIND_UNSUBSCRIBE:
		return res->nrcpt ? 1 : 0;
	default:
		return 0;
	}
}

/* bind_records - look every record's hash up in the message's recipient set */
static int
bind_records(sl_redis *r, const sl_token_ring *ring, fb_result *res, const fb_origin *o)
{
	size_t m = bind_count(res);
	char key[256], (*hash)[SL_TOKEN_RCPT_HASH_LEN + 1] = sl_calloc(m + 1, sizeof(*hash));
	const char **argv = sl_calloc(m + 2, sizeof(*argv));
	size_t *rec = sl_calloc(m + 1, sizeof(*rec)), n = 0;
	sl_reply *rep = NULL;
	int rc = 0;

	for (size_t i = 0; i < m; i++)
		if (sl_token_rcpt_hash(ring, o->kid, o->msgid, res->rcpt[i].addr, hash[n]) == 0) {
			argv[2 + n] = hash[n];
			rec[n++] = i;
		}
	if (sl_key(key, sizeof(key), sl_redis_prefix(r), SL_KEY_RCPTS, o->msgid) < 0)
		n = 0;			/* no msgid: nothing can be bound */
	argv[0] = "SMISMEMBER", argv[1] = key;
	if (n > 0 && sl_redis_cmdv(r, &rep, (int)n + 2, argv, NULL) < 0) {
		sl_warn("redis SMISMEMBER %s: %s", key, sl_redis_errstr(r));
		rc = -1;
	} else if (n > 0)
		rc = bind_reply(res, rec, n, rep);
	sl_reply_free(rep);
	free(hash);
	free(argv);
	free(rec);
	return rc;
}

/* unsub_authres - a mailto unsubscribe whose From our own A-R does not back is unbound */
static void
unsub_authres(const fb_conf *fc, fb_result *res, const char *buf, size_t len)
{
	char err[64];
	fb_mail *m;

	if (res->kind != FB_KIND_UNSUBSCRIBE || res->nrcpt == 0 || !res->rcpt[0].bound ||
	    fc->authserv_id == NULL || *fc->authserv_id == '\0')
		return;
	if ((m = fb_mail_parse(buf, len, err, sizeof(err))) == NULL ||
	    !fb_verify_authres(m->hdr, m->nhdr, fc->authserv_id, res->rcpt[0].addr)) {
		res->rcpt[0].bound = 0;
		sl_info(
		    "unsubscribe from <%s>: no aligned dmarc=pass in our Authentication-Results",
		    res->rcpt[0].addr);
	}
	fb_mail_free(m);
}

/* first_unbound - the address of the first unbound record */
static const char *
first_unbound(const fb_result *res)
{
	for (size_t i = 0; i < res->nrcpt; i++)
		if (!res->rcpt[i].bound)
			return res->rcpt[i].addr;
	return "";
}

/* log_unbound - one line when a verified report names someone the message did not go to */
static void
log_unbound(const fb_result *res, const fb_origin *o)
{
	size_t n = 0, m = bind_count(res);

	for (size_t i = 0; i < m; i++)
		n += !res->rcpt[i].bound;
	if (n > 0)
		sl_info(
		    "msgid=%s: %zu of %zu record%s not a recipient of the message (first <%s>): "
		    "unverified",
		    o->msgid, n, m, m == 1 ? "" : "s", first_unbound(res));
}

/* fb_verify_bind - set every record's bound flag; -1 when Redis failed or refused */
int
fb_verify_bind(sl_redis *r, const sl_token_ring *ring, const fb_conf *fc, fb_result *res,
               const fb_origin *o, const char *buf, size_t len)
{
	for (size_t i = 0; i < res->nrcpt; i++)
		res->rcpt[i].bound = 0;
	if (!o->verified || o->version < 2 || res->nrcpt == 0)
		return 0;
	if (bind_records(r, ring, res, o) < 0)
		return -1;
	unsub_authres(fc, res, buf, len);
	log_unbound(res, o);
	return 0;
}

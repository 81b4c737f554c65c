/*
 * NAME
 *	feedback_bound 3 - STAND-IN: is a record's address a recipient of the token's message?
 * SYNOPSIS
 *	rc = fb_bound_standin(redis, secret, secretlen, origin, res);
 *	    0 done (rcpt->bound set for every record), -1 Redis failed
 * DESCRIPTION
 *	THIS FILE IS A STAND-IN. The real binding check belongs to
 *	feedback_verify.c and sl_token_rcpt_hash() in lib/token.c, written
 *	on another branch together with the milter code that writes the
 *	record. Until they land, this file implements the record as the
 *	design describes it, so that sluice-feedback's effects can rely on
 *	rcpt->bound: when feedback_verify.c is merged, delete this file and
 *	its call in feedback_main.c.
 *
 *	The record: a Redis set <prefix>rcpts:<msgid> (msgid from the
 *	token) whose members are, per recipient of the message, the first
 *	64 bits in lower-case hex of HMAC-SHA256(secret, msgid "\0"
 *	address), address lower-cased (sl_addr_normalize with
 *	SL_ADDR_LOWER_LOCAL), expiring after the token lifetime. A record
 *	is bound when its address's hash is a member. Without a verified
 *	token nothing is bound; one SMISMEMBER asks for all records at once.
 * ERRORS
 *	A Redis failure, an error reply or a reply of the wrong shape is -1,
 *	logged with the command and key.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "addr.h"
#include "log.h"
#include "redis.h"
#include "feedback.h"

/* bound_hash - hex of the first 64 bits of HMAC-SHA256(secret, msgid "\0" addr); -1 no address */
static int
bound_hash(const unsigned char *secret, size_t secretlen, const char *msgid, const char *addr,
	   char out[FB_RCPT_HASH_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE], msg[SL_ADDR_MAX + 16];
	char	norm[SL_ADDR_MAX + 1];
	unsigned mdlen = 0;
	size_t	ml = strlen(msgid), al;

	if (*addr == 0 || sl_addr_normalize(addr, norm, sizeof(norm), SL_ADDR_LOWER_LOCAL) < 0)
		return -1;
	al = strlen(norm);
	if (ml + 1 + al > sizeof(msg))
		return -1;
	memcpy(msg, msgid, ml);
	msg[ml] = 0;
	memcpy(msg + ml + 1, norm, al);
	HMAC(EVP_sha256(), secret, (int) secretlen, msg, ml + 1 + al, md, &mdlen);
	for (int i = 0; i < FB_RCPT_HASH_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* bound_records - the records whose address may be bound: all of a bounce, the first otherwise */
static size_t
bound_records(const fb_result *res)
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

/* fb_bound_standin - set rcpt->bound of every record; -1 when Redis failed */
int
fb_bound_standin(sl_redis *r, const unsigned char *secret, size_t secretlen, const fb_origin *o,
		 fb_result *res)
{
	size_t	n = bound_records(res), k = 0, *which;
	char	key[128], (*hash)[FB_RCPT_HASH_HEX + 1];
	const char **argv;
	sl_reply *rep = NULL;
	int	rc = 0;

	for (size_t i = 0; i < res->nrcpt; i++)
		res->rcpt[i].bound = 0;
	if (!o->verified || n == 0)
		return 0;
	snprintf(key, sizeof(key), "%srcpts:%s", sl_redis_prefix(r), o->msgid);
	argv = sl_malloc((n + 2) * sizeof(*argv));
	hash = sl_malloc(n * sizeof(*hash));
	which = sl_malloc(n * sizeof(*which));
	argv[0] = "SMISMEMBER";
	argv[1] = key;
	for (size_t i = 0; i < n; i++)
		if (bound_hash(secret, secretlen, o->msgid, res->rcpt[i].addr, hash[k]) == 0) {
			argv[2 + k] = hash[k];
			which[k++] = i;
		}
	if (k > 0 && sl_redis_cmdv(r, &rep, (int) k + 2, argv, NULL) < 0) {
		sl_warn("redis SMISMEMBER %s: %s", key, sl_redis_errstr(r));
		rc = -1;
	} else if (k > 0 && (rep == NULL || rep->type != SL_REPLY_ARRAY || rep->elements != k)) {
		sl_warn("redis SMISMEMBER %s: %s", key,
			rep && rep->type == SL_REPLY_ERROR ? rep->str : "unexpected reply");
		rc = -1;
	} else
		for (size_t j = 0; j < k; j++)
			res->rcpt[which[j]].bound = rep->element[j]->type == SL_REPLY_INTEGER
						    && rep->element[j]->integer == 1;
	sl_reply_free(rep);
	free(which);
	free(hash);
	free(argv);
	return rc;
}

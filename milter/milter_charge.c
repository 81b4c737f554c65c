/*
 * NAME
 *	milter_charge 3 - settle sluice-policyd's limit charges of a message
 * SYNOPSIS
 *	ml_charge_settle(conf, key, accepted, rcpts, nrcpt)
 *	ml_charge_finish(conf, claim, accepted)
 *	ml_charge_final(rcpts, nrcpt, addr, final)
 * DESCRIPTION
 *	sluice-policyd charges limits at RCPT and notes each charge in the
 *	SMTP connection's charge record (lib/charge.c). When a transaction
 *	ends, the milter settles that record: a message that leaves keeps
 *	the charges of its final recipients (suppressed ones removed) and
 *	its per-message charges; everything else is refunded, and so is
 *	every charge of a message that does not leave (refused at end of
 *	headers or data, tempfailed, aborted, client gone).
 *
 *	At end of message the record is claimed by the end of message
 *	script itself (milter_redis.c), which knows the recipients that
 *	stay (those not suppressed): it returns the charges to refund and
 *	those kept, and ml_charge_finish() gives back the first when the
 *	message leaves, both when it does not after all (refused by the MTA
 *	or tempfailed after the script). So a message with nothing to
 *	refund costs no call beyond that one script; a refund is its own
 *	call. Where no end of message script runs (RSET, disconnect,
 *	refusal before the end, the script failed), ml_charge_settle()
 *	claims and refunds in two calls of its own.
 * ERRORS
 *	Redis trouble is logged: the charges stand (an over-count until the
 *	limit's window or bucket moves on). Mail is never held back for it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charge.h"
#include "log.h"
#include "milter.h"

/*
 * ml_charge_final - the addresses of the recipients that stay, normalised
 * as policyd saw them (NULL entries skipped); how many
 */
size_t
ml_charge_final(const char *const *rcpts, size_t nrcpt, char (*addr)[SL_ADDR_MAX + 1],
                const char **final)
{
	size_t n = 0;

	/* policyd keeps an address it cannot normalise under "" too: so do we */
	for (size_t i = 0; i < nrcpt; i++)
		if (rcpts[i]) {
			if (sl_addr_normalize(rcpts[i], addr[n], sizeof(addr[n]), 0) < 0)
				addr[n][0] = '\0';
			final[n] = addr[n], n++;
		}
	return n;
}

/* refunded - log the outcome of a settlement */
static void
refunded(int rc, int accepted, const char *err)
{
	if (rc < 0)
		sl_warn("limit charges not settled (they stand): %s", err);
	else if (rc > 0)
		sl_info("limit charges refunded: %d (%s)", rc,
		        accepted ? "recipients that did not stay" : "message not accepted");
}

/* ml_charge_settle - keep the final recipients' charges, refund the others */
void
ml_charge_settle(const ml_conf *c, const char *key, int accepted, char *const *rcpts, size_t nrcpt)
{
	char(*addr)[SL_ADDR_MAX + 1] = sl_calloc(nrcpt + 1, sizeof(*addr));
	const char **final = sl_calloc(nrcpt + 1, sizeof(*final));
	char err[512];
	size_t n = 0;
	sl_redis *r;
	int rc;

	if (c->pool == NULL || key == NULL || *key == '\0')
		goto done;
	if (accepted)
		n = ml_charge_final((const char *const *)rcpts, nrcpt, addr, final);
	r = ml_redis_get(c->pool);
	rc = sl_charge_settle(r, key, accepted, final, n, err, sizeof(err));
	ml_redis_put(c->pool, r);
	refunded(rc, accepted, err);
done:
	free(addr);
	free(final);
}

/*
 * ml_charge_finish - settle what the end of message script claimed: refund
 * the charges of recipients that did not stay, or all when the message
 * does not leave after all; one call, none when there is nothing to refund
 */
void
ml_charge_finish(const ml_conf *c, ml_claim *cl, int accepted)
{
	size_t n = cl->nrefund + (accepted ? 0 : cl->nkept);
	const char **all = sl_calloc(5 * n + 1, sizeof(*all));
	char err[512];
	sl_redis *r;

	if (cl->rep == NULL || n == 0 || c == NULL || c->pool == NULL)
		goto done;
	memcpy(all, cl->refund, 5 * cl->nrefund * sizeof(*all));
	if (!accepted)
		memcpy(all + 5 * cl->nrefund, cl->kept, 5 * cl->nkept * sizeof(*all));
	r = ml_redis_get(c->pool);
	refunded(sl_charge_refund(r, all, n, err, sizeof(err)), accepted, err);
	ml_redis_put(c->pool, r);
done:
	free(all);
	free(cl->refund);
	free(cl->kept);
	sl_reply_free(cl->rep);
	memset(cl, 0, sizeof(*cl));
}

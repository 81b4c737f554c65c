/*
 * NAME
 *	milter_charge 3 - settle sluice-policyd's limit charges of a message
 * SYNOPSIS
 *	ml_charge_settle(conf, key, accepted, rcpts, nrcpt)
 * DESCRIPTION
 *	sluice-policyd charges limits at RCPT and notes each charge in the
 *	SMTP connection's charge record (lib/charge.c). When a transaction
 *	ends, the milter settles that record: a message that leaves keeps
 *	the charges of its final recipients (suppressed ones removed) and
 *	its per-message charges; everything else is refunded, and so is
 *	every charge of a message that does not leave (refused at end of
 *	headers or data, tempfailed, aborted, client gone).
 * ERRORS
 *	Redis trouble is logged: the charges stand (an over-count until the
 *	limit's window or bucket moves on). Mail is never held back for it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "charge.h"
#include "log.h"
#include "milter.h"

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
	/* policyd keeps an address it cannot normalise under "" too: so do we */
	for (size_t i = 0; accepted && i < nrcpt; i++)
		if (rcpts[i]) {
			if (sl_addr_normalize(rcpts[i], addr[n], sizeof(addr[n]), 0) < 0)
				addr[n][0] = '\0';
			final[n] = addr[n], n++;
		}
	r = ml_redis_get(c->pool);
	rc = sl_charge_settle(r, key, accepted, final, n, err, sizeof(err));
	ml_redis_put(c->pool, r);
	if (rc < 0)
		sl_warn("limit charges not settled (they stand): %s", err);
	else if (rc > 0)
		sl_info("limit charges refunded: %d (%s)", rc,
		        accepted ? "recipients that did not stay" : "message not accepted");
done:
	free(addr);
	free(final);
}

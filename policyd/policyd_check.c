/*
 * NAME
 *	policyd_check 3 - the decision for one policy request
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	void pd_check_start(pd_server *srv, const pd_request *req,
 *			    int first_rcpt, pd_done_fn *done, void *arg)
 * DESCRIPTION
 *	Walking skeleton: every request is answered DUNNO and logged on one
 *	line. The Redis-backed checks replace this in the next commits.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "policyd.h"

/* pd_check_start - decide one request; done() is called exactly once */
void
pd_check_start(pd_server *srv, const pd_request *req, int first_rcpt,
	       pd_done_fn *done, void *arg)
{
	(void) srv, (void) first_rcpt;
	pd_metrics_request();
	sl_info("request: state=%s client=%s sasl=%s from=<%s> to=<%s> action=DUNNO",
		pd_request_str(req, "protocol_state"), pd_request_str(req, "client_address"),
		pd_request_str(req, "sasl_username"), pd_request_str(req, "sender"),
		pd_request_str(req, "recipient"));
	done("DUNNO", 0, arg);
}

/*
 * NAME
 *	suppress 3h - the reasons a suppression entry may carry
 * SYNOPSIS
 *	sl_supp_reasons: the documented reasons, NULL-terminated
 *	(doc/redis-keys.md). sl_supp_reason_shown() gives the reason to put
 *	in an SMTP reply or log line: a documented one as it is, anything
 *	else (a hand-written value) as "suppressed", so that no free text
 *	from Redis reaches a sender.
 */
#ifndef SL_SUPPRESS_H
#define SL_SUPPRESS_H

extern const char *const sl_supp_reasons[];

const char *sl_supp_reason_shown(const char *reason);

#endif

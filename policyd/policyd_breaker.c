/*
 * NAME
 *	policyd_breaker 3 - circuit breaker and fail actions for Redis trouble
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	int pd_breaker_allow(pd_breaker *b, const pd_config *cfg,
 *			     long long now_ms)
 *	void pd_breaker_result(pd_breaker *b, const pd_config *cfg, int ok,
 *			       long long now_ms)
 * DESCRIPTION
 *	Every request to Redis carries the per-request timeout (default
 *	100 ms), so smtpd never waits longer than that. When Redis is down
 *	even that is too much: after breaker_failures consecutive failures
 *	(timeouts, lost connection) the breaker opens and requests are
 *	answered at once with the configured fail action, without asking
 *	Redis. After breaker_cooldown ms one request is let through as a
 *	probe (half-open): success closes the breaker, failure opens it for
 *	another cooldown. Reconnection itself (backoff) is the Redis client's
 *	business (lib/redis_async.c).
 *
 *	The fail action of a request is DEFER_IF_PERMIT when a check that
 *	applies to it is configured "defer", else DUNNO. Tenant status
 *	follows limit_fail_action.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "policyd.h"

struct pd_breaker {
	enum pd_breaker_state state;
	int	failures;		/* consecutive */
	long long open_until_ms;
	int	probe_out;		/* half-open: the probe is in flight */
};

/* pd_now_ms - monotonic milliseconds */
long long
pd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pd_breaker_new - a closed breaker */
pd_breaker *
pd_breaker_new(void)
{
	return sl_calloc(1, sizeof(pd_breaker));
}

/* pd_breaker_free - release a breaker */
void
pd_breaker_free(pd_breaker *b)
{
	free(b);
}

/* pd_breaker_state - for /metrics and /healthz */
enum pd_breaker_state
pd_breaker_state(const pd_breaker *b)
{
	return b->state;
}

/* pd_breaker_allow - may this request ask Redis? */
int
pd_breaker_allow(pd_breaker *b, const pd_config *cfg, long long now_ms)
{
	(void) cfg;
	switch (b->state) {
	case PD_BREAKER_CLOSED:
		return 1;
	case PD_BREAKER_OPEN:
		if (now_ms < b->open_until_ms)
			return 0;
		b->state = PD_BREAKER_HALF_OPEN;
		b->probe_out = 1;
		sl_info("circuit breaker half-open: probing redis");
		return 1;
	case PD_BREAKER_HALF_OPEN:
		if (b->probe_out)
			return 0;
		b->probe_out = 1;
		return 1;
	}
	return 1;
}

/* pd_breaker_result - count a success or failure of a Redis request */
void
pd_breaker_result(pd_breaker *b, const pd_config *cfg, int ok, long long now_ms)
{
	if (ok) {
		if (b->state != PD_BREAKER_CLOSED)
			sl_info("circuit breaker closed: redis answers again");
		b->state = PD_BREAKER_CLOSED;
		b->failures = 0;
		b->probe_out = 0;
		return;
	}
	b->failures++;
	if (b->state == PD_BREAKER_HALF_OPEN
	    || (b->state == PD_BREAKER_CLOSED && b->failures >= cfg->breaker_failures)) {
		if (b->state == PD_BREAKER_CLOSED)
			sl_warn("circuit breaker open after %d failures: answering without redis "
				"for %d ms", b->failures, cfg->breaker_cooldown_ms);
		b->state = PD_BREAKER_OPEN;
		b->open_until_ms = now_ms + cfg->breaker_cooldown_ms;
		b->probe_out = 0;
	}
}

/* pd_fail_action - the answer when the checks could not run */
const char *
pd_fail_action(const pd_config *cfg, int limits, int suppression, char *out, size_t outlen)
{
	if ((limits && cfg->limit_fail == PD_FAIL_DEFER)
	    || (suppression && cfg->suppress_fail == PD_FAIL_DEFER))
		snprintf(out, outlen, "DEFER_IF_PERMIT 4.3.0 Policy service temporarily unavailable, "
			 "try again later");
	else
		snprintf(out, outlen, "DUNNO");
	return out;
}

/*
 * pd_redis_error - an error reply from Redis (the message names the key):
 * logged at most once a second, saying when more were not, so a Redis at
 * maxmemory cannot flood the log (lib/redis_async.c counts the replies)
 */
void
pd_redis_error(const char *what, const char *msg)
{
	static long long last_ms;
	static unsigned long unlogged;
	long long now = pd_now_ms();

	if (now - last_ms < 1000) {
		unlogged++;
		return;
	}
	sl_warn("redis error reply (%s): %s%s", what, msg,
	        unlogged ? " (and more not logged)" : "");
	last_ms = now;
	unlogged = 0;
}

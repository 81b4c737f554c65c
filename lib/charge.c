/*
 * NAME
 *	charge 3 - limit charges of one SMTP transaction, and their refund
 * SYNOPSIS
 *	#include "charge.h"
 *
 *	int sl_charge_key(prefix, client_addr, client_port, server_addr,
 *			  server_port, out, outlen)
 *	int sl_charge_settle(r, key, accepted, final, nfinal, err, errlen)
 *	void sl_charge_prepare(void)
 * DESCRIPTION
 *	sluice-policyd charges limits at RCPT, where Postfix can still
 *	refuse one recipient. So that a message that never leaves costs
 *	nothing, its decision script also appends each charge to a record
 *	named after the SMTP connection (client and server address and
 *	port, which sluice-milter sees as macros too), one hash:
 *	  instance	Postfix's transaction id the charges belong to; a
 *			new transaction on the connection starts afresh
 *	  m		charges of per-message limits
 *	  r:<address>	charges for that recipient (domain lowercased)
 *	each value a list of lines "<kind> <cost> <p1> <stats> <counter>"
 *	(kind r: GCRA rate, p1 its interval in ms; kind w: calendar window).
 *
 *	sluice-milter settles the record when the transaction ends, in two
 *	steps. claim_script takes the record away atomically (DEL) and
 *	returns the charges to refund: all of them for a message that does
 *	not leave (refused, tempfailed, aborted, client gone), else those of
 *	recipients that are not among the final ones (removed as suppressed,
 *	refused by a later restriction). refund_script then gives each back:
 *	a window counter is decremented (never below 0, its TTL kept), a
 *	rate's level drained to now and lowered by the cost (never below 0:
 *	exactly the level it would have had without the charge), and the
 *	limit's rulestats counts "refunded". A counter that has expired
 *	meanwhile is left alone (sl_charge_refund_script, also used by
 *	sluice-policyd on Redis Cluster to give back what a decision split
 *	by slot charged before a later step refused). Because the claim removes the record
 *	first, a charge is refunded at most once, whoever settles.
 *
 *	A caller's own script may claim instead (SL_LUA_CHARGE_CLAIM in
 *	charge.h: sluice-milter's end of message script, so that a message
 *	costs it one round trip); it gets the charges to refund and those
 *	kept, and gives back with sl_charge_refund() what it must.
 * ERRORS
 *	Any failure leaves the charges standing: an over-count, never an
 *	under-count.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charge.h"
#include "keyspace.h"
#include "log.h"

#define REFUND_BATCH 256 /* charges per refund call */

/*
 * KEYS[1] the record; ARGV[1] 'c' (the message leaves) or 'a' (it does
 * not), then the final recipients. Returns 5 strings per charge to refund.
 */
static sl_script claim_script = {.source = SL_LUA_CHARGE_CLAIM
                                 "local keep = nil\n"
                                 "if ARGV[1] == 'c' and #ARGV >= 2 then\n"
                                 "  keep = {m = true}\n"
                                 "  for i = 2, #ARGV do keep['r:' .. ARGV[i]] = true end\n"
                                 "end\n"
                                 "local out = sl_charge_claim(KEYS[1], keep)\n"
                                 "return out\n"};

/*
 * KEYS: counter, stats per charge, or (for 2n keys) only the n counters;
 * ARGV kind, cost, p1 per charge (n = #ARGV / 3). Without the stats hashes every
 * key may be in one Cluster slot (sluice-policyd gives back a decision's
 * own charges with it, counted nowhere). A key of the wrong type (written
 * by hand) is skipped. Returns how many were given back.
 */
sl_script sl_charge_refund_script = {
    .source = "local t = redis.call('TIME')\n"
              "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
              "local n, nc = 0, #ARGV / 3\n"
              "local paired = #KEYS == 2 * nc\n"
              "for i = 1, nc do\n"
              "  local key = paired and KEYS[2 * i - 1] or KEYS[i]\n"
              "  local stats = paired and KEYS[2 * i] or nil\n"
              "  local kind, cost, p1 = ARGV[3 * i - 2], tonumber(ARGV[3 * i - 1]), "
              "tonumber(ARGV[3 * i])\n"
              "  local done = false\n"
              "  if kind == 'w' and cost then\n"
              "    local v = redis.pcall('GET', key)\n"
              "    if type(v) == 'string' and tonumber(v) then\n"
              "      local left = tonumber(v) - cost\n"
              "      if left < 0 then left = 0 end\n"
              "      redis.call('SET', key, tostring(left), 'KEEPTTL')\n"
              "      done = true\n"
              "    end\n"
              "  elseif kind == 'r' and cost and p1 and p1 > 0 then\n"
              "    local h = redis.pcall('HMGET', key, 'level', 'ts')\n"
              "    if type(h) == 'table' and not h.err and tonumber(h[1]) then\n"
              "      local level, ts = tonumber(h[1]), tonumber(h[2]) or now\n"
              "      if now > ts then level = level - (now - ts) / p1 end\n"
              "      level = level - cost\n"
              "      if level < 0 then level = 0 end\n"
              "      redis.call('HSET', key, 'level', tostring(level), 'ts', tostring(now))\n"
              "      redis.call('PEXPIRE', key, math.ceil(level * p1) + 1000)\n"
              "      done = true\n"
              "    end\n"
              "  end\n"
              "  if done then\n"
              "    n = n + 1\n"
              "    if stats then redis.pcall('HINCRBY', stats, 'refunded', 1) end\n"
              "  end\n"
              "end\n"
              "return n\n"};

/* part_ok - one part of a connection's name: non-empty, known, no blanks */
static int
part_ok(const char *s)
{
	if (s == NULL || *s == '\0' || strcmp(s, "unknown") == 0 || strlen(s) > 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p >= 127 || *p == '/' || *p == ',')
			return 0;
	return 1;
}

/* sl_charge_key - the charge record of one SMTP connection; -1 when unnamed */
int
sl_charge_key(const char *prefix, const char *client_addr, const char *client_port,
              const char *server_addr, const char *server_port, char *out, size_t outlen)
{
	char conn[SL_KEY_MAX];
	int n;

	if (!part_ok(client_addr) || !part_ok(client_port) || !part_ok(server_addr) ||
	    !part_ok(server_port))
		return -1;
	n = snprintf(conn, sizeof(conn), "%s/%s,%s/%s", client_addr, client_port, server_addr,
	             server_port);
	if (n <= 0 || (size_t)n >= sizeof(conn))
		return -1;
	return sl_key(out, outlen, prefix, SL_KEY_CHARGE, conn);
}

/* sl_charge_prepare - the scripts' SHA1s, once before threads share them */
void
sl_charge_prepare(void)
{
	(void)sl_script_sha1(&claim_script);
	(void)sl_script_sha1(&sl_charge_refund_script);
}

/* claim - take the record away; the reply lists what to refund */
static int
claim(sl_redis *r, const char *key, int accepted, const char *const *final, size_t nfinal,
      sl_reply **rep, char *err, size_t errlen)
{
	const char **argv = sl_calloc(nfinal + 2, sizeof(*argv));
	size_t argc = 0;
	int rc = 0;

	argv[argc++] = key;
	argv[argc++] = accepted ? "c" : "a";
	for (size_t i = 0; accepted && i < nfinal; i++)
		if (final[i])
			argv[argc++] = final[i];
	if (sl_redis_eval(r, &claim_script, rep, 1, (int)argc, argv, NULL) < 0) {
		snprintf(err, errlen, "redis: %s", sl_redis_errstr(r));
		rc = -1;
	} else if ((*rep)->type != SL_REPLY_ARRAY || (*rep)->elements % 5 != 0) {
		snprintf(err, errlen, "redis: claiming %s: %s", key,
		         (*rep)->type == SL_REPLY_ERROR ? (*rep)->str : "unexpected reply");
		rc = -1;
	}
	free(argv);
	return rc;
}

/* refund_batch - give back charges [from, to) of 5 strings each */
static int
refund_batch(sl_redis *r, const char *const *c, size_t from, size_t to, char *err, size_t errlen)
{
	size_t n = to - from, k = 0;
	const char **argv = sl_calloc(5 * n, sizeof(*argv));
	sl_reply *rep = NULL;
	int rc = 0;

	for (size_t i = from; i < to; i++) {
		argv[k++] = c[5 * i + 4]; /* counter */
		argv[k++] = c[5 * i + 3]; /* rulestats */
	}
	for (size_t i = from; i < to; i++)
		for (size_t f = 0; f < 3; f++)
			argv[k++] = c[5 * i + f];
	if (sl_redis_eval(r, &sl_charge_refund_script, &rep, (int)(2 * n), (int)k, argv, NULL) < 0) {
		snprintf(err, errlen, "redis: %s", sl_redis_errstr(r));
		rc = -1;
	} else if (rep->type != SL_REPLY_INTEGER) {
		snprintf(err, errlen, "redis: refund: %s",
		         rep->type == SL_REPLY_ERROR ? rep->str : "unexpected reply");
		rc = -1;
	}
	sl_reply_free(rep);
	free(argv);
	return rc;
}

/*
 * refund_one_slot - on Redis Cluster: charge i alone (its counter), then
 * its "refunded" statistic by its own call (another slot)
 */
static int
refund_one_slot(sl_redis *r, const char *const *c, size_t i, char *err, size_t errlen)
{
	const char *argv[4] = {c[5 * i + 4], c[5 * i], c[5 * i + 1], c[5 * i + 2]};
	sl_reply *rep = NULL;
	int rc = 0;

	if (sl_redis_eval(r, &sl_charge_refund_script, &rep, 1, 4, argv, NULL) < 0) {
		snprintf(err, errlen, "redis: %s", sl_redis_errstr(r));
		rc = -1;
	} else if (rep->type != SL_REPLY_INTEGER) {
		snprintf(err, errlen, "redis: refund: %s",
		         rep->type == SL_REPLY_ERROR ? rep->str : "unexpected reply");
		rc = -1;
	} else if (rep->integer == 1) {
		sl_reply_free(rep);
		rep = NULL;
		if (sl_redis_cmd(r, &rep, "HINCRBY %s refunded 1", c[5 * i + 3]) < 0 ||
		    rep->type == SL_REPLY_ERROR)
			sl_warn("redis: refund of %s not counted in %s", c[5 * i + 4], c[5 * i + 3]);
	}
	sl_reply_free(rep);
	return rc;
}

/* sl_charge_refund - give back n claimed charges (5 strings each); -1 on Redis trouble */
int
sl_charge_refund(sl_redis *r, const char *const *charges, size_t n, char *err, size_t errlen)
{
	int rc = 0;

	if (sl_redis_cluster(r)) { /* each charge's keys are in slots of their own */
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = refund_one_slot(r, charges, i, err, errlen);
		return rc < 0 ? -1 : (int)n;
	}

	for (size_t i = 0; rc == 0 && i < n; i += REFUND_BATCH)
		rc = refund_batch(r, charges, i, i + REFUND_BATCH < n ? i + REFUND_BATCH : n, err,
		                  errlen);
	return rc < 0 ? -1 : (int)n;
}

/* sl_charge_strings - the 5n strings of a claimed list; NULL (err) if malformed */
const char **
sl_charge_strings(const sl_reply *list, size_t *n, char *err, size_t errlen)
{
	const char **s;

	if (list == NULL || list->type != SL_REPLY_ARRAY || list->elements % 5 != 0) {
		snprintf(err, errlen, "redis: claiming charges: %s",
		         list && list->type == SL_REPLY_ERROR ? list->str : "unexpected reply");
		return NULL;
	}
	s = sl_calloc(list->elements + 1, sizeof(*s));
	for (size_t i = 0; i < list->elements; i++) {
		if (list->element[i]->type != SL_REPLY_STRING) {
			snprintf(err, errlen, "redis: claiming charges: unexpected reply");
			free(s);
			return NULL;
		}
		s[i] = list->element[i]->str;
	}
	*n = list->elements / 5;
	return s;
}

/* sl_charge_settle - keep what left, refund the rest; -1 on Redis trouble */
int
sl_charge_settle(sl_redis *r, const char *key, int accepted, const char *const *final,
                 size_t nfinal, char *err, size_t errlen)
{
	sl_reply *c = NULL;
	const char **s;
	size_t n = 0;
	int rc;

	if (claim(r, key, accepted, final, nfinal, &c, err, errlen) < 0) {
		sl_reply_free(c);
		return -1;
	}
	if ((s = sl_charge_strings(c, &n, err, errlen)) == NULL) {
		sl_reply_free(c);
		return -1;
	}
	rc = sl_charge_refund(r, s, n, err, errlen);
	free(s);
	sl_reply_free(c);
	return rc;
}

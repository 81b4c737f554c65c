/*
 * NAME
 *	charge 3h - limit charges of one SMTP transaction, and their refund
 * SYNOPSIS
 *	sl_charge_key() names the charge record of one SMTP connection:
 *	sluice-policyd appends to it what it charged at RCPT (its decision
 *	script, policyd_limits.c), sluice-milter settles it when the
 *	transaction ends (sl_charge_settle(): keep what left, refund the
 *	rest). The record and its use are described in doc/redis-keys.md,
 *	"Charge records"; why charges are taken at RCPT and refunded, in
 *	doc/policyd.md, "Refunds".
 * ERRORS
 *	sl_charge_key() returns -1 when the connection cannot be named (an
 *	empty or "unknown" part, or too long): there is then no record and
 *	nothing is refunded. sl_charge_settle() returns -1 with err on Redis
 *	trouble or an error reply; the charges then stand (a refund is only
 *	ever made on positive knowledge, never by default).
 */
#ifndef SL_CHARGE_H
#define SL_CHARGE_H

#include <stddef.h>

#include "redis.h"

#define SL_CHARGE_KEY_MAX 400
#define SL_CHARGE_TTL_S 3600 /* a record outlives any transaction */

int sl_charge_key(const char *prefix, const char *client_addr, const char *client_port,
                  const char *server_addr, const char *server_port, char *out, size_t outlen);

/*
 * Settle a transaction's charges. accepted: the message leaves for the
 * nfinal addresses in final (normalised with sl_addr_normalize(..., 0),
 * as policyd saw them; "" for one that does not normalise, which policyd
 * keeps under "" too): charges for other recipients are refunded, the
 * per-message ones kept. Not accepted: everything is refunded. The
 * record is gone afterwards either way. Returns the number of charges
 * refunded, or -1.
 */
int sl_charge_settle(sl_redis *r, const char *key, int accepted, const char *const *final,
                     size_t nfinal, char *err, size_t errlen);
void sl_charge_prepare(void);

/*
 * For a caller whose own script claims the record (sluice-milter's end of
 * message script): SL_LUA_CHARGE_CLAIM defines the Lua function
 * sl_charge_claim(key, keep), which takes the record away (DEL) and
 * returns two lists of 5 strings per charge: those to refund and those
 * kept (keep: a set of the fields kept, "m" and "r:<address>"; nil keeps
 * none). sl_charge_strings() checks such a list from the reply and gives
 * its strings (free() the array); sl_charge_refund() gives back n charges
 * of them. Returns the number refunded, or -1.
 */
#define SL_LUA_CHARGE_CLAIM                                                                        \
	"local function sl_charge_claim(key, keep)\n"                                              \
	"  local h = redis.call('HGETALL', key)\n"                                                 \
	"  local out, kept = {}, {}\n"                                                             \
	"  if #h == 0 then return out, kept end\n"                                                 \
	"  redis.call('DEL', key)\n"                                                               \
	"  for i = 1, #h, 2 do\n"                                                                  \
	"    if h[i] ~= 'instance' then\n"                                                         \
	"      local dst = (keep and keep[h[i]]) and kept or out\n"                                \
	"      for line in string.gmatch(h[i + 1], '[^\\n]+') do\n"                                \
	"        local k, c, p, s, key = string.match(line, '^(%S+) (%S+) (%S+) (%S+) (.+)$')\n"   \
	"        if key then\n"                                                                    \
	"          dst[#dst + 1] = k; dst[#dst + 1] = c; dst[#dst + 1] = p\n"                      \
	"          dst[#dst + 1] = s; dst[#dst + 1] = key\n"                                       \
	"        end\n"                                                                            \
	"      end\n"                                                                              \
	"    end\n"                                                                                \
	"  end\n"                                                                                  \
	"  return out, kept\n"                                                                     \
	"end\n"
const char **sl_charge_strings(const sl_reply *list, size_t *n, char *err, size_t errlen);

/*
 * The refund script: KEYS counter and stats hash per charge (the stats
 * count "refunded"), or the n counters alone; ARGV kind, cost, p1 per
 * charge, as in a claimed list. Returns how many were given back.
 */
extern sl_script sl_charge_refund_script;
int sl_charge_refund(sl_redis *r, const char *const *charges, size_t n, char *err, size_t errlen);

#endif

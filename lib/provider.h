/*
 * NAME
 *	provider 3h - which mailbox provider a recipient domain belongs to
 * SYNOPSIS
 *	p = sl_providers_new()				the built-in rules
 *	sl_providers_add(p, name, pattern, mx, err, len)	an operator rule
 *	sl_providers_conf(p, sec, err, len)		the rules of logd { provider }
 *	name = sl_provider_of(p, domain, relay_host)	"other" when none matches
 * DESCRIPTION
 *	Shared by sluice-logd (events, blocks) and sluice-policyd (reactions
 *	to a block at RCPT), so both group recipients the same way. A rule
 *	names a provider and a domain pattern: "gmail.com" matches that
 *	domain, ".google.com" (leading dot) the domain and its subdomains. A
 *	domain rule (mx = 0) is matched against the recipient's domain, an MX
 *	rule (mx = 1) against the relay host of a delivery (the MX Postfix
 *	talked to), so a domain hosted at Google or Office 365 is found too;
 *	at RCPT there is no relay host yet, so sluice-policyd relies on the
 *	domains sluice-logd learnt that way (pdomains:<provider>,
 *	doc/redis-keys.md). Operator rules come first, in the order given;
 *	then the defaults: google, yahoo (Yahoo and AOL), microsoft, docomo,
 *	au (ezweb.ne.jp, au.com), softbank (softbank.ne.jp, i.softbank.jp).
 */
#ifndef SL_PROVIDER_H
#define SL_PROVIDER_H

#include <confuse.h>
#include <stddef.h>

#define SL_PROVIDER_NAME_MAX 32 /* with its NUL */

typedef struct sl_providers sl_providers;

sl_providers *sl_providers_new(void);
void sl_providers_free(sl_providers *p);
int sl_providers_add(sl_providers *p, const char *name, const char *pattern, int mx, char *err,
                     size_t errlen);
int sl_providers_conf(sl_providers *p, cfg_t *logd_sec, char *err, size_t errlen);
const char *sl_provider_of(const sl_providers *p, const char *domain, const char *relay_host);
int sl_provider_name_ok(const char *s);

#endif

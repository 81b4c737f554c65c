/*
 * NAME
 *	addr 3h - e-mail address and network helpers
 * SYNOPSIS
 *	sl_addr_normalize() strips <>, lowercases the domain (and, when asked,
 *	the local part) and optionally removes a +tag. sl_addr_domain() points
 *	at the domain of an address. sl_orgdomain() gives the organizational
 *	(registrable) domain from the public suffix list (libpsl).
 *	sl_netlist_*() matches client addresses against CIDR lists.
 * ERRORS
 *	Functions returning int give 0 on success, -1 on malformed input.
 */
#ifndef SL_ADDR_H
#define SL_ADDR_H

#include <stddef.h>

#define SL_ADDR_MAX 320			/* 64 + 1 + 255 */

#define SL_ADDR_STRIP_TAG  1		/* remove "+tag" from the local part */
#define SL_ADDR_LOWER_LOCAL 2		/* lowercase the local part too */

int	sl_addr_normalize(const char *in, char *out, size_t outlen, int flags);

/*
 * sl_addr_forms() - the distinct forms a stored address may have, for
 * suppression lookups: as written (domain lowercased), then, as allowed by
 * flags (SL_ADDR_LOWER_LOCAL, SL_ADDR_STRIP_TAG), lowercased, without the
 * +tag, both. Returns how many (0 for a malformed address).
 */
#define SL_ADDR_FORMS_MAX 4
int	sl_addr_forms(const char *in, int flags,
		      char out[SL_ADDR_FORMS_MAX][SL_ADDR_MAX + 1]);
const char *sl_addr_domain(const char *addr);
int	sl_orgdomain(const char *domain, char *out, size_t outlen);
int	sl_domain_is_under(const char *domain, const char *parent);

typedef struct sl_netlist sl_netlist;

sl_netlist *sl_netlist_new(void);
int	sl_netlist_add(sl_netlist *nl, const char *cidr);
int	sl_netlist_match(const sl_netlist *nl, const char *addr);
void	sl_netlist_free(sl_netlist *nl);

#endif

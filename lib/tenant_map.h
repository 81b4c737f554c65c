/*
 * NAME
 *	tenant_map 3h - which tenant a client is, and what it may send
 * SYNOPSIS
 *	const struct sl_site_tenant *t =
 *	    sl_tenant_map_find(conf->site, redis_tenant, sasl, addr, port, &by_ip);
 *	sl_tenant_sender_ok(t, senders, sasl, address, sasl_domains)
 * DESCRIPTION
 *	The one definition of the tenant of a client, used by sluice-policyd
 *	(limits, TLS and envelope sender) and sluice-milter (binding,
 *	signing, From header), so both always agree. The rules are the
 *	tenants of the site model (site.h), which reads and checks the
 *	sections. See tenant_map.c.
 */
#ifndef SL_TENANT_MAP_H
#define SL_TENANT_MAP_H

#include <stddef.h>

#include "addr.h"
#include "site.h"

const struct sl_site_tenant *sl_tenant_map_find(const sl_site *m, const char *redis_tenant,
                                                const char *sasl_user, const char *client_addr,
                                                const char *server_port, int *by_ip);
int sl_tenant_senders_parse(const char *s);
const char *sl_tenant_senders_name(enum sl_senders s);
int sl_tenant_domain_ok(const char **list, size_t n, const char *csv, const char *domain);
enum sl_senders sl_tenant_senders_effective(enum sl_senders s, int by_ip);
int sl_tenant_sender_ok(const struct sl_site_tenant *t, enum sl_senders senders,
                        const char *sasl_user, const char *address, const char *sasl_domains);

#endif

/*
 * NAME
 *	tenant_map 3h - which tenant a client is, and what it may send
 * SYNOPSIS
 *	sl_tenant_map *m = sl_tenant_map_load(conf);   errors via sl_conf_error
 *	const sl_tenant_rule *t = sl_tenant_map_find(m, redis_tenant, sasl, addr, port, &by_ip);
 *	sl_tenant_sender_ok(t, senders, sasl, address, sasl_domains)
 *	sl_tenant_map_free(m);
 * DESCRIPTION
 *	The one definition of the tenant of a client, used by sluice-policyd
 *	(limits, TLS and envelope sender) and sluice-milter (binding,
 *	signing, From header), so both always agree. See tenant_map.c.
 */
#ifndef SL_TENANT_MAP_H
#define SL_TENANT_MAP_H

#include <stddef.h>

#include "addr.h"
#include "conf.h"

/* allowed_senders: unset keeps the From binding only (as before) */
enum sl_senders { SL_SENDERS_UNSET = 0, SL_SENDERS_DOMAINS, SL_SENDERS_USERS, SL_SENDERS_ANY };

typedef struct sl_tenant_rule {
	const char *name;
	const char *default_category; /* "" for none */
	const char **domains;         /* "example.com" or "*.example.com" */
	size_t ndomains;
	const char **users; /* sasl_users */
	size_t nusers;
	sl_netlist *clients; /* NULL: not IP-authenticated */
	const char **ports;  /* client_ports: the listeners where clients count; none: all */
	size_t nports;
	int require_tls; /* 1: plain-text submissions refused */
	enum sl_senders senders;
} sl_tenant_rule;

typedef struct sl_tenant_map sl_tenant_map;

void sl_tenant_map_check(sl_conf *c);
sl_tenant_map *sl_tenant_map_load(sl_conf *c);
void sl_tenant_map_free(sl_tenant_map *m);
const sl_tenant_rule *sl_tenant_map_get(const sl_tenant_map *m, const char *name);
const sl_tenant_rule *sl_tenant_map_find(const sl_tenant_map *m, const char *redis_tenant,
                                         const char *sasl_user, const char *client_addr,
                                         const char *server_port, int *by_ip);
int sl_tenant_senders_parse(const char *s);
const char *sl_tenant_senders_name(enum sl_senders s);
int sl_tenant_domain_ok(const char **list, size_t n, const char *csv, const char *domain);
enum sl_senders sl_tenant_senders_effective(enum sl_senders s, int by_ip);
int sl_tenant_sender_ok(const sl_tenant_rule *t, enum sl_senders senders, const char *sasl_user,
                        const char *address, const char *sasl_domains);

#endif

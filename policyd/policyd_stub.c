/*
 * NAME
 *	policyd_stub 3 - TEMPORARY placeholders for the walking skeleton
 * DESCRIPTION
 *	Limits, tenants, breaker and HTTP are not written yet; these do
 *	nothing so that the skeleton (DUNNO for every request) links.
 *	This file goes away as the real files land.
 */
#include "config.h"

#include <stddef.h>

#include "log.h"
#include "policyd.h"

void pd_metrics_request(void) {}
void pd_metrics_proto_error(void) {}
int pd_http_start(pd_server *srv, const char *listen) { (void) srv; sl_error("http %s: not implemented yet", listen); return -1; }
void pd_http_stop(pd_server *srv) { (void) srv; }
pd_breaker *pd_breaker_new(void) { return NULL; }
pd_tenant_cache *pd_tenant_cache_new(void) { return NULL; }
void pd_tenant_cache_clear(pd_tenant_cache *tc) { (void) tc; }
void pd_limits_start(pd_server *srv) { (void) srv; }
void pd_limits_seed_again(pd_server *srv) { (void) srv; }
int pd_limit_parse(pd_limit *l, const char *name, int nfields, const char **field, char *err, size_t errlen) { (void) l, (void) name, (void) nfields, (void) field, (void) err, (void) errlen; return 0; }
void pd_limit_clear(pd_limit *l) { (void) l; }

/*
 * NAME
 *	site 3h - the typed site model: domains, categories, tenants
 * SYNOPSIS
 *	const sl_site *s = conf->site;		built by sl_conf_load (conf.c)
 *	const struct sl_site_category *c = sl_site_category(s, "news");
 *	for (size_t i = 0; i < s->ndomains; i++) use(&s->domains[i]);
 *	sl_site *pin = sl_site_ref(conf->site);	outlives the sl_conf
 *	sl_site_unref(pin);
 * DESCRIPTION
 *	The domain, category and tenant sections of sluice.conf (and each
 *	domain's dkim subsections), read once by sl_site_build() when the
 *	file is loaded, checked there, and kept as immutable typed tables.
 *	Programs read this model, never the libconfuse sections; the one
 *	other reader is the schema (conf_schema.c). See site.c.
 *	The entry types are written struct sl_site_domain (category, tenant):
 *	the lookups by name carry the bare names. Each entry records the file
 *	and line of its section; sl_site_key_error() reports a problem of a
 *	key at its dkim section, as sl_conf_error() does for a section.
 * OWNERSHIP
 *	The model owns a copy of every string it holds, so a reference
 *	keeps it valid after the sl_conf it came from is freed (a SIGHUP
 *	reload installing a new one). The reference count is atomic.
 */
#ifndef SL_SITE_H
#define SL_SITE_H

#include <stddef.h>

#include "addr.h"

struct sl_conf;

/* allowed_senders: unset keeps the From binding only (tenant_map.c) */
enum sl_senders { SL_SENDERS_UNSET = 0, SL_SENDERS_DOMAINS, SL_SENDERS_USERS, SL_SENDERS_ANY };

enum sl_site_alg { SL_SITE_RSA = 0, SL_SITE_ED25519 = 1 };

/* dkim "selector" { algorithm = ...; key = file } */
typedef struct sl_site_key {
	const char *selector;
	const char *algorithm; /* as written: rsa-sha256 or ed25519-sha256 */
	enum sl_site_alg alg;
	const char *path; /* the private key file */
} sl_site_key;

struct sl_site_domain {
	const char *name;
	const char *default_category; /* "" for none */
	int sign_parent;
	const sl_site_key *keys;
	size_t nkeys;
	const char *file; /* the file the section is written in */
	int line;         /* its first line in the expanded text */
};

struct sl_site_category {
	const char *name;
	const char *subdomain; /* "" for none */
	int rewrite_from;
	int list_unsubscribe;
	const char *list_unsubscribe_existing; /* as written: keep or replace */
	int lu_replace;                        /* existing List-Unsubscribe: 1 replace, 0 keep */
	const char *unsubscribe_url;           /* https template with %t, or "" */
	const char *feedback_type;             /* Feedback-ID message type (default: the name) */
	int sign_parent;
	const char **sign_domains; /* "subdomain", "from" or a domain */
	size_t nsign_domains;
	const char *transport; /* master.cf service, or "" */
	const char *file;
	int line;
};

struct sl_site_tenant {
	const char *name;
	const char *subdomain;
	const char *default_category; /* "" for none */
	const char *sender_id;
	const char **domains; /* "example.com" or "*.example.com" */
	size_t ndomains;
	const char **sasl_users;
	size_t nsasl_users;
	const char **client_list; /* clients as written */
	size_t nclient_list;
	sl_netlist *clients;      /* the same, parsed; NULL: not IP-authenticated */
	const char **ports;  /* client_ports: the listeners where clients count; none: all */
	size_t nports;
	int require_tls;             /* 1: plain-text submissions refused */
	const char *allowed_senders; /* as written ("" unset) */
	enum sl_senders senders;
	const char *transport;
	const char *file;
	int line;
};

typedef struct sl_site {
	int refs; /* atomic */
	const struct sl_site_domain *domains;
	size_t ndomains;
	const struct sl_site_category *categories;
	size_t ncategories;
	const struct sl_site_tenant *tenants;
	size_t ntenants;
	struct sl_site_pool *pool; /* the strings and arrays it owns */
} sl_site;

sl_site *sl_site_build(struct sl_conf *c);
void sl_site_check_milter(const sl_site *s, struct sl_conf *c);
void sl_site_key_error(struct sl_conf *c, const struct sl_site_domain *d, size_t k,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
sl_site *sl_site_ref(sl_site *s);
void sl_site_unref(sl_site *s);
const struct sl_site_domain *sl_site_domain(const sl_site *s, const char *name);
const struct sl_site_category *sl_site_category(const sl_site *s, const char *name);
const struct sl_site_tenant *sl_site_tenant(const sl_site *s, const char *name);

#endif

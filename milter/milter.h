/*
 * NAME
 *	milter 3h - private header of sluice-milter, one section per file
 * DESCRIPTION
 *	milter_main.c		options, sockets, privileges, SIGHUP reload
 *	milter_callbacks.c	libmilter callbacks (the only libmilter user)
 *	milter_conf.c		typed, validated, reference-counted config
 *	milter_dkim.c		DKIM keys and signatures (OpenSSL EVP), RSA and Ed25519
 *	milter_canon.c		DKIM relaxed canonicalization (body and header fields)
 *	milter_category.c	category, tenant and SASL binding decisions
 *	milter_from.c		strict reading of the header From
 *	milter_rewrite.c	envelope sender and header From rewriting
 *	milter_headers.c	List-Unsubscribe, Feedback-ID, internal headers
 *	milter_redis.c		SASL entries, per-message records, counters
 *	milter_suppress.c	suppressed recipients, at end of message
 *	milter_verify.h		inbound verification (SPF, DKIM, DMARC, ARC, A-R),
 *				shared with sluicectl verify
 *	No libmilter or OpenSSL type appears here, so unit tests link
 *	every file but the callbacks and main.
 */
#ifndef SLUICE_MILTER_H
#define SLUICE_MILTER_H

#include <pthread.h>
#include <stddef.h>

#include "addr.h"
#include "conf.h"
#include "keyspace.h"
#include "keyspace_supp.h"
#include "redis.h"
#include "site.h"
#include "tenant_map.h"
#include "token.h"

#define ML_DOMAIN_MAX	256

/* ---- milter_conf.c ---- */

enum ml_alg { ML_ALG_RSA = 0, ML_ALG_ED25519 = 1 };

typedef struct ml_key {
	const char *selector;
	enum ml_alg alg;
	const char *path;
	void   *pkey;			/* parsed key (EVP_PKEY), shared read-only; or NULL */
} ml_key;

typedef struct ml_domain {
	const char *name;
	const char *default_category;
	int	sign_parent;
	ml_key *keys;
	size_t	nkeys;
} ml_domain;

typedef struct ml_rule {
	const char *name;
	const char **senders;		/* fnmatch patterns, lowercase */
	size_t	nsenders;
	const char **froms;
	size_t	nfroms;
	sl_netlist *clients;		/* NULL: any */
	const struct sl_site_category *category;
	const struct sl_site_tenant *tenant;
} ml_rule;

enum ml_answer { ML_TEMPFAIL = 0, ML_ACCEPT = 1 };

typedef struct ml_redis_pool ml_redis_pool;

typedef struct ml_conf {
	int	refs;			/* atomic; freed when it drops to 0 */
	sl_conf *conf;			/* owns every borrowed string below */
	const sl_site *site;		/* conf->site: categories, tenants (lib/site.h) */
	const char *path;
	const char *socket;
	int	socket_mode;
	int	timeout;		/* libmilter I/O timeout, seconds */
	const char *user;
	sl_netlist *internal;
	enum ml_answer on_internal_error;
	int	unknown_reject;		/* unknown category header: reject */
	int	sasl_monitor;		/* binding violations: log only */
	const char *category_header;
	const char *default_category;
	const char *sender_id;
	int	use_redis;
	int	stats;
	long	msg_ttl;
	int	check_supp;		/* look recipients up at end of message */
	enum ml_answer supp_fail;	/* Redis trouble during that check */
	int	supp_flags;		/* SL_ADDR_* forms tried (policyd's options) */
	sl_supp_layout supp_layout;	/* suppression { } (lib/keyspace_supp.c) */
	long	events_maxlen;		/* XADD MAXLEN ~ (feedback's option) */
	int	have_key;
	sl_token_ring ring;		/* secret_file: signs tokens, keys recipient hashes */
	sl_redis_opts redis;
	ml_redis_pool *pool;
	ml_domain *domains;
	size_t	ndomains;
	ml_rule *rules;
	size_t	nrules;
	struct ml_vopts *vopts;		/* milter { inbound { } } (milter_verify.h) */
	struct sl_dns *vdns;		/* its DNS layer; NULL when verify and preflight are off */
	struct ml_pfopts *pf;		/* milter { preflight { } } (milter_verify.h) */
} ml_conf;

ml_conf *ml_conf_load(const char *path);
ml_conf *ml_conf_ref(ml_conf *c);
void	ml_conf_unref(ml_conf *c);
void	ml_conf_install(ml_conf *c);
ml_conf *ml_conf_current(void);
const ml_domain *ml_conf_domain(const ml_conf *c, const char *name);
const ml_domain *ml_conf_base_domain(const ml_conf *c, const char *domain);
const ml_domain *ml_conf_key_domain(const ml_conf *c, const char *domain);

/* ---- milter_category.c ---- */

typedef struct ml_sasl_entry {
	int	found;			/* the hash exists in Redis */
	char	category[SL_TOKEN_LABEL_MAX + 1];
	char	tenant[SL_TOKEN_LABEL_MAX + 1];
	char	domains[1024];		/* comma-separated */
} ml_sasl_entry;

typedef struct ml_input {
	const char *sasl_user;		/* NULL or "": not authenticated */
	const char *client_addr;
	const char *daemon_port;	/* {daemon_port}: the listener (client_ports) */
	const char *env_from;		/* normalized, "" for the null sender */
	const char *from_addr;		/* header From address */
	const char *from_ambiguous;	/* why the From was refused (ml_from_parse), or NULL */
	const char *header_category;	/* NULL when absent */
	const ml_sasl_entry *sasl;	/* NULL when not looked up */
	int	sasl_down;		/* Redis could not answer (SASL entry, tenant policy) */
	int	live_set;		/* the tenant's Redis hash sets allowed_senders: */
	enum sl_senders live_senders;	/* this value (ml_tenant_senders), not the config's */
} ml_input;

enum ml_verdict { ML_OK = 0, ML_REJECT, ML_UNSIGNED, ML_DEFER };

typedef struct ml_decision {
	enum ml_verdict verdict;
	char	reply[320];		/* text of a rejection or deferral, or why unsigned */
	const struct sl_site_category *category;
	const struct sl_site_tenant *tenant;	/* NULL for none, or a Redis-only tenant */
	char	tenant_name[SL_TOKEN_LABEL_MAX + 1];	/* "" for none */
	const ml_domain *base;		/* configured domain of the From */
	char	from_domain[ML_DOMAIN_MAX];
	char	send_domain[ML_DOMAIN_MAX];	/* category/tenant subdomain */
	char	sign_domains[4][ML_DOMAIN_MAX];	/* copies: the decision may be copied */
	size_t	nsign;
} ml_decision;

int	ml_decide(const ml_conf *c, const ml_input *in, ml_decision *d);
const struct sl_site_tenant *ml_ip_tenant(const ml_conf *c, const char *sasl_user,
					  const char *client_addr, const char *daemon_port);
const char *ml_policy_tenant(const ml_conf *c, const ml_input *in);

/* milter_relabel.c: subdomains replaced live (sluice:relabel) */
void	ml_relabel_refresh(const ml_conf *c);
const char *ml_relabel_label(const char *kind, const char *name, const char *configured,
			     char *buf, size_t len);
int	ml_sasl_allows(const ml_conf *c, const ml_input *in,
		       const char *from_domain);
int	ml_sasl_signs(const ml_conf *c, const ml_input *in, const char *domain);
int	ml_domain_listed(const char *list, const char *domain);
int	ml_domain_in(const char **list, size_t n, const char *domain);

/* ---- milter_from.c ---- */

#define ML_FROM_TEXT_MAX	2048	/* display name and comments, as shown */

enum { ML_FROM_OK = 0, ML_FROM_NONE = -1, ML_FROM_AMBIGUOUS = -2 };

typedef struct ml_from {
	char	addr[SL_ADDR_MAX + 1];	/* the address, domain lowercased */
	char	display[ML_FROM_TEXT_MAX];	/* display name as written; "" for none */
	const char *why;		/* ML_FROM_AMBIGUOUS: static text saying why */
} ml_from;

int	ml_from_parse(const char *value, ml_from *f);

/* ---- milter_rewrite.c ---- */

int	ml_rewrite_sender(const ml_conf *c, const ml_decision *d,
			  const char *msgid, unsigned day,
			  char *out, size_t outlen);
int	ml_rewrite_from(const char *value, const char *domain,
			char *from, size_t fromlen,
			char *reply_to, size_t rtlen);
void	ml_token_fill(sl_token *t, char kind, const ml_decision *d,
		      const char *msgid, unsigned day);

/* ---- milter_headers.c ---- */

typedef struct ml_header {
	char   *name;
	char   *value;
} ml_header;

enum ml_edit_op { ML_HDR_ADD, ML_HDR_CHANGE, ML_HDR_DELETE };

typedef struct ml_edit {
	enum ml_edit_op op;
	char   *name;
	int	index;			/* 1-based occurrence for CHANGE/DELETE */
	char   *value;
} ml_edit;

typedef struct ml_plan {
	ml_edit *edits;
	size_t	nedits;
	ml_header *final;		/* the header set after the edits */
	size_t	nfinal;
} ml_plan;

typedef struct ml_hdr_input {
	const ml_header *headers;
	size_t	nheaders;
	size_t	nrcpt;
	const char *rcpt;		/* the only recipient when nrcpt == 1 */
	const char *msgid;
	unsigned day;
	int	full;			/* category processing (not only cleanup) */
} ml_hdr_input;

int	ml_headers_plan(const ml_conf *c, const ml_decision *d,
			const ml_hdr_input *in, ml_plan *plan);
void	ml_plan_free(ml_plan *plan);
size_t	ml_header_count(const ml_header *h, size_t n, const char *name);
const char *ml_header_get(const ml_header *h, size_t n, const char *name);
int	ml_header_internal(const ml_conf *c, const char *name);

/* ---- milter_canon.c ---- */

typedef struct ml_canon ml_canon;

ml_canon *ml_canon_new(void);
void	ml_canon_body(ml_canon *b, const unsigned char *buf, size_t len);
void	ml_canon_body_hash(ml_canon *b, unsigned char md[32]);
void	ml_canon_free(ml_canon *b);
size_t	ml_canon_header(const char *name, const char *value, char *out);

/* ---- milter_dkim.c ---- */

#define ML_SIG_MAX	8		/* signatures per message */

typedef struct ml_dkim ml_dkim;

int	ml_key_load(ml_key *k, char *err, size_t errlen);
void	ml_key_free(ml_key *k);
const char *ml_alg_name(enum ml_alg alg);
ml_dkim *ml_dkim_new(void);
int	ml_dkim_add(ml_dkim *m, const ml_key *key, const char *domain,
		    char *err, size_t errlen);
void	ml_dkim_headers(ml_dkim *m, const ml_header *hdrs, size_t n);
void	ml_dkim_body(ml_dkim *m, const unsigned char *buf, size_t len);
int	ml_dkim_finish(ml_dkim *m, char *err, size_t errlen);
size_t	ml_dkim_count(const ml_dkim *m);
const char *ml_dkim_value(const ml_dkim *m, size_t i);
const char *ml_dkim_domain(const ml_dkim *m, size_t i);
const char *ml_dkim_selector(const ml_dkim *m, size_t i);
const char *ml_dkim_alg(const ml_dkim *m, size_t i);
void	ml_dkim_free(ml_dkim *m);

/* ---- milter_redis.c ---- */

ml_redis_pool *ml_redis_pool_new(const sl_redis_opts *opts);
void	ml_redis_pool_free(ml_redis_pool *p);
sl_redis *ml_redis_get(ml_redis_pool *p);
void	ml_redis_put(ml_redis_pool *p, sl_redis *r);
void	ml_redis_prepare(void);

/* ---- milter_charge.c ---- */

void	ml_charge_settle(const ml_conf *c, const char *key, int accepted,
			 char *const *rcpts, size_t nrcpt);
size_t	ml_charge_final(const char *const *rcpts, size_t nrcpt, char (*addr)[SL_ADDR_MAX + 1],
			const char **final);

/* limit charges the end of message script claimed (milter_charge.c settles them) */
typedef struct ml_claim {
	sl_reply *rep;			/* the script's reply; NULL: nothing claimed */
	const char **refund, **kept;	/* 5 strings per charge, pointing into rep */
	size_t	nrefund, nkept;
} ml_claim;

void	ml_charge_finish(const ml_conf *c, ml_claim *cl, int accepted);

/* ---- milter_dmarcagg.c ---- */

struct ml_vresult;
void	ml_dmarcagg_prepare(void);
void	ml_dmarcagg_count(const ml_conf *c, const char *ip, const char *env_from,
			  const struct ml_vresult *r);
int ml_sasl_lookup(const ml_conf *c, const char *user, ml_sasl_entry *e, char *err, size_t errlen);
int ml_tenant_senders(const ml_conf *c, const char *tenant, int *senders, char *err,
		      size_t errlen);
/* ---- milter_suppress.c ---- */

enum ml_scope { ML_SCOPE_GLOBAL = 0, ML_SCOPE_CATEGORY, ML_SCOPE_TENANT, ML_SCOPES };

typedef struct ml_supp_hit {
	size_t	rcpt;			/* index in the caller's recipient list */
	enum ml_scope scope;
	char	addr[SL_ADDR_MAX + 1];	/* the recipient, domain lowercased */
	char	reason[32];		/* a documented reason, else "suppressed" */
} ml_supp_hit;

typedef struct ml_supp {
	char	scope[ML_SCOPES][80];	/* "" when it does not apply */
	char  **keys;			/* one per recipient, scope, address form, layout */
	char  **fields;			/* the field of each ("" in the hash layout) */
	size_t *key_rcpt;
	enum ml_scope *key_scope;
	size_t	nkeys;
	size_t	nrcpt;
	ml_supp_hit *hits;		/* at most one per recipient, in order */
	size_t	nhits;
} ml_supp;

/* what the end of message script records (milter_redis.c) */
typedef struct ml_msginfo {
	const char *qid, *sasl, *sender, *msgid;
	const char *charge; /* policyd's charge record to claim, NULL or "": none */
	int record; /* 0: look up suppression only */
} ml_msginfo;

int ml_end_message(const ml_conf *c, const ml_decision *d, const ml_msginfo *m,
                   const char *const *rcpts, size_t nrcpt, ml_supp *s, ml_claim *cl,
                   int *unchecked, int *lost, char *err, size_t errlen);
void	ml_supp_init(ml_supp *s, const sl_supp_layout *layout, const char *prefix,
		     const ml_decision *d, int flags, const char *const *rcpts, size_t nrcpt);
int ml_supp_parse(ml_supp *s, const char *const *rcpts, const sl_reply *rep, char *err,
                  size_t errlen);
const char *ml_supp_kind(enum ml_scope scope);
void	ml_supp_reply(const ml_supp *s, char *out, size_t outlen);
void	ml_supp_log(const ml_supp *s, int refused);
void	ml_supp_record(const ml_conf *c, const ml_decision *d, const ml_supp *s,
		       const char *qid, const char *msgid);
void	ml_supp_free(ml_supp *s);
void	ml_supp_prepare(void);

/* ---- milter_callbacks.c ---- */

int	ml_milter_setup(const ml_conf *c, char *err, size_t errlen);
int	ml_milter_run(void);
int	ml_milter_drain(int wait_ms);

#endif

/*
 * NAME
 *	policyd 3h - private header of sluice-policyd, one section per file
 * DESCRIPTION
 *	sluice-policyd is a Postfix SMTP access policy delegation server
 *	(check_policy_service). policyd_main.c wires the pieces together;
 *	each concern lives in its own file, declared in its section below.
 *	Only policyd/ includes this header.
 */
#ifndef SL_POLICYD_H
#define SL_POLICYD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "addr.h"
#include "conf.h"
#include "keyspace.h"
#include "keyspace_supp.h"
#include "redis.h"
#include "token.h"

struct event_base;

/* Answers and modes shared by every check. */
enum pd_mode { PD_MODE_INHERIT = 0, PD_MODE_ENFORCE, PD_MODE_MONITOR, PD_MODE_OFF };
enum pd_fail { PD_FAIL_DUNNO = 0, PD_FAIL_DEFER };

int	pd_mode_parse(const char *s, enum pd_mode *mode);
const char *pd_mode_name(enum pd_mode mode);

/*
 * policyd_config.c: the configuration as the daemon uses it. Built from
 * sluice.conf at start-up and on SIGHUP; reference counted so that a
 * request in flight keeps the snapshot it started with.
 */
typedef struct pd_seed {
	char   *name;
	int	nfields;
	char  **field;			/* name, value, name, value ... */
} pd_seed;

typedef struct pd_config {
	int	refs;
	char   *path;
	char  **listen;			/* "unix:/path" or "inet:host:port" */
	int	nlisten;
	int	socket_mode;
	char   *http_listen;		/* "host:port" or "" */
	char   *metrics_listen;		/* "host:port" or "": /metrics apart */
	int	http_max_conns;		/* per HTTP listener */
	int	http_timeout_s;		/* total deadline of one request */
	char   *socket_group;		/* group of unix sockets, or "" */
	char   *user;
	int	timeout_ms;		/* per request */
	enum pd_fail limit_fail;
	enum pd_fail suppress_fail;
	char   *default_action;		/* answer to malformed requests */
	enum pd_mode mode;		/* global default */
	int	strip_tag;		/* +tag handling for suppression */
	int	refunds;		/* write charge records (lib/charge.c) */
	int	lower_local;
	sl_supp_layout supp_layout;	/* suppression { } (lib/keyspace_supp.c) */
	int	discard_global, discard_category, discard_tenant;
	int	breaker_failures;	/* consecutive failures that open it */
	int	breaker_cooldown_ms;
	int	poll_ms;		/* limits/modes refresh */
	int	max_conns;
	int	pipeline_max;
	char   *time_zone;
	const struct sl_site *site;	/* conf->site: the tenant rules (lib/site.h) */
	pd_seed *seeds;
	int	nseeds;
	sl_redis_opts redis;
	sl_token_ring token_ring;
	int	have_token_key;
	struct pd_react_conf *react;	/* provider block reactions */
	sl_conf *conf;			/* owns the strings above where borrowed */
} pd_config;

pd_config *pd_config_load(const char *path);
pd_config *pd_config_ref(pd_config *cfg);
void	pd_config_unref(pd_config *cfg);

/* The daemon's shared state: one per process (policyd_main.c). */
typedef struct pd_server {
	struct event_base *base;
	pd_config *cfg;
	sl_aredis *redis;
	struct pd_limits *limits;	/* current limits table (ref counted) */
	struct pd_breaker *breaker;
	struct pd_metrics *metrics;
	struct pd_tenant_cache *tenants;
	struct evhttp *http, *metrics_http;
	struct pd_front *http_front, *metrics_front;
	int	nconns;
} pd_server;

extern pd_server pd_srv;

/*
 * policyd_proto.c: one request off a buffer (pure function), answers.
 */
#define PD_LINE_MAX	2048		/* one name=value line */
#define PD_NAME_MAX	64
#define PD_ATTR_MAX	64		/* Postfix 3.7 sends about 40 */
#define PD_REQUEST_MAX	16384		/* one whole request */
#define PD_ANSWER_MAX	600

enum { PD_PARSE_ERROR = -1, PD_PARSE_MORE = 0, PD_PARSE_OK = 1 };

typedef struct pd_attr {
	const char *name;
	const char *value;
} pd_attr;

typedef struct pd_request {
	int	nattr;
	pd_attr	attr[PD_ATTR_MAX];
	char	buf[PD_REQUEST_MAX + 1];
} pd_request;

int	pd_proto_parse(const char *data, size_t len, pd_request *req,
		       size_t *used, const char **err);
const char *pd_request_get(const pd_request *req, const char *name);
const char *pd_request_str(const pd_request *req, const char *name);
int	pd_proto_answer(char *out, size_t outlen, const char *action);

/*
 * policyd_conn.c: listeners and connections (libevent bufferevents).
 */
#define PD_OUTPUT_MAX	65536		/* answers waiting for a client to read */

int	pd_listen(pd_server *srv, const char *spec);
void	pd_listeners_enable(int on);
void	pd_listeners_close(void);

/*
 * policyd_check.c: the decision for one request. A query carries the
 * request from the connection to Redis and back; the connection is told
 * with pd_conn_answered() when the answer is ready.
 */
typedef void pd_done_fn(const char *action, int charged, void *arg);

/* Request attributes with derived values, normalised (policyd_check.c). */
typedef struct pd_facts {
	char   *protocol_state;	/* the strings are owned copies */
	char   *instance;
	char   *client_address;
	char   *client_name;
	char   *helo_name;
	char   *sasl_username;
	char   *encryption_protocol;	/* "" for a plain-text session */
	char   *server_port;		/* the listener's port (client_ports) */
	char	sender[SL_ADDR_MAX + 1];
	char	sender_domain[256];
	char	sender_orgdomain[256];
	char	recipient[SL_ADDR_MAX + 1];	/* domain lowercased */
	char	recipient_domain[256];
	char	recipient_orgdomain[256];
	char	tenant[SL_TOKEN_LABEL_MAX + 1];
	char	category[SL_TOKEN_LABEL_MAX + 1];
	char	recipient_provider[32];	/* policyd_provider.c */
	char	sending_domain[256];	/* the milter's likely envelope domain */
	int	first_rcpt;		/* first recipient of this instance */
} pd_facts;

void	pd_check_start(pd_server *srv, const pd_request *req, int first_rcpt,
		       pd_done_fn *done, void *arg);
const char *pd_facts_get(const pd_facts *f, const char *name);

/*
 * policyd_suppress.c: suppression scopes of a recipient and the answer.
 */
#define PD_SCOPES	24		/* 3 scopes x 4 address forms x 2 layouts */
typedef struct pd_scope {
	char	key[SL_KEY_MAX];
	char	field[SL_SUPP_FIELD_MAX];	/* "" in the hash layout */
	const char *kind;		/* "global", "category", "tenant" */
	int	discard;
} pd_scope;

int	pd_suppress_scopes(const pd_config *cfg, const pd_facts *f,
			   pd_scope *scopes);
void	pd_suppress_answer(const pd_scope *scope, const char *rcpt,
			   const char *reason, char *out, size_t outlen);
int	pd_suppress_add(pd_server *srv, const sl_scope *scope, const char *rcpt,
			const char *reason, const char *source,
			const char *detail, const char *stats_key,
			sl_aredis_cb *cb, void *arg);

/*
 * policyd_tenant.c: tenant and category of a SASL user (Redis entry
 * cached for a second, then config), and the tenant status answer.
 */
typedef struct pd_tenant_cache pd_tenant_cache;

pd_tenant_cache *pd_tenant_cache_new(void);
void	pd_tenant_cache_free(pd_tenant_cache *tc);
void	pd_tenant_cache_clear(pd_tenant_cache *tc);
int	pd_tenant_lookup(pd_server *srv, const char *user, char *tenant,
			 char *category);
void	pd_tenant_store(pd_server *srv, const char *user, const sl_reply *r);
const char *pd_tenant_domains(pd_server *srv, const char *user);
int	pd_tenant_fetch(pd_server *srv, const char *user, int timeout_ms,
			sl_aredis_cb *cb, void *arg);
void	pd_tenant_answer(const char *status, const char *reason, char *out,
			 size_t outlen);

/*
 * policyd_relay.c: per-tenant relay policies at RCPT (IP-authenticated
 * clients mapped to their tenant, TLS required, allowed senders).
 */
typedef void pd_relay_fn(void *arg, int rc, const char *text);

void	pd_relay_check(pd_server *srv, pd_config *cfg, struct pd_limits *limits,
		       pd_facts *f, int timeout_ms, pd_relay_fn *cb, void *arg);

/*
 * policyd_limits.c: the limits table (from Redis, seeded from config,
 * refreshed every poll_ms), key templates, calendar windows, and the one
 * Lua script that decides a request.
 */
enum pd_limit_kind { PD_LIMIT_RATE = 1, PD_LIMIT_WINDOW };
enum pd_window { PD_WIN_MINUTE = 1, PD_WIN_HOUR, PD_WIN_DAY, PD_WIN_MONTH };

typedef struct pd_limit {
	char   *name;
	char   *key;			/* template, e.g. "${sasl_username}" */
	char   *match;			/* "attr=v1,v2; attr2=v" or NULL */
	enum pd_limit_kind kind;
	double	interval_ms;		/* rate: one unit every interval_ms */
	long long burst;		/* rate: bucket size */
	enum pd_window window;		/* window: calendar period */
	long long max;			/* window: units per period */
	int	per_recipient;		/* unit: recipients (1) or messages (0) */
	int	reject;			/* action: reject (1) or defer (0) */
	enum pd_mode mode;
	long long warn;			/* 0: none */
	char   *text;			/* optional reply text */
	long long *schedule;		/* warm-up: max per day of the schedule */
	int	nschedule;
	long long schedule_day0;	/* its first day, days since 1970 */
	char   *raw;			/* fields as read, to log changes once */
	int	valid;
	char arg_p1[32], arg_p2[32], arg_warn[32]; /* the script's ARGV, made once */
} pd_limit;

typedef struct pd_limits {
	int	refs;
	int	n;
	pd_limit *limit;
	char  **mode_name;		/* sluice:mode fields: "global", */
	enum pd_mode *mode_value;	/* "domain:<d>", "tenant:<t>" */
	int	nmode;
} pd_limits;

#define PD_TEMPLATE_MAX	400

int	pd_template_expand(const char *tmpl, const pd_facts *f, char *out,
			   size_t outlen);
int	pd_template_check(const char *tmpl, char *err, size_t errlen);
int	pd_match(const char *match, const pd_facts *f);
int	pd_match_check(const char *match, char *err, size_t errlen);
int	pd_rate_parse(const char *s, long long *count, double *period_ms);
int	pd_window_parse(const char *s, enum pd_window *w);
const char *pd_window_name(enum pd_window w);
int	pd_window_id(enum pd_window w, time_t now, char *id, size_t idlen,
		     time_t *end);
int	pd_limit_parse(pd_limit *l, const char *name, int nfields,
		       const char **field, char *err, size_t errlen);
void	pd_limit_clear(pd_limit *l);
pd_limits *pd_limits_ref(pd_limits *t);
void	pd_limits_unref(pd_limits *t);
void	pd_limits_start(pd_server *srv);
void	pd_limits_seed_again(pd_server *srv);
void pd_limits_passed(const char *name);
int pd_limits_flush(pd_server *srv);
enum pd_mode pd_mode_for(const pd_server *srv, const pd_limits *t,
			 enum pd_mode rule, const pd_facts *f);

extern sl_script pd_decide_script;

/*
 * policyd_provider.c: reactions to a provider block (block:<provider>:
 * <source>, written by sluice-logd): defer, FILTER to another transport,
 * and the ramp after the block ends; decided from memory, refreshed
 * every poll_ms.
 */
typedef struct pd_react_conf pd_react_conf;
enum pd_rx { PD_RX_NONE = 0, PD_RX_DEFER, PD_RX_FILTER, PD_RX_MONITOR };

pd_react_conf *pd_provider_config(sl_conf *c, cfg_t *sec);
void	pd_provider_config_free(pd_react_conf *rc);
void	pd_provider_start(pd_server *srv);
void	pd_provider_facts(const pd_config *cfg, pd_facts *f);
long long pd_limit_max(const pd_limit *l, const char *day_id, const char *source);
double	pd_ramp_rate(long start, long step, double age_s);
enum pd_rx pd_provider_react(const pd_config *cfg, const pd_facts *f, char *action,
			     size_t len, char *why, size_t whylen);

/*
 * policyd_breaker.c: the circuit breaker in front of Redis.
 */
enum pd_breaker_state { PD_BREAKER_CLOSED = 0, PD_BREAKER_OPEN, PD_BREAKER_HALF_OPEN };
typedef struct pd_breaker pd_breaker;

pd_breaker *pd_breaker_new(void);
void	pd_breaker_free(pd_breaker *b);
int	pd_breaker_allow(pd_breaker *b, const pd_config *cfg, long long now_ms);
void	pd_breaker_result(pd_breaker *b, const pd_config *cfg, int ok,
			  long long now_ms);
enum pd_breaker_state pd_breaker_state(const pd_breaker *b);
const char *pd_fail_action(const pd_config *cfg, int limits, int suppression,
			       char *out, size_t outlen);
long long pd_now_ms(void);
void	pd_redis_error(const char *what, const char *msg);

/*
 * policyd_front.c: an evhttp behind a connection cap (503 past it), a
 * total deadline per request and an accept back-off.
 */
struct evhttp;
struct evhttp_request;
typedef struct pd_front pd_front;

pd_front *pd_front_new(pd_server *srv, struct evhttp *http, const char *listen,
		       int max_conns, int deadline_s);
void	pd_front_touch(struct evhttp_request *req);
int	pd_front_count(const pd_front *f);
void	pd_front_free(pd_front *f);

/*
 * policyd_http.c: the HTTP listener, and the counters it exports on
 * /metrics (pd_metrics_*, called from the request path).
 */
void	pd_metrics_request(void);
void	pd_metrics_action(const char *action);
void	pd_metrics_rule(const char *rule, const char *result);
void	pd_metrics_redis(double seconds, int ok);
void	pd_metrics_proto_error(void);
void	pd_metrics_redis_error_reply(void);
void	pd_metrics_warn(const char *rule);
void	pd_metrics_live_invalid(const char *kind);
int	pd_http_start(pd_server *srv);
void	pd_http_stop(pd_server *srv);

#endif

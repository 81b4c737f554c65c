/*
 * NAME
 *	policyd_http 3 - one-click unsubscribe, /metrics and /healthz (evhttp)
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	int pd_http_start(pd_server *srv)
 *	void pd_metrics_request(void), pd_metrics_action(...), ...
 * DESCRIPTION
 *	A small HTTP listener (libevent's evhttp) for what a reverse proxy
 *	forwards to it; TLS belongs to that proxy.
 *
 *	POST /u/<token>  RFC 8058 one-click unsubscribe. The token comes from
 *	    the List-Unsubscribe URL the milter wrote; it is decrypted and authenticated
 *	    with the secret_file keyring (lib/token.h; expired tokens and
 *	    retired keys refused). A valid token adds the
 *	    suppression entry sluice:supp:cat:<category>:<recipient> with
 *	    reason "unsubscribe" (idempotent) and answers 200; a bad token
 *	    gets 400 and changes nothing; Redis trouble gets 503 so that the
 *	    mailbox provider tries again.
 *	GET /u/<token>   a short confirmation page whose button POSTs the
 *	    same URL (a GET never unsubscribes: link scanners follow GETs).
 *	GET /metrics     Prometheus text format: requests, actions, actions
 *	    per rule, Redis latency histogram and errors, breaker state.
 *	GET /healthz     200 "ok" when Redis is connected and the breaker
 *	    closed, else 503 with the reason.
 *
 *	With metrics_listen set, /metrics is served only there (with
 *	/healthz), apart from the public /u/ path. Each listener sits behind
 *	a front (policyd_front.c): a connection cap with 503 past it, a total
 *	deadline per request, and accept errors that back off.
 *
 *	The metrics counters live here too: pd_metrics_*() are called from
 *	the request path and only add to memory.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "policyd.h"

#define RULES_MAX	512
#define NBUCKETS	10

static const double buckets[NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

static struct {
	unsigned long long requests, proto_errors, redis_errors, redis_error_replies, unsub_ok,
	    unsub_bad;
	unsigned long long dunno, defer, reject, discard, other;
	unsigned long long live_invalid_limit, live_invalid_tenant, live_invalid_mode;
	unsigned long long lat_bucket[NBUCKETS], lat_count;
	double	lat_sum;
	int	nrules;
	struct {
		char   *rule;
		char   *result;
		unsigned long long count;
	}	rules[RULES_MAX];
} m;

/* pd_metrics_request - one policy request received */
void
pd_metrics_request(void)
{
	m.requests++;
}

/* pd_metrics_proto_error - one malformed or oversize request */
void
pd_metrics_proto_error(void)
{
	m.proto_errors++;
}

/* pd_metrics_redis_error_reply - an error the decision script reported and survived */
void
pd_metrics_redis_error_reply(void)
{
	m.redis_error_replies++;
}

/* pd_metrics_live_invalid - an invalid hand-written value met (once per content) */
void
pd_metrics_live_invalid(const char *kind)
{
	if (strcmp(kind, "limit") == 0)
		m.live_invalid_limit++;
	else if (strcmp(kind, "tenant") == 0)
		m.live_invalid_tenant++;
	else
		m.live_invalid_mode++;
}

/* pd_metrics_action - count an answer by its kind */
void
pd_metrics_action(const char *a)
{
	if (strncmp(a, "DUNNO", 5) == 0)
		m.dunno++;
	else if (strncmp(a, "DEFER", 5) == 0 || a[0] == '4')
		m.defer++;
	else if (strncmp(a, "REJECT", 6) == 0 || a[0] == '5')
		m.reject++;
	else if (strncmp(a, "DISCARD", 7) == 0)
		m.discard++;
	else
		m.other++;
}

/* pd_metrics_rule - count what a rule did or would have done */
void
pd_metrics_rule(const char *rule, const char *result)
{
	int	i;

	for (i = 0; i < m.nrules; i++)
		if (strcmp(m.rules[i].rule, rule) == 0 && strcmp(m.rules[i].result, result) == 0)
			break;
	if (i == m.nrules) {
		if (m.nrules == RULES_MAX)
			return;
		m.rules[i].rule = sl_strdup(rule);
		m.rules[i].result = sl_strdup(result);
		m.nrules++;
	}
	m.rules[i].count++;
}

/* pd_metrics_warn - a limit crossed its warning threshold */
void
pd_metrics_warn(const char *rule)
{
	pd_metrics_rule(rule, "warned");
}

/* pd_metrics_redis - latency of one Redis round trip, and its outcome */
void
pd_metrics_redis(double seconds, int ok)
{
	if (!ok)
		m.redis_errors++;
	m.lat_count++;
	m.lat_sum += seconds;
	for (int i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			m.lat_bucket[i]++;
}

/* label_escape - a Prometheus label value: escape \ " and newline */
static void
label_escape(char *out, size_t outlen, const char *s)
{
	size_t	o = 0;

	for (; *s && o + 3 < outlen; s++) {
		if (*s == '\\' || *s == '"')
			out[o++] = '\\';
		out[o++] = *s == '\n' ? ' ' : *s;
	}
	out[o] = '\0';
}

/* metrics_body - the whole exposition text */
static void
metrics_body(pd_server *srv, struct evbuffer *b)
{
	char	rule[200];

	evbuffer_add_printf(b, "# HELP sluice_policyd_requests_total Policy requests received.\n"
			    "# TYPE sluice_policyd_requests_total counter\n"
			    "sluice_policyd_requests_total %llu\n", m.requests);
	evbuffer_add_printf(b, "# HELP sluice_policyd_protocol_errors_total Malformed or oversize requests.\n"
			    "# TYPE sluice_policyd_protocol_errors_total counter\n"
			    "sluice_policyd_protocol_errors_total %llu\n", m.proto_errors);
	evbuffer_add_printf(b, "# HELP sluice_policyd_actions_total Answers by action.\n"
			    "# TYPE sluice_policyd_actions_total counter\n"
			    "sluice_policyd_actions_total{action=\"dunno\"} %llu\n"
			    "sluice_policyd_actions_total{action=\"defer\"} %llu\n"
			    "sluice_policyd_actions_total{action=\"reject\"} %llu\n"
			    "sluice_policyd_actions_total{action=\"discard\"} %llu\n"
			    "sluice_policyd_actions_total{action=\"other\"} %llu\n",
			    m.dunno, m.defer, m.reject, m.discard, m.other);
	evbuffer_add_printf(b, "# HELP sluice_policyd_live_invalid_total Invalid values written "
			    "in Redis by hand, ignored (each distinct content once).\n"
			    "# TYPE sluice_policyd_live_invalid_total counter\n"
			    "sluice_policyd_live_invalid_total{kind=\"limit\"} %llu\n"
			    "sluice_policyd_live_invalid_total{kind=\"tenant\"} %llu\n"
			    "sluice_policyd_live_invalid_total{kind=\"mode\"} %llu\n",
			    m.live_invalid_limit, m.live_invalid_tenant, m.live_invalid_mode);
	evbuffer_add_printf(b, "# HELP sluice_policyd_rule_total What each rule did (or would have, in monitor mode).\n"
			    "# TYPE sluice_policyd_rule_total counter\n");
	for (int i = 0; i < m.nrules; i++) {
		label_escape(rule, sizeof(rule), m.rules[i].rule);
		evbuffer_add_printf(b, "sluice_policyd_rule_total{rule=\"%s\",result=\"%s\"} %llu\n",
				    rule, m.rules[i].result, m.rules[i].count);
	}
	evbuffer_add_printf(b, "# HELP sluice_policyd_redis_seconds Redis round trip latency.\n"
			    "# TYPE sluice_policyd_redis_seconds histogram\n");
	for (int i = 0; i < NBUCKETS; i++)
		evbuffer_add_printf(b, "sluice_policyd_redis_seconds_bucket{le=\"%g\"} %llu\n",
				    buckets[i], m.lat_bucket[i]);
	evbuffer_add_printf(b, "sluice_policyd_redis_seconds_bucket{le=\"+Inf\"} %llu\n"
			    "sluice_policyd_redis_seconds_sum %.6f\n"
			    "sluice_policyd_redis_seconds_count %llu\n", m.lat_count, m.lat_sum, m.lat_count);
	evbuffer_add_printf(b, "# HELP sluice_policyd_redis_errors_total Redis requests that failed or timed out.\n"
			    "# TYPE sluice_policyd_redis_errors_total counter\n"
			    "sluice_policyd_redis_errors_total %llu\n", m.redis_errors);
	evbuffer_add_printf(
	    b,
	    "# HELP sluice_policyd_redis_error_replies_total Error replies from Redis "
	    "(OOM at maxmemory, ...), inside the decision script or not.\n"
	    "# TYPE sluice_policyd_redis_error_replies_total counter\n"
	    "sluice_policyd_redis_error_replies_total %llu\n",
	    sl_aredis_error_replies(srv->redis) + m.redis_error_replies);
	evbuffer_add_printf(b, "# HELP sluice_policyd_redis_connected 1 when connected to Redis.\n"
			    "# TYPE sluice_policyd_redis_connected gauge\n"
			    "sluice_policyd_redis_connected %d\n", sl_aredis_connected(srv->redis));
	evbuffer_add_printf(b, "# HELP sluice_policyd_breaker_state 0 closed, 1 open, 2 half-open.\n"
			    "# TYPE sluice_policyd_breaker_state gauge\n"
			    "sluice_policyd_breaker_state %d\n", (int) pd_breaker_state(srv->breaker));
	evbuffer_add_printf(b, "# HELP sluice_policyd_connections Open policy connections.\n"
			    "# TYPE sluice_policyd_connections gauge\n"
			    "sluice_policyd_connections %d\n", srv->nconns);
	evbuffer_add_printf(b,
	                    "# HELP sluice_policyd_http_connections Open HTTP connections.\n"
	                    "# TYPE sluice_policyd_http_connections gauge\n"
	                    "sluice_policyd_http_connections{listener=\"http\"} %d\n"
	                    "sluice_policyd_http_connections{listener=\"metrics\"} %d\n",
	                    pd_front_count(srv->http_front), pd_front_count(srv->metrics_front));
	evbuffer_add_printf(b, "# HELP sluice_policyd_unsubscribe_total One-click unsubscribe POSTs.\n"
			    "# TYPE sluice_policyd_unsubscribe_total counter\n"
			    "sluice_policyd_unsubscribe_total{result=\"ok\"} %llu\n"
			    "sluice_policyd_unsubscribe_total{result=\"bad_token\"} %llu\n",
			    m.unsub_ok, m.unsub_bad);
}

/* reply_text - send a small text or HTML body */
static void
reply_text(struct evhttp_request *req, int code, const char *reason, const char *type,
	   const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

/* http_metrics - GET /metrics */
static void
http_metrics(struct evhttp_request *req, pd_server *srv)
{
	struct evbuffer *b = evbuffer_new();

	metrics_body(srv, b);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* http_healthz - GET /healthz */
static void
http_healthz(struct evhttp_request *req, pd_server *srv)
{
	if (!sl_aredis_connected(srv->redis))
		reply_text(req, 503, "Service Unavailable", "text/plain", "redis not connected\n");
	else if (pd_breaker_state(srv->breaker) != PD_BREAKER_CLOSED)
		reply_text(req, 503, "Service Unavailable", "text/plain", "circuit breaker open\n");
	else
		reply_text(req, 200, "OK", "text/plain", "ok\n");
}

/* The request of a pending unsubscribe, and whether its client left. */
typedef struct unsub_ctx {
	struct evhttp_request *req;
	int	gone;
} unsub_ctx;

/* unsub_closed - the client hung up while Redis was working */
static void
unsub_closed(struct evhttp_connection *conn, void *arg)
{
	unsub_ctx *ctx = arg;

	(void) conn;
	ctx->gone = 1;
}

/* unsub_cb - the suppression entry was written (or not) */
static void
unsub_cb(const sl_reply *r, const char *err, void *arg)
{
	unsub_ctx *ctx = arg;
	struct evhttp_request *req = ctx->req;

	if (ctx->gone) {
		free(ctx);
		return;
	}
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
	free(ctx);
	if (r == NULL || r->type != SL_REPLY_INTEGER) {
		sl_warn("one-click unsubscribe: redis: %s", err ? err : r && r->str ? r->str : "bad reply");
		reply_text(req, 503, "Service Unavailable", "text/plain",
			   "Temporarily unavailable, please try again later.\n");
		return;
	}
	m.unsub_ok++;
	reply_text(req, 200, "OK", "text/html; charset=utf-8",
		   "<!DOCTYPE html><html><head><title>Unsubscribed</title></head><body>"
		   "<p>You have been unsubscribed.</p></body></html>\n");
}

/* http_unsub_post - RFC 8058 one-click: verify, then suppress in the category */
static void
http_unsub_post(struct evhttp_request *req, pd_server *srv, const char *token)
{
	sl_token t;
	char	err[200], stats[SL_KEY_MAX], detail[128], day[16], rcpt[SL_ADDR_MAX + 1];
	sl_scope scope;
	unsub_ctx *ctx;

	if (!srv->cfg->have_token_key
	    || sl_token_parse_url(token, &srv->cfg->token_ring, &t, err, sizeof(err)) != SL_TOKEN_OK
	    || sl_supp_canon(t.rcpt, (srv->cfg->strip_tag ? SL_ADDR_STRIP_TAG : 0)
			     | (srv->cfg->lower_local ? SL_ADDR_LOWER_LOCAL : 0), rcpt, sizeof(rcpt)) < 0
	    || sl_scope_make(&scope, SL_SCOPE_CATEGORY, t.category) < 0) {
		m.unsub_bad++;
		sl_warn("one-click unsubscribe refused: %s", srv->cfg->have_token_key ? err : "no key");
		reply_text(req, 400, "Bad Request", "text/plain", "This unsubscribe link is not valid.\n");
		return;
	}
	sl_key_day(time(NULL), day);
	sl_key(stats, sizeof(stats), srv->cfg->redis.prefix, SL_KEY_STATS, day,
	       *t.tenant ? t.tenant : "-", t.category);
	snprintf(detail, sizeof(detail), "one-click msgid=%s tenant=%s", t.msgid,
		 *t.tenant ? t.tenant : "-");
	sl_info("one-click unsubscribe: <%s> from category %s", rcpt, t.category);
	ctx = sl_calloc(1, sizeof(*ctx));
	ctx->req = req;
	if (pd_suppress_add(srv, &scope, rcpt, "unsubscribe", "one-click", detail, stats,
			    unsub_cb, ctx) < 0) {
		free(ctx);
		reply_text(req, 503, "Service Unavailable", "text/plain", "Try again later.\n");
		return;
	}
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), unsub_closed, ctx);
}

/* http_unsub_get - a confirmation page whose button POSTs the same URL */
static void
http_unsub_get(struct evhttp_request *req, const char *token)
{
	struct evbuffer *b = evbuffer_new();

	(void) token;			/* the form posts back to the same URL */
	evbuffer_add_printf(b, "<!DOCTYPE html><html><head><title>Unsubscribe</title></head><body>"
			    "<p>Do you want to stop receiving these messages?</p>"
			    "<form method=\"post\" action=\"\">"
			    "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
			    "<button type=\"submit\">Unsubscribe</button></form></body></html>\n");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/html; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* http_metrics_cb - route one request of the metrics_listen listener */
static void
http_metrics_cb(struct evhttp_request *req, void *arg)
{
	pd_server *srv = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	pd_front_touch(req);
	if (path != NULL && (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) &&
	    strcmp(path, "/metrics") == 0)
		http_metrics(req, srv);
	else if (path != NULL && (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) &&
	         strcmp(path, "/healthz") == 0)
		http_healthz(req, srv);
	else
		reply_text(req, 404, "Not Found", "text/plain", "not found\n");
}

/* http_cb - route one request */
static void
http_cb(struct evhttp_request *req, void *arg)
{
	pd_server *srv = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (path == NULL)
		path = "/";
	if (cmd == EVHTTP_REQ_HEAD)	/* evhttp sends no body for HEAD */
		cmd = EVHTTP_REQ_GET;
	pd_front_touch(req);
	if (cmd == EVHTTP_REQ_GET && strcmp(path, "/metrics") == 0 && srv->metrics_http == NULL)
		http_metrics(req, srv);
	else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/healthz") == 0)
		http_healthz(req, srv);
	else if (strncmp(path, "/u/", 3) == 0 && strlen(path + 3) < SL_TOKEN_URL_MAX
		 && strchr(path + 3, '/') == NULL && cmd == EVHTTP_REQ_POST)
		http_unsub_post(req, srv, path + 3);
	else if (strncmp(path, "/u/", 3) == 0 && strlen(path + 3) < SL_TOKEN_URL_MAX
		 && strchr(path + 3, '/') == NULL && cmd == EVHTTP_REQ_GET)
		http_unsub_get(req, path + 3);
	else
		reply_text(req, 404, "Not Found", "text/plain", "not found\n");
}

/* http_new - an evhttp with the size caps, behind a capped front */
static struct evhttp *
http_new(pd_server *srv, const char *listen, void (*cb)(struct evhttp_request *, void *),
         struct pd_front **front)
{
	struct evhttp *http = evhttp_new(srv->base);

	evhttp_set_max_headers_size(http, 8192);
	evhttp_set_max_body_size(http, 4096);
	evhttp_set_timeout(http, srv->cfg->http_timeout_s);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(http, cb, srv);
	*front =
	    pd_front_new(srv, http, listen, srv->cfg->http_max_conns, srv->cfg->http_timeout_s);
	if (*front == NULL) {
		evhttp_free(http);
		return NULL;
	}
	sl_info("http listening on %s", listen);
	return http;
}

/* pd_http_start - listen on http_listen and metrics_listen, those set */
int
pd_http_start(pd_server *srv)
{
	const pd_config *pc = srv->cfg;

	if (*pc->http_listen &&
	    (srv->http = http_new(srv, pc->http_listen, http_cb, &srv->http_front)) == NULL)
		return -1;
	if (*pc->metrics_listen &&
	    (srv->metrics_http =
	         http_new(srv, pc->metrics_listen, http_metrics_cb, &srv->metrics_front)) == NULL)
		return -1;
	return 0;
}

/* pd_http_stop - close the listeners */
void
pd_http_stop(pd_server *srv)
{
	pd_front_free(srv->http_front); /* before evhttp frees the socket */
	pd_front_free(srv->metrics_front);
	if (srv->http)
		evhttp_free(srv->http);
	if (srv->metrics_http)
		evhttp_free(srv->metrics_http);
	srv->http = srv->metrics_http = NULL;
	srv->http_front = srv->metrics_front = NULL;
}

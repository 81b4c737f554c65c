/*
 * NAME
 *	redis 3 - synchronous Redis client, replies and scripts
 * SYNOPSIS
 *	#include "redis.h"
 *
 *	sl_redis *r = sl_redis_new(&opts);
 *	if (sl_redis_cmd(r, &reply, "HGET %s %s", key, field) < 0)
 *		tempfail(sl_redis_errstr(r));
 * DESCRIPTION
 *	One blocking hiredis connection with a connect timeout and a command
 *	timeout (redisSetTimeout). The first connection is tried at once by
 *	sl_redis_new(). After any I/O error or timeout the connection is
 *	dropped (its state is unknown) and the handle enters backoff: until
 *	the retry time, every call fails at once with errstr "redis
 *	unavailable (reconnecting)"; the first call after it connects again
 *	(AUTH, SELECT). The delay starts at 100 ms and doubles up to 5 s with
 *	each failed attempt; a successful connection resets it. So no call
 *	waits longer than connect timeout + command timeout.
 *
 *	A failed command is never retried here (it may have run): the
 *	caller decides. sl_redis_eval() is the exception for NOSCRIPT, which
 *	means the script did not run: it is sent again once as EVAL.
 *
 *	Sentinel mode: every connection attempt first asks the sentinels
 *	(redis_sentinel.c), and ROLE must say master; READONLY drops the
 *	connection; once a second a sentinel is asked whether the master
 *	moved. Cluster mode: one connection per master, commands routed by
 *	their first key's slot, MOVED and ASK followed (redis_cluster.c).
 *
 *	This file also holds what both flavours share (redis_int.h): reply
 *	conversion, option copies, backoff, the EVALSHA argument vector.
 * THREADS
 *	A handle is not thread-safe: one per thread, or a lock around it.
 * SEE ALSO
 *	redis_async.c, doc/redis-client.md
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/evp.h>

#include "log.h"
#include "redis_int.h"

struct sl_redis {
	struct sl_redis_conf conf;
	redisContext *c;		/* NULL: down */
	long long retry_at;		/* no attempt before (monotonic ms) */
	long long poll_at;		/* next "who is master?" to a sentinel */
	int	poll_idx;		/* the sentinel polled (next on failure) */
	/* Cluster mode: one connection per master, by slot map index. */
	struct sl_redis_slotmap *map;	/* NULL: not in cluster mode */
	redisContext *nc[SL_REDIS_MAX_NODES];
	long long nretry_at[SL_REDIS_MAX_NODES];
	int	stale;			/* refresh the map before the next call */
	long long refresh_at;		/* not before (a dead node: 100 ms) */
	int	backoff_ms;		/* next delay */
	int	lost;			/* was up, is down: log the recovery */
	char	errstr[SL_REDIS_ERRSTR_LEN];
};

/* sl_reply_free - free a reply and everything below it */
void
sl_reply_free(sl_reply *reply)
{
	if (reply == NULL)
		return;
	for (size_t i = 0; i < reply->elements; i++)
		sl_reply_free(reply->element[i]);
	free(reply->element);
	free(reply->str);
	free(reply);
}

/* sl_redis_reply_copy - deep copy of a hiredis reply */
sl_reply *
sl_redis_reply_copy(const redisReply *r)
{
	sl_reply *out = sl_calloc(1, sizeof(*out));

	switch (r->type) {
	case REDIS_REPLY_STRING:
		out->type = SL_REPLY_STRING;
		break;
	case REDIS_REPLY_STATUS:
		out->type = SL_REPLY_STATUS;
		break;
	case REDIS_REPLY_ERROR:
		out->type = SL_REPLY_ERROR;
		break;
	case REDIS_REPLY_INTEGER:
		out->type = SL_REPLY_INTEGER;
		out->integer = r->integer;
		return out;
	case REDIS_REPLY_ARRAY:
		out->type = SL_REPLY_ARRAY;
		out->elements = r->elements;
		out->element = sl_calloc(r->elements ? r->elements : 1,
					 sizeof(*out->element));
		for (size_t i = 0; i < r->elements; i++)
			out->element[i] = sl_redis_reply_copy(r->element[i]);
		return out;
	default:			/* NIL, and anything newer */
		out->type = SL_REPLY_NIL;
		return out;
	}
	out->len = r->str ? (size_t) r->len : 0;
	out->str = sl_malloc(out->len + 1);
	if (out->len)
		memcpy(out->str, r->str, out->len);
	out->str[out->len] = '\0';
	return out;
}

/* sl_redis_is_noscript - is this the error "script not in the cache"? */
int
sl_redis_is_noscript(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR && r->str != NULL
	    && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* dupnull - strdup that keeps NULL and empty as NULL */
static char *
dupnull(const char *s)
{
	return s && *s ? sl_strdup(s) : NULL;
}

/* conf_init_addrs - copy a list of "host:port" (malformed: skipped) */
static int
conf_init_addrs(const char *const *in, int nin, char **hosts, int *ports,
		const char *what)
{
	char	host[256];
	int	port, n = 0;

	for (int i = 0; i < nin && in; i++) {
		if (n == SL_REDIS_MAX_SENTINELS
		    || sl_redis_hostport(in[i], host, sizeof(host), &port) < 0) {
			sl_warn("redis: %s \"%s\" ignored", what, in[i]);
			continue;
		}
		hosts[n] = sl_strdup(host);
		ports[n++] = port;
	}
	return n;
}

/* conf_init_sentinels - copy the Sentinel options */
static void
conf_init_sentinels(struct sl_redis_conf *conf, const sl_redis_opts *opts)
{
	conf->nsentinels = conf_init_addrs(opts->sentinels, opts->nsentinels,
					   conf->sentinel_host, conf->sentinel_port,
					   "sentinel");
	if (conf->nsentinels == 0)
		return;
	conf->master_name = sl_strdup(opts->master_name && *opts->master_name ?
				      opts->master_name : "mymaster");
	conf->sentinel_user = dupnull(opts->sentinel_user);
	conf->sentinel_password = dupnull(opts->sentinel_password);
	conf->backoff_max_ms = SL_REDIS_SENTINEL_BACKOFF_MAX_MS;
	free(conf->unix_path);		/* the master is on TCP, where told */
	conf->unix_path = NULL;
}

/* sl_redis_conf_init - copy options, filling in the defaults */
void
sl_redis_conf_init(struct sl_redis_conf *conf, const sl_redis_opts *opts)
{
	static const sl_redis_opts none;
	char	buf[512];

	if (opts == NULL)
		opts = &none;
	conf->unix_path = dupnull(opts->unix_path);
	conf->host = sl_strdup(opts->host && *opts->host ? opts->host : "127.0.0.1");
	conf->port = opts->port > 0 ? opts->port : 6379;
	conf->user = dupnull(opts->user);
	conf->password = dupnull(opts->password);
	conf->db = opts->db > 0 ? opts->db : 0;
	conf->connect_timeout_ms = opts->connect_timeout_ms > 0 ?
	    opts->connect_timeout_ms : 1000;
	conf->command_timeout_ms = opts->command_timeout_ms > 0 ?
	    opts->command_timeout_ms : 1000;
	conf->prefix = sl_strdup(opts->prefix ? opts->prefix : "sluice:");
	conf->backoff_max_ms = SL_REDIS_BACKOFF_MAX_MS;
	conf->ungated = opts->ungated;
	conf_init_sentinels(conf, opts);
	conf->ncluster = conf_init_addrs(opts->cluster_nodes, opts->ncluster_nodes,
					 conf->cluster_host, conf->cluster_port,
					 "cluster node");
	if (conf->ncluster > 0)
		snprintf(buf, sizeof(buf), "cluster");
	else if (conf->nsentinels > 0)
		snprintf(buf, sizeof(buf), "%s@sentinels", conf->master_name);
	else if (conf->unix_path)
		snprintf(buf, sizeof(buf), "unix:%s", conf->unix_path);
	else
		snprintf(buf, sizeof(buf), "%s:%d", conf->host, conf->port);
	conf->where = sl_strdup(buf);
}

/* sl_redis_conf_free - release the copied options */
void
sl_redis_conf_free(struct sl_redis_conf *conf)
{
	free(conf->unix_path);
	free(conf->host);
	free(conf->user);
	if (conf->password)
		memset(conf->password, 0, strlen(conf->password));
	free(conf->password);
	free(conf->prefix);
	free(conf->where);
	for (int i = 0; i < conf->nsentinels; i++)
		free(conf->sentinel_host[i]);
	for (int i = 0; i < conf->ncluster; i++)
		free(conf->cluster_host[i]);
	free(conf->master_name);
	free(conf->sentinel_user);
	if (conf->sentinel_password)
		memset(conf->sentinel_password, 0, strlen(conf->sentinel_password));
	free(conf->sentinel_password);
}

/* sl_redis_now_ms - monotonic clock in milliseconds */
long long
sl_redis_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static atomic_int gate_closed; /* sl_redis_gate() */

/* sl_redis_gate - close (1) or open (0) the process-wide gate */
void
sl_redis_gate(int closed)
{
	atomic_store(&gate_closed, closed != 0);
}

/* sl_redis_gated - does the gate hold this handle's calls right now? */
int
sl_redis_gated(const struct sl_redis_conf *conf)
{
	return !conf->ungated && atomic_load(&gate_closed);
}

/* gated - fail a call held by the gate */
static int
gated(sl_redis *r)
{
	if (!sl_redis_gated(&r->conf))
		return 0;
	snprintf(r->errstr, sizeof(r->errstr), "%s", SL_REDIS_GATED);
	return 1;
}

/* sl_redis_backoff_next - the delay after this one: doubled, capped */
int
sl_redis_backoff_next(int backoff_ms, int max_ms)
{
	if (backoff_ms < SL_REDIS_BACKOFF_MIN_MS)
		return SL_REDIS_BACKOFF_MIN_MS;
	return backoff_ms >= max_ms / 2 ? max_ms : backoff_ms * 2;
}

/* sl_redis_ignore_sigpipe - a dead server must not kill us by SIGPIPE */
void
sl_redis_ignore_sigpipe(void)
{
	struct sigaction sa;

	/* hiredis 0.14 writes with write(2), not send(MSG_NOSIGNAL). */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

/* sl_script_sha1 - the script's SHA1 in hex, computed on first use */
const char *
sl_script_sha1(sl_script *script)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char	buf[41];

	if (script->sha1[0] != '\0')
		return script->sha1;
	if (!EVP_Digest(script->source, strlen(script->source), md, &mdlen,
			EVP_sha1(), NULL) || mdlen != 20)
		sl_panic("redis: EVP_Digest(sha1) failed");
	for (unsigned int i = 0; i < mdlen; i++) {
		buf[2 * i] = hex[md[i] >> 4];
		buf[2 * i + 1] = hex[md[i] & 15];
	}
	buf[40] = '\0';
	memcpy(script->sha1, buf, sizeof(buf));
	return script->sha1;
}

/* sl_redis_evalv_init - EVALSHA sha1 nkeys args..., arguments copied */
void
sl_redis_evalv_init(struct sl_redis_evalv *ev, sl_script *script,
		    int nkeys, int argc, const char **argv,
		    const size_t *argvlen)
{
	size_t	total = 0, len;
	char   *p;

	if (argc < 0)
		argc = 0;
	for (int i = 0; i < argc; i++)
		total += argvlen ? argvlen[i] : strlen(argv[i]);
	ev->argc = argc + 3;
	ev->argv = sl_malloc(ev->argc * sizeof(*ev->argv) + total + 1);
	ev->argvlen = sl_malloc(ev->argc * sizeof(*ev->argvlen));
	snprintf(ev->nkeys, sizeof(ev->nkeys), "%d", nkeys);
	ev->argv[0] = "EVALSHA";
	ev->argv[1] = sl_script_sha1(script);
	ev->argv[2] = ev->nkeys;
	ev->argvlen[0] = 7;
	ev->argvlen[1] = 40;
	ev->argvlen[2] = strlen(ev->nkeys);
	p = (char *) (ev->argv + ev->argc);
	for (int i = 0; i < argc; i++) {
		len = argvlen ? argvlen[i] : strlen(argv[i]);
		if (len)
			memcpy(p, argv[i], len);
		ev->argv[i + 3] = p;
		ev->argvlen[i + 3] = len;
		p += len;
	}
}

/* sl_redis_evalv_to_eval - turn the vector into EVAL source nkeys ... */
void
sl_redis_evalv_to_eval(struct sl_redis_evalv *ev, const sl_script *script)
{
	ev->argv[0] = "EVAL";
	ev->argvlen[0] = 4;
	ev->argv[1] = script->source;
	ev->argvlen[1] = strlen(script->source);
}

/* sl_redis_evalv_free - release the vector (one block plus lengths) */
void
sl_redis_evalv_free(struct sl_redis_evalv *ev)
{
	free(ev->argv);
	free(ev->argvlen);
	ev->argv = NULL;
	ev->argvlen = NULL;
}

/* ms_timeval - milliseconds as a struct timeval */
static struct timeval
ms_timeval(int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

/* redis_ioerr - describe a failed context: "timeout" or its errstr */
static void
redis_ioerr(sl_redis *r, const char *what, const redisContext *c)
{
	const char *why;

	if (c == NULL)
		why = "out of memory";
	else if (c->err == REDIS_ERR_IO && (strcmp(c->errstr, strerror(EAGAIN)) == 0
		 || strcmp(c->errstr, strerror(ETIMEDOUT)) == 0
		 || strcmp(c->errstr, strerror(EINPROGRESS)) == 0))
		why = "timeout";
	else if (c->err == REDIS_ERR_EOF)
		why = "connection closed by server";
	else
		why = c->errstr[0] ? c->errstr : "unknown error";
	snprintf(r->errstr, sizeof(r->errstr), "%s%s%s", what ? what : "",
		 what ? ": " : "", why);
}

/* redis_down - drop the connection and schedule the next attempt */
static void
redis_down(sl_redis *r)
{
	if (r->c != NULL) {
		sl_warn("redis %s: connection lost: %s", r->conf.where, r->errstr);
		redisFree(r->c);
		r->c = NULL;
		r->lost = 1;
	}
	r->retry_at = sl_redis_now_ms() + r->backoff_ms;
	r->backoff_ms = sl_redis_backoff_next(r->backoff_ms, r->conf.backoff_max_ms);
}

/* redis_setup - AUTH and SELECT on a fresh connection */
static int
redis_setup(sl_redis *r, redisContext *c)
{
	redisReply *rep = NULL;
	const char *what = NULL;

	if (r->conf.password) {
		what = "AUTH";
		if (r->conf.user)
			rep = redisCommand(c, "AUTH %s %s", r->conf.user, r->conf.password);
		else
			rep = redisCommand(c, "AUTH %s", r->conf.password);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
			goto fail;
		freeReplyObject(rep);
	}
	if (r->conf.db > 0) {
		what = "SELECT";
		rep = redisCommand(c, "SELECT %d", r->conf.db);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
			goto fail;
		freeReplyObject(rep);
	}
	if (r->conf.nsentinels > 0) {
		what = "ROLE";
		if ((rep = redisCommand(c, "ROLE")) == NULL)
			goto fail;
		if (sl_redis_role_check(rep, r->errstr, sizeof(r->errstr)) < 0) {
			freeReplyObject(rep);
			return -1;
		}
		freeReplyObject(rep);
	}
	return 0;
fail:
	if (rep == NULL)
		redis_ioerr(r, what, c);
	else
		snprintf(r->errstr, sizeof(r->errstr), "%s failed: %s", what, rep->str);
	freeReplyObject(rep);
	return -1;
}

/* redis_connect - one attempt: connect, timeouts, AUTH, SELECT */
static int
redis_connect(sl_redis *r)
{
	struct timeval ctv = ms_timeval(r->conf.connect_timeout_ms);
	struct timeval ttv = ms_timeval(r->conf.command_timeout_ms);
	redisContext *c = NULL;
	char	host[256];
	int	port;

	if (r->conf.nsentinels > 0) {
		if (sl_redis_sentinel_discover(&r->conf, host, sizeof(host), &port,
					       r->errstr, sizeof(r->errstr)) < 0)
			goto fail;
		sl_redis_set_master(&r->conf, host, port);
		r->poll_at = sl_redis_now_ms() + SL_REDIS_SENTINEL_POLL_MS;
	}
	if (r->conf.unix_path)
		c = redisConnectUnixWithTimeout(r->conf.unix_path, ctv);
	else
		c = redisConnectWithTimeout(r->conf.host, r->conf.port, ctv);
	if (c == NULL || c->err) {
		redis_ioerr(r, "connect", c);
		goto fail;
	}
	if (redisSetTimeout(c, ttv) != REDIS_OK) {
		redis_ioerr(r, "timeout", c);
		goto fail;
	}
	if (redis_setup(r, c) < 0)
		goto fail;
	r->c = c;
	r->backoff_ms = SL_REDIS_BACKOFF_MIN_MS;
	if (r->lost)
		sl_info("redis %s: reconnected", r->conf.where);
	r->lost = 0;
	return 0;
fail:
	if (c)
		redisFree(c);
	if (!r->lost)
		sl_warn("redis %s: %s", r->conf.where, r->errstr);
	else
		sl_debug("redis %s: reconnect failed: %s", r->conf.where, r->errstr);
	r->lost = 1;
	redis_down(r);
	return -1;
}

/* redis_poll - once a second: have the sentinels moved the master? */
static void
redis_poll(sl_redis *r)
{
	char	host[256], why[SL_REDIS_ERRSTR_LEN];
	int	port, ms;

	if (r->conf.nsentinels == 0 || sl_redis_now_ms() < r->poll_at)
		return;
	r->poll_at = sl_redis_now_ms() + SL_REDIS_SENTINEL_POLL_MS;
	/* One sentinel per poll, briefly: a dead one must not stall calls. */
	ms = r->conf.connect_timeout_ms < SL_REDIS_SENTINEL_POLL_CONNECT_MS ?
	    r->conf.connect_timeout_ms : SL_REDIS_SENTINEL_POLL_CONNECT_MS;
	if (sl_redis_sentinel_ask(&r->conf, r->poll_idx, ms, host, sizeof(host),
				  &port, why, sizeof(why)) < 0) {
		sl_debug("redis sentinel %s:%d: %s", r->conf.sentinel_host[r->poll_idx],
			 r->conf.sentinel_port[r->poll_idx], why);
		r->poll_idx = (r->poll_idx + 1) % r->conf.nsentinels;
		return;
	}
	if (!sl_redis_master_moved(&r->conf, host, port))
		return;
	snprintf(r->errstr, sizeof(r->errstr), "sentinels name %.100s:%d as master",
		 host, port);
	redis_down(r);
	r->retry_at = 0;
}

/* redis_ready - a live connection, a new one, or fail fast in backoff */
static int
redis_ready(sl_redis *r)
{
	if (r->c != NULL)
		redis_poll(r);
	if (r->c != NULL)
		return 0;
	if (sl_redis_now_ms() < r->retry_at) {
		snprintf(r->errstr, sizeof(r->errstr), "redis unavailable (reconnecting)");
		return -1;
	}
	return redis_connect(r);
}

/* redis_result - hand over a reply, or record why there is none */
static int
redis_result(sl_redis *r, redisReply *rep, sl_reply **reply)
{
	if (reply)
		*reply = NULL;
	if (rep == NULL) {
		redis_ioerr(r, NULL, r->c);
		redis_down(r);
		return -1;
	}
	if (reply)
		*reply = sl_redis_reply_copy(rep);
	if (sl_redis_is_readonly(rep)) {
		/* The master became a replica under us: find the new one. */
		snprintf(r->errstr, sizeof(r->errstr), "READONLY: server is a replica");
		redis_down(r);
		r->retry_at = 0;
	}
	freeReplyObject(rep);
	return 0;
}

/*
 * Cluster mode. Each master gets its own connection, made on first use
 * (AUTH as configured; no SELECT: a cluster has database 0 only). A
 * command goes to the master of its first key's slot; MOVED updates the
 * slot and marks the map stale (CLUSTER SLOTS again before the next
 * call) and the command is sent again there; ASK sends ASKING and the
 * command to the named node, once; TRYAGAIN (a multi-key command on a
 * slot half migrated) waits SL_REDIS_TRYAGAIN_MS and sends it again. Redirects are answers, not
 * executions, so following them never runs a command twice. A
 * connection error drops that node, marks the map stale and fails the
 * call (it may have run); the node is not tried again for 100 ms.
 */

/* cluster_conn - the connection to node i: live, new, or NULL */
static redisContext *
cluster_conn(sl_redis *r, int i)
{
	struct timeval ctv = ms_timeval(r->conf.connect_timeout_ms);
	struct timeval ttv = ms_timeval(r->conf.command_timeout_ms);
	redisContext *c;

	if (r->nc[i] != NULL)
		return r->nc[i];
	if (sl_redis_now_ms() < r->nretry_at[i]) {
		snprintf(r->errstr, sizeof(r->errstr),
			 "redis %s:%d unavailable (reconnecting)", r->map->host[i],
			 r->map->port[i]);
		return NULL;
	}
	c = redisConnectWithTimeout(r->map->host[i], r->map->port[i], ctv);
	if (c == NULL || c->err || redisSetTimeout(c, ttv) != REDIS_OK) {
		redis_ioerr(r, "connect", c);
		goto fail;
	}
	if (redis_setup(r, c) < 0)
		goto fail;
	return r->nc[i] = c;
fail:
	sl_warn("redis cluster node %s:%d: %s", r->map->host[i], r->map->port[i],
		r->errstr);
	if (c)
		redisFree(c);
	r->nretry_at[i] = sl_redis_now_ms() + SL_REDIS_BACKOFF_MIN_MS;
	r->stale = 1;
	return NULL;
}

/* cluster_drop - node i's connection failed: close it, refresh the map */
static void
cluster_drop(sl_redis *r, int i)
{
	if (r->nc[i] != NULL) {
		sl_warn("redis cluster node %s:%d: connection lost: %s",
			r->map->host[i], r->map->port[i], r->errstr);
		redisFree(r->nc[i]);
		r->nc[i] = NULL;
	}
	r->nretry_at[i] = sl_redis_now_ms() + SL_REDIS_BACKOFF_MIN_MS;
	r->stale = 1;
}

/* cluster_refresh_from - CLUSTER SLOTS through node i; 0 when loaded */
static int
cluster_refresh_from(sl_redis *r, int i)
{
	redisContext *c = cluster_conn(r, i);
	redisReply *rep;
	sl_reply *copy;
	int	ret;

	if (c == NULL)
		return -1;
	if ((rep = redisCommand(c, "CLUSTER SLOTS")) == NULL) {
		redis_ioerr(r, "CLUSTER SLOTS", c);
		cluster_drop(r, i);
		return -1;
	}
	copy = sl_redis_reply_copy(rep);
	freeReplyObject(rep);
	ret = sl_redis_slotmap_load(r->map, copy, r->errstr, sizeof(r->errstr));
	sl_reply_free(copy);
	return ret;
}

/* cluster_refresh - a fresh slot map from any known node or seed */
static int
cluster_refresh(sl_redis *r)
{
	for (int i = 0; i < r->map->nnodes; i++)
		if ((r->nc[i] != NULL || i < r->conf.ncluster)
		    && cluster_refresh_from(r, i) == 0) {
			r->stale = 0;
			return 0;
		}
	for (int i = 0; i < r->map->nnodes; i++)
		if (r->nc[i] == NULL && i >= r->conf.ncluster
		    && cluster_refresh_from(r, i) == 0) {
			r->stale = 0;
			return 0;
		}
	return -1;
}

/* cluster_exec - route one command by its first key, follow redirects */
static int
cluster_exec(sl_redis *r, sl_reply **reply, struct sl_redis_evalv *ev,
	     const sl_script *script, int argc, const char **argv,
	     const size_t *argvlen)
{
	char	host[256];
	int	slot, node, ask = 0, rslot, port, noscript_done = 0;
	redisReply *rep;
	redisContext *c;

	int	refresh_failed = 0;

	if (r->stale && sl_redis_now_ms() >= r->refresh_at) {
		r->refresh_at = sl_redis_now_ms() + SL_REDIS_BACKOFF_MIN_MS;
		refresh_failed = cluster_refresh(r) < 0;
	}
	slot = sl_redis_cmd_slot(argc, argv, argvlen);
	node = slot < 0 ? 0 : r->map->node[slot];
	if (node < 0) {
		if (!refresh_failed)
			snprintf(r->errstr, sizeof(r->errstr),
				 "cluster: no node known for slot %d", slot);
		r->stale = 1;
		return -1;
	}
	for (int hops = 0; hops <= SL_REDIS_MAX_REDIRECTS; hops++) {
		if ((c = cluster_conn(r, node)) == NULL)
			return -1;
		if (ask) {
			rep = redisCommand(c, "ASKING");
			if (rep == NULL) {
				redis_ioerr(r, "ASKING", c);
				cluster_drop(r, node);
				return -1;
			}
			freeReplyObject(rep);
		}
		rep = redisCommandArgv(c, argc, argv, argvlen);
		if (rep == NULL) {
			redis_ioerr(r, NULL, c);
			cluster_drop(r, node);
			return -1;
		}
		if (ev != NULL && !noscript_done && sl_redis_is_noscript(rep)) {
			freeReplyObject(rep);
			sl_redis_evalv_to_eval(ev, script);
			argv = ev->argv, argvlen = ev->argvlen;
			noscript_done = 1;
			hops--;
			ask = 0;	/* NOSCRIPT came after ASKING: ask again */
			continue;
		}
		/* keys of a slot being migrated, some moved: again shortly */
		if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "TRYAGAIN", 8) == 0
		    && hops < SL_REDIS_MAX_REDIRECTS) {
			struct timespec ts = {0, SL_REDIS_TRYAGAIN_MS * 1000000L};

			freeReplyObject(rep);
			nanosleep(&ts, NULL);
			ask = 0;
			if (slot >= 0 && r->map->node[slot] >= 0)
				node = r->map->node[slot];
			continue;
		}
		if (rep->type != REDIS_REPLY_ERROR
		    || sl_redis_redirect(rep->str, &ask, &rslot, host, sizeof(host),
					 &port) != 1) {
			*reply = sl_redis_reply_copy(rep);
			freeReplyObject(rep);
			return 0;
		}
		freeReplyObject(rep);
		if ((node = sl_redis_slotmap_node(r->map, host, port)) < 0) {
			snprintf(r->errstr, sizeof(r->errstr), "cluster: too many nodes");
			return -1;
		}
		if (!ask) {
			r->map->node[rslot] = (short) node;
			r->stale = 1;
		}
	}
	snprintf(r->errstr, sizeof(r->errstr), "cluster: too many redirects");
	r->stale = 1;
	return -1;
}

/* resp_argv - split a formatted command (RESP array) into arguments */
static int
resp_argv(char *buf, int len, int *argc, const char ***argv, size_t **argvlen)
{
	char   *p = buf, *end = buf + len, *e;
	long	n, l;

	if (len < 4 || *p != '*' || (n = strtol(p + 1, &e, 10)) <= 0 || e + 2 > end)
		return -1;
	p = e + 2;
	*argv = sl_calloc((size_t) n, sizeof(**argv));
	*argvlen = sl_calloc((size_t) n, sizeof(**argvlen));
	for (long i = 0; i < n; i++) {
		if (p >= end || *p != '$' || (l = strtol(p + 1, &e, 10)) < 0
		    || e + 2 + l + 2 > end)
			return -1;
		(*argv)[i] = e + 2;
		(*argvlen)[i] = (size_t) l;
		p = e + 2 + l + 2;
	}
	*argc = (int) n;
	return 0;
}

/* cluster_vcmd - sl_redis_cmd() in cluster mode: format, split, route */
static int
cluster_vcmd(sl_redis *r, sl_reply **reply, const char *fmt, va_list ap)
{
	const char **argv = NULL;
	size_t *argvlen = NULL;
	char   *buf = NULL;
	int	len, argc = 0, ret = -1;

	if ((len = redisvFormatCommand(&buf, fmt, ap)) < 0
	    || resp_argv(buf, len, &argc, &argv, &argvlen) < 0)
		snprintf(r->errstr, sizeof(r->errstr), "bad command format");
	else
		ret = cluster_exec(r, reply, NULL, NULL, argc, argv, argvlen);
	free(argv);
	free(argvlen);
	free(buf);
	return ret;
}

/* cluster_new - set up the slot map with the seeds; map on first call */
static void
cluster_new(sl_redis *r)
{
	r->map = sl_calloc(1, sizeof(*r->map));
	sl_redis_slotmap_init(r->map);
	for (int i = 0; i < r->conf.ncluster; i++)
		(void) sl_redis_slotmap_node(r->map, r->conf.cluster_host[i],
					     r->conf.cluster_port[i]);
	r->stale = 1;
	if (cluster_refresh(r) < 0)
		sl_warn("redis cluster: %s", r->errstr);
}

/* cluster_free - close every node connection */
static void
cluster_free(sl_redis *r)
{
	for (int i = 0; i < SL_REDIS_MAX_NODES; i++)
		if (r->nc[i])
			redisFree(r->nc[i]);
	sl_redis_slotmap_free(r->map);
	free(r->map);
}

/* sl_redis_new - a handle; the first connection is tried at once */
sl_redis *
sl_redis_new(const sl_redis_opts *opts)
{
	sl_redis *r = sl_calloc(1, sizeof(*r));

	sl_redis_ignore_sigpipe();
	sl_redis_conf_init(&r->conf, opts);
	r->backoff_ms = SL_REDIS_BACKOFF_MIN_MS;
	if (r->conf.ncluster > 0)
		cluster_new(r);
	else
		(void) redis_connect(r);
	return r;
}

/* sl_redis_free - close and release */
void
sl_redis_free(sl_redis *r)
{
	if (r == NULL)
		return;
	if (r->c)
		redisFree(r->c);
	if (r->map)
		cluster_free(r);
	sl_redis_conf_free(&r->conf);
	free(r);
}

/* sl_redis_errstr - why the last call failed */
const char *
sl_redis_errstr(const sl_redis *r)
{
	return r->errstr;
}

/* sl_redis_prefix - the configured key prefix */
const char *
sl_redis_prefix(const sl_redis *r)
{
	return r->conf.prefix;
}

/* sl_redis_connected - is there a live connection right now? */
int
sl_redis_connected(const sl_redis *r)
{
	if (r->map != NULL) {
		for (int i = 0; i < r->map->nnodes; i++)
			if (r->nc[i] != NULL)
				return 1;
		return 0;
	}
	return r->c != NULL;
}

/* sl_redis_cluster - is this handle in Redis Cluster mode? */
int
sl_redis_cluster(const sl_redis *r)
{
	return r != NULL && r->map != NULL;
}

/* sl_redis_cmd - one command, hiredis printf-like format */
int
sl_redis_cmd(sl_redis *r, sl_reply **reply, const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	sl_reply *dummy = NULL;
	int	ret;

	if (reply)
		*reply = NULL;
	if (gated(r))
		return -1;
	if (r->map != NULL) {
		va_start(ap, fmt);
		ret = cluster_vcmd(r, reply ? reply : &dummy, fmt, ap);
		va_end(ap);
		sl_reply_free(dummy);
		return ret;
	}
	if (redis_ready(r) < 0)
		return -1;
	va_start(ap, fmt);
	rep = redisvCommand(r->c, fmt, ap);
	va_end(ap);
	return redis_result(r, rep, reply);
}

/* sl_redis_cmdv - one command as an argument vector */
int
sl_redis_cmdv(sl_redis *r, sl_reply **reply, int argc, const char **argv,
	      const size_t *argvlen)
{
	if (reply)
		*reply = NULL;
	if (argc <= 0 || argv == NULL) {
		snprintf(r->errstr, sizeof(r->errstr), "empty command");
		return -1;
	}
	if (gated(r))
		return -1;
	if (r->map != NULL) {
		sl_reply *dummy = NULL;
		int	ret = cluster_exec(r, reply ? reply : &dummy, NULL, NULL, argc,
					   argv, argvlen);

		sl_reply_free(dummy);
		return ret;
	}
	if (redis_ready(r) < 0)
		return -1;
	return redis_result(r, redisCommandArgv(r->c, argc, argv, argvlen), reply);
}

/* sl_redis_eval - EVALSHA; after NOSCRIPT, once more as EVAL */
int
sl_redis_eval(sl_redis *r, sl_script *script, sl_reply **reply, int nkeys,
	      int argc, const char **argv, const size_t *argvlen)
{
	struct sl_redis_evalv ev;
	redisReply *rep;
	int	ret = -1;

	if (reply)
		*reply = NULL;
	if (gated(r))
		return -1;
	if (r->map != NULL) {
		sl_reply *dummy = NULL;

		sl_redis_evalv_init(&ev, script, nkeys, argc, argv, argvlen);
		ret = cluster_exec(r, reply ? reply : &dummy, &ev, script, ev.argc,
				   ev.argv, ev.argvlen);
		sl_redis_evalv_free(&ev);
		sl_reply_free(dummy);
		return ret;
	}
	if (redis_ready(r) < 0)
		return -1;
	sl_redis_evalv_init(&ev, script, nkeys, argc, argv, argvlen);
	rep = redisCommandArgv(r->c, ev.argc, ev.argv, ev.argvlen);
	if (rep != NULL && sl_redis_is_noscript(rep)) {
		freeReplyObject(rep);
		sl_redis_evalv_to_eval(&ev, script);
		rep = redisCommandArgv(r->c, ev.argc, ev.argv, ev.argvlen);
	}
	ret = redis_result(r, rep, reply);
	sl_redis_evalv_free(&ev);
	return ret;
}

/* scan_keys - fn per key of one SCAN reply's batch; 1 when fn stopped */
static int
scan_keys(const sl_reply *keys, sl_redis_scan_fn *fn, void *arg)
{
	for (size_t i = 0; i < keys->elements; i++)
		if (keys->element[i]->type == SL_REPLY_STRING && fn(keys->element[i]->str, arg))
			return 1;
	return 0;
}

/* scan_step - one SCAN on node (cluster) or the server; the next cursor in cursor */
static int
scan_step(sl_redis *r, int node, const char *pattern, char *cursor, size_t curlen,
          sl_redis_scan_fn *fn, void *arg)
{
	const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
	sl_reply *rep = NULL;
	redisContext *c;
	int rc;

	if (node < 0) {
		if (sl_redis_cmdv(r, &rep, 6, argv, NULL) < 0)
			return -1;
	} else {
		redisReply *hr;

		if ((c = cluster_conn(r, node)) == NULL)
			return -1;
		if ((hr = redisCommandArgv(c, 6, argv, NULL)) == NULL) {
			redis_ioerr(r, "SCAN", c);
			cluster_drop(r, node);
			return -1;
		}
		rep = sl_redis_reply_copy(hr);
		freeReplyObject(hr);
	}
	if (rep->type != SL_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != SL_REPLY_STRING || rep->element[1]->type != SL_REPLY_ARRAY) {
		snprintf(r->errstr, sizeof(r->errstr), "SCAN: %s",
		         rep->type == SL_REPLY_ERROR ? rep->str : "unexpected reply");
		sl_reply_free(rep);
		return -2;
	}
	snprintf(cursor, curlen, "%s", rep->element[0]->str);
	rc = scan_keys(rep->element[1], fn, arg);
	sl_reply_free(rep);
	return rc;
}

/* scan_node - a whole SCAN of node (cluster) or the server */
static int
scan_node(sl_redis *r, int node, const char *pattern, sl_redis_scan_fn *fn, void *arg)
{
	char cursor[32] = "0";
	int rc;

	do {
		if ((rc = scan_step(r, node, pattern, cursor, sizeof(cursor), fn, arg)) != 0)
			return rc;
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

/* cluster_masters - the masters of the slot map (refreshed first when stale) */
static int
cluster_masters(sl_redis *r, int *out)
{
	char seen[SL_REDIS_MAX_NODES] = {0};
	int n = 0;

	if (r->stale && cluster_refresh(r) < 0)
		return -1;
	for (int s = 0; s < SL_REDIS_SLOTS; s++) {
		int i = r->map->node[s];

		if (i >= 0 && !seen[i]) {
			seen[i] = 1;
			out[n++] = i;
		}
	}
	if (n == 0)
		snprintf(r->errstr, sizeof(r->errstr), "cluster: no master serves a slot");
	return n > 0 ? n : -1;
}

/* sl_redis_scan_all - SCAN over every master (cluster) or the server */
int
sl_redis_scan_all(sl_redis *r, const char *pattern, sl_redis_scan_fn *fn, void *arg)
{
	int masters[SL_REDIS_MAX_NODES], n, rc;

	if (gated(r))
		return -1;
	if (r->map == NULL)
		return scan_node(r, -1, pattern, fn, arg);
	if ((n = cluster_masters(r, masters)) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if ((rc = scan_node(r, masters[i], pattern, fn, arg)) != 0)
			return rc;
	return 0;
}

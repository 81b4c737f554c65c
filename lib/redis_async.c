/*
 * NAME
 *	redis_async 3 - asynchronous Redis client on libevent
 * SYNOPSIS
 *	#include "redis.h"
 *
 *	sl_aredis *ar = sl_aredis_new(base, &opts);
 *	sl_aredis_eval(ar, &script, 50, done, ctx, 1, 3, argv, NULL);
 * DESCRIPTION
 *	One hiredis async connection attached to the caller's event_base
 *	through hiredis' libevent adapter. hiredis 0.14 has neither command
 *	timeouts nor reconnection, so this file adds both:
 *
 *	Each request is a record (struct aredis_req) with a libevent timer.
 *	The caller's callback runs exactly once: with the reply, or with
 *	reply NULL and err "timeout", "disconnected", "not connected" or
 *	"shutting down". After a timeout the record stays alive, with no
 *	callback, until hiredis hands back its reply (or NULL on
 *	disconnect); only then is it freed. A late reply is ignored.
 *
 *	Connecting is asynchronous: AUTH and SELECT (PING when neither is
 *	configured) are pipelined right behind the connect, and the handle is
 *	"connected" once their replies are in. The attempt is abandoned
 *	after connect_timeout_ms, so a frozen server is never "connected". Until connected, and during
 *	backoff, requests fail fast: the callback gets "not connected" from a
 *	zero-delay timer, never from inside sl_aredis_cmdv(). After a loss
 *	the next attempt comes after 100 ms, doubling to 5 s while attempts
 *	fail. Loss is logged with sl_warn, recovery with sl_info.
 *
 *	A server that stops answering (no reply for STALL_MS while requests
 *	are outstanding) is treated as lost: the connection is dropped, so
 *	timed-out records do not pile up behind a hung server.
 *
 *	NOSCRIPT after EVALSHA (Redis restarted, SCRIPT FLUSH): the request
 *	is sent once more as EVAL, within the same timeout. Every other
 *	error reply goes to the caller (who must treat it as a failure) and
 *	is counted: sl_aredis_error_replies().
 *	Sentinel mode: before each connection attempt the sentinels are
 *	asked in turn, asynchronously (one libevent connection to one
 *	sentinel at a time, bounded by connect + command timeout), then ROLE
 *	is pipelined behind AUTH/SELECT and must say master. READONLY drops
 *	the connection; so does a stall of max(command timeout, 1 s); and
 *	once a second a sentinel is asked whether the master moved.
 *	Cluster mode (cluster_nodes): one plain handle of this file per
 *	master (each with its own connection, backoff, NOSCRIPT retry and
 *	timeouts), and a routing layer above them that uses redis_cluster.c's
 *	slot map and redirect parser, as the synchronous client does: a
 *	command goes to the master of its first key's slot; MOVED updates
 *	that slot, marks the map stale and sends the command there; ASK
 *	sends ASKING and the command (EVAL, not EVALSHA: the importing node
 *	may lack the script) to the named node; at most
 *	SL_REDIS_MAX_REDIRECTS redirects, all within the request's one
 *	timeout; TRYAGAIN (a multi-key command on a slot whose keys are
 *	half moved) is sent again after TRYAGAIN_MS, as a redirect. A
 *	failed or timed-out request, or CLUSTERDOWN, marks the
 *	map stale; a timer (REFRESH_MS) then asks CLUSTER SLOTS of a
 *	connected master, never more often than every REFRESH_MS. Nothing
 *	waits: every step is a callback.
 * OWNERSHIP
 *	The reply passed to a callback is borrowed: freed when it returns.
 *	Callbacks may issue new requests and may call sl_aredis_free().
 * BUGS
 *	No pub/sub: every command must get exactly one reply.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "log.h"
#include "redis_int.h"

#define STALL_MS	5000	/* no reply for this long: connection is dead */
#define SENTINEL_STALL_MS 1000	/* the same with sentinels: look elsewhere */

enum aredis_state { AR_DOWN, AR_DISCOVERING, AR_CONNECTING, AR_READY };

struct aredis_req {
	struct aredis_req *prev, *next;	/* ar->reqs while ar owns us */
	sl_aredis *ar;			/* NULL once detached by free */
	sl_aredis_cb *cb;		/* NULL once the caller was answered */
	void   *arg;
	struct event *timer;		/* timeout, or zero-delay fail-fast */
	const char *fail;		/* error the timer delivers (fail-fast) */
	int	in_hiredis;		/* hiredis will call aredis_reply_cb */
	int	retried;		/* NOSCRIPT retry done */
	sl_script *script;		/* eval requests only */
	struct sl_redis_evalv ev;	/* eval requests only */
};

struct sl_aredis {
	struct event_base *base;
	struct sl_redis_conf conf;
	redisAsyncContext *ac;		/* NULL: down (backoff) */
	redisAsyncContext *sac;		/* sentinel being asked, or NULL */
	int	sentinel_idx;		/* which one */
	int	master_found;		/* conf.host:port is fresh from a sentinel */
	int	polling;		/* sac is the once-a-second check */
	int	poll_idx;		/* the sentinel polled */
	struct event *poll_timer;	/* SL_REDIS_SENTINEL_POLL_MS, persistent */
	enum aredis_state state;
	int	setup_pending;		/* AUTH/SELECT replies still due */
	int	backoff_ms;
	int	lost;			/* was up: log the recovery */
	int	was_up;			/* ever connected (wording of logs) */
	int	closing;		/* sl_aredis_free() in progress */
	int	inflight;		/* requests in hiredis' queue */
	unsigned long long error_replies; /* SL_REPLY_ERROR handed to callers */
	long long progress_ms;		/* last reply, or first of a busy period */
	struct event *retry_timer;
	struct event *connect_timer;
	struct aredis_req *reqs;	/* all records we still own */
	char	errstr[SL_REDIS_ERRSTR_LEN];
	/* Cluster mode (map != NULL): one plain handle per master. */
	struct sl_redis_slotmap *map;
	sl_aredis *node[SL_REDIS_MAX_NODES];
	char	owns[SL_REDIS_MAX_NODES];	/* serves slots in the last map */
	int	loaded;			/* a map was loaded once */
	int	stale;			/* CLUSTER SLOTS again soon */
	int	refreshing;		/* CLUSTER SLOTS in flight */
	long long refresh_at;		/* not before (monotonic ms) */
	struct event *tick;		/* REFRESH_MS, persistent */
	struct cluster_req *creqs;	/* requests being routed */
};

static void aredis_connect(sl_aredis *ar);
static void cluster_new(sl_aredis *ar);
static void cluster_free(sl_aredis *ar);
static int cluster_send_new(sl_aredis *ar, sl_script *script, int timeout_ms, sl_aredis_cb *cb,
                            void *arg, int nkeys, int argc, const char **argv,
                            const size_t *argvlen);

/* ms_timeval - milliseconds as a struct timeval */
static struct timeval
ms_timeval(int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

/* req_unlink - take a record off the handle's list */
static void
req_unlink(struct aredis_req *req)
{
	sl_aredis *ar = req->ar;

	if (ar == NULL)
		return;
	if (req->prev)
		req->prev->next = req->next;
	else
		ar->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
}

/* req_release - free a record once answered and out of hiredis */
static void
req_release(struct aredis_req *req)
{
	if (req->timer)
		evtimer_del(req->timer);
	if (req->cb != NULL || req->in_hiredis)
		return;
	req_unlink(req);
	if (req->timer)
		event_free(req->timer);
	if (req->script)
		sl_redis_evalv_free(&req->ev);
	free(req);
}

/* req_answer - call the caller back once, then let go of the record */
static void
req_answer(struct aredis_req *req, const sl_reply *reply, const char *err)
{
	sl_aredis_cb *cb = req->cb;
	void   *arg = req->arg;

	req->cb = NULL;
	req_release(req);
	cb(reply, err, arg);
}

/* aredis_retry_later - arm the reconnect timer with the current backoff */
static void
aredis_retry_later(sl_aredis *ar)
{
	struct timeval tv = ms_timeval(ar->backoff_ms);

	ar->state = AR_DOWN;
	if (ar->closing)
		return;
	ar->backoff_ms = sl_redis_backoff_next(ar->backoff_ms, ar->conf.backoff_max_ms);
	evtimer_add(ar->retry_timer, &tv);
}

/* aredis_lost - note why the connection went away, log once */
static void
aredis_lost(sl_aredis *ar, const char *why)
{
	snprintf(ar->errstr, sizeof(ar->errstr), "%s", why);
	if (!ar->lost)
		sl_warn("redis %s: %s: %s", ar->conf.where,
			ar->was_up ? "connection lost" : "cannot connect", why);
	else
		sl_debug("redis %s: reconnect failed: %s", ar->conf.where, why);
	ar->lost = 1;
}

/* aredis_drop - close our connection (pending requests: "disconnected") */
static void
aredis_drop(sl_aredis *ar, const char *why)
{
	redisAsyncContext *ac = ar->ac;

	if (ac == NULL)
		return;
	ar->ac = NULL;
	ac->data = NULL;		/* our hiredis callbacks ignore it now */
	evtimer_del(ar->connect_timer);
	aredis_lost(ar, why);
	aredis_retry_later(ar);
	/* Inside a hiredis callback this is deferred until it returns. */
	redisAsyncFree(ac);
}

/* aredis_ready - handshake complete: requests may flow */
static void
aredis_ready(sl_aredis *ar)
{
	ar->state = AR_READY;
	ar->backoff_ms = SL_REDIS_BACKOFF_MIN_MS;
	ar->errstr[0] = '\0';
	evtimer_del(ar->connect_timer);
	if (ar->lost)
		sl_info("redis %s: reconnected", ar->conf.where);
	ar->lost = 0;
	ar->was_up = 1;
}

/* aredis_progress - the server answered something */
static void
aredis_progress(sl_aredis *ar)
{
	ar->progress_ms = sl_redis_now_ms();
}

/* aredis_setup_cb - reply to AUTH or SELECT (privdata: its name) */
static void
aredis_setup_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	sl_aredis *ar = ac->data;
	redisReply *reply = r;
	char	why[SL_REDIS_ERRSTR_LEN];

	if (ar == NULL || reply == NULL)
		return;			/* dropped: handled elsewhere */
	aredis_progress(ar);
	if (reply->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "%s failed: %s", (char *) privdata,
			 reply->str);
		aredis_drop(ar, why);
		return;
	}
	if (strcmp(privdata, "ROLE") == 0
	    && sl_redis_role_check(reply, why, sizeof(why)) < 0) {
		aredis_drop(ar, why);
		return;
	}
	if (--ar->setup_pending == 0 && ar->state == AR_CONNECTING
	    && (ac->c.flags & REDIS_CONNECTED))
		aredis_ready(ar);
}

/* aredis_on_connect - the socket connected, or failed to */
static void
aredis_on_connect(const redisAsyncContext *ac, int status)
{
	sl_aredis *ar = ac->data;

	if (ar == NULL)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees ac right after this returns: do not free it. */
		ar->ac = NULL;
		((redisAsyncContext *) ac)->data = NULL;
		evtimer_del(ar->connect_timer);
		aredis_lost(ar, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
		aredis_retry_later(ar);
		return;
	}
	if (ar->setup_pending == 0)
		aredis_ready(ar);
}

/* aredis_on_disconnect - the server or an I/O error closed the connection */
static void
aredis_on_disconnect(const redisAsyncContext *ac, int status)
{
	sl_aredis *ar = ac->data;

	(void) status;
	if (ar == NULL)
		return;			/* our own aredis_drop() */
	ar->ac = NULL;
	evtimer_del(ar->connect_timer);
	aredis_lost(ar, ac->c.errstr[0] ? ac->c.errstr : "connection closed");
	aredis_retry_later(ar);
}

/* aredis_setup_send - pipeline AUTH and SELECT (or PING) behind the connect */
static int
aredis_setup_send(sl_aredis *ar, redisAsyncContext *ac)
{
	static char auth[] = "AUTH", select[] = "SELECT", ping[] = "PING",
	    role[] = "ROLE";
	const struct sl_redis_conf *c = &ar->conf;
	int	rc = REDIS_OK;

	ar->setup_pending = 0;
	if (c->password && c->user)
		rc = redisAsyncCommand(ac, aredis_setup_cb, auth, "AUTH %s %s",
				       c->user, c->password);
	else if (c->password)
		rc = redisAsyncCommand(ac, aredis_setup_cb, auth, "AUTH %s",
				       c->password);
	ar->setup_pending += c->password != NULL;
	if (rc == REDIS_OK && c->db > 0) {
		rc = redisAsyncCommand(ac, aredis_setup_cb, select, "SELECT %d", c->db);
		ar->setup_pending++;
	}
	/* With sentinels, only a master will do (a stale hint is refused). */
	if (rc == REDIS_OK && c->nsentinels > 0) {
		rc = redisAsyncCommand(ac, aredis_setup_cb, role, "ROLE");
		ar->setup_pending++;
	}
	/* A server must answer before we call it up (a frozen one would not). */
	if (rc == REDIS_OK && ar->setup_pending == 0) {
		rc = redisAsyncCommand(ac, aredis_setup_cb, ping, "PING");
		ar->setup_pending++;
	}
	return rc == REDIS_OK ? 0 : -1;
}

/* sentinel_drop - stop asking the current sentinel */
static void
sentinel_drop(sl_aredis *ar)
{
	redisAsyncContext *sac = ar->sac;

	if (sac == NULL)
		return;
	ar->sac = NULL;
	sac->data = NULL;
	evtimer_del(ar->connect_timer);
	redisAsyncFree(sac);		/* deferred inside its callback */
}

/* sentinel_next - this sentinel failed: ask the next, or back off */
static void
sentinel_next(sl_aredis *ar, const char *why)
{
	const struct sl_redis_conf *c = &ar->conf;

	sl_debug("redis sentinel %s:%d: %s", c->sentinel_host[ar->sentinel_idx],
		 c->sentinel_port[ar->sentinel_idx], why);
	sentinel_drop(ar);
	if (ar->polling) {		/* keep the connection we have */
		ar->polling = 0;
		ar->poll_idx = (ar->poll_idx + 1) % c->nsentinels;
		return;
	}
	if (++ar->sentinel_idx < c->nsentinels) {
		aredis_connect(ar);
		return;
	}
	ar->sentinel_idx = 0;
	aredis_lost(ar, "no sentinel gave the master's address");
	aredis_retry_later(ar);
}

/* sentinel_reply_cb - the answer to AUTH or get-master-addr-by-name */
static void
sentinel_reply_cb(redisAsyncContext *sac, void *r, void *privdata)
{
	sl_aredis *ar = sac->data;
	redisReply *reply = r;
	char	host[256], why[SL_REDIS_ERRSTR_LEN];
	int	port;

	if (ar == NULL || ar->sac != sac)
		return;
	if (privdata != NULL) {		/* AUTH */
		if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
			snprintf(why, sizeof(why), "AUTH failed: %s",
				 reply ? reply->str : "no reply");
			sentinel_next(ar, why);
		}
		return;
	}
	if (sl_redis_sentinel_addr(reply, host, sizeof(host), &port, why,
				   sizeof(why)) < 0) {
		sentinel_next(ar, why);
		return;
	}
	sentinel_drop(ar);
	if (ar->polling) {
		ar->polling = 0;
		if (ar->ac != NULL && sl_redis_master_moved(&ar->conf, host, port)) {
			snprintf(why, sizeof(why), "sentinels name %.100s:%d as master",
				 host, port);
			ar->backoff_ms = 0;	/* go there at once */
			aredis_drop(ar, why);
		}
		return;
	}
	sl_redis_set_master(&ar->conf, host, port);
	ar->sentinel_idx = 0;
	ar->master_found = 1;
	aredis_connect(ar);
}

/* sentinel_on_connect - the sentinel's socket connected, or failed to */
static void
sentinel_on_connect(const redisAsyncContext *sac, int status)
{
	sl_aredis *ar = sac->data;
	char	why[SL_REDIS_ERRSTR_LEN];

	if (ar == NULL || status == REDIS_OK)
		return;
	/* hiredis frees sac right after this returns: do not free it. */
	ar->sac = NULL;
	((redisAsyncContext *) sac)->data = NULL;
	evtimer_del(ar->connect_timer);
	snprintf(why, sizeof(why), "%s", sac->c.errstr[0] ? sac->c.errstr :
		 "connect failed");
	sentinel_next(ar, why);
}

/* sentinel_on_disconnect - the sentinel closed before answering */
static void
sentinel_on_disconnect(const redisAsyncContext *sac, int status)
{
	sl_aredis *ar = sac->data;

	(void) status;
	if (ar == NULL)
		return;
	ar->sac = NULL;
	evtimer_del(ar->connect_timer);
	sentinel_next(ar, "connection closed");
}

/* sentinel_ask - ask sentinel number ar->sentinel_idx for the master */
static void
sentinel_ask(sl_aredis *ar)
{
	static char auth[] = "AUTH";
	struct timeval tv = ms_timeval(ar->conf.connect_timeout_ms
				       + ar->conf.command_timeout_ms);
	const struct sl_redis_conf *c = &ar->conf;
	int	i = ar->sentinel_idx, rc = REDIS_OK;
	redisAsyncContext *sac;

	if (!ar->polling)
		ar->state = AR_DISCOVERING;
	sac = redisAsyncConnect(c->sentinel_host[i], c->sentinel_port[i]);
	if (sac == NULL || sac->err) {
		if (sac)
			redisAsyncFree(sac);
		sentinel_next(ar, "cannot connect");
		return;
	}
	sac->data = ar;
	ar->sac = sac;
	if (redisLibeventAttach(sac, ar->base) != REDIS_OK
	    || redisAsyncSetConnectCallback(sac, sentinel_on_connect) != REDIS_OK
	    || redisAsyncSetDisconnectCallback(sac, sentinel_on_disconnect) != REDIS_OK) {
		sentinel_next(ar, "cannot set up the connection");
		return;
	}
	if (c->sentinel_password && c->sentinel_user)
		rc = redisAsyncCommand(sac, sentinel_reply_cb, auth, "AUTH %s %s",
				       c->sentinel_user, c->sentinel_password);
	else if (c->sentinel_password)
		rc = redisAsyncCommand(sac, sentinel_reply_cb, auth, "AUTH %s",
				       c->sentinel_password);
	if (rc != REDIS_OK
	    || redisAsyncCommand(sac, sentinel_reply_cb, NULL,
				 "SENTINEL get-master-addr-by-name %s",
				 c->master_name) != REDIS_OK) {
		sentinel_next(ar, "cannot send the question");
		return;
	}
	evtimer_add(ar->connect_timer, &tv);
}

/* aredis_poll_cb - once a second while connected: ask who is master */
static void
aredis_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	sl_aredis *ar = arg;

	(void) fd;
	(void) what;
	if (ar->state != AR_READY || ar->sac != NULL)
		return;
	ar->polling = 1;
	ar->sentinel_idx = ar->poll_idx;	/* moves on when one fails */
	sentinel_ask(ar);
}

/* aredis_connect - start one asynchronous connection attempt */
static void
aredis_connect(sl_aredis *ar)
{
	struct timeval tv = ms_timeval(ar->conf.connect_timeout_ms);
	redisAsyncContext *ac;

	if (ar->sac != NULL) {		/* a poll in flight: discovery wins */
		sentinel_drop(ar);
		ar->polling = 0;
	}
	if (ar->conf.nsentinels > 0 && !ar->master_found) {
		sentinel_ask(ar);
		return;
	}
	ar->master_found = 0;		/* next attempt asks the sentinels again */
	if (ar->conf.unix_path)
		ac = redisAsyncConnectUnix(ar->conf.unix_path);
	else
		ac = redisAsyncConnect(ar->conf.host, ar->conf.port);
	if (ac == NULL || ac->err) {
		aredis_lost(ar, ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		aredis_retry_later(ar);
		return;
	}
	ac->data = ar;
	ar->ac = ac;
	ar->state = AR_CONNECTING;
	ar->inflight = 0;
	if (redisLibeventAttach(ac, ar->base) != REDIS_OK
	    || redisAsyncSetConnectCallback(ac, aredis_on_connect) != REDIS_OK
	    || redisAsyncSetDisconnectCallback(ac, aredis_on_disconnect) != REDIS_OK
	    || aredis_setup_send(ar, ac) < 0) {
		aredis_drop(ar, "cannot set up the connection");
		return;
	}
	evtimer_add(ar->connect_timer, &tv);
}

/* aredis_retry_cb - backoff over: try again */
static void
aredis_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	aredis_connect(arg);
}

/* aredis_connect_timeout_cb - the connect or handshake took too long */
static void
aredis_connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	sl_aredis *ar = arg;

	(void) fd;
	(void) what;
	if (ar->sac != NULL)
		sentinel_next(ar, "timeout");
	else
		aredis_drop(ar, "connect timeout");
}

/* aredis_stalled - no reply for STALL_MS while requests are outstanding */
static int
aredis_stalled(const sl_aredis *ar)
{
	long long stall = STALL_MS;

	/* With sentinels, a silent master may have failed over: ask sooner. */
	if (ar->conf.nsentinels > 0)
		stall = ar->conf.command_timeout_ms > SENTINEL_STALL_MS ?
		    ar->conf.command_timeout_ms : SENTINEL_STALL_MS;
	return ar->ac != NULL && ar->inflight > 0
	    && sl_redis_now_ms() - ar->progress_ms > stall;
}

/* req_timer_cb - request timeout, or delivery of a fail-fast error */
static void
req_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aredis_req *req = arg;
	sl_aredis *ar = req->ar;
	sl_aredis_cb *cb = req->cb;
	const char *err = req->fail ? req->fail : "timeout";
	int	stalled;

	(void) fd;
	(void) what;
	if (cb == NULL || ar == NULL)
		return;
	stalled = req->fail == NULL && aredis_stalled(ar);
	arg = req->arg;
	req->cb = NULL;
	req_release(req);		/* req may be gone from here on */
	if (stalled)
		aredis_drop(ar, "server not answering");
	cb(NULL, err, arg);
}

/* aredis_reply_cb - hiredis hands back a request's reply (NULL: gone) */
static void
aredis_reply_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct aredis_req *req = privdata;
	sl_aredis *ar = req->ar;
	redisReply *reply = r;
	sl_reply *copy;

	req->in_hiredis = 0;
	if (ar != NULL) {
		ar->inflight--;
		if (reply)
			aredis_progress(ar);
	}
	if (req->cb == NULL) {		/* timed out, or shut down: ignore */
		req_release(req);
		return;
	}
	if (reply == NULL) {
		req_answer(req, NULL, "disconnected");
		return;
	}
	if (req->script && !req->retried && sl_redis_is_noscript(reply)
	    && ac == ar->ac) {
		req->retried = 1;
		sl_redis_evalv_to_eval(&req->ev, req->script);
		if (redisAsyncCommandArgv(ac, aredis_reply_cb, req, req->ev.argc,
				req->ev.argv, req->ev.argvlen) == REDIS_OK) {
			req->in_hiredis = 1;
			ar->inflight++;
			return;
		}
	}
	copy = sl_redis_reply_copy(reply);
	if (ar != NULL && reply->type == REDIS_REPLY_ERROR)
		ar->error_replies++;
	/* The master became a replica under us: find the new one. */
	if (ar != NULL && ac == ar->ac && sl_redis_is_readonly(reply)) {
		ar->backoff_ms = 0;	/* ask the sentinels at once */
		aredis_drop(ar, "READONLY: server is a replica");
	}
	req_answer(req, copy, NULL);
	sl_reply_free(copy);
}

/* req_new - a record owned by the handle */
static struct aredis_req *
req_new(sl_aredis *ar, sl_aredis_cb *cb, void *arg)
{
	struct aredis_req *req = sl_calloc(1, sizeof(*req));

	req->ar = ar;
	req->cb = cb;
	req->arg = arg;
	req->timer = evtimer_new(ar->base, req_timer_cb, req);
	if (req->timer == NULL)
		sl_panic("redis: evtimer_new failed");
	req->next = ar->reqs;
	if (ar->reqs)
		ar->reqs->prev = req;
	ar->reqs = req;
	return req;
}

/* put_len - "<c><n>\r\n" at p; past it */
static char *
put_len(char *p, char c, size_t n)
{
	char digits[24];
	int k = 0;

	*p++ = c;
	do
		digits[k++] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	while (k > 0)
		*p++ = digits[--k];
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

/*
 * async_argv - redisAsyncCommandArgv() with the command written here in
 * RESP: hiredis' own formatter (sdscatfmt per argument) was a sixth of
 * sluice-policyd's instructions per request
 */
static int
async_argv(redisAsyncContext *ac, struct aredis_req *req, int argc, const char **argv,
           const size_t *argvlen)
{
	size_t total = 32;
	char *cmd, *p;
	int rc;

	for (int i = 0; i < argc; i++)
		total += (argvlen ? argvlen[i] : strlen(argv[i])) + 32;
	p = cmd = sl_malloc(total);
	p = put_len(p, '*', (size_t)argc);
	for (int i = 0; i < argc; i++) {
		size_t len = argvlen ? argvlen[i] : strlen(argv[i]);

		p = put_len(p, '$', len);
		memcpy(p, argv[i], len);
		p += len;
		*p++ = '\r';
		*p++ = '\n';
	}
	rc = redisAsyncFormattedCommand(ac, aredis_reply_cb, req, cmd, (size_t)(p - cmd));
	free(cmd);
	return rc;
}

/* req_send - queue in hiredis with the timeout, or fail fast */
static void
req_send(sl_aredis *ar, struct aredis_req *req, int timeout_ms, int argc,
	 const char **argv, const size_t *argvlen)
{
	struct timeval tv = ms_timeval(timeout_ms > 0 ? timeout_ms :
				       ar->conf.command_timeout_ms);

	if (ar->state != AR_READY || ar->ac == NULL ||
	    async_argv(ar->ac, req, argc, argv, argvlen) != REDIS_OK) {
		req->fail = "not connected";
		tv = ms_timeval(0);
	} else {
		req->in_hiredis = 1;
		if (ar->inflight++ == 0)
			aredis_progress(ar);
	}
	evtimer_add(req->timer, &tv);
}

/*
 * Cluster mode. A request (struct cluster_req) owns a copy of its
 * command and lives until its caller is answered; it is always either
 * inside one node handle (whose callback answers or redirects it) or on
 * its zero-delay timer (a fail-fast answer).
 */
#define REFRESH_MS 100 /* the slot map is asked for at most this often */
#define TRYAGAIN_MS SL_REDIS_TRYAGAIN_MS

struct cluster_req {
	struct cluster_req *prev, *next; /* ar->creqs */
	sl_aredis *ar;
	sl_aredis_cb *cb;
	void *arg;
	long long deadline_ms;
	int hops;                 /* redirects followed */
	int in_node;              /* a node handle will call cluster_req_cb */
	int nkeys;                /* eval: KEYS count */
	sl_script *script;        /* eval requests only */
	struct sl_redis_evalv ev; /* the command (EVALSHA ... for eval) */
	int skip;                 /* plain command: ev.argv + 3 is the command */
	struct event *timer;      /* fail-fast delivery */
	const char *fail;
};

/* cluster_node - the plain handle to node i, made on first use */
static sl_aredis *
cluster_node(sl_aredis *ar, int i)
{
	const struct sl_redis_conf *c = &ar->conf;
	sl_redis_opts o = {.host = ar->map->host[i],
	                   .port = ar->map->port[i],
	                   .user = c->user,
	                   .password = c->password,
	                   .connect_timeout_ms = c->connect_timeout_ms,
	                   .command_timeout_ms = c->command_timeout_ms,
	                   .prefix = c->prefix,
	                   .ungated = 1}; /* the gate holds the routing handle */

	if (ar->node[i] == NULL)
		ar->node[i] = sl_aredis_new(ar->base, &o);
	return ar->node[i];
}

/* cluster_stale - the map may be wrong: refresh it at the next tick */
static void
cluster_stale(sl_aredis *ar)
{
	ar->stale = 1;
}

/* cluster_slots_cb - the answer to CLUSTER SLOTS */
static void
cluster_slots_cb(const sl_reply *r, const char *err, void *arg)
{
	sl_aredis *ar = arg;
	char why[SL_REDIS_ERRSTR_LEN];

	ar->refreshing = 0;
	if (ar->closing)
		return;
	if (r == NULL || sl_redis_slotmap_load(ar->map, r, why, sizeof(why)) < 0) {
		snprintf(ar->errstr, sizeof(ar->errstr), "cluster: %.140s",
		         r == NULL ? (err ? err : "no reply") : why);
		sl_debug("redis cluster: %s", ar->errstr);
		return;
	}
	memset(ar->owns, 0, sizeof(ar->owns));
	for (int s = 0; s < SL_REDIS_SLOTS; s++)
		if (ar->map->node[s] >= 0)
			ar->owns[ar->map->node[s]] = 1;
	for (int i = 0; i < ar->map->nnodes; i++)
		if (ar->owns[i])
			(void)cluster_node(ar, i); /* connect now, not at first use */
	if (!ar->loaded)
		sl_info("redis cluster: slot map loaded, %d masters", ar->map->nnodes);
	ar->loaded = 1;
	ar->stale = 0;
}

/* cluster_tick - every REFRESH_MS: a stale map is asked for again */
static void
cluster_tick(evutil_socket_t fd, short what, void *arg)
{
	static const char *argv[] = {"CLUSTER", "SLOTS"};
	sl_aredis *ar = arg;
	long long now = sl_redis_now_ms();

	(void)fd, (void)what;
	if (!ar->stale || ar->refreshing || now < ar->refresh_at)
		return;
	for (int i = 0; i < ar->map->nnodes; i++)
		if (ar->node[i] != NULL && sl_aredis_connected(ar->node[i])) {
			ar->refresh_at = now + REFRESH_MS;
			ar->refreshing = sl_aredis_cmdv(ar->node[i], 0, cluster_slots_cb, ar, 2,
			                                argv, NULL) == 0;
			return;
		}
	snprintf(ar->errstr, sizeof(ar->errstr), "cluster: no master reachable");
}

/* cluster_new - seeds as the first nodes; the map comes at the first tick */
static void
cluster_new(sl_aredis *ar)
{
	struct timeval tv = ms_timeval(REFRESH_MS);

	ar->map = sl_calloc(1, sizeof(*ar->map));
	sl_redis_slotmap_init(ar->map);
	for (int i = 0; i < ar->conf.ncluster; i++) {
		int n = sl_redis_slotmap_node(ar->map, ar->conf.cluster_host[i],
		                              ar->conf.cluster_port[i]);

		if (n >= 0)
			(void)cluster_node(ar, n);
	}
	ar->stale = 1;
	snprintf(ar->errstr, sizeof(ar->errstr), "cluster: slot map not loaded yet");
	ar->tick = event_new(ar->base, -1, EV_PERSIST, cluster_tick, ar);
	if (ar->tick == NULL)
		sl_panic("redis: event_new failed");
	evtimer_add(ar->tick, &tv);
}

/* creq_release - forget a request (after its answer) */
static void
creq_release(struct cluster_req *cr)
{
	sl_aredis *ar = cr->ar;

	if (cr->prev)
		cr->prev->next = cr->next;
	else if (ar != NULL && ar->creqs == cr)
		ar->creqs = cr->next;
	if (cr->next)
		cr->next->prev = cr->prev;
	event_free(cr->timer);
	sl_redis_evalv_free(&cr->ev);
	free(cr);
}

/* creq_answer - call the caller back once; cr is gone afterwards */
static void
creq_answer(struct cluster_req *cr, const sl_reply *reply, const char *err)
{
	sl_aredis_cb *cb = cr->cb;
	void *arg = cr->arg;

	if (reply != NULL && reply->type == SL_REPLY_ERROR && cr->ar != NULL)
		cr->ar->error_replies++;
	creq_release(cr);
	cb(reply, err, arg); /* may free the handle: nothing after this */
}

static void creq_send(struct cluster_req *cr, int i, int ask);
static int creq_route(struct cluster_req *cr);

/* creq_timer_cb - a fail-fast answer outside the caller's call, or a TRYAGAIN resend */
static void
creq_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cluster_req *cr = arg;

	(void)fd, (void)what;
	if (cr->fail == NULL && !cr->ar->closing)
		creq_send(cr, creq_route(cr), 0);
	else
		creq_answer(cr, NULL, cr->fail ? cr->fail : "shutting down");
}

/* creq_fail_later - answer err from a zero-delay timer */
static void
creq_fail_later(struct cluster_req *cr, const char *err)
{
	struct timeval tv = {0, 0};

	cr->fail = err;
	evtimer_add(cr->timer, &tv);
}

static void cluster_req_cb(const sl_reply *r, const char *err, void *arg);

/* asking_cb - the reply to ASKING: its command's reply says what happened */
static void
asking_cb(const sl_reply *r, const char *err, void *arg)
{
	(void)r, (void)err, (void)arg;
}

/* creq_send - send to node i (after ASKING when ask); fail later if it cannot */
static void
creq_send(struct cluster_req *cr, int i, int ask)
{
	static const char *asking[] = {"ASKING"};
	sl_aredis *ar = cr->ar;
	long long left = cr->deadline_ms - sl_redis_now_ms();
	sl_aredis *h;
	int rc;

	if (left <= 0) {
		creq_fail_later(cr, "timeout");
		return;
	}
	if (i < 0 || (h = cluster_node(ar, i)) == NULL) {
		cluster_stale(ar);
		creq_fail_later(cr, "cluster: no node known for the slot");
		return;
	}
	if (ask && cr->script != NULL)
		sl_redis_evalv_to_eval(&cr->ev, cr->script); /* the importing node may lack it */
	if (ask && sl_aredis_cmdv(h, (int)left, asking_cb, NULL, 1, asking, NULL) < 0) {
		creq_fail_later(cr, "not connected");
		return;
	}
	if (cr->script != NULL && strcmp(cr->ev.argv[0], "EVALSHA") == 0)
		rc = sl_aredis_eval(h, cr->script, (int)left, cluster_req_cb, cr, cr->nkeys,
		                    cr->ev.argc - 3, cr->ev.argv + 3, cr->ev.argvlen + 3);
	else
		rc = sl_aredis_cmdv(h, (int)left, cluster_req_cb, cr, cr->ev.argc - cr->skip,
		                    cr->ev.argv + cr->skip, cr->ev.argvlen + cr->skip);
	if (rc < 0)
		creq_fail_later(cr, "not connected");
	else
		cr->in_node = 1;
}

/* creq_route - the node of the request's first key (keyless: a connected one) */
static int
creq_route(struct cluster_req *cr)
{
	sl_aredis *ar = cr->ar;
	int slot = sl_redis_cmd_slot(cr->ev.argc - cr->skip, cr->ev.argv + cr->skip,
	                             cr->ev.argvlen + cr->skip);

	if (slot >= 0)
		return ar->map->node[slot];
	for (int i = 0; i < ar->map->nnodes; i++)
		if (ar->node[i] != NULL && sl_aredis_connected(ar->node[i]))
			return i;
	return ar->map->nnodes > 0 ? 0 : -1;
}

/* cluster_req_cb - a node answered: a redirect to follow, or the answer */
static void
cluster_req_cb(const sl_reply *r, const char *err, void *arg)
{
	struct cluster_req *cr = arg;
	sl_aredis *ar = cr->ar;
	char host[256];
	int ask, slot, port, node;

	cr->in_node = 0;
	if (r == NULL) {
		if (!ar->closing)
			cluster_stale(ar); /* disconnected, not connected, timeout */
		creq_answer(cr, NULL, err);
		return;
	}
	if (r->type == SL_REPLY_ERROR && strncmp(r->str, "CLUSTERDOWN", 11) == 0)
		cluster_stale(ar);
	/* keys of a slot being migrated, some moved: ask again shortly */
	if (r->type == SL_REPLY_ERROR && strncmp(r->str, "TRYAGAIN", 8) == 0 && !ar->closing &&
	    ++cr->hops <= SL_REDIS_MAX_REDIRECTS &&
	    sl_redis_now_ms() + TRYAGAIN_MS < cr->deadline_ms) {
		struct timeval tv = ms_timeval(TRYAGAIN_MS);

		cr->fail = NULL;
		evtimer_add(cr->timer, &tv);
		return;
	}
	if (r->type != SL_REPLY_ERROR || ar->closing ||
	    sl_redis_redirect(r->str, &ask, &slot, host, sizeof(host), &port) != 1) {
		creq_answer(cr, r, NULL);
		return;
	}
	if (++cr->hops > SL_REDIS_MAX_REDIRECTS) {
		cluster_stale(ar);
		creq_answer(cr, NULL, "cluster: too many redirects");
		return;
	}
	if ((node = sl_redis_slotmap_node(ar->map, host, port)) < 0) {
		creq_answer(cr, NULL, "cluster: too many nodes");
		return;
	}
	if (!ask) {
		ar->map->node[slot] = (short)node;
		ar->owns[node] = 1;
		cluster_stale(ar);
	}
	creq_send(cr, node, ask);
}

/* cluster_send_new - route one command or script; cb is called later, once */
static int
cluster_send_new(sl_aredis *ar, sl_script *script, int timeout_ms, sl_aredis_cb *cb, void *arg,
                 int nkeys, int argc, const char **argv, const size_t *argvlen)
{
	static sl_script plain = {.source = "", .sha1 = "-"}; /* argv[0..2] unused */
	struct cluster_req *cr = sl_calloc(1, sizeof(*cr));

	cr->ar = ar;
	cr->cb = cb;
	cr->arg = arg;
	cr->deadline_ms =
	    sl_redis_now_ms() + (timeout_ms > 0 ? timeout_ms : ar->conf.command_timeout_ms);
	cr->script = script;
	cr->nkeys = nkeys;
	/* a plain command rides in the same copy, after 3 unused slots */
	sl_redis_evalv_init(&cr->ev, script ? script : &plain, nkeys, argc, argv, argvlen);
	cr->skip = script ? 0 : 3;
	cr->timer = evtimer_new(ar->base, creq_timer_cb, cr);
	if (cr->timer == NULL)
		sl_panic("redis: evtimer_new failed");
	cr->next = ar->creqs;
	if (ar->creqs)
		ar->creqs->prev = cr;
	ar->creqs = cr;
	creq_send(cr, creq_route(cr), 0);
	return 0;
}

/* cluster_free - node handles answer their requests "shutting down" */
static void
cluster_free(sl_aredis *ar)
{
	struct cluster_req *cr, *next;

	for (int i = 0; i < SL_REDIS_MAX_NODES; i++) {
		sl_aredis *h = ar->node[i];

		ar->node[i] = NULL;
		sl_aredis_free(h);
	}
	for (cr = ar->creqs; cr != NULL; cr = next) { /* those on their timer */
		next = cr->next;
		creq_answer(cr, NULL, "shutting down");
	}
	event_free(ar->tick);
	sl_redis_slotmap_free(ar->map);
	free(ar->map);
	ar->map = NULL;
}

/* sl_aredis_new - a handle on base; connecting starts at once */
sl_aredis *
sl_aredis_new(struct event_base *base, const sl_redis_opts *opts)
{
	sl_aredis *ar;

	if (base == NULL)
		return NULL;
	ar = sl_calloc(1, sizeof(*ar));
	sl_redis_ignore_sigpipe();
	ar->base = base;
	sl_redis_conf_init(&ar->conf, opts);
	ar->backoff_ms = SL_REDIS_BACKOFF_MIN_MS;
	ar->retry_timer = evtimer_new(base, aredis_retry_cb, ar);
	ar->connect_timer = evtimer_new(base, aredis_connect_timeout_cb, ar);
	if (ar->retry_timer == NULL || ar->connect_timer == NULL)
		sl_panic("redis: evtimer_new failed");
	if (ar->conf.nsentinels > 0) {
		struct timeval tv = ms_timeval(SL_REDIS_SENTINEL_POLL_MS);

		ar->poll_timer = event_new(base, -1, EV_PERSIST, aredis_poll_cb, ar);
		if (ar->poll_timer == NULL)
			sl_panic("redis: event_new failed");
		evtimer_add(ar->poll_timer, &tv);
	}
	snprintf(ar->errstr, sizeof(ar->errstr), "connecting");
	if (ar->conf.ncluster > 0)
		cluster_new(ar);
	else
		aredis_connect(ar);
	return ar;
}

/* aredis_detach_all - answer "shutting down", cut records loose */
static void
aredis_detach_all(sl_aredis *ar)
{
	struct aredis_req *req, *next;
	sl_aredis_cb *cb;
	void   *arg;

	next = ar->reqs;
	ar->reqs = NULL;
	for (req = next; req != NULL; req = next) {
		next = req->next;
		req->prev = req->next = NULL;
		req->ar = NULL;
		cb = req->cb;
		arg = req->arg;
		req->cb = NULL;
		event_free(req->timer);	/* now: the base may go before hiredis */
		req->timer = NULL;
		req_release(req);	/* freed unless hiredis still holds it */
		if (cb)
			cb(NULL, "shutting down", arg);
	}
}

/* sl_aredis_free - close; pending callbacks get "shutting down" */
void
sl_aredis_free(sl_aredis *ar)
{
	redisAsyncContext *ac;

	if (ar == NULL)
		return;
	ar->closing = 1;
	if (ar->map != NULL)
		cluster_free(ar);
	aredis_detach_all(ar);
	if ((ac = ar->ac) != NULL) {
		ar->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);	/* deferred inside a hiredis callback */
	}
	sentinel_drop(ar);
	if (ar->poll_timer)
		event_free(ar->poll_timer);
	event_free(ar->retry_timer);
	event_free(ar->connect_timer);
	sl_redis_conf_free(&ar->conf);
	free(ar);
}

/* sl_aredis_connected - connected and authenticated right now? */
int
sl_aredis_connected(const sl_aredis *ar)
{
	if (sl_redis_gated(&ar->conf))
		return 0;
	if (ar->map != NULL) {
		if (!ar->loaded)
			return 0;
		for (int i = 0; i < ar->map->nnodes; i++)
			if (ar->owns[i] && (ar->node[i] == NULL || !sl_aredis_connected(ar->node[i])))
				return 0;
		return 1;
	}
	return ar->state == AR_READY && ar->ac != NULL;
}

/* sl_aredis_cluster - is this handle in Redis Cluster mode? */
int
sl_aredis_cluster(const sl_aredis *ar)
{
	return ar != NULL && ar->map != NULL;
}

/* sl_aredis_error_replies - error replies handed to callers so far (for metrics) */
unsigned long long
sl_aredis_error_replies(const sl_aredis *ar)
{
	return ar ? ar->error_replies : 0;
}

/* sl_aredis_errstr - why the handle is not connected ("" when it is) */
const char *
sl_aredis_errstr(const sl_aredis *ar)
{
	if (sl_redis_gated(&ar->conf))
		return SL_REDIS_GATED;
	if (ar->map != NULL && ar->loaded) {
		for (int i = 0; i < ar->map->nnodes; i++)
			if (ar->owns[i] && ar->node[i] != NULL && !sl_aredis_connected(ar->node[i]))
				return ar->node[i]->errstr;
		return sl_aredis_connected(ar) ? "" : ar->errstr;
	}
	return ar->errstr;
}

/* sl_aredis_prefix - the configured key prefix */
const char *
sl_aredis_prefix(const sl_aredis *ar)
{
	return ar->conf.prefix;
}

/* gated_answer - a request held by sl_redis_gate(): answered from a zero-delay timer */
static int
gated_answer(sl_aredis *ar, sl_aredis_cb *cb, void *arg)
{
	struct aredis_req *req = req_new(ar, cb, arg);
	struct timeval now = {0, 0};

	req->fail = SL_REDIS_GATED;
	evtimer_add(req->timer, &now);
	return 0;
}

/* sl_aredis_cmdv - one command; cb is called exactly once, later */
int
sl_aredis_cmdv(sl_aredis *ar, int timeout_ms, sl_aredis_cb *cb, void *arg,
	       int argc, const char **argv, const size_t *argvlen)
{
	if (ar == NULL || ar->closing || cb == NULL || argc <= 0 || argv == NULL)
		return -1;
	if (sl_redis_gated(&ar->conf))
		return gated_answer(ar, cb, arg);
	if (ar->map != NULL)
		return cluster_send_new(ar, NULL, timeout_ms, cb, arg, 0, argc, argv, argvlen);
	req_send(ar, req_new(ar, cb, arg), timeout_ms, argc, argv, argvlen);
	return 0;
}

/* sl_aredis_eval - EVALSHA; after NOSCRIPT, once more as EVAL */
int
sl_aredis_eval(sl_aredis *ar, sl_script *script, int timeout_ms,
	       sl_aredis_cb *cb, void *arg, int nkeys, int argc,
	       const char **argv, const size_t *argvlen)
{
	struct aredis_req *req;

	if (ar == NULL || ar->closing || cb == NULL || script == NULL
	    || script->source == NULL || argc < 0 || (argc > 0 && argv == NULL))
		return -1;
	if (sl_redis_gated(&ar->conf))
		return gated_answer(ar, cb, arg);
	if (ar->map != NULL)
		return cluster_send_new(ar, script, timeout_ms, cb, arg, nkeys, argc, argv, argvlen);
	req = req_new(ar, cb, arg);
	req->script = script;
	sl_redis_evalv_init(&req->ev, script, nkeys, argc, argv, argvlen);
	req_send(ar, req, timeout_ms, req->ev.argc, req->ev.argv, req->ev.argvlen);
	return 0;
}

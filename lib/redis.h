/*
 * NAME
 *	redis 3h - the one Redis client of Sluice (sync and libevent async)
 * SYNOPSIS
 *	Synchronous flavour (milter, feedback, ctl): sl_redis_new() with
 *	sl_redis_opts, sl_redis_cmd()/sl_redis_cmdv() and sl_redis_eval().
 *	Asynchronous flavour (policyd): sl_aredis_new() on a libevent base,
 *	sl_aredis_cmdv() and sl_aredis_eval() with a per-request timeout.
 * DESCRIPTION
 *	Connects over a unix socket or host:port, authenticates with AUTH
 *	(ACL user and password, or password only), selects a database, and
 *	reconnects with exponential backoff (100 ms doubling to 5 s) after
 *	an error. Lua scripts are sent by SHA1 (EVALSHA) and loaded again
 *	after NOSCRIPT. This module is the only place that includes hiredis:
 *	replies are deep-copied into sl_reply so callers never see its types.
 *	With sentinels set, both flavours find the master through Redis
 *	Sentinel and follow a failover; with cluster_nodes set, both
 *	flavours route by key slot (doc/redis-client.md).
 * OWNERSHIP
 *	An sl_reply returned to the caller belongs to the caller: free it with
 *	sl_reply_free(). A reply passed to an async callback is borrowed: it
 *	is freed when the callback returns. sl_*_free(NULL) is a no-op.
 * ERRORS
 *	Functions return 0 on success and -1 on failure; the handle's
 *	errstr says why ("connection refused", "timeout", ...). A Redis error
 *	reply (SL_REPLY_ERROR) is a success at this layer: check reply->type.
 *	While the client waits to reconnect (backoff), sync calls fail at
 *	once with errstr "redis unavailable (reconnecting)".
 * ARGUMENTS
 *	argvlen may be NULL: the arguments are then NUL-terminated strings.
 *	In sl_*_eval(), argv holds the nkeys keys first, then the other
 *	arguments; argc counts both. The sl_script must outlive the calls
 *	(a static is the normal case).
 * SIGNALS
 *	sl_redis_new() and sl_aredis_new() set SIGPIPE to SIG_IGN if it is
 *	SIG_DFL: hiredis writes with write(2), and a dead server must not
 *	kill the process.
 * THREADS
 *	A handle is not thread-safe: one per thread (or a lock around it).
 *	sl_script_sha1() writes script->sha1 on first use: call it once at
 *	start-up for a script that several threads share.
 * HISTORY
 *	Refinements after the first contract, all compatible additions:
 *	sl_script_sha1(), sl_redis_prefix(), sl_redis_connected(),
 *	sl_aredis_errstr(), sl_aredis_prefix(); the return value of
 *	sl_aredis_cmdv()/sl_aredis_eval() is specified below. Then the
 *	Sentinel and Cluster options of sl_redis_opts, sl_redis_keyslot()
 *	and sl_redis_hostport(); then sl_aredis_cluster() and sl_redis_cluster();
 *	then sl_redis_keyslot_str(), sl_redis_scan_all(), sl_redis_gate() and
 *	opts.ungated.
 */
#ifndef SL_REDIS_H
#define SL_REDIS_H

#include <stddef.h>

struct event_base;

enum sl_reply_type {
	SL_REPLY_STRING = 1, SL_REPLY_ARRAY, SL_REPLY_INTEGER, SL_REPLY_NIL,
	SL_REPLY_STATUS, SL_REPLY_ERROR
};

typedef struct sl_reply {
	enum sl_reply_type type;
	long long integer;		/* SL_REPLY_INTEGER */
	char   *str;			/* STRING, STATUS, ERROR; NUL-terminated */
	size_t	len;
	size_t	elements;		/* SL_REPLY_ARRAY */
	struct sl_reply **element;
} sl_reply;

void	sl_reply_free(sl_reply *reply);

typedef struct sl_redis_opts {
	const char *unix_path;		/* when set, used instead of host:port */
	const char *host;		/* default 127.0.0.1 */
	int	port;			/* default 6379 */
	const char *user;		/* ACL user, or NULL for AUTH <password> */
	const char *password;		/* NULL: no AUTH */
	int	db;			/* SELECT when > 0 */
	int	connect_timeout_ms;	/* default 1000 */
	int	command_timeout_ms;	/* sync; async when timeout_ms <= 0; 1000 */
	const char *prefix;		/* key prefix, default "sluice:" */
	/* Sentinel mode when nsentinels > 0: host/port/unix_path unused. */
	const char *const *sentinels;	/* "host:port" each */
	int	nsentinels;
	const char *master_name;	/* default "mymaster" */
	const char *sentinel_user;	/* ACL user on the sentinels, or NULL */
	const char *sentinel_password;	/* NULL: no AUTH to the sentinels */
	/* Cluster mode when ncluster_nodes > 0 (seeds). */
	const char *const *cluster_nodes; /* "host:port" each */
	int	ncluster_nodes;
	int ungated; /* not held by sl_redis_gate() */
} sl_redis_opts;

#define SL_REDIS_MAX_SENTINELS	16	/* also the most cluster seeds */

/* The Redis Cluster slot (0..16383) of a key, hash tags honoured. */
unsigned sl_redis_keyslot(const char *key, size_t len);
/* sl_redis_keyslot() of a NUL-terminated key. */
unsigned sl_redis_keyslot_str(const char *key);

/*
 * The process-wide gate (open at start): while closed, every call of
 * every handle of both flavours whose opts had no ungated fails fast
 * with errstr/err SL_REDIS_GATED, and sl_aredis_connected() is false, as
 * while Redis is down. A daemon closes it until the keyspace format is
 * checked (sl_keyspace_require_opts(), lib/keyspace_version.c).
 */
#define SL_REDIS_GATED "redis not used yet (keyspace format not checked)"
void sl_redis_gate(int closed);

/* Split "host:port" or "[v6]:port"; -1 when malformed (config checks). */
int	sl_redis_hostport(const char *s, char *host, size_t hostlen, int *port);

/* A Lua script: source plus its SHA1, computed on first use. */
typedef struct sl_script {
	const char *source;
	char	sha1[41];
} sl_script;

/* The SHA1 (40 hex digits) of script->source, computed on first use. */
const char *sl_script_sha1(sl_script *script);

/*
 * Synchronous flavour. sl_redis_new() copies opts (NULL: all defaults),
 * tries to connect at once and always returns a handle: a failed first
 * connection shows in the first call. Each call waits at most the
 * connect timeout plus the command timeout. After an I/O error or a
 * timeout the connection is dropped and the handle backs off (100 ms
 * doubling to 5 s); a failed command is not retried (it may have run),
 * except EVALSHA after NOSCRIPT, which is sent again once as EVAL.
 * sl_redis_cmd() takes a hiredis format: %s (C string) and %b (pointer,
 * size_t length) for arguments, never user data in the format itself.
 * reply may be NULL when the caller does not want it.
 */
typedef struct sl_redis sl_redis;

sl_redis *sl_redis_new(const sl_redis_opts *opts);
void	sl_redis_free(sl_redis *r);
const char *sl_redis_errstr(const sl_redis *r);
const char *sl_redis_prefix(const sl_redis *r);
int	sl_redis_connected(const sl_redis *r);
int	sl_redis_cluster(const sl_redis *r);	/* in Redis Cluster mode? */
int	sl_redis_cmd(sl_redis *r, sl_reply **reply, const char *fmt, ...);
int	sl_redis_cmdv(sl_redis *r, sl_reply **reply, int argc,
		      const char **argv, const size_t *argvlen);
int	sl_redis_eval(sl_redis *r, sl_script *script, sl_reply **reply,
		      int nkeys, int argc, const char **argv,
		      const size_t *argvlen);

/*
 * sl_redis_scan_all() walks SCAN MATCH pattern over the whole keyspace:
 * on Cluster every master of the slot map in turn (the map as it is when
 * the walk starts), else the one server. fn is called per key (key is
 * NUL-terminated, borrowed) and may send commands on r meanwhile;
 * nonzero from fn stops the walk. Returns 0 when the walk ended, 1 when
 * fn stopped it, -1 when a server could not be reached and -2 when one
 * answered an error (errstr says which). SCAN's guarantee holds per
 * master: a key there from start to end is seen at least once (perhaps
 * twice); a key that moves to another master during the walk (a
 * reshard) may be missed.
 */
typedef int sl_redis_scan_fn(const char *key, void *arg);
int sl_redis_scan_all(sl_redis *r, const char *pattern, sl_redis_scan_fn *fn, void *arg);

/*
 * Asynchronous flavour (libevent). sl_aredis_new() copies opts and starts
 * connecting at once (it returns NULL only when base is NULL); AUTH and
 * SELECT are pipelined behind the connect. sl_aredis_connected() is true
 * once their replies are in. Until then, and while reconnecting after a
 * loss (backoff 100 ms doubling to 5 s), requests fail fast with "not
 * connected". sl_aredis_errstr() says why the handle is not connected.
 *
 * sl_aredis_cmdv() and sl_aredis_eval() return 0 when the request was
 * taken: cb will then be called exactly once, never from inside the call
 * itself (a fail-fast answer comes from a zero-delay timer). They return
 * -1, and cb is never called, only for bad arguments or once
 * sl_aredis_free() has begun. timeout_ms <= 0 means the configured
 * command_timeout_ms. A reply arriving after its timeout is dropped.
 * sl_aredis_free() answers every pending request with "shutting down"
 * before it returns; it may be called from inside a callback.
 * sl_aredis_error_replies() counts the error replies handed to callbacks.
 * sl_aredis_cluster() is true in Cluster mode: requests are routed by
 * their first key's slot (MOVED/ASK followed within the timeout), and
 * sl_aredis_connected() means the slot map is loaded and every master
 * in it is connected.
 */
typedef struct sl_aredis sl_aredis;

/*
 * Called exactly once per request: with the reply, or with reply NULL and
 * err saying why ("timeout", "disconnected", "not connected", "shutting
 * down"). The reply is borrowed: it is freed when the callback returns.
 */
typedef void sl_aredis_cb(const sl_reply *reply, const char *err, void *arg);

sl_aredis *sl_aredis_new(struct event_base *base, const sl_redis_opts *opts);
void	sl_aredis_free(sl_aredis *ar);
int	sl_aredis_connected(const sl_aredis *ar);
const char *sl_aredis_errstr(const sl_aredis *ar);
unsigned long long sl_aredis_error_replies(const sl_aredis *ar);
int	sl_aredis_cluster(const sl_aredis *ar);
const char *sl_aredis_prefix(const sl_aredis *ar);
int	sl_aredis_cmdv(sl_aredis *ar, int timeout_ms, sl_aredis_cb *cb,
		       void *arg, int argc, const char **argv,
		       const size_t *argvlen);
int	sl_aredis_eval(sl_aredis *ar, sl_script *script, int timeout_ms,
		       sl_aredis_cb *cb, void *arg, int nkeys, int argc,
		       const char **argv, const size_t *argvlen);

#endif

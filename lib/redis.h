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
 * OWNERSHIP
 *	An sl_reply returned to the caller belongs to the caller: free it with
 *	sl_reply_free(). A reply passed to an async callback is borrowed: it
 *	is freed when the callback returns. sl_*_free(NULL) is a no-op.
 * ERRORS
 *	Functions return 0 on success and -1 on failure; the handle's
 *	errstr says why ("connection refused", "timeout", ...). A Redis error
 *	reply (SL_REPLY_ERROR) is a success at this layer: check reply->type.
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
	int	command_timeout_ms;	/* sync flavour; default 1000 */
	const char *prefix;		/* key prefix, default "sluice:" */
} sl_redis_opts;

/* A Lua script: source plus its SHA1, computed on first use. */
typedef struct sl_script {
	const char *source;
	char	sha1[41];
} sl_script;

/* Synchronous flavour. */
typedef struct sl_redis sl_redis;

sl_redis *sl_redis_new(const sl_redis_opts *opts);
void	sl_redis_free(sl_redis *r);
const char *sl_redis_errstr(const sl_redis *r);
int	sl_redis_cmd(sl_redis *r, sl_reply **reply, const char *fmt, ...);
int	sl_redis_cmdv(sl_redis *r, sl_reply **reply, int argc,
		      const char **argv, const size_t *argvlen);
int	sl_redis_eval(sl_redis *r, sl_script *script, sl_reply **reply,
		      int nkeys, int argc, const char **argv,
		      const size_t *argvlen);

/* Asynchronous flavour (libevent). */
typedef struct sl_aredis sl_aredis;

/*
 * Called exactly once per request: with the reply, or with reply NULL and
 * err saying why (timeout, disconnected, not connected).
 */
typedef void sl_aredis_cb(const sl_reply *reply, const char *err, void *arg);

sl_aredis *sl_aredis_new(struct event_base *base, const sl_redis_opts *opts);
void	sl_aredis_free(sl_aredis *ar);
int	sl_aredis_connected(const sl_aredis *ar);
int	sl_aredis_cmdv(sl_aredis *ar, int timeout_ms, sl_aredis_cb *cb,
		       void *arg, int argc, const char **argv,
		       const size_t *argvlen);
int	sl_aredis_eval(sl_aredis *ar, sl_script *script, int timeout_ms,
		       sl_aredis_cb *cb, void *arg, int nkeys, int argc,
		       const char **argv, const size_t *argvlen);

#endif

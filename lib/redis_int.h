/*
 * NAME
 *	redis_int 3h - private to lib/redis.c and lib/redis_async.c
 * DESCRIPTION
 *	What the synchronous and asynchronous clients share: a private copy
 *	of the options, the backoff schedule, the reply conversion and the
 *	EVALSHA/EVAL argument vectors. Only redis.c and redis_async.c
 *	include this header (it includes hiredis); nothing else may.
 */
#ifndef SL_REDIS_INT_H
#define SL_REDIS_INT_H

#include <hiredis/hiredis.h>

#include "redis.h"

#define SL_REDIS_BACKOFF_MIN_MS	100	/* first reconnect delay */
#define SL_REDIS_BACKOFF_MAX_MS	5000	/* doubling stops here */
#define SL_REDIS_ERRSTR_LEN	160

/* Options, copied: the caller's strings (config) may go away on reload. */
struct sl_redis_conf {
	char   *unix_path;
	char   *host;
	int	port;
	char   *user;
	char   *password;
	int	db;
	int	connect_timeout_ms;
	int	command_timeout_ms;
	char   *prefix;
	char   *where;			/* "unix:/path" or "host:port", for logs */
	/* Sentinel mode (nsentinels > 0): host/port is the last master found. */
	int	nsentinels;
	char   *sentinel_host[SL_REDIS_MAX_SENTINELS];
	int	sentinel_port[SL_REDIS_MAX_SENTINELS];
	char   *master_name;
	char   *sentinel_user;
	char   *sentinel_password;
	int	backoff_max_ms;		/* 5 s; 1 s with sentinels */
	/* Cluster mode (ncluster > 0): seeds for CLUSTER SLOTS. */
	int	ncluster;
	char   *cluster_host[SL_REDIS_MAX_SENTINELS];
	int	cluster_port[SL_REDIS_MAX_SENTINELS];
	int ungated; /* sl_redis_gate() does not hold it */
};

#define SL_REDIS_SLOTS		16384
#define SL_REDIS_MAX_NODES	64	/* masters in a cluster we can track */
#define SL_REDIS_MAX_REDIRECTS	5
#define SL_REDIS_TRYAGAIN_MS	20	/* TRYAGAIN (slot mid-migration): again after */

/* redis_cluster.c: which master serves each slot. */
struct sl_redis_slotmap {
	int	nnodes;
	char   *host[SL_REDIS_MAX_NODES];
	int	port[SL_REDIS_MAX_NODES];
	short	node[SL_REDIS_SLOTS];	/* index into host/port, -1: unknown */
};

#define SL_REDIS_SENTINEL_BACKOFF_MAX_MS 1000
#define SL_REDIS_SENTINEL_POLL_MS	1000	/* ask "who is master?" this often */
#define SL_REDIS_SENTINEL_POLL_CONNECT_MS 100	/* the sync poll's connect bound */

/* An EVALSHA (argv[0..1] = "EVALSHA", sha1) that can turn into EVAL. */
struct sl_redis_evalv {
	int	argc;
	const char **argv;
	size_t *argvlen;
	char	nkeys[24];
};

/* redis.c: shared helpers. */
void	sl_redis_conf_init(struct sl_redis_conf *conf, const sl_redis_opts *opts);
void	sl_redis_conf_free(struct sl_redis_conf *conf);
long long sl_redis_now_ms(void);
int	sl_redis_backoff_next(int backoff_ms, int max_ms);
int sl_redis_gated(const struct sl_redis_conf *conf);
void	sl_redis_ignore_sigpipe(void);
sl_reply *sl_redis_reply_copy(const redisReply *r);
int	sl_redis_is_noscript(const redisReply *r);
void	sl_redis_evalv_init(struct sl_redis_evalv *ev, sl_script *script,
			    int nkeys, int argc, const char **argv,
			    const size_t *argvlen);
void	sl_redis_evalv_to_eval(struct sl_redis_evalv *ev, const sl_script *script);
void	sl_redis_evalv_free(struct sl_redis_evalv *ev);

int	sl_redis_cmd_slot(int argc, const char **argv, const size_t *argvlen);
int	sl_redis_redirect(const char *err, int *ask, int *slot, char *host,
			  size_t hostlen, int *port);
void	sl_redis_slotmap_init(struct sl_redis_slotmap *m);
void	sl_redis_slotmap_free(struct sl_redis_slotmap *m);
int	sl_redis_slotmap_node(struct sl_redis_slotmap *m, const char *host, int port);
int	sl_redis_slotmap_load(struct sl_redis_slotmap *m, const sl_reply *r,
			      char *err, size_t errlen);

/* redis_sentinel.c: what both flavours need for Sentinel mode. */
int	sl_redis_sentinel_addr(const redisReply *r, char *host, size_t hostlen,
			       int *port, char *err, size_t errlen);
int	sl_redis_role_check(const redisReply *r, char *err, size_t errlen);
int	sl_redis_is_readonly(const redisReply *r);
void	sl_redis_set_master(struct sl_redis_conf *conf, const char *host, int port);
int	sl_redis_sentinel_discover(const struct sl_redis_conf *conf, char *host,
				   size_t hostlen, int *port, char *err,
				   size_t errlen);
int	sl_redis_sentinel_ask(const struct sl_redis_conf *conf, int i,
			      int connect_ms, char *host, size_t hostlen,
			      int *port, char *err, size_t errlen);
int	sl_redis_master_moved(const struct sl_redis_conf *conf, const char *host,
			      int port);

#endif

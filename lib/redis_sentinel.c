/*
 * NAME
 *	redis_sentinel 3 - Redis Sentinel: finding and checking the master
 * SYNOPSIS
 *	#include "redis_int.h"
 *
 *	if (sl_redis_sentinel_discover(&conf, err, sizeof(err)) == 0)
 *		connect to conf.host:conf.port, then ROLE must say "master"
 * DESCRIPTION
 *	What the synchronous and the asynchronous client share in Sentinel
 *	mode (redis { sentinels = {...}; master_name = ... }):
 *
 *	sl_redis_sentinel_discover() asks the configured sentinels in turn
 *	(SENTINEL get-master-addr-by-name), each with the connect timeout
 *	for connecting and the command timeout for the answer, and returns
 *	the first address it gets. It blocks: only the
 *	synchronous client uses it (the asynchronous one asks the same
 *	question without blocking, and parses the answer here).
 *
 *	A sentinel's answer is only a hint: the client sends ROLE on every
 *	new connection and refuses a server that is not a master
 *	(sl_redis_role_check()), so a stale sentinel can never make it write
 *	to a replica. A READONLY error reply (the master was demoted under
 *	an open connection) makes both clients drop the connection and ask
 *	the sentinels again (sl_redis_is_readonly()).
 *
 *	After SENTINEL FAILOVER (or any failover with the old master still
 *	up) Sentinel demotes the old master only seconds after it promoted
 *	the replica (about 10 s here): until then both accept writes, and
 *	what goes to the old one is lost when it resyncs. So both clients
 *	also ask a sentinel once a second (SL_REDIS_SENTINEL_POLL_MS) while
 *	connected, and move as soon as the answer names another master
 *	(sl_redis_master_moved()).
 * SEE ALSO
 *	redis.c, redis_async.c, doc/redis-client.md
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "redis_int.h"

/* sl_redis_hostport - split "host:port" ("[v6]:port" too); -1 if malformed */
int
sl_redis_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = s;
	size_t n;
	char *end;
	long p;

	if (s == NULL || (colon = strrchr(s, ':')) == NULL)
		return -1;
	n = (size_t)(colon - s);
	if (*h == '[') {
		if (n < 2 || s[n - 1] != ']')
			return -1;
		h++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen || memchr(h, ' ', n) != NULL)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || end == colon + 1 || p < 1 || p > 65535)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (int)p;
	return 0;
}

/* sl_redis_sentinel_addr - the master's address from get-master-addr-by-name */
int
sl_redis_sentinel_addr(const redisReply *r, char *host, size_t hostlen, int *port, char *err,
                       size_t errlen)
{
	char *end;
	long p;

	if (r == NULL) {
		snprintf(err, errlen, "no reply");
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s", r->str);
		return -1;
	}
	if (r->type == REDIS_REPLY_NIL) {
		snprintf(err, errlen, "master name unknown to this sentinel");
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING || r->element[0]->len == 0 ||
	    (size_t)r->element[0]->len >= hostlen) {
		snprintf(err, errlen, "malformed sentinel reply");
		return -1;
	}
	p = strtol(r->element[1]->str, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535) {
		snprintf(err, errlen, "malformed port in sentinel reply");
		return -1;
	}
	memcpy(host, r->element[0]->str, r->element[0]->len);
	host[r->element[0]->len] = '\0';
	*port = (int)p;
	return 0;
}

/* sl_redis_role_check - 0 when a ROLE reply says "master" */
int
sl_redis_role_check(const redisReply *r, char *err, size_t errlen)
{
	if (r == NULL) {
		snprintf(err, errlen, "ROLE: no reply");
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "ROLE failed: %s", r->str);
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		snprintf(err, errlen, "ROLE: malformed reply");
		return -1;
	}
	if (strcmp(r->element[0]->str, "master") != 0) {
		snprintf(err, errlen, "ROLE: server is a %s, not the master", r->element[0]->str);
		return -1;
	}
	return 0;
}

/* sl_redis_is_readonly - is this "-READONLY You can't write against a replica"? */
int
sl_redis_is_readonly(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR && r->str != NULL &&
	       strncmp(r->str, "READONLY", 8) == 0;
}

/* sl_redis_set_master - remember the master's address (and the log label) */
void
sl_redis_set_master(struct sl_redis_conf *conf, const char *host, int port)
{
	char buf[512];

	free(conf->host);
	conf->host = sl_strdup(host);
	conf->port = port;
	snprintf(buf, sizeof(buf), "%s@%s:%d", conf->master_name, host, port);
	free(conf->where);
	conf->where = sl_strdup(buf);
}

/* ms_tv - milliseconds as a struct timeval */
static struct timeval
ms_tv(int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

/* sl_redis_sentinel_ask - sentinel i: connect, AUTH, get-master-addr-by-name */
int
sl_redis_sentinel_ask(const struct sl_redis_conf *conf, int i, int connect_ms, char *host,
                      size_t hostlen, int *port, char *err, size_t errlen)
{
	redisContext *c;
	redisReply *rep = NULL;
	int ret = -1;

	c = redisConnectWithTimeout(conf->sentinel_host[i], conf->sentinel_port[i],
	                            ms_tv(connect_ms));
	if (c == NULL || c->err) {
		snprintf(err, errlen, "%s", c ? c->errstr : "out of memory");
		goto out;
	}
	redisSetTimeout(c, ms_tv(conf->command_timeout_ms));
	if (conf->sentinel_password) {
		if (conf->sentinel_user)
			rep = redisCommand(c, "AUTH %s %s", conf->sentinel_user,
			                   conf->sentinel_password);
		else
			rep = redisCommand(c, "AUTH %s", conf->sentinel_password);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "AUTH failed: %s", rep ? rep->str : c->errstr);
			goto out;
		}
		freeReplyObject(rep);
	}
	rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", conf->master_name);
	if (rep == NULL)
		snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "no reply");
	else
		ret = sl_redis_sentinel_addr(rep, host, hostlen, port, err, errlen);
out:
	if (rep)
		freeReplyObject(rep);
	if (c)
		redisFree(c);
	return ret;
}

/* sl_redis_sentinel_discover - ask the sentinels in turn for the master */
int
sl_redis_sentinel_discover(const struct sl_redis_conf *conf, char *host, size_t hostlen, int *port,
                           char *err, size_t errlen)
{
	char why[SL_REDIS_ERRSTR_LEN] = "none configured";

	for (int i = 0; i < conf->nsentinels; i++) {
		if (sl_redis_sentinel_ask(conf, i, conf->connect_timeout_ms, host, hostlen, port,
		                          why, sizeof(why)) == 0)
			return 0;
		sl_debug("redis sentinel %s:%d: %s", conf->sentinel_host[i], conf->sentinel_port[i],
		         why);
	}
	snprintf(err, errlen, "no sentinel gave the address of %s (last: %s)", conf->master_name,
	         why);
	return -1;
}

/* sl_redis_master_moved - do the sentinels name another master than ours? */
int
sl_redis_master_moved(const struct sl_redis_conf *conf, const char *host, int port)
{
	return conf->host == NULL || strcmp(conf->host, host) != 0 || conf->port != port;
}

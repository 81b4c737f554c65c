/*
 * NAME
 *	redis_cluster 3 - Redis Cluster routing: key slots, slot map, redirects
 * SYNOPSIS
 *	#include "redis_int.h"
 *
 *	slot = sl_redis_cmd_slot(argc, argv, argvlen);
 *	node = slot < 0 ? 0 : map->node[slot];
 *	... MOVED/ASK: sl_redis_redirect(reply->str, &ask, &slot, host, ...)
 * DESCRIPTION
 *	hiredis 0.14 (Debian 12) has no cluster support; this is the small
 *	part the clients need to talk to a Redis Cluster themselves:
 *
 *	sl_redis_keyslot() is CRC16 (XMODEM) of the key, or of its hash tag
 *	(the part between the first "{" and the next "}" when not empty),
 *	modulo 16384, as CLUSTER KEYSLOT computes it; sl_redis_keyslot_str()
 *	is the same for a NUL-terminated key.
 *
 *	sl_redis_cmd_slot() finds the slot of a command by its first key:
 *	argv[1] for ordinary commands, the first of KEYS for EVAL, EVALSHA
 *	and FCALL (-1 when numkeys is 0), none (-1) for the few keyless
 *	commands the programs send (PING, INFO, SCRIPT, ...). A command
 *	whose keys are in several slots goes to the first key's node, which
 *	answers CROSSSLOT: an error reply, like any other.
 *
 *	The slot map (struct sl_redis_slotmap) is filled from CLUSTER SLOTS
 *	and holds the masters only: replicas are never used.
 *	sl_redis_redirect() parses "MOVED <slot> <host>:<port>" and
 *	"ASK <slot> <host>:<port>". Both clients use these: one parser of
 *	the map (from an sl_reply) and of redirects.
 * SEE ALSO
 *	redis.c and redis_async.c (both clients route with this),
 *	doc/redis-client.md
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "redis_int.h"

/* crc16 - CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0 */
static unsigned
crc16(const unsigned char *p, size_t len)
{
	unsigned crc = 0;

	while (len--) {
		crc ^= (unsigned)*p++ << 8;
		for (int i = 0; i < 8; i++)
			crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
		crc &= 0xffff;
	}
	return crc;
}

/* sl_redis_keyslot - the cluster slot of a key, hash tags honoured */
unsigned
sl_redis_keyslot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	if (open != NULL) {
		size_t rest = len - (size_t)(open - key) - 1;

		close = memchr(open + 1, '}', rest);
		if (close != NULL && close > open + 1)
			return crc16((const unsigned char *)open + 1, (size_t)(close - open - 1)) &
			       16383;
	}
	return crc16((const unsigned char *)key, len) & 16383;
}

/* sl_redis_keyslot_str - the cluster slot of a NUL-terminated key */
unsigned
sl_redis_keyslot_str(const char *key)
{
	return sl_redis_keyslot(key, strlen(key));
}

/* arglen - length of argument i */
static size_t
arglen(const char **argv, const size_t *argvlen, int i)
{
	return argvlen ? argvlen[i] : strlen(argv[i]);
}

/* is_cmd - is argument 0 this command name (any case)? */
static int
is_cmd(const char **argv, const size_t *argvlen, const char *name)
{
	size_t n = strlen(name);

	return arglen(argv, argvlen, 0) == n && strncasecmp(argv[0], name, n) == 0;
}

/* sl_redis_cmd_slot - the slot a command goes to by its first key, or -1 */
int
sl_redis_cmd_slot(int argc, const char **argv, const size_t *argvlen)
{
	static const char *const keyless[] = {
	    "PING", "INFO",   "SCRIPT", "CLUSTER", "ROLE", "TIME",   "DBSIZE", "SCAN", "FUNCTION",
	    "AUTH", "SELECT", "ASKING", "MULTI",   "EXEC", "CONFIG", "MEMORY", NULL};
	char num[24];
	size_t n;

	if (argc < 2)
		return -1;
	for (int i = 0; keyless[i]; i++)
		if (is_cmd(argv, argvlen, keyless[i]))
			return -1;
	if (is_cmd(argv, argvlen, "EVAL") || is_cmd(argv, argvlen, "EVALSHA") ||
	    is_cmd(argv, argvlen, "FCALL") || is_cmd(argv, argvlen, "FCALL_RO") ||
	    is_cmd(argv, argvlen, "EVAL_RO") || is_cmd(argv, argvlen, "EVALSHA_RO")) {
		if (argc < 4 || (n = arglen(argv, argvlen, 2)) >= sizeof(num))
			return -1;
		memcpy(num, argv[2], n);
		num[n] = '\0';
		if (atoi(num) <= 0)
			return -1;
		return (int)sl_redis_keyslot(argv[3], arglen(argv, argvlen, 3));
	}
	return (int)sl_redis_keyslot(argv[1], arglen(argv, argvlen, 1));
}

/* sl_redis_redirect - parse MOVED/ASK; 1 if it is one, 0 if not, -1 if malformed */
int
sl_redis_redirect(const char *err, int *ask, int *slot, char *host, size_t hostlen, int *port)
{
	const char *p;
	char *end;
	long s;

	if (err == NULL)
		return 0;
	if (strncmp(err, "MOVED ", 6) == 0)
		*ask = 0, p = err + 6;
	else if (strncmp(err, "ASK ", 4) == 0)
		*ask = 1, p = err + 4;
	else
		return 0;
	s = strtol(p, &end, 10);
	if (end == p || *end != ' ' || s < 0 || s > 16383)
		return -1;
	if (sl_redis_hostport(end + 1, host, hostlen, port) < 0)
		return -1;
	*slot = (int)s;
	return 1;
}

/* sl_redis_slotmap_init - an empty map: every slot unknown */
void
sl_redis_slotmap_init(struct sl_redis_slotmap *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < SL_REDIS_SLOTS; i++)
		m->node[i] = -1;
}

/* sl_redis_slotmap_free - release the node names */
void
sl_redis_slotmap_free(struct sl_redis_slotmap *m)
{
	for (int i = 0; i < m->nnodes; i++)
		free(m->host[i]);
	m->nnodes = 0;
}

/* sl_redis_slotmap_node - index of host:port, added if new; -1 when full */
int
sl_redis_slotmap_node(struct sl_redis_slotmap *m, const char *host, int port)
{
	for (int i = 0; i < m->nnodes; i++)
		if (m->port[i] == port && strcmp(m->host[i], host) == 0)
			return i;
	if (m->nnodes == SL_REDIS_MAX_NODES)
		return -1;
	m->host[m->nnodes] = sl_strdup(host);
	m->port[m->nnodes] = port;
	return m->nnodes++;
}

/* slots_range - one CLUSTER SLOTS entry: [start, end, [host, port, ...], ...] */
static int
slots_range(struct sl_redis_slotmap *m, const sl_reply *e)
{
	const sl_reply *master;
	long long lo, hi;
	int node;

	if (e->type != SL_REPLY_ARRAY || e->elements < 3 ||
	    e->element[0]->type != SL_REPLY_INTEGER || e->element[1]->type != SL_REPLY_INTEGER ||
	    (master = e->element[2])->type != SL_REPLY_ARRAY || master->elements < 2 ||
	    master->element[0]->type != SL_REPLY_STRING ||
	    master->element[1]->type != SL_REPLY_INTEGER)
		return -1;
	lo = e->element[0]->integer;
	hi = e->element[1]->integer;
	if (lo < 0 || hi >= SL_REDIS_SLOTS || lo > hi || master->element[0]->len == 0 ||
	    master->element[0]->len >= 256 ||
	    strlen(master->element[0]->str) != master->element[0]->len ||
	    master->element[1]->integer < 1 || master->element[1]->integer > 65535)
		return -1;
	if ((node = sl_redis_slotmap_node(m, master->element[0]->str,
	                                  (int)master->element[1]->integer)) < 0)
		return -1;
	for (long long s = lo; s <= hi; s++)
		m->node[s] = (short)node;
	return 0;
}

/* sl_redis_slotmap_load - fill the map from a CLUSTER SLOTS reply */
int
sl_redis_slotmap_load(struct sl_redis_slotmap *m, const sl_reply *r, char *err, size_t errlen)
{
	if (r == NULL || r->type != SL_REPLY_ARRAY) {
		snprintf(err, errlen, "CLUSTER SLOTS: %s",
		         r && r->type == SL_REPLY_ERROR ? r->str : "malformed reply");
		return -1;
	}
	for (int i = 0; i < SL_REDIS_SLOTS; i++)
		m->node[i] = -1;
	for (size_t i = 0; i < r->elements; i++)
		if (slots_range(m, r->element[i]) < 0) {
			snprintf(err, errlen, "CLUSTER SLOTS: malformed entry %zu", i);
			return -1;
		}
	return 0;
}

/*
 * NAME
 *	keyspace_version 3 - is the data in Redis in this version's keyspace format
 * SYNOPSIS
 *	#include "keyspace.h"
 *
 *	rc = sl_keyspace_check(redis, msg, sizeof(msg));
 *	rc = sl_keyspace_mark(redis);
 * DESCRIPTION
 *	The key "keyspace" (under the prefix) holds the format of the data,
 *	SL_KEYSPACE_FORMAT for names with Cluster hash tags. Every program
 *	asks sl_keyspace_check() before it relies on Redis: a daemon that
 *	read today's names from a keyspace still holding format-1 names
 *	would silently miss every suppression entry written before the
 *	upgrade and send mail to addresses that complained.
 *
 *	Without the marker it looks with SCAN for a name of format 1
 *	(sl_key_old_kind()); when there is none (a fresh install, or a
 *	prefix with no data yet) it writes the marker (SET NX) and the
 *	keyspace is in order. sluicectl migrate writes the marker once it
 *	has renamed every format-1 name (sl_keyspace_mark()).
 * RETURN VALUE
 *	sl_keyspace_check(): 0 in order; 1 format-1 names are there (msg
 *	names one and says to run sluicectl migrate); 2 the marker names a
 *	newer format than this version knows; -1 Redis failed or refused
 *	(msg says why: the caller decides whether to go on without the
 *	check). sl_keyspace_mark(): 0 or -1.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyspace.h"
#include "keyspace_supp.h"
#include "log.h"
#include "redis.h"

#define SCAN_COUNT "1000"

sl_script sl_keyspace_rename_script = {.source = SL_LUA_RENAME};

/* reply_err - the text of a failed call: Redis' error reply or the client's error */
static const char *
reply_err(sl_redis *r, const sl_reply *rep)
{
	return rep && rep->type == SL_REPLY_ERROR ? rep->str : sl_redis_errstr(r);
}

/* scan_old - SCAN the prefix for a format-1 name: 1 found (in msg), 0 none, -1 failed */
static int
scan_old(sl_redis *r, char *msg, size_t msglen)
{
	const char *prefix = sl_redis_prefix(r);
	char pattern[SL_KEY_MAX + 2], cursor[32] = "0";

	sl_key_glob_escape(prefix ? prefix : "", pattern, sizeof(pattern) - 1);
	strcat(pattern, "*");
	do {
		sl_reply *rep = NULL;
		const sl_reply *ks;

		if (sl_redis_cmd(r, &rep, "SCAN %s MATCH %s COUNT " SCAN_COUNT, cursor, pattern) <
		        0 ||
		    rep == NULL || rep->type != SL_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != SL_REPLY_STRING ||
		    rep->element[1]->type != SL_REPLY_ARRAY) {
			snprintf(msg, msglen, "SCAN: %s", reply_err(r, rep));
			sl_reply_free(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		ks = rep->element[1];
		for (size_t i = 0; i < ks->elements; i++) {
			sl_key_parts p;

			if (ks->element[i]->type == SL_REPLY_STRING &&
			    sl_key_old_kind(ks->element[i]->str, prefix, &p) >= 0) {
				snprintf(
				    msg, msglen,
				    "redis holds keys named the way before Cluster hash tags "
				    "(%.200s, ...): run \"sluicectl migrate\" (doc/redis-keys.md, "
				    "\"Upgrading\")",
				    ks->element[i]->str);
				sl_reply_free(rep);
				return 1;
			}
		}
		sl_reply_free(rep);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

/* sl_keyspace_mark - write the marker: the data is in this version's format */
int
sl_keyspace_mark(sl_redis *r)
{
	char key[SL_KEY_MAX], v[16];
	sl_reply *rep = NULL;
	int rc;

	if (sl_key(key, sizeof(key), sl_redis_prefix(r), SL_KEY_KEYSPACE) < 0)
		return -1;
	snprintf(v, sizeof(v), "%d", SL_KEYSPACE_FORMAT);
	rc = sl_redis_cmd(r, &rep, "SET %s %s", key, v) < 0 || rep == NULL ||
	             rep->type == SL_REPLY_ERROR
	         ? -1
	         : 0;
	sl_reply_free(rep);
	return rc;
}

/* sl_keyspace_check - 0 when the keyspace is in this version's format (see above) */
int
sl_keyspace_check(sl_redis *r, char *msg, size_t msglen)
{
	char key[SL_KEY_MAX], v[16];
	sl_reply *rep = NULL;
	int rc;

	msg[0] = '\0';
	if (sl_key(key, sizeof(key), sl_redis_prefix(r), SL_KEY_KEYSPACE) < 0) {
		snprintf(msg, msglen, "prefix too long");
		return -1;
	}
	if (sl_redis_cmd(r, &rep, "GET %s", key) < 0 || rep == NULL ||
	    (rep->type != SL_REPLY_STRING && rep->type != SL_REPLY_NIL)) {
		snprintf(msg, msglen, "GET %s: %s", key, reply_err(r, rep));
		sl_reply_free(rep);
		return -1;
	}
	if (rep->type == SL_REPLY_STRING) {
		long f = strtol(rep->str, NULL, 10);

		sl_reply_free(rep);
		if (f == SL_KEYSPACE_FORMAT)
			return 0;
		if (f > SL_KEYSPACE_FORMAT) {
			snprintf(msg, msglen,
			         "%s says keyspace format %ld, newer than this version's (%d): "
			         "upgrade this program",
			         key, f, SL_KEYSPACE_FORMAT);
			return 2;
		}
		snprintf(msg, msglen, "%s says keyspace format %ld: run \"sluicectl migrate\"", key,
		         f);
		return 1;
	}
	sl_reply_free(rep);
	if ((rc = scan_old(r, msg, msglen)) != 0)
		return rc;
	rep = NULL;
	snprintf(v, sizeof(v), "%d", SL_KEYSPACE_FORMAT);
	if (sl_redis_cmd(r, &rep, "SET %s %s NX", key, v) < 0 || rep == NULL ||
	    rep->type == SL_REPLY_ERROR) {
		/* nothing old is there: in order, even when the marker cannot be written */
		snprintf(msg, msglen, "SET %s: %s", key, reply_err(r, rep));
	}
	sl_reply_free(rep);
	return 0;
}

/*
 * sl_keyspace_require - sl_keyspace_check() with its verdict logged: 1
 * when the program must not go on (format-1 names, a newer format), 0
 * otherwise (in order, or Redis failed: not checked, said in a warning)
 */
int
sl_keyspace_require(sl_redis *r)
{
	char msg[512];
	int rc = sl_keyspace_check(r, msg, sizeof(msg));

	if (rc == 1 || rc == 2) {
		sl_error("keyspace: %s", msg);
		return 1;
	}
	if (rc < 0)
		sl_warn("keyspace format not checked (%s): redis unavailable", msg);
	else if (*msg)
		sl_warn("keyspace: no key of an older format, but the marker was not written: %s",
		        msg);
	return 0;
}

/* sl_keyspace_require_opts - sl_keyspace_require() on a connection of its own */
int
sl_keyspace_require_opts(const sl_redis_opts *o)
{
	sl_redis *r = sl_redis_new(o);
	int refuse = sl_keyspace_require(r);

	sl_redis_free(r);
	return refuse;
}

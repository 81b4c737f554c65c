/*
 * NAME
 *	keyspace_version 3 - is the data in Redis in this version's keyspace format
 * SYNOPSIS
 *	#include "keyspace.h"
 *
 *	rc = sl_keyspace_check(redis, msg, sizeof(msg));
 *	rc = sl_keyspace_mark(redis);
 *	if (sl_keyspace_require_opts(&opts)) exit(EX_CONFIG);
 *	... daemon(), privileges ...; sl_keyspace_watch();
 *	... serve ...; return sl_keyspace_refused() ? EX_CONFIG : 0;
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
 *	has renamed every format-1 name (sl_keyspace_mark()). The SCAN
 *	walks every master on Redis Cluster (sl_redis_scan_all()).
 *
 *	A daemon checks at start with sl_keyspace_require_opts(). When Redis
 *	cannot be asked then, the daemon starts anyway but closes the Redis
 *	gate (sl_redis_gate(): every call of its handles fails fast, as while
 *	Redis is down, so it answers with its fail actions and writes
 *	nothing), and sl_keyspace_watch() starts a thread that asks again
 *	every WATCH_MS on a handle of its own. Once the check passes, the
 *	gate opens; when it finds an older (or newer) format, the error is
 *	logged, sl_keyspace_refused() becomes true and the thread sends the
 *	process SIGTERM: the daemon stops and exits 78 (EX_CONFIG), as it
 *	would have at start.
 * RETURN VALUE
 *	sl_keyspace_check(): 0 in order; 1 format-1 names are there (msg
 *	names one and says to run sluicectl migrate); 2 the marker names a
 *	newer format than this version knows; -1 Redis failed or refused
 *	(msg says why: the caller decides whether to go on without the
 *	check). sl_keyspace_mark(): 0 or -1. sl_keyspace_require_opts(): 1
 *	refuse to start (logged), 0 go on (checked, or left to
 *	sl_keyspace_watch()).
 * THREADS
 *	sl_keyspace_require_opts() and sl_keyspace_watch() are called once,
 *	by the main thread, in that order, with daemon() between them if at
 *	all; the watch thread blocks every signal.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keyspace.h"
#include "keyspace_supp.h"
#include "log.h"
#include "redis.h"

sl_script sl_keyspace_rename_script = {.source = SL_LUA_RENAME};

/* reply_err - the text of a failed call: Redis' error reply or the client's error */
static const char *
reply_err(sl_redis *r, const sl_reply *rep)
{
	return rep && rep->type == SL_REPLY_ERROR ? rep->str : sl_redis_errstr(r);
}

/* A walk for a format-1 name: the prefix, and the name found. */
typedef struct old_walk {
	const char *prefix;
	char *msg;
	size_t msglen;
} old_walk;

/* old_name - sl_redis_scan_all() callback: stop at a name of format 1 */
static int
old_name(const char *key, void *arg)
{
	old_walk *w = arg;
	sl_key_parts p;

	if (sl_key_old_kind(key, w->prefix, &p) < 0)
		return 0;
	snprintf(w->msg, w->msglen,
	         "redis holds keys named the way before Cluster hash tags "
	         "(%.200s, ...): run \"sluicectl migrate\" (doc/redis-keys.md, "
	         "\"Upgrading\")",
	         key);
	return 1;
}

/* scan_old - a format-1 name under the prefix (every master): 1 found (in msg), 0 none, -1 */
static int
scan_old(sl_redis *r, char *msg, size_t msglen)
{
	const char *prefix = sl_redis_prefix(r);
	char pattern[SL_KEY_MAX + 2];
	old_walk w = {prefix ? prefix : "", msg, msglen};
	int rc;

	sl_key_glob_escape(w.prefix, pattern, sizeof(pattern) - 1);
	strcat(pattern, "*");
	if ((rc = sl_redis_scan_all(r, pattern, old_name, &w)) < 0)
		snprintf(msg, msglen, "%s", sl_redis_errstr(r));
	return rc < 0 ? -1 : rc;
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

/* require_logged - the verdict of sl_keyspace_check() logged, but for "Redis failed" */
static int
require_logged(int rc, const char *msg)
{
	if (rc == 1 || rc == 2) {
		sl_error("keyspace: %s", msg);
		return 1;
	}
	if (rc == 0 && *msg)
		sl_warn("keyspace: no key of an older format, but the marker was not written: %s",
		        msg);
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

	if (rc < 0)
		sl_warn("keyspace format not checked (%s): redis unavailable", msg);
	return require_logged(rc, msg);
}

/*
 * A daemon's check left for later: Redis could not be asked at start.
 * The gate (sl_redis_gate()) holds every other handle of the process
 * meanwhile, so nothing is written to a keyspace of unknown format.
 */
static sl_redis *pending;  /* the check's own handle (ungated) */
static atomic_int refused; /* the later check found an older or newer format */

#define WATCH_MS 250 /* the check is tried again this often; connects follow the client's backoff  \
	              */

/* watch - the thread: the check again until it passes (gate opened) or refuses (SIGTERM) */
static void *
watch(void *arg)
{
	struct timespec ts = {0, WATCH_MS * 1000000L};
	char msg[512], last[512] = "";
	int rc;

	(void)arg;
	for (;;) {
		nanosleep(&ts, NULL);
		if ((rc = sl_keyspace_check(pending, msg, sizeof(msg))) >= 0)
			break;
		if (strstr(msg, "reconnecting") != NULL || strcmp(msg, last) == 0)
			continue; /* the client's backoff, or the reason already logged */
		if (*last)
			sl_warn("keyspace format still not checked: %s", msg); /* a new reason */
		snprintf(last, sizeof(last), "%s", msg);
	}
	sl_redis_free(pending);
	pending = NULL;
	if (require_logged(rc, msg)) {
		atomic_store(&refused, 1);
		kill(getpid(), SIGTERM); /* the daemon stops as on a SIGTERM, then exits 78 */
		return NULL;
	}
	sl_info("keyspace format checked: redis in use from now on");
	sl_redis_gate(0);
	return NULL;
}

/*
 * sl_keyspace_require_opts - a daemon's start: the check on a connection
 * of its own; 1 refuse (logged); 0 go on: in order, or Redis could not
 * be asked, and then the gate is closed until sl_keyspace_watch()'s
 * thread has checked it
 */
int
sl_keyspace_require_opts(const sl_redis_opts *o)
{
	sl_redis_opts own = *o;
	char msg[512];
	sl_redis *r;
	int rc;

	own.ungated = 1;
	r = sl_redis_new(&own);
	if ((rc = sl_keyspace_check(r, msg, sizeof(msg))) >= 0) {
		sl_redis_free(r);
		return require_logged(rc, msg);
	}
	sl_warn("keyspace format not checked (%s): redis not used until it is (asked again as "
	        "soon as redis answers)",
	        msg);
	sl_redis_gate(1);
	sl_redis_free(pending);
	pending = r;
	return 0;
}

/* sl_keyspace_watch - start the thread of a check left for later (after daemon()) */
void
sl_keyspace_watch(void)
{
	sigset_t all, old;
	pthread_t t;
	int err;

	if (pending == NULL)
		return;
	sigfillset(&all); /* signals stay with the daemon's own threads */
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, NULL, watch, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0)
		sl_fatal("keyspace check: pthread_create: %s", strerror(err));
	pthread_detach(t);
}

/* sl_keyspace_refused - did the later check refuse the keyspace (exit 78)? */
int
sl_keyspace_refused(void)
{
	return atomic_load(&refused);
}

/*
 * NAME
 *	ctl_redis 3 - sluicectl's side of Redis: keys, commands, SCAN
 * DESCRIPTION
 *	ctl_key() builds a key under the configured prefix. ctl_cmdv()
 *	runs one command on the lazily connected handle and returns its
 *	reply (any type, never NULL); ctl_cmd_ok() also refuses a Redis
 *	error reply. ctl_scan() walks the keys matching a pattern with SCAN
 *	(never KEYS, which blocks the server the daemons depend on), on
 *	Redis Cluster over every master (sl_redis_scan_all()).
 *
 *	ctl_xslot_move() moves one entry between two slots of a Redis
 *	Cluster, where no script may touch both (sluicectl migrate, suppress
 *	migrate), in four calls: the value (a whole key by DUMP, its TTL
 *	kept; or one field of a hash) is read, copied to a scratch name in
 *	the destination's slot (sl_key_scratch()), the caller's one-slot
 *	script moves or merges it from there (taking the scratch name with
 *	it; a scratch name it leaves is deleted), and then the source is
 *	deleted only if it still holds what was copied (a script compares
 *	it). So the entry is readable under one name or the other at every
 *	moment; a source changed meanwhile is kept (CTL_XSLOT_CHANGED), and a
 *	run interrupted between the copy and the delete leaves both, which a
 *	second run merges again (doc/redis-keys.md, "Upgrading").
 * OWNERSHIP
 *	Replies belong to the caller (sl_reply_free()). ctl_hget() returns
 *	a pointer into the reply it was given.
 * ERRORS
 *	A command that cannot reach Redis ends the process: one message
 *	naming the server, then exit 75 (EX_TEMPFAIL), like the other
 *	Sluice programs, so scripts can retry. A Redis error reply in
 *	ctl_cmd_ok() ends it with 70 (EX_SOFTWARE).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

/* ctl_key - prefix + the key of a kind (lib/keyspace.c); -1 when it does not fit */
int
ctl_key(const ctl_ctx *ctx, char *out, size_t outlen, enum sl_key_kind kind, ...)
{
	va_list	ap;
	int	rc;

	va_start(ap, kind);
	rc = sl_keyv(out, outlen, ctx->prefix, kind, ap);
	va_end(ap);
	return rc;
}

/* read_password_file - the redis password from password_file, if set */
static char *
read_password_file(const char *path)
{
	char	buf[512];
	FILE   *fp;
	size_t	n;

	if ((fp = fopen(path, "r")) == NULL) {
		ctl_err("redis password_file %s: cannot read it", path);
		exit(EX_CONFIG);
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return strdup(buf);
}

/* server_name - "unix socket PATH" or "HOST:PORT", for messages */
static void
server_name(const sl_redis_opts *o, char *out, size_t outlen)
{
	if (o->unix_path)
		snprintf(out, outlen, "%s", o->unix_path);
	else
		snprintf(out, outlen, "%s:%d", o->host, o->port);
}

/* ctl_redis - the handle, connected on first use */
static sl_redis *
ctl_redis(ctl_ctx *ctx)
{
	static char *password;
	sl_redis_opts o;
	const char *pwfile;

	if (ctx->redis)
		return ctx->redis;
	sl_conf_redis_opts(ctx->conf, &o);
	pwfile = cfg_getstr(cfg_getsec(ctx->conf->cfg, "redis"), "password_file");
	if (o.password == NULL && *pwfile) {
		password = read_password_file(pwfile);
		o.password = password;
	}
	ctx->redis = sl_redis_new(&o);
	if (!ctx->any_keyspace && sl_keyspace_require(ctx->redis))
		exit(EX_CONFIG); /* names of an older format: sluicectl migrate first */
	return ctx->redis;
}

/* fail_unreachable - one clear message and exit 75 */
static void __attribute__((noreturn))
fail_unreachable(ctl_ctx *ctx)
{
	sl_redis_opts o;
	char	name[300];

	sl_conf_redis_opts(ctx->conf, &o);
	server_name(&o, name, sizeof(name));
	ctl_err("redis at %s: %s", name, sl_redis_errstr(ctx->redis));
	exit(EX_TEMPFAIL);
}

/* ctl_cmdv - run one command; any reply type comes back, never NULL */
sl_reply *
ctl_cmdv(ctl_ctx *ctx, int argc, const char **argv)
{
	sl_reply *reply = NULL;

	if (sl_redis_cmdv(ctl_redis(ctx), &reply, argc, argv, NULL) < 0 || reply == NULL)
		fail_unreachable(ctx);
	return reply;
}

/* ctl_cmd_ok - ctl_cmdv() that also ends the process on an error reply */
sl_reply *
ctl_cmd_ok(ctl_ctx *ctx, int argc, const char **argv)
{
	sl_reply *reply = ctl_cmdv(ctx, argc, argv);

	if (reply->type == SL_REPLY_ERROR) {
		ctl_err("redis %s: %s", argv[0], reply->str);
		sl_reply_free(reply);
		exit(EX_SOFTWARE);
	}
	return reply;
}

/* cmd_len - one command with argument lengths (binary values); error replies end the process */
static sl_reply *
cmd_len(ctl_ctx *ctx, sl_script *script, int nkeys, int argc, const char **argv, const size_t *len)
{
	sl_reply *reply = NULL;
	int rc = script ? sl_redis_eval(ctl_redis(ctx), script, &reply, nkeys, argc, argv, len)
	                : sl_redis_cmdv(ctl_redis(ctx), &reply, argc, argv, len);

	if (rc < 0 || reply == NULL)
		fail_unreachable(ctx);
	if (reply->type == SL_REPLY_ERROR) {
		ctl_err("redis %s: %s", script ? "script" : argv[0], reply->str);
		sl_reply_free(reply);
		exit(EX_SOFTWARE);
	}
	return reply;
}

/* ctl_cluster - is sluicectl configured for Redis Cluster? */
int
ctl_cluster(const ctl_ctx *ctx)
{
	return ctx->conf->ncluster_nodes > 0;
}

/* Delete KEYS[1] (ARGV[1] '': all of it, else that field) if it still holds ARGV[2]. */
static sl_script cas_del_script = {
    .source = "local f, v = ARGV[1], ARGV[2]\n"
              "local now = f == '' and redis.call('DUMP', KEYS[1]) or redis.call('HGET', KEYS[1], "
              "f)\n"
              "if now ~= v then return 0 end\n"
              "if f == '' then return redis.call('DEL', KEYS[1]) end\n"
              "return redis.call('HDEL', KEYS[1], f)\n"};

/* KEYS[1] (ARGV[1] '': all of it) as {DUMP or the field's value, PTTL}; nil when gone. */
static sl_script copy_get_script = {.source = "local f = ARGV[1]\n"
                                              "if f ~= '' then\n"
                                              "  local v = redis.call('HGET', KEYS[1], f)\n"
                                              "  if not v then return false end\n"
                                              "  return {v, '0'}\n"
                                              "end\n"
                                              "local v = redis.call('DUMP', KEYS[1])\n"
                                              "if not v then return false end\n"
                                              "local t = redis.call('PTTL', KEYS[1])\n"
                                              "return {v, tostring(t > 0 and t or 0)}\n"};

/* The copy at KEYS[1], the scratch name: RESTORE (ARGV[1] '') or the one field. */
static sl_script copy_put_script = {
    .source = "local f, v, t = ARGV[1], ARGV[2], ARGV[3]\n"
              "if f == '' then return redis.call('RESTORE', KEYS[1], t, v, 'REPLACE') end\n"
              "redis.call('DEL', KEYS[1])\n"
              "return redis.call('HSET', KEYS[1], f, v)\n"};

/* ctl_xslot_move - one entry from one Cluster slot to another (see above) */
int
ctl_xslot_move(ctl_ctx *ctx, const char *from, const char *field, const char *to, ctl_pair_fn *pair,
               void *arg)
{
	const char *get[] = {from, field};
	char scratch[CTL_KEY_MAX];
	sl_reply *v, *r;
	int rc = CTL_XSLOT_LEFT;

	if (sl_key_scratch(scratch, sizeof(scratch), ctx->prefix, to) < 0 ||
	    sl_redis_keyslot_str(scratch) != sl_redis_keyslot_str(to)) {
		ctl_err("%s: no scratch name in its slot", to);
		exit(EX_SOFTWARE);
	}
	v = cmd_len(ctx, &copy_get_script, 1, 2, get, NULL);
	if (v->type != SL_REPLY_ARRAY || v->elements != 2 ||
	    v->element[0]->type != SL_REPLY_STRING || v->element[1]->type != SL_REPLY_STRING) {
		sl_reply_free(v);
		return CTL_XSLOT_GONE;
	}
	{
		const sl_reply *val = v->element[0], *ttl = v->element[1];
		const char *a[] = {scratch, field, val->str, ttl->str};
		size_t l[] = {strlen(scratch), strlen(field), val->len, ttl->len};

		sl_reply_free(cmd_len(ctx, &copy_put_script, 1, 4, a, l));
	}
	if (pair(ctx, scratch, to, arg)) { /* its script took the scratch name too */
		const char *a[] = {from, field, v->element[0]->str};
		size_t l[] = {strlen(from), strlen(field), v->element[0]->len};

		r = cmd_len(ctx, &cas_del_script, 1, 3, a, l);
		rc = r->type == SL_REPLY_INTEGER && r->integer > 0 ? CTL_XSLOT_MOVED
		                                                   : CTL_XSLOT_CHANGED;
		sl_reply_free(r);
	} else {
		const char *del[] = {"DEL", scratch};

		sl_reply_free(cmd_len(ctx, NULL, 0, 2, del, NULL));
	}
	sl_reply_free(v);
	return rc;
}

/* ctl_eval - run a script; an error reply ends the process like ctl_cmd_ok */
sl_reply *
ctl_eval(ctl_ctx *ctx, sl_script *script, int nkeys, int argc, const char **argv)
{
	sl_reply *reply = NULL;

	if (sl_redis_eval(ctl_redis(ctx), script, &reply, nkeys, argc, argv, NULL) < 0
	    || reply == NULL)
		fail_unreachable(ctx);
	if (reply->type == SL_REPLY_ERROR) {
		ctl_err("redis script: %s", reply->str);
		sl_reply_free(reply);
		exit(EX_SOFTWARE);
	}
	return reply;
}

/* ctl_hgetall - HGETALL key; NULL when the key is missing or not a hash */
sl_reply *
ctl_hgetall(ctl_ctx *ctx, const char *key)
{
	const char *argv[] = {"HGETALL", key};
	sl_reply *r = ctl_cmdv(ctx, 2, argv);

	if (r->type != SL_REPLY_ARRAY || r->elements == 0) {
		sl_reply_free(r);
		return NULL;
	}
	return r;
}

/* ctl_hget - a field of an HGETALL reply, or NULL */
const char *
ctl_hget(const sl_reply *hash, const char *field)
{
	if (hash == NULL || hash->type != SL_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < hash->elements; i += 2)
		if (hash->element[i]->str && strcmp(hash->element[i]->str, field) == 0)
			return hash->element[i + 1]->str;
	return NULL;
}

/* ctl_print_hash - "field: value" lines of an HGETALL reply */
void
ctl_print_hash(FILE *fp, const sl_reply *hash, const char *indent)
{
	for (size_t i = 0; i + 1 < hash->elements; i += 2) {
		fprintf(fp, "%s%s: ", indent, hash->element[i]->str);
		ctl_print_value(fp, hash->element[i + 1]->str ? hash->element[i + 1]->str : "");
		fputc('\n', fp);
	}
}

/* One ctl_scan() walk: the callback and its argument. */
typedef struct scan_walk {
	ctl_ctx *ctx;
	ctl_scan_fn *fn;
	void *arg;
} scan_walk;

/* scan_key - sl_redis_scan_all() callback: the caller's, with the context */
static int
scan_key(const char *key, void *arg)
{
	scan_walk *w = arg;

	return w->fn(w->ctx, key, w->arg);
}

/* ctl_scan - fn for every key matching pattern (every master on Cluster); fn != 0 stops */
int
ctl_scan(ctl_ctx *ctx, const char *pattern, ctl_scan_fn *fn, void *arg)
{
	scan_walk w = {ctx, fn, arg};
	int rc = sl_redis_scan_all(ctl_redis(ctx), pattern, scan_key, &w);

	if (rc == -1)
		fail_unreachable(ctx);
	if (rc == -2) {
		ctl_err("redis %s", sl_redis_errstr(ctx->redis));
		exit(EX_SOFTWARE);
	}
	return rc;
}

/*
 * NAME
 *	conf 3 - load and check sluice.conf (libconfuse)
 * DESCRIPTION
 *	sl_conf_load() parses the file with the schema of conf_schema.c and
 *	runs the shared semantic checks, logging each problem as file:line.
 *	Programs add their own checks with sl_conf_error() on the loaded
 *	sl_conf, then refuse to start when c->errors is non-zero.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "keyspace_supp.h"
#include "conf_include.h"
#include "conf_lex.h"
#include "site.h"
#include "conf_schema.h"
#include "log.h"

static __thread const char *conf_parsing;	/* path while cfg_parse() runs */
static __thread int conf_mute_parser;		/* the syntax pass said it all */
static int conf_quiet;				/* see sl_conf_set_quiet() */


/* conf_errfunc - libconfuse's syntax errors, written as file:line: text */
static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char	msg[1024], where[4200];

	if (conf_mute_parser)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	sl_error("%s: %s", sl_conf_src_place(NULL, conf_parsing ? conf_parsing : "sluice.conf",
					     cfg ? cfg->line : 0, where, sizeof(where)), msg);
}

/* sl_conf_error - report one semantic problem with the section's file:line */
void
sl_conf_error(sl_conf *c, cfg_t *sec, const char *fmt, ...)
{
	char	msg[1024], where[4200];
	va_list	ap;
	int	line;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->mute) {
		c->shared_errors++;
		return;
	}
	line = sec ? sl_conf_lex_line(c->lex, sec, msg) : 0;
	if (line > 0)
		sl_error("%s: %s", sl_conf_src_place(c->src, c->path, line, where, sizeof(where)), msg);
	else
		sl_error("%s: %s", c->path, msg);
	c->errors++;
}

/* sl_conf_place - "file:line" of a line of the parsed text (includes expanded) */
const char *
sl_conf_place(const sl_conf *c, int line, char *buf, size_t size)
{
	return sl_conf_src_place(c->src, c->path, line, buf, size);
}

/* sl_conf_file_of - the file a section was written in (sluice.conf or an included one) */
const char *
sl_conf_file_of(const sl_conf *c, cfg_t *sec)
{
	const char *f = sl_conf_src_file_of(c->src, sec ? sl_conf_lex_line(c->lex, sec, "") : 0);

	return f ? f : c->path;
}

/* sl_conf_opt_line - the line that sets an option (its section's if unset) */
int
sl_conf_opt_line(const sl_conf *c, cfg_t *sec, const char *opt)
{
	return sl_conf_lex_opt_line(c->lex, sec, opt);
}

/* sl_conf_present - is a top-level section written in the file? */
int
sl_conf_present(const sl_conf *c, const char *section)
{
	return sl_conf_lex_present(c->lex, section);
}

/* sl_conf_set_quiet - count syntax and shared errors without logging them */
void
sl_conf_set_quiet(int quiet)
{
	conf_quiet = quiet;
}

/* conf_password_file - read a password file, which must be private */
static void
conf_password_file(sl_conf *c, cfg_t *r, const char *opt, char *buf, size_t size)
{
	const char *path = cfg_getstr(r, opt);
	char	err[256];
	ssize_t	n;
	int	fd;

	if (*path == '\0')
		return;
	if (sl_conf_check_private_file(path, err, sizeof(err)) < 0) {
		sl_conf_error(c, r, "redis %s: %s", opt, err);
		return;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0
	    || (n = read(fd, buf, size - 1)) < 0) {
		sl_conf_error(c, r, "redis %s: %s: %s", opt, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
}

/* conf_redis_password - read redis { password_file } */
static void
conf_redis_password(sl_conf *c)
{
	cfg_t  *r = cfg_getsec(c->cfg, "redis");

	if (*cfg_getstr(r, "password_file") && *cfg_getstr(r, "password")) {
		sl_conf_error(c, r, "redis: set password or password_file, not both");
		return;
	}
	conf_password_file(c, r, "password_file", c->redis_password,
			   sizeof(c->redis_password));
}

/* conf_addr_list - a list of "host:port" into out; each one checked */
static int
conf_addr_list(sl_conf *c, cfg_t *r, const char *opt, const char **out)
{
	unsigned n = cfg_size(r, opt);
	char	host[256];
	int	port;

	if (n > SL_REDIS_MAX_SENTINELS) {
		sl_conf_error(c, r, "redis %s: at most %d", opt, SL_REDIS_MAX_SENTINELS);
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		out[i] = cfg_getnstr(r, opt, i);
		if (sl_redis_hostport(out[i], host, sizeof(host), &port) < 0)
			sl_conf_error(c, r, "redis %s: \"%s\" is not host:port", opt, out[i]);
	}
	return (int) n;
}

/* conf_redis_sentinels - check redis { sentinels, master_name, ... } */
static void
conf_redis_sentinels(sl_conf *c)
{
	cfg_t  *r = cfg_getsec(c->cfg, "redis");

	c->nsentinels = conf_addr_list(c, r, "sentinels", c->sentinels);
	if (c->nsentinels > 0 && *cfg_getstr(r, "socket"))
		sl_conf_error(c, r, "redis: socket and sentinels exclude each other");
	if (*cfg_getstr(r, "master_name") == '\0')
		sl_conf_error(c, r, "redis master_name: empty");
	conf_password_file(c, r, "sentinel_password_file", c->sentinel_password,
			   sizeof(c->sentinel_password));
}

/* conf_redis_cluster - check redis { cluster_nodes } */
static void
conf_redis_cluster(sl_conf *c)
{
	cfg_t  *r = cfg_getsec(c->cfg, "redis");

	c->ncluster_nodes = conf_addr_list(c, r, "cluster_nodes", c->cluster_nodes);
	if (c->ncluster_nodes == 0)
		return;
	if (cfg_size(r, "sentinels") > 0 || *cfg_getstr(r, "socket"))
		sl_conf_error(c, r, "redis: cluster_nodes exclude sentinels and socket");
	if (cfg_getint(r, "db") != 0)
		sl_conf_error(c, r, "redis: a cluster has database 0 only (db = 0)");
}

/* conf_check_shared - the checks every program needs */
static void
conf_check_shared(sl_conf *c, int flags)
{
	cfg_t  *cfg = c->cfg;
	const char *level = cfg_getstr(cfg, "log_level");
	enum sl_log_level lv;
	sl_supp_layout layout;
	char	err[256];

	if (sl_log_parse_level(level, &lv) < 0)
		sl_conf_error(c, cfg, "log_level \"%s\": use debug, info, warning or error", level);
	c->site = sl_site_build(c);
	conf_redis_password(c);
	conf_redis_sentinels(c);
	conf_redis_cluster(c);
	(void)sl_supp_layout_conf(c, &layout);
	if (*cfg_getstr(cfg, "secret_file")
	    && !((flags & SL_CONF_SECRET_MAY_BE_MISSING) && access(cfg_getstr(cfg, "secret_file"), F_OK) != 0)
	    && sl_conf_check_private_file(cfg_getstr(cfg, "secret_file"), err, sizeof(err)) < 0)
		sl_conf_error(c, cfg, "secret_file: %s", err);
	if (cfg_getint(cfg, "token_lifetime_days") < 1 || cfg_getint(cfg, "token_lifetime_days") > 365)
		sl_conf_error(c, cfg, "token_lifetime_days: must be 1 to 365");
}

/* conf_parse - parse and check a file with SL_CONF_* flags; NULL only if nothing could be parsed */
static sl_conf *
conf_parse(const char *path, int flags)
{
	sl_conf *c;
	size_t	len;
	sl_conf_src *src = NULL;
	char   *text = sl_conf_include_expand(path, &len, &src);
	int	rc;

	if (text == NULL)
		return NULL;
	c = sl_calloc(1, sizeof(*c));
	c->path = sl_strdup(path);
	c->src = src;
	sl_conf_src_set_current(src);
	c->lex = sl_conf_lex_run(path, text, len, sl_conf_schema(), conf_quiet);
	free(text);
	c->cfg = cfg_init(sl_conf_schema(), CFGF_NONE);
	cfg_set_error_function(c->cfg, conf_errfunc);
	conf_parsing = path;
	conf_mute_parser = conf_quiet || c->lex->errors > 0;
	rc = cfg_parse_buf(c->cfg, c->lex->buf);
	conf_parsing = NULL;
	conf_mute_parser = 0;
	sl_conf_src_set_current(NULL);
	if (rc != CFG_SUCCESS) {
		if (c->lex->errors == 0 && conf_quiet == 0)
			sl_error("%s: not parsed (libconfuse)", path);
		sl_conf_free(c);
		return NULL;
	}
	sl_conf_lex_bind(c->lex, c->cfg);
	c->mute = conf_quiet;
	c->errors = conf_quiet ? 0 : c->lex->errors;
	c->shared_errors = conf_quiet ? c->lex->errors : 0;
	conf_check_shared(c, flags);
	c->mute = 0;
	return c;
}

/* sl_conf_parse - parse and check a file; NULL only if nothing could be parsed */
sl_conf *
sl_conf_parse(const char *path)
{
	return conf_parse(path, 0);
}

/* sl_conf_load - parse and check a config file; NULL after logging errors */
sl_conf *
sl_conf_load(const char *path)
{
	return sl_conf_load_opt(path, 0);
}

/* sl_conf_load_opt - sl_conf_load() with SL_CONF_* flags (sluicectl secret init) */
sl_conf *
sl_conf_load_opt(const char *path, int flags)
{
	sl_conf *c = conf_parse(path, flags);

	if (c && c->errors) {
		sl_error("%s: %d error%s", path, c->errors, c->errors == 1 ? "" : "s");
		sl_conf_free(c);
		return NULL;
	}
	return c;
}

/* sl_conf_free - release a loaded configuration */
void
sl_conf_free(sl_conf *c)
{
	if (c == NULL)
		return;
	sl_site_unref(c->site);
	if (c->cfg)
		cfg_free(c->cfg);
	sl_conf_lex_free(c->lex);
	sl_conf_src_free(c->src);
	free(c->path);
	free(c);
}

/* sl_conf_redis_opts - fill client options from the redis section */
void
sl_conf_redis_opts(const sl_conf *c, sl_redis_opts *o)
{
	cfg_t  *r = cfg_getsec(c->cfg, "redis");
	const char *s;

	memset(o, 0, sizeof(*o));
	s = cfg_getstr(r, "socket");
	o->unix_path = *s ? s : NULL;
	o->host = cfg_getstr(r, "host");
	o->port = (int) cfg_getint(r, "port");
	s = cfg_getstr(r, "user");
	o->user = *s ? s : NULL;
	s = cfg_getstr(r, "password");
	o->password = *s ? s : c->redis_password[0] ? c->redis_password : NULL;
	o->db = (int) cfg_getint(r, "db");
	o->prefix = cfg_getstr(r, "prefix");
	o->connect_timeout_ms = (int) cfg_getint(r, "connect_timeout");
	o->command_timeout_ms = (int) cfg_getint(r, "command_timeout");
	o->sentinels = c->sentinels;
	o->nsentinels = c->nsentinels;
	o->master_name = cfg_getstr(r, "master_name");
	s = cfg_getstr(r, "sentinel_user");
	o->sentinel_user = *s ? s : NULL;
	o->sentinel_password = c->sentinel_password[0] ? c->sentinel_password : NULL;
	o->cluster_nodes = c->cluster_nodes;
	o->ncluster_nodes = c->ncluster_nodes;
}

/* sl_conf_refuse_cluster - a program whose scripts span slots: cluster_nodes is an error */
void
sl_conf_refuse_cluster(sl_conf *c, const char *program, const char *why)
{
	if (c->ncluster_nodes > 0)
		sl_conf_error(c, cfg_getsec(c->cfg, "redis"), "redis cluster_nodes: %s cannot "
			      "use Redis Cluster yet: %s (doc/redis-client.md, \"Cluster\")",
			      program, why);
}

/* sl_conf_check_private_file - a key or secret must exist and be private */
int
sl_conf_check_private_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "no file name given");
		return -1;
	}
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: readable by group or others (mode %03o): "
			 "chmod 600 it", path, (unsigned) (st.st_mode & 0777));
		return -1;
	}
	return 0;
}

/*
 * sl_conf_token_ring - the token keyring of secret_file, with the
 * token_lifetime_days of the config: 0, 1 when no secret_file is set,
 * -1 with err when it cannot be used
 */
int
sl_conf_token_ring(const sl_conf *c, sl_token_ring *ring, char *err, size_t errlen)
{
	const char *path = cfg_getstr(c->cfg, "secret_file");

	memset(ring, 0, sizeof(*ring));
	if (*path == '\0')
		return 1;
	return sl_token_ring_load(path, (unsigned) cfg_getint(c->cfg, "token_lifetime_days"),
				  ring, err, errlen);
}

/*
 * NAME
 *	conf 3h - load and check sluice.conf (libconfuse)
 * SYNOPSIS
 *	sl_conf *c = sl_conf_load(path);   NULL after logging every error
 *	cfg_t *cfg = c->cfg;               typed access with cfg_get*()
 *	sl_conf_free(c);
 * DESCRIPTION
 *	One file configures every Sluice program; each program reads its own
 *	section (milter, policyd, feedback, ctl) and the shared ones (redis,
 *	suppression); the domain, category and tenant sections are read once,
 *	into the typed site model c->site (site.h), which is what programs
 *	read. The schema lives in conf_schema.c.
 *	include "file" lines (conf_include.c) are expanded first, and every
 *	message names the file and line the text came from.
 *	A syntax pass (conf_lex.c) reports every syntax error at its line and
 *	repairs the text so libconfuse parses the rest; semantic checks after
 *	parsing (references, key file permissions, networks) report every
 *	problem at once, each as "file:line: message". sl_conf_load() returns
 *	NULL when anything was wrong; sl_conf_parse() returns what it could
 *	parse with c->errors counted, so a program can add its own checks.
 *	sl_conf_set_quiet(1): the syntax and shared errors are counted apart
 *	(c->shared_errors) and not logged: the whole-file check (conf_check.c)
 *	logs them once and asks each program only for its own section.
 * OWNERSHIP
 *	The sl_conf owns its cfg_t; strings from cfg_get*() live as long as it.
 *	It holds one reference to c->site (sl_site_ref() to keep the model
 *	longer).
 */
#ifndef SL_CONF_H
#define SL_CONF_H

#include <confuse.h>
#include <stddef.h>

#include "redis.h"
#include "token.h"

#define SL_CONF_DEFAULT_PATH "/etc/sluice/sluice.conf"

typedef struct sl_conf {
	cfg_t  *cfg;
	char   *path;
	int	errors;			/* semantic errors found by checks */
	int	shared_errors;		/* quiet mode: syntax and shared ones */
	int	mute;			/* quiet mode: in the shared checks */
	struct sl_conf_lex *lex;	/* lines as written (conf_lex.c) */
	struct sl_conf_src *src;	/* lines back to their files (conf_include.c) */
	char	redis_password[256];	/* from redis { password_file } */
	char	sentinel_password[256];	/* from redis { sentinel_password_file } */
	const char *sentinels[SL_REDIS_MAX_SENTINELS]; /* redis { sentinels } */
	int	nsentinels;
	const char *cluster_nodes[SL_REDIS_MAX_SENTINELS]; /* redis { cluster_nodes } */
	int	ncluster_nodes;
	struct sl_site *site;		/* domain, category, tenant (site.h) */
} sl_conf;

#define SL_CONF_SECRET_MAY_BE_MISSING 1	/* secret_file not created yet */

sl_conf *sl_conf_load(const char *path);
sl_conf *sl_conf_load_opt(const char *path, int flags);
sl_conf *sl_conf_parse(const char *path);
void	sl_conf_set_quiet(int quiet);
int	sl_conf_present(const sl_conf *c, const char *section);
int	sl_conf_opt_line(const sl_conf *c, cfg_t *sec, const char *opt);
const char *sl_conf_place(const sl_conf *c, int line, char *buf, size_t size);
const char *sl_conf_file_of(const sl_conf *c, cfg_t *sec);
void	sl_conf_free(sl_conf *c);
void	sl_conf_error(sl_conf *c, cfg_t *sec, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

void	sl_conf_redis_opts(const sl_conf *c, sl_redis_opts *opts);
int	sl_conf_token_ring(const sl_conf *c, sl_token_ring *ring, char *err, size_t errlen);
void	sl_conf_refuse_cluster(sl_conf *c, const char *program, const char *why);
int	sl_conf_check_private_file(const char *path, char *err, size_t errlen);

#endif

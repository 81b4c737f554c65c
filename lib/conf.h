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
 *	domain, category, tenant). The schema lives in conf_schema.c.
 *	Syntax errors stop libconfuse at the first one; semantic checks after
 *	parsing (references, key file permissions, networks) report every
 *	problem at once, each as "file:line: message".
 * OWNERSHIP
 *	The sl_conf owns its cfg_t; strings from cfg_get*() live as long as it.
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
	char	redis_password[256];	/* from redis { password_file } */
} sl_conf;

#define SL_CONF_SECRET_MAY_BE_MISSING 1	/* secret_file not created yet */

sl_conf *sl_conf_load(const char *path);
sl_conf *sl_conf_load_opt(const char *path, int flags);
void	sl_conf_free(sl_conf *c);
void	sl_conf_error(sl_conf *c, cfg_t *sec, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

void	sl_conf_redis_opts(const sl_conf *c, sl_redis_opts *opts);
int	sl_conf_token_ring(const sl_conf *c, sl_token_ring *ring, char *err, size_t errlen);
int	sl_conf_check_private_file(const char *path, char *err, size_t errlen);

#endif

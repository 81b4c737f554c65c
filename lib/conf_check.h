/*
 * NAME
 *	conf_check 3h - the one complete check of sluice.conf (see conf_check.c)
 */
#ifndef SL_CONF_CHECK_H
#define SL_CONF_CHECK_H

#include "conf.h"

#define SL_CHECK_NO_CONNECT 1  /* do not ask Redis */
#define SL_CHECK_REDIS_FATAL 2 /* Redis not answering is an error */

/* A program's own checks: 0 when its section is usable. */
typedef int sl_conf_check_fn(const char *path);

int sl_conf_check_main(const char *path, const char *self, sl_conf_check_fn *own, int flags);
int sl_conf_check_runtime(sl_conf *c, int flags);

#endif

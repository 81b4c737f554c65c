/*
 * NAME
 *	conf_schema 3h - the option tables of sluice.conf
 * DESCRIPTION
 *	sl_conf_schema() returns the top-level table; each program's section
 *	is a separate table so that its owner can extend it on its own.
 */
#ifndef SL_CONF_SCHEMA_H
#define SL_CONF_SCHEMA_H

#include <confuse.h>

cfg_opt_t *sl_conf_schema(void);

#endif

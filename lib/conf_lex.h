/*
 * NAME
 *	conf_lex 3h - the syntax pass over sluice.conf (see conf_lex.c)
 */
#ifndef SL_CONF_LEX_H
#define SL_CONF_LEX_H

#include <confuse.h>
#include <stddef.h>

typedef struct sl_conf_lex_sec {   /* one section as written */
	char *name, *title;        /* title NULL when untitled */
	int open_line, close_line; /* of its name and its '}' */
	int parent;                /* index in secs; -1 for the root */
	struct {
		char *name;
		int line;
	} * opts; /* options set, with their lines */
	size_t nopts, optcap;
} sl_conf_lex_sec;

typedef struct sl_conf_lex {
	int errors; /* syntax errors found */
	char *buf;  /* repaired text for cfg_parse_buf() */
	size_t len;
	sl_conf_lex_sec *secs; /* [0] is the root */
	size_t nsecs, seccap;
	struct {
		cfg_t *cfg; /* a parsed section (sl_conf_lex_bind) */
		int rec;    /* its index in secs */
	} * bound;
	size_t nbound, boundcap;
} sl_conf_lex;

sl_conf_lex *sl_conf_lex_run(const char *path, const char *text, size_t len, cfg_opt_t *schema,
                             int quiet);
void sl_conf_lex_bind(sl_conf_lex *lx, cfg_t *root);
int sl_conf_lex_line(const sl_conf_lex *lx, const cfg_t *sec, const char *msg);
int sl_conf_lex_opt_line(const sl_conf_lex *lx, const cfg_t *sec, const char *opt);
int sl_conf_lex_present(const sl_conf_lex *lx, const char *name);
void sl_conf_lex_free(sl_conf_lex *lx);

#endif

/*
 * NAME
 *	conf_lex 3 - the syntax pass over sluice.conf, before libconfuse
 * SYNOPSIS
 *	sl_conf_lex *lx = sl_conf_lex_run(path, text, len, schema, quiet);
 *	lx->errors, lx->buf/lx->len (the repaired text for cfg_parse_buf)
 *	int line = sl_conf_lex_line(lx, sec, msg);
 *	sl_conf_lex_present(lx, "policyd");
 *	sl_conf_lex_free(lx);
 * DESCRIPTION
 *	libconfuse stops at the first syntax error and its line numbers are
 *	those of a section's closing brace (or worse, once a brace is
 *	missing). This pass reads the text with libconfuse's own lexical rules
 *	(words, '...' and "..." strings, # // and C comments, { } ( ) , = +=)
 *	and walks the option tables of conf_schema.c, so that it reports, each
 *	at its own line and all in one run: unknown options, a section not
 *	closed (found where the next known outer option starts, or at the end
 *	of the file), a '}' too many, a missing '=' or value, and values that
 *	are not an integer, a number or a boolean where the table wants one.
 *	Each bad statement is blanked out (newlines kept, so lines do not
 *	move) and each missing '}' inserted, so libconfuse can still parse the
 *	rest and the semantic checks of every program run on it.
 *	It records where each section starts and which line sets each option,
 *	so semantic errors (sl_conf_error) point at the option's own line.
 * OWNERSHIP
 *	The sl_conf_lex owns every string it holds; free with sl_conf_lex_free.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_include.h"
#include "conf_lex.h"
#include "log.h"

enum {
	T_EOF,
	T_WORD,
	T_STR,
	T_LBRACE,
	T_RBRACE,
	T_LPAREN,
	T_RPAREN,
	T_COMMA,
	T_EQ,
	T_PLUSEQ,
	T_BAD,
	T_COMMENT
};

typedef struct lex_tok {
	int type;
	size_t start, end; /* byte range in the text */
	int line;
	char *text; /* value of a word or string */
} lex_tok;

typedef struct lex_edit {
	size_t at, end; /* blank [at,end), or insert '}' at */
	int insert;
} lex_edit;

typedef struct lex_state {
	sl_conf_lex *lx;
	const char *path, *src;
	size_t len, pos;
	size_t last_end, prev_end; /* end of the last token consumed */
	int line, quiet;
	int strict;   /* a # comment here is a token (libconfuse) */
	lex_tok back; /* one token pushed back */
	int have_back;
	lex_edit *edits;
	size_t nedits, edcap;
} lex_state;

/* lex_error - one syntax error at its line */
static void SL_PRINTF(3, 4) lex_error(lex_state *s, int line, const char *fmt, ...)
{
	char msg[1024], where[4200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!s->quiet)
		sl_error("%s: %s", sl_conf_src_place(NULL, s->path, line, where, sizeof(where)),
		         msg);
	s->lx->errors++;
}

/* lex_edit_add - remember a blanked range or an inserted '}' */
static void
lex_edit_add(lex_state *s, size_t at, size_t end, int insert)
{
	s->edits = sl_grow(s->edits, s->nedits + 1, &s->edcap, sizeof(*s->edits));
	s->edits[s->nedits++] = (lex_edit){at, end, insert};
}

/* skip_space - whitespace and the three kinds of comments */
static void
skip_space(lex_state *s)
{
	while (s->pos < s->len) {
		char c = s->src[s->pos];

		if (c == '\n')
			s->line++, s->pos++;
		else if (c == ' ' || c == '\t' || c == '\r')
			s->pos++;
		else if (s->strict && (c == '#' || (c == '/' && s->pos + 1 < s->len &&
		                                    s->src[s->pos + 1] == '/')))
			break;
		else if (c == '#' || (c == '/' && s->pos + 1 < s->len && s->src[s->pos + 1] == '/'))
			while (s->pos < s->len && s->src[s->pos] != '\n')
				s->pos++;
		else if (c == '/' && s->pos + 1 < s->len && s->src[s->pos + 1] == '*') {
			for (s->pos += 2; s->pos < s->len; s->pos++) {
				if (s->src[s->pos] == '\n')
					s->line++;
				else if (s->src[s->pos] == '*' && s->pos + 1 < s->len &&
				         s->src[s->pos + 1] == '/') {
					s->pos += 2;
					break;
				}
			}
		} else
			break;
	}
}

/* read_string - a quoted string; its value with the escapes kept simple */
static void
read_string(lex_state *s, lex_tok *t, char q)
{
	size_t from = ++s->pos;
	int line = s->line;

	while (s->pos < s->len && s->src[s->pos] != q) {
		if (s->src[s->pos] == '\\' && s->pos + 1 < s->len)
			s->pos++;
		if (s->src[s->pos] == '\n')
			s->line++;
		s->pos++;
	}
	if (s->pos >= s->len) {
		t->type = T_BAD;
		lex_error(s, line, "unterminated string (opened with %c)", q);
		return;
	}
	t->type = T_STR;
	t->text = sl_strndup(s->src + from, s->pos - from);
	s->pos++;
}

/* next_token - the next token, as libconfuse's lexer would cut it */
static void
next_token(lex_state *s, lex_tok *t)
{
	static const char single[] = "{}(),=";
	static const int types[] = {T_LBRACE, T_RBRACE, T_LPAREN, T_RPAREN, T_COMMA, T_EQ};
	const char *p;
	char c;

	s->prev_end = s->last_end;
	if (s->have_back) {
		*t = s->back;
		s->have_back = 0;
		s->last_end = t->end;
		return;
	}
	skip_space(s);
	memset(t, 0, sizeof(*t));
	t->start = s->pos;
	t->line = s->line;
	if (s->pos >= s->len) {
		t->type = T_EOF;
	} else if ((p = strchr(single, c = s->src[s->pos])) != NULL) {
		t->type = types[p - single];
		s->pos++;
	} else if (c == '+') {
		t->type = s->pos + 1 < s->len && s->src[s->pos + 1] == '=' ? T_PLUSEQ : T_BAD;
		s->pos += t->type == T_PLUSEQ ? 2 : 1;
	} else if (c == '"' || c == '\'') {
		read_string(s, t, c);
	} else if (c == '#' || (c == '/' && s->pos + 1 < s->len && s->src[s->pos + 1] == '/')) {
		/* after a name or '=', libconfuse reads a comment as a value */
		t->type = T_COMMENT;
		while (s->pos < s->len && s->src[s->pos] != '\n')
			s->pos++;
	} else {
		while (s->pos < s->len && !strchr(" \t\r\n#=+{}(),\"'", s->src[s->pos]))
			s->pos++;
		t->type = T_WORD;
		t->text = sl_strndup(s->src + t->start, s->pos - t->start);
	}
	t->end = s->last_end = s->pos;
}

/* push_back - give one token back to next_token (which then owns its text) */
static void
push_back(lex_state *s, lex_tok *t)
{
	s->back = *t;
	s->have_back = 1;
	s->last_end = s->prev_end;
	t->text = NULL;
}

/* tok_free - release a token's text */
static void
tok_free(lex_tok *t)
{
	free(t->text);
	t->text = NULL;
}

/* tok_name - how a token is shown in a message */
static const char *
tok_name(const lex_tok *t)
{
	static const char *const names[] = {"end of file",
	                                    "",
	                                    "",
	                                    "'{'",
	                                    "'}'",
	                                    "'('",
	                                    "')'",
	                                    "','",
	                                    "'='",
	                                    "'+='",
	                                    "stray character",
	                                    "a comment (libconfuse takes it for a value here)"};

	return t->text ? t->text : names[t->type];
}

/* find_opt - an option of a table by name, NULL when unknown */
static cfg_opt_t *
find_opt(cfg_opt_t *opts, const char *name)
{
	for (; opts && opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts;
	return NULL;
}

/* sec_add - record one section as written; its index */
static int
sec_add(lex_state *s, const char *name, const char *title, int line, int parent)
{
	sl_conf_lex *lx = s->lx;
	sl_conf_lex_sec *sec;

	lx->secs = sl_grow(lx->secs, lx->nsecs + 1, &lx->seccap, sizeof(*lx->secs));
	sec = &lx->secs[lx->nsecs];
	memset(sec, 0, sizeof(*sec));
	sec->name = sl_strdup(name);
	sec->title = title ? sl_strdup(title) : NULL;
	sec->open_line = sec->close_line = line;
	sec->parent = parent;
	return (int)lx->nsecs++;
}

/* sec_opt - record the line that sets an option of a section */
static void
sec_opt(lex_state *s, int si, const char *name, int line)
{
	sl_conf_lex_sec *sec = &s->lx->secs[si];

	sec->opts = sl_grow(sec->opts, sec->nopts + 1, &sec->optcap, sizeof(*sec->opts));
	sec->opts[sec->nopts].name = sl_strdup(name);
	sec->opts[sec->nopts++].line = line;
}

/* sec_label - "section 'milter'" or "section domain \"x\"" for messages */
static const char *
sec_label(lex_state *s, int si, char *buf, size_t size)
{
	const sl_conf_lex_sec *sec = &s->lx->secs[si];

	if (si == 0)
		snprintf(buf, size, "at top level");
	else if (sec->title)
		snprintf(buf, size, "in %s \"%s\"", sec->name, sec->title);
	else
		snprintf(buf, size, "in %s { }", sec->name);
	return buf;
}

/* check_value - a value of the type the table wants; -1 after the error */
static int
check_value(lex_state *s, const cfg_opt_t *opt, const lex_tok *t)
{
	const char *v = t->text;
	char *end;

	if (t->type != T_WORD && t->type != T_STR) {
		lex_error(s, t->line, "%s: a value expected, found %s", opt->name, tok_name(t));
		return -1;
	}
	errno = 0;
	if (opt->type == CFGT_INT && (strtol(v, &end, 0), *v == '\0' || *end || errno)) {
		lex_error(s, t->line, "%s = \"%s\": not an integer", opt->name, v);
		return -1;
	}
	if (opt->type == CFGT_FLOAT && (strtod(v, &end), *v == '\0' || *end || errno)) {
		lex_error(s, t->line, "%s = \"%s\": not a number", opt->name, v);
		return -1;
	}
	if (opt->type == CFGT_BOOL && strcasecmp(v, "true") && strcasecmp(v, "false") &&
	    strcasecmp(v, "yes") && strcasecmp(v, "no") && strcasecmp(v, "on") &&
	    strcasecmp(v, "off")) {
		lex_error(s, t->line, "%s = \"%s\": use true or false", opt->name, v);
		return -1;
	}
	return 0;
}

/* skip_block - past the '}' matching an already read '{'; 0, -1 at EOF */
static int
skip_block(lex_state *s, lex_tok *t)
{
	int depth = 1;

	while (depth > 0) {
		tok_free(t);
		next_token(s, t);
		if (t->type == T_EOF)
			return -1;
		depth += t->type == T_LBRACE ? 1 : t->type == T_RBRACE ? -1 : 0;
	}
	return 0;
}

/* read_list_values - { v, v, ... } after '{'; the values checked; -1 on an error */
static int
read_list_values(lex_state *s, const cfg_opt_t *opt, lex_tok *t, int open_line)
{
	int bad = 0;

	for (;;) {
		tok_free(t);
		next_token(s, t);
		if (t->type == T_RBRACE)
			return bad;
		if (t->type == T_EOF) {
			lex_error(s, open_line, "%s: list opened here is not closed", opt->name);
			return -1;
		}
		if (check_value(s, opt, t) < 0)
			return skip_block(s, t), -1;
		tok_free(t);
		next_token(s, t);
		if (t->type == T_RBRACE)
			return bad;
		if (t->type != T_COMMA) {
			lex_error(s, t->line, "%s: ',' or '}' expected in the list, found %s",
			          opt->name, tok_name(t));
			/* the rest of the list, up to its '}', goes with it */
			while (t->type != T_RBRACE && t->type != T_EOF && t->type != T_LBRACE &&
			       t->type != T_EQ) {
				tok_free(t);
				next_token(s, t);
			}
			if (t->type != T_RBRACE)
				push_back(s, t);
			return -1;
		}
	}
}

/* read_list - a list, where libconfuse reads a # comment as a value too */
static int
read_list(lex_state *s, const cfg_opt_t *opt, lex_tok *t, int open_line)
{
	int rc;

	s->strict = 1;
	rc = read_list_values(s, opt, t, open_line);
	s->strict = 0;
	return rc;
}

/* parse_value - "= value", "= { list }" or "+= ..." of one option */
static int
parse_value(lex_state *s, const cfg_opt_t *opt, const lex_tok *name, lex_tok *t)
{
	s->strict = 1;
	next_token(s, t);
	if (t->type != T_EQ && !(t->type == T_PLUSEQ && (opt->flags & CFGF_LIST))) {
		lex_error(s, name->line, "%s: '=' expected after the option name, found %s",
		          opt->name, tok_name(t));
		s->strict = 0;
		push_back(s, t);
		return -1;
	}
	next_token(s, t);
	s->strict = 0;
	if (t->type == T_LBRACE && (opt->flags & CFGF_LIST))
		return read_list(s, opt, t, t->line);
	if (t->type == T_LBRACE) {
		lex_error(s, t->line, "%s takes one value, not a list", opt->name);
		return skip_block(s, t), -1;
	}
	if (t->type == T_COMMENT) {
		lex_error(s, name->line,
		          "%s: a # comment where the value should be (libconfuse "
		          "reads it as the value): write the value first",
		          opt->name);
		push_back(s, t);
		return -1;
	}
	if (t->type != T_WORD && t->type != T_STR) {
		lex_error(s, name->line, "%s: no value given", opt->name);
		push_back(s, t);
		return -1;
	}
	return check_value(s, opt, t);
}

/* outer_section - is this word a section of an enclosing table? */
static int
outer_section(cfg_opt_t **tables, int depth, const char *name)
{
	for (int d = depth - 1; d >= 0; d--) {
		cfg_opt_t *o = find_opt(tables[d], name);

		if (o && o->type == CFGT_SEC)
			return 1;
	}
	return 0;
}

static void parse_block(lex_state *s, cfg_opt_t **tables, int depth, int si);

/* parse_section - NAME [TITLE] { ... } once NAME is read */
static void
parse_section(lex_state *s, cfg_opt_t **tables, int depth, int si, cfg_opt_t *opt, lex_tok *name)
{
	lex_tok t, title = {0};
	char where[300];
	int child;

	next_token(s, &t);
	if (opt->flags & CFGF_TITLE) {
		if (t.type != T_WORD && t.type != T_STR) {
			lex_error(s, name->line, "section %s needs a name (%s \"name\" { ... })",
			          opt->name, opt->name);
			if (t.type == T_LBRACE && skip_block(s, &t) < 0)
				lex_error(s, name->line, "section %s: its '{' is never closed",
				          opt->name);
			else if (t.type != T_LBRACE)
				push_back(s, &t);
			tok_free(&t);
			lex_edit_add(s, name->start, s->last_end, 0);
			return;
		} else {
			title = t;
			next_token(s, &t);
		}
	}
	if (t.type != T_LBRACE) {
		lex_error(s, name->line, "section %s: '{' expected, found %s", opt->name,
		          tok_name(&t));
		push_back(s, &t);
		lex_edit_add(s, name->start, s->last_end, 0);
		tok_free(&title);
		return;
	}
	for (size_t i = 1; i < s->lx->nsecs; i++) {
		const sl_conf_lex_sec *o = &s->lx->secs[i];

		if (o->parent == si && strcmp(o->name, opt->name) == 0 &&
		    !(opt->flags & CFGF_MULTI))
			lex_error(s, name->line, "section %s given twice %s (first at line %d)",
			          opt->name, sec_label(s, si, where, sizeof(where)), o->open_line);
		else if (o->parent == si && strcmp(o->name, opt->name) == 0 && title.text &&
		         o->title && strcmp(o->title, title.text) == 0)
			lex_error(s, name->line, "%s \"%s\" given twice (first at line %d)",
			          opt->name, title.text, o->open_line);
	}
	child = sec_add(s, opt->name, title.text, name->line, si);
	tok_free(&title);
	tables[depth + 1] = opt->subopts;
	parse_block(s, tables, depth + 1, child);
}

/* parse_unknown - report an unknown option and blank its whole statement */
static void
parse_unknown(lex_state *s, int si, lex_tok *name)
{
	lex_tok t;
	char where[300];

	lex_error(s, name->line, "unknown option \"%s\" %s", name->text,
	          sec_label(s, si, where, sizeof(where)));
	next_token(s, &t);
	if (t.type == T_EQ || t.type == T_PLUSEQ) {
		tok_free(&t);
		s->strict = 1;
		next_token(s, &t);
		s->strict = 0;
		if (t.type == T_LBRACE)
			skip_block(s, &t);
		else if (t.type != T_WORD && t.type != T_STR)
			push_back(s, &t);
	} else if (t.type == T_WORD || t.type == T_STR) {
		tok_free(&t);
		next_token(s, &t);
		if (t.type != T_LBRACE)
			push_back(s, &t);
		else if (skip_block(s, &t) < 0)
			lex_error(s, name->line, "\"%s\": its '{' is never closed", name->text);
	} else if (t.type == T_LBRACE) {
		if (skip_block(s, &t) < 0)
			lex_error(s, name->line, "\"%s\": its '{' is never closed", name->text);
	} else {
		push_back(s, &t);
	}
	tok_free(&t);
	lex_edit_add(s, name->start, s->last_end > name->end ? s->last_end : name->end, 0);
}

/* parse_statement - one option or section of the table at depth */
static int
parse_statement(lex_state *s, cfg_opt_t **tables, int depth, int si, lex_tok *t)
{
	cfg_opt_t *opt = find_opt(tables[depth], t->text);
	char where[300];
	lex_tok v;

	if (opt == NULL && depth > 0 && outer_section(tables, depth, t->text)) {
		/* a '}' was forgotten: close here, let the outer table read it */
		lex_error(s, s->lx->secs[si].open_line,
		          "%s is not closed: '}' missing before "
		          "line %d (%s)",
		          sec_label(s, si, where, sizeof(where)) + 3, t->line, t->text);
		lex_edit_add(s, t->start, t->start, 1);
		s->lx->secs[si].close_line = t->line;
		push_back(s, t);
		return 1;
	}
	if (opt == NULL) {
		parse_unknown(s, si, t);
	} else if (opt->type == CFGT_SEC) {
		sec_opt(s, si, opt->name, t->line);
		parse_section(s, tables, depth, si, opt, t);
	} else {
		sec_opt(s, si, opt->name, t->line);
		memset(&v, 0, sizeof(v));
		if (parse_value(s, opt, t, &v) < 0)
			lex_edit_add(s, t->start, s->last_end > t->end ? s->last_end : t->end, 0);
		tok_free(&v);
	}
	tok_free(t);
	return 0;
}

/* parse_block - the statements of one section up to its '}' (or EOF) */
static void
parse_block(lex_state *s, cfg_opt_t **tables, int depth, int si)
{
	char where[300];
	lex_tok t;

	for (;;) {
		next_token(s, &t);
		if (t.type == T_EOF && depth > 0) {
			lex_error(s, s->lx->secs[si].open_line,
			          "%s is not closed: '}' missing "
			          "at the end of the file",
			          sec_label(s, si, where, sizeof(where)) + 3);
			lex_edit_add(s, s->len, s->len, 1);
			s->lx->secs[si].close_line = s->line;
			return;
		}
		if (t.type == T_EOF)
			return;
		if (t.type == T_RBRACE && depth > 0) {
			s->lx->secs[si].close_line = t.line;
			return;
		}
		if (t.type == T_WORD || t.type == T_STR) {
			if (parse_statement(s, tables, depth, si, &t))
				return;
			continue;
		}
		if (t.type == T_RBRACE)
			lex_error(s, t.line, "'}' without a section to close");
		else if (t.type != T_COMMENT && (t.type != T_BAD || s->src[t.start] == '+'))
			lex_error(s, t.line, "unexpected %s %s", tok_name(&t),
			          sec_label(s, si, where, sizeof(where)));
		lex_edit_add(s, t.start, t.end, 0);
		tok_free(&t);
	}
}

/* edit_cmp - edits in text order */
static int
edit_cmp(const void *a, const void *b)
{
	const lex_edit *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

/* build_text - the text with bad statements blanked and '}' inserted */
static void
build_text(lex_state *s)
{
	sl_conf_lex *lx = s->lx;
	size_t o = 0;
	char *blank = sl_calloc(s->len + 1, 1);

	if (s->nedits)
		qsort(s->edits, s->nedits, sizeof(*s->edits), edit_cmp);
	for (size_t k = 0; k < s->nedits; k++)
		if (!s->edits[k].insert)
			memset(blank + s->edits[k].at, 1, s->edits[k].end - s->edits[k].at);
	lx->buf = sl_malloc(s->len + s->nedits * 2 + 1);
	for (size_t i = 0, e = 0; i <= s->len; i++) {
		for (; e < s->nedits && s->edits[e].at == i; e++)
			if (s->edits[e].insert)
				lx->buf[o++] = '}', lx->buf[o++] = ' ';
		if (i == s->len)
			break;
		lx->buf[o++] = blank[i] && s->src[i] != '\n' ? ' ' : s->src[i];
	}
	free(blank);
	lx->buf[o] = '\0';
	lx->len = o;
}

/* sl_conf_lex_run - the syntax pass over one file's text */
sl_conf_lex *
sl_conf_lex_run(const char *path, const char *text, size_t len, cfg_opt_t *schema, int quiet)
{
	cfg_opt_t *tables[32] = {schema};
	lex_state s = {.path = path, .src = text, .len = len, .line = 1, .quiet = quiet};

	s.lx = sl_calloc(1, sizeof(*s.lx));
	sec_add(&s, "root", NULL, 0, -1);
	parse_block(&s, tables, 0, 0);
	s.lx->secs[0].close_line = s.line;
	build_text(&s);
	free(s.edits);
	return s.lx;
}

/* bind_tree - pair each parsed section with the one written, recursively */
static void
bind_tree(sl_conf_lex *lx, cfg_t *cfg, int rec)
{
	lx->bound = sl_grow(lx->bound, lx->nbound + 1, &lx->boundcap, sizeof(*lx->bound));
	lx->bound[lx->nbound].cfg = cfg;
	lx->bound[lx->nbound++].rec = rec;
	for (cfg_opt_t *o = cfg->opts; o && o->name; o++) {
		if (o->type != CFGT_SEC)
			continue;
		for (unsigned i = 0; i < cfg_size(cfg, o->name); i++) {
			cfg_t *sec = cfg_getnsec(cfg, o->name, i);
			const char *title = cfg_title(sec);

			/* titles are unique; an untitled section is its first writing */
			for (size_t k = 1; k < lx->nsecs; k++) {
				const sl_conf_lex_sec *w = &lx->secs[k];

				if (w->parent == rec && strcmp(w->name, o->name) == 0 &&
				    (!title || (w->title && strcmp(w->title, title) == 0))) {
					bind_tree(lx, sec, (int)k);
					break;
				}
			}
		}
	}
}

/* sl_conf_lex_bind - learn which parsed cfg_t is which written section */
void
sl_conf_lex_bind(sl_conf_lex *lx, cfg_t *root)
{
	lx->nbound = 0;
	bind_tree(lx, root, 0);
}

/* lex_find - the section as written behind a parsed cfg_t, or NULL */
static const sl_conf_lex_sec *
lex_find(const sl_conf_lex *lx, const cfg_t *sec)
{
	for (size_t i = 0; lx && sec && i < lx->nbound; i++)
		if (lx->bound[i].cfg == sec)
			return &lx->secs[lx->bound[i].rec];
	return NULL;
}

/* sl_conf_lex_line - the line of an error: the option it names, or its section */
int
sl_conf_lex_line(const sl_conf_lex *lx, const cfg_t *sec, const char *msg)
{
	const sl_conf_lex_sec *w = lex_find(lx, sec);
	const char *p = msg;

	if (w == NULL)
		return 0; /* libconfuse's own line is not worth showing */
	while (*p) {
		size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");

		for (size_t k = 0; n && k < w->nopts; k++)
			if (strlen(w->opts[k].name) == n && strncmp(w->opts[k].name, p, n) == 0)
				return w->opts[k].line;
		p += n ? n : 1;
	}
	return w->open_line;
}

/* sl_conf_lex_opt_line - the line that sets one option of a section, or 0 */
int
sl_conf_lex_opt_line(const sl_conf_lex *lx, const cfg_t *sec, const char *opt)
{
	const sl_conf_lex_sec *w = lex_find(lx, sec);

	for (size_t k = 0; w && k < w->nopts; k++)
		if (strcmp(w->opts[k].name, opt) == 0)
			return w->opts[k].line;
	return w ? w->open_line : 0;
}

/* sl_conf_lex_present - is a top-level section written in the file? */
int
sl_conf_lex_present(const sl_conf_lex *lx, const char *name)
{
	for (size_t i = 1; lx && i < lx->nsecs; i++)
		if (lx->secs[i].parent == 0 && strcmp(lx->secs[i].name, name) == 0)
			return 1;
	return 0;
}

/* sl_conf_lex_free - release the pass's results */
void
sl_conf_lex_free(sl_conf_lex *lx)
{
	if (lx == NULL)
		return;
	for (size_t i = 0; i < lx->nsecs; i++) {
		for (size_t k = 0; k < lx->secs[i].nopts; k++)
			free(lx->secs[i].opts[k].name);
		free(lx->secs[i].opts);
		free(lx->secs[i].name);
		free(lx->secs[i].title);
	}
	free(lx->secs);
	free(lx->bound);
	free(lx->buf);
	free(lx);
}

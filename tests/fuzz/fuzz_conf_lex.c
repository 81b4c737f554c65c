/*
 * NAME
 *	fuzz_conf_lex - libFuzzer target for the syntax pass over sluice.conf
 * DESCRIPTION
 *	Runs sl_conf_lex_run() (quiet) on the input and checks its promises:
 *	the repaired text keeps every line where it was (same number of
 *	newlines), only grows by the '}' it inserts, and every section it
 *	recorded has a sane parent and lines within the file. Then libconfuse
 *	parses the repaired text, which must not crash it.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <confuse.h>

#include "conf_lex.h"
#include "conf_schema.h"

/* newlines - how many lines a text has */
static size_t
newlines(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

/* quiet_errors - libconfuse's messages go nowhere */
static void
quiet_errors(cfg_t *cfg, const char *fmt, va_list ap)
{
	(void)cfg, (void)fmt, (void)ap;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - one input through the pass and libconfuse */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	size_t lines;
	sl_conf_lex *lx;
	cfg_t *cfg;

	if (text == NULL || memchr(data, '\0', size) != NULL) {
		free(text);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	lx = sl_conf_lex_run("fuzz.conf", text, size, sl_conf_schema(), 1);
	lines = newlines(text, size);
	if (newlines(lx->buf, lx->len) != lines || lx->len < size || strlen(lx->buf) != lx->len)
		abort();
	for (size_t i = 1; i < lx->nsecs; i++)
		if (lx->secs[i].parent < 0 || (size_t)lx->secs[i].parent >= i ||
		    lx->secs[i].open_line < 1 || (size_t)lx->secs[i].open_line > lines + 1)
			abort();
	cfg = cfg_init(sl_conf_schema(), CFGF_NONE);
	cfg_set_error_function(cfg, quiet_errors);
	if (cfg_parse_buf(cfg, lx->buf) == CFG_SUCCESS)
		sl_conf_lex_bind(lx, cfg);
	cfg_free(cfg);
	sl_conf_lex_free(lx);
	free(text);
	return 0;
}

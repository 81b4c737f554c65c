/*
 * NAME
 *	fuzz_feedback - libFuzzer target for every parser of sluice-feedback
 * SYNOPSIS
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -I lib -I feedback -I BUILD \
 *	    tests/fuzz/fuzz_feedback.c feedback/feedback_{mime,dsn,vendor,vendor_ses,vendor_rhost,reason,arf,dmarc,json,classify}.c \
 *	    lib/log.c lib/utf8.c $(pkg-config --cflags --libs gmime-3.0 libxml-2.0 zlib libzip) -o fuzz_feedback
 *	./fuzz_feedback tests/fuzz/fuzz_feedback_seeds/
 * DESCRIPTION
 *	One input is one message or report file: it goes through
 *	fb_classify() (MIME, DSN, free-text bounces, reason, ARF, auto-reply,
 *	DMARC XML/gzip/zip) and the JSON writer, exactly as --classify does.
 *	The seeds in fuzz_feedback_seeds/ also run as an ordinary unit test
 *	(unit/test_feedback_seeds: seeds_main.c with fuzz_feedback_check.c).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "feedback.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - classify one input and render it */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fb_result *res = fb_classify((const char *) data, size, "fuzz");
	char   *json = fb_json_result(res, "fuzz");

	free(json);
	fb_result_free(res);
	return 0;
}

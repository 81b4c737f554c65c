#define _GNU_SOURCE 1
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "feedback.h"

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf; size_t cap = 65536, n = 0, got;
	if (!fp) return NULL;
	buf = sl_malloc(cap + 1);
	while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap) { if (cap > FB_MAX_INPUT) break; cap *= 2; buf = sl_realloc(buf, cap + 1); }
	}
	fclose(fp); buf[n] = 0; *len = n; return buf;
}

int
main(int argc, char **argv)
{
	int i;
	for (i = 2; i < argc; i++) {
		size_t len; char *buf = slurp(argv[i], &len);
		fb_result *res = fb_classify(buf ? buf : "", buf ? len : 0, argv[i]);
		char *j = fb_json_result(res, argv[i]);
		fputs(j, stdout); free(j); fb_result_free(res); free(buf);
	}
	return 0;
}

/*
 * NAME
 *	fuzz_policyd_proto - libFuzzer target for the policy protocol parser
 * SYNOPSIS
 *	clang -fsanitize=fuzzer,address -Ilib -Ipolicyd -I<builddir> \
 *	    tests/fuzz/fuzz_policyd_proto.c policyd/libpolicyd.a lib/libsluice.a ...
 *	./a.out tests/fuzz/fuzz_policyd_seeds
 * DESCRIPTION
 *	Feeds the input to pd_proto_parse() the way a connection does: take
 *	requests off the front while they parse, stop at the first error or
 *	incomplete request, and check the parser's promises (used within
 *	the buffer, attributes within the caps, names well formed). The same
 *	input is also fed in two pieces, as if it arrived in two reads.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policyd.h"

static pd_request req;

/* consume - parse requests off a buffer like policyd_conn.c; returns bytes used */
static size_t
consume(const char *data, size_t len)
{
	size_t	off = 0, used;
	const char *err;

	while (off < len) {
		size_t	n = len - off < PD_REQUEST_MAX + 1 ? len - off : PD_REQUEST_MAX + 1;
		int	rc = pd_proto_parse(data + off, n, &req, &used, &err);

		if (rc != PD_PARSE_OK)
			break;
		if (used == 0 || used > n || req.nattr < 1 || req.nattr > PD_ATTR_MAX)
			abort();
		for (int i = 0; i < req.nattr; i++)
			if (strlen(req.attr[i].name) == 0 || strchr(req.attr[i].value, '\n'))
				abort();
		off += used;
	}
	return off;
}

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - one input, whole and split in two */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;

	consume(s, size);
	if (size > 1)
		consume(s, size / 2);
	return 0;
}

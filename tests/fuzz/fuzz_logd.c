/*
 * NAME
 *	fuzz_logd - libFuzzer target for sluice-logd's log line parser and correlation
 * SYNOPSIS
 *	clang -fsanitize=fuzzer,address,undefined -Ilib -Ilogd -I<builddir> \
 *	    tests/fuzz/fuzz_logd.c logd/logd_{parse,correlate,event,provider,block}.c lib/log.c
 *	./a.out tests/fuzz/fuzz_logd_seeds
 * DESCRIPTION
 *	Splits the input into lines and feeds each to ld_feed() as the
 *	follower does, with a small queue-id table (so eviction runs), and
 *	checks what every event promises: a known result, bounded strings,
 *	a class only on a refusal. Each line also goes through the block
 *	detector with a threshold of 2.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logd.h"

static ld_blocks *blocks;

/* check - an event's promises; abort() when one is broken */
static void
check(const ld_event *ev, void *arg)
{
	ld_block_info info;

	(void) arg;
	if (strcmp(ev->result, "delivered") && strcmp(ev->result, "deferred")
	    && strcmp(ev->result, "bounced") && strcmp(ev->result, "expired"))
		abort();
	if (strlen(ev->rcpt) >= LD_ADDR_MAX || strlen(ev->reply) >= LD_REPLY_MAX
	    || strlen(ev->qid) >= LD_QID_MAX || ev->provider == NULL || ev->class_ == NULL)
		abort();
	if (strcmp(ev->result, "delivered") == 0 && ev->class_[0])
		abort();
	ld_blocks_event(blocks, ev, 1000, &info);
}

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - every line of the input, through a fresh feeder */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sl_providers *prov;
	ld_block_conf bc = {.threshold = 2, .window = 60, .quiet = 0, .ttl = 10};
	ld_feeder f = {.table = ld_table_new(4, 60), .cb = check};
	const char *p = (const char *) data, *end = p + size;
	ld_block_info info;

	if (prov == NULL)
		prov = sl_providers_new();
	f.providers = prov;
	blocks = ld_blocks_new(&bc);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		size_t	n = nl ? (size_t) (nl - p) : (size_t) (end - p);

		ld_feed(&f, p, n, 1000);
		p += n + 1;
	}
	while (ld_blocks_tick(blocks, 2000, &info) != LD_BLOCK_SAME)
		;
	ld_table_free(f.table);
	ld_blocks_free(blocks);
	return 0;
}

/*
 * NAME
 *	test_ctl_csv_fuzz - fuzz target of sluicectl's suppression-list reader
 * SYNOPSIS
 *	test_ctl_csv_fuzz [iterations]		(ordinary test: seeds + mutations)
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -DSL_LIBFUZZER \
 *	    -Ilib -Ictl -I$BUILDDIR tests/unit/test_ctl_csv_fuzz.c ctl/ctl_csv.c \
 *	    ctl/ctl_util.c lib/addr.c lib/log.c -lpsl -o fuzz_ctl_csv
 * DESCRIPTION
 *	LLVMFuzzerTestOneInput() reads the input as a whole file with
 *	ctl_csv_read() and checks what must hold for any input: every line
 *	is accounted for exactly once (record, bad, skipped, or the header),
 *	every record has a checked address with an "@" and a line number in
 *	range, and a mapped reason is one of ours.
 *
 *	Built as an ordinary test (no SL_LIBFUZZER), main() runs the seeds
 *	below, then a fixed number of deterministic mutations of them
 *	(byte flips, insertions of quotes, delimiters, CR, NUL and "@",
 *	truncations, splices), so that `make check` under ASan and UBSan
 *	exercises the reader with hostile input on every run.
 */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

typedef struct fz {
	long	records, lines_max;
	int	failed;
} fz;

/* fail - report a broken property; the test fails at the end */
static void
fail(fz *f, const char *what)
{
	fprintf(stderr, "test_ctl_csv_fuzz: %s\n", what);
	f->failed = 1;
}

/* on_rec - properties of one record */
static int
on_rec(const ctl_csv_rec *rec, void *arg)
{
	static const char *const ours[] = {
		"hard-bounce", "soft-bounce-threshold", "complaint", "unsubscribe",
		"manual", "import", NULL
	};
	fz     *f = arg;
	int	ok = rec->reason == NULL;

	f->records++;
	if (rec->addr[0] == '\0' || strchr(rec->addr, '@') == NULL)
		fail(f, "record without an address");
	if (rec->line < 1 || rec->line > f->lines_max)
		fail(f, "record line number out of range");
	for (const char *const *p = ours; *p && !ok; p++)
		ok = strcmp(*p, rec->reason) == 0;
	if (!ok)
		fail(f, "reason is not one of ours");
	return 0;
}

/* on_bad - a bad line must have a reason */
static void
on_bad(long line, const char *why, void *arg)
{
	fz     *f = arg;

	if (why == NULL || *why == '\0' || line < 1 || line > f->lines_max)
		fail(f, "bad line without a reason or a line number");
}

/* check_input - read one input; 0 when every property held */
static int
check_input(const uint8_t *data, size_t size)
{
	ctl_csv_layout lay = {.addr_flags = (int) (size & 3)};
	ctl_csv_stats st;
	fz	f = {.lines_max = 1};
	FILE   *fp;

	if (size == 0)
		return 0;
	for (size_t i = 0; i < size; i++)
		f.lines_max += data[i] == '\n';
	if ((fp = fmemopen((void *) data, size, "r")) == NULL)
		return 0;
	if (ctl_csv_read(fp, &lay, on_rec, on_bad, &f, &st) < 0)
		fail(&f, "read error on a memory stream");
	fclose(fp);
	if (st.lines != st.records + st.bad + st.skipped + (lay.header ? 1 : 0))
		fail(&f, "a line was not accounted for exactly once");
	if (f.records != st.records)
		fail(&f, "record count differs from the callbacks");
	return f.failed ? -1 : 0;
}

/* LLVMFuzzerTestOneInput - libFuzzer's entry point */
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (check_input(data, size) < 0)
		abort();
	return 0;
}

#ifndef SL_LIBFUZZER

static const char *const seeds[] = {
	"alice@example.com\nbob@example.com\n",
	"EmailAddress,Reason,LastUpdateTime\r\nx@example.com,BOUNCE,2023-05-04T21:52:05.520000+00:00\r\n",
	"EmailAddress,SuppressionReason,Origin,CreatedAt\np@example.com,HardBounce,Recipient,2024-01-02T03:04:05-05:00\n",
	"email,created,reason,status\ns@example.com,1700000000,\"550 5.1.1 no, such \"\"user\"\"\",5.1.1\n",
	"address,scope,reason,added,expires,source,detail\na@example.com,global,manual,2026-11-25T09:00:00Z,,sluicectl,\"x,y\"\n",
	"\xef\xbb\xbfName;E-Mail\nAlice;alice@example.com\n\n# comment\n\"broken;\n",
	"id\tname\twhen\n1\tx@example.com\t2023-01-02\n",
	",,,\n\"\"\n\"a@b.com\"x\nmailto:m@example.com\n<a@example.org>\n",
};

/* next_rand - xorshift64: the same mutations on every run */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* mutate - one random edit of buf (len bytes, room for cap) */
static size_t
mutate(uint8_t *buf, size_t len, size_t cap, uint64_t *s)
{
	static const uint8_t special[] = {'"', ',', ';', '\t', '\r', '\n', '\0', '@', '.', ' ', '#', 0xef};
	size_t	pos = len ? next_rand(s) % len : 0;

	switch (next_rand(s) % 4) {
	case 0:
		if (len)
			buf[pos] = (uint8_t) next_rand(s);
		return len;
	case 1:
		if (len + 1 >= cap)
			return len;
		memmove(buf + pos + 1, buf + pos, len - pos);
		buf[pos] = special[next_rand(s) % sizeof(special)];
		return len + 1;
	case 2:
		return pos;			/* truncate */
	default:
		if (len == 0 || len * 2 >= cap)
			return len;
		memcpy(buf + len, buf, len);	/* splice: the input twice */
		return len * 2;
	}
}

/* main - seeds, then mutations; exit 1 when a property broke */
int
main(int argc, char **argv)
{
	long	iterations = argc > 1 ? atol(argv[1]) : 100000;
	size_t	nseeds = sizeof(seeds) / sizeof(seeds[0]), cap = 16384, len;
	uint8_t *buf = malloc(cap);
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	int	failed = 0;

	for (size_t i = 0; i < nseeds; i++)
		failed |= check_input((const uint8_t *) seeds[i], strlen(seeds[i])) < 0;
	for (long it = 0; it < iterations && !failed; it++) {
		len = strlen(seeds[it % (long) nseeds]);
		memcpy(buf, seeds[it % (long) nseeds], len);
		for (int k = 1 + (int) (next_rand(&s) % 8); k > 0; k--)
			len = mutate(buf, len, cap, &s);
		if (check_input(buf, len) < 0) {
			fprintf(stderr, "test_ctl_csv_fuzz: failed at iteration %ld\n", it);
			failed = 1;
		}
	}
	free(buf);
	printf("test_ctl_csv_fuzz: %zu seeds, %ld mutations: %s\n", nseeds, iterations,
	       failed ? "FAILED" : "ok");
	return failed;
}

#endif

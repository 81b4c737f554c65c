/*
 * NAME
 *	fuzz_milter_headers - libFuzzer target: sluice-milter's header handling
 * DESCRIPTION
 *	The input is a header section as a client would send it ("Name:
 *	value" lines, folded with leading white space). Every From value goes
 *	through ml_header_address() and ml_rewrite_from(); the whole set goes
 *	through ml_headers_plan() for a category with List-Unsubscribe, From
 *	rewriting and Feedback-ID, as the milter does at end of header.
 *	Build with clang -fsanitize=fuzzer,address; seeds_main.c with fuzz_milter_check.c runs
 *	the seeds as an ordinary test.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "milter.h"

#define MAX_HEADERS 200

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* split - header fields of a buffer: name up to ':', folded values joined */
static size_t
split(char *buf, ml_header *h, size_t max)
{
	size_t	n = 0;
	char   *save = NULL;

	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char   *colon;

		if ((line[0] == ' ' || line[0] == '\t') && n > 0)
			continue;			/* folded: keep the first line only */
		if ((colon = strchr(line, ':')) == NULL || n == max)
			continue;
		*colon = '\0';
		h[n].name = line;
		h[n].value = colon + 1 + (colon[1] == ' ');
		n++;
	}
	return n;
}

/* check_rewrite - a rewritten From still holds one address, on the new domain */
static void
check_rewrite(const char *value, char *from, size_t fromlen, char *rt, size_t rtlen)
{
	ml_from g;

	if (ml_rewrite_from(value, "news.example.com", from, fromlen, rt, rtlen) < 0)
		return;
	if (ml_from_parse(from, &g) == ML_FROM_NONE
	    || (g.why == NULL && strcmp(sl_addr_domain(g.addr), "news.example.com") != 0))
		abort();
}

/* LLVMFuzzerTestOneInput - one header section */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ml_domain base = {.name = "example.com"};
	static struct sl_site_category cat = {.name = "marketing",
	                                      .subdomain = "news",
	                                      .rewrite_from = 1,
	                                      .list_unsubscribe = 1,
	                                      .lu_replace = 1,
	                                      .unsubscribe_url = "https://u.example.com/%t",
	                                      .feedback_type = "promo"};
	static ml_conf conf = {.category_header = "X-Sluice-Category", .sender_id = "",
			       .have_key = 1,
			       .ring = {.nkeys = 1, .key = {{.kid = 'a', .secret = "0123456789abcdef", .len = 16}}}};
	ml_decision d = {.verdict = ML_OK, .category = &cat, .base = &base,
			 .from_domain = "example.com", .send_domain = "news.example.com"};
	ml_header h[MAX_HEADERS];
	char   *buf = malloc(size + 1), from[4096], rt[4096];
	ml_from f;
	ml_hdr_input in = {.headers = h, .nrcpt = 1, .rcpt = "r@remote.test", .msgid = "abcdefgh",
			   .day = 20417, .full = 1};
	ml_plan plan;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	in.nheaders = split(buf, h, MAX_HEADERS);
	for (size_t i = 0; i < in.nheaders; i++)
		if (strcasecmp(h[i].name, "From") == 0 && ml_from_parse(h[i].value, &f) == ML_FROM_OK
		    && f.why == NULL && sl_addr_domain(f.addr)[0] != '\0')
			check_rewrite(h[i].value, from, sizeof(from), rt, sizeof(rt));
	if (ml_headers_plan(&conf, &d, &in, &plan) == 0 || plan.final)
		ml_plan_free(&plan);
	free(buf);
	return 0;
}

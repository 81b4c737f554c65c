/*
 * NAME
 *	milter_spf 3 - SPF (RFC 7208) for MAIL FROM and HELO, with libspf2
 * SYNOPSIS
 *	ml_spf_init(err, errlen);		once, before threads
 *	ml_spf_check(dns, ip, helo, mail_from, &mfrom, &helo_result);
 * DESCRIPTION
 *	The only file that includes libspf2. Its resolver layer cannot be
 *	pointed at another server and shares state, so each check gets its
 *	own SPF_dns_server_t whose lookup calls lib/dns.c (cached, with
 *	timeouts, or the zone file). That layer also counts void lookups
 *	(answers with no records, or names that do not exist): more than two
 *	make the result permerror (RFC 7208 section 4.6.4), which libspf2
 *	1.2.10 does not do itself. The 10-lookup limit is libspf2's.
 *	The null sender is checked as postmaster@HELO (section 2.4).
 *	libspf2 passes a loopback client (127.0.0.0/8, ::1) without looking
 *	("localhost is always allowed"); such clients are internal anyway.
 * ERRORS
 *	On a DNS failure libspf2 may return SPF_RESULT_INVALID with no
 *	Received-SPF value: that is temperror here, as is any result reached
 *	after a temporary DNS error that is not a pass.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "log.h"
#include "milter_verify.h"

#define VOID_LOOKUPS_MAX 2

typedef struct spf_layer {
	SPF_dns_server_t srv; /* first: libspf2 hands this back */
	sl_dns *dns;
	int voids;
	int temp;
} spf_layer;

/* ml_auth_name - the RFC 8601 word for a result */
const char *
ml_auth_name(enum ml_auth r)
{
	static const char *names[] = {"none",    "pass",      "fail",      "softfail",
	                              "neutral", "temperror", "permerror", "policy"};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}

/* spf_log - libspf2's warnings and notes, at debug level */
static void
spf_log(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	sl_debug("spf: %s", msg);
}

/* ml_spf_init - route libspf2's messages to our log */
int
ml_spf_init(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	SPF_warning_handler = spf_log;
	SPF_info_handler = spf_log;
	SPF_debug_handler = spf_log;
	return 0;
}

/* fill_rr - copy our answer into libspf2's record set */
static void
fill_rr(SPF_dns_rr_t *rr, ns_type type, const sl_dns_ans *a)
{
	int n = 0;

	for (int i = 0; i < a->n; i++) {
		const char *s = a->rr[i];

		if (type == ns_t_a || type == ns_t_aaaa) {
			size_t len =
			    type == ns_t_a ? sizeof(struct in_addr) : sizeof(struct in6_addr);

			if (SPF_dns_rr_buf_realloc(rr, n, len) != SPF_E_SUCCESS ||
			    inet_pton(type == ns_t_a ? AF_INET : AF_INET6, s, rr->rr[n]) != 1)
				continue;
		} else {
			if (type == ns_t_mx) /* "pref host": libspf2 wants the host */
				s = strchr(s, ' ') ? strchr(s, ' ') + 1 : s;
			if (SPF_dns_rr_buf_realloc(rr, n, strlen(s) + 1) != SPF_E_SUCCESS)
				continue;
			strcpy(rr->rr[n]->txt, s);
		}
		n++;
	}
	rr->num_rr = n;
}

/* layer_lookup - libspf2's DNS lookup, answered by lib/dns.c */
static SPF_dns_rr_t *
layer_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type, int should_cache)
{
	spf_layer *l = (spf_layer *)srv;
	sl_dns_ans a = {0};
	SPF_dns_stat_t herr;
	SPF_dns_rr_t *rr;

	(void)should_cache;
	if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx && type != ns_t_ptr &&
	    type != ns_t_txt)
		return SPF_dns_rr_new_init(srv, domain, type, 0, NO_DATA);
	switch (sl_dns_query(l->dns, domain, (enum sl_dns_type)type, &a)) {
	case SL_DNS_FOUND:
		herr = NETDB_SUCCESS;
		break;
	case SL_DNS_NODATA:
		herr = NO_DATA;
		l->voids++;
		break;
	case SL_DNS_NXDOMAIN:
		herr = HOST_NOT_FOUND;
		l->voids++;
		break;
	default:
		herr = TRY_AGAIN;
		l->temp = 1;
	}
	rr = SPF_dns_rr_new_init(srv, domain, type, 0, herr);
	if (rr && herr == NETDB_SUCCESS)
		fill_rr(rr, type, &a);
	sl_dns_ans_free(&a);
	return rr;
}

/* map_result - libspf2's result as ours, with what the layer saw */
static enum ml_auth
map_result(SPF_response_t *resp, const spf_layer *l, char *why, size_t whylen)
{
	SPF_result_t r = resp ? SPF_response_result(resp) : SPF_RESULT_INVALID;

	if (l->voids > VOID_LOOKUPS_MAX && r != SPF_RESULT_NONE) {
		snprintf(why, whylen, "too many void lookups");
		return ML_AUTH_PERMERROR;
	}
	if (l->temp && r != SPF_RESULT_PASS) {
		snprintf(why, whylen, "DNS lookup failed");
		return ML_AUTH_TEMPERROR;
	}
	if (resp && SPF_response_errcode(resp) == SPF_E_BIG_DNS)
		snprintf(why, whylen, "too many DNS lookups");
	switch (r) {
	case SPF_RESULT_PASS:
		return ML_AUTH_PASS;
	case SPF_RESULT_FAIL:
		return ML_AUTH_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return ML_AUTH_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return ML_AUTH_NEUTRAL;
	case SPF_RESULT_NONE:
		return ML_AUTH_NONE;
	case SPF_RESULT_TEMPERROR:
		return ML_AUTH_TEMPERROR;
	case SPF_RESULT_PERMERROR:
		return ML_AUTH_PERMERROR;
	default:
		snprintf(why, whylen, "DNS lookup failed");
		return ML_AUTH_TEMPERROR;
	}
}

/* check_one - one identity: mail_from "" checks the HELO name */
static void
check_one(sl_dns *d, const char *ip, const char *helo, const char *mail_from, ml_spf_result *out)
{
	spf_layer l = {.dns = d};
	SPF_server_t *srv;
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	const char *at;

	l.srv.lookup = layer_lookup;
	l.srv.name = "sluice";
	memset(out, 0, sizeof(*out));
	at = strrchr(mail_from, '@');
	snprintf(out->domain, sizeof(out->domain), "%s", at ? at + 1 : helo);
	if ((srv = SPF_server_new_dns(&l.srv, 0)) == NULL || (req = SPF_request_new(srv)) == NULL) {
		SPF_server_free(srv);
		out->result = ML_AUTH_TEMPERROR;
		snprintf(out->why, sizeof(out->why), "out of memory");
		return;
	}
	if ((strchr(ip, ':') ? SPF_request_set_ipv6_str(req, ip)
	                     : SPF_request_set_ipv4_str(req, ip)) != SPF_E_SUCCESS ||
	    (helo[0] && SPF_request_set_helo_dom(req, helo) != SPF_E_SUCCESS) ||
	    (*mail_from && SPF_request_set_env_from(req, mail_from) != 0) ||
	    (!*mail_from && !*helo)) {
		out->result = ML_AUTH_NONE;
		snprintf(out->why, sizeof(out->why), "nothing to check");
	} else {
		(void)SPF_request_query_mailfrom(req, &resp);
		out->result = map_result(resp, &l, out->why, sizeof(out->why));
	}
	SPF_response_free(resp);
	SPF_request_free(req);
	SPF_server_free(srv);
}

/* ml_spf_check - SPF of MAIL FROM (postmaster@HELO for <>) and of HELO */
void
ml_spf_check(sl_dns *d, const char *ip, const char *helo, const char *mail_from,
             ml_spf_result *mfrom, ml_spf_result *hres)
{
	char pm[SL_DNS_NAME_MAX + 16];

	helo = helo ? helo : "";
	if (mail_from == NULL || *mail_from == '\0') {
		snprintf(pm, sizeof(pm), "postmaster@%s", helo);
		mail_from = *helo ? pm : "";
	}
	check_one(d, ip, helo, mail_from, mfrom);
	if (hres)
		check_one(d, ip, helo, "", hres);
}

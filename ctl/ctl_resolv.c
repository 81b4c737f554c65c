/*
 * NAME
 *	ctl_resolv 3 - DNS lookups for sluicectl doctor (libresolv)
 * SYNOPSIS
 *	ctl_resolver *r = ctl_resolv_new(server, err, errlen);
 *	n = ctl_resolv(r, name, ns_t_txt, out, max, err, errlen);
 *	ctl_resolv_free(r);
 * DESCRIPTION
 *	A private res_state, so that --nameserver IP[:PORT] can point the
 *	lookups at one server (a test resolver on loopback, or the
 *	authoritative server to see what it publishes right now) without
 *	touching /etc/resolv.conf. ctl_resolv() returns the answers of one
 *	type as strings: a TXT record's character-strings joined, an MX
 *	record's host name (no trailing dot). This is the only file of
 *	sluicectl that includes the resolver headers.
 * OWNERSHIP
 *	Answer strings are malloc'ed; the caller frees each.
 * ERRORS
 *	ctl_resolv() returns the number of answers, 0 for NXDOMAIN or no
 *	data, -1 when the lookup failed (timeout, SERVFAIL), err saying why.
 */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct ctl_resolver {
	struct __res_state rs;
};

/* set_server - use only IP[:PORT] (IPv4) as the nameserver */
static int
set_server(ctl_resolver *r, const char *server, char *err, size_t errlen)
{
	char	ip[64];
	const char *colon = strchr(server, ':');
	long	port = colon ? strtol(colon + 1, NULL, 10) : 53;
	struct sockaddr_in sin = {.sin_family = AF_INET};

	snprintf(ip, sizeof(ip), "%.*s", (int) (colon ? (size_t) (colon - server) : strlen(server)), server);
	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1 || port <= 0 || port > 65535) {
		snprintf(err, errlen, "--nameserver \"%s\": use an IPv4 address, optionally :PORT", server);
		return -1;
	}
	sin.sin_port = htons((unsigned short) port);
	r->rs.nsaddr_list[0] = sin;
	r->rs.nscount = 1;
	return 0;
}

/* ctl_resolv_new - a resolver: the system's, or one server */
ctl_resolver *
ctl_resolv_new(const char *server, char *err, size_t errlen)
{
	ctl_resolver *r = calloc(1, sizeof(*r));

	if (r == NULL || res_ninit(&r->rs) != 0) {
		snprintf(err, errlen, "cannot initialize the resolver");
		free(r);
		return NULL;
	}
	r->rs.retrans = 2;
	r->rs.retry = 2;
	if (server && set_server(r, server, err, errlen) < 0) {
		ctl_resolv_free(r);
		return NULL;
	}
	return r;
}

/* ctl_resolv_free - release a resolver; NULL is a no-op */
void
ctl_resolv_free(ctl_resolver *r)
{
	if (r == NULL)
		return;
	res_nclose(&r->rs);
	free(r);
}

/* rr_text - one answer record as a string, or NULL */
static char *
rr_text(ns_msg *msg, ns_rr *rr)
{
	const unsigned char *p = ns_rr_rdata(*rr), *end = p + ns_rr_rdlen(*rr);
	char	host[NS_MAXDNAME], *out;
	size_t	o = 0;

	if (ns_rr_type(*rr) == ns_t_mx) {
		if (ns_rr_rdlen(*rr) < 3 || dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), p + 2,
						     host, sizeof(host)) < 0)
			return NULL;
		return strdup(host);
	}
	if ((out = malloc((size_t) (end - p) + 1)) == NULL)
		return NULL;
	while (p < end && p + 1 + *p <= end) {		/* <len><bytes> ... */
		memcpy(out + o, p + 1, *p);
		o += *p;
		p += 1 + *p;
	}
	out[o] = '\0';
	return out;
}

/* ctl_resolv - the answers of one type for name; 0 none, -1 failure */
int
ctl_resolv(ctl_resolver *r, const char *name, int type, char **out, int max,
	   char *err, size_t errlen)
{
	unsigned char answer[8192];
	ns_msg	msg;
	ns_rr	rr;
	int	len, n = 0;

	len = res_nquery(&r->rs, name, ns_c_in, type, answer, sizeof(answer));
	if (len < 0) {
		if (r->rs.res_h_errno == HOST_NOT_FOUND || r->rs.res_h_errno == NO_DATA)
			return 0;
		snprintf(err, errlen, "%s: lookup failed (%s)", name,
			 r->rs.res_h_errno == TRY_AGAIN ? "timeout or server failure" : "no answer");
		return -1;
	}
	if (ns_initparse(answer, len, &msg) < 0) {
		snprintf(err, errlen, "%s: malformed answer", name);
		return -1;
	}
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < max; i++)
		if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 && (int) ns_rr_type(rr) == type
		    && (out[n] = rr_text(&msg, &rr)) != NULL)
			n++;
	return n;
}

/*
 * NAME
 *	dns 3h - the one DNS layer: libresolv, a cache, or a zone file
 * SYNOPSIS
 *	sl_dns *d = sl_dns_new(zone_file_or_NULL, timeout, err, errlen);
 *	sl_dns_set_server(d, "IP[:PORT]", err, errlen);
 *	status = sl_dns_query(d, name, SL_DNS_TXT, &ans); sl_dns_ans_free(&ans);
 *	sl_dns_free(d);
 * DESCRIPTION
 *	Every DNS lookup of Sluice goes through here: sluice-milter's
 *	inbound verification and outbound pre-flight, "sluicectl verify",
 *	"sluicectl doctor" and "sluicectl dmarc send-reports".
 *	dns.c		real DNS (res_nquery, one res_state per thread),
 *			timeouts, the in-process cache, one nameserver
 *	dns_zone.c	the zone file that replaces DNS
 *	The zone file format, one record per line, is "name TYPE data"
 *	(dns_zone.c, doc/milter.md).
 */
#ifndef SL_DNS_H
#define SL_DNS_H

#include <stddef.h>

#define SL_DNS_NAME_MAX 254

enum sl_dns_type {
	SL_DNS_A = 1,
	SL_DNS_PTR = 12,
	SL_DNS_MX = 15,
	SL_DNS_TXT = 16,
	SL_DNS_AAAA = 28
};

enum sl_dns_status {
	SL_DNS_FOUND = 0, /* at least one answer of the type */
	SL_DNS_NODATA,    /* the name exists, no record of the type */
	SL_DNS_NXDOMAIN,  /* the name does not exist */
	SL_DNS_TEMP       /* timeout, SERVFAIL, malformed answer */
};

#define SL_DNS_ANS_MAX 32 /* answers kept per query */

typedef struct sl_dns_ans {
	enum sl_dns_status status;
	int n;
	char *rr[SL_DNS_ANS_MAX]; /* text: TXT strings joined, A/AAAA as
	                           * addresses, MX "pref host", PTR host */
} sl_dns_ans;

typedef struct sl_dns sl_dns;

/* ---- dns.c ---- */
sl_dns *sl_dns_new(const char *zone_file, int timeout, char *err, size_t errlen);
void sl_dns_free(sl_dns *d);
int sl_dns_set_server(sl_dns *d, const char *server, char *err, size_t errlen);
enum sl_dns_status sl_dns_query(sl_dns *d, const char *name, enum sl_dns_type type, sl_dns_ans *a);
void sl_dns_ans_free(sl_dns_ans *a);
int sl_dns_norm_name(const char *in, char *out, size_t outlen);

/* ---- dns_zone.c ---- */
typedef struct sl_dns_zone sl_dns_zone;

sl_dns_zone *sl_dns_zone_load(const char *path, char *err, size_t errlen);
void sl_dns_zone_free(sl_dns_zone *z);
enum sl_dns_status sl_dns_zone_query(const sl_dns_zone *z, const char *name, int type,
                                     sl_dns_ans *a);
int sl_dns_zone_line(const char *line, char *name, size_t namelen, enum sl_dns_type *type,
                     const char **data);

#endif

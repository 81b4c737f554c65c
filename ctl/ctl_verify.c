/*
 * NAME
 *	ctl_verify 3 - sluicectl verify: what sluice-milter decides for a message
 * SYNOPSIS
 *	sluicectl verify [--zone FILE | --nameserver IP[:PORT]] [--ip ADDR]
 *			 [--helo NAME] [--mail-from ADDR] [--authserv-id ID] < message
 * DESCRIPTION
 *	Reads one message (RFC 5322, LF or CRLF line ends) and runs it
 *	through the milter's own verification module (milter_verify.c):
 *	SPF for --mail-from and --helo from --ip, every DKIM signature,
 *	DMARC for the From domain. Prints the Authentication-Results field
 *	the milter would add, the fields it would remove (forged: they claim
 *	our authserv-id), and the disposition with its SMTP reply. Options
 *	not given come from the config's milter { inbound { } } section
 *	(authserv_id, dns_zone, dns_nameserver, dmarc_reject, quarantine,
 *	dns_error, monitor_domains). With --zone (or dns_zone) nothing is
 *	asked of DNS; --nameserver (or dns_nameserver) asks that one server
 *	instead of /etc/resolv.conf's.
 * ERRORS
 *	Exit 0 when the message was verified (whatever the disposition),
 *	64 on bad arguments, 65 for input that is not a message, 78 for a bad
 *	zone file or inbound section.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "log.h"
#include "milter_verify.h"

#define MSG_MAX (64 * 1024 * 1024)

static const struct option verify_longopts[] = {
    {"zone", required_argument, NULL, 'z'},        {"ip", required_argument, NULL, 'i'},
    {"helo", required_argument, NULL, 'h'},        {"mail-from", required_argument, NULL, 'f'},
    {"authserv-id", required_argument, NULL, 'a'}, {"nameserver", required_argument, NULL, 'n'},
    {NULL, 0, NULL, 0}};

/* read_crlf - all of stdin with every line ending as CRLF; NULL when too big */
static char *
read_crlf(FILE *fp, size_t *lenp)
{
	size_t cap = 65536, n = 0;
	char *buf = sl_malloc(cap);
	int c, prev = 0;

	while ((c = getc(fp)) != EOF) {
		if (n + 2 >= cap) {
			if (cap >= MSG_MAX) {
				free(buf);
				return NULL;
			}
			buf = sl_realloc(buf, cap *= 2);
		}
		if (c == '\n' && prev != '\r')
			buf[n++] = '\r';
		buf[n++] = (char)c;
		prev = c;
	}
	buf[n] = '\0';
	*lenp = n;
	return buf;
}

/* feed_header - the header section, field by field; returns the body start */
static const char *
feed_header(ml_verify *v, const char *p)
{
	while (*p && strncmp(p, "\r\n", 2) != 0) {
		const char *colon = strchr(p, ':'), *end = p;
		char *name, *value;

		while ((end = strstr(end, "\r\n")) && (end[2] == ' ' || end[2] == '\t'))
			end += 2;
		if (end == NULL)
			end = p + strlen(p);
		if (colon && colon < end) {
			name = strndup(p, (size_t)(colon - p));
			value = strndup(colon + 1, (size_t)(end - colon - 1));
			ml_verify_header(v, name, value);
			free(name);
			free(value);
		}
		p = *end ? end + 2 : end;
	}
	ml_verify_eoh(v);
	return strncmp(p, "\r\n", 2) == 0 ? p + 2 : p;
}

/* print_result - the A-R field, the removals, the disposition */
static void
print_result(const ml_vresult *r)
{
	printf("Authentication-Results: %s\n", r->authres);
	for (size_t i = 0; i < r->nforged; i++)
		printf("removed: Authentication-Results #%d (claims our authserv-id)\n",
		       r->forged[i]);
	printf("disposition: %s", ml_disposition_name(r->disp));
	if (r->disp == ML_DISP_QUARANTINE)
		printf(" (%s)",
		       r->quarantine == ML_QUAR_HOLD ? "hold" : "header " ML_QUARANTINE_HEADER);
	if (r->disp == ML_DISP_REJECT || r->disp == ML_DISP_TEMPFAIL)
		printf(" %s %s", r->disp == ML_DISP_REJECT ? "550" : "451", r->reply);
	else if (r->reply[0])
		printf(": %s", r->reply);
	putchar('\n');
}

/* ctl_verify - sluicectl verify */
int
ctl_verify(ctl_ctx *ctx, int argc, char **argv)
{
	const char *zone = NULL, *server = NULL, *ip = "127.0.0.1", *helo = "", *mfrom = "",
		   *id = NULL;
	char err[512];
	ml_vopts o;
	ml_vresult *r;
	sl_dns *dns;
	ml_verify *v;
	char *msg;
	size_t len;
	int ch;

	while ((ch = getopt_long(argc, argv, "", verify_longopts, NULL)) != -1) {
		switch (ch) {
		case 'z':
			zone = optarg;
			break;
		case 'i':
			ip = optarg;
			break;
		case 'h':
			helo = optarg;
			break;
		case 'f':
			mfrom = optarg;
			break;
		case 'a':
			id = optarg;
			break;
		case 'n':
			server = optarg;
			break;
		default:
			ctl_usage(ctx);
		}
	}
	if (optind != argc)
		ctl_usage(ctx);
	if (ml_vopts_load(cfg_getsec(ctx->conf->cfg, "milter"), &o, err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		return EX_CONFIG;
	}
	if (id)
		o.authserv_id = id;
	if (ml_verify_init(err, sizeof(err)) < 0 ||
	    (dns = ml_vopts_dns(&o, zone, server, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		ml_vopts_free(&o);
		return EX_CONFIG;
	}
	if ((msg = read_crlf(stdin, &len)) == NULL || len == 0) {
		ctl_err("standard input: %s", msg ? "empty" : "message too large");
		free(msg);
		sl_dns_free(dns);
		ml_vopts_free(&o);
		return EX_DATAERR;
	}
	v = ml_verify_new(dns, &o, "sluicectl", ip, helo, mfrom);
	{
		const char *body = feed_header(v, msg);

		ml_verify_body(v, (const unsigned char *)body, len - (size_t)(body - msg));
	}
	r = sl_malloc(sizeof(*r));
	ml_verify_finish(v, r);
	print_result(r);
	free(r);
	ml_verify_free(v);
	free(msg);
	sl_dns_free(dns);
	ml_vopts_free(&o);
	return 0;
}

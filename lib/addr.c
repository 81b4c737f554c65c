/*
 * NAME
 *	addr 3 - e-mail address and network helpers
 * DESCRIPTION
 *	Normalisation follows what a suppression list needs: the domain is
 *	case-insensitive (RFC 5321), loses the one trailing dot of a fully
 *	qualified name (Postfix delivers user@example.com. to
 *	user@example.com), and internationalised labels (U-labels) become
 *	their A-labels with libidn2 (IDNA2008 with the UTS #46 mapping), so
 *	user@bücher.example and user@xn--bcher-kva.example are one address
 *	(a UTF-8 domain that IDNA2008 refuses, such as one with a symbol, is
 *	kept as written, lowercased in ASCII only, and so is one whose mapping
 *	gives more than letters, digits and hyphens; a domain that is not UTF-8
 *	is malformed);
 *	the local part is kept as written unless asked otherwise. The
 *	organizational domain comes from libpsl and the public suffix list
 *	Debian ships (package publicsuffix).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"

/* ldh_only - letters, digits, hyphens, dots (and '_'): what a host name may hold */
static int
ldh_only(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return 0;
	return 1;
}

/* domain_canon - the domain in place: no trailing dot, A-labels, lowercase */
static int
domain_canon(char *dom, size_t room)
{
	size_t len = strlen(dom);
	int ascii = 1, rc;
	char *alabel = NULL;

	if (len > 0 && dom[len - 1] == '.')
		dom[--len] = '\0';
	if (len == 0 || dom[len - 1] == '.' || dom[0] == '.')
		return -1;
	for (char *o = dom; *o; o++) {
		if ((unsigned char)*o >= 0x80)
			ascii = 0;
		*o = (char)tolower((unsigned char)*o);
	}
	if (ascii)
		return 0;
	rc = idn2_to_ascii_8z(dom, &alabel, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc == IDN2_ENCODING_ERROR)
		return -1;		/* not UTF-8: Postfix refuses it too */
	if (rc != IDN2_OK)
		return 0;		/* valid UTF-8, not IDNA2008 (a symbol): as written */
	len = strlen(alabel);
	if (!ldh_only(alabel)) {	/* UTS #46 mapped a symbol (U+FF20) to ASCII */
		idn2_free(alabel);
		return 0;
	}
	if (len >= room) {
		idn2_free(alabel);
		return -1;
	}
	for (size_t i = 0; i <= len; i++)
		dom[i] = (char)tolower((unsigned char)alabel[i]);
	idn2_free(alabel);
	return 0;
}

/* sl_addr_normalize - canonical form of an address for keys and lookups */
int
sl_addr_normalize(const char *in, char *out, size_t outlen, int flags)
{
	size_t	len;
	const char *at;
	char   *o, *plus;

	while (isspace((unsigned char) *in))
		in++;
	len = strlen(in);
	while (len > 0 && isspace((unsigned char) in[len - 1]))
		len--;
	if (len >= 2 && in[0] == '<' && in[len - 1] == '>') {
		in++;
		len -= 2;
	}
	if (len == 0 || len >= outlen || len > SL_ADDR_MAX)
		return -1;
	memcpy(out, in, len);
	out[len] = '\0';
	if ((at = strrchr(out, '@')) == NULL || at == out || at[1] == '\0')
		return -1;
	for (o = out; *o; o++)
		if ((unsigned char) *o < 0x21 || *o == '<' || *o == '>')
			return -1;
	if (domain_canon((char *)at + 1, outlen - (size_t)(at + 1 - out)) < 0 ||
	    strlen(out) > SL_ADDR_MAX)
		return -1;
	if (flags & SL_ADDR_LOWER_LOCAL)
		for (o = out; o < at; o++)
			*o = (char) tolower((unsigned char) *o);
	if ((flags & SL_ADDR_STRIP_TAG) && (plus = memchr(out, '+', (size_t) (at - out))) != NULL
	    && plus != out)
		memmove(plus, at, strlen(at) + 1);
	return 0;
}

/* sl_addr_forms - every distinct stored form of an address, as written first */
int
sl_addr_forms(const char *in, int flags, char out[SL_ADDR_FORMS_MAX][SL_ADDR_MAX + 1])
{
	static const int step[SL_ADDR_FORMS_MAX] = {0, SL_ADDR_LOWER_LOCAL, SL_ADDR_STRIP_TAG,
						    SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL};
	int	n = 0;

	for (int i = 0; i < SL_ADDR_FORMS_MAX; i++) {
		if ((step[i] & ~flags) != 0
		    || sl_addr_normalize(in, out[n], SL_ADDR_MAX + 1, step[i]) < 0)
			continue;
		n++;
		for (int k = 0; k < n - 1; k++)
			if (strcmp(out[k], out[n - 1]) == 0) {
				n--;
				break;
			}
	}
	return n;
}

/* sl_addr_domain - the domain part of an address, or "" when there is none */
const char *
sl_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

/* sl_orgdomain - the registrable domain ("example.co.uk" for "a.b.example.co.uk") */
int
sl_orgdomain(const char *domain, char *out, size_t outlen)
{
	static const psl_ctx_t *psl;
	const char *reg;
	char	lower[256];
	size_t	i;

	if (psl == NULL)
		psl = psl_builtin();
	if (psl == NULL)
		psl = psl_latest(NULL);
	for (i = 0; domain[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char) tolower((unsigned char) domain[i]);
	lower[i] = '\0';
	if (i > 0 && lower[i - 1] == '.')
		lower[i - 1] = '\0';
	reg = psl ? psl_registrable_domain(psl, lower) : NULL;
	if (reg == NULL)
		reg = lower;
	if (strlen(reg) >= outlen)
		return -1;
	strcpy(out, reg);
	return 0;
}

/* sl_domain_is_under - true when domain equals parent or is a subdomain of it */
int
sl_domain_is_under(const char *domain, const char *parent)
{
	size_t	dl = strlen(domain), pl = strlen(parent);

	if (dl < pl)
		return 0;
	if (strcasecmp(domain + dl - pl, parent) != 0)
		return 0;
	return dl == pl || domain[dl - pl - 1] == '.';
}

struct sl_net {
	int	family;
	unsigned char addr[16];
	int	bits;
};

struct sl_netlist {
	struct sl_net *nets;
	size_t	count;
};

/* sl_netlist_new - an empty list of networks */
sl_netlist *
sl_netlist_new(void)
{
	return sl_calloc(1, sizeof(sl_netlist));
}

/* addr_parse - a textual IPv4 or IPv6 address into family and bytes */
static int
addr_parse(const char *s, int *family, unsigned char buf[16])
{
	if (inet_pton(AF_INET, s, buf) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

/* sl_netlist_add - add "addr" or "addr/bits"; -1 when malformed */
int
sl_netlist_add(sl_netlist *nl, const char *cidr)
{
	char	host[64];
	const char *slash = strchr(cidr, '/');
	struct sl_net net;
	size_t	hl = slash ? (size_t) (slash - cidr) : strlen(cidr);
	char   *end;

	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, cidr, hl);
	host[hl] = '\0';
	if (addr_parse(host, &net.family, net.addr) < 0)
		return -1;
	net.bits = net.family == AF_INET ? 32 : 128;
	if (slash) {
		long	b = strtol(slash + 1, &end, 10);

		if (*end != '\0' || slash[1] == '\0' || b < 0 || b > net.bits)
			return -1;
		net.bits = (int) b;
	}
	nl->nets = sl_realloc(nl->nets, (nl->count + 1) * sizeof(*nl->nets));
	nl->nets[nl->count++] = net;
	return 0;
}

/* net_match - compare the first bits of two addresses */
static int
net_match(const struct sl_net *net, const unsigned char *a)
{
	int	full = net->bits / 8, rest = net->bits % 8;

	if (memcmp(net->addr, a, (size_t) full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((net->addr[full] ^ a[full]) & (0xff << (8 - rest))) == 0;
}

/* sl_netlist_match - true when addr (IPv4, IPv6 or v4-mapped) is in the list */
int
sl_netlist_match(const sl_netlist *nl, const char *addr)
{
	unsigned char buf[16];
	int	family;

	if (nl == NULL || addr == NULL || addr_parse(addr, &family, buf) < 0)
		return 0;
	if (family == AF_INET6 && memcmp(buf, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(buf, buf + 12, 4);
		family = AF_INET;
	}
	for (size_t i = 0; i < nl->count; i++)
		if (nl->nets[i].family == family && net_match(&nl->nets[i], buf))
			return 1;
	return 0;
}

/* sl_netlist_free - release a list; NULL is a no-op */
void
sl_netlist_free(sl_netlist *nl)
{
	if (nl == NULL)
		return;
	free(nl->nets);
	free(nl);
}

/*
 * NAME
 *	ctl_dkim 3 - sluicectl dkim keygen, and DKIM DNS records (OpenSSL 3)
 * DESCRIPTION
 *	ctl_dkim_keygen() makes an RSA (--bits, 2048 by default, 2048-4096;
 *	1024 is refused) or Ed25519 (RFC 8463) key with EVP_PKEY_Q_keygen()
 *	and writes it as PKCS#8 PEM to <out>/<domain>.<selector>.pem, created
 *	with mode 0600 (never over an existing file; --owner USER gives it to
 *	the service user, so reloads can read it), writes the TXT record as a
 *	zone-file line to <out>/<domain>.<selector>.txt as opendkim-genkey
 *	does (t=y with --testing), then prints the record and the sluice.conf
 *	lines that use the key. ctl_dkim_txt_file() computes
 *	the TXT value of an existing private key file: "v=DKIM1; k=rsa;
 *	p=<base64 of the SubjectPublicKeyInfo DER>" or "v=DKIM1; k=ed25519;
 *	p=<base64 of the 32-byte public key>". This is the only file of
 *	sluicectl that includes OpenSSL.
 * ERRORS
 *	keygen exits 73 when the key or .txt file cannot be created, 77 when
 *	--owner cannot be applied, 64 on bad arguments; ctl_dkim_txt_file() returns -1 with err set.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"

#define DKIM_TTL 3600

static const struct option keygen_longopts[] = {
	{"domain", required_argument, NULL, 'd'},
	{"selector", required_argument, NULL, 's'},
	{"algorithm", required_argument, NULL, 'a'},
	{"out", required_argument, NULL, 'o'},
	{"bits", required_argument, NULL, 'b'},
	{"testing", no_argument, NULL, 't'},
	{"owner", required_argument, NULL, 'u'},
	{NULL, 0, NULL, 0}
};

typedef struct keygen_opts {
	const char *domain, *sel, *alg, *out, *owner;
	int	ed25519, testing;
	long	bits;
} keygen_opts;

/* b64 - base64 of len bytes into out; -1 when it does not fit */
static int
b64(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	if ((len + 2) / 3 * 4 + 1 > outlen)
		return -1;
	EVP_EncodeBlock((unsigned char *) out, in, (int) len);
	return 0;
}

/* pkey_txt - the DKIM TXT value of a key's public half */
static int
pkey_txt(EVP_PKEY *pk, char *out, size_t outlen, char *err, size_t errlen)
{
	unsigned char raw[32], *der = NULL;
	char	p[2048];
	size_t	rawlen = sizeof(raw);
	int	n, rc = -1;

	if (EVP_PKEY_is_a(pk, "ED25519")) {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) == 1 && b64(raw, rawlen, p, sizeof(p)) == 0)
			rc = snprintf(out, outlen, "v=DKIM1; k=ed25519; p=%s", p) < (int) outlen ? 0 : -1;
	} else if (EVP_PKEY_is_a(pk, "RSA")) {
		if ((n = i2d_PUBKEY(pk, &der)) > 0 && b64(der, (size_t) n, p, sizeof(p)) == 0)
			rc = snprintf(out, outlen, "v=DKIM1; k=rsa; p=%s", p) < (int) outlen ? 0 : -1;
		OPENSSL_free(der);
	} else {
		snprintf(err, errlen, "not an RSA or Ed25519 key");
		return -1;
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot encode the public key");
	return rc;
}

/* ctl_dkim_txt_file - the TXT value for a private key file */
int
ctl_dkim_txt_file(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	FILE   *fp = fopen(path, "r");
	EVP_PKEY *pk;
	int	rc;

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pk == NULL) {
		snprintf(err, errlen, "%s: not a PEM private key", path);
		ERR_clear_error();
		return -1;
	}
	rc = pkey_txt(pk, out, outlen, err, errlen);
	EVP_PKEY_free(pk);
	return rc;
}

/* ctl_dkim_print_txt - a zone-file TXT record, split in 255-byte strings */
void
ctl_dkim_print_txt(FILE *fp, const char *name, const char *value)
{
	size_t	len = strlen(value);

	fprintf(fp, "%s. %d IN TXT %s", name, DKIM_TTL, len > 255 ? "( " : "");
	for (size_t off = 0; off < len || off == 0; off += 255) {
		fprintf(fp, "%s\"%.255s\"", off ? " " : "", value + off);
		if (len == 0)
			break;
	}
	fputs(len > 255 ? " )\n" : "\n", fp);
}

/* name_ok - a domain or selector: [a-z0-9-] labels separated by dots */
static int
name_ok(const char *s, const char *extra)
{
	size_t	n = strlen(s);
	char	allowed[64];

	snprintf(allowed, sizeof(allowed), "abcdefghijklmnopqrstuvwxyz0123456789-.%s", extra);
	return n > 0 && n < 254 && s[0] != '.' && s[n - 1] != '.' && s[0] != '-'
	    && strstr(s, "..") == NULL && strspn(s, allowed) == n;
}

/* write_key - PKCS#8 PEM to a new file of mode 0600 */
static int
write_key(EVP_PKEY *pk, const char *path)
{
	int	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	FILE   *fp;
	int	ok;

	if (fd < 0) {
		ctl_err("%s: %s%s", path, strerror(errno),
			errno == EEXIST ? " (refusing to overwrite a key)" : "");
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || (fp = fdopen(fd, "w")) == NULL) {
		ctl_err("%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	ok = PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL) == 1;
	if (fclose(fp) != 0 || !ok) {
		ctl_err("%s: cannot write the key", path);
		unlink(path);
		return -1;
	}
	return 0;
}

/* generate - a new RSA key of bits, or Ed25519 */
static EVP_PKEY *
generate(int ed25519, long bits)
{
	EVP_PKEY *pk = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
			       : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) bits);

	if (pk == NULL)
		ctl_err("OpenSSL cannot generate the key: %s",
			ERR_reason_error_string(ERR_get_error()));
	return pk;
}

/* write_txt - the record as a zone-file line in <out>/<domain>.<selector>.txt */
static int
write_txt(const char *path, const char *name, const char *domain, const char *sel,
	  const char *txt)
{
	int	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	FILE   *fp;

	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		ctl_err("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(fp, "; ----- DKIM key %s for %s (sluicectl dkim keygen)\n", sel, domain);
	ctl_dkim_print_txt(fp, name, txt);
	if (fclose(fp) != 0) {
		ctl_err("%s: cannot write", path);
		return -1;
	}
	return 0;
}

/* give_owner - the key file to the service user (and its group), mode kept 0600 */
static int
give_owner(const char *path, const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		ctl_err("--owner %s: no such user", user);
		return -1;
	}
	if (chown(path, pw->pw_uid, pw->pw_gid) < 0) {
		ctl_err("%s: chown %s: %s", path, user, strerror(errno));
		return -1;
	}
	return 0;
}

/* testing_txt - "t=y; " before "p=", the record of a key in test mode */
static void
testing_txt(char *txt, size_t size)
{
	char   *p = strstr(txt, "p=");
	char	rest[2048];

	if (p == NULL || strlen(txt) + 6 >= size)
		return;
	snprintf(rest, sizeof(rest), "%s", p);
	snprintf(p, size - (size_t) (p - txt), "t=y; %s", rest);
}

/* print_keygen - the record to publish and the config lines */
static void
print_keygen(const char *path, const char *domain, const char *sel, int ed25519,
	     const char *txt)
{
	char	name[600], abs[PATH_MAX];

	if (realpath(path, abs) == NULL)
		snprintf(abs, sizeof(abs), "%s", path);
	printf("; private key: %s (%s, mode 0600)\n", abs, ed25519 ? "ed25519-sha256" : "rsa-sha256");
	snprintf(name, sizeof(name), "%s._domainkey.%s", sel, domain);
	ctl_dkim_print_txt(stdout, name, txt);
	printf("; sluice.conf:\n;   domain \"%s\" {\n;     dkim \"%s\" {\n", domain, sel);
	printf(";       algorithm = %s\n;       key = \"%s\"\n;     }\n;   }\n",
	       ed25519 ? "ed25519-sha256" : "rsa-sha256", abs);
}

/* keygen_args - the options of dkim keygen; -1 on a bad one (message given) */
static int
keygen_args(keygen_opts *o, int argc, char **argv)
{
	char   *end;
	int	ch;

	while ((ch = getopt_long(argc, argv, "", keygen_longopts, NULL)) != -1) {
		if (ch == 'd')
			o->domain = optarg;
		else if (ch == 's')
			o->sel = optarg;
		else if (ch == 'a')
			o->alg = optarg;
		else if (ch == 'o')
			o->out = optarg;
		else if (ch == 't')
			o->testing = 1;
		else if (ch == 'u')
			o->owner = optarg;
		else if (ch == 'b' && ((o->bits = strtol(optarg, &end, 10)) < 2048 || o->bits > 4096
				       || *end)) {
			ctl_err("--bits %s: use 2048 to 4096 (1024-bit RSA is too weak to sign with; "
				"RFC 8301)", optarg);
			return -1;
		} else if (ch != 'b')
			return -1;
	}
	o->ed25519 = strcmp(o->alg, "ed25519") == 0 || strcmp(o->alg, "ed25519-sha256") == 0;
	if (o->ed25519 && o->bits != 2048) {
		ctl_err("--bits is for RSA keys only");
		return -1;
	}
	return optind != argc || !o->domain || !o->sel || !name_ok(o->domain, "")
	    || !name_ok(o->sel, "_")
	    || (!o->ed25519 && strcmp(o->alg, "rsa") != 0 && strcmp(o->alg, "rsa-sha256") != 0) ? -1 : 0;
}

/* ctl_dkim_keygen - make a DKIM key file and print its DNS record */
int
ctl_dkim_keygen(ctl_ctx *ctx, int argc, char **argv)
{
	keygen_opts o = {.alg = "rsa", .out = ".", .bits = 2048};
	char	path[PATH_MAX], txtpath[PATH_MAX], name[600], txt[2048], err[256];
	EVP_PKEY *pk;
	int	rc;

	if (keygen_args(&o, argc, argv) < 0)
		ctl_usage(ctx);
	if (snprintf(path, sizeof(path), "%s/%s.%s.pem", o.out, o.domain, o.sel) >= (int) sizeof(path)
	    || snprintf(txtpath, sizeof(txtpath), "%s/%s.%s.txt", o.out, o.domain, o.sel)
		   >= (int) sizeof(txtpath))
		ctl_usage(ctx);
	if (access(txtpath, F_OK) == 0) {
		ctl_err("%s: exists (refusing to overwrite)", txtpath);
		return EX_CANTCREAT;
	}
	if (o.owner && getpwnam(o.owner) == NULL) {
		ctl_err("--owner %s: no such user", o.owner);
		return EX_USAGE;
	}
	if ((pk = generate(o.ed25519, o.bits)) == NULL)
		return EX_SOFTWARE;
	rc = write_key(pk, path) < 0 ? EX_CANTCREAT : 0;
	if (rc == 0 && o.owner && give_owner(path, o.owner) < 0)
		rc = EX_NOPERM;
	if (rc == 0 && pkey_txt(pk, txt, sizeof(txt), err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		rc = EX_SOFTWARE;
	}
	if (rc == 0 && o.testing)
		testing_txt(txt, sizeof(txt));
	snprintf(name, sizeof(name), "%s._domainkey.%s", o.sel, o.domain);
	if (rc == 0 && write_txt(txtpath, name, o.domain, o.sel, txt) < 0)
		rc = EX_CANTCREAT;
	if (rc == 0)
		print_keygen(path, o.domain, o.sel, o.ed25519, txt);
	EVP_PKEY_free(pk);
	return rc;
}

/*
 * NAME
 *	milter_dkim 3 - DKIM keys and signing for sluice-milter (libopendkim)
 * SYNOPSIS
 *	ml_dkim_init() once before threads start; ml_key_load() per key at
 *	config load; per message and signature: ml_signer_new(),
 *	ml_signer_header() for each final header, ml_signer_eoh(),
 *	ml_signer_body() per chunk, ml_signer_finish(), ml_signer_free().
 * DESCRIPTION
 *	The only file that includes libopendkim. Signatures are relaxed/
 *	relaxed, RSA-SHA256 (libopendkim) or Ed25519-SHA256 (RFC 8463; made
 *	in milter_ed25519.c, since libopendkim leaks per Ed25519 signature,
 *	behind the same ml_signer interface), over From (signed
 *	twice so that no From can be added), To, Cc, Subject, Date,
 *	Message-ID, Reply-To, the MIME headers, List-Unsubscribe,
 *	List-Unsubscribe-Post and Feedback-ID.
 *
 *	Keys are read and checked with OpenSSL once, at config load: the
 *	file must be private, parse, and match the configured algorithm
 *	(RSA at least 1024 bits, 2048 recommended). Ed25519 keys stay parsed;
 *	libopendkim offers no way to hand it a parsed RSA key: it parses the
 *	PEM text kept in memory again for every signature (see NOTES.md). A
 *	vanished key file therefore does not matter until the next reload.
 * ERRORS
 *	Every libopendkim return code is checked; failures leave a message
 *	in ml_signer_error() and the caller applies on_internal_error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <opendkim/dkim.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "milter.h"

#define KEY_FILE_MAX	(64 * 1024)

struct ml_signer {
	DKIM   *dkim;			/* RSA: libopendkim */
	ml_ed  *ed;			/* Ed25519: milter_ed25519.c */
	const ml_key *key;
	char	domain[ML_DOMAIN_MAX];
	char	error[640];
};

static DKIM_LIB *dkim_lib;

static const char *sign_headers[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"In-Reply-To", "References",
	"List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID", NULL
};

static const char *oversign_headers[] = {"From", NULL};

/* dkim_option - set one library option, naming it on failure */
static int
dkim_option(int opt, void *val, size_t len, const char *what, char *err, size_t errlen)
{
	DKIM_STAT st = dkim_options(dkim_lib, DKIM_OP_SETOPT, opt, val, len);

	if (st != DKIM_STAT_OK) {
		snprintf(err, errlen, "libopendkim option %s: %s", what, dkim_getresultstr(st));
		return -1;
	}
	return 0;
}

/* ml_dkim_init - the process's one DKIM_LIB, options set before threads */
int
ml_dkim_init(char *err, size_t errlen)
{
	unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;

	if (dkim_lib != NULL)
		return 0;
	if ((dkim_lib = dkim_init(NULL, NULL)) == NULL) {
		snprintf(err, errlen, "libopendkim: dkim_init failed");
		return -1;
	}
	/* List options take sizeof(char **) as length (NOTES.md). */
	if (dkim_option(DKIM_OPTS_FLAGS, &flags, sizeof(flags), "flags", err, errlen) < 0
	    || dkim_option(DKIM_OPTS_SIGNHDRS, sign_headers, sizeof(char **), "signhdrs", err, errlen) < 0
	    || dkim_option(DKIM_OPTS_OVERSIGNHDRS, oversign_headers, sizeof(char **),
			   "oversignhdrs", err, errlen) < 0) {
		ml_dkim_shutdown();
		return -1;
	}
	return 0;
}

/* ml_dkim_shutdown - release the library handle */
void
ml_dkim_shutdown(void)
{
	if (dkim_lib != NULL)
		dkim_close(dkim_lib);
	dkim_lib = NULL;
}

/* key_read - the whole key file, NUL-terminated */
static unsigned char *
key_read(const char *path, size_t *len, char *err, size_t errlen)
{
	unsigned char *buf;
	struct stat st;
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > KEY_FILE_MAX) {
		snprintf(err, errlen, "%s: empty, unreadable or larger than %d bytes", path, KEY_FILE_MAX);
		close(fd);
		return NULL;
	}
	buf = sl_malloc((size_t) st.st_size + 1);
	n = read(fd, buf, (size_t) st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "%s: short read", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t) n;
	return buf;
}

/* key_check - the key parses and fits the configured algorithm */
static int
key_check(ml_key *k, char *err, size_t errlen)
{
	BIO    *bio = BIO_new_mem_buf(k->data, (int) k->len);
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	int	rc = -1, type = pk ? EVP_PKEY_get_base_id(pk) : 0;

	if (pk == NULL)
		snprintf(err, errlen, "%s: not a PEM private key", k->path);
	else if (k->alg == ML_ALG_RSA && type != EVP_PKEY_RSA)
		snprintf(err, errlen, "%s: algorithm rsa-sha256 needs an RSA key", k->path);
	else if (k->alg == ML_ALG_ED25519 && type != EVP_PKEY_ED25519)
		snprintf(err, errlen, "%s: algorithm ed25519-sha256 needs an Ed25519 key", k->path);
	else if (k->alg == ML_ALG_RSA && EVP_PKEY_get_bits(pk) < 1024)
		snprintf(err, errlen, "%s: RSA key of %d bits is too short (use 2048)",
			 k->path, EVP_PKEY_get_bits(pk));
	else
		rc = 0;
	if (rc == 0 && k->alg == ML_ALG_RSA && EVP_PKEY_get_bits(pk) < 2048)
		sl_warn("%s: RSA key of %d bits: 2048 is recommended", k->path, EVP_PKEY_get_bits(pk));
	if (rc == 0 && k->alg == ML_ALG_ED25519) {
		k->pkey = pk;			/* parsed once, signed with many times */
		pk = NULL;
	}
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return rc;
}

/* ml_key_load - read and check one private key file (must be private) */
int
ml_key_load(ml_key *k, char *err, size_t errlen)
{
	if (sl_conf_check_private_file(k->path, err, errlen) < 0)
		return -1;
	if ((k->data = key_read(k->path, &k->len, err, errlen)) == NULL)
		return -1;
	if (key_check(k, err, errlen) < 0) {
		ml_key_free(k);
		return -1;
	}
	return 0;
}

/* ml_key_free - wipe and release a loaded key */
void
ml_key_free(ml_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
	if (k->data == NULL)
		return;
	OPENSSL_cleanse(k->data, k->len);
	free(k->data);
	k->data = NULL;
	k->len = 0;
}

/* signer_fail - record a libopendkim failure on the signer */
static int
signer_fail(ml_signer *s, const char *what, DKIM_STAT st)
{
	const char *detail = s->dkim ? dkim_geterror(s->dkim) : NULL;

	snprintf(s->error, sizeof(s->error), "DKIM %s for d=%s s=%s: %s%s%s", what, s->domain,
		 s->key->selector, dkim_getresultstr(st), detail ? ": " : "", detail ? detail : "");
	return -1;
}

/* ml_signer_new - start one signature of domain with key */
ml_signer *
ml_signer_new(const ml_key *key, const char *domain, const char *id,
	      char *err, size_t errlen)
{
	ml_signer *s = sl_calloc(1, sizeof(*s));
	DKIM_STAT st = DKIM_STAT_OK;

	s->key = key;
	snprintf(s->domain, sizeof(s->domain), "%s", domain);
	if (key->alg == ML_ALG_ED25519) {
		if (key->pkey == NULL || (s->ed = ml_ed_new(key->pkey)) == NULL) {
			snprintf(err, errlen, "Ed25519 key %s not loaded", key->path);
			free(s);
			return NULL;
		}
		return s;
	}
	if (dkim_lib == NULL) {
		snprintf(err, errlen, "DKIM library not initialised");
		free(s);
		return NULL;
	}
	s->dkim = dkim_sign(dkim_lib, (const unsigned char *) (id && *id ? id : "sluice"), NULL,
			    (dkim_sigkey_t) key->data, (const unsigned char *) key->selector,
			    (const unsigned char *) domain, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
			    key->alg == ML_ALG_ED25519 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256,
			    -1, &st);
	if (s->dkim == NULL || st != DKIM_STAT_OK) {
		signer_fail(s, "start", st);
		snprintf(err, errlen, "%s", s->error);
		ml_signer_free(s);
		return NULL;
	}
	return s;
}

/* ml_signer_header - feed one header field; folds become CRLF + WSP */
int
ml_signer_header(ml_signer *s, const char *name, const char *value)
{
	size_t	n = strlen(name) + 2 * strlen(value) + 3, o = 0;
	char   *buf = sl_malloc(n);
	DKIM_STAT st;

	if (s->ed) {
		free(buf);
		return ml_ed_header(s->ed, name, value);
	}
	o += (size_t) sprintf(buf, "%s: ", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			buf[o++] = '\r';
		buf[o++] = *p;
	}
	buf[o] = '\0';
	st = dkim_header(s->dkim, (u_char *) buf, o);
	free(buf);
	return st == DKIM_STAT_OK ? 0 : signer_fail(s, "header", st);
}

/* ml_signer_eoh - end of the header fields */
int
ml_signer_eoh(ml_signer *s)
{
	DKIM_STAT st;

	if (s->ed)
		return 0;
	st = dkim_eoh(s->dkim);
	return st == DKIM_STAT_OK ? 0 : signer_fail(s, "end of header", st);
}

/* ml_signer_body - feed one chunk of the body */
int
ml_signer_body(ml_signer *s, const unsigned char *buf, size_t len)
{
	DKIM_STAT st;

	if (s->ed)
		return ml_ed_body(s->ed, buf, len);
	st = dkim_body(s->dkim, (u_char *) buf, len);
	return st == DKIM_STAT_OK ? 0 : signer_fail(s, "body", st);
}

/* ml_signer_finish - the DKIM-Signature value, folded with LF + TAB */
int
ml_signer_finish(ml_signer *s, char *out, size_t outlen)
{
	DKIM_STAT st;
	u_char *hdr = NULL;
	size_t	len = 0, o = 0;

	if (s->ed) {
		if (ml_ed_finish(s->ed, s->domain, s->key->selector, sign_headers, oversign_headers,
				 out, outlen) == 0)
			return 0;
		snprintf(s->error, sizeof(s->error), "DKIM d=%s s=%s: %s", s->domain,
			 s->key->selector, ml_ed_error(s->ed));
		return -1;
	}
	st = dkim_eom(s->dkim, NULL);
	if (st != DKIM_STAT_OK)
		return signer_fail(s, "end of message", st);
	st = dkim_getsighdr_d(s->dkim, strlen("DKIM-Signature: "), &hdr, &len);
	if (st != DKIM_STAT_OK || hdr == NULL)
		return signer_fail(s, "signature header", st);
	/* libopendkim folds with CRLF TAB; libmilter wants LF TAB. */
	for (size_t i = 0; i < len && o + 1 < outlen; i++)
		if (hdr[i] != '\r')
			out[o++] = (char) hdr[i];
	if (o + 1 >= outlen) {
		snprintf(s->error, sizeof(s->error), "DKIM signature longer than %zu bytes", outlen);
		return -1;
	}
	out[o] = '\0';
	return 0;
}

/* ml_signer_error - why the last call failed */
const char *
ml_signer_error(const ml_signer *s)
{
	return s->error;
}

/* ml_signer_domain - the d= of this signature */
const char *
ml_signer_domain(const ml_signer *s)
{
	return s->domain;
}

/* ml_signer_selector - the s= of this signature */
const char *
ml_signer_selector(const ml_signer *s)
{
	return s->key->selector;
}

/* ml_signer_alg - the a= of this signature */
const char *
ml_signer_alg(const ml_signer *s)
{
	return s->key->alg == ML_ALG_ED25519 ? "ed25519-sha256" : "rsa-sha256";
}

/* ml_signer_free - release a signer; NULL is a no-op */
void
ml_signer_free(ml_signer *s)
{
	if (s == NULL)
		return;
	if (s->dkim != NULL)
		dkim_free(s->dkim);
	ml_ed_free(s->ed);
	free(s);
}

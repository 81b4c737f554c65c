/*
 * NAME
 *	milter_dkim 3 - DKIM keys and signatures for sluice-milter (OpenSSL EVP)
 * SYNOPSIS
 *	ml_key_load(key) per key at config load, ml_key_free() with the
 *	snapshot. Per message:
 *	ml_dkim *m = ml_dkim_new();
 *	ml_dkim_add(m, key, domain, ...)	once per signature
 *	ml_dkim_headers(m, final, n)		the final header set
 *	ml_dkim_body(m, buf, len)		per body chunk
 *	ml_dkim_finish(m, ...)			every signature
 *	ml_dkim_value(m, i) ...			the DKIM-Signature values
 *	ml_dkim_free(m);
 * DESCRIPTION
 *	One signer for RSA-SHA256 (RFC 6376) and Ed25519-SHA256 (RFC 8463),
 *	relaxed/relaxed (milter_canon.c), over From (signed twice so that no
 *	From can be added), To, Cc, Subject, Date, Message-ID, Reply-To, the
 *	MIME headers, In-Reply-To, References, List-Unsubscribe,
 *	List-Unsubscribe-Post and Feedback-ID, every instance, bottom up.
 *	Tags in this order: v a c d s t bh h b.
 *
 *	The body hash and the hash of the signed header fields are computed
 *	once per message and shared by all its signatures (RSA and Ed25519,
 *	subdomain and parent domain): each signature copies the header hash,
 *	adds its own DKIM-Signature field and signs the SHA-256 result with
 *	its key: RSASSA-PKCS1-v1_5 with SHA-256, or PureEdDSA over the 32
 *	bytes (RFC 8463 section 3).
 *
 *	Keys are read, checked and parsed into an EVP_PKEY once, at config
 *	load: the file must be private, parse, and match the configured
 *	algorithm (RSA at least 1024 bits, 2048 recommended); the PEM text is
 *	wiped. The EVP_PKEY belongs to the config snapshot and is shared
 *	read-only by the milter's threads; every signature has its own
 *	EVP_PKEY_CTX or EVP_MD_CTX, which is what OpenSSL 3 asks for
 *	concurrent use of one key (RSA blinding is then kept per key object
 *	and locked by OpenSSL, not set up again per message). A reload parses
 *	the keys of the new snapshot; messages in flight keep the old one.
 *	A vanished key file therefore does not matter until the next reload.
 * ERRORS
 *	ml_key_load() and ml_dkim_add(), ml_dkim_finish(): -1 with a message
 *	in err; the caller applies on_internal_error. Hashing cannot fail.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "milter.h"

#define KEY_FILE_MAX (64 * 1024)
#define FOLD_AT 76 /* fold h= before a line gets longer */

typedef struct sig {
	const ml_key *key;
	char domain[ML_DOMAIN_MAX];
	char *value; /* the DKIM-Signature value, after finish */
} sig;

struct ml_dkim {
	ml_canon *body;  /* the body hash, shared */
	EVP_MD_CTX *hdr; /* SHA-256 of the signed header fields, shared */
	char *h;         /* the h= value, folded */
	sig sigs[ML_SIG_MAX];
	size_t nsigs;
};

static const char *const sign_headers[] = {"From",
                                           "To",
                                           "Cc",
                                           "Subject",
                                           "Date",
                                           "Message-ID",
                                           "Reply-To",
                                           "MIME-Version",
                                           "Content-Type",
                                           "Content-Transfer-Encoding",
                                           "In-Reply-To",
                                           "References",
                                           "List-Unsubscribe",
                                           "List-Unsubscribe-Post",
                                           "Feedback-ID",
                                           NULL};

static const char *const oversign_headers[] = {"From", NULL};

/* key_read - the whole key file, NUL-terminated */
static unsigned char *
key_read(const char *path, size_t *len, char *err, size_t errlen)
{
	unsigned char *buf;
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > KEY_FILE_MAX) {
		snprintf(err, errlen, "%s: empty, unreadable or larger than %d bytes", path,
		         KEY_FILE_MAX);
		close(fd);
		return NULL;
	}
	buf = sl_malloc((size_t)st.st_size + 1);
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "%s: short read", path);
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* key_check - the parsed key fits the configured algorithm */
static int
key_check(const ml_key *k, EVP_PKEY *pk, char *err, size_t errlen)
{
	int type = EVP_PKEY_get_base_id(pk), bits = EVP_PKEY_get_bits(pk);

	if (k->alg == ML_ALG_RSA && type != EVP_PKEY_RSA)
		snprintf(err, errlen, "%s: algorithm rsa-sha256 needs an RSA key", k->path);
	else if (k->alg == ML_ALG_ED25519 && type != EVP_PKEY_ED25519)
		snprintf(err, errlen, "%s: algorithm ed25519-sha256 needs an Ed25519 key", k->path);
	else if (k->alg == ML_ALG_RSA && bits < 1024)
		snprintf(err, errlen, "%s: RSA key of %d bits is too short (use 2048)", k->path,
		         bits);
	else if (k->alg == ML_ALG_RSA && bits > 8192)
		snprintf(err, errlen, "%s: RSA key of %d bits is too long (use 2048)", k->path,
		         bits);
	else {
		if (k->alg == ML_ALG_RSA && bits < 2048)
			sl_warn("%s: RSA key of %d bits: 2048 is recommended", k->path, bits);
		return 0;
	}
	return -1;
}

/* ml_key_load - read, check and parse one private key file (must be private) */
int
ml_key_load(ml_key *k, char *err, size_t errlen)
{
	unsigned char *pem;
	size_t len = 0;
	BIO *bio;
	EVP_PKEY *pk;

	if (sl_conf_check_private_file(k->path, err, errlen) < 0)
		return -1;
	if ((pem = key_read(k->path, &len, err, errlen)) == NULL)
		return -1;
	bio = BIO_new_mem_buf(pem, (int)len);
	pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	OPENSSL_cleanse(pem, len);
	free(pem);
	if (pk == NULL) {
		snprintf(err, errlen, "%s: not a PEM private key", k->path);
		return -1;
	}
	if (key_check(k, pk, err, errlen) < 0) {
		EVP_PKEY_free(pk);
		return -1;
	}
	k->pkey = pk; /* parsed once, signed with many times */
	return 0;
}

/* ml_key_free - release a loaded key; an unloaded one is a no-op */
void
ml_key_free(ml_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

/* ml_dkim_new - a message's signing state, body hash started */
ml_dkim *
ml_dkim_new(void)
{
	ml_dkim *m = sl_calloc(1, sizeof(*m));

	m->body = ml_canon_new();
	return m;
}

/* ml_dkim_free - release a message's signing state; NULL is a no-op */
void
ml_dkim_free(ml_dkim *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nsigs; i++)
		free(m->sigs[i].value);
	ml_canon_free(m->body);
	EVP_MD_CTX_free(m->hdr);
	free(m->h);
	free(m);
}

/* ml_dkim_add - one more signature of domain with key; -1 when full */
int
ml_dkim_add(ml_dkim *m, const ml_key *key, const char *domain, char *err, size_t errlen)
{
	sig *s;

	if (key->pkey == NULL) {
		snprintf(err, errlen, "DKIM key %s not loaded", key->path);
		return -1;
	}
	if (m->nsigs == ML_SIG_MAX) {
		snprintf(err, errlen, "more than %d DKIM signatures", ML_SIG_MAX);
		return -1;
	}
	s = &m->sigs[m->nsigs++];
	s->key = key;
	snprintf(s->domain, sizeof(s->domain), "%s", domain);
	return 0;
}

/* h_append - one name onto the h= list, folding between names */
static void
h_append(char **h, size_t *len, size_t *cap, size_t *line, const char *name)
{
	size_t n = strlen(name);

	if (*len + n + 8 > *cap) {
		*cap = 2 * (*cap + n + 8);
		*h = sl_realloc(*h, *cap);
	}
	if (*len > 0) {
		(*h)[(*len)++] = ':';
		(*line)++;
		if (*line + n > FOLD_AT) {
			memcpy(*h + *len, "\n\t ", 3);
			*len += 3;
			*line = 1;
		}
	}
	memcpy(*h + *len, name, n + 1);
	*len += n;
	*line += n;
}

/* hash_header - one header field, relaxed, into the header hash */
static void
hash_header(ml_dkim *m, const ml_header *hd, char **buf, size_t *cap)
{
	size_t need = strlen(hd->name) + strlen(hd->value) + 4;

	if (need > *cap) {
		*cap = need + 256;
		*buf = sl_realloc(*buf, *cap);
	}
	EVP_DigestUpdate(m->hdr, *buf, ml_canon_header(hd->name, hd->value, *buf));
}

/*
 * ml_dkim_headers - hash the signed fields of the final header set once:
 * each listed name, every instance from the bottom up, then the oversigned
 * names, which hash as nothing
 */
void
ml_dkim_headers(ml_dkim *m, const ml_header *hdrs, size_t n)
{
	size_t len = 0, cap = 0, line = 4, bcap = 0; /* "\th=" starts the line */
	char *buf = NULL;

	EVP_MD_CTX_free(m->hdr);
	free(m->h);
	m->h = NULL;
	if ((m->hdr = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(m->hdr, EVP_sha256(), NULL) != 1)
		sl_panic("SHA-256 unavailable");
	for (size_t s = 0; sign_headers[s]; s++)
		for (size_t i = n; i > 0; i--) {
			if (strcasecmp(hdrs[i - 1].name, sign_headers[s]) != 0)
				continue;
			hash_header(m, &hdrs[i - 1], &buf, &bcap);
			h_append(&m->h, &len, &cap, &line, sign_headers[s]);
		}
	for (size_t s = 0; oversign_headers[s]; s++)
		h_append(&m->h, &len, &cap, &line, oversign_headers[s]);
	free(buf);
}

/* ml_dkim_body - feed one chunk of the body to the shared body hash */
void
ml_dkim_body(ml_dkim *m, const unsigned char *buf, size_t len)
{
	ml_canon_body(m->body, buf, len);
}

/* key_sign - sign the 32-byte hash with the signature's key; siglen in/out */
static int
key_sign(const ml_key *k, const unsigned char *hash, unsigned char *out, size_t *siglen)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	int ok;

	if (k->alg == ML_ALG_ED25519) {
		ok = (mc = EVP_MD_CTX_new()) != NULL &&
		     EVP_DigestSignInit(mc, NULL, NULL, NULL, k->pkey) == 1 &&
		     EVP_DigestSign(mc, out, siglen, hash, 32) == 1;
		EVP_MD_CTX_free(mc);
		return ok ? 0 : -1;
	}
	ok = (pc = EVP_PKEY_CTX_new(k->pkey, NULL)) != NULL && EVP_PKEY_sign_init(pc) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
	     EVP_PKEY_sign(pc, out, siglen, hash, 32) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

/* fold_b - append base64 b, folded every 64 characters, to value */
static char *
fold_b(char *value, const char *b)
{
	size_t o = strlen(value), n = strlen(b);

	value = sl_realloc(value, o + n + 3 * (n / 64 + 1) + 1);
	for (size_t i = 0; i < n; i += 64) {
		if (i) {
			memcpy(value + o, "\n\t ", 3);
			o += 3;
		}
		memcpy(value + o, b + i, n - i < 64 ? n - i : 64);
		o += n - i < 64 ? n - i : 64;
	}
	value[o] = '\0';
	return value;
}

/* sign_one - the complete DKIM-Signature value of one signature */
static int
sign_one(ml_dkim *m, sig *s, const char *bh, long long now, char *err, size_t errlen)
{
	const char *alg = ml_alg_name(s->key->alg);
	size_t n = strlen(m->h) + strlen(s->domain) + strlen(s->key->selector) + 200, siglen;
	char *value = sl_malloc(n), *canon = sl_malloc(n + 20), *b;
	unsigned char hash[EVP_MAX_MD_SIZE], *raw;
	unsigned int hashlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t clen;

	snprintf(value, n,
	         "v=1; a=%s; c=relaxed/relaxed; d=%s;\n\ts=%s; t=%lld; bh=%s;\n\th=%s;\n\tb=", alg,
	         s->domain, s->key->selector, now, bh, m->h);
	/* the field itself, relaxed, without the CRLF and with b= empty */
	clen = ml_canon_header("DKIM-Signature", value, canon) - 2;
	if (md == NULL || EVP_MD_CTX_copy_ex(md, m->hdr) != 1 ||
	    EVP_DigestUpdate(md, canon, clen) != 1 || EVP_DigestFinal_ex(md, hash, &hashlen) != 1)
		sl_panic("SHA-256 unavailable");
	EVP_MD_CTX_free(md);
	free(canon);
	siglen = (size_t)EVP_PKEY_get_size(s->key->pkey);
	raw = sl_malloc(siglen);
	if (key_sign(s->key, hash, raw, &siglen) < 0) {
		snprintf(err, errlen, "DKIM d=%s s=%s: %s signing failed", s->domain,
		         s->key->selector, alg);
		free(raw);
		free(value);
		return -1;
	}
	b = sl_malloc(4 * (siglen / 3 + 1) + 1);
	EVP_EncodeBlock((unsigned char *)b, raw, (int)siglen);
	free(raw);
	s->value = fold_b(value, b);
	free(b);
	return 0;
}

/* ml_dkim_finish - the body hash, then every signature; -1 with err */
int
ml_dkim_finish(ml_dkim *m, char *err, size_t errlen)
{
	unsigned char md[32];
	char bh[48];
	long long now = (long long)time(NULL);

	if (m->hdr == NULL) {
		snprintf(err, errlen, "DKIM: no header fields given");
		return -1;
	}
	ml_canon_body_hash(m->body, md);
	EVP_EncodeBlock((unsigned char *)bh, md, (int)sizeof(md));
	for (size_t i = 0; i < m->nsigs; i++)
		if (m->sigs[i].value == NULL && sign_one(m, &m->sigs[i], bh, now, err, errlen) < 0)
			return -1;
	return 0;
}

/* ml_dkim_count - how many signatures the message gets */
size_t
ml_dkim_count(const ml_dkim *m)
{
	return m ? m->nsigs : 0;
}

/* ml_dkim_value - the DKIM-Signature value of signature i, folded with LF + TAB */
const char *
ml_dkim_value(const ml_dkim *m, size_t i)
{
	return m->sigs[i].value;
}

/* ml_dkim_domain - the d= of signature i */
const char *
ml_dkim_domain(const ml_dkim *m, size_t i)
{
	return m->sigs[i].domain;
}

/* ml_dkim_selector - the s= of signature i */
const char *
ml_dkim_selector(const ml_dkim *m, size_t i)
{
	return m->sigs[i].key->selector;
}

/* ml_alg_name - the a= of an algorithm */
const char *
ml_alg_name(enum ml_alg alg)
{
	return alg == ML_ALG_ED25519 ? "ed25519-sha256" : "rsa-sha256";
}

/* ml_dkim_alg - the a= of signature i */
const char *
ml_dkim_alg(const ml_dkim *m, size_t i)
{
	return ml_alg_name(m->sigs[i].key->alg);
}

/*
 * NAME
 *	test_milter_util - temp files and configs for the milter unit tests
 * DESCRIPTION
 *	tu_setup() makes a private temp dir with a token secret and an
 *	Ed25519 and an RSA key (mode 600); tu_conf(text) writes a config
 *	in it, "@DIR@" standing for the dir, and loads it with ml_conf_load().
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "milter.h"

static char tu_dir[256];

/* tu_write - a file in the temp dir with a mode; returns its path (static) */
static const char *
tu_write(const char *name, const char *text, mode_t mode)
{
	static char path[512];
	FILE   *f;

	snprintf(path, sizeof(path), "%s/%s", tu_dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

/* tu_key - write a fresh private key as PEM */
static void
tu_key(const char *name, const char *type)
{
	char	path[512];
	EVP_PKEY *pk = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048)
	    : EVP_PKEY_Q_keygen(NULL, NULL, type);
	FILE   *f;

	snprintf(path, sizeof(path), "%s/%s", tu_dir, name);
	if (pk == NULL || (f = fopen(path, "w")) == NULL)
		abort();
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(path, 0600);
	EVP_PKEY_free(pk);
}

/* tu_setup - the temp dir, secret and keys */
static int
tu_setup(void **state)
{
	(void) state;
	snprintf(tu_dir, sizeof(tu_dir), "/tmp/test-milter-XXXXXX");
	if (mkdtemp(tu_dir) == NULL)
		abort();
	tu_write("secret", "0123456789abcdef0123456789abcdef\n", 0600);
	tu_key("ed.pem", "ED25519");
	tu_key("rsa.pem", "RSA");
	return 0;
}

/* tu_teardown - remove the temp dir */
static int
tu_teardown(void **state)
{
	char	cmd[300];

	(void) state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tu_dir);
	return system(cmd) == 0 ? 0 : -1;
}

#ifndef TU_NO_CONF
/* tu_conf - load a config text, @DIR@ replaced by the temp dir */
static ml_conf *
tu_conf(const char *text)
{
	char	buf[16384], *o = buf;

	for (const char *p = text; *p && o < buf + sizeof(buf) - 300;) {
		if (strncmp(p, "@DIR@", 5) == 0) {
			o += sprintf(o, "%s", tu_dir);
			p += 5;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	tu_write("sluice.conf", buf, 0600);
	{
		char	path[512];

		snprintf(path, sizeof(path), "%s/sluice.conf", tu_dir);
		return ml_conf_load(path);
	}
}
#endif

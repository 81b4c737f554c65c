/*
 * NAME
 *	conf 3 - load and check sluice.conf (libconfuse)
 * DESCRIPTION
 *	sl_conf_load() parses the file with the schema of conf_schema.c and
 *	runs the shared semantic checks, logging each problem as file:line.
 *	Programs add their own checks with sl_conf_error() on the loaded
 *	sl_conf, then refuse to start when c->errors is non-zero.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "conf_schema.h"
#include "log.h"

static __thread const char *conf_parsing;	/* path while cfg_parse() runs */

/* conf_errfunc - libconfuse's syntax errors, written as file:line: text */
static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char	msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	sl_error("%s:%d: %s", conf_parsing ? conf_parsing : "sluice.conf",
		 cfg ? cfg->line : 0, msg);
}

/*
 * conf_section_line - the line where a titled section starts. libconfuse
 * records the line of its closing brace; an operator wants the opening.
 */
static int
conf_section_line(const sl_conf *c, cfg_t *sec)
{
	const char *title = cfg_title(sec);
	char	line[1024];
	int	n = 0, found = 0;
	FILE   *f;

	if (title == NULL || sec->name == NULL || (f = fopen(c->path, "r")) == NULL)
		return sec->line;
	while (fgets(line, sizeof(line), f) != NULL && ++n <= sec->line) {
		char   *p = line + strspn(line, " \t");
		size_t	nl = strlen(sec->name);

		if (strncmp(p, sec->name, nl) != 0 || !strchr(" \t", p[nl]))
			continue;
		p += nl + strspn(p + nl, " \t");
		p += *p == '"';
		if (strncmp(p, title, strlen(title)) == 0 && strchr(" \t\"{\n", p[strlen(title)]))
			found = n;
	}
	fclose(f);
	return found ? found : sec->line;
}

/* sl_conf_error - report one semantic problem with the section's file:line */
void
sl_conf_error(sl_conf *c, cfg_t *sec, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_error("%s:%d: %s", c->path, sec ? conf_section_line(c, sec) : 0, msg);
	c->errors++;
}

/* conf_check_label - a category or tenant name usable in tokens and keys */
static int
conf_check_label(const char *s)
{
	size_t	n = strlen(s);

	if (n == 0 || n > 15)
		return -1;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return -1;
	return 0;
}

/* conf_redis_password - read redis { password_file }, which must be private */
static void
conf_redis_password(sl_conf *c)
{
	cfg_t  *r = cfg_getsec(c->cfg, "redis");
	const char *path = cfg_getstr(r, "password_file");
	char	err[256];
	ssize_t	n;
	int	fd;

	if (*path == '\0')
		return;
	if (*cfg_getstr(r, "password")) {
		sl_conf_error(c, r, "redis: set password or password_file, not both");
		return;
	}
	if (sl_conf_check_private_file(path, err, sizeof(err)) < 0) {
		sl_conf_error(c, r, "redis password_file: %s", err);
		return;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0
	    || (n = read(fd, c->redis_password, sizeof(c->redis_password) - 1)) < 0) {
		sl_conf_error(c, r, "redis password_file: %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	while (n > 0 && (c->redis_password[n - 1] == '\n' || c->redis_password[n - 1] == '\r'))
		n--;
	c->redis_password[n] = '\0';
}

/* conf_check_shared - the checks every program needs */
static void
conf_check_shared(sl_conf *c, int flags)
{
	cfg_t  *cfg = c->cfg;
	const char *level = cfg_getstr(cfg, "log_level");
	enum sl_log_level lv;
	char	err[256];

	if (sl_log_parse_level(level, &lv) < 0)
		sl_conf_error(c, cfg, "log_level \"%s\": use debug, info, warning or error", level);
	for (unsigned i = 0; i < cfg_size(cfg, "category"); i++) {
		cfg_t  *sec = cfg_getnsec(cfg, "category", i);

		if (conf_check_label(cfg_title(sec)) < 0)
			sl_conf_error(c, sec, "category \"%s\": a name is 1-15 characters a-z 0-9", cfg_title(sec));
	}
	for (unsigned i = 0; i < cfg_size(cfg, "tenant"); i++) {
		cfg_t  *sec = cfg_getnsec(cfg, "tenant", i);

		if (conf_check_label(cfg_title(sec)) < 0)
			sl_conf_error(c, sec, "tenant \"%s\": a name is 1-15 characters a-z 0-9", cfg_title(sec));
	}
	for (unsigned i = 0; i < cfg_size(cfg, "domain"); i++) {
		cfg_t  *dom = cfg_getnsec(cfg, "domain", i);
		const char *def = cfg_getstr(dom, "default_category");

		if (*def && cfg_gettsec(cfg, "category", def) == NULL)
			sl_conf_error(c, dom, "domain %s: default_category \"%s\" is not defined", cfg_title(dom), def);
		for (unsigned k = 0; k < cfg_size(dom, "dkim"); k++) {
			cfg_t  *key = cfg_getnsec(dom, "dkim", k);
			const char *alg = cfg_getstr(key, "algorithm");

			if (strcmp(alg, "rsa-sha256") != 0 && strcmp(alg, "ed25519-sha256") != 0)
				sl_conf_error(c, key, "dkim %s: algorithm \"%s\": use rsa-sha256 or ed25519-sha256", cfg_title(key), alg);
			if (sl_conf_check_private_file(cfg_getstr(key, "key"), err, sizeof(err)) < 0)
				sl_conf_error(c, key, "dkim %s: %s", cfg_title(key), err);
		}
	}
	conf_redis_password(c);
	if (*cfg_getstr(cfg, "secret_file")
	    && !((flags & SL_CONF_SECRET_MAY_BE_MISSING) && access(cfg_getstr(cfg, "secret_file"), F_OK) != 0)
	    && sl_conf_check_private_file(cfg_getstr(cfg, "secret_file"), err, sizeof(err)) < 0)
		sl_conf_error(c, cfg, "secret_file: %s", err);
	if (cfg_getint(cfg, "token_lifetime_days") < 1 || cfg_getint(cfg, "token_lifetime_days") > 365)
		sl_conf_error(c, cfg, "token_lifetime_days: must be 1 to 365");
}

/* sl_conf_load - parse and check a config file; NULL after logging errors */
sl_conf *
sl_conf_load(const char *path)
{
	return sl_conf_load_opt(path, 0);
}

/* sl_conf_load_opt - sl_conf_load() with SL_CONF_* flags (sluicectl secret init) */
sl_conf *
sl_conf_load_opt(const char *path, int flags)
{
	sl_conf *c = sl_calloc(1, sizeof(*c));
	int	rc;

	c->path = sl_strdup(path);
	c->cfg = cfg_init(sl_conf_schema(), CFGF_NONE);
	cfg_set_error_function(c->cfg, conf_errfunc);
	conf_parsing = path;
	rc = cfg_parse(c->cfg, path);
	conf_parsing = NULL;
	if (rc == CFG_FILE_ERROR) {
		sl_error("%s: cannot read: %s", path, strerror(errno));
		sl_conf_free(c);
		return NULL;
	}
	if (rc != CFG_SUCCESS) {
		sl_conf_free(c);
		return NULL;
	}
	conf_check_shared(c, flags);
	if (c->errors) {
		sl_error("%s: %d error%s", path, c->errors, c->errors == 1 ? "" : "s");
		sl_conf_free(c);
		return NULL;
	}
	return c;
}

/* sl_conf_free - release a loaded configuration */
void
sl_conf_free(sl_conf *c)
{
	if (c == NULL)
		return;
	if (c->cfg)
		cfg_free(c->cfg);
	free(c->path);
	free(c);
}

/* sl_conf_redis_opts - fill client options from the redis section */
void
sl_conf_redis_opts(const sl_conf *c, sl_redis_opts *o)
{
	cfg_t  *r = cfg_getsec(c->cfg, "redis");
	const char *s;

	memset(o, 0, sizeof(*o));
	s = cfg_getstr(r, "socket");
	o->unix_path = *s ? s : NULL;
	o->host = cfg_getstr(r, "host");
	o->port = (int) cfg_getint(r, "port");
	s = cfg_getstr(r, "user");
	o->user = *s ? s : NULL;
	s = cfg_getstr(r, "password");
	o->password = *s ? s : c->redis_password[0] ? c->redis_password : NULL;
	o->db = (int) cfg_getint(r, "db");
	o->prefix = cfg_getstr(r, "prefix");
	o->connect_timeout_ms = (int) cfg_getint(r, "connect_timeout");
	o->command_timeout_ms = (int) cfg_getint(r, "command_timeout");
}

/* sl_conf_check_private_file - a key or secret must exist and be private */
int
sl_conf_check_private_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "no file name given");
		return -1;
	}
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: readable by group or others (mode %03o): "
			 "chmod 600 it", path, (unsigned) (st.st_mode & 0777));
		return -1;
	}
	return 0;
}

/*
 * sl_conf_token_ring - the token keyring of secret_file, with the
 * token_lifetime_days of the config: 0, 1 when no secret_file is set,
 * -1 with err when it cannot be used
 */
int
sl_conf_token_ring(const sl_conf *c, sl_token_ring *ring, char *err, size_t errlen)
{
	const char *path = cfg_getstr(c->cfg, "secret_file");

	memset(ring, 0, sizeof(*ring));
	if (*path == '\0')
		return 1;
	return sl_token_ring_load(path, (unsigned) cfg_getint(c->cfg, "token_lifetime_days"),
				  ring, err, errlen);
}

/*
 * NAME
 *	ctl_opendkim 3 - sluicectl import-opendkim: OpenDKIM's signing setup
 *	as sluice.conf domain sections
 * SYNOPSIS
 *	sluicectl import-opendkim [--out FILE | --out-dir DIR] /etc/opendkim.conf
 * DESCRIPTION
 *	Reads opendkim.conf's Domain, Selector and KeyFile (one key for a
 *	list of domains) and KeyTable with SigningTable (file: or refile:
 *	data sets, or a bare path, read as file:) and prints one
 *	domain "D" { dkim "S" { algorithm key } } section per signing
 *	domain, with every selector OpenDKIM would sign it with, keys left
 *	where OpenDKIM keeps them (the algorithm is read from each key).
 *	--out-dir DIR writes one DIR/<domain>.conf per domain instead (none
 *	when one exists already), the layout sluicectl dkim rotate rewrites.
 *	The output goes to FILE (created, never over an existing file) or
 *	standard output, for a file that sluice.conf includes
 *	(an include line, lib/conf_include.c) or to append.
 *
 *	What has no equivalent is not imported, and each case is named on
 *	standard error: a SigningTable pattern for one sender or a wildcard
 *	subdomain (Sluice signs per From domain), a key whose d= differs
 *	from the domain it signs for, a "%" domain in the KeyTable.
 * ERRORS
 *	Exit 0 when everything was imported, 1 (and the output all the same)
 *	when something was left out, 65 for an unreadable or malformed file
 *	or key (nothing written), 73 when FILE cannot be created, 64 on bad
 *	arguments.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"

#define OD_LINE_MAX 4096

typedef struct od_key { /* a KeyTable entry */
	char *name, *domain, *selector, *path;
} od_key;

typedef struct od_sig { /* one selector of one signing domain */
	char *domain, *selector, *path;
	const char *algorithm;
} od_sig;

typedef struct od_state {
	const char *conf;
	od_key *keys;
	size_t nkeys, capkeys;
	od_sig *sigs;
	size_t nsigs, capsigs;
	int errors, skipped;
} od_state;

/* od_error - one problem that stops the import, with file:line */
static void
od_error(od_state *st, const char *file, int line, const char *fmt, const char *arg)
{
	fprintf(stderr, "sluicectl: %s:%d: ", file, line);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	st->errors++;
}

/* od_skip - something without an equivalent, left out and named */
static void
od_skip(od_state *st, const char *file, int line, const char *what, const char *why)
{
	fprintf(stderr, "sluicectl: %s:%d: not imported: %s: %s\n", file, line, what, why);
	st->skipped++;
}

/* trim - strip a comment and surrounding blanks in place */
static char *
trim(char *s)
{
	char *hash = strchr(s, '#'), *end;

	if (hash)
		*hash = '\0';
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* safe_word - a domain, selector or path we can write between quotes */
static int
safe_word(const char *s, int path)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x21 || c == '"' || c == '\\' || c == '\'' || c >= 0x7f)
			return 0;
		if (!path && !isalnum(c) && c != '-' && c != '.' && c != '_')
			return 0;
	}
	return 1;
}

/* dataset - the file of a "file:", "refile:" or bare-path data set */
static const char *
dataset(const char *value, int *refile)
{
	*refile = 0;
	if (strncmp(value, "refile:", 7) == 0) {
		*refile = 1;
		return value + 7;
	}
	if (strncmp(value, "file:", 5) == 0)
		return value + 5;
	return value[0] == '/' ? value : NULL;
}

/* find_key - the KeyTable entry of that name */
static const od_key *
find_key(const od_state *st, const char *name)
{
	for (size_t i = 0; i < st->nkeys; i++)
		if (strcmp(st->keys[i].name, name) == 0)
			return &st->keys[i];
	return NULL;
}

/* add_sig - one selector for a domain, once, with its key's algorithm */
static void
add_sig(od_state *st, const char *file, int line, const char *domain, const char *selector,
        const char *path)
{
	char txt[2048], err[512];

	for (size_t i = 0; i < st->nsigs; i++)
		if (strcasecmp(st->sigs[i].domain, domain) == 0 &&
		    strcmp(st->sigs[i].selector, selector) == 0)
			return;
	if (!safe_word(domain, 0) || !safe_word(selector, 0) || !safe_word(path, 1)) {
		od_error(st, file, line, "unusable domain, selector or key path near \"%s\"",
		         domain);
		return;
	}
	if (ctl_dkim_txt_file(path, txt, sizeof(txt), err, sizeof(err)) < 0) {
		od_error(st, file, line, "%s", err);
		return;
	}
	st->sigs = sl_grow(st->sigs, st->nsigs, &st->capsigs, sizeof(*st->sigs));
	st->sigs[st->nsigs].domain = sl_strdup(domain);
	st->sigs[st->nsigs].selector = sl_strdup(selector);
	st->sigs[st->nsigs].path = sl_strdup(path);
	st->sigs[st->nsigs].algorithm = strstr(txt, "k=ed25519") ? "ed25519-sha256" : "rsa-sha256";
	st->nsigs++;
}

/* key_line - "name domain:selector:keypath" of a KeyTable */
static void
key_line(od_state *st, const char *file, int line, char *s)
{
	char *name = s, *val, *sel, *path;

	val = name + strcspn(name, " \t");
	if (*val == '\0') {
		od_error(st, file, line, "KeyTable line without a value: \"%s\"", name);
		return;
	}
	*val++ = '\0';
	val = trim(val);
	if ((sel = strchr(val, ':')) == NULL || (path = strchr(sel + 1, ':')) == NULL) {
		od_error(st, file, line, "KeyTable value is not domain:selector:keyfile: \"%s\"",
		         val);
		return;
	}
	*sel++ = '\0';
	*path++ = '\0';
	st->keys = sl_grow(st->keys, st->nkeys, &st->capkeys, sizeof(*st->keys));
	st->keys[st->nkeys++] =
	    (od_key){sl_strdup(name), sl_strdup(val), sl_strdup(sel), sl_strdup(path)};
}

/* pattern_domain - the From domain a SigningTable pattern stands for, or NULL */
static const char *
pattern_domain(od_state *st, const char *file, int line, const char *pat, int refile)
{
	const char *at = strchr(pat, '@');
	const char *dom = at ? at + 1 : pat;

	if (refile && strchr(dom, '*')) {
		od_skip(st, file, line, pat, "a wildcard domain: add each domain it stands for");
		return NULL;
	}
	if (at && !(refile && at == pat + 1 && pat[0] == '*')) {
		od_skip(
		    st, file, line, pat,
		    "one sender only: Sluice signs all mail of a domain (add the domain if that "
		    "is meant)");
		return NULL;
	}
	return dom;
}

/* sign_line - "pattern keyname[,keyname...]" of a SigningTable */
static void
sign_line(od_state *st, const char *file, int line, char *s, int refile)
{
	char *pat = s, *names, *name, *save = NULL;
	const char *dom;

	names = pat + strcspn(pat, " \t");
	if (*names == '\0') {
		od_error(st, file, line, "SigningTable line without a key name: \"%s\"", pat);
		return;
	}
	*names++ = '\0';
	if ((dom = pattern_domain(st, file, line, pat, refile)) == NULL)
		return;
	for (name = strtok_r(names, " \t,", &save); name; name = strtok_r(NULL, " \t,", &save)) {
		const od_key *k = find_key(st, name);

		if (k == NULL) {
			od_error(st, file, line, "key \"%s\" is not in the KeyTable", name);
		} else if (strcmp(k->domain, "%") == 0) {
			add_sig(st, file, line, dom, k->selector, k->path);
		} else if (strcasecmp(k->domain, dom) != 0) {
			od_skip(st, file, line, pat,
			        "its key signs with another d= domain; Sluice signs with the From "
			        "domain "
			        "(or a parent: sign_parent)");
		} else {
			add_sig(st, file, line, dom, k->selector, k->path);
		}
	}
}

/* read_table - every line of a data set file through fn */
static void
read_table(od_state *st, const char *path, int refile,
           void (*fn)(od_state *, const char *, int, char *, int))
{
	char buf[OD_LINE_MAX];
	FILE *f = fopen(path, "r");
	int line = 0;

	if (f == NULL) {
		od_error(st, path, 0, "%s", strerror(errno));
		return;
	}
	while (fgets(buf, sizeof(buf), f)) {
		char *s;

		line++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			od_error(st, path, line, "line longer than %s bytes", "4096");
			break;
		}
		if (*(s = trim(buf)) != '\0')
			fn(st, path, line, s, refile);
	}
	fclose(f);
}

/* key_line_fn - read_table's shape for key_line */
static void
key_line_fn(od_state *st, const char *file, int line, char *s, int refile)
{
	(void)refile;
	key_line(st, file, line, s);
}

typedef struct od_conf { /* what opendkim.conf says */
	char domain[OD_LINE_MAX], selector[256], keyfile[1024];
	char keytable[1024], signingtable[1024];
	int line_domain;
} od_conf;

/* read_conf - the options of opendkim.conf that decide what is signed */
static int
read_conf(od_state *st, const char *path, od_conf *oc)
{
	char buf[OD_LINE_MAX];
	FILE *f = fopen(path, "r");
	int line = 0;

	if (f == NULL) {
		od_error(st, path, 0, "%s", strerror(errno));
		return -1;
	}
	while (fgets(buf, sizeof(buf), f)) {
		char *s = trim(buf), *val;

		line++;
		if (*s == '\0')
			continue;
		val = s + strcspn(s, " \t");
		if (*val)
			*val++ = '\0';
		val = trim(val);
		if (strcasecmp(s, "Domain") == 0) {
			snprintf(oc->domain, sizeof(oc->domain), "%s", val);
			oc->line_domain = line;
		} else if (strcasecmp(s, "Selector") == 0) {
			snprintf(oc->selector, sizeof(oc->selector), "%s", val);
		} else if (strcasecmp(s, "KeyFile") == 0) {
			snprintf(oc->keyfile, sizeof(oc->keyfile), "%s", val);
		} else if (strcasecmp(s, "KeyTable") == 0) {
			snprintf(oc->keytable, sizeof(oc->keytable), "%s", val);
		} else if (strcasecmp(s, "SigningTable") == 0) {
			snprintf(oc->signingtable, sizeof(oc->signingtable), "%s", val);
		}
	}
	fclose(f);
	return 0;
}

/* import_single - Domain + Selector + KeyFile: one key for each listed domain */
static void
import_single(od_state *st, const od_conf *oc)
{
	char list[OD_LINE_MAX], *d, *save = NULL;

	if (strchr(oc->domain, ':')) {
		od_skip(st, st->conf, oc->line_domain, oc->domain,
		        "a Domain data set: list the domains (Domain a.example, b.example)");
		return;
	}
	snprintf(list, sizeof(list), "%s", oc->domain);
	for (d = strtok_r(list, " \t,", &save); d; d = strtok_r(NULL, " \t,", &save))
		add_sig(st, st->conf, oc->line_domain, d, oc->selector, oc->keyfile);
}

/* import_tables - KeyTable and SigningTable */
static void
import_tables(od_state *st, const od_conf *oc)
{
	int krefile, srefile;
	const char *kt = dataset(oc->keytable, &krefile),
	           *stb = dataset(oc->signingtable, &srefile);

	if (kt == NULL || krefile) {
		od_error(st, st->conf, 0, "KeyTable \"%s\": only file: data sets are read",
		         oc->keytable);
		return;
	}
	if (stb == NULL) {
		od_error(st, st->conf, 0, "SigningTable \"%s\": only file: and refile: are read",
		         oc->signingtable);
		return;
	}
	read_table(st, kt, 0, key_line_fn);
	if (st->errors == 0)
		read_table(st, stb, srefile, sign_line);
}

/* first_of_domain - sigs[i] is the first signature of its domain */
static int
first_of_domain(const od_state *st, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcasecmp(st->sigs[j].domain, st->sigs[i].domain) == 0)
			return 0;
	return 1;
}

/* write_domain - the section of sigs[i]'s domain, with every selector of it */
static void
write_domain(const od_state *st, FILE *fp, size_t i)
{
	fprintf(fp, "domain \"%s\" {\n", st->sigs[i].domain);
	for (size_t j = i; j < st->nsigs; j++)
		if (strcasecmp(st->sigs[j].domain, st->sigs[i].domain) == 0)
			fprintf(fp, "  dkim \"%s\" { algorithm = \"%s\"  key = \"%s\" }\n",
			        st->sigs[j].selector, st->sigs[j].algorithm, st->sigs[j].path);
	fprintf(fp, "}\n");
}

/* write_head - what the file is, and what to do with the keys */
static void
write_head(const od_state *st, FILE *fp)
{
	fprintf(
	    fp,
	    "# sluice.conf domain sections imported from %s by sluicectl import-opendkim.\n"
	    "# Include from sluice.conf (include \"conf.d/NAME.conf\") or append; the keys stay\n"
	    "# where OpenDKIM had them: make them readable by Sluice's service user only\n"
	    "# (chown sluice KEY; chmod 600 KEY).\n",
	    st->conf);
}

/* write_out - the domain sections, grouped by domain in order of appearance */
static int
write_out(const od_state *st, FILE *fp)
{
	write_head(st, fp);
	for (size_t i = 0; i < st->nsigs; i++)
		if (first_of_domain(st, i))
			write_domain(st, fp, i);
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

/* domain_path - DIR/<domain>.conf; -1 when too long */
static int
domain_path(const char *dir, const char *domain, char *out, size_t size)
{
	return snprintf(out, size, "%s/%s.conf", dir, domain) < (int)size ? 0 : -1;
}

/*
 * write_dir - one file per domain in dir (what dkim rotate rewrites),
 * created new; when one exists already, nothing is written
 */
static int
write_dir(const od_state *st, const char *dir)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < st->nsigs; i++)
		if (first_of_domain(st, i) &&
		    (domain_path(dir, st->sigs[i].domain, path, sizeof(path)) < 0 ||
		     access(path, F_OK) == 0)) {
			fprintf(stderr, "sluicectl: %s: exists (nothing written)\n", path);
			return EX_CANTCREAT;
		}
	for (size_t i = 0; i < st->nsigs; i++) {
		int fd;
		FILE *fp;

		if (!first_of_domain(st, i))
			continue;
		domain_path(dir, st->sigs[i].domain, path, sizeof(path));
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
		    (fp = fdopen(fd, "w")) == NULL) {
			fprintf(stderr, "sluicectl: %s: %s\n", path, strerror(errno));
			return EX_CANTCREAT;
		}
		write_head(st, fp);
		write_domain(st, fp, i);
		if (fclose(fp) != 0) {
			fprintf(stderr, "sluicectl: %s: %s\n", path, strerror(errno));
			return EX_IOERR;
		}
	}
	return 0;
}

/* free_state - everything read */
static void
free_state(od_state *st)
{
	for (size_t i = 0; i < st->nkeys; i++) {
		free(st->keys[i].name);
		free(st->keys[i].domain);
		free(st->keys[i].selector);
		free(st->keys[i].path);
	}
	for (size_t i = 0; i < st->nsigs; i++) {
		free(st->sigs[i].domain);
		free(st->sigs[i].selector);
		free(st->sigs[i].path);
	}
	free(st->keys);
	free(st->sigs);
}

/* open_out - FILE, created new, or standard output */
static FILE *
open_out(const char *path)
{
	int fd;

	if (path == NULL)
		return stdout;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		fprintf(stderr, "sluicectl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	return fdopen(fd, "w");
}

/* ctl_import_opendkim - sluicectl import-opendkim [--out FILE] OPENDKIM.CONF */
int
ctl_import_opendkim(ctl_ctx *ctx, int argc, char **argv)
{
	od_state st = {0};
	od_conf oc = {0};
	const char *out = NULL, *dir = NULL;
	FILE *fp;
	int rc;
	const ctl_opt opts[] = {CTL_ARG("out", &out), CTL_ARG("out-dir", &dir), CTL_OPT_END};

	st.conf = argv[ctl_getopt(ctx, argc, argv, opts, 1, 1)];
	if (out && dir)
		ctl_usage(ctx);
	if (read_conf(&st, st.conf, &oc) == 0) {
		if (*oc.keytable || *oc.signingtable)
			import_tables(&st, &oc);
		if (*oc.domain && *oc.selector && *oc.keyfile)
			import_single(&st, &oc);
		else if (!*oc.keytable && !*oc.signingtable)
			od_error(&st, st.conf, 0, "%s",
			         "neither KeyTable/SigningTable nor Domain, Selector and KeyFile");
	}
	if (st.errors) {
		free_state(&st);
		return EX_DATAERR;
	}
	if (dir) {
		rc = write_dir(&st, dir);
		rc = rc ? rc : st.skipped ? CTL_NO : 0;
	} else if ((fp = open_out(out)) == NULL) {
		free_state(&st);
		return EX_CANTCREAT;
	} else {
		rc = write_out(&st, fp) < 0 ? EX_IOERR : st.skipped ? CTL_NO : 0;
		if (fp != stdout && fclose(fp) != 0)
			rc = EX_IOERR;
	}
	if (st.nsigs == 0)
		fprintf(stderr, "sluicectl: %s: no domain imported\n", st.conf);
	free_state(&st);
	return rc;
}

/*
 * NAME
 *	ctl_rotate 3 - sluicectl dkim rotate: a staged DKIM key rotation
 * SYNOPSIS
 *	sluicectl dkim rotate DOMAIN --selector NEW [--algorithm A] [--bits N]
 *				     [--owner USER] [--key-dir DIR]	(publish)
 *	sluicectl dkim rotate DOMAIN --switch [--nameserver IP[:PORT]]
 *	sluicectl dkim rotate DOMAIN --retire
 *	sluicectl dkim rotate DOMAIN				(where it stands)
 * DESCRIPTION
 *	What OpenDKIM admins do by hand, in three steps, each of which
 *	rewrites the domain's section of sluice.conf:
 *
 *	publish: a new key for selector NEW (as dkim keygen: the key, its
 *	.txt zone-file line, printed), not signing yet; the file records
 *	the pending rotation in its first line. Publish the record.
 *	switch: only once the record is published, as the resolver (or
 *	--nameserver, e.g. the zone's primary) answers it, with the very
 *	public key of NEW: the section signs with NEW first and still with
 *	the old selectors (both signatures for a grace period, so a
 *	verifier caching the old record is fine). Reload the milter.
 *	retire: NEW only; the old records can go once mail signed with them
 *	is delivered (a few days: queued and retried mail).
 *
 *	The domain's section must be in a file of its own, which sluice.conf
 *	includes (an include line, sluice.conf(5)): sluicectl
 *	rewrites that file whole (its options kept, comments not), through a
 *	temporary file and rename(2), mode and owner kept. The new file is
 *	checked as the daemons will read it before it replaces the old one.
 * ERRORS
 *	64 bad arguments, 65 the state does not allow the step (no rotation
 *	pending, already switched, the record not published or different),
 *	73 a file cannot be written, 75 DNS did not answer, 78 the section is
 *	not in a file of its own.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "dns.h"
#include "log.h"

#define STATE_TAG "# sluicectl-rotate:"
#define KEYS_MAX 8

typedef struct rot_key {
	char sel[64], alg[32], path[PATH_MAX];
} rot_key;

typedef struct rot_state {
	char stage[16];  /* "", "publish", "switched" */
	rot_key next;    /* publish: the new key */
	char old[256];   /* switched: the selectors being retired, comma-separated */
	long long since; /* unix time of the last step */
} rot_state;

typedef struct rot_domain {
	const char *name, *file;
	const char *default_category;
	int sign_parent;
	rot_key keys[KEYS_MAX];
	int nkeys;
	rot_state st;
} rot_domain;

/* state_field - the value of name=... in a state line, into out */
static void
state_field(const char *line, const char *name, char *out, size_t size)
{
	char pat[40];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", name);
	out[0] = '\0';
	if ((p = strstr(line, pat)) != NULL)
		snprintf(out, size, "%.*s", (int)strcspn(p + strlen(pat), " \n"), p + strlen(pat));
}

/* read_state - the rotation state line at the top of the domain's file */
static void
read_state(rot_domain *d)
{
	FILE *f = fopen(d->file, "r");
	char line[4096], num[32];

	memset(&d->st, 0, sizeof(d->st));
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, STATE_TAG, strlen(STATE_TAG)) == 0) {
			state_field(line, "stage", d->st.stage, sizeof(d->st.stage));
			state_field(line, "new", d->st.next.sel, sizeof(d->st.next.sel));
			state_field(line, "algorithm", d->st.next.alg, sizeof(d->st.next.alg));
			state_field(line, "key", d->st.next.path, sizeof(d->st.next.path));
			state_field(line, "old", d->st.old, sizeof(d->st.old));
			state_field(line, "since", num, sizeof(num));
			d->st.since = atoll(num);
			break;
		}
	fclose(f);
}

/* alone_in_file - no other section of the configuration is in the domain's file */
static int
alone_in_file(ctl_ctx *ctx, const struct sl_site_domain *dom, const char *file)
{
	static const char *plain[] = {"redis", "milter", "policyd", "feedback", "logd"};
	const sl_site *s = ctx->conf->site;
	cfg_t *cfg = ctx->conf->cfg;

	if (strcmp(file, ctx->conf->path) == 0)
		return 0;
	for (size_t i = 0; i < s->ndomains; i++)
		if (&s->domains[i] != dom && strcmp(s->domains[i].file, file) == 0)
			return 0;
	for (size_t i = 0; i < s->ncategories; i++)
		if (strcmp(s->categories[i].file, file) == 0)
			return 0;
	for (size_t i = 0; i < s->ntenants; i++)
		if (strcmp(s->tenants[i].file, file) == 0)
			return 0;
	for (size_t t = 0; t < 5; t++)
		if (sl_conf_present(ctx->conf, plain[t]) &&
		    strcmp(sl_conf_file_of(ctx->conf, cfg_getsec(cfg, plain[t])), file) == 0)
			return 0;
	return 1;
}

/* load_domain - the domain's section as configured; -1 (exit code in *rc) */
static int
load_domain(ctl_ctx *ctx, const char *name, rot_domain *d, int *rc)
{
	const struct sl_site_domain *sec = sl_site_domain(ctx->conf->site, name);

	memset(d, 0, sizeof(*d));
	if (sec == NULL) {
		ctl_err("domain %s is not in %s", name, ctx->conf_path);
		*rc = EX_DATAERR;
		return -1;
	}
	d->name = sec->name;
	d->file = sec->file;
	if (!alone_in_file(ctx, sec, d->file)) {
		ctl_err(
		    "domain %s is written in %s with other settings: move its section to a "
		    "file of its own that sluice.conf includes (include \"conf.d/%s.conf\"), so "
		    "sluicectl can rewrite it",
		    name, d->file, name);
		*rc = EX_CONFIG;
		return -1;
	}
	d->default_category = sec->default_category;
	d->sign_parent = sec->sign_parent;
	for (size_t i = 0; i < sec->nkeys && d->nkeys < KEYS_MAX; i++) {
		const sl_site_key *k = &sec->keys[i];
		rot_key *r = &d->keys[d->nkeys++];

		snprintf(r->sel, sizeof(r->sel), "%s", k->selector);
		snprintf(r->alg, sizeof(r->alg), "%s", k->algorithm);
		snprintf(r->path, sizeof(r->path), "%s", k->path);
	}
	read_state(d);
	return 0;
}

/* write_section - the state line and the domain section */
static void
write_section(FILE *f, const rot_domain *d)
{
	if (*d->st.stage) {
		fprintf(f, "%s stage=%s new=%s", STATE_TAG, d->st.stage, d->st.next.sel);
		if (strcmp(d->st.stage, "publish") == 0)
			fprintf(f, " algorithm=%s key=%s", d->st.next.alg, d->st.next.path);
		else
			fprintf(f, " old=%s", d->st.old);
		fprintf(f, " since=%lld\n", d->st.since);
	}
	fprintf(f,
	        "# The section of %s, rewritten by sluicectl dkim rotate (comments are not "
	        "kept).\n",
	        d->name);
	fprintf(f, "domain \"%s\" {\n", d->name);
	if (*d->default_category)
		fprintf(f, "  default_category = \"%s\"\n", d->default_category);
	if (d->sign_parent)
		fprintf(f, "  sign_parent = true\n");
	for (int i = 0; i < d->nkeys; i++)
		fprintf(f, "  dkim \"%s\" {\n    algorithm = \"%s\"\n    key = \"%s\"\n  }\n",
		        d->keys[i].sel, d->keys[i].alg, d->keys[i].path);
	fprintf(f, "}\n");
}

/* rewrite - replace the domain's file: temporary file, checked, renamed */
static int
rewrite(ctl_ctx *ctx, const rot_domain *d)
{
	char tmp[PATH_MAX];
	struct stat st;
	FILE *f;
	int fd;
	sl_conf *check;

	if (stat(d->file, &st) < 0 ||
	    snprintf(tmp, sizeof(tmp), "%s.rotate-XXXXXX", d->file) >= (int)sizeof(tmp) ||
	    (fd = mkstemp(tmp)) < 0 || (f = fdopen(fd, "w")) == NULL) {
		ctl_err("%s: cannot write: %s", d->file, strerror(errno));
		return EX_CANTCREAT;
	}
	write_section(f, d);
	if (fchmod(fd, st.st_mode & 07777) < 0 || fchown(fd, st.st_uid, st.st_gid) < 0 ||
	    fclose(f) != 0) {
		ctl_err("%s: cannot write: %s", tmp, strerror(errno));
		unlink(tmp);
		return EX_CANTCREAT;
	}
	/* the section must load as the daemons will read it (keys private, names valid) */
	(void)ctx;
	if ((check = sl_conf_load(tmp)) == NULL) {
		ctl_err("%s: the rewritten section does not load: nothing changed", d->file);
		unlink(tmp);
		return EX_CONFIG;
	}
	sl_conf_free(check);
	if (rename(tmp, d->file) < 0) {
		ctl_err("%s: %s", d->file, strerror(errno));
		unlink(tmp);
		return EX_CANTCREAT;
	}
	return 0;
}

/* show - where the rotation stands */
static int
show(const rot_domain *d)
{
	char when[64] = "-";

	if (d->st.since)
		ctl_iso_time((time_t)d->st.since, when, sizeof(when));
	printf("domain: %s (%s)\nsigning with:", d->name, d->file);
	for (int i = 0; i < d->nkeys; i++)
		printf(" %s", d->keys[i].sel);
	printf("\nrotation: %s", *d->st.stage ? d->st.stage : "none");
	if (strcmp(d->st.stage, "publish") == 0)
		printf(" (new selector %s since %s: publish its record, then --switch)",
		       d->st.next.sel, when);
	else if (*d->st.stage)
		printf(" (since %s: both sign; --retire drops %s)", when, d->st.old);
	printf("\n");
	return 0;
}

/* key_dir - where the new key goes: --key-dir, else beside the current key */
static void
key_dir(const rot_domain *d, const char *opt, char *out, size_t size)
{
	const char *slash = d->nkeys ? strrchr(d->keys[0].path, '/') : NULL;

	if (opt)
		snprintf(out, size, "%s", opt);
	else if (slash)
		snprintf(out, size, "%.*s", (int)(slash - d->keys[0].path), d->keys[0].path);
	else
		snprintf(out, size, ".");
}

/* publish - a new key, not signing yet; its record printed */
static int
publish(ctl_ctx *ctx, rot_domain *d, const char *sel, const char *alg, const char *bits,
        const char *owner, const char *dir_opt)
{
	char dir[PATH_MAX], *argv[16];
	int argc = 0, rc;
	int ed = alg && strncmp(alg, "ed25519", 7) == 0;

	if (*d->st.stage) {
		ctl_err("domain %s: a rotation is under way (%s of %s): finish it first", d->name,
		        d->st.stage, d->st.next.sel);
		return EX_DATAERR;
	}
	for (int i = 0; i < d->nkeys; i++)
		if (strcmp(d->keys[i].sel, sel) == 0) {
			ctl_err("domain %s: selector %s signs already: choose a new one", d->name,
			        sel);
			return EX_DATAERR;
		}
	key_dir(d, dir_opt, dir, sizeof(dir));
	argv[argc++] = "keygen", argv[argc++] = "--domain", argv[argc++] = (char *)d->name;
	argv[argc++] = "--selector", argv[argc++] = (char *)sel, argv[argc++] = "--out";
	argv[argc++] = dir;
	if (alg)
		argv[argc++] = "--algorithm", argv[argc++] = (char *)alg;
	if (bits)
		argv[argc++] = "--bits", argv[argc++] = (char *)bits;
	if (owner)
		argv[argc++] = "--owner", argv[argc++] = (char *)owner;
	argv[argc] = NULL;
	optind = 0;
	if ((rc = ctl_dkim_keygen(ctx, argc, argv)) != 0)
		return rc;
	snprintf(d->st.stage, sizeof(d->st.stage), "publish");
	snprintf(d->st.next.sel, sizeof(d->st.next.sel), "%s", sel);
	snprintf(d->st.next.alg, sizeof(d->st.next.alg), "%s",
	         ed ? "ed25519-sha256" : "rsa-sha256");
	if (realpath(dir, d->st.next.path) == NULL)
		snprintf(d->st.next.path, sizeof(d->st.next.path), "%s", dir);
	snprintf(d->st.next.path + strlen(d->st.next.path),
	         sizeof(d->st.next.path) - strlen(d->st.next.path), "/%s.%s.pem", d->name, sel);
	d->st.since = (long long)time(NULL);
	if ((rc = rewrite(ctx, d)) != 0)
		return rc;
	printf("; publish the record above, then: sluicectl dkim rotate %s --switch\n", d->name);
	return 0;
}

/* published - the new selector's record, as DNS answers it, carries its key */
static int
published(const rot_domain *d, const char *server)
{
	char want[2048], err[256], name[600];
	const char *p;
	sl_dns *dns = sl_dns_new(NULL, 5, err, sizeof(err));
	sl_dns_ans ans = {0};
	enum sl_dns_status st;
	int found = 0;

	if (dns == NULL || (server && sl_dns_set_server(dns, server, err, sizeof(err)) < 0) ||
	    ctl_dkim_txt_file(d->st.next.path, want, sizeof(want), err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		sl_dns_free(dns);
		return EX_DATAERR;
	}
	snprintf(name, sizeof(name), "%s._domainkey.%s", d->st.next.sel, d->name);
	st = sl_dns_query(dns, name, SL_DNS_TXT, &ans);
	sl_dns_free(dns);
	if (st == SL_DNS_TEMP) {
		ctl_err("%s TXT: no answer from DNS (try again, or --nameserver)", name);
		sl_dns_ans_free(&ans);
		return EX_TEMPFAIL;
	}
	p = strstr(want, "p=");
	for (int i = 0; st == SL_DNS_FOUND && i < ans.n; i++)
		found |= p && strstr(ans.rr[i], p) != NULL;
	sl_dns_ans_free(&ans);
	if (!found) {
		ctl_err("%s TXT: %s: publish the record first (or wait for it to propagate)", name,
		        st == SL_DNS_FOUND ? "another key is published" : "no record");
		return EX_DATAERR;
	}
	return 0;
}

/* do_switch - sign with the new selector first, and still the old ones */
static int
do_switch(ctl_ctx *ctx, rot_domain *d, const char *server)
{
	size_t o = 0;
	int rc;

	if (strcmp(d->st.stage, "publish") != 0) {
		ctl_err("domain %s: nothing to switch to (%s)", d->name,
		        *d->st.stage ? "already switched: --retire next"
		                     : "no rotation: --selector");
		return EX_DATAERR;
	}
	if ((rc = published(d, server)) != 0)
		return rc;
	if (d->nkeys == KEYS_MAX) {
		ctl_err("domain %s: %d keys already", d->name, KEYS_MAX);
		return EX_DATAERR;
	}
	d->st.old[0] = '\0';
	for (int i = 0; i < d->nkeys; i++)
		o += (size_t)snprintf(d->st.old + o,
		                      o < sizeof(d->st.old) ? sizeof(d->st.old) - o : 0, "%s%s",
		                      i ? "," : "", d->keys[i].sel);
	memmove(d->keys + 1, d->keys, (size_t)d->nkeys * sizeof(*d->keys));
	d->keys[0] = d->st.next;
	d->nkeys++;
	snprintf(d->st.stage, sizeof(d->st.stage), "switched");
	d->st.since = (long long)time(NULL);
	if ((rc = rewrite(ctx, d)) != 0)
		return rc;
	printf("domain %s: signing with %s and %s; reload sluice-milter (systemctl reload "
	       "sluice-milter), then after a grace period: sluicectl dkim rotate %s --retire\n",
	       d->name, d->st.next.sel, d->st.old, d->name);
	return 0;
}

/* retire - only the new selector signs; the old records may go later */
static int
retire(ctl_ctx *ctx, rot_domain *d)
{
	char first[64];
	int rc;

	if (strcmp(d->st.stage, "switched") != 0) {
		ctl_err("domain %s: nothing to retire (%s)", d->name,
		        *d->st.stage ? "not switched yet: --switch first" : "no rotation");
		return EX_DATAERR;
	}
	for (int i = 0; i < d->nkeys; i++)
		if (strcmp(d->keys[i].sel, d->st.next.sel) == 0) {
			d->keys[0] = d->keys[i];
			break;
		}
	d->nkeys = 1;
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(d->st.old, ","), d->st.old);
	printf("domain %s: signing with %s only; reload sluice-milter. Remove the records of %s "
	       "(%s._domainkey.%s ...) in a few days, when mail signed with them is delivered.\n",
	       d->name, d->keys[0].sel, d->st.old, first, d->name);
	memset(&d->st, 0, sizeof(d->st));
	rc = rewrite(ctx, d);
	return rc;
}

/* ctl_dkim_rotate - one step of a DKIM key rotation (see DESCRIPTION) */
int
ctl_dkim_rotate(ctl_ctx *ctx, int argc, char **argv)
{
	const char *sel = NULL, *alg = NULL, *bits = NULL, *owner = NULL, *dir = NULL, *ns = NULL;
	int sw = 0, ret = 0, rc = 0, i;
	rot_domain d;
	const ctl_opt opts[] = {
	    CTL_ARG("selector", &sel), CTL_ARG("algorithm", &alg), CTL_ARG("bits", &bits),
	    CTL_ARG("owner", &owner),  CTL_ARG("key-dir", &dir),   CTL_FLAG("switch", &sw),
	    CTL_FLAG("retire", &ret),  CTL_ARG("nameserver", &ns), CTL_OPT_END};

	i = ctl_getopt(ctx, argc, argv, opts, 1, 1);
	if ((sel != NULL) + sw + ret > 1 || ((alg || bits || owner || dir) && !sel) || (ns && !sw))
		ctl_usage(ctx);
	if (load_domain(ctx, argv[i], &d, &rc) < 0)
		return rc;
	if (sel)
		return publish(ctx, &d, sel, alg, bits, owner, dir);
	if (sw)
		return do_switch(ctx, &d, ns);
	if (ret)
		return retire(ctx, &d);
	return show(&d);
}

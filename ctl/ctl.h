/*
 * NAME
 *	ctl 3h - private interfaces of sluicectl, one section per file
 * DESCRIPTION
 *	sluicectl is one file of wiring (ctl_main.c: options, config, the
 *	command table) plus one file per concern. Commands get a ctl_ctx and
 *	their own argv (argv[0] is the subcommand's name, for getopt_long)
 *	and return an exit status: 0, 1 (a negative answer: not suppressed,
 *	not found, token does not verify), or one of sysexits(3).
 * ERRORS
 *	Redis trouble ends the process with EX_TEMPFAIL (75) after one
 *	clear message (ctl_redis.c); bad arguments end it with EX_USAGE
 *	(64) and the command's usage line (ctl_usage()).
 */
#ifndef SL_CTL_H
#define SL_CTL_H

#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "keyspace.h"
#include "redis.h"
#include "site.h"

/* Exit statuses beyond sysexits(3). */
#define CTL_NO		1		/* a negative answer */

/*
 * ctl_main.c - options, config, dispatch.
 */
typedef struct ctl_ctx {
	const char *conf_path;		/* -c, or the default */
	sl_conf *conf;			/* loaded before any command runs */
	sl_redis *redis;		/* connected on first use */
	const char *prefix;		/* key prefix, "sluice:" by default */
	const char *usage;		/* "suppress add ADDRESS [...]" */
	int	any_keyspace;		/* sluicectl migrate: no keyspace format check */
} ctl_ctx;

typedef int ctl_fn(ctl_ctx *ctx, int argc, char **argv);

void	ctl_usage(const ctl_ctx *ctx) __attribute__((noreturn));
void	ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * ctl_util.c - arguments, names, time, output helpers (no Redis).
 */
int	ctl_label_ok(const char *s);
int	ctl_scope_parse(const char *in, char *out, size_t outlen);
int	ctl_parse_long(const char *s, long long min, long long max, long long *out);
void	ctl_age(time_t then, time_t now, char *out, size_t outlen);
void	ctl_iso_time(time_t t, char *out, size_t outlen);
void	ctl_glob_escape(const char *in, char *out, size_t outlen);
void	ctl_print_value(FILE *fp, const char *s);

/*
 * ctl_opts.c - a subcommand's long options from one table.
 */
/*
 * One long option of a subcommand: "--name VALUE" into *arg (each VALUE
 * checked by valid, when given, as it comes), or "--name" sets *flag.
 */
typedef struct ctl_opt {
	const char *name;
	const char **arg;
	int    *flag;
	int	(*valid)(const char *value);
} ctl_opt;
#define CTL_ARG(name, p)		{(name), (p), NULL, NULL}
#define CTL_CHECKED(name, p, fn)	{(name), (p), NULL, (fn)}
#define CTL_FLAG(name, p)		{(name), NULL, (p), NULL}
#define CTL_OPT_END			{NULL, NULL, NULL, NULL}
#define CTL_ANY_ARGS 0x7fffffff	/* no upper bound on operands */
int	ctl_getopt(const ctl_ctx *ctx, int argc, char **argv, const ctl_opt *opts,
		   int min_args, int max_args);

/*
 * ctl_redis.c - the Redis side: keys, commands that exit on failure, SCAN.
 */
#define CTL_KEY_MAX 1024

int	ctl_key(const ctl_ctx *ctx, char *out, size_t outlen, enum sl_key_kind kind, ...);
sl_reply *ctl_cmdv(ctl_ctx *ctx, int argc, const char **argv);
sl_reply *ctl_cmd_ok(ctl_ctx *ctx, int argc, const char **argv);
sl_reply *ctl_eval(ctl_ctx *ctx, sl_script *script, int nkeys, int argc,
		   const char **argv);
sl_reply *ctl_hgetall(ctl_ctx *ctx, const char *key);
const char *ctl_hget(const sl_reply *hash, const char *field);
typedef int ctl_scan_fn(ctl_ctx *ctx, const char *key, void *arg);
int	ctl_scan(ctl_ctx *ctx, const char *pattern, ctl_scan_fn *fn, void *arg);
void	ctl_print_hash(FILE *fp, const sl_reply *hash, const char *indent);
int ctl_cluster(const ctl_ctx *ctx);
/* moves across Cluster slots: pair() moves scratch to to in one slot, 1 if it took it */
typedef int ctl_pair_fn(ctl_ctx *ctx, const char *scratch, const char *to, void *arg);
enum { CTL_XSLOT_GONE, CTL_XSLOT_MOVED, CTL_XSLOT_LEFT, CTL_XSLOT_CHANGED };
int ctl_xslot_move(ctl_ctx *ctx, const char *from, const char *field, const char *to,
                   ctl_pair_fn *pair, void *arg);

/*
 * ctl_csv.c - the suppression-list reader (pure: no Redis, no config).
 * Reads a file line by line; the first non-blank line decides the
 * layout: a header naming an address column (our own export, Amazon
 * SES, Postmark, SendGrid, Mailgun, Mailchimp ...) or data whose first
 * column is the address. Bad lines are handed to the bad callback with
 * their line number; blank lines and "#" comments are skipped.
 */
#define CTL_CSV_LINE_MAX	4096	/* longer lines are bad lines */
#define CTL_CSV_FIELDS		64

typedef struct ctl_csv_row {
	int	nfields;
	char   *field[CTL_CSV_FIELDS];
	char	buf[CTL_CSV_LINE_MAX + 1];
} ctl_csv_row;

typedef struct ctl_csv_layout {
	char	delim;			/* ',' ';' or '\t' */
	int	header;			/* the first line was a header */
	int	addr_col;		/* 0-based */
	int	reason_col;		/* -1: none */
	int	time_col;		/* -1: none */
	const char *vendor;		/* "Amazon SES", "Postmark", ... */
	int	addr_flags;		/* sl_addr_normalize() flags, set by the caller */
} ctl_csv_layout;

typedef struct ctl_csv_rec {
	long	line;
	char	addr[321];		/* normalized (domain lowercased) */
	const char *reason;		/* mapped from the file, NULL: use default */
	time_t	added;			/* from the file, 0: now */
	char	vendor_reason[256];	/* the file's own reason text, for detail */
} ctl_csv_rec;

typedef struct ctl_csv_stats {
	long	lines, records, bad, skipped;
} ctl_csv_stats;

typedef int ctl_csv_rec_fn(const ctl_csv_rec *rec, void *arg);
typedef void ctl_csv_bad_fn(long line, const char *why, void *arg);

int	ctl_csv_split(const char *line, char delim, ctl_csv_row *row,
		      const char **err);
char	ctl_csv_delim(const char *line);
void	ctl_csv_detect(const char *line, ctl_csv_layout *lay);
int	ctl_csv_addr(const char *in, int flags, char *out, size_t outlen,
		     const char **err);
const char *ctl_csv_reason(const char *vendor_reason);
time_t	ctl_csv_time(const char *s);
int	ctl_csv_record(const ctl_csv_layout *lay, const char *line,
		       ctl_csv_rec *rec, const char **err);
int	ctl_csv_read(FILE *fp, ctl_csv_layout *lay, ctl_csv_rec_fn *rec_fn,
		     ctl_csv_bad_fn *bad_fn, void *arg, ctl_csv_stats *st);

/*
 * ctl_dkim.c - DKIM keys (OpenSSL 3): generate, and the DNS TXT value.
 */
int	ctl_dkim_txt_file(const char *path, char *out, size_t outlen,
			  char *err, size_t errlen);
void	ctl_dkim_print_txt(FILE *fp, const char *name, const char *value);

/*
 * ctl_dns.c - the records a configured domain needs (printed by dns,
 * looked up by doctor).
 */
enum ctl_rr_kind { CTL_RR_NOTE, CTL_RR_DKIM, CTL_RR_MX, CTL_RR_SPF, CTL_RR_DMARC };

typedef struct ctl_rr {
	enum ctl_rr_kind kind;
	char	name[300];		/* owner name, no trailing dot */
	char	value[2048];		/* TXT value, or the MX host */
	char	comment[200];		/* printed before it; all of a NOTE */
} ctl_rr;

typedef struct ctl_dns_plan {
	ctl_rr *rr;
	int	n, cap;
	int	errors;			/* key files that could not be read */
} ctl_dns_plan;

int	ctl_dns_plan_make(const ctl_ctx *ctx, const char *domain, const char *mx,
		     const char *rua, const char *spf, ctl_dns_plan *p);
void	ctl_dns_plan_free(ctl_dns_plan *p);
const char *ctl_dns_host(const char *mx, char *buf, size_t buflen);
int	ctl_dns_qualified(const char *host);

/*
 * The commands, one file per concern.
 */
ctl_fn	ctl_suppress_add, ctl_suppress_remove, ctl_suppress_check,
	ctl_suppress_list, ctl_suppress_import, ctl_suppress_export;
ctl_fn	ctl_suppress_functions, ctl_suppress_prune, ctl_suppress_migrate; /* ctl_suppress_migrate.c */
struct sl_supp_layout;
void	ctl_supp_layout(ctl_ctx *ctx, struct sl_supp_layout *l);	/* suppression { } */
int	ctl_supp_load_functions(ctl_ctx *ctx, int quiet);	/* FCALL sluice_supp_*; 0 or -1 */
void	ctl_supp_pattern(const ctl_ctx *ctx, char *out, size_t outlen); /* SCAN: both layouts */
ctl_fn	ctl_tenant_status, ctl_tenant_show, ctl_tenant_list;
ctl_fn	ctl_tenant_policy;	/* ctl_relay.c */
ctl_fn	ctl_sasl_set, ctl_sasl_show;
ctl_fn	ctl_limits_list, ctl_limits_show, ctl_limits_set, ctl_limits_remove;
ctl_fn	ctl_mode;
ctl_fn	ctl_stats;
ctl_fn	ctl_block;
ctl_fn	ctl_transports;
ctl_fn	ctl_subdomain;
ctl_fn	ctl_events;
ctl_fn	ctl_migrate;					/* ctl_migrate.c */
int	ctl_migrate_names(ctl_ctx *ctx, int dry);	/* ctl_migrate_names.c */
ctl_fn	ctl_token_decode, ctl_token_encode;
void	ctl_token_ring(const ctl_ctx *ctx, sl_token_ring *ring);	/* or exit 78 */
ctl_fn	ctl_secret_init, ctl_secret_rotate, ctl_secret_list;	/* ctl_secret.c */
ctl_fn	ctl_dkim_keygen;
ctl_fn	ctl_dkim_rotate;	/* ctl_rotate.c */
ctl_fn	ctl_dns, ctl_doctor;
ctl_fn	ctl_dmarc;
ctl_fn	ctl_dmarc_send;
ctl_fn	ctl_import_opendkim;

/*
 * ctl_verify.c - sluicectl verify: the milter's inbound verdict on one message.
 */
ctl_fn	ctl_verify;

#endif

/*
 * NAME
 *	sluicectl 8 - the operator's command line over Sluice's Redis keyspace
 * SYNOPSIS
 *	sluicectl [-c config] [-n] COMMAND [SUBCOMMAND] [ARGS...]
 *	sluicectl check [-c config] [--no-connect]
 *	sluicectl --version | --help
 * DESCRIPTION
 *	This file is the wiring: global options, the config file, and the
 *	command table. Each command lives in ctl_<concern>.c. See
 *	doc/sluicectl.8 for the commands and doc/redis-keys.md for the keys.
 *
 *	Without -c, a missing /etc/sluice/sluice.conf means built-in
 *	defaults (Redis on 127.0.0.1:6379, prefix "sluice:"), so commands
 *	that need no config (dkim keygen) work anywhere. With -c the file
 *	must exist.
 *	check (and -n) is the one complete check of the file for every
 *	program (lib/conf_check.c). With check, Redis not answering is an
 *	error unless --no-connect; with -n, as with the daemons' -n, a
 *	warning (the daemons start without Redis and retry).
 * ERRORS
 *	Exit 64 with usage on bad arguments, 78 on a bad config, 75 when
 *	Redis is unreachable, 1 for a negative answer, 0 otherwise (--help
 *	included).
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf_check.h"
#include "ctl.h"
#include "log.h"

typedef struct ctl_cmd {
	const char *group;		/* "suppress" */
	const char *name;		/* "add", or NULL for a one-word command */
	ctl_fn *fn;
	const char *args;		/* usage after the command words */
	int	hidden;			/* not in the general usage */
} ctl_cmd;

static const ctl_cmd ctl_cmds[] = {
	{.group = "suppress", .name = "add", .fn = ctl_suppress_add,
	 .args = "ADDRESS [--scope global|cat:NAME|tenant:NAME] [--reason R] [--ttl SECONDS] [--detail TEXT]"},
	{.group = "suppress", .name = "remove", .fn = ctl_suppress_remove,
	 .args = "ADDRESS [--scope S | --all]"},
	{.group = "suppress", .name = "check", .fn = ctl_suppress_check,
	 .args = "ADDRESS [--scope S]"},
	{.group = "suppress", .name = "list", .fn = ctl_suppress_list,
	 .args = "[--scope S]"},
	{.group = "suppress", .name = "import", .fn = ctl_suppress_import,
	 .args = "FILE|- [--scope S] [--reason R] [--ttl SECONDS] [--replace] [--dry-run]"},
	{.group = "suppress", .name = "export", .fn = ctl_suppress_export,
	 .args = "[--scope S]"},
	{.group = "suppress", .name = "migrate", .fn = ctl_suppress_migrate,
	 .args = "--to compact|hash [--dry-run]"},
	{.group = "suppress", .name = "prune", .fn = ctl_suppress_prune, .args = ""},
	{.group = "suppress", .name = "functions", .fn = ctl_suppress_functions, .args = "[--print]"},
	{.group = "tenant", .name = "status", .fn = ctl_tenant_status,
	 .args = "NAME [active|paused|suspended] [--reason TEXT]"},
	{.group = "tenant", .name = "show", .fn = ctl_tenant_show, .args = "NAME"},
	{.group = "tenant", .name = "list", .fn = ctl_tenant_list, .args = ""},
	{.group = "tenant", .name = "policy", .fn = ctl_tenant_policy,
	 .args = "NAME [require_tls=yes|no|default] [allowed_senders=domains|users|any|default]"},
	{.group = "sasl", .name = "set", .fn = ctl_sasl_set,
	 .args = "USER [--category C] [--tenant T] [--domains a,b]"},
	{.group = "sasl", .name = "show", .fn = ctl_sasl_show, .args = "USER"},
	{.group = "limits", .name = "list", .fn = ctl_limits_list, .args = ""},
	{.group = "limits", .name = "show", .fn = ctl_limits_show, .args = "NAME"},
	{.group = "limits", .name = "set", .fn = ctl_limits_set, .args = "NAME field=value..."},
	{.group = "limits", .name = "remove", .fn = ctl_limits_remove, .args = "NAME"},
	{.group = "mode", .fn = ctl_mode,
	 .args = "[global|domain:D|tenant:T enforce|monitor|off|inherit]"},
	{.group = "stats", .fn = ctl_stats, .args = "[--day YYYYMMDD] [--tenant T]"},
	{.group = "events", .fn = ctl_events, .args = "[--count N] [--follow]"},
	{.group = "migrate", .fn = ctl_migrate, .args = "[--dry-run]"},
	{.group = "block", .fn = ctl_block,
	 .args = "list | set PROVIDER DOMAIN [--class C] [--ttl S] [--reason T] | clear PROVIDER DOMAIN [--no-ramp]"},
	{.group = "transports", .fn = ctl_transports, .args = ""},
	{.group = "subdomain", .fn = ctl_subdomain,
	 .args = "plan|move category|tenant NAME LABEL [--mx HOST] | revert category|tenant NAME | list"},
	{.group = "token", .name = "decode", .fn = ctl_token_decode,
	 .args = "LOCALPART|ADDRESS|URL-TOKEN"},
	{.group = "token", .name = "encode", .fn = ctl_token_encode, .hidden = 1,
	 .args = "--category C [--tenant T] [--kind b|u] [--day N] [--msgid ID] [--rcpt ADDRESS] [--version 1|2]"},
	{.group = "secret", .name = "init", .fn = ctl_secret_init, .args = "[--force]"},
	{.group = "secret", .name = "rotate", .fn = ctl_secret_rotate, .args = ""},
	{.group = "secret", .name = "list", .fn = ctl_secret_list, .args = ""},
	{.group = "dkim", .name = "keygen", .fn = ctl_dkim_keygen,
	 .args = "--domain D --selector S [--algorithm rsa|ed25519] [--bits N] [--testing] [--owner USER] [--out DIR]"},
	{.group = "dkim", .name = "rotate", .fn = ctl_dkim_rotate,
	 .args = "DOMAIN [--selector NEW [--algorithm A] [--bits N] [--owner U] [--key-dir DIR] | --switch [--nameserver IP[:PORT]] | --retire]"},
	{.group = "dns", .fn = ctl_dns,
	 .args = "DOMAIN [--mx HOST] [--rua ADDRESS] [--ip4 A[/N]]... [--ip6 A[/N]]... [--spf-include DOMAIN]..."},
	{.group = "doctor", .fn = ctl_doctor,
	 .args = "DOMAIN [--mx HOST] [--rua ADDRESS] [--nameserver IP[:PORT]] [--zone FILE]"},
	{.group = "dmarc", .name = "send-reports", .fn = ctl_dmarc_send,
	 .args = "[--day YYYYMMDD] [--dry-run DIR] [--sendmail PATH] [--zone FILE]"},
	{.group = "dmarc", .fn = ctl_dmarc, .args = "DOMAIN [--days N]"},
	{.group = "check", .fn = NULL, .args = "[-c config] [--no-connect]"},
	{.group = "verify", .fn = ctl_verify,
	 .args = "[--zone FILE | --nameserver IP[:PORT]] [--ip ADDR] [--helo NAME] [--mail-from ADDR] [--authserv-id ID] < message"},
	{.group = "import-opendkim", .fn = ctl_import_opendkim, .args = "[--out FILE | --out-dir DIR] OPENDKIM.CONF"},
};

#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

/* ctl_err - one line on stderr, prefixed with the program name */
void
ctl_err(const char *fmt, ...)
{
	va_list	ap;

	fputs("sluicectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ctl_usage - the current command's usage line, then exit 64 */
void
ctl_usage(const ctl_ctx *ctx)
{
	fprintf(stderr, "usage: sluicectl %s\n", ctx->usage);
	exit(EX_USAGE);
}

/* usage_all - the public commands (of one group, when known), then exit */
static void __attribute__((noreturn))
usage_all(const char *group, int status)
{
	FILE   *out = status ? stderr : stdout;
	int	known = 0;

	for (size_t i = 0; group && i < CTL_NCMDS; i++)
		known |= strcmp(ctl_cmds[i].group, group) == 0;
	fputs("usage: sluicectl [-c config] [-n] COMMAND ...\n"
	      "       sluicectl --version | --help\ncommands:\n", out);
	for (size_t i = 0; i < CTL_NCMDS; i++)
		if (!ctl_cmds[i].hidden && (!known || strcmp(ctl_cmds[i].group, group) == 0))
			fprintf(out, "  %s%s%s %s\n", ctl_cmds[i].group,
				ctl_cmds[i].name ? " " : "",
				ctl_cmds[i].name ? ctl_cmds[i].name : "", ctl_cmds[i].args);
	exit(status);
}

/* check_cmd - sluicectl check [-c FILE] [--no-connect]: the whole-file check */
static int
check_cmd(const char *path, int argc, char **argv, int strict)
{
	static const struct option opts[] = {
		{"no-connect", no_argument, NULL, 'N'},
		{NULL, 0, NULL, 0},
	};
	int	ch, flags = strict ? SL_CHECK_REDIS_FATAL : 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch == 'c')
			path = optarg;
		else if (ch == 'N')
			flags |= SL_CHECK_NO_CONNECT;
		else {
			fputs("usage: sluicectl check [-c config] [--no-connect]\n", stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fputs("usage: sluicectl check [-c config] [--no-connect]\n", stderr);
		return EX_USAGE;
	}
	return sl_conf_check_main(path, NULL, NULL, flags);
}

/* find_cmd - the table entry for argv[0] (and argv[1]), or NULL */
static const ctl_cmd *
find_cmd(int argc, char **argv)
{
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		const ctl_cmd *c = &ctl_cmds[i];

		if (strcmp(c->group, argv[0]) != 0)
			continue;
		if (c->name == NULL || (argc > 1 && strcmp(c->name, argv[1]) == 0))
			return c;
	}
	return NULL;
}

/* load_conf - the explicit config, the default one, or built-in defaults */
static sl_conf *
load_conf(const char *path, int explicit, int flags)
{
	if (!explicit && access(path, F_OK) != 0)
		return sl_conf_load("/dev/null");
	return sl_conf_load_opt(path, flags);
}

/* run_cmd - give the command its argv (its own name first) and run it */
static int
run_cmd(ctl_ctx *ctx, const ctl_cmd *c, int argc, char **argv)
{
	static char usage[512];
	int	skip = c->name ? 1 : 0;

	snprintf(usage, sizeof(usage), "%s%s%s %s", c->group, c->name ? " " : "",
		 c->name ? c->name : "", c->args);
	ctx->usage = usage;
	optind = 0;			/* GNU: restart getopt for the command */
	return c->fn(ctx, argc - skip, argv + skip);
}

/* main - global options, config, then the command */
int
main(int argc, char **argv)
{
	ctl_ctx	ctx = {.conf_path = SL_CONF_DEFAULT_PATH, .prefix = "sluice:"};
	const ctl_cmd *c = NULL;
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int	ch, check = 0, explicit = 0, rc;

	sl_log_init("sluicectl", SL_LOG_STDERR, SL_LOG_WARN);
	while ((ch = getopt_long(argc, argv, "+c:nh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage_all(NULL, 0);
		case 'V':
			printf("sluicectl %s\n", PACKAGE_VERSION);
			return 0;
		case 'c':
			ctx.conf_path = optarg;
			explicit = 1;
			break;
		case 'n':
			check = 1;
			break;
		default:
			usage_all(NULL, EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (check)
		return check_cmd(ctx.conf_path, argc + 1, argv - 1, 0);
	if (argc > 0 && strcmp(argv[0], "check") == 0)
		return check_cmd(ctx.conf_path, argc, argv, 1);
	if (argc == 0 || (c = find_cmd(argc, argv)) == NULL)
		usage_all(argc ? argv[0] : NULL, EX_USAGE);
	/* secret init creates the secret_file the config names */
	if ((ctx.conf = load_conf(ctx.conf_path, explicit,
				  c->fn == ctl_secret_init ? SL_CONF_SECRET_MAY_BE_MISSING : 0)) == NULL)
		return EX_CONFIG;
	ctx.prefix = cfg_getstr(cfg_getsec(ctx.conf->cfg, "redis"), "prefix");
	rc = run_cmd(&ctx, c, argc, argv);
	if (fflush(stdout) != 0 && rc == 0)
		rc = EX_IOERR;
	sl_redis_free(ctx.redis);
	sl_conf_free(ctx.conf);
	return rc;
}

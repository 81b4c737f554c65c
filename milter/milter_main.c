/*
 * NAME
 *	sluice-milter 8 - outbound categories, bounce tokens and DKIM signing
 * SYNOPSIS
 *	sluice-milter [-f] [-n] [-c config] [-p pidfile]
 *	sluice-milter -c config --decode-token LOCALPART|URLTOKEN
 * DESCRIPTION
 *	Wiring only: options, config, the milter socket, privileges,
 *	signals. The work is in milter_callbacks.c and the files it calls.
 *	-c	config file (default /etc/sluice/sluice.conf)
 *	-f	stay in the foreground and log to stderr
 *	-n	check the whole config for every program (conf_check.c) and exit
 *	-p	write the daemon's pid to this file (removed at exit)
 *	--version	print the version and exit
 * EXIT STATUS
 *	0 ok, 64 (EX_USAGE) bad arguments, 78 (EX_CONFIG) bad configuration.
 *	--decode-token	verify and print a bounce or unsubscribe token
 *
 *	Start-up: load and check the config (as root: keys and secret are
 *	read now), bind the socket, drop to the configured user, serve.
 * SIGNALS
 *	libmilter's own signal thread takes SIGHUP, SIGTERM and SIGINT and
 *	stops the milter on any of them. To make SIGHUP a reload instead,
 *	smfi_main() runs in a second thread, and the main thread is the only
 *	one with SIGHUP unblocked: Linux hands a process-directed signal to
 *	the main thread first when it does not block it. SIGTERM and SIGINT
 *	stay blocked here and reach libmilter's sigwait(). The SIGHUP handler
 *	only writes to a pipe; the main thread reloads. A reload that fails
 *	keeps the running config; one that succeeds serves new messages
 *	while messages in flight keep their snapshot. Reloading reads the
 *	keys as the service user: make them readable by it (mode 600).
 *	SIGUSR1 reloads too, and always: libmilter's thread sigwaits for
 *	SIGHUP as well, and the kernel hands a process-directed signal to
 *	another thread that takes it when the main thread has a signal
 *	pending already, so a SIGHUP can (rarely) stop the milter instead.
 *	No other thread takes SIGUSR1; the systemd unit reloads with it.
 *	Under systemd (Type=notify) READY=1 is sent once the socket is bound
 *	and privileges are dropped, RELOADING=1 and READY=1 around a reload.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sysexits.h>

#include <openssl/crypto.h>

#include "conf_check.h"
#include "keyspace.h"
#include "log.h"
#include "milter.h"
#include "milter_verify.h"
#include "privs.h"
#include "service.h"

static int wake_pipe[2] = {-1, -1};
static const char *conf_path = SL_CONF_DEFAULT_PATH;

/* usage - how to call us */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: sluice-milter [-f] [-n] [-c config] [-p pidfile]\n"
		"       sluice-milter -c config --decode-token LOCALPART|URLTOKEN\n"
		"       sluice-milter --version | --help\n");
	exit(status);
}

/* check_own - the milter's own checks, for sl_conf_check_main() */
static int
check_own(const char *path)
{
	ml_conf *c = ml_conf_load(path);

	if (c == NULL)
		return -1;
	ml_conf_unref(c);
	return 0;
}

/* on_sighup - async-signal-safe: wake the main thread */
static void
on_sighup(int sig)
{
	int	saved = errno;

	(void) sig;
	(void) !write(wake_pipe[1], "h", 1);
	errno = saved;
}

/* milter_thread - libmilter's main loop; tells the main thread when done */
static void *
milter_thread(void *arg)
{
	int    *rc = arg;

	*rc = ml_milter_run();
	(void) !write(wake_pipe[1], "q", 1);
	return NULL;
}

/* apply_log_level - the config's log_level */
static void
apply_log_level(const ml_conf *c)
{
	enum sl_log_level lv;

	if (sl_log_parse_level(cfg_getstr(c->conf->cfg, "log_level"), &lv) == 0)
		sl_log_set_level(lv);
}

/* reload - load the config again; keep the old one on any error */
static void
reload(void)
{
	ml_conf *old = ml_conf_current(), *c;

	sl_notify("RELOADING=1");
	c = ml_conf_load(conf_path);
	if (c == NULL) {
		sl_error("%s: reload failed, keeping the running configuration", conf_path);
	} else {
		if (old && strcmp(old->socket, c->socket) != 0)
			sl_warn("milter socket changed to %s: takes effect after a restart", c->socket);
		apply_log_level(c);
		ml_conf_install(c);
		sl_info("%s: configuration reloaded", conf_path);
	}
	ml_conf_unref(old);
	sl_notify("READY=1");
}

/* serve - run libmilter in a thread; reload on SIGHUP until it stops */
static int
serve(void)
{
	sigset_t set, hup;
	struct sigaction sa = {.sa_handler = on_sighup};
	pthread_t tid;
	int	rc = 0;
	char	ch;

	if (pipe(wake_pipe) < 0)
		sl_fatal("pipe: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((errno = pthread_create(&tid, NULL, milter_thread, &rc)) != 0)
		sl_fatal("pthread_create: %s", strerror(errno));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigaddset(&hup, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &hup, NULL);
	sl_notify("READY=1");			/* bound, privileges dropped, SIGHUP handled */
	for (;;) {
		ssize_t	n = read(wake_pipe[0], &ch, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || ch == 'q')
			break;
		reload();
	}
	pthread_join(tid, NULL);
	return rc;
}

/* decode_token - print the fields of a token, or why it is bad */
static int
decode_token(const ml_conf *c, const char *arg)
{
	char	local[SL_TOKEN_URL_MAX], err[256], date[32];
	const char *at = strchr(arg, '@');
	sl_token t;
	time_t	when;
	int	rc;

	if (!c->have_key) {
		fprintf(stderr, "sluice-milter: %s has no secret_file\n", c->path);
		return 1;
	}
	snprintf(local, sizeof(local), "%.*s", at ? (int) (at - arg) : (int) strlen(arg), arg);
	rc = strchr(local, '.') ? sl_token_parse_url(local, &c->ring, &t, err, sizeof(err))
	    : sl_token_parse_local(local, &c->ring, &t, err, sizeof(err));
	if (rc != SL_TOKEN_OK && rc != SL_TOKEN_EXPIRED) {
		fprintf(stderr, "sluice-milter: %s: %s\n", arg, err);
		return rc == SL_TOKEN_BADMAC || rc == SL_TOKEN_BADKEY ? 2 : 1;
	}
	when = (time_t) t.day * 86400;
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&when));
	printf("kind=%c category=%s tenant=%s day=%u date=%s msgid=%s%s%s version=%d key=%c%s\n",
	       t.kind, t.category, t.tenant[0] ? t.tenant : "-", t.day, date, t.msgid,
	       t.rcpt[0] ? " rcpt=" : "", t.rcpt, t.version, t.kid ? t.kid : '-',
	       rc == SL_TOKEN_EXPIRED ? " expired" : "");
	if (rc == SL_TOKEN_EXPIRED)
		fprintf(stderr, "sluice-milter: %s: %s\n", arg, err);
	return rc == SL_TOKEN_EXPIRED ? 3 : 0;
}

/* main - options, config, socket, privileges, serve */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"decode-token", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int	foreground = 0, check = 0, opt, rc, open_sessions;
	const char *token = NULL, *pidfile = NULL;
	char	err[512];
	ml_conf *c;

	while ((opt = getopt_long(argc, argv, "c:fnhp:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': conf_path = optarg; break;
		case 'f': foreground = 1; break;
		case 'n': check = 1; break;
		case 'p': pidfile = optarg; break;
		case 'D': token = optarg; break;
		case 'h': usage(0);
		case 'V': printf("sluice-milter %s\n", PACKAGE_VERSION); return 0;
		default: usage(EX_USAGE);
		}
	}
	if (optind != argc)
		usage(EX_USAGE);
	/*
	 * No OPENSSL_cleanup() at exit: libmilter's session threads still run
	 * when main() returns (sessions the MTA keeps open, others ending just
	 * then), and OpenSSL must not be torn down under threads that use it
	 * (OPENSSL_cleanup(3)); a thread's OpenSSL state freed at its end while
	 * the atexit cleanup ran lost objects (LeakSanitizer at a stop with
	 * connections coming and going). The first OpenSSL call, so it holds.
	 */
	if (!OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL))
		sl_fatal("OPENSSL_init_crypto failed");
	sl_log_init("sluice-milter", foreground || check || token ? SL_LOG_STDERR : SL_LOG_SYSLOG,
		    SL_LOG_INFO);
	if (check)
		return sl_conf_check_main(conf_path, "milter", check_own, 0);
	if ((c = ml_conf_load(conf_path)) == NULL) {
		sl_error("%s: configuration not usable", conf_path);
		return EX_CONFIG;
	}
	if (token) {
		rc = decode_token(c, token);
		ml_conf_unref(c);
		return rc;
	}
	apply_log_level(c);
	ml_redis_prepare();			/* script SHA1s, before any thread */
	if (c->use_redis && sl_keyspace_require_opts(&c->redis)) {
		ml_conf_unref(c); /* a keyspace of an older format: sluicectl migrate */
		return EX_CONFIG;
	}
	if (ml_verify_init(err, sizeof(err)) < 0 || ml_milter_setup(c, err, sizeof(err)) < 0)
		sl_fatal("%s", err);
	if (!foreground && daemon(0, 0) < 0)
		sl_fatal("daemon: %s", strerror(errno));
	if (pidfile && sl_pidfile_write(pidfile, err, sizeof(err)) < 0)
		sl_fatal("%s", err);
	if (sl_drop_privileges(c->user, err, sizeof(err)) < 0)
		sl_fatal("%s", err);
	ml_conf_install(c);
	sl_keyspace_watch(); /* Redis unreachable at the check: asked again meanwhile */
	sl_info("listening on %s", c->socket);
	rc = serve();
	sl_notify("STOPPING=1");
	if ((open_sessions = ml_milter_drain(5000)) > 0)
		sl_info("%d open session%s released", open_sessions, open_sessions == 1 ? "" : "s");
	ml_conf_install(NULL);
	sl_pidfile_remove(pidfile);
	sl_info("stopped");
	if (sl_keyspace_refused())
		return EX_CONFIG; /* the later check found an older keyspace */
	return rc == 0 ? 0 : 1;
}

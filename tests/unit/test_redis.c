/*
 * NAME
 *	test_redis - unit tests of the Redis client (lib/redis.c, redis_async.c)
 * DESCRIPTION
 *	Runs a throwaway redis-server (unix socket in a mkdtemp directory, no
 *	TCP unless a test asks for it, no persistence), started by fork/exec
 *	and stopped by pid, and tests both flavours through the real
 *	protocol: reply types, EVALSHA after SCRIPT FLUSH, ACL AUTH, SELECT,
 *	timeouts, server death and restart, fail-fast, shutdown with
 *	requests pending. Meant to run clean under ASan+UBSan and valgrind.
 * ENVIRONMENT
 *	REDIS_SERVER: the redis-server binary (default: redis-server on PATH).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "log.h"
#include "redis.h"
#include "redis_int.h"		/* Sentinel and Cluster helpers (private) */

static char dir[64];
static char sock[100];
static pid_t srv_pid = -1;		/* the unix socket server */

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sleep_ms - nap */
static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ping_unix - is a server answering PING on this socket? */
static int
ping_unix(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char	buf[16] = "";
	int	fd, ok = 0;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return 0;
	if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) == 0
	    && write(fd, "PING\r\n", 6) == 6 && read(fd, buf, sizeof(buf) - 1) > 0)
		ok = strncmp(buf, "+PONG", 5) == 0;
	close(fd);
	return ok;
}

/* ping_tcp - is a server answering PING on 127.0.0.1:port? */
static int
ping_tcp(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	char	buf[16] = "";
	int	fd, ok = 0;

	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == 0
	    && write(fd, "PING\r\n", 6) == 6 && read(fd, buf, sizeof(buf) - 1) > 0)
		ok = strncmp(buf, "+PONG", 5) == 0;
	close(fd);
	return ok;
}

/* spawn - fork/exec redis-server with a unix socket or a loopback port */
static pid_t
spawn(const char *unix_path, int port, const char *log)
{
	const char *bin = getenv("REDIS_SERVER") ? getenv("REDIS_SERVER") : "redis-server";
	char	portstr[16];
	pid_t	pid;
	int	fd;

	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((pid = fork()) != 0)
		return pid;
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (unix_path)
		execlp(bin, bin, "--port", "0", "--unixsocket", unix_path,
		       "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
		       "--daemonize", "no", "--enable-debug-command", "yes",
		       "--dir", dir, (char *) NULL);
	else
		execlp(bin, bin, "--port", portstr, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", "--daemonize", "no",
		       "--dir", dir, (char *) NULL);
	_exit(127);
}

/* srv_start - start the unix socket server and wait until it answers */
static int
srv_start(void)
{
	char	log[160];

	snprintf(log, sizeof(log), "%s/redis.log", dir);
	srv_pid = spawn(sock, 0, log);
	if (srv_pid < 0)
		return -1;
	for (int i = 0; i < 500; i++) {
		if (ping_unix(sock))
			return 0;
		sleep_ms(10);
	}
	return -1;
}

/* srv_stop - stop a server we started, by pid */
static void
srv_stop(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	kill(*pid, SIGCONT);		/* in case a test left it stopped */
	waitpid(*pid, NULL, 0);
	*pid = -1;
}

/* group_setup - temp dir and server */
static int
group_setup(void **state)
{
	(void) state;
	signal(SIGPIPE, SIG_IGN);
	sl_log_init("test_redis", SL_LOG_STDERR, SL_LOG_WARN);
	snprintf(dir, sizeof(dir), "/tmp/sl-redis-test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
	return srv_start();
}

/* group_teardown - stop the server, remove the temp dir */
static int
group_teardown(void **state)
{
	char	path[192];

	(void) state;
	srv_stop(&srv_pid, SIGTERM);
	unlink(sock);
	snprintf(path, sizeof(path), "%s/redis.log", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* opts_unix - options for the test server */
static sl_redis_opts
opts_unix(void)
{
	sl_redis_opts o = {.unix_path = sock, .connect_timeout_ms = 1000,
	.command_timeout_ms = 1000};

	return o;
}

/* admin - a sync command that must succeed; returns the reply */
static sl_reply *
admin(sl_redis *r, const char *fmt, const char *a1, const char *a2)
{
	sl_reply *rep = NULL;

	assert_int_equal(sl_redis_cmd(r, &rep, fmt, a1, a2), 0);
	assert_non_null(rep);
	return rep;
}

/* expect_str - reply is a string/status with this text */
static void
expect_str(const sl_reply *rep, enum sl_reply_type type, const char *s)
{
	assert_non_null(rep);
	assert_int_equal(rep->type, type);
	assert_string_equal(rep->str, s);
	assert_int_equal(rep->len, strlen(s));
}

/* test_reply_types - every reply type converts, deep and binary safe */
static void
test_reply_types(void **state)
{
	sl_redis_opts o = opts_unix();
	sl_redis *r = sl_redis_new(&o);
	sl_reply *rep;
	const char *argv[] = {"RPUSH", "t:list", "a", "b\0c"};
	const size_t argvlen[] = {5, 6, 1, 3};

	(void) state;
	assert_true(sl_redis_connected(r));
	assert_string_equal(sl_redis_prefix(r), "sluice:");
	sl_reply_free(NULL);
	rep = admin(r, "SET %s %s", "t:k", "v1");
	expect_str(rep, SL_REPLY_STATUS, "OK");
	sl_reply_free(rep);
	rep = admin(r, "GET %s", "t:k", NULL);
	expect_str(rep, SL_REPLY_STRING, "v1");
	sl_reply_free(rep);
	rep = admin(r, "GET %s", "t:missing", NULL);
	assert_int_equal(rep->type, SL_REPLY_NIL);
	sl_reply_free(rep);
	rep = admin(r, "INCRBY %s %s", "t:n", "-42");
	assert_int_equal(rep->type, SL_REPLY_INTEGER);
	assert_int_equal(rep->integer, -42);
	sl_reply_free(rep);
	rep = admin(r, "LPUSH %s %s", "t:k", "x");
	assert_int_equal(rep->type, SL_REPLY_ERROR);
	assert_non_null(strstr(rep->str, "WRONGTYPE"));
	sl_reply_free(rep);

	/* Binary-safe vector, and an array back. */
	assert_int_equal(sl_redis_cmdv(r, &rep, 4, argv, argvlen), 0);
	assert_int_equal(rep->integer, 2);
	sl_reply_free(rep);
	rep = admin(r, "LRANGE %s 0 -1", "t:list", NULL);
	assert_int_equal(rep->type, SL_REPLY_ARRAY);
	assert_int_equal(rep->elements, 2);
	expect_str(rep->element[0], SL_REPLY_STRING, "a");
	assert_int_equal(rep->element[1]->len, 3);
	assert_memory_equal(rep->element[1]->str, "b\0c", 4);
	sl_reply_free(rep);

	/* Nested arrays, empty array, NULL argvlen. */
	{
		const char *ev[] = {"EVAL", "return {1, 'x', {2, {}}}", "0"};

		assert_int_equal(sl_redis_cmdv(r, &rep, 3, ev, NULL), 0);
	}
	assert_int_equal(rep->type, SL_REPLY_ARRAY);
	assert_int_equal(rep->elements, 3);
	assert_int_equal(rep->element[0]->integer, 1);
	expect_str(rep->element[1], SL_REPLY_STRING, "x");
	assert_int_equal(rep->element[2]->type, SL_REPLY_ARRAY);
	assert_int_equal(rep->element[2]->element[1]->type, SL_REPLY_ARRAY);
	assert_int_equal(rep->element[2]->element[1]->elements, 0);
	sl_reply_free(rep);

	/* Empty command is refused; reply may be NULL. */
	assert_int_equal(sl_redis_cmdv(r, &rep, 0, argv, NULL), -1);
	assert_null(rep);
	assert_int_equal(sl_redis_cmd(r, NULL, "DEL t:k t:n t:list"), 0);
	sl_redis_free(r);
	sl_redis_free(NULL);
}

static sl_script echo_script = {
	.source = "return {KEYS[1], ARGV[1], #KEYS, #ARGV}"
};

/* expect_echo - the reply of echo_script for key k and arg a */
static void
expect_echo(const sl_reply *rep, const char *k, const char *a)
{
	assert_non_null(rep);
	assert_int_equal(rep->type, SL_REPLY_ARRAY);
	assert_int_equal(rep->elements, 4);
	expect_str(rep->element[0], SL_REPLY_STRING, k);
	expect_str(rep->element[1], SL_REPLY_STRING, a);
	assert_int_equal(rep->element[2]->integer, 1);
	assert_int_equal(rep->element[3]->integer, 1);
}

/* test_eval_noscript - EVALSHA, SHA1 as Redis computes it, NOSCRIPT retry */
static void
test_eval_noscript(void **state)
{
	sl_redis_opts o = opts_unix();
	sl_redis *r = sl_redis_new(&o);
	sl_script bad = {.source = "return redis.call('NOSUCHCMD')"};
	const char *argv[] = {"key1", "arg1"};
	sl_reply *rep;

	(void) state;
	rep = admin(r, "SCRIPT LOAD %s", echo_script.source, NULL);
	expect_str(rep, SL_REPLY_STRING, sl_script_sha1(&echo_script));
	sl_reply_free(rep);
	assert_int_equal(sl_redis_eval(r, &echo_script, &rep, 1, 2, argv, NULL), 0);
	expect_echo(rep, "key1", "arg1");
	sl_reply_free(rep);

	/* After SCRIPT FLUSH: NOSCRIPT, then EVAL, which caches it again. */
	sl_reply_free(admin(r, "SCRIPT FLUSH", NULL, NULL));
	rep = admin(r, "SCRIPT EXISTS %s", echo_script.sha1, NULL);
	assert_int_equal(rep->element[0]->integer, 0);
	sl_reply_free(rep);
	assert_int_equal(sl_redis_eval(r, &echo_script, &rep, 1, 2, argv, NULL), 0);
	expect_echo(rep, "key1", "arg1");
	sl_reply_free(rep);
	rep = admin(r, "SCRIPT EXISTS %s", echo_script.sha1, NULL);
	assert_int_equal(rep->element[0]->integer, 1);
	sl_reply_free(rep);

	/* A script error is an error reply, not a failure. */
	assert_int_equal(sl_redis_eval(r, &bad, &rep, 0, 0, NULL, NULL), 0);
	assert_int_equal(rep->type, SL_REPLY_ERROR);
	sl_reply_free(rep);
	sl_redis_free(r);
}

/* test_auth_acl - AUTH user pass, wrong password, AUTH pass, SELECT */
static void
test_auth_acl(void **state)
{
	sl_redis_opts o = opts_unix();
	sl_redis *adm = sl_redis_new(&o), *r;
	sl_reply *rep;

	(void) state;
	sl_reply_free(admin(adm, "ACL SETUSER sltest on >%s ~* &* +@all", "s3cret", NULL));

	o.user = "sltest";
	o.password = "s3cret";
	r = sl_redis_new(&o);
	rep = admin(r, "ACL WHOAMI", NULL, NULL);
	expect_str(rep, SL_REPLY_STRING, "sltest");
	sl_reply_free(rep);
	sl_redis_free(r);

	o.password = "wrong";
	r = sl_redis_new(&o);
	assert_false(sl_redis_connected(r));
	assert_int_equal(sl_redis_cmd(r, &rep, "PING"), -1);
	assert_null(rep);
	assert_non_null(strstr(sl_redis_errstr(r), "redis unavailable"));
	sleep_ms(150);
	assert_int_equal(sl_redis_cmd(r, &rep, "PING"), -1);
	assert_non_null(strstr(sl_redis_errstr(r), "AUTH failed: WRONGPASS"));
	sl_redis_free(r);

	/* Password only: the default user with requirepass. */
	sl_reply_free(admin(adm, "CONFIG SET requirepass %s", "pw0", NULL));
	o = opts_unix();
	o.password = "pw0";
	o.db = 3;
	r = sl_redis_new(&o);
	rep = admin(r, "ACL WHOAMI", NULL, NULL);
	expect_str(rep, SL_REPLY_STRING, "default");
	sl_reply_free(rep);
	sl_reply_free(admin(r, "SET %s %s", "t:db", "three"));
	sl_redis_free(r);
	o.password = NULL;
	r = sl_redis_new(&o);		/* SELECT without AUTH: NOAUTH */
	assert_int_equal(sl_redis_cmd(r, NULL, "PING"), -1);
	sleep_ms(150);
	assert_int_equal(sl_redis_cmd(r, NULL, "PING"), -1);
	assert_non_null(strstr(sl_redis_errstr(r), "NOAUTH"));
	sl_redis_free(r);
	sl_reply_free(admin(adm, "CONFIG SET requirepass %s", "", NULL));

	/* SELECT: the key is in db 3, not in db 0. */
	rep = admin(adm, "GET %s", "t:db", NULL);
	assert_int_equal(rep->type, SL_REPLY_NIL);
	sl_reply_free(rep);
	sl_reply_free(admin(adm, "SELECT 3", NULL, NULL));
	rep = admin(adm, "GETDEL %s", "t:db", NULL);
	expect_str(rep, SL_REPLY_STRING, "three");
	sl_reply_free(rep);
	sl_reply_free(admin(adm, "ACL DELUSER sltest", NULL, NULL));
	sl_redis_free(adm);
}

/* test_sync_timeout - a slow command times out, the handle recovers */
static void
test_sync_timeout(void **state)
{
	sl_redis_opts o = opts_unix();
	sl_redis *r;
	long long t0, dt;
	sl_reply *rep;

	(void) state;
	o.command_timeout_ms = 100;
	r = sl_redis_new(&o);
	t0 = now_ms();
	assert_int_equal(sl_redis_cmd(r, &rep, "DEBUG SLEEP 0.5"), -1);
	dt = now_ms() - t0;
	print_message("sync timeout after %lld ms: %s\n", dt, sl_redis_errstr(r));
	assert_string_equal(sl_redis_errstr(r), "timeout");
	assert_in_range(dt, 90, 400);
	t0 = now_ms();
	assert_int_equal(sl_redis_cmd(r, &rep, "PING"), -1);
	assert_string_equal(sl_redis_errstr(r), "redis unavailable (reconnecting)");
	assert_in_range(now_ms() - t0, 0, 20);
	sleep_ms(600);			/* the server sleeps 0.5 s */
	assert_int_equal(sl_redis_cmd(r, &rep, "PING"), 0);
	expect_str(rep, SL_REPLY_STATUS, "PONG");
	sl_reply_free(rep);
	sl_redis_free(r);
}

/* test_sync_reconnect - server killed: fail fast; restarted: works */
static void
test_sync_reconnect(void **state)
{
	sl_redis_opts o = opts_unix();
	sl_redis *r = sl_redis_new(&o);
	long long t0, dt, worst = 0;
	sl_reply *rep = NULL;
	int	ok = 0, calls = 0, fast = 0;

	(void) state;
	assert_int_equal(sl_redis_cmd(r, NULL, "PING"), 0);
	srv_stop(&srv_pid, SIGKILL);
	t0 = now_ms();
	assert_int_equal(sl_redis_cmd(r, &rep, "PING"), -1);
	assert_null(rep);
	print_message("after kill: %s\n", sl_redis_errstr(r));
	assert_int_equal(sl_redis_cmd(r, NULL, "PING"), -1);
	assert_string_equal(sl_redis_errstr(r), "redis unavailable (reconnecting)");
	assert_in_range(now_ms() - t0, 0, 100);
	/* While down: every call fails, none waits, attempts back off. */
	for (t0 = now_ms(); now_ms() - t0 < 800; sleep_ms(10)) {
		long long c0 = now_ms();

		assert_int_equal(sl_redis_cmd(r, NULL, "PING"), -1);
		worst = now_ms() - c0 > worst ? now_ms() - c0 : worst;
		calls++;
		fast += strcmp(sl_redis_errstr(r), "redis unavailable (reconnecting)") == 0;
	}
	print_message("down 800 ms: %d calls, %d fail-fast, %d attempts (%s), "
		      "slowest %lld ms\n", calls, fast, calls - fast,
		      sl_redis_errstr(r), worst);
	/* attempts at about 100, 300, 700 ms: backoff 100, 200, 400 */
	assert_in_range(calls - fast, 2, 4);
	assert_in_range(worst, 0, 50);
	calls = fast = 0;
	assert_int_equal(srv_start(), 0);
	t0 = now_ms();
	while (now_ms() - t0 < 8000) {
		long long c0 = now_ms();

		ok = sl_redis_cmd(r, &rep, "PING") == 0;
		dt = now_ms() - c0;
		worst = dt > worst ? dt : worst;
		calls++;
		if (ok)
			break;
		fast += strcmp(sl_redis_errstr(r), "redis unavailable (reconnecting)") == 0;
		sleep_ms(20);
	}
	print_message("reconnected after %lld ms, %d calls (%d fail-fast), "
		      "slowest call %lld ms\n", now_ms() - t0, calls, fast, worst);
	assert_true(ok);
	expect_str(rep, SL_REPLY_STATUS, "PONG");
	sl_reply_free(rep);
	assert_in_range(now_ms() - t0, 0, 5500);
	assert_in_range(worst, 0, 200);
	sl_redis_free(r);
}

/* Async tests: a callback log per request. */
struct acall {
	int	calls;
	long long at;			/* when answered */
	char	err[32];
	enum sl_reply_type type;
	char	str[64];
	long long integer;
	size_t	elements;
	int	echo_ok;		/* reply matched expect_echo */
	sl_aredis *free_me;		/* free the handle from the callback */
};

/* acb - record what the callback got */
static void
acb(const sl_reply *reply, const char *err, void *arg)
{
	struct acall *c = arg;

	c->calls++;
	c->at = now_ms();
	snprintf(c->err, sizeof(c->err), "%s", err ? err : "");
	if (reply) {
		c->type = reply->type;
		snprintf(c->str, sizeof(c->str), "%s", reply->str ? reply->str : "");
		c->integer = reply->integer;
		c->elements = reply->elements;
		c->echo_ok = reply->type == SL_REPLY_ARRAY && reply->elements == 4
		    && strcmp(reply->element[0]->str, "k") == 0
		    && strcmp(reply->element[1]->str, "a") == 0;
	}
	if (c->free_me) {
		sl_aredis *ar = c->free_me;

		c->free_me = NULL;
		sl_aredis_free(ar);
	}
}

/* run_until - run the loop until *flag or max_ms */
static void
run_until(struct event_base *base, const int *flag, int max_ms)
{
	long long end = now_ms() + max_ms;
	struct timeval tv = {0, 5000};

	while (!*flag && now_ms() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* run_for - run the loop for ms */
static void
run_for(struct event_base *base, int ms)
{
	int	never = 0;

	run_until(base, &never, ms);
}

/* wait_connected - run the loop until the handle is connected */
static int
wait_connected(struct event_base *base, sl_aredis *ar, int max_ms)
{
	long long end = now_ms() + max_ms;

	while (!sl_aredis_connected(ar) && now_ms() < end)
		run_for(base, 5);
	return sl_aredis_connected(ar);
}

/* acmd - send a NUL-terminated command */
static void
acmd(sl_aredis *ar, int timeout_ms, struct acall *c, int argc, const char **argv)
{
	assert_int_equal(sl_aredis_cmdv(ar, timeout_ms, acb, c, argc, argv, NULL), 0);
}

/* test_tcp - host:port, and a refused port fails without waiting */
static void
test_tcp(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	sl_redis_opts o = {.host = "127.0.0.1"};
	char	log[160];
	pid_t	pid;
	sl_redis *r;
	sl_reply *rep;
	long long t0;
	int	fd;
	struct event_base *base;
	sl_aredis *ar;
	struct acall ping = {0};
	const char *a_ping[] = {"PING"};

	(void) state;
	/* A free loopback port: bind 0, read it back, close. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
	close(fd);
	o.port = ntohs(sin.sin_port);

	t0 = now_ms();
	r = sl_redis_new(&o);
	assert_int_equal(sl_redis_cmd(r, NULL, "PING"), -1);
	assert_string_equal(sl_redis_errstr(r), "redis unavailable (reconnecting)");
	sleep_ms(120);
	assert_int_equal(sl_redis_cmd(r, NULL, "PING"), -1);
	print_message("refused port: %s\n", sl_redis_errstr(r));
	assert_non_null(strstr(sl_redis_errstr(r), "refused"));
	assert_in_range(now_ms() - t0, 0, 300);
	sl_redis_free(r);

	/* The async flavour too: refused, then the server appears. */
	base = event_base_new();
	ar = sl_aredis_new(base, &o);
	assert_false(wait_connected(base, ar, 300));
	print_message("async refused port: %s\n", sl_aredis_errstr(ar));
	assert_non_null(strstr(sl_aredis_errstr(ar), "refused"));

	snprintf(log, sizeof(log), "%s/redis-tcp.log", dir);
	pid = spawn(NULL, o.port, log);
	for (int i = 0; i < 500 && !ping_tcp(o.port); i++)
		sleep_ms(10);
	r = sl_redis_new(&o);
	assert_int_equal(sl_redis_cmd(r, &rep, "PING"), 0);
	expect_str(rep, SL_REPLY_STATUS, "PONG");
	sl_reply_free(rep);
	sl_redis_free(r);
	assert_true(wait_connected(base, ar, 6000));
	acmd(ar, 1000, &ping, 1, a_ping);
	run_until(base, &ping.calls, 2000);
	assert_string_equal(ping.str, "PONG");
	sl_aredis_free(ar);
	event_base_free(base);
	srv_stop(&pid, SIGTERM);
	unlink(log);
}

/* test_async_cmds - commands and reply types through the async client */
static void
test_async_cmds(void **state)
{
	struct event_base *base = event_base_new();
	sl_redis_opts o = opts_unix();
	sl_aredis *ar = sl_aredis_new(base, &o);
	struct acall set = {0}, get = {0}, nil = {0}, inc = {0}, err = {0}, arr = {0};
	const char *a_set[] = {"SET", "t:ak", "hello"}, *a_get[] = {"GET", "t:ak"};
	const char *a_nil[] = {"GET", "t:nope"}, *a_inc[] = {"INCR", "t:an"};
	const char *a_err[] = {"LPUSH", "t:ak", "x"}, *a_arr[] = {"MGET", "t:ak", "t:nope"};
	const char *a_del[] = {"DEL", "t:ak", "t:an"};
	struct acall del = {0};

	(void) state;
	assert_false(sl_aredis_connected(ar));
	assert_true(wait_connected(base, ar, 2000));
	assert_string_equal(sl_aredis_prefix(ar), "sluice:");
	acmd(ar, 1000, &set, 3, a_set);
	acmd(ar, 1000, &get, 2, a_get);
	acmd(ar, 1000, &nil, 2, a_nil);
	acmd(ar, 1000, &inc, 2, a_inc);
	acmd(ar, 1000, &err, 3, a_err);
	acmd(ar, 0, &arr, 3, a_arr);
	acmd(ar, 1000, &del, 3, a_del);
	assert_int_equal(set.calls, 0);	/* never answered from inside the call */
	run_until(base, &del.calls, 2000);
	run_for(base, 20);
	assert_int_equal(set.calls + get.calls + nil.calls + inc.calls
			 + err.calls + arr.calls + del.calls, 7);
	assert_int_equal(set.type, SL_REPLY_STATUS);
	assert_string_equal(set.str, "OK");
	assert_int_equal(get.type, SL_REPLY_STRING);
	assert_string_equal(get.str, "hello");
	assert_int_equal(nil.type, SL_REPLY_NIL);
	assert_int_equal(inc.type, SL_REPLY_INTEGER);
	assert_int_equal(inc.integer, 1);
	assert_int_equal(err.type, SL_REPLY_ERROR);
	assert_string_equal(err.err, "");
	assert_int_equal(arr.type, SL_REPLY_ARRAY);
	assert_int_equal(arr.elements, 2);
	assert_int_equal(del.integer, 2);
	assert_int_equal(sl_aredis_cmdv(ar, 100, NULL, NULL, 1, a_get, NULL), -1);
	sl_aredis_free(ar);
	event_base_free(base);
}

/* test_async_noscript - EVALSHA, and EVAL again after SCRIPT FLUSH */
static void
test_async_noscript(void **state)
{
	struct event_base *base = event_base_new();
	sl_redis_opts o = opts_unix();
	sl_aredis *ar = sl_aredis_new(base, &o);
	sl_redis *r = sl_redis_new(&o);
	struct acall c1 = {0}, c2 = {0}, c3 = {0};
	const char *argv[] = {"k", "a"};
	char	key[8] = "k", val[8] = "a";
	const char *argv2[] = {key, val};

	(void) state;
	assert_true(wait_connected(base, ar, 2000));
	assert_int_equal(sl_aredis_eval(ar, &echo_script, 1000, acb, &c1, 1, 2, argv, NULL), 0);
	run_until(base, &c1.calls, 2000);
	assert_true(c1.echo_ok);
	sl_reply_free(admin(r, "SCRIPT FLUSH", NULL, NULL));
	/* The retry must not depend on the caller's argv staying alive. */
	assert_int_equal(sl_aredis_eval(ar, &echo_script, 1000, acb, &c2, 1, 2, argv2, NULL), 0);
	assert_int_equal(sl_aredis_eval(ar, &echo_script, 1000, acb, &c3, 1, 2, argv, NULL), 0);
	memset(key, 'X', sizeof(key) - 1);
	memset(val, 'Y', sizeof(val) - 1);
	run_until(base, &c3.calls, 2000);
	assert_int_equal(c2.calls, 1);
	assert_string_equal(c2.err, "");
	assert_true(c2.echo_ok);
	assert_true(c3.echo_ok);
	sl_redis_free(r);
	sl_aredis_free(ar);
	event_base_free(base);
}

/* test_async_timeout - the callback gets "timeout", the late reply is dropped */
static void
test_async_timeout(void **state)
{
	struct event_base *base = event_base_new();
	sl_redis_opts o = opts_unix();
	sl_aredis *ar = sl_aredis_new(base, &o);
	struct acall slow = {0}, ping = {0};
	const char *a_sleep[] = {"DEBUG", "SLEEP", "0.5"}, *a_ping[] = {"PING"};
	long long t0;

	(void) state;
	assert_true(wait_connected(base, ar, 2000));
	t0 = now_ms();
	acmd(ar, 100, &slow, 3, a_sleep);
	run_until(base, &slow.calls, 2000);
	print_message("async timeout after %lld ms\n", slow.at - t0);
	assert_string_equal(slow.err, "timeout");
	assert_in_range(slow.at - t0, 90, 400);
	/* Queued behind the sleep: answered when the server wakes up. */
	acmd(ar, 2000, &ping, 1, a_ping);
	run_until(base, &ping.calls, 2000);
	run_for(base, 50);
	assert_int_equal(slow.calls, 1);
	assert_int_equal(ping.calls, 1);
	assert_string_equal(ping.str, "PONG");
	assert_true(sl_aredis_connected(ar));
	sl_aredis_free(ar);
	event_base_free(base);
}

/* test_async_disconnect - pending get "disconnected", fail fast, reconnect */
static void
test_async_disconnect(void **state)
{
	struct event_base *base = event_base_new();
	sl_redis_opts o = opts_unix();
	sl_aredis *ar = sl_aredis_new(base, &o);
	struct acall blk = {0}, down = {0}, ping = {0};
	const char *a_blpop[] = {"BLPOP", "t:never", "10"}, *a_ping[] = {"PING"};
	long long t0;

	(void) state;
	assert_true(wait_connected(base, ar, 2000));
	acmd(ar, 5000, &blk, 3, a_blpop);
	run_for(base, 50);
	srv_stop(&srv_pid, SIGKILL);
	t0 = now_ms();
	run_until(base, &blk.calls, 2000);
	assert_int_equal(blk.calls, 1);
	assert_string_equal(blk.err, "disconnected");
	assert_in_range(blk.at - t0, 0, 500);
	assert_false(sl_aredis_connected(ar));
	print_message("down: %s\n", sl_aredis_errstr(ar));
	assert_true(sl_aredis_errstr(ar)[0] != '\0');

	t0 = now_ms();
	acmd(ar, 1000, &down, 1, a_ping);
	assert_int_equal(down.calls, 0);	/* not re-entrant */
	run_until(base, &down.calls, 1000);
	assert_string_equal(down.err, "not connected");
	assert_in_range(down.at - t0, 0, 100);

	run_for(base, 700);		/* a few failed attempts: backoff grows */
	assert_int_equal(srv_start(), 0);
	t0 = now_ms();
	assert_true(wait_connected(base, ar, 6000));
	print_message("async reconnected %lld ms after restart\n", now_ms() - t0);
	acmd(ar, 1000, &ping, 1, a_ping);
	run_until(base, &ping.calls, 2000);
	assert_string_equal(ping.str, "PONG");
	run_for(base, 20);
	assert_int_equal(blk.calls + down.calls + ping.calls, 3);
	sl_aredis_free(ar);
	event_base_free(base);
}

/* test_async_free_pending - free with requests in every state */
static void
test_async_free_pending(void **state)
{
	struct event_base *base = event_base_new();
	sl_redis_opts o = opts_unix(), bad = opts_unix();
	sl_aredis *ar = sl_aredis_new(base, &o), *dead;
	struct acall blk = {0}, slow = {0}, ff = {0}, self = {0}, after = {0};
	const char *a_blpop[] = {"BLPOP", "t:never", "10"};
	const char *a_sleep[] = {"DEBUG", "SLEEP", "0.3"}, *a_ping[] = {"PING"};
	char	nosock[192];

	(void) state;
	snprintf(nosock, sizeof(nosock), "%s/no-such.sock", dir);
	bad.unix_path = nosock;
	dead = sl_aredis_new(base, &bad);
	assert_true(wait_connected(base, ar, 2000));
	acmd(ar, 50, &slow, 3, a_sleep);	/* times out, stays in hiredis */
	run_until(base, &slow.calls, 1000);
	assert_string_equal(slow.err, "timeout");
	acmd(ar, 5000, &blk, 3, a_blpop);	/* pending in hiredis */
	acmd(dead, 1000, &ff, 1, a_ping);	/* fail-fast timer not yet run */
	sl_aredis_free(ar);
	sl_aredis_free(dead);
	assert_int_equal(blk.calls, 1);
	assert_string_equal(blk.err, "shutting down");
	assert_int_equal(ff.calls, 1);
	assert_string_equal(ff.err, "shutting down");
	run_for(base, 400);		/* nothing may fire any more */
	assert_int_equal(slow.calls, 1);
	assert_int_equal(blk.calls, 1);
	assert_int_equal(ff.calls, 1);

	/* Free from inside a reply callback, with another request behind it. */
	ar = sl_aredis_new(base, &o);
	assert_true(wait_connected(base, ar, 2000));
	self.free_me = ar;
	acmd(ar, 1000, &self, 1, a_ping);
	acmd(ar, 1000, &after, 3, a_blpop);
	run_until(base, &self.calls, 2000);
	assert_string_equal(self.str, "PONG");
	assert_int_equal(after.calls, 1);
	assert_string_equal(after.err, "shutting down");
	run_for(base, 50);
	assert_int_equal(self.calls + after.calls, 2);
	event_base_free(base);
}

/* test_async_auth - ACL user connects; a wrong password never does */
static void
test_async_auth(void **state)
{
	struct event_base *base = event_base_new();
	sl_redis_opts o = opts_unix();
	sl_redis *adm = sl_redis_new(&o);
	sl_aredis *ar;
	struct acall who = {0}, nope = {0};
	const char *a_who[] = {"ACL", "WHOAMI"};

	(void) state;
	sl_reply_free(admin(adm, "ACL SETUSER sltest2 on >%s ~* &* +@all", "pw2", NULL));
	o.user = "sltest2";
	o.password = "pw2";
	o.db = 2;
	ar = sl_aredis_new(base, &o);
	assert_true(wait_connected(base, ar, 2000));
	acmd(ar, 1000, &who, 2, a_who);
	run_until(base, &who.calls, 2000);
	assert_string_equal(who.str, "sltest2");
	sl_aredis_free(ar);

	o.password = "wrong";
	ar = sl_aredis_new(base, &o);
	assert_false(wait_connected(base, ar, 300));
	print_message("wrong password: %s\n", sl_aredis_errstr(ar));
	assert_non_null(strstr(sl_aredis_errstr(ar), "AUTH failed: WRONGPASS"));
	acmd(ar, 1000, &nope, 2, a_who);
	run_until(base, &nope.calls, 1000);
	assert_string_equal(nope.err, "not connected");
	sl_aredis_free(ar);
	sl_reply_free(admin(adm, "ACL DELUSER sltest2", NULL, NULL));
	sl_redis_free(adm);
	event_base_free(base);
}

/* test_async_stall - a frozen server is dropped, then found again */
static void
test_async_stall(void **state)
{
	struct event_base *base = event_base_new();
	sl_redis_opts o = opts_unix();
	sl_aredis *ar;
	struct acall c[80], ping = {0};
	const char *a_ping[] = {"PING"};
	long long t0, lost = 0;
	int	n = 0, answered = 0;

	(void) state;
	o.connect_timeout_ms = 300;
	ar = sl_aredis_new(base, &o);
	memset(c, 0, sizeof(c));
	assert_true(wait_connected(base, ar, 2000));
	kill(srv_pid, SIGSTOP);
	t0 = now_ms();
	while (now_ms() - t0 < 7000 && n < 80) {
		acmd(ar, 200, &c[n++], 1, a_ping);
		run_for(base, 100);
		if (!lost && !sl_aredis_connected(ar))
			lost = now_ms() - t0;
	}
	print_message("frozen server dropped after %lld ms (%s), %d requests\n",
		      lost, sl_aredis_errstr(ar), n);
	assert_in_range(lost, 4900, 6500);
	assert_false(sl_aredis_connected(ar));	/* handshake cannot finish */
	kill(srv_pid, SIGCONT);
	assert_true(wait_connected(base, ar, 6000));
	acmd(ar, 1000, &ping, 1, a_ping);
	run_until(base, &ping.calls, 2000);
	assert_string_equal(ping.str, "PONG");
	run_for(base, 50);
	for (int i = 0; i < n; i++) {
		assert_int_equal(c[i].calls, 1);
		answered += c[i].err[0] != '\0';
	}
	assert_int_equal(answered, n);	/* all timeout / not connected */
	sl_aredis_free(ar);
	event_base_free(base);
}

/* the gate holds every handle but an ungated one, at once, without trying to connect */
static void
test_gate(void **state)
{
	sl_redis_opts o = {.unix_path = "/nonexistent/redis.sock", .connect_timeout_ms = 100};
	sl_redis *held, *free_one;

	(void)state;
	held = sl_redis_new(&o);
	o.ungated = 1;
	free_one = sl_redis_new(&o);
	sl_redis_gate(1);
	assert_int_equal(sl_redis_cmd(held, NULL, "PING"), -1);
	assert_string_equal(sl_redis_errstr(held), SL_REDIS_GATED);
	assert_int_equal(sl_redis_scan_all(held, "*", NULL, NULL), -1);
	assert_string_equal(sl_redis_errstr(held), SL_REDIS_GATED);
	assert_int_equal(sl_redis_cmd(free_one, NULL, "PING"), -1);
	assert_string_not_equal(sl_redis_errstr(free_one), SL_REDIS_GATED);
	sl_redis_gate(0);
	assert_int_equal(sl_redis_cmd(held, NULL, "PING"), -1);
	assert_string_not_equal(sl_redis_errstr(held), SL_REDIS_GATED);
	sl_redis_free(held);
	sl_redis_free(free_one);
}

/* Slots as CLUSTER KEYSLOT printed them (redis-server 7.0.15, cluster-enabled). */
static void
test_keyslot(void **state)
{
	static const struct {
		const char *key;
		unsigned slot;
	} t[] = {
		{"", 0}, {"foo", 12182}, {"sluice:supp:global:bob@example.net", 9270},
		{"{user1000}.following", 3443}, {"foo{}{bar}", 8363},
		{"foo{{bar}}zap", 4015}, {"foo{bar}{zap}", 5061},
		{"sluice:{t1}:quota", 8943}, {"123456789", 12739}, {"{}x", 10595},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(sl_redis_keyslot(t[i].key, strlen(t[i].key)), t[i].slot);
	/* a hash tag: only what is inside the first {...} counts */
	assert_int_equal(sl_redis_keyslot("a{t1}b", 6), sl_redis_keyslot("t1", 2));
}

static void
test_cmd_slot(void **state)
{
	const char *get[] = {"GET", "foo"};
	const char *evsha[] = {"EVALSHA", "0123", "2", "{user1000}.following", "x", "arg"};
	const char *nokeys[] = {"EVALSHA", "0123", "0", "arg"};
	const char *ping[] = {"PING"};
	const char *info[] = {"info", "replication"};
	size_t	len[] = {3, 3};

	(void) state;
	assert_int_equal(sl_redis_cmd_slot(2, get, NULL), 12182);
	assert_int_equal(sl_redis_cmd_slot(2, get, len), 12182);
	assert_int_equal(sl_redis_cmd_slot(6, evsha, NULL), 3443);
	assert_int_equal(sl_redis_cmd_slot(4, nokeys, NULL), -1);
	assert_int_equal(sl_redis_cmd_slot(1, ping, NULL), -1);
	assert_int_equal(sl_redis_cmd_slot(2, info, NULL), -1);
}

static void
test_redirect_parse(void **state)
{
	char	host[64];
	int	ask = -1, slot = -1, port = -1;

	(void) state;
	assert_int_equal(sl_redis_redirect("MOVED 3999 127.0.0.1:6381", &ask, &slot,
					   host, sizeof(host), &port), 1);
	assert_int_equal(ask, 0);
	assert_int_equal(slot, 3999);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 6381);
	assert_int_equal(sl_redis_redirect("ASK 0 [::1]:7000", &ask, &slot, host,
					   sizeof(host), &port), 1);
	assert_int_equal(ask, 1);
	assert_int_equal(slot, 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 7000);
	assert_int_equal(sl_redis_redirect("ERR wrong type", &ask, &slot, host,
					   sizeof(host), &port), 0);
	assert_int_equal(sl_redis_redirect("CROSSSLOT Keys in request don't hash", &ask,
					   &slot, host, sizeof(host), &port), 0);
	assert_int_equal(sl_redis_redirect("MOVED 16384 127.0.0.1:6381", &ask, &slot,
					   host, sizeof(host), &port), -1);
	assert_int_equal(sl_redis_redirect("MOVED 12 127.0.0.1", &ask, &slot, host,
					   sizeof(host), &port), -1);
	assert_int_equal(sl_redis_redirect("MOVED x 127.0.0.1:1", &ask, &slot, host,
					   sizeof(host), &port), -1);
	assert_int_equal(sl_redis_redirect("MOVED 1 127.0.0.1:99999", &ask, &slot, host,
					   sizeof(host), &port), -1);
}

static void
test_hostport(void **state)
{
	char	host[8];
	int	port;

	(void) state;
	assert_int_equal(sl_redis_hostport("a:1", host, sizeof(host), &port), 0);
	assert_string_equal(host, "a");
	assert_int_equal(port, 1);
	assert_int_equal(sl_redis_hostport("a", host, sizeof(host), &port), -1);
	assert_int_equal(sl_redis_hostport(":1", host, sizeof(host), &port), -1);
	assert_int_equal(sl_redis_hostport("a:0", host, sizeof(host), &port), -1);
	assert_int_equal(sl_redis_hostport("a:1x", host, sizeof(host), &port), -1);
	assert_int_equal(sl_redis_hostport("toolonghost:1", host, sizeof(host), &port), -1);
	assert_int_equal(sl_redis_hostport("a b:1", host, sizeof(host), &port), -1);
}

/* reply_str - a hand-made hiredis reply (freed with freeReplyObject) */
static redisReply *
reply_of(int type, const char *str, long long integer)
{
	redisReply *r = calloc(1, sizeof(*r));

	r->type = type;
	r->integer = integer;
	if (str) {
		r->str = strdup(str);
		r->len = strlen(str);
	}
	return r;
}

/* reply_arr - an array reply of n elements */
static redisReply *
reply_arr(size_t n, ...)
{
	redisReply *r = reply_of(REDIS_REPLY_ARRAY, NULL, 0);
	va_list	ap;

	r->elements = n;
	r->element = calloc(n ? n : 1, sizeof(*r->element));
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		r->element[i] = va_arg(ap, redisReply *);
	va_end(ap);
	return r;
}

static void
test_sentinel_replies(void **state)
{
	char	host[64], err[128];
	int	port;
	redisReply *r;

	(void) state;
	r = reply_arr(2, reply_of(REDIS_REPLY_STRING, "127.0.0.1", 0),
		      reply_of(REDIS_REPLY_STRING, "6380", 0));
	assert_int_equal(sl_redis_sentinel_addr(r, host, sizeof(host), &port, err,
						sizeof(err)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 6380);
	freeReplyObject(r);
	r = reply_of(REDIS_REPLY_NIL, NULL, 0);
	assert_int_equal(sl_redis_sentinel_addr(r, host, sizeof(host), &port, err,
						sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown"));
	freeReplyObject(r);
	r = reply_arr(2, reply_of(REDIS_REPLY_STRING, "h", 0),
		      reply_of(REDIS_REPLY_STRING, "70000", 0));
	assert_int_equal(sl_redis_sentinel_addr(r, host, sizeof(host), &port, err,
						sizeof(err)), -1);
	freeReplyObject(r);
	/* ROLE: master passes, a replica is refused, an error is an error */
	r = reply_arr(3, reply_of(REDIS_REPLY_STRING, "master", 0),
		      reply_of(REDIS_REPLY_INTEGER, NULL, 42), reply_arr(0));
	assert_int_equal(sl_redis_role_check(r, err, sizeof(err)), 0);
	freeReplyObject(r);
	r = reply_arr(5, reply_of(REDIS_REPLY_STRING, "slave", 0),
		      reply_of(REDIS_REPLY_STRING, "127.0.0.1", 0),
		      reply_of(REDIS_REPLY_INTEGER, NULL, 6379),
		      reply_of(REDIS_REPLY_STRING, "connected", 0),
		      reply_of(REDIS_REPLY_INTEGER, NULL, 42));
	assert_int_equal(sl_redis_role_check(r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not the master"));
	freeReplyObject(r);
	r = reply_of(REDIS_REPLY_ERROR, "NOPERM this user has no permissions to run the 'role' command", 0);
	assert_int_equal(sl_redis_role_check(r, err, sizeof(err)), -1);
	assert_int_equal(sl_redis_is_readonly(r), 0);
	freeReplyObject(r);
	r = reply_of(REDIS_REPLY_ERROR, "READONLY You can't write against a read only replica.", 0);
	assert_int_equal(sl_redis_is_readonly(r), 1);
	freeReplyObject(r);
}

static void
test_slotmap(void **state)
{
	struct sl_redis_slotmap m;
	char	err[128];
	redisReply *r;
	sl_reply *c;

	(void) state;
	sl_redis_slotmap_init(&m);
	r = reply_arr(2,
		      reply_arr(4, reply_of(REDIS_REPLY_INTEGER, NULL, 0),
				reply_of(REDIS_REPLY_INTEGER, NULL, 8191),
				reply_arr(3, reply_of(REDIS_REPLY_STRING, "127.0.0.1", 0),
					  reply_of(REDIS_REPLY_INTEGER, NULL, 7000),
					  reply_of(REDIS_REPLY_STRING, "id1", 0)),
				reply_arr(3, reply_of(REDIS_REPLY_STRING, "127.0.0.1", 0),
					  reply_of(REDIS_REPLY_INTEGER, NULL, 7003),
					  reply_of(REDIS_REPLY_STRING, "id4", 0))),
		      reply_arr(3, reply_of(REDIS_REPLY_INTEGER, NULL, 8192),
				reply_of(REDIS_REPLY_INTEGER, NULL, 16383),
				reply_arr(2, reply_of(REDIS_REPLY_STRING, "127.0.0.1", 0),
					  reply_of(REDIS_REPLY_INTEGER, NULL, 7001))));
	c = sl_redis_reply_copy(r);
	assert_int_equal(sl_redis_slotmap_load(&m, c, err, sizeof(err)), 0);
	sl_reply_free(c);
	assert_int_equal(m.nnodes, 2);	/* masters only: the replica 7003 is not used */
	assert_int_equal(m.port[m.node[0]], 7000);
	assert_int_equal(m.port[m.node[8191]], 7000);
	assert_int_equal(m.port[m.node[8192]], 7001);
	assert_int_equal(m.port[m.node[16383]], 7001);
	freeReplyObject(r);
	r = reply_arr(1, reply_arr(3, reply_of(REDIS_REPLY_INTEGER, NULL, 10),
				   reply_of(REDIS_REPLY_INTEGER, NULL, 16384),
				   reply_arr(2, reply_of(REDIS_REPLY_STRING, "h", 0),
					     reply_of(REDIS_REPLY_INTEGER, NULL, 1))));
	c = sl_redis_reply_copy(r);
	assert_int_equal(sl_redis_slotmap_load(&m, c, err, sizeof(err)), -1);
	sl_reply_free(c);
	freeReplyObject(r);
	sl_redis_slotmap_free(&m);
}

/* spawn_cluster_node - a cluster-enabled redis-server on 127.0.0.1:port */
static pid_t
spawn_cluster_node(int port)
{
	const char *bin = getenv("REDIS_SERVER") ? getenv("REDIS_SERVER") : "redis-server";
	char	portstr[16], nodes[160], log[160];
	pid_t	pid;
	int	fd;

	snprintf(portstr, sizeof(portstr), "%d", port);
	snprintf(nodes, sizeof(nodes), "%s/nodes-%d.conf", dir, port);
	snprintf(log, sizeof(log), "%s/cluster-%d.log", dir, port);
	if ((pid = fork()) != 0)
		return pid;
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execlp(bin, bin, "--port", portstr, "--bind", "127.0.0.1", "--cluster-enabled",
	       "yes", "--cluster-config-file", nodes, "--cluster-node-timeout", "2000",
	       "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir,
	       (char *) NULL);
	_exit(127);
}

/* node_str - a one-string reply from one node ("" on failure), to buf */
static const char *
node_str(sl_redis *r, char *buf, size_t len, const char *fmt, const char *a1,
	 const char *a2)
{
	sl_reply *rep = NULL;

	buf[0] = '\0';
	if (sl_redis_cmd(r, &rep, fmt, a1, a2) == 0 && rep->str)
		snprintf(buf, len, "%s", rep->str);
	sl_reply_free(rep);
	return buf;
}

/* async_call - one async request on a cluster handle, answered before returning */
static void
async_call(struct event_base *base, sl_aredis *ar, struct acall *c, sl_script *script, int argc,
	   const char **argv)
{
	memset(c, 0, sizeof(*c));
	if (script)
		assert_int_equal(sl_aredis_eval(ar, script, 3000, acb, c, 1, argc, argv, NULL), 0);
	else
		assert_int_equal(sl_aredis_cmdv(ar, 3000, acb, c, argc, argv, NULL), 0);
	assert_int_equal(c->calls, 0);	/* never from inside the call */
	run_until(base, &c->calls, 4000);
	assert_int_equal(c->calls, 1);
}

/*
 * test_cluster_redirects - one long-lived sync handle on a real 3-master
 * cluster, one seed given: routing, ASK while a slot migrates, MOVED
 * once it moved (the handle's map is stale then), EVALSHA on the new
 * owner (NOSCRIPT there becomes EVAL). The same steps with an async
 * handle on an event loop: ASK (ASKING + EVAL for a script), MOVED, a
 * dead master's requests fail within their timeout, the others go on.
 */
static void
test_cluster_redirects(void **state)
{
	static sl_script get_script = {.source = "return redis.call('GET', KEYS[1])"};
	sl_redis *node[3], *cr;
	sl_reply *rep = NULL;
	pid_t	pid[3];
	int	port[3], src = -1, dst;
	char	cmd[512], seed[32], buf[4096], ids[3][64], slot[16];
	const char *seeds[1] = {seed};
	const char *k[] = {"foo"};
	sl_redis_opts o = {.command_timeout_ms = 5000};
	struct event_base *base = event_base_new();
	sl_aredis *car;
	struct acall ac;
	const char *a_set[] = {"SET", "foo", "bar"}, *a_get[] = {"GET", "foo"};
	const char *a_mget[] = {"MGET", "foo", "bar"};

	(void) state;
	srand((unsigned) getpid());
	/* below 22768: the bus ports (+10000) stay under the ephemeral range */
	port[0] = 20000 + rand() % 2700;
	port[1] = port[0] + 1, port[2] = port[0] + 2;
	for (int i = 0; i < 3; i++) {
		pid[i] = spawn_cluster_node(port[i]);
		for (int t = 0; t < 1500 && !ping_tcp(port[i]); t++) /* 15 s: a loaded machine */
			sleep_ms(10);
		assert_true(ping_tcp(port[i]));
		o.host = "127.0.0.1", o.port = port[i];
		node[i] = sl_redis_new(&o);
		node_str(node[i], ids[i], sizeof(ids[i]), "CLUSTER MYID", NULL, NULL);
	}
	snprintf(cmd, sizeof(cmd), "redis-cli --cluster create 127.0.0.1:%d 127.0.0.1:%d "
		 "127.0.0.1:%d --cluster-yes >%s/create.log 2>&1", port[0], port[1], port[2], dir);
	assert_int_equal(system(cmd), 0);
	for (int t = 0; t < 300; t++) {
		int	ok = 0;

		for (int i = 0; i < 3; i++)
			ok += strstr(node_str(node[i], buf, sizeof(buf), "CLUSTER INFO", NULL,
					      NULL), "cluster_state:ok") != NULL;
		if (ok == 3)
			break;
		sleep_ms(50);
	}
	snprintf(seed, sizeof(seed), "127.0.0.1:%d", port[0]);
	cr = sl_redis_new(&(sl_redis_opts) {.cluster_nodes = seeds, .ncluster_nodes = 1,
					    .command_timeout_ms = 5000});
	assert_int_equal(sl_redis_cmd(cr, &rep, "SET %s %s", "foo", "bar"), 0);
	assert_int_equal(rep->type, SL_REPLY_STATUS);
	sl_reply_free(rep);
	car = sl_aredis_new(base, &(sl_redis_opts) {.cluster_nodes = seeds, .ncluster_nodes = 1,
						   .command_timeout_ms = 3000});
	assert_true(sl_aredis_cluster(car));
	assert_true(wait_connected(base, car, 5000));	/* the map, and all 3 masters */
	async_call(base, car, &ac, NULL, 3, a_set);
	assert_int_equal(ac.type, SL_REPLY_STATUS);
	for (int i = 0; i < 3; i++)	/* the owner answers GET, the others MOVED */
		if (strcmp(node_str(node[i], buf, sizeof(buf), "GET %s", "foo", NULL), "bar") == 0)
			src = i;
	assert_true(src >= 0);
	dst = (src + 1) % 3;
	/* Migrate slot 12182 (foo) from src to dst, key first: ASK. */
	snprintf(slot, sizeof(slot), "%u", sl_redis_keyslot("foo", 3));
	assert_string_equal(slot, "12182");
	assert_int_equal(sl_redis_cmd(node[dst], NULL, "CLUSTER SETSLOT %s IMPORTING %s", slot,
				      ids[src]), 0);
	assert_int_equal(sl_redis_cmd(node[src], NULL, "CLUSTER SETSLOT %s MIGRATING %s", slot,
				      ids[dst]), 0);
	snprintf(buf, sizeof(buf), "%d", port[dst]);
	assert_int_equal(sl_redis_cmd(node[src], &rep, "MIGRATE 127.0.0.1 %s foo 0 5000", buf), 0);
	assert_string_equal(rep->str, "OK");
	sl_reply_free(rep);
	assert_int_equal(strncmp(node_str(node[src], buf, sizeof(buf), "GET %s", "foo", NULL),
				 "ASK 12182 ", 10), 0);
	assert_int_equal(sl_redis_cmd(cr, &rep, "GET %s", "foo"), 0);
	assert_int_equal(rep->type, SL_REPLY_STRING);
	assert_string_equal(rep->str, "bar");
	sl_reply_free(rep);
	async_call(base, car, &ac, NULL, 2, a_get);	/* ASK: ASKING + GET on dst */
	assert_int_equal(ac.type, SL_REPLY_STRING);
	assert_string_equal(ac.str, "bar");
	async_call(base, car, &ac, &get_script, 1, k);	/* ASKING + EVAL: dst lacks it */
	assert_int_equal(ac.type, SL_REPLY_STRING);
	assert_string_equal(ac.str, "bar");
	/* The slot is dst's now; cr's map still says src: MOVED. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(sl_redis_cmd(node[i], NULL, "CLUSTER SETSLOT %s NODE %s", slot,
					      ids[dst]), 0);
	assert_int_equal(strncmp(node_str(node[src], buf, sizeof(buf), "GET %s", "foo", NULL),
				 "MOVED 12182 ", 12), 0);
	assert_int_equal(sl_redis_cmd(cr, &rep, "GET %s", "foo"), 0);
	assert_string_equal(rep->str, "bar");
	sl_reply_free(rep);
	assert_int_equal(sl_redis_eval(cr, &get_script, &rep, 1, 1, k, NULL), 0);
	assert_int_equal(rep->type, SL_REPLY_STRING);
	assert_string_equal(rep->str, "bar");
	sl_reply_free(rep);
	sl_reply_free(admin(node[dst], "SCRIPT FLUSH", NULL, NULL));
	async_call(base, car, &ac, &get_script, 1, k);	/* MOVED, then NOSCRIPT -> EVAL */
	assert_int_equal(ac.type, SL_REPLY_STRING);
	assert_string_equal(ac.str, "bar");
	async_call(base, car, &ac, NULL, 2, a_get);	/* the map was updated: no redirect */
	assert_string_equal(ac.str, "bar");
	async_call(base, car, &ac, NULL, 3, a_mget);
	assert_int_equal(ac.type, SL_REPLY_ERROR);
	assert_int_equal(strncmp(ac.str, "CROSSSLOT", 9), 0);
	assert_true(sl_aredis_error_replies(car) >= 1);
	/* TRYAGAIN: {t}a moved, {t}b not yet; asked again until the slot is done */
	{
		const char *a_two[] = {"MGET", "{t}a", "{t}b"};
		char tslot[16];
		int ts = -1, td;

		snprintf(tslot, sizeof(tslot), "%u", sl_redis_keyslot("t", 1));
		assert_int_equal(sl_redis_cmd(cr, NULL, "MSET {t}a 1 {t}b 2"), 0);
		for (int i = 0; i < 3; i++)
			if (strncmp(node_str(node[i], buf, sizeof(buf), "GET %s", "{t}a", NULL), "MOVED", 5))
				ts = i;
		assert_true(ts >= 0);
		td = (ts + 1) % 3;
		assert_int_equal(sl_redis_cmd(node[td], NULL, "CLUSTER SETSLOT %s IMPORTING %s", tslot,
					      ids[ts]), 0);
		assert_int_equal(sl_redis_cmd(node[ts], NULL, "CLUSTER SETSLOT %s MIGRATING %s", tslot,
					      ids[td]), 0);
		snprintf(buf, sizeof(buf), "%d", port[td]);
		assert_int_equal(sl_redis_cmd(node[ts], NULL, "MIGRATE 127.0.0.1 %s {t}a 0 5000", buf), 0);
		memset(&ac, 0, sizeof(ac));
		assert_int_equal(sl_aredis_cmdv(car, 3000, acb, &ac, 3, a_two, NULL), 0);
		run_for(base, 30);	/* a TRYAGAIN or two, at most */
		assert_int_equal(ac.calls, 0);
		assert_int_equal(sl_redis_cmd(node[ts], NULL, "MIGRATE 127.0.0.1 %s {t}b 0 5000", buf), 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(sl_redis_cmd(node[i], NULL, "CLUSTER SETSLOT %s NODE %s", tslot,
						      ids[td]), 0);
		run_until(base, &ac.calls, 4000);
		assert_int_equal(ac.calls, 1);
		assert_int_equal(ac.type, SL_REPLY_ARRAY);
		assert_int_equal(ac.elements, 2);
	}
	/* Keys of two slots in one command: the server's CROSSSLOT, an error reply. */
	assert_int_equal(sl_redis_cmd(cr, &rep, "MGET %s %s", "foo", "bar"), 0);
	assert_int_equal(rep->type, SL_REPLY_ERROR);
	assert_int_equal(strncmp(rep->str, "CROSSSLOT", 9), 0);
	sl_reply_free(rep);
	/* A dead node: a clear error at once, then the others still work. */
	srv_stop(&pid[dst], SIGKILL);
	assert_int_equal(sl_redis_cmd(cr, &rep, "GET %s", "foo"), -1);
	print_message("cluster node killed: %s\n", sl_redis_errstr(cr));
	{
		long long t0 = now_ms();

		async_call(base, car, &ac, NULL, 2, a_get);
		assert_true(ac.err[0] != '\0');	/* disconnected / not connected / timeout */
		assert_true(now_ms() - t0 < 3500);	/* within its timeout */
		print_message("async, cluster node killed: %s\n", ac.err);
		assert_false(sl_aredis_connected(car));
	}
	for (int i = 0; i < 100; i++) {	/* a key src serves */
		char	key[16];

		snprintf(key, sizeof(key), "k%d", i);
		if (strncmp(node_str(node[src], buf, sizeof(buf), "GET %s", key, NULL),
			    "MOVED", 5) == 0)
			continue;
		assert_int_equal(sl_redis_cmd(cr, &rep, "SET %s %s", key, "1"), 0);
		assert_int_equal(rep->type, SL_REPLY_STATUS);
		sl_reply_free(rep);
		{
			const char *a_k[] = {"GET", key};

			async_call(base, car, &ac, NULL, 2, a_k);
			assert_int_equal(ac.type, SL_REPLY_STRING);
			assert_string_equal(ac.str, "1");
		}
		break;
	}
	sl_redis_free(cr);
	sl_aredis_free(car);
	event_base_free(base);
	for (int i = 0; i < 3; i++) {
		sl_redis_free(node[i]);
		srv_stop(&pid[i], SIGTERM);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keyslot),
	    cmocka_unit_test(test_cmd_slot),
	    cmocka_unit_test(test_redirect_parse),
	    cmocka_unit_test(test_hostport),
	    cmocka_unit_test(test_sentinel_replies),
	    cmocka_unit_test(test_slotmap),
	    cmocka_unit_test(test_cluster_redirects),
	    cmocka_unit_test(test_reply_types),
	    cmocka_unit_test(test_eval_noscript),
	    cmocka_unit_test(test_auth_acl),
	    cmocka_unit_test(test_sync_timeout),
	    cmocka_unit_test(test_sync_reconnect),
	    cmocka_unit_test(test_tcp),
	    cmocka_unit_test(test_async_cmds),
	    cmocka_unit_test(test_async_noscript),
	    cmocka_unit_test(test_async_timeout),
	    cmocka_unit_test(test_async_disconnect),
	    cmocka_unit_test(test_async_free_pending),
	    cmocka_unit_test(test_async_auth),
	    cmocka_unit_test(test_async_stall),
	    cmocka_unit_test(test_gate),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * NAME
 *	milter_load 1 - milter protocol load client: what the server costs per message
 * SYNOPSIS
 *	milter_load -s /path/milter.sock [-c connections] [-n messages]
 *		    [-b body_bytes] [-p server_pid] [-e signatures] [-w warmup]
 *		    [-u sasl_users]
 * DESCRIPTION
 *	Speaks the MTA side of the milter protocol (version 6, as Postfix's
 *	smtpd and cleanup do) directly on a unix socket, over -c connections
 *	at once (one thread each; default 1), and sends -n messages in all
 *	(default 1000): MAIL, one RCPT, DATA, 7 header fields, end of header,
 *	a body of -b bytes (default 2048) in chunks of at most 65535, end of
 *	message. It offers every protocol step and "no reply" option Postfix
 *	offers and honours what the milter negotiates: steps it asked not to
 *	get are not sent, steps without reply are not waited for, and only
 *	the macros it listed are sent (else Postfix's defaults). Each
 *	command is written as Postfix writes it, one write per command.
 *
 *	Every message must end with continue or accept and carry -e
 *	DKIM-Signature fields inserted or added (default 1; 0: not checked);
 *	any other reply counts as an error, and a run with errors exits 1.
 *	-w messages per connection go first, unmeasured.
 *
 *	-u N makes each message its own, as a relay's traffic is (for the
 *	milter's Redis work on several nodes, tests/bench/sim_scaleout.py):
 *	queue id ("i") B<connection><message>, recipient rcpt<n>@dest<n%37>
 *	.example, SASL login ({auth_authen}) user<n%N>@tenant<n%N%50>
 *	.example, and a connection of its own per client connection
 *	({client_addr} 10.9.<c/250>.<c%250+1>, {client_port} 20000+c,
 *	{daemon_addr} 10.0.0.1, {daemon_port} 587: the name of policyd's
 *	charge record). Without -u every message has the same queue id and
 *	recipient, and no login.
 *
 *	Prints one line: connections, messages, body size, seconds, msg/s,
 *	and with -p the server's CPU time per message (utime + stime of all
 *	its threads from /proc/PID/stat over the measured part) and the
 *	kernel's part of it (stime), and the
 *	client's own CPU time per message, so one can see which side bounds
 *	the rate.
 * EXIT STATUS
 *	0 all messages answered as expected, 1 errors, 2 usage or connection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define PROTO_OFFER   0x1FFFFFUL /* every step and no-reply option Postfix offers */
#define ACTIONS_OFFER 0x1FFUL    /* headers, body, envelope, quarantine, symlist */
#define NOCONNECT     0x1UL
#define NOHELO        0x2UL
#define NOMAIL        0x4UL
#define NORCPT        0x8UL
#define NOBODY        0x10UL
#define NOHDRS        0x20UL
#define NOEOH         0x40UL
#define NR_HDR        0x80UL
#define NODATA        0x200UL
#define NR_CONN       0x1000UL
#define NR_HELO       0x2000UL
#define NR_MAIL       0x4000UL
#define NR_RCPT       0x8000UL
#define NR_DATA       0x10000UL
#define NR_EOH        0x40000UL
#define NR_BODY       0x80000UL
#define STAGES        7 /* SMFIM_CONNECT .. SMFIM_EOH */

typedef struct conn {
	int fd;
	unsigned long proto;
	char *symlist[STAGES]; /* the macros asked for, or NULL: defaults */
	int id;                /* the connection's number */
	char qid[32], rcpt[64], user[64], caddr[32], cport[16]; /* -u: this message's */
	unsigned char in[1 << 17];
	size_t inlen;
	unsigned char *out;
	size_t outcap;
} conn;

typedef struct job {
	pthread_t tid;
	int id, count, warmup, errors, sigs;
	char error[256];
} job;

static const char *sock_path;
static size_t body_bytes = 2048;
static int want_sigs = 1;
static int sasl_users; /* -u: messages of their own, with N SASL users */
static pthread_barrier_t start_line, end_line;

/* Postfix's default macros per stage (milter_*_macros), with bench values */
static const char *const defaults[STAGES][16] = {
    {"j", "mta.sluice.test", "{daemon_name}", "smtpd", "v", "Postfix 3.7", "{client_addr}",
     "127.0.0.1", "{client_port}", "25", "{daemon_addr}", "10.0.0.1", "{daemon_port}", "587", NULL},
    {"{cert_issuer}", "", NULL},
    {"i", "BENCH0001", "{mail_addr}", "app@example.com", "{auth_type}", "", "{auth_authen}", "",
     NULL},
    {"{rcpt_addr}", "rcpt@dest.example", "i", "BENCH0001", NULL},
    {"i", "BENCH0001", NULL},
    {"i", "BENCH0001", NULL},
    {"i", "BENCH0001", NULL},
};
static const char stage_cmd[STAGES] = {'C', 'H', 'M', 'R', 'T', 'E', 'N'};

/* value - a macro's value: the default, or with -u this message's own */
static const char *
value(const conn *c, const char *name, const char *dflt)
{
	if (!sasl_users)
		return dflt;
	if (strcmp(name, "i") == 0)
		return c->qid;
	if (strcmp(name, "{rcpt_addr}") == 0)
		return c->rcpt;
	if (strcmp(name, "{auth_authen}") == 0)
		return c->user;
	if (strcmp(name, "{auth_type}") == 0)
		return "PLAIN";
	if (strcmp(name, "{client_addr}") == 0)
		return c->caddr;
	if (strcmp(name, "{client_port}") == 0)
		return c->cport;
	return dflt;
}

/* die - a usage or connection problem */
static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "milter_load: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
	exit(2);
}

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* server_cpu - utime + stime of a process and all its threads, seconds; *sys: stime */
static double
server_cpu(int pid, double *sys)
{
	char path[64], buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st);
	fclose(f);
	*sys = (double)st / (double)sysconf(_SC_CLK_TCK);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* client_cpu - our own CPU seconds */
static double
client_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* put_cmd - write one command: length, command byte, data */
static int
put_cmd(conn *c, char cmd, const void *data, size_t len)
{
	uint32_t n = htonl((uint32_t)(len + 1));
	size_t total = 5 + len, o = 0;

	if (total > c->outcap) {
		c->outcap = total + 1024;
		if ((c->out = realloc(c->out, c->outcap)) == NULL)
			die("out of memory");
	}
	memcpy(c->out, &n, 4);
	c->out[4] = (unsigned char)cmd;
	memcpy(c->out + 5, data, len);
	while (o < total) {
		ssize_t w = write(c->fd, c->out + o, total - o);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		o += (size_t)w;
	}
	return 0;
}

/* get_reply - one packet from the milter: command byte, data, length */
static int
get_reply(conn *c, char *cmd, unsigned char **data, size_t *len)
{
	static __thread unsigned char pkt[1 << 17];
	uint32_t n;

	for (;;) {
		if (c->inlen >= 4) {
			memcpy(&n, c->in, 4);
			n = ntohl(n);
			if (n == 0 || n > sizeof(c->in) - 4)
				return -1;
			if (c->inlen >= 4 + n)
				break;
		}
		ssize_t r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->inlen += (size_t)r;
	}
	*cmd = (char)c->in[4];
	*len = n - 1;
	memcpy(pkt, c->in + 5, *len);
	*data = pkt;
	memmove(c->in, c->in + 4 + n, c->inlen - 4 - n);
	c->inlen -= 4 + n;
	return 0;
}

/* listed - the macro name is in the milter's list for the stage */
static int
listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return 1;
	return 0;
}

/* macros - the D command before a stage: its default macros, as negotiated */
static int
macros(conn *c, int stage)
{
	unsigned char buf[1024];
	size_t o = 1;

	buf[0] = (unsigned char)stage_cmd[stage];
	for (int i = 0; defaults[stage][i]; i += 2) {
		const char *v = value(c, defaults[stage][i], defaults[stage][i + 1]);
		size_t kn = strlen(defaults[stage][i]) + 1, vn = strlen(v) + 1;

		if (c->symlist[stage] && !listed(c->symlist[stage], defaults[stage][i]))
			continue;
		memcpy(buf + o, defaults[stage][i], kn);
		memcpy(buf + o + kn, v, vn);
		o += kn + vn;
	}
	return o > 1 ? put_cmd(c, 'D', buf, o) : 0;
}

/* step - one protocol step unless negotiated away; wait for continue unless no-reply */
static int
step(conn *c, int stage, char cmd, const void *data, size_t len, unsigned long skip,
     unsigned long nr, char *err, size_t errlen)
{
	unsigned char *d;
	size_t dl;
	char rc;

	if (c->proto & skip)
		return 0;
	if ((stage >= 0 && macros(c, stage) < 0) || put_cmd(c, cmd, data, len) < 0) {
		snprintf(err, errlen, "write %c: %s", cmd, strerror(errno));
		return -1;
	}
	if (c->proto & nr)
		return 0;
	if (get_reply(c, &rc, &d, &dl) < 0 || rc != 'c') {
		snprintf(err, errlen, "step %c answered %c", cmd, rc);
		return -1;
	}
	return 0;
}

/* negotiate - connect, option negotiation with the macro lists, CONNECT, HELO */
static int
negotiate(conn *c, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint32_t opt[3] = {htonl(6), htonl(ACTIONS_OFFER), htonl(PROTO_OFFER)};
	unsigned char *d, host[64];
	size_t dl, o = 12;
	char rc;
	uint16_t port = htons(25);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	snprintf(c->caddr, sizeof(c->caddr), "10.9.%d.%d", c->id / 250, c->id % 250 + 1);
	snprintf(c->cport, sizeof(c->cport), "%d", 20000 + c->id);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "%s: %s", sock_path, strerror(errno));
		return -1;
	}
	if (put_cmd(c, 'O', opt, sizeof(opt)) < 0 || get_reply(c, &rc, &d, &dl) < 0 || rc != 'O' ||
	    dl < 12) {
		snprintf(err, errlen, "option negotiation failed");
		return -1;
	}
	memcpy(opt, d, 12);
	c->proto = ntohl(opt[2]);
	while (o + 5 <= dl) { /* stage (4 bytes), then a NUL-terminated list */
		uint32_t st;
		size_t n = strnlen((char *)d + o + 4, dl - o - 4);

		memcpy(&st, d + o, 4);
		st = ntohl(st);
		if (st < STAGES)
			c->symlist[st] = strndup((char *)d + o + 4, n);
		o += 4 + n + 1;
	}
	memcpy(host, "client.test\0" "4", 13);
	memcpy(host + 13, &port, 2);
	memcpy(host + 15, "127.0.0.1", 10);
	return step(c, 0, 'C', host, 25, NOCONNECT, NR_CONN, err, errlen) < 0 ||
			   step(c, 1, 'H', "client.test", 12, NOHELO, NR_HELO, err, errlen) < 0
		   ? -1
		   : 0;
}

/* header - one header step */
static int
header(conn *c, const char *name, const char *value, char *err, size_t errlen)
{
	char buf[512];
	size_t n = strlen(name) + 1, v = strlen(value) + 1;

	memcpy(buf, name, n);
	memcpy(buf + n, value, v);
	return step(c, -1, 'L', buf, n + v, NOHDRS, NR_HDR, err, errlen);
}

/* body - the body steps, chunks of at most 65535 bytes */
static int
body(conn *c, const char *b, size_t len, char *err, size_t errlen)
{
	for (size_t o = 0; o < len && !(c->proto & NOBODY); o += 65535) {
		size_t n = len - o < 65535 ? len - o : 65535;
		unsigned char *d;
		size_t dl;
		char rc;

		if (put_cmd(c, 'B', b + o, n) < 0) {
			snprintf(err, errlen, "write body: %s", strerror(errno));
			return -1;
		}
		if (c->proto & NR_BODY)
			continue;
		if (get_reply(c, &rc, &d, &dl) < 0 || (rc != 'c' && rc != 's')) {
			snprintf(err, errlen, "body answered %c", rc);
			return -1;
		}
		if (rc == 's')
			break;
	}
	return 0;
}

/* eom - end of message; counts the DKIM-Signature fields added */
static int
eom(conn *c, int *sigs, char *err, size_t errlen)
{
	unsigned char *d;
	size_t dl;
	char rc;

	*sigs = 0;
	if (macros(c, 5) < 0 || put_cmd(c, 'E', "", 0) < 0)
		return -1;
	for (;;) {
		if (get_reply(c, &rc, &d, &dl) < 0) {
			snprintf(err, errlen, "no reply to end of message");
			return -1;
		}
		if (rc == 'a' || rc == 'c')
			return 0;
		if (strchr("rtdy", rc)) {
			snprintf(err, errlen, "end of message answered %c %.*s", rc, (int)(dl < 200 ? dl : 200),
				 rc == 'y' ? (char *)d : "");
			return -1;
		}
		if (rc == 'i' && dl > 4 && strcasecmp((char *)d + 4, "DKIM-Signature") == 0)
			(*sigs)++;
		if (rc == 'h' && strcasecmp((char *)d, "DKIM-Signature") == 0)
			(*sigs)++;
	}
}

/* message - one transaction */
static int
message(conn *c, const char *b, int n, int *sigs, char *err, size_t errlen)
{
	char to[64], mid[64], subj[64], arg[80];

	snprintf(to, sizeof(to), "rcpt%d@dest.example", n);
	snprintf(c->qid, sizeof(c->qid), "B%X", (unsigned)n);
	snprintf(c->rcpt, sizeof(c->rcpt), "rcpt%d@dest%d.example", n, n % 37);
	if (sasl_users)
		snprintf(c->user, sizeof(c->user), "user%d@tenant%d.example", n % sasl_users,
		         n % sasl_users % 50);
	snprintf(arg, sizeof(arg), "<%s>", sasl_users ? c->rcpt : "rcpt@dest.example");
	snprintf(mid, sizeof(mid), "<bench-%d@example.com>", n);
	snprintf(subj, sizeof(subj), "Benchmark message %d", n);
	return step(c, 2, 'M', "<app@example.com>", 18, NOMAIL, NR_MAIL, err, errlen) < 0 ||
			   step(c, 3, 'R', arg, strlen(arg) + 1, NORCPT, NR_RCPT, err, errlen) < 0 ||
			   step(c, 4, 'T', "", 0, NODATA, NR_DATA, err, errlen) < 0 ||
			   header(c, "From", "App <app@example.com>", err, errlen) < 0 ||
			   header(c, "To", to, err, errlen) < 0 || header(c, "Subject", subj, err, errlen) < 0 ||
			   header(c, "Date", "Wed, 25 Nov 2026 10:00:00 +0000", err, errlen) < 0 ||
			   header(c, "Message-ID", mid, err, errlen) < 0 ||
			   header(c, "MIME-Version", "1.0", err, errlen) < 0 ||
			   header(c, "Content-Type", "text/plain; charset=us-ascii", err, errlen) < 0 ||
			   step(c, 6, 'N', "", 0, NOEOH, NR_EOH, err, errlen) < 0 ||
			   body(c, b, body_bytes, err, errlen) < 0 || eom(c, sigs, err, errlen) < 0
		   ? -1
		   : 0;
}

/* make_body - body_bytes of CRLF lines */
static char *
make_body(void)
{
	static const char line[] = "The quick brown fox jumps over the lazy dog, again and again. 0123456789\r\n";
	char *b = malloc(body_bytes + sizeof(line));
	size_t o = 0;

	if (b == NULL)
		die("out of memory");
	while (o + sizeof(line) - 1 <= body_bytes) {
		memcpy(b + o, line, sizeof(line) - 1);
		o += sizeof(line) - 1;
	}
	memset(b + o, 'x', body_bytes - o); /* the rest, then the last line end */
	if (body_bytes - o >= 2)
		memcpy(b + body_bytes - 2, "\r\n", 2);
	return b;
}

/* worker - one connection: warm up, wait for the others, send count messages */
static void *
worker(void *arg)
{
	job *j = arg;
	conn *c = calloc(1, sizeof(*c));
	char *b = make_body(), err[256] = "";
	int ok, sigs;

	if (c)
		c->id = j->id;
	ok = c && negotiate(c, err, sizeof(err)) == 0;

	for (int i = 0; ok && i < j->warmup; i++)
		ok = message(c, b, j->id * 1000000 + i, &sigs, err, sizeof(err)) == 0;
	if (!ok) {
		snprintf(j->error, sizeof(j->error), "%s", err);
		j->errors = j->count;
	}
	pthread_barrier_wait(&start_line);
	for (int i = 0; ok && i < j->count; i++) {
		if (message(c, b, j->id * 1000000 + j->warmup + i, &sigs, err, sizeof(err)) < 0) {
			snprintf(j->error, sizeof(j->error), "%s", err);
			j->errors += j->count - i;
			break;
		}
		j->sigs += sigs;
		if (want_sigs && sigs != want_sigs && j->errors++ == 0)
			snprintf(j->error, sizeof(j->error), "%d DKIM-Signature fields, want %d", sigs,
				 want_sigs);
	}
	pthread_barrier_wait(&end_line);
	if (c && c->fd > 0) {
		put_cmd(c, 'Q', "", 0);
		close(c->fd);
	}
	for (int s = 0; c && s < STAGES; s++)
		free(c->symlist[s]);
	if (c)
		free(c->out);
	free(c);
	free(b);
	return NULL;
}

int
main(int argc, char **argv)
{
	int conns = 1, messages = 1000, pid = 0, warmup = 2, opt, errors = 0, sigs = 0;
	double t0, t1, s0, s1, c0, c1, k0 = 0, k1 = 0;
	job *jobs;

	while ((opt = getopt(argc, argv, "s:c:n:b:p:e:w:u:")) != -1) {
		switch (opt) {
		case 's': sock_path = optarg; break;
		case 'c': conns = atoi(optarg); break;
		case 'n': messages = atoi(optarg); break;
		case 'b': body_bytes = (size_t)atol(optarg); break;
		case 'p': pid = atoi(optarg); break;
		case 'e': want_sigs = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 'u': sasl_users = atoi(optarg); break;
		default: die("usage: milter_load -s socket [-c conns] [-n msgs] [-b bytes] [-p pid] [-e sigs] [-w warmup] [-u users]");
		}
	}
	errno = 0;
	if (sock_path == NULL || conns < 1 || conns > 1024 || messages < conns || body_bytes < 2 ||
	    body_bytes > 64 * 1024 * 1024 || warmup < 0 || sasl_users < 0)
		die("usage: milter_load -s socket [-c conns] [-n msgs] [-b bytes] [-p pid] [-e sigs] [-w warmup] [-u users]");
	if ((jobs = calloc((size_t)conns, sizeof(*jobs))) == NULL)
		die("out of memory");
	pthread_barrier_init(&start_line, NULL, (unsigned)conns + 1);
	pthread_barrier_init(&end_line, NULL, (unsigned)conns + 1);
	for (int i = 0; i < conns; i++) {
		jobs[i].id = i;
		jobs[i].warmup = warmup;
		jobs[i].count = messages / conns + (i < messages % conns);
		if ((errno = pthread_create(&jobs[i].tid, NULL, worker, &jobs[i])) != 0)
			die("pthread_create");
	}
	pthread_barrier_wait(&start_line);
	t0 = now(), s0 = server_cpu(pid, &k0), c0 = client_cpu();
	pthread_barrier_wait(&end_line);
	t1 = now(), s1 = server_cpu(pid, &k1), c1 = client_cpu();
	for (int i = 0; i < conns; i++) {
		pthread_join(jobs[i].tid, NULL);
		errors += jobs[i].errors;
		sigs += jobs[i].sigs;
		if (jobs[i].errors)
			fprintf(stderr, "milter_load: connection %d: %d errors, first: %s\n", i, jobs[i].errors,
				jobs[i].error);
	}
	printf("connections=%d messages=%d body_bytes=%zu seconds=%.3f msg_per_s=%.1f "
	       "server_cpu_us_per_msg=%.0f server_sys_us_per_msg=%.0f client_cpu_us_per_msg=%.0f "
	       "signatures=%d errors=%d\n",
	       conns, messages, body_bytes, t1 - t0, messages / (t1 - t0),
	       pid ? (s1 - s0) * 1e6 / messages : -1.0, pid ? (k1 - k0) * 1e6 / messages : -1.0,
	       (c1 - c0) * 1e6 / messages, sigs, errors);
	free(jobs);
	return errors ? 1 : 0;
}

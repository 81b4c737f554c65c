/*
 * NAME
 *	policy_load 1 - Postfix policy protocol load client: decisions/s and server CPU
 * SYNOPSIS
 *	policy_load (-s /path/policy.sock | -t host:port) [-c connections]
 *		    [-n requests | -d seconds] [-p pid[,pid...]] [-w warmup] [-k seed]
 * DESCRIPTION
 *	Speaks the client side of Postfix's policy delegation protocol (as
 *	smtpd does with check_policy_service) over -c persistent connections
 *	at once (one thread each, default 8), one request in flight per
 *	connection: a request of name=value lines ending in an empty line,
 *	then the server's answer, "action=..." and an empty line. It sends -n
 *	requests in all (default 10000), or as many as it can in -d seconds.
 *
 *	The request stream is that of tests/bench/bench_policy.py: RCPT
 *	state, client 127.0.0.(1 + i % 50), sender user<i%100>@sender<i%10>
 *	.example, recipient rcpt<i>@dest<i%37>.example, a fresh instance per
 *	request (-k changes the instance so rounds differ). -w requests per
 *	connection go first, unmeasured.
 *
 *	Every answer must start with "action="; anything else (or a closed
 *	connection) counts as an error and a run with errors exits 1.
 *
 *	Prints one line: connections, requests, seconds, requests/s, answers
 *	by kind (dunno, defer, reject, other), latency p50 and p99 in ms, and
 *	with -p the servers' CPU time per request (utime + stime of the pids
 *	listed and their threads, from /proc, over the measured part) and the
 *	client's own CPU time per request, to see which side bounds the rate.
 * EXIT STATUS
 *	0 every request answered, 1 errors, 2 usage or connection.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_PIDS 16
#define LAT_MAX (1 << 22)

typedef struct job {
	pthread_t tid;
	int id, warmup, errors;
	long done, kinds[4];
	char error[256];
} job;

static const char *sock_path, *tcp_addr;
static long total = 10000, next_req;
static double run_seconds, deadline;
static unsigned seed;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t warmed, start_line;
static float *lat;
static long nlat;

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* dial - one connection to the policy server, or -1 */
static int
dial(void)
{
	int fd, one = 1;

	if (sock_path) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
		    connect(fd, (void *)&a, sizeof(a)) < 0)
			return -1;
		return fd;
	}
	struct sockaddr_in a = {.sin_family = AF_INET};
	char host[64];
	const char *colon = strrchr(tcp_addr, ':');

	if (colon == NULL || (size_t)(colon - tcp_addr) >= sizeof(host))
		return -1;
	memcpy(host, tcp_addr, (size_t)(colon - tcp_addr));
	host[colon - tcp_addr] = '\0';
	a.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(fd, (void *)&a, sizeof(a)) < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* take - the number of the next request, or -1 when the run is over */
static long
take(void)
{
	long i = -1;

	pthread_mutex_lock(&lock);
	if ((run_seconds > 0 && now() < deadline) || (run_seconds <= 0 && next_req < total))
		i = next_req++;
	pthread_mutex_unlock(&lock);
	return i;
}

/* format - the i-th request of the stream */
static int
format(char *buf, size_t len, long i)
{
	return snprintf(
	    buf, len,
	    "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
	    "client_address=127.0.0.%ld\nclient_name=client%ld.test\nhelo_name=client%ld.test\n"
	    "queue_id=\ninstance=%x.%x.%lx\nsender=user%ld@sender%ld.example\n"
	    "recipient=rcpt%ld@dest%ld.example\nrecipient_count=0\nsize=2048\n"
	    "sasl_username=\n\n",
	    1 + i % 50, i % 50, i % 50, (unsigned)getpid(), seed, i, i % 100, i % 10, i, i % 37);
}

/* kind - 0 dunno/ok, 1 defer, 2 reject, 3 other */
static int
kind(const char *action)
{
	if (strncasecmp(action, "dunno", 5) == 0 || strncasecmp(action, "ok", 2) == 0)
		return 0;
	if (strncasecmp(action, "defer", 5) == 0 || action[0] == '4')
		return 1;
	if (strncasecmp(action, "reject", 6) == 0 || action[0] == '5')
		return 2;
	return 3;
}

/* ask - one request and its answer; 0 ok, -1 error (j->error says why) */
static int
ask(job *j, int fd, long i, int measured)
{
	char req[1024], in[4096];
	size_t inlen = 0;
	int n = format(req, sizeof(req), i);
	double t0 = now();

	for (int off = 0; off < n;) {
		ssize_t w = write(fd, req + off, (size_t)(n - off));

		if (w <= 0) {
			snprintf(j->error, sizeof(j->error), "write: %s", strerror(errno));
			return -1;
		}
		off += (int)w;
	}
	while (inlen < 2 || memcmp(in + inlen - 2, "\n\n", 2) != 0) {
		ssize_t r = read(fd, in + inlen, sizeof(in) - 1 - inlen);

		if (r <= 0) {
			snprintf(j->error, sizeof(j->error), "server closed the connection");
			return -1;
		}
		inlen += (size_t)r;
		if (inlen >= sizeof(in) - 1) {
			snprintf(j->error, sizeof(j->error), "answer too long");
			return -1;
		}
	}
	in[inlen] = '\0';
	if (strncmp(in, "action=", 7) != 0) {
		snprintf(j->error, sizeof(j->error), "bad answer: %.100s", in);
		return -1;
	}
	if (measured) {
		float ms = (float)((now() - t0) * 1000);

		j->kinds[kind(in + 7)]++;
		j->done++;
		pthread_mutex_lock(&lock);
		if (nlat < LAT_MAX)
			lat[nlat++] = ms;
		pthread_mutex_unlock(&lock);
	}
	return 0;
}

/* worker - one connection: warm-up requests, then take from the shared stream */
static void *
worker(void *arg)
{
	job *j = arg;
	int fd = dial();
	long i;

	if (fd < 0) {
		snprintf(j->error, sizeof(j->error), "connect: %s", strerror(errno));
		j->errors++;
		pthread_barrier_wait(&warmed);
		pthread_barrier_wait(&start_line);
		return NULL;
	}
	for (int w = 0; w < j->warmup && j->errors == 0; w++)
		if (ask(j, fd, 1000000000L + j->id * 100000L + w, 0) < 0)
			j->errors++;
	pthread_barrier_wait(&warmed);
	pthread_barrier_wait(&start_line);
	while (j->errors == 0 && (i = take()) >= 0)
		if (ask(j, fd, i, 1) < 0)
			j->errors++;
	close(fd);
	return NULL;
}

/* cpu_of - utime + stime of a process (all threads), seconds */
static double
cpu_of(int pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* servers_cpu - summed CPU seconds of the listed pids */
static double
servers_cpu(const int *pids, int npids)
{
	double s = 0;

	for (int i = 0; i < npids; i++)
		s += cpu_of(pids[i]);
	return s;
}

/* self_cpu - this process's CPU seconds */
static double
self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static int
cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(
	    stderr,
	    "usage: policy_load (-s socket | -t host:port) [-c conns] [-n requests | -d seconds] "
	    "[-p pid,...] [-w warmup] [-k seed]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int conns = 8, warmup = 5, npids = 0, pids[MAX_PIDS], opt, errors = 0;
	long done = 0, kinds[4] = {0};
	double t0, t1, s0 = 0, s1 = 0, c0, c1;
	job *jobs;

	while ((opt = getopt(argc, argv, "s:t:c:n:d:p:w:k:")) != -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 't':
			tcp_addr = optarg;
			break;
		case 'c':
			conns = atoi(optarg);
			break;
		case 'n':
			total = atol(optarg);
			break;
		case 'd':
			run_seconds = atof(optarg);
			break;
		case 'w':
			warmup = atoi(optarg);
			break;
		case 'k':
			seed = (unsigned)atoi(optarg);
			break;
		case 'p':
			for (char *t = strtok(optarg, ","); t && npids < MAX_PIDS;
			     t = strtok(NULL, ","))
				pids[npids++] = atoi(t);
			break;
		default:
			usage();
		}
	}
	if ((sock_path == NULL) == (tcp_addr == NULL) || conns < 1 || conns > 4096 || total < 1)
		usage();
	lat = malloc(sizeof(*lat) * LAT_MAX);
	jobs = calloc((size_t)conns, sizeof(*jobs));
	if (lat == NULL || jobs == NULL)
		return 2;
	pthread_barrier_init(&warmed, NULL, (unsigned)conns + 1);
	pthread_barrier_init(&start_line, NULL, (unsigned)conns + 1);
	for (int i = 0; i < conns; i++) {
		jobs[i].id = i;
		jobs[i].warmup = warmup;
		if (pthread_create(&jobs[i].tid, NULL, worker, &jobs[i]) != 0)
			return 2;
	}
	/* the clock starts when every connection is open and warmed up */
	pthread_barrier_wait(&warmed);
	s0 = servers_cpu(pids, npids);
	c0 = self_cpu();
	t0 = now();
	deadline = t0 + run_seconds;
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < conns; i++) {
		pthread_join(jobs[i].tid, NULL);
		errors += jobs[i].errors;
		done += jobs[i].done;
		for (int k = 0; k < 4; k++)
			kinds[k] += jobs[i].kinds[k];
		if (jobs[i].errors)
			fprintf(stderr, "policy_load: connection %d: %s\n", i, jobs[i].error);
	}
	t1 = now();
	s1 = servers_cpu(pids, npids);
	c1 = self_cpu();
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_float);
	printf("connections=%d requests=%ld seconds=%.3f req_per_s=%.1f dunno=%ld defer=%ld "
	       "reject=%ld "
	       "other=%ld p50_ms=%.3f p99_ms=%.3f server_cpu_us_per_req=%.1f "
	       "client_cpu_us_per_req=%.1f "
	       "errors=%d\n",
	       conns, done, t1 - t0, done / (t1 - t0), kinds[0], kinds[1], kinds[2], kinds[3],
	       nlat ? lat[nlat / 2] : 0, nlat ? lat[(long)(nlat * 0.99)] : 0,
	       npids && done ? (s1 - s0) * 1e6 / done : 0, done ? (c1 - c0) * 1e6 / done : 0,
	       errors);
	free(jobs);
	free(lat);
	return errors ? 1 : 0;
}

/*
 * NAME
 *	logd_metrics 3 - sluice-logd's counters on GET /metrics (Prometheus text)
 * SYNOPSIS
 *	m = ld_metrics_new(listen, err, len)	"host:port"; NULL with err
 *	ld_metrics_delivery(m, provider, result, class)	one event
 *	ld_metrics_block(m, change)		a block started or ended
 *	ld_metrics_wait(m, ms, &view)		wait up to ms, serving requests
 * DESCRIPTION
 *	A small HTTP/1.0 responder in the follower's own loop (no thread):
 *	the loop's pause between two looks at the log is a poll(2) on the
 *	listener and its connections. Each connection must send its request
 *	(at most 4 KB) within 5 s; GET /metrics gets the counters, GET
 *	/healthz "ok", anything else 404; the answer is written without
 *	blocking and the connection closed. At most MAX_CONNS connections at
 *	once (a newcomer past it is closed at once). Listen on loopback: it
 *	has no authentication (as sluice-policyd's metrics_listen).
 *
 *	Series: sluice_logd_lines_total{kind} (read, skipped, malformed,
 *	too_long), sluice_logd_events_total{result} (written, unattributed,
 *	dropped, errors), sluice_logd_events_waiting, sluice_logd_queue_ids,
 *	sluice_logd_deliveries_total{provider,result},
 *	sluice_logd_refusals_total{provider,class},
 *	sluice_logd_blocks_total{change} (start, end), sluice_logd_blocks.
 * BOUNDS
 *	At most MAX_SERIES provider series per family; later providers
 *	count under provider="overflow" (provider names come from the config,
 *	so this is a guard, not a limit one meets).
 */
#define _GNU_SOURCE 1 /* asprintf, accept4 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logd.h"

#define MAX_CONNS 16
#define MAX_SERIES 128
#define REQ_MAX 4096
#define REQ_DEADLINE 5

typedef struct series {
	char provider[32];
	char what[16]; /* a result or a class */
	unsigned long long n;
} series;

typedef struct conn {
	int fd;
	time_t since;
	size_t len;
	char buf[REQ_MAX];
} conn;

struct ld_metrics {
	int lfd;
	conn c[MAX_CONNS];
	series del[MAX_SERIES], ref[MAX_SERIES];
	int ndel, nref;
	unsigned long long starts, ends;
	long blocks;
};

/* ld_metrics_new - listen on host:port; NULL with err */
ld_metrics *
ld_metrics_new(const char *listen_on, char *err, size_t errlen)
{
	char host[256], port[16];
	int p, fd = -1, one = 1;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST},
	                *ai = NULL;
	ld_metrics *m;

	if (sl_redis_hostport(listen_on, host, sizeof(host), &p) < 0) {
		snprintf(err, errlen, "metrics_listen \"%s\": use host:port", listen_on);
		return NULL;
	}
	snprintf(port, sizeof(port), "%d", p);
	if (getaddrinfo(host, port, &hints, &ai) != 0 ||
	    (fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "metrics_listen %s: %s", listen_on, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (ai)
			freeaddrinfo(ai);
		return NULL;
	}
	freeaddrinfo(ai);
	m = sl_calloc(1, sizeof(*m));
	m->lfd = fd;
	for (int i = 0; i < MAX_CONNS; i++)
		m->c[i].fd = -1;
	return m;
}

/* ld_metrics_free - close everything; NULL is a no-op */
void
ld_metrics_free(ld_metrics *m)
{
	if (m == NULL)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (m->c[i].fd >= 0)
			close(m->c[i].fd);
	close(m->lfd);
	free(m);
}

/* bump - one more in the series (provider, what) of a family */
static void
bump(series *s, int *n, const char *provider, const char *what)
{
	int i;

	for (i = 0; i < *n; i++)
		if (strcmp(s[i].provider, provider) == 0 && strcmp(s[i].what, what) == 0)
			break;
	if (i == *n) {
		if (*n == MAX_SERIES - 1)
			provider = "overflow";
		for (i = 0; i < *n; i++)
			if (strcmp(s[i].provider, provider) == 0 && strcmp(s[i].what, what) == 0)
				break;
		if (i == *n && *n < MAX_SERIES) {
			snprintf(s[i].provider, sizeof(s[i].provider), "%s", provider);
			snprintf(s[i].what, sizeof(s[i].what), "%s", what);
			(*n)++;
		}
	}
	if (i < *n)
		s[i].n++;
}

/* ld_metrics_delivery - count one delivery event */
void
ld_metrics_delivery(ld_metrics *m, const char *provider, const char *result, const char *class_)
{
	if (m == NULL)
		return;
	bump(m->del, &m->ndel, provider, result);
	if (class_ && *class_)
		bump(m->ref, &m->nref, provider, class_);
}

/* ld_metrics_block - count a block's start or end */
void
ld_metrics_block(ld_metrics *m, enum ld_block_change change)
{
	if (m == NULL)
		return;
	if (change == LD_BLOCK_START)
		m->starts++, m->blocks++;
	else if (change == LD_BLOCK_END)
		m->ends++, m->blocks -= m->blocks > 0;
}

/* render - the Prometheus text into fp */
static void
render(const ld_metrics *m, const ld_metrics_view *v, FILE *fp)
{
	const ld_feed_stats *f = v->feed;

	fprintf(fp, "# HELP sluice_logd_lines_total Log lines read, by what became of them.\n"
	            "# TYPE sluice_logd_lines_total counter\n");
	fprintf(fp, "sluice_logd_lines_total{kind=\"read\"} %llu\n", f->lines);
	fprintf(fp, "sluice_logd_lines_total{kind=\"skipped\"} %llu\n", f->skipped);
	fprintf(fp, "sluice_logd_lines_total{kind=\"malformed\"} %llu\n", f->bad);
	fprintf(fp, "sluice_logd_lines_total{kind=\"too_long\"} %llu\n", f->toolong);
	fprintf(fp, "# HELP sluice_logd_events_total Delivery events, by what became of them.\n"
	            "# TYPE sluice_logd_events_total counter\n");
	fprintf(fp, "sluice_logd_events_total{result=\"written\"} %llu\n", v->sink.written);
	fprintf(fp, "sluice_logd_events_total{result=\"unattributed\"} %llu\n",
	        v->sink.unattributed);
	fprintf(fp, "sluice_logd_events_total{result=\"dropped\"} %llu\n", v->sink.dropped);
	fprintf(fp, "sluice_logd_events_total{result=\"errors\"} %llu\n", v->sink.errors);
	fprintf(fp, "# TYPE sluice_logd_events_waiting gauge\nsluice_logd_events_waiting %llu\n",
	        v->sink.buffered);
	fprintf(fp, "# TYPE sluice_logd_queue_ids gauge\nsluice_logd_queue_ids %zu\n",
	        v->table.entries);
	fprintf(fp, "# HELP sluice_logd_deliveries_total Delivery events by provider and result.\n"
	            "# TYPE sluice_logd_deliveries_total counter\n");
	for (int i = 0; i < m->ndel; i++)
		fprintf(fp, "sluice_logd_deliveries_total{provider=\"%s\",result=\"%s\"} %llu\n",
		        m->del[i].provider, m->del[i].what, m->del[i].n);
	fprintf(fp, "# HELP sluice_logd_refusals_total Deferrals and bounces by provider and "
	            "reply class.\n# TYPE sluice_logd_refusals_total counter\n");
	for (int i = 0; i < m->nref; i++)
		fprintf(fp, "sluice_logd_refusals_total{provider=\"%s\",class=\"%s\"} %llu\n",
		        m->ref[i].provider, m->ref[i].what, m->ref[i].n);
	fprintf(fp,
	        "# TYPE sluice_logd_blocks_total counter\n"
	        "sluice_logd_blocks_total{change=\"start\"} %llu\n"
	        "sluice_logd_blocks_total{change=\"end\"} %llu\n",
	        m->starts, m->ends);
	fprintf(fp, "# TYPE sluice_logd_blocks gauge\nsluice_logd_blocks %ld\n", m->blocks);
}

/* answer - write one response without blocking, then close */
static void
answer(ld_metrics *m, conn *c, const ld_metrics_view *v)
{
	char *body = NULL, *out = NULL;
	size_t blen = 0;
	int n;
	const char *status = "200 OK";
	FILE *fp = open_memstream(&body, &blen);

	if (fp == NULL)
		goto done;
	if (strncmp(c->buf, "GET /metrics ", 13) == 0 || strncmp(c->buf, "GET /metrics?", 13) == 0)
		render(m, v, fp);
	else if (strncmp(c->buf, "GET /healthz ", 13) == 0)
		fputs("ok\n", fp);
	else
		status = "404 Not Found", fputs("not found\n", fp);
	fclose(fp);
	n = asprintf(&out,
	             "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
	             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	             status, blen, body);
	if (n > 0 && send(c->fd, out, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		sl_debug("metrics: answer cut (client not reading)");
done:
	free(body);
	free(out);
	close(c->fd);
	c->fd = -1;
}

/* take - accept what waits; past MAX_CONNS a newcomer is closed at once */
static void
take(ld_metrics *m)
{
	int fd;

	while ((fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int i;

		for (i = 0; i < MAX_CONNS && m->c[i].fd >= 0; i++)
			;
		if (i == MAX_CONNS) {
			close(fd);
			continue;
		}
		m->c[i].fd = fd, m->c[i].len = 0, m->c[i].since = time(NULL);
	}
}

/* readable - read into a connection; answer once the request head is complete */
static void
readable(ld_metrics *m, conn *c, const ld_metrics_view *v)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

	if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
		close(c->fd), c->fd = -1;
		return;
	}
	if (n > 0)
		c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n"))
		answer(m, c, v);
	else if (c->len >= sizeof(c->buf) - 1)
		close(c->fd), c->fd = -1; /* a request head over 4 KB */
}

/* ld_metrics_wait - wait up to ms (less when a request comes), serving /metrics */
void
ld_metrics_wait(ld_metrics *m, long ms, const ld_metrics_view *v)
{
	struct pollfd p[MAX_CONNS + 1];
	int idx[MAX_CONNS + 1], n = 1;
	time_t now = time(NULL);

	p[0].fd = m->lfd, p[0].events = POLLIN;
	for (int i = 0; i < MAX_CONNS; i++) {
		if (m->c[i].fd < 0)
			continue;
		if (now - m->c[i].since > REQ_DEADLINE) {
			close(m->c[i].fd), m->c[i].fd = -1;
			continue;
		}
		p[n].fd = m->c[i].fd, p[n].events = POLLIN, idx[n++] = i;
	}
	if (poll(p, (nfds_t)n, (int)ms) <= 0)
		return;
	for (int k = 1; k < n; k++)
		if (p[k].revents)
			readable(m, &m->c[idx[k]], v);
	if (p[0].revents & POLLIN)
		take(m);
}

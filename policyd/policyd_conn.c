/*
 * NAME
 *	policyd_conn 3 - listeners and policy connections (libevent)
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	int pd_listen(pd_server *srv, const char *spec)
 *	void pd_listeners_close(void)
 * DESCRIPTION
 *	Listens on "unix:/path" and/or "inet:host:port". Every accepted
 *	connection gets a bufferevent; Postfix keeps one persistent
 *	connection per smtpd process and sends many requests over it.
 *
 *	A connection parses every complete request in its input, starts a
 *	check for each and queues an answer slot; answers are written in
 *	request order as their checks finish, so a client may pipeline.
 *	At most pipeline_max answers may be outstanding, and at most
 *	PD_OUTPUT_MAX bytes of answers may wait for a client that does not
 *	read them; beyond either, reading pauses until the queue (or the
 *	output, to half of it) drains, so a client that pipelines without
 *	reading costs a bounded amount of memory.
 *
 *	Accept errors (out of descriptors or memory) pause the listener for
 *	ACCEPT_BACKOFF_MS and are logged once per LOG_INTERVAL_S; so are
 *	connections refused past max_connections. Unix sockets belong to
 *	the service user and socket_group, with socket_mode (lib/privs.c).
 *
 *	A malformed or oversize request is logged, answered with the
 *	configured default action after the answers already due, and the
 *	connection closed once that is written. Its input is discarded, so
 *	a flood on one connection costs the others nothing but CPU.
 * OWNERSHIP
 *	A connection lives until the peer is gone AND every check it
 *	started has called back: a slot points at its connection, and the
 *	last callback of a dead connection frees it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "policyd.h"
#include "privs.h"

#define IDLE_TIMEOUT_S	1000		/* Postfix drops idle ones at 300 s */
#define MAX_LISTENERS	8
#define ACCEPT_BACKOFF_MS 250
#define LOG_INTERVAL_S 10

typedef struct pd_conn pd_conn;

typedef struct pd_slot {
	struct pd_slot *next;
	pd_conn *conn;
	int	done;
	char	answer[PD_ANSWER_MAX];
} pd_slot;

struct pd_conn {
	pd_server *srv;
	struct bufferevent *bev;	/* NULL once the peer is gone */
	pd_slot *head, *tail;		/* answers in request order */
	int	npending;
	int	closing;		/* protocol error: close after flush */
	int	charged;		/* message units charged for instance */
	char	instance[64];
	unsigned long id;
};

static struct evconnlistener *listeners[MAX_LISTENERS];
static int nlisteners;
static int listeners_on = 1;    /* pd_listeners_enable() */
static struct event *resume_ev; /* end of an accept back-off */
static unsigned long accept_errors, refused;
static time_t last_error_log, last_refused_log;
static unsigned long conn_ids;
static pd_request scratch;		/* single-threaded parse buffer */

static void conn_read_cb(struct bufferevent *bev, void *arg);

/* conn_output_full - too many answers wait for the client to read them */
static int
conn_output_full(pd_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) >= PD_OUTPUT_MAX;
}

/* conn_resume - read again once the queue and the output have room */
static void
conn_resume(pd_conn *c)
{
	if (!c->closing && c->npending < c->srv->cfg->pipeline_max && !conn_output_full(c) &&
	    !(bufferevent_get_enabled(c->bev) & EV_READ)) {
		bufferevent_enable(c->bev, EV_READ);
		conn_read_cb(c->bev, c);
	}
}

/* conn_free - release a connection whose peer and checks are all done */
static void
conn_free(pd_conn *c)
{
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->srv->nconns--;
	}
	if (c->npending > 0)
		return;			/* the last slot callback frees it */
	while (c->head) {
		pd_slot *s = c->head;

		c->head = s->next;
		free(s);
	}
	free(c);
}

/*
 * conn_write - one answer to the client: written at once when nothing
 * waits before it (the usual case: no write event to arm and disarm, two
 * epoll_ctl calls per request less), else queued behind what waits
 */
static void
conn_write(pd_conn *c, const char *data, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	ssize_t n = 0;

	if (evbuffer_get_length(out) == 0) {
		n = send(bufferevent_getfd(c->bev), data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			n = 0; /* EAGAIN, or an error the write event reports */
	}
	if ((size_t)n < len)
		evbuffer_add(out, data + n, len - (size_t)n);
}

/* conn_flush - write every finished answer at the head of the queue */
static void
conn_flush(pd_conn *c)
{
	pd_slot *s;

	while ((s = c->head) != NULL && s->done) {
		c->head = s->next;
		if (c->head == NULL)
			c->tail = NULL;
		if (c->bev != NULL)
			conn_write(c, s->answer, strlen(s->answer));
		free(s);
	}
	if (c->bev == NULL)
		return;
	if (c->closing && c->head == NULL
	    && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_free(c);
		return;
	}
	conn_resume(c);
}

/* slot_new - queue an answer slot at the tail */
static pd_slot *
slot_new(pd_conn *c)
{
	pd_slot *s = sl_calloc(1, sizeof(*s));

	s->conn = c;
	if (c->tail)
		c->tail->next = s;
	else
		c->head = s;
	c->tail = s;
	return s;
}

/* slot_done - a check called back: fill the slot, write what is due */
static void
slot_done(const char *action, int charged, void *arg)
{
	pd_slot *s = arg;
	pd_conn *c = s->conn;

	if (pd_proto_answer(s->answer, sizeof(s->answer), action) < 0)
		pd_proto_answer(s->answer, sizeof(s->answer), "DUNNO");
	s->done = 1;
	c->npending--;
	if (charged)
		c->charged = 1;
	if (c->bev == NULL && c->npending == 0) {
		conn_free(c);
		return;
	}
	conn_flush(c);
}

/* conn_protocol_error - answer the default action, then hang up */
static void
conn_protocol_error(pd_conn *c, const char *err, size_t have)
{
	pd_slot *s = slot_new(c);

	sl_warn("policy connection %lu: %s (%zu bytes buffered): answering %s and closing",
		c->id, err, have, c->srv->cfg->default_action);
	pd_metrics_proto_error();
	pd_proto_answer(s->answer, sizeof(s->answer), c->srv->cfg->default_action);
	s->done = 1;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(bufferevent_get_input(c->bev),
		       evbuffer_get_length(bufferevent_get_input(c->bev)));
	conn_flush(c);
}

/* conn_first_rcpt - is this request the first recipient of its message? */
static int
conn_first_rcpt(pd_conn *c, const pd_request *req)
{
	const char *inst = pd_request_str(req, "instance");

	if (strcmp(inst, c->instance) != 0 || *inst == '\0') {
		snprintf(c->instance, sizeof(c->instance), "%s", inst);
		c->charged = 0;
	}
	return !c->charged;
}

/* conn_one - parse and start at most one request; 0 when no more input */
static int
conn_one(pd_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t	len = evbuffer_get_length(in), n, used;
	const char *err = NULL;
	unsigned char *data;
	int	rc;

	if (len == 0)
		return 0;
	n = len < PD_REQUEST_MAX + 1 ? len : PD_REQUEST_MAX + 1;
	data = evbuffer_pullup(in, (ssize_t) n);
	rc = pd_proto_parse((const char *) data, n, &scratch, &used, &err);
	if (rc == PD_PARSE_MORE)
		return 0;
	if (rc == PD_PARSE_ERROR) {
		conn_protocol_error(c, err, len);
		return 0;
	}
	c->npending++;
	pd_check_start(c->srv, &scratch, conn_first_rcpt(c, &scratch), slot_done, slot_new(c));
	evbuffer_drain(in, used);
	return 1;
}

/* conn_read_cb - new bytes: start every complete request */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	pd_conn *c = arg;

	(void) bev;
	while (!c->closing && c->bev != NULL) {
		if (c->npending >= c->srv->cfg->pipeline_max || conn_output_full(c)) {
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (!conn_one(c))
			return;
	}
}

/* conn_write_cb - output drained (to half of PD_OUTPUT_MAX): go or read on */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	pd_conn *c = arg;

	if (c->closing) {
		if (c->head == NULL && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	conn_resume(c);
}

/* conn_event_cb - EOF, error or idle timeout: the peer is gone */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	pd_conn *c = arg;

	(void) bev;
	if (what & BEV_EVENT_ERROR)
		sl_debug("policy connection %lu: %s", c->id, strerror(errno));
	else if (what & BEV_EVENT_TIMEOUT)
		sl_info("policy connection %lu: idle timeout", c->id);
	conn_free(c);
}

/* accept_cb - a new policy client */
static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	  int salen, void *arg)
{
	pd_server *srv = arg;
	struct timeval idle = {.tv_sec = IDLE_TIMEOUT_S};
	pd_conn *c;

	(void) l, (void) sa, (void) salen;
	if (srv->nconns >= srv->cfg->max_conns) {
		refused++;
		if (time(NULL) - last_refused_log >= LOG_INTERVAL_S) {
			sl_warn("too many policy connections (%d, max_connections): refused %lu",
			        srv->nconns, refused);
			last_refused_log = time(NULL);
			refused = 0;
		}
		evutil_closesocket(fd); /* after the log line: a test reads it at EOF */
		return;
	}
	c = sl_calloc(1, sizeof(*c));
	c->srv = srv;
	c->id = ++conn_ids;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		sl_warn("cannot set up a policy connection");
		evutil_closesocket(fd);
		free(c);
		return;
	}
	srv->nconns++;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	bufferevent_setwatermark(c->bev, EV_WRITE, PD_OUTPUT_MAX / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* listeners_set - enable or disable every policy listener */
static void
listeners_set(int on)
{
	for (int i = 0; i < nlisteners; i++)
		(void)(on ? evconnlistener_enable(listeners[i])
		          : evconnlistener_disable(listeners[i]));
}

/* accept_resume - the back-off is over: accept again (unless paused) */
static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	listeners_set(listeners_on);
}

/* accept_error_cb - out of descriptors or memory: pause, log once per interval */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	int err = errno;
	pd_server *srv = arg;
	struct timeval tv = {.tv_sec = 0, .tv_usec = ACCEPT_BACKOFF_MS * 1000};

	(void)l;
	accept_errors++;
	if (resume_ev == NULL)
		resume_ev = evtimer_new(srv->base, accept_resume, NULL);
	listeners_set(0);
	evtimer_add(resume_ev, &tv);
	if (time(NULL) - last_error_log >= LOG_INTERVAL_S) {
		sl_warn("policy listener: accept: %s (%lu in the last %d s): pausing %d ms",
		        strerror(err), accept_errors, LOG_INTERVAL_S, ACCEPT_BACKOFF_MS);
		last_error_log = time(NULL);
		accept_errors = 0;
	}
}

/* listen_unix - bind a unix socket, replacing a stale one; owner and mode */
static int
listen_unix(const pd_config *pc, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char err[300], warn[300];
	int	fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		sl_error("unix:%s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	(void) unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		sl_error("unix:%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* owner and mode before listen(): nobody connects while they are wrong */
	if (sl_socket_owner(path, pc->user, pc->socket_group, pc->socket_mode, err, sizeof(err),
	                    warn, sizeof(warn)) < 0) {
		sl_error("unix:%s: %s", path, err);
		close(fd);
		(void) unlink(path);
		return -1;
	}
	if (listen(fd, 256) < 0) {
		sl_error("unix:%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (*warn)
		sl_warn("%s", warn);
	return fd;
}

/* pd_listen - start accepting policy clients on one listener spec */
int
pd_listen(pd_server *srv, const char *spec)
{
	struct sockaddr_storage ss;
	int	sslen = sizeof(ss), fd;
	struct evconnlistener *l;
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;

	if (nlisteners >= MAX_LISTENERS) {
		sl_error("%s: too many listeners (at most %d)", spec, MAX_LISTENERS);
		return -1;
	}
	if (strncmp(spec, "unix:", 5) == 0) {
		if ((fd = listen_unix(srv->cfg, spec + 5)) < 0)
			return -1;
		l = evconnlistener_new(srv->base, accept_cb, srv, flags, -1, fd);
	} else if (strncmp(spec, "inet:", 5) == 0
		   && evutil_parse_sockaddr_port(spec + 5, (struct sockaddr *) &ss, &sslen) == 0) {
		l = evconnlistener_new_bind(srv->base, accept_cb, srv, flags | LEV_OPT_REUSEABLE,
					    256, (struct sockaddr *) &ss, sslen);
	} else {
		sl_error("listener \"%s\": use unix:/path or inet:host:port", spec);
		return -1;
	}
	if (l == NULL) {
		sl_error("%s: cannot listen: %s", spec, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(l, accept_error_cb);
	listeners[nlisteners++] = l;
	sl_info("listening on %s", spec);
	return 0;
}

/* pd_listeners_enable - accept clients, or leave them waiting in the backlog */
void
pd_listeners_enable(int on)
{
	listeners_on = on;
	listeners_set(on);
}

/* pd_listeners_close - stop accepting (clean exit) */
void
pd_listeners_close(void)
{
	for (int i = 0; i < nlisteners; i++)
		evconnlistener_free(listeners[i]);
	nlisteners = 0;
	if (resume_ev)
		event_free(resume_ev);
	resume_ev = NULL;
}

/*
 * NAME
 *	policyd_front 3 - HTTP listeners that cannot be exhausted
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	pd_front *pd_front_new(pd_server *srv, struct evhttp *http,
 *			       const char *listen, int max_conns, int deadline_s)
 *	void pd_front_touch(struct evhttp_request *req)
 *	int pd_front_count(const pd_front *f)
 *	void pd_front_free(pd_front *f)
 * DESCRIPTION
 *	Puts an evhttp (libevent 2.1) behind a listener of our own so that a
 *	crowd of slow clients cannot take every file descriptor of the
 *	process (and with them the policy socket):
 *
 *	- at most max_conns connections: at the cap, evhttp's listener is
 *	  disabled and a second listener on the same socket answers every
 *	  newcomer "503 Service Unavailable" at once and closes;
 *	- a total deadline: a connection that has not delivered a complete
 *	  request deadline_s seconds after it was accepted (or after its
 *	  previous request) is shut down, however slowly it trickles bytes;
 *	- accept errors (EMFILE, ENFILE, ENOBUFS, ENOMEM) disable the
 *	  listener for ACCEPT_BACKOFF_MS and are logged once per
 *	  LOG_INTERVAL_S with the number seen, instead of libevent's warning
 *	  per failed accept() in a busy loop.
 *
 *	evhttp 2.1 has no connection cap and no hook when it frees a
 *	connection, so every connection's bufferevent is made here
 *	(evhttp_set_bevcb) and held with one more reference; a sweep every
 *	SWEEP_MS releases those evhttp has let go (their callbacks are
 *	cleared by bufferevent_free) and enforces the deadlines.
 * OWNERSHIP
 *	A front borrows the evhttp, which owns the listening socket (through
 *	evhttp_bind_listener). pd_front_free() comes before evhttp_free(): it
 *	closes the 503 listener while the socket is still open and drops its
 *	references; evhttp_free() then frees the connections for good.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "log.h"
#include "policyd.h"

#define SWEEP_MS 100
#define ACCEPT_BACKOFF_MS 250
#define LOG_INTERVAL_S 10
#define MAX_FRONTS 4

typedef struct front_conn {
	struct front_conn *next;
	struct bufferevent *bev; /* our reference */
	long long deadline_ms;
	int shut; /* deadline passed: shut down once */
} front_conn;

struct pd_front {
	pd_server *srv;
	struct evhttp *http;
	char *listen;
	struct evconnlistener *lev;  /* evhttp accepts here */
	struct evconnlistener *busy; /* same socket: 503 and close */
	struct event *sweep, *resume;
	front_conn *conns;
	int nconns, max_conns, deadline_ms;
	int backoff; /* listener paused after an accept error */
	unsigned long refused, errors, expired;
	time_t last_log;
};

static pd_front *fronts[MAX_FRONTS];

/* front_log_due - rate limit: true at most once per LOG_INTERVAL_S */
static int
front_log_due(pd_front *f)
{
	time_t now = time(NULL);

	if (now - f->last_log < LOG_INTERVAL_S)
		return 0;
	f->last_log = now;
	return 1;
}

/* front_gate - let evhttp accept, or answer 503, as the count says */
static void
front_gate(pd_front *f)
{
	int full = f->nconns >= f->max_conns;

	if (f->backoff)
		return;
	if (full) {
		evconnlistener_disable(f->lev);
		evconnlistener_enable(f->busy);
	} else {
		evconnlistener_disable(f->busy);
		evconnlistener_enable(f->lev);
	}
}

/* front_bev - evhttp wants a bufferevent for a new connection: count it */
static struct bufferevent *
front_bev(struct event_base *base, void *arg)
{
	pd_front *f = arg;
	front_conn *c = sl_calloc(1, sizeof(*c));

	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		return NULL; /* evhttp makes its own */
	}
	bufferevent_incref(c->bev);
	c->deadline_ms = pd_now_ms() + f->deadline_ms;
	c->next = f->conns;
	f->conns = c;
	if (++f->nconns >= f->max_conns)
		front_gate(f); /* the accept loop stops here */
	return c->bev;
}

/* front_released - has evhttp freed this connection (callbacks cleared)? */
static int
front_released(struct bufferevent *bev)
{
	bufferevent_event_cb ecb;

	bufferevent_getcb(bev, NULL, NULL, &ecb, NULL);
	return ecb == NULL;
}

/* front_sweep - release freed connections, shut down overdue ones */
static void
front_sweep(evutil_socket_t fd, short what, void *arg)
{
	pd_front *f = arg;
	long long now = pd_now_ms();
	front_conn **pp = &f->conns, *c;

	(void)fd, (void)what;
	while ((c = *pp) != NULL) {
		if (front_released(c->bev)) {
			*pp = c->next;
			bufferevent_decref(c->bev);
			free(c);
			f->nconns--;
			continue;
		}
		if (!c->shut && now > c->deadline_ms && bufferevent_getfd(c->bev) >= 0) {
			c->shut = 1; /* evhttp sees EOF and frees it */
			f->expired++;
			shutdown(bufferevent_getfd(c->bev), SHUT_RDWR);
		}
		pp = &c->next;
	}
	if (f->expired && front_log_due(f)) {
		sl_warn("http %s: %lu connection%s shut down at the %d s request deadline",
		        f->listen, f->expired, f->expired == 1 ? "" : "s", f->deadline_ms / 1000);
		f->expired = 0;
	}
	front_gate(f);
}

/* pd_front_touch - a request is complete: its connection gets a new deadline */
void
pd_front_touch(struct evhttp_request *req)
{
	struct bufferevent *bev =
	    evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));

	for (int i = 0; i < MAX_FRONTS; i++)
		for (front_conn *c = fronts[i] ? fronts[i]->conns : NULL; c; c = c->next)
			if (c->bev == bev) {
				c->deadline_ms = pd_now_ms() + fronts[i]->deadline_ms;
				return;
			}
}

/* front_busy - past the cap: a short 503 and close, never a queue */
static void
front_busy(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	                           "Content-Type: text/plain\r\nContent-Length: 5\r\n"
	                           "Retry-After: 5\r\nConnection: close\r\n\r\nbusy\n";
	pd_front *f = arg;

	(void)l, (void)sa, (void)salen;
	(void)send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	evutil_closesocket(fd);
	f->refused++;
	if (front_log_due(f)) {
		sl_warn("http %s: %d connections (http_max_connections): refused %lu with 503",
		        f->listen, f->nconns, f->refused);
		f->refused = 0;
	}
}

/* front_resume - the accept back-off is over */
static void
front_resume(evutil_socket_t fd, short what, void *arg)
{
	pd_front *f = arg;

	(void)fd, (void)what;
	f->backoff = 0;
	front_gate(f);
}

/* front_find - the front of a listener (evhttp owns the callback argument) */
static pd_front *
front_find(struct evconnlistener *l)
{
	for (int i = 0; i < MAX_FRONTS; i++)
		if (fronts[i] && (fronts[i]->lev == l || fronts[i]->busy == l))
			return fronts[i];
	return NULL;
}

/* front_accept_error - out of descriptors or memory: pause, log once */
static void
front_accept_error(struct evconnlistener *l, void *arg)
{
	int err = errno;
	pd_front *f = front_find(l);
	struct timeval tv = {.tv_sec = 0, .tv_usec = ACCEPT_BACKOFF_MS * 1000};

	(void)arg;
	if (f == NULL)
		return;
	f->errors++;
	f->backoff = 1;
	evconnlistener_disable(f->lev);
	evconnlistener_disable(f->busy);
	evtimer_add(f->resume, &tv);
	if (front_log_due(f)) {
		sl_warn("http %s: accept: %s (%lu in the last %d s): pausing %d ms", f->listen,
		        strerror(err), f->errors, LOG_INTERVAL_S, ACCEPT_BACKOFF_MS);
		f->errors = 0;
	}
}

/* front_bind - the listening socket for "host:port" ("[v6]:port" too) */
static struct evconnlistener *
front_bind(pd_server *srv, const char *listen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);

	if (evutil_parse_sockaddr_port(listen, (struct sockaddr *)&ss, &sslen) < 0) {
		sl_error("\"%s\": use host:port", listen);
		return NULL;
	}
	return evconnlistener_new_bind(srv->base, NULL, NULL,
	                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	                                   LEV_OPT_REUSEABLE | LEV_OPT_DISABLED,
	                               256, (struct sockaddr *)&ss, sslen);
}

/* front_slot - register a front so that callbacks can find it */
static int
front_slot(pd_front *f)
{
	for (int i = 0; i < MAX_FRONTS; i++)
		if (fronts[i] == NULL) {
			fronts[i] = f;
			return 0;
		}
	return -1;
}

/* pd_front_new - bind listen for http, with the cap and the deadline */
pd_front *
pd_front_new(pd_server *srv, struct evhttp *http, const char *listen, int max_conns, int deadline_s)
{
	struct timeval sweep = {.tv_sec = 0, .tv_usec = SWEEP_MS * 1000};
	pd_front *f = sl_calloc(1, sizeof(*f));

	f->srv = srv;
	f->http = http;
	f->listen = sl_strdup(listen);
	f->max_conns = max_conns;
	f->deadline_ms = deadline_s * 1000;
	if ((f->lev = front_bind(srv, listen)) == NULL || front_slot(f) < 0) {
		sl_error("http %s: cannot listen: %s", listen, strerror(errno));
		if (f->lev)
			evconnlistener_free(f->lev);
		free(f->listen);
		free(f);
		return NULL;
	}
	f->busy =
	    evconnlistener_new(srv->base, front_busy, f, LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
	                       -1, evconnlistener_get_fd(f->lev));
	evhttp_set_bevcb(http, front_bev, f);
	evhttp_bind_listener(http, f->lev);
	evconnlistener_set_error_cb(f->lev, front_accept_error);
	evconnlistener_set_error_cb(f->busy, front_accept_error);
	f->resume = evtimer_new(srv->base, front_resume, f);
	f->sweep = event_new(srv->base, -1, EV_PERSIST, front_sweep, f);
	event_add(f->sweep, &sweep);
	front_gate(f);
	return f;
}

/* pd_front_count - open connections (for /metrics) */
int
pd_front_count(const pd_front *f)
{
	return f ? f->nconns : 0;
}

/* pd_front_free - before evhttp_free(): stop the sweep, drop our references */
void
pd_front_free(pd_front *f)
{
	if (f == NULL)
		return;
	for (int i = 0; i < MAX_FRONTS; i++)
		if (fronts[i] == f)
			fronts[i] = NULL;
	while (f->conns) {
		front_conn *c = f->conns;

		f->conns = c->next;
		bufferevent_decref(c->bev);
		free(c);
	}
	event_free(f->sweep);
	event_free(f->resume);
	evconnlistener_free(f->busy);
	free(f->listen);
	free(f);
}

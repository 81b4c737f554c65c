/*
 * NAME
 *	logd_correlate 3 - the queue-id table: what earlier lines said of a message
 * SYNOPSIS
 *	t = ld_table_new(max_entries, ttl)
 *	m = ld_table_get(t, qid, now, create)	NULL when absent and !create
 *	ld_msg_deferred(m, rcpt, still)		track a deferred recipient
 *	ld_table_remove(t, qid); ld_table_expire(t, now)
 * DESCRIPTION
 *	Per queue id: the envelope sender (qmgr's from=), the message-id
 *	(cleanup) and the recipients whose last attempt was deferred, so
 *	that qmgr's "status=expired, returned to sender" becomes one
 *	"expired" event per recipient still pending. An entry goes on
 *	"removed"; one not seen for ttl seconds goes by ld_table_expire().
 * BOUNDS
 *	At most max_entries messages (the least recently seen is evicted,
 *	and counted) and LD_MAX_DEFERRED deferred recipients per message (a
 *	later one is not tracked: its expiry is not reported). So memory is
 *	bounded by max_entries * (sizeof(ld_msg) + LD_MAX_DEFERRED addresses).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logd.h"

#define LD_MAX_DEFERRED 100

struct ld_table {
	ld_msg **bucket;
	size_t nbucket, n, max;
	long ttl;
	ld_msg *lru_head, *lru_tail; /* head: most recently seen */
	unsigned long long evicted, expired;
};

/* hash - FNV-1a of a queue id */
static size_t
hash(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* ld_table_new - an empty table */
ld_table *
ld_table_new(size_t max_entries, long ttl)
{
	ld_table *t = sl_calloc(1, sizeof(*t));

	t->max = max_entries ? max_entries : 1;
	t->nbucket = t->max < 1024 ? 1024 : t->max;
	t->bucket = sl_calloc(t->nbucket, sizeof(*t->bucket));
	t->ttl = ttl;
	return t;
}

/* lru_unlink - take m out of the recency list */
static void
lru_unlink(ld_table *t, ld_msg *m)
{
	if (m->lru_prev)
		m->lru_prev->lru_next = m->lru_next;
	else
		t->lru_head = m->lru_next;
	if (m->lru_next)
		m->lru_next->lru_prev = m->lru_prev;
	else
		t->lru_tail = m->lru_prev;
	m->lru_prev = m->lru_next = NULL;
}

/* lru_front - make m the most recently seen */
static void
lru_front(ld_table *t, ld_msg *m)
{
	m->lru_next = t->lru_head;
	if (t->lru_head)
		t->lru_head->lru_prev = m;
	t->lru_head = m;
	if (t->lru_tail == NULL)
		t->lru_tail = m;
}

/* msg_free - one entry and its deferred list */
static void
msg_free(ld_msg *m)
{
	for (size_t i = 0; i < m->ndeferred; i++)
		free(m->deferred[i]);
	free(m->deferred);
	free(m);
}

/* drop - unlink an entry from its bucket and the list, and free it */
static void
drop(ld_table *t, ld_msg *m)
{
	ld_msg **pp = &t->bucket[hash(m->qid) % t->nbucket];

	while (*pp != m)
		pp = &(*pp)->next;
	*pp = m->next;
	lru_unlink(t, m);
	msg_free(m);
	t->n--;
}

/* ld_table_get - the entry of a queue id, made when create and absent */
ld_msg *
ld_table_get(ld_table *t, const char *qid, time_t now, int create)
{
	size_t b = hash(qid) % t->nbucket;
	ld_msg *m;

	for (m = t->bucket[b]; m; m = m->next)
		if (strcmp(m->qid, qid) == 0)
			break;
	if (m == NULL && !create)
		return NULL;
	if (m == NULL) {
		if (t->n >= t->max) {
			drop(t, t->lru_tail);
			t->evicted++;
		}
		m = sl_calloc(1, sizeof(*m));
		snprintf(m->qid, sizeof(m->qid), "%s", qid);
		m->next = t->bucket[b];
		t->bucket[b] = m;
		t->n++;
	} else
		lru_unlink(t, m);
	lru_front(t, m);
	m->seen = now;
	return m;
}

/* ld_table_remove - forget a message (its "removed" line) */
void
ld_table_remove(ld_table *t, const char *qid)
{
	ld_msg *m = ld_table_get(t, qid, 0, 0);

	if (m)
		drop(t, m);
}

/* ld_table_expire - forget messages not seen for ttl seconds */
void
ld_table_expire(ld_table *t, time_t now)
{
	while (t->lru_tail && now - t->lru_tail->seen > t->ttl) {
		drop(t, t->lru_tail);
		t->expired++;
	}
}

/* ld_msg_deferred - remember (still) or forget (!still) a deferred recipient */
void
ld_msg_deferred(ld_msg *m, const char *rcpt, int still)
{
	for (size_t i = 0; i < m->ndeferred; i++)
		if (strcmp(m->deferred[i], rcpt) == 0) {
			if (!still) {
				free(m->deferred[i]);
				m->deferred[i] = m->deferred[--m->ndeferred];
			}
			return;
		}
	if (!still || m->ndeferred >= LD_MAX_DEFERRED)
		return;
	m->deferred = sl_realloc(m->deferred, (m->ndeferred + 1) * sizeof(*m->deferred));
	m->deferred[m->ndeferred++] = sl_strdup(rcpt);
}

/* ld_table_get_stats - sizes and counts, for /metrics and the log */
void
ld_table_get_stats(const ld_table *t, ld_table_stats *s)
{
	s->entries = t->n;
	s->evicted = t->evicted;
	s->expired = t->expired;
}

/* ld_table_free - every entry and the table; NULL is a no-op */
void
ld_table_free(ld_table *t)
{
	if (t == NULL)
		return;
	while (t->lru_head)
		drop(t, t->lru_head);
	free(t->bucket);
	free(t);
}

/*
 * NAME
 *	logd_block 3 - provider blocks per sending domain, from delivery events
 * SYNOPSIS
 *	b = ld_blocks_new(&conf)
 *	change = ld_blocks_event(b, ev, now, &info)	after each event
 *	change = ld_blocks_tick(b, now, &info)		now and then
 * DESCRIPTION
 *	A block reply is a deferred or bounced event whose class is
 *	rate-limited, reputation, blocklist or auth-required
 *	(logd_provider.c). The key is the recipient's provider (not "other":
 *	that is no one provider) and the sending domain, the domain of the
 *	envelope sender (with sluice-milter, the category or tenant
 *	subdomain). When threshold block replies fall within window
 *	seconds, a block starts (LD_BLOCK_START); each later block reply
 *	while it lasts is LD_BLOCK_GOING (its expiry moves on). It ends (LD_BLOCK_END,
 *	why "quiet") at the first successful delivery to that provider from
 *	that domain once quiet seconds passed without a block reply, or
 *	(why "expired", from ld_blocks_tick) ttl seconds after the last
 *	block reply, when no mail at all told us it is over.
 * BOUNDS
 *	At most LD_MAX_BLOCK_KEYS keys (provider, domain) are watched; a key
 *	past it is not watched. Per key, the times of the last threshold
 *	block replies (at most LD_MAX_THRESHOLD).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logd.h"

#define LD_MAX_BLOCK_KEYS 10000
#define LD_MAX_THRESHOLD 1000

typedef struct watch {
	char provider[32];
	char source[LD_HOST_MAX];
	time_t times[LD_MAX_THRESHOLD]; /* ring of block reply times */
	int ntimes, next;
	int blocked;
	time_t since, last;
	char class_[16];
	char reply[512];
} watch;

struct ld_blocks {
	ld_block_conf c;
	watch **w;
	size_t n;
};

/* ld_blocks_new - no key watched yet */
ld_blocks *
ld_blocks_new(const ld_block_conf *conf)
{
	ld_blocks *b = sl_calloc(1, sizeof(*b));

	b->c = *conf;
	if (b->c.threshold < 1)
		b->c.threshold = 1;
	if (b->c.threshold > LD_MAX_THRESHOLD)
		b->c.threshold = LD_MAX_THRESHOLD;
	return b;
}

/* ld_blocks_free - NULL is a no-op */
void
ld_blocks_free(ld_blocks *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->w[i]);
	free(b->w);
	free(b);
}

/* find - the watch of a key, made when create and room is left */
static watch *
find(ld_blocks *b, const char *provider, const char *source, int create)
{
	watch *w;

	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->w[i]->provider, provider) == 0 &&
		    strcmp(b->w[i]->source, source) == 0)
			return b->w[i];
	if (!create || b->n >= LD_MAX_BLOCK_KEYS)
		return NULL;
	w = sl_calloc(1, sizeof(*w));
	snprintf(w->provider, sizeof(w->provider), "%s", provider);
	snprintf(w->source, sizeof(w->source), "%s", source);
	b->w = sl_realloc(b->w, (b->n + 1) * sizeof(*b->w));
	b->w[b->n++] = w;
	return w;
}

/* in_window - block replies of a key within the window ending now */
static int
in_window(const ld_blocks *b, const watch *w, time_t now)
{
	int n = 0;

	for (int i = 0; i < w->ntimes; i++)
		n += now - w->times[i] <= b->c.window;
	return n;
}

/* fill - the description of a key's block */
static void
fill(const ld_blocks *b, const watch *w, time_t now, const char *why, ld_block_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->provider, sizeof(out->provider), "%s", w->provider);
	snprintf(out->source, sizeof(out->source), "%s", w->source);
	snprintf(out->class_, sizeof(out->class_), "%s", w->class_);
	snprintf(out->reply, sizeof(out->reply), "%s", w->reply);
	out->count = in_window(b, w, now);
	out->since = w->since;
	out->why = why;
}

/* is_block_class - the classes that count towards a block */
static int
is_block_class(const char *c)
{
	return strcmp(c, "rate-limited") == 0 || strcmp(c, "reputation") == 0 ||
	       strcmp(c, "blocklist") == 0 || strcmp(c, "auth-required") == 0;
}

/* ld_blocks_event - account one delivery event; a start or end when it makes one */
enum ld_block_change
ld_blocks_event(ld_blocks *b, const ld_event *ev, time_t now, ld_block_info *out)
{
	const char *at = ev->sender ? strrchr(ev->sender, '@') : NULL;
	const char *source = at && at[1] ? at + 1 : "-"; /* "-": sender unknown */
	int hit = is_block_class(ev->class_ ? ev->class_ : "");
	watch *w;

	if (strcmp(ev->provider, "other") == 0 || (w = find(b, ev->provider, source, hit)) == NULL)
		return LD_BLOCK_SAME;
	if (!hit) {
		if (w->blocked && strcmp(ev->result, "delivered") == 0 &&
		    now - w->last >= b->c.quiet) {
			w->blocked = 0, w->ntimes = 0, w->next = 0;
			fill(b, w, now, "quiet", out);
			return LD_BLOCK_END;
		}
		return LD_BLOCK_SAME;
	}
	w->times[w->next] = now;
	w->next = (w->next + 1) % b->c.threshold;
	w->ntimes += w->ntimes < b->c.threshold;
	w->last = now;
	snprintf(w->class_, sizeof(w->class_), "%s", ev->class_);
	snprintf(w->reply, sizeof(w->reply), "%s", ev->reply ? ev->reply : "");
	if (w->blocked) {
		fill(b, w, now, "", out);
		return LD_BLOCK_GOING; /* the caller extends the block's expiry */
	}
	if (in_window(b, w, now) < b->c.threshold)
		return LD_BLOCK_SAME;
	w->blocked = 1, w->since = now;
	fill(b, w, now, "", out);
	return LD_BLOCK_START;
}

/* ld_blocks_tick - end one block whose ttl passed without a block reply */
enum ld_block_change
ld_blocks_tick(ld_blocks *b, time_t now, ld_block_info *out)
{
	for (size_t i = 0; i < b->n; i++) {
		watch *w = b->w[i];

		if (w->blocked && now - w->last >= b->c.ttl) {
			w->blocked = 0, w->ntimes = 0, w->next = 0;
			fill(b, w, now, "expired", out);
			return LD_BLOCK_END;
		}
	}
	return LD_BLOCK_SAME;
}

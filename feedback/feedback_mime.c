/*
 * NAME
 *	feedback_mime 3 - a raw message as plain strings (GMime 3)
 * SYNOPSIS
 *	fb_mail *m = fb_mail_parse(buf, len, err, errlen);
 *	fb_mail_header(m, "Subject");
 *	fb_mail_free(m);
 * DESCRIPTION
 *	The only file that includes GMime. It parses one message (RFC 5322
 *	with MIME; an mbox "From " line and CR or CRLF line ends are
 *	accepted) and hands the other parsers what they need as
 *	NUL-terminated strings: the top-level header fields (unfolded,
 *	RFC 2047 decoded), the human-readable text of the report converted
 *	to UTF-8, the message/delivery-status and message/feedback-report
 *	contents, the returned original message and the non-text
 *	attachments (DMARC reports; named text parts too, for reports
 *	sent with the wrong media type), each decoded from its transfer
 *	encoding.
 * LIMITS
 *	Input above FB_MAX_INPUT is refused; text and the original are
 *	truncated at FB_MAX_TEXT, the delivery-status and feedback-report
 *	parts at FB_MAX_DSN, attachments above FB_MAX_INPUT are not kept;
 *	at most FB_MAX_PARTS leaves are looked at. Every truncation is
 *	recorded in m->cut and the kind of the part seen last in m->last,
 *	so the caller can tell whether the part it acts on was read whole
 *	(feedback_classify.c defers when it was not).
 * ERRORS
 *	fb_mail_parse() returns NULL with err set when GMime finds no
 *	message at all; anything it can read is returned.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "feedback.h"

/* A growing string with a cap; cut bit set in *cut when it is reached. */
typedef struct fb_sbuf {
	char   *s;
	size_t	len;
	size_t	cap;
	size_t	max;
	int	bit;
	int    *cut;
} fb_sbuf;

/* Walk state. */
typedef struct fb_walk {
	fb_mail *m;
	fb_sbuf text;
	fb_sbuf dsn;
	fb_sbuf feedback;
	fb_sbuf orig;
	int	leaves;
} fb_walk;

/* sbuf_add - append n bytes, truncating at the buffer's cap (recorded) */
static void
sbuf_add(fb_sbuf *b, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (n > b->max - b->len) {
		*b->cut |= b->bit;
		n = b->max - b->len;
		if (n == 0)
			return;
	}
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = sl_realloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

/* sbuf_init - an empty buffer holding at most max bytes */
static void
sbuf_init(fb_sbuf *b, size_t max, int bit, int *cut)
{
	b->max = max;
	b->bit = bit;
	b->cut = cut;
}

/* sbuf_take - the string, "" when empty; the caller owns it */
static char *
sbuf_take(fb_sbuf *b)
{
	if (b->s == NULL)
		return sl_strdup("");
	return b->s;
}

/* mime_init - initialise GMime once */
static void
mime_init(void)
{
	static int done;

	if (!done) {
		g_mime_init();
		done = 1;
	}
}

/* mime_normalise - copy without mbox "From " lines; lone CR becomes LF */
static char *
mime_normalise(const char *buf, size_t len, size_t *outlen)
{
	char   *out = sl_malloc(len + 1);
	size_t	i = 0, o = 0;

	while (i + 5 <= len && memcmp(buf + i, "From ", 5) == 0) {
		while (i < len && buf[i] != '\n' && buf[i] != '\r')
			i++;
		while (i < len && (buf[i] == '\n' || buf[i] == '\r'))
			i++;
	}
	for (; i < len; i++) {
		if (buf[i] == '\r') {
			out[o++] = '\n';
			if (i + 1 < len && buf[i + 1] == '\n')
				i++;
		} else
			out[o++] = buf[i];
	}
	out[o] = 0;
	*outlen = o;
	return out;
}

/* mime_bytes - the decoded content of a leaf part */
static GByteArray *
mime_bytes(GMimePart *part, GMimeStream **keep)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *ms;

	if (w == NULL)
		return NULL;
	ms = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, ms);
	*keep = ms;
	return g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(ms));
}

/* mime_iso2022 - convert undeclared ISO-2022-JP text to UTF-8 */
static char *
mime_iso2022(const char *s, size_t n)
{
	iconv_t cd;
	char   *out;

	if (s == NULL || n == 0
	    || (memmem(s, n, "\033$B", 3) == NULL && memmem(s, n, "\033$@", 3) == NULL))
		return NULL;
	cd = g_mime_iconv_open("UTF-8", "ISO-2022-JP");
	if (cd == (iconv_t) -1)
		return NULL;
	out = g_mime_iconv_strndup(cd, s, n);
	g_mime_iconv_close(cd);
	return out;
}

/* mime_strip_html - crude tag removal so HTML-only bounces can be read */
static void
mime_strip_html(fb_sbuf *b, const char *s)
{
	int	intag = 0;
	const char *p;

	for (p = s; *p; p++) {
		if (*p == '<') {
			if (strncasecmp(p, "<br", 3) == 0 || strncasecmp(p, "<p", 2) == 0
			    || strncasecmp(p, "</p", 3) == 0 || strncasecmp(p, "<tr", 3) == 0
			    || strncasecmp(p, "<div", 4) == 0)
				sbuf_add(b, "\n", 1);
			intag = 1;
		} else if (*p == '>' && intag)
			intag = 0;
		else if (!intag)
			sbuf_add(b, p, 1);
	}
	sbuf_add(b, "\n", 1);
}

/* mime_text - add one text leaf to the readable text */
static void
mime_text(fb_walk *w, GMimeObject *obj, int html)
{
	GMimeTextPart *tp = GMIME_TEXT_PART(obj);
	const char *cs = g_mime_text_part_get_charset(tp);
	char   *text = NULL, *conv;

	if (cs != NULL)
		text = g_mime_text_part_get_text(tp);
	if (text == NULL) {
		GMimeStream *ms = NULL;
		GByteArray *ba = mime_bytes(GMIME_PART(obj), &ms);

		if (ba != NULL) {
			conv = mime_iso2022((char *) ba->data, ba->len);
			text = conv ? conv : g_strndup((char *) ba->data, ba->len);
		}
		if (ms)
			g_object_unref(ms);
	}
	if (text == NULL)
		return;
	if (html)
		mime_strip_html(&w->text, text);
	else {
		sbuf_add(&w->text, text, strlen(text));
		sbuf_add(&w->text, "\n", 1);
	}
	g_free(text);
}

/* mime_raw - add the decoded bytes of a leaf to a buffer */
static void
mime_raw(fb_sbuf *b, GMimeObject *obj)
{
	GMimeStream *ms = NULL;
	GByteArray *ba = mime_bytes(GMIME_PART(obj), &ms);

	if (ba != NULL) {
		sbuf_add(b, (char *) ba->data, ba->len);
		sbuf_add(b, "\n", 1);
	}
	if (ms)
		g_object_unref(ms);
}

/* mime_attach - keep a non-text leaf (a DMARC report, maybe) */
static void
mime_attach(fb_walk *w, GMimeObject *obj, const char *type)
{
	GMimeStream *ms = NULL;
	GByteArray *ba = mime_bytes(GMIME_PART(obj), &ms);
	fb_mail *m = w->m;
	const char *fn = g_mime_part_get_filename(GMIME_PART(obj));
	fb_attach *a;

	if (ba != NULL && ba->len > FB_MAX_INPUT)
		m->cut |= FB_CUT_ATTACH;
	if (ba != NULL && ba->len <= FB_MAX_INPUT) {
		m->att = sl_realloc(m->att, (m->natt + 1) * sizeof(*m->att));
		a = &m->att[m->natt++];
		a->type = sl_strdup(type);
		a->filename = sl_strdup(fn ? fn : "");
		a->data = sl_malloc(ba->len + 1);
		if (ba->len > 0)
			memcpy(a->data, ba->data, ba->len);
		a->data[ba->len] = 0;
		a->len = ba->len;
	}
	if (ms)
		g_object_unref(ms);
}

/* mime_orig - keep the returned original message as text */
static void
mime_orig(fb_walk *w, GMimeObject *obj)
{
	GMimeMessage *msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
	char   *s;

	if (msg == NULL || w->orig.len > 0)
		return;
	s = g_mime_object_to_string(GMIME_OBJECT(msg), NULL);
	if (s != NULL) {
		sbuf_add(&w->orig, s, strlen(s));
		g_free(s);
	}
}

/* mime_leaf - sort one leaf into text, DSN, ARF, original or attachment */
static void
mime_leaf(fb_walk *w, GMimeObject *obj, const char *type)
{
	int last = w->m->last;

	if (strcmp(type, "message/delivery-status") == 0
	    || strcmp(type, "message/global-delivery-status") == 0
	    || strcmp(type, "text/delivery-status") == 0)
		mime_raw(&w->dsn, obj), last = FB_CUT_DSN;
	else if (strcmp(type, "message/feedback-report") == 0)
		mime_raw(&w->feedback, obj), last = FB_CUT_FEEDBACK;
	else if (strcmp(type, "text/rfc822-headers") == 0
		 || strcmp(type, "message/rfc822-headers") == 0
		 || strcmp(type, "message/global-headers") == 0) {
		if (w->orig.len == 0)
			mime_raw(&w->orig, obj);
		last = FB_CUT_ORIG;
	} else if (strcmp(type, "text/xml") == 0)
		mime_attach(w, obj, type), last = FB_CUT_ATTACH;
	else if (GMIME_IS_TEXT_PART(obj) && strncmp(type, "text/", 5) == 0) {
		mime_text(w, obj, strcmp(type, "text/html") == 0), last = FB_CUT_TEXT;
		/* a named text attachment may be a report with the wrong type (.xml.gz as text/plain) */
		if (g_mime_part_get_filename(GMIME_PART(obj)) != NULL)
			mime_attach(w, obj, type);
	} else if (GMIME_IS_PART(obj))
		mime_attach(w, obj, type), last = FB_CUT_ATTACH;
	w->m->last = last;
}

/* mime_prologue - the text of a multipart whose parts were not found */
static void
mime_prologue(fb_walk *w, GMimeMultipart *mp)
{
	const char *pro = g_mime_multipart_get_prologue(mp);
	const char *epi = g_mime_multipart_get_epilogue(mp);

	if (pro != NULL)
		sbuf_add(&w->text, pro, strlen(pro));
	if (epi != NULL)
		sbuf_add(&w->text, epi, strlen(epi));
}

/* mime_walk - visit a MIME tree depth first */
static void
mime_walk(fb_walk *w, GMimeObject *obj, int depth)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char   *type = ct ? g_mime_content_type_get_mime_type(ct) : g_strdup("text/plain");
	int	i, n;

	fb_strlower(type);
	if (depth > 20 || ++w->leaves > FB_MAX_PARTS) {
		g_free(type);
		return;
	}
	if (GMIME_IS_MULTIPART(obj)) {
		n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
		if (n == 0)			/* boundary never found: read it as text */
			mime_prologue(w, GMIME_MULTIPART(obj));
		for (i = 0; i < n; i++)
			mime_walk(w, g_mime_multipart_get_part(GMIME_MULTIPART(obj), i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		mime_orig(w, obj);
		w->m->last = FB_CUT_ORIG;
	} else
		mime_leaf(w, obj, type);
	g_free(type);
}

/* mime_headers - copy the top-level header fields */
static void
mime_headers(fb_mail *m, GMimeMessage *msg)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	int	i, n = hl ? g_mime_header_list_get_count(hl) : 0;

	m->hdr = sl_calloc(n + 1, sizeof(*m->hdr));
	for (i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *v = g_mime_header_get_value(h);

		m->hdr[m->nhdr].name = sl_strdup(g_mime_header_get_name(h));
		m->hdr[m->nhdr].value = sl_strdup(v ? v : "");
		m->nhdr++;
	}
}

/* mime_toptype - the top-level media type and report-type */
static void
mime_toptype(fb_mail *m, GMimeMessage *msg)
{
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	GMimeContentType *ct = body ? g_mime_object_get_content_type(body) : NULL;
	const char *rt = ct ? g_mime_content_type_get_parameter(ct, "report-type") : NULL;
	char   *type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;

	m->type = sl_strdup(type ? type : "text/plain");
	fb_strlower(m->type);
	m->report_type = sl_strdup(rt ? rt : "");
	fb_strlower(m->report_type);
	g_free(type);
}

/* fb_mime_is_mail - does the buffer start like a message header? */
int
fb_mime_is_mail(const char *buf, size_t len)
{
	size_t	i;

	if (len >= 5 && memcmp(buf, "From ", 5) == 0)
		return 1;
	for (i = 0; i < len && i < 80; i++) {
		if (buf[i] == ':')
			return i > 0;
		if (buf[i] <= ' ' || buf[i] >= 127)
			return 0;
	}
	return 0;
}

/* fb_mail_parse - parse one message; NULL with err when it is none */
fb_mail *
fb_mail_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	GMimeStream *st;
	GMimeParser *p;
	GMimeMessage *msg;
	fb_walk	w = { 0 };
	size_t	nlen;
	char   *norm;

	if (len > FB_MAX_INPUT) {
		fb_strlcpy(err, "message larger than the size limit", errlen);
		return NULL;
	}
	mime_init();
	norm = mime_normalise(buf, len, &nlen);
	st = g_mime_stream_mem_new_with_buffer(norm, nlen);
	p = g_mime_parser_new_with_stream(st);
	msg = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(st);
	free(norm);
	if (msg == NULL) {
		fb_strlcpy(err, "not a MIME message", errlen);
		return NULL;
	}
	w.m = sl_calloc(1, sizeof(*w.m));
	sbuf_init(&w.text, FB_MAX_TEXT, FB_CUT_TEXT, &w.m->cut);
	sbuf_init(&w.dsn, FB_MAX_DSN, FB_CUT_DSN, &w.m->cut);
	sbuf_init(&w.feedback, FB_MAX_DSN, FB_CUT_FEEDBACK, &w.m->cut);
	sbuf_init(&w.orig, FB_MAX_TEXT, FB_CUT_ORIG, &w.m->cut);
	mime_headers(w.m, msg);
	mime_toptype(w.m, msg);
	if (g_mime_message_get_mime_part(msg) != NULL)
		mime_walk(&w, g_mime_message_get_mime_part(msg), 0);
	w.m->text = sbuf_take(&w.text);
	w.m->dsn = sbuf_take(&w.dsn);
	w.m->feedback = sbuf_take(&w.feedback);
	w.m->orig = sbuf_take(&w.orig);
	g_object_unref(msg);
	return w.m;
}

/* fb_mail_header - the first value of a top-level header field, or NULL */
const char *
fb_mail_header(const fb_mail *m, const char *name)
{
	size_t	i;

	for (i = 0; i < m->nhdr; i++)
		if (strcasecmp(m->hdr[i].name, name) == 0)
			return m->hdr[i].value;
	return NULL;
}

/* fb_mail_free - release an fb_mail */
void
fb_mail_free(fb_mail *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nhdr; i++) {
		free(m->hdr[i].name);
		free(m->hdr[i].value);
	}
	for (i = 0; i < m->natt; i++) {
		free(m->att[i].type);
		free(m->att[i].filename);
		free(m->att[i].data);
	}
	free(m->hdr);
	free(m->att);
	free(m->type);
	free(m->report_type);
	free(m->text);
	free(m->dsn);
	free(m->feedback);
	free(m->orig);
	free(m);
}

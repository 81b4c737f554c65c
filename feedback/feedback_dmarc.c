/*
 * NAME
 *	feedback_dmarc 3 - DMARC aggregate reports (RFC 7489 appendix C)
 * SYNOPSIS
 *	fb_dmarc_parse_buf(buf, len, name, res);  0 ok, -1 with res->why
 *	fb_dmarc_from_mail(mail, res);            1 a report was found
 * DESCRIPTION
 *	A report arrives as XML, gzip (possibly gzip of gzip), zip, or
 *	attached to a mail in any of those forms. The container is told by
 *	its magic bytes, not by its name or media type (reporters get both
 *	wrong); a zip is read whatever its entries are called (streamed
 *	zips have an entry with an empty name).
 *
 *	The XML must be well-formed: libxml2's streaming reader reads it
 *	without recover mode, without network access, without loading a
 *	DTD and without substituting entities; each child of <feedback>
 *	(each <record>) is expanded alone and released when the reader
 *	moves on, so memory follows the records kept, not the document
 *	tree. A document with a DTD (<!DOCTYPE>, the
 *	only place entities can be declared) is refused before parsing: a
 *	DMARC report has none, and this is what stops entity bombs. Field
 *	text is read from text nodes only, never through entity
 *	references. Tolerated, because real reporters send them and the
 *	report itself is intact: invalid UTF-8 bytes in a document declared
 *	(or defaulting to) UTF-8, replaced by U+FFFD before parsing, and
 *	control characters XML forbids, replaced by '?'; a well-formed <feedback> element inside or after other text (an
 *	unclosed wrapper element, trailing bytes), which is then parsed on
 *	its own; namespaces (elements are matched by local name), a BOM,
 *	any declared encoding libxml2 knows, missing optional elements.
 *	Anything else not well-formed is refused with libxml2's reason.
 *
 *	Fields: RFC 7489 appendix C and RFC 9990 (np, testing,
 *	discovery_method, generator), every <reason> and <auth_results>
 *	entry (dkim with selector and human_result, spf with scope).
 *	Extensions and unknown elements are skipped.
 * LIMITS
 *	Compressed input is expanded to at most FB_MAX_UNPACK bytes,
 *	containers nest at most 3 deep; a report with more than
 *	FB_MAX_DMARC_RECORDS records is refused; per record at most
 *	FB_MAX_DMARC_AUTH auth_results entries and FB_MAX_DMARC_REASONS
 *	reasons are kept (the rest is informational and skipped).
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <zip.h>
#include <zlib.h>

#include "log.h"
#include "utf8.h"
#include "feedback.h"

#define DMARC_DEPTH 3

static int dmarc_parse(const unsigned char *buf, size_t len, fb_result *res, int depth);

/* is_gzip - gzip magic */
static int
is_gzip(const unsigned char *b, size_t n)
{
	return n >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8;
}

/* is_zip - zip local file header magic */
static int
is_zip(const unsigned char *b, size_t n)
{
	return n >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4;
}

/* is_xml - XML that may hold a report */
static int
is_xml(const unsigned char *b, size_t n)
{
	size_t	i = 0;

	if (n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
		i = 3;
	while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
		i++;
	return i < n && b[i] == '<';
}

/* fb_dmarc_looks_like - a container or XML document, not a mail */
int
fb_dmarc_looks_like(const unsigned char *buf, size_t len)
{
	return is_gzip(buf, len) || is_zip(buf, len) || is_xml(buf, len);
}

/* gunzip - expand gzip data (all members) up to the cap */
static unsigned char *
gunzip(const unsigned char *in, size_t inlen, size_t *outlen, char *err, size_t errlen)
{
	z_stream z = { 0 };
	size_t	cap = inlen * 4 + 4096, n = 0;
	unsigned char *out;
	int	rc;

	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		fb_strlcpy(err, "gzip: cannot initialise zlib", errlen);
		return NULL;
	}
	out = sl_malloc(cap + 1);
	z.next_in = (unsigned char *) in;
	z.avail_in = inlen;
	for (;;) {
		if (n == cap) {
			if (cap >= FB_MAX_UNPACK) {
				fb_strlcpy(err, "gzip: expanded report larger than the size limit", errlen);
				goto fail;
			}
			cap = cap * 2 > FB_MAX_UNPACK ? FB_MAX_UNPACK : cap * 2;
			out = sl_realloc(out, cap + 1);
		}
		z.next_out = out + n;
		z.avail_out = cap - n;
		rc = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (rc == Z_STREAM_END) {
			if (z.avail_in == 0 || !is_gzip(z.next_in, z.avail_in))
				break;
			inflateReset(&z);
			continue;
		}
		if (rc != Z_OK && !(rc == Z_BUF_ERROR && z.avail_out == 0)) {
			snprintf(err, errlen, "gzip: %s", z.msg ? z.msg : "corrupt data");
			goto fail;
		}
	}
	inflateEnd(&z);
	out[n] = 0;
	*outlen = n;
	return out;
fail:
	inflateEnd(&z);
	free(out);
	return NULL;
}

/* unzip_pick - the first .xml or .xml.gz entry, else the first file, whatever its name */
static zip_int64_t
unzip_pick(zip_t *za)
{
	zip_int64_t i, n = zip_get_num_entries(za, 0), first = -1;

	for (i = 0; i < n; i++) {
		const char *name = zip_get_name(za, i, ZIP_FL_ENC_RAW);
		size_t	l = name ? strlen(name) : 0;

		if (l > 0 && name[l - 1] == '/')
			continue; /* a directory; an empty name is a streamed file */
		if (first < 0)
			first = i;
		if (l > 4 && (strcasecmp(name + l - 4, ".xml") == 0
			      || (l > 7 && strcasecmp(name + l - 7, ".xml.gz") == 0)))
			return i;
	}
	return first;
}

/* unzip - the report file inside a zip archive */
static unsigned char *
unzip(const unsigned char *in, size_t inlen, size_t *outlen, char *err, size_t errlen)
{
	zip_error_t ze;
	zip_source_t *src;
	zip_t  *za;
	zip_file_t *zf;
	zip_int64_t idx, got;
	unsigned char *out = NULL;
	size_t	cap = 65536, n = 0;

	zip_error_init(&ze);
	src = zip_source_buffer_create(in, inlen, 0, &ze);
	za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
	if (za == NULL) {
		snprintf(err, errlen, "zip: %s", zip_error_strerror(&ze));
		if (src)
			zip_source_free(src);
		zip_error_fini(&ze);
		return NULL;
	}
	zip_error_fini(&ze);
	if ((idx = unzip_pick(za)) < 0 || (zf = zip_fopen_index(za, idx, 0)) == NULL) {
		fb_strlcpy(err, "zip: no report file in the archive", errlen);
		zip_close(za);
		return NULL;
	}
	out = sl_malloc(cap + 1);
	while ((got = zip_fread(zf, out + n, cap - n)) > 0) {
		n += got;
		if (n == cap) {
			if (cap >= FB_MAX_UNPACK) {
				fb_strlcpy(err, "zip: expanded report larger than the size limit", errlen);
				free(out);
				out = NULL;
				break;
			}
			cap = cap * 2 > FB_MAX_UNPACK ? FB_MAX_UNPACK : cap * 2;
			out = sl_realloc(out, cap + 1);
		}
	}
	if (out != NULL && got < 0) {
		fb_strlcpy(err, "zip: corrupt archive member", errlen);
		free(out);
		out = NULL;
	}
	zip_fclose(zf);
	zip_discard(za);
	if (out != NULL) {
		out[n] = 0;
		*outlen = n;
	}
	return out;
}

/* xml_child - the first element child named name (namespaces ignored) */
static xmlNode *
xml_child(xmlNode *n, const char *name)
{
	xmlNode *c;

	for (c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *) c->name, name) == 0)
			return c;
	return NULL;
}

/*
 * node_text - the stripped text of an element into out: its text and
 * CDATA children only, at most outlen bytes gathered (never
 * xmlNodeGetContent(), which expands entity references without a limit).
 */
static void
node_text(xmlNode *c, char *out, size_t outlen)
{
	char buf[1024];
	size_t n = 0, l;
	xmlNode *t;

	out[0] = 0;
	for (t = c ? c->children : NULL; t && n + 1 < sizeof(buf); t = t->next) {
		if ((t->type != XML_TEXT_NODE && t->type != XML_CDATA_SECTION_NODE) ||
		    t->content == NULL)
			continue;
		l = strlen((const char *)t->content);
		if (l > sizeof(buf) - 1 - n)
			l = sizeof(buf) - 1 - n;
		memcpy(buf + n, t->content, l);
		n += l;
	}
	buf[n] = 0;
	fb_text_squeeze(out, outlen, buf, n);
}

/* xml_text - the stripped text of the first child element named name */
static void
xml_text(xmlNode *n, const char *name, char *out, size_t outlen)
{
	node_text(xml_child(n, name), out, outlen);
}

/* xml_ll - a child element as an integer */
static long long
xml_ll(xmlNode *n, const char *name)
{
	char	v[32];

	xml_text(n, name, v, sizeof(v));
	return strtoll(v, NULL, 10);
}

/* dmarc_auth - the <dkim> and <spf> entries of <auth_results> */
static void
dmarc_auth(xmlNode *ar, fb_dmarc_rec *r)
{
	xmlNode *c;

	for (c = ar ? ar->children : NULL; c && r->nauth < FB_MAX_DMARC_AUTH; c = c->next) {
		fb_dmarc_auth *a;

		if (c->type != XML_ELEMENT_NODE || (strcmp((const char *)c->name, "dkim") != 0 &&
		                                    strcmp((const char *)c->name, "spf") != 0))
			continue;
		if ((r->nauth & (r->nauth - 1)) == 0)	/* 0, 1, 2, 4, ...: double */
			r->auth = sl_realloc(r->auth, (r->nauth ? 2 * r->nauth : 1) * sizeof(*r->auth));
		a = &r->auth[r->nauth++];
		memset(a, 0, sizeof(*a));
		fb_strlcpy(a->method, (const char *)c->name, sizeof(a->method));
		xml_text(c, "domain", a->domain, sizeof(a->domain));
		xml_text(c, "selector", a->selector, sizeof(a->selector));
		xml_text(c, "scope", a->scope, sizeof(a->scope));
		xml_text(c, "result", a->result, sizeof(a->result));
		xml_text(c, "human_result", a->human_result, sizeof(a->human_result));
	}
}

/* dmarc_reasons - the <reason>s of <policy_evaluated> */
static void
dmarc_reasons(xmlNode *pe, fb_dmarc_rec *r)
{
	xmlNode *c;

	for (c = pe ? pe->children : NULL; c && r->nreason < FB_MAX_DMARC_REASONS; c = c->next) {
		fb_dmarc_reason *e;

		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "reason") != 0)
			continue;
		if ((r->nreason & (r->nreason - 1)) == 0)
			r->reason = sl_realloc(r->reason,
					       (r->nreason ? 2 * r->nreason : 1) * sizeof(*r->reason));
		e = &r->reason[r->nreason++];
		memset(e, 0, sizeof(*e));
		xml_text(c, "type", e->type, sizeof(e->type));
		xml_text(c, "comment", e->comment, sizeof(e->comment));
	}
}

/* dmarc_record - one <record> */
static void
dmarc_record(xmlNode *rec, fb_dmarc_rec *r)
{
	xmlNode *row = xml_child(rec, "row");
	xmlNode *pe = xml_child(row, "policy_evaluated");
	xmlNode *id = xml_child(rec, "identifiers");

	if (id == NULL)
		id = xml_child(rec, "identities"); /* early drafts */
	xml_text(row, "source_ip", r->source_ip, sizeof(r->source_ip));
	r->count = xml_ll(row, "count");
	xml_text(pe, "disposition", r->disposition, sizeof(r->disposition));
	xml_text(pe, "dkim", r->dkim, sizeof(r->dkim));
	xml_text(pe, "spf", r->spf, sizeof(r->spf));
	dmarc_reasons(pe, r);
	xml_text(id, "header_from", r->header_from, sizeof(r->header_from));
	xml_text(id, "envelope_from", r->envelope_from, sizeof(r->envelope_from));
	xml_text(id, "envelope_to", r->envelope_to, sizeof(r->envelope_to));
	dmarc_auth(xml_child(rec, "auth_results"), r);
}

/* dmarc_meta - <report_metadata> */
static void
dmarc_meta(xmlNode *meta, fb_dmarc *d)
{
	xmlNode *range = xml_child(meta, "date_range");

	xml_text(meta, "org_name", d->org_name, sizeof(d->org_name));
	xml_text(meta, "email", d->email, sizeof(d->email));
	xml_text(meta, "report_id", d->report_id, sizeof(d->report_id));
	xml_text(meta, "generator", d->generator, sizeof(d->generator));
	d->begin = xml_ll(range, "begin");
	d->end = xml_ll(range, "end");
}

/* dmarc_policy - <policy_published> */
static void
dmarc_policy(xmlNode *pp, fb_dmarc *d)
{
	xml_text(pp, "domain", d->domain, sizeof(d->domain));
	xml_text(pp, "p", d->p, sizeof(d->p));
	xml_text(pp, "sp", d->sp, sizeof(d->sp));
	xml_text(pp, "np", d->np, sizeof(d->np));
	xml_text(pp, "pct", d->pct, sizeof(d->pct));
	xml_text(pp, "adkim", d->adkim, sizeof(d->adkim));
	xml_text(pp, "aspf", d->aspf, sizeof(d->aspf));
	xml_text(pp, "fo", d->fo, sizeof(d->fo));
	xml_text(pp, "testing", d->testing, sizeof(d->testing));
	xml_text(pp, "discovery_method", d->discovery_method, sizeof(d->discovery_method));
}

/* dmarc_add_record - one more <record>; -1 past FB_MAX_DMARC_RECORDS */
static int
dmarc_add_record(xmlNode *rec, fb_dmarc *d)
{
	size_t	n = d->nrec;

	if (n >= FB_MAX_DMARC_RECORDS)
		return -1;
	if ((n & (n - 1)) == 0)		/* 0, 1, 2, 4, ...: double */
		d->rec = sl_realloc(d->rec, (n ? 2 * n : 1) * sizeof(*d->rec));
	memset(&d->rec[n], 0, sizeof(d->rec[0]));
	dmarc_record(rec, &d->rec[n]);
	d->nrec++;
	return 0;
}

/* dmarc_free - release a report */
static void
dmarc_free(fb_dmarc *d)
{
	size_t	i;

	for (i = 0; d != NULL && i < d->nrec; i++)
		free(d->rec[i].auth), free(d->rec[i].reason);
	if (d != NULL)
		free(d->rec);
	free(d);
}

/* xml_silent - keep libxml2 from printing to stderr */
static void
xml_silent(void *ctx, const char *msg, ...)
{
	(void) ctx;
	(void) msg;
}

/* The first error libxml2 reported while reading. */
typedef struct xml_err {
	int	set;
	int	line;
	char	msg[160];
} xml_err;

/* xml_error - keep the first error (warnings are not errors) */
static void
xml_error(void *arg, xmlErrorPtr e)
{
	xml_err *x = arg;

	if (x->set || e == NULL || e->level < XML_ERR_ERROR)
		return;
	x->set = 1;
	x->line = e->line;
	snprintf(x->msg, sizeof(x->msg), "%.*s", e->message ? (int) strcspn(e->message, "\n") : 7,
		 e->message ? e->message : "unknown");
}

/* The streaming state: where the <feedback> element is, what was filled. */
typedef struct xml_walk {
	int	depth;			/* of <feedback>, -1 before it */
	int	done;			/* its end was passed */
	fb_dmarc *d;
} xml_walk;

/* walk_child - one child element of <feedback>: 1 expanded and used, 0 not, -1 too many records */
static int
walk_child(xmlTextReaderPtr rd, const char *name, xml_walk *w)
{
	xmlNode *n;

	if (strcmp(name, "report_metadata") != 0 && strcmp(name, "policy_published") != 0
	    && strcmp(name, "record") != 0 && strcmp(name, "version") != 0)
		return 0;
	if ((n = xmlTextReaderExpand(rd)) == NULL)
		return 0;		/* the reader's error says why */
	if (strcmp(name, "record") == 0)
		return dmarc_add_record(n, w->d) < 0 ? -1 : 1;
	if (strcmp(name, "report_metadata") == 0)
		dmarc_meta(n, w->d);
	else if (strcmp(name, "policy_published") == 0)
		dmarc_policy(n, w->d);
	else
		node_text(n, w->d->version, sizeof(w->d->version));
	return 1;
}

/*
 * walk_node - look at the reader's current node; 1 when its subtree was
 * used (the caller skips it), 0 to read on, -1 to stop with why set.
 */
static int
walk_node(xmlTextReaderPtr rd, xml_walk *w, char *why, size_t whylen)
{
	int	type = xmlTextReaderNodeType(rd), depth = xmlTextReaderDepth(rd), rc;
	const char *name;

	if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
		fb_strlcpy(why, "dmarc: the XML has a DTD (a DMARC report has none)", whylen);
		return -1;
	}
	if (type == XML_READER_TYPE_END_ELEMENT && w->depth >= 0 && depth == w->depth)
		w->done = 1;
	if (type != XML_READER_TYPE_ELEMENT || w->done)
		return 0;
	name = (const char *) xmlTextReaderConstLocalName(rd);
	if (name == NULL)
		return 0;
	if (w->depth < 0) {
		if (strcmp(name, "feedback") == 0) {
			w->depth = depth;
			w->done = xmlTextReaderIsEmptyElement(rd) == 1;
		}
		return 0;
	}
	if (depth != w->depth + 1)
		return 0;
	if ((rc = walk_child(rd, name, w)) < 0)
		snprintf(why, whylen, "dmarc: more than %d records", FB_MAX_DMARC_RECORDS);
	return rc;
}

/*
 * xml_stream - read one document strictly with libxml2's streaming
 * reader: no recover, no network, no DTD loading, no entity
 * substitution. Each child of <feedback> is expanded on its own and
 * released when the reader moves on, so memory follows the largest
 * <record>, not the report. The report in *d (NULL when the document
 * is not well-formed or has no <feedback>, with why set).
 */
static fb_dmarc *
xml_stream(const unsigned char *buf, size_t len, const char *enc, char *why, size_t whylen)
{
	xml_walk w = { .depth = -1, .done = 0, .d = sl_calloc(1, sizeof(fb_dmarc)) };
	xml_err	err = { 0 };
	xmlTextReaderPtr rd;
	int	ret, rc = 0;

	if (len > (size_t) 0x7fffffff
	    || (rd = xmlReaderForMemory((const char *) buf, (int) len, "report.xml", enc[0] ? enc : NULL,
					XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
					| XML_PARSE_NOCDATA)) == NULL) {
		fb_strlcpy(why, "dmarc: cannot parse the XML", whylen);
		dmarc_free(w.d);
		return NULL;
	}
	xmlTextReaderSetStructuredErrorHandler(rd, xml_error, &err);
	ret = xmlTextReaderRead(rd);
	while (ret == 1 && !err.set && (rc = walk_node(rd, &w, why, whylen)) >= 0)
		ret = rc == 1 ? xmlTextReaderNext(rd) : xmlTextReaderRead(rd);
	xmlFreeTextReader(rd);
	if (rc < 0 || ret < 0 || err.set) {
		if (rc >= 0)
			snprintf(why, whylen, "dmarc: not well-formed XML: line %d: %s", err.line,
				 err.set ? err.msg : "unknown error");
		dmarc_free(w.d);
		return NULL;
	}
	if (w.depth < 0) {
		fb_strlcpy(why, "dmarc: no <feedback> element in the XML", whylen);
		dmarc_free(w.d);
		return NULL;
	}
	return w.d;
}

/* xml_encoding - the encoding named by the XML declaration into out, "" when none */
static void
xml_encoding(const unsigned char *buf, size_t len, char *out, size_t outlen)
{
	const unsigned char *end, *p;
	size_t n;

	out[0] = 0;
	if (len >= 3 && buf[0] == 0xef && buf[1] == 0xbb && buf[2] == 0xbf)
		buf += 3, len -= 3;
	if (len < 5 || memcmp(buf, "<?xml", 5) != 0 || (end = memmem(buf, len, "?>", 2)) == NULL)
		return;
	p = memmem(buf, end - buf, "encoding", 8);
	if (p == NULL)
		return;
	for (p += 8; p < end && (*p == ' ' || *p == '=' || *p == '\t' || *p == '\r' || *p == '\n');
	     p++)
		;
	if (p >= end || (*p != '"' && *p != '\''))
		return;
	for (n = 0, p++; p < end && *p != '"' && *p != '\'' && n + 1 < outlen; p++)
		out[n++] = *p;
	out[n] = 0;
}

/* xml_has_dtd - does the document declare a DTD (and so, maybe, entities)? */
static int
xml_has_dtd(const unsigned char *buf, size_t len)
{
	return memmem(buf, len, "<!DOCTYPE", 9) != NULL || memmem(buf, len, "<!ENTITY", 8) != NULL;
}

/* xml_cutout - the span from the first <feedback to the end of the last </feedback>, or NULL */
static const unsigned char *
xml_cutout(const unsigned char *buf, size_t len, size_t *outlen)
{
	const unsigned char *start = buf, *end = NULL, *p = buf;

	for (;;) {
		start = memmem(start, len - (start - buf), "<feedback", 9);
		if (start == NULL)
			return NULL;
		if (start + 9 < buf + len &&
		    (start[9] == '>' || start[9] == ' ' || start[9] == '\t' || start[9] == '\r' ||
		     start[9] == '\n'))
			break;
		start += 9;
	}
	while ((p = memmem(p, len - (p - buf), "</feedback>", 11)) != NULL)
		end = p, p += 11;
	if (end == NULL || end < start)
		return NULL;
	*outlen = end + 11 - start;
	return start;
}

/*
 * xml_report - the report of the whole input, else of the <feedback>
 * element cut out (a wrapper or trailing bytes around a well-formed
 * report); NULL with why (the whole input's reason).
 */
static fb_dmarc *
xml_report(const unsigned char *buf, size_t len, const char *enc, char *why, size_t whylen)
{
	fb_dmarc *d = xml_stream(buf, len, enc, why, whylen);
	const unsigned char *inner;
	size_t	ilen;
	char	why2[sizeof(((fb_result *) 0)->why)];

	if (d != NULL || strstr(why, "records") != NULL || strstr(why, "DTD") != NULL)
		return d;
	inner = xml_cutout(buf, len, &ilen);
	if (inner == NULL || inner == buf)
		return NULL;
	return xml_stream(inner, ilen, enc, why2, sizeof(why2));
}

/* is_utf8_name - does an encoding name mean UTF-8 (or its ASCII subset)? */
static int
is_utf8_name(const char *enc)
{
	return enc[0] == 0 || strcasecmp(enc, "utf-8") == 0 || strcasecmp(enc, "utf8") == 0 ||
	       strcasecmp(enc, "us-ascii") == 0 || strcasecmp(enc, "ascii") == 0;
}

/* has_ctl - a C0 control character XML 1.0 forbids (all but TAB, LF, CR)? */
static int
has_ctl(const unsigned char *b, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r')
			return 1;
	return 0;
}

/* ctl_replace - forbidden control characters become '?', like invalid bytes do U+FFFD */
static void
ctl_replace(unsigned char *b, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r')
			b[i] = '?';
}

/* dmarc_xml - parse one XML report */
static int
dmarc_xml(const unsigned char *buf, size_t len, fb_result *res)
{
	char	enc[40];
	unsigned char *clean = NULL;
	size_t	clen = len;

	if (xml_has_dtd(buf, len)) {
		fb_strlcpy(res->why,
			   "dmarc: the XML has a DTD or entity declarations (a DMARC report has none)",
			   sizeof(res->why));
		return -1;
	}
	xml_encoding(buf, len, enc, sizeof(enc));
	if (is_utf8_name(enc) && (!sl_utf8_valid((const char *) buf, len) || has_ctl(buf, len))) {
		clean = (unsigned char *) sl_utf8_clean((const char *) buf, len, &clen);
		ctl_replace(clean, clen);
		buf = clean;
	}
	xmlSetGenericErrorFunc(NULL, xml_silent);
	res->dmarc = xml_report(buf, clen, is_utf8_name(enc) ? "" : enc, res->why, sizeof(res->why));
	free(clean);
	if (res->dmarc == NULL)
		return -1;
	res->kind = FB_KIND_DMARC;
	res->why[0] = 0;
	return 0;
}

/* dmarc_parse - a report in any container */
static int
dmarc_parse(const unsigned char *buf, size_t len, fb_result *res, int depth)
{
	unsigned char *inner;
	size_t	n = 0;
	int	rc;

	if (depth > DMARC_DEPTH) {
		fb_strlcpy(res->why, "dmarc: containers nested too deep", sizeof(res->why));
		return -1;
	}
	if (len > (depth ? FB_MAX_UNPACK : FB_MAX_INPUT)) {	/* expanded ones: FB_MAX_UNPACK */
		fb_strlcpy(res->why, "dmarc: report larger than the size limit", sizeof(res->why));
		return -1;
	}
	if (is_gzip(buf, len) || is_zip(buf, len)) {
		inner = is_gzip(buf, len) ? gunzip(buf, len, &n, res->why, sizeof(res->why))
		    : unzip(buf, len, &n, res->why, sizeof(res->why));
		if (inner == NULL)
			return -1;
		rc = dmarc_parse(inner, n, res, depth + 1);
		free(inner);
		return rc;
	}
	if (len == 0 || !is_xml(buf, len)) {
		fb_strlcpy(res->why, len ? "dmarc: not XML, gzip or zip" : "dmarc: empty report",
			   sizeof(res->why));
		return -1;
	}
	return dmarc_xml(buf, len, res);
}

/* fb_dmarc_parse_buf - a report file: 0 ok, -1 with res->why set */
int
fb_dmarc_parse_buf(const unsigned char *buf, size_t len, const char *name, fb_result *res)
{
	(void) name;
	return dmarc_parse(buf, len, res, 0);
}

/* fb_dmarc_from_mail - a report attached to a mail; 1 found, 0 none, -1 broken */
int
fb_dmarc_from_mail(const fb_mail *m, fb_result *res)
{
	size_t	i;
	int	tried = 0;

	for (i = 0; i < m->natt; i++) {
		const fb_attach *a = &m->att[i];

		if (!fb_dmarc_looks_like(a->data, a->len))
			continue;
		if (is_xml(a->data, a->len) && memmem(a->data, a->len, "<feedback", 9) == NULL)
			continue;
		tried = 1;
		res->why[0] = 0;
		if (dmarc_parse(a->data, a->len, res, 0) == 0)
			return 1;
	}
	return tried ? -1 : 0;
}

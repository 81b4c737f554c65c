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
 *	DTD and without substituting entities, and builds no tree: each
 *	field's text is taken as it passes (from text and CDATA nodes, never
 *	through entity references), so memory follows the records kept,
 *	not the document's shape. A document with a DTD (<!DOCTYPE>, the
 *	only place entities can be declared) is refused before parsing: a
 *	DMARC report has none, and this is what stops entity bombs.
 *	Tolerated, because real reporters send them and the report itself
 *	is intact: invalid UTF-8 bytes in a document declared (or
 *	defaulting to) UTF-8, replaced by U+FFFD before parsing, and
 *	control characters XML forbids, replaced by '?'; a well-formed
 *	<feedback> element inside or after other text (an unclosed wrapper
 *	element, trailing bytes), which is then parsed on its own; the
 *	first of repeated single fields; namespaces (elements are matched by local name), a BOM,
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
 *	reasons are kept (the rest is informational and skipped); field
 *	text is gathered up to 1023 bytes, then cut to the field's size.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <libxml/parser.h>
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

#define WALK_DEPTH 6			/* below <feedback>: record/row/policy_evaluated/reason/type */

/*
 * The streaming state: the element names from <feedback> down to the
 * current one, and the field the current element's text goes to.
 */
typedef struct xml_walk {
	int	depth;			/* of <feedback>, -1 before it */
	int	done;			/* its end was passed */
	fb_dmarc *d;
	char	path[WALK_DEPTH + 1][24]; /* path[1]: child of <feedback> */
	char   *dst;			/* field being read, NULL for none */
	size_t	dstlen;
	long long *num;			/* numeric field being read */
	int	dstdepth;		/* relative depth of its element */
	char	acc[1024];		/* its text so far */
	size_t	accn;
	int	auth_ok;		/* the latest <dkim>/<spf> entry was kept (cap) */
	int	reason_ok;		/* the latest <reason> was kept (cap) */
} xml_walk;

/* is - does path[k] name this element? */
#define is(w, k, name) (strcmp((w)->path[k], (name)) == 0)

/* field_meta - <report_metadata>, its <date_range> and <version>: the field, or NULL */
static char *
field_meta(xml_walk *w, int k, size_t *len, long long **num)
{
	fb_dmarc *d = w->d;

#define F(field) (*len = sizeof(field), (field))
	if (k == 1 && is(w, 1, "version"))
		return F(d->version);
	if (k == 2 && is(w, 1, "report_metadata")) {
		if (is(w, 2, "org_name"))
			return F(d->org_name);
		if (is(w, 2, "email"))
			return F(d->email);
		if (is(w, 2, "report_id"))
			return F(d->report_id);
		if (is(w, 2, "generator"))
			return F(d->generator);
	}
	if (k == 3 && is(w, 1, "report_metadata") && is(w, 2, "date_range")
	    && (is(w, 3, "begin") || is(w, 3, "end"))) {
		*num = is(w, 3, "begin") ? &d->begin : &d->end;
		*len = 0;
		return w->acc;
	}
	return NULL;
}

/* field_policy - a <policy_published> field, or NULL */
static char *
field_policy(xml_walk *w, int k, size_t *len)
{
	fb_dmarc *d = w->d;

	if (k != 2 || !is(w, 1, "policy_published"))
		return NULL;
	if (is(w, 2, "domain"))
		return F(d->domain);
	if (is(w, 2, "p"))
		return F(d->p);
	if (is(w, 2, "sp"))
		return F(d->sp);
	if (is(w, 2, "np"))
		return F(d->np);
	if (is(w, 2, "pct"))
		return F(d->pct);
	if (is(w, 2, "adkim"))
		return F(d->adkim);
	if (is(w, 2, "aspf"))
		return F(d->aspf);
	if (is(w, 2, "fo"))
		return F(d->fo);
	if (is(w, 2, "testing"))
		return F(d->testing);
	if (is(w, 2, "discovery_method"))
		return F(d->discovery_method);
	return NULL;
}

/* rec_auth - a new <auth_results> entry of the record, NULL past the cap */
static fb_dmarc_auth *
rec_auth(fb_dmarc_rec *r, const char *method)
{
	fb_dmarc_auth *a;

	if (r->nauth >= FB_MAX_DMARC_AUTH)
		return NULL;
	if ((r->nauth & (r->nauth - 1)) == 0) /* 0, 1, 2, 4, ...: double */
		r->auth = sl_realloc(r->auth, (r->nauth ? 2 * r->nauth : 1) * sizeof(*r->auth));
	a = &r->auth[r->nauth++];
	memset(a, 0, sizeof(*a));
	fb_strlcpy(a->method, method, sizeof(a->method));
	return a;
}

/* rec_reason - a new <reason> of the record, NULL past the cap */
static fb_dmarc_reason *
rec_reason(fb_dmarc_rec *r)
{
	fb_dmarc_reason *e;

	if (r->nreason >= FB_MAX_DMARC_REASONS)
		return NULL;
	if ((r->nreason & (r->nreason - 1)) == 0)
		r->reason = sl_realloc(r->reason, (r->nreason ? 2 * r->nreason : 1) * sizeof(*r->reason));
	e = &r->reason[r->nreason++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* field_auth - a field of the record's latest <dkim> or <spf> under <auth_results>; starts entries */
static char *
field_auth(xml_walk *w, fb_dmarc_rec *r, int k, size_t *len)
{
	fb_dmarc_auth *a = r->nauth ? &r->auth[r->nauth - 1] : NULL;

	if (k == 3 && (is(w, 3, "dkim") || is(w, 3, "spf")))	/* a new entry, no text */
		w->auth_ok = rec_auth(r, w->path[3]) != NULL;
	if (k != 4 || a == NULL || !w->auth_ok)
		return NULL;
	if (is(w, 4, "domain"))
		return F(a->domain);
	if (is(w, 4, "selector"))
		return F(a->selector);
	if (is(w, 4, "scope"))
		return F(a->scope);
	if (is(w, 4, "result"))
		return F(a->result);
	if (is(w, 4, "human_result"))
		return F(a->human_result);
	return NULL;
}

/* field_row - a field of the record's <row> and its <policy_evaluated>; starts <reason>s */
static char *
field_row(xml_walk *w, fb_dmarc_rec *r, int k, size_t *len, long long **num)
{
	if (k == 3 && is(w, 3, "source_ip"))
		return F(r->source_ip);
	if (k == 3 && is(w, 3, "count")) {
		*num = &r->count;
		*len = 0;
		return w->acc;
	}
	if (k < 4 || !is(w, 3, "policy_evaluated"))
		return NULL;
	if (k == 4 && is(w, 4, "disposition"))
		return F(r->disposition);
	if (k == 4 && is(w, 4, "dkim"))
		return F(r->dkim);
	if (k == 4 && is(w, 4, "spf"))
		return F(r->spf);
	if (k == 4 && is(w, 4, "reason"))	/* a new entry, no text */
		w->reason_ok = rec_reason(r) != NULL;
	if (k == 5 && is(w, 4, "reason") && r->nreason && w->reason_ok) {
		if (is(w, 5, "type"))
			return F(r->reason[r->nreason - 1].type);
		if (is(w, 5, "comment"))
			return F(r->reason[r->nreason - 1].comment);
	}
	return NULL;
}

/* field_record - a field of the current <record> */
static char *
field_record(xml_walk *w, int k, size_t *len, long long **num)
{
	fb_dmarc_rec *r;

	if (!is(w, 1, "record") || k < 2 || w->d->nrec == 0)
		return NULL;
	r = &w->d->rec[w->d->nrec - 1];
	if (is(w, 2, "row"))
		return field_row(w, r, k, len, num);
	if (k == 3 && (is(w, 2, "identifiers") || is(w, 2, "identities"))) {	/* early drafts */
		if (is(w, 3, "header_from"))
			return F(r->header_from);
		if (is(w, 3, "envelope_from"))
			return F(r->envelope_from);
		if (is(w, 3, "envelope_to"))
			return F(r->envelope_to);
	}
	if (is(w, 2, "auth_results"))
		return field_auth(w, r, k, len);
	return NULL;
#undef F
}

/* walk_record - a new <record>; -1 past FB_MAX_DMARC_RECORDS */
static int
walk_record(fb_dmarc *d)
{
	size_t	n = d->nrec;

	if (n >= FB_MAX_DMARC_RECORDS)
		return -1;
	if ((n & (n - 1)) == 0)		/* 0, 1, 2, 4, ...: double */
		d->rec = sl_realloc(d->rec, (n ? 2 * n : 1) * sizeof(*d->rec));
	memset(&d->rec[n], 0, sizeof(d->rec[0]));
	d->nrec++;
	return 0;
}

/* walk_end - the current field's element ended: store its text */
static void
walk_end(xml_walk *w)
{
	char	v[32];

	if (w->num != NULL) {
		fb_text_squeeze(v, sizeof(v), w->acc, w->accn);
		*w->num = strtoll(v, NULL, 10);
	} else if (w->dst != NULL)
		fb_text_squeeze(w->dst, w->dstlen, w->acc, w->accn);
	w->dst = NULL;
	w->num = NULL;
	w->accn = 0;
}

/* walk_element - an element below <feedback> at relative depth k; -1 too many records */
static int
walk_element(xmlTextReaderPtr rd, xml_walk *w, int k, const char *name)
{
	size_t	len = 0;
	long long *num = NULL;
	char   *dst;

	if (k > WALK_DEPTH)
		return 0;
	fb_strlcpy(w->path[k], name, sizeof(w->path[k]));
	if (k == 1 && is(w, 1, "record"))
		return walk_record(w->d);
	dst = field_meta(w, k, &len, &num);
	if (dst == NULL)
		dst = field_policy(w, k, &len);
	if (dst == NULL)
		dst = field_record(w, k, &len, &num);
	if (dst == NULL || (num == NULL && dst[0] != 0))
		return 0;		/* not a field, or the first of its name was read */
	w->dst = num ? NULL : dst;
	w->dstlen = len;
	w->num = num;
	w->dstdepth = k;
	w->accn = 0;
	if (xmlTextReaderIsEmptyElement(rd) == 1)
		walk_end(w);
	return 0;
}

/* walk_text - text (or CDATA) directly inside the current field's element */
static void
walk_text(xmlTextReaderPtr rd, xml_walk *w, int k)
{
	const char *t = (const char *) xmlTextReaderConstValue(rd);
	size_t	n = t ? strlen(t) : 0;

	if ((w->dst == NULL && w->num == NULL) || k != w->dstdepth + 1)
		return;
	if (n > sizeof(w->acc) - 1 - w->accn)
		n = sizeof(w->acc) - 1 - w->accn;
	memcpy(w->acc + w->accn, t, n);
	w->accn += n;
}

/* walk_node - the reader's current node; -1 to stop with why set */
static int
walk_node(xmlTextReaderPtr rd, xml_walk *w, char *why, size_t whylen)
{
	int	type = xmlTextReaderNodeType(rd), depth = xmlTextReaderDepth(rd);
	const char *name;

	if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
		fb_strlcpy(why, "dmarc: the XML has a DTD (a DMARC report has none)", whylen);
		return -1;
	}
	if (w->done)
		return 0;
	if (w->depth >= 0 && (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA
			      || type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE)) {
		walk_text(rd, w, depth - w->depth);
		return 0;
	}
	if (type == XML_READER_TYPE_END_ELEMENT && w->depth >= 0) {
		if (depth == w->depth)
			w->done = 1;
		else if (depth - w->depth == w->dstdepth)
			walk_end(w);
		return 0;
	}
	if (type != XML_READER_TYPE_ELEMENT || (name = (const char *) xmlTextReaderConstLocalName(rd)) == NULL)
		return 0;
	if (w->depth < 0) {
		if (strcmp(name, "feedback") == 0) {
			w->depth = depth;
			w->done = xmlTextReaderIsEmptyElement(rd) == 1;
		}
		return 0;
	}
	if (walk_element(rd, w, depth - w->depth, name) < 0) {
		snprintf(why, whylen, "dmarc: more than %d records", FB_MAX_DMARC_RECORDS);
		return -1;
	}
	return 0;
}

/*
 * xml_stream - read one document strictly with libxml2's streaming
 * reader: no recover, no network, no DTD loading, no entity
 * substitution, and no tree: each field's text is taken as it passes,
 * so memory follows the records kept, whatever the document's shape.
 * The report, or NULL (not well-formed, no <feedback>) with why set.
 */
static fb_dmarc *
xml_stream(const unsigned char *buf, size_t len, const char *enc, char *why, size_t whylen)
{
	xml_walk *w = sl_calloc(1, sizeof(*w));
	xml_err	err = { 0 };
	xmlTextReaderPtr rd;
	fb_dmarc *d;
	int	ret, rc = 0;

	w->depth = -1;
	w->d = sl_calloc(1, sizeof(fb_dmarc));
	if (len > (size_t) 0x7fffffff
	    || (rd = xmlReaderForMemory((const char *) buf, (int) len, "report.xml", enc[0] ? enc : NULL,
					XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
					| XML_PARSE_NOCDATA)) == NULL) {
		fb_strlcpy(why, "dmarc: cannot parse the XML", whylen);
		rc = -1;
	} else {
		xmlTextReaderSetStructuredErrorHandler(rd, xml_error, &err);
		while ((ret = xmlTextReaderRead(rd)) == 1 && !err.set
		       && (rc = walk_node(rd, w, why, whylen)) == 0)
			;
		xmlFreeTextReader(rd);
		if (rc == 0 && (ret < 0 || err.set)) {
			snprintf(why, whylen, "dmarc: not well-formed XML: line %d: %s", err.line,
				 err.set ? err.msg : "unknown error");
			rc = -1;
		} else if (rc == 0 && w->depth < 0) {
			fb_strlcpy(why, "dmarc: no <feedback> element in the XML", whylen);
			rc = -1;
		}
	}
	d = w->d;
	free(w);
	if (rc < 0) {
		dmarc_free(d);
		return NULL;
	}
	return d;
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

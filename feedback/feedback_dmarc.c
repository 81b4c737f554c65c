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
 *	wrong). XML is read with libxml2 in recover mode, without network
 *	access or entity expansion, after invalid UTF-8 has been replaced:
 *	slightly malformed real-world reports are read, an input with no
 *	<feedback> element is refused with a clear error.
 * LIMITS
 *	Compressed input is expanded to at most FB_MAX_UNPACK bytes,
 *	containers nest at most 3 deep, at most FB_MAX_DMARC_RECORDS
 *	records are kept.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <zip.h>
#include <zlib.h>

#include "log.h"
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

/* unzip_pick - the index of the first .xml entry, else the first file */
static zip_int64_t
unzip_pick(zip_t *za)
{
	zip_int64_t i, n = zip_get_num_entries(za, 0), first = -1;

	for (i = 0; i < n; i++) {
		const char *name = zip_get_name(za, i, 0);
		size_t	l = name ? strlen(name) : 0;

		if (l == 0 || name[l - 1] == '/')
			continue;
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

/* utf8_len - length of a valid UTF-8 sequence at p, or 0 */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t	len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* utf8_clean - copy with each invalid UTF-8 byte replaced by U+FFFD */
static unsigned char *
utf8_clean(const unsigned char *in, size_t n, size_t *outlen)
{
	unsigned char *out = sl_malloc(3 * n + 1);
	size_t	i = 0, o = 0, l;

	while (i < n) {
		l = utf8_len(in + i, n - i);
		if (l == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, in + i, l);
		i += l;
		o += l;
	}
	out[o] = 0;
	*outlen = o;
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

/* xml_text - the stripped text of a child element into out */
static void
xml_text(xmlNode *n, const char *name, char *out, size_t outlen)
{
	xmlNode *c = xml_child(n, name);
	xmlChar *s;

	out[0] = 0;
	if (c == NULL || (s = xmlNodeGetContent(c)) == NULL)
		return;
	fb_text_squeeze(out, outlen, (const char *) s, strlen((const char *) s));
	xmlFree(s);
}

/* xml_ll - a child element as an integer */
static long long
xml_ll(xmlNode *n, const char *name)
{
	char	v[32];

	xml_text(n, name, v, sizeof(v));
	return strtoll(v, NULL, 10);
}

/* dmarc_record - one <record> */
static void
dmarc_record(xmlNode *rec, fb_dmarc_rec *r)
{
	xmlNode *row = xml_child(rec, "row");
	xmlNode *pe = xml_child(row, "policy_evaluated");
	xmlNode *id = xml_child(rec, "identifiers");

	xml_text(row, "source_ip", r->source_ip, sizeof(r->source_ip));
	r->count = xml_ll(row, "count");
	xml_text(pe, "disposition", r->disposition, sizeof(r->disposition));
	xml_text(pe, "dkim", r->dkim, sizeof(r->dkim));
	xml_text(pe, "spf", r->spf, sizeof(r->spf));
	xml_text(id, "header_from", r->header_from, sizeof(r->header_from));
}

/* dmarc_doc - fill the report from a parsed document */
static void
dmarc_doc(xmlNode *root, fb_dmarc *d)
{
	xmlNode *meta = xml_child(root, "report_metadata");
	xmlNode *range = xml_child(meta, "date_range");
	xmlNode *pp = xml_child(root, "policy_published");
	xmlNode *c;
	size_t	cap = 0;

	xml_text(meta, "org_name", d->org_name, sizeof(d->org_name));
	xml_text(meta, "report_id", d->report_id, sizeof(d->report_id));
	d->begin = xml_ll(range, "begin");
	d->end = xml_ll(range, "end");
	xml_text(pp, "domain", d->domain, sizeof(d->domain));
	xml_text(pp, "p", d->p, sizeof(d->p));
	xml_text(pp, "sp", d->sp, sizeof(d->sp));
	xml_text(pp, "pct", d->pct, sizeof(d->pct));
	xml_text(pp, "adkim", d->adkim, sizeof(d->adkim));
	xml_text(pp, "aspf", d->aspf, sizeof(d->aspf));
	for (c = root->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || strcmp((const char *) c->name, "record") != 0)
			continue;
		if (d->nrec >= FB_MAX_DMARC_RECORDS)
			break;
		if (d->nrec == cap) {
			cap = cap ? cap * 2 : 16;
			d->rec = sl_realloc(d->rec, cap * sizeof(*d->rec));
		}
		memset(&d->rec[d->nrec], 0, sizeof(d->rec[0]));
		dmarc_record(c, &d->rec[d->nrec++]);
	}
}

/* xml_silent - keep libxml2 from printing to stderr */
static void
xml_silent(void *ctx, const char *msg, ...)
{
	(void) ctx;
	(void) msg;
}

/* xml_find - the first element named name, depth first */
static xmlNode *
xml_find(xmlNode *n, const char *name)
{
	xmlNode *c, *f;

	for (c = n; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *) c->name, name) == 0)
			return c;
		if ((f = xml_find(c->children, name)) != NULL)
			return f;
	}
	return NULL;
}

/* xml_read - parse leniently: no network, no entities, recover */
static xmlDoc *
xml_read(const unsigned char *buf, size_t len)
{
	if (len > (size_t) 0x7fffffff)
		return NULL;
	return xmlReadMemory((const char *) buf, (int) len, "report.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOERROR
			     | XML_PARSE_NOWARNING);
}

/* xml_feedback - the <feedback> element: the root, nested, or cut out */
static xmlNode *
xml_feedback(const unsigned char *buf, size_t len, xmlDoc **doc)
{
	xmlNode *root = *doc ? xmlDocGetRootElement(*doc) : NULL;
	const unsigned char *start;
	xmlNode *f;

	if (root != NULL && (f = xml_find(root, "feedback")) != NULL)
		return f;
	/* a report appended after another document: read it on its own */
	start = memmem(buf, len, "<feedback", 9);
	if (start == NULL || start == buf)
		return NULL;
	if (*doc)
		xmlFreeDoc(*doc);
	*doc = xml_read(start, len - (start - buf));
	root = *doc ? xmlDocGetRootElement(*doc) : NULL;
	return root ? xml_find(root, "feedback") : NULL;
}

/* dmarc_xml - parse one XML report */
static int
dmarc_xml(const unsigned char *buf, size_t len, fb_result *res)
{
	size_t	clen;
	unsigned char *clean = utf8_clean(buf, len, &clen);
	xmlDoc *doc;
	xmlNode *root;

	xmlSetGenericErrorFunc(NULL, xml_silent);
	doc = xml_read(clean, clen);
	root = xml_feedback(clean, clen, &doc);
	free(clean);
	if (root == NULL) {
		snprintf(res->why, sizeof(res->why), "dmarc: %s",
			 doc && xmlDocGetRootElement(doc) ? "no <feedback> element in the XML"
			 : "no XML element found");
		if (doc)
			xmlFreeDoc(doc);
		return -1;
	}
	res->kind = FB_KIND_DMARC;
	res->dmarc = sl_calloc(1, sizeof(*res->dmarc));
	dmarc_doc(root, res->dmarc);
	xmlFreeDoc(doc);
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
	if (len > FB_MAX_INPUT) {
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

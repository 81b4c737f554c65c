/*
 * NAME
 *	policyd_proto 3 - the Postfix policy delegation protocol, parsed
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	int pd_proto_parse(const char *data, size_t len, pd_request *req,
 *			   size_t *used, const char **err)
 *	const char *pd_request_get(const pd_request *req, const char *name)
 *	int pd_proto_answer(char *out, size_t outlen, const char *action)
 * DESCRIPTION
 *	A request (Postfix SMTPD_POLICY_README) is a list of "name=value"
 *	lines ended by an empty line; the answer is "action=..." and an
 *	empty line. pd_proto_parse() is a pure function over a buffer: it
 *	looks at the bytes a connection has received so far and says
 *	PD_PARSE_MORE (no complete request yet, nothing wrong so far),
 *	PD_PARSE_OK (one request in *req; *used bytes consumed) or
 *	PD_PARSE_ERROR (*err says why). It never reads past len.
 *
 *	Strict and bounded: a line longer than PD_LINE_MAX, more than
 *	PD_ATTR_MAX attributes, a request over PD_REQUEST_MAX bytes, a NUL
 *	byte, a line without "=", an attribute name outside [a-z0-9_], a
 *	duplicate name or an empty request are errors. Oversize input is
 *	detected as soon as the cap is crossed, not when the line ends, so a
 *	1 MB line costs at most PD_REQUEST_MAX bytes of scanning per call.
 *	A carriage return before the newline is tolerated (telnet tests).
 * OWNERSHIP
 *	The request keeps its own copy of the bytes; names and values point
 *	into it and live as long as the pd_request.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "policyd.h"

/* proto_name_ok - an attribute name: lowercase letters, digits, '_' */
static int
proto_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > PD_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

/*
 * proto_find_end - offset just past the empty line ending a request, or 0.
 * Line by line with memchr (a byte loop was a tenth of a request's
 * instructions); the first offending byte decides the error, as a byte
 * loop would: a NUL, then the request cap, then the line cap.
 */
static size_t
proto_find_end(const char *data, size_t len, const char **err)
{
	size_t	start = 0;			/* start of the current line */

	while (start < len) {
		const char *nl = memchr(data + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - data) : len; /* the newline, or len */
		const char *z = memchr(data + start, '\0', end - start);
		size_t jz = z ? (size_t)(z - data) : (size_t)-1;
		size_t js = start > PD_REQUEST_MAX ? start : PD_REQUEST_MAX;
		size_t jl = start + PD_LINE_MAX;

		if (js >= len || js > end)
			js = (size_t)-1; /* the request cap is not crossed in this line */
		if (jl >= end)
			jl = (size_t)-1; /* nor the line cap */
		if (jz != (size_t)-1 && jz <= js && jz <= jl) {
			*err = "NUL byte in request";
			return (size_t) -1;
		}
		if (js != (size_t)-1 && js <= jl) {
			*err = "request too large";
			return (size_t) -1;
		}
		if (jl != (size_t)-1) {
			*err = "line too long";
			return (size_t)-1;
		}
		if (nl == NULL)
			break;
		if (end == start || (end == start + 1 && data[start] == '\r'))
			return end + 1;
		start = end + 1;
	}
	if (len - start > PD_LINE_MAX) {
		*err = "line too long";
		return (size_t) -1;
	}
	if (len > PD_REQUEST_MAX) {
		*err = "request too large";
		return (size_t) -1;
	}
	return 0;
}

/* proto_add - record one "name=value" line (NUL-terminated in req->buf) */
static int
proto_add(pd_request *req, char *line, const char **err)
{
	char   *eq = strchr(line, '=');

	if (eq == NULL) {
		*err = "line without '='";
		return -1;
	}
	if (!proto_name_ok(line, (size_t) (eq - line))) {
		*err = "bad attribute name";
		return -1;
	}
	*eq = '\0';
	if (pd_request_get(req, line) != NULL) {
		*err = "duplicate attribute";
		return -1;
	}
	if (req->nattr >= PD_ATTR_MAX) {
		*err = "too many attributes";
		return -1;
	}
	req->attr[req->nattr].name = line;
	req->attr[req->nattr].value = eq + 1;
	req->nattr++;
	return 0;
}

/* pd_proto_parse - take one complete request off the front of a buffer */
int
pd_proto_parse(const char *data, size_t len, pd_request *req, size_t *used,
	       const char **err)
{
	size_t	end = proto_find_end(data, len, err);
	char   *p, *nl;

	*used = 0;
	req->nattr = 0;
	if (end == (size_t) -1)
		return PD_PARSE_ERROR;
	if (end == 0)
		return PD_PARSE_MORE;
	*used = end;
	memcpy(req->buf, data, end);
	req->buf[end] = '\0';
	for (p = req->buf; *p != '\n' && !(p[0] == '\r' && p[1] == '\n'); p = nl + 1) {
		nl = strchr(p, '\n');
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if (strchr(p, '\r') != NULL) {
			*err = "stray carriage return";
			return PD_PARSE_ERROR;
		}
		if (proto_add(req, p, err) < 0)
			return PD_PARSE_ERROR;
	}
	if (req->nattr == 0) {
		*err = "empty request";
		return PD_PARSE_ERROR;
	}
	return PD_PARSE_OK;
}

/* pd_request_get - the value of an attribute, NULL when absent */
const char *
pd_request_get(const pd_request *req, const char *name)
{
	for (int i = 0; i < req->nattr; i++)
		if (strcmp(req->attr[i].name, name) == 0)
			return req->attr[i].value;
	return NULL;
}

/* pd_request_str - the value of an attribute, "" when absent */
const char *
pd_request_str(const pd_request *req, const char *name)
{
	const char *v = pd_request_get(req, name);

	return v ? v : "";
}

/* pd_proto_answer - format "action=...\n\n"; -1 when it does not fit */
int
pd_proto_answer(char *out, size_t outlen, const char *action)
{
	int	n;

	if (strpbrk(action, "\r\n") != NULL)
		return -1;
	n = snprintf(out, outlen, "action=%s\n\n", action);
	return n < 0 || (size_t) n >= outlen ? -1 : n;
}

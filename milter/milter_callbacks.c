/*
 * NAME
 *	milter_callbacks 3 - the libmilter callbacks of sluice-milter
 * SYNOPSIS
 *	ml_milter_setup(conf, err, len)	register, bind the socket (as root)
 *	ml_milter_run()			smfi_main(): until SIGTERM
 * DESCRIPTION
 *	The only file that includes libmilter. Callbacks stay thin: they
 *	collect what the MTA says into the connection's context and hand it
 *	to the other files.
 *	connect		client address (internal network or not)
 *	envfrom		pins the current config snapshot for this message;
 *			an unauthenticated client outside the internal
 *			networks is inbound: accepted untouched
 *	envrcpt		keeps every recipient as given (the first also
 *			normalized, for the unsubscribe URL)
 *	header		keeps every header field
 *	eoh		decides (milter_category.c), plans the header edits
 *			(milter_headers.c), starts the DKIM signers over the
 *			final header set (milter_dkim.c)
 *	body		feeds the signers
 *	eom		removes suppressed recipients (smfi_delrcpt) or
 *			refuses the message when all are (milter_suppress.c);
 *			applies envelope sender, header edits, signatures;
 *			logs one line; records the message (milter_redis.c)
 *	abort, close	release the message, the connection
 *	A reload never changes the snapshot under a message in flight: it is
 *	pinned in envfrom and released at eom or abort.
 * ERRORS
 *	Internal trouble (Redis down for a SASL lookup, a DKIM failure) gets
 *	on_internal_error: 451 4.3.0, or the message leaves unsigned with
 *	only the internal headers removed; with Redis down the SASL binding
 *	is still decided from the config first (milter_category.c), and
 *	what it cannot allow gets 451 4.7.1. Redis trouble during the
 *	suppression check gets suppression_fail: accept (the default, fail
 *	open like policyd) or 451 4.3.0. Nothing here exits.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "milter.h"

#define HEADER_BYTES_MAX	(4 * 1024 * 1024)
#define HEADERS_MAX		10000
#define SIG_VALUE_MAX		4096

typedef struct msg_ctx {
	ml_conf *conf;			/* pinned snapshot, NULL between messages */
	char	qid[64];
	char	sasl[256];
	char	env_from[SL_ADDR_MAX + 1];	/* "" for the null sender */
	char	rcpt[SL_ADDR_MAX + 1];	/* the first recipient */
	char  **rcpts;			/* every recipient, as the MTA gave it */
	size_t	nrcpt;
	size_t	rcap;
	size_t	nsupp;			/* recipients removed as suppressed */
	ml_header *headers;
	size_t	nheaders;
	size_t	hcap;
	size_t	hdrbytes;
	int	too_big;
	int	degraded;		/* accept unsigned after internal trouble */
	ml_decision d;
	ml_plan plan;
	char	new_sender[SL_ADDR_MAX + 1];
	char	msgid[SL_TOKEN_MSGID_LEN + 1];
	ml_signer *signers[ML_SIG_MAX];
	size_t	nsigners;
} msg_ctx;

typedef struct conn_ctx {
	char	addr[INET6_ADDRSTRLEN];
	msg_ctx	msg;
} conn_ctx;

/* macro - a Postfix macro value, or "" */
static const char *
macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *) name);

	return v ? v : "";
}

/* msg_reset - free the message state and unpin its snapshot */
static void
msg_reset(msg_ctx *m)
{
	for (size_t i = 0; i < m->nheaders; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
	for (size_t i = 0; i < m->nrcpt && m->rcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	for (size_t i = 0; i < m->nsigners; i++)
		ml_signer_free(m->signers[i]);
	ml_plan_free(&m->plan);
	ml_conf_unref(m->conf);
	memset(m, 0, sizeof(*m));
	sl_log_context(NULL);
}

/* drop_signers - stop signing this message */
static void
drop_signers(msg_ctx *m)
{
	for (size_t i = 0; i < m->nsigners; i++)
		ml_signer_free(m->signers[i]);
	m->nsigners = 0;
}

/* set_reply - an SMTP reply from "x.y.z text" and a reply code */
static void
set_reply(SMFICTX *ctx, const char *rcode, const char *text)
{
	char	xcode[16] = "", msg[400];
	size_t	n = strcspn(text, " ");

	if (n < sizeof(xcode) && text[0] == rcode[0] && text[1] == '.') {
		memcpy(xcode, text, n);
		xcode[n] = '\0';
		text += n + (text[n] == ' ');
	}
	snprintf(msg, sizeof(msg), "%s", text);
	for (char *p = msg; *p; p++)
		if (*p == '%' || *p == '\r' || *p == '\n')
			*p = ' ';
	if (smfi_setreply(ctx, (char *) rcode, xcode[0] ? xcode : NULL, msg) != MI_SUCCESS)
		sl_warn("cannot set the SMTP reply \"%s %s\"", rcode, msg);
}

/* internal_trouble - on_internal_error: tempfail now, or go on unsigned */
static sfsistat
internal_trouble(SMFICTX *ctx, msg_ctx *m, const char *why)
{
	if (m->conf->on_internal_error == ML_ACCEPT) {
		sl_warn("%s: message accepted unsigned (on_internal_error = accept)", why);
		drop_signers(m);
		m->degraded = 1;
		return SMFIS_CONTINUE;
	}
	sl_warn("%s: temporary failure (on_internal_error = tempfail)", why);
	set_reply(ctx, "451", "4.3.0 temporary local problem, try again later");
	msg_reset(m);
	return SMFIS_TEMPFAIL;
}

/* cb_connect - remember the client address */
static sfsistat
cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	conn_ctx *c = sl_calloc(1, sizeof(*c));

	(void) host;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *) sa)->sin_addr, c->addr, sizeof(c->addr));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *) sa)->sin6_addr, c->addr, sizeof(c->addr));
	smfi_setpriv(ctx, c);
	return SMFIS_CONTINUE;
}

/* cb_envfrom - start a message: pin the config, outbound or inbound */
static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	conn_ctx *c = smfi_getpriv(ctx);
	msg_ctx *m = &c->msg;

	msg_reset(m);
	if ((m->conf = ml_conf_current()) == NULL)
		return SMFIS_TEMPFAIL;
	snprintf(m->qid, sizeof(m->qid), "%s", macro(ctx, "i"));
	snprintf(m->sasl, sizeof(m->sasl), "%s", macro(ctx, "{auth_authen}"));
	sl_log_context(m->qid);
	if (!m->sasl[0] && !sl_netlist_match(m->conf->internal, c->addr)) {
		msg_reset(m);
		return SMFIS_ACCEPT;		/* inbound: another issue's business */
	}
	if (argv[0] == NULL || strcmp(argv[0], "<>") == 0
	    || sl_addr_normalize(argv[0], m->env_from, sizeof(m->env_from), 0) < 0)
		m->env_from[0] = '\0';
	return SMFIS_CONTINUE;
}

/* cb_envrcpt - keep every recipient; the first also for the unsubscribe URL */
static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	msg_ctx *m = &((conn_ctx *) smfi_getpriv(ctx))->msg;

	if (m->nrcpt == 0 && argv[0])
		(void) sl_addr_normalize(argv[0], m->rcpt, sizeof(m->rcpt), 0);
	if (m->nrcpt == m->rcap) {
		m->rcap = m->rcap ? 2 * m->rcap : 8;
		m->rcpts = sl_realloc(m->rcpts, m->rcap * sizeof(*m->rcpts));
	}
	m->rcpts[m->nrcpt++] = sl_strdup(argv[0] ? argv[0] : "");
	return SMFIS_CONTINUE;
}

/* cb_header - keep one header field */
static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	msg_ctx *m = &((conn_ctx *) smfi_getpriv(ctx))->msg;

	m->hdrbytes += strlen(name) + strlen(value) + 4;
	if (m->too_big || m->hdrbytes > HEADER_BYTES_MAX || m->nheaders >= HEADERS_MAX) {
		m->too_big = 1;
		return SMFIS_CONTINUE;
	}
	if (m->nheaders == m->hcap) {
		m->hcap = m->hcap ? 2 * m->hcap : 32;
		m->headers = sl_realloc(m->headers, m->hcap * sizeof(*m->headers));
	}
	m->headers[m->nheaders].name = sl_strdup(name);
	m->headers[m->nheaders++].value = sl_strdup(value);
	return SMFIS_CONTINUE;
}

/* reject - a permanent rejection with the decision's text */
static sfsistat
reject(SMFICTX *ctx, msg_ctx *m, const char *text)
{
	sl_info("rejected: sasl=%s from=<%s>: %s", m->sasl, m->env_from, text);
	set_reply(ctx, "550", text);
	msg_reset(m);
	return SMFIS_REJECT;
}

/* defer - a temporary refusal with the decision's text */
static sfsistat
defer(SMFICTX *ctx, msg_ctx *m, const char *text)
{
	sl_warn("deferred: sasl=%s from=<%s>: %s", m->sasl, m->env_from, text);
	set_reply(ctx, "451", text);
	msg_reset(m);
	return SMFIS_TEMPFAIL;
}

/* feed_headers - the final header set, then end of header */
static int
feed_headers(ml_signer *s, const ml_plan *plan)
{
	for (size_t h = 0; h < plan->nfinal; h++)
		if (ml_signer_header(s, plan->final[h].name, plan->final[h].value) < 0)
			return -1;
	return ml_signer_eoh(s);
}

/* start_signers - one signer per signing domain and key, fed the headers */
static int
start_signers(msg_ctx *m, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->d.nsign; i++) {
		const ml_domain *kd = ml_conf_key_domain(m->conf, m->d.sign_domains[i]);

		for (size_t k = 0; kd && k < kd->nkeys && m->nsigners < ML_SIG_MAX; k++) {
			ml_signer *s = ml_signer_new(&kd->keys[k], m->d.sign_domains[i], m->qid, err, errlen);

			if (s == NULL)
				return -1;
			m->signers[m->nsigners++] = s;
		}
	}
	for (size_t i = 0; i < m->nsigners; i++)
		if (feed_headers(m->signers[i], &m->plan) < 0) {
			snprintf(err, errlen, "%s", ml_signer_error(m->signers[i]));
			return -1;
		}
	return 0;
}

/* lookup_sasl - the SASL user's Redis entry; -1 on Redis trouble */
static int
lookup_sasl(msg_ctx *m, ml_sasl_entry *e, char *err, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	if (!m->sasl[0] || !m->conf->use_redis)
		return 0;
	return ml_sasl_lookup(m->conf, m->sasl, e, err, errlen);
}

/* plan_message - header edits and the new envelope sender */
static int
plan_message(msg_ctx *m, int full, char *err, size_t errlen)
{
	ml_hdr_input hi = {.headers = m->headers, .nheaders = m->nheaders, .nrcpt = m->nrcpt,
			   .rcpt = m->rcpt[0] ? m->rcpt : NULL, .msgid = m->msgid,
			   .day = sl_token_today(), .full = full};

	sl_token_new_msgid(m->msgid);
	ml_plan_free(&m->plan);
	if (full && m->d.category && m->env_from[0]
	    && ml_rewrite_sender(m->conf, &m->d, m->msgid, hi.day, m->new_sender,
				 sizeof(m->new_sender)) < 0) {
		snprintf(err, errlen, "cannot build the bounce address for %s", m->d.send_domain);
		return -1;
	}
	if (ml_headers_plan(m->conf, full ? &m->d : NULL, &hi, &m->plan) < 0) {
		snprintf(err, errlen, "cannot build the category headers");
		return -1;
	}
	return 0;
}

/* cb_eoh - decide, plan the edits, start signing */
static sfsistat
cb_eoh(SMFICTX *ctx)
{
	msg_ctx *m = &((conn_ctx *) smfi_getpriv(ctx))->msg;
	conn_ctx *c = smfi_getpriv(ctx);
	char	err[512], text[128];
	ml_sasl_entry e;
	ml_from f;
	ml_input in = {.sasl_user = m->sasl, .client_addr = c->addr, .env_from = m->env_from,
		       .from_addr = f.addr, .sasl = &e};
	size_t	nfrom = ml_header_count(m->headers, m->nheaders, "From");
	int	frc;

	if (!m->qid[0]) {
		/* Postfix creates the queue file at the first valid RCPT by default */
		snprintf(m->qid, sizeof(m->qid), "%s", macro(ctx, "i"));
		sl_log_context(m->qid);
	}
	if (m->too_big)
		return reject(ctx, m, "5.3.4 message header too large");
	if (nfrom != 1) {
		snprintf(text, sizeof(text), "5.6.0 message has %zu From header fields, "
			 "RFC 5322 wants exactly one", nfrom);
		return reject(ctx, m, text);
	}
	frc = ml_from_parse(ml_header_get(m->headers, m->nheaders, "From"), &f);
	if (frc == ML_FROM_NONE)
		return reject(ctx, m, "5.6.0 the From header field must hold exactly one address");
	in.from_ambiguous = frc == ML_FROM_AMBIGUOUS ? f.why : NULL;
	in.header_category = ml_header_get(m->headers, m->nheaders, m->conf->category_header);
	if (lookup_sasl(m, &e, err, sizeof(err)) < 0) {
		sl_warn("%s: SASL binding decided from the config alone", err);
		in.sasl = NULL;
		in.sasl_down = 1;
	}
	ml_decide(m->conf, &in, &m->d);
	if (m->d.verdict == ML_REJECT)
		return reject(ctx, m, m->d.reply);
	if (m->d.verdict == ML_DEFER)
		return defer(ctx, m, m->d.reply);
	if (in.sasl_down) {
		if (internal_trouble(ctx, m, err) == SMFIS_TEMPFAIL)
			return SMFIS_TEMPFAIL;
		(void) plan_message(m, 0, err, sizeof(err));
		return SMFIS_CONTINUE;
	}
	if (m->d.verdict == ML_UNSIGNED)
		sl_info("not signed: sasl=%s from=<%s>: %s", m->sasl, f.addr, m->d.reply);
	if (plan_message(m, m->d.verdict == ML_OK, err, sizeof(err)) < 0
	    || (m->d.verdict == ML_OK && start_signers(m, err, sizeof(err)) < 0)) {
		if (internal_trouble(ctx, m, err) == SMFIS_TEMPFAIL)
			return SMFIS_TEMPFAIL;
		m->new_sender[0] = '\0';
		(void) plan_message(m, 0, err, sizeof(err));
	}
	return SMFIS_CONTINUE;
}

/* cb_body - feed one body chunk to every signer */
static sfsistat
cb_body(SMFICTX *ctx, unsigned char *buf, size_t len)
{
	msg_ctx *m = &((conn_ctx *) smfi_getpriv(ctx))->msg;

	for (size_t i = 0; i < m->nsigners; i++)
		if (ml_signer_body(m->signers[i], buf, len) < 0) {
			char	err[300];

			snprintf(err, sizeof(err), "%s", ml_signer_error(m->signers[i]));
			if (internal_trouble(ctx, m, err) == SMFIS_TEMPFAIL)
				return SMFIS_TEMPFAIL;
			m->new_sender[0] = '\0';
			(void) plan_message(m, 0, err, sizeof(err));
			break;
		}
	return SMFIS_CONTINUE;
}

/* apply_edits - envelope sender and header edits, in plan order */
static int
apply_edits(SMFICTX *ctx, msg_ctx *m)
{
	char	from[SL_ADDR_MAX + 3];

	if (m->new_sender[0]) {
		snprintf(from, sizeof(from), "<%s>", m->new_sender);
		if (smfi_chgfrom(ctx, from, NULL) != MI_SUCCESS)
			return -1;
	}
	for (size_t i = 0; i < m->plan.nedits; i++) {
		ml_edit *e = &m->plan.edits[i];
		int	rc;

		if (e->op == ML_HDR_ADD)
			rc = smfi_addheader(ctx, e->name, e->value);
		else
			rc = smfi_chgheader(ctx, e->name, e->index, e->value);
		if (rc != MI_SUCCESS)
			return -1;
	}
	return 0;
}

/* finish_signers - every signature value, or -1 with err */
static int
finish_signers(msg_ctx *m, char sigs[][SIG_VALUE_MAX], char *err, size_t errlen)
{
	for (size_t i = 0; i < m->nsigners; i++)
		if (ml_signer_finish(m->signers[i], sigs[i], SIG_VALUE_MAX) < 0) {
			snprintf(err, errlen, "%s", ml_signer_error(m->signers[i]));
			return -1;
		}
	return 0;
}

/* log_message - the one line per outbound message */
static void
log_message(msg_ctx *m)
{
	char	sigs[1024] = "";
	size_t	o = 0;

	for (size_t i = 0; i < m->nsigners && o < sizeof(sigs); i++)
		o += (size_t) snprintf(sigs + o, sizeof(sigs) - o, "%s(d=%s s=%s a=%s)", i ? " " : "",
				       ml_signer_domain(m->signers[i]), ml_signer_selector(m->signers[i]),
				       ml_signer_alg(m->signers[i]));
	sl_info("outbound: sasl=%s category=%s tenant=%s from=<%s> sender=<%s> rcpts=%zu "
		"signatures=%zu %s%s", m->sasl[0] ? m->sasl : "-",
		m->d.category ? m->d.category->name : "-", m->d.tenant_name[0] ? m->d.tenant_name : "-",
		m->env_from, m->new_sender[0] ? m->new_sender : m->env_from, m->nrcpt - m->nsupp,
		m->nsigners, sigs, m->degraded ? " (unsigned after internal trouble)" : "");
}

/* delete_rcpts - remove each suppressed recipient once from the envelope */
static int
delete_rcpts(SMFICTX *ctx, msg_ctx *m, const ml_supp *s)
{
	for (size_t i = 0; i < s->nhits; i++) {
		const char *a = m->rcpts[s->hits[i].rcpt];
		int	dup = 0;

		for (size_t k = 0; k < i && !dup; k++)
			dup = strcmp(a, m->rcpts[s->hits[k].rcpt]) == 0;
		if (!dup && smfi_delrcpt(ctx, (char *) a) != MI_SUCCESS)
			return -1;
	}
	return 0;
}

/*
 * suppress - drop the recipients suppressed in the message's scopes; when
 * that is all of them, refuse the message. Returns SMFIS_CONTINUE to go
 * on (m->nsupp recipients removed), else the final answer (m reset).
 */
static sfsistat
suppress(SMFICTX *ctx, msg_ctx *m)
{
	ml_supp s;
	char	err[512], text[400];
	sfsistat rc = SMFIS_CONTINUE;

	if (ml_supp_check(m->conf, &m->d, (const char *const *) m->rcpts, m->nrcpt, &s,
			  err, sizeof(err)) < 0) {
		ml_supp_free(&s);
		if (m->conf->supp_fail == ML_ACCEPT) {
			sl_warn("%s: message accepted (suppression_fail = accept)", err);
			return SMFIS_CONTINUE;
		}
		sl_warn("%s: temporary failure (suppression_fail = tempfail)", err);
		set_reply(ctx, "451", "4.3.0 temporary local problem, try again later");
		msg_reset(m);
		return SMFIS_TEMPFAIL;
	}
	if (s.nhits == m->nrcpt && s.nhits > 0) {
		ml_supp_log(&s, 1);
		ml_supp_record(m->conf, &m->d, &s, m->qid, m->msgid);
		ml_supp_reply(&s, text, sizeof(text));
		rc = reject(ctx, m, text);
	} else if (s.nhits > 0 && delete_rcpts(ctx, m, &s) < 0) {
		sl_warn("the MTA refused to remove a suppressed recipient: temporary failure");
		set_reply(ctx, "451", "4.3.0 temporary local problem, try again later");
		msg_reset(m);
		rc = SMFIS_TEMPFAIL;
	} else if (s.nhits > 0) {
		ml_supp_log(&s, 0);
		ml_supp_record(m->conf, &m->d, &s, m->qid, m->msgid);
		m->nsupp = s.nhits;	/* not counted as sent */
	}
	ml_supp_free(&s);
	return rc;
}

/* cb_eom - apply everything and sign */
static sfsistat
cb_eom(SMFICTX *ctx)
{
	msg_ctx *m = &((conn_ctx *) smfi_getpriv(ctx))->msg;
	static __thread char sigs[ML_SIG_MAX][SIG_VALUE_MAX];
	char	err[512];
	sfsistat rc;

	if (m->conf == NULL)
		return SMFIS_CONTINUE;
	if (!m->qid[0])
		snprintf(m->qid, sizeof(m->qid), "%s", macro(ctx, "i"));
	sl_log_context(m->qid);
	if ((rc = suppress(ctx, m)) != SMFIS_CONTINUE)
		return rc;
	if (finish_signers(m, sigs, err, sizeof(err)) < 0) {
		if (internal_trouble(ctx, m, err) == SMFIS_TEMPFAIL)
			return SMFIS_TEMPFAIL;
		m->new_sender[0] = '\0';
		(void) plan_message(m, 0, err, sizeof(err));
	}
	if (apply_edits(ctx, m) < 0)
		goto fail;
	for (size_t i = m->nsigners; i > 0; i--)
		if (smfi_insheader(ctx, 0, "DKIM-Signature", sigs[i - 1]) != MI_SUCCESS)
			goto fail;
	log_message(m);
	if (!m->degraded && m->d.verdict == ML_OK)
		ml_record_message(m->conf, &m->d, m->qid, m->sasl,
				  m->new_sender[0] ? m->new_sender : m->env_from, m->nrcpt - m->nsupp,
				  m->msgid);
	msg_reset(m);
	return SMFIS_CONTINUE;
fail:
	/* The MTA refused a modification: the message must not leave half-done. */
	sl_warn("the MTA refused a message modification: temporary failure");
	set_reply(ctx, "451", "4.3.0 temporary local problem, try again later");
	msg_reset(m);
	return SMFIS_TEMPFAIL;
}

/* cb_abort - the message ended early */
static sfsistat
cb_abort(SMFICTX *ctx)
{
	conn_ctx *c = smfi_getpriv(ctx);

	if (c != NULL)
		msg_reset(&c->msg);
	return SMFIS_CONTINUE;
}

/* cb_close - the connection ended */
static sfsistat
cb_close(SMFICTX *ctx)
{
	conn_ctx *c = smfi_getpriv(ctx);

	if (c != NULL) {
		msg_reset(&c->msg);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc milter_desc = {
	.xxfi_name = "sluice-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGFROM | SMFIF_DELRCPT,
	.xxfi_connect = cb_connect,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
};

/* socket_path - the file of a unix: or local: socket, or NULL */
static const char *
socket_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return NULL;
}

/*
 * socket_owner - give a unix socket to the service user and its group, so
 * that Postfix reaches it with socket_mode 0660 once user postfix is in
 * that group
 */
static int
socket_owner(const char *path, const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user == NULL || *user == '\0' || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user \"%s\" does not exist", user);
		return -1;
	}
	if (chown(path, pw->pw_uid, pw->pw_gid) < 0) {
		snprintf(err, errlen, "%s: chown: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ml_milter_setup - register and bind; run as root before dropping privileges */
int
ml_milter_setup(const ml_conf *c, char *err, size_t errlen)
{
	const char *path = socket_path(c->socket);

	if (smfi_register(milter_desc) != MI_SUCCESS) {
		snprintf(err, errlen, "smfi_register failed");
		return -1;
	}
	if (smfi_setconn((char *) c->socket) != MI_SUCCESS || smfi_settimeout(c->timeout) != MI_SUCCESS) {
		snprintf(err, errlen, "%s: cannot use this milter socket", c->socket);
		return -1;
	}
	if (smfi_opensocket(1) != MI_SUCCESS) {
		snprintf(err, errlen, "%s: cannot open the milter socket", c->socket);
		return -1;
	}
	if (path && chmod(path, (mode_t) c->socket_mode) < 0) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		return -1;
	}
	return path ? socket_owner(path, c->user, err, errlen) : 0;
}

/* ml_milter_run - serve until libmilter is told to stop */
int
ml_milter_run(void)
{
	return smfi_main() == MI_SUCCESS ? 0 : -1;
}

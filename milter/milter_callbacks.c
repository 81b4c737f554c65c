/*
 * NAME
 *	milter_callbacks 3 - the libmilter callbacks of sluice-milter
 * SYNOPSIS
 *	ml_milter_setup(conf, err, len)	register, bind the socket (as root)
 *	ml_milter_run()			smfi_main(): until SIGTERM
 *	ml_milter_drain(ms)		release the sessions still open
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
 *	eom		finishes the signatures; in one Redis round trip
 *			(milter_redis.c) checks suppression and records the
 *			message; removes suppressed recipients (smfi_delrcpt)
 *			or refuses the message when all are
 *			(milter_suppress.c); applies envelope sender, header
 *			edits, signatures; logs one line
 *	abort, close	release the message, the connection
 *	When a message ends, sluice-policyd's limit charges of it are settled
 *	(milter_charge.c): kept for the recipients that leave, refunded for
 *	the others and for a message refused, tempfailed or abandoned.
 *	A reload never changes the snapshot under a message in flight: it is
 *	pinned in envfrom and released at eom or abort.
 *	At exit, libmilter leaves the sessions still open blocked in their
 *	read: ml_milter_drain() releases each one as close would (refunding
 *	the charges of a message in flight, unpinning its snapshot), at once
 *	when it is between two callbacks, else when its callback returns;
 *	from then on every callback answers without touching its session
 *	(a tempfail where a reply is due), so Postfix applies
 *	milter_default_action to what those sessions still send.
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
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "charge.h"
#include "log.h"
#include "milter.h"
#include "milter_verify.h"
#include "privs.h"

#define HEADER_BYTES_MAX	(4 * 1024 * 1024)
#define HEADERS_MAX		10000

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
	ml_dkim *dkim;			/* NULL: not signed */
	ml_verify *verify;		/* inbound: SPF, DKIM, DMARC; else NULL */
	char	charge[SL_CHARGE_KEY_MAX];	/* policyd's charge record, "" once claimed */
	ml_claim claim;			/* what the end of message script claimed */
} msg_ctx;

typedef struct conn_ctx {
	struct conn_ctx *prev, *next;	/* the open sessions (conns) */
	int	busy;			/* inside a callback (conns_lock) */
	char	addr[INET6_ADDRSTRLEN];
	char	helo[256];		/* the client's HELO name, for inbound SPF */
	char	tuple[4][72];		/* client addr, port, server addr, port (macros) */
	msg_ctx	msg;
} conn_ctx;

/* The open sessions, for ml_milter_drain(); stopping: drained, hands off. */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static conn_ctx *conns;
static int stopping;

/* conn_link - a new session joins the list */
static void
conn_link(conn_ctx *c)
{
	pthread_mutex_lock(&conns_lock);
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	pthread_mutex_unlock(&conns_lock);
}

/* conn_unlink - a session leaves the list (the caller holds conns_lock) */
static void
conn_unlink(conn_ctx *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* macro - a Postfix macro value, or "" */
static const char *
macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *) name);

	return v ? v : "";
}

/*
 * settle - end the message's limit charges: keep those of the recipients
 * that leave (accepted), or refund them all (milter_charge.c)
 */
static void
settle(msg_ctx *m, int accepted)
{
	if (m->claim.rep)
		ml_charge_finish(m->conf, &m->claim, accepted);
	else if (m->charge[0] && m->conf)
		ml_charge_settle(m->conf, m->charge, accepted, m->rcpts, m->nrcpt);
	m->charge[0] = '\0';
}

/* msg_reset - refund what is unsettled, free the message state, unpin its snapshot */
static void
msg_reset(msg_ctx *m)
{
	settle(m, 0);
	for (size_t i = 0; i < m->nheaders; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
	for (size_t i = 0; i < m->nrcpt && m->rcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	ml_dkim_free(m->dkim);
	ml_plan_free(&m->plan);
	ml_verify_free(m->verify);
	ml_conf_unref(m->conf);
	memset(m, 0, sizeof(*m));
	sl_log_context(NULL);
}

/* drop_signers - stop signing this message */
static void
drop_signers(msg_ctx *m)
{
	ml_dkim_free(m->dkim);
	m->dkim = NULL;
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

/* cb_connect - remember the client address; never answers */
static sfsistat
cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	conn_ctx *c = sl_calloc(1, sizeof(*c));

	(void) host;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *) sa)->sin_addr, c->addr, sizeof(c->addr));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *) sa)->sin6_addr, c->addr, sizeof(c->addr));
	snprintf(c->tuple[0], sizeof(c->tuple[0]), "%s",
		 *macro(ctx, "{client_addr}") ? macro(ctx, "{client_addr}") : c->addr);
	snprintf(c->tuple[1], sizeof(c->tuple[1]), "%s", macro(ctx, "{client_port}"));
	snprintf(c->tuple[2], sizeof(c->tuple[2]), "%s", macro(ctx, "{daemon_addr}"));
	snprintf(c->tuple[3], sizeof(c->tuple[3]), "%s", macro(ctx, "{daemon_port}"));
	smfi_setpriv(ctx, c);
	conn_link(c);
	return SMFIS_NOREPLY;
}

/* charge_key - name the connection's charge record for this message ("" if unnamed) */
static void
charge_key(conn_ctx *c, msg_ctx *m)
{
	if (sl_charge_key(m->conf->redis.prefix, c->tuple[0], c->tuple[1], c->tuple[2], c->tuple[3],
			  m->charge, sizeof(m->charge)) < 0)
		m->charge[0] = '\0';
}

/* cb_helo - remember the HELO name (inbound SPF checks it) */
static sfsistat
cb_helo(SMFICTX *ctx, char *helo)
{
	conn_ctx *c = smfi_getpriv(ctx);

	if (c)
		snprintf(c->helo, sizeof(c->helo), "%s", helo ? helo : "");
	return SMFIS_NOREPLY;		/* negotiated: HELO only records the name */
}

/* inbound_start - verify this message (milter_verify.c), or accept it untouched */
static sfsistat
inbound_start(conn_ctx *c, msg_ctx *m, char **argv)
{
	if (!m->conf->vopts->verify) {
		msg_reset(m);
		return SMFIS_ACCEPT;
	}
	if (argv[0] && strcmp(argv[0], "<>") != 0
	    && sl_addr_normalize(argv[0], m->env_from, sizeof(m->env_from), 0) < 0)
		m->env_from[0] = '\0';
	m->verify = ml_verify_new(m->conf->vdns, m->conf->vopts, m->qid, c->addr, c->helo, m->env_from);
	charge_key(c, m);
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
	if (!m->sasl[0] && !sl_netlist_match(m->conf->internal, c->addr)
	    && ml_ip_tenant(m->conf, NULL, c->addr, c->tuple[3]) == NULL)
		return inbound_start(c, m, argv);
	if (argv[0] == NULL || strcmp(argv[0], "<>") == 0
	    || sl_addr_normalize(argv[0], m->env_from, sizeof(m->env_from), 0) < 0)
		m->env_from[0] = '\0';
	charge_key(c, m);
	return SMFIS_CONTINUE;
}

/* cb_envrcpt - keep every recipient (the first also normalized); never answers */
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
	return SMFIS_NOREPLY;
}

/*
 * inbound_header - one field to the verifier as it was on the wire: libmilter
 * strips the space after the colon (DKIM simple canonicalization wants it
 * back; nearly every writer puts one) and folds with a bare LF
 */
static void
inbound_header(ml_verify *v, const char *name, const char *value)
{
	char   *w = sl_malloc(2 * strlen(value) + 2), *o = w;

	*o++ = ' ';
	for (const char *p = value; *p; p++) {
		if (*p == '\n' && (p == value || p[-1] != '\r'))
			*o++ = '\r';
		*o++ = *p;
	}
	*o = '\0';
	ml_verify_header(v, name, w);
	free(w);
}

/* cb_header - keep one header field; never answers (too big: decided at eoh) */
static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	msg_ctx *m = &((conn_ctx *) smfi_getpriv(ctx))->msg;

	m->hdrbytes += strlen(name) + strlen(value) + 4;
	if (m->too_big || m->hdrbytes > HEADER_BYTES_MAX || m->nheaders >= HEADERS_MAX) {
		m->too_big = 1;
		return SMFIS_NOREPLY;
	}
	if (m->verify)
		inbound_header(m->verify, name, value);
	if (m->nheaders == m->hcap) {
		m->hcap = m->hcap ? 2 * m->hcap : 32;
		m->headers = sl_realloc(m->headers, m->hcap * sizeof(*m->headers));
	}
	m->headers[m->nheaders].name = sl_strdup(name);
	m->headers[m->nheaders++].value = sl_strdup(value);
	return SMFIS_NOREPLY;
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

/*
 * start_signers - one signature per signing domain and key, all sharing
 * one hash of the final header set and of the body
 */
static int
start_signers(msg_ctx *m, char *err, size_t errlen)
{
	m->dkim = ml_dkim_new();
	for (size_t i = 0; i < m->d.nsign; i++) {
		const ml_domain *kd = ml_conf_key_domain(m->conf, m->d.sign_domains[i]);

		for (size_t k = 0; kd && k < kd->nkeys && ml_dkim_count(m->dkim) < ML_SIG_MAX; k++)
			if (ml_dkim_add(m->dkim, &kd->keys[k], m->d.sign_domains[i], err, errlen) < 0)
				return -1;
	}
	if (ml_dkim_count(m->dkim) == 0)
		drop_signers(m);
	else
		ml_dkim_headers(m->dkim, m->plan.final, m->plan.nfinal);
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

/*
 * lookup_live - the live allowed_senders of the message's tenant into in;
 * -1 on Redis trouble
 */
static int
lookup_live(msg_ctx *m, ml_input *in, char *err, size_t errlen)
{
	int	senders;

	if (!m->conf->use_redis)
		return 0;
	if (ml_tenant_senders(m->conf, ml_policy_tenant(m->conf, in), &senders, err, errlen) < 0)
		return -1;
	in->live_set = senders >= 0;
	in->live_senders = senders >= 0 ? (enum sl_senders) senders : SL_SENDERS_UNSET;
	return 0;
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
	ml_input in = {.sasl_user = m->sasl, .client_addr = c->addr, .daemon_port = c->tuple[3],
		       .env_from = m->env_from,
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
	if (m->verify) {
		ml_verify_eoh(m->verify);
		return SMFIS_CONTINUE;
	}
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
	} else if (lookup_live(m, &in, err, sizeof(err)) < 0) {
		sl_warn("%s: allowed senders decided from the config alone", err);
		in.sasl = NULL;
		in.sasl_down = 1;
	}
	ml_relabel_refresh(m->conf);
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

/* cb_body - feed one body chunk to the message's body hash; never answers */
static sfsistat
cb_body(SMFICTX *ctx, unsigned char *buf, size_t len)
{
	msg_ctx *m = &((conn_ctx *) smfi_getpriv(ctx))->msg;

	if (m->verify)
		ml_verify_body(m->verify, buf, len);
	if (m->dkim)
		ml_dkim_body(m->dkim, buf, len);
	return SMFIS_NOREPLY;
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

/* log_message - the one line per outbound message */
static void
log_message(msg_ctx *m)
{
	char	sigs[1024] = "";
	size_t	o = 0;

	for (size_t i = 0; i < ml_dkim_count(m->dkim) && o < sizeof(sigs); i++)
		o += (size_t) snprintf(sigs + o, sizeof(sigs) - o, "%s(d=%s s=%s a=%s)", i ? " " : "",
				       ml_dkim_domain(m->dkim, i), ml_dkim_selector(m->dkim, i),
				       ml_dkim_alg(m->dkim, i));
	sl_info("outbound: sasl=%s category=%s tenant=%s from=<%s> sender=<%s> rcpts=%zu "
		"signatures=%zu %s%s", m->sasl[0] ? m->sasl : "-",
		m->d.category ? m->d.category->name : "-", m->d.tenant_name[0] ? m->d.tenant_name : "-",
		m->env_from, m->new_sender[0] ? m->new_sender : m->env_from, m->nrcpt - m->nsupp,
		ml_dkim_count(m->dkim), sigs, m->degraded ? " (unsigned after internal trouble)" : "");
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
 * redis_trouble - the end of message script failed: tempfail when the
 * suppression check or the recipient record was due and its option says
 * so (suppression_fail, on_internal_error), else go on with a warning.
 * Returns SMFIS_CONTINUE or SMFIS_TEMPFAIL (m reset).
 */
static sfsistat
redis_trouble(SMFICTX *ctx, msg_ctx *m, int unchecked, int lost, const char *err)
{
	int tf_supp = unchecked && m->conf->supp_fail != ML_ACCEPT;
	int tf_rec = lost && m->conf->on_internal_error != ML_ACCEPT;

	if (unchecked)
		sl_warn("%s: suppression not checked: %s (suppression_fail = %s)", err,
		        tf_supp ? "temporary failure" : "message accepted",
		        tf_supp ? "tempfail" : "accept");
	if (lost)
		sl_warn("recipient record not written: %s (on_internal_error = %s)",
		        tf_rec ? "temporary failure"
		               : "message accepted, its bounces will suppress nobody",
		        tf_rec ? "tempfail" : "accept");
	if (!tf_supp && !tf_rec)
		return SMFIS_CONTINUE;
	set_reply(ctx, "451", "4.3.0 temporary local problem, try again later");
	msg_reset(m);
	return SMFIS_TEMPFAIL;
}

/*
 * end_message - the one Redis round trip of a message: drop the recipients
 * suppressed in the message's scopes (when that is all of them, refuse the
 * message), count it and write its recipient record (the keyed hashes
 * sluice-feedback binds bounces to; without it its bounces could suppress
 * nobody), and claim policyd's limit charges (m->claim, settled when the
 * message ends: the suppressed recipients' are refunded, all are when it
 * does not leave after all). Returns SMFIS_CONTINUE to go on (m->nsupp
 * recipients removed), else the final answer (m reset).
 */
static sfsistat
end_message(SMFICTX *ctx, msg_ctx *m)
{
	ml_msginfo mi = {.qid = m->qid,
	                 .sasl = m->sasl,
	                 .msgid = m->msgid,
	                 .sender = m->new_sender[0] ? m->new_sender : m->env_from,
	                 .charge = m->charge,
	                 .record = !m->degraded && m->d.verdict == ML_OK};
	ml_supp s;
	char	err[512], text[400];
	int unchecked, lost;
	sfsistat rc = SMFIS_CONTINUE;

	int failed = ml_end_message(m->conf, &m->d, &mi, (const char *const *)m->rcpts, m->nrcpt,
	                            &s, &m->claim, &unchecked, &lost, err, sizeof(err)) < 0;

	if (m->claim.rep) /* claimed: settled from m->claim when the message ends */
		m->charge[0] = '\0';
	if (failed) {
		ml_supp_free(&s);
		return redis_trouble(ctx, m, unchecked, lost, err);
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
		m->nsupp = s.nhits; /* not counted as sent (the script left them out) */
		for (size_t i = 0; i < s.nhits; i++) { /* their limit charges are refunded */
			free(m->rcpts[s.hits[i].rcpt]);
			m->rcpts[s.hits[i].rcpt] = NULL;
		}
	}
	ml_supp_free(&s);
	return rc;
}

/* inbound_edit - remove forged A-R and quarantine fields, add ours; -1 refused */
static int
inbound_edit(SMFICTX *ctx, msg_ctx *m, const ml_vresult *r)
{
	size_t	nq = ml_header_count(m->headers, m->nheaders, ML_QUARANTINE_HEADER);

	for (size_t i = r->nforged; i > 0; i--)
		if (smfi_chgheader(ctx, "Authentication-Results", r->forged[i - 1], NULL) != MI_SUCCESS)
			return -1;
	for (size_t i = nq; i > 0; i--)
		if (smfi_chgheader(ctx, ML_QUARANTINE_HEADER, (int) i, NULL) != MI_SUCCESS)
			return -1;
	if (r->disp == ML_DISP_QUARANTINE && r->quarantine == ML_QUAR_HEADER
	    && smfi_insheader(ctx, 0, ML_QUARANTINE_HEADER, (char *) r->reply) != MI_SUCCESS)
		return -1;
	if (r->disp == ML_DISP_QUARANTINE && r->quarantine == ML_QUAR_HOLD
	    && smfi_quarantine(ctx, (char *) r->reply) != MI_SUCCESS)
		return -1;
	return smfi_insheader(ctx, 0, "Authentication-Results", (char *) r->authres) == MI_SUCCESS ? 0 : -1;
}

/* inbound_eom - the verdict on an inbound message: refuse, or mark and accept */
static sfsistat
inbound_eom(SMFICTX *ctx, msg_ctx *m)
{
	ml_vresult *r = sl_malloc(sizeof(*r));
	sfsistat rc = SMFIS_CONTINUE;
	char	oneline[ML_AR_MAX];

	ml_verify_finish(m->verify, r);
	ml_dmarcagg_count(m->conf, ((conn_ctx *) smfi_getpriv(ctx))->addr, m->env_from, r);
	snprintf(oneline, sizeof(oneline), "%s", r->authres);
	for (char *p = oneline; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	sl_info("inbound: from=<%s> client=%s disposition=%s %s%s%s%s", m->env_from, ((conn_ctx *)
		smfi_getpriv(ctx))->addr, ml_disposition_name(r->disp), oneline,
		r->disp != ML_DISP_ACCEPT && r->reply[0] ? " reply=\"" : "",
		r->disp != ML_DISP_ACCEPT ? r->reply : "",
		r->disp != ML_DISP_ACCEPT && r->reply[0] ? "\"" : "");
	if (r->disp == ML_DISP_REJECT) {
		set_reply(ctx, "550", r->reply);
		rc = SMFIS_REJECT;
	} else if (r->disp == ML_DISP_TEMPFAIL) {
		set_reply(ctx, "451", r->reply);
		rc = SMFIS_TEMPFAIL;
	} else if (inbound_edit(ctx, m, r) < 0) {
		sl_warn("the MTA refused a message modification: temporary failure");
		set_reply(ctx, "451", "4.3.0 temporary local problem, try again later");
		rc = SMFIS_TEMPFAIL;
	}
	free(r);
	settle(m, rc == SMFIS_CONTINUE);
	msg_reset(m);
	return rc;
}

/*
 * preflight - outbound: will receivers see DMARC pass? Logged once per From
 * domain and category per interval; refused when configured. 0 go on, -1 refuse.
 */
static int
preflight(SMFICTX *ctx, msg_ctx *m)
{
	const ml_pfopts *o = m->conf->pf;
	const char *sign[4], *sender = m->new_sender[0] ? m->new_sender : m->env_from;
	const char *at = strrchr(sender, '@');
	const char *cat = m->d.category ? m->d.category->name : "-";
	char text[1024];
	unsigned long n;
	ml_preflight r;

	if (o->mode == ML_PF_OFF || m->d.verdict != ML_OK || m->degraded || at == NULL)
		return 0;
	for (size_t i = 0; i < m->d.nsign && i < 4; i++)
		sign[i] = m->d.sign_domains[i];
	ml_preflight_check(m->conf->vdns, m->d.from_domain, sign, m->d.nsign < 4 ? m->d.nsign : 4,
	                   at + 1, o->relay, o->nrelay, &r);
	if (r.would_pass || r.temp)
		return 0;
	if (ml_preflight_note(m->d.from_domain, cat, o->interval, &n))
		sl_warn("dmarc pre-flight: from domain %s category %s: receivers will see DMARC fail "
		        "(%lu message%s): %s", m->d.from_domain, cat, n, n == 1 ? "" : "s", r.why);
	if (!ml_preflight_refuses(o, m->d.from_domain))
		return 0;
	snprintf(text, sizeof(text), "5.7.1 receivers would see DMARC fail for %s: %s",
	         m->d.from_domain, r.why);
	set_reply(ctx, "550", text);
	return -1;
}

/* cb_eom - apply everything and sign */
static sfsistat
cb_eom(SMFICTX *ctx)
{
	msg_ctx *m = &((conn_ctx *) smfi_getpriv(ctx))->msg;
	char	err[512];
	sfsistat rc;

	if (m->conf == NULL)
		return SMFIS_CONTINUE;
	if (!m->qid[0])
		snprintf(m->qid, sizeof(m->qid), "%s", macro(ctx, "i"));
	sl_log_context(m->qid);
	if (m->verify)
		return inbound_eom(ctx, m);
	if (preflight(ctx, m) < 0) {
		msg_reset(m);
		return SMFIS_REJECT;
	}
	if (m->dkim && ml_dkim_finish(m->dkim, err, sizeof(err)) < 0) {
		if (internal_trouble(ctx, m, err) == SMFIS_TEMPFAIL)
			return SMFIS_TEMPFAIL;
		m->new_sender[0] = '\0';
		(void) plan_message(m, 0, err, sizeof(err));
	}
	/* after signing: the record is written only for a message that leaves as planned */
	if ((rc = end_message(ctx, m)) != SMFIS_CONTINUE)
		return rc;
	if (apply_edits(ctx, m) < 0)
		goto fail;
	for (size_t i = ml_dkim_count(m->dkim); i > 0; i--)
		if (smfi_insheader(ctx, 0, "DKIM-Signature", (char *) ml_dkim_value(m->dkim, i - 1))
		    != MI_SUCCESS)
			goto fail;
	log_message(m);
	settle(m, 1);			/* suppressed recipients are NULL in m->rcpts */
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
		pthread_mutex_lock(&conns_lock);
		conn_unlink(c);
		pthread_mutex_unlock(&conns_lock);
		msg_reset(&c->msg);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

/*
 * enter - may this callback touch its session? 0 once drained (stopping);
 * else its session (if any) is marked busy until leave()
 */
static int
enter(SMFICTX *ctx)
{
	conn_ctx *c;
	int	ok;

	pthread_mutex_lock(&conns_lock);
	ok = !stopping;
	if (ok && (c = smfi_getpriv(ctx)) != NULL)
		c->busy = 1;
	pthread_mutex_unlock(&conns_lock);
	return ok;
}

/* leave - the callback is done; after a drain began, release its session now */
static sfsistat
leave(SMFICTX *ctx, sfsistat r)
{
	conn_ctx *c;
	int	release = 0;

	pthread_mutex_lock(&conns_lock);
	if ((c = smfi_getpriv(ctx)) != NULL) {
		c->busy = 0;
		if ((release = stopping))
			conn_unlink(c);
	}
	pthread_mutex_unlock(&conns_lock);
	if (release) {
		msg_reset(&c->msg);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return r;
}

/*
 * The callbacks libmilter calls: each runs its cb_ inside enter()/leave();
 * once drained, the answer without the session (where a reply is due, a
 * tempfail; the negotiated no-reply steps, none).
 */
#define GUARDED(name, params, call, drained)                                                    \
	static sfsistat name params                                                             \
	{                                                                                       \
		return enter(ctx) ? leave(ctx, call) : (drained);                              \
	}
GUARDED(g_connect, (SMFICTX *ctx, char *host, _SOCK_ADDR *sa), cb_connect(ctx, host, sa),
	SMFIS_NOREPLY)
GUARDED(g_helo, (SMFICTX *ctx, char *helo), cb_helo(ctx, helo), SMFIS_NOREPLY)
GUARDED(g_envfrom, (SMFICTX *ctx, char **argv), cb_envfrom(ctx, argv), SMFIS_TEMPFAIL)
GUARDED(g_envrcpt, (SMFICTX *ctx, char **argv), cb_envrcpt(ctx, argv), SMFIS_NOREPLY)
GUARDED(g_header, (SMFICTX *ctx, char *name, char *value), cb_header(ctx, name, value),
	SMFIS_NOREPLY)
GUARDED(g_eoh, (SMFICTX *ctx), cb_eoh(ctx), SMFIS_TEMPFAIL)
GUARDED(g_body, (SMFICTX *ctx, unsigned char *buf, size_t len), cb_body(ctx, buf, len),
	SMFIS_NOREPLY)
GUARDED(g_eom, (SMFICTX *ctx), cb_eom(ctx), SMFIS_TEMPFAIL)
GUARDED(g_abort, (SMFICTX *ctx), cb_abort(ctx), SMFIS_CONTINUE)
GUARDED(g_close, (SMFICTX *ctx), cb_close(ctx), SMFIS_CONTINUE)

/*
 * ml_milter_drain - after smfi_main() returned: release every session
 * still open (its message refunded, its snapshot unpinned), waiting up to
 * wait_ms for those inside a callback; returns how many were open
 */
int
ml_milter_drain(int wait_ms)
{
	conn_ctx *idle = NULL, *c, *next;
	int	n = 0;

	pthread_mutex_lock(&conns_lock);
	stopping = 1;
	for (c = conns; c; c = next) {
		next = c->next;
		n++;
		if (!c->busy) {
			conn_unlink(c);
			c->next = idle;
			idle = c;
		}
	}
	pthread_mutex_unlock(&conns_lock);
	for (c = idle; c; c = next) {
		next = c->next;
		msg_reset(&c->msg);
		free(c);
	}
	for (int waited = 0;; waited += 20) {
		pthread_mutex_lock(&conns_lock);
		c = conns;
		pthread_mutex_unlock(&conns_lock);
		if (c == NULL || waited >= wait_ms)
			break;
		usleep(20 * 1000);
	}
	if (c != NULL)
		sl_warn("a session was still busy after %d ms: left to the exit", wait_ms);
	return n;
}

/*
 * Protocol steps whose callbacks only ever continue: negotiated as "no
 * reply", so the MTA does not wait for an answer per header, body chunk
 * or recipient. MAIL (inbound: accept; no snapshot: tempfail), EOH
 * (rejections) and EOM keep their replies; so does HELO (kept for inbound
 * SPF). DATA and unknown commands have no callback and are not sent at all.
 */
#define NR_STEPS	(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_BODY)
#define SKIP_STEPS	(SMFIP_NODATA | SMFIP_NOUNKNOWN)
#define ACTIONS		((unsigned long) (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGFROM | SMFIF_DELRCPT | \
				 SMFIF_QUARANTINE))

/* The macros each stage uses, and only those (smfi_setsymlist). */
static const struct {
	int	stage;
	const char *macros;
} symlists[] = {
	/* the connection's name for policyd's charge record (milter_charge.c);
	 * {daemon_port} is also the listener of client_ports (lib/tenant_map.c) */
	{SMFIM_CONNECT, "{client_addr} {client_port} {daemon_addr} {daemon_port}"},
	{SMFIM_HELO, ""}, {SMFIM_ENVFROM, "i {auth_authen}"},
	{SMFIM_ENVRCPT, ""}, {SMFIM_DATA, ""}, {SMFIM_EOH, "i"}, {SMFIM_EOM, "i"},
};

/* cb_negotiate - the actions we need, no-reply steps, skipped steps, macros */
static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
	     unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
	     unsigned long *pf3)
{
	(void) f2;
	(void) f3;
	if ((f0 & ACTIONS) != ACTIONS) {
		sl_error("the MTA offers milter actions 0x%lx, sluice-milter needs 0x%lx "
			 "(add and change headers, change sender, delete recipients, quarantine)", f0, ACTIONS);
		return SMFIS_REJECT;
	}
	*pf0 = ACTIONS | (f0 & SMFIF_SETSYMLIST);
	/* libmilter offers every NR step, faking those an old MTA lacks */
	*pf1 = (f1 & NR_STEPS) | (f1 & SKIP_STEPS);
	*pf2 = *pf3 = 0;
	if ((*pf1 & NR_STEPS) != NR_STEPS) {
		sl_error("libmilter does not offer the no-reply steps 0x%lx", NR_STEPS & ~f1);
		return SMFIS_REJECT;
	}
	for (size_t i = 0; (f0 & SMFIF_SETSYMLIST) && i < sizeof(symlists) / sizeof(symlists[0]); i++)
		if (smfi_setsymlist(ctx, symlists[i].stage, (char *) symlists[i].macros) != MI_SUCCESS)
			sl_warn("cannot ask the MTA for the macros \"%s\" only", symlists[i].macros);
	return SMFIS_CONTINUE;
}

static struct smfiDesc milter_desc = {
	.xxfi_name = "sluice-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = ACTIONS,
	.xxfi_connect = g_connect,
	.xxfi_helo = g_helo,
	.xxfi_envfrom = g_envfrom,
	.xxfi_envrcpt = g_envrcpt,
	.xxfi_header = g_header,
	.xxfi_eoh = g_eoh,
	.xxfi_body = g_body,
	.xxfi_eom = g_eom,
	.xxfi_abort = g_abort,
	.xxfi_close = g_close,
	.xxfi_negotiate = cb_negotiate,
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
	/* the service user and its group: Postfix reaches it with 0660 once in that group */
	return path ? sl_socket_owner(path, c->user, NULL, c->socket_mode, err, errlen, NULL, 0)
	            : 0;
}

/* ml_milter_run - serve until libmilter is told to stop */
int
ml_milter_run(void)
{
	return smfi_main() == MI_SUCCESS ? 0 : -1;
}

/*
 * NAME
 *	feedback 3h - private interfaces of sluice-feedback
 * DESCRIPTION
 *	sluice-feedback reads one message (a bounce, a complaint, an
 *	unsubscribe request, an auto-reply or a DMARC aggregate report) and
 *	turns it into an fb_result. Every parser here is a pure function
 *	over a buffer with an explicit size cap: no I/O, no Redis, no
 *	global state beyond the libraries' one-time initialisation. The
 *	effects (Redis) live in feedback_effects.c, the wiring in
 *	feedback_main.c.
 *
 *	One section per file below. Outside libraries are confined:
 *	GMime to feedback_mime.c, libxml2, zlib and libzip to
 *	feedback_dmarc.c, the Redis client to feedback_effects.c and
 *	feedback_verify.c (the recipient record).
 * OWNERSHIP
 *	An fb_result owns everything it points to: fb_result_free().
 *	An fb_mail owns its strings: fb_mail_free(). fb_*_free(NULL) is a
 *	no-op.
 */
#ifndef SLUICE_FEEDBACK_H
#define SLUICE_FEEDBACK_H

#include <stddef.h>

#include "keyspace_supp.h"

/*
 * Size caps: anything larger is refused, read in part or deferred,
 * never trusted and never silently dropped (doc/feedback.md, "Limits").
 */
#define FB_MAX_INPUT	(32u << 20)	/* bytes of one message read; the rest is judged from this prefix */
#define FB_MAX_TEXT	(2u << 20)	/* human-readable text kept per mail */
#define FB_MAX_DSN	(16u << 20)	/* delivery-status or feedback-report part; more defers */
#define FB_MAX_PARTS	256		/* MIME leaves looked at */
#define FB_MAX_RCPTS	2000		/* recipient records per message; that many defers (doc/feedback.md) */
#define FB_MAX_UNPACK	(64u << 20)	/* decompressed DMARC report */
#define FB_MAX_DMARC_RECORDS 100000	/* <record>s per DMARC report; more refuses it */
#define FB_MAX_DMARC_AUTH 16		/* <auth_results> entries kept per record */
#define FB_MAX_DMARC_REASONS 8		/* <reason>s kept per record */
#define FB_ADDR_MAX	321		/* RFC 5321 path plus NUL */
#define FB_DIAG_MAX	1024		/* diagnostic text per recipient */
#define FB_MAX_CATEGORIES 64		/* categories summed for a tenant's rates */
#define FB_MAX_HARD_REASONS 32		/* entries of the hard_reasons option */

enum fb_kind {
	FB_KIND_UNKNOWN = 0,
	FB_KIND_BOUNCE,
	FB_KIND_COMPLAINT,
	FB_KIND_UNSUBSCRIBE,
	FB_KIND_DMARC,
	FB_KIND_AUTOREPLY,
};

/* One failed (or delayed, or delivered) recipient of a bounce. */
typedef struct fb_rcpt {
	char	addr[FB_ADDR_MAX];
	char	status[16];		/* enhanced status code as found */
	char	reply_code[4];		/* SMTP reply code as found */
	char	action[16];		/* DSN Action: failed, delayed, ... */
	char	command[8];		/* SMTP command that failed: RCPT, DATA, ... */
	char	diag_type[16];		/* Diagnostic-Code type: smtp, x-unix, ... */
	char	rhost[128];		/* Remote-MTA: the server that answered */
	char	reason[20];		/* taxonomy name, see feedback_reason.c */
	int	hard;			/* 1: the address will never work */
	int	bound;			/* 1: a recipient of the token's message (feedback_verify.c) */
	char	diag[FB_DIAG_MAX];	/* diagnostic text, one line */
} fb_rcpt;

/* ARF (RFC 5965) fields. */
typedef struct fb_arf {
	char	feedback_type[32];
	char	user_agent[128];
	char	original_rcpt[FB_ADDR_MAX];
	char	original_mail_from[FB_ADDR_MAX];
	char	source_ip[64];
	char	reported_domain[256];
	char	arrival_date[64];
} fb_arf;

/* One <auth_results> entry of a DMARC record: <dkim> or <spf>. */
typedef struct fb_dmarc_auth {
	char	method[8];		/* "dkim" or "spf" */
	char	domain[256];
	char	selector[64];		/* dkim */
	char	scope[16];		/* spf: helo or mfrom */
	char	result[16];
	char	human_result[256];	/* dkim */
} fb_dmarc_auth;

/* A <policy_evaluated><reason> of a DMARC record. */
typedef struct fb_dmarc_reason {
	char	type[32];
	char	comment[256];
} fb_dmarc_reason;

/* One <record> of a DMARC aggregate report. */
typedef struct fb_dmarc_rec {
	char	source_ip[64];
	long long count;
	char	disposition[16];
	char	dkim[16];
	char	spf[16];
	char	header_from[256];
	char	envelope_from[256];
	char	envelope_to[256];
	size_t	nreason;
	fb_dmarc_reason *reason;	/* nreason entries, at most FB_MAX_DMARC_REASONS */
	size_t	nauth;
	fb_dmarc_auth *auth;		/* nauth entries, at most FB_MAX_DMARC_AUTH */
} fb_dmarc_rec;

/* A DMARC aggregate report (RFC 7489 appendix C, RFC 9990). */
typedef struct fb_dmarc {
	char	version[16];
	char	org_name[256];
	char	email[256];
	char	generator[256];		/* RFC 9990 */
	char	report_id[256];
	long long begin;
	long long end;
	char	domain[256];
	char	p[16];
	char	sp[16];
	char	pct[8];			/* "" when absent */
	char	adkim[4];
	char	aspf[4];
	char	np[16];			/* RFC 9990 */
	char	fo[16];
	char	testing[4];		/* RFC 9990 */
	char	discovery_method[16];	/* RFC 9990 */
	size_t	nrec;
	fb_dmarc_rec *rec;
} fb_dmarc;

/* What one message or file turned out to be. */
typedef struct fb_result {
	enum fb_kind kind;
	char	why[256];		/* kind unknown: why; otherwise a note */
	size_t	nrcpt;
	fb_rcpt *rcpt;			/* bounces, complaint, autoreply, unsub */
	fb_arf	arf;			/* kind complaint */
	fb_dmarc *dmarc;		/* kind dmarc-aggregate */
	char	orig_from[FB_ADDR_MAX];	/* envelope/header sender of the original */
	char	orig_token[FB_ADDR_MAX]; /* a token address (b2x-, b1-, ...) in the report */
	char	defer[128];		/* non-empty: records may be missing (a cap was hit): defer, act on none */
} fb_result;

/* feedback.c-wide helpers (feedback_json.c hosts them) */
fb_result *fb_result_new(void);
void	fb_result_free(fb_result *res);
fb_rcpt *fb_result_add(fb_result *res);
const char *fb_kind_name(enum fb_kind kind);
void	fb_strlcpy(char *dst, const char *src, size_t size);
void	fb_strlower(char *s);
void	fb_result_sanitize(fb_result *res);

/*
 * feedback_mime.c - the only GMime user: turns a raw message into plain
 * strings the other parsers read. Text parts are converted to UTF-8
 * (ISO-2022-JP and friends included); transfer encodings are undone.
 */
typedef struct fb_header {
	char   *name;			/* as found */
	char   *value;			/* unfolded, RFC 2047 decoded */
} fb_header;

typedef struct fb_attach {
	char   *type;			/* lowercased media type */
	char   *filename;		/* may be "" */
	unsigned char *data;		/* decoded bytes */
	size_t	len;
} fb_attach;

typedef struct fb_mail {
	fb_header *hdr;			/* top-level header fields */
	size_t	nhdr;
	char   *type;			/* top-level media type, lowercased */
	char   *report_type;		/* multipart/report report-type */
	char   *text;			/* text leaves outside the original */
	char   *dsn;			/* message/delivery-status content */
	char   *feedback;		/* message/feedback-report content */
	char   *orig;			/* original message: headers (and body) */
	fb_attach *att;			/* application leaves (DMARC) */
	size_t	natt;
	int	cut;			/* FB_CUT_* bits: a part was not read whole */
	int	last;			/* FB_CUT_* bit of the part seen last */
} fb_mail;

#define FB_CUT_TEXT	1		/* text truncated at FB_MAX_TEXT */
#define FB_CUT_DSN	2		/* delivery-status part truncated at FB_MAX_DSN */
#define FB_CUT_FEEDBACK	4		/* feedback-report part truncated at FB_MAX_DSN */
#define FB_CUT_ORIG	8		/* returned original truncated */
#define FB_CUT_ATTACH	16		/* attachment over FB_MAX_INPUT, not kept */

fb_mail *fb_mail_parse(const char *buf, size_t len, char *err, size_t errlen);
void	fb_mail_free(fb_mail *m);
const char *fb_mail_header(const fb_mail *m, const char *name);
int	fb_mime_is_mail(const char *buf, size_t len);

/*
 * feedback_dsn.c - RFC 3464 delivery status notifications, plus the
 * shared helpers that read addresses and codes out of free text.
 */
int	fb_dsn_parse(const fb_mail *m, fb_result *res);
int	fb_dsn_parse_text(const fb_mail *m, const char *dsn, fb_result *res);
const char *fb_dsn_in_text(const char *text);
int	fb_text_find_addr(const char *s, char *out, size_t outlen);
int	fb_text_find_status(const char *s, char out[16]);
int	fb_text_find_reply(const char *s, char out[4]);
void	fb_text_find_command(const char *s, char out[8]);
void	fb_text_squeeze(char *dst, size_t dstlen, const char *src, size_t n);
const char *fb_strcasestr(const char *hay, const char *needle);

/*
 * feedback_vendor.c - non-standard bounces (qmail, Exim, Sendmail
 * without a DSN, Exchange, Japanese carriers, ...): a table of
 * formats, each with the markers that start and end its error section.
 */
int	fb_vendor_parse(const fb_mail *m, fb_result *res);
const char *fb_vendor_format(const fb_mail *m);
void	fb_vendor_reason(const fb_mail *m, fb_rcpt *r);
int	fb_vendor_ses(const fb_mail *m, fb_result *res);	/* feedback_vendor_ses.c; -1: refused */
int	fb_vendor_rhost(const fb_mail *m, fb_rcpt *r);	/* feedback_vendor_rhost.c */

/*
 * feedback_reason.c - classify one recipient record into the reason
 * taxonomy (compatible with sisimai's names) and hard/soft.
 */
void	fb_reason_classify(fb_rcpt *r);
const char *fb_reason_from_text(const char *text);
const char *fb_reason_from_status(const char *status);
int	fb_reason_is_hard(const char *reason, const char *code);
int	fb_reason_known(const char *reason);

/* feedback_arf.c - ARF complaints (RFC 5965) and auto-replies (RFC 3834). */
int	fb_arf_parse(const fb_mail *m, fb_result *res);
int	fb_autoreply_detect(const fb_mail *m, fb_result *res);

/* feedback_dmarc.c - DMARC aggregate reports: XML, gzip, zip or in a mail. */
int	fb_dmarc_parse_buf(const unsigned char *buf, size_t len,
			   const char *name, fb_result *res);
int	fb_dmarc_from_mail(const fb_mail *m, fb_result *res);
int	fb_dmarc_looks_like(const unsigned char *buf, size_t len);

/* feedback_classify.c - one entry point: bytes in, fb_result out. */
fb_result *fb_classify(const char *buf, size_t len, const char *name);
fb_result *fb_classify_cut(const char *buf, size_t len, const char *name, int cut);

/*
 * feedback_effects.c - the Redis side: suppression entries, counters,
 * tenant pause, DMARC summaries and events, one atomic script per message.
 */
struct sl_redis;

enum { FB_SCOPE_GLOBAL, FB_SCOPE_CATEGORY, FB_SCOPE_TENANT };
enum { FB_MODE_ENFORCE, FB_MODE_MONITOR, FB_MODE_OFF };

typedef struct fb_conf {
	int	hard_scope;		/* FB_SCOPE_* of hard bounces */
	long	hard_ttl;		/* seconds, 0: forever */
	long	soft_threshold;
	long	soft_window;		/* seconds */
	long	soft_ttl;
	long	complaint_ttl;
	long	unsub_ttl;
	int	pause_mode;		/* FB_MODE_* */
	double	pause_bounce_rate;	/* percent */
	double	pause_complaint_rate;	/* percent */
	long	pause_window;		/* days */
	long	pause_min_sent;
	long	events_maxlen;
	long	dedup_ttl;		/* seconds a message's done marker lives */
	long	max_unverified;		/* unverified records counted per message */
	long	seen_ttl;		/* seconds fbseen:<msgid> lives (token lifetime + 5 days) */
	int	supp_flags;		/* canonical address of entries (sl_supp_flags()) */
	sl_supp_layout supp_layout;	/* suppression { } (lib/keyspace_supp.c) */
	const char *categories[FB_MAX_CATEGORIES]; /* configured ones; borrowed */
	size_t	ncategories;
	const char *hard_reasons[FB_MAX_HARD_REASONS]; /* also suppressed at once; borrowed */
	size_t	nhard_reasons;
	const char *authserv_id;	/* our Authentication-Results id; borrowed */
} fb_conf;

/* Whom the message was about, from the signed token. */
typedef struct fb_origin {
	int	verified;
	char	why[128];		/* unverified: why */
	char	kind;			/* 'b' bounce address, 'u' unsubscribe */
	char	category[16];
	char	tenant[16];		/* "" for none */
	unsigned day;
	char	msgid[9];
	int	version;		/* token format: 2, or 1 (no key id, never bound) */
	char	kid;			/* version 2: the key that signed it */
} fb_origin;

/* Who is at fault for a bounce reason: only the recipient's soft reasons
 * count towards its soft-bounce threshold (doc/feedback.md). */
enum { FB_FAULT_NEUTRAL, FB_FAULT_RECIPIENT, FB_FAULT_SENDER };

/* How long the recipients counted for one original message are remembered,
 * at least: fb_conf.seen_ttl, longer than token_lifetime_days, when that is
 * more (a report about a message is verified for the token's lifetime). */
#define FB_SEEN_TTL	(35L * 86400)

/* id: the feedback message's identity (hex), see feedback_main.c */
int	fb_effects_apply(struct sl_redis *r, const fb_conf *c, const fb_result *res,
			 const fb_origin *o, const char *id, long long now);
int	fb_effects_fault(const char *reason);

/*
 * feedback_verify.c - the token (age, key) and the binding of each record
 * to a recipient of the token's message (the milter's rcpts:<msgid>).
 */
struct sl_token_ring;
void	fb_verify_origin(const char *rcpt, const fb_result *res,
			 const struct sl_token_ring *ring, fb_origin *o);
int	fb_verify_bind(struct sl_redis *r, const struct sl_token_ring *ring, const fb_conf *fc,
		       fb_result *res, const fb_origin *o, const char *buf, size_t len);
int	fb_verify_authres(const fb_header *hdr, size_t nhdr, const char *authserv_id,
			  const char *from);

/* feedback_json.c - the --classify output, one JSON object per line. */
char   *fb_json_result(const fb_result *res, const char *file);

#endif

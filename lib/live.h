/*
 * NAME
 *	live 3h - validators of what operators write into Redis by hand
 * SYNOPSIS
 *	sl_live_tenant_status("paused")        SL_TENANT_PAUSED, or -1
 *	sl_live_mode("monitor")                SL_LIVE_MONITOR, or -1
 *	sl_live_limit_field("rate", "50/hour", err, size)   0 or -1 with err
 *	sl_live_limit_check(n, fields, err, size)           the whole hash
 * DESCRIPTION
 *	One place decides what a valid live value is, for sluicectl (which
 *	refuses it) and for the daemons (which ignore it, say so once and
 *	count it): the hashes sluice:limit:<name>, sluice:tenant:<name>
 *	(status, require_tls, allowed_senders) and the modes of sluice:mode. See live.c.
 */
#ifndef SL_LIVE_H
#define SL_LIVE_H

#include <stddef.h>

enum sl_tenant_status { SL_TENANT_ACTIVE, SL_TENANT_PAUSED, SL_TENANT_SUSPENDED };
enum sl_live_mode { SL_LIVE_ENFORCE = 1, SL_LIVE_MONITOR, SL_LIVE_OFF };

int sl_live_tenant_status(const char *s);
int sl_live_mode(const char *s);
int sl_live_yesno(const char *s);
int sl_live_tenant_field(const char *f, const char *v, char *err, size_t errlen);
int sl_live_tenant_senders(const char *v, char *err, size_t errlen);
int sl_live_rate(const char *s, long long *count, double *period_ms);
int sl_live_window(const char *s);
int sl_live_count(const char *s, long long *out);
int sl_live_text_ok(const char *s);
int sl_live_limit_field(const char *f, const char *v, char *err, size_t errlen);
int sl_live_limit_check(int nfields, const char *const *field, char *err, size_t errlen);
#define SL_LIVE_SCHEDULE_MAX 365 /* days in a warm-up schedule */
int sl_live_schedule(const char *s, long long *out, int max);
int sl_live_day(const char *s, long long *days);
extern const char *const sl_live_attributes[];
int sl_live_attribute(const char *name, size_t n);
int sl_live_label_ok(const char *s);
int sl_live_dns_label_ok(const char *s);
int sl_live_domains(const char *in, char *out, size_t outlen, char *bad, size_t badlen);
int sl_live_sasl_field(const char *f, const char *v, char *err, size_t errlen);
void sl_live_printable(const char *in, char *out, size_t outlen);

#endif

/*
 * NAME
 *	conf_milter 3 - the "milter { }" section of sluice.conf
 * DESCRIPTION
 *	Options read by sluice-milter only. Owned by the milter code; kept in lib/
 *	because every program parses the whole file with one schema. The
 *	meaning of each option is in doc/milter.md; milter/milter_conf.c
 *	checks the values.
 */
#include "config.h"

#include <confuse.h>

/* rule "name" { sender = {...} from = {...} client = {...} category = x tenant = y } */
static cfg_opt_t rule_opts[] = {
	CFG_STR_LIST("sender", "{}", CFGF_NONE),
	CFG_STR_LIST("from", "{}", CFGF_NONE),
	CFG_STR_LIST("client", "{}", CFGF_NONE),
	CFG_STR("category", "", CFGF_NONE),
	CFG_STR("tenant", "", CFGF_NONE),
	CFG_END()
};

/* inbound { }: verification of mail that is not outbound (doc/milter.md) */
static cfg_opt_t inbound_opts[] = {
	CFG_BOOL("verify", cfg_false, CFGF_NONE),
	CFG_STR("authserv_id", "", CFGF_NONE),
	CFG_STR("dns_zone", "", CFGF_NONE),
	CFG_STR("dns_nameserver", "", CFGF_NONE),
	CFG_INT("dns_timeout", 5, CFGF_NONE),
	CFG_STR("dmarc_reject", "reject", CFGF_NONE),
	CFG_STR("quarantine", "header", CFGF_NONE),
	CFG_STR("dns_error", "tempfail", CFGF_NONE),
	CFG_STR_LIST("monitor_domains", "{}", CFGF_NONE),
	CFG_STR_LIST("trusted_arc_sealers", "{}", CFGF_NONE),
	/* DMARC aggregate reports sent (doc/milter.md "DMARC aggregate reports") */
	CFG_BOOL("dmarc_reports", cfg_false, CFGF_NONE),
	CFG_STR("dmarc_report_sender", "", CFGF_NONE),
	CFG_STR("dmarc_report_org", "", CFGF_NONE),
	CFG_END()
};

/* preflight { }: will receivers of outbound mail see DMARC pass (doc/milter.md) */
static cfg_opt_t preflight_opts[] = {
	CFG_STR("mode", "monitor", CFGF_NONE),
	CFG_STR_LIST("relay_addresses", "{}", CFGF_NONE),
	CFG_INT("log_interval", 3600, CFGF_NONE),
	CFG_STR_LIST("reject_domains", "{}", CFGF_NONE),
	CFG_END()
};

cfg_opt_t sl_conf_milter_opts[] = {
	CFG_STR("socket", "unix:/var/spool/postfix/sluice/milter.sock", CFGF_NONE),
	CFG_STR("socket_mode", "0660", CFGF_NONE),
	CFG_INT("timeout", 300, CFGF_NONE),
	/* "inherit": the top-level internal_networks; {} means none */
	CFG_STR_LIST("internal_networks", "{inherit}", CFGF_NONE),
	CFG_STR("on_internal_error", "tempfail", CFGF_NONE),
	CFG_STR("unknown_category", "default", CFGF_NONE),
	CFG_STR("sasl_binding", "enforce", CFGF_NONE),
	CFG_STR("category_header", "X-Sluice-Category", CFGF_NONE),
	CFG_STR("default_category", "", CFGF_NONE),
	CFG_STR("sender_id", "", CFGF_NONE),
	CFG_BOOL("redis", cfg_true, CFGF_NONE),
	CFG_BOOL("stats", cfg_true, CFGF_NONE),
	CFG_INT("message_ttl", 7 * 86400, CFGF_NONE),
	/* recipients suppressed in the message's scopes, at end of message */
	CFG_BOOL("check_suppression", cfg_true, CFGF_NONE),
	CFG_STR("suppression_fail", "accept", CFGF_NONE),
	CFG_SEC("inbound", inbound_opts, CFGF_NONE),
	CFG_SEC("preflight", preflight_opts, CFGF_NONE),
	CFG_SEC("rule", rule_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()
};

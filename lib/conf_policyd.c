/*
 * NAME
 *	conf_policyd 3 - the "policyd { }" section of sluice.conf
 * DESCRIPTION
 *	Options read by sluice-policyd only. Owned by the policyd code; kept in lib/
 *	because every program parses the whole file with one schema.
 *	Semantic checks (values, listeners, limits) are in policyd_main.c,
 *	which reports every problem with file:line. See doc/sluice-policyd.8.
 *
 *	policyd {
 *	  listen = { "unix:/var/spool/postfix/sluice/policy.sock", "inet:127.0.0.1:10040" }
 *	  socket_mode = "0660"               # warned about when more open
 *	  socket_group = "postfix"           # group of the unix sockets
 *	  http_listen = "127.0.0.1:8025"     # one-click unsubscribe /u/
 *	  metrics_listen = "127.0.0.1:8026"  # /metrics apart (default: on http_listen)
 *	  http_max_connections = 256         # per HTTP listener; 503 past it
 *	  http_timeout = 10                  # s: total deadline of one request
 *	  timeout = 100                      # ms per request
 *	  limit_fail_action = dunno          # or defer (DEFER_IF_PERMIT)
 *	  suppression_fail_action = dunno
 *	  default_action = "DUNNO"           # answer to a malformed request
 *	  mode = enforce                     # enforce | monitor | off
 *	  strip_tag = true                   # user+tag@ -> user@ for suppression
 *	  refunds = true                     # charge records the milter settles
 *	  discard_scopes = { }               # global, category, tenant
 *	  time_zone = "UTC"
 *	  limit "gmail-bulk" { key = '${sender_orgdomain}' ... }   # seeds
 *	  block_reaction "google" { mode = defer|filter|monitor|off transport = "smtp-b:" retry = 900 }
 *	  block_ramp = 1800  block_ramp_start = 10  block_ramp_step = 300
 *	  (reactions to sluice-logd's provider blocks; see doc/policyd.md)
 *	  (single quotes: libconfuse expands ${...} inside double quotes)
 *	}
 */
#include "config.h"

#include <confuse.h>

/* Seeds of sluice:limit:<name>; written only when the hash is absent. */
static cfg_opt_t limit_opts[] = {
	CFG_STR("key", "", CFGF_NONE),
	CFG_STR("match", "", CFGF_NONE),
	CFG_STR("rate", "", CFGF_NONE),
	CFG_STR("burst", "", CFGF_NONE),
	CFG_STR("window", "", CFGF_NONE),
	CFG_STR("max", "", CFGF_NONE),
	CFG_STR("unit", "", CFGF_NONE),
	CFG_STR("action", "", CFGF_NONE),
	CFG_STR("mode", "", CFGF_NONE),
	CFG_STR("warn", "", CFGF_NONE),
	CFG_STR("text", "", CFGF_NONE),
	CFG_STR("schedule", "", CFGF_NONE),	/* warm-up: "50,100,200" per day */
	CFG_STR("schedule_start", "", CFGF_NONE),	/* YYYYMMDD of its first day */
	CFG_END()
};

/* Reactions to a provider block (policyd_provider.c, doc/policyd.md). */
static cfg_opt_t reaction_opts[] = {
	CFG_STR("mode", "monitor", CFGF_NONE),	/* defer | filter | monitor | off */
	CFG_STR("transport", "", CFGF_NONE),	/* filter: "name:" or "name:nexthop" */
	CFG_INT("retry", 900, CFGF_NONE),	/* defer: at most this retry hint, s */
	CFG_END()
};

cfg_opt_t sl_conf_policyd_opts[] = {
	CFG_STR("socket", "", CFGF_NONE),	/* short for listen = unix:PATH */
	CFG_STR_LIST("listen", "{}", CFGF_NONE),
	CFG_STR("socket_mode", "0660", CFGF_NONE),
	CFG_STR("socket_group", "postfix", CFGF_NONE),
	CFG_STR("http_listen", "", CFGF_NONE),
	CFG_STR("metrics_listen", "", CFGF_NONE),
	CFG_INT("http_max_connections", 256, CFGF_NONE),
	CFG_INT("http_timeout", 10, CFGF_NONE),
	CFG_INT("timeout", 100, CFGF_NONE),
	CFG_STR("limit_fail_action", "dunno", CFGF_NONE),
	CFG_STR("suppression_fail_action", "dunno", CFGF_NONE),
	CFG_STR("default_action", "DUNNO", CFGF_NONE),
	CFG_STR("mode", "enforce", CFGF_NONE),
	CFG_BOOL("strip_tag", cfg_true, CFGF_NONE),
	CFG_BOOL("lowercase_local_part", cfg_true, CFGF_NONE),
	CFG_BOOL("refunds", cfg_true, CFGF_NONE),	/* charge records for the milter */
	CFG_STR_LIST("discard_scopes", "{}", CFGF_NONE),
	CFG_INT("breaker_failures", 5, CFGF_NONE),
	CFG_INT("breaker_cooldown", 1000, CFGF_NONE),
	CFG_INT("poll_interval", 500, CFGF_NONE),
	CFG_INT("max_connections", 1000, CFGF_NONE),
	CFG_INT("pipeline_max", 64, CFGF_NONE),
	CFG_STR("time_zone", "UTC", CFGF_NONE),
	CFG_SEC("limit", limit_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("block_reaction", reaction_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_INT("block_ramp", 1800, CFGF_NONE),		/* s of ramp after a block */
	CFG_INT("block_ramp_start", 10, CFGF_NONE),	/* recipients a minute, at first */
	CFG_INT("block_ramp_step", 300, CFGF_NONE),	/* s: the rate doubles */
	CFG_END()
};

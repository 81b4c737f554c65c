/*
 * NAME
 *	conf_logd 3 - the "logd { }" section of sluice.conf
 * DESCRIPTION
 *	Options read by sluice-logd only. Owned by the logd code; kept in lib/
 *	because every program parses the whole file with one schema. The
 *	meaning of each option is in doc/logd.md; logd/logd_main.c checks
 *	the values (-n reports every bad one).
 *
 *	logd {
 *	    log_file = /var/log/postfix.log	# Postfix's maillog_file; "-": stdin
 *	    state_file = /var/lib/sluice/logd.state	# inode and offset
 *	    all_messages = false	# also count mail without a milter record
 *	    events_maxlen = 100000	# approximate length of the events stream
 *	    buffer_max = 100000		# events kept in memory while Redis is down
 *	    queue_max = 20000		# queue ids remembered at once
 *	    queue_ttl = 518400		# seconds a silent queue id is remembered
 *	    poll_interval = 200		# milliseconds between looks at the file
 *	    block_threshold = 5		# block replies from one provider to one
 *	    block_window = 600		# sending domain within this many seconds
 *					# declare a block (block:<provider>:<domain>)
 *	    block_quiet = 1800		# it ends at a delivery after this quiet time
 *	    block_ttl = 3600		# or this long after the last block reply
 *	    block_command = ""		# run on block start and end (no shell)
 *	    block_command_timeout = 10	# seconds before it is killed
 *	    metrics_listen = ""		# host:port of GET /metrics (loopback)
 *	    provider "name" { domains = {...} mx = {...} }	# before the defaults
 *	}
 */
#include "config.h"

#include <confuse.h>

static cfg_opt_t provider_opts[] = {CFG_STR_LIST("domains", "{}", CFGF_NONE),
                                    CFG_STR_LIST("mx", "{}", CFGF_NONE), CFG_END()};

cfg_opt_t sl_conf_logd_opts[] = {
    CFG_STR("log_file", "/var/log/postfix.log", CFGF_NONE),
    CFG_STR("state_file", "/var/lib/sluice/logd.state", CFGF_NONE),
    CFG_BOOL("all_messages", cfg_false, CFGF_NONE),
    CFG_INT("events_maxlen", 100000, CFGF_NONE),
    CFG_INT("buffer_max", 100000, CFGF_NONE),
    CFG_INT("queue_max", 20000, CFGF_NONE),
    CFG_INT("queue_ttl", 6 * 86400, CFGF_NONE),
    CFG_INT("poll_interval", 200, CFGF_NONE),
    CFG_INT("block_threshold", 5, CFGF_NONE),
    CFG_INT("block_window", 600, CFGF_NONE),
    CFG_INT("block_quiet", 1800, CFGF_NONE),
    CFG_INT("block_ttl", 3600, CFGF_NONE),
    CFG_STR("block_command", "", CFGF_NONE),
    CFG_INT("block_command_timeout", 10, CFGF_NONE),
    CFG_STR("metrics_listen", "", CFGF_NONE),
    CFG_SEC("provider", provider_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_END()};

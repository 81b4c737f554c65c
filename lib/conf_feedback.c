/*
 * NAME
 *	conf_feedback 3 - the "feedback { }" section of sluice.conf
 * DESCRIPTION
 *	Options read by sluice-feedback only. Owned by the feedback code; kept in lib/
 *	because every program parses the whole file with one schema.
 *
 *	feedback {
 *	    hard_bounce_scope = global	# global | category | tenant
 *	    hard_bounce_ttl = 0		# seconds a hard-bounce entry lives; 0: forever
 *	    soft_bounce_threshold = 3	# soft bounces of one address ...
 *	    soft_bounce_window = 604800	# ... within this many seconds suppress it
 *	    soft_bounce_ttl = 2592000	# seconds that suppression lives; 0: forever
 *	    hard_reasons = {}		# reasons also suppressed at the first bounce,
 *					# e.g. {"filtered", "suspend"}; default: only
 *					# those that are hard bounces (userunknown,
 *					# hostunknown, hasmoved, permanent notaccept)
 *	    complaint_ttl = 0		# category-scope entry of a complaint
 *	    unsubscribe_ttl = 0		# category-scope entry of an unsubscribe
 *	    pause_mode = enforce	# enforce | monitor | off (automatic tenant pause)
 *	    pause_bounce_rate = 5.0	# percent of sent, over pause_window days
 *	    pause_complaint_rate = 0.1	# percent of sent, over pause_window days
 *	    pause_window = 1		# days, today included
 *	    pause_min_sent = 100	# no rate is judged on fewer messages
 *	    events_maxlen = 100000	# approximate length of the events stream
 *	    dedup_ttl = 864000		# seconds a processed message is remembered
 *					# (retries within it change nothing twice)
 *	    max_unverified_records = 50	# unverified records counted per message
 *	}
 *	The values are checked by sluice-feedback (-n reports every bad one).
 */
#include "config.h"

#include <confuse.h>

cfg_opt_t sl_conf_feedback_opts[] = {
	CFG_STR("hard_bounce_scope", "global", CFGF_NONE),
	CFG_INT("hard_bounce_ttl", 0, CFGF_NONE),
	CFG_INT("soft_bounce_threshold", 3, CFGF_NONE),
	CFG_INT("soft_bounce_window", 7 * 86400, CFGF_NONE),
	CFG_INT("soft_bounce_ttl", 30 * 86400, CFGF_NONE),
	CFG_STR_LIST("hard_reasons", "{}", CFGF_NONE),
	CFG_INT("complaint_ttl", 0, CFGF_NONE),
	CFG_INT("unsubscribe_ttl", 0, CFGF_NONE),
	CFG_STR("pause_mode", "enforce", CFGF_NONE),
	CFG_FLOAT("pause_bounce_rate", 5.0, CFGF_NONE),
	CFG_FLOAT("pause_complaint_rate", 0.1, CFGF_NONE),
	CFG_INT("pause_window", 1, CFGF_NONE),
	CFG_INT("pause_min_sent", 100, CFGF_NONE),
	CFG_INT("events_maxlen", 100000, CFGF_NONE),
	CFG_INT("dedup_ttl", 10 * 86400, CFGF_NONE),
	CFG_INT("max_unverified_records", 50, CFGF_NONE),
	CFG_STR("authserv_id", "", CFGF_NONE),
	CFG_END()
};

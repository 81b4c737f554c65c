/*
 * NAME
 *	conf_feedback 3 - the "feedback { }" section of sluice.conf
 * DESCRIPTION
 *	Options read by sluice-feedback only. Owned by the feedback code; kept in lib/
 *	because every program parses the whole file with one schema.
 */
#include "config.h"

#include <confuse.h>

cfg_opt_t sl_conf_feedback_opts[] = {
	CFG_STR("socket", "", CFGF_NONE),
	CFG_END()
};

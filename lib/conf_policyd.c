/*
 * NAME
 *	conf_policyd 3 - the "policyd { }" section of sluice.conf
 * DESCRIPTION
 *	Options read by sluice-policyd only. Owned by the policyd code; kept in lib/
 *	because every program parses the whole file with one schema.
 */
#include "config.h"

#include <confuse.h>

cfg_opt_t sl_conf_policyd_opts[] = {
	CFG_STR("socket", "", CFGF_NONE),
	CFG_END()
};

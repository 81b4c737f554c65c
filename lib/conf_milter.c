/*
 * NAME
 *	conf_milter 3 - the "milter { }" section of sluice.conf
 * DESCRIPTION
 *	Options read by sluice-milter only. Owned by the milter code; kept in lib/
 *	because every program parses the whole file with one schema.
 */
#include "config.h"

#include <confuse.h>

cfg_opt_t sl_conf_milter_opts[] = {
	CFG_STR("socket", "", CFGF_NONE),
	CFG_END()
};

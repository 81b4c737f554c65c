/*
 * NAME
 *	suppress 3 - the reasons a suppression entry may carry
 */
#include "config.h"

#include <string.h>

#include "suppress.h"

const char *const sl_supp_reasons[] = {
	"hard-bounce", "soft-bounce-threshold", "complaint", "unsubscribe",
	"manual", "import", NULL
};

/* sl_supp_reason_shown - a documented reason as it is, else "suppressed" */
const char *
sl_supp_reason_shown(const char *reason)
{
	for (size_t i = 0; reason && sl_supp_reasons[i]; i++)
		if (strcmp(reason, sl_supp_reasons[i]) == 0)
			return sl_supp_reasons[i];
	return "suppressed";
}

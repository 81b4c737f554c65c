/*
 * NAME
 *	ctl_opts 3 - a sluicectl subcommand's long options, from one table
 * SYNOPSIS
 *	const ctl_opt opts[] = {CTL_ARG("selector", &sel), CTL_FLAG("switch", &sw),
 *				CTL_OPT_END};
 *	int i = ctl_getopt(ctx, argc, argv, opts, 1, 1);	argv[i] is the operand
 * DESCRIPTION
 *	The one getopt_long loop of the subcommands that only store their
 *	options: each table entry says where "--name VALUE" goes, or which
 *	flag "--name" sets; a value is checked as it comes when the entry
 *	names a validator (CTL_CHECKED), so the first bad one stops the
 *	parse as the hand-written loops did. An unknown option, a missing or
 *	invalid value, or an operand count outside min_args..max_args
 *	(CTL_ANY_ARGS: no upper bound) is the command's usage line and exit
 *	64 (ctl_usage); what the values mean is the command's business.
 */
#include "config.h"

#include <getopt.h>

#include "ctl.h"
#include "log.h"

/*
 * ctl_getopt - parse argv's long options by opts (ended by a NULL name):
 * usage (exit 64) on an unknown option, a missing value, or fewer than
 * min_args or more than max_args operands; returns the first operand's index
 */
int
ctl_getopt(const ctl_ctx *ctx, int argc, char **argv, const ctl_opt *opts, int min_args,
	   int max_args)
{
	struct option lo[17];
	size_t	n = 0;
	int	ch;

	for (; opts[n].name; n++) {
		if (n + 1 >= sizeof(lo) / sizeof(lo[0]))
			sl_panic("ctl_getopt: too many options");
		lo[n] = (struct option){opts[n].name, opts[n].arg ? required_argument : no_argument,
				       NULL, 256 + (int) n};
	}
	lo[n] = (struct option){NULL, 0, NULL, 0};
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch < 256 || (size_t) (ch - 256) >= n)
			ctl_usage(ctx);
		if (opts[ch - 256].valid && !opts[ch - 256].valid(optarg))
			ctl_usage(ctx);
		if (opts[ch - 256].arg)
			*opts[ch - 256].arg = optarg;
		else
			*opts[ch - 256].flag = 1;
	}
	if (argc - optind < min_args || argc - optind > max_args)
		ctl_usage(ctx);
	return optind;
}

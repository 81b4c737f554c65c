/*
 * NAME
 *	keyspace_supp 3 - suppression keys, the canonical address, the scripts
 * SYNOPSIS
 *	#include "keyspace.h"
 *	#include "keyspace_supp.h"
 * DESCRIPTION
 *	sl_supp_key() names an entry, sl_supp_key_parse() reads one back.
 *	sl_supp_canon() is the address form every writer stores.
 *	sl_supp_get_script and sl_supp_put_script are the one lookup and
 *	the one writer (keyspace_supp*.lua, embedded as keyspace_lua.h);
 *	scripts that do more in the same call (policyd's decision, the
 *	feedback effects) put SL_LUA_SUPP in front of their own source and
 *	call sl_supp_read() / sl_supp_write() from it.
 */
#include "config.h"

#include <confuse.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "keyspace.h"
#include "keyspace_supp.h"

sl_script sl_supp_get_script = {.source = SL_LUA_SUPP SL_LUA_SUPP_GET};
sl_script sl_supp_put_script = {.source = SL_LUA_SUPP SL_LUA_SUPP_PUT};
sl_script sl_supp_move_script = {.source = SL_LUA_SUPP_MOVE};

/* sl_supp_key - prefix + supp:<scope>:<address> */
int
sl_supp_key(char *out, size_t outlen, const char *prefix, const sl_scope *s, const char *address)
{
	char scope[SL_SCOPE_MAX + 8];

	if (sl_scope_format(s, scope, sizeof(scope)) < 0)
		return -1;
	return sl_key(out, outlen, prefix, SL_KEY_SUPP, scope, address);
}

/* sl_supp_key_parse - scope and address of a suppression key */
int
sl_supp_key_parse(const char *key, const char *prefix, sl_scope *s, char *addr, size_t addrlen)
{
	sl_key_parts p;

	if (sl_key_parse(key, prefix, SL_KEY_SUPP, &p) < 0 || sl_scope_parse(p.part[0], s) < 0 ||
	    strlen(p.part[1]) >= addrlen)
		return -1;
	snprintf(addr, addrlen, "%s", p.part[1]);
	return 0;
}

/* sl_supp_canon - the address form suppression entries are stored under */
int
sl_supp_canon(const char *in, int flags, char *out, size_t outlen)
{
	return sl_addr_normalize(in, out, outlen,
	                         flags & (SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL));
}

/* sl_supp_flags - SL_ADDR_* as the policyd section's strip_tag, lowercase_local_part say */
int
sl_supp_flags(cfg_t *pd)
{
	if (pd == NULL)
		return SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL;
	return (cfg_getbool(pd, "strip_tag") ? SL_ADDR_STRIP_TAG : 0) |
	       (cfg_getbool(pd, "lowercase_local_part") ? SL_ADDR_LOWER_LOCAL : 0);
}

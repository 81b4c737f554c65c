/*
 * NAME
 *	keyspace_supp 3h - the suppression scripts (one read, one write)
 * SYNOPSIS
 *	sl_supp_get_script: KEYS the entries; returns {index, reason, ...}
 *	of the live ones (1-based), a key of another type skipped.
 *
 *	sl_supp_put_script: KEYS n entries, then the stats hash when a
 *	counter is named; ARGV mode ("replace" or "keep": an existing entry
 *	stays), expires (Unix time, 0: none), source, counter field ("":
 *	none), then reason, added and detail per entry. Returns how many
 *	entries it wrote; the counter goes up by as many.
 *
 *	sl_supp_move_script: KEYS pairs (an entry under another form of its
 *	address, the entry of the canonical form); moves each to the
 *	canonical name, the longer-lasting entry winning when both exist.
 *	Returns {moved, merged} (sluicectl migrate).
 *
 *	SL_LUA_SUPP: the Lua functions sl_supp_read(key, now) and
 *	sl_supp_write(key, reason, source, added, detail, bounce_reason,
 *	expires) for scripts that read or write entries among other work.
 * DESCRIPTION
 *	The sources are lib/keyspace_supp*.lua, embedded at build time into
 *	keyspace_lua.h (generated in the build tree). A change of the
 *	storage layout is a change of these two functions.
 */
#ifndef SL_KEYSPACE_SUPP_H
#define SL_KEYSPACE_SUPP_H

#include "keyspace.h"
#include "lib/keyspace_lua.h"
#include "redis.h"

extern sl_script sl_supp_get_script;
extern sl_script sl_supp_put_script;
extern sl_script sl_supp_move_script;

/*
 * sl_keyspace_rename_script (keyspace_version.c, keyspace_rename.lua):
 * KEYS pairs (a format-1 name, its name today), ARGV a way and a type
 * per pair; returns {moved, merged, dropped, then name and type of each
 * key left alone} (sluicectl migrate).
 */
extern sl_script sl_keyspace_rename_script;

#endif

/*
 * NAME
 *	conf_include 3h - include files in sluice.conf (see conf_include.c)
 */
#ifndef SL_CONF_INCLUDE_H
#define SL_CONF_INCLUDE_H

#include <stddef.h>

typedef struct sl_conf_src sl_conf_src;

char *sl_conf_include_expand(const char *path, size_t *len, sl_conf_src **src);
void sl_conf_src_where(const sl_conf_src *src, int line, const char **file, int *file_line);
const char *sl_conf_src_file_of(const sl_conf_src *src, int line);
void sl_conf_src_set_current(const sl_conf_src *src);
const char *sl_conf_src_place(const sl_conf_src *src, const char *path, int line, char *buf,
                              size_t size);
const char *sl_conf_src_file(const sl_conf_src *src, size_t i);
void sl_conf_src_free(sl_conf_src *src);

#endif

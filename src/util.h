/* util.h — private helpers shared by the library's files: a monotonic clock and
 * directory creation. */
#ifndef DC_UTIL_H
#define DC_UTIL_H

#include "dc/error.h"

/* Seconds on a monotonic clock. */
double dc_now(void);

/* mkdir -p: create dir and its missing parents. */
dc_status dc_make_dirs(const char *dir);

#endif

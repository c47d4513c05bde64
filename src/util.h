/* util.h — private helpers shared by the library's files: a monotonic clock, the check
 * on input files, directory creation, the order-preserving float key and text from files
 * made fit for messages. */
#ifndef DC_UTIL_H
#define DC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dc/error.h"

/* Order-preserving map float -> uint32 (negatives: all bits flipped; positives: the sign
 * bit set), so keys sort as the floats do; dc_key_float undoes it exactly. */
static inline uint32_t dc_float_key(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
static inline float dc_key_float(uint32_t k) {
  uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Seconds on a monotonic clock. */
double dc_now(void);

/* A file the user hands in must not be a device (/dev/zero), FIFO or socket, and has at
 * most max_bytes when max_bytes > 0: refused with a one-line error naming it, instead of
 * a hang or a read without end. A path that cannot be stat'ed, and a directory, are left
 * to the caller's open and reader, which say why. */
dc_status dc_check_input(const char *path, unsigned long long max_bytes);

/* Take dir/.lock for this process (flock, released when *fd is closed or the process
 * ends, also when it is killed): a second run on the same output directory is refused
 * with a one-line error naming the run that holds it, instead of interleaving writes. */
dc_status dc_lock_dir(const char *dir, int *fd);

/* mkdir -p: create dir and its missing parents. */
dc_status dc_make_dirs(const char *dir);

/* Text from a file, fit for a one-line message, in buf[cap] (cap >= 4): bytes outside
 * printable ASCII (newline, other control bytes, UTF-8) become '?', and text longer than
 * cap - 1 is cut, ending in "...". Returns buf. */
const char *dc_printable(const char *s, char *buf, size_t cap);

#endif

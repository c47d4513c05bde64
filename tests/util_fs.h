/* util_fs.h — test helpers for write failures: a small tmpfs that fills up (ENOSPC, as
 * root) and a file-size limit on this process (EFBIG, always possible). Linked into every
 * test program. */
#ifndef DC_TEST_UTIL_FS_H
#define DC_TEST_UTIL_FS_H

#include <stddef.h>

/* Mount a tmpfs of `bytes` on a fresh directory and return it (malloc'd); NULL when this
 * process may not mount (not root, no CAP_SYS_ADMIN), with the reason in why[cap]. */
char *tu_small_fs(size_t bytes, char *why, size_t cap);
/* Change the size of that tmpfs (as `mount -o remount,size=`); 0 on success. */
int tu_small_fs_resize(const char *dir, size_t bytes);
/* Unmount and remove what tu_small_fs() made, and free the string. */
void tu_small_fs_release(char *dir);
/* Files this process writes may grow to `bytes` at most (RLIMIT_FSIZE with SIGXFSZ
 * ignored, so a write past it fails with EFBIG instead of killing the process);
 * bytes = 0 lifts the limit again. */
void tu_fsize_limit(size_t bytes);

#endif

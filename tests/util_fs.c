/* util_fs.c — see util_fs.h. */
#include "util_fs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

char *tu_small_fs(size_t bytes, char *why, size_t cap) {
  char *dir = strdup("/tmp/dc_test_smallfs_XXXXXX");
  if (!dir || !mkdtemp(dir)) {
    snprintf(why, cap, "mkdtemp: %s", strerror(errno));
    free(dir);
    return NULL;
  }
  char opts[64];
  snprintf(opts, sizeof opts, "size=%zu,mode=0777", bytes);
  if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
    snprintf(why, cap, "cannot mount a %zu-byte tmpfs: %s (needs root)", bytes, strerror(errno));
    rmdir(dir);
    free(dir);
    return NULL;
  }
  return dir;
}

int tu_small_fs_resize(const char *dir, size_t bytes) {
  char opts[64];
  snprintf(opts, sizeof opts, "size=%zu", bytes);
  return mount("tmpfs", dir, "tmpfs", MS_REMOUNT, opts);
}

void tu_small_fs_release(char *dir) {
  if (!dir) return;
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  free(dir);
}

void tu_fsize_limit(size_t bytes) {
  signal(SIGXFSZ, bytes ? SIG_IGN : SIG_DFL);
  struct rlimit r;
  getrlimit(RLIMIT_FSIZE, &r);
  r.rlim_cur = bytes ? (rlim_t)bytes : r.rlim_max;
  setrlimit(RLIMIT_FSIZE, &r);
}

/* util.c — see util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double dc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

dc_status dc_check_input(const char *path, unsigned long long max_bytes) {
  struct stat st;
  /* a path that cannot be stat'ed, or a directory, is left to the caller's open and
   * reader, which say why */
  if (stat(path, &st) != 0 || S_ISDIR(st.st_mode)) return DC_OK;
  if (!S_ISREG(st.st_mode)) {
    const char *what = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : S_ISFIFO(st.st_mode) ? "a pipe" : "a socket";
    return dc_fail(DC_ERR_IO, "%s: is %s, not a regular file", path, what);
  }
  if (max_bytes > 0 && (unsigned long long)st.st_size > max_bytes)
    return dc_fail(DC_ERR_IO, "%s: %lld bytes, more than the %llu this kind of file may have", path,
                   (long long)st.st_size, max_bytes);
  return DC_OK;
}

dc_status dc_lock_dir(const char *dir, int *fd) {
  char path[600];
  snprintf(path, sizeof path, "%.590s/.lock", dir);
  *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (*fd < 0) return dc_fail(DC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
  if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = "";
    ssize_t n = pread(*fd, pid, sizeof pid - 1, 0);
    pid[n > 0 ? n : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    close(*fd);
    *fd = -1;
    if (err == EWOULDBLOCK)
      return dc_fail(DC_ERR_IO,
                     "%s: another dctrain run%s%s is writing to this output directory: wait for it to end or "
                     "give this one another --output",
                     dir, pid[0] ? " (pid " : "", pid[0] ? strcat(pid, ")") : "");
    return dc_fail(DC_ERR_IO, "%s: cannot lock: %s", path, strerror(err));
  }
  char me[32];
  int len = snprintf(me, sizeof me, "%ld\n", (long)getpid());
  if (ftruncate(*fd, 0) != 0 || pwrite(*fd, me, (size_t)len, 0) != len) { /* the pid is only informative */
  }
  return DC_OK;
}

dc_status dc_make_dirs(const char *dir) {
  char buf[512];
  if (strlen(dir) >= sizeof buf) return dc_fail(DC_ERR_ARG, "%s: path too long", dir);
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return dc_fail(DC_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
      *p = c;
      if (c == '\0') break;
    }
  }
  return DC_OK;
}

const char *dc_printable(const char *s, char *buf, size_t cap) {
  size_t n = 0;
  for (; s[n] && n + 1 < cap; n++) buf[n] = (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e ? '?' : s[n];
  buf[n] = '\0';
  if (s[n] && cap >= 4) memcpy(buf + cap - 4, "...", 4);
  return buf;
}

/* util.c — see util.h. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double dc_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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

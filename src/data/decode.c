/* data/decode.c — image files through stb_image; see decode.h. */
#define _DEFAULT_SOURCE /* lstat, readlink */
#include "data/decode.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image.h>

#include "util.h"

const char *dc_open_failure(const char *path, int err, char *buf, size_t cap) {
  struct stat st;
  char target[512];
  ssize_t n;
  if (err == ENOENT && lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
      (n = readlink(path, target, sizeof target - 1)) >= 0) {
    target[n] = '\0';
    snprintf(buf, cap, "dangling symlink to '%s'", target);
  } else {
    snprintf(buf, cap, "%s", strerror(err));
  }
  return buf;
}

dc_status dc_image_decode(const char *path, int want, unsigned char **px, int *w, int *h, int *ch) {
  *px = NULL;
  *w = *h = *ch = 0;
  DC_TRY(dc_check_input(path, 0));
  FILE *f = fopen(path, "rb");
  if (!f) {
    char why[600];
    return dc_fail(DC_ERR_IO, "%s: cannot open image: %s", path, dc_open_failure(path, errno, why, sizeof why));
  }
  int iw = 0, ih = 0, ic = 0;
  /* the header first (stbi_info_from_file rewinds): refuse sizes before allocating */
  if (stbi_info_from_file(f, &iw, &ih, &ic) && (iw < 1 || ih < 1 || (uint64_t)iw * (uint64_t)ih > DC_IMAGE_MAX_PIXELS)) {
    fclose(f);
    return dc_fail(DC_ERR_DATA, "%s: cannot decode image: %d x %d pixels (at most %u, no side 0)", path, iw, ih,
                   DC_IMAGE_MAX_PIXELS);
  }
  unsigned char *p = stbi_load_from_file(f, &iw, &ih, &ic, want);
  fclose(f);
  if (!p) {
    const char *why = stbi_failure_reason();
    return dc_fail(DC_ERR_DATA, "%s: cannot decode image: %s", path, why ? why : "unknown error");
  }
  if (iw < 1 || ih < 1 || (uint64_t)iw * (uint64_t)ih > DC_IMAGE_MAX_PIXELS) { /* the header said otherwise */
    stbi_image_free(p);
    return dc_fail(DC_ERR_DATA, "%s: cannot decode image: %d x %d pixels (at most %u, no side 0)", path, iw, ih,
                   DC_IMAGE_MAX_PIXELS);
  }
  *px = p;
  *w = iw, *h = ih, *ch = want ? want : ic;
  return DC_OK;
}

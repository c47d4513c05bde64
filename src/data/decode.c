/* data/decode.c — image files through stb_image; see decode.h. */
#include "data/decode.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>

#include "util.h"

dc_status dc_image_decode(const char *path, int want, unsigned char **px, int *w, int *h, int *ch) {
  *px = NULL;
  *w = *h = *ch = 0;
  DC_TRY(dc_check_input(path, 0));
  FILE *f = fopen(path, "rb");
  if (!f) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
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

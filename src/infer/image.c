/* infer/image.c — colour conversion, bilinear resize, centre crop and normalisation of
 * one image into a model's input; see image.h. The resize is the image-folder loader's
 * own (data/resize.h), so a model sees at inference what its training data set fed it. */
#include "infer/image.h"

#include <stdlib.h>
#include <string.h>

#include "data/resize.h"

#define MAX_SIDE 65536

int dc_color_channels(dc_color c) { return c == DC_COLOR_GRAY ? 1 : 3; }

dc_status dc_image_to_input(const unsigned char *px, int w, int h, int ch, const dc_dcz_model *m, int C, int H,
                            int W, float *x, const char *what) {
  if (!px || !x) return dc_fail(DC_ERR_ARG, "%s: NULL pixels or output", what);
  if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE || ch < 1 || ch > 4)
    return dc_fail(DC_ERR_ARG, "%s: image %d x %d with %d channels; expected sides 1..%d and 1..4 channels", what, w,
                   h, ch, MAX_SIDE);
  const int cc = dc_color_channels(m->color);
  DC_ASSERT(cc == C);
  const int rw = m->resize ? m->resize : W, rh = m->resize ? m->resize : H;
  if (W > rw || H > rh)
    return dc_fail(DC_ERR_ARG, "%s: the model crops %d x %d out of a %d x %d resize", what, W, H, rw, rh);
  /* colour conversion into (h, w, cc) */
  unsigned char *conv = malloc((size_t)w * h * cc), *sized = NULL;
  if (!conv) return dc_fail(DC_ERR_NOMEM, "%s: out of memory", what);
  for (size_t p = 0; p < (size_t)w * h; p++) {
    const unsigned char *s = px + p * ch;
    unsigned char *d = conv + p * cc;
    int r = s[0], g = ch >= 3 ? s[1] : s[0], b = ch >= 3 ? s[2] : s[0];
    if (m->color == DC_COLOR_GRAY) {
      d[0] = ch >= 3 ? (unsigned char)((299 * r + 587 * g + 114 * b + 500) / 1000) : s[0];
    } else if (m->color == DC_COLOR_RGB) {
      d[0] = (unsigned char)r, d[1] = (unsigned char)g, d[2] = (unsigned char)b;
    } else {
      d[0] = (unsigned char)b, d[1] = (unsigned char)g, d[2] = (unsigned char)r;
    }
  }
  const unsigned char *img = conv;
  if (w != rw || h != rh) {
    sized = malloc((size_t)rw * rh * cc);
    dc_status st = sized && dc_resize_window(conv, w, h, cc, rw, rh, 0, 0, rw, rh, sized) == DC_OK
                       ? DC_OK
                       : dc_fail(DC_ERR_NOMEM, "%s: out of memory", what);
    if (st != DC_OK) {
      free(conv);
      free(sized);
      return st;
    }
    img = sized;
  }
  const int oy = (rh - H) / 2, ox = (rw - W) / 2;
  for (int c = 0; c < C; c++)
    for (int i = 0; i < H; i++)
      for (int j = 0; j < W; j++)
        x[((size_t)c * H + i) * W + j] =
            ((float)img[((size_t)(oy + i) * rw + (ox + j)) * cc + c] - m->mean[c]) * m->scale;
  free(conv);
  free(sized);
  return DC_OK;
}

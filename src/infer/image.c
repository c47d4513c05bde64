/* infer/image.c — colour conversion, bilinear resize, centre crop and normalisation of
 * one image into a model's input; see image.h. The resize uses the image-folder
 * loader's geometry (pixel centres at +0.5, edges clamped, 11-bit fixed-point weights)
 * generalised to any channel count and rectangle, so a model sees at inference what
 * its training data set fed it. */
#include "infer/image.h"

#include <stdlib.h>
#include <string.h>

#define LERP_BITS 11
#define LERP_ONE (1 << LERP_BITS)
#define MAX_SIDE 65536

int dc_color_channels(dc_color c) { return c == DC_COLOR_GRAY ? 1 : 3; }

/* Taps of output coordinate i of n resampled from m source pixels. */
static void taps(int i, int n, int m, int *a, int *b, int *wt) {
  double f = ((double)i + 0.5) * (double)m / (double)n - 0.5;
  int lo = (int)(f < 0 ? -1 : f);
  double frac = f - lo;
  if (lo < 0) {
    lo = 0;
    frac = 0;
  }
  if (lo >= m - 1) {
    lo = m - 1;
    frac = 0;
  }
  *a = lo;
  *b = lo + 1 < m ? lo + 1 : lo;
  *wt = (int)(frac * LERP_ONE + 0.5);
}

/* src (sh, sw, c) -> dst (dh, dw, c). */
static dc_status resize(const unsigned char *src, int sw, int sh, int c, unsigned char *dst, int dw, int dh) {
  int *t = malloc(sizeof(int) * 3 * (size_t)dw);
  if (!t) return dc_fail(DC_ERR_NOMEM, "out of memory");
  int *xa = t, *xb = t + dw, *xw = t + 2 * dw;
  for (int j = 0; j < dw; j++) taps(j, dw, sw, &xa[j], &xb[j], &xw[j]);
  for (int i = 0; i < dh; i++) {
    int ya, yb, yw;
    taps(i, dh, sh, &ya, &yb, &yw);
    const unsigned char *top = src + (size_t)ya * sw * c, *bot = src + (size_t)yb * sw * c;
    unsigned char *o = dst + (size_t)i * dw * c;
    for (int j = 0; j < dw; j++) {
      const int a = xa[j] * c, b = xb[j] * c, w = xw[j];
      for (int k = 0; k < c; k++) {
        int u = top[a + k] * (LERP_ONE - w) + top[b + k] * w;
        int v = bot[a + k] * (LERP_ONE - w) + bot[b + k] * w;
        o[j * c + k] = (unsigned char)((u * (LERP_ONE - yw) + v * yw + (1 << (2 * LERP_BITS - 1))) >> (2 * LERP_BITS));
      }
    }
  }
  free(t);
  return DC_OK;
}

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
    dc_status st = sized ? resize(conv, w, h, cc, sized, rw, rh) : dc_fail(DC_ERR_NOMEM, "%s: out of memory", what);
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

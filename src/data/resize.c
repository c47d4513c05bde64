/* data/resize.c — bilinear resize of a window; see resize.h. */
#include "data/resize.h"

#include <stdlib.h>

#define LERP_BITS 11 /* weights in 1/2048ths: two passes stay below 2^31 */
#define LERP_ONE (1 << LERP_BITS)

/* Source taps of output coordinate i of n when resampling from m: left tap *a, right
 * tap *b and the right tap's weight *w in [0, LERP_ONE]. Centre-aligned like OpenCV:
 * the output pixel centre i + 0.5 maps to (i + 0.5) * m / n in source pixels. */
static void lerp_taps(int i, int n, int m, int *a, int *b, int *w) {
  double f = ((double)i + 0.5) * (double)m / (double)n - 0.5;
  int lo = (int)(f < 0 ? -1 : f); /* floor for f >= -0.5 */
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
  *w = (int)(frac * LERP_ONE + 0.5);
}

dc_status dc_resize_window(const unsigned char *src, int sw, int sh, int ch, int dw, int dh, int oy, int ox, int ow,
                           int oh, unsigned char *dst) {
  int *xa = malloc(sizeof(int) * 3 * (size_t)ow);
  if (!xa) return DC_ERR_NOMEM;
  int *xb = xa + ow, *xw = xa + 2 * ow;
  for (int j = 0; j < ow; j++) lerp_taps(ox + j, dw, sw, &xa[j], &xb[j], &xw[j]);
  for (int i = 0; i < oh; i++) {
    int ya, yb, yw;
    lerp_taps(oy + i, dh, sh, &ya, &yb, &yw);
    const unsigned char *top = src + (size_t)ya * (size_t)sw * (size_t)ch;
    const unsigned char *bot = src + (size_t)yb * (size_t)sw * (size_t)ch;
    unsigned char *o = dst + (size_t)i * (size_t)ow * (size_t)ch;
    for (int j = 0; j < ow; j++) {
      const int a = xa[j] * ch, b = xb[j] * ch, w = xw[j];
      for (int k = 0; k < ch; k++) {
        int t = top[a + k] * (LERP_ONE - w) + top[b + k] * w; /* <= 255 * 2^11 */
        int u = bot[a + k] * (LERP_ONE - w) + bot[b + k] * w;
        o[j * ch + k] = (unsigned char)((t * (LERP_ONE - yw) + u * yw + (1 << (2 * LERP_BITS - 1))) >> (2 * LERP_BITS));
      }
    }
  }
  free(xa);
  return DC_OK;
}

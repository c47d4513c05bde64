/* plot.c — line plots as PNG files drawn in C (stb_easy_font text, stb_image_write
 * output), so a report can be looked at without Python; see dc/plot.h. The canvas,
 * text and axes are in plot/draw.c; the plots of `dctrain plot` in src/plot/. */
#include "dc/plot.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "atomic.h"
#include "plot/draw.h"

static dc_status write_png(const char *path, const canvas *c) {
  dc_atomic a;
  DC_TRY(dc_atomic_begin(&a, path));
  errno = 0;
  if (!stbi_write_png(a.tmp, c->w, c->h, 3, c->px, c->w * 3)) {
    int err = errno;
    dc_atomic_abort(&a);
    return dc_fail(DC_ERR_IO, "%s: cannot write the PNG: %s", a.tmp, err ? strerror(err) : "write failed");
  }
  return dc_atomic_commit(&a);
}

dc_status pl_write_png(const char *path, const canvas *c) { return write_png(path, c); }

dc_status dc_plot_png(const char *path, const char *title, const char *xlabel, const char *ylabel, const double *x,
                      int nx, const double *y, int nseries, const char *const *names) {
  if (nx < 1 || nseries < 1) return dc_fail(DC_ERR_ARG, "%s: a plot needs at least one point and one series", path);
  double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
  for (int i = 0; i < nx; i++) {
    if (!isfinite(x[i])) return dc_fail(DC_ERR_ARG, "%s: x[%d] is not finite", path, i);
    xmn = fmin(xmn, x[i]);
    xmx = fmax(xmx, x[i]);
  }
  for (int i = 0; i < nx * nseries; i++) {
    if (!isfinite(y[i])) return dc_fail(DC_ERR_ARG, "%s: y[%d] is not finite", path, i);
    ymn = fmin(ymn, y[i]);
    ymx = fmax(ymx, y[i]);
  }
  const int S = 2; /* font scale for labels */
  int legend_w = 0;
  for (int s = 0; s < nseries; s++) {
    int w = pl_text_width(names[s], S);
    if (w > legend_w) legend_w = w;
  }
  if (legend_w > 360) legend_w = 360;
  int L = 90, T = 56, B = 76, R = 60 + legend_w;
  if (R < 110) R = 110;
  int pw = 720, ph = 420;
  canvas c;
  DC_TRY(pl_canvas_new(&c, L + pw + R, T + ph + B));
  pl_axes a = {.c = &c, .x = L, .y = T, .w = pw, .h = ph};
  pl_scale_fit(&a.sx, xmn, xmx, 0, 6);
  pl_scale_fit(&a.sy, ymn, ymx, 0, 6);
  pl_axes_draw(&a, xlabel, ylabel);
  pl_text_centred(&c, L + pw / 2, 16, title, 3, PL_BLACK);

  /* series, each in ascending x */
  int *order = malloc(sizeof(int) * (size_t)nx);
  if (!order) {
    pl_canvas_free(&c);
    return dc_fail(DC_ERR_NOMEM, "out of memory");
  }
  for (int i = 0; i < nx; i++) {
    int j = i;
    while (j > 0 && x[order[j - 1]] > x[i]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
  for (int s = 0; s < nseries; s++) {
    rgb col = pl_palette[s % 10];
    int dashed = (s / 10) % 2; /* the colours repeat after 10 series: then dashed */
    const double *ys = y + (size_t)s * nx;
    for (int i = 1; i < nx; i++)
      pl_line(&c, pl_px(&a, x[order[i - 1]]), pl_py(&a, ys[order[i - 1]]), pl_px(&a, x[order[i]]),
              pl_py(&a, ys[order[i]]), 1.5, dashed, col);
    for (int i = 0; i < nx; i++) pl_disc(&c, pl_px(&a, x[i]), pl_py(&a, ys[i]), 4.0, col);
    /* legend entry, right of the frame */
    int lx = L + pw + 16, ly = T + 8 + s * 26;
    pl_line(&c, lx, ly + PL_FONT_H, lx + 28, ly + PL_FONT_H, 1.5, dashed, col);
    pl_disc(&c, lx + 14, ly + PL_FONT_H, 4.0, col);
    pl_text(&c, lx + 36, ly, names[s], S, 0, PL_BLACK);
  }
  free(order);
  dc_status st = write_png(path, &c);
  pl_canvas_free(&c);
  return st;
}

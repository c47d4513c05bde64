/* plot/hist.c — the weight histogram of one layer, pruned weights left out, with the
 * codebook centroids of shared layers marked underneath (Han et al. 2016, Fig. 4-5:
 * the centroids before and after fine-tuning); see dc_plot_hist in dc/plot.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/plot.h"
#include "plot/draw.h"
#include "plot/layer.h"

#define MAX_CODEBOOKS 4

typedef struct {
  char label[160];
  float c[256];
  int k, used; /* centroids; how many have weights */
  uint8_t in_use[256];
} marks;

/* The centroids of layer `layer` of path, those that some kept weight uses. */
static dc_status read_marks(const char *path, const char *layer, marks *m) {
  pl_layer l;
  DC_TRY(pl_layer_read(path, layer, &l));
  if (l.k == 0) {
    pl_layer_free(&l);
    return dc_fail(DC_ERR_ARG, "%s: layer %s is not shared (no codebook): give weights from a quantize stage", path,
                   layer);
  }
  memset(m, 0, sizeof *m);
  m->k = l.k;
  memcpy(m->c, l.codebook, sizeof(float) * (size_t)l.k);
  for (size_t i = 0; i < l.count; i++)
    if (pl_kept(&l, i)) m->in_use[l.index[i]] = 1;
  for (int j = 0; j < l.k; j++) m->used += m->in_use[j];
  char s[120];
  pl_short_name(path, s, sizeof s);
  snprintf(m->label, sizeof m->label, "centroids of %s (%d used)", s, m->used);
  pl_layer_free(&l);
  return DC_OK;
}

dc_status dc_plot_hist(const char *out, const char *weights, const char *layer, const char *const *codebooks,
                       int ncodebooks, int bins, const char *title) {
  if (bins < 5 || bins > 1000) return dc_fail(DC_ERR_ARG, "plot hist: --bins %d (expected 5 to 1000)", bins);
  if (ncodebooks < 0 || ncodebooks > MAX_CODEBOOKS)
    return dc_fail(DC_ERR_ARG, "plot hist: %d codebooks (at most %d)", ncodebooks, MAX_CODEBOOKS);
  pl_layer l;
  DC_TRY(pl_layer_read(weights, layer, &l));
  marks m[MAX_CODEBOOKS + 1];
  int nm = 0;
  dc_status s = DC_OK;
  /* nm counts only the marks read: a failed read leaves its slot unset (the centroid
   * loop below ran over one, found by a CI run of test_plot) */
  if (l.k > 0 && ncodebooks == 0 && (s = read_marks(weights, layer, &m[nm])) == DC_OK) nm++; /* its own codebook */
  for (int i = 0; s == DC_OK && i < ncodebooks; i++)
    if ((s = read_marks(codebooks[i], layer, &m[nm])) == DC_OK) nm++;
  size_t kept = 0;
  double amax = 0;
  for (size_t i = 0; s == DC_OK && i < l.count; i++)
    if (pl_kept(&l, i)) {
      kept++;
      amax = fmax(amax, fabs(l.w[i]));
    }
  for (int j = 0; j < nm; j++)
    for (int q = 0; q < m[j].k; q++)
      if (m[j].in_use[q]) amax = fmax(amax, fabs(m[j].c[q]));
  if (s == DC_OK && kept == 0) s = dc_fail(DC_ERR_ARG, "%s: layer %s has no kept weights to plot", weights, layer);
  canvas c = {0};
  double *h = NULL;
  if (s == DC_OK && !(h = calloc((size_t)bins, sizeof(double)))) s = dc_fail(DC_ERR_NOMEM, "out of memory");
  int strip = nm > 0 ? 16 + 26 * nm : 0;
  if (s == DC_OK) s = pl_canvas_new(&c, 1000, nm > 0 ? 620 + strip : 580);
  if (s == DC_OK) {
    if (amax == 0) amax = 1;
    double lo = -amax * 1.02, hi = amax * 1.02, bw = (hi - lo) / bins, hmax = 0;
    for (size_t i = 0; i < l.count; i++)
      if (pl_kept(&l, i)) {
        int b = (int)((l.w[i] - lo) / bw);
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        h[b]++;
      }
    for (int b = 0; b < bins; b++) hmax = fmax(hmax, h[b]);
    pl_axes a = {.c = &c, .x = 110, .y = 84, .w = 850, .h = 420};
    pl_scale_fit(&a.sx, lo, hi, 0, 8);
    pl_scale_fit(&a.sy, 0, hmax * (1.12 + 0.09 * nm), 0, 6); /* room for the legend */
    a.sy.lo = 0;
    pl_axes_draw(&a, NULL, "weights per bin");
    for (int b = 0; b < bins; b++) {
      if (h[b] == 0) continue;
      int x0 = (int)lround(pl_px(&a, lo + b * bw)), x1 = (int)lround(pl_px(&a, lo + (b + 1) * bw));
      int y0 = (int)lround(pl_py(&a, h[b]));
      pl_fill_rect(&c, x0, y0, x1 > x0 + 1 ? x1 - 1 : x1, a.y + a.h, pl_palette[0]);
    }
    pl_rect(&c, a.x, a.y, a.x + a.w + 1, a.y + a.h + 1, PL_BLACK);
    /* the centroids: one row each under the histogram, same x scale */
    static const pl_marker_shape shapes[] = {PL_CROSS, PL_DOT, PL_TRIANGLE, PL_SQUARE, PL_DIAMOND};
    static const int colours[] = {2, 3, 1, 4, 5};
    pl_legend_entry e[MAX_CODEBOOKS + 2];
    int ne = 0;
    e[ne++] = (pl_legend_entry){"kept weights", pl_palette[0], 0, 0, PL_DOT, 0, 1};
    if (nm > 0) {
      int sy = a.y + a.h + 56;
      pl_axes st = a;
      st.y = sy;
      st.h = strip - 10;
      for (int j = 0; j < nm; j++) {
        int ry = sy + 14 + 26 * j;
        rgb col = pl_palette[colours[j]];
        pl_fill_rect(&c, a.x, ry, a.x + a.w, ry + 1, PL_GRID);
        for (int q = 0; q < m[j].k; q++)
          if (m[j].in_use[q]) {
            double px = pl_px(&st, m[j].c[q]);
            pl_marker(&c, px, ry, shapes[j], 5, col);
          }
        e[ne++] = (pl_legend_entry){m[j].label, col, 0, 0, shapes[j], 5, 0};
      }
      pl_rect(&c, a.x, sy, a.x + a.w + 1, sy + strip - 8, PL_BLACK);
      pl_text(&c, 12, sy + (strip - 8) / 2 - PL_FONT_H, "centroids", 2, 0, PL_BLACK);
    }
    pl_text_centred(&c, a.x + a.w / 2, nm > 0 ? c.h - 34 : a.y + a.h + 40, "weight value", 2, PL_BLACK);
    pl_legend(&c, a.x + a.w - 8, a.y + 8, 1, e, ne);
    char t[200], sub[200], wn[120];
    pl_short_name(weights, wn, sizeof wn);
    if (title)
      snprintf(t, sizeof t, "%s", title);
    else
      snprintf(t, sizeof t, "Weights of %s (%s)", layer, wn);
    snprintf(sub, sizeof sub, "%zu of %zu weights kept (%.1f%%)%s; %d bins of %.4g", kept, l.count,
             100.0 * (double)kept / (double)l.count, kept < l.count ? ", pruned ones left out" : "", bins, bw);
    pl_text_fit(&c, a.x + a.w / 2, 16, t, 3, PL_BLACK);
    pl_text_fit(&c, a.x + a.w / 2, 52, sub, 2, PL_DARK);
    s = pl_write_png(out, &c);
  }
  free(h);
  pl_canvas_free(&c);
  pl_layer_free(&l);
  return s;
}

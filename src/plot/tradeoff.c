/* plot/tradeoff.c — accuracy against compression ratio for a set of runs: one labelled
 * point per run (its model.dcz's compression against fp32, its final test top-1), the
 * dense accuracy of the first run as a reference line; see dc_plot_tradeoff in
 * dc/plot.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/compress.h"
#include "dc/plot.h"
#include "dc/report.h"
#include "plot/draw.h"

typedef struct {
  char name[64];
  double ratio, top1, dense, kept;
  unsigned long long bytes;
} point;

static dc_status read_run(const char *dir, point *p) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  const char *b = dir + n;
  while (b > dir && b[-1] != '/') b--;
  snprintf(p->name, sizeof p->name, "%.*s", (int)(dir + n - b), b);
  static dc_stage_result r[DC_MAX_STAGES];
  int ns;
  DC_TRY(dc_stage_results_load(dir, r, DC_MAX_STAGES, &ns));
  if (ns == 0)
    return dc_fail(DC_ERR_ARG, "%s: no stages.csv: not a run's output directory, or no stage has finished", dir);
  char path[640];
  snprintf(path, sizeof path, "%.600s/model.dcz", dir);
  dc_dcz_layer *ls;
  int nl;
  dc_dcz_stats st = {0};
  if (dc_dcz_read_stats(path, &ls, &nl, &st) != DC_OK) {
    char why[300];
    snprintf(why, sizeof why, "%s", dc_failure_reason());
    dc_failure_clear();
    return dc_fail(DC_ERR_ARG, "%s: no readable model.dcz (%s): the run needs an encode stage", dir, why);
  }
  dc_dcz_free(ls, nl);
  p->ratio = st.ratio;
  p->bytes = (unsigned long long)st.file_bytes;
  dc_dcz_stats_free(&st);
  p->top1 = 100 * r[ns - 1].top1;
  p->dense = 100 * r[0].top1;
  p->kept = r[ns - 1].total ? 100.0 * (double)r[ns - 1].nonzero / (double)r[ns - 1].total : 100;
  return DC_OK;
}

dc_status dc_plot_tradeoff(const char *out, const char *const *runs, int nruns, const char *title) {
  if (nruns < 1 || nruns > 40) return dc_fail(DC_ERR_ARG, "plot tradeoff: %d runs (expected 1 to 40)", nruns);
  point *p = calloc((size_t)nruns, sizeof *p);
  if (!p) return dc_fail(DC_ERR_NOMEM, "out of memory");
  dc_status s = DC_OK;
  for (int i = 0; i < nruns && s == DC_OK; i++) s = read_run(runs[i], &p[i]);
  canvas c = {0};
  if (s == DC_OK) s = pl_canvas_new(&c, 1000, 640);
  if (s == DC_OK) {
    double xmn = INFINITY, xmx = 0, ymn = p[0].dense, ymx = p[0].dense;
    for (int i = 0; i < nruns; i++) {
      xmn = fmin(xmn, p[i].ratio);
      xmx = fmax(xmx, p[i].ratio);
      ymn = fmin(ymn, p[i].top1);
      ymx = fmax(ymx, p[i].top1);
    }
    pl_axes a = {.c = &c, .x = 110, .y = 90, .w = 760, .h = 460};
    pl_scale_fit(&a.sx, xmn / 1.15, xmx * 1.15, 1, 0);
    double pad = fmax(0.05, (ymx - ymn) * 0.12);
    pl_scale_fit(&a.sy, ymn - pad, fmin(100, ymx + pad), 0, 6);
    pl_axes_draw(&a, "compression ratio (fp32 bytes / model.dcz bytes, log scale)", "test top-1 (%)");
    double dy = pl_py(&a, p[0].dense);
    pl_line(&c, a.x + 1, dy, a.x + a.w - 1, dy, 0.8, 1, PL_GREY);
    char lab[160];
    for (int i = 0; i < nruns; i++) {
      double x = pl_px(&a, p[i].ratio), y = pl_py(&a, p[i].top1);
      pl_marker(&c, x, y, PL_DOT, 6, pl_palette[i % 10]);
      snprintf(lab, sizeof lab, "%s: %.1fx, %.2f%%", p[i].name, p[i].ratio, p[i].top1);
      int tw = pl_text_width(lab, 2), tx = (int)x + 10, ty = (int)y - PL_FONT_H - (i % 2 ? -10 : 12);
      if (tx + tw > a.x + a.w - 4) tx = (int)x - 10 - tw; /* keep it inside the frame */
      pl_fill_rect(&c, tx - 3, ty - 3, tx + tw + 3, ty + 2 * PL_FONT_H + 3, (rgb){255, 255, 255}); /* over grid lines */
      pl_text(&c, tx, ty, lab, 2, 0, PL_BLACK);
    }
    char t[200];
    if (title) snprintf(t, sizeof t, "%s", title);
    else snprintf(t, sizeof t, "Accuracy against size: %d run%s", nruns, nruns == 1 ? "" : "s");
    pl_text_fit(&c, a.x + a.w / 2, 18, t, 3, PL_BLACK);
    snprintf(lab, sizeof lab, "dashed line: the dense net (%s), %.2f%%",
             p[0].name, p[0].dense);
    pl_text_fit(&c, a.x + a.w / 2, 54, lab, 2, PL_DARK);
    s = pl_write_png(out, &c);
  }
  pl_canvas_free(&c);
  free(p);
  return s;
}

/* plot/curves.c — training curves from runs' log.csv files: the training loss (log
 * scale) and the test top-1 against the iteration, stage boundaries marked; see
 * dc_plot_curves in dc/plot.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/plot.h"
#include "plot/draw.h"
#include "util.h"

#define LOG_HEADER "stage,stage_iter,iter,phase,loss"

typedef struct {
  double *x, *y;
  int n, cap;
} series;

typedef struct {
  char run[64];
  series train, test;
  double bound[256]; /* iteration where stage label[i + 1] starts */
  char label[257][32];
  int nstages;
} run_log;

static dc_status push(series *s, double x, double y) {
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 256;
    double *nx = realloc(s->x, sizeof(double) * (size_t)cap), *ny;
    if (!nx) return dc_fail(DC_ERR_NOMEM, "out of memory reading a log");
    s->x = nx;
    ny = realloc(s->y, sizeof(double) * (size_t)cap);
    if (!ny) return dc_fail(DC_ERR_NOMEM, "out of memory reading a log");
    s->y = ny;
    s->cap = cap;
  }
  s->x[s->n] = x;
  s->y[s->n++] = y;
  return DC_OK;
}

static void run_free(run_log *r) {
  free(r->train.x);
  free(r->train.y);
  free(r->test.x);
  free(r->test.y);
}

/* The run's name: the directory holding log.csv ("runs/lab1/log.csv" -> "lab1"). */
static void run_name(const char *path, char *buf, size_t cap) {
  const char *end = strrchr(path, '/');
  if (!end) {
    snprintf(buf, cap, "%s", path);
    return;
  }
  const char *start = end;
  while (start > path && start[-1] != '/') start--;
  if (start == end) snprintf(buf, cap, "%s", path);
  else snprintf(buf, cap, "%.*s", (int)(end - start), start);
}

static dc_status read_log(const char *path, run_log *r) {
  memset(r, 0, sizeof *r);
  run_name(path, r->run, sizeof r->run);
  DC_TRY(dc_check_input(path, 0));
  FILE *f = fopen(path, "r");
  if (!f) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  char line[512];
  int lineno = 0;
  dc_status s = DC_OK;
  while (s == DC_OK && fgets(line, sizeof line, f)) {
    lineno++;
    if (lineno == 1) {
      if (strncmp(line, LOG_HEADER, strlen(LOG_HEADER)) != 0)
        s = dc_fail(DC_ERR_FORMAT, "%s:1: not a dctrain log.csv (expected the header '%s,...')", path, LOG_HEADER);
      continue;
    }
    char stage[32], phase[16];
    long stage_iter, iter;
    double loss;
    if (sscanf(line, "%31[^,],%ld,%ld,%15[^,],%lf", stage, &stage_iter, &iter, phase, &loss) != 5) {
      s = dc_fail(DC_ERR_FORMAT, "%s:%d: expected 'stage,stage_iter,iter,phase,loss,...'", path, lineno);
      break;
    }
    if (r->nstages == 0 || strcmp(r->label[r->nstages - 1], stage) != 0) {
      if (r->nstages > 0 && r->nstages <= 256) r->bound[r->nstages - 1] = (double)(iter - stage_iter);
      if (r->nstages < 257) snprintf(r->label[r->nstages++], sizeof r->label[0], "%s", stage);
    }
    if (!strcmp(phase, "train")) {
      if (loss > 0 && isfinite(loss)) s = push(&r->train, (double)iter, loss);
    } else if (!strcmp(phase, "test")) {
      double top1;
      /* stage,stage_iter,iter,test,loss,,top1,... */
      const char *p = line;
      for (int commas = 0; *p && commas < 6; p++) commas += *p == ',';
      if (sscanf(p, "%lf", &top1) != 1 || !(top1 >= 0 && top1 <= 1)) {
        s = dc_fail(DC_ERR_FORMAT, "%s:%d: a test line without a top-1 fraction in column 7", path, lineno);
        break;
      }
      s = push(&r->test, (double)iter, 100 * top1);
    } else {
      s = dc_fail(DC_ERR_FORMAT, "%s:%d: phase '%s' (expected train or test)", path, lineno, phase);
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (s == DC_OK && bad) s = dc_fail(DC_ERR_IO, "%s: read error", path);
  if (s == DC_OK && lineno == 0) s = dc_fail(DC_ERR_FORMAT, "%s: empty file (not a dctrain log.csv)", path);
  if (s == DC_OK && r->train.n == 0 && r->test.n == 0)
    s = dc_fail(DC_ERR_FORMAT, "%s: no progress or test lines yet (nothing to plot)", path);
  if (s != DC_OK) run_free(r);
  return s;
}

static void draw_series(const pl_axes *a, const series *s, rgb col, double marker) {
  for (int i = 1; i < s->n; i++)
    if (s->x[i] >= s->x[i - 1])
      pl_line(a->c, pl_px(a, s->x[i - 1]), pl_py(a, s->y[i - 1]), pl_px(a, s->x[i]), pl_py(a, s->y[i]), 1.2, 0, col);
  for (int i = 0; marker > 0 && i < s->n; i++) pl_disc(a->c, pl_px(a, s->x[i]), pl_py(a, s->y[i]), marker, col);
}

/* Dashed lines where stages start; with labels (rotated, at the top of the panel), a
 * label left out where it would overlap the one before (a stage of no iterations). */
static void draw_stages(const pl_axes *a, const run_log *r, rgb col, int labels) {
  double last = -1e9;
  for (int i = -1; i + 1 < r->nstages && i < 256; i++) {
    double px = i < 0 ? pl_px(a, a->sx.lo) : pl_px(a, r->bound[i]);
    if (i >= 0) pl_line(a->c, px, a->y + 1, px, a->y + a->h - 1, 0.6, 1, col);
    if (!labels || r->nstages < 2) continue;
    double next = i + 1 < r->nstages - 1 ? pl_px(a, r->bound[i + 1]) : 1e9;
    if (next - px < 2 * PL_FONT_H + 4 || px - last < 2 * PL_FONT_H + 4) continue; /* no room */
    const char *t = r->label[i + 1];
    pl_text(a->c, (int)px + 4, a->y + 8 + pl_text_width(t, 2), t, 2, 1, PL_DARK);
    last = px;
  }
}

dc_status dc_plot_curves(const char *out, const char *const *logs, int nlogs, const char *title) {
  if (nlogs < 1 || nlogs > 10) return dc_fail(DC_ERR_ARG, "plot curves: %d log files (expected 1 to 10)", nlogs);
  run_log *r = calloc((size_t)nlogs, sizeof *r);
  if (!r) return dc_fail(DC_ERR_NOMEM, "out of memory");
  dc_status s = DC_OK;
  int nread = 0;
  for (; nread < nlogs && s == DC_OK; nread++) s = read_log(logs[nread], &r[nread]);
  if (s != DC_OK) nread--;
  canvas c = {0};
  if (s == DC_OK) s = pl_canvas_new(&c, 1000, 790);
  if (s == DC_OK) {
    double xmx = 1, lmn = INFINITY, lmx = -INFINITY, amn = INFINITY, amx = -INFINITY;
    for (int i = 0; i < nlogs; i++) {
      for (int j = 0; j < r[i].train.n; j++) {
        xmx = fmax(xmx, r[i].train.x[j]);
        lmn = fmin(lmn, r[i].train.y[j]);
        lmx = fmax(lmx, r[i].train.y[j]);
      }
      for (int j = 0; j < r[i].test.n; j++) {
        xmx = fmax(xmx, r[i].test.x[j]);
        amn = fmin(amn, r[i].test.y[j]);
        amx = fmax(amx, r[i].test.y[j]);
      }
    }
    if (!isfinite(lmn)) lmn = lmx = 1;
    if (!isfinite(amn)) amn = amx = 50;
    pl_axes top = {.c = &c, .x = 110, .y = 62, .w = 840, .h = 270}, bot = {.c = &c, .x = 110, .y = 412, .w = 840, .h = 270};
    pl_scale_fit(&top.sx, 0, xmx, 0, 8);
    bot.sx = top.sx;
    pl_scale_fit(&top.sy, lmn, lmx, 1, 0);
    pl_scale_fit(&bot.sy, amn, fmin(100, amx), 0, 6);
    if (bot.sy.hi > 100 && amx <= 100) bot.sy.hi = 100;
    pl_axes_draw(&top, NULL, "training loss (log)");
    pl_axes_draw(&bot, "iteration (all stages)", "test top-1 (%)");
    for (int i = 0; i < nlogs; i++) {
      rgb col = nlogs == 1 ? PL_GREY : pl_palette[i % 10];
      draw_stages(&top, &r[i], col, nlogs == 1);
      draw_stages(&bot, &r[i], col, 0);
    }
    for (int i = 0; i < nlogs; i++) {
      rgb col = pl_palette[i % 10];
      draw_series(&top, &r[i].train, col, 0);
      draw_series(&bot, &r[i].test, nlogs == 1 ? pl_palette[3] : col, 3.5);
    }
    char t[200];
    if (title) snprintf(t, sizeof t, "%s", title);
    else if (nlogs == 1) snprintf(t, sizeof t, "Training curves: %s", r[0].run);
    else snprintf(t, sizeof t, "Training curves of %d runs", nlogs);
    pl_text_fit(&c, 110 + 420, 18, t, 3, PL_BLACK);
    int staged = 0;
    for (int i = 0; i < nlogs; i++) staged |= r[i].nstages > 1;
    const char *hint = nlogs == 1 ? "dashed lines: where a stage starts (its name beside the line)"
                                  : "dashed lines: where each run's stages start";
    if (staged) pl_text_fit(&c, 110 + 420, 762, hint, 2, PL_DARK);
    if (nlogs > 1) { /* one run: the axis labels say what the lines are */
      pl_legend_entry e[10];
      for (int i = 0; i < nlogs; i++) e[i] = (pl_legend_entry){r[i].run, pl_palette[i % 10], 1.5, 0, PL_DOT, 3.5, 0};
      pl_legend(&c, 110 + 840 - 8, 62 + 8, 1, e, nlogs);
    }
    s = pl_write_png(out, &c);
  }
  pl_canvas_free(&c);
  for (int i = 0; i < nread; i++) run_free(&r[i]);
  free(r);
  return s;
}

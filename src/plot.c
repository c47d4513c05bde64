/* plot.c — line plots as PNG files drawn in C (stb_easy_font text, stb_image_write
 * output), so a report can be looked at without Python; see dc/plot.h. */
#include "dc/plot.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "atomic.h"
/* stb_easy_font is header-only with static functions; not all of them are used here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

typedef struct {
  uint8_t r, g, b;
} rgb;

typedef struct {
  uint8_t *px; /* (h, w, 3) */
  int w, h;
} canvas;

/* matplotlib's "tab10" palette: distinct and colour-blind friendly enough */
static const rgb g_palette[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                  {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

static void put(canvas *c, int x, int y, rgb col) {
  if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
  uint8_t *p = c->px + ((size_t)y * c->w + x) * 3;
  p[0] = col.r;
  p[1] = col.g;
  p[2] = col.b;
}

/* [x0, x1) x [y0, y1) */
static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, rgb col) {
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++) put(c, x, y, col);
}

static void disc(canvas *c, double cx, double cy, double radius, rgb col) {
  int r = (int)ceil(radius);
  for (int dy = -r; dy <= r; dy++)
    for (int dx = -r; dx <= r; dx++)
      if (dx * dx + dy * dy <= radius * radius) put(c, (int)lround(cx) + dx, (int)lround(cy) + dy, col);
}

/* A thick line: discs stamped along it at sub-pixel steps; dashed: 8 pixels on, 5 off. */
static void thick_line(canvas *c, double x0, double y0, double x1, double y1, double radius, int dashed, rgb col) {
  double len = hypot(x1 - x0, y1 - y0);
  int steps = (int)ceil(len * 2) + 1;
  for (int i = 0; i <= steps; i++) {
    double t = (double)i / steps;
    if (dashed && fmod(t * len, 13.0) >= 8.0) continue;
    disc(c, x0 + t * (x1 - x0), y0 + t * (y1 - y0), radius, col);
  }
}

/* stb_easy_font indexes a table by (char - 32): keep to printable ASCII */
static void printable(const char *s, char *buf, size_t cap) {
  size_t n = 0;
  for (; *s && n + 1 < cap; s++) buf[n++] = (*s >= 32 && *s < 127) ? *s : '?';
  buf[n] = '\0';
}

static int text_width(const char *s, int scale) {
  char buf[256];
  printable(s, buf, sizeof buf);
  return stb_easy_font_width(buf) * scale;
}

/* Glyph cap height in font units (the font's line is 12 units; letters span ~7). */
#define FONT_H 7

/* Draw s with its top-left corner at (x, y), `scale` pixels per font unit. rotated:
 * turned 90 degrees counter-clockwise (reads bottom to top), (x, y) then being the
 * bottom-left corner of the unrotated text's box. */
static void draw_text(canvas *c, int x, int y, const char *s, int scale, int rotated, rgb col) {
  char buf[256];
  printable(s, buf, sizeof buf);
  static char vbuf[256 * 300]; /* ~270 bytes per character */
  int quads = stb_easy_font_print(0, 0, buf, NULL, vbuf, (int)sizeof vbuf);
  for (int q = 0; q < quads; q++) {
    float mnx = 1e9f, mny = 1e9f, mxx = -1e9f, mxy = -1e9f;
    for (int v = 0; v < 4; v++) {
      float fx, fy;
      memcpy(&fx, vbuf + (q * 4 + v) * 16, sizeof fx);
      memcpy(&fy, vbuf + (q * 4 + v) * 16 + 4, sizeof fy);
      mnx = fminf(mnx, fx);
      mxx = fmaxf(mxx, fx);
      mny = fminf(mny, fy);
      mxy = fmaxf(mxy, fy);
    }
    int a0 = (int)lroundf(mnx * scale), a1 = (int)lroundf(mxx * scale);
    int b0 = (int)lroundf(mny * scale), b1 = (int)lroundf(mxy * scale);
    if (!rotated) fill_rect(c, x + a0, y + b0, x + a1, y + b1, col);
    else fill_rect(c, x + b0, y - a1, x + b1, y - a0, col);
  }
}

/* A round step giving about `target` intervals over [lo, hi]. */
static double nice_step(double lo, double hi, int target) {
  double raw = (hi - lo) / target;
  double mag = pow(10.0, floor(log10(raw)));
  double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void axis_range(double mn, double mx, double *lo, double *hi, double *step) {
  if (mx - mn < 1e-9 * fmax(1.0, fabs(mx))) {
    double pad = fmax(1.0, fabs(mx) * 0.05);
    mn -= pad;
    mx += pad;
  }
  *step = nice_step(mn, mx, 6);
  *lo = floor(mn / *step + 1e-9) * *step;
  *hi = ceil(mx / *step - 1e-9) * *step;
}

static void tick_label(double v, double step, char *buf, size_t cap) {
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (dec > 6) dec = 6;
  if (fabs(v) < step * 1e-9) v = 0.0; /* no "-0" */
  snprintf(buf, cap, "%.*f", dec, v);
}

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
  double xlo, xhi, xstep, ylo, yhi, ystep;
  axis_range(xmn, xmx, &xlo, &xhi, &xstep);
  axis_range(ymn, ymx, &ylo, &yhi, &ystep);

  const int S = 2; /* font scale for labels */
  int legend_w = 0;
  for (int s = 0; s < nseries; s++) {
    int w = text_width(names[s], S);
    if (w > legend_w) legend_w = w;
  }
  if (legend_w > 360) legend_w = 360;
  int L = 90, T = 56, B = 76, R = 60 + legend_w;
  if (R < 110) R = 110;
  int pw = 720, ph = 420;
  canvas c = {NULL, L + pw + R, T + ph + B};
  c.px = malloc((size_t)c.w * c.h * 3);
  if (!c.px) return dc_fail(DC_ERR_NOMEM, "out of memory for a %dx%d plot", c.w, c.h);
  memset(c.px, 255, (size_t)c.w * c.h * 3);
  const rgb black = {0, 0, 0}, grid = {225, 225, 225}, dark = {60, 60, 60};
#define SX(v) (L + ((v) - xlo) / (xhi - xlo) * pw)
#define SY(v) (T + ph - ((v) - ylo) / (yhi - ylo) * ph)

  /* grid, ticks and tick labels */
  char lab[64];
  for (int k = 0;; k++) {
    double v = xlo + k * xstep;
    if (v > xhi + xstep * 1e-6) break;
    int px = (int)lround(SX(v));
    fill_rect(&c, px, T, px + 1, T + ph, grid);
    fill_rect(&c, px, T + ph, px + 1, T + ph + 6, black);
    tick_label(v, xstep, lab, sizeof lab);
    draw_text(&c, px - text_width(lab, S) / 2, T + ph + 12, lab, S, 0, dark);
  }
  for (int k = 0;; k++) {
    double v = ylo + k * ystep;
    if (v > yhi + ystep * 1e-6) break;
    int py = (int)lround(SY(v));
    fill_rect(&c, L, py, L + pw, py + 1, grid);
    fill_rect(&c, L - 6, py, L, py + 1, black);
    tick_label(v, ystep, lab, sizeof lab);
    draw_text(&c, L - 12 - text_width(lab, S), py - FONT_H * S / 2, lab, S, 0, dark);
  }
  /* frame */
  fill_rect(&c, L, T, L + pw + 1, T + 1, black);
  fill_rect(&c, L, T + ph, L + pw + 1, T + ph + 1, black);
  fill_rect(&c, L, T, L + 1, T + ph + 1, black);
  fill_rect(&c, L + pw, T, L + pw + 1, T + ph + 1, black);
  /* labels and title */
  draw_text(&c, L + pw / 2 - text_width(xlabel, S) / 2, T + ph + 44, xlabel, S, 0, black);
  draw_text(&c, 18, T + ph / 2 + text_width(ylabel, S) / 2, ylabel, S, 1, black);
  draw_text(&c, L + pw / 2 - text_width(title, 3) / 2, 16, title, 3, 0, black);

  /* series, each in ascending x */
  int *order = malloc(sizeof(int) * (size_t)nx);
  if (!order) {
    free(c.px);
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
    rgb col = g_palette[s % 10];
    int dashed = (s / 10) % 2; /* the colours repeat after 10 series: then dashed */
    const double *ys = y + (size_t)s * nx;
    for (int i = 1; i < nx; i++)
      thick_line(&c, SX(x[order[i - 1]]), SY(ys[order[i - 1]]), SX(x[order[i]]), SY(ys[order[i]]), 1.5, dashed, col);
    for (int i = 0; i < nx; i++) disc(&c, SX(x[i]), SY(ys[i]), 4.0, col);
    /* legend entry, right of the frame */
    int lx = L + pw + 16, ly = T + 8 + s * 26;
    thick_line(&c, lx, ly + FONT_H, lx + 28, ly + FONT_H, 1.5, dashed, col);
    disc(&c, lx + 14, ly + FONT_H, 4.0, col);
    draw_text(&c, lx + 36, ly, names[s], S, 0, black);
  }
#undef SX
#undef SY
  free(order);
  dc_status st = write_png(path, &c);
  free(c.px);
  return st;
}

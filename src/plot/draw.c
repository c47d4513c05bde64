/* plot/draw.c — the canvas, text, axes, legends and colour scale of the PNG plots;
 * see plot/draw.h. */
#include "plot/draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* stb_easy_font is header-only with static functions; not all of them are used here */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

const rgb pl_palette[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                            {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

dc_status pl_canvas_new(canvas *c, int w, int h) {
  c->w = w;
  c->h = h;
  c->px = malloc((size_t)w * h * 3);
  if (!c->px) return dc_fail(DC_ERR_NOMEM, "out of memory for a %dx%d plot", w, h);
  memset(c->px, 255, (size_t)w * h * 3);
  return DC_OK;
}

void pl_canvas_free(canvas *c) {
  free(c->px);
  c->px = NULL;
}

void pl_put(canvas *c, int x, int y, rgb col) {
  if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
  uint8_t *p = c->px + ((size_t)y * c->w + x) * 3;
  p[0] = col.r;
  p[1] = col.g;
  p[2] = col.b;
}

void pl_fill_rect(canvas *c, int x0, int y0, int x1, int y1, rgb col) {
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 > c->w) x1 = c->w;
  if (y1 > c->h) y1 = c->h;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++) pl_put(c, x, y, col);
}

void pl_rect(canvas *c, int x0, int y0, int x1, int y1, rgb col) {
  pl_fill_rect(c, x0, y0, x1, y0 + 1, col);
  pl_fill_rect(c, x0, y1 - 1, x1, y1, col);
  pl_fill_rect(c, x0, y0, x0 + 1, y1, col);
  pl_fill_rect(c, x1 - 1, y0, x1, y1, col);
}

void pl_disc(canvas *c, double cx, double cy, double radius, rgb col) {
  int r = (int)ceil(radius);
  for (int dy = -r; dy <= r; dy++)
    for (int dx = -r; dx <= r; dx++)
      if (dx * dx + dy * dy <= radius * radius) pl_put(c, (int)lround(cx) + dx, (int)lround(cy) + dy, col);
}

void pl_line(canvas *c, double x0, double y0, double x1, double y1, double radius, int dashed, rgb col) {
  double len = hypot(x1 - x0, y1 - y0);
  int steps = (int)ceil(len * 2) + 1;
  for (int i = 0; i <= steps; i++) {
    double t = (double)i / steps;
    if (dashed && fmod(t * len, 13.0) >= 8.0) continue;
    pl_disc(c, x0 + t * (x1 - x0), y0 + t * (y1 - y0), radius, col);
  }
}

void pl_marker(canvas *c, double cx, double cy, pl_marker_shape m, double s, rgb col) {
  switch (m) {
    case PL_DOT:
      pl_disc(c, cx, cy, s, col);
      break;
    case PL_CROSS:
      pl_line(c, cx - s, cy - s, cx + s, cy + s, 1.2, 0, col);
      pl_line(c, cx - s, cy + s, cx + s, cy - s, 1.2, 0, col);
      break;
    case PL_SQUARE:
      pl_fill_rect(c, (int)lround(cx - s), (int)lround(cy - s), (int)lround(cx + s) + 1, (int)lround(cy + s) + 1, col);
      break;
    case PL_TRIANGLE: /* pointing up */
      for (int dy = (int)-lround(s); dy <= lround(s); dy++) {
        double half = (dy + s) / 2.0 * 1.15;
        pl_fill_rect(c, (int)lround(cx - half), (int)lround(cy + dy), (int)lround(cx + half) + 1,
                     (int)lround(cy + dy) + 1, col);
      }
      break;
    case PL_DIAMOND:
      for (int dy = (int)-lround(s); dy <= lround(s); dy++) {
        double half = s - fabs((double)dy);
        pl_fill_rect(c, (int)lround(cx - half), (int)lround(cy + dy), (int)lround(cx + half) + 1,
                     (int)lround(cy + dy) + 1, col);
      }
      break;
  }
}

/* ---- text ---- */

/* stb_easy_font indexes a table by (char - 32): keep to printable ASCII */
static void printable(const char *s, char *buf, size_t cap) {
  size_t n = 0;
  for (; *s && n + 1 < cap; s++) buf[n++] = (*s >= 32 && *s < 127) ? *s : '?';
  buf[n] = '\0';
}

int pl_text_width(const char *s, int scale) {
  char buf[256];
  printable(s, buf, sizeof buf);
  return stb_easy_font_width(buf) * scale;
}

void pl_text(canvas *c, int x, int y, const char *s, int scale, int rotated, rgb col) {
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
    if (!rotated) pl_fill_rect(c, x + a0, y + b0, x + a1, y + b1, col);
    else pl_fill_rect(c, x + b0, y - a1, x + b1, y - a0, col);
  }
}

void pl_text_centred(canvas *c, int cx, int y, const char *s, int scale, rgb col) {
  pl_text(c, cx - pl_text_width(s, scale) / 2, y, s, scale, 0, col);
}

void pl_text_fit(canvas *c, int cx, int y, const char *s, int scale, rgb col) {
  while (scale > 1 && pl_text_width(s, scale) > c->w - 20) scale--;
  int w = pl_text_width(s, scale);
  if (cx - w / 2 < 10) cx = 10 + w / 2;
  if (cx + w / 2 > c->w - 10) cx = c->w - 10 - w / 2;
  pl_text_centred(c, cx, y, s, scale, col);
}

/* ---- colour ---- */

rgb pl_viridis(double t) {
  /* viridis sampled at 9 points, interpolated linearly */
  static const uint8_t k[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
                                  {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  if (!(t > 0)) t = 0;
  if (t > 1) t = 1;
  double f = t * 8;
  int i = (int)f;
  if (i > 7) i = 7;
  f -= i;
  rgb r = {(uint8_t)lround(k[i][0] + f * (k[i + 1][0] - k[i][0])), (uint8_t)lround(k[i][1] + f * (k[i + 1][1] - k[i][1])),
           (uint8_t)lround(k[i][2] + f * (k[i + 1][2] - k[i][2]))};
  return r;
}

/* ---- scales and axes ---- */

/* A round step giving about `target` intervals over [lo, hi]. */
static double nice_step(double lo, double hi, int target) {
  double raw = (hi - lo) / target;
  double mag = pow(10.0, floor(log10(raw)));
  double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

void pl_scale_fit(pl_scale *s, double mn, double mx, int log, int ticks) {
  s->log = log;
  if (log) {
    if (!(mn > 0)) mn = 1e-3;
    if (!(mx >= mn)) mx = mn;
    double a = floor(log10(mn) + 1e-9), b = ceil(log10(mx) - 1e-9);
    if (b <= a) b = a + 1;
    if (b - a > 3) {
      s->lo = pow(10, a);
      s->hi = pow(10, b);
    } else { /* within three decades: the 1-2-5 values around the data */
      static const double m[] = {1, 2, 5, 10};
      double lo = pow(10, a), hi = pow(10, b);
      for (int i = 3; i >= 0; i--)
        if (m[i] * pow(10, a) <= mn * (1 + 1e-9)) {
          lo = m[i] * pow(10, a);
          break;
        }
      for (int i = 0; i < 4; i++)
        if (m[i] * pow(10, b - 1) >= mx * (1 - 1e-9)) { /* the first 1-2-5 value above mx */
          hi = m[i] * pow(10, b - 1);
          break;
        }
      s->lo = lo;
      s->hi = hi > lo ? hi : lo * 10;
    }
    s->step = 0;
    return;
  }
  if (mx - mn < 1e-9 * fmax(1.0, fabs(mx))) {
    double pad = fmax(1.0, fabs(mx) * 0.05);
    mn -= pad;
    mx += pad;
  }
  s->step = nice_step(mn, mx, ticks);
  s->lo = floor(mn / s->step + 1e-9) * s->step;
  s->hi = ceil(mx / s->step - 1e-9) * s->step;
}

static double frac(const pl_scale *s, double v) {
  if (s->log) return (log10(v) - log10(s->lo)) / (log10(s->hi) - log10(s->lo));
  return (v - s->lo) / (s->hi - s->lo);
}

double pl_px(const pl_axes *a, double v) { return a->x + frac(&a->sx, v) * a->w; }
double pl_py(const pl_axes *a, double v) { return a->y + a->h - frac(&a->sy, v) * a->h; }

void pl_tick_label(double v, double step, int log, char *buf, int cap) {
  if (log) {
    snprintf(buf, (size_t)cap, "%g", v);
    return;
  }
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  if (dec > 6) dec = 6;
  if (fabs(v) < step * 1e-9) v = 0.0; /* no "-0" */
  snprintf(buf, (size_t)cap, "%.*f", dec, v);
}

/* The tick values of s into v[], at most max; returns how many. */
static int ticks_of(const pl_scale *s, double *v, int max) {
  int n = 0;
  if (!s->log) {
    for (int k = 0; n < max; k++) {
      double t = s->lo + k * s->step;
      if (t > s->hi + s->step * 1e-6) break;
      v[n++] = t;
    }
    return n;
  }
  double decades = log10(s->hi) - log10(s->lo);
  static const double m125[] = {1, 2, 5};
  for (double d = floor(log10(s->lo) + 1e-9); d <= ceil(log10(s->hi) - 1e-9) && n < max; d++)
    for (int i = 0; i < (decades < 3.01 ? 3 : 1) && n < max; i++) {
      double t = m125[i] * pow(10, d);
      if (t >= s->lo * (1 - 1e-9) && t <= s->hi * (1 + 1e-9)) v[n++] = t;
    }
  return n;
}

void pl_axes_draw(const pl_axes *a, const char *xlabel, const char *ylabel) {
  canvas *c = a->c;
  const int S = 2;
  char lab[64];
  double t[64];
  int n = ticks_of(&a->sx, t, 64);
  for (int k = 0; k < n; k++) {
    int px = (int)lround(pl_px(a, t[k]));
    pl_fill_rect(c, px, a->y, px + 1, a->y + a->h, PL_GRID);
    pl_fill_rect(c, px, a->y + a->h, px + 1, a->y + a->h + 6, PL_BLACK);
    pl_tick_label(t[k], a->sx.step, a->sx.log, lab, sizeof lab);
    pl_text_centred(c, px, a->y + a->h + 12, lab, S, PL_DARK);
  }
  n = ticks_of(&a->sy, t, 64);
  int widest = 0;
  for (int k = 0; k < n; k++) {
    int py = (int)lround(pl_py(a, t[k]));
    pl_fill_rect(c, a->x, py, a->x + a->w, py + 1, PL_GRID);
    pl_fill_rect(c, a->x - 6, py, a->x, py + 1, PL_BLACK);
    pl_tick_label(t[k], a->sy.step, a->sy.log, lab, sizeof lab);
    int tw = pl_text_width(lab, S);
    if (tw > widest) widest = tw;
    pl_text(c, a->x - 12 - tw, py - PL_FONT_H * S / 2, lab, S, 0, PL_DARK);
  }
  pl_rect(c, a->x, a->y, a->x + a->w + 1, a->y + a->h + 1, PL_BLACK);
  if (xlabel) pl_text_centred(c, a->x + a->w / 2, a->y + a->h + 40, xlabel, S, PL_BLACK);
  if (ylabel) {
    int yx = a->x - 12 - widest - 14 - PL_FONT_H * S;
    if (yx < 4) yx = 4;
    pl_text(c, yx, a->y + a->h / 2 + pl_text_width(ylabel, S) / 2, ylabel, S, 1, PL_BLACK);
  }
}

int pl_legend(canvas *c, int x, int y, int right, const pl_legend_entry *e, int n) {
  const int S = 2, row = 24, sample = 34;
  int tw = 0;
  for (int i = 0; i < n; i++) {
    int w = pl_text_width(e[i].text, S);
    if (w > tw) tw = w;
  }
  int bw = 10 + sample + 8 + tw + 10, bh = 8 + n * row;
  if (right) x -= bw;
  pl_fill_rect(c, x, y, x + bw, y + bh, (rgb){255, 255, 255});
  pl_rect(c, x, y, x + bw, y + bh, PL_GREY);
  for (int i = 0; i < n; i++) {
    int cy = y + 6 + i * row + row / 2 - 2;
    int sx = x + 10;
    if (e[i].box) pl_fill_rect(c, sx + 4, cy - 7, sx + sample - 4, cy + 8, e[i].col);
    if (e[i].line > 0) pl_line(c, sx, cy, sx + sample, cy, e[i].line, e[i].dashed, e[i].col);
    if (e[i].marker_size > 0) pl_marker(c, sx + sample / 2, cy, e[i].marker, e[i].marker_size, e[i].col);
    pl_text(c, sx + sample + 8, cy - PL_FONT_H * S / 2, e[i].text, S, 0, PL_BLACK);
  }
  return bh;
}

void pl_colour_bar(canvas *c, int x, int y, int w, int h, double lo, double hi, const char *label) {
  for (int i = 0; i < h; i++) pl_fill_rect(c, x, y + i, x + w, y + i + 1, pl_viridis(1.0 - (double)i / (h - 1)));
  pl_rect(c, x, y, x + w, y + h, PL_BLACK);
  pl_scale s;
  pl_scale_fit(&s, lo, hi, 0, 5);
  char lab[64];
  int widest = 0;
  for (int k = 0;; k++) {
    double v = s.lo + k * s.step;
    if (v > hi + s.step * 1e-6) break;
    if (v < lo - s.step * 1e-6) continue;
    int py = (int)lround(y + h - 1 - (v - lo) / (hi - lo) * (h - 1));
    pl_fill_rect(c, x + w, py, x + w + 6, py + 1, PL_BLACK);
    pl_tick_label(v, s.step, 0, lab, sizeof lab);
    int tw = pl_text_width(lab, 2);
    if (tw > widest) widest = tw;
    pl_text(c, x + w + 10, py - PL_FONT_H, lab, 2, 0, PL_DARK);
  }
  if (label) pl_text(c, x + w + 10 + widest + 12, y + h / 2 + pl_text_width(label, 2) / 2, label, 2, 1, PL_BLACK);
}

/* plot/draw.h — private: the raster canvas the PNG plots are drawn on, text in
 * stb_easy_font's bitmap font, linear and logarithmic axes with ticks and grid, legends
 * and a colour scale. Shared by src/plot.c (line plots) and the files of src/plot/ (the plots of
 * `dctrain plot`). Coordinates are pixels, (0, 0) top left. Nothing here fails except
 * allocation and writing; drawing outside the canvas is clipped. */
#ifndef DC_PLOT_DRAW_H
#define DC_PLOT_DRAW_H

#include <stdint.h>

#include "dc/error.h"

typedef struct {
  uint8_t r, g, b;
} rgb;

typedef struct {
  uint8_t *px; /* (h, w, 3) 8-bit RGB, owned */
  int w, h;
} canvas;

/* matplotlib's "tab10" colours: distinct and colour-blind friendly enough */
extern const rgb pl_palette[10];
#define PL_BLACK ((rgb){0, 0, 0})
#define PL_DARK ((rgb){60, 60, 60})
#define PL_GRID ((rgb){225, 225, 225})
#define PL_GREY ((rgb){150, 150, 150})

/* Glyph cap height in font units (the font's line is 12 units; letters span ~7). */
#define PL_FONT_H 7

/* A white w x h canvas; DC_ERR_NOMEM naming the size. Release with pl_canvas_free. */
dc_status pl_canvas_new(canvas *c, int w, int h);
void pl_canvas_free(canvas *c);

/* Write c as a PNG atomically (PATH.tmp renamed; src/plot.c). */
dc_status pl_write_png(const char *path, const canvas *c);

void pl_put(canvas *c, int x, int y, rgb col);
/* [x0, x1) x [y0, y1) */
void pl_fill_rect(canvas *c, int x0, int y0, int x1, int y1, rgb col);
/* The outline of [x0, x1) x [y0, y1), one pixel wide. */
void pl_rect(canvas *c, int x0, int y0, int x1, int y1, rgb col);
void pl_disc(canvas *c, double cx, double cy, double radius, rgb col);
/* A thick line: discs stamped along it; dashed: 8 pixels on, 5 off. */
void pl_line(canvas *c, double x0, double y0, double x1, double y1, double radius, int dashed, rgb col);

/* Point markers of about `size` pixels radius, told apart without colour. */
typedef enum { PL_DOT, PL_CROSS, PL_SQUARE, PL_TRIANGLE, PL_DIAMOND } pl_marker_shape;
void pl_marker(canvas *c, double cx, double cy, pl_marker_shape m, double size, rgb col);

/* Text: printable ASCII (others print as '?'), `scale` pixels per font unit. */
int pl_text_width(const char *s, int scale);
/* Top-left corner at (x, y). rotated: turned 90 degrees counter-clockwise (reads bottom
 * to top), (x, y) then being the bottom-left corner of the unrotated text's box. */
void pl_text(canvas *c, int x, int y, const char *s, int scale, int rotated, rgb col);
/* Centred on cx. */
void pl_text_centred(canvas *c, int cx, int y, const char *s, int scale, rgb col);
/* Centred on cx, moved and if need be shrunk (down to scale 1) to fit the canvas: for
 * titles that name files. */
void pl_text_fit(canvas *c, int cx, int y, const char *s, int scale, rgb col);

/* The viridis colour map at t in [0, 1] (dark blue .. yellow), clamped. */
rgb pl_viridis(double t);

/* An axis: data range [lo, hi] with ticks every `step` (linear) or at powers of ten
 * (and 2 and 5 times them when the range spans at most three decades; log). */
typedef struct {
  double lo, hi, step;
  int log;
} pl_scale;

/* Fit a scale around [mn, mx] widened to round ticks, about `ticks` of them (linear).
 * log: mn > 0 required (the caller drops non-positive values); the range is widened to
 * whole decades when it spans more than three, else to the 1-2-5 values around it. A
 * degenerate range is widened by 5% (or 1). */
void pl_scale_fit(pl_scale *s, double mn, double mx, int log, int ticks);

/* A plot area of a canvas with its two scales. */
typedef struct {
  canvas *c;
  int x, y, w, h; /* the frame, in pixels */
  pl_scale sx, sy;
} pl_axes;

double pl_px(const pl_axes *a, double v);
double pl_py(const pl_axes *a, double v);

/* Grid, ticks, tick labels, frame and axis labels (ylabel rotated, left of the tick
 * labels). Text at scale 2. */
void pl_axes_draw(const pl_axes *a, const char *xlabel, const char *ylabel);

/* A legend entry: a line sample (line > 0: radius, dashed), a marker (marker_size > 0)
 * or a filled box (box), then the text. */
typedef struct {
  const char *text;
  rgb col;
  double line;
  int dashed;
  pl_marker_shape marker;
  double marker_size;
  int box;
} pl_legend_entry;

/* Entries one under another from (x, y) in a white box with a grey outline; right: x is
 * the box's right edge instead of its left. Returns the box's height. */
int pl_legend(canvas *c, int x, int y, int right, const pl_legend_entry *e, int n);

/* A vertical colour bar for [lo, hi] (viridis) at x..x+w, y..y+h (hi on top), with
 * about five tick labels right of it and `label` rotated beside them. */
void pl_colour_bar(canvas *c, int x, int y, int w, int h, double lo, double hi, const char *label);

/* A number the way tick labels print it: `step` decides the decimals (linear), %g
 * style for log scales. */
void pl_tick_label(double v, double step, int log, char *buf, int cap);

#endif

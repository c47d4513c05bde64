/* test_plot.c — the pictures of `dctrain plot` (src/plot/): what is drawn where is
 * checked by decoding the PNGs: the mask plot's pixel grid (rows, columns, colour per
 * kept-connection count), the histogram's bars and centroid markers, the training
 * curves' stage lines; and every input error is one line naming the file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "data/decode.h"
#include "dc/h5.h"
#include "dc/plot.h"
#include "util_net.h"

static char *g_dir;

/* A one-layer net reading a 1x4x5 image: the mask plot's geometry without MNIST. */
static const char *const NET = "[input]\nchannels = 1\nheight = 4\nwidth = 5\n"
                               "[fc]\nname = fc1\nnum_output = 6\n[relu]\n[fc]\nname = fc2\nnum_output = 3\n"
                               "[softmax_loss]\n";

static void path_of(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_dir, name); }

/* fc1 (6 x 20) kept where keep(o, pixel); weights w(o, i) = sign * (0.1 + 0.01 * i);
 * with a codebook {-0.5, 0.25} when shared (index 1 for every weight). */
static void write_weights(const char *name, int (*keep)(int o, int pixel), int shared) {
  char p[600];
  path_of(p, sizeof p, name);
  float w[6 * 20];
  uint8_t m[6 * 20], idx[6 * 20];
  for (int o = 0; o < 6; o++)
    for (int i = 0; i < 20; i++) {
      m[o * 20 + i] = (uint8_t)keep(o, i);
      idx[o * 20 + i] = 1;
      w[o * 20 + i] = m[o * 20 + i] ? (shared ? 0.25f : (i % 2 ? -1.0f : 1.0f) * (0.1f + 0.01f * (float)i)) : 0.0f;
    }
  dc_h5 *f;
  assert_int_equal(dc_h5_create(p, &f), DC_OK);
  int64_t d[2] = {6, 20}, k = 2;
  assert_int_equal(dc_h5_write(f, "/params/fc1/weight", DC_H5_F32, 2, d, w), DC_OK);
  assert_int_equal(dc_h5_write(f, "/params/fc1/weight_mask", DC_H5_U8, 2, d, m), DC_OK);
  if (shared) {
    float cb[2] = {-0.5f, 0.25f};
    assert_int_equal(dc_h5_write(f, "/params/fc1/weight_codebook", DC_H5_F32, 1, &k, cb), DC_OK);
    assert_int_equal(dc_h5_write(f, "/params/fc1/weight_index", DC_H5_U8, 2, d, idx), DC_OK);
  }
  int64_t d2[2] = {3, 6};
  float w2[18] = {0};
  assert_int_equal(dc_h5_write(f, "/params/fc2/weight", DC_H5_F32, 2, d2, w2), DC_OK);
  assert_int_equal(dc_h5_commit(f), DC_OK);
}

/* pixel (row 1, col 3) = 8: all 6 outputs; pixel (row 3, col 0) = 15: outputs 0..2 */
static int keep_two(int o, int pixel) { return pixel == 8 || (pixel == 15 && o < 3); }
static int keep_all(int o, int pixel) { return (void)o, (void)pixel, 1; }

static int setup(void **state) {
  (void)state;
  g_dir = tu_tmpdir();
  free(tu_write_file(g_dir, "img.net", NET));
  write_weights("masked.h5", keep_two, 0);
  write_weights("shared.h5", keep_all, 1);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_rmdir(g_dir);
  return 0;
}

typedef struct {
  unsigned char *px;
  int w, h;
} image;

static image load(const char *png) {
  image im = {0};
  int ch;
  assert_int_equal(dc_image_decode(png, 3, &im.px, &im.w, &im.h, &ch), DC_OK);
  return im;
}

static void expect_rgb(const image *im, int x, int y, int r, int g, int b) {
  const unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
  if (abs(p[0] - r) > 2 || abs(p[1] - g) > 2 || abs(p[2] - b) > 2)
    fail_msg("pixel (%d, %d) is (%d, %d, %d), expected (%d, %d, %d)", x, y, p[0], p[1], p[2], r, g, b);
}

static void mask_grid(void **state) {
  (void)state;
  char w[600], net[600], png[600], tmp[620];
  path_of(w, sizeof w, "masked.h5");
  path_of(net, sizeof net, "img.net");
  path_of(png, sizeof png, "mask.png");
  assert_int_equal(dc_plot_mask(png, w, "fc1", net, NULL), DC_OK);
  snprintf(tmp, sizeof tmp, "%s.tmp", png);
  assert_int_not_equal(access(tmp, F_OK), 0);
  image im = load(png);
  /* 5 columns x 4 rows scaled by min(448 / 5, 32) = 32 from (90, 124) (src/plot/mask.c) */
  int sc = 32;
#define CELL(r, c) 90 + (c) * sc + sc / 2, 124 + (r) * sc + sc / 2
  expect_rgb(&im, CELL(1, 3), 253, 231, 37); /* 6 of 6 kept: the top of the scale, yellow */
  expect_rgb(&im, CELL(3, 0), 33, 144, 141); /* 3 of 6: the middle, teal */
  expect_rgb(&im, CELL(0, 0), 68, 1, 84);    /* none: the bottom, dark purple */
  expect_rgb(&im, CELL(3, 1), 68, 1, 84);
  expect_rgb(&im, CELL(1, 4), 68, 1, 84);
#undef CELL
  free(im.px);
}

static void expect_failure(dc_status s, const char *want) {
  assert_int_not_equal(s, DC_OK);
  const char *why = dc_failure_reason();
  if (!strstr(why, want)) fail_msg("'%s' does not say '%s'", why, want);
  if (strchr(why, '\n')) fail_msg("'%s' is more than one line", why);
  dc_failure_clear();
}

static void mask_errors(void **state) {
  (void)state;
  char w[600], net[600], png[600];
  path_of(w, sizeof w, "masked.h5");
  path_of(net, sizeof net, "img.net");
  path_of(png, sizeof png, "bad.png");
  dc_failure_clear();
  expect_failure(dc_plot_mask(png, w, "fc2", net, NULL), "the input of fc layer fc2 is not the image");
  expect_failure(dc_plot_mask(png, w, "fcl", net, NULL), "no weighted layer 'fcl' (it has: fc1, fc2; did you mean 'fc1'?)");
  expect_failure(dc_plot_mask(png, w, "fc1", NULL, NULL), "HDF5 weights carry no net file");
  /* the net's image has another size than the layer's inputs */
  free(tu_write_file(g_dir, "wide.net", "[input]\nchannels = 1\nheight = 4\nwidth = 6\n[fc]\nname = fc1\n"
                                        "num_output = 6\n[softmax_loss]\n"));
  path_of(net, sizeof net, "wide.net");
  expect_failure(dc_plot_mask(png, w, "fc1", net, NULL), "has shape 6x20");
  assert_int_not_equal(access(png, F_OK), 0);
}

static void hist_bars_and_centroids(void **state) {
  (void)state;
  char w[600], q[600], png[600];
  path_of(w, sizeof w, "masked.h5");
  path_of(q, sizeof q, "shared.h5");
  path_of(png, sizeof png, "hist.png");
  const char *cb[1] = {q};
  assert_int_equal(dc_plot_hist(png, w, "fc1", cb, 1, 20, NULL), DC_OK);
  image im = load(png);
  /* 9 kept weights: 6 at +0.18 (pixel 8), 3 at -0.25 (pixel 15); bins over
   * +-0.25 * 1.02, the axis widened to round ticks, -0.3..0.3, over 850 pixels from
   * x = 110; bars are tab10 blue */
  double lo = -0.3, hi = 0.3;
#define PX(v) (int)lround(110 + ((v) - lo) / (hi - lo) * 850)
  int blue_at_018 = 0, blue_at_m025 = 0, blue_at_0 = 0;
  for (int y = 84; y < 84 + 420; y++) {
    const unsigned char *a = im.px + ((size_t)y * im.w + PX(0.18)) * 3;
    const unsigned char *b = im.px + ((size_t)y * im.w + PX(-0.25) + 3) * 3;
    const unsigned char *c = im.px + ((size_t)y * im.w + PX(0.0)) * 3;
    blue_at_018 += a[0] == 31 && a[1] == 119 && a[2] == 180;
    blue_at_m025 += b[0] == 31 && b[1] == 119 && b[2] == 180;
    blue_at_0 += c[0] == 31 && c[1] == 119 && c[2] == 180;
  }
  assert_int_equal(blue_at_0, 0);       /* nothing near zero: the pruned weights are left out */
  assert_true(blue_at_m025 > 20);       /* a bar of 3 */
  assert_true(blue_at_018 > blue_at_m025 * 3 / 2); /* twice as tall: 6 (the axis is padded) */
  /* the shared file's one centroid in use, 0.25, is marked in the strip below (green
   * cross, row 1 at y = 504 + 56 + 14); the unused -0.5 is not */
  int green = 0;
  for (int x = 110; x < 960; x++) {
    const unsigned char *p = im.px + ((size_t)(504 + 56 + 14) * im.w + x) * 3;
    if (p[0] == 44 && p[1] == 160 && p[2] == 44) green += abs(x - PX(0.25)) <= 8 ? 1 : 1000;
  }
  assert_true(green > 0 && green < 1000);
#undef PX
  free(im.px);
  dc_failure_clear();
  path_of(png, sizeof png, "bad.png");
  expect_failure(dc_plot_hist(png, w, "fc1", cb + 0, 1, 2, NULL), "--bins 2");
  const char *notshared[1] = {w};
  expect_failure(dc_plot_hist(png, w, "fc1", notshared, 1, 20, NULL), "layer fc1 is not shared");
  char missing[600];
  path_of(missing, sizeof missing, "missing.h5");
  expect_failure(dc_plot_hist(png, missing, "fc1", NULL, 0, 20, NULL), "missing.h5: cannot open");
  expect_failure(dc_plot_hist(png, w, "fc9", NULL, 0, 20, NULL), "did you mean 'fc1'?");
  assert_int_not_equal(access(png, F_OK), 0);
}

static void curves_and_logs(void **state) {
  (void)state;
  free(tu_write_file(g_dir, "log.csv",
                     "stage,stage_iter,iter,phase,loss,lr,top1,top5,images_per_s,decode_per_thread,wait_s\n"
                     "train,10,10,train,2.0,0.01,,,1,1,0\ntrain,20,20,train,1.0,0.01,,,1,1,0\n"
                     "train,20,20,test,1.1,,0.500000,0.900000,,,\nprune1,10,30,train,0.5,0.01,,,1,1,0\n"
                     "prune1,20,40,train,0.4,0.01,,,1,1,0\nprune1,20,40,test,0.6,,0.800000,0.990000,,,\n"));
  free(tu_write_file(g_dir, "empty.csv", ""));
  free(tu_write_file(g_dir, "header.csv", "stage,stage_iter,iter,phase,loss,lr,top1,top5\n"));
  free(tu_write_file(g_dir, "bad.csv", "stage,stage_iter,iter,phase,loss,lr,top1,top5\ntrain,x\n"));
  free(tu_write_file(g_dir, "other.csv", "a,b,c\n1,2,3\n"));
  char log[600], png[600];
  path_of(log, sizeof log, "log.csv");
  path_of(png, sizeof png, "curves.png");
  const char *logs[1] = {log};
  assert_int_equal(dc_plot_curves(png, logs, 1, NULL), DC_OK);
  image im = load(png);
  /* prune1 starts at iteration 20 of 0..40: a dashed grey line at x = 110 + 840 / 2 */
  int grey = 0;
  for (int y = 62; y < 62 + 270; y++) {
    const unsigned char *p = im.px + ((size_t)y * im.w + 110 + 420) * 3;
    grey += p[0] == 150 && p[1] == 150 && p[2] == 150;
  }
  assert_true(grey > 100);
  free(im.px);
  static const char *const bad[][2] = {{"empty.csv", "empty.csv: empty file"},
                                       {"header.csv", "header.csv: no progress or test lines"},
                                       {"bad.csv", "bad.csv:2: expected"},
                                       {"other.csv", "other.csv:1: not a dctrain log.csv"},
                                       {"missing.csv", "missing.csv: cannot open"}};
  path_of(png, sizeof png, "bad.png");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char p[600];
    path_of(p, sizeof p, bad[i][0]);
    const char *one[1] = {p};
    expect_failure(dc_plot_curves(png, one, 1, NULL), bad[i][1]);
  }
  assert_int_not_equal(access(png, F_OK), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mask_grid),
      cmocka_unit_test(mask_errors),
      cmocka_unit_test(hist_bars_and_centroids),
      cmocka_unit_test(curves_and_logs),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

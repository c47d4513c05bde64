/* test_imagefolder.c — the image-folder (ImageNet layout) dataset on tiny generated
 * trees: the directory scan, the exact centre crop / channel order / mean / scale on
 * lossless PNGs, random crops and mirrors as a pure function of (seed, position),
 * determinism across calls, epochs and thread counts, channel order / std / shorter-side
 * resizing by hand, Caffe val lists, class-spread limits, skipped bad images (also
 * through the prefetching loader), every error path, and experiments with
 * kind = imagenet training a tiny conv net end to end (resume, loader thread counts,
 * a bad image skipped and counted, test subsets). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <stb/stb_image_write.h>

#include "dc/ckpt.h"
#include "dc/compress.h"
#include "dc/data.h"
#include "dc/experiment.h"
#include "dc/h5.h"
#include "dc/loader.h"
#include "util_net.h"

/* ---- generated trees ---------------------------------------------------------- */

static char *g_root;  /* 3 classes (ant bee cat) × 4 train + 2 val, 40×30, PNG + JPEG */
static char *g_exact; /* 2 classes (a b) × 2 train + 1 val, 16×16 PNG: never resized */
static char *g_tmp;   /* scratch trees for error cases */

static const char *const g_classes[3] = {"ant", "bee", "cat"};

/* A gradient that depends on the class, the image and the position (RGB). */
static void gradient_pixel(int cls, int idx, int x, int y, unsigned char *rgb) {
  rgb[0] = (unsigned char)(cls * 60 + x * 3 + idx);
  rgb[1] = (unsigned char)(y * 5 + idx * 7);
  rgb[2] = (unsigned char)(255 - x * 2 - y - cls);
}

/* Solid class colour, for images whose resize result is known exactly. */
static void solid_pixel(int cls, unsigned char *rgb) {
  rgb[0] = (unsigned char)(20 + 50 * cls);
  rgb[1] = (unsigned char)(200 - 30 * cls);
  rgb[2] = (unsigned char)(90 + cls);
}

static void mkdir_p(const char *a, const char *b, const char *c) {
  char path[1024];
  snprintf(path, sizeof path, "%s", a);
  mkdir(path, 0777);
  if (b) {
    snprintf(path, sizeof path, "%s/%s", a, b);
    mkdir(path, 0777);
  }
  if (b && c) {
    snprintf(path, sizeof path, "%s/%s/%s", a, b, c);
    mkdir(path, 0777);
  }
}

/* Write image `idx` of class `cls` (w×h) to dir/name; solid or gradient; PNG or JPEG
 * by the name's extension. */
static void write_image(const char *dir, const char *name, int w, int h, int cls, int idx,
                        int solid) {
  unsigned char *px = malloc((size_t)w * h * 3);
  assert_non_null(px);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      unsigned char *p = px + ((size_t)y * w + x) * 3;
      if (solid) solid_pixel(cls, p);
      else gradient_pixel(cls, idx, x, y, p);
    }
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  const char *ext = strrchr(name, '.');
  int ok = strcmp(ext, ".png") == 0 ? stbi_write_png(path, w, h, 3, px, w * 3)
                                    : stbi_write_jpg(path, w, h, 3, px, 95);
  assert_true(ok);
  free(px);
}

static void write_text(const char *dir, const char *name, const char *text) {
  free(tu_write_file(dir, name, text));
}

/* g_root: train/<cls>/{img0.png (solid), img1.png, img2.jpg, img3.JPEG} and
 * val/<cls>/{v0.png, v1.jpeg}, plus things the scan must ignore: a text file in a class
 * directory, a plain file and a hidden directory in train/. */
static void make_root(const char *root) {
  const char *train_names[4] = {"img0.png", "img1.png", "img2.jpg", "img3.JPEG"};
  const char *val_names[2] = {"v0.png", "v1.jpeg"};
  char dir[1024];
  mkdir_p(root, "train", NULL);
  mkdir_p(root, "val", NULL);
  for (int c = 0; c < 3; c++) {
    mkdir_p(root, "train", g_classes[c]);
    mkdir_p(root, "val", g_classes[c]);
    snprintf(dir, sizeof dir, "%s/train/%s", root, g_classes[c]);
    for (int i = 0; i < 4; i++) write_image(dir, train_names[i], 40, 30, c, i, i == 0);
    write_text(dir, "notes.txt", "not an image\n");
    snprintf(dir, sizeof dir, "%s/val/%s", root, g_classes[c]);
    for (int i = 0; i < 2; i++) write_image(dir, val_names[i], 40, 30, c, 10 + i, 0);
  }
  mkdir_p(root, "train", ".cache");
  snprintf(dir, sizeof dir, "%s/train", root);
  write_text(dir, "README", "a file, not a class\n");
}

/* g_exact: train/{a,b}/{p0,p1}.png, val/{a,b}/q0.png, all 16×16 gradients. */
static void make_exact(const char *root) {
  const char *cls[2] = {"a", "b"};
  char dir[1024];
  mkdir_p(root, "train", NULL);
  mkdir_p(root, "val", NULL);
  for (int c = 0; c < 2; c++) {
    mkdir_p(root, "train", cls[c]);
    mkdir_p(root, "val", cls[c]);
    snprintf(dir, sizeof dir, "%s/train/%s", root, cls[c]);
    write_image(dir, "p0.png", 16, 16, c, 0, 0);
    write_image(dir, "p1.png", 16, 16, c, 1, 0);
    snprintf(dir, sizeof dir, "%s/val/%s", root, cls[c]);
    write_image(dir, "q0.png", 16, 16, c, 5, 0);
  }
}

static void rm_rf(const char *dir) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
  (void)state;
  g_root = tu_tmpdir();
  g_exact = tu_tmpdir();
  g_tmp = tu_tmpdir();
  make_root(g_root);
  make_exact(g_exact);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  rm_rf(g_root);
  rm_rf(g_exact);
  rm_rf(g_tmp);
  free(g_root);
  free(g_exact);
  free(g_tmp);
  return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static dc_imagefolder_conf small_conf(int resize, int crop, int threads) {
  dc_imagefolder_conf c;
  dc_imagefolder_defaults(&c);
  c.resize = resize;
  c.crop = crop;
  c.threads = threads;
  return c;
}

static dc_dataset *open_ok(const char *root, int train, const dc_imagefolder_conf *c) {
  dc_dataset *d = NULL;
  dc_failure_clear();
  if (dc_imagefolder_open(root, train, c, &d) != DC_OK) fail_msg("%s", dc_failure_reason());
  assert_non_null(d);
  return d;
}

static size_t sample_floats(const dc_dataset *d) {
  int c, h, w;
  dc_dataset_shape(d, &c, &h, &w);
  return (size_t)c * h * w;
}

/* Batch positions [first, first+n) into new buffers; fails the test on error. */
static float *batch(dc_dataset *d, uint64_t seed, int shuffle, int64_t first, int n, int *y) {
  float *x = malloc(sizeof(float) * sample_floats(d) * (size_t)n);
  assert_non_null(x);
  dc_failure_clear();
  if (dc_dataset_batch(d, seed, shuffle, first, n, x, y) != DC_OK)
    fail_msg("%s", dc_failure_reason());
  return x;
}

/* The expected output of a crop × crop window at (oy, ox) of exact-tree image (cls,
 * idx), flipped or not: BGR planes of (pixel - mean) * scale. */
static void expected_crop(int cls, int idx, int crop, int oy, int ox, int flip, const float *mean,
                          float scale, float *out) {
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < crop; i++)
      for (int j = 0; j < crop; j++) {
        unsigned char rgb[3];
        int sx = flip ? ox + crop - 1 - j : ox + j;
        gradient_pixel(cls, idx, sx, oy + i, rgb);
        out[((size_t)c * crop + i) * crop + j] = ((float)rgb[2 - c] - mean[c]) * scale;
      }
}

/* Which window of exact-tree image (cls, idx) x is: sets *oy, *ox, *flip; 0 if none. */
static int find_window(const float *x, int cls, int idx, int resize, int crop, const float *mean,
                       float scale, int *oy, int *ox, int *flip) {
  size_t n = (size_t)3 * crop * crop;
  float *e = malloc(sizeof(float) * n);
  for (int f = 0; f < 2; f++)
    for (int y = 0; y <= resize - crop; y++)
      for (int xx = 0; xx <= resize - crop; xx++) {
        expected_crop(cls, idx, crop, y, xx, f, mean, scale, e);
        if (memcmp(e, x, sizeof(float) * n) == 0) {
          *oy = y;
          *ox = xx;
          *flip = f;
          free(e);
          return 1;
        }
      }
  free(e);
  return 0;
}

/* ---- tests -------------------------------------------------------------------- */

static void defaults_are_imagenet(void **state) {
  (void)state;
  dc_imagefolder_conf c;
  dc_imagefolder_defaults(&c);
  assert_int_equal(c.resize, 256);
  assert_int_equal(c.crop, 227);
  assert_true(c.mean[0] == 104.0f && c.mean[1] == 117.0f && c.mean[2] == 123.0f);
  assert_true(c.scale == 1.0f);
  assert_int_equal(c.mirror, 1);
  assert_int_equal(c.threads, 2);
}

static void open_count_classes_shape(void **state) {
  (void)state;
  dc_imagefolder_conf conf = small_conf(32, 24, 1);
  dc_dataset *tr = open_ok(g_root, 1, &conf), *va = open_ok(g_root, 0, &conf);
  assert_int_equal(dc_dataset_count(tr), 12); /* notes.txt, README, .cache ignored */
  assert_int_equal(dc_dataset_count(va), 6);
  assert_int_equal(dc_dataset_classes(tr), 3);
  assert_int_equal(dc_dataset_classes(va), 3);
  int c, h, w;
  dc_dataset_shape(tr, &c, &h, &w);
  assert_int_equal(c * 10000 + h * 100 + w, 32424);
  for (int i = 0; i < 3; i++) {
    assert_string_equal(dc_imagefolder_class_name(tr, i), g_classes[i]);
    assert_string_equal(dc_imagefolder_class_name(va, i), g_classes[i]);
  }
  assert_null(dc_imagefolder_class_name(tr, 3));
  assert_null(dc_imagefolder_class_name(tr, -1));
  /* samples are ordered class by class: labels of the unshuffled stream */
  int y[12];
  free(batch(tr, 1, 0, 0, 12, y));
  for (int i = 0; i < 12; i++) assert_int_equal(y[i], i / 4);
  free(batch(va, 1, 0, 0, 6, y));
  for (int i = 0; i < 6; i++) assert_int_equal(y[i], i / 2);
  dc_dataset_free(tr);
  dc_dataset_free(va);

  /* NULL conf: the defaults (227 crops) */
  dc_dataset *d = open_ok(g_root, 1, NULL);
  dc_dataset_shape(d, &c, &h, &w);
  assert_int_equal(h * 1000 + w, 227227);
  dc_dataset_free(d);
}

/* Centre crop, BGR order, mean and scale against a hand computation on PNGs that are
 * already resize × resize (so no resampling is involved). */
static void centre_crop_exact(void **state) {
  (void)state;
  dc_imagefolder_conf conf = small_conf(16, 10, 1);
  conf.mean[0] = 10.0f;
  conf.mean[1] = 20.5f;
  conf.mean[2] = -3.0f;
  conf.scale = 0.5f;
  const int off = (16 - 10) / 2;
  size_t n = 3 * 10 * 10;
  float *e = malloc(sizeof(float) * n);
  /* val split, via the batch stream: q0.png of classes a, b */
  dc_dataset *va = open_ok(g_exact, 0, &conf);
  int y[2];
  float *x = batch(va, 99, 0, 0, 2, y);
  for (int s = 0; s < 2; s++) {
    expected_crop(s, 5, 10, off, off, 0, conf.mean, conf.scale, e);
    assert_memory_equal(x + s * n, e, sizeof(float) * n);
    assert_int_equal(y[s], s);
  }
  /* a spot value by hand: B channel (0), row 0, column 0 of class b = pixel (3, 3):
   * B = 255 - 2*3 - 3 - 1 = 245 → (245 - 10) * 0.5 */
  assert_true(x[n + 0] == 117.5f);
  /* R channel (2) of class a at row 1, col 2 = pixel (5, 4): R = 0 + 15 + 5 = 20 */
  assert_true(x[2 * 100 + 1 * 10 + 2] == (20.0f + 3.0f) * 0.5f);
  free(x);
  dc_dataset_free(va);
  /* dc_dataset_get of a training split is the centre crop too (never augmented) */
  dc_dataset *tr = open_ok(g_exact, 1, &conf);
  x = malloc(sizeof(float) * n);
  int label = -1;
  assert_int_equal(dc_dataset_get(tr, 3, x, &label), DC_OK); /* b/p1.png */
  expected_crop(1, 1, 10, off, off, 0, conf.mean, conf.scale, e);
  assert_memory_equal(x, e, sizeof(float) * n);
  assert_int_equal(label, 1);
  dc_failure_clear();
  assert_int_equal(dc_dataset_get(tr, 4, x, &label), DC_ERR_ARG);
  free(x);
  free(e);
  dc_dataset_free(tr);
}

/* The mean is subtracted per channel before scaling; resizing keeps a solid colour. */
static void mean_subtraction_and_resize(void **state) {
  (void)state;
  dc_imagefolder_conf c0 = small_conf(32, 24, 1), c1 = c0;
  c0.mean[0] = c0.mean[1] = c0.mean[2] = 0.0f;
  c1.mean[0] = 1.5f;
  c1.mean[1] = -7.0f;
  c1.mean[2] = 100.0f;
  c1.scale = 0.25f;
  dc_dataset *a = open_ok(g_root, 0, &c0), *b = open_ok(g_root, 0, &c1);
  float *xa = batch(a, 3, 0, 0, 6, NULL), *xb = batch(b, 3, 0, 0, 6, NULL);
  size_t plane = 24 * 24;
  for (size_t i = 0; i < 6 * 3 * plane; i++) {
    int ch = (int)((i / plane) % 3);
    assert_true(xb[i] == (xa[i] - c1.mean[ch]) * 0.25f);
    assert_true(xa[i] >= 0.0f && xa[i] <= 255.0f && xa[i] == floorf(xa[i]));
  }
  free(xa);
  free(xb);
  dc_dataset_free(a);
  dc_dataset_free(b);
  /* img0.png is a solid 40×30 colour: after resizing to 32×32 every pixel keeps it */
  a = open_ok(g_root, 1, &c0);
  float *x = malloc(sizeof(float) * 3 * plane);
  for (int cls = 0; cls < 3; cls++) {
    assert_int_equal(dc_dataset_get(a, cls * 4, x, NULL), DC_OK);
    unsigned char rgb[3];
    solid_pixel(cls, rgb);
    for (size_t i = 0; i < 3 * plane; i++) assert_true(x[i] == (float)rgb[2 - i / plane]);
  }
  free(x);
  dc_dataset_free(a);
}

/* Bilinear reference (OpenCV INTER_LINEAR geometry, in double) of exact-tree image
 * (cls, idx), 16×16, resized to r×r, at output pixel (i, j), RGB channel k. */
static double ref_resize(int cls, int idx, int r, int i, int j, int k) {
  double f[2] = {(i + 0.5) * 16.0 / r - 0.5, (j + 0.5) * 16.0 / r - 0.5};
  int lo[2], hi[2];
  double w[2];
  for (int a = 0; a < 2; a++) {
    double fl = floor(f[a]);
    lo[a] = (int)fl;
    w[a] = f[a] - fl;
    if (lo[a] < 0) lo[a] = 0, w[a] = 0;
    if (lo[a] >= 15) lo[a] = 15, w[a] = 0;
    hi[a] = lo[a] < 15 ? lo[a] + 1 : 15;
  }
  unsigned char p00[3], p01[3], p10[3], p11[3];
  gradient_pixel(cls, idx, lo[1], lo[0], p00);
  gradient_pixel(cls, idx, hi[1], lo[0], p01);
  gradient_pixel(cls, idx, lo[1], hi[0], p10);
  gradient_pixel(cls, idx, hi[1], hi[0], p11);
  double top = p00[k] * (1 - w[1]) + p01[k] * w[1], bot = p10[k] * (1 - w[1]) + p11[k] * w[1];
  return top * (1 - w[0]) + bot * w[0];
}

/* Resizing (up and down) is bilinear with centre-aligned pixels: within rounding of a
 * double-precision reference. */
static void resize_is_bilinear(void **state) {
  (void)state;
  const int sizes[3] = {24, 10, 7};
  for (int t = 0; t < 3; t++) {
    int r = sizes[t];
    dc_imagefolder_conf conf = small_conf(r, r, 1);
    conf.mean[0] = conf.mean[1] = conf.mean[2] = 0.0f;
    dc_dataset *d = open_ok(g_exact, 0, &conf);
    size_t plane = (size_t)r * r;
    float *x = batch(d, 0, 0, 0, 2, NULL);
    for (int s = 0; s < 2; s++)
      for (int c = 0; c < 3; c++)
        for (int i = 0; i < r; i++)
          for (int j = 0; j < r; j++) {
            double want = ref_resize(s, 5, r, i, j, 2 - c);
            double got = x[((size_t)s * 3 + c) * plane + (size_t)i * r + j];
            if (fabs(got - want) > 0.5 + 1e-3)
              fail_msg("r %d sample %d c %d (%d, %d): got %g, want %g", r, s, c, i, j, got, want);
          }
    free(x);
    dc_dataset_free(d);
  }
}

/* Training crops: each is a real window (maybe flipped) of the image; the same (seed,
 * position) gives the same bytes, other positions and seeds other windows; offsets
 * cover the whole range. */
static void train_crops_by_seed_and_position(void **state) {
  (void)state;
  dc_imagefolder_conf conf = small_conf(16, 12, 1);
  const int n = 4, range = 16 - 12 + 1;
  size_t s = 3 * 12 * 12;
  dc_dataset *d = open_ok(g_exact, 1, &conf);
  int seen_oy[5] = {0}, seen_ox[5] = {0}, flips = 0, draws = 0, differ = 0;
  float *prev = NULL;
  for (int e = 0; e < 40; e++) { /* 40 epochs × 4 samples, unshuffled */
    int y[4];
    float *x = batch(d, 7, 0, (int64_t)e * n, n, y);
    for (int i = 0; i < n; i++) {
      int oy, ox, flip;
      if (!find_window(x + i * s, i / 2, i % 2, 16, 12, conf.mean, conf.scale, &oy, &ox, &flip))
        fail_msg("epoch %d sample %d is not a window of its image", e, i);
      seen_oy[oy]++;
      seen_ox[ox]++;
      flips += flip;
      draws++;
    }
    if (prev && memcmp(prev, x, sizeof(float) * s * n) != 0) differ++;
    free(prev);
    prev = x;
  }
  free(prev);
  for (int k = 0; k < range; k++) assert_true(seen_oy[k] > 0 && seen_ox[k] > 0);
  assert_true(flips > draws / 4 && flips < draws * 3 / 4); /* about half are mirrored */
  assert_true(differ >= 38);                                /* epochs see new crops */

  /* pure function of (seed, position): again, in another order, in a fresh dataset */
  float *a = batch(d, 7, 1, 21, 3, NULL);
  float *junk = batch(d, 8, 1, 0, 4, NULL);
  dc_dataset *d2 = open_ok(g_exact, 1, &conf);
  float *b = batch(d2, 7, 1, 21, 3, NULL);
  assert_memory_equal(a, b, sizeof(float) * s * 3);
  float *c = batch(d2, 8, 1, 21, 3, NULL); /* another seed: other crops (and order) */
  assert_memory_not_equal(a, c, sizeof(float) * s * 3);
  free(a);
  free(b);
  free(c);
  free(junk);
  dc_dataset_free(d);
  dc_dataset_free(d2);

  /* a val split ignores seed and position: always the centre crop */
  dc_dataset *va = open_ok(g_exact, 0, &conf);
  a = batch(va, 1, 0, 0, 2, NULL);
  b = batch(va, 12345, 0, 2, 2, NULL); /* next epoch, other seed */
  assert_memory_equal(a, b, sizeof(float) * s * 2);
  int oy, ox, flip;
  assert_true(find_window(a, 0, 5, 16, 12, conf.mean, conf.scale, &oy, &ox, &flip));
  assert_true(oy == 2 && ox == 2 && flip == 0);
  free(a);
  free(b);
  dc_dataset_free(va);
}

/* mirror = 0 draws the same offsets but never flips; with mirror = 1 the same position
 * is that window or its exact mirror image. */
static void mirror_switch(void **state) {
  (void)state;
  dc_imagefolder_conf on = small_conf(16, 12, 1), off = on;
  off.mirror = 0;
  dc_dataset *a = open_ok(g_exact, 1, &on), *b = open_ok(g_exact, 1, &off);
  size_t s = 3 * 12 * 12;
  int flipped = 0, same = 0;
  for (int64_t p = 0; p < 64; p++) {
    float *xa = batch(a, 5, 0, p, 1, NULL), *xb = batch(b, 5, 0, p, 1, NULL);
    int idx = (int)(p % 4);
    int oya, oxa, fa, oyb, oxb, fb;
    assert_true(find_window(xa, idx / 2, idx % 2, 16, 12, on.mean, on.scale, &oya, &oxa, &fa));
    assert_true(find_window(xb, idx / 2, idx % 2, 16, 12, on.mean, on.scale, &oyb, &oxb, &fb));
    assert_int_equal(fb, 0);
    assert_true(oya == oyb && oxa == oxb);
    if (fa) {
      flipped++;
      /* row by row, a is b reversed */
      for (size_t r = 0; r < 3 * 12; r++)
        for (int j = 0; j < 12; j++) assert_true(xa[r * 12 + j] == xb[r * 12 + 11 - j]);
    } else {
      same++;
      assert_memory_equal(xa, xb, sizeof(float) * s);
    }
    free(xa);
    free(xb);
  }
  assert_true(flipped > 10 && same > 10);
  dc_dataset_free(a);
  dc_dataset_free(b);
}

/* One call or many, across epoch boundaries, shuffled: the same bytes and labels. */
static void batches_are_deterministic(void **state) {
  (void)state;
  dc_imagefolder_conf conf = small_conf(20, 16, 1);
  dc_dataset *d = open_ok(g_root, 1, &conf);
  size_t s = sample_floats(d);
  int y[30], y2[30];
  float *whole = batch(d, 11, 1, 5, 30, y); /* positions 5..34: epochs 0, 1, 2 */
  const int parts[] = {7, 1, 14, 8};
  int64_t p = 5;
  int at = 0;
  for (int k = 0; k < 4; k++) {
    float *x = batch(d, 11, 1, p, parts[k], y2 + at);
    assert_memory_equal(x, whole + (size_t)at * s, sizeof(float) * s * parts[k]);
    p += parts[k];
    at += parts[k];
    free(x);
  }
  assert_memory_equal(y, y2, sizeof y);
  /* epoch 1 (positions 12..23) holds every sample once: 4 of each label */
  int per[3] = {0};
  for (int i = 7; i < 19; i++) per[y[i]]++;
  assert_true(per[0] == 4 && per[1] == 4 && per[2] == 4);
  /* and a shuffle: epoch 1 is not the identity order */
  int identity = 1;
  for (int i = 7; i < 19; i++) identity &= y[i] == (i - 7) / 4;
  assert_false(identity);
  free(whole);
  dc_dataset_free(d);
}

/* 1, 2 and 3 decode threads give the same bytes and labels, train and val. */
static void parallel_matches_serial(void **state) {
  (void)state;
  for (int split = 0; split < 2; split++) {
    float *ref = NULL;
    int yref[27];
    for (int t = 1; t <= 3; t++) {
      dc_imagefolder_conf conf = small_conf(28, 20, t);
      dc_dataset *d = open_ok(g_root, split, &conf);
      size_t s = sample_floats(d);
      int y[27];
      float *x = batch(d, 4, 1, 3, 27, y);
      if (!ref) {
        ref = x;
        memcpy(yref, y, sizeof y);
      } else {
        assert_memory_equal(x, ref, sizeof(float) * s * 27);
        assert_memory_equal(y, yref, sizeof y);
        free(x);
      }
      /* labels optional with threads too */
      float *z = malloc(sizeof(float) * s * 5);
      assert_int_equal(dc_dataset_batch(d, 4, 1, 3, 5, z, NULL), DC_OK);
      assert_memory_equal(z, ref, sizeof(float) * s * 5);
      free(z);
      dc_dataset_free(d);
    }
    free(ref);
  }
}

/* ---- errors -------------------------------------------------------------------- */

/* Expect dc_imagefolder_open(root, train) to fail with s and a message containing want. */
static void expect_open_error(const char *root, int train, const dc_imagefolder_conf *conf,
                              dc_status s, const char *want) {
  dc_dataset *d = (dc_dataset *)&d;
  dc_failure_clear();
  dc_status got = dc_imagefolder_open(root, train, conf, &d);
  if (got != s || !strstr(dc_failure_reason(), want))
    fail_msg("expected status %d with '%s', got %d: '%s'", s, want, got, dc_failure_reason());
  assert_null(d);
  assert_null(strchr(dc_failure_reason(), '\n'));
}

/* A fresh scratch root g_tmp/name with train/<cls> dirs (no images unless asked). */
static char *scratch(const char *name) {
  char *root = malloc(1024);
  snprintf(root, 1024, "%s/%s", g_tmp, name);
  mkdir_p(root, NULL, NULL);
  return root;
}

/* channels = rgb, per-channel mean and std, scale: x = (pixel - mean[c]) / std[c] * scale
 * against a hand computation on an exact (never resized) image. */
static void rgb_mean_std_scale_exact(void **state) {
  (void)state;
  dc_imagefolder_conf conf = small_conf(16, 10, 1);
  conf.rgb = 1;
  conf.mean[0] = 123.675f; /* R */
  conf.mean[1] = 116.28f;  /* G */
  conf.mean[2] = 103.53f;  /* B */
  conf.std[0] = 58.395f;
  conf.std[1] = 57.12f;
  conf.std[2] = 57.375f;
  conf.scale = 2.0f;
  dc_dataset *va = open_ok(g_exact, 0, &conf);
  int y[2];
  float *x = batch(va, 0, 0, 0, 2, y);
  const int off = 3;
  for (int sIdx = 0; sIdx < 2; sIdx++)
    for (int c = 0; c < 3; c++)
      for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++) {
          unsigned char rgb[3];
          gradient_pixel(sIdx, 5, off + j, off + i, rgb);
          float want = ((float)rgb[c] - conf.mean[c]) / conf.std[c] * conf.scale;
          assert_true(x[((size_t)sIdx * 3 + c) * 100 + (size_t)i * 10 + j] == want);
        }
  /* by hand: class b (1), image q0 (idx 5), pixel (x 3, y 3): R = 60 + 9 + 5 = 74,
   * G = 15 + 35 = 50, B = 255 - 6 - 3 - 1 = 245 */
  const float *b = x + 300;
  assert_true(fabsf(b[0] - (74.0f - 123.675f) / 58.395f * 2.0f) < 1e-6f);
  assert_true(fabsf(b[100] - (50.0f - 116.28f) / 57.12f * 2.0f) < 1e-6f);
  assert_true(fabsf(b[200] - (245.0f - 103.53f) / 57.375f * 2.0f) < 1e-6f);
  free(x);
  dc_dataset_free(va);
  /* std must be positive */
  dc_imagefolder_conf bad = small_conf(16, 10, 1);
  bad.std[2] = 0.0f;
  dc_dataset *d = NULL;
  dc_failure_clear();
  assert_int_equal(dc_imagefolder_open(g_exact, 0, &bad, &d), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "std"));
}

/* resize_mode = shorter keeps the aspect: an 8x4 image with resize 2 becomes 4x2 (each
 * output pixel the rounded mean of a 2x2 block), cropped 2x2 at the centre (column 1);
 * random training crops slide along the long side only. */
static void shorter_side_resize(void **state) {
  (void)state;
  char *root = malloc(1200);
  snprintf(root, 1200, "%s/shorter", g_tmp);
  mkdir_p(root, "train", "k");
  mkdir_p(root, "val", "k");
  unsigned char px[4 * 8 * 3];
  for (int yy = 0; yy < 4; yy++)
    for (int xx = 0; xx < 8; xx++)
      for (int c = 0; c < 3; c++) px[(yy * 8 + xx) * 3 + c] = (unsigned char)(xx * 30 + yy * 7 + c * 3 + (xx * yy) % 5);
  char dir[1300], path[1400];
  snprintf(dir, sizeof dir, "%s/val/k", root);
  snprintf(path, sizeof path, "%s/a.png", dir);
  assert_true(stbi_write_png(path, 8, 4, 3, px, 8 * 3));
  snprintf(path, sizeof path, "%s/train/k/a.png", root);
  assert_true(stbi_write_png(path, 8, 4, 3, px, 8 * 3));
  dc_imagefolder_conf conf = small_conf(2, 2, 1);
  conf.resize_mode = DC_RESIZE_SHORTER;
  conf.rgb = 1;
  conf.mean[0] = conf.mean[1] = conf.mean[2] = 0.0f;
  dc_dataset *va = open_ok(root, 0, &conf);
  float *x = batch(va, 0, 0, 0, 1, NULL);
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 2; j++) {
        int sum = 0, X = 2 * (j + 1), Y = 2 * i; /* resized column j + 1 */
        for (int a = 0; a < 2; a++)
          for (int b2 = 0; b2 < 2; b2++) sum += px[((Y + a) * 8 + X + b2) * 3 + c];
        float want = (float)((sum + 2) / 4); /* round half up */
        assert_true(x[c * 4 + i * 2 + j] == want);
      }
  free(x);
  dc_dataset_free(va);
  /* training: resize 4 keeps the 8x4 image as is; a 4x4 crop at x offset 0..4, y 0 */
  conf.resize = 4;
  conf.crop = 4;
  conf.mirror = 0;
  dc_dataset *tr = open_ok(root, 1, &conf);
  int seen[5] = {0};
  for (int64_t p = 0; p < 60; p++) {
    float *t = batch(tr, 3, 0, p, 1, NULL);
    int found = -1;
    for (int ox = 0; ox <= 4 && found < 0; ox++) {
      int ok = 1;
      for (int c = 0; c < 3 && ok; c++)
        for (int i = 0; i < 4 && ok; i++)
          for (int j = 0; j < 4 && ok; j++) ok = t[c * 16 + i * 4 + j] == (float)px[(i * 8 + ox + j) * 3 + c];
      if (ok) found = ox;
    }
    assert_true(found >= 0);
    seen[found]++;
    free(t);
  }
  for (int k = 0; k < 5; k++) assert_true(seen[k] > 0);
  dc_dataset_free(tr);
  free(root);
}

/* A Caffe list for val: listed files in list order with their labels, the same pixels
 * as the class folders give; every bad line fails at open naming FILE:LINE. */
static void val_list(void **state) {
  (void)state;
  dc_imagefolder_conf conf = small_conf(32, 24, 1);
  write_text(g_root, "val.txt", "cat/v1.jpeg 2\nant/v0.png 0\n\n  bee/v0.png\t1  \r\n");
  conf.val_list = "val.txt";
  dc_dataset *l = open_ok(g_root, 0, &conf);
  conf.val_list = NULL;
  dc_dataset *f = open_ok(g_root, 0, &conf);
  assert_int_equal(dc_dataset_count(l), 3);
  assert_int_equal(dc_dataset_classes(l), 3);
  int yl[3], yf[6];
  float *xl = batch(l, 0, 0, 0, 3, yl), *xf = batch(f, 0, 0, 0, 6, yf);
  size_t n = sample_floats(l);
  const int at[3] = {5, 0, 2}; /* folder order: ant v0 v1, bee v0 v1, cat v0 v1 */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(yl[i], yf[at[i]]);
    assert_memory_equal(xl + i * n, xf + at[i] * n, sizeof(float) * n);
  }
  free(xl);
  free(xf);
  dc_dataset_free(l);
  dc_dataset_free(f);
  /* the training split ignores val_list; an absolute path works too */
  char abs[1400];
  snprintf(abs, sizeof abs, "%s/val.txt", g_root);
  conf.val_list = abs;
  l = open_ok(g_root, 0, &conf);
  assert_int_equal(dc_dataset_count(l), 3);
  dc_dataset_free(l);
  l = open_ok(g_root, 1, &conf);
  assert_int_equal(dc_dataset_count(l), 12);
  dc_dataset_free(l);
  struct {
    const char *text, *want;
  } bad[] = {
      {"ant/v0.png 0\nant/v1.jpeg\n", "bad.txt:2: expected 'relative/path label', got 'ant/v1.jpeg'"},
      {"ant/v0.png zero\n", "bad.txt:1: label 'zero' is not an integer"},
      {"ant/v0.png 1x\n", "bad.txt:1: label '1x' is not an integer"},
      {"\nant/v0.png 3\n", "bad.txt:2: label 3 out of range [0, 3) (the classes are the 3 directories of"},
      {"ant/v0.png -1\n", "bad.txt:1: label -1 out of range [0, 3)"},
      {"ant/v0.png 0\nant/nope.JPEG 0\n", "bad.txt:2: "},
      {"ant 0\n", "bad.txt:1: "},
      {"\n\n", "bad.txt: no images listed"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_text(g_root, "bad.txt", bad[i].text);
    conf.val_list = "bad.txt";
    expect_open_error(g_root, 0, &conf, DC_ERR_DATA, bad[i].want);
  }
  char want[1400];
  snprintf(want, sizeof want, "bad.txt:2: %s/val/ant/nope.JPEG: No such file or directory", g_root);
  write_text(g_root, "bad.txt", "ant/v0.png 0\nant/nope.JPEG 0\n");
  expect_open_error(g_root, 0, &conf, DC_ERR_DATA, want);
  char link[1300];
  snprintf(link, sizeof link, "%s/val/ant/dead.png", g_root);
  assert_int_equal(symlink("gone.png", link), 0);
  snprintf(want, sizeof want, "bad.txt:1: %s/val/ant/dead.png: dangling symlink to 'gone.png'", g_root);
  write_text(g_root, "bad.txt", "ant/dead.png 0\n");
  expect_open_error(g_root, 0, &conf, DC_ERR_DATA, want);
  unlink(link);
  snprintf(want, sizeof want, "bad.txt:1: %s/val/ant: not a regular file", g_root);
  write_text(g_root, "bad.txt", "ant 0\n");
  expect_open_error(g_root, 0, &conf, DC_ERR_DATA, want);
  conf.val_list = "missing.txt";
  expect_open_error(g_root, 0, &conf, DC_ERR_IO, "missing.txt: cannot open: No such file or directory");
  char rm[1400];
  snprintf(rm, sizeof rm, "rm -f '%s/bad.txt' '%s/val.txt'", g_root, g_root);
  assert_int_equal(system(rm), 0);
}

/* A limit keeps every class of a class-ordered tree, not the first classes. */
static void limit_spreads_over_classes(void **state) {
  (void)state;
  dc_imagefolder_conf conf = small_conf(20, 16, 1);
  dc_dataset *d = open_ok(g_root, 1, &conf); /* 12 samples, 4 per class in order */
  dc_dataset_limit(d, 3);
  int y[3];
  free(batch(d, 0, 0, 0, 3, y));
  assert_true(y[0] == 0 && y[1] == 1 && y[2] == 2);
  dc_dataset_limit(d, 6);
  int y6[6];
  free(batch(d, 0, 0, 0, 6, y6));
  const int want[6] = {0, 0, 1, 1, 2, 2};
  assert_memory_equal(y6, want, sizeof want);
  dc_dataset_free(d);
}

/* A corrupt image on a skip policy: reported once, its slot refilled from the next
 * position, the same bytes with 1 or 3 threads and through the loader. */
static void bad_image_skipped(void **state) {
  (void)state;
  char *root = scratch("skip");
  char dir[1200];
  mkdir_p(root, "train", "x");
  mkdir_p(root, "train", "y");
  snprintf(dir, sizeof dir, "%s/train/x", root);
  write_image(dir, "a.png", 20, 20, 0, 0, 0);
  write_text(dir, "b.jpg", "this is not a JPEG at all\n");
  write_image(dir, "c.png", 20, 20, 0, 1, 0);
  snprintf(dir, sizeof dir, "%s/train/y", root);
  write_image(dir, "a.png", 20, 20, 1, 0, 0);
  float *ref = NULL;
  int yref[10];
  for (int t = 1; t <= 3; t += 2) {
    dc_imagefolder_conf conf = small_conf(20, 16, t);
    dc_dataset *d = open_ok(root, 1, &conf);
    FILE *rep = tmpfile();
    dc_dataset_set_on_bad(d, DC_BAD_SKIP, rep);
    size_t s = sample_floats(d);
    int y[10];
    float *x = batch(d, 5, 1, 0, 10, y); /* 2.5 epochs */
    assert_true(dc_dataset_skipped(d) >= 2);
    assert_int_equal(dc_dataset_bad_samples(d), 1);
    rewind(rep);
    char line[2048];
    int lines = 0;
    while (fgets(line, sizeof line, rep)) {
      lines++;
      assert_non_null(strstr(line, "/train/x/b.jpg: cannot decode image: "));
    }
    assert_int_equal(lines, 1);
    fclose(rep);
    /* no slot holds the bad image: every sample is a decodable one's window */
    if (!ref) {
      ref = x;
      memcpy(yref, y, sizeof y);
    } else {
      assert_memory_equal(x, ref, sizeof(float) * s * 10);
      assert_memory_equal(y, yref, sizeof y);
      free(x);
    }
    /* through the loader: the same */
    dc_dataset_set_on_bad(d, DC_BAD_SKIP, NULL);
    dc_loader *l = NULL;
    assert_int_equal(dc_loader_open(d, 5, 1, 0, 5, 5, 2, &l), DC_OK);
    float *lx = malloc(sizeof(float) * s * 5);
    int ly[5];
    for (int k = 0; k < 2; k++) {
      assert_int_equal(dc_loader_next(l, lx, ly), DC_OK);
      assert_memory_equal(lx, ref + (size_t)k * 5 * s, sizeof(float) * s * 5);
      assert_memory_equal(ly, yref + k * 5, sizeof ly);
    }
    dc_loader_close(l);
    free(lx);
    dc_dataset_free(d);
  }
  free(ref);
  free(root);
}

/* scripts/synthetic-imagenet.sh: the same tree for the same seed; every image (grey
 * JPEGs and the PNG named .JPEG included) decodes; val through its folders and through
 * val.txt holds the same (image, label) pairs. Skipped without python3-pil. */
static void synthetic_tree_loads(void **state) {
  (void)state;
  const char *src = getenv("DC_SOURCE_DIR");
  char cmd[6000], a[1200], b[1200];
  snprintf(a, sizeof a, "%s/syn_a", g_tmp);
  snprintf(b, sizeof b, "%s/syn_b", g_tmp);
  snprintf(cmd, sizeof cmd, "'%s/scripts/synthetic-imagenet.sh' '%s' --classes 3 --per-class 4 --seed 5 >/dev/null 2>&1",
           src ? src : ".", a);
  int rc = system(cmd);
  if (rc != 0) {
    snprintf(cmd, sizeof cmd, "python3 -c 'import numpy, PIL' 2>/dev/null || /usr/bin/python3 -c 'import numpy, PIL' 2>/dev/null");
    if (system(cmd) != 0) {
      print_message("  skipped: no python3 with numpy and PIL\n");
      return;
    }
    fail_msg("synthetic-imagenet.sh failed (%d)", rc);
  }
  snprintf(cmd, sizeof cmd, "'%s/scripts/synthetic-imagenet.sh' '%s' --classes 3 --per-class 4 --seed 5 >/dev/null 2>&1 && diff -r '%s' '%s'",
           src ? src : ".", b, a, b);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "'%s/scripts/synthetic-imagenet.sh' '%s' >/dev/null 2>&1", src ? src : ".", a);
  assert_int_not_equal(system(cmd), 0); /* an existing DIR is never overwritten */
  dc_imagefolder_conf conf = small_conf(64, 56, 2);
  dc_dataset *tr = open_ok(a, 1, &conf);
  assert_int_equal(dc_dataset_count(tr), 12);
  assert_int_equal(dc_dataset_classes(tr), 3);
  assert_string_equal(dc_imagefolder_class_name(tr, 0), "n01440764");
  int y[12];
  free(batch(tr, 1, 1, 0, 12, y)); /* stop policy: any undecodable image fails here */
  dc_dataset_free(tr);
  dc_dataset *vf = open_ok(a, 0, &conf);
  conf.val_list = "val.txt";
  dc_dataset *vl = open_ok(a, 0, &conf);
  int n = dc_dataset_count(vf);
  assert_int_equal(n, 6); /* max(2, 4 / 5) per class */
  assert_int_equal(dc_dataset_count(vl), n);
  int yf[6], yl[6];
  float *xf = batch(vf, 0, 0, 0, n, yf), *xl = batch(vl, 0, 0, 0, n, yl);
  size_t s = sample_floats(vf);
  for (int i = 0; i < n; i++) { /* each listed image is one of the folder images, same label */
    int hit = 0;
    for (int j = 0; j < n && !hit; j++) hit = yl[i] == yf[j] && memcmp(xl + i * s, xf + j * s, sizeof(float) * s) == 0;
    assert_true(hit);
  }
  free(xf);
  free(xl);
  dc_dataset_free(vf);
  dc_dataset_free(vl);
  /* greyscale JPEGs and a PNG named .JPEG are in there */
  snprintf(cmd, sizeof cmd, "cd '%s' && file train/*/* val/*/* | grep -q 'components 1' && file train/*/* | grep -q PNG", a);
  if (system("command -v file >/dev/null 2>&1") == 0) assert_int_equal(system(cmd), 0);
}

static void corrupt_image_fails_the_batch(void **state) {
  (void)state;
  char *root = scratch("corrupt");
  char dir[1200], want[1400];
  mkdir_p(root, "train", "x");
  mkdir_p(root, "train", "y");
  snprintf(dir, sizeof dir, "%s/train/x", root);
  write_image(dir, "a.png", 20, 20, 0, 0, 0);
  write_text(dir, "b.jpg", "this is not a JPEG at all\n");
  write_image(dir, "c.png", 20, 20, 0, 1, 0);
  snprintf(dir, sizeof dir, "%s/train/y", root);
  write_image(dir, "a.png", 20, 20, 1, 0, 0);
  write_text(dir, "b.png", ""); /* empty file */
  for (int t = 1; t <= 2; t++) {
    dc_imagefolder_conf conf = small_conf(20, 16, t);
    dc_dataset *d = open_ok(root, 1, &conf); /* the scan does not decode */
    assert_int_equal(dc_dataset_count(d), 5);
    float *x = malloc(sizeof(float) * 3 * 16 * 16 * 5);
    int y[5];
    /* positions 0..4 unshuffled: x/a x/b x/c y/a y/b — the first bad one is reported */
    dc_failure_clear();
    assert_int_equal(dc_dataset_batch(d, 1, 0, 0, 5, x, y), DC_ERR_DATA);
    snprintf(want, sizeof want, "%s/train/x/b.jpg: cannot decode image: ", root);
    if (strncmp(dc_failure_reason(), want, strlen(want)) != 0 ||
        strlen(dc_failure_reason()) <= strlen(want))
      fail_msg("threads %d: got '%s'", t, dc_failure_reason());
    assert_null(strchr(dc_failure_reason(), '\n'));
    /* from position 2 on, y/b.png is the first bad one */
    dc_failure_clear();
    assert_int_equal(dc_dataset_batch(d, 1, 0, 2, 3, x, y), DC_ERR_DATA);
    snprintf(want, sizeof want, "%s/train/y/b.png: cannot decode image: ", root);
    assert_int_equal(strncmp(dc_failure_reason(), want, strlen(want)), 0);
    /* the good ones still work, and dc_dataset_get reports the same error */
    dc_failure_clear();
    assert_int_equal(dc_dataset_batch(d, 1, 0, 2, 2, x, y), DC_OK);
    assert_int_equal(dc_dataset_get(d, 4, x, y), DC_ERR_DATA);
    assert_non_null(strstr(dc_failure_reason(), "y/b.png: cannot decode image"));
    free(x);
    dc_dataset_free(d);
  }
  /* a file that vanished after the scan fails the same way, saying why (src/data/decode.c) */
  dc_imagefolder_conf conf = small_conf(20, 16, 2);
  dc_dataset *d = open_ok(root, 1, &conf);
  snprintf(dir, sizeof dir, "%s/train/x/c.png", root);
  assert_int_equal(unlink(dir), 0);
  float *x = malloc(sizeof(float) * 3 * 16 * 16);
  dc_failure_clear();
  assert_int_equal(dc_dataset_get(d, 2, x, NULL), DC_ERR_DATA);
  if (!strstr(dc_failure_reason(), "x/c.png: cannot open image: No such file or directory"))
    fail_msg("got '%s'", dc_failure_reason());
  free(x);
  dc_dataset_free(d);
  free(root);
}

static void symlink_at(const char *target, const char *root, const char *rel) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  assert_int_equal(symlink(target, path), 0);
}

/* Trees torchvision's ImageFolder reads: images in subfolders of a class (found
 * recursively, symlinks followed), a directory named x.JPEG (walked, not a sample); and
 * trees that are wrong, refused at open with the path and the reason: a dangling
 * symlink, a directory loop, nesting deeper than 16 levels. */
static void odd_trees(void **state) {
  (void)state;
  char *root = scratch("odd");
  char dir[1200], want[1400];
  mkdir_p(root, "train", "a");
  mkdir_p(root, "train", "b");
  mkdir_p(root, "train/a", "x.JPEG");
  mkdir_p(root, "train/a", "sub");
  mkdir_p(root, "train/a/sub", "deeper");
  mkdir_p(root, "elsewhere", NULL);
  snprintf(dir, sizeof dir, "%s/train/a", root);
  write_image(dir, "x.png", 20, 20, 0, 0, 0);
  snprintf(dir, sizeof dir, "%s/train/a/x.JPEG", root);
  write_image(dir, "y.png", 20, 20, 0, 1, 0);
  snprintf(dir, sizeof dir, "%s/train/a/sub", root);
  write_image(dir, "z.png", 20, 20, 0, 2, 0);
  snprintf(dir, sizeof dir, "%s/train/a/sub/deeper", root);
  write_image(dir, "w.png", 20, 20, 0, 3, 0);
  snprintf(dir, sizeof dir, "%s/elsewhere", root);
  write_image(dir, "e.png", 20, 20, 1, 0, 0);
  snprintf(dir, sizeof dir, "%s/train/b", root);
  write_image(dir, "v.png", 20, 20, 1, 1, 0);
  symlink_at("../../elsewhere", root, "train/b/linked"); /* a symlinked subfolder */
  dc_imagefolder_conf conf = small_conf(20, 16, 1);
  dc_dataset *d = open_ok(root, 1, &conf);
  assert_int_equal(dc_dataset_count(d), 6); /* a: x, x.JPEG/y, sub/z, sub/deeper/w; b: v, linked/e */
  float *x = malloc(sizeof(float) * 3 * 16 * 16 * 6);
  int y[6];
  if (dc_dataset_batch(d, 1, 0, 0, 6, x, y) != DC_OK) fail_msg("%s", dc_failure_reason());
  int want_y[6] = {0, 0, 0, 0, 1, 1};
  assert_memory_equal(y, want_y, sizeof y);
  /* class by class; in a class, by directory and then name, as torchvision sorts */
  float *ref = malloc(sizeof(float) * 3 * 16 * 16);
  int order[6][2] = {{0, 0}, {0, 2}, {0, 3}, {0, 1}, {1, 1}, {1, 0}}; /* x, sub/z, sub/deeper/w, x.JPEG/y; v, linked/e */
  for (int i = 0; i < 6; i++) {
    int label;
    assert_int_equal(dc_dataset_get(d, i, x, &label), DC_OK);
    expected_crop(order[i][0], order[i][1], 16, 2, 2, 0, conf.mean, conf.scale, ref);
    if (memcmp(ref, x, sizeof(float) * 3 * 16 * 16) != 0) fail_msg("sample %d is not image %d of class %d", i, order[i][1], order[i][0]);
  }
  free(ref);
  free(x);
  dc_dataset_free(d);

  /* a dangling symlink with an image name */
  symlink_at("gone.png", root, "train/a/sub/dead.png");
  snprintf(want, sizeof want, "%s/train/a/sub/dead.png: dangling symlink to 'gone.png'", root);
  expect_open_error(root, 1, &conf, DC_ERR_DATA, want);
  snprintf(dir, sizeof dir, "%s/train/a/sub/dead.png", root);
  unlink(dir);
  /* a symlink back up: a loop */
  symlink_at("..", root, "train/a/sub/up");
  snprintf(want, sizeof want, "%s/train/a/sub/up: directory loop", root);
  expect_open_error(root, 1, &conf, DC_ERR_DATA, want);
  snprintf(dir, sizeof dir, "%s/train/a/sub/up", root);
  unlink(dir);
  /* 17 levels below the class directory */
  snprintf(dir, sizeof dir, "%s/train/b", root);
  for (int i = 0; i < 17; i++) {
    strcat(dir, "/d");
    assert_int_equal(mkdir(dir, 0777), 0);
  }
  expect_open_error(root, 1, &conf, DC_ERR_DATA, "directories nested more than 16 levels below the class directory");
  free(root);
}

static void open_errors(void **state) {
  (void)state;
  char want[1400], dir[1200];
  dc_imagefolder_conf conf = small_conf(20, 16, 1);
  /* no root at all / no train/ */
  char *root = scratch("empty");
  snprintf(want, sizeof want, "%s/train: missing directory", root);
  expect_open_error(root, 1, &conf, DC_ERR_IO, want);
  expect_open_error(root, 0, &conf, DC_ERR_IO, want); /* val needs train's classes */
  char nowhere[1200];
  snprintf(nowhere, sizeof nowhere, "%s/nowhere", g_tmp);
  expect_open_error(nowhere, 1, &conf, DC_ERR_IO, "nowhere/train: missing directory");
  /* train/ with no class directories (a plain file and a hidden dir do not count) */
  mkdir_p(root, "train", ".hidden");
  snprintf(dir, sizeof dir, "%s/train", root);
  write_text(dir, "file.jpg", "x");
  snprintf(want, sizeof want, "%s/train: no class directories", root);
  expect_open_error(root, 1, &conf, DC_ERR_DATA, want);
  /* an empty class directory (only a non-image) */
  mkdir_p(root, "train", "cls");
  mkdir_p(root, "train", "dog");
  snprintf(dir, sizeof dir, "%s/train/cls", root);
  write_image(dir, "a.png", 20, 20, 0, 0, 0);
  snprintf(dir, sizeof dir, "%s/train/dog", root);
  write_text(dir, "readme.txt", "x");
  snprintf(want, sizeof want, "%s/train/dog: empty class directory", root);
  expect_open_error(root, 1, &conf, DC_ERR_DATA, want);
  write_image(dir, "d.jpeg", 20, 20, 1, 0, 0);
  dc_dataset *d = open_ok(root, 1, &conf);
  assert_int_equal(dc_dataset_count(d), 2);
  dc_dataset_free(d);
  /* missing val/ */
  snprintf(want, sizeof want, "%s/val: missing directory", root);
  expect_open_error(root, 0, &conf, DC_ERR_IO, want);
  /* val/ without classes, with an empty class, with a class train lacks */
  mkdir_p(root, "val", NULL);
  snprintf(want, sizeof want, "%s/val: no class directories", root);
  expect_open_error(root, 0, &conf, DC_ERR_DATA, want);
  mkdir_p(root, "val", "dog");
  snprintf(want, sizeof want, "%s/val/dog: empty class directory", root);
  expect_open_error(root, 0, &conf, DC_ERR_DATA, want);
  snprintf(dir, sizeof dir, "%s/val/dog", root);
  write_image(dir, "v.png", 20, 20, 1, 0, 0);
  mkdir_p(root, "val", "zebra");
  snprintf(dir, sizeof dir, "%s/val/zebra", root);
  write_image(dir, "v.png", 20, 20, 1, 0, 0);
  snprintf(want, sizeof want, "%s/val/zebra: class 'zebra' is not in %s/train", root, root);
  expect_open_error(root, 0, &conf, DC_ERR_DATA, want);
  /* once zebra is gone, val opens: dog only, label 1 of 2 classes */
  snprintf(dir, sizeof dir, "rm -r '%s/val/zebra'", root);
  assert_int_equal(system(dir), 0);
  d = open_ok(root, 0, &conf);
  int y = -1;
  float x[3 * 16 * 16];
  assert_int_equal(dc_dataset_count(d), 1);
  assert_int_equal(dc_dataset_classes(d), 2);
  assert_int_equal(dc_dataset_batch(d, 0, 0, 0, 1, x, &y), DC_OK);
  assert_int_equal(y, 1);
  dc_dataset_free(d);
  /* bad numbers */
  dc_imagefolder_conf bad = small_conf(20, 21, 1);
  expect_open_error(g_root, 1, &bad, DC_ERR_ARG, "crop 21: expected an integer in [1, resize = 20]");
  bad = small_conf(0, 0, 1);
  expect_open_error(g_root, 1, &bad, DC_ERR_ARG, "resize 0");
  bad = small_conf(20, 0, 1);
  expect_open_error(g_root, 1, &bad, DC_ERR_ARG, "crop 0");
  bad = small_conf(20, 16, 1);
  bad.mean[1] = NAN;
  expect_open_error(g_root, 1, &bad, DC_ERR_ARG, "mean");
  bad = small_conf(20, 16, 1);
  bad.scale = 0.0f;
  expect_open_error(g_root, 1, &bad, DC_ERR_ARG, "scale");
  free(root);
}

/* ---- experiments ----------------------------------------------------------------- */

/* A tiny conv net for 3×16×16 crops and 3 classes. */
static const char *const IMG_NET =
    "[input]\nchannels = 3\nheight = 16\nwidth = 16\n"
    "[conv]\nname = conv1\nnum_output = 4\nkernel = 3\nstride = 2\n"
    "[relu]\n[maxpool]\nkernel = 2\n"
    "[fc]\nname = ip1\nnum_output = 3\n"
    "[softmax_loss]\n";

static char *img_experiment(const char *name, const char *out, const char *data_extra,
                            int max_iter) {
  char text[2048];
  snprintf(text, sizeof text,
           "[experiment]\nnet = %s/img.net\noutput = %s/%s\nseed = 3\nthreads = 1\n"
           "[data]\nkind = imagenet\ndir = %s\nresize = 20\ncrop = 16\nmean = 100, 110, 120\n"
           "scale = 0.0078125\nloader_threads = 2\n%s"
           "[solver]\nbase_lr = 0.01\nmomentum = 0.9\nbatch = 6\ntest_batch = 4\nmax_iter = %d\n"
           "test_interval = 0\ndisplay = 0\nsnapshot = 0\n",
           g_tmp, g_tmp, out, g_root, data_extra ? data_extra : "", max_iter);
  return tu_write_file(g_tmp, name, text);
}

/* Read the float data set `path` of an HDF5 file, whatever its shape; *n its size. */
static float *read_param(const char *file, const char *path, size_t *n) {
  dc_h5 *f;
  if (dc_h5_open(file, &f) != DC_OK) fail_msg("%s", dc_failure_reason());
  int nd;
  int64_t dims[8];
  if (dc_h5_shape(f, path, &nd, dims) != DC_OK) fail_msg("%s", dc_failure_reason());
  size_t count = 1;
  for (int i = 0; i < nd; i++) count *= (size_t)dims[i];
  float *v = malloc(sizeof(float) * count);
  assert_int_equal(dc_h5_read(f, path, DC_H5_F32, nd, dims, v), DC_OK);
  dc_h5_close(f);
  *n = count;
  return v;
}

/* kind = imagenet trains a conv net in-process; stopping and resuming gives the same
 * weights (the crops and mirrors depend on (seed, position) only). */
static void expect_resume_error(const char *cfg, const char *ckpt, const char *want) {
  dc_status st = tu_run(cfg, ckpt, 0, NULL);
  if (st != DC_ERR_DATA || !strstr(dc_failure_reason(), want))
    fail_msg("expected '%s', got %d: %s", want, st, dc_failure_reason());
}

/* The checkpoint records the training folder's file list: a resume after an image was
 * added (in a subfolder) or renamed is refused with both counts; a checkpoint without
 * the record (written before it existed) still resumes. Leaves g_root and ckpt as found. */
static void resume_refuses_changed_data(const char *cfg, const char *ckpt) {
  char dir[1200], from[1200], to[1300], old_ckpt[1300];
  snprintf(dir, sizeof dir, "%s/train/ant/more", g_root);
  assert_int_equal(mkdir(dir, 0777), 0);
  write_image(dir, "extra.png", 40, 30, 0, 9, 0);
  expect_resume_error(cfg, ckpt, "the training data changed since this checkpoint: 12 samples then, 13 now");
  snprintf(to, sizeof to, "%s/extra.png", dir);
  unlink(to);
  rmdir(dir);
  snprintf(from, sizeof from, "%s/train/ant/img1.png", g_root);
  snprintf(to, sizeof to, "%s/train/ant/img1b.png", g_root);
  assert_int_equal(rename(from, to), 0);
  expect_resume_error(cfg, ckpt, "12 samples then and now, but other files");
  assert_int_equal(rename(to, from), 0);
  /* an older checkpoint: the same without /solver/data_count and data_hash */
  char net_path[1200];
  snprintf(net_path, sizeof net_path, "%s/img.net", g_tmp);
  dc_net *net;
  assert_int_equal(dc_net_load(net_path, 6, DC_NET_TRAIN, NULL, &net), DC_OK);
  dc_ckpt_state st;
  assert_int_equal(dc_ckpt_load(ckpt, net->params, &st), DC_OK);
  assert_int_equal(st.data_count, 12);
  assert_true(st.data_hash != 0);
  st.data_count = 0;
  st.data_hash = 0;
  snprintf(old_ckpt, sizeof old_ckpt, "%s.old.h5", ckpt);
  assert_int_equal(dc_ckpt_save(old_ckpt, net->params, &st), DC_OK);
  dc_net_free(net);
  /* (another output directory: this run must not replace ckpt) */
  char *other = img_experiment("ic.cfg", "ic", NULL, 6);
  assert_int_equal(rename(from, to), 0); /* the list differs, but the file cannot tell */
  dc_status s = tu_run(other, old_ckpt, 0, NULL);
  free(other);
  assert_int_equal(rename(to, from), 0);
  if (s != DC_OK) fail_msg("%s", dc_failure_reason());
  unlink(old_ckpt);
}

static void experiment_trains_and_resumes(void **state) {
  (void)state;
  free(tu_write_file(g_tmp, "img.net", IMG_NET));
  char *a = img_experiment("ia.cfg", "ia", NULL, 6);
  char *b = img_experiment("ib.cfg", "ib", NULL, 6);
  if (tu_run(a, NULL, 0, NULL) != DC_OK) fail_msg("%s", dc_failure_reason());
  assert_int_equal(tu_run(b, NULL, 3, NULL), DC_OK);
  char ckpt[1200], pa[1200], pb[1200];
  snprintf(ckpt, sizeof ckpt, "%s/ib/ckpt.h5", g_tmp);
  resume_refuses_changed_data(b, ckpt);
  if (tu_run(b, ckpt, 0, NULL) != DC_OK) fail_msg("%s", dc_failure_reason());
  snprintf(pa, sizeof pa, "%s/ia/train.h5", g_tmp);
  snprintf(pb, sizeof pb, "%s/ib/train.h5", g_tmp);
  const char *names[] = {"/params/conv1/weight", "/params/conv1/bias", "/params/ip1/weight",
                         "/params/ip1/bias"};
  for (int i = 0; i < 4; i++) {
    size_t na, nb;
    float *va = read_param(pa, names[i], &na), *vb = read_param(pb, names[i], &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(va, vb, sizeof(float) * na);
    free(va);
    free(vb);
  }
  free(a);
  free(b);
}

static void experiment_errors(void **state) {
  (void)state;
  free(tu_write_file(g_tmp, "img.net", IMG_NET));
  char head[1200], text[3000];
  snprintf(head, sizeof head, "[experiment]\nnet = %s/img.net\noutput = %s/err\n", g_tmp, g_tmp);
  const char *solver = "[solver]\nbase_lr = 0.01\nmax_iter = 2\nbatch = 2\ntest_interval = 0\n";
  struct {
    const char *data;
    dc_status s;
    const char *want;
  } cases[] = {
      /* imagenet keys with kind = mnist: an error naming the key, not ignored */
      {"kind = mnist\ncrop = 16\n", DC_ERR_CFG,
       "bad.cfg:6: [data] crop: only used with kind = imagenet (this is kind = mnist)"},
      {"loader_threads = 2\n", DC_ERR_CFG, "[data] loader_threads: only used with kind = imagenet"},
      {"kind = imagenet\nresize = 20\ncrop = 24\n", DC_ERR_CFG,
       "bad.cfg:7: [data] crop: crop 24 is larger than resize = 20"},
      {"kind = imagenet\ncrop = 300\n", DC_ERR_CFG, "crop 300 is larger than resize = 256"},
      {"kind = imagenet\nmean = 1, 2\n", DC_ERR_CFG, "[data] mean: expected 3 numbers (one per output channel, in `channels` order), got 2"},
      {"kind = imagenet\nmean = 1, 2, 3, 4\n", DC_ERR_CFG, "[data] mean"},
      {"kind = imagenet\nmirror = maybe\n", DC_ERR_CFG, "[data] mirror"},
      {"kind = imagenet\nloader_threads = 0\n", DC_ERR_CFG, "[data] loader_threads"},
      {"kind = imagenet\ncropp = 16\n", DC_ERR_CFG, "unknown key 'cropp' (did you mean 'crop'?)"},
      {"kind = imagenett\n", DC_ERR_CFG, "[data] kind"},
      {"kind = imagenet\nchannels = rbg\n", DC_ERR_CFG,
       "[data] channels: expected one of: bgr, rgb; got 'rbg' (did you mean 'rgb'?)"},
      {"kind = imagenet\nresize_mode = shortest\n", DC_ERR_CFG,
       "[data] resize_mode: expected one of: squash, shorter; got 'shortest' (did you mean 'shorter'?)"},
      {"kind = imagenet\nstd = 1, 2\n", DC_ERR_CFG, "[data] std: expected 3 numbers (one per output channel"},
      {"kind = imagenet\nstd = 1, 0, 2\n", DC_ERR_CFG, "[data] std: expected positive numbers (they divide), got 0"},
      {"kind = imagenet\non_bad_image = ignore\n", DC_ERR_CFG, "[data] on_bad_image: expected one of: stop, skip"},
      {"kind = mnist\nval_list = val.txt\n", DC_ERR_CFG, "[data] val_list: only used with kind = imagenet"},
      {"on_bad_image = stop\n", DC_ERR_CFG, "[data] on_bad_image: only used with kind = imagenet"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(text, sizeof text, "%s[data]\n%s%s", head, cases[i].data, solver);
    tu_expect_run_error(g_tmp, text, cases[i].s, cases[i].want);
  }
  /* run-time errors: a missing tree, a data shape the net does not take, a corrupt image */
  snprintf(text, sizeof text, "%s[data]\nkind = imagenet\ndir = %s/nowhere\nresize = 20\ncrop = 16\n%s",
           head, g_tmp, solver);
  tu_expect_run_error(g_tmp, text, DC_ERR_IO, "nowhere/train: missing directory");
  snprintf(text, sizeof text, "%s[data]\nkind = imagenet\ndir = %s\nresize = 20\ncrop = 18\n%s", head,
           g_root, solver);
  tu_expect_run_error(g_tmp, text, DC_ERR_SHAPE, "the data is 3x18x18");
  char *root = scratch("badrun"), dir[1200];
  mkdir_p(root, "train", "p");
  mkdir_p(root, "val", "p");
  snprintf(dir, sizeof dir, "%s/train/p", root);
  write_image(dir, "a.png", 20, 20, 0, 0, 0);
  write_text(dir, "b.png", "garbage");
  snprintf(dir, sizeof dir, "%s/val/p", root);
  write_image(dir, "a.png", 20, 20, 0, 0, 0);
  snprintf(text, sizeof text, "%s[data]\nkind = imagenet\ndir = %s\nresize = 20\ncrop = 16\non_bad_image = stop\n%s",
           head, root, solver);
  tu_expect_run_error(g_tmp, text, DC_ERR_DATA, "/train/p/b.png: cannot decode image: ");
  /* by default the run goes on, and the stage summary counts the skipped image */
  snprintf(text, sizeof text, "%s[data]\nkind = imagenet\ndir = %s\nresize = 20\ncrop = 16\n%s", head, root, solver);
  char *cfg = tu_write_file(g_tmp, "skip.cfg", text);
  FILE *out = tmpfile();
  if (tu_run(cfg, NULL, 0, out) != DC_OK) fail_msg("%s", dc_failure_reason());
  rewind(out);
  char line[2048];
  int found = 0;
  while (fgets(line, sizeof line, out))
    if (strstr(line, "[train] done: 2 iterations") && strstr(line, "bad image") && !strstr(line, " 0 bad images") &&
        strstr(line, " images decoded at "))
      found = 1;
  assert_true(found);
  fclose(out);
  free(cfg);
  free(root);
}

/* The encode stage records the model's preprocessing in the .dcz (colour order, resize,
 * mean, scale); what the model section cannot carry (std, shorter-side resize) must not be
 * dropped silently: the file then holds the weights only, and the run says so. */
static void encode_records_what_it_can(void **state) {
  (void)state;
  free(tu_write_file(g_tmp, "img.net", IMG_NET));
  const char *extra[2] = {"channels = rgb\n", "channels = rgb\nstd = 2, 2, 2\n"};
  for (int k = 0; k < 2; k++) {
    char name[32], outdir[32];
    snprintf(name, sizeof name, "enc%d.cfg", k);
    snprintf(outdir, sizeof outdir, "enc%d", k);
    char *base = img_experiment(name, outdir, extra[k], 2);
    FILE *f = fopen(base, "a");
    assert_non_null(f);
    fputs("[quantize]\nconv_bits = 4\nfc_bits = 3\nretrain_iters = 1\n[encode]\n", f);
    fclose(f);
    FILE *out = tmpfile();
    if (tu_run(base, NULL, 0, out) != DC_OK) fail_msg("%s", dc_failure_reason());
    rewind(out);
    char line[2048];
    int note = 0;
    while (fgets(line, sizeof line, out)) note |= strstr(line, "[encode] note:") && strstr(line, "[data] std is not expressible");
    fclose(out);
    assert_int_equal(note, k == 1);
    char dcz[1200];
    snprintf(dcz, sizeof dcz, "%s/%s/model.dcz", g_tmp, outdir);
    dc_dcz_layer *layers;
    int n;
    dc_dcz_model m;
    if (dc_dcz_read_model(dcz, NULL, 0, &layers, &n, NULL, &m) != DC_OK) fail_msg("%s", dc_failure_reason());
    if (k == 0) {
      assert_non_null(m.net);
      assert_int_equal(m.color, DC_COLOR_RGB);
      assert_int_equal(m.resize, 20);
      assert_true(m.mean[0] == 100.0f && m.mean[2] == 120.0f);
    } else {
      assert_null(m.net); /* weights only */
    }
    dc_dcz_model_free(&m);
    dc_dcz_free(layers, n);
    free(base);
  }
}

/* The decode thread count does not change a run: 1 and 3 loader threads train to the
 * same weights (the prefetcher hands out the same bytes). */
static void loader_threads_do_not_change_a_run(void **state) {
  (void)state;
  free(tu_write_file(g_tmp, "img.net", IMG_NET));
  char *a = img_experiment("t1.cfg", "t1", "loader_threads = 1\n", 5);
  char *b = img_experiment("t3.cfg", "t3", "loader_threads = 3\n", 5);
  /* img_experiment already sets loader_threads = 2: drop that line */
  const char *cfgs[2] = {a, b};
  for (int k = 0; k < 2; k++) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "sed -i '/^loader_threads = 2$/d' '%s'", cfgs[k]);
    assert_int_equal(system(cmd), 0);
    if (tu_run(cfgs[k], NULL, 0, NULL) != DC_OK) fail_msg("%s", dc_failure_reason());
  }
  char pa[1200], pb[1200];
  snprintf(pa, sizeof pa, "%s/t1/train.h5", g_tmp);
  snprintf(pb, sizeof pb, "%s/t3/train.h5", g_tmp);
  size_t na, nb;
  float *va = read_param(pa, "/params/conv1/weight", &na), *vb = read_param(pb, "/params/conv1/weight", &nb);
  assert_int_equal(na, nb);
  assert_memory_equal(va, vb, sizeof(float) * na);
  free(va);
  free(vb);
  free(a);
  free(b);
}

/* test_limit and test_iters pick a subset spread over the classes. */
static void experiment_test_subset_spread(void **state) {
  (void)state;
  free(tu_write_file(g_tmp, "img.net", IMG_NET));
  const char *extra[2] = {"test_limit = 3\n", ""};
  for (int k = 0; k < 2; k++) {
    char text[2048];
    snprintf(text, sizeof text,
             "[experiment]\nnet = %s/img.net\noutput = %s/sub\n[data]\nkind = imagenet\ndir = %s\nresize = 20\n"
             "crop = 16\n%s[solver]\nbase_lr = 0.01\nbatch = 2\ntest_batch = 3\n%s",
             g_tmp, g_tmp, g_root, extra[k], k == 1 ? "test_iters = 1\n" : "");
    char *cfg = tu_write_file(g_tmp, "sub.cfg", text);
    dc_experiment e;
    if (dc_experiment_load(cfg, &e) != DC_OK) fail_msg("%s", dc_failure_reason());
    dc_dataset *d = NULL;
    if (dc_experiment_open_data(&e, 0, &d) != DC_OK) fail_msg("%s", dc_failure_reason());
    assert_int_equal(dc_dataset_count(d), 3);
    int y[3];
    free(batch(d, 0, 0, 0, 3, y));
    assert_true(y[0] == 0 && y[1] == 1 && y[2] == 2); /* one of each class, not all ants */
    dc_dataset_free(d);
    free(cfg);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_are_imagenet),
      cmocka_unit_test(open_count_classes_shape),
      cmocka_unit_test(centre_crop_exact),
      cmocka_unit_test(mean_subtraction_and_resize),
      cmocka_unit_test(resize_is_bilinear),
      cmocka_unit_test(train_crops_by_seed_and_position),
      cmocka_unit_test(mirror_switch),
      cmocka_unit_test(batches_are_deterministic),
      cmocka_unit_test(parallel_matches_serial),
      cmocka_unit_test(rgb_mean_std_scale_exact),
      cmocka_unit_test(shorter_side_resize),
      cmocka_unit_test(val_list),
      cmocka_unit_test(limit_spreads_over_classes),
      cmocka_unit_test(bad_image_skipped),
      cmocka_unit_test(encode_records_what_it_can),
      cmocka_unit_test(synthetic_tree_loads),
      cmocka_unit_test(corrupt_image_fails_the_batch),
      cmocka_unit_test(odd_trees),
      cmocka_unit_test(open_errors),
      cmocka_unit_test(experiment_trains_and_resumes),
      cmocka_unit_test(experiment_errors),
      cmocka_unit_test(loader_threads_do_not_change_a_run),
      cmocka_unit_test(experiment_test_subset_spread),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_data.c — the dataset module: idx reading (plain and gzip) with every
 * validation error, scaling and labels, the shuffled batch stream (determinism,
 * one-visit-per-epoch, epoch straddling, resume), limit, the ops-table plug-in,
 * and (when data/mnist is fetched) the real MNIST splits.
 *
 * Tiny idx files are generated in a mkdtemp directory. Sample i has pixel k equal
 * to (i + 31k) mod 256, so pixel 0 identifies the sample, and label (3i) mod 5. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dc/data.h"
#include "dc/loader.h"
#include "dc/rng.h"

static char g_dir[256];

/* ---- fixtures: idx file generation ------------------------------------------- */

static uint8_t pix(int i, int k) { return (uint8_t)((i + 31 * k) & 255); }
static int lab(int i) { return (3 * i) % 5; }

static void put32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)(v >> 24);
  b[1] = (uint8_t)(v >> 16);
  b[2] = (uint8_t)(v >> 8);
  b[3] = (uint8_t)v;
}

/* Bytes of an idx3 image file with n images of rows×cols (header may lie via hn). */
static uint8_t *images_bytes(uint32_t magic, int hn, int hrows, int hcols, int n, int rows,
                             int cols, size_t *len) {
  size_t hw = (size_t)rows * (size_t)cols;
  *len = 16 + (size_t)n * hw;
  uint8_t *b = malloc(*len);
  assert_non_null(b);
  put32(b, magic);
  put32(b + 4, (uint32_t)hn);
  put32(b + 8, (uint32_t)hrows);
  put32(b + 12, (uint32_t)hcols);
  for (int i = 0; i < n; i++)
    for (size_t k = 0; k < hw; k++) b[16 + (size_t)i * hw + k] = pix(i, (int)k);
  return b;
}

static uint8_t *labels_bytes(uint32_t magic, int hn, int n, size_t *len) {
  *len = 8 + (size_t)n;
  uint8_t *b = malloc(*len);
  assert_non_null(b);
  put32(b, magic);
  put32(b + 4, (uint32_t)hn);
  for (int i = 0; i < n; i++) b[8 + i] = (uint8_t)lab(i);
  return b;
}

/* Write len bytes to g_dir/name (gzip-compressed when gz); path receives the path. */
static void write_file(char *path, size_t size, const char *name, const uint8_t *b, size_t len,
                       int gz) {
  int k = snprintf(path, size, "%s/%s", g_dir, name);
  assert_true(k > 0 && (size_t)k < size);
  if (gz) {
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(gzwrite(f, b, (unsigned)len), (int)len);
    assert_int_equal(gzclose(f), Z_OK);
  } else {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(b, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
  }
}

/* A well-formed pair of n images (rows×cols) + labels in g_dir/iname, g_dir/lname. */
static void write_named(char *ip, char *lp, size_t size, const char *iname, const char *lname,
                        int n, int rows, int cols, int gz) {
  size_t il, ll;
  uint8_t *ib = images_bytes(0x803, n, rows, cols, n, rows, cols, &il);
  uint8_t *lb = labels_bytes(0x801, n, n, &ll);
  write_file(ip, size, iname, ib, il, gz);
  write_file(lp, size, lname, lb, ll, gz);
  free(ib);
  free(lb);
}

/* The same, named prefix-images / prefix-labels (+ ".gz" when gz). */
static void write_pair(char *ip, char *lp, size_t size, const char *prefix, int n, int rows,
                       int cols, int gz) {
  char iname[128], lname[128];
  snprintf(iname, sizeof iname, "%s-images%s", prefix, gz ? ".gz" : "");
  snprintf(lname, sizeof lname, "%s-labels%s", prefix, gz ? ".gz" : "");
  write_named(ip, lp, size, iname, lname, n, rows, cols, gz);
}

static int setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  snprintf(g_dir, sizeof g_dir, "%s/dc_test_data.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  return mkdtemp(g_dir) ? 0 : -1;
}

/* Remove g_dir and everything below it (one level of subdirectories). */
static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
      remove_tree(p);
    else
      unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static int teardown(void **state) {
  (void)state;
  remove_tree(g_dir);
  return 0;
}

/* Expect opening (ip, lp) to fail with status s and exactly message want. */
static void expect_open_fails(const char *ip, const char *lp, dc_status s, const char *want) {
  dc_dataset *d = (dc_dataset *)&d; /* must be reset to NULL */
  dc_failure_clear();
  assert_int_equal(dc_dataset_open_idx(ip, lp, 1.0f, &d), s);
  assert_null(d);
  assert_string_equal(dc_failure_reason(), want);
}

/* Expect the failure reason to contain `part`. */
static void expect_reason_has(const char *part) {
  const char *r = dc_failure_reason();
  if (!strstr(r, part)) fail_msg("reason \"%s\" lacks \"%s\"", r, part);
}

/* Check every sample of d against the generator (n samples of 1×rows×cols). */
static void check_contents(dc_dataset *d, int n, int rows, int cols, float scale) {
  int c, h, w;
  dc_dataset_shape(d, &c, &h, &w);
  assert_int_equal(c, 1);
  assert_int_equal(h, rows);
  assert_int_equal(w, cols);
  assert_int_equal(dc_dataset_count(d), n);
  int maxlab = 0;
  for (int i = 0; i < n; i++) maxlab = lab(i) > maxlab ? lab(i) : maxlab;
  assert_int_equal(dc_dataset_classes(d), maxlab + 1);
  float *x = malloc(sizeof(float) * (size_t)(rows * cols));
  for (int i = 0; i < n; i++) {
    int y = -1;
    assert_int_equal(dc_dataset_get(d, i, x, &y), DC_OK);
    assert_int_equal(y, lab(i));
    for (int k = 0; k < rows * cols; k++) assert_true(x[k] == (float)pix(i, k) * scale);
  }
  free(x);
}

/* ---- loading --------------------------------------------------------------------- */

static void test_load_plain(void **state) {
  (void)state;
  char ip[512], lp[512];
  write_pair(ip, lp, sizeof ip, "plain", 7, 3, 2, 0);
  dc_dataset *d = NULL;
  assert_int_equal(dc_dataset_open_idx(ip, lp, DC_MNIST_SCALE, &d), DC_OK);
  check_contents(d, 7, 3, 2, DC_MNIST_SCALE);
  /* pixel 255*scale stays below 1 (Caffe's [0,1) input) */
  float x[6];
  int y;
  assert_int_equal(dc_dataset_get(d, 6, x, &y), DC_OK);
  assert_true(x[0] == 6.0f / 256.0f);
  dc_dataset_free(d);
}

static void test_load_gz(void **state) {
  (void)state;
  char ip[512], lp[512];
  write_pair(ip, lp, sizeof ip, "gz", 9, 4, 5, 1);
  dc_dataset *d = NULL;
  assert_int_equal(dc_dataset_open_idx(ip, lp, 0.5f, &d), DC_OK);
  check_contents(d, 9, 4, 5, 0.5f);
  dc_dataset_free(d);
}

/* A plain split, a gz-only split, and plain preferred over a (broken) .gz twin. */
static void test_mnist_open_names(void **state) {
  (void)state;
  char dir[300], ip[512], lp[512];
  snprintf(dir, sizeof dir, "%s/mn", g_dir);
  assert_int_equal(mkdir(dir, 0700), 0);
  write_named(ip, lp, sizeof ip, "mn/train-images-idx3-ubyte.gz",
              "mn/train-labels-idx1-ubyte.gz", 6, 2, 2, 1); /* gz only */
  write_named(ip, lp, sizeof ip, "mn/t10k-images-idx3-ubyte", "mn/t10k-labels-idx1-ubyte", 4,
              2, 2, 0); /* plain */
  /* a garbage .gz next to the plain t10k images: must be ignored */
  write_file(ip, sizeof ip, "mn/t10k-images-idx3-ubyte.gz", (const uint8_t *)"junk", 4, 0);

  dc_dataset *d = NULL;
  assert_int_equal(dc_mnist_open(dir, 1, 1.0f, &d), DC_OK);
  check_contents(d, 6, 2, 2, 1.0f);
  assert_int_equal(dc_dataset_decodes(d), 0); /* in memory: progress says "load" */
  dc_dataset_free(d);
  assert_int_equal(dc_mnist_open(dir, 0, 1.0f, &d), DC_OK);
  check_contents(d, 4, 2, 2, 1.0f);
  dc_dataset_free(d);
}

/* ---- the batch stream --------------------------------------------------------------- */

enum { SN = 50, SR = 2, SC = 3 }; /* the stream tests' dataset: 50 samples of 2×3 */

static dc_dataset *open_stream_set(const char *prefix) {
  char ip[512], lp[512];
  write_pair(ip, lp, sizeof ip, prefix, SN, SR, SC, 0);
  dc_dataset *d = NULL;
  assert_int_equal(dc_dataset_open_idx(ip, lp, 1.0f, &d), DC_OK);
  return d;
}

/* Sample ids (pixel 0) and labels of positions first..first+n-1. */
static void stream_ids(dc_dataset *d, uint64_t seed, int shuffle, int64_t first, int n, int *ids) {
  float *x = malloc(sizeof(float) * (size_t)n * SR * SC);
  int *y = malloc(sizeof(int) * (size_t)n);
  assert_int_equal(dc_dataset_batch(d, seed, shuffle, first, n, x, y), DC_OK);
  for (int i = 0; i < n; i++) {
    ids[i] = (int)x[(size_t)i * SR * SC];
    assert_int_equal(y[i], lab(ids[i])); /* label travels with its image */
    for (int k = 0; k < SR * SC; k++) assert_true(x[(size_t)i * SR * SC + k] == pix(ids[i], k));
  }
  free(x);
  free(y);
}

static void test_batch_sequential(void **state) {
  (void)state;
  dc_dataset *d = open_stream_set("seq");
  int ids[120];
  stream_ids(d, 123, 0, 0, 120, ids); /* crosses two epoch boundaries */
  for (int i = 0; i < 120; i++) assert_int_equal(ids[i], i % SN);
  stream_ids(d, 999, 0, 48, 4, ids); /* seed is irrelevant without shuffle */
  assert_int_equal(ids[0], 48);
  assert_int_equal(ids[1], 49);
  assert_int_equal(ids[2], 0);
  assert_int_equal(ids[3], 1);
  dc_dataset_free(d);
}

static void test_shuffle_contract(void **state) {
  (void)state;
  dc_dataset *d = open_stream_set("shuf");
  const uint64_t seed = 42;
  int e0[SN], e0b[SN], e1[SN], e7[SN], other[SN], seen[SN];
  stream_ids(d, seed, 1, 0, SN, e0);
  stream_ids(d, seed, 1, SN, SN, e1);
  stream_ids(d, seed, 1, 7 * SN, SN, e7);
  stream_ids(d, seed, 1, 0, SN, e0b); /* back to epoch 0 after the cache moved on */
  stream_ids(d, seed + 1, 1, 0, SN, other);
  assert_memory_equal(e0, e0b, sizeof e0);
  assert_memory_not_equal(e0, e1, sizeof e0);
  assert_memory_not_equal(e1, e7, sizeof e0);
  assert_memory_not_equal(e0, other, sizeof e0);
  int ident = 1;
  for (int i = 0; i < SN; i++) ident &= e0[i] == i;
  assert_false(ident);
  /* every sample exactly once per epoch */
  const int *ep[] = {e0, e1, e7, other};
  for (int k = 0; k < 4; k++) {
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < SN; i++) seen[ep[k][i]]++;
    for (int i = 0; i < SN; i++) assert_int_equal(seen[i], 1);
  }
  /* the documented permutation: Fisher-Yates with dc_rng_seed(r, seed, epoch) */
  int perm[SN];
  for (int i = 0; i < SN; i++) perm[i] = i;
  dc_rng r;
  dc_rng_seed(&r, seed, 7);
  dc_rng_shuffle(&r, perm, SN);
  assert_memory_equal(perm, e7, sizeof perm);
  dc_dataset_free(d);
}

/* A batch across an epoch boundary equals the tail of one epoch + head of the next,
 * and a run resumed at any iteration sees the same stream as an uninterrupted one. */
static void test_straddle_and_resume(void **state) {
  (void)state;
  dc_dataset *d = open_stream_set("strad");
  const uint64_t seed = 7;
  int whole[3 * SN], part[16];
  stream_ids(d, seed, 1, 0, 3 * SN, whole);
  int e2[SN];
  stream_ids(d, seed, 1, 2 * SN, SN, e2);
  stream_ids(d, seed, 1, SN - 5, 16, part); /* 5 from epoch 0, 11 from epoch 1 */
  assert_memory_equal(part, whole + SN - 5, sizeof part);
  /* batch of 16 at iterations 0..8 (positions up to 144 < 150) from a fresh dataset */
  dc_dataset *d2 = open_stream_set("strad2");
  for (int it = 8; it >= 0; it--) { /* resume order should not matter either */
    stream_ids(d2, seed, 1, (int64_t)it * 16, 16, part);
    assert_memory_equal(part, whole + it * 16, sizeof part);
  }
  assert_memory_equal(e2, whole + 2 * SN, sizeof e2);
  /* a batch larger than the dataset spans several epochs */
  int big[3 * SN];
  stream_ids(d2, seed, 1, 0, 3 * SN, big);
  assert_memory_equal(big, whole, sizeof big);
  /* far-away positions work (64-bit epoch index) */
  int far[2];
  stream_ids(d2, seed, 1, (int64_t)1 << 40, 2, far);
  assert_true(far[0] >= 0 && far[0] < SN && far[1] >= 0 && far[1] < SN && far[0] != far[1]);
  dc_dataset_free(d);
  dc_dataset_free(d2);
}

static void test_limit(void **state) {
  (void)state;
  dc_dataset *d = open_stream_set("limit");
  int classes = dc_dataset_classes(d);
  int ids[SN], seen[SN];
  stream_ids(d, 5, 1, 0, SN, ids); /* warm the permutation cache at full size */
  dc_dataset_limit(d, 10);
  assert_int_equal(dc_dataset_count(d), 10);
  assert_int_equal(dc_dataset_classes(d), classes);
  stream_ids(d, 5, 1, 0, 30, ids); /* three epochs of 10 */
  for (int e = 0; e < 3; e++) {
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 10; i++) {
      /* spread over the whole set: every 5th sample, not the first 10 */
      assert_int_equal(ids[e * 10 + i] % 5, 0);
      seen[ids[e * 10 + i]]++;
    }
    for (int i = 0; i < 10; i++) assert_int_equal(seen[i * 5], 1);
  }
  stream_ids(d, 5, 0, 8, 4, ids);
  assert_int_equal(ids[0], 40);
  assert_int_equal(ids[1], 45);
  assert_int_equal(ids[2], 0); /* position 10 wraps to sample 0 */
  float x0[SR * SC];
  int y0;
  assert_int_equal(dc_dataset_get(d, 9, x0, &y0), DC_OK); /* get goes through the limit too */
  assert_true(x0[0] == pix(45, 0));
  dc_dataset_limit(d, 7); /* not a divisor: floor(j * 50 / 7) */
  stream_ids(d, 5, 0, 0, 7, ids);
  const int want7[7] = {0, 7, 14, 21, 28, 35, 42};
  assert_memory_equal(ids, want7, sizeof want7);
  float x[SR * SC];
  dc_failure_clear();
  assert_int_equal(dc_dataset_get(d, 10, x, NULL), DC_ERR_ARG);
  expect_reason_has("out of range");
  dc_dataset_limit(d, 1000); /* clipped */
  assert_int_equal(dc_dataset_count(d), SN);
  dc_dataset_limit(d, 3);
  dc_dataset_limit(d, 0); /* 0 = all */
  assert_int_equal(dc_dataset_count(d), SN);
  dc_dataset_free(d);
}

static void test_batch_bad_args(void **state) {
  (void)state;
  dc_dataset *d = open_stream_set("args");
  float x[SR * SC];
  int y;
  dc_failure_clear();
  assert_int_equal(dc_dataset_batch(d, 1, 1, -1, 1, x, &y), DC_ERR_ARG);
  expect_reason_has("bad batch range");
  dc_failure_clear();
  assert_int_equal(dc_dataset_batch(d, 1, 1, 0, -1, x, &y), DC_ERR_ARG);
  dc_failure_clear();
  assert_int_equal(dc_dataset_batch(d, 1, 1, INT64_MAX, 2, x, &y), DC_ERR_ARG);
  assert_int_equal(dc_dataset_batch(d, 1, 1, 0, 0, x, &y), DC_OK); /* empty batch is fine */
  assert_int_equal(dc_dataset_batch(d, 1, 1, 3, 1, x, NULL), DC_OK); /* labels optional */
  dc_failure_clear();
  assert_int_equal(dc_dataset_get(d, -1, x, &y), DC_ERR_ARG);
  dc_dataset_free(d);
}

/* ---- the ops table: a fake kind --------------------------------------------------- */

static int g_fake_destroyed;

static dc_status fake_get(void *impl, int index, float *x, int *y) {
  (void)impl;
  if (index == 3) return dc_fail(DC_ERR_DATA, "fake: sample 3 is corrupt");
  x[0] = (float)index;
  x[1] = -(float)index;
  *y = index % 2;
  return DC_OK;
}

static void fake_destroy(void *impl) {
  free(impl);
  g_fake_destroyed++;
}

static const dc_dataset_ops fake_ops = {"fake", fake_get, fake_destroy, 0};

static void test_plugin_kind(void **state) {
  (void)state;
  dc_dataset *d = NULL;
  g_fake_destroyed = 0;
  assert_int_equal(dc_dataset_create(&fake_ops, malloc(8), 5, 2, 1, 1, 2, &d), DC_OK);
  int c, h, w;
  dc_dataset_shape(d, &c, NULL, &w);
  dc_dataset_shape(d, NULL, &h, NULL);
  assert_int_equal(c * 100 + h * 10 + w, 211);
  float x[4];
  int y[2];
  assert_int_equal(dc_dataset_batch(d, 0, 0, 4, 2, x, y), DC_OK); /* samples 4, 0 */
  assert_true(x[0] == 4.0f && x[1] == -4.0f && x[2] == 0.0f && y[0] == 0 && y[1] == 0);
  dc_failure_clear();
  assert_int_equal(dc_dataset_batch(d, 0, 0, 2, 2, x, y), DC_ERR_DATA); /* hits sample 3 */
  assert_string_equal(dc_failure_reason(), "fake: sample 3 is corrupt");
  dc_dataset_free(d);
  assert_int_equal(g_fake_destroyed, 1);
  dc_dataset_free(NULL);
  /* bad sizes: error, impl destroyed, *out NULL */
  d = (dc_dataset *)&d;
  dc_failure_clear();
  assert_int_equal(dc_dataset_create(&fake_ops, malloc(8), 0, 2, 1, 1, 2, &d), DC_ERR_ARG);
  assert_null(d);
  assert_int_equal(g_fake_destroyed, 2);
  expect_reason_has("fake dataset: bad size");
  assert_int_equal(dc_dataset_create(&fake_ops, malloc(8), 5, 2, 0, 1, 2, &d), DC_ERR_ARG);
  assert_int_equal(dc_dataset_create(&fake_ops, malloc(8), 5, 2, 1, 1, 0, &d), DC_ERR_ARG);
  assert_int_equal(g_fake_destroyed, 4);
}

/* DC_BAD_SKIP: an unreadable sample is reported once and its slot takes the next
 * position's sample; the policy STOP (the default) fails as before. */
static void test_skip_bad_samples(void **state) {
  (void)state;
  dc_dataset *d = NULL;
  assert_int_equal(dc_dataset_create(&fake_ops, malloc(8), 5, 2, 1, 1, 2, &d), DC_OK);
  FILE *rep = tmpfile();
  assert_non_null(rep);
  dc_dataset_set_on_bad(d, DC_BAD_SKIP, rep);
  float x[2 * 6];
  int y[6];
  for (int t = 1; t <= 3; t += 2) { /* serial and threaded batches agree */
    dc_dataset_set_threads(d, t);
    assert_int_equal(dc_dataset_batch(d, 0, 0, 1, 6, x, y), DC_OK); /* positions 1..6 */
    const float want[6] = {1, 2, 4, 4, 0, 1};                      /* position 3 -> 4's sample */
    for (int i = 0; i < 6; i++) assert_true(x[2 * i] == want[i] && y[i] == (int)want[i] % 2);
  }
  assert_int_equal(dc_dataset_skipped(d), 2);     /* each pass skipped sample 3 once */
  assert_int_equal(dc_dataset_bad_samples(d), 1); /* one bad sample */
  /* reported once, one line, naming the sample */
  rewind(rep);
  char line[512];
  int lines = 0;
  while (fgets(line, sizeof line, rep)) {
    lines++;
    assert_non_null(strstr(line, "dctrain: warning: fake: sample 3 is corrupt (skipped"));
  }
  assert_int_equal(lines, 1);
  fclose(rep);
  /* with a shuffle: the slot's content is that of the next position, whatever the order
   * positions are asked in */
  float a[2], b[2];
  for (int64_t p = 0; p < 30; p++) {
    int ya, yb;
    assert_int_equal(dc_dataset_sample_at(d, 9, 1, p, a, &ya), DC_OK);
    assert_true(a[0] != 3.0f);
    assert_int_equal(dc_dataset_sample_at(d, 9, 1, p + 1, b, &yb), DC_OK);
    dc_dataset_set_on_bad(d, DC_BAD_STOP, NULL);
    dc_status st = dc_dataset_sample_at(d, 9, 1, p, b, &yb);
    dc_dataset_set_on_bad(d, DC_BAD_SKIP, NULL);
    if (st == DC_OK) { /* a readable slot is itself */
      assert_true(a[0] == b[0]);
    } else { /* a bad one: the next position's sample */
      assert_int_equal(st, DC_ERR_DATA);
      float c[2];
      assert_int_equal(dc_dataset_sample_at(d, 9, 1, p + 1, c, NULL), DC_OK);
      assert_true(a[0] == c[0]);
    }
  }
  dc_dataset_free(d);
}

/* Every sample bad: a one-line error, not an endless search. */
static dc_status bad_get(void *impl, int index, float *x, int *y) {
  (void)impl;
  (void)x;
  (void)y;
  return dc_fail(DC_ERR_DATA, "bad: sample %d", index);
}
static const dc_dataset_ops bad_ops = {"bad", bad_get, fake_destroy, 0};

static void test_all_bad(void **state) {
  (void)state;
  dc_dataset *d = NULL;
  assert_int_equal(dc_dataset_create(&bad_ops, malloc(8), 4, 1, 1, 1, 1, &d), DC_OK);
  dc_dataset_set_on_bad(d, DC_BAD_SKIP, NULL);
  float x[1];
  dc_failure_clear();
  assert_int_equal(dc_dataset_batch(d, 1, 1, 0, 1, x, NULL), DC_ERR_DATA);
  expect_reason_has("bad dataset: none of the 4 samples could be read (the last failure: bad: sample ");
  dc_dataset_free(d);
}

/* The loader hands out exactly dc_dataset_batch's bytes for positions first + k*stride,
 * with any thread count and depth, a share n smaller than the stride (data
 * parallelism) and batches across epoch boundaries. */
static void test_loader_matches_batches(void **state) {
  (void)state;
  dc_dataset *d = open_stream_set("loader");
  const int n = 7;
  const int64_t stride = 16, first = 5;
  float x[7 * SR * SC], want[7 * SR * SC];
  int y[7], wy[7];
  for (int t = 1; t <= 3; t++)
    for (int depth = 1; depth <= 3; depth += 2) {
      dc_dataset_set_threads(d, t);
      dc_loader *l = NULL;
      assert_int_equal(dc_loader_open(d, 77, 1, first, n, stride, depth, &l), DC_OK);
      for (int k = 0; k < 12; k++) { /* 12 requests span 4 epochs of 50 */
        assert_true(dc_loader_at(l, first + k * stride, n, stride));
        assert_int_equal(dc_loader_next(l, x, y), DC_OK);
        assert_int_equal(dc_dataset_batch(d, 77, 1, first + k * stride, n, want, wy), DC_OK);
        assert_memory_equal(x, want, sizeof x);
        assert_memory_equal(y, wy, sizeof y);
      }
      assert_false(dc_loader_at(l, first + 12 * stride, n + 1, stride));
      dc_loader_stats st;
      dc_loader_get_stats(l, &st);
      assert_int_equal(st.batches, 12);
      assert_int_equal(st.threads, t);
      assert_true(st.images >= 12 * n && st.images <= (12 + depth) * n);
      dc_loader_close(l);
    }
  dc_loader *l = (dc_loader *)&l;
  dc_failure_clear();
  assert_int_equal(dc_loader_open(d, 1, 1, 0, 0, 1, 1, &l), DC_ERR_ARG);
  assert_null(l);
  expect_reason_has("loader: bad request stream");
  dc_loader_close(NULL);
  dc_dataset_free(d);
}

/* A failing batch is reported by the call that asks for it (the lowest failing slot),
 * and again by later calls; the batches before it are delivered. */
static void test_loader_failure(void **state) {
  (void)state;
  dc_dataset *d = NULL;
  assert_int_equal(dc_dataset_create(&fake_ops, malloc(8), 5, 2, 1, 1, 2, &d), DC_OK);
  dc_dataset_set_threads(d, 2);
  dc_loader *l = NULL;
  assert_int_equal(dc_loader_open(d, 0, 0, 0, 2, 2, 3, &l), DC_OK);
  float x[4];
  int y[2];
  assert_int_equal(dc_loader_next(l, x, y), DC_OK); /* samples 0, 1 */
  assert_true(x[0] == 0.0f && x[2] == 1.0f);
  for (int k = 0; k < 2; k++) {
    dc_failure_clear();
    assert_int_equal(dc_loader_next(l, x, y), DC_ERR_DATA); /* samples 2, 3 */
    assert_string_equal(dc_failure_reason(), "fake: sample 3 is corrupt");
  }
  dc_loader_close(l); /* with workers waiting on a full ring */
  dc_dataset_free(d);
}

/* ---- error paths --------------------------------------------------------------------- */

static void test_err_bad_magic(void **state) {
  (void)state;
  char ip[512], lp[512], want[1200];
  write_pair(ip, lp, sizeof ip, "magic", 3, 2, 2, 0);
  /* labels passed as images and vice versa */
  snprintf(want, sizeof want, "%s: bad magic 0x00000801, expected 0x00000803 (idx3 images)", lp);
  expect_open_fails(lp, lp, DC_ERR_DATA, want);
  snprintf(want, sizeof want, "%s: bad magic 0x00000803, expected 0x00000801 (idx1 labels)", ip);
  expect_open_fails(ip, ip, DC_ERR_DATA, want);
  /* a float idx3 (type 0x0d) is not ubyte */
  size_t len;
  uint8_t *b = images_bytes(0x0d03, 3, 2, 2, 3, 2, 2, &len);
  char fp[512];
  write_file(fp, sizeof fp, "magic-float", b, len, 1);
  free(b);
  snprintf(want, sizeof want, "%s: bad magic 0x00000d03, expected 0x00000803 (idx3 images)", fp);
  expect_open_fails(fp, lp, DC_ERR_DATA, want);
}

static void test_err_truncated(void **state) {
  (void)state;
  char ip[512], lp[512], tp[512], want[1200];
  write_pair(ip, lp, sizeof ip, "trunc", 5, 4, 4, 0);
  size_t len;
  uint8_t *b = images_bytes(0x803, 5, 4, 4, 5, 4, 4, &len); /* 16 + 80 bytes */
  write_file(tp, sizeof tp, "trunc-images-short", b, 30, 0);
  snprintf(want, sizeof want,
           "%s: truncated: header says 5 images of 4x4 (96 bytes), file has 30 bytes", tp);
  expect_open_fails(tp, lp, DC_ERR_DATA, want);
  /* same for a gzipped file: sizes are of the uncompressed content */
  write_file(tp, sizeof tp, "trunc-images-short.gz", b, 95, 1);
  snprintf(want, sizeof want,
           "%s: truncated: header says 5 images of 4x4 (96 bytes), file has 95 bytes", tp);
  expect_open_fails(tp, lp, DC_ERR_DATA, want);
  /* cut inside the header, and an empty file */
  write_file(tp, sizeof tp, "trunc-images-hdr", b, 10, 0);
  snprintf(want, sizeof want,
           "%s: truncated: idx3 images header needs 16 bytes, file has 10 bytes", tp);
  expect_open_fails(tp, lp, DC_ERR_DATA, want);
  write_file(tp, sizeof tp, "trunc-images-empty", b, 0, 0);
  snprintf(want, sizeof want,
           "%s: truncated: idx3 images header needs 16 bytes, file has 0 bytes", tp);
  expect_open_fails(tp, lp, DC_ERR_DATA, want);
  free(b);
  /* a short label file */
  b = labels_bytes(0x801, 5, 5, &len);
  write_file(tp, sizeof tp, "trunc-labels-short", b, len - 2, 0);
  snprintf(want, sizeof want, "%s: truncated: header says 5 labels (13 bytes), file has 11 bytes",
           tp);
  expect_open_fails(ip, tp, DC_ERR_DATA, want);
  free(b);
}

static void test_err_trailing(void **state) {
  (void)state;
  char ip[512], lp[512], tp[512], want[1200];
  write_pair(ip, lp, sizeof ip, "trail", 5, 4, 4, 0);
  size_t len;
  uint8_t *b = images_bytes(0x803, 5, 4, 4, 6, 4, 4, &len); /* header says 5, holds 6 */
  write_file(tp, sizeof tp, "trail-bad-images", b, len, 0);
  snprintf(want, sizeof want,
           "%s: 16 trailing bytes: header says 5 images of 4x4 (96 bytes), file has 112 bytes",
           tp);
  expect_open_fails(tp, lp, DC_ERR_DATA, want);
  write_file(tp, sizeof tp, "trail-bad-images.gz", b, len - 15, 1);
  snprintf(want, sizeof want,
           "%s: 1 trailing bytes: header says 5 images of 4x4 (96 bytes), file has 97 bytes", tp);
  expect_open_fails(tp, lp, DC_ERR_DATA, want);
  free(b);
  b = labels_bytes(0x801, 5, 9, &len);
  write_file(tp, sizeof tp, "trail-bad-labels", b, len, 0);
  snprintf(want, sizeof want,
           "%s: 4 trailing bytes: header says 5 labels (13 bytes), file has 17 bytes", tp);
  expect_open_fails(ip, tp, DC_ERR_DATA, want);
  free(b);
}

static void test_err_count_mismatch(void **state) {
  (void)state;
  char ip[512], lp[512], ip2[512], lp2[512], want[1200];
  write_pair(ip, lp, sizeof ip, "cnt5", 5, 2, 2, 0);
  write_pair(ip2, lp2, sizeof ip2, "cnt6", 6, 2, 2, 0);
  snprintf(want, sizeof want, "%s: header says 6 labels but %s has 5 images", lp2, ip);
  expect_open_fails(ip, lp2, DC_ERR_DATA, want);
}

static void test_err_missing(void **state) {
  (void)state;
  char ip[512], lp[512], miss[512], want[1200];
  write_pair(ip, lp, sizeof ip, "miss", 2, 2, 2, 0);
  snprintf(miss, sizeof miss, "%s/no-such-file", g_dir);
  snprintf(want, sizeof want, "%s: cannot open: No such file or directory", miss);
  expect_open_fails(miss, lp, DC_ERR_IO, want);
  expect_open_fails(ip, miss, DC_ERR_IO, want);
  /* a directory is not a file */
  snprintf(want, sizeof want, "%s: cannot open: Is a directory", g_dir);
  expect_open_fails(g_dir, lp, DC_ERR_IO, want);
  /* MNIST names point at the fetch script */
  dc_dataset *d = (dc_dataset *)&d;
  char dir[300];
  snprintf(dir, sizeof dir, "%s/empty-mnist", g_dir);
  assert_int_equal(mkdir(dir, 0700), 0);
  dc_failure_clear();
  assert_int_equal(dc_mnist_open(dir, 1, 1.0f, &d), DC_ERR_IO);
  assert_null(d);
  snprintf(want, sizeof want,
           "%s/train-images-idx3-ubyte: cannot open: No such file or directory (nor .gz; run "
           "scripts/fetch-mnist.sh to download MNIST)",
           dir);
  assert_string_equal(dc_failure_reason(), want);
}

static void test_err_dims(void **state) {
  (void)state;
  char ip[512], lp[512], tp[512], want[1200];
  write_pair(ip, lp, sizeof ip, "dims", 3, 2, 2, 0);
  size_t len;
  uint8_t *b = images_bytes(0x803, 3, 0, 2, 3, 2, 2, &len);
  write_file(tp, sizeof tp, "dims-rows0", b, 16, 0);
  snprintf(want, sizeof want,
           "%s: bad dims: 3 images of 0x2 (need >= 1 image, sides 1..65536)", tp);
  expect_open_fails(tp, lp, DC_ERR_DATA, want);
  free(b);
  b = images_bytes(0x803, 0, 2, 2, 0, 2, 2, &len);
  write_file(tp, sizeof tp, "dims-n0", b, len, 0);
  snprintf(want, sizeof want,
           "%s: bad dims: 0 images of 2x2 (need >= 1 image, sides 1..65536)", tp);
  expect_open_fails(tp, lp, DC_ERR_DATA, want);
  free(b);
  b = images_bytes(0x803, 3, 100000, 2, 3, 2, 2, &len);
  write_file(tp, sizeof tp, "dims-huge", b, len, 0);
  dc_failure_clear();
  dc_dataset *d = NULL;
  assert_int_equal(dc_dataset_open_idx(tp, lp, 1.0f, &d), DC_ERR_DATA);
  expect_reason_has("bad dims: 3 images of 100000x2");
  free(b);
  /* a header claiming ~4 GB in a tiny gz file fails as truncated, without allocating it */
  b = images_bytes(0x803, 65536, 256, 256, 1, 2, 2, &len);
  write_file(tp, sizeof tp, "dims-liar.gz", b, len, 1);
  dc_failure_clear();
  assert_int_equal(dc_dataset_open_idx(tp, lp, 1.0f, &d), DC_ERR_DATA);
  expect_reason_has("truncated: header says 65536 images of 256x256 (4294967312 bytes), file "
                    "has 20 bytes");
  free(b);
}

static void test_err_corrupt_gz(void **state) {
  (void)state;
  char ip[512], lp[512], tp[512];
  write_pair(ip, lp, sizeof ip, "cgz", 40, 8, 8, 1);
  /* cut the compressed stream in half */
  FILE *f = fopen(ip, "rb");
  assert_non_null(f);
  uint8_t buf[8192];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_true(n > 40);
  write_file(tp, sizeof tp, "cgz-cut.gz", buf, n / 2, 0);
  dc_dataset *d = NULL;
  dc_failure_clear();
  dc_status s = dc_dataset_open_idx(tp, lp, 1.0f, &d);
  assert_true(s == DC_ERR_IO || s == DC_ERR_DATA);
  assert_null(d);
  assert_memory_equal(dc_failure_reason(), tp, strlen(tp));
  /* flip bytes in the deflate data */
  for (size_t i = 20; i < 40; i++) buf[i] ^= 0x5a;
  write_file(tp, sizeof tp, "cgz-flip.gz", buf, n, 0);
  dc_failure_clear();
  s = dc_dataset_open_idx(tp, lp, 1.0f, &d);
  assert_true(s == DC_ERR_IO || s == DC_ERR_DATA);
  assert_null(d);
  assert_memory_equal(dc_failure_reason(), tp, strlen(tp));
}

/* ---- real MNIST (after scripts/fetch-mnist.sh) ------------------------------------- */

static void test_real_mnist(void **state) {
  (void)state;
  const char *src = getenv("DC_SOURCE_DIR");
  char dir[1024], probe[1100];
  struct stat st;
  snprintf(dir, sizeof dir, "%s/data/mnist", src ? src : "");
  snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte", dir);
  int have = src && stat(probe, &st) == 0;
  snprintf(probe, sizeof probe, "%s/t10k-labels-idx1-ubyte.gz", dir);
  have = have || (src && stat(probe, &st) == 0);
  if (!have) {
    print_message("real MNIST not under $DC_SOURCE_DIR/data/mnist (scripts/fetch-mnist.sh); "
                  "skipping\n");
    skip();
  }
  dc_dataset *tr = NULL, *te = NULL;
  dc_failure_clear();
  if (dc_mnist_open(dir, 1, DC_MNIST_SCALE, &tr) != DC_OK) fail_msg("%s", dc_failure_reason());
  if (dc_mnist_open(dir, 0, DC_MNIST_SCALE, &te) != DC_OK) fail_msg("%s", dc_failure_reason());
  assert_int_equal(dc_dataset_count(tr), 60000);
  assert_int_equal(dc_dataset_count(te), 10000);
  int c, h, w;
  dc_dataset_shape(tr, &c, &h, &w);
  assert_true(c == 1 && h == 28 && w == 28);
  dc_dataset_shape(te, &c, &h, &w);
  assert_true(c == 1 && h == 28 && w == 28);
  assert_int_equal(dc_dataset_classes(tr), 10);
  assert_int_equal(dc_dataset_classes(te), 10);
  float x[28 * 28];
  int y = -1;
  assert_int_equal(dc_dataset_batch(tr, 1, 0, 0, 1, x, &y), DC_OK);
  assert_int_equal(y, 5);
  float lo = 1, hi = 0;
  for (int i = 0; i < 28 * 28; i++) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  assert_true(lo == 0.0f && hi > 0.9f && hi < 1.0f);
  assert_int_equal(dc_dataset_get(te, 0, x, &y), DC_OK);
  assert_int_equal(y, 7);
  dc_dataset_free(tr);
  dc_dataset_free(te);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_plain),        cmocka_unit_test(test_load_gz),
      cmocka_unit_test(test_mnist_open_names),  cmocka_unit_test(test_batch_sequential),
      cmocka_unit_test(test_shuffle_contract),  cmocka_unit_test(test_straddle_and_resume),
      cmocka_unit_test(test_limit), cmocka_unit_test(test_skip_bad_samples), cmocka_unit_test(test_all_bad),
      cmocka_unit_test(test_loader_matches_batches), cmocka_unit_test(test_loader_failure),             cmocka_unit_test(test_batch_bad_args),
      cmocka_unit_test(test_plugin_kind),       cmocka_unit_test(test_err_bad_magic),
      cmocka_unit_test(test_err_truncated),     cmocka_unit_test(test_err_trailing),
      cmocka_unit_test(test_err_count_mismatch), cmocka_unit_test(test_err_missing),
      cmocka_unit_test(test_err_dims),          cmocka_unit_test(test_err_corrupt_gz),
      cmocka_unit_test(test_real_mnist),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

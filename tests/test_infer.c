/* test_infer.c — running compressed models as they are:
 *   - the sparse-quantized fc kernels against a naive dense reference on random layers
 *     of many shapes, densities (0% and 100% included), every bit width 1..8, empty
 *     rows, the longest gaps (a row whose only weight is the last of 65535 inputs),
 *     batches 1..130 and 1..3 threads;
 *   - the .dcz model section: round trip from a file and from memory, version-1 files
 *     still read, every bad field named, corruption caught;
 *   - image preprocessing: colour conversion, resize, centre crop, mean and scale;
 *   - the engine on a toy model from the whole pipeline: the same probabilities as the
 *     dense-decoded net in sparse, dense and automatic fc modes, batches split, opened
 *     from memory; its memory accounting;
 *   - the public API (dcz.h) misused: NULL pointers, wrong sizes, truncated, corrupt and
 *     foreign files, a version-1 file: an error status and a message, never a crash
 *     (the suite also runs under ASan + UBSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/dcz.h"
#include "dc/compress.h"
#include "dc/engine.h"
#include "dc/experiment.h"
#include "dc/model.h"
#include "dc/net.h"
#include "dc/rng.h"
#include "dcz.h"
#include "infer/image.h"
#include "infer/spfc.h"
#include "util_net.h"

static char *g_dir;

static int setup(void **state) {
  (void)state;
  g_dir = tu_toy_dir();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_rmdir(g_dir);
  return 0;
}

static const char *path_in(const char *name) {
  static char buf[4][700];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s", g_dir, name);
  return p;
}

/* ------------------------------------------------------------------ kernels */

/* A random layer: mask with the given density (exactly 0 or all at 0 and 1), indices
 * uniform, a codebook of distinct values; rows listed in `empty` (every 5th when set)
 * pruned entirely. */
typedef struct {
  int out, in, bits;
  uint8_t *mask, *index;
  float cb[256], *bias;
} rand_layer;

static rand_layer make_layer(int out, int in, double density, int bits, int empty_rows, uint64_t seed) {
  rand_layer L = {out, in, bits, NULL, NULL, {0}, NULL};
  size_t count = (size_t)out * in;
  L.mask = malloc(count);
  L.index = malloc(count);
  L.bias = malloc(sizeof(float) * (size_t)out);
  assert_non_null(L.mask);
  dc_rng r;
  dc_rng_seed(&r, seed, 11);
  for (size_t i = 0; i < count; i++) {
    L.mask[i] = density >= 1.0 ? 1 : density <= 0.0 ? 0 : dc_rng_uniform(&r) < density;
    if (empty_rows && (i / (size_t)in) % 5 == 2) L.mask[i] = 0;
    L.index[i] = (uint8_t)dc_rng_below(&r, 1u << bits);
  }
  for (int k = 0; k < (1 << bits); k++) L.cb[k] = dc_rng_uniform(&r) * 2 - 1;
  for (int o = 0; o < out; o++) L.bias[o] = dc_rng_uniform(&r) - 0.5f;
  return L;
}

static void free_layer(rand_layer *L) {
  free(L->mask);
  free(L->index);
  free(L->bias);
}

/* y = W x + b by the definition, in double; also sum |w x| + |b| per output for the
 * tolerance of a float sum in another order. */
static void naive(const rand_layer *L, const float *x, int n, double *y, double *mag) {
  for (int s = 0; s < n; s++)
    for (int o = 0; o < L->out; o++) {
      double acc = L->bias[o], m = fabs((double)L->bias[o]);
      for (int c = 0; c < L->in; c++) {
        size_t i = (size_t)o * L->in + c;
        if (!L->mask[i]) continue;
        double t = (double)L->cb[L->index[i]] * x[(size_t)s * L->in + c];
        acc += t;
        m += fabs(t);
      }
      y[(size_t)s * L->out + o] = acc;
      mag[(size_t)s * L->out + o] = m;
    }
}

/* Run the kernel on L for batch n and threads t; return the worst error relative to
 * the magnitude of the terms. */
static double check_layer(const rand_layer *L, int n, int threads, uint64_t seed) {
  dc_spfc f;
  assert_int_equal(dc_spfc_build(&f, L->out, L->in, L->bits, L->cb, L->mask, L->index, L->bias, threads), DC_OK);
  size_t nnz = 0;
  for (size_t i = 0; i < (size_t)L->out * L->in; i++) nnz += L->mask[i];
  assert_int_equal(f.nnz, nnz);
  float *x = malloc(sizeof(float) * (size_t)n * L->in), *y = malloc(sizeof(float) * (size_t)n * L->out);
  double *ref = malloc(sizeof(double) * (size_t)n * L->out), *mag = malloc(sizeof(double) * (size_t)n * L->out);
  tu_fill(x, (size_t)n * L->in, seed, -1, 1);
  for (size_t i = 0; i < (size_t)n * L->out; i++) y[i] = NAN;
  assert_int_equal(dc_spfc_forward(&f, x, n, y), DC_OK);
  naive(L, x, n, ref, mag);
  double worst = 0;
  for (size_t i = 0; i < (size_t)n * L->out; i++) {
    double e = fabs((double)y[i] - ref[i]) / (mag[i] + 1e-30);
    if (!(e <= worst)) worst = e; /* NaN propagates as a failure */
    if (isnan(y[i])) worst = INFINITY;
  }
  dc_spfc_free(&f);
  free(x);
  free(y);
  free(ref);
  free(mag);
  return worst;
}

static void kernels_match_naive_reference(void **state) {
  (void)state;
  static const int shapes[][2] = {{1, 1}, {1, 37}, {13, 1}, {16, 64}, {70, 300}, {33, 257}, {200, 40}};
  static const double dens[] = {0.0, 0.01, 0.09, 0.25, 0.6, 1.0};
  static const int batches[] = {1, 2, 7, 8, 9, 33, 64, 65, 130};
  double worst = 0;
  int cases = 0;
  for (int si = 0; si < (int)(sizeof shapes / sizeof shapes[0]); si++)
    for (int di = 0; di < (int)(sizeof dens / sizeof dens[0]); di++)
      for (int bits = 1; bits <= 8; bits++) {
        rand_layer L = make_layer(shapes[si][0], shapes[si][1], dens[di], bits, (si + bits) % 2,
                                  (uint64_t)(si * 100 + di * 10 + bits));
        int n = batches[(si + di + bits) % 9], threads = 1 + (si + bits) % 3;
        double e = check_layer(&L, n, threads, (uint64_t)cases);
        if (e > 1e-5)
          fail_msg("%dx%d density %.2f bits %d batch %d threads %d: relative error %g", shapes[si][0], shapes[si][1],
                   dens[di], bits, n, threads, e);
        if (e > worst) worst = e;
        cases++;
        free_layer(&L);
      }
  /* every batch size on one layer, with 1 and 2 threads */
  rand_layer L = make_layer(45, 123, 0.2, 5, 1, 99);
  for (int b = 0; b < 9; b++)
    for (int t = 1; t <= 2; t++) {
      double e = check_layer(&L, batches[b], t, 1000 + (uint64_t)b);
      if (e > 1e-5) fail_msg("45x123 batch %d threads %d: relative error %g", batches[b], t, e);
      cases++;
    }
  free_layer(&L);
  print_message("  %d kernel cases, worst error %.2g of the terms' magnitude\n", cases, worst);
}

/* The widest layer the 16-bit columns allow, rows whose only kept weight is the last
 * column (the longest gap), the first column, or none. */
static void kernels_longest_gaps(void **state) {
  (void)state;
  const int in = DC_SPFC_MAX_IN, out = 6;
  rand_layer L = make_layer(out, in, 0.0, 3, 0, 5);
  L.mask[(size_t)0 * in + in - 1] = 1; /* row 0: only the last column */
  L.mask[(size_t)1 * in + 0] = 1;      /* row 1: only the first */
  L.mask[(size_t)2 * in + 0] = 1;      /* row 2: first and last */
  L.mask[(size_t)2 * in + in - 1] = 1;
  for (int c = 0; c < in; c += 4096) L.mask[(size_t)4 * in + c] = 1; /* row 4: gaps of 4095 */
  /* rows 3 and 5 empty */
  for (int n = 1; n <= 9; n += 8)
    for (int t = 1; t <= 3; t++) assert_true(check_layer(&L, n, t, 7) <= 1e-6);
  free_layer(&L);
  dc_spfc f;
  uint8_t m = 1, ix = 0;
  float cb[2] = {1, 2};
  dc_failure_clear();
  assert_int_equal(dc_spfc_build(&f, 1, DC_SPFC_MAX_IN + 1, 1, cb, &m, &ix, NULL, 1), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "inputs must be"));
}

/* ------------------------------------------------------------------ model section */

static dc_dcz_layer tiny_layer(float *cb, uint8_t *idx, uint8_t *mask, float *bias) {
  dc_dcz_layer L;
  memset(&L, 0, sizeof L);
  snprintf(L.name, sizeof L.name, "ip1");
  L.ndim = 2;
  L.dims[0] = 2;
  L.dims[1] = 3;
  L.bits = 1;
  L.codebook = cb;
  L.index = idx;
  L.mask = mask;
  L.gap_bits = 4;
  L.nbias = 2;
  L.bias = bias;
  return L;
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n ? *n : 1);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

/* The model section of a version-3 or version-4 file (this build writes 4; 3 still reads). */
static void model_section_round_trip_v(int version) {
  float cb[2] = {-0.5f, 0.25f}, bias[2] = {0.1f, -0.2f};
  uint8_t idx[6] = {0, 1, 1, 0, 0, 1}, mask[6] = {1, 0, 1, 1, 1, 0};
  dc_dcz_layer L = tiny_layer(cb, idx, mask, bias);
  dc_dcz_model m = {strdup("[input]\nchannels = 3\n"), DC_COLOR_BGR, 256, {104, 117, 123}, 0.5f, strdup("cat\ndog\n")};
  const char *p = path_in("m.dcz");
  dc_dcz_stats ws;
  assert_int_equal(dc_dcz_write_version(p, &m, &L, 1, &ws, version), DC_OK);
  size_t n;
  unsigned char *bytes = slurp(p, &n);
  assert_int_equal(bytes[4], version);
  assert_int_equal(bytes[6], 1); /* with a model section */
  assert_true(ws.net_text_bytes == strlen(m.net) && ws.net_bytes > 0);
  assert_int_equal(ws.file_bytes, n);
  assert_true(ws.model_bytes > strlen(m.net) + strlen(m.labels));
  for (int mem = 0; mem < 2; mem++) {
    dc_dcz_layer *rl;
    int rn;
    dc_dcz_model got;
    dc_dcz_stats rs;
    assert_int_equal(dc_dcz_read_model(p, mem ? bytes : NULL, mem ? n : 0, &rl, &rn, &rs, &got), DC_OK);
    assert_int_equal(rn, 1);
    assert_string_equal(got.net, m.net);
    assert_string_equal(got.labels, m.labels);
    assert_int_equal(got.color, DC_COLOR_BGR);
    assert_int_equal(got.resize, 256);
    assert_true(got.mean[2] == 123 && got.scale == 0.5f);
    assert_memory_equal(rl[0].mask, mask, 6);
    assert_int_equal(rs.file_bytes, n);
    assert_int_equal(rs.model_bytes, ws.model_bytes);
    dc_dcz_free(rl, rn);
    dc_dcz_model_free(&got);
    dc_dcz_stats_free(&rs);
  }
  dc_dcz_stats_free(&ws);
  /* a file without a model section reads with an empty model */
  assert_int_equal(dc_dcz_write(path_in("v1.dcz"), &L, 1), DC_OK);
  dc_dcz_layer *rl;
  int rn;
  dc_dcz_model got;
  assert_int_equal(dc_dcz_read_model(path_in("v1.dcz"), NULL, 0, &rl, &rn, NULL, &got), DC_OK);
  assert_null(got.net);
  dc_dcz_free(rl, rn);
  /* every byte of the model section flipped: a CRC error, never a crash */
  size_t start = 16, end = 16 + (size_t)ws.model_bytes;
  for (size_t i = start; i < end; i++) {
    bytes[i] ^= 0x41;
    dc_failure_clear();
    assert_int_equal(dc_dcz_read_model("flip", bytes, n, &rl, &rn, NULL, &got), DC_ERR_FORMAT);
    assert_null(got.net);
    bytes[i] ^= 0x41;
  }
  /* every truncation */
  for (size_t k = 0; k < n; k++) {
    dc_failure_clear();
    assert_true(dc_dcz_read_model("cut", bytes, k, &rl, &rn, NULL, &got) != DC_OK);
    assert_true(strlen(dc_failure_reason()) > 0);
  }
  free(bytes);
  /* bad fields are refused by the writer, naming them */
  struct {
    dc_dcz_model m;
    const char *want;
  } bad[] = {
      {{NULL, DC_COLOR_GRAY, 0, {0}, 1, NULL}, "net text"},
      {{"", DC_COLOR_GRAY, 0, {0}, 1, NULL}, "net text"},
      {{"a\001b", DC_COLOR_GRAY, 0, {0}, 1, NULL}, "control"},
      {{"x", (dc_color)7, 0, {0}, 1, NULL}, "color"},
      {{"x", DC_COLOR_GRAY, -1, {0}, 1, NULL}, "resize"},
      {{"x", DC_COLOR_GRAY, 0, {NAN, 0, 0}, 1, NULL}, "mean[0]"},
      {{"x", DC_COLOR_GRAY, 0, {0}, 0, NULL}, "scale"},
      {{"x", DC_COLOR_GRAY, 0, {0}, 1, ""}, "labels"},
  };
  for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
    dc_failure_clear();
    assert_int_equal(dc_dcz_write_model(path_in("bad.dcz"), &bad[i].m, &L, 1, NULL), DC_ERR_ARG);
    if (!strstr(dc_failure_reason(), bad[i].want))
      fail_msg("case %d: '%s' lacks '%s'", i, dc_failure_reason(), bad[i].want);
  }
  dc_dcz_model_free(&m);
}

static void model_section_round_trip(void **state) {
  (void)state;
  model_section_round_trip_v(3);
  model_section_round_trip_v(DC_DCZ_VERSION);
}

/* ------------------------------------------------------------------ preprocessing */

static void preprocessing(void **state) {
  (void)state;
  dc_dcz_model gray = {NULL, DC_COLOR_GRAY, 0, {0}, 1.0f / 256, NULL};
  /* same size: pixel * scale; RGB input becomes luma */
  unsigned char g4[4] = {0, 64, 128, 255}, rgb[4 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 10, 10};
  float x[64];
  assert_int_equal(dc_image_to_input(g4, 2, 2, 1, &gray, 1, 2, 2, x, "g"), DC_OK);
  assert_true(x[1] == 64.0f / 256 && x[3] == 255.0f / 256);
  assert_int_equal(dc_image_to_input(rgb, 2, 2, 3, &gray, 1, 2, 2, x, "rgb"), DC_OK);
  assert_true(x[0] == 76.0f / 256 && x[1] == 150.0f / 256 && x[2] == 29.0f / 256 && x[3] == 10.0f / 256);
  /* BGR with mean, RGBA input (alpha dropped), resize 4 then centre crop 2x2 */
  dc_dcz_model bgr = {NULL, DC_COLOR_BGR, 4, {1, 2, 3}, 2.0f, NULL};
  unsigned char rgba[4 * 4 * 4];
  for (int i = 0; i < 16; i++) {
    rgba[4 * i] = (unsigned char)(10 * i), rgba[4 * i + 1] = 7, rgba[4 * i + 2] = 200, rgba[4 * i + 3] = 9;
  }
  assert_int_equal(dc_image_to_input(rgba, 4, 4, 4, &bgr, 3, 2, 2, x, "rgba"), DC_OK);
  /* channel 0 is B (200), 1 G (7), 2 R: the centre 2x2 of R = 10*i: i = 5, 6, 9, 10 */
  assert_true(x[0] == (200 - 1) * 2.0f && x[4] == (7 - 2) * 2.0f);
  assert_true(x[8] == (50 - 3) * 2.0f && x[9] == (60 - 3) * 2.0f && x[11] == (100 - 3) * 2.0f);
  /* a resize: a constant image stays constant, sizes up and down */
  unsigned char c[5 * 3];
  memset(c, 77, sizeof c);
  assert_int_equal(dc_image_to_input(c, 5, 3, 1, &gray, 1, 8, 8, x, "c"), DC_OK);
  for (int i = 0; i < 64; i++) assert_true(x[i] == 77.0f / 256);
  /* errors */
  dc_failure_clear();
  assert_int_equal(dc_image_to_input(c, 0, 3, 1, &gray, 1, 8, 8, x, "zero.png"), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "zero.png"));
  dc_dcz_model small = {NULL, DC_COLOR_GRAY, 4, {0}, 1, NULL};
  dc_failure_clear();
  assert_int_equal(dc_image_to_input(c, 5, 3, 1, &small, 1, 8, 8, x, "crop"), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "crops"));
}

/* ------------------------------------------------------------------ the engine */

/* Train, prune, quantize and encode the toy net once (a few seconds). */
static const char *toy_model(void) {
  static char path[700];
  if (path[0]) return path;
  char text[2048];
  snprintf(text, sizeof text,
           "[experiment]\nname = toy\nnet = %s/toy.net\noutput = %s/run\nseed = 3\nthreads = 1\n"
           "[data]\ndir = %s\n"
           "[solver]\nbase_lr = 0.05\nmomentum = 0.9\nbatch = 16\ntest_batch = 50\nmax_iter = 150\n"
           "test_interval = 0\ndisplay = 0\nsnapshot = 0\n"
           "[prune]\nrounds = 1\nretrain_iters = 50\nconv1 = 70%%\nip1 = 20%%\nip2 = 60%%\n"
           "[quantize]\nconv_bits = 4\nfc_bits = 3\nretrain_iters = 30\n"
           "[encode]\nfc_gap_bits = 3\n",
           g_dir, g_dir, g_dir);
  char *cfg = tu_write_file(g_dir, "toy.cfg", text);
  if (tu_run(cfg, NULL, 0, NULL) != DC_OK) fail_msg("toy run: %s", dc_failure_reason());
  free(cfg);
  snprintf(path, sizeof path, "%s/run/model.dcz", g_dir);
  return path;
}

/* The toy test set's images as one array (200 x 64). */
static float *toy_inputs(int *n) {
  dc_dataset *d;
  assert_int_equal(dc_mnist_open(g_dir, 0, DC_MNIST_SCALE, &d), DC_OK);
  *n = dc_dataset_count(d);
  float *x = malloc(sizeof(float) * 64 * (size_t)*n);
  for (int i = 0; i < *n; i++) assert_int_equal(dc_dataset_get(d, i, x + 64 * i, NULL), DC_OK);
  dc_dataset_free(d);
  return x;
}

/* Probabilities of the dense-decoded net (what dctrain eval computes); logits[n * 4]
 * gets the input of its softmax. */
static float *dense_probs(const char *model, const float *x, int n, float *logits) {
  dc_net *net;
  char netpath[700];
  snprintf(netpath, sizeof netpath, "%s/toy.net", g_dir);
  assert_int_equal(dc_net_load(netpath, n, 0, NULL, &net), DC_OK);
  assert_int_equal(dc_model_decode(model, net, NULL), DC_OK);
  memcpy(net->input_data, x, sizeof(float) * 64 * (size_t)n);
  dc_pass pass = {0};
  assert_int_equal(dc_net_forward(net, &pass, NULL), DC_OK);
  float *p = malloc(sizeof(float) * 4 * (size_t)n);
  memcpy(p, dc_net_output(net), sizeof(float) * 4 * (size_t)n);
  memcpy(logits, net->layers[net->nlayers - 1].in_data, sizeof(float) * 4 * (size_t)n);
  dc_net_free(net);
  return p;
}

static int argmax(const float *p, int k) {
  int b = 0;
  for (int j = 1; j < k; j++)
    if (p[j] > p[b]) b = j;
  return b;
}

static void engine_matches_dense_decoded(void **state) {
  (void)state;
  const char *model = toy_model();
  int n;
  float *x = toy_inputs(&n);
  float *ref_logits = malloc(sizeof(float) * 4 * (size_t)n), *logits = malloc(sizeof(float) * 4 * (size_t)n);
  float *ref = dense_probs(model, x, n, ref_logits), *p = malloc(sizeof(float) * 4 * (size_t)n);
  size_t flen;
  unsigned char *file = slurp(model, &flen);
  struct {
    dc_fc_mode fc;
    int max_batch, threads, from_memory;
  } modes[] = {{DC_FC_SPARSE, 64, 1, 0}, {DC_FC_DENSE, 64, 1, 0}, {DC_FC_AUTO, 64, 2, 1},
               {DC_FC_SPARSE, 7, 2, 1},  {DC_FC_AUTO, 1, 1, 0},   {DC_FC_DENSE, 200, 2, 0}};
  for (int m = 0; m < (int)(sizeof modes / sizeof modes[0]); m++) {
    dc_engine_conf c = dc_engine_defaults();
    c.fc = modes[m].fc;
    c.max_batch = modes[m].max_batch;
    c.threads = modes[m].threads;
    dc_engine *e;
    dc_failure_clear();
    dc_status s = dc_engine_open(model, modes[m].from_memory ? file : NULL, modes[m].from_memory ? flen : 0, &c, &e);
    if (s != DC_OK) fail_msg("open: %s", dc_failure_reason());
    int C, H, W;
    dc_engine_input_shape(e, &C, &H, &W);
    assert_true(C == 1 && H == 8 && W == 8 && dc_engine_classes(e) == 4);
    assert_int_equal(dc_engine_run_logits(e, x, n, p, logits), DC_OK);
    double worst = 0, worst_logit = 0;
    for (int i = 0; i < n; i++) {
      assert_int_equal(argmax(p + 4 * i, 4), argmax(ref + 4 * i, 4));
      for (int j = 0; j < 4; j++) {
        assert_true(isfinite(p[4 * i + j]) && isfinite(logits[4 * i + j]));
        worst = fmax(worst, fabs((double)p[4 * i + j] - ref[4 * i + j]));
        worst_logit = fmax(worst_logit, fabs((double)logits[4 * i + j] - ref_logits[4 * i + j]) /
                                            (1 + fabs((double)ref_logits[4 * i + j])));
      }
    }
    /* one sample at a time gives the same answers */
    for (int i = 0; i < n; i += 37) {
      float q[4];
      assert_int_equal(dc_engine_run(e, x + 64 * i, 1, q), DC_OK);
      for (int j = 0; j < 4; j++) assert_true(fabs((double)q[j] - ref[4 * i + j]) < 1e-5);
    }
    if (worst > 1e-5 || worst_logit > 1e-5)
      fail_msg("mode %d: probabilities differ by %g, logits by %g from the dense-decoded net", m, worst, worst_logit);
    dc_engine_memory mem;
    dc_engine_memory_of(e, &mem);
    assert_int_equal(mem.file, flen);
    assert_true(mem.fc_sparse > 0 && mem.conv_dense > 0);
    assert_true(modes[m].fc == DC_FC_SPARSE ? mem.fc_dense == 0 : 1);
    assert_true(modes[m].fc == DC_FC_DENSE ? mem.fc_dense == 4 * (16 * 64 + 4 * 16) : 1);
    print_message(
        "  mode %d: worst difference %.2g (probabilities), %.2g (logits, relative); fc %zu B sparse, "
        "%zu B dense\n",
        m, worst, worst_logit, mem.fc_sparse, mem.fc_dense);
    dc_engine_free(e);
  }
  free(file);
  free(x);
  free(ref);
  free(p);
  free(ref_logits);
  free(logits);
}

/* An fc layer wider than the kernels' 16-bit columns runs dense, in every mode. */
static void engine_wide_fc_runs_dense(void **state) {
  (void)state;
  const int in = 3 * 21846, out = 2; /* 65538 inputs: more than the kernels take */
  rand_layer R = make_layer(out, in, 0.3, 2, 0, 17);
  dc_dcz_layer L;
  memset(&L, 0, sizeof L);
  snprintf(L.name, sizeof L.name, "ip1");
  L.ndim = 2;
  L.dims[0] = out;
  L.dims[1] = in;
  L.bits = 2;
  L.codebook = R.cb;
  L.index = R.index;
  L.mask = R.mask;
  L.gap_bits = 5;
  L.nbias = out;
  L.bias = R.bias;
  char net[200];
  snprintf(net, sizeof net,
           "[input]\nchannels = 3\nheight = 1\nwidth = %d\n[fc]\nname = ip1\nnum_output = %d\n"
           "[softmax_loss]\n",
           in / 3, out);
  dc_dcz_model m = {net, DC_COLOR_RGB, 0, {0}, 1, NULL};
  assert_int_equal(dc_dcz_write_model(path_in("wide.dcz"), &m, &L, 1, NULL), DC_OK);
  float *x = malloc(sizeof(float) * in), logits[2], probs[2];
  double ref[2], mag[2];
  tu_fill(x, (size_t)in, 3, -1, 1);
  naive(&R, x, 1, ref, mag);
  for (int mode = 0; mode < 3; mode++) {
    dc_engine_conf c = dc_engine_defaults();
    c.fc = (dc_fc_mode)mode;
    dc_engine *e;
    dc_failure_clear();
    if (dc_engine_open(path_in("wide.dcz"), NULL, 0, &c, &e) != DC_OK) fail_msg("%s", dc_failure_reason());
    assert_int_equal(dc_engine_fc_sparse(e, "ip1", 1), 0);
    assert_int_equal(dc_engine_run_logits(e, x, 1, probs, logits), DC_OK);
    for (int o = 0; o < out; o++) assert_true(fabs(logits[o] - ref[o]) <= 1e-5 * mag[o]);
    dc_engine_memory mem;
    dc_engine_memory_of(e, &mem);
    assert_true(mem.fc_sparse == 0 && mem.fc_dense == sizeof(float) * (size_t)out * in);
    dc_engine_free(e);
  }
  free(x);
  free_layer(&R);
}

/* ------------------------------------------------------------------ the API misused */

static void expect_status(dcz_status got, dcz_status want, const char *msg_part) {
  if (got != want) fail_msg("status %d, expected %d (%s)", (int)got, (int)want, dcz_last_error());
  if (msg_part && !strstr(dcz_last_error(), msg_part)) fail_msg("'%s' lacks '%s'", dcz_last_error(), msg_part);
  assert_true(strlen(dcz_last_error()) > 0 && !strchr(dcz_last_error(), '\n'));
}

static void api_misuse(void **state) {
  (void)state;
  const char *model = toy_model();
  dcz_model *m = (dcz_model *)1;
  /* NULL arguments */
  expect_status(dcz_open(NULL, NULL, &m), DCZ_ERR_ARG, "path");
  assert_null(m);
  expect_status(dcz_open(model, NULL, NULL), DCZ_ERR_ARG, "out");
  expect_status(dcz_open_memory(NULL, 10, NULL, &m), DCZ_ERR_ARG, "buf");
  dcz_params bp = dcz_default_params();
  bp.fc_mode = 9;
  expect_status(dcz_open(model, &bp, &m), DCZ_ERR_ARG, "fc_mode");
  expect_status(dcz_input_shape(NULL, NULL, NULL, NULL), DCZ_ERR_ARG, NULL);
  assert_int_equal(dcz_num_classes(NULL), 0);
  assert_null(dcz_class_name(NULL, 0));
  float x[64 * 2] = {0}, p[8];
  expect_status(dcz_run(NULL, x, 64, 1, p), DCZ_ERR_ARG, "model");
  dcz_close(NULL);
  /* missing, foreign and version-1 files */
  expect_status(dcz_open(path_in("nope.dcz"), NULL, &m), DCZ_ERR_IO, "nope.dcz");
  expect_status(dcz_open(path_in("toy.net"), NULL, &m), DCZ_ERR_FORMAT, "not a .dcz");
  expect_status(dcz_open(g_dir, NULL, &m), DCZ_ERR_IO, NULL);
  float cb[2] = {-0.5f, 0.25f}, bias[2] = {0};
  uint8_t idx[6] = {0}, mask[6] = {1, 1, 1, 1, 1, 1};
  dc_dcz_layer L = tiny_layer(cb, idx, mask, bias);
  assert_int_equal(dc_dcz_write(path_in("old.dcz"), &L, 1), DC_OK);
  expect_status(dcz_open(path_in("old.dcz"), NULL, &m), DCZ_ERR_FORMAT, "version 1");
  /* a model whose net does not fit its layers */
  dc_dcz_model wrong = {
      "[input]\nchannels = 1\nheight = 1\nwidth = 3\n[fc]\nname = ip1\nnum_output = 5\n"
      "[softmax_loss]\n",
      DC_COLOR_GRAY,
      0,
      {0},
      1,
      NULL};
  assert_int_equal(dc_dcz_write_model(path_in("wrong.dcz"), &wrong, &L, 1, NULL), DC_OK);
  expect_status(dcz_open(path_in("wrong.dcz"), NULL, &m), DCZ_ERR_FORMAT, "wrong.dcz");
  dc_dcz_model badnet = {"[input]\nchannels = 1\n[fc]\n", DC_COLOR_GRAY, 0, {0}, 1, NULL};
  assert_int_equal(dc_dcz_write_model(path_in("badnet.dcz"), &badnet, &L, 1, NULL), DC_OK);
  expect_status(dcz_open(path_in("badnet.dcz"), NULL, &m), DCZ_ERR_FORMAT, "badnet.dcz:net");
  /* every truncation and a sample of corrupted bytes of the real model, from memory */
  size_t n;
  unsigned char *b = slurp(model, &n);
  for (size_t k = 0; k < n; k += (k < 200 ? 1 : 97)) {
    m = (dcz_model *)1;
    dcz_status s = dcz_open_memory(b, k, NULL, &m);
    assert_int_equal(s, DCZ_ERR_FORMAT);
    assert_null(m);
  }
  for (size_t k = 0; k < n; k += 13) {
    b[k] ^= 0x5a;
    dcz_status s = dcz_open_memory(b, n, NULL, &m);
    if (s == DCZ_OK) fail_msg("a flipped byte at %zu went unnoticed", k);
    b[k] ^= 0x5a;
  }
  /* the real model: wrong input size, bad counts, a bad image */
  expect_status(dcz_open_memory(b, n, NULL, &m), DCZ_OK, NULL);
  int c, h, w;
  assert_int_equal(dcz_input_shape(m, &c, &h, &w), DCZ_OK);
  assert_true(c == 1 && h == 8 && w == 8 && dcz_num_classes(m) == 4);
  assert_null(dcz_class_name(m, 0));
  expect_status(dcz_run(m, x, 63, 1, p), DCZ_ERR_ARG, "64");
  expect_status(dcz_run(m, x, 64, 2, p), DCZ_ERR_ARG, "2 samples");
  expect_status(dcz_run(m, x, 64, 0, p), DCZ_ERR_ARG, "n must");
  expect_status(dcz_run(m, NULL, 64, 1, p), DCZ_ERR_ARG, NULL);
  expect_status(dcz_run(m, x, 64, 1, NULL), DCZ_ERR_ARG, NULL);
  expect_status(dcz_run(m, x, 128, 2, p), DCZ_OK, NULL);
  float s = 0;
  for (int j = 0; j < 4; j++) s += p[j];
  assert_true(fabs(s - 1) < 1e-5);
  expect_status(dcz_classify_file(m, path_in("toy.net"), p), DCZ_ERR_IMAGE, "cannot decode image");
  expect_status(dcz_classify_file(m, path_in("none.png"), p), DCZ_ERR_IO, "none.png");
  expect_status(dcz_classify_file(m, NULL, p), DCZ_ERR_ARG, NULL);
  unsigned char px[4] = {1, 2, 3, 4};
  expect_status(dcz_preprocess(m, px, 2, 2, 5, x), DCZ_ERR_ARG, "channels");
  expect_status(dcz_preprocess(m, px, -2, 2, 1, x), DCZ_ERR_ARG, NULL);
  expect_status(dcz_preprocess(m, px, 2, 2, 1, x), DCZ_OK, NULL);
  size_t wb, db;
  assert_int_equal(dcz_memory(m, &wb, &db), DCZ_OK);
  assert_true(wb > 0 && db > 0);
  dcz_close(m);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kernels_match_naive_reference),
      cmocka_unit_test(kernels_longest_gaps),
      cmocka_unit_test(model_section_round_trip),
      cmocka_unit_test(preprocessing),
      cmocka_unit_test(engine_matches_dense_decoded),
      cmocka_unit_test(engine_wide_fc_runs_dense),
      cmocka_unit_test(api_misuse),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

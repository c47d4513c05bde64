/* test_infer_mnist.c — compressed LeNets on the real MNIST (skipped when
 * $DC_SOURCE_DIR/data/mnist is missing; scripts/test.sh fetches it):
 *   - short runs of both reproductions (LeNet-300-100 and LeNet-5, the shipped nets at
 *     the paper's densities and bits) written to .dcz by the encode stage;
 *   - the engine's predictions equal the dense-decoded model's (what dctrain eval runs)
 *     on all 10,000 test images, logits within a measured tolerance, at batch 64 and 1,
 *     in the automatic and the always-sparse fc modes;
 *   - dctrain predict on idx records and on a PNG; a version-1 file with --data;
 *   - the README's example program (examples/classify_digit.c, built by CMake as
 *     $DC_EXAMPLE) is the README's code, and classifies the PNG as the engine does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb/stb_image_write.h>

#include "dc/data.h"
#include "dc/engine.h"
#include "dc/model.h"
#include "dc/net.h"
#include "util_net.h"

/* Measured on these runs: logits differ by at most ~2e-6 relative (the sums run in
 * another order); asserted with margin. */
#define LOGIT_TOL 1e-4
#define PROB_TOL 1e-5

static const char *g_src;
static char *g_dir;
static char g_mnist[600];

static int setup(void **state) {
  (void)state;
  g_src = getenv("DC_SOURCE_DIR");
  if (!g_src) g_src = ".";
  snprintf(g_mnist, sizeof g_mnist, "%s/data/mnist", g_src);
  g_dir = tu_tmpdir();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_rmdir(g_dir);
  return 0;
}

static void need_mnist(void) {
  char p[700];
  snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", g_mnist);
  if (access(p, R_OK) != 0) {
    print_message("  real MNIST not found under %s: skipped\n", g_mnist);
    skip();
  }
}

/* A short Deep Compression run of nets/NET.net; returns the experiment file. */
static char *run(const char *name, const char *net, int iters, const char *stages) {
  char text[2048], file[100];
  snprintf(text, sizeof text,
           "[experiment]\nname = %s\nnet = %s/nets/%s.net\noutput = %s/%s\nseed = 1\nthreads = 1\n"
           "[data]\ndir = %s\ntest_limit = 1000\n"
           "[solver]\nbase_lr = 0.01\nmomentum = 0.9\nweight_decay = 0.0005\nlr_policy = inv\ngamma = 0.0001\n"
           "power = 0.75\nbatch = 64\nmax_iter = %d\ntest_interval = 0\ndisplay = 0\nsnapshot = 0\n%s",
           name, g_src, net, g_dir, name, g_mnist, iters, stages);
  snprintf(file, sizeof file, "%s.cfg", name);
  char *cfg = tu_write_file(g_dir, file, text);
  if (tu_run(cfg, NULL, 0, NULL) != DC_OK) fail_msg("%s: %s", name, dc_failure_reason());
  return cfg;
}

static int argmax(const float *p, int k) {
  int b = 0;
  for (int j = 1; j < k; j++)
    if (p[j] > p[b]) b = j;
  return b;
}

/* The whole test set as floats, and its labels. */
static float *test_set(int *n, int **labels) {
  dc_dataset *d;
  assert_int_equal(dc_mnist_open(g_mnist, 0, DC_MNIST_SCALE, &d), DC_OK);
  *n = dc_dataset_count(d);
  float *x = malloc(sizeof(float) * 784 * (size_t)*n);
  *labels = malloc(sizeof(int) * (size_t)*n);
  assert_int_equal(dc_dataset_batch(d, 0, 0, 0, *n, x, *labels), DC_OK);
  dc_dataset_free(d);
  return x;
}

/* Engine vs dense-decoded net on all of x; returns the engine's predictions. */
static int *compare(const char *name, const char *model, const char *net, const float *x, const int *y, int n) {
  const int B = 100, K = 10;
  dc_net *dense;
  char netpath[700];
  snprintf(netpath, sizeof netpath, "%s/nets/%s.net", g_src, net);
  assert_int_equal(dc_net_load(netpath, B, 0, NULL, &dense), DC_OK);
  assert_int_equal(dc_model_decode(model, dense, NULL), DC_OK);
  float *rp = malloc(sizeof(float) * K * n), *rl = malloc(sizeof(float) * K * n);
  float *p = malloc(sizeof(float) * K * n), *l = malloc(sizeof(float) * K * n);
  int *pred = malloc(sizeof(int) * n);
  dc_pass pass = {0};
  for (int s = 0; s < n; s += B) {
    memcpy(dense->input_data, x + (size_t)s * 784, sizeof(float) * 784 * B);
    assert_int_equal(dc_net_forward(dense, &pass, NULL), DC_OK);
    memcpy(rp + (size_t)s * K, dc_net_output(dense), sizeof(float) * K * B);
    memcpy(rl + (size_t)s * K, dense->layers[dense->nlayers - 1].in_data, sizeof(float) * K * B);
  }
  dc_net_free(dense);
  int correct_ref = 0;
  for (int i = 0; i < n; i++) correct_ref += argmax(rp + K * i, K) == y[i];
  for (int mode = 0; mode < 2; mode++) {
    dc_engine_conf c = dc_engine_defaults();
    c.fc = mode ? DC_FC_SPARSE : DC_FC_AUTO;
    c.threads = 1 + mode;
    dc_engine *e;
    dc_failure_clear();
    if (dc_engine_open(model, NULL, 0, &c, &e) != DC_OK) fail_msg("%s", dc_failure_reason());
    assert_int_equal(dc_engine_run_logits(e, x, n, p, l), DC_OK);
    double wl = 0, wp = 0;
    int correct = 0;
    for (int i = 0; i < n; i++) {
      pred[i] = argmax(p + K * i, K);
      if (pred[i] != argmax(rp + K * i, K))
        fail_msg("%s: image %d: engine says %d, dense-decoded net %d", name, i, pred[i], argmax(rp + K * i, K));
      correct += pred[i] == y[i];
      for (int j = 0; j < K; j++) {
        size_t k = (size_t)K * i + j;
        wl = fmax(wl, fabs((double)l[k] - rl[k]) / (1 + fabs((double)rl[k])));
        wp = fmax(wp, fabs((double)p[k] - rp[k]));
      }
    }
    /* batch 1 on every 50th image */
    for (int i = 0; i < n; i += 50) {
      float q[10], ql[10];
      assert_int_equal(dc_engine_run_logits(e, x + (size_t)i * 784, 1, q, ql), DC_OK);
      for (int j = 0; j < K; j++) wl = fmax(wl, fabs((double)ql[j] - rl[K * i + j]) / (1 + fabs((double)rl[K * i + j])));
      assert_int_equal(argmax(q, K), pred[i]);
    }
    dc_engine_memory mem;
    dc_engine_memory_of(e, &mem);
    print_message("  %s (%s fc): %d/%d correct (dense-decoded %d), logits within %.2g, probabilities %.2g; "
                  "weights in memory %zu B (fc %zu sparse + %zu dense, conv+bias %zu), file %zu B, dense %zu B\n",
                  name, mode ? "sparse" : "auto", correct, n, correct_ref, wl, wp,
                  mem.fc_sparse + mem.fc_dense + mem.conv_dense, mem.fc_sparse, mem.fc_dense, mem.conv_dense, mem.file,
                  mem.dense_model);
    assert_int_equal(correct, correct_ref);
    if (wl > LOGIT_TOL || wp > PROB_TOL) fail_msg("%s: logits differ by %g, probabilities by %g", name, wl, wp);
    assert_true(correct > n * 9 / 10); /* a real model, not chance */
    assert_true(mem.fc_sparse * 5 < mem.dense_model);
    if (mode) assert_int_equal(mem.fc_dense, 0); /* always sparse: no dense fc weights */
    dc_engine_free(e);
  }
  free(rp);
  free(rl);
  free(p);
  free(l);
  return pred;
}

static char *capture(const char *cmd, int *status) {
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  n = fread(buf, 1, cap - 1, f);
  buf[n] = '\0';
  *status = pclose(f);
  return buf;
}

static void lenet300(void **state) {
  (void)state;
  need_mnist();
  char *cfg = run("lenet300", "lenet300", 1000,
                  "[prune]\nrounds = 1\nretrain_iters = 500\nip1 = 8%\nip2 = 9%\nip3 = 26%\n"
                  "[quantize]\nfc_bits = 6\nretrain_iters = 200\n[encode]\nfc_gap_bits = 5\n");
  char model[700];
  snprintf(model, sizeof model, "%s/lenet300/model.dcz", g_dir);
  int n, *y;
  float *x = test_set(&n, &y);
  int *pred = compare("LeNet-300-100", model, "lenet300", x, y, n);

  /* dctrain predict on idx records */
  const char *bin = getenv("DC_DCTRAIN");
  char cmd[3000];
  int st;
  if (bin) {
    snprintf(cmd, sizeof cmd, "%s predict %s --idx %s/t10k-images-idx3-ubyte --first 3 --top 2 2>&1", bin, model,
             g_mnist);
    char *out = capture(cmd, &st);
    assert_int_equal(st, 0);
    char want[64];
    snprintf(want, sizeof want, "ubyte[2]: %d ", pred[2]);
    if (!strstr(out, want)) fail_msg("predict output lacks '%s':\n%s", want, out);
    free(out);
  }

  /* class names from --labels; too few of them is an error naming the file */
  if (bin) {
    static const char *const names[10] = {"zero", "one", "two", "three", "four",
                                          "five", "six", "seven", "eight", "nine"};
    char text[200] = "", *lab, want[64];
    for (int i = 0; i < 10; i++) strcat(strcat(text, names[i]), "\n");
    lab = tu_write_file(g_dir, "names.txt", text);
    snprintf(cmd, sizeof cmd, "%s predict %s --idx %s/t10k-images-idx3-ubyte --first 1 --top 1 --labels %s 2>&1", bin,
             model, g_mnist, lab);
    char *out = capture(cmd, &st);
    snprintf(want, sizeof want, "ubyte[0]: %s ", names[pred[0]]);
    if (st != 0 || !strstr(out, want)) fail_msg("predict --labels: status %d, output:\n%s", st, out);
    free(out);
    free(lab);
    lab = tu_write_file(g_dir, "few.txt", "a\nb\n");
    snprintf(cmd, sizeof cmd, "%s predict %s --idx %s/t10k-images-idx3-ubyte --first 1 --labels %s 2>&1", bin, model,
             g_mnist, lab);
    out = capture(cmd, &st);
    assert_true(st != 0 && strstr(out, "few.txt: 2 class names, the model has 10"));
    free(out);
    free(lab);
  }

  /* a version-1 copy needs the net given explicitly */
  dc_dcz_layer *L;
  int nl;
  assert_int_equal(dc_dcz_read(model, &L, &nl), DC_OK);
  char old[700];
  snprintf(old, sizeof old, "%s/old.dcz", g_dir);
  assert_int_equal(dc_dcz_write(old, L, nl), DC_OK);
  dc_dcz_free(L, nl);
  if (bin) {
    snprintf(cmd, sizeof cmd, "%s predict %s --idx %s/t10k-images-idx3-ubyte --first 1 2>&1", bin, old, g_mnist);
    char *out = capture(cmd, &st);
    assert_int_not_equal(st, 0);
    assert_non_null(strstr(out, "version 1"));
    assert_non_null(strstr(out, "--data"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s predict %s --data %s --idx %s/t10k-images-idx3-ubyte --first 1 2>&1", bin, old, cfg,
             g_mnist);
    out = capture(cmd, &st);
    char want[64];
    snprintf(want, sizeof want, "ubyte[0]: %d ", pred[0]);
    if (st != 0 || !strstr(out, want)) fail_msg("predict --data: status %d, output:\n%s", st, out);
    free(out);
  }
  free(cfg);
  free(x);
  free(y);
  free(pred);
}

/* The README's example is examples/classify_digit.c, character for character. */
static void readme_example_is_the_file(void) {
  char p[700];
  snprintf(p, sizeof p, "%s/README.md", g_src);
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  static char readme[1 << 20];
  size_t n = fread(readme, 1, sizeof readme - 1, f);
  fclose(f);
  readme[n] = '\0';
  snprintf(p, sizeof p, "%s/examples/classify_digit.c", g_src);
  f = fopen(p, "rb");
  assert_non_null(f);
  static char code[1 << 16];
  n = fread(code, 1, sizeof code - 1, f);
  fclose(f);
  code[n] = '\0';
  char *block = strstr(readme, "```c\n/* classify_digit");
  assert_non_null(block);
  block += 5;
  char *end = strstr(block, "```");
  assert_non_null(end);
  if ((size_t)(end - block) != strlen(code) || strncmp(block, code, strlen(code)) != 0)
    fail_msg("README.md's example differs from examples/classify_digit.c");
}

static void lenet5_and_example(void **state) {
  (void)state;
  need_mnist();
  char *cfg = run("lenet5", "lenet5", 400,
                  "[prune]\nrounds = 1\nretrain_iters = 200\nconv1 = 66%\nconv2 = 12%\nip1 = 8%\nip2 = 19%\n"
                  "[quantize]\nconv_bits = 8\nfc_bits = 5\nretrain_iters = 100\n[encode]\nfc_gap_bits = 5\n");
  char model[700];
  snprintf(model, sizeof model, "%s/lenet5/model.dcz", g_dir);
  int n, *y;
  float *x = test_set(&n, &y);
  int *pred = compare("LeNet-5", model, "lenet5", x, y, n);

  /* test image 0 as a PNG, through the example program and dctrain predict */
  unsigned char px[784];
  for (int i = 0; i < 784; i++) px[i] = (unsigned char)lrintf(x[i] * 256.0f);
  char png[700];
  snprintf(png, sizeof png, "%s/digit.png", g_dir);
  assert_true(stbi_write_png(png, 28, 28, 1, px, 28));
  char cmd[2000], want[800];
  int st;
  const char *ex = getenv("DC_EXAMPLE"), *bin = getenv("DC_DCTRAIN");
  if (ex) {
    snprintf(cmd, sizeof cmd, "%s %s %s 2>&1", ex, model, png);
    char *out = capture(cmd, &st);
    snprintf(want, sizeof want, "%s: %d (", png, pred[0]);
    if (st != 0 || strncmp(out, want, strlen(want)) != 0) fail_msg("classify_digit: status %d, output %s", st, out);
    print_message("  classify_digit: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s %s %s/no.png 2>&1", ex, model, g_dir);
    out = capture(cmd, &st);
    assert_true(st != 0 && strstr(out, "no.png"));
    free(out);
  }
  if (bin) {
    snprintf(cmd, sizeof cmd, "%s predict %s %s --top 1 2>&1", bin, model, png);
    char *out = capture(cmd, &st);
    snprintf(want, sizeof want, "%s: %d ", png, pred[0]);
    if (st != 0 || strncmp(out, want, strlen(want)) != 0) fail_msg("predict: status %d, output %s", st, out);
    free(out);
  }
  readme_example_is_the_file();
  free(cfg);
  free(x);
  free(y);
  free(pred);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lenet300),
      cmocka_unit_test(lenet5_and_example),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

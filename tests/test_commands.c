/* test_commands.c — the dctrain subcommands as library calls (dc/commands.h), on a short
 * full pipeline (train, prune, quantize, encode) over a toy MNIST-format data set: eval
 * of model.dcz equals the quantize stage exactly, export reads back as identical
 * weights, info's table, the pruning and quantization sensitivity sweeps with their CSV
 * and PNG, the planner (a budget met, the written experiment parsed and run), the plot
 * and list helpers, and every error path (missing, corrupt, foreign files). */
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
#include <stb/stb_image.h>

#include "dc/ckpt.h"
#include "dc/commands.h"
#include "dc/plan.h"
#include "dc/plot.h"
#include "dc/compress.h"
#include "dc/experiment.h"
#include "dc/model.h"
#include "dc/prune.h"
#include "dc/rng.h"
#include "util_net.h"

static char *g_dir;         /* toy data, net, the run */
static char g_run[600];     /* the run's output directory */
static char *g_cfg;         /* its experiment file */
static dc_experiment g_exp; /* ... loaded */

/* An experiment file for the toy set: extra text goes after [solver]. */
static char *toy_experiment(const char *name, const char *out, int max_iter, const char *extra) {
  char text[2048];
  snprintf(text, sizeof text,
           "[experiment]\nname = toy\nnet = %s/toy.net\noutput = %s/%s\nseed = 3\nthreads = 1\n"
           "[data]\nkind = mnist\ndir = %s\n"
           "[solver]\nbase_lr = 0.05\nmomentum = 0.9\nweight_decay = 0.0005\nlr_policy = inv\ngamma = 0.0001\n"
           "power = 0.75\nbatch = 16\ntest_batch = 64\nmax_iter = %d\ntest_interval = 0\ndisplay = 0\n"
           "snapshot = 0\n%s",
           g_dir, g_dir, out, g_dir, max_iter, extra ? extra : "");
  return tu_write_file(g_dir, name, text);
}

static int setup(void **state) {
  (void)state;
  /* 200 test images with test_batch 64: the last batch is a padded tail of 8 */
  g_dir = tu_toy_dir();
  g_cfg = toy_experiment("run.cfg", "run", 40,
                         "[prune]\nrounds = 1\nretrain_iters = 10\nconv1 = 50%\nip1 = 20%\nip2 = 50%\n"
                         "[quantize]\nconv_bits = 1\nfc_bits = 1\nretrain_iters = 2\n[encode]\n");
  snprintf(g_run, sizeof g_run, "%s/run", g_dir);
  dc_failure_clear();
  if (dc_experiment_load(g_cfg, &g_exp) != DC_OK) {
    print_error("%s\n", dc_failure_reason());
    return -1;
  }
  FILE *devnull = fopen("/dev/null", "w");
  dc_status s = dc_experiment_run(&g_exp, NULL, devnull, NULL);
  fclose(devnull);
  if (s != DC_OK) {
    print_error("%s\n", dc_failure_reason());
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  free(g_cfg);
  tu_rmdir(g_dir);
  return 0;
}

static void run_path(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_run, name); }

/* top-1 and top-5 of a stage from OUTPUT/stages.csv */
static void stage_result(const char *stage, double *top1, double *top5) {
  char path[700], line[256];
  run_path(path, sizeof path, "stages.csv");
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    size_t n = strlen(stage);
    if (strncmp(line, stage, n) == 0 && line[n] == ',') {
      assert_int_equal(sscanf(line + n + 1, "%lf,%lf", top1, top5), 2);
      found = 1;
    }
  }
  fclose(f);
  if (!found) fail_msg("no stage %s in %s", stage, path);
}

static dc_net *toy_net(void) {
  char path[700];
  snprintf(path, sizeof path, "%s/toy.net", g_dir);
  dc_net *net;
  assert_int_equal(dc_net_load(path, 8, 0, NULL, &net), DC_OK);
  return net;
}

static void expect_fail(dc_status got, dc_status want, const char *text) {
  if (got != want || !strstr(dc_failure_reason(), text))
    fail_msg("expected status %d with '%s', got %d: '%s'", want, text, got, dc_failure_reason());
  assert_null(strchr(dc_failure_reason(), '\n'));
}

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  assert_non_null(a);
  assert_non_null(b);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0) assert_int_equal(fwrite(buf, 1, n, b), n);
  fclose(a);
  fclose(b);
}

static long file_size(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  return (long)st.st_size;
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n + 1);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

/* ---- eval ---- */

static void eval_dcz_equals_quantize_stage(void **state) {
  (void)state;
  char dcz[700], qh5[700];
  run_path(dcz, sizeof dcz, "model.dcz");
  run_path(qh5, sizeof qh5, "quantize.h5");
  dc_test_result r, q;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  dc_failure_clear();
  assert_int_equal(dc_cmd_eval(&g_exp, dcz, out, &r), DC_OK);
  fclose(out);
  assert_int_equal(r.samples, 200);
  assert_non_null(strstr(text, "(200 images"));
  assert_non_null(strstr(text, "top-1"));
  free(text);
  /* the quantize stage's own test, as recorded (k/200 prints exactly with 6 decimals) */
  double top1, top5;
  stage_result("quantize", &top1, &top5);
  print_message("  toy quantized top-1 %.4f, eval of model.dcz %.4f\n", top1, r.top1);
  assert_true(fabs(r.top1 - top1) < 1e-7);
  assert_true(fabs(r.top5 - top5) < 1e-7);
  assert_true(r.top1 > 0.5); /* it learned something: chance is 0.25 */
  /* and the quantized weights themselves (HDF5 by content) score bit for bit the same */
  assert_int_equal(dc_cmd_eval(&g_exp, qh5, NULL, &q), DC_OK);
  assert_true(q.top1 == r.top1);
  assert_true(q.top5 == r.top5);
  /* the loss too, when the file keeps fp32 biases and centroids ([encode] bias_bits and
   * codebook_bits = auto store them in fewer bits only when the test result stays the
   * same; the loss moves a little) */
  dc_dcz_layer *layers;
  int n;
  assert_int_equal(dc_dcz_read(dcz, &layers, &n), DC_OK);
  int fp32 = 1;
  for (int i = 0; i < n; i++) fp32 &= layers[i].bias_bits == 32 && layers[i].codebook_bits == 32;
  dc_dcz_free(layers, n);
  if (fp32)
    assert_true(q.loss == r.loss);
  else if (fabs(q.loss - r.loss) > 0.05 * fabs(q.loss))
    fail_msg("loss %g with the file's biases, %g with fp32", r.loss, q.loss);
}

/* ---- encode ---- */

/* dctrain encode on the run's quantized weights, with --set overrides; the file size. */
static long encode_with(const char *out, const char *set1, const char *set2) {
  const char *sets[2] = {set1, set2};
  static dc_experiment e;
  dc_failure_clear();
  if (dc_experiment_load_set(g_cfg, sets, (set1 != NULL) + (set2 != NULL), &e) != DC_OK)
    fail_msg("%s", dc_failure_reason());
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (dc_cmd_encode(&e, NULL, out, f) != DC_OK) fail_msg("encode: %s", dc_failure_reason());
  fclose(f);
  assert_non_null(strstr(text, "decoded test top-1"));
  assert_non_null(strstr(text, "header")); /* the byte breakdown */
  free(text);
  return file_size(out);
}

static void encode_command(void **state) {
  (void)state;
  char dcz[700], re[700], fixed[700];
  run_path(dcz, sizeof dcz, "model.dcz");
  run_path(re, sizeof re, "re.dcz");
  run_path(fixed, sizeof fixed, "fixed.dcz");
  /* the same settings give the same bytes as the encode stage */
  long auto_size = encode_with(re, NULL, NULL);
  size_t n1, n2;
  unsigned char *a = slurp(dcz, &n1), *b = slurp(re, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(a, b, n1);
  free(a);
  free(b);
  /* no fixed gap width beats the chosen ones */
  for (int w = 1; w <= 16; w++) {
    char set[64];
    snprintf(set, sizeof set, "encode.gap_bits=%d", w);
    long sz = encode_with(fixed, set, NULL);
    if (sz < auto_size) fail_msg("gap_bits = %d: %ld bytes, auto %ld", w, sz, auto_size);
  }
  /* fp32 biases and centroids: bigger, and the decoded net is the quantized one bit for
   * bit (loss too) */
  long fp32_size = encode_with(fixed, "encode.bias_bits=32", "encode.codebook_bits=32");
  assert_true(fp32_size >= auto_size);
  dc_test_result r, q;
  char qh5[700];
  run_path(qh5, sizeof qh5, "quantize.h5");
  assert_int_equal(dc_cmd_eval(&g_exp, fixed, NULL, &r), DC_OK);
  assert_int_equal(dc_cmd_eval(&g_exp, qh5, NULL, &q), DC_OK);
  assert_true(q.loss == r.loss && q.top1 == r.top1);
  /* 8-bit biases when asked, whatever they do to the accuracy; they read back as such */
  encode_with(fixed, "encode.bias_bits=8", NULL);
  dc_dcz_layer *layers;
  int n;
  assert_int_equal(dc_dcz_read(fixed, &layers, &n), DC_OK);
  for (int i = 0; i < n; i++) assert_int_equal(layers[i].bias_bits, 8);
  dc_dcz_free(layers, n);
  /* fp16 centroids when asked (the toy's fit fp16): exactly the rounded quantize.h5 ones */
  encode_with(fixed, "encode.codebook_bits=16", NULL);
  dc_dcz_stats st;
  assert_int_equal(dc_dcz_read_stats(fixed, &layers, &n, &st), DC_OK);
  dc_net *qnet = NULL;
  assert_int_equal(dc_net_load(g_exp.net, 1, 0, NULL, &qnet), DC_OK);
  assert_int_equal(dc_ckpt_load(qh5, qnet->params, NULL), DC_OK);
  for (int i = 0, j = 0; i < qnet->nlayers; i++) {
    dc_param_parts parts = qnet->layers[i].weight ? dc_param_parts_of(qnet->layers[i].weight) : (dc_param_parts){0};
    if (!parts.codebook) continue;
    assert_int_equal(layers[j].codebook_bits, 16);
    assert_int_equal(st.layer[j].codebook_bits, 16);
    const int k = 1 << parts.bits;
    float want[256];
    assert_int_equal(dc_dcz_codebook_round(parts.codebook, k, 16, want), 16);
    for (size_t w = 0; w < qnet->layers[i].weight->count; w++)
      if (layers[j].mask[w]) assert_true(layers[j].codebook[layers[j].index[w]] == want[parts.index[w]]);
    j++;
  }
  dc_net_free(qnet);
  dc_dcz_free(layers, n);
  dc_dcz_stats_free(&st);
  /* dense weights are refused; bad [encode] values name the key */
  char th5[700];
  run_path(th5, sizeof th5, "train.h5");
  dc_failure_clear();
  assert_int_not_equal(dc_cmd_encode(&g_exp, th5, fixed, NULL), DC_OK);
  assert_non_null(strstr(dc_failure_reason(), "not quantized"));
  const char *bad[][2] = {{"encode.gap_bits=17", "expected auto or a width of 1..16 bits, got '17'"},
                          {"encode.fc_gap_bits=five", "fc_gap_bits"},
                          {"encode.bias_bits=12", "bias_bits"},
                          {"encode.codebook_bits=8", "codebook_bits"}};
  for (int i = 0; i < 4; i++) {
    static dc_experiment e;
    const char *sets[1] = {bad[i][0]};
    dc_failure_clear();
    assert_int_not_equal(dc_experiment_load_set(g_cfg, sets, 1, &e), DC_OK);
    if (!strstr(dc_failure_reason(), bad[i][1])) fail_msg("expected '%s' in '%s'", bad[i][1], dc_failure_reason());
  }
  dc_failure_clear();
}

/* ---- export ---- */

static void export_reads_back_as_identical_weights(void **state) {
  (void)state;
  char dcz[700], h5[700], tmp[720];
  run_path(dcz, sizeof dcz, "model.dcz");
  run_path(h5, sizeof h5, "export.h5");
  dc_failure_clear();
  assert_int_equal(dc_cmd_export(dcz, h5, NULL), DC_OK);
  snprintf(tmp, sizeof tmp, "%s.tmp", h5);
  assert_int_not_equal(access(tmp, F_OK), 0);
  int is_h5;
  assert_int_equal(dc_file_is_hdf5(h5, &is_h5), DC_OK);
  assert_int_equal(is_h5, 1);

  dc_net *a = toy_net(), *b = toy_net();
  assert_int_equal(dc_model_decode(dcz, a, NULL), DC_OK);
  assert_int_equal(dc_load_model(h5, b), DC_OK);
  /* same effective weights and biases, bit for bit; the export is plain dense fp32 */
  assert_int_equal(a->params->total, b->params->total);
  assert_memory_equal(a->params->arena_data, b->params->arena_data, sizeof(float) * a->params->total);
  for (int i = 0; i < b->params->count; i++) assert_int_equal(b->params->p[i].kind, DC_PARAM_DENSE);
  /* pruned weights are exact zeros: ip1 keeps 20% */
  dc_param *w = dc_params_find(b->params, "ip1/weight");
  size_t nz = 0;
  for (size_t i = 0; i < w->count; i++) nz += w->data[i] != 0.0f;
  assert_true(nz <= (size_t)llround(0.2 * (double)w->count));
  dc_net_free(a);
  dc_net_free(b);

  /* eval reads it like a checkpoint, with the same accuracy as the .dcz */
  dc_test_result r1, r2;
  assert_int_equal(dc_cmd_eval(&g_exp, dcz, NULL, &r1), DC_OK);
  assert_int_equal(dc_cmd_eval(&g_exp, h5, NULL, &r2), DC_OK);
  assert_true(r1.top1 == r2.top1 && r1.top5 == r2.top5);

  /* an unwritable destination fails cleanly */
  char bad[720];
  snprintf(bad, sizeof bad, "%s/no/such/dir/x.h5", g_dir);
  dc_failure_clear();
  expect_fail(dc_cmd_export(dcz, bad, NULL), DC_ERR_IO, "no/such/dir/x.h5");
}

/* ---- info ---- */

static void info_prints_the_layer_table(void **state) {
  (void)state;
  char dcz[700];
  run_path(dcz, sizeof dcz, "model.dcz");
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  dc_failure_clear();
  assert_int_equal(dc_cmd_info(dcz, out), DC_OK);
  fclose(out);
  char want[64];
  snprintf(want, sizeof want, "3 layers, %ld bytes", file_size(dcz));
  assert_non_null(strstr(text, want));
  assert_non_null(strstr(text, "\nconv1 "));
  assert_non_null(strstr(text, "\nip1 "));
  assert_non_null(strstr(text, "\nip2 "));
  /* ip1 keeps round(0.2 * 1024) = 205 of 1024 weights */
  assert_non_null(strstr(text, "20.02%"));
  /* 1-bit codebooks (so the quantized net loses a little accuracy: a non-trivial eval) */
  dc_dcz_layer *layers;
  int n;
  dc_dcz_stats st = {0};
  assert_int_equal(dc_dcz_read_stats(dcz, &layers, &n, &st), DC_OK);
  assert_int_equal(n, 3);
  for (int i = 0; i < 3; i++) assert_int_equal(st.layer[i].bits, 1);
  assert_int_equal(st.layer[1].nnz, 205);
  assert_int_equal(st.file_bytes, (uint64_t)file_size(dcz));
  dc_dcz_free(layers, n);
  dc_dcz_stats_free(&st);
  free(text);
}

/* ---- sensitivity ---- */

static void sensitivity_sweep(void **state) {
  (void)state;
  /* 0% first: a later 100% must see the weights restored */
  const double pct[3] = {0, 100, 50};
  dc_sensitivity r;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  dc_failure_clear();
  assert_int_equal(dc_cmd_sensitivity(&g_exp, NULL, pct, 3, out, &r), DC_OK);
  fclose(out);
  assert_non_null(strstr(text, "[sensitivity] conv1"));
  assert_non_null(strstr(text, "ETA"));
  assert_int_equal(r.nlayers, 3);
  assert_int_equal(r.ndensities, 3);
  assert_string_equal(r.layer[0], "conv1");
  assert_string_equal(r.layer[1], "ip1");
  assert_string_equal(r.layer[2], "ip2");

  /* the default weights are OUTPUT/train.h5: density 100% is the dense net exactly */
  char train[700];
  run_path(train, sizeof train, "train.h5");
  dc_test_result dense;
  assert_int_equal(dc_cmd_eval(&g_exp, train, NULL, &dense), DC_OK);
  double top1, top5;
  stage_result("train", &top1, &top5);
  assert_true(fabs(dense.top1 - top1) < 1e-7);
  assert_true(r.dense.top1 == dense.top1);
  for (int l = 0; l < 3; l++) {
    assert_true(r.top1[1 * 3 + l] == dense.top1);
    assert_true(r.top5[1 * 3 + l] == dense.top5);
  }
  /* pruning a whole layer hurts (ip2 at 0%: constant logits) */
  double worst = 1.0;
  for (int l = 0; l < 3; l++) worst = fmin(worst, r.top1[0 * 3 + l]);
  print_message("  dense top-1 %.3f, worst at 0%% %.3f\n", dense.top1, worst);
  assert_true(worst < dense.top1);

  /* in another order the numbers are the same (each trial starts from the same weights) */
  const double pct2[2] = {50, 0};
  dc_sensitivity r2;
  assert_int_equal(dc_cmd_sensitivity(&g_exp, train, pct2, 2, NULL, &r2), DC_OK);
  for (int l = 0; l < 3; l++) {
    assert_true(r2.top1[0 * 3 + l] == r.top1[2 * 3 + l]);
    assert_true(r2.top1[1 * 3 + l] == r.top1[0 * 3 + l]);
  }
  dc_sensitivity_free(&r2);

  /* the CSV: header, one row per density, fractions */
  char csv[700], png[700], line[256];
  run_path(csv, sizeof csv, "sensitivity.csv");
  run_path(png, sizeof png, "sensitivity.png");
  FILE *f = fopen(csv, "r");
  assert_non_null(f);
  assert_non_null(fgets(line, sizeof line, f));
  assert_string_equal(line, "density,conv1,ip1,ip2\n");
  int rows = 0;
  while (fgets(line, sizeof line, f)) {
    double d, v[3];
    assert_int_equal(sscanf(line, "%lf,%lf,%lf,%lf", &d, &v[0], &v[1], &v[2]), 4);
    assert_true(fabs(d - pct2[rows] / 100) < 1e-9); /* the second run wrote it */
    for (int l = 0; l < 3; l++) assert_true(fabs(v[l] - r.top1[(rows == 0 ? 2 : 0) * 3 + l]) < 1e-6);
    rows++;
  }
  fclose(f);
  assert_int_equal(rows, 2);
  /* a real PNG, RGB, plot-sized */
  int w, h, comp;
  assert_int_equal(stbi_info(png, &w, &h, &comp), 1);
  assert_int_equal(comp, 3);
  assert_true(w >= 800 && h >= 500);
  char tmp[720];
  snprintf(tmp, sizeof tmp, "%s.tmp", png);
  assert_int_not_equal(access(tmp, F_OK), 0);
  dc_sensitivity_free(&r);
  free(text);
}

static void sensitivity_errors(void **state) {
  (void)state;
  const double pct[2] = {100, 50};
  /* an experiment that never ran and names no weights */
  static dc_experiment e;
  char *cfg = toy_experiment("fresh.cfg", "fresh", 10, NULL);
  assert_int_equal(dc_experiment_load(cfg, &e), DC_OK);
  dc_failure_clear();
  expect_fail(dc_cmd_sensitivity(&e, NULL, pct, 2, NULL, NULL), DC_ERR_ARG, "no trained weights");
  /* missing --weights */
  char missing[700];
  snprintf(missing, sizeof missing, "%s/missing.h5", g_dir);
  dc_failure_clear();
  expect_fail(dc_cmd_sensitivity(&e, missing, pct, 2, NULL, NULL), DC_ERR_IO, "missing.h5: cannot open");
  /* bad density lists from a caller */
  const double bad[1] = {150};
  dc_failure_clear();
  expect_fail(dc_cmd_sensitivity(&g_exp, NULL, bad, 1, NULL, NULL), DC_ERR_ARG, "150");
  dc_failure_clear();
  expect_fail(dc_cmd_sensitivity(&g_exp, NULL, pct, 0, NULL, NULL), DC_ERR_ARG, "densities");
  /* explicit weights into an output directory that does not exist yet: created */
  char train[700];
  run_path(train, sizeof train, "train.h5");
  snprintf(e.output, sizeof e.output, "%s/new/sub", g_dir);
  dc_failure_clear();
  assert_int_equal(dc_cmd_sensitivity(&e, train, pct, 2, NULL, NULL), DC_OK);
  char png[700];
  snprintf(png, sizeof png, "%s/new/sub/sensitivity.png", g_dir);
  assert_int_equal(access(png, F_OK), 0);
  free(cfg);
}

static void sensitivity_bits_sweep(void **state) {
  (void)state;
  const int bits[3] = {1, 8, 2};
  dc_sensitivity r;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  dc_failure_clear();
  assert_int_equal(dc_cmd_sensitivity_bits(&g_exp, NULL, bits, 3, out, &r), DC_OK);
  fclose(out);
  assert_int_equal(r.kind, DC_SENS_QUANTIZE);
  assert_non_null(strstr(text, "one layer quantized"));
  assert_non_null(strstr(text, "at 2 bits"));
  assert_int_equal(r.nlayers, 3);
  assert_int_equal(r.ndensities, 3);
  assert_true(r.density[0] == 1 && r.density[1] == 8 && r.density[2] == 2);
  /* a trial is the quantize stage's k-means: ip1 alone at 1 bit, tested by hand */
  char train[700];
  run_path(train, sizeof train, "train.h5");
  dc_net *net = toy_net();
  dc_net_init_params(net, g_exp.seed);
  assert_int_equal(dc_load_model(train, net), DC_OK);
  dc_layer *ip1 = NULL;
  for (int i = 0; i < net->nlayers; i++)
    if (!strcmp(net->layers[i].name, "ip1")) ip1 = &net->layers[i];
  assert_non_null(ip1);
  assert_int_equal(dc_quantize(ip1->weight, 1, DC_KMEANS_LINEAR, g_exp.seed ^ dc_hash_str("ip1")), DC_OK);
  int distinct = 0;
  float seen[4];
  for (size_t i = 0; i < ip1->weight->count && distinct < 4; i++) {
    int known = 0;
    for (int k = 0; k < distinct; k++) known |= seen[k] == ip1->weight->data[i];
    if (!known) seen[distinct++] = ip1->weight->data[i];
  }
  assert_true(distinct <= 2); /* two shared values */
  char h5[700];
  snprintf(h5, sizeof h5, "%s/ip1-1bit.h5", g_dir);
  assert_int_equal(dc_ckpt_save(h5, net->params, NULL), DC_OK);
  dc_net_free(net);
  dc_test_result by_hand;
  assert_int_equal(dc_cmd_eval(&g_exp, h5, NULL, &by_hand), DC_OK);
  assert_true(r.top1[0 * 3 + 1] == by_hand.top1);
  /* 8 bits of 256 shared values lose (almost) nothing; 1 bit loses more than 8 */
  for (int l = 0; l < 3; l++) {
    assert_true(fabs(r.top1[1 * 3 + l] - r.dense.top1) <= 0.02);
    assert_true(r.top1[0 * 3 + l] <= r.top1[1 * 3 + l] + 0.01);
  }
  /* the CSV: bits as they are */
  char csv[700], png[700], line[256];
  run_path(csv, sizeof csv, "sensitivity-bits.csv");
  run_path(png, sizeof png, "sensitivity-bits.png");
  FILE *f = fopen(csv, "r");
  assert_non_null(f);
  assert_non_null(fgets(line, sizeof line, f));
  assert_string_equal(line, "bits,conv1,ip1,ip2\n");
  assert_non_null(fgets(line, sizeof line, f));
  assert_int_equal(strncmp(line, "1,", 2), 0);
  fclose(f);
  int w, h, comp;
  assert_int_equal(stbi_info(png, &w, &h, &comp), 1);
  /* errors */
  const int bad[2] = {4, 9};
  dc_failure_clear();
  expect_fail(dc_cmd_sensitivity_bits(&g_exp, NULL, bad, 2, NULL, NULL), DC_ERR_ARG, "9 bits is outside 1..8");
  dc_failure_clear();
  expect_fail(dc_cmd_sensitivity_bits(&g_exp, NULL, bits, 0, NULL, NULL), DC_ERR_ARG, "bit widths");
  int v[DC_MAX_DENSITIES], n;
  assert_int_equal(dc_parse_bits("all", v, DC_MAX_DENSITIES, &n), DC_OK);
  assert_int_equal(n, 8);
  assert_true(v[0] == 8 && v[7] == 1);
  assert_int_equal(dc_parse_bits(" 6, 3 ,1", v, DC_MAX_DENSITIES, &n), DC_OK);
  assert_true(n == 3 && v[0] == 6 && v[1] == 3 && v[2] == 1);
  const char *bads[] = {"", "4,", "0", "9", "2.5", "x", "4,,2"};
  for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
    dc_failure_clear();
    expect_fail(dc_parse_bits(bads[i], v, DC_MAX_DENSITIES, &n), DC_ERR_ARG, "--bits");
  }
  dc_sensitivity_free(&r);
  free(text);
}

/* ---- plan ---- */

static long file_size_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void plan_meets_the_budget(void **state) {
  (void)state;
  /* the toy net's fp32 bytes, and a budget of 1/5 of them */
  uint64_t budget;
  dc_failure_clear();
  assert_int_equal(dc_plan_budget_from_ratio(&g_exp, 5, &budget), DC_OK);
  dc_net *net = toy_net();
  uint64_t dense = 0;
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i].weight) dense += 4 * (net->layers[i].weight->count + net->layers[i].bias->count);
  dc_net_free(net);
  assert_true(budget == dense / 5);

  static dc_plan_conf c;
  char out_cfg[700], train[700];
  snprintf(out_cfg, sizeof out_cfg, "%s/planned.cfg", g_dir);
  run_path(train, sizeof train, "train.h5");
  c.out_cfg = out_cfg;
  c.budget = budget;
  c.max_loss = 1.0;
  c.reserve = 3;
  c.command = "dctrain plan run.cfg --ratio 5 -o planned.cfg";
  const double dens[] = {100, 50, 25, 12, 6, 3};
  const int bits[] = {8, 4, 3, 2, 1};
  c.ndensities = 6;
  memcpy(c.density, dens, sizeof dens);
  c.nbits = 5;
  memcpy(c.bits, bits, sizeof bits);
  dc_plan p;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  dc_status ps = dc_cmd_plan(&g_exp, &c, out, &p);
  fclose(out);
  if (ps != DC_OK) fail_msg("%s", dc_failure_reason());
  const char *table = strstr(text, "plan for");
  assert_non_null(table);
  print_message("%s", table);
  /* the estimate is the planned file's size, within the budget */
  char dcz[700];
  run_path(dcz, sizeof dcz, "plan.dcz");
  assert_true(p.bytes <= budget * 0.97);
  assert_int_equal(file_size_of(dcz), (long)p.bytes);
  assert_int_equal(p.nlayers, 3);
  assert_true(p.quant_loss <= c.max_loss + 1e-9);
  /* the size model is the writer's: each layer's planned bytes are its record in the file */
  dc_dcz_layer *layers;
  int nlayers;
  dc_dcz_stats st;
  assert_int_equal(dc_dcz_read_stats(dcz, &layers, &nlayers, &st), DC_OK);
  assert_int_equal(nlayers, 3);
  for (int l = 0; l < 3; l++) {
    assert_int_equal(st.layer[l].total_bytes, p.layer[l].bytes);
    assert_int_equal(st.layer[l].bits, p.layer[l].bits);
    assert_true(fabs(100.0 * (double)st.layer[l].nnz / (double)st.layer[l].count - p.layer[l].density) <=
                50.0 / (double)st.layer[l].count + 1e-9); /* round(density * count) kept */
  }
  dc_dcz_free(layers, nlayers);
  dc_dcz_stats_free(&st);
  /* the budget is spent on accuracy, not left over */
  assert_true(p.bytes > budget / 2);

  /* from the tables it measured, another plan comes out the same, without measuring */
  static dc_plan_conf again;
  again = c;
  again.tables = g_run;
  again.ndensities = again.nbits = 0;
  char out2[700];
  snprintf(out2, sizeof out2, "%s/again.cfg", g_dir);
  again.out_cfg = out2;
  dc_plan q;
  dc_failure_clear();
  assert_int_equal(dc_cmd_plan(&g_exp, &again, NULL, &q), DC_OK);
  assert_true(q.bytes == p.bytes && q.dense_top1 == p.dense_top1);
  for (int l = 0; l < 3; l++)
    assert_true(q.layer[l].density == p.layer[l].density && q.layer[l].bits == p.layer[l].bits);
  dc_plan_free(&q);

  /* the written file parses, and says what the plan says */
  static dc_experiment e;
  assert_int_equal(dc_experiment_load(out_cfg, &e), DC_OK);
  assert_string_equal(e.name, "planned");
  assert_true(strstr(e.output, "runs/planned") != NULL);
  assert_int_equal(e.solver.max_iter, g_exp.solver.max_iter);
  assert_true(e.quantize.enabled && e.encode.enabled);
  assert_int_equal(e.quantize.nlayers, 3);
  for (int l = 0; l < 3; l++) {
    assert_string_equal(e.quantize.layer[l].layer, p.layer[l].name);
    assert_int_equal((int)e.quantize.layer[l].value, p.layer[l].bits);
    int found = 0;
    for (int k = 0; k < e.prune.nlayers; k++)
      if (!strcmp(e.prune.layer[k].layer, p.layer[l].name)) {
        assert_true(fabs(e.prune.layer[k].value * 100 - p.layer[l].density) < 1e-9);
        found = 1;
      }
    assert_int_equal(found, p.layer[l].density < 100);
  }
  assert_int_equal(e.prune.enabled, 1);
  assert_int_equal(e.prune.rounds, p.rounds);
  assert_int_equal(e.prune.retrain_iters, g_exp.prune.retrain_iters);
  assert_int_equal(e.encode.fc_gap_bits, g_exp.encode.fc_gap_bits);
  char *cfg_text = NULL;
  {
    FILE *f = fopen(out_cfg, "r");
    assert_non_null(f);
    cfg_text = calloc(1, 65536);
    assert_true(fread(cfg_text, 1, 65535, f) > 0);
    fclose(f);
  }
  assert_non_null(strstr(cfg_text, "# Estimated model.dcz:"));
  assert_non_null(strstr(cfg_text, "--set experiment.weights="));
  if (getenv("DC_SHOW_PLAN")) print_message("%s", cfg_text);
  char tmp[720];
  snprintf(tmp, sizeof tmp, "%s.tmp", out_cfg);
  assert_int_not_equal(access(tmp, F_OK), 0);

  /* run as any experiment, from the same dense weights: its model.dcz meets the budget
   * (retraining moves the encoded size a little: the 3% reserve covers it) */
  const char *sets[] = {NULL, "solver.max_iter=0", NULL};
  char wset[800], oset[800];
  snprintf(wset, sizeof wset, "experiment.weights=%s", train);
  snprintf(oset, sizeof oset, "experiment.output=%s/planned-run", g_dir);
  sets[0] = wset;
  sets[2] = oset;
  static dc_experiment run;
  assert_int_equal(dc_experiment_load_set(out_cfg, sets, 3, &run), DC_OK);
  FILE *devnull = fopen("/dev/null", "w");
  dc_status s = dc_experiment_run(&run, NULL, devnull, NULL);
  fclose(devnull);
  if (s != DC_OK) fail_msg("%s", dc_failure_reason());
  char model[800];
  snprintf(model, sizeof model, "%s/planned-run/model.dcz", g_dir);
  long got = file_size_of(model);
  print_message("  budget %llu B, planned %llu B, after retraining %ld B\n", (unsigned long long)budget,
                (unsigned long long)p.bytes, got);
  assert_true(got > 0 && (uint64_t)got <= budget);
  free(cfg_text);
  dc_plan_free(&p);
  free(text);
}

static void plan_errors(void **state) {
  (void)state;
  static dc_plan_conf c;
  char out_cfg[700];
  snprintf(out_cfg, sizeof out_cfg, "%s/never.cfg", g_dir);
  c.out_cfg = out_cfg;
  c.max_loss = 0.1;
  const double dens[] = {100, 20};
  const int bits[] = {8, 2};
  c.ndensities = 2;
  memcpy(c.density, dens, sizeof dens);
  c.nbits = 2;
  memcpy(c.bits, bits, sizeof bits);
  /* a budget nothing meets: one line with the smallest size found */
  c.budget = 100;
  dc_failure_clear();
  expect_fail(dc_cmd_plan(&g_exp, &c, NULL, NULL), DC_ERR_ARG, "cannot fit 100 bytes: the smallest plan found takes");
  assert_int_not_equal(access(out_cfg, F_OK), 0);
  /* tables that are not there, or not sensitivity tables */
  c.budget = 5000;
  c.tables = g_dir;
  dc_failure_clear();
  expect_fail(dc_cmd_plan(&g_exp, &c, NULL, NULL), DC_ERR_IO, "sensitivity.csv: cannot open");
  free(tu_write_file(g_dir, "sensitivity.csv", "density,conv1,ip1,ip2\n1,0.9,0.9,0.9\n0.5,0.9,0.8\n"));
  dc_failure_clear();
  expect_fail(dc_cmd_plan(&g_exp, &c, NULL, NULL), DC_ERR_FORMAT, "sensitivity.csv:3: expected 3 numbers");
  free(tu_write_file(g_dir, "sensitivity.csv", "density,conv1,ip9,ip2\n1,0.9,0.9,0.9\n0.5,0.9,0.8,0.7\n"));
  free(tu_write_file(g_dir, "sensitivity-bits.csv", "bits,conv1,ip9,ip2\n8,0.9,0.9,0.9\n2,0.9,0.8,0.7\n"));
  dc_failure_clear();
  expect_fail(dc_cmd_plan(&g_exp, &c, NULL, NULL), DC_ERR_FORMAT, "layer 2 is 'ip9', the net's 'ip1'");
  c.tables = NULL;
  /* bad confs */
  c.budget = 0;
  dc_failure_clear();
  expect_fail(dc_cmd_plan(&g_exp, &c, NULL, NULL), DC_ERR_ARG, "no budget");
  c.budget = 5000;
  c.max_loss = -1;
  dc_failure_clear();
  expect_fail(dc_cmd_plan(&g_exp, &c, NULL, NULL), DC_ERR_ARG, "--max-loss");
  c.max_loss = 0.1;
  c.reserve = 100;
  dc_failure_clear();
  expect_fail(dc_cmd_plan(&g_exp, &c, NULL, NULL), DC_ERR_ARG, "--reserve");
  c.reserve = 0;
  const double rising[] = {20, 100};
  memcpy(c.density, rising, sizeof rising);
  dc_failure_clear();
  expect_fail(dc_cmd_plan(&g_exp, &c, NULL, NULL), DC_ERR_ARG, "densities must fall");
  memcpy(c.density, dens, sizeof dens);
  char missing[700];
  snprintf(missing, sizeof missing, "%s/missing.h5", g_dir);
  c.weights = missing;
  dc_failure_clear();
  expect_fail(dc_cmd_plan(&g_exp, &c, NULL, NULL), DC_ERR_IO, "missing.h5: cannot open");
  c.weights = NULL;
  dc_failure_clear();
  expect_fail(dc_plan_budget_from_ratio(&g_exp, 0, &c.budget), DC_ERR_ARG, "--ratio");
  /* sizes */
  uint64_t b;
  assert_int_equal(dc_parse_size("20KB", "--size", &b), DC_OK);
  assert_true(b == 20000);
  assert_int_equal(dc_parse_size("16KiB", "--size", &b), DC_OK);
  assert_true(b == 16384);
  assert_int_equal(dc_parse_size("1.5mb", "--size", &b), DC_OK);
  assert_true(b == 1500000);
  assert_int_equal(dc_parse_size("17220", "--size", &b), DC_OK);
  assert_true(b == 17220);
  const char *bad[] = {"", "KB", "0", "-5", "5 XB", "nan", "0.1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dc_failure_clear();
    expect_fail(dc_parse_size(bad[i], "--size", &b), DC_ERR_ARG, "--size");
  }
  assert_int_not_equal(access(out_cfg, F_OK), 0);
}

static void parse_densities(void **state) {
  (void)state;
  double v[DC_MAX_DENSITIES];
  int n;
  dc_failure_clear();
  assert_int_equal(dc_parse_densities("100,90,5", v, DC_MAX_DENSITIES, &n), DC_OK);
  assert_int_equal(n, 3);
  assert_true(v[0] == 100 && v[1] == 90 && v[2] == 5);
  assert_int_equal(dc_parse_densities(" 50% , 2.5,0", v, DC_MAX_DENSITIES, &n), DC_OK);
  assert_int_equal(n, 3);
  assert_true(v[0] == 50 && v[1] == 2.5 && v[2] == 0);
  struct {
    const char *text, *want;
  } bad[] = {{"", "empty entry"}, {"50,,3", "empty entry"}, {"1x0", "'1x0' is not a number"},
             {"101", "'101'"},    {"-1", "'-1'"},           {"nan", "'nan'"},
             {"inf", "'inf'"},    {"10,", "empty entry"},   {"%", "empty entry"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dc_failure_clear();
    dc_status s = dc_parse_densities(bad[i].text, v, DC_MAX_DENSITIES, &n);
    if (s != DC_ERR_ARG || !strstr(dc_failure_reason(), bad[i].want))
      fail_msg("'%s': expected '%s', got %d '%s'", bad[i].text, bad[i].want, s, dc_failure_reason());
  }
  dc_failure_clear();
  expect_fail(dc_parse_densities("1,2,3", v, 2, &n), DC_ERR_ARG, "more than 2 values");
  /* the default list */
  assert_true(dc_default_densities[0] == 100 && dc_default_densities[10] == 5);
}

/* ---- model loading errors ---- */

static void missing_and_corrupt_models(void **state) {
  (void)state;
  char dcz[700], path[700], h5[700];
  dc_test_result r;
  run_path(dcz, sizeof dcz, "model.dcz");
  snprintf(path, sizeof path, "%s/nope.dcz", g_dir);
  snprintf(h5, sizeof h5, "%s/nope.h5", g_dir);
  dc_failure_clear();
  expect_fail(dc_cmd_eval(&g_exp, path, NULL, &r), DC_ERR_IO, "nope.dcz: cannot open");
  dc_failure_clear();
  expect_fail(dc_cmd_info(path, NULL), DC_ERR_IO, "nope.dcz");
  dc_failure_clear();
  expect_fail(dc_cmd_export(path, h5, NULL), DC_ERR_IO, "nope.dcz");
  assert_int_not_equal(access(h5, F_OK), 0);
  int is_h5;
  dc_failure_clear();
  expect_fail(dc_file_is_hdf5(path, &is_h5), DC_ERR_IO, "nope.dcz: cannot open");

  /* one flipped byte in the middle: the CRCs catch it everywhere */
  char bad[700];
  snprintf(bad, sizeof bad, "%s/flipped.dcz", g_dir);
  copy_file(dcz, bad);
  FILE *f = fopen(bad, "r+b");
  long mid = file_size(bad) / 2;
  fseek(f, mid, SEEK_SET);
  int c = fgetc(f);
  fseek(f, mid, SEEK_SET);
  fputc(c ^ 0x10, f);
  fclose(f);
  dc_failure_clear();
  expect_fail(dc_cmd_eval(&g_exp, bad, NULL, &r), DC_ERR_FORMAT, "flipped.dcz");
  dc_failure_clear();
  expect_fail(dc_cmd_info(bad, NULL), DC_ERR_FORMAT, "flipped.dcz");
  dc_failure_clear();
  expect_fail(dc_cmd_export(bad, h5, NULL), DC_ERR_FORMAT, "flipped.dcz");
  assert_int_not_equal(access(h5, F_OK), 0);

  /* short and empty files are neither HDF5 nor .dcz */
  char *empty = tu_write_file(g_dir, "empty.dcz", "");
  assert_int_equal(dc_file_is_hdf5(empty, &is_h5), DC_OK);
  assert_int_equal(is_h5, 0);
  dc_failure_clear();
  expect_fail(dc_cmd_eval(&g_exp, empty, NULL, &r), DC_ERR_FORMAT, "empty.dcz");
  /* the HDF5 signature followed by garbage */
  char *fake = tu_write_file(g_dir, "fake.h5", "\x89HDF\r\n\x1a\nnot really");
  assert_int_equal(dc_file_is_hdf5(fake, &is_h5), DC_OK);
  assert_int_equal(is_h5, 1);
  dc_failure_clear();
  expect_fail(dc_cmd_eval(&g_exp, fake, NULL, &r), DC_ERR_FORMAT, "fake.h5");
  free(empty);
  free(fake);
}

/* The encode stage's round-trip check: dc_model_decode_verify accepts the net a file was
 * written from and refuses, naming the layer, a net whose weights have moved since. */
static void decode_verify_checks_every_weight(void **state) {
  (void)state;
  dc_net *net = toy_net();
  dc_net_init_params(net, 9);
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i].weight) {
      assert_int_equal(dc_prune_density(net->layers[i].weight, 0.5), DC_OK);
      assert_int_equal(dc_quantize(net->layers[i].weight, 3, DC_KMEANS_LINEAR, 1), DC_OK);
    }
  char dcz[700];
  snprintf(dcz, sizeof dcz, "%s/verify.dcz", g_dir);
  assert_int_equal(dc_model_encode(net, 8, 5, dcz, NULL), DC_OK);
  assert_int_equal(dc_model_decode_verify(dcz, net, NULL), DC_OK);
  dc_layer *last = NULL;
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i].weight) last = &net->layers[i];
  last->weight->codebook[1] += 0.25f; /* one centroid of the last layer */
  dc_param_sync(last->weight);
  char want[200];
  snprintf(want, sizeof want, "decoded weights of '%s' differ", last->name);
  dc_failure_clear();
  expect_fail(dc_model_decode_verify(dcz, net, NULL), DC_ERR_FORMAT, want);
  assert_int_equal(dc_model_decode(dcz, net, NULL), DC_OK); /* takes the file's values back */
  assert_int_equal(dc_model_decode_verify(dcz, net, NULL), DC_OK);
  last->bias->data[0] += 1.0f;
  dc_failure_clear();
  expect_fail(dc_model_decode_verify(dcz, net, NULL), DC_ERR_FORMAT, want);
  dc_net_free(net);
}

static void models_of_another_net(void **state) {
  (void)state;
  /* same layer names, other shapes */
  static const char *const other_net =
      "[input]\nchannels = 1\nheight = 8\nwidth = 8\n"
      "[fc]\nname = ip1\nnum_output = 8\n[relu]\n[fc]\nname = ip2\nnum_output = 4\n[softmax_loss]\n";
  dc_net *net = tu_net(other_net, 2, 0);
  dc_net_init_params(net, 5);
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i].weight) assert_int_equal(dc_quantize(net->layers[i].weight, 2, DC_KMEANS_LINEAR, 1), DC_OK);
  char dcz[700], h5[700];
  snprintf(dcz, sizeof dcz, "%s/other.dcz", g_dir);
  snprintf(h5, sizeof h5, "%s/other.h5", g_dir);
  assert_int_equal(dc_model_encode(net, 8, 5, dcz, NULL), DC_OK);
  assert_int_equal(dc_ckpt_save(h5, net->params, NULL), DC_OK);
  dc_net_free(net);
  dc_test_result r;
  dc_failure_clear();
  expect_fail(dc_cmd_eval(&g_exp, dcz, NULL, &r), DC_ERR_FORMAT, "other.dcz: layer 1 is 'ip1'");
  dc_failure_clear();
  expect_fail(dc_cmd_eval(&g_exp, h5, NULL, &r), DC_ERR_FORMAT, "other.h5: no dataset /params/conv1/weight");
  /* but info and export need no net */
  assert_int_equal(dc_cmd_info(dcz, NULL), DC_OK);
  char exp[700];
  snprintf(exp, sizeof exp, "%s/other_export.h5", g_dir);
  assert_int_equal(dc_cmd_export(dcz, exp, NULL), DC_OK);

  /* an experiment whose net does not fit its data: 28x28 input on 8x8 images */
  char *big = tu_write_file(g_dir, "big.net",
                            "[input]\nchannels = 1\nheight = 28\nwidth = 28\n[fc]\nname = ip1\nnum_output = 4\n"
                            "[softmax_loss]\n");
  char text[1024];
  snprintf(text, sizeof text,
           "[experiment]\nnet = %s\noutput = %s/bigrun\n[data]\ndir = %s\n[solver]\nbase_lr = 0.01\n", big, g_dir,
           g_dir);
  char *cfg = tu_write_file(g_dir, "big.cfg", text);
  static dc_experiment e;
  assert_int_equal(dc_experiment_load(cfg, &e), DC_OK);
  dc_failure_clear();
  expect_fail(dc_cmd_eval(&e, dcz, NULL, &r), DC_ERR_SHAPE, "the data is 1x8x8 (CxHxW) but");
  free(big);
  free(cfg);
}

/* ---- the plot ---- */

static void plot_edge_cases(void **state) {
  (void)state;
  char png[700];
  snprintf(png, sizeof png, "%s/one.png", g_dir);
  /* a single point: degenerate ranges are widened */
  const double x1[1] = {50}, y1[2] = {97.5, 97.5};
  const char *names[2] = {"a-very-long-layer-name-to-test-the-legend", "b"};
  dc_failure_clear();
  assert_int_equal(dc_plot_png(png, "one", "x", "y", x1, 1, y1, 2, names), DC_OK);
  int w, h, comp;
  assert_int_equal(stbi_info(png, &w, &h, &comp), 1);
  assert_int_equal(comp, 3);
  /* more series than colours, negative and fractional values, text outside ASCII */
  double x[4] = {0.5, 0.1, 0.2, 0.3}, y[12 * 4];
  const char *many[12];
  for (int s = 0; s < 12; s++) {
    many[s] = s % 2 ? "caf\xc3\xa9" : "x";
    for (int i = 0; i < 4; i++) y[s * 4 + i] = -0.01 * s + 0.001 * i;
  }
  assert_int_equal(dc_plot_png(png, "many\tseries", "\x01", "y", x, 4, y, 12, many), DC_OK);
  assert_int_equal(stbi_info(png, &w, &h, &comp), 1);
  /* errors */
  const double nan_y[2] = {1, NAN};
  dc_failure_clear();
  expect_fail(dc_plot_png(png, "t", "x", "y", x1, 1, nan_y, 2, names), DC_ERR_ARG, "not finite");
  dc_failure_clear();
  expect_fail(dc_plot_png(png, "t", "x", "y", x1, 0, y1, 2, names), DC_ERR_ARG, "at least one point");
  dc_failure_clear();
  expect_fail(dc_plot_png(png, "t", "x", "y", x1, 1, y1, 0, names), DC_ERR_ARG, "at least one point");
  snprintf(png, sizeof png, "%s/no/such/dir/p.png", g_dir);
  dc_failure_clear();
  expect_fail(dc_plot_png(png, "t", "x", "y", x1, 1, y1, 2, names), DC_ERR_IO, "p.png");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(eval_dcz_equals_quantize_stage),
      cmocka_unit_test(encode_command),
      cmocka_unit_test(export_reads_back_as_identical_weights),
      cmocka_unit_test(info_prints_the_layer_table),
      cmocka_unit_test(sensitivity_sweep),
      cmocka_unit_test(sensitivity_errors),
      cmocka_unit_test(sensitivity_bits_sweep),
      cmocka_unit_test(plan_meets_the_budget),
      cmocka_unit_test(plan_errors),
      cmocka_unit_test(parse_densities),
      cmocka_unit_test(missing_and_corrupt_models),
      cmocka_unit_test(models_of_another_net),
      cmocka_unit_test(decode_verify_checks_every_weight),
      cmocka_unit_test(plot_edge_cases),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

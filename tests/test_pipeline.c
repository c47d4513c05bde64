/* test_pipeline.c — the Deep Compression pipeline end to end, in-process through
 * dc_experiment_load / dc_experiment_run on the toy MNIST-format set of util_net.h:
 *   - train → prune (2 rounds, retraining) → quantize (retraining) → encode: accuracy and
 *     whole-file compression floors, the exact per-round densities, report.md / report.csv,
 *     and model.dcz decoding to exactly the weights of quantize.h5;
 *   - a run stopped (stop_after) inside a prune round's retraining, inside the quantize
 *     retraining, and exactly at the end of a prune round, then resumed from ckpt.h5, ends
 *     bit-identical to an uninterrupted run (weights, kinds, masks, codebooks, indices,
 *     momentum, model.dcz bytes);
 *   - pruning with splicing: weights pruned in round 1 come back, exact densities, shadows
 *     in checkpoints, and a run stopped in a round resumes bit for bit;
 *   - quality-mode pruning's threshold ramp, and freeze = conv; a stage's own lr_policy;
 *   - the stage-section errors a user can make, each naming file:line;
 *   - dropout rescaling after pruning, D_r = D_o·sqrt(kept fraction of the next weighted
 *     layer), read from the runner's progress lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dc/ckpt.h"
#include "dc/experiment.h"
#include "dc/model.h"
#include "dc/net.h"
#include "dc/report.h"
#include "util_net.h"

static char *g_dir; /* toy data, toy.net and every run's output */

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

/* ------------------------------------------------------------------ helpers */

/* An experiment file NAME.cfg writing to g_dir/NAME/, training `train_iters` iterations,
 * followed by the stage sections `stages`. Lines 1-21 are fixed ([solver] is line 9, its
 * keys 10-21), so `stages` starts at line 22 (the error tests rely on it). */
static char *experiment(const char *name, int train_iters, const char *stages) {
  char text[4096], file[80];
  snprintf(text, sizeof text,
           "[experiment]\nname = %s\nnet = %s/toy.net\noutput = %s/%s\nseed = 7\nthreads = 1\n" /* 1-6 */
           "[data]\ndir = %s\n"                                                                 /* 7-8 */
           "[solver]\nbase_lr = 0.05\nmomentum = 0.9\nweight_decay = 0.0005\nlr_policy = inv\ngamma = 0.0001\n"
           "power = 0.75\nbatch = 16\ntest_batch = 50\nmax_iter = %d\ntest_interval = 0\ndisplay = 0\n"
           "snapshot = 0\n%s",
           name, g_dir, g_dir, name, g_dir, train_iters, stages);
  snprintf(file, sizeof file, "%s.cfg", name);
  return tu_write_file(g_dir, file, text);
}

static void run_ok(const char *cfg, const char *resume, long stop_after, FILE *out) {
  if (tu_run(cfg, resume, stop_after, out) != DC_OK) fail_msg("%s: %s", cfg, dc_failure_reason());
}

static const char *out_path(const char *run_name, const char *file) {
  static char buf[4][700];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s/%s", g_dir, run_name, file);
  return p;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* A fresh toy net (batch 1, inference) with its params loaded from an HDF5 file. */
static dc_net *net_from_h5(const char *path, dc_ckpt_state *st) {
  char net_path[600];
  snprintf(net_path, sizeof net_path, "%s/toy.net", g_dir);
  dc_net *net = NULL;
  assert_int_equal(dc_net_load(net_path, 1, 0, NULL, &net), DC_OK);
  dc_net_init_params(net, 12345); /* anything: the file must overwrite it */
  dc_failure_clear();
  if (dc_ckpt_load(path, net->params, st) != DC_OK) fail_msg("%s: %s", path, dc_failure_reason());
  return net;
}

/* Every value, kind, mask, codebook and index of a and b equal, bit for bit. With
 * history: the solver momentum too (codebook momentum for SHARED). Without same_codes
 * (b read from a .dcz, which stores only the used centroids): each weight's centroid
 * value equal instead of the codebooks and indices. */
static void assert_same_params(dc_params *a, dc_params *b, int history, int same_codes, const char *what) {
  assert_int_equal(a->count, b->count);
  assert_int_equal(a->total, b->total);
  if (memcmp(a->arena_data, b->arena_data, sizeof(float) * a->total) != 0) fail_msg("%s: values differ", what);
  if (history && memcmp(a->arena_history, b->arena_history, sizeof(float) * a->total) != 0)
    fail_msg("%s: momentum differs", what);
  for (int i = 0; i < a->count; i++) {
    dc_param *p = &a->p[i], *q = &b->p[i];
    assert_string_equal(p->name, q->name);
    if (p->kind != q->kind)
      fail_msg("%s: %s is %s vs %s", what, p->name, dc_param_kind_name(p->kind), dc_param_kind_name(q->kind));
    if (p->mask && memcmp(p->mask, q->mask, p->count) != 0) fail_msg("%s: %s masks differ", what, p->name);
    if (p->shadow && memcmp(p->shadow, q->shadow, sizeof(float) * p->count) != 0)
      fail_msg("%s: %s shadow weights differ", what, p->name);
    if (p->kind != DC_PARAM_SHARED) continue;
    assert_int_equal(p->bits, q->bits);
    if (!same_codes) {
      for (size_t j = 0; j < p->count; j++)
        if ((!p->mask || p->mask[j]) && p->codebook[p->index[j]] != q->codebook[q->index[j]])
          fail_msg("%s: %s weight %zu has another centroid", what, p->name, j);
      continue;
    }
    if (memcmp(p->codebook, q->codebook, sizeof(float) * (size_t)p->k) != 0)
      fail_msg("%s: %s codebooks differ", what, p->name);
    if (memcmp(p->index, q->index, p->count) != 0) fail_msg("%s: %s indices differ", what, p->name);
    if (history && memcmp(p->codebook_history, q->codebook_history, sizeof(float) * (size_t)p->k) != 0)
      fail_msg("%s: %s centroid momentum differs", what, p->name);
  }
}

static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("%s: cannot open", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)len + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
  buf[len] = '\0';
  fclose(f);
  *n = (size_t)len;
  return buf;
}

/* Weighted layers of TU_TOY_NET and their weight counts. */
static const char *const LAYERS[3] = {"conv1", "ip1", "ip2"};
static const size_t COUNTS[3] = {4 * 1 * 3 * 3, 16 * 64, 4 * 16};
static const size_t BIASES = 4 + 16 + 4;

/* Weights a density-mode round r of R keeps of a layer with final density d (the runner's
 * geometric schedule d^(r/R), each round rounding to whole weights). */
static size_t kept_after(size_t count, double d, int r, int rounds) {
  return (size_t)llround(pow(d, (double)r / rounds) * (double)count);
}

/* ------------------------------------------------------------------ the full pipeline */

/* fp32 biases and centroids: the .dcz must decode to quantize.h5 bit for bit (bias_bits
 * and codebook_bits = auto would round them where the test result does not move; that
 * path is tested in test_dcz and test_commands) */
static const char *const FULL_STAGES =
    "[prune]\nrounds = 2\nretrain_iters = 100\nconv1 = 30%\nip1 = 20%\nip2 = 30%\n"
    "[quantize]\nconv_bits = 6\nfc_bits = 4\nretrain_iters = 100\n"
    "[encode]\nbias_bits = 32\ncodebook_bits = 32\n";
static const double FULL_DENSITY[3] = {0.3, 0.2, 0.3};

static void full_pipeline(void **state) {
  (void)state;
  char *cfg = experiment("full", 300, FULL_STAGES);
  run_ok(cfg, NULL, 0, NULL);
  free(cfg);

  /* every stage's weights and the compressed model exist */
  const char *files[] = {"train.h5", "prune1.h5", "prune2.h5",  "quantize.h5", "model.dcz",
                         "ckpt.h5",  "log.csv",   "stages.csv", "report.md",   "report.csv"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    if (!exists(out_path("full", files[i]))) fail_msg("missing %s", out_path("full", files[i]));

  /* stage results: order, exact densities of the geometric schedule, accuracy floors */
  dc_stage_result r[16];
  int n;
  char dir[600];
  snprintf(dir, sizeof dir, "%s/full", g_dir);
  assert_int_equal(dc_stage_results_load(dir, r, 16, &n), DC_OK);
  assert_int_equal(n, 5);
  const char *labels[5] = {"train", "prune1", "prune2", "quantize", "encode"};
  long total = 0;
  for (int l = 0; l < 3; l++) total += (long)COUNTS[l];
  for (int i = 0; i < 5; i++) {
    assert_string_equal(r[i].label, labels[i]);
    assert_int_equal(r[i].total, total);
    long want = 0;
    for (int l = 0; l < 3; l++)
      want += i == 0 ? (long)COUNTS[l] : (long)kept_after(COUNTS[l], FULL_DENSITY[l], i < 2 ? i : 2, 2);
    if (r[i].nonzero != want) fail_msg("stage %s keeps %ld weights, want %ld", r[i].label, r[i].nonzero, want);
    print_message("  %-8s top-1 %.3f  kept %ld/%ld\n", r[i].label, r[i].top1, r[i].nonzero, r[i].total);
  }
  /* measured: 1.000 after every stage on this easy set; a generous margin */
  for (int i = 0; i < 5; i++)
    if (r[i].top1 < 0.95) fail_msg("stage %s: top-1 %.3f below the 0.95 floor", r[i].label, r[i].top1);
  /* the decoded model is the quantized one: same accuracy */
  assert_true(r[4].top1 == r[3].top1);

  /* per-layer masks of quantize.h5: each layer at its final density, bits as configured */
  dc_net *q = net_from_h5(out_path("full", "quantize.h5"), NULL);
  for (int l = 0; l < 3; l++) {
    char name[80];
    snprintf(name, sizeof name, "%s/weight", LAYERS[l]);
    dc_param *w = dc_params_find(q->params, name);
    assert_non_null(w);
    assert_int_equal(w->kind, DC_PARAM_SHARED);
    assert_int_equal(w->bits, l == 0 ? 6 : 4);
    assert_int_equal(dc_param_nonzero(w), kept_after(COUNTS[l], FULL_DENSITY[l], 2, 2));
  }

  /* model.dcz decodes, into a fresh net, to exactly quantize.h5 */
  char net_path[600];
  snprintf(net_path, sizeof net_path, "%s/toy.net", g_dir);
  dc_net *d = NULL;
  assert_int_equal(dc_net_load(net_path, 1, 0, NULL, &d), DC_OK);
  dc_net_init_params(d, 999);
  dc_dcz_stats stats = {0};
  dc_failure_clear();
  if (dc_model_decode(out_path("full", "model.dcz"), d, &stats) != DC_OK) fail_msg("decode: %s", dc_failure_reason());
  assert_same_params(d->params, q->params, 0, 0, "model.dcz vs quantize.h5");

  /* report.csv's total row: whole-file compression, consistent with the file on disk */
  size_t len;
  char *csv = (char *)read_all(out_path("full", "report.csv"), &len);
  char *row = strstr(csv, "\ntotal,");
  assert_non_null(row);
  double fields[12];
  char *p = row + 7;
  fields[0] = 0;
  for (int i = 1; i < 12; i++) {
    char *end;
    fields[i] = strtod(p, &end);
    if (end == p) fail_msg("report.csv total row: field %d unreadable: %.80s", i, row + 1);
    p = end + (*end == ',');
  }
  struct stat st;
  assert_int_equal(stat(out_path("full", "model.dcz"), &st), 0);
  double dense_bytes = fields[10], file_bytes = fields[11], rate = fields[9];
  assert_true(dense_bytes == (double)(sizeof(float) * (size_t)(total + (long)BIASES)));
  assert_true(file_bytes == (double)st.st_size);
  assert_true(file_bytes == (double)stats.file_bytes);
  assert_true(fabs(rate - dense_bytes / file_bytes) < 1e-3 * rate);
  assert_true(fields[1] == (double)total && fields[2] == (double)r[4].nonzero);
  print_message("  model.dcz: %.0f bytes, %.2fx smaller than fp32 (%.0f bytes)\n", file_bytes, rate, dense_bytes);
  /* measured 4.45x without the model section (the net text, some 500 bytes here, as
   * much as the weights of this 1,124-weight net): headers, 24 fp32 biases and the
   * 64-entry conv codebook weigh on it */
  assert_true(stats.model_bytes > 0 && stats.model_bytes < file_bytes);
  double weights_rate = dense_bytes / (file_bytes - (double)stats.model_bytes);
  if (weights_rate < 3.5) fail_msg("compression of the weights %.2fx below the 3.5x floor", weights_rate);
  free(csv);

  /* report.md names every stage and has the layer table with its total */
  char *md = (char *)read_all(out_path("full", "report.md"), &len);
  for (int i = 0; i < 5; i++) {
    char cell[40];
    snprintf(cell, sizeof cell, "| %s |", labels[i]);
    if (!strstr(md, cell)) fail_msg("report.md lacks the stage row '%s'", cell);
  }
  for (int l = 0; l < 3; l++) {
    char cell[40];
    snprintf(cell, sizeof cell, "| %s |", LAYERS[l]);
    if (!strstr(md, cell)) fail_msg("report.md lacks the layer row '%s'", cell);
  }
  assert_non_null(strstr(md, "| **total** |"));
  free(md);

  dc_dcz_stats_free(&stats);
  dc_net_free(d);
  dc_net_free(q);
}

/* ------------------------------------------------------------------ resume */

/* 40 train + 2 x 30 prune + 30 quantize iterations, then encode. */
static const char *const RESUME_STAGES =
    "[prune]\nrounds = 2\nretrain_iters = 30\nconv1 = 50%\nip1 = 25%\nip2 = 40%\n"
    "[quantize]\nconv_bits = 5\nfc_bits = 3\nretrain_iters = 30\n"
    "[encode]\n";

/* RESUME_STAGES pruning with splicing: masks chosen again every 4 iterations of a
 * round, in the last round until its iteration 15. */
static const char *const SPLICE_STAGES =
    "[prune]\nrounds = 2\nretrain_iters = 30\nbase_lr = 0.2\nsplice = 4\nconv1 = 50%\nip1 = 25%\nip2 = 40%\n"
    "[quantize]\nconv_bits = 5\nfc_bits = 3\nretrain_iters = 30\n"
    "[encode]\n";

/* Run `name` with `stages` stopped after `stop` iterations, check where the checkpoint says
 * it is, resume it, and compare everything with the uninterrupted run `ref`. */
static void stop_and_resume_of(const char *ref, const char *stages, const char *name, long stop, int want_stage,
                               long want_stage_iter) {
  char *cfg = experiment(name, 40, stages);
  run_ok(cfg, NULL, stop, NULL);
  assert_false(exists(out_path(name, "model.dcz")));
  assert_false(exists(out_path(name, "quantize.h5")));
  dc_ckpt_state st;
  dc_net *mid = net_from_h5(out_path(name, "ckpt.h5"), &st);
  assert_int_equal(st.iter, stop);
  assert_int_equal(st.stage, want_stage);
  assert_int_equal(st.stage_iter, want_stage_iter);
  dc_net_free(mid);

  char ckpt[700];
  snprintf(ckpt, sizeof ckpt, "%s", out_path(name, "ckpt.h5"));
  run_ok(cfg, ckpt, 0, NULL);
  free(cfg);

  const char *h5[] = {"prune2.h5", "quantize.h5"};
  for (int i = 0; i < 2; i++) {
    dc_net *a = net_from_h5(out_path(ref, h5[i]), NULL), *b = net_from_h5(out_path(name, h5[i]), NULL);
    char what[200];
    snprintf(what, sizeof what, "%s/%s", name, h5[i]);
    assert_same_params(a->params, b->params, 0, 1, what);
    dc_net_free(a);
    dc_net_free(b);
  }
  /* the final checkpoint: solver state and momentum as well */
  dc_ckpt_state sa, sb;
  dc_net *a = net_from_h5(out_path(ref, "ckpt.h5"), &sa), *b = net_from_h5(out_path(name, "ckpt.h5"), &sb);
  assert_int_equal(sa.iter, sb.iter);
  assert_int_equal(sa.iter, 130);
  assert_int_equal(sa.stage, sb.stage);
  assert_int_equal(sa.stage_iter, sb.stage_iter);
  assert_same_params(a->params, b->params, 1, 1, name);
  dc_net_free(a);
  dc_net_free(b);

  size_t na, nb;
  unsigned char *da = read_all(out_path(ref, "model.dcz"), &na), *db = read_all(out_path(name, "model.dcz"), &nb);
  assert_int_equal(na, nb);
  if (memcmp(da, db, na) != 0) fail_msg("%s: model.dcz differs from the uninterrupted run's", name);
  free(da);
  free(db);

  /* the resumed run's reports still list every stage */
  dc_stage_result r[16];
  int n;
  char dir[600];
  snprintf(dir, sizeof dir, "%s/%s", g_dir, name);
  assert_int_equal(dc_stage_results_load(dir, r, 16, &n), DC_OK);
  assert_int_equal(n, 5);
  assert_string_equal(r[0].label, "train");
  assert_string_equal(r[4].label, "encode");
}

static void stop_and_resume(const char *name, long stop, int want_stage, long want_stage_iter) {
  stop_and_resume_of("ref", RESUME_STAGES, name, stop, want_stage, want_stage_iter);
}

static void resume_matches_uninterrupted(void **state) {
  (void)state;
  char *cfg = experiment("ref", 40, RESUME_STAGES);
  run_ok(cfg, NULL, 0, NULL);
  free(cfg);
  /* stages: 0 train (40), 1 prune1 (30), 2 prune2 (30), 3 quantize (30), 4 encode */
  stop_and_resume("mid_prune", 40 + 30 + 12, 2, 12); /* inside prune round 2's retraining */
  stop_and_resume("mid_quant", 40 + 60 + 10, 3, 10); /* inside the quantize retraining */
  stop_and_resume("end_prune1", 40 + 30, 1, 30);     /* on the last iteration of prune round 1 */
  /* a checkpoint past the stages of the cfg it is resumed with is refused */
  cfg = experiment("fewer", 40, "");
  char ckpt[700];
  snprintf(ckpt, sizeof ckpt, "%s", out_path("ref", "ckpt.h5"));
  dc_status s = tu_run(cfg, ckpt, 0, NULL);
  if (s != DC_ERR_ARG || !strstr(dc_failure_reason(), "ckpt.h5: at stage 5 but"))
    fail_msg("expected a stage-count error, got %d: %s", s, dc_failure_reason());
  assert_non_null(strstr(dc_failure_reason(), "fewer.cfg has only 1 stages"));
  free(cfg);
}

/* Pruning with splicing: a round's masks are chosen again from the shadow weights, so a
 * weight pruned in round 1 can be kept at the end (fixed masks only ever shrink); every
 * round keeps exactly its density; the rounds before the last save their shadows, the
 * last ends MASKED; and a run stopped anywhere resumes bit for bit (shadows included). */
static void splice_regrows_and_resumes(void **state) {
  (void)state;
  char *cfg = experiment("sref", 40, SPLICE_STAGES);
  run_ok(cfg, NULL, 0, NULL);
  free(cfg);
  dc_net *r1 = net_from_h5(out_path("sref", "prune1.h5"), NULL), *r2 = net_from_h5(out_path("sref", "prune2.h5"), NULL);
  const double density[3] = {0.5, 0.25, 0.4};
  size_t back = 0;
  for (int l = 0; l < 3; l++) {
    dc_param *a = dc_net_find_layer(r1, LAYERS[l])->weight, *b = dc_net_find_layer(r2, LAYERS[l])->weight;
    assert_int_equal(a->kind, DC_PARAM_SPLICED);
    assert_int_equal(b->kind, DC_PARAM_MASKED);
    assert_int_equal(dc_param_nonzero(a), kept_after(COUNTS[l], density[l], 1, 2));
    assert_int_equal(dc_param_nonzero(b), kept_after(COUNTS[l], density[l], 2, 2));
    for (size_t j = 0; j < a->count; j++) {
      if (!a->mask[j]) assert_true(a->data[j] == 0.0f);
      back += b->mask[j] && !a->mask[j];
    }
  }
  if (back == 0) fail_msg("no weight pruned in round 1 came back in round 2");
  /* weights to start from or evaluate: the kept weights, MASKED, without shadows */
  dc_net *w1 = net_from_h5(out_path("sref", "train.h5"), NULL);
  assert_int_equal(dc_ckpt_load_weights(out_path("sref", "prune1.h5"), w1->params), DC_OK);
  for (int l = 0; l < 3; l++) {
    dc_param *a = dc_net_find_layer(r1, LAYERS[l])->weight, *b = dc_net_find_layer(w1, LAYERS[l])->weight;
    assert_int_equal(b->kind, DC_PARAM_MASKED);
    assert_null(b->shadow);
    assert_memory_equal(b->data, a->data, sizeof(float) * a->count);
    assert_memory_equal(b->mask, a->mask, a->count);
  }
  dc_net_free(w1);
  /* splicing quantized weights: refused in one line, not an abort */
  char text[1024];
  snprintf(text, sizeof text,
           "[experiment]\nnet = %s/toy.net\noutput = %s/squant\nweights = %s\nthreads = 1\n[data]\ndir = %s\n"
           "[solver]\nbase_lr = 0.01\nbatch = 16\nmax_iter = 0\n[prune]\nsplice = 4\nip1 = 10%%\n",
           g_dir, g_dir, out_path("sref", "quantize.h5"), g_dir);
  cfg = tu_write_file(g_dir, "squant.cfg", text);
  dc_status s = tu_run(cfg, NULL, 0, NULL);
  if (s != DC_ERR_ARG || !strstr(dc_failure_reason(), "squant.cfg: [prune] splice: layer ip1 holds quantized weights"))
    fail_msg("expected splicing of quantized weights refused, got %d: %s", s, dc_failure_reason());
  free(cfg);
  dc_net_free(r1);
  dc_net_free(r2);
  /* stages: 0 train (40), 1 prune1 (30), 2 prune2 (30; masks fixed from 15), 3 quantize (30), 4 encode */
  stop_and_resume_of("sref", SPLICE_STAGES, "s_mid1", 40 + 13, 1, 13);     /* between two choices */
  stop_and_resume_of("sref", SPLICE_STAGES, "s_end1", 40 + 30, 1, 30);     /* end of round 1 (shadows saved) */
  stop_and_resume_of("sref", SPLICE_STAGES, "s_mid2", 40 + 30 + 9, 2, 9); /* last round, still choosing */
  stop_and_resume_of("sref", SPLICE_STAGES, "s_late2", 40 + 30 + 22, 2, 22); /* last round, masks fixed */
}

/* ------------------------------------------------------------------ quality mode, freeze */

/* Population std of x[i] over the i with keep[i] (keep NULL: all). */
static double std_of(const float *x, const uint8_t *keep, size_t n) {
  double sum = 0, cnt = 0, var = 0;
  for (size_t i = 0; i < n; i++)
    if (!keep || keep[i]) sum += x[i], cnt++;
  double mean = sum / cnt;
  for (size_t i = 0; i < n; i++)
    if (!keep || keep[i]) var += (x[i] - mean) * (x[i] - mean);
  return sqrt(var / cnt);
}

/* Quality mode ramps q_r = q·r/R against the std of the weights still kept, each round
 * starting from the previous round's retrained weights; freeze = conv keeps conv1 fixed
 * while the fc layers retrain. */
static void quality_schedule_and_freeze(void **state) {
  (void)state;
  char *cfg = experiment(
      "qual", 100, "[prune]\nmode = quality\nrounds = 2\nretrain_iters = 20\nfreeze = conv\nip1 = 1.0\nip2 = 0.8\n");
  run_ok(cfg, NULL, 0, NULL);
  free(cfg);
  dc_net *t = net_from_h5(out_path("qual", "train.h5"), NULL), *p1 = net_from_h5(out_path("qual", "prune1.h5"), NULL),
         *p2 = net_from_h5(out_path("qual", "prune2.h5"), NULL);
  const char *names[2] = {"ip1/weight", "ip2/weight"};
  const double quality[2] = {1.0, 0.8};
  for (int l = 0; l < 2; l++) {
    dc_param *wt = dc_params_find(t->params, names[l]), *w1 = dc_params_find(p1->params, names[l]),
             *w2 = dc_params_find(p2->params, names[l]);
    size_t n = wt->count;
    assert_int_equal(wt->kind, DC_PARAM_DENSE);
    assert_int_equal(w1->kind, DC_PARAM_MASKED);
    assert_int_equal(w2->kind, DC_PARAM_MASKED);
    /* round 1: threshold q/2 · std of the trained weights */
    double thr1 = quality[l] * 0.5 * std_of(wt->data, NULL, n);
    size_t k1 = 0, k2 = 0;
    for (size_t i = 0; i < n; i++) {
      int want = fabs(wt->data[i]) >= thr1;
      if (w1->mask[i] != want)
        fail_msg("%s round 1: weight %zu (%g, threshold %g) mask %d", names[l], i, wt->data[i], thr1, w1->mask[i]);
      k1 += (size_t)want;
    }
    /* round 2: threshold q · std of round 1's retrained kept weights; nothing revived */
    double thr2 = quality[l] * std_of(w1->data, w1->mask, n);
    for (size_t i = 0; i < n; i++) {
      int want = w1->mask[i] && fabs(w1->data[i]) >= thr2;
      if (w2->mask[i] != want)
        fail_msg("%s round 2: weight %zu (%g, threshold %g) mask %d", names[l], i, w1->data[i], thr2, w2->mask[i]);
      k2 += (size_t)want;
    }
    print_message("  %s: quality %.1f keeps %zu then %zu of %zu\n", names[l], quality[l], k1, k2, n);
    assert_true(k1 < n && k2 < k1 && k2 > 0);
    /* the fc layers did retrain */
    int moved = 0;
    for (size_t i = 0; i < n; i++) moved += w1->mask[i] && w1->data[i] != wt->data[i];
    assert_true(moved > 0);
  }
  /* conv1: not listed, so DENSE, and frozen: bit-identical through both rounds */
  const char *conv[2] = {"conv1/weight", "conv1/bias"};
  for (int j = 0; j < 2; j++) {
    dc_param *a = dc_params_find(t->params, conv[j]), *b = dc_params_find(p2->params, conv[j]);
    assert_int_equal(b->kind, DC_PARAM_DENSE);
    if (memcmp(a->data, b->data, sizeof(float) * a->count) != 0) fail_msg("frozen %s changed", conv[j]);
  }
  dc_net_free(t);
  dc_net_free(p1);
  dc_net_free(p2);
}

/* ------------------------------------------------------------------ stage cfg errors */

/* The experiment with `stages` at line 22 must fail with a one-line DC_ERR_CFG message
 * containing `want` (and `want2` when not NULL). */
static void stage_error(const char *stages, const char *want, const char *want2) {
  char *cfg = experiment("bad", 10, stages);
  dc_status s = tu_run(cfg, NULL, 0, NULL);
  free(cfg);
  const char *why = dc_failure_reason();
  if (s != DC_ERR_CFG || !strstr(why, want) || (want2 && !strstr(why, want2)))
    fail_msg("stages:\n%s\nexpected DC_ERR_CFG with '%s'%s%s, got status %d: %s", stages, want, want2 ? " and " : "",
             want2 ? want2 : "", s, why);
  assert_null(strchr(why, '\n'));
}

/* Stages out of order: one line naming file:line of one of the two sections involved
 * (either is a fair place to point at) and the required order. */
static void order_error(const char *stages, const char *either, const char *or_this) {
  char *cfg = experiment("bad", 10, stages);
  dc_status s = tu_run(cfg, NULL, 0, NULL);
  free(cfg);
  const char *why = dc_failure_reason();
  if (s != DC_ERR_CFG || (!strstr(why, either) && !strstr(why, or_this)) || !strstr(why, "order"))
    fail_msg("stages:\n%s\nexpected DC_ERR_CFG with '%s' or '%s' and 'order', got status %d: %s", stages, either,
             or_this, s, why);
  assert_null(strchr(why, '\n'));
}

static void stage_cfg_errors(void **state) {
  (void)state;
  /* a key that is neither an option nor a layer: did you mean the layer */
  stage_error("[prune]\nrounds = 2\nip11 = 20%\n", "bad.cfg:24: [prune] ip11: neither an option nor a weighted layer",
              "(did you mean 'ip1'?)");
  /* ... or the option */
  stage_error("[prune]\nround = 2\nip1 = 20%\n", "bad.cfg:23: [prune] round:", "(did you mean 'rounds'?)");
  /* densities outside (0, 100%] */
  stage_error("[prune]\nip1 = 0%\n", "bad.cfg:23: [prune] ip1:", "density > 0");
  stage_error("[prune]\nip2 = 20%\nip1 = 150%\n", "bad.cfg:24: [prune] ip1: expected a fraction", "got '150%'");
  stage_error("[prune]\nip1 = -0.1\n", "bad.cfg:23: [prune] ip1: expected a fraction", NULL);
  stage_error("[prune]\nrounds = 0\nip1 = 20%\n", "bad.cfg:23: [prune] rounds:", NULL);
  /* quality mode takes numbers (multiples of the std), not densities; the mode is one word */
  stage_error("[prune]\nmode = quality\nip1 = 20%\n", "bad.cfg:24: [prune] ip1: expected a number", "got '20%'");
  stage_error("[prune]\nmode = quality 1.5\n", "bad.cfg:23: [prune] mode:", "quality");
  /* splicing chooses masks again to the densities: quality mode has none */
  stage_error("[prune]\nmode = quality\nsplice = 4\nip1 = 1.0\n", "bad.cfg:24: [prune] splice:", "mode = density");
  /* bits per layer 1..8 */
  stage_error("[quantize]\nip1 = 9\n", "bad.cfg:23: [quantize] ip1: expected an integer in [1, 8]", "got '9'");
  stage_error("[quantize]\nconv_bits = 0\n", "bad.cfg:23: [quantize] conv_bits:", NULL);
  stage_error("[quantize]\nfc_bit = 4\n", "bad.cfg:23: [quantize] fc_bit:", "(did you mean 'fc_bits'?)");
  stage_error("[quantize]\nip3 = 4\n", "bad.cfg:23: [quantize] ip3: neither an option nor a weighted layer", NULL);
  /* encoding needs quantized weights */
  stage_error("[prune]\nip1 = 20%\n[encode]\n", "bad.cfg:24: [encode]", "needs a [quantize] section");
  stage_error("[quantize]\n[encode]\nip1 = 5\n", "bad.cfg:24: [encode] unknown key 'ip1'", NULL);
  /* a stage section twice */
  stage_error("[prune]\nip1 = 20%\n[prune]\nip2 = 20%\n", "bad.cfg:24: [prune]", "twice");
  /* stages out of order: the header line of either section of the misplaced pair */
  order_error("[quantize]\nfc_bits = 4\n[prune]\nip1 = 20%\n", "bad.cfg:22: [quantize]", "bad.cfg:24: [prune]");
  order_error("[prune]\nip1 = 20%\n[encode]\n[quantize]\n", "bad.cfg:24: [encode]", "bad.cfg:25: [quantize]");
}

/* ------------------------------------------------------------------ dropout rescaling */

/* The "  NAME: dropout ratio R (was D)" lines of a run's output, in order. */
static int dropout_lines(const char *text, double *ratio, double *was, int max) {
  int n = 0;
  for (const char *p = strstr(text, ": dropout ratio "); p && n < max; p = strstr(p + 1, ": dropout ratio ")) {
    if (sscanf(p, ": dropout ratio %lf (was %lf)", &ratio[n], &was[n]) != 2) fail_msg("unreadable: %.60s", p);
    n++;
  }
  return n;
}

static void dropout_rescaled_after_pruning(void **state) {
  (void)state;
  char *cfg = experiment("drop", 20, "[prune]\nrounds = 2\nretrain_iters = 5\nip1 = 40%\nip2 = 30%\n");
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  assert_non_null(out);
  run_ok(cfg, NULL, 0, out);
  fclose(out);
  free(cfg);
  double ratio[8], was[8];
  int n = dropout_lines(text, ratio, was, 8);
  if (n != 2) fail_msg("expected a dropout line per prune round, got %d in:\n%s", n, text);
  /* D_o = 0.2 (TU_TOY_NET); the dropout thins ip2's input: C = ip2's weights */
  const char *h5[2] = {"prune1.h5", "prune2.h5"};
  for (int r = 0; r < 2; r++) {
    dc_net *net = net_from_h5(out_path("drop", h5[r]), NULL);
    dc_param *w = dc_params_find(net->params, "ip2/weight");
    size_t kept = dc_param_nonzero(w);
    assert_int_equal(kept, kept_after(w->count, 0.3, r + 1, 2));
    double want = 0.2 * sqrt((double)kept / (double)w->count);
    print_message("  round %d: ip2 keeps %zu/%zu, dropout ratio %.3f (want %.4f)\n", r + 1, kept, w->count, ratio[r],
                  want);
    assert_true(fabs(was[r] - 0.2) < 1e-9);
    if (fabs(ratio[r] - want) > 0.0005 + 1e-9) fail_msg("round %d: ratio %.3f, want %.4f", r + 1, ratio[r], want);
    dc_net_free(net);
  }
  free(text);

  /* adjust_dropout = false leaves the ratio alone */
  cfg = experiment("drop_off", 20,
                   "[prune]\nrounds = 2\nretrain_iters = 5\nadjust_dropout = false\nip1 = 40%\nip2 = 30%\n");
  text = NULL;
  out = open_memstream(&text, &len);
  run_ok(cfg, NULL, 0, out);
  fclose(out);
  free(cfg);
  assert_int_equal(dropout_lines(text, ratio, was, 8), 0);
  free(text);
}

/* The last pruning round retrains final_retrain_iters, the others retrain_iters: read
 * the iterations each stage reached from the log (display = 0, so only test lines; each
 * stage ends with one at its last iteration). */
static void final_round_retrains_longer(void **state) {
  (void)state;
  char *cfg = experiment("final", 20, "[prune]\nrounds = 3\nretrain_iters = 7\nfinal_retrain_iters = 13\nip1 = 30%\n");
  run_ok(cfg, NULL, 0, NULL);
  char path[600], line[256];
  snprintf(path, sizeof path, "%s/final/log.csv", g_dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  long last[4] = {-1, -1, -1, -1};
  while (fgets(line, sizeof line, f)) {
    char stage[32];
    long it;
    if (sscanf(line, "%31[^,],%ld,", stage, &it) != 2 || !strstr(line, ",test,")) continue;
    if (!strcmp(stage, "train"))
      last[0] = it;
    else if (!strncmp(stage, "prune", 5))
      last[atoi(stage + 5)] = it;
  }
  fclose(f);
  assert_int_equal(last[0], 20);
  assert_int_equal(last[1], 7);
  assert_int_equal(last[2], 7);
  assert_int_equal(last[3], 13);
  free(cfg);
}

/* A stage's lr_policy replaces [solver]'s for its retraining, counted from the stage's
 * iteration 0 (poly: down to 0 over the stage); without one the stage keeps [solver]'s. */
static void stage_lr_policy(void **state) {
  (void)state;
  char text[1024];
  snprintf(text, sizeof text,
           "[experiment]\nnet = %s/toy.net\noutput = %s/spol\nseed = 7\nthreads = 1\n[data]\ndir = %s\n"
           "[solver]\nbase_lr = 0.05\nmomentum = 0.9\nlr_policy = inv\ngamma = 0.1\npower = 0.75\nbatch = 16\n"
           "max_iter = 4\ntest_interval = 0\ndisplay = 1\n"
           "[prune]\nretrain_iters = 10\nbase_lr = 0.01\nip1 = 50%%\n"
           "[quantize]\nlr_policy = poly\nretrain_iters = 10\nbase_lr = 0.002\n",
           g_dir, g_dir, g_dir);
  char *cfg = tu_write_file(g_dir, "spol.cfg", text);
  run_ok(cfg, NULL, 0, NULL);
  free(cfg);
  char path[600], line[256];
  snprintf(path, sizeof path, "%s/spol/log.csv", g_dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  int seen[2] = {0, 0};
  while (fgets(line, sizeof line, f)) {
    char stage[32];
    long it, global;
    double loss, lr;
    if (sscanf(line, "%31[^,],%ld,%ld,train,%lf,%lf", stage, &it, &global, &loss, &lr) != 5) continue;
    double want;
    if (!strcmp(stage, "prune1"))
      want = 0.01 * pow(1.0 + 0.1 * (double)(it - 1), -0.75), seen[0]++;
    else if (!strcmp(stage, "quantize"))
      want = 0.002 * pow(1.0 - (double)(it - 1) / 10.0, 0.75), seen[1]++;
    else
      continue;
    if (fabs(lr - want) > 1e-6 * want) fail_msg("%s iteration %ld: lr %.8g, want %.8g", stage, it, lr, want);
  }
  fclose(f);
  assert_int_equal(seen[0], 10);
  assert_int_equal(seen[1], 10);
  /* multistep's step values count [solver] iterations; step needs [solver] stepsize */
  stage_error("[quantize]\nlr_policy = multistep\n", "bad.cfg:23: [quantize] lr_policy:", "use step, poly");
  stage_error("[prune]\nlr_policy = step\nip1 = 20%\n", "bad.cfg:23: [prune] lr_policy:", "stepsize");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(full_pipeline),
      cmocka_unit_test(resume_matches_uninterrupted),
      cmocka_unit_test(splice_regrows_and_resumes),
      cmocka_unit_test(quality_schedule_and_freeze),
      cmocka_unit_test(stage_cfg_errors),
      cmocka_unit_test(dropout_rescaled_after_pruning),
      cmocka_unit_test(final_round_retrains_longer),
      cmocka_unit_test(stage_lr_policy),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

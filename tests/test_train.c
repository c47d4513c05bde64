/* test_train.c — the training loop end to end on a toy MNIST-format data set: learning,
 * checkpoints of every parameter kind, bit-identical resume, and the errors a user can
 * make in an experiment file. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "dc/cfg.h"
#include "dc/ckpt.h"
#include "dc/experiment.h"
#include "dc/h5.h"
#include "dc/train.h"
#include "util.h"
#include "util_fs.h"
#include "util_net.h"

static char *g_dir; /* toy data + net */

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

/* An experiment file for the toy set; extra text is appended to [solver]. */
static char *toy_experiment(const char *name, const char *out, int max_iter, const char *extra) {
  char text[2048];
  snprintf(text, sizeof text,
           "[experiment]\nname = toy\nnet = %s/toy.net\noutput = %s/%s\nseed = 7\nthreads = 1\n"
           "[data]\nkind = mnist\ndir = %s\n"
           "[solver]\nbase_lr = 0.05\nmomentum = 0.9\nweight_decay = 0.0005\nlr_policy = inv\ngamma = 0.0001\n"
           "power = 0.75\nbatch = 16\ntest_batch = 64\nmax_iter = %d\ntest_interval = 0\ndisplay = 0\n"
           "snapshot = 0\n%s",
           g_dir, g_dir, out, g_dir, max_iter, extra ? extra : "");
  return tu_write_file(g_dir, name, text);
}

static float *read_param(const char *file, const char *path, size_t n) {
  dc_h5 *f;
  assert_int_equal(dc_h5_open(file, &f), DC_OK);
  int nd;
  int64_t dims[8];
  assert_int_equal(dc_h5_shape(f, path, &nd, dims), DC_OK);
  size_t count = 1;
  for (int i = 0; i < nd; i++) count *= (size_t)dims[i];
  assert_int_equal(count, n);
  float *v = malloc(sizeof(float) * n);
  assert_int_equal(dc_h5_read(f, path, DC_H5_F32, nd, dims, v), DC_OK);
  dc_h5_close(f);
  return v;
}

static void learns_toy(void **state) {
  (void)state;
  char *cfg = toy_experiment("learn.cfg", "learn", 300, NULL);
  assert_int_equal(tu_run(cfg, NULL, 0, NULL), DC_OK);
  /* the run wrote its log, checkpoint and dense weights */
  char path[600];
  struct stat st;
  snprintf(path, sizeof path, "%s/learn/log.csv", g_dir);
  assert_int_equal(stat(path, &st), 0);
  snprintf(path, sizeof path, "%s/learn/ckpt.h5", g_dir);
  assert_int_equal(stat(path, &st), 0);
  snprintf(path, sizeof path, "%s/learn/train.h5", g_dir);
  assert_int_equal(stat(path, &st), 0);
  /* last test line of the log: top-1 well above chance (25%) */
  snprintf(path, sizeof path, "%s/learn/log.csv", g_dir);
  FILE *f = fopen(path, "r");
  char line[256], last[256] = "";
  while (fgets(line, sizeof line, f))
    if (strstr(line, ",test,")) snprintf(last, sizeof last, "%s", line);
  fclose(f);
  double loss, top1, top5;
  char *p = strstr(last, ",test,");
  assert_non_null(p);
  assert_int_equal(sscanf(p, ",test,%lf,,%lf,%lf", &loss, &top1, &top5), 3);
  print_message("  toy top-1 after 300 iterations: %.3f\n", top1);
  assert_true(top1 > 0.9);
  free(cfg);
}

static void resume_is_bit_identical(void **state) {
  (void)state;
  char *cfg_a = toy_experiment("a.cfg", "a", 60, NULL);
  char *cfg_b = toy_experiment("b.cfg", "b", 60, NULL);
  assert_int_equal(tu_run(cfg_a, NULL, 0, NULL), DC_OK);
  assert_int_equal(tu_run(cfg_b, NULL, 25, NULL), DC_OK); /* "killed" after 25 iterations */
  char ckpt[600], a[600], b[600];
  snprintf(ckpt, sizeof ckpt, "%s/b/ckpt.h5", g_dir);
  snprintf(b, sizeof b, "%s/b/train.h5", g_dir);
  assert_int_not_equal(access(b, F_OK), 0); /* not finished yet */
  assert_int_equal(tu_run(cfg_b, ckpt, 0, NULL), DC_OK);
  snprintf(a, sizeof a, "%s/a/train.h5", g_dir);
  const char *names[] = {"/params/conv1/weight", "/params/conv1/bias", "/params/ip1/weight",
                         "/params/ip1/bias",     "/params/ip2/weight", "/params/ip2/bias"};
  const size_t counts[] = {36, 4, 16 * 64, 16, 64, 4};
  for (int i = 0; i < 6; i++) {
    float *va = read_param(a, names[i], counts[i]), *vb = read_param(b, names[i], counts[i]);
    assert_memory_equal(va, vb, sizeof(float) * counts[i]);
    free(va);
    free(vb);
  }
  free(cfg_a);
  free(cfg_b);
}

/* The (stage, iteration, phase) columns of a log, one string per line after the header. */
static int log_keys(const char *path, char keys[][64], int max) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[512];
  int n = 0;
  assert_non_null(fgets(line, sizeof line, f)); /* header */
  while (n < max && fgets(line, sizeof line, f)) {
    char *c = line;
    for (int commas = 0; *c && commas < 4; c++) commas += *c == ',';
    snprintf(keys[n++], 64, "%.*s", (int)(c - line), line);
  }
  fclose(f);
  return n;
}

/* A run killed after its last checkpoint had logged iterations past it: after resuming,
 * log.csv reads as if the run had never stopped. */
static void resume_trims_the_log(void **state) {
  (void)state;
  char text[2048], path[600];
  const char *names[2] = {"la", "lb"};
  for (int k = 0; k < 2; k++) {
    snprintf(text, sizeof text,
             "[experiment]\nnet = %s/toy.net\noutput = %s/%s\nseed = 7\nthreads = 1\n[data]\ndir = %s\n"
             "[solver]\nbase_lr = 0.05\nbatch = 16\ntest_batch = 64\nmax_iter = 40\ntest_interval = 10\n"
             "display = 5\nsnapshot = 0\n",
             g_dir, g_dir, names[k], g_dir);
    snprintf(path, sizeof path, "%s.cfg", names[k]);
    free(tu_write_file(g_dir, path, text));
  }
  char cfg_a[600], cfg_b[600], ckpt[600], log_a[600], log_b[600];
  snprintf(cfg_a, sizeof cfg_a, "%s/la.cfg", g_dir);
  snprintf(cfg_b, sizeof cfg_b, "%s/lb.cfg", g_dir);
  snprintf(ckpt, sizeof ckpt, "%s/lb/ckpt.h5", g_dir);
  snprintf(log_a, sizeof log_a, "%s/la/log.csv", g_dir);
  snprintf(log_b, sizeof log_b, "%s/lb/log.csv", g_dir);
  assert_int_equal(tu_run(cfg_a, NULL, 0, NULL), DC_OK);
  assert_int_equal(tu_run(cfg_b, NULL, 20, NULL), DC_OK);
  /* what a kill after iteration 25 would leave behind */
  FILE *f = fopen(log_b, "a");
  fputs("train,25,25,train,0.5,0.05,,,1000.0\n", f);
  fclose(f);
  assert_int_equal(tu_run(cfg_b, ckpt, 0, NULL), DC_OK);
  static char ka[64][64], kb[64][64];
  int na = log_keys(log_a, ka, 64), nb = log_keys(log_b, kb, 64);
  assert_int_equal(na, nb);
  for (int i = 0; i < na; i++) assert_string_equal(ka[i], kb[i]);
  assert_true(na >= 12); /* 8 progress lines, 4 tests */
}

static void checkpoint_round_trip_all_kinds(void **state) {
  (void)state;
  dc_net *net = tu_net(TU_TOY_NET, 4, DC_NET_TRAIN);
  dc_net_init_params(net, 3);
  dc_params *ps = net->params;
  dc_param *w1 = dc_params_find(ps, "ip1/weight"), *w2 = dc_params_find(ps, "ip2/weight");
  assert_non_null(w1);
  uint8_t keep[1024];
  for (size_t i = 0; i < w1->count; i++) keep[i] = i % 3 != 0;
  assert_int_equal(dc_param_set_mask(w1, keep), DC_OK);
  float codebook[4] = {-0.3f, -0.1f, 0.1f, 0.3f};
  uint8_t index[64];
  for (size_t i = 0; i < w2->count; i++) index[i] = (uint8_t)(i % 4);
  assert_int_equal(dc_param_set_shared(w2, 2, codebook, index), DC_OK);
  for (size_t i = 0; i < ps->total; i++) ps->arena_history[i] = (float)i * 1e-3f;
  w2->codebook_history[1] = 0.5f;
  char path[600];
  snprintf(path, sizeof path, "%s/kinds.h5", g_dir);
  dc_ckpt_state st = {.iter = 42, .seed = 7, .stage = 2, .stage_iter = 5};
  assert_int_equal(dc_ckpt_save(path, ps, &st), DC_OK);

  dc_net *net2 = tu_net(TU_TOY_NET, 4, DC_NET_TRAIN);
  dc_ckpt_state st2;
  assert_int_equal(dc_ckpt_load(path, net2->params, &st2), DC_OK);
  assert_int_equal(st2.iter, 42);
  assert_int_equal(st2.stage, 2);
  assert_int_equal(st2.stage_iter, 5);
  dc_params *q = net2->params;
  assert_memory_equal(q->arena_data, ps->arena_data, sizeof(float) * ps->total);
  dc_param *v1 = dc_params_find(q, "ip1/weight"), *v2 = dc_params_find(q, "ip2/weight");
  assert_int_equal(v1->kind, DC_PARAM_MASKED);
  assert_memory_equal(v1->mask, w1->mask, w1->count);
  assert_memory_equal(v1->history, w1->history, sizeof(float) * w1->count);
  assert_int_equal(v2->kind, DC_PARAM_SHARED);
  assert_int_equal(v2->k, 4);
  assert_memory_equal(v2->codebook, codebook, sizeof codebook);
  assert_memory_equal(v2->index, w2->index, w2->count);
  assert_true(v2->codebook_history[1] == 0.5f);
  dc_net_free(net2);

  /* a weights-only file cannot be resumed from */
  snprintf(path, sizeof path, "%s/weights.h5", g_dir);
  assert_int_equal(dc_ckpt_save(path, ps, NULL), DC_OK);
  net2 = tu_net(TU_TOY_NET, 4, DC_NET_TRAIN);
  dc_failure_clear();
  assert_int_equal(dc_ckpt_load(path, net2->params, &st2), DC_ERR_FORMAT);
  assert_non_null(strstr(dc_failure_reason(), "no solver state"));
  /* but loads as weights */
  assert_int_equal(dc_ckpt_load(path, net2->params, NULL), DC_OK);
  dc_net_free(net2);

  /* a checkpoint of another net is refused, naming the dataset */
  dc_net *other = tu_net("[input]\nchannels = 1\nheight = 8\nwidth = 8\n[fc]\nname = ip1\nnum_output = 3\n[softmax_loss]\n", 2,
                         DC_NET_TRAIN);
  dc_failure_clear();
  assert_int_equal(dc_ckpt_load(path, other->params, NULL), DC_ERR_FORMAT);
  assert_non_null(strstr(dc_failure_reason(), "/params/ip1/weight"));
  dc_net_free(other);
  dc_net_free(net);
}

/* The format string a checkpoint holds is the file's text: quoted in one printable line,
 * cut when long (fuzz_h5 found one with a newline in it). */
static void checkpoint_format_quoted_in_one_line(void **state) {
  (void)state;
  const char *formats[][2] = {
      {"v\n2\001\303\274", "'v?2?\?\?'"},
      {"0123456789012345678901234567890123456789012345678901234567890123456789",
       "'012345678901234567890123456789012345678901234567890123456789...'"},
  };
  dc_net *net = tu_net(TU_TOY_NET, 4, DC_NET_TRAIN);
  char path[600], want[900];
  snprintf(path, sizeof path, "%s/format.h5", g_dir);
  for (int i = 0; i < 2; i++) {
    dc_h5 *f;
    assert_int_equal(dc_h5_create(path, &f), DC_OK);
    assert_int_equal(dc_h5_write_str(f, "/meta/format", formats[i][0]), DC_OK);
    assert_int_equal(dc_h5_commit(f), DC_OK);
    dc_failure_clear();
    assert_int_equal(dc_ckpt_load(path, net->params, NULL), DC_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: unsupported checkpoint format %s (expected '%s')", path, formats[i][1],
             DC_CKPT_FORMAT);
    assert_string_equal(dc_failure_reason(), want);
  }
  dc_net_free(net);
}

/* Two runs on one output directory would interleave their writes: the second is refused
 * while the first holds the directory's lock, and may start once it is gone. */
static void one_run_per_output_directory(void **state) {
  (void)state;
  char *cfg = toy_experiment("lock.cfg", "locked", 5, NULL);
  char dir[600], lock[700];
  snprintf(dir, sizeof dir, "%s/locked", g_dir);
  snprintf(lock, sizeof lock, "%s/.lock", dir);
  assert_int_equal(dc_make_dirs(dir), DC_OK);
  int fd = open(lock, O_RDWR | O_CREAT, 0644); /* as another run holds it */
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
  assert_int_equal(pwrite(fd, "4242\n", 5, 0), 5);
  dc_status s = tu_run(cfg, NULL, 0, NULL);
  if (s != DC_ERR_IO || !strstr(dc_failure_reason(), "another dctrain run (pid 4242) is writing to this output directory"))
    fail_msg("expected the lock refusal, got %d: %s", s, dc_failure_reason());
  close(fd);
  if (tu_run(cfg, NULL, 0, NULL) != DC_OK) fail_msg("%s", dc_failure_reason());
  free(cfg);
}

static long file_bytes(const char *path, char *buf, long cap) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  long n = (long)fread(buf, 1, (size_t)cap, f);
  fclose(f);
  return n;
}

/* The disk fills up between two checkpoints: the run stops with one line naming the
 * checkpoint, the reason and the dataset, and the previous checkpoint is intact. */
static void full_disk_keeps_the_checkpoint(void **state) {
  (void)state;
  char why[200], link[600], ckpt[700];
  char *fs = tu_small_fs(4 << 20, why, sizeof why);
  if (!fs) {
    fprintf(stderr, "skipped: %s\n", why);
    skip();
  }
  snprintf(link, sizeof link, "%s/full", g_dir);
  assert_int_equal(symlink(fs, link), 0);
  char *cfg = toy_experiment("full.cfg", "full/run", 40, "");
  /* snapshot every 10 iterations */
  static char text[4096];
  long tl = file_bytes(cfg, text, sizeof text - 1);
  text[tl] = '\0';
  char *sn = strstr(text, "snapshot = 0");
  assert_non_null(sn);
  memmove(sn + 11, sn + 10, strlen(sn + 10) + 1);
  memcpy(sn, "snapshot = 10", 13);
  FILE *f = fopen(cfg, "w");
  fputs(text, f);
  fclose(f);
  snprintf(ckpt, sizeof ckpt, "%s/run/ckpt.h5", fs);
  assert_int_equal(tu_run(cfg, NULL, 10, NULL), DC_OK);
  static char before[1 << 20], after[1 << 20];
  long n = file_bytes(ckpt, before, sizeof before);
  assert_true(n > 4096 && n < (long)sizeof before);
  struct statvfs sv;
  assert_int_equal(statvfs(fs, &sv), 0);
  size_t used = (size_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
  assert_int_equal(tu_small_fs_resize(fs, used + (size_t)n / 2), 0); /* room for half a checkpoint */
  dc_status s = tu_run(cfg, ckpt, 0, NULL);
  const char *r = dc_failure_reason();
  if (s != DC_ERR_IO || !strstr(r, "ckpt.h5: no space left on device while writing /") ||
      !strstr(r, "(the previous ckpt.h5 is intact)") || strchr(r, '\n'))
    fail_msg("expected one line about the full disk, got %d: %s", s, r);
  assert_int_equal(file_bytes(ckpt, after, sizeof after), n);
  assert_memory_equal(before, after, (size_t)n);
  unlink(link);
  tu_small_fs_release(fs);
  free(cfg);
}

/* The reported test loss of the toy test set (200 images) in batches of test_batch, by
 * the net with softmax_loss loss_weight w, parameters from seed 5. */
static double test_loss(int test_batch, double w) {
  char text[1024];
  snprintf(text, sizeof text, "%.*s[softmax_loss]\nloss_weight = %g\n",
           (int)(strstr(TU_TOY_NET, "[softmax_loss]") - TU_TOY_NET), TU_TOY_NET, w);
  dc_trainer t;
  memset(&t, 0, sizeof t);
  t.test_net = tu_net(text, test_batch, DC_NET_REUSE);
  dc_net_init_params(t.test_net, 5);
  assert_int_equal(dc_mnist_open(g_dir, 0, 1.0f / 255, &t.test_set), DC_OK);
  assert_int_equal(dc_dataset_count(t.test_set), 200);
  t.test_batch = test_batch;
  t.seed = 1;
  t.labels = calloc((size_t)test_batch, sizeof(int));
  dc_test_result r;
  if (dc_test(&t, &r) != DC_OK) fail_msg("%s", dc_failure_reason());
  assert_int_equal(r.samples, 200);
  free(t.labels);
  dc_dataset_free(t.test_set);
  dc_net_free(t.test_net);
  return r.loss;
}

/* A short last test batch (200 = 3 x 64 + 8) is padded; its loss must count the 8 real
 * samples with the layer's loss_weight, like every full batch: the same mean loss as in
 * batches of 8 (no padding), and loss_weight times that of weight 1. */
static void test_loss_of_a_short_batch(void **state) {
  (void)state;
  double full = test_loss(8, 3.0), padded = test_loss(64, 3.0), unweighted = test_loss(64, 1.0);
  assert_true(full > 0.1);
  if (fabs(padded - full) > 1e-5 * full || fabs(padded - 3.0 * unweighted) > 1e-5 * padded)
    fail_msg("test loss %.7f in batches of 64, %.7f in batches of 8, 3 x %.7f with loss_weight 1", padded, full,
             unweighted);
}

/* A run that diverges stops at the iteration where the loss went bad, naming the first
 * layer whose output holds NaN or Inf, with the last checkpoint intact (and finite). */
static void divergence_names_the_layer(void **state) {
  (void)state;
  char *cfg = toy_experiment("div.cfg", "div", 200, NULL);
  static char text[4096];
  long tl = file_bytes(cfg, text, sizeof text - 1);
  text[tl] = '\0';
  char *lr = strstr(text, "base_lr = 0.05"), *sn = strstr(text, "snapshot = 0");
  assert_non_null(lr);
  assert_non_null(sn);
  memcpy(sn, "snapshot = 1", 12); /* a checkpoint after every iteration */
  memmove(lr + 12, lr + 14, strlen(lr + 14) + 1);
  memcpy(lr, "base_lr = 50", 12);
  FILE *f = fopen(cfg, "w");
  fputs(text, f);
  fclose(f);
  dc_status s = tu_run(cfg, NULL, 0, NULL);
  const char *r = dc_failure_reason();
  if (s != DC_ERR_NUMERIC || !strstr(r, "[train] iteration ") || !strstr(r, "the first layer with ") ||
      !strstr(r, "in its output is '") || !strstr(r, "/div/ckpt.h5 is intact") || strchr(r, '\n'))
    fail_msg("got %d: %s", s, r);
  print_message("  %s\n", r);
  long at = atol(strstr(r, "iteration ") + 10);
  char ckpt[700];
  snprintf(ckpt, sizeof ckpt, "%s/div/ckpt.h5", g_dir);
  dc_net *net = tu_net(TU_TOY_NET, 16, DC_NET_TRAIN);
  dc_ckpt_state st;
  assert_int_equal(dc_ckpt_load(ckpt, net->params, &st), DC_OK);
  assert_int_equal(st.iter, at - 1); /* the one before the bad iteration */
  for (size_t i = 0; i < net->params->total; i++) assert_true(isfinite(net->params->arena_data[i]));
  dc_net_free(net);
  free(cfg);
}

/* Injected: ip1's weights hold a NaN (from [experiment] weights): the run stops at its
 * first iteration naming ip1 and saying its weights hold it. */
static void nan_weight_names_the_layer(void **state) {
  (void)state;
  dc_net *net = tu_net(TU_TOY_NET, 4, DC_NET_TRAIN);
  dc_net_init_params(net, 3);
  dc_param *w = dc_params_find(net->params, "ip1/weight");
  w->data[5] = NAN;
  char path[600];
  snprintf(path, sizeof path, "%s/nan.h5", g_dir);
  assert_int_equal(dc_ckpt_save(path, net->params, NULL), DC_OK);
  dc_net_free(net);
  char *cfg = toy_experiment("nan.cfg", "nan", 5, NULL);
  static char text[4096];
  long tl = file_bytes(cfg, text, sizeof text - 1);
  text[tl] = '\0';
  char *seed = strstr(text, "seed = 7\n");
  assert_non_null(seed);
  char rest[4096];
  snprintf(rest, sizeof rest, "%s", seed);
  snprintf(seed, sizeof text - (size_t)(seed - text), "weights = %s\n%s", path, rest);
  FILE *f = fopen(cfg, "w");
  fputs(text, f);
  fclose(f);
  dc_status s = tu_run(cfg, NULL, 0, NULL);
  const char *r = dc_failure_reason();
  if (s != DC_ERR_NUMERIC ||
      !strstr(r, "[train] iteration 1: loss is NaN: the first layer with NaN in its output is 'ip1' (") ||
      !strstr(r, "/toy.net:13), ") ||
      !strstr(r, "whose weights already hold NaN or Inf") || !strstr(r, "no checkpoint was written yet"))
    fail_msg("got %d: %s", s, r);
  free(cfg);
}

static void experiment_errors(void **state) {
  (void)state;
  char text[2048], net[600];
  snprintf(net, sizeof net, "net = %s/toy.net\noutput = %s/err\n", g_dir, g_dir);
  snprintf(text, sizeof text, "[experiment]\n%s[data]\ndir = %s\n[solver]\nbase_lr = 0.01\nbase_lrr = 1\n", net, g_dir);
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "bad.cfg:8: [solver] unknown key 'base_lrr' (did you mean 'base_lr'?)");
  snprintf(text, sizeof text, "[experiment]\n%s[dat]\n[solver]\nbase_lr = 0.01\n", net);
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "bad.cfg:4: [dat] unknown section (did you mean [data]?)");
  snprintf(text, sizeof text, "[experiment]\n%s[solver]\nbase_lr = 0.01\nlr_policy = stepp\n", net);
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "lr_policy");
  snprintf(text, sizeof text, "[experiment]\n%s[solver]\nbase_lr = 0.01\nlr_policy = step\n", net);
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "stepsize");
  snprintf(text, sizeof text, "[experiment]\nnet = %s/missing.net\n[solver]\nbase_lr = 0.01\n", g_dir);
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "bad.cfg:2: [experiment] net: cannot open '");
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "missing.net': No such file or directory");
  snprintf(text, sizeof text, "[experiment]\nnet = missing.net\n[solver]\nbase_lr = 0.01\n");
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "relative paths start from the current directory");
  snprintf(text, sizeof text, "[experiment]\n%sweights = %s/none.h5\n[solver]\nbase_lr = 0.01\n", net, g_dir);
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "bad.cfg:4: [experiment] weights: cannot open '");
  snprintf(text, sizeof text, "[experiment]\n%s[data]\ndir = %s/nowhere\n[solver]\nbase_lr = 0.01\n", net, g_dir);
  tu_expect_run_error(g_dir, text, DC_ERR_IO, "nowhere");
  snprintf(text, sizeof text, "[solver]\nbase_lr = 0.01\n");
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "missing section [experiment]");
  snprintf(text, sizeof text, "[experiment]\n%s[data]\ndir = %s\n[solver]\nbase_lr = 0.01\nbatch = 0\n", net, g_dir);
  tu_expect_run_error(g_dir, text, DC_ERR_CFG, "bad.cfg:8: [solver] batch");
  /* diverging training: a NaN/Inf loss stops the run with a clear message */
  snprintf(text, sizeof text,
           "[experiment]\n%s[data]\ndir = %s\n[solver]\nbase_lr = 100000\nmax_iter = 200\ndisplay = 0\n"
           "test_interval = 0\nsnapshot = 0\n",
           net, g_dir);
  tu_expect_run_error(g_dir, text, DC_ERR_NUMERIC, "diverged");
}

static void net_errors(void **state) {
  (void)state;
  struct {
    const char *text, *want;
  } cases[] = {
      {"[input]\nchannels = 1\nheight = 8\nwidth = 8\n[convv]\nname = c\n[softmax_loss]\n",
       "test.net:5: [convv] unknown layer type (did you mean [conv]?)"},
      {"[input]\nchannels = 1\nheight = 8\nwidth = 8\n[fc]\nname = f\nnum_output = 3\n",
       "must end in a [softmax_loss]"},
      {"[input]\nchannels = 1\nheight = 8\nwidth = 8\n[conv]\nname = c\nnum_output = 2\nkernel = 9\n[softmax_loss]\n",
       "test.net:5: [conv] c: kernel 9 does not fit the 8x8 input"},
      {"[input]\nchannels = 3\nheight = 8\nwidth = 8\n[conv]\nname = c\nnum_output = 4\nkernel = 3\ngroup = 2\n[softmax_loss]\n",
       "not divisible by group"},
      {"[input]\nchannels = 1\nheight = 8\nwidth = 8\n[fc]\nnum_output = 3\n[softmax_loss]\n",
       "missing required key 'name'"},
      {"[input]\nchannels = 1\nheight = 8\nwidth = 8\n[fc]\nname = a\nnum_output = 3\n[fc]\nname = a\nnum_output = 3\n[softmax_loss]\n",
       "already the name"},
      {"[fc]\nname = a\nnum_output = 3\n[softmax_loss]\n", "starts with an [input]"},
      {"[input]\nchannels = 1\nheight = 8\nwidth = 8\n[fc]\nname = a\nnum_ouput = 3\n[softmax_loss]\n",
       "missing required key 'num_output'"},
      {"[input]\nchannels = 1\nheight = 8\nwidth = 8\n[relu]\nslope = 1\n[softmax_loss]\n", "unknown key 'slope'"},
      {"[input]\nchannels = 1\nheight = 8\nwidth = 8\n[dropout]\nratio = 1.5\n[softmax_loss]\n", "ratio"},
      {"[input]\nchannels = 1\nheight = 8\nwidth = 8\n[softmax_loss]\n[relu]\n", "must be the last layer"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dc_cfg *cfg;
    dc_net *net;
    dc_failure_clear();
    assert_int_equal(dc_cfg_parse(cases[i].text, "test.net", &cfg), DC_OK);
    dc_status s = dc_net_create(cfg, 2, DC_NET_TRAIN, NULL, &net);
    dc_cfg_free(cfg);
    if (s == DC_OK || !strstr(dc_failure_reason(), cases[i].want))
      fail_msg("case %zu: expected '%s', got status %d: %s", i, cases[i].want, s, dc_failure_reason());
    assert_null(net);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(learns_toy),
      cmocka_unit_test(resume_is_bit_identical),
      cmocka_unit_test(resume_trims_the_log),
      cmocka_unit_test(checkpoint_round_trip_all_kinds),
      cmocka_unit_test(checkpoint_format_quoted_in_one_line),
      cmocka_unit_test(one_run_per_output_directory),
      cmocka_unit_test(full_disk_keeps_the_checkpoint),
      cmocka_unit_test(test_loss_of_a_short_batch),
      cmocka_unit_test(divergence_names_the_layer),
      cmocka_unit_test(nan_weight_names_the_layer),
      cmocka_unit_test(experiment_errors),
      cmocka_unit_test(net_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

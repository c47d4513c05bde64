/* util_net.c — see util_net.h. */
#include "util_net.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dc/cfg.h"
#include "dc/experiment.h"
#include "dc/rng.h"

dc_net *tu_net(const char *text, int batch, int flags) {
  dc_cfg *cfg = NULL;
  dc_failure_clear();
  if (dc_cfg_parse(text, "test.net", &cfg) != DC_OK) fail_msg("cfg: %s", dc_failure_reason());
  dc_net *net = NULL;
  if (dc_net_create(cfg, batch, flags, NULL, &net) != DC_OK) fail_msg("net: %s", dc_failure_reason());
  dc_cfg_free(cfg);
  return net;
}

void tu_fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
  dc_rng r;
  dc_rng_seed(&r, seed, 7);
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * dc_rng_uniform(&r);
}

void tu_labels(int *y, int n, int classes, uint64_t seed) {
  dc_rng r;
  dc_rng_seed(&r, seed, 8);
  for (int i = 0; i < n; i++) y[i] = (int)dc_rng_below(&r, (uint32_t)classes);
}

static double loss_at(dc_net *net, const dc_pass *pass) {
  double loss;
  assert_int_equal(dc_net_forward(net, pass, &loss), DC_OK);
  return loss;
}

static double check_vector(dc_net *net, const dc_pass *pass, float *x, const float *analytic, size_t n,
                           float eps, int samples, double floor, const char *what) {
  dc_rng r;
  dc_rng_seed(&r, 99, n);
  double worst = 0.0;
  for (int s = 0; s < samples && n > 0; s++) {
    size_t i = samples >= (int)n ? (size_t)s % n : (size_t)dc_rng_below(&r, (uint32_t)n);
    if (samples >= (int)n && s >= (int)n) break;
    float keep = x[i];
    x[i] = keep + eps;
    /* params of non-dense kinds: dc_param_sync is not called, data is the variable */
    double lp = loss_at(net, pass);
    x[i] = keep - eps;
    double lm = loss_at(net, pass);
    x[i] = keep;
    double num = (lp - lm) / (2.0 * eps);
    double a = analytic[i];
    double den = fmax(fmax(fabs(a), fabs(num)), floor);
    double err = fabs(a - num) / den;
    if (err > worst) worst = err;
    if (err > 0.05) print_message("  %s[%zu]: analytic %.6g numeric %.6g\n", what, i, a, num);
  }
  return worst;
}

double tu_gradcheck(dc_net *net, const int *labels, float eps, int samples, double floor) {
  dc_pass pass = {.train = 1, .labels = labels, .seed = 1, .iter = 0};
  loss_at(net, &pass);
  assert_int_equal(dc_net_backward(net, &pass), DC_OK);
  /* keep the analytic gradients: forward passes below do not touch diffs, but copy anyway */
  size_t nin = dc_shape_count(net->input);
  float *din = NULL;
  double worst = 0.0;
  if (net->input_grad) {
    din = test_malloc(sizeof(float) * nin);
    memcpy(din, net->input_diff, sizeof(float) * nin);
  }
  dc_params *ps = net->params;
  float *pdiff = test_malloc(sizeof(float) * (ps->total ? ps->total : 1));
  memcpy(pdiff, ps->arena_diff, sizeof(float) * ps->total);
  if (din) {
    double e = check_vector(net, &pass, net->input_data, din, nin, eps, samples, floor, "input");
    worst = fmax(worst, e);
  }
  for (int k = 0; k < ps->count; k++) {
    dc_param *p = &ps->p[k];
    double e = check_vector(net, &pass, p->data, pdiff + (p->diff - ps->arena_diff), p->count, eps, samples,
                            floor, p->name);
    worst = fmax(worst, e);
  }
  test_free(din);
  test_free(pdiff);
  return worst;
}

const char *const TU_TOY_NET =
    "[input]\nchannels = 1\nheight = 8\nwidth = 8\n"
    "[conv]\nname = conv1\nnum_output = 4\nkernel = 3\npad = 1\n"
    "[relu]\n[maxpool]\nkernel = 2\n"
    "[fc]\nname = ip1\nnum_output = 16\nbias_lr_mult = 2\n"
    "[dropout]\nratio = 0.2\n"
    "[fc]\nname = ip2\nnum_output = 4\n"
    "[softmax_loss]\n";

static void put_be32(FILE *f, uint32_t v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                        (unsigned char)v};
  fwrite(b, 1, 4, f);
}

static void write_split(const char *dir, const char *prefix, int n, uint64_t seed) {
  char path[512];
  dc_rng r;
  dc_rng_seed(&r, seed, 0);
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
  FILE *fi = fopen(path, "wb");
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
  FILE *fl = fopen(path, "wb");
  assert_non_null(fi);
  assert_non_null(fl);
  put_be32(fi, 0x803);
  put_be32(fi, (uint32_t)n);
  put_be32(fi, 8);
  put_be32(fi, 8);
  put_be32(fl, 0x801);
  put_be32(fl, (uint32_t)n);
  for (int i = 0; i < n; i++) {
    int c = (int)dc_rng_below(&r, 4);
    unsigned char img[64];
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++) {
        int q = (y >= 4) * 2 + (x >= 4);
        int v = (int)dc_rng_below(&r, 90) + (q == c ? 120 : 0);
        img[y * 8 + x] = (unsigned char)v;
      }
    fwrite(img, 1, 64, fi);
    unsigned char lab = (unsigned char)c;
    fwrite(&lab, 1, 1, fl);
  }
  fclose(fi);
  fclose(fl);
}

void tu_write_toy_mnist(const char *dir, int ntrain, int ntest) {
  write_split(dir, "train", ntrain, 1);
  write_split(dir, "t10k", ntest, 2);
}

char *tu_tmpdir(void) {
  char tmpl[] = "/tmp/dctest-XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return strdup(d);
}

char *tu_toy_dir(void) {
  char *dir = tu_tmpdir();
  tu_write_toy_mnist(dir, 600, 200);
  free(tu_write_file(dir, "toy.net", TU_TOY_NET));
  return dir;
}

void tu_rmdir(char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
  free(dir);
}

char *tu_write_file(const char *dir, const char *name, const char *text) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *path = malloc(n);
  snprintf(path, n, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

dc_status tu_run(const char *cfg, const char *resume, long stop_after, FILE *out) {
  static dc_experiment e;
  dc_failure_clear();
  dc_status s = dc_experiment_load(cfg, &e);
  if (s != DC_OK) return s;
  e.stop_after = stop_after;
  FILE *devnull = out ? NULL : fopen("/dev/null", "w");
  s = dc_experiment_run(&e, resume, out ? out : devnull, NULL);
  if (devnull) fclose(devnull);
  return s;
}

void tu_expect_run_error(const char *dir, const char *text, dc_status s, const char *want) {
  char *cfg = tu_write_file(dir, "bad.cfg", text);
  dc_status got = tu_run(cfg, NULL, 0, NULL);
  if (got != s || !strstr(dc_failure_reason(), want))
    fail_msg("expected status %d with '%s', got %d: %s", s, want, got, dc_failure_reason());
  /* one line, naming the file or a field */
  assert_null(strchr(dc_failure_reason(), '\n'));
  free(cfg);
}

dc_param tu_param(const char *name, size_t n) {
  dc_param p;
  memset(&p, 0, sizeof p);
  snprintf(p.name, sizeof p.name, "%s", name);
  p.kind = DC_PARAM_DENSE;
  p.ndim = 1;
  p.dims[0] = (int)n;
  p.count = n;
  p.fan_in = (int)n;
  p.lr_mult = p.decay_mult = 1.0f;
  p.data = dc_alloc(sizeof(float) * n);
  p.diff = dc_alloc(sizeof(float) * n);
  p.history = dc_alloc(sizeof(float) * n);
  assert_non_null(p.data);
  assert_non_null(p.diff);
  assert_non_null(p.history);
  return p;
}

void tu_param_free(dc_param *p) {
  dc_param_release(p);
  dc_free(p->data);
  dc_free(p->diff);
  dc_free(p->history);
}

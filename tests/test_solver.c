/* test_solver.c — the SGD solver (dc/solver.h): every learning-rate policy against values
 * worked out by hand from Caffe's formulas; two momentum steps on a 3-element DENSE param
 * checked against hand arithmetic (weight decay, lr_mult, decay_mult, the bias convention
 * lr_mult 2 / decay_mult 0); frozen params (lr_mult 0); dc_solver_reset for every kind.
 * Params are built by hand here (no net). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dc/param.h"
#include "dc/solver.h"
#include "util_net.h"

/* ------------------------------------------------------------------ helpers */

static dc_param make(const char *name, size_t n, float lr_mult, float decay_mult) {
  dc_param p = tu_param(name, n);
  p.lr_mult = lr_mult;
  p.decay_mult = decay_mult;
  return p;
}

static dc_solver_conf conf(dc_lr_policy policy) {
  dc_solver_conf c;
  memset(&c, 0, sizeof c);
  c.policy = policy;
  c.base_lr = 0.01;
  return c;
}

/* Relative comparison for learning rates (they span several decades). */
static void lr_is(const dc_solver_conf *c, long iter, double want) {
  double got = dc_solver_lr(c, iter);
  if (fabs(got - want) > 1e-12 + 1e-9 * fabs(want))
    fail_msg("%s at iter %ld: got %.12g, want %.12g", dc_lr_policy_names[c->policy], iter, got, want);
}

/* ------------------------------------------------------------------ learning-rate policies */

static void test_policy_names(void **state) {
  (void)state;
  assert_string_equal(dc_lr_policy_names[DC_LR_FIXED], "fixed");
  assert_string_equal(dc_lr_policy_names[DC_LR_STEP], "step");
  assert_string_equal(dc_lr_policy_names[DC_LR_MULTISTEP], "multistep");
  assert_string_equal(dc_lr_policy_names[DC_LR_INV], "inv");
  assert_string_equal(dc_lr_policy_names[DC_LR_POLY], "poly");
  assert_string_equal(dc_lr_policy_names[DC_LR_EXP], "exp");
}

static void test_lr_fixed(void **state) {
  (void)state;
  dc_solver_conf c = conf(DC_LR_FIXED);
  c.gamma = 0.5; /* ignored */
  lr_is(&c, 0, 0.01);
  lr_is(&c, 1, 0.01);
  lr_is(&c, 123456, 0.01);
}

/* step: base * gamma ^ floor(iter / stepsize) */
static void test_lr_step(void **state) {
  (void)state;
  dc_solver_conf c = conf(DC_LR_STEP);
  c.gamma = 0.1;
  c.stepsize = 100;
  lr_is(&c, 0, 0.01);
  lr_is(&c, 99, 0.01);
  lr_is(&c, 100, 0.001);
  lr_is(&c, 199, 0.001);
  lr_is(&c, 250, 0.0001);
  lr_is(&c, 1000, 1e-12);
  c.gamma = 0.5;
  c.stepsize = 3;
  lr_is(&c, 5, 0.005);
  lr_is(&c, 6, 0.0025);
}

/* multistep: base * gamma ^ (number of stepvalues <= iter) */
static void test_lr_multistep(void **state) {
  (void)state;
  dc_solver_conf c = conf(DC_LR_MULTISTEP);
  c.gamma = 0.1;
  c.stepvalue[0] = 100;
  c.stepvalue[1] = 300;
  c.stepvalue[2] = 700;
  c.nstepvalues = 3;
  lr_is(&c, 0, 0.01);
  lr_is(&c, 99, 0.01);
  lr_is(&c, 100, 0.001);
  lr_is(&c, 299, 0.001);
  lr_is(&c, 300, 0.0001);
  lr_is(&c, 699, 0.0001);
  lr_is(&c, 700, 0.00001);
  lr_is(&c, 5000, 0.00001);
  c.nstepvalues = 0; /* no steps: constant */
  lr_is(&c, 5000, 0.01);
}

/* inv: base * (1 + gamma * iter) ^ -power */
static void test_lr_inv(void **state) {
  (void)state;
  dc_solver_conf c = conf(DC_LR_INV);
  c.gamma = 1e-4;
  c.power = 0.75;
  lr_is(&c, 0, 0.01);
  lr_is(&c, 1, 0.009999250065618985);    /* 0.01 * 1.0001^-0.75 */
  lr_is(&c, 5000, 0.007377879464668811); /* 0.01 * 1.5^-0.75 */
  lr_is(&c, 10000, 0.005946035575013605); /* 0.01 * 2^-0.75 = 0.01 / 1.6817928 */
}

/* poly: base * (1 - iter / max_iter) ^ power, 0 from max_iter on */
static void test_lr_poly(void **state) {
  (void)state;
  dc_solver_conf c = conf(DC_LR_POLY);
  c.max_iter = 1000;
  c.power = 2;
  lr_is(&c, 0, 0.01);
  lr_is(&c, 250, 0.005625); /* 0.01 * 0.75^2 */
  lr_is(&c, 500, 0.0025);
  lr_is(&c, 900, 0.0001);
  lr_is(&c, 999, 1e-8);
  lr_is(&c, 1000, 0);
  c.power = 0.5;
  lr_is(&c, 500, 0.007071067811865476); /* 0.01 * sqrt(0.5) */
  lr_is(&c, 900, 0.003162277660168379); /* 0.01 * sqrt(0.1) */
  c.power = 1;
  lr_is(&c, 100, 0.009);
}

/* exp: base * gamma ^ iter */
static void test_lr_exp(void **state) {
  (void)state;
  dc_solver_conf c = conf(DC_LR_EXP);
  c.gamma = 0.99;
  lr_is(&c, 0, 0.01);
  lr_is(&c, 1, 0.0099);
  lr_is(&c, 2, 0.009801);
  lr_is(&c, 10, 0.009043820750088045);
  lr_is(&c, 100, 0.003660323412732292);
}

/* ------------------------------------------------------------------ the update rule */

/* v = momentum * v + lr * lr_mult * (g + wd * decay_mult * w); w -= v, worked by hand:
 *   w0 = (1, -2, 0.5), g1 = (0.5, -1, 0), g2 = (0.25, 0.5, -0.5), lr 0.1, momentum 0.9,
 *   weight_decay 0.01.
 * weight (lr_mult 1, decay_mult 1):
 *   v1 = 0.1 * (0.51, -1.02, 0.005)              = (0.051, -0.102, 0.0005)
 *   w1 = (0.949, -1.898, 0.4995)
 *   v2 = 0.9 * v1 + 0.1 * (0.25949, 0.48102, -0.495005)
 *      = (0.071849, -0.043698, -0.0490505)
 *   w2 = (0.877151, -1.854302, 0.5485505)
 * bias (lr_mult 2, decay_mult 0): rate 0.2, no decay
 *   v1 = (0.1, -0.2, 0), w1 = (0.9, -1.8, 0.5)
 *   v2 = (0.09 + 0.05, -0.18 + 0.1, 0 - 0.1) = (0.14, -0.08, -0.1), w2 = (0.76, -1.72, 0.6)
 * frozen (lr_mult 0): nothing moves, not even the history. */
static void test_step_by_hand(void **state) {
  (void)state;
  dc_param p[3] = {make("fc/weight", 3, 1, 1), make("fc/bias", 3, 2, 0), make("frozen/weight", 3, 0, 1)};
  const float w0[3] = {1.0f, -2.0f, 0.5f};
  const float g1[3] = {0.5f, -1.0f, 0.0f}, g2[3] = {0.25f, 0.5f, -0.5f};
  for (int k = 0; k < 3; k++) memcpy(p[k].data, w0, sizeof w0);
  const float fh[3] = {0.3f, -0.4f, 0.7f};
  memcpy(p[2].history, fh, sizeof fh);
  dc_params ps = {.count = 3, .p = p};
  dc_solver_conf c = conf(DC_LR_FIXED);
  c.momentum = 0.9;
  c.weight_decay = 0.01;

  for (int k = 0; k < 3; k++) memcpy(p[k].diff, g1, sizeof g1);
  dc_solver_step(&c, &ps, 0.1);
  const double wv1[3] = {0.051, -0.102, 0.0005}, ww1[3] = {0.949, -1.898, 0.4995};
  const double bv1[3] = {0.1, -0.2, 0}, bw1[3] = {0.9, -1.8, 0.5};
  for (int j = 0; j < 3; j++) {
    assert_float_equal(p[0].history[j], wv1[j], 1e-6);
    assert_float_equal(p[0].data[j], ww1[j], 1e-6);
    assert_float_equal(p[1].history[j], bv1[j], 1e-6);
    assert_float_equal(p[1].data[j], bw1[j], 1e-6);
  }

  for (int k = 0; k < 3; k++) memcpy(p[k].diff, g2, sizeof g2);
  dc_solver_step(&c, &ps, 0.1);
  const double wv2[3] = {0.071849, -0.043698, -0.0490505}, ww2[3] = {0.877151, -1.854302, 0.5485505};
  const double bv2[3] = {0.14, -0.08, -0.1}, bw2[3] = {0.76, -1.72, 0.6};
  for (int j = 0; j < 3; j++) {
    assert_float_equal(p[0].history[j], wv2[j], 1e-6);
    assert_float_equal(p[0].data[j], ww2[j], 1e-6);
    assert_float_equal(p[1].history[j], bv2[j], 1e-6);
    assert_float_equal(p[1].data[j], bw2[j], 1e-6);
  }

  assert_memory_equal(p[2].data, w0, sizeof w0);
  assert_memory_equal(p[2].history, fh, sizeof fh);
  assert_memory_equal(p[2].diff, g2, sizeof g2);
  for (int k = 0; k < 3; k++) tu_param_free(&p[k]);
}

/* A frozen MASKED or SHARED param is untouched as well (no gradient reduction either). */
static void test_frozen_other_kinds(void **state) {
  (void)state;
  dc_param m = make("m/weight", 4, 0, 1), s = make("s/weight", 4, 0, 1);
  const uint8_t keep[4] = {1, 0, 1, 1};
  const float w[4] = {0.5f, 0.0f, -0.5f, 1.0f};
  memcpy(m.data, w, sizeof w);
  assert_int_equal(dc_param_set_mask(&m, keep), DC_OK);
  const float cb[2] = {-1, 1};
  const uint8_t index[4] = {0, 1, 1, 0};
  assert_int_equal(dc_param_set_shared(&s, 1, cb, index), DC_OK);
  const float g[4] = {1, 1, 1, 1};
  memcpy(m.diff, g, sizeof g);
  memcpy(s.diff, g, sizeof g);
  dc_param both[2] = {m, s};
  dc_params ps = {.count = 2, .p = both};
  dc_solver_conf c = conf(DC_LR_FIXED);
  c.momentum = 0.9;
  c.weight_decay = 0.1;
  dc_solver_step(&c, &ps, 0.5);
  assert_memory_equal(m.data, w, sizeof w);
  assert_memory_equal(m.diff, g, sizeof g); /* not even masked: the param was skipped */
  assert_memory_equal(s.codebook, cb, sizeof cb);
  assert_true(s.codebook_diff[0] == 0 && s.codebook_diff[1] == 0);
  assert_true(s.codebook_history[0] == 0 && s.codebook_history[1] == 0);
  tu_param_free(&m);
  tu_param_free(&s);
}

/* One SGD step on a SHARED param, by hand. A centroid stands for its n_k kept weights, so
 * both its gradient and its weight decay are those of the L2-regularised loss over them:
 *   g_k = sum_{i in k} dL/dw_i,   decay_k = n_k * wd * c_k   (= sum_{i in k} wd * w_i).
 * 6 weights, w2 pruned; index {0,1,1,0,0,1}: centroid 0 holds w0 w3 w4 (n_0 = 3),
 * centroid 1 holds w1 w5 (n_1 = 2). */
static void test_shared_step_by_hand(void **state) {
  (void)state;
  dc_param p = make("s/weight", 6, 1, 1);
  const uint8_t keep[6] = {1, 1, 0, 1, 1, 1}, index[6] = {0, 1, 1, 0, 0, 1};
  const float cb[2] = {-0.5f, 0.25f};
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  assert_int_equal(dc_param_set_shared(&p, 1, cb, index), DC_OK);
  const float g[6] = {1, 2, 100, -1, 0.5f, 3}; /* the pruned w2's 100 must not count */
  dc_params ps = {.count = 1, .p = &p};
  dc_solver_conf c = conf(DC_LR_FIXED);
  c.momentum = 0.9;
  c.weight_decay = 0.01;
  memcpy(p.diff, g, sizeof g);
  dc_solver_step(&c, &ps, 0.1);
  /* g_0 = 1 - 1 + 0.5 = 0.5, g_1 = 2 + 3 = 5
   * h_0 = 0.1 * (0.5 + 0.01 * 3 * -0.5) = 0.0485    c_0 = -0.5 - 0.0485 = -0.5485
   * h_1 = 0.1 * (5 + 0.01 * 2 * 0.25) = 0.5005      c_1 = 0.25 - 0.5005 = -0.2505 */
  assert_float_equal(p.codebook_history[0], 0.0485, 1e-6);
  assert_float_equal(p.codebook_history[1], 0.5005, 1e-6);
  assert_float_equal(p.codebook[0], -0.5485, 1e-6);
  assert_float_equal(p.codebook[1], -0.2505, 1e-6);
  const double w1[6] = {-0.5485, -0.2505, 0, -0.5485, -0.5485, -0.2505};
  for (int i = 0; i < 6; i++) assert_float_equal(p.data[i], w1[i], 1e-6);
  memcpy(p.diff, g, sizeof g);
  dc_solver_step(&c, &ps, 0.1);
  /* h_0 = 0.9 * 0.0485 + 0.1 * (0.5 + 0.01 * 3 * -0.5485) = 0.0920045   c_0 = -0.6405045
   * h_1 = 0.9 * 0.5005 + 0.1 * (5 + 0.01 * 2 * -0.2505) = 0.949949      c_1 = -1.200449 */
  assert_float_equal(p.codebook[0], -0.6405045, 1e-6);
  assert_float_equal(p.codebook[1], -1.200449, 1e-6);
  /* pruning w4 too: n_0 = 2 from the next step on */
  const uint8_t keep2[6] = {1, 1, 0, 1, 0, 1};
  assert_int_equal(dc_param_set_mask(&p, keep2), DC_OK);
  dc_param_reduce_grad(&p);
  dc_param_view v = dc_param_view_of(&p);
  assert_non_null(v.decay_scale);
  assert_true(v.decay_scale[0] == 2.0f && v.decay_scale[1] == 2.0f);
  tu_param_free(&p);
}

/* The update reports the first parameter whose gradient holds NaN or Inf (the trainer
 * stops there); a pruned weight's gradient does not count, being masked to 0. */
static void test_update_reports_nonfinite_gradient(void **state) {
  (void)state;
  dc_param p[3] = {make("a/weight", 20000, 1, 1), make("b/weight", 4, 1, 1), make("c/weight", 20000, 1, 1)};
  const uint8_t keep[4] = {1, 0, 1, 1};
  assert_int_equal(dc_param_set_mask(&p[1], keep), DC_OK);
  dc_params ps = {.count = 3, .p = p};
  dc_solver_conf c = conf(DC_LR_FIXED);
  c.momentum = 0.9;
  assert_int_equal(dc_solver_update(&c, &ps, 0.1), -1);
  p[1].diff[1] = INFINITY; /* pruned: ignored */
  assert_int_equal(dc_solver_update(&c, &ps, 0.1), -1);
  p[2].diff[12345] = NAN;
  assert_int_equal(dc_solver_update(&c, &ps, 0.1), 2);
  p[1].diff[2] = -INFINITY;
  assert_int_equal(dc_solver_update(&c, &ps, 0.1), 1);
  for (int k = 0; k < 3; k++) tu_param_free(&p[k]);
}

/* momentum 0, no decay: plain SGD, w -= lr * lr_mult * g. */
static void test_plain_sgd(void **state) {
  (void)state;
  dc_param p = make("p/weight", 2, 0.5f, 1);
  p.data[0] = 1.0f;
  p.data[1] = -1.0f;
  p.diff[0] = 2.0f;
  p.diff[1] = 4.0f;
  dc_params ps = {.count = 1, .p = &p};
  dc_solver_conf c = conf(DC_LR_FIXED);
  dc_solver_step(&c, &ps, 0.25);
  assert_float_equal(p.data[0], 0.75, 1e-7);
  assert_float_equal(p.data[1], -1.5, 1e-7);
  dc_solver_step(&c, &ps, 0.0); /* lr 0 with momentum 0: nothing moves */
  assert_float_equal(p.data[0], 0.75, 1e-7);
  assert_float_equal(p.data[1], -1.5, 1e-7);
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ reset */

static void test_reset_zeroes_every_history(void **state) {
  (void)state;
  enum { N = 16 };
  dc_param p[3] = {make("d/weight", N, 1, 1), make("m/weight", N, 1, 1), make("s/weight", N, 1, 1)};
  uint8_t keep[N], index[N];
  for (int i = 0; i < N; i++) {
    keep[i] = (uint8_t)(i % 3 != 0);
    index[i] = (uint8_t)(i % 4);
    for (int k = 0; k < 3; k++) p[k].data[i] = 0.1f * (float)(i + 1);
  }
  assert_int_equal(dc_param_set_mask(&p[1], keep), DC_OK);
  const float cb[4] = {-0.3f, -0.1f, 0.1f, 0.3f};
  assert_int_equal(dc_param_set_shared(&p[2], 2, cb, index), DC_OK);
  dc_params ps = {.count = 3, .p = p};
  dc_solver_conf c = conf(DC_LR_FIXED);
  c.momentum = 0.9;
  c.weight_decay = 0.001;
  for (int s = 0; s < 2; s++) {
    for (int k = 0; k < 3; k++)
      for (int i = 0; i < N; i++) p[k].diff[i] = 0.5f + 0.01f * (float)i;
    dc_solver_step(&c, &ps, 0.1);
  }
  int moving = 0;
  for (int i = 0; i < N; i++) moving += p[0].history[i] != 0 && (!keep[i] || p[1].history[i] != 0);
  for (int j = 0; j < 4; j++) moving += p[2].codebook_history[j] != 0;
  assert_int_equal(moving, N + 4); /* momentum is there before the reset */

  float data[3][N], cbook[4];
  for (int k = 0; k < 3; k++) memcpy(data[k], p[k].data, sizeof data[k]);
  memcpy(cbook, p[2].codebook, sizeof cbook);
  dc_solver_reset(&ps);
  for (int i = 0; i < N; i++) {
    assert_true(p[0].history[i] == 0.0f);
    assert_true(p[1].history[i] == 0.0f);
  }
  for (int j = 0; j < 4; j++) assert_true(p[2].codebook_history[j] == 0.0f);
  for (int k = 0; k < 3; k++) assert_memory_equal(p[k].data, data[k], sizeof data[k]);
  assert_memory_equal(p[2].codebook, cbook, sizeof cbook);

  /* after a reset the next step starts from zero momentum: v = lr * (g + wd * w) */
  float w = p[0].data[0];
  p[0].diff[0] = 1.0f;
  dc_solver_step(&c, &ps, 0.1);
  assert_float_equal(p[0].history[0], 0.1 * (1.0 + 0.001 * w), 1e-6);
  for (int k = 0; k < 3; k++) tu_param_free(&p[k]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_policy_names),
      cmocka_unit_test(test_lr_fixed),
      cmocka_unit_test(test_lr_step),
      cmocka_unit_test(test_lr_multistep),
      cmocka_unit_test(test_lr_inv),
      cmocka_unit_test(test_lr_poly),
      cmocka_unit_test(test_lr_exp),
      cmocka_unit_test(test_step_by_hand),
      cmocka_unit_test(test_frozen_other_kinds),
      cmocka_unit_test(test_shared_step_by_hand),
      cmocka_unit_test(test_update_reports_nonfinite_gradient),
      cmocka_unit_test(test_plain_sgd),
      cmocka_unit_test(test_reset_zeroes_every_history),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

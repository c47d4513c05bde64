/* test_param.c — the four parameter kinds (dc/param.h), Deep Compression's core invariants:
 * DENSE views and gradients; MASKED pruning that stays exactly zero (value, gradient and
 * momentum) through 1000 solver steps with weight decay; SHARED codebook expansion, the
 * per-centroid gradient sum (pruned weights excluded), centroid-only updates with their own
 * momentum, a finite-difference check of that gradient; masking a SHARED param; back to
 * DENSE; SPLICED pruning whose pruned weights follow their gradient in a shadow and come
 * back; release; parts and snapshots (what checkpoints store, trial undo); the fillers
 * and their seeding; the out-of-memory error paths.
 * Params are built by hand here (no net): data/diff/history come from dc_alloc as the
 * arena would provide them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/param.h"
#include "dc/prune.h"
#include "dc/rng.h"
#include "dc/solver.h"
#include "util_net.h"

#if defined(__SANITIZE_ADDRESS__)
/* The out-of-memory tests ask malloc for an impossible size; ASan must return NULL
 * for that (as glibc does) instead of aborting the test. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

/* ------------------------------------------------------------------ helpers */

/* Uniform in [lo, hi) from a stream of (seed, stream). */
static void fill_uniform(float *x, size_t n, uint64_t seed, uint64_t stream, float lo, float hi) {
  dc_rng r;
  dc_rng_seed(&r, seed, stream);
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * dc_rng_uniform(&r);
}

/* Non-zero values in [0.1, 1) with a random sign: a gradient no weight can ignore. */
static void fill_nonzero(float *x, size_t n, dc_rng *r) {
  for (size_t i = 0; i < n; i++) {
    float v = 0.1f + 0.9f * dc_rng_uniform(r);
    x[i] = dc_rng_below(r, 2) ? v : -v;
  }
}

/* About `keep_pct` percent kept, at least one kept and one pruned. */
static void random_keep(uint8_t *keep, size_t n, uint64_t seed, unsigned keep_pct) {
  dc_rng r;
  dc_rng_seed(&r, seed, 7);
  for (size_t i = 0; i < n; i++) keep[i] = dc_rng_below(&r, 100) < keep_pct;
  keep[0] = 1;
  keep[n - 1] = 0;
}

/* Bitwise +0.0f: `== 0.0f` would also accept -0.0f. */
static int is_pos_zero(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u == 0;
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ------------------------------------------------------------------ DENSE */

static void test_dense_view_and_grad(void **state) {
  (void)state;
  dc_param p = tu_param("fc1/weight", 37);
  fill_uniform(p.data, p.count, 1, 1, -1, 1);
  fill_uniform(p.diff, p.count, 1, 2, -1, 1);
  fill_uniform(p.history, p.count, 1, 3, -1, 1);
  float diff0[37], data0[37];
  memcpy(diff0, p.diff, sizeof diff0);
  memcpy(data0, p.data, sizeof data0);

  dc_param_view v = dc_param_view_of(&p);
  assert_ptr_equal(v.value, p.data);
  assert_ptr_equal(v.grad, p.diff);
  assert_ptr_equal(v.history, p.history);
  assert_int_equal(v.n, 37);

  dc_param_reduce_grad(&p);
  assert_memory_equal(p.diff, diff0, sizeof diff0);
  dc_param_sync(&p);
  assert_memory_equal(p.data, data0, sizeof data0);
  assert_int_equal(dc_param_nonzero(&p), 37);
  assert_null(p.mask);
  assert_string_equal(dc_param_kind_name(DC_PARAM_DENSE), "dense");
  assert_string_equal(dc_param_kind_name(DC_PARAM_MASKED), "masked");
  assert_string_equal(dc_param_kind_name(DC_PARAM_SHARED), "shared");
  assert_string_equal(dc_param_kind_name((dc_param_kind)7), "?");
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ MASKED */

static void test_mask_zeroes_pruned_keeps_rest(void **state) {
  (void)state;
  enum { N = 300 };
  dc_param p = tu_param("conv1/weight", N);
  fill_uniform(p.data, N, 2, 1, -1, 1);
  fill_uniform(p.diff, N, 2, 2, -1, 1);
  fill_uniform(p.history, N, 2, 3, -1, 1);
  float data0[N], diff0[N], hist0[N];
  memcpy(data0, p.data, sizeof data0);
  memcpy(diff0, p.diff, sizeof diff0);
  memcpy(hist0, p.history, sizeof hist0);
  uint8_t keep[N];
  random_keep(keep, N, 3, 40);
  keep[5] = 2; /* any non-zero byte means keep */
  size_t kept = 0;
  for (int i = 0; i < N; i++) kept += keep[i] != 0;

  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  assert_int_equal(p.kind, DC_PARAM_MASKED);
  assert_non_null(p.mask);
  assert_int_equal(dc_param_nonzero(&p), kept);
  for (int i = 0; i < N; i++) {
    if (keep[i]) {
      assert_int_equal(p.mask[i], 1);
      assert_true(same_bits(p.data[i], data0[i]));
      assert_true(same_bits(p.diff[i], diff0[i]));
      assert_true(same_bits(p.history[i], hist0[i]));
    } else {
      assert_int_equal(p.mask[i], 0);
      assert_true(is_pos_zero(p.data[i]));
      assert_true(is_pos_zero(p.diff[i]));
      assert_true(is_pos_zero(p.history[i]));
    }
  }
  dc_param_view v = dc_param_view_of(&p);
  assert_ptr_equal(v.value, p.data);
  assert_ptr_equal(v.grad, p.diff);
  assert_ptr_equal(v.history, p.history);
  assert_int_equal(v.n, N);

  /* reduce_grad zeroes gradients written into pruned slots; sync zeroes pruned data */
  fill_uniform(p.diff, N, 2, 4, 0.5f, 1);
  fill_uniform(p.data, N, 2, 5, 0.5f, 1);
  memcpy(diff0, p.diff, sizeof diff0);
  dc_param_reduce_grad(&p);
  dc_param_sync(&p);
  for (int i = 0; i < N; i++) {
    if (keep[i]) {
      assert_true(same_bits(p.diff[i], diff0[i]));
      assert_true(p.data[i] >= 0.5f);
    } else {
      assert_true(is_pos_zero(p.diff[i]));
      assert_true(is_pos_zero(p.data[i]));
    }
  }

  /* a second mask replaces the first (the mask buffer is reused) */
  uint8_t keep2[N];
  random_keep(keep2, N, 4, 20);
  uint8_t *buf = p.mask;
  assert_int_equal(dc_param_set_mask(&p, keep2), DC_OK);
  assert_ptr_equal(p.mask, buf);
  assert_int_equal(p.kind, DC_PARAM_MASKED);
  size_t kept2 = 0;
  for (int i = 0; i < N; i++) {
    kept2 += keep2[i] != 0;
    if (!keep2[i]) assert_true(is_pos_zero(p.data[i]));
  }
  assert_int_equal(dc_param_nonzero(&p), kept2);
  tu_param_free(&p);
}

/* The paper's retraining invariant: a pruned weight stays exactly 0 (value, gradient and
 * momentum, bitwise) while gradients keep arriving and weight decay keeps pulling. */
static void test_masked_stays_zero_through_training(void **state) {
  (void)state;
  enum { N = 257, STEPS = 1000 };
  dc_param p = tu_param("fc2/weight", N);
  fill_uniform(p.data, N, 5, 1, -1, 1);
  fill_uniform(p.history, N, 5, 2, -0.1f, 0.1f);
  uint8_t keep[N];
  random_keep(keep, N, 6, 30);
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  float data0[N];
  memcpy(data0, p.data, sizeof data0);

  dc_solver_conf c;
  memset(&c, 0, sizeof c);
  c.base_lr = 0.01;
  c.momentum = 0.9;
  c.weight_decay = 5e-4;
  c.policy = DC_LR_FIXED;
  dc_params ps = {.count = 1, .p = &p};
  dc_rng r;
  dc_rng_seed(&r, 8, 1);
  for (int s = 0; s < STEPS; s++) {
    fill_nonzero(p.diff, N, &r); /* as backward would: every slot gets a gradient */
    dc_solver_step(&c, &ps, dc_solver_lr(&c, s));
    for (int i = 0; i < N; i++) {
      if (keep[i]) continue;
      if (!is_pos_zero(p.data[i]) || !is_pos_zero(p.history[i]) || !is_pos_zero(p.diff[i]))
        fail_msg("step %d: pruned weight %d revived: data %g history %g diff %g", s, i,
                 (double)p.data[i], (double)p.history[i], (double)p.diff[i]);
    }
  }
  for (int i = 0; i < N; i++)
    if (keep[i]) {
      assert_true(isfinite(p.data[i]));
      assert_false(same_bits(p.data[i], data0[i]));
      assert_false(is_pos_zero(p.history[i]));
    }
  assert_int_equal(p.kind, DC_PARAM_MASKED);
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ SHARED */

static void test_shared_expand_and_view(void **state) {
  (void)state;
  enum { N = 64 };
  dc_param p = tu_param("fc3/weight", N);
  fill_uniform(p.data, N, 9, 1, -1, 1);
  fill_uniform(p.history, N, 9, 2, -1, 1);
  uint8_t keep[N];
  random_keep(keep, N, 10, 50);
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);

  float cb[4] = {-0.5f, -0.125f, 0.25f, 0.75f};
  uint8_t index[N];
  dc_rng r;
  dc_rng_seed(&r, 11, 0);
  for (int i = 0; i < N; i++) index[i] = (uint8_t)dc_rng_below(&r, 4);
  const uint8_t index0 = index[0];
  assert_int_equal(dc_param_set_shared(&p, 2, cb, index), DC_OK);
  assert_int_equal(p.kind, DC_PARAM_SHARED);
  assert_int_equal(p.bits, 2);
  assert_int_equal(p.k, 4);
  cb[0] = 99.0f; /* the param holds its own copies */
  index[0] = (uint8_t)((index0 + 1) % 4);
  assert_true(p.codebook[0] == -0.5f);
  assert_int_equal(p.index[0], index0); /* keep[0] is 1 */
  size_t kept = 0;
  for (int i = 0; i < N; i++) {
    kept += keep[i];
    if (keep[i]) assert_true(same_bits(p.data[i], p.codebook[p.index[i]]));
    else assert_true(is_pos_zero(p.data[i]));
  }
  assert_int_equal(dc_param_nonzero(&p), kept);
  for (int j = 0; j < 4; j++) {
    assert_true(is_pos_zero(p.codebook_history[j]));
    assert_true(is_pos_zero(p.codebook_diff[j]));
  }
  dc_param_view v = dc_param_view_of(&p);
  assert_ptr_equal(v.value, p.codebook);
  assert_ptr_equal(v.grad, p.codebook_diff);
  assert_ptr_equal(v.history, p.codebook_history);
  assert_int_equal(v.n, 4);
  tu_param_free(&p);
}

static void test_shared_from_dense_all_kept(void **state) {
  (void)state;
  enum { N = 10 };
  dc_param p = tu_param("fc4/weight", N);
  const float cb[2] = {-1.0f, 2.0f};
  const uint8_t index[N] = {0, 1, 1, 0, 1, 0, 0, 0, 1, 1};
  assert_int_equal(dc_param_set_shared(&p, 1, cb, index), DC_OK);
  assert_int_equal(p.kind, DC_PARAM_SHARED);
  assert_int_equal(dc_param_nonzero(&p), N);
  for (int i = 0; i < N; i++) assert_true(p.data[i] == cb[index[i]]);
  tu_param_free(&p);
}

/* dL/dc_k = sum of dL/dw_i over kept i with index[i] == k; pruned gradients are ignored
 * even when backward wrote something there. */
static void test_shared_reduce_grad(void **state) {
  (void)state;
  enum { N = 500, BITS = 3, K = 1 << BITS };
  dc_param p = tu_param("conv2/weight", N);
  uint8_t keep[N], index[N];
  random_keep(keep, N, 12, 60);
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  float cb[K];
  for (int j = 0; j < K; j++) cb[j] = -1.0f + 0.25f * (float)j;
  dc_rng r;
  dc_rng_seed(&r, 13, 0);
  for (int i = 0; i < N; i++) index[i] = (uint8_t)dc_rng_below(&r, K);
  assert_int_equal(dc_param_set_shared(&p, BITS, cb, index), DC_OK);

  fill_uniform(p.diff, N, 14, 0, -1, 1);
  for (int i = 0; i < N; i++)
    if (!keep[i]) p.diff[i] = 1000.0f; /* must not leak into any centroid */
  double want[K] = {0};
  for (int i = 0; i < N; i++)
    if (keep[i]) want[p.index[i]] += p.diff[i];
  for (int j = 0; j < K; j++) p.codebook_diff[j] = 12345.0f; /* overwritten, not accumulated */
  dc_param_reduce_grad(&p);
  for (int j = 0; j < K; j++) assert_float_equal(p.codebook_diff[j], want[j], 1e-4);
  /* twice gives the same: reduce_grad recomputes from diff */
  dc_param_reduce_grad(&p);
  for (int j = 0; j < K; j++) assert_float_equal(p.codebook_diff[j], want[j], 1e-4);
  tu_param_free(&p);
}

/* A step moves centroids only: indices and mask are fixed, data is re-expanded, and the
 * centroids' momentum lives apart from the per-weight history. */
static void test_shared_solver_step(void **state) {
  (void)state;
  enum { N = 40, K = 4 };
  dc_param p = tu_param("fc5/weight", N);
  uint8_t keep[N], index[N];
  random_keep(keep, N, 15, 70);
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  const float cb[K] = {-0.6f, -0.2f, 0.1f, 0.4f};
  for (int i = 0; i < N; i++) index[i] = (uint8_t)(i % K);
  assert_int_equal(dc_param_set_shared(&p, 2, cb, index), DC_OK);
  fill_uniform(p.history, N, 16, 0, -1, 1); /* per-weight momentum: must stay untouched */
  float hist0[N];
  memcpy(hist0, p.history, sizeof hist0);
  uint8_t idx0[N], mask0[N];
  memcpy(idx0, p.index, N);
  memcpy(mask0, p.mask, N);

  dc_solver_conf c;
  memset(&c, 0, sizeof c);
  c.momentum = 0.9;
  c.weight_decay = 0.01;
  const double lr = 0.1;
  dc_params ps = {.count = 1, .p = &p};
  double w[K], h[K] = {0}, members[K] = {0};
  for (int j = 0; j < K; j++) w[j] = cb[j];
  for (int i = 0; i < N; i++)
    if (keep[i]) members[index[i]] += 1; /* a centroid decays as the n_k weights it stands for */
  for (int s = 0; s < 3; s++) {
    fill_uniform(p.diff, N, 17, (uint64_t)s, -1, 1);
    double g[K] = {0};
    for (int i = 0; i < N; i++)
      if (keep[i]) g[index[i]] += p.diff[i];
    for (int j = 0; j < K; j++) {
      h[j] = 0.9 * h[j] + lr * (g[j] + 0.01 * members[j] * w[j]);
      w[j] -= h[j];
    }
    dc_solver_step(&c, &ps, lr);
    for (int j = 0; j < K; j++) {
      assert_float_equal(p.codebook[j], w[j], 1e-5);
      assert_float_equal(p.codebook_history[j], h[j], 1e-5);
    }
    assert_memory_equal(p.index, idx0, N);
    assert_memory_equal(p.mask, mask0, N);
    assert_memory_equal(p.history, hist0, sizeof hist0);
    for (int i = 0; i < N; i++) {
      if (keep[i]) assert_true(same_bits(p.data[i], p.codebook[index[i]]));
      else assert_true(is_pos_zero(p.data[i]));
    }
  }
  for (int j = 0; j < K; j++) assert_true(fabs(p.codebook[j] - cb[j]) > 1e-3);
  tu_param_free(&p);
}

static void test_shared_every_bit_width(void **state) {
  (void)state;
  enum { N = 600 };
  for (int bits = 1; bits <= 8; bits++) {
    dc_param p = tu_param("fc6/weight", N);
    int k = 1 << bits;
    float cb[256];
    uint8_t index[N];
    for (int j = 0; j < k; j++) cb[j] = (float)j / (float)k - 0.5f;
    for (int i = 0; i < N; i++) index[i] = (uint8_t)(i % k); /* every centroid used, k-1 too */
    assert_int_equal(dc_param_set_shared(&p, bits, cb, index), DC_OK);
    assert_int_equal(p.k, k);
    assert_int_equal(p.bits, bits);
    assert_int_equal(dc_param_view_of(&p).n, (size_t)k);
    for (int i = 0; i < N; i++) assert_true(p.data[i] == cb[i % k]);
    for (int i = 0; i < N; i++) p.diff[i] = 1.0f;
    dc_param_reduce_grad(&p);
    for (int j = 0; j < k; j++) {
      int users = N / k + (j < N % k ? 1 : 0);
      assert_float_equal(p.codebook_diff[j], (double)users, 0);
    }
    tu_param_free(&p);
  }
}

/* Re-sharing with another bit width replaces the codebook (no leak, new k). */
static void test_shared_reshare(void **state) {
  (void)state;
  enum { N = 32 };
  dc_param p = tu_param("fc7/weight", N);
  float cb[32];
  uint8_t index[N];
  for (int j = 0; j < 32; j++) cb[j] = (float)j;
  for (int i = 0; i < N; i++) index[i] = (uint8_t)(i % 8);
  assert_int_equal(dc_param_set_shared(&p, 3, cb, index), DC_OK);
  p.codebook_history[2] = 5.0f;
  for (int i = 0; i < N; i++) index[i] = (uint8_t)(N - 1 - i);
  assert_int_equal(dc_param_set_shared(&p, 5, cb, index), DC_OK);
  assert_int_equal(p.k, 32);
  for (int i = 0; i < N; i++) assert_true(p.data[i] == (float)(N - 1 - i));
  for (int j = 0; j < 32; j++) assert_true(is_pos_zero(p.codebook_history[j]));
  tu_param_free(&p);
}

/* A SHARED param pruned further keeps its codebook and only loses the pruned entries. */
static void test_shared_then_mask(void **state) {
  (void)state;
  enum { N = 100, K = 8 };
  dc_param p = tu_param("fc8/weight", N);
  float cb[K];
  uint8_t index[N], keep[N];
  for (int j = 0; j < K; j++) cb[j] = 0.1f * (float)(j + 1);
  for (int i = 0; i < N; i++) index[i] = (uint8_t)((i * 5) % K);
  assert_int_equal(dc_param_set_shared(&p, 3, cb, index), DC_OK);
  p.codebook_history[1] = 0.5f; /* centroid momentum survives the pruning */
  random_keep(keep, N, 18, 50);
  fill_uniform(p.history, N, 18, 1, -1, 1);
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  assert_int_equal(p.kind, DC_PARAM_SHARED);
  assert_int_equal(p.k, K);
  assert_int_equal(p.bits, 3);
  assert_memory_equal(p.codebook, cb, sizeof cb);
  assert_true(p.codebook_history[1] == 0.5f);
  size_t kept = 0;
  for (int i = 0; i < N; i++) {
    kept += keep[i];
    if (keep[i]) {
      assert_int_equal(p.index[i], index[i]);
      assert_true(p.data[i] == cb[index[i]]);
    } else {
      assert_true(is_pos_zero(p.data[i]));
      assert_true(is_pos_zero(p.history[i]));
    }
  }
  assert_int_equal(dc_param_nonzero(&p), kept);
  for (int i = 0; i < N; i++) p.diff[i] = 1.0f;
  dc_param_reduce_grad(&p);
  float want[K] = {0};
  for (int i = 0; i < N; i++)
    if (keep[i]) want[index[i]] += 1.0f;
  for (int j = 0; j < K; j++) assert_true(p.codebook_diff[j] == want[j]);
  tu_param_free(&p);
}

/* The centroid gradient against central differences of f(codebook) = sum_i r_i * data_i,
 * whose d f / d data_i is r_i (written into diff as backward would). */
static void test_shared_centroid_gradcheck(void **state) {
  (void)state;
  enum { N = 200, BITS = 4, K = 1 << BITS };
  dc_param p = tu_param("fc9/weight", N);
  uint8_t keep[N], index[N];
  random_keep(keep, N, 19, 60);
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  float cb[K];
  fill_uniform(cb, K, 19, 1, -1, 1);
  dc_rng rg;
  dc_rng_seed(&rg, 19, 2);
  for (int i = 0; i < N; i++) index[i] = (uint8_t)dc_rng_below(&rg, K);
  assert_int_equal(dc_param_set_shared(&p, BITS, cb, index), DC_OK);
  float rr[N];
  fill_uniform(rr, N, 19, 3, -1, 1);
  memcpy(p.diff, rr, sizeof rr);
  dc_param_reduce_grad(&p);

  const float eps = 1e-2f;
  int used = 0;
  for (int k = 0; k < K; k++) {
    double f[2];
    float c0 = p.codebook[k];
    for (int side = 0; side < 2; side++) {
      p.codebook[k] = c0 + (side ? -eps : eps);
      dc_param_sync(&p);
      f[side] = 0;
      for (int i = 0; i < N; i++) f[side] += (double)rr[i] * p.data[i];
    }
    p.codebook[k] = c0;
    dc_param_sync(&p);
    double dx = (double)(c0 + eps) - (double)(c0 - eps); /* the float step actually taken */
    double numeric = (f[0] - f[1]) / dx;
    double a = p.codebook_diff[k];
    double err = fabs(a - numeric) / fmax(fmax(fabs(a), fabs(numeric)), 1e-2);
    if (err > 1e-3) fail_msg("centroid %d: analytic %g numeric %g", k, a, numeric);
    used += fabs(a) > 1e-3;
  }
  assert_true(used >= K / 2); /* not a vacuous comparison of zeros */
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ back to DENSE, release */

static void test_make_dense_and_release(void **state) {
  (void)state;
  enum { N = 50 };
  uint8_t keep[N], index[N];
  random_keep(keep, N, 20, 50);
  for (int i = 0; i < N; i++) index[i] = (uint8_t)(i % 4);
  const float cb[4] = {1, 2, 3, 4};

  /* MASKED -> DENSE: values kept (pruned stay 0 but may now grow) */
  dc_param p = tu_param("fc10/weight", N);
  fill_uniform(p.data, N, 21, 0, 0.5f, 1);
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  float before[N];
  memcpy(before, p.data, sizeof before);
  dc_param_make_dense(&p);
  assert_int_equal(p.kind, DC_PARAM_DENSE);
  assert_null(p.mask);
  assert_int_equal(dc_param_nonzero(&p), N);
  assert_memory_equal(p.data, before, sizeof before);
  for (int i = 0; i < N; i++) p.diff[i] = -1.0f;
  dc_param_reduce_grad(&p);
  for (int i = 0; i < N; i++) assert_true(p.diff[i] == -1.0f);

  /* SHARED -> DENSE: the expanded values remain, codebook gone */
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  assert_int_equal(dc_param_set_shared(&p, 2, cb, index), DC_OK);
  memcpy(before, p.data, sizeof before);
  dc_param_make_dense(&p);
  assert_int_equal(p.kind, DC_PARAM_DENSE);
  assert_null(p.mask);
  assert_null(p.index);
  assert_null(p.codebook);
  assert_null(p.codebook_diff);
  assert_null(p.codebook_history);
  assert_int_equal(p.k, 0);
  assert_int_equal(p.bits, 0);
  assert_memory_equal(p.data, before, sizeof before);
  dc_param_view v = dc_param_view_of(&p);
  assert_ptr_equal(v.value, p.data);
  assert_int_equal(v.n, N);

  /* release is idempotent and fine on a DENSE param (ASan checks for leaks) */
  assert_int_equal(dc_param_set_shared(&p, 2, cb, index), DC_OK);
  dc_param_release(&p);
  assert_null(p.mask);
  assert_null(p.codebook);
  dc_param_release(&p);
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ fillers */

static void test_fill_xavier(void **state) {
  (void)state;
  enum { N = 10000 };
  dc_param p = tu_param("conv1/weight", N);
  p.fan_in = 75; /* e.g. 3 x 5 x 5 */
  p.filler.kind = DC_FILL_XAVIER;
  dc_param_fill(&p, 42);
  const double s = sqrt(3.0 / 75.0);
  double lo = 1, hi = -1, mean = 0;
  for (int i = 0; i < N; i++) {
    assert_true(p.data[i] >= -s - 1e-6 && p.data[i] <= s + 1e-6);
    lo = fmin(lo, p.data[i]);
    hi = fmax(hi, p.data[i]);
    mean += p.data[i];
  }
  mean /= N;
  assert_true(lo < -0.98 * s && hi > 0.98 * s); /* the whole range is used */
  assert_true(fabs(mean) < 0.05 * s);
  tu_param_free(&p);
}

static void test_fill_gaussian_and_constant(void **state) {
  (void)state;
  enum { N = 10000 };
  dc_param p = tu_param("fc1/weight", N);
  p.filler.kind = DC_FILL_GAUSSIAN;
  p.filler.std = 0.01f;
  dc_param_fill(&p, 7);
  double sum = 0, sq = 0;
  for (int i = 0; i < N; i++) sum += p.data[i];
  double mean = sum / N;
  for (int i = 0; i < N; i++) sq += (p.data[i] - mean) * (p.data[i] - mean);
  double sd = sqrt(sq / (N - 1));
  assert_true(fabs(sd - 0.01) < 0.0005); /* 5%: the std error of sd is ~0.7% here */
  assert_true(fabs(mean) < 0.0005);

  p.filler.kind = DC_FILL_CONSTANT;
  p.filler.value = 0.25f;
  dc_param_fill(&p, 7);
  for (int i = 0; i < N; i++) assert_true(p.data[i] == 0.25f);
  tu_param_free(&p);
}

static void test_fill_seeding(void **state) {
  (void)state;
  enum { N = 100 };
  dc_param a = tu_param("conv1/weight", N), b = tu_param("conv1/weight", N), c = tu_param("conv2/weight", N);
  a.filler.kind = b.filler.kind = c.filler.kind = DC_FILL_XAVIER;
  dc_param_fill(&a, 1234);
  dc_param_fill(&b, 1234);
  dc_param_fill(&c, 1234);
  assert_memory_equal(a.data, b.data, sizeof(float) * N);
  int differ = 0;
  for (int i = 0; i < N; i++) differ += a.data[i] != c.data[i];
  assert_true(differ > N - 3);
  dc_param_fill(&b, 1235); /* another seed, same name: other values too */
  differ = 0;
  for (int i = 0; i < N; i++) differ += a.data[i] != b.data[i];
  assert_true(differ > N - 3);
  tu_param_free(&a);
  tu_param_free(&b);
  tu_param_free(&c);
}

/* Filling a MASKED param keeps its pruned weights at 0. */
static void test_fill_masked(void **state) {
  (void)state;
  enum { N = 80 };
  dc_param p = tu_param("fc2/weight", N);
  uint8_t keep[N];
  random_keep(keep, N, 22, 50);
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  p.filler.kind = DC_FILL_CONSTANT;
  p.filler.value = 1.0f;
  dc_param_fill(&p, 3);
  for (int i = 0; i < N; i++) assert_true(keep[i] ? p.data[i] == 1.0f : is_pos_zero(p.data[i]));
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ out of memory */

/* A param whose count no allocator can serve: only the mask allocation is reached
 * (data is not touched before it), so NULL buffers are safe here. */
static dc_param huge(const char *name) {
  dc_param p;
  memset(&p, 0, sizeof p);
  snprintf(p.name, sizeof p.name, "%s", name);
  p.count = SIZE_MAX / 2;
  return p;
}

static void test_set_mask_out_of_memory(void **state) {
  (void)state;
  dc_param p = huge("big/weight");
  uint8_t keep[1] = {1};
  dc_failure_clear();
  assert_int_equal(dc_param_set_mask(&p, keep), DC_ERR_NOMEM);
  assert_string_equal(dc_failure_reason(), "out of memory for the mask of big/weight");
  assert_int_equal(p.kind, DC_PARAM_DENSE);
  assert_null(p.mask);
  dc_failure_clear();
}

static void test_set_shared_out_of_memory(void **state) {
  (void)state;
  dc_param p = huge("big2/weight");
  const float cb[2] = {0, 1};
  uint8_t index[1] = {0};
  dc_failure_clear();
  assert_int_equal(dc_param_set_shared(&p, 1, cb, index), DC_ERR_NOMEM);
  assert_string_equal(dc_failure_reason(), "out of memory for the mask of big2/weight");
  assert_int_equal(p.kind, DC_PARAM_DENSE);
  assert_null(p.mask);
  assert_null(p.codebook);
  dc_failure_clear();
}

/* What travels between ranks: all of a DENSE gradient in place, only the kept entries of
 * a MASKED one (packed, then scattered back), only the k centroid gradients of a SHARED one. */
static void test_grad_pack_per_kind(void **state) {
  (void)state;
  dc_param p = tu_param("l/weight", 10);
  for (int i = 0; i < 10; i++) p.diff[i] = (float)(i + 1);
  float scratch[10], *where = NULL;
  assert_int_equal(dc_param_comm_scratch(&p), 0);
  assert_int_equal(dc_param_grad_pack(&p, scratch, &where), 10);
  assert_ptr_equal(where, p.diff);
  uint8_t keep[10] = {1, 0, 0, 1, 1, 0, 0, 0, 0, 1};
  assert_int_equal(dc_param_set_mask(&p, keep), DC_OK);
  for (int i = 0; i < 10; i++) p.diff[i] = (float)(i + 1);
  dc_param_reduce_grad(&p);
  assert_int_equal(dc_param_comm_scratch(&p), 4);
  assert_int_equal(dc_param_grad_pack(&p, scratch, &where), 4);
  assert_ptr_equal(where, scratch);
  float want[4] = {1, 4, 5, 10};
  assert_memory_equal(scratch, want, sizeof want);
  for (int i = 0; i < 4; i++) scratch[i] *= 2; /* as if summed over two ranks */
  dc_param_grad_unpack(&p, scratch);
  for (int i = 0; i < 10; i++) assert_true(p.diff[i] == (keep[i] ? 2.0f * (float)(i + 1) : 0.0f));
  float cb[4] = {-1, 0, 1, 2};
  uint8_t idx[10] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1};
  assert_int_equal(dc_param_set_shared(&p, 2, cb, idx), DC_OK);
  for (int i = 0; i < 10; i++) p.diff[i] = 1.0f;
  dc_param_reduce_grad(&p);
  assert_int_equal(dc_param_comm_scratch(&p), 0);
  assert_int_equal(dc_param_grad_pack(&p, scratch, &where), 4);
  assert_ptr_equal(where, p.codebook_diff);
  /* kept weights 0 (idx 0), 3 (3), 4 (0), 9 (1): centroid gradients 2, 1, 0, 1 */
  float cg[4] = {2, 1, 0, 1};
  assert_memory_equal(p.codebook_diff, cg, sizeof cg);
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ SPLICED */

/* Pruning with splicing: the shadow of a pruned weight follows its gradient while data
 * stays 0 there, and when the shadow outgrows a kept weight the next choice of the mask
 * brings it back, at exactly the density asked; ending it leaves a MASKED param with
 * the same data and the MASKED invariant (pruned momentum 0). */
static void test_spliced_regrows(void **state) {
  (void)state;
  dc_param p = tu_param("fc/weight", 8);
  const float w0[8] = {0.8f, -0.1f, 0.6f, 0.05f, -0.7f, 0.2f, -0.5f, 0.3f};
  memcpy(p.data, w0, sizeof w0);
  assert_int_equal(dc_param_set_spliced(&p, 1), DC_OK);
  assert_int_equal(p.kind, DC_PARAM_SPLICED);
  assert_string_equal(dc_param_kind_name(p.kind), "spliced");
  assert_memory_equal(p.shadow, w0, sizeof w0);
  assert_int_equal(dc_prune_density(&p, 0.5), DC_OK); /* keeps 0.8, 0.6, -0.7, -0.5 */
  const uint8_t first[8] = {1, 0, 1, 0, 1, 0, 1, 0};
  assert_memory_equal(p.mask, first, 8);
  for (int i = 0; i < 8; i++) {
    assert_true(first[i] ? same_bits(p.data[i], w0[i]) : is_pos_zero(p.data[i]));
    assert_true(same_bits(p.shadow[i], w0[i])); /* the pruned ones keep their values */
  }
  /* a gradient on pruned weight 5 (0.2) only: the update moves its shadow, not its data */
  dc_solver_conf c = {.momentum = 0.0, .weight_decay = 0.0};
  dc_params ps = {.p = &p, .count = 1};
  memset(p.diff, 0, sizeof(float) * 8);
  p.diff[5] = -1.0f;
  p.lr_mult = 1.0f;
  dc_solver_step(&c, &ps, 1.0); /* shadow[5] = 0.2 + 1 */
  assert_true(fabsf(p.shadow[5] - 1.2f) < 1e-6f);
  assert_true(is_pos_zero(p.data[5]));
  assert_true(same_bits(p.diff[5], -1.0f)); /* not masked away */
  /* choosing again: weight 5 is back (with its shadow's value), the smallest kept one out */
  assert_int_equal(dc_prune_density(&p, 0.5), DC_OK);
  const uint8_t second[8] = {1, 0, 1, 0, 1, 1, 0, 0};
  assert_memory_equal(p.mask, second, 8);
  assert_true(same_bits(p.data[5], p.shadow[5]));
  assert_true(is_pos_zero(p.data[6]));
  assert_int_equal(dc_param_nonzero(&p), 4);
  /* the whole gradient travels between ranks: no packing */
  float scratch[8], *where = NULL;
  assert_int_equal(dc_param_comm_scratch(&p), 0);
  assert_int_equal(dc_param_grad_pack(&p, scratch, &where), 8);
  assert_ptr_equal(where, p.diff);
  /* end: MASKED, same data, pruned momentum and gradient 0 */
  for (int i = 0; i < 8; i++) p.history[i] = 0.5f;
  float data[8];
  memcpy(data, p.data, sizeof data);
  assert_int_equal(dc_param_set_spliced(&p, 0), DC_OK);
  assert_int_equal(p.kind, DC_PARAM_MASKED);
  assert_null(p.shadow);
  assert_memory_equal(p.data, data, sizeof data);
  for (int i = 0; i < 8; i++) {
    assert_true(second[i] ? p.history[i] == 0.5f : is_pos_zero(p.history[i]));
    if (!second[i]) assert_true(is_pos_zero(p.diff[i]));
  }
  /* a MASKED param ranks only its kept weights: nothing comes back */
  assert_int_equal(dc_prune_density(&p, 0.75), DC_OK);
  assert_memory_equal(p.mask, second, 8);
  tu_param_free(&p);
}

/* Hysteresis: with a margin, a pruned weight comes back only when its shadow outgrows
 * the smallest kept one by more than that margin. */
static void test_splice_margin(void **state) {
  (void)state;
  dc_param p = tu_param("fc/weight", 4);
  const float w0[4] = {0.5f, 0.45f, 0.3f, 0.2f};
  memcpy(p.data, w0, sizeof w0);
  assert_int_equal(dc_param_set_spliced(&p, 1), DC_OK);
  assert_int_equal(dc_prune_splice(&p, 0.5, 0.1), DC_OK);
  const uint8_t top2[4] = {1, 1, 0, 0}, swapped[4] = {1, 0, 1, 0};
  assert_memory_equal(p.mask, top2, 4);
  p.shadow[2] = 0.48f; /* above 0.45, below 0.45 * 1.1 */
  assert_int_equal(dc_prune_splice(&p, 0.5, 0.1), DC_OK);
  assert_memory_equal(p.mask, top2, 4);
  assert_true(is_pos_zero(p.data[2]));
  p.shadow[2] = -0.5f; /* past the margin (magnitudes: the sign does not matter) */
  assert_int_equal(dc_prune_splice(&p, 0.5, 0.1), DC_OK);
  assert_memory_equal(p.mask, swapped, 4);
  assert_true(same_bits(p.data[2], -0.5f));
  /* without a margin the larger shadow wins at once */
  p.shadow[1] = 0.51f;
  assert_int_equal(dc_prune_splice(&p, 0.5, 0.1), DC_OK);
  assert_memory_equal(p.mask, swapped, 4);
  assert_int_equal(dc_prune_density(&p, 0.5), DC_OK);
  assert_memory_equal(p.mask, top2, 4);
  tu_param_free(&p);
}

/* A SPLICED param's shadow is part of what checkpoints, snapshots and broadcasts carry. */
static void test_spliced_parts_and_arrays(void **state) {
  (void)state;
  dc_param a = tu_param("l/weight", 6), b = tu_param("l/weight", 6);
  for (int i = 0; i < 6; i++) a.data[i] = 0.25f * (float)(i - 3);
  assert_int_equal(dc_param_set_spliced(&a, 1), DC_OK);
  assert_int_equal(dc_prune_density(&a, 0.5), DC_OK);
  a.shadow[3] = 0.125f; /* a pruned weight's shadow, moved since */
  dc_param_parts parts = dc_param_parts_of(&a);
  assert_ptr_equal(parts.shadow, a.shadow);
  assert_ptr_equal(parts.mask, a.mask);
  memcpy(b.data, a.data, sizeof(float) * 6);
  assert_int_equal(dc_param_set_parts(&b, &parts), DC_OK); /* a checkpoint load */
  assert_int_equal(b.kind, DC_PARAM_SPLICED);
  assert_memory_equal(b.shadow, a.shadow, sizeof(float) * 6);
  assert_memory_equal(b.mask, a.mask, 6);
  assert_memory_equal(b.data, a.data, sizeof(float) * 6);
  dc_param_snapshot snap;
  assert_int_equal(dc_param_snapshot_take(&a, &snap), DC_OK);
  assert_int_equal(dc_param_set_spliced(&a, 0), DC_OK);
  for (int i = 0; i < 6; i++) a.data[i] = 9.0f;
  assert_int_equal(dc_param_snapshot_restore(&a, &snap), DC_OK);
  assert_int_equal(a.kind, DC_PARAM_SPLICED);
  assert_memory_equal(a.shadow, b.shadow, sizeof(float) * 6);
  assert_memory_equal(a.data, b.data, sizeof(float) * 6);
  dc_param_snapshot_free(&snap);
  void *ptr[DC_PARAM_MAX_ARRAYS], *bp[DC_PARAM_MAX_ARRAYS];
  size_t bytes[DC_PARAM_MAX_ARRAYS], bb[DC_PARAM_MAX_ARRAYS];
  int n = dc_param_arrays(&a, ptr, bytes);
  assert_int_equal(n, 4); /* values, momentum, mask, shadow */
  dc_param c = tu_param("l/weight", 6);
  assert_int_equal(dc_param_adopt_kind(&c, a.kind, 0), DC_OK);
  assert_int_equal(c.kind, DC_PARAM_SPLICED);
  assert_int_equal(dc_param_arrays(&c, bp, bb), n);
  for (int j = 0; j < n; j++) assert_int_equal(bb[j], bytes[j]);
  /* from SPLICED to another kind and back to DENSE: no shadow left */
  assert_int_equal(dc_param_adopt_kind(&c, DC_PARAM_MASKED, 0), DC_OK);
  assert_int_equal(c.kind, DC_PARAM_MASKED);
  assert_null(c.shadow);
  assert_int_equal(dc_param_adopt_kind(&c, DC_PARAM_DENSE, 0), DC_OK);
  assert_null(c.mask);
  /* quantizing a SPLICED param ends splicing: SHARED on the same mask, no shadow */
  uint8_t mask[6], idx[6] = {0};
  float cb[2] = {-0.5f, 0.5f};
  memcpy(mask, b.mask, sizeof mask);
  assert_int_equal(dc_param_set_shared(&b, 1, cb, idx), DC_OK);
  assert_int_equal(b.kind, DC_PARAM_SHARED);
  assert_null(b.shadow);
  assert_null(dc_param_parts_of(&b).shadow);
  assert_memory_equal(b.mask, mask, sizeof mask);
  tu_param_free(&a);
  tu_param_free(&b);
  tu_param_free(&c);
}

/* A rank that receives another's parameter first takes on its kind, then its arrays. */
static void test_adopt_kind_and_arrays(void **state) {
  (void)state;
  dc_param a = tu_param("l/weight", 6), b = tu_param("l/weight", 6);
  void *ptr[DC_PARAM_MAX_ARRAYS];
  size_t bytes[DC_PARAM_MAX_ARRAYS];
  assert_int_equal(dc_param_arrays(&a, ptr, bytes), 2); /* values, momentum */
  uint8_t keep[6] = {1, 1, 0, 1, 0, 1}, idx[6] = {0, 1, 0, 1, 0, 0};
  float cb[2] = {-0.5f, 0.5f};
  assert_int_equal(dc_param_set_mask(&a, keep), DC_OK);
  assert_int_equal(dc_param_set_shared(&a, 1, cb, idx), DC_OK);
  int n = dc_param_arrays(&a, ptr, bytes);
  assert_int_equal(n, 5); /* values, codebook, its momentum, index, mask */
  assert_int_equal(dc_param_adopt_kind(&b, a.kind, a.bits), DC_OK);
  assert_int_equal(b.kind, DC_PARAM_SHARED);
  assert_int_equal(b.k, 2);
  void *bp[DC_PARAM_MAX_ARRAYS];
  size_t bb[DC_PARAM_MAX_ARRAYS];
  assert_int_equal(dc_param_arrays(&b, bp, bb), n);
  for (int j = 0; j < n; j++) {
    assert_int_equal(bb[j], bytes[j]);
    memcpy(bp[j], ptr[j], bytes[j]); /* what the broadcast does */
  }
  assert_memory_equal(b.data, a.data, sizeof(float) * 6);
  assert_memory_equal(b.mask, a.mask, 6);
  assert_memory_equal(b.index, a.index, 6);
  assert_memory_equal(b.codebook, a.codebook, sizeof(float) * 2);
  /* and back to dense */
  assert_int_equal(dc_param_adopt_kind(&b, DC_PARAM_DENSE, 0), DC_OK);
  assert_int_equal(b.kind, DC_PARAM_DENSE);
  assert_null(b.mask);
  tu_param_free(&a);
  tu_param_free(&b);
}

/* What a file stores beside the values follows the kind; setting those parts on another
 * param rebuilds the same one; a snapshot undoes any change of values and kind exactly. */
static void test_parts_and_snapshot(void **state) {
  (void)state;
  dc_param a = tu_param("l/weight", 6), b = tu_param("l/weight", 6);
  for (int i = 0; i < 6; i++) a.data[i] = 0.25f * (float)(i - 3);
  dc_param_parts parts = dc_param_parts_of(&a);
  assert_null(parts.mask);
  assert_null(parts.codebook);
  assert_int_equal(parts.bits, 0);
  uint8_t keep[6] = {1, 1, 0, 1, 0, 1}, idx[6] = {0, 1, 0, 1, 0, 0};
  float cb[2] = {-0.5f, 0.5f};
  assert_int_equal(dc_param_set_mask(&a, keep), DC_OK);
  parts = dc_param_parts_of(&a);
  assert_ptr_equal(parts.mask, a.mask);
  assert_null(parts.codebook);
  assert_null(parts.index);
  dc_param_snapshot masked;
  assert_int_equal(dc_param_snapshot_take(&a, &masked), DC_OK);
  float masked_data[6];
  memcpy(masked_data, a.data, sizeof masked_data);
  assert_int_equal(dc_param_set_shared(&a, 1, cb, idx), DC_OK);
  parts = dc_param_parts_of(&a);
  assert_ptr_equal(parts.codebook, a.codebook);
  assert_ptr_equal(parts.index, a.index);
  assert_int_equal(parts.bits, 1);
  /* b from a's values and parts, as a checkpoint load does */
  memcpy(b.data, a.data, sizeof(float) * 6);
  assert_int_equal(dc_param_set_parts(&b, &parts), DC_OK);
  assert_int_equal(b.kind, DC_PARAM_SHARED);
  assert_memory_equal(b.data, a.data, sizeof(float) * 6);
  assert_memory_equal(b.mask, a.mask, 6);
  assert_memory_equal(b.index, a.index, 6);
  assert_memory_equal(b.codebook, a.codebook, sizeof(float) * 2);
  /* a SHARED snapshot, then a change of kind and values, undone */
  dc_param_snapshot shared;
  assert_int_equal(dc_param_snapshot_take(&a, &shared), DC_OK);
  float shared_data[6];
  memcpy(shared_data, a.data, sizeof shared_data);
  dc_param_make_dense(&a);
  for (int i = 0; i < 6; i++) a.data[i] = 9.0f;
  assert_int_equal(dc_param_snapshot_restore(&a, &shared), DC_OK);
  assert_int_equal(a.kind, DC_PARAM_SHARED);
  assert_memory_equal(a.data, shared_data, sizeof shared_data);
  assert_memory_equal(a.codebook, cb, sizeof cb);
  assert_memory_equal(a.mask, keep, 6);
  /* and back to the MASKED one taken before quantizing */
  assert_int_equal(dc_param_snapshot_restore(&a, &masked), DC_OK);
  assert_int_equal(a.kind, DC_PARAM_MASKED);
  assert_null(a.codebook);
  assert_memory_equal(a.data, masked_data, sizeof masked_data);
  dc_param_snapshot_free(&masked);
  dc_param_snapshot_free(&shared);
  assert_null(shared.data);
  tu_param_free(&a);
  tu_param_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dense_view_and_grad),
      cmocka_unit_test(test_mask_zeroes_pruned_keeps_rest),
      cmocka_unit_test(test_masked_stays_zero_through_training),
      cmocka_unit_test(test_shared_expand_and_view),
      cmocka_unit_test(test_shared_from_dense_all_kept),
      cmocka_unit_test(test_shared_reduce_grad),
      cmocka_unit_test(test_shared_solver_step),
      cmocka_unit_test(test_shared_every_bit_width),
      cmocka_unit_test(test_shared_reshare),
      cmocka_unit_test(test_shared_then_mask),
      cmocka_unit_test(test_shared_centroid_gradcheck),
      cmocka_unit_test(test_make_dense_and_release),
      cmocka_unit_test(test_fill_xavier),
      cmocka_unit_test(test_fill_gaussian_and_constant),
      cmocka_unit_test(test_fill_seeding),
      cmocka_unit_test(test_fill_masked),
      cmocka_unit_test(test_set_mask_out_of_memory),
      cmocka_unit_test(test_set_shared_out_of_memory),
      cmocka_unit_test(test_grad_pack_per_kind),
      cmocka_unit_test(test_adopt_kind_and_arrays),
      cmocka_unit_test(test_parts_and_snapshot),
      cmocka_unit_test(test_spliced_regrows),
      cmocka_unit_test(test_splice_margin),
      cmocka_unit_test(test_spliced_parts_and_arrays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

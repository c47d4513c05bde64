/* test_kmeans.c — 1-D k-means for weight sharing: the sorted/prefix-sum Lloyd against a
 * plain O(n·k) Lloyd from the same init (identical assignments, centroids to rounding),
 * the three inits, empty clusters, k = 2^bits for bits 1..8, n < k, all-equal input,
 * max_iter = 0, n = 0 and the argument errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/compress.h"
#include "dc/rng.h"

static const dc_kmeans_init INITS[3] = {DC_KMEANS_LINEAR, DC_KMEANS_DENSITY, DC_KMEANS_RANDOM};

/* ---- reference: plain Lloyd, same loop structure as dc_kmeans_1d -----------------
 * assign = argmin |x - c| (double, first index on ties); update = mean, empty clusters
 * keep their centroid; centroids re-sorted after each update; stop when no value
 * changes cluster. */

static void ref_assign(const float *x, size_t n, const float *c, int k, uint8_t *a) {
  for (size_t i = 0; i < n; i++) {
    int best = 0;
    double bd = fabs((double)x[i] - c[0]);
    for (int j = 1; j < k; j++) {
      double d = fabs((double)x[i] - c[j]);
      if (d < bd) {
        bd = d;
        best = j;
      }
    }
    a[i] = (uint8_t)best;
  }
}

static void ref_kmeans(const float *x, size_t n, int k, dc_kmeans_init init, uint64_t seed,
                       int max_iter, float *c, uint8_t *a) {
  assert_int_equal(dc_kmeans_1d_init(x, n, k, init, seed, c), DC_OK);
  uint8_t *b = malloc(n + 1);
  ref_assign(x, n, c, k, a);
  for (int it = 0; it < max_iter; it++) {
    for (int j = 0; j < k; j++) {
      double sum = 0;
      size_t cnt = 0;
      for (size_t i = 0; i < n; i++)
        if (a[i] == j) {
          sum += x[i];
          cnt++;
        }
      if (cnt) c[j] = (float)(sum / (double)cnt); /* empty: keep */
    }
    /* keep centroids sorted (a kept empty duplicate can be overtaken by a mean) */
    for (int i = 1; i < k; i++) {
      float v = c[i];
      int j = i;
      for (; j > 0 && c[j - 1] > v; j--) c[j] = c[j - 1];
      c[j] = v;
    }
    ref_assign(x, n, c, k, b);
    int same = memcmp(a, b, n) == 0;
    memcpy(a, b, n);
    if (same) break;
  }
  free(b);
}

/* data kinds: 0 normal, 1 uniform, 2 heavy duplicates, 3 bimodal, 4 sparse-ish weights */
static void gen(float *x, size_t n, int kind, uint64_t seed) {
  dc_rng r;
  dc_rng_seed(&r, seed, (uint64_t)kind);
  for (size_t i = 0; i < n; i++) {
    float v;
    switch (kind) {
      case 0: v = dc_rng_normal(&r) * 0.1f; break;
      case 1: v = dc_rng_uniform(&r) * 2.0f - 1.0f; break;
      case 2: v = (float)(int)(dc_rng_uniform(&r) * 6.0f) * 0.25f; break;
      case 3: v = dc_rng_normal(&r) * 0.02f + (dc_rng_uniform(&r) < 0.5f ? -0.3f : 0.3f); break;
      default: v = dc_rng_uniform(&r) < 0.7f ? 0.0f : dc_rng_normal(&r); break;
    }
    x[i] = v;
  }
}

static void assert_sorted_finite(const float *c, int k) {
  for (int j = 0; j < k; j++) {
    assert_true(isfinite(c[j]));
    if (j) assert_true(c[j - 1] <= c[j]);
  }
}

static void compare_with_reference(size_t n, int k, int kind, dc_kmeans_init init, uint64_t seed) {
  float *x = malloc(n * sizeof *x + 4);
  uint8_t *a = malloc(n + 1), *ra = malloc(n + 1);
  float c[256], rc[256];
  gen(x, n, kind, seed);
  assert_int_equal(dc_kmeans_1d(x, n, k, init, seed, 100, c, a), DC_OK);
  ref_kmeans(x, n, k, init, seed, 100, rc, ra);
  assert_sorted_finite(c, k);
  for (size_t i = 0; i < n; i++) {
    if (a[i] != ra[i])
      fail_msg("n=%zu k=%d kind=%d init=%d seed=%llu: assign[%zu] = %d, reference %d", n, k, kind,
               (int)init, (unsigned long long)seed, i, a[i], ra[i]);
  }
  for (int j = 0; j < k; j++)
    if (fabsf(c[j] - rc[j]) > 1e-6f * (1.0f + fabsf(rc[j])))
      fail_msg("n=%zu k=%d kind=%d init=%d: centroid %d = %.9g, reference %.9g", n, k, kind,
               (int)init, j, (double)c[j], (double)rc[j]);
  free(x);
  free(a);
  free(ra);
}

static void test_matches_brute_force(void **state) {
  (void)state;
  const size_t ns[] = {1, 2, 5, 17, 64, 300, 1000};
  const int ks[] = {1, 2, 3, 4, 8, 16, 32};
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
    for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
      for (int kind = 0; kind < 5; kind++)
        for (int m = 0; m < 3; m++)
          compare_with_reference(ns[a], ks[b], kind, INITS[m], 1000 + a * 31 + b * 7 + (size_t)kind);
}

static void test_matches_brute_force_large(void **state) {
  (void)state;
  compare_with_reference(20000, 32, 0, DC_KMEANS_LINEAR, 7);
  compare_with_reference(20000, 16, 4, DC_KMEANS_DENSITY, 8);
  compare_with_reference(5000, 256, 3, DC_KMEANS_RANDOM, 9);
}

/* ---- inits ------------------------------------------------------------------------ */

static void test_init_linear(void **state) {
  (void)state;
  float x[] = {0.5f, -2.0f, 3.0f, 1.0f, 0.0f};
  float c[8];
  assert_int_equal(dc_kmeans_1d_init(x, 5, 6, DC_KMEANS_LINEAR, 0, c), DC_OK);
  for (int j = 0; j < 6; j++) assert_float_equal(c[j], -2.0f + j * 1.0f, 1e-6);
  assert_true(c[0] == -2.0f && c[5] == 3.0f);
  assert_int_equal(dc_kmeans_1d_init(x, 5, 1, DC_KMEANS_LINEAR, 0, c), DC_OK);
  assert_float_equal(c[0], 0.5f, 1e-7);
}

static void test_init_density(void **state) {
  (void)state;
  float x[100];
  for (int i = 0; i < 100; i++) x[i] = (float)((i * 37) % 100); /* a permutation of 0..99 */
  float c[4];
  assert_int_equal(dc_kmeans_1d_init(x, 100, 4, DC_KMEANS_DENSITY, 0, c), DC_OK);
  /* (j + 1/2)/4 quantiles: floor((2j+1)·100/8) = 12, 37, 62, 87 */
  assert_true(c[0] == 12.0f && c[1] == 37.0f && c[2] == 62.0f && c[3] == 87.0f);
  /* density puts more centroids where the data is dense */
  float y[1000];
  for (int i = 0; i < 1000; i++) y[i] = i < 900 ? (float)i * 1e-3f : 10.0f + (float)i;
  float d[8];
  assert_int_equal(dc_kmeans_1d_init(y, 1000, 8, DC_KMEANS_DENSITY, 0, d), DC_OK);
  int dense = 0;
  for (int j = 0; j < 8; j++) dense += d[j] < 1.0f;
  assert_int_equal(dense, 7);
}

static void test_init_random(void **state) {
  (void)state;
  float x[500];
  gen(x, 500, 0, 3);
  float c[16], c2[16], c3[16];
  assert_int_equal(dc_kmeans_1d_init(x, 500, 16, DC_KMEANS_RANDOM, 42, c), DC_OK);
  assert_int_equal(dc_kmeans_1d_init(x, 500, 16, DC_KMEANS_RANDOM, 42, c2), DC_OK);
  assert_int_equal(dc_kmeans_1d_init(x, 500, 16, DC_KMEANS_RANDOM, 43, c3), DC_OK);
  assert_memory_equal(c, c2, sizeof c);           /* same seed, same start */
  assert_true(memcmp(c, c3, sizeof c) != 0);      /* another seed, another start */
  for (int j = 0; j < 16; j++) {
    if (j) assert_true(c[j - 1] < c[j]);          /* distinct, sorted */
    int found = 0;
    for (int i = 0; i < 500; i++) found |= x[i] == c[j];
    assert_true(found);                           /* drawn from the data */
  }
  /* fewer distinct values than k: all of them, then the largest repeated */
  float y[9] = {2, 1, 2, 3, 1, 3, 3, 2, 1};
  float d[5];
  assert_int_equal(dc_kmeans_1d_init(y, 9, 5, DC_KMEANS_RANDOM, 1, d), DC_OK);
  float want[5] = {1, 2, 3, 3, 3};
  assert_memory_equal(d, want, sizeof want);
  /* every distinct value is eventually drawn first (uniform over distinct values) */
  int seen[4] = {0};
  for (uint64_t s = 0; s < 200; s++) {
    float e[1];
    assert_int_equal(dc_kmeans_1d_init(y, 9, 1, DC_KMEANS_RANDOM, s, e), DC_OK);
    seen[(int)e[0]]++;
  }
  assert_true(seen[1] > 30 && seen[2] > 30 && seen[3] > 30);
}

/* ---- behaviour ----------------------------------------------------------------------- */

static void test_empty_cluster_keeps_centroid(void **state) {
  (void)state;
  float x[] = {0, 0, 0, 10, 10, 10};
  float c[3];
  uint8_t a[6];
  /* linear init 0, 5, 10: nothing is nearest to 5, which must stay put (not NaN) */
  assert_int_equal(dc_kmeans_1d(x, 6, 3, DC_KMEANS_LINEAR, 0, 20, c, a), DC_OK);
  assert_true(c[0] == 0.0f && c[1] == 5.0f && c[2] == 10.0f);
  uint8_t want[] = {0, 0, 0, 2, 2, 2};
  assert_memory_equal(a, want, sizeof want);
  /* a cluster that empties during the iterations also keeps its last position */
  float y[] = {0, 1, 2, 3, 4, 100};
  float d[4];
  uint8_t b[6];
  assert_int_equal(dc_kmeans_1d(y, 6, 4, DC_KMEANS_LINEAR, 0, 50, d, b), DC_OK);
  assert_sorted_finite(d, 4);
  for (int i = 0; i < 6; i++) assert_true(b[i] < 4);
  assert_true(d[3] == 100.0f);
}

static double sse(const float *x, size_t n, const float *c, const uint8_t *a) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += ((double)x[i] - c[a[i]]) * ((double)x[i] - c[a[i]]);
  return s;
}

static void test_bits_1_to_8(void **state) {
  (void)state;
  const size_t n = 6000;
  float *x = malloc(n * sizeof *x);
  uint8_t *a = malloc(n), *ra = malloc(n);
  gen(x, n, 3, 11);
  double prev = INFINITY;
  for (int bits = 1; bits <= 8; bits++) {
    int k = 1 << bits;
    float c[256];
    assert_int_equal(dc_kmeans_1d(x, n, k, DC_KMEANS_LINEAR, 0, 1000, c, a), DC_OK);
    assert_sorted_finite(c, k);
    ref_assign(x, n, c, k, ra); /* every value sits at its nearest centroid */
    assert_memory_equal(a, ra, n);
    for (int j = 0; j < k; j++) { /* converged: nonempty centroids are their means */
      double sum = 0;
      size_t cnt = 0;
      for (size_t i = 0; i < n; i++)
        if (a[i] == j) {
          sum += x[i];
          cnt++;
        }
      if (cnt) assert_float_equal(c[j], sum / (double)cnt, 1e-6);
    }
    double e = sse(x, n, c, a);
    assert_true(e <= prev * 1.0001);
    prev = e;
  }
  free(x);
  free(a);
  free(ra);
}

static void test_n_less_than_k(void **state) {
  (void)state;
  float x[] = {0.3f, -0.1f, 0.7f};
  for (int m = 0; m < 3; m++) {
    float c[8];
    uint8_t a[3];
    assert_int_equal(dc_kmeans_1d(x, 3, 8, INITS[m], 5, 100, c, a), DC_OK);
    assert_sorted_finite(c, 8);
    for (int i = 0; i < 3; i++) {
      assert_true(a[i] < 8);
      assert_true(c[a[i]] == x[i]); /* three values, eight centroids: zero error */
    }
  }
}

static void test_all_equal(void **state) {
  (void)state;
  float x[100];
  for (int i = 0; i < 100; i++) x[i] = 0.25f;
  for (int m = 0; m < 3; m++) {
    float c[16];
    uint8_t a[100];
    assert_int_equal(dc_kmeans_1d(x, 100, 16, INITS[m], 5, 100, c, a), DC_OK);
    for (int j = 0; j < 16; j++) assert_true(c[j] == 0.25f);
    for (int i = 0; i < 100; i++) assert_int_equal(a[i], 0); /* ties: lowest index */
  }
}

static void test_max_iter_zero_and_empty_input(void **state) {
  (void)state;
  float x[50], c[4], c0[4];
  uint8_t a[50], ra[50];
  gen(x, 50, 1, 2);
  assert_int_equal(dc_kmeans_1d(x, 50, 4, DC_KMEANS_LINEAR, 0, 0, c, a), DC_OK);
  assert_int_equal(dc_kmeans_1d_init(x, 50, 4, DC_KMEANS_LINEAR, 0, c0), DC_OK);
  assert_memory_equal(c, c0, sizeof c);
  ref_assign(x, 50, c, 4, ra);
  assert_memory_equal(a, ra, sizeof a);
  /* one iteration stops early but assign still matches the returned centroids */
  assert_int_equal(dc_kmeans_1d(x, 50, 4, DC_KMEANS_LINEAR, 0, 1, c, a), DC_OK);
  ref_assign(x, 50, c, 4, ra);
  assert_memory_equal(a, ra, sizeof a);
  /* n = 0: all-zero centroids */
  c[0] = c[1] = c[2] = c[3] = 9.0f;
  assert_int_equal(dc_kmeans_1d(x, 0, 4, DC_KMEANS_RANDOM, 0, 10, c, a), DC_OK);
  for (int j = 0; j < 4; j++) assert_true(c[j] == 0.0f);
}

static void test_bad_args(void **state) {
  (void)state;
  float x[4] = {0, 1, 2, 3}, c[256];
  uint8_t a[4];
  dc_failure_clear();
  assert_int_equal(dc_kmeans_1d(x, 4, 0, DC_KMEANS_LINEAR, 0, 10, c, a), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "k = 0"));
  dc_failure_clear();
  assert_int_equal(dc_kmeans_1d(x, 4, 257, DC_KMEANS_LINEAR, 0, 10, c, a), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "1..256"));
  dc_failure_clear();
  assert_int_equal(dc_kmeans_1d(x, 4, 2, (dc_kmeans_init)7, 0, 10, c, a), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "init"));
  dc_failure_clear();
  assert_int_equal(dc_kmeans_1d(x, 4, 2, DC_KMEANS_LINEAR, 0, -1, c, a), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "max_iter"));
  x[2] = NAN;
  dc_failure_clear();
  assert_int_equal(dc_kmeans_1d(x, 4, 2, DC_KMEANS_LINEAR, 0, 10, c, a), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "x[2]"));
  x[2] = INFINITY;
  dc_failure_clear();
  assert_int_equal(dc_kmeans_1d_init(x, 4, 2, DC_KMEANS_DENSITY, 0, c), DC_ERR_ARG);
  assert_non_null(strstr(dc_failure_reason(), "not finite"));
  dc_failure_clear();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_brute_force),
      cmocka_unit_test(test_matches_brute_force_large),
      cmocka_unit_test(test_init_linear),
      cmocka_unit_test(test_init_density),
      cmocka_unit_test(test_init_random),
      cmocka_unit_test(test_empty_cluster_keeps_centroid),
      cmocka_unit_test(test_bits_1_to_8),
      cmocka_unit_test(test_n_less_than_k),
      cmocka_unit_test(test_all_equal),
      cmocka_unit_test(test_max_iter_zero_and_empty_input),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* compress/kmeans.c — exact 1-D k-means for weight sharing (Deep Compression §3.1).
 *
 * In one dimension, with centroids sorted, the values nearest each centroid form a
 * contiguous run of the sorted data. So after one O(n) radix sort, an iteration is:
 *   assignment: start[j] = first sorted position whose value belongs to a centroid
 *               >= j, found by binary search (k-1 searches, O(k log n));
 *   update:     c[j] = (P[start[j+1]] - P[start[j]]) / run length, P = prefix sums.
 * Convergence is "the run boundaries did not move", which is exactly "no value
 * changed cluster". Only the final assignment touches all n values again. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dc/compress.h"
#include "dc/rng.h"
#include "util.h"

/* ---------------------------------------------------------------- sorting */


/* Sort x[0..n) ascending: s[n] gets the values, perm[n] (may be NULL) the original
 * index of each. LSD radix sort on (key << 32 | index): stable, so ties keep input
 * order and the result is deterministic. */
static dc_status sort_values(const float *x, size_t n, float *s, uint32_t *perm) {
  uint64_t *a = dc_alloc(n * sizeof *a);
  uint64_t *b = dc_alloc(n * sizeof *b);
  if (!a || !b) {
    dc_free(a);
    dc_free(b);
    return DC_ERR_NOMEM;
  }
  for (size_t i = 0; i < n; i++) a[i] = ((uint64_t)dc_float_key(x[i]) << 32) | (uint64_t)i;
  for (int shift = 32; shift < 64; shift += 8) {
    size_t hist[256] = {0};
    for (size_t i = 0; i < n; i++) hist[(a[i] >> shift) & 0xff]++;
    if (n > 0 && hist[(a[0] >> shift) & 0xff] == n) continue; /* one bucket: no-op pass */
    size_t sum = 0;
    for (int d = 0; d < 256; d++) {
      size_t c = hist[d];
      hist[d] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++) b[hist[(a[i] >> shift) & 0xff]++] = a[i];
    uint64_t *t = a;
    a = b;
    b = t;
  }
  for (size_t i = 0; i < n; i++) {
    s[i] = dc_key_float((uint32_t)(a[i] >> 32));
    if (perm) perm[i] = (uint32_t)a[i];
  }
  dc_free(a);
  dc_free(b);
  return DC_OK;
}

/* ---------------------------------------------------------------- init */

static dc_status check_args(const float *x, size_t n, int k, dc_kmeans_init init) {
  if (k < 1 || k > 256) return dc_fail(DC_ERR_ARG, "kmeans: k = %d, must be 1..256", k);
  if (init != DC_KMEANS_LINEAR && init != DC_KMEANS_DENSITY && init != DC_KMEANS_RANDOM)
    return dc_fail(DC_ERR_ARG, "kmeans: unknown init method %d", (int)init);
  if (n > UINT32_MAX)
    return dc_fail(DC_ERR_ARG, "kmeans: %zu values, at most %u supported", n, UINT32_MAX);
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return dc_fail(DC_ERR_ARG, "kmeans: x[%zu] = %g is not finite", i, (double)x[i]);
  return DC_OK;
}

static void sort_small_floats(float *c, int k) {
  for (int i = 1; i < k; i++) {
    float v = c[i];
    int j = i;
    for (; j > 0 && c[j - 1] > v; j--) c[j] = c[j - 1];
    c[j] = v;
  }
}

/* Initial centroids from the sorted data s[0..n), n >= 1 (see dc_kmeans_1d_init). */
static void init_sorted(const float *s, size_t n, int k, dc_kmeans_init init, uint64_t seed,
                        float *c) {
  if (init == DC_KMEANS_LINEAR) {
    double lo = s[0], hi = s[n - 1];
    if (k == 1) {
      c[0] = (float)(lo + (hi - lo) / 2);
      return;
    }
    for (int j = 0; j < k; j++) c[j] = (float)(lo + (hi - lo) * j / (k - 1));
    c[0] = s[0];
    c[k - 1] = s[n - 1];
    return;
  }
  if (init == DC_KMEANS_DENSITY) {
    for (int j = 0; j < k; j++) c[j] = s[(uint64_t)(2 * j + 1) * n / (uint64_t)(2 * k)];
    return;
  }
  /* RANDOM: m distinct ranks among the u distinct values, Floyd's algorithm. */
  size_t u = 1;
  for (size_t i = 1; i < n; i++) u += s[i] != s[i - 1];
  int m = u < (size_t)k ? (int)u : k;
  uint32_t rank[256];
  dc_rng r;
  dc_rng_seed(&r, seed, dc_hash_str("dc_kmeans_1d"));
  int have = 0;
  for (uint64_t j = u - (uint64_t)m; j < u; j++) {
    uint32_t t = dc_rng_below(&r, (uint32_t)(j + 1));
    int dup = 0;
    for (int q = 0; q < have; q++) dup |= rank[q] == t;
    rank[have++] = dup ? (uint32_t)j : t;
  }
  for (int i = 1; i < m; i++) { /* ranks ascending, so one scan maps them to values */
    uint32_t v = rank[i];
    int j = i;
    for (; j > 0 && rank[j - 1] > v; j--) rank[j] = rank[j - 1];
    rank[j] = v;
  }
  uint32_t cur = 0; /* rank of the distinct value s[i] */
  int next = 0;
  for (size_t i = 0; i < n && next < m; i++) {
    if (i > 0 && s[i] != s[i - 1]) cur++;
    while (next < m && rank[next] == cur) c[next++] = s[i];
  }
  for (int j = m; j < k; j++) c[j] = c[m - 1];
}

dc_status dc_kmeans_1d_init(const float *x, size_t n, int k, dc_kmeans_init init, uint64_t seed,
                            float *centroids) {
  DC_TRY(check_args(x, n, k, init));
  if (n == 0) {
    for (int j = 0; j < k; j++) centroids[j] = 0.0f;
    return DC_OK;
  }
  float *s = dc_alloc(n * sizeof *s);
  if (!s) return DC_ERR_NOMEM;
  dc_status st = sort_values(x, n, s, NULL);
  if (st == DC_OK) init_sorted(s, n, k, init, seed, centroids);
  dc_free(s);
  return st;
}

/* ---------------------------------------------------------------- Lloyd */

static double dist(float x, float c) { return fabs((double)x - (double)c); }

/* Run boundaries for sorted centroids c[k]: start[0] = 0, start[k] = n, and start[j]
 * the first sorted position whose nearest centroid (lowest index on ties) is >= j.
 * That holds iff x is strictly nearer to the first centroid above c[j-1] — c[q], q
 * the first index >= j with c[q] > c[j-1] — than to c[j-1]; centroids equal to
 * c[j-1] never win (ties go to the lower index), so their runs are empty. */
static void assign_runs(const float *s, size_t n, const float *c, int k, size_t *start) {
  start[0] = 0;
  start[k] = n;
  int q = 1;
  for (int j = 1; j < k; j++) {
    if (q < j) q = j;
    while (q < k && !(c[q] > c[j - 1])) q++;
    if (q == k) {
      start[j] = n;
      continue;
    }
    size_t lo = start[j - 1], hi = n; /* answer in [lo, hi]; runs never go backwards */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (dist(s[mid], c[q]) < dist(s[mid], c[j - 1]))
        hi = mid;
      else
        lo = mid + 1;
    }
    start[j] = lo;
  }
}

/* Move each centroid to the mean of its run; empty runs keep their centroid. The
 * mean is clamped into [first, last] of its run so rounding in the prefix-sum
 * difference can never push it past a neighbouring run's values. */
static void update_centroids(const float *s, const double *P, const size_t *start, int k,
                             float *c) {
  for (int j = 0; j < k; j++) {
    size_t a = start[j], b = start[j + 1];
    if (b <= a) continue;
    float m = (float)((P[b] - P[a]) / (double)(b - a));
    if (m < s[a]) m = s[a];
    if (m > s[b - 1]) m = s[b - 1];
    c[j] = m;
  }
  /* Distinct centroids stay sorted (each mean lies in its own Voronoi cell), but an
   * empty duplicate kept in place can be overtaken by its twin's new mean: re-sort,
   * since assign_runs relies on sorted centroids. */
  for (int j = 1; j < k; j++)
    if (c[j] < c[j - 1]) {
      sort_small_floats(c, k);
      break;
    }
}

dc_status dc_kmeans_1d(const float *x, size_t n, int k, dc_kmeans_init init, uint64_t seed,
                       int max_iter, float *centroids, uint8_t *assign) {
  DC_TRY(check_args(x, n, k, init));
  if (max_iter < 0) return dc_fail(DC_ERR_ARG, "kmeans: max_iter = %d, must be >= 0", max_iter);
  if (n == 0) {
    for (int j = 0; j < k; j++) centroids[j] = 0.0f;
    return DC_OK;
  }
  float *s = dc_alloc(n * sizeof *s);
  uint32_t *perm = dc_alloc(n * sizeof *perm);
  double *P = dc_alloc((n + 1) * sizeof *P);
  size_t start[257], prev[257];
  dc_status st = (s && perm && P) ? DC_OK : DC_ERR_NOMEM;
  if (st == DC_OK) st = sort_values(x, n, s, perm);
  if (st == DC_OK) {
    P[0] = 0.0;
    for (size_t i = 0; i < n; i++) P[i + 1] = P[i] + (double)s[i];
    init_sorted(s, n, k, init, seed, centroids);
    assign_runs(s, n, centroids, k, prev);
    for (int it = 0; it < max_iter; it++) {
      update_centroids(s, P, prev, k, centroids);
      assign_runs(s, n, centroids, k, start);
      int same = memcmp(start, prev, (size_t)(k + 1) * sizeof *start) == 0;
      memcpy(prev, start, (size_t)(k + 1) * sizeof *start);
      if (same) break;
    }
    /* prev holds the runs of the returned centroids: scatter back to input order */
    for (int j = 0; j < k; j++)
      for (size_t i = prev[j]; i < prev[j + 1]; i++) assign[perm[i]] = (uint8_t)j;
  }
  dc_free(s);
  dc_free(perm);
  dc_free(P);
  return st;
}

/* test_prune.c — Deep Compression stages 1 and 2 on single parameters and through real
 * layers (dc/prune.h):
 *   - dc_prune_density: exactly round(d·count) largest magnitudes kept (ties: lower index),
 *     successive masks nest, asking for more than remains keeps what remains, density 1
 *     turns a DENSE parameter MASKED with everything kept;
 *   - dc_prune_quality: threshold = q · std of the kept weights, against a hand computation;
 *   - dc_quantize: centroids are k-means of the kept weights alone, kept weights index their
 *     nearest centroid, every bit width 1..8;
 *   - the centroid gradient of SHARED fc and conv weights through forward + backward +
 *     dc_param_reduce_grad against central differences of the loss in each centroid, with
 *     and without pruned weights;
 *   - many full training steps (momentum, weight decay, dropout) through a real net: pruned
 *     weights stay exactly 0, SHARED indices stay fixed while the centroids move. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/prune.h"
#include "dc/rng.h"
#include "dc/solver.h"
#include "util_net.h"

/* ------------------------------------------------------------------ helpers */

/* The mask dc_prune_density should produce, computed the slow obvious way: repeatedly
 * pick the not-yet-chosen candidate (kept in `prev`, or every index when prev is NULL)
 * with the largest |x|, the lower index winning ties. */
static void expected_density_mask(const float *x, const uint8_t *prev, size_t n, size_t keep, uint8_t *out) {
  memset(out, 0, n);
  for (size_t round = 0; round < keep; round++) {
    size_t best = n;
    for (size_t i = 0; i < n; i++) {
      if ((prev && !prev[i]) || out[i]) continue;
      if (best == n || fabsf(x[i]) > fabsf(x[best])) best = i; /* strict: lower index wins ties */
    }
    assert_true(best < n);
    out[best] = 1;
  }
}

/* ------------------------------------------------------------------ density */

/* Values with many exact magnitude ties (including +v / -v pairs) so the boundary of the
 * kept set falls inside a tie group. */
static void tied_values(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = (float)((i * 7) % 13) * 0.125f; /* 13 distinct magnitudes, exact in binary */
    x[i] = (i % 3 == 0) ? -v : v;
  }
}

static void density_keeps_largest_ties_lower_index(void **state) {
  (void)state;
  enum { N = 100 };
  const double densities[] = {0.37, 0.5, 0.08, 0.9, 0.0};
  for (size_t c = 0; c < sizeof densities / sizeof densities[0]; c++) {
    dc_param p = tu_param("fc1/weight", N);
    float x[N];
    uint8_t want[N];
    tied_values(x, N);
    memcpy(p.data, x, sizeof x);
    size_t keep = (size_t)llround(densities[c] * N);
    expected_density_mask(x, NULL, N, keep, want);
    assert_int_equal(dc_prune_density(&p, densities[c]), DC_OK);
    assert_int_equal(p.kind, DC_PARAM_MASKED);
    assert_int_equal(dc_param_nonzero(&p), keep);
    if (memcmp(p.mask, want, N) != 0) fail_msg("density %g: mask differs from the hand-ranked one", densities[c]);
    for (size_t i = 0; i < N; i++) {
      if (want[i]) assert_true(p.data[i] == x[i]); /* kept values untouched */
      else assert_true(p.data[i] == 0.0f && p.history[i] == 0.0f);
    }
    tu_param_free(&p);
  }
  /* round(), not floor(): 0.25 · 10 = 2.5 keeps 3; 0.34 · 10 = 3.4 keeps 3; 0.36 · 10 keeps 4 */
  const struct {
    double d;
    size_t keep;
  } rounding[] = {{0.25, 3}, {0.34, 3}, {0.36, 4}, {0.04, 0}, {0.05, 1}};
  for (size_t c = 0; c < sizeof rounding / sizeof rounding[0]; c++) {
    dc_param p = tu_param("fc1/weight", 10);
    for (int i = 0; i < 10; i++) p.data[i] = (float)(i + 1);
    assert_int_equal(dc_prune_density(&p, rounding[c].d), DC_OK);
    if (dc_param_nonzero(&p) != rounding[c].keep)
      fail_msg("density %g of 10: kept %zu, want %zu", rounding[c].d, dc_param_nonzero(&p), rounding[c].keep);
    /* the largest ones: indices 10-keep .. 9 */
    for (int i = 0; i < 10; i++) assert_int_equal(p.mask[i], (size_t)i >= 10 - rounding[c].keep);
    tu_param_free(&p);
  }
}

/* Magnitudes that share their upper 16 bits (1 + j·2^-23: the selection is decided in the
 * low half of the key), with ties, signed zeros, and a second round over a mask. */
static void density_select_within_one_bucket(void **state) {
  (void)state;
  enum { N = 600 };
  dc_rng r;
  dc_rng_seed(&r, 5, 1);
  const double densities[] = {0.5, 0.11, 0.99, 0.002};
  for (size_t c = 0; c < sizeof densities / sizeof densities[0]; c++) {
    dc_param p = tu_param("fc1/weight", N);
    float x[N];
    uint8_t want[N], first[N];
    for (size_t i = 0; i < N; i++) {
      float v = 1.0f + (float)dc_rng_below(&r, 200) * 0x1p-23f;
      x[i] = i % 50 == 0 ? (i % 100 == 0 ? -0.0f : 0.0f) : (dc_rng_below(&r, 2) ? -v : v);
    }
    memcpy(p.data, x, sizeof x);
    expected_density_mask(x, NULL, N, (size_t)llround(densities[c] * N), want);
    assert_int_equal(dc_prune_density(&p, densities[c]), DC_OK);
    if (memcmp(p.mask, want, N) != 0) fail_msg("density %g: mask differs from the hand-ranked one", densities[c]);
    memcpy(first, want, N);
    double d2 = densities[c] * 0.5;
    expected_density_mask(x, first, N, (size_t)llround(d2 * N), want);
    assert_int_equal(dc_prune_density(&p, d2), DC_OK);
    if (memcmp(p.mask, want, N) != 0) fail_msg("density %g then %g: mask differs", densities[c], d2);
    tu_param_free(&p);
  }
}

static void density_masks_nest(void **state) {
  (void)state;
  enum { N = 500 };
  dc_param p = tu_param("ip1/weight", N);
  tu_fill(p.data, N, 5, -1, 1);
  dc_rng r;
  dc_rng_seed(&r, 5, 1);
  const double schedule[] = {0.7, 0.45, 0.3, 0.12};
  uint8_t prev[N], want[N];
  float before[N];
  memset(prev, 1, N);
  for (size_t s = 0; s < sizeof schedule / sizeof schedule[0]; s++) {
    /* "retraining" between rounds moves the kept weights, some past pruned magnitudes */
    for (size_t i = 0; i < N; i++)
      if (!p.mask || p.mask[i]) p.data[i] += 0.5f * (dc_rng_uniform(&r) - 0.5f);
    memcpy(before, p.data, sizeof before);
    size_t keep = (size_t)llround(schedule[s] * N);
    expected_density_mask(before, p.mask, N, keep, want);
    assert_int_equal(dc_prune_density(&p, schedule[s]), DC_OK);
    assert_int_equal(dc_param_nonzero(&p), keep);
    assert_memory_equal(p.mask, want, N);
    for (size_t i = 0; i < N; i++) {
      if (p.mask[i] && !prev[i]) fail_msg("round %zu revived weight %zu", s, i);
      if (!p.mask[i]) assert_true(p.data[i] == 0.0f);
    }
    memcpy(prev, p.mask, N);
  }
  /* asking for more than remains keeps what remains, values and mask unchanged */
  memcpy(before, p.data, sizeof before);
  size_t kept = dc_param_nonzero(&p);
  const double more[] = {0.5, 1.0, 0.12};
  for (size_t s = 0; s < 3; s++) {
    assert_int_equal(dc_prune_density(&p, more[s]), DC_OK);
    assert_int_equal(dc_param_nonzero(&p), kept);
    assert_memory_equal(p.mask, prev, N);
    assert_memory_equal(p.data, before, sizeof before);
    assert_int_equal(p.kind, DC_PARAM_MASKED);
  }
  tu_param_free(&p);
}

static void density_one_on_dense(void **state) {
  (void)state;
  enum { N = 64 };
  dc_param p = tu_param("conv1/weight", N);
  tu_fill(p.data, N, 6, -1, 1);
  p.data[3] = 0.0f; /* an exact zero weight is still "kept" at density 1 */
  float before[N];
  memcpy(before, p.data, sizeof before);
  assert_null(p.mask);
  assert_int_equal(dc_prune_density(&p, 1.0), DC_OK);
  assert_int_equal(p.kind, DC_PARAM_MASKED);
  assert_non_null(p.mask);
  assert_int_equal(dc_param_nonzero(&p), N);
  for (int i = 0; i < N; i++) assert_int_equal(p.mask[i], 1);
  assert_memory_equal(p.data, before, sizeof before);
  /* density 0 prunes everything */
  assert_int_equal(dc_prune_density(&p, 0.0), DC_OK);
  assert_int_equal(dc_param_nonzero(&p), 0);
  for (int i = 0; i < N; i++) assert_true(p.data[i] == 0.0f);
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ quality */

static void quality_threshold_is_q_std_of_kept(void **state) {
  (void)state;
  enum { N = 400 };
  dc_param p = tu_param("ip2/weight", N);
  tu_fill(p.data, N, 8, -0.3f, 0.5f); /* non-zero mean: a std about 0 would differ */
  /* prune first so the std must skip pruned entries (whose data are now 0) */
  assert_int_equal(dc_prune_density(&p, 0.6), DC_OK);
  uint8_t before_mask[N];
  float before[N];
  memcpy(before_mask, p.mask, N);
  memcpy(before, p.data, sizeof before);
  double sum = 0, n = 0;
  for (int i = 0; i < N; i++)
    if (before_mask[i]) sum += before[i], n++;
  double mean = sum / n, var = 0;
  for (int i = 0; i < N; i++)
    if (before_mask[i]) var += (before[i] - mean) * (before[i] - mean);
  double sd = sqrt(var / n);
  assert_true(fabs(dc_param_std(&p) - sd) <= 1e-9 * sd + 1e-12);
  /* the std of all entries (zeros included) is clearly different: the test can tell */
  double all_sum = 0, all_sq = 0;
  for (int i = 0; i < N; i++) all_sum += before[i], all_sq += (double)before[i] * before[i];
  double all_sd = sqrt(all_sq / N - (all_sum / N) * (all_sum / N));
  assert_true(fabs(all_sd - sd) > 0.02 * sd);

  const double q = 1.1;
  double thr = q * sd;
  size_t want_kept = 0;
  for (int i = 0; i < N; i++) {
    if (!before_mask[i]) continue;
    /* no value sits on the threshold (else the rounding of std decides) */
    assert_true(fabs(fabs(before[i]) - thr) > 1e-6);
    want_kept += fabs(before[i]) >= thr;
  }
  assert_true(want_kept > 10 && want_kept < dc_param_nonzero(&p) - 10);
  assert_int_equal(dc_prune_quality(&p, q), DC_OK);
  assert_int_equal(dc_param_nonzero(&p), want_kept);
  for (int i = 0; i < N; i++) {
    int want = before_mask[i] && fabs(before[i]) >= thr;
    if (p.mask[i] != want) fail_msg("weight %d (%g, threshold %g): mask %d, want %d", i, before[i], thr, p.mask[i], want);
    assert_true(p.data[i] == (want ? before[i] : 0.0f));
  }
  /* quality 0 keeps every kept weight */
  memcpy(before_mask, p.mask, N);
  assert_int_equal(dc_prune_quality(&p, 0.0), DC_OK);
  assert_memory_equal(p.mask, before_mask, N);
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ quantize */

static void quantize_clusters_kept_weights_only(void **state) {
  (void)state;
  enum { N = 300 };
  for (int bits = 1; bits <= 8; bits++) {
    for (int init = 0; init < 3; init++) {
      dc_param p = tu_param("ip1/weight", N);
      tu_fill(p.data, N, 10 + (uint64_t)bits, -1, 1);
      /* the pruned half holds the small magnitudes: their zeros would pull the centroids */
      assert_int_equal(dc_prune_density(&p, 0.5), DC_OK);
      float before[N], kept[N];
      uint8_t mask[N], assign[N];
      memcpy(before, p.data, sizeof before);
      memcpy(mask, p.mask, N);
      size_t n = 0;
      for (int i = 0; i < N; i++)
        if (mask[i]) kept[n++] = before[i];
      int k = 1 << bits;
      float want[256];
      assert_int_equal(dc_kmeans_1d(kept, n, k, (dc_kmeans_init)init, 99, 1000, want, assign), DC_OK);

      assert_int_equal(dc_quantize(&p, bits, (dc_kmeans_init)init, 99), DC_OK);
      assert_int_equal(p.kind, DC_PARAM_SHARED);
      assert_int_equal(p.bits, bits);
      assert_int_equal(p.k, k);
      assert_memory_equal(p.mask, mask, N);
      if (memcmp(p.codebook, want, sizeof(float) * (size_t)k) != 0)
        fail_msg("bits %d init %d: codebook is not k-means of the kept weights", bits, init);
      for (int j = 0; j < k; j++) assert_true(p.codebook_history[j] == 0.0f);
      for (int i = 0; i < N; i++) {
        if (!mask[i]) {
          assert_true(p.data[i] == 0.0f);
          continue;
        }
        assert_true(p.index[i] < k);
        assert_true(p.data[i] == p.codebook[p.index[i]]);
        double d = fabs((double)before[i] - p.codebook[p.index[i]]);
        for (int j = 0; j < k; j++)
          if (fabs((double)before[i] - p.codebook[j]) < d)
            fail_msg("bits %d: weight %d (%g) indexes centroid %d (%g) but %d (%g) is nearer", bits, i, before[i],
                     p.index[i], p.codebook[p.index[i]], j, p.codebook[j]);
      }
      if (bits == 3 && init == DC_KMEANS_LINEAR) {
        /* non-vacuous: clustering everything, zeros included, gives other centroids */
        float all[256];
        uint8_t aa[N];
        assert_int_equal(dc_kmeans_1d(before, N, k, DC_KMEANS_LINEAR, 99, 1000, all, aa), DC_OK);
        assert_memory_not_equal(all, want, sizeof(float) * (size_t)k);
      }
      tu_param_free(&p);
    }
  }
  /* a DENSE parameter quantizes with every weight kept */
  dc_param p = tu_param("ip2/weight", 50);
  tu_fill(p.data, 50, 3, -1, 1);
  assert_int_equal(dc_quantize(&p, 2, DC_KMEANS_LINEAR, 1), DC_OK);
  assert_int_equal(p.kind, DC_PARAM_SHARED);
  assert_int_equal(dc_param_nonzero(&p), 50);
  tu_param_free(&p);
}

/* ------------------------------------------------------------------ centroid gradient */

/* Quantize layer `layer`'s weight (after pruning to `density` when < 1), run forward +
 * backward on random input and labels, reduce, and compare codebook_diff[k] with central
 * differences of the loss in codebook[k]. */
static void centroid_gradcheck(const char *text, const char *layer, int bits, double density) {
  enum { BATCH = 4 };
  dc_net *net = tu_net(text, BATCH, DC_NET_TRAIN);
  dc_net_init_params(net, 21);
  char pname[80];
  snprintf(pname, sizeof pname, "%s/weight", layer);
  dc_param *w = dc_params_find(net->params, pname);
  assert_non_null(w);
  if (density < 1.0) assert_int_equal(dc_prune_density(w, density), DC_OK);
  assert_int_equal(dc_quantize(w, bits, DC_KMEANS_LINEAR, 4), DC_OK);
  /* larger weights than xavier's so the loss is far from flat in every centroid */
  for (int j = 0; j < w->k; j++) w->codebook[j] *= 3.0f;
  dc_param_sync(w);

  tu_fill(net->input_data, dc_shape_count(net->input), 22, -1, 1);
  int labels[BATCH];
  tu_labels(labels, BATCH, net->classes, 23);
  dc_pass pass = {.train = 1, .labels = labels, .seed = 1, .iter = 0};
  double loss;
  assert_int_equal(dc_net_forward(net, &pass, &loss), DC_OK);
  assert_int_equal(dc_net_backward(net, &pass), DC_OK);
  dc_param_reduce_grad(w);

  /* the pruned weights' own gradients are not zero: including them would show */
  double pruned_grad = 0.0;
  for (size_t i = 0; i < w->count; i++)
    if (!w->mask[i]) pruned_grad += fabs(w->diff[i]);
  if (density < 1.0) assert_true(pruned_grad > 1e-4);

  const float eps = 1e-2f;
  int used = 0;
  for (int k = 0; k < w->k; k++) {
    float c0 = w->codebook[k];
    double f[2];
    for (int side = 0; side < 2; side++) {
      w->codebook[k] = side ? c0 - eps : c0 + eps;
      dc_param_sync(w);
      assert_int_equal(dc_net_forward(net, &pass, &f[side]), DC_OK);
    }
    w->codebook[k] = c0;
    dc_param_sync(w);
    double numeric = (f[0] - f[1]) / ((double)(c0 + eps) - (double)(c0 - eps));
    double a = w->codebook_diff[k];
    double err = fabs(a - numeric) / fmax(fmax(fabs(a), fabs(numeric)), 1e-3);
    if (err > 2e-2)
      fail_msg("%s %d-bit (density %g) centroid %d: analytic %g, numeric %g", layer, bits, density, k, a, numeric);
    used += fabs(a) > 1e-3;
  }
  if (used < 2) fail_msg("%s: only %d centroids with a gradient (vacuous check)", layer, used);
  dc_net_free(net);
}

static const char *const FC_NET = "[input]\nchannels = 2\nheight = 3\nwidth = 3\n"
                                  "[fc]\nname = f1\nnum_output = 6\n"
                                  "[fc]\nname = f2\nnum_output = 4\n"
                                  "[softmax_loss]\n";
static const char *const CONV_NET = "[input]\nchannels = 2\nheight = 5\nwidth = 5\n"
                                    "[conv]\nname = c1\nnum_output = 3\nkernel = 3\npad = 1\n"
                                    "[fc]\nname = f2\nnum_output = 4\n"
                                    "[softmax_loss]\n";

static void centroid_gradient_fc(void **state) {
  (void)state;
  centroid_gradcheck(FC_NET, "f1", 3, 1.0);
  centroid_gradcheck(FC_NET, "f1", 3, 0.6);
  centroid_gradcheck(FC_NET, "f2", 2, 0.5);
}

static void centroid_gradient_conv(void **state) {
  (void)state;
  centroid_gradcheck(CONV_NET, "c1", 3, 1.0);
  centroid_gradcheck(CONV_NET, "c1", 3, 0.6);
}

/* ------------------------------------------------------------------ training a real net */

static void training_keeps_pruned_zero_and_indices_fixed(void **state) {
  (void)state;
  enum { BATCH = 8, STEPS = 300 };
  dc_net *net = tu_net(TU_TOY_NET, BATCH, DC_NET_TRAIN);
  dc_net_init_params(net, 31);
  dc_params *ps = net->params;
  dc_param *conv = dc_params_find(ps, "conv1/weight"), *ip1 = dc_params_find(ps, "ip1/weight"),
           *ip2 = dc_params_find(ps, "ip2/weight");
  assert_int_equal(dc_prune_density(conv, 0.5), DC_OK);       /* MASKED */
  assert_int_equal(dc_prune_density(ip1, 0.3), DC_OK);        /* then SHARED with a mask */
  assert_int_equal(dc_quantize(ip1, 4, DC_KMEANS_LINEAR, 1), DC_OK);
  assert_int_equal(dc_quantize(ip2, 2, DC_KMEANS_DENSITY, 1), DC_OK); /* SHARED, all kept */
  uint8_t *mask_conv = malloc(conv->count), *mask_ip1 = malloc(ip1->count), *idx_ip1 = malloc(ip1->count),
          *idx_ip2 = malloc(ip2->count);
  float conv0[64], cb1[16], cb2[4];
  memcpy(mask_conv, conv->mask, conv->count);
  memcpy(mask_ip1, ip1->mask, ip1->count);
  memcpy(idx_ip1, ip1->index, ip1->count);
  memcpy(idx_ip2, ip2->index, ip2->count);
  memcpy(conv0, conv->data, sizeof(float) * conv->count);
  memcpy(cb1, ip1->codebook, sizeof cb1);
  memcpy(cb2, ip2->codebook, sizeof cb2);

  dc_solver_conf conf = {.base_lr = 0.05, .momentum = 0.9, .weight_decay = 5e-3, .policy = DC_LR_FIXED};
  int labels[BATCH];
  for (int s = 0; s < STEPS; s++) {
    tu_fill(net->input_data, dc_shape_count(net->input), 100 + (uint64_t)s, 0, 1);
    tu_labels(labels, BATCH, 4, 200 + (uint64_t)s);
    dc_pass pass = {.train = 1, .labels = labels, .seed = 3, .iter = s};
    double loss;
    assert_int_equal(dc_net_forward(net, &pass, &loss), DC_OK);
    assert_true(isfinite(loss));
    assert_int_equal(dc_net_backward(net, &pass), DC_OK);
    dc_solver_step(&conf, ps, conf.base_lr);
    /* pruned entries are exactly zero after every step, momentum too */
    for (size_t i = 0; i < conv->count; i++)
      if (!mask_conv[i] && (conv->data[i] != 0.0f || conv->history[i] != 0.0f || conv->diff[i] != 0.0f))
        fail_msg("step %d: pruned conv1 weight %zu is %g (momentum %g)", s, i, conv->data[i], conv->history[i]);
    for (size_t i = 0; i < ip1->count; i++)
      if (!mask_ip1[i] && ip1->data[i] != 0.0f) fail_msg("step %d: pruned ip1 weight %zu is %g", s, i, ip1->data[i]);
  }
  /* kinds, masks and indices unchanged */
  assert_int_equal(conv->kind, DC_PARAM_MASKED);
  assert_int_equal(ip1->kind, DC_PARAM_SHARED);
  assert_int_equal(ip2->kind, DC_PARAM_SHARED);
  assert_memory_equal(conv->mask, mask_conv, conv->count);
  assert_memory_equal(ip1->mask, mask_ip1, ip1->count);
  assert_memory_equal(ip1->index, idx_ip1, ip1->count);
  assert_memory_equal(ip2->index, idx_ip2, ip2->count);
  /* ... while what the solver owns moved: kept conv weights and every used centroid */
  int moved = 0;
  for (size_t i = 0; i < conv->count; i++) moved += mask_conv[i] && conv->data[i] != conv0[i];
  assert_int_equal((size_t)moved, dc_param_nonzero(conv));
  int used1[16] = {0}, used2[4] = {0};
  for (size_t i = 0; i < ip1->count; i++)
    if (mask_ip1[i]) used1[idx_ip1[i]] = 1;
  for (size_t i = 0; i < ip2->count; i++) used2[idx_ip2[i]] = 1;
  for (int j = 0; j < 16; j++)
    if (used1[j] && ip1->codebook[j] == cb1[j]) fail_msg("ip1 centroid %d did not move", j);
  for (int j = 0; j < 4; j++)
    if (used2[j] && ip2->codebook[j] == cb2[j]) fail_msg("ip2 centroid %d did not move", j);
  /* and the forward pass reads the expansion of the moved centroids */
  for (size_t i = 0; i < ip1->count; i++)
    assert_true(ip1->data[i] == (mask_ip1[i] ? ip1->codebook[idx_ip1[i]] : 0.0f));
  for (size_t i = 0; i < ip2->count; i++) assert_true(ip2->data[i] == ip2->codebook[idx_ip2[i]]);
  free(mask_conv);
  free(mask_ip1);
  free(idx_ip1);
  free(idx_ip2);
  dc_net_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(density_keeps_largest_ties_lower_index),
      cmocka_unit_test(density_select_within_one_bucket), cmocka_unit_test(density_masks_nest),
      cmocka_unit_test(density_one_on_dense),
      cmocka_unit_test(quality_threshold_is_q_std_of_kept),
      cmocka_unit_test(quantize_clusters_kept_weights_only),
      cmocka_unit_test(centroid_gradient_fc),
      cmocka_unit_test(centroid_gradient_conv),
      cmocka_unit_test(training_keeps_pruned_zero_and_indices_fixed),
  };
  /* one thread: the nets here are tiny, and a spinning second OpenMP thread on a busy
   * 2-core machine made one test 100x slower; also sets flush-to-zero like a real run */
  dc_set_threads(1);
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* compress/prune.c — magnitude pruning and k-means weight sharing of one parameter. */
#include "dc/prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double dc_param_std(const dc_param *p) {
  double sum = 0.0, sq = 0.0;
  size_t n = 0;
  for (size_t i = 0; i < p->count; i++) {
    if (p->mask && !p->mask[i]) continue;
    sum += p->data[i];
    sq += (double)p->data[i] * p->data[i];
    n++;
  }
  if (n == 0) return 0.0;
  double mean = sum / (double)n, var = sq / (double)n - mean * mean;
  return var > 0 ? sqrt(var) : 0.0;
}

typedef struct {
  float mag;
  uint32_t i;
} ranked;

static int by_magnitude_desc(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->mag != y->mag) return x->mag < y->mag ? 1 : -1;
  return x->i < y->i ? -1 : (x->i > y->i);
}

dc_status dc_prune_density(dc_param *p, double density) {
  DC_ASSERT(density >= 0.0 && density <= 1.0);
  size_t keep = (size_t)llround(density * (double)p->count);
  size_t kept_now = dc_param_nonzero(p);
  if (keep >= kept_now) {
    if (!p->mask) {
      uint8_t *all = malloc(p->count);
      if (!all) return dc_fail(DC_ERR_NOMEM, "out of memory pruning %s", p->name);
      memset(all, 1, p->count);
      dc_status s = dc_param_set_mask(p, all);
      free(all);
      return s;
    }
    return DC_OK;
  }
  ranked *r = malloc(sizeof *r * p->count);
  uint8_t *mask = calloc(p->count, 1);
  if (!r || !mask) {
    free(r);
    free(mask);
    return dc_fail(DC_ERR_NOMEM, "out of memory pruning %s", p->name);
  }
  size_t n = 0;
  for (size_t i = 0; i < p->count; i++)
    if (!p->mask || p->mask[i]) r[n++] = (ranked){fabsf(p->data[i]), (uint32_t)i};
  qsort(r, n, sizeof *r, by_magnitude_desc);
  for (size_t j = 0; j < keep; j++) mask[r[j].i] = 1;
  dc_status s = dc_param_set_mask(p, mask);
  free(r);
  free(mask);
  return s;
}

dc_status dc_prune_quality(dc_param *p, double quality) {
  DC_ASSERT(quality >= 0.0);
  double threshold = quality * dc_param_std(p);
  uint8_t *mask = malloc(p->count);
  if (!mask) return dc_fail(DC_ERR_NOMEM, "out of memory pruning %s", p->name);
  for (size_t i = 0; i < p->count; i++)
    mask[i] = (!p->mask || p->mask[i]) && fabs((double)p->data[i]) >= threshold;
  dc_status s = dc_param_set_mask(p, mask);
  free(mask);
  return s;
}

dc_status dc_quantize(dc_param *p, int bits, dc_kmeans_init init, uint64_t seed) {
  DC_ASSERT(bits >= 1 && bits <= 8);
  int k = 1 << bits;
  float *kept = malloc(sizeof(float) * (p->count ? p->count : 1));
  uint8_t *assign = malloc(p->count ? p->count : 1);
  uint8_t *index = calloc(p->count ? p->count : 1, 1);
  float codebook[256];
  dc_status s = DC_OK;
  if (!kept || !assign || !index) s = dc_fail(DC_ERR_NOMEM, "out of memory quantizing %s", p->name);
  size_t n = 0;
  for (size_t i = 0; s == DC_OK && i < p->count; i++)
    if (!p->mask || p->mask[i]) kept[n++] = p->data[i];
  if (s == DC_OK) s = dc_kmeans_1d(kept, n, k, init, seed, 100, codebook, assign);
  if (s == DC_OK) {
    for (size_t i = 0, j = 0; i < p->count; i++)
      if (!p->mask || p->mask[i]) index[i] = assign[j++];
    s = dc_param_set_shared(p, bits, codebook, index);
  }
  free(kept);
  free(assign);
  free(index);
  return s;
}

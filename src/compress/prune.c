/* compress/prune.c — magnitude pruning of one parameter (weight sharing: quantize.c). */
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

/* What a pruning ranks: the values w (dc_param_prune_values), of which only the eligible
 * ones may be kept (NULL: all), the kept ones (favored, when not NULL) counting `bonus`
 * times their magnitude. */
typedef struct {
  const float *w;
  const uint8_t *eligible, *favored;
  float bonus;
} ranking;

/* The rank key of weight i: its (favored) magnitude as an unsigned int with the same
 * order (a non-negative float's bits). */
static uint32_t rank_key(const ranking *r, size_t i) {
  float m = fabsf(r->w[i]);
  if (r->favored && r->favored[i]) m *= r->bonus;
  uint32_t u;
  memcpy(&u, &m, sizeof u);
  return u;
}

/* Among the weights of p that may be kept (dc_param_prune_values: the kept ones, or all
 * of a SPLICED p) ranked by magnitude, largest first, ties by position: the magnitude key
 * *t of the one ranked keep-th (keep >= 1), and how many of those ranked up to it share
 * that key (*ties). A radix select on the key's two 16-bit halves: two
 * counting passes and 64K counters instead of sorting (count) pairs (VGG-16's fc6: 0.8 GB
 * and half a minute). */
static dc_status kth_largest(const dc_param *p, const ranking *r, size_t keep, uint32_t *t, size_t *ties) {
  size_t *hist = calloc(65536, sizeof *hist);
  if (!hist) return dc_fail(DC_ERR_NOMEM, "out of memory pruning %s", p->name);
  uint32_t hi = 0, lo = 0;
  size_t above = 0; /* candidates with a larger key than the bucket found so far */
  for (int pass = 0; pass < 2; pass++) {
    memset(hist, 0, 65536 * sizeof *hist);
    for (size_t i = 0; i < p->count; i++) {
      if (r->eligible && !r->eligible[i]) continue;
      uint32_t k = rank_key(r, i);
      if (pass == 0) hist[k >> 16]++;
      else if (k >> 16 == hi) hist[k & 0xffff]++;
    }
    uint32_t b = 65535;
    while (above + hist[b] < keep) above += hist[b--]; /* terminates: the candidates number >= keep */
    if (pass == 0) hi = b;
    else lo = b;
  }
  *t = hi << 16 | lo;
  *ties = keep - above;
  free(hist);
  return DC_OK;
}

static dc_status prune_ranked(dc_param *p, double density, double margin) {
  DC_ASSERT(density >= 0.0 && density <= 1.0 && margin >= 0.0);
  size_t keep = (size_t)llround(density * (double)p->count);
  ranking r = {NULL, NULL, NULL, (float)(1.0 + margin)};
  r.w = dc_param_prune_values(p, &r.eligible);
  if (!r.eligible && margin > 0.0) r.favored = p->mask; /* SPLICED: the kept ones */
  size_t candidates = r.eligible ? dc_param_nonzero(p) : p->count;
  if (keep >= candidates) {
    if (!r.eligible) { /* DENSE, or SPLICED: keep (again) every weight */
      uint8_t *all = malloc(p->count);
      if (!all) return dc_fail(DC_ERR_NOMEM, "out of memory pruning %s", p->name);
      memset(all, 1, p->count);
      dc_status s = dc_param_set_mask(p, all);
      free(all);
      return s;
    }
    return DC_OK;
  }
  /* keep the `keep` largest magnitudes; of equal ones, those first in the array */
  uint32_t t = UINT32_MAX;
  size_t ties = 0;
  if (keep > 0) DC_TRY(kth_largest(p, &r, keep, &t, &ties));
  uint8_t *mask = calloc(p->count, 1);
  if (!mask) return dc_fail(DC_ERR_NOMEM, "out of memory pruning %s", p->name);
  for (size_t i = 0; keep > 0 && i < p->count; i++) {
    if (r.eligible && !r.eligible[i]) continue;
    uint32_t k = rank_key(&r, i);
    if (k > t || (k == t && ties > 0)) {
      mask[i] = 1;
      if (k == t) ties--;
    }
  }
  dc_status s = dc_param_set_mask(p, mask);
  free(mask);
  return s;
}

dc_status dc_prune_density(dc_param *p, double density) { return prune_ranked(p, density, 0.0); }

dc_status dc_prune_splice(dc_param *p, double density, double margin) { return prune_ranked(p, density, margin); }

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

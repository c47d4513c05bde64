/* dataset.c — the generic part of dc_dataset: the ops table wrapper, limit, and the
 * deterministic shuffled batch stream (see dc/data.h). Dataset kinds (mnist.c, ...)
 * only know how to fetch one sample by index. */
#include "dc/data.h"

#include <stddef.h>

#include "dc/rng.h"

struct dc_dataset {
  const dc_dataset_ops *ops;
  void *impl;
  int total;           /* samples the kind holds */
  int count;           /* samples in use: total, or fewer after dc_dataset_limit */
  int c, h, w;         /* per-sample shape */
  int classes;         /* 1 + max label over all `total` samples */
  /* Cache of one epoch's permutation, so a batch costs O(n) except at epoch
   * changes. Valid when perm_valid and (seed, epoch, count) match. */
  int *perm;           /* (total) ints; perm[0..perm_count) is a permutation */
  int perm_valid;
  uint64_t perm_seed;
  uint64_t perm_epoch;
  int perm_count;
};

dc_status dc_dataset_create(const dc_dataset_ops *ops, void *impl, int count, int c, int h,
                            int w, int classes, dc_dataset **out) {
  DC_ASSERT(ops && ops->get && ops->destroy && out);
  *out = NULL;
  if (count < 1 || c < 1 || h < 1 || w < 1 || classes < 1) {
    ops->destroy(impl);
    return dc_fail(DC_ERR_ARG, "%s dataset: bad size: %d samples of %dx%dx%d, %d classes",
                   ops->kind, count, c, h, w, classes);
  }
  dc_dataset *d = dc_alloc(sizeof *d);
  if (!d) {
    ops->destroy(impl);
    return DC_ERR_NOMEM;
  }
  d->ops = ops;
  d->impl = impl;
  d->total = d->count = count;
  d->c = c;
  d->h = h;
  d->w = w;
  d->classes = classes;
  *out = d;
  return DC_OK;
}

void dc_dataset_free(dc_dataset *d) {
  if (!d) return;
  d->ops->destroy(d->impl);
  dc_free(d->perm);
  dc_free(d);
}

int dc_dataset_count(const dc_dataset *d) { return d->count; }

void dc_dataset_shape(const dc_dataset *d, int *c, int *h, int *w) {
  if (c) *c = d->c;
  if (h) *h = d->h;
  if (w) *w = d->w;
}

int dc_dataset_classes(const dc_dataset *d) { return d->classes; }

void dc_dataset_limit(dc_dataset *d, int n) {
  d->count = (n <= 0 || n > d->total) ? d->total : n;
  d->perm_valid = 0; /* the permutation is of 0..count-1, so it depends on count */
}

dc_status dc_dataset_get(dc_dataset *d, int index, float *x, int *y) {
  if (index < 0 || index >= d->count)
    return dc_fail(DC_ERR_ARG, "%s dataset: sample %d out of range [0, %d)", d->ops->kind,
                   index, d->count);
  int label = 0;
  DC_TRY(d->ops->get(d->impl, index, x, &label));
  if (y) *y = label;
  return DC_OK;
}

/* Make d->perm the permutation of epoch `epoch` for `seed`. */
static dc_status ensure_perm(dc_dataset *d, uint64_t seed, uint64_t epoch) {
  if (d->perm_valid && d->perm_seed == seed && d->perm_epoch == epoch &&
      d->perm_count == d->count)
    return DC_OK;
  if (!d->perm) {
    d->perm = dc_alloc((size_t)d->total * sizeof *d->perm);
    if (!d->perm) return DC_ERR_NOMEM;
  }
  for (int i = 0; i < d->count; i++) d->perm[i] = i;
  dc_rng r;
  dc_rng_seed(&r, seed, epoch);
  dc_rng_shuffle(&r, d->perm, d->count);
  d->perm_valid = 1;
  d->perm_seed = seed;
  d->perm_epoch = epoch;
  d->perm_count = d->count;
  return DC_OK;
}

dc_status dc_dataset_batch(dc_dataset *d, uint64_t seed, int shuffle, int64_t first, int n,
                           float *x, int *y) {
  if (first < 0 || n < 0 || first > INT64_MAX - n)
    return dc_fail(DC_ERR_ARG, "%s dataset: bad batch range: first %lld, n %d", d->ops->kind,
                   (long long)first, n);
  if (d->count < 1) return dc_fail(DC_ERR_ARG, "%s dataset: no samples", d->ops->kind);
  size_t sample = (size_t)d->c * (size_t)d->h * (size_t)d->w; /* floats per sample */
  for (int i = 0; i < n; i++) {
    int64_t p = first + i;
    uint64_t epoch = (uint64_t)(p / d->count);
    int slot = (int)(p % d->count);
    int index = slot;
    if (shuffle) {
      DC_TRY(ensure_perm(d, seed, epoch));
      index = d->perm[slot];
    }
    int label = 0;
    DC_TRY(d->ops->get(d->impl, index, x + (size_t)i * sample, &label));
    if (y) y[i] = label;
  }
  return DC_OK;
}

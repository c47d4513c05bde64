/* dataset.c — the generic part of dc_dataset: the ops table wrapper, limit, and the
 * deterministic shuffled batch stream (see dc/data.h). Dataset kinds (mnist.c, ...)
 * only know how to fetch one sample by index (optionally augmented by position).
 *
 * Parallel batches: dc_dataset_batch first resolves the batch's sample indices on the
 * calling thread (the permutation cache is only ever touched there), then k worker
 * threads pull batch slots from an atomic counter and each writes only its own slot
 * of x and y. Threads are started per call: their cost (tens of microseconds) is
 * small next to decoding a batch of JPEGs, and there is no pool to shut down. */
#include "dc/data.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "dc/rng.h"

#define MAX_BATCH_THREADS 64

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
  dc_dataset_aug_fn get_aug; /* NULL: batches use ops->get */
  int threads;               /* workers per batch; <= 1: the calling thread */
  int *slots;                /* (slots_cap) sample index of each batch slot */
  int slots_cap;
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
  dc_free(d->slots);
  dc_free(d);
}

int dc_dataset_count(const dc_dataset *d) { return d->count; }

void dc_dataset_shape(const dc_dataset *d, int *c, int *h, int *w) {
  if (c) *c = d->c;
  if (h) *h = d->h;
  if (w) *w = d->w;
}

int dc_dataset_classes(const dc_dataset *d) { return d->classes; }

void dc_dataset_set_threads(dc_dataset *d, int threads) {
  d->threads = threads < 1 ? 1 : threads > MAX_BATCH_THREADS ? MAX_BATCH_THREADS : threads;
}

void dc_dataset_set_aug(dc_dataset *d, dc_dataset_aug_fn get_aug) { d->get_aug = get_aug; }

void *dc_dataset_impl(const dc_dataset *d, const dc_dataset_ops *ops) {
  return d && d->ops == ops ? d->impl : NULL;
}

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

/* Fetch the sample at stream position `position` (sample `index`) into x / *label. */
static dc_status fetch(dc_dataset *d, int index, uint64_t seed, int64_t position, float *x,
                       int *label) {
  if (d->get_aug) return d->get_aug(d->impl, index, seed, position, x, label);
  return d->ops->get(d->impl, index, x, label);
}

/* One parallel batch: shared by the workers. */
typedef struct {
  dc_dataset *d;
  uint64_t seed;
  int64_t first;
  int n;
  size_t sample; /* floats per sample */
  float *x;
  int *y;
  atomic_int next;    /* next slot to fetch */
  atomic_int fail_at; /* lowest failing slot so far; n when none */
  pthread_mutex_t lock; /* guards the failure record below */
  dc_status fail_status;
  char fail_msg[1024];
} batch_job;

/* Worker: fetch slots in increasing order until none are left or a lower slot failed.
 * Slots below the lowest failure are always fetched, so the failure reported is that
 * of the earliest failing position whatever the thread count and timing. dc_fail's
 * reason is per thread, so a failing worker hands its message over in the job. */
static void *batch_worker(void *arg) {
  batch_job *j = arg;
  for (;;) {
    int i = atomic_fetch_add(&j->next, 1);
    if (i >= j->n || i > atomic_load(&j->fail_at)) break;
    int label = 0;
    dc_failure_clear();
    dc_status s = fetch(j->d, j->d->slots[i], j->seed, j->first + i, j->x + (size_t)i * j->sample,
                        &label);
    if (s != DC_OK) {
      pthread_mutex_lock(&j->lock);
      if (i < atomic_load(&j->fail_at)) {
        atomic_store(&j->fail_at, i);
        j->fail_status = s;
        snprintf(j->fail_msg, sizeof j->fail_msg, "%s", dc_failure_reason());
      }
      pthread_mutex_unlock(&j->lock);
      dc_failure_clear();
      break; /* every later slot of this worker is above i */
    }
    if (j->y) j->y[i] = label;
  }
  return NULL;
}

/* Fetch slots 0..n-1 (indices in d->slots) on up to d->threads workers. Returns -1
 * when no thread could be started (the caller then goes serially), else the status. */
static int batch_parallel(dc_dataset *d, uint64_t seed, int64_t first, int n, float *x, int *y,
                          size_t sample, dc_status *status) {
  batch_job job = {0}, *j = &job;
  j->d = d;
  j->seed = seed;
  j->first = first;
  j->n = n;
  j->sample = sample;
  j->x = x;
  j->y = y;
  atomic_init(&j->next, 0);
  atomic_init(&j->fail_at, n);
  if (pthread_mutex_init(&j->lock, NULL) != 0) return -1;
  pthread_t tid[MAX_BATCH_THREADS];
  int k = d->threads < n ? d->threads : n, started = 0;
  for (int t = 0; t < k; t++) {
    if (pthread_create(&tid[started], NULL, batch_worker, j) != 0) break;
    started++;
  }
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
  int ret = -1;
  if (started > 0) { /* one worker alone finishes the batch */
    ret = 0;
    *status = DC_OK;
    if (atomic_load(&j->fail_at) < n) *status = dc_fail(j->fail_status, "%s", j->fail_msg);
  }
  pthread_mutex_destroy(&j->lock);
  return ret;
}

dc_status dc_dataset_batch(dc_dataset *d, uint64_t seed, int shuffle, int64_t first, int n,
                           float *x, int *y) {
  if (first < 0 || n < 0 || first > INT64_MAX - n)
    return dc_fail(DC_ERR_ARG, "%s dataset: bad batch range: first %lld, n %d", d->ops->kind,
                   (long long)first, n);
  if (d->count < 1) return dc_fail(DC_ERR_ARG, "%s dataset: no samples", d->ops->kind);
  size_t sample = (size_t)d->c * (size_t)d->h * (size_t)d->w; /* floats per sample */
  if (d->threads > 1 && n > 1) {
    if (n > d->slots_cap) {
      int *slots = dc_alloc((size_t)n * sizeof *slots);
      if (!slots) return DC_ERR_NOMEM;
      dc_free(d->slots);
      d->slots = slots;
      d->slots_cap = n;
    }
    for (int i = 0; i < n; i++) {
      int64_t p = first + i;
      int slot = (int)(p % d->count);
      if (shuffle) {
        DC_TRY(ensure_perm(d, seed, (uint64_t)(p / d->count)));
        slot = d->perm[slot];
      }
      d->slots[i] = slot;
    }
    dc_status s;
    if (batch_parallel(d, seed, first, n, x, y, sample, &s) == 0) return s;
    /* no thread could be started: fall through and fetch serially */
  }
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
    DC_TRY(fetch(d, index, seed, p, x + (size_t)i * sample, &label));
    if (y) y[i] = label;
  }
  return DC_OK;
}

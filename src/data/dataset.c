/* dataset.c — the generic part of dc_dataset: the ops table wrapper, the class-spread
 * limit, the bad-sample policy, and the deterministic shuffled sample stream (see
 * dc/data.h). Dataset kinds (mnist.c, ...) only know how to fetch one sample by index
 * (optionally augmented by position); the prefetching loader (loader.c) and
 * dc_dataset_batch both read the stream through dc_dataset_sample_at.
 *
 * Thread safety: the permutation cache (the two most recent epochs, so a batch or a
 * run of prefetched batches across an epoch boundary does not recompute it) and the
 * record of bad samples are guarded by one mutex; everything else a fetch reads is
 * immutable after open, so any number of threads may fetch at once.
 *
 * Parallel batches: k worker threads pull batch slots from an atomic counter and each
 * writes only its own slot of x and y. Threads are started per call: their cost (tens
 * of microseconds) is small next to decoding a batch of JPEGs, and there is no pool to
 * shut down. */
#include "dc/data.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "dc/rng.h"

#define MAX_BATCH_THREADS 64
#define PERM_SLOTS 2

typedef struct {
  int *perm;       /* (total) ints; perm[0..count) is a permutation of 0..count-1 */
  int valid;
  uint64_t seed, epoch;
  int count;
  uint64_t used;   /* lru stamp */
} perm_cache;

struct dc_dataset {
  const dc_dataset_ops *ops;
  void *impl;
  int total;           /* samples the kind holds */
  int count;           /* samples in use: total, or fewer after dc_dataset_limit */
  int c, h, w;         /* per-sample shape */
  int classes;         /* 1 + max label over all `total` samples */
  pthread_mutex_t lock; /* guards perms, stamp, bad_seen, bad_out */
  perm_cache perms[PERM_SLOTS];
  uint64_t stamp;
  dc_dataset_aug_fn get_aug; /* NULL: batches use ops->get */
  uint64_t fingerprint;      /* the kind's hash of what it read; 0: none */
  int threads;               /* workers per batch; <= 1: the calling thread */
  dc_on_bad on_bad;          /* what a sample that fails with DC_ERR_DATA does */
  FILE *bad_out;             /* where a skipped sample is reported (stderr) */
  unsigned char *bad_seen;   /* (total bits) reported already; NULL until the first */
  atomic_long skipped;       /* fetches skipped and refilled */
  atomic_long bad_samples;   /* distinct samples reported */
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
  if (pthread_mutex_init(&d->lock, NULL) != 0) {
    dc_free(d);
    ops->destroy(impl);
    return dc_fail(DC_ERR_NOMEM, "%s dataset: cannot create a mutex", ops->kind);
  }
  d->ops = ops;
  d->impl = impl;
  d->total = d->count = count;
  d->c = c;
  d->h = h;
  d->w = w;
  d->classes = classes;
  d->on_bad = DC_BAD_STOP;
  d->bad_out = stderr;
  atomic_init(&d->skipped, 0);
  atomic_init(&d->bad_samples, 0);
  *out = d;
  return DC_OK;
}

void dc_dataset_free(dc_dataset *d) {
  if (!d) return;
  d->ops->destroy(d->impl);
  for (int i = 0; i < PERM_SLOTS; i++) dc_free(d->perms[i].perm);
  dc_free(d->bad_seen);
  pthread_mutex_destroy(&d->lock);
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

int dc_dataset_threads(const dc_dataset *d) { return d->threads < 1 ? 1 : d->threads; }

void dc_dataset_set_aug(dc_dataset *d, dc_dataset_aug_fn get_aug) { d->get_aug = get_aug; }

void dc_dataset_set_fingerprint(dc_dataset *d, uint64_t fingerprint) { d->fingerprint = fingerprint; }

uint64_t dc_dataset_fingerprint(const dc_dataset *d) { return d->fingerprint; }

int dc_dataset_decodes(const dc_dataset *d) { return d->ops->decodes; }

void *dc_dataset_impl(const dc_dataset *d, const dc_dataset_ops *ops) {
  return d && d->ops == ops ? d->impl : NULL;
}

void dc_dataset_set_on_bad(dc_dataset *d, dc_on_bad policy, FILE *report) {
  d->on_bad = policy;
  d->bad_out = report;
}

long dc_dataset_skipped(const dc_dataset *d) { return atomic_load(&((dc_dataset *)d)->skipped); }

long dc_dataset_bad_samples(const dc_dataset *d) { return atomic_load(&((dc_dataset *)d)->bad_samples); }

void dc_dataset_limit(dc_dataset *d, int n) {
  pthread_mutex_lock(&d->lock);
  d->count = (n <= 0 || n > d->total) ? d->total : n;
  pthread_mutex_unlock(&d->lock);
}

/* Sample j (0 <= j < count) of the limited set: a fixed stride over the kind's order,
 * floor(j * total / count), so a limit keeps samples from the whole range (every class
 * of a class-ordered set) rather than its head. The identity without a limit. */
static int limited_index(const dc_dataset *d, int j) {
  if (d->count == d->total) return j;
  return (int)((int64_t)j * d->total / d->count);
}

dc_status dc_dataset_get(dc_dataset *d, int index, float *x, int *y) {
  if (index < 0 || index >= d->count)
    return dc_fail(DC_ERR_ARG, "%s dataset: sample %d out of range [0, %d)", d->ops->kind,
                   index, d->count);
  int label = 0;
  DC_TRY(d->ops->get(d->impl, limited_index(d, index), x, &label));
  if (y) *y = label;
  return DC_OK;
}

/* The sample index of stream position p: slot p % count of epoch p / count, through
 * the epoch's permutation when shuffling, then through the limit. */
static dc_status index_at(dc_dataset *d, uint64_t seed, int shuffle, int64_t p, int *index) {
  int64_t slot = p % d->count;
  if (!shuffle) {
    *index = limited_index(d, (int)slot);
    return DC_OK;
  }
  uint64_t epoch = (uint64_t)(p / d->count);
  pthread_mutex_lock(&d->lock);
  perm_cache *hit = NULL, *victim = &d->perms[0];
  for (int i = 0; i < PERM_SLOTS; i++) {
    perm_cache *c = &d->perms[i];
    if (c->valid && c->seed == seed && c->epoch == epoch && c->count == d->count) hit = c;
    if (c->used < victim->used) victim = c;
  }
  if (!hit) {
    hit = victim;
    if (!hit->perm) hit->perm = dc_alloc((size_t)d->total * sizeof *hit->perm);
    if (!hit->perm) {
      pthread_mutex_unlock(&d->lock);
      return dc_fail(DC_ERR_NOMEM, "%s dataset: out of memory for the shuffle", d->ops->kind);
    }
    for (int i = 0; i < d->count; i++) hit->perm[i] = i;
    dc_rng r;
    dc_rng_seed(&r, seed, epoch);
    dc_rng_shuffle(&r, hit->perm, d->count);
    hit->valid = 1;
    hit->seed = seed;
    hit->epoch = epoch;
    hit->count = d->count;
  }
  hit->used = ++d->stamp;
  *index = limited_index(d, hit->perm[slot]);
  pthread_mutex_unlock(&d->lock);
  return DC_OK;
}

/* Fetch sample `index` for stream position `position` into x / *label. */
static dc_status fetch(dc_dataset *d, int index, uint64_t seed, int64_t position, float *x,
                       int *label) {
  if (d->get_aug) return d->get_aug(d->impl, index, seed, position, x, label);
  return d->ops->get(d->impl, index, x, label);
}

/* Report sample `index` (whose failure reason is current on this thread) once. */
static void report_bad(dc_dataset *d, int index) {
  pthread_mutex_lock(&d->lock);
  if (!d->bad_seen) d->bad_seen = dc_alloc(((size_t)d->total + 7) / 8);
  int fresh = 1;
  if (d->bad_seen) {
    unsigned char bit = (unsigned char)(1u << (index & 7));
    fresh = !(d->bad_seen[index >> 3] & bit);
    d->bad_seen[index >> 3] |= bit;
  }
  if (fresh) {
    atomic_fetch_add(&d->bad_samples, 1);
    if (d->bad_out) {
      fprintf(d->bad_out, "dctrain: warning: %s (skipped, reported once; [data] on_bad_image = stop stops instead)\n",
              dc_failure_reason());
      fflush(d->bad_out);
    }
  }
  pthread_mutex_unlock(&d->lock);
}

dc_status dc_dataset_sample_at(dc_dataset *d, uint64_t seed, int shuffle, int64_t position,
                               float *x, int *y) {
  if (position < 0 || d->count < 1)
    return dc_fail(DC_ERR_ARG, "%s dataset: bad stream position %lld", d->ops->kind, (long long)position);
  char last[512] = "";
  for (int64_t k = 0;; k++) {
    int index = 0, label = 0;
    if (position > INT64_MAX - k)
      return dc_fail(DC_ERR_DATA, "%s dataset: no readable sample after position %lld", d->ops->kind,
                     (long long)position);
    DC_TRY(index_at(d, seed, shuffle, position + k, &index));
    /* the reason of a failure to skip must be this sample's (dc_fail keeps the first) */
    if (d->on_bad == DC_BAD_SKIP) dc_failure_clear();
    /* the substitute is drawn (cropped, mirrored) as the slot's own position would be */
    dc_status s = fetch(d, index, seed, position, x, &label);
    if (s == DC_OK) {
      if (y) *y = label;
      return DC_OK;
    }
    if (s != DC_ERR_DATA || d->on_bad != DC_BAD_SKIP) return s;
    report_bad(d, index);
    snprintf(last, sizeof last, "%s", dc_failure_reason());
    dc_failure_clear();
    atomic_fetch_add(&d->skipped, 1);
    /* any 2*count - 1 consecutive positions hold a whole epoch, so every sample */
    if (k + 1 >= 2 * (int64_t)d->count - 1 || atomic_load(&d->bad_samples) >= d->count)
      return dc_fail(DC_ERR_DATA, "%s dataset: none of the %d samples could be read (the last failure: %s)",
                     d->ops->kind, d->count, last);
  }
}

/* One parallel batch: shared by the workers. */
typedef struct {
  dc_dataset *d;
  uint64_t seed;
  int shuffle;
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
    dc_failure_clear();
    dc_status s = dc_dataset_sample_at(j->d, j->seed, j->shuffle, j->first + i,
                                       j->x + (size_t)i * j->sample, j->y ? j->y + i : NULL);
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
  }
  return NULL;
}

/* Fetch positions first..first+n-1 on up to d->threads workers. Returns -1 when no
 * thread could be started (the caller then goes serially), else 0 with *status set. */
static int batch_parallel(dc_dataset *d, uint64_t seed, int shuffle, int64_t first, int n,
                          float *x, int *y, size_t sample, dc_status *status) {
  batch_job job = {0}, *j = &job;
  j->d = d;
  j->seed = seed;
  j->shuffle = shuffle;
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
    dc_status s;
    if (batch_parallel(d, seed, shuffle, first, n, x, y, sample, &s) == 0) return s;
    /* no thread could be started: fall through and fetch serially */
  }
  for (int i = 0; i < n; i++)
    DC_TRY(dc_dataset_sample_at(d, seed, shuffle, first + i, x + (size_t)i * sample, y ? y + i : NULL));
  return DC_OK;
}

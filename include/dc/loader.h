/* dc/loader.h — a prefetching batch loader: worker threads fetch (decode, resize,
 * crop) the samples of the next batches of a dataset's stream while the caller trains
 * on the current one, through a bounded ring of `depth` batches.
 *
 * The loader serves a stream of requests with a known stride: call k (k = 0, 1, ...)
 * returns the n samples at stream positions first + k*stride .. first + k*stride + n-1
 * (dc_dataset_batch's positions). With one process, stride = n = the batch; with data
 * parallelism, first = i*B + offset and n = this rank's share of a global batch B,
 * stride = B. The bytes returned are those dc_dataset_batch gives for the same
 * positions: a pure function of (dataset, seed, shuffle, position), whatever the
 * thread count, depth or timing, so determinism and resume are unaffected.
 *
 * Workers are the dataset's thread count (dc_dataset_set_threads; at least 1). They
 * wait (no CPU) while the ring is full. The dataset must not be limited or
 * reconfigured while a loader reads it; other threads may read it meanwhile. */
#ifndef DC_LOADER_H
#define DC_LOADER_H

#include <stdint.h>

#include "dc/data.h"
#include "dc/error.h"

typedef struct dc_loader dc_loader; /* opaque */

/* Cumulative counters of one loader (since open). */
typedef struct {
  long long images;  /* samples fetched by the workers */
  double busy;       /* seconds workers spent fetching, summed over workers */
  double waited;     /* seconds dc_loader_next blocked waiting for its batch */
  long long batches; /* batches handed out */
  int threads;       /* worker threads */
} dc_loader_stats;

/* Start a loader on d (not owned; must outlive it) for the requests described above,
 * with at most `depth` >= 1 batches fetched ahead (ring memory: depth × n samples).
 * Workers start fetching at once. DC_ERR_ARG for first < 0, n < 1, stride < 1 or
 * depth < 1. On success *out is a loader the caller closes with dc_loader_close. */
dc_status dc_loader_open(dc_dataset *d, uint64_t seed, int shuffle, int64_t first, int n, int64_t stride,
                         int depth, dc_loader **out);

/* The next batch into x (n × c×h×w floats) and y (n labels; may be NULL), blocking
 * until the workers have it. The failure of a batch (with DC_BAD_STOP, the unreadable
 * sample at its lowest position) is returned by the call that asks for that batch,
 * and again by every later call. */
dc_status dc_loader_next(dc_loader *l, float *x, int *y);

/* 1 when the next dc_loader_next returns positions first.., n per batch, stride apart. */
int dc_loader_at(const dc_loader *l, int64_t first, int n, int64_t stride);

/* The counters so far. */
void dc_loader_get_stats(dc_loader *l, dc_loader_stats *s);

/* Stop the workers (an image being decoded is finished first) and free everything.
 * NULL is a no-op. */
void dc_loader_close(dc_loader *l);

#endif

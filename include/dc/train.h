/* dc/train.h — the training loop: dataset -> batch -> net forward -> loss -> backward ->
 * per-kind gradient reduction -> solver update, with testing, progress lines, a CSV log
 * and atomic checkpoints. Compression stages reuse it for their retraining. */
#ifndef DC_TRAIN_H
#define DC_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "dc/ckpt.h"
#include "dc/data.h"
#include "dc/loader.h"
#include "dc/net.h"
#include "dc/solver.h"

typedef struct {
  dc_net *train_net;    /* batch = batch; owns the params */
  dc_net *test_net;     /* batch = test_batch; shares them */
  dc_dataset *train_set, *test_set;
  int batch, test_batch;
  uint64_t seed;
  int shuffle;
  long display;         /* progress line every N iterations (0: never) */
  long test_interval;   /* test every N iterations (0: only at the end) */
  long test_iters;      /* test batches per test (0: the whole test set) */
  long snapshot;        /* checkpoint every N iterations (0: only at the end of a stage) */
  char ckpt_path[600];  /* where snapshots go (atomic) */
  int have_ckpt;        /* ckpt_path holds a checkpoint of this run (resumed or written) */
  int lock_fd;          /* the output directory's lock (rank 0; -1: none) */
  FILE *log;            /* CSV log, may be NULL */
  FILE *out;            /* progress lines (stdout), may be NULL */
  dc_ckpt_state state;  /* iteration counters, saved with checkpoints */
  int *labels;          /* (max(batch, test_batch)) */
  dc_loader *loader;    /* prefetches train_set's batches; opened by dc_train, kept across
                           stages while the stream continues; close with dc_loader_close */
  dc_loader_stats load_done; /* counters of loaders already closed */
  int64_t stop_after;   /* >0: snapshot and stop once state.iter reaches it (job splitting) */
  int stopped;          /* DC_STOPPED_AFTER or DC_STOPPED_SIGNAL when dc_train stopped early */
  /* Data parallelism (dc/dist.h): this rank trains on samples shard_first ..
   * shard_first + train_net->batch - 1 of every global batch of `batch` samples, tests
   * every size-th test batch, and only rank 0 (the one with out/log set) writes. */
  int shard_first;
  int overlap;          /* start gradient sums during backward (default on) */
  /* Called on every rank after each step's update with the stage iteration just done
   * (before that iteration's test and snapshot), e.g. a pruning round re-choosing its
   * masks; NULL: nothing. */
  dc_status (*after_step)(void *ctx, long done);
  void *after_step_ctx;
  double comm_wait;     /* seconds waited for gradient sums in the last dc_train */
  size_t comm_floats;   /* floats summed over the ranks per step in the last dc_train */
  struct dc_test_result_s {
    double top1, top5, loss;
    int samples;
  } last;               /* the latest test, from dc_train */
} dc_trainer;

enum { DC_STOPPED_AFTER = 1, DC_STOPPED_SIGNAL = 2 };

/* Ask every running dc_train to stop at its next iteration boundary with a checkpoint
 * (t->stopped = DC_STOPPED_SIGNAL). Async-signal-safe: meant for SIGTERM/SIGUSR1
 * handlers. In a data-parallel job the ranks agree at each step, so a request on any
 * rank stops them all at the same iteration. */
void dc_request_stop(void);
int dc_stop_requested(void);

/* accuracy as fractions in [0, 1]; mean loss */
typedef struct dc_test_result_s dc_test_result;

/* Run `iters` iterations of SGD from state.stage_iter up to iters, with lr from
 * conf at the stage-local iteration. `label` names the stage in progress lines and the
 * log. Stops with DC_ERR_NUMERIC on a NaN/Inf loss (the last checkpoint stays intact). */
dc_status dc_train(dc_trainer *t, const dc_solver_conf *conf, long iters, const char *label);

/* Evaluate on the test set (test_iters batches, or all of it); any tail smaller than a
 * batch is evaluated with padding and counted exactly. Data-parallel ranks each take every
 * size-th batch and sum the counts, so the accuracy is exactly the one-process one. */
dc_status dc_test(dc_trainer *t, dc_test_result *r);

/* Save params + solver state to t->ckpt_path (rank 0 only; the others hold the same). */
dc_status dc_trainer_snapshot(dc_trainer *t);

/* "1h02m", "3m05s", "12s" */
void dc_format_duration(double seconds, char *buf, size_t cap);

#endif

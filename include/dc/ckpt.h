/* dc/ckpt.h — HDF5 checkpoints: every parameter of every kind, plus the solver state.
 *
 * Layout (readable with h5py / h5dump; shapes are the parameters' own):
 *   /params/<layer>/weight, /params/<layer>/bias   f32  values the forward pass reads
 *   /params/<layer>/weight_mask                    u8   1 kept / 0 pruned (MASKED, SHARED)
 *   /params/<layer>/weight_codebook                f32  (k) centroids (SHARED)
 *   /params/<layer>/weight_index                   u8   centroid per weight (SHARED)
 *   /solver/history/<layer>/weight ...             f32  momentum of what the solver updates
 *                                                       (the codebook for SHARED)
 *   /solver/iter, /solver/seed, /solver/stage, /solver/stage_iter   i64
 *   /solver/data_count, /solver/data_hash          i64  the training set's size and
 *                                                       fingerprint (absent in old files)
 *   /meta/format                                   "dctrain-checkpoint 1"
 * Written to PATH.tmp and renamed: a killed run never leaves a half-written PATH. */
#ifndef DC_CKPT_H
#define DC_CKPT_H

#include <stdint.h>

#include "dc/error.h"
#include "dc/net.h"

/* The /meta/format string of checkpoints and exported weights. */
#define DC_CKPT_FORMAT "dctrain-checkpoint 1"

typedef struct {
  int64_t iter;       /* global training iterations done (all stages) */
  uint64_t seed;      /* the run's seed: data order and dropout derive from (seed, iter) */
  int64_t stage;      /* index of the experiment stage in progress */
  int64_t stage_iter; /* iterations done within that stage */
  int64_t data_count; /* training samples, 0: not recorded (older checkpoints) */
  uint64_t data_hash; /* dc_dataset_fingerprint of the training set, 0: none */
} dc_ckpt_state;

/* Save ps (and, when st != NULL, the solver state and momentum) atomically to path. */
dc_status dc_ckpt_save(const char *path, dc_params *ps, const dc_ckpt_state *st);

/* Load parameter values (and kinds: masks, codebooks, indices when present) into ps,
 * whose names and shapes must match the file. st != NULL: also the solver state and
 * momentum (the file must have them). Errors name the file and dataset. */
dc_status dc_ckpt_load(const char *path, dc_params *ps, dc_ckpt_state *st);

/* Weights to start a run from or to evaluate: dc_ckpt_load without solver state, where a
 * pruning round's shadow weights (splicing) are dropped: its kept weights load MASKED. */
dc_status dc_ckpt_load_weights(const char *path, dc_params *ps);

#endif

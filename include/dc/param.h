/* dc/param.h — learnable parameters and their four kinds.
 *
 * A parameter is what a layer's forward reads (`data`) and what its backward writes
 * (`diff`), plus what the solver updates. The kind decides how those relate:
 *   DENSE  : the solver updates data directly.
 *   MASKED : data = w * mask. The gradient is masked before the update, so a pruned
 *            weight's value, gradient and momentum stay exactly 0 forever, and weight
 *            decay (wd * 0) cannot revive it.
 *   SHARED : data = codebook[index] * mask (k-means weight sharing). Backward still
 *            writes per-weight gradients into diff; dc_param_reduce_grad() sums them by
 *            index into codebook_diff (pruned weights excluded); the solver updates the
 *            k centroids with their own momentum; dc_param_sync() expands them again.
 *   SPLICED: data = shadow * mask, where the solver updates the dense shadow with the
 *            gradient of data at every entry, the pruned ones too (pruning with splicing,
 *            Guo et al. 2016; Lin et al. 2020): a pruned weight keeps moving, and a
 *            later dc_prune_density() on it ranks the shadows, so it can come back.
 *            Only pruning rounds use it (dc_param_set_spliced); it ends as MASKED.
 * Only param.c switches on the kind: the solver sees one flat (value, grad, history)
 * vector per parameter through dc_param_view(); checkpoints, the .dcz writer and reports
 * see the arrays a kind adds through dc_param_parts_of(); a trial change is undone with
 * dc_param_snapshot_take()/dc_param_snapshot_restore(). */
#ifndef DC_PARAM_H
#define DC_PARAM_H

#include <stddef.h>
#include <stdint.h>

#include "dc/error.h"

typedef enum { DC_PARAM_DENSE = 0, DC_PARAM_MASKED, DC_PARAM_SHARED, DC_PARAM_SPLICED } dc_param_kind;

typedef enum { DC_FILL_CONSTANT = 0, DC_FILL_XAVIER, DC_FILL_GAUSSIAN } dc_fill_kind;

typedef struct {
  dc_fill_kind kind;
  float value; /* constant */
  float std;   /* gaussian */
} dc_filler;

typedef struct dc_param {
  char name[80];        /* "<layer>/weight" or "<layer>/bias": the HDF5 path under /params */
  dc_param_kind kind;
  int ndim, dims[4];    /* e.g. conv (O, I/g, KH, KW), fc (O, I), bias (O) */
  size_t count;         /* product of dims */
  int fan_in;           /* inputs per output, for xavier */
  float lr_mult, decay_mult;
  dc_filler filler;

  float *data;          /* (count) values the forward pass reads; pruned entries exactly 0 */
  float *diff;          /* (count) dLoss/d(data), written by backward */
  float *history;       /* (count) momentum of data (DENSE, MASKED), of shadow (SPLICED) */

  uint8_t *mask;        /* (count) 1 kept / 0 pruned; NULL while DENSE */
  int bits, k;          /* SHARED: k = 1 << bits centroids */
  uint8_t *index;       /* (count) SHARED: centroid of each weight */
  float *codebook;      /* (k) SHARED: centroids */
  float *codebook_diff; /* (k) SHARED: summed gradient per centroid */
  float *codebook_history; /* (k) SHARED: centroid momentum */
  float *codebook_count;   /* (k) SHARED: kept weights per centroid, n_k (the weight
                            * decay of centroid k is n_k * wd * c_k, see the README) */
  float *shadow;        /* (count) SPLICED: every weight's value, pruned or not */
} dc_param;

/* A flat view of what the solver updates: data/diff/history for DENSE and MASKED,
 * codebook/codebook_diff/codebook_history for SHARED, shadow/diff/history for SPLICED. One pass over it per step keeps
 * the number of thread barriers per step small. */
typedef struct {
  float *value, *grad, *history;
  size_t n;
  /* MASKED: the update zeroes grad where mask is 0 in the same pass (pruned values and
   * momenta are 0 and so stay 0); NULL otherwise. */
  const uint8_t *mask;
  /* SHARED, SPLICED: the view is not the data: call dc_param_reduce_grad() before
   * updating it and dc_param_sync() after. */
  int derived;
  /* SHARED: the weight decay of entry j is decay_scale[j] * wd * value[j]: centroid k
   * stands for n_k weights, and the L2 penalty wd/2 * sum_i w_i^2 over them has the
   * gradient n_k * wd * c_k. NULL: 1 (every other kind). */
  const float *decay_scale;
} dc_param_view;

dc_param_view dc_param_view_of(dc_param *p);

/* Turn per-weight gradients into the gradient of what the solver updates:
 * MASKED zeroes pruned entries of diff; SHARED also sums diff by index into codebook_diff;
 * SPLICED keeps them all (the shadow of a pruned weight follows the gradient of its 0). */
void dc_param_reduce_grad(dc_param *p);

/* Re-derive data after the solver changed the view: MASKED re-applies the mask,
 * SHARED expands codebook[index] * mask, SPLICED takes shadow * mask. DENSE: nothing. */
void dc_param_sync(dc_param *p);

/* Fill data from the filler with a stream seeded by (seed, hash(name)). */
void dc_param_fill(dc_param *p, uint64_t seed);

/* Make p MASKED with keep[i] (1 keep / 0 prune): pruned data and history become 0.
 * A SHARED parameter keeps its codebook and only loses the pruned entries; a SPLICED one
 * keeps its shadow and momentum (a weight pruned now may be kept again later).
 * The param owns its mask afterwards. */
dc_status dc_param_set_mask(dc_param *p, const uint8_t *keep);

/* Make p SHARED from a codebook of k = 1 << bits centroids and an index per weight
 * (ignored where masked). Copies both. Momentum of the centroids starts at 0. A SPLICED
 * p ends splicing first (its shadow is dropped, its mask kept). */
dc_status dc_param_set_shared(dc_param *p, int bits, const float *codebook, const uint8_t *index);

/* Make a MASKED (or DENSE: all kept) p SPLICED, its shadow a copy of data (pruned
 * weights start at 0), when on; make a SPLICED p MASKED again, keeping data (shadow *
 * mask) and zeroing the momentum of the pruned weights, when off. Nothing changes when
 * p is already so. SHARED cannot splice. */
dc_status dc_param_set_spliced(dc_param *p, int on);

/* What magnitude pruning ranks in p: the values (data, or the shadow when SPLICED) and
 * which of them may be kept (*eligible: the mask, or NULL for every entry: DENSE, and
 * SPLICED, whose pruned weights may come back). */
const float *dc_param_prune_values(const dc_param *p, const uint8_t **eligible);

/* Back to DENSE keeping the current values (masks, codebook freed). */
void dc_param_make_dense(dc_param *p);

/* Number of unpruned weights (count for DENSE). */
size_t dc_param_nonzero(const dc_param *p);

/* Free mask/codebook memory owned by p (data/diff/history belong to the arena). */
void dc_param_release(dc_param *p);

/* ---- What describes p beside its values (checkpoints, .dcz, reports) ------------- */

/* The arrays p's kind adds to its values (p->data): the mask when MASKED, SHARED or
 * SPLICED, the codebook and per-weight index when SHARED, the shadow when SPLICED; NULL
 * and 0 for what the kind has not. A
 * checkpoint stores these; a report shows `bits` (0: the weights are plain fp32). */
typedef struct {
  uint8_t *mask;     /* (count) 1 kept / 0 pruned; NULL: DENSE */
  float *codebook;   /* (1 << bits) centroids; NULL: not SHARED */
  uint8_t *index;    /* (count) centroid of each weight; with codebook */
  int bits;          /* with codebook: 1..8, else 0 */
  float *shadow;     /* (count) SPLICED: every weight's value; NULL otherwise */
} dc_param_parts;

/* The parts of p, pointing into p (valid until p changes kind). */
dc_param_parts dc_param_parts_of(dc_param *p);

/* Make p what parts say, given its values in p->data: DENSE without a mask, MASKED with
 * one (dc_param_set_mask), SHARED with a codebook too (dc_param_set_shared, which then
 * derives data), SPLICED with a shadow (which then derives data). Copies the arrays (the caller keeps them). */
dc_status dc_param_set_parts(dc_param *p, const dc_param_parts *parts);

/* A full copy of p's values and kind (not its momentum), to undo a trial change
 * exactly: dc_param_snapshot_restore puts p back bit for bit. The snapshot owns its arrays. */
typedef struct {
  float *data;            /* (count) */
  dc_param_parts parts;   /* owned copies of p's parts */
} dc_param_snapshot;

dc_status dc_param_snapshot_take(dc_param *p, dc_param_snapshot *s);
dc_status dc_param_snapshot_restore(dc_param *p, const dc_param_snapshot *s);
void dc_param_snapshot_free(dc_param_snapshot *s);

const char *dc_param_kind_name(dc_param_kind k);


/* ---- Between processes (data-parallel training) --------------------------------- */

/* What of p's gradient must travel to be summed over the ranks, after
 * dc_param_reduce_grad: DENSE and SPLICED all of diff, MASKED only the kept entries, SHARED only the k
 * centroid gradients. Returns how many floats; *where is the gradient itself when it is
 * contiguous (summed in place) or `scratch` (dc_param_comm_scratch(p) floats), into which
 * the kept entries were packed. */
size_t dc_param_grad_pack(dc_param *p, float *scratch, float **where);
/* After the sum: scatter what dc_param_grad_pack packed into scratch back into diff. */
void dc_param_grad_unpack(dc_param *p, const float *scratch);
/* Floats of scratch dc_param_grad_pack needs for p's current kind and mask (0: none). */
size_t dc_param_comm_scratch(const dc_param *p);

/* The arrays that make up p's state besides its kind (values, momentum, mask, codebook,
 * index, shadow, as the kind has them), for copying it to another process that holds p in the
 * same kind: up to DC_PARAM_MAX_ARRAYS (pointer, bytes) pairs; returns how many. */
#define DC_PARAM_MAX_ARRAYS 5
int dc_param_arrays(dc_param *p, void **ptr, size_t *bytes);

/* Make p of `kind` (with a 1 << bits codebook when SHARED) with room for its arrays, their
 * contents to be overwritten from another process (dc_param_arrays): a new mask keeps
 * everything, a new codebook and index are zero. Nothing changes when p is of that kind. */
dc_status dc_param_adopt_kind(dc_param *p, dc_param_kind kind, int bits);

#endif

/* dc/plan.h — `dctrain plan`: a compression schedule from a size budget.
 *
 * From trained dense weights it measures how much accuracy each weighted layer loses
 * when pruned alone (dc_cmd_sensitivity) and when quantized alone (dc_cmd_sensitivity_bits),
 * and what each layer would take in a .dcz at every (density, bits) of the grid (the
 * layer pruned and quantized as the stages do, then encoded in memory by the .dcz
 * writer itself: dc_dcz_layer_size). It then picks one (density, bits) per layer so that
 * the whole file fits the budget at the least summed loss, and writes an experiment file
 * with those [prune] and [quantize] settings that runs like any other. */
#ifndef DC_PLAN_H
#define DC_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "dc/error.h"
#include "dc/experiment.h"

#define DC_PLAN_MAX_GRID 64

typedef struct {
  const char *weights;    /* trained dense weights; NULL: OUTPUT/train.h5, else [experiment] weights */
  const char *out_cfg;    /* the experiment file to write (atomically) */
  const char *command;    /* the command line, quoted in the file's comments (may be NULL) */
  uint64_t budget;        /* bytes model.dcz may take, > 0 */
  double max_loss;        /* percentage points of top-1 the quantization part may cost (>= 0) */
  double reserve;         /* percent of the budget the plan leaves free for what retraining
                           * changes in the encoded size (dctrain plan: 3) */
  int rounds;             /* pruning rounds; 0: enough that each keeps >= 55% of the last */
  const char *tables;     /* NULL: measure the sensitivities; else a directory holding the
                           * sensitivity.csv and sensitivity-bits.csv of these weights (an
                           * earlier plan's or sensitivity's OUTPUT): read back, their rows
                           * the grid, so trying another budget takes seconds */
  int ndensities, nbits;  /* the grid; 0: the defaults (100% .. 0.5%, 8 .. 1 bits) */
  double density[DC_PLAN_MAX_GRID]; /* percent kept, descending */
  int bits[DC_PLAN_MAX_GRID];       /* descending */
} dc_plan_conf;

typedef struct {
  char name[64];
  uint64_t weights;       /* weights in the layer */
  double density;         /* percent kept */
  int bits;
  uint64_t bytes;         /* its record in the .dcz as planned (before retraining) */
  double prune_loss;      /* top-1 points lost with this layer alone pruned to `density` */
  double quant_loss;      /* ... alone quantized to `bits` */
} dc_plan_layer;

typedef struct {
  int nlayers;
  dc_plan_layer *layer;   /* (nlayers) owned; release with dc_plan_free */
  uint64_t budget, bytes; /* the budget; the planned file (the plan applied to the dense
                           * weights at once, encoded: OUTPUT/plan.dcz) */
  uint64_t dense_bytes;   /* fp32 weights and biases */
  double ratio;           /* dense_bytes / bytes */
  double dense_top1;      /* the weights as given (fraction) */
  double oneshot_top1;    /* the plan applied at once, no retraining (fraction) */
  double prune_loss, quant_loss; /* summed over the layers (points) */
  int rounds;
} dc_plan;

/* Plan e's compression from trained dense weights to fit c->budget bytes and write
 * c->out_cfg: e's file with its [experiment] name and output set from the new file's
 * name, [prune] and [quantize] replaced by the plan (comments say why) and [encode]
 * kept (added when missing). Also writes OUTPUT/sensitivity{,-bits}.{csv,png} and
 * OUTPUT/plan.dcz. Progress and the plan's table go to out (may be NULL). DC_ERR_ARG
 * with one line on a bad conf, a budget no grid point meets (naming the smallest
 * reachable size), or a net without weighted layers. res (may be NULL) gets the plan;
 * release with dc_plan_free. */
dc_status dc_cmd_plan(const dc_experiment *e, const dc_plan_conf *c, FILE *out, dc_plan *res);

void dc_plan_free(dc_plan *p);

/* The budget of a compression ratio: floor(fp32 bytes of e's weights and biases / ratio),
 * the net built from e's net file (no weights needed). ratio > 0, else DC_ERR_ARG. */
dc_status dc_plan_budget_from_ratio(const dc_experiment *e, double ratio, uint64_t *bytes);

/* Parse a size such as "20KB", "17220", "1.5MB", "16KiB" into bytes (B, KB = 1000,
 * MB = 1000^2, KiB = 1024, MiB = 1024^2; case-insensitive). DC_ERR_ARG with a
 * one-line reason naming `what` ("--size") on anything else or a size of 0. */
dc_status dc_parse_size(const char *text, const char *what, uint64_t *bytes);

#endif

/* stages.h — private: the stages of an experiment, in the order they run: dense
 * training, pruning rounds, weight sharing (quantize), encoding. The runner in
 * experiment.c checkpoints and reports between them. */
#ifndef DC_STAGES_H
#define DC_STAGES_H

#include <stdio.h>

#include "dc/compress.h"
#include "dc/config.h"
#include "dc/report.h"
#include "dc/train.h"

typedef enum { DC_STAGE_TRAIN, DC_STAGE_PRUNE, DC_STAGE_QUANTIZE, DC_STAGE_ENCODE } dc_stage_kind;

typedef struct {
  dc_stage_kind kind;
  int round;      /* prune: 1..rounds */
  char label[32]; /* "train", "prune1", "quantize", "encode": checkpoint and report names */
} dc_stage;

/* The stages e asks for, into st (room for DC_MAX_STAGES); returns how many. */
int dc_stages_build(const dc_experiment *e, dc_stage *st);

/* Run stage sg from t->state.stage_iter: when it starts fresh (stage_iter 0), first
 * prune or quantize the net, then (re)train; encode writes and verifies model.dcz and
 * fills stats. dropout0: the net's dropout ratios as built (per layer index). */
dc_status dc_stage_run(const dc_experiment *e, dc_trainer *t, const dc_stage *sg, const float *dropout0,
                       dc_dcz_stats *stats);

/* The encode stage into path: choose the bias precision ([encode] bias_bits), then the
 * codebook precision ([encode] codebook_bits, measured with those biases), write the
 * .dcz, decode it into the net checking every weight and bias bit for bit, and require
 * the same test result; stats gets the sizes (rank 0). t->train_net is encoded and
 * t's test side evaluates it (they may be the same net). */
dc_status dc_stage_encode(const dc_experiment *e, dc_trainer *t, const char *path, dc_dcz_stats *stats);

#endif

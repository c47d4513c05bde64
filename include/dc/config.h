/* dc/config.h — what one experiments/NAME.cfg says, as plain types: the [experiment],
 * [data] and [solver] settings and the compression stages' sections ([prune],
 * [quantize], [encode]). Filled and validated by dc_experiment_load (dc/experiment.h);
 * read by the runner and by its stages. Every key is documented in README.md. */
#ifndef DC_CONFIG_H
#define DC_CONFIG_H

#include <stdint.h>

#include "dc/solver.h"

typedef enum { DC_DATA_MNIST = 0, DC_DATA_IMAGENET, DC_DATA_KIND_COUNT } dc_data_kind;

#define DC_MAX_LAYER_SETTINGS 64

/* A per-layer value from a stage section, e.g. `ip1 = 8%` in [prune]. */
typedef struct {
  char layer[64];
  double value;
} dc_layer_setting;

typedef enum { DC_PRUNE_DENSITY = 0, DC_PRUNE_QUALITY } dc_prune_mode;
typedef enum { DC_FREEZE_NONE = 0, DC_FREEZE_CONV, DC_FREEZE_FC } dc_freeze;

typedef struct {
  int enabled;
  dc_prune_mode mode;
  int rounds;               /* prune + retrain cycles */
  long retrain_iters;       /* per round */
  long final_retrain_iters; /* the last round's (default retrain_iters) */
  long splice;              /* >0: pruning with splicing, masks re-chosen from the shadow
                             * weights every `splice` iterations (the last round's first
                             * half only); 0: a round's mask is fixed */
  double splice_margin;     /* hysteresis: a kept weight ranks as (1 + this) times larger */
  double lr;                /* retraining base_lr (default [solver] base_lr / 10) */
  int policy;               /* retraining lr policy (dc_lr_policy); -1: [solver]'s */
  dc_freeze freeze;         /* keep these layers fixed while the others retrain */
  int adjust_dropout;       /* D_r = D_o * sqrt(C_r / C_o) */
  int nlayers;
  dc_layer_setting layer[DC_MAX_LAYER_SETTINGS]; /* density (0..1] or quality */
} dc_prune_conf;

typedef struct {
  int enabled;
  int conv_bits, fc_bits;
  int init; /* dc_kmeans_init */
  long retrain_iters;
  double lr;
  int policy; /* retraining lr policy (dc_lr_policy); -1: [solver]'s */
  int nlayers;
  dc_layer_setting layer[DC_MAX_LAYER_SETTINGS]; /* bits per named layer */
} dc_quantize_conf;

typedef struct {
  int enabled;
  int conv_gap_bits, fc_gap_bits; /* 1..16, or DC_DCZ_GAP_AUTO (0): the encoder picks per layer */
  int bias_bits;                  /* 32, 16, 8, or 0 (auto): the fewest of 8, 16 bits that leave the
                                     test accuracy unchanged, else 32 */
  int codebook_bits;              /* 32, 16, or 0 (auto): fp16 centroids if they leave the test
                                     accuracy unchanged (with the chosen biases), else 32 */
} dc_encode_conf;

typedef struct {
  char path[512]; /* the cfg file */
  /* [experiment] */
  char name[64];
  char net[512];     /* net file */
  char output[512];  /* run directory */
  char weights[512]; /* optional: start from these HDF5 weights */
  uint64_t seed;
  int threads;
  /* [data] */
  dc_data_kind data_kind;
  char data_dir[512];
  double scale;
  long train_limit, test_limit; /* 0: all samples */
  int shuffle;
  /* [data] kind = imagenet only (see dc_imagefolder_conf) */
  int resize, crop;       /* resize (as resize_mode says), then a crop × crop crop */
  int resize_mode;        /* dc_resize_mode: squash, shorter */
  int rgb;                /* channels = rgb (else bgr) */
  double mean[3], std[3]; /* per output channel */
  int mirror;
  int loader_threads; /* decode threads (prefetching loader, test batches) */
  char val_list[512]; /* "": val from class folders; else a Caffe list (relative to data_dir) */
  int on_bad_image;   /* dc_on_bad: skip (default) or stop */
  /* [solver] */
  dc_solver_conf solver;
  int batch, test_batch;
  long display, test_interval, test_iters, snapshot;
  /* compression stages, in this order when enabled */
  dc_prune_conf prune;
  dc_quantize_conf quantize;
  dc_encode_conf encode;
  /* command line */
  long stop_after; /* >0: checkpoint and stop after this many total iterations */
} dc_experiment;

#endif

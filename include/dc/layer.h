/* dc/layer.h — one step of a chain-shaped net.
 *
 * Every layer reads one input activation and writes one output activation (NCHW
 * float32). Weighted layers own up to two parameters (weight, bias) that live in the
 * net's parameter arena. Per-kind behaviour (parse options, set up oneDNN primitives
 * once per shape, forward, backward) comes from a table indexed by dc_layer_type, in
 * src/layers/; nothing outside that table switches on the type more than once. */
#ifndef DC_LAYER_H
#define DC_LAYER_H

#include <stdint.h>

#include "dc/error.h"
#include "dc/param.h"
#include "dc/tensor.h"

typedef enum {
  DC_LAYER_CONV = 0,
  DC_LAYER_FC,
  DC_LAYER_MAXPOOL,
  DC_LAYER_AVGPOOL,
  DC_LAYER_RELU,
  DC_LAYER_LRN,
  DC_LAYER_DROPOUT,
  DC_LAYER_SOFTMAX_LOSS,
  DC_LAYER_TYPE_COUNT
} dc_layer_type;

struct dc_layer;

/* What a pass needs besides the activations. */
typedef struct {
  int train;          /* 1: training pass (dropout active, caches kept for backward) */
  const int *labels;  /* (N) class labels, for the loss layer */
  uint64_t seed;      /* run seed; with `first` it seeds dropout masks reproducibly */
  int64_t iter;       /* training iteration (all stages) */
  int64_t first;      /* stream position of sample 0 of this batch: sample i's dropout mask
                       * derives from (seed, layer, first + i) alone, so it is the same
                       * whichever process of a data-parallel job holds the sample */
  int norm;           /* the loss is the sum over the batch divided by this (0: the batch
                       * size). Data-parallel ranks hold part of a global batch B and set
                       * B, so their summed gradients are those of the global mean loss */
  int count;          /* the loss counts samples [0, count) only (0: all): a test pass pads
                       * a short last batch, and the padding must not weigh in */
  /* Called by dc_net_backward once layer l's parameter gradients are final (NULL: not
   * called): lets a data-parallel trainer start sending them while backward goes on. */
  dc_status (*grad_ready)(void *ctx, struct dc_layer *l);
  void *grad_ctx;
} dc_pass;

typedef struct dc_layer {
  dc_layer_type type;
  char name[64];       /* unique; weighted layers' names are their HDF5 group */
  int line;            /* line of its section in the net file, for messages */
  dc_shape in, out;
  dc_param *weight;    /* NULL for layers without parameters */
  dc_param *bias;      /* NULL when absent (bias_term = false) */
  int in_grad;         /* backward must compute in_diff (known before buffers exist) */
  float *in_data, *in_diff;   /* views into the net's activation arenas */
  float *out_data, *out_diff; /* (in_diff is NULL when in_grad is 0) */
  double loss;         /* softmax_loss: mean loss of the last forward */
  void *priv;          /* kind-specific options and oneDNN primitives */
} dc_layer;

/* Table of per-kind traits and callbacks, indexed by dc_layer_type. */
const char *dc_layer_type_name(dc_layer_type t);
/* The type whose section name is `name` ("conv", "fc", ...); -1 if none. */
int dc_layer_type_from_name(const char *name);

/* The family of a type's weights, which per-family settings go by ([quantize] conv_bits /
 * fc_bits, [encode] conv_gap_bits / fc_gap_bits, freeze = conv | fc): NONE for a type
 * without parameters. */
typedef enum { DC_WEIGHTS_NONE = 0, DC_WEIGHTS_CONV, DC_WEIGHTS_FC } dc_weight_family;
dc_weight_family dc_layer_type_weights(dc_layer_type t);

/* What the layer runs on: oneDNN's implementation name for its forward primitive (e.g.
 * "jit:avx512_core"), flagged when a backward primitive fell back to a slow reference
 * kernel; "C" for layers written in plain C. */
void dc_layer_describe(const dc_layer *l, char *buf, size_t cap);

/* Dropout ratio can change at run time (pruning retrains rescale it). */
float dc_dropout_ratio(const dc_layer *l);
void dc_dropout_set_ratio(dc_layer *l, float ratio);

#endif

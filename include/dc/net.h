/* dc/net.h — a net: an ordered chain of layers built from a net file (nets/NAME.net).
 *
 * A net is created for one batch size (oneDNN primitives are built once per shape).
 * Several nets can share one parameter store (dc_params): the test net shares the
 * train net's weights, as in Caffe. Memory: one allocation each for parameter values,
 * gradients, solver history (in dc_params) and one each for activations and their
 * gradients (in dc_net). */
#ifndef DC_NET_H
#define DC_NET_H

#include <stdint.h>

#include "dc/error.h"
#include "dc/layer.h"
#include "dc/param.h"

struct dc_cfg;

/* The parameters of a net, owned once, shared by every net built on them. */
typedef struct dc_params {
  int count;
  dc_param *p;          /* (count) in layer order: weight then bias */
  float *arena_data;    /* one allocation for every param's data */
  float *arena_diff;    /* one allocation for every param's diff */
  float *arena_history; /* one allocation for every param's momentum */
  size_t total;         /* floats in each arena */
} dc_params;

typedef struct dc_net {
  int nlayers;
  dc_layer *layers;
  dc_params *params;
  int owns_params;
  int batch;
  dc_shape input;       /* (batch, C, H, W) from [input] */
  float *input_data;    /* (batch*C*H*W) caller fills before dc_net_forward */
  float *acts, *act_diffs; /* activation arenas (act_diffs NULL without DC_NET_TRAIN) */
  int classes;          /* output width of the loss layer */
  int train;            /* built with backward primitives */
  int input_grad;       /* also compute d(loss)/d(input) into input_diff (tests) */
  float *input_diff;    /* (batch*C*H*W) */
  char path[256];       /* net file, for messages */
  double *profile;      /* NULL, or (2*nlayers) seconds spent per layer: forward then backward */
  struct dc_net_layouts *layouts; /* (nlayers) private: memory layouts and reorders */
} dc_net;

enum {
  DC_NET_TRAIN = 1,      /* set up backward too (else forward-only inference primitives) */
  DC_NET_INPUT_GRAD = 2, /* with TRAIN: also compute d(loss)/d(input) into input_diff */
  DC_NET_REUSE = 4       /* without TRAIN: layers' outputs share two buffers (each the size of the
                          * largest), so after a forward only the last two layers' outputs (the
                          * scores and the probabilities) are valid; for test and eval nets */
};

/* Build a net from a parsed net file for `batch` samples; flags from the enum above. shared == NULL: allocate a
 * new parameter store (not yet filled: call dc_net_init_params). Otherwise use
 * `shared`, whose shapes must match. Errors name file:line. */
dc_status dc_net_create(struct dc_cfg *netcfg, int batch, int flags, dc_params *shared, dc_net **out);
/* Load and parse `path`, then dc_net_create. */
dc_status dc_net_load(const char *path, int batch, int flags, dc_params *shared, dc_net **out);
void dc_net_free(dc_net *net);

/* Fill every parameter from its filler, seeded by (seed, name). */
void dc_net_init_params(dc_net *net, uint64_t seed);

/* Forward over input_data with labels; returns the mean loss in *loss (may be NULL).
 * After it, dc_net_output() holds the class probabilities (batch x classes). */
dc_status dc_net_forward(dc_net *net, const dc_pass *pass, double *loss);
/* Backward from the loss; writes every param's diff (overwrites, does not accumulate). */
dc_status dc_net_backward(dc_net *net, const dc_pass *pass);
const float *dc_net_output(const dc_net *net);
/* The first half of layer i's forward step: reorder the previous output into the layout
 * layer i reads, when they differ (a no-op otherwise). dc_net_forward does this before
 * each layer; a runtime that computes some layers itself (src/infer/engine.c) calls it
 * and then fills l->out_data from l->in_data (plain NCHW for fc layers). */
dc_status dc_net_layer_input(dc_net *net, int i);
/* Layer i's output as plain NCHW floats into dst (dc_shape_count(layers[i].out)).
 * Activations between oneDNN layers may be in blocked layouts: read them through this.
 * A ReLU after a layer runs in place: that layer's output reads as the ReLU's. */
dc_status dc_net_read_output(dc_net *net, int i, float *dst);

dc_layer *dc_net_find_layer(dc_net *net, const char *name);
dc_param *dc_params_find(dc_params *ps, const char *name);

/* Count of samples among n whose label is within the top-k of probs (n x classes). */
int dc_topk_correct(const float *probs, const int *labels, int n, int classes, int k);

/* How many threads every net of this process computes with (oneDNN's primitives and the
 * OpenMP loops); threads <= 0 keeps the current count. Also makes every thread of the
 * pool flush denormals to zero: late in training they would slow x86 ~100x. Call it
 * before building nets, from one thread. */
void dc_set_threads(int threads);

#endif

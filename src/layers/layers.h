/* layers/layers.h — private: the per-kind table behind dc_layer, and helpers the
 * layer files share. One file per kind in src/layers/ fills one table entry. */
#ifndef DC_LAYERS_H
#define DC_LAYERS_H

#include "backend/dnn.h"
#include "dc/cfg.h"
#include "dc/layer.h"

/* Memory layouts around one layer; activations between oneDNN layers may be blocked. */
typedef struct {
  dnnl_memory_desc_t in;   /* how the previous layer's output is laid out (given) */
  dnnl_memory_desc_t want; /* how this layer reads its input (and writes its input gradient) */
  dnnl_memory_desc_t out;  /* how this layer writes its output (and reads its output gradient) */
} dc_layout;

/* Floats in a buffer of layout md (blocked layouts pad channels). */
static inline size_t dc_layout_floats(const dnnl_memory_desc_t *md) { return dnnl_memory_desc_get_size(md) / sizeof(float); }

/* Plain NCHW layout of a shape. */
static inline dnnl_memory_desc_t dc_layout_plain(dc_shape s) { return dc_dnn_nchw(s.n, s.c, s.h, s.w); }

typedef struct {
  const char *name; /* section name in a net file */
  dc_weight_family weights; /* which weights it has (weight and optional bias); NONE: none */
  /* Read options from the section into l->priv (allocated here); for weighted kinds also
   * the parameters' fillers and multipliers into w, b. */
  dc_status (*parse)(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b);
  /* From l->in compute l->out; weighted kinds set the dims/fan_in of w and b (b->count 0
   * when there is no bias). Errors name the net file line via `file`. */
  dc_status (*shape)(dc_layer *l, const char *file, dc_param *w, dc_param *b);
  /* Create oneDNN primitives for l->in/out (after params exist, before activations do)
   * and choose layouts: lay->in is the layout the input arrives in; set lay->want (the
   * layout this layer reads: the net reorders into it when it differs) and lay->out.
   * train: also the backward primitives (gradients flow in the same layouts). */
  dc_status (*setup)(dc_layer *l, int train, dc_layout *lay);
  dc_status (*forward)(dc_layer *l, const dc_pass *pass);
  /* Reads out_diff; writes in_diff (when non-NULL) and the params' diff. */
  dc_status (*backward)(dc_layer *l, const dc_pass *pass);
  void (*destroy)(dc_layer *l);
  /* Which oneDNN implementations the layer runs on, for profiles (NULL: plain C). */
  void (*describe)(const dc_layer *l, char *buf, size_t cap);
  /* NULL, or whether l may run in place (out_data = in_data, out_diff = in_diff, as Caffe's
   * ReLU): elementwise, and its backward can tell what it needs from its output alone.
   * The layer before it must not read its own output in backward (none of ours does but
   * softmax_loss, which is last). */
  int (*in_place)(const dc_layer *l);
} dc_layer_kind;

extern const dc_layer_kind dc_conv_kind, dc_fc_kind, dc_maxpool_kind, dc_avgpool_kind,
    dc_relu_kind, dc_lrn_kind, dc_dropout_kind, dc_softmax_loss_kind;

const dc_layer_kind *dc_layer_kind_of(dc_layer_type t);

/* A layer kind built on one forward and one backward primitive that share a workspace
 * (pooling, LRN). */
typedef struct {
  dc_op fwd, bwd;
  void *workspace; /* what forward keeps for backward (e.g. max pooling's argmax); NULL if none */
} dc_fwd_bwd;
void dc_fwd_bwd_release(dc_fwd_bwd *fb);
void dc_fwd_bwd_describe(const dc_fwd_bwd *fb, char *buf, size_t cap);

/* Shared by conv and fc: weight_filler (xavier|gaussian|constant), weight_std,
 * weight_value, bias_filler, bias_std, bias_value, lr_mult, decay_mult, bias_lr_mult,
 * bias_decay_mult, bias_term. */
dc_status dc_parse_param_options(dc_cfg_section *s, dc_param *w, dc_param *b, int *bias_term);

#endif

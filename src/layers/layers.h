/* layers/layers.h — private: the per-kind table behind dc_layer, and helpers the
 * layer files share. One file per kind in src/layers/ fills one table entry. */
#ifndef DC_LAYERS_H
#define DC_LAYERS_H

#include "dc/cfg.h"
#include "dc/layer.h"

typedef struct {
  const char *name; /* section name in a net file */
  int weighted;     /* has weight (and optional bias) */
  /* Read options from the section into l->priv (allocated here); for weighted kinds also
   * the parameters' fillers and multipliers into w, b. */
  dc_status (*parse)(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b);
  /* From l->in compute l->out; weighted kinds set the dims/fan_in of w and b (b->count 0
   * when there is no bias). Errors name the net file line via `file`. */
  dc_status (*shape)(dc_layer *l, const char *file, dc_param *w, dc_param *b);
  /* Create oneDNN primitives for l->in/out (after params and activations exist).
   * train: also the backward primitives. */
  dc_status (*setup)(dc_layer *l, int train);
  dc_status (*forward)(dc_layer *l, const dc_pass *pass);
  /* Reads out_diff; writes in_diff (when non-NULL) and the params' diff. */
  dc_status (*backward)(dc_layer *l, const dc_pass *pass);
  void (*destroy)(dc_layer *l);
} dc_layer_kind;

extern const dc_layer_kind dc_conv_kind, dc_fc_kind, dc_maxpool_kind, dc_avgpool_kind,
    dc_relu_kind, dc_lrn_kind, dc_dropout_kind, dc_softmax_loss_kind;

const dc_layer_kind *dc_layer_kind_of(dc_layer_type t);

/* Shared by conv and fc: weight_filler (xavier|gaussian|constant), weight_std,
 * weight_value, bias_filler, bias_std, bias_value, lr_mult, decay_mult, bias_lr_mult,
 * bias_decay_mult, bias_term. */
dc_status dc_parse_param_options(dc_cfg_section *s, dc_param *w, dc_param *b, int *bias_term);

#endif

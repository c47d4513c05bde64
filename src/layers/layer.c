/* layers/layer.c — the table of layer kinds, and option parsing shared by weighted layers. */
#include <stdio.h>
#include <string.h>

#include "layers/layers.h"

static const dc_layer_kind *const g_kinds[DC_LAYER_TYPE_COUNT] = {
    [DC_LAYER_CONV] = &dc_conv_kind,       [DC_LAYER_FC] = &dc_fc_kind,
    [DC_LAYER_MAXPOOL] = &dc_maxpool_kind, [DC_LAYER_AVGPOOL] = &dc_avgpool_kind,
    [DC_LAYER_RELU] = &dc_relu_kind,       [DC_LAYER_LRN] = &dc_lrn_kind,
    [DC_LAYER_DROPOUT] = &dc_dropout_kind, [DC_LAYER_SOFTMAX_LOSS] = &dc_softmax_loss_kind,
};

const dc_layer_kind *dc_layer_kind_of(dc_layer_type t) {
  DC_ASSERT((unsigned)t < DC_LAYER_TYPE_COUNT);
  return g_kinds[t];
}

const char *dc_layer_type_name(dc_layer_type t) { return dc_layer_kind_of(t)->name; }

dc_weight_family dc_layer_type_weights(dc_layer_type t) { return dc_layer_kind_of(t)->weights; }

int dc_layer_type_from_name(const char *name) {
  for (int t = 0; t < DC_LAYER_TYPE_COUNT; t++)
    if (strcmp(g_kinds[t]->name, name) == 0) return t;
  return -1;
}

void dc_layer_describe(const dc_layer *l, char *buf, size_t cap) {
  const dc_layer_kind *k = dc_layer_kind_of(l->type);
  if (k->describe && l->priv) k->describe(l, buf, cap);
  else snprintf(buf, cap, "C");
}

void dc_fwd_bwd_release(dc_fwd_bwd *fb) {
  dc_op_destroy(&fb->fwd);
  dc_op_destroy(&fb->bwd);
  dc_free(fb->workspace);
  fb->workspace = NULL;
}

void dc_fwd_bwd_describe(const dc_fwd_bwd *fb, char *buf, size_t cap) {
  const dc_op *bwd[1] = {&fb->bwd};
  dc_op_describe(buf, cap, &fb->fwd, bwd, 1);
}

static const char *const g_fillers[] = {"constant", "xavier", "gaussian"};

static dc_status parse_filler(dc_cfg_section *s, const char *prefix, dc_fill_kind def, dc_filler *f) {
  char key[64];
  int kind;
  double v;
  snprintf(key, sizeof key, "%s_filler", prefix);
  DC_TRY(dc_cfg_enum(s, key, g_fillers, 3, (int)def, &kind));
  f->kind = (dc_fill_kind)kind;
  snprintf(key, sizeof key, "%s_std", prefix);
  DC_TRY(dc_cfg_float(s, key, 0.01, &v));
  if (v < 0) return dc_cfg_key_error(s, key, "must be >= 0");
  f->std = (float)v;
  snprintf(key, sizeof key, "%s_value", prefix);
  DC_TRY(dc_cfg_float(s, key, 0.0, &v));
  f->value = (float)v;
  return DC_OK;
}

static dc_status parse_mult(dc_cfg_section *s, const char *key, double def, float *out) {
  double v;
  DC_TRY(dc_cfg_float(s, key, def, &v));
  if (v < 0) return dc_cfg_key_error(s, key, "must be >= 0");
  *out = (float)v;
  return DC_OK;
}

dc_status dc_parse_param_options(dc_cfg_section *s, dc_param *w, dc_param *b, int *bias_term) {
  DC_TRY(parse_filler(s, "weight", DC_FILL_XAVIER, &w->filler));
  DC_TRY(parse_filler(s, "bias", DC_FILL_CONSTANT, &b->filler));
  DC_TRY(parse_mult(s, "lr_mult", 1.0, &w->lr_mult));
  DC_TRY(parse_mult(s, "decay_mult", 1.0, &w->decay_mult));
  DC_TRY(parse_mult(s, "bias_lr_mult", 1.0, &b->lr_mult));
  DC_TRY(parse_mult(s, "bias_decay_mult", 1.0, &b->decay_mult));
  DC_TRY(dc_cfg_bool(s, "bias_term", 1, bias_term));
  return DC_OK;
}

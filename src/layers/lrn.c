/* layers/lrn.c — local response normalization across channels (AlexNet) on oneDNN.
 * Options (Caffe's names and defaults): local_size 5, alpha 1, beta 0.75, k 1.
 *   out = in / (k + alpha/local_size * sum over the window of in^2)^beta */
#include <stdlib.h>

#include "backend/dnn.h"
#include "layers/layers.h"

typedef struct {
  int local_size;
  float alpha, beta, k;
  dc_fwd_bwd ops;
} lrn_priv;

static dc_status lrn_parse(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b) {
  (void)w, (void)b;
  lrn_priv *p = calloc(1, sizeof *p);
  if (!p) return dc_fail(DC_ERR_NOMEM, "out of memory");
  l->priv = p;
  long n;
  double v;
  DC_TRY(dc_cfg_int_range(s, "local_size", 5, 1, 99, &n));
  if (n % 2 == 0) return dc_cfg_key_error(s, "local_size", "must be odd, got %ld", n);
  p->local_size = (int)n;
  DC_TRY(dc_cfg_float(s, "alpha", 1.0, &v)); p->alpha = (float)v;
  DC_TRY(dc_cfg_float(s, "beta", 0.75, &v)); p->beta = (float)v;
  DC_TRY(dc_cfg_float(s, "k", 1.0, &v));
  if (v <= 0) return dc_cfg_key_error(s, "k", "must be > 0");
  p->k = (float)v;
  return DC_OK;
}

static dc_status lrn_shape(dc_layer *l, const char *file, dc_param *w, dc_param *b) {
  (void)file, (void)w, (void)b;
  l->out = l->in;
  return DC_OK;
}

static dc_status lrn_setup(dc_layer *l, int train, dc_layout *lay) {
  lrn_priv *p = l->priv;
  dnnl_memory_desc_t md = lay->in;
  lay->want = lay->out = lay->in;
  dnnl_lrn_desc_t d;
  dnnl_status_t s = dnnl_lrn_forward_desc_init(&d, train ? dnnl_forward_training : dnnl_forward_inference,
                                               dnnl_lrn_across_channels, &md, p->local_size, p->alpha,
                                               p->beta, p->k);
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "lrn %s: bad descriptor (status %d)", l->name, (int)s);
  int fargs[3] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE};
  DC_TRY(dc_op_create(&p->ops.fwd, &d, NULL, fargs, 2, l->name));
  size_t ws = train ? dc_op_arg_bytes(&p->ops.fwd, DNNL_ARG_WORKSPACE) : 0;
  if (ws) {
    dc_op_destroy(&p->ops.fwd);
    DC_TRY(dc_op_create(&p->ops.fwd, &d, NULL, fargs, 3, l->name));
    p->ops.workspace = dc_alloc(ws);
    if (!p->ops.workspace) return DC_ERR_NOMEM;
  }
  if (!train || !l->in_grad) return DC_OK;
  s = dnnl_lrn_backward_desc_init(&d, dnnl_lrn_across_channels, &md, &md, p->local_size, p->alpha, p->beta, p->k);
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "lrn %s: bad descriptor (status %d)", l->name, (int)s);
  int bargs[4] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_WORKSPACE};
  return dc_op_create(&p->ops.bwd, &d, p->ops.fwd.pd, bargs, ws ? 4 : 3, l->name);
}

static dc_status lrn_forward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  lrn_priv *p = l->priv;
  void *ptrs[3] = {l->in_data, l->out_data, p->ops.workspace};
  return dc_op_run(&p->ops.fwd, ptrs);
}

static dc_status lrn_backward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  lrn_priv *p = l->priv;
  if (!l->in_diff) return DC_OK;
  void *ptrs[4] = {l->in_data, l->out_diff, l->in_diff, p->ops.workspace};
  return dc_op_run(&p->ops.bwd, ptrs);
}

static void lrn_destroy(dc_layer *l) {
  lrn_priv *p = l->priv;
  if (!p) return;
  dc_fwd_bwd_release(&p->ops);
  free(p);
  l->priv = NULL;
}

static void lrn_describe(const dc_layer *l, char *buf, size_t cap) {
  dc_fwd_bwd_describe(&((const lrn_priv *)l->priv)->ops, buf, cap);
}

const dc_layer_kind dc_lrn_kind = {"lrn",       DC_WEIGHTS_NONE, lrn_parse,   lrn_shape,   lrn_setup,
                                   lrn_forward, lrn_backward, lrn_destroy, lrn_describe, NULL};

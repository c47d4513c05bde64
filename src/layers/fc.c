/* layers/fc.c — fully connected (inner product) on oneDNN.
 * Options: num_output, + param options. The input (N, C, H, W) is read as (N, C*H*W);
 * weight (O, C*H*W) — Caffe's layout; bias (O); output (N, O, 1, 1). */
#include <stdlib.h>

#include "backend/dnn.h"
#include "layers/layers.h"

typedef struct {
  int num_output, bias_term;
  dc_op fwd, bwd_data, bwd_weights;
} fc_priv;

static dc_status fc_parse(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b) {
  fc_priv *f = calloc(1, sizeof *f);
  if (!f) return dc_fail(DC_ERR_NOMEM, "out of memory");
  l->priv = f;
  long v;
  DC_TRY(dc_cfg_require(s, "num_output"));
  DC_TRY(dc_cfg_int_range(s, "num_output", 1, 1, 1 << 24, &v));
  f->num_output = (int)v;
  return dc_parse_param_options(s, w, b, &f->bias_term);
}

static dc_status fc_shape(dc_layer *l, const char *file, dc_param *w, dc_param *b) {
  (void)file;
  fc_priv *f = l->priv;
  l->out = (dc_shape){l->in.n, f->num_output, 1, 1};
  w->ndim = 2;
  w->dims[0] = f->num_output;
  w->dims[1] = (int)dc_shape_sample(l->in);
  w->fan_in = w->dims[1];
  b->ndim = 1;
  b->dims[0] = f->bias_term ? f->num_output : 0;
  return DC_OK;
}

/* Plain layouts throughout (the net reorders a blocked input to NCHW, which has the
 * bytes of (N, C*H*W)): the weights are the parameters themselves. */
static dc_status fc_setup(dc_layer *l, int train, dc_layout *lay) {
  fc_priv *f = l->priv;
  lay->want = dc_layout_plain(l->in);
  lay->out = dc_layout_plain(l->out);
  dnnl_dim_t src_d[2] = {l->in.n, (dnnl_dim_t)dc_shape_sample(l->in)};
  dnnl_dim_t dst_d[2] = {l->in.n, f->num_output};
  dnnl_dim_t w_d[2] = {f->num_output, src_d[1]};
  dnnl_dim_t b_d[1] = {f->num_output};
  dnnl_memory_desc_t src = dc_dnn_md(2, src_d, dnnl_nc), dst = dc_dnn_md(2, dst_d, dnnl_nc);
  dnnl_memory_desc_t wmd = dc_dnn_md(2, w_d, dnnl_oi), bmd = dc_dnn_md(1, b_d, dnnl_a);
  dnnl_inner_product_desc_t d;
  dnnl_status_t s = dnnl_inner_product_forward_desc_init(
      &d, train ? dnnl_forward_training : dnnl_forward_inference, &src, &wmd, f->bias_term ? &bmd : NULL, &dst);
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "fc %s: bad descriptor (status %d)", l->name, (int)s);
  int fargs[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
  DC_TRY(dc_op_create(&f->fwd, &d, NULL, fargs, f->bias_term ? 4 : 3, l->name));
  if (!train) return DC_OK;
  if (l->in_grad) {
    s = dnnl_inner_product_backward_data_desc_init(&d, &src, &wmd, &dst);
    if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "fc %s: bad descriptor (status %d)", l->name, (int)s);
    int bargs[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    DC_TRY(dc_op_create(&f->bwd_data, &d, f->fwd.pd, bargs, 3, l->name));
  }
  s = dnnl_inner_product_backward_weights_desc_init(&d, &src, &wmd, f->bias_term ? &bmd : NULL, &dst);
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "fc %s: bad descriptor (status %d)", l->name, (int)s);
  int wargs[4] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
  return dc_op_create(&f->bwd_weights, &d, f->fwd.pd, wargs, f->bias_term ? 4 : 3, l->name);
}

static dc_status fc_forward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  fc_priv *f = l->priv;
  void *ptrs[4] = {l->in_data, l->weight->data, l->out_data, l->bias ? l->bias->data : NULL};
  return dc_op_run(&f->fwd, ptrs);
}

static dc_status fc_backward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  fc_priv *f = l->priv;
  if (l->in_diff) {
    void *d[3] = {l->out_diff, l->weight->data, l->in_diff};
    DC_TRY(dc_op_run(&f->bwd_data, d));
  }
  void *w[4] = {l->in_data, l->out_diff, l->weight->diff, l->bias ? l->bias->diff : NULL};
  return dc_op_run(&f->bwd_weights, w);
}

static void fc_destroy(dc_layer *l) {
  fc_priv *f = l->priv;
  if (!f) return;
  dc_op_destroy(&f->fwd);
  dc_op_destroy(&f->bwd_data);
  dc_op_destroy(&f->bwd_weights);
  free(f);
  l->priv = NULL;
}

static void fc_describe(const dc_layer *l, char *buf, size_t cap) {
  const fc_priv *f = l->priv;
  const dc_op *bwd[2] = {&f->bwd_data, &f->bwd_weights};
  dc_op_describe(buf, cap, &f->fwd, bwd, 2);
}

const dc_layer_kind dc_fc_kind = {"fc",       DC_WEIGHTS_FC, fc_parse,   fc_shape,   fc_setup,
                                  fc_forward, fc_backward, fc_destroy, fc_describe, NULL};

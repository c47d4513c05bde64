/* layers/conv.c — convolution (stride, pad, groups) on oneDNN.
 * Options: num_output, kernel, stride (1), pad (0), group (1), + param options.
 * weight (O, I/G, K, K) — in memory exactly oneDNN's goihw with O = G * O/G; bias (O). */
#include <stdlib.h>
#include <string.h>

#include "backend/dnn.h"
#include "layers/layers.h"

typedef struct {
  int num_output, kernel, stride, pad, group, bias_term;
  dc_op fwd, bwd_data, bwd_weights;
} conv_priv;

static dc_status conv_parse(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b) {
  conv_priv *c = calloc(1, sizeof *c);
  if (!c) return dc_fail(DC_ERR_NOMEM, "out of memory");
  l->priv = c;
  long v;
  DC_TRY(dc_cfg_require(s, "num_output"));
  DC_TRY(dc_cfg_int_range(s, "num_output", 1, 1, 1 << 20, &v)); c->num_output = (int)v;
  DC_TRY(dc_cfg_require(s, "kernel"));
  DC_TRY(dc_cfg_int_range(s, "kernel", 1, 1, 1024, &v)); c->kernel = (int)v;
  DC_TRY(dc_cfg_int_range(s, "stride", 1, 1, 1024, &v)); c->stride = (int)v;
  DC_TRY(dc_cfg_int_range(s, "pad", 0, 0, 1024, &v)); c->pad = (int)v;
  DC_TRY(dc_cfg_int_range(s, "group", 1, 1, 1 << 20, &v)); c->group = (int)v;
  if (c->num_output % c->group)
    return dc_cfg_key_error(s, "group", "num_output %d is not divisible by group %d", c->num_output, c->group);
  return dc_parse_param_options(s, w, b, &c->bias_term);
}

static dc_status conv_shape(dc_layer *l, const char *file, dc_param *w, dc_param *b) {
  conv_priv *c = l->priv;
  if (l->in.c % c->group)
    return dc_fail(DC_ERR_SHAPE, "%s:%d: [conv] %s: %d input channels are not divisible by group %d", file,
                   l->line, l->name, l->in.c, c->group);
  int oh = (l->in.h + 2 * c->pad - c->kernel) / c->stride + 1;
  int ow = (l->in.w + 2 * c->pad - c->kernel) / c->stride + 1;
  if (l->in.h + 2 * c->pad < c->kernel || l->in.w + 2 * c->pad < c->kernel)
    return dc_fail(DC_ERR_SHAPE, "%s:%d: [conv] %s: kernel %d does not fit the %dx%d input (pad %d)", file,
                   l->line, l->name, c->kernel, l->in.h, l->in.w, c->pad);
  l->out = (dc_shape){l->in.n, c->num_output, oh, ow};
  w->ndim = 4;
  w->dims[0] = c->num_output;
  w->dims[1] = l->in.c / c->group;
  w->dims[2] = w->dims[3] = c->kernel;
  w->fan_in = w->dims[1] * c->kernel * c->kernel;
  b->ndim = 1;
  b->dims[0] = c->bias_term ? c->num_output : 0;
  return DC_OK;
}

static dc_status conv_setup(dc_layer *l, int train) {
  conv_priv *c = l->priv;
  dnnl_dim_t src_d[4] = {l->in.n, l->in.c, l->in.h, l->in.w};
  dnnl_dim_t dst_d[4] = {l->out.n, l->out.c, l->out.h, l->out.w};
  dnnl_dim_t g = c->group;
  dnnl_dim_t w5[5] = {g, c->num_output / g, l->in.c / g, c->kernel, c->kernel};
  dnnl_dim_t bias_d[1] = {c->num_output};
  dnnl_memory_desc_t src = dc_dnn_md(4, src_d, dnnl_nchw), dst = dc_dnn_md(4, dst_d, dnnl_nchw);
  dnnl_memory_desc_t wmd = g == 1 ? dc_dnn_md(4, w5 + 1, dnnl_oihw) : dc_dnn_md(5, w5, dnnl_goihw);
  dnnl_memory_desc_t bmd = dc_dnn_md(1, bias_d, dnnl_a);
  dnnl_dims_t strides = {c->stride, c->stride}, pad = {c->pad, c->pad};
  dnnl_convolution_desc_t d;
  dnnl_status_t s = dnnl_convolution_forward_desc_init(
      &d, train ? dnnl_forward_training : dnnl_forward_inference, dnnl_convolution_direct, &src, &wmd,
      c->bias_term ? &bmd : NULL, &dst, strides, pad, pad);
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "conv %s: bad descriptor (status %d)", l->name, (int)s);
  int fargs[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
  DC_TRY(dc_op_create(&c->fwd, &d, NULL, fargs, c->bias_term ? 4 : 3, l->name));
  if (!train) return DC_OK;
  if (l->in_diff) {
    s = dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &src, &wmd, &dst, strides, pad, pad);
    if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "conv %s: bad descriptor (status %d)", l->name, (int)s);
    int bargs[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    DC_TRY(dc_op_create(&c->bwd_data, &d, c->fwd.pd, bargs, 3, l->name));
  }
  s = dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &src, &wmd,
                                                  c->bias_term ? &bmd : NULL, &dst, strides, pad, pad);
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "conv %s: bad descriptor (status %d)", l->name, (int)s);
  int wargs[4] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
  return dc_op_create(&c->bwd_weights, &d, c->fwd.pd, wargs, c->bias_term ? 4 : 3, l->name);
}

static dc_status conv_forward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  conv_priv *c = l->priv;
  void *ptrs[4] = {l->in_data, l->weight->data, l->out_data, l->bias ? l->bias->data : NULL};
  return dc_op_run(&c->fwd, ptrs);
}

static dc_status conv_backward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  conv_priv *c = l->priv;
  if (l->in_diff) {
    void *d[3] = {l->out_diff, l->weight->data, l->in_diff};
    DC_TRY(dc_op_run(&c->bwd_data, d));
  }
  void *w[4] = {l->in_data, l->out_diff, l->weight->diff, l->bias ? l->bias->diff : NULL};
  return dc_op_run(&c->bwd_weights, w);
}

static void conv_destroy(dc_layer *l) {
  conv_priv *c = l->priv;
  if (!c) return;
  dc_op_destroy(&c->fwd);
  dc_op_destroy(&c->bwd_data);
  dc_op_destroy(&c->bwd_weights);
  free(c);
  l->priv = NULL;
}

const dc_layer_kind dc_conv_kind = {"conv", 1, conv_parse, conv_shape, conv_setup,
                                    conv_forward, conv_backward, conv_destroy};

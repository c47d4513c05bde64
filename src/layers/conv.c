/* layers/conv.c — convolution (stride, pad, groups) on oneDNN.
 * Options: num_output, kernel, stride (1), pad (0), group (1), + param options.
 * weight (O, I/G, K, K) — in memory exactly oneDNN's goihw with O = G * O/G; bias (O).
 * Activations in the layouts oneDNN prefers; see conv_setup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dnn.h"
#include "layers/layers.h"

/* Where backward-data reads the weights from (chosen at setup by the layout it wants). */
typedef enum {
  WB_AS_FORWARD = 0, /* the forward's copy: wbuf when reordered, else the plain parameters */
  WB_PLAIN,          /* the plain parameters, even when the forward reorders */
  WB_OWN_REORDER     /* a reorder of its own into wbbuf */
} wb_mode;

typedef struct {
  int num_output, kernel, stride, pad, group, bias_term;
  dc_op fwd, bwd_data, bwd_weights;
  dc_op w_to, dw_from;  /* plain <-> primitive weight layouts, when they differ */
  float *wbuf, *dwbuf;  /* weights / weight gradients in the primitive's layout */
  wb_mode wb_mode;      /* backward-data weights; calloc: WB_AS_FORWARD */
  dc_op wb_to;
  float *wbbuf;
  dc_op bw_src_to, bw_dd_to; /* input / output gradient into backward-weights' own layouts, */
  float *bw_src, *bw_dd;     /* when it has them (see bwd_weights_setup) */
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

/* Backward-weights on the forward's activation layouts (src, dst); where oneDNN has only
 * its reference kernel for those (AVX2 machines, a first layer of one input channel:
 * plain src with blocked dst, about 60x slower than a JIT kernel), on nhwc, else on the
 * layouts it chooses itself, the input and output gradient reordered into them before
 * each run. nhwc first: the layouts oneDNN 2.6 chooses on AVX2 pad one input channel to
 * 8 (8x the work: LeNet-5's conv1 4.3 ms a batch against 1.1 ms on nhwc). */
static dc_status bwd_weights_setup(conv_priv *c, dc_layer *l, const dnnl_memory_desc_t *src,
                                   const dnnl_memory_desc_t *dst, int wnd, const dnnl_dim_t *wd,
                                   const dnnl_memory_desc_t *bmd, const dnnl_dim_t *strides,
                                   const dnnl_dim_t *pad) {
  int wargs[4] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
  dnnl_convolution_desc_t d;
  /* the activation layouts tried, in order: the forward's (undef), nhwc, oneDNN's choice */
  static const dnnl_format_tag_t tags[] = {dnnl_format_tag_undef, dnnl_nhwc, dnnl_format_tag_any};
  for (int k = 0; k < 3; k++) {
    dnnl_memory_desc_t dw = dc_dnn_any(wnd, wd);
    dnnl_memory_desc_t s = k ? dc_dnn_md(4, src->dims, tags[k]) : *src;
    dnnl_memory_desc_t o = k ? dc_dnn_md(4, dst->dims, tags[k]) : *dst;
    if (dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &s, &dw, bmd, &o, strides, pad,
                                                    pad) != dnnl_success)
      return dc_fail(DC_ERR_BACKEND, "conv %s: bad descriptor", l->name);
    dc_op op = {0};
    DC_TRY(dc_op_create(&op, &d, c->fwd.pd, wargs, bmd ? 4 : 3, l->name));
    int ref = strncmp(dc_op_impl(&op), "ref", 3) == 0;
    if (k && ref) { /* no better: keep the forward's */
      dc_op_destroy(&op);
      continue;
    }
    dc_op_destroy(&c->bwd_weights);
    c->bwd_weights = op;
    if (!ref) break;
  }
  dnnl_memory_desc_t s = dc_op_md(&c->bwd_weights, DNNL_ARG_SRC), o = dc_op_md(&c->bwd_weights, DNNL_ARG_DIFF_DST);
  if (!dc_dnn_md_equal(&s, src)) {
    DC_TRY(dc_op_create_reorder(&c->bw_src_to, src, &s, l->name));
    if (!(c->bw_src = dc_alloc(dnnl_memory_desc_get_size(&s)))) return DC_ERR_NOMEM;
  }
  if (!dc_dnn_md_equal(&o, dst)) {
    DC_TRY(dc_op_create_reorder(&c->bw_dd_to, dst, &o, l->name));
    if (!(c->bw_dd = dc_alloc(dnnl_memory_desc_get_size(&o)))) return DC_ERR_NOMEM;
  }
  return DC_OK;
}

/* oneDNN picks the layouts (format "any"): activations usually become blocked
 * (nChw16c), the net reorders around the layer where needed. Parameters stay plain
 * (Caffe's oihw): the weights are reordered into the primitive's layout before each
 * pass that reads them, weight gradients back after backward. */
static dc_status conv_setup(dc_layer *l, int train, dc_layout *lay) {
  conv_priv *c = l->priv;
  dnnl_dim_t src_d[4] = {l->in.n, l->in.c, l->in.h, l->in.w};
  dnnl_dim_t dst_d[4] = {l->out.n, l->out.c, l->out.h, l->out.w};
  dnnl_dim_t g = c->group;
  dnnl_dim_t w5[5] = {g, c->num_output / g, l->in.c / g, c->kernel, c->kernel};
  dnnl_dim_t bias_d[1] = {c->num_output};
  int wnd = g == 1 ? 4 : 5;
  const dnnl_dim_t *wd = g == 1 ? w5 + 1 : w5;
  dnnl_memory_desc_t src = dc_dnn_any(4, src_d), dst = dc_dnn_any(4, dst_d), wmd = dc_dnn_any(wnd, wd);
  dnnl_memory_desc_t wplain = g == 1 ? dc_dnn_md(4, w5 + 1, dnnl_oihw) : dc_dnn_md(5, w5, dnnl_goihw);
  dnnl_memory_desc_t bmd = dc_dnn_md(1, bias_d, dnnl_a);
  dnnl_dims_t strides = {c->stride, c->stride}, pad = {c->pad, c->pad};
  dnnl_convolution_desc_t d;
  dnnl_status_t s = dnnl_convolution_forward_desc_init(
      &d, train ? dnnl_forward_training : dnnl_forward_inference, dnnl_convolution_direct, &src, &wmd,
      c->bias_term ? &bmd : NULL, &dst, strides, pad, pad);
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "conv %s: bad descriptor (status %d)", l->name, (int)s);
  int fargs[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
  DC_TRY(dc_op_create(&c->fwd, &d, NULL, fargs, c->bias_term ? 4 : 3, l->name));
  lay->want = src = dc_op_md(&c->fwd, DNNL_ARG_SRC);
  lay->out = dst = dc_op_md(&c->fwd, DNNL_ARG_DST);
  wmd = dc_op_md(&c->fwd, DNNL_ARG_WEIGHTS);
  if (!dc_dnn_md_equal(&wmd, &wplain)) {
    DC_TRY(dc_op_create_reorder(&c->w_to, &wplain, &wmd, l->name));
    c->wbuf = dc_alloc(dnnl_memory_desc_get_size(&wmd));
    if (!c->wbuf) return DC_ERR_NOMEM;
  }
  if (!train) return DC_OK;
  if (l->in_grad) {
    /* backward-data kernels often want the weights in another blocking (a forward
     * layout here can leave only oneDNN's slow reference kernel) */
    dnnl_memory_desc_t wb = dc_dnn_any(wnd, wd);
    s = dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &src, &wb, &dst, strides, pad, pad);
    if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "conv %s: bad descriptor (status %d)", l->name, (int)s);
    int bargs[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    DC_TRY(dc_op_create(&c->bwd_data, &d, c->fwd.pd, bargs, 3, l->name));
    wb = dc_op_md(&c->bwd_data, DNNL_ARG_WEIGHTS);
    if (dc_dnn_md_equal(&wb, &wplain)) {
      c->wb_mode = WB_PLAIN;
    } else if (!dc_dnn_md_equal(&wb, &wmd)) {
      c->wb_mode = WB_OWN_REORDER;
      DC_TRY(dc_op_create_reorder(&c->wb_to, &wplain, &wb, l->name));
      c->wbbuf = dc_alloc(dnnl_memory_desc_get_size(&wb));
      if (!c->wbbuf) return DC_ERR_NOMEM;
    }
  }
  DC_TRY(bwd_weights_setup(c, l, &src, &dst, wnd, wd, c->bias_term ? &bmd : NULL, strides, pad));
  dnnl_memory_desc_t dw = dc_op_md(&c->bwd_weights, DNNL_ARG_DIFF_WEIGHTS);
  if (!dc_dnn_md_equal(&dw, &wplain)) {
    DC_TRY(dc_op_create_reorder(&c->dw_from, &dw, &wplain, l->name));
    c->dwbuf = dc_alloc(dnnl_memory_desc_get_size(&dw));
    if (!c->dwbuf) return DC_ERR_NOMEM;
  }
  return DC_OK;
}

/* The weights in the primitive's layout. */
static dc_status conv_weights(conv_priv *c, dc_layer *l, void **w) {
  *w = l->weight->data;
  if (!c->wbuf) return DC_OK;
  void *r[2] = {l->weight->data, c->wbuf};
  *w = c->wbuf;
  return dc_op_run(&c->w_to, r);
}

static dc_status conv_forward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  conv_priv *c = l->priv;
  void *w;
  DC_TRY(conv_weights(c, l, &w));
  void *ptrs[4] = {l->in_data, w, l->out_data, l->bias ? l->bias->data : NULL};
  return dc_op_run(&c->fwd, ptrs);
}

static dc_status conv_backward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  conv_priv *c = l->priv;
  if (l->in_diff) {
    /* weights as backward-data wants them: the forward's reordered copy (the solver has
     * not run since), the plain parameters, or a reorder of its own */
    void *w = c->wbuf ? c->wbuf : (void *)l->weight->data;
    if (c->wb_mode == WB_PLAIN) w = l->weight->data;
    if (c->wb_mode == WB_OWN_REORDER) {
      void *r[2] = {l->weight->data, c->wbbuf};
      DC_TRY(dc_op_run(&c->wb_to, r));
      w = c->wbbuf;
    }
    void *d[3] = {l->out_diff, w, l->in_diff};
    DC_TRY(dc_op_run(&c->bwd_data, d));
  }
  void *in = l->in_data, *dd = l->out_diff;
  if (c->bw_src) {
    void *r[2] = {in, c->bw_src};
    DC_TRY(dc_op_run(&c->bw_src_to, r));
    in = c->bw_src;
  }
  if (c->bw_dd) {
    void *r[2] = {dd, c->bw_dd};
    DC_TRY(dc_op_run(&c->bw_dd_to, r));
    dd = c->bw_dd;
  }
  void *w[4] = {in, dd, c->dwbuf ? c->dwbuf : (void *)l->weight->diff, l->bias ? l->bias->diff : NULL};
  DC_TRY(dc_op_run(&c->bwd_weights, w));
  if (!c->dwbuf) return DC_OK;
  void *r[2] = {c->dwbuf, l->weight->diff};
  return dc_op_run(&c->dw_from, r);
}

static void conv_destroy(dc_layer *l) {
  conv_priv *c = l->priv;
  if (!c) return;
  dc_op_destroy(&c->fwd);
  dc_op_destroy(&c->bwd_data);
  dc_op_destroy(&c->bwd_weights);
  dc_op_destroy(&c->w_to);
  dc_op_destroy(&c->dw_from);
  dc_op_destroy(&c->wb_to);
  dc_op_destroy(&c->bw_src_to);
  dc_op_destroy(&c->bw_dd_to);
  dc_free(c->bw_src);
  dc_free(c->bw_dd);
  dc_free(c->wbbuf);
  dc_free(c->wbuf);
  dc_free(c->dwbuf);
  free(c);
  l->priv = NULL;
}

static void conv_describe(const dc_layer *l, char *buf, size_t cap) {
  const conv_priv *c = l->priv;
  const dc_op *bwd[2] = {&c->bwd_data, &c->bwd_weights};
  dc_op_describe(buf, cap, &c->fwd, bwd, 2);
  if (!c->bwd_weights.pd) return;
  /* a backward-weights input padded to over twice its channels does that much more work */
  dnnl_memory_desc_t s = dc_op_md(&c->bwd_weights, DNNL_ARG_SRC);
  size_t used = strlen(buf);
  if (s.padded_dims[1] > 2 * s.dims[1] && used < cap)
    snprintf(buf + used, cap - used, " (backward-weights input padded from %lld to %lld channels)",
             (long long)s.dims[1], (long long)s.padded_dims[1]);
}

const dc_layer_kind dc_conv_kind = {"conv", DC_WEIGHTS_CONV, conv_parse, conv_shape, conv_setup,
                                    conv_forward, conv_backward, conv_destroy, conv_describe, NULL};

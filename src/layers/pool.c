/* layers/pool.c — max and average pooling on oneDNN (sections [maxpool], [avgpool]).
 * Options: kernel, stride (= kernel), pad (0). Output size follows Caffe (rounded up,
 * the last window starting inside the padded input); oneDNN gets the extra right/bottom
 * padding. Average pooling excludes padding from the divisor. */
#include <stdlib.h>

#include "backend/dnn.h"
#include "layers/layers.h"

typedef struct {
  int kernel, stride, pad, pad_r_h, pad_r_w;
  dnnl_alg_kind_t alg;
  dc_fwd_bwd ops; /* workspace: max pooling's argmax, when training */
} pool_priv;

static dc_status pool_parse_alg(dc_layer *l, dc_cfg_section *s, dnnl_alg_kind_t alg) {
  pool_priv *p = calloc(1, sizeof *p);
  if (!p) return dc_fail(DC_ERR_NOMEM, "out of memory");
  l->priv = p;
  p->alg = alg;
  long v;
  DC_TRY(dc_cfg_require(s, "kernel"));
  DC_TRY(dc_cfg_int_range(s, "kernel", 2, 1, 1024, &v)); p->kernel = (int)v;
  DC_TRY(dc_cfg_int_range(s, "stride", p->kernel, 1, 1024, &v)); p->stride = (int)v;
  DC_TRY(dc_cfg_int_range(s, "pad", 0, 0, p->kernel - 1, &v)); p->pad = (int)v;
  return DC_OK;
}

static dc_status maxpool_parse(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b) {
  (void)w, (void)b;
  return pool_parse_alg(l, s, dnnl_pooling_max);
}

static dc_status avgpool_parse(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b) {
  (void)w, (void)b;
  return pool_parse_alg(l, s, dnnl_pooling_avg_exclude_padding);
}

static int pooled(int in, int k, int s, int pad, int *pad_r) {
  int out = (in + 2 * pad - k + s - 1) / s + 1; /* ceil */
  if (pad > 0 && (out - 1) * s >= in + pad) out--;
  *pad_r = (out - 1) * s + k - in - pad;
  if (*pad_r < 0) *pad_r = 0;
  return out;
}

static dc_status pool_shape(dc_layer *l, const char *file, dc_param *w, dc_param *b) {
  (void)w, (void)b;
  pool_priv *p = l->priv;
  if (l->in.h + 2 * p->pad < p->kernel || l->in.w + 2 * p->pad < p->kernel)
    return dc_fail(DC_ERR_SHAPE, "%s:%d: pooling kernel %d does not fit the %dx%d input", file, l->line,
                   p->kernel, l->in.h, l->in.w);
  int oh = pooled(l->in.h, p->kernel, p->stride, p->pad, &p->pad_r_h);
  int ow = pooled(l->in.w, p->kernel, p->stride, p->pad, &p->pad_r_w);
  l->out = (dc_shape){l->in.n, l->in.c, oh, ow};
  return DC_OK;
}

/* Pools in the layout its input comes in; the output follows oneDNN's choice. */
static dc_status pool_setup(dc_layer *l, int train, dc_layout *lay) {
  pool_priv *p = l->priv;
  dnnl_dim_t dst_d[4] = {l->out.n, l->out.c, l->out.h, l->out.w};
  dnnl_memory_desc_t src = lay->in, dst = dc_dnn_any(4, dst_d);
  dnnl_dims_t strides = {p->stride, p->stride}, kernel = {p->kernel, p->kernel};
  dnnl_dims_t pad_l = {p->pad, p->pad}, pad_r = {p->pad_r_h, p->pad_r_w};
  dnnl_pooling_desc_t d;
  dnnl_status_t s = dnnl_pooling_forward_desc_init(&d, train ? dnnl_forward_training : dnnl_forward_inference,
                                                   p->alg, &src, &dst, strides, kernel, pad_l, pad_r);
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "pool %s: bad descriptor (status %d)", l->name, (int)s);
  int with_ws = train && p->alg == dnnl_pooling_max;
  int fargs[3] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE};
  DC_TRY(dc_op_create(&p->ops.fwd, &d, NULL, fargs, with_ws ? 3 : 2, l->name));
  lay->want = lay->in;
  lay->out = dst = dc_op_md(&p->ops.fwd, DNNL_ARG_DST);
  if (with_ws) {
    p->ops.workspace = dc_alloc(dc_op_arg_bytes(&p->ops.fwd, DNNL_ARG_WORKSPACE));
    if (!p->ops.workspace) return DC_ERR_NOMEM;
  }
  if (!train || !l->in_grad) return DC_OK;
  s = dnnl_pooling_backward_desc_init(&d, p->alg, &src, &dst, strides, kernel, pad_l, pad_r);
  if (s != dnnl_success) return dc_fail(DC_ERR_BACKEND, "pool %s: bad descriptor (status %d)", l->name, (int)s);
  int bargs[3] = {DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_WORKSPACE};
  return dc_op_create(&p->ops.bwd, &d, p->ops.fwd.pd, bargs, with_ws ? 3 : 2, l->name);
}

static dc_status pool_forward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  pool_priv *p = l->priv;
  void *ptrs[3] = {l->in_data, l->out_data, p->ops.workspace};
  return dc_op_run(&p->ops.fwd, ptrs);
}

static dc_status pool_backward(dc_layer *l, const dc_pass *pass) {
  (void)pass;
  pool_priv *p = l->priv;
  if (!l->in_diff) return DC_OK;
  void *ptrs[3] = {l->out_diff, l->in_diff, p->ops.workspace};
  return dc_op_run(&p->ops.bwd, ptrs);
}

static void pool_destroy(dc_layer *l) {
  pool_priv *p = l->priv;
  if (!p) return;
  dc_fwd_bwd_release(&p->ops);
  free(p);
  l->priv = NULL;
}

static void pool_describe(const dc_layer *l, char *buf, size_t cap) {
  dc_fwd_bwd_describe(&((const pool_priv *)l->priv)->ops, buf, cap);
}

const dc_layer_kind dc_maxpool_kind = {"maxpool", DC_WEIGHTS_NONE, maxpool_parse, pool_shape, pool_setup,
                                       pool_forward, pool_backward, pool_destroy, pool_describe, NULL};
const dc_layer_kind dc_avgpool_kind = {"avgpool", DC_WEIGHTS_NONE, avgpool_parse, pool_shape, pool_setup,
                                       pool_forward, pool_backward, pool_destroy, pool_describe, NULL};

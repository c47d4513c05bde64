/* layers/softmax_loss.c — softmax + multinomial cross-entropy, the last layer of a net.
 * Input (N, K) logits (any C*H*W is read as K classes); output (N, K, 1, 1) class
 * probabilities; l->loss = loss_weight * sum_n(-log p[n][label_n]) / D, D = pass->norm or N,
 * the sum over n < pass->count when that is set (a padded test batch).
 * Backward: d/dlogits = loss_weight * (p - onehot(label)) / D. Option: loss_weight (1). */
#include <math.h>
#include <string.h>
#include <stdlib.h>

#include "layers/layers.h"

typedef struct {
  float loss_weight;
} loss_priv;

static dc_status loss_parse(dc_layer *l, dc_cfg_section *s, dc_param *w, dc_param *b) {
  (void)w, (void)b;
  loss_priv *p = calloc(1, sizeof *p);
  if (!p) return dc_fail(DC_ERR_NOMEM, "out of memory");
  l->priv = p;
  double v;
  DC_TRY(dc_cfg_float(s, "loss_weight", 1.0, &v));
  p->loss_weight = (float)v;
  return DC_OK;
}

static dc_status loss_shape(dc_layer *l, const char *file, dc_param *w, dc_param *b) {
  (void)file, (void)w, (void)b;
  l->out = (dc_shape){l->in.n, (int)dc_shape_sample(l->in), 1, 1};
  return DC_OK;
}

static dc_status loss_setup(dc_layer *l, int train, dc_layout *lay) {
  (void)train;
  lay->want = dc_layout_plain(l->in);
  lay->out = dc_layout_plain(l->out);
  return DC_OK;
}

static dc_status loss_forward(dc_layer *l, const dc_pass *pass) {
  const int n = l->in.n, k = l->out.c;
  double total = 0.0;
  for (int i = 0; i < n; i++) {
    const float *x = l->in_data + (size_t)i * k;
    float *p = l->out_data + (size_t)i * k;
    float mx = x[0];
    for (int j = 1; j < k; j++) mx = x[j] > mx ? x[j] : mx;
    double sum = 0.0;
    for (int j = 0; j < k; j++) {
      p[j] = expf(x[j] - mx);
      sum += p[j];
    }
    const float inv = (float)(1.0 / sum);
    for (int j = 0; j < k; j++) p[j] *= inv;
    if (pass->labels && (pass->count <= 0 || i < pass->count)) {
      int y = pass->labels[i];
      if (y < 0 || y >= k)
        return dc_fail(DC_ERR_DATA, "label %d of sample %d is outside the %d classes of the net's output", y, i, k);
      /* log-softmax directly: exact for tiny probabilities */
      total += -((double)x[y] - mx - log(sum));
    }
  }
  l->loss = ((loss_priv *)l->priv)->loss_weight * total / (pass->norm > 0 ? pass->norm : n);
  return DC_OK;
}

static dc_status loss_backward(dc_layer *l, const dc_pass *pass) {
  const int n = l->in.n, k = l->out.c;
  const float scale = ((loss_priv *)l->priv)->loss_weight / (float)(pass->norm > 0 ? pass->norm : n);
  DC_ASSERT(pass->labels != NULL);
  if (!l->in_diff) return DC_OK;
  for (int i = 0; i < n; i++) {
    const float *p = l->out_data + (size_t)i * k;
    float *dx = l->in_diff + (size_t)i * k;
    if (pass->count > 0 && i >= pass->count) { /* not counted in the loss */
      memset(dx, 0, sizeof(float) * (size_t)k);
      continue;
    }
    for (int j = 0; j < k; j++) dx[j] = scale * p[j];
    dx[pass->labels[i]] -= scale;
  }
  return DC_OK;
}

static void loss_destroy(dc_layer *l) {
  free(l->priv);
  l->priv = NULL;
}

const dc_layer_kind dc_softmax_loss_kind = {"softmax_loss", DC_WEIGHTS_NONE, loss_parse, loss_shape, loss_setup,
                                            loss_forward, loss_backward, loss_destroy, NULL, NULL};

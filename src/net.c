/* net.c — build a chain of layers from a net file, own the parameter and activation
 * arenas, run forward and backward. */
#include "dc/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/cfg.h"
#include "layers/layers.h"
#include "util.h"

/* A weighted layer's params before the arena exists. */
typedef struct {
  dc_param w, b;
} param_pair;

static dc_status parse_input(dc_cfg_section *s, int batch, dc_shape *in) {
  long c, h, w;
  DC_TRY(dc_cfg_require(s, "channels"));
  DC_TRY(dc_cfg_int_range(s, "channels", 1, 1, 1 << 16, &c));
  DC_TRY(dc_cfg_require(s, "height"));
  DC_TRY(dc_cfg_int_range(s, "height", 1, 1, 1 << 16, &h));
  DC_TRY(dc_cfg_require(s, "width"));
  DC_TRY(dc_cfg_int_range(s, "width", 1, 1, 1 << 16, &w));
  DC_TRY(dc_cfg_check_unused(s));
  *in = (dc_shape){batch, (int)c, (int)h, (int)w};
  return DC_OK;
}

static size_t dims_count(const dc_param *p) {
  size_t n = 1;
  for (int i = 0; i < p->ndim; i++) n *= (size_t)p->dims[i];
  return n;
}

static void dims_str(const dc_param *p, char *buf, size_t cap) {
  size_t off = 0;
  buf[0] = '\0';
  for (int i = 0; i < p->ndim && off < cap; i++)
    off += (size_t)snprintf(buf + off, cap - off, i ? "x%d" : "%d", p->dims[i]);
}

/* Allocate the store for the params listed in pairs (bias skipped when count 0). */
static dc_status params_create(dc_net *net, param_pair *pairs, dc_params **out) {
  dc_params *ps = calloc(1, sizeof *ps);
  if (!ps) return dc_fail(DC_ERR_NOMEM, "out of memory");
  int n = 0;
  size_t total = 0;
  for (int i = 0; i < net->nlayers; i++) {
    if (dc_layer_type_weights(net->layers[i].type) == DC_WEIGHTS_NONE) continue;
    n += 1 + (pairs[i].b.count > 0);
    total += pairs[i].w.count + pairs[i].b.count;
  }
  ps->p = calloc((size_t)(n ? n : 1), sizeof *ps->p);
  ps->arena_data = dc_alloc(sizeof(float) * (total ? total : 1));
  ps->arena_diff = dc_alloc(sizeof(float) * (total ? total : 1));
  ps->arena_history = dc_alloc(sizeof(float) * (total ? total : 1));
  if (!ps->p || !ps->arena_data || !ps->arena_diff || !ps->arena_history) {
    free(ps->p);
    dc_free(ps->arena_data);
    dc_free(ps->arena_diff);
    dc_free(ps->arena_history);
    free(ps);
    return dc_fail(DC_ERR_NOMEM, "out of memory for %zu parameters", total);
  }
  ps->count = n;
  ps->total = total;
  size_t off = 0;
  int k = 0;
  for (int i = 0; i < net->nlayers; i++) {
    if (dc_layer_type_weights(net->layers[i].type) == DC_WEIGHTS_NONE) continue;
    for (int j = 0; j < 2; j++) {
      dc_param *src = j ? &pairs[i].b : &pairs[i].w;
      if (src->count == 0) continue;
      dc_param *p = &ps->p[k++];
      *p = *src;
      p->data = ps->arena_data + off;
      p->diff = ps->arena_diff + off;
      p->history = ps->arena_history + off;
      off += p->count;
    }
  }
  *out = ps;
  return DC_OK;
}

/* Point each weighted layer at its params in ps; with a shared store check that names
 * and shapes agree. */
static dc_status params_attach(dc_net *net, param_pair *pairs, dc_params *ps) {
  int k = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    if (dc_layer_type_weights(l->type) == DC_WEIGHTS_NONE) continue;
    for (int j = 0; j < 2; j++) {
      dc_param *want = j ? &pairs[i].b : &pairs[i].w;
      if (want->count == 0) continue;
      if (k >= ps->count || strcmp(ps->p[k].name, want->name) != 0 || ps->p[k].count != want->count) {
        char a[64], b[64];
        dims_str(want, a, sizeof a);
        if (k < ps->count) dims_str(&ps->p[k], b, sizeof b);
        return dc_fail(DC_ERR_SHAPE, "%s:%d: %s (%s) does not match the shared parameters (%s %s)", net->path,
                       l->line, want->name, a, k < ps->count ? ps->p[k].name : "none",
                       k < ps->count ? b : "");
      }
      if (j) l->bias = &ps->p[k];
      else l->weight = &ps->p[k];
      k++;
    }
  }
  return DC_OK;
}

static dc_status build_layers(dc_net *net, dc_cfg *cfg, param_pair *pairs) {
  const char *file = net->path;
  const char *kind_names[DC_LAYER_TYPE_COUNT];
  for (int t = 0; t < DC_LAYER_TYPE_COUNT; t++) kind_names[t] = dc_layer_type_name((dc_layer_type)t);
  dc_shape cur = net->input;
  for (int i = 0; i < net->nlayers; i++) {
    dc_cfg_section *s = dc_cfg_at(cfg, i + 1);
    dc_layer *l = &net->layers[i];
    const char *sec = dc_cfg_section_name(s);
    l->line = dc_cfg_section_line(s);
    int t = dc_layer_type_from_name(sec);
    if (t < 0) {
      const char *hint = dc_closest(sec, kind_names, DC_LAYER_TYPE_COUNT);
      if (strcmp(sec, "input") == 0) return dc_cfg_section_error(s, "[input] may only be the first section");
      if (hint) return dc_cfg_section_error(s, "unknown layer type (did you mean [%s]?)", hint);
      return dc_cfg_section_error(s, "unknown layer type");
    }
    l->type = (dc_layer_type)t;
    const dc_layer_kind *kind = dc_layer_kind_of(l->type);
    const char *name;
    char defname[64];
    snprintf(defname, sizeof defname, "%s%d", kind->name, i + 1);
    if (kind->weights != DC_WEIGHTS_NONE) DC_TRY(dc_cfg_require(s, "name"));
    DC_TRY(dc_cfg_str(s, "name", defname, &name));
    if (strlen(name) >= sizeof l->name || strchr(name, '/'))
      return dc_cfg_key_error(s, "name", "must be shorter than %zu characters and contain no '/'", sizeof l->name);
    for (int j = 0; j < i; j++)
      if (strcmp(net->layers[j].name, name) == 0)
        return dc_cfg_key_error(s, "name", "'%s' is already the name of the layer at line %d", name,
                                net->layers[j].line);
    snprintf(l->name, sizeof l->name, "%s", name);
    dc_param *w = &pairs[i].w, *b = &pairs[i].b;
    w->lr_mult = w->decay_mult = b->lr_mult = b->decay_mult = 1.0f;
    DC_TRY(kind->parse(l, s, w, b));
    DC_TRY(dc_cfg_check_unused(s));
    if (l->type == DC_LAYER_SOFTMAX_LOSS && i != net->nlayers - 1)
      return dc_cfg_section_error(s, "softmax_loss must be the last layer");
    l->in = cur;
    DC_TRY(kind->shape(l, file, w, b));
    if (kind->weights != DC_WEIGHTS_NONE) {
      snprintf(w->name, sizeof w->name, "%s/weight", l->name);
      snprintf(b->name, sizeof b->name, "%s/bias", l->name);
      w->count = dims_count(w);
      b->count = b->dims[0] > 0 ? dims_count(b) : 0;
      b->fan_in = w->fan_in;
    }
    if (dc_shape_count(l->out) == 0)
      return dc_fail(DC_ERR_SHAPE, "%s:%d: [%s] %s: output is empty", file, l->line, sec, l->name);
    cur = l->out;
  }
  if (net->nlayers == 0 || net->layers[net->nlayers - 1].type != DC_LAYER_SOFTMAX_LOSS)
    return dc_fail(DC_ERR_CFG, "%s: the net must end in a [softmax_loss] layer", file);
  net->classes = cur.c;
  return DC_OK;
}

/* Per layer: the layouts and, where the previous output is not laid out as the layer
 * reads it, a reorder into a buffer of its own (and back for the gradient). */
typedef struct dc_net_layouts {
  dc_layout lay;
  int convert;          /* previous layout != wanted layout */
  dc_op to, back;       /* prev out -> in; in_diff -> prev out_diff */
  float *prev_out, *prev_diff;
} layer_layout;

static dc_status setup_layers(dc_net *net) {
  net->layouts = calloc((size_t)net->nlayers, sizeof *net->layouts);
  if (!net->layouts) return dc_fail(DC_ERR_NOMEM, "out of memory");
  dnnl_memory_desc_t prev = dc_layout_plain(net->input);
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    layer_layout *ll = &net->layouts[i];
    ll->lay.in = ll->lay.want = prev;
    /* backward-data primitives are made only when a gradient must flow into the input */
    l->in_grad = net->train && (i > 0 || net->input_grad);
    DC_TRY(dc_layer_kind_of(l->type)->setup(l, net->train, &ll->lay));
    ll->convert = !dc_dnn_md_equal(&ll->lay.in, &ll->lay.want);
    if (ll->convert) {
      DC_TRY(dc_op_create_reorder(&ll->to, &ll->lay.in, &ll->lay.want, l->name));
      if (l->in_grad) DC_TRY(dc_op_create_reorder(&ll->back, &ll->lay.want, &ll->lay.in, l->name));
    }
    prev = ll->lay.out;
  }
  return DC_OK;
}

/* Layer i runs in place: its kind allows it, the input arrives in the layout it reads, and
 * it is not the net's input (callers fill that once and may run several passes over it).
 * Then a train net's layer also has an input gradient (i > 0) for its output gradient. */
static int in_place(const dc_net *net, int i) {
  const dc_layer_kind *k = dc_layer_kind_of(net->layers[i].type);
  return i > 0 && !net->layouts[i].convert && k->in_place && k->in_place(&net->layers[i]);
}

/* One arena for activations, one for their gradients: the input, every layer's output
 * (but an in-place layer's, which is its input's) and every conversion buffer, each
 * sized by its layout (blocked layouts pad). A
 * forward-only net has no gradients; with DC_NET_REUSE its layers' outputs (and
 * conversion buffers) take turns in two slots, each the size of the largest of them:
 * a layer reads the slot the previous one wrote and writes the other, and a conversion
 * writes the other slot, the layer then the one the conversion read. The input keeps a
 * region of its own. */
static dc_status alloc_activations(dc_net *net, int reuse) {
  dnnl_memory_desc_t in_md = dc_layout_plain(net->input);
  size_t in_floats = dc_layout_floats(&in_md), total = in_floats, slot = 0;
  for (int i = 0; i < net->nlayers; i++) {
    layer_layout *ll = &net->layouts[i];
    size_t o = dc_layout_floats(&ll->lay.out), w = ll->convert ? dc_layout_floats(&ll->lay.want) : 0;
    total += in_place(net, i) ? 0 : o + w;
    slot = o > slot ? o : slot;
    slot = w > slot ? w : slot;
  }
  if (reuse) total = in_floats + 2 * slot;
  net->acts = dc_alloc(sizeof(float) * total);
  if (!net->acts) return DC_ERR_NOMEM;
  if (net->train) {
    net->act_diffs = dc_alloc(sizeof(float) * total);
    if (!net->act_diffs) return DC_ERR_NOMEM;
  }
  net->input_data = net->acts;
  net->input_diff = net->act_diffs;
  size_t off = in_floats;
  float *prev = net->acts, *prev_diff = net->input_grad ? net->act_diffs : NULL;
  int cur = -1; /* reuse: the slot holding prev (-1: the input region) */
  float *slots[2] = {net->acts + in_floats, net->acts + in_floats + slot};
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    layer_layout *ll = &net->layouts[i];
    int grad = l->in_grad;
    ll->prev_out = prev;
    ll->prev_diff = grad ? prev_diff : NULL;
    if (reuse) {
      int other = cur == 0 ? 1 : 0;
      l->in_data = prev;
      if (ll->convert) {
        l->in_data = slots[other];
        other = !other;
      }
      l->in_diff = l->out_diff = NULL;
      l->out_data = prev = slots[other];
      cur = other;
      continue;
    }
    if (in_place(net, i)) { /* writes over its input (and its input gradient over its output's) */
      l->in_data = l->out_data = prev;
      l->in_diff = grad ? prev_diff : NULL;
      l->out_diff = grad ? prev_diff : NULL;
      continue;
    }
    if (ll->convert) {
      l->in_data = net->acts + off;
      l->in_diff = grad ? net->act_diffs + off : NULL;
      off += dc_layout_floats(&ll->lay.want);
    } else {
      l->in_data = prev;
      l->in_diff = grad ? prev_diff : NULL;
    }
    l->out_data = net->acts + off;
    l->out_diff = net->act_diffs ? net->act_diffs + off : NULL;
    prev = l->out_data;
    prev_diff = l->out_diff;
    off += dc_layout_floats(&ll->lay.out);
  }
  return DC_OK;
}

dc_status dc_net_create(dc_cfg *cfg, int batch, int flags, dc_params *shared, dc_net **out) {
  *out = NULL;
  DC_ASSERT(batch > 0);
  dc_net *net = calloc(1, sizeof *net);
  if (!net) return dc_fail(DC_ERR_NOMEM, "out of memory");
  snprintf(net->path, sizeof net->path, "%s", dc_cfg_name(cfg));
  net->batch = batch;
  net->train = (flags & DC_NET_TRAIN) != 0;
  net->input_grad = net->train && (flags & DC_NET_INPUT_GRAD);
  param_pair *pairs = NULL;
  dc_status st = DC_OK;
  if (dc_cfg_count(cfg) == 0 || strcmp(dc_cfg_section_name(dc_cfg_at(cfg, 0)), "input") != 0) {
    st = dc_fail(DC_ERR_CFG, "%s:%d: a net file starts with an [input] section", net->path,
                 dc_cfg_count(cfg) ? dc_cfg_section_line(dc_cfg_at(cfg, 0)) : 1);
    goto fail;
  }
  if ((st = parse_input(dc_cfg_at(cfg, 0), batch, &net->input))) goto fail;
  net->nlayers = dc_cfg_count(cfg) - 1;
  net->layers = calloc((size_t)(net->nlayers ? net->nlayers : 1), sizeof *net->layers);
  pairs = calloc((size_t)(net->nlayers ? net->nlayers : 1), sizeof *pairs);
  if (!net->layers || !pairs) {
    st = dc_fail(DC_ERR_NOMEM, "out of memory");
    goto fail;
  }
  if ((st = build_layers(net, cfg, pairs))) goto fail;
  if (shared) {
    net->params = shared;
  } else {
    if ((st = params_create(net, pairs, &net->params))) goto fail;
    net->owns_params = 1;
  }
  if ((st = params_attach(net, pairs, net->params))) goto fail;
  if ((st = setup_layers(net))) goto fail;
  if ((st = alloc_activations(net, !net->train && (flags & DC_NET_REUSE)))) goto fail;
  free(pairs);
  *out = net;
  return DC_OK;
fail:
  free(pairs);
  dc_net_free(net);
  return st;
}

dc_status dc_net_load(const char *path, int batch, int flags, dc_params *shared, dc_net **out) {
  dc_cfg *cfg;
  *out = NULL;
  DC_TRY(dc_cfg_load(path, &cfg));
  dc_status st = dc_net_create(cfg, batch, flags, shared, out);
  dc_cfg_free(cfg);
  return st;
}

static void params_free(dc_params *ps) {
  if (!ps) return;
  for (int i = 0; i < ps->count; i++) dc_param_release(&ps->p[i]);
  free(ps->p);
  dc_free(ps->arena_data);
  dc_free(ps->arena_diff);
  dc_free(ps->arena_history);
  free(ps);
}

void dc_net_free(dc_net *net) {
  if (!net) return;
  for (int i = 0; i < net->nlayers; i++)
    if (net->layers[i].priv) dc_layer_kind_of(net->layers[i].type)->destroy(&net->layers[i]);
  for (int i = 0; net->layouts && i < net->nlayers; i++) {
    dc_op_destroy(&net->layouts[i].to);
    dc_op_destroy(&net->layouts[i].back);
  }
  free(net->layouts);
  free(net->layers);
  if (net->owns_params) params_free(net->params);
  dc_free(net->acts);
  dc_free(net->act_diffs);
  free(net);
}

void dc_net_init_params(dc_net *net, uint64_t seed) {
  for (int i = 0; i < net->params->count; i++) dc_param_fill(&net->params->p[i], seed);
}

dc_status dc_net_layer_input(dc_net *net, int i) {
  DC_ASSERT(i >= 0 && i < net->nlayers);
  layer_layout *ll = &net->layouts[i];
  if (!ll->convert) return DC_OK;
  void *r[2] = {ll->prev_out, net->layers[i].in_data};
  return dc_op_run(&ll->to, r);
}

dc_status dc_net_forward(dc_net *net, const dc_pass *pass, double *loss) {
  DC_ASSERT(!pass->train || net->train);
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    double t0 = net->profile ? dc_now() : 0.0;
    DC_TRY(dc_net_layer_input(net, i));
    DC_TRY(dc_layer_kind_of(l->type)->forward(l, pass));
    if (net->profile) net->profile[i] += dc_now() - t0;
  }
  if (loss) *loss = net->layers[net->nlayers - 1].loss;
  return DC_OK;
}

dc_status dc_net_backward(dc_net *net, const dc_pass *pass) {
  DC_ASSERT(net->train);
  for (int i = net->nlayers - 1; i >= 0; i--) {
    dc_layer *l = &net->layers[i];
    double t0 = net->profile ? dc_now() : 0.0;
    layer_layout *ll = &net->layouts[i];
    DC_TRY(dc_layer_kind_of(l->type)->backward(l, pass));
    if (ll->convert && ll->prev_diff) {
      void *r[2] = {l->in_diff, ll->prev_diff};
      DC_TRY(dc_op_run(&ll->back, r));
    }
    if (pass->grad_ready && l->weight) DC_TRY(pass->grad_ready(pass->grad_ctx, l));
    if (net->profile) net->profile[net->nlayers + i] += dc_now() - t0;
  }
  return DC_OK;
}

const float *dc_net_output(const dc_net *net) { return net->layers[net->nlayers - 1].out_data; }

dc_status dc_net_read_output(dc_net *net, int i, float *dst) {
  DC_ASSERT(i >= 0 && i < net->nlayers);
  dc_layer *l = &net->layers[i];
  dnnl_memory_desc_t plain = dc_layout_plain(l->out);
  if (dc_dnn_md_equal(&plain, &net->layouts[i].lay.out)) {
    memcpy(dst, l->out_data, sizeof(float) * dc_shape_count(l->out));
    return DC_OK;
  }
  dc_op r;
  DC_TRY(dc_op_create_reorder(&r, &net->layouts[i].lay.out, &plain, l->name));
  void *ptrs[2] = {l->out_data, dst};
  dc_status s = dc_op_run(&r, ptrs);
  dc_op_destroy(&r);
  return s;
}

dc_layer *dc_net_find_layer(dc_net *net, const char *name) {
  for (int i = 0; i < net->nlayers; i++)
    if (strcmp(net->layers[i].name, name) == 0) return &net->layers[i];
  return NULL;
}

dc_param *dc_params_find(dc_params *ps, const char *name) {
  for (int i = 0; i < ps->count; i++)
    if (strcmp(ps->p[i].name, name) == 0) return &ps->p[i];
  return NULL;
}

int dc_topk_correct(const float *probs, const int *labels, int n, int classes, int k) {
  int correct = 0;
  for (int i = 0; i < n; i++) {
    const float *p = probs + (size_t)i * classes;
    float target = p[labels[i]];
    int above = 0; /* classes strictly more probable than the label; ties favour the label */
    for (int j = 0; j < classes; j++) above += p[j] > target;
    correct += above < k;
  }
  return correct;
}

/* infer/engine.c — a compressed model run as it is; see dc/engine.h.
 *
 * The net is built by the training code (dc_net, forward-only) on a parameter store the
 * engine makes itself (dc_params): conv weights and all biases decoded into one arena,
 * fc weights left NULL unless a layer runs dense. The engine then runs the chain layer
 * by layer, putting the sparse kernels (dc_spfc) in place of oneDNN's inner product
 * where the measured crossover says they are faster for that layer and batch. One dc_net per batch size in use
 * (a few, most recent kept), all sharing the parameters. */
#include "dc/engine.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "dc/cfg.h"
#include "dc/net.h"
#include "data/decode.h"
#include "infer/image.h"
#include "infer/spfc.h"
#include "layers/layers.h"

#define MAX_NETS 4

typedef struct {
  dc_spfc sp;     /* the compressed form (always kept) */
  double density; /* kept / weights */
  int cached;     /* dense weights fit in half the L3: the cache-sized crossover table */
  float *dense;   /* (O, I) decoded weights once a dense run needed them, else NULL */
  dc_param *weight; /* the layer's weight in the engine's store: data = dense or NULL */
} fc_state;

struct dc_engine {
  char path[512];
  dc_engine_conf conf;
  dc_dcz_model model;    /* owned copy */
  dc_cfg *cfg;           /* the parsed net text, to build nets for new batch sizes */
  dc_params params;      /* built here: p[] in layer order (weight, bias) */
  float *arena;          /* conv weights + every bias */
  size_t arena_floats;
  int nlayers;           /* of the net */
  fc_state **fc;         /* (nlayers) NULL for non-fc layers */
  dc_net *nets[MAX_NETS];
  unsigned long used[MAX_NETS], tick;
  int c, h, w, classes;
  size_t file_bytes, dense_bytes;
};

dc_engine_conf dc_engine_defaults(void) {
  dc_engine_conf c = {2, 64, DC_FC_AUTO, NULL};
  return c;
}

/* ---------------------------------------------------------------- crossover */

/* The largest density at which the sparse kernels still beat oneDNN's dense inner
 * product, per batch size, measured with `bench_infer crossover` (scripts/bench-infer.sh;
 * 2 threads; medians of 3 and of 5 interleaved rounds in two runs; README "Running
 * compressed models") on two layers: 4096 x 4096 (64 MB dense, read from memory) and
 * 1000 x 4096 (16 MB: fits the 32 MB L3 of the reference machine, where dense runs up to
 * 3x faster per weight when nothing else uses the cache). A layer uses the second table
 * when its dense weights fit in half the L3. A batch between two measured sizes uses the
 * smaller one's limit. Batch 16 is no typo: oneDNN's inner product was 3-30x slower per
 * sample there than at 4 or 64, so sparse won at every density. On the paper's layers
 * (bench_infer fc) AlexNet fc8 (25%) and VGG-16 fc8 (23%), both cache-sized, ran 1.3-2.0x
 * and 1.6x faster dense at batch 1, consistent with the 20% limit. */
static const int g_xo_batch[] = {1, 4, 16, 64, 256};
static const double g_xo_memory[] = {0.42, 0.42, 1.00, 0.60, 0.19};
static const double g_xo_cache[] = {0.20, 0.15, 1.00, 0.55, 0.18};
#define XO_N ((int)(sizeof g_xo_batch / sizeof g_xo_batch[0]))

static int use_sparse(const dc_engine *e, const fc_state *f, int batch) {
  if (!f->sp.row_start) return 0; /* too wide for 16-bit columns: always dense */
  if (e->conf.fc != DC_FC_AUTO) return e->conf.fc == DC_FC_SPARSE;
  int k = 0;
  while (k + 1 < XO_N && g_xo_batch[k + 1] <= batch) k++;
  return f->density <= (f->cached ? g_xo_cache[k] : g_xo_memory[k]);
}

static size_t l3_bytes(void) {
#ifdef _SC_LEVEL3_CACHE_SIZE
  long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return v > 0 ? (size_t)v : 0;
#else
  return 0;
#endif
}

/* ---------------------------------------------------------------- opening */

static dc_status copy_model(const dc_dcz_model *src, dc_dcz_model *dst) {
  memset(dst, 0, sizeof *dst);
  *dst = *src;
  dst->net = strdup(src->net);
  dst->labels = src->labels ? strdup(src->labels) : NULL;
  if (!dst->net || (src->labels && !dst->labels)) {
    dc_dcz_model_free(dst);
    return dc_fail(DC_ERR_NOMEM, "out of memory");
  }
  return DC_OK;
}

static dc_status net_for(dc_engine *e, int batch, dc_net **out);

/* Params from the stored layers: names, shapes; conv weights and biases decoded into
 * the arena, fc layers compressed. */
static dc_status build_params(dc_engine *e, dc_dcz_layer *L, int n) {
  size_t floats = 0;
  int np = 0;
  for (int j = 0; j < n; j++) {
    size_t count = 1;
    for (int d = 0; d < L[j].ndim; d++) count *= (size_t)L[j].dims[d];
    if (L[j].ndim != 2) floats += count; /* conv (4-D) decoded; fc (2-D) stays sparse */
    floats += (size_t)L[j].nbias;
    np += 1 + (L[j].nbias > 0);
    e->dense_bytes += 4 * (count + (size_t)L[j].nbias);
  }
  e->params.p = calloc((size_t)np + 1, sizeof *e->params.p); /* zeroed: DENSE params, no mask */
  e->arena = dc_alloc(sizeof(float) * (floats ? floats : 1));
  if (!e->params.p || !e->arena) return dc_fail(DC_ERR_NOMEM, "%s: out of memory", e->path);
  e->params.count = np;
  e->params.arena_data = e->arena;
  e->params.total = floats;
  e->arena_floats = floats;
  size_t off = 0;
  int k = 0;
  for (int j = 0; j < n; j++) {
    dc_param *w = &e->params.p[k++];
    snprintf(w->name, sizeof w->name, "%s/weight", L[j].name);
    w->ndim = L[j].ndim;
    memcpy(w->dims, L[j].dims, sizeof w->dims);
    w->count = 1;
    for (int d = 0; d < w->ndim; d++) w->count *= (size_t)w->dims[d];
    if (L[j].ndim != 2) {
      w->data = e->arena + off;
      for (size_t i = 0; i < w->count; i++) w->data[i] = L[j].mask[i] ? L[j].codebook[L[j].index[i]] : 0.0f;
      off += w->count;
    }
    if (L[j].nbias > 0) {
      dc_param *b = &e->params.p[k++];
      snprintf(b->name, sizeof b->name, "%s/bias", L[j].name);
      b->ndim = 1;
      b->dims[0] = L[j].nbias;
      b->count = (size_t)L[j].nbias;
      b->data = e->arena + off;
      memcpy(b->data, L[j].bias, sizeof(float) * b->count);
      off += b->count;
    }
  }
  return DC_OK;
}

/* Check the net (batch 1) against the stored layers and make the fc states. */
static dc_status attach(dc_engine *e, dc_net *net, dc_dcz_layer *L, int n) {
  int j = 0;
  e->nlayers = net->nlayers;
  e->fc = calloc((size_t)net->nlayers, sizeof *e->fc);
  if (!e->fc) return dc_fail(DC_ERR_NOMEM, "out of memory");
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    DC_ASSERT(j < n); /* params_attach matched every weighted layer to a stored one */
    dc_dcz_layer *d = &L[j++];
    int ok = l->type == DC_LAYER_FC ? d->ndim == 2 && d->dims[0] == l->out.c && d->dims[1] == (int)dc_shape_sample(l->in)
                                    : d->ndim == 4 && d->dims[0] == l->out.c;
    if (!ok)
      return dc_fail(DC_ERR_FORMAT, "%s: stored layer '%s' has another shape than the net's %s layer", e->path,
                     d->name, dc_layer_type_name(l->type));
    if (l->type != DC_LAYER_FC) continue;
    fc_state *f = calloc(1, sizeof *f);
    if (!f) return dc_fail(DC_ERR_NOMEM, "out of memory");
    e->fc[i] = f;
    f->weight = l->weight;
    if (d->dims[1] > DC_SPFC_MAX_IN) { /* the CSR's columns are 16-bit: run this one dense */
      size_t count = (size_t)d->dims[0] * d->dims[1];
      if (!(f->dense = dc_alloc(sizeof(float) * count))) return dc_fail(DC_ERR_NOMEM, "%s: out of memory", e->path);
      for (size_t q = 0; q < count; q++) f->dense[q] = d->mask[q] ? d->codebook[d->index[q]] : 0.0f;
      f->weight->data = f->dense;
      f->density = 1;
      continue;
    }
    DC_TRY(dc_spfc_build(&f->sp, d->dims[0], d->dims[1], d->bits, d->codebook, d->mask, d->index,
                         l->bias ? l->bias->data : NULL, e->conf.threads));
    f->density = (double)f->sp.nnz / ((double)d->dims[0] * d->dims[1]);
    f->cached = 4.0 * d->dims[0] * d->dims[1] <= l3_bytes() / 2.0;
  }
  if (j != n)
    return dc_fail(DC_ERR_FORMAT, "%s: holds %d weighted layers, the net only %d", e->path, n, j);
  return DC_OK;
}

/* Decode layer i's dense weights from its CSR form (first dense run, or dense mode). */
static dc_status make_dense(dc_engine *e, int i) {
  fc_state *f = e->fc[i];
  if (f->dense) return DC_OK;
  const dc_spfc *s = &f->sp;
  if (!(f->dense = dc_alloc(sizeof(float) * (size_t)s->out * s->in)))
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory decoding an fc layer", e->path);
  for (int o = 0; o < s->out; o++)
    for (uint32_t j = s->row_start[o]; j < s->row_start[o + 1]; j++)
      f->dense[(size_t)o * s->in + s->col[j]] = s->codebook[s->idx[j]];
  f->weight->data = f->dense; /* one store: every net sees it */
  return DC_OK;
}

dc_status dc_engine_open(const char *path, const void *buf, size_t len, const dc_engine_conf *conf,
                         dc_engine **out) {
  *out = NULL;
  if (!path) path = "<memory>";
  dc_engine *e = calloc(1, sizeof *e);
  if (!e) return dc_fail(DC_ERR_NOMEM, "out of memory");
  snprintf(e->path, sizeof e->path, "%s", path);
  e->conf = conf ? *conf : dc_engine_defaults();
  if (e->conf.threads <= 0) e->conf.threads = 2;
  if (e->conf.max_batch <= 0) e->conf.max_batch = 64;
  dc_set_threads(e->conf.threads);
  dc_dcz_layer *L = NULL;
  int n = 0;
  dc_dcz_stats stats = {0};
  dc_dcz_model stored = {0};
  dc_status st = dc_dcz_read_model(path, buf, len, &L, &n, &stats, &stored);
  if (st == DC_OK) {
    e->file_bytes = stats.file_bytes;
    if (e->conf.model) {
      st = copy_model(e->conf.model, &e->model);
    } else if (!stored.net) {
      st = dc_fail(DC_ERR_FORMAT,
                   "%s: holds the weights only, not their net (format version 1, or written without a model "
                   "section): give the net and "
                   "preprocessing explicitly (dctrain predict --data EXPERIMENT.cfg) or encode the model again",
                   path);
    } else {
      e->model = stored;
      memset(&stored, 0, sizeof stored);
    }
  }
  if (st == DC_OK) {
    char name[600];
    snprintf(name, sizeof name, "%.500s:net", path);
    st = dc_cfg_parse(e->model.net, name, &e->cfg);
  }
  if (st == DC_OK) st = build_params(e, L, n);
  dc_net *net1 = NULL;
  if (st == DC_OK) st = net_for(e, 1, &net1);
  if (st == DC_OK) st = attach(e, net1, L, n);
  if (st == DC_OK) {
    e->c = net1->input.c, e->h = net1->input.h, e->w = net1->input.w;
    e->classes = net1->classes;
    if (dc_color_channels(e->model.color) != e->c)
      st = dc_fail(DC_ERR_FORMAT, "%s: the model's preprocessing gives %d channel(s) (%s) but the net's input has %d",
                   path, dc_color_channels(e->model.color),
                   e->model.color == DC_COLOR_GRAY ? "gray" : e->model.color == DC_COLOR_BGR ? "BGR" : "RGB", e->c);
    else if (e->model.resize && (e->model.resize < e->h || e->model.resize < e->w))
      st = dc_fail(DC_ERR_FORMAT, "%s: the model resizes images to %d but the net's input is %d x %d", path,
                   e->model.resize, e->w, e->h);
  }
  for (int i = 0; st == DC_OK && i < e->nlayers; i++) /* dense at batch 1: decode now */
    if (e->fc[i] && !use_sparse(e, e->fc[i], 1)) st = make_dense(e, i);
  dc_dcz_free(L, n);
  dc_dcz_stats_free(&stats);
  dc_dcz_model_free(&stored);
#ifdef __GLIBC__
  /* the decoded masks and indices (2 bytes per weight) are gone: give their pages back
   * rather than keep them resident in the heap */
  malloc_trim(0);
#endif
  if (st != DC_OK) {
    dc_engine_free(e);
    return st;
  }
  *out = e;
  return DC_OK;
}

void dc_engine_free(dc_engine *e) {
  if (!e) return;
  for (int k = 0; k < MAX_NETS; k++) dc_net_free(e->nets[k]);
  for (int i = 0; e->fc && i < e->nlayers; i++) {
    if (!e->fc[i]) continue;
    dc_spfc_free(&e->fc[i]->sp);
    dc_free(e->fc[i]->dense);
    free(e->fc[i]);
  }
  free(e->fc);
  free(e->params.p);
  dc_free(e->arena);
  dc_cfg_free(e->cfg);
  dc_dcz_model_free(&e->model);
  free(e);
}

/* The net for `batch` samples: cached, else built (evicting the least recently used). */
static dc_status net_for(dc_engine *e, int batch, dc_net **out) {
  e->tick++;
  for (int k = 0; k < MAX_NETS; k++)
    if (e->nets[k] && e->nets[k]->batch == batch) {
      e->used[k] = e->tick;
      *out = e->nets[k];
      return DC_OK;
    }
  int slot = -1; /* an empty slot, else the least recently used one */
  for (int k = 0; k < MAX_NETS && slot < 0; k++)
    if (!e->nets[k]) slot = k;
  if (slot < 0) {
    slot = 0;
    for (int k = 1; k < MAX_NETS; k++)
      if (e->used[k] < e->used[slot]) slot = k;
    dc_net_free(e->nets[slot]);
    e->nets[slot] = NULL;
  }
  dc_net *net;
  DC_TRY(dc_net_create(e->cfg, batch, 0, &e->params, &net));
  e->nets[slot] = net;
  e->used[slot] = e->tick;
  *out = net;
  return DC_OK;
}

/* ---------------------------------------------------------------- running */

static dc_status forward(dc_engine *e, dc_net *net) {
  dc_pass pass = {0};
  const int n = net->batch;
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    DC_TRY(dc_net_layer_input(net, i));
    fc_state *f = e->fc[i];
    if (f && use_sparse(e, f, n)) {
      DC_TRY(dc_spfc_forward(&f->sp, l->in_data, n, l->out_data));
      continue;
    }
    if (f && !f->dense) DC_TRY(make_dense(e, i));
    DC_TRY(dc_layer_kind_of(l->type)->forward(l, &pass));
  }
  return DC_OK;
}

dc_status dc_engine_run(dc_engine *e, const float *x, int n, float *probs) {
  if (!probs) return dc_fail(DC_ERR_ARG, "dc_engine_run: NULL output");
  return dc_engine_run_logits(e, x, n, probs, NULL);
}

dc_status dc_engine_run_logits(dc_engine *e, const float *x, int n, float *probs, float *logits) {
  if (!e || !x) return dc_fail(DC_ERR_ARG, "dc_engine_run: NULL engine or input");
  if (n < 1) return dc_fail(DC_ERR_ARG, "%s: batch of %d samples, must be >= 1", e->path, n);
  const size_t in = (size_t)e->c * e->h * e->w;
  for (int s0 = 0; s0 < n;) {
    int m = n - s0 < e->conf.max_batch ? n - s0 : e->conf.max_batch;
    dc_net *net;
    DC_TRY(net_for(e, m, &net));
    memcpy(net->input_data, x + (size_t)s0 * in, sizeof(float) * in * (size_t)m);
    DC_TRY(forward(e, net));
    const size_t k = (size_t)e->classes * (size_t)m;
    if (probs) memcpy(probs + (size_t)s0 * e->classes, dc_net_output(net), sizeof(float) * k);
    if (logits) memcpy(logits + (size_t)s0 * e->classes, net->layers[net->nlayers - 1].in_data, sizeof(float) * k);
    s0 += m;
  }
  return DC_OK;
}

/* ---------------------------------------------------------------- queries, images */

void dc_engine_input_shape(const dc_engine *e, int *c, int *h, int *w) {
  if (c) *c = e->c;
  if (h) *h = e->h;
  if (w) *w = e->w;
}

int dc_engine_classes(const dc_engine *e) { return e->classes; }

const dc_dcz_model *dc_engine_model(const dc_engine *e) { return &e->model; }

dc_status dc_engine_preprocess(const dc_engine *e, const unsigned char *pixels, int w, int h, int channels,
                               float *x) {
  return dc_image_to_input(pixels, w, h, channels, &e->model, e->c, e->h, e->w, x, "image");
}

dc_status dc_engine_load_image(const dc_engine *e, const char *path, float *x) {
  int w = 0, h = 0, ch = 0;
  unsigned char *px;
  DC_TRY(dc_image_decode(path, 0, &px, &w, &h, &ch));
  dc_status st = dc_image_to_input(px, w, h, ch, &e->model, e->c, e->h, e->w, x, path);
  free(px);
  return st;
}

void dc_engine_memory_of(const dc_engine *e, dc_engine_memory *m) {
  memset(m, 0, sizeof *m);
  for (int i = 0; i < e->nlayers; i++) {
    if (!e->fc[i]) continue;
    const fc_state *f = e->fc[i];
    if (f->sp.row_start) m->fc_sparse += dc_spfc_bytes(&f->sp);
    if (f->dense) m->fc_dense += sizeof(float) * f->weight->count;
  }
  m->conv_dense = sizeof(float) * e->arena_floats;
  m->dense_model = e->dense_bytes;
  m->file = e->file_bytes;
}

int dc_engine_fc_sparse(const dc_engine *e, const char *name, int batch) {
  dc_net *net = NULL;
  for (int k = 0; k < MAX_NETS && !net; k++) net = e->nets[k];
  if (!net || batch < 1) return -1;
  for (int i = 0; i < e->nlayers; i++)
    if (e->fc[i] && strcmp(net->layers[i].name, name) == 0) return use_sparse(e, e->fc[i], batch);
  return -1;
}

/* gradsync.c — per-kind gradient reduction and the sum over ranks; see gradsync.h. */
#include "gradsync.h"

#include <stdlib.h>

#include "dc/dist.h"
#include "util.h"

struct dc_gradsync {
  dc_params *ps;
  int distributed;  /* more than one rank */
  int overlap;
  float **scratch;  /* (ps->count) packing room of MASKED params, NULL for others */
  int *started;     /* (ps->count) this step's sum of param i has started */
  size_t counting;  /* floats started this step */
  size_t floats;    /* floats summed by the last step */
  double waited;    /* seconds the last dc_gradsync_finish waited */
};

dc_status dc_gradsync_create(dc_params *ps, int overlap, dc_gradsync **out) {
  *out = NULL;
  dc_gradsync *g = calloc(1, sizeof *g);
  if (!g) return dc_fail(DC_ERR_NOMEM, "out of memory");
  g->ps = ps;
  g->distributed = dc_dist_size() > 1;
  g->overlap = overlap && g->distributed;
  g->scratch = calloc((size_t)ps->count + 1, sizeof *g->scratch);
  g->started = calloc((size_t)ps->count + 1, sizeof *g->started);
  if (!g->scratch || !g->started) {
    dc_gradsync_free(g);
    return dc_fail(DC_ERR_NOMEM, "out of memory");
  }
  for (int i = 0; g->distributed && i < ps->count; i++) {
    dc_param *p = &ps->p[i];
    size_t n = dc_param_comm_scratch(p);
    if (p->lr_mult != 0.0f && n > 0 && !(g->scratch[i] = dc_alloc(sizeof(float) * n))) {
      dc_gradsync_free(g);
      return dc_fail(DC_ERR_NOMEM, "out of memory for the gradient buffer of %s", p->name);
    }
  }
  *out = g;
  return DC_OK;
}

void dc_gradsync_free(dc_gradsync *g) {
  if (!g) return;
  for (int i = 0; g->scratch && i < g->ps->count; i++) dc_free(g->scratch[i]);
  free(g->scratch);
  free(g->started);
  free(g);
}

/* Reduce param i by kind and, when distributed, start its sum. */
static dc_status start(dc_gradsync *g, int i) {
  dc_param *p = &g->ps->p[i];
  g->started[i] = 1;
  if (p->lr_mult == 0.0f) return DC_OK; /* frozen: the solver leaves it alone */
  dc_param_reduce_grad(p);
  if (!g->distributed) return DC_OK;
  float *where;
  size_t n = dc_param_grad_pack(p, g->scratch[i], &where);
  g->counting += n;
  return dc_dist_isum_f32(where, n);
}

static dc_status layer_ready(void *ctx, dc_layer *l) {
  dc_gradsync *g = ctx;
  dc_param *ps[2] = {l->weight, l->bias};
  for (int j = 0; j < 2; j++)
    if (ps[j]) DC_TRY(start(g, (int)(ps[j] - g->ps->p)));
  dc_dist_progress(); /* let the sums started so far advance */
  return DC_OK;
}

void dc_gradsync_hook(dc_gradsync *g, dc_pass *pass) {
  pass->grad_ready = g->overlap ? layer_ready : NULL;
  pass->grad_ctx = g;
}

dc_status dc_gradsync_finish(dc_gradsync *g) {
  for (int i = 0; i < g->ps->count; i++)
    if (!g->started[i]) DC_TRY(start(g, i));
  double t0 = dc_now();
  DC_TRY(dc_dist_wait_all());
  g->waited = dc_now() - t0;
  for (int i = 0; i < g->ps->count; i++) {
    g->started[i] = 0;
    if (g->scratch[i]) dc_param_grad_unpack(&g->ps->p[i], g->scratch[i]);
  }
  g->floats = g->counting;
  g->counting = 0;
  return DC_OK;
}

size_t dc_gradsync_floats(const dc_gradsync *g) { return g->floats; }
double dc_gradsync_waited(const dc_gradsync *g) { return g->waited; }

dc_status dc_params_bcast(dc_params *ps) {
  if (dc_dist_size() == 1) return DC_OK;
  int64_t *kinds = calloc((size_t)ps->count * 2 + 1, sizeof *kinds);
  if (!kinds) return dc_fail(DC_ERR_NOMEM, "out of memory");
  for (int i = 0; i < ps->count; i++) {
    kinds[2 * i] = ps->p[i].kind;
    kinds[2 * i + 1] = ps->p[i].bits;
  }
  dc_status s = dc_dist_bcast(kinds, sizeof *kinds * (size_t)ps->count * 2);
  for (int i = 0; s == DC_OK && i < ps->count; i++)
    s = dc_param_adopt_kind(&ps->p[i], (dc_param_kind)kinds[2 * i], (int)kinds[2 * i + 1]);
  free(kinds);
  for (int i = 0; s == DC_OK && i < ps->count; i++) {
    void *ptr[DC_PARAM_MAX_ARRAYS];
    size_t bytes[DC_PARAM_MAX_ARRAYS];
    int n = dc_param_arrays(&ps->p[i], ptr, bytes);
    for (int j = 0; s == DC_OK && j < n; j++) s = dc_dist_bcast(ptr[j], bytes[j]);
  }
  return s;
}

dc_status dc_params_check_same(dc_params *ps, const char *when) {
  if (dc_dist_size() == 1) return DC_OK;
  uint64_t h = 1469598103934665603ULL; /* FNV-1a over every array of every param */
  for (int i = 0; i < ps->count; i++) {
    void *ptr[DC_PARAM_MAX_ARRAYS];
    size_t bytes[DC_PARAM_MAX_ARRAYS];
    int n = dc_param_arrays(&ps->p[i], ptr, bytes);
    for (int j = 0; j < n; j++) {
      const uint8_t *b = ptr[j];
      for (size_t k = 0; k < bytes[j]; k++) h = (h ^ b[k]) * 1099511628211ULL;
    }
  }
  int64_t v[2] = {(int64_t)(h >> 1), -(int64_t)(h >> 1)}; /* max and -min */
  DC_TRY(dc_dist_max_i64(v, 2));
  if (v[0] != -v[1])
    return dc_fail(DC_ERR_BACKEND, "%s: the ranks' parameters differ (a bug: please report)", when);
  return DC_OK;
}

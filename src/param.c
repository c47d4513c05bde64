/* param.c — the four parameter kinds (DENSE, MASKED, SHARED, SPLICED); see dc/param.h.
 * This is the only file that switches on dc_param_kind. */
#include "dc/param.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dc/rng.h"

const char *dc_param_kind_name(dc_param_kind k) {
  static const char *const names[] = {"dense", "masked", "shared", "spliced"};
  return (unsigned)k < 4 ? names[k] : "?";
}

dc_param_view dc_param_view_of(dc_param *p) {
  dc_param_view v = {0};
  if (p->kind == DC_PARAM_SHARED) {
    v.value = p->codebook;
    v.grad = p->codebook_diff;
    v.history = p->codebook_history;
    v.n = (size_t)p->k;
    v.derived = 1;
    v.decay_scale = p->codebook_count;
  } else if (p->kind == DC_PARAM_SPLICED) {
    v.value = p->shadow;
    v.grad = p->diff;
    v.history = p->history;
    v.n = p->count;
    v.derived = 1;
  } else {
    v.value = p->data;
    v.grad = p->diff;
    v.history = p->history;
    v.n = p->count;
    v.mask = p->kind == DC_PARAM_MASKED ? p->mask : NULL;
  }
  return v;
}

void dc_param_reduce_grad(dc_param *p) {
  switch (p->kind) {
    case DC_PARAM_DENSE:
    case DC_PARAM_SPLICED: /* every shadow follows its weight's gradient */
      break;
    case DC_PARAM_MASKED:
#pragma omp parallel for schedule(static) if (p->count >= 16384)
      for (size_t i = 0; i < p->count; i++)
        if (!p->mask[i]) p->diff[i] = 0.0f;
      break;
    case DC_PARAM_SHARED:
      /* dL/dc_k = sum over kept weights i with index[i] == k of dL/dw_i; and n_k, which
       * changes when a mask does */
      memset(p->codebook_diff, 0, sizeof(float) * (size_t)p->k);
      memset(p->codebook_count, 0, sizeof(float) * (size_t)p->k);
      for (size_t i = 0; i < p->count; i++)
        if (p->mask[i]) {
          p->codebook_diff[p->index[i]] += p->diff[i];
          p->codebook_count[p->index[i]] += 1.0f;
        }
      break;
  }
}

void dc_param_sync(dc_param *p) {
  switch (p->kind) {
    case DC_PARAM_DENSE:
      break;
    case DC_PARAM_MASKED:
#pragma omp parallel for schedule(static) if (p->count >= 16384)
      for (size_t i = 0; i < p->count; i++)
        if (!p->mask[i]) p->data[i] = 0.0f;
      break;
    case DC_PARAM_SHARED:
#pragma omp parallel for schedule(static) if (p->count >= 16384)
      for (size_t i = 0; i < p->count; i++)
        p->data[i] = p->mask[i] ? p->codebook[p->index[i]] : 0.0f;
      break;
    case DC_PARAM_SPLICED:
#pragma omp parallel for schedule(static) if (p->count >= 16384)
      for (size_t i = 0; i < p->count; i++)
        p->data[i] = p->mask[i] ? p->shadow[i] : 0.0f;
      break;
  }
}

void dc_param_fill(dc_param *p, uint64_t seed) {
  dc_rng r;
  dc_rng_seed(&r, seed, dc_hash_str(p->name));
  switch (p->filler.kind) {
    case DC_FILL_CONSTANT:
      for (size_t i = 0; i < p->count; i++) p->data[i] = p->filler.value;
      break;
    case DC_FILL_XAVIER: {
      /* Caffe's xavier: uniform in [-s, s], s = sqrt(3 / fan_in) */
      float s = sqrtf(3.0f / (float)(p->fan_in > 0 ? p->fan_in : 1));
      for (size_t i = 0; i < p->count; i++) p->data[i] = (2.0f * dc_rng_uniform(&r) - 1.0f) * s;
      break;
    }
    case DC_FILL_GAUSSIAN:
      for (size_t i = 0; i < p->count; i++) p->data[i] = p->filler.std * dc_rng_normal(&r);
      break;
  }
  dc_param_sync(p);
}

dc_status dc_param_set_mask(dc_param *p, const uint8_t *keep) {
  if (!p->mask) {
    p->mask = malloc(p->count);
    if (!p->mask) return dc_fail(DC_ERR_NOMEM, "out of memory for the mask of %s", p->name);
  }
  int spliced = p->kind == DC_PARAM_SPLICED; /* its pruned weights go on in the shadow */
  for (size_t i = 0; i < p->count; i++) {
    p->mask[i] = keep[i] ? 1 : 0;
    if (!p->mask[i] && !spliced) {
      p->data[i] = 0.0f;
      p->history[i] = 0.0f;
      p->diff[i] = 0.0f;
    }
  }
  if (p->kind == DC_PARAM_DENSE) p->kind = DC_PARAM_MASKED;
  dc_param_sync(p);
  return DC_OK;
}

dc_status dc_param_set_shared(dc_param *p, int bits, const float *codebook, const uint8_t *index) {
  DC_ASSERT(bits >= 1 && bits <= 8);
  int k = 1 << bits;
  if (!p->mask) {
    p->mask = malloc(p->count);
    if (!p->mask) return dc_fail(DC_ERR_NOMEM, "out of memory for the mask of %s", p->name);
    memset(p->mask, 1, p->count);
  }
  /* allocate first, so a failure leaves p as it was */
  uint8_t *idx = p->index ? p->index : malloc(p->count);
  float *cb = p->codebook ? p->codebook : malloc(sizeof(float) * 4 * 256);
  if (!idx || !cb) {
    if (idx != p->index) free(idx);
    if (cb != p->codebook) free(cb);
    return dc_fail(DC_ERR_NOMEM, "out of memory for the codebook of %s", p->name);
  }
  DC_TRY(dc_param_set_spliced(p, 0)); /* k-means clusters the kept weights (ending splicing only frees) */
  p->index = idx;
  p->codebook = cb;
  p->codebook_diff = cb + 256;
  p->codebook_history = cb + 512;
  p->codebook_count = cb + 768;
  memcpy(p->codebook, codebook, sizeof(float) * (size_t)k);
  memset(p->codebook_diff, 0, sizeof(float) * 256);
  memset(p->codebook_history, 0, sizeof(float) * 256);
  memset(p->codebook_count, 0, sizeof(float) * 256);
  for (size_t i = 0; i < p->count; i++) {
    DC_ASSERT(!p->mask[i] || index[i] < k);
    p->index[i] = p->mask[i] ? index[i] : 0;
    if (p->mask[i]) p->codebook_count[p->index[i]] += 1.0f;
  }
  p->bits = bits;
  p->k = k;
  p->kind = DC_PARAM_SHARED;
  dc_param_sync(p);
  return DC_OK;
}

dc_status dc_param_set_spliced(dc_param *p, int on) {
  if ((on != 0) == (p->kind == DC_PARAM_SPLICED)) return DC_OK;
  DC_ASSERT(p->kind != DC_PARAM_SHARED);
  if (!on) { /* data is shadow * mask already; the MASKED invariant: pruned momentum 0 */
    free(p->shadow);
    p->shadow = NULL;
    p->kind = DC_PARAM_MASKED;
    for (size_t i = 0; i < p->count; i++)
      if (!p->mask[i]) p->history[i] = p->diff[i] = 0.0f;
    return DC_OK;
  }
  float *shadow = malloc(sizeof(float) * p->count);
  uint8_t *mask = p->mask ? p->mask : malloc(p->count);
  if (!shadow || !mask) {
    free(shadow);
    if (mask != p->mask) free(mask);
    return dc_fail(DC_ERR_NOMEM, "out of memory for the shadow weights of %s", p->name);
  }
  if (!p->mask) memset(mask, 1, p->count);
  memcpy(shadow, p->data, sizeof(float) * p->count);
  p->mask = mask;
  p->shadow = shadow;
  p->kind = DC_PARAM_SPLICED;
  return DC_OK;
}

const float *dc_param_prune_values(const dc_param *p, const uint8_t **eligible) {
  int spliced = p->kind == DC_PARAM_SPLICED;
  *eligible = spliced ? NULL : p->mask;
  return spliced ? p->shadow : p->data;
}

void dc_param_make_dense(dc_param *p) {
  dc_param_release(p);
  p->kind = DC_PARAM_DENSE;
}

size_t dc_param_nonzero(const dc_param *p) {
  if (!p->mask) return p->count;
  size_t n = 0;
  for (size_t i = 0; i < p->count; i++) n += p->mask[i];
  return n;
}

void dc_param_release(dc_param *p) {
  free(p->mask);
  free(p->index);
  free(p->codebook);
  free(p->shadow);
  p->shadow = NULL;
  p->mask = NULL;
  p->index = NULL;
  p->codebook = p->codebook_diff = p->codebook_history = p->codebook_count = NULL;
  p->bits = p->k = 0;
}

dc_param_parts dc_param_parts_of(dc_param *p) {
  dc_param_parts parts = {0};
  if (p->kind == DC_PARAM_DENSE) return parts;
  parts.mask = p->mask;
  parts.shadow = p->shadow;
  if (p->kind == DC_PARAM_SHARED) {
    parts.codebook = p->codebook;
    parts.index = p->index;
    parts.bits = p->bits;
  }
  return parts;
}

dc_status dc_param_set_parts(dc_param *p, const dc_param_parts *parts) {
  dc_param_make_dense(p);
  if (parts->mask) DC_TRY(dc_param_set_mask(p, parts->mask));
  if (parts->codebook) DC_TRY(dc_param_set_shared(p, parts->bits, parts->codebook, parts->index));
  if (parts->shadow) {
    DC_ASSERT(parts->mask && !parts->codebook);
    DC_TRY(dc_param_set_spliced(p, 1));
    memcpy(p->shadow, parts->shadow, sizeof(float) * p->count);
    dc_param_sync(p);
  }
  return DC_OK;
}

void dc_param_snapshot_free(dc_param_snapshot *s) {
  free(s->data);
  free(s->parts.mask);
  free(s->parts.codebook);
  free(s->parts.index);
  free(s->parts.shadow);
  memset(s, 0, sizeof *s);
}

dc_status dc_param_snapshot_take(dc_param *p, dc_param_snapshot *s) {
  memset(s, 0, sizeof *s);
  dc_param_parts parts = dc_param_parts_of(p);
  size_t k = parts.codebook ? (size_t)p->k : 0;
  s->data = malloc(sizeof(float) * p->count);
  if (parts.mask) s->parts.mask = malloc(p->count);
  if (k) {
    s->parts.codebook = malloc(sizeof(float) * k);
    s->parts.index = malloc(p->count);
  }
  if (parts.shadow) s->parts.shadow = malloc(sizeof(float) * p->count);
  if (!s->data || (parts.mask && !s->parts.mask) || (k && (!s->parts.codebook || !s->parts.index)) ||
      (parts.shadow && !s->parts.shadow)) {
    dc_param_snapshot_free(s);
    return dc_fail(DC_ERR_NOMEM, "out of memory saving %s", p->name);
  }
  memcpy(s->data, p->data, sizeof(float) * p->count);
  if (parts.mask) memcpy(s->parts.mask, parts.mask, p->count);
  if (k) {
    memcpy(s->parts.codebook, parts.codebook, sizeof(float) * k);
    memcpy(s->parts.index, parts.index, p->count);
    s->parts.bits = parts.bits;
  }
  if (parts.shadow) memcpy(s->parts.shadow, parts.shadow, sizeof(float) * p->count);
  return DC_OK;
}

dc_status dc_param_snapshot_restore(dc_param *p, const dc_param_snapshot *s) {
  memcpy(p->data, s->data, sizeof(float) * p->count);
  return dc_param_set_parts(p, &s->parts);
}

size_t dc_param_comm_scratch(const dc_param *p) { return p->kind == DC_PARAM_MASKED ? dc_param_nonzero(p) : 0; }

size_t dc_param_grad_pack(dc_param *p, float *scratch, float **where) {
  switch (p->kind) {
    case DC_PARAM_DENSE:
    case DC_PARAM_SPLICED:
      *where = p->diff;
      return p->count;
    case DC_PARAM_MASKED: {
      size_t n = 0;
      for (size_t i = 0; i < p->count; i++)
        if (p->mask[i]) scratch[n++] = p->diff[i];
      *where = scratch;
      return n;
    }
    case DC_PARAM_SHARED:
      *where = p->codebook_diff;
      return (size_t)p->k;
  }
  DC_ASSERT(0 && "unknown parameter kind");
  return 0;
}

void dc_param_grad_unpack(dc_param *p, const float *scratch) {
  if (p->kind != DC_PARAM_MASKED) return;
  size_t n = 0;
  for (size_t i = 0; i < p->count; i++)
    if (p->mask[i]) p->diff[i] = scratch[n++];
}

int dc_param_arrays(dc_param *p, void **ptr, size_t *bytes) {
  int n = 0;
  ptr[n] = p->data, bytes[n++] = sizeof(float) * p->count;
  if (p->kind == DC_PARAM_SHARED) {
    ptr[n] = p->codebook, bytes[n++] = sizeof(float) * (size_t)p->k;
    ptr[n] = p->codebook_history, bytes[n++] = sizeof(float) * (size_t)p->k;
    ptr[n] = p->index, bytes[n++] = p->count;
  } else {
    ptr[n] = p->history, bytes[n++] = sizeof(float) * p->count;
  }
  if (p->mask) ptr[n] = p->mask, bytes[n++] = p->count;
  if (p->shadow) ptr[n] = p->shadow, bytes[n++] = sizeof(float) * p->count;
  return n;
}

dc_status dc_param_adopt_kind(dc_param *p, dc_param_kind kind, int bits) {
  if (p->kind == kind && (kind != DC_PARAM_SHARED || p->bits == bits)) return DC_OK;
  dc_param_make_dense(p); /* from any kind to any: through DENSE */
  if (kind == DC_PARAM_DENSE) return DC_OK;
  uint8_t *keep = malloc(p->count);
  if (!keep) return dc_fail(DC_ERR_NOMEM, "out of memory for the mask of %s", p->name);
  memset(keep, 1, p->count);
  dc_status s = dc_param_set_mask(p, keep);
  if (s == DC_OK && kind == DC_PARAM_SHARED) {
    float codebook[256] = {0};
    memset(keep, 0, p->count);
    s = dc_param_set_shared(p, bits, codebook, keep);
  }
  if (s == DC_OK && kind == DC_PARAM_SPLICED) s = dc_param_set_spliced(p, 1);
  free(keep);
  return s;
}

/* ckpt.c — HDF5 checkpoints of parameters (all kinds) and solver state; see dc/ckpt.h. */
#include "dc/ckpt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/h5.h"
#include "util.h"

static void shape64(const dc_param *p, int64_t *dims) {
  for (int i = 0; i < p->ndim; i++) dims[i] = p->dims[i];
}

static dc_status write_scalar(dc_h5 *f, const char *path, int64_t v) {
  return dc_h5_write(f, path, DC_H5_I64, 0, NULL, &v);
}

static dc_status save_all(dc_h5 *f, dc_params *ps, const dc_ckpt_state *st) {
  char path[160];
  int64_t dims[4];
  DC_TRY(dc_h5_write_str(f, "/meta/format", DC_CKPT_FORMAT));
  for (int i = 0; i < ps->count; i++) {
    dc_param *p = &ps->p[i];
    dc_param_parts parts = dc_param_parts_of(p);
    shape64(p, dims);
    snprintf(path, sizeof path, "/params/%s", p->name);
    DC_TRY(dc_h5_write(f, path, DC_H5_F32, p->ndim, dims, p->data));
    if (parts.mask) {
      snprintf(path, sizeof path, "/params/%s_mask", p->name);
      DC_TRY(dc_h5_write(f, path, DC_H5_U8, p->ndim, dims, parts.mask));
    }
    if (parts.codebook) {
      int64_t k = (int64_t)1 << parts.bits;
      snprintf(path, sizeof path, "/params/%s_codebook", p->name);
      DC_TRY(dc_h5_write(f, path, DC_H5_F32, 1, &k, parts.codebook));
      snprintf(path, sizeof path, "/params/%s_index", p->name);
      DC_TRY(dc_h5_write(f, path, DC_H5_U8, p->ndim, dims, parts.index));
    }
    if (parts.shadow) {
      snprintf(path, sizeof path, "/params/%s_shadow", p->name);
      DC_TRY(dc_h5_write(f, path, DC_H5_F32, p->ndim, dims, parts.shadow));
    }
    if (st) {
      dc_param_view v = dc_param_view_of(p);
      int64_t n = (int64_t)v.n;
      snprintf(path, sizeof path, "/solver/history/%s", p->name);
      DC_TRY(dc_h5_write(f, path, DC_H5_F32, 1, &n, v.history));
    }
  }
  if (st) {
    DC_TRY(write_scalar(f, "/solver/iter", st->iter));
    DC_TRY(write_scalar(f, "/solver/seed", (int64_t)st->seed));
    DC_TRY(write_scalar(f, "/solver/stage", st->stage));
    DC_TRY(write_scalar(f, "/solver/stage_iter", st->stage_iter));
    if (st->data_count > 0) DC_TRY(write_scalar(f, "/solver/data_count", st->data_count));
    if (st->data_hash) DC_TRY(write_scalar(f, "/solver/data_hash", (int64_t)st->data_hash));
  }
  return DC_OK;
}

dc_status dc_ckpt_save(const char *path, dc_params *ps, const dc_ckpt_state *st) {
  dc_h5 *f;
  DC_TRY(dc_h5_create(path, &f));
  dc_status s = save_all(f, ps, st);
  if (s != DC_OK) {
    dc_h5_abort(f);
    return s;
  }
  return dc_h5_commit(f);
}

static dc_status load_param(dc_h5 *f, const char *file, dc_param *p) {
  char path[160];
  int64_t dims[4];
  shape64(p, dims);
  snprintf(path, sizeof path, "/params/%s", p->name);
  if (!dc_h5_exists(f, path))
    return dc_fail(DC_ERR_FORMAT, "%s: no dataset %s: the checkpoint does not match this net", file, path);
  DC_TRY(dc_h5_read(f, path, DC_H5_F32, p->ndim, dims, p->data));
  char mpath[160], cpath[160], ipath[160], spath[160];
  snprintf(mpath, sizeof mpath, "/params/%s_mask", p->name);
  snprintf(cpath, sizeof cpath, "/params/%s_codebook", p->name);
  snprintf(ipath, sizeof ipath, "/params/%s_index", p->name);
  snprintf(spath, sizeof spath, "/params/%s_shadow", p->name);
  uint8_t *mask = NULL, *index = NULL;
  dc_status s = DC_OK;
  dc_param_make_dense(p);
  if (dc_h5_exists(f, mpath)) {
    mask = malloc(p->count);
    if (!mask) return dc_fail(DC_ERR_NOMEM, "out of memory");
    if ((s = dc_h5_read(f, mpath, DC_H5_U8, p->ndim, dims, mask)) == DC_OK) {
      for (size_t i = 0; i < p->count; i++)
        if (mask[i] > 1) {
          s = dc_fail(DC_ERR_FORMAT, "%s: %s holds %u; a mask holds only 0 and 1", file, mpath, mask[i]);
          break;
        }
    }
    /* set_mask zeroes momentum of pruned weights; the history is read afterwards */
    if (s == DC_OK) s = dc_param_set_mask(p, mask);
  }
  if (s == DC_OK && dc_h5_exists(f, cpath)) {
    int nd;
    int64_t kd[8];
    float codebook[256];
    if ((s = dc_h5_shape(f, cpath, &nd, kd)) == DC_OK) {
      int bits = 0;
      while (bits < 8 && (1 << bits) < kd[0]) bits++;
      if (nd != 1 || kd[0] != (1 << bits) || bits < 1)
        s = dc_fail(DC_ERR_FORMAT, "%s: %s must hold 2^bits (2..256) centroids", file, cpath);
      index = malloc(p->count);
      if (s == DC_OK && !index) s = dc_fail(DC_ERR_NOMEM, "out of memory");
      if (s == DC_OK) s = dc_h5_read(f, cpath, DC_H5_F32, 1, kd, codebook);
      if (s == DC_OK) s = dc_h5_read(f, ipath, DC_H5_U8, p->ndim, dims, index);
      for (size_t i = 0; s == DC_OK && i < p->count; i++)
        if (index[i] >= kd[0])
          s = dc_fail(DC_ERR_FORMAT, "%s: %s holds %u, beyond the %d centroids", file, ipath, index[i], (int)kd[0]);
      if (s == DC_OK) s = dc_param_set_shared(p, bits, codebook, index);
    }
  }
  if (s == DC_OK && dc_h5_exists(f, spath)) { /* a pruning round with splicing */
    if (p->kind != DC_PARAM_MASKED)
      s = dc_fail(DC_ERR_FORMAT, "%s: %s needs %s and no codebook", file, spath, mpath);
    if (s == DC_OK) s = dc_param_set_spliced(p, 1);
    if (s == DC_OK) s = dc_h5_read(f, spath, DC_H5_F32, p->ndim, dims, p->shadow);
    if (s == DC_OK) dc_param_sync(p);
  }
  free(mask);
  free(index);
  return s;
}

static dc_status read_scalar(dc_h5 *f, const char *path, int64_t *v) {
  return dc_h5_read(f, path, DC_H5_I64, 0, NULL, v);
}

static dc_status load_all(dc_h5 *f, const char *file, dc_params *ps, dc_ckpt_state *st) {
  char path[160];
  char *format = NULL;
  if (dc_h5_exists(f, "/meta/format")) {
    DC_TRY(dc_h5_read_str(f, "/meta/format", &format));
    int ok = strcmp(format, DC_CKPT_FORMAT) == 0;
    char shown[64]; /* the file's text: one line, cut */
    if (!ok)
      dc_fail(DC_ERR_FORMAT, "%s: unsupported checkpoint format '%s' (expected '%s')", file,
              dc_printable(format, shown, sizeof shown), DC_CKPT_FORMAT);
    free(format);
    if (!ok) return DC_ERR_FORMAT;
  }
  for (int i = 0; i < ps->count; i++) DC_TRY(load_param(f, file, &ps->p[i]));
  if (!st) return DC_OK;
  if (!dc_h5_exists(f, "/solver/iter"))
    return dc_fail(DC_ERR_FORMAT, "%s: no solver state (/solver/iter): cannot resume from a weights-only file", file);
  int64_t seed;
  DC_TRY(read_scalar(f, "/solver/iter", &st->iter));
  DC_TRY(read_scalar(f, "/solver/seed", &seed));
  DC_TRY(read_scalar(f, "/solver/stage", &st->stage));
  DC_TRY(read_scalar(f, "/solver/stage_iter", &st->stage_iter));
  st->seed = (uint64_t)seed;
  int64_t hash = 0;
  st->data_count = 0;
  if (dc_h5_exists(f, "/solver/data_count")) DC_TRY(read_scalar(f, "/solver/data_count", &st->data_count));
  if (dc_h5_exists(f, "/solver/data_hash")) DC_TRY(read_scalar(f, "/solver/data_hash", &hash));
  st->data_hash = (uint64_t)hash;
  for (int i = 0; i < ps->count; i++) {
    dc_param_view v = dc_param_view_of(&ps->p[i]);
    int64_t n = (int64_t)v.n;
    snprintf(path, sizeof path, "/solver/history/%s", ps->p[i].name);
    DC_TRY(dc_h5_read(f, path, DC_H5_F32, 1, &n, v.history));
  }
  return DC_OK;
}

dc_status dc_ckpt_load(const char *path, dc_params *ps, dc_ckpt_state *st) {
  dc_h5 *f;
  DC_TRY(dc_h5_open(path, &f));
  dc_status s = load_all(f, path, ps, st);
  dc_h5_close(f);
  return s;
}

dc_status dc_ckpt_load_weights(const char *path, dc_params *ps) {
  DC_TRY(dc_ckpt_load(path, ps, NULL));
  for (int i = 0; i < ps->count; i++) DC_TRY(dc_param_set_spliced(&ps->p[i], 0));
  return DC_OK;
}

/* dc/engine.h — running a compressed model as it is: the inference engine behind
 * `dctrain predict` and the embeddable API (include/dcz.h).
 *
 * An engine is opened from a .dcz file (path or memory). The net comes from the file's
 * model section (format version 2) or, for files written before it, from the caller.
 * At load, conv layers are decoded to dense fp32 (oneDNN runs them as in training);
 * fc layers stay compressed (codebook + CSR of 16-bit columns and 8-bit indices, 3 bytes
 * per kept weight; src/infer/spfc.h) and run on the sparse-quantized kernels, unless the
 * measured crossover (by density, batch size and whether the dense layer fits in the
 * cache; engine.c) says oneDNN's dense inner product is faster: then that layer runs
 * dense, its dense weights decoded on first use and kept (memory grows by 4 bytes per
 * weight of that layer; DC_FC_SPARSE never does that). An fc layer with more than
 * 65535 inputs (the kernels' 16-bit columns) is decoded and runs dense in every mode. Pooling, ReLU, LRN, dropout (identity) and softmax are the
 * training code's forward passes.
 *
 * An engine is not thread-safe: one run at a time per engine. */
#ifndef DC_ENGINE_H
#define DC_ENGINE_H

#include <stddef.h>

#include "dc/compress.h"
#include "dc/error.h"

typedef struct dc_engine dc_engine; /* opaque */

typedef enum {
  DC_FC_AUTO = 0, /* per layer and batch size, the faster by the measured crossover */
  DC_FC_SPARSE,   /* always the sparse-quantized kernels */
  DC_FC_DENSE     /* always dense oneDNN (fc weights decoded at load, as conv) */
} dc_fc_mode;

typedef struct {
  int threads;          /* OpenMP threads for oneDNN and the kernels; <= 0: 2 */
  int max_batch;        /* samples per forward pass; longer runs are split; <= 0: 64 */
  dc_fc_mode fc;
  const dc_dcz_model *model; /* NULL: the file's model section. Else used instead of it
                                (needed for version-1 files); copied at open */
} dc_engine_conf;

/* Defaults: 2 threads, max_batch 64, DC_FC_AUTO, model from the file. */
dc_engine_conf dc_engine_defaults(void);

/* Open the .dcz at path, or in memory buf[len] when buf != NULL (path, may be NULL, then
 * only names it in messages; the buffer is not kept). conf NULL: the defaults. Fails
 * with one line naming the file: DC_ERR_IO, DC_ERR_FORMAT (corrupt file, a version-1
 * file without conf->model, a net whose layers do not match the stored ones), DC_ERR_CFG
 * (a bad net text), DC_ERR_NOMEM, DC_ERR_BACKEND. *out = NULL on failure. */
dc_status dc_engine_open(const char *path, const void *buf, size_t len, const dc_engine_conf *conf,
                         dc_engine **out);
void dc_engine_free(dc_engine *e);

/* Input (C, H, W) of one sample, and the number of classes (output width). */
void dc_engine_input_shape(const dc_engine *e, int *c, int *h, int *w);
int dc_engine_classes(const dc_engine *e);
/* The model section in use (net text, preprocessing, labels); owned by e. */
const dc_dcz_model *dc_engine_model(const dc_engine *e);

/* probs (n, classes) = softmax of the net on x (n, C, H, W) NCHW floats, already
 * preprocessed. n >= 1. Both caller owned. */
dc_status dc_engine_run(dc_engine *e, const float *x, int n, float *probs);
/* The same, also writing logits (n, classes): the input of the final softmax (may be
 * NULL; probs may be NULL too). */
dc_status dc_engine_run_logits(dc_engine *e, const float *x, int n, float *probs, float *logits);

/* One image as the model's preprocessing says (dc_dcz_model): pixels (h, w, channels)
 * 8-bit, channels 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) -> x (C, H, W).
 * DC_ERR_ARG on bad sizes or a centre crop larger than the resized image. */
dc_status dc_engine_preprocess(const dc_engine *e, const unsigned char *pixels, int w, int h, int channels,
                               float *x);
/* Decode an image file (PNG, JPEG, BMP, ... through stb_image) and preprocess it into x
 * (C, H, W). DC_ERR_DATA "PATH: cannot decode image: REASON", DC_ERR_IO. */
dc_status dc_engine_load_image(const dc_engine *e, const char *path, float *x);

/* Where the engine's memory goes, in bytes. */
typedef struct {
  size_t fc_sparse;   /* fc layers in compressed form (dc_spfc) */
  size_t fc_dense;    /* fc layers decoded to dense (dense mode, or past a crossover) */
  size_t conv_dense;  /* conv weights decoded at load, and all biases */
  size_t dense_model; /* what the whole model takes as dense fp32 weights + biases */
  size_t file;        /* the .dcz */
} dc_engine_memory;
void dc_engine_memory_of(const dc_engine *e, dc_engine_memory *m);

/* Whether fc layer `name` runs on the sparse kernels (1) or dense oneDNN (0) at this
 * batch size; -1 when there is no such fc layer. */
int dc_engine_fc_sparse(const dc_engine *e, const char *name, int batch);

#endif

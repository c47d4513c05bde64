/* infer/api.c — the embeddable inference API (include/dcz.h) over the engine
 * (dc/engine.h): argument checks, status translation, the per-thread error message. */
#include "dcz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/engine.h"

struct dcz_model {
  dc_engine *e;
  int nlabels;
  char **labels; /* (nlabels) pointers into label_text */
  char *label_text;
};

static _Thread_local char g_error[1024];

const char *dcz_last_error(void) { return g_error; }

/* Translate a library status, copying its recorded reason. */
static dcz_status fail_from(dc_status s) {
  snprintf(g_error, sizeof g_error, "%s", dc_failure_reason()[0] ? dc_failure_reason() : dc_status_name(s));
  switch (s) {
    case DC_OK: return DCZ_OK;
    case DC_ERR_IO: return DCZ_ERR_IO;
    case DC_ERR_NOMEM: return DCZ_ERR_NOMEM;
    case DC_ERR_ARG: return DCZ_ERR_ARG;
    case DC_ERR_DATA: return DCZ_ERR_IMAGE;
    case DC_ERR_BACKEND:
    case DC_ERR_NUMERIC: return DCZ_ERR_RUNTIME;
    default: return DCZ_ERR_FORMAT; /* cfg, shape, format: the file or its net */
  }
}

static dcz_status fail_arg(const char *fn, const char *what) {
  snprintf(g_error, sizeof g_error, "%s: %s", fn, what);
  return DCZ_ERR_ARG;
}

dcz_params dcz_default_params(void) {
  dcz_params p = {2, 64, 0};
  return p;
}

static dcz_status open_any(const char *path, const void *buf, size_t len, const dcz_params *params,
                           dcz_model **out) {
  dcz_params p = params ? *params : dcz_default_params();
  if (p.fc_mode < 0 || p.fc_mode > 2) return fail_arg("dcz_open", "params->fc_mode must be 0, 1 or 2");
  dc_engine_conf c = dc_engine_defaults();
  c.threads = p.threads;
  c.max_batch = p.max_batch;
  c.fc = (dc_fc_mode)p.fc_mode;
  dcz_model *m = calloc(1, sizeof *m);
  if (!m) {
    snprintf(g_error, sizeof g_error, "out of memory");
    return DCZ_ERR_NOMEM;
  }
  dc_failure_clear();
  dc_status s = dc_engine_open(path, buf, len, &c, &m->e);
  const char *text = s == DC_OK ? dc_engine_model(m->e)->labels : NULL;
  if (s == DC_OK && text) {
    m->label_text = strdup(text);
    int lines = 1;
    for (const char *t = text; *t; t++) lines += *t == '\n';
    m->labels = calloc((size_t)lines, sizeof *m->labels);
    if (!m->label_text || !m->labels) s = dc_fail(DC_ERR_NOMEM, "out of memory");
    for (char *t = m->label_text; s == DC_OK && t;) {
      m->labels[m->nlabels++] = t;
      char *nl = strchr(t, '\n');
      if (nl) *nl = '\0';
      t = nl ? nl + 1 : NULL;
    }
  }
  if (s != DC_OK) {
    dcz_close(m);
    return fail_from(s);
  }
  *out = m;
  return DCZ_OK;
}

dcz_status dcz_open(const char *path, const dcz_params *params, dcz_model **out) {
  if (!out) return fail_arg("dcz_open", "out is NULL");
  *out = NULL;
  if (!path) return fail_arg("dcz_open", "path is NULL");
  return open_any(path, NULL, 0, params, out);
}

dcz_status dcz_open_memory(const void *buf, size_t len, const dcz_params *params, dcz_model **out) {
  if (!out) return fail_arg("dcz_open_memory", "out is NULL");
  *out = NULL;
  if (!buf) return fail_arg("dcz_open_memory", "buf is NULL");
  return open_any("<memory>", buf, len, params, out);
}

void dcz_close(dcz_model *m) {
  if (!m) return;
  dc_engine_free(m->e);
  free(m->labels);
  free(m->label_text);
  free(m);
}

dcz_status dcz_input_shape(const dcz_model *m, int *c, int *h, int *w) {
  if (!m) return fail_arg("dcz_input_shape", "model is NULL");
  dc_engine_input_shape(m->e, c, h, w);
  return DCZ_OK;
}

int dcz_num_classes(const dcz_model *m) { return m ? dc_engine_classes(m->e) : 0; }

const char *dcz_class_name(const dcz_model *m, int i) {
  if (!m || i < 0 || i >= m->nlabels) return NULL;
  return m->labels[i];
}

dcz_status dcz_run(dcz_model *m, const float *x, size_t input_floats, int n, float *probs) {
  if (!m) return fail_arg("dcz_run", "model is NULL");
  if (!x || !probs) return fail_arg("dcz_run", "input or output is NULL");
  if (n < 1) return fail_arg("dcz_run", "n must be >= 1");
  int c, h, w;
  dc_engine_input_shape(m->e, &c, &h, &w);
  size_t want = (size_t)n * (size_t)c * h * w;
  if (input_floats != want) {
    snprintf(g_error, sizeof g_error, "dcz_run: %zu input floats given, %d samples of %dx%dx%d need %zu", input_floats,
             n, c, h, w, want);
    return DCZ_ERR_ARG;
  }
  dc_failure_clear();
  dc_status s = dc_engine_run(m->e, x, n, probs);
  return s == DC_OK ? DCZ_OK : fail_from(s);
}

dcz_status dcz_preprocess(const dcz_model *m, const unsigned char *pixels, int width, int height, int channels,
                          float *x) {
  if (!m) return fail_arg("dcz_preprocess", "model is NULL");
  if (!pixels || !x) return fail_arg("dcz_preprocess", "pixels or output is NULL");
  dc_failure_clear();
  dc_status s = dc_engine_preprocess(m->e, pixels, width, height, channels, x);
  return s == DC_OK ? DCZ_OK : fail_from(s);
}

dcz_status dcz_classify_file(dcz_model *m, const char *image_path, float *probs) {
  if (!m) return fail_arg("dcz_classify_file", "model is NULL");
  if (!image_path || !probs) return fail_arg("dcz_classify_file", "image path or output is NULL");
  int c, h, w;
  dc_engine_input_shape(m->e, &c, &h, &w);
  float *x = malloc(sizeof(float) * (size_t)c * h * w);
  if (!x) {
    snprintf(g_error, sizeof g_error, "out of memory");
    return DCZ_ERR_NOMEM;
  }
  dc_failure_clear();
  dc_status s = dc_engine_load_image(m->e, image_path, x);
  if (s == DC_OK) s = dc_engine_run(m->e, x, 1, probs);
  free(x);
  return s == DC_OK ? DCZ_OK : fail_from(s);
}

dcz_status dcz_memory(const dcz_model *m, size_t *weights_bytes, size_t *dense_bytes) {
  if (!m) return fail_arg("dcz_memory", "model is NULL");
  dc_engine_memory mem;
  dc_engine_memory_of(m->e, &mem);
  if (weights_bytes) *weights_bytes = mem.fc_sparse + mem.fc_dense + mem.conv_dense;
  if (dense_bytes) *dense_bytes = mem.dense_model;
  return DCZ_OK;
}

/* predict.c — `dctrain predict`: inputs -> the inference engine -> top-k lines; see
 * dc/predict.h. */
#include "dc/predict.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dc/engine.h"
#include "dc/experiment.h"
#include "dc/model.h"

#define MAX_RECORDS 1000000

/* The first n records of an idx3 ubyte file (magic 0x00000803, big-endian counts)
 * into a new buffer *px of n * (*rows) * (*cols) bytes. */
static dc_status read_idx(const char *path, int n, unsigned char **px, int *rows, int *cols) {
  *px = NULL;
  gzFile f = gzopen(path, "rb"); /* reads plain files as they are */
  if (!f) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  unsigned char h[16];
  dc_status st = DC_OK;
  int got = gzread(f, h, sizeof h);
  uint32_t v[4];
  for (int i = 0; i < 4; i++)
    v[i] = (uint32_t)h[4 * i] << 24 | (uint32_t)h[4 * i + 1] << 16 | (uint32_t)h[4 * i + 2] << 8 | h[4 * i + 3];
  if (got != (int)sizeof h)
    st = dc_fail(DC_ERR_DATA, "%s: too short for an idx image file (%d bytes)", path, got < 0 ? 0 : got);
  else if (v[0] != 0x803)
    st = dc_fail(DC_ERR_DATA, "%s: magic 0x%08x, expected 0x00000803 (idx3 ubyte images)", path, v[0]);
  else if (v[2] < 1 || v[3] < 1 || v[2] > 65536 || v[3] > 65536 || (uint64_t)v[2] * v[3] > (1u << 26))
    st = dc_fail(DC_ERR_DATA, "%s: images of %u x %u pixels", path, v[2], v[3]);
  else if ((uint32_t)n > v[1])
    st = dc_fail(DC_ERR_DATA, "%s: holds %u records, %d asked for", path, v[1], n);
  if (st == DC_OK) {
    size_t bytes = (size_t)n * v[2] * v[3];
    *px = malloc(bytes);
    if (!*px) st = dc_fail(DC_ERR_NOMEM, "%s: out of memory", path);
    size_t done = 0;
    while (st == DC_OK && done < bytes) {
      unsigned step = bytes - done > (1u << 30) ? (1u << 30) : (unsigned)(bytes - done);
      int r = gzread(f, *px + done, step);
      if (r <= 0) st = dc_fail(DC_ERR_DATA, "%s: truncated: ends inside record %zu", path, done / (v[2] * v[3]));
      else done += (size_t)r;
    }
    *rows = (int)v[2];
    *cols = (int)v[3];
  }
  gzclose(f);
  if (st != DC_OK) {
    free(*px);
    *px = NULL;
  }
  return st;
}

/* Class names, one per line of text (modified in place): names[i] points into it. */
static int split_lines(char *text, char **names, int max) {
  int n = 0;
  for (char *t = text; t && *t && n < max;) {
    char *nl = strchr(t, '\n');
    if (nl) *nl = '\0';
    size_t l = strlen(t);
    if (l && t[l - 1] == '\r') t[l - 1] = '\0';
    names[n++] = t;
    t = nl ? nl + 1 : NULL;
  }
  return n;
}

static dc_status read_text(const char *path, char **out) {
  FILE *f = fopen(path, "rb");
  if (!f) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    char *nb = cap >= (64u << 20) ? NULL : realloc(buf, (cap *= 2) + 1);
    if (!nb) free(buf);
    buf = nb;
  }
  fclose(f);
  if (!buf) return dc_fail(DC_ERR_NOMEM, "%s: too large or out of memory", path);
  buf[n] = '\0';
  *out = buf;
  return DC_OK;
}

static void print_top(FILE *out, const char *name, const float *p, int classes, int top, char **names, int nnames) {
  fprintf(out, "%s:", name);
  char *used = calloc((size_t)classes, 1);
  for (int k = 0; k < top && used; k++) {
    int best = -1;
    for (int j = 0; j < classes; j++)
      if (!used[j] && (best < 0 || p[j] > p[best])) best = j;
    used[best] = 1;
    if (best < nnames) fprintf(out, "%s %s %.2f%%", k ? "," : "", names[best], 100.0 * p[best]);
    else fprintf(out, "%s %d %.2f%%", k ? "," : "", best, 100.0 * p[best]);
  }
  fprintf(out, "\n");
  free(used);
}

dc_status dc_cmd_predict(const dc_predict_conf *c, FILE *out) {
  if (c->nimages < 0 || (c->nimages == 0 && !c->idx))
    return dc_fail(DC_ERR_ARG, "predict: no input (give image files or --idx FILE)");
  if (c->idx && c->first < 1) return dc_fail(DC_ERR_ARG, "predict: --first must be >= 1");
  if (c->idx && c->first > MAX_RECORDS) return dc_fail(DC_ERR_ARG, "predict: --first at most %d", MAX_RECORDS);
  dc_engine_conf ec = dc_engine_defaults();
  ec.threads = c->threads;
  dc_dcz_model given = {0};
  if (c->experiment) {
    static dc_experiment e;
    DC_TRY(dc_experiment_load(c->experiment, &e));
    DC_TRY(dc_model_describe(&e, NULL, &given));
    ec.model = &given;
  }
  dc_engine *eng = NULL;
  dc_status st = dc_engine_open(c->model, NULL, 0, &ec, &eng);
  dc_dcz_model_free(&given);
  DC_TRY(st);
  int C, H, W;
  dc_engine_input_shape(eng, &C, &H, &W);
  const int classes = dc_engine_classes(eng);
  const size_t in = (size_t)C * H * W;
  const int n = c->nimages + (c->idx ? c->first : 0);
  float *x = malloc(sizeof(float) * in * (size_t)n), *p = malloc(sizeof(float) * (size_t)classes * n);
  char **names = calloc((size_t)classes, sizeof *names);
  char *label_text = NULL;
  unsigned char *px = NULL;
  int nnames = 0;
  if (!x || !p || !names) st = dc_fail(DC_ERR_NOMEM, "predict: out of memory for %d inputs", n);
  for (int i = 0; st == DC_OK && i < c->nimages; i++) st = dc_engine_load_image(eng, c->images[i], x + in * i);
  if (st == DC_OK && c->idx) {
    int rows = 0, cols = 0;
    st = read_idx(c->idx, c->first, &px, &rows, &cols);
    for (int i = 0; st == DC_OK && i < c->first; i++)
      st = dc_engine_preprocess(eng, px + (size_t)i * rows * cols, cols, rows, 1, x + in * (size_t)(c->nimages + i));
  }
  if (st == DC_OK && c->labels) {
    st = read_text(c->labels, &label_text);
    if (st == DC_OK && (nnames = split_lines(label_text, names, classes)) < classes)
      st = dc_fail(DC_ERR_DATA, "%s: %d class names, the model has %d classes", c->labels, nnames, classes);
  } else if (st == DC_OK && dc_engine_model(eng)->labels) {
    label_text = strdup(dc_engine_model(eng)->labels);
    if (!label_text) st = dc_fail(DC_ERR_NOMEM, "out of memory");
    else nnames = split_lines(label_text, names, classes);
  }
  if (st == DC_OK) st = dc_engine_run(eng, x, n, p);
  int top = c->top < classes ? c->top : classes;
  for (int i = 0; st == DC_OK && out && i < n; i++) {
    char name[600];
    if (i < c->nimages) snprintf(name, sizeof name, "%s", c->images[i]);
    else snprintf(name, sizeof name, "%.500s[%d]", c->idx, i - c->nimages);
    print_top(out, name, p + (size_t)classes * i, classes, top, names, nnames);
  }
  free(x);
  free(p);
  free(names);
  free(label_text);
  free(px);
  dc_engine_free(eng);
  return st;
}

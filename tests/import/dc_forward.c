/* dc_forward.c — test-only: run a dctrain net forward on inputs read from an HDF5 file
 * and write what it computed, so the import tests can compare dctrain with PyTorch on
 * exactly the same input tensors.
 *
 *   dc_forward NET.net WEIGHTS.h5 INPUTS.h5 OUT.h5 [--layer NAME]
 *       INPUTS.h5 /input (N, C, H, W) float32, C/H/W those of NET's [input]. Builds NET
 *       for batch N (inference: dropout off), loads WEIGHTS.h5 (dc_ckpt_load: every
 *       parameter's name and shape must match) and writes OUT.h5 with /logits: the
 *       output of layer NAME (default: the layer before softmax_loss, i.e. the pre-softmax
 *       scores), shape (N, C·H·W of that layer), and /probs: the softmax (N, classes).
 *       Prints the net's parameter shapes as --shapes does.
 *   dc_forward --shapes NET.net
 *       prints "NAME DIMS" (e.g. "conv1/weight 64x3x11x11") for every parameter, then
 *       "total N".
 * Errors: one line on stderr, exit status 1. Uses $OMP_NUM_THREADS threads (default 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/ckpt.h"
#include "dc/h5.h"
#include "dc/net.h"

static int fail(void) {
  fprintf(stderr, "dc_forward: %s\n", *dc_failure_reason() ? dc_failure_reason() : "failed");
  return 1;
}

static void print_shapes(const dc_net *net) {
  for (int i = 0; i < net->params->count; i++) {
    const dc_param *p = &net->params->p[i];
    printf("%s ", p->name);
    for (int d = 0; d < p->ndim; d++) printf(d ? "x%d" : "%d", p->dims[d]);
    printf("\n");
  }
  printf("total %zu\n", net->params->total);
}

/* Read /input of `path` into a new buffer, checking it against the net's input. */
static dc_status read_input(const char *path, const dc_shape *in, int *n, float **x) {
  dc_h5 *f;
  DC_TRY(dc_h5_open(path, &f));
  int nd;
  int64_t d[DC_H5_MAX_DIMS];
  dc_status s = dc_h5_shape(f, "/input", &nd, d);
  if (s == DC_OK && (nd != 4 || d[0] < 1 || d[1] != in->c || d[2] != in->h || d[3] != in->w))
    s = dc_fail(DC_ERR_SHAPE, "%s: /input must be (N, %d, %d, %d)", path, in->c, in->h, in->w);
  if (s == DC_OK) {
    *n = (int)d[0];
    *x = malloc(sizeof(float) * (size_t)(d[0] * d[1] * d[2] * d[3]));
    if (!*x) s = dc_fail(DC_ERR_NOMEM, "out of memory");
  }
  if (s == DC_OK) s = dc_h5_read(f, "/input", DC_H5_F32, 4, d, *x);
  dc_h5_close(f);
  return s;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--shapes")) {
    dc_net *net;
    if (dc_net_load(argv[2], 1, 0, NULL, &net) != DC_OK) return fail();
    print_shapes(net);
    dc_net_free(net);
    return 0;
  }
  const char *layer_name = NULL;
  if (argc == 7 && !strcmp(argv[5], "--layer")) layer_name = argv[6];
  else if (argc != 5) {
    fprintf(stderr, "usage: dc_forward NET.net WEIGHTS.h5 INPUTS.h5 OUT.h5 [--layer NAME]\n"
                    "       dc_forward --shapes NET.net\n");
    return 2;
  }
  const char *omp = getenv("OMP_NUM_THREADS");
  dc_set_threads(omp ? atoi(omp) : 1);
  dc_net *probe, *net;
  if (dc_net_load(argv[1], 1, 0, NULL, &probe) != DC_OK) return fail();
  dc_shape in = probe->input;
  dc_net_free(probe);
  int n;
  float *x = NULL;
  if (read_input(argv[3], &in, &n, &x) != DC_OK) return fail();
  if (dc_net_load(argv[1], n, 0, NULL, &net) != DC_OK) return fail();
  if (dc_ckpt_load(argv[2], net->params, NULL) != DC_OK) return fail();
  memcpy(net->input_data, x, sizeof(float) * (size_t)dc_shape_count(net->input));
  free(x);
  int *labels = calloc((size_t)n, sizeof *labels);
  dc_pass pass = {.train = 0, .labels = labels, .seed = 1, .iter = 0};
  if (!labels || dc_net_forward(net, &pass, NULL) != DC_OK) return fail();
  int li = net->nlayers - 2;
  if (layer_name) {
    for (li = 0; li < net->nlayers && strcmp(net->layers[li].name, layer_name) != 0; li++) {}
    if (li == net->nlayers) {
      fprintf(stderr, "dc_forward: %s has no layer '%s'\n", argv[1], layer_name);
      return 1;
    }
  }
  dc_shape os = net->layers[li].out;
  size_t per = dc_shape_count(os) / (size_t)n;
  float *logits = malloc(sizeof(float) * dc_shape_count(os));
  if (!logits || dc_net_read_output(net, li, logits) != DC_OK) return fail();
  dc_h5 *f;
  int64_t ld[2] = {n, (int64_t)per}, pd[2] = {n, net->classes};
  if (dc_h5_create(argv[4], &f) != DC_OK) return fail();
  if (dc_h5_write(f, "/logits", DC_H5_F32, 2, ld, logits) != DC_OK ||
      dc_h5_write(f, "/probs", DC_H5_F32, 2, pd, dc_net_output(net)) != DC_OK) {
    dc_h5_abort(f);
    return fail();
  }
  if (dc_h5_commit(f) != DC_OK) return fail();
  print_shapes(net);
  free(logits);
  free(labels);
  dc_net_free(net);
  return 0;
}

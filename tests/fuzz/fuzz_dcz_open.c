/* tests/fuzz/fuzz_dcz_open.c — the embeddable inference API's load path (include/dcz.h:
 * dcz_open_memory: .dcz reader, model section, net text, weights into the engine's
 * sparse and dense layers), then one forward pass and the preprocessing of a small
 * image. Input: a .dcz file (CRCs made right unless its size is 7 mod 8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcz.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* most inputs with their CRCs made right, to reach the parser; the others as they are */
  uint8_t *fixed = size % 8 != 7 ? fz_dcz_fix_crcs(data, size) : NULL;
  if (fixed) data = fixed;
  dcz_params p = dcz_default_params();
  p.threads = 1;
  p.max_batch = 2;
  p.fc_mode = size ? data[size - 1] % 3 : 0;
  dcz_model *m = NULL;
  dcz_status s = dcz_open_memory(data, size, &p, &m);
  if (s != DCZ_OK) {
    const char *e = dcz_last_error();
    if (!e[0] || strchr(e, '\n')) {
      fprintf(stderr, "fuzz: dcz_open_memory failed without a one-line reason: '%s'\n", e);
      abort();
    }
    free(fixed);
    return 0;
  }
  int c, h, w, k = dcz_num_classes(m);
  dcz_input_shape(m, &c, &h, &w);
  size_t in = (size_t)c * h * w;
  float *x = calloc(in, sizeof *x), *probs = calloc((size_t)k, sizeof *probs);
  if (dcz_run(m, x, in, 1, probs) != DCZ_OK) abort(); /* a model that opened must run */
  for (int i = 0; i < k; i++) (void)dcz_class_name(m, i);
  unsigned char px[5 * 7 * 3];
  for (size_t i = 0; i < sizeof px; i++) px[i] = (unsigned char)(i * 37);
  (void)dcz_preprocess(m, px, 7, 5, 3, x);
  free(x);
  free(probs);
  dcz_close(m);
  free(fixed);
  return 0;
}

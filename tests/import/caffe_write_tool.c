/* caffe_write_tool.c — test-only: a .caffemodel of seeded random weights for a net.
 *
 *   dc_caffe_write_tool NET.net OUT.caffemodel REF.h5 SEED layer|v1|v0 [legacy]
 *
 * Fills NET's parameters with seeded random values (weights uniform with variance
 * 2/fan_in, so activations keep their scale through ReLU layers; biases uniform in
 * [-1, 1)), writes them to REF.h5 (dc_ckpt_save) and, through libprotobuf-c, to
 * OUT.caffemodel in the given format (`legacy`: 4-D num/channels/height/width shapes
 * instead of BlobShape). Errors: one line on stderr, exit status 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caffe_write.h"
#include "dc/ckpt.h"
#include "dc/rng.h"

int main(int argc, char **argv) {
  if (argc < 6 || argc > 7 || (argc == 7 && strcmp(argv[6], "legacy") != 0)) {
    fprintf(stderr, "usage: dc_caffe_write_tool NET.net OUT.caffemodel REF.h5 SEED layer|v1|v0 [legacy]\n");
    return 2;
  }
  tc_format fmt;
  if (!strcmp(argv[5], "layer")) fmt = TC_LAYER;
  else if (!strcmp(argv[5], "v1")) fmt = TC_V1;
  else if (!strcmp(argv[5], "v0")) fmt = TC_V0;
  else {
    fprintf(stderr, "dc_caffe_write_tool: format must be layer, v1 or v0\n");
    return 2;
  }
  uint64_t seed = strtoull(argv[4], NULL, 10);
  dc_net *net;
  if (dc_net_load(argv[1], 1, 0, NULL, &net) != DC_OK) {
    fprintf(stderr, "dc_caffe_write_tool: %s\n", dc_failure_reason());
    return 1;
  }
  for (int i = 0; i < net->params->count; i++) {
    dc_param *p = &net->params->p[i];
    int is_bias = strstr(p->name, "/bias") != NULL;
    float a = is_bias ? 1.0f : sqrtf(6.0f / (float)(p->fan_in > 0 ? p->fan_in : 1));
    dc_rng r;
    dc_rng_seed(&r, seed, dc_hash_str(p->name));
    for (size_t k = 0; k < p->count; k++) p->data[k] = a * (2.0f * dc_rng_uniform(&r) - 1.0f);
  }
  if (dc_ckpt_save(argv[3], net->params, NULL) != DC_OK) {
    fprintf(stderr, "dc_caffe_write_tool: %s\n", dc_failure_reason());
    return 1;
  }
  int n;
  tc_layer *ls = tc_layers_of_net(net, &n);
  int rc = ls ? tc_write_caffemodel(argv[2], "dctrain-test", ls, n, fmt, argc == 7 ? TC_LEGACY_SHAPE : 0) : -1;
  free(ls);
  dc_net_free(net);
  return rc == 0 ? 0 : 1;
}

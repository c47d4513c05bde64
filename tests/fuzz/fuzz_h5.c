/* tests/fuzz/fuzz_h5.c — loading HDF5 weights and checkpoints (dc_ckpt_load through
 * src/h5.c: format string, dataset names, shapes, types, masks, codebooks and indices,
 * solver state) into the parameters of FZ_NET, as `dctrain eval` loads weights and a
 * resume loads a checkpoint. Input: an HDF5 file (written to the temp directory: the
 * loader takes a path). */
#include <stdlib.h>

#include "dc/cfg.h"
#include "dc/ckpt.h"
#include "dc/net.h"
#include "fuzz_util.h"

static dc_cfg *g_cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  if (dc_cfg_parse(FZ_NET, "fuzz.net", &g_cfg) != DC_OK) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[600];
  fz_write(path, sizeof path, "ckpt.h5", data, size);
  for (int with_state = 0; with_state < 2; with_state++) {
    dc_net *net = NULL;
    if (dc_net_create(g_cfg, 1, DC_NET_TRAIN, NULL, &net) != DC_OK) abort();
    dc_ckpt_state st;
    dc_status s = dc_ckpt_load(path, net->params, with_state ? &st : NULL);
    fz_check(s, "dc_ckpt_load");
    dc_net_free(net);
    if (s != DC_OK) break;
  }
  return 0;
}

/* tests/fuzz/fuzz_h5.c — loading HDF5 weights and checkpoints (dc_ckpt_load through
 * src/h5.c: format string, dataset names, shapes, types, masks, codebooks and indices,
 * solver state) into the parameters of FZ_NET, as `dctrain eval` loads weights and a
 * resume loads a checkpoint. Input: an HDF5 file (written to the temp directory: the
 * loader takes a path). Also checks that no HDF5 handle stays open afterwards.
 * libhdf5 itself (Debian's 1.10) leaks metadata-cache entries when an object header
 * fails to load: tests/fuzz/lsan.supp names those frames, scripts/fuzz.sh uses it. */
#include <stdio.h>
#include <stdlib.h>

#include <hdf5.h>

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
    /* every HDF5 handle closed on every path (LeakSanitizer would not see one left open:
     * the library's handle table still points at it) */
    ssize_t open_objs = H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open_objs != 0) {
      fprintf(stderr, "fuzz: %zd HDF5 objects left open after dc_ckpt_load\n", open_objs);
      abort();
    }
    if (s != DC_OK) break;
  }
  return 0;
}

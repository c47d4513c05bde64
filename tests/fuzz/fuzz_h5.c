/* tests/fuzz/fuzz_h5.c — loading HDF5 weights and checkpoints (dc_ckpt_load through
 * src/h5.c: format string, dataset names, shapes, types, masks, codebooks and indices,
 * solver state) into the parameters of FZ_NET, as `dctrain eval` loads weights and a
 * resume loads a checkpoint. Input: an HDF5 file (written to the temp directory: the
 * loader takes a path). Also checks that no HDF5 handle stays open afterwards.
 * libhdf5 itself (Debian's 1.10) leaks metadata-cache entries when an object header
 * fails to load: tests/fuzz/lsan.supp names those frames, scripts/fuzz.sh uses it.
 * One crash inside libhdf5 that dctrain cannot prevent (it happens in the first name
 * lookup, H5Lexists, before any of dctrain's checks can see the file) is skipped: see
 * libhdf5_crashes(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* 1 when data holds a group's symbol-table message (type 0x11: a B-tree address, then a
 * local heap address; object header version 1 or 2) whose heap address is undefined (all
 * 0xFF bytes, HADDR_UNDEF). libhdf5 1.10.8 then reads 512 bytes "at" that address for
 * the heap's prefix and its metadata accumulator memcpy's them from a NULL buffer: a
 * segfault in H5F__accum_read under H5HL_protect, also with the core and stdio drivers
 * (tests/fuzz/regress/fuzz_h5/stab-heap-addr-undef). */
static int libhdf5_crashes(const uint8_t *data, size_t size) {
  static const uint8_t ff[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  for (size_t i = 0; i + 4 + 16 <= size; i++) {
    int v1 = i + 8 + 16 <= size && data[i] == 0x11 && data[i + 1] == 0 && data[i + 2] == 16 && data[i + 3] == 0;
    int v2 = data[i] == 0x11 && data[i + 1] == 16 && data[i + 2] == 0;
    if ((v1 && memcmp(data + i + 8 + 8, ff, 8) == 0) || (v2 && memcmp(data + i + 4 + 8, ff, 8) == 0)) return 1;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (libhdf5_crashes(data, size)) return 0;
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

/* tests/fuzz/fuzz_caffe.c — `dctrain import caffe` (src/import/caffe.c: libprotobuf-c's
 * parse of a NetParameter, the layers and blobs matched against FZ_NET, shapes and
 * counts checked, the weights written as HDF5 into the temp directory). Input: a
 * .caffemodel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/import.h"
#include "fuzz_util.h"

static char g_net[600], g_out[600];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fz_write(g_net, sizeof g_net, "fuzz.net", FZ_NET, strlen(FZ_NET));
  fz_path(g_out, sizeof g_out, "out.h5");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[600];
  fz_write(path, sizeof path, "fuzz.caffemodel", data, size);
  fz_check(dc_import_caffe(path, g_net, g_out, NULL), "dc_import_caffe");
  return 0;
}

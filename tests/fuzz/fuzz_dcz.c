/* tests/fuzz/fuzz_dcz.c — the .dcz reader (src/compress/dcz.c) from memory: layers,
 * size statistics and the version-2 model section, then the statistics alone (what
 * `dctrain info` reads). Input: a .dcz file (CRCs made right unless its size is 7 mod 8). */
#include <stdlib.h>

#include "dc/compress.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* most inputs with their CRCs made right, to reach the parser; the others as they are */
  uint8_t *fixed = size % 8 != 7 ? fz_dcz_fix_crcs(data, size) : NULL;
  if (fixed) data = fixed;
  dc_dcz_layer *layers = NULL;
  int n = 0;
  dc_dcz_stats stats;
  dc_dcz_model model;
  dc_status s = dc_dcz_read_model("fuzz.dcz", data, size, &layers, &n, &stats, &model);
  fz_check(s, "dc_dcz_read_model");
  dc_dcz_free(layers, n);
  dc_dcz_stats_free(&stats);
  dc_dcz_model_free(&model);
  s = dc_dcz_read_model("fuzz.dcz", data, size, NULL, NULL, &stats, NULL);
  fz_check(s, "dc_dcz_read_model (stats only)");
  dc_dcz_stats_free(&stats);
  free(fixed);
  return 0;
}

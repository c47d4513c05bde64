/* tests/fuzz/fuzz_dcz.c — the .dcz reader (src/compress/dcz.c) from memory: layers,
 * size statistics and the version-2 model section, then the statistics alone (what
 * `dctrain info` reads). Input: a .dcz file. */
#include "dc/compress.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
  return 0;
}

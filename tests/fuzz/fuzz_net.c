/* tests/fuzz/fuzz_net.c — the net-file reader: dc_cfg_parse then dc_net_create (every
 * layer's keys, shape inference, parameter and activation sizing, the oneDNN
 * primitives) for inference at batch 1, and for training at batch 2 when the first
 * succeeds. Input: net-file text. */
#include <stdlib.h>
#include <string.h>

#include "dc/cfg.h"
#include "dc/net.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  dc_cfg *c = NULL;
  dc_status s = dc_cfg_parse(text, "fuzz.net", &c);
  fz_check(s, "dc_cfg_parse");
  free(text);
  if (s != DC_OK) return 0;
  dc_net *net = NULL;
  s = dc_net_create(c, 1, 0, NULL, &net);
  fz_check(s, "dc_net_create");
  dc_cfg_free(c);
  if (s != DC_OK) return 0;
  dc_net_free(net);
  return 0;
}

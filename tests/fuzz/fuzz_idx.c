/* tests/fuzz/fuzz_idx.c — the idx (MNIST) reader: dc_dataset_open_idx on an image and
 * a label file, plain or gzip-compressed, then the first and last sample. Input: u16
 * little-endian n, then the image file's bytes (the first n of the rest, all of them
 * when fewer), then the label file's. */
#include <stdlib.h>

#include "dc/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t n = (size_t)data[0] | (size_t)data[1] << 8;
  data += 2, size -= 2;
  if (n > size) n = size;
  char img[600], lab[600];
  fz_write(img, sizeof img, "images-idx3-ubyte", data, n);
  fz_write(lab, sizeof lab, "labels-idx1-ubyte", data + n, size - n);
  dc_dataset *d = NULL;
  dc_status s = dc_dataset_open_idx(img, lab, 1.0f / 256, &d);
  fz_check(s, "dc_dataset_open_idx");
  if (s != DC_OK) return 0;
  int c, h, w, y;
  dc_dataset_shape(d, &c, &h, &w);
  float *x = malloc(sizeof(float) * (size_t)c * h * w);
  fz_check(dc_dataset_get(d, 0, x, &y), "dc_dataset_get");
  fz_check(dc_dataset_get(d, dc_dataset_count(d) - 1, x, &y), "dc_dataset_get");
  free(x);
  dc_dataset_free(d);
  return 0;
}

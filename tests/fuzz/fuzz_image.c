/* tests/fuzz/fuzz_image.c — the image decoding paths: dc_image_decode (stb_image), then the
 * inference preprocessing (src/infer/image.c: colour conversion, the shared bilinear
 * resize of src/data/resize.c, centre crop, normalisation) with a model section drawn
 * from the input; and the image-folder loader's sample path (src/data/imagefolder.c:
 * decode from a file, resize in both modes, crop) on the same bytes as a file.
 * stb_image's implementation is compiled into this target (same header as the
 * library's) so the fuzzer sees and instruments the decoder too.
 * Images over dc_image_max_pixels (lowered here to 2^16, 256 x 256, see decode.h) are
 * refused from their header before decoding: the decoders' paths are the same at any
 * size past a few blocks, and at 2^20 the fuzzer spent its time decoding large pixel
 * arrays (about 100 executions a second on a 2 GHz AVX2 core, 80% of it in the pixel
 * loops of stb's TGA and JPEG decoders).
 * Input: 4 bytes of preprocessing (colour, resize, crop height, crop width), then an
 * image file (PNG, JPEG, BMP, GIF, TGA, PNM, ...). */
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dc/data.h"
#include "fuzz_util.h"
#include "data/decode.h"
#include "infer/image.h"

static dc_dataset *g_sets[2]; /* squash 12 crop 8; shorter side 9 crop 9 */
static char g_img[600];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  dc_image_max_pixels = 1u << 16;
  char dir[600];
  fz_path(dir, sizeof dir, "train");
  mkdir(dir, 0700);
  fz_path(dir, sizeof dir, "train/c0");
  mkdir(dir, 0700);
  fz_path(g_img, sizeof g_img, "train/c0/a.png");
  static const unsigned char pgm[] = "P5 2 2 255\n\x01\x02\x03\x04";
  fz_write(g_img, sizeof g_img, "train/c0/a.png", pgm, sizeof pgm - 1);
  for (int i = 0; i < 2; i++) {
    dc_imagefolder_conf conf;
    dc_imagefolder_defaults(&conf);
    conf.threads = 1;
    conf.resize = i ? 9 : 12;
    conf.crop = i ? 9 : 8;
    conf.resize_mode = i ? DC_RESIZE_SHORTER : DC_RESIZE_SQUASH;
    if (dc_imagefolder_open(fz_dir(), 0 + 1, &conf, &g_sets[i]) != DC_OK) abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4 || size > (1u << 24)) return 0;
  dc_dcz_model m = {0};
  m.color = (dc_color)(data[0] % DC_COLOR_COUNT);
  m.resize = data[1] % 3 == 0 ? 0 : data[1] % 40;
  m.mean[0] = 1, m.mean[1] = 2, m.mean[2] = 3;
  m.scale = 0.5f;
  const int C = dc_color_channels(m.color), H = 1 + data[2] % 24, W = 1 + data[3] % 24;
  data += 4, size -= 4;

  fz_write(g_img, sizeof g_img, "train/c0/a.png", data, size);
  /* the engine's path (dc_engine_load_image): decode as stored, then preprocess */
  int w = 0, h = 0, ch = 0;
  unsigned char *px;
  dc_status s = dc_image_decode(g_img, 0, &px, &w, &h, &ch);
  fz_check(s, "dc_image_decode");
  if (s == DC_OK) {
    float *x = malloc(sizeof(float) * (size_t)C * H * W);
    fz_check(dc_image_to_input(px, w, h, ch, &m, C, H, W, x, "fuzz image"), "dc_image_to_input");
    free(x);
    free(px);
  }
  /* the image-folder loader's path, in both resize modes */
  float x[3 * 9 * 9];
  int y;
  for (int i = 0; i < 2; i++) fz_check(dc_dataset_get(g_sets[i], 0, x, &y), "dc_dataset_get");
  return 0;
}

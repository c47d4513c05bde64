/* tests/fuzz/make_seeds.c — writes the binary seed files of tests/fuzz/corpus/ from
 * FZ_NET, so the committed seeds stay a few KB and can be remade after a format change:
 *   build/fuzz_make_seeds tests/fuzz/corpus
 * .dcz (version 1 and 2, pruned and quantized), HDF5 weights and checkpoints (dense,
 * masked, shared, with solver state), idx pairs (plain and gzip), small images in each
 * format stb_image_write writes, and .caffemodel files (both formats) when built with
 * protobuf-c. The text seeds (cfg, net) are copies of the project's own files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <stb/stb_image_write.h>

#include "dc/cfg.h"
#include "dc/ckpt.h"
#include "dc/model.h"
#include "dc/net.h"
#include "fuzz_util.h"
#ifdef DC_SEEDS_CAFFE
#include "caffe_write.h"
#endif

static const char *g_root;

static _Noreturn void die(const char *what) {
  fprintf(stderr, "make_seeds: %s: %s\n", what, dc_failure_reason());
  exit(1);
}

static void path_of(char *buf, size_t cap, const char *target, const char *name) {
  snprintf(buf, cap, "%s/%s", g_root, target);
  mkdir(buf, 0755);
  snprintf(buf, cap, "%s/%s/%s", g_root, target, name);
}

/* a file of prefix[np] then the bytes of file src */
static void with_prefix(const char *target, const char *name, const uint8_t *prefix, size_t np, const char *src) {
  FILE *f = fopen(src, "rb");
  if (!f) die(src);
  static uint8_t buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  char out[1024];
  path_of(out, sizeof out, target, name);
  f = fopen(out, "wb");
  fwrite(prefix, 1, np, f);
  fwrite(buf, 1, n, f);
  fclose(f);
}

static dc_net *make_net(void) {
  dc_cfg *c;
  dc_net *net;
  if (dc_cfg_parse(FZ_NET, "fuzz.net", &c) || dc_net_create(c, 1, DC_NET_TRAIN, NULL, &net)) die("net");
  dc_cfg_free(c);
  dc_net_init_params(net, 1);
  return net;
}

/* prune every other weight, then 2-bit (4-centroid) sharing of the weights */
static void compress_net(dc_net *net) {
  for (int i = 0; i < net->params->count; i++) {
    dc_param *p = &net->params->p[i];
    if (p->ndim < 2) continue;
    uint8_t *keep = malloc(p->count), *idx = malloc(p->count);
    for (size_t j = 0; j < p->count; j++) keep[j] = j % 3 != 1, idx[j] = (uint8_t)(j * 7 % 4);
    float cb[4] = {-0.5f, -0.1f, 0.2f, 0.6f};
    if (dc_param_set_mask(p, keep) || dc_param_set_shared(p, 2, cb, idx)) die("compress");
    free(keep);
    free(idx);
  }
}

static void put_be32(FILE *f, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  fwrite(b, 1, 4, f);
}

/* idx seed: u16 image-file length, images (n 3x2), labels */
static void idx_seed(const char *name, int n, int gz) {
  char tmp_i[600], tmp_l[600];
  fz_path(tmp_i, sizeof tmp_i, "i");
  fz_path(tmp_l, sizeof tmp_l, "l");
  FILE *fi = fopen(tmp_i, "wb"), *fl = fopen(tmp_l, "wb");
  put_be32(fi, 0x803), put_be32(fi, (uint32_t)n), put_be32(fi, 3), put_be32(fi, 2);
  put_be32(fl, 0x801), put_be32(fl, (uint32_t)n);
  for (int i = 0; i < n * 6; i++) fputc(i * 41 & 0xff, fi);
  for (int i = 0; i < n; i++) fputc(i % 10, fl);
  fclose(fi);
  fclose(fl);
  uint8_t img[4096], lab[1024];
  fi = fopen(tmp_i, "rb"), fl = fopen(tmp_l, "rb");
  size_t ni = fread(img, 1, sizeof img, fi), nl = fread(lab, 1, sizeof lab, fl);
  fclose(fi);
  fclose(fl);
  if (gz) { /* gzip each part */
    uLongf zi = sizeof img, zl = sizeof lab;
    uint8_t a[4096], b[1024];
    char gzp[600];
    fz_path(gzp, sizeof gzp, "g.gz");
    gzFile g = gzopen(gzp, "wb9");
    gzwrite(g, img, (unsigned)ni);
    gzclose(g);
    fi = fopen(gzp, "rb");
    zi = fread(a, 1, sizeof a, fi);
    fclose(fi);
    g = gzopen(gzp, "wb9");
    gzwrite(g, lab, (unsigned)nl);
    gzclose(g);
    fl = fopen(gzp, "rb");
    zl = fread(b, 1, sizeof b, fl);
    fclose(fl);
    memcpy(img, a, zi), ni = zi;
    memcpy(lab, b, zl), nl = zl;
  }
  char out[1024];
  path_of(out, sizeof out, "fuzz_idx", name);
  FILE *f = fopen(out, "wb");
  fputc((int)(ni & 0xff), f), fputc((int)(ni >> 8), f);
  fwrite(img, 1, ni, f);
  fwrite(lab, 1, nl, f);
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  g_root = argv[1];
  char p[1024];

  /* HDF5: dense weights, a checkpoint with solver state, compressed params */
  dc_net *net = make_net();
  path_of(p, sizeof p, "fuzz_h5", "weights.h5");
  if (dc_ckpt_save(p, net->params, NULL)) die(p);
  dc_ckpt_state st = {.iter = 3, .seed = 7, .stage = 1, .stage_iter = 2};
  path_of(p, sizeof p, "fuzz_h5", "ckpt.h5");
  if (dc_ckpt_save(p, net->params, &st)) die(p);
#ifdef DC_SEEDS_CAFFE
  int nl;
  tc_layer *tl = tc_layers_of_net(net, &nl);
  path_of(p, sizeof p, "fuzz_caffe", "layer.caffemodel");
  if (tc_write_caffemodel(p, "fuzz", tl, nl, TC_LAYER, 0)) die(p);
  path_of(p, sizeof p, "fuzz_caffe", "v1-legacy.caffemodel");
  if (tc_write_caffemodel(p, "fuzz", tl, nl, TC_V1, TC_LEGACY_SHAPE)) die(p);
  path_of(p, sizeof p, "fuzz_caffe", "v0-double.caffemodel");
  if (tc_write_caffemodel(p, "fuzz", tl, nl, TC_V0, TC_DOUBLE)) die(p);
  free(tl);
#endif
  compress_net(net);
  path_of(p, sizeof p, "fuzz_h5", "shared.h5");
  if (dc_ckpt_save(p, net->params, &st)) die(p);

  /* .dcz in the version this build writes, without and with the model section (the
   * committed v1.dcz, v2.dcz and v3*.dcz seeds were written by builds of those versions) */
  dc_dcz_model m = {.net = (char *)FZ_NET,
                    .color = DC_COLOR_GRAY,
                    .resize = 0,
                    .mean = {3, 0, 0},
                    .scale = 0.25f,
                    .labels = "zero\none\ntwo\n"};
  path_of(p, sizeof p, "fuzz_dcz", "v4-plain.dcz");
  if (dc_model_encode(net, 2, 3, p, NULL)) die(p);
  path_of(p, sizeof p, "fuzz_dcz", "v4-model.dcz"); /* fp16 codebooks, 8-bit biases */
  if (dc_model_encode_with(net, 3, 1, 8, 16, &m, p, NULL)) die(p);
  path_of(p, sizeof p, "fuzz_dcz_open", "v4.dcz");
  if (dc_model_encode_with(net, 3, 1, 32, 16, &m, p, NULL)) die(p);
  dc_dcz_model rgb = m;
  char rgbnet[1024];
  snprintf(rgbnet, sizeof rgbnet, "%s", FZ_NET);
  rgbnet[strlen("[input]\nchannels = ")] = '3'; /* same weights would not fit: a mismatch seed */
  rgb.net = rgbnet;
  rgb.color = DC_COLOR_RGB;
  rgb.resize = 8;
  rgb.labels = NULL;
  path_of(p, sizeof p, "fuzz_dcz_open", "mismatch.dcz");
  if (dc_model_encode_with(net, 2, 2, 8, 32, &rgb, p, NULL)) die(p);
  dc_net_free(net);

  /* idx pairs */
  idx_seed("plain", 3, 0);
  idx_seed("gzip", 2, 1);

  /* images: 4 bytes of preprocessing, then the file */
  unsigned char px[5 * 4 * 4];
  for (size_t i = 0; i < sizeof px; i++) px[i] = (unsigned char)(i * 29);
  char tmp[600];
  static const uint8_t pre[][4] = {{0, 0, 3, 3}, {1, 8, 4, 5}, {2, 7, 2, 6}, {1, 1, 5, 4}};
  struct {
    const char *name;
    int comp;
  } imgs[] = {{"gray.png", 1}, {"rgba.png", 4}, {"rgb.bmp", 3}, {"ga.tga", 2}, {"rgb.jpg", 3}};
  for (int i = 0; i < 5; i++) {
    fz_path(tmp, sizeof tmp, imgs[i].name);
    int ok = i == 2   ? stbi_write_bmp(tmp, 5, 4, imgs[i].comp, px)
             : i == 3 ? stbi_write_tga(tmp, 5, 4, imgs[i].comp, px)
             : i == 4 ? stbi_write_jpg(tmp, 5, 4, imgs[i].comp, px, 90)
                      : stbi_write_png(tmp, 5, 4, imgs[i].comp, px, 5 * imgs[i].comp);
    if (!ok) die(tmp);
    with_prefix("fuzz_image", imgs[i].name, pre[i % 4], 4, tmp);
  }
  fz_write(tmp, sizeof tmp, "g.pgm", "P5 3 2 255\n\x01\x40\x80\xc0\xff\x10", 17);
  with_prefix("fuzz_image", "gray.pgm", pre[1], 4, tmp);
  return 0;
}

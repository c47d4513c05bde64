/* tests/fuzz/fuzz_util.c — see fuzz_util.h. */
#define _XOPEN_SOURCE 700
#include "fuzz_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

const char *const FZ_NET =
    "[input]\nchannels = 1\nheight = 6\nwidth = 6\n"
    "[conv]\nname = conv1\nnum_output = 2\nkernel = 3\n"
    "[relu]\n[maxpool]\nkernel = 2\nstride = 2\n"
    "[fc]\nname = ip1\nnum_output = 4\n"
    "[relu]\n"
    "[fc]\nname = ip2\nnum_output = 3\n"
    "[softmax_loss]\n";

static char g_dir[512];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

static void cleanup(void) {
  if (g_dir[0]) nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fz_dir(void) {
  if (!g_dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/dcfuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(g_dir)) {
      perror("fuzz: mkdtemp");
      abort();
    }
    atexit(cleanup);
  }
  return g_dir;
}

void fz_path(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", fz_dir(), name); }

void fz_write(char *buf, size_t cap, const char *name, const void *data, size_t size) {
  fz_path(buf, cap, name);
  FILE *f = fopen(buf, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(buf);
    abort();
  }
}

void fz_check(dc_status s, const char *what) {
  const char *r = dc_failure_reason();
  if (s != DC_OK && (!r[0] || strchr(r, '\n'))) {
    fprintf(stderr, "fuzz: %s failed (%s) without a one-line reason: '%s'\n", what, dc_status_name(s), r);
    abort();
  }
  dc_failure_clear();
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint8_t *fz_dcz_fix_crcs(const uint8_t *data, size_t n) {
  uint8_t *b = malloc(n ? n : 1);
  if (!b) abort();
  memcpy(b, data, n);
  if (n < 20) return b;
  put_le32(b + 12, (uint32_t)crc32(0, b, 12));
  size_t at = 16;
  while (n - 4 - at >= 12) { /* the model record, then layers: u64 length, record, u32 CRC */
    uint64_t rl = 0;
    for (int i = 7; i >= 0; i--) rl = rl << 8 | b[at + i];
    if (rl > n - 4 - at - 12) break;
    put_le32(b + at + 8 + rl, (uint32_t)crc32(0, b + at, (uInt)(8 + rl)));
    at += 12 + rl;
  }
  put_le32(b + n - 4, (uint32_t)crc32(0, b, (uInt)(n - 4)));
  return b;
}

/* test_decode.c — image files through dc_image_decode (src/data/decode.c), the one
 * decoder of the image-folder loader and the inference engine: channel counts, and the
 * refusals stb_image leaves to its caller, each found by fuzzing (tests/fuzz): a
 * PNM whose width does not parse decoded as a 0-pixel-wide image (the loader's resize
 * then read past it), a 16-bit PNM converted to RGB (stb_image read past its buffer),
 * a small header declaring a huge image, JPEG tables used but never defined, and stb_image's
 * reason made one printable line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

#include "data/decode.h"
#include "util_net.h"

static char *g_dir;

static const char *write_bytes(const char *name, const void *b, size_t n) {
  static char path[600];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
  return path;
}

static void expect_refused(const char *path, dc_status want, const char *msg) {
  unsigned char *px = (unsigned char *)1;
  int w = -1, h = -1, ch = -1;
  dc_failure_clear();
  assert_int_equal(dc_image_decode(path, 3, &px, &w, &h, &ch), want);
  assert_null(px);
  const char *why = dc_failure_reason();
  if (!strstr(why, path) || !strstr(why, msg) || strchr(why, '\n'))
    fail_msg("expected '%s' in one line: '%s'", msg, why);
}

static void test_decode_good(void **state) {
  (void)state;
  static const char pgm[] = "P5 3 2 255\n\x01\x02\x03\x04\x05\x06";
  const char *p = write_bytes("g.pgm", pgm, sizeof pgm - 1);
  unsigned char *px;
  int w, h, ch;
  assert_int_equal(dc_image_decode(p, 0, &px, &w, &h, &ch), DC_OK);
  assert_true(w == 3 && h == 2 && ch == 1 && px[5] == 6);
  free(px);
  assert_int_equal(dc_image_decode(p, 3, &px, &w, &h, &ch), DC_OK);
  assert_true(ch == 3 && px[3] == 2 && px[4] == 2 && px[5] == 2);
  free(px);
  static const char commented[] = "P5 3#12345678901\n2 255\n\x01\x02\x03\x04\x05\x06";
  p = write_bytes("c.pgm", commented, sizeof commented - 1);
  assert_int_equal(dc_image_decode(p, 0, &px, &w, &h, &ch), DC_OK);
  assert_true(w == 3 && h == 2 && ch == 1 && px[5] == 6);
  free(px);
}

/* fuzz finding: a 16-bit PNM (maxval > 255) asked for as RGB made stb_image 2.27 read past
 * its buffer (it converted channels as if the samples were 8-bit); decoded as stored and
 * converted by dc_image_decode, it gives the gray image's bytes, replicated. */
static void test_decode_16bit_pnm(void **state) {
  (void)state;
  static const char pgm16[] = "P5 2 1 65535\n\x12\x34\xab\xcd";
  const char *p = write_bytes("g16.pgm", pgm16, sizeof pgm16 - 1);
  unsigned char *px;
  int w, h, ch;
  unsigned char *gray;
  assert_int_equal(dc_image_decode(p, 0, &gray, &w, &h, &ch), DC_OK);
  assert_true(w == 2 && h == 1 && ch == 1);
  assert_int_equal(dc_image_decode(p, 3, &px, &w, &h, &ch), DC_OK);
  assert_true(w == 2 && h == 1 && ch == 3);
  for (int i = 0; i < 6; i++) assert_int_equal(px[i], gray[i / 3]);
  free(px);
  free(gray);
  /* the fuzzer's input: 16-bit, truncated */
  static const char cut[] = "P5 3 2 2555\n\x01\x40 3 \x80\xc0\xff\x10\x32 \x10";
  p = write_bytes("cut16.pgm", cut, sizeof cut - 1);
  dc_status s = dc_image_decode(p, 3, &px, &w, &h, &ch);
  if (s == DC_OK) free(px);
}

static void test_decode_refused(void **state) {
  (void)state;
  /* the fuzzer's input: the width "~" does not parse, stb_image made it 0 */
  static const char zero_w[] = "P5 ~ 2 255\n\x01\x40\x80\xc0\xff\x10\x01\x01\x05\x04";
  expect_refused(write_bytes("zero.pgm", zero_w, sizeof zero_w - 1), DC_ERR_DATA, "no side 0");
  /* 100000 x 100000 declared in 22 bytes: refused from the header, nothing allocated */
  static const char huge[] = "P5 100000 100000 255\n\x01";
  expect_refused(write_bytes("huge.pgm", huge, sizeof huge - 1), DC_ERR_DATA, "100000 x 100000 pixels (at most");
  expect_refused(write_bytes("junk.png", "not an image", 12), DC_ERR_DATA, "cannot decode image: ");
  expect_refused(write_bytes("empty.png", "", 0), DC_ERR_DATA, "cannot decode image: ");
  static const char big_pgm[] = "P5 3666666666 2 255\n";
  expect_refused(write_bytes("big.pgm", big_pgm, sizeof big_pgm - 1), DC_ERR_DATA,
                 "corrupt PNM (a header number of more");
  /* the same behind a comment that starts right after the width, which stb 2.27 skips
   * as a comment (fuzz_image: the check took its digits for the height) */
  static const char big_after[] = "P5 3#6 66\n36666666666 255\n";
  expect_refused(write_bytes("big-after.pgm", big_after, sizeof big_after - 1), DC_ERR_DATA,
                 "corrupt PNM (a header number of more");
  /* a JPEG whose Huffman table declares 16 x 17 = 272 codes: stb_image 2.27 would write
   * past its table (fuzz_image); refused before stb reads it */
  unsigned char dht[4 + 4 + 17 + 2] = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 2 + 17, 0x00};
  for (int i = 0; i < 16; i++) dht[7 + i] = 17;
  dht[sizeof dht - 2] = 0xFF, dht[sizeof dht - 1] = 0xD9;
  expect_refused(write_bytes("dht.jpg", dht, sizeof dht), DC_ERR_DATA,
                 "corrupt JPEG (a Huffman table declares more than 256 codes)");
  /* a 5 x 4 PNG whose IDAT chunk declares 0x5b000019 bytes (1.5 GB) in a 57-byte file:
   * stb_image 2.27 allocated the declared size before reading (fuzz_image); refused */
  static const unsigned char idat[] = {
      0x89, 'P', 'N', 'G',  '\r', '\n', 0x1a, '\n', 0,    0,    0,    13,   'I',  'H',  'D',  'R', 0, 0,    0,
      5,    0,   0,   0,    4,    8,    0,    0,    0,    0,    0x63, 0x52, 0xaa, 0x9c, 0x5b, 0,   0, 0x19, 'I',
      'D',  'A', 'T', 0x78, 0x5e, 0x63, 0x64, 0x90, 0x05, 0x03, 1,    2,    3,    4,    5,    6,   7, 8,    9};
  expect_refused(write_bytes("idat.png", idat, sizeof idat), DC_ERR_DATA,
                 "corrupt PNG (a chunk declares more bytes than the file holds)");
  /* a 1 x 1 gray PNG whose first IDAT chunk is empty: stb_image 2.27 offset its NULL
   * buffer by 0 (UBSan, fuzz_image); refused */
  static const unsigned char empty[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,   0,   0,   13, 'I', 'H', 'D',
                                        'R',  0,   0,   0,   1,    0,    0,    0,    1,   8,   0,   0,  0,   0,   1,
                                        2,    3,   4,   0,   0,    0,    0,    'I',  'D', 'A', 'T', 1,  2,   3,   4,
                                        0,    0,   0,   0,   'I',  'E',  'N',  'D',  5,   6,   7,   8};
  expect_refused(write_bytes("empty-idat.png", empty, sizeof empty), DC_ERR_DATA,
                 "corrupt PNG (an empty IDAT chunk before the image data)");
  /* the same table in a DHT segment too short for it (length 16: class and 13 counts):
   * stb 2.27 reads a whole table while any length is left, past the segment (fuzz_image) */
  unsigned char short_dht[4 + 2 + 17 + 2] = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 16, 0x00};
  for (int i = 0; i < 16; i++) short_dht[7 + i] = 17;
  short_dht[sizeof short_dht - 2] = 0xFF, short_dht[sizeof short_dht - 1] = 0xD9;
  expect_refused(write_bytes("short-dht.jpg", short_dht, sizeof short_dht), DC_ERR_DATA,
                 "corrupt JPEG (a Huffman table declares more than 256 codes)");
  /* the same behind fill bytes before SOI, which stb 2.27 skips (fuzz_image) */
  unsigned char filled[3 + sizeof dht];
  memset(filled, 0xFF, 3);
  memcpy(filled + 3, dht, sizeof dht);
  expect_refused(write_bytes("filled-dht.jpg", filled, sizeof filled), DC_ERR_DATA,
                 "corrupt JPEG (a Huffman table declares more than 256 codes)");
  char missing[600];
  snprintf(missing, sizeof missing, "%s/none.png", g_dir);
  expect_refused(missing, DC_ERR_IO, "cannot open image: No such file");
  expect_refused("/dev/zero", DC_ERR_IO, "not a regular file");
}

/* the bytes of a file, in a malloc'ed buffer of *n */
static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  unsigned char *b = malloc(1 << 16);
  assert_non_null(b);
  *n = fread(b, 1, 1 << 16, f);
  fclose(f);
  return b;
}

/* the first table of segment `marker` (DHT or DQT) whose class/id byte is `from`, set to `to` */
static void rename_table(unsigned char *b, size_t n, int marker, int from, int to) {
  for (size_t i = 2; i + 4 < n; i++) {
    if (b[i] != 0xFF || b[i + 1] != marker) continue;
    size_t end = i + 2 + (b[i + 2] << 8 | b[i + 3]), at = i + 4;
    while (at < end) {
      size_t size = marker == 0xDB ? 65 : 17;
      if (marker == 0xC4)
        for (int k = 1; k <= 16; k++) size += b[at + k];
      if (b[at] == from) {
        b[at] = (unsigned char)to;
        return;
      }
      at += size;
    }
  }
  fail_msg("no table 0x%02x in segment 0xFF%02X", from, marker);
}

/* fuzz finding: a JPEG whose scan uses a Huffman table that no DHT segment defined made
 * stb_image 2.27 decode with its uninitialised table (the assert in stbi__jpeg_huff_decode;
 * garbage in a release build); a quantization table no DQT segment defined is refused as
 * well (stb would multiply by uninitialised memory). A JPEG written by stb_image_write
 * decodes; the same file with its AC luminance table, or its chrominance quantization
 * table, renamed to an id no scan uses is refused. */
static void test_decode_jpeg_tables(void **state) {
  (void)state;
  unsigned char rgb[8 * 8 * 3];
  for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (unsigned char)(i * 7);
  char path[600];
  snprintf(path, sizeof path, "%s/good.jpg", g_dir);
  assert_true(stbi_write_jpg(path, 8, 8, 3, rgb, 90));
  unsigned char *px;
  int w, h, ch;
  assert_int_equal(dc_image_decode(path, 3, &px, &w, &h, &ch), DC_OK);
  assert_true(w == 8 && h == 8 && ch == 3);
  free(px);
  size_t n;
  unsigned char *good = read_all(path, &n), *b = malloc(n);
  assert_non_null(b);
  memcpy(b, good, n);
  rename_table(b, n, 0xC4, 0x10, 0x02); /* AC table 0 becomes DC table 2 */
  expect_refused(write_bytes("no-ac0.jpg", b, n), DC_ERR_DATA,
                 "corrupt JPEG (a scan uses a Huffman table no DHT segment defined)");
  memcpy(b, good, n);
  rename_table(b, n, 0xDB, 0x01, 0x02); /* quantization table 1 becomes 2 */
  expect_refused(write_bytes("no-q1.jpg", b, n), DC_ERR_DATA,
                 "corrupt JPEG (a scan uses a quantization table no DQT segment defined)");
  free(b);
  free(good);
}

/* fuzz finding: stb_image 2.27 names an unknown critical PNG chunk by its 4 type bytes
 * as the file has them; a NUL left the message ending in "cannot decode image: ", a
 * newline split it. Bytes outside printable ASCII read '?', an empty reason "unknown
 * error". A 1x1 gray PNG (stb checks no CRC) whose second chunk has type bytes t[4]. */
static void expect_png_reason(const char *name, const char t[4], const char *reason) {
  unsigned char png[8 + 25 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D',
                                    'R',  0,   0,   0,   1,    0,    0,    0,    1, 8, 0, 0,  0,   0};
  memcpy(png + 8 + 25 + 4, t, 4); /* after the IHDR chunk and the new chunk's length 0 */
  const char *p = write_bytes(name, png, sizeof png);
  char want[800];
  snprintf(want, sizeof want, "%s: cannot decode image: %s", p, reason);
  unsigned char *px = NULL;
  int w, h, ch;
  dc_failure_clear();
  assert_int_equal(dc_image_decode(p, 0, &px, &w, &h, &ch), DC_ERR_DATA);
  assert_string_equal(dc_failure_reason(), want);
}

static void test_decode_reason_one_line(void **state) {
  (void)state;
  expect_png_reason("nl.png", "\n\001Ab", "??Ab PNG chunk not known");
  expect_png_reason("hi.png", "\320\355\177A", "???A PNG chunk not known");
  expect_png_reason("nul.png", "\0BCD", "unknown error");
  expect_png_reason("ok.png", "ABCD", "ABCD PNG chunk not known"); /* as stb says it */
}

static int setup(void **state) {
  (void)state;
  g_dir = tu_tmpdir();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tu_rmdir(g_dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_good),
      cmocka_unit_test(test_decode_16bit_pnm),
      cmocka_unit_test(test_decode_refused),
      cmocka_unit_test(test_decode_jpeg_tables),
      cmocka_unit_test(test_decode_reason_one_line),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

/* data/decode.c — image files through stb_image; see decode.h. */
#define _DEFAULT_SOURCE /* lstat, readlink */
#include "data/decode.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image.h>

#include "util.h"

const char *dc_open_failure(const char *path, int err, char *buf, size_t cap) {
  struct stat st;
  char target[512];
  ssize_t n;
  if (err == ENOENT && lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
      (n = readlink(path, target, sizeof target - 1)) >= 0) {
    target[n] = '\0';
    snprintf(buf, cap, "dangling symlink to '%s'", target);
  } else {
    snprintf(buf, cap, "%s", strerror(err));
  }
  return buf;
}

/* n pixels of ic interleaved channels as `want` channels, as stb_image converts: gray is
 * replicated, alpha dropped (or 255 when added), gray from colour (77 R + 150 G + 29 B) / 256. */
static unsigned char *to_channels(const unsigned char *src, size_t n, int ic, int want) {
  unsigned char *dst = malloc(n * (size_t)want);
  if (!dst) return NULL;
  for (size_t i = 0; i < n; i++) {
    const unsigned char *s = src + i * (size_t)ic;
    unsigned char *d = dst + i * (size_t)want;
    unsigned char g = ic >= 3 ? (unsigned char)((s[0] * 77 + s[1] * 150 + s[2] * 29) >> 8) : s[0];
    unsigned char a = ic == 2 ? s[1] : ic == 4 ? s[3] : 255;
    if (want <= 2) {
      d[0] = g;
      if (want == 2) d[1] = a;
    } else {
      d[0] = ic >= 3 ? s[0] : g;
      d[1] = ic >= 3 ? s[1] : g;
      d[2] = ic >= 3 ? s[2] : g;
      if (want == 4) d[3] = a;
    }
  }
  return dst;
}

/* Whether f is a binary PNM (P5/P6) whose width, height or maxval has more than 9
 * digits: stb_image 2.27 parses them into an int without an overflow check (signed
 * overflow, found by fuzz_image). Reads the header's three numbers exactly as stb does:
 * whitespace and '#' comments (also one right after a number) before each, then its
 * digits; any other byte ends the header. Rewinds f. */
static int pnm_number_overflows(FILE *f) {
  int bad = 0, c = getc(f), kind = getc(f);
  if (c != 'P' || (kind != '5' && kind != '6')) goto done;
  c = getc(f);
  for (int numbers = 0; numbers < 3; numbers++) {
    for (;;) {
      while (c == ' ' || (c >= '\t' && c <= '\r')) c = getc(f);
      if (c != '#') break;
      while (c != EOF && c != '\n' && c != '\r') c = getc(f);
    }
    for (int digits = 0; c >= '0' && c <= '9'; c = getc(f))
      if (++digits > 9) {
        bad = 1;
        goto done;
      }
  }
done:
  rewind(f);
  return bad;
}

unsigned dc_image_max_pixels = DC_IMAGE_MAX_PIXELS;

/* Why stb_image 2.27 must not see f if it is a JPEG, or NULL. Each found by fuzz_image:
 * - a Huffman table (DHT segment) declaring more than 256 codes: stb writes past its
 *   257-entry table, in stbi_info as well as when decoding;
 * - a scan using a Huffman table that no DHT segment defined: stb decodes with its
 *   uninitialised table (an assert in stbi__jpeg_huff_decode, or garbage in a release
 *   build); a quantization table no DQT segment defined is refused alike (stb would
 *   multiply by uninitialised memory: a silently wrong image).
 * Walks the markers (and over entropy-coded data) from the start as stb does: fill bytes
 * before SOI, DHT and DQT segments read table by table while any length is left (even
 * past a short segment). Only the first frame header (SOF) counts. Rewinds f. */
static const char *jpeg_unsafe(FILE *f) {
  const char *bad = NULL;
  unsigned huff = 0, quant = 0; /* bit class * 4 + id of each Huffman table defined; bit id of each DQT table */
  int progressive = 0, ncomp = 0, comp_id[4], comp_q[4];
  int soi = getc(f) == 0xFF ? getc(f) : EOF;
  while (soi == 0xFF) soi = getc(f); /* stb takes fill bytes before SOI too */
  if (soi != 0xD8) goto done;
  for (;;) {
    int c = getc(f);
    if (c == EOF) break;
    if (c != 0xFF) continue; /* entropy-coded data between markers */
    int m;
    do m = getc(f);
    while (m == 0xFF);
    if (m == EOF || m == 0xD9) break;                                 /* end of file or image */
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue; /* stuffed byte, TEM, RSTn: no length */
    int hi = getc(f), lo = getc(f);
    if (hi == EOF || lo == EOF) break;
    long len = hi * 256L + lo - 2;
    if (len < 0) break;
    if (m == 0xC4) {
      while (len > 0) { /* per table: class/id, 16 code counts, the symbols */
        int n = 0, tc = getc(f);
        if (tc == EOF) goto done;
        for (int i = 0; i < 16; i++) {
          int v = getc(f);
          n += v == EOF ? 0 : v; /* stb_image reads 0 past the end and builds the table anyway */
        }
        if (n > 256) {
          bad = "corrupt JPEG (a Huffman table declares more than 256 codes)";
          goto done;
        }
        if (tc >> 4 <= 1 && (tc & 15) <= 3) huff |= 1u << ((tc >> 4) * 4 + (tc & 15));
        if (fseek(f, n, SEEK_CUR) != 0) goto done;
        len -= 17 + n;
      }
    } else if (m == 0xDB) {
      while (len > 0) { /* per table: precision/id, 64 entries of 8 or 16 bits */
        int pt = getc(f);
        if (pt == EOF) goto done;
        if (pt >> 4 <= 1 && (pt & 15) <= 3) quant |= 1u << (pt & 15);
        int n = pt >> 4 ? 128 : 64;
        if (fseek(f, n, SEEK_CUR) != 0) goto done;
        len -= 1 + n;
      }
    } else if (m >= 0xC0 && m <= 0xC2 && ncomp == 0 && len >= 6) { /* the frame: P, Y, X, Nf, components */
      for (int i = 0; i < 5; i++) getc(f);
      int nf = getc(f);
      len -= 6;
      progressive = m == 0xC2;
      for (int i = 0; i < nf && len >= 3; i++, len -= 3) {
        int id = getc(f), hv = getc(f), tq = getc(f);
        if (tq == EOF) goto done;
        (void)hv;
        if (ncomp < 4) comp_id[ncomp] = id, comp_q[ncomp++] = tq;
      }
    } else if (m == 0xDA && len >= 1) { /* a scan: Ns, components (id, DC/AC tables), Ss, Se, Ah/Al */
      int ns = getc(f), id[4], td[4], ta[4], k = 0;
      len--;
      for (int i = 0; i < ns && len >= 2; i++, len -= 2) {
        int cid = getc(f), t = getc(f);
        if (t == EOF) goto done;
        if (k < 4) id[k] = cid, td[k] = t >> 4, ta[k++] = t & 15;
      }
      int ss = getc(f), se = getc(f), a = getc(f);
      if (a == EOF || len < 3) goto done;
      len -= 3;
      (void)se;
      for (int i = 0; i < k; i++) {
        if (td[i] > 3 || ta[i] > 3) continue; /* stb refuses these itself */
        int dc = !progressive || (ss == 0 && a >> 4 == 0), ac = !progressive || ss > 0;
        if ((dc && !(huff >> td[i] & 1)) || (ac && !(huff >> (4 + ta[i]) & 1))) {
          bad = "corrupt JPEG (a scan uses a Huffman table no DHT segment defined)";
          goto done;
        }
        for (int j = 0; j < ncomp; j++)
          if (comp_id[j] == id[i] && comp_q[j] <= 3 && !(quant >> comp_q[j] & 1)) {
            bad = "corrupt JPEG (a scan uses a quantization table no DQT segment defined)";
            goto done;
          }
      }
    }
    if (len > 0 && fseek(f, len, SEEK_CUR) != 0) break;
  }
done:
  rewind(f);
  return bad;
}

/* Why stb_image 2.27 must not see f if it is a PNG, or NULL: a chunk that declares more
 * bytes than the file holds after its header (stb grows its IDAT buffer to the declared
 * length before reading: a 57-byte file declaring a 1.5 GB chunk allocated 1.5 GB), or an
 * empty IDAT chunk before any data (stb offsets its still-NULL buffer: undefined
 * behaviour). Both found by fuzz_image. Walks the chunks (length, type, data, CRC) up
 * to IEND; rewinds f. */
static const char *png_unsafe(FILE *f) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  unsigned char b[8];
  const char *bad = NULL;
  if (fread(b, 1, 8, f) != 8 || memcmp(b, sig, 8) != 0) goto done;
  if (fseek(f, 0, SEEK_END) != 0) goto done;
  long size = ftell(f);
  long at = 8;
  int data = 0; /* an IDAT with bytes seen */
  while (at + 8 <= size) {
    if (fseek(f, at, SEEK_SET) != 0 || fread(b, 1, 8, f) != 8) break;
    uint32_t len = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    if ((uint64_t)len + 4 > (uint64_t)(size - at - 8)) { /* data and CRC past the end */
      bad = "corrupt PNG (a chunk declares more bytes than the file holds)";
      break;
    }
    if (memcmp(b + 4, "IDAT", 4) == 0) {
      if (len == 0 && !data) {
        bad = "corrupt PNG (an empty IDAT chunk before the image data)";
        break;
      }
      data = 1;
    }
    if (memcmp(b + 4, "IEND", 4) == 0) break;
    at += 12 + (long)len;
  }
done:
  rewind(f);
  return bad;
}

/* Why stb_image 2.27 must not see f (one of the files it mishandles, above), or NULL. */
static const char *stb_unsafe(FILE *f) {
  if (pnm_number_overflows(f)) return "corrupt PNM (a header number of more than 9 digits)";
  const char *why = jpeg_unsafe(f);
  return why ? why : png_unsafe(f);
}

/* stb_image's reason for the failed decode, fit for one line, in buf[cap]. For an unknown
 * critical PNG chunk stb 2.27 writes the chunk's 4 type bytes, as the file has them, into
 * its reason ("XXXX PNG chunk not known"): a NUL there leaves the reason empty, a newline
 * or other control byte splits the message (fuzz_image). Bytes outside printable ASCII
 * become '?', an empty reason "unknown error". */
static const char *stb_reason(char *buf, size_t cap) {
  const char *why = stbi_failure_reason();
  return dc_printable(why && why[0] ? why : "unknown error", buf, cap);
}

/* The whole of f in a malloc'ed *buf of *n bytes (DC_ERR_IO with errno set, or DC_ERR_NOMEM). */
static dc_status read_whole(FILE *f, unsigned char **buf, size_t *n) {
  size_t cap = 1 << 16;
  *n = 0;
  if (!(*buf = malloc(cap))) return DC_ERR_NOMEM;
  for (;;) {
    *n += fread(*buf + *n, 1, cap - *n, f);
    if (*n < cap) return ferror(f) ? DC_ERR_IO : DC_OK;
    unsigned char *b = realloc(*buf, cap * 2);
    if (!b) return DC_ERR_NOMEM;
    *buf = b;
    cap *= 2;
  }
}

dc_status dc_image_decode(const char *path, int want, unsigned char **px, int *w, int *h, int *ch) {
  *px = NULL;
  *w = *h = *ch = 0;
  /* twice the largest image's 16-bit RGBA samples: an uncompressed file of an image
   * dc_image_max_pixels allows fits */
  DC_TRY(dc_check_input(path, (unsigned long long)DC_IMAGE_MAX_PIXELS * 8));
  FILE *f = fopen(path, "rb");
  if (!f) {
    char why[600];
    return dc_fail(DC_ERR_IO, "%s: cannot open image: %s", path, dc_open_failure(path, errno, why, sizeof why));
  }
  /* stb reads the file from memory: on a FILE, stb_image 2.27's rewind between its
   * format tests goes back only to the start of its last 128-byte read, so a format
   * test could parse bytes from the middle of the file, which the checks below had
   * not read as it did (fuzz_image: a PNM header 128 bytes into a JPEG) */
  unsigned char *buf = NULL;
  size_t n = 0;
  dc_status st = read_whole(f, &buf, &n);
  fclose(f);
  if (st != DC_OK) {
    free(buf);
    return st == DC_ERR_NOMEM ? dc_fail(st, "%s: out of memory reading the image", path)
                              : dc_fail(st, "%s: cannot read image: %s", path, strerror(errno));
  }
  const char *unsafe = NULL;
  if (n > INT_MAX) unsafe = "file too large";
  FILE *m = unsafe || n == 0 ? NULL : fmemopen(buf, n, "rb"); /* the checks read a FILE */
  if (m) {
    unsafe = stb_unsafe(m);
    fclose(m);
  } else if (!unsafe && n > 0) {
    free(buf);
    return dc_fail(DC_ERR_NOMEM, "%s: out of memory reading the image", path);
  }
  if (unsafe) {
    free(buf);
    return dc_fail(DC_ERR_DATA, "%s: cannot decode image: %s", path, unsafe);
  }
  int iw = 0, ih = 0, ic = 0;
  /* the header first: refuse sizes before allocating */
  if (stbi_info_from_memory(buf, (int)n, &iw, &ih, &ic) &&
      (iw < 1 || ih < 1 || (uint64_t)iw * (uint64_t)ih > dc_image_max_pixels)) {
    free(buf);
    return dc_fail(DC_ERR_DATA, "%s: cannot decode image: %d x %d pixels (at most %u, no side 0)", path, iw, ih,
                   dc_image_max_pixels);
  }
  /* decoded as stored, channels converted here: Debian's stb_image 2.27 converts a 16-bit
   * PNM to the requested channels as if it were 8-bit and then reads past its buffer */
  unsigned char *p = stbi_load_from_memory(buf, (int)n, &iw, &ih, &ic, 0);
  free(buf);
  if (!p) {
    char why[128];
    return dc_fail(DC_ERR_DATA, "%s: cannot decode image: %s", path, stb_reason(why, sizeof why));
  }
  if (iw < 1 || ih < 1 || (uint64_t)iw * (uint64_t)ih > dc_image_max_pixels) { /* the header said otherwise */
    stbi_image_free(p);
    return dc_fail(DC_ERR_DATA, "%s: cannot decode image: %d x %d pixels (at most %u, no side 0)", path, iw, ih,
                   dc_image_max_pixels);
  }
  if (want && want != ic) {
    unsigned char *q = to_channels(p, (size_t)iw * (size_t)ih, ic, want);
    stbi_image_free(p);
    if (!q) return dc_fail(DC_ERR_NOMEM, "%s: out of memory for a %d x %d image", path, iw, ih);
    p = q;
  }
  *px = p;
  *w = iw, *h = ih, *ch = want ? want : ic;
  return DC_OK;
}

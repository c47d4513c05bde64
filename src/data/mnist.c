/* mnist.c — the MNIST dataset kind: reading and validating idx files (plain or
 * gzipped) into uint8 arrays, and turning one sample into floats on demand.
 *
 * idx format (big-endian): a 4-byte magic 0x000008TT0D (TT = 0x08 ubyte, D = number
 * of dims), then D 4-byte dims, then the payload, row-major. We accept exactly
 * idx3 ubyte images (N×rows×cols) and idx1 ubyte labels (N). A file must be exactly
 * header + payload bytes long: a short file is a broken download, a long one is
 * not what we think it is. Labels are bytes, so every label is < 256. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dc/data.h"
#include "util.h"

#define IDX_MAGIC_IMAGES 0x00000803u /* ubyte, 3 dims */
#define IDX_MAGIC_LABELS 0x00000801u /* ubyte, 1 dim */
#define IDX_MAX_SIDE 65536u          /* rows/cols beyond this are surely corrupt */

typedef struct {
  uint8_t *pixels; /* (n, rows, cols), malloc'd */
  uint8_t *labels; /* (n), malloc'd */
  int n, rows, cols;
  float scale;     /* float pixel = uint8 pixel * scale */
} mnist_impl;

static dc_status mnist_get(void *impl, int index, float *x, int *y) {
  const mnist_impl *m = impl;
  size_t hw = (size_t)m->rows * (size_t)m->cols;
  const uint8_t *src = m->pixels + (size_t)index * hw;
  for (size_t i = 0; i < hw; i++) x[i] = (float)src[i] * m->scale;
  *y = m->labels[index];
  return DC_OK;
}

static void mnist_destroy(void *impl) {
  mnist_impl *m = impl;
  if (!m) return;
  free(m->pixels); /* payloads come from malloc/realloc (see idx_payload) */
  free(m->labels);
  dc_free(m);
}

static const dc_dataset_ops mnist_ops = {"mnist", mnist_get, mnist_destroy, 0};

/* ---- reading ------------------------------------------------------------------ */

/* An open idx file. gzread reads plain files transparently, so one path serves both. */
typedef struct {
  const char *path;
  gzFile gz;
  uint64_t pos; /* bytes consumed so far (uncompressed) */
} idx_file;

/* Open path for reading; `hint` (may be NULL) is appended when the file is missing. */
static dc_status idx_open(idx_file *f, const char *path, const char *hint) {
  f->path = path;
  f->pos = 0;
  DC_TRY(dc_check_input(path, 0));
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    int e = errno;
    return dc_fail(DC_ERR_IO, "%s: cannot open: %s%s", path, strerror(e),
                   e == ENOENT && hint ? hint : "");
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(EISDIR));
  }
  f->gz = gzdopen(fd, "rb");
  if (!f->gz) {
    close(fd);
    return dc_fail(DC_ERR_NOMEM, "%s: cannot open: out of memory", path);
  }
  return DC_OK;
}

static void idx_close(idx_file *f) {
  if (f->gz) gzclose(f->gz);
  f->gz = NULL;
}

/* Read up to len bytes; *got is how many arrived (fewer only at end of file). */
static dc_status idx_read(idx_file *f, void *buf, uint64_t len, uint64_t *got) {
  uint8_t *p = buf;
  *got = 0;
  while (*got < len) {
    uint64_t want = len - *got;
    unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
    int r = gzread(f->gz, p + *got, chunk);
    if (r < 0) {
      int zerr = 0;
      const char *msg = gzerror(f->gz, &zerr);
      return dc_fail(DC_ERR_IO, "%s: read error: %s", f->path,
                     zerr == Z_ERRNO ? strerror(errno) : msg);
    }
    if (r == 0) {
      /* A cut-off gzip stream reports end-of-file with a pending error. */
      int zerr = 0;
      const char *msg = gzerror(f->gz, &zerr);
      if (zerr != Z_OK && zerr != Z_STREAM_END)
        return dc_fail(DC_ERR_IO, "%s: read error: %s", f->path, msg);
      break;
    }
    *got += (uint64_t)r;
  }
  f->pos += *got;
  return DC_OK;
}

/* Count the bytes left until end of file (to report truncated/trailing sizes). */
static dc_status idx_rest(idx_file *f, uint64_t *rest) {
  uint8_t scratch[4096];
  uint64_t got = 0;
  *rest = 0;
  do {
    DC_TRY(idx_read(f, scratch, sizeof scratch, &got));
    *rest += got;
  } while (got == sizeof scratch);
  return DC_OK;
}

static uint32_t be32(const uint8_t *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Read and check the magic and `ndims` dims. `what` names the expected content. */
static dc_status idx_header(idx_file *f, uint32_t magic, const char *what, int ndims,
                            uint32_t *dims) {
  uint8_t b[16];
  uint64_t need = 4 + 4 * (uint64_t)ndims, got = 0;
  DC_TRY(idx_read(f, b, 4, &got));
  if (got == 4 && be32(b) != magic)
    return dc_fail(DC_ERR_DATA, "%s: bad magic 0x%08x, expected 0x%08x (%s)", f->path, be32(b),
                   magic, what);
  uint64_t got_dims = 0;
  if (got == 4) DC_TRY(idx_read(f, b + 4, need - 4, &got_dims));
  if (got + got_dims < need)
    return dc_fail(DC_ERR_DATA, "%s: truncated: %s header needs %llu bytes, file has %llu bytes",
                   f->path, what, (unsigned long long)need,
                   (unsigned long long)(got + got_dims));
  for (int i = 0; i < ndims; i++) dims[i] = be32(b + 4 + 4 * i);
  return DC_OK;
}

/* Read exactly `len` payload bytes into a new malloc'd buffer and require end of
 * file after. The buffer grows as data arrives (rather than trusting the header's
 * size up front), so a corrupt header claiming gigabytes fails as "truncated"
 * without a huge allocation. `desc` describes the header, e.g. "60000 images of 28x28". */
static dc_status idx_payload(idx_file *f, uint64_t len, const char *desc, uint8_t **out) {
  *out = NULL;
  uint64_t header = f->pos;
  if (len > SIZE_MAX / 2)
    return dc_fail(DC_ERR_DATA, "%s: header says %s: too large", f->path, desc);
  size_t cap = len < (1u << 20) ? (size_t)len : (1u << 20);
  uint8_t *buf = malloc(cap ? cap : 1);
  if (!buf) return dc_fail(DC_ERR_NOMEM, "%s: out of memory reading %s", f->path, desc);
  uint64_t got = 0, step = 0, rest = 0;
  dc_status s = DC_OK;
  for (;;) {
    s = idx_read(f, buf + got, cap - got, &step);
    got += step;
    if (s != DC_OK || got < cap || got == len) break; /* error, end of file, or done */
    size_t grown = (uint64_t)cap * 2 < len ? cap * 2 : (size_t)len;
    uint8_t *nb = realloc(buf, grown);
    if (!nb) {
      s = dc_fail(DC_ERR_NOMEM, "%s: out of memory reading %s", f->path, desc);
      break;
    }
    buf = nb;
    cap = grown;
  }
  if (s == DC_OK && got < len)
    s = dc_fail(DC_ERR_DATA, "%s: truncated: header says %s (%llu bytes), file has %llu bytes",
                f->path, desc, (unsigned long long)(header + len),
                (unsigned long long)(header + got));
  if (s == DC_OK) s = idx_rest(f, &rest);
  if (s == DC_OK && rest > 0)
    s = dc_fail(DC_ERR_DATA,
                "%s: %llu trailing bytes: header says %s (%llu bytes), file has %llu bytes",
                f->path, (unsigned long long)rest, desc, (unsigned long long)(header + len),
                (unsigned long long)(header + len + rest));
  if (s != DC_OK) {
    free(buf);
    return s;
  }
  *out = buf;
  return DC_OK;
}

static dc_status read_images(const char *path, const char *hint, mnist_impl *m) {
  idx_file f = {0};
  DC_TRY(idx_open(&f, path, hint));
  uint32_t dims[3];
  dc_status s = idx_header(&f, IDX_MAGIC_IMAGES, "idx3 images", 3, dims);
  if (s == DC_OK && (dims[0] < 1 || dims[0] > (uint32_t)INT32_MAX || dims[1] < 1 ||
                     dims[1] > IDX_MAX_SIDE || dims[2] < 1 || dims[2] > IDX_MAX_SIDE))
    s = dc_fail(DC_ERR_DATA, "%s: bad dims: %u images of %ux%u (need >= 1 image, sides 1..%u)",
                path, dims[0], dims[1], dims[2], IDX_MAX_SIDE);
  if (s == DC_OK) {
    char desc[96];
    snprintf(desc, sizeof desc, "%u images of %ux%u", dims[0], dims[1], dims[2]);
    s = idx_payload(&f, (uint64_t)dims[0] * dims[1] * dims[2], desc, &m->pixels);
  }
  idx_close(&f);
  if (s != DC_OK) return s;
  m->n = (int)dims[0];
  m->rows = (int)dims[1];
  m->cols = (int)dims[2];
  return DC_OK;
}

static dc_status read_labels(const char *path, const char *hint, const char *images_path,
                             mnist_impl *m) {
  idx_file f = {0};
  DC_TRY(idx_open(&f, path, hint));
  uint32_t dims[1];
  dc_status s = idx_header(&f, IDX_MAGIC_LABELS, "idx1 labels", 1, dims);
  if (s == DC_OK && dims[0] != (uint32_t)m->n)
    s = dc_fail(DC_ERR_DATA, "%s: header says %u labels but %s has %d images", path, dims[0],
                images_path, m->n);
  if (s == DC_OK) {
    char desc[64];
    snprintf(desc, sizeof desc, "%u labels", dims[0]);
    s = idx_payload(&f, dims[0], desc, &m->labels);
  }
  idx_close(&f);
  return s;
}

/* Shared by both openers; `hint` is appended to cannot-open messages. */
static dc_status open_idx_pair(const char *images_path, const char *labels_path, float scale,
                               const char *hint, dc_dataset **out) {
  DC_ASSERT(images_path && labels_path && out);
  *out = NULL;
  mnist_impl *m = dc_alloc(sizeof *m);
  if (!m) return DC_ERR_NOMEM;
  m->scale = scale;
  dc_status s = read_images(images_path, hint, m);
  if (s == DC_OK) s = read_labels(labels_path, hint, images_path, m);
  if (s != DC_OK) {
    mnist_destroy(m);
    return s;
  }
  int max_label = 0;
  for (int i = 0; i < m->n; i++)
    if (m->labels[i] > max_label) max_label = m->labels[i];
  return dc_dataset_create(&mnist_ops, m, m->n, 1, m->rows, m->cols, max_label + 1, out);
}

dc_status dc_dataset_open_idx(const char *images_path, const char *labels_path, float scale,
                              dc_dataset **out) {
  return open_idx_pair(images_path, labels_path, scale, NULL, out);
}

/* Join dir/name[suffix] into buf; 0 when it fits, -1 when too long. */
static int join(char *buf, size_t size, const char *dir, const char *name, const char *suffix) {
  int k = snprintf(buf, size, "%s/%s%s", dir, name, suffix);
  return (k < 0 || (size_t)k >= size) ? -1 : 0;
}

/* dir/name if it exists, else dir/name.gz if that exists, else dir/name (so the
 * cannot-open message names the canonical file). -1 when the path is too long. */
static int pick_path(char *buf, size_t size, const char *dir, const char *name) {
  struct stat st;
  if (join(buf, size, dir, name, "") != 0) return -1;
  if (stat(buf, &st) == 0) return 0;
  if (join(buf, size, dir, name, ".gz") != 0) return -1;
  if (stat(buf, &st) == 0) return 0;
  return join(buf, size, dir, name, "");
}

dc_status dc_mnist_open(const char *dir, int train, float scale, dc_dataset **out) {
  DC_ASSERT(dir && out);
  *out = NULL;
  const char *split = train ? "train" : "t10k";
  char names[2][64], paths[2][4096];
  snprintf(names[0], sizeof names[0], "%s-images-idx3-ubyte", split);
  snprintf(names[1], sizeof names[1], "%s-labels-idx1-ubyte", split);
  for (int i = 0; i < 2; i++)
    if (pick_path(paths[i], sizeof paths[i], dir, names[i]) != 0)
      return dc_fail(DC_ERR_ARG, "%s: MNIST directory path too long", dir);
  return open_idx_pair(paths[0], paths[1], scale,
                       " (nor .gz; run scripts/fetch-mnist.sh to download MNIST)", out);
}

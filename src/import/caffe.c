/* caffe.c — `dctrain import caffe`: a .caffemodel (Caffe's binary NetParameter protobuf)
 * into dctrain's HDF5 weights layout, checked layer by layer against a net file; see
 * dc/import.h. The protobuf is parsed by libprotobuf-c with the code protoc-c generates
 * from src/import/caffe.proto (the few messages and fields a trained model needs).
 *
 * Memory: the file is mapped, not read (it is only page cache while libprotobuf-c
 * copies the blobs out), then unmapped; the net is built at batch 1 for inference, its
 * parameters filled from the blobs and written with dc_ckpt_save, the writer of
 * checkpoints. Peak for VGG-16: the parsed blobs (553 MB) plus the net's parameter
 * arenas. */
#include "dc/import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caffe.pb-c.h"
#include "dc/ckpt.h"
#include "dc/net.h"

/* A layer of the file that carries blobs (pointers into the parsed message). */
typedef struct {
  const char *name;
  size_t nblobs;
  Caffe__BlobProto **blobs;
  int used; /* matched to a weighted layer of the net */
} file_layer;

int dc_import_caffe_available(void) { return 1; }

/* Map `path` and parse it as a NetParameter into *out (free with
 * caffe__net_parameter__free_unpacked). */
static dc_status parse_model(const char *path, Caffe__NetParameter **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return dc_fail(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    dc_status s = dc_fail(DC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    close(fd);
    return s;
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return dc_fail(DC_ERR_IO, "%s: not a regular file", path);
  }
  if (sb.st_size == 0) {
    close(fd);
    return dc_fail(DC_ERR_FORMAT, "%s: empty file, not a Caffe model", path);
  }
  size_t len = (size_t)sb.st_size;
  void *buf = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (buf == MAP_FAILED) return dc_fail(DC_ERR_IO, "%s: cannot map: %s", path, strerror(err));
  (void)posix_madvise(buf, len, POSIX_MADV_SEQUENTIAL);
  *out = caffe__net_parameter__unpack(NULL, len, buf);
  munmap(buf, len);
  if (!*out)
    return dc_fail(DC_ERR_FORMAT,
                   "%s: not a Caffe model: it does not parse as a NetParameter protobuf (truncated or corrupt)",
                   path);
  if ((*out)->n_layer + (*out)->n_layers == 0) {
    caffe__net_parameter__free_unpacked(*out, NULL);
    *out = NULL;
    return dc_fail(DC_ERR_FORMAT, "%s: not a Caffe model: no layers in it", path);
  }
  return DC_OK;
}

/* Append the layer (name, blobs) to fl unless it has no blobs; a second layer with
 * blobs under the same name is an error. */
static dc_status add_layer(const char *path, const char *what, size_t index, const char *name, size_t nblobs,
                           Caffe__BlobProto **blobs, file_layer *fl, int *n) {
  if (nblobs == 0) return DC_OK;
  if (!name || !*name)
    return dc_fail(DC_ERR_FORMAT, "%s: %s #%zu has %zu blob(s) but no name", path, what, index + 1, nblobs);
  for (int i = 0; i < *n; i++)
    if (strcmp(fl[i].name, name) == 0)
      return dc_fail(DC_ERR_FORMAT, "%s: layer '%s' has blobs twice (as two layers of that name)", path, name);
  fl[(*n)++] = (file_layer){name, nblobs, blobs, 0};
  return DC_OK;
}

/* The layers with blobs of both lists: `layer` (LayerParameter) and `layers`
 * (V1LayerParameter, whose name and blobs may sit in a wrapped V0LayerParameter). */
static dc_status collect_layers(const char *path, const Caffe__NetParameter *np, file_layer **out, int *n) {
  *n = 0;
  *out = calloc(np->n_layer + np->n_layers + 1, sizeof **out);
  if (!*out) return dc_fail(DC_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < np->n_layer; i++) {
    const Caffe__LayerParameter *l = np->layer[i];
    DC_TRY(add_layer(path, "layer", i, l->name, l->n_blobs, l->blobs, *out, n));
  }
  for (size_t i = 0; i < np->n_layers; i++) {
    const Caffe__V1LayerParameter *l = np->layers[i];
    const Caffe__V0LayerParameter *v0 = l->layer;
    const char *name = l->name ? l->name : v0 ? v0->name : NULL;
    if (l->n_blobs) DC_TRY(add_layer(path, "V1 layer", i, name, l->n_blobs, l->blobs, *out, n));
    else if (v0) DC_TRY(add_layer(path, "V0 layer", i, name, v0->n_blobs, v0->blobs, *out, n));
  }
  return DC_OK;
}

/* "20x1x5x5" of n dims. */
static void dims_str(char *buf, size_t cap, const int64_t *d, int n) {
  size_t off = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && off < cap; i++)
    off += (size_t)snprintf(buf + off, cap - off, i ? "x%lld" : "%lld", (long long)d[i]);
  if (n == 0) snprintf(buf, cap, "()");
}

/* Copy blob b into parameter p after checking its shape: BlobShape must equal p's
 * shape; the legacy 4-D (num, channels, height, width) must equal p's shape padded on
 * the left with 1s, as Caffe compares them. `role` is "weight" or "bias". */
static dc_status fill_param(const char *path, const char *net_path, const dc_layer *l, const char *role,
                            const Caffe__BlobProto *b, dc_param *p) {
  int64_t have[8], want[4];
  int nh;
  const char *legacy = "";
  if (b->shape) {
    if (b->shape->n_dim > 8)
      return dc_fail(DC_ERR_FORMAT, "%s: layer '%s' %s has %zu dimensions, expected %d (%s:%d)", path, l->name,
                     role, b->shape->n_dim, p->ndim, net_path, l->line);
    nh = (int)b->shape->n_dim;
    for (int i = 0; i < nh; i++) have[i] = b->shape->dim[i];
  } else if (b->has_num || b->has_channels || b->has_height || b->has_width) {
    nh = 4;
    have[0] = b->num, have[1] = b->channels, have[2] = b->height, have[3] = b->width;
    legacy = " (num x channels x height x width)";
  } else {
    return dc_fail(DC_ERR_FORMAT, "%s: layer '%s' %s blob has no shape", path, l->name, role);
  }
  for (int i = 0; i < p->ndim; i++) want[i] = p->dims[i];
  int same;
  if (*legacy) {
    int64_t padded[4] = {1, 1, 1, 1};
    for (int i = 0; i < p->ndim; i++) padded[4 - p->ndim + i] = p->dims[i];
    same = 1;
    for (int i = 0; i < 4; i++) same &= have[i] == padded[i];
  } else {
    same = nh == p->ndim;
    for (int i = 0; same && i < nh; i++) same = have[i] == want[i];
  }
  if (!same) {
    char hs[128], ws[128];
    dims_str(hs, sizeof hs, have, nh);
    dims_str(ws, sizeof ws, want, p->ndim);
    return dc_fail(DC_ERR_FORMAT, "%s: layer '%s' %s is %s%s, expected %s (%s:%d)", path, l->name, role, hs, legacy,
                   ws, net_path, l->line);
  }
  if (b->n_data == p->count) {
    memcpy(p->data, b->data, p->count * sizeof(float));
  } else if (b->n_data == 0 && b->n_double_data == p->count) {
    for (size_t i = 0; i < p->count; i++) p->data[i] = (float)b->double_data[i];
  } else {
    size_t n = b->n_data ? b->n_data : b->n_double_data;
    return dc_fail(DC_ERR_FORMAT, "%s: layer '%s' %s holds %zu values, its shape needs %zu", path, l->name, role, n,
                   p->count);
  }
  return DC_OK;
}

/* Fill every weighted layer of net from fl, then reject what the net did not use. */
static dc_status match_layers(const char *path, dc_net *net, file_layer *fl, int nfl, size_t *nparams,
                              int *nweighted) {
  const char *net_path = net->path;
  *nparams = 0;
  *nweighted = 0;
  for (int i = 0; i < net->nlayers; i++) {
    const dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    file_layer *f = NULL;
    for (int k = 0; k < nfl && !f; k++)
      if (strcmp(fl[k].name, l->name) == 0) f = &fl[k];
    if (!f)
      return dc_fail(DC_ERR_FORMAT, "%s: layer '%s' of %s:%d is missing from the file", path, l->name, net_path,
                     l->line);
    size_t want = l->bias ? 2 : 1;
    if (f->nblobs != want)
      return dc_fail(DC_ERR_FORMAT, "%s: layer '%s' has %zu blob(s), %s:%d expects %zu (%s)", path, l->name, f->nblobs,
                     net_path, l->line, want, l->bias ? "weight and bias" : "weight only: bias_term = false");
    DC_TRY(fill_param(path, net_path, l, "weight", f->blobs[0], l->weight));
    if (l->bias) DC_TRY(fill_param(path, net_path, l, "bias", f->blobs[1], l->bias));
    f->used = 1;
    *nparams += l->weight->count + (l->bias ? l->bias->count : 0);
    ++*nweighted;
  }
  for (int k = 0; k < nfl; k++) {
    if (fl[k].used) continue;
    dc_layer *l = dc_net_find_layer(net, fl[k].name);
    if (l)
      return dc_fail(DC_ERR_FORMAT, "%s: layer '%s' has %zu blob(s) but '%s' in %s:%d has no weights", path,
                     fl[k].name, fl[k].nblobs, l->name, net_path, l->line);
    return dc_fail(DC_ERR_FORMAT, "%s: layer '%s' has %zu blob(s) but %s has no weighted layer of that name", path,
                   fl[k].name, fl[k].nblobs, net_path);
  }
  return DC_OK;
}

dc_status dc_import_caffe(const char *caffemodel, const char *net_path, const char *out_h5, FILE *out) {
  DC_ASSERT(caffemodel && net_path && out_h5);
  dc_net *net = NULL;
  DC_TRY(dc_net_load(net_path, 1, 0, NULL, &net));
  Caffe__NetParameter *np = NULL;
  file_layer *fl = NULL;
  int nfl = 0, nweighted = 0;
  size_t nparams = 0;
  dc_status s = parse_model(caffemodel, &np);
  if (s == DC_OK) s = collect_layers(caffemodel, np, &fl, &nfl);
  if (s == DC_OK) s = match_layers(caffemodel, net, fl, nfl, &nparams, &nweighted);
  const char *format = np && np->n_layer ? (np->n_layers ? "layer + V1 layers" : "layer") : "V1 layers";
  size_t nlayers = np ? np->n_layer + np->n_layers : 0;
  free(fl);
  /* the blobs are copied: release them before writing */
  if (np) caffe__net_parameter__free_unpacked(np, NULL);
  if (s == DC_OK) s = dc_ckpt_save(out_h5, net->params, NULL);
  if (s == DC_OK && out)
    fprintf(out, "%s (%s format, %zu layers): %d weighted layers, %zu parameters checked against %s -> %s\n",
            caffemodel, format, nlayers, nweighted, nparams, net_path, out_h5);
  dc_net_free(net);
  return s;
}

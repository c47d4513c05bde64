/* caffe_write.c — test-only .caffemodel writer through libprotobuf-c; see caffe_write.h. */
#include "caffe_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caffe.pb-c.h"

/* Streams the packed message into a FILE instead of one big buffer. */
typedef struct {
  ProtobufCBuffer base;
  FILE *f;
  int err;
} file_buffer;

static void file_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
  file_buffer *fb = (file_buffer *)b;
  if (!fb->err && len && fwrite(data, 1, len, fb->f) != len) fb->err = 1;
}

/* The V1 LayerType number of a type string (Caffe's enum), 0 (NONE) when unknown. */
static int v1_type(const char *t) {
  static const struct {
    const char *name;
    int v1;
  } map[] = {{"Data", 5},    {"Convolution", 4}, {"InnerProduct", 14},   {"ReLU", 18},
             {"Pooling", 17}, {"LRN", 15},        {"Dropout", 6},         {"SoftmaxWithLoss", 21}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(map[i].name, t)) return map[i].v1;
  return 0;
}

/* Fill blob messages for layer l into blobs[] (shape/data storage in the side arrays). */
static void make_blobs(const tc_layer *l, int flags, Caffe__BlobProto *blobs, Caffe__BlobProto **ptrs,
                       Caffe__BlobShape *shapes, double **dbl) {
  for (int b = 0; b < l->nblobs; b++) {
    Caffe__BlobProto *bp = &blobs[b];
    caffe__blob_proto__init(bp);
    ptrs[b] = bp;
    if (flags & TC_LEGACY_SHAPE) {
      int64_t d[4] = {1, 1, 1, 1};
      for (int i = 0; i < l->ndim[b] && i < 4; i++) d[4 - l->ndim[b] + i] = l->dims[b][i];
      bp->has_num = bp->has_channels = bp->has_height = bp->has_width = 1;
      bp->num = (int32_t)d[0], bp->channels = (int32_t)d[1], bp->height = (int32_t)d[2], bp->width = (int32_t)d[3];
    } else {
      caffe__blob_shape__init(&shapes[b]);
      shapes[b].n_dim = (size_t)l->ndim[b];
      shapes[b].dim = (int64_t *)l->dims[b];
      bp->shape = &shapes[b];
    }
    if (flags & TC_DOUBLE) {
      dbl[b] = malloc(sizeof(double) * (l->count[b] ? l->count[b] : 1));
      for (size_t i = 0; i < l->count[b]; i++) dbl[b][i] = l->data[b][i];
      bp->n_double_data = l->count[b];
      bp->double_data = dbl[b];
    } else {
      bp->n_data = l->count[b];
      bp->data = (float *)l->data[b];
    }
  }
}

int tc_write_caffemodel(const char *path, const char *netname, const tc_layer *layers, int n, tc_format fmt,
                        int flags) {
  size_t nn = (size_t)(n > 0 ? n : 1);
  Caffe__NetParameter np;
  caffe__net_parameter__init(&np);
  np.name = (char *)netname;
  Caffe__LayerParameter *lp = calloc(nn, sizeof *lp), **lpp = calloc(nn, sizeof *lpp);
  Caffe__V1LayerParameter *v1 = calloc(nn, sizeof *v1), **v1p = calloc(nn, sizeof *v1p);
  Caffe__V0LayerParameter *v0 = calloc(nn, sizeof *v0);
  Caffe__BlobProto *blobs = calloc(nn * TC_MAX_BLOBS, sizeof *blobs), **bptr = calloc(nn * TC_MAX_BLOBS, sizeof *bptr);
  Caffe__BlobShape *shapes = calloc(nn * TC_MAX_BLOBS, sizeof *shapes);
  double **dbl = calloc(nn * TC_MAX_BLOBS, sizeof *dbl);
  if (!lp || !lpp || !v1 || !v1p || !v0 || !blobs || !bptr || !shapes || !dbl) {
    fprintf(stderr, "%s: out of memory\n", path);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    const tc_layer *l = &layers[i];
    Caffe__BlobProto **bp = bptr + (size_t)i * TC_MAX_BLOBS;
    make_blobs(l, flags, blobs + (size_t)i * TC_MAX_BLOBS, bp, shapes + (size_t)i * TC_MAX_BLOBS,
               dbl + (size_t)i * TC_MAX_BLOBS);
    if (fmt == TC_LAYER) {
      caffe__layer_parameter__init(&lp[i]);
      lp[i].name = (char *)l->name;
      lp[i].type = (char *)l->type;
      lp[i].n_blobs = (size_t)l->nblobs;
      lp[i].blobs = bp;
      lpp[i] = &lp[i];
    } else {
      caffe__v1_layer_parameter__init(&v1[i]);
      v1p[i] = &v1[i];
      if (fmt == TC_V1) {
        v1[i].name = (char *)l->name;
        v1[i].has_type = 1;
        v1[i].type = v1_type(l->type);
        v1[i].n_blobs = (size_t)l->nblobs;
        v1[i].blobs = bp;
      } else {
        caffe__v0_layer_parameter__init(&v0[i]);
        v0[i].name = (char *)l->name;
        v0[i].type = (char *)l->type;
        v0[i].n_blobs = (size_t)l->nblobs;
        v0[i].blobs = bp;
        v1[i].layer = &v0[i];
      }
    }
  }
  if (fmt == TC_LAYER) {
    np.n_layer = (size_t)n;
    np.layer = lpp;
  } else {
    np.n_layers = (size_t)n;
    np.layers = v1p;
  }
  int rc = 0;
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    rc = -1;
  } else {
    file_buffer fb = {{file_append}, f, 0};
    caffe__net_parameter__pack_to_buffer(&np, &fb.base);
    if (fclose(f) != 0 || fb.err) {
      fprintf(stderr, "%s: write failed\n", path);
      rc = -1;
    }
  }
  for (size_t i = 0; i < nn * TC_MAX_BLOBS; i++) free(dbl[i]);
  free(lp), free(lpp), free(v1), free(v1p), free(v0), free(blobs), free(bptr), free(shapes), free(dbl);
  return rc;
}

static const char *caffe_type(dc_layer_type t) {
  switch (t) {
    case DC_LAYER_CONV: return "Convolution";
    case DC_LAYER_FC: return "InnerProduct";
    case DC_LAYER_MAXPOOL:
    case DC_LAYER_AVGPOOL: return "Pooling";
    case DC_LAYER_RELU: return "ReLU";
    case DC_LAYER_LRN: return "LRN";
    case DC_LAYER_DROPOUT: return "Dropout";
    case DC_LAYER_SOFTMAX_LOSS: return "SoftmaxWithLoss";
    default: return "Unknown";
  }
}

static void set_blob(tc_layer *l, int b, const dc_param *p) {
  l->ndim[b] = p->ndim;
  for (int i = 0; i < p->ndim; i++) l->dims[b][i] = p->dims[i];
  l->data[b] = p->data;
  l->count[b] = p->count;
}

tc_layer *tc_layers_of_net(const dc_net *net, int *n) {
  tc_layer *ls = calloc((size_t)net->nlayers + 1, sizeof *ls);
  if (!ls) return NULL;
  ls[0].name = "data";
  ls[0].type = "Data";
  for (int i = 0; i < net->nlayers; i++) {
    const dc_layer *dl = &net->layers[i];
    tc_layer *l = &ls[i + 1];
    l->name = dl->name;
    l->type = caffe_type(dl->type);
    if (dl->weight) set_blob(l, l->nblobs++, dl->weight);
    if (dl->bias) set_blob(l, l->nblobs++, dl->bias);
  }
  *n = net->nlayers + 1;
  return ls;
}

/* caffe_write.h — test-only: write .caffemodel files through libprotobuf-c (the code
 * protoc-c generates from src/import/caffe.proto), in the current `layer` format or the
 * old V1 `layers` format (optionally wrapping V0 layers), with BlobShape shapes or the
 * legacy num/channels/height/width ones, from float or double data. The import tests
 * use it to make models of known content, and broken ones. */
#ifndef DC_TEST_CAFFE_WRITE_H
#define DC_TEST_CAFFE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "dc/net.h"

enum { TC_MAX_BLOBS = 3 };

/* One layer to write. Blob b has shape dims[b][0..ndim[b]) and count[b] values from
 * data[b] (count may differ from the shape's product, to make a broken file). */
typedef struct {
  const char *name;
  const char *type; /* Caffe's type string: "Convolution", "InnerProduct", "ReLU", ... */
  int nblobs;
  int ndim[TC_MAX_BLOBS];
  int64_t dims[TC_MAX_BLOBS][8];
  const float *data[TC_MAX_BLOBS];
  size_t count[TC_MAX_BLOBS];
} tc_layer;

typedef enum {
  TC_LAYER, /* NetParameter.layer (LayerParameter), today's format */
  TC_V1,    /* NetParameter.layers (V1LayerParameter): bvlc_alexnet.caffemodel, VGG's */
  TC_V0     /* NetParameter.layers, each wrapping a V0LayerParameter with name and blobs */
} tc_format;

enum {
  TC_LEGACY_SHAPE = 1, /* shapes as 4-D num/channels/height/width padded on the left with 1s */
  TC_DOUBLE = 2        /* data as double_data */
};

/* Write layers[0..n) to path as a NetParameter named netname in format fmt with
 * TC_* flags. Returns 0, or -1 after printing the reason to stderr. */
int tc_write_caffemodel(const char *path, const char *netname, const tc_layer *layers, int n, tc_format fmt,
                        int flags);

/* A "data" layer, then one layer per layer of net (weighted ones with their weight and
 * bias data and shapes, the others without blobs, named as in the net), as a real
 * model file holds them. *n gets the count; the array is the caller's to free (its
 * pointers point into net). */
tc_layer *tc_layers_of_net(const dc_net *net, int *n);

#endif

/* dc/import.h — bringing weights trained elsewhere into dctrain's HDF5 layout.
 *
 * dc_import_caffe reads a Caffe .caffemodel (a binary NetParameter protobuf, read with
 * libprotobuf-c) and writes its blobs as /params/<layer>/weight and /params/<layer>/bias
 * (float32, plus /meta/format), the layout of checkpoints and `dctrain export`, so
 * `weights =`, --weights and `dctrain eval` take the result. (PyTorch/torchvision
 * state_dicts go through scripts/import_torchvision.py, which writes the same layout.) */
#ifndef DC_IMPORT_H
#define DC_IMPORT_H

#include <stdio.h>

#include "dc/error.h"

/* 1 when this build can read .caffemodel files (built with libprotobuf-c), else 0. */
int dc_import_caffe_available(void);

/* Read the Caffe model at `caffemodel`, match its blobs by layer name to the weighted
 * layers of the net file `net_path` and write them to `out_h5` atomically (OUT.h5.tmp,
 * renamed when complete; on failure an existing OUT.h5 is untouched).
 *
 * Both layer lists of NetParameter are read: the current `layer` (LayerParameter) and
 * the old `layers` (V1LayerParameter, also when it wraps a V0 layer). A blob's shape is
 * its BlobShape, else the legacy (num, channels, height, width), which matches a
 * dctrain shape padded on the left with 1s (old files store an fc weight as
 * 1x1xOxI). Blob 0 is the weight, blob 1 the bias; float data or double_data.
 * Layers without blobs (data, relu, pooling, loss...) are ignored.
 *
 * Every check fails with DC_ERR_FORMAT and one line naming the file and the layer:
 * a weighted layer of the net that the file lacks, a layer with blobs in the file that
 * is not a weighted layer of the net, a layer given twice, a wrong number of blobs, a
 * blob of the wrong shape ("... weight is 4096x9000, expected 4096x9216 ..."), a blob
 * whose data does not fill its shape, and a file that does not parse as a NetParameter
 * (truncated or not a .caffemodel). DC_ERR_IO when a file cannot be read or written;
 * DC_ERR_CFG etc. from the net file. Without libprotobuf-c: DC_ERR_ARG saying so.
 * out (may be NULL): one summary line. */
dc_status dc_import_caffe(const char *caffemodel, const char *net_path, const char *out_h5, FILE *out);

#endif

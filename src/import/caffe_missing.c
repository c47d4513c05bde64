/* caffe_missing.c — dc_import_caffe in a build without libprotobuf-c (cmake found no
 * libprotobuf-c or protoc-c, or -DDC_PROTOBUF_C=OFF): it says so. See dc/import.h. */
#include "dc/import.h"

int dc_import_caffe_available(void) { return 0; }

dc_status dc_import_caffe(const char *caffemodel, const char *net_path, const char *out_h5, FILE *out) {
  (void)net_path;
  (void)out_h5;
  (void)out;
  return dc_fail(DC_ERR_ARG,
                 "%s: this dctrain was built without protobuf-c and cannot read .caffemodel files "
                 "(install libprotobuf-c-dev and protobuf-c-compiler, then rebuild)",
                 caffemodel);
}

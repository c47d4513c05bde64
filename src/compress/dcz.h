/* compress/dcz.h — what the .dcz writer offers besides the public API (dc/compress.h):
 * writing an older format version, for the tests of the readers of that version. */
#ifndef DC_COMPRESS_DCZ_H
#define DC_COMPRESS_DCZ_H

#include "dc/compress.h"

/* dc_dcz_write_model in format `version`: 3 (u64 lengths and fixed-width fields,
 * fp32 codebook keys, zlib texts; codebook_bits is ignored) or DC_DCZ_VERSION. */
dc_status dc_dcz_write_version(const char *path, const dc_dcz_model *model, const dc_dcz_layer *layers, int n,
                               dc_dcz_stats *stats, int version);

#endif

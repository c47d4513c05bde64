/* data/decode.h — private: the one place image files are decoded (stb_image), for the
 * image-folder loader (data/imagefolder.c) and the inference engine (infer/engine.c),
 * with the checks stb_image leaves to its caller. */
#ifndef DC_DATA_DECODE_H
#define DC_DATA_DECODE_H

#include <stddef.h>

#include "dc/error.h"

/* Images larger than this are refused before decoding (8192 x 4096; the largest
 * ImageNet photos are about a third of it): a small file must not make the decoder
 * allocate gigabytes. */
#define DC_IMAGE_MAX_PIXELS (1u << 25)

/* The limit dc_image_decode applies: DC_IMAGE_MAX_PIXELS unless lowered (the image fuzz
 * target lowers it: 2^25 pixels from a tiny file take over libFuzzer's 10 s to decode
 * under the sanitizers; the code paths are the same). */
extern unsigned dc_image_max_pixels;

/* Decode the image file at path into *px (h × w × *ch bytes, released with free();
 * *ch = the file's channel count when want is 0, else want, 1..4). Fails, *px NULL:
 * DC_ERR_IO when path is not a regular file or cannot be opened, DC_ERR_DATA
 * "PATH: cannot decode image: REASON" for a file stb_image rejects, a side of 0 pixels
 * (which some of its decoders return) or more than dc_image_max_pixels pixels. */
dc_status dc_image_decode(const char *path, int want, unsigned char **px, int *w, int *h, int *ch);

/* Why path cannot be opened (errno err), written into buf: strerror, or "dangling
 * symlink to 'TARGET'". Returns buf. */
const char *dc_open_failure(const char *path, int err, char *buf, size_t cap);

#endif

/* infer/image.h — private: an 8-bit image into a model's input floats, as the model
 * section (dc_dcz_model) says. */
#ifndef DC_INFER_IMAGE_H
#define DC_INFER_IMAGE_H

#include "dc/compress.h"
#include "dc/error.h"

/* Channels the model's colour gives (gray 1, BGR/RGB 3). */
int dc_color_channels(dc_color c);

/* px (h, w, ch) bytes, ch 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA -> x (C, H, W):
 * converted to m->color (gray from RGB: (299 R + 587 G + 114 B) / 1000 rounded; gray to
 * colour: replicated; alpha dropped), resized bilinearly (OpenCV INTER_LINEAR geometry,
 * like the image-folder loader) to m->resize square then centre-cropped to W x H, or
 * straight to W x H when m->resize is 0, then x = (pixel - mean[c]) * scale. C must be
 * the colour's channel count. DC_ERR_ARG (naming `what`) on bad sizes or a crop larger
 * than the resized image; DC_ERR_NOMEM. */
dc_status dc_image_to_input(const unsigned char *px, int w, int h, int ch, const dc_dcz_model *m, int C, int H,
                            int W, float *x, const char *what);

#endif

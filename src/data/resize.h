/* data/resize.h — private: the one bilinear resize of 8-bit images that the training
 * loader (data/imagefolder.c) and the inference engine (infer/image.c) share, so a model
 * sees at inference exactly the pixels its training data set fed it. */
#ifndef DC_DATA_RESIZE_H
#define DC_DATA_RESIZE_H

#include "dc/error.h"

/* Resize src (sh × sw × ch bytes, interleaved channels) bilinearly to a virtual
 * dh × dw image and write only its oh × ow window at (oy, ox) into dst (oh × ow × ch
 * bytes): a crop never pays for the pixels it drops. Geometry: pixel centres at +0.5
 * (like OpenCV), edges clamped, 11-bit fixed-point weights, rounded. The window must lie
 * inside dh × dw. DC_ERR_NOMEM (no message recorded: the caller names what it resized). */
dc_status dc_resize_window(const unsigned char *src, int sw, int sh, int ch, int dw, int dh, int oy, int ox, int ow,
                           int oh, unsigned char *dst);

#endif

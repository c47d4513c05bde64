/* plot/layer.h — private: one weighted layer's weights as the plots need them, read
 * from any file dctrain writes: HDF5 weights (a stage's NAME.h5, a checkpoint, an
 * export, an import) or a .dcz compressed model. */
#ifndef DC_PLOT_LAYER_H
#define DC_PLOT_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "dc/error.h"

typedef struct {
  char name[64];
  int ndim, dims[4]; /* the stored weight shape: fc (O, I), conv (O, I/g, K, K) */
  size_t count;      /* product of dims */
  float *w;          /* (count) the values the forward pass uses; pruned ones 0 */
  uint8_t *mask;     /* (count) 1 kept / 0 pruned; NULL when the file stores none */
  int k;             /* codebook size; 0 when the layer is not shared */
  float codebook[256];
  uint8_t *index;    /* (count) codebook index of each weight when k > 0, else NULL */
  int gap_bits;      /* .dcz only: bits per relative index; else 0 */
  int dcz;           /* read from a .dcz */
} pl_layer;

/* Read layer `layer` of the file at path (by content: HDF5 or .dcz) into *out (release
 * with pl_layer_free). A layer the file lacks is DC_ERR_ARG naming the file and the
 * layers it has, with a did-you-mean hint. */
dc_status pl_layer_read(const char *path, const char *layer, pl_layer *out);
void pl_layer_free(pl_layer *l);

/* Whether weight i is kept: the mask when there is one, else w[i] != 0. */
static inline int pl_kept(const pl_layer *l, size_t i) { return l->mask ? l->mask[i] != 0 : l->w[i] != 0.0f; }

/* The file's last two path components ("runs/lab4/quantize.h5" -> "lab4/quantize.h5"),
 * for legends and titles, into buf. */
void pl_short_name(const char *path, char *buf, size_t cap);

#endif

/* infer/spfc.h — private: a fully connected layer kept compressed in memory, and the
 * kernels that multiply by it without decoding it.
 *
 * In memory a layer is its codebook plus, per kept weight, a 16-bit input column and
 * an 8-bit codebook index in compressed sparse rows (CSR): 3 bytes per kept weight
 * instead of 4 per weight (AlexNet fc6 at 9% kept: 10.2 MB instead of 151 MB).
 *
 *   y[n][o] = bias[o] + sum over kept (o, c) of codebook[index(o, c)] * x[n][c]
 *
 * This form won a measurement (bench_infer format; README "Running compressed models")
 * over grouping each row's kept weights by centroid (2.2 bytes per kept weight, one
 * multiply per group): with the paper's densities a row holds only 5 to 30 weights per
 * centroid, and the per-group loop exits cost more than the multiplies they save
 * (AlexNet fc7 2.5x slower, fc6 equal). Columns are 16 bits, so a layer has at most
 * 65535 inputs (VGG-16 fc6 has 25088).
 *
 * Rows are split over the OpenMP threads in contiguous ranges holding about the same
 * number of kept weights. At batch 1 each row is a sparse dot product; at batch N the
 * input is first transposed to (I, N) so each kept weight multiplies a contiguous run
 * of samples held in registers (blocks of 8 up to 64 samples). */
#ifndef DC_INFER_SPFC_H
#define DC_INFER_SPFC_H

#include <stddef.h>
#include <stdint.h>

#include "dc/error.h"

#define DC_SPFC_MAX_IN 65535

typedef struct {
  int out, in;          /* O rows (outputs), I columns (inputs) */
  int bits;             /* codebook of 1 << bits entries */
  float codebook[256];
  size_t nnz;           /* kept weights */
  uint32_t *row_start;  /* (O + 1) row o holds kept weights row_start[o] .. row_start[o+1]-1 */
  uint16_t *col;        /* (nnz) input column of each kept weight, ascending within a row */
  uint8_t *idx;         /* (nnz) codebook index of each kept weight */
  float *bias;          /* (O) zeros when the layer has none */
  int nsplit;           /* thread ranges below */
  int *split;           /* (nsplit + 1) row boundaries balanced by kept weights */
  float *scratch;       /* transposed input and output for batches > 1 */
  size_t scratch_floats;
} dc_spfc;

/* Build from a decoded layer: weight (O, I) row-major given as mask[O*I] (1 kept),
 * index[O*I] (codebook index where kept), codebook[1 << bits]; bias[O] or NULL. The
 * rows are split for `threads` threads. DC_ERR_ARG when I > DC_SPFC_MAX_IN, bits
 * outside 1..8 or more than 2^32-1 kept weights; DC_ERR_NOMEM. On success *f owns
 * its arrays (release with dc_spfc_free). */
dc_status dc_spfc_build(dc_spfc *f, int out, int in, int bits, const float *codebook, const uint8_t *mask,
                        const uint8_t *index, const float *bias, int threads);
void dc_spfc_free(dc_spfc *f);

/* Bytes the compressed layer holds (row offsets, columns, indices, codebook, bias). */
size_t dc_spfc_bytes(const dc_spfc *f);

/* y (n, O) = x (n, I) times the layer, plus bias; x and y plain row-major, n >= 1.
 * Runs on the OpenMP threads (as many as the split was made for). DC_ERR_NOMEM when
 * the scratch for a larger batch cannot be grown. */
dc_status dc_spfc_forward(dc_spfc *f, const float *x, int n, float *y);

#endif

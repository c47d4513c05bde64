/* dc/commands.h — what the dctrain subcommands do besides training, as library calls:
 *   eval         accuracy of a .dcz model (or HDF5 weights) on an experiment's test set
 *   info         the per-layer size table of a .dcz file
 *   export       a .dcz file as dense fp32 HDF5 weights (checkpoint layout)
 *   sensitivity  prune one layer at a time at several densities and test (Han et al.
 *                2015, Fig. 5): a table, OUTPUT/sensitivity.csv and OUTPUT/sensitivity.png;
 *                or quantize one layer at a time at several bit widths (--bits):
 *                OUTPUT/sensitivity-bits.csv and .png
 * plus the small pieces they are made of (model loading by content, a line plot).
 * Like the rest of the library these return a dc_status with the reason recorded by
 * dc_fail() and never exit; they print only to the FILE *out they are given (may be
 * NULL). src/main.c parses the command line and calls them. */
#ifndef DC_COMMANDS_H
#define DC_COMMANDS_H

#include <stdio.h>

#include "dc/error.h"
#include "dc/experiment.h"
#include "dc/net.h"
#include "dc/train.h"

/* *is_hdf5 = 1 when the file at path starts with the HDF5 signature "\x89HDF\r\n\x1a\n"
 * (a file shorter than 8 bytes is not HDF5). DC_ERR_IO "PATH: cannot open: ..." when it
 * cannot be read. */
dc_status dc_file_is_hdf5(const char *path, int *is_hdf5);

/* Load a model into net's parameters, choosing by content: an HDF5 file is read as
 * weights (dc_ckpt_load without solver state: train.h5, prune1.h5, export output, a
 * checkpoint; masks and codebooks it holds come along), anything else as a .dcz
 * (dc_model_decode, weights become SHARED). Names and shapes must match the net, else
 * DC_ERR_FORMAT naming the file. On failure the parameters may be partly overwritten. */
dc_status dc_load_model(const char *path, dc_net *net);

/* dctrain eval: build e's net for e->test_batch, load `model` into it (dc_load_model),
 * and test it on e's test set exactly as the training stages do (dc_test with e's
 * test_limit, test_batch and test_iters, on e->threads oneDNN threads), so a model.dcz
 * scores exactly what its quantize stage reported when run with the same thread count.
 * *r gets top-1/top-5 (fractions), the mean loss and the number of images; out (may be
 * NULL) one line with them. */
dc_status dc_cmd_eval(const dc_experiment *e, const char *model, FILE *out, dc_test_result *r);

/* dctrain info: read the .dcz at path (fully validated) and print its per-layer table
 * (dc_report_print_dcz) to out. */
dc_status dc_cmd_info(const char *path, FILE *out);

/* dctrain encode: the encode stage of e alone (dc_stage_encode: bias precision and gap
 * widths from e's [encode], write, decode and check weights and test accuracy) on the
 * quantized weights at `weights` (NULL: OUTPUT/quantize.h5) into `dcz` (NULL:
 * OUTPUT/model.dcz); out (may be NULL) gets the stage's lines and the size tables. */
dc_status dc_cmd_encode(const dc_experiment *e, const char *weights, const char *dcz, FILE *out);

/* dctrain export: decode the .dcz at `dcz` into dense fp32 weights, no net file needed:
 * /params/<layer>/weight (the stored shape; pruned weights 0, kept ones their centroid,
 * exactly the values a decoded net computes with), /params/<layer>/bias when the layer
 * has one, /meta/format as in checkpoints — so `weights =`, --weights and eval read it
 * back. Written atomically (dc_h5). out (may be NULL): one summary line. */
dc_status dc_cmd_export(const char *dcz, const char *h5, FILE *out);

#define DC_MAX_DENSITIES 64

/* Parse a comma-separated list of densities in percent ("100,90,50,5"), each a number
 * in [0, 100], into pct[0..*n), at most max of them. DC_ERR_ARG with a one-line reason
 * ("--densities: '1x0' is not a number in [0, 100]") on anything else, an empty list or
 * more than max entries. */
dc_status dc_parse_densities(const char *text, double *pct, int max, int *n);

/* The default sweep: 100, 90, ..., 10, 5 percent. */
extern const double dc_default_densities[11];

/* Parse a comma-separated list of bit widths ("8,6,4,2"), each a whole number in 1..8,
 * or "all" (8, 7, ..., 1), into bits[0..*n), at most max. DC_ERR_ARG with a one-line
 * reason ("--bits: '9' is not a whole number of bits in 1..8") otherwise. */
dc_status dc_parse_bits(const char *text, int *bits, int max, int *n);

typedef enum { DC_SENS_PRUNE = 0, DC_SENS_QUANTIZE } dc_sens_kind;

/* What dc_cmd_sensitivity (kind PRUNE) or dc_cmd_sensitivity_bits (QUANTIZE) measured. */
typedef struct {
  int ndensities, nlayers;          /* rows (densities or bit widths), columns */
  double density[DC_MAX_DENSITIES]; /* the rows in the order asked: PRUNE percent kept, QUANTIZE bits */
  char (*layer)[64];                /* (nlayers) weighted layers, net order */
  double *top1, *top5;              /* (ndensities x nlayers) fractions; [d * nlayers + l] */
  dc_test_result dense;             /* the net as loaded */
  dc_sens_kind kind;
} dc_sensitivity;

/* dctrain sensitivity: load trained weights into e's net (`weights`, else
 * OUTPUT/train.h5 when it exists, else [experiment] weights; none of them:
 * DC_ERR_ARG), then for every weighted layer alone and every density pct[i] (percent of
 * the layer's weights kept) prune that layer by magnitude (dc_prune_density), test
 * (as dc_cmd_eval) and restore it. Prints the table (rows densities, columns layers,
 * top-1 %) and a progress line with ETA per layer to out (may be NULL); writes
 * OUTPUT/sensitivity.csv (density and top-1 as fractions) and OUTPUT/sensitivity.png
 * (dc_plot_png), creating OUTPUT when needed. res (may be NULL) gets the numbers;
 * release with dc_sensitivity_free (on failure it is left empty). 1 <= n <=
 * DC_MAX_DENSITIES and every pct[i] in [0, 100], else DC_ERR_ARG. */
dc_status dc_cmd_sensitivity(const dc_experiment *e, const char *weights, const double *pct, int n, FILE *out,
                             dc_sensitivity *res);

/* dctrain sensitivity --bits: as dc_cmd_sensitivity, but every trial quantizes the
 * layer alone to bits[i] bits (dc_quantize: k-means over its kept weights with the
 * experiment's [quantize] init and the seed its quantize stage uses, no retraining)
 * instead of pruning it. The table's rows are bit widths; writes
 * OUTPUT/sensitivity-bits.csv (bits, top-1 as fractions) and OUTPUT/sensitivity-bits.png.
 * res->density[] holds the bit widths. 1 <= n <= DC_MAX_DENSITIES and every bits[i] in
 * 1..8, else DC_ERR_ARG. */
dc_status dc_cmd_sensitivity_bits(const dc_experiment *e, const char *weights, const int *bits, int n, FILE *out,
                                  dc_sensitivity *res);

/* Which trained weights sensitivity and plan read: `weights` when given, else
 * OUTPUT/train.h5 when it exists, else [experiment] weights, else DC_ERR_ARG naming the
 * experiment. The path goes into path[cap]. */
dc_status dc_pick_weights(const dc_experiment *e, const char *weights, char *path, size_t cap);

/* Release res->layer, top1, top5 and zero *res. NULL is fine. */
void dc_sensitivity_free(dc_sensitivity *res);


#endif

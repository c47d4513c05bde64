/* dc/plot.h — plots as PNG files: the line plot of the sensitivity analysis, and the
 * pictures of `dctrain plot` that show what training and each compression step did
 * (training curves, weight histograms with codebooks, the kept-connection image of a
 * first fc layer, the symbol statistics Huffman coding sees, accuracy against size).
 *
 * Every function writes an 8-bit RGB PNG atomically to `out` (OUT.tmp, renamed), text
 * in stb_easy_font's bitmap font (non-ASCII prints as '?'). `title` (may be NULL: a
 * default naming what is drawn) replaces the title line. Bad input is a one-line
 * failure naming the file (and line or layer): a missing or unreadable file, a file of
 * the wrong kind, a layer the file lacks (with the layers it has and a did-you-mean
 * hint), an empty log. */
#ifndef DC_PLOT_H
#define DC_PLOT_H

#include "dc/error.h"

/* A line plot: one coloured line with point markers per series (ten colours, then the
 * same ones dashed), x and y axes with tick labels and a light grid, the axis labels, a
 * title and a legend. x[nx] are the abscissae (any order: each series is drawn in
 * ascending x); y[s * nx + i] the value of series s at x[i]; names[nseries] the legend
 * entries. Axis ranges come from the data, widened to round tick steps. 1 <= nx,
 * 1 <= nseries and finite values, else DC_ERR_ARG; DC_ERR_IO when the file cannot be
 * written. */
dc_status dc_plot_png(const char *path, const char *title, const char *xlabel, const char *ylabel, const double *x,
                      int nx, const double *y, int nseries, const char *const *names);

/* Training curves of 1..10 runs from their log.csv files: above, the training loss
 * (log scale) against the iteration counted over all stages; below, the test top-1.
 * Dashed vertical lines mark where each stage starts (named when one log is drawn).
 * A log without a single progress or test line is DC_ERR_FORMAT. */
dc_status dc_plot_curves(const char *out, const char *const *logs, int nlogs, const char *title);

/* Histogram (`bins`, 5..1000) of the kept weights of `layer` in `weights` (HDF5
 * weights, a checkpoint or a .dcz; pruned weights, by the stored mask or else exact
 * zeros, are left out), symmetric around 0. Underneath, one row of markers per codebook:
 * the centroids that kept weights use, from each of codebooks[0..n) (0..4 files whose
 * layer is shared, e.g. right after k-means and after fine-tuning), or when n = 0 and
 * `weights` itself is shared, its own. */
dc_status dc_plot_hist(const char *out, const char *weights, const char *layer, const char *const *codebooks,
                       int ncodebooks, int bins, const char *title);

/* The sparsity pattern of fc layer `layer`, which must read the input image (only ReLU,
 * dropout or LRN before it: ip1 of LeNet-300-100), as an image of the input: each pixel
 * coloured by the number of output units still connected to it (summed over channels),
 * scaled up, with a colour bar. The net comes from net_path, else from a .dcz's model
 * section (HDF5 weights need net_path). Another layer kind, or an fc layer that reads
 * another layer's output, is DC_ERR_ARG saying so. */
dc_status dc_plot_mask(const char *out, const char *weights, const char *layer, const char *net_path,
                       const char *title);

/* What Huffman coding sees in `layer` of a .dcz: the frequency of every codebook index
 * (and of the filler symbol) and of every relative-index gap, the code length Huffman
 * gives each, and bits per entry fixed, after Huffman and the entropy. */
dc_status dc_plot_codes(const char *out, const char *dcz, const char *layer, const char *title);

/* Accuracy against compression for 1..40 run output directories, each with stages.csv
 * and model.dcz: a point per run at (fp32 bytes / model.dcz bytes, top-1 of its last
 * stage), labelled with the directory's name, and the first run's dense (train stage)
 * accuracy as a dashed line. */
dc_status dc_plot_tradeoff(const char *out, const char *const *runs, int nruns, const char *title);

#endif

/* dc/compress.h — the pure primitives of Deep Compression (Han, Mao, Dally, ICLR 2016)
 * and the .dcz compressed model file.
 *
 *   1. weight sharing: exact 1-D k-means (Lloyd) with the paper's three inits;
 *   2. Huffman coding of symbol streams: length-limited canonical codes (package-merge),
 *      a table-driven decoder;
 *   3. relative-index ("gap") coding of the positions of kept weights, with filler
 *      entries for gaps that do not fit in `gap_bits` bits;
 *   4. the .dcz file: per layer a codebook, a Huffman-coded weight-index stream, a
 *      Huffman-coded gap stream and the biases, CRC-protected (docs/dcz-format.md);
 *      since version 2 also what inference needs besides the weights (the net file
 *      and the input preprocessing: dc_dcz_model). Version 3 picks each layer's gap
 *      width itself and stores code tables, codebooks, biases and the net text
 *      compactly; version 4 (written now) adds fp16 codebooks, varint fields and a
 *      preset deflate dictionary for the net text.
 *
 * Nothing here knows about nets or training: the trainer hands in plain arrays.
 * All functions return a dc_status; failures record one line via dc_fail. */
#ifndef DC_COMPRESS_H
#define DC_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "dc/error.h"

/* ---------------------------------------------------------------- k-means (1-D) */

typedef enum {
  DC_KMEANS_LINEAR,  /* k points evenly spaced over [min, max] (the paper's best) */
  DC_KMEANS_DENSITY, /* values at evenly spaced quantiles of the sorted data (CDF) */
  DC_KMEANS_RANDOM   /* k distinct data values drawn with dc_rng(seed) (Forgy) */
} dc_kmeans_init;

/* The initial centroids[k] (sorted ascending) that dc_kmeans_1d starts from; exposed
 * so callers and tests can inspect or reproduce the start. Precisely, with s the
 * sorted data:
 *   LINEAR  c[j] = min + (max-min)·j/(k-1) (c[k-1] = max exactly; k = 1: midpoint);
 *   DENSITY c[j] = s[floor((2j+1)·n / (2k))], the (j+½)/k quantile;
 *   RANDOM  m = min(k, number of distinct values) distinct values chosen uniformly
 *           among the distinct values (Floyd sampling, dc_rng seeded by `seed`); when
 *           m < k the rest repeat the largest chosen value.
 * n = 0 gives all-zero centroids. Fails (DC_ERR_ARG) on k outside 1..256, a bad
 * init, n > UINT32_MAX, or a non-finite x[i]. */
dc_status dc_kmeans_1d_init(const float *x, size_t n, int k, dc_kmeans_init init, uint64_t seed, float *centroids);

/* Cluster x[0..n) into k (1..256) centroids: the init above, then Lloyd iterations
 * (assign each value to its nearest centroid, move each centroid to the mean of its
 * values) until the assignment stops changing or max_iter (>= 0) updates were made.
 *
 * Exact Lloyd (no binning or sampling): the data are sorted once; with sorted centroids every
 * cluster is a contiguous run of the sorted values, so the assignment step is k-1
 * binary searches and the update step uses prefix sums (double) — O(n log n) + O(k
 * log n) per iteration. Distances are |x - c| in double; a value equally near two
 * centroids goes to the lower index, and among equal centroids only the first gets
 * values.
 *
 * Empty clusters keep their centroid where it was (never NaN, never re-seeded), so
 * n < k and all-equal input work: the surplus centroids simply stay unused. After
 * each update the centroids are re-sorted (a kept empty duplicate of a centroid can
 * be overtaken by its twin's new mean), so labels always refer to sorted order.
 *
 * Outputs: centroids[k] sorted ascending (non-strictly); assign[n] the index of each
 * value's nearest centroid in the returned centroids (recomputed after the last
 * update, so it is consistent even when max_iter stops the loop). Both are caller
 * owned. Fails (DC_ERR_ARG) as dc_kmeans_1d_init, or on max_iter < 0;
 * DC_ERR_NOMEM when the scratch (peak ~32 bytes/value) cannot be allocated. */
dc_status dc_kmeans_1d(const float *x, size_t n, int k, dc_kmeans_init init, uint64_t seed, int max_iter,
                       float *centroids, uint8_t *assign);

/* ---------------------------------------------------------------- Huffman coding */

#define DC_HUFF_MAX_SYMBOLS 65536 /* alphabet size limit (symbols are uint16_t) */
#define DC_HUFF_MAX_LEN     24    /* longest code any table may hold */

/* Optimal code lengths len[nsym] for symbol frequencies freq[nsym], no code longer
 * than max_len (1..DC_HUFF_MAX_LEN), by package-merge (Larmore & Hirschberg): exact
 * minimum total bits under the limit, so with a loose limit it equals plain Huffman.
 * Unused symbols (freq 0) get length 0; a single used symbol gets length 1 (code "0").
 * Fails (DC_ERR_ARG) on nsym outside 1..DC_HUFF_MAX_SYMBOLS, a bad max_len, more used
 * symbols than 2^max_len, or frequencies summing past 2^58. */
dc_status dc_huff_lengths(const uint64_t *freq, int nsym, int max_len, uint8_t *len);

/* Validate a code-length table len[nsym]: every length <= DC_HUFF_MAX_LEN and the
 * code complete (Kraft sum exactly 1), or exactly one symbol of length 1, or no
 * symbols at all (only valid for an empty stream). Fails DC_ERR_FORMAT with a
 * message starting with `what` (e.g. "net.dcz: layer 1 ('ip1'): gap code"). */
dc_status dc_huff_check(const uint8_t *len, int nsym, const char *what);

/* Total bits to code a stream with these symbol frequencies: sum freq[s]·len[s]. */
uint64_t dc_huff_cost(const uint64_t *freq, const uint8_t *len, int nsym);

/* Encode sym[0..n) with the canonical code of len[nsym] (codes assigned in order of
 * (length, symbol); written MSB-first, see src/compress/bits.h). On success *out is a
 * new dc_alloc'd buffer of ceil(*nbits/8) bytes (zero padding bits at the end) that
 * the caller releases with dc_free. Fails (DC_ERR_ARG) on an invalid table or a
 * symbol >= nsym or without a code. */
dc_status dc_huff_encode(const uint16_t *sym, size_t n, const uint8_t *len, int nsym, uint8_t **out, uint64_t *nbits);

/* Decode exactly n symbols into sym[n] (caller owned) from buf, which holds nbits
 * bits (ceil(nbits/8) bytes). Table-driven: a 2^10-entry lookup for short codes,
 * canonical length-by-length search for longer ones. Never reads past the buffer.
 * Fails DC_ERR_FORMAT, naming `what` (may be NULL), on an invalid table, a bit
 * pattern that is no code, a stream that ends inside a code, bits left over after
 * the n-th symbol, or nonzero padding bits. */
dc_status dc_huff_decode(const uint8_t *buf, uint64_t nbits, const uint8_t *len, int nsym, uint16_t *sym, size_t n,
                         const char *what);

/* ---------------------------------------------------------------- relative indices */

/* The positions p_0 < p_1 < ... of kept weights in a flat array become entries, each
 * a gap g in [0, 2^gap_bits - 1] = the number of pruned positions skipped since the
 * previous entry (the first entry counts from position 0), i.e. p = prev + 1 + g with
 * prev = -1 at the start. A gap too wide for gap_bits is bridged by filler entries:
 * a filler has gap 2^gap_bits - 1 and stands for a stored zero (pruned) weight at
 * prev + 2^gap_bits, exactly like the paper's padding zero. In the .dcz weight-index
 * stream a filler carries the reserved symbol k = 2^bits (one past the codebook).
 * Each kept weight at skip distance d needs floor(d / 2^gap_bits) fillers. No entry
 * follows the last kept weight: trailing pruned positions are implicit. */

/* Number of entries (kept + fillers) for pos[0..nnz) with gap_bits (1..16). Fails
 * (DC_ERR_ARG) unless positions are strictly increasing. */
dc_status dc_gap_count(const size_t *pos, size_t nnz, int gap_bits, size_t *nentries);

/* Fill gap[nentries] and filler[nentries] (1 = filler entry, 0 = the next kept
 * position), nentries from dc_gap_count (checked: DC_ERR_ARG if it disagrees). */
dc_status dc_gap_encode(const size_t *pos, size_t nnz, int gap_bits, uint16_t *gap, uint8_t *filler, size_t nentries);

/* Inverse of dc_gap_encode: the kept positions into pos[] (room for nentries; *nnz
 * set). Fails DC_ERR_FORMAT, naming `what` (may be NULL), on a gap >= 2^gap_bits, a
 * filler whose gap is not 2^gap_bits - 1, a position >= count, or a trailing filler
 * (the encoder never writes one). */
dc_status dc_gap_decode(const uint16_t *gap, const uint8_t *filler, size_t nentries, int gap_bits, size_t count,
                        size_t *pos, size_t *nnz, const char *what);

/* ---------------------------------------------------------------- the .dcz file */

#define DC_DCZ_VERSION       4          /* the version this build writes (it reads 1 to 4) */
#define DC_DCZ_VERSION_MODEL 2          /* version 2: a model section, old layer layout */
#define DC_DCZ_VERSION_PLAIN 1          /* version 1: layers only, old layer layout */
#define DC_DCZ_GAP_AUTO      0          /* dc_dcz_layer.gap_bits: the writer picks the best width */
#define DC_DCZ_MAX_TEXT      (1u << 20) /* bytes of the net text and of the label text */
#define DC_DCZ_MAX_LAYERS    4096
#define DC_DCZ_MAX_WEIGHTS   (1u << 30) /* per layer, product of dims; also max nbias */
/* The layers of a file of B bytes may declare at most FREE + PER_BYTE * B weights in all
 * (dense fp32 16384 times the file; real models are 10 to 50 times): readers refuse more,
 * so a small file cannot make them allocate gigabytes, and the writer does not write it. */
#define DC_DCZ_DENSE_FREE     (1u << 20)
#define DC_DCZ_DENSE_PER_BYTE 4096u

/* One compressed layer, independent of the trainer. For dc_dcz_write the arrays are
 * the caller's; dc_dcz_read allocates them (release with dc_dcz_free). */
typedef struct {
  char name[64];     /* layer name, e.g. "ip1": 1..63 printable ASCII chars */
  int ndim;          /* 1..4 */
  int dims[4];       /* weight shape, e.g. {500, 800} or {50, 20, 5, 5}; count = product */
  int bits;          /* codebook size k = 1 << bits (1..8) */
  float *codebook;   /* (k) centroids, finite */
  uint8_t *index;    /* (count) codebook index per weight (< k); ignored where mask == 0;
                        read back as 0 there */
  uint8_t *mask;     /* (count) 1 = kept, 0 = pruned; NULL = all kept (write only: a read
                        layer always has a mask) */
  int gap_bits;      /* bits per relative index, 1..16 (paper: 8 conv, 5 fc), or
                        DC_DCZ_GAP_AUTO: the writer tries every width and keeps the
                        one giving the smallest layer record; a read layer holds the
                        width stored */
  int nbias;         /* >= 0 */
  float *bias;       /* (nbias) finite; a read layer holds the decoded values */
  int bias_bits;     /* how the writer stores the biases: 32 (or 0) fp32, 16 IEEE
                        binary16, 8 8-bit linear (version 4: the codes Exp-Golomb coded
                        when smaller; see dc_dcz_bias_round, which gives the values a
                        reader gets back); a read layer holds it */
  int codebook_bits; /* how the writer stores the centroids: 32 (or 0) fp32, exact; 16
                        IEEE binary16 (rounded, ties to even) when every one of the k
                        fits fp16, else fp32 (dc_dcz_codebook_round gives the values a
                        reader gets back); a read layer holds what was stored (32 or 16) */
} dc_dcz_layer;

/* The biases a reader gets back from biases stored with bias_bits (0 or 32: fp32, i.e.
 * unchanged; 16: rounded to the nearest binary16, ties to even; 8: lo + code·step with
 * lo = min, step = (max − min)/255 rounded to fp32, code the nearest of 0..255, the sum
 * computed in double and rounded once to fp32). out[n] may alias in[n]. Fails
 * (DC_ERR_ARG) on another bias_bits, a non-finite input, or a value fp16 cannot hold
 * (|b| >= 65520). */
dc_status dc_dcz_bias_round(const float *in, int n, int bias_bits, float *out);

/* The k centroids a reader gets back from a codebook stored with codebook_bits into
 * out[k] (may alias in): for 16, when every centroid is finite and below 65520 in
 * magnitude, each rounded to the nearest binary16 (ties to even) and 16 returned; else
 * (a centroid fp16 cannot hold, or codebook_bits 0 or 32) in unchanged and 32 returned:
 * the width the writer stores the layer's codebook in. */
int dc_dcz_codebook_round(const float *in, int k, int codebook_bits, float *out);

/* Where one layer's bytes go, for reports. The byte fields sum to total_bytes. */
typedef struct {
  char name[64];
  uint64_t count;   /* weights (product of dims) */
  uint64_t nnz;     /* kept weights */
  uint64_t fillers; /* filler entries in the streams */
  int bits, gap_bits, bias_bits;
  uint64_t nbias;
  uint64_t centroids;      /* codebook entries stored: version 3 stores used ones only */
  int codebook_bits;       /* 32 fp32 centroids, 16 fp16 (version 4) */
  uint64_t header_bytes;   /* record length, name, shape, counts, sizes, layer CRC */
  uint64_t codebook_bytes; /* version 3: the delta-coded used centroids; before: 4 << bits */
  uint64_t table_bytes;    /* the two serialized code-length tables */
  uint64_t index_bytes;    /* Huffman-coded weight-index stream */
  uint64_t gap_bytes;      /* Huffman-coded gap stream */
  uint64_t bias_bytes;     /* fp32 4·nbias, fp16 2·nbias, 8-bit 8 + nbias (or fewer, coded) */
  uint64_t total_bytes;    /* the layer's share of the file */
  uint64_t index_bits_raw; /* (nnz + fillers) · bits: index stream before Huffman */
  uint64_t index_bits;     /* after Huffman */
  uint64_t gap_bits_raw;   /* (nnz + fillers) · gap_bits: gap stream before Huffman */
  uint64_t gap_bits_huff;  /* after Huffman */
  uint64_t dense_bytes;    /* 4 · (count + nbias): the uncompressed fp32 layer */
  /* Per kept weight, as the paper's tables (0 when nnz = 0): */
  double weight_bpw_raw; /* index_bits_raw / nnz  ("weight bits, P+Q") */
  double weight_bpw;     /* index_bits / nnz      ("weight bits, P+Q+H") */
  double gap_bpw_raw;    /* gap_bits_raw / nnz    ("index bits, P+Q") */
  double gap_bpw;        /* gap_bits_huff / nnz   ("index bits, P+Q+H") */
  double ratio;          /* dense_bytes / total_bytes */
} dc_dcz_layer_stats;

typedef struct {
  int nlayers;
  dc_dcz_layer_stats *layer; /* (nlayers), owned; release with dc_dcz_stats_free */
  int version;               /* of the file read or written */
  uint64_t file_bytes;       /* whole file: 16-byte header + model section + layers + 4-byte file CRC */
  uint64_t model_bytes;      /* the model section with its length and CRC (0 without one) */
  uint64_t net_bytes;        /* of which the net text as stored (version 3: deflated) */
  uint64_t net_text_bytes;   /* the net text's length */
  uint64_t dense_bytes;      /* sum of the layers' dense_bytes */
  double ratio;              /* dense_bytes / file_bytes */
} dc_dcz_stats;

/* The colour channels a model's input image is given in. */
typedef enum { DC_COLOR_GRAY = 0, DC_COLOR_BGR, DC_COLOR_RGB, DC_COLOR_COUNT } dc_color;

/* The model section of a version-2 file: what running the model needs besides the
 * weights. An image becomes the input (C, H, W) of the net as
 *   decode -> `color` channels (gray: 1, BGR/RGB: 3, in that order) -> resize to
 *   resize x resize (0: straight to W x H) -> centre crop to W x H ->
 *   x[c][i][j] = (pixel - mean[c]) * scale        (pixel in 0..255)
 * which is how the training data set fed the net (MNIST: gray, scale 1/256; ImageNet:
 * BGR, resize 256, crop, mean 104/117/123). */
typedef struct {
  char *net; /* the net file (nets/NAME.net syntax), NUL-terminated; owned */
  dc_color color;
  int resize;    /* 0, or the side images are resized to before the centre crop */
  float mean[3]; /* per channel, in the order of `color` (gray uses mean[0]) */
  float scale;
  char *labels; /* NULL, or class names one per line ("\n"), class 0 first; owned */
} dc_dcz_model;

/* Release m->net and m->labels and zero *m. NULL is a no-op. */
void dc_dcz_model_free(dc_dcz_model *m);

/* Write n (0..DC_DCZ_MAX_LAYERS) layers to `path` atomically: everything goes to
 * "PATH.tmp", which is flushed, fsynced and renamed over `path` only when complete;
 * on failure the .tmp is removed and `path` is untouched. Validates every layer
 * first (DC_ERR_ARG naming the layer and field); DC_ERR_IO on write failure.
 * Memory: one layer's encoded record at a time. */
dc_status dc_dcz_write(const char *path, const dc_dcz_layer *layers, int n);

/* dc_dcz_write that also reports sizes: *stats (may be NULL) gets a new layer array
 * the caller releases with dc_dcz_stats_free (also on failure: it is then empty). */
dc_status dc_dcz_write_stats(const char *path, const dc_dcz_layer *layers, int n, dc_dcz_stats *stats);

/* dc_dcz_write_stats with a model section (model == NULL: none). Writes version 4
 * either way (header flag bit 0 says whether the model section is there). The net text and labels must
 * be 1..DC_DCZ_MAX_TEXT bytes of printable ASCII, tab, CR or LF (labels may be NULL), mean and scale finite, scale
 * nonzero, resize 0..65536, color a dc_color: else DC_ERR_ARG naming the field. */
dc_status dc_dcz_write_model(const char *path, const dc_dcz_model *model, const dc_dcz_layer *layers, int n,
                             dc_dcz_stats *stats);

/* What one layer would take in a .dcz file without writing anything: *stats (its
 * total_bytes and the rest, exactly as dc_dcz_write_stats would report them) from
 * encoding the record in memory. The size model of `dctrain plan`. Validates as
 * dc_dcz_write (messages name the layer); DC_ERR_NOMEM when memory runs out. */
dc_status dc_dcz_layer_size(const dc_dcz_layer *layer, dc_dcz_layer_stats *stats);

/* Read `path` in one pass into *layers, a new array of *n layers (NULL when n = 0)
 * with freshly allocated codebook, index, mask and bias; release with dc_dcz_free.
 * Validates everything — magic, version, header/layer/file CRC32s, every size against
 * the file size and the format limits before anything is allocated from it, the code
 * tables, the streams, positions — and fails DC_ERR_FORMAT (DC_ERR_IO if the file
 * cannot be opened or read) with one line naming the file and what is wrong. On
 * failure *layers = NULL, *n = 0. Memory: the output plus one layer record. */
dc_status dc_dcz_read(const char *path, dc_dcz_layer **layers, int *n);

/* dc_dcz_read that also fills *stats (may be NULL) as dc_dcz_write_stats would. */
dc_status dc_dcz_read_stats(const char *path, dc_dcz_layer **layers, int *n, dc_dcz_stats *stats);

/* dc_dcz_read_stats from a file (buf NULL) or from memory: buf[len] holds the whole
 * file and `path` only names it in messages (the buffer is only read, and never past
 * len). layers and n both NULL: no layer arrays are built (the streams are still decoded
 * and every check made), for callers that want only stats or the model section. model
 * (may be NULL) gets the model section, released with dc_dcz_model_free; a file without
 * one (version 1, or version 3 written without a model) leaves it zeroed (model->net
 * NULL). Validation and failures as dc_dcz_read; on failure *model is zeroed. */
dc_status dc_dcz_read_model(const char *path, const void *buf, size_t len, dc_dcz_layer **layers, int *n,
                            dc_dcz_stats *stats, dc_dcz_model *model);

/* Release layers from dc_dcz_read (every array and the array itself). NULL is a no-op. */
void dc_dcz_free(dc_dcz_layer *layers, int n);

/* Release stats->layer and zero *stats. NULL is a no-op. */
void dc_dcz_stats_free(dc_dcz_stats *stats);

#endif

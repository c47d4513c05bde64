/* dc/model.h — between a net's parameters and the .dcz compressed model file, and the
 * model section (net text, preprocessing, labels) an experiment gives a .dcz. */
#ifndef DC_MODEL_H
#define DC_MODEL_H

#include "dc/compress.h"
#include "dc/data.h"
#include "dc/config.h"
#include "dc/net.h"

/* Encode every weighted layer of net into path (atomic). Every weight must be SHARED
 * (run a quantize stage first). Relative indices use conv_gap_bits for conv layers and
 * fc_gap_bits for fc layers (DC_DCZ_GAP_AUTO: the width giving the smallest layer);
 * biases in fp32. stats (may be NULL): sizes, released with dc_dcz_stats_free. */
dc_status dc_model_encode(dc_net *net, int conv_gap_bits, int fc_gap_bits, const char *path, dc_dcz_stats *stats);

/* The .dcz record of one weighted layer l as it is now, pointing into l's arrays (no
 * copy): its SHARED weight's codebook, index and mask, its bias (stored in fp32),
 * conv_gap_bits or fc_gap_bits by its weight family. DC_ERR_ARG naming l when l is not
 * quantized. */
dc_status dc_model_layer(const dc_layer *l, int conv_gap_bits, int fc_gap_bits, dc_dcz_layer *d);

/* dc_model_encode with a model section (model may be NULL: none), biases stored in
 * bias_bits (32, 16 or 8: dc_dcz_bias_round says what comes back; round the net's
 * biases first, with dc_model_round_biases, to keep the decode check exact) and
 * codebooks in codebook_bits (32, or 16 where a layer's centroids fit fp16:
 * dc_dcz_codebook_round; round first with dc_model_round_codebooks, as for biases). */
dc_status dc_model_encode_with(dc_net *net, int conv_gap_bits, int fc_gap_bits, int bias_bits, int codebook_bits,
                               const dc_dcz_model *model, const char *path, dc_dcz_stats *stats);

/* Replace the biases of net's weighted layers by what a .dcz with bias_bits gives back
 * (dc_dcz_bias_round); saved (may be NULL) gets the old values first, in layer order,
 * room for every bias of the net (dc_model_bias_count). */
size_t dc_model_bias_count(const dc_net *net);
dc_status dc_model_round_biases(dc_net *net, int bias_bits, float *saved);
/* Put back biases saved by dc_model_round_biases. */
void dc_model_restore_biases(dc_net *net, const float *saved);

/* Replace the centroids of net's quantized (SHARED) layers by what a .dcz with
 * codebook_bits gives back (dc_dcz_codebook_round: fp16 per layer where every centroid
 * fits, else unchanged), and the weights with them; saved (may be NULL) gets the old
 * centroids first, in layer order, room for dc_model_codebook_count floats. Returns
 * the number of layers rounded to fp16. */
size_t dc_model_codebook_count(const dc_net *net);
int dc_model_round_codebooks(dc_net *net, int codebook_bits, float *saved);
/* Put back centroids saved by dc_model_round_codebooks (and the weights with them). */
void dc_model_restore_codebooks(dc_net *net, const float *saved);

/* What running e's model needs besides the weights: the text of e's net file, the
 * preprocessing of its [data] section (mnist: gray, no resize, mean 0, scale; imagenet:
 * BGR, resize, mean, scale; the crop is the net's input size) and, for image folders,
 * the class names of `test` (may be NULL). *out is released with dc_dcz_model_free.
 * DC_ERR_IO when the net file cannot be read. */
dc_status dc_model_describe(const dc_experiment *e, const dc_dataset *test, dc_dcz_model *out);

/* Decode path into net's parameters: layers, names and shapes must match the net;
 * weights become SHARED (codebook, index, mask), biases fp32. stats as above. */
dc_status dc_model_decode(const char *path, dc_net *net, dc_dcz_stats *stats);

/* dc_model_decode, after checking that every weight and bias path holds is bit for bit
 * what net holds now (the round-trip check after encoding, without a copy of the net):
 * a difference fails naming the layer, and the layers before it are left decoded (with
 * the same values). */
dc_status dc_model_decode_verify(const char *path, dc_net *net, dc_dcz_stats *stats);

#endif

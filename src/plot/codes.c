/* plot/codes.c — what Huffman coding sees in a .dcz layer: how often each codebook
 * index and each relative-index gap occurs, with the code length Huffman gives each
 * symbol and the bits per symbol before and after coding (and the entropy bound); see
 * dc_plot_codes in dc/plot.h. The streams are rebuilt exactly as the encoder builds
 * them (src/compress/dcz.c): entries are kept weights plus filler entries, a filler
 * carrying index symbol k. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/compress.h"
#include "dc/plot.h"
#include "plot/draw.h"
#include "plot/layer.h"

/* One panel: bars of freq[0..nsym) and Huffman code lengths as dots on a right axis. */
static void panel(canvas *c, int y, const uint64_t *freq, const uint8_t *len, int nsym, int fixed_bits,
                  const char *xlabel, const char *what, int filler_sym) {
  uint64_t total = 0, fmax_ = 0;
  int maxlen = 1;
  double ent = 0;
  for (int i = 0; i < nsym; i++) {
    total += freq[i];
    if (freq[i] > fmax_) fmax_ = freq[i];
    if (len[i] > maxlen) maxlen = len[i];
  }
  for (int i = 0; i < nsym; i++)
    if (freq[i]) {
      double p = (double)freq[i] / (double)total;
      ent -= p * log2(p);
    }
  double huff = total ? (double)dc_huff_cost(freq, len, nsym) / (double)total : 0;
  pl_axes a = {.c = c, .x = 110, .y = y, .w = 790, .h = 230};
  pl_scale_fit(&a.sx, -0.5, nsym - 0.5, 0, 8);
  a.sx.lo = -0.5;
  a.sx.hi = nsym - 0.5;
  a.sx.step = nsym <= 16 ? 1 : nsym <= 40 ? 4 : nsym <= 80 ? 8 : nsym <= 160 ? 16 : 32;
  pl_scale_fit(&a.sy, 0, (double)fmax_ * 1.1, 0, 5);
  a.sy.lo = 0;
  /* ticks at whole symbols: shift the scale so ticks fall on 0, step, 2 step... */
  pl_axes ta = a;
  ta.sx.lo = 0;
  ta.sx.hi = nsym - 1;
  ta.x = (int)lround(pl_px(&a, 0));
  ta.w = (int)lround(pl_px(&a, nsym - 1)) - ta.x;
  pl_axes_draw(&ta, xlabel, "entries");
  pl_fill_rect(c, a.x, a.y, ta.x, a.y + a.h + 1, (rgb){255, 255, 255});
  pl_fill_rect(c, ta.x + ta.w + 1, a.y, a.x + a.w + 1, a.y + a.h + 1, (rgb){255, 255, 255});
  double bw = (double)a.w / nsym;
  for (int i = 0; i < nsym; i++) {
    if (!freq[i]) continue;
    int x0 = (int)lround(a.x + i * bw + (bw > 4 ? 1 : 0)), x1 = (int)lround(a.x + (i + 1) * bw - (bw > 4 ? 1 : 0));
    if (x1 <= x0) x1 = x0 + 1;
    pl_fill_rect(c, x0, (int)lround(pl_py(&a, (double)freq[i])), x1, a.y + a.h, i == filler_sym ? PL_GREY : pl_palette[0]);
  }
  pl_rect(c, a.x, a.y, a.x + a.w + 1, a.y + a.h + 1, PL_BLACK);
  /* code lengths against a right axis 0..maxlen+1 */
  int top = maxlen + 1;
  rgb oc = pl_palette[1];
  for (int v = 0; v <= top; v += top > 12 ? 4 : 2) {
    int py = (int)lround(a.y + a.h - (double)v / top * a.h);
    char lab[16];
    snprintf(lab, sizeof lab, "%d", v);
    pl_fill_rect(c, a.x + a.w, py, a.x + a.w + 6, py + 1, PL_BLACK);
    pl_text(c, a.x + a.w + 10, py - PL_FONT_H, lab, 2, 0, oc);
  }
  const char *rl = "code length (bits)";
  pl_text(c, a.x + a.w + 44, a.y + a.h / 2 + pl_text_width(rl, 2) / 2, rl, 2, 1, oc);
  for (int i = 0; i < nsym; i++)
    if (freq[i]) pl_marker(c, a.x + (i + 0.5) * bw, a.y + a.h - (double)len[i] / top * a.h, PL_DIAMOND, 4, oc);
  char t[200];
  snprintf(t, sizeof t, "%s, bits per entry: fixed %d, Huffman %.2f, entropy %.2f", what, fixed_bits, huff, ent);
  pl_text(c, a.x, y - 26, t, 2, 0, PL_BLACK);
}

dc_status dc_plot_codes(const char *out, const char *dcz, const char *layer, const char *title) {
  pl_layer l;
  DC_TRY(pl_layer_read(dcz, layer, &l));
  if (!l.dcz) {
    pl_layer_free(&l);
    return dc_fail(DC_ERR_ARG, "%s: not a .dcz: the index and gap streams exist only in a compressed model", dcz);
  }
  int k = l.k, nsym_i = k + 1, nsym_g = 1 << l.gap_bits;
  size_t nnz = 0, ne = 0;
  for (size_t i = 0; i < l.count; i++) nnz += l.mask[i] != 0;
  size_t *pos = malloc(sizeof(size_t) * (nnz ? nnz : 1));
  uint16_t *gap = NULL;
  uint8_t *fill = NULL, len_i[257], len_g[65536];
  uint64_t fi[257] = {0}, *fg = calloc((size_t)nsym_g, sizeof(uint64_t));
  dc_status s = pos && fg ? DC_OK : dc_fail(DC_ERR_NOMEM, "out of memory");
  if (s == DC_OK && nnz == 0) s = dc_fail(DC_ERR_ARG, "%s: layer %s has no kept weights", dcz, layer);
  if (s == DC_OK) {
    for (size_t i = 0, j = 0; i < l.count; i++)
      if (l.mask[i]) pos[j++] = i;
    s = dc_gap_count(pos, nnz, l.gap_bits, &ne);
  }
  if (s == DC_OK) {
    gap = malloc(sizeof(uint16_t) * ne);
    fill = malloc(ne);
    if (!gap || !fill) s = dc_fail(DC_ERR_NOMEM, "out of memory");
  }
  if (s == DC_OK) s = dc_gap_encode(pos, nnz, l.gap_bits, gap, fill, ne);
  size_t fillers = 0;
  if (s == DC_OK) {
    for (size_t e = 0, j = 0; e < ne; e++) {
      fillers += fill[e];
      fi[fill[e] ? k : l.index[pos[j++]]]++;
      fg[gap[e]]++;
    }
    s = dc_huff_lengths(fi, nsym_i, DC_HUFF_MAX_LEN, len_i);
  }
  if (s == DC_OK) s = dc_huff_lengths(fg, nsym_g, DC_HUFF_MAX_LEN, len_g);
  canvas c = {0};
  if (s == DC_OK) s = pl_canvas_new(&c, 1000, 830);
  if (s == DC_OK) {
    char xl[120], t[200], wn[120];
    snprintf(xl, sizeof xl, "codebook index (centroids in ascending order; %d: filler)", k);
    panel(&c, 140, fi, len_i, nsym_i, (int)lround(log2(k)), xl, "weight indices", k);
    snprintf(xl, sizeof xl, "gap: pruned weights skipped before the entry (fillers: %d)", nsym_g - 1);
    panel(&c, 500, fg, len_g, nsym_g, l.gap_bits, xl, "relative indices", -1);
    pl_short_name(dcz, wn, sizeof wn);
    if (title) snprintf(t, sizeof t, "%s", title);
    else snprintf(t, sizeof t, "Huffman coding of %s (%s)", layer, wn);
    pl_text_fit(&c, 500, 16, t, 3, PL_BLACK);
    snprintf(t, sizeof t, "%zu kept weights (%.1f%%) + %zu fillers; bars: count, diamonds: Huffman code length", nnz,
             100.0 * (double)nnz / (double)l.count, fillers);
    pl_text_fit(&c, 500, 52, t, 2, PL_DARK);
    s = pl_write_png(out, &c);
  }
  pl_canvas_free(&c);
  free(pos);
  free(gap);
  free(fill);
  free(fg);
  pl_layer_free(&l);
  return s;
}

/* plot/mask.c — the sparsity pattern of an fc layer that reads the input image, drawn
 * as an image of the input: each pixel coloured by how many of the layer's output
 * units still connect to it (Han et al. 2015, Fig. 4: on MNIST the digit area keeps
 * its connections and the border loses them); see dc_plot_mask in dc/plot.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc/cfg.h"
#include "dc/commands.h"
#include "dc/compress.h"
#include "dc/net.h"
#include "dc/plot.h"
#include "plot/draw.h"
#include "plot/layer.h"

/* The net the weights belong to: NET when given, else the model section of a .dcz. */
static dc_status load_net(const char *weights, const char *net_path, dc_net **net) {
  *net = NULL;
  if (net_path) return dc_net_load(net_path, 1, DC_NET_REUSE, NULL, net);
  int h5;
  DC_TRY(dc_file_is_hdf5(weights, &h5));
  if (h5)
    return dc_fail(DC_ERR_ARG, "%s: HDF5 weights carry no net file: give --net NET.net (e.g. nets/lenet300.net)",
                   weights);
  dc_dcz_layer *ls;
  int n;
  dc_dcz_model m;
  DC_TRY(dc_dcz_read_model(weights, NULL, 0, &ls, &n, NULL, &m));
  dc_dcz_free(ls, n);
  if (!m.net) return dc_fail(DC_ERR_ARG, "%s: this .dcz carries no net file (version 1): give --net NET.net", weights);
  dc_cfg *cfg;
  dc_status s = dc_cfg_parse(m.net, weights, &cfg);
  if (s == DC_OK) s = dc_net_create(cfg, 1, DC_NET_REUSE, NULL, net);
  dc_cfg_free(cfg);
  dc_dcz_model_free(&m);
  return s;
}

/* Layer `name` of net must be an fc layer whose input is the image itself: only
 * layers that keep each pixel where it is (ReLU, dropout, LRN) may come before it. */
static dc_status check_reads_image(const dc_net *net, const char *name, const char *where) {
  int at = -1;
  for (int i = 0; i < net->nlayers; i++)
    if (!strcmp(net->layers[i].name, name)) at = i;
  if (at < 0 || !net->layers[at].weight) {
    const char *names[256];
    int n = 0;
    for (int i = 0; i < net->nlayers && n < 256; i++)
      if (net->layers[i].weight) names[n++] = net->layers[i].name;
    const char *hint = dc_closest(name, names, n);
    return dc_fail(DC_ERR_ARG, "%s: no weighted layer '%s'%s%s%s", where, name, hint ? " (did you mean '" : "",
                   hint ? hint : "", hint ? "'?)" : "");
  }
  const dc_layer *l = &net->layers[at];
  if (l->type != DC_LAYER_FC)
    return dc_fail(DC_ERR_ARG, "%s: layer %s is a %s layer: the mask plot draws an fc layer that reads the input image",
                   where, name, dc_layer_type_name(l->type));
  for (int i = 0; i < at; i++) {
    dc_layer_type t = net->layers[i].type;
    if (t != DC_LAYER_RELU && t != DC_LAYER_DROPOUT && t != DC_LAYER_LRN)
      return dc_fail(DC_ERR_ARG,
                     "%s: the input of fc layer %s is not the image (%s layer %s comes before it): the mask plot "
                     "draws an fc layer that reads the input image, such as ip1 of nets/lenet300.net",
                     where, name, dc_layer_type_name(t), net->layers[i].name[0] ? net->layers[i].name : "(unnamed)");
  }
  return DC_OK;
}

dc_status dc_plot_mask(const char *out, const char *weights, const char *layer, const char *net_path,
                       const char *title) {
  pl_layer l;
  DC_TRY(pl_layer_read(weights, layer, &l));
  dc_net *net = NULL;
  dc_status s = load_net(weights, net_path, &net);
  if (s == DC_OK) s = check_reads_image(net, layer, net_path ? net_path : weights);
  int C = 0, H = 0, W = 0;
  if (s == DC_OK) {
    C = net->input.c;
    H = net->input.h;
    W = net->input.w;
    if (l.ndim != 2 || (size_t)l.dims[1] != (size_t)C * H * W)
      s = dc_fail(DC_ERR_ARG, "%s: layer %s has shape %dx%d, but %s gives it %dx%dx%d = %d inputs", weights, layer,
                  l.dims[0], l.ndim > 1 ? l.dims[1] : 1, net_path ? net_path : "the net", C, H, W, C * H * W);
  }
  dc_net_free(net);
  long *cnt = NULL;
  canvas c = {0};
  if (s == DC_OK && !(cnt = calloc((size_t)H * W, sizeof(long)))) s = dc_fail(DC_ERR_NOMEM, "out of memory");
  if (s == DC_OK) {
    int O = l.dims[0];
    size_t in = (size_t)C * H * W, kept = 0;
    for (int o = 0; o < O; o++)
      for (size_t j = 0; j < in; j++)
        if (pl_kept(&l, (size_t)o * in + j)) {
          cnt[j % ((size_t)H * W)]++;
          kept++;
        }
    long mx = 0, dead = 0;
    for (int p = 0; p < H * W; p++) {
      mx = cnt[p] > mx ? cnt[p] : mx;
      dead += cnt[p] == 0;
    }
    long full = (long)O * C; /* every connection of a pixel kept */
    /* the colours span 0 .. the largest count (rounded up), not 0 .. full: after heavy
     * pruning no pixel keeps more than a fraction of its connections */
    pl_scale cs;
    pl_scale_fit(&cs, 0, mx > 0 ? (double)mx : 1.0, 0, 5);
    long top = (long)ceil(cs.hi);
    if (top > full || top < 1) top = full;
    int side = H > W ? H : W, sc = 448 / side;
    if (sc < 1) sc = 1;
    if (sc > 32) sc = 32;
    int iw = W * sc, ih = H * sc, X = 90, Y = 124;
    s = pl_canvas_new(&c, X + iw + 330 > 900 ? X + iw + 330 : 900, Y + ih + 90);
    for (int y = 0; s == DC_OK && y < H; y++)
      for (int x = 0; x < W; x++)
        pl_fill_rect(&c, X + x * sc, Y + y * sc, X + (x + 1) * sc, Y + (y + 1) * sc,
                     pl_viridis((double)cnt[y * W + x] / (double)top));
    if (s == DC_OK) {
      pl_rect(&c, X - 1, Y - 1, X + iw + 1, Y + ih + 1, PL_BLACK);
      /* pixel ticks every 7 (or a round step) along both edges */
      int step = side >= 20 ? 7 : side >= 8 ? 2 : 1;
      char lab[16];
      for (int v = 0; v < W; v += step) {
        int px = X + v * sc + sc / 2;
        pl_fill_rect(&c, px, Y + ih + 1, px + 1, Y + ih + 7, PL_BLACK);
        snprintf(lab, sizeof lab, "%d", v);
        pl_text_centred(&c, px, Y + ih + 12, lab, 2, PL_DARK);
      }
      for (int v = 0; v < H; v += step) {
        int py = Y + v * sc + sc / 2;
        pl_fill_rect(&c, X - 7, py, X - 1, py + 1, PL_BLACK);
        snprintf(lab, sizeof lab, "%d", v);
        pl_text(&c, X - 12 - pl_text_width(lab, 2), py - PL_FONT_H, lab, 2, 0, PL_DARK);
      }
      pl_text_centred(&c, X + iw / 2, Y + ih + 38, "input pixel column", 2, PL_BLACK);
      pl_text(&c, 20, Y + ih / 2 + pl_text_width("input pixel row", 2) / 2, "input pixel row", 2, 1, PL_BLACK);
      char cl[96];
      if (C > 1) snprintf(cl, sizeof cl, "kept connections (of %d outputs x %d channels)", O, C);
      else snprintf(cl, sizeof cl, "kept connections of the pixel (of %d)", O);
      pl_colour_bar(&c, X + iw + 40, Y, 26, ih, 0, (double)top, cl);
      char t[200], sub[200], wn[120];
      pl_short_name(weights, wn, sizeof wn);
      if (title) snprintf(t, sizeof t, "%s", title);
      else snprintf(t, sizeof t, "Kept connections of %s per input pixel", layer);
      snprintf(sub, sizeof sub, "%s: %zu of %zu weights kept (%.1f%%)", wn, kept, l.count,
               100.0 * (double)kept / (double)l.count);
      char sub2[120];
      snprintf(sub2, sizeof sub2, "input pixels with no connection left: %ld of %d", dead, H * W);
      pl_text_fit(&c, c.w / 2, 82, sub2, 2, PL_DARK);
      pl_text_fit(&c, c.w / 2, 18, t, 3, PL_BLACK);
      pl_text_fit(&c, c.w / 2, 56, sub, 2, PL_DARK);
      s = pl_write_png(out, &c);
    }
  }
  free(cnt);
  pl_canvas_free(&c);
  pl_layer_free(&l);
  return s;
}

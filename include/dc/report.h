/* dc/report.h — the per-stage and per-layer reports of a run (Markdown + CSV), in the
 * shape of Han et al.'s Tables 2-5, and the stage results they are built from. */
#ifndef DC_REPORT_H
#define DC_REPORT_H

#include <stdio.h>

#include "dc/compress.h"
#include "dc/net.h"

#define DC_MAX_STAGES 1024

typedef struct {
  char label[32];        /* "train", "prune1", "quantize", "encode" */
  double top1, top5;     /* test accuracy after the stage, fractions */
  double loss;
  double seconds;        /* wall time of the stage */
  long nonzero, total;   /* kept / all weights after the stage */
} dc_stage_result;

/* Stage results persist in DIR/stages.csv so a resumed run reports earlier stages. */
dc_status dc_stage_results_save(const char *dir, const dc_stage_result *r, int n);
/* Missing file: *n = 0, DC_OK. */
dc_status dc_stage_results_load(const char *dir, dc_stage_result *r, int max, int *n);

/* Write DIR/report.md and DIR/report.csv (atomically): the stage table, and the per-layer
 * table from net's parameters (density, bits) and, when stats != NULL, the .dcz sizes
 * (bits per weight and per index before/after Huffman, compression rates). */
dc_status dc_report_write(const char *dir, const char *title, dc_net *net, const dc_stage_result *r, int n,
                          const dc_dcz_stats *stats);

/* Print the per-layer table of a .dcz file (dctrain info). */
void dc_report_print_dcz(FILE *out, const char *path, const dc_dcz_stats *stats);

#endif

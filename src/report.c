/* report.c — stage results and the per-layer compression tables; see dc/report.h. */
#include "dc/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"

dc_status dc_stage_results_save(const char *dir, const dc_stage_result *r, int n) {
  char path[600];
  snprintf(path, sizeof path, "%.580s/stages.csv", dir);
  dc_atomic a;
  DC_TRY(dc_atomic_open(&a, path, "w"));
  FILE *f = a.f;
  fprintf(f, "stage,top1,top5,loss,seconds,nonzero,total\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "%s,%.6f,%.6f,%.6f,%.1f,%ld,%ld\n", r[i].label, r[i].top1, r[i].top5, r[i].loss, r[i].seconds,
            r[i].nonzero, r[i].total);
  return dc_atomic_commit(&a);
}

dc_status dc_stage_results_load(const char *dir, dc_stage_result *r, int max, int *n) {
  char path[600], line[256];
  snprintf(path, sizeof path, "%.580s/stages.csv", dir);
  *n = 0;
  FILE *f = fopen(path, "r");
  if (!f) return DC_OK;
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    if (++lineno == 1) continue;
    if (*n >= max) break;
    dc_stage_result *x = &r[*n];
    if (sscanf(line, "%31[^,],%lf,%lf,%lf,%lf,%ld,%ld", x->label, &x->top1, &x->top5, &x->loss, &x->seconds,
               &x->nonzero, &x->total) != 7) {
      fclose(f);
      return dc_fail(DC_ERR_FORMAT, "%s:%d: not a stage result line", path, lineno);
    }
    (*n)++;
  }
  fclose(f);
  return DC_OK;
}

static const dc_dcz_layer_stats *find_stats(const dc_dcz_stats *s, const char *name) {
  for (int i = 0; s && i < s->nlayers; i++)
    if (strcmp(s->layer[i].name, name) == 0) return &s->layer[i];
  return NULL;
}

/* Bytes of a layer with pruning + quantization but no Huffman: raw index and gap
 * streams, codebook and biases (the paper's "P+Q" column). */
static double pq_bytes(const dc_dcz_layer_stats *l) {
  return (double)(l->index_bits_raw + l->gap_bits_raw) / 8.0 + (double)l->codebook_bytes + (double)l->bias_bytes;
}

static void write_tables(FILE *md, FILE *csv, const char *title, dc_net *net, const dc_stage_result *r, int n,
                         const dc_dcz_stats *stats) {
  fprintf(md, "# %s\n\n## Stages\n\n", title);
  fprintf(md, "| stage | top-1 | top-5 | top-1 error | weights kept | time |\n|---|---:|---:|---:|---:|---:|\n");
  for (int i = 0; i < n; i++)
    fprintf(md, "| %s | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.0f s |\n", r[i].label, 100 * r[i].top1, 100 * r[i].top5,
            100 * (1 - r[i].top1), r[i].total ? 100.0 * (double)r[i].nonzero / (double)r[i].total : 0.0, r[i].seconds);
  fprintf(md, "\n## Layers\n\n");
  fprintf(md,
          "| layer | #weights | weights kept (P) | weight bits (P+Q) | weight bits (P+Q+H) | index bits (P+Q) | "
          "index bits (P+Q+H) | compress rate (P+Q) | compress rate (P+Q+H) |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  fprintf(csv,
          "layer,weights,kept,density,weight_bits_pq,weight_bits_pqh,index_bits_pq,index_bits_pqh,"
          "rate_pq,rate_pqh,dense_bytes,compressed_bytes\n");
  long tw = 0, tk = 0;
  double dense = 0, pq = 0, ib_raw = 0, ib = 0, gb_raw = 0, gb = 0;
  for (int i = 0; i < net->nlayers; i++) {
    dc_layer *l = &net->layers[i];
    if (!l->weight) continue;
    dc_param *w = l->weight;
    long count = (long)w->count, kept = (long)dc_param_nonzero(w);
    tw += count;
    tk += kept;
    const dc_dcz_layer_stats *ls = find_stats(stats, l->name);
    double density = count ? (double)kept / (double)count : 0;
    if (ls) {
      double lpq = pq_bytes(ls);
      dense += (double)ls->dense_bytes;
      pq += lpq;
      ib_raw += (double)ls->index_bits_raw;
      ib += (double)ls->index_bits;
      gb_raw += (double)ls->gap_bits_raw;
      gb += (double)ls->gap_bits_huff;
      fprintf(md, "| %s | %ld | %.1f%% | %.2f | %.2f | %.2f | %.2f | %.1fx | %.1fx |\n", l->name, count, 100 * density,
              ls->weight_bpw_raw, ls->weight_bpw, ls->gap_bpw_raw, ls->gap_bpw, (double)ls->dense_bytes / lpq,
              ls->ratio);
      fprintf(csv, "%s,%ld,%ld,%.6f,%.4f,%.4f,%.4f,%.4f,%.3f,%.3f,%llu,%llu\n", l->name, count, kept, density,
              ls->weight_bpw_raw, ls->weight_bpw, ls->gap_bpw_raw, ls->gap_bpw, (double)ls->dense_bytes / lpq,
              ls->ratio, (unsigned long long)ls->dense_bytes, (unsigned long long)ls->total_bytes);
    } else {
      char bits[16] = "32";
      int cb_bits = dc_param_parts_of(w).bits; /* 0: plain fp32 */
      if (cb_bits) snprintf(bits, sizeof bits, "%d", cb_bits);
      fprintf(md, "| %s | %ld | %.1f%% | %s | | | | | |\n", l->name, count, 100 * density, bits);
      fprintf(csv, "%s,%ld,%ld,%.6f,%s,,,,,,,\n", l->name, count, kept, density, bits);
    }
  }
  double td = tw ? (double)tk / (double)tw : 0;
  if (stats) {
    double file = (double)stats->file_bytes;
    fprintf(md, "| **total** | %ld | %.1f%% | %.2f | %.2f | %.2f | %.2f | %.1fx | **%.1fx** |\n", tw, 100 * td,
            tk ? ib_raw / tk : 0, tk ? ib / tk : 0, tk ? gb_raw / tk : 0, tk ? gb / tk : 0, dense / pq,
            (double)stats->dense_bytes / file);
    fprintf(csv, "total,%ld,%ld,%.6f,%.4f,%.4f,%.4f,%.4f,%.3f,%.3f,%llu,%llu\n", tw, tk, td, tk ? ib_raw / tk : 0,
            tk ? ib / tk : 0, tk ? gb_raw / tk : 0, tk ? gb / tk : 0, dense / pq, (double)stats->dense_bytes / file,
            (unsigned long long)stats->dense_bytes, (unsigned long long)stats->file_bytes);
    fprintf(md,
            "\nThe P+Q+H rate counts every byte of model.dcz (%llu bytes: headers, code tables, codebooks, "
            "biases and the model section included) against fp32 weights and biases (%llu bytes). P+Q counts the raw "
            "index and "
            "relative-index streams plus codebooks and biases.\n",
            (unsigned long long)stats->file_bytes, (unsigned long long)stats->dense_bytes);
  } else {
    fprintf(md, "| **total** | %ld | %.1f%% | | | | | | |\n", tw, 100 * td);
    fprintf(csv, "total,%ld,%ld,%.6f,,,,,,,,\n", tw, tk, td);
  }
}

dc_status dc_report_write(const char *dir, const char *title, dc_net *net, const dc_stage_result *r, int n,
                          const dc_dcz_stats *stats) {
  char md_path[600], csv_path[600];
  snprintf(md_path, sizeof md_path, "%.580s/report.md", dir);
  snprintf(csv_path, sizeof csv_path, "%.580s/report.csv", dir);
  dc_atomic md, csv;
  DC_TRY(dc_atomic_open(&md, md_path, "w"));
  if (dc_atomic_open(&csv, csv_path, "w") != DC_OK) {
    dc_atomic_abort(&md);
    return DC_ERR_IO;
  }
  write_tables(md.f, csv.f, title, net, r, n, stats);
  dc_status s = dc_atomic_commit(&md);
  if (s != DC_OK) {
    dc_atomic_abort(&csv);
    return s;
  }
  return dc_atomic_commit(&csv);
}

void dc_report_print_dcz(FILE *out, const char *path, const dc_dcz_stats *s) {
  fprintf(out, "%s: format version %d, %d layers, %llu bytes; fp32 weights + biases %llu bytes; compression %.1fx\n",
          path, s->version, s->nlayers, (unsigned long long)s->file_bytes, (unsigned long long)s->dense_bytes,
          s->ratio);
  fprintf(out, "%-12s %10s %8s %5s %5s %9s %9s %9s %9s %10s %8s\n", "layer", "weights", "kept", "bits", "gap", "w-bits",
          "w-bits+H", "i-bits", "i-bits+H", "bytes", "rate");
  for (int i = 0; i < s->nlayers; i++) {
    const dc_dcz_layer_stats *l = &s->layer[i];
    fprintf(out, "%-12s %10llu %7.2f%% %5d %5d %9.2f %9.2f %9.2f %9.2f %10llu %7.1fx\n", l->name,
            (unsigned long long)l->count, l->count ? 100.0 * (double)l->nnz / (double)l->count : 0.0, l->bits,
            l->gap_bits, l->weight_bpw_raw, l->weight_bpw, l->gap_bpw_raw, l->gap_bpw,
            (unsigned long long)l->total_bytes, l->ratio);
  }
  /* every byte of the file, by what it holds */
  fprintf(out, "\nbytes        %8s %9s %9s %7s %9s %9s %7s %9s\n", "header", "codebook", "(entries)", "tables",
          "w-index", "gaps", "biases", "total");
  uint64_t sum[6] = {0};
  for (int i = 0; i < s->nlayers; i++) {
    const dc_dcz_layer_stats *l = &s->layer[i];
    uint64_t v[6] = {l->header_bytes, l->codebook_bytes, l->table_bytes, l->index_bytes, l->gap_bytes, l->bias_bytes};
    for (int j = 0; j < 6; j++) sum[j] += v[j];
    char bias[24], entries[24];
    snprintf(bias, sizeof bias, "%llu/%d", (unsigned long long)l->bias_bytes, l->bias_bits);
    snprintf(entries, sizeof entries, "%llu/%d", (unsigned long long)l->centroids, l->codebook_bits);
    fprintf(out, "%-12s %8llu %9llu %9s %7llu %9llu %9llu %7s %9llu\n", l->name, (unsigned long long)v[0],
            (unsigned long long)v[1], entries, (unsigned long long)v[2], (unsigned long long)v[3],
            (unsigned long long)v[4], bias, (unsigned long long)l->total_bytes);
  }
  uint64_t layers = 0;
  for (int j = 0; j < 6; j++) layers += sum[j];
  fprintf(out, "%-12s %8llu %9llu %9s %7llu %9llu %9llu %7llu %9llu\n", "layers", (unsigned long long)sum[0],
          (unsigned long long)sum[1], "", (unsigned long long)sum[2], (unsigned long long)sum[3],
          (unsigned long long)sum[4], (unsigned long long)sum[5], (unsigned long long)layers);
  if (s->model_bytes)
    fprintf(out, "%-12s %9llu bytes: net text %llu bytes stored in %llu, preprocessing, labels, framing\n", "model",
            (unsigned long long)s->model_bytes, (unsigned long long)s->net_text_bytes,
            (unsigned long long)s->net_bytes);
  fprintf(out, "%-12s %9llu bytes: file header 16, file CRC 4\n", "file",
          (unsigned long long)(s->file_bytes - layers - s->model_bytes));
  fprintf(out, "(biases: bytes/bits per bias; codebook entries: centroids stored/bits per centroid)\n");
}

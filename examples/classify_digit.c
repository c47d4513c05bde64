/* classify_digit MODEL.dcz DIGIT.png: the digit a compressed MNIST model sees. */
#include <stdio.h>

#include "dcz.h"

int main(int argc, char **argv) {
  dcz_model *m;
  float p[10];
  if (argc != 3) return fprintf(stderr, "usage: classify_digit MODEL.dcz DIGIT.png\n"), 2;
  if (dcz_open(argv[1], NULL, &m) != DCZ_OK) return fprintf(stderr, "%s\n", dcz_last_error()), 1;
  if (dcz_num_classes(m) != 10 || dcz_classify_file(m, argv[2], p) != DCZ_OK) {
    fprintf(stderr, "%s\n", dcz_num_classes(m) != 10 ? "not a 10-class model" : dcz_last_error());
    return dcz_close(m), 1;
  }
  int best = 0;
  for (int i = 1; i < 10; i++) best = p[i] > p[best] ? i : best;
  printf("%s: %d (%.1f%%)\n", argv[2], best, 100 * p[best]);
  dcz_close(m);
  return 0;
}

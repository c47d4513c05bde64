/* dc/predict.h — `dctrain predict`: the top classes of a compressed model for image
 * files or the records of an idx file, run on the inference engine (dc/engine.h). */
#ifndef DC_PREDICT_H
#define DC_PREDICT_H

#include <stdio.h>

#include "dc/error.h"

typedef struct {
  const char *model;        /* the .dcz */
  const char *const *images;/* (nimages) image files (PNG, JPEG, ... via stb_image) */
  int nimages;
  const char *idx;          /* NULL, or an idx3 ubyte image file (plain or gzip) */
  int first;                /* with idx: its first `first` records (>= 1) */
  int top;                  /* classes printed per input (>= 1; capped at the classes) */
  const char *labels;       /* NULL, or a file of class names, one per line */
  const char *experiment;   /* NULL, or an experiment whose net and [data] preprocessing
                               replace the file's (needed for version-1 .dcz files) */
  int threads;              /* >= 1 */
} dc_predict_conf;

/* Load every input (preprocessed as the model says), run them as one batch and print one
 * line per input to out: "NAME: CLASS PROB%, CLASS PROB%, ..." best first, CLASS a name
 * from --labels, else from the model's labels, else the class number. An idx record is
 * named FILE[i]. Fails with one line naming the file: unreadable or undecodable image,
 * an idx file with a bad magic, sizes or fewer records than asked, a labels file with
 * fewer lines than classes, any engine error (dc_engine_open). */
dc_status dc_cmd_predict(const dc_predict_conf *c, FILE *out);

#endif

/* dc/plot.h — line plots as PNG files (the sensitivity analysis; any report). */
#ifndef DC_PLOT_H
#define DC_PLOT_H

#include "dc/error.h"

/* A line plot as an 8-bit RGB PNG written atomically to path (PATH.tmp, renamed): one
 * coloured line with point markers per series (ten colours, then the same ones dashed),
 * x and y axes with tick labels and a light grid, the axis labels, a title and a legend
 * (text in stb_easy_font's bitmap font; non-ASCII characters print as '?'). x[nx] are
 * the abscissae (any order: each series is drawn in ascending x); y[s * nx + i] the
 * value of series s at x[i]; names[nseries] the legend entries. Axis ranges come from
 * the data, widened to round tick steps. 1 <= nx, 1 <= nseries and finite values, else
 * DC_ERR_ARG; DC_ERR_IO when the file cannot be written. */
dc_status dc_plot_png(const char *path, const char *title, const char *xlabel, const char *ylabel, const double *x,
                      int nx, const double *y, int nseries, const char *const *names);

#endif

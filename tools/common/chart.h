/* A small chart module on PLplot's cairo drivers, for any tool: grouped bars, or lines
 * (optionally log-log), with a title, axis labels and a legend, written as SVG or PNG by
 * the output path's extension. Build a chart, add series, write it, free it. PLplot runs
 * in its own stream and prints nothing. */
#ifndef MGPT_CHART_H
#define MGPT_CHART_H
#include <stddef.h>

typedef struct chart chart;

/* A chart with this title and axis labels (copied; any may be ""). NULL: out of memory. */
chart *chart_new(const char *title, const char *xlabel, const char *ylabel);
void chart_free(chart *c);

/* Lines only: log10 axes (values <= 0 are left out of a log axis). */
void chart_set_log(chart *c, int log_x, int log_y);
/* Lines only: label the x axis at these positions instead of numbers (e.g. one commit and
 * date per result file). Copied. 0, or -1 out of memory. */
int chart_set_xticks(chart *c, int n, const double *pos, const char *const *labels);

/* Grouped bars: n_groups categories along x, one bar per series in each; values are
 * [series][group] (n_series * n_groups, row-major); a value <= 0 or not finite draws no
 * bar. Replaces earlier bars. 0, or -1 out of memory. */
int chart_set_bars(chart *c, int n_groups, const char *const *groups, int n_series,
                   const char *const *series, const double *values);

/* One line of n points (copied); it gets the next colour of the palette. 0, or -1. */
int chart_add_line(chart *c, const char *name, int n, const double *x, const double *y);

/* Writes the chart: ".svg" (svgcairo) or ".png" (pngcairo) by path's extension. 0, or -1
 * with err set (an unknown extension, a path that cannot be written, nothing to draw). */
int chart_write(const chart *c, const char *path, char *err, size_t errlen);

/* The palette: series i (bars or lines, in the order given) is drawn in colour i modulo
 * CHART_COLOURS, as 0..255 red, green, blue (tests look for them in the SVG). */
#define CHART_COLOURS 10
void chart_colour(int i, int rgb[3]);
#endif

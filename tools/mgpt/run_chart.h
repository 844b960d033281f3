/* Loss-curve charts of archived runs (SVG through PLplot's svgcairo driver). One function,
 * so the shared chart module of issue 12 can take its place behind it. */
#ifndef MGPT_RUN_CHART_H
#define MGPT_RUN_CHART_H
#include <stddef.h>
#include "run_metrics.h"

typedef struct run_series {
    const char *name;            /* the legend's label: the run ID */
    const run_metrics *m;
} run_series;

/* The training loss (a moving mean over 1/50 of the steps, at least 5, solid) and the
 * validation loss (dashed) of every series against the step, overlaid, into the SVG file
 * path. 0, or -1 with err set. */
int run_chart_loss(const char *path, const char *title, const run_series *s, int n,
                   char *err, size_t errlen);
#endif

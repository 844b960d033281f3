/* A run's metrics.csv read back, and the figures `mgpt runs` shows from it. */
#ifndef MGPT_RUN_METRICS_H
#define MGPT_RUN_METRICS_H
#include <stddef.h>

typedef struct run_metrics {
    long n;                        /* rows */
    double *step, *loss, *val;     /* val: NAN where the step was not validated */
    double *lr, *ms, *tps;
    /* summary */
    long last_step;
    double final_loss;             /* mean training loss of the last RUN_FINAL_WINDOW rows */
    double last_val, best_val;     /* NAN: never validated */
    long best_val_step;
    double best_loss;              /* lowest RUN_FINAL_WINDOW-row mean training loss */
    double seconds, tokens;        /* summed over the rows */
} run_metrics;

#define RUN_FINAL_WINDOW 20

/* dir/metrics.csv into m: 0, or -1 with err set (m is then empty). */
int run_metrics_read(const char *dir, run_metrics *m, char *err, size_t errlen);
void run_metrics_free(run_metrics *m);
#endif

/* Reads metrics.csv (written by run_archive.c) and sums it up. The file of a killed run
 * may end in a partial row: rows that do not parse end the reading. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "run_metrics.h"

void run_metrics_free(run_metrics *m)
{
    free(m->step);
    free(m->loss);
    free(m->val);
    free(m->lr);
    free(m->ms);
    free(m->tps);
    memset(m, 0, sizeof *m);
}

static int grow(run_metrics *m, long cap)
{
    double **cols[] = {&m->step, &m->loss, &m->val, &m->lr, &m->ms, &m->tps};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        double *p = realloc(*cols[i], (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        *cols[i] = p;
    }
    return 0;
}

/* One row "step,loss,val,lr,ms,tps" (val may be empty): 1 if it parsed. */
static int parse_row(char *line, double *v)
{
    char *p = line, *end;
    for (int i = 0; i < 6; i++) {
        if (i == 2 && *p == ',') {
            v[i] = NAN;
            end = p;
        } else {
            errno = 0;
            v[i] = strtod(p, &end);
            if (end == p || errno)
                return 0;
        }
        if (i < 5 && *end != ',')
            return 0;
        p = end + 1;
    }
    return *end == '\n';
}

static void summarise(run_metrics *m)
{
    m->last_val = m->best_val = m->final_loss = m->best_loss = NAN;
    m->best_val_step = -1;
    double window = 0;
    for (long i = 0; i < m->n; i++) {
        if (!isnan(m->val[i])) {
            m->last_val = m->val[i];
            if (isnan(m->best_val) || m->val[i] < m->best_val) {
                m->best_val = m->val[i];
                m->best_val_step = (long)m->step[i];
            }
        }
        m->seconds += m->ms[i] * 1e-3;
        m->tokens += m->tps[i] * m->ms[i] * 1e-3;
        window += m->loss[i];
        if (i >= RUN_FINAL_WINDOW)
            window -= m->loss[i - RUN_FINAL_WINDOW];
        long k = i + 1 < RUN_FINAL_WINDOW ? i + 1 : RUN_FINAL_WINDOW;
        if (k == RUN_FINAL_WINDOW || i == m->n - 1) {
            double mean = window / (double)k;
            if (isnan(m->best_loss) || mean < m->best_loss)
                m->best_loss = mean;
            m->final_loss = mean;
        }
    }
    m->last_step = m->n ? (long)m->step[m->n - 1] : 0;
}

int run_metrics_read(const char *dir, run_metrics *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    if (!fgets(line, sizeof line, f) || strncmp(line, "step,loss,val_loss,", 19) != 0) {
        snprintf(err, errlen, "'%s' is not a metrics file (its first line is not "
                 "'step,loss,val_loss,lr,ms_per_step,tok_per_s')", path);
        fclose(f);
        return -1;
    }
    long cap = 0;
    double v[6];
    while (fgets(line, sizeof line, f) && parse_row(line, v)) {
        if (m->n == cap && grow(m, cap = cap ? 2 * cap : 256) != 0) {
            snprintf(err, errlen, "out of memory reading '%s'", path);
            fclose(f);
            run_metrics_free(m);
            return -1;
        }
        m->step[m->n] = v[0];
        m->loss[m->n] = v[1];
        m->val[m->n] = v[2];
        m->lr[m->n] = v[3];
        m->ms[m->n] = v[4];
        m->tps[m->n] = v[5];
        m->n++;
    }
    fclose(f);
    summarise(m);
    return 0;
}

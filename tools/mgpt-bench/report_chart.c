/* Result files as a chart (tools/common/chart.h). One file: GFLOP/s (or ms/step) of each
 * config x backend as grouped bars. Several files, in the order given: one trend line per
 * (backend, config) over them, the x axis labelled with each file's commit and date. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"
#include "chart.h"

/* Index of s in v[0..*n-1], appended if absent. */
static int index_of(const char **v, int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(v[i], s) == 0)
            return i;
    v[*n] = s;
    return (*n)++;
}

static double value_of(const bench_entry *e, int ms)
{
    return ms ? e->ms : e->gflops;
}

static int bars(chart *c, const bench_file *f, int ms)
{
    const char **configs = calloc((size_t)f->n + 1, sizeof *configs);
    const char **backends = calloc((size_t)f->n + 1, sizeof *backends);
    double *v = calloc((size_t)f->n * (size_t)f->n + 1, sizeof *v);
    int nc = 0, nb = 0, rc = -1;
    if (configs && backends && v) {
        for (int i = 0; i < f->n; i++) {
            index_of(configs, &nc, f->e[i].config);
            index_of(backends, &nb, f->e[i].backend);
        }
        for (int i = 0; i < f->n; i++) {
            int ci = index_of(configs, &nc, f->e[i].config);
            int bi = index_of(backends, &nb, f->e[i].backend);
            v[(size_t)bi * nc + ci] = value_of(&f->e[i], ms);
        }
        rc = chart_set_bars(c, nc, configs, nb, backends, v);
    }
    free(configs), free(backends), free(v);
    return rc;
}

/* "abc1234 2026-12-04", or the date alone without a commit */
static void file_label(const bench_file *f, char *buf, size_t len)
{
    char date[16] = "";
    snprintf(date, sizeof date, "%.10s", f->timestamp);
    if (f->commit[0])
        snprintf(buf, len, "%.12s %s", f->commit, date);
    else
        snprintf(buf, len, "%s", date[0] ? date : "?");
}

static int trends(chart *c, const bench_file *files, int n, int ms)
{
    double *x = calloc((size_t)n, sizeof *x), *y = calloc((size_t)n, sizeof *y);
    char (*labels)[64] = calloc((size_t)n, sizeof *labels);
    const char **lp = calloc((size_t)n, sizeof *lp);
    int rc = x && y && labels && lp ? 0 : -1;
    for (int k = 0; rc == 0 && k < n; k++) {
        x[k] = k;
        file_label(&files[k], labels[k], sizeof labels[k]);
        lp[k] = labels[k];
    }
    if (rc == 0)
        rc = chart_set_xticks(c, n, x, lp);
    /* a line per (backend, config) seen in any file, in order of first appearance */
    for (int k = 0; rc == 0 && k < n; k++)
        for (int i = 0; rc == 0 && i < files[k].n; i++) {
            const bench_entry *e = &files[k].e[i];
            int seen = 0;
            for (int j = 0; j < k && !seen; j++)
                for (int m = 0; m < files[j].n && !seen; m++)
                    seen = strcmp(files[j].e[m].backend, e->backend) == 0 &&
                           strcmp(files[j].e[m].config, e->config) == 0;
            if (seen)
                continue;
            for (int j = 0; j < n; j++) {
                y[j] = NAN;
                for (int m = 0; m < files[j].n; m++)
                    if (strcmp(files[j].e[m].backend, e->backend) == 0 &&
                        strcmp(files[j].e[m].config, e->config) == 0)
                        y[j] = value_of(&files[j].e[m], ms);
            }
            char name[160];
            snprintf(name, sizeof name, "%s %s", e->backend, e->config);
            rc = chart_add_line(c, name, n, x, y);
        }
    free(x), free(y), free(labels), free(lp);
    return rc;
}

int bench_chart_files(const char *cmd, int n, const char *const *paths, int ms,
                      const char *out)
{
    bench_file *files = calloc((size_t)n, sizeof *files);
    if (!files) {
        tool_error(cmd, "out of memory");
        return BENCH_FAIL;
    }
    int rc = BENCH_USAGE, read = 0;
    for (; read < n; read++)
        if (bench_read_json(cmd, paths[read], "ms_per_step", &files[read]) != 0)
            goto out;
    rc = BENCH_FAIL;
    const char *what = ms ? "ms/step (median)" : "GFLOP/s";
    char title[256];
    snprintf(title, sizeof title, "mgpt-bench: %s%s%s", what, n > 1 ? " over " : "",
             n > 1 ? "runs" : "");
    chart *c = chart_new(title, n > 1 ? "run (commit, date)" : "config", what);
    if (!c || (n == 1 ? bars(c, &files[0], ms) : trends(c, files, n, ms)) != 0) {
        tool_error(cmd, "out of memory");
        chart_free(c);
        goto out;
    }
    char err[512];
    if (chart_write(c, out, err, sizeof err) != 0) {
        tool_error(cmd, "%s", err);
        rc = strstr(err, "does not end") ? BENCH_USAGE : BENCH_FAIL;
    } else {
        rc = BENCH_OK;
    }
    chart_free(c);
out:
    for (int i = 0; i < read && i < n; i++)
        bench_file_free(&files[i]);
    free(files);
    return rc;
}

/* Number formats shared by the tables, and the markdown reports (for pull requests and CI
 * summaries) of `run` and `compare`. */
#include <math.h>
#include <string.h>
#include "bench.h"

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

void bench_fmt_ms(char *buf, size_t len, double ms)
{
    if (!isfinite(ms))
        snprintf(buf, len, "-");
    else if (ms >= 100)
        snprintf(buf, len, "%.1f", ms);
    else if (ms >= 10)
        snprintf(buf, len, "%.2f", ms);
    else if (ms >= 1)
        snprintf(buf, len, "%.3f", ms);
    else if (ms > 0) /* as many decimals as 4 significant digits need: 0.004873 */
        snprintf(buf, len, "%.*f", 3 - (int)floor(log10(ms)), ms);
    else
        snprintf(buf, len, "%.4f", ms);
}

void bench_fmt_count(char *buf, size_t len, double v)
{
    char digits[64];
    if (!isfinite(v) || v < 0 || v >= 1e18) {
        snprintf(buf, len, "%g", v);
        return;
    }
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* The speed-up of r over the scalar backend's result for the same config, 0 if none. */
static double vs_scalar(const bench_run *run, const bench_result *r)
{
    for (int i = 0; i < run->n; i++) {
        const bench_result *s = &run->results[i];
        if (strcmp(s->backend, "scalar") == 0 && strcmp(s->config, r->config) == 0 &&
            r->ms_median > 0)
            return s->ms_median / r->ms_median;
    }
    return 0;
}

void bench_result_cells(const bench_run *run, const bench_result *r, bench_cells *c)
{
    bench_fmt_count(c->params, sizeof c->params, (double)r->params);
    bench_fmt_ms(c->ms, sizeof c->ms, r->ms_median);
    bench_fmt_ms(c->ms_min, sizeof c->ms_min, r->ms_min);
    bench_fmt_ms(c->ms_max, sizeof c->ms_max, r->ms_max);
    bench_fmt_count(c->tokens_per_s, sizeof c->tokens_per_s, r->tokens_per_s);
    tool_fmt_sig3(c->gflops, sizeof c->gflops, r->gflops);
    double x = vs_scalar(run, r);
    if (x > 0)
        snprintf(c->vs_scalar, sizeof c->vs_scalar, "%.2fx", x);
    else
        snprintf(c->vs_scalar, sizeof c->vs_scalar, "-");
}

int bench_write_run_markdown(const bench_run *run, FILE *f)
{
    char machine[256];
    bench_machine_describe(machine, sizeof machine);
    const bench_settings *s = &run->settings;
    fprintf(f, "## mgpt-bench: training step times\n\n");
    fprintf(f, "- Machine: %s\n", machine);
    fprintf(f, "- mgpt %s, %s, --threads %d; %d warmup step%s, then %d repeat%s of ",
            PACKAGE_VERSION, run->timestamp, s->threads, s->warmup, s->warmup == 1 ? "" : "s",
            s->repeats, s->repeats == 1 ? "" : "s");
    if (s->steps)
        fprintf(f, "%d steps\n", s->steps);
    else
        fprintf(f, "about %g s (steps calibrated per config)\n", s->min_time);
    fprintf(f, "- A step is batch fill, forward, backward and Adam; ms/step is the median "
               "over the repeats; tokens/s counts the unmasked targets; GFLOP/s is the "
               "engine's FLOPs of a step (padded positions included) over the median step "
               "time, as `mgpt train` reports them\n\n");
    fprintf(f, "| backend | config | params | threads | ms/step | min | max | tokens/s | "
               "GFLOP/s | vs scalar |\n");
    fprintf(f, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (int i = 0; i < run->n; i++) {
        const bench_result *r = &run->results[i];
        bench_cells c;
        bench_result_cells(run, r, &c);
        fprintf(f, "| %s | `%s` | %s | %d | %s | %s | %s | %s | %s | %s |\n", r->backend,
                r->config, c.params, r->threads, c.ms, c.ms_min, c.ms_max, c.tokens_per_s,
                c.gflops, c.vs_scalar);
    }
    for (int i = 0; i < run->n_skipped; i++)
        fprintf(f, "%s- Skipped %s: %s\n", i == 0 ? "\n" : "", run->skipped[i].backend,
                run->skipped[i].reason);
    return ferror(f) ? -1 : 0;
}

const char *cmp_status_name(cmp_status s)
{
    switch (s) {
    case CMP_REGRESSION:
        return "REGRESSION";
    case CMP_IMPROVED:
        return "improved";
    case CMP_ONLY_BASE:
        return "only in base";
    case CMP_ONLY_CURRENT:
        return "only in current";
    default:
        return "ok";
    }
}

int bench_write_compare_markdown(const cmp_row *rows, int n, double threshold,
                                 const char *metric, const char *base, const char *cur,
                                 const char *chart, FILE *f)
{
    int regressions = 0, improved = 0;
    for (int i = 0; i < n; i++) {
        regressions += rows[i].status == CMP_REGRESSION;
        improved += rows[i].status == CMP_IMPROVED;
    }
    fprintf(f, "## mgpt-bench: %s\n\n", regressions ? "performance regression" : "no regression");
    fprintf(f, "Base `%s`, current `%s`; the %s ms/step of the repeats; threshold %g%% (a "
               "step slower by more is a regression).\n\n", base, cur, metric, 100 * threshold);
    fprintf(f, "| backend | config | base ms/step | current ms/step | change | status |\n");
    fprintf(f, "|---|---|--:|--:|--:|---|\n");
    for (int i = 0; i < n; i++) {
        const cmp_row *r = &rows[i];
        char b[32] = "-", c[32] = "-", ch[32] = "-";
        if (r->base_ms > 0)
            bench_fmt_ms(b, sizeof b, r->base_ms);
        if (r->cur_ms > 0)
            bench_fmt_ms(c, sizeof c, r->cur_ms);
        if (r->base_ms > 0 && r->cur_ms > 0)
            snprintf(ch, sizeof ch, "%+.1f%%", 100 * (r->ratio - 1));
        const char *st = cmp_status_name(r->status);
        fprintf(f, "| %s | `%s` | %s | %s | %s | %s%s%s |\n", r->backend, r->config, b, c, ch,
                r->status == CMP_REGRESSION ? "**" : "", st,
                r->status == CMP_REGRESSION ? "**" : "");
    }
    fprintf(f, "\n%d regression%s, %d improvement%s.\n", regressions, regressions == 1 ? "" : "s",
            improved, improved == 1 ? "" : "s");
    if (chart) { /* a link by its name: the chart is written beside the report */
        const char *slash = strrchr(chart, '/');
        fprintf(f, "\n![GFLOP/s, base and current](%s)\n", slash ? slash + 1 : chart);
    }
    return ferror(f) ? -1 : 0;
}

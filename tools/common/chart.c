/* Charts through PLplot (plplot.sourceforge.net): its cairo drivers write SVG (svgcairo)
 * and PNG (pngcairo). Each chart_write opens a fresh PLplot stream and ends it, so charts
 * do not share state; the output file is opened here first because PLplot exits the
 * process when it cannot open one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <strings.h>
#include <plplot.h>
#include "chart.h"

typedef struct chart_line {
    char *name;
    int n;
    double *x, *y;
} chart_line;

struct chart {
    char *title, *xlabel, *ylabel;
    int log_x, log_y;
    int n_ticks;
    double *tick_pos;
    char **tick_labels;
    int n_groups, n_series;
    char **groups, **series;
    double *bars;            /* [series][group] */
    int n_lines;
    chart_line *lines;
};

/* Tableau 10: distinct on screen and in print */
static const int palette[CHART_COLOURS][3] = {
    {78, 121, 167}, {242, 142, 43}, {225, 87, 89}, {118, 183, 178}, {89, 161, 79},
    {237, 201, 72}, {176, 122, 161}, {255, 157, 167}, {156, 117, 95}, {186, 176, 172},
};

void chart_colour(int i, int rgb[3])
{
    for (int k = 0; k < 3; k++)
        rgb[k] = palette[i % CHART_COLOURS][k];
}

static char *dup_str(const char *s)
{
    s = s ? s : "";
    char *d = malloc(strlen(s) + 1);
    if (d)
        strcpy(d, s);
    return d;
}

static void free_strs(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static char **dup_strs(int n, const char *const *v)
{
    char **d = calloc(n > 0 ? (size_t)n : 1, sizeof *d);
    for (int i = 0; d && i < n; i++)
        if (!(d[i] = dup_str(v[i]))) {
            free_strs(d, i);
            return NULL;
        }
    return d;
}

chart *chart_new(const char *title, const char *xlabel, const char *ylabel)
{
    chart *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->title = dup_str(title);
    c->xlabel = dup_str(xlabel);
    c->ylabel = dup_str(ylabel);
    if (!c->title || !c->xlabel || !c->ylabel) {
        chart_free(c);
        return NULL;
    }
    return c;
}

void chart_free(chart *c)
{
    if (!c)
        return;
    free(c->title), free(c->xlabel), free(c->ylabel);
    free(c->tick_pos);
    free_strs(c->tick_labels, c->n_ticks);
    free_strs(c->groups, c->n_groups);
    free_strs(c->series, c->n_series);
    free(c->bars);
    for (int i = 0; i < c->n_lines; i++) {
        free(c->lines[i].name);
        free(c->lines[i].x);
        free(c->lines[i].y);
    }
    free(c->lines);
    free(c);
}

void chart_set_log(chart *c, int log_x, int log_y)
{
    c->log_x = log_x;
    c->log_y = log_y;
}

int chart_set_xticks(chart *c, int n, const double *pos, const char *const *labels)
{
    double *p = malloc((n > 0 ? (size_t)n : 1) * sizeof *p);
    char **l = dup_strs(n, labels);
    if (!p || !l) {
        free(p);
        free_strs(l, n);
        return -1;
    }
    memcpy(p, pos, (size_t)n * sizeof *p);
    free(c->tick_pos);
    free_strs(c->tick_labels, c->n_ticks);
    c->tick_pos = p, c->tick_labels = l, c->n_ticks = n;
    return 0;
}

int chart_set_bars(chart *c, int n_groups, const char *const *groups, int n_series,
                   const char *const *series, const double *values)
{
    size_t nv = (size_t)n_groups * (size_t)n_series;
    char **g = dup_strs(n_groups, groups), **s = dup_strs(n_series, series);
    double *v = malloc((nv ? nv : 1) * sizeof *v);
    if (!g || !s || !v) {
        free_strs(g, n_groups), free_strs(s, n_series), free(v);
        return -1;
    }
    memcpy(v, values, nv * sizeof *v);
    free_strs(c->groups, c->n_groups), free_strs(c->series, c->n_series), free(c->bars);
    c->groups = g, c->series = s, c->bars = v;
    c->n_groups = n_groups, c->n_series = n_series;
    return 0;
}

int chart_add_line(chart *c, const char *name, int n, const double *x, const double *y)
{
    chart_line *v = realloc(c->lines, (size_t)(c->n_lines + 1) * sizeof *v);
    if (!v)
        return -1;
    c->lines = v;
    chart_line *l = &v[c->n_lines];
    l->name = dup_str(name);
    l->n = n;
    l->x = malloc((n > 0 ? (size_t)n : 1) * sizeof *l->x);
    l->y = malloc((n > 0 ? (size_t)n : 1) * sizeof *l->y);
    if (!l->name || !l->x || !l->y) {
        free(l->name), free(l->x), free(l->y);
        return -1;
    }
    memcpy(l->x, x, (size_t)n * sizeof *x);
    memcpy(l->y, y, (size_t)n * sizeof *y);
    c->n_lines++;
    return 0;
}

/* --- drawing -------------------------------------------------------------------------- */

static const char *device_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && strcasecmp(dot, ".svg") == 0)
        return "svgcairo";
    if (dot && strcasecmp(dot, ".png") == 0)
        return "pngcairo";
    return NULL;
}

/* Colour map 0: 0 background (white), 1 ink (axes, text), 2.. the palette. */
static void set_colours(void)
{
    plscol0(0, 255, 255, 255);
    plscol0(1, 0, 0, 0);
    for (int i = 0; i < CHART_COLOURS; i++)
        plscol0(2 + i, palette[i][0], palette[i][1], palette[i][2]);
}

static int ok_value(double v, int log_axis)
{
    return isfinite(v) && (!log_axis || v > 0);
}

static double axis_value(double v, int log_axis)
{
    return log_axis ? log10(v) : v;
}

/* Pads [lo, hi] so nothing sits on the frame; a log axis pads to whole decades. */
static void pad_range(double *lo, double *hi, int log_axis, int from_zero)
{
    if (log_axis) {
        *lo = floor(*lo);
        *hi = ceil(*hi);
        if (*hi <= *lo)
            *hi = *lo + 1;
        return;
    }
    if (from_zero && *lo > 0)
        *lo = 0;
    double span = *hi - *lo;
    if (!(span > 0))
        span = fabs(*hi) > 0 ? fabs(*hi) : 1;
    *hi += 0.08 * span;
    if (!from_zero)
        *lo -= 0.05 * span;
}

static void legend(int n, char **names, int boxes)
{
    PLINT *opt = calloc((size_t)n, sizeof *opt), *col = calloc((size_t)n, sizeof *col);
    PLINT *ink = calloc((size_t)n, sizeof *ink), *pat = calloc((size_t)n, sizeof *pat);
    PLINT *style = calloc((size_t)n, sizeof *style);
    PLFLT *scale = calloc((size_t)n, sizeof *scale), *width = calloc((size_t)n, sizeof *width);
    if (opt && col && ink && pat && style && scale && width) {
        for (int i = 0; i < n; i++) {
            opt[i] = boxes ? PL_LEGEND_COLOR_BOX : PL_LEGEND_LINE;
            col[i] = 2 + i % CHART_COLOURS;
            ink[i] = 1;
            style[i] = 1;
            scale[i] = 0.8;
            width[i] = 2.0;
        }
        PLFLT w, h;
        pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
                 PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.02, 0.0, 0.08,
                 0, 1, 1, 0, 0, n, opt, 0.8, 0.75, 2.0, 0.0, ink, (const char *const *)names,
                 col, pat, scale, width, col, style, width, NULL, NULL, NULL, NULL);
    }
    free(opt), free(col), free(ink), free(pat), free(style), free(scale), free(width);
}

static void draw_bars(const chart *c)
{
    double hi = 0;
    for (int i = 0; i < c->n_groups * c->n_series; i++)
        if (ok_value(c->bars[i], 0) && c->bars[i] > hi)
            hi = c->bars[i];
    double lo = 0;
    pad_range(&lo, &hi, 0, 1);
    plwind(0, c->n_groups, lo, hi);
    plcol0(1);
    plbox("bc", 0, 0, "bcnstv", 0, 0);
    double w = 0.8 / c->n_series;
    for (int g = 0; g < c->n_groups; g++) {
        for (int s = 0; s < c->n_series; s++) {
            double v = c->bars[(size_t)s * c->n_groups + g];
            if (!(ok_value(v, 0) && v > 0))
                continue;
            double x0 = g + 0.1 + s * w;
            PLFLT x[4] = {x0, x0, x0 + w, x0 + w}, y[4] = {0, v, v, 0};
            plcol0(2 + s % CHART_COLOURS);
            plfill(4, x, y);
        }
        plcol0(1);
        plmtex("b", 1.2 + 1.1 * (g % 2), (g + 0.5) / c->n_groups, 0.5, c->groups[g]);
    }
    legend(c->n_series, c->series, 1);
}

static void draw_lines(const chart *c)
{
    double xlo = HUGE_VAL, xhi = -HUGE_VAL, ylo = HUGE_VAL, yhi = -HUGE_VAL;
    for (int i = 0; i < c->n_lines; i++)
        for (int k = 0; k < c->lines[i].n; k++) {
            double x = c->lines[i].x[k], y = c->lines[i].y[k];
            if (!ok_value(x, c->log_x) || !ok_value(y, c->log_y))
                continue;
            x = axis_value(x, c->log_x), y = axis_value(y, c->log_y);
            xlo = x < xlo ? x : xlo, xhi = x > xhi ? x : xhi;
            ylo = y < ylo ? y : ylo, yhi = y > yhi ? y : yhi;
        }
    if (xlo > xhi)
        xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    if (c->n_ticks > 0 || !c->log_x) {
        double span = xhi - xlo > 0 ? xhi - xlo : 1;
        xlo -= 0.05 * span, xhi += 0.05 * span;
    } else {
        pad_range(&xlo, &xhi, 1, 0);
    }
    pad_range(&ylo, &yhi, c->log_y, !c->log_y);
    plwind(xlo, xhi, ylo, yhi);
    plcol0(1);
    char xopt[16], yopt[16];
    snprintf(xopt, sizeof xopt, "bc%s", c->n_ticks > 0 ? "" : c->log_x ? "lnst" : "nst");
    snprintf(yopt, sizeof yopt, "bcv%s", c->log_y ? "lnst" : "nst");
    plbox(xopt, 0, 0, yopt, 0, 0);
    for (int t = 0; t < c->n_ticks; t++) {
        double x = axis_value(c->tick_pos[t], c->log_x);
        if (!isfinite(x) || x < xlo || x > xhi)
            continue;
        PLFLT tx[2] = {x, x}, ty[2] = {ylo, ylo + 0.015 * (yhi - ylo)};
        plline(2, tx, ty);
        plmtex("b", 1.2 + 1.1 * (t % 2), (x - xlo) / (xhi - xlo), 0.5, c->tick_labels[t]);
    }
    for (int i = 0; i < c->n_lines; i++) {
        const chart_line *l = &c->lines[i];
        PLFLT *x = malloc((l->n > 0 ? (size_t)l->n : 1) * sizeof *x);
        PLFLT *y = malloc((l->n > 0 ? (size_t)l->n : 1) * sizeof *y);
        int m = 0;
        for (int k = 0; x && y && k < l->n; k++)
            if (ok_value(l->x[k], c->log_x) && ok_value(l->y[k], c->log_y)) {
                x[m] = axis_value(l->x[k], c->log_x);
                y[m++] = axis_value(l->y[k], c->log_y);
            }
        plcol0(2 + i % CHART_COLOURS);
        plwidth(2.0);
        if (m > 1)
            plline(m, x, y);
        plpoin(m, x, y, 17); /* a dot at each measured point */
        plwidth(1.0);
        free(x), free(y);
    }
    char **names = malloc((c->n_lines > 0 ? (size_t)c->n_lines : 1) * sizeof *names);
    if (names) {
        for (int i = 0; i < c->n_lines; i++)
            names[i] = c->lines[i].name;
        legend(c->n_lines, names, 0);
        free(names);
    }
}

int chart_write(const chart *c, const char *path, char *err, size_t errlen)
{
    const char *dev = device_for(path);
    if (!dev) {
        snprintf(err, errlen, "'%s' does not end in .svg or .png (the chart's format comes "
                 "from its extension)", path);
        return -1;
    }
    if (c->n_series == 0 && c->n_lines == 0) {
        snprintf(err, errlen, "nothing to draw in '%s' (no bars and no lines)", path);
        return -1;
    }
    FILE *f = fopen(path, "w");
    if (!f || fclose(f) != 0) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        return -1;
    }
    PLINT old, strm;
    plgstrm(&old);
    plmkstrm(&strm);
    if (strm < 0) {
        snprintf(err, errlen, "PLplot has no free stream for '%s'", path);
        return -1;
    }
    plsdev(dev);
    plsfnam(path);
    plspage(0, 0, 900, 520, 0, 0);
    plspause(0);
    set_colours();
    plinit();
    pladv(0);
    plschr(0, 0.75);
    /* room for the legend on the right and two rows of group labels below */
    plvpor(0.09, 0.74, 0.16, 0.90);
    if (c->n_series > 0)
        draw_bars(c);
    else
        draw_lines(c);
    plcol0(1);
    plmtex("t", 1.5, 0.5, 0.5, c->title);
    plmtex("b", 3.6, 0.5, 0.5, c->xlabel);
    plmtex("l", 4.5, 0.5, 0.5, c->ylabel);
    plend1();
    plsstrm(old);
    return 0;
}

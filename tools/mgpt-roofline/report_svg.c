/* The roofline chart as SVG, written directly: log-log axes (arithmetic intensity against
 * GFLOP/s), for each backend a flat compute ceiling and a sloped ceiling per memory level
 * (colour = backend, dash = level), one marker per kernel, backend and config (shape = op,
 * filled = forward, hollow = backward), a legend with the numbers, axis labels; below it
 * the measured bandwidth curves the ceilings come from (working set per thread against
 * GB/s, log-log, colour = backend, solid = read, dashed = read+write, each plateau marked),
 * and per backend the threads its kernels ran on and the ceilings they are placed against.
 *
 * Why not PLplot (tools/common/chart.c): its SVG driver draws every glyph and marker as
 * anonymous paths, so the per-kernel <g class="kernel"> elements with their data-*
 * attributes and <title> tooltips, and the data-* of each curve, could not be written.
 *
 * Why not cairo: its SVG surface turns every glyph into an outline and every marker into an
 * anonymous path. Written by hand, the text stays text (searchable, selectable, scalable),
 * and each marker is a <g class="kernel"> carrying its backend, kernel and config as
 * attributes and a <title> tooltip with its numbers, which the tests read back with an XML
 * parser. The layout needs no text metrics: columns are placed at fixed positions. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "roofline.h"

#define W 1240
#define PX0 90.0   /* plot area */
#define PX1 840.0
#define PY0 84.0
#define PY1 700.0
#define LX 870.0   /* legend */
#define CY0 800.0  /* the bandwidth curves' plot area: x as the roofline's */
#define CY1 1100.0
#define NOTES_Y 1190.0   /* per backend: threads and ceilings, one line each */

/* Okabe-Ito colours: distinguishable with the common colour-vision deficiencies */
static const char *const palette[] = {"#E69F00", "#009E73", "#0072B2", "#D55E00",
                                      "#CC79A7", "#56B4E9", "#000000", "#8C564B"};
static const char *const level_dash[ROOF_LEVELS] = {"", "9,4", "4,3", "1.5,3"};

typedef struct axes {
    double lx0, lx1, ly0, ly1;   /* log10 ranges */
} axes;

static double sx(const axes *a, double v)
{
    return PX0 + (log10(v) - a->lx0) / (a->lx1 - a->lx0) * (PX1 - PX0);
}

static double sy(const axes *a, double v)
{
    return PY1 - (log10(v) - a->ly0) / (a->ly1 - a->ly0) * (PY1 - PY0);
}

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
                fputc(*s, f);
        }
    }
}

/* The ceilings drawn for b: those most of its kernels are placed against (the all-cores
 * ones only when more of its kernels ran split over the threads than on one; a tie, or
 * no kernels: one thread's). The notes under the chart give every group. */
static int ceiling_set(const roof_backend_result *b)
{
    if (b->c.n_thread_sets < 2)
        return 0;
    roof_thread_group g[8];
    int n = roof_thread_groups(b, NULL, g, 8), one = 0, all = 0;
    for (int i = 0; i < n; i++) {
        if (g[i].ceiling_threads > 1)
            all += g[i].kernels;
        else
            one += g[i].kernels;
    }
    return all > one ? 1 : 0;
}

static int drawable(const roof_backend_result *b)
{
    return b->measured && b->c.has_probes && b->c.peak[0].gflops > 0;
}

/* --- markers: shape by op, fill by direction ------------------------------------------ */

typedef enum { SH_CIRCLE, SH_SQUARE, SH_TRI_UP, SH_DIAMOND, SH_TRI_DOWN, SH_PENTAGON,
               SH_TRI_LEFT, SH_HEXAGON, SH_STAR, SH_COUNT } shape;

typedef struct op_style {
    const char *op;          /* legend name */
    const char *fwd, *bwd;   /* kernel slot names (bwd NULL: one kernel); bwd also names
                              * the slots it begins (matmul_backward: _dinp and _dw) */
    shape sh;
} op_style;

static const op_style ops[] = {
    {"embed", "embed_forward", "embed_backward", SH_CIRCLE},
    {"rmsnorm", "rmsnorm_forward", "rmsnorm_backward", SH_SQUARE},
    {"matmul", "matmul_forward", "matmul_backward", SH_TRI_UP},
    {"attention", "attention_forward", "attention_backward", SH_DIAMOND},
    {"sqrelu", "sqrelu_forward", "sqrelu_backward", SH_TRI_DOWN},
    {"add / accumulate", "add_forward", "accumulate", SH_PENTAGON},
    {"crossentropy", "crossentropy_forward", "crossentropy_backward", SH_TRI_LEFT},
    {"sumsq (grad norm)", "sumsq", NULL, SH_HEXAGON},
    {"adam_update", "adam_update", NULL, SH_STAR},
};
#define N_OPS (sizeof ops / sizeof ops[0])

static const op_style *style_of(const char *kernel, int *backward)
{
    for (size_t i = 0; i < N_OPS; i++) {
        if (strcmp(kernel, ops[i].fwd) == 0) {
            *backward = 0;
            return &ops[i];
        }
        if (ops[i].bwd && strncmp(kernel, ops[i].bwd, strlen(ops[i].bwd)) == 0) {
            *backward = 1;
            return &ops[i];
        }
    }
    *backward = 0;
    return NULL;
}

static void polygon(FILE *f, double x, double y, double r, int n, double rot_deg, double inner)
{
    fputs("M", f);
    int pts = inner > 0 ? 2 * n : n;
    for (int i = 0; i < pts; i++) {
        double rr = inner > 0 && (i % 2) ? r * inner : r;
        double a = (rot_deg + 360.0 * i / pts) * M_PI / 180.0;
        fprintf(f, "%s%.1f,%.1f", i ? " L" : "", x + rr * sin(a), y - rr * cos(a));
    }
    fputs(" Z", f);
}

static void marker(FILE *f, shape sh, double x, double y, double r, const char *color,
                   int hollow)
{
    const char *fill = hollow ? "#ffffff" : color;
    if (sh == SH_CIRCLE) {
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" stroke=\"%s\" "
                   "stroke-width=\"1.6\"/>", x, y, r * 0.9, fill, color);
        return;
    }
    fputs("<path d=\"", f);
    switch (sh) {
    case SH_SQUARE: polygon(f, x, y, r * 1.05, 4, 45, 0); break;
    case SH_TRI_UP: polygon(f, x, y + r * 0.2, r * 1.25, 3, 0, 0); break;
    case SH_DIAMOND: polygon(f, x, y, r * 1.2, 4, 0, 0); break;
    case SH_TRI_DOWN: polygon(f, x, y - r * 0.2, r * 1.25, 3, 180, 0); break;
    case SH_PENTAGON: polygon(f, x, y, r * 1.05, 5, 0, 0); break;
    case SH_TRI_LEFT: polygon(f, x + r * 0.2, y, r * 1.25, 3, 270, 0); break;
    case SH_HEXAGON: polygon(f, x, y, r * 1.05, 6, 0, 0); break;
    case SH_STAR: polygon(f, x, y, r * 1.4, 5, 0, 0.45); break;
    default: polygon(f, x, y, r, 4, 45, 0); break;
    }
    fprintf(f, "\" fill=\"%s\" stroke=\"%s\" stroke-width=\"1.6\" stroke-linejoin=\"round\"/>",
            fill, color);
}

/* --- ranges ------------------------------------------------------------------------------ */

static void widen(double *lo, double *hi, double v)
{
    if (!(v > 0) || !isfinite(v))
        return;
    if (v < *lo)
        *lo = v;
    if (v > *hi)
        *hi = v;
}

static axes plan_axes(const roof_run *run)
{
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
    for (int i = 0; i < run->n_be; i++) {
        const roof_backend_result *b = &run->be[i];
        for (int k = 0; k < b->n_kernels; k++) {
            widen(&xlo, &xhi, b->kernels[k].ai);
            widen(&ylo, &yhi, b->kernels[k].gflops);
        }
        if (!drawable(b))
            continue;
        int s = ceiling_set(b);
        double peak = b->c.peak[s].gflops;
        widen(&ylo, &yhi, peak);
        for (int l = 0; l < ROOF_LEVELS; l++)
            if (b->c.bw[s][l].gbs > 0)
                widen(&xlo, &xhi, peak / b->c.bw[s][l].gbs);   /* ridge points */
    }
    if (!(xhi > 0)) {
        xlo = 0.01;
        xhi = 100;
    }
    if (!(yhi > 0)) {
        ylo = 0.1;
        yhi = 1000;
    }
    axes a;
    a.lx0 = floor(log10(xlo / 1.5));
    a.lx1 = ceil(log10(xhi * 2));
    a.ly0 = floor(log10(ylo / 1.5));
    a.ly1 = ceil(log10(yhi * 1.6));
    if (a.lx1 - a.lx0 < 2)
        a.lx1 = a.lx0 + 2;
    if (a.ly1 - a.ly0 < 2)
        a.ly0 = a.ly1 - 2;
    return a;
}

static void tick_label(char *buf, size_t len, int e)
{
    if (e >= 0 && e <= 6)
        snprintf(buf, len, "%.0f", pow(10, e));
    else if (e < 0 && e >= -4)
        snprintf(buf, len, "%.*f", -e, pow(10, e));
    else
        snprintf(buf, len, "1e%d", e);
}

static void grid_and_axes(FILE *f, const axes *a)
{
    fputs("<g id=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"0.8\">\n", f);
    for (int e = (int)a->lx0; e < (int)a->lx1; e++)
        for (int m = 2; m < 10; m++) {
            double x = sx(a, m * pow(10, e));
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, PY0, x, PY1);
        }
    for (int e = (int)a->ly0; e < (int)a->ly1; e++)
        for (int m = 2; m < 10; m++) {
            double y = sy(a, m * pow(10, e));
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", PX0, y, PX1, y);
        }
    fputs("</g>\n<g id=\"axes\" font-size=\"13\" fill=\"#222\">\n", f);
    for (int e = (int)a->lx0; e <= (int)a->lx1; e++) {
        double x = sx(a, pow(10, e));
        char t[32];
        tick_label(t, sizeof t, e);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#b0b0b0\"/>\n",
                x, PY0, x, PY1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x, PY1 + 20, t);
    }
    for (int e = (int)a->ly0; e <= (int)a->ly1; e++) {
        double y = sy(a, pow(10, e));
        char t[32];
        tick_label(t, sizeof t, e);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#b0b0b0\"/>\n",
                PX0, y, PX1, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", PX0 - 8, y + 4.5, t);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#444\" stroke-width=\"1.2\"/>\n", PX0, PY0, PX1 - PX0, PY1 - PY0);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"15\">"
               "arithmetic intensity (FLOP per byte)</text>\n", (PX0 + PX1) / 2, PY1 + 48);
    fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\" "
               "font-size=\"15\">performance (GFLOP/s, fp32)</text>\n", PX0 - 58, (PY0 + PY1) / 2);
    fputs("</g>\n", f);
}

/* --- ceilings ---------------------------------------------------------------------------- */

static void ceilings(FILE *f, const roof_run *run, const axes *a)
{
    double xmin = pow(10, a->lx0), xmax = pow(10, a->lx1), ymin = pow(10, a->ly0);
    fputs("<g id=\"ceilings\" clip-path=\"url(#plot)\" fill=\"none\">\n", f);
    for (int i = 0; i < run->n_be; i++) {
        const roof_backend_result *b = &run->be[i];
        if (!drawable(b))
            continue;
        const char *col = palette[i % 8];
        int s = ceiling_set(b);
        double peak = b->c.peak[s].gflops, first_ridge = INFINITY;
        for (int l = 0; l < ROOF_LEVELS; l++) {
            double bw = b->c.bw[s][l].gbs;
            if (!(bw > 0))
                continue;
            double ridge = peak / bw;
            if (ridge < first_ridge)
                first_ridge = ridge;
            double x0 = xmin, y0 = xmin * bw;
            if (y0 < ymin) {
                x0 = ymin / bw;
                y0 = ymin;
            }
            if (x0 >= ridge)
                continue;
            fprintf(f, "<path class=\"ceiling memory\" data-backend=\"");
            esc(f, b->name);
            fprintf(f, "\" data-level=\"%s\" data-gbs=\"%.3f\" d=\"M%.1f,%.1f L%.1f,%.1f\" "
                       "stroke=\"%s\" stroke-width=\"1.4\" stroke-opacity=\"0.7\"%s%s%s/>\n",
                    roof_level_names[l], bw, sx(a, x0), sy(a, y0), sx(a, ridge), sy(a, peak), col,
                    level_dash[l][0] ? " stroke-dasharray=\"" : "", level_dash[l],
                    level_dash[l][0] ? "\"" : "");
        }
        if (!isfinite(first_ridge))
            first_ridge = xmin;
        fprintf(f, "<path class=\"ceiling compute\" data-backend=\"");
        esc(f, b->name);
        fprintf(f, "\" data-gflops=\"%.3f\" d=\"M%.1f,%.1f L%.1f,%.1f\" stroke=\"%s\" "
                   "stroke-width=\"2.8\"/>\n",
                peak, sx(a, first_ridge), sy(a, peak), sx(a, xmax), sy(a, peak), col);
    }
    fputs("</g>\n", f);

}

/* Names of the memory levels along the fastest backend's sloped ceilings, and each compute
 * ceiling's value at its right end; drawn over the markers, on a white halo. */
static void labels(FILE *f, const roof_run *run, const axes *a)
{
    /* the level names along the sloped ceilings of the fastest backend */
    int top = -1;
    for (int i = 0; i < run->n_be; i++)
        if (drawable(&run->be[i]) &&
            (top < 0 || run->be[i].c.peak[ceiling_set(&run->be[i])].gflops >
                            run->be[top].c.peak[ceiling_set(&run->be[top])].gflops))
            top = i;
    if (top >= 0) {
        const roof_backend_result *b = &run->be[top];
        int s = ceiling_set(b);
        double peak = b->c.peak[s].gflops;
        /* the on-screen angle of a line of slope 1 in log-log */
        double ang = atan(((PY1 - PY0) / (a->ly1 - a->ly0)) / ((PX1 - PX0) / (a->lx1 - a->lx0))) *
                     180 / M_PI;
        double last_x = -1e9;
        fprintf(f, "<g id=\"level-labels\" font-size=\"11\" font-weight=\"bold\" fill=\"%s\" "
                   "stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">\n",
                palette[top % 8]);
        for (int l = 0; l < ROOF_LEVELS; l++) {
            double bw = b->c.bw[s][l].gbs;
            if (!(bw > 0))
                continue;
            double xr = peak / bw / 1.8, yr = xr * bw;   /* just below the ridge */
            double px = sx(a, xr), py = sy(a, yr);
            if (px < PX0 + 20 || py > PY1 - 10 || fabs(px - last_x) < 34)
                continue;
            last_x = px;
            fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(%.1f)\" text-anchor=\"middle\""
                       " dy=\"-4\">%s</text>\n", px, py, -ang, roof_level_names[l]);
        }
        fputs("</g>\n", f);
    }

    /* labels of the compute ceilings at the right end, nudged apart when close */
    fputs("<g id=\"ceiling-labels\" font-size=\"12\" font-weight=\"bold\" text-anchor=\"end\" "
          "stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">\n", f);
    double used_y[64];
    int n_used = 0;
    for (int i = run->n_be - 1; i >= 0; i--) {
        const roof_backend_result *b = &run->be[i];
        if (!drawable(b))
            continue;
        double y = sy(a, b->c.peak[ceiling_set(b)].gflops) - 5;
        for (int k = 0; k < n_used; k++)
            if (fabs(used_y[k] - y) < 14)
                y = used_y[k] + 14;
        if (n_used < 64)
            used_y[n_used++] = y;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">", PX1 - 6, y, palette[i % 8]);
        esc(f, b->name);
        double pk = b->c.peak[ceiling_set(b)].gflops;
        fprintf(f, " %.*f GFLOP/s</text>\n", pk < 10 ? 1 : 0, pk);
    }
    fputs("</g>\n", f);
}

/* --- kernels ------------------------------------------------------------------------------ */

static void kernels(FILE *f, const roof_run *run, const axes *a)
{
    fputs("<g id=\"kernels\" clip-path=\"url(#plot)\">\n", f);
    for (int i = 0; i < run->n_be; i++) {
        const roof_backend_result *b = &run->be[i];
        for (int k = 0; k < b->n_kernels; k++) {
            const roof_kernel *kr = &b->kernels[k];
            if (!(kr->ai > 0) || !(kr->gflops > 0))
                continue;
            int backward;
            const op_style *st = style_of(kr->name, &backward);
            fputs("<g class=\"kernel\" data-backend=\"", f);
            esc(f, b->name);
            fprintf(f, "\" data-kernel=\"%s\" data-config=\"", kr->name);
            esc(f, kr->config);
            fprintf(f, "\" data-ai=\"%.4g\" data-gflops=\"%.4g\"><title>", kr->ai, kr->gflops);
            esc(f, b->name);
            fprintf(f, " %s%s on ", kr->name, kr->native ? "" : " (scalar reference)");
            esc(f, kr->config);
            fprintf(f, ": AI %.3g FLOP/B, %.3g GFLOP/s, %.3g GB/s, %s", kr->ai, kr->gflops,
                    kr->gbs, roof_level_names[kr->level]);
            if (kr->ceiling_gflops > 0)
                fprintf(f, ", %s-bound, %.1f%% of %.3g GFLOP/s",
                        kr->compute_bound ? "compute" : "memory", kr->percent, kr->ceiling_gflops);
            fputs("</title>", f);
            marker(f, st ? st->sh : SH_SQUARE, sx(a, kr->ai), sy(a, kr->gflops), 6.0,
                   palette[i % 8], backward);
            fputs("</g>\n", f);
        }
    }
    fputs("</g>\n", f);
}

/* --- legend ------------------------------------------------------------------------------- */

static void legend(FILE *f, const roof_run *run)
{
    double y = PY0 + 4;
    fputs("<g id=\"legend\" font-size=\"12\" fill=\"#222\">\n", f);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\" font-size=\"13\">Measured ceilings"
               " drawn (threads)</text>\n", LX, y);
    y += 20;
    static const double col[] = {LX + 150, LX + 197, LX + 244, LX + 291, LX + 345};
    static const char *const head[] = {"GFLOP/s", "L1", "L2", "L3", "DRAM"};
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\">peak</text>\n",
            col[0], y);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">"
               "bandwidth, GB/s</text>\n", (col[1] + col[4]) / 2 - 12, y);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#bbb\"/>\n",
            col[1] - 30, y + 4, col[4], y + 4);
    y += 16;
    for (int c = 0; c < 5; c++)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\">%s</text>\n",
                col[c], y, head[c]);
    y += 20;
    for (int i = 0; i < run->n_be; i++) {
        const roof_backend_result *b = &run->be[i];
        const char *c = palette[i % 8];
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"3\"/>\n", LX, y - 4, LX + 22, y - 4, c);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" font-weight=\"bold\">", LX + 28, y, c);
        esc(f, b->name);
        if (drawable(b))
            fprintf(f, " (%d)", b->c.peak[ceiling_set(b)].threads);
        fputs("</text>\n", f);
        if (!drawable(b)) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#777\">%s</text>\n", LX + 90, y,
                    b->measured ? "no probes" : "not run here");
            y += 18;
            continue;
        }
        int s = ceiling_set(b);
        double pk = b->c.peak[s].gflops;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", col[0], y,
                pk < 10 ? 1 : 0, pk);
        for (int l = 0; l < ROOF_LEVELS; l++) {
            double bw = b->c.bw[s][l].gbs;
            if (bw > 0)
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
                        col[l + 1], y, bw < 10 ? 1 : 0, bw);
            else
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">-</text>\n",
                        col[l + 1], y);
        }
        y += 18;
    }

    y += 14;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\" font-size=\"13\">Memory ceilings"
               " (plateaus, below)</text>\n", LX, y);
    y += 20;
    for (int l = 0; l < ROOF_LEVELS; l++) {
        /* the levels some backend's read curve shows, whatever the OS says */
        int shown = 0;
        for (int i = 0; i < run->n_be; i++)
            shown |= drawable(&run->be[i]) && run->be[i].c.bw[ceiling_set(&run->be[i])][l].gbs > 0;
        if (!shown)
            continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
                   "stroke-width=\"1.6\"%s%s%s/>\n", LX, y - 4, LX + 40, y - 4,
                level_dash[l][0] ? " stroke-dasharray=\"" : "", level_dash[l],
                level_dash[l][0] ? "\"" : "");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s plateau of the read curve</text>\n",
                LX + 50, y, roof_level_names[l]);
        y += 18;
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
               "stroke-width=\"2.8\"/>\n", LX, y - 4, LX + 40, y - 4);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">compute peak (peak_flops probe)</text>\n", LX + 50, y);
    y += 30;

    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\" font-size=\"13\">Kernels"
               "</text>\n", LX, y);
    y += 20;
    for (size_t i = 0; i < N_OPS; i++) {
        marker(f, ops[i].sh, LX + 8, y - 4, 5.5, "#333", 0);
        if (ops[i].bwd)
            marker(f, ops[i].sh, LX + 26, y - 4, 5.5, "#333", 1);
        fprintf(f, "\n<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", LX + 42, y, ops[i].op);
        y += 18;
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">filled: forward, hollow: backward"
               "</text>\n", LX, y + 2);
    y += 18;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">hover a marker for its numbers</text>\n",
            LX, y + 2);
    /* AI 0 has no place on a log axis */
    int flopless = 0;
    for (int i = 0; i < run->n_be; i++)
        for (int k = 0; k < run->be[i].n_kernels; k++)
            flopless |= run->be[i].kernels[k].flops == 0;
    if (flopless) {
        y += 18;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">zero (no FLOPs): in the table "
                   "and JSON only</text>\n", LX, y + 2);
    }
    fputs("</g>\n", f);
}

/* --- the bandwidth curves ------------------------------------------------------------------ */

/* The curves drawn for b: those of the ceilings drawn (ceiling_set). */
static const roof_stream *drawn_streams(const roof_backend_result *b)
{
    return b->c.stream[ceiling_set(b)];
}

/* each stream's line: solid for the read probe, a dash pattern of its own for the others */
static const char *const stream_dash[ROOF_STREAMS] = {"", " stroke-dasharray=\"6,4\"",
                                                      " stroke-dasharray=\"2,3\"",
                                                      " stroke-dasharray=\"10,3,2,3\"",
                                                      " stroke-dasharray=\"14,4\""};

static void curves(FILE *f, const roof_run *run)
{
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
    for (int i = 0; i < run->n_be; i++) {
        if (!drawable(&run->be[i]))
            continue;
        const roof_stream *st = drawn_streams(&run->be[i]);
        for (int k = 0; k < ROOF_STREAMS; k++)
            for (int p = 0; p < st[k].curve.n; p++) {
                widen(&xlo, &xhi, st[k].curve.bytes[p]);
                widen(&ylo, &yhi, st[k].curve.gbs[p]);
            }
    }
    if (!(xhi > 0))
        return;
    /* log2 on x (sizes double), log10 on y */
    double lx0 = floor(log2(xlo)), lx1 = ceil(log2(xhi));
    double ly0 = floor(log10(ylo / 1.2)), ly1 = ceil(log10(yhi * 1.2));
    if (lx1 - lx0 < 1)
        lx1 = lx0 + 1;
    if (ly1 - ly0 < 1)
        ly1 = ly0 + 1;
#define CX(v) (PX0 + (log2(v) - lx0) / (lx1 - lx0) * (PX1 - PX0))
#define CY(v) (CY1 - (log10(v) - ly0) / (ly1 - ly0) * (CY1 - CY0))
    fputs("<g id=\"curve-axes\" font-size=\"13\" fill=\"#222\">\n", f);
    for (int e = (int)lx0; e <= (int)lx1; e += 2) {
        double x = CX(pow(2, e));
        char t[32];
        roof_fmt_bytes(t, sizeof t, pow(2, e));
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d8d8d8\"/>\n",
                x, CY0, x, CY1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x, CY1 + 20,
                t);
    }
    for (int e = (int)ly0; e <= (int)ly1; e++) {
        double y = CY(pow(10, e));
        char t[32];
        tick_label(t, sizeof t, e);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d8d8d8\"/>\n",
                PX0, y, PX1, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", PX0 - 8,
                y + 4.5, t);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#444\" stroke-width=\"1.2\"/>\n", PX0, CY0, PX1 - PX0, CY1 - CY0);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"15\" font-weight=\"bold\">Measured "
               "bandwidth: the curves the memory ceilings come from</text>\n", PX0, CY0 - 14);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"15\">"
               "working set per thread (bytes)</text>\n", (PX0 + PX1) / 2, CY1 + 44);
    fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\" "
               "font-size=\"15\">bandwidth (GB/s, all threads)</text>\n", PX0 - 58,
            (CY0 + CY1) / 2);
    fputs("</g>\n<g id=\"curves\" fill=\"none\">\n", f);
    for (int i = 0; i < run->n_be; i++) {
        const roof_backend_result *b = &run->be[i];
        if (!drawable(b))
            continue;
        const roof_stream *st = drawn_streams(b);
        int threads = b->c.peak[ceiling_set(b)].threads;
        for (int k = 0; k < ROOF_STREAMS; k++) {
            const roof_curve *c = &st[k].curve;
            if (c->n < 1)
                continue;
            fputs("<path class=\"curve\" data-backend=\"", f);
            esc(f, b->name);
            fprintf(f, "\" data-stream=\"%s\" data-threads=\"%d\" data-points=\"%d\" d=\"",
                    roof_stream_names[k], threads, c->n);
            for (int p = 0; p < c->n; p++)
                fprintf(f, "%s%.1f,%.1f", p ? " L" : "M", CX(c->bytes[p]), CY(c->gbs[p]));
            fprintf(f, "\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", palette[i % 8],
                    stream_dash[k]);
            /* each plateau: a thick segment at its median over its sizes */
            for (int q = 0; q < st[k].n_plateaus; q++) {
                const roof_plateau *pl = &st[k].plateau[q];
                fputs("<path class=\"plateau\" data-backend=\"", f);
                esc(f, b->name);
                fprintf(f, "\" data-stream=\"%s\" data-gbs=\"%.3f\" d=\"M%.1f,%.1f L%.1f,%.1f\" "
                           "stroke=\"%s\" stroke-width=\"6\" stroke-opacity=\"0.35\">"
                           "<title>", roof_stream_names[k], pl->gbs, CX(pl->lo_bytes),
                        CY(pl->gbs), CX(pl->hi_bytes) + (pl->hi_bytes > pl->lo_bytes ? 0 : 4),
                        CY(pl->gbs), palette[i % 8]);
                esc(f, b->name);
                char lo[32], hi[32];
                roof_fmt_bytes(lo, sizeof lo, pl->lo_bytes);
                roof_fmt_bytes(hi, sizeof hi, pl->hi_bytes);
                fprintf(f, " %s, %d thread%s: plateau %.3g GB/s over %s to %s</title></path>\n",
                        roof_stream_names[k], threads, threads == 1 ? "" : "s", pl->gbs, lo, hi);
            }
        }
    }
    fputs("</g>\n", f);
#undef CX
#undef CY
    /* its legend, right of the panel */
    double y = CY0 + 4;
    fprintf(f, "<g id=\"curve-legend\" font-size=\"12\" fill=\"#222\">\n<text x=\"%.1f\" "
               "y=\"%.1f\" font-weight=\"bold\" font-size=\"13\">Curves</text>\n", LX, y);
    y += 20;
    for (int k = 0; k < ROOF_STREAMS; k++, y += 18) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
                   "stroke-width=\"2\"%s/>\n", LX, y - 4, LX + 40, y - 4, stream_dash[k]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s stream</text>\n", LX + 50, y,
                roof_stream_names[k]);
    }
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
               "stroke-width=\"6\" stroke-opacity=\"0.35\"/>\n", LX, y - 4, LX + 40, y - 4);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">a plateau: a memory level</text>\n", LX + 50, y);
    y += 18;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">colour: backend, on the threads "
               "of</text>\n<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">its drawn ceilings</text>\n",
            LX, y + 2, LX, y + 20);
    fputs("</g>\n", f);
}

/* Per backend: the threads its kernels ran on and the ceilings they are placed against. */
static void thread_notes(FILE *f, const roof_run *run)
{
    double y = NOTES_Y - 22;
    fprintf(f, "<g id=\"thread-notes\" font-size=\"12\" fill=\"#222\">\n<text x=\"%.1f\" "
               "y=\"%.1f\" font-weight=\"bold\" font-size=\"13\">Threads and ceilings per backend"
               "</text>\n", PX0, y);
    y += 22;
    for (int i = 0; i < run->n_be; i++, y += 18) {
        const roof_backend_result *b = &run->be[i];
        fprintf(f, "<text class=\"threads\" data-backend=\"");
        esc(f, b->name);
        fprintf(f, "\" x=\"%.1f\" y=\"%.1f\"><tspan fill=\"%s\" font-weight=\"bold\">", PX0, y,
                palette[i % 8]);
        esc(f, b->name);
        fputs("</tspan>: ", f);
        if (!b->n_kernels)
            fputs(drawable(b) ? "no kernels placed" : b->measured ? "no probes" : "not run here",
                  f);
        else {
            char note[512];
            roof_threads_note(b, NULL, note, sizeof note);
            esc(f, note);
            if (drawable(b))
                fprintf(f, "; drawn: the %d-thread ceilings", b->c.peak[ceiling_set(b)].threads);
        }
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
}

int roof_write_svg(const roof_run *run, FILE *f)
{
    axes a = plan_axes(run);
    char mach[160];
    roof_machine_describe(&run->machine, mach, sizeof mach);
    double H = NOTES_Y + 18.0 * run->n_be + 10;

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
               "viewBox=\"0 0 %d %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
               W, H, W, H);
    fputs("<title>mgpt roofline: ", f);
    esc(f, mach);
    fputs("</title>\n<desc>Measured compute and bandwidth ceilings of each mgpt backend, and "
          "every kernel of the model config placed against them (mgpt-roofline).</desc>\n", f);
    fprintf(f, "<defs><clipPath id=\"plot\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
               "height=\"%.1f\"/></clipPath></defs>\n", PX0, PY0, PX1 - PX0, PY1 - PY0);
    fprintf(f, "<rect width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n", W, H);

    fprintf(f, "<text x=\"%.1f\" y=\"30\" font-size=\"18\" font-weight=\"bold\" fill=\"#111\">"
               "Roofline: ", PX0);
    esc(f, mach);
    fputs("</text>\n", f);
    fprintf(f, "<text x=\"%.1f\" y=\"50\" font-size=\"13\" fill=\"#444\">config ", PX0);
    for (int i = 0; i < run->opt.configs.n; i++) {
        fputs(i ? ", " : "", f);
        esc(f, run->opt.configs.v[i]);
    }
    fputs("; each kernel placed against the ceilings of the threads it ran on (per backend "
          "below the curves)</text>\n", f);
    fprintf(f, "<text x=\"%.1f\" y=\"66\" font-size=\"13\" fill=\"#444\">ceilings measured "
               "with each backend's own probes, fastest of %d; core clock %.2f GHz measured, "
               "libcpuid's nominal %.2f GHz</text>\n",
            PX0, run->timing.repeats, run->machine.measured_ghz,
            run->machine.libcpuid_os_mhz * 1e-3);

    grid_and_axes(f, &a);
    ceilings(f, run, &a);
    kernels(f, run, &a);
    labels(f, run, &a);
    legend(f, run);
    curves(f, run);
    thread_notes(f, run);
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

int roof_write_svg_file(const roof_run *run, const char *path)
{
    int to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) {
        tool_error(NULL, "--svg %s: cannot open for writing: %s", path, strerror(errno));
        return -1;
    }
    int rc = roof_write_svg(run, f);
    if (!to_stdout && fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        tool_error(NULL, "--svg %s: write failed", path);
    return rc;
}

/* Loss charts with PLplot (svgcairo). PLplot ends the process on some errors and asks on
 * stdin for a device it lacks, so the file and the driver are checked before plinit. */
#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "run_chart.h"

static int have_svgcairo(void)
{
    int n = 256, found = 0;
    const char **menu = calloc((size_t)n, sizeof *menu), **names = calloc((size_t)n, sizeof *names);
    if (menu && names) {
        plgDevs(&menu, &names, &n);
        for (int i = 0; i < n; i++)
            found |= names[i] && strcmp(names[i], "svgcairo") == 0;
    }
    free(menu);
    free(names);
    return found;
}

/* The training loss as a moving mean over w rows ending at each row. */
static void smooth(const double *y, long n, long w, double *out)
{
    double sum = 0;
    for (long i = 0; i < n; i++) {
        sum += y[i];
        if (i >= w)
            sum -= y[i - w];
        out[i] = sum / (double)(i + 1 < w ? i + 1 : w);
    }
}

/* The moving mean's width: 1/50 of the steps, at least 5. */
static long window(long n)
{
    return n / 50 > 5 ? n / 50 : 5;
}

/* Colours told apart on white (PLplot's colour map 0 has yellow and grey). */
static const unsigned char palette[][3] = {
    {31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {148, 103, 189},
    {255, 127, 14}, {140, 86, 75}, {227, 119, 194}, {23, 190, 207}};
#define N_PALETTE (int)(sizeof palette / sizeof palette[0])

int run_chart_loss(const char *path, const char *title, const run_series *s, int n, char *err,
                   size_t errlen)
{
    FILE *probe = fopen(path, "w");
    if (!probe) {
        snprintf(err, errlen, "cannot write the chart '%s': %s", path, strerror(errno));
        return -1;
    }
    fclose(probe);
    if (!have_svgcairo()) {
        snprintf(err, errlen, "PLplot has no svgcairo driver for the chart '%s' (install "
                 "plplot-driver-cairo)", path);
        return -1;
    }
    double xmax = 1, ymin = INFINITY, ymax = -INFINITY;
    long most = 1;
    for (int k = 0; k < n; k++) {
        const run_metrics *m = s[k].m;
        most = m->n > most ? m->n : most;
        for (long i = 0; i < m->n; i++) {
            xmax = fmax(xmax, m->step[i]);
            if (!isnan(m->val[i])) {
                ymin = fmin(ymin, m->val[i]);
                ymax = fmax(ymax, m->val[i]);
            }
        }
    }
    double *y = malloc((size_t)most * sizeof *y), *vx = malloc((size_t)most * sizeof *vx),
           *vy = malloc((size_t)most * sizeof *vy);
    if (!y || !vx || !vy) {
        free(y), free(vx), free(vy);
        snprintf(err, errlen, "out of memory drawing '%s'", path);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        const run_metrics *m = s[k].m;
        smooth(m->loss, m->n, window(m->n), y);
        for (long i = 0; i < m->n; i++) {
            ymin = fmin(ymin, y[i]);
            ymax = fmax(ymax, y[i]);
        }
    }
    if (!(ymin <= ymax))
        ymin = 0, ymax = 1;
    double pad = 0.05 * (ymax - ymin) + 1e-3;

    PLINT strm, old;
    plgstrm(&old);
    plmkstrm(&strm);
    plsdev("svgcairo");
    plsfnam(path);
    plspage(0, 0, 900, 560, 0, 0);
    plscolbg(255, 255, 255);
    plscol0(15, 0, 0, 0);
    for (int i = 0; i < N_PALETTE; i++)
        plscol0(1 + i, palette[i][0], palette[i][1], palette[i][2]);
    plinit();
    plcol0(15);
    plenv(0, xmax, ymin - pad, ymax + pad, 0, 0);
    pllab("step", "loss (training: moving mean; validation: dashed)", title);

    int nl = 2 * n;
    PLINT *opt = calloc((size_t)nl, sizeof *opt), *col = calloc((size_t)nl, sizeof *col),
          *sty = calloc((size_t)nl, sizeof *sty);
    PLFLT *wid = calloc((size_t)nl, sizeof *wid);
    char **text = calloc((size_t)nl, sizeof *text);
    int used = 0;
    for (int k = 0; k < n && opt && col && sty && wid && text; k++) {
        const run_metrics *m = s[k].m;
        PLINT c = 1 + k % N_PALETTE;
        plcol0(c);
        smooth(m->loss, m->n, window(m->n), y);
        pllsty(1);
        plline((PLINT)m->n, m->step, y);
        char label[200];
        snprintf(label, sizeof label, "%s training", s[k].name);
        text[used] = strdup(label);
        opt[used] = PL_LEGEND_LINE, col[used] = c, sty[used] = 1, wid[used++] = 1;
        long nv = 0;
        for (long i = 0; i < m->n; i++)
            if (!isnan(m->val[i]))
                vx[nv] = m->step[i], vy[nv++] = m->val[i];
        if (nv > 0) {
            pllsty(2);
            plline((PLINT)nv, vx, vy);
            plpoin((PLINT)nv, vx, vy, 17);
            snprintf(label, sizeof label, "%s validation", s[k].name);
            text[used] = strdup(label);
            opt[used] = PL_LEGEND_LINE, col[used] = c, sty[used] = 2, wid[used++] = 1;
        }
    }
    pllsty(1);
    if (used > 0) {
        PLFLT lw, lh;
        pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, PL_POSITION_TOP |
                 PL_POSITION_RIGHT | PL_POSITION_INSIDE, 0.02, 0.02, 0.1, 0, 15, 1, 0, 0, used,
                 opt, 1.0, 0.8, 2.0, 0.0, col, (const char *const *)text, NULL, NULL, NULL, NULL,
                 col, sty, wid, NULL, NULL, NULL, NULL);
    }
    plend1();
    plsstrm(old);
    for (int i = 0; i < used; i++)
        free(text[i]);
    free(text), free(opt), free(col), free(sty), free(wid);
    free(y), free(vx), free(vy);
    return 0;
}

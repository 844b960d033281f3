/* The memory levels as the bandwidth curve shows them, not as the OS reports them (a VM may
 * report a 508 MiB L3): a plateau is a run of working-set sizes whose bandwidths agree.
 *
 * The algorithm, on the curve's points in order of size (sizes doubling):
 *  1. Segment: a point joins the current segment while its bandwidth is within `tol` (a
 *     fraction) of the segment's median so far; otherwise it starts a new segment.
 *  2. A segment of one point lies on a slope between two levels (a cache spilling into the
 *     next): it is a transition, not a plateau, unless no segment has two points (a curve
 *     too noisy to show levels): then every segment is one, and the curve its own ceiling.
 *  3. Neighbouring plateaus whose medians are within `tol` of each other are one plateau
 *     (noise split it): merged, their points and the transitions between them form one.
 *     A plateau faster than the one before it stays as measured (a store stream may run
 *     faster from L3 than from L2 on some cores): the curve decides, not a model of it.
 *  4. Each plateau's bandwidth is the median of its points; its spread is (max - min) /
 *     median over its points' repeats, the measurement noise it carries.
 * A working set is served by the plateau that covers its size, or, between two plateaus,
 * by the faster one (the kernel may still be partly served by it): the ceiling is then an
 * upper bound, which is what a ceiling must be. */
#include <math.h>
#include <string.h>
#include "roofline.h"

static double median_of(const double *v, int n)
{
    double t[ROOF_CURVE_MAX];
    memcpy(t, v, (size_t)n * sizeof *t);
    return roof_median(t, n);
}

static void finish(const roof_curve *c, roof_plateau *p)
{
    p->lo_bytes = c->bytes[p->first];
    p->hi_bytes = c->bytes[p->last];
    int n = p->last - p->first + 1;
    p->gbs = median_of(&c->gbs[p->first], n);
    double lo = INFINITY, hi = 0;
    for (int i = p->first; i <= p->last; i++) {
        double a = c->gbs_min[i] > 0 ? c->gbs_min[i] : c->gbs[i];
        double b = c->gbs_max[i] > 0 ? c->gbs_max[i] : c->gbs[i];
        if (a < lo)
            lo = a;
        if (b > hi)
            hi = b;
    }
    p->gbs_lo = lo;
    p->gbs_hi = hi;
    p->spread = p->gbs > 0 && hi >= lo ? (hi - lo) / p->gbs : 0;
}

int roof_find_plateaus(const roof_curve *c, double tol, roof_plateau *out, int max)
{
    if (c->n <= 0 || max <= 0)
        return 0;
    /* 1. segments */
    int seg_first[ROOF_CURVE_MAX], seg_last[ROOF_CURVE_MAX], nseg = 0;
    seg_first[0] = seg_last[0] = 0;
    nseg = 1;
    for (int i = 1; i < c->n; i++) {
        int f = seg_first[nseg - 1];
        double m = median_of(&c->gbs[f], i - f);
        if (m > 0 && fabs(c->gbs[i] - m) <= tol * m) {
            seg_last[nseg - 1] = i;
        } else {
            seg_first[nseg] = seg_last[nseg] = i;
            nseg++;
        }
    }
    /* 2. plateaus: segments of two points or more (all, when none has two) */
    int all_single = 1;
    for (int s = 0; s < nseg; s++)
        all_single &= seg_last[s] == seg_first[s];
    roof_plateau p[ROOF_CURVE_MAX];
    int np = 0;
    for (int s = 0; s < nseg; s++)
        if (seg_last[s] > seg_first[s] || all_single) {
            memset(&p[np], 0, sizeof p[np]);
            p[np].first = seg_first[s];
            p[np].last = seg_last[s];
            finish(c, &p[np]);
            np++;
        }
    /* 3. merge what noise split */
    for (int i = 1; i < np;) {
        double a = p[i - 1].gbs, b = p[i].gbs;
        if (fabs(a - b) <= tol * a) {
            p[i - 1].last = p[i].last;
            finish(c, &p[i - 1]);
            memmove(&p[i], &p[i + 1], (size_t)(np - i - 1) * sizeof p[0]);
            np--;
            if (i > 1)
                i--;   /* the merged plateau may now match the one before it */
        } else
            i++;
    }
    if (np > max)
        np = max;
    memcpy(out, p, (size_t)np * sizeof *out);
    return np;
}

int roof_plateau_for(const roof_plateau *p, int n, double bytes)
{
    if (n <= 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (bytes <= p[i].hi_bytes)
            return i;                       /* inside it, or below it: this one or faster */
        if (i + 1 < n && bytes < p[i + 1].lo_bytes)
            return i;                       /* between i and i+1: the faster */
    }
    return n - 1;                           /* past the curve: the last (slowest) */
}

void roof_plateau_levels(int n, int level[])
{
    /* the last plateau is DRAM when there are two or more; the others L1, L2, L3 in
     * order; a fifth or more inner plateau shares L3's name */
    for (int i = 0; i < n; i++)
        level[i] = n > 1 && i == n - 1 ? ROOF_DRAM : (i < ROOF_L3 ? i : ROOF_L3);
}

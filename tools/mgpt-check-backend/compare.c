/* Comparing a kernel's output with the reference's: within a tolerance per element, or
 * bit for bit. The first failure fails the row and is what it reports. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include "check.h"

const int mgpt_check_sizes[10] = {1, 3, 7, 15, 17, 31, 33, 65, 100, 257};

int mgpt_check_counts(size_t *out, int max)
{
    int n = 0;
    if (n < max)
        out[n++] = 0;
    for (int i = 0; i < 10 && n < max; i++)
        out[n++] = (size_t)mgpt_check_sizes[i];
    if (n < max)
        out[n++] = 1000;
    if (n < max)
        out[n++] = 4099;
    return n;
}

const char *mgpt_check_mode(unsigned write)
{
    if (!write)
        return "accumulating";
    if ((write & MGPT_WRITE_DINP) && (write & MGPT_WRITE_DW))
        return "writing dinp and dw";
    return write & MGPT_WRITE_DINP ? "writing dinp" : "writing dw";
}

int mgpt_check_fail(mgpt_checker *c, const char *fmt, ...)
{
    mgpt_check_row *r = c->row;
    if (r->status != MGPT_CHECK_FAIL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->detail, sizeof r->detail, fmt, ap);
        va_end(ap);
        r->status = MGPT_CHECK_FAIL;
    }
    return -1;
}

double *mgpt_check_tol(mgpt_check_pool *p, const float *mag, size_t n, double chain,
                       double floor)
{
    double *t = mgpt_check_doubles(p, n);
    for (size_t i = 0; i < n; i++)
        t[i] = chain * FLT_EPSILON * fabsf(mag[i]) + floor;
    return t;
}

int mgpt_check_near(mgpt_checker *c, const char *what, const float *got, const float *ref,
                    const double *tol, size_t n, const char *where)
{
    size_t bad = 0;
    char first[600] = "";
    size_t used = 0;
    double worst = c->row->worst;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        double ratio = d == 0 ? 0 : tol[i] > 0 ? d / tol[i] : INFINITY;
        if (!(ratio <= 1)) {
            if (bad < 3 && used < sizeof first)
                used += (size_t)snprintf(first + used, sizeof first - used,
                                         "; %s[%zu] = %.9g, reference %.9g, |diff| %.3g > "
                                         "tolerance %.3g",
                                         what, i, got[i], ref[i], d, tol[i]);
            bad++;
            ratio = isnan(ratio) ? INFINITY : ratio;
        }
        if (ratio > worst)
            worst = ratio;
    }
    c->row->worst = worst;
    c->row->cases++;
    if (!bad)
        return 0;
    return mgpt_check_fail(c, "%s: %zu of %zu elements of %s out of tolerance%s", where, bad, n,
                           what, first);
}

int mgpt_check_same(mgpt_checker *c, const char *what, const float *a, const float *b,
                    size_t n, const char *where)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            return mgpt_check_fail(c, "%s: not deterministic: %s[%zu] = %.9g the first time, "
                                   "%.9g the second (same inputs)",
                                   where, what, i, a[i], b[i]);
    return 0;
}

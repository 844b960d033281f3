/* The module's roofline probes (peak_flops, stream_read): stateless functions of the
 * descriptor, run without an instance. Their results only keep the work from being
 * optimised away, but the roofline divides by them: the counts must be right. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "check.h"

static void probe_row(mgpt_check_row *row, const char *name)
{
    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "probe %s", name);
    row->slot = -1;
    row->native = 1;
    row->status = MGPT_CHECK_PASS;
}

static void skip(mgpt_check_row *row, const char *why)
{
    row->status = MGPT_CHECK_SKIP;
    snprintf(row->detail, sizeof row->detail, "%s", why);
}

/* The flop count is exactly proportional to the iterations, and the chains stay finite. */
static int peak_flops(mgpt_checker *c, double (*probe)(uint64_t, float *))
{
    float sink1 = 0, sink2 = 0;
    double f1 = probe(1000, &sink1);
    double f2 = probe(3000, &sink2);
    c->row->cases += 2;
    if (!(f1 > 0))
        return mgpt_check_fail(c, "peak_flops(1000) counts %g flops", f1);
    if (f2 != 3 * f1)
        return mgpt_check_fail(c, "peak_flops(3000) counts %.17g flops, not 3 x peak_flops(1000)"
                               " = %.17g", f2, 3 * f1);
    if (!isfinite(sink1) || !isfinite(sink2))
        return mgpt_check_fail(c, "peak_flops: the chains are not finite (sinks %g, %g)", sink1,
                               sink2);
    return 0;
}

/* passes*n terms summed in float, of total magnitude passes * sum|x|: |diff| <=
 * passes*(n+2) * eps * passes*sum|x|. The probe wants 64-byte aligned buffers: n + 16
 * floats from the pool, the start moved up to a line (the end then lies up to 15 floats
 * before the guard page). */
static int stream_read(mgpt_checker *c, float (*probe)(const float *, size_t, int), size_t n,
                       mgpt_check_pool *p)
{
    float *raw = mgpt_check_random(c, p, n + 16, -1, 1);
    const float *x = (const float *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    double sum = 0, mag = 0;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        mag += fabsf(x[i]);
    }
    const int passes = 3;
    double got = probe(x, n, passes);
    double d = fabs(got - passes * sum);
    double tol = (double)passes * (n + 2) * FLT_EPSILON * passes * mag;
    double ratio = d == 0 ? 0 : tol > 0 ? d / tol : INFINITY;
    ratio = isnan(ratio) ? INFINITY : ratio;
    c->row->cases++;
    if (ratio > c->row->worst)
        c->row->worst = ratio;
    if (!(ratio <= 1))
        return mgpt_check_fail(c, "n=%zu: stream_read = %.9g, %d x the sum %.9g, |diff| %.3g > "
                               "tolerance %.3g", n, got, passes, passes * sum, d, tol);
    return 0;
}

void mgpt_check_probes(mgpt_checker *c, mgpt_check_row rows[2])
{
    const mgpt_probes *pr = c->be.entry->desc->probes;
    mgpt_check_row *saved = c->row;
    probe_row(&rows[0], "peak_flops");
    probe_row(&rows[1], "stream_read");
    if (!pr || !pr->peak_flops) {
        skip(&rows[0], "the module has no peak_flops probe");
    } else {
        c->row = &rows[0];
        peak_flops(c, pr->peak_flops);
    }
    if (!pr || !pr->stream_read) {
        skip(&rows[1], "the module has no stream_read probe");
    } else {
        c->row = &rows[1];
        size_t counts[16];
        int nc = mgpt_check_counts(counts, 15);
        counts[nc++] = 65536 + 7;
        mgpt_check_pool p = {0};
        for (int i = 0; i < nc; i++) {
            int rc = stream_read(c, pr->stream_read, counts[i], &p);
            mgpt_check_pool_free(&p);
            if (rc)
                break;
        }
    }
    c->row = saved;
}

/* sumsq (the gradient norm) and adam_update, over element counts 0, the tail sizes, 1000
 * and 4099 (sumsq up to a whole MGPT_SUMSQ_CHUNK too). */
#include <float.h>
#include <math.h>
#include <string.h>
#include "check.h"

/* A double result within tol of the reference's, counted on the row like mgpt_check_near
 * (which takes floats: a sum of squares rounded to float would lose the double's
 * precision that the tolerance below is made of); and the same bits again. */
static int sum_near(mgpt_checker *c, double got, double ref, double tol, const char *where)
{
    double d = fabs(got - ref), ratio = d == 0 ? 0 : tol > 0 ? d / tol : INFINITY;
    ratio = isnan(ratio) ? INFINITY : ratio;
    c->row->cases++;
    if (ratio > c->row->worst)
        c->row->worst = ratio;
    if (!(ratio <= 1))
        return mgpt_check_fail(c, "%s: sum = %.17g, reference %.17g, |diff| %.3g > "
                               "tolerance %.3g", where, got, ref, d, tol);
    return 0;
}

static int sum_same(mgpt_checker *c, double a, double b, const char *where)
{
    if (memcmp(&a, &b, sizeof a) != 0)
        return mgpt_check_fail(c, "%s: not deterministic: sum = %.17g the first time, %.17g "
                               "the second (same inputs)", where, a, b);
    return 0;
}

/* n positive terms summed in double (squares of floats are exact in double):
 * |diff| <= n * 2^-52 * sum. */
static int sumsq(mgpt_checker *c, size_t n, mgpt_check_pool *p, const char *where)
{
    float *x = mgpt_check_random(c, p, n, -1, 1);
    double ref = c->ref->sumsq(&c->rctx, x, n);
    double got = c->k->sumsq(&c->tctx[0], x, n);
    if (sum_near(c, got, ref, (double)n * DBL_EPSILON * ref, where))
        return -1;
    return sum_same(c, got, c->k->sumsq(&c->tctx[1], x, n), where);
}

/* A step of Adam at t = 3 with clipping (grad_scale 0.7). */
static mgpt_adam_args adam_args(void)
{
    mgpt_adam_args a;
    a.lr = 1e-2f;
    a.beta1 = 0.9f;
    a.beta2 = 0.95f;
    a.eps = 1e-8f;
    a.bc1 = 1.0f - powf(0.9f, 3.0f);
    a.bc2 = 1.0f - powf(0.95f, 3.0f);
    a.grad_scale = 0.7f;
    return a;
}

/* m and v: two products and a sum, |diff| <= 4 eps (|b1 m| + |(1-b1) g|) and likewise;
 * param: the step lr*mhat/(sqrt(vhat)+eps) goes through about 6 roundings after m and v,
 * |diff| <= eps (2 |param| + 12 |step|). */
static void adam_tol(const mgpt_adam_args *a, const float *p0, const float *g, const float *m0,
                     const float *v0, const float *rm, const float *rv, size_t n, double *tp,
                     double *tm, double *tv)
{
    for (size_t i = 0; i < n; i++) {
        double gs = (double)g[i] * a->grad_scale;
        tm[i] = 4 * FLT_EPSILON * (a->beta1 * fabsf(m0[i]) + (1 - a->beta1) * fabs(gs));
        tv[i] = 4 * FLT_EPSILON * (a->beta2 * v0[i] + (1 - a->beta2) * gs * gs);
        double step = a->lr * fabs(rm[i] / a->bc1) / (sqrt(rv[i] / a->bc2) + a->eps);
        tp[i] = FLT_EPSILON * (2 * fabsf(p0[i]) + 12 * step);
    }
}

static int adam(mgpt_checker *c, size_t n, mgpt_check_pool *p, const char *where)
{
    const mgpt_adam_args a = adam_args();
    float *p0 = mgpt_check_random(c, p, n, -1, 1), *g = mgpt_check_random(c, p, n, -1, 1);
    float *m0 = mgpt_check_random(c, p, n, -0.1f, 0.1f);
    float *v0 = mgpt_check_random(c, p, n, 0.0f, 0.01f);
    float *rp = mgpt_check_copy(p, p0, n), *rm = mgpt_check_copy(p, m0, n);
    float *rv = mgpt_check_copy(p, v0, n);
    c->ref->adam_update(&c->rctx, rp, g, rm, rv, n, &a);
    double *tp = mgpt_check_doubles(p, n), *tm = mgpt_check_doubles(p, n);
    double *tv = mgpt_check_doubles(p, n);
    adam_tol(&a, p0, g, m0, v0, rm, rv, n, tp, tm, tv);
    /* the update is in place: each run from fresh copies */
    float *gp = mgpt_check_copy(p, p0, n), *gm = mgpt_check_copy(p, m0, n);
    float *gv = mgpt_check_copy(p, v0, n);
    c->k->adam_update(&c->tctx[0], gp, g, gm, gv, n, &a);
    if (mgpt_check_near(c, "m", gm, rm, tm, n, where) ||
        mgpt_check_near(c, "v", gv, rv, tv, n, where) ||
        mgpt_check_near(c, "param", gp, rp, tp, n, where))
        return -1;
    float *ap = mgpt_check_copy(p, p0, n), *am = mgpt_check_copy(p, m0, n);
    float *av = mgpt_check_copy(p, v0, n);
    c->k->adam_update(&c->tctx[1], ap, g, am, av, n, &a);
    if (mgpt_check_same(c, "m", gm, am, n, where) || mgpt_check_same(c, "v", gv, av, n, where))
        return -1;
    return mgpt_check_same(c, "param", gp, ap, n, where);
}

int mgpt_check_optimizer(mgpt_checker *c, int slot)
{
    size_t counts[16];
    int nc = mgpt_check_counts(counts, 14);
    if (slot == MGPT_K_SUMSQ) {  /* the engine calls it on at most a chunk: up to, and it */
        counts[nc++] = MGPT_SUMSQ_CHUNK - 1;
        counts[nc++] = MGPT_SUMSQ_CHUNK;
    }
    mgpt_check_pool p = {0};
    int rc = 0;
    for (int i = 0; i < nc && rc == 0; i++) {
        char where[64];
        snprintf(where, sizeof where, "n=%zu", counts[i]);
        rc = slot == MGPT_K_SUMSQ ? sumsq(c, counts[i], &p, where) : adam(c, counts[i], &p, where);
        mgpt_check_pool_free(&p);
    }
    return rc;
}

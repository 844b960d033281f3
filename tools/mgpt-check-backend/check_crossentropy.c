/* crossentropy_forward (and the accuracy of its exponential), crossentropy_backward: N in
 * {1, 3, 17} rows over a vocabulary V in the tail sizes, masked rows among them. */
#include <float.h>
#include <math.h>
#include "check.h"

static const unsigned dinp_modes[2] = {0u, MGPT_WRITE_DINP};

/* Logits in [-8, 8]; about one target in four masked (-1); one row in three gets a logit
 * 120 below the rest, so that its exp underflows (a probability of 0 or a denormal). */
static void inputs(mgpt_checker *c, mgpt_check_pool *p, int N, int V, float **logits,
                   int **targets)
{
    float *z = mgpt_check_random(c, p, (size_t)N * V, -8, 8);
    int *t = mgpt_check_ints(p, (size_t)N);
    for (int n = 0; n < N; n++) {
        t[n] = mgpt_check_rand(c) % 4 == 0 ? -1 : (int)(mgpt_check_rand(c) % (unsigned)V);
        if (n % 3 == 1 && V > 1)
            z[(size_t)n * V + mgpt_check_rand(c) % (unsigned)V] = -120.0f;
    }
    *logits = z;
    *targets = t;
}

/* probs: the sum of V exponentials (relative error (V+1)u each), exp itself a few ulps,
 * and the rounding of z - max (relative u*Z in exp, Z = the row's logit range): relative
 * tolerance rel = eps * (V + 8 + Z), plus a 1e-30 floor for exps below FLT_MIN flushed to
 * 0. loss = log(sum) - (z_t - max): rel + eps * 2|loss| absolute. Masked rows: loss 0
 * exactly (tolerance 0). */
static void forward_tol(const float *logits, const int *targets, const float *probs,
                        const float *loss, int N, int V, double *tol_p, double *tol_l)
{
    for (int n = 0; n < N; n++) {
        const float *z = &logits[(size_t)n * V];
        float lo = z[0], hi = z[0];
        for (int i = 1; i < V; i++) {
            lo = fminf(lo, z[i]);
            hi = fmaxf(hi, z[i]);
        }
        double rel = FLT_EPSILON * (V + 8 + ((double)hi - lo));
        for (int i = 0; i < V; i++)
            tol_p[(size_t)n * V + i] = rel * probs[(size_t)n * V + i] + 1e-30;
        tol_l[n] = targets[n] < 0 ? 0.0 : rel + 2 * FLT_EPSILON * fabsf(loss[n]);
    }
}

static int forward(mgpt_checker *c, int N, int V, mgpt_check_pool *p, const char *where)
{
    size_t n = (size_t)N * V;
    float *logits;
    int *targets;
    inputs(c, p, N, V, &logits, &targets);
    float *loss = mgpt_check_floats(p, (size_t)N), *probs = mgpt_check_floats(p, n);
    c->ref->crossentropy_forward(&c->rctx, loss, probs, logits, targets, N, V);
    double *tol_p = mgpt_check_doubles(p, n), *tol_l = mgpt_check_doubles(p, (size_t)N);
    forward_tol(logits, targets, probs, loss, N, V, tol_p, tol_l);
    float *gl = mgpt_check_fill(p, (size_t)N, NAN), *gp = mgpt_check_fill(p, n, NAN);
    c->k->crossentropy_forward(&c->tctx[0], gl, gp, logits, targets, N, V);
    if (mgpt_check_near(c, "probs", gp, probs, tol_p, n, where) ||
        mgpt_check_near(c, "loss", gl, loss, tol_l, (size_t)N, where))
        return -1;
    float *al = mgpt_check_fill(p, (size_t)N, NAN), *ap = mgpt_check_fill(p, n, NAN);
    c->k->crossentropy_forward(&c->tctx[1], al, ap, logits, targets, N, V);
    if (mgpt_check_same(c, "probs", gp, ap, n, where))
        return -1;
    return mgpt_check_same(c, "loss", gl, al, (size_t)N, where);
}

/* |got - want| <= tol against a double-precision value, counted on the row like
 * mgpt_check_near (which compares with a float reference: rounding want to float would
 * take half an ulp of the few-ulp budget below). */
static int near_double(mgpt_checker *c, const char *what, double got, double want, double tol,
                       const char *where)
{
    double d = fabs(got - want), ratio = d == 0 ? 0 : tol > 0 ? d / tol : INFINITY;
    ratio = isnan(ratio) ? INFINITY : ratio;
    if (ratio > c->row->worst)
        c->row->worst = ratio;
    if (!(ratio <= 1))
        return mgpt_check_fail(c, "%s: %s = %.9g, exact %.9g, |diff| %.3g > tolerance %.3g",
                               where, what, got, want, d, tol);
    return 0;
}

/* The bounds above are dominated by the V-term sums; this pins the exponential itself.
 * Rows of two logits (0, x), x in [-16, 0]: p1 = e^x / (1 + e^x) against double precision.
 * A correctly rounded exp and 3 more roundings give ~4 eps; allow 8 eps, plus eps*|x| for
 * implementations whose exponent goes through a multiplication (exp2 with log2(e)). A few
 * ulps, that is ~1e-6 relative. The loss log(1 + e^x) - x within 8 eps (1 - x). */
static int exp_accuracy(mgpt_checker *c, mgpt_check_pool *p)
{
    enum { N = 4096, V = 2 };
    float *logits = mgpt_check_floats(p, (size_t)N * V);
    int *targets = mgpt_check_ints(p, N);
    for (int n = 0; n < N; n++) {
        logits[(size_t)n * V] = 0.0f;
        logits[(size_t)n * V + 1] = -16.0f * n / (N - 1);
        targets[n] = 1;
    }
    float *loss = mgpt_check_fill(p, N, NAN), *probs = mgpt_check_fill(p, (size_t)N * V, NAN);
    c->k->crossentropy_forward(&c->tctx[0], loss, probs, logits, targets, N, V);
    c->row->cases++;
    for (int n = 0; n < N; n++) {
        double x = logits[(size_t)n * V + 1], e = exp(x), p1 = e / (1.0 + e);
        char where[64];
        snprintf(where, sizeof where, "softmax(0, %.9g)", x);
        if (near_double(c, "p1", probs[(size_t)n * V + 1], p1, (8 + fabs(x)) * FLT_EPSILON * p1,
                        where) ||
            near_double(c, "loss", loss[n], log1p(e) - x, 8 * FLT_EPSILON * (1 - x), where))
            return -1;
    }
    return 0;
}

/* dlogits0 + dloss * (p - onehot): three roundings, |diff| <= 3 eps (|dlogits0| +
 * |dloss| (p + 1)); masked rows must stay exactly as they were when accumulating, and
 * become exactly 0 when writing (tolerance 0; dlogits0 = 0 for the reference, NaN for the
 * kernel; every written case has a masked row). */
static int backward(mgpt_checker *c, int N, int V, unsigned write, mgpt_check_pool *p,
                    const char *where)
{
    size_t n = (size_t)N * V;
    float *logits;
    int *targets;
    inputs(c, p, N, V, &logits, &targets);
    int masked = 0;
    for (int i = 0; i < N; i++)
        masked |= targets[i] < 0;
    if (write && !masked)
        targets[N / 2] = -1;
    float *loss = mgpt_check_floats(p, (size_t)N), *probs = mgpt_check_floats(p, n);
    c->ref->crossentropy_forward(&c->rctx, loss, probs, logits, targets, N, V);
    float *d0 = write ? mgpt_check_fill(p, n, 0) : mgpt_check_random(c, p, n, -1, 1);
    float *ref = mgpt_check_copy(p, d0, n);
    const float dloss = 0.37f;
    c->ref->crossentropy_backward(&c->rctx, ref, probs, targets, dloss, N, V, 0);
    double *tol = mgpt_check_doubles(p, n);
    for (size_t i = 0; i < n; i++)
        tol[i] = targets[i / (size_t)V] < 0
                     ? 0.0 : 3 * FLT_EPSILON * (fabsf(d0[i]) + dloss * (probs[i] + 1.0));
    float *got = write ? mgpt_check_fill(p, n, NAN) : mgpt_check_copy(p, d0, n);
    c->k->crossentropy_backward(&c->tctx[0], got, probs, targets, dloss, N, V, write);
    if (mgpt_check_near(c, "dlogits", got, ref, tol, n, where))
        return -1;
    float *again = write ? mgpt_check_fill(p, n, NAN) : mgpt_check_copy(p, d0, n);
    c->k->crossentropy_backward(&c->tctx[1], again, probs, targets, dloss, N, V, write);
    return mgpt_check_same(c, "dlogits", got, again, n, where);
}

int mgpt_check_crossentropy(mgpt_checker *c, int slot)
{
    static const int Ns[3] = {1, 3, 17};
    int fwd = slot == MGPT_K_CROSSENTROPY_FORWARD;
    mgpt_check_pool p = {0};
    int rc = 0;
    for (int m = 0; m < (fwd ? 1 : 2) && rc == 0; m++)
        for (int i = 0; i < 3 && rc == 0; i++)
            for (int j = 0; j < 10 && rc == 0; j++) {
                int N = Ns[i], V = mgpt_check_sizes[j];
                char where[96];
                if (fwd) {
                    snprintf(where, sizeof where, "N=%d V=%d", N, V);
                    rc = forward(c, N, V, &p, where);
                } else {
                    snprintf(where, sizeof where, "N=%d V=%d, %s", N, V,
                             mgpt_check_mode(dinp_modes[m]));
                    rc = backward(c, N, V, dinp_modes[m], &p, where);
                }
                mgpt_check_pool_free(&p);
            }
    if (fwd && rc == 0) {
        rc = exp_accuracy(c, &p);
        mgpt_check_pool_free(&p);
    }
    return rc;
}

/* rmsnorm_forward, rmsnorm_backward: N in {1, 3, 17} rows of C in the tail sizes; the
 * backward in both modes of dinp. */
#include <math.h>
#include "check.h"

static const unsigned dinp_modes[2] = {0u, MGPT_WRITE_DINP};

/* rstd from a sum of C positive squares (relative error <= C*u in each implementation),
 * then divide, sqrt, reciprocal and the scaling: relative tolerance (C + 8) * eps. */
static int rmsnorm_forward(mgpt_checker *c, int N, int C, mgpt_check_pool *p,
                           const char *where)
{
    size_t n = (size_t)N * C;
    float *inp = mgpt_check_random(c, p, n, -1, 1);
    float *ref = mgpt_check_floats(p, n), *rref = mgpt_check_floats(p, (size_t)N);
    c->ref->rmsnorm_forward(&c->rctx, ref, rref, inp, N, C);
    float *out = mgpt_check_fill(p, n, NAN), *rstd = mgpt_check_fill(p, (size_t)N, NAN);
    c->k->rmsnorm_forward(&c->tctx[0], out, rstd, inp, N, C);
    if (mgpt_check_near(c, "rstd", rstd, rref, mgpt_check_tol(p, rref, (size_t)N, C + 8, 0),
                        (size_t)N, where) ||
        mgpt_check_near(c, "out", out, ref, mgpt_check_tol(p, ref, n, C + 8, 0), n, where))
        return -1;
    float *out2 = mgpt_check_fill(p, n, NAN), *rstd2 = mgpt_check_fill(p, (size_t)N, NAN);
    c->k->rmsnorm_forward(&c->tctx[1], out2, rstd2, inp, N, C);
    if (mgpt_check_same(c, "rstd", rstd, rstd2, (size_t)N, where))
        return -1;
    return mgpt_check_same(c, "out", out, out2, n, where);
}

/* The magnitude of each term of dx = dx0 + r*dy - x * r^3 * dot(dy, x) / C:
 * |dx0| + r|dy| + r^3 |x| sum|dy x| / C. */
static float *backward_mag(mgpt_check_pool *p, const float *dinp0, const float *dout,
                           const float *inp, const float *rstd, int N, int C)
{
    float *mag = mgpt_check_floats(p, (size_t)N * C);
    for (int n = 0; n < N; n++) {
        double r = rstd[n], dot = 0;
        for (int k = 0; k < C; k++)
            dot += fabsf(dout[(size_t)n * C + k] * inp[(size_t)n * C + k]);
        for (int k = 0; k < C; k++) {
            size_t i = (size_t)n * C + k;
            mag[i] = (float)(fabsf(dinp0[i]) + r * fabsf(dout[i]) +
                             r * r * r * fabsf(inp[i]) * dot / C);
        }
    }
    return mag;
}

/* dx = dx0 + r*dy - x * r^3 * dot(dy, x) / C with the same rstd given to both: the dot is
 * a C-term sum, so |diff| <= (C + 8) * eps * mag (backward_mag; dx0 = 0 when writing: the
 * kernel starts from NaN, the reference from zeros). */
static int rmsnorm_backward(mgpt_checker *c, int N, int C, unsigned write, mgpt_check_pool *p,
                            const char *where)
{
    size_t n = (size_t)N * C;
    float *inp = mgpt_check_random(c, p, n, -1, 1), *dout = mgpt_check_random(c, p, n, -1, 1);
    float *d0 = write ? mgpt_check_fill(p, n, 0) : mgpt_check_random(c, p, n, -1, 1);
    float *y = mgpt_check_floats(p, n), *rstd = mgpt_check_floats(p, (size_t)N);
    c->ref->rmsnorm_forward(&c->rctx, y, rstd, inp, N, C);
    float *ref = mgpt_check_copy(p, d0, n);
    c->ref->rmsnorm_backward(&c->rctx, ref, dout, inp, rstd, N, C, 0);
    float *mag = backward_mag(p, d0, dout, inp, rstd, N, C);
    float *got = write ? mgpt_check_fill(p, n, NAN) : mgpt_check_copy(p, d0, n);
    float *again = write ? mgpt_check_fill(p, n, NAN) : mgpt_check_copy(p, d0, n);
    c->k->rmsnorm_backward(&c->tctx[0], got, dout, inp, rstd, N, C, write);
    if (mgpt_check_near(c, "dinp", got, ref, mgpt_check_tol(p, mag, n, C + 8, 0), n, where))
        return -1;
    c->k->rmsnorm_backward(&c->tctx[1], again, dout, inp, rstd, N, C, write);
    return mgpt_check_same(c, "dinp", got, again, n, where);
}

int mgpt_check_rmsnorm(mgpt_checker *c, int slot)
{
    static const int Ns[3] = {1, 3, 17};
    int modes = slot == MGPT_K_RMSNORM_BACKWARD ? 2 : 1;
    mgpt_check_pool p = {0};
    int rc = 0;
    for (int m = 0; m < modes && rc == 0; m++)
        for (int i = 0; i < 3 && rc == 0; i++)
            for (int j = 0; j < 10 && rc == 0; j++) {
                int N = Ns[i], C = mgpt_check_sizes[j];
                char where[96];
                if (slot == MGPT_K_RMSNORM_FORWARD) {
                    snprintf(where, sizeof where, "N=%d C=%d", N, C);
                    rc = rmsnorm_forward(c, N, C, &p, where);
                } else {
                    snprintf(where, sizeof where, "N=%d C=%d, %s", N, C,
                             mgpt_check_mode(dinp_modes[m]));
                    rc = rmsnorm_backward(c, N, C, dinp_modes[m], &p, where);
                }
                mgpt_check_pool_free(&p);
            }
    return rc;
}

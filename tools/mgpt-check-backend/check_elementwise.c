/* sqrelu_forward, sqrelu_backward, add_forward, accumulate, zero: one element at a time,
 * over element counts 0, the tail sizes, 1000 and 4099. */
#include <math.h>
#include <string.h>
#include "check.h"

static const unsigned dinp_modes[2] = {0u, MGPT_WRITE_DINP};

/* one multiplication: |diff| <= eps * out */
static int sqrelu_forward(mgpt_checker *c, size_t n, mgpt_check_pool *p, char *where)
{
    float *inp = mgpt_check_random(c, p, n, -1, 1), *ref = mgpt_check_floats(p, n);
    c->ref->sqrelu_forward(&c->rctx, ref, inp, n);
    float *out = mgpt_check_fill(p, n, NAN);
    c->k->sqrelu_forward(&c->tctx[0], out, inp, n);
    if (mgpt_check_near(c, "out", out, ref, mgpt_check_tol(p, ref, n, 1, 0), n, where))
        return -1;
    float *again = mgpt_check_fill(p, n, NAN);
    c->k->sqrelu_forward(&c->tctx[1], again, inp, n);
    return mgpt_check_same(c, "out", out, again, n, where);
}

/* dinp0 + 2*inp*dout where inp > 0: three roundings, |diff| <= 3 eps (|dinp0| +
 * |2 inp dout|) (dinp0 = 0 when writing: where inp <= 0 the kernel must then store 0) */
static int sqrelu_backward(mgpt_checker *c, size_t n, unsigned write, mgpt_check_pool *p,
                           char *where)
{
    float *inp = mgpt_check_random(c, p, n, -1, 1), *dout = mgpt_check_random(c, p, n, -1, 1);
    float *d0 = write ? mgpt_check_fill(p, n, 0) : mgpt_check_random(c, p, n, -1, 1);
    float *ref = mgpt_check_copy(p, d0, n), *mag = mgpt_check_floats(p, n);
    c->ref->sqrelu_backward(&c->rctx, ref, dout, inp, n, 0);
    for (size_t i = 0; i < n; i++)
        mag[i] = fabsf(d0[i]) + 2 * fabsf(inp[i] * dout[i]);
    float *got = write ? mgpt_check_fill(p, n, NAN) : mgpt_check_copy(p, d0, n);
    float *again = write ? mgpt_check_fill(p, n, NAN) : mgpt_check_copy(p, d0, n);
    c->k->sqrelu_backward(&c->tctx[0], got, dout, inp, n, write);
    if (mgpt_check_near(c, "dinp", got, ref, mgpt_check_tol(p, mag, n, 3, 0), n, where))
        return -1;
    c->k->sqrelu_backward(&c->tctx[1], again, dout, inp, n, write);
    return mgpt_check_same(c, "dinp", got, again, n, where);
}

/* one addition: |diff| <= eps * (|a| + |b|) */
static int add_forward(mgpt_checker *c, size_t n, mgpt_check_pool *p, char *where)
{
    float *a = mgpt_check_random(c, p, n, -1, 1), *b = mgpt_check_random(c, p, n, -1, 1);
    float *ref = mgpt_check_floats(p, n), *mag = mgpt_check_floats(p, n);
    c->ref->add_forward(&c->rctx, ref, a, b, n);
    for (size_t i = 0; i < n; i++)
        mag[i] = fabsf(a[i]) + fabsf(b[i]);
    float *out = mgpt_check_fill(p, n, NAN), *again = mgpt_check_fill(p, n, NAN);
    c->k->add_forward(&c->tctx[0], out, a, b, n);
    if (mgpt_check_near(c, "out", out, ref, mgpt_check_tol(p, mag, n, 1, 0), n, where))
        return -1;
    c->k->add_forward(&c->tctx[1], again, a, b, n);
    return mgpt_check_same(c, "out", out, again, n, where);
}

/* one addition onto a nonzero destination: |diff| <= eps * (|dst| + |src|); writing
 * (dst = src, dst = 0 in the bound) is then within eps * |src| of the copy */
static int accumulate(mgpt_checker *c, size_t n, unsigned write, mgpt_check_pool *p,
                      char *where)
{
    float *dst = write ? mgpt_check_fill(p, n, 0) : mgpt_check_random(c, p, n, -1, 1);
    float *src = mgpt_check_random(c, p, n, -1, 1);
    float *ref = mgpt_check_copy(p, dst, n), *mag = mgpt_check_floats(p, n);
    c->ref->accumulate(&c->rctx, ref, src, n, 0);
    for (size_t i = 0; i < n; i++)
        mag[i] = fabsf(dst[i]) + fabsf(src[i]);
    float *got = write ? mgpt_check_fill(p, n, NAN) : mgpt_check_copy(p, dst, n);
    float *again = write ? mgpt_check_fill(p, n, NAN) : mgpt_check_copy(p, dst, n);
    c->k->accumulate(&c->tctx[0], got, src, n, write);
    if (mgpt_check_near(c, "dst", got, ref, mgpt_check_tol(p, mag, n, 1, 0), n, where))
        return -1;
    c->k->accumulate(&c->tctx[1], again, src, n, write);
    return mgpt_check_same(c, "dst", got, again, n, where);
}

/* x[0..n) = +0.0f exactly (all bits clear), from NaN and negative values, and nothing
 * outside: the end touches a guard page, and the floats before x keep their values. The
 * offsets give every alignment of x within a 64-byte line. */
static int zero(mgpt_checker *c, size_t n, size_t before, mgpt_check_pool *p, char *where)
{
    float *init = mgpt_check_random(c, p, n + before, -2, 2);
    for (size_t i = before; i < n + before; i += 7)
        init[i] = NAN;
    float *x = mgpt_check_copy(p, init, n + before);
    c->k->zero(&c->tctx[0], x + before, n);
    c->row->cases++;
    for (size_t i = 0; i < before; i++)
        if (memcmp(&x[i], &init[i], sizeof(float)) != 0)
            return mgpt_check_fail(c, "%s: x[%ld] was written (before the buffer)", where,
                                   (long)i - (long)before);
    for (size_t i = before; i < n + before; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        if (bits != 0)
            return mgpt_check_fail(c, "%s: x[%zu] = %g, not +0.0f", where, i - before, x[i]);
    }
    return 0;
}

int mgpt_check_elementwise(mgpt_checker *c, int slot)
{
    size_t counts[16];
    int nc = mgpt_check_counts(counts, 14);
    if (slot == MGPT_K_ZERO) {  /* also past any cache */
        counts[nc++] = (size_t)1 << 20;
        counts[nc++] = ((size_t)1 << 20) + 13;
    }
    mgpt_check_pool p = {0};
    int rc = 0;
    for (int i = 0; i < nc && rc == 0; i++)
        for (int m = 0; m < 4 && rc == 0; m++) {
            size_t n = counts[i];
            unsigned write = dinp_modes[m & 1];
            char where[96];
            snprintf(where, sizeof where, "n=%zu", n);
            if (slot == MGPT_K_SQRELU_FORWARD && m == 0)
                rc = sqrelu_forward(c, n, &p, where);
            else if (slot == MGPT_K_ADD_FORWARD && m == 0)
                rc = add_forward(c, n, &p, where);
            else if (slot == MGPT_K_ZERO) {
                static const size_t before[4] = {0, 1, 5, 15};
                snprintf(where, sizeof where, "n=%zu offset %zu", n, before[m]);
                rc = zero(c, n, before[m], &p, where);
            } else if (m < 2 && (slot == MGPT_K_SQRELU_BACKWARD || slot == MGPT_K_ACCUMULATE)) {
                snprintf(where, sizeof where, "n=%zu, %s", n, mgpt_check_mode(write));
                rc = slot == MGPT_K_ACCUMULATE ? accumulate(c, n, write, &p, where)
                                               : sqrelu_backward(c, n, write, &p, where);
            }
            mgpt_check_pool_free(&p);
        }
    return rc;
}

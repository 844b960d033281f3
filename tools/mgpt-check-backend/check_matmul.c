/* matmul_forward, matmul_backward_dinp, matmul_backward_dw, each called whole ([0, N) x
 * [0, OC) or its gradient's [0, rows) x [0, C)); the blocks of the split rule are in
 * check_split.c.
 *
 * The three slots are one product dst (+)= a . b reducing over K:
 *   forward  out[N,OC]  = inp[N,C]   . w[OC,C]^T    K = C
 *   dinp     dinp[N,C] += dout[N,OC] . w[OC,C]      K = OC
 *   dw       dw[OC,C]  += dout[N,OC]^T . inp[N,C]   K = N
 * so one case function serves them all; mag is the reference run on |a| and |b| (onto
 * |initial|). */
#include <float.h>
#include <math.h>
#include "check.h"

typedef struct {
    int N, C, OC;
} mat_shape;

/* The element counts of a slot's operands and its reduction length. */
typedef struct {
    size_t a, b, dst;
    int K;
    unsigned write_bit;  /* the slot's MGPT_WRITE_* bit; 0 for the forward */
} mat_dims;

static mat_dims dims(int slot, mat_shape s)
{
    size_t NC = (size_t)s.N * s.C, NO = (size_t)s.N * s.OC, OC = (size_t)s.OC * s.C;
    switch (slot) {
    case MGPT_K_MATMUL_FORWARD:
        return (mat_dims){NC, OC, NO, s.C, 0u};
    case MGPT_K_MATMUL_BACKWARD_DINP:
        return (mat_dims){NO, OC, NC, s.OC, MGPT_WRITE_DINP};
    default:
        return (mat_dims){NO, NC, OC, s.N, MGPT_WRITE_DW};
    }
}

/* The slot's whole call on table k: dst (+)= a . b. */
static void whole_call(const mgpt_kernels *k, const mgpt_ctx *x, int slot, float *dst,
                       const float *a, const float *b, mat_shape s, unsigned write)
{
    int N = s.N, C = s.C, OC = s.OC;
    if (slot == MGPT_K_MATMUL_FORWARD)
        k->matmul_forward(x, dst, a, b, N, C, OC, 0, N, 0, OC);
    else if (slot == MGPT_K_MATMUL_BACKWARD_DINP)
        k->matmul_backward_dinp(x, dst, a, b, N, C, OC, 0, N, 0, C, write);
    else
        k->matmul_backward_dw(x, dst, a, b, N, C, OC, 0, OC, 0, C, write);
}

static void shape_text(char *where, size_t len, int slot, mat_shape s, unsigned write)
{
    if (slot == MGPT_K_MATMUL_FORWARD)
        snprintf(where, len, "N=%d C=%d OC=%d", s.N, s.C, s.OC);
    else
        snprintf(where, len, "N=%d C=%d OC=%d, %s", s.N, s.C, s.OC, mgpt_check_mode(write));
}

/* One shape, in each mode of the slot's gradient (accumulated onto initial values, or
 * written into NaN; the reference runs onto the initial values, or into zeros).
 *   forward  out[n,o] = sum over C products:
 *            |diff| <= (C + 2) * eps * sum_c |inp[n,c] w[o,c]|
 *   dinp     dinp[n,c] = dinp0 + sum over OC products:
 *            |diff| <= (OC + 2) * eps * (|dinp0| + sum_o |dout[n,o] w[o,c]|)
 *   dw       dw[o,c] = dw0 + sum over N products:
 *            |diff| <= (N + 2) * eps * (|dw0| + sum_n |dout[n,o] inp[n,c]|)
 * A bf16 backend rounds both inputs of each product (relative 2u together): 2u * mag more,
 * i.e. the chain gets 2u/eps more. */
static int matmul_case(mgpt_checker *c, int slot, mat_shape s, mgpt_check_pool *p)
{
    mat_dims d = dims(slot, s);
    float *a = mgpt_check_random(c, p, d.a, -1, 1), *b = mgpt_check_random(c, p, d.b, -1, 1);
    float *aa = mgpt_check_abs(p, a, d.a), *ab = mgpt_check_abs(p, b, d.b);
    float *d0 = d.write_bit ? mgpt_check_random(c, p, d.dst, -1, 1) : NULL;
    double chain = d.K + 2 + 2 * c->unit / FLT_EPSILON;
    for (int m = 0; m < (d.write_bit ? 2 : 1); m++) {
        unsigned write = m ? d.write_bit : 0u;
        int fresh = !d0 || write;  /* the destination's old contents do not count */
        float *ref = fresh ? mgpt_check_fill(p, d.dst, 0) : mgpt_check_copy(p, d0, d.dst);
        float *mag = fresh ? mgpt_check_fill(p, d.dst, 0) : mgpt_check_abs(p, d0, d.dst);
        whole_call(c->ref, &c->rctx, slot, ref, a, b, s, 0);
        whole_call(c->ref, &c->rctx, slot, mag, aa, ab, s, 0);
        float *got = fresh ? mgpt_check_fill(p, d.dst, NAN) : mgpt_check_copy(p, d0, d.dst);
        whole_call(c->k, &c->tctx[0], slot, got, a, b, s, write);
        char where[96];
        shape_text(where, sizeof where, slot, s, write);
        const char *what = slot == MGPT_K_MATMUL_FORWARD ? "out"
                           : slot == MGPT_K_MATMUL_BACKWARD_DINP ? "dinp" : "dw";
        if (mgpt_check_near(c, what, got, ref, mgpt_check_tol(p, mag, d.dst, chain, 0), d.dst,
                            where))
            return -1;
    }
    return 0;
}

/* Same inputs, same bits: twice, the second time as the instance's thread 1 (its scratch,
 * if it has any per thread), for shapes of several cache blocks, a gradient accumulated
 * (dinp onto 0.5, dw onto -0.5) and written (into NaN). */
static int deterministic(mgpt_checker *c, int slot, mat_shape s, unsigned write,
                         mgpt_check_pool *p)
{
    mat_dims d = dims(slot, s);
    float *a = mgpt_check_random(c, p, d.a, -1, 1), *b = mgpt_check_random(c, p, d.b, -1, 1);
    float init = write || slot == MGPT_K_MATMUL_FORWARD ? NAN
                 : slot == MGPT_K_MATMUL_BACKWARD_DINP ? 0.5f : -0.5f;
    float *first = mgpt_check_fill(p, d.dst, init), *second = mgpt_check_fill(p, d.dst, init);
    whole_call(c->k, &c->tctx[0], slot, first, a, b, s, write);
    whole_call(c->k, &c->tctx[1], slot, second, a, b, s, write);
    char where[96];
    shape_text(where, sizeof where, slot, s, write);
    return mgpt_check_same(c, slot == MGPT_K_MATMUL_FORWARD ? "out" : "gradient", first, second,
                           d.dst, where);
}

/* Every combination of the sizes up to 65 (all corners of the tails), the large sizes (100,
 * 257: several cache blocks) in one dimension at a time, a few shapes with several block
 * edges at once, and reductions longer than two cache blocks in each product. (The full
 * 10^3 grid costs three times as much, mostly in the scalar reference, for no other
 * case.) */
static const mat_shape extra_shapes[5] = {
    {257, 100, 257}, {100, 257, 100},
    {9, 600, 40},   /* forward: K = C */
    {40, 9, 600},   /* dinp:    K = OC */
    {600, 40, 9}};  /* dw:      K = N */

int mgpt_check_matmul(mgpt_checker *c, int slot)
{
    mgpt_check_pool p = {0};
    int rc = 0;
    for (int i = 0; i < 1000 + 5 && rc == 0; i++) {
        mat_shape s;
        if (i < 1000) {
            s = (mat_shape){mgpt_check_sizes[i / 100], mgpt_check_sizes[i / 10 % 10],
                            mgpt_check_sizes[i % 10]};
            if ((s.N >= 100) + (s.C >= 100) + (s.OC >= 100) > 1)
                continue;
        } else {
            s = extra_shapes[i - 1000];
        }
        rc = matmul_case(c, slot, s, &p);
        mgpt_check_pool_free(&p);
    }
    static const mat_shape det_shapes[2] = {{257, 300, 100}, {33, 65, 257}};
    unsigned write_bit = dims(slot, det_shapes[0]).write_bit;
    for (int m = 0; m < (write_bit ? 2 : 1) && rc == 0; m++)
        for (int i = 0; i < 2 && rc == 0; i++) {
            rc = deterministic(c, slot, det_shapes[i], m ? write_bit : 0u, &p);
            mgpt_check_pool_free(&p);
        }
    return rc;
}

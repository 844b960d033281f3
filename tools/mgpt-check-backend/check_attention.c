/* attention_forward, attention_backward, each called on all (document, head) pairs [0, B*H);
 * the pair ranges of the split rule are in check_split.c. */
#include <float.h>
#include <math.h>
#include "check.h"

typedef struct {
    int B, T, H, hd;
} att_shape;

static const unsigned dinp_modes[2] = {0u, MGPT_WRITE_DINP};

/* T and hd over the tail sizes and the vector widths 4, 8, 16 (short heads are kept in
 * registers up to T, hd <= width), where T^2 * hd <= 2.2e6 (T = 257, whose rows have every
 * length 1..257, with hd up to 31; hd = 257 with T up to 65), several documents and heads
 * where T^2 * hd < 2e5. The scalar reference's cost grows as T^2 * hd. Shape i of 13 x 13;
 * 0 if it is too costly. */
static int shape_at(int i, att_shape *s)
{
    static const int sizes[13] = {1, 3, 7, 15, 17, 31, 33, 65, 100, 257, 4, 8, 16};
    int T = sizes[i / 13], hd = sizes[i % 13];
    double cost = (double)T * T * hd;
    if (cost > 2.2e6)
        return 0;
    int small = cost < 2e5;
    *s = (att_shape){small ? 2 : 1, T, small ? 3 : 1, hd};
    return 1;
}

static double *zeros(mgpt_check_pool *p, size_t n)
{
    double *x = mgpt_check_doubles(p, n);
    for (size_t i = 0; i < n; i++)
        x[i] = 0;
    return x;
}

/* The forward's tolerances, per row t of each pair: scores are hd-term dot products,
 * scaled; with S = max_j scale*sum|q k_j| their error is <= hd*u*S each, so the shifted
 * scores s_j - max are off by <= 2*hd*u*S (absolute, i.e. relative in exp), exp adds a few
 * ulps and the sum of t+1 positive terms (t+1)*u: att's relative tolerance
 * rel = eps * (2*(hd+1)*S + T + 8). out = sum_j att_j v_j then adds (T + 2) * eps relative
 * to mag = sum_j att_j |v_j|. Entries above the diagonal must be exactly 0 (tolerance 0).
 * The floor 1e-30 admits exp flushing e^x < 1.2e-38 to 0.
 * bf16 (unit u = c->unit): q and k rounded to bf16 put 2u*S on each score, 4u*S on a
 * difference of two: att's rel gets 4u*S more; att and v rounded again for out: 2u more. */
static void forward_tol(const float *qkv, const float *att, att_shape s, double unit,
                        double *tol_att, double *tol_out)
{
    int B = s.B, T = s.T, H = s.H, hd = s.hd, C = H * hd;
    size_t C3 = 3 * (size_t)C;
    double scale = 1.0 / sqrt((double)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const float *q = &qkv[(size_t)(b * T + t) * C3 + h * hd];
                double S = 0;
                for (int j = 0; j <= t; j++) {
                    const float *k = &qkv[(size_t)(b * T + j) * C3 + C + h * hd];
                    double m = 0;
                    for (int i = 0; i < hd; i++)
                        m += fabsf(q[i] * k[i]);
                    S = fmax(S, m * scale);
                }
                double rel = FLT_EPSILON * (2.0 * (hd + 1) * S + T + 8) + 4 * unit * S;
                size_t arow = (((size_t)b * H + h) * T + t) * T;
                for (int j = 0; j <= t; j++)
                    tol_att[arow + j] = rel * att[arow + j] + 1e-30;
                for (int i = 0; i < hd; i++) {
                    double m = 0;
                    for (int j = 0; j <= t; j++)
                        m += att[arow + j] *
                             fabsf(qkv[(size_t)(b * T + j) * C3 + 2 * C + h * hd + i]);
                    tol_out[(size_t)(b * T + t) * C + h * hd + i] =
                        (rel + (T + 2) * FLT_EPSILON + 2 * unit) * m + 1e-30;
                }
            }
}

/* q near +8, k near -8: every score of a row lies far below 0, and e^score underflows
 * unless the row's own maximum is subtracted. */
static void shift_rows(float *qkv, att_shape s)
{
    int C = s.H * s.hd;
    size_t C3 = 3 * (size_t)C;
    for (size_t r = 0; r < (size_t)s.B * s.T; r++)
        for (int k = 0; k < C; k++) {
            qkv[r * C3 + k] += 8.0f;
            qkv[r * C3 + C + k] -= 8.0f;
        }
}

static int attention_forward(mgpt_checker *c, att_shape s, int shifted, mgpt_check_pool *p)
{
    int B = s.B, T = s.T, H = s.H, C = H * s.hd, BH = B * H;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)BH * T * T;
    float *qkv = mgpt_check_random(c, p, nqkv, -1, 1);
    if (shifted)
        shift_rows(qkv, s);
    float *out = mgpt_check_floats(p, nout), *att = mgpt_check_floats(p, natt);
    c->ref->attention_forward(&c->rctx, out, att, qkv, B, T, C, H, 0, BH);
    double *tol_att = zeros(p, natt), *tol_out = mgpt_check_doubles(p, nout);
    forward_tol(qkv, att, s, c->unit, tol_att, tol_out);
    /* NaN: every element of out and att (the zeros above the diagonal too) must be stored */
    float *gout = mgpt_check_fill(p, nout, NAN), *gatt = mgpt_check_fill(p, natt, NAN);
    c->k->attention_forward(&c->tctx[0], gout, gatt, qkv, B, T, C, H, 0, BH);
    char where[96];
    snprintf(where, sizeof where, "B=%d T=%d H=%d hd=%d%s", B, T, H, s.hd,
             shifted ? " (q near +8, k near -8)" : "");
    if (mgpt_check_near(c, "att", gatt, att, tol_att, natt, where) ||
        mgpt_check_near(c, "out", gout, out, tol_out, nout, where))
        return -1;
    float *aout = mgpt_check_fill(p, nout, NAN), *aatt = mgpt_check_fill(p, natt, NAN);
    c->k->attention_forward(&c->tctx[1], aout, aatt, qkv, B, T, C, H, 0, BH);
    if (mgpt_check_same(c, "att", gatt, aatt, natt, where))
        return -1;
    return mgpt_check_same(c, "out", gout, aout, nout, where);
}

/* The backward's magnitudes (see attention_backward), added onto mag (|initial|). D: T
 * doubles of scratch. */
static void backward_mag(const float *qkv, const float *att, const float *dout, att_shape s,
                         double *D, double *mag)
{
    int B = s.B, T = s.T, H = s.H, hd = s.hd, C = H * hd;
    size_t C3 = 3 * (size_t)C;
    double scale = 1.0 / sqrt((double)hd);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const float *a = &att[(((size_t)b * H + h) * T + t) * T];
                const float *dy = &dout[(size_t)(b * T + t) * C + h * hd];
                const float *q = &qkv[(size_t)(b * T + t) * C3 + h * hd];
                double Dsum = 0;
                for (int j = 0; j <= t; j++) {
                    const float *v = &qkv[(size_t)(b * T + j) * C3 + 2 * C + h * hd];
                    D[j] = 0;
                    for (int i = 0; i < hd; i++)
                        D[j] += fabsf(dy[i] * v[i]);
                    Dsum += a[j] * D[j];
                }
                size_t rq = (size_t)(b * T + t) * C3 + h * hd;
                for (int j = 0; j <= t; j++) {
                    double P = a[j] * scale * (D[j] + Dsum);
                    size_t rj = (size_t)(b * T + j) * C3 + h * hd;
                    for (int i = 0; i < hd; i++) {
                        mag[rq + i] += P * fabsf(qkv[rj + C + i]);
                        mag[rj + C + i] += P * fabsf(q[i]);
                        mag[rj + 2 * C + i] += a[j] * fabsf(dy[i]);
                    }
                }
            }
}

/* With the reference's att as input, per row t: datt_j = dy . v_j (hd terms, magnitude
 * D_j = sum|dy v_j|), dsum = sum_j att_j datt_j (t+1 more terms), dpre_j = att_j (datt_j -
 * dsum) scale has magnitude P_j = att_j scale (D_j + sum_k att_k D_k); dq and dk sum
 * dpre_j times k_j resp. q over at most T terms, dv sums att_j dy over at most T. So
 * |diff| <= eps * (hd + 2T + 8) * mag, mag = |initial| + sum |P_j k_j| (dq), sum |P_j q|
 * (dk), sum att_j |dy| (dv); |initial| = 0 when writing (the kernel starts from NaN, the
 * reference from zeros). datt is scratch and not compared.
 * bf16 (unit u): dy.v, dpre.k, dpre.q and att.dy each round two inputs, and an error in
 * datt reaches dq and dk through dpre: 6u * mag more. */
static int attention_backward(mgpt_checker *c, att_shape s, unsigned write, mgpt_check_pool *p)
{
    int B = s.B, T = s.T, H = s.H, C = H * s.hd, BH = B * H;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)BH * T * T;
    float *qkv = mgpt_check_random(c, p, nqkv, -1, 1);
    float *out = mgpt_check_floats(p, nout), *att = mgpt_check_floats(p, natt);
    c->ref->attention_forward(&c->rctx, out, att, qkv, B, T, C, H, 0, BH);
    float *dout = mgpt_check_random(c, p, nout, -1, 1);
    float *d0 = write ? mgpt_check_fill(p, nqkv, 0) : mgpt_check_random(c, p, nqkv, -1, 1);
    float *ref = mgpt_check_copy(p, d0, nqkv), *rdatt = mgpt_check_floats(p, natt);
    c->ref->attention_backward(&c->rctx, ref, rdatt, dout, qkv, att, B, T, C, H, 0, BH, 0);
    double *mag = mgpt_check_doubles(p, nqkv);
    for (size_t i = 0; i < nqkv; i++)
        mag[i] = fabsf(d0[i]);
    backward_mag(qkv, att, dout, s, mgpt_check_doubles(p, (size_t)T), mag);
    double *tol = mag;  /* in place: each magnitude becomes its tolerance */
    for (size_t i = 0; i < nqkv; i++)
        tol[i] = (FLT_EPSILON * (s.hd + 2.0 * T + 8) + 6 * c->unit) * mag[i] + 1e-30;
    /* datt is scratch: NaN, which a kernel reading it before writing would carry */
    float *got = write ? mgpt_check_fill(p, nqkv, NAN) : mgpt_check_copy(p, d0, nqkv);
    float *datt = mgpt_check_fill(p, natt, NAN);
    c->k->attention_backward(&c->tctx[0], got, datt, dout, qkv, att, B, T, C, H, 0, BH, write);
    char where[96];
    snprintf(where, sizeof where, "B=%d T=%d H=%d hd=%d, %s", B, T, H, s.hd,
             mgpt_check_mode(write));
    if (mgpt_check_near(c, "dqkv", got, ref, tol, nqkv, where))
        return -1;
    float *again = write ? mgpt_check_fill(p, nqkv, NAN) : mgpt_check_copy(p, d0, nqkv);
    float *datt2 = mgpt_check_fill(p, natt, NAN);
    c->k->attention_backward(&c->tctx[1], again, datt2, dout, qkv, att, B, T, C, H, 0, BH,
                             write);
    return mgpt_check_same(c, "dqkv", got, again, nqkv, where);
}

/* One head longer than the grid's: kernels that keep a head's scratch in their workspace
 * take another path past some length (the SIMD modules' GEMM path, from T of a few
 * hundred; the bf16 modules' from about 800), which the grid would never reach. */
static const att_shape long_head = {1, 800, 1, 4};

int mgpt_check_attention(mgpt_checker *c, int slot)
{
    mgpt_check_pool p = {0};
    int rc = 0;
    att_shape s;
    if (slot == MGPT_K_ATTENTION_FORWARD) {
        for (int i = 0; i < 13 * 13 && rc == 0; i++)
            if (shape_at(i, &s)) {
                rc = attention_forward(c, s, 0, &p);
                mgpt_check_pool_free(&p);
            }
        static const int Ts[4] = {1, 3, 8, 17}, hds[3] = {4, 16, 33};
        for (int i = 0; i < 4 * 3 && rc == 0; i++) {
            rc = attention_forward(c, (att_shape){1, Ts[i / 3], 2, hds[i % 3]}, 1, &p);
            mgpt_check_pool_free(&p);
        }
        if (rc == 0)
            rc = attention_forward(c, long_head, 0, &p);
        mgpt_check_pool_free(&p);
        return rc;
    }
    for (int m = 0; m < 2 && rc == 0; m++) {
        for (int i = 0; i < 13 * 13 && rc == 0; i++)
            if (shape_at(i, &s)) {
                rc = attention_backward(c, s, dinp_modes[m], &p);
                mgpt_check_pool_free(&p);
            }
        if (rc == 0)
            rc = attention_backward(c, long_head, dinp_modes[m], &p);
        mgpt_check_pool_free(&p);
    }
    return rc;
}

/* attention_decode: one new position against T cached keys and values, all heads, and
 * its split rule (head ranges: the same bits as the whole call). Tolerances are those of
 * attention_forward's row t = T - 1 (check_attention.c): the scores are hd-term dot
 * products; with S = max_j scale*sum|q k_j|, att's relative tolerance is
 * eps*(2*(hd+1)*S + T + 8) + 4u*S, and out's adds (T + 2)*eps + 2u relative to
 * mag = sum_j att_j |v_j| (u: the bf16 unit, 0 for fp32). */
#include <float.h>
#include <math.h>
#include "check.h"

static void decode_tol(const float *q, const float *kc, const float *vc, const float *att,
                       int T, int H, int hd, double unit, double *tol_att, double *tol_out)
{
    int C = H * hd;
    double scale = 1.0 / sqrt((double)hd);
    for (int h = 0; h < H; h++) {
        double S = 0;
        for (int j = 0; j < T; j++) {
            double m = 0;
            for (int i = 0; i < hd; i++)
                m += fabsf(q[h * hd + i] * kc[(size_t)j * C + h * hd + i]);
            S = fmax(S, m * scale);
        }
        double rel = FLT_EPSILON * (2.0 * (hd + 1) * S + T + 8) + 4 * unit * S;
        const float *a = att + (size_t)h * T;
        for (int j = 0; j < T; j++)
            tol_att[(size_t)h * T + j] = rel * a[j] + 1e-30;
        for (int i = 0; i < hd; i++) {
            double m = 0;
            for (int j = 0; j < T; j++)
                m += a[j] * fabsf(vc[(size_t)j * C + h * hd + i]);
            tol_out[h * hd + i] = (rel + (T + 2) * FLT_EPSILON + 2 * unit) * m + 1e-30;
        }
    }
}

/* One shape: the whole call against the reference, again on the other thread's context
 * (the same bits), then split at every head boundary into two calls (the same bits). */
static int decode_case(mgpt_checker *c, int T, int H, int hd, int shifted, mgpt_check_pool *p)
{
    int C = H * hd;
    size_t ncache = (size_t)T * C, natt = (size_t)H * T;
    float *q = mgpt_check_random(c, p, (size_t)C, -1, 1);
    float *kc = mgpt_check_random(c, p, ncache, -1, 1);
    float *vc = mgpt_check_random(c, p, ncache, -1, 1);
    if (shifted) {   /* every score far below 0: the row's max must be subtracted */
        for (int i = 0; i < C; i++)
            q[i] += 8.0f;
        for (size_t i = 0; i < ncache; i++)
            kc[i] -= 8.0f;
    }
    float *out = mgpt_check_floats(p, (size_t)C), *att = mgpt_check_floats(p, natt);
    c->ref->attention_decode(&c->rctx, out, att, q, kc, vc, T, C, H, 0, H);
    double *tol_att = mgpt_check_doubles(p, natt), *tol_out = mgpt_check_doubles(p, (size_t)C);
    decode_tol(q, kc, vc, att, T, H, hd, c->unit, tol_att, tol_out);
    float *gout = mgpt_check_fill(p, (size_t)C, NAN), *gatt = mgpt_check_fill(p, natt, NAN);
    c->k->attention_decode(&c->tctx[0], gout, gatt, q, kc, vc, T, C, H, 0, H);
    char where[96];
    snprintf(where, sizeof where, "T=%d H=%d hd=%d%s", T, H, hd,
             shifted ? " (q near +8, k near -8)" : "");
    if (mgpt_check_near(c, "att", gatt, att, tol_att, natt, where) ||
        mgpt_check_near(c, "out", gout, out, tol_out, (size_t)C, where))
        return -1;
    float *aout = mgpt_check_fill(p, (size_t)C, NAN), *aatt = mgpt_check_fill(p, natt, NAN);
    c->k->attention_decode(&c->tctx[1], aout, aatt, q, kc, vc, T, C, H, 0, H);
    if (mgpt_check_same(c, "att", gatt, aatt, natt, where) ||
        mgpt_check_same(c, "out", gout, aout, (size_t)C, where))
        return -1;
    for (int cut = 1; cut < H; cut++) {
        float *sout = mgpt_check_fill(p, (size_t)C, NAN), *satt = mgpt_check_fill(p, natt, NAN);
        c->k->attention_decode(&c->tctx[0], sout, satt, q, kc, vc, T, C, H, 0, cut);
        c->k->attention_decode(&c->tctx[1], sout, satt, q, kc, vc, T, C, H, cut, H);
        char split[128];
        snprintf(split, sizeof split, "%s, heads split [0,%d) [%d,%d)", where, cut, cut, H);
        if (mgpt_check_same(c, "att", gatt, satt, natt, split) ||
            mgpt_check_same(c, "out", gout, sout, (size_t)C, split))
            return -1;
    }
    return 0;
}

int mgpt_check_attention_decode(mgpt_checker *c, int slot)
{
    (void)slot;
    /* cache lengths over the tails of the vector widths up to a block of 1024; head sizes
     * below, at and past the widths 4, 8, 16 */
    static const int Ts[] = {1, 2, 7, 16, 17, 33, 100, 1024};
    static const int hds[] = {1, 3, 4, 8, 15, 16, 17, 32, 33, 64};
    mgpt_check_pool p = {0};
    int rc = 0;
    for (size_t i = 0; i < sizeof Ts / sizeof *Ts && rc == 0; i++)
        for (size_t j = 0; j < sizeof hds / sizeof *hds && rc == 0; j++)
            for (int shifted = 0; shifted < 2 && rc == 0; shifted++) {
                rc = decode_case(c, Ts[i], Ts[i] * hds[j] > 20000 ? 1 : 3, hds[j], shifted,
                                 &p);
                mgpt_check_pool_free(&p);
            }
    return rc;
}

/* embed_forward, embed_backward: rows gathered (scattered) by token and position, over N
 * and C in the tail sizes, T in {1, 7}, a vocabulary of 13 tokens. */
#include <math.h>
#include "check.h"

enum { VOCAB = 13 };

static int *tokens(mgpt_checker *c, mgpt_check_pool *p, int N)
{
    int *tok = mgpt_check_ints(p, (size_t)N);
    for (int n = 0; n < N; n++)
        tok[n] = (int)(mgpt_check_rand(c) % VOCAB);
    return tok;
}

/* out = wte[tok] + wpe[n % T]: one rounding each, |diff| <= eps * (|wte| + |wpe|) */
static int embed_forward(mgpt_checker *c, int N, int T, int C, mgpt_check_pool *p,
                         const char *where)
{
    size_t n = (size_t)N * C, nte = (size_t)VOCAB * C, npe = (size_t)T * C;
    float *wte = mgpt_check_random(c, p, nte, -1, 1), *wpe = mgpt_check_random(c, p, npe, -1, 1);
    int *tok = tokens(c, p, N);
    float *ref = mgpt_check_floats(p, n), *mag = mgpt_check_floats(p, n);
    c->ref->embed_forward(&c->rctx, ref, tok, wte, wpe, N, T, C);
    c->ref->embed_forward(&c->rctx, mag, tok, mgpt_check_abs(p, wte, nte),
                          mgpt_check_abs(p, wpe, npe), N, T, C);
    float *out = mgpt_check_fill(p, n, NAN), *again = mgpt_check_fill(p, n, NAN);
    c->k->embed_forward(&c->tctx[0], out, tok, wte, wpe, N, T, C);
    if (mgpt_check_near(c, "out", out, ref, mgpt_check_tol(p, mag, n, 1, 0), n, where))
        return -1;
    c->k->embed_forward(&c->tctx[1], again, tok, wte, wpe, N, T, C);
    return mgpt_check_same(c, "out", out, again, n, where);
}

/* Each gradient row sums at most N rows of dout onto its initial value: (N + 1) roundings.
 * embed_backward always adds (the engine zeroes dwte and dwpe): no write mode. */
static int embed_backward(mgpt_checker *c, int N, int T, int C, mgpt_check_pool *p,
                          const char *where)
{
    size_t n = (size_t)N * C, nte = (size_t)VOCAB * C, npe = (size_t)T * C;
    float *te0 = mgpt_check_random(c, p, nte, -1, 1), *pe0 = mgpt_check_random(c, p, npe, -1, 1);
    float *dout = mgpt_check_random(c, p, n, -1, 1);
    int *tok = tokens(c, p, N);
    float *rte = mgpt_check_copy(p, te0, nte), *rpe = mgpt_check_copy(p, pe0, npe);
    float *mte = mgpt_check_abs(p, te0, nte), *mpe = mgpt_check_abs(p, pe0, npe);
    c->ref->embed_backward(&c->rctx, rte, rpe, dout, tok, N, T, C);
    c->ref->embed_backward(&c->rctx, mte, mpe, mgpt_check_abs(p, dout, n), tok, N, T, C);
    float *gte = mgpt_check_copy(p, te0, nte), *gpe = mgpt_check_copy(p, pe0, npe);
    c->k->embed_backward(&c->tctx[0], gte, gpe, dout, tok, N, T, C);
    if (mgpt_check_near(c, "dwte", gte, rte, mgpt_check_tol(p, mte, nte, N + 1, 0), nte, where) ||
        mgpt_check_near(c, "dwpe", gpe, rpe, mgpt_check_tol(p, mpe, npe, N + 1, 0), npe, where))
        return -1;
    float *ate = mgpt_check_copy(p, te0, nte), *ape = mgpt_check_copy(p, pe0, npe);
    c->k->embed_backward(&c->tctx[1], ate, ape, dout, tok, N, T, C);
    if (mgpt_check_same(c, "dwte", gte, ate, nte, where))
        return -1;
    return mgpt_check_same(c, "dwpe", gpe, ape, npe, where);
}

int mgpt_check_embed(mgpt_checker *c, int slot)
{
    static const int Ts[2] = {1, 7};
    mgpt_check_pool p = {0};
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++)
        for (int j = 0; j < 10 && rc == 0; j++)
            for (int t = 0; t < 2 && rc == 0; t++) {
                int N = mgpt_check_sizes[i], C = mgpt_check_sizes[j], T = Ts[t];
                char where[96];
                snprintf(where, sizeof where, "N=%d T=%d C=%d", N, T, C);
                rc = slot == MGPT_K_EMBED_FORWARD ? embed_forward(c, N, T, C, &p, where)
                                                  : embed_backward(c, N, T, C, &p, where);
                mgpt_check_pool_free(&p);
            }
    return rc;
}

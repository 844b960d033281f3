/* One position at a time through the network of the spec, with per-layer key/value caches
 * (decode.h). The kernels are the training ones called on one row (N = 1), plus the
 * attention_decode slot for attention against the cache.
 *
 * The projections x @ w^T run as x @ wt, wt = w^T copied once at creation: the backends'
 * GEMMs read a row-major B in place when A has a few rows, while w^T is packed (a
 * transposing copy of the whole matrix) on every call, which for one row costs more than
 * the product. The slot computing A @ B for a row-major B is matmul_backward_dinp (in store
 * mode); it sums over k in the same order as matmul_forward, so the logits are the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/decode.h"

#define ALIGN_FLOATS 16 /* 64-byte alignment for every buffer of the arena */

static size_t up(size_t n)
{
    return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

static const float *param(const mgpt_model *m, const char *name)
{
    return mgpt_model_param((mgpt_model *)m, name)->data;
}

/* w [rows, cols] into wt [cols, rows]; returns the float after wt's end (aligned) */
static float *transpose(float *wt, const float *w, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            wt[j * rows + i] = w[i * cols + j];
    return wt + up(rows * cols);
}

/* out[0:n] = in[0:k] @ wt[k, n] (= in @ w^T for w [n, k]) */
static void project(const mgpt_decoder *d, float *out, const float *in, const float *wt, int k,
                    int n)
{
    d->compute.k->matmul_backward_dinp(d->compute.ctx, out, in, wt, 1, n, k, 0, 1, 0, n,
                                       MGPT_WRITE_DINP);
}

mgpt_decoder *mgpt_decoder_create(const mgpt_model *m, const mgpt_compute *c, char *err,
                                  size_t errlen)
{
    mgpt_decoder *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->m = m;
    d->compute = *c;
    d->T = m->cfg.block_size;
    d->C = m->cfg.n_embd;
    d->H = m->cfg.n_head;
    d->V = m->cfg.vocab_size;
    d->L = m->cfg.n_layer;
    size_t T = (size_t)d->T, C = (size_t)d->C, L = (size_t)d->L;
    size_t cache = up(L * T * C);
    size_t sizes[] = {cache, cache, up(C), up(C), up(3 * C), up(C), up(C), up(4 * C),
                      up(4 * C), up((size_t)d->V), up((size_t)d->H * T), up(1)};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += sizes[i];
    /* the transposed weights: per layer [C,3C], [C,C], [C,4C], [4C,C]; lm_head's [C,V] */
    size_t weights = L * (up(3 * C * C) + up(C * C) + 2 * up(4 * C * C)) + up(C * d->V);
    d->mem = aligned_alloc(64, total * sizeof(float));
    d->wt_mem = aligned_alloc(64, weights * sizeof(float));
    d->window = calloc(T, sizeof *d->window);
    d->wqkv = calloc(L, sizeof *d->wqkv);
    d->wo = calloc(L, sizeof *d->wo);
    d->fc1 = calloc(L, sizeof *d->fc1);
    d->fc2 = calloc(L, sizeof *d->fc2);
    if (!d->mem || !d->wt_mem || !d->window || !d->wqkv || !d->wo || !d->fc1 || !d->fc2) {
        snprintf(err, errlen, "out of memory for a key/value cache of %zu floats and a "
                 "transposed copy of %zu", 2 * cache, weights);
        mgpt_decoder_free(d);
        return NULL;
    }
    memset(d->mem, 0, total * sizeof(float));
    float **bufs[] = {&d->kc, &d->vc, &d->x, &d->h, &d->qkv, &d->y, &d->proj, &d->f1,
                      &d->act, &d->logits, &d->att, &d->rstd};
    float *p = d->mem;
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        *bufs[i] = p;
        p += sizes[i];
    }
    d->wte = param(m, "wte");
    d->wpe = param(m, "wpe");
    float *w = d->wt_mem;
    char name[MGPT_NAME_LEN];
    for (int l = 0; l < d->L; l++) {
#define P(s) (snprintf(name, sizeof name, "layer%d." s, l), param(m, name))
        /* wq, wk, wv are adjacent: the fused [3C, C] weight */
        d->wqkv[l] = w, w = transpose(w, P("attn_wq"), 3 * C, C);
        d->wo[l] = w, w = transpose(w, P("attn_wo"), C, C);
        d->fc1[l] = w, w = transpose(w, P("mlp_fc1"), 4 * C, C);
        d->fc2[l] = w, w = transpose(w, P("mlp_fc2"), C, 4 * C);
#undef P
    }
    d->lm_head = w;
    transpose(w, param(m, "lm_head"), (size_t)d->V, C);
    return d;
}

void mgpt_decoder_free(mgpt_decoder *d)
{
    if (!d)
        return;
    free(d->mem);
    free(d->wt_mem);
    free(d->window);
    free(d->wqkv);
    free(d->wo);
    free(d->fc1);
    free(d->fc2);
    free(d);
}

void mgpt_decoder_reset(mgpt_decoder *d)
{
    d->len = 0;
}

/* Token tok at position d->len (< T): fills every layer's cache row; the logits only when
 * asked (the positions encoded again when the window slides need none). */
static void forward_one(mgpt_decoder *d, int tok, int want_logits)
{
    const mgpt_kernels *k = d->compute.k;
    const mgpt_ctx *x = d->compute.ctx;
    int C = d->C, pos = d->len;
    size_t row = (size_t)pos * C, layer = (size_t)d->T * C;
    d->window[pos] = tok;
    /* embed_forward of one document of one position: wpe's row is the position's */
    k->embed_forward(x, d->h, &tok, d->wte, d->wpe + row, 1, 1, C);
    k->rmsnorm_forward(x, d->x, d->rstd, d->h, 1, C);
    for (int l = 0; l < d->L; l++) {
        float *kc = d->kc + l * layer, *vc = d->vc + l * layer;
        k->rmsnorm_forward(x, d->h, d->rstd, d->x, 1, C);
        project(d, d->qkv, d->h, d->wqkv[l], C, 3 * C);
        memcpy(kc + row, d->qkv + C, (size_t)C * sizeof(float));
        memcpy(vc + row, d->qkv + 2 * C, (size_t)C * sizeof(float));
        k->attention_decode(x, d->y, d->att, d->qkv, kc, vc, pos + 1, C, d->H, 0, d->H);
        project(d, d->proj, d->y, d->wo[l], C, C);
        k->add_forward(x, d->x, d->proj, d->x, (size_t)C);
        k->rmsnorm_forward(x, d->h, d->rstd, d->x, 1, C);
        project(d, d->f1, d->h, d->fc1[l], C, 4 * C);
        k->sqrelu_forward(x, d->act, d->f1, 4 * (size_t)C);
        project(d, d->proj, d->act, d->fc2[l], 4 * C, C);
        k->add_forward(x, d->x, d->proj, d->x, (size_t)C);
    }
    if (want_logits)
        project(d, d->logits, d->x, d->lm_head, C, d->V);
    d->len = pos + 1;
}

const float *mgpt_decoder_step(mgpt_decoder *d, int tok)
{
    if (d->len == d->T) {
        /* the window slides by half a block: the last T/2 tokens again from position 0 */
        int keep = d->T / 2, from = d->T - keep;
        d->len = 0;
        for (int i = 0; i < keep; i++)
            forward_one(d, d->window[from + i], 0);
    }
    forward_one(d, tok, 1);
    return d->logits;
}

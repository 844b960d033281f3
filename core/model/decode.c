/* New positions through the network of the spec, with per-sequence, per-layer key/value
 * caches (decode.h). The kernels are the training ones called on a pass's rows (N = rows),
 * plus the attention_decode slot for each row's attention against its sequence's cache.
 *
 * The projections x @ w^T run as x @ wt, wt = w^T copied once at creation: the backends'
 * GEMMs read a row-major B in place when A has a few rows, while w^T is packed (a
 * transposing copy of the whole matrix) on every call, which for a few rows costs more than
 * the product. The slot computing A @ B for a row-major B is matmul_backward_dinp (in store
 * mode); it sums over k in the same order as matmul_forward, so the logits are the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/decode.h"

#define ALIGN_FLOATS 16 /* 64-byte alignment for every buffer of the arena */
/* Rows of a prefill pass (a prompt, a window encoded again): enough for the GEMMs to run
 * at their tiles' speed, few enough that the rows' activations stay small. */
#define PREFILL_ROWS 64

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

/* out[0:rows, 0:n] = in[0:rows, 0:k] @ wt[k, n] (= in @ w^T for w [n, k]) */
static void project(const mgpt_decoder *d, float *out, const float *in, const float *wt,
                    int rows, int k, int n)
{
    d->compute.k->matmul_backward_dinp(d->compute.ctx, out, in, wt, rows, n, k, 0, rows, 0, n,
                                       MGPT_WRITE_DINP);
}

size_t mgpt_decoder_cache_bytes(const mgpt_config *cfg)
{
    return 2 * up((size_t)cfg->n_layer * cfg->block_size * cfg->n_embd) * sizeof(float);
}

mgpt_decoder *mgpt_decoder_create(const mgpt_model *m, const mgpt_compute *c, char *err,
                                  size_t errlen)
{
    return mgpt_decoder_create_batch(m, c, 1, err, errlen);
}

mgpt_decoder *mgpt_decoder_create_batch(const mgpt_model *m, const mgpt_compute *c, int n_seq,
                                        char *err, size_t errlen)
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
    d->n_seq = n_seq < 1 ? 1 : n_seq;
    int prefill = d->T < PREFILL_ROWS ? d->T : PREFILL_ROWS;
    d->rows = d->n_seq > prefill ? d->n_seq : prefill;
    size_t T = (size_t)d->T, C = (size_t)d->C, L = (size_t)d->L, R = (size_t)d->rows;
    size_t S = (size_t)d->n_seq, cache = S * up(L * T * C);
    size_t sizes[] = {cache, cache, up(R * C), up(R * C), up(R * 3 * C), up(R * C),
                      up(R * C), up(R * 4 * C), up(R * 4 * C), up(R * d->V),
                      up((size_t)d->H * T), up(R)};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += sizes[i];
    /* the transposed weights: per layer [C,3C], [C,C], [C,4C], [4C,C]; lm_head's [C,V] */
    size_t weights = L * (up(3 * C * C) + up(C * C) + 2 * up(4 * C * C)) + up(C * d->V);
    d->mem = aligned_alloc(64, total * sizeof(float));
    d->wt_mem = aligned_alloc(64, weights * sizeof(float));
    d->len = calloc(S, sizeof *d->len);
    d->window = calloc(S * T, sizeof *d->window);
    d->row_seq = calloc(R, sizeof *d->row_seq);
    d->row_pos = calloc(R, sizeof *d->row_pos);
    d->wqkv = calloc(L, sizeof *d->wqkv);
    d->wo = calloc(L, sizeof *d->wo);
    d->fc1 = calloc(L, sizeof *d->fc1);
    d->fc2 = calloc(L, sizeof *d->fc2);
    if (!d->mem || !d->wt_mem || !d->len || !d->window || !d->row_seq || !d->row_pos ||
        !d->wqkv || !d->wo || !d->fc1 || !d->fc2) {
        snprintf(err, errlen, "out of memory for key/value caches of %zu floats (%zu "
                 "sequences) and a transposed copy of %zu", 2 * cache, S, weights);
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
    free(d->len);
    free(d->window);
    free(d->row_seq);
    free(d->row_pos);
    free(d->wqkv);
    free(d->wo);
    free(d->fc1);
    free(d->fc2);
    free(d);
}

void mgpt_decoder_reset(mgpt_decoder *d)
{
    memset(d->len, 0, (size_t)d->n_seq * sizeof *d->len);
}

/* sequence s's cache of layer l: [T, C] */
static size_t cache_at(const mgpt_decoder *d, int s, int l)
{
    return ((size_t)s * up((size_t)d->L * d->T * d->C) + (size_t)l * d->T * d->C);
}

/* One pass over n rows: row r is the token window[row_seq[r]][row_pos[r]] at that
 * position; the rows of one sequence come in increasing positions, and every position
 * before a sequence's first row is in its cache. Fills the rows' cache entries; the logits
 * of rows first .. n-1 go to d->logits ([n - first, V]). */
static void forward_rows(mgpt_decoder *d, int n, int first)
{
    const mgpt_kernels *k = d->compute.k;
    const mgpt_ctx *x = d->compute.ctx;
    int C = d->C, T = d->T;
    size_t nc = (size_t)n * C;
    for (int r = 0; r < n; r++) {
        /* embed_forward of one document of one position: wpe's row is the position's */
        int pos = d->row_pos[r];
        const int *tok = d->window + (size_t)d->row_seq[r] * T + pos;
        k->embed_forward(x, d->h + (size_t)r * C, tok, d->wte, d->wpe + (size_t)pos * C, 1, 1,
                         C);
    }
    k->rmsnorm_forward(x, d->x, d->rstd, d->h, n, C);
    for (int l = 0; l < d->L; l++) {
        k->rmsnorm_forward(x, d->h, d->rstd, d->x, n, C);
        project(d, d->qkv, d->h, d->wqkv[l], n, C, 3 * C);
        /* every row's key and value first: a later row of a sequence attends to them */
        for (int r = 0; r < n; r++) {
            size_t at = cache_at(d, d->row_seq[r], l) + (size_t)d->row_pos[r] * C;
            const float *qkv = d->qkv + (size_t)r * 3 * C;
            memcpy(d->kc + at, qkv + C, (size_t)C * sizeof(float));
            memcpy(d->vc + at, qkv + 2 * C, (size_t)C * sizeof(float));
        }
        for (int r = 0; r < n; r++) {
            size_t at = cache_at(d, d->row_seq[r], l);
            k->attention_decode(x, d->y + (size_t)r * C, d->att, d->qkv + (size_t)r * 3 * C,
                                d->kc + at, d->vc + at, d->row_pos[r] + 1, C, d->H, 0, d->H);
        }
        project(d, d->proj, d->y, d->wo[l], n, C, C);
        k->add_forward(x, d->x, d->proj, d->x, nc);
        k->rmsnorm_forward(x, d->h, d->rstd, d->x, n, C);
        project(d, d->f1, d->h, d->fc1[l], n, C, 4 * C);
        k->sqrelu_forward(x, d->act, d->f1, 4 * nc);
        project(d, d->proj, d->act, d->fc2[l], n, 4 * C, C);
        k->add_forward(x, d->x, d->proj, d->x, nc);
    }
    if (first < n)
        project(d, d->logits, d->x + (size_t)first * C, d->lm_head, n - first, C, d->V);
    for (int r = 0; r < n; r++)
        d->len[d->row_seq[r]] = d->row_pos[r] + 1;
}

/* Sequence s's window[len .. len+n) through the network in passes of d->rows; the last
 * pass's last row's logits when want_logits. */
static void encode(mgpt_decoder *d, int s, int n, int want_logits)
{
    while (n > 0) {
        int m = n < d->rows ? n : d->rows;
        for (int r = 0; r < m; r++) {
            d->row_seq[r] = s;
            d->row_pos[r] = d->len[s] + r;
        }
        n -= m;
        forward_rows(d, m, want_logits && n == 0 ? m - 1 : m);
    }
}

/* A full cache slides by half a block: the last T/2 tokens again from position 0. */
static void slide(mgpt_decoder *d, int s)
{
    int keep = d->T / 2, from = d->T - keep;
    int *w = d->window + (size_t)s * d->T;
    memmove(w, w + from, (size_t)keep * sizeof *w);
    d->len[s] = 0;
    encode(d, s, keep, 0);
}

const float *mgpt_decoder_feed(mgpt_decoder *d, int s, const int *tok, int n)
{
    while (n > 0) {
        if (d->len[s] == d->T)
            slide(d, s);
        int room = d->T - d->len[s], m = n < room ? n : room;
        memcpy(d->window + (size_t)s * d->T + d->len[s], tok, (size_t)m * sizeof *tok);
        tok += m;
        n -= m;
        encode(d, s, m, n == 0);
    }
    return d->logits;
}

const float *mgpt_decoder_step(mgpt_decoder *d, int tok)
{
    return mgpt_decoder_feed(d, 0, &tok, 1);
}

const float *mgpt_decoder_step_batch(mgpt_decoder *d, const int *seq, const int *tok, int n)
{
    for (int i = 0; i < n; i++)
        if (d->len[seq[i]] == d->T)
            slide(d, seq[i]);
    for (int i = 0; i < n; i++) {
        int s = seq[i];
        d->window[(size_t)s * d->T + d->len[s]] = tok[i];
        d->row_seq[i] = s;
        d->row_pos[i] = d->len[s];
    }
    forward_rows(d, n, 0);
    return d->logits;
}

void mgpt_decoder_copy(mgpt_decoder *d, int dst, int src)
{
    if (dst == src)
        return;
    size_t T = (size_t)d->T, C = (size_t)d->C, n = (size_t)d->len[src];
    memcpy(d->window + dst * T, d->window + src * T, n * sizeof *d->window);
    for (int l = 0; l < d->L; l++) {
        memcpy(d->kc + cache_at(d, dst, l), d->kc + cache_at(d, src, l), n * C * sizeof(float));
        memcpy(d->vc + cache_at(d, dst, l), d->vc + cache_at(d, src, l), n * C * sizeof(float));
    }
    d->len[dst] = d->len[src];
}

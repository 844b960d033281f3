/* Sampling: BOS, then one byte at a time from softmax(logits / temperature), optionally
 * cut to the top k and to the smallest set whose probability reaches top_p. */
#include <math.h>
#include <stdlib.h>
#include "model/sampler.h"

void mgpt_sample_defaults(mgpt_sample_opts *o, const mgpt_model *m)
{
    o->temperature = 0.5f;
    o->top_k = 0;
    o->top_p = 1.0f;
    o->max_len = m->T;
    o->bos_is_newline = 0;
}

/* Does id a come before id b: more probable, or as probable and lower? */
static int before(const double *p, int a, int b)
{
    return p[a] > p[b] || (p[a] == p[b] && a < b);
}

/* Orders ids by probability, highest first (ties: lower id first), for top-k, top-p and the
 * draw's walk. A heap sort: O(V log V) for a BPE vocabulary of thousands (an insertion
 * sort's V^2 / 4 moves cost more than the decode step there); the order is total, so any
 * sort gives the same one. */
static void order_ids(int *idx, const double *p, int V)
{
    /* a heap whose root comes last in the order, so the sorted ids fill idx from its end */
    for (int start = V / 2 - 1, end = V;; ) {
        int root;
        if (start >= 0) {
            root = start--;
        } else {
            if (--end <= 0)
                return;
            int t = idx[0];
            idx[0] = idx[end];
            idx[end] = t;
            root = 0;
        }
        for (int child; (child = 2 * root + 1) < end; root = child) {
            if (child + 1 < end && before(p, idx[child], idx[child + 1]))
                child++;
            if (!before(p, idx[root], idx[child]))
                break;
            int t = idx[root];
            idx[root] = idx[child];
            idx[child] = t;
        }
    }
}

int mgpt_sample_draw(const float *logits, int V, const mgpt_sample_opts *o, mgpt_rng *rng,
                     double *p, int *idx)
{
    double maxv = logits[0];
    for (int i = 1; i < V; i++)
        if (logits[i] > maxv)
            maxv = logits[i];
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        p[i] = exp((logits[i] - maxv) / o->temperature);
        sum += p[i];
        idx[i] = i;
    }
    order_ids(idx, p, V);
    int keep = V;
    if (o->top_k > 0 && o->top_k < keep)
        keep = o->top_k;
    if (o->top_p < 1.0f) {
        double cum = 0.0;
        for (int i = 0; i < keep; i++) {
            cum += p[idx[i]] / sum;
            if (cum >= o->top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double kept = 0.0;
    for (int i = 0; i < keep; i++)
        kept += p[idx[i]];
    double u = mgpt_rng_uniform(rng) * kept;
    for (int i = 0; i < keep; i++) {
        u -= p[idx[i]];
        if (u < 0)
            return idx[i];
    }
    return idx[keep - 1];
}

int mgpt_sample_put(const mgpt_vocab *v, int id, char *out, size_t cap, int *len,
                    mgpt_sample_emit emit, void *user)
{
    const unsigned char *bytes;
    size_t k = mgpt_vocab_token(v, id, &bytes);
    if ((size_t)*len + k + 1 > cap)
        return -1;
    for (size_t i = 0; i < k; i++) {
        out[(*len)++] = (char)bytes[i];
        if (emit)
            emit(bytes[i], user);
    }
    return 0;
}

int mgpt_sample(mgpt_model *m, const mgpt_vocab *v, mgpt_rng *rng, const mgpt_sample_opts *o,
                char *out, size_t cap, mgpt_sample_emit emit, void *user)
{
    int V = m->cfg.vocab_size, T = m->T;
    double *p = malloc((size_t)V * sizeof *p);
    int *idx = malloc((size_t)V * sizeof *idx);
    if (!p || !idx) {
        free(p);
        free(idx);
        return -1;
    }
    for (int i = 0; i < m->N; i++) {
        m->tokens[i] = MGPT_BOS;
        m->targets[i] = -1;
    }
    int max_len = o->max_len < T ? o->max_len : T;
    int len = 0;
    for (int t = 0; t < max_len && (size_t)len + 1 < cap; t++) {
        mgpt_model_forward(m);
        int id = mgpt_sample_draw(mgpt_model_logits(m, 0, t), V, o, rng, p, idx);
        if (id == MGPT_BOS || mgpt_sample_put(v, id, out, cap, &len, emit, user) != 0)
            break;
        if (t + 1 < T)
            m->tokens[t + 1] = id;
    }
    out[len] = '\0';
    free(p);
    free(idx);
    return len;
}

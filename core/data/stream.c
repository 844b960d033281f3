/* Stream mode: one token stream, random training windows, a validation tail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "data/rng.h"
#include "data/stream.h"

int mgpt_stream_make(mgpt_stream *s, const mgpt_docs *d, const mgpt_vocab *v,
                     double val_fraction, char *err, size_t errlen)
{
    size_t n = 1;
    for (int i = 0; i < d->count; i++)
        n += mgpt_docs_ntok(d, i) + 1;
    s->tok = malloc(n * sizeof *s->tok);
    if (!s->tok) {
        snprintf(err, errlen, "out of memory (a stream of %zu tokens)", n);
        return -1;
    }
    size_t k = 0;
    s->tok[k++] = MGPT_BOS;
    for (int i = 0; i < d->count; i++) {
        for (size_t j = 0; d->tok && j < d->ntok[i]; j++)
            s->tok[k++] = d->tok[i][j];
        for (size_t j = 0; !d->tok && j < d->len[i]; j++) {
            int id = v->id[(unsigned char)d->text[i][j]];
            if (id < 0) {
                snprintf(err, errlen, "document %d has a byte that is not in the vocabulary",
                         i + 1);
                mgpt_stream_free(s);
                return -1;
            }
            s->tok[k++] = id;
        }
        s->tok[k++] = MGPT_BOS;
    }
    s->n = n;
    double nv = nearbyint(val_fraction * (double)n);
    size_t n_val = nv < 0 ? 0 : nv > (double)n ? n : (size_t)nv;
    s->n_train = n - n_val;
    return 0;
}

void mgpt_stream_free(mgpt_stream *s)
{
    free(s->tok);
    s->tok = NULL;
    s->n = s->n_train = 0;
}

void mgpt_stream_batch(const mgpt_stream *s, uint64_t seed, long step, int B, int T,
                       int *tokens, int *targets)
{
    /* one stream per step: the windows of step s do not depend on the steps before it */
    mgpt_rng r;
    mgpt_rng_seed(&r, seed ^ ((uint64_t)step * 0x9E3779B97F4A7C15ull), MGPT_STREAM_WINDOWS);
    uint64_t starts = (uint64_t)(s->n_train - (size_t)T); /* start + T <= n_train - 1 */
    for (int b = 0; b < B; b++) {
        size_t start = (size_t)mgpt_rng_below(&r, starts);
        for (int t = 0; t < T; t++) {
            tokens[(size_t)b * T + t] = s->tok[start + t];
            targets[(size_t)b * T + t] = s->tok[start + t + 1];
        }
    }
}

long mgpt_stream_val_batches(const mgpt_stream *s, int B, int T)
{
    size_t m = s->n - s->n_train;
    if (m < 2)
        return 0;
    long windows = (long)((m - 1 + (size_t)T - 1) / (size_t)T);
    return (windows + B - 1) / B;
}

int mgpt_stream_val_batch(const mgpt_stream *s, long batch, int B, int T, int *tokens,
                          int *targets)
{
    const int *tail = s->tok + s->n_train;
    size_t m = s->n - s->n_train;
    int unmasked = 0;
    for (int b = 0; b < B; b++) {
        size_t first = ((size_t)batch * B + b) * (size_t)T;
        for (int t = 0; t < T; t++) {
            size_t j = first + t;
            int real = j + 1 < m;
            tokens[(size_t)b * T + t] = real ? tail[j] : MGPT_BOS;
            targets[(size_t)b * T + t] = real ? tail[j + 1] : -1;
            unmasked += real;
        }
    }
    return unmasked;
}

/* Deterministic evaluation: the token-weighted mean loss over a set of documents. */
#include <stdio.h>
#include <stdlib.h>
#include "model/evaluate.h"

int mgpt_evaluate_positions(const mgpt_docs *d, const int *ids, int n, int block_size)
{
    size_t T = 1;
    for (int i = 0; i < n; i++) {
        size_t p = mgpt_docs_ntok(d, ids[i]) + 1;
        T = p > T ? p : T;
    }
    return T < (size_t)block_size ? (int)T : block_size;
}

int mgpt_evaluate(mgpt_model *m, const mgpt_docs *d, const mgpt_vocab *v, const int *ids, int n,
                  double *mean_loss, char *err, size_t errlen)
{
    int B = m->B, T = m->T;
    int *batch = malloc((size_t)B * sizeof *batch);
    int *scratch = malloc(((size_t)T + 2) * sizeof *scratch);
    if (!batch || !scratch) {
        free(batch);
        free(scratch);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    double sum = 0.0;
    long count = 0;
    for (int i = 0; i < n; i += B) {
        for (int b = 0; b < B; b++)
            batch[b] = i + b < n ? ids[i + b] : -1;
        int c = mgpt_batch_fill(d, v, batch, B, T, m->tokens, m->targets, scratch, err, errlen);
        if (c < 0) {
            free(batch);
            free(scratch);
            return -1;
        }
        mgpt_model_forward(m);
        /* sum per position in a fixed order, so the result does not depend on B */
        for (int r = 0; r < m->N; r++)
            if (m->targets[r] >= 0)
                sum += m->losses->data[r];
        count += c;
    }
    free(batch);
    free(scratch);
    *mean_loss = count > 0 ? sum / count : 0.0;
    return 0;
}

void mgpt_evaluate_stream(mgpt_model *m, const mgpt_stream *s, double *mean_loss)
{
    double sum = 0.0;
    long count = 0;
    long batches = mgpt_stream_val_batches(s, m->B, m->T);
    for (long i = 0; i < batches; i++) {
        count += mgpt_stream_val_batch(s, i, m->B, m->T, m->tokens, m->targets);
        mgpt_model_forward(m);
        for (int r = 0; r < m->N; r++)
            if (m->targets[r] >= 0)
                sum += m->losses->data[r];
    }
    *mean_loss = count > 0 ? sum / count : 0.0;
}

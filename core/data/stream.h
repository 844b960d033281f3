/* Stream mode: the documents as one token stream, trained on by random windows (as
 * nanoGPT does) and validated on a held-out tail. */
#ifndef MGPT_STREAM_H
#define MGPT_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"
#include "data/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tok[0..n_train) is the training part, tok[n_train..n) the validation tail. */
typedef struct mgpt_stream {
    int *tok;
    size_t n;
    size_t n_train;
} mgpt_stream;

/* The documents in their order joined by BOS: [BOS] d0 [BOS] d1 ... [BOS] dk [BOS]
 * (a BOS stands where each line ended). The last round(val_fraction * n) tokens are the
 * validation tail. Returns -1 with err set if a byte is not in v or memory runs out. */
int mgpt_stream_make(mgpt_stream *s, const mgpt_docs *d, const mgpt_vocab *v,
                     double val_fraction, char *err, size_t errlen);
void mgpt_stream_free(mgpt_stream *s);

/* B windows of T+1 tokens from the training part, inputs into tokens[B*T] and targets
 * (shifted by one) into targets[B*T]. The starts are drawn from the batch stream of
 * (seed, step): a pure function of them, so a resumed run draws the same windows.
 * Needs n_train >= T + 1. */
void mgpt_stream_batch(const mgpt_stream *s, uint64_t seed, long step, int B, int T,
                       int *tokens, int *targets);

/* Row b of batch number `batch` of the validation tail: consecutive windows of up to
 * T+1 tokens, each position of the tail a target once (short last window masked with
 * -1, rows past the tail all masked). Returns the number of unmasked targets. */
int mgpt_stream_val_batch(const mgpt_stream *s, long batch, int B, int T, int *tokens,
                          int *targets);
/* The number of validation batches of B rows of T positions. */
long mgpt_stream_val_batches(const mgpt_stream *s, int B, int T);
#ifdef __cplusplus
}
#endif
#endif

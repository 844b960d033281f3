/* The mean loss over documents: deterministic, no sampling. */
#ifndef MGPT_EVALUATE_H
#define MGPT_EVALUATE_H
#include <stddef.h>
#include "data/dataset.h"
#include "data/stream.h"
#include "model/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean cross-entropy over every position (the first min(T, len-1) of each document) of
 * docs ids[0..n-1], run in batches of the model's B. Returns -1 with err set if a document
 * has a byte outside the vocabulary. */
int mgpt_evaluate(mgpt_model *m, const mgpt_docs *d, const mgpt_vocab *v, const int *ids, int n,
                  double *mean_loss, char *err, size_t errlen);
/* The positions an evaluation of docs ids[0..n-1] needs: the longest document's
 * min(block_size, len + 1), at least 1. A model of this T gives the same losses as one of
 * block_size (causal attention: padding after a position does not change it), in a
 * fraction of the memory when the documents are short. */
int mgpt_evaluate_positions(const mgpt_docs *d, const int *ids, int n, int block_size);
/* Mean cross-entropy over every target of the stream's validation tail (consecutive
 * windows of T+1 tokens, in batches of the model's B); 0 if the tail is empty. */
void mgpt_evaluate_stream(mgpt_model *m, const mgpt_stream *s, double *mean_loss);
#ifdef __cplusplus
}
#endif
#endif

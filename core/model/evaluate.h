/* The mean loss over documents: deterministic, no sampling. */
#ifndef MGPT_EVALUATE_H
#define MGPT_EVALUATE_H
#include <stddef.h>
#include "data/dataset.h"
#include "model/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean cross-entropy over every position (the first min(T, len-1) of each document) of
 * docs ids[0..n-1], run in batches of the model's B. Returns -1 with err set if a document
 * has a byte outside the vocabulary. */
int mgpt_evaluate(mgpt_model *m, const mgpt_docs *d, const mgpt_vocab *v, const int *ids, int n,
                  double *mean_loss, char *err, size_t errlen);
#ifdef __cplusplus
}
#endif
#endif

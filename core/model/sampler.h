/* Sampling from a trained model: start at BOS, draw from softmax(logits / temperature)
 * with optional top-k and top-p, stop at BOS or after max_len tokens. */
#ifndef MGPT_SAMPLER_H
#define MGPT_SAMPLER_H
#include <stddef.h>
#include "model/model.h"
#include "data/rng.h"
#include "data/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_sample_opts {
    float temperature;  /* > 0; default 0.5 */
    int top_k;          /* 0 = off */
    float top_p;        /* 1 = off; in (0, 1] */
    int max_len;        /* <= block_size; default block_size */
    int bos_is_newline; /* a model trained on a stream (lines joined by BOS): mgpt_generate
                         * writes a drawn BOS as '\n' and goes on; default 0, BOS ends */
} mgpt_sample_opts;

void mgpt_sample_defaults(mgpt_sample_opts *o, const mgpt_model *m);

/* Picks an id from logits[V] as o says, one draw of rng; p and idx are V-long scratch. */
int mgpt_sample_draw(const float *logits, int V, const mgpt_sample_opts *o, mgpt_rng *rng,
                     double *p, int *idx);

/* Called with each new byte when streaming (may be NULL). */
typedef void (*mgpt_sample_emit)(unsigned char byte, void *user);

/* Appends the bytes of token id (several for a BPE merge) to out[*len..], advancing *len
 * and emitting each; -1, writing nothing, if they and a NUL would not fit in cap. */
int mgpt_sample_put(const mgpt_vocab *v, int id, char *out, size_t cap, int *len,
                    mgpt_sample_emit emit, void *user);

/* Generates one document into out by a full forward pass per token (the reference that
 * mgpt_generate, generate.h, is tested against) (NUL-terminated, at most cap-1 bytes; a token whose bytes
 * do not fit ends it); returns its length in bytes, or -1 when memory runs out. Uses document row 0 of the model (any B >= 1). */
int mgpt_sample(mgpt_model *m, const mgpt_vocab *v, mgpt_rng *rng, const mgpt_sample_opts *o,
                char *out, size_t cap, mgpt_sample_emit emit, void *user);
#ifdef __cplusplus
}
#endif
#endif

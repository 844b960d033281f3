/* Generation with a key/value cache: the model's forward pass for one new position at a
 * time, against the keys and values of the earlier positions kept per layer, so a token
 * costs one position of work instead of a whole block. Memory (the caches and one row of
 * every activation) is planned and allocated once at creation.
 *
 * Past the block: learned position embeddings stop at block_size - 1, and a cached key or
 * value depends on its position, so a cache cannot be shifted. When the cache holds
 * block_size positions, the last block_size / 2 tokens are encoded again at positions
 * 0 .. block_size/2 - 1 and generation goes on from there: a token beyond the block costs
 * two positions on average (instead of a block each, as cropping to the last block_size - 1
 * tokens at every step would), and sees between block_size / 2 and block_size - 1 tokens of
 * context. Within the block the logits are the full forward pass's. */
#ifndef MGPT_DECODE_H
#define MGPT_DECODE_H
#include <stddef.h>
#include "model/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_decoder {
    const mgpt_model *m;    /* parameters and config (not its activations) */
    mgpt_compute compute;   /* the kernels every step runs */
    int T, C, H, V, L;
    int len;                /* positions in the cache */
    int *window;            /* [T] the tokens at positions 0 .. len-1 */
    float *kc, *vc;         /* [L, T, C] the cached keys and values */
    float *mem;             /* one arena for the caches and the row activations */
    float *x, *h, *qkv, *y, *proj, *f1, *act, *logits, *att, *rstd;
    float *wt_mem;          /* the projections' weights transposed at creation (decode.c) */
    const float *wte, *wpe, *lm_head;         /* lm_head: [C, V], transposed */
    const float **wqkv, **wo, **fc1, **fc2;   /* [L] each, transposed: [C, 3C] ... [4C, C] */
} mgpt_decoder;

/* NULL on failure with err set (out of memory). c: the kernels (a team's for threads).
 * The decoder copies m's projection weights (transposed) now: later changes to m's
 * parameters are not seen. */
mgpt_decoder *mgpt_decoder_create(const mgpt_model *m, const mgpt_compute *c, char *err,
                                  size_t errlen);
void mgpt_decoder_free(mgpt_decoder *d);
/* Empties the cache: the next token goes at position 0. */
void mgpt_decoder_reset(mgpt_decoder *d);
/* Appends token tok (sliding the window when the cache is full) and returns the logits
 * ([V] floats, valid until the next call) of the next token. */
const float *mgpt_decoder_step(mgpt_decoder *d, int tok);
#ifdef __cplusplus
}
#endif
#endif

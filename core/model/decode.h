/* Generation with a key/value cache: the model's forward pass for new positions only,
 * against the keys and values of the earlier positions kept per layer, so a token costs
 * one position of work instead of a whole block. Memory (the caches and the rows of every
 * activation) is planned and allocated once at creation.
 *
 * Several sequences at once: a decoder holds n_seq caches, and one pass computes a row per
 * sequence (mgpt_decoder_step_batch), so every weight read from memory serves n_seq tokens
 * instead of one. A prompt, or a window encoded again, runs as one pass of many rows of a
 * sequence (mgpt_decoder_feed). A row's numbers do not depend on the other rows of its pass
 * (the GEMMs sum each element over k in one order whatever their M), so a sequence's
 * logits are the same alone or in a batch, token by token or fed at once.
 *
 * Past the block: learned position embeddings stop at block_size - 1, and a cached key or
 * value depends on its position, so a cache cannot be shifted. When a sequence's cache
 * holds block_size positions, its last block_size / 2 tokens are encoded again at positions
 * 0 .. block_size/2 - 1 (in passes of many rows) and generation goes on from there: a token
 * beyond the block costs one position plus one share of a re-encoding pass (instead of a
 * block each, as cropping to the last block_size - 1 tokens at every step would), and sees
 * between block_size / 2 and block_size - 1 tokens of context. Within the block the logits
 * are the full forward pass's. */
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
    int n_seq;              /* sequences, each with its own cache */
    int rows;               /* rows one pass computes at most: max(n_seq, a prefill pass) */
    int *len;               /* [n_seq] positions in each cache */
    int *window;            /* [n_seq, T] the tokens at positions 0 .. len-1 */
    int *row_seq, *row_pos; /* [rows] a pass's rows: sequence and position */
    float *kc, *vc;         /* [n_seq, L, T, C] the cached keys and values */
    float *mem;             /* one arena for the caches and the rows' activations */
    float *x, *h, *qkv, *y, *proj, *f1, *act, *logits, *att, *rstd;   /* [rows, ...] */
    float *wt_mem;          /* the projections' weights transposed at creation (decode.c) */
    const float *wte, *wpe, *lm_head;         /* lm_head: [C, V], transposed */
    const float **wqkv, **wo, **fc1, **fc2;   /* [L] each, transposed: [C, 3C] ... [4C, C] */
} mgpt_decoder;

/* One sequence: mgpt_decoder_create_batch(m, c, 1, ...). */
mgpt_decoder *mgpt_decoder_create(const mgpt_model *m, const mgpt_compute *c, char *err,
                                  size_t errlen);
/* NULL on failure with err set (out of memory). c: the kernels (a team's for threads).
 * n_seq >= 1 sequences. The decoder copies m's projection weights (transposed) now: later
 * changes to m's parameters are not seen. */
mgpt_decoder *mgpt_decoder_create_batch(const mgpt_model *m, const mgpt_compute *c, int n_seq,
                                        char *err, size_t errlen);
/* The bytes of the key/value caches of one sequence (to size a batch). */
size_t mgpt_decoder_cache_bytes(const mgpt_config *cfg);
void mgpt_decoder_free(mgpt_decoder *d);
/* Empties every cache: the next token of each sequence goes at position 0. */
void mgpt_decoder_reset(mgpt_decoder *d);
/* Appends token tok to sequence 0 (sliding its window when the cache is full) and returns
 * the logits ([V] floats, valid until the next call) of the next token. */
const float *mgpt_decoder_step(mgpt_decoder *d, int tok);
/* Appends n >= 1 tokens to sequence s, in passes of up to d->rows positions (sliding the
 * window when full), and returns the logits of the token after the last ([V]). */
const float *mgpt_decoder_feed(mgpt_decoder *d, int s, const int *tok, int n);
/* Appends tok[i] to sequence seq[i] for i < n (distinct sequences, n <= n_seq) in one pass
 * and returns the logits of each one's next token: [n, V], row i for seq[i]. */
const float *mgpt_decoder_step_batch(mgpt_decoder *d, const int *seq, const int *tok, int n);
/* Sequence dst becomes a copy of sequence src (its cache and window), as if fed the same
 * tokens: a prompt shared by a batch is encoded once. */
void mgpt_decoder_copy(mgpt_decoder *d, int dst, int src);
#ifdef __cplusplus
}
#endif
#endif

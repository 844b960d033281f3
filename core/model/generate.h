/* Generation through the key/value cache (decode.h): from BOS and an optional prompt, one
 * token per step, past the block size if asked. Same seed, same options: within the block,
 * the same draws as mgpt_sample (sampler.h), which runs a full forward pass per token.
 * Several samples run as a batch, one row of each pass per sample: a sample's text depends
 * only on its own random stream, not on the batch it ran in. */
#ifndef MGPT_GENERATE_H
#define MGPT_GENERATE_H
#include <stddef.h>
#include "model/decode.h"
#include "model/sampler.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Feeds BOS and the prompt's ids (n_prompt, none BOS), then draws at most max_new tokens,
 * stopping early at BOS (unless o->bos_is_newline: then it is written as a newline and
 * fed back) or at a token whose bytes do not fit; the bytes drawn go to out
 * (NUL-terminated, at most cap-1) and to emit (may be NULL) as they come. Returns the
 * number of bytes written to out, or -1 when memory runs out. o's max_len
 * is not used (max_new is the limit). */
int mgpt_generate(mgpt_decoder *d, const mgpt_vocab *v, mgpt_rng *rng,
                  const mgpt_sample_opts *o, const int *prompt, int n_prompt, int max_new,
                  char *out, size_t cap, mgpt_sample_emit emit, void *user);
/* n samples (1 <= n <= d->n_seq) continuing BOS and the same prompt, at once: sample i
 * draws with rng[i] into out + i * cap (lens[i] bytes, NUL-terminated), the text that
 * mgpt_generate gives with that rng. The prompt is encoded once (one pass of its rows) and
 * copied to every sequence. Returns 0, or -1 when memory runs out. */
int mgpt_generate_batch(mgpt_decoder *d, const mgpt_vocab *v, mgpt_rng *rng,
                        const mgpt_sample_opts *o, const int *prompt, int n_prompt, int max_new,
                        int n, char *out, size_t cap, int *lens);
#ifdef __cplusplus
}
#endif
#endif

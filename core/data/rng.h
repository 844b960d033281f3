/* A small deterministic PRNG (splitmix64): same seed, same numbers on every machine. */
#ifndef MGPT_RNG_H
#define MGPT_RNG_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_rng { uint64_t state; } mgpt_rng;

/* Independent streams of one seed: init, data shuffle and sampling never share numbers. */
enum { MGPT_STREAM_INIT = 1, MGPT_STREAM_SHUFFLE = 2, MGPT_STREAM_SAMPLE = 3,
       MGPT_STREAM_WINDOWS = 4 };

void mgpt_rng_seed(mgpt_rng *r, uint64_t seed, uint64_t stream);
/* Sample i's own stream of a seed (i = 0: MGPT_STREAM_SAMPLE itself): a sample's text does
 * not depend on the samples drawn before it or beside it in a batch. */
void mgpt_rng_seed_sample(mgpt_rng *r, uint64_t seed, uint64_t i);
uint64_t mgpt_rng_u64(mgpt_rng *r);
double mgpt_rng_uniform(mgpt_rng *r);          /* [0, 1) with 53 random bits */
double mgpt_rng_normal(mgpt_rng *r);           /* N(0, 1), Box-Muller */
uint64_t mgpt_rng_below(mgpt_rng *r, uint64_t n); /* uniform in [0, n), unbiased */
#ifdef __cplusplus
}
#endif
#endif

/* splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and identical everywhere. */
#include <math.h>
#include "data/rng.h"

void mgpt_rng_seed(mgpt_rng *r, uint64_t seed, uint64_t stream)
{
    r->state = seed ^ (stream * 0xD1B54A32D192ED03ull);
    (void)mgpt_rng_u64(r); /* decorrelate nearby seeds */
}

void mgpt_rng_seed_sample(mgpt_rng *r, uint64_t seed, uint64_t i)
{
    mgpt_rng_seed(r, seed, MGPT_STREAM_SAMPLE + (i << 32));
}

uint64_t mgpt_rng_u64(mgpt_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double mgpt_rng_uniform(mgpt_rng *r)
{
    return (double)(mgpt_rng_u64(r) >> 11) * 0x1.0p-53;
}

double mgpt_rng_normal(mgpt_rng *r)
{
    double u1 = 1.0 - mgpt_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = mgpt_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t mgpt_rng_below(mgpt_rng *r, uint64_t n)
{
    /* rejection keeps it unbiased */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = mgpt_rng_u64(r);
    while (x >= limit);
    return x % n;
}

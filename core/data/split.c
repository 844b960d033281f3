/* The seeded shuffle of documents and the validation split. */
#include <math.h>
#include <stdlib.h>
#include "data/dataset.h"
#include "data/rng.h"

int mgpt_split_make(mgpt_split *s, int count, uint64_t seed, double val_fraction)
{
    s->order = malloc((size_t)(count > 0 ? count : 1) * sizeof *s->order);
    if (!s->order)
        return -1;
    s->count = count;
    for (int i = 0; i < count; i++)
        s->order[i] = i;
    /* Fisher-Yates, from the shuffle stream of the seed */
    mgpt_rng r;
    mgpt_rng_seed(&r, seed, MGPT_STREAM_SHUFFLE);
    for (int i = count - 1; i > 0; i--) {
        int j = (int)mgpt_rng_below(&r, (uint64_t)i + 1);
        int t = s->order[i];
        s->order[i] = s->order[j];
        s->order[j] = t;
    }
    /* round half to even, as Python's round() (the seed's language) does */
    double nv = nearbyint(val_fraction * count);
    s->n_val = nv < 0 ? 0 : nv > count ? count : (int)nv;
    return 0;
}

void mgpt_split_free(mgpt_split *s)
{
    free(s->order);
    s->order = NULL;
    s->count = s->n_val = 0;
}

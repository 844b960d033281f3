/* A batch: B documents of T positions, padded and masked. */
#include <stdio.h>
#include "data/dataset.h"
#include "data/rng.h"

int mgpt_batch_fill(const mgpt_docs *d, const mgpt_vocab *v, const int *doc_ids, int B, int T,
                    int *tokens, int *targets, int *scratch, char *err, size_t errlen)
{
    int unmasked = 0;
    for (int b = 0; b < B; b++) {
        int *tok = tokens + (size_t)b * T;
        int *tgt = targets + (size_t)b * T;
        int n = 0;
        if (doc_ids[b] >= 0 && d->tok) {
            /* pre-encoded (BPE): [BOS] ids [BOS], the first T+1 of them */
            int id = doc_ids[b];
            size_t len = d->ntok[id];
            n = len + 1 < (size_t)T ? (int)len + 1 : T;
            for (int t = 0; t < n; t++) {
                tok[t] = t == 0 ? MGPT_BOS : d->tok[id][t - 1];
                tgt[t] = (size_t)t < len ? d->tok[id][t] : MGPT_BOS;
            }
        } else if (doc_ids[b] >= 0) {
            int id = doc_ids[b];
            /* only the first T+1 tokens can be used: encode no more than that */
            size_t len = d->len[id] < (size_t)T ? d->len[id] : (size_t)T;
            if (mgpt_vocab_encode(v, d->text[id], len, scratch) != 0) {
                snprintf(err, errlen, "document %d has a byte that is not in the vocabulary", id);
                return -1;
            }
            /* [BOS] ids [BOS] has len + 2 tokens; truncation drops the closing BOS */
            int ntok = d->len[id] < (size_t)T ? (int)len + 2 : T + 1;
            n = ntok - 1 < T ? ntok - 1 : T;
            for (int t = 0; t < n; t++) {
                tok[t] = scratch[t];
                tgt[t] = scratch[t + 1];
            }
        }
        for (int t = n; t < T; t++) {
            tok[t] = 0;
            tgt[t] = -1;
        }
        unmasked += n;
    }
    return unmasked;
}

void mgpt_batch_random(int *tokens, int *targets, int n, int vocab_size, uint64_t seed)
{
    mgpt_rng rng;
    mgpt_rng_seed(&rng, seed, MGPT_STREAM_SHUFFLE);
    for (int i = 0; i < n; i++) {
        tokens[i] = (int)mgpt_rng_below(&rng, (uint64_t)vocab_size);
        targets[i] = (int)mgpt_rng_below(&rng, (uint64_t)vocab_size);
    }
}

/* The documents' BPE ids, computed once: a batch then copies ids instead of re-encoding
 * each document every step, and lengths are counted in tokens. */
#include <stdio.h>
#include <stdlib.h>
#include "data/bpe.h"
#include "data/dataset.h"

int mgpt_docs_encode(mgpt_docs *d, const mgpt_bpe *t, char *err, size_t errlen)
{
    d->tok = calloc(d->count ? (size_t)d->count : 1, sizeof *d->tok);
    d->ntok = calloc(d->count ? (size_t)d->count : 1, sizeof *d->ntok);
    if (!d->tok || !d->ntok)
        goto oom;
    for (int i = 0; i < d->count; i++) {
        int *ids = malloc((d->len[i] ? d->len[i] : 1) * sizeof *ids);
        if (!ids)
            goto oom;
        d->ntok[i] = mgpt_bpe_encode(t, d->text[i], d->len[i], ids);
        /* keep only what the encoding used */
        int *fit = realloc(ids, (d->ntok[i] ? d->ntok[i] : 1) * sizeof *ids);
        d->tok[i] = fit ? fit : ids;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory encoding %d documents with the BPE tokenizer",
             d->count);
    return -1;
}

/* The char tokenizer of the spec. */
#include <string.h>
#include "data/bpe.h"
#include "data/dataset.h"
#include "data/tokenizer.h"

static void vocab_index(mgpt_vocab *v)
{
    for (int b = 0; b < 256; b++)
        v->id[b] = -1;
    for (int i = 1; i < v->size; i++)
        v->id[v->byte[i]] = i;
}

void mgpt_vocab_build(mgpt_vocab *v, const mgpt_docs *d)
{
    int seen[256] = {0};
    for (int i = 0; i < d->count; i++)
        for (size_t j = 0; j < d->len[i]; j++)
            seen[(unsigned char)d->text[i][j]] = 1;
    memset(v, 0, sizeof *v);
    v->size = 1; /* BOS */
    for (int b = 0; b < 256; b++)
        if (seen[b])
            v->byte[v->size++] = (unsigned char)b;
    vocab_index(v);
}

int mgpt_vocab_from_bytes(mgpt_vocab *v, const unsigned char *bytes, int n)
{
    if (n < 1 || n > 256)
        return -1;
    memset(v, 0, sizeof *v);
    for (int i = 0; i < n; i++) {
        if (i > 0 && bytes[i] <= bytes[i - 1])
            return -1;
        v->byte[i + 1] = bytes[i];
    }
    v->size = n + 1;
    vocab_index(v);
    return 0;
}

int mgpt_vocab_encode(const mgpt_vocab *v, const char *s, size_t len, int *out)
{
    out[0] = MGPT_BOS;
    for (size_t i = 0; i < len; i++) {
        int id = v->id[(unsigned char)s[i]];
        if (id < 0)
            return -1;
        out[i + 1] = id;
    }
    out[len + 1] = MGPT_BOS;
    return 0;
}

void mgpt_vocab_from_bpe(mgpt_vocab *v, const mgpt_bpe *t)
{
    unsigned char all[256];
    for (int b = 0; b < 256; b++)
        all[b] = (unsigned char)b;
    mgpt_vocab_from_bytes(v, all, 256);
    v->size = t->vocab_size;
    v->bpe = t;
}

size_t mgpt_vocab_token(const mgpt_vocab *v, int id, const unsigned char **bytes)
{
    *bytes = NULL;
    if (id <= MGPT_BOS || id >= v->size)
        return 0;
    if (v->bpe) {
        *bytes = v->bpe->tok_bytes + v->bpe->tok_off[id];
        return v->bpe->tok_len[id];
    }
    *bytes = &v->byte[id];
    return 1;
}

size_t mgpt_vocab_max_token_len(const mgpt_vocab *v)
{
    size_t most = 1;
    for (int id = 1; v->bpe && id < v->size; id++)
        most = v->bpe->tok_len[id] > most ? v->bpe->tok_len[id] : most;
    return most;
}

/* The char tokenizer: id 0 is BOS, ids 1..V-1 the corpus' distinct bytes in byte order. */
#ifndef MGPT_TOKENIZER_H
#define MGPT_TOKENIZER_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MGPT_BOS 0

typedef struct mgpt_vocab {
    int size;                 /* V, including BOS */
    unsigned char byte[257];  /* byte[id] for ids 1..V-1 (V <= 257) */
    int id[256];              /* id of a byte, or -1 if not in the vocabulary */
} mgpt_vocab;

struct mgpt_docs;
void mgpt_vocab_build(mgpt_vocab *v, const struct mgpt_docs *d);
/* From the byte values of ids 1..n (a checkpoint); -1 if not strictly ascending. */
int mgpt_vocab_from_bytes(mgpt_vocab *v, const unsigned char *bytes, int n);
/* Writes [BOS] ids [BOS] into out (capacity len + 2); -1 if a byte is not in v. */
int mgpt_vocab_encode(const mgpt_vocab *v, const char *s, size_t len, int *out);
#ifdef __cplusplus
}
#endif
#endif

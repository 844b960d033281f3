/* The char tokenizer: id 0 is BOS, ids 1..V-1 the corpus' distinct bytes in byte order.
 * With a BPE tokenizer (bpe.h) attached, ids 1..256 are all the bytes and ids 257.. its
 * merges, each several bytes (docs/model.md, "BPE checkpoints"). */
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
    const struct mgpt_bpe *bpe; /* NULL: the char tokenizer; else not owned */
} mgpt_vocab;

struct mgpt_docs;
struct mgpt_bpe;
void mgpt_vocab_build(mgpt_vocab *v, const struct mgpt_docs *d);
/* From the byte values of ids 1..n (a checkpoint); -1 if not strictly ascending. */
int mgpt_vocab_from_bytes(mgpt_vocab *v, const unsigned char *bytes, int n);
/* Writes [BOS] ids [BOS] into out (capacity len + 2); -1 if a byte is not in v. */
int mgpt_vocab_encode(const mgpt_vocab *v, const char *s, size_t len, int *out);
/* The vocabulary of a BPE tokenizer t (kept by pointer): size t->vocab_size, every byte. */
void mgpt_vocab_from_bpe(mgpt_vocab *v, const struct mgpt_bpe *t);
/* The bytes of an id: *bytes points to them, the count is returned (0 for BOS or an id
 * outside the vocabulary). */
size_t mgpt_vocab_token(const mgpt_vocab *v, int id, const unsigned char **bytes);
/* The most bytes one id stands for (1 for the char tokenizer). */
size_t mgpt_vocab_max_token_len(const mgpt_vocab *v);
#ifdef __cplusplus
}
#endif
#endif

/* Documents (one per line), the seeded shuffle, the validation split and batches. */
#ifndef MGPT_DATASET_H
#define MGPT_DATASET_H
#include <stddef.h>
#include <stdint.h>
#include "data/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_docs {
    char **text;     /* each document's bytes (not NUL-terminated beyond len) */
    size_t *len;
    int count;
    int cap;
    int **tok;       /* after mgpt_docs_encode: each document's ids (no BOS), else NULL */
    size_t *ntok;
} mgpt_docs;

void mgpt_docs_init(mgpt_docs *d);
void mgpt_docs_free(mgpt_docs *d);
/* Adds the lines of text: trailing \r and white space stripped, empty lines skipped.
 * Refuses data with NUL bytes (binary) with MGPT_DOCS_BINARY, other failures -1; `what`
 * names the source in messages. mgpt_docs_add_file returns the same. */
#define MGPT_DOCS_BINARY (-2)
int mgpt_docs_add_text(mgpt_docs *d, const char *text, size_t n, const char *what,
                       char *err, size_t errlen);
int mgpt_docs_add_file(mgpt_docs *d, const char *path, char *err, size_t errlen);
/* Encodes every document once with the BPE tokenizer t (bpe.h), so batches and streams
 * take its ids instead of one id per byte. -1 with err set when memory runs out. */
struct mgpt_bpe;
int mgpt_docs_encode(mgpt_docs *d, const struct mgpt_bpe *t, char *err, size_t errlen);
/* The tokens of document i, BOS excluded: its ids once encoded, else its bytes. */
static inline size_t mgpt_docs_ntok(const mgpt_docs *d, int i)
{
    return d->tok ? d->ntok[i] : d->len[i];
}
/* Line mode trains on the first T tokens of a document: the documents longer than that
 * (*cut) and the tokens they lose (*bytes_beyond, of *bytes_total; bytes unless the
 * documents are encoded, mgpt_docs_encode). */
void mgpt_docs_cut(const mgpt_docs *d, int T, int *cut, size_t *bytes_beyond,
                   size_t *bytes_total);
/* The embedded names data set (data/names.txt, built into the program). */
int mgpt_docs_add_embedded(mgpt_docs *d, char *err, size_t errlen);
extern const char mgpt_names_txt[];
extern const size_t mgpt_names_txt_len;

/* A shuffled order of document indices, split into validation (first) and training. */
typedef struct mgpt_split {
    int *order;      /* count indices */
    int count;
    int n_val;       /* order[0 .. n_val-1] validate, the rest train */
} mgpt_split;

int mgpt_split_make(mgpt_split *s, int count, uint64_t seed, double val_fraction);
void mgpt_split_free(mgpt_split *s);

/* Fills tokens/targets [B*T] for documents doc_ids[0..B-1] (a doc id < 0 gives an all-
 * padding row). Padded inputs are BOS, padded targets -1 (masked). Returns the number of
 * unmasked targets, or -1 with err set if a document has a byte outside the vocabulary. */
int mgpt_batch_fill(const mgpt_docs *d, const mgpt_vocab *v, const int *doc_ids, int B, int T,
                    int *tokens, int *targets, int *scratch, char *err, size_t errlen);

/* Fills tokens/targets [n] with ids drawn uniformly from [0, vocab_size) (the seed's
 * shuffle stream), every target real: the batch of the measuring tools, whose work does
 * not depend on the values. */
void mgpt_batch_random(int *tokens, int *targets, int n, int vocab_size, uint64_t seed);
#ifdef __cplusplus
}
#endif
#endif

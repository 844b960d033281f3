/* Byte-level BPE (as GPT-2 and minbpe's basic tokenizer): id 0 is BOS, ids 1..256 the
 * bytes 0..255, id 257 + r the merge of rank r, a pair of earlier ids. */
#ifndef MGPT_BPE_H
#define MGPT_BPE_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MGPT_BPE_FIRST_MERGE 257
#define MGPT_BPE_MAX_VOCAB 65536

typedef struct mgpt_bpe {
    int vocab_size;      /* 257 + n_merges */
    int n_merges;
    int (*merge)[2];     /* merge[r] = {left id, right id} of id 257 + r */
    size_t *tok_len;     /* bytes of each id (0 for BOS) */
    size_t *tok_off;     /* offset of each id's bytes in tok_bytes */
    unsigned char *tok_bytes;
} mgpt_bpe;

/* The id of byte b. */
static inline int mgpt_bpe_byte_id(unsigned char b) { return 1 + b; }

/* Learns vocab_size - 257 merges from the documents texts[i][0..lens[i]): each step
 * merges the most frequent adjacent pair (pairs never span two documents); a tie goes
 * to the pair with the smaller left id, then the smaller right id. Pair counts are
 * updated as each merge is applied, not recounted. Stops early when no pair occurs
 * twice. Returns -1 with err set on a bad vocab_size or no memory. */
int mgpt_bpe_train(mgpt_bpe *t, const char *const *texts, const size_t *lens, int count,
                   int vocab_size, char *err, size_t errlen);
/* From merges (a checkpoint or a file): -1 with err set unless each pair names ids below
 * its own. */
int mgpt_bpe_from_merges(mgpt_bpe *t, const int (*merges)[2], int n_merges, char *err,
                         size_t errlen);
void mgpt_bpe_free(mgpt_bpe *t);

/* Encodes s[0..len) into out (capacity len; no BOS added), applying the merges in rank
 * order. Returns the number of ids. Any byte string encodes. */
size_t mgpt_bpe_encode(const mgpt_bpe *t, const char *s, size_t len, int *out);
/* The bytes of ids[0..n) (BOS gives none) into out, of capacity cap: returns the number
 * of bytes the whole decoding needs (write no more than cap), or -1 for an id outside
 * the vocabulary. */
long mgpt_bpe_decode(const mgpt_bpe *t, const int *ids, size_t n, char *out, size_t cap);

/* The tokenizer file (docs/model.md): text, "mgpt-bpe 1", "vocab_size N", then one
 * merge "LEFT RIGHT" per line. to_text returns a malloc'd NUL-terminated string. */
char *mgpt_bpe_to_text(const mgpt_bpe *t);
int mgpt_bpe_from_text(mgpt_bpe *t, const char *text, size_t len, const char *what, char *err,
                       size_t errlen);
int mgpt_bpe_save(const mgpt_bpe *t, const char *path, char *err, size_t errlen);
int mgpt_bpe_load(mgpt_bpe *t, const char *path, char *err, size_t errlen);
#ifdef __cplusplus
}
#endif
#endif

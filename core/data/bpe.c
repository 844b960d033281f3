/* Byte-level BPE: learning the merges, encoding and decoding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/bpe.h"

#define SEP (-1) /* between documents: no pair spans it */

/* Pair counts: open addressing on the key left << 16 | right (ids < 65536). */
typedef struct pair_table {
    uint32_t *key;  /* UINT32_MAX: empty */
    int64_t *count;
    size_t cap, used;
} pair_table;

static uint32_t pair_key(int a, int b)
{
    return (uint32_t)a << 16 | (uint32_t)b;
}

static size_t slot_of(const pair_table *p, uint32_t k)
{
    size_t i = (size_t)((k * 0x9E3779B1u) & (p->cap - 1));
    while (p->key[i] != UINT32_MAX && p->key[i] != k)
        i = (i + 1) & (p->cap - 1);
    return i;
}

static int table_init(pair_table *p, size_t cap)
{
    p->cap = cap;
    p->used = 0;
    p->key = malloc(cap * sizeof *p->key);
    p->count = calloc(cap, sizeof *p->count);
    if (!p->key || !p->count)
        return -1;
    memset(p->key, 0xff, cap * sizeof *p->key);
    return 0;
}

static void table_free(pair_table *p)
{
    free(p->key);
    free(p->count);
}

static int table_add(pair_table *p, int a, int b, int64_t d)
{
    if (2 * (p->used + 1) > p->cap) {
        pair_table g;
        if (table_init(&g, 2 * p->cap) != 0) {
            table_free(&g);
            return -1;
        }
        for (size_t i = 0; i < p->cap; i++)
            if (p->key[i] != UINT32_MAX) {
                size_t j = slot_of(&g, p->key[i]);
                g.key[j] = p->key[i];
                g.count[j] = p->count[i];
            }
        g.used = p->used;
        table_free(p);
        *p = g;
    }
    uint32_t k = pair_key(a, b);
    size_t i = slot_of(p, k);
    if (p->key[i] == UINT32_MAX) {
        p->key[i] = k;
        p->used++;
    }
    p->count[i] += d;
    return 0;
}

/* Rebuilds the byte strings of every id from the merges. */
static int build_tokens(mgpt_bpe *t)
{
    int V = t->vocab_size;
    t->tok_len = calloc((size_t)V, sizeof *t->tok_len);
    t->tok_off = calloc((size_t)V, sizeof *t->tok_off);
    if (!t->tok_len || !t->tok_off)
        return -1;
    size_t total = 0;
    for (int id = 1; id < V; id++) {
        t->tok_len[id] = id < MGPT_BPE_FIRST_MERGE ? 1 :
            t->tok_len[t->merge[id - MGPT_BPE_FIRST_MERGE][0]] +
            t->tok_len[t->merge[id - MGPT_BPE_FIRST_MERGE][1]];
        t->tok_off[id] = total;
        total += t->tok_len[id];
    }
    t->tok_bytes = malloc(total ? total : 1);
    if (!t->tok_bytes)
        return -1;
    for (int id = 1; id < V; id++) {
        unsigned char *dst = t->tok_bytes + t->tok_off[id];
        if (id < MGPT_BPE_FIRST_MERGE) {
            dst[0] = (unsigned char)(id - 1);
            continue;
        }
        const int *m = t->merge[id - MGPT_BPE_FIRST_MERGE];
        memcpy(dst, t->tok_bytes + t->tok_off[m[0]], t->tok_len[m[0]]);
        memcpy(dst + t->tok_len[m[0]], t->tok_bytes + t->tok_off[m[1]], t->tok_len[m[1]]);
    }
    return 0;
}

void mgpt_bpe_free(mgpt_bpe *t)
{
    free(t->merge);
    free(t->tok_len);
    free(t->tok_off);
    free(t->tok_bytes);
    memset(t, 0, sizeof *t);
}

int mgpt_bpe_from_merges(mgpt_bpe *t, const int (*merges)[2], int n_merges, char *err,
                         size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (n_merges < 0 || n_merges > MGPT_BPE_MAX_VOCAB - MGPT_BPE_FIRST_MERGE) {
        snprintf(err, errlen, "%d merges is out of range (0..%d)", n_merges,
                 MGPT_BPE_MAX_VOCAB - MGPT_BPE_FIRST_MERGE);
        return -1;
    }
    for (int r = 0; r < n_merges; r++)
        for (int k = 0; k < 2; k++)
            if (merges[r][k] < 1 || merges[r][k] >= MGPT_BPE_FIRST_MERGE + r) {
                snprintf(err, errlen, "merge %d (id %d) names id %d, which is not a byte or an "
                         "earlier merge (expected 1..%d)", r + 1, MGPT_BPE_FIRST_MERGE + r,
                         merges[r][k], MGPT_BPE_FIRST_MERGE + r - 1);
                return -1;
            }
    t->n_merges = n_merges;
    t->vocab_size = MGPT_BPE_FIRST_MERGE + n_merges;
    t->merge = malloc((size_t)(n_merges ? n_merges : 1) * sizeof *t->merge);
    if (!t->merge) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(t->merge, merges, (size_t)n_merges * sizeof *t->merge);
    if (build_tokens(t) != 0) {
        mgpt_bpe_free(t);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Replaces each (a, b) of seq[0..*n) left to right by id, updating the pair counts p
 * (when given) for the pairs that vanish and appear. */
static int apply_merge(int *seq, size_t *n, int a, int b, int id, pair_table *p)
{
    size_t w = 0, len = *n;
    for (size_t i = 0; i < len;) {
        if (i + 1 < len && seq[i] == a && seq[i + 1] == b) {
            if (p) {
                int x = w > 0 ? seq[w - 1] : SEP;
                int y = i + 2 < len ? seq[i + 2] : SEP;
                if (table_add(p, a, b, -1) != 0)
                    return -1;
                if (x != SEP && (table_add(p, x, a, -1) != 0 || table_add(p, x, id, 1) != 0))
                    return -1;
                if (y != SEP && (table_add(p, b, y, -1) != 0 || table_add(p, id, y, 1) != 0))
                    return -1;
            }
            seq[w++] = id;
            i += 2;
        } else
            seq[w++] = seq[i++];
    }
    *n = w;
    return 0;
}

int mgpt_bpe_train(mgpt_bpe *t, const char *const *texts, const size_t *lens, int count,
                   int vocab_size, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (vocab_size < MGPT_BPE_FIRST_MERGE || vocab_size > MGPT_BPE_MAX_VOCAB) {
        snprintf(err, errlen, "vocabulary size %d is out of range (expected %d..%d: BOS, the "
                 "256 bytes and the merges)", vocab_size, MGPT_BPE_FIRST_MERGE,
                 MGPT_BPE_MAX_VOCAB);
        return -1;
    }
    size_t n = 0;
    for (int i = 0; i < count; i++)
        n += lens[i] + 1;
    int *seq = malloc((n ? n : 1) * sizeof *seq);
    int (*merges)[2] = malloc((size_t)(vocab_size - MGPT_BPE_FIRST_MERGE + 1) * sizeof *merges);
    pair_table p;
    int rc = -1;
    if (table_init(&p, 1 << 16) != 0 || !seq || !merges)
        goto out;
    size_t k = 0;
    for (int i = 0; i < count; i++) {
        for (size_t j = 0; j < lens[i]; j++) {
            seq[k] = mgpt_bpe_byte_id((unsigned char)texts[i][j]);
            if (j > 0 && table_add(&p, seq[k - 1], seq[k], 1) != 0)
                goto out;
            k++;
        }
        seq[k++] = SEP;
    }
    int r = 0;
    for (; r < vocab_size - MGPT_BPE_FIRST_MERGE; r++) {
        /* the most frequent pair; ties to the smallest key (left id, then right id) */
        int64_t best = 1;
        uint32_t best_key = UINT32_MAX;
        for (size_t i = 0; i < p.cap; i++)
            if (p.key[i] != UINT32_MAX &&
                (p.count[i] > best || (p.count[i] == best && best > 1 && p.key[i] < best_key))) {
                best = p.count[i];
                best_key = p.key[i];
            }
        if (best_key == UINT32_MAX)
            break; /* no pair occurs twice: a merge would not shorten anything */
        merges[r][0] = (int)(best_key >> 16);
        merges[r][1] = (int)(best_key & 0xffff);
        if (apply_merge(seq, &n, merges[r][0], merges[r][1], MGPT_BPE_FIRST_MERGE + r, &p) != 0)
            goto out;
    }
    rc = mgpt_bpe_from_merges(t, (const int (*)[2])merges, r, err, errlen);
    err = NULL;
out:
    if (rc != 0 && err)
        snprintf(err, errlen, "out of memory learning the merges");
    table_free(&p);
    free(seq);
    free(merges);
    return rc;
}

size_t mgpt_bpe_encode(const mgpt_bpe *t, const char *s, size_t len, int *out)
{
    size_t n = len;
    for (size_t i = 0; i < len; i++)
        out[i] = mgpt_bpe_byte_id((unsigned char)s[i]);
    /* in rank order: each merge sees the result of the ones before it, as in training */
    for (int r = 0; r < t->n_merges && n > 1; r++)
        apply_merge(out, &n, t->merge[r][0], t->merge[r][1], MGPT_BPE_FIRST_MERGE + r, NULL);
    return n;
}

long mgpt_bpe_decode(const mgpt_bpe *t, const int *ids, size_t n, char *out, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab_size)
            return -1;
        size_t l = t->tok_len[ids[i]];
        if (w + l <= cap)
            memcpy(out + w, t->tok_bytes + t->tok_off[ids[i]], l);
        w += l;
    }
    return (long)w;
}

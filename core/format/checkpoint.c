/* mgpt checkpoints: the model's parameters (and Adam state) mapped onto safetensors.
 *
 * Tensors, in the spec's order: wte, wpe, lm_head, then layer{i}.attn_wq, attn_wk,
 * attn_wv, attn_wo, mlp_fc1, mlp_fc2 for each layer; with Adam state, adam.m.<name> for
 * all of them, then adam.v.<name>. All F32 [rows, cols]. Metadata: format=mgpt, the
 * config as decimal strings, vocab as a JSON array of byte values, step and seed.
 * The reader accepts the tensors in any order but insists on exactly this set. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "format/checkpoint.h"
#include "format/checkpoint_spec.h"
#include "data/bpe.h"
#include "format/safetensors.h"
#include "format/data_hash.h"
#include "platform/file_open.h"

typedef struct ckpt {
    const char *path;
    int fd;
    mgpt_st_file st;
    mgpt_checkpoint_meta meta;
    int n_params;
    int *where[CKPT_KINDS];   /* [n_params] index into st.tensors, or -1 */
} ckpt;

static void ckpt_close(ckpt *k)
{
    mgpt_st_free(&k->st);
    for (int i = 0; i < CKPT_KINDS; i++)
        free(k->where[i]);
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

/* A decimal string of digits only, at most max. */
static int parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return -1;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int meta_number(const ckpt *k, const char *key, int required, uint64_t max,
                       uint64_t *out, char *err, size_t errlen)
{
    const char *s = mgpt_st_meta(&k->st, key);
    if (!s) {
        if (!required) {
            *out = 0;
            return 0;
        }
        snprintf(err, errlen, "%s: metadata has no \"%s\"; an mgpt checkpoint records format, "
                 "n_embd, n_head, n_layer, block_size, vocab_size and vocab", k->path, key);
        return -1;
    }
    if (parse_decimal(s, max, out) != 0) {
        snprintf(err, errlen, "%s: metadata \"%s\" is \"%.40s\"; expected a decimal integer in "
                 "0..%" PRIu64, k->path, key, s, max);
        return -1;
    }
    return 0;
}

/* A BPE checkpoint (vocab_size above 257) keeps its merges in metadata "tokenizer", which
 * must parse and give the same vocab_size. */
static int check_tokenizer(ckpt *k, char *err, size_t errlen)
{
    const char *s = mgpt_st_meta(&k->st, MGPT_CKPT_TOKENIZER_KEY);
    int V = k->meta.cfg.vocab_size;
    if (!s && V <= MGPT_BPE_FIRST_MERGE)
        return 0;
    if (!s) {
        snprintf(err, errlen, "%s: vocab_size %d is above 257 (BOS and 256 bytes) but the "
                 "metadata has no \"" MGPT_CKPT_TOKENIZER_KEY "\" with the BPE merges", k->path, V);
        return -1;
    }
    mgpt_bpe t;
    char why[600];
    if (mgpt_bpe_from_text(&t, s, strlen(s), "metadata \"" MGPT_CKPT_TOKENIZER_KEY "\"", why,
                           sizeof why) != 0) {
        snprintf(err, errlen, "%s: %s", k->path, why);
        return -1;
    }
    int got = t.vocab_size;
    mgpt_bpe_free(&t);
    if (got != V) {
        snprintf(err, errlen, "%s: metadata \"" MGPT_CKPT_TOKENIZER_KEY "\" has vocab_size %d "
                 "but the checkpoint's vocab_size is %d", k->path, got, V);
        return -1;
    }
    return 0;
}

static int check_vocab(ckpt *k, char *err, size_t errlen)
{
    const char *s = mgpt_st_meta(&k->st, "vocab");
    /* a BPE checkpoint lists all 256 bytes, ids 1..256; its merges follow */
    int bpe = mgpt_st_meta(&k->st, MGPT_CKPT_TOKENIZER_KEY) != NULL;
    int want = bpe ? 256 : k->meta.cfg.vocab_size - 1;
    if (!s) {
        snprintf(err, errlen, "%s: metadata has no \"vocab\"; expected a JSON array of the %d "
                 "byte values of ids 1..%d", k->path, want, want);
        return -1;
    }
    json_error_t jerr;
    json_t *a = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
    if (!a || !json_is_array(a)) {
        snprintf(err, errlen, "%s: metadata \"vocab\" is not a JSON array (%s); expected the %d "
                 "byte values of ids 1..%d, e.g. [97,98,99]", k->path,
                 a ? "a JSON object" : jerr.text, want, want);
        json_decref(a);
        return -1;
    }
    int rc = -1;
    size_t n = json_array_size(a);
    unsigned char bytes[256];
    if (n != (size_t)want) {
        snprintf(err, errlen, "%s: metadata \"vocab\" has %zu entries; expected %s = %d",
                 k->path, n, bpe ? "all 256 bytes (a BPE checkpoint)" : "vocab_size - 1", want);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        json_int_t b = json_is_integer(e) ? json_integer_value(e) : -1;
        if (b < 0 || b > 255) {
            snprintf(err, errlen, "%s: metadata \"vocab\" entry %zu is not an integer in 0..255 "
                     "(a byte value)", k->path, i);
            goto out;
        }
        if (i > 0 && b <= bytes[i - 1]) {
            snprintf(err, errlen, "%s: metadata \"vocab\" entry %zu (%d) is not greater than "
                     "entry %zu (%d); expected strictly ascending byte values", k->path, i,
                     (int)b, i - 1, bytes[i - 1]);
            goto out;
        }
        bytes[i] = (unsigned char)b;
    }
    if (mgpt_vocab_from_bytes(&k->meta.vocab, bytes, want) != 0) {
        snprintf(err, errlen, "%s: metadata \"vocab\" was rejected by the tokenizer", k->path);
        goto out;
    }
    k->meta.vocab.size = k->meta.cfg.vocab_size;
    k->meta.has_tokenizer = bpe;
    rc = 0;
out:
    json_decref(a);
    return rc;
}

static int check_metadata(ckpt *k, char *err, size_t errlen)
{
    const char *path = k->path;
    if (k->st.n_meta == 0) {
        snprintf(err, errlen, "%s: has no \"__metadata__\"; an mgpt checkpoint records format "
                 "\"" CKPT_FORMAT "\", its config and vocab there (not an mgpt checkpoint?)", path);
        return -1;
    }
    const char *format = mgpt_st_meta(&k->st, "format");
    if (!format || strcmp(format, CKPT_FORMAT) != 0) {
        snprintf(err, errlen, "%s: metadata \"format\" is %s%.40s%s; expected \"" CKPT_FORMAT "\" "
                 "(not an mgpt checkpoint?)", path, format ? "\"" : "", format ? format : "absent",
                 format ? "\"" : "");
        return -1;
    }
    static const char *const keys[5] = {"vocab_size", "n_embd", "n_head", "n_layer", "block_size"};
    int *fields[5] = {&k->meta.cfg.vocab_size, &k->meta.cfg.n_embd, &k->meta.cfg.n_head,
                      &k->meta.cfg.n_layer, &k->meta.cfg.block_size};
    for (int i = 0; i < 5; i++) {
        uint64_t v;
        if (meta_number(k, keys[i], 1, INT_MAX, &v, err, errlen) != 0)
            return -1;
        *fields[i] = (int)v;
    }
    char why[256];
    if (mgpt_config_validate(&k->meta.cfg, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: metadata config is invalid: %s", path, why);
        return -1;
    }
    if (check_tokenizer(k, err, errlen) != 0 || check_vocab(k, err, errlen) != 0)
        return -1;
    uint64_t step, seed;
    if (meta_number(k, "step", 0, LONG_MAX, &step, err, errlen) != 0 ||
        meta_number(k, "seed", 0, UINT64_MAX, &seed, err, errlen) != 0)
        return -1;
    k->meta.step = (long)step;
    k->meta.seed = seed;
    k->meta.has_checksum = mgpt_st_meta(&k->st, MGPT_DATA_HASH_KEY) != NULL;
    return 0;
}

/* Every tensor must be a spec parameter (or its Adam state) of this config, F32, of the
 * spec's shape; every parameter must be present; Adam state all or nothing. */
static int check_tensors(ckpt *k, char *err, size_t errlen)
{
    const mgpt_config *c = &k->meta.cfg;
    const char *path = k->path;
    int n = k->n_params = ckpt_spec_count(c);
    for (int kind = 0; kind < CKPT_KINDS; kind++) {
        k->where[kind] = malloc((size_t)n * sizeof(int));
        if (!k->where[kind]) {
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        for (int i = 0; i < n; i++)
            k->where[kind][i] = -1;
    }
    int n_adam = 0;
    for (int t = 0; t < k->st.n_tensors; t++) {
        const mgpt_st_tensor *st = &k->st.tensors[t];
        int kind = CKPT_PARAM;
        const char *pname = st->name;
        for (int j = CKPT_M; j < CKPT_KINDS; j++)
            if (strncmp(pname, ckpt_kind_prefix[j], strlen(ckpt_kind_prefix[j])) == 0) {
                kind = j;
                pname += strlen(ckpt_kind_prefix[j]);
                break;
            }
        int i = ckpt_spec_index(c, pname);
        if (i < 0) {
            snprintf(err, errlen, "%s: unexpected tensor '%s'; an mgpt checkpoint with n_layer "
                     "%d holds wte, wpe, lm_head, layer{0..%d}.{attn_wq,attn_wk,attn_wv,attn_wo,"
                     "mlp_fc1,mlp_fc2} and optionally adam.m.<name>, adam.v.<name>", path,
                     st->name, c->n_layer, c->n_layer - 1);
            return -1;
        }
        char name[MGPT_NAME_LEN];
        int rows, cols;
        const char *dims;
        ckpt_spec_param(c, i, name, sizeof name, &rows, &cols, &dims);
        if (strcmp(st->dtype, "F32") != 0) {
            snprintf(err, errlen, "%s: tensor '%s' has dtype %s; mgpt checkpoints hold F32 only",
                     path, st->name, st->dtype);
            return -1;
        }
        if (st->ndim != 2 || st->shape[0] != rows || st->shape[1] != cols) {
            char got[64] = "[";
            for (int d = 0; d < st->ndim && d < 4; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%" PRId64, d ? ", " : "",
                         st->shape[d]);
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s]", st->ndim > 4 ? ", ..." : "");
            snprintf(err, errlen, "%s: tensor '%s' has shape %s; expected [%d, %d] (%s with "
                     "vocab_size %d, n_embd %d, block_size %d from the metadata)", path, st->name,
                     got, rows, cols, dims, c->vocab_size, c->n_embd, c->block_size);
            return -1;
        }
        k->where[kind][i] = t; /* the header has no duplicate names */
        n_adam += kind != CKPT_PARAM;
    }
    for (int i = 0; i < n; i++) {
        if (k->where[CKPT_PARAM][i] >= 0)
            continue;
        char name[MGPT_NAME_LEN];
        int rows, cols;
        const char *dims;
        ckpt_spec_param(c, i, name, sizeof name, &rows, &cols, &dims);
        snprintf(err, errlen, "%s: has no tensor '%s' (F32 [%d, %d]); an mgpt checkpoint with "
                 "n_layer %d holds all %d parameter tensors", path, name, rows, cols,
                 c->n_layer, n);
        return -1;
    }
    if (n_adam > 0 && n_adam != 2 * n) {
        for (int kind = CKPT_M; kind < CKPT_KINDS; kind++)
            for (int i = 0; i < n; i++) {
                if (k->where[kind][i] >= 0)
                    continue;
                char name[MGPT_NAME_LEN];
                int rows, cols;
                const char *dims;
                ckpt_spec_param(c, i, name, sizeof name, &rows, &cols, &dims);
                snprintf(err, errlen, "%s: has Adam state for some parameters but no tensor "
                         "'%s%s'; expected adam.m.<name> and adam.v.<name> for all %d "
                         "parameters or for none", path, ckpt_kind_prefix[kind], name, n);
                return -1;
            }
    }
    k->meta.has_adam = n_adam > 0;
    return 0;
}

static int ckpt_open(ckpt *k, const char *path, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    k->path = path;
    k->fd = mgpt_open_regular(path, "checkpoint", err, errlen);
    if (k->fd < 0)
        return -1;
    if (mgpt_st_read_header(k->fd, path, &k->st, err, errlen) != 0 ||
        check_metadata(k, err, errlen) != 0 || check_tensors(k, err, errlen) != 0) {
        ckpt_close(k);
        return -1;
    }
    return 0;
}

int mgpt_checkpoint_peek(const char *path, mgpt_checkpoint_meta *meta, char *err, size_t errlen)
{
    ckpt k;
    if (ckpt_open(&k, path, err, errlen) != 0)
        return -1;
    *meta = k.meta;
    ckpt_close(&k);
    return 0;
}

/* The tensor's bytes against the checksum recorded at save (format/data_hash.h). */
static int check_sum(const char *path, const char *sums, const char *name, const float *x,
                     size_t n, char *err, size_t errlen)
{
    uint64_t want;
    int found = mgpt_data_hash_lookup(sums, name, &want);
    if (found != 0) {
        snprintf(err, errlen, "%s: metadata \"" MGPT_DATA_HASH_KEY "\" %s tensor '%s'; expected "
                 "a JSON object mapping every tensor name to 16 hex digits", path,
                 found > 0 ? "has no entry for" : "is malformed, checking", name);
        return -1;
    }
    uint64_t got = mgpt_data_hash(x, n * sizeof *x);
    if (got != want) {
        snprintf(err, errlen, "%s: tensor '%s' is corrupted: its data hash (XXH3-64) is %016"
                 PRIx64 " but the checkpoint recorded %016" PRIx64, path, name, got, want);
        return -1;
    }
    return 0;
}

/* NaN or infinite values make every later loss NaN; Adam's second moment is never negative. */
static int check_finite(const char *path, const char *name, const float *x, size_t n, int kind,
                        char *err, size_t errlen)
{
    for (size_t j = 0; j < n; j++)
        if (!isfinite(x[j]) || (kind == CKPT_V && x[j] < 0)) {
            snprintf(err, errlen, "%s: tensor '%s' holds %g at element %zu; expected finite "
                     "values%s (a diverged or damaged model)", path, name, (double)x[j], j,
                     kind == CKPT_V ? ", not negative" : "");
            return -1;
        }
    return 0;
}

int mgpt_checkpoint_load(const char *path, mgpt_model *m, int want_adam, char *err, size_t errlen)
{
    ckpt k;
    if (ckpt_open(&k, path, err, errlen) != 0)
        return -1;
    int rc = -1;
    float *buf = NULL;
    const mgpt_config *f = &k.meta.cfg, *c = &m->cfg;
    if (f->vocab_size != c->vocab_size || f->n_embd != c->n_embd || f->n_head != c->n_head ||
        f->n_layer != c->n_layer || f->block_size != c->block_size) {
        snprintf(err, errlen, "%s: checkpoint config (vocab_size %d, n_embd %d, n_head %d, "
                 "n_layer %d, block_size %d) differs from the model's (%d, %d, %d, %d, %d)",
                 path, f->vocab_size, f->n_embd, f->n_head, f->n_layer, f->block_size,
                 c->vocab_size, c->n_embd, c->n_head, c->n_layer, c->block_size);
        goto out;
    }
    if (want_adam && !k.meta.has_adam) {
        snprintf(err, errlen, "%s: holds no Adam state (adam.m.*, adam.v.*), so training cannot "
                 "resume from it; it was saved without optimizer state", path);
        goto out;
    }
    if (ckpt_check_model_params(path, m, err, errlen) != 0)
        goto out;

    /* Everything is read into buf first: m changes only once all reads have succeeded. */
    int kinds = want_adam ? CKPT_KINDS : 1;
    size_t total = 0;
    for (int i = 0; i < m->n_params; i++)
        total += (size_t)m->params[i].rows * m->params[i].cols;
    buf = malloc(total * kinds * sizeof(float));
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory for %zu floats of checkpoint data", path,
                 total * kinds);
        goto out;
    }
    float *at = buf;
    const char *sums = mgpt_st_meta(&k.st, MGPT_DATA_HASH_KEY);
    for (int kind = 0; kind < kinds; kind++)
        for (int i = 0; i < m->n_params; i++) {
            const mgpt_st_tensor *t = &k.st.tensors[k.where[kind][i]];
            size_t n = (size_t)m->params[i].rows * m->params[i].cols;
            if (mgpt_st_read_data(k.fd, path, &k.st, t, at, err, errlen) != 0 ||
                (sums && check_sum(path, sums, t->name, at, n, err, errlen) != 0) ||
                check_finite(path, t->name, at, n, kind, err, errlen) != 0)
                goto out;
            at += n;
        }
    at = buf;
    for (int kind = 0; kind < kinds; kind++)
        for (int i = 0; i < m->n_params; i++) {
            mgpt_param *p = &m->params[i];
            float *dst = kind == CKPT_PARAM ? p->data : kind == CKPT_M ? p->m : p->v;
            size_t n = (size_t)p->rows * p->cols;
            memcpy(dst, at, n * sizeof(float));
            at += n;
        }
    if (want_adam)
        m->step = k.meta.step;
    rc = 0;
out:
    free(buf);
    ckpt_close(&k);
    return rc;
}

int mgpt_checkpoint_meta_value(const char *path, const char *key, char **value, char *err,
                               size_t errlen)
{
    ckpt k;
    *value = NULL;
    if (ckpt_open(&k, path, err, errlen) != 0)
        return -1;
    const char *s = mgpt_st_meta(&k.st, key);
    int rc = 0;
    if (s && !(*value = strdup(s))) {
        snprintf(err, errlen, "%s: out of memory for metadata \"%s\"", path, key);
        rc = -1;
    }
    ckpt_close(&k);
    return rc;
}

void mgpt_checkpoint_extra_free(char **keys, char **values, int n)
{
    for (int i = 0; i < n; i++) {
        free(keys[i]);
        free(values[i]);
    }
    free(keys);
    free(values);
}

int mgpt_checkpoint_extra_meta(const char *path, char ***keys, char ***values, int *n,
                               char *err, size_t errlen)
{
    ckpt k;
    *keys = *values = NULL;
    *n = 0;
    if (ckpt_open(&k, path, err, errlen) != 0)
        return -1;
    int rc = 0;
    char **ks = calloc(MGPT_CKPT_MAX_EXTRA, sizeof *ks);
    char **vs = calloc(MGPT_CKPT_MAX_EXTRA, sizeof *vs);
    int count = 0;
    if (!ks || !vs)
        rc = -1;
    for (int i = 0; rc == 0 && i < k.st.n_meta; i++) {
        int spec = 0;
        for (int j = 0; j < CKPT_N_SPEC; j++)
            spec |= strcmp(k.st.meta_keys[i], ckpt_spec_keys[j]) == 0;
        /* a BPE checkpoint's tokenizer is written from its vocabulary, not as an extra */
        spec |= strcmp(k.st.meta_keys[i], MGPT_CKPT_TOKENIZER_KEY) == 0;
        if (spec)
            continue;
        if (count == MGPT_CKPT_MAX_EXTRA) {
            snprintf(err, errlen, "%s: more than %d metadata entries besides the spec's", path,
                     MGPT_CKPT_MAX_EXTRA);
            rc = -2;
            break;
        }
        ks[count] = strdup(k.st.meta_keys[i]);
        vs[count] = strdup(k.st.meta_values[i]);
        count++;
        if (!ks[count - 1] || !vs[count - 1])
            rc = -1;
    }
    if (rc == -1)
        snprintf(err, errlen, "%s: out of memory for its metadata", path);
    ckpt_close(&k);
    if (rc != 0) {
        mgpt_checkpoint_extra_free(ks, vs, count);
        return -1;
    }
    *keys = ks;
    *values = vs;
    *n = count;
    return 0;
}

int mgpt_checkpoint_tokenizer(const char *path, struct mgpt_bpe *t, int *found, char *err,
                              size_t errlen)
{
    char *text;
    *found = 0;
    if (mgpt_checkpoint_meta_value(path, MGPT_CKPT_TOKENIZER_KEY, &text, err, errlen) != 0)
        return -1;
    if (!text)
        return 0;
    char why[600];
    int rc = mgpt_bpe_from_text(t, text, strlen(text), "metadata \"" MGPT_CKPT_TOKENIZER_KEY "\"",
                                why, sizeof why);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, why);
    else
        *found = 1;
    free(text);
    return rc;
}

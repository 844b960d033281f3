/* Writing mgpt checkpoints (checkpoint.h): the spec's tensors and metadata, through a
 * temporary file renamed over the target (format/save_file.h). */
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

int mgpt_checkpoint_save(const char *path, const mgpt_model *m, const mgpt_vocab *v,
                         uint64_t seed, int with_adam, char *err, size_t errlen)
{
    return mgpt_checkpoint_save_extra(path, m, v, seed, with_adam, NULL, NULL, 0, err, errlen);
}

int mgpt_checkpoint_save_extra(const char *path, const mgpt_model *m, const mgpt_vocab *v,
                               uint64_t seed, int with_adam, const char *const *extra_keys,
                               const char *const *extra_values, int n_extra, char *err,
                               size_t errlen)
{
    if (v->size != m->cfg.vocab_size) {
        snprintf(err, errlen, "%s: the vocabulary has %d ids but the model's vocab_size is %d",
                 path, v->size, m->cfg.vocab_size);
        return -1;
    }
    if (ckpt_check_model_params(path, m, err, errlen) != 0)
        return -1;
    if (m->step < 0) {
        snprintf(err, errlen, "%s: the model's step %ld is negative", path, m->step);
        return -1;
    }

    char num[7][32], vocab[256 * 4 + 3];
    const mgpt_config *c = &m->cfg;
    snprintf(num[0], sizeof num[0], "%d", c->n_embd);
    snprintf(num[1], sizeof num[1], "%d", c->n_head);
    snprintf(num[2], sizeof num[2], "%d", c->n_layer);
    snprintf(num[3], sizeof num[3], "%d", c->block_size);
    snprintf(num[4], sizeof num[4], "%d", c->vocab_size);
    snprintf(num[5], sizeof num[5], "%ld", m->step);
    snprintf(num[6], sizeof num[6], "%" PRIu64, seed);
    size_t len = 0;
    vocab[len++] = '[';
    for (int i = 1; i < v->size && i < MGPT_BPE_FIRST_MERGE; i++)
        len += (size_t)snprintf(vocab + len, sizeof vocab - len, "%s%u", i > 1 ? "," : "",
                                (unsigned)v->byte[i]);
    snprintf(vocab + len, sizeof vocab - len, "]");
    /* The checksum's value is filled in once the tensors are listed below. */
    /* a BPE vocabulary adds its merges as "tokenizer" after the spec's keys */
    char *tok_text = v->bpe ? mgpt_bpe_to_text(v->bpe) : NULL;
    if (v->bpe && !tok_text) {
        snprintf(err, errlen, "%s: out of memory for the tokenizer's metadata", path);
        return -1;
    }
    int n_spec = v->bpe ? CKPT_N_SPEC + 1 : CKPT_N_SPEC;
    const char *keys[CKPT_N_SPEC + 1 + MGPT_CKPT_MAX_EXTRA];
    for (int i = 0; i < CKPT_N_SPEC; i++)
        keys[i] = ckpt_spec_keys[i];
    keys[CKPT_N_SPEC] = MGPT_CKPT_TOKENIZER_KEY;
    const char *values[CKPT_N_SPEC + 1 + MGPT_CKPT_MAX_EXTRA] = {CKPT_FORMAT, num[0], num[1], num[2],
                                                           num[3], num[4], vocab, num[5],
                                                           num[6], NULL, tok_text};
    if (n_extra < 0 || n_extra > MGPT_CKPT_MAX_EXTRA) {
        snprintf(err, errlen, "%s: %d extra metadata entries; at most %d", path, n_extra,
                 MGPT_CKPT_MAX_EXTRA);
        free(tok_text);
        return -1;
    }
    for (int i = 0; i < n_extra; i++) {
        /* "tokenizer" comes from the vocabulary only: a char checkpoint must not have it,
         * nor a BPE one twice */
        int bad = strcmp(extra_keys[i], MGPT_CKPT_TOKENIZER_KEY) == 0;
        for (int j = 0; j < CKPT_N_SPEC; j++)
            bad |= strcmp(extra_keys[i], keys[j]) == 0;
        for (int j = 0; j < i; j++)
            bad |= strcmp(extra_keys[i], extra_keys[j]) == 0;
        if (bad) {
            snprintf(err, errlen, "%s: metadata key \"%s\" is reserved or repeated", path,
                     extra_keys[i]);
            free(tok_text);
            return -1;
        }
        keys[n_spec + i] = extra_keys[i];
        values[n_spec + i] = extra_values[i];
    }

    int kinds = with_adam ? CKPT_KINDS : 1, n = m->n_params * kinds;
    mgpt_st_out *out = calloc((size_t)n, sizeof *out);
    char (*names)[MGPT_NAME_LEN + 8] = calloc((size_t)n, sizeof *names);
    if (!out || !names) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(out);
        free(names);
        free(tok_text);
        return -1;
    }
    for (int kind = 0; kind < kinds; kind++)
        for (int i = 0; i < m->n_params; i++) {
            const mgpt_param *p = &m->params[i];
            int j = kind * m->n_params + i;
            snprintf(names[j], sizeof names[j], "%s%s", ckpt_kind_prefix[kind], p->name);
            out[j].name = names[j];
            out[j].dtype = "F32";
            out[j].ndim = 2;
            out[j].shape[0] = p->rows;
            out[j].shape[1] = p->cols;
            out[j].data = kind == CKPT_PARAM ? p->data : kind == CKPT_M ? p->m : p->v;
        }
    const char **hname = malloc((size_t)n * sizeof *hname);
    const void **hdata = malloc((size_t)n * sizeof *hdata);
    size_t *hlen = malloc((size_t)n * sizeof *hlen);
    char *sums = NULL;
    int rc = -1;
    if (hname && hdata && hlen) {
        for (int j = 0; j < n; j++) {
            hname[j] = out[j].name;
            hdata[j] = out[j].data;
            hlen[j] = (size_t)out[j].shape[0] * (size_t)out[j].shape[1] * sizeof(float);
        }
        sums = mgpt_data_hash_encode(hname, hdata, hlen, n);
    }
    if (!sums)
        snprintf(err, errlen, "%s: out of memory for the data checksums", path);
    else {
        values[9] = sums;
        rc = mgpt_st_write(path, out, n, keys, values, n_spec + n_extra, err, errlen);
    }
    free(sums);
    free(tok_text);
    free(hname);
    free(hdata);
    free(hlen);
    free(out);
    free(names);
    return rc;
}

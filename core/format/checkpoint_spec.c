/* The spec's checkpoint layout for a config (checkpoint_spec.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "format/checkpoint_spec.h"
#include "format/data_hash.h"

#define LAYER_PARAMS 6
static const char *const layer_param[LAYER_PARAMS] = {
    "attn_wq", "attn_wk", "attn_wv", "attn_wo", "mlp_fc1", "mlp_fc2",
};
const char *const ckpt_kind_prefix[CKPT_KINDS] = {"", "adam.m.", "adam.v."};

/* The metadata keys the spec and mgpt reserve, in the order they are written (the
 * checksum last). */
const char *const ckpt_spec_keys[CKPT_N_SPEC] = {
    "format", "n_embd", "n_head", "n_layer", "block_size", "vocab_size", "vocab", "step",
    "seed", MGPT_DATA_HASH_KEY};

int ckpt_spec_count(const mgpt_config *c)
{
    return 3 + LAYER_PARAMS * c->n_layer;
}

/* Name, shape and the shape in words of the spec's i-th parameter. */
void ckpt_spec_param(const mgpt_config *c, int i, char *name, size_t len, int *rows,
                     int *cols, const char **dims)
{
    int C = c->n_embd;
    if (i < 3) {
        static const char *const top[3] = {"wte", "wpe", "lm_head"};
        snprintf(name, len, "%s", top[i]);
        *rows = i == 1 ? c->block_size : c->vocab_size;
        *cols = C;
        *dims = i == 1 ? "block_size x n_embd" : "vocab_size x n_embd";
        return;
    }
    int l = (i - 3) / LAYER_PARAMS, k = (i - 3) % LAYER_PARAMS;
    snprintf(name, len, "layer%d.%s", l, layer_param[k]);
    *rows = k == 4 ? 4 * C : C;
    *cols = k == 5 ? 4 * C : C;
    *dims = k == 4 ? "4*n_embd x n_embd" : k == 5 ? "n_embd x 4*n_embd" : "n_embd x n_embd";
}

/* Index of a parameter name in the spec's list for c, or -1. */
int ckpt_spec_index(const mgpt_config *c, const char *name)
{
    if (strcmp(name, "wte") == 0)
        return 0;
    if (strcmp(name, "wpe") == 0)
        return 1;
    if (strcmp(name, "lm_head") == 0)
        return 2;
    if (strncmp(name, "layer", 5) != 0 || name[5] < '0' || name[5] > '9')
        return -1;
    char *end;
    errno = 0;
    long l = strtol(name + 5, &end, 10);
    if (errno != 0 || l < 0 || l >= c->n_layer || *end != '.')
        return -1;
    for (int k = 0; k < LAYER_PARAMS; k++) {
        if (strcmp(end + 1, layer_param[k]) != 0)
            continue;
        char canon[MGPT_NAME_LEN]; /* "layer01.attn_wq" is not ours */
        snprintf(canon, sizeof canon, "layer%ld.%s", l, layer_param[k]);
        return strcmp(canon, name) == 0 ? 3 + (int)l * LAYER_PARAMS + k : -1;
    }
    return -1;
}

/* The model's parameter table must be the spec's, in order (it is what we write). */
int ckpt_check_model_params(const char *path, const mgpt_model *m, char *err, size_t errlen)
{
    int n = ckpt_spec_count(&m->cfg);
    if (m->n_params != n) {
        snprintf(err, errlen, "%s: the model has %d parameter tensors; the spec has %d for "
                 "n_layer %d", path, m->n_params, n, m->cfg.n_layer);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char name[MGPT_NAME_LEN];
        int rows, cols;
        const char *dims;
        ckpt_spec_param(&m->cfg, i, name, sizeof name, &rows, &cols, &dims);
        const mgpt_param *p = &m->params[i];
        if (strcmp(p->name, name) != 0 || p->rows != rows || p->cols != cols) {
            snprintf(err, errlen, "%s: model parameter %d is '%s' [%d, %d]; the spec has '%s' "
                     "[%d, %d] there", path, i, p->name, p->rows, p->cols, name, rows, cols);
            return -1;
        }
    }
    return 0;
}

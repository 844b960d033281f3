/* Model shape validation and parameter count. */
#include <stdio.h>
#include "model/mgpt_config.h"

#define MAX_EMBD MGPT_MAX_EMBD
#define MAX_LAYER MGPT_MAX_LAYER
#define MAX_BLOCK MGPT_MAX_BLOCK

int mgpt_config_validate(const mgpt_config *c, char *err, size_t errlen)
{
    /* above 257: BOS, the 256 bytes and BPE merges (docs/model.md, "BPE checkpoints") */
    if (c->vocab_size < 2 || c->vocab_size > 65536) {
        snprintf(err, errlen, "vocab_size %d is out of range (2..65536: BOS plus at most 256 "
                 "bytes, then BPE merges)", c->vocab_size);
        return -1;
    }
    if (c->n_embd < 1 || c->n_embd > MAX_EMBD) {
        snprintf(err, errlen, "n_embd %d is out of range (1..%d)", c->n_embd, MAX_EMBD);
        return -1;
    }
    if (c->n_head < 1 || c->n_head > c->n_embd) {
        snprintf(err, errlen, "n_head %d is out of range (1..n_embd=%d)", c->n_head, c->n_embd);
        return -1;
    }
    if (c->n_embd % c->n_head != 0) {
        snprintf(err, errlen, "n_embd %d is not divisible by n_head %d", c->n_embd, c->n_head);
        return -1;
    }
    if (c->n_layer < 1 || c->n_layer > MAX_LAYER) {
        snprintf(err, errlen, "n_layer %d is out of range (1..%d)", c->n_layer, MAX_LAYER);
        return -1;
    }
    if (c->block_size < 1 || c->block_size > MAX_BLOCK) {
        snprintf(err, errlen, "block_size %d is out of range (1..%d)", c->block_size, MAX_BLOCK);
        return -1;
    }
    return 0;
}

size_t mgpt_config_num_params(const mgpt_config *c)
{
    size_t C = (size_t)c->n_embd, V = (size_t)c->vocab_size, T = (size_t)c->block_size;
    size_t per_layer = 4 * C * C + 2 * 4 * C * C;
    return V * C + T * C + V * C + (size_t)c->n_layer * per_layer;
}

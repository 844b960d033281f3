/* The model's shape (spec: ../shared/spec/model.md) and its validation. */
#ifndef MGPT_CONFIG_H
#define MGPT_CONFIG_H
#include <stddef.h>

typedef struct mgpt_config {
    int vocab_size;  /* V: BOS + distinct bytes of the corpus */
    int n_embd;      /* C */
    int n_head;      /* H; C % H == 0 */
    int n_layer;
    int block_size;  /* T: positions per document */
} mgpt_config;

/* 0 if valid; else writes "what is wrong, with the value and what is accepted" to err. */
int mgpt_config_validate(const mgpt_config *c, char *err, size_t errlen);

/* Number of float parameters for this shape. */
size_t mgpt_config_num_params(const mgpt_config *c);

#endif

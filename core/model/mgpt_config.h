/* The model's shape (spec: ../shared/spec/model.md) and its validation. */
#ifndef MGPT_CONFIG_H
#define MGPT_CONFIG_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest accepted shapes: every size product stays inside the kernels' int range. */
#define MGPT_MAX_EMBD 8192
#define MGPT_MAX_LAYER 256
#define MGPT_MAX_BLOCK 4096

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

/* Benchmark config names of the spec: e{C}_L{layers}_b{T}[_B{docs}], n_head 4.
 * Fills cfg (vocab_size left as given) and *batch (1 without _B). 0, or -1 with err set. */
int mgpt_config_parse_name(const char *name, mgpt_config *cfg, int *batch, char *err,
                           size_t errlen);
/* The six configs of the seed's benchmarks, and the batched throughput configs. */
extern const char *const mgpt_seed_configs[];     /* NULL-terminated */
extern const char *const mgpt_batched_configs[];  /* NULL-terminated */

#ifdef __cplusplus
}
#endif
#endif

/* Benchmark config names (spec: "Configs named in benchmarks"). */
#include <stdio.h>
#include <string.h>
#include "model/mgpt_config.h"

const char *const mgpt_seed_configs[] = {
    "e16_L1_b8", "e32_L1_b8", "e64_L1_b8", "e16_L1_b16", "e32_L2_b8", "e64_L2_b16", NULL,
};
const char *const mgpt_batched_configs[] = {
    "e128_L4_b16_B32", "e256_L6_b32_B32", "e768_L4_b64_B16", NULL,
};

int mgpt_config_parse_name(const char *name, mgpt_config *cfg, int *batch, char *err,
                           size_t errlen)
{
    int C, L, T, B = 1, used = 0, used2 = 0;
    if (sscanf(name, "e%d_L%d_b%d%n", &C, &L, &T, &used) != 3 ||
        (name[used] != '\0' && (sscanf(name + used, "_B%d%n", &B, &used2) != 1 ||
                                name[used + used2] != '\0'))) {
        snprintf(err, errlen, "config name '%s' is not of the form e{n_embd}_L{n_layer}_b{block}"
                 "[_B{docs}] (e.g. e64_L2_b16 or e128_L4_b16_B32)", name);
        return -1;
    }
    cfg->n_embd = C;
    cfg->n_layer = L;
    cfg->block_size = T;
    cfg->n_head = 4;
    if (B < 1) {
        snprintf(err, errlen, "config '%s': batch _B%d must be at least 1", name, B);
        return -1;
    }
    *batch = B;
    if (cfg->vocab_size < 2)
        cfg->vocab_size = 27;
    char why[256];
    if (mgpt_config_validate(cfg, why, sizeof why) != 0) {
        snprintf(err, errlen, "config '%s': %s", name, why);
        return -1;
    }
    return 0;
}

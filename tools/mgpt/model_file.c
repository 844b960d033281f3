/* A model made from a checkpoint: its header gives the shape and the vocabulary, then the
 * tensors are loaded into a model built for the command's batch size. */
#include <stdlib.h>
#include "cli.h"

int cli_model_budget(const char *cmd, const mgpt_config *cfg, int B, int T, int training)
{
    char err[1200];
    mgpt_model_plan plan;
    if (mgpt_model_plan_for(cfg, B, T, training, &plan, err, sizeof err) != 0) {
        tool_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    if (mgpt_model_budget(&plan, err, sizeof err) != 0) {
        tool_error(cmd, "a model of %d document%s x %d positions (%s) %s", B, B == 1 ? "" : "s",
                   T, training ? "training" : "inference", err);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_model_from_checkpoint(const char *cmd, const char *path, int B, int T, int want_adam,
                              const mgpt_compute *c, mgpt_checkpoint_meta *meta,
                              mgpt_model **out)
{
    char err[1200];
    *out = NULL;
    if (mgpt_checkpoint_peek(path, meta, err, sizeof err) != 0) {
        tool_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    if (want_adam && !meta->has_adam) {
        tool_error(cmd, "checkpoint '%s' has no optimizer state (adam.m.*, adam.v.*), so training "
                   "cannot resume from it; mgpt train --save writes it", path);
        return CLI_USAGE;
    }
    if (T == 0)
        T = meta->cfg.block_size;
    /* inference (want_adam 0) needs no gradient or Adam arenas */
    int status = cli_model_budget(cmd, &meta->cfg, B, T, want_adam);
    if (status != CLI_OK)
        return status;
    mgpt_model *m = mgpt_model_create_for(&meta->cfg, B, T, want_adam, c, err, sizeof err);
    if (!m) {
        tool_error(cmd, "cannot create the model of checkpoint '%s': %s", path, err);
        return CLI_FAIL;
    }
    if (mgpt_checkpoint_load(path, m, want_adam, err, sizeof err) != 0) {
        tool_error(cmd, "%s", err);
        mgpt_model_free(m);
        return CLI_USAGE;
    }
    if (!meta->has_checksum)
        tool_warn(cmd, "checkpoint '%s' has no data checksum (\"data_xxh3\"; written by an older "
                 "mgpt or another tool), so damage to its tensors cannot be detected", path);
    *out = m;
    return CLI_OK;
}

void cli_config_describe(const mgpt_config *c, char *buf, size_t len)
{
    snprintf(buf, len, "n_embd %d, n_head %d, n_layer %d, block_size %d, vocab %d", c->n_embd,
             c->n_head, c->n_layer, c->block_size, c->vocab_size);
}

long cli_doc_positions(size_t len, int T)
{
    return len + 1 < (size_t)T ? (long)len + 1 : T;
}

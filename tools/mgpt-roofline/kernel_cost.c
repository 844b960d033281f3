/* Which kernel slot an op node calls, and the counts of the two optimizer kernels.
 * The FLOPs and bytes of every op node are the engine's own (core/op_cost.c,
 * mgpt_node_cost, and mgpt_zero_cost for the gradients the backward walk zeroes), the
 * numbers mgpt-bench divides by time; sumsq and adam_update have no node, so their counts
 * are the formulas of plugins/mgpt/backend.h, restated here. */
#include <string.h>
#include "roofline.h"

static int slot_named(const char *name)
{
    for (int i = 0; i < mgpt_kernel_count(); i++)
        if (strcmp(mgpt_kernel_name(i), name) == 0)
            return i;
    return -1;
}

int roof_kernel_slot(mgpt_op_kind op, int backward)
{
    static const char *const names[MGPT_OP_COUNT][2] = {
        [MGPT_OP_EMBED] = {"embed_forward", "embed_backward"},
        [MGPT_OP_RMSNORM] = {"rmsnorm_forward", "rmsnorm_backward"},
        [MGPT_OP_MATMUL] = {"matmul_forward", "matmul_backward"},
        [MGPT_OP_ATTENTION] = {"attention_forward", "attention_backward"},
        [MGPT_OP_SQRELU] = {"sqrelu_forward", "sqrelu_backward"},
        [MGPT_OP_ADD] = {"add_forward", "accumulate"},  /* backward: accumulate, twice */
        [MGPT_OP_XENT] = {"crossentropy_forward", "crossentropy_backward"},
    };
    if ((int)op < 0 || op >= MGPT_OP_COUNT || !names[op][0])
        return -1;
    return slot_named(names[op][backward ? 1 : 0]);
}

int roof_slot_sumsq(void)
{
    return slot_named("sumsq");
}

int roof_slot_adam(void)
{
    return slot_named("adam_update");
}

int roof_slot_zero(void)
{
    return slot_named("zero");
}

mgpt_cost roof_optimizer_cost(int slot, size_t n)
{
    mgpt_cost none = {0, 0};
    if (slot == roof_slot_sumsq())
        return mgpt_sumsq_cost(n);
    if (slot == roof_slot_adam())
        return mgpt_adam_cost(n);
    return none;
}

/* FLOP and byte counts: each kernel call's from the formulas of mgpt/kernel_list.h, each
 * node's as the sum of the calls it makes (recorded, call_record.h), a training step's
 * as mgpt_step_cost. The roofline, the benchmark and mgpt train's report divide these by
 * time. Bytes count each operand once (ideal caching); FLOPs count a multiply-add as 2 and
 * exp/sqrt/div as 1. */
#include "model/call_record.h"
#include "model/graph.h"

mgpt_cost mgpt_kernel_cost(int slot, const mgpt_call_sizes *s)
{
    /* the names the list's formulas use */
    const double B = s->B, T = s->T, N = s->N, C = s->C, OC = s->OC, H = s->H, V = s->V,
                 n = s->n, w = s->w ? 1.0 : 0.0;
    const double hd = H > 0 ? C / H : 0, pairs = B * H * T * (T + 1) / 2;
    (void)B, (void)T, (void)N, (void)C, (void)OC, (void)H, (void)V, (void)n, (void)w;
    (void)hd, (void)pairs;
    mgpt_cost c = {0, 0};
    switch (slot) {
#define X_COST(id, field, ref, ret, params, split, flop_count, byte_count) \
    case id:                                                               \
        c.flops = (flop_count);                                            \
        c.bytes = (byte_count);                                            \
        break;
        MGPT_KERNEL_LIST(X_COST)
#undef X_COST
    default:
        break;
    }
    return c;
}

static void add_cost(void *arg, int slot, const mgpt_call_sizes *sizes)
{
    mgpt_cost *total = arg, c = mgpt_kernel_cost(slot, sizes);
    total->flops += c.flops;
    total->bytes += c.bytes;
}

/* The calls mgpt_node_forward / mgpt_node_backward make (graph.c), recorded as they are
 * made, each counted by its slot's formulas. */
mgpt_cost mgpt_node_cost(const mgpt_node *nd, int backward)
{
    mgpt_cost total = {0, 0};
    mgpt_call_recorder r;
    mgpt_compute c = mgpt_call_recorder_compute(&r, NULL, add_cost, &total);
    mgpt_graph g = {0};   /* the node's sizes are its own; nothing is read or written */
    if (backward)
        mgpt_node_backward(nd, &g, &c);
    else
        mgpt_node_forward(nd, &g, &c);
    return total;
}

static mgpt_cost elements_cost(int slot, size_t n)
{
    mgpt_call_sizes s = {0};
    s.n = (double)n;
    return mgpt_kernel_cost(slot, &s);
}

mgpt_cost mgpt_sumsq_cost(size_t n)
{
    return elements_cost(MGPT_K_SUMSQ, n);
}

mgpt_cost mgpt_adam_cost(size_t n)
{
    return elements_cost(MGPT_K_ADAM_UPDATE, n);
}

mgpt_cost mgpt_optimizer_cost(size_t n)
{
    mgpt_cost s = mgpt_sumsq_cost(n), a = mgpt_adam_cost(n);
    mgpt_cost c = {s.flops + a.flops, s.bytes + a.bytes};
    return c;
}

mgpt_cost mgpt_zero_cost(size_t n)
{
    return elements_cost(MGPT_K_ZERO, n);
}

mgpt_cost mgpt_graph_zero_cost(const mgpt_graph *g)
{
    mgpt_cost total = {0, 0};
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < 2; j++)
            if (g->nodes[i].zero_grad[j])
                total.bytes += mgpt_zero_cost(g->nodes[i].zero_grad[j]->numel).bytes;
    return total;
}

mgpt_cost mgpt_graph_cost(const mgpt_graph *g, int backward)
{
    mgpt_cost total = {0, 0};
    for (int i = 0; i < g->n_nodes; i++) {
        mgpt_cost c = mgpt_node_cost(&g->nodes[i], backward);
        total.flops += c.flops;
        total.bytes += c.bytes;
    }
    return total;
}

mgpt_cost mgpt_step_cost(const mgpt_graph *g, size_t n_params)
{
    mgpt_cost f = mgpt_graph_cost(g, 0), b = mgpt_graph_cost(g, 1);
    mgpt_cost z = mgpt_graph_zero_cost(g), o = mgpt_optimizer_cost(n_params);
    mgpt_cost c = {f.flops + b.flops + z.flops + o.flops, f.bytes + b.bytes + z.bytes + o.bytes};
    return c;
}

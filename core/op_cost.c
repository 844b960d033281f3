/* FLOP and byte counts: each kernel call's from the formulas of mgpt/kernel_list.h, each
 * node's as the sum of the calls it makes. The roofline and the benchmark divide these by
 * time. Bytes count each operand once (ideal caching); FLOPs count a multiply-add as 2 and
 * exp/sqrt/div as 1. */
#include "graph.h"

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

static void add_call(mgpt_cost *total, int slot, const mgpt_call_sizes *s)
{
    mgpt_cost c = mgpt_kernel_cost(slot, s);
    total->flops += c.flops;
    total->bytes += c.bytes;
}

/* The calls of mgpt_node_forward / mgpt_node_backward (graph.c), with their sizes. */
mgpt_cost mgpt_node_cost(const mgpt_node *nd, int backward)
{
    mgpt_call_sizes s = {nd->B, nd->T, nd->N, nd->C, nd->OC, nd->H, nd->V,
                         nd->out ? (double)nd->out->numel : 0, 0};
    int w0 = backward && (nd->write & 1u), w1 = backward && (nd->write & 2u);
    mgpt_cost c = {0, 0};
    switch (nd->op) {
    case MGPT_OP_EMBED:
        add_call(&c, backward ? MGPT_K_EMBED_BACKWARD : MGPT_K_EMBED_FORWARD, &s);
        break;
    case MGPT_OP_RMSNORM:
        s.w = w0;
        add_call(&c, backward ? MGPT_K_RMSNORM_BACKWARD : MGPT_K_RMSNORM_FORWARD, &s);
        break;
    case MGPT_OP_MATMUL:
        if (!backward) {
            add_call(&c, MGPT_K_MATMUL_FORWARD, &s);
            break;
        }
        s.w = w0;
        add_call(&c, MGPT_K_MATMUL_BACKWARD_DINP, &s);
        s.w = w1;
        add_call(&c, MGPT_K_MATMUL_BACKWARD_DW, &s);
        break;
    case MGPT_OP_ATTENTION:
        s.w = w0;
        add_call(&c, backward ? MGPT_K_ATTENTION_BACKWARD : MGPT_K_ATTENTION_FORWARD, &s);
        break;
    case MGPT_OP_SQRELU:
        s.w = w0;
        add_call(&c, backward ? MGPT_K_SQRELU_BACKWARD : MGPT_K_SQRELU_FORWARD, &s);
        break;
    case MGPT_OP_ADD:
        if (!backward) {
            add_call(&c, MGPT_K_ADD_FORWARD, &s);
            break;
        }
        s.w = w0;
        add_call(&c, MGPT_K_ACCUMULATE, &s);
        s.w = w1;
        add_call(&c, MGPT_K_ACCUMULATE, &s);
        break;
    case MGPT_OP_XENT:
        s.w = w0;
        add_call(&c, backward ? MGPT_K_CROSSENTROPY_BACKWARD : MGPT_K_CROSSENTROPY_FORWARD, &s);
        break;
    default:
        break;
    }
    return c;
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

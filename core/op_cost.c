/* FLOP and byte counts of every op, forward and backward: the numbers the roofline and the
 * benchmark divide by time. Bytes count each operand once (ideal caching); FLOPs count a
 * multiply-add as 2 and exp/sqrt/div as 1. The per-kernel comments in
 * plugins/mgpt/backend.h state the same formulas. */
#include "graph.h"

/* Attention: over all (b, h, t) a row attends to t+1 keys: sum_t (t+1) = T(T+1)/2. */
static mgpt_cost attention_cost(const mgpt_node *nd, int backward)
{
    double B = nd->B, T = nd->T, C = nd->C, H = nd->H, hd = C / H;
    double pairs = B * H * T * (T + 1) / 2; /* (query, key) pairs */
    mgpt_cost c;
    if (!backward) {
        /* scores 2*hd, softmax ~5 (max, sub, exp, sum, scale), weighted sum 2*hd */
        c.flops = pairs * (4 * hd + 5);
        c.bytes = 4 * (B * T * 3 * C + B * H * T * T + B * T * C);
    } else {
        /* datt 2hd, dv 2hd, dpre 4, dq 2hd, dk 2hd */
        c.flops = pairs * (8 * hd + 4);
        /* qkv read, dqkv read and written (only written: its first contributor), att and
         * the datt scratch, dout */
        c.bytes = 4 * ((nd->write & 1u ? 2 : 3) * B * T * 3 * C + 2 * B * H * T * T + B * T * C);
    }
    return c;
}

mgpt_cost mgpt_node_cost(const mgpt_node *nd, int backward)
{
    double N = nd->N, C = nd->C, OC = nd->OC, V = nd->V, n = nd->out ? (double)nd->out->numel : 0;
    /* a gradient its kernel writes (nd->write) is not read: 4 bytes an element less, and
     * the element-wise ops skip their add: a flop an element less */
    int w0 = backward && (nd->write & 1u), w1 = backward && (nd->write & 2u);
    mgpt_cost c = {0, 0};
    switch (nd->op) {
    case MGPT_OP_EMBED:
        c.flops = backward ? 2 * N * C : N * C;
        c.bytes = backward ? 20 * N * C : 12 * N * C;
        break;
    case MGPT_OP_RMSNORM:
        c.flops = backward ? 6 * N * C - w0 * N * C : 3 * N * C;
        c.bytes = backward ? 16 * N * C - 4 * w0 * N * C : 8 * N * C;
        break;
    case MGPT_OP_MATMUL:
        c.flops = (backward ? 4 : 2) * N * C * OC;
        /* backward: dinp and dw are read and written (accumulated) or only written, dout
         * read once */
        c.bytes = backward ? 4 * ((3 - w0) * N * C + (3 - w1) * OC * C + N * OC)
                           : 4 * (N * C + OC * C + N * OC);
        break;
    case MGPT_OP_ATTENTION:
        return attention_cost(nd, backward);
    case MGPT_OP_SQRELU:
        /* compare and square; backward: compare, 2*x*dy, accumulate into dinp */
        c.flops = backward ? 4 * n - w0 * n : 2 * n;
        c.bytes = backward ? 16 * n - 4 * w0 * n : 8 * n;
        break;
    case MGPT_OP_ADD:
        /* backward: dst += src for each operand, or a copy (no flop, dst not read) */
        c.flops = backward ? (2 - w0 - w1) * n : n;
        c.bytes = backward ? (24 - 4 * w0 - 4 * w1) * n : 12 * n;
        break;
    case MGPT_OP_XENT:
        c.flops = backward ? 3 * N * V - w0 * N * V : 5 * N * V;
        c.bytes = backward ? 12 * N * V - 4 * w0 * N * V : 8 * N * V;
        break;
    default:
        break;
    }
    return c;
}

mgpt_cost mgpt_sumsq_cost(size_t n)
{
    mgpt_cost c = {2.0 * (double)n, 4.0 * (double)n};
    return c;
}

/* scale, 3 for m, 4 for v, 2 bias corrections, sqrt, +eps, lr*, /, -=: 15 flops;
 * param, m, v read and written, grad read: 28 bytes */
mgpt_cost mgpt_adam_cost(size_t n)
{
    mgpt_cost c = {15.0 * (double)n, 28.0 * (double)n};
    return c;
}

mgpt_cost mgpt_optimizer_cost(size_t n)
{
    mgpt_cost s = mgpt_sumsq_cost(n), a = mgpt_adam_cost(n);
    mgpt_cost c = {s.flops + a.flops, s.bytes + a.bytes};
    return c;
}

/* written, never read: 4 bytes a float */
mgpt_cost mgpt_zero_cost(size_t n)
{
    mgpt_cost c = {0.0, 4.0 * (double)n};
    return c;
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

/* Forward and backward of each op node, and the two walks over the graph. */
#include <string.h>
#include "model/graph.h"

static const char *const op_names[MGPT_OP_COUNT] = {
    [MGPT_OP_EMBED] = "embed",     [MGPT_OP_RMSNORM] = "rmsnorm",
    [MGPT_OP_MATMUL] = "matmul",   [MGPT_OP_ATTENTION] = "attention",
    [MGPT_OP_SQRELU] = "sqrelu",   [MGPT_OP_ADD] = "add",
    [MGPT_OP_XENT] = "crossentropy",
};

const char *mgpt_op_name(mgpt_op_kind op)
{
    return op < MGPT_OP_COUNT ? op_names[op] : "?";
}

void mgpt_node_forward(const mgpt_node *nd, const mgpt_graph *g, const mgpt_compute *c)
{
    const mgpt_kernels *k = c->k;
    const mgpt_ctx *x = c->ctx;
    mgpt_tensor *o = nd->out, *a = nd->in[0], *b = nd->in[1];
    switch (nd->op) {
    case MGPT_OP_EMBED:
        k->embed_forward(x, o->data, g->tokens, a->data, b->data, nd->N, nd->T, nd->C);
        break;
    case MGPT_OP_RMSNORM:
        k->rmsnorm_forward(x, o->data, nd->aux->data, a->data, nd->N, nd->C);
        break;
    case MGPT_OP_MATMUL:
        k->matmul_forward(x, o->data, a->data, b->data, nd->N, nd->C, nd->OC, 0, nd->N, 0,
                          nd->OC);
        break;
    case MGPT_OP_ATTENTION:
        k->attention_forward(x, o->data, nd->aux->data, a->data, nd->B, nd->T, nd->C, nd->H, 0,
                             nd->B * nd->H);
        break;
    case MGPT_OP_SQRELU:
        k->sqrelu_forward(x, o->data, a->data, o->numel);
        break;
    case MGPT_OP_ADD:
        k->add_forward(x, o->data, a->data, b->data, o->numel);
        break;
    case MGPT_OP_XENT:
        k->crossentropy_forward(x, o->data, nd->aux->data, a->data, g->targets, nd->N, nd->V);
        break;
    default:
        break;
    }
}

/* The kernels' write bit for the gradient of input j of a node: `bit` if this node's
 * backward is that gradient's first contributor. */
static unsigned write_bit(const mgpt_node *nd, int j, unsigned bit)
{
    return nd->write & (1u << j) ? bit : 0u;
}

void mgpt_node_backward(const mgpt_node *nd, const mgpt_graph *g, const mgpt_compute *c)
{
    const mgpt_kernels *k = c->k;
    const mgpt_ctx *x = c->ctx;
    mgpt_tensor *o = nd->out, *a = nd->in[0], *b = nd->in[1];
    unsigned w0 = write_bit(nd, 0, MGPT_WRITE_DINP);
    switch (nd->op) {
    case MGPT_OP_EMBED:
        k->embed_backward(x, a->grad, b->grad, o->grad, g->tokens, nd->N, nd->T, nd->C);
        break;
    case MGPT_OP_RMSNORM:
        k->rmsnorm_backward(x, a->grad, o->grad, a->data, nd->aux->data, nd->N, nd->C, w0);
        break;
    case MGPT_OP_MATMUL:
        /* matmul_backward_dinp, then matmul_backward_dw */
        mgpt_compute_matmul_backward(c, a->grad, b->grad, o->grad, a->data, b->data, nd->N,
                                     nd->C, nd->OC, w0 | write_bit(nd, 1, MGPT_WRITE_DW));
        break;
    case MGPT_OP_ATTENTION:
        k->attention_backward(x, a->grad, nd->scratch->data, o->grad, a->data, nd->aux->data,
                              nd->B, nd->T, nd->C, nd->H, 0, nd->B * nd->H, w0);
        break;
    case MGPT_OP_SQRELU:
        k->sqrelu_backward(x, a->grad, o->grad, a->data, o->numel, w0);
        break;
    case MGPT_OP_ADD:
        k->accumulate(x, a->grad, o->grad, o->numel, w0);
        k->accumulate(x, b->grad, o->grad, o->numel, write_bit(nd, 1, MGPT_WRITE_DINP));
        break;
    case MGPT_OP_XENT:
        /* d(mean loss)/d(loss_n) = 1/count for every unmasked row; with none, every row is
         * masked and the call still writes dlogits (zeros) if it is to write it */
        k->crossentropy_backward(x, a->grad, nd->aux->data, g->targets,
                                 g->n_targets > 0 ? 1.0f / g->n_targets : 0.0f, nd->N, nd->V,
                                 w0);
        break;
    default:
        break;
    }
}

void mgpt_graph_forward(mgpt_graph *g, const mgpt_compute *c)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op == MGPT_OP_XENT)
            for (int n = 0; n < g->nodes[i].N; n++)
                count += g->targets[n] >= 0;
        mgpt_node_forward(&g->nodes[i], g, c);
    }
    g->n_targets = count;
}

void mgpt_graph_backward(mgpt_graph *g, const mgpt_compute *c)
{
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const mgpt_node *nd = &g->nodes[i];
        for (int j = 0; j < 2; j++)
            if (nd->zero_grad[j])
                c->k->zero(c->ctx, nd->zero_grad[j]->grad, nd->zero_grad[j]->numel);
        mgpt_node_backward(nd, g, c);
    }
}

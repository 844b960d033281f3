/* The static graph: a list of op nodes over tensors, built once for a (B, T) shape.
 * Forward runs the list in order; backward runs it in reverse (reverse-mode autograd),
 * every op adding into its inputs' gradients, or storing them if it is the first to. All kernels come from the backend. */
#ifndef MGPT_GRAPH_H
#define MGPT_GRAPH_H
#include <stddef.h>
#include <stdint.h>
#include <mgpt/backend.h>
#include "engine/compute.h"
#include "model/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mgpt_op_kind {
    MGPT_OP_EMBED,      /* out = wte[tok] + wpe[pos]          in: wte, wpe */
    MGPT_OP_RMSNORM,    /* out = rmsnorm(in0), aux = rstd     in: x */
    MGPT_OP_MATMUL,     /* out = in0 @ in1^T                  in: x, w */
    MGPT_OP_ATTENTION,  /* out = attn(in0), aux = att probs   in: qkv */
    MGPT_OP_SQRELU,     /* out = relu(in0)^2                  in: x */
    MGPT_OP_ADD,        /* out = in0 + in1                    in: a, b */
    MGPT_OP_XENT,       /* out = per-row loss, aux = probs    in: logits */
    MGPT_OP_COUNT
} mgpt_op_kind;

typedef struct mgpt_node {
    mgpt_op_kind op;
    mgpt_tensor *out;
    mgpt_tensor *in[2];
    mgpt_tensor *aux;      /* saved for backward (rstd, attention probs, softmax probs) */
    mgpt_tensor *scratch;  /* backward scratch (attention) */
    /* Inputs whose gradient this node's backward is the first to accumulate into (it is
     * their last reader in forward order) and cannot write: the backward walk zeroes
     * those gradients just before it, so that they are in the caches of the kernel that
     * first adds to them. Planned with the graph (model.c); NULL where none. */
    mgpt_tensor *zero_grad[2];
    /* Bit j (1u << j): this node's backward is the first contributor to in[j]'s gradient
     * and stores it (the kernels' MGPT_WRITE_* bits) instead of adding to zeroes. Every op
     * but embed (whose scatter adds, so dwte and dwpe go to zero_grad) writes so. */
    unsigned write;
    int B, T, N, C, OC, H, V;
} mgpt_node;

typedef struct mgpt_graph {
    mgpt_node *nodes;
    int n_nodes;
    const int *tokens;    /* [N] inputs */
    const int *targets;   /* [N] targets, -1 = masked */
    int n_targets;        /* unmasked targets of the last forward */
} mgpt_graph;

const char *mgpt_op_name(mgpt_op_kind op);
void mgpt_node_forward(const mgpt_node *nd, const mgpt_graph *g, const mgpt_compute *c);
void mgpt_node_backward(const mgpt_node *nd, const mgpt_graph *g, const mgpt_compute *c);
void mgpt_graph_forward(mgpt_graph *g, const mgpt_compute *c);
/* Backward walk; before each node, its zero_grad gradients are zeroed. */
void mgpt_graph_backward(mgpt_graph *g, const mgpt_compute *c);

/* FLOPs and bytes moved (op_cost.c, from the formulas of mgpt/kernel_list.h); the roofline
 * and benchmark divide by time. */
typedef struct mgpt_cost { double flops; double bytes; } mgpt_cost;
/* The sizes of one kernel call: those of its arguments (unused ones 0), w = 1 when it
 * writes its gradient (its write bit for that slot is set). */
typedef struct mgpt_call_sizes { double B, T, N, C, OC, H, V, n; int w; } mgpt_call_sizes;
mgpt_cost mgpt_kernel_cost(int slot, const mgpt_call_sizes *s);
/* One node, forward or backward: the sum of the kernel calls it makes. */
mgpt_cost mgpt_node_cost(const mgpt_node *nd, int backward);
mgpt_cost mgpt_graph_cost(const mgpt_graph *g, int backward);
/* The optimizer step over n parameters: the global-norm sum of squares, then Adam. */
mgpt_cost mgpt_sumsq_cost(size_t n);
mgpt_cost mgpt_adam_cost(size_t n);
mgpt_cost mgpt_optimizer_cost(size_t n);
/* Zeroing n gradient floats: no FLOPs, 4 bytes each; and every zeroing of a backward walk
 * (the nodes' zero_grad). */
mgpt_cost mgpt_zero_cost(size_t n);
mgpt_cost mgpt_graph_zero_cost(const mgpt_graph *g);
/* One training step as every tool counts it (mgpt train's report, mgpt-bench): forward and
 * backward of the graph, the backward walk's zeroing and the optimizer over n_params. The
 * graph's padded positions count: the engine computes them. */
mgpt_cost mgpt_step_cost(const mgpt_graph *g, size_t n_params);
#ifdef __cplusplus
}
#endif
#endif

/* Gradient accumulation: a step of B documents run as k micro-batches of the model's B
 * documents each (the model is made for one micro-batch), every micro-batch's gradient in
 * its own buffer, summed in the fixed tree of grad_tree.h, then one Adam step. The loss is
 * the mean over every target of the step, as with one big batch: each micro-batch's
 * backward scales by 1 / (the step's targets), not its own. A process may compute only a
 * range [lo, hi) of the micro-batches (data parallelism); the tree nodes it sums are then
 * combined with the other processes' by the caller, in the same tree.
 *
 * Memory is planned once: hi - lo gradient buffers of the model's parameter count. */
#ifndef MGPT_MICROBATCH_H
#define MGPT_MICROBATCH_H
#include <stddef.h>
#include "model/grad_tree.h"
#include "model/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_microbatch {
    int k;                  /* micro-batches per step */
    int lo, hi;             /* the ones this process computes */
    size_t floats;          /* the model's parameter count: one gradient buffer */
    float *leaves;          /* [hi - lo] gradient buffers, micro-batch lo first */
    mgpt_tree_node *nodes;  /* the tree's maximal nodes inside [lo, hi), with their sums */
    int n_nodes;
    mgpt_tree_node *leaf_nodes; /* [hi - lo] the leaves, each over its own buffer */
    double *loss_sum;       /* [k] each micro-batch's sum of per-target losses */
    int *targets;           /* [k] each micro-batch's unmasked targets */
    int n_targets;          /* the step's unmasked targets, all k micro-batches */
} mgpt_microbatch;

/* Plans micro-batches lo..hi-1 of k (0 <= lo < hi <= k) on training model m. 0, or -1
 * with err set (out of memory, with the size). */
int mgpt_microbatch_plan(mgpt_microbatch *mb, const mgpt_model *m, int k, int lo, int hi,
                         char *err, size_t errlen);
void mgpt_microbatch_free(mgpt_microbatch *mb);

/* One step's gradients: tokens and targets hold the step's k * m->B documents of m->T
 * positions. Counts the step's targets (all k micro-batches), then runs forward and
 * backward on micro-batches lo..hi-1, fills their loss_sum and targets, and sums each
 * node of mb->nodes in the tree (its sum in the buffer of its first micro-batch). The
 * model's own gradients are scratch afterwards. */
void mgpt_microbatch_run(mgpt_microbatch *mb, mgpt_model *m, const int *tokens,
                         const int *targets);
/* When this process ran all k micro-batches: the tree's sum into m's gradients. */
void mgpt_microbatch_finish_local(mgpt_microbatch *mb, mgpt_model *m);
/* The step's mean loss: loss_sum[0..k-1] (all filled) added in index order, over
 * n_targets (0 when there is none). */
float mgpt_microbatch_loss(const mgpt_microbatch *mb);

#ifdef __cplusplus
}
#endif
#endif

/* Gradient accumulation over micro-batches, summed in the fixed tree (microbatch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/microbatch.h"

int mgpt_microbatch_plan(mgpt_microbatch *mb, const mgpt_model *m, int k, int lo, int hi,
                         char *err, size_t errlen)
{
    memset(mb, 0, sizeof *mb);
    mb->k = k;
    mb->lo = lo;
    mb->hi = hi;
    mb->floats = m->num_floats;
    int cap = mgpt_tree_cover_cap(k);
    mb->leaves = malloc((size_t)(hi - lo) * mb->floats * sizeof *mb->leaves);
    mb->nodes = malloc((size_t)cap * sizeof *mb->nodes);
    mb->leaf_nodes = malloc((size_t)(hi - lo) * sizeof *mb->leaf_nodes);
    mb->loss_sum = calloc((size_t)k, sizeof *mb->loss_sum);
    mb->targets = calloc((size_t)k, sizeof *mb->targets);
    if (!mb->leaves || !mb->nodes || !mb->leaf_nodes || !mb->loss_sum || !mb->targets) {
        snprintf(err, errlen, "out of memory for %d micro-batch gradient buffers of %zu "
                 "floats (%.1f MiB)", hi - lo, mb->floats,
                 (double)(hi - lo) * (double)mb->floats * 4.0 / (1024.0 * 1024.0));
        mgpt_microbatch_free(mb);
        return -1;
    }
    /* touched now, so that the first step does not pay the page faults */
    memset(mb->leaves, 0, (size_t)(hi - lo) * mb->floats * sizeof *mb->leaves);
    mb->n_nodes = mgpt_tree_cover(k, lo, hi, mb->nodes, cap);
    for (int i = lo; i < hi; i++)
        mb->leaf_nodes[i - lo] = (mgpt_tree_node){i, i + 1,
                                                  mb->leaves + (size_t)(i - lo) * mb->floats};
    for (int i = 0; i < mb->n_nodes; i++)
        mb->nodes[i].sum = mb->leaves + (size_t)(mb->nodes[i].lo - lo) * mb->floats;
    return 0;
}

void mgpt_microbatch_free(mgpt_microbatch *mb)
{
    free(mb->leaves);
    free(mb->nodes);
    free(mb->leaf_nodes);
    free(mb->loss_sum);
    free(mb->targets);
    memset(mb, 0, sizeof *mb);
}

void mgpt_microbatch_run(mgpt_microbatch *mb, mgpt_model *m, const int *tokens,
                         const int *targets)
{
    size_t per = (size_t)m->N;
    int total = 0;
    for (size_t n = 0; n < (size_t)mb->k * per; n++)
        total += targets[n] >= 0;
    mb->n_targets = total;

    /* the leaves: one micro-batch each, into its own buffer */
    for (int i = mb->lo; i < mb->hi; i++) {
        memcpy(m->tokens, tokens + (size_t)i * per, per * sizeof *m->tokens);
        memcpy(m->targets, targets + (size_t)i * per, per * sizeof *m->targets);
        mgpt_graph_forward(&m->graph, &m->compute);
        double sum = 0.0;
        for (size_t n = 0; n < per; n++)
            if (m->targets[n] >= 0)
                sum += m->losses->data[n];
        mb->loss_sum[i] = sum;
        mb->targets[i] = m->graph.n_targets;
        /* backward of (this micro-batch's losses) / (the step's targets): the gradient of
         * the step's mean loss restricted to these rows, as one big batch computes it */
        m->graph.n_targets = total;
        mgpt_model_backward(m);
        memcpy(mb->leaves + (size_t)(i - mb->lo) * mb->floats, m->grad_mem,
               mb->floats * sizeof *m->grad_mem);
    }
    /* each maximal node from its leaves, in the tree (its sum lands in its first leaf) */
    for (int j = 0; j < mb->n_nodes; j++) {
        const mgpt_tree_node *nd = &mb->nodes[j];
        mgpt_tree_reduce(nd->lo, nd->hi, mb->leaf_nodes + (nd->lo - mb->lo), nd->hi - nd->lo,
                         mb->floats);
    }
}

void mgpt_microbatch_finish_local(mgpt_microbatch *mb, mgpt_model *m)
{
    const float *sum = mgpt_tree_reduce(0, mb->k, mb->nodes, mb->n_nodes, mb->floats);
    memcpy(m->grad_mem, sum, mb->floats * sizeof *m->grad_mem);
}

float mgpt_microbatch_loss(const mgpt_microbatch *mb)
{
    if (mb->n_targets == 0)
        return 0.0f;
    double sum = 0.0;
    for (int i = 0; i < mb->k; i++)
        sum += mb->loss_sum[i];
    return (float)(sum / mb->n_targets);
}

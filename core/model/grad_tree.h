/* The fixed summation tree over K micro-batch gradients. A step's gradient is the sum of
 * its micro-batches' gradients, always added in this one tree, whoever computed which
 * micro-batch: so the sum is bitwise the same on one process or on many.
 *
 * The tree over [0, K): a node [lo, hi) of more than one index splits at lo + h, h the
 * largest power of two below hi - lo (so [0, 6) is [0, 4) + [4, 6)). A contiguous range
 * of indices is covered by the maximal nodes inside it; a process that owns a range sums
 * each of those nodes and hands them on, and the nodes of every range together rebuild
 * the whole tree. */
#ifndef MGPT_GRAD_TREE_H
#define MGPT_GRAD_TREE_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A node of the tree, [lo, hi), and a buffer of its sum (or NULL while not yet known). */
typedef struct mgpt_tree_node {
    int lo, hi;
    float *sum;
} mgpt_tree_node;

/* Where node [lo, hi) (hi - lo >= 2) splits. */
int mgpt_tree_split(int lo, int hi);
/* The maximal nodes of the tree over [0, k) inside [lo, hi), left to right, into
 * out[0..]: their count (at most cap are written; 2 log2(k) + 2 always suffice). */
int mgpt_tree_cover(int k, int lo, int hi, mgpt_tree_node *out, int cap);
/* The sum of node [lo, hi) from nodes[0..n-1], a cover of [lo, hi) by tree nodes in
 * order (each with its sum): the right child is added into the left, recursively, so the
 * sum lands in the buffer of the node that starts at lo (returned). Buffers of n floats.
 * NULL if nodes do not cover [lo, hi) with nodes of the tree. */
float *mgpt_tree_reduce(int lo, int hi, const mgpt_tree_node *nodes, int n, size_t floats);
/* How many nodes mgpt_tree_cover may return for a tree of k leaves. */
int mgpt_tree_cover_cap(int k);

#ifdef __cplusplus
}
#endif
#endif

/* The fixed summation tree over micro-batch indices (grad_tree.h). */
#include "model/grad_tree.h"

int mgpt_tree_split(int lo, int hi)
{
    int h = 1;
    while (2 * h < hi - lo)
        h *= 2;
    return lo + h;
}

/* The maximal nodes under node [nlo, nhi) inside [lo, hi). */
static int cover(int nlo, int nhi, int lo, int hi, mgpt_tree_node *out, int n, int cap)
{
    if (nhi <= lo || nlo >= hi)
        return n;
    if (lo <= nlo && nhi <= hi) {
        if (n < cap)
            out[n] = (mgpt_tree_node){nlo, nhi, 0};
        return n + 1;
    }
    int mid = mgpt_tree_split(nlo, nhi);
    n = cover(nlo, mid, lo, hi, out, n, cap);
    return cover(mid, nhi, lo, hi, out, n, cap);
}

int mgpt_tree_cover(int k, int lo, int hi, mgpt_tree_node *out, int cap)
{
    if (k <= 0 || lo >= hi)
        return 0;
    return cover(0, k, lo, hi, out, 0, cap);
}

int mgpt_tree_cover_cap(int k)
{
    int levels = 1;
    for (int h = 1; h < k; h *= 2)
        levels++;
    return 2 * levels;
}

float *mgpt_tree_reduce(int lo, int hi, const mgpt_tree_node *nodes, int n, size_t floats)
{
    for (int i = 0; i < n; i++)
        if (nodes[i].lo == lo && nodes[i].hi == hi)
            return nodes[i].sum;
    if (hi - lo < 2)
        return 0;
    int mid = mgpt_tree_split(lo, hi);
    float *a = mgpt_tree_reduce(lo, mid, nodes, n, floats);
    float *b = mgpt_tree_reduce(mid, hi, nodes, n, floats);
    if (!a || !b)
        return 0;
    for (size_t i = 0; i < floats; i++)
        a[i] += b[i];
    return a;
}

/* A kernel against the ceilings: its arithmetic intensity, the memory level its working set
 * streams from (caches warm), and the roof over it: min(compute peak, AI x bandwidth of that
 * level). A kernel under the sloped part is memory-bound, under the flat part compute-bound;
 * its percentage is of that roof. A kernel without FLOPs (zero) has AI 0, under no FLOP
 * roof: its percentage is of the level's bandwidth. The ceilings are the backend's own, on
 * one thread. */
#include "roofline.h"

int roof_level_for(const mgpt_topology *t, double bytes)
{
    if (t->l1d && bytes <= (double)t->l1d)
        return ROOF_L1;
    if (t->l2 && bytes <= (double)t->l2)
        return ROOF_L2;
    if (t->l3 && bytes <= (double)t->l3)
        return ROOF_L3;
    return ROOF_DRAM;
}

void roof_place(roof_kernel *k, const mgpt_topology *t, double peak_gflops,
                const double bw_gbs[ROOF_LEVELS])
{
    k->ai = k->bytes > 0 ? k->flops / k->bytes : 0;
    k->gflops = k->seconds > 0 ? k->flops / k->seconds * 1e-9 : 0;
    k->gbs = k->seconds > 0 ? k->bytes / k->seconds * 1e-9 : 0;
    k->level = roof_level_for(t, k->max_call_bytes);
    /* a level that was not measured: the next one out that was */
    int l = k->level;
    while (l < ROOF_DRAM && !(bw_gbs[l] > 0))
        l++;
    double bw = bw_gbs[l] > 0 ? bw_gbs[l] : 0;
    k->level = l;
    k->ceiling_gbs = bw;
    double mem_roof = k->ai * bw;
    if (!(peak_gflops > 0) || !(bw > 0)) {
        k->compute_bound = 0;
        k->ceiling_gflops = 0;
        k->percent = 0;
        return;
    }
    if (k->flops == 0) {
        k->compute_bound = 0;
        k->ceiling_gflops = 0;
        k->percent = 100.0 * k->gbs / bw;
        return;
    }
    k->compute_bound = peak_gflops <= mem_roof;
    k->ceiling_gflops = k->compute_bound ? peak_gflops : mem_roof;
    k->percent = k->ceiling_gflops > 0 ? 100.0 * k->gflops / k->ceiling_gflops : 0;
}

/* A kernel against the ceilings: its arithmetic intensity, the bandwidth its working set gets
 * on the measured curves, and the roof over it: min(compute peak, AI x that bandwidth). The
 * working set is the bytes its largest call touches (its footprint), which says which level
 * serves it; its traffic (the bytes it moves, re-reads included) over its time is the
 * bandwidth it achieves, as the streams' bytes moved over theirs. Placed by traffic, a kernel
 * that re-reads a small array (embed_backward's gradient rows) would be held to a slower,
 * larger level's ceiling and land above it. A kernel under the sloped part is memory-bound,
 * under the flat part compute-bound; its percentage is of that roof. A kernel without FLOPs
 * (zero) has AI 0, under no FLOP roof: its percentage is of the bandwidth. The ceilings are
 * the backend's one-thread ones for a kernel that ran on one thread (a call below the engine's
 * split size stays on the calling thread, even with --threads), its all-cores ones for a
 * kernel the engine split over more (roof_ceiling_threads). */
#include "roofline.h"

const char *const roof_stream_names[ROOF_STREAMS] = {"read", "read+write", "write",
                                                         "2 reads+write", "3 reads+2 writes"};

void roof_place(roof_kernel *k, double peak_gflops, const roof_stream streams[ROOF_STREAMS],
                int threads)
{
    if (threads < 1)
        threads = 1;
    k->threads = threads;
    k->ai = k->bytes > 0 ? k->flops / k->bytes : 0;
    k->gflops = k->seconds > 0 ? k->flops / k->seconds * 1e-9 : 0;
    k->gbs = k->seconds > 0 ? k->bytes / k->seconds * 1e-9 : 0;
    double per_thread = (k->footprint > 0 ? k->footprint : k->max_call_bytes) / threads;
    double bw = 0, spread = 0;
    k->level = ROOF_DRAM;
    k->stream = ROOF_READ;
    /* a kernel that only stores: the store stream's plateaus, when there are any */
    int only = k->writes_only && streams[ROOF_WRITE].n_plateaus > 0 ? ROOF_WRITE : -1;
    for (int s = 0; s < ROOF_STREAMS; s++) {
        const roof_stream *st = &streams[s];
        if (only >= 0 && s != only)
            continue;
        int i = roof_plateau_for(st->plateau, st->n_plateaus, per_thread);
        if (i < 0)
            continue;
        /* a plateau past it that is faster (a curve that rises with size: per-call
         * overhead at the smallest sizes, as memset's) bounds it too: a ceiling is an upper
         * bound, and a small working set can move bytes at least as fast as a larger one */
        int f = i;
        for (int j = i + 1; j < st->n_plateaus; j++)
            if (st->plateau[j].gbs > st->plateau[f].gbs)
                f = j;
        if (!(st->plateau[f].gbs > bw))
            continue;
        int level[ROOF_PLATEAUS_MAX];
        roof_plateau_levels(st->n_plateaus, level);
        bw = st->plateau[f].gbs;
        spread = st->plateau[f].spread;
        k->level = level[i];
        k->stream = s;
    }
    k->ceiling_gbs = bw;
    k->noise = spread + (k->seconds > 0 ? (k->seconds_max - k->seconds_min) / k->seconds : 0);
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

int roof_ceiling_threads(const roof_ceilings *c, int kernel_threads)
{
    return kernel_threads > 1 && c->n_thread_sets > 1 ? c->peak[1].threads : 1;
}

/* Working-set sizes per memory level from hwloc's cache sizes (the OS's view, reported
 * beside the measured plateaus), and the size the bandwidth curve runs to: well past the
 * last cache. Sizes are rounded down to 4 KiB per thread. */
#include <math.h>
#include <stdio.h>
#include "roofline.h"

const char *const roof_level_names[ROOF_LEVELS] = {"L1", "L2", "L3", "DRAM"};

#define GIB ((size_t)1 << 30)

static size_t round_4k(double bytes)
{
    size_t b = (size_t)bytes / 4096 * 4096;
    return b < 4096 ? 4096 : b;
}

/* The part of one cache level a thread gets when `threads` threads run on separate cores:
 * one instance each while there are enough instances, else a share. */
static double share(size_t size, int count, int threads)
{
    if (count < 1)
        count = 1;
    return (double)size * (count < threads ? count : threads) / threads;
}

void roof_worksets_plan(const roof_machine *m, int threads, size_t dram_bytes,
                        const char *dram_source, roof_worksets *w)
{
    const mgpt_topology *t = &m->topo;
    if (threads < 1)
        threads = 1;
    size_t l1 = m->topo_ok ? t->l1d : 0, l2 = m->topo_ok ? t->l2 : 0, l3 = m->topo_ok ? t->l3 : 0;
    double s1 = share(l1, t->l1d_count, threads), s2 = share(l2, t->l2_count, threads),
           s3 = share(l3, t->l3_count, threads);

    w->present[ROOF_L1] = l1 > 0;
    w->total[ROOF_L1] = round_4k(s1 / 2) * threads;
    w->present[ROOF_L2] = l2 > 0;
    w->total[ROOF_L2] = round_4k(s2 / 2) * threads;
    w->present[ROOF_L3] = l3 > 0;
    double ws3 = sqrt((double)l2 * s3);
    if (ws3 < 4.0 * l2)
        ws3 = 4.0 * l2;
    if (ws3 > s3 / 2)
        ws3 = s3 / 2;
    w->total[ROOF_L3] = round_4k(ws3) * threads;

    /* DRAM: several times the last cache in all, and at least 1 GiB */
    size_t last = l3 ? l3 * (size_t)(t->l3_count > 0 ? t->l3_count : 1)
                     : l2 * (size_t)(t->l2_count > 0 ? t->l2_count : 1);
    size_t want;
    char why[100];
    if (dram_bytes) {
        want = dram_bytes;
        snprintf(why, sizeof why, "set by %s", dram_source ? dram_source : "the caller");
    } else if (last && 4 * last > GIB) {
        want = 4 * last;
        snprintf(why, sizeof why, "4 x %s", l3 ? "L3" : "L2");
    } else {
        want = GIB;
        snprintf(why, sizeof why, "1 GiB, more than 4 x %s", l3 ? "L3" : "the last cache");
    }
    if (m->mem_available && want > m->mem_available / 2) {
        want = m->mem_available / 2;
        snprintf(why, sizeof why, "half the available memory");
    }
    w->present[ROOF_DRAM] = 1;
    w->total[ROOF_DRAM] = round_4k((double)want / threads) * threads;
    double times = last ? (double)w->total[ROOF_DRAM] / (double)last : 0;
    if (last)
        snprintf(w->dram_note, sizeof w->dram_note, "%s: %.1fx the %s%s", why, times,
                 l3 ? "L3" : "last cache",
                 times < 4 ? " (part of it may still be served from cache)" : "");
    else
        snprintf(w->dram_note, sizeof w->dram_note, "%s (cache sizes unknown)", why);
}

/* What the reports say of a backend's kernels and threads: how many ran on how many
 * threads, and which ceilings (one thread's or all cores') they are placed against. The
 * engine splits only calls above their split size, so with --threads some kernels of a
 * backend run on every thread and others on the calling thread alone; one line per
 * backend (and config) says which, in the table, the JSON and the chart alike. */
#include <string.h>
#include "roofline.h"

int roof_thread_groups(const roof_backend_result *b, const char *config, roof_thread_group *g,
                       int max)
{
    int n = 0;
    for (int i = 0; i < b->n_kernels; i++) {
        const roof_kernel *k = &b->kernels[i];
        if (config && strcmp(k->config, config) != 0)
            continue;
        int j = 0;
        while (j < n && (g[j].threads != k->threads || g[j].ceiling_threads != k->ceiling_threads))
            j++;
        if (j == n) {
            if (n == max)
                continue;
            g[n].threads = k->threads;
            g[n].ceiling_threads = k->ceiling_threads;
            g[n].kernels = 0;
            n++;
        }
        g[j].kernels++;
    }
    /* most threads first */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && g[j].threads > g[j - 1].threads; j--) {
            roof_thread_group t = g[j];
            g[j] = g[j - 1];
            g[j - 1] = t;
        }
    return n;
}

void roof_threads_note(const roof_backend_result *b, const char *config, char *buf, size_t len)
{
    roof_thread_group g[8];
    int n = roof_thread_groups(b, config, g, 8);
    size_t used = 0;
    int w = snprintf(buf, len, "engine of %d thread%s", b->kernel_threads,
                     b->kernel_threads == 1 ? "" : "s");
    if (w < 0 || (size_t)w >= len)
        return;
    used = (size_t)w;
    for (int i = 0; i < n; i++) {
        w = snprintf(buf + used, len - used, "%s %d kernel%s on %d thread%s against the "
                     "%d-thread ceilings", i ? ";" : ":", g[i].kernels,
                     g[i].kernels == 1 ? "" : "s", g[i].threads, g[i].threads == 1 ? "" : "s",
                     g[i].ceiling_threads);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

/* The two backends the measurement tools compare (measure.h). */
#include <stdio.h>
#include "measure.h"
#include "topology.h"

const char *measure_open(const char *tool, int *threads, mgpt_registry *reg, mgpt_backend *one,
                         mgpt_backend *par)
{
    char err[1200];
    mgpt_topology topo;
    if (mgpt_topology_read(&topo, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", tool, err);
        return NULL;
    }
    if (*threads <= 0)
        *threads = topo.cores > 0 ? topo.cores : 1;
    int pu[1024], n_pu = mgpt_thread_binding(&topo, *threads, pu, 1024);   /* read at init */

    if (mgpt_registry_load(reg, NULL, stderr, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", tool, err);
        return NULL;
    }
    const char *isa = NULL;
    for (const char *const *c = (const char *const[]){"avx512", "avx2", "sse", NULL}; *c; c++) {
        const mgpt_backend_entry *e = mgpt_registry_find(reg, *c);
        if (e && e->status == MGPT_BE_RUNNABLE) {
            isa = *c;
            break;
        }
    }
    mgpt_backend_env env1 = {MGPT_BACKEND_ABI_VERSION, 1, pu, n_pu > 0 ? 1 : 0,
                             reg->cpu_features};
    mgpt_backend_env envt = {MGPT_BACKEND_ABI_VERSION, *threads, pu, n_pu, reg->cpu_features};
    if (!isa) {
        fprintf(stderr, "%s: no SIMD backend runs here\n", tool);
        mgpt_registry_free(reg);
        return NULL;
    }
    if (mgpt_backend_open(reg, isa, &env1, one, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", tool, err);
        mgpt_registry_free(reg);
        return NULL;
    }
    if (mgpt_backend_open(reg, "openmp", &envt, par, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", tool, err);
        mgpt_backend_close(one);
        mgpt_registry_free(reg);
        return NULL;
    }
    return isa;
}

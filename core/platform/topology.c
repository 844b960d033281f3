/* Cores, hardware threads and caches from hwloc, limited to the CPUs we may run on. */
#include <stdio.h>
#include <string.h>
#include <hwloc.h>
#include "platform/topology.h"

static void cache_info(hwloc_topology_t topo, hwloc_obj_type_t type, size_t *size, int *count)
{
    int n = hwloc_get_nbobjs_by_type(topo, type);
    *count = n > 0 ? n : 0;
    *size = 0;
    if (n > 0) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, 0);
        if (o && o->attr)
            *size = (size_t)o->attr->cache.size;
    }
}

int mgpt_topology_read(mgpt_topology *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
        snprintf(err, errlen, "hwloc could not read the machine topology");
        return -1;
    }
    /* hwloc 2 keeps disallowed CPUs (cgroups) out of the topology by default (no
     * WHOLE_SYSTEM flag); an affinity mask (taskset, numactl, a batch scheduler's binding)
     * is not in that set, so restrict to it too: its cores are the ones we may use. */
    hwloc_bitmap_t bound = hwloc_bitmap_alloc();
    if (bound && hwloc_get_cpubind(topo, bound, HWLOC_CPUBIND_PROCESS) == 0) {
        hwloc_bitmap_and(bound, bound, hwloc_topology_get_topology_cpuset(topo));
        if (!hwloc_bitmap_iszero(bound) &&
            !hwloc_bitmap_isincluded(hwloc_topology_get_topology_cpuset(topo), bound))
            hwloc_topology_restrict(topo, bound, 0);  /* on failure: the whole topology */
    }
    hwloc_bitmap_free(bound);
    t->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    t->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    t->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    cache_info(topo, HWLOC_OBJ_L1CACHE, &t->l1d, &t->l1d_count);
    cache_info(topo, HWLOC_OBJ_L2CACHE, &t->l2, &t->l2_count);
    cache_info(topo, HWLOC_OBJ_L3CACHE, &t->l3, &t->l3_count);
    int ncore = t->cores > 0 ? t->cores : t->pus;
    hwloc_obj_type_t per = t->cores > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
    for (int i = 0; i < ncore && t->n_core_pu < (int)(sizeof t->core_pu / sizeof t->core_pu[0]); i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, per, (unsigned)i);
        if (!o || !o->cpuset)
            continue;
        int pu = hwloc_bitmap_first(o->cpuset);
        if (pu >= 0)
            t->core_pu[t->n_core_pu++] = pu;
    }
    hwloc_topology_destroy(topo);
    return 0;
}

int mgpt_thread_binding(const mgpt_topology *t, int threads, int *pu, int max)
{
    if (threads < 1 || threads > t->n_core_pu || threads > max)
        return 0;
    for (int i = 0; i < threads; i++)
        pu[i] = t->core_pu[i];
    return threads;
}

int mgpt_bind_thread_to_pu(int pu)
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0)
        return -1;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    hwloc_bitmap_only(set, (unsigned)pu);
    int rc = hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(topo);
    return rc;
}

/* The logical indices of the cores that hold a PU of set ("0-1"), and how many. */
static int cores_of(hwloc_topology_t topo, hwloc_const_bitmap_t set, char *buf, size_t len)
{
    hwloc_bitmap_t cores = hwloc_bitmap_alloc();
    if (!cores)
        return -1;
    int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)i);
        if (o && o->cpuset && hwloc_bitmap_intersects(o->cpuset, set))
            hwloc_bitmap_set(cores, (unsigned)i);
    }
    int count = hwloc_bitmap_weight(cores);
    hwloc_bitmap_list_snprintf(buf, len, cores);
    hwloc_bitmap_free(cores);
    return count;
}

int mgpt_process_binding(char *buf, size_t len, char *err, size_t errlen)
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
        snprintf(err, errlen, "hwloc could not read the machine topology");
        return -1;
    }
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    int rc = -1;
    if (!set)
        snprintf(err, errlen, "out of memory");
    else if (hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0)
        snprintf(err, errlen, "hwloc could not read this process's CPU binding");
    else {
        char pus[256], cores[256];
        int whole = hwloc_bitmap_isincluded(hwloc_topology_get_topology_cpuset(topo), set);
        int n_pu = hwloc_bitmap_weight(set);
        hwloc_bitmap_list_snprintf(pus, sizeof pus, set);
        int n_core = cores_of(topo, set, cores, sizeof cores);
        if (n_core > 0)
            snprintf(buf, len, "%score%s %s (PU%s %s)", whole ? "not bound: " : "",
                     n_core == 1 ? "" : "s", cores, n_pu == 1 ? "" : "s", pus);
        else /* hwloc found no cores: PUs alone */
            snprintf(buf, len, "%sPU%s %s", whole ? "not bound: " : "", n_pu == 1 ? "" : "s",
                     pus);
        rc = 0;
    }
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(topo);
    return rc;
}

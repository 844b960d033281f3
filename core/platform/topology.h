/* Machine topology from hwloc: packages, cores, PUs, caches; thread binding. */
#ifndef MGPT_TOPOLOGY_H
#define MGPT_TOPOLOGY_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_topology {
    int packages, cores, pus;      /* physical cores, hardware threads */
    size_t l1d, l2, l3;            /* bytes per cache instance (0 if absent) */
    int l1d_count, l2_count, l3_count;
    int core_pu[1024];             /* first allowed PU (OS index) of each core, for binding */
    int n_core_pu;
} mgpt_topology;

/* 0 on success, -1 with err set. Counts only the CPUs the process may run on: the allowed
 * set (cgroups) and the affinity mask of its threads (taskset, numactl). */
int mgpt_topology_read(mgpt_topology *t, char *err, size_t errlen);
/* Where `threads` worker threads go: thread i on core i's first PU, pu[0..threads-1].
 * Returns threads, or 0 (no binding: the OS places them) when there are more threads than
 * cores or than max. */
int mgpt_thread_binding(const mgpt_topology *t, int threads, int *pu, int max);
/* Binds the calling thread to OS processor pu; 0 on success. */
int mgpt_bind_thread_to_pu(int pu);
/* What this process is bound to (hwloc_get_cpubind of the whole process, as mpirun
 * --bind-to or taskset left it), as text: "core 1 (PU 1)", "cores 0-1 (PUs 0-3)", or with
 * "not bound: " before it when that is every CPU of the machine. 0, or -1 with err set. */
int mgpt_process_binding(char *buf, size_t len, char *err, size_t errlen);
#ifdef __cplusplus
}
#endif
#endif

/* Opening an engine: topology, registry, backend instance, team, in that order; each
 * failure closes what was opened and says why. */
#include <stdlib.h>
#include <string.h>
#include "engine/engine.h"
#include "platform/topology.h"

int mgpt_engine_binding(const mgpt_topology *t, int threads, int *pu, int max)
{
    if (threads <= 1 || mgpt_thread_placement_variable())
        return 0;
    return mgpt_thread_binding(t, threads, pu, max);
}

int mgpt_engine_open(mgpt_engine *e, const mgpt_engine_opts *o, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    mgpt_split_mode split;
    if (mgpt_split_mode_from_env(&split, err, errlen) != 0)
        return MGPT_ENGINE_USAGE;
    if (o->threads < 0 || o->threads > MGPT_MAX_THREADS) {
        snprintf(err, errlen, "%d threads is out of range (1 to %d)", o->threads,
                 MGPT_MAX_THREADS);
        return MGPT_ENGINE_USAGE;
    }
    if (o->threads > 1 && !mgpt_threads_available()) {
        snprintf(err, errlen, "%d threads asked for, but this mgpt was built without OpenMP "
                 "and runs on one thread", o->threads);
        return MGPT_ENGINE_USAGE;
    }

    /* one thread per core by default, thread i on core i's first PU; more threads than
     * cores are left to the OS scheduler, and placement to the OpenMP runtime when the user
     * asked it to place them. One thread is not bound: binding the calling thread would
     * narrow the process' mask, and an engine opened after it (of two threads, say) would
     * count one core and start its second thread on the first one's. */
    mgpt_topology topo;
    char why[512];
    int have_topo = mgpt_topology_read(&topo, why, sizeof why) == 0;
    int cores = have_topo ? (topo.cores > 0 ? topo.cores : topo.pus) : 1;
    e->threads = o->threads > 0 ? o->threads : (cores > 0 ? cores : 1);
    if (!mgpt_threads_available())
        e->threads = 1;
    if (e->threads > MGPT_MAX_THREADS)
        e->threads = MGPT_MAX_THREADS;
    e->placed_by = mgpt_thread_placement_variable();
    if (have_topo)
        e->n_binding = mgpt_engine_binding(&topo, e->threads, e->binding, MGPT_MAX_THREADS);

    if (mgpt_registry_load(&e->reg, o->plugin_path, o->warn, err, errlen) < 0)
        return MGPT_ENGINE_USAGE; /* MGPT_CPU_DISABLE names an unknown feature */
    e->reg_loaded = 1;

    const char *env_backend = getenv("MGPT_BACKEND");
    e->why = o->backend && *o->backend ? "forced"
           : env_backend && *env_backend ? "forced by MGPT_BACKEND"
           : "the highest-priority runnable backend";
    mgpt_backend_env env = {
        .abi_major = MGPT_BACKEND_ABI_MAJOR,
        .abi_minor = MGPT_BACKEND_ABI_MINOR,
        .num_threads = e->threads,
        .cpu_features = e->reg.cpu_features,
    };
    int rc = mgpt_backend_open(&e->reg, o->backend, &env, &e->be, err, errlen);
    if (rc != 0) {
        const char *forced = o->backend && *o->backend ? o->backend : env_backend;
        const mgpt_backend_entry *f = forced ? mgpt_registry_find(&e->reg, forced) : NULL;
        e->not_runnable = f && f->status == MGPT_BE_NOT_RUNNABLE;
        mgpt_engine_close(e);
        return rc == 2 ? MGPT_ENGINE_USAGE : MGPT_ENGINE_FAIL;
    }
    e->be_open = 1;

    if (mgpt_team_init(&e->team, &e->be, e->threads, split, e->n_binding ? e->binding : NULL,
                       e->n_binding, err, errlen) != 0) {
        mgpt_engine_close(e);
        return MGPT_ENGINE_FAIL;
    }
    e->team_open = 1;
    e->compute = mgpt_team_compute(&e->team);
    return MGPT_ENGINE_OK;
}

void mgpt_engine_close(mgpt_engine *e)
{
    if (e->team_open)
        mgpt_team_free(&e->team);
    if (e->be_open)
        mgpt_backend_close(&e->be);
    if (e->reg_loaded)
        mgpt_registry_free(&e->reg);
    e->team_open = e->be_open = e->reg_loaded = 0;
}

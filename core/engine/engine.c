/* Opening an engine: topology, registry, backend instance, team, in that order; each
 * failure closes what was opened and says why. */
#include <stdlib.h>
#include <string.h>
#include "engine/engine.h"
#include "platform/cpu.h"
#include "platform/topology.h"

int mgpt_engine_binding(const mgpt_topology *t, int threads, int *pu, int max)
{
    if (threads <= 1 || mgpt_thread_placement_variable())
        return 0;
    return mgpt_thread_binding(t, threads, pu, max);
}

/* A precision class other than fp32: the best runnable backend of that class, by name; a
 * forced backend (--backend, MGPT_BACKEND) must be of the class asked for. 0, or -1 with
 * err (the caller's exit status 2: no such backend can run here). */
static int choose_precision(mgpt_engine *e, const mgpt_engine_opts *o, const char **backend,
                            char *err, size_t errlen)
{
    if (!o->precision)
        return 0;
    int p = mgpt_precision_parse(o->precision);
    if (p < 0) {
        snprintf(err, errlen, "'%s' is not a precision class (accepted: fp32, bf16)",
                 o->precision);
        return -1;
    }
    uint32_t precision = (uint32_t)p;
    const char *pname = o->precision;
    const char *env_backend = getenv("MGPT_BACKEND");
    const char *forced = o->backend && *o->backend ? o->backend
                         : env_backend && *env_backend ? env_backend : NULL;
    if (forced) {
        const mgpt_backend_entry *f = mgpt_registry_find(&e->reg, forced);
        if (f && f->desc->precision != precision) {
            snprintf(err, errlen, "backend '%s' computes in %s, not %s (drop --precision or "
                     "choose a %s backend; see 'mgpt backends')", forced,
                     mgpt_precision_name(f->desc->precision), pname, pname);
            return -1;
        }
        return 0;  /* an unknown or unrunnable name: mgpt_backend_open says why */
    }
    if (precision == MGPT_PRECISION_FP32)
        return 0;
    const mgpt_backend_entry *b = mgpt_registry_best_of(&e->reg, precision);
    if (!b) {
        /* why not: the backends of the class this CPU cannot run, with what they need */
        size_t used = (size_t)snprintf(err, errlen, "no %s backend can run on this CPU", pname);
        const char *sep = ": ";
        for (int i = 0; i < e->reg.n && used < errlen; i++) {
            const mgpt_backend_entry *c = &e->reg.entries[i];
            if (!c->desc || c->desc->precision != precision)
                continue;
            char need[256];
            mgpt_cpu_feature_names(c->missing, need, sizeof need);
            used += (size_t)snprintf(err + used, errlen - used, "%s%s needs %s%s", sep, c->name,
                                     need, (c->missing & e->reg.cpu_masked)
                                               ? " (masked by MGPT_CPU_DISABLE)" : "");
            sep = "; ";
        }
        if (*sep == ':' && used < errlen)
            snprintf(err + used, errlen - used, " (no %s backend module found in %s)", pname,
                     e->reg.searched);
        return -1;
    }
    *backend = b->name;
    e->why = precision == MGPT_PRECISION_BF16
                 ? "the highest-priority runnable bf16 backend (--precision=bf16)"
                 : "the highest-priority runnable backend of the precision asked for";
    return 0;
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
    const char *backend = o->backend;
    if (choose_precision(e, o, &backend, err, errlen) != 0) {
        mgpt_engine_close(e);
        return MGPT_ENGINE_USAGE;
    }
    mgpt_backend_env env = {
        .abi_major = MGPT_BACKEND_ABI_MAJOR,
        .abi_minor = MGPT_BACKEND_ABI_MINOR,
        .num_threads = e->threads,
        .cpu_features = e->reg.cpu_features,
    };
    int rc = mgpt_backend_open(&e->reg, backend, &env, &e->be, err, errlen);
    if (rc != 0) {
        const char *forced = backend && *backend ? backend : env_backend;
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

/* One call opens what every program computes with: the CPU and its topology, the backend
 * registry, the chosen backend (forced or the best this CPU runs), its instance, the team of
 * threads over it (one per physical core by default, bound to the cores' first PUs) and
 * denormals flushed (FTZ/DAZ). mgpt, mgpt-bench, mgpt-roofline and the tuning programs all
 * open their engines here; the messages and exit statuses are the same everywhere. */
#ifndef MGPT_ENGINE_H
#define MGPT_ENGINE_H
#include <stdio.h>
#include "engine/compute.h"
#include "engine/registry.h"
#include "engine/threads.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_engine_opts {
    const char *backend;      /* forced; NULL or "": MGPT_BACKEND, else the best runnable */
    const char *precision;    /* "fp32", "bf16": the class of the automatic choice, and a
                               * forced backend must be of it; NULL: fp32 automatically,
                               * a forced backend of any class */
    int threads;              /* 0: one per physical core the process may run on */
    const char *plugin_path;  /* NULL: MGPT_PLUGIN_PATH, then the system path */
    FILE *warn;               /* rejected modules are reported here; NULL: nowhere */
} mgpt_engine_opts;

typedef struct mgpt_engine {
    mgpt_registry reg;
    mgpt_backend be;
    mgpt_team team;
    mgpt_compute compute;      /* what a model runs with */
    int threads;
    int binding[MGPT_MAX_THREADS]; /* thread i on PU binding[i], i < n_binding */
    int n_binding;             /* 0: the OS (or the OpenMP runtime) places the threads */
    const char *placed_by;     /* mgpt_thread_placement_variable() at open */
    const char *why;           /* "forced by --backend", "forced by MGPT_BACKEND" or
                                * "the highest-priority runnable backend" */
    int reg_loaded, be_open, team_open;
    int not_runnable;          /* after a failed open: the forced backend exists, but this
                                * CPU (or MGPT_CPU_DISABLE) cannot run it */
} mgpt_engine;

/* Exit statuses a program maps the result to: 0 ok; MGPT_ENGINE_USAGE (2) for an unknown
 * backend name, one this CPU cannot run, a bad MGPT_CPU_DISABLE or MGPT_THREAD_SPLIT or
 * --threads; MGPT_ENGINE_FAIL (1) otherwise (no modules, init failed). err says why. */
enum { MGPT_ENGINE_OK = 0, MGPT_ENGINE_FAIL = 1, MGPT_ENGINE_USAGE = 2 };

struct mgpt_topology;
/* Where an engine of `threads` threads puts them on topology t: thread i on pu[i], i < the
 * count returned; 0 when it binds none (one thread; more threads than cores; or the user
 * asked the OpenMP runtime to place them, mgpt_thread_placement_variable()). What
 * mgpt_engine_open does, for `mgpt info` to say before opening one. */
int mgpt_engine_binding(const struct mgpt_topology *t, int threads, int *pu, int max);
int mgpt_engine_open(mgpt_engine *e, const mgpt_engine_opts *o, char *err, size_t errlen);
void mgpt_engine_close(mgpt_engine *e);
#ifdef __cplusplus
}
#endif
#endif

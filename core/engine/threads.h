/* The engine's threading layer: a team of threads that runs any backend's kernels, each
 * call split over disjoint parts of its output (the split column of mgpt/kernel_list.h),
 * one part per thread, so that every backend that follows the ABI gets threads.
 *
 * Determinism: a kernel computes each output element the same way whatever the part it
 * falls in (the ABI's rule), no reduction is divided between threads (sumsq's chunks depend
 * on the length alone), so results are the same bits on any number of threads and the
 * same as the backend alone on one. Small calls stay on the calling thread: each op splits
 * only from a measured size on (threads_split.c), a property of the shape alone. */
#ifndef MGPT_THREADS_H
#define MGPT_THREADS_H
#include <stddef.h>
#include "engine/compute.h"
#include "engine/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MGPT_MAX_THREADS 256

/* When an op runs on more than one thread (MGPT_THREAD_SPLIT). */
typedef enum {
    MGPT_SPLIT_AUTO,     /* ops at or above their measured size (threads_split.c) */
    MGPT_SPLIT_ALWAYS,   /* every op that has two or more parts (tests: tails of splits) */
    MGPT_SPLIT_NEVER     /* none (measuring the thresholds) */
} mgpt_split_mode;

typedef struct mgpt_team {
    const mgpt_kernels *k;            /* the backend's table (every slot filled) */
    mgpt_ctx ctx[MGPT_MAX_THREADS];   /* thread t calls k with ctx[t] = {instance, t} */
    mgpt_ctx self;                    /* {this team, 0}: the threaded table's context */
    int threads;
    mgpt_split_mode split;
    int tile_rows, tile_cols;         /* the backend's TILES granules (>= 1) */
    /* A dry run: the threaded kernels only note into max_parts how many parts each call
     * would have, and run nothing (mgpt_team_compute_for). */
    int dry_run, max_parts;
    int bound;                        /* init bound the threads: free gives their mask back */
} mgpt_team;

/* The split mode MGPT_THREAD_SPLIT asks for (auto, always, never; unset: auto). 0, or -1
 * with err naming the bad value. */
int mgpt_split_mode_from_env(mgpt_split_mode *mode, char *err, size_t errlen);

/* A team of `threads` over an open backend instance (initialised for at least that many
 * threads). Sets up the threads: the calling thread's MXCSR (FTZ/DAZ) in each, thread i
 * bound to pu[i] (i < n_pu; pu NULL: placement left alone), threads past n_pu on the
 * calling thread's mask. 0, or -1 with err. Without OpenMP in this build, threads > 1 is
 * an error. */
int mgpt_team_init(mgpt_team *t, const mgpt_backend *be, int threads, mgpt_split_mode split,
                   const int *pu, int n_pu, char *err, size_t errlen);
/* Gives the threads the calling thread's original affinity back, if init bound them (a
 * team that bound nothing leaves every mask as it is: the runtime's placement, or another
 * open team's binding). */
void mgpt_team_free(mgpt_team *t);

/* The threaded kernels (threads_split.c): each slot splits its call over t's threads and
 * runs the backend's kernel on each part. Their context is t->self. */
extern const mgpt_kernels mgpt_threaded_kernels;

/* The compute of a team: the threaded kernels, or the backend's own table when the team
 * has one thread. */
mgpt_compute mgpt_team_compute(mgpt_team *t);

/* The compute for one model: `run(arg)` makes, through the compute it is given, every call
 * of the model's step (a dry run: nothing executes, nothing is written); if none of them
 * would be split over the team's threads (every op of a small model is below its
 * threshold), the backend's own table on the calling thread, so that threads never cost
 * a layer of calls; else the threaded kernels. */
mgpt_compute mgpt_team_compute_for(mgpt_team *t, void (*run)(const mgpt_compute *c, void *arg),
                                   void *arg);

/* Whether this build runs teams of more than one thread (OpenMP). */
int mgpt_threads_available(void);
/* The variable by which the user asked the OpenMP runtime to place threads (OMP_PLACES,
 * OMP_PROC_BIND, GOMP_CPU_AFFINITY, KMP_AFFINITY), or NULL: then the engine binds. */
const char *mgpt_thread_placement_variable(void);
#ifdef __cplusplus
}
#endif
#endif

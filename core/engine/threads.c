/* The team of the threading layer: how many threads, where they run, and the same
 * floating-point control register in all of them.
 *
 * The threads are OpenMP's (GNU libgomp keeps team member i on the same pool thread from
 * one parallel region to the next, and its pool spins briefly between regions, which the
 * step's chain of small ops needs). Binding: the engine computes pu from hwloc (one thread
 * per physical core, the cores' first PUs, within the process' affinity: topology.c) and
 * the team binds its threads once, inside a parallel region of the team the kernels will
 * use. A user who set OMP_PLACES or OMP_PROC_BIND (or GOMP_CPU_AFFINITY, KMP_AFFINITY) has
 * asked the OpenMP runtime to place the threads: then it does, and the engine passes no
 * binding. Threads beyond the binding get the calling thread's mask; mgpt_team_free gives
 * every thread of a team that bound them that mask back. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>  /* _mm_getcsr, _mm_setcsr: SSE, in every x86-64 CPU */
#ifdef _OPENMP
#include <omp.h>
#endif
#include "engine/threads.h"

int mgpt_threads_available(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

const char *mgpt_thread_placement_variable(void)
{
    static const char *const vars[] = {"OMP_PLACES", "OMP_PROC_BIND", "GOMP_CPU_AFFINITY",
                                       "KMP_AFFINITY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return vars[i];
    }
    return NULL;
}

int mgpt_split_mode_from_env(mgpt_split_mode *mode, char *err, size_t errlen)
{
    const char *v = getenv("MGPT_THREAD_SPLIT");
    if (!v || !*v || strcmp(v, "auto") == 0)
        *mode = MGPT_SPLIT_AUTO;
    else if (strcmp(v, "always") == 0)
        *mode = MGPT_SPLIT_ALWAYS;
    else if (strcmp(v, "never") == 0)
        *mode = MGPT_SPLIT_NEVER;
    else {
        snprintf(err, errlen, "MGPT_THREAD_SPLIT='%s' is not a split mode (accepted: auto, "
                 "always, never)", v);
        return -1;
    }
    return 0;
}

#ifdef _OPENMP
/* Runs on every thread of a team of `threads`: MXCSR as in the calling thread (FTZ/DAZ,
 * rounding: a worker that did not flush denormals would compute other bits), then thread i
 * on pu[i] (i < n_pu), or on `fallback` (NULL: left alone). 0, or -1 with the first
 * failure described in err. */
static int setup_team(int threads, const int *pu, int n_pu, const cpu_set_t *fallback,
                      char *err, size_t errlen)
{
    unsigned csr = _mm_getcsr();
    int bad_thread = -1, bad_pu = -1, bad_errno = 0;
#pragma omp parallel num_threads(threads)
    {
        _mm_setcsr(csr);
        int t = omp_get_thread_num(), rc = 0, p = -1;
        if (pu && t < n_pu) {
            p = pu[t];
            if (p < 0 || p >= CPU_SETSIZE) {
                rc = -1;
                errno = EINVAL;
            } else {
                cpu_set_t one;
                CPU_ZERO(&one);
                CPU_SET(p, &one);
                rc = sched_setaffinity(0, sizeof one, &one);   /* 0: the calling thread */
            }
        } else if (fallback) {
            rc = sched_setaffinity(0, sizeof *fallback, fallback);
        }
        if (rc != 0) {
            int e = errno;
#pragma omp critical(mgpt_setup_team)
            if (bad_thread < 0 || t < bad_thread) {
                bad_thread = t;
                bad_pu = p;
                bad_errno = e;
            }
        }
    }
    if (bad_thread < 0)
        return 0;
    if (pu && bad_thread < n_pu && (bad_pu < 0 || bad_pu >= CPU_SETSIZE))
        snprintf(err, errlen, "processor index %d for thread %d is out of range (accepted: 0 "
                 "to %d)", bad_pu, bad_thread, CPU_SETSIZE - 1);
    else if (pu && bad_thread < n_pu)
        snprintf(err, errlen, "could not bind thread %d to processor %d: %s", bad_thread,
                 bad_pu, strerror(bad_errno));
    else
        snprintf(err, errlen, "could not restore the affinity of thread %d: %s", bad_thread,
                 strerror(bad_errno));
    return -1;
}
#endif

/* The calling thread's affinity before the first team bound it (restored by free). */
static cpu_set_t saved_mask;
static int have_saved_mask;

int mgpt_team_init(mgpt_team *t, const mgpt_backend *be, int threads, mgpt_split_mode split,
                   const int *pu, int n_pu, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (threads < 1 || threads > MGPT_MAX_THREADS) {
        snprintf(err, errlen, "%d threads is out of range (1 to %d)", threads, MGPT_MAX_THREADS);
        return -1;
    }
    if (threads > be->num_threads) {
        snprintf(err, errlen, "the backend instance was opened for %d thread%s, not %d",
                 be->num_threads, be->num_threads == 1 ? "" : "s", threads);
        return -1;
    }
    t->k = &be->k;
    t->threads = threads;
    t->split = split;
    t->self.instance = t;
    t->self.thread = 0;
    for (int i = 0; i < threads; i++) {
        t->ctx[i].instance = be->instance;
        t->ctx[i].thread = i;
    }
    const mgpt_backend_desc *d = be->entry->desc;
    t->tile_rows = d->tile_rows > 0 ? d->tile_rows : 1;
    t->tile_cols = d->tile_cols > 0 ? d->tile_cols : 1;
    if (threads == 1 && !pu)
        return 0;   /* the calling thread alone, as it is */
#ifdef _OPENMP
    if (!have_saved_mask && sched_getaffinity(0, sizeof saved_mask, &saved_mask) == 0)
        have_saved_mask = 1;
    if (setup_team(threads, pu, pu ? n_pu : 0, pu && have_saved_mask ? &saved_mask : NULL, err,
                   errlen) != 0) {
        char ignored[8];
        if (have_saved_mask)
            setup_team(threads, NULL, 0, &saved_mask, ignored, sizeof ignored);
        return -1;
    }
    t->bound = pu != NULL;
    return 0;
#else
    if (threads > 1) {
        snprintf(err, errlen, "this mgpt was built without OpenMP: it runs on one thread");
        return -1;
    }
    (void)n_pu;
    return 0;
#endif
}

void mgpt_team_free(mgpt_team *t)
{
#ifdef _OPENMP
    if (have_saved_mask && t->bound) {
        char ignored[8];
        setup_team(t->threads, NULL, 0, &saved_mask, ignored, sizeof ignored);
    }
#endif
    memset(t, 0, sizeof *t);
}

mgpt_compute mgpt_team_compute(mgpt_team *t)
{
    mgpt_compute c;
    if (t->threads <= 1) {
        c.k = t->k;
        c.ctx = &t->ctx[0];
        c.team = NULL;
    } else {
        c.k = &mgpt_threaded_kernels;
        c.ctx = &t->self;
        c.team = t;
    }
    return c;
}

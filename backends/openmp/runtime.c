/* The OpenMP backend's init and shutdown: which kernels to compose, how many threads, where
 * they run, and the same floating-point control register in all of them.
 *
 * Binding. The engine computes pu_binding from hwloc (one thread per physical core, the
 * cores' first PUs, within the process' affinity mask: core/topology.c); only the backend
 * owns its threads, so it binds them here, once, inside a parallel region of the team the
 * kernels will use (GNU libgomp keeps team member i on the same pool thread from one
 * region to the next). A user who set OMP_PLACES or OMP_PROC_BIND (or GOMP_CPU_AFFINITY,
 * KMP_AFFINITY) has asked the OpenMP runtime to place the threads: then it does, and this
 * file leaves affinity alone. Threads beyond the binding (more threads than cores) get the
 * calling thread's original mask back, and shutdown restores it in every thread. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <xmmintrin.h>  /* _mm_getcsr, _mm_setcsr: SSE, in every x86-64 CPU */
#include "openmp.h"

openmp_runtime openmp_rt = {&openmp_isa_sse, 0, OPENMP_SPLIT_AUTO, NULL};

/* Frees the team's GEMM workspaces. */
static void free_work(void)
{
    if (openmp_rt.work)
        for (int i = 0; i < openmp_rt.threads; i++)
            free(openmp_rt.work[i]);
    free(openmp_rt.work);
    openmp_rt.work = NULL;
}

/* One GEMM workspace per thread of the team, each allocated and first touched by its own
 * thread (already bound: its pages land on that core's memory node). 0, or -1 with err. */
static int alloc_work(const openmp_isa *isa, int threads, char *err, size_t errlen)
{
    size_t bytes = (isa->gemm_work_floats() * sizeof(float) + 63) / 64 * 64;
    float **work = calloc((size_t)threads, sizeof *work);
    int failed = work == NULL;
    if (work) {
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num();
            work[t] = aligned_alloc(64, bytes);
            if (work[t])
                memset(work[t], 0, bytes);
        }
        for (int t = 0; t < threads; t++)
            failed |= work[t] == NULL;
    }
    if (failed) {
        if (work)
            for (int t = 0; t < threads; t++)
                free(work[t]);
        free(work);
        snprintf(err, errlen, "out of memory for %d GEMM workspaces of %zu bytes", threads,
                 bytes);
        return -1;
    }
    openmp_rt.work = work;
    return 0;
}

/* The calling thread's affinity before init bound it (restored by shutdown). */
static cpu_set_t saved_mask;
static int have_saved_mask;

/* The variable by which the user asked the OpenMP runtime to bind threads, or NULL. */
static const char *user_binding_variable(void)
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

/* MGPT_OPENMP_SPLIT: auto (default), always, never. 0, or -1 with err set. */
static int parse_split(openmp_split_mode *mode, char *err, size_t errlen)
{
    const char *v = getenv("MGPT_OPENMP_SPLIT");
    if (!v || !*v || strcmp(v, "auto") == 0)
        *mode = OPENMP_SPLIT_AUTO;
    else if (strcmp(v, "always") == 0)
        *mode = OPENMP_SPLIT_ALWAYS;
    else if (strcmp(v, "never") == 0)
        *mode = OPENMP_SPLIT_NEVER;
    else {
        snprintf(err, errlen, "MGPT_OPENMP_SPLIT='%s' is not a split mode (accepted: auto, "
                 "always, never)", v);
        return -1;
    }
    return 0;
}

/* Runs on every thread of a team of `threads`: MXCSR as in the calling thread (FTZ/DAZ,
 * rounding: the engine sets them there, and a worker that did not flush denormals would
 * compute other bits), then thread i on pu[i] (i < n_pu), or on `fallback` (NULL: left
 * alone). 0, or -1 with the first failure described in err. */
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
#pragma omp critical(openmp_setup_team)
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
        snprintf(err, errlen, "processor index %d for OpenMP thread %d is out of range "
                 "(accepted: 0 to %d)", bad_pu, bad_thread, CPU_SETSIZE - 1);
    else if (pu && bad_thread < n_pu)
        snprintf(err, errlen, "could not bind OpenMP thread %d to processor %d: %s", bad_thread,
                 bad_pu, strerror(bad_errno));
    else
        snprintf(err, errlen, "could not restore the affinity of OpenMP thread %d: %s",
                 bad_thread, strerror(bad_errno));
    return -1;
}

int openmp_backend_init(const mgpt_backend_env *env, char *err, size_t errlen)
{
    const openmp_isa *isa = NULL;
    for (int i = 0; openmp_isas[i] && !isa; i++)
        if ((env->cpu_features & openmp_isas[i]->features) == openmp_isas[i]->features)
            isa = openmp_isas[i];
    if (!isa) {
        snprintf(err, errlen, "the CPU features passed at init (0x%x) lack those of the SSE "
                 "kernels (0x%x)", (unsigned)env->cpu_features,
                 (unsigned)openmp_isa_sse.features);
        return -1;
    }
    openmp_split_mode split;
    if (parse_split(&split, err, errlen) != 0)
        return -1;
    int threads = env->num_threads > 0 ? env->num_threads : 1;

    if (!have_saved_mask && sched_getaffinity(0, sizeof saved_mask, &saved_mask) == 0)
        have_saved_mask = 1;
    int ours = user_binding_variable() == NULL;
    const int *pu = ours && env->pu_binding && env->n_binding > 0 ? env->pu_binding : NULL;
    int rc = setup_team(threads, pu, pu ? env->n_binding : 0,
                        ours && have_saved_mask ? &saved_mask : NULL, err, errlen);
    if (rc != 0) {
        char ignored[8];
        if (ours && have_saved_mask)
            setup_team(threads, NULL, 0, &saved_mask, ignored, sizeof ignored);
        return -1;
    }
    free_work();    /* a second init replaces the team */
    if (alloc_work(isa, threads, err, errlen) != 0)
        return -1;
    openmp_rt.isa = isa;
    openmp_rt.threads = threads;
    openmp_rt.split = split;
    snprintf(openmp_description, sizeof openmp_description,
             "OpenMP threads over the %s kernels (%s)", isa->name, isa->about);
    return 0;
}

void openmp_backend_shutdown(void)
{
    if (have_saved_mask && user_binding_variable() == NULL) {
        char ignored[8];
        setup_team(openmp_rt.threads > 0 ? openmp_rt.threads : 1, NULL, 0, &saved_mask, ignored,
                   sizeof ignored);
    }
    have_saved_mask = 0;
    free_work();
    openmp_rt.isa = &openmp_isa_sse;
    openmp_rt.threads = 0;
    openmp_rt.split = OPENMP_SPLIT_AUTO;
    snprintf(openmp_description, sizeof openmp_description, "%s", OPENMP_DESCRIPTION);
}

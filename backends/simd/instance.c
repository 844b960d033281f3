/* The instance of a SIMD backend (init and shutdown of its descriptor): one GEMM workspace
 * per thread that may call a kernel at once (in the bf16 modules, large enough for either
 * GEMM's packing buffers; the AMX module first asks for the permission to use tiles).
 * Compiled with the ISA's flags like the kernels; the loader calls init only after its
 * feature check. */
#include <stdio.h>
#include <stdlib.h>
#include "simd/simd.h"

int SIMD_FN(init)(const mgpt_backend_env *env, void **instance, char *err, size_t errlen)
{
    int threads = env->num_threads > 0 ? env->num_threads : 1;
#ifdef SIMD_AMX
    if (SIMD_FN(amx_permission)(err, errlen) != 0)
        return -1;
#endif
    /* whole 64-byte lines (aligned_alloc's size is a multiple of its alignment), so no two
     * threads' workspaces share a line */
    size_t floats = SIMD_FN(gemm_work_floats)();
#ifdef SIMD_BF16
    /* the bf16 GEMM's packing buffers share it: a thread runs one kernel at a time */
    if (SIMD_FN(gemm_bf16_work_floats)() > floats)
        floats = SIMD_FN(gemm_bf16_work_floats)();
#endif
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    simd_instance *in = calloc(1, sizeof *in + (size_t)threads * sizeof in->work[0]);
    if (!in) {
        snprintf(err, errlen, "out of memory for the instance of %d threads", threads);
        return -1;
    }
    in->threads = threads;
    /* Not written here: each workspace's pages are first touched by the thread that uses
     * it, so they land on its memory node. Every kernel writes the scratch it reads. */
    for (int t = 0; t < threads; t++) {
        in->work[t] = aligned_alloc(64, bytes);
        if (!in->work[t]) {
            SIMD_FN(shutdown)(in);
            snprintf(err, errlen, "out of memory for %d GEMM workspaces of %zu bytes", threads,
                     bytes);
            return -1;
        }
    }
    *instance = in;
    return 0;
}

void SIMD_FN(shutdown)(void *instance)
{
    simd_instance *in = instance;
    if (!in)
        return;
    for (int t = 0; t < in->threads; t++)
        free(in->work[t]);      /* calloc's NULLs past a failed allocation */
    free(in);
}

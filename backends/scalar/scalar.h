/* The scalar reference kernels: the ground truth every other backend is tested against,
 * and (as libscalar_kernels.la, linked into the engine) the kernel that runs for any slot
 * a backend leaves NULL or its table does not reach. Each kernel has its slot's type from
 * mgpt/kernel_list.h (the list's reference column names it); they ignore ctx. */
#ifndef MGPT_SCALAR_H
#define MGPT_SCALAR_H
#include <mgpt/backend.h>

/* scalar_embed_forward, ... : the list's reference column, each of its slot's type */
#define SCALAR_DECLARE(id, field, ref, ret, params, split, flops, bytes) mgpt_##field##_fn ref;
MGPT_KERNEL_LIST(SCALAR_DECLARE)
#undef SCALAR_DECLARE

/* Roofline probes (probes.c, built without vectorisation). */
double scalar_peak_flops(uint64_t iterations, float *sink);
float scalar_stream_read(const float *buf, size_t n, int passes);
#endif

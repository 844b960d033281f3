/* The scalar reference kernels: the ground truth every other backend is tested against,
 * and (as libscalar_kernels.la, linked into the engine) the kernel that runs for any slot
 * a backend leaves NULL or its table does not reach. Each kernel has its slot's type from
 * mgpt/kernel_list.h (the list's reference column names it); they ignore ctx. */
#ifndef MGPT_SCALAR_H
#define MGPT_SCALAR_H
#include <mgpt/backend.h>

mgpt_embed_forward_fn scalar_embed_forward;
mgpt_embed_backward_fn scalar_embed_backward;
mgpt_rmsnorm_forward_fn scalar_rmsnorm_forward;
mgpt_rmsnorm_backward_fn scalar_rmsnorm_backward;
mgpt_matmul_forward_fn scalar_matmul_forward;
mgpt_matmul_backward_dinp_fn scalar_matmul_backward_dinp;
mgpt_matmul_backward_dw_fn scalar_matmul_backward_dw;
mgpt_attention_forward_fn scalar_attention_forward;
mgpt_attention_backward_fn scalar_attention_backward;
mgpt_sqrelu_forward_fn scalar_sqrelu_forward;
mgpt_sqrelu_backward_fn scalar_sqrelu_backward;
mgpt_add_forward_fn scalar_add_forward;
mgpt_accumulate_fn scalar_accumulate;
mgpt_crossentropy_forward_fn scalar_crossentropy_forward;
mgpt_crossentropy_backward_fn scalar_crossentropy_backward;
mgpt_sumsq_fn scalar_sumsq;
mgpt_adam_update_fn scalar_adam_update;
mgpt_zero_fn scalar_zero;

/* Roofline probes (probes.c, built without vectorisation). */
double scalar_peak_flops(uint64_t iterations, float *sink);
float scalar_stream_read(const float *buf, size_t n, int passes);
#endif

/* What the graph computes with: a kernel table, the context its kernels take, and the team
 * of threads behind it (NULL: the calling thread alone). The engine makes one (engine.h);
 * a test can make one from a single backend instance. */
#ifndef MGPT_COMPUTE_H
#define MGPT_COMPUTE_H
#include <stddef.h>
#include <mgpt/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mgpt_team;

typedef struct mgpt_compute {
    const mgpt_kernels *k;    /* every slot non-NULL */
    const mgpt_ctx *ctx;      /* passed to every kernel of k */
    struct mgpt_team *team;   /* NULL when k is a backend's own table */
} mgpt_compute;

/* sum of x[i]^2 over any n: MGPT_SUMSQ_CHUNK-float chunks, each summed by the sumsq
 * kernel (on the team's threads when there is one), added in chunk order: the same bits on
 * any number of threads. */
double mgpt_compute_sumsq(const mgpt_compute *c, const float *x, size_t n);

/* matmul's backward, both slots: dinp[N,C] (+)= dout @ w, then dw[OC,C] (+)= dout^T @ inp,
 * each writing when its MGPT_WRITE_* bit is set; with a team, the two in one parallel
 * region (their blocks are independent), which saves a join and balances the threads. */
void mgpt_compute_matmul_backward(const mgpt_compute *c, float *dinp, float *dw,
                                  const float *dout, const float *inp, const float *w, int N,
                                  int C, int OC, unsigned write);
#ifdef __cplusplus
}
#endif
#endif

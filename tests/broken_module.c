/* A backend that is wrong in four ways mgpt-check-backend must catch, each in its own
 * slot (the rest run the scalar reference):
 *  - sqrelu_forward leaves the tail of n % 8 elements unwritten (a vector loop without
 *    its remainder);
 *  - accumulate ignores its write bit, adding to a gradient it should overwrite (which
 *    holds NaN when the engine asks for a write);
 *  - add_forward works in blocks of 4 and writes past the end of out (a crash at the
 *    guard page after the buffer, which the checker turns into a failed row);
 *  - matmul_forward computes whole rows, ignoring its column range [o0, o1) (correct on a
 *    whole call; a split call writes another thread's part).
 * Built beside the tests as a module (tests/Makefile.am). */
#include <mgpt/backend.h>

static mgpt_sqrelu_forward_fn broken_sqrelu_forward;
static mgpt_accumulate_fn broken_accumulate;
static mgpt_matmul_forward_fn broken_matmul_forward;
static mgpt_add_forward_fn broken_add_forward;

static void broken_add_forward(const mgpt_ctx *ctx, float *out, const float *a, const float *b,
                               size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i += 4)
        for (size_t j = 0; j < 4; j++)
            out[i + j] = a[i + j < n ? i + j : 0] + b[i + j < n ? i + j : 0];
}

static void broken_sqrelu_forward(const mgpt_ctx *ctx, float *out, const float *inp, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i + 8 <= n; i++) {
        float r = inp[i] > 0.0f ? inp[i] : 0.0f;
        out[i] = r * r;
    }
}

static void broken_accumulate(const mgpt_ctx *ctx, float *dst, const float *src, size_t n,
                              unsigned write)
{
    (void)ctx;
    (void)write;
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

static void broken_matmul_forward(const mgpt_ctx *ctx, float *out, const float *inp,
                                  const float *w, int N, int C, int OC, int n0, int n1, int o0,
                                  int o1)
{
    (void)ctx;
    (void)N;
    (void)o0;
    (void)o1;
    for (int n = n0; n < n1; n++)
        for (int o = 0; o < OC; o++) {
            float s = 0.0f;
            for (int c = 0; c < C; c++)
                s += inp[(size_t)n * C + c] * w[(size_t)o * C + c];
            out[(size_t)n * OC + o] = s;
        }
}

static const mgpt_kernels kernels = {
    .sqrelu_forward = broken_sqrelu_forward,
    .accumulate = broken_accumulate,
    .add_forward = broken_add_forward,
    .matmul_forward = broken_matmul_forward,
};

const mgpt_backend_desc mgpt_backend_broken = {
    MGPT_BACKEND_DESC_HEADER,
    .name = "broken",
    .description = "test module: four wrong kernels that the checker must catch",
    .required_features = MGPT_CPU_SSE2,
    .priority = -100,
    .precision = MGPT_PRECISION_FP32,
    .kernels = &kernels,
};

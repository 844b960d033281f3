/* The projections as one blocked GEMM (BLIS's loop nest, without its heap buffers).
 *
 *   matmul_forward:  out[N,OC]   = inp[N,C]   @ w[OC,C]^T   M=N,  N=OC, K=C   B = w^T (packed)
 *   backward dinp:   dinp[N,C]  += dout[N,OC] @ w[OC,C]     M=N,  N=C,  K=OC  B = w
 *   backward dw:     dw[OC,C]   += dout^T     @ inp[N,C]    M=OC, N=C,  K=N   A = dout^T
 *
 * The register tile is GEMM_MR rows x GEMM_NV vectors of C (vec_<isa>.h); each k-step
 * broadcasts GEMM_MR values of A and multiplies them into GEMM_NV vectors of B, so each
 * lane of each accumulator is one element of C summed over k in order. B is copied (or
 * transposed, for the forward) into contiguous, zero-padded panels of GEMM_KC rows on the
 * stack; the micro-panel being used (GEMM_KC x GEMM_MR*SIMD_W) stays in L1 while the
 * tile walks down all the rows of A, which stream from L2. A is read in place: row-major
 * (csa == 1, one pointer per row) or column-major (rsa == 1, dout^T); only a partial
 * column-major tile at the bottom edge is copied, zero-padded, to a small buffer.
 */
#include <string.h>
#include "simd/simd.h"

#define GEMM_NR (GEMM_NV * SIMD_W)   /* columns of C per register tile */

/* Packs B[0:kc, 0:nc] as micro-panels of GEMM_NR columns: micro-panel p holds kc rows of
 * w = round_up(columns, SIMD_W) floats, zero-padded, at bp + p*GEMM_NR*kc. */
static void pack_b(float *bp, const float *b, ptrdiff_t rsb, ptrdiff_t csb, int kc, int nc)
{
    for (int j0 = 0; j0 < nc; j0 += GEMM_NR) {
        int nr = nc - j0 < GEMM_NR ? nc - j0 : GEMM_NR;
        int w = (nr + SIMD_W - 1) / SIMD_W * SIMD_W;
        float *dst = bp + (size_t)j0 * kc;
        if (csb == 1) {             /* rows of B are contiguous: copy vectors */
            for (int k = 0; k < kc; k++) {
                const float *src = b + k * rsb + j0;
                float *d = dst + (size_t)k * w;
                if (k + GEMM_PF_ROWS < kc)  /* short rows far apart: prefetchers miss them */
                    for (int j = 0; j < nr; j += 16)
                        __builtin_prefetch(src + GEMM_PF_ROWS * rsb + j);
                int j = 0;
                for (; j + SIMD_W <= nr; j += SIMD_W)
                    v_store(d + j, v_load(src + j));
                if (j < nr)         /* the zero-filled tail lanes are the padding */
                    v_store(d + j, v_load_part(src + j, nr - j));
            }
        } else if (rsb == 1) {      /* B = (row-major matrix)^T: SIMD_W x SIMD_W transposes */
            for (int j = 0; j < nr; j += SIMD_W) {
                int rows = nr - j < SIMD_W ? nr - j : SIMD_W;
                const float *src = b + (j0 + j) * csb;
                for (int k = 0; k < kc; k += SIMD_W) {
                    int cols = kc - k < SIMD_W ? kc - k : SIMD_W;
                    vec r[SIMD_W];
#pragma GCC unroll 16
                    for (int i = 0; i < SIMD_W; i++)   /* missing rows: the zero padding */
                        r[i] = i >= rows ? v_zero()
                               : cols == SIMD_W ? v_load(src + i * csb + k)
                                                : v_load_part(src + i * csb + k, cols);
                    v_transpose(r);
#pragma GCC unroll 16
                    for (int i = 0; i < cols; i++)
                        v_store(dst + (size_t)(k + i) * w + j, r[i]);
                }
            }
        } else {                    /* any other layout, element by element */
            for (int k = 0; k < kc; k++)
                for (int j = 0; j < w; j++)
                    dst[(size_t)k * w + j] = j < nr ? b[k * rsb + (j0 + j) * csb] : 0.0f;
        }
    }
}

/* Packs A[0:mc, 0:kc] (any strides) as micro-panels of GEMM_MR rows: panel p holds
 * ap[p*GEMM_MR*kc + k*GEMM_MR + i] = A(p*GEMM_MR + i, k), rows past mc zero. */
static void pack_a(float *ap, const float *a, ptrdiff_t rsa, ptrdiff_t csa, int mc, int kc)
{
    int full = rsa == 1 ? mc / GEMM_MR * GEMM_MR : 0;
    if (full) {     /* dout^T: row k of dout holds A(0:mc, k) contiguously; copy it in pieces */
        for (int k = 0; k < kc; k++) {
            const float *src = a + k * csa;
            if (k + GEMM_PF_ROWS < kc)
                for (int i = 0; i < mc; i += 16)
                    __builtin_prefetch(src + GEMM_PF_ROWS * csa + i);
            for (int i0 = 0; i0 < full; i0 += GEMM_MR)
                memcpy(ap + (size_t)i0 * kc + k * GEMM_MR, src + i0, GEMM_MR * sizeof(float));
        }
    }
    for (int i0 = full; i0 < mc; i0 += GEMM_MR) {
        int m = mc - i0 < GEMM_MR ? mc - i0 : GEMM_MR;
        float *dst = ap + (size_t)i0 * kc;
        const float *src = a + i0 * rsa;
        for (int k = 0; k < kc; k++)
            for (int i = 0; i < GEMM_MR; i++)
                dst[k * GEMM_MR + i] = i < m ? src[i * rsa + k * csa] : 0.0f;
    }
}

/* The register tile: C[0:m, 0:(nv-1)*SIMD_W + nlast] (+)= A[0:m, 0:kc] B[0:kc, 0:nv*SIMD_W]
 * with B packed (bp, rows of nv*SIMD_W floats) and A(i,k) = a[i*lda + k] (col == 0) or
 * a[k*lda + i] (col == 1: a packed panel, zero past row m). nv and col are compile-time constants in
 * each instance below, so acc[][] lives in registers. Rows past m repeat row m-1 (in
 * bounds; never stored). */
SIMD_ALWAYS_INLINE void gemm_tile(const int nv, const int col, int kc, const float *a,
                                  ptrdiff_t lda, const float *bp, float *c, ptrdiff_t ldc,
                                  int m, int nlast, int beta)
{
    vec acc[GEMM_MR][GEMM_NV];
    const float *ar[GEMM_MR];
#pragma GCC unroll 16
    for (int i = 0; i < GEMM_MR; i++) {
        int ii = i < m ? i : m - 1;
        ar[i] = a + ii * lda;
        const float *cr = c + ii * ldc;
#pragma GCC unroll 16
        for (int j = 0; j < nv; j++) {
            if (!beta)
                acc[i][j] = v_zero();
            else if (j < nv - 1 || nlast == SIMD_W)
                acc[i][j] = v_load(cr + j * SIMD_W);
            else
                acc[i][j] = v_load_part(cr + j * SIMD_W, nlast);
        }
    }
    for (int k = 0; k < kc; k++) {
        vec bv[GEMM_NV];
#pragma GCC unroll 16
        for (int j = 0; j < nv; j++)
            bv[j] = v_load_aligned(bp + j * SIMD_W);
        bp += nv * SIMD_W;
#pragma GCC unroll 16
        for (int i = 0; i < GEMM_MR; i++) {
            vec ai = v_set1(col ? a[i] : ar[i][k]);
#pragma GCC unroll 16
            for (int j = 0; j < nv; j++)
                acc[i][j] = v_fma(ai, bv[j], acc[i][j]);
        }
        if (col)
            a += lda;
    }
#pragma GCC unroll 16
    for (int i = 0; i < GEMM_MR; i++) {
        if (i >= m)
            break;
        float *cr = c + i * ldc;
#pragma GCC unroll 16
        for (int j = 0; j < nv; j++) {
            if (j < nv - 1 || nlast == SIMD_W)
                v_store(cr + j * SIMD_W, acc[i][j]);
            else
                v_store_part(cr + j * SIMD_W, acc[i][j], nlast);
        }
    }
}

typedef void (*gemm_tile_fn)(int kc, const float *a, ptrdiff_t lda, const float *bp, float *c,
                             ptrdiff_t ldc, int m, int nlast, int beta);

#define GEMM_TILE_INSTANCE(NV, COL)                                                         \
    static void gemm_tile_##NV##_##COL(int kc, const float *a, ptrdiff_t lda,             \
                                       const float *bp, float *c, ptrdiff_t ldc, int m,    \
                                       int nlast, int beta)               \
    {                                                                                      \
        gemm_tile(NV, COL, kc, a, lda, bp, c, ldc, m, nlast, beta);                        \
    }
GEMM_TILE_INSTANCE(1, 0)
GEMM_TILE_INSTANCE(1, 1)
#if GEMM_NV >= 2
GEMM_TILE_INSTANCE(2, 0)
GEMM_TILE_INSTANCE(2, 1)
#endif
#if GEMM_NV >= 3
GEMM_TILE_INSTANCE(3, 0)
GEMM_TILE_INSTANCE(3, 1)
#endif
#if GEMM_NV >= 4
#error "add gemm_tile instances for GEMM_NV >= 4"
#endif

/* gemm_tiles[nv - 1][col] */
static const gemm_tile_fn gemm_tiles[GEMM_NV][2] = {
    { gemm_tile_1_0, gemm_tile_1_1 },
#if GEMM_NV >= 2
    { gemm_tile_2_0, gemm_tile_2_1 },
#endif
#if GEMM_NV >= 3
    { gemm_tile_3_0, gemm_tile_3_1 },
#endif
};

/* All register tiles of C[0:mc, 0:nc] += (or =, beta 0) A[0:mc, 0:kc] Bpacked[0:kc, 0:nc]:
 * each micro-panel of B stays in L1 while the tiles walk down A. A is row-major in place
 * (ap NULL: a, lda) or packed (ap). */
static void gemm_block(int mc, int nc, int kc, const float *a, ptrdiff_t lda, const float *ap,
                       const float *bp, float *c, ptrdiff_t ldc, int beta)
{
    for (int jr = 0; jr < nc; jr += GEMM_NR) {
        int nr = nc - jr < GEMM_NR ? nc - jr : GEMM_NR;
        int nv = (nr + SIMD_W - 1) / SIMD_W;
        int nlast = nr - (nv - 1) * SIMD_W;
        const float *bpp = bp + (size_t)jr * kc;
        for (int ir = 0; ir < mc; ir += GEMM_MR) {
            int m = mc - ir < GEMM_MR ? mc - ir : GEMM_MR;
            float *ct = c + ir * ldc + jr;
            if (ap)
                gemm_tiles[nv - 1][1](kc, ap + (size_t)ir * kc, GEMM_MR, bpp, ct, ldc, m, nlast,
                                      beta);
            else
                gemm_tiles[nv - 1][0](kc, a + ir * lda, lda, bpp, ct, ldc, m, nlast, beta);
        }
    }
}

void SIMD_FN(gemm)(int M, int N, int K, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const float *b, ptrdiff_t rsb, ptrdiff_t csb, float *c, ptrdiff_t ldc,
                   int accumulate)
{
    _Alignas(64) float bp[GEMM_KC * GEMM_NC];   /* B block: L2, its micro-panel L1 */
    _Alignas(64) float ap[GEMM_KC * GEMM_MC];   /* A block, when A is not row-major: L2 */
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {                   /* an empty sum */
        if (!accumulate)
            for (int i = 0; i < M; i++)
                memset(c + i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    if (csa == 1) {
        /* Row-major A is read in place; each block of B is packed once. */
        for (int jc = 0; jc < N; jc += GEMM_NC) {
            int nc = N - jc < GEMM_NC ? N - jc : GEMM_NC;
            for (int pc = 0; pc < K; pc += GEMM_KC) {
                int kc = K - pc < GEMM_KC ? K - pc : GEMM_KC;
                pack_b(bp, b + pc * rsb + jc * csb, rsb, csb, kc, nc);
                for (int ic = 0; ic < M; ic += GEMM_MC) {
                    int mc = M - ic < GEMM_MC ? M - ic : GEMM_MC;
                    gemm_block(mc, nc, kc, a + ic * rsa + pc, rsa, NULL, bp,
                               c + ic * ldc + jc, ldc, accumulate || pc > 0);
                }
            }
        }
    } else {
        /* A (dout^T: strided rows far apart) is packed once per block and reused across all
         * of N; the B blocks (row-major, cheap to copy, L2-resident) are packed per A block. */
        for (int pc = 0; pc < K; pc += GEMM_KC) {
            int kc = K - pc < GEMM_KC ? K - pc : GEMM_KC;
            for (int ic = 0; ic < M; ic += GEMM_MC) {
                int mc = M - ic < GEMM_MC ? M - ic : GEMM_MC;
                pack_a(ap, a + ic * rsa + pc * csa, rsa, csa, mc, kc);
                for (int jc = 0; jc < N; jc += GEMM_NC) {
                    int nc = N - jc < GEMM_NC ? N - jc : GEMM_NC;
                    pack_b(bp, b + pc * rsb + jc * csb, rsb, csb, kc, nc);
                    gemm_block(mc, nc, kc, NULL, 0, ap, bp, c + ic * ldc + jc, ldc,
                               accumulate || pc > 0);
                }
            }
        }
    }
}

void SIMD_FN(matmul_forward_range)(float *out, const float *inp, const float *w, int C, int OC,
                                   int n0, int n1, int o0, int o1)
{
    /* B(k, j) = w[j*C + k] */
    SIMD_FN(gemm)(n1 - n0, o1 - o0, C, inp + (size_t)n0 * C, C, 1, w + (size_t)o0 * C, 1, C,
                  out + (size_t)n0 * OC + o0, OC, 0);
}

void SIMD_FN(matmul_backward_dinp_range)(float *dinp, const float *dout, const float *w,
                                         int C, int OC, int n0, int n1, int c0, int c1)
{
    SIMD_FN(gemm)(n1 - n0, c1 - c0, OC, dout + (size_t)n0 * OC, OC, 1, w + c0, C, 1,
                  dinp + (size_t)n0 * C + c0, C, 1);
}

void SIMD_FN(matmul_backward_dw_range)(float *dw, const float *dout, const float *inp,
                                       int N, int C, int OC, int o0, int o1, int c0, int c1)
{
    /* A(i, k) = dout[k*OC + i]: column-major */
    SIMD_FN(gemm)(o1 - o0, c1 - c0, N, dout + o0, 1, OC, inp + c0, C, 1,
                  dw + (size_t)o0 * C + c0, C, 1);
}

/* flops 2*N*C*OC */
void SIMD_FN(matmul_forward)(float *out, const float *inp, const float *w, int N, int C, int OC)
{
    SIMD_FN(matmul_forward_range)(out, inp, w, C, OC, 0, N, 0, OC);
}

/* flops 4*N*C*OC */
void SIMD_FN(matmul_backward)(float *dinp, float *dw, const float *dout, const float *inp,
                              const float *w, int N, int C, int OC)
{
    SIMD_FN(matmul_backward_dinp_range)(dinp, dout, w, C, OC, 0, N, 0, C);
    SIMD_FN(matmul_backward_dw_range)(dw, dout, inp, N, C, OC, 0, OC, 0, C);
}

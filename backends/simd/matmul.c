/* The projections as one blocked GEMM: BLIS's loop nest, its packing buffers in a
 * workspace given by the caller (kernels never allocate).
 *
 *   matmul_forward:  out[N,OC]   = inp[N,C]   @ w[OC,C]^T   M=N,  N=OC, K=C   B = w^T
 *   backward dinp:   dinp[N,C]  += dout[N,OC] @ w[OC,C]     M=N,  N=C,  K=OC  B = w
 *   backward dw:     dw[OC,C]   += dout^T     @ inp[N,C]    M=OC, N=C,  K=N   A = dout^T
 * (the backward ones store, =, when the engine's write bit says so: accumulate 0 below).
 *
 * Register tile: GEMM_MR rows x GEMM_NV vectors of C (vec_<isa>.h). Each k-step broadcasts
 * GEMM_MR values of A and multiplies them into GEMM_NV vectors of B, so every lane of every
 * accumulator is one element of C, summed over k in order 0..K-1 (with SSE's mul+add this
 * is the scalar reference's exact sequence of roundings).
 *
 * Cache blocking: B is packed into contiguous zero-padded micro-panels of GEMM_NR =
 * GEMM_NV*SIMD_W columns, at a block's right edge what is left (panel_cols); w is
 * transposed on the way, SIMD_W x SIMD_W at a time. A micro-panel is reused by every
 * register tile down the rows of A.
 *  - Row-major A (inp, dout: csa == 1) is read in place, one pointer per row. B blocks of
 *    GEMM_KC x GEMM_NC are packed once each (loops jc, pc, ic). GEMM_KC is long: every
 *    k-block costs each tile a load and a store of its C, and those cost more than a
 *    micro-panel that outgrows L1 (measured, avx512 at C=768: KC 256 -> 1024 gave +10%).
 *  - Otherwise (dout^T: rows GEMM_MR floats wide, OC floats apart, which the prefetchers do
 *    not follow) A is packed GEMM_MCP rows at a time, and B (row-major inp) is packed once
 *    per k-block for up to GEMM_NCP columns, so neither is packed twice (loops pc, jc, ic);
 *    when C is at most 3 tiles wide, too few tiles reuse a packed panel of A to pay for
 *    it, and the tiles read A in place instead.
 * Tails: partial tiles load and store C with v_load_part/v_store_part, rows past the edge
 * repeat the last row (row-major A) or are zero (packed A) and are never stored.
 */
#include <string.h>
#include "simd/simd.h"

#define GEMM_NR (GEMM_NV * SIMD_W)   /* columns of C per register tile */

/* Cache blocking, the same for every ISA: tuned with AVX-512 on this project's Xeon (flat
 * around these values), and 4-10% faster than the old 256/96/96 with AVX2 and SSE too
 * (docs/architecture.md).
 * Row-major A: B blocks of GEMM_KC k-steps x GEMM_NC columns, A rows in GEMM_MC-row blocks.
 * Packed A (dw): GEMM_KCP k-steps; A blocks of GEMM_MCP rows, B blocks of GEMM_NCP columns. */
#define GEMM_KC 1024
#define GEMM_NC 96
#define GEMM_MC 192
#define GEMM_KCP 256
#define GEMM_MCP 192
#define GEMM_NCP 2048
#define GEMM_WORK_FLOATS (GEMM_KCP * (GEMM_MCP + GEMM_NCP))   /* 2.2 MiB */
/* Column-major A (dout^T of dw) is read in place, not packed, when C has at most this many
 * columns: each element of A then serves at most 2*128 FLOPs, too few to pay for a strided
 * copy. Measured on dw (N tokens = 512 or 1000), in place against packed: C = 128 +21-30%
 * AVX-512, +12-16% AVX2, +9% SSE; C = 64-65 +18-53%; lm_head's 27 rows +10%; C = 256
 * -4% AVX-512, +1-7% AVX2; C = 768 with rows 3072 floats apart 0.47x. */
#define GEMM_ACOL_N 128
/* rows of dout^T's packing copied per pass: see pack_a */
#define GEMM_APACK_K 4
/* rows of a row-major B packed per pass: see pack_b_rows */
#define GEMM_BPACK_K 4

/* The columns of the micro-panel that starts at column jr of a block nc wide: GEMM_NR, or
 * what is left. Where a one-vector tile has fewer accumulators than the FMA pipes need to
 * hide their latency (AVX2 and SSE: GEMM_MR = 4 chains against 2 ports x 4 cycles), a
 * last GEMM_NR + SIMD_W columns or fewer are cut into two panels of at most 2 vectors, not
 * a full one and a one-vector one: C = 128 is 5 x 24 + 8 columns with AVX2, and the
 * 8-column tiles took 9-11% of dinp's and dw's time for 1/16 of the work (Zen 3). */
static inline int panel_cols(int nc, int jr)
{
    int left = nc - jr;
#if GEMM_MR < 8 && GEMM_NV == 3
    if (left > GEMM_NR && left <= GEMM_NR + SIMD_W)
        return 2 * SIMD_W;
#endif
    return left < GEMM_NR ? left : GEMM_NR;
}

/* pack_b of a row-major B (rows rsb floats apart, contiguous): GEMM_BPACK_K rows at a
 * time, every micro-panel's piece of them in turn, so that the rows are read left to right
 * (GEMM_BPACK_K streams) and each panel gets GEMM_BPACK_K rows in a row (whole lines). A
 * panel at a time down all kc rows read 96 bytes of each row (AVX2), rows 0.5-12 KiB
 * apart, which no prefetcher follows. Measured on Zen 3, avx2, 1 thread: this packing's
 * share of an e128_L4_b16_B32 training step's samples 5.5-6.1% -> 3.7-3.9% (3 runs each;
 * 1, 4 and 16 rows a pass within that noise), its stores waiting on loads of B that the
 * step left in L3 or memory. */
static void pack_b_rows(float *bp, const float *b, ptrdiff_t rsb, int kc, int nc)
{
    for (int k0 = 0; k0 < kc; k0 += GEMM_BPACK_K) {
        int k1 = kc - k0 < GEMM_BPACK_K ? kc : k0 + GEMM_BPACK_K;
        for (int j0 = 0, nr; j0 < nc; j0 += nr) {
            nr = panel_cols(nc, j0);
            int w = (nr + SIMD_W - 1) / SIMD_W * SIMD_W;
            float *dst = bp + (size_t)j0 * kc;
            for (int k = k0; k < k1; k++) {
                const float *src = b + k * rsb + j0;
                float *d = dst + (size_t)k * w;
                int j = 0;
                for (; j + SIMD_W <= nr; j += SIMD_W)
                    v_store(d + j, v_load(src + j));
                if (j < nr)         /* the zero-filled tail lanes are the padding */
                    v_store(d + j, v_load_part(src + j, nr - j));
            }
        }
    }
}

/* Packs B[0:kc, 0:nc] as micro-panels of panel_cols columns: the one at column j0 holds kc
 * rows of w = round_up(columns, SIMD_W) floats, zero-padded, at bp + j0*kc. */
static void pack_b(float *bp, const float *b, ptrdiff_t rsb, ptrdiff_t csb, int kc, int nc)
{
    if (csb == 1) {
        pack_b_rows(bp, b, rsb, kc, nc);
        return;
    }
    for (int j0 = 0, nr; j0 < nc; j0 += nr) {
        nr = panel_cols(nc, j0);
        int w = (nr + SIMD_W - 1) / SIMD_W * SIMD_W;
        float *dst = bp + (size_t)j0 * kc;
        if (rsb == 1) {             /* B = (row-major matrix)^T: SIMD_W x SIMD_W transposes */
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
    /* dout^T: row k of dout holds A(0:mc, k) contiguously; copy it in pieces of GEMM_MR,
     * GEMM_APACK_K rows of dout at a time, so that each panel gets whole 64-byte lines
     * (4 x 4 floats for AVX2 and SSE, 4 x 8 for AVX-512). One row at a time wrote
     * GEMM_MR floats to each panel, panels kc*GEMM_MR floats apart (4-8 KiB: the same L1
     * set for all), and each line was evicted before it was full. Measured on AMD Zen 3,
     * avx2, dw at N = 1024 tokens: the packing's share of the call 17% -> 8% at C = 256,
     * OC = 1024 (57.4 -> 65.7 GFLOP/s), 6.2% -> 3.9% at C = 768, OC = 3072 (64.9 -> 74.8). */
    for (int k = 0; full && k < kc; k += GEMM_APACK_K) {
        int rows = kc - k < GEMM_APACK_K ? kc - k : GEMM_APACK_K;
        const float *src = a + k * csa;
        for (int i0 = 0; i0 < full; i0 += GEMM_MR) {
            float *dst = ap + (size_t)i0 * kc + k * GEMM_MR;
#pragma GCC unroll 4
            for (int q = 0; q < rows; q++)
                memcpy(dst + q * GEMM_MR, src + q * csa + i0, GEMM_MR * sizeof(float));
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
 * (beta 1: +=, beta 0: =). A(i,k) = a[i*lda + k] (col == 0) or a[k*lda + i] (col == 1: a
 * packed panel, zero past row m); B(k,j) = bp[k*ldb + j], packed and zero-padded (bdirect
 * == 0, ldb = nv*SIMD_W) or read in place (bdirect == 1, the last vector partial). nv, col
 * and bdirect are compile-time constants in each instance below, so acc[][] lives in
 * registers. Rows past m repeat row m-1 (in bounds; never stored). */
SIMD_ALWAYS_INLINE void gemm_tile(const int nv, const int col, const int bdirect, int kc,
                                  const float *a, ptrdiff_t lda, const float *bp, ptrdiff_t ldb,
                                  float *c, ptrdiff_t ldc, int m, int nlast, int beta)
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
    /* unrolled: one pointer update per row every 4 k-steps instead of every one (the loop
     * is 8 broadcasts, 3 loads and 24 FMAs on AVX-512; measured +1-5%) */
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        vec bv[GEMM_NV];
#pragma GCC unroll 16
        for (int j = 0; j < nv; j++)
            bv[j] = !bdirect ? v_load_aligned(bp + j * SIMD_W)
                    : j < nv - 1 || nlast == SIMD_W ? v_load(bp + j * SIMD_W)
                                                    : v_load_part(bp + j * SIMD_W, nlast);
        bp += ldb;
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

typedef void (*gemm_tile_fn)(int kc, const float *a, ptrdiff_t lda, const float *bp,
                             ptrdiff_t ldb, float *c, ptrdiff_t ldc, int m, int nlast, int beta);

#define GEMM_TILE_INSTANCE(NV, COL, BD)                                                     \
    static void gemm_tile_##NV##_##COL##_##BD(int kc, const float *a, ptrdiff_t lda,      \
                                              const float *bp, ptrdiff_t ldb, float *c,    \
                                              ptrdiff_t ldc, int m, int nlast, int beta)   \
    {                                                                                      \
        gemm_tile(NV, COL, BD, kc, a, lda, bp, ldb, c, ldc, m, nlast, beta);               \
    }
#define GEMM_TILE_INSTANCES(NV)                                                             \
    GEMM_TILE_INSTANCE(NV, 0, 0) GEMM_TILE_INSTANCE(NV, 1, 0)                              \
    GEMM_TILE_INSTANCE(NV, 0, 1) GEMM_TILE_INSTANCE(NV, 1, 1)
#define GEMM_TILE_ROW(NV)                                                                   \
    { { gemm_tile_##NV##_0_0, gemm_tile_##NV##_1_0 },                                      \
      { gemm_tile_##NV##_0_1, gemm_tile_##NV##_1_1 } }
GEMM_TILE_INSTANCES(1)
#if GEMM_NV >= 2
GEMM_TILE_INSTANCES(2)
#endif
#if GEMM_NV >= 3
GEMM_TILE_INSTANCES(3)
#endif
#if GEMM_NV >= 4
#error "add gemm_tile instances for GEMM_NV >= 4"
#endif

/* gemm_tiles[nv - 1][bdirect][col] */
static const gemm_tile_fn gemm_tiles[GEMM_NV][2][2] = {
    GEMM_TILE_ROW(1),
#if GEMM_NV >= 2
    GEMM_TILE_ROW(2),
#endif
#if GEMM_NV >= 3
    GEMM_TILE_ROW(3),
#endif
};

/* All register tiles of C[0:mc, 0:nc] += (or =, beta 0) A[0:mc, 0:kc] B[0:kc, 0:nc]: each
 * micro-panel of B stays in L1 while the tiles walk down A. A is packed (a NULL: ap), or in
 * place: row-major (acol 0: A(i,k) = a[i*lda + k]) or column-major (acol 1: a[k*lda + i];
 * full tiles only, since a partial one would read past the matrix: the last rows are
 * packed into ap). B is packed (ldb 0: bp) or row-major in place (bp, ldb). */
static void gemm_block(int mc, int nc, int kc, const float *a, ptrdiff_t lda, int acol,
                       float *ap, const float *bp, ptrdiff_t ldb, float *c, ptrdiff_t ldc,
                       int beta)
{
    int bdirect = ldb != 0;
    int mfull = mc / GEMM_MR * GEMM_MR;
    if (a && acol && mfull < mc)    /* once for all the columns */
        pack_a(ap, a + mfull, 1, lda, mc - mfull, kc);
    for (int jr = 0, nr; jr < nc; jr += nr) {
        nr = panel_cols(nc, jr);
        int nv = (nr + SIMD_W - 1) / SIMD_W;
        int nlast = nr - (nv - 1) * SIMD_W;
        const float *bpp = bdirect ? bp + jr : bp + (size_t)jr * kc;
        ptrdiff_t bstride = bdirect ? ldb : nv * SIMD_W;
        for (int ir = 0; ir < mc; ir += GEMM_MR) {
            int m = mc - ir < GEMM_MR ? mc - ir : GEMM_MR;
            float *ct = c + ir * ldc + jr;
            /* The next tile's rows of C, which it loads first (beta 1) and stores last: a
             * large C comes from L3, whose latency a long k loop of this tile hides
             * (measured: +6% to +10% at N=1024, C=768, OC=3072; a short loop only pays for
             * the hints). With beta 0 nothing is loaded, but a store to a line not in the
             * cache fetches it all the same: the hint fetches it earlier. */
            if (kc >= 64 && ir + 2 * GEMM_MR <= mc)
                for (int i = GEMM_MR; i < 2 * GEMM_MR; i++)
                    for (int j = 0; j < nr; j += 16)
                        __builtin_prefetch(ct + i * ldc + j, 1);
            if (!a)
                gemm_tiles[nv - 1][bdirect][1](kc, ap + (size_t)ir * kc, GEMM_MR, bpp, bstride,
                                               ct, ldc, m, nlast, beta);
            else if (!acol)
                gemm_tiles[nv - 1][bdirect][0](kc, a + ir * lda, lda, bpp, bstride, ct, ldc, m,
                                               nlast, beta);
            else
                gemm_tiles[nv - 1][bdirect][1](kc, ir < mfull ? a + ir : ap,
                                               ir < mfull ? lda : GEMM_MR, bpp, bstride, ct,
                                               ldc, m, nlast, beta);
        }
    }
}

_Static_assert((size_t)GEMM_KC * GEMM_NC <= GEMM_WORK_FLOATS, "row-major A path's B block");
/* the descriptors' tile_rows x tile_cols (kernels.h) */
_Static_assert(GEMM_MR == SIMD_TILE_ROWS && GEMM_NR == SIMD_TILE_COLS,
               "SIMD_TILE_ROWS x SIMD_TILE_COLS is the register tile GEMM_MR x GEMM_NR");

/* One row of A (elements csa apart) against a row-major B (a decode step's projections,
 * decode.c): c[0:N] = a[0:K] @ B, GEMV_NV vectors of C at a time, each lane summed over k in
 * order 0..K-1 with v_fma as the tiles do, so the bits are the tiles'. The tiles would
 * compute GEMM_MR rows for this one, and pack nothing here anyway; GEMV_NV independent
 * chains keep both FMA ports busy while B streams through once.
 * gemv_cols is inlined with a constant nv (gemv_row's switch), so the accumulators live in
 * registers: with a variable count GCC kept them on the stack, and every FMA waited for a
 * store and a load (measured on Zen 5, avx512, 1 thread, a token within the block:
 * e64_L4_b64 0.0155 -> 0.0095 ms, e128_L4_b64 0.053 -> 0.041 ms). 8, not 16: SSE and AVX2
 * have 16 vector registers. */
#define GEMV_NV 8
static inline __attribute__((always_inline)) void
gemv_cols(const int nv, int last, int K, const float *a, ptrdiff_t csa, const float *b,
          ptrdiff_t rsb, float *c, int accumulate)
{
    vec acc[GEMV_NV];
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++)
        acc[v] = !accumulate ? v_zero()
                 : v + 1 < nv || last == SIMD_W ? v_load(c + v * SIMD_W)
                                                : v_load_part(c + v * SIMD_W, last);
    if (last == SIMD_W) {
        for (int k = 0; k < K; k++) {
            vec ak = v_set1(a[k * csa]);
            const float *bk = b + k * rsb;
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[v] = v_fma(ak, v_load(bk + v * SIMD_W), acc[v]);
        }
    } else {
        for (int k = 0; k < K; k++) {
            vec ak = v_set1(a[k * csa]);
            const float *bk = b + k * rsb;
#pragma GCC unroll 8
            for (int v = 0; v + 1 < nv; v++)
                acc[v] = v_fma(ak, v_load(bk + v * SIMD_W), acc[v]);
            acc[nv - 1] = v_fma(ak, v_load_part(bk + (nv - 1) * SIMD_W, last), acc[nv - 1]);
        }
    }
#pragma GCC unroll 8
    for (int v = 0; v + 1 < nv; v++)
        v_store(c + v * SIMD_W, acc[v]);
    if (last == SIMD_W)
        v_store(c + (nv - 1) * SIMD_W, acc[nv - 1]);
    else
        v_store_part(c + (nv - 1) * SIMD_W, acc[nv - 1], last);
}

static void gemv_row(int N, int K, const float *a, ptrdiff_t csa, const float *b, ptrdiff_t rsb,
                     float *c, int accumulate)
{
    for (int j0 = 0; j0 < N; j0 += GEMV_NV * SIMD_W) {
        int nv = (N - j0 + SIMD_W - 1) / SIMD_W;
        if (nv > GEMV_NV)
            nv = GEMV_NV;
        int last = N - j0 - (nv - 1) * SIMD_W;   /* lanes of the last vector, 1..SIMD_W */
        if (last > SIMD_W)
            last = SIMD_W;
        const float *bj = b + j0;
        float *cj = c + j0;
        switch (nv) {
#define GEMV_CASE(n) \
        case n: gemv_cols(n, last, K, a, csa, bj, rsb, cj, accumulate); break;
        GEMV_CASE(1) GEMV_CASE(2) GEMV_CASE(3) GEMV_CASE(4)
        GEMV_CASE(5) GEMV_CASE(6) GEMV_CASE(7) GEMV_CASE(8)
#undef GEMV_CASE
        }
    }
}
_Static_assert(GEMV_NV == 8, "gemv_row's switch has a case for each count up to GEMV_NV");

size_t SIMD_FN(gemm_work_floats)(void)
{
    return GEMM_WORK_FLOATS;
}

void SIMD_FN(gemm)(int M, int N, int K, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const float *b, ptrdiff_t rsb, ptrdiff_t csb, float *c, ptrdiff_t ldc,
                   int accumulate, float *work)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {                   /* an empty sum */
        if (!accumulate)
            for (int i = 0; i < M; i++)
                memset(c + i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    if (M == 1 && csb == 1) {
        gemv_row(N, K, a, csa, b, rsb, c, accumulate);
        return;
    }
    if (csa == 1) {
        /* Row-major A is read in place; each block of B is packed once, unless B is
         * row-major and A so short that each B element is used by at most two tiles. */
        float *bp = work;           /* GEMM_KC x GEMM_NC */
        int bdirect = csb == 1 && M <= 2 * GEMM_MR;
        for (int jc = 0; jc < N; jc += GEMM_NC) {
            int nc = N - jc < GEMM_NC ? N - jc : GEMM_NC;
            for (int pc = 0; pc < K; pc += GEMM_KC) {
                int kc = K - pc < GEMM_KC ? K - pc : GEMM_KC;
                const float *bb = b + pc * rsb + jc * csb;
                if (!bdirect)
                    pack_b(bp, bb, rsb, csb, kc, nc);
                for (int ic = 0; ic < M; ic += GEMM_MC) {
                    int mc = M - ic < GEMM_MC ? M - ic : GEMM_MC;
                    gemm_block(mc, nc, kc, a + ic * rsa + pc, rsa, 0, NULL, bdirect ? bb : bp,
                               bdirect ? rsb : 0, c + ic * ldc + jc, ldc, accumulate || pc > 0);
                }
            }
        }
    } else {
        /* A (dout^T: strided rows far apart) packed GEMM_MCP rows at a time; B (row-major)
         * packed once per k-block, GEMM_NCP columns at a time. Packing A pays off only if
         * each element is used often enough: up to GEMM_ACOL_N columns, column-major A is
         * read in place. */
        int acol = rsa == 1 && N <= GEMM_ACOL_N;
        float *ap = work, *bp = work + (size_t)GEMM_KCP * GEMM_MCP;
        for (int pc = 0; pc < K; pc += GEMM_KCP) {
            int kc = K - pc < GEMM_KCP ? K - pc : GEMM_KCP;
            for (int jc = 0; jc < N; jc += GEMM_NCP) {
                int nc = N - jc < GEMM_NCP ? N - jc : GEMM_NCP;
                pack_b(bp, b + pc * rsb + jc * csb, rsb, csb, kc, nc);
                for (int ic = 0; ic < M; ic += GEMM_MCP) {
                    int mc = M - ic < GEMM_MCP ? M - ic : GEMM_MCP;
                    const float *ab = a + ic * rsa + pc * csa;
                    if (!acol)
                        pack_a(ap, ab, rsa, csa, mc, kc);
                    gemm_block(mc, nc, kc, acol ? ab : NULL, csa, acol, ap, bp, 0,
                               c + ic * ldc + jc, ldc, accumulate || pc > 0);
                }
            }
        }
    }
}

/* The slots: one block of each product's output, on the calling thread's workspace. The
 * sizes are the whole call's; the block is [n0,n1) x [o0,o1) (or [c0,c1)) of the output. */

/* out[n0:n1, o0:o1] = inp[n0:n1, :] @ w[o0:o1, :]^T; B(k, j) = w[j*C + k].
 * flops 2*N*C*OC, bytes 4*(N*C + OC*C + N*OC) for the whole call */
void SIMD_FN(matmul_forward)(const mgpt_ctx *ctx, float *out, const float *inp, const float *w,
                             int N, int C, int OC, int n0, int n1, int o0, int o1)
{
    (void)N;
    SIMD_FN(gemm)(n1 - n0, o1 - o0, C, inp + (size_t)n0 * C, C, 1, w + (size_t)o0 * C, 1, C,
                  out + (size_t)n0 * OC + o0, OC, 0, simd_work(ctx));
}

/* dinp[n0:n1, c0:c1] += (or =, MGPT_WRITE_DINP: stored, never loaded) dout[n0:n1, :] @
 * w[:, c0:c1]. flops 2*N*C*OC, bytes 4*(2*N*C + OC*C + N*OC), 4*N*C less writing dinp */
void SIMD_FN(matmul_backward_dinp)(const mgpt_ctx *ctx, float *dinp, const float *dout,
                                   const float *w, int N, int C, int OC, int n0, int n1,
                                   int c0, int c1, unsigned write)
{
    (void)N;
    SIMD_FN(gemm)(n1 - n0, c1 - c0, OC, dout + (size_t)n0 * OC, OC, 1, w + c0, C, 1,
                  dinp + (size_t)n0 * C + c0, C, !(write & MGPT_WRITE_DINP), simd_work(ctx));
}

/* dw[o0:o1, c0:c1] += (or =, MGPT_WRITE_DW) dout[:, o0:o1]^T @ inp[:, c0:c1]; A(i, k) =
 * dout[k*OC + i]: column-major. flops 2*N*C*OC, bytes 4*(2*OC*C + N*C + N*OC), 4*OC*C less
 * writing dw */
void SIMD_FN(matmul_backward_dw)(const mgpt_ctx *ctx, float *dw, const float *dout,
                                 const float *inp, int N, int C, int OC, int o0, int o1,
                                 int c0, int c1, unsigned write)
{
    SIMD_FN(gemm)(o1 - o0, c1 - c0, N, dout + o0, 1, OC, inp + c0, C, 1,
                  dw + (size_t)o0 * C + c0, C, !(write & MGPT_WRITE_DW), simd_work(ctx));
}

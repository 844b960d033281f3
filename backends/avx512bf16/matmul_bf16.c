/* The projections with bf16 inputs and fp32 sums (AVX512-BF16): the same three products as
 * ../simd/matmul.c,
 *
 *   matmul_forward:  out[N,OC]   = inp[N,C]   @ w[OC,C]^T   M=N,  N=OC, K=C   B = w^T
 *   backward dinp:   dinp[N,C]  += dout[N,OC] @ w[OC,C]     M=N,  N=C,  K=OC  B = w
 *   backward dw:     dw[OC,C]   += dout^T     @ inp[N,C]    M=OC, N=C,  K=N   A = dout^T
 *
 * with every element of A and B rounded to bf16 (nearest even, VCVTNE2PS2BF16) while it is
 * packed, and the products summed in fp32 by VDPBF16PS. That instruction multiplies PAIRS
 * along k: lane j of dst += A(i,k) B(k,j) + A(i,k+1) B(k,j+1)... precisely, for the 32-bit
 * lane j it adds the two products of the bf16 pairs (k, k+1) of its two sources. So both
 * operands are packed as 32-bit pairs along k (low half k, high half k+1; an odd K gets a
 * zero partner), and:
 *  - A: micro-panels of BF16_MR rows, ap[q*BF16_MR + i] = pair q of row i (one 32-bit
 *    broadcast per row and pair);
 *  - B: micro-panels of BF16_NR = BF16_NV*16 columns (32 for the last 49..64: panel_cols),
 *    bp[q*w + j] = pair q of column j (w = the panel's columns rounded up to 16: one 512-bit
 *    load per 16 columns and pair).
 * The register tile is BF16_MR x BF16_NV vectors of fp32 sums (24 of the 32 zmm), each lane
 * one element of C, summed over the pairs in order 0..ceil(K/2)-1 from C (+=) or from +0
 * (=). Products of bf16 values are exact in fp32; the sums round to nearest even; the
 * instruction treats denormal inputs as zero and flushes denormal results.
 *
 * Blocking (BLIS's loop nest, jc / pc / ic): B blocks of BF16_KC k-steps x BF16_NC columns
 * packed once each; A blocks of BF16_MC rows x BF16_KC packed for each block of B, so every
 * A element is converted ceil(N/BF16_NC) times. Packing reads fp32 from memory and is
 * bandwidth-bound: NC 1024 (a 1 MiB B block, in L2/L3 as BLIS keeps it) converts A once for
 * every GEMM of the e256 model and at most 3 times at e768; NC 192 did so 2-16 times and
 * cost 8-16% of the step (Zen 5). BF16_KC is even, so no pair straddles two k-blocks,
 * and the k-blocks start at 0 whatever part of C is asked for: the sum of each element is
 * the same sequence of operations for any block [n0,n1) x [o0,o1) of the output, and the
 * rounding of an input never depends on its neighbours. Between k-blocks C goes through
 * memory as fp32 (exact).
 *
 * Layouts: A row-major (csa == 1: inp, dout) or column-major (rsa == 1: dout^T); B with
 * columns along k (rsb == 1: w^T of the forward) or row-major (csb == 1: w, inp). Both
 * packings read 32 floats (a row of A or a column of B) or 2 rows of 16 at a time, the
 * tails by masked loads (no read past the matrix).
 */
#include <string.h>
#include "simd/simd.h"
#include "avx512bf16/bf16_pairs.h"

#define BF16_MR 8
#define BF16_NV 3
#define BF16_NR (BF16_NV * 16)  /* columns of C per register tile */
/* k-steps per block (even: a pair never straddles two blocks). 256 pairs: a micro-panel of
 * B is 48 KiB, a panel of A 8 KiB. */
#define BF16_KC 512
#define BF16_NC 1024
#define BF16_MC 192
#define BF16_WORK_WORDS ((size_t)BF16_KC / 2 * (BF16_MC + BF16_NC))   /* 1.19 MiB */
/* Packing reads fp32 from wherever the step left it, often DRAM (e256's activations are
 * ~20 MiB a layer), at 2-3 Gelem/s on Zen 5 with the hardware prefetchers alone, 3.5-4.7
 * with these software prefetches (of 2 lines per row of B, 2 k-chunks ahead, in the
 * transposed packing, bf16_pairs.h's pack_pairs_t: BF16_PREFETCH_K; of the rows 4 ahead in
 * the row-major; 16 ahead in dout^T). */
#define BF16_PREFETCH_ROWS 4
#define BF16_PREFETCH_A_ROWS 16
#define BF16_A_GROUP 64          /* rows of dout^T per pass: 8 panels, 8 lines per L1 set */

_Static_assert(BF16_KC % 2 == 0, "k-blocks of whole pairs");
_Static_assert(BF16_MR == BF16_TILE_ROWS && BF16_NR == BF16_TILE_COLS,
               "BF16_TILE_ROWS x BF16_TILE_COLS (kernels.h) is the register tile");
_Static_assert(BF16_MC % 16 == 0, "A packs 2 panels of 8 rows per 16-lane vector");

/* The width of the micro-panel of B (and of the tiles of C) at column j0 of a block of nc:
 * BF16_NR, except that the last 49..64 columns go as 32 + 17..32, not 48 + 1..16. A tile of
 * one vector has 8 chains of VDPBF16PS, too few to cover its latency, and a broadcast of A
 * for each of them; a tile of two has 16 chains (N = 256 and 1024: the last 64 columns). */
static int panel_cols(int nc, int j0)
{
    int left = nc - j0;
    if (left > BF16_NR && left <= BF16_NR + 16)
        return 32;
    return left < BF16_NR ? left : BF16_NR;
}

/* Packs B[0:kc, 0:nc] as micro-panels of panel_cols columns: the panel at column j0 starts
 * at bp + j0*kp (kp = (kc+1)/2 pairs; every panel before it is a multiple of 16 wide) and
 * holds kp rows of w = round_up(columns, 16) pairs, zero-padded. */
static void pack_b(uint32_t *bp, const float *b, ptrdiff_t rsb, ptrdiff_t csb, int kc, int nc)
{
    int kp = (kc + 1) / 2;
    if (rsb == 1) {                 /* B = w^T: column j is row j of w, along k */
        for (int j0 = 0, nr; j0 < nc; j0 += nr) {
            nr = panel_cols(nc, j0);
            int w = (nr + 15) / 16 * 16;
            for (int j = 0; j < nr; j += 16)
                pack_pairs_t(bp + (size_t)j0 * kp + j, w, 16, b + (j0 + j) * csb, csb,
                             nr - j < 16 ? nr - j : 16, kc);
        }
        return;
    }
    /* row-major B: rows k and k+1 interleaved, each pair of rows read once, left to right,
     * into every panel: two sequential streams, where a panel at a time strode down all kc
     * rows once per panel for 3 lines of each (the hottest packing loop on Zen 5; the
     * order moved the backward GEMMs a few percent, within the machine's noise) */
    for (int k = 0; k < kc; k += 2) {
        const float *x0 = b + k * rsb, *x1 = k + 1 < kc ? x0 + rsb : NULL;
        const float *next = k + BF16_PREFETCH_ROWS + 1 < kc ? x0 + BF16_PREFETCH_ROWS * rsb
                                                            : NULL;
        for (int j0 = 0, nr; j0 < nc; j0 += nr) {
            nr = panel_cols(nc, j0);
            int w = (nr + 15) / 16 * 16;
            uint32_t *d = bp + (size_t)j0 * kp + (size_t)(k / 2) * w;
            for (int j = 0; j < w; j += 16) {
                if (next) {
                    __builtin_prefetch(next + j0 + j);
                    __builtin_prefetch(next + rsb + j0 + j);
                }
                _mm512_store_si512(d + j, pairs_across(x0 + j0 + j, x1 ? x1 + j0 + j : NULL,
                                                       nr - j));
            }
        }
    }
}

/* Packs A[0:mc, 0:kc] as micro-panels of BF16_MR rows: panel p at ap + p*BF16_MR*kp holds
 * ap[q*BF16_MR + i] = pair q of row p*BF16_MR + i, rows past mc zero. */
static void pack_a(uint32_t *ap, const float *a, ptrdiff_t rsa, ptrdiff_t csa, int mc, int kc)
{
    int kp = (kc + 1) / 2;
    if (csa == 1) {                 /* row-major: each row along k, 8 transposed at a time */
        for (int i0 = 0; i0 < mc; i0 += BF16_MR)
            pack_pairs_t(ap + (size_t)i0 * kp, BF16_MR, BF16_MR, a + i0 * rsa, rsa,
                         mc - i0 < BF16_MR ? mc - i0 : BF16_MR, kc);
        return;
    }
    /* column-major (dout^T): rows k and k+1 of dout hold the pair q of 16 rows of A, which
     * go to two panels. 64 rows (8 panels) at a time down all kc rows of dout: across all
     * mc rows per pair, the 32-byte stores went to 24 panels 8 KiB apart, more lines of
     * one L1 set than its ways (each line evicted between its two halves); 16 rows at a
     * time read a single line of each row of dout. Zen 5, 192 x 512: 3.7 Gelem/s the first
     * way, 8-11 the second, 13 this way with dout in L2, 2.0-2.6 against 3.5-4.1 from DRAM */
    for (int i0 = 0; i0 < mc; i0 += BF16_A_GROUP) {
        int i1 = mc - i0 < BF16_A_GROUP ? mc : i0 + BF16_A_GROUP;
        for (int k = 0; k < kc; k += 2) {
            const float *x0 = a + k * csa, *x1 = k + 1 < kc ? x0 + csa : NULL;
            if (k + BF16_PREFETCH_A_ROWS + 1 < kc)
                for (int i = i0; i < i1; i += 16) {
                    __builtin_prefetch(x0 + BF16_PREFETCH_A_ROWS * csa + i);
                    __builtin_prefetch(x0 + (BF16_PREFETCH_A_ROWS + 1) * csa + i);
                }
            for (int i = i0; i < i1; i += 16) {
                __m512i v = pairs_across(x0 + i, x1 ? x1 + i : NULL, mc - i);
                uint32_t *d = ap + (size_t)i * kp + (size_t)(k / 2) * BF16_MR;
                _mm256_storeu_si256((__m256i *)d, _mm512_castsi512_si256(v));
                if (i + BF16_MR < mc)   /* the second panel, if any */
                    _mm256_storeu_si256((__m256i *)(d + (size_t)BF16_MR * kp),
                                        _mm512_extracti64x4_epi64(v, 1));
            }
        }
    }
}

/* The register tile: C[0:m, 0:(nv-1)*16 + nlast] (+)= A B over kp pairs (beta 1: +=, 0: =),
 * A a packed panel (ap[q*BF16_MR + i], zero past row m), B a packed micro-panel (bp[q*nv*16
 * + j], 64-byte aligned rows). nv is a compile-time constant in each instance below, so
 * acc[][] lives in registers. Rows past m load row m-1 (in bounds) and are never stored. */
SIMD_ALWAYS_INLINE void tile_bf16(const int nv, int kp, const uint32_t *ap, const uint32_t *bp,
                                  float *c, ptrdiff_t ldc, int m, int nlast, int beta)
{
    __m512 acc[BF16_MR][BF16_NV];
#pragma GCC unroll 16
    for (int i = 0; i < BF16_MR; i++) {
        const float *cr = c + (i < m ? i : m - 1) * ldc;
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            acc[i][j] = !beta ? _mm512_setzero_ps()
                        : j < nv - 1 || nlast == 16 ? _mm512_loadu_ps(cr + j * 16)
                                                    : _mm512_maskz_loadu_ps(lanes(nlast),
                                                                            cr + j * 16);
    }
    /* per pair: nv loads of B, 8 broadcasts of A (folded into the instructions' memory
     * operand), 8*nv VDPBF16PS */
#pragma GCC unroll 2
    for (int q = 0; q < kp; q++) {
        __m512i bv[BF16_NV];
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            bv[j] = _mm512_load_si512(bp + j * 16);
        bp += nv * 16;
#pragma GCC unroll 16
        for (int i = 0; i < BF16_MR; i++) {
            __m512i ai = _mm512_set1_epi32((int)ap[i]);
#pragma GCC unroll 4
            for (int j = 0; j < nv; j++)
                acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)ai, (__m512bh)bv[j]);
        }
        ap += BF16_MR;
    }
#pragma GCC unroll 16
    for (int i = 0; i < BF16_MR; i++) {
        if (i >= m)
            break;
        float *cr = c + i * ldc;
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++) {
            if (j < nv - 1 || nlast == 16)
                _mm512_storeu_ps(cr + j * 16, acc[i][j]);
            else
                _mm512_mask_storeu_ps(cr + j * 16, lanes(nlast), acc[i][j]);
        }
    }
}

typedef void (*tile_bf16_fn)(int kp, const uint32_t *ap, const uint32_t *bp, float *c,
                             ptrdiff_t ldc, int m, int nlast, int beta);
#define TILE_BF16_INSTANCE(NV)                                                              \
    static void tile_bf16_##NV(int kp, const uint32_t *ap, const uint32_t *bp, float *c,  \
                               ptrdiff_t ldc, int m, int nlast, int beta)                 \
    {                                                                                      \
        tile_bf16(NV, kp, ap, bp, c, ldc, m, nlast, beta);                                 \
    }
TILE_BF16_INSTANCE(1)
TILE_BF16_INSTANCE(2)
TILE_BF16_INSTANCE(3)
_Static_assert(BF16_NV == 3, "one tile_bf16 instance per vector count 1..BF16_NV");
static const tile_bf16_fn tiles_bf16[BF16_NV] = {tile_bf16_1, tile_bf16_2, tile_bf16_3};

/* One row of A against a row-major B read in place (a decode step, core/model/decode.c,
 * multiplies one row by every weight matrix): packing B for it would round, interleave and
 * store every weight to use it once, which cost a decode step more than its products. Here
 * each pair of B is rounded and interleaved in registers by pairs_across, as pack_b does,
 * and the lanes sum the pairs in the tiles' order 0..kp-1 with the same instruction, so
 * the bits are the tiles'. ap: A's pairs (pack_row_pairs). nv is a compile-time constant
 * in each call of gemv_bf16's switch, so acc[] lives in registers. */
#define BF16_GEMV_NV 8
SIMD_ALWAYS_INLINE void gemv_bf16_cols(const int nv, int last, int K, const uint32_t *ap,
                                       const float *b, ptrdiff_t rsb, float *c, int accumulate)
{
    __m512 acc[BF16_GEMV_NV];
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++)
        acc[v] = !accumulate ? _mm512_setzero_ps()
                 : v < nv - 1 || last == 16 ? _mm512_loadu_ps(c + v * 16)
                                            : _mm512_maskz_loadu_ps(lanes(last), c + v * 16);
    int full = K / 2;
    for (int q = 0; q < full; q++) {
        __m512i aq = _mm512_set1_epi32((int)ap[q]);
        const float *x0 = b + (ptrdiff_t)2 * q * rsb, *x1 = x0 + rsb;
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            acc[v] = _mm512_dpbf16_ps(acc[v], (__m512bh)aq,
                                      (__m512bh)pairs_across(x0 + v * 16, x1 + v * 16,
                                                             v < nv - 1 ? 16 : last));
    }
    if (K % 2) {                    /* the last pair: k = K-1 and a zero partner */
        __m512i aq = _mm512_set1_epi32((int)ap[full]);
        const float *x0 = b + (ptrdiff_t)(K - 1) * rsb;
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            acc[v] = _mm512_dpbf16_ps(acc[v], (__m512bh)aq,
                                      (__m512bh)pairs_across(x0 + v * 16, NULL,
                                                             v < nv - 1 ? 16 : last));
    }
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        if (v < nv - 1 || last == 16)
            _mm512_storeu_ps(c + v * 16, acc[v]);
        else
            _mm512_mask_storeu_ps(c + v * 16, lanes(last), acc[v]);
    }
}

/* c[0:N] (+)= a[0:K] @ B, B(k, j) = b[k*rsb + j]; ap: room for K/2 + 16 pairs. */
static void gemv_bf16(int N, int K, const float *a, const float *b, ptrdiff_t rsb, float *c,
                      int accumulate, uint32_t *ap)
{
    for (int k0 = 0; k0 < K; k0 += 32)   /* A's pairs, rounded as pack_a rounds them */
        _mm512_storeu_si512(ap + k0 / 2, pairs_along(a + k0, K - k0 < 32 ? K - k0 : 32));
    for (int j0 = 0; j0 < N; j0 += BF16_GEMV_NV * 16) {
        int nv = (N - j0 + 15) / 16;
        if (nv > BF16_GEMV_NV)
            nv = BF16_GEMV_NV;
        int last = N - j0 - (nv - 1) * 16;   /* lanes of the last vector, 1..16 */
        if (last > 16)
            last = 16;
        switch (nv) {
#define GEMV_CASE(n) \
        case n: gemv_bf16_cols(n, last, K, ap, b + j0, rsb, c + j0, accumulate); break;
        GEMV_CASE(1) GEMV_CASE(2) GEMV_CASE(3) GEMV_CASE(4)
        GEMV_CASE(5) GEMV_CASE(6) GEMV_CASE(7) GEMV_CASE(8)
#undef GEMV_CASE
        }
    }
}
_Static_assert(BF16_GEMV_NV == 8, "gemv_bf16's switch has a case for each count");

size_t SIMD_FN(gemm_bf16_work_floats)(void)
{
    return BF16_WORK_WORDS;         /* 32-bit pairs, one float's room each */
}

/* C[M,N] = A[M,K] B[K,N] (accumulate 0: C stored, never loaded) or C += A B, with A(i,k) =
 * a[i*rsa + k*csa] (csa == 1 or rsa == 1), B(k,j) = b[k*rsb + j*csb] (rsb == 1 or csb == 1)
 * and C(i,j) = c[i*ldc + j]; inputs rounded to bf16, sums in fp32 (the header comment).
 * work: gemm_bf16_work_floats() floats, 64-byte aligned, the calling thread's. */
void SIMD_FN(gemm_bf16)(int M, int N, int K, const float *a, ptrdiff_t rsa, ptrdiff_t csa,
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
    if (M == 1 && csa == 1 && csb == 1 && (size_t)K / 2 + 16 <= BF16_WORK_WORDS) {
        gemv_bf16(N, K, a, b, rsb, c, accumulate, (uint32_t *)work);
        return;
    }
    uint32_t *ap = (uint32_t *)work;                    /* BF16_MC x BF16_KC/2 pairs */
    uint32_t *bp = ap + (size_t)BF16_KC / 2 * BF16_MC;  /* BF16_KC/2 x BF16_NC pairs */
    for (int jc = 0; jc < N; jc += BF16_NC) {
        int nc = N - jc < BF16_NC ? N - jc : BF16_NC;
        for (int pc = 0; pc < K; pc += BF16_KC) {
            int kc = K - pc < BF16_KC ? K - pc : BF16_KC, kp = (kc + 1) / 2;
            int beta = accumulate || pc > 0;
            pack_b(bp, b + pc * rsb + jc * csb, rsb, csb, kc, nc);
            for (int ic = 0; ic < M; ic += BF16_MC) {
                int mc = M - ic < BF16_MC ? M - ic : BF16_MC;
                pack_a(ap, a + ic * rsa + pc * csa, rsa, csa, mc, kc);
                for (int jr = 0, nr; jr < nc; jr += nr) {
                    nr = panel_cols(nc, jr);
                    int nv = (nr + 15) / 16, nlast = nr - (nv - 1) * 16;
                    for (int ir = 0; ir < mc; ir += BF16_MR) {
                        int m = mc - ir < BF16_MR ? mc - ir : BF16_MR;
                        float *ct = c + (ic + ir) * ldc + jc + jr;
                        /* the next tile's rows of C, loaded first and stored last (as in
                         * ../simd/matmul.c: a long k loop hides the fetch) */
                        if (kp >= 32 && ir + 2 * BF16_MR <= mc)
                            for (int i = BF16_MR; i < 2 * BF16_MR; i++)
                                for (int j = 0; j < nr; j += 16)
                                    __builtin_prefetch(ct + i * ldc + j, 1);
                        tiles_bf16[nv - 1](kp, ap + (size_t)ir * kp, bp + (size_t)jr * kp, ct,
                                           ldc, m, nlast, beta);
                    }
                }
            }
        }
    }
}

/* The projections on AMX tiles (AMX-TILE, AMX-BF16): the same three products as
 * ../simd/matmul.c and ../avx512bf16/matmul_bf16.c,
 *
 *   matmul_forward:  out[N,OC]   = inp[N,C]   @ w[OC,C]^T   M=N,  N=OC, K=C   B = w^T
 *   backward dinp:   dinp[N,C]  += dout[N,OC] @ w[OC,C]     M=N,  N=C,  K=OC  B = w
 *   backward dw:     dw[OC,C]   += dout^T     @ inp[N,C]    M=OC, N=C,  K=N   A = dout^T
 *
 * with every element of A and B rounded to bf16 (nearest even) while it is packed, and the
 * products summed in fp32 by TDPBF16PS: C tile (16 rows x 16 fp32) += A tile (16 rows x 16
 * pairs along k) . B tile (16 pairs along k x 16 columns, each a pair). Packed layouts,
 * both cut in chunks of 32 k (16 pairs: one tile) and zero-padded to whole tiles:
 *  - A: panels of 16 rows; chunk t of panel p at ap + (p*kt + t)*256 words, row i at +16i,
 *    word q = pair q of the chunk (bf16_pairs.h's pairs_along of the row);
 *  - B: panels of 16 columns; chunk t of panel p at bp + (p*kt + t)*256, pair-row q at
 *    +16q, word j = pair q of column j (pairs_across of two rows of B).
 * So every tile load is 1 KiB in a row (stride 64 bytes).
 *
 * The micro-kernel holds a block of 32 x 32 of C in four tiles (tmm0-3), two A tiles
 * (tmm4-5) and two B tiles (tmm6-7): per chunk 4 loads and 4 TDPBF16PS (16 x 16 x 32
 * products each). C is loaded from memory (+=) or zeroed (=) before a k-block and stored
 * after it; blocks at the matrix's edge go through a 32 x 32 scratch, zero-padded.
 *
 * Determinism: the k-blocks start at 0 and every chunk at a multiple of 32 whatever part of
 * C is asked for, and each element of a C tile depends only on its row of A and column of
 * B: the sum of an element is the same sequence of instructions for any block [n0,n1) x
 * [o0,o1) of the output and any M (a decode step's one row gives the bits of that row in a
 * full forward). Padding adds products of zero. Between k-blocks C goes through memory as
 * fp32 (exact).
 *
 * Blocking (BLIS's loop nest, jc / pc / ic): B blocks of AMX_KC x AMX_NC, A blocks of
 * AMX_MC x AMX_KC, both within the 2 MiB L2 of Sapphire Rapids (128 KiB of A, 1 MiB of
 * B). Every A element is converted ceil(N/AMX_NC) times, and packing reads fp32 from
 * memory, while the tiles multiply nominally 8x faster than VDPBF16PS (1024 FLOP a cycle
 * against 2 x 64 on Sapphire Rapids): packing is a large share of an AMX GEMM. Timed on a
 * CPU without AMX (AMD Zen 5) with the tiles taken out, the packing and loops of the
 * e768_L4_b64_B16 step's projections took ~98 ms with NC 256 and no prefetch, ~62 with
 * NC 1024 (as avx512bf16's BF16_NC), ~43 with the prefetches and dout^T groups below;
 * the tiles' own 174 GFLOP take ~85 ms at the nominal rate and 2 GHz. NC 2048 and MC 256
 * were within the noise.
 */
#include <string.h>
#include "simd/simd.h"
#include "avx512bf16/bf16_pairs.h"
#include "amx/amx_tiles.h"

#define AMX_TK 32       /* k per chunk: a tile row of 16 bf16 pairs */
#define AMX_MR 32       /* rows of C per micro-kernel: two tiles */
#define AMX_NR 32       /* columns of C per micro-kernel: two tiles */
#define AMX_KC 512
#define AMX_MC 128
#define AMX_NC 1024
/* software prefetch distances of the packing (as ../avx512bf16/matmul_bf16.c's): along k
 * for rows packed 32 k at a time, in rows for row-major B */
#define AMX_PREFETCH_K 64
#define AMX_PREFETCH_ROWS 4
#define AMX_A_GROUP 64  /* rows of dout^T per chunk of dout: 4 panels, 4 lines of each row */
#define AMX_TILE_WORDS 256                                      /* 1 KiB */
#define AMX_PACK_WORDS ((size_t)AMX_KC / 2 * (AMX_MC + AMX_NC))  /* 1.13 MiB */
#define AMX_SCRATCH_FLOATS (AMX_MR * AMX_NR)                     /* 4 KiB */

_Static_assert(AMX_KC % AMX_TK == 0 && AMX_MC % AMX_MR == 0 && AMX_NC % AMX_NR == 0,
               "blocks of whole micro-kernels");
_Static_assert(AMX_MR == BF16_TILE_ROWS && AMX_NR == BF16_TILE_COLS,
               "BF16_TILE_ROWS x BF16_TILE_COLS (kernels.h) is the micro-kernel's block");

/* Up to 16 sequences along k (src + r*lds for r < rows; zero sequences past rows) as kt =
 * ceil(kc/32) tiles of 32 k, tile t at dst + t*AMX_TILE_WORDS: word r*16 + q = pair q of
 * sequence r (transpose 0: the rows of an A tile), or word q*16 + r (transpose 1: the
 * pair-rows of a B tile, its columns' pairs transposed in registers). */
static void pack_sequences(uint32_t *dst, const float *src, ptrdiff_t lds, int rows, int kc,
                           int transpose)
{
    int kt = (kc + AMX_TK - 1) / AMX_TK;
    for (int t = 0; t < kt; t++) {
        int k0 = t * AMX_TK, n = kc - k0 < AMX_TK ? kc - k0 : AMX_TK;
        uint32_t *tile = dst + (size_t)t * AMX_TILE_WORDS;
        if (k0 + AMX_PREFETCH_K + AMX_TK <= kc)
            for (int i = 0; i < rows; i++) {
                __builtin_prefetch(src + i * lds + k0 + AMX_PREFETCH_K);
                __builtin_prefetch(src + i * lds + k0 + AMX_PREFETCH_K + 16);
            }
        vec r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = i < rows ? _mm512_castsi512_ps(pairs_along(src + i * lds + k0, n))
                            : v_zero();
        if (transpose)
            v_transpose(r);         /* r[q]: pair q of the 16 sequences */
        for (int i = 0; i < 16; i++)
            _mm512_store_si512(tile + i * 16, _mm512_castps_si512(r[i]));
    }
}

/* Packs A[0:mc, 0:kc] (mc <= AMX_MC, kc <= AMX_KC) as panels of 16 rows in chunks of 32 k,
 * kt = ceil(kc/32) chunks a panel; rows past mc and k past kc zero. */
static void pack_a(uint32_t *ap, const float *a, ptrdiff_t rsa, ptrdiff_t csa, int mc, int kc)
{
    int kt = (kc + AMX_TK - 1) / AMX_TK;
    if (csa == 1) {                 /* row-major (inp, dout): a row's 32 k are 16 pairs */
        for (int i0 = 0; i0 < mc; i0 += 16)
            pack_sequences(ap + (size_t)(i0 / 16) * kt * AMX_TILE_WORDS, a + i0 * rsa, rsa,
                           mc - i0 < 16 ? mc - i0 : 16, kc, 0);
        return;
    }
    /* column-major (dout^T): pairs across rows k, k+1 of dout hold 16 rows of A, transposed
     * in registers. AMX_A_GROUP rows (4 panels) per chunk of 32 rows of dout: 4 lines of
     * each row read together, where a panel at a time read one line of each */
    for (int g0 = 0; g0 < mc; g0 += AMX_A_GROUP) {
        int g1 = mc - g0 < AMX_A_GROUP ? mc : g0 + AMX_A_GROUP;
        for (int t = 0; t < kt; t++) {
            int k0 = t * AMX_TK;
            if (k0 + 2 * AMX_TK <= kc)  /* the next chunk's 32 rows of dout */
                for (int k = k0 + AMX_TK; k < k0 + 2 * AMX_TK; k++)
                    for (int i = g0; i < g1; i += 16)
                        __builtin_prefetch(a + k * csa + i);
            for (int i0 = g0; i0 < g1; i0 += 16) {
                int rows = mc - i0 < 16 ? mc - i0 : 16;
                uint32_t *tile = ap + ((size_t)(i0 / 16) * kt + t) * AMX_TILE_WORDS;
                vec r[16];
#pragma GCC unroll 16
                for (int q = 0; q < 16; q++) {
                    int k = k0 + 2 * q;
                    const float *x0 = a + k * csa + i0;
                    r[q] = k < kc ? _mm512_castsi512_ps(pairs_across(
                                        x0, k + 1 < kc ? x0 + csa : NULL, rows))
                                  : v_zero();
                }
                v_transpose(r);     /* r[i]: the 16 pairs of row i0+i */
                for (int i = 0; i < 16; i++)
                    _mm512_store_si512(tile + i * 16, _mm512_castps_si512(r[i]));
            }
        }
    }
}

/* Packs B[0:kc, 0:nc] as panels of 16 columns in chunks of 32 k; columns past nc and k
 * past kc zero. */
static void pack_b(uint32_t *bp, const float *b, ptrdiff_t rsb, ptrdiff_t csb, int kc, int nc)
{
    int kt = (kc + AMX_TK - 1) / AMX_TK;
    if (rsb == 1) {                 /* B = w^T: column j is row j of w, along k */
        for (int j0 = 0; j0 < nc; j0 += 16)
            pack_sequences(bp + (size_t)(j0 / 16) * kt * AMX_TILE_WORDS, b + j0 * csb, csb,
                           nc - j0 < 16 ? nc - j0 : 16, kc, 1);
        return;
    }
    /* row-major B: rows k and k+1 interleaved into row q = k % 32 / 2 of tile k / 32 of
     * every panel, each pair of rows read once, left to right, as the avx512bf16 module's
     * pack_b does (a panel of 16 columns at a time strode down all kc rows for one line of
     * each) */
    for (int k = 0; k < kt * AMX_TK; k += 2) {
        const float *x0 = k < kc ? b + k * rsb : NULL;   /* NULL: a zero row past kc */
        const float *x1 = k + 1 < kc ? x0 + rsb : NULL;
        const float *next = k + AMX_PREFETCH_ROWS + 1 < kc ? x0 + AMX_PREFETCH_ROWS * rsb
                                                           : NULL;
        uint32_t *row = bp + (size_t)(k / AMX_TK) * AMX_TILE_WORDS + (k % AMX_TK) / 2 * 16;
        for (int j0 = 0; j0 < nc; j0 += 16) {
            int cols = nc - j0 < 16 ? nc - j0 : 16;
            if (next) {
                __builtin_prefetch(next + j0);
                __builtin_prefetch(next + rsb + j0);
            }
            _mm512_store_si512(row + (size_t)(j0 / 16) * kt * AMX_TILE_WORDS,
                               x0 ? pairs_across(x0 + j0, x1 ? x1 + j0 : NULL, cols)
                                  : _mm512_setzero_si512());
        }
    }
}

/* C[0:32, 0:32] (stride ldc floats; beta 1: +=, 0: =) over kt chunks: ap0/ap1 the panels of
 * rows 0-15 and 16-31, bp0/bp1 those of columns 0-15 and 16-31. mt, nt (1 or 2): how many
 * tile rows and columns hold any of C; the others are neither computed nor stored. The
 * register numbers are literals: the instructions encode them. */
SIMD_ALWAYS_INLINE void block_amx(amx_regs *r, const int mt, const int nt, int kt,
                                  const uint32_t *ap0, const uint32_t *ap1,
                                  const uint32_t *bp0, const uint32_t *bp1, float *c,
                                  ptrdiff_t ldc, int beta)
{
    const ptrdiff_t sc = ldc * (ptrdiff_t)sizeof(float), st = 64;
    if (beta) {
        tile_load(r, 0, c, sc);
        if (nt > 1)
            tile_load(r, 1, c + 16, sc);
        if (mt > 1)
            tile_load(r, 2, c + 16 * ldc, sc);
        if (mt > 1 && nt > 1)
            tile_load(r, 3, c + 16 * ldc + 16, sc);
    } else {
        tile_zero(r, 0);
        if (nt > 1)
            tile_zero(r, 1);
        if (mt > 1)
            tile_zero(r, 2);
        if (mt > 1 && nt > 1)
            tile_zero(r, 3);
    }
    for (int t = 0; t < kt; t++) {
        size_t o = (size_t)t * AMX_TILE_WORDS;
        tile_load(r, 4, ap0 + o, st);
        tile_load(r, 6, bp0 + o, st);
        tile_dpbf16ps(r, 0, 4, 6);
        if (nt > 1) {
            tile_load(r, 7, bp1 + o, st);
            tile_dpbf16ps(r, 1, 4, 7);
        }
        if (mt > 1) {
            tile_load(r, 5, ap1 + o, st);
            tile_dpbf16ps(r, 2, 5, 6);
            if (nt > 1)
                tile_dpbf16ps(r, 3, 5, 7);
        }
    }
    tile_store(r, 0, c, sc);
    if (nt > 1)
        tile_store(r, 1, c + 16, sc);
    if (mt > 1)
        tile_store(r, 2, c + 16 * ldc, sc);
    if (mt > 1 && nt > 1)
        tile_store(r, 3, c + 16 * ldc + 16, sc);
}

/* One block of at most 32 x 32 of C (m rows, n columns): whole blocks in place, the edges
 * through the scratch (C's rows copied in for +=, the block's part copied out after). */
static void block(amx_regs *r, int kt, const uint32_t *ap, const uint32_t *bp, float *c,
                  ptrdiff_t ldc, int m, int n, int beta, float *scratch)
{
    size_t panel = (size_t)kt * AMX_TILE_WORDS;
    const uint32_t *ap1 = ap + panel, *bp1 = bp + panel;
    int mt = m > 16 ? 2 : 1, nt = n > 16 ? 2 : 1;
    if (m == AMX_MR && n == AMX_NR) {
        block_amx(r, 2, 2, kt, ap, ap1, bp, bp1, c, ldc, beta);
        return;
    }
    if (beta) {
        memset(scratch, 0, AMX_SCRATCH_FLOATS * sizeof(float));
        for (int i = 0; i < m; i++)
            memcpy(scratch + i * AMX_NR, c + i * ldc, (size_t)n * sizeof(float));
    }
    /* each shape its own instance: the branches on mt and nt fold away */
    if (mt == 2 && nt == 2)
        block_amx(r, 2, 2, kt, ap, ap1, bp, bp1, scratch, AMX_NR, beta);
    else if (mt == 2)
        block_amx(r, 2, 1, kt, ap, ap1, bp, bp1, scratch, AMX_NR, beta);
    else if (nt == 2)
        block_amx(r, 1, 2, kt, ap, ap1, bp, bp1, scratch, AMX_NR, beta);
    else
        block_amx(r, 1, 1, kt, ap, ap1, bp, bp1, scratch, AMX_NR, beta);
    for (int i = 0; i < m; i++)
        memcpy(c + i * ldc, scratch + i * AMX_NR, (size_t)n * sizeof(float));
}

size_t SIMD_FN(gemm_bf16_work_floats)(void)
{
    return AMX_PACK_WORDS + AMX_SCRATCH_FLOATS;   /* 32-bit pairs, one float's room each */
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
    uint32_t *ap = (uint32_t *)work;                    /* AMX_MC x AMX_KC/2 pairs */
    uint32_t *bp = ap + (size_t)AMX_KC / 2 * AMX_MC;    /* AMX_KC/2 x AMX_NC pairs */
    float *scratch = work + AMX_PACK_WORDS;
    amx_regs regs;
    amx_tilecfg cfg;
    amx_cfg_all_full(&cfg);
    tile_config(&regs, &cfg);
    for (int jc = 0; jc < N; jc += AMX_NC) {
        int nc = N - jc < AMX_NC ? N - jc : AMX_NC;
        for (int pc = 0; pc < K; pc += AMX_KC) {
            int kc = K - pc < AMX_KC ? K - pc : AMX_KC, kt = (kc + AMX_TK - 1) / AMX_TK;
            int beta = accumulate || pc > 0;
            pack_b(bp, b + pc * rsb + jc * csb, rsb, csb, kc, nc);
            for (int ic = 0; ic < M; ic += AMX_MC) {
                int mc = M - ic < AMX_MC ? M - ic : AMX_MC;
                pack_a(ap, a + ic * rsa + pc * csa, rsa, csa, mc, kc);
                for (int jr = 0; jr < nc; jr += AMX_NR) {
                    int n = nc - jr < AMX_NR ? nc - jr : AMX_NR;
                    for (int ir = 0; ir < mc; ir += AMX_MR) {
                        int m = mc - ir < AMX_MR ? mc - ir : AMX_MR;
                        block(&regs, kt, ap + (size_t)(ir / 16) * kt * AMX_TILE_WORDS,
                              bp + (size_t)(jr / 16) * kt * AMX_TILE_WORDS,
                              c + (ic + ir) * ldc + jc + jr, ldc, m, n, beta, scratch);
                    }
                }
            }
        }
    }
    tile_release(&regs);             /* the tile state off again: cheaper context switches */
}

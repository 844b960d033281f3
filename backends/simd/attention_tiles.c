/* Causal attention of the longer heads (the batched configs: T = 16..64, hd = 32..192; see
 * short_head and tile_scratch for which) by register tiles of a few rows by a few vectors,
 * without the GEMM calls, their packing and the full T x T square (measured 1.4-2.7x
 * faster than the GEMM path, T = 16..512). Each lane is one FMA chain in the GEMM path's
 * order. The scratch (in `work`, L1/L2 resident): the head's keys (values) transposed
 * once, kt[i][j] = k_j[i] in rows of Tp = T rounded up to whole vectors (zero padded), and
 * T x Tp matrices of scores whose rows are whole vectors, so no load waits on a masked
 * store. Scores are computed only up to the vector holding the diagonal, the products over
 * j <= t (t >= j) only up to (from) the diagonal: where a partial tile runs past it, the
 * zeros of att and dpre there add exact zeros, as in the GEMM path. The tiles (att_tile)
 * are always inlined into their instances here, one per shape. */
#include "simd/attention.h"

/* Score tiles: rows of ATT_SBLK at a time, whose vectors (up to the last row's diagonal)
 * are split into chunks of at most ATT_SNV; a chunk of nv vectors goes by tiles of
 * ATT_SR<nv> rows, enough independent chains to hide the FMA latency. */
#if SIMD_W >= 16
#define ATT_SBLK 16
#define ATT_SNV 3
#define ATT_SR1 8           /* 8, 16, 24 chains (of 32 zmm); 16 x 1 measured 2-4% slower: */
#define ATT_SR2 8           /* its row pointers spill to xmm registers, and moving them back */
#define ATT_SR3 8           /* takes the FMA ports */
#elif SIMD_W == 8
#define ATT_SBLK 8
#define ATT_SNV 3
#define ATT_SR1 8           /* 8 chains (of 16 ymm); 4 x 2, 4 x 3 */
#define ATT_SR2 4
#define ATT_SR3 4
#else
#define ATT_SBLK 8
#define ATT_SNV 2
#define ATT_SR1 8
#define ATT_SR2 4
#endif
#define ATT_MR GEMM_MR      /* product tile (over hd): the GEMM's register tile */
#define ATT_NV GEMM_NV
#define ATT_RMAX (ATT_SR1 > ATT_MR ? ATT_SR1 : ATT_MR)     /* the most rows of a tile */
#define ATT_NVMAX (ATT_SNV > ATT_NV ? ATT_SNV : ATT_NV)
#define ATT_G (SIMD_W < 8 ? SIMD_W : 8)   /* rows of softmax side by side (G | W) */
_Static_assert(SIMD_W % ATT_MR == 0, "causal_product reads A^T up to round_up(T, ATT_MR)");

/* One step p of att_tile, for its rows i0..i1-1: acc[i] += A(i, p) B(p, :) */
SIMD_ALWAYS_INLINE void att_step(const int nv, const int atr, const int whole, const int i0,
                                 const int i1, vec acc[][ATT_NVMAX], const float *const ar[],
                                 const float *a, ptrdiff_t lda, const float *b, int p, int nlast)
{
    vec bv[ATT_NVMAX];
#pragma GCC unroll 8
    for (int j = 0; j < nv; j++)
        bv[j] = whole || j < nv - 1 ? v_load(b + j * SIMD_W) : v_load_part(b + j * SIMD_W, nlast);
#pragma GCC unroll 16
    for (int i = i0; i < i1; i++) {
        vec ai = v_set1(atr ? a[p * lda + i] : ar[i][p]);
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++)
            acc[i][j] = v_fma(ai, bv[j], acc[i][j]);
    }
}

/* C[r][0:nv vectors) (beta 1: +=, 0: =) sum_{p < k} A(r, p) B(p, :) for the rows r < m of
 * a tile of R rows: A(r, p) = a[r*lda + p] (atr 0) or a[p*lda + r] (atr 1: A transposed),
 * B(p, :) = b + p*ldb, C(r, :) = c + r*ldc. kind 0: the last vector is nlast lanes wide;
 * 1: whole vectors; 2: whole, and the tile (m == R) is on the diagonal of a triangular A,
 * whose zeros it skips (row i ends at p = k - R + i with atr 0, starts at p = i with atr
 * 1; the zeros would add exact zeros). Each lane is one FMA chain over p in order, from +0
 * or from C. Rows past m repeat row m-1 (in bounds, never stored); with atr 1 they read
 * A(m.., p), so a transposed A must be readable up to R columns (padded). Per step: nv
 * loads and R broadcasts for R*nv FMAs. */
SIMD_ALWAYS_INLINE void att_tile(const int R, const int nv, const int atr, const int kind,
                                 int m, int k, const float *a, ptrdiff_t lda, const float *b,
                                 ptrdiff_t ldb, float *c, ptrdiff_t ldc, int nlast, int beta)
{
    const int whole = kind >= 1, tri = kind == 2;
    vec acc[ATT_RMAX][ATT_NVMAX];
    const float *ar[ATT_RMAX];
#pragma GCC unroll 16
    for (int i = 0; i < R; i++) {
        int ii = i < m ? i : m - 1;
        ar[i] = a + ii * lda;   /* (atr 0) */
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++)
            acc[i][j] = !beta ? v_zero()
                        : whole || j < nv - 1 ? v_load(c + ii * ldc + j * SIMD_W)
                                              : v_load_part(c + ii * ldc + j * SIMD_W, nlast);
    }
    int p = 0, pend = tri && !atr ? k - (R - 1) : k;
    if (tri && atr) {
#pragma GCC unroll 16
        for (int q = 0; q < R - 1; q++, p++, b += ldb)      /* rows 0..q */
            att_step(nv, atr, whole, 0, q + 1, acc, ar, a, lda, b, p, nlast);
    }
#pragma GCC unroll 4
    for (; p < pend; p++, b += ldb)
        att_step(nv, atr, whole, 0, R, acc, ar, a, lda, b, p, nlast);
    if (tri && !atr) {
#pragma GCC unroll 16
        for (int q = 0; q < R - 1; q++, p++, b += ldb)      /* rows q+1..R-1 */
            att_step(nv, atr, whole, q + 1, R, acc, ar, a, lda, b, p, nlast);
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; i++) {
        if (i >= m)
            break;
#pragma GCC unroll 8
        for (int j = 0; j < nv; j++) {
            if (whole || j < nv - 1)
                v_store(c + i * ldc + j * SIMD_W, acc[i][j]);
            else
                v_store_part(c + i * ldc + j * SIMD_W, acc[i][j], nlast);
        }
    }
}

typedef void (*att_tile_fn)(int m, int k, const float *a, ptrdiff_t lda, const float *b,
                            ptrdiff_t ldb, float *c, ptrdiff_t ldc, int nlast, int beta);

/* att_stile_NV: a score tile (ATT_SR<NV> rows, whole vectors); att_ptile_NV_ATR_KIND: a
 * product tile (ATT_MR rows) */
#define ATT_STILE(NV)                                                                       \
    static void att_stile_##NV(int m, int k, const float *a, ptrdiff_t lda, const float *b, \
                               ptrdiff_t ldb, float *c, ptrdiff_t ldc, int nlast, int beta) \
    {                                                                                       \
        att_tile(ATT_SR##NV, NV, 0, 1, m, k, a, lda, b, ldb, c, ldc, nlast, beta);          \
    }
#define ATT_PTILE(NV, ATR, KIND)                                                            \
    static void att_ptile_##NV##_##ATR##_##KIND(int m, int k, const float *a,              \
                                                ptrdiff_t lda, const float *b,              \
                                                ptrdiff_t ldb, float *c, ptrdiff_t ldc,     \
                                                int nlast, int beta)                        \
    {                                                                                       \
        att_tile(ATT_MR, NV, ATR, KIND, m, k, a, lda, b, ldb, c, ldc, nlast, beta);         \
    }
#define ATT_PTILES(NV)                                                                      \
    ATT_PTILE(NV, 0, 0) ATT_PTILE(NV, 0, 1) ATT_PTILE(NV, 0, 2)                             \
    ATT_PTILE(NV, 1, 0) ATT_PTILE(NV, 1, 1) ATT_PTILE(NV, 1, 2)
#define ATT_PROW(NV)                                                                        \
    { { att_ptile_##NV##_0_0, att_ptile_##NV##_0_1, att_ptile_##NV##_0_2 },                 \
      { att_ptile_##NV##_1_0, att_ptile_##NV##_1_1, att_ptile_##NV##_1_2 } }

ATT_STILE(1)
ATT_STILE(2)
ATT_PTILES(1)
#if ATT_SNV >= 3
ATT_STILE(3)
#endif
#if ATT_SNV >= 4
#error "add score tile instances for ATT_SNV >= 4"
#endif
#if ATT_NV >= 2
ATT_PTILES(2)
#endif
#if ATT_NV >= 3
ATT_PTILES(3)
#endif
#if ATT_NV >= 4
#error "add product tile instances for ATT_NV >= 4"
#endif

static const int att_srows[ATT_SNV] = {
    ATT_SR1, ATT_SR2,
#if ATT_SNV >= 3
    ATT_SR3,
#endif
};
static const att_tile_fn att_stiles[ATT_SNV] = {
    att_stile_1, att_stile_2,
#if ATT_SNV >= 3
    att_stile_3,
#endif
};
/* att_ptiles[nv - 1][atr][kind] */
static const att_tile_fn att_ptiles[ATT_NV][2][3] = {
    ATT_PROW(1),
#if ATT_NV >= 2
    ATT_PROW(2),
#endif
#if ATT_NV >= 3
    ATT_PROW(3),
#endif
};

/* dst[i*ldd + j] = src[j*lds + i] for i < hd, j < round_up(T, SIMD_W) (0 for j >= T):
 * SIMD_W x SIMD_W transposes, whole blocks without the edge tests. flops 0, bytes 8*T*hd */
static void transpose_head(float *dst, ptrdiff_t ldd, const float *src, ptrdiff_t lds, int T,
                           int hd)
{
    for (int j0 = 0; j0 < T; j0 += SIMD_W) {
        int rows = T - j0 < SIMD_W ? T - j0 : SIMD_W;
        for (int i0 = 0; i0 < hd; i0 += SIMD_W) {
            int cols = hd - i0 < SIMD_W ? hd - i0 : SIMD_W;
            const float *sp = src + j0 * lds + i0;
            float *dp = dst + i0 * ldd + j0;
            vec r[SIMD_W];
            if (rows == SIMD_W && cols == SIMD_W) {
#pragma GCC unroll 16
                for (int i = 0; i < SIMD_W; i++)
                    r[i] = v_load(sp + i * lds);
                v_transpose(r);
#pragma GCC unroll 16
                for (int i = 0; i < SIMD_W; i++)
                    v_store(dp + i * ldd, r[i]);
                continue;
            }
#pragma GCC unroll 16
            for (int i = 0; i < SIMD_W; i++)
                r[i] = i >= rows ? v_zero()
                       : cols == SIMD_W ? v_load(sp + i * lds) : v_load_part(sp + i * lds, cols);
            v_transpose(r);
#pragma GCC unroll 16
            for (int i = 0; i < SIMD_W; i++)
                if (i < cols)
                    v_store(dp + i * ldd, r[i]);
        }
    }
}

/* s[t][0 : the vector holding t] = sum_i a_t[i] kt[i][:] (a_t = a + t*lda; chain i = 0..hd-1,
 * the GEMM's). flops ~T*T*hd (+ the diagonal vectors' rest) */
static void causal_scores(float *s, const float *a, ptrdiff_t lda, const float *kt, int T,
                          int Tp, int hd)
{
    for (int b0 = 0; b0 < T; b0 += ATT_SBLK) {
        int b1 = T - b0 < ATT_SBLK ? T : b0 + ATT_SBLK;
        struct chunks c = chunk_vectors((b1 - 1) / SIMD_W + 1, ATT_SNV);
        for (int ch = 0, v0 = 0, nv; ch < c.nch; ch++, v0 += nv) {
            nv = c.base + (ch < c.extra);
            int R = att_srows[nv - 1];
            for (int t0 = b0; t0 < b1; t0 += R)
                att_stiles[nv - 1](b1 - t0 < R ? b1 - t0 : R, hd, a + t0 * lda, lda,
                                   kt + v0 * SIMD_W, Tp, s + (ptrdiff_t)t0 * Tp + v0 * SIMD_W,
                                   Tp, SIMD_W, 0);
        }
    }
}

/* c_r (+)= sum_p A(r, p) b_p for the T rows r of c (hd wide), causally: atr 0, A = a
 * row-major, p = 0..r; atr 1, A(r, p) = a[p*lda + r], p = r..T-1, a readable (padded) up
 * to column round_up(T, ATT_MR). A tile of rows shares one range of p; a whole one skips
 * A's zeros on the other side of the diagonal, a partial one adds them (exact zeros).
 * flops ~T*T*hd */
static void causal_product(int atr, int T, int hd, const float *a, ptrdiff_t lda,
                           const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int beta)
{
    struct chunks ch = chunk_vectors((hd + SIMD_W - 1) / SIMD_W, ATT_NV);
    for (int r0 = 0; r0 < T; r0 += ATT_MR) {
        int m = T - r0 < ATT_MR ? T - r0 : ATT_MR;
        int k = atr ? T - r0 : r0 + m;
        const float *at = atr ? a + r0 * lda + r0 : a + r0 * lda;
        const float *bt = atr ? b + r0 * ldb : b;
        for (int i = 0, v0 = 0, nv; i < ch.nch; i++, v0 += nv) {
            nv = ch.base + (i < ch.extra);
            int nlast = hd - (v0 + nv - 1) * SIMD_W;
            nlast = nlast < SIMD_W ? nlast : SIMD_W;
            int kind = nlast < SIMD_W ? 0 : m < ATT_MR ? 1 : 2;
            att_ptiles[nv - 1][atr][kind](m, k, at, lda, bt + v0 * SIMD_W, ldb,
                                          c + r0 * ldc + v0 * SIMD_W, ldc, nlast, beta);
        }
    }
}

/* Row t of a causal T x T matrix in rows of whole vectors: vectors 0..t/W-1 are whole, the
 * last one, t/W, holds lanes 0..r-1 with r = t % W + 1 (1..W). Adding a whole last vector
 * as this "tail" adds the same values in the same order as simd_softmax and the GEMM path,
 * and every row of a block of W rows then has the same loop counts (no mispredicted exits
 * from row to row). */

/* Rows t0..t0+G-1 of causal_softmax, side by side (G independent chains of latencies in one
 * stream of instructions: one row alone is two horizontal reductions, exp and a division
 * in a row), all with the same whole vectors nf/W (nf = t0/W*W: G divides W). */
SIMD_ALWAYS_INLINE void softmax_rows(const int G, float *att, float *s, int t0, int T, int Tp,
                                     float scale)
{
    int nf = t0 / SIMD_W * SIMD_W, nt = T - nf < SIMD_W ? T - nf : SIMD_W;
    vec vs = v_set1(scale), vmax[ATT_G], sum[ATT_G], e[ATT_G], inv[ATT_G];
    float *sr[ATT_G], *ar[ATT_G];
#pragma GCC unroll 16
    for (int g = 0; g < G; g++) {   /* the max, exact in any order */
        sr[g] = s + (ptrdiff_t)(t0 + g) * Tp;
        ar[g] = att + (ptrdiff_t)(t0 + g) * T;
        float m = v_hmax_first(v_load(sr[g] + nf), t0 + g + 1 - nf);
        if (nf) {
            vec vm = v_load(sr[g]);
            for (int j = SIMD_W; j < nf; j += SIMD_W)
                vm = v_max(vm, v_load(sr[g] + j));
            float mf = v_hmax(vm);
            m = mf > m ? mf : m;
        }
        vmax[g] = v_set1(m * scale);
        sum[g] = v_zero();
    }
    for (int j = 0; j < nf; j += SIMD_W) {
#pragma GCC unroll 16
        for (int g = 0; g < G; g++) {
            vec x = v_exp(v_sub(v_mul(v_load(sr[g] + j), vs), vmax[g]));
            v_store(sr[g] + j, x);
            sum[g] = v_add(sum[g], x);
        }
    }
#pragma GCC unroll 16
    for (int g = 0; g < G; g++) {
        e[g] = v_keep_first(v_exp(v_sub(v_mul(v_load(sr[g] + nf), vs), vmax[g])),
                            t0 + g + 1 - nf);
        inv[g] = v_set1(1.0f / v_hsum(v_add(sum[g], e[g])));
    }
    for (int j = 0; j < nf; j += SIMD_W) {
#pragma GCC unroll 16
        for (int g = 0; g < G; g++)
            v_store(ar[g] + j, v_mul(v_load(sr[g] + j), inv[g]));
    }
#pragma GCC unroll 16
    for (int g = 0; g < G; g++) {   /* the last vector of e, then zeros up to T */
        if (nt == SIMD_W)
            v_store(ar[g] + nf, v_mul(e[g], inv[g]));
        else
            v_store_part(ar[g] + nf, v_mul(e[g], inv[g]), nt);
        for (int j = nf + SIMD_W; j < T; j += SIMD_W) {
            if (j + SIMD_W <= T)
                v_store(ar[g] + j, v_zero());
            else
                v_store_part(ar[g] + j, v_zero(), T - j);
        }
    }
}

/* att row t = softmax(s[t][0..t] * scale), zeros up to T: simd_max's max and simd_softmax's
 * arithmetic (the GEMM path's) on the padded rows of s, which keep e between the passes
 * over whole vectors. flops ~20*T*T/2, bytes ~16*T*T/2 */
void SIMD_FN(causal_softmax)(float *att, float *s, int T, int Tp, float scale)
{
    int t = 0;
    for (; t + ATT_G <= T; t += ATT_G)
        softmax_rows(ATT_G, att, s, t, T, Tp, scale);
    for (; t < T; t++)
        softmax_rows(1, att, s, t, T, Tp, scale);
}

/* Rows t0..t1-1 of causal_dpre, in two passes each independent across rows (see
 * softmax_rows): the sums, then the rows. */
#define ATT_DROWS 64
static void dpre_rows(float *d, float *ap, const float *att, int t0, int t1, int T, int Tp,
                      float scale)
{
    float dsum[ATT_DROWS];
    for (int t = t0; t < t1; t++)
        dsum[t - t0] = simd_dot(att + (ptrdiff_t)t * T, d + (ptrdiff_t)t * Tp, t + 1);
    vec vs = v_set1(scale);
    for (int t = t0; t < t1; t++) {
        const float *ar = att + (ptrdiff_t)t * T;
        float *dr = d + (ptrdiff_t)t * Tp, *pr = ap + (ptrdiff_t)t * Tp;
        int nf = t / SIMD_W * SIMD_W, r = t + 1 - nf;
        vec ds = v_set1(dsum[t - t0]);
        for (int j = 0; j < nf; j += SIMD_W) {
            vec at = v_load(ar + j);
            v_store(pr + j, at);
            v_store(dr + j, v_mul(v_mul(at, v_sub(v_load(dr + j), ds)), vs));
        }
        vec at = load_row(ar + nf, r);
        v_store(pr + nf, at);
        v_store(dr + nf, v_keep_first(v_mul(v_mul(at, v_sub(v_load(dr + nf), ds)), vs), r));
        for (int j = nf + SIMD_W; j < Tp; j += SIMD_W) {
            v_store(pr + j, v_zero());
            v_store(dr + j, v_zero());
        }
    }
}

/* d[t][:] = dpre row t = att_t * (datt_t - dot(att_t, datt_t)) * scale up to t, zeros up
 * to Tp, in place over datt in d, and ap = att with rows padded to Tp (zeros past t): the
 * GEMM path's arithmetic (simd_dot). flops ~5*T*T/2, bytes ~20*T*T/2 */
void SIMD_FN(causal_dpre)(float *d, float *ap, const float *att, int T, int Tp,
                           float scale)
{
    for (int t0 = 0; t0 < T; t0 += ATT_DROWS)
        dpre_rows(d, ap, att, t0, T - t0 < ATT_DROWS ? T : t0 + ATT_DROWS, T, Tp, scale);
}

/* Forward of one head by tiles (kt, s: scratch of hd x Tp and T x Tp floats):
 *   kt = K^T;  s = Q K^T (causal vectors);  att = softmax(s / sqrt(hd));  out = att V
 * flops ~2*T*T*hd + ~20*T*T/2, bytes 4*(4*T*hd + T*T) */
void SIMD_FN(attention_forward_tiles)(float *out, float *a, const float *q, const float *k,
                                      const float *v, ptrdiff_t C3, ptrdiff_t C, int T, int hd,
                                      float scale, float *kt)
{
    int Tp = (T + SIMD_W - 1) / SIMD_W * SIMD_W;
    float *s = kt + (size_t)hd * Tp;
    transpose_head(kt, Tp, k, C3, T, hd);
    causal_scores(s, q, C3, kt, T, Tp, hd);
    SIMD_FN(causal_softmax)(a, s, T, Tp, scale);
    causal_product(0, T, hd, a, T, v, C3, out, C, 0);
}

/* Backward of one head by tiles (vt, d, ap: scratch of hd x Tp, T x Tp and T x Tp floats):
 *   vt = V^T;  d = dY V^T (causal vectors), then dpre in place;  ap = att padded;
 *   dV += att^T dY;  dQ += dpre K;  dK += dpre^T Q   (= when add == 0, never loaded)
 * flops ~4*T*T*hd + ~6*T*T/2, bytes 4*(10*T*hd + T*T) (3*T*hd less writing) */
void SIMD_FN(attention_backward_tiles)(float *dq, float *dk, float *dv, const float *q,
                                       const float *k, const float *v, const float *dy,
                                       const float *a, ptrdiff_t C3, ptrdiff_t C, int T,
                                       int hd, float scale, int add, float *vt)
{
    int Tp = (T + SIMD_W - 1) / SIMD_W * SIMD_W;
    float *d = vt + (size_t)hd * Tp, *ap = d + (size_t)T * Tp;
    transpose_head(vt, Tp, v, C3, T, hd);
    causal_scores(d, dy, C, vt, T, Tp, hd);
    SIMD_FN(causal_dpre)(d, ap, a, T, Tp, scale);
    causal_product(1, T, hd, ap, Tp, dy, C, dv, C3, add);
    causal_product(0, T, hd, d, Tp, k, C3, dq, C3, add);
    causal_product(1, T, hd, d, Tp, q, C3, dk, C3, add);
}

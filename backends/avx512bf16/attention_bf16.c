/* The attention slots of the bf16 modules: causal multi-head attention whose products
 * (scores Q K^T, out = att V; backward datt = dY V^T, dV = att^T dY, dQ = dpre K,
 * dK = dpre^T Q) take bf16 inputs, rounded to nearest even, and sum in fp32; the softmax,
 * its backward (dpre) and att itself stay fp32, the fp32 modules' own (../simd/attention.h).
 * Two paths, one per head shape (T, hd), so the bits depend on neither the thread count
 * nor the split of the heads:
 *
 *  - tiles (the batched configs, T = 16..64): each operand rounded once per head into bf16
 *    pairs in the workspace, and VDPBF16PS register tiles of up to 8 rows x 3 vectors over
 *    them, only as far as the diagonal needs: the scores' vectors up to the one holding
 *    the last row's diagonal, the sums over keys up to it (att V, dpre K) or from it (att^T
 *    dY, dpre^T Q) in pairs. Past the diagonal att and dpre are 0: a tile's rows that run
 *    past their own diagonal add exact zeros. Softmax and dpre are the fp32 tile path's
 *    (causal_softmax, causal_dpre: rows side by side) over scores in scratch.
 *  - GEMM (heads whose pairs do not fit the workspace: T of about 800 and more): the fp32
 *    modules' GEMM path (../simd/attention.c: the whole T x T square, the scores built in
 *    att and datt) over the module's bf16 GEMM (VDPBF16PS tiles in avx512bf16, TDPBF16PS
 *    in amx).
 *
 * VDPBF16PS sums pairs along k (bf16_pairs.h): a row of A is read as pairs along it (Q's
 * dims, att's and dpre's keys), or, for A^T, as pairs across two of its rows; B likewise
 * (K^T and V^T as pairs along each key's dims, transposed; V, K, Q and dY as pairs across
 * two rows). Every chain runs over the pairs in order from +0 (or from the gradient, when
 * adding). */
#include <math.h>
#include "simd/attention.h"
#include "avx512bf16/bf16_pairs.h"

#define ATT_R 8         /* rows of a register tile */
#define ATT_NV 3        /* vectors of 16 columns per tile: 24 chains */
#define ATT_PREFETCH_ROWS 4
_Static_assert(SIMD_W == 16, "Tp: T in whole vectors of the softmax's, and of pairs");

static inline int round16(int n)
{
    return (n + 15) / 16 * 16;
}

/* The register tile: C[r][0:nv vectors) (beta 1: +=, 0: =) sum over pairs p in [p0, p1) of
 * A(r, p) . B(p, :), r < m (rows past m repeat row m-1 and are not stored). A(r, p) =
 * a[r*lda + p] (atr 0: pairs along the rows of A) or a[p*lda + r] (atr 1: A transposed,
 * pairs across its rows); B(p, :) = b + p*ldb, 16 pairs a vector; C(r, :) = c + r*ldc,
 * the last vector nlast lanes. Per pair: nv loads, 8 broadcasts, 8*nv VDPBF16PS. */
SIMD_ALWAYS_INLINE void tile(const int nv, const int atr, int m, int p0, int p1,
                             const uint32_t *a, ptrdiff_t lda, const uint32_t *b,
                             ptrdiff_t ldb, float *c, ptrdiff_t ldc, int nlast, int beta)
{
    __m512 acc[ATT_R][ATT_NV];
    const uint32_t *ar[ATT_R];
    __mmask16 last = lanes(nlast);
#pragma GCC unroll 8
    for (int i = 0; i < ATT_R; i++) {
        int ii = i < m ? i : m - 1;
        ar[i] = a + ii * lda;   /* (atr 0) */
#pragma GCC unroll 3
        for (int j = 0; j < nv; j++)
            acc[i][j] = !beta ? _mm512_setzero_ps()
                        : j < nv - 1 ? _mm512_loadu_ps(c + ii * ldc + j * 16)
                                     : _mm512_maskz_loadu_ps(last, c + ii * ldc + j * 16);
    }
    const uint32_t *ap = atr ? a + p0 * lda : NULL, *bp = b + p0 * ldb;
    for (int p = p0; p < p1; p++, bp += ldb) {
        __m512i bv[ATT_NV];
#pragma GCC unroll 3
        for (int j = 0; j < nv; j++)
            bv[j] = _mm512_loadu_si512(bp + j * 16);
#pragma GCC unroll 8
        for (int i = 0; i < ATT_R; i++) {
            __m512i ai = _mm512_set1_epi32((int)(atr ? ap[i < m ? i : m - 1] : ar[i][p]));
#pragma GCC unroll 3
            for (int j = 0; j < nv; j++)
                acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)ai, (__m512bh)bv[j]);
        }
        if (atr)
            ap += lda;
    }
#pragma GCC unroll 8
    for (int i = 0; i < ATT_R; i++) {
        if (i >= m)
            break;
#pragma GCC unroll 3
        for (int j = 0; j < nv; j++) {
            if (j < nv - 1)
                _mm512_storeu_ps(c + i * ldc + j * 16, acc[i][j]);
            else
                _mm512_mask_storeu_ps(c + i * ldc + j * 16, last, acc[i][j]);
        }
    }
}

typedef void (*tile_fn)(int m, int p0, int p1, const uint32_t *a, ptrdiff_t lda,
                        const uint32_t *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, int nlast,
                        int beta);
#define ATT_TILE(NV, ATR)                                                                   \
    static void tile_##NV##_##ATR(int m, int p0, int p1, const uint32_t *a, ptrdiff_t lda,  \
                                  const uint32_t *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, \
                                  int nlast, int beta)                                      \
    {                                                                                       \
        tile(NV, ATR, m, p0, p1, a, lda, b, ldb, c, ldc, nlast, beta);                      \
    }
ATT_TILE(1, 0) ATT_TILE(2, 0) ATT_TILE(3, 0)
ATT_TILE(1, 1) ATT_TILE(2, 1) ATT_TILE(3, 1)
static const tile_fn tiles[2][ATT_NV] = {{tile_1_0, tile_2_0, tile_3_0},
                                         {tile_1_1, tile_2_1, tile_3_1}};

/* C[T rows, ncols] (+)= A . B by tiles of ATT_R rows, each row tile r0 over columns
 * [0, cols(r0)) in near-equal chunks of at most ATT_NV vectors (4 as 2 + 2) and over the
 * pairs [p0(r0), p1(r0)): rows of A at a + r0*lda (atr 0) or columns at a + r0 (atr 1).
 * The causal limits, per row tile [r0, r1) of a T x T matrix: scores need columns up to the
 * vector holding r1-1 (cols 0: that), sums along keys up to pair (r1-1)/2 (atr 0) or from
 * pair r0/2 (atr 1; r0 is even). */
static void tiles_causal(int atr, int scores, int T, int ncols, const uint32_t *a,
                         ptrdiff_t lda, const uint32_t *b, ptrdiff_t ldb, int np, float *c,
                         ptrdiff_t ldc, int beta)
{
    for (int r0 = 0; r0 < T; r0 += ATT_R) {
        int m = T - r0 < ATT_R ? T - r0 : ATT_R, r1 = r0 + m;
        int diag = ((r1 - 1) / 16 + 1) * 16;   /* through the vector of row r1-1's diagonal */
        int cols = scores && diag < ncols ? diag : ncols;
        int p0 = scores ? 0 : atr ? r0 / 2 : 0, p1 = scores || atr ? np : (r1 + 1) / 2;
        struct chunks ch = chunk_vectors((cols + 15) / 16, ATT_NV);
        const uint32_t *at = atr ? a + r0 : a + r0 * lda;
        for (int i = 0, v0 = 0, nv; i < ch.nch; i++, v0 += nv) {
            nv = ch.base + (i < ch.extra);
            int nlast = cols - (v0 + nv - 1) * 16;
            tiles[atr][nv - 1](m, p0, p1, at, lda, b + v0 * 16, ldb, c + r0 * ldc + v0 * 16,
                               ldc, nlast < 16 ? nlast : 16, beta);
        }
    }
}

/* dst[r*ldd + p] = pair p of row r (src + r*lds, n elements, zero past n), r < rows:
 * pairs along the rows. flops 0, bytes 6*rows*n */
static void pairs_along_rows(uint32_t *dst, ptrdiff_t ldd, const float *src, ptrdiff_t lds,
                             int rows, int n)
{
    for (int r = 0; r < rows; r++) {
        if (r + ATT_PREFETCH_ROWS < rows)
            for (int k0 = 0; k0 < n; k0 += 16)
                __builtin_prefetch(src + (r + ATT_PREFETCH_ROWS) * lds + k0);
        for (int k0 = 0; k0 < n; k0 += 32)
            _mm512_storeu_si512(dst + r * ldd + k0 / 2,
                                pairs_along(src + r * lds + k0, n - k0 < 32 ? n - k0 : 32));
    }
}

/* dst[p*ldd + i] = (src[2p][i], src[2p+1][i]) for p < ceil(rows/2), i < round16(n) (zero
 * past n, a zero partner past the last row): pairs across the rows. flops 0, bytes 6*rows*n */
static void pairs_across_rows(uint32_t *dst, ptrdiff_t ldd, const float *src, ptrdiff_t lds,
                              int rows, int n)
{
    for (int r = 0; r < rows; r += 2) {
        if (r + ATT_PREFETCH_ROWS + 1 < rows)
            for (int i = 0; i < n; i += 16) {
                __builtin_prefetch(src + (r + ATT_PREFETCH_ROWS) * lds + i);
                __builtin_prefetch(src + (r + ATT_PREFETCH_ROWS + 1) * lds + i);
            }
        for (int i = 0; i < n; i += 16)
            _mm512_storeu_si512(dst + (r / 2) * ldd + i,
                                pairs_across(src + r * lds + i,
                                             r + 1 < rows ? src + (r + 1) * lds + i : NULL,
                                             n - i));
    }
}

/* dst[p*ldd + j] = pair p of row j (src + j*lds, n elements), j < round16(rows) (zero rows
 * past `rows`): the rows' pairs, transposed (K^T, V^T). flops 0, bytes 6*rows*n */
static void pairs_transposed(uint32_t *dst, ptrdiff_t ldd, const float *src, ptrdiff_t lds,
                             int rows, int n)
{
    for (int j0 = 0; j0 < rows; j0 += 16) {
        for (int j = j0 + 16; j < rows && j < j0 + 32; j++)     /* the next 16 rows */
            for (int k0 = 0; k0 < n; k0 += 16)
                __builtin_prefetch(src + j * lds + k0);
        pack_pairs_t(dst + j0, ldd, 16, src + j0 * lds, lds, rows - j0 < 16 ? rows - j0 : 16,
                     n);
    }
}

/* The tile path's shapes: T rows, hd dims; kh pairs of dims (khp: a row of them, whole
 * vectors), th pairs of keys (thp), Tp keys and hdp dims in whole vectors. */
typedef struct {
    int T, hd, kh, khp, th, thp, Tp, hdp;
} head_shape;

static head_shape shape_of(int T, int hd)
{
    head_shape s = {T, hd, (hd + 1) / 2, 0, (T + 1) / 2, 0, round16(T), round16(hd)};
    s.khp = round16(s.kh);
    s.thp = round16(s.th);
    return s;
}

/* words of scratch: forward K^T, Q, att (pairs along) and V (across), the scores (fp32,
 * T x Tp); backward V^T, dY, dpre (along) and K, att^T, dY, dpre^T, Q (across), datt/dpre
 * and att padded (fp32, T x Tp each) */
static size_t forward_words(head_shape s)
{
    return (size_t)s.kh * s.Tp + (size_t)s.T * s.khp + (size_t)s.T * s.thp +
           (size_t)s.th * s.hdp + (size_t)s.T * s.Tp;
}

static size_t backward_words(head_shape s)
{
    return (size_t)s.kh * s.Tp + (size_t)s.T * s.khp + (size_t)s.T * s.thp +
           3 * (size_t)s.th * s.hdp + 2 * (size_t)s.th * s.Tp + 2 * (size_t)s.T * s.Tp;
}

/* forward of one head by tiles:  s = Q K^T (scratch, whole vectors up to the diagonal's),
 * att = softmax(s * scale) (../simd's causal_softmax, rows side by side), out = att V.
 * flops ~2*T*T*hd + the softmax's, bytes 4*(4*T*hd + T*T) */
static void forward_tiles(float *out, float *a, const float *q, const float *k,
                          const float *v, ptrdiff_t C3, ptrdiff_t C, head_shape s,
                          float scale, uint32_t *w)
{
    int T = s.T, hd = s.hd;
    uint32_t *kt = w, *q2 = kt + (size_t)s.kh * s.Tp, *a2 = q2 + (size_t)T * s.khp;
    uint32_t *v2 = a2 + (size_t)T * s.thp;
    float *sc = (float *)(v2 + (size_t)s.th * s.hdp);
    pairs_transposed(kt, s.Tp, k, C3, T, hd);
    pairs_along_rows(q2, s.khp, q, C3, T, hd);
    tiles_causal(0, 1, T, s.Tp, q2, s.khp, kt, s.Tp, s.kh, sc, s.Tp, 0);
    SIMD_FN(causal_softmax)(a, sc, T, s.Tp, scale);
    pairs_along_rows(a2, s.thp, a, T, T, T);
    pairs_across_rows(v2, s.hdp, v, C3, T, hd);
    tiles_causal(0, 0, T, hd, a2, s.thp, v2, s.hdp, s.th, out, C, 0);
}

/* backward of one head by tiles:  d = dY V^T (scratch), then dpre in place and att padded
 * (../simd's causal_dpre);  dQ (+)= dpre K;  dV (+)= att^T dY;  dK (+)= dpre^T Q.
 * flops ~4*T*T*hd + ~6*T*T/2, bytes 4*(10*T*hd + T*T) */
static void backward_tiles(float *dq, float *dk, float *dv, const float *q, const float *k,
                           const float *v, const float *dy, const float *a, ptrdiff_t C3,
                           ptrdiff_t C, head_shape s, float scale, int add, uint32_t *w)
{
    int T = s.T, hd = s.hd;
    uint32_t *vt = w, *dy2 = vt + (size_t)s.kh * s.Tp, *d2 = dy2 + (size_t)T * s.khp;
    uint32_t *k2 = d2 + (size_t)T * s.thp, *dyc = k2 + (size_t)s.th * s.hdp;
    uint32_t *q2 = dyc + (size_t)s.th * s.hdp, *at = q2 + (size_t)s.th * s.hdp;
    uint32_t *dt = at + (size_t)s.th * s.Tp;
    float *d = (float *)(dt + (size_t)s.th * s.Tp), *ap = d + (size_t)T * s.Tp;
    pairs_transposed(vt, s.Tp, v, C3, T, hd);
    pairs_along_rows(dy2, s.khp, dy, C, T, hd);
    tiles_causal(0, 1, T, s.Tp, dy2, s.khp, vt, s.Tp, s.kh, d, s.Tp, 0);
    SIMD_FN(causal_dpre)(d, ap, a, T, s.Tp, scale);
    pairs_along_rows(d2, s.thp, d, s.Tp, T, T);
    pairs_across_rows(k2, s.hdp, k, C3, T, hd);
    tiles_causal(0, 0, T, hd, d2, s.thp, k2, s.hdp, s.th, dq, C3, add);
    pairs_across_rows(at, s.Tp, ap, s.Tp, T, T);
    pairs_across_rows(dyc, s.hdp, dy, C, T, hd);
    tiles_causal(1, 0, T, hd, at, s.Tp, dyc, s.hdp, s.th, dv, C3, add);
    pairs_across_rows(dt, s.Tp, d, s.Tp, T, T);
    pairs_across_rows(q2, s.hdp, q, C3, T, hd);
    tiles_causal(1, 0, T, hd, dt, s.Tp, q2, s.hdp, s.th, dk, C3, add);
}

/* The slots, as ../simd/attention.c's: the (document, head) pairs bh in [bh0, bh1), on the
 * calling thread's workspace.
 * forward: flops pairs*(4*hd + 5), bytes 4*(3*N*C + B*H*T*T + N*C) for the whole call
 * (pairs = B*H*T*(T+1)/2 causal (query, key) pairs, hd = C/H) */
void SIMD_FN(attention_forward_bf16)(const mgpt_ctx *ctx, float *out, float *att,
                                     const float *qkv, int B, int T, int C, int H, int bh0,
                                     int bh1)
{
    (void)B;
    float *work = simd_work(ctx);
    int hd = C / H;
    ptrdiff_t C3 = 3 * (ptrdiff_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    head_shape s = shape_of(T, hd);
    int tiled = forward_words(s) <= SIMD_FN(gemm_bf16_work_floats)();
    for (int bh = bh0; bh < bh1; bh++) {
        int b = bh / H, h = bh % H;
        const float *q = qkv + (size_t)b * T * C3 + h * hd;
        float *o = out + (size_t)b * T * C + h * hd, *a = att + (size_t)bh * T * T;
        if (tiled)
            forward_tiles(o, a, q, q + C, q + 2 * C, C3, C, s, scale, (uint32_t *)work);
        else
            SIMD_FN(attention_forward_gemm)(o, a, q, q + C, q + 2 * C, C3, C, T, hd, scale,
                                            SIMD_FN(gemm_bf16), work);
    }
}

/* flops pairs*(8*hd + 4), bytes 4*(3*3*N*C + 2*B*H*T*T + N*C), 4*3*N*C less writing dqkv */
void SIMD_FN(attention_backward_bf16)(const mgpt_ctx *ctx, float *dqkv, float *datt,
                                      const float *dout, const float *qkv, const float *att,
                                      int B, int T, int C, int H, int bh0, int bh1,
                                      unsigned write)
{
    (void)B;
    float *work = simd_work(ctx);
    int hd = C / H, add = !(write & MGPT_WRITE_DINP);
    ptrdiff_t C3 = 3 * (ptrdiff_t)C;
    float scale = 1.0f / sqrtf((float)hd);
    head_shape s = shape_of(T, hd);
    int tiled = backward_words(s) <= SIMD_FN(gemm_bf16_work_floats)();
    for (int bh = bh0; bh < bh1; bh++) {
        int b = bh / H, h = bh % H;
        size_t qo = (size_t)b * T * C3 + h * hd, ao = (size_t)bh * T * T;
        const float *q = qkv + qo, *dy = dout + (size_t)b * T * C + h * hd;
        float *dq = dqkv + qo;
        if (tiled)
            backward_tiles(dq, dq + C, dq + 2 * C, q, q + C, q + 2 * C, dy, att + ao, C3, C,
                           s, scale, add, (uint32_t *)work);
        else
            SIMD_FN(attention_backward_gemm)(dq, dq + C, dq + 2 * C, datt + ao, q, q + C,
                                             q + 2 * C, dy, att + ao, C3, C, T, hd, scale, add,
                                             SIMD_FN(gemm_bf16), work);
    }
}

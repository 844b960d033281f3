/* Vector mapping for AVX-512 (F, BW, VL, DQ): 16 floats per vector, tails by mask
 * registers. The shared kernels in this folder see only these names (see simd.h). */
#ifndef MGPT_VEC_AVX512_H
#define MGPT_VEC_AVX512_H
#if !defined(__AVX512F__) || !defined(__AVX512DQ__)
#error "vec_avx512.h needs -mavx512f -mavx512bw -mavx512vl -mavx512dq"
#endif
#include <immintrin.h>

#define SIMD_W 16           /* floats per vector */
typedef __m512 vec;
typedef __m512d vecd;       /* SIMD_W / 2 doubles (sumsq widens each half of a vec) */
typedef __mmask16 vmask;    /* one bit per lane */

/* Matmul: a register tile of GEMM_MR rows x GEMM_NV vectors (24 of the 32 zmm registers
 * accumulate).
 * The cache blocking around it is the same for every ISA (matmul.c). */
#define GEMM_MR 8
#define GEMM_NV 3
#define PEAK_CHAINS 16      /* independent FMA chains: 2 ports x 4 cycles, doubled */

static inline vec v_zero(void) { return _mm512_setzero_ps(); }
static inline vec v_set1(float x) { return _mm512_set1_ps(x); }
static inline vec v_load(const float *p) { return _mm512_loadu_ps(p); }
static inline vec v_load_aligned(const float *p) { return _mm512_load_ps(p); }
static inline void v_store(float *p, vec v) { _mm512_storeu_ps(p, v); }

/* Tails: 0 < n < SIMD_W lanes; loads fill the other lanes with 0, stores leave them,
 * v_keep_first zeroes them. */
static inline __mmask16 v_tail_mask(int n) { return (__mmask16)((1u << n) - 1u); }
static inline vec v_load_part(const float *p, int n)
{
    return _mm512_maskz_loadu_ps(v_tail_mask(n), p);
}
static inline void v_store_part(float *p, vec v, int n)
{
    _mm512_mask_storeu_ps(p, v_tail_mask(n), v);
}
static inline vec v_keep_first(vec v, int n) { return _mm512_maskz_mov_ps(v_tail_mask(n), v); }

static inline vec v_add(vec a, vec b) { return _mm512_add_ps(a, b); }
static inline vec v_sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
static inline vec v_mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
static inline vec v_div(vec a, vec b) { return _mm512_div_ps(a, b); }
static inline vec v_sqrt(vec a) { return _mm512_sqrt_ps(a); }
static inline vec v_max(vec a, vec b) { return _mm512_max_ps(a, b); }
static inline vec v_min(vec a, vec b) { return _mm512_min_ps(a, b); }
static inline vec v_fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); } /* a*b+c */
static inline float v_hsum(vec v) { return _mm512_reduce_add_ps(v); }
static inline float v_hmax(vec v) { return _mm512_reduce_max_ps(v); }
static inline float v_hmax_first(vec v, int n)   /* max of lanes 0..n-1, 0 < n <= SIMD_W */
{
    return _mm512_mask_reduce_max_ps((__mmask16)((1u << n) - 1u), v);
}

/* r[0..15] = the columns of the 16x16 matrix whose rows are r[0..15]; always inlined (GCC
 * keeps it out of line, r then goes through memory: attention 1-3% slower) */
static inline __attribute__((always_inline)) void v_transpose(vec r[SIMD_W])
{
    __m512 t[16], u[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {   /* pairs of rows interleaved, within 128-bit lanes */
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {   /* lane L of u[4g + c]: column 4L+c of rows 4g..4g+3 */
        u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {   /* a 4x4 transpose of 128-bit lanes per c */
        __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}

static inline vmask v_gt(vec a, vec b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
static inline vec v_and_mask(vec v, vmask m) { return _mm512_maskz_mov_ps(m, v); } /* m ? v : 0 */
static inline vec v_round(vec v)  /* to nearest integer, ties to even */
{
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vec v_ldexp(vec v, vec n) { return _mm512_scalef_ps(v, n); } /* v * 2^n, n integral */

static inline vecd vd_zero(void) { return _mm512_setzero_pd(); }
static inline vecd vd_lo(vec v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline vecd vd_hi(vec v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
static inline vecd vd_add(vecd a, vecd b) { return _mm512_add_pd(a, b); }
static inline vecd vd_fma(vecd a, vecd b, vecd c) { return _mm512_fmadd_pd(a, b, c); }
static inline double vd_hsum(vecd v) { return _mm512_reduce_add_pd(v); }
#endif

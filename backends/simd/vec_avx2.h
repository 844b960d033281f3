/* Vector mapping for AVX2 + FMA: 8 floats per vector, tails by vmaskmov. The shared kernels
 * in this folder see only these names (see simd.h). */
#ifndef MGPT_VEC_AVX2_H
#define MGPT_VEC_AVX2_H
#if !defined(__AVX2__) || !defined(__FMA__)
#error "vec_avx2.h needs -mavx2 -mfma"
#endif
#include <math.h>
#include <stdint.h>
#include <immintrin.h>

#define SIMD_W 8
typedef __m256 vec;
typedef __m256d vecd;       /* SIMD_W / 2 doubles */
typedef __m256 vmask;       /* all-ones / all-zeros lanes */

/* Matmul: a register tile of 4 rows x 3 vectors (12 of the 16 ymm registers accumulate,
 * 3 hold B, 1 the broadcast A: 7 loads per 12 FMAs, measured 2-9% faster than BLIS's 6x16).
 * The cache blocking around it is the same for every ISA (matmul.c). */
#define GEMM_MR 4
#define GEMM_NV 3
#define PEAK_CHAINS 12      /* 2 FMA ports x 4 cycles, plus slack */

static inline vec v_zero(void) { return _mm256_setzero_ps(); }
static inline vec v_set1(float x) { return _mm256_set1_ps(x); }
static inline vec v_load(const float *p) { return _mm256_loadu_ps(p); }
static inline vec v_load_aligned(const float *p) { return _mm256_load_ps(p); }
static inline void v_store(float *p, vec v) { _mm256_storeu_ps(p, v); }

/* Tails: 0 < n < SIMD_W lanes; loads fill the other lanes with 0, stores leave them (and
 * masked-off lanes never fault), v_keep_first zeroes them. */
static inline __m256i v_tail_mask(int n)
{
    static const int32_t ones_then_zeros[16] = { -1, -1, -1, -1, -1, -1, -1, -1,
                                                 0, 0, 0, 0, 0, 0, 0, 0 };
    return _mm256_loadu_si256((const __m256i *)(ones_then_zeros + 8 - n));
}
static inline vec v_load_part(const float *p, int n)
{
    return _mm256_maskload_ps(p, v_tail_mask(n));
}
static inline void v_store_part(float *p, vec v, int n)
{
    _mm256_maskstore_ps(p, v_tail_mask(n), v);
}
static inline vec v_keep_first(vec v, int n)
{
    return _mm256_and_ps(v, _mm256_castsi256_ps(v_tail_mask(n)));
}

static inline vec v_add(vec a, vec b) { return _mm256_add_ps(a, b); }
static inline vec v_sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
static inline vec v_mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
static inline vec v_div(vec a, vec b) { return _mm256_div_ps(a, b); }
static inline vec v_sqrt(vec a) { return _mm256_sqrt_ps(a); }
static inline vec v_max(vec a, vec b) { return _mm256_max_ps(a, b); }
static inline vec v_min(vec a, vec b) { return _mm256_min_ps(a, b); }
static inline vec v_fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); } /* a*b+c */
static inline float v_hsum(vec v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float v_hmax(vec v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float v_hmax_first(vec v, int n)   /* max of lanes 0..n-1, 0 < n <= SIMD_W */
{
    if (n < SIMD_W)
        v = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v,
                             _mm256_castsi256_ps(v_tail_mask(n)));
    return v_hmax(v);
}

/* r[0..7] = the columns of the 8x8 matrix whose rows are r[0..7] */
static inline void v_transpose(vec r[SIMD_W])
{
    __m256 t[8], u[8];
#pragma GCC unroll 8
    for (int i = 0; i < 4; i++) {   /* pairs of rows interleaved, within 128-bit lanes */
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < 2; g++) {   /* u[4g + c]: column c (and c+4) of rows 4g..4g+3 */
        u[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

static inline vmask v_gt(vec a, vec b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vec v_and_mask(vec v, vmask m) { return _mm256_and_ps(v, m); } /* m ? v : 0 */
static inline vec v_round(vec v)  /* to nearest integer, ties to even */
{
    return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vec v_ldexp(vec v, vec n)  /* v * 2^n, n integral in [-126, 127] */
{
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_mul_ps(v, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));
}

static inline vecd vd_zero(void) { return _mm256_setzero_pd(); }
static inline vecd vd_lo(vec v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
static inline vecd vd_hi(vec v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
static inline vecd vd_add(vecd a, vecd b) { return _mm256_add_pd(a, b); }
static inline vecd vd_fma(vecd a, vecd b, vecd c) { return _mm256_fmadd_pd(a, b, c); }
static inline double vd_hsum(vecd v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
#endif

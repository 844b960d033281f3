/* Vector mapping for SSE4.1/4.2 (no FMA: v_fma is a multiply then an add, two roundings,
 * exactly like the scalar reference). 4 floats per vector; tails by partial loads and
 * stores of 1, 2 or 3 floats. The shared kernels see only these names (see simd.h). */
#ifndef MGPT_VEC_SSE_H
#define MGPT_VEC_SSE_H
#if !defined(__SSE4_1__)
#error "vec_sse.h needs -msse4.2"
#endif
#include <math.h>
#include <stdint.h>
#include <smmintrin.h>

#define SIMD_W 4
typedef __m128 vec;
typedef __m128d vecd;       /* SIMD_W / 2 doubles */
typedef __m128 vmask;       /* all-ones / all-zeros lanes */

/* Matmul: a register tile of 4 rows x 3 vectors (12 of the 16 xmm registers accumulate,
 * 3 hold B, 1 the broadcast A: measured faster than 6x2, 5x2, 4x2, 8x1).
 * The cache blocking around it is the same for every ISA (matmul.c). */
#define GEMM_MR 4
#define GEMM_NV 3
#define PEAK_CHAINS 12      /* mul (4 cycles) + add (3) chains over 2 mul and 2 add ports */

static inline vec v_zero(void) { return _mm_setzero_ps(); }
static inline vec v_set1(float x) { return _mm_set1_ps(x); }
static inline vec v_load(const float *p) { return _mm_loadu_ps(p); }
static inline vec v_load_aligned(const float *p) { return _mm_load_ps(p); }
static inline void v_store(float *p, vec v) { _mm_storeu_ps(p, v); }

/* Tails: 0 < n < SIMD_W lanes; loads fill the other lanes with 0, stores leave them (and
 * neither touches memory past p[n-1]), v_keep_first zeroes them. */
static inline vec v_load_part(const float *p, int n)
{
    if (n == 1)
        return _mm_load_ss(p);
    vec lo = _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)p);
    return n == 2 ? lo : _mm_movelh_ps(lo, _mm_load_ss(p + 2));
}
static inline void v_store_part(float *p, vec v, int n)
{
    if (n == 1) {
        _mm_store_ss(p, v);
        return;
    }
    _mm_storel_pi((__m64 *)p, v);
    if (n == 3)
        _mm_store_ss(p + 2, _mm_movehl_ps(v, v));
}
static inline vec v_tail_mask(int n)     /* lanes 0..n-1 all ones, the others 0 */
{
    static const int32_t ones_then_zeros[8] = { -1, -1, -1, -1, 0, 0, 0, 0 };
    return _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(ones_then_zeros + 4 - n)));
}
static inline vec v_keep_first(vec v, int n) { return _mm_and_ps(v, v_tail_mask(n)); }

static inline vec v_add(vec a, vec b) { return _mm_add_ps(a, b); }
static inline vec v_sub(vec a, vec b) { return _mm_sub_ps(a, b); }
static inline vec v_mul(vec a, vec b) { return _mm_mul_ps(a, b); }
static inline vec v_div(vec a, vec b) { return _mm_div_ps(a, b); }
static inline vec v_sqrt(vec a) { return _mm_sqrt_ps(a); }
static inline vec v_max(vec a, vec b) { return _mm_max_ps(a, b); }
static inline vec v_min(vec a, vec b) { return _mm_min_ps(a, b); }
static inline vec v_fma(vec a, vec b, vec c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
static inline float v_hsum(vec v)
{
    vec s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float v_hmax(vec v)
{
    vec s = _mm_max_ps(v, _mm_movehl_ps(v, v));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float v_hmax_first(vec v, int n)   /* max of lanes 0..n-1, 0 < n <= SIMD_W */
{
    if (n < SIMD_W)
        v = _mm_blendv_ps(_mm_set1_ps(-INFINITY), v, v_tail_mask(n));
    return v_hmax(v);
}

/* r[0..3] = the columns of the 4x4 matrix whose rows are r[0..3] */
static inline void v_transpose(vec r[SIMD_W]) { _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]); }

static inline vmask v_gt(vec a, vec b) { return _mm_cmpgt_ps(a, b); }
static inline vec v_and_mask(vec v, vmask m) { return _mm_and_ps(v, m); } /* m ? v : 0 */
static inline vec v_round(vec v)  /* to nearest integer, ties to even */
{
    return _mm_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vec v_ldexp(vec v, vec n)  /* v * 2^n, n integral in [-126, 127] */
{
    __m128i e = _mm_add_epi32(_mm_cvtps_epi32(n), _mm_set1_epi32(127));
    return _mm_mul_ps(v, _mm_castsi128_ps(_mm_slli_epi32(e, 23)));
}

static inline vecd vd_zero(void) { return _mm_setzero_pd(); }
static inline vecd vd_lo(vec v) { return _mm_cvtps_pd(v); }
static inline vecd vd_hi(vec v) { return _mm_cvtps_pd(_mm_movehl_ps(v, v)); }
static inline vecd vd_add(vecd a, vecd b) { return _mm_add_pd(a, b); }
static inline vecd vd_fma(vecd a, vecd b, vecd c) { return _mm_add_pd(_mm_mul_pd(a, b), c); }
static inline double vd_hsum(vecd v) { return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v))); }
#endif

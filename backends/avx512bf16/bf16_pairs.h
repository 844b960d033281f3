/* Rounding fp32 to bf16 pairs (AVX512-BF16), the packing primitives of the bf16 GEMMs
 * (matmul_bf16.c here, ../amx/matmul_amx.c): VDPBF16PS and TDPBF16PS both multiply PAIRS
 * along k, a 32-bit word holding bf16(x[k]) in its low half and bf16(x[k+1]) in its high
 * half, rounded to nearest even by VCVTNE2PS2BF16. Include after simd/simd.h, in a source
 * compiled with -mavx512bf16. */
#ifndef MGPT_BF16_PAIRS_H
#define MGPT_BF16_PAIRS_H
#include <stdint.h>
#include <immintrin.h>

/* the first n of 16 lanes (none for n <= 0) */
static inline __mmask16 lanes(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* x[0..n) (n <= 32, zero past it) as 16 bf16 pairs: dword q = bf16(x[2q]) | bf16(x[2q+1]) << 16 */
static inline __m512i pairs_along(const float *x, int n)
{
    __m512 lo = _mm512_maskz_loadu_ps(lanes(n), x);
    __m512 hi = _mm512_maskz_loadu_ps(lanes(n - 16), x + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);   /* words 0..31: bf16(x[0..31]) */
}

/* word 2j <- j, word 2j+1 <- 16 + j: two rows of 16 bf16 interleaved into pairs */
static const uint16_t interleave_words[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21,
                                              6, 22, 7, 23, 8, 24, 9, 25, 10, 26, 11, 27,
                                              12, 28, 13, 29, 14, 30, 15, 31};

/* The pairs across two rows: dword j = bf16(x0[j]) | bf16(x1[j]) << 16, j < n (n <= 16,
 * zero past it); x1 NULL: a zero partner (the odd K's last pair). */
static inline __m512i pairs_across(const float *x0, const float *x1, int n)
{
    __m512 a = _mm512_maskz_loadu_ps(lanes(n), x0);
    __m512 b = x1 ? _mm512_maskz_loadu_ps(lanes(n), x1) : _mm512_setzero_ps();
    __m512i t = (__m512i)_mm512_cvtne2ps_pbh(b, a);   /* words: a[0..15], b[0..15] */
    return _mm512_permutexvar_epi16(_mm512_loadu_si512(interleave_words), t);
}

#endif

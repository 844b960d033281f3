/* Rounding fp32 to bf16 pairs (AVX512-BF16), the packing primitives of the bf16 GEMMs
 * (matmul_bf16.c here, ../amx/matmul_amx.c): VDPBF16PS and TDPBF16PS both multiply PAIRS
 * along k, a 32-bit word holding bf16(x[k]) in its low half and bf16(x[k+1]) in its high
 * half, rounded to nearest even by VCVTNE2PS2BF16; and the transposed packing of 16
 * sequences along k (pack_pairs_t: the GEMM's and attention_bf16.c's). Include after
 * simd/simd.h (vec, v_transpose), in a source compiled with -mavx512bf16. */
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

/* Sequences read 32 k at a time, 16 of them: 16 streams, more than the hardware
 * prefetchers follow; each row's 2 lines 2 chunks ahead are prefetched (matmul_bf16.c) */
#define BF16_PREFETCH_K 64

/* Sequences along k, src[r*lds + k] for r < rows (<= 16), k < kc, as pairs transposed:
 * dst[q*ldd + r] = pair q of sequence r for r < width (zero for r >= rows), q < (kc+1)/2.
 * 32 k-steps of 16 sequences at a time: 16 x 16 pairs, transposed in registers. */
static inline void pack_pairs_t(uint32_t *dst, ptrdiff_t ldd, int width, const float *src,
                                ptrdiff_t lds, int rows, int kc)
{
    __mmask16 wmask = lanes(width);
    for (int k0 = 0; k0 < kc; k0 += 32) {
        int n = kc - k0 < 32 ? kc - k0 : 32;
        vec r[16];
        if (k0 + BF16_PREFETCH_K + 32 <= kc)
            for (int i = 0; i < rows; i++) {
                __builtin_prefetch(src + i * lds + k0 + BF16_PREFETCH_K);
                __builtin_prefetch(src + i * lds + k0 + BF16_PREFETCH_K + 16);
            }
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = i < rows ? _mm512_castsi512_ps(pairs_along(src + i * lds + k0, n))
                            : v_zero();
        v_transpose(r);             /* r[q]: pair q of the 16 sequences */
        uint32_t *d = dst + (size_t)(k0 / 2) * ldd;
        for (int q = 0; q < (n + 1) / 2; q++)
            _mm512_mask_storeu_epi32(d + q * ldd, wmask, _mm512_castps_si512(r[q]));
    }
}

#endif

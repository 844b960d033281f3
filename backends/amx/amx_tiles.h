/* The AMX tile operations matmul_amx.c and probes_amx.c are written in: the hardware's
 * (AMX-TILE, AMX-BF16 intrinsics) or, built with MGPT_AMX_EMULATE, the same operations in
 * plain C after the pseudo-code of the Intel SDM (TILELOADD, TILESTORED, TILEZERO,
 * TDPBF16PS). The emulated build is the test module mgpt_amxemu.so: it runs the AMX GEMM's
 * packing, blocking and tails through mgpt-check-backend on a CPU without AMX.
 *
 * Every operation names its tile registers by constant numbers, as the instructions do
 * (immediates), and takes an amx_regs*: empty in the hardware build (the registers are the
 * CPU's), the eight tiles' bytes and shapes in the emulated one (on the caller's stack: a
 * module keeps no writable globals). Palette 1: 8 tiles of up to 16 rows x 64 bytes. */
#ifndef MGPT_AMX_TILES_H
#define MGPT_AMX_TILES_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define AMX_ROWS 16     /* rows of a tile */
#define AMX_COLSB 64    /* bytes of a tile row: 16 fp32, or 16 bf16 pairs */

/* The 64-byte operand of LDTILECFG */
typedef struct amx_tilecfg {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_tilecfg;
_Static_assert(sizeof(amx_tilecfg) == 64, "LDTILECFG reads 64 bytes");

/* Every tile 16 rows x 64 bytes: C tiles of 16 x 16 fp32, A tiles of 16 rows x 16 pairs
 * along k, B tiles of 16 pairs along k x 16 columns. */
static inline void amx_cfg_all_full(amx_tilecfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg->rows[t] = AMX_ROWS;
        cfg->colsb[t] = AMX_COLSB;
    }
}

#ifndef MGPT_AMX_EMULATE
#include <immintrin.h>

typedef struct amx_regs {
    char unused;
} amx_regs;

/* GCC's tile intrinsics are asm statements that name only their pointer: LDTILECFG
 * declares 8 of its 64 bytes read and TILELOADD no memory at all, so the compiler could
 * drop or sink the stores that filled them. The empty asm with a "memory" clobber (and the
 * pointer as an input) makes every store before it land first. The register arguments must
 * be literal numbers: the intrinsics paste them into the instruction's text. */
#define AMX_STORES_LAND(p) __asm__ volatile("" : : "r"(p) : "memory")
#define tile_config(r, cfg)                                                                 \
    do {                                                                                   \
        (void)(r);                                                                         \
        AMX_STORES_LAND(cfg);                                                              \
        _tile_loadconfig(cfg);                                                             \
    } while (0)
#define tile_release(r) ((void)(r), _tile_release())
#define tile_zero(r, t)                                                                     \
    do {                                                                                   \
        (void)(r);                                                                         \
        _tile_zero(t);                                                                     \
    } while (0)
#define tile_load(r, t, base, stride)                                                       \
    do {                                                                                   \
        (void)(r);                                                                         \
        AMX_STORES_LAND(base);                                                             \
        _tile_loadd(t, base, stride);                                                      \
    } while (0)
#define tile_store(r, t, base, stride)                                                      \
    do {                                                                                   \
        (void)(r);                                                                         \
        _tile_stored(t, base, stride);                                                     \
    } while (0)
#define tile_dpbf16ps(r, c, a, b)                                                           \
    do {                                                                                   \
        (void)(r);                                                                         \
        _tile_dpbf16ps(c, a, b);                                                           \
    } while (0)

#else /* MGPT_AMX_EMULATE */

typedef struct amx_regs {
    uint8_t rows[8];
    uint16_t colsb[8];
    _Alignas(64) uint8_t data[8][AMX_ROWS * AMX_COLSB];
} amx_regs;

static inline void tile_config(amx_regs *r, const amx_tilecfg *cfg)
{
    for (int t = 0; t < 8; t++) {
        r->rows[t] = cfg->rows[t];
        r->colsb[t] = cfg->colsb[t];
    }
    memset(r->data, 0, sizeof r->data);   /* LDTILECFG zeroes every tile */
}

static inline void tile_release(amx_regs *r)
{
    memset(r, 0, sizeof *r);
}

static inline void tile_zero(amx_regs *r, int t)
{
    memset(r->data[t], 0, sizeof r->data[t]);
}

/* rows past the configured ones and bytes past colsb read as zero (the SDM's "zero
 * the upper rows and columns") */
static inline void tile_load(amx_regs *r, int t, const void *base, ptrdiff_t stride)
{
    tile_zero(r, t);
    for (int i = 0; i < r->rows[t]; i++)
        memcpy(r->data[t] + i * AMX_COLSB, (const uint8_t *)base + i * stride, r->colsb[t]);
}

static inline void tile_store(amx_regs *r, int t, void *base, ptrdiff_t stride)
{
    for (int i = 0; i < r->rows[t]; i++)
        memcpy((uint8_t *)base + i * stride, r->data[t] + i * AMX_COLSB, r->colsb[t]);
}

/* bf16 to fp32 with denormals as zero (the instruction's DAZ) */
static inline float amx_bf16_in(uint16_t h)
{
    uint32_t u = (h & 0x7F80u) ? (uint32_t)h << 16 : (uint32_t)(h & 0x8000u) << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* fp32 with a denormal flushed to zero of its sign (the instruction's FTZ) */
static inline float amx_ftz(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if (!(u & 0x7F800000u))
        u &= 0x80000000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* TDPBF16PS c, a, b: for each row m of c and pair k of a's row m, each column n of c adds
 * the products of a's pair k with b's row k's pair n, the even element first (SDM). */
static inline void tile_dpbf16ps(amx_regs *r, int c, int a, int b)
{
    int kp = r->colsb[a] / 4, nn = r->colsb[c] / 4;
    for (int m = 0; m < r->rows[c]; m++) {
        float *cr = (float *)(r->data[c] + m * AMX_COLSB);
        const uint16_t *ar = (const uint16_t *)(r->data[a] + m * AMX_COLSB);
        for (int k = 0; k < kp; k++) {
            const uint16_t *br = (const uint16_t *)(r->data[b] + k * AMX_COLSB);
            float a0 = amx_bf16_in(ar[2 * k]), a1 = amx_bf16_in(ar[2 * k + 1]);
            for (int n = 0; n < nn; n++) {
                cr[n] = amx_ftz(cr[n] + a0 * amx_bf16_in(br[2 * n]));
                cr[n] = amx_ftz(cr[n] + a1 * amx_bf16_in(br[2 * n + 1]));
            }
        }
    }
}
#endif /* MGPT_AMX_EMULATE */
#endif

/* The split rule of the ranged slots (MGPT_SPLIT_TILES: the matmuls; MGPT_SPLIT_HEADS:
 * attention): they compute the part of their output that their range arguments name, each
 * element the same way whatever part it falls in. The threading layer calls them on
 * disjoint parts, concurrently, and the result must be the bits of one whole call. Each
 * part here is called alone on a fresh output (as another thread of the instance: thread
 * = part index mod 2): its elements must be the whole call's bits, and every other element
 * must keep its initial bits (a call writes its own part only: anything else would race
 * with the other threads). The parts cut at multiples of the backend's register tile
 * (tile_rows x tile_cols, where the layer cuts) and at arbitrary places (any cut must give
 * the same bits); the initial contents of a written gradient are NaN. */
#include <math.h>
#include <string.h>
#include "check.h"

/* Positions 0 = at[0] < at[1] < ... < at[n-1] = length: n - 1 ranges. */
typedef struct {
    int at[17];
    int n;
} cut_list;

static void cut_add(cut_list *c, int x, int length)
{
    if (x > c->at[c->n - 1] && x < length)
        c->at[c->n++] = x;
}

/* Cuts of [0, n): at multiples of `tile` at or above n/3 and 2n/3 (3 ranges), or (tile 0)
 * at arbitrary places: 1, an odd number near n/2, and n - 1 (4 ranges). Cuts outside
 * (0, n) or repeated are dropped (a small n gives fewer ranges). */
static cut_list cuts(int n, int tile)
{
    cut_list c = {{0}, 1};
    if (tile > 0) {
        cut_add(&c, (n / 3 + tile - 1) / tile * tile, n);
        cut_add(&c, (2 * n / 3 + tile - 1) / tile * tile, n);
    } else {
        cut_add(&c, 1, n);
        cut_add(&c, n / 2 + 1 - (n / 2) % 2, n);
        cut_add(&c, n - 1, n);
    }
    c.at[c.n++] = n;
    return c;
}

static void cuts_text(char *s, size_t len, const cut_list *c)
{
    size_t used = 0;
    s[0] = 0;
    for (int i = 0; i < c->n && used < len; i++)
        used += (size_t)snprintf(s + used, len - used, "%s%d", i ? "," : "", c->at[i]);
}

/* The elements a part owns: a block rows [r0, r1) x columns [c0, c1) of a matrix `cols`
 * wide, or (owner != NULL) those whose owner[i] is in [r0, r1) (pairs). */
typedef struct {
    int r0, r1, c0, c1, cols;
    const int *owner;
} part;

static int mine(const part *pt, size_t i)
{
    if (pt->owner)
        return pt->owner[i] >= pt->r0 && pt->owner[i] < pt->r1;
    int r = (int)(i / (size_t)pt->cols), col = (int)(i % (size_t)pt->cols);
    return r >= pt->r0 && r < pt->r1 && col >= pt->c0 && col < pt->c1;
}

/* A part's call checked element by element: where mine, the whole call's bits; else the
 * initial bits. (whole NULL: scratch, whose own part is not compared.) */
static int part_is_whole_call(mgpt_checker *c, const char *what, const float *got,
                              const float *init, const float *whole, size_t n, const part *pt,
                              const char *where)
{
    c->row->cases++;
    for (size_t i = 0; i < n; i++) {
        if (mine(pt, i)) {
            if (whole && memcmp(&got[i], &whole[i], sizeof got[i]) != 0)
                return mgpt_check_fail(c, "%s: %s[%zu] = %.9g, in one call %.9g", where, what, i,
                                       got[i], whole[i]);
        } else if (memcmp(&got[i], &init[i], sizeof got[i]) != 0) {
            return mgpt_check_fail(c, "%s: %s[%zu] = %.9g was written outside the call's part "
                                   "(it held %.9g)", where, what, i, got[i], init[i]);
        }
    }
    return 0;
}

/* ---- matmul: blocks of the output ---------------------------------------------------- */

typedef struct {
    int N, C, OC;
} mat_shape;

/* Tails in every dimension, several tiles, and (9, 600, 40): long reductions. */
static const mat_shape part_shapes[6] = {{37, 19, 53}, {100, 65, 257}, {9, 600, 40},
                                         {64, 64, 64}, {3, 7, 5},      {130, 33, 17}};

/* The slot's call on block rows [r0, r1) x columns [c0, c1) of its output dst:
 *   forward  out[N,OC] from a = inp[N,C],  b = w[OC,C]
 *   dinp     dinp[N,C] from a = dout[N,OC], b = w[OC,C]
 *   dw       dw[OC,C]  from a = dout[N,OC], b = inp[N,C] */
static void block_call(const mgpt_kernels *k, const mgpt_ctx *x, int slot, float *dst,
                       const float *a, const float *b, mat_shape s, part blk, unsigned write)
{
    if (slot == MGPT_K_MATMUL_FORWARD)
        k->matmul_forward(x, dst, a, b, s.N, s.C, s.OC, blk.r0, blk.r1, blk.c0, blk.c1);
    else if (slot == MGPT_K_MATMUL_BACKWARD_DINP)
        k->matmul_backward_dinp(x, dst, a, b, s.N, s.C, s.OC, blk.r0, blk.r1, blk.c0, blk.c1,
                                write);
    else
        k->matmul_backward_dw(x, dst, a, b, s.N, s.C, s.OC, blk.r0, blk.r1, blk.c0, blk.c1,
                              write);
}

/* Every block of the cut rows x cols, each called alone on a copy of init. */
static int matmul_blocks(mgpt_checker *c, int slot, mat_shape s, unsigned write,
                         const float *a, const float *b, const float *init,
                         const float *whole, float *dst, const cut_list *rows,
                         const cut_list *cols)
{
    const char *what = slot == MGPT_K_MATMUL_FORWARD ? "out"
                       : slot == MGPT_K_MATMUL_BACKWARD_DINP ? "dinp" : "dw";
    int width = cols->at[cols->n - 1];
    size_t n = (size_t)rows->at[rows->n - 1] * width;
    int i = 0;
    for (int r = 0; r + 1 < rows->n; r++)
        for (int q = 0; q + 1 < cols->n; q++, i++) {
            part blk = {rows->at[r], rows->at[r + 1], cols->at[q], cols->at[q + 1], width, NULL};
            memcpy(dst, init, n * sizeof *dst);
            block_call(c->k, &c->tctx[i % 2], slot, dst, a, b, s, blk, write);
            char rt[96], ct[96], where[400];
            cuts_text(rt, sizeof rt, rows);
            cuts_text(ct, sizeof ct, cols);
            snprintf(where, sizeof where, "N=%d C=%d OC=%d%s%s, the block of rows %d..%d, "
                     "columns %d..%d (rows cut at %s, columns at %s)", s.N, s.C, s.OC,
                     slot == MGPT_K_MATMUL_FORWARD ? "" : ", ",
                     slot == MGPT_K_MATMUL_FORWARD ? "" : mgpt_check_mode(write), blk.r0,
                     blk.r1 - 1, blk.c0, blk.c1 - 1, rt, ct);
            if (part_is_whole_call(c, what, dst, init, whole, n, &blk, where))
                return -1;
        }
    return 0;
}

/* One shape and mode: the whole call, then the blocks of the cuts at the backend's tiles,
 * arbitrary, and mixed. */
static int matmul_case(mgpt_checker *c, int slot, mat_shape s, unsigned write,
                       mgpt_check_pool *p)
{
    size_t NC = (size_t)s.N * s.C, NO = (size_t)s.N * s.OC, OCC = (size_t)s.OC * s.C;
    int rows = slot == MGPT_K_MATMUL_BACKWARD_DW ? s.OC : s.N;
    int cols = slot == MGPT_K_MATMUL_FORWARD ? s.OC : s.C;
    size_t n = (size_t)rows * cols;
    float *a = mgpt_check_random(c, p, slot == MGPT_K_MATMUL_FORWARD ? NC : NO, -1, 1);
    float *b = mgpt_check_random(c, p, slot == MGPT_K_MATMUL_BACKWARD_DW ? NC : OCC, -1, 1);
    float *init = slot == MGPT_K_MATMUL_FORWARD ? mgpt_check_random(c, p, n, 100, 200)
                  : write ? mgpt_check_fill(p, n, NAN) : mgpt_check_random(c, p, n, -1, 1);
    float *whole = mgpt_check_copy(p, init, n), *dst = mgpt_check_floats(p, n);
    part all = {0, rows, 0, cols, cols, NULL};
    block_call(c->k, &c->tctx[0], slot, whole, a, b, s, all, write);
    cut_list tr = cuts(rows, c->tile_rows), tc = cuts(cols, c->tile_cols);
    cut_list ar = cuts(rows, 0), ac = cuts(cols, 0);
    const cut_list *sets[3][2] = {{&tr, &tc}, {&ar, &ac}, {&tr, &ac}};
    for (int k = 0; k < 3; k++)
        if (matmul_blocks(c, slot, s, write, a, b, init, whole, dst, sets[k][0], sets[k][1]))
            return -1;
    return 0;
}

int mgpt_check_matmul_split(mgpt_checker *c, int slot)
{
    unsigned write_bit = slot == MGPT_K_MATMUL_FORWARD ? 0u
                         : slot == MGPT_K_MATMUL_BACKWARD_DINP ? MGPT_WRITE_DINP : MGPT_WRITE_DW;
    mgpt_check_pool p = {0};
    int rc = 0;
    for (int i = 0; i < 6 && rc == 0; i++)
        for (int m = 0; m < (write_bit ? 2 : 1) && rc == 0; m++) {
            rc = matmul_case(c, slot, part_shapes[i], m ? write_bit : 0u, &p);
            mgpt_check_pool_free(&p);
        }
    return rc;
}

/* ---- attention: ranges of (document, head) pairs ------------------------------------- */

/* Attention splits over (document, head) pairs bh = b*H + h: pair bh owns rows
 * b*T..b*T+T-1 of its head's hd channels in out (and in each of q, k and v of dqkv), and
 * att's (and datt's) T x T block [b, h]. */
typedef struct {
    int B, T, H, hd;
} att_shape;

static const att_shape att_part_shapes[6] = {{2, 7, 3, 5},   {3, 17, 2, 16}, {1, 33, 4, 8},
                                             {2, 65, 2, 33}, {2, 4, 2, 4},   {1, 1, 3, 7}};

/* The ranges: every pair alone, arbitrary cuts, and halves (B*H <= 16). */
static int pair_cuts(int BH, cut_list out[3])
{
    out[0].n = 0;
    for (int i = 0; i <= BH; i++)
        out[0].at[out[0].n++] = i;
    out[1] = cuts(BH, 0);
    if (BH < 2)
        return 2;
    out[2] = (cut_list){{0, BH / 2, BH}, 3};
    return 3;
}

/* The pair owning each element of out[N, C] (sections 1) or qkv[N, 3C] (sections 3). */
static int *row_owners(mgpt_check_pool *p, att_shape s, int sections)
{
    int C = s.H * s.hd, W = sections * C;
    int *o = mgpt_check_ints(p, (size_t)s.B * s.T * W);
    for (int b = 0; b < s.B; b++)
        for (int t = 0; t < s.T; t++)
            for (int x = 0; x < W; x++)
                o[((size_t)b * s.T + t) * W + x] = b * s.H + (x % C) / s.hd;
    return o;
}

/* ... and of an att[B, H, T, T]. */
static int *att_owners(mgpt_check_pool *p, att_shape s)
{
    size_t n = (size_t)s.B * s.H * s.T * s.T;
    int *o = mgpt_check_ints(p, n);
    for (size_t i = 0; i < n; i++)
        o[i] = (int)(i / ((size_t)s.T * s.T));
    return o;
}

static void pairs_text(char *where, size_t len, att_shape s, const char *mode, int p0, int p1)
{
    snprintf(where, len, "B=%d T=%d H=%d hd=%d%s%s, pairs %d..%d", s.B, s.T, s.H, s.hd,
             mode ? ", " : "", mode ? mode : "", p0, p1 - 1);
}

static int attention_forward_case(mgpt_checker *c, att_shape s, mgpt_check_pool *p)
{
    int B = s.B, T = s.T, H = s.H, C = H * s.hd, BH = B * H;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)BH * T * T;
    float *qkv = mgpt_check_random(c, p, nqkv, -1, 1);
    float *wout = mgpt_check_fill(p, nout, NAN), *watt = mgpt_check_fill(p, natt, NAN);
    c->k->attention_forward(&c->tctx[0], wout, watt, qkv, B, T, C, H, 0, BH);
    const int *out_owner = row_owners(p, s, 1), *att_owner = att_owners(p, s);
    float *out0 = mgpt_check_random(c, p, nout, 100, 200);
    float *att0 = mgpt_check_random(c, p, natt, 100, 200);
    float *out = mgpt_check_floats(p, nout), *att = mgpt_check_floats(p, natt);
    cut_list sets[3];
    int nsets = pair_cuts(BH, sets);
    for (int k = 0; k < nsets; k++)
        for (int i = 0; i + 1 < sets[k].n; i++) {
            int p0 = sets[k].at[i], p1 = sets[k].at[i + 1];
            memcpy(out, out0, nout * sizeof *out);
            memcpy(att, att0, natt * sizeof *att);
            c->k->attention_forward(&c->tctx[i % 2], out, att, qkv, B, T, C, H, p0, p1);
            char where[160];
            pairs_text(where, sizeof where, s, NULL, p0, p1);
            part po = {p0, p1, 0, 0, 0, out_owner}, pa = {p0, p1, 0, 0, 0, att_owner};
            if (part_is_whole_call(c, "out", out, out0, wout, nout, &po, where) ||
                part_is_whole_call(c, "att", att, att0, watt, natt, &pa, where))
                return -1;
        }
    return 0;
}

static int attention_backward_case(mgpt_checker *c, att_shape s, unsigned write,
                                   mgpt_check_pool *p)
{
    int B = s.B, T = s.T, H = s.H, C = H * s.hd, BH = B * H;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)BH * T * T;
    float *qkv = mgpt_check_random(c, p, nqkv, -1, 1);
    float *y = mgpt_check_floats(p, nout), *att = mgpt_check_floats(p, natt);
    c->ref->attention_forward(&c->rctx, y, att, qkv, B, T, C, H, 0, BH);
    float *dout = mgpt_check_random(c, p, nout, -1, 1);
    float *dqkv0 = write ? mgpt_check_fill(p, nqkv, NAN) : mgpt_check_random(c, p, nqkv, -1, 1);
    float *whole = mgpt_check_copy(p, dqkv0, nqkv), *wdatt = mgpt_check_floats(p, natt);
    c->k->attention_backward(&c->tctx[0], whole, wdatt, dout, qkv, att, B, T, C, H, 0, BH,
                             write);
    const int *dqkv_owner = row_owners(p, s, 3), *datt_owner = att_owners(p, s);
    float *datt0 = mgpt_check_random(c, p, natt, 100, 200);
    float *dqkv = mgpt_check_floats(p, nqkv), *datt = mgpt_check_floats(p, natt);
    cut_list sets[3];
    int nsets = pair_cuts(BH, sets);
    for (int k = 0; k < nsets; k++)
        for (int i = 0; i + 1 < sets[k].n; i++) {
            int p0 = sets[k].at[i], p1 = sets[k].at[i + 1];
            memcpy(dqkv, dqkv0, nqkv * sizeof *dqkv);
            memcpy(datt, datt0, natt * sizeof *datt);
            c->k->attention_backward(&c->tctx[i % 2], dqkv, datt, dout, qkv, att, B, T, C, H, p0,
                                     p1, write);
            char where[160];
            pairs_text(where, sizeof where, s, mgpt_check_mode(write), p0, p1);
            part pq = {p0, p1, 0, 0, 0, dqkv_owner}, pd = {p0, p1, 0, 0, 0, datt_owner};
            /* datt is scratch, but each pair's own: the other threads' pairs use theirs */
            if (part_is_whole_call(c, "dqkv", dqkv, dqkv0, whole, nqkv, &pq, where) ||
                part_is_whole_call(c, "datt", datt, datt0, NULL, natt, &pd, where))
                return -1;
        }
    return 0;
}

int mgpt_check_attention_split(mgpt_checker *c, int slot)
{
    mgpt_check_pool p = {0};
    int rc = 0;
    for (int i = 0; i < 6 && rc == 0; i++)
        for (int m = 0; m < (slot == MGPT_K_ATTENTION_FORWARD ? 1 : 2) && rc == 0; m++) {
            rc = slot == MGPT_K_ATTENTION_FORWARD
                     ? attention_forward_case(c, att_part_shapes[i], &p)
                     : attention_backward_case(c, att_part_shapes[i], m ? MGPT_WRITE_DINP : 0u,
                                               &p);
            mgpt_check_pool_free(&p);
        }
    return rc;
}

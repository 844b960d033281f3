/* The recording and the skipping kernels, one of each per slot of the kernel list. */
#include "model/call_record.h"

/* Each recording kernel below is written once for every slot, with the slot's own
 * parameter list (the list's column), and reads its sizes by the names the list's cost
 * formulas use (B, T, N, C, OC, H, V, n, and `write` for the formulas' w): a parameter of
 * that name shadows these file-scope zeros, and a size the slot does not take reads 0, as
 * mgpt_call_sizes says of unused sizes. (This file includes nothing that declares write().) */
static const int B = 0, T = 0, N = 0, C = 0, OC = 0, H = 0, V = 0;
static const size_t n = 0;
static const unsigned write = 0;

static void report(const mgpt_ctx *ctx, int slot, double b, double t, double rows, double c,
                   double oc, double h, double v, double elements, unsigned wbits)
{
    const mgpt_call_recorder *r = ctx->instance;
    /* attention's formulas count bytes with N, which its calls give as B documents of T
     * positions */
    mgpt_call_sizes s = {b, t, rows > 0 ? rows : b * t, c, oc, h, v, elements, wbits != 0};
    if (r && r->on_call)
        r->on_call(r->arg, slot, &s);
}

/* A kernel's return: nothing for void, 0 for sumsq's double. The list's return types are
 * single tokens. */
#define RETURN_void
#define RETURN_double return 0;

/* The kernels take every argument of their slot and use only the sizes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define X_RECORD(id, field, ref, ret, params, split, flops, bytes)                          \
    static ret record_##field params                                                       \
    {                                                                                      \
        report(ctx, id, B, T, N, C, OC, H, V, (double)n, write);                           \
        RETURN_##ret                                                                       \
    }
MGPT_KERNEL_LIST(X_RECORD)
#undef X_RECORD

#define X_SKIP(id, field, ref, ret, params, split, flops, bytes) \
    static ret skip_##field params { RETURN_##ret }
MGPT_KERNEL_LIST(X_SKIP)
#undef X_SKIP
#pragma GCC diagnostic pop

#define X_FIELD(id, field, ref, ret, params, split, flops, bytes) .field = record_##field,
const mgpt_kernels mgpt_recording_kernels = {MGPT_KERNEL_LIST(X_FIELD)};
#undef X_FIELD
#define X_FIELD(id, field, ref, ret, params, split, flops, bytes) .field = skip_##field,
const mgpt_kernels mgpt_skipping_kernels = {MGPT_KERNEL_LIST(X_FIELD)};
#undef X_FIELD

mgpt_compute mgpt_call_recorder_compute(mgpt_call_recorder *r, const mgpt_kernels *k,
                                        mgpt_call_fn on_call, void *arg)
{
    r->on_call = on_call;
    r->arg = arg;
    r->ctx.instance = r;
    r->ctx.thread = 0;
    mgpt_compute c = {k ? k : &mgpt_recording_kernels, &r->ctx, NULL};
    return c;
}

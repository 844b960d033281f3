/* A FLOP/s figure per slot: the instance's kernel, on one thread, on the shapes it gets in
 * a training step of e128_L4_b16_B32 (B 32, T 16, C 128, 4 heads, the MLP's 128 -> 512
 * matmul, the names vocabulary of 27), FLOPs from the slot list's formulas. The best of
 * several timed batches: a figure of what the kernel can do, not a benchmark (mgpt-bench
 * times whole steps). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "model/graph.h"
#include "check.h"

enum { B = 32, T = 16, N = B * T, C = 128, OC = 4 * C, H = 4, V = 27 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bufs {
    float *a, *b, *c, *d, *e;
    int *tok, *tgt;
    size_t n;          /* element-wise length */
    mgpt_adam_args adam;
} bufs;

/* One call of the slot on the timing shape; `s` gets its sizes. */
static void call(const mgpt_kernels *k, const mgpt_ctx *x, int slot, bufs *u,
                 mgpt_call_sizes *s)
{
    memset(s, 0, sizeof *s);
    switch (slot) {
    case MGPT_K_EMBED_FORWARD:
        *s = (mgpt_call_sizes){.N = N, .T = T, .C = C};
        k->embed_forward(x, u->a, u->tok, u->b, u->c, N, T, C);
        break;
    case MGPT_K_EMBED_BACKWARD:
        *s = (mgpt_call_sizes){.N = N, .T = T, .C = C};
        k->embed_backward(x, u->b, u->c, u->a, u->tok, N, T, C);
        break;
    case MGPT_K_RMSNORM_FORWARD:
        *s = (mgpt_call_sizes){.N = N, .C = C};
        k->rmsnorm_forward(x, u->a, u->e, u->b, N, C);
        break;
    case MGPT_K_RMSNORM_BACKWARD:
        *s = (mgpt_call_sizes){.N = N, .C = C};
        k->rmsnorm_backward(x, u->a, u->b, u->c, u->e, N, C, 0);
        break;
    case MGPT_K_MATMUL_FORWARD:
        *s = (mgpt_call_sizes){.N = N, .C = C, .OC = OC};
        k->matmul_forward(x, u->a, u->b, u->c, N, C, OC, 0, N, 0, OC);
        break;
    case MGPT_K_MATMUL_BACKWARD_DINP:
        *s = (mgpt_call_sizes){.N = N, .C = C, .OC = OC};
        k->matmul_backward_dinp(x, u->b, u->a, u->c, N, C, OC, 0, N, 0, C, 0);
        break;
    case MGPT_K_MATMUL_BACKWARD_DW:
        *s = (mgpt_call_sizes){.N = N, .C = C, .OC = OC};
        k->matmul_backward_dw(x, u->c, u->a, u->b, N, C, OC, 0, OC, 0, C, 0);
        break;
    case MGPT_K_ATTENTION_FORWARD:
        *s = (mgpt_call_sizes){.B = B, .T = T, .N = N, .C = C, .H = H};
        k->attention_forward(x, u->a, u->d, u->b, B, T, C, H, 0, B * H);
        break;
    case MGPT_K_ATTENTION_BACKWARD:
        *s = (mgpt_call_sizes){.B = B, .T = T, .N = N, .C = C, .H = H};
        k->attention_backward(x, u->c, u->e, u->a, u->b, u->d, B, T, C, H, 0, B * H, 0);
        break;
    case MGPT_K_SQRELU_FORWARD:
        *s = (mgpt_call_sizes){.n = (double)u->n};
        k->sqrelu_forward(x, u->a, u->b, u->n);
        break;
    case MGPT_K_SQRELU_BACKWARD:
        *s = (mgpt_call_sizes){.n = (double)u->n};
        k->sqrelu_backward(x, u->a, u->b, u->c, u->n, 0);
        break;
    case MGPT_K_ADD_FORWARD:
        *s = (mgpt_call_sizes){.n = (double)u->n};
        k->add_forward(x, u->a, u->b, u->c, u->n);
        break;
    case MGPT_K_ACCUMULATE:
        *s = (mgpt_call_sizes){.n = (double)u->n};
        k->accumulate(x, u->a, u->b, u->n, 0);
        break;
    case MGPT_K_CROSSENTROPY_FORWARD:
        *s = (mgpt_call_sizes){.N = N, .V = V};
        k->crossentropy_forward(x, u->e, u->a, u->b, u->tgt, N, V);
        break;
    case MGPT_K_CROSSENTROPY_BACKWARD:
        *s = (mgpt_call_sizes){.N = N, .V = V};
        k->crossentropy_backward(x, u->b, u->a, u->tgt, 1.0f / N, N, V, 0);
        break;
    case MGPT_K_SUMSQ:
        *s = (mgpt_call_sizes){.n = MGPT_SUMSQ_CHUNK};
        u->adam.lr += (float)(1e-30 * k->sumsq(x, u->a, MGPT_SUMSQ_CHUNK));
        break;
    case MGPT_K_ADAM_UPDATE:
        *s = (mgpt_call_sizes){.n = (double)u->n};
        k->adam_update(x, u->a, u->b, u->c, u->d, u->n, &u->adam);
        break;
    case MGPT_K_ZERO:
        *s = (mgpt_call_sizes){.n = (double)u->n};
        k->zero(x, u->a, u->n);
        break;
    case MGPT_K_ATTENTION_DECODE:   /* one position against a cache of N positions */
        *s = (mgpt_call_sizes){.T = N, .C = C, .H = H};
        k->attention_decode(x, u->a, u->d, u->e, u->b, u->c, N, C, H, 0, H);
        break;
    }
}

double mgpt_check_speed(mgpt_checker *c, int slot, double seconds)
{
    bufs u;
    memset(&u, 0, sizeof u);
    u.n = (size_t)N * OC;
    /* each buffer holds the largest operand any slot passes in its place */
    size_t big = (size_t)B * H * T * T > (size_t)N * 3 * C ? (size_t)B * H * T * T : (size_t)N * 3 * C;
    if (big < u.n)
        big = u.n;
    float *all = malloc(5 * big * sizeof(float));
    u.tok = malloc(N * sizeof(int));
    u.tgt = malloc(N * sizeof(int));
    if (!all || !u.tok || !u.tgt) {
        free(all);
        free(u.tok);
        free(u.tgt);
        return 0;
    }
    for (size_t i = 0; i < 5 * big; i++)  /* small positive values: nothing overflows */
        all[i] = 0.01f + 0.001f * (float)(i % 97);
    u.a = all, u.b = all + big, u.c = all + 2 * big, u.d = all + 3 * big, u.e = all + 4 * big;
    for (int i = 0; i < N; i++) {
        u.tok[i] = i % V;
        u.tgt[i] = (i * 7) % V;
    }
    u.adam = (mgpt_adam_args){.lr = 1e-6f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                              .bc1 = 0.1f, .bc2 = 0.05f, .grad_scale = 1.0f};
    const mgpt_ctx *x = &c->tctx[0];
    mgpt_call_sizes s;
    call(c->k, x, slot, &u, &s);  /* warm the caches and the instance */
    /* batches of at least 1 ms, the best per-call time over `seconds` */
    long reps = 1;
    double best = 0, start = now();
    for (;;) {
        double t0 = now();
        for (long r = 0; r < reps; r++)
            call(c->k, x, slot, &u, &s);
        double dt = now() - t0;
        if (dt < 1e-3 && reps < (1L << 24)) {
            reps *= 2;
            continue;
        }
        double per = dt / (double)reps;
        if (best == 0 || per < best)
            best = per;
        if (now() - start >= seconds)
            break;
    }
    mgpt_cost cost = mgpt_kernel_cost(slot, &s);
    free(all);
    free(u.tok);
    free(u.tgt);
    return best > 0 ? cost.flops / best * 1e-9 : 0;
}

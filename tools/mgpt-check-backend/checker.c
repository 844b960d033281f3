/* Opening a backend instance for checking, and running one slot's check. */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "platform/cpu.h"
#include "check.h"

int mgpt_check_open(mgpt_checker *c, mgpt_registry *r, const char *name, char *err,
                    size_t errlen)
{
    memset(c, 0, sizeof *c);
    const mgpt_backend_entry *e = mgpt_registry_find(r, name);
    if (e && e->status == MGPT_BE_NOT_RUNNABLE) {
        char need[256];
        mgpt_cpu_feature_names(e->missing, need, sizeof need);
        snprintf(err, errlen, "backend '%s' cannot run on this CPU: needs %s%s", name, need,
                 (e->missing & r->cpu_masked) ? " (masked by MGPT_CPU_DISABLE)" : "");
        return 2;
    }
    /* as the engine opens it, for the most threads any check runs */
    mgpt_backend_env env;
    memset(&env, 0, sizeof env);
    env.abi_major = MGPT_BACKEND_ABI_MAJOR;
    env.abi_minor = MGPT_BACKEND_ABI_MINOR;
    env.num_threads = MGPT_CHECK_THREADS;
    env.cpu_features = r->cpu_features;
    int rc = mgpt_backend_open(r, name, &env, &c->be, err, errlen);
    if (rc != 0)
        return rc;
    c->k = &c->be.k;
    c->ref = &mgpt_reference_kernels;
    for (int t = 0; t < 2; t++) {
        c->tctx[t].instance = c->be.instance;
        c->tctx[t].thread = t;
    }
    const mgpt_backend_desc *d = c->be.entry->desc;
    c->tile_rows = d->tile_rows > 0 ? (int)d->tile_rows : 1;
    c->tile_cols = d->tile_cols > 0 ? (int)d->tile_cols : 1;
    c->unit = d->precision == MGPT_PRECISION_BF16 ? 1.0 / 256 : 0.0;
    c->rng = 0x9e3779b97f4a7c15ull;
    return 0;
}

void mgpt_check_close(mgpt_checker *c)
{
    mgpt_backend_close(&c->be);
    memset(c, 0, sizeof *c);
}

/* xorshift64*: the same inputs on every machine and run */
uint32_t mgpt_check_rand(mgpt_checker *c)
{
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (uint32_t)((c->rng * 2685821657736338717ull) >> 32);
}

typedef int (*family_fn)(mgpt_checker *c, int slot);

static family_fn family(int slot)
{
    switch (slot) {
    case MGPT_K_EMBED_FORWARD:
    case MGPT_K_EMBED_BACKWARD:
        return mgpt_check_embed;
    case MGPT_K_RMSNORM_FORWARD:
    case MGPT_K_RMSNORM_BACKWARD:
        return mgpt_check_rmsnorm;
    case MGPT_K_MATMUL_FORWARD:
    case MGPT_K_MATMUL_BACKWARD_DINP:
    case MGPT_K_MATMUL_BACKWARD_DW:
        return mgpt_check_matmul;
    case MGPT_K_ATTENTION_FORWARD:
    case MGPT_K_ATTENTION_BACKWARD:
        return mgpt_check_attention;
    case MGPT_K_ATTENTION_DECODE:
        return mgpt_check_attention_decode;
    case MGPT_K_SQRELU_FORWARD:
    case MGPT_K_SQRELU_BACKWARD:
    case MGPT_K_ADD_FORWARD:
    case MGPT_K_ACCUMULATE:
    case MGPT_K_ZERO:
        return mgpt_check_elementwise;
    case MGPT_K_CROSSENTROPY_FORWARD:
    case MGPT_K_CROSSENTROPY_BACKWARD:
        return mgpt_check_crossentropy;
    case MGPT_K_SUMSQ:
    case MGPT_K_ADAM_UPDATE:
        return mgpt_check_optimizer;
    default:
        return NULL;
    }
}

/* A kernel that faults (a read past a buffer's end into its guard page, an instruction
 * the CPU lacks) fails its row instead of ending the program: the signal handler jumps
 * back to the check. The case's buffers are then not freed (their mappings stay, a few
 * pages), which is the price of going on to the next slot. */
static sigjmp_buf fault_jump;
static volatile sig_atomic_t fault_signal;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    fault_signal = sig;
    fault_addr = info->si_addr;
    siglongjmp(fault_jump, 1);
}

static const int fault_signals[4] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};

typedef struct catcher {
    struct sigaction old[4];
    stack_t old_stack;
    void *stack;
} catcher;

static void catch_faults(catcher *k)
{
    /* its own stack: a fault may come from a stack the kernel broke */
    size_t size = 64 * 1024;
    k->stack = malloc(size);
    stack_t ss = {.ss_sp = k->stack, .ss_size = size, .ss_flags = 0};
    sigaltstack(&ss, &k->old_stack);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 4; i++)
        sigaction(fault_signals[i], &sa, &k->old[i]);
}

static void release_faults(catcher *k)
{
    for (int i = 0; i < 4; i++)
        sigaction(fault_signals[i], &k->old[i], NULL);
    sigaltstack(&k->old_stack, NULL);
    free(k->stack);
}

static void report_fault(mgpt_checker *c)
{
    const char *what = fault_signal == SIGSEGV ? "SIGSEGV"
                       : fault_signal == SIGBUS ? "SIGBUS"
                       : fault_signal == SIGILL ? "SIGILL"
                                                : "SIGFPE";
    if ((fault_signal == SIGSEGV || fault_signal == SIGBUS) && mgpt_check_in_guard(fault_addr))
        mgpt_check_fail(c, "the kernel crashed (%s at %p): it read or wrote past the end of "
                        "a buffer (the inaccessible page right after it)", what, fault_addr);
    else if (fault_signal == SIGILL)
        mgpt_check_fail(c, "the kernel crashed (SIGILL at %p): an instruction this CPU does "
                        "not have; does required_features name every ISA the module uses?",
                        fault_addr);
    else
        mgpt_check_fail(c, "the kernel crashed (%s at %p)", what, fault_addr);
}

void mgpt_check_slot(mgpt_checker *c, int slot, mgpt_check_row *row)
{
    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "%s", mgpt_kernel_name(slot));
    row->slot = slot;
    row->native = (int)((c->be.native >> slot) & 1u);
    c->row = row;
    if (!row->native) {
        row->status = MGPT_CHECK_SKIP;
        snprintf(row->detail, sizeof row->detail,
                 "not implemented by the module: the scalar reference runs it");
        return;
    }
    family_fn f = family(slot);
    if (!f) {
        row->status = MGPT_CHECK_SKIP;
        snprintf(row->detail, sizeof row->detail, "this checker has no test for the slot");
        return;
    }
    row->status = MGPT_CHECK_PASS;
    catcher k;
    catch_faults(&k);
    if (sigsetjmp(fault_jump, 1) == 0) {
        /* the ranged slots: then the split rule (blocks of the output are the whole call) */
        if (f(c, slot) == 0) {
            if (mgpt_kernel_split(slot) == MGPT_SPLIT_TILES)
                mgpt_check_matmul_split(c, slot);
            else if (mgpt_kernel_split(slot) == MGPT_SPLIT_HEADS &&
                     slot != MGPT_K_ATTENTION_DECODE)   /* its own check splits it */
                mgpt_check_attention_split(c, slot);
        }
    } else {
        report_fault(c);
    }
    release_faults(&k);
    c->row = NULL;
}

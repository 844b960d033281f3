/* mgpt-roofline: what its files share. Measured compute and bandwidth ceilings per backend
 * (the backends' own probes, timed here), datasheet peaks beside them, and every kernel of a
 * model config placed against them (likwid-bench and the Empirical Roofline Toolkit). */
#ifndef MGPT_ROOFLINE_H
#define MGPT_ROOFLINE_H
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "platform/cpu.h"
#include "engine/engine.h"
#include "model/graph.h"
#include "model/mgpt_config.h"
#include "mgpt_tools.h"
#include "model/model.h"
#include "engine/registry.h"
#include "platform/topology.h"

/* Exit statuses, as the man page states them. */
enum {
    ROOF_OK = 0,
    ROOF_FAIL = 1,   /* nothing could be measured, a backend failed, a write failed */
    ROOF_USAGE = 2   /* the command line is wrong, or a named backend cannot run here */
};

#define ROOF_SCHEMA "mgpt-roofline/1"
#define ROOF_MAX_THREADS 1024

/* --- options.c ------------------------------------------------------------------------ */

typedef struct roof_options {
    int all_backends;
    tool_names backends;    /* --backend names, in the order given */
    tool_names configs;     /* --config names (default: e64_L2_b16) */
    int threads;            /* "all cores" thread count; 0 = every physical core. Given,
                             * it is also the engine's threads for the kernels (else 1) */
    const char *json_path;  /* NULL: no JSON */
    const char *svg_path;   /* NULL: no SVG */
    int repeats;            /* timed repeats per measurement (median reported) */
    double min_time;        /* seconds per timed repeat */
    size_t dram_bytes;      /* 0: min(4 x L3, 1 GiB), limited by available memory */
    int dram_size_given;    /* dram_bytes came from --dram-size (else from --quick) */
    int no_kernels;         /* ceilings only */
    int quick;              /* short timings for tests and smoke runs */
    int quiet;              /* no progress on stderr */
} roof_options;

/* 0 to run, ROOF_OK + 100 after --help/--version (exit 0), ROOF_USAGE after an error. */
int roof_parse_options(int argc, char **argv, roof_options *o);
void roof_options_free(roof_options *o);
#define ROOF_EXIT_EARLY 100

/* Progress on stderr unless --quiet ("mgpt-roofline: ..."; errors and warnings: tool_error
 * and tool_warn of mgpt_tools.h, with no command). */
void roof_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int roof_quiet;

/* --- timer.c: wall time and medians ---------------------------------------------------- */

double roof_now(void);                          /* CLOCK_MONOTONIC seconds */
double roof_median(double *v, int n);           /* sorts v */
void roof_min_max(const double *v, int n, double *lo, double *hi);

/* --- clock.c: the core clock, measured ------------------------------------------------- */

/* Core clock in GHz from a chain of dependent integer adds (one per cycle) run for about
 * `seconds`. The add is register + register: recent Intel cores execute chains of
 * add-immediate at rename, several per cycle, which would read as a 4x clock. */
double roof_measure_clock_ghz(double seconds);

/* --- machine.c: what the numbers are measured on --------------------------------------- */

typedef struct roof_machine {
    mgpt_cpu_info cpu;
    int cpu_ok;
    int family, model;         /* display family and model from CPUID leaf 1 (extended
                                  fields folded in; libcpuid's `model` is 4 bits only) */
    char codename[64];         /* libcpuid's guess, shown as it is */
    mgpt_topology topo;
    int topo_ok;
    int libcpuid_os_mhz;       /* cpu_clock_by_os(): the nominal clock here */
    int libcpuid_tsc_mhz;      /* cpu_clock_measure(): TSC rate over a busy wait */
    int libcpuid_ic_mhz;       /* cpu_clock_by_ic(): instruction counting, assumes 1 IPC */
    double measured_ghz;       /* roof_measure_clock_ghz at start */
    int cores;                 /* physical cores we may run on (>= 1) */
    int core_pu[ROOF_MAX_THREADS];  /* first PU of each core, for binding */
    int busy_tasks;            /* other runnable tasks at start (/proc/stat), -1 unknown */
    size_t mem_available;      /* bytes, 0 unknown */
} roof_machine;

int roof_machine_read(roof_machine *m);
/* "Intel(R) Xeon(R) ... (2 cores)" */
void roof_machine_describe(const roof_machine *m, char *buf, size_t len);

/* --- isa.c: lanes and FMA ports (the datasheet side) ------------------------------------ */

typedef struct roof_isa {
    const char *name;       /* "avx512", "avx2+fma", "sse", "scalar" */
    int lanes;              /* fp32 lanes per vector */
    int fma;                /* 1: the probe uses FMA; 0: separate mul and add */
    int dot;                /* products per lane and instruction: 2 for VDPBF16PS (bf16
                               pairs into fp32), else 1 */
} roof_isa;

/* The widest float ISA a backend requires (from its descriptor's required features): the
 * ISA of its code, kernels and probes alike. */
roof_isa roof_isa_of(uint32_t required_features);
/* 1 for the ISA of a backend that requires no feature (the scalar backend's plain C). */
int roof_isa_is_plain_c(const roof_isa *isa);

typedef struct roof_uarch {
    const char *name;       /* "Sapphire/Emerald Rapids (Golden/Raptor Cove)" or NULL */
    double pipes;           /* FMA ports at this width, or mul/add pipes (mul+add code) */
    const char *source;     /* "table" or "measured ratio" */
} roof_uarch;

/* The table entry for this CPU and ISA; name NULL when the CPU is not in the table. */
roof_uarch roof_uarch_lookup(const char *vendor, int family, int model, const roof_isa *isa);
/* Flops per cycle per core: lanes x FMA ports x 2 (x dot), or lanes x mul/add pipes. */
double roof_flops_per_cycle(const roof_isa *isa, double pipes);

/* --- worksets.c: working-set sizes per memory level ------------------------------------- */

enum { ROOF_L1, ROOF_L2, ROOF_L3, ROOF_DRAM, ROOF_LEVELS };
extern const char *const roof_level_names[ROOF_LEVELS];

typedef struct roof_worksets {
    size_t total[ROOF_LEVELS];   /* bytes over all threads of a run */
    int present[ROOF_LEVELS];    /* 0: the level does not exist (no L3) */
    char dram_note[256];         /* how the DRAM size was chosen */
} roof_worksets;

/* Working sets for `threads` threads. L1: half of L1d per thread; L2: half of L2 per
 * thread; L3: the geometric mean of L2 and L3, at least 4x L2, at most half of L3 in all
 * (the OS's view, for the report); DRAM, where the bandwidth curve ends: dram_bytes if
 * given (dram_source says by what), else max(4 x the last cache, 1 GiB) (a cache size the
 * OS gets wrong must not end the curve inside a cache), at most half the available
 * memory. */
void roof_worksets_plan(const roof_machine *m, int threads, size_t dram_bytes,
                        const char *dram_source, roof_worksets *w);

/* --- plateaus.c: the memory levels the bandwidth curve shows ---------------------------- */

#define ROOF_CURVE_MAX 48        /* points of a curve: sizes doubling from 4 KiB */
#define ROOF_PLATEAUS_MAX 8
#define ROOF_PLATEAU_TOL 0.15    /* points within 15% of a segment's median belong to it */

/* Bandwidth against the working set per thread, sizes increasing. */
typedef struct roof_curve {
    int n;
    double bytes[ROOF_CURVE_MAX];                 /* per thread */
    double gbs[ROOF_CURVE_MAX];                   /* median over repeats, all threads */
    double gbs_min[ROOF_CURVE_MAX], gbs_max[ROOF_CURVE_MAX];
} roof_curve;

typedef struct roof_plateau {
    int first, last;             /* its points on the curve */
    double lo_bytes, hi_bytes;   /* their sizes */
    double gbs;                  /* the median of its points */
    double gbs_lo, gbs_hi;       /* the slowest and fastest repeat of its points */
    double spread;               /* (gbs_hi - gbs_lo) / gbs: the noise it carries */
} roof_plateau;

/* The plateaus of c, fastest (smallest sizes) first, at most max; their count. The
 * algorithm is in plateaus.c's header comment. */
int roof_find_plateaus(const roof_curve *c, double tol, roof_plateau *out, int max);
/* The plateau that serves a working set of `bytes` per thread: the one covering it, the
 * faster of two it falls between, the first below the curve, the last past it; -1 if
 * n is 0. */
int roof_plateau_for(const roof_plateau *p, int n, double bytes);
/* The level each of n plateaus is named as: L1, L2, L3 in order, the last DRAM (when
 * there are two or more). */
void roof_plateau_levels(int n, int level[]);

/* The streams of the curve. A level's ceiling is a stream's plateau there; the streams
 * differ in their mix of loads and stores, which sets what a core moves per cycle inside
 * the caches. Bytes are those moved (loads + stores), the working set the bytes touched. */
enum {
    ROOF_READ,          /* the backend's stream_read probe: loads */
    ROOF_UPDATE,        /* a[i] = a[i] * 0.5 + 0.5: a load and a store, 8 bytes */
    ROOF_WRITE,         /* memset: stores, 4 bytes an element (every backend's zero) */
    ROOF_READ2_WRITE,   /* a[i] = b[i] * c[i]: two loads and a store, 12 bytes */
    ROOF_READ3_WRITE2,  /* a[i] *= c[i], b[i] *= c[i]: three loads and two stores, 20 bytes */
    ROOF_STREAMS
};
extern const char *const roof_stream_names[ROOF_STREAMS];
                    /* "read", "read+write", "write", "2 reads+write",
                     * "3 reads+2 writes" */

typedef struct roof_stream {
    roof_curve curve;
    roof_plateau plateau[ROOF_PLATEAUS_MAX];
    int n_plateaus;
} roof_stream;

/* --- store_streams.c: the streams that store --------------------------------------------- */

/* Runs a stream over n floats (64-byte aligned, holding 1.0) `passes` times; the bytes
 * moved. */
typedef double (*roof_store_fn)(float *a, size_t n, int passes);
/* The storing streams in the vector width of `isa` (16 lanes: AVX-512, 8: AVX, else SSE2,
 * the width the compiler gives the scalar backend's plain C); the write stream is libc's
 * memset, which every backend's zero runs, and the scalar backend's read+write stream
 * libc's memcpy, which its writing accumulate calls; fn[ROOF_READ] is NULL (the backend's
 * probe). name[] says what each stream is written in. */
void roof_streams_for(const roof_isa *isa, roof_store_fn fn[ROOF_STREAMS],
                      const char *name[ROOF_STREAMS]);

/* --- ceilings.c: the backends' probes, timed ------------------------------------------- */

typedef struct roof_clock {
    double before_ghz, after_ghz;   /* medians over repeats, threads averaged */
} roof_clock;

typedef struct roof_peak {
    int threads;
    double gflops;               /* median */
    double gflops_min, gflops_max;
    roof_clock clock;
    double flops_per_cycle;      /* per core: gflops / threads / mean clock */
} roof_peak;

typedef struct roof_bw {
    int threads;
    size_t bytes_per_thread;
    double gbs, gbs_min, gbs_max;
    roof_clock clock;
} roof_bw;

typedef struct roof_ceilings {
    int has_probes;
    roof_peak peak[2];             /* [0] 1 thread, [1] all cores */
    roof_bw bw[2][ROOF_LEVELS];    /* [threads index][level]: the read stream's plateaus
                                    * (roof_plateau_levels); threads 0 = no such plateau */
    roof_stream stream[2][ROOF_STREAMS];   /* [threads index][read, read+write] */
    const char *stream_isa[ROOF_STREAMS];   /* what each stream is written in */
    int n_thread_sets;             /* 1 when all cores is 1 core */
} roof_ceilings;

typedef struct roof_timing {
    int repeats;
    double min_time;
} roof_timing;

/* isa: the backend's code (roof_isa_of), for the storing streams. */
int roof_measure_ceilings(const mgpt_probes *p, const roof_machine *m, int threads,
                          const roof_isa *isa,
                          const roof_worksets ws[2], const roof_timing *t, const char *label,
                          roof_ceilings *out);
void roof_buffers_free(void);

/* --- kernel_cost.c: the kernel calls of a step and their counts (the engine's) -------- */

/* Where a training step makes a kernel call: what runs it again. */
typedef enum roof_site_kind {
    ROOF_SITE_FORWARD,    /* mgpt_node_forward of graph node `node` */
    ROOF_SITE_BACKWARD,   /* mgpt_node_backward of graph node `node` */
    ROOF_SITE_ZERO,       /* the backward walk's zeroing of x[0..n) (a gradient) */
    ROOF_SITE_OPTIMIZER,  /* mgpt_adam_step: the gradient norm's sumsq calls, Adam */
    ROOF_SITE_DECODE      /* generation: one document decoded with the key/value cache
                           * through a whole block (mgpt_decoder_step at positions 0 ..
                           * T-1); only its attention_decode calls, the slot training lacks */
} roof_site_kind;

typedef struct roof_call {
    int slot;                 /* MGPT_K_*: mgpt_kernel_name(slot) */
    roof_site_kind site;
    int node;                 /* FORWARD, BACKWARD: the node's index; else -1 */
    float *x;                 /* ZERO: what it clears, n floats */
    size_t n;
    mgpt_call_sizes sizes;    /* the call's sizes, as the kernel list's formulas name them */
    mgpt_cost cost;           /* mgpt_kernel_cost(slot, &sizes) */
    double footprint;         /* roof_footprint(slot, &sizes) */
} roof_call;

/* The bytes a call touches, each byte once however often it is read or written: the working
 * set that picks the memory level serving it, where the cost's bytes (cost.bytes) count
 * the traffic, an array both read and written twice (accumulate's dst, Adam's moments).
 * embed's rows of wte/dwte count once per token, at most V (N when V is 0: the kernel
 * list's sizes do not carry the vocabulary; roof_step_calls fills it in), wpe/dwpe's T
 * rows once. A slot without a formula here
 * (one added to the kernel list later) counts its traffic. */
double roof_footprint(int slot, const mgpt_call_sizes *s);

/* Every kernel call of one training step of m, in the step's order: the forward walk, the
 * backward walk node by node, the backward walk's zeroing, the optimizer step; then the
 * attention_decode calls of generation, the one slot a training step does not call: one
 * document of m's tokens decoded through the block with the key/value cache (a call per layer
 * at each position, against 1 .. T cached positions). Found by
 * running the engine's own walks on kernels that only record their sizes, so the slots a
 * node calls (matmul's backward: matmul_backward_dinp and matmul_backward_dw; add's:
 * accumulate twice) and their write bits are core/model/graph.c's. Nothing of m changes. The
 * count, *out allocated (free it); -1 when out of memory. */
int roof_step_calls(mgpt_model *m, roof_call **out);

/* The decoding ROOF_SITE_DECODE stands for: d (on m's parameters, any compute) emptied,
 * then m's first T tokens appended one by one. Nothing if d is NULL. */
struct mgpt_decoder;
void roof_decode_block(struct mgpt_decoder *d, const mgpt_model *m);

/* c with every slot but `slot` a kernel that does nothing (table holds it; c's context):
 * a step's sites run on it run that slot's calls alone, as the engine makes them. */
mgpt_compute roof_compute_only(const mgpt_compute *c, int slot, mgpt_kernels *table);

/* --- kernels.c: each kernel alone, on a model config ------------------------------------ */

typedef struct roof_kernel {
    char config[64];
    int slot;                    /* index into mgpt_kernels (mgpt_kernel_name) */
    const char *name;
    int native;                  /* the backend's own kernel, not the scalar reference */
    int calls;                   /* calls per step (roof_step_calls of that slot) */
    double flops, bytes;         /* per step, engine's counts */
    double max_call_bytes;       /* the largest call's bytes (traffic) */
    double footprint;            /* the largest call's footprint (roof_footprint): its
                                  * working set, which picks the level */
    int writes_only;             /* it only stores (zero): placed on the write stream */
    double seconds;              /* median time per step */
    double seconds_min, seconds_max;
    int repeats;
    /* placement (placement.c) */
    double ai, gflops, gbs;
    int level;                   /* ROOF_L1 .. ROOF_DRAM */
    int compute_bound;
    double ceiling_gflops;       /* min(peak, ai * bw[level]); 0 for a kernel without FLOPs */
    double ceiling_gbs;          /* the sloped roof's bandwidth: the faster stream's plateau
                                  * at the working set per thread */
    int stream;                  /* ROOF_READ or ROOF_UPDATE: the stream that gave it */
    int threads;                 /* threads it ran on: the most parts the engine split
                                  * any of its calls into (1 below the split size, even
                                  * with --threads); kernels.c fills it */
    int ceiling_threads;         /* the ceilings it is placed against: 1 thread, or all
                                  * cores when it ran on more than one */
    double noise;                /* relative: its time's spread plus its plateau's */
    double percent;              /* gflops / ceiling_gflops * 100; without FLOPs (zero),
                                  * gbs / ceiling_gbs * 100 */
} roof_kernel;

/* Every slot a step of `config` calls, timed alone on the engine's compute (its backend on
 * its threads), with the threads each ran on. */
int roof_measure_kernels(const mgpt_engine *e, const char *config, const roof_timing *t,
                         const char *label, roof_kernel **out, int *n_out);

/* --- placement.c ------------------------------------------------------------------------ */


/* Fills ai, gflops, gbs, level, bound, ceilings and percent from the kernel's counts and
 * time and the backend's ceilings for the threads it ran on: the compute peak, and the
 * bandwidth the curves give its working set (its largest call's footprint, split over
 * `threads`; not its traffic, which counts re-read bytes again): for each stream the
 * plateau that serves that size (roof_plateau_for), or a faster one at larger sizes (the
 * curve rose: overhead at small sizes), and of them the fastest, since a
 * kernel's mix of loads and stores may be any of theirs; a kernel that only stores
 * (writes_only) on the write stream alone, when it was measured. Its achieved bandwidth is
 * its traffic over its time. A kernel without FLOPs (zero) is memory-bound, placed against
 * that bandwidth alone. */
void roof_place(roof_kernel *k, double peak_gflops, const roof_stream streams[ROOF_STREAMS],
                int threads);
/* The threads of the ceilings a kernel that ran on `kernel_threads` is placed against: 1,
 * or the all-cores count when it ran on more than one and all cores were measured. */
int roof_ceiling_threads(const roof_ceilings *c, int kernel_threads);

/* --- the whole run, for the reports ----------------------------------------------------- */

typedef struct roof_backend_result {
    char name[64];
    char description[128];
    int measured;                /* 0: skipped, see reason */
    char reason[512];
    roof_isa isa;
    roof_uarch uarch;            /* from the table, or pipes from the measured ratio */
    double pipes_measured;       /* FMA ports (or mul/add pipes) from the 1-thread ratio */
    double theory_nominal[2];    /* GFLOP/s at libcpuid's OS clock, 1 thread / all cores */
    double theory_measured[2];   /* the same at the measured clock */
    roof_ceilings c;
    roof_kernel *kernels;
    int n_kernels;
    int kernel_threads;          /* the engine's threads: --threads if given, else 1;
                                  * each kernel's own count is roof_kernel.threads */
    int kernel_pus[MGPT_MAX_THREADS]; /* the processor of each engine thread it bound */
    int n_kernel_pus;            /* 0: the OS or the OpenMP runtime placed them */
} roof_backend_result;

typedef struct roof_run {
    roof_options opt;
    roof_machine machine;
    int threads;                 /* the "all cores" thread count */
    roof_worksets ws[2];         /* 1 thread, all cores */
    roof_timing timing;
    roof_backend_result *be;
    int n_be;
    char timestamp[32];
    double seconds;              /* wall time of the run */
    cpu_set_t process_mask;      /* the affinity before the main thread was bound */
    int have_process_mask;
} roof_run;

/* --- threads_note.c: which threads and ceilings a backend's kernels had ------------------ */

typedef struct roof_thread_group {
    int threads;            /* the threads its kernels ran on */
    int ceiling_threads;    /* the ceilings they are placed against */
    int kernels;            /* how many (rows of the table) */
} roof_thread_group;

/* b's kernels (of `config`, or all when NULL) grouped by threads and ceilings, most
 * threads first; the count (at most max). */
int roof_thread_groups(const roof_backend_result *b, const char *config, roof_thread_group *g,
                       int max);
/* "engine of 2 threads: 4 kernels on 2 threads against the 2-thread ceilings; 15 kernels
 * on 1 thread against the 1-thread ceilings" */
void roof_threads_note(const roof_backend_result *b, const char *config, char *buf, size_t len);

/* --- report_table.c, report_json.c, report_svg.c ---------------------------------------- */

int roof_write_table(const roof_run *run, FILE *f);
json_t *roof_run_json(const roof_run *run);
int roof_write_json(const roof_run *run, const char *path);
int roof_write_svg(const roof_run *run, FILE *f);
int roof_write_svg_file(const roof_run *run, const char *path);

/* "1.23 G", "456 M": numbers for tables */
void roof_fmt_si(char *buf, size_t len, double v);
/* "48 KiB", "2 MiB", "1 GiB" */
void roof_fmt_bytes(char *buf, size_t len, double bytes);
#endif

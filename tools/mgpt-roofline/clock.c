/* The core clock, measured the way microbenchmarks do without a PMU: a chain of dependent
 * integer adds retires one add per cycle, so adds / seconds is the clock.
 *
 * Two traps, both met on this project's Sapphire Rapids-class VM:
 *  - the add must be register + register. Golden Cove and later execute chains of
 *    `add reg, imm` at rename, several per cycle, so an immediate chain reads 4x too fast;
 *  - libcpuid's instruction-count clock assumes its SSE loop runs at 1 IPC; cores with more
 *    vector pipes run it faster (about 2x here). Its OS and TSC readings give the nominal
 *    clock, not the turbo clock the cores run at. All are shown beside this one. */
#include "roofline.h"

#define ADDS_PER_LOOP 200
#define STR_(x) #x
#define STR(x) STR_(x)

/* Runs `loops` x ADDS_PER_LOOP dependent adds; returns the chain's value (never used). */
static unsigned long add_chain(unsigned long loops, unsigned long addend)
{
    unsigned long x = 0;
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile(
        "1:\n\t"
        ".rept " STR(ADDS_PER_LOOP) "\n\t"
        "add %[y], %[x]\n\t"
        ".endr\n\t"
        "dec %[n]\n\t"
        "jnz 1b\n\t"
        : [x] "+r"(x), [n] "+r"(loops)
        : [y] "r"(addend)
        : "cc");
#else
#error "the clock measurement is written for x86"
#endif
    return x;
}

/* One timed chain of about `seconds`; the loop count is found by doubling. */
static double sample(double seconds, unsigned long *loops)
{
    volatile unsigned long one = 1; /* the compiler cannot know the addend */
    for (;;) {
        double t0 = roof_now();
        add_chain(*loops, one);
        double dt = roof_now() - t0;
        if (dt >= seconds || *loops > (1ul << 40))
            return dt > 0 ? (double)*loops * ADDS_PER_LOOP / dt * 1e-9 : 0;
        *loops *= 2;
    }
}

double roof_measure_clock_ghz(double seconds)
{
    /* The fastest of several short samples: a chain never runs faster than one add per
     * cycle, and an interruption (another task, an interrupt) only makes a sample slower,
     * so the maximum is the clock and a preempted sample is simply outvoted. */
    enum { SAMPLES = 8 };
    unsigned long loops = 64;
    double best = 0;
    for (int i = 0; i < SAMPLES; i++) {
        double g = sample(seconds / SAMPLES, &loops);
        if (g > best)
            best = g;
    }
    return best;
}

/* Checking backend modules in child processes: each module is loaded and checked by the
 * helper program mgpt-probe-module (probe_module_main.c), started with posix_spawn (never a
 * bare fork: another thread may hold the dynamic loader's lock), several at a time, each
 * killed after a timeout. */
#ifndef MGPT_MODULE_PROBE_H
#define MGPT_MODULE_PROBE_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MGPT_PROBE_OK,       /* the helper accepted it: loads and its descriptor is valid */
    MGPT_PROBE_FAILED,   /* rejected: `reason` says why (also a crash, an exit, a hang) */
    MGPT_PROBE_NOT_RUN   /* the helper could not be started: `reason` says why */
} mgpt_probe_result;

typedef struct mgpt_probe_job {
    const char *path;            /* in: the module file */
    const char *name;            /* in: NAME of mgpt_NAME.so */
    mgpt_probe_result result;    /* out */
    int priority;                /* out, when OK: the descriptor's priority */
    char reason[512];            /* out, when not OK */
} mgpt_probe_job;

/* Runs `helper` on each job, at most `parallel` at once, each given timeout_ms. */
void mgpt_probe_modules(const char *helper, mgpt_probe_job *jobs, int n, int timeout_ms,
                        int parallel);

#ifdef __cplusplus
}
#endif
#endif

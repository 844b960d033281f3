/* The two engines the tuning programs compare (measure.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "measure.h"

/* The backend named, else avx512 (the widest fp32 kernels, what the thresholds were first
 * measured on), else the engine's choice (the best this CPU runs). */
static int open_engine(mgpt_engine *e, const char *backend, int threads, FILE *warn, char *err,
                       size_t errlen)
{
    mgpt_engine_opts o = {.backend = backend ? backend : "avx512", .threads = threads,
                          .warn = warn};
    int rc = mgpt_engine_open(e, &o, err, errlen);
    if (rc == MGPT_ENGINE_USAGE && !backend) {
        o.backend = NULL; /* no avx512 here */
        rc = mgpt_engine_open(e, &o, err, errlen);
    }
    return rc;
}

const char *measure_open(const char *tool, const char *backend, int *threads,
                         const char *par_split, mgpt_engine *one, mgpt_engine *par)
{
    char err[1200];
    if (*threads <= 0)
        *threads = 2;
    memset(one, 0, sizeof *one);
    memset(par, 0, sizeof *par);
    /* the split mode is read at open: `one` never splits (on one thread it cannot), and
     * par gets par_split or the user's own */
    char user[64] = "";
    const char *given = getenv("MGPT_THREAD_SPLIT");
    int had = given != NULL; /* setenv below may free what getenv returned */
    if (had)
        snprintf(user, sizeof user, "%s", given);
    setenv("MGPT_THREAD_SPLIT", "never", 1);
    if (open_engine(one, backend, 1, stderr, err, sizeof err) != MGPT_ENGINE_OK) {
        fprintf(stderr, "%s: %s\n", tool, err);
        return NULL;
    }
    if (par_split || had)
        setenv("MGPT_THREAD_SPLIT", par_split ? par_split : user, 1);
    else
        unsetenv("MGPT_THREAD_SPLIT");
    /* par runs the backend `one` runs, by name: the comparison is of threads alone */
    mgpt_engine_opts o = {.backend = one->be.entry->name, .threads = *threads, .warn = NULL};
    if (mgpt_engine_open(par, &o, err, sizeof err) != MGPT_ENGINE_OK) {
        fprintf(stderr, "%s: %s\n", tool, err);
        mgpt_engine_close(one);
        return NULL;
    }
    *threads = par->threads;
    return one->be.entry->name;
}

void measure_close(mgpt_engine *one, mgpt_engine *par)
{
    mgpt_engine_close(par);
    mgpt_engine_close(one);
}

/* What the tuning programs (mgpt-tune-thresholds, mgpt-tune-stepops) share: the two engines
 * they compare, one backend on one thread and on several. Not installed. */
#ifndef MGPT_TUNE_MEASURE_H
#define MGPT_TUNE_MEASURE_H
#include "engine/engine.h"

/* Opens `one`, a backend on 1 thread, and `par`, the same backend on *threads threads
 * (<= 0: 2; set to the count used), both bound as every engine binds them. The backend is
 * `backend` when not NULL, else avx512 when this CPU runs it, else the best. par_split, if
 * not NULL, is the MGPT_THREAD_SPLIT par runs with ("always": every op of two or more
 * parts is split, to time the threads below the thresholds too); NULL leaves the
 * environment's (auto by default). Returns the backend's name; NULL after printing why,
 * prefixed with `tool`, on standard error. */
const char *measure_open(const char *tool, const char *backend, int *threads,
                         const char *par_split, mgpt_engine *one, mgpt_engine *par);
void measure_close(mgpt_engine *one, mgpt_engine *par);
#endif

/* What the OpenMP backend's measurement tools (openmp-thresholds, openmp-stepops) share:
 * the two backends they compare. Not part of the module. */
#ifndef MGPT_OPENMP_MEASURE_H
#define MGPT_OPENMP_MEASURE_H
#include "registry.h"

/* Loads the registry and opens the best SIMD module this CPU runs (the ISA the OpenMP
 * backend composes) on one thread, and the OpenMP backend on *threads threads (<= 0: one
 * per physical core; set to the count used), both bound as the engine binds them. Returns
 * the ISA's name; NULL after printing why, prefixed with `tool`, on standard error. */
const char *measure_open(const char *tool, int *threads, mgpt_registry *reg, mgpt_backend *one,
                         mgpt_backend *par);
#endif

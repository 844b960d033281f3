/* The checks of a loaded backend module's descriptor, before anything of it is used: shared
 * by the check helper (mgpt-probe-module, run in a child process) and the loader. Every
 * pointer the descriptor holds is tested before it is read, so a bad one is a reason, not a
 * crash. */
#ifndef MGPT_MODULE_CHECK_H
#define MGPT_MODULE_CHECK_H
#include <stddef.h>
#include <mgpt/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most slots a kernel table may claim: far more than any minor of this major will have, few
 * enough that a wild n_kernels is refused before reading. */
#define MGPT_MODULE_MAX_SLOTS 1024u

/* The descriptor of `handle`, a module dlopened from mgpt_NAME.so, if it is valid: the
 * entry symbol mgpt_backend_NAME exists, the ABI major is ours, the descriptor is long
 * enough, its name is readable and NAME, its kernel table is readable for n_kernels slots
 * and every pointer in it (and init, shutdown, the probes) is code of the module itself (so
 * a table size that lies is caught), its description is readable and its precision class
 * known. Else NULL, with `reason` saying why. */
const mgpt_backend_desc *mgpt_module_check(void *handle, const char *name, char *reason,
                                           size_t len);

#ifdef __cplusplus
}
#endif
#endif

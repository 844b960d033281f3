/* What memory this process may use: the machine's physical RAM, lowered by RLIMIT_AS (less
 * the address space already mapped) and RLIMIT_DATA when they are set. Models are checked
 * against it before they allocate, so a shape that cannot fit is refused with a figure
 * rather than ending in the OOM killer. */
#ifndef MGPT_MEMORY_H
#define MGPT_MEMORY_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mgpt_memory_limit {
    double bytes;     /* what may still be allocated */
    const char *what; /* "this machine has", "the address-space limit (RLIMIT_AS) leaves", ... */
} mgpt_memory_limit;

void mgpt_memory_limit_get(mgpt_memory_limit *l);
/* "155.2 GiB", "12.0 MiB": bytes in the largest binary unit that keeps them >= 1 */
void mgpt_memory_format(double bytes, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif

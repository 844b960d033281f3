/* The AMX module's first act in init: Linux (5.16 and later) gives a process the tile data
 * state (XTILEDATA, 8 KiB of registers to save on each context switch) only when asked;
 * until then TILELOADD and TDPBF16PS fault. The request is for the whole process. The
 * emulated build (MGPT_AMX_EMULATE) uses no tiles and asks nothing. */
#define _GNU_SOURCE   /* syscall() under -std=c11 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "simd/simd.h"

#ifndef MGPT_AMX_EMULATE
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_REQ_XCOMP_PERM 0x1023  /* <asm/prctl.h> of Linux 5.16 */
#define XFEATURE_XTILEDATA 18
#endif

int SIMD_FN(amx_permission)(char *err, size_t errlen)
{
#ifndef MGPT_AMX_EMULATE
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        snprintf(err, errlen,
                 "the kernel did not grant the AMX tile state (arch_prctl "
                 "ARCH_REQ_XCOMP_PERM: %s; Linux 5.16 or later is needed)",
                 strerror(errno));
        return -1;
    }
#else
    (void)err;
    (void)errlen;
#endif
    return 0;
}

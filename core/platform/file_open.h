/* Opening a file to read without hanging on it: a FIFO, a terminal or a device named where a
 * file is expected would block open(2) or read(2) forever. */
#ifndef MGPT_FILE_OPEN_H
#define MGPT_FILE_OPEN_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens path read-only with O_NONBLOCK (so a FIFO without a writer does not block), checks
 * with fstat that it is a regular file, then clears O_NONBLOCK for reading. Returns the fd
 * (O_CLOEXEC), or -1 with err set to "<what> '<path>': <reason>". */
int mgpt_open_regular(const char *path, const char *what, char *err, size_t errlen);
#ifdef __cplusplus
}
#endif
#endif

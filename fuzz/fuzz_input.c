/* The fuzzer's bytes as a file and as a command line (fuzz_input.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz_input.h"

int fuzz_file(const uint8_t *data, size_t size, char *path, size_t len)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

char **fuzz_argv(const char *prog, const uint8_t *data, size_t size, int *argc)
{
    char **argv = calloc(FUZZ_MAX_ARGS + 2, sizeof *argv);
    if (!argv)
        abort();
    int n = 0;
    argv[n++] = strdup(prog);
    size_t start = 0;
    while (start < size && n <= FUZZ_MAX_ARGS) {
        const uint8_t *nul = memchr(data + start, 0, size - start);
        size_t end = nul ? (size_t)(nul - data) : size;
        char *a = malloc(end - start + 1);
        if (!a)
            abort();
        memcpy(a, data + start, end - start);
        a[end - start] = '\0';
        argv[n++] = a;
        start = end + 1;
    }
    argv[n] = NULL;
    *argc = n;
    return argv;
}

void fuzz_argv_free(char **argv)
{
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

void fuzz_quiet(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    if (!freopen("/dev/null", "w", stdout))
        abort();
    /* stderr stays: the sanitizers and libFuzzer report there; the programs' messages are
     * closed by fuzz/run with -close_fd_mask when running, and kept when reproducing. */
}

/* What the fuzz targets share: the fuzzer's bytes as a file the product opens by path,
 * and as a command line. */
#ifndef MGPT_FUZZ_INPUT_H
#define MGPT_FUZZ_INPUT_H
#include <stddef.h>
#include <stdint.h>

/* The bytes in an anonymous in-memory file (memfd), named "/proc/self/fd/N" in *path
 * (capacity len): the product's readers open it as they open any file. Its descriptor,
 * to close when done, or -1 (then the input is skipped). */
int fuzz_file(const uint8_t *data, size_t size, char *path, size_t len);

/* The bytes as a command line: argv[0] is prog, then one argument per NUL-separated piece
 * (at most FUZZ_MAX_ARGS), each its own allocation so that a read past its end is seen.
 * Ended by a NULL; argc is returned through *argc. Free with fuzz_argv_free. */
#define FUZZ_MAX_ARGS 48
char **fuzz_argv(const char *prog, const uint8_t *data, size_t size, int *argc);
void fuzz_argv_free(char **argv);

/* Sends the programs' messages and --help text to /dev/null (once per process): the
 * fuzzer's own report stays readable. */
void fuzz_quiet(void);
#endif

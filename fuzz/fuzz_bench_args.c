/* libFuzzer target: the bytes as mgpt-bench's command line after the program's name
 * (arguments separated by NUL bytes; the first is the command), through the command's own
 * parser (bench_run_parse, bench_compare_parse, bench_generate_parse), without measuring or reading a file. */
#include <string.h>
#include "bench.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int argc, status = BENCH_OK;
    fuzz_quiet();
    tool_set_program("mgpt-bench", 0);
    char **argv = fuzz_argv("mgpt-bench", data, size, &argc);
    int go = 0;
    if (argc > 1 && strcmp(argv[1], "run") == 0)
        go = bench_run_parse(argc - 1, argv + 1, &status);
    else if (argc > 1 && strcmp(argv[1], "compare") == 0)
        go = bench_compare_parse(argc - 1, argv + 1, &status);
    else if (argc > 1 && strcmp(argv[1], "generate") == 0)
        go = bench_generate_parse(argc - 1, argv + 1, &status);
    if (go && status != BENCH_OK)
        __builtin_trap(); /* going on after an error */
    if (status != BENCH_OK && status != BENCH_USAGE && status != BENCH_FAIL)
        __builtin_trap(); /* an exit status the man page does not name */
    fuzz_argv_free(argv);
    return 0;
}

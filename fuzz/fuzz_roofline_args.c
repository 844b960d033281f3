/* libFuzzer target: the bytes as mgpt-roofline's command line (arguments separated by NUL
 * bytes), through roof_parse_options, without measuring anything. */
#include "roofline.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int argc;
    fuzz_quiet();
    tool_set_program("mgpt-roofline", 0);
    char **argv = fuzz_argv("mgpt-roofline", data, size, &argc);
    roof_options o;
    int rc = roof_parse_options(argc, argv, &o);
    if (rc == 0 && (o.configs.n < 1 || o.repeats < 1 || !(o.min_time > 0)))
        __builtin_trap(); /* accepted options the measurement cannot run with */
    roof_options_free(&o);
    fuzz_argv_free(argv);
    return 0;
}

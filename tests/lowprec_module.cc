// A reduced-precision backend module for test_loader: precision class bf16, the highest
// priority of any module, runnable on every x86-64 CPU. Automatic selection must never pick
// it (a reduced-precision backend runs only when asked for by name); forced, it opens and
// runs. Its table is empty, so the reference kernels run every slot: only its class and
// priority matter here. Built beside the tests as a module (tests/Makefile.am), a
// descriptor of constant data only, like any plugin.
#include <mgpt/backend.h>

namespace {
const mgpt_kernels kernels = {};
}

extern "C" {
extern const mgpt_backend_desc mgpt_backend_lowprec;
const mgpt_backend_desc mgpt_backend_lowprec = {
    MGPT_BACKEND_ABI_MAJOR,     // abi_major
    MGPT_BACKEND_ABI_MINOR,     // abi_minor
    sizeof(mgpt_backend_desc),  // desc_size
    "lowprec",                  // name
    "test module: reduced precision (bf16), the highest priority",
    MGPT_CPU_SSE2,              // required_features
    1000000,                    // priority: above every other module
    MGPT_PRECISION_BF16,        // precision
    MGPT_KERNEL_COUNT,          // n_kernels
    0, 0,                       // tile_rows, tile_cols
    &kernels,
    nullptr,                    // probes
    nullptr,                    // init
    nullptr,                    // shutdown
};
}

// mgpt-check-backend as an author runs it: on the SDK's template module (every check passes,
// exit 0, one row per slot), on a module with wrong kernels (exit 1, each failing slot named
// with its error), on modules mgpt would skip (exit 1 with the loader's reason), on a module
// this CPU cannot run (exit 2), with bad options (exit 2), --json, --help.
#include <gtest/gtest.h>

#include <jansson.h>
#include <mgpt/backend.h>

#include <string>
#include <unistd.h>

#include "test_program.h"

namespace {

std::string Exe()
{
    return mgpt_test::program_path("MGPT_CHECK_EXE",
                                   "../tools/mgpt-check-backend/mgpt-check-backend");
}

std::string Dir(const char *var)
{
    const char *d = getenv(var);
    return d && *d ? d : ".";
}

struct Result {
    int status;
    std::string out;
};

// Runs the checker with `args`, standard error merged into the output.
Result Check(const std::string &args, const std::string &env = "")
{
    Result r;
    r.status = mgpt_test::run_shell(env + " " + Exe() + " " + args + " 2>&1", &r.out);
    return r;
}

bool Has(const std::string &s, const std::string &what)
{
    return s.find(what) != std::string::npos;
}

// Quick settings: the checks are the same, the training runs and timings shorter.
const std::string kQuick = "--steps=4 --speed-time=0.005 ";

TEST(CheckBackend, TemplatePasses)
{
    Result r = Check(kQuick + Dir("MGPT_FIXTURE_DIR") + "/mgpt_template.so");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(Has(r.out, "backend:    template")) << r.out;
    EXPECT_TRUE(Has(r.out, "5 of ")) << r.out;  // native slots
    for (const char *slot : {"sqrelu_forward", "sqrelu_backward", "add_forward", "accumulate",
                             "zero"}) {
        size_t at = r.out.find(std::string("\n") + slot + " ");
        ASSERT_NE(at, std::string::npos) << slot << "\n" << r.out;
        std::string line = r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
        EXPECT_TRUE(Has(line, "native")) << line;
        EXPECT_TRUE(Has(line, "pass")) << line;
    }
    EXPECT_TRUE(Has(r.out, "\nmatmul_forward         fallback")) << r.out;
    EXPECT_TRUE(Has(r.out, "\nthreads ")) << r.out;
    EXPECT_TRUE(Has(r.out, "\ntraining ")) << r.out;
    EXPECT_TRUE(Has(r.out, "template: passed")) << r.out;
}

TEST(CheckBackend, BrokenModuleFailsNamingEachSlot)
{
    Result r = Check(kQuick + "--no-training " + Dir("MGPT_TEST_MODULE_DIR") + "/mgpt_broken.so");
    EXPECT_EQ(r.status, 1) << r.out;
    for (const char *slot : {"sqrelu_forward", "accumulate", "add_forward", "matmul_forward"}) {
        size_t at = r.out.find(std::string("\n") + slot + " ");
        ASSERT_NE(at, std::string::npos) << slot << "\n" << r.out;
        std::string line = r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
        EXPECT_TRUE(Has(line, "FAIL")) << line;
    }
    EXPECT_TRUE(Has(r.out, "out[0] = nan")) << r.out;
    EXPECT_TRUE(Has(r.out, "broken: FAILED: 4 checks failed")) << r.out;
}

TEST(CheckBackend, JsonReport)
{
    // the JSON alone on standard output (the table goes to standard error)
    Result r;
    r.status = mgpt_test::run_shell(Exe() + " " + kQuick + "--no-training --json " +
                                        Dir("MGPT_TEST_MODULE_DIR") + "/mgpt_broken.so 2>/dev/null",
                                    &r.out);
    EXPECT_EQ(r.status, 1);
    json_error_t jerr;
    json_t *root = json_loads(r.out.c_str(), 0, &jerr);
    ASSERT_NE(root, nullptr) << jerr.text << "\n" << r.out;
    EXPECT_STREQ(json_string_value(json_object_get(root, "backend")), "broken");
    EXPECT_TRUE(json_is_false(json_object_get(root, "passed")));
    json_t *checks = json_object_get(root, "checks");
    ASSERT_TRUE(json_is_array(checks));
    int failed = 0, slots = 0;
    for (size_t i = 0; i < json_array_size(checks); i++) {
        json_t *c = json_array_get(checks, i);
        std::string result = json_string_value(json_object_get(c, "result"));
        failed += result == "fail";
        slots += json_is_integer(json_object_get(c, "slot"));
    }
    EXPECT_EQ(failed, 4);
    EXPECT_EQ(slots, (int)MGPT_KERNEL_COUNT);
    json_decref(root);
}

TEST(CheckBackend, SlotsOption)
{
    Result r = Check(kQuick + "--no-training --slots=zero,accumulate " +
                     Dir("MGPT_FIXTURE_DIR") + "/mgpt_template.so");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(Has(r.out, "\nzero ")) << r.out;
    EXPECT_FALSE(Has(r.out, "\nsqrelu_forward ")) << r.out;
    r = Check("--slots=matmul_fwd " + Dir("MGPT_FIXTURE_DIR") + "/mgpt_template.so");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_TRUE(Has(r.out, "no slot is named 'matmul_fwd'")) << r.out;
}

TEST(CheckBackend, ModulesMgptWouldSkip)
{
    // the loader's own reasons, with the file
    Result r = Check(Dir("MGPT_FIXTURE_DIR") + "/mgpt_newmajor.so");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(Has(r.out, "mgpt would skip this module")) << r.out;
    EXPECT_TRUE(Has(r.out, "ABI major version")) << r.out;
    r = Check(Dir("MGPT_FIXTURE_DIR") + "/mgpt_nosym.so");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(Has(r.out, "no entry symbol")) << r.out;
    r = Check(Dir("MGPT_FIXTURE_DIR") + "/mgpt_failinit.so");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(Has(r.out, "failed to initialise")) << r.out;
}

TEST(CheckBackend, ModuleThisCpuCannotRun)
{
    // avx2 masked away: refused with the reason, exit 2, nothing run
    Result r = Check("avx2", "MGPT_CPU_DISABLE=avx2");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_TRUE(Has(r.out, "cannot run on this CPU")) << r.out;
    EXPECT_TRUE(Has(r.out, "MGPT_CPU_DISABLE")) << r.out;
}

// The amx backend's GEMM with its tiles emulated in C (backends/amx/amx_tiles.h): the
// packing into tiles, the 32 x 32 blocks, the zero-padded edges of M, N and K, accumulating
// and writing, thread splits and a training run, against the scalar reference within the
// bf16 class's tolerances. What it cannot check is the hardware's own instructions: on a
// CPU with AMX the real module goes through every backend test.
TEST(CheckBackend, AmxWithEmulatedTilesPasses)
{
    std::string module = Dir("MGPT_TEST_MODULE_DIR") + "/mgpt_amxemu.so";
    if (access(module.c_str(), R_OK) != 0)
        GTEST_SKIP() << "not built: the compiler or assembler lacks AMX (configure's summary)";
    Result r = Check(kQuick + module);
    if (r.status == 2 && Has(r.out, "cannot run on this CPU"))
        GTEST_SKIP() << "this CPU lacks AVX512-BF16, which the emulated module's packing uses";
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(Has(r.out, "precision:  bf16")) << r.out;
    for (const char *slot : {"matmul_forward", "matmul_backward_dinp", "matmul_backward_dw"}) {
        size_t at = r.out.find(std::string("\n") + slot + " ");
        ASSERT_NE(at, std::string::npos) << slot << "\n" << r.out;
        std::string line = r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
        EXPECT_TRUE(Has(line, "native")) << line;
        EXPECT_TRUE(Has(line, "pass")) << line;
    }
    EXPECT_TRUE(Has(r.out, "amxemu: passed")) << r.out;
}

TEST(CheckBackend, BadUsage)
{
    Result r = Check("");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_TRUE(Has(r.out, "missing MODULE")) << r.out;
    r = Check("--steps=1 x.so");
    EXPECT_EQ(r.status, 2) << r.out;
    r = Check("--frobnicate x.so");
    EXPECT_EQ(r.status, 2) << r.out;
    r = Check("./no_such_dir/mgpt_x.so");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_TRUE(Has(r.out, "no such file")) << r.out;
    r = Check("./libfoo.so");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_TRUE(Has(r.out, "mgpt_NAME.so")) << r.out;
    r = Check("nosuchbackend");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_TRUE(Has(r.out, "no backend 'nosuchbackend'")) << r.out;
}

TEST(CheckBackend, Help)
{
    Result r = Check("--help");
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(Has(r.out, "Usage: mgpt-check-backend")) << r.out;
    EXPECT_TRUE(Has(r.out, "Exit status")) << r.out;
    r = Check("--version");
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(Has(r.out, "backend ABI 4.")) << r.out;
}

}  // namespace

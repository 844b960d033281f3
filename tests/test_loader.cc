// The backend loader: bad modules are skipped with a warning naming the file and the
// reason; the SDK template loads as a partial backend; CPU feature masking drives the
// dispatch chain avx512 -> avx2 -> sse -> scalar; forcing is checked like automatic choice.
#include <gtest/gtest.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#include "cpu.h"
#include "registry.h"

namespace {

std::string env(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "";
}

std::string fixtures_and_backends()
{
    return env("MGPT_FIXTURE_DIR") + ":" + env("MGPT_PLUGIN_PATH");
}

const mgpt_backend_entry *entry(const mgpt_registry &r, const char *name)
{
    for (int i = 0; i < r.n; i++)
        if (strcmp(r.entries[i].name, name) == 0)
            return &r.entries[i];
    return nullptr;
}

mgpt_backend_env default_env(const mgpt_registry &r)
{
    mgpt_backend_env e = {MGPT_BACKEND_ABI_VERSION, 1, nullptr, 0, r.cpu_features};
    return e;
}

std::string read_all(FILE *f)
{
    std::string s;
    rewind(f);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        s.append(buf, n);
    return s;
}

class Loader : public ::testing::Test {
protected:
    void SetUp() override { unsetenv("MGPT_CPU_DISABLE"); unsetenv("MGPT_BACKEND"); }
    void TearDown() override { unsetenv("MGPT_CPU_DISABLE"); }
};

TEST_F(Loader, BadModulesAreSkippedWithFileAndReason)
{
    mgpt_registry r;
    char err[512];
    FILE *warn = tmpfile();
    ASSERT_NE(warn, nullptr);
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), warn, err, sizeof err), 0);
    std::string warnings = read_all(warn);
    fclose(warn);

    const mgpt_backend_entry *bad = entry(r, "badabi");
    ASSERT_NE(bad, nullptr);
    EXPECT_EQ(bad->status, MGPT_BE_REJECTED);
    // a version-1 module (its kernel table is shorter than this ABI's)
    EXPECT_NE(std::string(bad->reason).find("ABI version 1, but this mgpt speaks version " +
                                            std::to_string(MGPT_BACKEND_ABI_VERSION)),
              std::string::npos) << bad->reason;
    // a version-2 module: a table of the same size as version 3's, but backward kernels
    // without the write argument (they would add into gradients the engine no longer zeroes)
    const mgpt_backend_entry *bad2 = entry(r, "badabi2");
    ASSERT_NE(bad2, nullptr);
    EXPECT_EQ(bad2->status, MGPT_BE_REJECTED);
    EXPECT_NE(std::string(bad2->reason).find("ABI version 2, but this mgpt speaks version " +
                                             std::to_string(MGPT_BACKEND_ABI_VERSION)),
              std::string::npos) << bad2->reason;

    const mgpt_backend_entry *nosym = entry(r, "nosym");
    ASSERT_NE(nosym, nullptr);
    EXPECT_EQ(nosym->status, MGPT_BE_REJECTED);
    EXPECT_NE(std::string(nosym->reason).find("mgpt_backend_nosym"), std::string::npos);

    const mgpt_backend_entry *mis = entry(r, "misnamed");
    ASSERT_NE(mis, nullptr);
    EXPECT_EQ(mis->status, MGPT_BE_REJECTED);
    EXPECT_NE(std::string(mis->reason).find("somebodyelse"), std::string::npos);

    // one warning per bad module, each naming its file
    for (const char *file :
         {"mgpt_badabi.so", "mgpt_badabi2.so", "mgpt_nosym.so", "mgpt_misnamed.so"})
        EXPECT_NE(warnings.find(file), std::string::npos) << "no warning names " << file;
    // good modules load
    const mgpt_backend_entry *scalar = entry(r, "scalar");
    ASSERT_NE(scalar, nullptr);
    EXPECT_EQ(scalar->status, MGPT_BE_RUNNABLE);
    mgpt_registry_free(&r);
}

TEST_F(Loader, FailingInitIsSkippedWithWarningInAutomaticChoice)
{
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    testing::internal::CaptureStderr();
    int rc = mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err);
    std::string warnings = testing::internal::GetCapturedStderr();
    ASSERT_EQ(rc, 0) << err;
    EXPECT_STRNE(be.entry->name, "failinit");
    EXPECT_NE(warnings.find("mgpt_failinit.so"), std::string::npos) << warnings;
    EXPECT_NE(warnings.find("no accelerator attached"), std::string::npos) << warnings;
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

TEST_F(Loader, ForcedFailingInitIsAnError)
{
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    EXPECT_EQ(mgpt_backend_open(&r, "failinit", &e, &be, err, sizeof err), 1);
    EXPECT_NE(std::string(err).find("no accelerator attached"), std::string::npos) << err;
    mgpt_registry_free(&r);
}

TEST_F(Loader, TemplateIsAPartialBackendFilledFromScalar)
{
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), nullptr, err, sizeof err), 0);
    const mgpt_backend_entry *scalar = mgpt_registry_find(&r, "scalar");
    ASSERT_NE(scalar, nullptr);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    ASSERT_EQ(mgpt_backend_open(&r, "template", &e, &be, err, sizeof err), 0) << err;
    for (int i = 0; i < mgpt_kernel_count(); i++) {
        std::string name = mgpt_kernel_name(i);
        bool native = name == "sqrelu_forward" || name == "sqrelu_backward" ||
                      name == "add_forward" || name == "accumulate" || name == "zero";
        EXPECT_EQ((be.native >> i) & 1u, native ? 1u : 0u) << name;
        ASSERT_NE(mgpt_kernel_get(&be.k, i), nullptr) << name;
        if (!native) {
            EXPECT_EQ(mgpt_kernel_get(&be.k, i), mgpt_kernel_get(scalar->desc->kernels, i)) << name;
        }
    }
    // and it computes: the template's squared ReLU
    float x[3] = {-1.0f, 0.5f, 2.0f}, y[3];
    be.k.sqrelu_forward(y, x, 3);
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_EQ(y[1], 0.25f);
    EXPECT_EQ(y[2], 4.0f);
    be.k.zero(y, 2);
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_EQ(y[1], 0.0f);
    EXPECT_EQ(y[2], 4.0f);
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

TEST_F(Loader, EmptyPluginDirectoryIsAClearError)
{
    char dir[] = "/tmp/mgpt-empty-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    mgpt_registry r;
    char err[512];
    EXPECT_EQ(mgpt_registry_load(&r, dir, nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    EXPECT_EQ(mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err), 1);
    EXPECT_NE(std::string(err).find(dir), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("MGPT_PLUGIN_PATH"), std::string::npos) << err;
    mgpt_registry_free(&r);
    rmdir(dir);
}

TEST_F(Loader, UnknownBackendListsTheAvailableOnes)
{
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    EXPECT_EQ(mgpt_backend_open(&r, "nosuch", &e, &be, err, sizeof err), 2);
    EXPECT_NE(std::string(err).find("nosuch"), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("scalar"), std::string::npos) << err;
    mgpt_registry_free(&r);
}

TEST_F(Loader, MgptBackendEnvironmentForcesLikeTheOption)
{
    setenv("MGPT_BACKEND", "scalar", 1);
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    ASSERT_EQ(mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err), 0) << err;
    EXPECT_STREQ(be.entry->name, "scalar");
    unsetenv("MGPT_BACKEND");
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

// The chain on this machine as features are masked one ISA at a time. A step whose
// hardware features are absent (a CPU without AVX-512, say) is skipped and says so.
TEST_F(Loader, MaskingFeaturesWalksAvx512Avx2SseScalar)
{
    mgpt_cpu_info cpu;
    char err[512];
    ASSERT_EQ(mgpt_cpu_detect(&cpu, err, sizeof err), 0) << err;
    struct Step { const char *mask; const char *expect; uint32_t needs; };
    const Step chain[] = {
        {"", "avx512", MGPT_CPU_AVX512F | MGPT_CPU_AVX512BW | MGPT_CPU_AVX512VL | MGPT_CPU_AVX512DQ},
        {"avx512f", "avx2", MGPT_CPU_AVX2 | MGPT_CPU_FMA},
        {"avx512f,avx2", "sse", MGPT_CPU_SSE42},
        {"avx512f,avx2,sse4.1", "scalar", 0},
    };
    int skipped = 0;
    for (const Step &s : chain) {
        if ((cpu.hw_features & s.needs) != s.needs) {
            printf("[  SKIPPED ] step '%s' -> %s: this CPU lacks the features\n", s.mask, s.expect);
            skipped++;
            continue;
        }
        setenv("MGPT_CPU_DISABLE", s.mask, 1);
        mgpt_registry r;
        ASSERT_GE(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), 0) << err;
        if (!mgpt_registry_find(&r, s.expect)) {
            printf("[  SKIPPED ] backend %s was not built\n", s.expect);
            mgpt_registry_free(&r);
            skipped++;
            continue;
        }
        const mgpt_backend_entry *best = mgpt_registry_best(&r);
        ASSERT_NE(best, nullptr);
        // A threaded module (openmp: priority 40, runnable wherever sse is, composing the
        // best SIMD kernels) wins while it can run; the chain is that of the others.
        const mgpt_backend_entry *omp = mgpt_registry_find(&r, "openmp");
        if (omp && omp->status == MGPT_BE_RUNNABLE) {
            EXPECT_STREQ(best->name, "openmp") << "MGPT_CPU_DISABLE=" << s.mask;
            best = nullptr;
            for (int i = 0; i < r.n; i++) {
                const mgpt_backend_entry *e = &r.entries[i];
                if (e->status == MGPT_BE_RUNNABLE && !(e->desc->flags & MGPT_BACKEND_THREADED) &&
                    (!best || e->desc->priority > best->desc->priority))
                    best = e;
            }
            ASSERT_NE(best, nullptr);
        }
        EXPECT_STREQ(best->name, s.expect) << "MGPT_CPU_DISABLE=" << s.mask;
        mgpt_registry_free(&r);
    }
    if (skipped == 4)
        GTEST_SKIP() << "no step of the chain can run on this CPU";
}

TEST_F(Loader, MaskedOffBackendCannotBeForced)
{
    mgpt_cpu_info cpu;
    char err[512];
    ASSERT_EQ(mgpt_cpu_detect(&cpu, err, sizeof err), 0);
    setenv("MGPT_CPU_DISABLE", "avx2", 1);
    mgpt_registry r;
    ASSERT_GE(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), 0);
    if (!mgpt_registry_find(&r, "avx2")) {
        mgpt_registry_free(&r);
        GTEST_SKIP() << "the avx2 backend was not built";
    }
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    EXPECT_EQ(mgpt_backend_open(&r, "avx2", &e, &be, err, sizeof err), 2);
    EXPECT_NE(std::string(err).find("needs avx2"), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("MGPT_CPU_DISABLE"), std::string::npos) << err;
    mgpt_registry_free(&r);
}

TEST_F(Loader, UnknownFeatureInMaskIsRefused)
{
    setenv("MGPT_CPU_DISABLE", "avx2,warpdrive", 1);
    mgpt_registry r;
    char err[512];
    EXPECT_EQ(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("warpdrive"), std::string::npos) << err;
}

TEST(Cpu, OsSupportGatesVectorFeatures)
{
    mgpt_cpu_info cpu;
    char err[512];
    ASSERT_EQ(mgpt_cpu_detect(&cpu, err, sizeof err), 0);
    if (cpu.hw_features & MGPT_CPU_AVX2) {
        EXPECT_EQ(cpu.xcr0 & 0x6, 0x6u) << "AVX2 reported without the OS saving YMM state";
    }
    if (cpu.hw_features & MGPT_CPU_AVX512F) {
        EXPECT_EQ(cpu.xcr0 & 0xe6, 0xe6u) << "AVX-512 reported without the OS saving ZMM state";
    }
    EXPECT_TRUE(cpu.hw_features & MGPT_CPU_SSE2) << "every x86-64 CPU has SSE2";
    char names[256];
    mgpt_cpu_feature_names(MGPT_CPU_AVX2 | MGPT_CPU_SSE41, names, sizeof names);
    EXPECT_STREQ(names, "sse4.1 avx2");
    EXPECT_EQ(mgpt_cpu_feature_bit("avx512bw"), (uint32_t)MGPT_CPU_AVX512BW);
    EXPECT_EQ(mgpt_cpu_feature_bit("nonsense"), 0u);
}

}  // namespace

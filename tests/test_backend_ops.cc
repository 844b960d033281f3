// Every backend module in the tree, and the SDK's template, checked by the same code as
// mgpt-check-backend (tools/mgpt-check-backend: one definition of a correct backend): each
// kernel slot against the scalar reference (tails, guard pages, both write modes, the split
// rule, determinism; the tolerances are stated in check.h and beside each check), the
// probes, the whole backend bitwise the same on 1, 2 and 3 threads, and a training run that
// tracks scalar. And the checker itself: a module with four wrong kernels fails on exactly
// those slots, each failure naming its case and the error (a crash included).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

extern "C" {
#include "platform/cpu.h"
#include "check.h"
}

namespace {

// A registry of the search path (MGPT_PLUGIN_PATH: the build tree's modules), or of one
// module file.
class Registry {
public:
    explicit Registry(const std::string &file = "")
    {
        char err[512] = "";
        int n = file.empty() ? mgpt_registry_load(&r_, nullptr, stderr, err, sizeof err)
                             : mgpt_registry_load_file(&r_, file.c_str(), stderr, err, sizeof err);
        ok_ = n >= 0;
        why_ = err;
    }
    ~Registry()
    {
        if (ok_)
            mgpt_registry_free(&r_);
    }
    Registry(const Registry &) = delete;
    Registry &operator=(const Registry &) = delete;
    mgpt_registry *get() { return &r_; }
    bool ok() const { return ok_; }
    const std::string &why() const { return why_; }

private:
    mgpt_registry r_{};
    bool ok_ = false;
    std::string why_;
};

std::vector<std::string> BackendNames()
{
    Registry r;
    std::vector<std::string> out;
    for (int i = 0; r.ok() && i < r.get()->n; i++) {
        const mgpt_backend_entry &e = r.get()->entries[i];
        if (e.desc && mgpt_registry_find(r.get(), e.name) == &e)
            out.push_back(e.name);
    }
    return out.empty() ? std::vector<std::string>{"(none found)"} : out;
}

// A checker over backend `name` of registry r; the test is skipped (with the reason) when
// this CPU cannot run it.
class Checker {
public:
    Checker(Registry &r, const std::string &name)
    {
        if (!r.ok()) {
            why_ = "loading the registry: " + r.why();
            return;
        }
        char err[512] = "";
        status_ = mgpt_check_open(&c_, r.get(), name.c_str(), err, sizeof err);
        why_ = err;
    }
    ~Checker()
    {
        if (status_ == 0)
            mgpt_check_close(&c_);
    }
    Checker(const Checker &) = delete;
    Checker &operator=(const Checker &) = delete;
    int status() const { return status_; }
    const std::string &why() const { return why_; }
    mgpt_checker *get() { return &c_; }

private:
    mgpt_checker c_{};
    int status_ = -1;
    std::string why_;
};

#define OPEN_OR_SKIP(chk)                                                                    \
    do {                                                                                     \
        if ((chk).status() == 2)                                                             \
            GTEST_SKIP() << (chk).why();                                                     \
        ASSERT_EQ((chk).status(), 0) << (chk).why();                                         \
    } while (0)

// A row's verdict: a failure with its detail; a skipped slot of the module's own with why.
::testing::AssertionResult Passed(const mgpt_check_row &row)
{
    if (row.status == MGPT_CHECK_FAIL)
        return ::testing::AssertionFailure() << row.name << ": " << row.detail;
    return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------
class BackendSlot : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(BackendSlot, MatchesTheScalarReference)
{
    Registry r;
    Checker chk(r, std::get<0>(GetParam()));
    OPEN_OR_SKIP(chk);
    mgpt_check_row row;
    mgpt_check_slot(chk.get(), std::get<1>(GetParam()), &row);
    if (row.status == MGPT_CHECK_SKIP)
        GTEST_SKIP() << row.name << ": " << row.detail;
    EXPECT_TRUE(Passed(row));
    EXPECT_GT(row.cases, 0) << row.name << ": nothing was compared";
    EXPECT_LE(row.worst, 1.0) << row.name;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendSlot,
                         ::testing::Combine(::testing::ValuesIn(BackendNames()),
                                            ::testing::Range(0, (int)MGPT_KERNEL_COUNT)),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, int>> &info) {
                             return std::get<0>(info.param) + "_" +
                                    mgpt_kernel_name(std::get<1>(info.param));
                         });

class BackendWhole : public ::testing::TestWithParam<std::string> {};

TEST_P(BackendWhole, Probes)
{
    Registry r;
    Checker chk(r, GetParam());
    OPEN_OR_SKIP(chk);
    mgpt_check_row rows[2];
    mgpt_check_probes(chk.get(), rows);
    EXPECT_TRUE(Passed(rows[0]));
    EXPECT_TRUE(Passed(rows[1]));
}

TEST_P(BackendWhole, BitwiseTheSameOnOneTwoAndThreeThreads)
{
    Registry r;
    Checker chk(r, GetParam());
    OPEN_OR_SKIP(chk);
    mgpt_check_row row;
    mgpt_check_threads(chk.get(), 6, &row);
    if (row.status == MGPT_CHECK_SKIP)
        GTEST_SKIP() << row.detail;
    EXPECT_TRUE(Passed(row));
    EXPECT_EQ(row.cases, MGPT_CHECK_THREADS);
}

TEST_P(BackendWhole, TrainingTracksScalar)
{
    Registry r;
    Checker chk(r, GetParam());
    OPEN_OR_SKIP(chk);
    mgpt_check_row row;
    mgpt_check_training(chk.get(), 30, &row);
    EXPECT_TRUE(Passed(row));
    EXPECT_EQ(row.cases, 30);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendWhole, ::testing::ValuesIn(BackendNames()),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                             return info.param;
                         });

// The suites above are empty (and would pass) if the modules were not found at all.
TEST(BackendRegistry, FindsTheScalarReference)
{
    Registry r;
    ASSERT_TRUE(r.ok()) << r.why();
    EXPECT_NE(mgpt_registry_find(r.get(), "scalar"), nullptr)
        << "no scalar backend in " << r.get()->searched;
}

// ---------------------------------------------------------------------------------------
std::string ModuleFile(const char *dir_var, const char *file)
{
    const char *d = getenv(dir_var);
    return std::string(d && *d ? d : ".") + "/" + file;
}

// The SDK's template, built from plugins/template exactly as shipped (tests/fixtures): its
// element-wise kernels pass, every other slot runs the reference.
TEST(TemplateModule, PassesEveryCheck)
{
    Registry r(ModuleFile("MGPT_FIXTURE_DIR", "mgpt_template.so"));
    Checker chk(r, "template");
    OPEN_OR_SKIP(chk);
    int native = 0;
    for (int i = 0; i < mgpt_kernel_count(); i++) {
        mgpt_check_row row;
        mgpt_check_slot(chk.get(), i, &row);
        EXPECT_TRUE(Passed(row));
        native += row.native;
        EXPECT_EQ(row.status == MGPT_CHECK_PASS, row.native != 0) << row.name;
    }
    EXPECT_EQ(native, 5);
    mgpt_check_row row;
    mgpt_check_training(chk.get(), 10, &row);
    EXPECT_TRUE(Passed(row));
}

// tests/broken_module.c: four wrong kernels. Each fails, naming the case and the error;
// every other slot runs the reference and is not checked.
TEST(BrokenModule, FailsOnExactlyItsWrongSlots)
{
    Registry r(ModuleFile("MGPT_TEST_MODULE_DIR", "mgpt_broken.so"));
    Checker chk(r, "broken");
    ASSERT_EQ(chk.status(), 0) << chk.why();
    for (int i = 0; i < mgpt_kernel_count(); i++) {
        mgpt_check_row row;
        mgpt_check_slot(chk.get(), i, &row);
        std::string name = row.name, detail = row.detail;
        if (name == "sqrelu_forward") {
            // n = 1: the tail loop is missing, out[0] keeps the NaN it was given
            EXPECT_EQ(row.status, MGPT_CHECK_FAIL);
            EXPECT_NE(detail.find("n=1:"), std::string::npos) << detail;
            EXPECT_NE(detail.find("out[0] = nan"), std::string::npos) << detail;
        } else if (name == "accumulate") {
            // writing: it added to the NaN it should have overwritten
            EXPECT_EQ(row.status, MGPT_CHECK_FAIL);
            EXPECT_NE(detail.find("writing dinp"), std::string::npos) << detail;
            EXPECT_NE(detail.find("dst[0] = nan"), std::string::npos) << detail;
        } else if (name == "add_forward") {
            // n = 1: it wrote out[1..3], past the end: the fault is caught and reported
            EXPECT_EQ(row.status, MGPT_CHECK_FAIL);
            EXPECT_NE(detail.find("crashed (SIGSEGV"), std::string::npos) << detail;
            EXPECT_NE(detail.find("past the end of a buffer"), std::string::npos) << detail;
        } else if (name == "matmul_forward") {
            // right on whole calls, wrong on a block: it wrote outside its columns
            EXPECT_EQ(row.status, MGPT_CHECK_FAIL);
            EXPECT_NE(detail.find("block"), std::string::npos) << detail;
            EXPECT_GT(row.cases, 100) << "the accuracy cases should all have passed first";
        } else {
            EXPECT_EQ(row.status, MGPT_CHECK_SKIP) << name << ": " << detail;
            EXPECT_EQ(row.native, 0) << name;
        }
    }
}

}  // namespace

// Every backend module in the tree, and the SDK's template, checked by the same code as
// mgpt-check-backend (tools/mgpt-check-backend: one definition of a correct backend): each
// kernel slot against the scalar reference (tails, guard pages, both write modes, the split
// rule, determinism; the tolerances are stated in check.h and beside each check), the
// probes, the whole backend bitwise the same on 1, 2 and 3 threads, and a training run that
// tracks scalar. And the checker itself: a module with four wrong kernels fails on exactly
// those slots, each failure naming its case and the error (a crash included).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "test_compute.h"

extern "C" {
#include "check.h"
}

namespace {

using mgpt_test::Registry;

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
                         ::testing::Combine(::testing::ValuesIn(mgpt_test::backend_names()),
                                            ::testing::Range(0, (int)MGPT_KERNEL_COUNT)),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, int>> &info) {
                             return std::get<0>(info.param) + "_" +
                                    mgpt_kernel_name(std::get<1>(info.param));
                         });

// The whole backend: its probes, threads, a training run. Each test opens its own checker.
class BackendWhole : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override
    {
        chk_.reset(new Checker(reg_, GetParam()));
        OPEN_OR_SKIP(*chk_);
    }
    mgpt_checker *checker() { return chk_->get(); }
    Registry reg_;
    std::unique_ptr<Checker> chk_;
};

TEST_P(BackendWhole, Probes)
{
    mgpt_check_row rows[2];
    mgpt_check_probes(checker(), rows);
    EXPECT_TRUE(Passed(rows[0]));
    EXPECT_TRUE(Passed(rows[1]));
}

TEST_P(BackendWhole, BitwiseTheSameOnOneTwoAndThreeThreads)
{
    mgpt_check_row row;
    mgpt_check_threads(checker(), 6, &row);
    if (row.status == MGPT_CHECK_SKIP)
        GTEST_SKIP() << row.detail;
    EXPECT_TRUE(Passed(row));
    EXPECT_EQ(row.cases, MGPT_CHECK_THREADS);
}

TEST_P(BackendWhole, TrainingTracksScalar)
{
    mgpt_check_row row;
    mgpt_check_training(checker(), 30, &row);
    EXPECT_TRUE(Passed(row));
    EXPECT_EQ(row.cases, 30);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendWhole, ::testing::ValuesIn(mgpt_test::backend_names()),
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
    Registry r(Registry::File{ModuleFile("MGPT_FIXTURE_DIR", "mgpt_template.so")});
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
    Registry r(Registry::File{ModuleFile("MGPT_TEST_MODULE_DIR", "mgpt_broken.so")});
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

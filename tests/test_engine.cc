// Engines and instances: what a process may hold at once. Two engines (one backend at 1 and
// at 2 threads; two backends), and two models on one engine, their training steps
// interleaved, each run bitwise the same as the same run alone; and a backend whose
// mutable state lives only in its instance (tests/fixtures/instance.c: its kernels abort
// unless the context names the instance its own init made and a thread below the count it
// was opened for) opened twice at once, each instance called with its own contexts only,
// on every thread of its team, and either one closed while the other goes on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "engine/compute.h"
#include "engine/engine.h"
#include "model/model.h"
#include "engine/registry.h"
#include "engine/threads.h"
}
#include "test_compute.h"

namespace {

using namespace mgpt_test;

// The backend the engines of these tests run: the best this CPU runs (avx512 on a machine
// that has it).
std::string best_backend()
{
    Registry r;
    const mgpt_backend_entry *e = r.ok() ? mgpt_registry_best(r.get()) : nullptr;
    return e ? e->name : "scalar";
}

// The two runs of a test: a config and a clipping threshold each (the clipping makes the
// gradient norm, the team's sumsq, reach the parameters).
struct RunSpec {
    const char *config;
    float clip;
    int steps;
};
const RunSpec kRunA = {"e64_L2_b16_B8", 1.0f, 12};
const RunSpec kRunB = {"e32_L1_b16_B4", 0.5f, 12};

// Runs a and b on computes ca and cb, one step of each in turn, in one process. (The tests
// set MGPT_THREAD_SPLIT=always: a model on a team then computes on its threads, where the
// engine would otherwise keep a model whose ops are all small on the calling thread.)
void interleave(const mgpt_compute *ca, const RunSpec &a, const mgpt_compute *cb,
                const RunSpec &b, TrainRun *ra, TrainRun *rb)
{
    Trainer ta(ca, a.config, a.steps, a.clip), tb(cb, b.config, b.steps, b.clip);
    ASSERT_TRUE(ta.ok()) << ta.why();
    ASSERT_TRUE(tb.ok()) << tb.why();
    ASSERT_EQ(ta.model()->compute.team, ca->team);
    ASSERT_EQ(tb.model()->compute.team, cb->team);
    for (int s = 0; s < a.steps || s < b.steps; s++) {
        if (s < a.steps) {
            ASSERT_TRUE(ta.step()) << ta.why();
        }
        if (s < b.steps) {
            ASSERT_TRUE(tb.step()) << tb.why();
        }
    }
    *ra = ta.result();
    *rb = tb.result();
}

TEST(Engines, OneBackendAtOneAndTwoThreadsInterleaved)
{
    if (!mgpt_threads_available())
        GTEST_SKIP() << "this mgpt was built without OpenMP: no engine of 2 threads";
    ScopedEnv split("MGPT_THREAD_SPLIT", "always");   // every op of the 2-thread one split
    std::string be = best_backend();
    SCOPED_TRACE("backend " + be);
    TrainRun alone_a, alone_b;
    {
        Engine e(be.c_str(), 1);
        ASSERT_TRUE(e.ok()) << e.why();
        alone_a = train(e.compute(), kRunA.config, kRunA.steps, kRunA.clip);
    }
    {
        Engine e(be.c_str(), 2);
        ASSERT_TRUE(e.ok()) << e.why();
        alone_b = train(e.compute(), kRunB.config, kRunB.steps, kRunB.clip);
    }
    ASSERT_EQ(alone_a.losses.size(), (size_t)kRunA.steps);
    ASSERT_EQ(alone_b.losses.size(), (size_t)kRunB.steps);
    EXPECT_GT(*std::max_element(alone_a.norms.begin(), alone_a.norms.end()), kRunA.clip);
    EXPECT_GT(*std::max_element(alone_b.norms.begin(), alone_b.norms.end()), kRunB.clip);

    Engine one(be.c_str(), 1), two(be.c_str(), 2);
    ASSERT_TRUE(one.ok()) << one.why();
    ASSERT_TRUE(two.ok()) << two.why();
    // two instances of the module, each with its own context
    EXPECT_EQ(one.get().be.entry->desc, two.get().be.entry->desc);
    EXPECT_NE(one.compute()->ctx, two.compute()->ctx);
    EXPECT_EQ(one.compute()->team, nullptr);
    EXPECT_NE(two.compute()->team, nullptr);
    TrainRun ra, rb;
    interleave(one.compute(), kRunA, two.compute(), kRunB, &ra, &rb);
    EXPECT_TRUE(SameRun(ra, alone_a)) << kRunA.config << " on 1 thread";
    EXPECT_TRUE(SameRun(rb, alone_b)) << kRunB.config << " on 2 threads";
    // and the other way round: the same runs, the engines swapped
    interleave(two.compute(), kRunA, one.compute(), kRunB, &ra, &rb);
    EXPECT_TRUE(SameRun(ra, alone_a)) << kRunA.config << " on 2 threads";
    EXPECT_TRUE(SameRun(rb, alone_b)) << kRunB.config << " on 1 thread";
}

TEST(Engines, TwoBackendsInterleaved)
{
    // the best backend and the scalar reference, each on its own engine
    std::string be = best_backend();
    if (be == "scalar")
        GTEST_SKIP() << "scalar is the only backend this CPU runs";
    ScopedEnv split("MGPT_THREAD_SPLIT", "always");
    int threads = mgpt_threads_available() ? 2 : 1;
    TrainRun alone_a, alone_b;
    {
        Engine e(be.c_str(), threads);
        ASSERT_TRUE(e.ok()) << e.why();
        alone_a = train(e.compute(), kRunA.config, kRunA.steps, kRunA.clip);
    }
    {
        Engine e("scalar", 1);
        ASSERT_TRUE(e.ok()) << e.why();
        alone_b = train(e.compute(), kRunB.config, kRunB.steps, kRunB.clip);
    }
    Engine ea(be.c_str(), threads), eb("scalar", 1);
    ASSERT_TRUE(ea.ok()) << ea.why();
    ASSERT_TRUE(eb.ok()) << eb.why();
    TrainRun ra, rb;
    interleave(ea.compute(), kRunA, eb.compute(), kRunB, &ra, &rb);
    EXPECT_TRUE(SameRun(ra, alone_a)) << be;
    EXPECT_TRUE(SameRun(rb, alone_b)) << "scalar";
}

TEST(Engines, TwoModelsOnOneEngineInterleaved)
{
    ScopedEnv split("MGPT_THREAD_SPLIT", "always");
    std::string be = best_backend();
    int threads = mgpt_threads_available() ? 2 : 1;
    SCOPED_TRACE("backend " + be + ", " + std::to_string(threads) + " threads");
    Engine e(be.c_str(), threads);
    ASSERT_TRUE(e.ok()) << e.why();
    TrainRun alone_a = train(e.compute(), kRunA.config, kRunA.steps, kRunA.clip);
    TrainRun alone_b = train(e.compute(), kRunB.config, kRunB.steps, kRunB.clip);
    TrainRun ra, rb;
    interleave(e.compute(), kRunA, e.compute(), kRunB, &ra, &rb);
    EXPECT_TRUE(SameRun(ra, alone_a)) << kRunA.config;
    EXPECT_TRUE(SameRun(rb, alone_b)) << kRunB.config;
    // two models of one config and seed, stepped in turn, stay identical
    TrainRun r1, r2;
    interleave(e.compute(), kRunA, e.compute(), kRunA, &r1, &r2);
    EXPECT_TRUE(SameRun(r1, alone_a));
    EXPECT_TRUE(SameRun(r2, alone_a));
}

// ---------------------------------------------------------------------------------------
// The instance fixture.

std::string fixtures_and_backends()
{
    const char *f = getenv("MGPT_FIXTURE_DIR"), *p = getenv("MGPT_PLUGIN_PATH");
    return std::string(f ? f : "") + ":" + (p ? p : "");
}

// The fixture's instance, as tests/fixtures/instance.c lays it out: a magic number, a
// pointer to itself, the thread count it was opened for, and a call counter per thread.
struct FixtureCounter {
    uint64_t calls;
    char pad[56];
};
struct FixtureInstance {
    uint64_t magic;
    const FixtureInstance *self;
    int num_threads;
    FixtureCounter *counters;
};
const uint64_t kFixtureMagic = UINT64_C(0x6d67707420696e73);   // "mgpt ins"

const FixtureInstance *fixture_instance(void *instance)
{
    const FixtureInstance *s = static_cast<const FixtureInstance *>(instance);
    return s && s->magic == kFixtureMagic && s->self == s ? s : nullptr;
}

std::vector<uint64_t> fixture_calls(void *instance)
{
    std::vector<uint64_t> v;
    if (const FixtureInstance *s = fixture_instance(instance))
        for (int t = 0; t < s->num_threads; t++)
            v.push_back(s->counters[t].calls);
    return v;
}

class InstanceFixture : public ::testing::Test {
protected:
    void SetUp() override
    {
        path_ = fixtures_and_backends();
        Registry r(path_.c_str(), nullptr);
        ASSERT_TRUE(r.ok()) << r.why();
        const mgpt_backend_entry *e = r.find("instance");
        if (!e)
            GTEST_SKIP() << "the instance fixture (mgpt_instance.so) is not in "
                         << r.get()->searched << " (run through make check)";
        ASSERT_EQ(e->status, MGPT_BE_RUNNABLE);
    }
    std::string path_;
};

TEST_F(InstanceFixture, TwoInstancesOfOneEntryAreDistinct)
{
    Registry r(path_.c_str(), nullptr);
    ASSERT_TRUE(r.ok()) << r.why();
    Instance a(r, "instance", 1), b(r, "instance", 3);
    ASSERT_TRUE(a.ok()) << a.why();
    ASSERT_TRUE(b.ok()) << b.why();
    EXPECT_EQ(a.be().entry, b.be().entry);
    ASSERT_NE(a.be().instance, nullptr);
    ASSERT_NE(b.be().instance, nullptr);
    EXPECT_NE(a.be().instance, b.be().instance);
    EXPECT_EQ(a.be().ctx.instance, a.be().instance);
    EXPECT_EQ(b.be().ctx.instance, b.be().instance);
    EXPECT_EQ(a.be().num_threads, 1);
    EXPECT_EQ(b.be().num_threads, 3);
    ASSERT_EQ(fixture_calls(a.be().instance), std::vector<uint64_t>(1, 0));
    ASSERT_EQ(fixture_calls(b.be().instance), std::vector<uint64_t>(3, 0));
    // the module's own kernels are accumulate and zero; every other slot is the reference
    for (int i = 0; i < mgpt_kernel_count(); i++) {
        bool own = i == MGPT_K_ACCUMULATE || i == MGPT_K_ZERO;
        EXPECT_EQ((a.be().native >> i) & 1u, own ? 1u : 0u) << mgpt_kernel_name(i);
        if (!own) {
            EXPECT_EQ(mgpt_kernel_get(&a.be().k, i), mgpt_kernel_get(&mgpt_reference_kernels, i))
                << mgpt_kernel_name(i);
        }
    }
    // each instance counts its own calls, per thread
    float x[5] = {1, 2, 3, 4, 5};
    const float y[5] = {1, 1, 1, 1, 1};
    a.be().k.accumulate(&a.be().ctx, x, y, 5, 0);
    EXPECT_EQ(x[4], 6.0f);
    const mgpt_ctx b2 = {b.be().instance, 2};
    b.be().k.zero(&b2, x, 5);
    EXPECT_EQ(x[4], 0.0f);
    b.be().k.accumulate(&b.be().ctx, x, y, 5, MGPT_WRITE_DINP);
    EXPECT_EQ(x[0], 1.0f);
    EXPECT_EQ(fixture_calls(a.be().instance), std::vector<uint64_t>({1}));
    EXPECT_EQ(fixture_calls(b.be().instance), std::vector<uint64_t>({1, 0, 1}));
}

TEST_F(InstanceFixture, ForeignContextsAbort)
{
    // The fixture's trap, which the tests above rely on: a context naming no instance of its
    // own, or a thread past its count, ends the process.
    ::testing::FLAGS_gtest_death_test_style = "threadsafe";
    Registry r(path_.c_str(), nullptr);
    ASSERT_TRUE(r.ok()) << r.why();
    Instance a(r, "instance", 2);
    ASSERT_TRUE(a.ok()) << a.why();
    float x[4] = {0, 0, 0, 0};
    int other = 0;
    const mgpt_ctx none = {nullptr, 0}, foreign = {&other, 0}, past = {a.be().instance, 2};
    EXPECT_DEATH(a.be().k.zero(&none, x, 4), "");
    EXPECT_DEATH(a.be().k.zero(&foreign, x, 4), "");
    EXPECT_DEATH(a.be().k.zero(&past, x, 4), "");
    const mgpt_ctx last = {a.be().instance, 1};
    a.be().k.zero(&last, x, 4);
    EXPECT_EQ(fixture_calls(a.be().instance), std::vector<uint64_t>({0, 1}));
}

TEST_F(InstanceFixture, TwoEnginesOnTwoInstancesTrainInterleaved)
{
    // The fixture computes what the reference does (its accumulate and zero are exact), so
    // each run must give the bits of the reference kernels alone; on 2 threads with every op
    // split, its kernels run on both threads, each with its own context.
    ScopedEnv split("MGPT_THREAD_SPLIT", "always");
    const mgpt_ctx ref_ctx = {nullptr, 0};
    const mgpt_compute reference = {&mgpt_reference_kernels, &ref_ctx, nullptr};
    TrainRun alone_a = train(&reference, kRunA.config, kRunA.steps, kRunA.clip);
    TrainRun alone_b = train(&reference, kRunB.config, kRunB.steps, kRunB.clip);
    int threads = mgpt_threads_available() ? 2 : 1;
    std::unique_ptr<Engine> ea(new Engine("instance", 1, path_.c_str()));
    Engine eb("instance", threads, path_.c_str());
    ASSERT_TRUE(ea->ok()) << ea->why();
    ASSERT_TRUE(eb.ok()) << eb.why();
    void *ia = ea->get().be.instance, *ib = eb.get().be.instance;
    ASSERT_NE(fixture_instance(ia), nullptr);
    ASSERT_NE(fixture_instance(ib), nullptr);
    EXPECT_NE(ia, ib);
    EXPECT_EQ(fixture_instance(ib)->num_threads, threads);
    {
        Trainer ta(ea->compute(), kRunA.config, kRunA.steps, kRunA.clip);
        Trainer tb(eb.compute(), kRunB.config, kRunB.steps, kRunB.clip);
        ASSERT_TRUE(ta.ok()) << ta.why();
        ASSERT_TRUE(tb.ok()) << tb.why();
        ASSERT_EQ(tb.model()->compute.team, eb.compute()->team);
        for (int s = 0; s < kRunA.steps || s < kRunB.steps; s++) {
            if (s < kRunA.steps) {
                ASSERT_TRUE(ta.step()) << ta.why();
            }
            if (s < kRunB.steps) {
                ASSERT_TRUE(tb.step()) << tb.why();
            }
        }
        EXPECT_TRUE(SameRun(ta.result(), alone_a)) << "instance, 1 thread";
        EXPECT_TRUE(SameRun(tb.result(), alone_b)) << "instance, " << threads << " threads";
    }
    std::vector<uint64_t> ca = fixture_calls(ia), cb = fixture_calls(ib);
    ASSERT_EQ(ca.size(), 1u);
    ASSERT_EQ(cb.size(), (size_t)threads);
    EXPECT_GT(ca[0], 0u);
    for (int t = 0; t < threads; t++)
        EXPECT_GT(cb[(size_t)t], 0u) << "thread " << t << " of the " << threads
                                     << "-thread engine never called the instance's kernels";

    // one instance shut down, the other goes on: a training run on it alone, from the start
    ea.reset();
    Engine again("instance", 1, path_.c_str());   // and a third instance meanwhile
    ASSERT_TRUE(again.ok()) << again.why();
    EXPECT_NE(again.get().be.instance, ib);
    EXPECT_TRUE(SameRun(train(eb.compute(), kRunB.config, kRunB.steps, kRunB.clip), alone_b));
    EXPECT_TRUE(SameRun(train(again.compute(), kRunA.config, kRunA.steps, kRunA.clip), alone_a));
}

}  // namespace

// The engine's threading layer (core/engine/threads.h): any backend on N threads, bitwise the same
// as the backend alone and at every thread count.
//
// For every backend of the search path that this CPU runs: every kernel slot through an
// engine of 1, 2, 3 and 4 threads gives the bits of the backend's own kernels called on the
// calling thread (sumsq's chunked sum over the team included), in each split mode:
// MGPT_THREAD_SPLIT=always splits every op that has two parts or more, so the small shapes,
// whose sizes have every vector and split tail, are split too; auto splits the large shapes
// (above every threshold of core/engine/threads_split.c) only; never splits nothing. Backward
// kernels run accumulating and writing their gradients (a written gradient starts as NaN,
// so a part that reads it, or a range left unwritten, shows as NaN). A 30-step training run
// with gradient clipping is bitwise the same on 1 to 4 threads and as the backend alone; a
// backward pass over gradient arenas full of NaN gives the bits of one over zeroed arenas
// on 1 to 3 threads. Then the binding: the threads on the PUs the engine chose (unless the
// user asked the OpenMP runtime to place them), the calling thread's affinity given back
// at close, a bad processor index and a bad MGPT_THREAD_SPLIT refused; and, through the
// mgpt program, --threads=1 and --threads=2 giving the same run and checkpoint, and info
// and --verbose showing the binding.
//
// Each backend's equivalence with the scalar reference, within its precision's tolerances,
// is test_backend_ops's.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <omp.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "engine/compute.h"
#include "platform/cpu.h"
#include "data/dataset.h"
#include "engine/engine.h"
#include "model/model.h"
#include "engine/registry.h"
#include "engine/threads.h"
#include "platform/topology.h"
}
#include "test_compute.h"

namespace {

using namespace mgpt_test;

// The binding the engine should choose for `threads` threads, computed here from the
// topology (empty: none).
std::vector<int> expected_binding(int threads)
{
    mgpt_topology t;
    char err[256];
    std::vector<int> pu(1024);
    if (mgpt_topology_read(&t, err, sizeof err) != 0)
        return {};
    int n = mgpt_thread_binding(&t, threads, pu.data(), (int)pu.size());
    pu.resize((size_t)n);
    return pu;
}

int physical_cores()
{
    mgpt_topology t;
    char err[256];
    return mgpt_topology_read(&t, err, sizeof err) == 0 && t.n_core_pu > 0 ? t.n_core_pu : 1;
}

bool user_placement()
{
    for (const char *v : {"OMP_PLACES", "OMP_PROC_BIND", "GOMP_CPU_AFFINITY", "KMP_AFFINITY"})
        if (getenv(v) && *getenv(v))
            return true;
    return false;
}

// ---------------------------------------------------------------------------------------
// Every kernel on one set of shapes, from fixed random inputs; the outputs, in order.
struct Shapes {
    int N, C, OC;             // matmul
    int B, T, H, hd;          // attention
    int rows, cols;           // rmsnorm
    int ce_rows, V;           // crossentropy
    int eB, eT, eC, eV;       // embedding: eB documents of eT positions
    size_t n;                 // element-wise ops, adam
    size_t n_sumsq;           // sumsq over the team: several MGPT_SUMSQ_CHUNK chunks
};

// Above every threshold of core/engine/threads_split.c (its units, and at least 128 rows): matmul
// 2*300*200*130 = 15.6M flop, attention (150 rows) 4*15*50*50*24 = 3.6M flop, rmsnorm
// 8*1000*300 = 2.4 MB, crossentropy 8*1000*300 = 2.4 MB, embedding (500 rows) 12*500*272 =
// 1.6 MB, element-wise 8..12*(1M+3) = 8..12 MB, adam 1M elements, sumsq 1M floats (17
// chunks). Odd sizes: every split has tails.
const Shapes kLarge = {300, 200, 130, 3, 50, 5, 24, 1000, 300, 1000, 300,
                       10, 50, 272, 61, 1000003, 16 * MGPT_SUMSQ_CHUNK + 17};
// Small, with every vector tail (widths 4, 8, 16) and more parts than threads.
const Shapes kSmall = {37, 19, 53, 2, 7, 3, 5, 37, 21, 29, 27, 3, 5, 40, 11, 1007,
                       MGPT_SUMSQ_CHUNK + 9};

typedef std::vector<std::vector<float>> Outputs;

std::vector<float> rnd(std::mt19937 &g, size_t n, float lo = -1.0f, float hi = 1.0f)
{
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float &x : v)
        x = d(g);
    return v;
}

std::vector<float> as_floats(double d)
{
    std::vector<float> v(2);
    memcpy(v.data(), &d, sizeof d);
    return v;
}

// Every slot of c.k called with c.ctx (the whole output of the ranged ones: the threaded
// table splits it), and the chunked sum of squares of the compute.
Outputs run_suite(const mgpt_compute &c, const Shapes &s)
{
    const mgpt_kernels &k = *c.k;
    const mgpt_ctx *x = c.ctx;
    std::mt19937 g(12345);
    Outputs out;
    {   // embedding
        int N = s.eB * s.eT;
        std::vector<int> tok((size_t)N);
        for (int &t : tok)
            t = (int)(g() % (unsigned)s.eV);
        std::vector<float> wte = rnd(g, (size_t)s.eV * s.eC), wpe = rnd(g, (size_t)s.eT * s.eC);
        std::vector<float> o((size_t)N * s.eC);
        k.embed_forward(x, o.data(), tok.data(), wte.data(), wpe.data(), N, s.eT, s.eC);
        out.push_back(o);
        std::vector<float> dwte = rnd(g, wte.size()), dwpe = rnd(g, wpe.size());
        std::vector<float> dout = rnd(g, o.size());
        k.embed_backward(x, dwte.data(), dwpe.data(), dout.data(), tok.data(), N, s.eT, s.eC);
        out.push_back(dwte);
        out.push_back(dwpe);
    }
    {   // rmsnorm
        std::vector<float> v = rnd(g, (size_t)s.rows * s.cols), y(v.size()), r((size_t)s.rows);
        k.rmsnorm_forward(x, y.data(), r.data(), v.data(), s.rows, s.cols);
        out.push_back(y);
        out.push_back(r);
        std::vector<float> dy = rnd(g, v.size()), dv = rnd(g, v.size()), wv(v.size(), NAN);
        k.rmsnorm_backward(x, dv.data(), dy.data(), v.data(), r.data(), s.rows, s.cols, 0);
        out.push_back(dv);
        k.rmsnorm_backward(x, wv.data(), dy.data(), v.data(), r.data(), s.rows, s.cols,
                           MGPT_WRITE_DINP);
        out.push_back(wv);
    }
    {   // matmul: the forward, then each gradient's slot accumulating and writing
        std::vector<float> in = rnd(g, (size_t)s.N * s.C), w = rnd(g, (size_t)s.OC * s.C);
        std::vector<float> y((size_t)s.N * s.OC);
        k.matmul_forward(x, y.data(), in.data(), w.data(), s.N, s.C, s.OC, 0, s.N, 0, s.OC);
        out.push_back(y);
        std::vector<float> dy = rnd(g, y.size()), dx0 = rnd(g, in.size()), dw0 = rnd(g, w.size());
        for (unsigned write : {0u, (unsigned)MGPT_WRITE_DINP}) {
            std::vector<float> dx = write ? std::vector<float>(dx0.size(), NAN) : dx0;
            k.matmul_backward_dinp(x, dx.data(), dy.data(), w.data(), s.N, s.C, s.OC, 0, s.N, 0,
                                   s.C, write);
            out.push_back(dx);
        }
        for (unsigned write : {0u, (unsigned)MGPT_WRITE_DW}) {
            std::vector<float> dw = write ? std::vector<float>(dw0.size(), NAN) : dw0;
            k.matmul_backward_dw(x, dw.data(), dy.data(), in.data(), s.N, s.C, s.OC, 0, s.OC, 0,
                                 s.C, write);
            out.push_back(dw);
        }
    }
    {   // attention
        int C = s.H * s.hd, N = s.B * s.T, BH = s.B * s.H;
        std::vector<float> qkv = rnd(g, (size_t)N * 3 * C), y((size_t)N * C);
        std::vector<float> att((size_t)BH * s.T * s.T);
        k.attention_forward(x, y.data(), att.data(), qkv.data(), s.B, s.T, C, s.H, 0, BH);
        out.push_back(y);
        out.push_back(att);
        std::vector<float> dy = rnd(g, y.size()), dqkv = rnd(g, qkv.size()), datt(att.size());
        k.attention_backward(x, dqkv.data(), datt.data(), dy.data(), qkv.data(), att.data(), s.B,
                             s.T, C, s.H, 0, BH, 0);
        out.push_back(dqkv);
        std::vector<float> wqkv(qkv.size(), NAN);
        k.attention_backward(x, wqkv.data(), datt.data(), dy.data(), qkv.data(), att.data(), s.B,
                             s.T, C, s.H, 0, BH, MGPT_WRITE_DINP);
        out.push_back(wqkv);
    }
    {   // element-wise
        std::vector<float> a = rnd(g, s.n), b = rnd(g, s.n), y(s.n), d = rnd(g, s.n);
        k.sqrelu_forward(x, y.data(), a.data(), s.n);
        out.push_back(y);
        std::vector<float> wd(s.n, NAN), wa(s.n, NAN);
        k.sqrelu_backward(x, d.data(), b.data(), a.data(), s.n, 0);
        out.push_back(d);
        k.sqrelu_backward(x, wd.data(), b.data(), a.data(), s.n, MGPT_WRITE_DINP);
        out.push_back(wd);
        k.add_forward(x, y.data(), a.data(), b.data(), s.n);
        out.push_back(y);
        k.accumulate(x, d.data(), a.data(), s.n, 0);
        out.push_back(d);
        k.accumulate(x, wa.data(), a.data(), s.n, MGPT_WRITE_DINP);
        out.push_back(wa);
        k.zero(x, d.data() + 3, s.n - 5);   // unaligned start, a partial line at the end
        out.push_back(d);
    }
    {   // crossentropy, every fifth row masked
        std::vector<float> z = rnd(g, (size_t)s.ce_rows * s.V, -4.0f, 4.0f), p(z.size());
        std::vector<float> loss((size_t)s.ce_rows);
        std::vector<int> t((size_t)s.ce_rows);
        for (int i = 0; i < s.ce_rows; i++)
            t[(size_t)i] = i % 5 == 4 ? -1 : (int)(g() % (unsigned)s.V);
        k.crossentropy_forward(x, loss.data(), p.data(), z.data(), t.data(), s.ce_rows, s.V);
        out.push_back(loss);
        out.push_back(p);
        std::vector<float> dz = rnd(g, z.size()), wz(z.size(), NAN);
        k.crossentropy_backward(x, dz.data(), p.data(), t.data(), 0.37f, s.ce_rows, s.V, 0);
        out.push_back(dz);
        k.crossentropy_backward(x, wz.data(), p.data(), t.data(), 0.37f, s.ce_rows, s.V,
                                MGPT_WRITE_DINP);
        out.push_back(wz);
    }
    {   // sumsq: the slot on part of a chunk and on a whole one; the compute's over chunks
        std::vector<float> v = rnd(g, s.n_sumsq);
        out.push_back(as_floats(k.sumsq(x, v.data(), 1000)));
        out.push_back(as_floats(k.sumsq(x, v.data(), MGPT_SUMSQ_CHUNK)));
        out.push_back(as_floats(mgpt_compute_sumsq(&c, v.data(), s.n_sumsq)));
    }
    {   // adam
        std::vector<float> p = rnd(g, s.n), gr = rnd(g, s.n), m = rnd(g, s.n),
                           v = rnd(g, s.n, 0.0f, 1.0f);
        mgpt_adam_args a = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.19f, 0.0975f, 0.5f};
        k.adam_update(x, p.data(), gr.data(), m.data(), v.data(), s.n, &a);
        out.push_back(p);
        out.push_back(m);
        out.push_back(v);
    }
    return out;
}

// The name of output i of run_suite.
std::string output_name(size_t i)
{
    static const std::vector<std::string> names = {
        "embed_forward out", "embed_backward dwte", "embed_backward dwpe",
        "rmsnorm_forward out", "rmsnorm_forward rstd", "rmsnorm_backward dinp",
        "rmsnorm_backward dinp (written)",
        "matmul_forward out", "matmul_backward_dinp dinp", "matmul_backward_dinp dinp (written)",
        "matmul_backward_dw dw", "matmul_backward_dw dw (written)",
        "attention_forward out", "attention_forward att", "attention_backward dqkv",
        "attention_backward dqkv (written)",
        "sqrelu_forward", "sqrelu_backward", "sqrelu_backward (written)", "add_forward",
        "accumulate", "accumulate (written)", "zero",
        "crossentropy_forward loss", "crossentropy_forward probs", "crossentropy_backward",
        "crossentropy_backward (written)",
        "sumsq (1000 floats)", "sumsq (one chunk)", "mgpt_compute_sumsq (chunked)",
        "adam param", "adam m", "adam v"};
    return i < names.size() ? names[i] : "output " + std::to_string(i);
}

// Bitwise comparison of two suites.
::testing::AssertionResult SameBits(const Outputs &a, const Outputs &b)
{
    if (a.size() != b.size())
        return ::testing::AssertionFailure() << a.size() << " outputs vs " << b.size();
    for (size_t i = 0; i < a.size(); i++) {
        if (a[i].size() != b[i].size())
            return ::testing::AssertionFailure() << output_name(i) << ": sizes differ";
        for (size_t j = 0; j < a[i].size(); j++)
            if (memcmp(&a[i][j], &b[i][j], sizeof(float)) != 0)
                return ::testing::AssertionFailure()
                       << output_name(i) << "[" << j << "] = " << a[i][j] << " vs " << b[i][j];
    }
    return ::testing::AssertionSuccess();
}

// No NaN in any output but the sums of squares (whose floats hold a double's bits): the
// written gradients started as NaN, so one that was read, or left partly unwritten, shows
// here (SameBits alone would pass a threaded run that reads it like the backend alone).
::testing::AssertionResult NoNaN(const Outputs &a)
{
    for (size_t i = 0; i < a.size(); i++) {
        if (output_name(i).find("sumsq") != std::string::npos)
            continue;
        for (size_t j = 0; j < a[i].size(); j++)
            if (std::isnan(a[i][j]))
                return ::testing::AssertionFailure() << output_name(i) << "[" << j << "] is NaN";
    }
    return ::testing::AssertionSuccess();
}

// The thread counts a test runs (1 alone when this build has no threads: said once).
std::vector<int> thread_counts(int max)
{
    std::vector<int> v;
    for (int t = 1; t <= max; t++)
        if (t == 1 || mgpt_threads_available())
            v.push_back(t);
    if (!mgpt_threads_available())
        printf("[  SKIPPED ] threads 2..%d: this mgpt was built without OpenMP\n", max);
    return v;
}

// ---------------------------------------------------------------------------------------
// Per backend of the search path.
class Threaded : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override
    {
        ASSERT_TRUE(reg_.ok()) << reg_.why();
        const mgpt_backend_entry *e = reg_.find(GetParam().c_str());
        ASSERT_NE(e, nullptr) << "no backend modules found in " << reg_.get()->searched;
        if (e->status != MGPT_BE_RUNNABLE) {
            char need[256];
            mgpt_cpu_feature_names(e->missing, need, sizeof need);
            GTEST_SKIP() << "backend '" << e->name << "' needs CPU features this machine "
                         << "lacks: " << need;
        }
        name_ = GetParam();
    }
    Registry reg_;
    std::string name_;
};

TEST_P(Threaded, EveryKernelIsBitwiseTheBackendAloneOnOneToFourThreads)
{
    Outputs alone_large, alone_small;
    {
        Instance alone(reg_, name_.c_str());
        ASSERT_TRUE(alone.ok()) << alone.why();
        alone_large = run_suite(*alone.compute(), kLarge);
        alone_small = run_suite(*alone.compute(), kSmall);
    }
    EXPECT_TRUE(NoNaN(alone_large));
    EXPECT_TRUE(NoNaN(alone_small));
    for (const char *mode : {"always", "auto", "never"}) {
        ScopedEnv split("MGPT_THREAD_SPLIT", mode);
        for (int threads : thread_counts(4)) {
            SCOPED_TRACE(name_ + ", MGPT_THREAD_SPLIT=" + mode + ", " +
                         std::to_string(threads) + " threads");
            Engine e(name_.c_str(), threads);
            ASSERT_TRUE(e.ok()) << e.why();
            ASSERT_STREQ(e.get().be.entry->name, name_.c_str());
            ASSERT_EQ(e.get().threads, threads);
            // a team of more than one thread computes through the threaded table
            EXPECT_EQ(e.compute()->team != nullptr, threads > 1);
            EXPECT_EQ(e.compute()->k == &mgpt_threaded_kernels, threads > 1);
            Outputs large = run_suite(*e.compute(), kLarge);
            Outputs small = run_suite(*e.compute(), kSmall);
            EXPECT_TRUE(NoNaN(large));
            EXPECT_TRUE(NoNaN(small));
            EXPECT_TRUE(SameBits(large, alone_large));
            EXPECT_TRUE(SameBits(small, alone_small));
        }
    }
}

// 30 steps of e64_L2_b16_B8 on the names data with gradient clipping at 1 (so that the
// gradient norm, sumsq over the 2 chunks of the 102,784 gradients, scales the updates).
TEST_P(Threaded, ThirtyTrainingStepsAreBitwiseTheSameOnOneToFourThreads)
{
    const float clip = 1.0f;
    TrainRun alone;
    {
        Instance one(reg_, name_.c_str());
        ASSERT_TRUE(one.ok()) << one.why();
        alone = train(one.compute(), "e64_L2_b16_B8", 30, clip);
    }
    ASSERT_EQ(alone.losses.size(), 30u);
    EXPECT_LT(alone.losses.back(), alone.losses.front());
    EXPECT_GT(*std::max_element(alone.norms.begin(), alone.norms.end()), clip)
        << "no step was clipped: the norm would not reach the parameters";
    for (const char *mode : {"auto", "always"}) {
        ScopedEnv split("MGPT_THREAD_SPLIT", mode);
        for (int threads : thread_counts(4)) {
            SCOPED_TRACE(name_ + ", MGPT_THREAD_SPLIT=" + mode + ", " +
                         std::to_string(threads) + " threads");
            Engine e(name_.c_str(), threads);
            ASSERT_TRUE(e.ok()) << e.why();
            EXPECT_TRUE(SameRun(train(e.compute(), "e64_L2_b16_B8", 30, clip), alone));
        }
    }
}

// Every gradient of the last backward pass: the parameters', then each node output's that
// keeps one.
std::vector<float> step_gradients(const mgpt_model *m)
{
    std::vector<float> g(m->grad_mem, m->grad_mem + m->num_floats);
    for (int i = 0; i < m->graph.n_nodes; i++) {
        const mgpt_tensor *t = m->graph.nodes[i].out;
        if (t->grad)
            g.insert(g.end(), t->grad, t->grad + t->numel);
    }
    return g;
}

TEST_P(Threaded, BackwardNeverReadsAStaleGradient)
{
    // The engine stores each gradient with its first contributor in the backward walk (the
    // kernels' write bits) and zeroes only dwte and dwpe, so no gradient is read before the
    // pass has written it: a pass over gradient arenas full of NaN must give the bits of a
    // pass over the arenas as allocated (zeros), with every op split over 2 and 3 threads (a
    // part that reads its stale gradient, or is left unwritten, shows as NaN), and on one.
    // Every fourth target is masked: those dlogits rows are written with 0.
    mgpt_config cfg{};
    int B = 0;
    char err[512] = "";
    ASSERT_EQ(mgpt_config_parse_name("e64_L2_b16_B4", &cfg, &B, err, sizeof err), 0) << err;
    ScopedEnv split("MGPT_THREAD_SPLIT", "always");
    for (int threads : thread_counts(3)) {
        SCOPED_TRACE(name_ + ", " + std::to_string(threads) + " threads");
        Engine e(name_.c_str(), threads);
        ASSERT_TRUE(e.ok()) << e.why();
        std::unique_ptr<mgpt_model, void (*)(mgpt_model *)> m(
            mgpt_model_create(&cfg, B, e.compute(), err, sizeof err), mgpt_model_free);
        ASSERT_NE(m, nullptr) << err;
        mgpt_model_init(m.get(), 3);
        mgpt_batch_random(m->tokens, m->targets, m->N, cfg.vocab_size, 5);
        for (int n = 0; n < m->N; n += 4)
            m->targets[n] = -1;
        std::vector<float> pass[2];
        for (int p = 0; p < 2; p++) {
            if (p == 1) {
                std::fill(m->grad_mem, m->grad_mem + m->num_floats, NAN);
                std::fill(m->act_grad_mem, m->act_grad_mem + m->act_grad_floats, NAN);
            }
            mgpt_model_forward(m.get());
            mgpt_model_backward(m.get());
            pass[p] = step_gradients(m.get());
        }
        ASSERT_EQ(pass[0].size(), pass[1].size());
        ASSERT_GT(pass[1].size(), m->num_floats);
        for (size_t i = 0; i < pass[1].size(); i++)
            ASSERT_EQ(memcmp(&pass[0][i], &pass[1][i], sizeof(float)), 0)
                << (i < m->num_floats ? "parameter" : "activation") << " gradient element "
                << (i < m->num_floats ? i : i - m->num_floats) << ": " << pass[1][i]
                << " over NaN arenas, " << pass[0][i] << " over zeroed ones";
    }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Threaded, ::testing::ValuesIn(backend_names()),
                         param_name);

// ---------------------------------------------------------------------------------------
// The engine's own choice.

class Threads : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(reg_.ok()) << reg_.why(); }
    Registry reg_;
};

TEST_F(Threads, MaskedFeaturesChooseTheNextBackendAndItsThreadsMatchIt)
{
    // With AVX-512 (then AVX2) masked, the engine's automatic choice is the next module of
    // the chain, and on 2 threads it gives that module's bits.
    if (!mgpt_threads_available())
        GTEST_SKIP() << "this mgpt was built without OpenMP";
    int tried = 0;
    for (const char *mask : {"avx512f", "avx512f,avx2"}) {
        ScopedEnv env("MGPT_CPU_DISABLE", mask);
        Registry masked;
        ASSERT_TRUE(masked.ok()) << masked.why();
        const mgpt_backend_entry *best = mgpt_registry_best(masked.get());
        ASSERT_NE(best, nullptr);
        std::string want = std::string(mask) == "avx512f" ? "avx2" : "sse";
        if (!masked.runnable(want.c_str())) {
            printf("[  SKIPPED ] MGPT_CPU_DISABLE=%s: no runnable %s module here\n", mask,
                   want.c_str());
            continue;
        }
        tried++;
        SCOPED_TRACE(std::string("MGPT_CPU_DISABLE=") + mask);
        Outputs ref;
        {
            Instance one(masked, want.c_str());
            ASSERT_TRUE(one.ok()) << one.why();
            ref = run_suite(*one.compute(), kLarge);
        }
        Engine e(nullptr, 2);
        ASSERT_TRUE(e.ok()) << e.why();
        EXPECT_STREQ(e.get().be.entry->name, want.c_str());
        EXPECT_STREQ(e.get().why, "the highest-priority runnable backend");
        EXPECT_TRUE(SameBits(run_suite(*e.compute(), kLarge), ref));
    }
    if (!tried)
        GTEST_SKIP() << "neither avx2 nor sse runs here";
}

TEST_F(Threads, AModelWhoseOpsAreAllSmallRunsOnTheCallingThread)
{
    // A model on a team computes through the threaded kernels only if some call of its step
    // would be split (mgpt_team_compute_for): e16_L1_b8, one document of 8 rows, has no op
    // above a threshold, so in auto mode it runs the backend's own table on the calling
    // thread; with every split forced, on the team. The same bits either way.
    if (!mgpt_threads_available())
        GTEST_SKIP() << "this mgpt was built without OpenMP";
    TrainRun runs[2];
    const char *modes[2] = {"auto", "always"};
    for (int i = 0; i < 2; i++) {
        ScopedEnv split("MGPT_THREAD_SPLIT", modes[i]);
        Engine e("scalar", 2);
        ASSERT_TRUE(e.ok()) << e.why();
        ASSERT_NE(e.compute()->team, nullptr);
        Trainer t(e.compute(), "e16_L1_b8", 5, 1.0f);
        ASSERT_TRUE(t.ok()) << t.why();
        if (i == 0) {
            EXPECT_EQ(t.model()->compute.team, nullptr) << modes[i];
            EXPECT_EQ(t.model()->compute.k, &e.get().be.k) << modes[i];
        } else {
            EXPECT_EQ(t.model()->compute.team, e.compute()->team) << modes[i];
            EXPECT_EQ(t.model()->compute.k, &mgpt_threaded_kernels) << modes[i];
        }
        for (int s = 0; s < 5; s++)
            ASSERT_TRUE(t.step()) << t.why();
        runs[i] = t.result();
    }
    EXPECT_TRUE(SameRun(runs[0], runs[1]));
}

TEST_F(Threads, SplitModes)
{
    char err[256] = "";
    mgpt_split_mode m = MGPT_SPLIT_NEVER;
    {
        ScopedEnv split("MGPT_THREAD_SPLIT", nullptr);
        ASSERT_EQ(mgpt_split_mode_from_env(&m, err, sizeof err), 0) << err;
        EXPECT_EQ(m, MGPT_SPLIT_AUTO);
    }
    const struct {
        const char *value;
        mgpt_split_mode mode;
    } modes[] = {{"auto", MGPT_SPLIT_AUTO}, {"always", MGPT_SPLIT_ALWAYS},
                 {"never", MGPT_SPLIT_NEVER}};
    for (auto c : modes) {
        ScopedEnv split("MGPT_THREAD_SPLIT", c.value);
        m = c.mode == MGPT_SPLIT_AUTO ? MGPT_SPLIT_NEVER : MGPT_SPLIT_AUTO;
        ASSERT_EQ(mgpt_split_mode_from_env(&m, err, sizeof err), 0) << c.value << ": " << err;
        EXPECT_EQ(m, c.mode) << c.value;
    }
}

TEST_F(Threads, BadSplitModeIsRefusedWithStatus2)
{
    ScopedEnv split("MGPT_THREAD_SPLIT", "sometimes");
    char err[256] = "";
    mgpt_split_mode m;
    EXPECT_EQ(mgpt_split_mode_from_env(&m, err, sizeof err), -1);
    for (const char *s : {"MGPT_THREAD_SPLIT", "sometimes", "auto, always, never"})
        EXPECT_NE(std::string(err).find(s), std::string::npos) << s << " in: " << err;
    Engine e("scalar", 2);
    EXPECT_EQ(e.status(), MGPT_ENGINE_USAGE) << e.why();
    for (const char *s : {"MGPT_THREAD_SPLIT", "sometimes", "auto, always, never"})
        EXPECT_NE(e.why().find(s), std::string::npos) << s << " in: " << e.why();
    // the old variable is no more: a stale MGPT_OPENMP_SPLIT does not fail anything
    ScopedEnv ok_split("MGPT_THREAD_SPLIT", nullptr);
    ScopedEnv old("MGPT_OPENMP_SPLIT", "sometimes");
    Engine f("scalar", 1);
    EXPECT_TRUE(f.ok()) << f.why();
}

// ---------------------------------------------------------------------------------------
// Binding: the team's threads are the OpenMP runtime's pool of this thread, so a parallel
// region here of the same size runs on the same threads.

std::vector<int> my_cpus()
{
    cpu_set_t s;
    CPU_ZERO(&s);
    std::vector<int> mine;
    if (sched_getaffinity(0, sizeof s, &s) == 0)
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &s))
                mine.push_back(c);
    return mine;
}

std::vector<std::vector<int>> team_cpus(int threads)
{
    std::vector<std::vector<int>> cpus((size_t)threads);
#pragma omp parallel num_threads(threads)
    {
        std::vector<int> mine = my_cpus();
        int t = omp_get_thread_num();
        if (t < threads)
            cpus[(size_t)t] = mine;
    }
    return cpus;
}

TEST_F(Threads, ThreadsRunOnTheRequestedProcessors)
{
    if (user_placement())
        GTEST_SKIP() << "OMP_PLACES or OMP_PROC_BIND is set: placement is the runtime's";
    if (!mgpt_threads_available())
        GTEST_SKIP() << "this mgpt was built without OpenMP";
    std::vector<int> before = my_cpus();
    int cores = physical_cores();
    for (int threads = 1; threads <= cores && threads <= 4; threads++) {
        SCOPED_TRACE(std::to_string(threads) + " threads");
        std::vector<int> pu = expected_binding(threads);
        ASSERT_EQ((int)pu.size(), threads);
        {
            Engine e("scalar", threads);
            ASSERT_TRUE(e.ok()) << e.why();
            EXPECT_EQ(e.get().placed_by, nullptr);
            if (threads == 1) {
                // one thread is not bound: the calling thread keeps its mask
                EXPECT_EQ(e.get().n_binding, 0);
                EXPECT_EQ(my_cpus(), before);
                continue;
            }
            ASSERT_EQ(e.get().n_binding, threads);
            for (int t = 0; t < threads; t++)
                EXPECT_EQ(e.get().binding[t], pu[(size_t)t]) << "thread " << t;
            std::vector<std::vector<int>> cpus = team_cpus(threads);
            for (int t = 0; t < threads; t++)
                EXPECT_EQ(cpus[(size_t)t], std::vector<int>{pu[(size_t)t]}) << "thread " << t;
            // the threaded kernels' own parallel regions keep them there
            std::vector<float> a(1 << 20, 1.0f), b(1 << 20, 2.0f);
            e.compute()->k->accumulate(e.compute()->ctx, a.data(), b.data(), a.size(), 0);
            EXPECT_EQ(a[0], 3.0f);
            EXPECT_EQ(a.back(), 3.0f);
            cpus = team_cpus(threads);
            for (int t = 0; t < threads; t++)
                EXPECT_EQ(cpus[(size_t)t], std::vector<int>{pu[(size_t)t]}) << "thread " << t;
        }
        // closing gives the calling thread (and the pool) its affinity back
        EXPECT_EQ(my_cpus(), before);
        for (const std::vector<int> &c : team_cpus(threads))
            EXPECT_EQ(c, before);
    }
    // more threads than cores: no binding, every thread keeps the process' mask
    {
        Engine e("scalar", cores + 1);
        ASSERT_TRUE(e.ok()) << e.why();
        EXPECT_EQ(e.get().n_binding, 0);
        for (const std::vector<int> &c : team_cpus(cores + 1))
            EXPECT_EQ(c, before);
    }
    EXPECT_EQ(my_cpus(), before);
}

// An engine of one thread opened before one of two (mgpt-tune-stepops does so) must not
// narrow the process' mask: the second would count one core and run both its threads on
// it, each parallel op then waiting a scheduler slice (6-8 ms an op, measured).
TEST_F(Threads, AOneThreadEngineLeavesTheCoresToTheNext)
{
    if (user_placement())
        GTEST_SKIP() << "OMP_PLACES or OMP_PROC_BIND is set: placement is the runtime's";
    if (!mgpt_threads_available() || physical_cores() < 2)
        GTEST_SKIP() << "needs OpenMP and two cores";
    std::vector<int> before = my_cpus();
    Engine one("scalar", 1);
    ASSERT_TRUE(one.ok()) << one.why();
    EXPECT_EQ(my_cpus(), before);
    Engine two("scalar", 2);
    ASSERT_TRUE(two.ok()) << two.why();
    ASSERT_EQ(two.get().n_binding, 2);
    std::vector<int> pu = expected_binding(2);
    std::vector<std::vector<int>> cpus = team_cpus(2);
    EXPECT_EQ(cpus[0], std::vector<int>{pu[0]});
    EXPECT_EQ(cpus[1], std::vector<int>{pu[1]});
    EXPECT_NE(cpus[0], cpus[1]);
}

TEST_F(Threads, PlacementIsLeftToTheRuntimeWhenTheUserSetsOne)
{
    if (!mgpt_threads_available())
        GTEST_SKIP() << "this mgpt was built without OpenMP";
    // OMP_PROC_BIND=false: the user asks for no binding, and the engine must not bind.
    ScopedEnv bind("OMP_PROC_BIND", "false");
    std::vector<int> before = my_cpus();
    Engine e("scalar", 2);
    ASSERT_TRUE(e.ok()) << e.why();
    EXPECT_EQ(e.get().n_binding, 0);
    EXPECT_STREQ(e.get().placed_by, "OMP_PROC_BIND");
    for (const std::vector<int> &c : team_cpus(2))
        EXPECT_EQ(c, before);
}

TEST_F(Threads, TeamRefusesAProcessorOutOfRange)
{
    if (user_placement())
        GTEST_SKIP() << "OMP_PLACES or OMP_PROC_BIND is set: placement is the runtime's";
    if (!mgpt_threads_available())
        GTEST_SKIP() << "this mgpt was built without OpenMP";
    std::vector<int> before = my_cpus();
    Instance be(reg_, "scalar", 2);
    ASSERT_TRUE(be.ok()) << be.why();
    {
        mgpt_team t;
        const int pu[2] = {0, 1 << 20};
        char err[512] = "";
        EXPECT_EQ(mgpt_team_init(&t, &be.be(), 2, MGPT_SPLIT_AUTO, pu, 2, err, sizeof err), -1);
        EXPECT_NE(std::string(err).find("processor index 1048576"), std::string::npos) << err;
    }
    EXPECT_EQ(my_cpus(), before);
    for (const std::vector<int> &c : team_cpus(2))
        EXPECT_EQ(c, before);
    // and a team of more threads than the instance was opened for
    {
        mgpt_team t;
        char err[512] = "";
        EXPECT_EQ(mgpt_team_init(&t, &be.be(), 3, MGPT_SPLIT_AUTO, nullptr, 0, err, sizeof err),
                  -1);
        EXPECT_NE(std::string(err).find("2 threads"), std::string::npos) << err;
    }
}

// ---------------------------------------------------------------------------------------
// Through the mgpt program (MGPT_EXE).

struct Result {
    int status = -1;
    std::string out, err;
};

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

class ThreadsCli : public ::testing::Test {
protected:
    void SetUp() override
    {
        ASSERT_TRUE(reg_.ok()) << reg_.why();
        const char *e = getenv("MGPT_EXE");
        if (!e || !*e)
            GTEST_SKIP() << "MGPT_EXE is not set (run through make check)";
        exe_ = e;
        // the SIMD module the brief names (avx2), else the best this CPU runs
        const mgpt_backend_entry *best = mgpt_registry_best(reg_.get());
        ASSERT_NE(best, nullptr);
        backend_ = reg_.runnable("avx2") ? "avx2" : best->name;
        const char *base = getenv("MGPT_TEST_TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/threads-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        ASSERT_NE(mkdtemp(buf.data()), nullptr);
        dir_ = buf.data();
    }
    void TearDown() override
    {
        for (const std::string &f : files_)
            remove((dir_ + "/" + f).c_str());
        if (!dir_.empty())
            rmdir(dir_.c_str());
    }
    Result run(const std::vector<std::string> &args, const std::vector<std::string> &env = {})
    {
        files_.insert(files_.end(), {".out", ".err"});
        std::string o = dir_ + "/.out", e = dir_ + "/.err";
        pid_t pid = fork();
        if (pid == 0) {
            int fo = open(o.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int fe = open(e.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fo < 0 || fe < 0 || chdir(dir_.c_str()) != 0)
                _exit(127);
            dup2(fo, 1);
            dup2(fe, 2);
            for (const std::string &kv : env)
                putenv(const_cast<char *>(kv.c_str()));
            std::vector<char *> argv{const_cast<char *>(exe_.c_str())};
            for (const std::string &a : args)
                argv.push_back(const_cast<char *>(a.c_str()));
            argv.push_back(nullptr);
            execv(exe_.c_str(), argv.data());
            _exit(127);
        }
        Result r;
        int st = 0;
        if (pid > 0 && waitpid(pid, &st, 0) == pid)
            r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        r.out = slurp(o);
        r.err = slurp(e);
        return r;
    }
    Registry reg_;
    std::string exe_, dir_, backend_;
    std::vector<std::string> files_;
};

// stdout without the timing columns (ms/step, tok/s), the summary that times the run and
// the line that names the checkpoint file
std::string without_timing(const std::string &out)
{
    std::istringstream in(out);
    std::string line, kept;
    while (std::getline(in, line)) {
        size_t ms = line.find(" ms/step");
        if (ms != std::string::npos)
            line = line.substr(0, line.rfind(" | ", ms));
        if (line.find("tok/s") != std::string::npos || line.rfind("saved ", 0) == 0)
            continue;
        kept += line + "\n";
    }
    return kept;
}

TEST_F(ThreadsCli, OneAndTwoThreadsGiveTheSameRunAndCheckpoint)
{
    if (!mgpt_threads_available())
        GTEST_SKIP() << "this mgpt was built without OpenMP";
    const std::string one = "backend " + backend_ + " (1 thread)";
    const std::string two = "backend " + backend_ + " (2 threads)";
    for (const char *mode : {"auto", "always"}) {
        SCOPED_TRACE(backend_ + ", MGPT_THREAD_SPLIT=" + mode);
        std::string env = std::string("MGPT_THREAD_SPLIT=") + mode;
        std::vector<std::string> args = {"train", "--num-steps", "30", "--n-embd", "64",
                                         "--n-layer", "2", "--block-size", "16",
                                         "--batch-size", "8", "--grad-clip", "1",
                                         "--num-samples", "5"};
        std::vector<std::string> a = {"--backend=" + backend_, "--threads=1"};
        std::vector<std::string> b = {"--backend=" + backend_, "--threads=2"};
        a.insert(a.end(), args.begin(), args.end());
        b.insert(b.end(), args.begin(), args.end());
        a.insert(a.end(), {"--save", "a.st"});
        b.insert(b.end(), {"--save", "b.st"});
        files_.insert(files_.end(), {"a.st", "b.st"});
        Result ra = run(a, {env}), rb = run(b, {env});
        ASSERT_EQ(ra.status, 0) << ra.err;
        ASSERT_EQ(rb.status, 0) << rb.err;
        EXPECT_NE(ra.out.find(one), std::string::npos) << ra.out;
        EXPECT_NE(rb.out.find(two), std::string::npos) << rb.out;
        std::string da = without_timing(ra.out), db = without_timing(rb.out);
        size_t cut = da.find(one);
        if (cut != std::string::npos)   // the one line that names the thread count
            da.replace(cut, one.size(), two);
        EXPECT_EQ(da, db);
        EXPECT_NE(da.find("step 30/30"), std::string::npos) << da;
        std::string ca = slurp(dir_ + "/a.st"), cb = slurp(dir_ + "/b.st");
        EXPECT_GT(ca.size(), 100000u);
        EXPECT_TRUE(ca == cb) << "the checkpoints of --threads=1 and --threads=2 differ";
    }
}

TEST_F(ThreadsCli, BadSplitModeExits2)
{
    Result r = run({"train", "--num-steps", "1", "--num-samples", "0"},
                   {"MGPT_THREAD_SPLIT=sometimes"});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("MGPT_THREAD_SPLIT='sometimes'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("auto, always, never"), std::string::npos) << r.err;
}

TEST_F(ThreadsCli, InfoShowsTheBindingAndVerboseTrainUsesIt)
{
    int cores = physical_cores();
    Result r = run({"--threads=1", "info"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("none: one thread"), std::string::npos) << r.out;
    std::vector<int> pu;
    if (cores >= 2 && mgpt_threads_available()) {
        pu = expected_binding(2);
        std::string list = std::to_string(pu[0]) + "," + std::to_string(pu[1]);
        r = run({"--threads=2", "info"});
        EXPECT_NE(r.out.find("threads 0..1 on PUs " + list), std::string::npos) << r.out;
        r = run({"--backend=" + backend_, "--threads=2", "--verbose", "train", "--num-steps", "1",
                 "--num-samples", "0"});
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.err.find("backend " + backend_), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("2 threads"), std::string::npos) << r.err;
        if (!user_placement()) {
            EXPECT_NE(r.err.find("bound one per core to PUs " + list), std::string::npos)
                << r.err;
        }
    }
    r = run({"--threads=" + std::to_string(cores + 1), "info"});
    EXPECT_NE(r.out.find("none: " + std::to_string(cores + 1) + " threads on"),
              std::string::npos)
        << r.out;
    // a placement given to the OpenMP runtime is the runtime's (the runtime also binds the
    // initial thread at start, so the process sees one core: the thread count is given)
    if (mgpt_threads_available()) {
        r = run({"--threads=2", "info"}, {"OMP_PLACES=cores"});
        EXPECT_NE(r.out.find("OMP_PLACES=cores is set"), std::string::npos) << r.out;
        r = run({"--threads=2", "--verbose", "train", "--num-steps", "1", "--num-samples", "0"},
                {"OMP_PLACES=cores"});
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.err.find("OMP_PLACES is set"), std::string::npos) << r.err;
    }
}

}  // namespace

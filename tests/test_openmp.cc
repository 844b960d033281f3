// The OpenMP backend: bitwise the same results on 1, 2, 3 and 4 threads, and the same as the
// single-threaded module of the ISA it composes (the gradient norm, sumsq over several
// fixed chunks, included); a 30-step training run with gradient clipping bitwise identical
// at every thread count and to the ISA's module (in process, and at every thread count
// through the mgpt program); threads bound to the
// PUs the engine asks for, unless the user gave the OpenMP runtime a placement; and
// MGPT_CPU_DISABLE=avx512f making it compose (and match) the AVX2 kernels.
//
// Its equivalence with the scalar reference, within the SIMD tolerances, is test_backend_ops
// (parameterised over every module, openmp included, called there without init: OpenMP's
// default team over the SSE kernels). Here every kernel runs on two sets of shapes: large
// ones, above every serial threshold of backends/openmp/kernels.c, in the default mode;
// and small ones with every vector and split tail, with MGPT_OPENMP_SPLIT=always so that
// they are split too. Backward kernels run both accumulating and writing their gradients
// (the write bits; a written gradient starts as NaN, so a split that reads it, or leaves a
// range unwritten, shows as NaN); and a backward pass of the engine over gradient arenas
// full of NaN gives the bits of one over zeroed arenas.
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
#include "dataset.h"
#include "model.h"
#include "optimizer.h"
#include "registry.h"
#include "tokenizer.h"
#include "topology.h"
}

namespace {

// ---------------------------------------------------------------------------------------
// Environment variables set for the scope of one object.
class ScopedEnv {
public:
    ScopedEnv(const char *name, const char *value) : name_(name)
    {
        const char *old = getenv(name);
        had_ = old != nullptr;
        if (had_)
            old_ = old;
        if (value)
            setenv(name, value, 1);
        else
            unsetenv(name);
    }
    ~ScopedEnv()
    {
        if (had_)
            setenv(name_.c_str(), old_.c_str(), 1);
        else
            unsetenv(name_.c_str());
    }

private:
    std::string name_, old_;
    bool had_ = false;
};

// A registry loaded with the current MGPT_CPU_DISABLE.
class Registry {
public:
    Registry()
    {
        char err[512] = "";
        ok_ = mgpt_registry_load(&r_, nullptr, stderr, err, sizeof err) >= 0;
        why_ = err;
    }
    ~Registry()
    {
        if (ok_)
            mgpt_registry_free(&r_);
    }
    mgpt_registry *get() { return &r_; }
    bool ok() const { return ok_; }
    const std::string &why() const { return why_; }
    bool runnable(const char *name) const
    {
        const mgpt_backend_entry *e = mgpt_registry_find(&r_, name);
        return e && e->status == MGPT_BE_RUNNABLE;
    }
    // The SIMD module the openmp backend composes on this (masked) CPU: the best one.
    std::string composed_isa() const
    {
        for (const char *n : {"avx512", "avx2", "sse"})
            if (runnable(n))
                return n;
        return "";
    }

private:
    mgpt_registry r_{};
    bool ok_ = false;
    std::string why_;
};

// An opened backend, closed (shutdown) at scope exit.
class Backend {
public:
    Backend(Registry &reg, const char *name, int threads, const std::vector<int> &pu = {})
        : pu_(pu)
    {
        mgpt_backend_env env = {MGPT_BACKEND_ABI_VERSION, threads,
                                pu_.empty() ? nullptr : pu_.data(), (int)pu_.size(),
                                reg.get()->cpu_features};
        char err[512] = "";
        ok_ = mgpt_backend_open(reg.get(), name, &env, &be_, err, sizeof err) == 0;
        why_ = err;
    }
    ~Backend()
    {
        if (ok_)
            mgpt_backend_close(&be_);
    }
    bool ok() const { return ok_; }
    const std::string &why() const { return why_; }
    const mgpt_kernels &k() const { return be_.k; }
    const char *description() const { return be_.entry->desc->description; }

private:
    std::vector<int> pu_;
    mgpt_backend be_{};
    bool ok_ = false;
    std::string why_;
};

// The binding the engine would pass for `threads` threads (empty: none).
std::vector<int> engine_binding(int threads)
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
    return mgpt_topology_read(&t, err, sizeof err) == 0 ? t.n_core_pu : 1;
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
    size_t n_sumsq;           // sumsq: several of the SIMD kernels' fixed chunks
};

// Above every threshold of kernels.c (work in its units, and at least MIN_ROWS = 128 rows):
// matmul 2*300*200*130 = 15.6M flop, attention (150 rows) 4*15*50*50*24 = 3.6M flop,
// rmsnorm 8*1000*300 = 2.4 MB, crossentropy 8*1000*300 = 2.4 MB, embedding (500 rows)
// 12*500*272 = 1.6 MB, element-wise 8..12*(1M+3) = 8..12 MB, adam 1M elements, sumsq 1M
// floats (17 chunks). Odd sizes: every split has tails.
const Shapes kLarge = {300, 200, 130, 3, 50, 5, 24, 1000, 300, 1000, 300,
                       10, 50, 272, 61, 1000003, 16 * 65536 + 17};
// Small, with every vector tail (widths 4, 8, 16) and more ranges than threads.
const Shapes kSmall = {37, 19, 53, 2, 7, 3, 5, 37, 21, 29, 27, 3, 5, 40, 11, 1007, 65536 + 9};

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

Outputs run_suite(const mgpt_kernels &k, const Shapes &s)
{
    std::mt19937 g(12345);
    Outputs out;
    {   // embedding
        int N = s.eB * s.eT;
        std::vector<int> tok((size_t)N);
        for (int &t : tok)
            t = (int)(g() % (unsigned)s.eV);
        std::vector<float> wte = rnd(g, (size_t)s.eV * s.eC), wpe = rnd(g, (size_t)s.eT * s.eC);
        std::vector<float> o((size_t)N * s.eC);
        k.embed_forward(o.data(), tok.data(), wte.data(), wpe.data(), N, s.eT, s.eC);
        out.push_back(o);
        std::vector<float> dwte = rnd(g, wte.size()), dwpe = rnd(g, wpe.size());
        std::vector<float> dout = rnd(g, o.size());
        k.embed_backward(dwte.data(), dwpe.data(), dout.data(), tok.data(), N, s.eT, s.eC);
        out.push_back(dwte);
        out.push_back(dwpe);
    }
    {   // rmsnorm
        std::vector<float> x = rnd(g, (size_t)s.rows * s.cols), y(x.size()), r((size_t)s.rows);
        k.rmsnorm_forward(y.data(), r.data(), x.data(), s.rows, s.cols);
        out.push_back(y);
        out.push_back(r);
        std::vector<float> dy = rnd(g, x.size()), dx = rnd(g, x.size()), wx(x.size(), NAN);
        k.rmsnorm_backward(dx.data(), dy.data(), x.data(), r.data(), s.rows, s.cols, 0);
        out.push_back(dx);
        k.rmsnorm_backward(wx.data(), dy.data(), x.data(), r.data(), s.rows, s.cols,
                           MGPT_WRITE_DINP);
        out.push_back(wx);
    }
    {   // matmul
        std::vector<float> x = rnd(g, (size_t)s.N * s.C), w = rnd(g, (size_t)s.OC * s.C);
        std::vector<float> y((size_t)s.N * s.OC);
        k.matmul_forward(y.data(), x.data(), w.data(), s.N, s.C, s.OC);
        out.push_back(y);
        std::vector<float> dy = rnd(g, y.size()), dx0 = rnd(g, x.size()), dw0 = rnd(g, w.size());
        // accumulating both, then writing both, dinp only and dw only
        for (unsigned write : {0u, (unsigned)(MGPT_WRITE_DINP | MGPT_WRITE_DW),
                               (unsigned)MGPT_WRITE_DINP, (unsigned)MGPT_WRITE_DW}) {
            std::vector<float> dx = write & MGPT_WRITE_DINP ? std::vector<float>(dx0.size(), NAN)
                                                            : dx0;
            std::vector<float> dw = write & MGPT_WRITE_DW ? std::vector<float>(dw0.size(), NAN)
                                                          : dw0;
            k.matmul_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), s.N, s.C, s.OC,
                              write);
            out.push_back(dx);
            out.push_back(dw);
        }
    }
    {   // attention
        int C = s.H * s.hd, N = s.B * s.T;
        std::vector<float> qkv = rnd(g, (size_t)N * 3 * C), y((size_t)N * C);
        std::vector<float> att((size_t)s.B * s.H * s.T * s.T);
        k.attention_forward(y.data(), att.data(), qkv.data(), s.B, s.T, C, s.H);
        out.push_back(y);
        out.push_back(att);
        std::vector<float> dy = rnd(g, y.size()), dqkv = rnd(g, qkv.size()), datt(att.size());
        k.attention_backward(dqkv.data(), datt.data(), dy.data(), qkv.data(), att.data(), s.B,
                             s.T, C, s.H, 0);
        out.push_back(dqkv);
        std::vector<float> wqkv(qkv.size(), NAN);
        k.attention_backward(wqkv.data(), datt.data(), dy.data(), qkv.data(), att.data(), s.B,
                             s.T, C, s.H, MGPT_WRITE_DINP);
        out.push_back(wqkv);
    }
    {   // element-wise
        std::vector<float> a = rnd(g, s.n), b = rnd(g, s.n), y(s.n), d = rnd(g, s.n);
        k.sqrelu_forward(y.data(), a.data(), s.n);
        out.push_back(y);
        std::vector<float> wd(s.n, NAN), wa(s.n, NAN);
        k.sqrelu_backward(d.data(), b.data(), a.data(), s.n, 0);
        out.push_back(d);
        k.sqrelu_backward(wd.data(), b.data(), a.data(), s.n, MGPT_WRITE_DINP);
        out.push_back(wd);
        k.add_forward(y.data(), a.data(), b.data(), s.n);
        out.push_back(y);
        k.accumulate(d.data(), a.data(), s.n, 0);
        out.push_back(d);
        k.accumulate(wa.data(), a.data(), s.n, MGPT_WRITE_DINP);
        out.push_back(wa);
        k.zero(d.data() + 3, s.n - 5);   // unaligned start, a partial line at the end
        out.push_back(d);
    }
    {   // crossentropy, every fifth row masked
        std::vector<float> z = rnd(g, (size_t)s.ce_rows * s.V, -4.0f, 4.0f), p(z.size());
        std::vector<float> loss((size_t)s.ce_rows);
        std::vector<int> t((size_t)s.ce_rows);
        for (int i = 0; i < s.ce_rows; i++)
            t[(size_t)i] = i % 5 == 4 ? -1 : (int)(g() % (unsigned)s.V);
        k.crossentropy_forward(loss.data(), p.data(), z.data(), t.data(), s.ce_rows, s.V);
        out.push_back(loss);
        out.push_back(p);
        std::vector<float> dz = rnd(g, z.size()), wz(z.size(), NAN);
        k.crossentropy_backward(dz.data(), p.data(), t.data(), 0.37f, s.ce_rows, s.V, 0);
        out.push_back(dz);
        k.crossentropy_backward(wz.data(), p.data(), t.data(), 0.37f, s.ce_rows, s.V,
                                MGPT_WRITE_DINP);
        out.push_back(wz);
    }
    {   // sumsq: one chunk, then several
        std::vector<float> x = rnd(g, s.n_sumsq);
        out.push_back(as_floats(k.sumsq(x.data(), 1000)));
        out.push_back(as_floats(k.sumsq(x.data(), s.n_sumsq)));
    }
    {   // adam
        std::vector<float> p = rnd(g, s.n), gr = rnd(g, s.n), m = rnd(g, s.n),
                           v = rnd(g, s.n, 0.0f, 1.0f);
        mgpt_adam_args a = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.19f, 0.0975f, 0.5f};
        k.adam_update(p.data(), gr.data(), m.data(), v.data(), s.n, &a);
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
        "matmul_forward out", "matmul_backward dinp", "matmul_backward dw",
        "matmul_backward dinp (both written)", "matmul_backward dw (both written)",
        "matmul_backward dinp (written)", "matmul_backward dw (dinp written)",
        "matmul_backward dinp (dw written)", "matmul_backward dw (written)",
        "attention_forward out", "attention_forward att", "attention_backward dqkv",
        "attention_backward dqkv (written)",
        "sqrelu_forward", "sqrelu_backward", "sqrelu_backward (written)", "add_forward",
        "accumulate", "accumulate (written)", "zero",
        "crossentropy_forward loss", "crossentropy_forward probs", "crossentropy_backward",
        "crossentropy_backward (written)",
        "sumsq (one chunk)", "sumsq (chunked)", "adam param", "adam m", "adam v"};
    return i < names.size() ? names[i] : "output " + std::to_string(i);
}

// Bitwise comparison of two suites; `skip` names an output index not compared.
::testing::AssertionResult SameBits(const Outputs &a, const Outputs &b, long skip = -1)
{
    if (a.size() != b.size())
        return ::testing::AssertionFailure() << a.size() << " outputs vs " << b.size();
    for (size_t i = 0; i < a.size(); i++) {
        if ((long)i == skip)
            continue;
        if (a[i].size() != b[i].size())
            return ::testing::AssertionFailure() << output_name(i) << ": sizes differ";
        for (size_t j = 0; j < a[i].size(); j++)
            if (memcmp(&a[i][j], &b[i][j], sizeof(float)) != 0)
                return ::testing::AssertionFailure()
                       << output_name(i) << "[" << j << "] = " << a[i][j] << " vs " << b[i][j];
    }
    return ::testing::AssertionSuccess();
}

// No NaN in any output but sumsq's (whose floats hold a double's bits): the written
// gradients started as NaN, so one that was read, or left partly unwritten, shows here
// (SameBits alone would pass two modules that both read it).
::testing::AssertionResult NoNaN(const Outputs &a)
{
    for (size_t i = 0; i < a.size(); i++) {
        if (output_name(i).rfind("sumsq", 0) == 0)
            continue;
        for (size_t j = 0; j < a[i].size(); j++)
            if (std::isnan(a[i][j]))
                return ::testing::AssertionFailure() << output_name(i) << "[" << j << "] is NaN";
    }
    return ::testing::AssertionSuccess();
}

class OpenmpTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        ASSERT_TRUE(reg_.ok()) << reg_.why();
        if (!mgpt_registry_find(reg_.get(), "openmp"))
            GTEST_SKIP() << "the openmp module was not built (configure found no OpenMP)";
        ASSERT_TRUE(reg_.runnable("openmp"));
        isa_ = reg_.composed_isa();
        ASSERT_FALSE(isa_.empty()) << "no SIMD module found beside openmp";
    }
    Registry reg_;
    std::string isa_;
};

TEST_F(OpenmpTest, EveryKernelIsBitwiseTheSameOnOneToFourThreadsAndAsTheIsaModule)
{
    Outputs isa_large, isa_small;
    {
        Backend isa(reg_, isa_.c_str(), 1);
        ASSERT_TRUE(isa.ok()) << isa.why();
        isa_large = run_suite(isa.k(), kLarge);
        isa_small = run_suite(isa.k(), kSmall);
    }
    EXPECT_TRUE(NoNaN(isa_large));
    EXPECT_TRUE(NoNaN(isa_small));
    Outputs first_large, first_small;
    for (const char *mode : {"auto", "always"}) {
        ScopedEnv split("MGPT_OPENMP_SPLIT", mode);
        for (int threads = 1; threads <= 4; threads++) {
            SCOPED_TRACE(std::string("MGPT_OPENMP_SPLIT=") + mode + ", " +
                         std::to_string(threads) + " threads");
            Backend omp(reg_, "openmp", threads, engine_binding(threads));
            ASSERT_TRUE(omp.ok()) << omp.why();
            EXPECT_NE(std::string(omp.description()).find(isa_ + " kernels"), std::string::npos)
                << omp.description();
            Outputs large = run_suite(omp.k(), kLarge), small = run_suite(omp.k(), kSmall);
            EXPECT_TRUE(NoNaN(large));
            EXPECT_TRUE(NoNaN(small));
            // the ISA's own module, sumsq over 17 chunks included (the ISA's sumsq adds
            // the same chunks in the same order)
            EXPECT_TRUE(SameBits(large, isa_large));
            EXPECT_TRUE(SameBits(small, isa_small));
            if (first_large.empty()) {
                first_large = large;
                first_small = small;
            }
            // every output, sumsq included, the same bits on every thread count and mode
            EXPECT_TRUE(SameBits(large, first_large));
            EXPECT_TRUE(SameBits(small, first_small));
        }
    }
}

TEST_F(OpenmpTest, MaskingAvx512ComposesAvx2AndMatchesIt)
{
    for (const char *mask : {"avx512f", "avx512f,avx2"}) {
        ScopedEnv env("MGPT_CPU_DISABLE", mask);
        Registry masked;
        ASSERT_TRUE(masked.ok()) << masked.why();
        std::string isa = masked.composed_isa();
        if (isa.empty() || isa == isa_) {
            printf("[  SKIPPED ] MGPT_CPU_DISABLE=%s changes nothing on this CPU\n", mask);
            continue;
        }
        SCOPED_TRACE(std::string("MGPT_CPU_DISABLE=") + mask + ": " + isa);
        EXPECT_STREQ(isa.c_str(), std::string(mask) == "avx512f" ? "avx2" : "sse");
        Outputs ref;
        {
            Backend one(masked, isa.c_str(), 1);
            ASSERT_TRUE(one.ok()) << one.why();
            ref = run_suite(one.k(), kLarge);
        }
        Backend omp(masked, "openmp", 2, engine_binding(2));
        ASSERT_TRUE(omp.ok()) << omp.why();
        EXPECT_NE(std::string(omp.description()).find("over the " + isa + " kernels"),
                  std::string::npos)
            << omp.description();
        EXPECT_TRUE(SameBits(run_suite(omp.k(), kLarge), ref));
    }
}

TEST_F(OpenmpTest, BadSplitModeIsRefusedAtInit)
{
    ScopedEnv split("MGPT_OPENMP_SPLIT", "sometimes");
    Backend omp(reg_, "openmp", 2);
    EXPECT_FALSE(omp.ok());
    EXPECT_NE(omp.why().find("MGPT_OPENMP_SPLIT='sometimes'"), std::string::npos) << omp.why();
    EXPECT_NE(omp.why().find("auto, always, never"), std::string::npos) << omp.why();
}

// ---------------------------------------------------------------------------------------
// 30 steps of e64_L2_b16_B8 on the names data with gradient clipping (so that sumsq's
// result matters): the loss of every step and the final parameters and Adam moments.
struct TrainRun {
    std::vector<float> losses, norms, state;
};

TrainRun train30(const mgpt_kernels &k, float clip)
{
    TrainRun run;
    mgpt_docs docs;
    mgpt_docs_init(&docs);
    char err[512] = "";
    EXPECT_EQ(mgpt_docs_add_embedded(&docs, err, sizeof err), 0) << err;
    mgpt_vocab vocab;
    mgpt_vocab_build(&vocab, &docs);
    mgpt_config cfg;
    int B = 0;
    cfg.vocab_size = vocab.size;
    EXPECT_EQ(mgpt_config_parse_name("e64_L2_b16_B8", &cfg, &B, err, sizeof err), 0) << err;
    mgpt_model *m = mgpt_model_create(&cfg, B, &k, err, sizeof err);
    EXPECT_NE(m, nullptr) << err;
    if (!m) {
        mgpt_docs_free(&docs);
        return run;
    }
    mgpt_model_init(m, 7);
    mgpt_optim o;
    mgpt_optim_defaults(&o);
    o.total_steps = 30;
    o.grad_clip = clip;
    std::vector<int> scratch((size_t)m->T + 2), ids((size_t)B);
    for (int step = 0; step < 30; step++) {
        for (int b = 0; b < B; b++)
            ids[(size_t)b] = (step * B + b) * 37 % docs.count;
        EXPECT_GT(mgpt_batch_fill(&docs, &vocab, ids.data(), B, m->T, m->tokens, m->targets,
                                  scratch.data(), err, sizeof err),
                  0)
            << err;
        run.losses.push_back(mgpt_model_forward(m));
        mgpt_model_backward(m);
        run.norms.push_back(mgpt_adam_step(m, &o));
    }
    for (float *a : {m->param_mem, m->m_mem, m->v_mem})
        run.state.insert(run.state.end(), a, a + m->num_floats);
    mgpt_model_free(m);
    mgpt_docs_free(&docs);
    return run;
}

::testing::AssertionResult SameRun(const TrainRun &a, const TrainRun &b)
{
    if (a.losses.size() != 30 || b.losses.size() != 30)
        return ::testing::AssertionFailure() << "a run did not take 30 steps";
    for (size_t i = 0; i < 30; i++) {
        if (memcmp(&a.losses[i], &b.losses[i], sizeof(float)) != 0)
            return ::testing::AssertionFailure() << "step " << i + 1 << ": loss " << a.losses[i]
                                                 << " vs " << b.losses[i];
        if (memcmp(&a.norms[i], &b.norms[i], sizeof(float)) != 0)
            return ::testing::AssertionFailure() << "step " << i + 1 << ": gradient norm "
                                                 << a.norms[i] << " vs " << b.norms[i];
    }
    if (a.state.size() != b.state.size() ||
        memcmp(a.state.data(), b.state.data(), a.state.size() * sizeof(float)) != 0)
        return ::testing::AssertionFailure() << "final parameters or Adam moments differ";
    return ::testing::AssertionSuccess();
}

TEST_F(OpenmpTest, ThirtyTrainingStepsAreBitwiseTheSameOnOneToFourThreads)
{
    TrainRun first;
    for (const char *mode : {"auto", "always"}) {
        ScopedEnv split("MGPT_OPENMP_SPLIT", mode);
        for (int threads = 1; threads <= 4; threads++) {
            SCOPED_TRACE(std::string("MGPT_OPENMP_SPLIT=") + mode + ", " +
                         std::to_string(threads) + " threads");
            Backend omp(reg_, "openmp", threads, engine_binding(threads));
            ASSERT_TRUE(omp.ok()) << omp.why();
            TrainRun r = train30(omp.k(), 1.0f);
            ASSERT_EQ(r.losses.size(), 30u);
            EXPECT_LT(r.losses.back(), r.losses.front());
            if (first.losses.empty())
                first = r;
            else
                EXPECT_TRUE(SameRun(r, first));
        }
    }
}

TEST_F(OpenmpTest, TrainingIsBitwiseTheSameAsTheIsaModule)
{
    // With clipping, so that the gradient norm (sumsq over the 2 chunks of 102,784
    // gradients) scales the updates: every loss, norm, parameter and moment is the ISA
    // module's.
    const float clip = 1.0f;
    TrainRun ref;
    {
        Backend one(reg_, isa_.c_str(), 1);
        ASSERT_TRUE(one.ok()) << one.why();
        ref = train30(one.k(), clip);
    }
    ASSERT_EQ(ref.norms.size(), 30u);
    EXPECT_GT(*std::max_element(ref.norms.begin(), ref.norms.end()), clip)
        << "no step was clipped: the norm would not reach the parameters";
    for (int threads : {2, 3}) {
        SCOPED_TRACE(std::to_string(threads) + " threads");
        Backend omp(reg_, "openmp", threads, engine_binding(threads));
        ASSERT_TRUE(omp.ok()) << omp.why();
        EXPECT_TRUE(SameRun(train30(omp.k(), clip), ref));
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

TEST_F(OpenmpTest, BackwardNeverReadsAStaleGradient)
{
    // The engine stores each gradient with its first contributor in the backward walk (the
    // kernels' write bits) and zeroes only dwte and dwpe, so no gradient is read before the
    // pass has written it: a pass over gradient arenas full of NaN must give the bits of a
    // pass over the arenas as allocated (zeros), with every op split over 2 and 3 threads (a
    // range that reads its stale gradient, or is left unwritten, shows as NaN). Every fourth
    // target is masked: those dlogits rows are written with 0.
    mgpt_config cfg{};
    int B = 0;
    char err[512] = "";
    ASSERT_EQ(mgpt_config_parse_name("e64_L2_b16_B4", &cfg, &B, err, sizeof err), 0) << err;
    ScopedEnv split("MGPT_OPENMP_SPLIT", "always");
    for (int threads : {2, 3}) {
        SCOPED_TRACE(std::to_string(threads) + " threads");
        Backend omp(reg_, "openmp", threads, engine_binding(threads));
        ASSERT_TRUE(omp.ok()) << omp.why();
        std::unique_ptr<mgpt_model, void (*)(mgpt_model *)> m(
            mgpt_model_create(&cfg, B, &omp.k(), err, sizeof err), mgpt_model_free);
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

// ---------------------------------------------------------------------------------------
// Binding: the team of the backend's parallel regions is the OpenMP runtime's pool of this
// thread, so a parallel region here runs on the same threads.

std::vector<std::vector<int>> team_cpus(int threads)
{
    std::vector<std::vector<int>> cpus((size_t)threads);
#pragma omp parallel num_threads(threads)
    {
        cpu_set_t s;
        CPU_ZERO(&s);
        std::vector<int> mine;
        if (sched_getaffinity(0, sizeof s, &s) == 0)
            for (int c = 0; c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, &s))
                    mine.push_back(c);
        int t = omp_get_thread_num();
        if (t < threads)
            cpus[(size_t)t] = mine;
    }
    return cpus;
}

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

bool user_placement()
{
    for (const char *v : {"OMP_PLACES", "OMP_PROC_BIND", "GOMP_CPU_AFFINITY", "KMP_AFFINITY"})
        if (getenv(v) && *getenv(v))
            return true;
    return false;
}

TEST_F(OpenmpTest, ThreadsRunOnTheRequestedProcessors)
{
    if (user_placement())
        GTEST_SKIP() << "OMP_PLACES or OMP_PROC_BIND is set: placement is the runtime's";
    std::vector<int> before = my_cpus();
    int cores = physical_cores();
    for (int threads = 1; threads <= cores && threads <= 4; threads++) {
        std::vector<int> pu = engine_binding(threads);
        ASSERT_EQ((int)pu.size(), threads);
        {
            Backend omp(reg_, "openmp", threads, pu);
            ASSERT_TRUE(omp.ok()) << omp.why();
            std::vector<std::vector<int>> cpus = team_cpus(threads);
            for (int t = 0; t < threads; t++)
                EXPECT_EQ(cpus[(size_t)t], std::vector<int>{pu[(size_t)t]}) << "thread " << t;
            // the kernels' own regions keep them there
            std::vector<float> a(1 << 20, 1.0f), b(1 << 20, 2.0f);
            omp.k().accumulate(a.data(), b.data(), a.size(), 0);
            cpus = team_cpus(threads);
            for (int t = 0; t < threads; t++)
                EXPECT_EQ(cpus[(size_t)t], std::vector<int>{pu[(size_t)t]}) << "thread " << t;
        }
        // shutdown gives the calling thread its affinity back
        EXPECT_EQ(my_cpus(), before);
    }
    // more threads than cores: no binding, every thread keeps the process' mask
    {
        Backend omp(reg_, "openmp", cores + 1, engine_binding(cores + 1));
        ASSERT_TRUE(omp.ok()) << omp.why();
        for (const std::vector<int> &c : team_cpus(cores + 1))
            EXPECT_EQ(c, before);
    }
}

TEST_F(OpenmpTest, PlacementIsLeftToTheRuntimeWhenTheUserSetsOne)
{
    // OMP_PROC_BIND=false: the user asks for no binding, and the backend must not bind.
    ScopedEnv bind("OMP_PROC_BIND", "false");
    std::vector<int> before = my_cpus();
    Backend omp(reg_, "openmp", 2, engine_binding(2));
    ASSERT_TRUE(omp.ok()) << omp.why();
    for (const std::vector<int> &c : team_cpus(2))
        EXPECT_EQ(c, before);
}

TEST_F(OpenmpTest, InitRefusesAProcessorOutOfRange)
{
    if (user_placement())
        GTEST_SKIP() << "OMP_PLACES or OMP_PROC_BIND is set: placement is the runtime's";
    std::vector<int> before = my_cpus();
    {
        Backend omp(reg_, "openmp", 2, {0, 1 << 20});
        EXPECT_FALSE(omp.ok());
        EXPECT_NE(omp.why().find("processor index 1048576"), std::string::npos) << omp.why();
    }
    EXPECT_EQ(my_cpus(), before);
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

class OpenmpCli : public OpenmpTest {
protected:
    void SetUp() override
    {
        OpenmpTest::SetUp();
        if (IsSkipped())
            return;
        const char *e = getenv("MGPT_EXE");
        if (!e || !*e)
            GTEST_SKIP() << "MGPT_EXE is not set (run through make check)";
        exe_ = e;
        const char *base = getenv("MGPT_TEST_TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/openmp-XXXXXX";
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
    std::string exe_, dir_;
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

TEST_F(OpenmpCli, OneAndTwoThreadsGiveTheSameRunAndCheckpoint)
{
    for (const char *mode : {"auto", "always"}) {
        SCOPED_TRACE(std::string("MGPT_OPENMP_SPLIT=") + mode);
        std::string env = std::string("MGPT_OPENMP_SPLIT=") + mode;
        std::vector<std::string> args = {"train", "--num-steps", "30", "--n-embd", "64",
                                         "--n-layer", "2", "--block-size", "16",
                                         "--batch-size", "8", "--grad-clip", "1",
                                         "--num-samples", "5"};
        std::vector<std::string> a = {"--threads=1"}, b = {"--threads=2"};
        a.insert(a.end(), args.begin(), args.end());
        b.insert(b.end(), args.begin(), args.end());
        a.insert(a.end(), {"--save", "a.st"});
        b.insert(b.end(), {"--save", "b.st"});
        files_.insert(files_.end(), {"a.st", "b.st"});
        Result ra = run(a, {env}), rb = run(b, {env});
        ASSERT_EQ(ra.status, 0) << ra.err;
        ASSERT_EQ(rb.status, 0) << rb.err;
        EXPECT_NE(ra.out.find("backend openmp (1 thread)"), std::string::npos) << ra.out;
        EXPECT_NE(rb.out.find("backend openmp (2 threads)"), std::string::npos) << rb.out;
        std::string da = without_timing(ra.out), db = without_timing(rb.out);
        size_t cut = da.find("backend openmp (1 thread)");
        if (cut != std::string::npos)   // the one line that names the thread count
            da.replace(cut, strlen("backend openmp (1 thread)"), "backend openmp (2 threads)");
        EXPECT_EQ(da, db);
        EXPECT_NE(da.find("step 30/30"), std::string::npos) << da;
        std::string ca = slurp(dir_ + "/a.st"), cb = slurp(dir_ + "/b.st");
        EXPECT_GT(ca.size(), 100000u);
        EXPECT_TRUE(ca == cb) << "the checkpoints of --threads=1 and --threads=2 differ";
    }
}

TEST_F(OpenmpCli, InfoShowsTheBindingAndVerboseTrainUsesIt)
{
    int cores = physical_cores();
    Result r = run({"--threads=1", "info"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<int> pu = engine_binding(1);
    ASSERT_EQ(pu.size(), 1u);
    EXPECT_NE(r.out.find("thread 0 on PU " + std::to_string(pu[0])), std::string::npos) << r.out;
    if (cores >= 2) {
        pu = engine_binding(2);
        std::string list = std::to_string(pu[0]) + "," + std::to_string(pu[1]);
        r = run({"--threads=2", "info"});
        EXPECT_NE(r.out.find("threads 0..1 on PUs " + list), std::string::npos) << r.out;
        r = run({"--threads=2", "--verbose", "train", "--num-steps", "1", "--num-samples", "0"});
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.err.find("backend openmp"), std::string::npos) << r.err;
        if (!user_placement()) {
            EXPECT_NE(r.err.find("bound one per core to PUs " + list), std::string::npos)
                << r.err;
        }
        EXPECT_NE(r.err.find("over the " + isa_ + " kernels"), std::string::npos) << r.err;
    }
    r = run({"--threads=" + std::to_string(cores + 1), "info"});
    EXPECT_NE(r.out.find("none: " + std::to_string(cores + 1) + " threads on"),
              std::string::npos)
        << r.out;
    r = run({"info"}, {"OMP_PLACES=cores"});
    EXPECT_NE(r.out.find("OMP_PLACES=cores is set"), std::string::npos) << r.out;
}

}  // namespace

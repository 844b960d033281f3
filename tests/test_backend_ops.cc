// Every kernel slot (forward and backward) and probe of every backend module the registry
// finds, called through its instance's context, against the scalar reference kernels linked
// into the engine, on random inputs whose sizes hit every vector tail (1, 3, 7, ..., 257 in
// each dimension that varies); and the ABI's split rule: a ranged slot (matmul_*,
// attention_*) called on blocks of its output gives the bits of one whole call and writes
// nothing outside its block.
//
// Buffers handed to the backend under test end exactly at an inaccessible page, so a tail
// that reads or writes one float too far faults instead of passing. Backward kernels run in
// both modes of each gradient they store: accumulating (+=) onto nonzero gradients, and
// writing (=, its MGPT_WRITE_* bit set) into a buffer full of NaN, which the kernel must not
// read (a read shows as NaN, which no tolerance admits) and must overwrite everywhere. A
// written gradient is compared with the reference accumulating into zeros (0 + x = x
// exactly: what writing stores), within the accumulating tolerance with |initial| = 0.
//
// Tolerances. eps = FLT_EPSILON = 2u (u: unit roundoff). A sum of K products computed in any
// order, with or without FMA, is within K*u*mag of the exact value, mag being the sum of the
// terms' magnitudes; two such implementations differ by at most K*eps*mag. So each check is
// |got - ref| <= c * eps * mag per element, with c the length of the longest chain of
// roundings that feeds the value (stated at each test) and mag computed here, for the
// matmuls by running the reference kernel on absolute values. Where cancellation makes the
// result small (dot products of random signs) the bound is still right, because it scales
// with mag, not with the result.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "platform/cpu.h"
#include "engine/registry.h"
}

namespace {

const double kEps = FLT_EPSILON;
// Every size that a vector tail can get wrong, for widths 4, 8 and 16 and the blockings.
const int kSizes[] = {1, 3, 7, 15, 17, 31, 33, 65, 100, 257};

// ---------------------------------------------------------------------------------------
// The registry, loaded once per process (tests find the build tree's modules through
// MGPT_PLUGIN_PATH, set by tests/Makefile.am).
class Registry {
public:
    static Registry &get()
    {
        static Registry g;
        return g;
    }
    mgpt_registry &reg() { return r_; }
    const std::string &error() const { return error_; }
    // Names of the modules with a valid descriptor, first of each name, in search order.
    std::vector<std::string> names() const
    {
        std::vector<std::string> out;
        for (int i = 0; i < r_.n; i++) {
            const mgpt_backend_entry &e = r_.entries[i];
            if (e.desc && std::find(out.begin(), out.end(), e.name) == out.end())
                out.push_back(e.name);
        }
        return out;
    }

private:
    Registry()
    {
        char err[512] = "";
        if (mgpt_registry_load(&r_, NULL, stderr, err, sizeof err) < 0)
            error_ = err;
    }
    ~Registry() { mgpt_registry_free(&r_); }
    mgpt_registry r_{};
    std::string error_;
};

std::vector<std::string> BackendNames()
{
    std::vector<std::string> v = Registry::get().names();
    return v.empty() ? std::vector<std::string>{"(none found)"} : v;
}

// ---------------------------------------------------------------------------------------
// n elements whose end touches a PROT_NONE page: any access past the end faults. With
// `align`, the start is moved down to a multiple of `align` bytes (stream_read wants 64).
template <typename T>
class Guarded {
public:
    explicit Guarded(size_t n, size_t align = 0) : n_(n)
    {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t data_pages = (n * sizeof(T) + align + page - 1) / page;
        len_ = (data_pages + 1) * page;
        void *m = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            throw std::bad_alloc();
        base_ = static_cast<char *>(m);
        if (mprotect(base_ + data_pages * page, page, PROT_NONE) != 0)
            throw std::bad_alloc();
        uintptr_t start = (uintptr_t)(base_ + data_pages * page) - n * sizeof(T);
        if (align)
            start &= ~(uintptr_t)(align - 1);
        p_ = reinterpret_cast<T *>(start);
    }
    explicit Guarded(const std::vector<T> &v, size_t align = 0) : Guarded(v.size(), align)
    {
        std::copy(v.begin(), v.end(), p_);
    }
    ~Guarded() { munmap(base_, len_); }
    Guarded(const Guarded &) = delete;
    Guarded &operator=(const Guarded &) = delete;
    T *data() { return p_; }
    size_t size() const { return n_; }

private:
    char *base_ = nullptr;
    size_t len_ = 0;
    T *p_ = nullptr;
    size_t n_ = 0;
};

std::vector<float> Random(std::mt19937 &rng, size_t n, float lo = -1.0f, float hi = 1.0f)
{
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float &x : v)
        x = d(rng);
    return v;
}

std::vector<float> Abs(const std::vector<float> &v)
{
    std::vector<float> a(v.size());
    for (size_t i = 0; i < v.size(); i++)
        a[i] = std::fabs(v[i]);
    return a;
}

// The gradient a backend under test starts from: `init` when it accumulates, NaN everywhere
// when it writes (never to be read).
std::vector<float> Start(const std::vector<float> &init, bool write)
{
    return write ? std::vector<float>(init.size(), NAN) : init;
}

// The reference's starting gradient: `init` when accumulating; zeros for a written one (the
// reference always accumulates: what it adds to zeros is what writing must store).
std::vector<float> RefStart(const std::vector<float> &init, bool write)
{
    return write ? std::vector<float>(init.size(), 0.0f) : init;
}

// The modes of a kernel with one stored gradient, and how failures name them.
const unsigned kDinpModes[] = {0u, MGPT_WRITE_DINP};

std::string Mode(unsigned write)
{
    if (!write)
        return "accumulating";
    std::string s = "writing";
    if (write & MGPT_WRITE_DINP)
        s += " dinp";
    if (write & MGPT_WRITE_DW)
        s += " dw";
    return s;
}

// |got[i] - ref[i]| <= tol[i] for every i (NaN fails); names the first failures.
::testing::AssertionResult Near(const char *what, const float *got, const std::vector<float> &ref,
                                const std::vector<double> &tol)
{
    size_t bad = 0;
    std::ostringstream os;
    for (size_t i = 0; i < ref.size(); i++) {
        double d = std::fabs((double)got[i] - (double)ref[i]);
        if (!(d <= tol[i])) {
            if (bad < 4)
                os << "\n  " << what << "[" << i << "] = " << got[i] << ", reference " << ref[i]
                   << ", |diff| " << d << " > tolerance " << tol[i];
            bad++;
        }
    }
    if (!bad)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << bad << " of " << ref.size() << " elements of "
                                         << what << " out of tolerance:" << os.str();
}

// tol[i] = c * eps * mag[i] + floor
std::vector<double> Tol(const std::vector<float> &mag, double c, double floor = 0.0)
{
    std::vector<double> t(mag.size());
    for (size_t i = 0; i < mag.size(); i++)
        t[i] = c * kEps * mag[i] + floor;
    return t;
}

// ---------------------------------------------------------------------------------------
// Each test opens an instance of its backend as the engine does (mgpt_backend_open: init for
// 2 threads; slots left NULL, or past its table, filled with the reference; denormals
// flushed in this thread) and compares its kernels, called with the instance's context,
// with the scalar reference kernels linked into the engine (mgpt_reference_kernels), which
// take no state.
class BackendOps : public ::testing::TestWithParam<std::string> {
protected:
    static const int kThreads = 2;

    void SetUp() override
    {
        Registry &g = Registry::get();
        ASSERT_TRUE(g.error().empty()) << "loading the backend registry: " << g.error();
        ref_ = &mgpt_reference_kernels;
        const mgpt_backend_entry *e = mgpt_registry_find(&g.reg(), GetParam().c_str());
        ASSERT_NE(e, nullptr) << "no backend modules found in " << g.reg().searched;
        if (e->status == MGPT_BE_NOT_RUNNABLE) {
            char need[256];
            mgpt_cpu_feature_names(e->missing, need, sizeof need);
            GTEST_SKIP() << "backend '" << e->name << "' needs CPU features this machine "
                         << "lacks: " << need;
        }
        mgpt_backend_env env{};
        env.abi_major = MGPT_BACKEND_ABI_MAJOR;
        env.abi_minor = MGPT_BACKEND_ABI_MINOR;
        env.num_threads = kThreads;
        env.cpu_features = g.reg().cpu_features;
        char err[512] = "";
        ASSERT_EQ(0, mgpt_backend_open(&g.reg(), e->name, &env, &be_, err, sizeof err))
            << "opening backend '" << e->name << "': " << err;
        open_ = true;
        ASSERT_EQ(be_.ctx.instance, be_.instance);
        ASSERT_EQ(be_.ctx.thread, 0);
        k_ = &be_.k;
        ctx_ = &be_.ctx;
        for (int t = 0; t < kThreads; t++)
            thread_ctx_[t] = {be_.instance, t};
        tile_rows_ = std::max<int>(1, e->desc->tile_rows);
        tile_cols_ = std::max<int>(1, e->desc->tile_cols);
        probes_ = e->desc->probes;
        rng_.seed(20240601u);
    }
    void TearDown() override
    {
        if (open_)
            mgpt_backend_close(&be_);
    }
    // Whether the backend implements the kernel slot itself (else it is the reference: no
    // test).
    bool Native(const char *slot) const
    {
        int i = mgpt_kernel_index(slot);
        return i >= 0 && ((be_.native >> i) & 1u);
    }
    // The context of the instance's thread t (parts of a split run on every thread).
    const mgpt_ctx *ThreadCtx(int t) const { return &thread_ctx_[t % kThreads]; }
    mgpt_backend be_{};
    bool open_ = false;
    const mgpt_kernels *k_ = nullptr, *ref_ = nullptr;
    const mgpt_ctx *ctx_ = nullptr;        // the instance's, thread 0
    const mgpt_ctx rctx_ = {nullptr, 0};   // the reference kernels take no state
    mgpt_ctx thread_ctx_[kThreads] = {};
    int tile_rows_ = 1, tile_cols_ = 1;
    const mgpt_probes *probes_ = nullptr;
    std::mt19937 rng_;
};

// A backend may leave a kernel NULL (the engine then runs the scalar one): nothing to test.
#define REQUIRE_KERNEL(name)                                                                \
    do {                                                                                    \
        if (!Native(#name))                                                                 \
            GTEST_SKIP() << GetParam() << " has no " #name " of its own";                   \
    } while (0)

// ---- embed ---------------------------------------------------------------------------
TEST_P(BackendOps, EmbedForward)
{
    REQUIRE_KERNEL(embed_forward);
    // out = wte[tok] + wpe[n % T]: one rounding each, |diff| <= eps * (|wte| + |wpe|).
    const int V = 13;
    for (int N : kSizes)
        for (int C : kSizes)
            for (int T : {1, 7}) {
                std::vector<float> wte = Random(rng_, (size_t)V * C);
                std::vector<float> wpe = Random(rng_, (size_t)T * C);
                std::vector<int> tok(N);
                for (int &t : tok)
                    t = (int)(rng_() % V);
                std::vector<float> ref((size_t)N * C), mag((size_t)N * C);
                ref_->embed_forward(&rctx_, ref.data(), tok.data(), wte.data(), wpe.data(), N, T,
                                    C);
                ref_->embed_forward(&rctx_, mag.data(), tok.data(), Abs(wte).data(),
                                    Abs(wpe).data(), N, T, C);
                Guarded<float> out((size_t)N * C), gte(wte), gpe(wpe);
                Guarded<int> gtok(tok);
                k_->embed_forward(ctx_, out.data(), gtok.data(), gte.data(), gpe.data(), N, T, C);
                ASSERT_TRUE(Near("out", out.data(), ref, Tol(mag, 1)))
                    << "N=" << N << " T=" << T << " C=" << C;
            }
}

TEST_P(BackendOps, EmbedBackward)
{
    REQUIRE_KERNEL(embed_backward);
    // Each gradient row sums at most N rows of dout onto its initial value: (N + 1) roundings.
    const int V = 13;
    for (int N : kSizes)
        for (int C : kSizes)
            for (int T : {1, 7}) {
                std::vector<float> dwte0 = Random(rng_, (size_t)V * C);
                std::vector<float> dwpe0 = Random(rng_, (size_t)T * C);
                std::vector<float> dout = Random(rng_, (size_t)N * C);
                std::vector<int> tok(N);
                for (int &t : tok)
                    t = (int)(rng_() % V);
                std::vector<float> rte = dwte0, rpe = dwpe0, mte = Abs(dwte0), mpe = Abs(dwpe0);
                ref_->embed_backward(&rctx_, rte.data(), rpe.data(), dout.data(), tok.data(), N, T,
                                     C);
                ref_->embed_backward(&rctx_, mte.data(), mpe.data(), Abs(dout).data(), tok.data(),
                                     N, T, C);
                Guarded<float> gte(dwte0), gpe(dwpe0), gdout(dout);
                Guarded<int> gtok(tok);
                k_->embed_backward(ctx_, gte.data(), gpe.data(), gdout.data(), gtok.data(), N, T,
                                   C);
                ASSERT_TRUE(Near("dwte", gte.data(), rte, Tol(mte, N + 1)))
                    << "N=" << N << " T=" << T << " C=" << C;
                ASSERT_TRUE(Near("dwpe", gpe.data(), rpe, Tol(mpe, N + 1)))
                    << "N=" << N << " T=" << T << " C=" << C;
            }
}

// ---- rmsnorm -------------------------------------------------------------------------
TEST_P(BackendOps, RmsnormForward)
{
    REQUIRE_KERNEL(rmsnorm_forward);
    // rstd from a sum of C positive squares (relative error <= C*u in each implementation),
    // then divide, sqrt, reciprocal and the scaling: relative tolerance (C + 8) * eps.
    for (int N : {1, 3, 17})
        for (int C : kSizes) {
            std::vector<float> inp = Random(rng_, (size_t)N * C);
            std::vector<float> ref((size_t)N * C), rref(N);
            ref_->rmsnorm_forward(&rctx_, ref.data(), rref.data(), inp.data(), N, C);
            Guarded<float> out((size_t)N * C), rstd(N), ginp(inp);
            k_->rmsnorm_forward(ctx_, out.data(), rstd.data(), ginp.data(), N, C);
            ASSERT_TRUE(Near("rstd", rstd.data(), rref, Tol(Abs(rref), C + 8)))
                << "N=" << N << " C=" << C;
            ASSERT_TRUE(Near("out", out.data(), ref, Tol(Abs(ref), C + 8)))
                << "N=" << N << " C=" << C;
        }
}

TEST_P(BackendOps, RmsnormBackward)
{
    REQUIRE_KERNEL(rmsnorm_backward);
    // dx = dx0 + r*dy - x * r^3 * dot(dy, x) / C with the same rstd given to both: the dot
    // is a C-term sum, so |diff| <= (C + 8) * eps * mag with
    // mag = |dx0| + r|dy| + r^3 |x| sum|dy x| / C (dx0 = 0 when writing).
    for (unsigned write : kDinpModes)
        for (int N : {1, 3, 17})
            for (int C : kSizes) {
                std::vector<float> inp = Random(rng_, (size_t)N * C);
                std::vector<float> dout = Random(rng_, (size_t)N * C);
                std::vector<float> dinp0 = RefStart(Random(rng_, (size_t)N * C), write);
                std::vector<float> y((size_t)N * C), rstd(N);
                ref_->rmsnorm_forward(&rctx_, y.data(), rstd.data(), inp.data(), N, C);
                std::vector<float> ref = dinp0, mag((size_t)N * C);
                ref_->rmsnorm_backward(&rctx_, ref.data(), dout.data(), inp.data(), rstd.data(), N,
                                       C, 0);
                for (int n = 0; n < N; n++) {
                    double r = rstd[n], dot = 0;
                    for (int c = 0; c < C; c++)
                        dot += std::fabs(dout[(size_t)n * C + c] * inp[(size_t)n * C + c]);
                    for (int c = 0; c < C; c++) {
                        size_t i = (size_t)n * C + c;
                        mag[i] = (float)(std::fabs(dinp0[i]) + r * std::fabs(dout[i]) +
                                         r * r * r * std::fabs(inp[i]) * dot / C);
                    }
                }
                Guarded<float> g(Start(dinp0, write)), gdout(dout), ginp(inp), grstd(rstd);
                k_->rmsnorm_backward(ctx_, g.data(), gdout.data(), ginp.data(), grstd.data(), N, C,
                                     write);
                ASSERT_TRUE(Near("dinp", g.data(), ref, Tol(mag, C + 8)))
                    << "N=" << N << " C=" << C << ", " << Mode(write);
            }
}

// ---- matmul --------------------------------------------------------------------------
struct MatShape {
    int N, C, OC;
};

// Every combination of the sizes up to 65 (all corners of the tails), the large sizes (100,
// 257: several cache blocks) in one dimension at a time, a few shapes with several block
// edges at once, and reductions longer than two cache blocks in each product. (The full
// 10^3 grid costs three times as much, mostly in the scalar reference, for no other case.)
std::vector<MatShape> MatmulShapes()
{
    std::vector<MatShape> s;
    for (int N : kSizes)
        for (int C : kSizes)
            for (int OC : kSizes) {
                int large = (N >= 100) + (C >= 100) + (OC >= 100);
                if (large <= 1)
                    s.push_back({N, C, OC});
            }
    s.push_back({257, 100, 257});
    s.push_back({100, 257, 100});
    s.push_back({9, 600, 40});   // forward: K = C
    s.push_back({40, 9, 600});   // dinp:    K = OC
    s.push_back({600, 40, 9});   // dw:      K = N
    return s;
}

TEST_P(BackendOps, MatmulForward)
{
    REQUIRE_KERNEL(matmul_forward);
    // out[n,o] = sum over C products: |diff| <= (C + 2) * eps * sum_c |inp[n,c] w[o,c]|.
    for (MatShape s : MatmulShapes()) {
        int N = s.N, C = s.C, OC = s.OC;
        std::vector<float> inp = Random(rng_, (size_t)N * C), w = Random(rng_, (size_t)OC * C);
        std::vector<float> ref((size_t)N * OC), mag((size_t)N * OC);
        ref_->matmul_forward(&rctx_, ref.data(), inp.data(), w.data(), N, C, OC, 0, N, 0, OC);
        ref_->matmul_forward(&rctx_, mag.data(), Abs(inp).data(), Abs(w).data(), N, C, OC, 0, N,
                             0, OC);
        Guarded<float> out((size_t)N * OC), ginp(inp), gw(w);
        k_->matmul_forward(ctx_, out.data(), ginp.data(), gw.data(), N, C, OC, 0, N, 0, OC);
        ASSERT_TRUE(Near("out", out.data(), ref, Tol(mag, C + 2)))
            << "N=" << N << " C=" << C << " OC=" << OC;
    }
}

// The two gradients of a matmul are two slots. Each shape in both modes of the slot's
// gradient (accumulated onto its initial values, or written into NaN); the reference runs
// onto the initial values and into zeros (a written gradient's reference).
TEST_P(BackendOps, MatmulBackwardDinp)
{
    REQUIRE_KERNEL(matmul_backward_dinp);
    // dinp[n,c] = dinp0 + sum over OC products:
    // |diff| <= (OC + 2) * eps * (|dinp0| + sum_o |dout[n,o] w[o,c]|).
    for (MatShape s : MatmulShapes()) {
        int N = s.N, C = s.C, OC = s.OC;
        std::vector<float> w = Random(rng_, (size_t)OC * C);
        std::vector<float> dout = Random(rng_, (size_t)N * OC);
        std::vector<float> dinp0 = Random(rng_, (size_t)N * C);
        Guarded<float> gdout(dout), gw(w);
        for (unsigned write : kDinpModes) {
            std::vector<float> ref = RefStart(dinp0, write);
            std::vector<float> mag = write ? ref : Abs(dinp0);
            ref_->matmul_backward_dinp(&rctx_, ref.data(), dout.data(), w.data(), N, C, OC, 0, N,
                                       0, C, 0);
            ref_->matmul_backward_dinp(&rctx_, mag.data(), Abs(dout).data(), Abs(w).data(), N, C,
                                       OC, 0, N, 0, C, 0);
            Guarded<float> gdinp(Start(dinp0, write));
            k_->matmul_backward_dinp(ctx_, gdinp.data(), gdout.data(), gw.data(), N, C, OC, 0, N,
                                     0, C, write);
            ASSERT_TRUE(Near("dinp", gdinp.data(), ref, Tol(mag, OC + 2)))
                << "N=" << N << " C=" << C << " OC=" << OC << ", " << Mode(write);
        }
    }
}

TEST_P(BackendOps, MatmulBackwardDw)
{
    REQUIRE_KERNEL(matmul_backward_dw);
    // dw[o,c] = dw0 + sum over N products:
    // |diff| <= (N + 2) * eps * (|dw0| + sum_n |dout[n,o] inp[n,c]|).
    const unsigned modes[] = {0u, MGPT_WRITE_DW};
    for (MatShape s : MatmulShapes()) {
        int N = s.N, C = s.C, OC = s.OC;
        std::vector<float> inp = Random(rng_, (size_t)N * C);
        std::vector<float> dout = Random(rng_, (size_t)N * OC);
        std::vector<float> dw0 = Random(rng_, (size_t)OC * C);
        Guarded<float> gdout(dout), ginp(inp);
        for (unsigned write : modes) {
            std::vector<float> ref = RefStart(dw0, write);
            std::vector<float> mag = write ? ref : Abs(dw0);
            ref_->matmul_backward_dw(&rctx_, ref.data(), dout.data(), inp.data(), N, C, OC, 0, OC,
                                     0, C, 0);
            ref_->matmul_backward_dw(&rctx_, mag.data(), Abs(dout).data(), Abs(inp).data(), N, C,
                                     OC, 0, OC, 0, C, 0);
            Guarded<float> gdw(Start(dw0, write));
            k_->matmul_backward_dw(ctx_, gdw.data(), gdout.data(), ginp.data(), N, C, OC, 0, OC, 0,
                                   C, write);
            ASSERT_TRUE(Near("dw", gdw.data(), ref, Tol(mag, N + 2)))
                << "N=" << N << " C=" << C << " OC=" << OC << ", " << Mode(write);
        }
    }
}

// ---- attention -----------------------------------------------------------------------
struct AttShape {
    int B, T, H, hd;
};

// T and hd over kSizes and the vector widths 4, 8, 16 (short heads are kept in registers
// up to T, hd <= width), where T^2 * hd <= 2.2e6 (T = 257, whose rows have every length
// 1..257, with hd up to 31; hd = 257 with T up to 65), several documents and heads where
// T^2 * hd < 2e5. The scalar reference's cost grows as T^2 * hd.
std::vector<AttShape> AttentionShapes()
{
    std::vector<int> sizes(std::begin(kSizes), std::end(kSizes));
    sizes.insert(sizes.end(), {4, 8, 16});
    std::vector<AttShape> s;
    for (int T : sizes)
        for (int hd : sizes) {
            double cost = (double)T * T * hd;
            if (cost > 2.2e6)
                continue;
            bool small = cost < 2e5;
            s.push_back({small ? 2 : 1, T, small ? 3 : 1, hd});
        }
    return s;
}

TEST_P(BackendOps, AttentionForward)
{
    REQUIRE_KERNEL(attention_forward);
    // Per row t: scores are hd-term dot products, scaled; with S = max_j scale*sum|q k_j| their
    // error is <= hd*u*S each, so the shifted scores s_j - max are off by <= 2*hd*u*S
    // (absolute, i.e. relative in exp), exp adds a few ulps and the sum of t+1 positive terms
    // (t+1)*u: att relative tolerance rel = eps * (2*(hd+1)*S + T + 8). out = sum_j att_j v_j
    // then adds (T + 2) * eps relative to mag = sum_j att_j |v_j|. Entries above the
    // diagonal must be exactly 0. The floor 1e-30 admits exp flushing e^x < 1.2e-38 to 0.
    // Also rows whose scores all lie far below 0 (q near +8, k near -8: e^score underflows
    // unless the row's own maximum is subtracted).
    std::vector<AttShape> shapes = AttentionShapes();
    size_t n_plain = shapes.size();
    for (int T : {1, 3, 8, 17})
        for (int hd : {4, 16, 33})
            shapes.push_back({1, T, 2, hd});
    for (size_t si = 0; si < shapes.size(); si++) {
        AttShape s = shapes[si];
        int B = s.B, T = s.T, H = s.H, hd = s.hd, C = H * hd;
        size_t C3 = 3 * (size_t)C;
        std::vector<float> qkv = Random(rng_, (size_t)B * T * C3);
        if (si >= n_plain)
            for (size_t r = 0; r < (size_t)B * T; r++)
                for (int c = 0; c < C; c++) {
                    qkv[r * C3 + c] += 8.0f;
                    qkv[r * C3 + C + c] -= 8.0f;
                }
        std::vector<float> out((size_t)B * T * C), att((size_t)B * H * T * T);
        ref_->attention_forward(&rctx_, out.data(), att.data(), qkv.data(), B, T, C, H, 0, B * H);
        std::vector<double> tol_att(att.size(), 0.0), tol_out(out.size());
        double scale = 1.0 / std::sqrt((double)hd);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    const float *q = &qkv[(size_t)(b * T + t) * C3 + h * hd];
                    double S = 0;
                    for (int j = 0; j <= t; j++) {
                        const float *k = &qkv[(size_t)(b * T + j) * C3 + C + h * hd];
                        double m = 0;
                        for (int i = 0; i < hd; i++)
                            m += std::fabs(q[i] * k[i]);
                        S = std::max(S, m * scale);
                    }
                    double rel = kEps * (2.0 * (hd + 1) * S + T + 8);
                    size_t arow = (((size_t)b * H + h) * T + t) * T;
                    for (int j = 0; j <= t; j++)
                        tol_att[arow + j] = rel * att[arow + j] + 1e-30;
                    for (int i = 0; i < hd; i++) {
                        double m = 0;
                        for (int j = 0; j <= t; j++)
                            m += att[arow + j] *
                                 std::fabs(qkv[(size_t)(b * T + j) * C3 + 2 * C + h * hd + i]);
                        tol_out[(size_t)(b * T + t) * C + h * hd + i] =
                            (rel + (T + 2) * kEps) * m + 1e-30;
                    }
                }
        Guarded<float> gout(out.size()), gatt(att.size()), gqkv(qkv);
        k_->attention_forward(ctx_, gout.data(), gatt.data(), gqkv.data(), B, T, C, H, 0, B * H);
        ASSERT_TRUE(Near("att", gatt.data(), att, tol_att))
            << "B=" << B << " T=" << T << " H=" << H << " hd=" << hd;
        ASSERT_TRUE(Near("out", gout.data(), out, tol_out))
            << "B=" << B << " T=" << T << " H=" << H << " hd=" << hd;
    }
}

TEST_P(BackendOps, AttentionBackward)
{
    REQUIRE_KERNEL(attention_backward);
    // With the reference's att as input, per row t: datt_j = dy . v_j (hd terms, magnitude
    // D_j = sum|dy v_j|), dsum = sum_j att_j datt_j (t+1 more terms), dpre_j = att_j (datt_j -
    // dsum) scale has magnitude P_j = att_j scale (D_j + sum_k att_k D_k); dq and dk sum
    // dpre_j times k_j resp. q over at most T terms, dv sums att_j dy over at most T. So
    // |diff| <= eps * (hd + 2T + 8) * mag, mag = |initial| + sum |P_j k_j| (dq),
    // sum |P_j q| (dk), sum att_j |dy| (dv); |initial| = 0 when writing. datt is scratch
    // and not compared.
    for (unsigned write : kDinpModes)
        for (AttShape s : AttentionShapes()) {
            int B = s.B, T = s.T, H = s.H, hd = s.hd, C = H * hd;
            size_t C3 = 3 * (size_t)C;
            std::vector<float> qkv = Random(rng_, (size_t)B * T * C3);
            std::vector<float> out((size_t)B * T * C), att((size_t)B * H * T * T);
            ref_->attention_forward(&rctx_, out.data(), att.data(), qkv.data(), B, T, C, H, 0,
                                    B * H);
            std::vector<float> dout = Random(rng_, out.size());
            std::vector<float> dqkv0 = RefStart(Random(rng_, qkv.size()), write);
            std::vector<float> ref = dqkv0, datt(att.size());
            ref_->attention_backward(&rctx_, ref.data(), datt.data(), dout.data(), qkv.data(),
                                     att.data(), B, T, C, H, 0, B * H, 0);
            std::vector<double> mag(qkv.size());
            for (size_t i = 0; i < mag.size(); i++)
                mag[i] = std::fabs(dqkv0[i]);
            double scale = 1.0 / std::sqrt((double)hd);
            std::vector<double> D(T);
            for (int b = 0; b < B; b++)
                for (int h = 0; h < H; h++)
                    for (int t = 0; t < T; t++) {
                        const float *a = &att[(((size_t)b * H + h) * T + t) * T];
                        const float *dy = &dout[(size_t)(b * T + t) * C + h * hd];
                        const float *q = &qkv[(size_t)(b * T + t) * C3 + h * hd];
                        double Dsum = 0;
                        for (int j = 0; j <= t; j++) {
                            const float *v = &qkv[(size_t)(b * T + j) * C3 + 2 * C + h * hd];
                            D[j] = 0;
                            for (int i = 0; i < hd; i++)
                                D[j] += std::fabs(dy[i] * v[i]);
                            Dsum += a[j] * D[j];
                        }
                        size_t rq = (size_t)(b * T + t) * C3 + h * hd;
                        for (int j = 0; j <= t; j++) {
                            double P = a[j] * scale * (D[j] + Dsum);
                            size_t rj = (size_t)(b * T + j) * C3 + h * hd;
                            for (int i = 0; i < hd; i++) {
                                mag[rq + i] += P * std::fabs(qkv[rj + C + i]);
                                mag[rj + C + i] += P * std::fabs(q[i]);
                                mag[rj + 2 * C + i] += a[j] * std::fabs(dy[i]);
                            }
                        }
                    }
            std::vector<double> tol(mag.size());
            for (size_t i = 0; i < tol.size(); i++)
                tol[i] = kEps * (hd + 2.0 * T + 8) * mag[i] + 1e-30;
            Guarded<float> gdqkv(Start(dqkv0, write)), gdatt(att.size()), gdout(dout), gqkv(qkv),
                gatt(att);
            k_->attention_backward(ctx_, gdqkv.data(), gdatt.data(), gdout.data(), gqkv.data(),
                                   gatt.data(), B, T, C, H, 0, B * H, write);
            ASSERT_TRUE(Near("dqkv", gdqkv.data(), ref, tol))
                << "B=" << B << " T=" << T << " H=" << H << " hd=" << hd << ", " << Mode(write);
        }
}

// ---- element-wise --------------------------------------------------------------------
std::vector<size_t> ElementCounts()
{
    std::vector<size_t> n = {0};
    for (int s : kSizes)
        n.push_back((size_t)s);
    n.push_back(1000);
    n.push_back(4099);
    return n;
}

TEST_P(BackendOps, SqreluForward)
{
    REQUIRE_KERNEL(sqrelu_forward);
    // one multiplication: |diff| <= eps * out
    for (size_t n : ElementCounts()) {
        std::vector<float> inp = Random(rng_, n), ref(n);
        ref_->sqrelu_forward(&rctx_, ref.data(), inp.data(), n);
        Guarded<float> out(n), ginp(inp);
        k_->sqrelu_forward(ctx_, out.data(), ginp.data(), n);
        ASSERT_TRUE(Near("out", out.data(), ref, Tol(ref, 1))) << "n=" << n;
    }
}

TEST_P(BackendOps, SqreluBackward)
{
    REQUIRE_KERNEL(sqrelu_backward);
    // dinp0 + 2*inp*dout where inp > 0: three roundings, |diff| <= 3 eps (|dinp0| + |2 inp dout|)
    // (dinp0 = 0 when writing: where inp <= 0 the kernel must then store 0)
    for (unsigned write : kDinpModes)
        for (size_t n : ElementCounts()) {
            std::vector<float> inp = Random(rng_, n), dout = Random(rng_, n);
            std::vector<float> d0 = RefStart(Random(rng_, n), write);
            std::vector<float> ref = d0, mag(n);
            ref_->sqrelu_backward(&rctx_, ref.data(), dout.data(), inp.data(), n, 0);
            for (size_t i = 0; i < n; i++)
                mag[i] = std::fabs(d0[i]) + 2 * std::fabs(inp[i] * dout[i]);
            Guarded<float> g(Start(d0, write)), gdout(dout), ginp(inp);
            k_->sqrelu_backward(ctx_, g.data(), gdout.data(), ginp.data(), n, write);
            ASSERT_TRUE(Near("dinp", g.data(), ref, Tol(mag, 3)))
                << "n=" << n << ", " << Mode(write);
        }
}

TEST_P(BackendOps, AddForward)
{
    REQUIRE_KERNEL(add_forward);
    // one addition: |diff| <= eps * (|a| + |b|)
    for (size_t n : ElementCounts()) {
        std::vector<float> a = Random(rng_, n), b = Random(rng_, n), ref(n), mag(n);
        ref_->add_forward(&rctx_, ref.data(), a.data(), b.data(), n);
        for (size_t i = 0; i < n; i++)
            mag[i] = std::fabs(a[i]) + std::fabs(b[i]);
        Guarded<float> out(n), ga(a), gb(b);
        k_->add_forward(ctx_, out.data(), ga.data(), gb.data(), n);
        ASSERT_TRUE(Near("out", out.data(), ref, Tol(mag, 1))) << "n=" << n;
    }
}

TEST_P(BackendOps, Accumulate)
{
    REQUIRE_KERNEL(accumulate);
    // one addition onto a nonzero destination: |diff| <= eps * (|dst| + |src|); writing
    // (dst = src, dst = 0 in the bound) is then within eps * |src| of the copy
    for (unsigned write : kDinpModes)
        for (size_t n : ElementCounts()) {
            std::vector<float> dst = RefStart(Random(rng_, n), write), src = Random(rng_, n);
            std::vector<float> ref = dst, mag(n);
            ref_->accumulate(&rctx_, ref.data(), src.data(), n, 0);
            for (size_t i = 0; i < n; i++)
                mag[i] = std::fabs(dst[i]) + std::fabs(src[i]);
            Guarded<float> g(Start(dst, write)), gsrc(src);
            k_->accumulate(ctx_, g.data(), gsrc.data(), n, write);
            ASSERT_TRUE(Near("dst", g.data(), ref, Tol(mag, 1)))
                << "n=" << n << ", " << Mode(write);
        }
}

TEST_P(BackendOps, Zero)
{
    REQUIRE_KERNEL(zero);
    // x[0..n) = +0.0f exactly (all bits clear), from NaN and negative values, and nothing
    // outside: the end touches a guard page, and the floats before x keep their values.
    // Sizes past 2^20 too (more than any cache); the offsets give every alignment of x within
    // a 64-byte line.
    std::vector<size_t> counts = ElementCounts();
    counts.push_back((size_t)1 << 20);
    counts.push_back(((size_t)1 << 20) + 13);
    for (size_t n : counts)
        for (size_t before : {0, 1, 5, 15}) {
            std::vector<float> init = Random(rng_, n + before, -2.0f, 2.0f);
            for (size_t i = before; i < n + before; i += 7)
                init[i] = NAN;
            Guarded<float> g(init);
            k_->zero(ctx_, g.data() + before, n);
            for (size_t i = 0; i < before; i++)
                ASSERT_EQ(std::memcmp(&g.data()[i], &init[i], sizeof(float)), 0)
                    << "n=" << n << ": x[" << (long)i - (long)before << "] was written";
            for (size_t i = before; i < n + before; i++) {
                uint32_t bits;
                std::memcpy(&bits, &g.data()[i], sizeof bits);
                ASSERT_EQ(bits, 0u) << "n=" << n << " offset " << before << ": x["
                                    << i - before << "] = " << g.data()[i];
            }
        }
}

// ---- cross-entropy -------------------------------------------------------------------
// Logits in [-8, 8]; about one target in four masked (-1); one row in three gets a logit
// 120 below the rest, so that its exp underflows (a probability of 0 or a denormal).
void CrossentropyInputs(std::mt19937 &rng, int N, int V, std::vector<float> &logits,
                        std::vector<int> &targets)
{
    logits = Random(rng, (size_t)N * V, -8.0f, 8.0f);
    targets.resize(N);
    for (int n = 0; n < N; n++) {
        targets[n] = rng() % 4 == 0 ? -1 : (int)(rng() % V);
        if (n % 3 == 1 && V > 1)
            logits[(size_t)n * V + rng() % V] = -120.0f;
    }
}

TEST_P(BackendOps, CrossentropyForward)
{
    REQUIRE_KERNEL(crossentropy_forward);
    // probs: the sum of V exponentials (relative error (V+1)u each), exp itself a few ulps,
    // and the rounding of z - max (relative u*Z in exp, Z = the row's logit range): relative
    // tolerance rel = eps * (V + 8 + Z), plus a 1e-30 floor for exps below FLT_MIN flushed
    // to 0. loss = log(sum) - (z_t - max): rel + eps * 2|loss| absolute. Masked rows: loss 0.
    for (int N : {1, 3, 17})
        for (int V : kSizes) {
            std::vector<float> logits;
            std::vector<int> targets;
            CrossentropyInputs(rng_, N, V, logits, targets);
            std::vector<float> loss(N), probs((size_t)N * V);
            ref_->crossentropy_forward(&rctx_, loss.data(), probs.data(), logits.data(),
                                       targets.data(), N, V);
            std::vector<double> tol_p(probs.size()), tol_l(N);
            for (int n = 0; n < N; n++) {
                const float *z = &logits[(size_t)n * V];
                double Z = *std::max_element(z, z + V) - *std::min_element(z, z + V);
                double rel = kEps * (V + 8 + Z);
                for (int i = 0; i < V; i++)
                    tol_p[(size_t)n * V + i] = rel * probs[(size_t)n * V + i] + 1e-30;
                tol_l[n] = targets[n] < 0 ? 0.0 : rel + 2 * kEps * std::fabs(loss[n]);
            }
            Guarded<float> gl(N), gp(probs.size()), gz(logits);
            Guarded<int> gt(targets);
            k_->crossentropy_forward(ctx_, gl.data(), gp.data(), gz.data(), gt.data(), N, V);
            ASSERT_TRUE(Near("probs", gp.data(), probs, tol_p)) << "N=" << N << " V=" << V;
            ASSERT_TRUE(Near("loss", gl.data(), loss, tol_l)) << "N=" << N << " V=" << V;
        }
}

TEST_P(BackendOps, SoftmaxExpAccuracy)
{
    REQUIRE_KERNEL(crossentropy_forward);
    // The bounds above are dominated by the V-term sums; this pins the exponential itself.
    // Rows of two logits (0, x), x in [-16, 0]: p1 = e^x / (1 + e^x) against double
    // precision. A correctly rounded exp and 3 more roundings give ~4 eps; allow 8 eps, plus
    // eps*|x| for implementations whose exponent goes through a multiplication (exp2 with
    // log2(e)). A few ulps, that is ~1e-6 relative.
    const int N = 4096, V = 2;
    std::vector<float> logits((size_t)N * V);
    std::vector<int> targets(N, 1);
    for (int n = 0; n < N; n++) {
        logits[(size_t)n * V] = 0.0f;
        logits[(size_t)n * V + 1] = -16.0f * n / (N - 1);
    }
    Guarded<float> gl(N), gp((size_t)N * V), gz(logits);
    Guarded<int> gt(targets);
    k_->crossentropy_forward(ctx_, gl.data(), gp.data(), gz.data(), gt.data(), N, V);
    for (int n = 0; n < N; n++) {
        double x = logits[(size_t)n * V + 1], e = std::exp(x), p1 = e / (1.0 + e);
        ASSERT_LE(std::fabs(gp.data()[(size_t)n * V + 1] - p1), (8 + std::fabs(x)) * kEps * p1)
            << "softmax(0, " << x << ")";
        ASSERT_LE(std::fabs(gl.data()[n] - (std::log1p(e) - x)), 8 * kEps * (1 - x))
            << "loss of softmax(0, " << x << ")";
    }
}

TEST_P(BackendOps, CrossentropyBackward)
{
    REQUIRE_KERNEL(crossentropy_backward);
    // dlogits0 + dloss * (p - onehot): three roundings, |diff| <= 3 eps (|dlogits0| +
    // |dloss| (p + 1)); masked rows must stay exactly as they were when accumulating, and
    // become exactly 0 when writing (dlogits0 = 0 for the reference; every written case has
    // a masked row).
    for (unsigned write : kDinpModes)
        for (int N : {1, 3, 17})
            for (int V : kSizes) {
                std::vector<float> logits;
                std::vector<int> targets;
                CrossentropyInputs(rng_, N, V, logits, targets);
                if (write && std::none_of(targets.begin(), targets.end(),
                                          [](int t) { return t < 0; }))
                    targets[N / 2] = -1;
                std::vector<float> loss(N), probs((size_t)N * V);
                ref_->crossentropy_forward(&rctx_, loss.data(), probs.data(), logits.data(),
                                           targets.data(), N, V);
                std::vector<float> d0 = RefStart(Random(rng_, probs.size()), write), ref = d0;
                const float dloss = 0.37f;
                ref_->crossentropy_backward(&rctx_, ref.data(), probs.data(), targets.data(), dloss,
                                            N, V, 0);
                std::vector<double> tol(probs.size());
                for (size_t i = 0; i < tol.size(); i++)
                    tol[i] = targets[i / V] < 0 ? 0.0
                             : 3 * kEps * (std::fabs(d0[i]) + dloss * (probs[i] + 1.0));
                Guarded<float> g(Start(d0, write)), gp(probs);
                Guarded<int> gt(targets);
                k_->crossentropy_backward(ctx_, g.data(), gp.data(), gt.data(), dloss, N, V, write);
                ASSERT_TRUE(Near("dlogits", g.data(), ref, tol))
                    << "N=" << N << " V=" << V << ", " << Mode(write);
            }
}

// ---- optimizer -----------------------------------------------------------------------
TEST_P(BackendOps, Sumsq)
{
    REQUIRE_KERNEL(sumsq);
    // n positive terms summed in double (squares of floats are exact in double):
    // |diff| <= n * 2^-52 * sum. The engine calls it on at most MGPT_SUMSQ_CHUNK floats (and
    // adds the chunks' sums itself): up to that length, and exactly it.
    std::vector<size_t> counts = ElementCounts();
    counts.push_back(MGPT_SUMSQ_CHUNK - 1);
    counts.push_back(MGPT_SUMSQ_CHUNK);
    for (size_t n : counts) {
        std::vector<float> x = Random(rng_, n);
        double ref = ref_->sumsq(&rctx_, x.data(), n);
        Guarded<float> gx(x);
        double got = k_->sumsq(ctx_, gx.data(), n);
        EXPECT_LE(std::fabs(got - ref), (double)n * DBL_EPSILON * ref) << "n=" << n;
    }
}

TEST_P(BackendOps, AdamUpdate)
{
    REQUIRE_KERNEL(adam_update);
    // m and v: two products and a sum, |diff| <= 4 eps (|b1 m| + |(1-b1) g|) and likewise;
    // param: the step lr*mhat/(sqrt(vhat)+eps) goes through about 6 roundings after m and v,
    // |diff| <= eps (2 |param| + 12 |step|).
    mgpt_adam_args args;
    args.lr = 1e-2f;
    args.beta1 = 0.9f;
    args.beta2 = 0.95f;
    args.eps = 1e-8f;
    args.bc1 = 1.0f - std::pow(0.9f, 3.0f);
    args.bc2 = 1.0f - std::pow(0.95f, 3.0f);
    args.grad_scale = 0.7f;
    for (size_t n : ElementCounts()) {
        std::vector<float> p = Random(rng_, n), g = Random(rng_, n);
        std::vector<float> m = Random(rng_, n, -0.1f, 0.1f);
        std::vector<float> v = Random(rng_, n, 0.0f, 0.01f);
        std::vector<float> rp = p, rm = m, rv = v;
        ref_->adam_update(&rctx_, rp.data(), g.data(), rm.data(), rv.data(), n, &args);
        std::vector<double> tp(n), tm(n), tv(n);
        for (size_t i = 0; i < n; i++) {
            double gs = (double)g[i] * args.grad_scale;
            tm[i] = 4 * kEps * (args.beta1 * std::fabs(m[i]) + (1 - args.beta1) * std::fabs(gs));
            tv[i] = 4 * kEps * (args.beta2 * v[i] + (1 - args.beta2) * gs * gs);
            double step = args.lr * std::fabs(rm[i] / args.bc1) /
                          (std::sqrt(rv[i] / args.bc2) + args.eps);
            tp[i] = kEps * (2 * std::fabs(p[i]) + 12 * step);
        }
        Guarded<float> gp(p), gg(g), gm(m), gv(v);
        k_->adam_update(ctx_, gp.data(), gg.data(), gm.data(), gv.data(), n, &args);
        ASSERT_TRUE(Near("m", gm.data(), rm, tm)) << "n=" << n;
        ASSERT_TRUE(Near("v", gv.data(), rv, tv)) << "n=" << n;
        ASSERT_TRUE(Near("param", gp.data(), rp, tp)) << "n=" << n;
    }
}

// ---- determinism and probes ----------------------------------------------------------
TEST_P(BackendOps, Deterministic)
{
    REQUIRE_KERNEL(matmul_forward);
    // Same inputs, same bits: twice in a row, the second time as the instance's thread 1 (its
    // scratch, if it has any per thread), for shapes with several cache blocks, the
    // backward slots accumulating and writing their gradients.
    for (unsigned write : {0u, (unsigned)(MGPT_WRITE_DINP | MGPT_WRITE_DW)})
        for (MatShape s : {MatShape{257, 300, 100}, MatShape{33, 65, 257}}) {
            int N = s.N, C = s.C, OC = s.OC;
            std::vector<float> inp = Random(rng_, (size_t)N * C);
            std::vector<float> w = Random(rng_, (size_t)OC * C);
            std::vector<float> dout = Random(rng_, (size_t)N * OC);
            std::vector<float> out[2], dinp[2], dw[2];
            for (int r = 0; r < 2; r++) {
                const mgpt_ctx *x = ThreadCtx(r);
                out[r].assign((size_t)N * OC, 0.0f);
                dinp[r].assign((size_t)N * C, write ? NAN : 0.5f);
                dw[r].assign((size_t)OC * C, write ? NAN : -0.5f);
                k_->matmul_forward(x, out[r].data(), inp.data(), w.data(), N, C, OC, 0, N, 0, OC);
                k_->matmul_backward_dinp(x, dinp[r].data(), dout.data(), w.data(), N, C, OC, 0, N,
                                         0, C, write & MGPT_WRITE_DINP);
                k_->matmul_backward_dw(x, dw[r].data(), dout.data(), inp.data(), N, C, OC, 0, OC, 0,
                                       C, write & MGPT_WRITE_DW);
            }
            EXPECT_EQ(0, std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)));
            EXPECT_EQ(0, std::memcmp(dinp[0].data(), dinp[1].data(),
                                     dinp[0].size() * sizeof(float)))
                << Mode(write);
            EXPECT_EQ(0, std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)))
                << Mode(write);
        }
}

// ---- the split rule ------------------------------------------------------------------
// The ranged slots (MGPT_SPLIT_TILES: the matmuls; MGPT_SPLIT_HEADS: attention) compute the
// part of their output that their range arguments name, each element the same way whatever
// part it falls in: the threading layer calls them on disjoint parts, concurrently, and the
// result must be the bits of one whole call. Each part here is called alone on a fresh
// output (as another thread of the instance: thread = part index mod 2): its elements must
// be the whole call's bits, and every other element must keep its initial bits (a call
// writes its own part only: anything else would race with the other threads). The parts
// cut at multiples of the backend's register tile (tile_rows x tile_cols, where the layer
// cuts) and at arbitrary places (any cut must give the same bits); the initial contents of
// a written gradient are NaN.

// Cuts of [0, n): at multiples of `tile` at or above n/3 and 2n/3 (3 ranges), or (tile 0)
// at arbitrary places: 1, an odd number near n/2, and n - 1 (4 ranges). Cuts outside (0, n)
// or repeated are dropped (a small n gives fewer ranges); each list starts at 0, ends at n.
std::vector<int> Cuts(int n, int tile)
{
    std::vector<int> c = {0};
    auto add = [&](int x) {
        if (x > c.back() && x < n)
            c.push_back(x);
    };
    if (tile > 0) {
        add((n / 3 + tile - 1) / tile * tile);
        add((2 * n / 3 + tile - 1) / tile * tile);
    } else {
        add(1);
        add(n / 2 + 1 - (n / 2) % 2);
        add(n - 1);
    }
    c.push_back(n);
    return c;
}

std::string CutsText(const std::vector<int> &c)
{
    std::string s;
    for (size_t i = 0; i < c.size(); i++)
        s += (i ? "," : "") + std::to_string(c[i]);
    return s;
}

// Rows [r0, r1) x columns [c0, c1) of a matrix, as a part of a call.
struct Block {
    int r0, r1, c0, c1;
};

std::vector<Block> Blocks(const std::vector<int> &rows, const std::vector<int> &cols)
{
    std::vector<Block> b;
    for (size_t i = 0; i + 1 < rows.size(); i++)
        for (size_t j = 0; j + 1 < cols.size(); j++)
            b.push_back({rows[i], rows[i + 1], cols[j], cols[j + 1]});
    return b;
}

// A part's call checked element by element: where `mine(i)`, the whole call's bits; else
// the initial bits. (whole nullptr: scratch, whose own part is not compared.)
template <typename Mine>
::testing::AssertionResult PartIsWholeCall(const char *what, const float *got,
                                           const std::vector<float> &init, const float *whole,
                                           Mine mine)
{
    for (size_t i = 0; i < init.size(); i++) {
        if (mine(i)) {
            if (whole && std::memcmp(&got[i], &whole[i], sizeof(float)) != 0)
                return ::testing::AssertionFailure() << what << "[" << i << "] = " << got[i]
                                                     << ", in one call " << whole[i];
        } else if (std::memcmp(&got[i], &init[i], sizeof(float)) != 0) {
            return ::testing::AssertionFailure() << what << "[" << i << "] = " << got[i]
                                                 << " was written outside the call's part (it "
                                                 << "held " << init[i] << ")";
        }
    }
    return ::testing::AssertionSuccess();
}

// Element i of a matrix `cols` wide is in block b.
std::function<bool(size_t)> InBlock(const Block &b, int cols)
{
    return [b, cols](size_t i) {
        int r = (int)(i / (size_t)cols), c = (int)(i % (size_t)cols);
        return r >= b.r0 && r < b.r1 && c >= b.c0 && c < b.c1;
    };
}

std::string BlockText(const Block &b)
{
    return "rows " + std::to_string(b.r0) + ".." + std::to_string(b.r1 - 1) + ", columns " +
           std::to_string(b.c0) + ".." + std::to_string(b.c1 - 1);
}

// Shapes for the split rule: tails in every dimension, several tiles, and (9, 600, 40): long
// reductions.
const MatShape kPartShapes[] = {{37, 19, 53}, {100, 65, 257}, {9, 600, 40}, {64, 64, 64},
                                {3, 7, 5}, {130, 33, 17}};

// The row and column cuts of a block split: at the backend's tiles, arbitrary, and mixed.
std::vector<std::pair<std::vector<int>, std::vector<int>>> BlockCuts(int rows, int cols,
                                                                     int tile_rows,
                                                                     int tile_cols)
{
    return {{Cuts(rows, tile_rows), Cuts(cols, tile_cols)}, {Cuts(rows, 0), Cuts(cols, 0)},
            {Cuts(rows, tile_rows), Cuts(cols, 0)}};
}

TEST_P(BackendOps, MatmulForwardInBlocksIsOneCall)
{
    REQUIRE_KERNEL(matmul_forward);
    for (MatShape s : kPartShapes) {
        int N = s.N, C = s.C, OC = s.OC;
        std::vector<float> inp = Random(rng_, (size_t)N * C), w = Random(rng_, (size_t)OC * C);
        Guarded<float> ginp(inp), gw(w), whole((size_t)N * OC);
        k_->matmul_forward(ctx_, whole.data(), ginp.data(), gw.data(), N, C, OC, 0, N, 0, OC);
        std::vector<float> init = Random(rng_, (size_t)N * OC, 100.0f, 200.0f);
        for (const auto &cut : BlockCuts(N, OC, tile_rows_, tile_cols_)) {
            std::vector<Block> b = Blocks(cut.first, cut.second);
            for (size_t i = 0; i < b.size(); i++) {
                Guarded<float> out(init);
                k_->matmul_forward(ThreadCtx((int)i), out.data(), ginp.data(), gw.data(), N, C,
                                   OC, b[i].r0, b[i].r1, b[i].c0, b[i].c1);
                ASSERT_TRUE(PartIsWholeCall("out", out.data(), init, whole.data(),
                                            InBlock(b[i], OC)))
                    << "N=" << N << " C=" << C << " OC=" << OC << ", the block of "
                    << BlockText(b[i]) << " (rows cut at " << CutsText(cut.first)
                    << ", columns at " << CutsText(cut.second) << ")";
            }
        }
    }
}

TEST_P(BackendOps, MatmulBackwardDinpInBlocksIsOneCall)
{
    REQUIRE_KERNEL(matmul_backward_dinp);
    for (MatShape s : kPartShapes)
        for (unsigned write : kDinpModes) {
            int N = s.N, C = s.C, OC = s.OC;
            std::vector<float> w = Random(rng_, (size_t)OC * C);
            std::vector<float> dout = Random(rng_, (size_t)N * OC);
            std::vector<float> init = Start(Random(rng_, (size_t)N * C), write);
            Guarded<float> gw(w), gdout(dout), whole(init);
            k_->matmul_backward_dinp(ctx_, whole.data(), gdout.data(), gw.data(), N, C, OC, 0, N,
                                     0, C, write);
            for (const auto &cut : BlockCuts(N, C, tile_rows_, tile_cols_)) {
                std::vector<Block> b = Blocks(cut.first, cut.second);
                for (size_t i = 0; i < b.size(); i++) {
                    Guarded<float> dinp(init);
                    k_->matmul_backward_dinp(ThreadCtx((int)i), dinp.data(), gdout.data(),
                                             gw.data(), N, C, OC, b[i].r0, b[i].r1, b[i].c0,
                                             b[i].c1, write);
                    ASSERT_TRUE(PartIsWholeCall("dinp", dinp.data(), init, whole.data(),
                                                InBlock(b[i], C)))
                        << "N=" << N << " C=" << C << " OC=" << OC << ", " << Mode(write)
                        << ", the block of " << BlockText(b[i]) << " (rows cut at "
                        << CutsText(cut.first) << ", columns at " << CutsText(cut.second) << ")";
                }
            }
        }
}

TEST_P(BackendOps, MatmulBackwardDwInBlocksIsOneCall)
{
    REQUIRE_KERNEL(matmul_backward_dw);
    for (MatShape s : kPartShapes)
        for (unsigned write : {0u, (unsigned)MGPT_WRITE_DW}) {
            int N = s.N, C = s.C, OC = s.OC;
            std::vector<float> inp = Random(rng_, (size_t)N * C);
            std::vector<float> dout = Random(rng_, (size_t)N * OC);
            std::vector<float> init = Start(Random(rng_, (size_t)OC * C), write);
            Guarded<float> ginp(inp), gdout(dout), whole(init);
            k_->matmul_backward_dw(ctx_, whole.data(), gdout.data(), ginp.data(), N, C, OC, 0, OC,
                                   0, C, write);
            for (const auto &cut : BlockCuts(OC, C, tile_rows_, tile_cols_)) {
                std::vector<Block> b = Blocks(cut.first, cut.second);
                for (size_t i = 0; i < b.size(); i++) {
                    Guarded<float> dw(init);
                    k_->matmul_backward_dw(ThreadCtx((int)i), dw.data(), gdout.data(),
                                           ginp.data(), N, C, OC, b[i].r0, b[i].r1, b[i].c0,
                                           b[i].c1, write);
                    ASSERT_TRUE(PartIsWholeCall("dw", dw.data(), init, whole.data(),
                                                InBlock(b[i], C)))
                        << "N=" << N << " C=" << C << " OC=" << OC << ", " << Mode(write)
                        << ", the block of " << BlockText(b[i]) << " (rows cut at "
                        << CutsText(cut.first) << ", columns at " << CutsText(cut.second) << ")";
                }
            }
        }
}

// Attention splits over (document, head) pairs bh = b*H + h: pair bh owns rows b*T..b*T+T-1
// of its head's hd channels in out (and in each of q, k and v of dqkv), and att's (and
// datt's) T x T block [b, h]. The ranges: every pair alone, arbitrary cuts, and halves.
const AttShape kAttPartShapes[] = {{2, 7, 3, 5}, {3, 17, 2, 16}, {1, 33, 4, 8}, {2, 65, 2, 33},
                                   {2, 4, 2, 4}, {1, 1, 3, 7}};

std::vector<std::vector<int>> PairCuts(int BH)
{
    std::vector<std::vector<int>> cuts;
    std::vector<int> each;
    for (int i = 0; i <= BH; i++)
        each.push_back(i);
    cuts.push_back(each);
    cuts.push_back(Cuts(BH, 0));
    if (BH >= 2)
        cuts.push_back({0, BH / 2, BH});
    return cuts;
}

// The pair owning each element of out[N, C] (sections 1) or qkv[N, 3C] (sections 3), and of
// an att[B, H, T, T].
std::vector<int> RowOwners(int B, int T, int H, int hd, int sections)
{
    int C = H * hd, W = sections * C;
    std::vector<int> o((size_t)B * T * W);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int x = 0; x < W; x++)
                o[((size_t)b * T + t) * W + x] = b * H + (x % C) / hd;
    return o;
}

std::vector<int> AttOwners(int B, int T, int H)
{
    std::vector<int> o((size_t)B * H * T * T);
    for (size_t i = 0; i < o.size(); i++)
        o[i] = (int)(i / ((size_t)T * T));
    return o;
}

// Element i is owned by a pair of [p0, p1).
std::function<bool(size_t)> InPairs(const std::vector<int> &owner, int p0, int p1)
{
    return [&owner, p0, p1](size_t i) { return owner[i] >= p0 && owner[i] < p1; };
}

TEST_P(BackendOps, AttentionForwardInPairRangesIsOneCall)
{
    REQUIRE_KERNEL(attention_forward);
    for (AttShape s : kAttPartShapes) {
        int B = s.B, T = s.T, H = s.H, hd = s.hd, C = H * hd, BH = B * H;
        std::vector<float> qkv = Random(rng_, (size_t)B * T * 3 * C);
        Guarded<float> gqkv(qkv), wout((size_t)B * T * C), watt((size_t)BH * T * T);
        k_->attention_forward(ctx_, wout.data(), watt.data(), gqkv.data(), B, T, C, H, 0, BH);
        std::vector<int> out_owner = RowOwners(B, T, H, hd, 1), att_owner = AttOwners(B, T, H);
        std::vector<float> out0 = Random(rng_, wout.size(), 100.0f, 200.0f);
        std::vector<float> att0 = Random(rng_, watt.size(), 100.0f, 200.0f);
        for (const std::vector<int> &cut : PairCuts(BH))
            for (size_t i = 0; i + 1 < cut.size(); i++) {
                Guarded<float> out(out0), att(att0);
                k_->attention_forward(ThreadCtx((int)i), out.data(), att.data(), gqkv.data(), B,
                                      T, C, H, cut[i], cut[i + 1]);
                std::string where = "B=" + std::to_string(B) + " T=" + std::to_string(T) +
                                    " H=" + std::to_string(H) + " hd=" + std::to_string(hd) +
                                    ", pairs " + std::to_string(cut[i]) + ".." +
                                    std::to_string(cut[i + 1] - 1);
                ASSERT_TRUE(PartIsWholeCall("out", out.data(), out0, wout.data(),
                                            InPairs(out_owner, cut[i], cut[i + 1])))
                    << where;
                ASSERT_TRUE(PartIsWholeCall("att", att.data(), att0, watt.data(),
                                            InPairs(att_owner, cut[i], cut[i + 1])))
                    << where;
            }
    }
}

TEST_P(BackendOps, AttentionBackwardInPairRangesIsOneCall)
{
    REQUIRE_KERNEL(attention_backward);
    for (AttShape s : kAttPartShapes)
        for (unsigned write : kDinpModes) {
            int B = s.B, T = s.T, H = s.H, hd = s.hd, C = H * hd, BH = B * H;
            std::vector<float> qkv = Random(rng_, (size_t)B * T * 3 * C);
            std::vector<float> out((size_t)B * T * C), att((size_t)BH * T * T);
            ref_->attention_forward(&rctx_, out.data(), att.data(), qkv.data(), B, T, C, H, 0, BH);
            std::vector<float> dout = Random(rng_, out.size());
            std::vector<float> dqkv0 = Start(Random(rng_, qkv.size()), write);
            Guarded<float> gqkv(qkv), gatt(att), gdout(dout), whole(dqkv0), wdatt(att.size());
            k_->attention_backward(ctx_, whole.data(), wdatt.data(), gdout.data(), gqkv.data(),
                                   gatt.data(), B, T, C, H, 0, BH, write);
            std::vector<int> dqkv_owner = RowOwners(B, T, H, hd, 3);
            std::vector<int> datt_owner = AttOwners(B, T, H);
            std::vector<float> datt0 = Random(rng_, att.size(), 100.0f, 200.0f);
            for (const std::vector<int> &cut : PairCuts(BH))
                for (size_t i = 0; i + 1 < cut.size(); i++) {
                    Guarded<float> dqkv(dqkv0), datt(datt0);
                    k_->attention_backward(ThreadCtx((int)i), dqkv.data(), datt.data(),
                                           gdout.data(), gqkv.data(), gatt.data(), B, T, C, H,
                                           cut[i], cut[i + 1], write);
                    std::string where = "B=" + std::to_string(B) + " T=" + std::to_string(T) +
                                        " H=" + std::to_string(H) + " hd=" +
                                        std::to_string(hd) + ", " + Mode(write) + ", pairs " +
                                        std::to_string(cut[i]) + ".." +
                                        std::to_string(cut[i + 1] - 1);
                    ASSERT_TRUE(PartIsWholeCall("dqkv", dqkv.data(), dqkv0, whole.data(),
                                                InPairs(dqkv_owner, cut[i], cut[i + 1])))
                        << where;
                    // datt is scratch, but each pair's own: the other threads' pairs use theirs
                    ASSERT_TRUE(PartIsWholeCall("datt", datt.data(), datt0, nullptr,
                                                InPairs(datt_owner, cut[i], cut[i + 1])))
                        << where;
                }
        }
}

TEST_P(BackendOps, ProbePeakFlops)
{
    if (!probes_ || !probes_->peak_flops)
        GTEST_SKIP() << GetParam() << " has no peak_flops probe";
    // The flop count is exactly proportional to the iterations, and the chains stay finite.
    float sink1 = 0, sink2 = 0;
    double f1 = probes_->peak_flops(1000, &sink1);
    double f2 = probes_->peak_flops(3000, &sink2);
    EXPECT_GT(f1, 0.0);
    EXPECT_EQ(f2, 3 * f1);
    EXPECT_TRUE(std::isfinite(sink1) && std::isfinite(sink2));
}

TEST_P(BackendOps, ProbeStreamRead)
{
    if (!probes_ || !probes_->stream_read)
        GTEST_SKIP() << GetParam() << " has no stream_read probe";
    // passes*n terms summed in float, of total magnitude passes * sum|x|: |diff| <=
    // passes*(n+2) * eps * passes*sum|x| (64-byte aligned buffers, as the probe requires).
    std::vector<size_t> counts = ElementCounts();
    counts.push_back(65536 + 7);
    for (size_t n : counts) {
        std::vector<float> x = Random(rng_, n);
        double sum = 0, mag = 0;
        for (float f : x) {
            sum += f;
            mag += std::fabs(f);
        }
        const int passes = 3;
        Guarded<float> gx(x, 64);
        double got = probes_->stream_read(gx.data(), n, passes);
        EXPECT_LE(std::fabs(got - passes * sum), (double)passes * (n + 2) * kEps * passes * mag)
            << "n=" << n;
    }
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BackendOps, ::testing::ValuesIn(BackendNames()),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                             std::string s;
                             for (char c : info.param)
                                 s += std::isalnum((unsigned char)c) ? c : '_';
                             return s;
                         });

// The suite above is empty (and would pass) if the modules were not found at all.
TEST(BackendRegistry, FindsTheScalarReference)
{
    Registry &g = Registry::get();
    ASSERT_TRUE(g.error().empty()) << g.error();
    EXPECT_NE(mgpt_registry_find(&g.reg(), "scalar"), nullptr)
        << "no scalar backend in " << g.reg().searched;
}

}  // namespace

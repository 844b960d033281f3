// mgpt-roofline: the FLOP and byte counts it places kernels with (mgpt_kernel_cost, the
// formulas of the kernel list, one per slot) against brute-force counts on small shapes;
// each op node's count as the sum of the kernel calls it makes (matmul's backward: the
// matmul_backward_dinp and matmul_backward_dw slots); the kernel calls of a training step as
// the roofline finds them (roof_step_calls: every slot, each node's calls, the zeroing, the
// optimizer's sumsq chunks); the placement and the working-set plan; and, through the built
// program (MGPT_ROOFLINE_EXE), --help, --version, exit status 2 with a message for bad
// options, a JSON report with every field (a kernel per slot, the engine's counts, the ISA
// and kernel threads of each backend), and an SVG that a real XML parser (libxml2) reads,
// with one marker per kernel and backend.
//
// Brute force: each scalar reference kernel is transcribed here over a counting float type
// and counting arrays, checked to compute what the real kernel computes (so the count is of
// the real algorithm), and counted: every +, -, *, /, comparison, exp, log and sqrt is one
// flop (a multiply-add two); bytes are compulsory traffic: 4 bytes per distinct element
// whose first access is a read, plus 4 per distinct element written (so an accumulated
// buffer counts twice, and a value the kernel wrote and reads back costs nothing more).
// The backward kernels are counted in both modes of their gradients: accumulating (+=),
// and writing (=, the MGPT_WRITE_* bits the engine gives a gradient's first contributor),
// transcribed as the reference writes: matmul and attention zero the written gradient and
// add into the zeros (which they wrote: no read), rmsnorm, cross-entropy and sqrelu store
// their value (one flop an element fewer), accumulate copies. A written
// gradient starts as NaN, so a transcription or kernel that read it would not compare.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <jansson.h>
#include "config.h"
#ifdef HAVE_LIBXML
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#endif

#include "test_program.h"
#include "test_util.h"
extern "C" {
#include "model/graph.h"
#include "roofline.h"
}

namespace {

// --- counting ---------------------------------------------------------------------------

struct Tally {
    double flops = 0;
    std::set<const void *> read, written;
    double bytes() const { return 4.0 * (double)(read.size() + written.size()); }
    // the distinct elements touched, read or written: the working set
    double footprint() const
    {
        std::set<const void *> u = read;
        u.insert(written.begin(), written.end());
        return 4.0 * (double)u.size();
    }
};
Tally *tally = nullptr;

struct CF {
    float v;
};
CF operator+(CF a, CF b) { tally->flops++; return {a.v + b.v}; }
CF operator-(CF a, CF b) { tally->flops++; return {a.v - b.v}; }
CF operator*(CF a, CF b) { tally->flops++; return {a.v * b.v}; }
CF operator/(CF a, CF b) { tally->flops++; return {a.v / b.v}; }
bool gt(CF a, CF b) { tally->flops++; return a.v > b.v; }
CF cexp(CF a) { tally->flops++; return {expf(a.v)}; }
CF clog(CF a) { tally->flops++; return {logf(a.v)}; }
CF csqrt(CF a) { tally->flops++; return {sqrtf(a.v)}; }
CF k(float v) { return {v}; }  // a constant: no flop

// An array whose accesses are recorded.
template <class E>
struct Arr {
    E *p;
    CF get(size_t i) const
    {
        if (!tally->written.count(p + i))
            tally->read.insert(p + i);
        return {p[i]};
    }
    void set(size_t i, CF v) const
    {
        tally->written.insert(p + i);
        p[i] = v.v;
    }
};
struct IArr {
    const int *p;
    int get(size_t i) const
    {
        tally->read.insert(p + i);
        return p[i];
    }
};

// --- the scalar reference kernels, transcribed over counted types ------------------------

void c_zero(Arr<float> x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x.set(i, k(0));
}

void c_embed_forward(Arr<float> out, IArr tok, Arr<float> wte, Arr<float> wpe, int N, int T, int C)
{
    for (int n = 0; n < N; n++) {
        int t = tok.get(n);
        for (int c = 0; c < C; c++)
            out.set((size_t)n * C + c, wte.get((size_t)t * C + c) + wpe.get((size_t)(n % T) * C + c));
    }
}

void c_embed_backward(Arr<float> dwte, Arr<float> dwpe, Arr<float> dout, IArr tok, int N, int T, int C)
{
    for (int n = 0; n < N; n++) {
        int t = tok.get(n);
        for (int c = 0; c < C; c++) {
            CF d = dout.get((size_t)n * C + c);
            size_t a = (size_t)t * C + c, b = (size_t)(n % T) * C + c;
            dwte.set(a, dwte.get(a) + d);
            dwpe.set(b, dwpe.get(b) + d);
        }
    }
}

void c_rmsnorm_forward(Arr<float> out, Arr<float> rstd, Arr<float> inp, int N, int C)
{
    for (int n = 0; n < N; n++) {
        CF ss = k(0);
        for (int c = 0; c < C; c++) {
            CF x = inp.get((size_t)n * C + c);
            ss = ss + x * x;
        }
        CF r = k(1) / csqrt(ss / k((float)C) + k(1e-5f));
        for (int c = 0; c < C; c++)
            out.set((size_t)n * C + c, inp.get((size_t)n * C + c) * r);
        rstd.set(n, r);
    }
}

void c_rmsnorm_backward(Arr<float> dinp, Arr<float> dout, Arr<float> inp, Arr<float> rstd, int N,
                        int C, unsigned write)
{
    for (int n = 0; n < N; n++) {
        CF r = rstd.get(n), dot = k(0);
        for (int c = 0; c < C; c++)
            dot = dot + dout.get((size_t)n * C + c) * inp.get((size_t)n * C + c);
        CF kk = r * r * r * dot / k((float)C);
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)n * C + c;
            CF d = r * dout.get(i) - kk * inp.get(i);
            dinp.set(i, write & MGPT_WRITE_DINP ? d : dinp.get(i) + d);
        }
    }
}

void c_matmul_forward(Arr<float> out, Arr<float> inp, Arr<float> w, int N, int C, int OC)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            CF s = k(0);
            for (int c = 0; c < C; c++)
                s = s + inp.get((size_t)n * C + c) * w.get((size_t)o * C + c);
            out.set((size_t)n * OC + o, s);
        }
}

// Each gradient's slot: written, it is zeroed and the sums added into the zeros (which the
// kernel wrote: no read), as the reference does.
void c_matmul_backward_dinp(Arr<float> dinp, Arr<float> dout, Arr<float> w, int N, int C, int OC,
                            unsigned write)
{
    if (write & MGPT_WRITE_DINP)
        c_zero(dinp, (size_t)N * C);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            CF d = dout.get((size_t)n * OC + o);
            for (int c = 0; c < C; c++) {
                size_t i = (size_t)n * C + c;
                dinp.set(i, dinp.get(i) + d * w.get((size_t)o * C + c));
            }
        }
}

void c_matmul_backward_dw(Arr<float> dw, Arr<float> dout, Arr<float> inp, int N, int C, int OC,
                          unsigned write)
{
    if (write & MGPT_WRITE_DW)
        c_zero(dw, (size_t)OC * C);
    for (int o = 0; o < OC; o++)
        for (int n = 0; n < N; n++) {
            CF d = dout.get((size_t)n * OC + o);
            for (int c = 0; c < C; c++) {
                size_t i = (size_t)o * C + c;
                dw.set(i, dw.get(i) + d * inp.get((size_t)n * C + c));
            }
        }
}

void c_attention_forward(Arr<float> out, Arr<float> att, Arr<float> qkv, int B, int T, int C, int H)
{
    int hd = C / H;
    size_t C3 = 3 * (size_t)C;
    CF scale = k(1) / csqrt(k((float)hd));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                size_t q = (size_t)(b * T + t) * C3 + h * hd;
                size_t a = (((size_t)b * H + h) * T + t) * T;
                CF maxv = k(-INFINITY);
                for (int j = 0; j <= t; j++) {
                    size_t kk = (size_t)(b * T + j) * C3 + C + h * hd;
                    CF s = k(0);
                    for (int i = 0; i < hd; i++)
                        s = s + qkv.get(q + i) * qkv.get(kk + i);
                    s = s * scale;
                    att.set(a + j, s);
                    if (gt(s, maxv))
                        maxv = s;
                }
                CF sum = k(0);
                for (int j = 0; j <= t; j++) {
                    att.set(a + j, cexp(att.get(a + j) - maxv));
                    sum = sum + att.get(a + j);
                }
                CF inv = k(1) / sum;
                for (int j = 0; j <= t; j++)
                    att.set(a + j, att.get(a + j) * inv);
                for (int j = t + 1; j < T; j++)
                    att.set(a + j, k(0));
                size_t o = (size_t)(b * T + t) * C + h * hd;
                for (int i = 0; i < hd; i++)
                    out.set(o + i, k(0));
                for (int j = 0; j <= t; j++) {
                    size_t v = (size_t)(b * T + j) * C3 + 2 * C + h * hd;
                    for (int i = 0; i < hd; i++)
                        out.set(o + i, out.get(o + i) + att.get(a + j) * qkv.get(v + i));
                }
            }
}

void c_attention_backward(Arr<float> dqkv, Arr<float> datt, Arr<float> dout, Arr<float> qkv,
                          Arr<float> att, int B, int T, int C, int H, unsigned write)
{
    if (write & MGPT_WRITE_DINP)
        c_zero(dqkv, (size_t)B * T * 3 * C);
    int hd = C / H;
    size_t C3 = 3 * (size_t)C;
    CF scale = k(1) / csqrt(k((float)hd));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                size_t a = (((size_t)b * H + h) * T + t) * T;
                size_t dy = (size_t)(b * T + t) * C + h * hd;
                size_t q = (size_t)(b * T + t) * C3 + h * hd;
                CF dsum = k(0);
                for (int j = 0; j <= t; j++) {
                    size_t v = (size_t)(b * T + j) * C3 + 2 * C + h * hd;
                    CF s = k(0);
                    for (int i = 0; i < hd; i++) {
                        s = s + dout.get(dy + i) * qkv.get(v + i);
                        dqkv.set(v + i, dqkv.get(v + i) + att.get(a + j) * dout.get(dy + i));
                    }
                    datt.set(a + j, s);
                    dsum = dsum + att.get(a + j) * s;
                }
                for (int j = 0; j <= t; j++) {
                    size_t kk = (size_t)(b * T + j) * C3 + C + h * hd;
                    CF dpre = att.get(a + j) * (datt.get(a + j) - dsum) * scale;
                    for (int i = 0; i < hd; i++) {
                        dqkv.set(q + i, dqkv.get(q + i) + dpre * qkv.get(kk + i));
                        dqkv.set(kk + i, dqkv.get(kk + i) + dpre * qkv.get(q + i));
                    }
                }
            }
}

void c_sqrelu_forward(Arr<float> out, Arr<float> inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CF x = inp.get(i);
        CF r = gt(x, k(0)) ? x : k(0);
        out.set(i, r * r);
    }
}

void c_sqrelu_backward(Arr<float> dinp, Arr<float> dout, Arr<float> inp, size_t n, unsigned write)
{
    for (size_t i = 0; i < n; i++) {
        CF x = inp.get(i);
        CF g = gt(x, k(0)) ? k(2) * x * dout.get(i) : k(0);
        dinp.set(i, write & MGPT_WRITE_DINP ? g : dinp.get(i) + g);
    }
}

void c_add_forward(Arr<float> out, Arr<float> a, Arr<float> b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out.set(i, a.get(i) + b.get(i));
}

void c_accumulate(Arr<float> dst, Arr<float> src, size_t n, unsigned write)
{
    for (size_t i = 0; i < n; i++)
        dst.set(i, write & MGPT_WRITE_DINP ? src.get(i) : dst.get(i) + src.get(i));
}

void c_crossentropy_forward(Arr<float> loss, Arr<float> probs, Arr<float> logits, IArr targets,
                            int N, int V)
{
    for (int n = 0; n < N; n++) {
        size_t z = (size_t)n * V;
        CF maxv = logits.get(z);
        for (int i = 1; i < V; i++)
            if (gt(logits.get(z + i), maxv))
                maxv = logits.get(z + i);
        CF sum = k(0);
        for (int i = 0; i < V; i++) {
            probs.set(z + i, cexp(logits.get(z + i) - maxv));
            sum = sum + probs.get(z + i);
        }
        CF inv = k(1) / sum;
        for (int i = 0; i < V; i++)
            probs.set(z + i, probs.get(z + i) * inv);
        int t = targets.get(n);
        loss.set(n, t < 0 ? k(0) : clog(sum) - (logits.get(z + t) - maxv));
    }
}

void c_crossentropy_backward(Arr<float> dlogits, Arr<float> probs, IArr targets, float dloss, int N,
                             int V, unsigned write)
{
    bool wr = write & MGPT_WRITE_DINP;
    for (int n = 0; n < N; n++) {
        int t = targets.get(n);
        if (t < 0) {   // masked: no gradient, but a written row is zeros
            for (int i = 0; wr && i < V; i++)
                dlogits.set((size_t)n * V + i, k(0));
            continue;
        }
        for (int i = 0; i < V; i++) {
            size_t j = (size_t)n * V + i;
            CF d = k(dloss) * (probs.get(j) - k(i == t ? 1.0f : 0.0f));
            dlogits.set(j, wr ? d : dlogits.get(j) + d);
        }
    }
}

double c_sumsq(Arr<float> x, size_t n)
{
    CF s = k(0);  // the reference sums in double; the count is the same
    for (size_t i = 0; i < n; i++) {
        CF v = x.get(i);
        s = s + v * v;
    }
    return s.v;
}

void c_adam_update(Arr<float> param, Arr<float> grad, Arr<float> m, Arr<float> v, size_t n,
                   const mgpt_adam_args *a)
{
    // 1 - beta1 and 1 - beta2 are loop constants: not counted
    CF b1 = k(a->beta1), b2 = k(a->beta2), c1 = k(1.0f - a->beta1), c2 = k(1.0f - a->beta2);
    for (size_t i = 0; i < n; i++) {
        CF g = grad.get(i) * k(a->grad_scale);
        m.set(i, b1 * m.get(i) + c1 * g);
        v.set(i, b2 * v.get(i) + c2 * g * g);
        CF mhat = m.get(i) / k(a->bc1);
        CF vhat = v.get(i) / k(a->bc2);
        param.set(i, param.get(i) - k(a->lr) * mhat / (csqrt(vhat) + k(a->eps)));
    }
}

// --- the shapes and buffers --------------------------------------------------------------

std::vector<float> randv(size_t n, uint64_t seed, float lo = -1, float hi = 1)
{
    std::mt19937_64 g(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto &x : v)
        x = d(g);
    return v;
}

void expect_close(const std::vector<float> &a, const std::vector<float> &b, const char *what)
{
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); i++)
        ASSERT_NEAR(a[i], b[i], 1e-4f * (1 + fabsf(b[i]))) << what << " [" << i << "]";
}

struct Count {
    double flops, bytes;
};

Count operator+(Count a, Count b)
{
    return {a.flops + b.flops, a.bytes + b.bytes};
}

// The sizes of one kernel call, as mgpt_call_sizes names them (unused ones 0); w: the call
// writes its gradient.
mgpt_call_sizes sizes(double B, double T, double N, double C, double OC, double H, double V,
                      double n, int w)
{
    mgpt_call_sizes s;
    s.B = B;
    s.T = T;
    s.N = N;
    s.C = C;
    s.OC = OC;
    s.H = H;
    s.V = V;
    s.n = n;
    s.w = w;
    return s;
}

// The engine's count of one kernel call: mgpt_kernel_cost, the formulas of the kernel list.
Count kernel_cost(int slot, const mgpt_call_sizes &s)
{
    mgpt_cost c = mgpt_kernel_cost(slot, &s);
    return {c.flops, c.bytes};
}

// The kernel calls an op node makes (core/model/graph.c, restated: the calls a graph node's
// forward and backward make, with their sizes and write bits), one per slot call.
std::vector<std::pair<int, mgpt_call_sizes>> node_calls(const mgpt_node &nd, int backward)
{
    int w0 = backward && (nd.write & 1u), w1 = backward && (nd.write & 2u);
    double n = nd.out ? (double)nd.out->numel : 0;
    switch (nd.op) {
    case MGPT_OP_EMBED:
        return {{backward ? MGPT_K_EMBED_BACKWARD : MGPT_K_EMBED_FORWARD,
                 sizes(0, nd.T, nd.N, nd.C, 0, 0, 0, 0, 0)}};
    case MGPT_OP_RMSNORM:
        return {{backward ? MGPT_K_RMSNORM_BACKWARD : MGPT_K_RMSNORM_FORWARD,
                 sizes(0, 0, nd.N, nd.C, 0, 0, 0, 0, w0)}};
    case MGPT_OP_MATMUL:
        if (!backward)
            return {{MGPT_K_MATMUL_FORWARD, sizes(0, 0, nd.N, nd.C, nd.OC, 0, 0, 0, 0)}};
        return {{MGPT_K_MATMUL_BACKWARD_DINP, sizes(0, 0, nd.N, nd.C, nd.OC, 0, 0, 0, w0)},
                {MGPT_K_MATMUL_BACKWARD_DW, sizes(0, 0, nd.N, nd.C, nd.OC, 0, 0, 0, w1)}};
    case MGPT_OP_ATTENTION:
        return {{backward ? MGPT_K_ATTENTION_BACKWARD : MGPT_K_ATTENTION_FORWARD,
                 sizes(nd.B, nd.T, (double)nd.B * nd.T, nd.C, 0, nd.H, 0, 0, w0)}};
    case MGPT_OP_SQRELU:
        return {{backward ? MGPT_K_SQRELU_BACKWARD : MGPT_K_SQRELU_FORWARD,
                 sizes(0, 0, 0, 0, 0, 0, 0, n, w0)}};
    case MGPT_OP_ADD:
        if (!backward)
            return {{MGPT_K_ADD_FORWARD, sizes(0, 0, 0, 0, 0, 0, 0, n, 0)}};
        return {{MGPT_K_ACCUMULATE, sizes(0, 0, 0, 0, 0, 0, 0, n, w0)},
                {MGPT_K_ACCUMULATE, sizes(0, 0, 0, 0, 0, 0, 0, n, w1)}};
    case MGPT_OP_XENT:
        return {{backward ? MGPT_K_CROSSENTROPY_BACKWARD : MGPT_K_CROSSENTROPY_FORWARD,
                 sizes(0, 0, nd.N, 0, 0, 0, nd.V, 0, w0)}};
    default:
        return {};
    }
}

// A node of the given op with the given shape, for mgpt_node_cost (which records the calls
// the node makes: its tensors must exist, their data is never touched).
struct Node {
    mgpt_node nd{};
    mgpt_tensor out{}, in0{}, in1{}, aux{}, scratch{};
    Node(mgpt_op_kind op, int B, int T, int C, int OC, int H, int V, size_t numel)
    {
        nd.in[0] = &in0;
        nd.in[1] = &in1;
        nd.aux = &aux;
        nd.scratch = &scratch;
        nd.op = op;
        nd.B = B;
        nd.T = T;
        nd.N = B * T;
        nd.C = C;
        nd.OC = OC;
        nd.H = H;
        nd.V = V;
        out.numel = numel;
        nd.out = &out;
    }
    // `write`: the node's write bits (bit j: its backward stores in[j]'s gradient, the
    // engine's plan for a gradient's first contributor); 0: it accumulates into both.
    Count cost(int backward, unsigned write = 0) const
    {
        mgpt_node n = nd;
        n.write = write;
        mgpt_cost c = mgpt_node_cost(&n, backward);
        return {c.flops, c.bytes};
    }
    // The sum of the kernel calls the node makes, each counted by mgpt_kernel_cost.
    Count calls(int backward, unsigned write = 0) const
    {
        mgpt_node n = nd;
        n.write = write;
        Count c = {0, 0};
        for (const auto &call : node_calls(n, backward))
            c = c + kernel_cost(call.first, call.second);
        return c;
    }
    // A node's count is the sum of its calls', in every mode of its write bits.
    void expect_sum_of_calls(const char *what) const
    {
        for (int backward = 0; backward < 2; backward++)
            for (unsigned write = 0; write < (backward ? 4u : 1u); write++) {
                Count n = cost(backward, write), k = calls(backward, write);
                EXPECT_DOUBLE_EQ(n.flops, k.flops) << what << (backward ? " backward" : "")
                                                   << ", write bits " << write;
                EXPECT_DOUBLE_EQ(n.bytes, k.bytes) << what << (backward ? " backward" : "")
                                                   << ", write bits " << write;
            }
    }
};

// Agreement of the engine's count with the brute-force one: FLOPs within `rel_flops`
// (exactly 0 if the brute force counts none: a copy), bytes within `rel_bytes`.
void expect_agree(const std::string &what, Count formula, Count brute, double rel_flops,
                  double rel_bytes)
{
    if (brute.flops == 0)
        EXPECT_EQ(formula.flops, 0.0) << what << " flops: formula " << formula.flops
                                      << ", brute force 0";
    else
        EXPECT_NEAR(formula.flops / brute.flops, 1.0, rel_flops)
            << what << " flops: formula " << formula.flops << ", brute force " << brute.flops;
    EXPECT_NEAR(formula.bytes / brute.bytes, 1.0, rel_bytes)
        << what << " bytes: formula " << formula.bytes << ", brute force " << brute.bytes;
}

void expect_agree(const std::string &what, Count formula, Count brute, double rel)
{
    expect_agree(what, formula, brute, rel, rel);
}

Count tallied(const Tally &t)
{
    return {t.flops, t.bytes()};
}

// The footprint the roofline places a call by (roof_footprint: each array once) against
// the distinct elements the transcription touched, within `rel` (per-row terms).
void expect_footprint(const std::string &what, int slot, mgpt_call_sizes s, const Tally &t,
                      double rel)
{
    double f = roof_footprint(slot, &s);
    EXPECT_NEAR(f / t.footprint(), 1.0, rel)
        << what << " footprint: formula " << f << ", brute force " << t.footprint();
}

// A gradient that a kernel writes: NaN, which it must not read.
std::vector<float> nans(size_t n)
{
    return std::vector<float>(n, NAN);
}

// Shapes: per-row terms (rstd, loss, tokens, the softmax's divide) stay under 3% at C = 64,
// V = 27. One document (B = 1) with distinct tokens: the embedding gathers touch N
// distinct rows, as the formula assumes.
const int B1 = 1, T1 = 16, C1 = 64, H1 = 4, V1 = 27, OC1 = 96;
const double EXACT = 0.03;   // formulas stated exactly in the kernel list (per-row terms aside)
const double APPROX = 0.10;  // the attention and softmax formulas (per-row terms)

// The scalar reference kernels (linked into the engine) and their context: what the
// transcriptions are checked against.
const mgpt_kernels *K = &mgpt_reference_kernels;
const mgpt_ctx kRefCtx = {nullptr, 0};
const mgpt_ctx *X = &kRefCtx;

TEST(RooflineCounts, Embed)
{
    int N = B1 * T1, T = T1, C = C1, V = 40;
    std::vector<int> tok(N);
    for (int n = 0; n < N; n++)
        tok[n] = (n * 7 + 3) % V;  // distinct: 7 and 40 are coprime, N < V
    auto wte = randv((size_t)V * C, 1), wpe = randv((size_t)T * C, 2);
    std::vector<float> out((size_t)N * C), ref((size_t)N * C);
    Tally t;
    tally = &t;
    c_embed_forward({out.data()}, {tok.data()}, {wte.data()}, {wpe.data()}, N, T, C);
    K->embed_forward(X, ref.data(), tok.data(), wte.data(), wpe.data(), N, T, C);
    expect_close(out, ref, "embed_forward");
    mgpt_call_sizes s = sizes(0, T, N, C, 0, 0, 0, 0, 0);
    expect_agree("embed_forward", kernel_cost(MGPT_K_EMBED_FORWARD, s), tallied(t), EXACT);
    expect_footprint("embed_forward", MGPT_K_EMBED_FORWARD, s, t, EXACT);

    auto dout = randv((size_t)N * C, 3);
    std::vector<float> dwte((size_t)V * C, 0), dwpe((size_t)T * C, 0), rwte = dwte, rwpe = dwpe;
    Tally tb;
    tally = &tb;
    c_embed_backward({dwte.data()}, {dwpe.data()}, {dout.data()}, {tok.data()}, N, T, C);
    K->embed_backward(X, rwte.data(), rwpe.data(), dout.data(), tok.data(), N, T, C);
    expect_close(dwte, rwte, "embed_backward dwte");
    expect_close(dwpe, rwpe, "embed_backward dwpe");
    expect_agree("embed_backward", kernel_cost(MGPT_K_EMBED_BACKWARD, s), tallied(tb), EXACT);
    expect_footprint("embed_backward", MGPT_K_EMBED_BACKWARD, s, tb, EXACT);

    Node node(MGPT_OP_EMBED, B1, T, C, 0, H1, V, (size_t)N * C);
    node.expect_sum_of_calls("embed");
    expect_agree("embed node", node.cost(0) + node.cost(1), tallied(t) + tallied(tb), EXACT);
}

TEST(RooflineCounts, RmsNorm)
{
    int N = B1 * T1, C = C1;
    auto inp = randv((size_t)N * C, 4);
    std::vector<float> out((size_t)N * C), ref(out), rstd(N), rrstd(N);
    Tally t;
    tally = &t;
    c_rmsnorm_forward({out.data()}, {rstd.data()}, {inp.data()}, N, C);
    K->rmsnorm_forward(X, ref.data(), rrstd.data(), inp.data(), N, C);
    expect_close(out, ref, "rmsnorm_forward");
    expect_agree("rmsnorm_forward",
                 kernel_cost(MGPT_K_RMSNORM_FORWARD, sizes(0, 0, N, C, 0, 0, 0, 0, 0)),
                 tallied(t), EXACT);
    expect_footprint("rmsnorm_forward", MGPT_K_RMSNORM_FORWARD,
                     sizes(0, 0, N, C, 0, 0, 0, 0, 0), t, EXACT);

    auto dout = randv((size_t)N * C, 5);
    std::vector<float> dinp = randv((size_t)N * C, 6), rdinp = dinp;
    Tally tb;
    tally = &tb;
    c_rmsnorm_backward({dinp.data()}, {dout.data()}, {inp.data()}, {rstd.data()}, N, C, 0);
    K->rmsnorm_backward(X, rdinp.data(), dout.data(), inp.data(), rstd.data(), N, C, 0);
    expect_close(dinp, rdinp, "rmsnorm_backward");
    expect_agree("rmsnorm_backward",
                 kernel_cost(MGPT_K_RMSNORM_BACKWARD, sizes(0, 0, N, C, 0, 0, 0, 0, 0)),
                 tallied(tb), EXACT);
    expect_footprint("rmsnorm_backward", MGPT_K_RMSNORM_BACKWARD,
                     sizes(0, 0, N, C, 0, 0, 0, 0, 0), tb, EXACT);

    // writing dinp: its value stored, not added (one FLOP an element less), 4 bytes an
    // element less
    std::vector<float> wdinp = nans((size_t)N * C), rwdinp = wdinp;
    Tally tw;
    tally = &tw;
    c_rmsnorm_backward({wdinp.data()}, {dout.data()}, {inp.data()}, {rstd.data()}, N, C,
                       MGPT_WRITE_DINP);
    K->rmsnorm_backward(X, rwdinp.data(), dout.data(), inp.data(), rstd.data(), N, C,
                        MGPT_WRITE_DINP);
    expect_close(wdinp, rwdinp, "rmsnorm_backward writing");
    expect_agree("rmsnorm_backward writing",
                 kernel_cost(MGPT_K_RMSNORM_BACKWARD, sizes(0, 0, N, C, 0, 0, 0, 0, 1)),
                 tallied(tw), EXACT);
    expect_footprint("rmsnorm_backward writing", MGPT_K_RMSNORM_BACKWARD,
                     sizes(0, 0, N, C, 0, 0, 0, 0, 1), tw, EXACT);

    Node node(MGPT_OP_RMSNORM, B1, T1, C, 0, H1, V1, (size_t)N * C);
    node.expect_sum_of_calls("rmsnorm");
    expect_agree("rmsnorm node writing", node.cost(1, 1u), tallied(tw), EXACT);
}

TEST(RooflineCounts, Matmul)
{
    int N = B1 * T1, C = C1, OC = OC1;
    auto inp = randv((size_t)N * C, 7), w = randv((size_t)OC * C, 8);
    std::vector<float> out((size_t)N * OC), ref(out);
    Tally t;
    tally = &t;
    c_matmul_forward({out.data()}, {inp.data()}, {w.data()}, N, C, OC);
    K->matmul_forward(X, ref.data(), inp.data(), w.data(), N, C, OC, 0, N, 0, OC);
    expect_close(out, ref, "matmul_forward");
    Count f = kernel_cost(MGPT_K_MATMUL_FORWARD, sizes(0, 0, N, C, OC, 0, 0, 0, 0));
    EXPECT_DOUBLE_EQ(f.flops, t.flops);
    expect_agree("matmul_forward", f, tallied(t), 1e-9);
    expect_footprint("matmul_forward", MGPT_K_MATMUL_FORWARD, sizes(0, 0, N, C, OC, 0, 0, 0, 0),
                     t, 1e-9);

    // each gradient's slot, accumulating and writing (the sums started at 0: the same
    // FLOPs, 4 bytes an element of the written gradient less)
    auto dout = randv((size_t)N * OC, 9);
    Count brute[2][2];   // [dinp, dw][w]
    for (int wr = 0; wr < 2; wr++) {
        std::vector<float> dinp = wr ? nans((size_t)N * C) : randv((size_t)N * C, 10);
        std::vector<float> rdinp = dinp;
        Tally ti;
        tally = &ti;
        unsigned wi = wr ? (unsigned)MGPT_WRITE_DINP : 0u, ww = wr ? (unsigned)MGPT_WRITE_DW : 0u;
        c_matmul_backward_dinp({dinp.data()}, {dout.data()}, {w.data()}, N, C, OC, wi);
        K->matmul_backward_dinp(X, rdinp.data(), dout.data(), w.data(), N, C, OC, 0, N, 0, C, wi);
        std::string what = std::string("matmul_backward_dinp") + (wr ? " writing" : "");
        expect_close(dinp, rdinp, what.c_str());
        Count fi = kernel_cost(MGPT_K_MATMUL_BACKWARD_DINP, sizes(0, 0, N, C, OC, 0, 0, 0, wr));
        EXPECT_DOUBLE_EQ(fi.flops, ti.flops) << what;
        expect_agree(what, fi, tallied(ti), 1e-9);
        expect_footprint(what, MGPT_K_MATMUL_BACKWARD_DINP, sizes(0, 0, N, C, OC, 0, 0, 0, wr), ti,
                         1e-9);
        brute[0][wr] = tallied(ti);

        std::vector<float> dw = wr ? nans((size_t)OC * C) : randv((size_t)OC * C, 11);
        std::vector<float> rdw = dw;
        Tally tw;
        tally = &tw;
        c_matmul_backward_dw({dw.data()}, {dout.data()}, {inp.data()}, N, C, OC, ww);
        K->matmul_backward_dw(X, rdw.data(), dout.data(), inp.data(), N, C, OC, 0, OC, 0, C, ww);
        what = std::string("matmul_backward_dw") + (wr ? " writing" : "");
        expect_close(dw, rdw, what.c_str());
        Count fw = kernel_cost(MGPT_K_MATMUL_BACKWARD_DW, sizes(0, 0, N, C, OC, 0, 0, 0, wr));
        EXPECT_DOUBLE_EQ(fw.flops, tw.flops) << what;
        expect_agree(what, fw, tallied(tw), 1e-9);
        expect_footprint(what, MGPT_K_MATMUL_BACKWARD_DW, sizes(0, 0, N, C, OC, 0, 0, 0, wr), tw,
                         1e-9);
        brute[1][wr] = tallied(tw);
    }
    // the node: its forward, and its backward in the four modes of its write bits (bit 0:
    // dinp, bit 1: dw), the sum of the two slots' calls
    Node node(MGPT_OP_MATMUL, B1, T1, C, OC, H1, V1, (size_t)N * OC);
    node.expect_sum_of_calls("matmul");
    for (unsigned bits = 0; bits < 4; bits++)
        expect_agree("matmul node backward, write bits " + std::to_string(bits),
                     node.cost(1, bits), brute[0][bits & 1u] + brute[1][(bits >> 1) & 1u],
                     1e-9);
}

TEST(RooflineCounts, Attention)
{
    int B = 2, T = 8, C = C1, H = H1, N = B * T;
    auto qkv = randv((size_t)N * 3 * C, 12);
    std::vector<float> out((size_t)N * C), ref(out), att((size_t)B * H * T * T), ratt(att);
    Tally t;
    tally = &t;
    c_attention_forward({out.data()}, {att.data()}, {qkv.data()}, B, T, C, H);
    K->attention_forward(X, ref.data(), ratt.data(), qkv.data(), B, T, C, H, 0, B * H);
    expect_close(out, ref, "attention_forward out");
    expect_close(att, ratt, "attention_forward att");
    expect_agree("attention_forward",
                 kernel_cost(MGPT_K_ATTENTION_FORWARD, sizes(B, T, N, C, 0, H, 0, 0, 0)),
                 tallied(t), APPROX);
    expect_footprint("attention_forward", MGPT_K_ATTENTION_FORWARD,
                     sizes(B, T, N, C, 0, H, 0, 0, 0), t, APPROX);

    auto dout = randv((size_t)N * C, 13);
    std::vector<float> dqkv = randv((size_t)N * 3 * C, 14), rdqkv = dqkv;
    std::vector<float> datt((size_t)B * H * T * T), rdatt(datt);
    Tally tb;
    tally = &tb;
    c_attention_backward({dqkv.data()}, {datt.data()}, {dout.data()}, {qkv.data()}, {att.data()},
                         B, T, C, H, 0);
    K->attention_backward(X, rdqkv.data(), rdatt.data(), dout.data(), qkv.data(), att.data(), B,
                          T, C, H, 0, B * H, 0);
    expect_close(dqkv, rdqkv, "attention_backward");
    expect_agree("attention_backward",
                 kernel_cost(MGPT_K_ATTENTION_BACKWARD, sizes(B, T, N, C, 0, H, 0, 0, 0)),
                 tallied(tb), APPROX);
    expect_footprint("attention_backward", MGPT_K_ATTENTION_BACKWARD,
                     sizes(B, T, N, C, 0, H, 0, 0, 0), tb, APPROX);

    // writing dqkv: the same FLOPs (sums started at 0), 4 bytes an element of dqkv less
    std::vector<float> wdqkv = nans(dqkv.size()), rwdqkv = wdqkv;
    Tally tw;
    tally = &tw;
    c_attention_backward({wdqkv.data()}, {datt.data()}, {dout.data()}, {qkv.data()}, {att.data()},
                         B, T, C, H, MGPT_WRITE_DINP);
    K->attention_backward(X, rwdqkv.data(), rdatt.data(), dout.data(), qkv.data(), att.data(), B,
                          T, C, H, 0, B * H, MGPT_WRITE_DINP);
    expect_close(wdqkv, rwdqkv, "attention_backward writing");
    expect_agree("attention_backward writing",
                 kernel_cost(MGPT_K_ATTENTION_BACKWARD, sizes(B, T, N, C, 0, H, 0, 0, 1)),
                 tallied(tw), APPROX);
    expect_footprint("attention_backward writing", MGPT_K_ATTENTION_BACKWARD,
                     sizes(B, T, N, C, 0, H, 0, 0, 1), tw, APPROX);

    Node node(MGPT_OP_ATTENTION, B, T, C, 0, H, V1, (size_t)N * C);
    node.expect_sum_of_calls("attention");
}

TEST(RooflineCounts, SqreluAddAccumulate)
{
    size_t n = (size_t)B1 * T1 * 4 * C1;
    // all inputs positive: every element does the counted work (the formula's case)
    auto inp = randv(n, 15, 0.1f, 1.0f);
    std::vector<float> out(n), ref(n);
    Tally t;
    tally = &t;
    c_sqrelu_forward({out.data()}, {inp.data()}, n);
    K->sqrelu_forward(X, ref.data(), inp.data(), n);
    expect_close(out, ref, "sqrelu_forward");
    expect_agree("sqrelu_forward",
                 kernel_cost(MGPT_K_SQRELU_FORWARD, sizes(0, 0, 0, 0, 0, 0, 0, n, 0)),
                 tallied(t), 1e-9);
    expect_footprint("sqrelu_forward", MGPT_K_SQRELU_FORWARD,
                     sizes(0, 0, 0, 0, 0, 0, 0, n, 0), t, 1e-9);

    auto dout = randv(n, 16);
    std::vector<float> dinp = randv(n, 17), rdinp = dinp;
    Tally tb;
    tally = &tb;
    c_sqrelu_backward({dinp.data()}, {dout.data()}, {inp.data()}, n, 0);
    K->sqrelu_backward(X, rdinp.data(), dout.data(), inp.data(), n, 0);
    expect_close(dinp, rdinp, "sqrelu_backward");
    expect_agree("sqrelu_backward",
                 kernel_cost(MGPT_K_SQRELU_BACKWARD, sizes(0, 0, 0, 0, 0, 0, 0, n, 0)),
                 tallied(tb), 1e-9);
    expect_footprint("sqrelu_backward", MGPT_K_SQRELU_BACKWARD,
                     sizes(0, 0, 0, 0, 0, 0, 0, n, 0), tb, 1e-9);

    // writing dinp: its value stored, not added (one FLOP an element less), 4 bytes an
    // element less
    std::vector<float> wdinp = nans(n), rwdinp = wdinp;
    Tally tw;
    tally = &tw;
    c_sqrelu_backward({wdinp.data()}, {dout.data()}, {inp.data()}, n, MGPT_WRITE_DINP);
    K->sqrelu_backward(X, rwdinp.data(), dout.data(), inp.data(), n, MGPT_WRITE_DINP);
    expect_close(wdinp, rwdinp, "sqrelu_backward writing");
    expect_agree("sqrelu_backward writing",
                 kernel_cost(MGPT_K_SQRELU_BACKWARD, sizes(0, 0, 0, 0, 0, 0, 0, n, 1)),
                 tallied(tw), 1e-9);
    expect_footprint("sqrelu_backward writing", MGPT_K_SQRELU_BACKWARD,
                     sizes(0, 0, 0, 0, 0, 0, 0, n, 1), tw, 1e-9);
    Node sq(MGPT_OP_SQRELU, B1, T1, C1, 0, H1, V1, n);
    sq.expect_sum_of_calls("sqrelu");

    size_t m = (size_t)B1 * T1 * C1;
    auto a = randv(m, 18), b = randv(m, 19);
    std::vector<float> o(m), ro(m);
    Tally ta;
    tally = &ta;
    c_add_forward({o.data()}, {a.data()}, {b.data()}, m);
    K->add_forward(X, ro.data(), a.data(), b.data(), m);
    expect_close(o, ro, "add_forward");
    expect_agree("add_forward", kernel_cost(MGPT_K_ADD_FORWARD, sizes(0, 0, 0, 0, 0, 0, 0, m, 0)),
                 tallied(ta), 1e-9);
    expect_footprint("add_forward", MGPT_K_ADD_FORWARD, sizes(0, 0, 0, 0, 0, 0, 0, m, 0), ta, 1e-9);

    // the add node's backward is two accumulate calls, counted call by call, each operand's
    // gradient accumulated or written (node bit 0: a's, bit 1: b's; a copy when writing)
    Node add(MGPT_OP_ADD, B1, T1, C1, 0, H1, V1, m);
    add.expect_sum_of_calls("add");
    auto dsum = randv(m, 22);
    for (unsigned write = 0; write < 4; write++) {
        unsigned wa = write & 1u ? (unsigned)MGPT_WRITE_DINP : 0u;
        unsigned wb = write & 2u ? (unsigned)MGPT_WRITE_DINP : 0u;
        std::vector<float> da = wa ? nans(m) : randv(m, 20), db = wb ? nans(m) : randv(m, 21);
        std::vector<float> rda = da, rdb = db;
        Tally t1, t2;
        tally = &t1;
        c_accumulate({da.data()}, {dsum.data()}, m, wa);
        tally = &t2;
        c_accumulate({db.data()}, {dsum.data()}, m, wb);
        K->accumulate(X, rda.data(), dsum.data(), m, wa);
        K->accumulate(X, rdb.data(), dsum.data(), m, wb);
        std::string what = "accumulate x2, node write bits " + std::to_string(write);
        expect_close(da, rda, (what + ": a").c_str());
        expect_close(db, rdb, (what + ": b").c_str());
        expect_agree("accumulate, " + std::string(wa ? "writing" : "accumulating"),
                     kernel_cost(MGPT_K_ACCUMULATE, sizes(0, 0, 0, 0, 0, 0, 0, m, wa != 0)),
                     tallied(t1), 1e-9);
        expect_footprint("accumulate, " + std::string(wa ? "writing" : "accumulating"),
                         MGPT_K_ACCUMULATE, sizes(0, 0, 0, 0, 0, 0, 0, m, wa != 0), t1, 1e-9);
        expect_agree(what, add.cost(1, write), tallied(t1) + tallied(t2), 1e-9);
    }
}

TEST(RooflineCounts, CrossEntropy)
{
    int N = B1 * T1, V = V1;
    auto logits = randv((size_t)N * V, 23, -3, 3);
    std::vector<int> targets(N);
    for (int n = 0; n < N; n++)
        targets[n] = (n * 5) % V;
    std::vector<float> probs((size_t)N * V), rprobs(probs), loss(N), rloss(N);
    Tally t;
    tally = &t;
    c_crossentropy_forward({loss.data()}, {probs.data()}, {logits.data()}, {targets.data()}, N, V);
    K->crossentropy_forward(X, rloss.data(), rprobs.data(), logits.data(), targets.data(), N, V);
    expect_close(probs, rprobs, "crossentropy_forward probs");
    expect_close(loss, rloss, "crossentropy_forward loss");
    expect_agree("crossentropy_forward",
                 kernel_cost(MGPT_K_CROSSENTROPY_FORWARD, sizes(0, 0, N, 0, 0, 0, V, 0, 0)),
                 tallied(t), APPROX);
    expect_footprint("crossentropy_forward", MGPT_K_CROSSENTROPY_FORWARD,
                     sizes(0, 0, N, 0, 0, 0, V, 0, 0), t, APPROX);

    std::vector<float> dl = randv((size_t)N * V, 24), rdl = dl;
    Tally tb;
    tally = &tb;
    c_crossentropy_backward({dl.data()}, {probs.data()}, {targets.data()}, 1.0f / N, N, V, 0);
    K->crossentropy_backward(X, rdl.data(), probs.data(), targets.data(), 1.0f / N, N, V, 0);
    expect_close(dl, rdl, "crossentropy_backward");
    expect_agree("crossentropy_backward",
                 kernel_cost(MGPT_K_CROSSENTROPY_BACKWARD, sizes(0, 0, N, 0, 0, 0, V, 0, 0)),
                 tallied(tb), EXACT);
    expect_footprint("crossentropy_backward", MGPT_K_CROSSENTROPY_BACKWARD,
                     sizes(0, 0, N, 0, 0, 0, V, 0, 0), tb, EXACT);

    // writing dlogits: its value stored (one FLOP an element less), 4 bytes an element less
    // (no row masked: the formula's case)
    std::vector<float> wdl = nans((size_t)N * V), rwdl = wdl;
    Tally tw;
    tally = &tw;
    c_crossentropy_backward({wdl.data()}, {probs.data()}, {targets.data()}, 1.0f / N, N, V,
                            MGPT_WRITE_DINP);
    K->crossentropy_backward(X, rwdl.data(), probs.data(), targets.data(), 1.0f / N, N, V,
                             MGPT_WRITE_DINP);
    expect_close(wdl, rwdl, "crossentropy_backward writing");
    expect_agree("crossentropy_backward writing",
                 kernel_cost(MGPT_K_CROSSENTROPY_BACKWARD, sizes(0, 0, N, 0, 0, 0, V, 0, 1)),
                 tallied(tw), EXACT);
    expect_footprint("crossentropy_backward writing", MGPT_K_CROSSENTROPY_BACKWARD,
                     sizes(0, 0, N, 0, 0, 0, V, 0, 1), tw, EXACT);
    Node node(MGPT_OP_XENT, B1, T1, C1, 0, H1, V, (size_t)N);
    node.expect_sum_of_calls("crossentropy");
}

TEST(RooflineCounts, Optimizer)
{
    size_t n = 4096;
    auto x = randv(n, 25);
    Tally t;
    tally = &t;
    double s = c_sumsq({x.data()}, n);
    EXPECT_NEAR(s, K->sumsq(X, x.data(), n), 1e-3 * s);
    Count f = kernel_cost(MGPT_K_SUMSQ, sizes(0, 0, 0, 0, 0, 0, 0, n, 0));
    expect_agree("sumsq", f, tallied(t), 1e-9);
    expect_footprint("sumsq", MGPT_K_SUMSQ, sizes(0, 0, 0, 0, 0, 0, 0, n, 0), t, 1e-9);
    mgpt_cost fs = mgpt_sumsq_cost(n);
    EXPECT_DOUBLE_EQ(fs.flops, f.flops);
    EXPECT_DOUBLE_EQ(fs.bytes, f.bytes);

    mgpt_adam_args a = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.05f, 1.0f};
    auto p = randv(n, 26), g = randv(n, 27), m = randv(n, 28, 0, 0.1f), v = randv(n, 29, 0, 0.1f);
    auto rp = p, rm = m, rv = v;
    Tally ta;
    tally = &ta;
    c_adam_update({p.data()}, {g.data()}, {m.data()}, {v.data()}, n, &a);
    K->adam_update(X, rp.data(), g.data(), rm.data(), rv.data(), n, &a);
    expect_close(p, rp, "adam_update param");
    expect_close(m, rm, "adam_update m");
    expect_close(v, rv, "adam_update v");
    Count fa = kernel_cost(MGPT_K_ADAM_UPDATE, sizes(0, 0, 0, 0, 0, 0, 0, n, 0));
    expect_agree("adam_update", fa, tallied(ta), 1e-9);
    // param, m and v read and written: 28 bytes an element moved, 16 touched
    expect_footprint("adam_update", MGPT_K_ADAM_UPDATE, sizes(0, 0, 0, 0, 0, 0, 0, n, 0), ta,
                     1e-9);
    mgpt_call_sizes an = sizes(0, 0, 0, 0, 0, 0, 0, n, 0);
    EXPECT_LT(roof_footprint(MGPT_K_ADAM_UPDATE, &an), fa.bytes);
    mgpt_cost ca = mgpt_adam_cost(n), co = mgpt_optimizer_cost(n);
    EXPECT_DOUBLE_EQ(ca.flops, fa.flops);
    EXPECT_DOUBLE_EQ(ca.bytes, fa.bytes);
    EXPECT_DOUBLE_EQ(co.flops, f.flops + fa.flops);
    EXPECT_DOUBLE_EQ(co.bytes, f.bytes + fa.bytes);
}

TEST(RooflineCounts, Zero)
{
    size_t n = 4099;
    auto x = randv(n, 30), rx = x;
    Tally t;
    tally = &t;
    c_zero({x.data()}, n);
    K->zero(X, rx.data(), n);
    expect_close(x, rx, "zero");
    Count f = kernel_cost(MGPT_K_ZERO, sizes(0, 0, 0, 0, 0, 0, 0, n, 0));
    EXPECT_EQ(f.flops, 0.0);
    EXPECT_EQ(t.flops, 0.0);
    EXPECT_DOUBLE_EQ(f.bytes, t.bytes());
    EXPECT_DOUBLE_EQ(mgpt_zero_cost(n).bytes, t.bytes());
    expect_footprint("zero", MGPT_K_ZERO, sizes(0, 0, 0, 0, 0, 0, 0, n, 0), t, 1e-9);
}

// The kernel calls of a training step as the roofline finds them (roof_step_calls: the
// engine's walks run on recording kernels): every slot of the list is called, each node's
// calls are the ones restated above (matmul's backward: dinp then dw; add's: accumulate
// twice) and add up to the node's count, the backward walk zeroes dwte and dwpe once each,
// and the optimizer sums squares chunk by chunk (at most MGPT_SUMSQ_CHUNK floats a call,
// over every gradient) before one Adam update.
TEST(RooflineCounts, EveryKernelOfAStep)
{
    mgpt_config cfg = mgpt_test::make_config(27, 64, 4, 2, 16);
    auto m = mgpt_test::make_model(cfg, 1);
    ASSERT_TRUE(m);
    roof_call *calls = nullptr;
    int n = roof_step_calls(m.get(), &calls);
    ASSERT_GT(n, 0);
    std::unique_ptr<roof_call, void (*)(void *)> own(calls, free);
    std::set<int> used;
    std::map<std::pair<int, int>, std::vector<int>> node_slots;   // (node, backward): slots
    std::map<std::pair<int, int>, Count> node_sum;
    std::set<std::pair<const float *, size_t>> zeroed;
    size_t sumsq_floats = 0, adam_floats = 0;
    int sumsq_calls = 0, adam_calls = 0, decode_calls = 0;
    Count total = {0, 0}, decode = {0, 0};
    for (int i = 0; i < n; i++) {
        const roof_call &c = calls[i];
        ASSERT_GE(c.slot, 0);
        ASSERT_LT(c.slot, mgpt_kernel_count());
        used.insert(c.slot);
        Count k = kernel_cost(c.slot, c.sizes);
        EXPECT_DOUBLE_EQ(c.cost.flops, k.flops) << mgpt_kernel_name(c.slot);
        EXPECT_DOUBLE_EQ(c.cost.bytes, k.bytes) << mgpt_kernel_name(c.slot);
        total = total + k;
        switch (c.site) {
        case ROOF_SITE_FORWARD:
        case ROOF_SITE_BACKWARD: {
            auto key = std::make_pair(c.node, c.site == ROOF_SITE_BACKWARD ? 1 : 0);
            node_slots[key].push_back(c.slot);
            node_sum[key] = node_sum[key] + k;
            break;
        }
        case ROOF_SITE_ZERO:
            EXPECT_EQ(c.slot, MGPT_K_ZERO);
            EXPECT_TRUE(zeroed.insert({c.x, c.n}).second) << "zeroed twice";
            break;
        case ROOF_SITE_DECODE:
            // generation's attention against the cache: one call per position of a block
            EXPECT_EQ(c.slot, MGPT_K_ATTENTION_DECODE) << mgpt_kernel_name(c.slot);
            // one call per layer at each position, against the positions cached so far
            EXPECT_EQ(c.sizes.T, (double)(decode_calls / cfg.n_layer + 1)) << "positions";
            decode_calls++;
            decode = decode + k;
            break;
        case ROOF_SITE_OPTIMIZER:
            if (c.slot == MGPT_K_SUMSQ) {
                EXPECT_LE(c.sizes.n, (double)MGPT_SUMSQ_CHUNK);
                sumsq_floats += (size_t)c.sizes.n;
                sumsq_calls++;
            } else {
                EXPECT_EQ(c.slot, MGPT_K_ADAM_UPDATE) << mgpt_kernel_name(c.slot);
                adam_floats += (size_t)c.sizes.n;
                adam_calls++;
            }
            break;
        }
    }
    EXPECT_EQ((int)used.size(), mgpt_kernel_count()) << "a slot no step calls";
    EXPECT_EQ(decode_calls, cfg.block_size * cfg.n_layer) << "attention_decode's calls";
    for (int i = 0; i < m->graph.n_nodes; i++)
        for (int bw = 0; bw < 2; bw++) {
            const mgpt_node &nd = m->graph.nodes[i];
            std::string what = std::string(mgpt_op_name(nd.op)) + " node " + std::to_string(i) +
                               (bw ? " backward" : " forward");
            std::vector<int> want;
            for (const auto &call : node_calls(nd, bw))
                want.push_back(call.first);
            std::pair<int, int> key(i, bw);
            EXPECT_EQ(node_slots[key], want) << what;
            mgpt_cost nc = mgpt_node_cost(&nd, bw);
            EXPECT_DOUBLE_EQ(node_sum[key].flops, nc.flops) << what;
            EXPECT_DOUBLE_EQ(node_sum[key].bytes, nc.bytes) << what;
        }
    // the walk zeroes dwte and dwpe, once each (embed's scatter adds into them); every other
    // gradient is stored by its first contributor, with the write bits
    const mgpt_param *wte = mgpt_model_param(m.get(), "wte");
    const mgpt_param *wpe = mgpt_model_param(m.get(), "wpe");
    ASSERT_TRUE(wte && wpe);
    std::set<std::pair<const float *, size_t>> want_zeroed = {
        {wte->grad, (size_t)wte->rows * wte->cols}, {wpe->grad, (size_t)wpe->rows * wpe->cols}};
    EXPECT_TRUE(zeroed == want_zeroed);
    EXPECT_DOUBLE_EQ(mgpt_graph_zero_cost(&m->graph).bytes,
                     4.0 * (double)(wte->rows * wte->cols + wpe->rows * wpe->cols));
    EXPECT_EQ(sumsq_floats, m->num_floats);
    EXPECT_EQ(sumsq_calls, (int)((m->num_floats + MGPT_SUMSQ_CHUNK - 1) / MGPT_SUMSQ_CHUNK));
    EXPECT_EQ(adam_floats, m->num_floats);
    EXPECT_EQ(adam_calls, 1);
    // the step's total is the engine's
    mgpt_cost f = mgpt_graph_cost(&m->graph, 0), b = mgpt_graph_cost(&m->graph, 1);
    mgpt_cost z = mgpt_graph_zero_cost(&m->graph), o = mgpt_optimizer_cost(m->num_floats);
    EXPECT_DOUBLE_EQ(total.flops - decode.flops, f.flops + b.flops + z.flops + o.flops);
    EXPECT_DOUBLE_EQ(total.bytes - decode.bytes, f.bytes + b.bytes + z.bytes + o.bytes);
}

// --- placement and working sets -----------------------------------------------------------

// --- the bandwidth curve: plateaus and placement --------------------------------------------

// A curve over sizes doubling from 4 KiB; gbs[i] at 4 KiB << i, repeats within +-1%.
roof_curve make_curve(const std::vector<double> &gbs)
{
    roof_curve c{};
    for (double g : gbs) {
        c.bytes[c.n] = 4096.0 * std::pow(2.0, c.n);
        c.gbs[c.n] = g;
        c.gbs_min[c.n] = g * 0.99;
        c.gbs_max[c.n] = g * 1.01;
        c.n++;
    }
    return c;
}

roof_stream make_stream(const std::vector<double> &gbs)
{
    roof_stream s{};
    s.curve = make_curve(gbs);
    s.n_plateaus = roof_find_plateaus(&s.curve, ROOF_PLATEAU_TOL, s.plateau, ROOF_PLATEAUS_MAX);
    return s;
}

constexpr double KiB = 1024, MiB = 1024 * 1024;

// 4K 8K 16K 32K | 64K .. 512K | 1M .. 16M | 32M (spill) | 64M .. 1G: a Zen-like hierarchy
const std::vector<double> zen_read = {200, 205, 198, 202, 100, 104, 98, 101, 60, 62, 58, 61, 59,
                                      40, 20, 21, 19, 20, 20};

TEST(RooflinePlateaus, FourLevelsFromTheCurveAlone)
{
    roof_stream s = make_stream(zen_read);
    ASSERT_EQ(s.n_plateaus, 4);
    const double want[] = {201, 100.5, 60, 20};
    for (int i = 0; i < 4; i++)
        EXPECT_NEAR(s.plateau[i].gbs, want[i], 1.01) << i;
    EXPECT_EQ(s.plateau[0].lo_bytes, 4 * KiB);
    EXPECT_EQ(s.plateau[0].hi_bytes, 32 * KiB);
    EXPECT_EQ(s.plateau[2].lo_bytes, 1 * MiB);
    EXPECT_EQ(s.plateau[2].hi_bytes, 16 * MiB);
    EXPECT_EQ(s.plateau[3].lo_bytes, 64 * MiB);   // 32 MiB is the slope, in no plateau
    EXPECT_GT(s.plateau[0].spread, 0.0);
    EXPECT_LT(s.plateau[0].spread, 0.1);
    int level[ROOF_PLATEAUS_MAX];
    roof_plateau_levels(s.n_plateaus, level);
    EXPECT_EQ(level[0], ROOF_L1);
    EXPECT_EQ(level[1], ROOF_L2);
    EXPECT_EQ(level[2], ROOF_L3);
    EXPECT_EQ(level[3], ROOF_DRAM);

    // the plateau serving a working set: covering, between two (the faster), outside
    EXPECT_EQ(roof_plateau_for(s.plateau, 4, 1000), 0);
    EXPECT_EQ(roof_plateau_for(s.plateau, 4, 40 * KiB), 0);     // between L1 and L2
    EXPECT_EQ(roof_plateau_for(s.plateau, 4, 2.9 * MiB), 2);
    EXPECT_EQ(roof_plateau_for(s.plateau, 4, 32 * MiB), 2);     // on the slope: L3
    EXPECT_EQ(roof_plateau_for(s.plateau, 4, 100 * MiB), 3);
    EXPECT_EQ(roof_plateau_for(s.plateau, 4, 64.0 * 1024 * MiB), 3);
    EXPECT_EQ(roof_plateau_for(s.plateau, 0, 1000), -1);
}

TEST(RooflinePlateaus, MissingLevelsFlatAndNoise)
{
    // no L3 (or one the curve cannot tell from L2): two levels, the last DRAM
    roof_stream two = make_stream({150, 150, 151, 149, 150, 152, 150, 150, 20, 20, 21, 20});
    ASSERT_EQ(two.n_plateaus, 2);
    int level[ROOF_PLATEAUS_MAX];
    roof_plateau_levels(2, level);
    EXPECT_EQ(level[0], ROOF_L1);
    EXPECT_EQ(level[1], ROOF_DRAM);

    // a flat curve (a machine whose caches the stream cannot see): one plateau everywhere
    roof_stream flat = make_stream(std::vector<double>(19, 50));
    ASSERT_EQ(flat.n_plateaus, 1);
    EXPECT_DOUBLE_EQ(flat.plateau[0].gbs, 50);
    EXPECT_EQ(flat.plateau[0].hi_bytes, 4096.0 * (1 << 18));
    EXPECT_EQ(roof_plateau_for(flat.plateau, 1, 1e12), 0);

    // +-10% jitter inside the levels, one point dropping 30% inside L2 and one spiking
    // inside DRAM: still four levels, each at its median
    std::vector<double> noisy = {210, 190, 205, 195, 108, 92, 70, 100, 63, 57, 61, 59, 60,
                                 40, 22, 18, 30, 20, 20};
    roof_stream n = make_stream(noisy);
    ASSERT_EQ(n.n_plateaus, 4);
    EXPECT_NEAR(n.plateau[1].gbs, 96, 5);
    EXPECT_NEAR(n.plateau[3].gbs, 20, 1.5);

    // a level faster than the one inside it stays as measured: the curve decides
    roof_stream up = make_stream({100, 100, 101, 99, 130, 131, 130, 129, 20, 20, 20});
    ASSERT_EQ(up.n_plateaus, 3);
    EXPECT_NEAR(up.plateau[1].gbs, 130, 1);

    // too noisy for any run of two: every point is its own plateau, none is lost
    roof_stream wild = make_stream({100, 50, 100, 50, 100});
    EXPECT_EQ(wild.n_plateaus, 5);
    EXPECT_EQ(roof_plateau_for(wild.plateau, wild.n_plateaus, 1e9), 4);

    // a single point is a plateau only when it is the whole curve
    roof_stream one = make_stream({42});
    ASSERT_EQ(one.n_plateaus, 1);
    EXPECT_DOUBLE_EQ(one.plateau[0].gbs, 42);
}

TEST(RooflinePlacement, AtItsWorkingSetOnTheFasterStream)
{
    // The VM of issue 12: hwloc said L3 = 508 MiB, so a 22.5 MiB read stream stood for
    // "L3" and adam_update (2.9 MB, reads and writes) landed at 231% of it. Placed on the
    // curves, the OS's cache sizes play no part: 2.9 MB sits on the measured L3 plateau of
    // the read+write stream, which is the faster one there.
    roof_stream st[ROOF_STREAMS] = {};
    st[ROOF_READ] = make_stream({200, 205, 198, 202, 100, 104, 98, 101, 70, 72, 69, 71, 70,
                                 40, 20, 21, 19, 20, 20});
    st[ROOF_UPDATE] = make_stream({150, 151, 149, 150, 120, 121, 119, 120, 170, 171, 169,
                                   170, 170, 60, 30, 31, 30, 30, 30});
    roof_kernel adam{};
    adam.flops = 0.73e6 * 12;
    adam.bytes = 2.9e6;
    adam.max_call_bytes = 2.9e6;
    adam.seconds = 2.9e6 / 163e9;            // 163 GB/s
    adam.seconds_min = adam.seconds * 0.98;
    adam.seconds_max = adam.seconds * 1.02;
    roof_place(&adam, 1000, st, 1);
    EXPECT_EQ(adam.threads, 1);
    EXPECT_FALSE(adam.compute_bound);
    EXPECT_EQ(adam.stream, ROOF_UPDATE);
    EXPECT_EQ(adam.level, ROOF_L3);
    EXPECT_NEAR(adam.ceiling_gbs, 170, 1e-9);   // the read+write stream's L3 plateau
    EXPECT_LE(adam.percent, 100.0);
    EXPECT_NEAR(adam.noise, 0.04 + st[ROOF_UPDATE].plateau[2].spread, 1e-9);

    // memory-bound in L1 on the read stream: AI 0.1, roof 20.1 GFLOP/s
    roof_kernel k{};
    k.flops = 1e6;
    k.bytes = 1e7;
    k.max_call_bytes = 16 * KiB;
    k.seconds = 1e6 / 10e9;                  // 10 GFLOP/s
    roof_place(&k, 500, st, 1);
    EXPECT_EQ(k.level, ROOF_L1);
    EXPECT_EQ(k.stream, ROOF_READ);
    EXPECT_NEAR(k.ai, 0.1, 1e-12);
    EXPECT_NEAR(k.ceiling_gflops, 0.1 * st[ROOF_READ].plateau[0].gbs, 1e-9);
    EXPECT_NEAR(k.percent, 10000 / st[ROOF_READ].plateau[0].gbs, 1e-9);

    // on 2 threads, the working set per thread is half: 200 MiB in all is DRAM on one
    // thread, and still DRAM on two (100 MiB each)
    k.max_call_bytes = 200 * MiB;
    roof_place(&k, 500, st, 1);
    EXPECT_EQ(k.level, ROOF_DRAM);
    EXPECT_NEAR(k.ceiling_gbs, 30, 1e-9);   // read+write's DRAM plateau, the faster there
    k.max_call_bytes = 8 * MiB;             // 4 MiB per thread on 2 threads: L3
    roof_place(&k, 500, st, 2);
    EXPECT_EQ(k.threads, 2);
    EXPECT_NE(k.level, ROOF_DRAM);

    // compute-bound: AI 100 at any level beats a 50 GFLOP/s peak
    k.bytes = 1e4;
    roof_place(&k, 50, st, 1);
    EXPECT_TRUE(k.compute_bound);
    EXPECT_NEAR(k.ceiling_gflops, 50, 1e-9);
    EXPECT_NEAR(k.percent, 20, 1e-9);

    // no FLOPs: the bandwidth alone; no curves at all: not placed
    roof_kernel z{};
    z.bytes = 1e6;
    z.max_call_bytes = 1e6;
    z.seconds = 1e6 / 50e9;
    roof_place(&z, 50, st, 1);
    EXPECT_GT(z.percent, 0);
    EXPECT_NEAR(z.percent, 100 * 50 / z.ceiling_gbs, 1e-9);
    roof_stream none[ROOF_STREAMS] = {};
    roof_place(&z, 50, none, 1);
    EXPECT_EQ(z.percent, 0);
    EXPECT_EQ(z.ceiling_gbs, 0);
}

// The level is chosen by what a call touches, not by what it moves: a kernel that re-reads
// a small array (embed_backward's gradient rows, accumulate's dst) moves many times its
// working set. Crafted: 16 KiB touched (L1 on these curves), 160 KiB moved (which would
// be L2, at half L1's bandwidth, where it would land above 100%).
TEST(RooflinePlacement, LevelByFootprintNotTraffic)
{
    roof_stream st[ROOF_STREAMS] = {};
    st[ROOF_READ] = make_stream(zen_read);
    roof_kernel k{};
    k.flops = 0.1 * 160 * KiB;               // AI 0.1
    k.bytes = 160 * KiB;                     // one call per step
    k.max_call_bytes = 160 * KiB;
    k.footprint = 16 * KiB;
    k.seconds = k.bytes / 150e9;             // 150 GB/s: L1's pace, not L2's
    k.seconds_min = k.seconds_max = k.seconds;
    roof_place(&k, 1000, st, 1);
    EXPECT_EQ(k.level, ROOF_L1);
    EXPECT_NEAR(k.ceiling_gbs, st[ROOF_READ].plateau[0].gbs, 1e-9);
    EXPECT_NEAR(k.gbs, 150, 1e-9);           // achieved: the traffic over the time
    EXPECT_NEAR(k.percent, 100 * 150 / st[ROOF_READ].plateau[0].gbs, 1e-9);
    EXPECT_LT(k.percent, 100);

    // the same kernel placed by its traffic (no footprint known: the fallback) sits on L2
    // and above its ceiling: the error this placement fixes
    roof_kernel t = k;
    t.footprint = 0;
    roof_place(&t, 1000, st, 1);
    EXPECT_EQ(t.level, ROOF_L2);
    EXPECT_GT(t.percent, 100);

    // per thread: 2 threads share the footprint; 4 MiB touched is 2 MiB each, L3 on the
    // curve, even though 40 MiB moved would be DRAM
    k.footprint = 4 * MiB;
    k.bytes = k.max_call_bytes = 40 * MiB;
    roof_place(&k, 1000, st, 2);
    EXPECT_EQ(k.level, ROOF_L3);
}

// A kernel that only stores (zero) is held to the write stream, its own pattern, not to the
// fastest stream (loads run faster than stores inside the caches) nor to a read+write
// stream that counts a load and a store per element.
TEST(RooflinePlacement, WriteOnlyKernelOnTheWriteStream)
{
    roof_stream st[ROOF_STREAMS] = {};
    st[ROOF_READ] = make_stream(zen_read);
    st[ROOF_UPDATE] = make_stream({150, 151, 149, 150, 120, 121, 119, 120, 60, 61, 60, 60, 60,
                                   40, 30, 31, 30, 30, 30});
    st[ROOF_WRITE] = make_stream({80, 81, 79, 80, 60, 61, 59, 60, 40, 41, 40, 40, 40, 30, 15,
                                  15, 15, 15, 15});
    roof_kernel z{};
    z.bytes = z.max_call_bytes = z.footprint = 8 * KiB;
    z.seconds = z.bytes / 70e9;
    z.writes_only = 1;
    roof_place(&z, 1000, st, 1);
    EXPECT_EQ(z.stream, ROOF_WRITE);
    EXPECT_EQ(z.level, ROOF_L1);
    EXPECT_NEAR(z.ceiling_gbs, st[ROOF_WRITE].plateau[0].gbs, 1e-9);
    EXPECT_NEAR(z.percent, 100 * 70 / st[ROOF_WRITE].plateau[0].gbs, 1e-9);
    // a kernel of loads and stores at the same size: the fastest stream there
    roof_kernel m = z;
    m.writes_only = 0;
    roof_place(&m, 1000, st, 1);
    EXPECT_EQ(m.stream, ROOF_READ);
    // a write curve that rises with size (memset's call overhead at 4 KiB): a small working
    // set is bounded by the faster plateau past it, not held to the slow first points
    st[ROOF_WRITE] = make_stream({100, 101, 99, 130, 131, 129, 130, 131, 130, 60, 61, 60, 60,
                                  60, 20, 20, 20, 20, 20});
    ASSERT_GE(st[ROOF_WRITE].n_plateaus, 2);
    roof_place(&z, 1000, st, 1);
    EXPECT_EQ(z.level, ROOF_L1);
    EXPECT_NEAR(z.ceiling_gbs, st[ROOF_WRITE].plateau[1].gbs, 1e-9);
    EXPECT_GT(z.ceiling_gbs, st[ROOF_WRITE].plateau[0].gbs);
    // no write stream measured: the zero kernel falls back to the others
    st[ROOF_WRITE] = roof_stream{};
    roof_place(&z, 1000, st, 1);
    EXPECT_EQ(z.stream, ROOF_READ);
}

// The storing streams of every width this CPU runs: the bytes each says it moved, and the
// buffer left as the others expect it (1.0; zeros from memset, the write stream of every
// backend; a copy of 1.0 from the scalar backend's memcpy).
TEST(RooflineStreams, BytesMovedAndValuesKept)
{
    mgpt_registry reg;
    char err[512] = "";
    ASSERT_GE(mgpt_registry_load(&reg, nullptr, nullptr, err, sizeof err), 0) << err;
    const size_t n = 3 * 1024 + 16;   // not a multiple of the unrolled widths: tails run
    int tried = 0;
    for (int i = 0; i < reg.n; i++) {
        const mgpt_backend_entry *e = &reg.entries[i];
        if (!e->desc || e->status != MGPT_BE_RUNNABLE)
            continue;
        roof_isa isa = roof_isa_of(e->desc->required_features);
        roof_store_fn fn[ROOF_STREAMS];
        const char *name[ROOF_STREAMS];
        roof_streams_for(&isa, fn, name);
        EXPECT_EQ(fn[ROOF_READ], nullptr);
        const double per_element[ROOF_STREAMS] = {0, 8, 4, 12, 20};
        for (int k = ROOF_UPDATE; k < ROOF_STREAMS; k++) {
            float *a = static_cast<float *>(aligned_alloc(64, n * sizeof(float)));
            ASSERT_NE(a, nullptr);
            for (size_t j = 0; j < n; j++)
                a[j] = 1.0f;
            double bytes = fn[k](a, n, 3);
            // the 2-reads+write stream cuts the slice in three arrays of whole 64 bytes; the
            // scalar backend's read+write stream (memcpy) copies one half onto the other
            bool libc = roof_isa_is_plain_c(&isa);
            size_t used = k == ROOF_READ2_WRITE || k == ROOF_READ3_WRITE2 ? n / 3 / 16 * 16
                          : k == ROOF_UPDATE && libc ? n / 2
                                                           : n;
            EXPECT_DOUBLE_EQ(bytes, per_element[k] * (double)used * 3)
                << e->name << " " << roof_stream_names[k];
            bool memset_zero = k == ROOF_WRITE;   // every backend's zero is memset
            for (size_t j = 0; j < n; j++)
                if (a[j] != (memset_zero ? 0.0f : 1.0f)) {
                    ADD_FAILURE() << e->name << " " << roof_stream_names[k] << ": a[" << j
                                  << "] = " << a[j];
                    break;
                }
            free(a);
            ASSERT_NE(name[k], nullptr);
        }
        tried++;
    }
    mgpt_registry_free(&reg);
    EXPECT_GT(tried, 0);
}

// The read probes sum in independent partial sums, so that they measure bandwidth rather
// than the latency of one chain of adds (the scalar probe once summed into one SSE
// register: a flat ~27 GB/s at every size on a Zen 5, below what its vectorised kernels
// stream). Timing cannot be asserted; the order of the sums can, through rounding: after
// 2^24, adding 1.0f rounds back to 2^24 (ties to even), so with 2^24 first, the ones that
// reach the same partial sum are lost and the others counted. With k partial sums, n/k - 1
// ones are lost: one chain of `lanes`-wide adds loses n/lanes - 1; 8 vector accumulators
// (the probes' count) lose n/(8 x lanes) - 1.
TEST(RooflineProbes, ReadProbesSumInIndependentChains)
{
    mgpt_registry reg;
    char err[512] = "";
    ASSERT_GE(mgpt_registry_load(&reg, nullptr, nullptr, err, sizeof err), 0) << err;
    const size_t n = 8192;
    float *buf = static_cast<float *>(aligned_alloc(64, n * sizeof(float)));
    ASSERT_NE(buf, nullptr);
    const float big = 16777216.0f;   // 2^24
    buf[0] = big;
    for (size_t j = 1; j < n; j++)
        buf[j] = 1.0f;
    int tried = 0;
    for (int i = 0; i < reg.n; i++) {
        const mgpt_backend_entry *e = &reg.entries[i];
        if (!e->desc || e->status != MGPT_BE_RUNNABLE || !e->desc->probes ||
            !e->desc->probes->stream_read)
            continue;
        roof_isa isa = roof_isa_of(e->desc->required_features);
        double sum = e->desc->probes->stream_read(buf, n, 1);
        double lost = big + (double)(n - 1) - sum;
        double one_chain = (double)n / isa.lanes - 1;
        double eight = (double)n / (8.0 * isa.lanes) - 1;
        // the final additions into 2^24 + ... round to its ulp (2): a few ones either way
        EXPECT_LE(lost, eight + 8) << e->name << ": " << lost << " of the ones lost; one "
                                   << isa.lanes << "-lane chain would lose " << one_chain;
        EXPECT_GE(lost, 0) << e->name;
        tried++;
    }
    free(buf);
    mgpt_registry_free(&reg);
    EXPECT_GT(tried, 0);
}

TEST(RooflineWorksets, SizedFromCaches)
{
    roof_machine m{};
    m.topo_ok = 1;
    m.cores = 2;
    m.topo.l1d = 48 << 10;
    m.topo.l1d_count = 2;
    m.topo.l2 = 2 << 20;
    m.topo.l2_count = 2;
    m.topo.l3 = (size_t)300 << 20;
    m.topo.l3_count = 1;
    m.mem_available = (size_t)20 << 30;
    roof_worksets w;
    roof_worksets_plan(&m, 1, 0, nullptr, &w);
    EXPECT_EQ(w.total[ROOF_L1], (size_t)24 << 10);
    EXPECT_EQ(w.total[ROOF_L2], (size_t)1 << 20);
    EXPECT_GT(w.total[ROOF_L3], (size_t)8 << 20);     // beyond 4 x L2
    EXPECT_LT(w.total[ROOF_L3], (size_t)150 << 20);   // inside half the L3
    EXPECT_EQ(w.total[ROOF_DRAM], (size_t)1200 << 20);  // 4 x 300 MiB > 1 GiB
    EXPECT_NE(std::string(w.dram_note).find("4 x L3"), std::string::npos) << w.dram_note;

    roof_worksets w2;
    roof_worksets_plan(&m, 2, 0, nullptr, &w2);
    EXPECT_EQ(w2.total[ROOF_L1], (size_t)48 << 10);   // one L1 each
    EXPECT_LE(w2.total[ROOF_L3], (size_t)150 << 20);  // the shared L3, split
    EXPECT_EQ(w2.total[ROOF_DRAM], (size_t)1200 << 20);

    m.topo.l3 = 16 << 20;                             // small L3 (or one the OS got wrong):
    roof_worksets_plan(&m, 1, 0, nullptr, &w);        // at least 1 GiB
    EXPECT_EQ(w.total[ROOF_DRAM], (size_t)1 << 30);
    EXPECT_NE(std::string(w.dram_note).find("1 GiB"), std::string::npos) << w.dram_note;
    m.mem_available = 64 << 20;                       // little memory: half of it
    roof_worksets_plan(&m, 1, 0, nullptr, &w);
    EXPECT_EQ(w.total[ROOF_DRAM], (size_t)32 << 20);
}

TEST(RooflineIsa, PortsAndLanes)
{
    roof_isa a = roof_isa_of(MGPT_CPU_SSE2 | MGPT_CPU_AVX | MGPT_CPU_AVX2 | MGPT_CPU_FMA |
                             MGPT_CPU_AVX512F);
    EXPECT_EQ(a.lanes, 16);
    EXPECT_TRUE(a.fma);
    roof_isa s = roof_isa_of(MGPT_CPU_SSE42);
    EXPECT_EQ(s.lanes, 4);
    EXPECT_FALSE(s.fma);
    // no feature required (the scalar backend): its plain C, kernels and probe alike, is
    // vectorised by the compiler with SSE2, so its ceiling is 4 lanes of mul+add, not 1
    roof_isa none = roof_isa_of(0);
#if defined(__x86_64__)
    EXPECT_STREQ(none.name, "sse2-auto");
    EXPECT_EQ(none.lanes, 4);
    EXPECT_FALSE(none.fma);
    // Zen 4: 2 mul + 2 add pipes -> 16 flops per cycle for 4-lane mul+add code
    roof_uarch z = roof_uarch_lookup("AuthenticAMD", 0x19, 0x11, &none);
    EXPECT_EQ(roof_flops_per_cycle(&none, z.pipes), 16);
#else
    EXPECT_EQ(none.lanes, 1);
#endif
    // Sapphire Rapids: two 512-bit FMA ports -> 64 flops per cycle per core
    roof_uarch u = roof_uarch_lookup("GenuineIntel", 6, 0x8F, &a);
    ASSERT_NE(u.name, nullptr);
    EXPECT_EQ(u.pipes, 2);
    EXPECT_EQ(roof_flops_per_cycle(&a, u.pipes), 64);
    // Tiger Lake: one
    EXPECT_EQ(roof_uarch_lookup("GenuineIntel", 6, 0x8C, &a).pipes, 1);
    EXPECT_EQ(roof_uarch_lookup("GenuineIntel", 6, 0x01, &a).name, nullptr);
    // a bf16 module (avx512bf16): VDPBF16PS on the same two ports, 2 products per lane
    roof_isa b = roof_isa_of(MGPT_CPU_SSE2 | MGPT_CPU_AVX | MGPT_CPU_AVX2 | MGPT_CPU_FMA |
                             MGPT_CPU_AVX512F | MGPT_CPU_AVX512_BF16);
    EXPECT_EQ(b.lanes, 16);
    EXPECT_EQ(b.dot, 2);
    EXPECT_EQ(a.dot, 1);
    EXPECT_EQ(roof_uarch_lookup("GenuineIntel", 6, 0x8F, &b).pipes, 2);
    EXPECT_EQ(roof_flops_per_cycle(&b, 2), 128);
    // an AMX module: TDPBF16PS, 16 x 16 x 32 products in 16 cycles on Sapphire Rapids
    roof_isa t = roof_isa_of(MGPT_CPU_SSE2 | MGPT_CPU_AVX | MGPT_CPU_AVX2 | MGPT_CPU_FMA |
                             MGPT_CPU_AVX512F | MGPT_CPU_AVX512_BF16 | MGPT_CPU_AMX_TILE |
                             MGPT_CPU_AMX_BF16);
    EXPECT_STREQ(t.name, "amx_bf16");
    u = roof_uarch_lookup("GenuineIntel", 6, 0x8F, &t);
    EXPECT_EQ(roof_flops_per_cycle(&t, u.pipes), 1024);
}

// --- the program ---------------------------------------------------------------------------

std::string exe()
{
    return mgpt_test::program_path("MGPT_ROOFLINE_EXE", "../tools/mgpt-roofline/mgpt-roofline");
}

std::string tmp_path(const std::string &name)
{
    return mgpt_test::scratch_path("test_roofline", name);
}

struct Outcome {
    int status;
    std::string out, err;
};

Outcome run(const std::string &args)
{
    Outcome r{-1, "", ""};
    std::string errf = tmp_path("stderr");
    std::string cmd = "'" + exe() + "' " + args + " 2>'" + errf + "'";
    r.status = mgpt_test::run_shell(cmd, &r.out);
    r.err = mgpt_test::read_text(errf);
    unlink(errf.c_str());
    return r;
}

TEST(RooflineCli, Help)
{
    Outcome r = run("--help");
    EXPECT_EQ(r.status, 0);
    for (const char *opt : {"Usage: mgpt-roofline", "--all-backends", "--backend=NAME",
                            "--config=NAME", "--threads=N", "--json=FILE", "--svg=FILE",
                            "--repeats", "--min-time", "--dram-size", "--quick", "--no-kernels",
                            "--version", "Exit status"})
        EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
    EXPECT_EQ(r.err, "");
}

TEST(RooflineCli, Version)
{
    Outcome r = run("--version");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find(PACKAGE_VERSION), std::string::npos) << r.out;
}

TEST(RooflineCli, BadOptionsExit2WithAMessage)
{
    struct Case {
        const char *args, *says;
    } cases[] = {
        {"--bogus", "unknown option '--bogus'"},
        {"-x", "unknown option '-x'"},
        {"--threads 0", "--threads '0': expected an integer from 1"},
        {"--threads two", "--threads 'two'"},
        {"--threads 1000", "physical core"},
        {"--config e64_L2", "is not of the form e{n_embd}_L{n_layer}_b{block}"},
        {"--config e65_L2_b16", "config 'e65_L2_b16'"},
        {"--config e64_L2_b16,,e32_L1_b8", "an empty name in the list"},
        {"--config e2048_L32_b2048_B64", "needs 1.4 TiB"},
        {"--config e4096_L64_b4096_B256", "overflows the kernels' int sizes"},
        {"--backend nosuch", "unknown backend 'nosuch' (available:"},
        {"--all-backends --backend scalar", "exclude each other"},
        {"--repeats 0", "--repeats '0'"},
        {"--min-time -1", "--min-time '-1'"},
        {"--dram-size 12", "--dram-size '12'"},
        {"--dram-size 2X", "--dram-size '2X'"},
        {"--json", "needs a value"},
        {"extra", "unexpected argument 'extra'"},
        {"--json same.out --svg same.out", "the same file"},
    };
    for (const Case &c : cases) {
        Outcome r = run(std::string("--quick --no-kernels -q ") + c.args);
        EXPECT_EQ(r.status, 2) << c.args << "\n" << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << " said:\n" << r.err;
        EXPECT_EQ(r.out, "") << c.args;
    }
    // a backend the CPU cannot run: masked by MGPT_CPU_DISABLE
    Outcome r = run("--backend sse --quick --no-kernels -q");
    if (r.status == 0) {  // the sse module was built: mask it away
        std::string cmd = "--backend sse --quick --no-kernels -q";
        setenv("MGPT_CPU_DISABLE", "sse4.2", 1);
        Outcome m = run(cmd);
        unsetenv("MGPT_CPU_DISABLE");
        EXPECT_EQ(m.status, 2) << m.err;
        EXPECT_NE(m.err.find("cannot run on this CPU"), std::string::npos) << m.err;
    }
}

// With --threads, the engine splits only the calls above their split size: a backend's
// kernels then run some on every thread, some on one, and each is placed against the
// ceilings of its own thread count; the reports say so per backend, not "2 threads" for all.
TEST(RooflineThreads, EachKernelAgainstTheCeilingsOfItsThreads)
{
    roof_ceilings c{};
    c.n_thread_sets = 2;
    c.peak[0].threads = 1;
    c.peak[1].threads = 2;
    EXPECT_EQ(roof_ceiling_threads(&c, 1), 1);
    EXPECT_EQ(roof_ceiling_threads(&c, 2), 2);
    c.n_thread_sets = 1;                        // all cores not measured (one core)
    EXPECT_EQ(roof_ceiling_threads(&c, 2), 1);

    roof_kernel k[5]{};
    const char *cfg[5] = {"a", "a", "a", "b", "a"};
    int threads[5] = {2, 1, 1, 2, 2};
    for (int i = 0; i < 5; i++) {
        snprintf(k[i].config, sizeof k[i].config, "%s", cfg[i]);
        k[i].threads = threads[i];
        k[i].ceiling_threads = threads[i];
    }
    roof_backend_result b{};
    b.kernel_threads = 2;
    b.kernels = k;
    b.n_kernels = 5;
    char note[512];
    roof_threads_note(&b, "a", note, sizeof note);
    EXPECT_STREQ(note, "engine of 2 threads: 2 kernels on 2 threads against the 2-thread "
                       "ceilings; 2 kernels on 1 thread against the 1-thread ceilings");
    roof_thread_group g[8];
    ASSERT_EQ(roof_thread_groups(&b, nullptr, g, 8), 2);
    EXPECT_EQ(g[0].kernels, 3);
    EXPECT_EQ(g[1].kernels, 2);
    b.kernel_threads = 1;
    b.n_kernels = 3;
    for (int i = 0; i < 3; i++)
        k[i].threads = k[i].ceiling_threads = 1;
    roof_threads_note(&b, nullptr, note, sizeof note);
    EXPECT_STREQ(note, "engine of 1 thread: 3 kernels on 1 thread against the 1-thread "
                       "ceilings");
}

// One run of every backend, shared by the report tests below.
class RooflineRun : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        json_path = new std::string(tmp_path("report.json"));
        svg_path = new std::string(tmp_path("chart.svg"));
        result = new Outcome(run("--all-backends --quick --config e32_L1_b8,e64_L2_b16_B2 "
                                 "--json '" + *json_path + "' --svg '" + *svg_path + "'"));
        json_error_t e;
        root = json_load_file(json_path->c_str(), 0, &e);
    }
    static void TearDownTestSuite()
    {
        json_decref(root);
        unlink(json_path->c_str());
        unlink(svg_path->c_str());
        delete json_path;
        delete svg_path;
        delete result;
    }
    static std::string *json_path, *svg_path;
    static Outcome *result;
    static json_t *root;
};
std::string *RooflineRun::json_path, *RooflineRun::svg_path;
Outcome *RooflineRun::result;
json_t *RooflineRun::root;

void expect_number(json_t *o, const char *key, const std::string &where, bool positive = true)
{
    json_t *v = json_object_get(o, key);
    ASSERT_TRUE(v && json_is_number(v)) << where << ": no number '" << key << "'";
    if (positive) {
        EXPECT_GT(json_number_value(v), 0) << where << "." << key;
    }
}

void expect_string(json_t *o, const char *key, const std::string &where)
{
    json_t *v = json_object_get(o, key);
    EXPECT_TRUE(v && json_is_string(v)) << where << ": no string '" << key << "'";
}

TEST_F(RooflineRun, PrintsTheTable)
{
    ASSERT_EQ(result->status, 0) << result->err;
    for (const char *s : {"CPU ", "features ", "clock ", "topology ", "Compute ceilings",
                          "Bandwidth, GB/s", "read+write", "Kernels", "scalar", "matmul_forward",
                          "adam_update", "e32_L1_b8", "e64_L2_b16_B2"})
        EXPECT_NE(result->out.find(s), std::string::npos) << s;
}

TEST_F(RooflineRun, JsonHasEveryField)
{
    ASSERT_NE(root, nullptr) << "JSON did not parse; stderr:\n" << result->err;
    EXPECT_STREQ(json_string_value(json_object_get(root, "schema")), "mgpt-roofline/1");
    expect_string(root, "timestamp", "root");
    json_t *settings = json_object_get(root, "settings");
    expect_number(settings, "threads", "settings");
    expect_number(settings, "repeats", "settings");
    EXPECT_EQ(json_array_size(json_object_get(settings, "configs")), 2u);
    json_t *ws = json_object_get(settings, "working_sets");
    ASSERT_GE(json_array_size(ws), 1u);
    for (const char *l : {"L1", "L2", "DRAM"})
        expect_number(json_object_get(json_array_get(ws, 0), "bytes_per_thread"), l, "ws");

    json_t *machine = json_object_get(root, "machine");
    json_t *cpu = json_object_get(machine, "cpu");
    expect_string(cpu, "brand", "cpu");
    expect_string(cpu, "vendor", "cpu");
    EXPECT_TRUE(json_is_array(json_object_get(cpu, "features")));
    json_t *clock = json_object_get(cpu, "clock");
    expect_number(clock, "measured_ghz", "clock");
    for (const char *k : {"libcpuid_os_mhz", "libcpuid_tsc_mhz", "libcpuid_instruction_count_mhz"})
        expect_number(clock, k, "clock", false);
    json_t *topo = json_object_get(machine, "topology");
    expect_number(topo, "cores", "topology");
    for (const char *c : {"l1d", "l2", "l3"})
        expect_number(json_object_get(json_object_get(topo, "caches"), c), "bytes", c, false);

    json_t *bes = json_object_get(root, "backends");
    ASSERT_GE(json_array_size(bes), 1u);
    bool saw_scalar = false;
    size_t i;
    json_t *b;
    json_array_foreach(bes, i, b) {
        std::string name = json_string_value(json_object_get(b, "name"));
        saw_scalar |= name == "scalar";
        if (!json_is_true(json_object_get(b, "measured"))) {
            expect_string(b, "reason", name);
            continue;
        }
        json_t *isa = json_object_get(b, "isa");
        expect_number(isa, "lanes", name);
        expect_string(isa, "op", name);
        ASSERT_TRUE(json_is_true(json_object_get(b, "has_probes"))) << name;
        json_t *ports = json_object_get(b, "ports");
        expect_number(ports, "used", name);
        expect_number(ports, "measured_ratio", name);
        expect_string(ports, "source", name);
        json_t *compute = json_object_get(b, "compute");
        ASSERT_GE(json_array_size(compute), 1u) << name;
        size_t j;
        json_t *c;
        json_array_foreach(compute, j, c) {
            std::string w = name + ".compute[" + std::to_string(j) + "]";
            for (const char *k : {"threads", "measured_gflops", "flops_per_cycle",
                                  "theoretical_gflops_measured_clock"})
                expect_number(c, k, w);
            expect_number(c, "theoretical_gflops_nominal_clock", w, false);
            expect_number(json_object_get(c, "clock"), "before_ghz", w);
            expect_number(json_object_get(c, "clock"), "after_ghz", w);
        }
        EXPECT_EQ(json_integer_value(json_object_get(json_array_get(compute, 0), "threads")), 1);
        std::set<std::string> levels;
        json_array_foreach(json_object_get(b, "bandwidth"), j, c) {
            levels.insert(json_string_value(json_object_get(c, "level")));
            expect_number(c, "gbs", name);
            expect_number(c, "bytes_per_thread", name);
        }
        // the levels are the curve's plateaus (a --quick run on a busy machine may not
        // resolve all of them); the curves have every point, both streams, per thread set
        EXPECT_TRUE(levels.count("L1")) << name << " has no L1 plateau";
        json_t *curves = json_object_get(b, "curves");
        EXPECT_GE(json_array_size(curves), 2u) << name;
        json_array_foreach(curves, j, c) {
            json_t *pts = json_object_get(c, "points");
            EXPECT_GE(json_array_size(pts), 14u) << name;   // 4 KiB to 64 MiB, doubling
            EXPECT_GE(json_array_size(json_object_get(c, "plateaus")), 1u) << name;
            expect_number(json_array_get(pts, 0), "gbs", name);
        }

        json_t *ks = json_object_get(b, "kernels");
        EXPECT_EQ(json_array_size(ks), 2u * mgpt_kernel_count()) << name;
        json_array_foreach(ks, j, c) {
            std::string w = name + "." + json_string_value(json_object_get(c, "kernel"));
            for (const char *k : {"calls", "bytes", "seconds", "gbs", "ceiling_gbs",
                                  "percent_of_ceiling"})
                expect_number(c, k, w);
            if (w == name + ".zero" || w == name + ".accumulate") {
                // no FLOPs: placed against its level's bandwidth alone (accumulate: every
                // add of this model is the first contributor to both operands' gradients,
                // so its backward copies)
                for (const char *k : {"flops", "arithmetic_intensity", "gflops"}) {
                    expect_number(c, k, w, false);
                    EXPECT_EQ(json_number_value(json_object_get(c, k)), 0.0) << w << "." << k;
                }
                EXPECT_TRUE(json_is_null(json_object_get(c, "ceiling_gflops"))) << w;
                EXPECT_STREQ(json_string_value(json_object_get(c, "bound")), "memory") << w;
            } else {
                for (const char *k : {"flops", "arithmetic_intensity", "gflops", "ceiling_gflops"})
                    expect_number(c, k, w);
            }
            expect_string(c, "config", w);
            expect_string(c, "level", w);
            const char *bound = json_string_value(json_object_get(c, "bound"));
            ASSERT_NE(bound, nullptr) << w;
            EXPECT_TRUE(!strcmp(bound, "compute") || !strcmp(bound, "memory")) << w;
            EXPECT_TRUE(json_is_boolean(json_object_get(c, "native"))) << w;
        }
    }
    EXPECT_TRUE(saw_scalar);
}

// The JSON's counts are the engine's: per slot, the sum of mgpt_kernel_cost over the calls
// a step makes to it (each node's calls, the walk's zeroing, the optimizer's sumsq chunks
// and its Adam update), and attention_decode's over a block decoded with the cache.
TEST_F(RooflineRun, CountsAreTheEnginesCounts)
{
    ASSERT_NE(root, nullptr);
    mgpt_config cfg = mgpt_test::make_config(27, 32, 4, 1, 8);
    auto m = mgpt_test::make_model(cfg, 1);
    ASSERT_TRUE(m);
    std::map<std::string, double> flops, bytes;
    for (int i = 0; i < m->graph.n_nodes; i++)
        for (int bw = 0; bw < 2; bw++)
            for (const auto &call : node_calls(m->graph.nodes[i], bw)) {
                Count c = kernel_cost(call.first, call.second);
                flops[mgpt_kernel_name(call.first)] += c.flops;
                bytes[mgpt_kernel_name(call.first)] += c.bytes;
            }
    for (int i = 0; i < m->graph.n_nodes; i++)   // the walk's zeroing
        for (int j = 0; j < 2; j++)
            if (const mgpt_tensor *t = m->graph.nodes[i].zero_grad[j]) {
                flops.emplace("zero", 0.0);
                bytes["zero"] += mgpt_zero_cost(t->numel).bytes;
            }
    ASSERT_GT(bytes["zero"], 0);
    mgpt_cost sq = mgpt_sumsq_cost(m->num_floats), ad = mgpt_adam_cost(m->num_floats);
    flops["sumsq"] = sq.flops;
    bytes["sumsq"] = sq.bytes;
    flops["adam_update"] = ad.flops;
    bytes["adam_update"] = ad.bytes;
    // generation's attention against the cache, over one block: each layer at each position
    flops["attention_decode"] = bytes["attention_decode"] = 0;
    for (int pos = 1; pos <= cfg.block_size; pos++) {
        Count c = kernel_cost(MGPT_K_ATTENTION_DECODE,
                              sizes(0, pos, 0, cfg.n_embd, 0, cfg.n_head, 0, 0, 0));
        flops["attention_decode"] += cfg.n_layer * c.flops;
        bytes["attention_decode"] += cfg.n_layer * c.bytes;
    }
    ASSERT_EQ((int)flops.size(), mgpt_kernel_count());
    size_t i, j;
    json_t *b, *k;
    int compared = 0;
    json_array_foreach(json_object_get(root, "backends"), i, b) {
        json_array_foreach(json_object_get(b, "kernels"), j, k) {
            if (strcmp(json_string_value(json_object_get(k, "config")), "e32_L1_b8") != 0)
                continue;
            std::string name = json_string_value(json_object_get(k, "kernel"));
            ASSERT_TRUE(flops.count(name)) << "no slot is named " << name;
            EXPECT_DOUBLE_EQ(json_number_value(json_object_get(k, "flops")), flops[name]) << name;
            EXPECT_DOUBLE_EQ(json_number_value(json_object_get(k, "bytes")), bytes[name]) << name;
            compared++;
        }
    }
    EXPECT_GT(compared, 0);
}

// Each backend is labelled with the ISA of its code (the widest its descriptor requires),
// and its kernels ran on the engine's threads: 1 unless --threads is given.
TEST_F(RooflineRun, BackendsAreLabelledWithTheirIsaAndKernelThreads)
{
    ASSERT_NE(root, nullptr) << result->err;
    mgpt_registry reg;
    char err[512] = "";
    ASSERT_GE(mgpt_registry_load(&reg, nullptr, nullptr, err, sizeof err), 0) << err;
    size_t i;
    json_t *b;
    int measured = 0;
    json_array_foreach(json_object_get(root, "backends"), i, b) {
        if (!json_is_true(json_object_get(b, "measured")))
            continue;
        measured++;
        std::string name = json_string_value(json_object_get(b, "name"));
        const mgpt_backend_entry *e = mgpt_registry_find(&reg, name.c_str());
        ASSERT_NE(e, nullptr) << name;
        roof_isa isa = roof_isa_of(e->desc->required_features);
        EXPECT_STREQ(json_string_value(json_object_get(json_object_get(b, "isa"), "name")),
                     isa.name)
            << name;
        EXPECT_EQ(json_integer_value(json_object_get(b, "kernel_threads")), 1) << name;
#if defined(__x86_64__)
        // the scalar backend's ceiling is that of its compiled code: SSE2, 4 lanes
        if (name == "scalar") {
            EXPECT_EQ(json_integer_value(json_object_get(json_object_get(b, "isa"), "lanes")),
                      4);
        }
#endif
    }
    mgpt_registry_free(&reg);
    EXPECT_GT(measured, 0);

    // --threads=2: the kernels on 2 threads, the same counts
    mgpt_topology t;
    if (mgpt_topology_read(&t, err, sizeof err) != 0 || t.cores < 2 ||
        !mgpt_threads_available())
        return;
    Outcome r = run("--backend scalar --threads 2 --quick --repeats 1 --config e32_L1_b8 "
                    "--json -");
    ASSERT_EQ(r.status, 0) << r.err;
    json_error_t je;
    json_t *j = json_loads(r.out.c_str(), 0, &je);
    ASSERT_NE(j, nullptr) << je.text;
    json_t *b2 = json_array_get(json_object_get(j, "backends"), 0);
    EXPECT_EQ(json_integer_value(json_object_get(b2, "kernel_threads")), 2);
    // the engine saw every core, though the tool binds its own thread to the first: its
    // two threads on two processors, not both on the first (each parallel call then
    // waited out a scheduler tick), unless an OpenMP variable asked the runtime to place
    // them
    json_t *pus = json_object_get(b2, "kernel_processors");
    ASSERT_TRUE(json_is_array(pus));
    if (!mgpt_thread_placement_variable()) {
        ASSERT_EQ(json_array_size(pus), 2u);
        EXPECT_NE(json_integer_value(json_array_get(pus, 0)),
                  json_integer_value(json_array_get(pus, 1)));
    }
    // each kernel against the ceilings of the threads it ran on, and the groups counted
    // in the JSON and in the table's heading (on standard error, the JSON taking stdout)
    std::map<std::pair<int, int>, int> groups;
    size_t n;
    json_t *k;
    json_array_foreach(json_object_get(b2, "kernels"), n, k) {
        int kt = (int)json_integer_value(json_object_get(k, "threads"));
        int ct = (int)json_integer_value(json_object_get(k, "ceiling_threads"));
        EXPECT_GE(kt, 1);
        EXPECT_LE(kt, 2);
        EXPECT_EQ(ct, kt > 1 ? 2 : 1) << json_string_value(json_object_get(k, "kernel"));
        groups[{kt, ct}]++;
    }
    json_t *pl = json_object_get(b2, "kernel_placement");
    ASSERT_TRUE(json_is_array(pl));
    EXPECT_EQ(json_array_size(pl), groups.size());
    std::string heading = "scalar on e32_L1_b8 (engine of 2 threads";
    json_array_foreach(pl, n, k) {
        int kt = (int)json_integer_value(json_object_get(k, "threads"));
        int ct = (int)json_integer_value(json_object_get(k, "ceiling_threads"));
        int count = (int)json_integer_value(json_object_get(k, "kernels"));
        EXPECT_EQ(count, (groups[{kt, ct}])) << kt << "/" << ct;
        heading += (n ? "; " : ": ") + std::to_string(count) + " kernel" +
                   (count == 1 ? "" : "s") + " on " + std::to_string(kt) + " thread" +
                   (kt == 1 ? "" : "s") + " against the " + std::to_string(ct) +
                   "-thread ceilings";
    }
    EXPECT_NE(r.err.find(heading + ")"), std::string::npos) << heading << "\n" << r.err;
    json_t *scalar1 = nullptr;
    json_array_foreach(json_object_get(root, "backends"), i, b) {
        if (!strcmp(json_string_value(json_object_get(b, "name")), "scalar"))
            scalar1 = b;
    }
    ASSERT_NE(scalar1, nullptr);
    std::map<std::string, double> one;
    json_array_foreach(json_object_get(scalar1, "kernels"), n, k) {
        if (!strcmp(json_string_value(json_object_get(k, "config")), "e32_L1_b8"))
            one[json_string_value(json_object_get(k, "kernel"))] =
                json_number_value(json_object_get(k, "flops"));
    }
    size_t seen = 0;
    json_array_foreach(json_object_get(b2, "kernels"), n, k) {
        std::string name = json_string_value(json_object_get(k, "kernel"));
        ASSERT_TRUE(one.count(name)) << name;
        EXPECT_EQ(json_number_value(json_object_get(k, "flops")), one[name]) << name;
        seen++;
    }
    EXPECT_EQ(seen, one.size());
    json_decref(j);
}

TEST_F(RooflineRun, JsonToStandardOutput)
{
    Outcome r = run("--backend scalar --quick --no-kernels -q --json -");
    ASSERT_EQ(r.status, 0) << r.err;
    json_error_t e;
    json_t *j = json_loads(r.out.c_str(), 0, &e);
    ASSERT_NE(j, nullptr) << e.text << "\n" << r.out;
    EXPECT_EQ(json_array_size(json_object_get(j, "backends")), 1u);
    json_decref(j);
}

#ifdef HAVE_LIBXML
int xpath_count(xmlXPathContextPtr ctx, const char *expr)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    if (!o)
        return -1;
    int n = o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
}
#endif

TEST_F(RooflineRun, SvgIsWellFormedWithOneMarkerPerKernelAndTheCurves)
{
#ifndef HAVE_LIBXML
    GTEST_SKIP() << "built without libxml2 (install libxml2-dev and re-run configure)";
#else
    ASSERT_NE(root, nullptr);
    xmlDocPtr doc = xmlReadFile(svg_path->c_str(), NULL, XML_PARSE_NONET);
    ASSERT_NE(doc, nullptr) << "libxml2 could not parse " << *svg_path;
    xmlNodePtr top = xmlDocGetRootElement(doc);
    ASSERT_NE(top, nullptr);
    EXPECT_STREQ((const char *)top->name, "svg");
    ASSERT_NE(top->ns, nullptr);
    EXPECT_STREQ((const char *)top->ns->href, "http://www.w3.org/2000/svg");
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, (const xmlChar *)"s", (const xmlChar *)"http://www.w3.org/2000/svg");

    // the kernels of the JSON, each as backend/kernel/config
    std::multiset<std::string> want;
    int drawn_backends = 0;
    size_t i, j;
    json_t *b, *k;
    json_array_foreach(json_object_get(root, "backends"), i, b) {
        if (json_is_true(json_object_get(b, "measured")) &&
            json_is_true(json_object_get(b, "has_probes")))
            drawn_backends++;
        json_array_foreach(json_object_get(b, "kernels"), j, k) {
            if (json_number_value(json_object_get(k, "flops")) == 0)
                continue;  // zero: AI 0 has no place on the log axis (the legend says so)
            want.insert(std::string(json_string_value(json_object_get(b, "name"))) + "/" +
                        json_string_value(json_object_get(k, "kernel")) + "/" +
                        json_string_value(json_object_get(k, "config")));
        }
    }
    std::multiset<std::string> got;
    xmlXPathObjectPtr o =
        xmlXPathEvalExpression((const xmlChar *)"//s:g[@class='kernel']", ctx);
    ASSERT_NE(o, nullptr);
    for (int n = 0; o->nodesetval && n < o->nodesetval->nodeNr; n++) {
        xmlNodePtr g = o->nodesetval->nodeTab[n];
        auto attr = [&](const char *a) {
            xmlChar *v = xmlGetProp(g, (const xmlChar *)a);
            std::string s = v ? (const char *)v : "";
            xmlFree(v);
            return s;
        };
        got.insert(attr("data-backend") + "/" + attr("data-kernel") + "/" + attr("data-config"));
        // a tooltip and a drawn shape in each marker
        int kids = 0, titles = 0;
        for (xmlNodePtr c = g->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE) {
                kids++;
                titles += !xmlStrcmp(c->name, (const xmlChar *)"title");
            }
        EXPECT_EQ(titles, 1);
        EXPECT_EQ(kids, 2);
    }
    xmlXPathFreeObject(o);
    EXPECT_EQ(got.size(), want.size());
    EXPECT_TRUE(got == want) << "markers differ from the JSON's kernels";

    // a compute ceiling per measured backend, sloped ones per level, axis labels, a legend
    EXPECT_EQ(xpath_count(ctx, "//s:path[@class='ceiling compute']"), drawn_backends);
    EXPECT_GE(xpath_count(ctx, "//s:path[@class='ceiling memory']"), drawn_backends);
    EXPECT_EQ(xpath_count(ctx, "//s:text[contains(., 'arithmetic intensity')]"), 1);
    EXPECT_EQ(xpath_count(ctx, "//s:text[contains(., 'GFLOP/s')]") > 0, true);
    EXPECT_EQ(xpath_count(ctx, "//s:g[@id='legend']"), 1);
    EXPECT_EQ(xpath_count(ctx, "//s:text[contains(., 'zero (no FLOPs)')]"), 1);

    // the measured bandwidth curves: per drawn backend, one series per stream, with the
    // JSON's points (for the threads of its drawn ceilings) and a mark per plateau; and per
    // backend the threads its kernels ran on and the ceilings they are placed against
    int curves_seen = 0;
    json_array_foreach(json_object_get(root, "backends"), i, b) {
        if (!json_is_true(json_object_get(b, "measured")) ||
            !json_is_true(json_object_get(b, "has_probes")))
            continue;
        std::string name = json_string_value(json_object_get(b, "name"));
        for (const char *stream : {"read", "read+write"}) {
            std::string q = "//s:path[@class='curve'][@data-backend='" + name +
                            "'][@data-stream='" + stream + "']";
            xmlXPathObjectPtr c = xmlXPathEvalExpression((const xmlChar *)q.c_str(), ctx);
            ASSERT_NE(c, nullptr);
            ASSERT_EQ(c->nodesetval ? c->nodesetval->nodeNr : 0, 1) << q;
            xmlNodePtr path = c->nodesetval->nodeTab[0];
            xmlChar *th = xmlGetProp(path, (const xmlChar *)"data-threads");
            xmlChar *d = xmlGetProp(path, (const xmlChar *)"d");
            int threads = th ? atoi((const char *)th) : -1;
            std::string dd = d ? (const char *)d : "";
            xmlFree(th);
            xmlFree(d);
            xmlXPathFreeObject(c);
            json_t *cv, *match = nullptr;
            json_array_foreach(json_object_get(b, "curves"), j, cv) {
                if (json_integer_value(json_object_get(cv, "threads")) == threads &&
                    !strcmp(json_string_value(json_object_get(cv, "stream")), stream))
                    match = cv;
            }
            ASSERT_NE(match, nullptr) << name << " " << stream << " on " << threads;
            size_t points = json_array_size(json_object_get(match, "points"));
            EXPECT_GT(points, 1u);
            size_t vertices = 0;
            for (char ch : dd)
                vertices += ch == 'M' || ch == 'L';
            EXPECT_EQ(vertices, points) << name << " " << stream;
            std::string pq = "//s:path[@class='plateau'][@data-backend='" + name +
                             "'][@data-stream='" + stream + "']";
            EXPECT_EQ(xpath_count(ctx, pq.c_str()),
                      (int)json_array_size(json_object_get(match, "plateaus")))
                << pq;
            curves_seen++;
        }
        if (json_array_size(json_object_get(b, "kernels")) > 0) {
            std::string tq = "//s:text[@class='threads'][@data-backend='" + name +
                             "'][contains(., '" +
                             json_string_value(json_object_get(b, "threads_note")) + "')]";
            EXPECT_EQ(xpath_count(ctx, tq.c_str()), 1) << tq;
        }
    }
    EXPECT_EQ(curves_seen, 2 * drawn_backends);
    EXPECT_EQ(xpath_count(ctx, "//s:text[contains(., 'working set per thread')]"), 1);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
#endif
}

}  // namespace

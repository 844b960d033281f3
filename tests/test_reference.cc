// The engine (scalar backend, float32) against an independent double-precision
// implementation of the spec (shared/spec/model.md), written here from the spec alone:
// the loss, the logits and every parameter gradient for several shapes, one Adam step,
// and the learning-rate schedules.
//
// Tolerances. The engine computes in float32 (unit roundoff u = 2^-24 = 6e-8). A dot
// product of length n has a relative error of at most ~n*u and typically ~sqrt(n)*u; the
// longest reductions here are over 4C = 64 channels or T = 16 positions, and a gradient
// passes through ~10 such stages per layer (forward and backward). That bounds the error
// of a well-conditioned value by ~1e-5 relative and makes ~1e-6 typical, so we ask
//     |engine - reference| <= atol + rtol * |reference|,  rtol = 1e-4,
// with atol = 1e-5 * (largest |reference| in the same tensor): an element that is the sum of
// terms which cancel has an absolute error set by the size of the terms, i.e. by the
// tensor's scale, not by its own (possibly tiny) value. A wrong formula (a missing
// scale, a transposed weight, a leaked padding position, a head mixed up) gives errors of
// order 1 relative, 4 orders of magnitude above these tolerances (a 0.1% error in the
// loss gradient's scale, 0.01% in rmsnorm's output, or 1% in one channel of dq are all
// caught). Measured on the scalar backend: max |error| <= 3.4e-6 x the tensor's max
// |gradient| (the sharp-attention case; typically 1e-7 .. 1e-6), loss within 6e-8
// relative. The double reference itself is checked against central differences in
// double first. Set MGPT_TEST_VERBOSE=1 to print the per-tensor errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "model/model.h"
#include "model/optimizer.h"
}
#include "test_util.h"

namespace {

using namespace mgpt_test;

typedef std::vector<double> Vec;

// ---------------------------------------------------------------------------------------
// The reference model: the spec's network in double, one document (row of T positions)
// at a time, as plain forward/backward functions.

struct RefModel {
    int V, C, H, L, T;
    Vec wte, wpe, lm_head;
    struct Layer {
        Vec wq, wk, wv, wo, fc1, fc2;
    };
    std::vector<Layer> layer;

    RefModel(int V_, int C_, int H_, int L_, int T_) : V(V_), C(C_), H(H_), L(L_), T(T_)
    {
        wte.assign((size_t)V * C, 0.0);
        wpe.assign((size_t)T * C, 0.0);
        lm_head.assign((size_t)V * C, 0.0);
        layer.resize(L);
        for (Layer &l : layer) {
            l.wq.assign((size_t)C * C, 0.0);
            l.wk.assign((size_t)C * C, 0.0);
            l.wv.assign((size_t)C * C, 0.0);
            l.wo.assign((size_t)C * C, 0.0);
            l.fc1.assign((size_t)4 * C * C, 0.0);
            l.fc2.assign((size_t)C * 4 * C, 0.0);
        }
    }

    // The spec's parameter table, in its order.
    struct Entry {
        std::string name;
        int rows, cols;
        bool init_zero;
        Vec *w;
    };
    std::vector<Entry> table()
    {
        std::vector<Entry> t;
        t.push_back({"wte", V, C, false, &wte});
        t.push_back({"wpe", T, C, false, &wpe});
        t.push_back({"lm_head", V, C, false, &lm_head});
        for (int i = 0; i < L; i++) {
            std::string p = "layer" + std::to_string(i) + ".";
            t.push_back({p + "attn_wq", C, C, false, &layer[i].wq});
            t.push_back({p + "attn_wk", C, C, false, &layer[i].wk});
            t.push_back({p + "attn_wv", C, C, false, &layer[i].wv});
            t.push_back({p + "attn_wo", C, C, true, &layer[i].wo});
            t.push_back({p + "mlp_fc1", 4 * C, C, false, &layer[i].fc1});
            t.push_back({p + "mlp_fc2", C, 4 * C, true, &layer[i].fc2});
        }
        return t;
    }
};

// y = x / sqrt(mean(x^2) + 1e-5), no weight.
void rms_fwd(const double *x, double *y, int C)
{
    double ss = 0;
    for (int i = 0; i < C; i++)
        ss += x[i] * x[i];
    double r = 1.0 / std::sqrt(ss / C + 1e-5);
    for (int i = 0; i < C; i++)
        y[i] = x[i] * r;
}

// dy_j/dx_i = r delta_ij - r^3 x_i x_j / C, so dx_i += r dy_i - r^3 x_i (dy . x) / C.
void rms_bwd(const double *x, const double *dy, double *dx, int C)
{
    double ss = 0, dot = 0;
    for (int i = 0; i < C; i++) {
        ss += x[i] * x[i];
        dot += dy[i] * x[i];
    }
    double r = 1.0 / std::sqrt(ss / C + 1e-5);
    for (int i = 0; i < C; i++)
        dx[i] += r * dy[i] - r * r * r * x[i] * dot / C;
}

// y[n, OC] = x[n, IC] @ W[OC, IC]^T
void lin_fwd(const double *x, const Vec &W, double *y, int n, int IC, int OC)
{
    for (int t = 0; t < n; t++)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int i = 0; i < IC; i++)
                s += x[(size_t)t * IC + i] * W[(size_t)o * IC + i];
            y[(size_t)t * OC + o] = s;
        }
}

void lin_bwd(const double *x, const Vec &W, const double *dy, double *dx, Vec &dW, int n, int IC,
             int OC)
{
    for (int t = 0; t < n; t++)
        for (int o = 0; o < OC; o++) {
            double g = dy[(size_t)t * OC + o];
            for (int i = 0; i < IC; i++) {
                dx[(size_t)t * IC + i] += g * W[(size_t)o * IC + i];
                dW[(size_t)o * IC + i] += g * x[(size_t)t * IC + i];
            }
        }
}

struct LayerAct {
    Vec xin, h1, q, k, v, att, y, xmid, h2, f, g;
};

// The mean cross-entropy of the batch (B rows of T) over the unmasked targets; with grad,
// adds d(loss)/d(param) into it. logits (optional) receives [B*T, V].
double ref_loss(const RefModel &P, const int *tokens, const int *targets, int B,
                RefModel *grad = nullptr, Vec *logits_out = nullptr)
{
    const int T = P.T, C = P.C, H = P.H, V = P.V, F = 4 * C, hd = C / H;
    const double scale = 1.0 / std::sqrt((double)hd);
    int count = 0;
    for (int n = 0; n < B * T; n++)
        count += targets[n] >= 0;
    if (logits_out)
        logits_out->assign((size_t)B * T * V, 0.0);
    double total = 0;
    for (int b = 0; b < B; b++) {
        const int *tok = tokens + (size_t)b * T;
        const int *tgt = targets + (size_t)b * T;

        // x = rmsnorm(wte[tok] + wpe[pos])
        Vec e((size_t)T * C), x((size_t)T * C);
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < C; i++)
                e[(size_t)t * C + i] = P.wte[(size_t)tok[t] * C + i] + P.wpe[(size_t)t * C + i];
            rms_fwd(&e[(size_t)t * C], &x[(size_t)t * C], C);
        }
        std::vector<LayerAct> acts(P.L);
        for (int l = 0; l < P.L; l++) {
            const RefModel::Layer &W = P.layer[l];
            LayerAct &a = acts[l];
            a.xin = x;
            a.h1.assign((size_t)T * C, 0);
            for (int t = 0; t < T; t++)
                rms_fwd(&a.xin[(size_t)t * C], &a.h1[(size_t)t * C], C);
            a.q.assign((size_t)T * C, 0);
            a.k.assign((size_t)T * C, 0);
            a.v.assign((size_t)T * C, 0);
            lin_fwd(a.h1.data(), W.wq, a.q.data(), T, C, C);
            lin_fwd(a.h1.data(), W.wk, a.k.data(), T, C, C);
            lin_fwd(a.h1.data(), W.wv, a.v.data(), T, C, C);
            // per head: a = softmax_causal(q_h . k_h / sqrt(hd)); y_h = a @ v_h
            a.att.assign((size_t)H * T * T, 0);
            a.y.assign((size_t)T * C, 0);
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    double *row = &a.att[((size_t)h * T + t) * T];
                    double mx = -1e300;
                    for (int u = 0; u <= t; u++) {
                        double s = 0;
                        for (int d = 0; d < hd; d++)
                            s += a.q[(size_t)t * C + h * hd + d] * a.k[(size_t)u * C + h * hd + d];
                        row[u] = s * scale;
                        mx = std::max(mx, row[u]);
                    }
                    double z = 0;
                    for (int u = 0; u <= t; u++) {
                        row[u] = std::exp(row[u] - mx);
                        z += row[u];
                    }
                    for (int u = 0; u <= t; u++)
                        row[u] /= z;
                    for (int d = 0; d < hd; d++) {
                        double s = 0;
                        for (int u = 0; u <= t; u++)
                            s += row[u] * a.v[(size_t)u * C + h * hd + d];
                        a.y[(size_t)t * C + h * hd + d] = s;
                    }
                }
            // x = y @ Wo^T + r
            a.xmid.assign((size_t)T * C, 0);
            lin_fwd(a.y.data(), W.wo, a.xmid.data(), T, C, C);
            for (size_t i = 0; i < a.xmid.size(); i++)
                a.xmid[i] += a.xin[i];
            // x = relu(rmsnorm(x) @ W1^T)^2 @ W2^T + r
            a.h2.assign((size_t)T * C, 0);
            for (int t = 0; t < T; t++)
                rms_fwd(&a.xmid[(size_t)t * C], &a.h2[(size_t)t * C], C);
            a.f.assign((size_t)T * F, 0);
            lin_fwd(a.h2.data(), W.fc1, a.f.data(), T, C, F);
            a.g.assign((size_t)T * F, 0);
            for (size_t i = 0; i < a.f.size(); i++)
                a.g[i] = a.f[i] > 0 ? a.f[i] * a.f[i] : 0.0;
            lin_fwd(a.g.data(), W.fc2, x.data(), T, F, C);
            for (size_t i = 0; i < x.size(); i++)
                x[i] += a.xmid[i];
        }
        // logits = x @ lm_head^T (no final norm); loss = logsumexp - logit[target]
        Vec logits((size_t)T * V);
        lin_fwd(x.data(), P.lm_head, logits.data(), T, C, V);
        if (logits_out)
            std::copy(logits.begin(), logits.end(), logits_out->begin() + (size_t)b * T * V);
        Vec dlogits((size_t)T * V, 0.0);
        for (int t = 0; t < T; t++) {
            if (tgt[t] < 0)
                continue;
            const double *lg = &logits[(size_t)t * V];
            double mx = *std::max_element(lg, lg + V);
            double z = 0;
            for (int j = 0; j < V; j++)
                z += std::exp(lg[j] - mx);
            double lse = mx + std::log(z);
            total += lse - lg[tgt[t]];
            for (int j = 0; j < V; j++)
                dlogits[(size_t)t * V + j] =
                    (std::exp(lg[j] - lse) - (j == tgt[t] ? 1.0 : 0.0)) / count;
        }
        if (!grad)
            continue;

        // Backward, in reverse.
        Vec dx((size_t)T * C, 0.0);
        lin_bwd(x.data(), P.lm_head, dlogits.data(), dx.data(), grad->lm_head, T, C, V);
        for (int l = P.L - 1; l >= 0; l--) {
            const RefModel::Layer &W = P.layer[l];
            RefModel::Layer &G = grad->layer[l];
            LayerAct &a = acts[l];
            // x_out = fc2(relu(fc1(rmsnorm(xmid)))^2) + xmid
            Vec dxmid = dx;
            Vec dg((size_t)T * F, 0.0), df((size_t)T * F, 0.0), dh2((size_t)T * C, 0.0);
            lin_bwd(a.g.data(), W.fc2, dx.data(), dg.data(), G.fc2, T, F, C);
            for (size_t i = 0; i < df.size(); i++)
                df[i] = a.f[i] > 0 ? dg[i] * 2.0 * a.f[i] : 0.0;
            lin_bwd(a.h2.data(), W.fc1, df.data(), dh2.data(), G.fc1, T, C, F);
            for (int t = 0; t < T; t++)
                rms_bwd(&a.xmid[(size_t)t * C], &dh2[(size_t)t * C], &dxmid[(size_t)t * C], C);
            // xmid = wo(y) + xin
            Vec dxin = dxmid;
            Vec dy((size_t)T * C, 0.0);
            lin_bwd(a.y.data(), W.wo, dxmid.data(), dy.data(), G.wo, T, C, C);
            // attention, per head
            Vec dq((size_t)T * C, 0.0), dk((size_t)T * C, 0.0), dv((size_t)T * C, 0.0);
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    const double *row = &a.att[((size_t)h * T + t) * T];
                    Vec da(t + 1);
                    double sum = 0;
                    for (int u = 0; u <= t; u++) {
                        double s = 0;
                        for (int d = 0; d < hd; d++) {
                            s += dy[(size_t)t * C + h * hd + d] * a.v[(size_t)u * C + h * hd + d];
                            dv[(size_t)u * C + h * hd + d] += row[u] * dy[(size_t)t * C + h * hd + d];
                        }
                        da[u] = s;
                        sum += row[u] * s;
                    }
                    for (int u = 0; u <= t; u++) {
                        double ds = row[u] * (da[u] - sum) * scale;
                        for (int d = 0; d < hd; d++) {
                            dq[(size_t)t * C + h * hd + d] += ds * a.k[(size_t)u * C + h * hd + d];
                            dk[(size_t)u * C + h * hd + d] += ds * a.q[(size_t)t * C + h * hd + d];
                        }
                    }
                }
            Vec dh1((size_t)T * C, 0.0);
            lin_bwd(a.h1.data(), W.wq, dq.data(), dh1.data(), G.wq, T, C, C);
            lin_bwd(a.h1.data(), W.wk, dk.data(), dh1.data(), G.wk, T, C, C);
            lin_bwd(a.h1.data(), W.wv, dv.data(), dh1.data(), G.wv, T, C, C);
            for (int t = 0; t < T; t++)
                rms_bwd(&a.xin[(size_t)t * C], &dh1[(size_t)t * C], &dxin[(size_t)t * C], C);
            dx = dxin;
        }
        Vec de((size_t)T * C, 0.0);
        for (int t = 0; t < T; t++) {
            rms_bwd(&e[(size_t)t * C], &dx[(size_t)t * C], &de[(size_t)t * C], C);
            for (int i = 0; i < C; i++) {
                grad->wte[(size_t)tok[t] * C + i] += de[(size_t)t * C + i];
                grad->wpe[(size_t)t * C + i] += de[(size_t)t * C + i];
            }
        }
    }
    return count > 0 ? total / count : 0.0;
}

// ---------------------------------------------------------------------------------------
// A test case: a shape, a batch of documents (some padded, some truncated, maybe an
// all-padding row), and parameters.

struct Case {
    const char *what;
    int V, C, H, L, T;
    std::vector<int> doc_lengths;  // characters; -1 = an all-padding row
    double param_scale;            // 0 = the engine's init, then wo and fc2 perturbed
    uint64_t seed;
};

std::ostream &operator<<(std::ostream &os, const Case &c)
{
    return os << c.what;
}

const Case kCases[] = {
    // engine init (N(0, 0.02), wo = fc2 = 0) with wo and fc2 then made non-zero
    {"V7_C8_H1_L1_T5_B1_init", 7, 8, 1, 1, 5, {3}, 0.0, 1},
    {"V27_C16_H4_L2_T16_B2_init", 27, 16, 4, 2, 16, {7, 20}, 0.0, 2},
    // O(1) random parameters: sharp attention, ReLUs that cut, every path carrying gradient
    {"V11_C16_H4_L2_T8_B4_padded", 11, 16, 4, 2, 8, {2, 9, 5, -1}, 1.0, 3},
    {"V5_C12_H4_L2_T6_B3_hd3", 5, 12, 4, 2, 6, {6, 1, 4}, 1.0, 4},
    {"V27_C8_H1_L2_T7_B2_sharp", 27, 8, 1, 2, 7, {3, 10}, 2.0, 5},
    {"V13_C8_H2_L3_T9_B5_mixed", 13, 8, 2, 3, 9, {8, 7, 1, 12, 4}, 1.0, 6},
};

// Builds the engine model of c, its batch and its parameters, and the matching reference.
struct CaseModel {
    ModelPtr m;
    RefModel ref;
    int max_n = 0;  // longest row (positions with a target)
    explicit CaseModel(const Case &c) : ref(c.V, c.C, c.H, c.L, c.T)
    {
        int B = (int)c.doc_lengths.size();
        mgpt_config cfg = make_config(c.V, c.C, c.H, c.L, c.T);
        m = make_model(cfg, B);
        if (!m)
            return;
        std::vector<int> lens;
        for (int l : c.doc_lengths)
            lens.push_back(l < 0 ? 0 : l);
        auto docs = random_docs(lens, c.V, c.seed);
        for (int b = 0; b < B; b++) {
            int n = spec_encode_row(docs[b], c.T, m->tokens + (size_t)b * c.T,
                                    m->targets + (size_t)b * c.T, c.doc_lengths[b] < 0);
            max_n = std::max(max_n, n);
        }
        if (c.param_scale == 0.0) {
            mgpt_model_init(m.get(), c.seed);
            std::mt19937_64 g(c.seed + 100);
            std::normal_distribution<double> nd(0.0, 0.02);
            for (int i = 0; i < m->n_params; i++) {
                mgpt_param *p = &m->params[i];
                if (p->init_zero)
                    for (int j = 0; j < p->rows * p->cols; j++)
                        p->data[j] = (float)nd(g);
            }
        } else {
            randomize_params(m.get(), c.seed + 100, c.param_scale);
        }
        for (RefModel::Entry &e : ref.table()) {
            mgpt_param *p = mgpt_model_param(m.get(), e.name.c_str());
            if (!p)
                continue;  // reported by SpecParameterTable
            for (size_t j = 0; j < e.w->size(); j++)
                (*e.w)[j] = p->data[j];
        }
    }
};

// ---------------------------------------------------------------------------------------

TEST(Reference, SpecParameterTable)
{
    // The engine's parameters are exactly the spec's table: names, order, shapes, init.
    for (const Case &c : kCases) {
        CaseModel s(c);
        ASSERT_TRUE(s.m) << c;
        std::vector<RefModel::Entry> t = s.ref.table();
        ASSERT_EQ(s.m->n_params, (int)t.size()) << c;
        size_t total = 0;
        for (int i = 0; i < s.m->n_params; i++) {
            const mgpt_param &p = s.m->params[i];
            EXPECT_EQ(std::string(p.name), t[i].name) << c << " parameter " << i;
            EXPECT_EQ(p.rows, t[i].rows) << c << " " << t[i].name;
            EXPECT_EQ(p.cols, t[i].cols) << c << " " << t[i].name;
            EXPECT_EQ(p.init_zero != 0, t[i].init_zero) << c << " " << t[i].name;
            total += (size_t)t[i].rows * t[i].cols;
        }
        EXPECT_EQ(s.m->num_floats, total) << c;
    }
}

TEST(Reference, InitIsSpecDistribution)
{
    // N(0, 0.02) for the random tensors, exact zeros for attn_wo and mlp_fc2. With ~2e5
    // samples the sample std is within 0.5% of sigma (5 standard errors: 5/sqrt(2n)).
    mgpt_config cfg = make_config(27, 64, 4, 4, 16);
    ModelPtr m = make_model(cfg, 1);
    ASSERT_TRUE(m);
    mgpt_model_init(m.get(), 7);
    double sum = 0, sumsq = 0;
    size_t n = 0;
    for (int i = 0; i < m->n_params; i++) {
        const mgpt_param &p = m->params[i];
        for (int j = 0; j < p.rows * p.cols; j++) {
            if (p.init_zero) {
                ASSERT_EQ(p.data[j], 0.0f) << p.name << "[" << j << "]";
            } else {
                sum += p.data[j];
                sumsq += (double)p.data[j] * p.data[j];
                n++;
            }
        }
    }
    ASSERT_GT(n, 100000u);
    double mean = sum / n, sd = std::sqrt(sumsq / n - mean * mean);
    EXPECT_LT(std::fabs(mean), 5 * 0.02 / std::sqrt((double)n));
    EXPECT_NEAR(sd, 0.02, 0.02 * 5 / std::sqrt(2.0 * n));
}

TEST(Reference, ReferenceMatchesFiniteDifferences)
{
    // The double reference's backward against central differences of its own forward:
    // h = 1e-5 gives a truncation error ~h^2 |L'''| ~ 1e-10 and a rounding error
    // ~1e-16/h = 1e-11, far inside 1e-7 + 1e-6 |g|; a wrong backward formula is off by
    // O(|g|).
    for (const Case &c : kCases) {
        CaseModel s(c);
        ASSERT_TRUE(s.m) << c;
        int B = s.m->B;
        RefModel g(c.V, c.C, c.H, c.L, c.T);
        ref_loss(s.ref, s.m->tokens, s.m->targets, B, &g);
        std::vector<RefModel::Entry> pt = s.ref.table(), gt = g.table();
        std::mt19937_64 rng(c.seed);
        for (size_t i = 0; i < pt.size(); i++) {
            Vec &w = *pt[i].w;
            for (int probe = 0; probe < 4; probe++) {
                size_t j = rng() % w.size();
                double h = 1e-5, w0 = w[j];
                w[j] = w0 + h;
                double lp = ref_loss(s.ref, s.m->tokens, s.m->targets, B);
                w[j] = w0 - h;
                double lm = ref_loss(s.ref, s.m->tokens, s.m->targets, B);
                w[j] = w0;
                double fd = (lp - lm) / (2 * h), an = (*gt[i].w)[j];
                EXPECT_TRUE(within(an, fd, 1e-7, 1e-6))
                    << c << " " << pt[i].name << "[" << j << "]: analytic " << an << ", fd " << fd;
            }
        }
    }
}

TEST(Reference, LossLogitsAndEveryGradient)
{
    const double rtol = 1e-4, atol_rel = 1e-5;
    for (const Case &c : kCases) {
        CaseModel s(c);
        ASSERT_TRUE(s.m) << c;
        mgpt_model *m = s.m.get();
        int B = m->B, T = m->T, V = c.V;

        float loss = mgpt_model_forward(m);
        mgpt_model_backward(m);
        RefModel g(c.V, c.C, c.H, c.L, c.T);
        Vec logits;
        double ref = ref_loss(s.ref, m->tokens, m->targets, B, &g, &logits);

        // the loss: one float rounding of a ~3 value plus the forward's error
        EXPECT_TRUE(within(loss, ref, 0.0, 1e-5))
            << c << ": engine loss " << loss << ", reference " << ref;
        if (getenv("MGPT_TEST_VERBOSE"))
            printf("%-28s loss %.7f, reference %.7f, relative error %.2e\n", c.what, loss, ref,
                   std::fabs(loss - ref) / ref);

        // the logits of every position that has a target
        double lmax = 0;
        for (double x : logits)
            lmax = std::max(lmax, std::fabs(x));
        int bad_logits = 0;
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                if (m->targets[b * T + t] < 0)
                    continue;
                const float *el = mgpt_model_logits(m, b, t);
                for (int j = 0; j < V; j++) {
                    double r = logits[((size_t)b * T + t) * V + j];
                    worst = std::max(worst, std::fabs(el[j] - r));
                    if (!within(el[j], r, atol_rel * lmax, rtol) && bad_logits++ < 3)
                        ADD_FAILURE() << c << ": logit (" << b << "," << t << "," << j
                                      << ") engine " << el[j] << ", reference " << r;
                }
            }
        EXPECT_EQ(bad_logits, 0) << c << ": max |logit error| " << worst << " (max |logit| "
                                 << lmax << ")";

        // every parameter gradient, element by element
        std::vector<RefModel::Entry> gt = g.table();
        for (const RefModel::Entry &e : gt) {
            const mgpt_param *p = mgpt_model_param(m, e.name.c_str());
            ASSERT_NE(p, nullptr) << e.name;
            const Vec &r = *e.w;
            double gmax = 0;
            for (double x : r)
                gmax = std::max(gmax, std::fabs(x));
            // every path of the network must carry gradient, or the comparison is empty
            // (at the engine's init, attention is nearly uniform and wq, wk get ~1e-6)
            EXPECT_GT(gmax, c.param_scale == 0.0 ? 1e-9 : 1e-3)
                << c << ": reference gradient of " << e.name << " is ~0";
            int bad = 0;
            double max_abs = 0;
            for (size_t j = 0; j < r.size(); j++) {
                double d = std::fabs(p->grad[j] - r[j]);
                max_abs = std::max(max_abs, d);
                if (!within(p->grad[j], r[j], atol_rel * gmax, rtol) && bad++ < 3)
                    ADD_FAILURE() << c << ": d " << e.name << "[" << j / e.cols << ","
                                  << j % e.cols << "] engine " << p->grad[j] << ", reference "
                                  << r[j] << " (max |grad| in tensor " << gmax << ")";
            }
            EXPECT_EQ(bad, 0) << c << ": " << e.name << ": " << bad << " of " << r.size()
                              << " elements off; max |error| " << max_abs << " = "
                              << max_abs / gmax << " x max |grad|";
            if (getenv("MGPT_TEST_VERBOSE"))
                printf("%-28s %-16s max|g| %.3e  max|err| %.3e  (%.2e rel to max)\n", c.what,
                       e.name.c_str(), gmax, max_abs, max_abs / gmax);
        }

        // padding leaks nothing: positions no row reaches have exactly zero gradient
        const mgpt_param *wpe = mgpt_model_param(m, "wpe");
        for (int t = s.max_n; t < T; t++)
            for (int i = 0; i < c.C; i++)
                ASSERT_EQ(wpe->grad[(size_t)t * c.C + i], 0.0f)
                    << c << ": wpe row " << t << " is only ever padding";
    }
}

TEST(Reference, AllPaddingBatchHasZeroLossAndGradient)
{
    // With no target the loss is 0 and so is every gradient, stored as such by the backward
    // pass: the gradient arenas start full of NaN (a step that skipped the backward of the
    // loss, or left a gradient as the last step did, would leave them so).
    mgpt_config cfg = make_config(7, 8, 2, 1, 4);
    ModelPtr m = make_model(cfg, 2);
    ASSERT_TRUE(m);
    randomize_params(m.get(), 11);
    for (int b = 0; b < 2; b++)
        spec_encode_row({}, 4, m->tokens + b * 4, m->targets + b * 4, true);
    std::fill(m->grad_mem, m->grad_mem + m->num_floats, NAN);
    std::fill(m->act_grad_mem, m->act_grad_mem + m->act_grad_floats, NAN);
    EXPECT_EQ(mgpt_model_forward(m.get()), 0.0f);
    mgpt_model_backward(m.get());
    for (size_t i = 0; i < m->num_floats; i++)
        ASSERT_EQ(m->grad_mem[i], 0.0f) << "gradient element " << i;
}

TEST(Reference, BackwardNeverReadsAGradientBeforeWritingIt)
{
    // The first kernel of the backward walk to contribute to a gradient stores it (the write
    // bits, planned in model.c), and only dwte and dwpe are zeroed (just before embed's
    // scatter adds into them): no gradient's old contents are ever read. With both gradient
    // arenas full of NaN before the second of two identical backward passes, any gradient
    // read before this pass wrote it would turn NaN: both passes must give the same bits,
    // for the parameters and for every activation that keeps a gradient. Some rows padded,
    // so masked rows (written with 0 by the loss's backward) are covered.
    mgpt_config cfg = make_config(11, 16, 4, 2, 8);
    ModelPtr m = make_model(cfg, 3);
    ASSERT_TRUE(m);
    randomize_params(m.get(), 31);
    auto docs = random_docs({3, 9, 5}, 11, 32);
    for (int b = 0; b < 3; b++)
        spec_encode_row(docs[b], 8, m->tokens + b * 8, m->targets + b * 8);
    std::vector<float> first[2];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            std::fill(m->grad_mem, m->grad_mem + m->num_floats, NAN);
            std::fill(m->act_grad_mem, m->act_grad_mem + m->act_grad_floats, NAN);
        }
        mgpt_model_forward(m.get());
        mgpt_model_backward(m.get());
        std::vector<float> params(m->grad_mem, m->grad_mem + m->num_floats), acts;
        for (int i = 0; i < m->graph.n_nodes; i++) {   // activations: the nodes' outputs
            const mgpt_tensor *t = m->graph.nodes[i].out;
            if (t->grad)
                acts.insert(acts.end(), t->grad, t->grad + t->numel);
        }
        if (pass == 0) {
            first[0] = params;
            first[1] = acts;
            continue;
        }
        ASSERT_EQ(acts.size(), first[1].size());
        EXPECT_GT(acts.size(), (size_t)m->N * cfg.n_embd);
        EXPECT_EQ(memcmp(params.data(), first[0].data(), params.size() * sizeof(float)), 0)
            << "a parameter gradient was read before the pass wrote it";
        EXPECT_EQ(memcmp(acts.data(), first[1].data(), acts.size() * sizeof(float)), 0)
            << "an activation gradient was read before the pass wrote it";
    }
}

// The scalar kernels, with `zero` recording what it is called on.
std::vector<std::pair<const float *, size_t>> zero_calls;
const mgpt_kernels *zero_inner = nullptr;

void recording_zero(const mgpt_ctx *ctx, float *x, size_t n)
{
    zero_calls.push_back({x, n});
    zero_inner->zero(ctx, x, n);
}

// The tensor whose gradient starts at p, for messages.
std::string grad_owner(const mgpt_model *m, const float *p)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].grad == p)
            return m->tensors[i].name;
    return "a gradient no tensor starts at";
}

TEST(Reference, BackwardZeroesOnlyTheEmbeddingGradients)
{
    // Every other gradient is stored by its first contributor (the write bits), so a
    // backward pass calls zero exactly twice, on the whole of dwte and of dwpe (the
    // embedding's scatter only adds). Zeroing more is correct but costs a pass over the
    // gradient (what the write bits removed); the NaN test above fails if less.
    const mgpt_compute *c = ScalarBackend::get().compute();
    ASSERT_NE(c, nullptr) << ScalarBackend::get().why();
    mgpt_kernels rec = *c->k;
    rec.zero = recording_zero;
    zero_inner = c->k;
    const mgpt_compute recording = {&rec, c->ctx, nullptr};
    mgpt_config cfg = make_config(11, 16, 4, 2, 8);
    char err[512] = "";
    ModelPtr m(mgpt_model_create(&cfg, 3, &recording, err, sizeof err));
    ASSERT_TRUE(m) << err;
    randomize_params(m.get(), 41);
    auto docs = random_docs({3, 9, 5}, 11, 42);
    for (int b = 0; b < 3; b++)
        spec_encode_row(docs[b], 8, m->tokens + b * 8, m->targets + b * 8);
    for (int pass = 0; pass < 2; pass++) {
        mgpt_model_forward(m.get());
        zero_calls.clear();
        mgpt_model_backward(m.get());
        const mgpt_param *wte = mgpt_model_param(m.get(), "wte");
        const mgpt_param *wpe = mgpt_model_param(m.get(), "wpe");
        ASSERT_TRUE(wte && wpe);
        std::vector<std::pair<const float *, size_t>> want = {
            {wte->grad, (size_t)wte->rows * wte->cols}, {wpe->grad, (size_t)wpe->rows * wpe->cols}};
        std::vector<std::pair<const float *, size_t>> got = zero_calls;
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        std::string calls;
        for (const auto &c : zero_calls)
            calls += "\n  " + grad_owner(m.get(), c.first) + ", " + std::to_string(c.second) +
                     " floats";
        EXPECT_TRUE(got == want) << "pass " << pass + 1 << ": zero was called on:" << calls
                                 << "\n(expected: dwte and dwpe, whole, once each)";
    }
}

TEST(Reference, BatchRowsAreIndependent)
{
    // A document's loss and gradient do not depend on the other rows of the batch: the
    // batch of B rows gives exactly (bitwise, on the scalar backend: the kernels work row
    // by row) the logits of each document alone.
    mgpt_config cfg = make_config(11, 16, 4, 2, 8);
    ModelPtr big = make_model(cfg, 3), one = make_model(cfg, 1);
    ASSERT_TRUE(big && one);
    randomize_params(big.get(), 21);
    memcpy(one->param_mem, big->param_mem, big->num_floats * sizeof(float));
    auto docs = random_docs({3, 9, 5}, 11, 22);
    for (int b = 0; b < 3; b++)
        spec_encode_row(docs[b], 8, big->tokens + b * 8, big->targets + b * 8);
    mgpt_model_forward(big.get());
    for (int b = 0; b < 3; b++) {
        spec_encode_row(docs[b], 8, one->tokens, one->targets);
        mgpt_model_forward(one.get());
        for (int t = 0; t < 8; t++) {
            if (one->targets[t] < 0)
                continue;
            const float *a = mgpt_model_logits(big.get(), b, t), *e = mgpt_model_logits(one.get(), 0, t);
            for (int j = 0; j < 11; j++)
                ASSERT_EQ(a[j], e[j]) << "row " << b << " position " << t << " logit " << j;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The optimiser.

TEST(Reference, AdamStepMatchesDouble)
{
    // One Adam step from a mid-run state (step 3 of 10, non-zero m and v) against the
    // spec's update in double: beta1 0.9, beta2 0.95, eps 1e-8, bias correction with
    // t = step + 1, lr * (1 - step/total); then once more with global-norm clipping.
    // Budgets, u = 6e-8 the float unit roundoff:
    //  - m = b1 m + (1-b1) g is a sum whose terms may cancel: its error is a few u times
    //    the size of the terms, so |dm| <= 1e-6 (b1 |m0| + (1-b1) |g|);
    //  - v = b2 v + (1-b2) g^2 has positive terms: 1e-6 relative;
    //  - the parameter is checked against the update computed from the engine's own new m
    //    and v (each checked above), so that a cancellation in m is not counted twice: two
    //    roundings of |p| plus 1e-5 of the step lr * mhat / (sqrt(vhat) + eps).
    for (int clip = 0; clip < 2; clip++) {
        mgpt_config cfg = make_config(11, 8, 2, 1, 4);
        ModelPtr m = make_model(cfg, 1);
        ASSERT_TRUE(m);
        randomize_params(m.get(), 31);
        std::mt19937_64 g(32);
        std::normal_distribution<double> nd(0.0, 1.0);
        std::uniform_real_distribution<double> ex(-3.0, 0.0);
        size_t n = m->num_floats;
        for (size_t i = 0; i < n; i++) {
            m->grad_mem[i] = (float)(nd(g) * std::pow(10.0, ex(g)));
            m->m_mem[i] = (float)(0.01 * nd(g));
            m->v_mem[i] = (float)(1e-4 * std::fabs(nd(g)));
        }
        m->step = 3;
        mgpt_optim o;
        mgpt_optim_defaults(&o);
        o.total_steps = 10;
        double norm = 0;
        for (size_t i = 0; i < n; i++)
            norm += (double)m->grad_mem[i] * m->grad_mem[i];
        norm = std::sqrt(norm);
        double gscale = 1.0;
        if (clip) {
            o.grad_clip = (float)(0.5 * norm);
            gscale = o.grad_clip / norm;
        }
        std::vector<float> p0(m->param_mem, m->param_mem + n), g0(m->grad_mem, m->grad_mem + n),
            m0(m->m_mem, m->m_mem + n), v0(m->v_mem, m->v_mem + n);

        float got_norm = mgpt_adam_step(m.get(), &o);
        EXPECT_EQ(m->step, 4);
        EXPECT_TRUE(within(got_norm, norm, 0, 1e-6)) << got_norm << " vs " << norm;

        const double b1 = 0.9, b2 = 0.95, eps = 1e-8, t = 3 + 1;
        const double lr = 1e-2 * (1.0 - 3.0 / 10.0);
        int bad = 0;
        double worst[3] = {0, 0, 0};  // error / budget for m, v, param
        for (size_t i = 0; i < n && bad < 5; i++) {
            double gi = g0[i] * gscale;
            double mi = b1 * m0[i] + (1 - b1) * gi;
            double vi = b2 * v0[i] + (1 - b2) * gi * gi;
            double me = m->m_mem[i], ve = m->v_mem[i];
            double step = lr * (me / (1 - std::pow(b1, t))) / (std::sqrt(ve / (1 - std::pow(b2, t))) + eps);
            double pi = p0[i] - step;
            double tm = 1e-6 * (b1 * std::fabs(m0[i]) + (1 - b1) * std::fabs(gi));
            double tv = 1e-6 * vi, tp = 1e-5 * std::fabs(step) + 2.5 * 6e-8 * std::fabs(pi);
            worst[0] = std::max(worst[0], std::fabs(me - mi) / tm);
            worst[1] = std::max(worst[1], std::fabs(ve - vi) / tv);
            worst[2] = std::max(worst[2], std::fabs(m->param_mem[i] - pi) / tp);
            if (!within(me, mi, 1e-6 * (b1 * std::fabs(m0[i]) + (1 - b1) * std::fabs(gi)), 0) ||
                !within(ve, vi, 0, 1e-6) ||
                !within(m->param_mem[i], pi, 1e-5 * std::fabs(step), 2.5 * 6e-8)) {
                bad++;
                ADD_FAILURE() << "clip " << clip << " element " << i << ": param "
                              << m->param_mem[i] << " vs " << pi << ", m " << me << " vs " << mi
                              << ", v " << ve << " vs " << vi;
            }
            // the gradient itself is left alone
            ASSERT_EQ(m->grad_mem[i], g0[i]);
        }
        if (getenv("MGPT_TEST_VERBOSE"))
            printf("adam clip %d: worst error / budget: m %.3f, v %.3f, param %.3f\n", clip,
                   worst[0], worst[1], worst[2]);
    }
}

TEST(Reference, LearningRateSchedules)
{
    mgpt_optim o;
    mgpt_optim_defaults(&o);
    EXPECT_FLOAT_EQ(o.lr, 1e-2f);
    EXPECT_EQ(o.schedule, MGPT_LR_LINEAR);
    EXPECT_EQ(o.warmup_steps, 0);
    EXPECT_FLOAT_EQ(o.beta1, 0.9f);
    EXPECT_FLOAT_EQ(o.beta2, 0.95f);
    EXPECT_FLOAT_EQ(o.eps, 1e-8f);
    EXPECT_LE(o.grad_clip, 0.0f);

    const double lr = 3e-3;
    const int total = 100;
    o.lr = (float)lr;
    o.total_steps = total;
    // linear: the seed's lr * (1 - step / num_steps)
    o.schedule = MGPT_LR_LINEAR;
    for (long s : {0L, 1L, 37L, 50L, 99L, 100L})
        EXPECT_NEAR(mgpt_lr_at(&o, s), lr * (1.0 - (double)s / total), 1e-6 * lr) << "linear " << s;
    // cosine: lr * (1 + cos(pi * step / total)) / 2
    o.schedule = MGPT_LR_COSINE;
    for (long s : {0L, 1L, 25L, 50L, 75L, 99L, 100L})
        EXPECT_NEAR(mgpt_lr_at(&o, s), lr * 0.5 * (1.0 + std::cos(M_PI * s / total)), 1e-6 * lr)
            << "cosine " << s;
    // warmup: lr * (step + 1) / warmup, then the decay over the remaining steps,
    // p = (step - warmup) / (total - warmup)
    const int w = 10;
    o.warmup_steps = w;
    for (int sched = 0; sched < 2; sched++) {
        o.schedule = sched ? MGPT_LR_COSINE : MGPT_LR_LINEAR;
        for (long s : {0L, 1L, 5L, 9L})
            EXPECT_NEAR(mgpt_lr_at(&o, s), lr * (s + 1) / w, 1e-6 * lr) << "warmup " << s;
        for (long s : {10L, 11L, 40L, 55L, 99L, 100L}) {
            double p = (double)(s - w) / (total - w);
            double want = sched ? lr * 0.5 * (1.0 + std::cos(M_PI * p)) : lr * (1.0 - p);
            EXPECT_NEAR(mgpt_lr_at(&o, s), want, 1e-6 * lr)
                << (sched ? "cosine" : "linear") << " after warmup, step " << s;
        }
    }
    // the schedule never goes negative past the end
    o.warmup_steps = 0;
    o.schedule = MGPT_LR_LINEAR;
    EXPECT_GE(mgpt_lr_at(&o, total + 5), 0.0f);
}

}  // namespace

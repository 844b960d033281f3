// The engine's analytic gradients (mgpt_model_backward) against central finite differences
// of the engine's own float loss, on a tiny model: V 7, C 8, H 2, T 4, B 2, L 1. No
// reference implementation is involved: this checks the backward against the forward.
//
// Error budget (justifying the tolerances below). The loss is a float near 3, so each
// evaluation carries a rounding error dL of a few ulps of 3 (ulp = 2.4e-7) from the final
// conversion and the per-position float cross-entropies: we take |dL| <= 1e-6, and the
// test LossNoiseIsWithinBudget measures it. A central difference D(h) with step h has
//   - a rounding error  <= 2 |dL| / (2h) = |dL| / h,
//   - a truncation error h^2 |L'''| / 6, with |L'''| = O(1) for O(1) parameters.
// Richardson extrapolation D = (4 D(h/2) - D(h)) / 3 cancels the h^2 term, leaving O(h^4),
// so a large step h = 2e-2 can be used: rounding <= (4 * 2|dL|/h + |dL|/h) / 3 = 3|dL|/h
// = 1.5e-4, truncation ~ 1e-7. Hence, per element,
//     |fd - analytic| <= 3e-4 + 2e-2 |analytic|
// (the relative term covers the rarer case where a squared ReLU's pre-activation sits
// within the step of 0: its second derivative jumps there). A wrong backward formula is
// off by O(|analytic|), i.e. 0.01 .. 0.5 here: the analytic gradients sampled are required
// to be above 10 x 3e-4 so that each comparison means something (plus two random elements
// each, zeros included). Measured: |fd - analytic| <= 4e-5.
//
// Directional check: perturbing a whole tensor along a random direction u (|u_i| = 1)
// gives the derivative sum_i g_i u_i, which is O(sqrt(n)) larger than an element while
// the rounding error stays the same: that checks every element of every tensor at once
// with the same absolute budget and a relative one of 1e-2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "model/model.h"
}
#include "test_util.h"

namespace {

using namespace mgpt_test;

const double kAtol = 3e-4, kRtol = 2e-2;

struct Tiny {
    ModelPtr m;
    Tiny()
    {
        mgpt_config cfg = make_config(7, 8, 2, 1, 4);
        m = make_model(cfg, 2);
        if (!m)
            return;
        // one document padded (3 positions of 4), one truncated (a 6-character document)
        auto docs = random_docs({2, 6}, 7, 77);
        for (int b = 0; b < 2; b++)
            spec_encode_row(docs[b], 4, m->tokens + b * 4, m->targets + b * 4);
        randomize_params(m.get(), 78);
    }
    double loss() { return mgpt_model_forward(m.get()); }
};

// The central difference of the loss along direction dir (a set of elements of `data`,
// moved by h * dir[i]), using the steps actually taken after float rounding.
double central_diff(Tiny &t, float *data, const std::vector<size_t> &idx,
                    const std::vector<double> &dir, double h)
{
    std::vector<float> saved;
    for (size_t i : idx)
        saved.push_back(data[i]);
    // the steps actually taken, in units of dir (exact in double)
    double sp = 0, sm = 0, nn = 0;
    for (size_t k = 0; k < idx.size(); k++) {
        data[idx[k]] = (float)(saved[k] + h * dir[k]);
        sp += (data[idx[k]] - (double)saved[k]) * dir[k];
        nn += dir[k] * dir[k];
    }
    double lp = t.loss();
    for (size_t k = 0; k < idx.size(); k++) {
        data[idx[k]] = (float)(saved[k] - h * dir[k]);
        sm += ((double)saved[k] - data[idx[k]]) * dir[k];
    }
    double lm = t.loss();
    for (size_t k = 0; k < idx.size(); k++)
        data[idx[k]] = saved[k];
    return (lp - lm) / ((sp + sm) / nn);
}

double richardson(Tiny &t, float *data, const std::vector<size_t> &idx,
                  const std::vector<double> &dir, double h)
{
    double d1 = central_diff(t, data, idx, dir, h);
    double d2 = central_diff(t, data, idx, dir, h / 2);
    return (4 * d2 - d1) / 3;
}

TEST(GradCheck, LossNoiseIsWithinBudget)
{
    // The budget assumes each evaluation of the float loss is within 1e-6 of a smooth
    // function of the parameters. Sample the loss at 41 points of a small interval (steps
    // of 1e-4: the loss moves by ~1e-5 each, well above its ulp) and fit a cubic in
    // double: the largest residual is the rounding noise.
    Tiny t;
    ASSERT_TRUE(t.m);
    for (const char *name : {"layer0.mlp_fc1", "layer0.attn_wq", "wte"}) {
        mgpt_param *p = mgpt_model_param(t.m.get(), name);
        ASSERT_NE(p, nullptr);
        const int K = 20;
        float w0 = p->data[5];
        std::vector<double> x, y;
        for (int k = -K; k <= K; k++) {
            p->data[5] = (float)(w0 + k * 1e-4);
            x.push_back(p->data[5] - (double)w0);
            y.push_back(t.loss());
        }
        p->data[5] = w0;
        // least squares y ~ c0 + c1 x + c2 x^2 + c3 x^3 by the normal equations
        // (x scaled to [-1, 1] to keep them well conditioned)
        const int D = 4;
        double A[D][D + 1] = {};
        for (size_t i = 0; i < x.size(); i++) {
            double s = x[i] / (K * 1e-4), pw[D] = {1, s, s * s, s * s * s};
            for (int r = 0; r < D; r++) {
                for (int c = 0; c < D; c++)
                    A[r][c] += pw[r] * pw[c];
                A[r][D] += pw[r] * y[i];
            }
        }
        for (int c = 0; c < D; c++)  // Gauss-Jordan, no pivoting needed (SPD)
            for (int r = 0; r < D; r++)
                if (r != c) {
                    double f = A[r][c] / A[c][c];
                    for (int k = c; k <= D; k++)
                        A[r][k] -= f * A[c][k];
                }
        double worst = 0;
        for (size_t i = 0; i < x.size(); i++) {
            double s = x[i] / (K * 1e-4), fit = 0, pw = 1;
            for (int c = 0; c < D; c++, pw *= s)
                fit += A[c][D] / A[c][c] * pw;
            worst = std::max(worst, std::fabs(y[i] - fit));
        }
        EXPECT_LT(worst, 1e-6) << name << ": the float loss is noisier than the error budget assumes";
        EXPECT_NE(y.front(), y.back()) << name << ": the loss did not move";
        if (getenv("MGPT_TEST_VERBOSE"))
            printf("%-16s loss %.7f, rounding noise (max residual of a cubic fit) %.3e\n", name,
                   y[K], worst);
    }
}

TEST(GradCheck, SampledElementsOfEveryTensor)
{
    Tiny t;
    ASSERT_TRUE(t.m);
    mgpt_model *m = t.m.get();
    t.loss();
    mgpt_model_backward(m);
    std::vector<float> grad(m->grad_mem, m->grad_mem + m->num_floats);
    std::mt19937_64 rng(79);
    const double h = 2e-2;
    for (int i = 0; i < m->n_params; i++) {
        mgpt_param *p = &m->params[i];
        size_t off = (size_t)(p->grad - m->grad_mem), n = (size_t)p->rows * p->cols;
        // the elements whose gradient is large enough to be meaningful, in random order
        std::vector<size_t> cand;
        for (size_t j = 0; j < n; j++)
            if (std::fabs(grad[off + j]) > 10 * kAtol)
                cand.push_back(j);
        std::shuffle(cand.begin(), cand.end(), rng);
        ASSERT_GE(cand.size(), 4u) << p->name << ": too few gradients above " << 10 * kAtol;
        // and a few with any gradient at all, zeros included (wte rows of unused ids)
        cand.resize(std::min<size_t>(cand.size(), 6));
        for (int k = 0; k < 2; k++)
            cand.push_back(rng() % n);
        double worst = 0;
        for (size_t j : cand) {
            double fd = richardson(t, p->data, {j}, {1.0}, h);
            double an = grad[off + j];
            worst = std::max(worst, std::fabs(fd - an));
            EXPECT_TRUE(within(fd, an, kAtol, kRtol))
                << p->name << "[" << j / p->cols << "," << j % p->cols << "]: analytic " << an
                << ", finite difference " << fd;
        }
        if (getenv("MGPT_TEST_VERBOSE"))
            printf("%-18s worst |fd - analytic| %.2e\n", p->name, worst);
    }
}

TEST(GradCheck, RandomDirectionPerTensor)
{
    Tiny t;
    ASSERT_TRUE(t.m);
    mgpt_model *m = t.m.get();
    t.loss();
    mgpt_model_backward(m);
    std::vector<float> grad(m->grad_mem, m->grad_mem + m->num_floats);
    std::mt19937_64 rng(80);
    const double h = 2e-2;
    for (int i = 0; i < m->n_params; i++) {
        mgpt_param *p = &m->params[i];
        size_t off = (size_t)(p->grad - m->grad_mem), n = (size_t)p->rows * p->cols;
        for (int trial = 0; trial < 2; trial++) {
            std::vector<size_t> idx(n);
            std::vector<double> dir(n);
            double an = 0;
            for (size_t j = 0; j < n; j++) {
                idx[j] = j;
                dir[j] = (rng() & 1) ? 1.0 : -1.0;
                an += grad[off + j] * dir[j];
            }
            // the derivative along the unit vector dir / sqrt(n)
            // steps of h / sqrt(n) per element: a displacement of length h along the unit
            // vector u = dir / sqrt(n); both derivatives are then taken along u
            double rn = std::sqrt((double)n);
            double fd = richardson(t, p->data, idx, dir, h / rn) / rn;
            double an_unit = an / rn;
            EXPECT_TRUE(within(fd, an_unit, kAtol, 1e-2))
                << p->name << " direction " << trial << ": analytic " << an_unit
                << ", finite difference " << fd;
            if (getenv("MGPT_TEST_VERBOSE"))
                printf("%-18s dir %d analytic %.5e fd %.5e\n", p->name, trial, an_unit, fd);
        }
    }
}

}  // namespace

// Gradient accumulation (model/microbatch.h) and its fixed summation tree
// (model/grad_tree.h): the tree is rebuilt bitwise by any number of ranks sharing the
// micro-batches; micro-batches give the gradient of one big batch within the fp32
// reassociation bound; one micro-batch is the big batch bitwise; runs are bitwise
// repeatable.
//
// The bound. A parameter's gradient is a sum over the batch's rows of per-row terms
// t_n (an outer-product element dout[n] x[n], or an embedding row's dx[n]). One big batch
// adds them in its kernel's order; micro-batches add them within each micro-batch, then
// in the tree. Both are orderings of the same N terms, each computed with at most N - 1
// roundings on any path from a term to the result (one more for a leaf stored from a
// product), so each is within gamma_N * sum |t_n| of the exact sum (Higham, Accuracy and
// Stability, 2nd ed., eq. 4.4; gamma_N = N u / (1 - N u), u = 2^-24), and the two are
// within 2 gamma_N * sum |t_n| of each other. With one position per document (T = 1) a
// row is a document, so a micro-batch of one document has the gradient t_n itself
// (rounded once: |t_n| <= (1 + u) |g_n|): the test computes sum |t_n| from those, and
// needs the per-row terms to be the same in both runs, which holds as every forward and
// backward kernel computes a row from that row alone (the rows of the scalar backend).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

extern "C" {
#include "model/grad_tree.h"
#include "model/microbatch.h"
}
#include "test_util.h"

namespace {

using namespace mgpt_test;

TEST(GradTree, SplitsAtTheLargestPowerOfTwoBelow)
{
    EXPECT_EQ(mgpt_tree_split(0, 2), 1);
    EXPECT_EQ(mgpt_tree_split(0, 3), 2);
    EXPECT_EQ(mgpt_tree_split(0, 4), 2);
    EXPECT_EQ(mgpt_tree_split(0, 5), 4);
    EXPECT_EQ(mgpt_tree_split(0, 6), 4);
    EXPECT_EQ(mgpt_tree_split(4, 6), 5);
    EXPECT_EQ(mgpt_tree_split(8, 13), 12);
}

TEST(GradTree, CoversARangeWithItsMaximalNodes)
{
    mgpt_tree_node out[16];
    // [0, 6) = [0, 4) + [4, 6): ranks of 2 micro-batches each own whole nodes
    int n = mgpt_tree_cover(6, 2, 4, out, 16);
    ASSERT_EQ(n, 1);
    EXPECT_EQ(out[0].lo, 2);
    EXPECT_EQ(out[0].hi, 4);
    // [1, 5) of 6: [1, 2), [2, 4), [4, 5)
    n = mgpt_tree_cover(6, 1, 5, out, 16);
    ASSERT_EQ(n, 3);
    EXPECT_EQ(out[0].lo, 1);
    EXPECT_EQ(out[0].hi, 2);
    EXPECT_EQ(out[1].lo, 2);
    EXPECT_EQ(out[1].hi, 4);
    EXPECT_EQ(out[2].lo, 4);
    EXPECT_EQ(out[2].hi, 5);
    n = mgpt_tree_cover(6, 0, 6, out, 16);
    ASSERT_EQ(n, 1);
    EXPECT_EQ(out[0].hi, 6);
}

// The tree's sum of leaves written out here from its definition.
static float tree_sum_reference(const std::vector<float> &leaf, int lo, int hi)
{
    if (hi - lo == 1)
        return leaf[lo];
    int h = 1;
    while (2 * h < hi - lo)
        h *= 2;
    return tree_sum_reference(leaf, lo, lo + h) + tree_sum_reference(leaf, lo + h, hi);
}

// What the ranks do: each sums its maximal nodes from its leaves, then every node of
// every rank is combined in the tree. The root must not depend on the number of ranks.
TEST(GradTree, EveryNumberOfRanksRebuildsTheSameSumBitwise)
{
    const size_t n = 64;
    std::mt19937 g(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int k = 1; k <= 13; k++) {
        std::vector<std::vector<float>> leaves(k, std::vector<float>(n));
        for (auto &l : leaves)
            for (auto &x : l)
                x = u(g) * std::ldexp(1.0f, (int)(g() % 40) - 20);  // wide exponents
        std::vector<float> want(n);
        for (size_t i = 0; i < n; i++) {
            std::vector<float> col(k);
            for (int j = 0; j < k; j++)
                col[j] = leaves[j][i];
            want[i] = tree_sum_reference(col, 0, k);
        }
        for (int size = 1; size <= k; size++) {
            std::vector<std::vector<float>> work = leaves;
            std::vector<mgpt_tree_node> global;
            for (int r = 0; r < size; r++) {
                int lo = (int)((long long)r * k / size), hi = (int)((long long)(r + 1) * k / size);
                std::vector<mgpt_tree_node> mine(mgpt_tree_cover_cap(k)), leaf;
                int c = mgpt_tree_cover(k, lo, hi, mine.data(), (int)mine.size());
                ASSERT_LE(c, mgpt_tree_cover_cap(k));
                for (int j = lo; j < hi; j++)
                    leaf.push_back(mgpt_tree_node{j, j + 1, work[j].data()});
                for (int i = 0; i < c; i++) {
                    mine[i].sum = mgpt_tree_reduce(mine[i].lo, mine[i].hi, leaf.data() + (mine[i].lo - lo),
                                                   mine[i].hi - mine[i].lo, n);
                    ASSERT_NE(mine[i].sum, nullptr);
                    global.push_back(mine[i]);
                }
            }
            const float *root = mgpt_tree_reduce(0, k, global.data(), (int)global.size(), n);
            ASSERT_NE(root, nullptr);
            EXPECT_EQ(std::memcmp(root, want.data(), n * sizeof(float)), 0)
                << k << " micro-batches over " << size << " ranks";
        }
    }
}

TEST(GradTree, ARangeNotCoveredByTreeNodesIsRefused)
{
    float a[1] = {1}, b[1] = {2};
    mgpt_tree_node nodes[2] = {{0, 1, a}, {2, 3, b}};  // [1, 2) missing
    EXPECT_EQ(mgpt_tree_reduce(0, 3, nodes, 2, 1), nullptr);
}

// The step's documents as rows of T positions; row d of length lengths[d] (-1: padding).
struct Batch {
    std::vector<int> tokens, targets;
    Batch(const std::vector<int> &lengths, int V, int T, uint64_t seed)
    {
        std::vector<int> len;
        for (int l : lengths)
            len.push_back(l < 0 ? 0 : l);
        auto docs = random_docs(len, V, seed);
        tokens.resize(lengths.size() * T);
        targets.resize(lengths.size() * T);
        for (size_t d = 0; d < lengths.size(); d++)
            spec_encode_row(docs[d], T, &tokens[d * T], &targets[d * T], lengths[d] < 0);
    }
};

// One big batch: the model of all B documents, forward and backward as mgpt train did
// before micro-batches. Its gradients and loss.
static std::vector<float> big_batch(const mgpt_config &cfg, const Batch &b, int B, float *loss)
{
    ModelPtr m = make_model(cfg, B);
    if (!m)
        return {};
    randomize_params(m.get(), 11);
    std::memcpy(m->tokens, b.tokens.data(), b.tokens.size() * sizeof(int));
    std::memcpy(m->targets, b.targets.data(), b.targets.size() * sizeof(int));
    *loss = mgpt_model_forward(m.get());
    mgpt_model_backward(m.get());
    return std::vector<float>(m->grad_mem, m->grad_mem + m->num_floats);
}

// Micro-batches lo..hi-1 of k, each of M documents (all k when lo = 0, hi = k: the step's
// gradient; a single one: that micro-batch's own gradient, its node's sum).
static std::vector<float> micro(const mgpt_config &cfg, const Batch &b, int M, int k, int lo,
                                int hi, float *loss)
{
    ModelPtr m = make_model(cfg, M);
    if (!m)
        return {};
    randomize_params(m.get(), 11);
    mgpt_microbatch mb;
    char err[256];
    EXPECT_EQ(mgpt_microbatch_plan(&mb, m.get(), k, lo, hi, err, sizeof err), 0) << err;
    mgpt_microbatch_run(&mb, m.get(), b.tokens.data(), b.targets.data());
    std::vector<float> g;
    if (lo == 0 && hi == k) {
        mgpt_microbatch_finish_local(&mb, m.get());
        g.assign(m->grad_mem, m->grad_mem + m->num_floats);
        *loss = mgpt_microbatch_loss(&mb);
    } else {
        EXPECT_EQ(mb.n_nodes, 1);
        g.assign(mb.nodes[0].sum, mb.nodes[0].sum + mb.floats);
    }
    mgpt_microbatch_free(&mb);
    return g;
}

TEST(MicroBatch, EqualsOneBigBatchWithinTheReassociationBound)
{
    const int V = 11, T = 1, B = 8;
    mgpt_config cfg = make_config(V, 16, 4, 2, T);
    // one padding row: micro-batches hold different numbers of targets, so a backward
    // scaled by its own micro-batch's count instead of the step's would be off
    Batch b({3, 5, -1, 2, 4, 1, 6, 2}, V, T, 5);
    float big_loss = 0;
    std::vector<float> big = big_batch(cfg, b, B, &big_loss);
    ASSERT_FALSE(big.empty());
    // sum |t_n|, from one-document micro-batches (T = 1: a document is a row)
    std::vector<double> abs_terms(big.size(), 0.0);
    for (int d = 0; d < B; d++) {
        float unused;
        std::vector<float> g = micro(cfg, b, 1, B, d, d + 1, &unused);
        ASSERT_EQ(g.size(), big.size());
        for (size_t i = 0; i < g.size(); i++)
            abs_terms[i] += std::fabs((double)g[i]);
    }
    const double u = std::ldexp(1.0, -24), N = B * T, gamma = N * u / (1 - N * u);
    for (int M : {1, 2, 4}) {
        float loss = 0;
        std::vector<float> mg = micro(cfg, b, M, B / M, 0, B / M, &loss);
        ASSERT_EQ(mg.size(), big.size());
        // the loss: double sums of the same float terms, reassociated, then rounded once
        EXPECT_LE(std::fabs(loss - big_loss), std::ldexp(std::fabs(big_loss), -23)) << "M " << M;
        double worst = 0;
        size_t differ = 0;
        for (size_t i = 0; i < big.size(); i++) {
            double bound = 2 * gamma * (1 + u) * abs_terms[i] + N * FLT_TRUE_MIN;
            double diff = std::fabs((double)mg[i] - (double)big[i]);
            differ += mg[i] != big[i];
            if (abs_terms[i] > 0)
                worst = std::max(worst, diff / bound);
            ASSERT_LE(diff, bound) << "M " << M << ", gradient float " << i << ": micro "
                                   << mg[i] << ", big " << big[i];
        }
        if (getenv("MGPT_TEST_VERBOSE"))
            printf("M %d: %zu of %zu floats differ, worst diff / bound %.3g\n", M, differ,
                   big.size(), worst);
    }
}

TEST(MicroBatch, OneMicroBatchIsTheBigBatchBitwise)
{
    const int V = 13, T = 8, B = 4;
    mgpt_config cfg = make_config(V, 16, 4, 2, T);
    Batch b({3, 9, 1, 6}, V, T, 9);
    float big_loss = 0, loss = 0;
    std::vector<float> big = big_batch(cfg, b, B, &big_loss);
    std::vector<float> one = micro(cfg, b, B, 1, 0, 1, &loss);
    ASSERT_EQ(one.size(), big.size());
    EXPECT_EQ(std::memcmp(one.data(), big.data(), big.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(&loss, &big_loss, sizeof loss), 0);
}

TEST(MicroBatch, IsBitwiseRepeatable)
{
    const int V = 13, T = 8;
    mgpt_config cfg = make_config(V, 16, 4, 2, T);
    Batch b({3, 9, 1, 6, -1, 4}, V, T, 3);
    float l1 = 0, l2 = 0;
    std::vector<float> g1 = micro(cfg, b, 2, 3, 0, 3, &l1);
    std::vector<float> g2 = micro(cfg, b, 2, 3, 0, 3, &l2);
    ASSERT_FALSE(g1.empty());
    EXPECT_EQ(std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(&l1, &l2, sizeof l1), 0);
    EXPECT_GT(l1, 0.0f);
}

}  // namespace

// Helpers shared by the model tests: the scalar backend loaded once through the registry,
// models owned by a unique_ptr, documents encoded as the spec says (written here from the
// spec, not taken from the engine), and seeded random parameters.
#ifndef MGPT_TEST_UTIL_H
#define MGPT_TEST_UTIL_H

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "engine/compute.h"
#include "model/model.h"
#include "engine/registry.h"
#include "data/tokenizer.h"
}

namespace mgpt_test {

// The scalar backend (the reference kernels), opened once per process through the
// registry as a program would (mgpt_backend_open, one thread, no team: nothing binds the
// test's thread), as the compute a model runs with: {its table, its context, no team}.
// compute() is nullptr if it cannot be opened; why() says why.
class ScalarBackend {
public:
    static ScalarBackend &get()
    {
        static ScalarBackend b;
        return b;
    }
    const mgpt_compute *compute() const { return ok_ ? &compute_ : nullptr; }
    const mgpt_kernels *kernels() const { return ok_ ? &be_.k : nullptr; }
    const mgpt_ctx *ctx() const { return ok_ ? &be_.ctx : nullptr; }
    const std::string &why() const { return why_; }

private:
    ScalarBackend()
    {
        char err[512] = "";
        if (mgpt_registry_load(&reg_, NULL, stderr, err, sizeof err) < 0) {
            why_ = std::string("registry: ") + err;
            return;
        }
        mgpt_backend_env env{};
        env.abi_major = MGPT_BACKEND_ABI_MAJOR;
        env.abi_minor = MGPT_BACKEND_ABI_MINOR;
        env.num_threads = 1;
        env.cpu_features = reg_.cpu_features;
        if (mgpt_backend_open(&reg_, "scalar", &env, &be_, err, sizeof err) != 0) {
            why_ = std::string("opening the scalar backend: ") + err + " (searched " +
                   reg_.searched + ")";
            return;
        }
        compute_.k = &be_.k;
        compute_.ctx = &be_.ctx;
        compute_.team = nullptr;
        ok_ = true;
    }
    ~ScalarBackend()
    {
        if (ok_)
            mgpt_backend_close(&be_);
        mgpt_registry_free(&reg_);
    }
    mgpt_registry reg_{};
    mgpt_backend be_{};
    mgpt_compute compute_{};
    bool ok_ = false;
    std::string why_;
};

struct ModelFree {
    void operator()(mgpt_model *m) const { mgpt_model_free(m); }
};
typedef std::unique_ptr<mgpt_model, ModelFree> ModelPtr;

inline mgpt_config make_config(int V, int C, int H, int L, int T)
{
    mgpt_config c;
    c.vocab_size = V;
    c.n_embd = C;
    c.n_head = H;
    c.n_layer = L;
    c.block_size = T;
    return c;
}

// A model of cfg with B documents per batch on the scalar backend; nullptr (and a test
// failure) if it cannot be made.
inline ModelPtr make_model(const mgpt_config &cfg, int B)
{
    const mgpt_compute *c = ScalarBackend::get().compute();
    EXPECT_NE(c, nullptr) << ScalarBackend::get().why();
    if (!c)
        return ModelPtr();
    char err[512] = "";
    mgpt_model *m = mgpt_model_create(&cfg, B, c, err, sizeof err);
    EXPECT_NE(m, nullptr) << err;
    return ModelPtr(m);
}

// One row of a batch as the spec defines it: the document [BOS] + ids + [BOS] (len =
// ids.size() + 2 tokens) trains on n = min(T, len - 1) positions, inputs tok[0..n-1] and
// targets tok[1..n]; the other positions have input BOS and target -1. An empty `ids`
// with `padding_row` gives a row of padding only. Returns n.
inline int spec_encode_row(const std::vector<int> &ids, int T, int *tokens, int *targets,
                           bool padding_row = false)
{
    std::vector<int> tok;
    tok.push_back(MGPT_BOS);
    tok.insert(tok.end(), ids.begin(), ids.end());
    tok.push_back(MGPT_BOS);
    int len = (int)tok.size();
    int n = padding_row ? 0 : std::min(T, len - 1);
    for (int t = 0; t < T; t++) {
        tokens[t] = t < n ? tok[t] : MGPT_BOS;
        targets[t] = t < n ? tok[t + 1] : -1;
    }
    return n;
}

// Random documents over ids 1..V-1 with the given lengths (in characters).
inline std::vector<std::vector<int>> random_docs(const std::vector<int> &lengths, int V,
                                                 uint64_t seed)
{
    std::mt19937_64 g(seed);
    std::uniform_int_distribution<int> id(1, V - 1);
    std::vector<std::vector<int>> docs;
    for (int len : lengths) {
        std::vector<int> d;
        for (int i = 0; i < len; i++)
            d.push_back(id(g));
        docs.push_back(d);
    }
    return docs;
}

// Sets every parameter to N(0, scale^2 / cols) (so each matmul output is O(scale)), and
// the embeddings to N(0, scale^2): attention is far from uniform, the ReLUs cut, and
// attn_wo / mlp_fc2 are non-zero, so every path of the network carries gradient.
inline void randomize_params(mgpt_model *m, uint64_t seed, double scale = 1.0)
{
    std::mt19937_64 g(seed);
    std::normal_distribution<double> nd(0.0, 1.0);
    for (int i = 0; i < m->n_params; i++) {
        mgpt_param *p = &m->params[i];
        std::string name = p->name;
        double s = (name == "wte" || name == "wpe") ? scale : scale / std::sqrt((double)p->cols);
        for (int j = 0; j < p->rows * p->cols; j++)
            p->data[j] = (float)(s * nd(g));
    }
}

// |a - b| <= atol + rtol * |b|, b the reference.
inline bool within(double a, double b, double atol, double rtol)
{
    return std::fabs(a - b) <= atol + rtol * std::fabs(b);
}

}  // namespace mgpt_test

#endif

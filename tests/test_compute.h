// Helpers for the tests that compute through engines (test_threads, test_engine): scoped
// environment variables, an engine and a backend instance closed at scope exit, the
// backends this CPU runs, and a training run on the names data that can be taken one step
// at a time (so that two runs can be interleaved) and compared bit for bit.
#ifndef MGPT_TEST_COMPUTE_H
#define MGPT_TEST_COMPUTE_H

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "engine/compute.h"
#include "data/dataset.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "engine/registry.h"
#include "data/tokenizer.h"
}

namespace mgpt_test {

// An environment variable set (or, with nullptr, unset) for the scope of one object.
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
    ScopedEnv(const ScopedEnv &) = delete;
    ScopedEnv &operator=(const ScopedEnv &) = delete;

private:
    std::string name_, old_;
    bool had_ = false;
};

// A registry loaded with the current environment (MGPT_CPU_DISABLE), from `path` if given;
// rejected modules are reported on `warn`.
class Registry {
public:
    explicit Registry(const char *path = nullptr, FILE *warn = stderr)
    {
        char err[512] = "";
        ok_ = mgpt_registry_load(&r_, path, warn, err, sizeof err) >= 0;
        why_ = err;
    }
    // One module file, loaded with the loader's checks (mgpt_registry_load_file).
    struct File {
        std::string path;
    };
    explicit Registry(const File &file, FILE *warn = stderr)
    {
        char err[512] = "";
        ok_ = mgpt_registry_load_file(&r_, file.path.c_str(), warn, err, sizeof err) >= 0;
        why_ = err;
    }
    ~Registry()
    {
        if (ok_)
            mgpt_registry_free(&r_);
    }
    Registry(const Registry &) = delete;
    Registry &operator=(const Registry &) = delete;
    mgpt_registry *get() { return &r_; }
    bool ok() const { return ok_; }
    const std::string &why() const { return why_; }
    const mgpt_backend_entry *find(const char *name) const
    {
        return ok_ ? mgpt_registry_find(&r_, name) : nullptr;
    }
    bool runnable(const char *name) const
    {
        const mgpt_backend_entry *e = find(name);
        return e && e->status == MGPT_BE_RUNNABLE;
    }
    // Every module with a valid descriptor, first of each name, in search order.
    std::vector<std::string> names() const
    {
        std::vector<std::string> out;
        for (int i = 0; ok_ && i < r_.n; i++)
            if (r_.entries[i].desc &&
                std::find(out.begin(), out.end(), r_.entries[i].name) == out.end())
                out.push_back(r_.entries[i].name);
        return out;
    }

private:
    mgpt_registry r_{};
    bool ok_ = false;
    std::string why_;
};

// The backends of the search path (MGPT_PLUGIN_PATH), for parameterised suites; a test
// skips, with the reason, one this CPU cannot run.
inline std::vector<std::string> backend_names()
{
    std::vector<std::string> v = Registry().names();
    return v.empty() ? std::vector<std::string>{"(none found)"} : v;
}

inline std::string param_name(const ::testing::TestParamInfo<std::string> &info)
{
    std::string s;
    for (char c : info.param)
        s += std::isalnum((unsigned char)c) ? c : '_';
    return s;
}

// A backend instance opened alone (mgpt_backend_open: no team, no binding) for `threads`
// threads, and its compute: its own table with its thread-0 context.
class Instance {
public:
    Instance(Registry &reg, const char *name, int threads = 1)
    {
        mgpt_backend_env env{};
        env.abi_major = MGPT_BACKEND_ABI_MAJOR;
        env.abi_minor = MGPT_BACKEND_ABI_MINOR;
        env.num_threads = threads;
        env.cpu_features = reg.get()->cpu_features;
        char err[512] = "";
        ok_ = reg.ok() && mgpt_backend_open(reg.get(), name, &env, &be_, err, sizeof err) == 0;
        why_ = reg.ok() ? err : reg.why();
        compute_.k = &be_.k;
        compute_.ctx = &be_.ctx;
        compute_.team = nullptr;
    }
    ~Instance()
    {
        if (ok_)
            mgpt_backend_close(&be_);
    }
    Instance(const Instance &) = delete;
    Instance &operator=(const Instance &) = delete;
    bool ok() const { return ok_; }
    const std::string &why() const { return why_; }
    mgpt_backend &be() { return be_; }
    const mgpt_compute *compute() const { return &compute_; }

private:
    mgpt_backend be_{};
    mgpt_compute compute_{};
    bool ok_ = false;
    std::string why_;
};

// An engine (mgpt_engine_open), closed at scope exit. It lives on the heap: its compute
// points into it.
class Engine {
public:
    Engine(const char *backend, int threads, const char *plugin_path = nullptr)
        : e_(new mgpt_engine())
    {
        mgpt_engine_opts o{};
        o.backend = backend;
        o.threads = threads;
        o.plugin_path = plugin_path;
        o.warn = nullptr;
        char err[512] = "";
        status_ = mgpt_engine_open(e_.get(), &o, err, sizeof err);
        why_ = err;
    }
    ~Engine()
    {
        if (status_ == MGPT_ENGINE_OK)
            mgpt_engine_close(e_.get());
    }
    Engine(const Engine &) = delete;
    Engine &operator=(const Engine &) = delete;
    bool ok() const { return status_ == MGPT_ENGINE_OK; }
    int status() const { return status_; }
    const std::string &why() const { return why_; }
    mgpt_engine &get() { return *e_; }
    const mgpt_compute *compute() const { return &e_->compute; }

private:
    std::unique_ptr<mgpt_engine> e_;
    int status_ = -1;
    std::string why_;
};

// The names data (embedded) and its vocabulary, loaded once.
struct NamesData {
    mgpt_docs docs;
    mgpt_vocab vocab;
    bool ok = false;
    std::string why;
    static NamesData &get()
    {
        static NamesData n;
        return n;
    }

private:
    NamesData()
    {
        char err[512] = "";
        mgpt_docs_init(&docs);
        if (mgpt_docs_add_embedded(&docs, err, sizeof err) != 0) {
            why = err;
            return;
        }
        mgpt_vocab_build(&vocab, &docs);
        ok = true;
    }
    ~NamesData() { mgpt_docs_free(&docs); }
};

// Every loss and gradient norm of a run, and at its end the parameters and Adam moments.
struct TrainRun {
    std::vector<float> losses, norms, state;
};

// Training of config `name` (e.g. "e64_L2_b16_B8") on the names data with Adam, gradient
// clipping at `clip` (so that sumsq's result reaches the parameters) and a linear decay over
// `steps`, one step() at a time; step s trains on documents (s*B + b) * 37 mod count.
class Trainer {
public:
    Trainer(const mgpt_compute *c, const char *name, int steps, float clip, uint64_t seed = 7)
    {
        NamesData &nd = NamesData::get();
        if (!nd.ok) {
            why_ = nd.why;
            return;
        }
        char err[512] = "";
        cfg_.vocab_size = nd.vocab.size;
        if (mgpt_config_parse_name(name, &cfg_, &B_, err, sizeof err) != 0) {
            why_ = err;
            return;
        }
        m_ = mgpt_model_create(&cfg_, B_, c, err, sizeof err);
        if (!m_) {
            why_ = err;
            return;
        }
        mgpt_model_init(m_, seed);
        mgpt_optim_defaults(&o_);
        o_.total_steps = steps;
        o_.grad_clip = clip;
        scratch_.resize((size_t)m_->T + 2);
        ids_.resize((size_t)B_);
    }
    ~Trainer() { mgpt_model_free(m_); }
    Trainer(const Trainer &) = delete;
    Trainer &operator=(const Trainer &) = delete;
    bool ok() const { return m_ != nullptr; }
    const std::string &why() const { return why_; }
    mgpt_model *model() { return m_; }

    // One step: a batch, forward, backward, Adam. false (and why()) if the batch failed.
    bool step()
    {
        NamesData &nd = NamesData::get();
        char err[512] = "";
        for (int b = 0; b < B_; b++)
            ids_[(size_t)b] = (int)((step_ * B_ + b) * 37 % nd.docs.count);
        if (mgpt_batch_fill(&nd.docs, &nd.vocab, ids_.data(), B_, m_->T, m_->tokens,
                            m_->targets, scratch_.data(), err, sizeof err) <= 0) {
            why_ = err;
            return false;
        }
        run_.losses.push_back(mgpt_model_forward(m_));
        mgpt_model_backward(m_);
        run_.norms.push_back(mgpt_adam_step(m_, &o_));
        step_++;
        return true;
    }
    // The run so far, with the current parameters and moments.
    TrainRun result() const
    {
        TrainRun r = run_;
        for (const float *a : {m_->param_mem, m_->m_mem, m_->v_mem})
            r.state.insert(r.state.end(), a, a + m_->num_floats);
        return r;
    }

private:
    mgpt_config cfg_{};
    int B_ = 0;
    mgpt_model *m_ = nullptr;
    mgpt_optim o_{};
    long step_ = 0;
    std::vector<int> scratch_, ids_;
    TrainRun run_;
    std::string why_;
};

// `steps` steps of `name` on compute c (a test failure, and an empty run, if it cannot run).
inline TrainRun train(const mgpt_compute *c, const char *name, int steps, float clip)
{
    Trainer t(c, name, steps, clip);
    EXPECT_TRUE(t.ok()) << t.why();
    if (!t.ok())
        return TrainRun();
    for (int s = 0; s < steps; s++)
        if (!t.step()) {
            ADD_FAILURE() << "step " << s + 1 << ": " << t.why();
            return TrainRun();
        }
    return t.result();
}

// Every loss, norm, parameter and moment the same bits.
inline ::testing::AssertionResult SameRun(const TrainRun &a, const TrainRun &b)
{
    if (a.losses.empty() || a.losses.size() != b.losses.size())
        return ::testing::AssertionFailure() << "runs of " << a.losses.size() << " and "
                                             << b.losses.size() << " steps";
    for (size_t i = 0; i < a.losses.size(); i++) {
        if (std::memcmp(&a.losses[i], &b.losses[i], sizeof(float)) != 0)
            return ::testing::AssertionFailure() << "step " << i + 1 << ": loss " << a.losses[i]
                                                 << " vs " << b.losses[i];
        if (std::memcmp(&a.norms[i], &b.norms[i], sizeof(float)) != 0)
            return ::testing::AssertionFailure() << "step " << i + 1 << ": gradient norm "
                                                 << a.norms[i] << " vs " << b.norms[i];
    }
    if (a.state.size() != b.state.size())
        return ::testing::AssertionFailure() << "the models differ in size";
    for (size_t i = 0; i < a.state.size(); i++)
        if (std::memcmp(&a.state[i], &b.state[i], sizeof(float)) != 0)
            return ::testing::AssertionFailure()
                   << "final parameters or Adam moments differ first at float " << i << " of "
                   << a.state.size() << ": " << a.state[i] << " vs " << b.state[i];
    return ::testing::AssertionSuccess();
}

}  // namespace mgpt_test

#endif

// Memory budgets: a model's arenas are planned from its shape before anything is allocated,
// a shape over the machine's memory or RLIMIT_AS is refused with the figure, inference
// models have no gradient or Adam arenas, and evaluation pads to the longest document.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"
#include "model/evaluate.h"
#include "platform/memory.h"

#if defined(__SANITIZE_ADDRESS__)
#define MGPT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MGPT_ASAN 1
#endif
#endif

using namespace mgpt_test;

namespace {

const mgpt_compute *scalar()
{
    return ScalarBackend::get().compute();
}

TEST(Budget, PlanMatchesTheArenasOfTheModel)
{
    mgpt_config cfg = make_config(27, 16, 4, 2, 32);
    mgpt_model_plan p;
    char err[512];
    ASSERT_EQ(mgpt_model_plan_for(&cfg, 3, 32, MGPT_MODEL_TRAIN, &p, err, sizeof err), 0) << err;
    ModelPtr m(mgpt_model_create(&cfg, 3, scalar(), err, sizeof err));
    ASSERT_TRUE(m) << err;
    EXPECT_GE(p.params, (double)m->num_floats * sizeof(float));
    EXPECT_LT(p.params, (double)m->num_floats * sizeof(float) + 64);
    EXPECT_EQ(p.grads, p.params);
    EXPECT_EQ(p.adam, 2 * p.params);
    EXPECT_GE(p.acts, (double)m->act_floats * sizeof(float));
    EXPECT_GE(p.act_grads, (double)m->act_grad_floats * sizeof(float));
    EXPECT_GT(p.act_grads, 0);
    EXPECT_EQ(p.total, p.params + p.grads + p.adam + p.acts + p.act_grads + p.tables);
}

TEST(Budget, InferenceModelHasNoGradientOrAdamArenas)
{
    mgpt_config cfg = make_config(27, 16, 4, 2, 32);
    char err[512];
    mgpt_model_plan p;
    ASSERT_EQ(mgpt_model_plan_for(&cfg, 2, 32, MGPT_MODEL_INFER, &p, err, sizeof err), 0);
    EXPECT_EQ(p.grads, 0);
    EXPECT_EQ(p.adam, 0);
    EXPECT_EQ(p.act_grads, 0);
    ModelPtr m(mgpt_model_create_for(&cfg, 2, 32, MGPT_MODEL_INFER, scalar(), err, sizeof err));
    ASSERT_TRUE(m) << err;
    EXPECT_EQ(m->grad_mem, nullptr);
    EXPECT_EQ(m->m_mem, nullptr);
    EXPECT_EQ(m->v_mem, nullptr);
    EXPECT_EQ(m->act_grad_mem, nullptr);
    for (int i = 0; i < m->n_tensors; i++)
        EXPECT_EQ(m->tensors[i].grad, nullptr) << m->tensors[i].name;
    // and it still runs forward: same logits as a training model with the same weights
    ModelPtr t(mgpt_model_create(&cfg, 2, scalar(), err, sizeof err));
    ASSERT_TRUE(t) << err;
    mgpt_model_init(t.get(), 7);
    mgpt_model_copy_params(m.get(), t.get());
    for (int i = 0; i < m->N; i++) {
        m->tokens[i] = t->tokens[i] = 1 + i % 26;
        m->targets[i] = t->targets[i] = 1 + (i + 1) % 26;
    }
    EXPECT_EQ(mgpt_model_forward(m.get()), mgpt_model_forward(t.get()));
}

TEST(Budget, ShapeOverTheMachineIsRefusedWithTheFigure)
{
    // the train --batch-size 65536 --block-size 256 at n_embd 16: hundreds of GiB
    mgpt_config cfg = make_config(27, 16, 4, 1, 256);
    char err[1024] = "";
    mgpt_model_plan p;
    ASSERT_EQ(mgpt_model_plan_for(&cfg, 65536, 256, MGPT_MODEL_TRAIN, &p, err, sizeof err), 0);
    mgpt_memory_limit lim;
    mgpt_memory_limit_get(&lim);
    ASSERT_GT(p.total, lim.bytes) << "this machine has more memory than the test assumes";
    EXPECT_NE(mgpt_model_budget(&p, err, sizeof err), 0);
    std::string e = err;
    EXPECT_NE(e.find("needs "), std::string::npos) << e;
    EXPECT_NE(e.find("GiB"), std::string::npos) << e;
    EXPECT_NE(e.find("activations"), std::string::npos) << e;
    EXPECT_EQ(mgpt_model_create(&cfg, 65536, scalar(), err, sizeof err), nullptr);
    EXPECT_NE(std::string(err).find("needs "), std::string::npos) << err;
}

TEST(Budget, RlimitAsLowersTheBudget)
{
#ifdef MGPT_ASAN
    GTEST_SKIP() << "ASan reserves terabytes of address space: RLIMIT_AS cannot be tested";
#else
    const mgpt_compute *c = scalar();
    ASSERT_NE(c, nullptr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // 256 MiB above what is mapped now: a 1 GiB model must be refused naming the limit,
        // a small one still made
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (!f || fscanf(f, "%lu", &pages) != 1)
            _exit(10);
        fclose(f);
        struct rlimit r;
        r.rlim_cur = r.rlim_max = pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256ul << 20);
        if (setrlimit(RLIMIT_AS, &r) != 0)
            _exit(11);
        mgpt_config big = make_config(27, 256, 4, 4, 512);
        char err[1024] = "";
        mgpt_model_plan p;
        if (mgpt_model_plan_for(&big, 16, 512, MGPT_MODEL_TRAIN, &p, err, sizeof err) != 0 ||
            p.total < (1ul << 30))
            _exit(12);
        if (mgpt_model_create(&big, 16, c, err, sizeof err) != nullptr)
            _exit(13);
        if (!strstr(err, "needs ") || !strstr(err, "RLIMIT_AS"))
            _exit(14);
        mgpt_config small = make_config(27, 16, 4, 1, 16);
        mgpt_model *m = mgpt_model_create(&small, 2, c, err, sizeof err);
        if (!m)
            _exit(15);
        mgpt_model_free(m);
        _exit(0);
    }
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0) << "10-11: setup, 12: plan, 13: not refused, 14: message, "
                                     "15: small model refused";
#endif
}

mgpt_docs names()
{
    mgpt_docs d;
    mgpt_docs_init(&d);
    char err[256];
    EXPECT_EQ(mgpt_docs_add_embedded(&d, err, sizeof err), 0) << err;
    return d;
}

// The checkpoint: n_embd 16, block_size 4096, 32 names evaluated 32 at a time.
TEST(Budget, EvalOfShortDocumentsOnALongBlockPlansLittleMemory)
{
    mgpt_docs d = names();
    std::vector<int> ids(32);
    for (int i = 0; i < 32; i++)
        ids[i] = i;
    mgpt_config cfg = make_config(27, 16, 4, 1, 4096);
    int T = mgpt_evaluate_positions(&d, ids.data(), 32, cfg.block_size);
    size_t longest = 0;
    for (int i = 0; i < 32; i++)
        longest = std::max(longest, d.len[i]);
    EXPECT_EQ(T, (int)longest + 1);
    char err[512];
    mgpt_model_plan eval, full;
    ASSERT_EQ(mgpt_model_plan_for(&cfg, 32, T, MGPT_MODEL_INFER, &eval, err, sizeof err), 0);
    ASSERT_EQ(mgpt_model_plan_for(&cfg, 32, 4096, MGPT_MODEL_TRAIN, &full, err, sizeof err), 0);
    EXPECT_LT(eval.total, 4.0 * (1 << 20)) << "eval plans more than 4 MiB";
    EXPECT_GT(full.total, 4.0 * (1u << 30)) << "block-size padding with gradients";
    // a document longer than block_size is cut to it
    EXPECT_EQ(mgpt_evaluate_positions(&d, ids.data(), 32, 4), 4);
    mgpt_docs_free(&d);
}

TEST(Budget, EvalPaddedToTheLongestDocumentGivesTheSameLoss)
{
    mgpt_docs d = names();
    mgpt_vocab v;
    char err[512];
    mgpt_vocab_build(&v, &d);
    int n = 50;
    std::vector<int> ids(n);
    for (int i = 0; i < n; i++)
        ids[i] = 7 * i;
    mgpt_config cfg = make_config(v.size, 16, 4, 2, 64);
    int T = mgpt_evaluate_positions(&d, ids.data(), n, cfg.block_size);
    ASSERT_LT(T, 64);
    ModelPtr full(mgpt_model_create(&cfg, 8, scalar(), err, sizeof err));
    ASSERT_TRUE(full) << err;
    mgpt_model_init(full.get(), 3);
    ModelPtr shrt(mgpt_model_create_for(&cfg, 8, T, MGPT_MODEL_INFER, scalar(), err, sizeof err));
    ASSERT_TRUE(shrt) << err;
    mgpt_model_copy_params(shrt.get(), full.get());
    double a = 0, b = 0;
    ASSERT_EQ(mgpt_evaluate(full.get(), &d, &v, ids.data(), n, &a, err, sizeof err), 0) << err;
    ASSERT_EQ(mgpt_evaluate(shrt.get(), &d, &v, ids.data(), n, &b, err, sizeof err), 0) << err;
    EXPECT_GT(a, 0);
    EXPECT_NEAR(a, b, 1e-6 * a);
    mgpt_docs_free(&d);
}

}  // namespace

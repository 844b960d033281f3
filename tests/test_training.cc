// Training end to end on the scalar backend: the seed's recipe (e16_L1_b16, one document
// per step, Adam at lr 1e-2 with linear decay) on the embedded names data converges; a run
// is a pure function of its seed (bitwise the same loss curve and samples); evaluation
// does not depend on the model's batch size.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "data/dataset.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "data/rng.h"
#include "model/sampler.h"
}
#include "test_util.h"

namespace {

using namespace mgpt_test;

const int kSteps = 1000;
const double kLnV = std::log(27.0);  // 3.30: the loss of a uniform guess

// The names data, its vocabulary and the seed-42 split, loaded once.
struct Names {
    mgpt_docs docs;
    mgpt_vocab vocab;
    bool ok = false;
    std::string why;
    Names()
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
    ~Names() { mgpt_docs_free(&docs); }
    static Names &get()
    {
        static Names n;
        return n;
    }
};

struct SplitPtr {
    mgpt_split s{};
    SplitPtr(int count, uint64_t seed, double f) { mgpt_split_make(&s, count, seed, f); }
    ~SplitPtr() { mgpt_split_free(&s); }
};

mgpt_config e16_L1_b16()
{
    mgpt_config cfg;
    int batch = 0;
    char err[256] = "";
    cfg.vocab_size = Names::get().vocab.size;
    EXPECT_EQ(mgpt_config_parse_name("e16_L1_b16", &cfg, &batch, err, sizeof err), 0) << err;
    EXPECT_EQ(batch, 1);
    return cfg;
}

struct TrainRun {
    std::vector<float> losses;      // training loss of every step
    std::vector<float> params;      // the final parameters
    std::vector<std::string> samples;
    double val_loss = 0;
    double seconds = 0;
};

// The seed's loop: step s trains on training document s (mod count) of the seed's
// shuffle, then the validation loss, then 20 samples at the default temperature.
TrainRun train(uint64_t seed, int steps)
{
    TrainRun run;
    Names &nm = Names::get();
    EXPECT_TRUE(nm.ok) << nm.why;
    SplitPtr sp(nm.docs.count, seed, 0.1);
    const mgpt_split &s = sp.s;
    mgpt_config cfg = e16_L1_b16();
    ModelPtr m = make_model(cfg, 1);
    if (!m || !nm.ok)
        return run;
    mgpt_model_init(m.get(), seed);
    mgpt_optim o;
    mgpt_optim_defaults(&o);
    o.total_steps = steps;
    std::vector<int> scratch(m->T + 2);
    char err[512] = "";
    auto t0 = std::chrono::steady_clock::now();
    int n_train = s.count - s.n_val;
    for (int step = 0; step < steps; step++) {
        int id = s.order[s.n_val + step % n_train];
        int c = mgpt_batch_fill(&nm.docs, &nm.vocab, &id, 1, m->T, m->tokens, m->targets,
                                scratch.data(), err, sizeof err);
        EXPECT_GT(c, 0) << err;
        run.losses.push_back(mgpt_model_forward(m.get()));
        mgpt_model_backward(m.get());
        mgpt_adam_step(m.get(), &o);
    }
    EXPECT_EQ(mgpt_evaluate(m.get(), &nm.docs, &nm.vocab, s.order, s.n_val, &run.val_loss, err,
                            sizeof err),
              0)
        << err;
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    run.params.assign(m->param_mem, m->param_mem + m->num_floats);
    mgpt_rng rng;
    mgpt_rng_seed(&rng, seed, MGPT_STREAM_SAMPLE);
    mgpt_sample_opts so;
    mgpt_sample_defaults(&so, m.get());
    for (int i = 0; i < 20; i++) {
        char out[64];
        int len = mgpt_sample(m.get(), &nm.vocab, &rng, &so, out, sizeof out, NULL, NULL);
        EXPECT_EQ(len, (int)strlen(out));
        run.samples.push_back(out);
    }
    return run;
}

// The seed-42 run, shared by the tests below (~0.3 s).
const TrainRun &run42()
{
    static TrainRun r = train(42, kSteps);
    return r;
}

TEST(Training, ConvergesOnNames)
{
    const TrainRun &r = run42();
    ASSERT_EQ((int)r.losses.size(), kSteps);
    // Measured on the scalar backend with this recipe (1000 steps, validation = the
    // first 10% = 3203 names of the shuffle): 2.3950 for seed 42, and 2.375 .. 2.401 for
    // seeds 1..9. The bound 2.45 leaves twice that seed-to-seed spread and is still a
    // real claim: far below ln(27) = 3.30 (a uniform guess), and below the ~2.45 of a
    // count-based bigram model of names, i.e. the model must use more context than the
    // previous character. (500 steps give 2.41 .. 2.44: too close to that level.)
    EXPECT_LT(r.val_loss, 2.45) << "validation loss after " << kSteps << " steps";
    EXPECT_GT(r.val_loss, 1.5) << "implausibly low: is the validation set leaking into training?";
    // the training loss falls: the mean of the last 200 steps well below the first 20
    double first = 0, last = 0;
    for (int i = 0; i < 20; i++)
        first += r.losses[i] / 20;
    for (int i = kSteps - 200; i < kSteps; i++)
        last += r.losses[i] / 200;
    EXPECT_NEAR(r.losses[0], kLnV, 0.1) << "at init the model should guess uniformly";
    EXPECT_LT(last, first - 0.4);  // measured: 0.55 .. 0.72 lower over seeds 1..9, 42
    EXPECT_LT(last, 2.5);           // measured: 2.34 .. 2.42
    if (getenv("MGPT_TEST_VERBOSE"))
        printf("val %.4f, train first-20 mean %.4f, last-200 mean %.4f, %.3f s\n", r.val_loss,
               first, last, r.seconds);
    EXPECT_LT(r.seconds, 10.0);
}

TEST(Training, SamplesLookLikeNames)
{
    const TrainRun &r = run42();
    ASSERT_EQ(r.samples.size(), 20u);
    const mgpt_vocab &v = Names::get().vocab;
    int nonempty = 0;
    for (const std::string &s : r.samples) {
        EXPECT_LE((int)s.size(), 16) << s;  // stops after T tokens
        for (unsigned char ch : s)
            EXPECT_GE(v.id[ch], 1) << "sampled byte " << (int)ch << " is not in the vocabulary";
        nonempty += !s.empty();
    }
    EXPECT_GE(nonempty, 15);
    if (getenv("MGPT_TEST_VERBOSE")) {
        for (const std::string &s : r.samples)
            printf("%s ", s.c_str());
        printf("\n");
    }
}

TEST(Training, SameSeedIsBitwiseReproducible)
{
    const TrainRun &a = run42();
    TrainRun b = train(42, kSteps);
    ASSERT_EQ(a.losses.size(), b.losses.size());
    for (size_t i = 0; i < a.losses.size(); i++)
        ASSERT_EQ(memcmp(&a.losses[i], &b.losses[i], sizeof(float)), 0)
            << "step " << i << ": " << a.losses[i] << " vs " << b.losses[i];
    ASSERT_EQ(a.params.size(), b.params.size());
    EXPECT_EQ(memcmp(a.params.data(), b.params.data(), a.params.size() * sizeof(float)), 0);
    EXPECT_EQ(memcmp(&a.val_loss, &b.val_loss, sizeof(double)), 0);
    EXPECT_EQ(a.samples, b.samples);
}

TEST(Training, DifferentSeedGivesDifferentRun)
{
    const TrainRun &a = run42();
    TrainRun b = train(43, 200);
    int differ = 0;
    for (size_t i = 0; i < b.losses.size(); i++)
        differ += a.losses[i] != b.losses[i];
    // another init and another shuffle: practically every step differs
    EXPECT_GT(differ, 190);
}

TEST(Training, AdamStepCutIntoRangesIsTheWholeStep)
{
    // Data-parallel ranks each run mgpt_adam_step_range on their own range of the arena:
    // the ranges of any cut (here uneven, off the vector width) give the whole step's
    // parameters and moments bitwise, with the clip's scale passed in, over 3 steps.
    Names &nm = Names::get();
    ASSERT_TRUE(nm.ok) << nm.why;
    mgpt_config cfg = e16_L1_b16();
    ModelPtr whole = make_model(cfg, 1), cut = make_model(cfg, 1);
    ASSERT_TRUE(whole && cut);
    mgpt_model_init(whole.get(), 7);
    mgpt_model_init(cut.get(), 7);
    mgpt_optim o;
    mgpt_optim_defaults(&o);
    o.total_steps = 10;
    o.grad_clip = 0.05f;  // below the first steps' norms: the scale is not 1
    size_t n = whole->num_floats;
    const size_t bounds[] = {0, 1, 37, n / 2 + 3, n};
    std::vector<int> scratch(whole->T + 2);
    char err[512] = "";
    int clipped = 0;
    for (int step = 0; step < 3; step++) {
        int id = step;
        for (mgpt_model *m : {whole.get(), cut.get()}) {
            ASSERT_GT(mgpt_batch_fill(&nm.docs, &nm.vocab, &id, 1, m->T, m->tokens, m->targets,
                                      scratch.data(), err, sizeof err),
                      0)
                << err;
            mgpt_model_forward(m);
            mgpt_model_backward(m);
        }
        float norm = mgpt_adam_step(whole.get(), &o);
        float scale = norm > o.grad_clip ? o.grad_clip / norm : 1.0f;
        clipped += scale != 1.0f;
        long s = cut->step;
        for (size_t r = 0; r + 1 < sizeof bounds / sizeof *bounds; r++) {
            cut->step = s;  // each rank's model is at the step's start
            mgpt_adam_step_range(cut.get(), &o, scale, bounds[r], bounds[r + 1]);
        }
        EXPECT_EQ(cut->step, whole->step);
        EXPECT_EQ(memcmp(cut->param_mem, whole->param_mem, n * sizeof(float)), 0) << step;
        EXPECT_EQ(memcmp(cut->m_mem, whole->m_mem, n * sizeof(float)), 0) << step;
        EXPECT_EQ(memcmp(cut->v_mem, whole->v_mem, n * sizeof(float)), 0) << step;
    }
    EXPECT_GT(clipped, 0);
}

TEST(Training, EvaluationDoesNotDependOnBatchSize)
{
    // The trained parameters in models of B = 1 and B = 7 documents: the validation loss
    // is the same, bitwise (3203 documents: the last batch of 7 is partly padding). The
    // scalar kernels work row by row and mgpt_evaluate sums per position in document
    // order, so nothing depends on B.
    const TrainRun &r = run42();
    Names &nm = Names::get();
    SplitPtr sp(nm.docs.count, 42, 0.1);
    mgpt_config cfg = e16_L1_b16();
    double val[2] = {0, 0};
    const int Bs[2] = {1, 7};
    char err[512] = "";
    for (int i = 0; i < 2; i++) {
        ModelPtr m = make_model(cfg, Bs[i]);
        ASSERT_TRUE(m);
        ASSERT_EQ(m->num_floats, r.params.size());
        memcpy(m->param_mem, r.params.data(), r.params.size() * sizeof(float));
        ASSERT_EQ(mgpt_evaluate(m.get(), &nm.docs, &nm.vocab, sp.s.order, sp.s.n_val, &val[i],
                                err, sizeof err),
                  0)
            << err;
    }
    ASSERT_NE(sp.s.n_val % 7, 0);
    EXPECT_EQ(val[0], val[1]) << "B=1 gives " << val[0] << ", B=7 gives " << val[1]
                              << " (relative difference " << (val[1] - val[0]) / val[0] << ")";
    EXPECT_EQ(val[0], r.val_loss);
}

TEST(Training, EvaluationIsTheTokenWeightedMean)
{
    // mgpt_evaluate = sum of per-position losses / number of positions, over documents of
    // different lengths: computed here document by document from the model's forward.
    const TrainRun &r = run42();
    Names &nm = Names::get();
    SplitPtr sp(nm.docs.count, 42, 0.1);
    mgpt_config cfg = e16_L1_b16();
    ModelPtr m = make_model(cfg, 1);
    ASSERT_TRUE(m);
    memcpy(m->param_mem, r.params.data(), r.params.size() * sizeof(float));
    const int n = 50;
    double sum = 0;
    long count = 0;
    std::vector<int> scratch(m->T + 2);
    char err[512] = "";
    for (int i = 0; i < n; i++) {
        int id = sp.s.order[i];
        int c = mgpt_batch_fill(&nm.docs, &nm.vocab, &id, 1, m->T, m->tokens, m->targets,
                                scratch.data(), err, sizeof err);
        ASSERT_GT(c, 0) << err;
        sum += (double)mgpt_model_forward(m.get()) * c;
        count += c;
    }
    double got = 0;
    ASSERT_EQ(mgpt_evaluate(m.get(), &nm.docs, &nm.vocab, sp.s.order, n, &got, err, sizeof err), 0);
    // the forward's mean is rounded to float once per document: 1e-6 relative
    EXPECT_NEAR(got, sum / count, 1e-6 * got);
}

}  // namespace

// Generation with a key/value cache (core/model/decode.c, generate.c) against the full
// forward pass, on every backend: the cached decode's logits at every position equal the
// full forward's (the same bits on the scalar reference, whose attention_decode repeats
// attention_forward's arithmetic; within a stated tolerance elsewhere), the same bits on a
// team of threads with every op split, the same samples as the full-forward sampler for
// one seed, and the window sliding past the block keeps positions in the learned range and
// computes what a full forward over the window does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "test_compute.h"

extern "C" {
#include "model/generate.h"
}

namespace {

using mgpt_test::Instance;
using mgpt_test::Registry;

// A trained model (so that attn_wo and mlp_fc2, zero at init, carry signal) of a small
// config, and a copy of it with one document per batch for the full forward.
struct Trained {
    std::unique_ptr<mgpt_test::Trainer> t;
    mgpt_model *one = nullptr;
    std::string why;
    Trained(const mgpt_compute *c, const char *name, int steps)
        : t(new mgpt_test::Trainer(c, name, steps, 1.0f))
    {
        if (!t->ok()) {
            why = t->why();
            return;
        }
        for (int s = 0; s < steps; s++)
            if (!t->step()) {
                why = t->why();
                return;
            }
        char err[512] = "";
        one = mgpt_model_create(&t->model()->cfg, 1, c, err, sizeof err);
        if (!one) {
            why = err;
            return;
        }
        mgpt_model_copy_params(one, t->model());
    }
    ~Trained() { mgpt_model_free(one); }
    bool ok() const { return one != nullptr; }
};

// The largest |a - b| over a row, relative to 1 + max |b|.
double row_error(const float *a, const float *b, int n)
{
    double worst = 0, mag = 0;
    for (int i = 0; i < n; i++) {
        worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
        mag = std::max(mag, (double)std::fabs(b[i]));
    }
    return worst / (1 + mag);
}

// Random ids (no BOS) after a BOS, T of them: a document filling the block.
std::vector<int> document(int T, int V, unsigned seed)
{
    std::vector<int> tok((size_t)T);
    tok[0] = MGPT_BOS;
    for (int t = 1; t < T; t++) {
        seed = seed * 1103515245u + 12345u;
        tok[(size_t)t] = 1 + (int)((seed >> 16) % (unsigned)(V - 1));
    }
    return tok;
}

class Decode : public ::testing::TestWithParam<std::string> {};

// Decode logits against the full forward's at every position of the block. fp32 backends
// within 1e-4 of 1 + the row's largest logit (the GEMM of one row may sum in another order
// than a block's); bf16 within 2e-2 (both round the GEMM inputs to 8 bits of mantissa).
TEST_P(Decode, LogitsEqualTheFullForwardAtEveryPosition)
{
    Registry reg;
    Instance in(reg, GetParam().c_str());
    if (!in.ok())
        GTEST_SKIP() << in.why();
    Trained tr(in.compute(), "e32_L2_b16_B4", 30);
    ASSERT_TRUE(tr.ok()) << tr.why;
    mgpt_model *m = tr.one;
    int T = m->T, V = m->cfg.vocab_size;
    std::vector<int> tok = document(T, V, 11);
    for (int t = 0; t < T; t++)
        m->tokens[t] = tok[(size_t)t];
    mgpt_model_forward(m);
    char err[256] = "";
    mgpt_decoder *d = mgpt_decoder_create(m, in.compute(), err, sizeof err);
    ASSERT_NE(d, nullptr) << err;
    bool scalar = GetParam() == "scalar";
    double tol = in.be().entry->desc->precision == MGPT_PRECISION_BF16 ? 2e-2 : 1e-4;
    for (int t = 0; t < T; t++) {
        const float *got = mgpt_decoder_step(d, tok[(size_t)t]);
        const float *want = mgpt_model_logits(m, 0, t);
        if (scalar)
            for (int v = 0; v < V; v++)
                ASSERT_EQ(got[v], want[v]) << "position " << t << ", id " << v;
        else
            EXPECT_LE(row_error(got, want, V), tol) << "position " << t;
    }
    EXPECT_EQ(d->len[0], T);
    mgpt_decoder_free(d);
}

// A team of 2 threads with every op split (heads of attention_decode included): the same
// bits as the backend alone.
TEST_P(Decode, SameBitsOnTwoThreadsWithEveryOpSplit)
{
    mgpt_test::ScopedEnv split("MGPT_THREAD_SPLIT", "always");
    Registry reg;
    Instance in(reg, GetParam().c_str());
    if (!in.ok())
        GTEST_SKIP() << in.why();
    mgpt_test::Engine eng(GetParam().c_str(), 2);
    ASSERT_TRUE(eng.ok()) << eng.why();
    if (!eng.compute()->team)
        GTEST_SKIP() << "no team of threads (built without OpenMP)";
    Trained tr(in.compute(), "e32_L2_b64_B2", 5);
    ASSERT_TRUE(tr.ok()) << tr.why;
    char err[256] = "";
    mgpt_decoder *a = mgpt_decoder_create(tr.one, in.compute(), err, sizeof err);
    mgpt_decoder *b = mgpt_decoder_create(tr.one, eng.compute(), err, sizeof err);
    ASSERT_TRUE(a && b) << err;
    int T = tr.one->T, V = tr.one->cfg.vocab_size;
    std::vector<int> tok = document(T, V, 5);
    for (int t = 0; t < T; t++) {
        std::vector<float> la(V), lb(V);
        const float *pa = mgpt_decoder_step(a, tok[(size_t)t]);
        la.assign(pa, pa + V);
        const float *pb = mgpt_decoder_step(b, tok[(size_t)t]);
        lb.assign(pb, pb + V);
        ASSERT_EQ(0, memcmp(la.data(), lb.data(), (size_t)V * sizeof(float)))
            << "position " << t;
    }
    mgpt_decoder_free(a);
    mgpt_decoder_free(b);
}

// One seed, the same options: the cached generator draws the same documents as the
// full-forward sampler (the sampled sequence is a function of the logits, which agree).
TEST_P(Decode, SameSamplesAsTheFullForwardSampler)
{
    Registry reg;
    Instance in(reg, GetParam().c_str());
    if (!in.ok())
        GTEST_SKIP() << in.why();
    Trained tr(in.compute(), "e32_L2_b16_B4", 60);
    ASSERT_TRUE(tr.ok()) << tr.why;
    mgpt_test::NamesData &nd = mgpt_test::NamesData::get();
    mgpt_model *m = tr.one;
    char err[256] = "";
    mgpt_decoder *d = mgpt_decoder_create(m, in.compute(), err, sizeof err);
    ASSERT_NE(d, nullptr) << err;
    mgpt_sample_opts o;
    mgpt_sample_defaults(&o, m);
    o.temperature = 0.8f;
    mgpt_rng r1, r2;
    mgpt_rng_seed(&r1, 42, MGPT_STREAM_SAMPLE);
    mgpt_rng_seed(&r2, 42, MGPT_STREAM_SAMPLE);
    std::vector<char> a((size_t)m->T + 1), b((size_t)m->T + 1);
    int longest = 0;
    for (int i = 0; i < 30; i++) {
        int na = mgpt_sample(m, &nd.vocab, &r1, &o, a.data(), a.size(), nullptr, nullptr);
        int nb = mgpt_generate(d, &nd.vocab, &r2, &o, nullptr, 0, o.max_len, b.data(), b.size(),
                               nullptr, nullptr);
        ASSERT_EQ(std::string(a.data(), (size_t)na), std::string(b.data(), (size_t)nb))
            << "sample " << i;
        longest = std::max(longest, na);
    }
    EXPECT_GT(longest, 2);   // the comparison saw real documents
    mgpt_decoder_free(d);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Decode, ::testing::ValuesIn(mgpt_test::backend_names()),
                         mgpt_test::param_name);
// Several sequences in one pass, at different positions, sliding at different times: each
// sequence's logits are the bits it gets decoded alone, and a prefix fed as one pass of
// many rows gives the bits of feeding it token by token.
TEST_P(Decode, BatchAndFeedGiveEachSequenceTheBitsItGetsAlone)
{
    Registry reg;
    Instance in(reg, GetParam().c_str());
    if (!in.ok())
        GTEST_SKIP() << in.why();
    Trained tr(in.compute(), "e32_L2_b36_B2", 10);
    ASSERT_TRUE(tr.ok()) << tr.why;
    mgpt_model *m = tr.one;
    int T = m->T, V = m->cfg.vocab_size, S = 5, steps = 3 * T + 3;
    char err[256] = "";
    mgpt_decoder *b = mgpt_decoder_create_batch(m, in.compute(), S, err, sizeof err);
    mgpt_decoder *one = mgpt_decoder_create(m, in.compute(), err, sizeof err);
    ASSERT_TRUE(b && one) << err;
    std::vector<std::vector<int>> tok;
    for (int s = 0; s < S; s++)
        tok.push_back(document(steps, V, 100 + (unsigned)s));
    // alone: every sequence's logits after each of its tokens
    std::vector<std::vector<float>> alone((size_t)S);
    for (int s = 0; s < S; s++) {
        mgpt_decoder_reset(one);
        for (int t = 0; t < steps; t++) {
            const float *l = mgpt_decoder_step(one, tok[(size_t)s][(size_t)t]);
            alone[(size_t)s].insert(alone[(size_t)s].end(), l, l + V);
        }
    }
    // batched: sequence s sits out the passes where (pass + s) % 4 == 0, so the rows of a
    // pass are at different positions and the windows slide in different passes
    std::vector<int> next((size_t)S, 0);
    for (int pass = 0, done = 0; done < S; pass++) {
        std::vector<int> seq, id;
        for (int s = 0; s < S; s++)
            if (next[(size_t)s] < steps && (pass + s) % 4 != 0) {
                seq.push_back(s);
                id.push_back(tok[(size_t)s][(size_t)next[(size_t)s]]);
            }
        if (seq.empty())
            continue;
        const float *l = mgpt_decoder_step_batch(b, seq.data(), id.data(), (int)seq.size());
        for (size_t i = 0; i < seq.size(); i++) {
            int s = seq[i], t = next[(size_t)s]++;
            ASSERT_EQ(0, memcmp(l + i * (size_t)V, &alone[(size_t)s][(size_t)t * V],
                                (size_t)V * sizeof(float)))
                << "sequence " << s << ", token " << t << ", pass " << pass;
            ASSERT_LE(b->len[s], T);
            done += next[(size_t)s] == steps;
        }
    }
    // fed: a prefix past the block in one call, then a copy of that sequence stepped on
    for (int cut : {1, T - 1, T, 2 * T + 5}) {
        mgpt_decoder_reset(b);
        const float *l = mgpt_decoder_feed(b, 2, tok[2].data(), cut);
        ASSERT_EQ(0, memcmp(l, &alone[2][(size_t)(cut - 1) * V], (size_t)V * sizeof(float)))
            << "fed " << cut << " tokens";
        mgpt_decoder_copy(b, 4, 2);
        int s4 = 4;
        l = mgpt_decoder_step_batch(b, &s4, &tok[2][(size_t)cut], 1);
        ASSERT_EQ(0, memcmp(l, &alone[2][(size_t)cut * V], (size_t)V * sizeof(float)))
            << "the copy of a sequence fed " << cut << " tokens, one step on";
    }
    mgpt_decoder_free(b);
    mgpt_decoder_free(one);
}

// A batch of samples: each sample's text is the one mgpt_generate gives alone with the
// same random stream, prompt included.
TEST_P(Decode, BatchOfSamplesGivesEachTheTextItGetsAlone)
{
    Registry reg;
    Instance in(reg, GetParam().c_str());
    if (!in.ok())
        GTEST_SKIP() << in.why();
    Trained tr(in.compute(), "e32_L2_b16_B4", 40);
    ASSERT_TRUE(tr.ok()) << tr.why;
    mgpt_test::NamesData &nd = mgpt_test::NamesData::get();
    mgpt_model *m = tr.one;
    const int S = 6;
    char err[256] = "";
    mgpt_decoder *b = mgpt_decoder_create_batch(m, in.compute(), S, err, sizeof err);
    mgpt_decoder *one = mgpt_decoder_create(m, in.compute(), err, sizeof err);
    ASSERT_TRUE(b && one) << err;
    mgpt_sample_opts o;
    mgpt_sample_defaults(&o, m);
    o.temperature = 1.2f;   // long, varied samples, some past the block
    int prompt[2] = {nd.vocab.id['a'], nd.vocab.id['l']};
    for (int n_prompt : {0, 2}) {
        std::vector<mgpt_rng> r((size_t)S);
        for (int i = 0; i < S; i++)
            mgpt_rng_seed(&r[(size_t)i], 7, MGPT_STREAM_SAMPLE + 10 * (uint64_t)i);
        size_t cap = 60;
        std::vector<char> out((size_t)S * cap);
        std::vector<int> lens((size_t)S);
        ASSERT_EQ(0, mgpt_generate_batch(b, &nd.vocab, r.data(), &o, prompt, n_prompt, 40, S,
                                         out.data(), cap, lens.data()));
        for (int i = 0; i < S; i++) {
            mgpt_rng ri;
            mgpt_rng_seed(&ri, 7, MGPT_STREAM_SAMPLE + 10 * (uint64_t)i);
            std::vector<char> a(cap);
            int na = mgpt_generate(one, &nd.vocab, &ri, &o, prompt, n_prompt, 40, a.data(), cap,
                                   nullptr, nullptr);
            EXPECT_EQ(na, lens[(size_t)i]);
            EXPECT_STREQ(a.data(), out.data() + (size_t)i * cap)
                << "sample " << i << ", prompt of " << n_prompt;
        }
    }
    mgpt_decoder_free(b);
    mgpt_decoder_free(one);
}


// Past the block: the cache never holds more than block_size positions, and after each
// slide the logits are the full forward's over the window's tokens at positions 0.. (the
// same bits on the scalar reference).
TEST(DecodeWindow, SlidesByHalfABlockAndMatchesAFullForwardOfTheWindow)
{
    Registry reg;
    Instance in(reg, "scalar");
    ASSERT_TRUE(in.ok()) << in.why();
    Trained tr(in.compute(), "e32_L2_b16_B4", 20);
    ASSERT_TRUE(tr.ok()) << tr.why;
    mgpt_model *m = tr.one;
    int T = m->T, V = m->cfg.vocab_size;
    char err[256] = "";
    mgpt_decoder *d = mgpt_decoder_create(m, in.compute(), err, sizeof err);
    ASSERT_NE(d, nullptr) << err;
    std::vector<int> tok = document(3 * T + 5, V, 3);
    int checked = 0;
    for (size_t i = 0; i < tok.size(); i++) {
        const float *got = mgpt_decoder_step(d, tok[i]);
        ASSERT_GE(d->len[0], 1);
        ASSERT_LE(d->len[0], T);
        if (i < (size_t)T) {
            EXPECT_EQ(d->len[0], (int)i + 1);
        }
        // the window's tokens are the last len tokens fed, in order
        for (int j = 0; j < d->len[0]; j++)
            ASSERT_EQ(d->window[j], tok[i + 1 - (size_t)d->len[0] + (size_t)j]);
        for (int j = 0; j < T; j++)
            m->tokens[j] = j < d->len[0] ? d->window[j] : MGPT_BOS;
        mgpt_model_forward(m);
        const float *want = mgpt_model_logits(m, 0, d->len[0] - 1);
        for (int v = 0; v < V; v++)
            ASSERT_EQ(got[v], want[v]) << "token " << i << ", id " << v;
        checked++;
    }
    EXPECT_EQ(checked, 3 * T + 5);
    mgpt_decoder_free(d);
}

// A prompt: its logits are those of BOS + prompt; the generation goes on past the block.
TEST(DecodeGenerate, PromptAndMoreTokensThanTheBlock)
{
    Registry reg;
    Instance in(reg, "scalar");
    ASSERT_TRUE(in.ok()) << in.why();
    Trained tr(in.compute(), "e32_L2_b16_B4", 60);
    ASSERT_TRUE(tr.ok()) << tr.why;
    mgpt_test::NamesData &nd = mgpt_test::NamesData::get();
    mgpt_model *m = tr.one;
    char err[256] = "";
    mgpt_decoder *d = mgpt_decoder_create(m, in.compute(), err, sizeof err);
    ASSERT_NE(d, nullptr) << err;
    mgpt_sample_opts o;
    mgpt_sample_defaults(&o, m);
    o.temperature = 1.5f;   // hot: long documents that run past the block
    mgpt_rng r;
    mgpt_rng_seed(&r, 1, MGPT_STREAM_SAMPLE);
    int prompt[3] = {nd.vocab.id['a'], nd.vocab.id['n'], nd.vocab.id['n']};
    std::vector<char> out(200);
    int longest = 0;
    for (int i = 0; i < 50; i++) {
        int n = mgpt_generate(d, &nd.vocab, &r, &o, prompt, 3, 150, out.data(), out.size(),
                              nullptr, nullptr);
        ASSERT_EQ((size_t)n, strlen(out.data()));
        longest = std::max(longest, n);
    }
    EXPECT_GT(longest, m->T) << "no sample went past the block of " << m->T;
    mgpt_decoder_free(d);
}

// The draw walks ids in order of probability, highest first, lower id first on ties, and
// keeps top-k / top-p of that order: checked against std::sort's order on a BPE-sized
// vocabulary with many ties, for each of 2000 draws.
TEST(SampleDraw, WalksIdsByProbabilityThenIdAndCutsTopKAndTopP)
{
    const int V = 700;
    std::vector<float> logits((size_t)V);
    unsigned seed = 9;
    for (int i = 0; i < V; i++) {
        seed = seed * 1103515245u + 12345u;
        logits[(size_t)i] = (float)((seed >> 16) % 40) / 8.0f;   // 40 values: many ties
    }
    std::vector<double> p((size_t)V);
    std::vector<int> idx((size_t)V);
    for (int variant = 0; variant < 3; variant++) {
        mgpt_sample_opts o = {};
        o.temperature = 0.7f;
        o.top_k = variant == 1 ? 50 : 0;
        o.top_p = variant == 2 ? 0.6f : 1.0f;
        // the reference: weights, the order by std::sort, the cut
        double maxv = *std::max_element(logits.begin(), logits.end());
        std::vector<double> w((size_t)V);
        double sum = 0;
        for (int i = 0; i < V; i++)
            sum += w[(size_t)i] = std::exp((logits[(size_t)i] - maxv) / o.temperature);
        std::vector<int> order((size_t)V);
        for (int i = 0; i < V; i++)
            order[(size_t)i] = i;
        std::sort(order.begin(), order.end(), [&](int a, int b) {
            return w[(size_t)a] > w[(size_t)b] || (w[(size_t)a] == w[(size_t)b] && a < b);
        });
        int keep = o.top_k ? o.top_k : V;
        if (o.top_p < 1.0f) {
            double cum = 0;
            for (int i = 0; i < keep; i++)
                if ((cum += w[(size_t)order[(size_t)i]] / sum) >= o.top_p) {
                    keep = i + 1;
                    break;
                }
        }
        double kept = 0;
        for (int i = 0; i < keep; i++)
            kept += w[(size_t)order[(size_t)i]];
        mgpt_rng r, ref;
        mgpt_rng_seed(&r, 3, MGPT_STREAM_SAMPLE);
        mgpt_rng_seed(&ref, 3, MGPT_STREAM_SAMPLE);
        for (int d = 0; d < 2000; d++) {
            int got = mgpt_sample_draw(logits.data(), V, &o, &r, p.data(), idx.data());
            double u = mgpt_rng_uniform(&ref) * kept;
            int want = order[(size_t)keep - 1];
            for (int i = 0; i < keep; i++)
                if ((u -= w[(size_t)order[(size_t)i]]) < 0) {
                    want = order[(size_t)i];
                    break;
                }
            ASSERT_EQ(got, want) << "draw " << d << ", variant " << variant;
        }
        for (int i = 0; i < V; i++)
            ASSERT_EQ(idx[(size_t)i], order[(size_t)i]) << "place " << i;
    }
}

}  // namespace

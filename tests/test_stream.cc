// Stream mode: the documents as one token stream, random training windows within the
// training part, a disjoint validation tail, and the line-mode cut count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/stream.h"
#include "data/tokenizer.h"

namespace {

struct Fixture {
    mgpt_docs d;
    mgpt_vocab v;
    mgpt_stream s{};
    Fixture(const std::string &text, double val)
    {
        mgpt_docs_init(&d);
        char err[512];
        EXPECT_EQ(mgpt_docs_add_text(&d, text.data(), text.size(), "t", err, sizeof err), 0);
        mgpt_vocab_build(&v, &d);
        EXPECT_EQ(mgpt_stream_make(&s, &d, &v, val, err, sizeof err), 0) << err;
    }
    ~Fixture()
    {
        mgpt_stream_free(&s);
        mgpt_docs_free(&d);
    }
};

std::string corpus()
{
    std::string t;
    for (int i = 0; i < 200; i++)
        t += "line " + std::to_string(i * 7919 % 1000) + " of the stream\n";
    return t;
}

TEST(Stream, DocumentsJoinedByBos)
{
    Fixture f("ab\n\nc\n", 0.0);
    // [BOS] a b [BOS] c [BOS]
    ASSERT_EQ(f.s.n, 6u);
    EXPECT_EQ(f.s.n_train, 6u);
    std::vector<int> want = {MGPT_BOS, f.v.id['a'], f.v.id['b'], MGPT_BOS, f.v.id['c'], MGPT_BOS};
    EXPECT_EQ(std::vector<int>(f.s.tok, f.s.tok + f.s.n), want);
}

TEST(Stream, ValidationTailIsTheRoundedFraction)
{
    Fixture f(corpus(), 0.1);
    size_t n_val = f.s.n - f.s.n_train;
    EXPECT_EQ(n_val, (size_t)std::llround(0.1 * (double)f.s.n));
}

TEST(Stream, WindowsLieInTheTrainingPartAndTargetsAreShifted)
{
    Fixture f(corpus(), 0.2);
    const int B = 16, T = 32;
    std::vector<int> tok(B * T), tgt(B * T);
    std::set<size_t> starts;
    for (long step = 0; step < 200; step++) {
        mgpt_stream_batch(&f.s, 7, step, B, T, tok.data(), tgt.data());
        for (int b = 0; b < B; b++) {
            // find the window's start: the stream is not periodic at this length
            const int *row = &tok[b * T];
            size_t found = SIZE_MAX;
            for (size_t st = 0; st + T < f.s.n && found == SIZE_MAX; st++)
                if (std::equal(row, row + T, f.s.tok + st) &&
                    std::equal(&tgt[b * T], &tgt[b * T] + T, f.s.tok + st + 1))
                    found = st;
            ASSERT_NE(found, SIZE_MAX) << "step " << step << " row " << b;
            // the whole window, its last target included, is in the training part
            EXPECT_LE(found + T, f.s.n_train - 1);
            starts.insert(found);
        }
    }
    // random windows: many different starts, not a fixed walk
    EXPECT_GT(starts.size(), 500u);
}

TEST(Stream, BatchesAreAPureFunctionOfSeedAndStep)
{
    Fixture f(corpus(), 0.1);
    const int B = 4, T = 16;
    std::vector<int> a(B * T), at(B * T), b(B * T), bt(B * T), c(B * T), ct(B * T);
    mgpt_stream_batch(&f.s, 42, 5, B, T, a.data(), at.data());
    mgpt_stream_batch(&f.s, 42, 5, B, T, b.data(), bt.data());
    EXPECT_EQ(a, b);
    EXPECT_EQ(at, bt);
    mgpt_stream_batch(&f.s, 43, 5, B, T, c.data(), ct.data());
    EXPECT_NE(a, c);
    mgpt_stream_batch(&f.s, 42, 6, B, T, c.data(), ct.data());
    EXPECT_NE(a, c);
}

TEST(Stream, ValidationCoversTheTailOnceAndNothingElse)
{
    Fixture f(corpus(), 0.1);
    const int B = 3, T = 8;
    std::vector<int> tok(B * T), tgt(B * T);
    std::vector<int> inputs, targets;
    long total = 0;
    for (long i = 0; i < mgpt_stream_val_batches(&f.s, B, T); i++) {
        total += mgpt_stream_val_batch(&f.s, i, B, T, tok.data(), tgt.data());
        for (int r = 0; r < B * T; r++)
            if (tgt[r] >= 0) {
                inputs.push_back(tok[r]);
                targets.push_back(tgt[r]);
            }
    }
    size_t m = f.s.n - f.s.n_train;
    ASSERT_EQ((size_t)total, m - 1);
    // in order: the tail's tokens as inputs, the tail shifted by one as targets
    EXPECT_EQ(inputs, std::vector<int>(f.s.tok + f.s.n_train, f.s.tok + f.s.n - 1));
    EXPECT_EQ(targets, std::vector<int>(f.s.tok + f.s.n_train + 1, f.s.tok + f.s.n));
}

TEST(Stream, ByteOutsideTheVocabularyIsAnError)
{
    mgpt_docs d;
    mgpt_docs_init(&d);
    char err[512] = "";
    ASSERT_EQ(mgpt_docs_add_text(&d, "abc\nxyz\n", 8, "t", err, sizeof err), 0);
    mgpt_vocab v;
    const unsigned char bytes[] = {'a', 'b', 'c'};
    ASSERT_EQ(mgpt_vocab_from_bytes(&v, bytes, 3), 0);
    mgpt_stream s{};
    EXPECT_EQ(mgpt_stream_make(&s, &d, &v, 0.0, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("document 2"), std::string::npos) << err;
    mgpt_docs_free(&d);
}

TEST(Docs, CutCountsTheBytesBeyondTheBlock)
{
    mgpt_docs d;
    mgpt_docs_init(&d);
    char err[512];
    std::string text = "abcdefghij\nabc\nabcdef\n";  // 10, 3, 6 bytes
    ASSERT_EQ(mgpt_docs_add_text(&d, text.data(), text.size(), "t", err, sizeof err), 0);
    int cut;
    size_t beyond, total;
    mgpt_docs_cut(&d, 4, &cut, &beyond, &total);
    EXPECT_EQ(cut, 2);
    EXPECT_EQ(beyond, 6u + 2u);
    EXPECT_EQ(total, 19u);
    mgpt_docs_cut(&d, 10, &cut, &beyond, &total);
    EXPECT_EQ(cut, 0);
    EXPECT_EQ(beyond, 0u);
    mgpt_docs_free(&d);
}

}  // namespace

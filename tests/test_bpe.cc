// Byte-level BPE: merges learned deterministically (most frequent pair, ties to the smaller
// ids), known merges encode as expected, exact round trip for any bytes, the file format
// validated on load.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "data/bpe.h"
#include "data/rng.h"

namespace {

struct Bpe {
    mgpt_bpe t{};
    ~Bpe() { mgpt_bpe_free(&t); }
};

int train(Bpe &b, const std::vector<std::string> &docs, int V, std::string *err = nullptr)
{
    std::vector<const char *> p;
    std::vector<size_t> l;
    for (const std::string &d : docs) {
        p.push_back(d.data());
        l.push_back(d.size());
    }
    char e[512] = "";
    int rc = mgpt_bpe_train(&b.t, p.data(), l.data(), (int)docs.size(), V, e, sizeof e);
    if (err)
        *err = e;
    return rc;
}

std::vector<int> encode(const Bpe &b, const std::string &s)
{
    std::vector<int> out(s.size() + 1);
    out.resize(mgpt_bpe_encode(&b.t, s.data(), s.size(), out.data()));
    return out;
}

std::string decode(const Bpe &b, const std::vector<int> &ids)
{
    long n = mgpt_bpe_decode(&b.t, ids.data(), ids.size(), nullptr, 0);
    EXPECT_GE(n, 0);
    std::string s((size_t)n, '\0');
    EXPECT_EQ(mgpt_bpe_decode(&b.t, ids.data(), ids.size(), &s[0], s.size()), n);
    return s;
}

int id(char c) { return mgpt_bpe_byte_id((unsigned char)c); }

std::vector<std::string> text()
{
    std::vector<std::string> d;
    for (int i = 0; i < 300; i++)
        d.push_back("the quick brown fox " + std::to_string(i % 17) + " jumps over the lazy dog");
    return d;
}

TEST(Bpe, MostFrequentPairFirstTiesToTheSmallerIds)
{
    Bpe b;
    // "aaab": pairs aa x2 (overlapping), ab x1; "cdcd": cd x2, dc x1.
    // aa and cd tie at 2: aa has the smaller left id, so it is merge 0.
    ASSERT_EQ(train(b, {"aaab", "cdcd"}, 259), 0);
    ASSERT_EQ(b.t.n_merges, 2);
    EXPECT_EQ(b.t.merge[0][0], id('a'));
    EXPECT_EQ(b.t.merge[0][1], id('a'));
    // after merging "aa" (left to right: [aa] a b), the counts are updated: cd 2 remains
    EXPECT_EQ(b.t.merge[1][0], id('c'));
    EXPECT_EQ(b.t.merge[1][1], id('d'));
}

TEST(Bpe, PairsDoNotSpanDocuments)
{
    Bpe b;
    // "ab" never occurs inside a document, only across the boundaries (three times)
    ASSERT_EQ(train(b, {"xa", "bx", "ya", "by"}, 300), 0);
    EXPECT_EQ(b.t.n_merges, 0);  // no pair occurs twice within a document
}

TEST(Bpe, IncrementalCountsMatchALearnerThatRecounts)
{
    // a reference learner that recounts every pair before each merge
    std::vector<std::string> docs = text();
    std::vector<std::vector<int>> seqs;
    for (const std::string &d : docs) {
        std::vector<int> s;
        for (char c : d)
            s.push_back(id(c));
        seqs.push_back(s);
    }
    std::vector<std::pair<int, int>> want;
    for (int r = 0; r < 40; r++) {
        std::map<std::pair<int, int>, long> cnt;
        for (auto &s : seqs)
            for (size_t i = 0; i + 1 < s.size(); i++)
                cnt[{s[i], s[i + 1]}]++;
        std::pair<int, int> best{-1, -1};
        long bc = 1;
        for (auto &kv : cnt)  // map order: smaller ids first, so > keeps the first of a tie
            if (kv.second > bc) {
                bc = kv.second;
                best = kv.first;
            }
        if (bc < 2)
            break;
        want.push_back(best);
        int nid = MGPT_BPE_FIRST_MERGE + r;
        for (auto &s : seqs) {
            std::vector<int> o;
            for (size_t i = 0; i < s.size();)
                if (i + 1 < s.size() && s[i] == best.first && s[i + 1] == best.second) {
                    o.push_back(nid);
                    i += 2;
                } else
                    o.push_back(s[i++]);
            s = o;
        }
    }
    Bpe b;
    ASSERT_EQ(train(b, docs, MGPT_BPE_FIRST_MERGE + 40), 0);
    ASSERT_EQ((size_t)b.t.n_merges, want.size());
    for (int r = 0; r < b.t.n_merges; r++) {
        EXPECT_EQ(b.t.merge[r][0], want[r].first) << "merge " << r;
        EXPECT_EQ(b.t.merge[r][1], want[r].second) << "merge " << r;
    }
}

TEST(Bpe, TrainingIsDeterministic)
{
    Bpe a, b;
    ASSERT_EQ(train(a, text(), 320), 0);
    ASSERT_EQ(train(b, text(), 320), 0);
    ASSERT_EQ(a.t.n_merges, b.t.n_merges);
    EXPECT_GT(a.t.n_merges, 20);
    EXPECT_EQ(memcmp(a.t.merge, b.t.merge, (size_t)a.t.n_merges * sizeof *a.t.merge), 0);
}

TEST(Bpe, EncodesWithKnownMerges)
{
    // 257: "a" "b"; 258: 257 "c" ("abc"); 259: 258 258
    const int m[3][2] = {{id('a'), id('b')}, {257, id('c')}, {258, 258}};
    Bpe b;
    char err[256];
    ASSERT_EQ(mgpt_bpe_from_merges(&b.t, m, 3, err, sizeof err), 0) << err;
    EXPECT_EQ(encode(b, "abcabcab"), (std::vector<int>{259, 257}));
    EXPECT_EQ(encode(b, "xabcy"), (std::vector<int>{id('x'), 258, id('y')}));
    EXPECT_EQ(encode(b, "ba"), (std::vector<int>{id('b'), id('a')}));
    EXPECT_EQ(decode(b, {259, 257, id('!')}), "abcabcab!");
}

TEST(Bpe, RoundTripIsExactForRandomBytesAndInvalidUtf8)
{
    Bpe b;
    ASSERT_EQ(train(b, text(), 400), 0);
    mgpt_rng r;
    mgpt_rng_seed(&r, 5, 9);
    for (int k = 0; k < 50; k++) {
        std::string s(mgpt_rng_below(&r, 300), '\0');
        for (char &c : s)
            c = (char)mgpt_rng_below(&r, 256);
        EXPECT_EQ(decode(b, encode(b, s)), s);
    }
    for (std::string s : {std::string("\xff\xfe\xc3(\xe2\x82", 6), std::string("\0\0the", 5),
                          std::string("the quick \xc3\xa9\xed\xa0\x80 fox")})
        EXPECT_EQ(decode(b, encode(b, s)), s);
    // and the merges shorten the text they were learned on
    std::string t = text()[3];
    EXPECT_LT(encode(b, t).size() * 3, t.size());
}

TEST(Bpe, DecodeRefusesAnIdOutsideTheVocabulary)
{
    Bpe b;
    ASSERT_EQ(train(b, text(), 260), 0);
    std::vector<int> ids{id('a'), b.t.vocab_size};
    char out[8];
    EXPECT_EQ(mgpt_bpe_decode(&b.t, ids.data(), ids.size(), out, sizeof out), -1);
}

TEST(Bpe, BadVocabSizeIsAnError)
{
    Bpe b;
    std::string err;
    EXPECT_EQ(train(b, text(), 100, &err), -1);
    EXPECT_NE(err.find("vocabulary size 100"), std::string::npos) << err;
}

TEST(BpeFile, TextRoundTrip)
{
    Bpe a, b;
    ASSERT_EQ(train(a, text(), 300), 0);
    char *s = mgpt_bpe_to_text(&a.t);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(std::string(s).substr(0, 11), "mgpt-bpe 1\n");
    char err[512];
    ASSERT_EQ(mgpt_bpe_from_text(&b.t, s, strlen(s), "t", err, sizeof err), 0) << err;
    free(s);
    ASSERT_EQ(a.t.vocab_size, b.t.vocab_size);
    EXPECT_EQ(memcmp(a.t.merge, b.t.merge, (size_t)a.t.n_merges * sizeof *a.t.merge), 0);
}

TEST(BpeFile, BadFilesAreRefusedWithTheReason)
{
    struct { const char *text, *want; } cases[] = {
        {"hello\n", "not an mgpt tokenizer"},
        {"mgpt-bpe 2\nvocab_size 257\n", "not supported"},
        {"mgpt-bpe 1\nvocab_size 12\n", "line 2"},
        {"mgpt-bpe 1\nvocab_size 259\n97 98\n", "the file ends"},
        {"mgpt-bpe 1\nvocab_size 258\n97 x\n", "not two ids"},
        {"mgpt-bpe 1\nvocab_size 258\n97 98", "no newline"},
        {"mgpt-bpe 1\nvocab_size 258\n97 98\n1 2\n", "text after"},
        {"mgpt-bpe 1\nvocab_size 258\n97 257\n", "not a byte or an earlier merge"},
        {"mgpt-bpe 1\nvocab_size 258\n0 5\n", "not a byte or an earlier merge"},
    };
    for (auto &c : cases) {
        Bpe b;
        char err[512] = "";
        EXPECT_EQ(mgpt_bpe_from_text(&b.t, c.text, strlen(c.text), "tokenizer 'x'", err,
                                     sizeof err), -1) << c.text;
        EXPECT_NE(std::string(err).find(c.want), std::string::npos) << c.text << ": " << err;
    }
}

TEST(BpeFile, SaveAndLoad)
{
    const char *base = getenv("MGPT_TEST_TMPDIR");
    std::string path = std::string(base && *base ? base : "/tmp") + "/test_bpe.tok";
    Bpe a, b;
    ASSERT_EQ(train(a, text(), 280), 0);
    char err[512];
    ASSERT_EQ(mgpt_bpe_save(&a.t, path.c_str(), err, sizeof err), 0) << err;
    ASSERT_EQ(mgpt_bpe_load(&b.t, path.c_str(), err, sizeof err), 0) << err;
    EXPECT_EQ(b.t.n_merges, a.t.n_merges);
    remove(path.c_str());
    Bpe c;
    EXPECT_EQ(mgpt_bpe_load(&c.t, path.c_str(), err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("cannot read tokenizer"), std::string::npos) << err;
}

}  // namespace

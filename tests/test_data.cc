// The data path of the spec: documents (one per line), the char tokenizer, batches with
// padding and masks, and the seeded shuffle and validation split. Expected values are
// computed here from the spec (tests/test_util.h: spec_encode_row), not from the engine.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "data/dataset.h"
#include "data/rng.h"
#include "data/tokenizer.h"
}
#include "test_util.h"

namespace {

using namespace mgpt_test;

struct Docs {
    mgpt_docs d;
    Docs() { mgpt_docs_init(&d); }
    ~Docs() { mgpt_docs_free(&d); }
    int add(const std::string &text, std::string *err_out = nullptr)
    {
        char err[512] = "";
        int rc = mgpt_docs_add_text(&d, text.data(), text.size(), "the test text", err, sizeof err);
        if (err_out)
            *err_out = err;
        return rc;
    }
    std::string doc(int i) const { return std::string(d.text[i], d.len[i]); }
    std::vector<std::string> all() const
    {
        std::vector<std::string> v;
        for (int i = 0; i < d.count; i++)
            v.push_back(doc(i));
        return v;
    }
};

struct Split {
    mgpt_split s{};
    int rc;
    Split(int count, uint64_t seed, double f) { rc = mgpt_split_make(&s, count, seed, f); }
    ~Split() { mgpt_split_free(&s); }
    std::vector<int> order() const { return std::vector<int>(s.order, s.order + s.count); }
};

// ---------------------------------------------------------------------------------------
// Documents

TEST(Docs, OneDocumentPerLineTrailingSpaceStrippedEmptyLinesSkipped)
{
    Docs d;
    ASSERT_EQ(d.add("anna\r\n\nbob \t\r\n   \n\r\n  carl\nd\n\n\ne f\r"), 0);
    std::vector<std::string> want = {"anna", "bob", "  carl", "d", "e f"};
    EXPECT_EQ(d.all(), want);
    for (int i = 0; i < d.d.count; i++)
        EXPECT_EQ(d.d.len[i], want[i].size());
    // a last line without a newline counts; a second text appends
    ASSERT_EQ(d.add("zoe"), 0);
    EXPECT_EQ(d.d.count, 6);
    EXPECT_EQ(d.doc(5), "zoe");
}

TEST(Docs, NoDocumentsIsAnError)
{
    for (const char *text : {"", "\n", "\r\n \t\n\n"}) {
        Docs d;
        std::string err;
        EXPECT_NE(d.add(text, &err), 0) << "text of " << strlen(text) << " bytes";
        EXPECT_FALSE(err.empty());
        EXPECT_EQ(d.d.count, 0);
    }
}

TEST(Docs, NulBytesAreRefused)
{
    Docs d;
    std::string err;
    std::string text("anna\nb\0b\ncarl\n", 15);
    EXPECT_NE(d.add(text, &err), 0);
    EXPECT_NE(err.find("NUL"), std::string::npos) << err;
    EXPECT_NE(err.find("the test text"), std::string::npos) << "names the source: " << err;
    EXPECT_EQ(d.d.count, 0) << "nothing of a refused text is kept";
}

TEST(Docs, FromFile)
{
    const char *dir = getenv("MGPT_TEST_TMPDIR");
    std::string path = std::string(dir ? dir : "/tmp") + "/test_data_docs." +
                       std::to_string((long)getpid()) + ".txt";
    FILE *f = fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr) << path;
    fputs("emma\r\nolivia\n\nava  \n", f);
    fclose(f);
    Docs d;
    char err[512] = "";
    EXPECT_EQ(mgpt_docs_add_file(&d.d, path.c_str(), err, sizeof err), 0) << err;
    EXPECT_EQ(d.all(), (std::vector<std::string>{"emma", "olivia", "ava"}));
    unlink(path.c_str());
    // a missing file and a directory are errors that name the path
    Docs e;
    EXPECT_NE(mgpt_docs_add_file(&e.d, path.c_str(), err, sizeof err), 0);
    EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
    EXPECT_NE(mgpt_docs_add_file(&e.d, dir ? dir : "/tmp", err, sizeof err), 0);
    EXPECT_EQ(e.d.count, 0);
}

// A FIFO without a writer would block open(2) forever; it is refused at once.
TEST(Docs, FifoIsRefusedWithoutBlocking)
{
    const char *dir = getenv("MGPT_TEST_TMPDIR");
    std::string path = std::string(dir ? dir : "/tmp") + "/test_data_fifo." +
                       std::to_string((long)getpid());
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0) << path;
    Docs d;
    char err[512] = "";
    alarm(30);  // a hang becomes SIGALRM, a failure
    EXPECT_NE(mgpt_docs_add_file(&d.d, path.c_str(), err, sizeof err), 0);
    alarm(0);
    unlink(path.c_str());
    EXPECT_NE(std::string(err).find("FIFO"), std::string::npos) << err;
    EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
}

TEST(Docs, EmbeddedNames)
{
    // The embedded data is names.txt: count its non-empty lines independently.
    Docs d;
    char err[512] = "";
    ASSERT_EQ(mgpt_docs_add_embedded(&d.d, err, sizeof err), 0) << err;
    std::string all(mgpt_names_txt, mgpt_names_txt_len);
    int lines = 0;
    size_t start = 0;
    while (start < all.size()) {
        size_t nl = all.find('\n', start);
        size_t end = nl == std::string::npos ? all.size() : nl;
        std::string line = all.substr(start, end - start);
        while (!line.empty() && isspace((unsigned char)line.back()))
            line.pop_back();
        lines += !line.empty();
        start = end + 1;
    }
    EXPECT_EQ(d.d.count, lines);
    EXPECT_EQ(d.d.count, 32033);  // the well-known names.txt
    EXPECT_EQ(d.doc(0), "emma");
    for (int i = 0; i < d.d.count; i++)
        for (char c : d.doc(i))
            ASSERT_TRUE(c >= 'a' && c <= 'z') << "document " << i << ": " << d.doc(i);
}

// ---------------------------------------------------------------------------------------
// Tokenizer

TEST(Tokenizer, NamesVocabulary)
{
    Docs d;
    char err[512] = "";
    ASSERT_EQ(mgpt_docs_add_embedded(&d.d, err, sizeof err), 0) << err;
    mgpt_vocab v;
    mgpt_vocab_build(&v, &d.d);
    EXPECT_EQ(v.size, 27);
    EXPECT_EQ(MGPT_BOS, 0);
    for (int i = 1; i < 27; i++) {
        EXPECT_EQ(v.byte[i], 'a' + i - 1);
        EXPECT_EQ(v.id['a' + i - 1], i);
    }
    for (int b = 0; b < 256; b++) {
        if (b < 'a' || b > 'z') {
            EXPECT_EQ(v.id[b], -1) << "byte " << b;
        }
    }
}

TEST(Tokenizer, IdsInAscendingByteOrder)
{
    // bytes from the whole range, high (UTF-8) bytes compared unsigned, first seen last
    Docs d;
    ASSERT_EQ(d.add("zebra \xc3\xa9t\xc3\xa9\n~Z 09\n\x7f\x80\xff!"), 0);
    std::set<unsigned char> bytes;
    for (const std::string &s : d.all())
        for (char c : s)
            bytes.insert((unsigned char)c);
    mgpt_vocab v;
    mgpt_vocab_build(&v, &d.d);
    ASSERT_EQ(v.size, (int)bytes.size() + 1);
    int id = 1;
    for (unsigned char b : bytes) {  // std::set iterates in ascending order
        EXPECT_EQ(v.byte[id], b) << "id " << id;
        EXPECT_EQ(v.id[b], id) << "byte " << (int)b;
        id++;
    }
    EXPECT_EQ(v.id[(unsigned char)'\n'], -1);
    EXPECT_EQ(v.id[(unsigned char)'q'], -1);
}

TEST(Tokenizer, EncodeIsBosIdsBos)
{
    Docs d;
    ASSERT_EQ(d.add("abc\ncab\n"), 0);
    mgpt_vocab v;
    mgpt_vocab_build(&v, &d.d);
    int out[8];
    ASSERT_EQ(mgpt_vocab_encode(&v, "cab", 3, out), 0);
    EXPECT_EQ(std::vector<int>(out, out + 5), (std::vector<int>{0, 3, 1, 2, 0}));
    ASSERT_EQ(mgpt_vocab_encode(&v, "", 0, out), 0);
    EXPECT_EQ(std::vector<int>(out, out + 2), (std::vector<int>{0, 0}));
    EXPECT_EQ(mgpt_vocab_encode(&v, "cad", 3, out), -1) << "'d' is not in the vocabulary";
}

TEST(Tokenizer, FromBytes)
{
    mgpt_vocab v;
    const unsigned char abc[] = {'a', 'b', 'z'};
    ASSERT_EQ(mgpt_vocab_from_bytes(&v, abc, 3), 0);
    EXPECT_EQ(v.size, 4);
    EXPECT_EQ(v.id['a'], 1);
    EXPECT_EQ(v.id['b'], 2);
    EXPECT_EQ(v.id['z'], 3);
    EXPECT_EQ(v.byte[3], 'z');
    EXPECT_EQ(v.id['c'], -1);
    // not strictly ascending, or empty: refused
    const unsigned char dup[] = {'a', 'a'}, desc[] = {'b', 'a'};
    EXPECT_EQ(mgpt_vocab_from_bytes(&v, dup, 2), -1);
    EXPECT_EQ(mgpt_vocab_from_bytes(&v, desc, 2), -1);
    EXPECT_EQ(mgpt_vocab_from_bytes(&v, abc, 0), -1);
    // the largest vocabulary a corpus can have: every byte but NUL (V = 256)
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    ASSERT_EQ(mgpt_vocab_from_bytes(&v, all + 1, 255), 0);
    EXPECT_EQ(v.size, 256);
    for (int b = 1; b < 256; b++)
        ASSERT_EQ(v.id[b], b) << "byte " << b;
    EXPECT_EQ(v.id[0], -1);
    // all 256 bytes (V = 257, which mgpt_config_validate accepts): either refused, or
    // every byte maps to its id. mgpt_vocab.byte has 256 entries, ids 1..256 need 257.
    if (mgpt_vocab_from_bytes(&v, all, 256) == 0) {
        EXPECT_EQ(v.size, 257);
        for (int b = 0; b < 256; b++)
            ASSERT_EQ(v.id[b], b + 1) << "byte " << b << " (V = 257 vocabulary)";
    }
}

// ---------------------------------------------------------------------------------------
// Batches

TEST(Batch, InputsTargetsAndMasksAsInTheSpec)
{
    const int T = 6;
    Docs d;
    // lengths 1, T-2, T-1 (closing BOS is the last target), T and T+4 (truncated)
    ASSERT_EQ(d.add("q\nabcd\nabcde\nedcbaz\nzyxwvutsrq\n"), 0);
    mgpt_vocab v;
    mgpt_vocab_build(&v, &d.d);
    // the documents in an odd order, with all-padding rows (-1) in between
    const std::vector<int> ids = {3, -1, 0, 4, 2, -1, 1};
    const int B = (int)ids.size();
    std::vector<int> tok(B * T, 99), tgt(B * T, 99), scratch(T + 2);
    char err[512] = "";
    int got = mgpt_batch_fill(&d.d, &v, ids.data(), B, T, tok.data(), tgt.data(),
                              scratch.data(), err, sizeof err);
    std::vector<int> etok(B * T), etgt(B * T);
    int want = 0;
    for (int b = 0; b < B; b++) {
        std::vector<int> chars;
        if (ids[b] >= 0)
            for (char c : d.doc(ids[b]))
                chars.push_back(v.id[(unsigned char)c]);
        want += spec_encode_row(chars, T, &etok[b * T], &etgt[b * T], ids[b] < 0);
    }
    EXPECT_EQ(got, want) << err;
    EXPECT_EQ(want, 6 + 0 + 2 + 6 + 6 + 0 + 5);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            EXPECT_EQ(tok[b * T + t], etok[b * T + t]) << "input, row " << b << " position " << t;
            EXPECT_EQ(tgt[b * T + t], etgt[b * T + t]) << "target, row " << b << " position " << t;
        }
    // spot checks written out by hand: "q" -> [BOS q BOS], n = 2
    int q = v.id['q'];
    EXPECT_EQ(std::vector<int>(tok.begin() + 2 * T, tok.begin() + 3 * T),
              (std::vector<int>{0, q, 0, 0, 0, 0}));
    EXPECT_EQ(std::vector<int>(tgt.begin() + 2 * T, tgt.begin() + 3 * T),
              (std::vector<int>{q, 0, -1, -1, -1, -1}));
    // "abcde" (T-1 characters): all T positions, the last target is the closing BOS
    EXPECT_EQ(tgt[4 * T + T - 1], MGPT_BOS);
    // "edcbaz" (T characters): the closing BOS falls off, the last target is 'z'
    EXPECT_EQ(tgt[0 * T + T - 1], v.id['z']);
}

TEST(Batch, ByteOutsideTheVocabularyIsAnError)
{
    Docs d;
    ASSERT_EQ(d.add("abc\nabd\n"), 0);
    mgpt_vocab v;
    const unsigned char abc[] = {'a', 'b', 'c'};
    ASSERT_EQ(mgpt_vocab_from_bytes(&v, abc, 3), 0);
    int ids[2] = {0, 1}, tok[8], tgt[8], scratch[6];
    char err[512] = "";
    EXPECT_EQ(mgpt_batch_fill(&d.d, &v, ids, 2, 4, tok, tgt, scratch, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("1"), std::string::npos) << "names the document: " << err;
}

// ---------------------------------------------------------------------------------------
// Shuffle and split

// The measuring tools' batch: every id in the vocabulary, each used, the same for a seed.
TEST(Batch, RandomBatchCoversTheVocabularyAndDependsOnTheSeedOnly)
{
    const int n = 4096, V = 27;
    std::vector<int> tok(n), tgt(n), tok2(n), tgt2(n), tok3(n), tgt3(n);
    mgpt_batch_random(tok.data(), tgt.data(), n, V, 42);
    mgpt_batch_random(tok2.data(), tgt2.data(), n, V, 42);
    mgpt_batch_random(tok3.data(), tgt3.data(), n, V, 43);
    EXPECT_EQ(tok, tok2);
    EXPECT_EQ(tgt, tgt2);
    EXPECT_NE(tok, tok3);
    std::vector<int> seen(V, 0);
    for (int i = 0; i < n; i++) {
        ASSERT_GE(tok[i], 0);
        ASSERT_LT(tok[i], V);
        ASSERT_GE(tgt[i], 0);
        ASSERT_LT(tgt[i], V);
        seen[tok[i]]++;
        seen[tgt[i]]++;
    }
    for (int v = 0; v < V; v++)
        EXPECT_GT(seen[v], 0) << "id " << v << " never drawn";
}

TEST(Split, IsAPermutationWithRoundedValidationCount)
{
    struct {
        int count;
        double f;
        int n_val;
    } cases[] = {
        {32033, 0.1, 3203}, {10, 0.0, 0}, {10, 1.0, 10}, {7, 0.3, 2},  // 2.1
        {7, 0.2, 1},  // 1.4
        {9, 0.4, 4},  // 3.6
        {1, 0.1, 0},  {1000, 0.05, 50},
    };
    for (const auto &c : cases) {
        Split s(c.count, 42, c.f);
        ASSERT_EQ(s.rc, 0);
        EXPECT_EQ(s.s.count, c.count);
        EXPECT_EQ(s.s.n_val, c.n_val) << "count " << c.count << ", fraction " << c.f;
        std::vector<int> o = s.order();
        std::sort(o.begin(), o.end());
        std::vector<int> iota(c.count);
        std::iota(iota.begin(), iota.end(), 0);
        EXPECT_EQ(o, iota) << "count " << c.count << ": not a permutation";
    }
}

TEST(Split, ShuffleDependsOnTheSeedOnly)
{
    const int n = 1000;
    Split a(n, 42, 0.1), b(n, 42, 0.1), c(n, 43, 0.1), a2(n, 42, 0.3);
    EXPECT_EQ(a.order(), b.order()) << "same seed, same shuffle";
    EXPECT_NE(a.order(), c.order()) << "another seed, another shuffle";
    EXPECT_EQ(a.order(), a2.order()) << "the fraction moves the cut, not the order";
    EXPECT_EQ(a2.s.n_val, 300);
    // actually shuffled: few fixed points (a random permutation has ~1)
    std::vector<int> o = a.order();
    int fixed = 0;
    for (int i = 0; i < n; i++)
        fixed += o[i] == i;
    EXPECT_LT(fixed, 10);
    // the two seeds' validation sets are different sets of documents
    std::set<int> va(o.begin(), o.begin() + a.s.n_val);
    std::vector<int> oc = c.order();
    std::set<int> vc(oc.begin(), oc.begin() + c.s.n_val);
    EXPECT_NE(va, vc);
}

TEST(Rng, StreamsAreDeterministicAndIndependent)
{
    mgpt_rng a, b, c;
    mgpt_rng_seed(&a, 42, MGPT_STREAM_INIT);
    mgpt_rng_seed(&b, 42, MGPT_STREAM_INIT);
    mgpt_rng_seed(&c, 42, MGPT_STREAM_SHUFFLE);
    int same = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = mgpt_rng_u64(&a), y = mgpt_rng_u64(&b), z = mgpt_rng_u64(&c);
        ASSERT_EQ(x, y);
        same += x == z;
    }
    EXPECT_EQ(same, 0);
    for (int i = 0; i < 10000; i++) {
        double u = mgpt_rng_uniform(&a);
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        ASSERT_LT(mgpt_rng_below(&a, 7), 7u);
    }
}

}  // namespace

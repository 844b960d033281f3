// A BPE tokenizer in training and after: the documents encoded once into batches and
// streams, multi-byte tokens decoded by the sampler, and through the mgpt program
// (train --tokenizer, the checkpoint's "tokenizer" metadata, sample and eval from it,
// --resume, bad tokenizer files).
#include <gtest/gtest.h>

#include "cli_run.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "data/bpe.h"
#include "data/dataset.h"
#include "data/stream.h"
#include "model/evaluate.h"
#include "model/sampler.h"

namespace {

// ---- core: encoded documents, multi-byte tokens ---------------------------------------

struct Fixture {
    mgpt_bpe t{};
    mgpt_docs d{};
    mgpt_vocab v{};
    Fixture()
    {
        mgpt_docs_init(&d);
        // 257: "a" "b"; 258: 257 257 ("abab")
        const int m[2][2] = {{1 + 'a', 1 + 'b'}, {257, 257}};
        char err[256];
        EXPECT_EQ(mgpt_bpe_from_merges(&t, m, 2, err, sizeof err), 0) << err;
        const char text[] = "ababx\nab\nxyz\n";
        EXPECT_EQ(mgpt_docs_add_text(&d, text, strlen(text), "test", err, sizeof err), 0) << err;
        mgpt_vocab_from_bpe(&v, &t);
    }
    ~Fixture()
    {
        mgpt_docs_free(&d);
        mgpt_bpe_free(&t);
    }
};

TEST(BpeVocab, EveryByteAndTheMergesDecodeToTheirBytes)
{
    Fixture f;
    EXPECT_EQ(f.v.size, 259);
    const unsigned char *b;
    ASSERT_EQ(mgpt_vocab_token(&f.v, 258, &b), 4u);
    EXPECT_EQ(std::string((const char *)b, 4), "abab");
    ASSERT_EQ(mgpt_vocab_token(&f.v, 1 + 0xff, &b), 1u);
    EXPECT_EQ(b[0], 0xff);
    EXPECT_EQ(mgpt_vocab_token(&f.v, MGPT_BOS, &b), 0u);
    EXPECT_EQ(mgpt_vocab_token(&f.v, 259, &b), 0u);
    EXPECT_EQ(mgpt_vocab_max_token_len(&f.v), 4u);
    // the char tokenizer: one byte per id
    mgpt_vocab c;
    ASSERT_EQ(mgpt_vocab_from_bytes(&c, (const unsigned char *)"ab", 2), 0);
    EXPECT_EQ(c.bpe, nullptr);
    EXPECT_EQ(mgpt_vocab_max_token_len(&c), 1u);
    ASSERT_EQ(mgpt_vocab_token(&c, 2, &b), 1u);
    EXPECT_EQ(b[0], 'b');
}

TEST(BpeVocab, PromptRoundTripThroughTheVocabulary)
{
    Fixture f;
    const std::string prompt = "xababab\xff\x80 ab";
    std::vector<int> ids(prompt.size());
    size_t n = mgpt_bpe_encode(&f.t, prompt.data(), prompt.size(), ids.data());
    EXPECT_LT(n, prompt.size());
    std::string back;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b;
        size_t k = mgpt_vocab_token(&f.v, ids[i], &b);
        ASSERT_GT(k, 0u);
        back.append((const char *)b, k);
    }
    EXPECT_EQ(back, prompt);
}

TEST(BpeVocab, SamplePutWritesWholeTokensOnly)
{
    Fixture f;
    char out[6];
    int len = 0;
    std::string emitted;
    auto emit = [](unsigned char c, void *u) { static_cast<std::string *>(u)->push_back((char)c); };
    ASSERT_EQ(mgpt_sample_put(&f.v, 258, out, sizeof out, &len, emit, &emitted), 0);
    EXPECT_EQ(len, 4);
    // "abab" again needs 4 more bytes and a NUL: it does not fit, nothing is written
    EXPECT_EQ(mgpt_sample_put(&f.v, 258, out, sizeof out, &len, emit, &emitted), -1);
    EXPECT_EQ(len, 4);
    ASSERT_EQ(mgpt_sample_put(&f.v, 1 + 'x', out, sizeof out, &len, emit, &emitted), 0);
    EXPECT_EQ(std::string(out, (size_t)len), "ababx");
    EXPECT_EQ(emitted, "ababx");
}

TEST(BpeDocs, EncodedOnceBatchesAndStreamsCountTokens)
{
    Fixture f;
    char err[256];
    ASSERT_EQ(mgpt_docs_encode(&f.d, &f.t, err, sizeof err), 0) << err;
    ASSERT_EQ(f.d.count, 3);
    EXPECT_EQ(mgpt_docs_ntok(&f.d, 0), 2u); // abab x
    EXPECT_EQ(mgpt_docs_ntok(&f.d, 1), 1u); // ab
    EXPECT_EQ(mgpt_docs_ntok(&f.d, 2), 3u); // x y z
    // line mode: [BOS] ids [BOS], the first T + 1 tokens, the rest padded and masked
    const int T = 3, ids[3] = {0, 1, 2};
    int tok[3 * T], tgt[3 * T], scratch[T + 2];
    int n = mgpt_batch_fill(&f.d, &f.v, ids, 3, T, tok, tgt, scratch, err, sizeof err);
    const int x = 1 + 'x', y = 1 + 'y', z = 1 + 'z';
    EXPECT_EQ(std::vector<int>(tok, tok + 9), (std::vector<int>{0, 258, x, 0, 257, 0, 0, x, y}));
    EXPECT_EQ(std::vector<int>(tgt, tgt + 9),
              (std::vector<int>{258, x, 0, 257, 0, -1, x, y, z}));
    EXPECT_EQ(n, 3 + 2 + 3);
    // evaluation pads to the longest document in tokens, not bytes ("ababx" is 5 bytes)
    EXPECT_EQ(mgpt_evaluate_positions(&f.d, ids, 2, 64), 3);
    // the cut counts tokens: "xyz" loses 1 of 6 at T = 2
    int cut;
    size_t beyond, total;
    mgpt_docs_cut(&f.d, 2, &cut, &beyond, &total);
    EXPECT_EQ(cut, 1);
    EXPECT_EQ(beyond, 1u);
    EXPECT_EQ(total, 6u);
    // stream: [BOS] 258 x [BOS] 257 [BOS] x y z [BOS]
    mgpt_stream s{};
    ASSERT_EQ(mgpt_stream_make(&s, &f.d, &f.v, 0.0, err, sizeof err), 0) << err;
    EXPECT_EQ(std::vector<int>(s.tok, s.tok + s.n),
              (std::vector<int>{0, 258, x, 0, 257, 0, x, y, z, 0}));
    mgpt_stream_free(&s);
}

// ---- the mgpt program -----------------------------------------------------------------

using mgpt_test::Result;
using mgpt_test::read_file;

// The JSON header of a safetensors file.
std::string header_of(const std::string &path)
{
    std::string s = read_file(path);
    if (s.size() < 8)
        return "";
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | (unsigned char)s[(size_t)i];
    return s.size() < 8 + n ? "" : s.substr(8, n);
}

double loss_at(const std::string &out, const std::string &step)
{
    std::smatch m;
    std::regex re("step +" + step + "/[0-9]+ \\| loss ([0-9.]+)");
    if (!std::regex_search(out, m, re))
        return NAN;
    return std::stod(m[1]);
}

class BpeCli : public mgpt_test::CliTest {
protected:
    BpeCli() { prefix = "bpetrain"; }
    Result run(const std::string &args) { return run_words(args); }
    // A 300-id tokenizer of the names data and a model trained on it.
    void train_bpe(Result *train)
    {
        Result r = run("tokenizer train --vocab-size 300 -o n.tok");
        ASSERT_EQ(r.status, 0) << r.err;
        *train = run("train --tokenizer n.tok --num-steps 300 --seed 1 --log-every 100 "
                     "--save b.st --no-archive --num-samples 3");
        ASSERT_EQ(train->status, 0) << train->err;
    }
};

TEST_F(BpeCli, TrainingLearnsAndTheCheckpointCarriesTheTokenizer)
{
    Result t;
    ASSERT_NO_FATAL_FAILURE(train_bpe(&t));
    double first = loss_at(t.out, "1"), last = loss_at(t.out, "300");
    ASSERT_FALSE(std::isnan(first)) << t.out;
    ASSERT_FALSE(std::isnan(last)) << t.out;
    EXPECT_GT(first, std::log(300.0) - 0.5) << "the first step should be near uniform";
    EXPECT_LT(last, first - 1.0) << t.out;
    EXPECT_NE(t.out.find("BPE vocabulary 300 (BOS + 256 bytes + 43 merges) from n.tok"),
              std::string::npos) << t.out;

    std::string h = header_of(path("b.st"));
    std::string tok = read_file(path("n.tok"));
    ASSERT_FALSE(h.empty());
    EXPECT_NE(h.find("\"vocab_size\":\"300\""), std::string::npos) << h.substr(0, 400);
    std::string all = "[0";
    for (int b = 1; b < 256; b++)
        all += "," + std::to_string(b);
    EXPECT_NE(h.find("\"vocab\":\"" + all + "]\""), std::string::npos);
    // the tokenizer file's text, as a JSON string
    std::string esc;
    for (char c : tok)
        esc += c == '\n' ? std::string("\\n") : std::string(1, c);
    EXPECT_NE(h.find("\"tokenizer\":\"" + esc + "\""), std::string::npos) << h.substr(0, 400);
}

TEST_F(BpeCli, SampleAndEvalTakeTheTokenizerFromTheCheckpoint)
{
    Result t;
    ASSERT_NO_FATAL_FAILURE(train_bpe(&t));
    // --max-new-tokens counts tokens: with merges, some samples are longer in bytes
    Result s = run("sample --checkpoint b.st --num-samples 40 --max-new-tokens 3 --seed 7 --raw");
    ASSERT_EQ(s.status, 0) << s.err;
    std::istringstream lines(s.out);
    std::string line;
    int n = 0, longer = 0;
    while (std::getline(lines, line)) {
        n++;
        EXPECT_LE(line.size(), 3u * 2) << "the longest token of n.tok is 2 bytes";
        longer += line.size() > 3;
        for (char c : line)
            EXPECT_TRUE(c >= 'a' && c <= 'z') << "byte " << (int)(unsigned char)c;
    }
    EXPECT_EQ(n, 40);
    EXPECT_GT(longer, 0) << s.out;
    // the prompt is encoded with the checkpoint's tokenizer and continued
    Result p = run("sample --checkpoint b.st --prompt emma --num-samples 2 --max-new-tokens 4 "
                   "--seed 7 --raw");
    ASSERT_EQ(p.status, 0) << p.err;
    EXPECT_EQ(p.out.substr(0, 4), "emma");
    // --interactive: each line of input is a prompt, encoded with the tokenizer
    std::ofstream(path("prompts.txt")) << "emma\nol\n";
    Result i = run("sample --checkpoint b.st --interactive --max-new-tokens 3 --seed 7 --raw "
                   "<prompts.txt");
    ASSERT_EQ(i.status, 0) << i.err;
    std::istringstream il(i.out);
    std::string l1, l2;
    ASSERT_TRUE(std::getline(il, l1) && std::getline(il, l2)) << i.out;
    EXPECT_EQ(l1.substr(0, 4), "emma");
    EXPECT_EQ(l2.substr(0, 2), "ol");
    // eval: a finite loss below uniform, positions counted in tokens
    std::ofstream(path("few.txt")) << "emma\nolivia\nava\nisabella\n";
    Result e = run("eval --checkpoint b.st --data few.txt");
    ASSERT_EQ(e.status, 0) << e.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(e.out, m, std::regex("loss: ([0-9.]+)"))) << e.out;
    EXPECT_LT(std::stod(m[1]), std::log(300.0));
    ASSERT_TRUE(std::regex_search(e.out, m, std::regex("positions: ([0-9]+)"))) << e.out;
    int bytes_positions = 5 + 7 + 4 + 8; // min(block 8, bytes + 1) each
    EXPECT_LT(std::stoi(m[1]), bytes_positions) << "positions are tokens, not bytes";
}

TEST_F(BpeCli, ResumeKeepsTheTokenizerAndRefusesAnother)
{
    Result t;
    ASSERT_NO_FATAL_FAILURE(train_bpe(&t));
    Result r = run("train --resume b.st --num-steps 320 --no-archive --num-samples 0");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("BPE vocabulary 300"), std::string::npos) << r.out;
    r = run("train --resume b.st --tokenizer n.tok --num-steps 320 --no-archive --num-samples 0");
    EXPECT_EQ(r.status, 0) << r.err;

    ASSERT_EQ(run("tokenizer train --vocab-size 280 -o o.tok").status, 0);
    r = run("train --resume b.st --tokenizer o.tok --num-steps 320 --no-archive");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("is not the tokenizer of checkpoint 'b.st'"), std::string::npos) << r.err;
    // a char checkpoint cannot take a BPE tokenizer on resume either
    ASSERT_EQ(run("train --num-steps 5 --save c.st --no-archive --num-samples 0").status, 0);
    r = run("train --resume c.st --tokenizer o.tok --num-steps 10 --no-archive");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("(char, vocabulary 27)"), std::string::npos) << r.err;
}

TEST_F(BpeCli, ExportKeepsTheTokenizer)
{
    Result t;
    ASSERT_NO_FATAL_FAILURE(train_bpe(&t));
    Result r = run("export --weights-only --checkpoint b.st -o w.st");
    ASSERT_EQ(r.status, 0) << r.err;
    std::string h = header_of(path("w.st"));
    EXPECT_NE(h.find("\"tokenizer\":\"mgpt-bpe 1\\nvocab_size 300\\n"), std::string::npos)
        << h.substr(0, 400);
    Result a = run("sample --checkpoint b.st --num-samples 3 --seed 9 --raw");
    Result b = run("sample --checkpoint w.st --num-samples 3 --seed 9 --raw");
    ASSERT_EQ(b.status, 0) << b.err;
    EXPECT_EQ(a.out, b.out);
}

TEST_F(BpeCli, StreamModeTrainsOnTokens)
{
    ASSERT_EQ(run("tokenizer train --vocab-size 300 -o n.tok").status, 0);
    Result r = run("train --tokenizer n.tok --stream --block-size 16 --num-steps 30 --seed 3 "
                   "--val-split 0.1 --save s.st --no-archive --num-samples 0");
    ASSERT_EQ(r.status, 0) << r.err;
    // 138883 tokens of the 32033 names plus one BOS each and the first
    EXPECT_NE(r.out.find("stream: 170917 tokens"), std::string::npos) << r.out;
    EXPECT_NE(header_of(path("s.st")).find("\"tokenizer\":\"mgpt-bpe 1\\n"), std::string::npos);
}

TEST_F(BpeCli, CharCheckpointHasNoTokenizer)
{
    Result r = run("train --num-steps 5 --save c.st --no-archive --num-samples 0");
    ASSERT_EQ(r.status, 0) << r.err;
    std::string h = header_of(path("c.st"));
    EXPECT_NE(h.find("\"vocab_size\":\"27\""), std::string::npos);
    EXPECT_EQ(h.find("tokenizer"), std::string::npos) << h.substr(0, 400);
}

TEST_F(BpeCli, BadTokenizerFilesAreRefused)
{
    std::ofstream(path("bad.tok")) << "not a tokenizer\n";
    Result r = run("train --tokenizer bad.tok --no-archive");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("bad.tok"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("not an mgpt tokenizer"), std::string::npos) << r.err;
    r = run("train --tokenizer missing.tok --no-archive");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("cannot read tokenizer 'missing.tok'"), std::string::npos) << r.err;
    std::ofstream(path("trunc.tok")) << "mgpt-bpe 1\nvocab_size 259\n98 99\n";
    r = run("train --tokenizer trunc.tok --no-archive");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("trunc.tok"), std::string::npos) << r.err;
}

} // namespace

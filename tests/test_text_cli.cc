// mgpt on any text: the line-mode cut message, train --stream, tokenizer train.
#include <gtest/gtest.h>

#include "cli_run.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

using mgpt_test::Result;

class TextCli : public mgpt_test::CliTest {
protected:
    TextCli() { prefix = "text"; }
    Result run(const std::string &args) { return run_words(args); }
};

std::string prose()
{
    std::string t;
    const char *words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "then", "ran", "off"};
    unsigned x = 1;
    for (int line = 0; line < 150; line++) {
        int n = 8 + line % 9;
        for (int w = 0; w < n; w++) {
            x = x * 1103515245u + 12345u;
            t += words[(x >> 16) % 10];
            t += w + 1 < n ? " " : ".\n";
        }
    }
    return t;
}

// the mean validation losses printed on progress lines, in order
std::vector<double> val_losses(const std::string &out)
{
    std::vector<double> v;
    std::regex re("\\| val ([0-9.]+)");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator();
         ++it)
        v.push_back(std::stod((*it)[1]));
    return v;
}

TEST_F(TextCli, LineModeSaysHowManyBytesLieBeyondTheBlock)
{
    write("d.txt", "abcdefghij\nabc\nabcdef\n");  // 10, 3, 6 bytes: 6 + 2 beyond 4
    Result r = run("train --data d.txt --block-size 4 --num-steps 1 --num-samples 0");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("cut 2 of 3 documents at the block size: 8 of 19 bytes (42%) not "
                         "trained on; --stream trains on all of them\n"),
              std::string::npos) << r.out;
    r = run("train --data d.txt --block-size 10 --num-steps 1 --num-samples 0");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.find("cut "), std::string::npos) << r.out;
    // stream mode cuts nothing
    r = run("train --data d.txt --block-size 4 --num-steps 1 --num-samples 0 --stream");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.find("cut "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("stream: 23 tokens"), std::string::npos) << r.out;
}

TEST_F(TextCli, StreamTrainingLearnsAndIsDeterministic)
{
    write("p.txt", prose());
    std::string args = "train --data p.txt --stream --block-size 32 --batch-size 8 "
                       "--num-steps 120 --val-split 0.1 --val-every 20 --n-embd 32 "
                       "--learning-rate 0.01 --num-samples 3 --log-every 20";
    Result a = run(args), b = run(args);
    ASSERT_EQ(a.status, 0) << a.err;
    ASSERT_EQ(b.status, 0) << b.err;
    std::vector<double> va = val_losses(a.out), vb = val_losses(b.out);
    ASSERT_GE(va.size(), 3u) << a.out;
    EXPECT_EQ(va, vb);
    // far below the loss of a uniform guess over the 15 ids, ln 15 = 2.71
    EXPECT_LT(va.back(), 0.5 * std::log(15.0)) << a.out;
    auto samples = [](const std::string &o) { return o.substr(o.find("--- 3 samples")); };
    EXPECT_EQ(samples(a.out), samples(b.out));
}

// A stream model drew BOS where a line ended in training: its samples go on over lines,
// a blank line between samples, up to --max-new-tokens.
TEST_F(TextCli, StreamModelSamplesGoOnOverLines)
{
    std::string lines;  // "the cat sat.", "a mat ran." ...: lines of 10 to 12 bytes
    const char *w[] = {"the", "cat", "sat", "a", "mat", "ran"};
    for (int i = 0; i < 400; i++)
        lines += std::string(w[i % 2 ? 3 : 0]) + " " + w[1 + i % 2 * 3] + " " + w[2 + i % 3 * 3 % 4] + ".\n";
    write("p.txt", lines);
    Result r = run("train --data p.txt --stream --block-size 32 --batch-size 8 --num-steps 150 "
                   "--n-embd 32 --learning-rate 0.01 --num-samples 0 --no-archive --save s.st");
    ASSERT_EQ(r.status, 0) << r.err;
    r = run("sample --checkpoint s.st --prompt the --max-new-tokens 300 --num-samples 2");
    ASSERT_EQ(r.status, 0) << r.err;
    size_t gap = r.out.find("\n\n");
    ASSERT_NE(gap, std::string::npos) << r.out;
    std::string first = r.out.substr(0, gap), second = r.out.substr(gap + 2);
    EXPECT_EQ(first.compare(0, 3, "the"), 0) << r.out;
    EXPECT_EQ(second.compare(0, 3, "the"), 0) << r.out;
    // lines of 10 to 12 bytes: 300 tokens span many
    EXPECT_GE(std::count(first.begin(), first.end(), '\n'), 10) << r.out;
    EXPECT_LE(first.size(), 3u + 300u) << r.out;
}

TEST_F(TextCli, StreamNeedsABlockOfTrainingTokens)
{
    write("d.txt", "abc\n");
    Result r = run("train --data d.txt --stream --block-size 16 --num-steps 1");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("fewer than --block-size 16 + 1"), std::string::npos) << r.err;
}

// eval with only --checkpoint measures the run's own validation tail: the data file,
// --stream and --val-split come from the checkpoint's training settings.
TEST_F(TextCli, EvalDefaultsToTheRunsValidationSplit)
{
    write("p.txt", prose());
    Result r = run("train --data p.txt --stream --block-size 16 --batch-size 4 --num-steps 60 "
                   "--val-split 0.15 --val-every 20 --learning-rate 0.005 --num-samples 0 "
                   "--save m.st --no-archive");
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<double> val = val_losses(r.out);
    ASSERT_EQ(val.size(), 3u) << r.out;
    char last[32];
    snprintf(last, sizeof last, "%.4f", val.back());
    // the checkpoint is the model of the last validation (the best one)
    ASSERT_NE(r.out.find("saved m.st (step 60, best validation loss " + std::string(last)),
              std::string::npos) << r.out;

    Result e = run("eval --checkpoint m.st");
    ASSERT_EQ(e.status, 0) << e.err;
    EXPECT_NE(e.out.find("data: p.txt (the data of the checkpoint's run): the validation tail "
                         "of --stream --val-split 0.15"), std::string::npos) << e.out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(e.out, m, std::regex("loss: ([0-9.]+)"))) << e.out;
    char got[32];
    snprintf(got, sizeof got, "%.4f", std::stod(m[1]));
    EXPECT_EQ(std::string(got), std::string(last)) << e.out;
    // the batch size does not change it
    Result b = run("eval --checkpoint m.st --batch-size 3");
    ASSERT_EQ(b.status, 0) << b.err;
    EXPECT_EQ(b.out, e.out);

    // an option given wins over the run's: line mode, or another fraction of the stream
    Result lines = run("eval --checkpoint m.st --no-stream");
    ASSERT_EQ(lines.status, 0) << lines.err;
    EXPECT_NE(lines.out.find("the 22 validation documents of --val-split 0.15 (seed 42)"),
              std::string::npos) << lines.out;
    Result other = run("eval --checkpoint m.st --val-split 0.5");
    ASSERT_EQ(other.status, 0) << other.err;
    EXPECT_NE(other.out.find("tail of --stream --val-split 0.5"), std::string::npos) << other.out;
    EXPECT_NE(other.out.substr(other.out.find("loss: ")), e.out.substr(e.out.find("loss: ")));
    // --data: that file, line mode, every document unless told
    Result given = run("eval --checkpoint m.st --data p.txt");
    ASSERT_EQ(given.status, 0) << given.err;
    EXPECT_NE(given.out.find("data: p.txt\ndocuments: 150\n"), std::string::npos) << given.out;
    Result seed = run("eval --checkpoint m.st --seed 3");
    EXPECT_EQ(seed.status, 2);
    EXPECT_NE(seed.err.find("a --stream tail does not depend on it"), std::string::npos)
        << seed.err;

    // the run's data file gone: said, with its name, exit 2
    ASSERT_EQ(rename(path("p.txt").c_str(), path("q.txt").c_str()), 0);
    Result gone = run("eval --checkpoint m.st");
    EXPECT_EQ(gone.status, 2);
    EXPECT_NE(gone.err.find("'p.txt'"), std::string::npos) << gone.err;
    EXPECT_NE(gone.err.find("the data of the run of checkpoint 'm.st'"), std::string::npos)
        << gone.err;
}

TEST_F(TextCli, TokenizerTrainWritesAVersionedDeterministicFile)
{
    write("p.txt", prose());
    Result r = run("tokenizer train --vocab-size 300 --data p.txt -o a.tok");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("learned 43 merges"), std::string::npos) << r.out;
    std::string a = mgpt_test::read_file(path("a.tok"));
    EXPECT_EQ(a.substr(0, 26), "mgpt-bpe 1\nvocab_size 300\n");
    r = run("tokenizer train --vocab-size 300 --data p.txt --output b.tok");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(mgpt_test::read_file(path("b.tok")), a);
}

TEST_F(TextCli, TokenizerTrainBadInput)
{
    Result r = run("tokenizer train --vocab-size 300");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--output is required"), std::string::npos) << r.err;
    r = run("tokenizer train --vocab-size 100 -o x.tok");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--vocab-size 100 is out of range"), std::string::npos) << r.err;
    r = run("tokenizer learn");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("unknown action 'learn'"), std::string::npos) << r.err;
    r = run("tokenizer train --data missing.txt -o x.tok");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;
}

}  // namespace

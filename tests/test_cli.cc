// The mgpt program as a user meets it: every bad input gets a clear message on stderr and a
// non-zero exit status, nothing is overwritten by a failing run, and a small train, sample
// and eval round trip works and is reproducible.
//
// Runs the built binary named by MGPT_EXE (tests/Makefile.am sets it, with
// MGPT_PLUGIN_PATH pointing at the build tree's backend modules).
#include <gtest/gtest.h>

#include "cli_run.h"

#include <fcntl.h>
#include <ftw.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern char **environ;

namespace {

using mgpt_test::Result;
using mgpt_test::read_file;
using mgpt_test::write_file;

// A scratch folder per test, removed afterwards.
class Cli : public mgpt_test::CliTest {
protected:
    std::string input;   // the file run() gives as standard input (empty: /dev/null)

    unsigned alarm_seconds = 0;  // run(): a limit for runs that might block forever

    // Runs mgpt with args; env entries "NAME=value" set a variable, "NAME" alone unsets it.
    Result run(const std::vector<std::string> &args, const std::vector<std::string> &env = {})
    {
        std::vector<std::string> argv{exe};
        argv.insert(argv.end(), args.begin(), args.end());
        return mgpt_test::run_argv(dir, argv, env, input, alarm_seconds);
    }

    // A small trained checkpoint at `name`.
    void train_checkpoint(const std::string &name, int steps = 30)
    {
        Result r = run({"train", "--num-steps", std::to_string(steps), "--num-samples", "0",
                        "--save", name});
        ASSERT_EQ(r.status, 0) << r.err;
    }
};

// Asserts a usage failure: the status, and every key word on stderr.
#define EXPECT_FAILS(r, code, ...)                                                  \
    do {                                                                            \
        EXPECT_EQ((r).status, (code)) << "stderr: " << (r).err;                     \
        for (const char *w : {__VA_ARGS__})                                         \
            EXPECT_NE((r).err.find(w), std::string::npos)                           \
                << "stderr lacks \"" << w << "\": " << (r).err;                     \
    } while (0)

// Lines that hold the deterministic part of training output: loss lines cut before the
// timing columns, and the samples.
std::string deterministic_part(const std::string &out)
{
    std::istringstream in(out);
    std::string line, kept;
    while (std::getline(in, line)) {
        if (line.rfind("step ", 0) == 0) {
            size_t ms = line.find(" ms/step");
            size_t bar = line.rfind(" | ", ms);
            kept += line.substr(0, bar) + "\n";
        } else if (line.rfind("sample ", 0) == 0) {
            kept += line + "\n";
        }
    }
    return kept;
}

int count_lines(const std::string &s)
{
    int n = 0;
    for (char c : s)
        n += c == '\n';
    return n;
}

// --- help and version ---------------------------------------------------------------

TEST_F(Cli, HelpAndVersionForEveryCommandExitZero)
{
    for (const char *cmd : {"train", "sample", "eval", "export", "runs", "backends", "info"}) {
        Result r = run({cmd, "--help"});
        EXPECT_EQ(r.status, 0) << cmd << ": " << r.err;
        EXPECT_NE(r.out.find("Usage: mgpt"), std::string::npos) << cmd;
        EXPECT_TRUE(r.err.empty()) << cmd << ": " << r.err;
        r = run({cmd, "--version"});
        EXPECT_EQ(r.status, 0) << cmd;
        EXPECT_NE(r.out.find("mgpt "), std::string::npos) << cmd;
        r = run({"help", cmd});
        EXPECT_EQ(r.status, 0) << cmd;
        EXPECT_NE(r.out.find("Usage: mgpt"), std::string::npos) << cmd;
    }
    Result r = run({"--help"});
    EXPECT_EQ(r.status, 0);
    for (const char *cmd : {"train", "sample", "eval", "export", "backends", "info"})
        EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
    EXPECT_EQ(run({"--version"}).status, 0);
    // fits an 80-column terminal
    for (const char *cmd : {"", "train", "sample", "eval", "export", "tokenizer", "runs",
                            "backends", "info"}) {
        r = *cmd ? run({cmd, "--help"}) : run({"--help"});
        std::istringstream in(r.out);
        for (std::string line; std::getline(in, line);)
            EXPECT_LT(line.size(), 80u) << "mgpt " << cmd << " --help: " << line;
    }
}

TEST_F(Cli, TrainHelpListsEveryOptionWithItsDefault)
{
    Result r = run({"train", "--help"});
    ASSERT_EQ(r.status, 0);
    const std::map<std::string, std::string> defaults = {
        {"--n-embd", "(default 16)"},      {"--n-layer", "(default 1)"},
        {"--n-head", "(default 4)"},       {"--block-size", "(default 8)"},
        {"--batch-size", "(default 1)"},   {"--num-steps", "(default 500)"},
        {"--learning-rate", "(default 0.01)"}, {"--lr-schedule", "(default linear)"},
        {"--warmup-steps", "(default 0)"}, {"--grad-clip", "(default 0)"},
        {"--seed", "(default 42"},         {"--val-split", "(default 0)"},
        {"--val-every", "(default 100)"},  {"--early-stop-patience", "(default 0)"},
        {"--num-samples", "(default 20)"}, {"--temperature", "(default 0.5)"},
        {"--lr-decay-steps", "(default: --num-steps)"}, {"--save-every", "(default: off)"},
    };
    for (const auto &kv : defaults) {
        size_t at = r.out.find(kv.first + "=");
        ASSERT_NE(at, std::string::npos) << kv.first;
        size_t next = r.out.find("\n      --", at + 1);
        std::string entry = r.out.substr(at, next == std::string::npos ? std::string::npos : next - at);
        EXPECT_NE(entry.find(kv.second), std::string::npos) << kv.first << " entry: " << entry;
    }
}

// The man page documents every option that --help lists.
TEST_F(Cli, ManPageAgreesWithHelp)
{
    const char *src = getenv("MGPT_TOP_SRCDIR");
    if (!src || !*src)
        GTEST_SKIP() << "MGPT_TOP_SRCDIR is not set";
    std::string man = read_file(std::string(src) + "/docs/mgpt.1");
    ASSERT_FALSE(man.empty()) << "cannot read docs/mgpt.1";
    // groff spells '-' as '\-'
    std::string plain;
    for (size_t i = 0; i < man.size(); i++) {
        if (man[i] == '\\' && i + 1 < man.size() && man[i + 1] == '-') {
            plain += '-';
            i++;
        } else
            plain += man[i];
    }
    std::regex opt("--[a-z][a-z-]*");
    for (const char *cmd : {"", "train", "sample", "eval", "export", "tokenizer", "backends",
                            "info"}) {
        Result r = *cmd ? run({cmd, "--help"}) : run({"--help"});
        ASSERT_EQ(r.status, 0) << cmd;
        std::set<std::string> seen;
        for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), opt);
             it != std::sregex_iterator(); ++it)
            seen.insert(it->str());
        EXPECT_FALSE(seen.empty()) << cmd;
        for (const std::string &o : seen)
            EXPECT_NE(plain.find(o), std::string::npos)
                << "mgpt " << cmd << " --help lists " << o << ", docs/mgpt.1 does not";
    }
    size_t env = plain.find(".SH ENVIRONMENT");
    ASSERT_NE(env, std::string::npos);
    for (const char *v : {"MGPT_BACKEND", "MGPT_PLUGIN_PATH", "MGPT_CPU_DISABLE"})
        EXPECT_NE(plain.find(v, env), std::string::npos) << v;
}

// --- the command line -----------------------------------------------------------------

TEST_F(Cli, UnknownOptionAndCommand)
{
    Result r = run({"train", "--bogus"});
    EXPECT_FAILS(r, 2, "unknown option '--bogus'", "mgpt train --help");
    r = run({"--bogus", "train"});
    EXPECT_FAILS(r, 2, "unknown option '--bogus'");
    r = run({"frobnicate"});
    EXPECT_FAILS(r, 2, "unknown command 'frobnicate'", "train", "sample");
    r = run({});
    EXPECT_FAILS(r, 2, "no command");
    r = run({"train", "--num-steps"});
    EXPECT_FAILS(r, 2, "--num-steps", "needs a value");
    r = run({"train", "stray"});
    EXPECT_FAILS(r, 2, "stray");
    r = run({"train", "--backend=scalar"});
    EXPECT_FAILS(r, 2, "global option", "before the command");
}

TEST_F(Cli, EmbdNotDivisibleByHead)
{
    Result r = run({"train", "--n-embd", "30", "--n-head", "4"});
    EXPECT_FAILS(r, 2, "--n-embd 30 is not divisible by --n-head 4");
    EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(Cli, ZeroNegativeAndNonNumericSizes)
{
    const std::vector<std::vector<std::string>> bad = {
        {"--n-embd", "0"},      {"--n-layer", "0"},   {"--n-head", "-2"},
        {"--block-size", "0"},  {"--batch-size", "0"}, {"--num-steps", "-5"},
        {"--n-embd", "abc"},    {"--num-steps", "1e3"}, {"--n-layer", "99999"},
        {"--learning-rate", "0"}, {"--learning-rate", "-1"}, {"--temperature", "0"},
        {"--val-split", "1"},   {"--val-split", "-0.1"}, {"--grad-clip", "-1"},
        {"--val-every", "0"},   {"--seed", "-1"},     {"--learning-rate", "nan"},
    };
    for (const auto &b : bad) {
        Result r = run({"train", b[0], b[1]});
        EXPECT_FAILS(r, 2, b[0].c_str(), b[1].c_str(), "expected");
    }
    Result r = run({"--threads", "0", "info"});
    EXPECT_FAILS(r, 2, "--threads 0", "1..");
}

TEST_F(Cli, CrossChecks)
{
    Result r = run({"train", "--num-steps", "10", "--warmup-steps", "10"});
    EXPECT_FAILS(r, 2, "--warmup-steps 10", "--num-steps 10");
    r = run({"train", "--lr-schedule", "step"});
    EXPECT_FAILS(r, 2, "'step'", "linear", "cosine");
    r = run({"train", "--early-stop-patience", "3"});
    EXPECT_FAILS(r, 2, "--early-stop-patience", "--val-split");
    r = run({"train", "--save", path("no/such/folder/x.st")});
    EXPECT_FAILS(r, 2, "does not exist");
    r = run({"train", "--save", dir});
    EXPECT_FAILS(r, 2, "is a folder");
}

// --- data -----------------------------------------------------------------------------

TEST_F(Cli, BadDataFiles)
{
    Result r = run({"train", "--data", "missing.txt"});
    EXPECT_FAILS(r, 2, "missing.txt", "No such file");
    write_file(path("empty.txt"), "\n \n\r\n");
    r = run({"train", "--data", "empty.txt"});
    EXPECT_FAILS(r, 2, "empty.txt", "no documents");
    write_file(path("binary.dat"), std::string("ab\0cd\nef\n", 9));
    r = run({"train", "--data", "binary.dat"});
    EXPECT_FAILS(r, 2, "binary.dat", "binary");
    r = run({"train", "--data", "nomatch-*.txt"});
    EXPECT_FAILS(r, 2, "nomatch-*.txt", "matches no file");
    r = run({"train", "--data-dir", "no-such-dir"});
    EXPECT_FAILS(r, 2, "no-such-dir");
    mkdir(path("hollow").c_str(), 0755);
    r = run({"train", "--data-dir", "hollow"});
    EXPECT_FAILS(r, 2, "hollow", "no regular files");
    r = run({"eval", "--checkpoint", "x.st", "--data", "missing.txt"});
    EXPECT_EQ(r.status, 2) << r.err;
}

TEST_F(Cli, DataFromGlobAndFolder)
{
    mkdir(path("d").c_str(), 0755);
    write_file(path("d/a.txt"), "anna\nbob\n");
    write_file(path("d/b.txt"), "carl\r\n\ndora  \n");
    write_file(path("d/.hidden"), std::string("\0", 1));  // skipped, or it would be refused
    Result r = run({"train", "--data-dir", "d", "--num-steps", "3", "--num-samples", "1"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("4 documents"), std::string::npos) << r.out;
    r = run({"train", "--data", "d/*.txt", "--num-steps", "3", "--num-samples", "0"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("4 documents"), std::string::npos) << r.out;
}

// --- backends ---------------------------------------------------------------------------

// Issue 15's paper cuts: a binary file in a --data-dir folder is skipped with a note (a
// folder of only binary files is an error); --data given a folder points to --data-dir;
// a bad MGPT_BACKEND is said to come from the environment; more threads than cores get a
// warning; the CPU brand has no padding.
TEST_F(Cli, PaperCutsSaySoInsteadOfFailingOrStayingSilent)
{
    mkdir(path("d").c_str(), 0755);
    write_file(path("d/a.txt"), "anna\nbob\n");
    write_file(path("d/b.gz"), std::string("\x1f\x8b\x08\0\0\0", 6));
    Result r = run({"train", "--data-dir", "d", "--num-steps", "2", "--num-samples", "0"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("note: skipping 'd/b.gz': it looks binary"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("2 documents"), std::string::npos) << r.out;
    mkdir(path("bin").c_str(), 0755);
    write_file(path("bin/b.gz"), std::string("\x1f\x8b\x08\0\0\0", 6));
    r = run({"train", "--data-dir", "bin", "--num-steps", "2"});
    EXPECT_FAILS(r, 2, "--data-dir 'bin' holds no text files (1 binary file skipped)");
    r = run({"train", "--data", "d", "--num-steps", "2"});
    EXPECT_FAILS(r, 2, "is a folder", "give --data-dir 'd'");
    r = run({"train", "--num-steps", "1"}, {"MGPT_BACKEND=nope"});
    EXPECT_FAILS(r, 2, "unknown backend 'nope' given by MGPT_BACKEND");
    r = run({"backends"}, {"MGPT_BACKEND=nope"});
    EXPECT_FAILS(r, 2, "unknown backend 'nope' given by MGPT_BACKEND");
    EXPECT_EQ(r.err.find("MGPT_BACKEND given by"), std::string::npos) << r.err;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 64) {
        r = run({"--threads=64", "train", "--num-steps", "1", "--num-samples", "0"});
        EXPECT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.err.find("warning: --threads 64 is more than the"), std::string::npos)
            << r.err;
    }
    r = run({"info"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
        if (line.find("brand") != std::string::npos) {
            EXPECT_NE(line.back(), ' ') << "padded: '" << line << "'";
        }
    }
}

TEST_F(Cli, UnknownBackend)
{
    Result r = run({"--backend=nope", "train", "--num-steps", "1"});
    EXPECT_FAILS(r, 2, "unknown backend 'nope'", "scalar");
    r = run({"train", "--num-steps", "1"}, {"MGPT_BACKEND=nope"});
    EXPECT_FAILS(r, 2, "unknown backend 'nope'");
    r = run({"--backend=nope", "backends"});
    EXPECT_FAILS(r, 2, "unknown backend 'nope'");
}

// Whether `mgpt backends` (list) reports `feature` on its "CPU features:" line: what this
// CPU and its OS run, before MGPT_CPU_DISABLE. (A module's "requires:" line names features
// too, so a search of the whole listing would find them on any CPU.)
bool CpuHas(const Result &list, const std::string &feature)
{
    const std::string key = "CPU features:";
    size_t at = list.out.find(key);
    if (at == std::string::npos)
        return false;
    size_t end = list.out.find('\n', at);
    std::string line = list.out.substr(at + key.size(), end - at - key.size()) + " ";
    return line.find(" " + feature + " ") != std::string::npos;
}

TEST_F(Cli, MaskedCpuCannotRunForcedBackend)
{
    Result list = run({"backends"});
    ASSERT_EQ(list.status, 0) << list.err;
    if (list.out.find("  avx512\n") == std::string::npos)
        GTEST_SKIP() << "the avx512 module was not built";
    Result r = run({"--backend=avx512", "train", "--num-steps", "1"}, {"MGPT_CPU_DISABLE=avx512f"});
    EXPECT_FAILS(r, 2, "avx512", "avx512f", "cannot run");
    r = run({"--backend=avx512", "backends"}, {"MGPT_CPU_DISABLE=avx512f"});
    EXPECT_FAILS(r, 2, "avx512f");
    EXPECT_NE(r.out.find("masked by MGPT_CPU_DISABLE: avx512f"), std::string::npos) << r.out;
    r = run({"info"}, {"MGPT_CPU_DISABLE=avx9000"});
    EXPECT_FAILS(r, 2, "avx9000");
}

// --precision=bf16 picks the best runnable bf16 backend (here the lowprec test module,
// tests/lowprec_module.cc, of the highest priority); a forced backend of another class, a
// class that does not exist and a path with no bf16 module are refused with exit status 2.
TEST_F(Cli, PrecisionChoosesTheBackendClass)
{
    const char *mods = getenv("MGPT_TEST_MODULE_DIR");
    ASSERT_TRUE(mods && *mods) << "MGPT_TEST_MODULE_DIR is not set (run through make check)";
    const std::string with_bf16 =
        "MGPT_PLUGIN_PATH=" + std::string(mods) + ":" + getenv("MGPT_PLUGIN_PATH");
    Result r = run({"--precision=bf16", "--verbose", "train", "--num-steps", "2",
                    "--num-samples", "0"}, {with_bf16});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("backend lowprec"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--precision=bf16"), std::string::npos) << r.err;
    r = run({"--precision=fp32", "--verbose", "train", "--num-steps", "1", "--num-samples", "0"},
            {with_bf16});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err.find("backend lowprec"), std::string::npos) << r.err;
    r = run({"--precision=bf16", "--backend=scalar", "train", "--num-steps", "1"}, {with_bf16});
    EXPECT_FAILS(r, 2, "'scalar' computes in fp32, not bf16");
    r = run({"--precision=fp16", "train", "--num-steps", "1"});
    EXPECT_FAILS(r, 2, "--precision 'fp16'", "fp32, bf16");
    r = run({"train", "--precision=bf16"});
    EXPECT_FAILS(r, 2, "'--precision' is a global option");
    // without the lowprec module, and with avx512_bf16 masked: no bf16 backend runs, and the
    // message says what each one needs
    r = run({"--precision=bf16", "train", "--num-steps", "1"},
            {"MGPT_CPU_DISABLE=avx512_bf16"});
    if (r.status == 0)
        GTEST_SKIP() << "a bf16 backend that needs no avx512_bf16 is on the default path";
    EXPECT_FAILS(r, 2, "no bf16 backend can run on this CPU");
    Result list = run({"backends"});
    if (list.out.find("  avx512bf16\n") != std::string::npos) {
        // on a CPU without AVX-512 the module needs more than the masked feature
        EXPECT_NE(r.err.find(CpuHas(list, "avx512f") ? "avx512bf16 needs avx512_bf16"
                                                     : "avx512bf16 needs avx512f"),
                  std::string::npos) << r.err;
    }
}

// The bf16 module needs one feature more than avx512: masking that one alone refuses it,
// with the feature and the mask named, while avx512 stays runnable (and is what automatic
// selection picks, masked or not: it never picks reduced precision).
TEST_F(Cli, MaskedBf16CannotRunForcedBackend)
{
    Result list = run({"backends"});
    ASSERT_EQ(list.status, 0) << list.err;
    if (list.out.find("  avx512bf16\n") == std::string::npos)
        GTEST_SKIP() << "the avx512bf16 module was not built";
    if (!CpuHas(list, "avx512_bf16"))
        GTEST_SKIP() << "this CPU has no avx512_bf16 to mask";
    const std::vector<std::string> mask = {"MGPT_CPU_DISABLE=avx512_bf16"};
    Result r = run({"--backend=avx512bf16", "train", "--num-steps", "1"}, mask);
    EXPECT_FAILS(r, 2, "avx512bf16", "cannot run", "needs avx512_bf16", "MGPT_CPU_DISABLE");
    r = run({"--backend=avx512bf16", "backends"}, mask);
    EXPECT_FAILS(r, 2, "needs avx512_bf16", "MGPT_CPU_DISABLE");
    r = run({"backends"}, mask);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("masked by MGPT_CPU_DISABLE: avx512_bf16"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("status:    not runnable: needs avx512_bf16"), std::string::npos)
        << r.out;
    if (list.out.find("  avx512\n") != std::string::npos) {
        EXPECT_NE(r.out.find("selected: avx512 "), std::string::npos) << r.out;
    }
}

// The amx module needs AMX-TILE and AMX-BF16 (with the OS saving the tile state): masking
// the tiles refuses it by name, exit 2, before any tile instruction could run (no SIGILL),
// on a CPU with AMX as on one without; --precision=bf16 then takes another bf16 backend.
TEST_F(Cli, AmxRefusedWithoutTiles)
{
    Result list = run({"backends"});
    ASSERT_EQ(list.status, 0) << list.err;
    if (list.out.find("  amx\n") == std::string::npos)
        GTEST_SKIP() << "the amx module was not built (the compiler or assembler lacks AMX)";
    const std::vector<std::string> mask = {"MGPT_CPU_DISABLE=amx_tile"};
    // the features amx needs that this CPU lacks come first, in the order of the bits:
    // "needs amx_tile" where only the mask stands in the way
    const bool only_mask = CpuHas(list, "avx512_bf16");
    Result r = run({"--backend=amx", "train", "--num-steps", "1"}, mask);
    EXPECT_FAILS(r, 2, "amx", "cannot run", only_mask ? "needs amx_tile" : " amx_tile");
    r = run({"backends"}, mask);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find(only_mask ? "status:    not runnable: needs amx_tile"
                                   : "status:    not runnable: needs avx512f"),
              std::string::npos) << r.out;
    if (list.out.find("  avx512bf16\n") != std::string::npos && only_mask) {
        r = run({"--precision=bf16", "--verbose", "train", "--num-steps", "1",
                 "--num-samples", "0"}, mask);
        EXPECT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.err.find("backend avx512bf16"), std::string::npos) << r.err;
    }
}

TEST_F(Cli, EmptyPluginDirectory)
{
    const std::string plugins = path("plugins");
    mkdir(plugins.c_str(), 0755);
    const std::vector<std::string> env = {"MGPT_PLUGIN_PATH=" + plugins,
                                          "MGPT_PLUGIN_SYSTEM_PATH="};
    Result r = run({"train", "--num-steps", "1"}, env);
    EXPECT_FAILS(r, 1, "no usable backend", plugins.c_str(), "MGPT_PLUGIN_PATH");
    r = run({"backends"}, env);
    EXPECT_FAILS(r, 1, "no usable backend");
}

TEST_F(Cli, BackendsAndInfo)
{
    Result r = run({"backends", "--verbose"});
    ASSERT_EQ(r.status, 0) << r.err;
    for (const char *w : {"CPU features:", "search path:", "scalar", "selected:", "kernels:"})
        EXPECT_NE(r.out.find(w), std::string::npos) << w << "\n" << r.out;
    r = run({"--backend=scalar", "backends"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("selected: scalar (forced by --backend)"), std::string::npos) << r.out;
    r = run({"info"});
    ASSERT_EQ(r.status, 0) << r.err;
    for (const char *w : {"vendor", "features", "cores", "PUs", "L1d", "search path"})
        EXPECT_NE(r.out.find(w), std::string::npos) << w << "\n" << r.out;
}

// --- checkpoints ----------------------------------------------------------------------

TEST_F(Cli, TruncatedAndCorruptCheckpoints)
{
    train_checkpoint("good.st");
    std::string good = read_file(path("good.st"));
    ASSERT_GT(good.size(), 100u);
    write_file(path("head.st"), good.substr(0, 50));
    write_file(path("tail.st"), good.substr(0, good.size() - 100));
    write_file(path("junk.st"), "this is not a safetensors file\n");
    write_file(path("zero.st"), "");
    std::string flipped = good;
    size_t at = flipped.find("\"n_embd\"");
    ASSERT_NE(at, std::string::npos);
    flipped[at + 1] = 'x';  // the metadata loses its n_embd
    write_file(path("meta.st"), flipped);
    for (const char *bad : {"head.st", "tail.st", "junk.st", "zero.st", "meta.st", "none.st"}) {
        Result r = run({"sample", "--checkpoint", bad});
        EXPECT_FAILS(r, 2, bad);
        EXPECT_TRUE(r.out.empty()) << bad << ": " << r.out;
        r = run({"eval", "--checkpoint", bad});
        EXPECT_FAILS(r, 2, bad);
        r = run({"train", "--resume", bad, "--num-steps", "40"});
        EXPECT_FAILS(r, 2, bad);
    }
    Result r = run({"sample"});
    EXPECT_FAILS(r, 2, "--checkpoint");
    r = run({"sample", "--checkpoint", "good.st", "--max-length", "9"});
    EXPECT_FAILS(r, 2, "--max-length 9", "1..8");
    r = run({"sample", "--checkpoint", "good.st", "--top-p", "0"});
    EXPECT_FAILS(r, 2, "--top-p 0", "(0, 1]");
}

// Prompts and generation past the block (default block 8): a sample starts with its
// prompt, --max-new-tokens may exceed the block, a prompt byte out of the vocabulary is a
// usage error, and --interactive continues each line of stdin.
TEST_F(Cli, SamplePromptsInteractiveAndPastTheBlock)
{
    train_checkpoint("p.st");
    Result r = run({"sample", "--checkpoint", "p.st", "--prompt", "ann", "--num-samples", "4"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(count_lines(r.out), 4) << r.out;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
        EXPECT_EQ(line.rfind("ann", 0), 0u) << line;
    r = run({"sample", "--checkpoint", "p.st", "--prompt", "aXb"});
    EXPECT_FAILS(r, 2, "--prompt", "byte 2", "'X'", "vocabulary", "p.st");
    EXPECT_TRUE(r.out.empty()) << r.out;
    r = run({"sample", "--checkpoint", "p.st", "--max-length", "3", "--max-new-tokens", "5"});
    EXPECT_FAILS(r, 2, "--max-length", "--max-new-tokens");
    r = run({"sample", "--checkpoint", "p.st", "--max-new-tokens", "0"});
    EXPECT_FAILS(r, 2, "--max-new-tokens");

    r = run({"sample", "--checkpoint", "p.st", "--max-new-tokens", "60", "--temperature", "3",
             "--num-samples", "20"});
    ASSERT_EQ(r.status, 0) << r.err;
    size_t longest = 0;
    std::istringstream long_lines(r.out);
    for (std::string line; std::getline(long_lines, line);) {
        EXPECT_LE(line.size(), 60u) << line;
        longest = std::max(longest, line.size());
    }
    EXPECT_GT(longest, 8u) << "no sample past the block of 8:\n" << r.out;

    write_file(path("in.txt"), "an\nzQ\nbo\n");
    input = path("in.txt");
    r = run({"sample", "--checkpoint", "p.st", "--interactive"});
    input.clear();
    EXPECT_FAILS(r, 2, "standard input, line 2", "'Q'", "vocabulary");
    ASSERT_EQ(count_lines(r.out), 2) << r.out;
    EXPECT_EQ(r.out.rfind("an", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("\nbo"), std::string::npos) << r.out;
}

// Samples decoded as a batch: sample i's text is the same at any --batch, streamed or
// not, with a prompt, past the block, and as the first i+1 of a longer run; a bad --batch
// is a usage error.
TEST_F(Cli, SampleTextDoesNotDependOnTheBatch)
{
    train_checkpoint("p.st");
    std::vector<std::string> base = {"sample", "--checkpoint", "p.st", "--prompt", "a",
                                     "--max-new-tokens", "20", "--temperature", "1.5",
                                     "--num-samples", "23"};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> v = base;
        v.insert(v.end(), extra.begin(), extra.end());
        return v;
    };
    Result one = run(with({"--batch", "1"}));
    ASSERT_EQ(one.status, 0) << one.err;
    EXPECT_EQ(count_lines(one.out), 23) << one.out;
    for (const char *b : {"2", "5", "16", "256"}) {
        Result r = run(with({"--batch", b}));
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(r.out, one.out) << "--batch " << b;
    }
    Result dflt = run(base);
    EXPECT_EQ(dflt.out, one.out) << "the default batch";
    Result streamed = run(with({"--stream"}));
    EXPECT_EQ(streamed.out, one.out) << "--stream";
    // the first 7 samples of 23 are the 7 samples of --num-samples 7
    std::vector<std::string> seven = base;
    seven.back() = "7";
    Result few = run(seven);
    ASSERT_EQ(few.status, 0) << few.err;
    EXPECT_EQ(one.out.substr(0, few.out.size()), few.out);
    for (const char *b : {"0", "257", "x", "-1"}) {
        Result r = run({"sample", "--checkpoint", "p.st", "--batch", b});
        EXPECT_FAILS(r, 2, "--batch");
    }
}

TEST_F(Cli, FailingRunLeavesSaveTargetIntact)
{
    const std::string precious = "precious bytes, not a checkpoint\n";
    write_file(path("keep.st"), precious);
    const std::vector<std::vector<std::string>> failing = {
        {"train", "--save", "keep.st", "--n-embd", "30"},
        {"train", "--save", "keep.st", "--data", "missing.txt"},
        {"train", "--save", "keep.st", "--warmup-steps", "600"},
        {"--backend=nope", "train", "--save", "keep.st", "--num-steps", "5"},
        {"train", "--save", "keep.st", "--resume", "keep.st", "--num-steps", "5"},
    };
    for (const auto &args : failing) {
        Result r = run(args);
        EXPECT_NE(r.status, 0) << args.back();
        EXPECT_EQ(read_file(path("keep.st")), precious) << "overwritten by a failing run";
    }
    // a good checkpoint survives a failing resume too
    train_checkpoint("model.st", 10);
    std::string before = read_file(path("model.st"));
    write_file(path("upper.txt"), "ZED\n");
    Result r = run({"train", "--resume", "model.st", "--save", "model.st", "--data", "upper.txt",
                    "--num-steps", "20"});
    EXPECT_FAILS(r, 2, "upper.txt", "vocabulary");
    EXPECT_EQ(read_file(path("model.st")), before);
}

// --- a real round trip ------------------------------------------------------------------

TEST_F(Cli, TrainSampleEvalRoundTrip)
{
    Result r = run({"train", "--num-steps", "30", "--num-samples", "4", "--save", "ck.st"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("step  1/30 | loss "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("step 30/30 | loss "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("sample  4: "), std::string::npos) << r.out;
    struct stat st;
    ASSERT_EQ(stat(path("ck.st").c_str(), &st), 0);

    // train's samples come from the saved model, with the same seed and temperature
    std::string trained;
    std::istringstream tin(r.out);
    for (std::string line; std::getline(tin, line);)
        if (line.rfind("sample ", 0) == 0)
            trained += line.substr(line.find(": ") + 2) + "\n";
    r = run({"sample", "--checkpoint", "ck.st", "--num-samples", "4"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, trained);

    r = run({"sample", "--checkpoint", "ck.st", "--num-samples", "5"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(count_lines(r.out), 5) << r.out;
    for (char c : r.out)
        EXPECT_TRUE(c == '\n' || (c >= 'a' && c <= 'z')) << r.out;
    Result streamed = run({"sample", "--checkpoint", "ck.st", "--num-samples", "5", "--stream"});
    EXPECT_EQ(streamed.status, 0);
    EXPECT_EQ(streamed.out, r.out);
    r = run({"sample", "--checkpoint", "ck.st", "--num-samples", "5", "--max-length", "3",
             "--top-k", "3", "--top-p", "0.9", "--temperature", "1.5"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
        EXPECT_LE(line.size(), 3u) << line;

    r = run({"eval", "--checkpoint", "ck.st"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("documents: 32033"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("positions: "), std::string::npos) << r.out;
    size_t at = r.out.find("loss: ");
    ASSERT_NE(at, std::string::npos) << r.out;
    double loss = atof(r.out.c_str() + at + 6);
    EXPECT_TRUE(std::isfinite(loss) && loss > 0.5 && loss < 3.3) << loss;  // ln 27 = 3.30
    Result again = run({"eval", "--checkpoint", "ck.st", "--batch-size", "5"});
    EXPECT_EQ(again.out, r.out);

    write_file(path("few.txt"), "abba\ncab\n");
    r = run({"eval", "--checkpoint", "ck.st", "--data", "few.txt"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("documents: 2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("positions: 9"), std::string::npos) << r.out;  // 5 + 4
    write_file(path("digits.txt"), "abc\nab7\n");
    r = run({"eval", "--checkpoint", "ck.st", "--data", "digits.txt"});
    EXPECT_FAILS(r, 2, "digits.txt", "document 2", "0x37", "vocabulary");

    r = run({"train", "--resume", "ck.st", "--num-steps", "40", "--num-samples", "0",
             "--save", "ck2.st"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("step 31/40"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("step 40/40"), std::string::npos) << r.out;
    r = run({"train", "--resume", "ck2.st", "--num-steps", "40"});
    EXPECT_FAILS(r, 2, "already taken 40 steps");
    r = run({"train", "--resume", "ck2.st", "--num-steps", "50", "--n-embd", "32"});
    EXPECT_FAILS(r, 2, "--n-embd 32", "n_embd 16");
}

// --- resuming: the run's settings in the checkpoint, --save-every, export -----------------

// The metadata value of key in a checkpoint's header ("" when absent), read from the bytes.
std::string ckpt_meta(const std::string &bytes, const std::string &key)
{
    std::smatch m;
    std::regex re("\"" + key + "\":\"((?:[^\"\\\\]|\\\\.)*)\"");
    std::string head = bytes.substr(0, std::min<size_t>(bytes.size(), 1 << 16));
    return std::regex_search(head, m, re) ? m[1].str() : "";
}

// Replaces the only occurrence of from in the file by to, of the same length (the checksum
// covers the tensors, not the header).
void patch_file(const std::string &file, const std::string &from, const std::string &to)
{
    std::string bytes = read_file(file);
    size_t at = bytes.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    ASSERT_EQ(bytes.find(from, at + 1), std::string::npos) << from;
    ASSERT_EQ(from.size(), to.size());
    bytes.replace(at, from.size(), to);
    write_file(file, bytes);
}

// A run stopped after 12 steps and resumed to 20, with only --num-steps given again, ends in
// the same bytes as the 20 steps in one go: batch size, learning rate, schedule, clipping
// and validation split all come back from the checkpoint.
TEST_F(Cli, ResumeKeepsTheRunsSettings)
{
    const std::vector<std::string> settings = {
        "--batch-size", "3", "--learning-rate", "0.02", "--lr-schedule", "cosine",
        "--warmup-steps", "2", "--lr-decay-steps", "20", "--grad-clip", "1", "--val-split",
        "0.1", "--val-every", "5", "--seed", "9", "--save-every", "4", "--num-samples", "0"};
    auto with = [&](std::vector<std::string> a) {
        a.insert(a.begin() + 1, settings.begin(), settings.end());
        return a;
    };
    Result r = run(with({"train", "--num-steps", "12", "--save", "part.st"}));
    ASSERT_EQ(r.status, 0) << r.err;
    r = run({"train", "--resume", "part.st", "--num-steps", "20", "--save", "resumed.st",
             "--save-every", "4", "--num-samples", "0"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "mgpt train: note: --num-steps 20 given; the checkpoint's run used 12\n");
    EXPECT_NE(r.out.find("batch 3 documents, lr 0.02 cosine after 2 warmup steps"),
              std::string::npos) << r.out;
    r = run(with({"train", "--num-steps", "20", "--save", "whole.st"}));
    ASSERT_EQ(r.status, 0) << r.err;
    std::string whole = read_file(path("whole.st"));
    EXPECT_EQ(ckpt_meta(whole, "step"), "20");
    EXPECT_NE(ckpt_meta(whole, "train").find("\\\"batch-size\\\":3"), std::string::npos)
        << ckpt_meta(whole, "train");
    EXPECT_TRUE(read_file(path("resumed.st")) == whole) << "resumed run differs";

    // an option given again with another value wins, and is said
    r = run({"train", "--resume", "part.st", "--batch-size", "2", "--num-steps", "20",
             "--num-samples", "0"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("note: --batch-size 2 given; the checkpoint's run used 3"),
              std::string::npos) << r.err;
    EXPECT_NE(r.out.find("steps 13..20, batch 2 documents"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("step 20/20"), std::string::npos) << r.out;

    // a stored setting goes through the option's range check again
    patch_file(path("part.st"), "\\\"batch-size\\\":3", "\\\"batch-size\\\":0");
    r = run({"train", "--resume", "part.st", "--num-samples", "0"});
    EXPECT_FAILS(r, 2, "--batch-size 0 is out of range", "part.st", "training setting --batch-size 0");

    // a setting of a newer mgpt is ignored, and said
    patch_file(path("part.st"), "\\\"batch-size\\\":0", "\\\"batch-sizz\\\":0");
    r = run({"train", "--resume", "part.st", "--num-steps", "13", "--num-samples", "0"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("holds training setting \"batch-sizz\", unknown to this mgpt; it is "
                         "ignored"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("batch 1 document, lr 0.02 cosine"), std::string::npos) << r.out;

    // a checkpoint of an older mgpt (no settings) resumes with the defaults, and says so
    patch_file(path("whole.st"), "\"train\":", "\"trxin\":");
    r = run({"train", "--resume", "whole.st", "--num-steps", "21", "--num-samples", "0"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("holds no training settings"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("batch 1 document, lr 0.01 linear"), std::string::npos) << r.out;
}

TEST_F(Cli, ResumeKeepsTheRunsData)
{
    write_file(path("abc.txt"), "abc\nbca\ncab\naab\n");
    write_file(path("cab.txt"), "cab\nbac\nacb\n");
    Result r = run({"train", "--data", "abc.txt", "--stream", "--num-steps", "5",
                    "--num-samples", "0", "--save", "abc.st"});
    ASSERT_EQ(r.status, 0) << r.err;
    r = run({"train", "--resume", "abc.st", "--num-steps", "8", "--num-samples", "0"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("data: abc.txt: 4 documents"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\nstream: "), std::string::npos) << r.out;
    r = run({"train", "--resume", "abc.st", "--num-steps", "8", "--num-samples", "0", "--data",
             "cab.txt"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("note: --data cab.txt given; the checkpoint's run used --data abc.txt"),
              std::string::npos) << r.err;
    EXPECT_NE(r.out.find("data: cab.txt: 3 documents"), std::string::npos) << r.out;

    // the stored path is the command line's: moved, it is missed, and the message says why
    ASSERT_EQ(rename(path("abc.txt").c_str(), path("moved.txt").c_str()), 0);
    r = run({"train", "--resume", "abc.st", "--num-steps", "8", "--num-samples", "0"});
    EXPECT_FAILS(r, 2, "'abc.txt'", "the data of the run of checkpoint 'abc.st'", "--data");
    r = run({"train", "--resume", "abc.st", "--num-steps", "8", "--num-samples", "0", "--data",
             "moved.txt", "--seed", "5"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("note: --seed 5 given; the checkpoint's run used 42"),
              std::string::npos) << r.err;
}

// --save-every keeps PATH current: a run killed part way leaves the checkpoint of the last
// multiple of N (whenever the kill lands), which resumes.
TEST_F(Cli, SaveEveryLeavesTheLatestCheckpoint)
{
    Result r = run({"train", "--save-every", "5"});
    EXPECT_FAILS(r, 2, "--save-every 5 needs --save");
    r = run({"train", "--num-steps", "12", "--save-every", "5", "--num-samples", "0", "--save",
             "small.st"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(ckpt_meta(read_file(path("small.st")), "step"), "12");  // and at the end

    std::string ck = path("long.st");
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || chdir(dir.c_str()) != 0)
            _exit(127);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        alarm(600);
        execl(exe.c_str(), exe.c_str(), "train", "--num-steps", "1000000000", "--save-every",
              "7", "--save", "long.st", "--no-archive", (char *)nullptr);
        _exit(127);
    }
    ASSERT_GT(pid, 0);
    struct stat st;
    int exited = 0, status = 0;
    while (stat(ck.c_str(), &st) != 0 && !exited) {
        usleep(2000);
        exited = waitpid(pid, &status, WNOHANG) == pid;
    }
    ASSERT_FALSE(exited) << "the run ended before its first save, status " << status;
    usleep(20000);  // some more saves, or none: any multiple of 7 will do
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    std::string step = ckpt_meta(read_file(ck), "step");
    ASSERT_FALSE(step.empty());
    long s = atol(step.c_str());
    EXPECT_TRUE(s > 0 && s % 7 == 0) << s;
    r = run({"train", "--resume", "long.st", "--num-steps", std::to_string(s + 3),
             "--num-samples", "0"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("resumed: long.st at step " + step + "\n"), std::string::npos) << r.out;
}

// export --weights-only: a third of the size, the same samples and loss, the training
// settings kept; resuming from it is refused with the reason.
TEST_F(Cli, ExportWeightsOnly)
{
    Result r = run({"train", "--num-steps", "10", "--batch-size", "2", "--num-samples", "0",
                    "--save", "full.st"});
    ASSERT_EQ(r.status, 0) << r.err;
    r = run({"export", "--checkpoint", "full.st", "--weights-only", "-o", "w.st"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::string full = read_file(path("full.st")), w = read_file(path("w.st"));
    EXPECT_LT(w.size() * 2, full.size());
    EXPECT_EQ(w.find("adam."), std::string::npos);
    EXPECT_EQ(ckpt_meta(w, "step"), "10");
    EXPECT_EQ(ckpt_meta(w, "train"), ckpt_meta(full, "train"));
    Result a = run({"sample", "--checkpoint", "full.st"});
    Result b = run({"sample", "--checkpoint", "w.st"});
    ASSERT_EQ(b.status, 0) << b.err;
    EXPECT_EQ(b.out, a.out);
    a = run({"eval", "--checkpoint", "full.st"});
    b = run({"eval", "--checkpoint", "w.st"});
    ASSERT_EQ(b.status, 0) << b.err;
    EXPECT_EQ(b.out.substr(b.out.find("data: ")), a.out.substr(a.out.find("data: ")));
    r = run({"train", "--resume", "w.st", "--num-steps", "20"});
    EXPECT_FAILS(r, 2, "'w.st' has no optimizer state", "export --weights-only");

    r = run({"export", "--checkpoint", "full.st", "-o", "x.st"});
    EXPECT_FAILS(r, 2, "give --weights-only");
    r = run({"export", "--checkpoint", "full.st", "--weights-only"});
    EXPECT_FAILS(r, 2, "give -o OUT");
    write_file(path("notes.txt"), "mine\n");
    r = run({"export", "--checkpoint", "full.st", "--weights-only", "-o", "notes.txt"});
    EXPECT_FAILS(r, 2, "'notes.txt'", "not an mgpt checkpoint", "--force");
    EXPECT_EQ(read_file(path("notes.txt")), "mine\n");
    write_file(path("bad.st"), "junk");
    r = run({"export", "--checkpoint", "bad.st", "--weights-only", "-o", "x.st"});
    EXPECT_FAILS(r, 2, "bad.st");
}

TEST_F(Cli, SameSeedSameOutput)
{
    const std::vector<std::string> args = {"train", "--num-steps", "40", "--num-samples", "8",
                                           "--batch-size", "2", "--val-split", "0.05",
                                           "--val-every", "20", "--seed", "7"};
    Result a = run(args), b = run(args);
    ASSERT_EQ(a.status, 0) << a.err;
    ASSERT_EQ(b.status, 0) << b.err;
    std::string da = deterministic_part(a.out), db = deterministic_part(b.out);
    EXPECT_EQ(da, db);
    EXPECT_NE(da.find("val "), std::string::npos) << da;
    EXPECT_EQ(count_lines(da), 40 + 8) << da;  // every step (log-every 1 for 40 steps), samples

    // nor on the thread count (backends must be deterministic)
    std::vector<std::string> one = {"--threads=1"};
    one.insert(one.end(), args.begin(), args.end());
    Result t1 = run(one);
    ASSERT_EQ(t1.status, 0) << t1.err;
    EXPECT_EQ(deterministic_part(t1.out), da);

    std::vector<std::string> other = args;
    other.back() = "8";
    Result c = run(other);
    ASSERT_EQ(c.status, 0) << c.err;
    EXPECT_NE(deterministic_part(c.out), da);
}

TEST_F(Cli, PlainProgressLinesAreFew)
{
    Result r = run({"train", "--num-steps", "1000", "--num-samples", "0", "--n-embd", "8",
                    "--n-head", "2"});
    ASSERT_EQ(r.status, 0) << r.err;
    int steps = 0;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
        EXPECT_EQ(line.find('\r'), std::string::npos);
        steps += line.rfind("step ", 0) == 0;
    }
    EXPECT_GE(steps, 20);
    EXPECT_LE(steps, 52);
    EXPECT_NE(r.out.find("step    1/1000"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("step 1000/1000"), std::string::npos) << r.out;
}

TEST_F(Cli, EarlyStopSavesTheBestModel)
{
    // random strings: the model soon fits the training documents and the validation loss
    // rises, so early stopping triggers on every backend
    std::string text;
    uint32_t x = 12345;
    for (int d = 0; d < 60; d++) {
        for (int i = 0; i < 8; i++) {
            x = x * 1664525u + 1013904223u;
            text += static_cast<char>('a' + (x >> 24) % 10);
        }
        text += '\n';
    }
    write_file(path("random.txt"), text);
    Result r = run({"train", "--data", "random.txt", "--n-embd", "32", "--num-steps", "3000",
                    "--val-split", "0.2", "--val-every", "50", "--early-stop-patience", "3",
                    "--num-samples", "0", "--save", "best.st"});
    ASSERT_EQ(r.status, 0) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex("early stop at step ([0-9]+): .*best "
                                                       "([0-9.]+) at step ([0-9]+)")))
        << r.out;
    long stop = std::stol(m[1]), best_step = std::stol(m[3]);
    double best = std::stod(m[2]);
    EXPECT_LT(stop, 3000);
    EXPECT_EQ(stop - best_step, 3 * 50);
    EXPECT_NE(r.out.find("saved best.st (step " + std::to_string(best_step)), std::string::npos)
        << r.out;

    // eval --val-split picks the same validation documents: same loss as training reported
    Result e = run({"eval", "--checkpoint", "best.st", "--data", "random.txt", "--val-split",
                    "0.2"});
    ASSERT_EQ(e.status, 0) << e.err;
    EXPECT_NE(e.out.find("documents: 12"), std::string::npos) << e.out;
    EXPECT_NE(e.out.find("step " + std::to_string(best_step) + ")"), std::string::npos) << e.out;
    size_t at = e.out.find("loss: ");
    ASSERT_NE(at, std::string::npos);
    EXPECT_NEAR(atof(e.out.c_str() + at + 6), best, 1e-4);
}

// Early stopping's counters (the best validation loss, validations since) travel in the
// checkpoint: a run cut at step 100 and resumed stops where the whole run stops. Without
// them the resumed run would take its first validation as a new best and go on.
TEST_F(Cli, EarlyStopSurvivesResume)
{
    std::string text;
    uint32_t x = 12345;
    for (int d = 0; d < 60; d++) {
        for (int i = 0; i < 8; i++) {
            x = x * 1664525u + 1013904223u;
            text += static_cast<char>('a' + (x >> 24) % 10);
        }
        text += '\n';
    }
    write_file(path("random.txt"), text);
    std::vector<std::string> args = {"train", "--data", "random.txt", "--n-embd", "32",
                                     "--val-split", "0.2", "--val-every", "50",
                                     "--early-stop-patience", "3", "--lr-decay-steps", "3000",
                                     "--num-samples", "0", "--no-archive"};
    auto with = [&](std::vector<std::string> more) {
        std::vector<std::string> a = args;
        a.insert(a.end(), more.begin(), more.end());
        return a;
    };
    std::regex stop_re("early stop at step ([0-9]+): .*best ([0-9.]+) at step ([0-9]+)");
    Result whole = run(with({"--num-steps", "3000"}));
    ASSERT_EQ(whole.status, 0) << whole.err;
    std::smatch w;
    ASSERT_TRUE(std::regex_search(whole.out, w, stop_re)) << whole.out;
    long best_step = std::stol(w[3]);
    // the cut falls after the best validation and before the stop, on a validation step
    ASSERT_LT(best_step, 100) << whole.out;
    ASSERT_GT(std::stol(w[1]), 100) << whole.out;

    Result first = run(with({"--num-steps", "100", "--save", "part.st", "--save-every", "50"}));
    ASSERT_EQ(first.status, 0) << first.err;
    std::string meta = ckpt_meta(read_file(path("part.st")), "train");
    EXPECT_NE(meta.find("validation"), std::string::npos) << meta;
    EXPECT_NE(meta.find("best-step\\\":" + std::to_string(best_step)), std::string::npos)
        << meta;
    EXPECT_NE(meta.find("since-best\\\":1"), std::string::npos) << meta;

    Result resumed = run({"train", "--resume", "part.st", "--num-steps", "3000", "--save",
                          "end.st", "--no-archive"});
    ASSERT_EQ(resumed.status, 0) << resumed.err;
    std::smatch r;
    ASSERT_TRUE(std::regex_search(resumed.out, r, stop_re)) << resumed.out;
    EXPECT_EQ(r[0].str(), w[0].str()) << resumed.out;
    // no validation of this run beat the checkpoint's best: the last model is saved
    EXPECT_NE(resumed.out.find("saved end.st (step " + w[1].str() + ")"), std::string::npos)
        << resumed.out;

    // another validation set: the counters are not carried over, said on stderr
    Result other = run({"train", "--resume", "part.st", "--num-steps", "150", "--val-split",
                        "0.3", "--no-archive"});
    ASSERT_EQ(other.status, 0) << other.err;
    EXPECT_NE(other.err.find("is not carried over"), std::string::npos) << other.err;
    EXPECT_EQ(other.out.find("early stop"), std::string::npos) << other.out;
}

// A batch far over the machine's memory is refused from its shape, before any allocation
// (it used to zero a 22 GB gradient arena and end in the OOM killer).
TEST_F(Cli, OversizedBatchIsRefusedWithTheFigure)
{
    Result r = run({"train", "--batch-size", "65536", "--block-size", "256", "--num-samples", "0"});
    EXPECT_FAILS(r, 2, "needs ", "GiB", "activations", "this machine has");
}

// The sparse checkpoint: a header that passes every check, shapes within the
// documented ranges (n_embd 8192, 16 layers: 12.9 G parameters, 48 GiB), and a file that
// has that size but holds a few KB on disk. sample and eval must refuse it from the
// header's figures, before allocating anything.
TEST_F(Cli, SparseCheckpointOverTheMachineIsRefusedBeforeAllocating)
{
    const long C = 8192, L = 16, T = 8;
    std::vector<std::pair<std::string, std::vector<long>>> tensors = {
        {"wte", {27, C}}, {"wpe", {T, C}}, {"lm_head", {27, C}}};
    for (long l = 0; l < L; l++) {
        std::string p = "layer" + std::to_string(l) + ".";
        for (const char *w : {"attn_wq", "attn_wk", "attn_wv", "attn_wo"})
            tensors.push_back({p + w, {C, C}});
        tensors.push_back({p + "mlp_fc1", {4 * C, C}});
        tensors.push_back({p + "mlp_fc2", {C, 4 * C}});
    }
    std::string vocab = "[";
    for (int b = 97; b <= 122; b++)
        vocab += std::to_string(b) + (b < 122 ? "," : "]");
    std::string h = "{\"__metadata__\":{\"format\":\"mgpt\",\"n_embd\":\"8192\","
                    "\"n_head\":\"4\",\"n_layer\":\"16\",\"block_size\":\"8\","
                    "\"vocab_size\":\"27\",\"vocab\":\"" + vocab + "\",\"step\":\"1\","
                    "\"seed\":\"42\"}";
    long off = 0;
    for (const auto &t : tensors) {
        long bytes = 4 * t.second[0] * t.second[1];
        h += ",\"" + t.first + "\":{\"dtype\":\"F32\",\"shape\":[" +
             std::to_string(t.second[0]) + "," + std::to_string(t.second[1]) +
             "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + bytes) +
             "]}";
        off += bytes;
    }
    h += "}";
    long phys = sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    if ((double)phys > 0.8 * (double)off)
        GTEST_SKIP() << "this machine's " << (phys >> 30) << " GiB of memory would hold the "
                     << (off >> 30) << " GiB model: nothing to refuse";
    std::string file = path("sparse.st");
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)h.size() >> (8 * i));
    ASSERT_EQ(::write(fd, len, 8), 8);
    ASSERT_EQ(::write(fd, h.data(), h.size()), (ssize_t)h.size());
    if (ftruncate(fd, (off_t)(8 + h.size()) + off) != 0) {
        close(fd);
        GTEST_SKIP() << "this file system cannot hold a sparse file of " << (off >> 30) << " GiB";
    }
    close(fd);
    alarm_seconds = 60;
    Result r = run({"eval", "--checkpoint", "sparse.st"});
    EXPECT_FAILS(r, 2, "needs ", "GiB", "this machine has");
    r = run({"sample", "--checkpoint", "sparse.st", "--num-samples", "1"});
    EXPECT_FAILS(r, 2, "needs ", "GiB", "this machine has");
    unlink(file.c_str());
}

}  // namespace

namespace {

// --- files that are not what they seem ----------------------------------------------------

// A FIFO where a file is expected would block open(2) forever (no writer ever comes).
TEST_F(Cli, FifoGivenAsAFileIsRefusedNotWaitedFor)
{
    train_checkpoint("good.st", 5);
    ASSERT_EQ(mkfifo(path("pipe.txt").c_str(), 0600), 0);
    mkdir(path("d").c_str(), 0755);
    write_file(path("d/a.txt"), "anna\nbob\n");
    ASSERT_EQ(mkfifo(path("d/b.txt").c_str(), 0600), 0);
    alarm_seconds = 60;
    Result r = run({"train", "--data", "pipe.txt", "--num-steps", "1"});
    EXPECT_FAILS(r, 2, "pipe.txt", "FIFO");
    r = run({"train", "--data", "pi*.txt", "--num-steps", "1"});
    EXPECT_FAILS(r, 2, "pipe.txt", "FIFO");
    r = run({"train", "--data-dir", "d", "--num-steps", "1", "--num-samples", "0"});
    EXPECT_EQ(r.status, 0) << "a FIFO in --data-dir is skipped: " << r.err;
    r = run({"sample", "--checkpoint", "pipe.txt"});
    EXPECT_FAILS(r, 2, "pipe.txt", "FIFO");
    r = run({"eval", "--checkpoint", "pipe.txt"});
    EXPECT_FAILS(r, 2, "pipe.txt", "FIFO");
    r = run({"train", "--resume", "pipe.txt", "--num-steps", "10"});
    EXPECT_FAILS(r, 2, "pipe.txt", "FIFO");
    r = run({"eval", "--checkpoint", "good.st", "--data", "pipe.txt"});
    EXPECT_FAILS(r, 2, "pipe.txt", "FIFO");
}

// --save is tried (a file created and removed in its folder) before any training.
TEST_F(Cli, SaveFolderIsTriedBeforeTraining)
{
    Result r = run({"train", "--save", "/proc/x.st", "--num-steps", "5"});
    EXPECT_FAILS(r, 2, "/proc/x.st", "cannot create a file");
    EXPECT_EQ(r.out.find("step"), std::string::npos) << "trained before failing: " << r.out;
    train_checkpoint("ro.st", 5);
    ASSERT_EQ(chmod(path("ro.st").c_str(), 0444), 0);
    r = run({"train", "--save", "ro.st", "--num-steps", "5"});
    EXPECT_FAILS(r, 2, "ro.st", "read-only");
    EXPECT_EQ(r.out.find("step"), std::string::npos) << r.out;
}

// --save replaces a checkpoint, but not a text file or a symbolic link without --force.
TEST_F(Cli, SaveReplacesOnlyCheckpointsWithoutForce)
{
    write_file(path("notes.txt"), "my notes\n");
    Result r = run({"train", "--save", "notes.txt", "--num-steps", "5", "--num-samples", "0"});
    EXPECT_FAILS(r, 2, "notes.txt", "not an mgpt checkpoint", "--force");
    EXPECT_EQ(read_file(path("notes.txt")), "my notes\n");

    train_checkpoint("target.st", 5);
    std::string target = read_file(path("target.st"));
    ASSERT_EQ(symlink("target.st", path("link.st").c_str()), 0);
    r = run({"train", "--save", "link.st", "--num-steps", "5", "--num-samples", "0"});
    EXPECT_FAILS(r, 2, "link.st", "symbolic link", "--force");
    EXPECT_EQ(read_file(path("target.st")), target);

    train_checkpoint("target.st", 5);  // a checkpoint is replaced as before
    r = run({"train", "--save", "notes.txt", "--force", "--num-steps", "5", "--num-samples", "0"});
    EXPECT_EQ(r.status, 0) << r.err;
    r = run({"sample", "--checkpoint", "notes.txt", "--num-samples", "1"});
    EXPECT_EQ(r.status, 0) << r.err;
}

// sample on a terminal: bytes that are not printable text are shown as \xHH, unless --raw.
TEST_F(Cli, SampleEscapesControlBytesOnATerminal)
{
    write_file(path("ctl.txt"), "\x1b\x01\x1b\n\x01\x7f\x1b\x1b\n\x1b\x01\x01\n");
    Result r = run({"train", "--data", "ctl.txt", "--num-steps", "5", "--num-samples", "0",
                    "--save", "ctl.st"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto on_tty = [&](std::vector<std::string> args) {
        args.insert(args.begin(), exe);
        int master = -1;
        pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
        if (pid == 0) {
            if (chdir(dir.c_str()) != 0)
                _exit(127);
            alarm(60);
            std::vector<char *> argv;
            for (std::string &a : args)
                argv.push_back(&a[0]);
            argv.push_back(nullptr);
            execv(exe.c_str(), argv.data());
            _exit(127);
        }
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = read(master, buf, sizeof buf)) > 0)  // EIO once the child is gone
            out.append(buf, (size_t)n);
        close(master);
        int st = 0;
        waitpid(pid, &st, 0);
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
        return out;
    };
    for (const char *mode : {"", "--stream"}) {
        std::vector<std::string> args = {"sample", "--checkpoint", "ctl.st", "--num-samples", "5"};
        if (*mode)
            args.push_back(mode);
        std::string shown = on_tty(args);
        EXPECT_EQ(shown.find('\x1b'), std::string::npos) << "raw ESC reached the terminal";
        EXPECT_EQ(shown.find('\x01'), std::string::npos);
        EXPECT_NE(shown.find("\\x1B"), std::string::npos) << shown;
        args.push_back("--raw");
        EXPECT_NE(on_tty(args).find('\x1b'), std::string::npos) << "--raw must not escape";
    }
    r = run({"sample", "--checkpoint", "ctl.st", "--num-samples", "5"});  // not a terminal
    EXPECT_NE(r.out.find('\x1b'), std::string::npos);
}

}  // namespace

// mgpt train --micro-batch, on one process and under mpirun: a step split into
// micro-batches is refused unless they divide it, is bitwise repeatable, and gives the
// same checkpoint, byte for byte, on 1, 2, 3 and 4 ranks as on one process without mpirun
// (Adam sharded over the ranks; with --grad-clip, whole on every rank); a resumed run under
// mpirun continues it bitwise; a rank given other data or a wrong option ends the job with
// a clear message, and so does a rank killed mid-run, the last checkpoint left whole. mgpt
// info and mgpt backends under mpirun print one report per rank, in rank order; train's
// start-up warnings come once, from rank 0.
//
// The MPI tests need a build with MPI and mpirun (MGPT_MPIRUN, set by tests/Makefile.am
// when configure found them); they are skipped otherwise. mpirun runs with --oversubscribe
// (the tests start up to 4 ranks on a 2-core machine) and with Open MPI's consent to run
// as root (CI does).
#include <gtest/gtest.h>

#include "cli_run.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

// GTEST_SKIP returns from the function it is in: a macro, so that it ends the test.
#define NEED_MPI()                                                                    \
    do {                                                                              \
        if (mpirun.empty())                                                           \
            GTEST_SKIP() << "built without MPI (or no mpirun): configure --with-mpi"; \
    } while (0)

using mgpt_test::Result;
using mgpt_test::read_file;

class TrainMpi : public mgpt_test::CliTest {
protected:
    std::string mpirun;

    TrainMpi() { prefix = "mpi"; }

    void SetUp() override
    {
        CliTest::SetUp();
        const char *m = getenv("MGPT_MPIRUN");
        mpirun = m ? m : "";
    }

    // Runs argv[0] with argv in dir, two minutes at most (a hung job ends with SIGALRM),
    // with env ("NAME=VALUE") added to its environment.
    Result run(const std::vector<std::string> &args, const std::vector<std::string> &env = {})
    {
        std::vector<std::string> e = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                                      "OMPI_MCA_rmaps_base_oversubscribe=1"};
        e.insert(e.end(), env.begin(), env.end());
        return mgpt_test::run_argv(dir, args, e, "", 120);
    }

    // mgpt train's arguments (one thread, a small model, the embedded names), then more.
    std::vector<std::string> train(const std::vector<std::string> &more)
    {
        std::vector<std::string> a = {exe,           "--threads=1", "train", "--n-embd", "16",
                                      "--n-layer",   "1",           "--block-size", "8",
                                      "--num-steps", "4",           "--num-samples", "0",
                                      "--no-archive"};
        a.insert(a.end(), more.begin(), more.end());
        return a;
    }

    // The same under mpirun with np ranks.
    std::vector<std::string> under_mpirun(int np, const std::vector<std::string> &cmd)
    {
        std::vector<std::string> a = {mpirun, "--oversubscribe", "-np", std::to_string(np)};
        a.insert(a.end(), cmd.begin(), cmd.end());
        return a;
    }
};

TEST_F(TrainMpi, MicroBatchThatDoesNotDivideTheBatchIsRefused)
{
    Result r = run(train({"--batch-size", "12", "--micro-batch", "5"}));
    EXPECT_EQ(r.status, 2) << r.err;
    for (const char *w : {"--micro-batch 5", "--batch-size 12", "1, 2, 3, 4, 6, 12"})
        EXPECT_NE(r.err.find(w), std::string::npos) << "stderr lacks \"" << w << "\": " << r.err;
}

TEST_F(TrainMpi, MicroBatchesAreBitwiseRepeatableAndDifferOnlyByRounding)
{
    Result a = run(train({"--batch-size", "12", "--micro-batch", "3", "--save", "a.ckpt"}));
    ASSERT_EQ(a.status, 0) << a.err;
    Result b = run(train({"--batch-size", "12", "--micro-batch", "3", "--save", "b.ckpt"}));
    ASSERT_EQ(b.status, 0) << b.err;
    std::string ca = read_file(path("a.ckpt"));
    ASSERT_FALSE(ca.empty());
    EXPECT_TRUE(ca == read_file(path("b.ckpt"))) << "two runs of the same command differ";
    // the loss printed: the same step losses as one big batch, to the digits printed
    Result big = run(train({"--batch-size", "12", "--log-every", "1"}));
    Result mic = run(train({"--batch-size", "12", "--micro-batch", "3", "--log-every", "1"}));
    ASSERT_EQ(big.status, 0) << big.err;
    ASSERT_EQ(mic.status, 0) << mic.err;
    auto losses = [](const std::string &out) {
        std::string s;
        std::istringstream in(out);
        for (std::string line; std::getline(in, line);)
            if (line.rfind("step ", 0) == 0)
                s += line.substr(0, line.find("| lr")) + "\n";
        return s;
    };
    EXPECT_FALSE(losses(big.out).empty()) << big.out;
    EXPECT_EQ(losses(big.out), losses(mic.out));
}

TEST_F(TrainMpi, CheckpointIsByteIdenticalOnOneToFourRanks)
{
    NEED_MPI();
    // 12 documents in 4 micro-batches of 3: ranks 1, 2 and 4 own whole tree nodes; 3 ranks
    // own [0, 1), [1, 2), [2, 4)
    std::vector<std::string> opts = {"--batch-size", "12", "--micro-batch", "3", "--val-split",
                                     "0.1", "--val-every", "2"};
    std::vector<std::string> one = opts;
    one.insert(one.end(), {"--save", "one.ckpt"});
    Result r = run(train(one));
    ASSERT_EQ(r.status, 0) << r.err;
    std::string want = read_file(path("one.ckpt"));
    ASSERT_FALSE(want.empty());
    for (int np : {1, 2, 3, 4}) {
        std::string name = "np" + std::to_string(np) + ".ckpt";
        std::vector<std::string> o = opts;
        o.insert(o.end(), {"--save", name});
        Result m = run(under_mpirun(np, train(o)));
        ASSERT_EQ(m.status, 0) << "-np " << np << ": " << m.err;
        EXPECT_TRUE(read_file(path(name)) == want) << "-np " << np << " differs from one process";
        // rank 0 alone prints: one header, one line per logged step
        EXPECT_EQ(m.out.find("saved"), m.out.rfind("saved")) << m.out;
        std::string ranks = std::to_string(np) + (np == 1 ? " rank " : " ranks ");
        EXPECT_NE(m.out.find("micro-batches: 4 of 3 documents a step, gradients summed in a "
                             "fixed tree, on " + ranks + "(Open MPI)"), std::string::npos)
            << m.out;
        if (np > 1) {
            EXPECT_NE(m.out.find("gradient exchange: "), std::string::npos) << m.out;
        }
    }
}

TEST_F(TrainMpi, GradClipIsByteIdenticalOnOneToThreeRanks)
{
    NEED_MPI();
    // --grad-clip needs the global gradient norm: every rank gets the whole gradient and
    // runs the whole Adam step (not sharded), and the checkpoint is still one process's
    std::vector<std::string> opts = {"--batch-size", "12", "--micro-batch", "3"};
    std::vector<std::string> plain = opts;
    plain.insert(plain.end(), {"--save", "plain.ckpt"});
    Result p = run(train(plain));
    ASSERT_EQ(p.status, 0) << p.err;
    opts.insert(opts.end(), {"--grad-clip", "0.05"});
    std::vector<std::string> one = opts;
    one.insert(one.end(), {"--save", "one.ckpt"});
    Result r = run(train(one));
    ASSERT_EQ(r.status, 0) << r.err;
    std::string want = read_file(path("one.ckpt"));
    ASSERT_FALSE(want.empty());
    EXPECT_NE(want, read_file(path("plain.ckpt"))) << "--grad-clip 0.05 clipped nothing";
    for (int np : {1, 2, 3}) {
        std::string name = "np" + std::to_string(np) + ".ckpt";
        std::vector<std::string> o = opts;
        o.insert(o.end(), {"--save", name});
        Result m = run(under_mpirun(np, train(o)));
        ASSERT_EQ(m.status, 0) << "-np " << np << ": " << m.err;
        EXPECT_TRUE(read_file(path(name)) == want) << "-np " << np << " differs from one process";
        if (np > 1) {
            EXPECT_NE(m.out.find("the whole Adam on every rank (--grad-clip)"),
                      std::string::npos) << m.out;
        }
    }
}

TEST_F(TrainMpi, ResumeUnderMpirunContinuesTheRun)
{
    NEED_MPI();
    // 4 steps on 2 ranks (Adam sharded: the checkpoint gathers the moments), then on to 6
    // from that checkpoint: on one process, and on 4 ranks; both are the uninterrupted run
    // of 6 steps on 3 ranks (the schedule reaches 0 at step 6 in every run)
    std::vector<std::string> opts = {"--batch-size", "8", "--micro-batch", "2",
                                     "--lr-decay-steps", "6"};
    std::vector<std::string> first = opts;
    first.insert(first.end(), {"--save", "first.ckpt"});
    Result h = run(under_mpirun(2, train(first)));
    ASSERT_EQ(h.status, 0) << h.err;
    auto six = [&](std::vector<std::string> a) {
        for (size_t i = 0; i + 1 < a.size(); i++)
            if (a[i] == "--num-steps")
                a[i + 1] = "6";
        return a;
    };
    auto resume = [&](const std::string &save) {
        std::vector<std::string> a = six(train(opts));
        a.insert(a.end(), {"--resume", "first.ckpt", "--save", save});
        return a;
    };
    std::vector<std::string> whole = opts;
    whole.insert(whole.end(), {"--save", "whole.ckpt"});
    Result w = run(under_mpirun(3, six(train(whole))));
    ASSERT_EQ(w.status, 0) << w.err;
    Result one = run(resume("one.ckpt"));
    ASSERT_EQ(one.status, 0) << one.err;
    Result four = run(under_mpirun(4, resume("four.ckpt")));
    ASSERT_EQ(four.status, 0) << four.err;
    std::string want = read_file(path("whole.ckpt"));
    ASSERT_FALSE(want.empty());
    EXPECT_NE(want, read_file(path("first.ckpt"))) << "resuming trained nothing";
    EXPECT_TRUE(read_file(path("one.ckpt")) == want)
        << "resumed on one process differs from the uninterrupted run";
    EXPECT_TRUE(read_file(path("four.ckpt")) == want)
        << "resumed on 4 ranks differs from the uninterrupted run";
}

TEST_F(TrainMpi, MoreRanksThanMicroBatchesIsRefused)
{
    NEED_MPI();
    Result r = run(under_mpirun(3, train({"--batch-size", "4", "--micro-batch", "2"})));
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("more ranks than the 2 micro-batches"), std::string::npos) << r.err;
}

TEST_F(TrainMpi, ARankGivenOtherDataEndsTheJob)
{
    NEED_MPI();
    std::ofstream(path("other.txt")) << "alpha\nbeta\ngamma\ndelta\n";
    std::vector<std::string> a = under_mpirun(1, train({"--batch-size", "4", "--micro-batch", "2",
                                                         "--save", "x.ckpt"}));
    std::vector<std::string> b = train({"--batch-size", "4", "--micro-batch", "2", "--data",
                                        "other.txt", "--save", "x.ckpt"});
    a.insert(a.end(), {":", "-np", "1"});
    a.insert(a.end(), b.begin(), b.end());
    Result r = run(a);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("rank 1 of 2 has other data or options than rank 0"),
              std::string::npos) << r.err;
    EXPECT_FALSE(std::ifstream(path("x.ckpt")).good()) << "a checkpoint was written";
}

TEST_F(TrainMpi, ARankWithABadOptionEndsTheJob)
{
    NEED_MPI();
    std::vector<std::string> a = under_mpirun(1, train({"--batch-size", "4", "--micro-batch", "2"}));
    std::vector<std::string> b = train({"--batch-size", "4", "--micro-batch", "3"});
    a.insert(a.end(), {":", "-np", "1"});
    a.insert(a.end(), b.begin(), b.end());
    Result r = run(a);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("--micro-batch 3 does not divide --batch-size 4"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("rank 1 of 2 failed (exit status 2"), std::string::npos) << r.err;
}

// Where each of marks occurs in text, in order (npos where it does not follow the last).
std::vector<size_t> positions(const std::string &text, const std::vector<std::string> &marks)
{
    std::vector<size_t> at;
    size_t from = 0;
    for (const std::string &m : marks) {
        size_t p = text.find(m, from);
        at.push_back(p);
        from = p == std::string::npos ? from : p + m.size();
    }
    return at;
}

size_t count(const std::string &text, const std::string &what)
{
    size_t n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1))
        n++;
    return n;
}

// mgpt info and mgpt backends: rank 0 prints rank 0's report, then rank 1's, each once,
// each under its heading with the rank's cores, binding and backend; without mpirun, no
// heading.
TEST_F(TrainMpi, InfoAndBackendsReportEachRankOnceInOrder)
{
    NEED_MPI();
    struct Cmd {
        const char *name, *first, *last;  // the command, its first and last section
    };
    for (const Cmd &c : {Cmd{"info", "\nCPU\n", "\nPlugins\n"},
                         Cmd{"backends", "\nbackend ABI: ", "\nselected: "}}) {
        Result r = run(under_mpirun(2, {exe, c.name}));
        ASSERT_EQ(r.status, 0) << c.name << ": " << r.err;
        EXPECT_EQ(count(r.out, "rank 0 of 2 ("), 1u) << r.out;
        EXPECT_EQ(count(r.out, "rank 1 of 2 ("), 1u) << r.out;
        EXPECT_EQ(count(r.out, c.first), 2u) << r.out;
        EXPECT_EQ(count(r.out, c.last), 2u) << r.out;
        std::vector<std::string> marks;
        for (const char *rank : {"rank 0 of 2 (", "rank 1 of 2 ("})
            marks.insert(marks.end(), {rank, "\n  cores ", "\n  bound to ", "\n  backend ",
                                       c.first, c.last});
        std::vector<size_t> at = positions(r.out, marks);
        for (size_t i = 0; i < at.size(); i++)
            EXPECT_NE(at[i], std::string::npos)
                << c.name << ": \"" << marks[i] << "\" missing or out of order:\n" << r.out;
        // one process: the report as ever, with no heading
        Result one = run({exe, c.name});
        ASSERT_EQ(one.status, 0) << one.err;
        EXPECT_EQ(one.out.find("rank 0 of"), std::string::npos) << one.out;
        EXPECT_EQ(one.out.find("bound to"), std::string::npos) << one.out;
    }
}

// Each rank bound to one core and given 2 threads: the warning is rank 0's alone.
TEST_F(TrainMpi, StartUpWarningsComeOnceFromRankZero)
{
    NEED_MPI();
    std::vector<std::string> a = train({"--batch-size", "4", "--micro-batch", "2"});
    a[1] = "--threads=2";
    a.insert(a.begin(), {mpirun, "--oversubscribe", "--bind-to", "core", "-np", "2"});
    Result r = run(a);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(count(r.err, "--threads 2 is more than the 1 physical core"), 1u) << r.err;
}

// A rank killed mid-run (SIGKILL: no message, no clean-up of its own) ends the job with a
// message naming it, and the checkpoint of the step before is whole: it loads, it is the
// one a single process saves at that step, and no temporary file is left beside it.
TEST_F(TrainMpi, ARankKilledMidRunEndsTheJobAndKeepsTheCheckpoint)
{
    NEED_MPI();
    std::vector<std::string> opts = {"--batch-size", "8", "--micro-batch", "2", "--save-every",
                                     "2", "--num-steps", "6"};
    // the same run on one process, killed by the same hook after step 3
    std::vector<std::string> o1 = opts;
    o1.insert(o1.end(), {"--save", "one.ckpt"});
    Result one = run(train(o1), {"MGPT_TEST_DIE_AT_STEP=3"});
    ASSERT_EQ(one.status, 128 + SIGKILL) << one.err;
    std::string want = read_file(path("one.ckpt"));
    ASSERT_FALSE(want.empty());
    for (int rank : {1, 0}) {
        std::string name = "killed" + std::to_string(rank) + ".ckpt";
        std::vector<std::string> o = opts;
        o.insert(o.end(), {"--save", name});
        Result r = run(under_mpirun(2, train(o)),
                       {"MGPT_TEST_DIE_AT_STEP=3", "MGPT_TEST_DIE_RANK=" + std::to_string(rank)});
        EXPECT_NE(r.status, 0) << r.err;
        // Open MPI's own message names the rank and the signal
        std::string says = "process rank " + std::to_string(rank);
        EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("signal 9"), std::string::npos) << r.err;
        EXPECT_TRUE(read_file(path(name)) == want)
            << "rank " << rank << " killed: the checkpoint is not the one of step 2";
        Result ev = run({exe, "--threads=1", "eval", "--checkpoint", name});
        EXPECT_EQ(ev.status, 0) << ev.err;
        EXPECT_NE(ev.out.find("; step 2)"), std::string::npos) << ev.out;
    }
    // nothing else in the folder: no temporary or lock file of an interrupted save
    std::vector<std::string> left;
    if (DIR *d = opendir(dir.c_str())) {
        while (struct dirent *e = readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != ".." && n != ".stdout" && n != ".stderr" &&
                n != "one.ckpt" && n != "killed0.ckpt" && n != "killed1.ckpt")
                left.push_back(n);
        }
        closedir(d);
    }
    EXPECT_TRUE(left.empty()) << "left behind: " << left.front();
}

}  // namespace

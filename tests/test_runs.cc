// The archive of training runs: what `mgpt train` writes into a run folder (and does not,
// with --no-archive or an archive it cannot write), and `mgpt runs list/show/compare` on
// those folders, unknown and ambiguous IDs included.
#include <gtest/gtest.h>

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "test_program.h"

using namespace mgpt_test;

namespace {

int remove_entry(const char *path, const struct stat *, int, struct FTW *)
{
    return remove(path);
}

struct Result {
    int status;
    std::string out, err;
};

class Runs : public ::testing::Test {
protected:
    std::string exe, dir;

    void SetUp() override
    {
        exe = program_path("MGPT_EXE", "../tools/mgpt/mgpt");
        std::string tmpl = scratch_path("runs", "XXXXXX");
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        ASSERT_NE(mkdtemp(buf.data()), nullptr) << tmpl << ": " << strerror(errno);
        dir = buf.data();
    }

    void TearDown() override
    {
        if (!dir.empty())
            nftw(dir.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }

    std::string path(const std::string &name) const { return dir + "/" + name; }

    // mgpt with args, MGPT_ARCHIVE_DIR set to archive ("" = unset).
    Result mgpt(const std::string &args, const std::string &archive)
    {
        Result r;
        std::string err = path("stderr.txt");
        std::string env = archive.empty() ? "unset MGPT_ARCHIVE_DIR; "
                                          : "MGPT_ARCHIVE_DIR='" + archive + "' ";
        r.status = run_shell(env + "'" + exe + "' " + args + " 2>'" + err + "'", &r.out);
        r.err = read_text(err);
        return r;
    }

    // The run folders of an archive, sorted.
    std::vector<std::string> runs_in(const std::string &archive)
    {
        std::vector<std::string> v;
        DIR *d = opendir(archive.c_str());
        if (!d)
            return v;
        while (struct dirent *e = readdir(d))
            if (e->d_name[0] != '.')
                v.push_back(e->d_name);
        closedir(d);
        std::sort(v.begin(), v.end());
        return v;
    }
};

std::vector<std::string> lines(const std::string &s)
{
    std::vector<std::string> v;
    std::stringstream ss(s);
    std::string l;
    while (std::getline(ss, l))
        v.push_back(l);
    return v;
}

bool exists(const std::string &p)
{
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

const char TRAIN[] = "train --num-steps 30 --val-split 0.1 --val-every 10 --num-samples 2 ";

TEST_F(Runs, TrainWritesARunFolder)
{
    std::string a = path("archive");
    Result r = mgpt(std::string(TRAIN) + "--save '" + path("m.safetensors") + "'", a);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    std::vector<std::string> ids = runs_in(a);
    ASSERT_EQ(ids.size(), 1u);
    std::string run = a + "/" + ids[0];
    // metrics.csv: the header, then one row per step, validation at steps 10, 20, 30
    std::vector<std::string> csv = lines(read_text(run + "/metrics.csv"));
    ASSERT_EQ(csv.size(), 31u);
    EXPECT_EQ(csv[0], "step,loss,val_loss,lr,ms_per_step,tok_per_s");
    for (int s = 1; s <= 30; s++) {
        std::vector<std::string> f;
        std::stringstream ss(csv[s]);
        std::string cell;
        while (std::getline(ss, cell, ','))
            f.push_back(cell);
        ASSERT_EQ(f.size(), 6u) << csv[s];
        EXPECT_EQ(f[0], std::to_string(s));
        EXPECT_GT(std::stod(f[1]), 0.0);
        EXPECT_EQ(f[2].empty(), s % 10 != 0) << csv[s];
    }
    // run.json: the configuration, the command line, the machine, the backend, the end
    std::string j = read_text(run + "/run.json");
    EXPECT_NE(j.find("\"n_embd\": 16"), std::string::npos) << j;
    EXPECT_NE(j.find("\"num_steps\": 30"), std::string::npos);
    EXPECT_NE(j.find("\"--val-every\""), std::string::npos);
    EXPECT_NE(j.find("\"cpu_brand\""), std::string::npos);
    EXPECT_NE(j.find("\"hwloc\""), std::string::npos);
    EXPECT_NE(j.find("\"backend\""), std::string::npos);
    EXPECT_NE(j.find("\"status\": \"done\""), std::string::npos);
    EXPECT_NE(j.find("\"stored_as\": \"hard link\""), std::string::npos);
    // the samples printed, the checkpoint, the chart
    std::string samples = read_text(run + "/samples.txt");
    std::vector<std::string> sl = lines(samples);
    ASSERT_EQ(sl.size(), 2u);
    EXPECT_NE(r.out.find("sample  1: " + sl[0] + "\n"), std::string::npos) << r.out;
    EXPECT_EQ(read_text(run + "/checkpoint.safetensors"), read_text(path("m.safetensors")));
    std::string svg = read_text(run + "/loss.svg");
    EXPECT_NE(svg.find("<svg"), std::string::npos);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST_F(Runs, NoArchiveWritesNothing)
{
    std::string a = path("archive");
    Result r = mgpt(std::string(TRAIN) + "--no-archive", a);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_FALSE(exists(a));
}

TEST_F(Runs, ArchiveDirOptionOverridesTheEnvironment)
{
    std::string a = path("env"), b = path("opt");
    ASSERT_EQ(mgpt(std::string(TRAIN) + "--archive-dir '" + b + "'", a).status, 0);
    EXPECT_FALSE(exists(a));
    EXPECT_EQ(runs_in(b).size(), 1u);
    // XDG_DATA_HOME when nothing else is given
    std::string out;
    ASSERT_EQ(run_shell("unset MGPT_ARCHIVE_DIR; XDG_DATA_HOME='" + path("xdg") + "' '" + exe +
                            "' " + TRAIN + " >/dev/null 2>&1",
                        &out),
              0);
    EXPECT_EQ(runs_in(path("xdg") + "/mgpt/runs").size(), 1u);
}

TEST_F(Runs, AnArchiveThatCannotBeWrittenWarnsOnceAndTrainingGoesOn)
{
    std::string file = path("not-a-folder");
    FILE *f = fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fclose(f);
    Result r = mgpt(std::string(TRAIN), file + "/runs");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("sample  2:"), std::string::npos);
    std::vector<std::string> el = lines(r.err);
    ASSERT_EQ(el.size(), 1u) << r.err;
    EXPECT_NE(el[0].find("run archive: cannot create a run folder"), std::string::npos) << r.err;
}

TEST_F(Runs, ListShowAndCompare)
{
    std::string a = path("archive");
    ASSERT_EQ(mgpt(std::string(TRAIN), a).status, 0);
    ASSERT_EQ(mgpt("train --num-steps 20 --n-embd 8 --n-head 2 --num-samples 1", a).status, 0);
    std::vector<std::string> ids = runs_in(a);
    ASSERT_EQ(ids.size(), 2u);

    Result l = mgpt("runs list", a);
    ASSERT_EQ(l.status, 0) << l.err;
    std::vector<std::string> ll = lines(l.out);
    ASSERT_EQ(ll.size(), 3u) << l.out;
    EXPECT_EQ(ll[1].rfind(ids[0], 0), 0u);
    EXPECT_NE(ll[1].find("C16 L1 H4 T8 B1"), std::string::npos);
    EXPECT_NE(ll[1].find("30/30"), std::string::npos);
    EXPECT_NE(ll[2].find("C8 L1 H2 T8 B1"), std::string::npos);
    EXPECT_NE(ll[2].find("20/20"), std::string::npos);
    EXPECT_NE(ll[2].find("done"), std::string::npos);

    // the ID's unique prefix; --archive-dir after the subcommand
    std::string prefix = ids[1].substr(0, ids[1].size() - 1);
    if (ids[0].rfind(prefix, 0) == 0)
        prefix = ids[1];
    Result s = mgpt("runs show " + prefix + " --archive-dir '" + a + "'", "/nonexistent");
    ASSERT_EQ(s.status, 0) << s.err;
    EXPECT_NE(s.out.find("run " + ids[1] + "\n"), std::string::npos) << s.out;
    EXPECT_NE(s.out.find(a + "/" + ids[1] + "/metrics.csv"), std::string::npos);
    EXPECT_NE(s.out.find(a + "/" + ids[1] + "/loss.svg"), std::string::npos);
    EXPECT_NE(s.out.find("steps                  20 of 20"), std::string::npos) << s.out;
    EXPECT_EQ(s.out.find("checkpoint.safetensors"), std::string::npos);

    std::string chart = path("cmp.svg");
    Result c = mgpt("runs compare " + ids[0] + " " + ids[1] + " -o '" + chart + "'", a);
    ASSERT_EQ(c.status, 0) << c.err;
    std::vector<std::string> cl = lines(c.out);
    auto has_row = [&](const std::string &name, const std::string &v0, const std::string &v1) {
        for (const std::string &x : cl) {
            std::stringstream ss(x);
            std::string k, a0, a1, extra;
            ss >> k >> a0 >> a1;
            if (k == name)
                return a0 == v0 && a1 == v1 && !(ss >> extra);
        }
        return false;
    };
    EXPECT_TRUE(has_row("n_embd", "16", "8")) << c.out;
    EXPECT_TRUE(has_row("n_head", "4", "2")) << c.out;
    EXPECT_TRUE(has_row("num_steps", "30", "20")) << c.out;
    EXPECT_TRUE(has_row("steps", "30", "20")) << c.out;
    EXPECT_FALSE(has_row("seed", "42", "42")) << "equal settings are not differences";
    EXPECT_NE(c.out.find("final loss"), std::string::npos);
    EXPECT_NE(c.out.find("tok/s"), std::string::npos);
    std::string svg = read_text(chart);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

// A run records its tokenizer: kind, vocabulary size, the --tokenizer file and the XXH3-64
// of its bytes. compare goes over every run's settings, so those the char run lacks show
// as missing (the char run is listed first).
TEST_F(Runs, ShowAndCompareNameTheTokenizer)
{
    std::string a = path("archive"), text;
    for (int i = 0; i < 200; i++)
        text += "the cat sat on the mat and the dog ran off " + std::to_string(i % 7) + "\n";
    FILE *f = fopen(path("book.txt").c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(text.c_str(), f);
    fclose(f);
    // in dir, so that the files are named by short relative paths
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    std::string prog = exe[0] == '/' ? exe : std::string(cwd) + "/" + exe;
    auto in_dir = [&](const std::string &args) {
        Result r;
        r.status = run_shell("cd '" + dir + "' && MGPT_ARCHIVE_DIR='" + a + "' '" + prog + "' " +
                                 args + " 2>stderr.txt", &r.out);
        r.err = read_text(path("stderr.txt"));
        return r;
    };
    Result r = in_dir("tokenizer train --vocab-size 280 --data book.txt -o book.tok");
    ASSERT_EQ(r.status, 0) << r.err;
    std::string tok = read_text(path("book.tok"));
    ASSERT_EQ(tok.rfind("mgpt-bpe 1\nvocab_size ", 0), 0u) << tok;
    std::string vocab = tok.substr(22, tok.find('\n', 22) - 22);
    char digest[17];
    snprintf(digest, sizeof digest, "%016llx",
             (unsigned long long)XXH3_64bits(tok.data(), tok.size()));

    const std::string common = " --data book.txt --num-steps 5 --num-samples 0";
    ASSERT_EQ(in_dir("train" + common).status, 0);
    r = in_dir("train --tokenizer book.tok" + common);
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> ids = runs_in(a);
    ASSERT_EQ(ids.size(), 2u);

    Result s = mgpt("runs show " + ids[1], a);
    ASSERT_EQ(s.status, 0) << s.err;
    EXPECT_NE(s.out.find("  tokenizer              bpe\n"), std::string::npos) << s.out;
    EXPECT_NE(s.out.find("  tokenizer_file         book.tok\n"), std::string::npos) << s.out;
    EXPECT_NE(s.out.find("  tokenizer_xxh3         " + std::string(digest) + "\n"),
              std::string::npos) << s.out;
    EXPECT_NE(s.out.find("  vocab_size             " + vocab + "\n"), std::string::npos)
        << s.out;
    s = mgpt("runs show " + ids[0], a);
    ASSERT_EQ(s.status, 0) << s.err;
    EXPECT_NE(s.out.find("  tokenizer              char\n"), std::string::npos) << s.out;
    EXPECT_EQ(s.out.find("tokenizer_file"), std::string::npos) << s.out;

    Result c = mgpt("runs compare " + ids[0] + " " + ids[1], a);
    ASSERT_EQ(c.status, 0) << c.err;
    auto row = [&](const std::string &name) {
        for (const std::string &x : lines(c.out)) {
            std::stringstream ss(x);
            std::string k, rest;
            ss >> k;
            if (k == name) {
                std::getline(ss, rest);
                std::stringstream cells(rest);
                std::string v0, v1;
                cells >> v0 >> v1;
                return v0 + " " + v1;
            }
        }
        return std::string("(no row)");
    };
    EXPECT_EQ(row("tokenizer"), "char bpe") << c.out;
    EXPECT_EQ(row("tokenizer_file"), "missing book.tok") << c.out;
    EXPECT_EQ(row("tokenizer_xxh3"), "missing " + std::string(digest)) << c.out;
    EXPECT_EQ(row("vocab_size").substr(row("vocab_size").find(' ') + 1), vocab) << c.out;
    EXPECT_EQ(row("seed"), "(no row)") << "equal settings are not differences";
}

TEST_F(Runs, UnknownAndAmbiguousIdsAreUsageErrors)
{
    std::string a = path("archive");
    Result r = mgpt("runs show 1999", a);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("no run '1999'"), std::string::npos) << r.err;
    ASSERT_EQ(mgpt(std::string(TRAIN), a).status, 0);
    ASSERT_EQ(mgpt(std::string(TRAIN), a).status, 0);
    r = mgpt("runs compare 2 2", a);     // every ID starts with the year
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("ambiguous: 2 runs start with it"), std::string::npos) << r.err;
    r = mgpt("runs compare " + runs_in(a)[0], a);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("two or more run IDs"), std::string::npos) << r.err;
    r = mgpt("runs frob", a);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("unknown subcommand 'frob'"), std::string::npos) << r.err;
}

}  // namespace

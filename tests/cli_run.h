// What the tests that run mgpt as a user would share: the program under test (MGPT_EXE,
// else the test is skipped), a scratch folder per test removed afterwards, and runners
// that capture the exit status, standard output and standard error.
#ifndef MGPT_TEST_CLI_RUN_H
#define MGPT_TEST_CLI_RUN_H

#include <gtest/gtest.h>

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mgpt_test {

struct Result {
    int status = -1;  // exit status, or 128 + signal
    std::string out, err;
};

inline std::string read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline void write_file(const std::string &path, const std::string &text)
{
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
}

inline int remove_entry(const char *path, const struct stat *, int, struct FTW *)
{
    return remove(path);
}

// Runs argv (argv[0] a path) in dir, standard input from `input` ("" : /dev/null). env
// entries "NAME=value" set a variable, "NAME" alone unsets it; alarm_s > 0 ends a run
// that blocks with SIGALRM (an alarm survives execv).
inline Result run_argv(const std::string &dir, const std::vector<std::string> &args,
                       const std::vector<std::string> &env = {}, const std::string &input = "",
                       unsigned alarm_s = 0)
{
    std::string out_path = dir + "/.stdout", err_path = dir + "/.stderr";
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open(input.empty() ? "/dev/null" : input.c_str(), O_RDONLY);
        if (o < 0 || e < 0 || in < 0 || chdir(dir.c_str()) != 0)
            _exit(127);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        if (alarm_s)
            alarm(alarm_s);
        for (const std::string &kv : env) {
            size_t eq = kv.find('=');
            if (eq == std::string::npos)
                unsetenv(kv.c_str());
            else
                setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
        }
        std::vector<char *> argv;
        for (const std::string &a : args)
            argv.push_back(const_cast<char *>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    Result r;
    int st = 0;
    if (pid > 0 && waitpid(pid, &st, 0) == pid)
        r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = read_file(out_path);
    r.err = read_file(err_path);
    return r;
}

// A test of mgpt as a program: exe is MGPT_EXE, dir a fresh folder named after `prefix`
// (set it in the derived fixture's constructor) in MGPT_TEST_TMPDIR, else /tmp.
class CliTest : public ::testing::Test {
protected:
    std::string exe, dir, prefix = "cli";

    void SetUp() override
    {
        const char *e = getenv("MGPT_EXE");
        if (!e || !*e)
            GTEST_SKIP() << "MGPT_EXE is not set (run through make check)";
        exe = e;
        const char *base = getenv("MGPT_TEST_TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        ASSERT_NE(mkdtemp(buf.data()), nullptr) << "mkdtemp " << tmpl << ": " << strerror(errno);
        dir = buf.data();
    }

    void TearDown() override
    {
        if (!dir.empty())
            nftw(dir.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }

    std::string path(const std::string &name) const { return dir + "/" + name; }
    void write(const std::string &name, const std::string &text) { write_file(path(name), text); }

    // mgpt with args given as shell words (no quoting: the tests' words need none).
    Result run_words(const std::string &args)
    {
        return run_argv(dir, {"/bin/sh", "-c", "exec '" + exe + "' " + args});
    }
};

}  // namespace mgpt_test
#endif

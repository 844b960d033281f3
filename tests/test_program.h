// Helpers for the tests that run a built program (mgpt-bench, mgpt-roofline) as a user
// would: where the program and a scratch file are, and what the program printed with which
// exit status.
#ifndef MGPT_TEST_PROGRAM_H
#define MGPT_TEST_PROGRAM_H

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace mgpt_test {

// The program make check names in the environment variable `var`, else `fallback` (for a
// test binary run by hand from tests/).
inline std::string program_path(const char *var, const char *fallback)
{
    const char *e = getenv(var);
    return e && *e ? e : fallback;
}

// A scratch path of this test process, PREFIX_PID_NAME in MGPT_TEST_TMPDIR (else /tmp), so
// that parallel test programs do not share files.
inline std::string scratch_path(const std::string &prefix, const std::string &name)
{
    const char *d = getenv("MGPT_TEST_TMPDIR");
    return std::string(d && *d ? d : "/tmp") + "/" + prefix + "_" + std::to_string(getpid()) +
           "_" + name;
}

// Everything left to read from f.
inline std::string read_all(FILE *f)
{
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        s.append(buf, n);
    return s;
}

// The contents of a file ("" if it cannot be read).
inline std::string read_text(const std::string &path)
{
    FILE *f = fopen(path.c_str(), "r");
    if (!f)
        return "";
    std::string s = read_all(f);
    fclose(f);
    return s;
}

// Runs a shell command line; its exit status (-1 if it did not exit, or did not start) and,
// in *out, its standard output.
inline int run_shell(const std::string &cmd, std::string *out)
{
    FILE *p = popen(cmd.c_str(), "r");
    if (!p)
        return -1;
    *out = read_all(p);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace mgpt_test

#endif

// The backend loader: bad modules are skipped with a warning naming the file and the reason
// (ABI versions 1, 2 and 3, read as majors by a 4.x loader; a future major; no entry
// symbol; a wrong name), a failing init makes automatic choice fall back; modules built for
// an older minor (a table 3 slots short: the last 3 slots run the reference, never read from
// the module) and a newer one (2 slots more, and a longer descriptor: unread) load and run;
// the SDK template is a partial backend; a reduced-precision module is never chosen
// automatically, whatever its priority; CPU feature masking drives the dispatch chain
// avx512 -> avx2 -> sse -> scalar; forcing is checked like automatic choice; and `mgpt
// backends --verbose` says which slots of a module run the reference. And hostile modules
// (issue 11): 300 in one folder and 40 folders (no fixed caps), a bad name pointer, an init
// error without a NUL, a FIFO, a junk module named like a valid one, unknown feature bits,
// constructors that crash, exit or hang (each module is checked in a child process first),
// a table size that lies, a name in two folders; and the fallback without the helper.
#include <gtest/gtest.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

extern "C" {
#include "engine/compute.h"
#include "platform/cpu.h"
#include "data/dataset.h"
#include "engine/engine.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "engine/registry.h"
}
#include "test_compute.h"
#include "test_program.h"

namespace {

std::string env(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "";
}

std::string fixtures_and_backends()
{
    return env("MGPT_FIXTURE_DIR") + ":" + env("MGPT_PLUGIN_PATH");
}

// The reduced-precision module built beside the tests (tests/lowprec_module.cc), then the
// backends.
std::string lowprec_and_backends()
{
    return env("MGPT_TEST_MODULE_DIR") + ":" + env("MGPT_PLUGIN_PATH");
}

const mgpt_backend_entry *entry(const mgpt_registry &r, const char *name)
{
    for (int i = 0; i < r.n; i++)
        if (strcmp(r.entries[i].name, name) == 0)
            return &r.entries[i];
    return nullptr;
}

mgpt_backend_env default_env(const mgpt_registry &r)
{
    mgpt_backend_env e{};
    e.abi_major = MGPT_BACKEND_ABI_MAJOR;
    e.abi_minor = MGPT_BACKEND_ABI_MINOR;
    e.num_threads = 1;
    e.cpu_features = r.cpu_features;
    return e;
}

std::string read_all(FILE *f)
{
    std::string s;
    rewind(f);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        s.append(buf, n);
    return s;
}

class Loader : public ::testing::Test {
protected:
    void SetUp() override { unsetenv("MGPT_CPU_DISABLE"); unsetenv("MGPT_BACKEND"); }
    void TearDown() override { unsetenv("MGPT_CPU_DISABLE"); unsetenv("MGPT_BACKEND"); }
};

TEST_F(Loader, BadModulesAreSkippedWithFileAndReason)
{
    mgpt_registry r;
    char err[512];
    FILE *warn = tmpfile();
    ASSERT_NE(warn, nullptr);
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), warn, err, sizeof err), 0);
    std::string warnings = read_all(warn);
    fclose(warn);

    // Modules built for ABI versions 1, 2 and 3 (their own layouts: a shorter table; backward
    // kernels without the write argument; no context, matmul_backward as one slot): the
    // first 32 bits of their descriptors, abi_version, read as the major here. And a module
    // of a future major (5) in today's layout: its rules may differ in any way.
    const std::string speaks = "but this mgpt speaks " + std::to_string(MGPT_BACKEND_ABI_MAJOR);
    const struct {
        const char *name;
        int major;
    } old[] = {{"badabi", 1}, {"badabi2", 2}, {"abi3", 3}, {"newmajor", 5}};
    for (auto o : old) {
        const mgpt_backend_entry *bad = entry(r, o.name);
        ASSERT_NE(bad, nullptr) << o.name << " not found in " << r.searched;
        EXPECT_EQ(bad->status, MGPT_BE_REJECTED) << o.name;
        EXPECT_EQ(bad->desc, nullptr) << o.name;
        std::string reason = bad->reason;
        EXPECT_NE(reason.find("major version " + std::to_string(o.major)), std::string::npos)
            << o.name << ": " << reason;
        EXPECT_NE(reason.find(speaks), std::string::npos) << o.name << ": " << reason;
    }

    const mgpt_backend_entry *nosym = entry(r, "nosym");
    ASSERT_NE(nosym, nullptr);
    EXPECT_EQ(nosym->status, MGPT_BE_REJECTED);
    EXPECT_NE(std::string(nosym->reason).find("mgpt_backend_nosym"), std::string::npos);

    const mgpt_backend_entry *mis = entry(r, "misnamed");
    ASSERT_NE(mis, nullptr);
    EXPECT_EQ(mis->status, MGPT_BE_REJECTED);
    EXPECT_NE(std::string(mis->reason).find("somebodyelse"), std::string::npos);

    // one warning per bad module, each naming its file and its reason
    for (const char *name : {"badabi", "badabi2", "abi3", "newmajor", "nosym", "misnamed"}) {
        std::string file = std::string("mgpt_") + name + ".so";
        size_t at = warnings.find(file);
        ASSERT_NE(at, std::string::npos) << "no warning names " << file << ":\n" << warnings;
        std::string line = warnings.substr(at, warnings.find('\n', at) - at);
        EXPECT_NE(line.find(entry(r, name)->reason), std::string::npos) << line;
    }
    // the good modules load, the fixtures of other minors among them
    for (const char *name : {"scalar", "shorttable", "newminor", "instance", "template"}) {
        const mgpt_backend_entry *good = entry(r, name);
        ASSERT_NE(good, nullptr) << name;
        EXPECT_EQ(good->status, MGPT_BE_RUNNABLE) << name << ": " << good->reason;
        EXPECT_EQ(warnings.find(std::string("mgpt_") + name + ".so"), std::string::npos)
            << name << " was warned about:\n" << warnings;
    }
    mgpt_registry_free(&r);
}

TEST_F(Loader, FailingInitIsSkippedWithWarningInAutomaticChoice)
{
    // one warning channel: the init failure is reported on the registry's stream, like the
    // rejected modules, and nothing goes to stderr directly
    mgpt_registry r;
    char err[512];
    FILE *warn = tmpfile();
    ASSERT_NE(warn, nullptr);
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), warn, err, sizeof err), 0);
    long loaded = ftell(warn);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    testing::internal::CaptureStderr();
    int rc = mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    std::string warnings = read_all(warn).substr((size_t)loaded);
    fclose(warn);
    ASSERT_EQ(rc, 0) << err;
    // failinit has the highest priority; the choice falls back to the best of the others
    EXPECT_EQ(mgpt_registry_best(&r), entry(r, "failinit"));
    const mgpt_backend_entry *next = nullptr;
    for (int i = 0; i < r.n; i++) {
        const mgpt_backend_entry *c = &r.entries[i];
        if (c->status == MGPT_BE_RUNNABLE && c->desc->precision == MGPT_PRECISION_FP32 &&
            strcmp(c->name, "failinit") != 0 &&
            (!next || c->desc->priority > next->desc->priority))
            next = c;
    }
    ASSERT_NE(next, nullptr);
    EXPECT_STREQ(be.entry->name, next->name);
    EXPECT_NE(warnings.find("mgpt_failinit.so"), std::string::npos) << warnings;
    EXPECT_NE(warnings.find("no accelerator attached"), std::string::npos) << warnings;
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

TEST_F(Loader, ForcedFailingInitIsAnError)
{
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    EXPECT_EQ(mgpt_backend_open(&r, "failinit", &e, &be, err, sizeof err), 1);
    EXPECT_NE(std::string(err).find("no accelerator attached"), std::string::npos) << err;
    mgpt_registry_free(&r);
}

TEST_F(Loader, TemplateIsAPartialBackendFilledFromTheReference)
{
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    ASSERT_EQ(mgpt_backend_open(&r, "template", &e, &be, err, sizeof err), 0) << err;
    EXPECT_EQ(be.entry->n_slots, MGPT_KERNEL_COUNT);
    EXPECT_EQ(be.instance, nullptr);   // stateless: no init
    EXPECT_EQ(be.ctx.instance, nullptr);
    for (int i = 0; i < mgpt_kernel_count(); i++) {
        std::string name = mgpt_kernel_name(i);
        bool native = name == "sqrelu_forward" || name == "sqrelu_backward" ||
                      name == "add_forward" || name == "accumulate" || name == "zero";
        EXPECT_EQ((be.native >> i) & 1u, native ? 1u : 0u) << name;
        ASSERT_NE(mgpt_kernel_get(&be.k, i), nullptr) << name;
        if (!native) {
            EXPECT_EQ(mgpt_kernel_get(&be.k, i), mgpt_kernel_get(&mgpt_reference_kernels, i))
                << name;
        } else {
            EXPECT_EQ(mgpt_kernel_get(&be.k, i), mgpt_kernel_get(be.entry->desc->kernels, i))
                << name;
        }
    }
    // and it computes: the template's squared ReLU
    float x[3] = {-1.0f, 0.5f, 2.0f}, y[3];
    be.k.sqrelu_forward(&be.ctx, y, x, 3);
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_EQ(y[1], 0.25f);
    EXPECT_EQ(y[2], 4.0f);
    be.k.zero(&be.ctx, y, 2);
    EXPECT_EQ(y[0], 0.0f);
    EXPECT_EQ(y[1], 0.0f);
    EXPECT_EQ(y[2], 4.0f);
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

// ---------------------------------------------------------------------------------------
// Hostile modules: the loader survives each, says why it skipped it (file and reason), never
// crashes, never hangs, never chooses it. The modules are copied into folders of the test's
// own (tests/fixtures builds them under names that are not module names).

// A folder of its own, removed with everything in it.
class TempDir {
public:
    TempDir()
    {
        std::string base = env("MGPT_TEST_TMPDIR");
        path_ = (base.empty() ? std::string("/tmp") : base) + "/tmp-loader-XXXXXX";
        if (!mkdtemp(&path_[0]))
            path_.clear();
    }
    ~TempDir()
    {
        if (path_.empty())
            return;
        if (DIR *d = opendir(path_.c_str())) {
            while (struct dirent *de = readdir(d)) {
                std::string f = path_ + "/" + de->d_name;
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
                    unlink(f.c_str()) != 0)
                    rmdir(f.c_str());
            }
            closedir(d);
        }
        rmdir(path_.c_str());
    }
    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// Copies fixtures/.libs/<fixture>.so to dir/mgpt_<name>.so.
bool copy_fixture(const TempDir &dir, const std::string &fixture, const std::string &name)
{
    std::string from = env("MGPT_FIXTURE_DIR") + "/" + fixture + ".so";
    std::string data = mgpt_test::read_text(from);
    if (data.empty())
        return false;
    FILE *f = fopen(dir.file("mgpt_" + name + ".so").c_str(), "wb");
    if (!f)
        return false;
    bool ok = fwrite(data.data(), 1, data.size(), f) == data.size();
    return fclose(f) == 0 && ok;
}

bool write_junk(const std::string &path, size_t bytes)
{
    FILE *f = fopen(path.c_str(), "wb");
    if (!f)
        return false;
    for (size_t i = 0; i < bytes; i++)
        fputc((int)((i * 131 + 7) & 0xff), f);
    return fclose(f) == 0;
}

using mgpt_test::ScopedEnv;

// Loads `path` with a warning stream; the warnings in *warnings.
int load_warned(mgpt_registry *r, const std::string &path, std::string *warnings)
{
    char err[512];
    FILE *warn = tmpfile();
    if (!warn)
        return -1;
    int n = mgpt_registry_load(r, path.c_str(), warn, err, sizeof err);
    *warnings = read_all(warn);
    fclose(warn);
    r->warn = nullptr; // the registry keeps its stream for later warnings: this one is gone
    return n;
}

int count(const std::string &text, const std::string &what)
{
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        n++;
    return n;
}

// The one module of `dir` (mgpt_<name>.so) is rejected with a reason holding each of
// `parts`, by the check process and in this process (MGPT_PROBE_MODULE="") alike, and the
// warning names its file.
void expect_rejected_both_ways(const TempDir &dir, const std::string &name,
                               const std::vector<std::string> &parts)
{
    for (const char *helper : {"default", ""}) {
        std::unique_ptr<ScopedEnv> in_process;
        if (!*helper)
            in_process.reset(new ScopedEnv("MGPT_PROBE_MODULE", ""));
        mgpt_registry r;
        std::string warnings;
        ASSERT_EQ(load_warned(&r, dir.path(), &warnings), 1);
        EXPECT_EQ(r.entries[0].status, MGPT_BE_REJECTED);
        for (const std::string &part : parts)
            EXPECT_NE(std::string(r.entries[0].reason).find(part), std::string::npos)
                << r.entries[0].reason;
        EXPECT_NE(warnings.find(dir.file("mgpt_" + name + ".so") + ": "), std::string::npos)
            << warnings;
        mgpt_registry_free(&r);
    }
}

double seconds_since(const struct timespec &t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9;
}

// `mgpt ARGS` with MGPT_PLUGIN_PATH set to path (and `extra` environment assignments); its
// exit status, stdout and stderr in *out.
int run_mgpt(const std::string &path, const std::string &args, std::string *out,
             const std::string &extra = "")
{
    return mgpt_test::run_shell(extra + " MGPT_PLUGIN_PATH='" + path + "' '" +
                                    env("MGPT_EXE") + "' " + args + " 2>&1",
                                out);
}

// Issue 11 (1, 2): more modules than any fixed cap (there were 256 candidates for automatic
// choice and 256 files a folder; 300 junk modules overflowed the first and hid the good
// modules behind them): every one is reported, and automatic choice still reaches the
// modules behind them, falling back past a failing init.
TEST_F(Loader, ThreeHundredModulesInOneFolderAreAllConsidered)
{
    TempDir junk;
    ASSERT_FALSE(junk.path().empty());
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "mgpt_junk%03d.so", i);
        ASSERT_TRUE(write_junk(junk.file(name), 64 + (size_t)i));
    }
    mgpt_registry r;
    std::string warnings;
    ASSERT_GE(load_warned(&r, junk.path() + ":" + fixtures_and_backends(), &warnings), 300);
    int seen = 0;
    for (int i = 0; i < r.n; i++)
        if (strncmp(r.entries[i].name, "junk", 4) == 0) {
            seen++;
            EXPECT_EQ(r.entries[i].status, MGPT_BE_REJECTED);
            EXPECT_NE(std::string(r.entries[i].reason).find("not an ELF shared object"),
                      std::string::npos) << r.entries[i].reason;
        }
    EXPECT_EQ(seen, 300);
    EXPECT_EQ(count(warnings, "/mgpt_junk"), 300);
    EXPECT_NE(warnings.find("mgpt_junk299.so: not an ELF shared object"), std::string::npos);
    // failinit, the best, comes after the 300: it fails, and the next best opens
    ASSERT_NE(entry(r, "failinit"), nullptr);
    EXPECT_GT(entry(r, "failinit") - r.entries, 300);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    char err[512];
    ASSERT_EQ(mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err), 0) << err;
    EXPECT_STRNE(be.entry->name, "failinit");
    EXPECT_EQ(be.entry->status, MGPT_BE_RUNNABLE);
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

// More folders than the 32 the loader remembered: each is scanned once, a repeated one
// (under another spelling) not again.
TEST_F(Loader, FortyFoldersAreEachScannedOnce)
{
    std::vector<TempDir> dirs(40);
    std::string path;
    for (size_t i = 0; i < dirs.size(); i++) {
        ASSERT_TRUE(write_junk(dirs[i].file("mgpt_d" + std::to_string(i) + ".so"), 10));
        path += dirs[i].path() + ":";
    }
    path += dirs.back().path() + "/.:" + dirs.front().path();
    mgpt_registry r;
    std::string warnings;
    EXPECT_EQ(load_warned(&r, path, &warnings), 40) << warnings;
    mgpt_registry_free(&r);
}

// Issue 11 (3): a name pointer to unmapped memory crashed `mgpt backends` in strcmp. It is a
// reason now, in the check process and in this one alike.
TEST_F(Loader, DescriptorWithABadNamePointerIsRejected)
{
    TempDir dir;
    ASSERT_TRUE(copy_fixture(dir, "name_pointer", "badptr"));
    expect_rejected_both_ways(dir, "badptr", {"name is not a readable string"});
    std::string out;
    EXPECT_EQ(run_mgpt(dir.path() + ":" + env("MGPT_PLUGIN_PATH"), "backends", &out), 0) << out;
    EXPECT_NE(out.find("rejected: descriptor's name is not a readable string"),
              std::string::npos) << out;
}

// Issue 11 (4): an init that fills its error buffer without a NUL; the message is cut at
// the buffer, never read past it (AddressSanitizer would say so).
TEST_F(Loader, InitErrorWithoutANulIsTerminated)
{
    TempDir dir;
    ASSERT_TRUE(copy_fixture(dir, "init_no_nul", "nonul"));
    mgpt_registry r;
    std::string warnings;
    ASSERT_GE(load_warned(&r, dir.path() + ":" + env("MGPT_PLUGIN_PATH"), &warnings), 2);
    ASSERT_NE(mgpt_registry_find(&r, "nonul"), nullptr) << warnings;
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    char err[1024];
    EXPECT_EQ(mgpt_backend_open(&r, "nonul", &e, &be, err, sizeof err), 1);
    std::string msg = err;
    EXPECT_NE(msg.find("failed to initialise: xxxxxxxx"), std::string::npos) << msg;
    EXPECT_LT(msg.size(), 512u) << msg;
    // automatic choice: nonul is the best, fails, is warned about and skipped
    FILE *warn = tmpfile();
    ASSERT_NE(warn, nullptr);
    r.warn = warn;
    ASSERT_EQ(mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err), 0) << err;
    EXPECT_STRNE(be.entry->name, "nonul");
    std::string w = read_all(warn);
    EXPECT_NE(w.find(dir.file("mgpt_nonul.so")), std::string::npos) << w;
    fclose(warn);
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

// Issue 11 (5): a FIFO named like a module blocked the scan forever (dlopen waits for a
// writer). Only regular files (symbolic links followed) are loaded; the others are reported.
TEST_F(Loader, OnlyRegularFilesAreLoaded)
{
    TempDir dir;
    ASSERT_EQ(mkfifo(dir.file("mgpt_fifo.so").c_str(), 0600), 0);
    ASSERT_EQ(symlink(dir.file("mgpt_fifo.so").c_str(), dir.file("mgpt_tofifo.so").c_str()), 0);
    ASSERT_EQ(mkdir(dir.file("mgpt_folder.so").c_str(), 0700), 0);
    std::string template_so = env("MGPT_FIXTURE_DIR") + "/mgpt_template.so";
    ASSERT_EQ(symlink(template_so.c_str(), dir.file("mgpt_template.so").c_str()), 0);
    alarm(60); // a hang is a failure, not a stuck test run
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mgpt_registry r;
    std::string warnings;
    ASSERT_EQ(load_warned(&r, dir.path(), &warnings), 4);
    alarm(0);
    EXPECT_LT(seconds_since(t0), 5.0);
    const struct { const char *name, *why; } bad[] = {
        {"fifo", "not a regular file (a FIFO)"},
        {"tofifo", "not a regular file (a FIFO)"},
        {"folder", "not a regular file (a directory)"}};
    for (auto b : bad) {
        const mgpt_backend_entry *e = entry(r, b.name);
        ASSERT_NE(e, nullptr) << b.name;
        EXPECT_EQ(e->status, MGPT_BE_REJECTED) << b.name;
        EXPECT_STREQ(e->reason, b.why) << b.name;
        EXPECT_NE(warnings.find(std::string(e->path) + ": " + b.why), std::string::npos)
            << warnings;
    }
    ASSERT_NE(entry(r, "template"), nullptr);
    EXPECT_EQ(entry(r, "template")->status, MGPT_BE_RUNNABLE) << entry(r, "template")->reason;
    mgpt_registry_free(&r);
}

// Issue 11 (6): a junk mgpt_scalar.so early on the path shadowed the good one, and
// --backend=scalar said "unknown backend". A rejected module shadows nothing (and is still
// reported).
TEST_F(Loader, RejectedModuleDoesNotShadowAValidOne)
{
    TempDir dir;
    ASSERT_TRUE(write_junk(dir.file("mgpt_scalar.so"), 4096));
    std::string path = dir.path() + ":" + env("MGPT_PLUGIN_PATH");
    mgpt_registry r;
    std::string warnings;
    ASSERT_GE(load_warned(&r, path, &warnings), 2);
    EXPECT_EQ(r.entries[0].status, MGPT_BE_REJECTED);
    EXPECT_NE(warnings.find(dir.file("mgpt_scalar.so") + ": not an ELF"), std::string::npos)
        << warnings;
    const mgpt_backend_entry *s = mgpt_registry_find(&r, "scalar");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->status, MGPT_BE_RUNNABLE);
    EXPECT_NE(std::string(s->path).find("backends/scalar"), std::string::npos) << s->path;
    mgpt_registry_free(&r);
    std::string out;
    ASSERT_EQ(run_mgpt(path, "--backend=scalar backends", &out), 0) << out;
    EXPECT_NE(out.find("selected: scalar (forced by --backend)"), std::string::npos) << out;
}

// Issue 11 (7): a required feature bit without a name printed as "needs " and nothing.
TEST_F(Loader, UnknownFeatureBitsAreNamed)
{
    char names[256];
    mgpt_cpu_feature_names(MGPT_CPU_AVX2 | 0x80000000u, names, sizeof names);
    EXPECT_STREQ(names, "avx2 unknown feature bits 0x80000000");
    TempDir dir;
    ASSERT_TRUE(copy_fixture(dir, "future_feature", "future"));
    std::string path = dir.path() + ":" + env("MGPT_PLUGIN_PATH");
    mgpt_registry r;
    std::string warnings;
    ASSERT_GE(load_warned(&r, path, &warnings), 2);
    const mgpt_backend_entry *f = mgpt_registry_find(&r, "future");
    ASSERT_NE(f, nullptr) << warnings;
    EXPECT_EQ(f->status, MGPT_BE_NOT_RUNNABLE);
    EXPECT_EQ(f->missing, 0x80000000u);
    const mgpt_backend_entry *chosen;
    char err[512];
    EXPECT_EQ(mgpt_registry_select(&r, "future", &chosen, err, sizeof err), 2);
    EXPECT_NE(std::string(err).find("needs unknown feature bits 0x80000000"), std::string::npos)
        << err;
    mgpt_registry_free(&r);
    std::string out;
    ASSERT_EQ(run_mgpt(path, "backends", &out), 0) << out;
    EXPECT_NE(out.find("not runnable: needs unknown feature bits 0x80000000"), std::string::npos)
        << out;
}

// Issue 11 (8): a module's constructor runs at dlopen, before any check. Each module is
// loaded first in a check process of its own: a constructor that runs ud2, one that calls
// exit(7) and one that never returns each end or stall that process only, and are listed
// with the reason; the program goes on and chooses among the others.
TEST_F(Loader, ModulesThatCrashExitOrHangWhenLoadedAreReasons)
{
    TempDir dir;
    ASSERT_TRUE(copy_fixture(dir, "ctor_trap", "trap"));
    ASSERT_TRUE(copy_fixture(dir, "ctor_exit", "exit7"));
    ASSERT_TRUE(copy_fixture(dir, "ctor_hang", "hang"));
    ASSERT_TRUE(copy_fixture(dir, "mgpt_template", "template"));
    ScopedEnv timeout("MGPT_PROBE_TIMEOUT_MS", "400");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mgpt_registry r;
    std::string warnings;
    ASSERT_EQ(load_warned(&r, dir.path(), &warnings), 4);
    EXPECT_LT(seconds_since(t0), 3.0);
    EXPECT_NE(std::string(r.check).find("in child processes"), std::string::npos) << r.check;
    const struct { const char *name, *why; } bad[] = {
        {"trap", "crashed (SIGILL, Illegal instruction) while loading it"},
        {"exit7", "exited with status 7 while loading it"},
        {"hang", "its check did not finish within 0.4 s, while loading it"}};
    for (auto b : bad) {
        const mgpt_backend_entry *e = entry(r, b.name);
        ASSERT_NE(e, nullptr) << b.name;
        EXPECT_EQ(e->status, MGPT_BE_REJECTED) << b.name;
        EXPECT_NE(std::string(e->reason).find(b.why), std::string::npos) << e->reason;
        EXPECT_NE(warnings.find(std::string(e->path) + ": "), std::string::npos) << warnings;
    }
    EXPECT_NE(std::string(entry(r, "hang")->reason).find("killed"), std::string::npos);
    ASSERT_NE(mgpt_registry_find(&r, "template"), nullptr);
    EXPECT_EQ(mgpt_registry_find(&r, "template")->status, MGPT_BE_RUNNABLE);
    mgpt_registry_free(&r);
    // mgpt_registry_load_file goes through the same check
    ASSERT_EQ(mgpt_registry_load_file(&r, dir.file("mgpt_trap.so").c_str(), nullptr, nullptr, 0),
              1);
    EXPECT_EQ(r.entries[0].status, MGPT_BE_REJECTED);
    EXPECT_NE(std::string(r.entries[0].reason).find("SIGILL"), std::string::npos);
    mgpt_registry_free(&r);
    // and `mgpt backends` lists them and chooses
    std::string out;
    ASSERT_EQ(run_mgpt(dir.path() + ":" + env("MGPT_PLUGIN_PATH"), "backends", &out,
                       "MGPT_PROBE_TIMEOUT_MS=400"),
              0)
        << out;
    for (auto b : bad)
        EXPECT_NE(out.find(std::string("rejected: ") + b.why), std::string::npos) << out;
    EXPECT_NE(out.find("selected: "), std::string::npos) << out;
    EXPECT_EQ(out.find("selected: none"), std::string::npos) << out;
}

// Without the helper the loader checks in this process, with one warning saying so.
TEST_F(Loader, MissingCheckHelperFallsBackWithOneWarning)
{
    ScopedEnv helper("MGPT_PROBE_MODULE", "/nonexistent/mgpt-probe-module");
    mgpt_registry r;
    std::string warnings;
    ASSERT_GE(load_warned(&r, fixtures_and_backends(), &warnings), 0);
    EXPECT_EQ(count(warnings, "/nonexistent/mgpt-probe-module"), 1) << warnings;
    EXPECT_NE(warnings.find("checking backend modules in this process"), std::string::npos)
        << warnings;
    EXPECT_NE(std::string(r.check).find("in this process"), std::string::npos) << r.check;
    ASSERT_NE(mgpt_registry_find(&r, "scalar"), nullptr);
    ASSERT_NE(entry(r, "misnamed"), nullptr);
    EXPECT_EQ(entry(r, "misnamed")->status, MGPT_BE_REJECTED);
    mgpt_registry_free(&r);
}

// Issue 11 (9): a table size that lies (n_kernels = the whole list, 12 real slots, then a
// libc function and a string): the slot past the table is not code of the module.
TEST_F(Loader, TableSizeThatLiesIsRejected)
{
    TempDir dir;
    ASSERT_TRUE(copy_fixture(dir, "lying_table", "liar"));
    expect_rejected_both_ways(dir, "liar",
                              {"kernel table slot 12 of ", "is not code of this module"});
}

// Issue 11 (9): two valid modules of one name in two folders: the higher priority wins
// wherever it is; on a tie the earlier folder's; the other is listed as shadowed.
TEST_F(Loader, DuplicateNameHigherPriorityWinsTiesGoToTheEarlierFolder)
{
    TempDir a, b;
    ASSERT_TRUE(copy_fixture(a, "dup_low", "dup"));
    ASSERT_TRUE(copy_fixture(b, "dup_high", "dup"));
    mgpt_registry r;
    std::string warnings;
    ASSERT_EQ(load_warned(&r, a.path() + ":" + b.path(), &warnings), 2);
    EXPECT_EQ(warnings, "");
    const mgpt_backend_entry *dup = mgpt_registry_find(&r, "dup");
    ASSERT_NE(dup, nullptr);
    EXPECT_EQ(dup->path, b.file("mgpt_dup.so"));
    EXPECT_EQ(dup->desc->priority, 2);
    EXPECT_EQ(r.entries[0].status, MGPT_BE_SHADOWED);
    EXPECT_EQ(r.entries[0].desc, nullptr);
    EXPECT_NE(std::string(r.entries[0].reason).find("shadowed by " + b.file("mgpt_dup.so") +
                                                    ", of a higher priority"),
              std::string::npos) << r.entries[0].reason;
    mgpt_registry_free(&r);
    // a tie: the earlier folder's
    ASSERT_TRUE(copy_fixture(b, "dup_low", "dup"));
    ASSERT_EQ(load_warned(&r, a.path() + ":" + b.path(), &warnings), 2);
    dup = mgpt_registry_find(&r, "dup");
    ASSERT_NE(dup, nullptr);
    EXPECT_EQ(dup->path, a.file("mgpt_dup.so"));
    EXPECT_EQ(r.entries[1].status, MGPT_BE_SHADOWED);
    EXPECT_NE(std::string(r.entries[1].reason).find("of the same priority (1), found earlier"),
              std::string::npos) << r.entries[1].reason;
    mgpt_registry_free(&r);
}

// ---------------------------------------------------------------------------------------
// Other minors of ABI 4.

// Training steps of a small model (with clipping: sumsq and adam run) on compute c, the
// losses and the final parameters; a test failure if it cannot run.
std::vector<float> train_steps(const mgpt_compute *c, int steps)
{
    std::vector<float> out;
    mgpt_config cfg{};
    int B = 0;
    char err[512] = "";
    EXPECT_EQ(mgpt_config_parse_name("e32_L1_b8_B4", &cfg, &B, err, sizeof err), 0) << err;
    mgpt_model *m = mgpt_model_create(&cfg, B, c, err, sizeof err);
    EXPECT_NE(m, nullptr) << err;
    if (!m)
        return out;
    mgpt_model_init(m, 11);
    mgpt_optim o;
    mgpt_optim_defaults(&o);
    o.total_steps = steps;
    o.grad_clip = 0.5f;
    for (int s = 0; s < steps; s++) {
        mgpt_batch_random(m->tokens, m->targets, m->N, cfg.vocab_size, 100 + (uint64_t)s);
        m->targets[1] = -1;   // a masked row: crossentropy_backward's other path
        out.push_back(mgpt_model_forward(m));
        mgpt_model_backward(m);
        out.push_back(mgpt_adam_step(m, &o));
    }
    out.insert(out.end(), m->param_mem, m->param_mem + m->num_floats);
    mgpt_model_free(m);
    return out;
}

::testing::AssertionResult SameBits(const std::vector<float> &a, const std::vector<float> &b)
{
    if (a.empty() || a.size() != b.size())
        return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " floats";
    for (size_t i = 0; i < a.size(); i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            return ::testing::AssertionFailure() << "float " << i << ": " << a[i] << " vs "
                                                 << b[i];
    return ::testing::AssertionSuccess();
}

// The same steps on the reference kernels alone.
std::vector<float> reference_steps(int steps)
{
    static const mgpt_ctx ctx = {nullptr, 0};
    const mgpt_compute c = {&mgpt_reference_kernels, &ctx, nullptr};
    return train_steps(&c, steps);
}

TEST_F(Loader, OlderMinorWithAShorterTableLoadsAndItsMissingSlotsRunTheReference)
{
    // tests/fixtures/short_table.c: n_kernels = 15 (4.0 has 18 slots); its own kernels are
    // sqrelu_forward, add_forward and crossentropy_backward (the last slot its table
    // reaches), and the slots of its table object past n_kernels abort if called.
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), nullptr, err, sizeof err), 0);
    const mgpt_backend_entry *s = entry(r, "shorttable");
    ASSERT_NE(s, nullptr) << "no shorttable fixture in " << r.searched;
    ASSERT_EQ(s->status, MGPT_BE_RUNNABLE) << s->reason;
    ASSERT_NE(s->desc, nullptr);
    EXPECT_EQ(s->desc->abi_major, MGPT_BACKEND_ABI_MAJOR);
    const int short_slots = 15;   /* tests/fixtures/short_table.c's SHORT_KERNELS */
    EXPECT_EQ((int)s->desc->n_kernels, short_slots);
    EXPECT_EQ(s->n_slots, short_slots);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    ASSERT_EQ(mgpt_backend_open(&r, "shorttable", &e, &be, err, sizeof err), 0) << err;
    const std::set<int> own = {MGPT_K_SQRELU_FORWARD, MGPT_K_ADD_FORWARD,
                               MGPT_K_CROSSENTROPY_BACKWARD};
    for (int i = 0; i < MGPT_KERNEL_COUNT; i++) {
        bool native = own.count(i) > 0;
        EXPECT_EQ((be.native >> i) & 1u, native ? 1u : 0u) << mgpt_kernel_name(i);
        mgpt_any_fn want = native ? mgpt_kernel_get(s->desc->kernels, i)
                                  : mgpt_kernel_get(&mgpt_reference_kernels, i);
        EXPECT_EQ(mgpt_kernel_get(&be.k, i), want) << mgpt_kernel_name(i);
    }
    EXPECT_EQ(be.native >> short_slots, 0u) << "a slot past the module's table is 'native'";
    // the slots past its table, called: the reference's results, no abort
    float x[4] = {1, 2, 3, 4}, m[4] = {0, 0, 0, 0}, v[4] = {0, 0, 0, 0}, g[4] = {1, 1, 1, 1};
    EXPECT_EQ(be.k.sumsq(&be.ctx, x, 4), 30.0);
    mgpt_adam_args a = {0.1f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.05f, 1.0f};
    be.k.adam_update(&be.ctx, x, g, m, v, 4, &a);
    EXPECT_LT(x[0], 1.0f);
    be.k.zero(&be.ctx, x, 4);
    EXPECT_EQ(x[3], 0.0f);
    // and a training run on it (every slot called, its own among them) is the reference's
    const mgpt_compute c = {&be.k, &be.ctx, nullptr};
    EXPECT_TRUE(SameBits(train_steps(&c, 3), reference_steps(3)));
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

TEST_F(Loader, NewerMinorLoadsAndItsExtraSlotsAreNotRead)
{
    // tests/fixtures/new_minor.c: minor + 1, n_kernels = MGPT_KERNEL_COUNT + 2 (the two extra
    // slots abort if called), a descriptor 16 bytes longer; its own kernels are accumulate
    // and zero.
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, fixtures_and_backends().c_str(), nullptr, err, sizeof err), 0);
    const mgpt_backend_entry *n = entry(r, "newminor");
    ASSERT_NE(n, nullptr) << "no newminor fixture in " << r.searched;
    ASSERT_EQ(n->status, MGPT_BE_RUNNABLE) << n->reason;
    EXPECT_EQ(n->desc->abi_minor, MGPT_BACKEND_ABI_MINOR + 1);
    EXPECT_EQ(n->desc->n_kernels, (uint32_t)MGPT_KERNEL_COUNT + 2);
    EXPECT_GT(n->desc->desc_size, (uint32_t)sizeof(mgpt_backend_desc));
    EXPECT_EQ(n->n_slots, MGPT_KERNEL_COUNT);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    ASSERT_EQ(mgpt_backend_open(&r, "newminor", &e, &be, err, sizeof err), 0) << err;
    uint64_t want = ((uint64_t)1 << MGPT_K_ACCUMULATE) | ((uint64_t)1 << MGPT_K_ZERO);
    EXPECT_EQ(be.native, want);
    EXPECT_EQ(mgpt_kernel_get(&be.k, MGPT_K_ZERO), mgpt_kernel_get(n->desc->kernels, MGPT_K_ZERO));
    const mgpt_compute c = {&be.k, &be.ctx, nullptr};
    EXPECT_TRUE(SameBits(train_steps(&c, 3), reference_steps(3)));
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

// `mgpt backends --verbose`'s block for one module: each "label:" line's words (wrapped
// lines continue the label above).
std::map<std::string, std::vector<std::string>> backends_block(const std::string &out,
                                                               const std::string &name)
{
    std::map<std::string, std::vector<std::string>> block;
    std::istringstream in(out);
    std::string line, label;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ') {   // "  name"
            inside = line.substr(2) == name;
            continue;
        }
        if (!inside)
            continue;
        if (line.rfind("    ", 0) != 0) {   // the end of the module list
            inside = false;
            continue;
        }
        std::istringstream words(line);
        std::string w;
        size_t colon = line.find(':');
        if (line.size() > 4 && line[4] != ' ' && colon != std::string::npos &&
            line.find(' ', 4) > colon) {
            label = line.substr(4, colon - 4);
            words.str(line.substr(colon + 1));
        }
        while (words >> w)
            block[label].push_back(w);
    }
    return block;
}

TEST_F(Loader, BackendsVerboseShowsWhichSlotsRunTheReference)
{
    std::string exe = env("MGPT_EXE");
    if (exe.empty())
        GTEST_SKIP() << "MGPT_EXE is not set (run through make check)";
    std::string out;
    int st = mgpt_test::run_shell("MGPT_PLUGIN_PATH='" + fixtures_and_backends() + "' '" + exe +
                                      "' backends --verbose 2>/dev/null",
                                  &out);
    ASSERT_EQ(st, 0) << out;
    auto names = [](std::vector<int> slots) {
        std::set<std::string> s;
        for (int i : slots)
            s.insert(mgpt_kernel_name(i));
        return s;
    };
    auto as_set = [](const std::vector<std::string> &v) {
        return std::set<std::string>(v.begin(), v.end());
    };
    // the short table: its three kernels; every other slot, the three past its table among
    // them, from the reference; and how far its table reaches
    auto s = backends_block(out, "shorttable");
    ASSERT_FALSE(s.empty()) << "no shorttable block in:\n" << out;
    EXPECT_EQ(as_set(s["kernels"]), names({MGPT_K_SQRELU_FORWARD, MGPT_K_ADD_FORWARD,
                                           MGPT_K_CROSSENTROPY_BACKWARD}))
        << out;
    std::set<std::string> ref = as_set(s["reference"]);
    EXPECT_EQ(ref.size() + 3, (size_t)MGPT_KERNEL_COUNT) << out;
    for (const char *k : {"sumsq", "adam_update", "zero", "matmul_backward_dw"})
        EXPECT_TRUE(ref.count(k)) << k << " is not listed as the reference's:\n" << out;
    std::string table;
    for (const std::string &w : s["table"])
        table += w + " ";
    EXPECT_NE(table.find("15 slots"), std::string::npos)
        << table;
    // the newer minor: its two kernels, its extra slots unused
    auto n = backends_block(out, "newminor");
    ASSERT_FALSE(n.empty()) << "no newminor block in:\n" << out;
    EXPECT_EQ(as_set(n["kernels"]), names({MGPT_K_ACCUMULATE, MGPT_K_ZERO})) << out;
    EXPECT_EQ(n["reference"].size() + 2, (size_t)MGPT_KERNEL_COUNT) << out;
    table.clear();
    for (const std::string &w : n["table"])
        table += w + " ";
    EXPECT_NE(table.find("unused"), std::string::npos) << table;
    // a module with every slot of its own lists no reference line
    auto sc = backends_block(out, "scalar");
    ASSERT_FALSE(sc.empty()) << out;
    EXPECT_EQ(sc["kernels"].size(), (size_t)MGPT_KERNEL_COUNT) << out;
    EXPECT_EQ(sc.count("reference"), 0u) << out;
}

// ---------------------------------------------------------------------------------------
// Choice.

TEST_F(Loader, ReducedPrecisionIsNeverChosenAutomatically)
{
    // tests/lowprec_module.cc: precision bf16, priority 1000000, runnable on any x86-64.
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, lowprec_and_backends().c_str(), nullptr, err, sizeof err), 0);
    const mgpt_backend_entry *lp = mgpt_registry_find(&r, "lowprec");
    if (!lp)
        GTEST_SKIP() << "the lowprec test module is not in " << r.searched
                     << " (run through make check)";
    ASSERT_EQ(lp->status, MGPT_BE_RUNNABLE) << lp->reason;
    EXPECT_EQ(lp->desc->precision, (uint32_t)MGPT_PRECISION_BF16);
    for (int i = 0; i < r.n; i++)
        if (r.entries[i].desc && &r.entries[i] != lp) {
            EXPECT_GT(lp->desc->priority, r.entries[i].desc->priority) << r.entries[i].name;
        }
    const mgpt_backend_entry *best = mgpt_registry_best(&r);
    ASSERT_NE(best, nullptr);
    EXPECT_NE(best, lp);
    EXPECT_EQ(best->desc->precision, (uint32_t)MGPT_PRECISION_FP32);
    const mgpt_backend_entry *chosen = nullptr;
    ASSERT_EQ(mgpt_registry_select(&r, nullptr, &chosen, err, sizeof err), 0) << err;
    EXPECT_EQ(chosen, best);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    ASSERT_EQ(mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err), 0) << err;
    EXPECT_EQ(be.entry, best);
    mgpt_backend_close(&be);
    // by name it runs: forced, and through MGPT_BACKEND
    ASSERT_EQ(mgpt_backend_open(&r, "lowprec", &e, &be, err, sizeof err), 0) << err;
    EXPECT_EQ(be.entry, lp);
    mgpt_backend_close(&be);
    setenv("MGPT_BACKEND", "lowprec", 1);
    ASSERT_EQ(mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err), 0) << err;
    EXPECT_EQ(be.entry, lp);
    mgpt_backend_close(&be);
    unsetenv("MGPT_BACKEND");
    mgpt_registry_free(&r);
    // and an engine's automatic choice, and `mgpt backends`'s, are fp32 too
    mgpt_engine *eng = new mgpt_engine();
    mgpt_engine_opts o{};
    o.threads = 1;
    std::string path = lowprec_and_backends();
    o.plugin_path = path.c_str();
    ASSERT_EQ(mgpt_engine_open(eng, &o, err, sizeof err), MGPT_ENGINE_OK) << err;
    EXPECT_STRNE(eng->be.entry->name, "lowprec");
    EXPECT_EQ(eng->be.entry->desc->precision, (uint32_t)MGPT_PRECISION_FP32);
    mgpt_engine_close(eng);
    delete eng;
    std::string exe = env("MGPT_EXE"), out;
    if (!exe.empty()) {
        ASSERT_EQ(mgpt_test::run_shell("MGPT_PLUGIN_PATH='" + path + "' '" + exe +
                                           "' backends 2>/dev/null",
                                       &out),
                  0)
            << out;
        EXPECT_NE(out.find("  lowprec\n"), std::string::npos) << out;
        EXPECT_EQ(out.find("selected: lowprec"), std::string::npos) << out;
        EXPECT_NE(out.find("selected: "), std::string::npos) << out;
    }
}

TEST_F(Loader, EmptyPluginDirectoryIsAClearError)
{
    char dir[] = "/tmp/mgpt-empty-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    mgpt_registry r;
    char err[512];
    EXPECT_EQ(mgpt_registry_load(&r, dir, nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    EXPECT_EQ(mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err), 1);
    EXPECT_NE(std::string(err).find(dir), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("MGPT_PLUGIN_PATH"), std::string::npos) << err;
    mgpt_registry_free(&r);
    rmdir(dir);
}

TEST_F(Loader, UnknownBackendListsTheAvailableOnes)
{
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    EXPECT_EQ(mgpt_backend_open(&r, "nosuch", &e, &be, err, sizeof err), 2);
    EXPECT_NE(std::string(err).find("nosuch"), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("scalar"), std::string::npos) << err;
    mgpt_registry_free(&r);
}

TEST_F(Loader, MgptBackendEnvironmentForcesLikeTheOption)
{
    setenv("MGPT_BACKEND", "scalar", 1);
    mgpt_registry r;
    char err[512];
    ASSERT_GE(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), 0);
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    ASSERT_EQ(mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err), 0) << err;
    EXPECT_STREQ(be.entry->name, "scalar");
    unsetenv("MGPT_BACKEND");
    mgpt_backend_close(&be);
    mgpt_registry_free(&r);
}

// The chain on this machine as features are masked one ISA at a time. A step whose
// hardware features are absent (a CPU without AVX-512, say) is skipped and says so.
TEST_F(Loader, MaskingFeaturesWalksAvx512Avx2SseScalar)
{
    mgpt_cpu_info cpu;
    char err[512];
    ASSERT_EQ(mgpt_cpu_detect(&cpu, err, sizeof err), 0) << err;
    struct Step { const char *mask; const char *expect; uint32_t needs; };
    const Step chain[] = {
        {"", "avx512",
         MGPT_CPU_AVX512F | MGPT_CPU_AVX512BW | MGPT_CPU_AVX512VL | MGPT_CPU_AVX512DQ},
        {"avx512f", "avx2", MGPT_CPU_AVX2 | MGPT_CPU_FMA},
        {"avx512f,avx2", "sse", MGPT_CPU_SSE42},
        {"avx512f,avx2,sse4.1", "scalar", 0},
    };
    int skipped = 0;
    for (const Step &s : chain) {
        if ((cpu.hw_features & s.needs) != s.needs) {
            printf("[  SKIPPED ] step '%s' -> %s: this CPU lacks the features\n", s.mask, s.expect);
            skipped++;
            continue;
        }
        setenv("MGPT_CPU_DISABLE", s.mask, 1);
        mgpt_registry r;
        ASSERT_GE(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), 0) << err;
        if (!mgpt_registry_find(&r, s.expect)) {
            printf("[  SKIPPED ] backend %s was not built\n", s.expect);
            mgpt_registry_free(&r);
            skipped++;
            continue;
        }
        const mgpt_backend_entry *best = mgpt_registry_best(&r);
        ASSERT_NE(best, nullptr);
        EXPECT_STREQ(best->name, s.expect) << "MGPT_CPU_DISABLE=" << s.mask;
        // and opening without a name takes it
        mgpt_backend_env e = default_env(r);
        mgpt_backend be;
        ASSERT_EQ(mgpt_backend_open(&r, nullptr, &e, &be, err, sizeof err), 0) << err;
        EXPECT_STREQ(be.entry->name, s.expect) << "MGPT_CPU_DISABLE=" << s.mask;
        mgpt_backend_close(&be);
        mgpt_registry_free(&r);
    }
    if (skipped == 4)
        GTEST_SKIP() << "no step of the chain can run on this CPU";
}

TEST_F(Loader, MaskedOffBackendCannotBeForced)
{
    mgpt_cpu_info cpu;
    char err[512];
    ASSERT_EQ(mgpt_cpu_detect(&cpu, err, sizeof err), 0);
    setenv("MGPT_CPU_DISABLE", "avx2", 1);
    mgpt_registry r;
    ASSERT_GE(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), 0);
    if (!mgpt_registry_find(&r, "avx2")) {
        mgpt_registry_free(&r);
        GTEST_SKIP() << "the avx2 backend was not built";
    }
    mgpt_backend_env e = default_env(r);
    mgpt_backend be;
    EXPECT_EQ(mgpt_backend_open(&r, "avx2", &e, &be, err, sizeof err), 2);
    EXPECT_NE(std::string(err).find("needs avx2"), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("MGPT_CPU_DISABLE"), std::string::npos) << err;
    mgpt_registry_free(&r);
}

TEST_F(Loader, UnknownFeatureInMaskIsRefused)
{
    setenv("MGPT_CPU_DISABLE", "avx2,warpdrive", 1);
    mgpt_registry r;
    char err[512];
    EXPECT_EQ(mgpt_registry_load(&r, nullptr, nullptr, err, sizeof err), -1);
    EXPECT_NE(std::string(err).find("warpdrive"), std::string::npos) << err;
}

TEST(Cpu, OsSupportGatesVectorFeatures)
{
    mgpt_cpu_info cpu;
    char err[512];
    ASSERT_EQ(mgpt_cpu_detect(&cpu, err, sizeof err), 0);
    if (cpu.hw_features & MGPT_CPU_AVX2) {
        EXPECT_EQ(cpu.xcr0 & 0x6, 0x6u) << "AVX2 reported without the OS saving YMM state";
    }
    if (cpu.hw_features & MGPT_CPU_AVX512F) {
        EXPECT_EQ(cpu.xcr0 & 0xe6, 0xe6u) << "AVX-512 reported without the OS saving ZMM state";
    }
    EXPECT_TRUE(cpu.hw_features & MGPT_CPU_SSE2) << "every x86-64 CPU has SSE2";
    char names[256];
    mgpt_cpu_feature_names(MGPT_CPU_AVX2 | MGPT_CPU_SSE41, names, sizeof names);
    EXPECT_STREQ(names, "sse4.1 avx2");
    EXPECT_EQ(mgpt_cpu_feature_bit("avx512bw"), (uint32_t)MGPT_CPU_AVX512BW);
    EXPECT_EQ(mgpt_cpu_feature_bit("nonsense"), 0u);
}

// The feature bits the next backends need (bf16, fp16, VNNI, AMX) agree with the kernel's own
// view, /proc/cpuinfo's flags: the kernel lists a feature only if the CPU has it and the
// kernel saves its register state, which is what mgpt's CPUID and XCR0 checks decide. On an
// AMD Zen 5 avx512_bf16 and avx_vnni are present and AMX absent; on a Sapphire Rapids all.
TEST(Cpu, NewFeatureBitsAgreeWithProcCpuinfo)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        GTEST_SKIP() << "no /proc/cpuinfo";
    std::set<std::string> flags;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        std::istringstream in(strchr(line, ':') ? strchr(line, ':') + 1 : line);
        std::string w;
        while (in >> w)
            flags.insert(w);
        break;
    }
    fclose(f);
    if (flags.empty())
        GTEST_SKIP() << "/proc/cpuinfo has no flags line";
    unsetenv("MGPT_CPU_DISABLE");
    mgpt_cpu_info cpu;
    char err[512];
    ASSERT_EQ(mgpt_cpu_detect(&cpu, err, sizeof err), 0) << err;
    const struct { const char *flag; uint32_t bit; } pairs[] = {
        {"avx512_bf16", MGPT_CPU_AVX512_BF16}, {"avx512_fp16", MGPT_CPU_AVX512_FP16},
        {"avx_vnni", MGPT_CPU_AVX_VNNI},       {"amx_tile", MGPT_CPU_AMX_TILE},
        {"amx_bf16", MGPT_CPU_AMX_BF16},       {"avx512f", MGPT_CPU_AVX512F},
        {"avx2", MGPT_CPU_AVX2},
    };
    for (const auto &p : pairs) {
        EXPECT_EQ(flags.count(p.flag) == 1, (cpu.hw_features & p.bit) != 0) << p.flag;
        EXPECT_EQ(mgpt_cpu_feature_bit(p.flag), p.bit) << p.flag;
    }
    // the names round-trip through MGPT_CPU_DISABLE's parser
    uint32_t mask = 0;
    ASSERT_EQ(mgpt_cpu_parse_features("avx512_bf16,amx_tile,avx_vnni", &mask, err, sizeof err), 0)
        << err;
    EXPECT_EQ(mask, (uint32_t)(MGPT_CPU_AVX512_BF16 | MGPT_CPU_AMX_TILE | MGPT_CPU_AVX_VNNI));
    if (cpu.hw_features & (MGPT_CPU_AMX_TILE | MGPT_CPU_AMX_BF16)) {
        EXPECT_EQ(cpu.xcr0 & 0x60000, 0x60000u) << "AMX reported without the OS saving tile state";
    }
}

// The slot list as the engine reports it: names, indices and splits from mgpt/kernel_list.h.
TEST(KernelSlots, NamesIndicesAndSplits)
{
    ASSERT_EQ(mgpt_kernel_count(), MGPT_KERNEL_COUNT);
    EXPECT_EQ(sizeof(mgpt_kernels), MGPT_KERNEL_COUNT * sizeof(void (*)(void)));
    std::set<std::string> seen;
    for (int i = 0; i < mgpt_kernel_count(); i++) {
        const char *name = mgpt_kernel_name(i);
        ASSERT_NE(name, nullptr) << i;
        EXPECT_TRUE(seen.insert(name).second) << name << " twice";
        EXPECT_EQ(mgpt_kernel_index(name), i) << name;
        EXPECT_NE(mgpt_kernel_get(&mgpt_reference_kernels, i), nullptr) << name;
    }
    EXPECT_EQ(mgpt_kernel_name(mgpt_kernel_count()), nullptr);
    EXPECT_EQ(mgpt_kernel_index("matmul_backward"), -1);   // two slots since 4.0
    EXPECT_EQ(mgpt_kernel_index("nosuch"), -1);
    EXPECT_STREQ(mgpt_kernel_name(MGPT_K_MATMUL_BACKWARD_DINP), "matmul_backward_dinp");
    EXPECT_STREQ(mgpt_kernel_name(MGPT_K_MATMUL_BACKWARD_DW), "matmul_backward_dw");
    EXPECT_STREQ(mgpt_kernel_name(MGPT_K_ZERO), "zero");
    const struct {
        int slot, split;
    } splits[] = {{MGPT_K_EMBED_FORWARD, MGPT_SPLIT_DOCS},
                  {MGPT_K_EMBED_BACKWARD, MGPT_SPLIT_NONE},
                  {MGPT_K_RMSNORM_BACKWARD, MGPT_SPLIT_ROWS},
                  {MGPT_K_MATMUL_FORWARD, MGPT_SPLIT_TILES},
                  {MGPT_K_MATMUL_BACKWARD_DINP, MGPT_SPLIT_TILES},
                  {MGPT_K_MATMUL_BACKWARD_DW, MGPT_SPLIT_TILES},
                  {MGPT_K_ATTENTION_FORWARD, MGPT_SPLIT_HEADS},
                  {MGPT_K_ATTENTION_BACKWARD, MGPT_SPLIT_HEADS},
                  {MGPT_K_ACCUMULATE, MGPT_SPLIT_ELEMENTS},
                  {MGPT_K_SUMSQ, MGPT_SPLIT_CHUNKS}};
    for (auto s : splits)
        EXPECT_EQ(mgpt_kernel_split(s.slot), s.split) << mgpt_kernel_name(s.slot);
}

}  // namespace

// Inputs the fuzz targets (fuzz/) found to break the product, replayed from
// tests/fixtures/fuzz/ after the fix. Each file holds a command line, its arguments
// separated by NUL bytes, as the fuzz targets read them.
#include <gtest/gtest.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" {
#include "roofline.h"
}

namespace {

std::string fixture(const char *name)
{
    const char *top = getenv("MGPT_TOP_SRCDIR");
    std::string path = std::string(top ? top : "..") + "/tests/fixtures/fuzz/" + name;
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << "cannot read " << path;
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// The program's name, then the file's NUL-separated arguments.
std::vector<std::string> args_of(const std::string &bytes)
{
    std::vector<std::string> a{"mgpt-roofline"};
    size_t start = 0;
    while (start <= bytes.size() && !bytes.empty()) {
        size_t end = bytes.find('\0', start);
        if (end == std::string::npos)
            end = bytes.size();
        a.push_back(bytes.substr(start, end - start));
        start = end + 1;
    }
    return a;
}

int parse(std::vector<std::string> &a, roof_options *o)
{
    std::vector<char *> argv;
    for (auto &s : a)
        argv.push_back(&s[0]);
    argv.push_back(nullptr);
    return roof_parse_options((int)a.size(), argv.data(), o);
}

} // namespace

// fuzz_roofline_args: a parse that stopped inside a cluster of short options ("-hq" stops
// at -h) left getopt in the middle of it, and the next parse (optind = 1 only) went on
// reading the old, freed argument: a heap use-after-free under ASan, and a stray -q here.
TEST(FuzzInputs, RooflineParseStartsAfresh)
{
    freopen("/dev/null", "w", stdout); // --help's text
    auto first = args_of(fixture("roofline_stops_in_cluster.args"));
    roof_options o;
    EXPECT_EQ(ROOF_EXIT_EARLY, parse(first, &o));
    roof_options_free(&o);
    std::vector<std::string> none{"mgpt-roofline"};
    ASSERT_EQ(0, parse(none, &o));
    EXPECT_EQ(0, o.quiet) << "the second command line has no -q";
    roof_options_free(&o);
}

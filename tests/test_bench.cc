// mgpt-bench, through the built program (MGPT_BENCH_EXE): the JSON and markdown of `run`,
// the verdicts of `compare` (same file, a doctored slower or faster file, the threshold),
// and exit status 2 with a message for every kind of bad command line or input file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include <jansson.h>
#ifdef HAVE_LIBXML
#include <libxml/parser.h>
#include <libxml/xpath.h>
#endif

#include "test_program.h"
#include "test_util.h"

namespace {

using mgpt_test::read_text;

std::string exe()
{
    return mgpt_test::program_path("MGPT_BENCH_EXE", "../tools/mgpt-bench/mgpt-bench");
}

std::string tmp_path(const std::string &name)
{
    return mgpt_test::scratch_path("test_bench", name);
}

std::string quote(const std::string &s)
{
    std::string q = "'";
    for (char c : s)
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

struct Outcome {
    int status;
    std::string out;  // stdout and stderr
};

// Runs the tool with args (and env, "VAR=value ..." for this command only).
Outcome bench(const std::string &args, const std::string &env = "")
{
    Outcome r{-1, ""};
    std::string cmd = env + (env.empty() ? "" : " ") + quote(exe()) + " " + args + " 2>&1";
    r.status = mgpt_test::run_shell(cmd, &r.out);
    return r;
}

void write_text(const std::string &path, const std::string &text)
{
    FILE *f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path;
    fputs(text.c_str(), f);
    fclose(f);
}

// Copies `from` with every result's ms_per_step multiplied by factor (and, if given, the
// first result's config renamed).
void doctor(const std::string &from, const std::string &to, double factor,
            const char *rename = nullptr)
{
    json_error_t je;
    json_t *root = json_load_file(from.c_str(), 0, &je);
    ASSERT_NE(root, nullptr) << je.text;
    json_t *results = json_object_get(root, "results");
    for (size_t i = 0; i < json_array_size(results); i++) {
        json_t *r = json_array_get(results, i);
        double ms = json_number_value(json_object_get(r, "ms_per_step"));
        json_object_set_new(r, "ms_per_step", json_real(ms * factor));
        if (rename && i == 0)
            json_object_set_new(r, "config", json_string(rename));
    }
    ASSERT_EQ(json_dump_file(root, to.c_str(), JSON_INDENT(2)), 0);
    json_decref(root);
}

// One small run shared by the tests: e16_L1_b8 on scalar, 2 repeats of 5 steps.
class Bench : public ::testing::Test {
protected:
    static std::string base, md;
    static Outcome first;

    static void SetUpTestSuite()
    {
        base = tmp_path("base.json");
        md = tmp_path("base.md");
        first = bench("run --config e16_L1_b8 --steps 5 --repeats 2 --warmup 1 --threads 1 "
                      "--backend scalar --json " + quote(base) + " --markdown " + quote(md));
    }
    static void TearDownTestSuite()
    {
        remove(base.c_str());
        remove(md.c_str());
    }
};
std::string Bench::base, Bench::md;
Outcome Bench::first;

double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    EXPECT_TRUE(json_is_number(v)) << key;
    return json_number_value(v);
}

TEST_F(Bench, RunWritesJsonWithMachineSettingsAndResults)
{
    ASSERT_EQ(first.status, 0) << first.out;
    EXPECT_NE(first.out.find("e16_L1_b8"), std::string::npos) << first.out;

    json_error_t je;
    json_t *root = json_load_file(base.c_str(), 0, &je);
    ASSERT_NE(root, nullptr) << "line " << je.line << ": " << je.text;
    EXPECT_STREQ(json_string_value(json_object_get(root, "schema")), "mgpt-bench/1");
    EXPECT_TRUE(json_is_string(json_object_get(root, "mgpt_version")));
    EXPECT_TRUE(json_is_string(json_object_get(root, "timestamp")));
    json_t *machine = json_object_get(root, "machine");
    json_t *cpu = json_object_get(machine, "cpu");
    EXPECT_TRUE(json_is_string(json_object_get(cpu, "brand")));
    EXPECT_TRUE(json_is_array(json_object_get(cpu, "features")));
    EXPECT_GE(num(json_object_get(machine, "topology"), "cores"), 1);
    json_t *settings = json_object_get(root, "settings");
    EXPECT_EQ(num(settings, "steps"), 5);
    EXPECT_EQ(num(settings, "repeats"), 2);
    EXPECT_EQ(num(settings, "threads"), 1);

    json_t *results = json_object_get(root, "results");
    ASSERT_EQ(json_array_size(results), 1u);
    json_t *r = json_array_get(results, 0);
    EXPECT_STREQ(json_string_value(json_object_get(r, "backend")), "scalar");
    EXPECT_STREQ(json_string_value(json_object_get(r, "config")), "e16_L1_b8");
    EXPECT_STREQ(json_string_value(json_object_get(r, "data")), "names");
    EXPECT_EQ(num(r, "n_embd"), 16);
    EXPECT_EQ(num(r, "n_head"), 4);
    EXPECT_EQ(num(r, "n_layer"), 1);
    EXPECT_EQ(num(r, "block_size"), 8);
    EXPECT_EQ(num(r, "vocab_size"), 27);
    EXPECT_EQ(num(r, "batch"), 1);
    // wte + lm_head (2 V C) + wpe (T C) + per layer 4 C^2 (attention) + 8 C^2 (MLP)
    EXPECT_EQ(num(r, "params"), 2 * 27 * 16 + 8 * 16 + 12 * 16 * 16);
    EXPECT_EQ(num(r, "steps"), 5);
    EXPECT_EQ(json_array_size(json_object_get(r, "repeat_ms")), 2u);
    double med = num(r, "ms_per_step"), lo = num(r, "ms_per_step_min"),
           hi = num(r, "ms_per_step_max");
    EXPECT_GT(lo, 0);
    EXPECT_LE(lo, med);
    EXPECT_LE(med, hi);
    // names are short: some of the 8 targets of a row are padding, none is beyond 8
    EXPECT_GT(num(r, "tokens_per_step"), 1);
    EXPECT_LE(num(r, "tokens_per_step"), 8);
    EXPECT_NEAR(num(r, "tokens_per_s"), num(r, "tokens_per_step") / (med * 1e-3),
                1e-6 * num(r, "tokens_per_s"));
    double flops = num(r, "flops_per_step");
    EXPECT_DOUBLE_EQ(flops, num(r, "flops_forward") + num(r, "flops_backward") +
                                num(r, "flops_optimizer"));
    EXPECT_DOUBLE_EQ(num(r, "flops_optimizer"), 17.0 * num(r, "params"));
    // the counts are the engine's: the graph's nodes (each the sum of its kernel calls), the
    // backward walk's zeroing and the optimizer (sumsq, Adam)
    {
        mgpt_test::ModelPtr m = mgpt_test::make_model(mgpt_test::make_config(27, 16, 4, 1, 8), 1);
        ASSERT_TRUE(m);
        mgpt_cost f = mgpt_graph_cost(&m->graph, 0), b = mgpt_graph_cost(&m->graph, 1);
        mgpt_cost z = mgpt_graph_zero_cost(&m->graph), o = mgpt_optimizer_cost(m->num_floats);
        EXPECT_EQ(num(r, "params"), (double)m->num_floats);
        EXPECT_DOUBLE_EQ(num(r, "flops_forward"), f.flops);
        EXPECT_DOUBLE_EQ(num(r, "flops_backward"), b.flops);
        EXPECT_DOUBLE_EQ(num(r, "flops_optimizer"), o.flops);
        EXPECT_DOUBLE_EQ(num(r, "bytes_per_step"), f.bytes + b.bytes + z.bytes + o.bytes);
    }
    EXPECT_EQ(num(r, "threads"), 1);
    EXPECT_EQ(num(root, "backend_abi"), MGPT_BACKEND_ABI_MAJOR);
    EXPECT_EQ(num(root, "backend_abi_minor"), MGPT_BACKEND_ABI_MINOR);
    EXPECT_NEAR(num(r, "gflops"), flops / (med * 1e-3) * 1e-9, 1e-6 * num(r, "gflops"));
    EXPECT_TRUE(std::isfinite(num(r, "final_loss")));
    EXPECT_TRUE(json_is_array(json_object_get(root, "skipped")));
    json_decref(root);

    std::string report = read_text(md);
    EXPECT_NE(report.find("| scalar | `e16_L1_b8` |"), std::string::npos) << report;
}

TEST_F(Bench, BatchedConfigsMakeEveryPositionRealWork)
{
    std::string f = tmp_path("batched.json");
    Outcome r = bench("run -q --config e16_L1_b8_B4 --steps 2 --repeats 1 --warmup 0 --threads 1 "
                  "--backend scalar --json " + quote(f));
    ASSERT_EQ(r.status, 0) << r.out;
    json_t *root = json_load_file(f.c_str(), 0, nullptr);
    ASSERT_NE(root, nullptr);
    json_t *res = json_array_get(json_object_get(root, "results"), 0);
    EXPECT_STREQ(json_string_value(json_object_get(res, "data")), "synthetic");
    EXPECT_EQ(num(res, "batch"), 4);
    EXPECT_EQ(num(res, "tokens_per_step"), 4 * 8);
    json_decref(root);
    remove(f.c_str());
}

TEST_F(Bench, BackendsThisCpuCannotRunAreSkippedSayingWhy)
{
    std::string f = tmp_path("skip.json");
    Outcome r = bench("run -q --backend avx2,scalar --config e16_L1_b8 --steps 2 --repeats 1 "
                      "--warmup 0 --json " + quote(f), "MGPT_CPU_DISABLE=avx2");
    if (r.out.find("unknown backend 'avx2'") != std::string::npos)
        GTEST_SKIP() << "the avx2 backend is not built";
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("skipping backend avx2: MGPT_CPU_DISABLE masks avx2"), std::string::npos)
        << r.out;
    json_t *root = json_load_file(f.c_str(), 0, nullptr);
    ASSERT_NE(root, nullptr);
    json_t *skipped = json_object_get(root, "skipped"), *results = json_object_get(root, "results");
    ASSERT_EQ(json_array_size(skipped), 1u);
    EXPECT_STREQ(json_string_value(json_object_get(json_array_get(skipped, 0), "backend")), "avx2");
    ASSERT_EQ(json_array_size(results), 1u);
    EXPECT_STREQ(json_string_value(json_object_get(json_array_get(results, 0), "backend")),
                 "scalar");
    json_decref(root);
    remove(f.c_str());

    // with nothing left to measure, the run fails
    r = bench("run -q --backend avx2 --config e16_L1_b8 --steps 1 --repeats 1", "MGPT_CPU_DISABLE=avx2");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("nothing was measured"), std::string::npos) << r.out;
}

TEST_F(Bench, AnyBackendRunsOnTheEnginesThreadsWithTheSameResults)
{
    // The threads are the engine's: the scalar backend on 2 threads (every op split), the
    // same final loss and counts as on 1.
    std::string f1 = tmp_path("t1.json"), f2 = tmp_path("t2.json");
    const std::string args = "run -q --config e16_L1_b8_B4 --steps 3 --repeats 1 --warmup 0 "
                             "--backend scalar --json ";
    Outcome r1 = bench(args + quote(f1) + " --threads 1", "MGPT_THREAD_SPLIT=always");
    ASSERT_EQ(r1.status, 0) << r1.out;
    Outcome r2 = bench(args + quote(f2) + " --threads 2", "MGPT_THREAD_SPLIT=always");
    if (r2.status != 0 && r2.out.find("without OpenMP") != std::string::npos)
        GTEST_SKIP() << r2.out;
    ASSERT_EQ(r2.status, 0) << r2.out;
    json_t *a = json_load_file(f1.c_str(), 0, nullptr);
    json_t *b = json_load_file(f2.c_str(), 0, nullptr);
    ASSERT_TRUE(a && b);
    json_t *ra = json_array_get(json_object_get(a, "results"), 0);
    json_t *rb = json_array_get(json_object_get(b, "results"), 0);
    EXPECT_EQ(num(json_object_get(b, "settings"), "threads"), 2);
    EXPECT_EQ(num(ra, "threads"), 1);
    EXPECT_EQ(num(rb, "threads"), 2);
    for (const char *k : {"final_loss", "flops_per_step", "bytes_per_step", "tokens_per_step"})
        EXPECT_EQ(num(ra, k), num(rb, k)) << k;
    json_decref(a);
    json_decref(b);
    remove(f1.c_str());
    remove(f2.c_str());
    // and a bad split mode is refused before anything runs
    Outcome bad = bench(args + quote(f1), "MGPT_THREAD_SPLIT=sometimes");
    EXPECT_EQ(bad.status, 2) << bad.out;
    EXPECT_NE(bad.out.find("MGPT_THREAD_SPLIT='sometimes'"), std::string::npos) << bad.out;
    remove(f1.c_str());
}

TEST_F(Bench, CompareWithItselfPasses)
{
    ASSERT_EQ(first.status, 0) << first.out;
    Outcome r = bench("compare " + quote(base) + " " + quote(base));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("0 regressions"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("REGRESSION"), std::string::npos) << r.out;
}

TEST_F(Bench, CompareFlagsASlowerCurrentAndExits1)
{
    ASSERT_EQ(first.status, 0) << first.out;
    std::string slow = tmp_path("slow.json"), report = tmp_path("cmp.md");
    doctor(base, slow, 3.0);
    Outcome r = bench("compare " + quote(base) + " " + quote(slow) + " --markdown " + quote(report));
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("REGRESSION"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("+200.0%"), std::string::npos) << r.out;
    EXPECT_NE(read_text(report).find("**REGRESSION**"), std::string::npos);

    // a threshold above the change lets it pass
    r = bench("compare --threshold 500% " + quote(base) + " " + quote(slow));
    EXPECT_EQ(r.status, 0) << r.out;

    // the doctored file changed only the medians: its fastest repeats are the base's
    r = bench("compare --metric min " + quote(base) + " " + quote(slow));
    EXPECT_EQ(r.status, 0) << r.out;

    // the other way round it is an improvement, not a failure
    r = bench("compare " + quote(slow) + " " + quote(base));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("improved"), std::string::npos) << r.out;
    remove(slow.c_str());
    remove(report.c_str());
}

TEST_F(Bench, BadCommandLinesAndInputsExit2WithAMessage)
{
    ASSERT_EQ(first.status, 0) << first.out;
    std::string bad = tmp_path("bad.json"), other = tmp_path("other.json"),
                unrelated = tmp_path("unrelated.json"), missing = tmp_path("missing.json");
    write_text(bad, "{ \"schema\": \"mgpt-bench/1\", \"results\": [ \n");
    write_text(other, "{ \"results\": [] }\n");
    doctor(base, unrelated, 1.0, "e32_L1_b8");
    const std::string b = quote(base);
    const struct {
        std::string args, message;
    } cases[] = {
        {"", "missing command"},
        {"frobnicate", "unknown command 'frobnicate'"},
        {"run --steps 0", "--steps '0'"},
        {"run --repeats x", "--repeats 'x'"},
        {"run --bogus", "unknown option '--bogus'"},
        {"run --steps", "needs a value"},
        {"run extra", "unexpected argument 'extra'"},
        {"run --config e16_L1_bx", "e16_L1_bx"},
        {"run --config e18_L1_b8", "e18_L1_b8"},
        {"run --config e16_L1_b8,", "empty entry"},
        // a config whose step cannot fit (1.4 TiB) or overflows the kernels' sizes:
        // refused before anything is measured
        {"run --config e2048_L32_b2048_B64", "needs 1.4 TiB"},
        {"run --config e4096_L64_b4096_B256", "overflows the kernels' int sizes"},
        {"run --backend nosuch", "unknown backend 'nosuch'"},
        {"run --backend scalar --all-backends", "exclude each other"},
        {"compare " + b, "expected two files"},
        {"compare " + b + " " + quote(missing), "cannot read"},
        {"compare " + b + " " + quote(bad), "not valid JSON"},
        {"compare " + b + " " + quote(other), "schema"},
        {"compare " + b + " " + quote(unrelated), "nothing to compare"},
        {"compare --threshold -1 " + b + " " + b, "--threshold '-1'"},
        {"compare --metric mean " + b + " " + b, "--metric 'mean'"},
    };
    for (const auto &c : cases) {
        Outcome r = bench(c.args);
        EXPECT_EQ(r.status, 2) << c.args << "\n" << r.out;
        EXPECT_NE(r.out.find(c.message), std::string::npos) << c.args << "\n" << r.out;
    }
    remove(bad.c_str());
    remove(other.c_str());
    remove(unrelated.c_str());
}

// --threshold: a percent or a fraction below 1; a bare 5 (which once meant 500%) refused.
TEST_F(Bench, ThresholdIsAPercentOrAFractionNeverAGuess)
{
    ASSERT_EQ(first.status, 0) << first.out;
    std::string slow = tmp_path("slow-th.json");
    doctor(base, slow, 1.3); // 30% slower
    std::string files = " " + quote(base) + " " + quote(slow);
    EXPECT_EQ(bench("compare --threshold 50%" + files).status, 0);
    EXPECT_EQ(bench("compare --threshold 0.5" + files).status, 0);
    EXPECT_EQ(bench("compare --threshold 5%" + files).status, 1);
    EXPECT_EQ(bench("compare --threshold 0.05" + files).status, 1);
    Outcome r = bench("compare --threshold 5" + files);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("ambiguous"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("5%"), std::string::npos) << r.out;
    r = bench("compare --threshold x%" + files);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("--threshold 'x%'"), std::string::npos) << r.out;
    r = bench("compare --threshold 5%" + files);
    EXPECT_NE(r.out.find("threshold 5%"), std::string::npos) << r.out;
    remove(slow.c_str());
}

// A result file of two backends x two configs, from the shared run's one result.
void two_by_two(const std::string &from, const std::string &to, double factor)
{
    json_error_t je;
    json_t *root = json_load_file(from.c_str(), 0, &je);
    ASSERT_NE(root, nullptr) << je.text;
    json_t *results = json_object_get(root, "results");
    json_t *one = json_array_get(results, 0);
    json_t *all = json_array();
    const char *be[2] = {"scalar", "other"}, *cf[2] = {"e16_L1_b8", "e32_L1_b8"};
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 2; c++) {
            json_t *r = json_deep_copy(one);
            json_object_set_new(r, "backend", json_string(be[b]));
            json_object_set_new(r, "config", json_string(cf[c]));
            json_object_set_new(r, "gflops", json_real(factor * (1 + b + 2 * c)));
            json_array_append_new(all, r);
        }
    json_object_set(root, "results", all);
    json_decref(all);
    ASSERT_EQ(json_dump_file(root, to.c_str(), JSON_INDENT(2)), 0);
    json_decref(root);
}

#ifdef HAVE_LIBXML
// How many SVG elements are filled (or stroked) in palette colour i, as cairo writes it.
int count_colour(xmlDoc *doc, int i, const char *prop)
{
    static const int pal[][3] = {{78, 121, 167}, {242, 142, 43}, {225, 87, 89}, {118, 183, 178}};
    char want[128];
    snprintf(want, sizeof want, "%s:rgb(%g%%,%g%%,%g%%)", prop, pal[i][0] / 2.55,
             pal[i][1] / 2.55, pal[i][2] / 2.55);
    // cairo prints percentages with up to 6 decimals: compare the first 4 characters of each
    std::string prefix = std::string(prop) + ":rgb(" +
                         std::to_string(pal[i][0] * 100 / 255) + ".";
    xmlXPathContext *ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST "http://www.w3.org/2000/svg");
    xmlXPathObject *o = xmlXPathEvalExpression(BAD_CAST "//s:path[@style]", ctx);
    int n = 0;
    for (int k = 0; o && o->nodesetval && k < o->nodesetval->nodeNr; k++) {
        xmlChar *st = xmlGetProp(o->nodesetval->nodeTab[k], BAD_CAST "style");
        std::string style = (const char *)st;
        xmlFree(st);
        size_t at = style.find(prefix);
        if (at != std::string::npos) {
            // the green component too, to tell colours with the same red apart
            std::string g = "," + std::to_string(pal[i][1] * 100 / 255) + ".";
            n += style.find(g, at) != std::string::npos;
        }
    }
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    return n;
}
#endif

// chart: one file draws a bar per (config, backend) in the backend's colour; several files
// a line per (backend, config); PNG by extension; bad outputs and inputs exit 2.
TEST_F(Bench, ChartDrawsBarsAndTrendsAsValidFiles)
{
    ASSERT_EQ(first.status, 0) << first.out;
    std::string r1 = tmp_path("r1.json"), r2 = tmp_path("r2.json"), svg = tmp_path("bars.svg"),
                trend = tmp_path("trend.svg"), png = tmp_path("trend.png");
    two_by_two(base, r1, 1.0);
    two_by_two(base, r2, 2.0);
    Outcome r = bench("chart " + quote(r1) + " -o " + quote(svg));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, "") << "PLplot or mgpt-bench printed to the terminal";
    r = bench("chart --metric ms " + quote(r1) + " " + quote(r2) + " -o " + quote(trend));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, "");
    r = bench("chart " + quote(r1) + " " + quote(r2) + " --output=" + quote(png));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(read_text(png).compare(0, 8, "\x89PNG\r\n\x1a\n"), 0);
#ifdef HAVE_LIBXML
    xmlDoc *doc = xmlReadFile(svg.c_str(), nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR);
    ASSERT_NE(doc, nullptr) << svg << " is not well-formed XML";
    EXPECT_STREQ((const char *)xmlDocGetRootElement(doc)->name, "svg");
    // each backend: a bar per config and its legend box
    EXPECT_EQ(count_colour(doc, 0, "fill"), 3);
    EXPECT_EQ(count_colour(doc, 1, "fill"), 3);
    EXPECT_EQ(count_colour(doc, 2, "fill"), 0);
    xmlFreeDoc(doc);
    doc = xmlReadFile(trend.c_str(), nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR);
    ASSERT_NE(doc, nullptr) << trend << " is not well-formed XML";
    // four (backend, config) lines, each in its own colour
    for (int i = 0; i < 4; i++)
        EXPECT_GE(count_colour(doc, i, "stroke"), 1) << "line " << i;
    xmlFreeDoc(doc);
#else
    EXPECT_NE(read_text(svg).find("<svg"), std::string::npos);
#endif
    r = bench("chart " + quote(r1) + " -o " + quote(tmp_path("chart.pdf")));
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find(".svg or .png"), std::string::npos) << r.out;
    r = bench("chart " + quote(r1));
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("--output"), std::string::npos) << r.out;
    std::string bad = tmp_path("bad.json");
    write_text(bad, "{\"schema\": ");
    r = bench("chart " + quote(bad) + " -o " + quote(svg));
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("not valid JSON"), std::string::npos) << r.out;
    r = bench("chart " + quote(r1) + " -o /nonexistent-dir/c.svg");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("cannot write"), std::string::npos) << r.out;

    // compare --chart: the chart written, linked from the markdown report
    std::string md = tmp_path("cmp-chart.md"), cc = tmp_path("cmp-chart.svg");
    r = bench("compare --chart " + quote(cc) + " --markdown " + quote(md) + " " + quote(r1) +
              " " + quote(r2));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(read_text(cc).find("<svg"), std::string::npos);
    std::string link = "](" + cc.substr(cc.rfind('/') + 1) + ")"; // beside the report
    EXPECT_NE(read_text(md).find(link), std::string::npos) << read_text(md);
    for (const std::string &f : {r1, r2, svg, trend, png, bad, md, cc})
        remove(f.c_str());
}

// sweep on a tiny grid: a point per size and axis, with its figures, and the peak.
TEST_F(Bench, SweepWritesEveryPointWithItsFigures)
{
    std::string js = tmp_path("sweep.json"), svg = tmp_path("sweep.svg");
    Outcome r = bench("sweep --backend scalar --threads 1 --n-embd 8,16 --block-size 4,8,...,16 "
                      "--at-n-embd 8 --at-block-size 4 --batch 2 --repeats 1 --min-time 0.001 -q "
                      "--json " + quote(js) + " --chart " + quote(svg));
    ASSERT_EQ(r.status, 0) << r.out;
    json_error_t je;
    json_t *root = json_load_file(js.c_str(), 0, &je);
    ASSERT_NE(root, nullptr) << je.text;
    EXPECT_STREQ(json_string_value(json_object_get(root, "schema")), "mgpt-bench-sweep/1");
    json_t *set = json_object_get(root, "settings");
    EXPECT_EQ(num(set, "batch"), 2);
    EXPECT_EQ(num(set, "at_n_embd"), 8);
    EXPECT_EQ(num(set, "threads"), 1);
    json_t *pts = json_object_get(root, "points");
    ASSERT_EQ(json_array_size(pts), 5u); // 2 widths, 4 8 16 contexts
    const int embd[5] = {8, 16, 8, 8, 8}, T[5] = {4, 4, 4, 8, 16};
    double peak = json_number_value(json_object_get(json_object_get(root, "peak_gflops"), "scalar"));
    for (size_t i = 0; i < 5; i++) {
        json_t *p = json_array_get(pts, i);
        EXPECT_STREQ(json_string_value(json_object_get(p, "backend")), "scalar");
        EXPECT_STREQ(json_string_value(json_object_get(p, "axis")), i < 2 ? "n_embd" : "block_size");
        EXPECT_EQ(num(p, "n_embd"), embd[i]);
        EXPECT_EQ(num(p, "block_size"), T[i]);
        EXPECT_GT(num(p, "ms_per_step"), 0);
        EXPECT_GT(num(p, "flops_per_step"), 0);
        EXPECT_NEAR(num(p, "gflops"), num(p, "flops_per_step") / num(p, "ms_per_step") * 1e-6,
                    1e-6 * num(p, "gflops"));
        if (peak > 0) {
            EXPECT_NEAR(num(p, "percent_of_peak"), 100 * num(p, "gflops") / peak,
                        1e-6 * num(p, "percent_of_peak"));
        }
    }
    // more context, more FLOPs per step
    EXPECT_GT(num(json_array_get(pts, 4), "flops_per_step"), num(json_array_get(pts, 3), "flops_per_step"));
    json_decref(root);
    EXPECT_NE(read_text(svg).find("<svg"), std::string::npos);
    EXPECT_NE(r.out.find("block_size"), std::string::npos) << r.out; // the table
    r = bench("sweep --n-embd 10");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("multiples of 4"), std::string::npos) << r.out;
    r = bench("sweep --block-size 8,...,64");
    EXPECT_EQ(r.status, 2) << r.out;
    remove(js.c_str());
    remove(svg.c_str());
}

// generate: the table and every field of the JSON for one backend and config; the
// figures are consistent with each other (no timing is asserted).
TEST(BenchGenerate, PrintsTheTableAndWritesJsonWithEveryField)
{
    std::string js = tmp_path("generate.json");
    Outcome r = bench("generate --config e16_L1_b8 --tokens 20 --repeats 1 --backend scalar "
                      "--threads 1 --batch 1,3 --json " + quote(js));
    ASSERT_EQ(r.status, 0) << r.out;
    for (const char *col : {"batch", "cached tok/s", "full tok/s", "speed-up", "train ms/pos", "ratio"})
        EXPECT_NE(r.out.find(col), std::string::npos) << col << "\n" << r.out;
    EXPECT_NE(r.out.find("scalar   e16_L1_b8"), std::string::npos) << r.out;
    json_error_t je;
    json_t *root = json_load_file(js.c_str(), 0, &je);
    ASSERT_NE(root, nullptr) << "line " << je.line << ": " << je.text;
    EXPECT_STREQ(json_string_value(json_object_get(root, "schema")), "mgpt-bench-generate/1");
    EXPECT_TRUE(json_is_string(json_object_get(root, "timestamp")));
    EXPECT_TRUE(json_is_object(json_object_get(root, "machine")));
    json_t *set = json_object_get(root, "settings");
    EXPECT_EQ(num(set, "tokens"), 20);
    EXPECT_EQ(num(set, "repeats"), 1);
    EXPECT_EQ(num(set, "threads"), 1);
    json_t *sizes = json_object_get(set, "batch");
    ASSERT_EQ(json_array_size(sizes), 2u);
    EXPECT_EQ(json_integer_value(json_array_get(sizes, 1)), 3);
    json_t *res = json_object_get(root, "results");
    ASSERT_EQ(json_array_size(res), 2u);   // a result per batch size
    json_t *o = json_array_get(res, 0), *o3 = json_array_get(res, 1);
    EXPECT_EQ(num(o, "batch"), 1);
    EXPECT_EQ(num(o3, "batch"), 3);
    // the full-forward and training figures are shared; the cached ones are the batch's
    EXPECT_EQ(num(o3, "full_ms_per_token"), num(o, "full_ms_per_token"));
    EXPECT_EQ(num(o3, "train_ms_per_position"), num(o, "train_ms_per_position"));
    EXPECT_GT(num(o3, "cached_ms_per_token"), 0);
    EXPECT_NEAR(num(o3, "cached_vs_train_position"),
                num(o3, "cached_ms_per_token") / num(o3, "train_ms_per_position"),
                1e-9 * num(o3, "cached_vs_train_position"));
    EXPECT_STREQ(json_string_value(json_object_get(o, "backend")), "scalar");
    EXPECT_STREQ(json_string_value(json_object_get(o, "config")), "e16_L1_b8");
    EXPECT_EQ(num(o, "block_size"), 8);
    EXPECT_EQ(num(o, "n_embd"), 16);
    EXPECT_EQ(num(o, "tokens"), 20);
    EXPECT_GE(num(o, "full_tokens"), 1);
    EXPECT_LE(num(o, "full_tokens"), 20);
    EXPECT_GE(num(o, "train_forwards"), 1);
    // 20 tokens through a cache of 8: 8, then three times a slide (4 again) and 4 more
    EXPECT_EQ(num(o, "cached_positions"), 20 + 3 * 4);
    double cms = num(o, "cached_ms_per_token"), fms = num(o, "full_ms_per_token");
    double tpos = num(o, "train_ms_per_position");
    ASSERT_GT(cms, 0);
    ASSERT_GT(fms, 0);
    ASSERT_GT(tpos, 0);
    EXPECT_NEAR(num(o, "cached_tokens_per_s"), 1e3 / cms, 1e-9 * (1e3 / cms));
    EXPECT_NEAR(num(o, "full_tokens_per_s"), 1e3 / fms, 1e-9 * (1e3 / fms));
    EXPECT_NEAR(num(o, "speedup"), fms / cms, 1e-9 * fms / cms);
    EXPECT_NEAR(tpos, num(o, "train_forward_ms") / 8, 1e-9 * tpos);
    EXPECT_NEAR(num(o, "cached_vs_train_position"), cms / tpos, 1e-9 * cms / tpos);
    EXPECT_LE(num(o, "cached_ms_per_token_min"), cms);
    EXPECT_GE(num(o, "full_ms_per_token_max"), fms);
    // the engine's FLOP counts of both forwards
    EXPECT_GT(num(o, "flops_full_forward"), 0);
    EXPECT_GT(num(o, "flops_train_position"), 0);
    json_decref(root);
    remove(js.c_str());

    // few seconds for the full forward: fewer tokens, said under the table
    r = bench("generate --config e16_L1_b8 --tokens 2000 --repeats 1 --backend scalar "
              "--threads 1 --full-time 0.000001 -q");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("ran fewer tokens than --tokens"), std::string::npos) << r.out;
}

TEST(BenchGenerate, BadOptionsExit2WithAMessage)
{
    const char *bad[][2] = {
        {"generate --tokens 0", "--tokens"},
        {"generate --tokens x", "--tokens"},
        {"generate --repeats 0", "--repeats"},
        {"generate --full-time 0", "--full-time"},
        {"generate --batch 0", "--batch"},
        {"generate --batch 1,x", "--batch"},
        {"generate --batch 257", "--batch"},
        {"generate --batch ,", "--batch"},
        {"generate --batch 1,2,3,4,5,6,7,8,9", "at most 8"},
        {"generate --threads 0", "--threads"},
        {"generate --config e16_L1", "config name"},
        {"generate --config e16_L1_b8_B4", "one document"},
        {"generate --backend nosuch --config e16_L1_b8", "unknown backend"},
        {"generate -a --backend scalar", "exclude each other"},
        {"generate --steps 5", "steps"},
        {"generate extra", "extra"},
    };
    for (auto &b : bad) {
        Outcome r = bench(b[0]);
        EXPECT_EQ(r.status, 2) << b[0] << "\n" << r.out;
        EXPECT_NE(r.out.find(b[1]), std::string::npos) << b[0] << "\n" << r.out;
    }
    Outcome r = bench("generate --config e16_L1_b8 --backend scalar --tokens 2 --repeats 1 "
                      "--json /nonexistent-dir/x.json");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("cannot write"), std::string::npos) << r.out;
    r = bench("generate --help");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("--full-time"), std::string::npos) << r.out;
    r = bench("--help");
    EXPECT_NE(r.out.find("generate"), std::string::npos) << r.out;
}

// The committed baseline: compare reads it, and the CI script picks it by CPU kind or
// says that there is none, exiting 0 either way.
TEST(BenchBaseline, CommittedBaselineAndItsPicker)
{
    const char *top = getenv("MGPT_TOP_SRCDIR");
    ASSERT_NE(top, nullptr);
    std::string b = std::string(top) + "/bench/baseline-zen5.json";
    Outcome r = bench("compare " + quote(b) + " " + quote(b));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("0 regressions"), std::string::npos) << r.out;
    std::string cpu = tmp_path("cpuinfo");
    write_text(cpu, "vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel name\t: Some Xeon\n");
    std::string out;
    int st = mgpt_test::run_shell(quote(std::string(top) + "/bench/compare-baseline") + " " +
                                  quote(exe()) + " " + quote(cpu) + " 2>&1", &out);
    EXPECT_EQ(st, 0) << out;
    EXPECT_NE(out.find("no baseline for this CPU ('Some Xeon'"), std::string::npos) << out;
    EXPECT_NE(out.find("baseline-zen5.json"), std::string::npos) << out;
    // AMD family 25 is Zen 3 or Zen 4 by its model number: Zen 4 has no baseline yet, and
    // the hint names the file to record
    write_text(cpu, "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                    "model name\t: AMD EPYC 9654\n");
    st = mgpt_test::run_shell(quote(std::string(top) + "/bench/compare-baseline") + " " +
                              quote(exe()) + " " + quote(cpu) + " 2>&1", &out);
    EXPECT_EQ(st, 0) << out;
    EXPECT_NE(out.find("no baseline for this CPU ('AMD EPYC 9654'"), std::string::npos) << out;
    EXPECT_NE(out.find("--json bench/baseline-zen4.json"), std::string::npos) << out;
    remove(cpu.c_str());
    for (const char *kind : {"zen3", "zen5"}) {
        b = std::string(top) + "/bench/baseline-" + kind + ".json";
        r = bench("compare " + quote(b) + " " + quote(b));
        EXPECT_EQ(r.status, 0) << kind << ": " << r.out;
        EXPECT_NE(r.out.find("0 regressions"), std::string::npos) << kind << ": " << r.out;
    }
}

// bench/peer-report (Python): interleaved rounds of mgpt-bench over the named backends, a
// markdown table of medians with the ratios to the baseline backend, a backend this CPU
// cannot run (here masked) named with the reason; a bad command line exits 2. (PyTorch is
// not run here: the timings of the peer are the issue notes', not a test's.)
TEST(BenchPeerReport, TablesTheBackendsAndNamesTheSkipped)
{
    const char *top = getenv("MGPT_TOP_SRCDIR");
    ASSERT_NE(top, nullptr);
    if (access("/usr/bin/python3", X_OK) != 0)
        GTEST_SKIP() << "no /usr/bin/python3 to run bench/peer-report";
    std::string build = exe();
    const std::string tail = "/tools/mgpt-bench/mgpt-bench";
    ASSERT_GT(build.size(), tail.size());
    build.erase(build.size() - tail.size());
    const std::string md = tmp_path("peer.md");
    const std::string cmd = quote(std::string(top) + "/bench/peer-report") + " --build " +
                            quote(build);
    std::string out;
    int st = mgpt_test::run_shell(
        "MGPT_CPU_DISABLE=avx2 " + cmd +
            " --backends scalar,sse,avx2 --configs e16_L1_b8,e32_L1_b8 --threads 1"
            " --rounds 2 --repeats 1 --min-time 0.01 --markdown " + quote(md) + " 2>&1",
        &out);
    ASSERT_EQ(st, 0) << out;
    EXPECT_NE(out.find("round 2/2: e32_L1_b8, 1 thread(s)"), std::string::npos) << out;
    EXPECT_NE(out.find("| config | threads | scalar ms (GFLOP/s) | sse ms (GFLOP/s) | "
                       "sse / scalar |"), std::string::npos) << out;
    for (const char *config : {"| e16_L1_b8 | 1 | ", "| e32_L1_b8 | 1 | "})
        EXPECT_NE(out.find(config), std::string::npos) << config << "\n" << out;
    EXPECT_NE(out.find("x |\n"), std::string::npos) << "no ratio ends a row\n" << out;
    EXPECT_NE(out.find("skipped avx2: "), std::string::npos) << out;
    std::string written = read_text(md);
    EXPECT_NE(written.find("| e32_L1_b8 | 1 | "), std::string::npos) << written;
    remove(md.c_str());
    for (const char *bad : {" --backends scalar,sse --baseline avx2",
                            " --backends scalar --threads one", " --backends scalar --rounds 0",
                            " --backends scalar --torch-modes fp64",
                            " --backends scalar --build /nonexistent"}) {
        st = mgpt_test::run_shell(cmd + bad + " 2>&1", &out);
        EXPECT_EQ(st, 2) << bad << ": " << out;
        EXPECT_NE(out.find("error: "), std::string::npos) << bad << ": " << out;
    }
}

TEST(BenchCli, HelpAndVersion)
{
    Outcome r = bench("--help");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("compare"), std::string::npos);
    r = bench("run --help");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("--all-backends"), std::string::npos);
    r = bench("compare --help");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("--threshold"), std::string::npos);
    r = bench("--version");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("mgpt-bench"), std::string::npos);
}

}  // namespace

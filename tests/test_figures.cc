// The figures mgpt train and mgpt-bench print (docs/mgpt.1 and docs/mgpt-bench.1, FIGURES):
// one FLOP count of a training step (forward, backward, Adam) shared by both tools, a
// GFLOP/s that is that count over the printed step time, and times and rates printed to
// three significant digits however small they are. Nothing here depends on how fast the
// machine is: the checks compare printed numbers with each other, to their printed
// precision.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>

#include <jansson.h>

#include "test_program.h"
#include "test_util.h"
extern "C" {
#include "mgpt_tools.h"
}

namespace {

std::string quote(const std::string &s)
{
    std::string q = "'";
    for (char c : s)
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// A number as printed: its value in base units and the unit of its last printed digit.
struct Printed {
    double value, ulp;
    int digits;  // significant digits shown
};

Printed printed(const std::string &text, const std::string &prefix)
{
    static const std::string prefixes = "num kMGT";
    static const double scale[] = {1e-9, 1e-6, 1e-3, 1, 1e3, 1e6, 1e9, 1e12};
    double s = 1;
    if (!prefix.empty())
        s = scale[prefixes.find(prefix[0])];
    size_t point = text.find('.');
    int decimals = point == std::string::npos ? 0 : (int)(text.size() - point - 1);
    int digits = 0;
    bool leading = true;
    for (char c : text) {
        if (c == '.')
            continue;
        if (c != '0')
            leading = false;
        digits += !leading;
    }
    return {std::stod(text) * s, std::pow(10.0, -decimals) * s, digits};
}

std::string fmt_seconds(double s, const char *per = nullptr)
{
    char buf[64];
    tool_fmt_seconds(buf, sizeof buf, s, per);
    return buf;
}

std::string fmt_rate(double v)
{
    char buf[64];
    tool_fmt_rate(buf, sizeof buf, v);
    return buf;
}

std::string fmt_sig3(double v)
{
    char buf[64];
    tool_fmt_sig3(buf, sizeof buf, v);
    return buf;
}

TEST(Figures, TimesAndRatesKeepThreeSignificantDigits)
{
    // the case: 0.005 ms/step for both 1.29M and 1.52M tokens/s
    EXPECT_EQ(fmt_seconds(4.87e-6, "/step"), "4.87 us/step");
    EXPECT_EQ(fmt_seconds(4.12e-6, "/step"), "4.12 us/step");
    EXPECT_EQ(fmt_rate(1.29e6), "1.29M");
    EXPECT_EQ(fmt_rate(1.52e6), "1.52M");
    EXPECT_EQ(fmt_seconds(2.4351e-3), "2.44 ms");
    EXPECT_EQ(fmt_seconds(12.34e-3), "12.3 ms");
    EXPECT_EQ(fmt_seconds(3.0), "3.00 s");
    EXPECT_EQ(fmt_seconds(5e-9), "5.00 ns");
    EXPECT_EQ(fmt_seconds(1234.0), "1230 s");
    // rounding that carries into the next prefix
    EXPECT_EQ(fmt_seconds(999.7e-6), "1.00 ms");
    EXPECT_EQ(fmt_rate(999.95e3), "1.00M");
    EXPECT_EQ(fmt_rate(812.4), "812");
    EXPECT_EQ(fmt_rate(0), "0");
    EXPECT_EQ(fmt_sig3(0.0048731), "0.00487");
    EXPECT_EQ(fmt_sig3(106.4), "106");
    EXPECT_EQ(fmt_sig3(10.64), "10.6");
    EXPECT_EQ(fmt_sig3(1234), "1230");
    EXPECT_EQ(fmt_sig3(NAN), "-");
    EXPECT_EQ(fmt_seconds(-1), "-");
}

// mgpt train of e16_L1_b8 (its defaults) on the scalar backend: the summary and its
// footnote, parsed.
struct TrainSummary {
    int status = -1;
    std::string out;
    long steps = 0;
    Printed total{}, step{}, tokens_per_s{}, gflops{};
    double flops = 0;  // the footnote's FLOPs of a step
};

TrainSummary train(int steps)
{
    TrainSummary t;
    std::string exe = mgpt_test::program_path("MGPT_EXE", "../tools/mgpt/mgpt");
    t.status = mgpt_test::run_shell(quote(exe) + " --backend=scalar --threads=1 train "
                                    "--num-steps " + std::to_string(steps) +
                                    " --num-samples 0 --no-archive 2>&1", &t.out);
    std::smatch m;
    static const std::regex summary(
        "trained ([0-9]+) steps? in ([0-9.]+) ([num]?)s: ([0-9.]+) ([num]?)s/step, "
        "([0-9.]+)([kMGT]?) tok/s, ([0-9.]+) GFLOP/s\n");
    if (std::regex_search(t.out, m, summary)) {
        t.steps = std::stol(m[1]);
        t.total = printed(m[2], m[3]);
        t.step = printed(m[4], m[5]);
        t.tokens_per_s = printed(m[6], m[7]);
        t.gflops = printed(m[8], "");
    }
    static const std::regex footnote("a step: batch fill, forward, backward, Adam = ([0-9,]+) FLOPs");
    if (std::regex_search(t.out, m, footnote)) {
        std::string digits;
        for (char c : m[1].str())
            if (c != ',')
                digits += c;
        t.flops = std::stod(digits);
    }
    return t;
}

TEST(Figures, TrainReportsGflopsAsTheStepsFlopsOverTheStepTime)
{
    TrainSummary t = train(30);
    ASSERT_EQ(t.status, 0) << t.out;
    ASSERT_EQ(t.steps, 30) << t.out;
    ASSERT_GT(t.flops, 0) << t.out;
    // however short the step, three significant digits and never 0.00
    for (const Printed *p : {&t.total, &t.step, &t.tokens_per_s, &t.gflops}) {
        EXPECT_EQ(p->digits, 3) << t.out;
        EXPECT_GT(p->value, 0) << t.out;
    }
    // the run's time is the steps' time, to the printed precision
    EXPECT_NEAR(t.total.value, 30 * t.step.value, 0.5 * t.total.ulp + 30 * 0.5 * t.step.ulp)
        << t.out;
    // GFLOP/s = FLOPs of a step / step time: each printed number is off by at most half
    // its last digit
    double expect = t.flops / t.step.value * 1e-9;
    double tol = 0.5 * t.gflops.ulp + (t.gflops.value + 0.5 * t.gflops.ulp) *
                                          (0.5 * t.step.ulp / t.step.value) * 1.0001;
    EXPECT_NEAR(t.gflops.value, expect, tol) << t.out;
}

TEST(Figures, TrainAndBenchCountTheSameFlopsOfAStepAdamIncluded)
{
    TrainSummary t = train(2);
    ASSERT_EQ(t.status, 0) << t.out;

    std::string json = mgpt_test::scratch_path("test_figures", "bench.json"), out;
    std::string bench = mgpt_test::program_path("MGPT_BENCH_EXE",
                                                "../tools/mgpt-bench/mgpt-bench");
    int st = mgpt_test::run_shell(quote(bench) + " run --config e16_L1_b8 --steps 1 "
                                  "--repeats 1 --warmup 0 --threads 1 --backend scalar -q "
                                  "--json " + quote(json) + " 2>&1", &out);
    ASSERT_EQ(st, 0) << out;
    json_error_t je;
    json_t *root = json_load_file(json.c_str(), 0, &je);
    remove(json.c_str());
    ASSERT_NE(root, nullptr) << je.text;
    json_t *r = json_array_get(json_object_get(root, "results"), 0);
    double bench_flops = json_number_value(json_object_get(r, "flops_per_step"));
    double bench_fwd = json_number_value(json_object_get(r, "flops_forward"));
    json_decref(root);

    EXPECT_EQ(t.flops, bench_flops) << t.out;
    // the engine's count of the step, Adam in it (not forward + backward alone)
    mgpt_test::ModelPtr m = mgpt_test::make_model(mgpt_test::make_config(27, 16, 4, 1, 8), 1);
    ASSERT_TRUE(m);
    mgpt_cost f = mgpt_graph_cost(&m->graph, 0), b = mgpt_graph_cost(&m->graph, 1);
    mgpt_cost o = mgpt_optimizer_cost(m->num_floats);
    EXPECT_EQ(bench_fwd, f.flops);
    EXPECT_EQ(t.flops, mgpt_step_cost(&m->graph, m->num_floats).flops);
    EXPECT_EQ(t.flops, f.flops + b.flops + o.flops);
    EXPECT_GT(o.flops, 0);
}

}  // namespace

/* mgpt-check-backend: loads a backend module exactly as mgpt would (reporting every reason
 * it would be skipped), then checks every slot it implements against the scalar reference,
 * and the whole backend through the engine. One row per slot; exit status 0 only when
 * every check passes. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "mgpt_tools.h"
#include "platform/cpu.h"
#include "check.h"

enum { EXIT_PASS = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };
enum { OPT_SLOTS = TOOL_OPT_OWN, OPT_NO_TRAINING, OPT_NO_SPEED, OPT_STEPS, OPT_SPEED_TIME };

typedef struct options {
    const char *json;        /* NULL, "-" or a file */
    int quiet, training, speed, steps;
    double speed_time;
    uint64_t slots;          /* bit i: check slot i */
} options;

static void usage(void)
{
    printf(
"Usage: mgpt-check-backend [OPTION]... MODULE...\n"
"Check an mgpt backend module: load it exactly as mgpt would (and say why mgpt would\n"
"skip it), then test every kernel slot it implements against the scalar reference, and\n"
"the whole backend: deterministic on 1, 2 and 3 threads, a training run that tracks\n"
"scalar. MODULE is a file, ./mgpt_NAME.so, or the NAME of a backend on mgpt's plugin\n"
"path (MGPT_PLUGIN_PATH, then the installed ones).\n"
"\n"
"Each slot is called on sizes that hit every vector tail (1 3 7 15 17 31 33 65 100 257\n"
"in each varying dimension), with buffers that end at an inaccessible page; backward\n"
"kernels accumulating and writing (into NaN, which they must not read); the ranged slots\n"
"on blocks of their output; every slot twice on the same inputs. Tolerances follow the\n"
"module's precision class, scaled by each op's reduction length (see mgpt-check-backend(1)).\n"
"\n"
"Options:\n"
"      --slots=LIST       check only these slots (comma separated; see 'mgpt backends\n"
"                         --verbose' for the names), not the probes or the whole backend\n"
"      --no-training      skip the whole-backend checks (threads, training)\n"
"      --steps=N          training steps of the whole-backend checks (default 30)\n"
"      --no-speed         do not time the kernels (no GFLOP/s column)\n"
"      --speed-time=SECONDS  timing per slot (default 0.05)\n"
"  -j, --json[=FILE]      write the results as JSON to FILE, or to standard output\n"
"                         (then without the table)\n"
"  -q, --quiet            only failures and the verdict\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and exit\n"
"\n"
"Exit status: 0 every check passed; 1 a check failed, or mgpt would skip the module, or\n"
"its init failed; 2 bad usage, or this CPU cannot run the module.\n"
"Environment: MGPT_PLUGIN_PATH, MGPT_CPU_DISABLE (see mgpt(1)).\n"
"\n"
"Example, for a module built from the SDK's template:\n"
"  mgpt-check-backend ./mgpt_mine.so\n"
"  MGPT_PLUGIN_PATH=$PWD mgpt --backend=mine train\n");
}

static int parse_slots(const char *arg, uint64_t *out)
{
    *out = 0;
    const char *p = arg;
    char name[64];
    while (p) {
        if (tool_list_next(&p, name, sizeof name) != TOOL_ENTRY_OK) {
            tool_error(NULL, "--slots: empty or overlong slot name in '%s'", arg);
            return -1;
        }
        int i = mgpt_kernel_index(name);
        if (i < 0) {
            tool_error(NULL, "--slots: no slot is named '%s' (e.g. matmul_forward, zero)", name);
            return -1;
        }
        *out |= (uint64_t)1 << i;
    }
    return 0;
}

/* 0 to go on, EXIT_USAGE, or -1 (--help / --version done) */
static int parse(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"slots", required_argument, NULL, OPT_SLOTS},
        {"no-training", no_argument, NULL, OPT_NO_TRAINING},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"no-speed", no_argument, NULL, OPT_NO_SPEED},
        {"speed-time", required_argument, NULL, OPT_SPEED_TIME},
        {"json", optional_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->training = o->speed = 1;
    o->steps = 30;
    o->speed_time = 0.05;
    o->slots = ~(uint64_t)0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":j::qhV", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SLOTS:
            if (parse_slots(optarg, &o->slots) != 0) {
                tool_try_help(NULL);
                return EXIT_USAGE;
            }
            break;
        case OPT_NO_TRAINING:
            o->training = 0;
            break;
        case OPT_STEPS:
            if (tool_parse_int(optarg, 2, 100000, &o->steps) != TOOL_NUMBER_OK) {
                tool_error(NULL, "--steps: '%s' is not a whole number of steps in 2..100000",
                           optarg);
                tool_try_help(NULL);
                return EXIT_USAGE;
            }
            break;
        case OPT_NO_SPEED:
            o->speed = 0;
            break;
        case OPT_SPEED_TIME:
            if (tool_parse_double(optarg, 0, 60, 1, 0, &o->speed_time) != TOOL_NUMBER_OK) {
                tool_error(NULL, "--speed-time: '%s' is not a number of seconds in (0, 60]",
                           optarg);
                tool_try_help(NULL);
                return EXIT_USAGE;
            }
            break;
        case 'j':
            o->json = optarg ? optarg : "-";
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage();
            return -1;
        case 'V':
            printf("mgpt-check-backend (%s) %s\nbackend ABI %u.%u\n", PACKAGE_NAME,
                   PACKAGE_VERSION, MGPT_BACKEND_ABI_MAJOR, MGPT_BACKEND_ABI_MINOR);
            return -1;
        default:
            tool_bad_option(NULL, argv, longopts, c, TOOL_AMBIGUOUS_LIST, NULL);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        tool_error(NULL, "missing MODULE (a file ./mgpt_NAME.so, or a backend's NAME)");
        tool_try_help(NULL);
        return EXIT_USAGE;
    }
    return 0;
}

static int is_file_operand(const char *arg)
{
    size_t n = strlen(arg);
    return strchr(arg, '/') || (n > 3 && strcmp(arg + n - 3, ".so") == 0);
}

/* What the loader found, as mgpt backends --verbose would say it. */
static void describe(FILE *f, const mgpt_registry *r, const mgpt_backend_entry *e,
                     const mgpt_cpu_info *cpu)
{
    const mgpt_backend_desc *d = e->desc;
    char need[256];
    mgpt_cpu_feature_names(d->required_features, need, sizeof need);
    fprintf(f, "module:     %s\n", e->path);
    fprintf(f, "backend:    %s: %s\n", e->name, d->description ? d->description : "");
    fprintf(f, "ABI:        built for %u.%u (this mgpt: %u.%u); table of %u slots, %d read\n",
            d->abi_major, d->abi_minor, MGPT_BACKEND_ABI_MAJOR, MGPT_BACKEND_ABI_MINOR,
            d->n_kernels, e->n_slots);
    fprintf(f, "precision:  %s; priority %d; needs %s\n",
            d->precision == MGPT_PRECISION_BF16 ? "bf16 (products), fp32 elsewhere" : "fp32",
            d->priority, need[0] ? need : "nothing");
    int bl = (int)strlen(cpu->brand);
    while (bl > 0 && cpu->brand[bl - 1] == ' ')
        bl--;
    fprintf(f, "CPU:        %.*s (%s, family %d model %d)%s\n", bl, cpu->brand, cpu->vendor,
            cpu->family, cpu->model, r->cpu_masked ? "; features masked by MGPT_CPU_DISABLE" : "");
}

static int check_module(const char *arg, const options *o, mgpt_cpu_info *cpu, FILE *out,
                        FILE *json)
{
    mgpt_registry reg;
    char err[1024] = "";
    int loaded = is_file_operand(arg) ? mgpt_registry_load_file(&reg, arg, NULL, err, sizeof err)
                                      : mgpt_registry_load(&reg, NULL, NULL, err, sizeof err);
    if (loaded < 0) {
        tool_error(NULL, "%s", err);
        return EXIT_USAGE;
    }
    const mgpt_backend_entry *e = NULL;
    if (is_file_operand(arg)) {
        e = reg.n > 0 ? &reg.entries[0] : NULL;
    } else {
        e = mgpt_registry_find(&reg, arg);
        if (!e) {  /* rejected ones are not found by name: say why */
            for (int i = 0; i < reg.n && !e; i++)
                if (strcmp(reg.entries[i].name, arg) == 0)
                    e = &reg.entries[i];
            if (!e) {
                char names[512];
                mgpt_registry_names(&reg, names, sizeof names);
                tool_error(NULL, "no backend '%s' on the plugin path %s (found: %s)", arg,
                           reg.searched, names);
                mgpt_registry_free(&reg);
                return EXIT_USAGE;
            }
        }
    }
    if (!e || !e->desc) {
        tool_error(NULL, "%s: mgpt would skip this module: %s", e ? e->path : arg,
                   e ? e->reason : "not loaded");
        mgpt_registry_free(&reg);
        return EXIT_FAILED;
    }
    if (!o->quiet)
        describe(out, &reg, e, cpu);

    mgpt_checker c;
    int rc = mgpt_check_open(&c, &reg, e->name, err, sizeof err);
    if (rc != 0) {
        tool_error(NULL, "%s: %s", e->path, err);
        mgpt_registry_free(&reg);
        return rc == 2 ? EXIT_USAGE : EXIT_FAILED;
    }
    if (!o->quiet)
        fprintf(out, "loading:    as mgpt would: ok; %d of %d slots native\n\n",
                __builtin_popcountll(c.be.native), mgpt_kernel_count());

    int n_slots = mgpt_kernel_count(), n = 0;
    mgpt_check_row *rows = calloc((size_t)n_slots + 4, sizeof *rows);
    if (!rows) {
        tool_error(NULL, "out of memory");
        mgpt_check_close(&c);
        mgpt_registry_free(&reg);
        return EXIT_FAILED;
    }
    if (!o->quiet)
        mgpt_check_print_header(out);
    for (int i = 0; i < n_slots; i++) {
        if (!((o->slots >> i) & 1u))
            continue;
        mgpt_check_row *r = &rows[n++];
        mgpt_check_slot(&c, i, r);
        if (o->speed && r->native && r->status == MGPT_CHECK_PASS)
            r->gflops = mgpt_check_speed(&c, i, o->speed_time);
        if (!o->quiet || r->status == MGPT_CHECK_FAIL)
            mgpt_check_print_row(out, r);
    }
    if (o->slots == ~(uint64_t)0) {  /* --slots: those slots only */
        mgpt_check_probes(&c, &rows[n]);
        for (int i = 0; i < 2; i++, n++)
            if (!o->quiet || rows[n].status == MGPT_CHECK_FAIL)
                mgpt_check_print_row(out, &rows[n]);
    }
    if (o->training && o->slots == ~(uint64_t)0) {
        mgpt_check_threads(&c, o->steps < 10 ? o->steps : 10, &rows[n]);
        if (!o->quiet || rows[n].status == MGPT_CHECK_FAIL)
            mgpt_check_print_row(out, &rows[n]);
        n++;
        mgpt_check_training(&c, o->steps, &rows[n]);
        if (!o->quiet || rows[n].status == MGPT_CHECK_FAIL)
            mgpt_check_print_row(out, &rows[n]);
        n++;
    }
    int failed = 0, passed = 0, native = __builtin_popcountll(c.be.native);
    for (int i = 0; i < n; i++) {
        failed += rows[i].status == MGPT_CHECK_FAIL;
        passed += rows[i].status == MGPT_CHECK_PASS;
    }
    if (json) {
        char brand[128];
        snprintf(brand, sizeof brand, "%s (family %d model %d)", cpu->brand, cpu->family,
                 cpu->model);
        if (mgpt_check_write_json(json, e->path, e->name, brand, rows, n) != 0) {
            tool_error(NULL, "writing the JSON report failed");
            failed++;
        }
    }
    if (failed)
        fprintf(out, "\n%s: FAILED: %d check%s failed (%d passed)\n", e->name, failed,
                failed == 1 ? "" : "s", passed);
    else if (passed == 1)
        fprintf(out, "\n%s: passed: 1 check (%d of %d slots native)\n", e->name, native, n_slots);
    else
        fprintf(out, "\n%s: passed: %d checks (%d of %d slots native%s)\n", e->name, passed,
                native, n_slots, native < n_slots ? "; the others run the scalar reference" : "");
    free(rows);
    mgpt_check_close(&c);
    mgpt_registry_free(&reg);
    return failed ? EXIT_FAILED : EXIT_PASS;
}

int main(int argc, char **argv)
{
    tool_set_program("mgpt-check-backend", 1);
    options o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? EXIT_PASS : rc;
    mgpt_cpu_info cpu;
    char err[512];
    if (mgpt_cpu_detect(&cpu, err, sizeof err) != 0) {
        tool_error(NULL, "%s", err);
        return EXIT_USAGE;
    }
    /* JSON on standard output replaces the table there: the table goes to stderr */
    FILE *out = o.json && strcmp(o.json, "-") == 0 ? stderr : stdout;
    FILE *json = NULL;
    if (o.json)
        json = strcmp(o.json, "-") == 0 ? stdout : fopen(o.json, "w");
    if (o.json && !json) {
        tool_error(NULL, "cannot write %s: %s", o.json, strerror(errno));
        return EXIT_FAILED;
    }
    int worst = EXIT_PASS;
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            fprintf(out, "\n");
        rc = check_module(argv[i], &o, &cpu, out, json);
        if (rc > worst)
            worst = rc;
    }
    if (json && json != stdout && fclose(json) != 0) {
        tool_error(NULL, "cannot write %s: %s", o.json, strerror(errno));
        worst = worst > EXIT_FAILED ? worst : EXIT_FAILED;
    }
    return worst;
}

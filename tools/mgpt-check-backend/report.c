/* The check's report: a table for people, JSON for machines. */
#include <math.h>
#include <jansson.h>
#include "check.h"

static const char *status_word(mgpt_check_status s)
{
    return s == MGPT_CHECK_PASS ? "pass" : s == MGPT_CHECK_FAIL ? "FAIL" : "skip";
}

static const char *kind(const mgpt_check_row *r)
{
    if (r->slot < 0)
        return "backend";
    return r->native ? "native" : "fallback";
}

void mgpt_check_print_header(FILE *f)
{
    fprintf(f, "%-22s %-8s %10s %7s %-4s %9s\n", "slot", "kernel", "worst/tol", "cases",
            "", "GFLOP/s");
}

void mgpt_check_print_row(FILE *f, const mgpt_check_row *r)
{
    char worst[32] = "-", speed[32] = "-";
    if (r->cases > 0)
        snprintf(worst, sizeof worst, isinf(r->worst) ? "inf" : "%.3f", r->worst);
    if (r->gflops > 0)
        snprintf(speed, sizeof speed, "%.2f", r->gflops);
    fprintf(f, "%-22s %-8s %10s %7ld %-4s %9s\n", r->name, kind(r), worst, r->cases,
            status_word(r->status), speed);
    /* a failure says why under its row; a skip of the module's own slot too */
    if (r->status == MGPT_CHECK_FAIL || (r->status == MGPT_CHECK_SKIP && r->native))
        fprintf(f, "    %s\n", r->detail);
    else if (r->slot < 0 && r->detail[0])
        fprintf(f, "    %s\n", r->detail);
}

void mgpt_check_print_table(FILE *f, const mgpt_check_row *rows, int n)
{
    mgpt_check_print_header(f);
    for (int i = 0; i < n; i++)
        mgpt_check_print_row(f, &rows[i]);
}

int mgpt_check_write_json(FILE *f, const char *module, const char *backend, const char *cpu,
                          const mgpt_check_row *rows, int n)
{
    json_t *root = json_object(), *arr = json_array();
    int failed = 0;
    for (int i = 0; i < n; i++) {
        const mgpt_check_row *r = &rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(r->name));
        json_object_set_new(o, "slot", r->slot >= 0 ? json_integer(r->slot) : json_null());
        json_object_set_new(o, "kernel", json_string(kind(r)));
        json_object_set_new(o, "result", json_string(r->status == MGPT_CHECK_PASS ? "pass"
                                                     : r->status == MGPT_CHECK_FAIL ? "fail"
                                                                                    : "skip"));
        json_object_set_new(o, "cases", json_integer(r->cases));
        /* JSON has no infinity: a NaN or unbounded error is null */
        json_object_set_new(o, "worst_over_tolerance",
                            r->cases > 0 && isfinite(r->worst) ? json_real(r->worst) : json_null());
        json_object_set_new(o, "gflops", r->gflops > 0 ? json_real(r->gflops) : json_null());
        json_object_set_new(o, "detail", json_string(r->detail));
        json_array_append_new(arr, o);
        failed += r->status == MGPT_CHECK_FAIL;
    }
    json_object_set_new(root, "module", json_string(module));
    json_object_set_new(root, "backend", json_string(backend));
    json_object_set_new(root, "cpu", json_string(cpu));
    json_object_set_new(root, "abi", json_sprintf("%u.%u", MGPT_BACKEND_ABI_MAJOR,
                                                  MGPT_BACKEND_ABI_MINOR));
    json_object_set_new(root, "passed", json_boolean(failed == 0));
    json_object_set_new(root, "checks", arr);
    int rc = json_dumpf(root, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF ? 0 : -1;
    json_decref(root);
    return rc;
}

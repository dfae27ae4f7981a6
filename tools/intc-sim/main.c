/*
 * intc-sim — run a libintc scenario file (docs/scenario.md).
 *
 *   intc-sim [--trace=text|json|none] [--vcd=FILE] [--save-at=STEP:FILE]
 *            [--resume=FILE] [--quiet] FILE.yaml
 *
 * Exit: 0 every expectation held, 1 one failed, 2 malformed file or
 * command line (nothing ran), 3 host-level error (I/O).
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: intc-sim [--trace=text|json|none] [--vcd=FILE]\n"
            "                [--save-at=STEP:FILE] [--resume=FILE] [--quiet]"
            "\n                FILE.yaml\n"
            "Runs a libintc scenario (see docs/scenario.md).  Exit status: "
            "0 pass,\n1 an expectation failed, 2 malformed input, 3 I/O "
            "error.\n");
}

static const char *opt_value(const char *arg, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(arg, name, n) == 0 && arg[n] == '=')
        return arg + n + 1;
    return NULL;
}

int main(int argc, char **argv)
{
    sim_options o = {.trace = TRACE_TEXT, .save_at = -1};
    const char *file = NULL, *save_spec = NULL, *v;
    char *step_spec = NULL;
    sim_scenario *s = NULL;
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return SIM_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("intc-sim (libintc %s)\n", intc_version_string());
            return SIM_EXIT_OK;
        } else if ((v = opt_value(a, "--trace"))) {
            if (strcmp(v, "text") == 0)
                o.trace = TRACE_TEXT;
            else if (strcmp(v, "json") == 0)
                o.trace = TRACE_JSON;
            else if (strcmp(v, "none") == 0)
                o.trace = TRACE_NONE;
            else {
                fprintf(stderr, "intc-sim: --trace: text, json or none\n");
                return SIM_EXIT_MALFORMED;
            }
        } else if ((v = opt_value(a, "--vcd"))) {
            o.vcd_path = v;
        } else if ((v = opt_value(a, "--save-at"))) {
            save_spec = v;
        } else if ((v = opt_value(a, "--resume"))) {
            o.resume_path = v;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o.quiet = true;
        } else if (strcmp(a, "--") == 0 && i + 1 == argc - 1 && !file) {
            file = argv[++i];
        } else if (a[0] == '-' && a[1] != 0) {
            fprintf(stderr, "intc-sim: unknown option '%s'\n", a);
            usage(stderr);
            return SIM_EXIT_MALFORMED;
        } else if (file) {
            fprintf(stderr, "intc-sim: one scenario file only\n");
            return SIM_EXIT_MALFORMED;
        } else {
            file = a;
        }
    }
    if (!file) {
        usage(stderr);
        return SIM_EXIT_MALFORMED;
    }
    if (o.quiet)
        o.trace = TRACE_NONE;
    if ((o.vcd_path && !*o.vcd_path) ||
        (o.resume_path && !*o.resume_path)) {
        fprintf(stderr, "intc-sim: empty file name\n");
        return SIM_EXIT_MALFORMED;
    }
    if (save_spec) {
        const char *colon = strchr(save_spec, ':');
        if (!colon || colon == save_spec || !colon[1]) {
            fprintf(stderr, "intc-sim: --save-at=STEP:FILE\n");
            return SIM_EXIT_MALFORMED;
        }
        step_spec = malloc((size_t)(colon - save_spec) + 1);
        if (!step_spec)
            return SIM_EXIT_HOST;
        memcpy(step_spec, save_spec, (size_t)(colon - save_spec));
        step_spec[colon - save_spec] = 0;
        o.save_path = colon + 1;
    }

    rc = sim_scenario_load(file, &s);
    if (rc != SIM_EXIT_OK) {
        free(step_spec);
        return rc;
    }
    if (step_spec) {
        o.save_at = sim_step_lookup(s, step_spec);
        if (o.save_at < 0) {
            fprintf(stderr, "intc-sim: --save-at: %s has no step '%s'\n",
                    file, step_spec);
            rc = SIM_EXIT_MALFORMED;
        }
        free(step_spec);
    }
    if (rc == SIM_EXIT_OK)
        rc = sim_run(s, &o);
    sim_scenario_free(s);
    return rc;
}

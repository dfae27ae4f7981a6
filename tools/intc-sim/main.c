/*
 * intc-sim — run a libintc scenario file (docs/scenario.md), or replay a
 * recording (docs/recording.md).
 *
 *   intc-sim [--trace=text|json|none] [--vcd=FILE] [--save-at=STEP:FILE]
 *            [--resume=FILE] [--record=FILE] [--events=FILE]
 *            [--final-image=FILE] [--perfetto=FILE] [--svg=FILE]
 *            [--quiet] FILE.yaml
 *   (--trace=perfetto FILE is --perfetto=FILE --trace=none; --svg FILE
 *   is --svg=FILE; docs/traces.md)
 *   intc-sim --replay FILE [--trace=text|none] [--events=FILE]
 *            [--final-image=FILE] [--to-yaml=FILE] [--perfetto=FILE]
 *            [--svg=FILE]
 *
 * (fuzz/rec2seed turns a recording into a fuzz_machine input.)
 *
 * Exit: 0 every expectation held (the replay matched the recording), 1
 * one failed (the replay diverged), 2 malformed file or command line
 * (nothing ran), 3 host-level error (I/O).
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: intc-sim [--trace=text|json|none] [--vcd=FILE]\n"
            "                [--save-at=STEP:FILE] [--resume=FILE] "
            "[--record=FILE]\n"
            "                [--events=FILE] [--final-image=FILE]\n"
            "                [--perfetto=FILE | --trace=perfetto FILE] "
            "[--svg=FILE] [--quiet]\n"
            "                FILE.yaml\n"
            "       intc-sim --replay FILE [--trace=text|none] "
            "[--events=FILE]\n"
            "                [--final-image=FILE] [--to-yaml=FILE] "
            "[--perfetto=FILE] [--svg=FILE]\n"
            "Runs a libintc scenario (see docs/scenario.md) or replays a "
            "recording\n(docs/recording.md).  Exit status: 0 pass, 1 an "
            "expectation failed or the\nreplay diverged, 2 malformed input,"
            " 3 I/O error.\n");
}

static const char *opt_value(const char *arg, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(arg, name, n) == 0 && arg[n] == '=')
        return arg + n + 1;
    return NULL;
}

/* The command line: options, file, --save-at's spec. */
typedef struct sim_cli {
    sim_options o;
    const char *file, *save_spec;
    bool replay;
    bool trace_none; /* --trace=perfetto FILE */
} sim_cli;

static bool set_trace(sim_options *o, const char *v)
{
    if (strcmp(v, "text") == 0)
        o->trace = TRACE_TEXT;
    else if (strcmp(v, "json") == 0)
        o->trace = TRACE_JSON;
    else if (strcmp(v, "none") == 0)
        o->trace = TRACE_NONE;
    else
        return false;
    return true;
}

/* A FILE-valued option: *slot set, true; false if arg is not name=. */
static bool path_opt(const char *arg, const char *name, const char **slot)
{
    const char *v = opt_value(arg, name);

    if (v)
        *slot = v;
    return v != NULL;
}

/* --trace=perfetto FILE: the trace goes to FILE, none to stdout. */
static int perfetto_arg(sim_cli *c, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "intc-sim: --trace=perfetto FILE\n");
        return SIM_EXIT_MALFORMED;
    }
    c->o.perfetto_path = argv[++*i];
    c->trace_none = true;
    return -1;
}

/* One argument at argv[*i]; -1 to go on, else an exit code. */
static int parse_arg(sim_cli *c, int argc, char **argv, int *i)
{
    sim_options *o = &c->o;
    const char *a = argv[*i], *v;

    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        usage(stdout);
        return SIM_EXIT_OK;
    }
    if (strcmp(a, "--version") == 0) {
        printf("intc-sim (libintc %s)\n", intc_version_string());
        return SIM_EXIT_OK;
    }
    if ((v = opt_value(a, "--trace"))) {
        if (strcmp(v, "perfetto") == 0)
            return perfetto_arg(c, argc, argv, i);
        if (set_trace(o, v))
            return -1;
        fprintf(stderr, "intc-sim: --trace: text, json, none or "
                        "perfetto FILE\n");
        return SIM_EXIT_MALFORMED;
    }
    if (strcmp(a, "--svg") == 0 && *i + 1 < argc) {
        o->svg_path = argv[++*i];
        return -1;
    }
    if (path_opt(a, "--vcd", &o->vcd_path) ||
        path_opt(a, "--save-at", &c->save_spec) ||
        path_opt(a, "--resume", &o->resume_path) ||
        path_opt(a, "--record", &o->record_path) ||
        path_opt(a, "--events", &o->events_path) ||
        path_opt(a, "--final-image", &o->final_image) ||
        path_opt(a, "--to-yaml", &o->to_yaml) ||
        path_opt(a, "--perfetto", &o->perfetto_path) ||
        path_opt(a, "--svg", &o->svg_path))
        return -1;
    if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
        o->quiet = true;
        return -1;
    }
    if ((v = opt_value(a, "--replay")) ||
        (strcmp(a, "--replay") == 0 && *i + 1 < argc &&
         (v = argv[++*i]) != NULL)) {
        c->replay = true;
        a = v;
    } else if (strcmp(a, "--") == 0 && *i + 1 == argc - 1 && !c->file) {
        a = argv[++*i];
    } else if (a[0] == '-' && a[1] != 0) {
        fprintf(stderr, "intc-sim: unknown option '%s'\n", a);
        usage(stderr);
        return SIM_EXIT_MALFORMED;
    }
    if (c->file) {
        fprintf(stderr, "intc-sim: one scenario or recording only\n");
        return SIM_EXIT_MALFORMED;
    }
    c->file = a;
    return -1;
}

static bool empty(const char *p)
{
    return p && !*p;
}

/* What the options say together; an exit code, or -1 to go on. */
static int check_cli(sim_cli *c)
{
    sim_options *o = &c->o;

    if (!c->file) {
        usage(stderr);
        return SIM_EXIT_MALFORMED;
    }
    if (o->quiet || c->trace_none)
        o->trace = TRACE_NONE;
    if (empty(o->vcd_path) || empty(o->resume_path) ||
        empty(o->record_path) || empty(o->events_path) ||
        empty(o->final_image) || empty(o->to_yaml) ||
        empty(o->perfetto_path) || empty(o->svg_path) ||
        !*c->file) {
        fprintf(stderr, "intc-sim: empty file name\n");
        return SIM_EXIT_MALFORMED;
    }
    if (c->replay && (o->vcd_path || c->save_spec || o->resume_path ||
                      o->record_path || o->trace == TRACE_JSON)) {
        fprintf(stderr, "intc-sim: --replay takes --trace=text|none, "
                        "--events, --final-image, --to-yaml, --perfetto, "
                        "--svg\n");
        return SIM_EXIT_MALFORMED;
    }
    if (!c->replay && o->to_yaml) {
        fprintf(stderr, "intc-sim: --to-yaml converts a recording: use it "
                        "with --replay\n");
        return SIM_EXIT_MALFORMED;
    }
    return -1;
}

/* --save-at=STEP:FILE against the loaded scenario. */
static int save_at(sim_cli *c, const sim_scenario *s)
{
    const char *spec = c->save_spec, *colon = strchr(spec, ':');
    char *step;

    if (!colon || colon == spec || !colon[1]) {
        fprintf(stderr, "intc-sim: --save-at=STEP:FILE\n");
        return SIM_EXIT_MALFORMED;
    }
    step = malloc((size_t)(colon - spec) + 1);
    if (!step)
        return SIM_EXIT_HOST;
    memcpy(step, spec, (size_t)(colon - spec));
    step[colon - spec] = 0;
    c->o.save_path = colon + 1;
    c->o.save_at = sim_step_lookup(s, step);
    if (c->o.save_at < 0)
        fprintf(stderr, "intc-sim: --save-at: %s has no step '%s'\n",
                c->file, step);
    free(step);
    return c->o.save_at < 0 ? SIM_EXIT_MALFORMED : SIM_EXIT_OK;
}

int main(int argc, char **argv)
{
    sim_cli c = {.o = {.trace = TRACE_TEXT, .save_at = -1}};
    sim_scenario *s = NULL;
    int rc = -1;

    for (int i = 1; i < argc && rc < 0; i++)
        rc = parse_arg(&c, argc, argv, &i);
    if (rc < 0)
        rc = check_cli(&c);
    if (rc >= 0)
        return rc;
    if (c.replay)
        return sim_replay(c.file, &c.o);
    rc = sim_scenario_load(c.file, &s);
    if (rc == SIM_EXIT_OK && c.save_spec)
        rc = save_at(&c, s);
    if (rc == SIM_EXIT_OK)
        rc = sim_run(s, &c.o);
    sim_scenario_free(s);
    return rc;
}

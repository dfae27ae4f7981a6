/*
 * libFuzzer target: the intc-sim scenario parser (tools/intc-sim/
 * scenario.c) on arbitrary bytes, and the runner (run.c) on every
 * scenario that parses and stays within the bounds below.  The target is
 * compiled with tight SIM_MAX_* limits (fuzz/CMakeLists.txt, build.sh), so
 * one input's run is short.  Seeds: the project's scenario files.
 * Run with -close_fd_mask=3 (the .options file): the parser reports
 * malformed files and the runner failed expectations on stderr/stdout.
 */
#include "sim.h"

#include <stdlib.h>

/* Bounds of a scenario that is also run (parse-only beyond them). */
#define RUN_MAX_CPUS 16u
#define RUN_MAX_STEPS 128u
#define RUN_MAX_DEVICES 8u
#define RUN_MAX_IOAPICS 8u
#define RUN_MAX_VECTORS 256u

static bool runnable(const sim_scenario *s)
{
    if (s->cfg.n_cpus > RUN_MAX_CPUS || s->n_steps > RUN_MAX_STEPS ||
        s->n_devices > RUN_MAX_DEVICES || s->cfg.n_ioapics > RUN_MAX_IOAPICS)
        return false;
    for (size_t i = 0; i < s->n_devices; i++)
        if (s->devices[i].is_msix && s->devices[i].vectors > RUN_MAX_VECTORS)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sim_scenario *s = NULL;
    int rc = sim_scenario_parse("fuzz.yaml", data, size, &s);

    if (rc == SIM_EXIT_OK) {
        if (!s)
            abort();
        if (runnable(s)) {
            sim_options o = {.trace = TRACE_NONE, .quiet = true,
                             .save_at = -1};
            rc = sim_run(s, &o);
            /* A scenario that parsed is always built and run: a refusal
               by libintc (2) or a host error (3) is a bug somewhere. */
            if (rc != SIM_EXIT_OK && rc != SIM_EXIT_FAIL &&
                rc != SIM_EXIT_MALFORMED)
                abort();
        }
        sim_scenario_free(s);
    } else if (s || (rc != SIM_EXIT_MALFORMED && rc != SIM_EXIT_HOST)) {
        abort();
    }
    return 0;
}

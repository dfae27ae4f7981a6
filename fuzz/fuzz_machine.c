/*
 * Whole-machine fuzz target: several CPUs, one or two IOAPICs, MSI-X
 * functions and an optional IOMMU driven by one operation sequence
 * (machine_ops.h: the input format), with the oracles of oracles.c after
 * every step and per input (determinism, snapshot round trip, xAPIC vs
 * x2APIC).  Any finding aborts with the broken oracle; turn the input into
 * a readable intc-sim scenario with
 *   machine2yaml CRASH_FILE > scenario.yaml
 * (machine2yaml --check CRASH_FILE re-runs the oracles without libFuzzer).
 *
 * Bounded work: inputs longer than MO_MAX_INPUT are ignored (max_len in
 * fuzz_machine.options), at most MO_MAX_STEPS steps, MO_MAX_FIRES timer
 * expiries per advance.  No globals; everything is freed per input.
 */
#include <stdio.h>
#include <stdlib.h>

#include "oracles.h"

#define MO_MAX_INPUT 2048u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[1024];

    if (size > MO_MAX_INPUT)
        return 0;
    if (mo_check_input(data, size, msg, sizeof msg)) {
        fprintf(stderr, "fuzz_machine oracle: %s\n", msg);
        abort();
    }
    return 0;
}

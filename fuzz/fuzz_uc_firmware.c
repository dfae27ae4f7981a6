/*
 * libFuzzer target: the guest's side of interrupt handling.  Example
 * driver firmware (fuzz/uc_fw/) runs on libintc-uc while the input
 * decides when its device raises, withdraws and what its data register
 * reads (uc_firmware.h has the encoding, docs/fuzzing.md the findings).
 * A guest assertion, a watchdog hang or an abnormal stop aborts with a
 * message.
 *
 * Which twin runs comes from the environment, read per input:
 *   UCF_FIRMWARE=fixed (default)  the fixed drivers: any finding is a
 *                                 false alarm of the target or a bug of
 *                                 libintc-uc (what ClusterFuzz runs)
 *   UCF_FIRMWARE=buggy            the drivers with their planted bugs
 *   UCF_FIRMWARE=input            bit 7 of the input's first byte
 * and UCF_DRIVER=<name> (eoi_level, lost_wakeup, shared_counter,
 * missing_eoi) runs that driver whatever the input's first byte says
 * (to hunt one bug at a time).
 */
#include "fuzz_common.h"
#include "uc_firmware.h"

#include <inttypes.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ucf_variant variant_from_env(void)
{
    const char *v = getenv("UCF_FIRMWARE");
    if (v && strcmp(v, "buggy") == 0)
        return UCF_BUGGY;
    if (v && strcmp(v, "input") == 0)
        return UCF_INPUT;
    return UCF_FIXED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ucf_result r;
    const char *drv = getenv("UCF_DRIVER");
    ucf_opts o = {variant_from_env(), drv ? ucf_driver_by_name(drv) : -1, NULL,
                  NULL};
    if (ucf_run(data, size, &o, &r) != 0)
        FZ_ABORT("fuzz_uc_firmware: %s", r.msg);
    if (r.finding)
        FZ_ABORT("fuzz_uc_firmware: %s firmware %s, after %u events, "
                 "%" PRIu64 " ns: %s",
                 r.fixed ? "fixed" : "buggy", ucf_driver_name(r.driver),
                 r.events, r.time_ns, r.msg);
    return 0;
}

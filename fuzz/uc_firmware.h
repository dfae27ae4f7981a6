/*
 * fuzz_uc_firmware: example driver firmware with planted interrupt-
 * handling bugs (fuzz/uc_fw/), run on libintc-uc (include/intc/uc.h)
 * under a device whose behaviour the input scripts.  Shared by the
 * libFuzzer target (fuzz_uc_firmware.c) and the replay driver without
 * libFuzzer (uc_fw_replay.c); docs/fuzzing.md, "Fuzzing firmware's
 * interrupt handling".
 *
 * Input: byte 0 chooses the driver (bits 0-1, enum ucf_driver) and, in
 * UCF_INPUT mode, the fixed twin (bit 7).  Then up to UCF_MAX_EVENTS
 * device events, each
 *     delta   LEB128, at most 3 bytes, capped at UCF_MAX_DELTA: virtual
 *             ns after the previous event (1 ns per instruction while the
 *             CPU runs; halted time counts too)
 *     op      bits 0-1 kind, bits 2-7 argument:
 *             0 raise: 1 + (arg & 3) new events, line asserted
 *             1 retract: the device withdraws its unacknowledged events,
 *               line deasserted
 *             2 data: next byte is the data register's new value
 *             3 raise one event with the next byte as data
 * A truncated last event is ignored.  After the last event the machine
 * runs UCF_DRAIN_NS more.  Everything is deterministic.
 */
#ifndef INTC_FUZZ_UC_FIRMWARE_H
#define INTC_FUZZ_UC_FIRMWARE_H

#include <intc/record.h>

#include <stddef.h>
#include <stdint.h>

enum ucf_driver {
    UCF_EOI_LEVEL = 0,      /* EOI before the device is cleared */
    UCF_LOST_WAKEUP = 1,    /* sti and hlt not adjacent */
    UCF_SHARED_COUNTER = 2, /* counter shared without masking */
    UCF_MISSING_EOI = 3,    /* no EOI after a rare path */
    UCF_N_DRIVERS
};

/* Which twin runs: the input's bit 7, always the buggy one, always the
   fixed one. */
typedef enum ucf_variant { UCF_INPUT, UCF_BUGGY, UCF_FIXED } ucf_variant;

#define UCF_MAX_EVENTS 64u
#define UCF_MAX_DELTA 65536u
#define UCF_DRAIN_NS 200000u

/* A firmware image (generated from fuzz/uc_fw/ by the build). */
typedef struct ucf_image {
    const unsigned char *bytes;
    size_t size;
} ucf_image;
/* [driver][0 = buggy, 1 = fixed] */
extern const ucf_image ucf_images[UCF_N_DRIVERS][2];

typedef struct ucf_result {
    int finding;      /* 1: the run found a bug (msg says which) */
    unsigned driver;  /* enum ucf_driver */
    int fixed;        /* the fixed twin ran */
    unsigned events;  /* device events applied */
    uint64_t time_ns; /* virtual time at the end */
    uint64_t insns;   /* instructions retired */
    char msg[320];
} ucf_result;

/* How to run an input. */
typedef struct ucf_opts {
    ucf_variant variant;
    int driver;         /* enum ucf_driver, or -1: the input's byte 0 */
    intc_record_fn rec; /* non-NULL: record the libintc machine inside */
    void *rec_ctx;      /* from the first instruction to the end */
} ucf_opts;

/* Run one input.  Returns 0, or -1 when the harness itself failed
   (Unicorn, allocation, recording: msg says so). */
int ucf_run(const uint8_t *data, size_t size, const ucf_opts *o,
            ucf_result *out);

/* The driver called name, or -1. */
int ucf_driver_by_name(const char *name);
const char *ucf_driver_name(unsigned driver);

#endif

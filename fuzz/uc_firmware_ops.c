/*
 * The runner of fuzz_uc_firmware (uc_firmware.h): a libintc-uc machine
 * with one CPU, a driver firmware from fuzz/uc_fw/, and a device model
 * (an MMIO register window plus a level IOAPIC input) whose events the
 * input schedules in virtual time.  Between two events the machine runs
 * with a time horizon (intc_uc_run max_ns); at each stop the watchdog
 * looks for a guest-visible hang; the firmware's own assertions arrive
 * as a debug-port exit.
 */
#include "uc_firmware.h"

#include <intc/uc.h>
#include <unicorn/unicorn.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define UCF_DEV_BASE 0xd0000000ull
#define UCF_DEV_GSI 16u
#define UCF_LOAD 0x10000ull
#define UCF_RAM (4u << 20)

/* Register offsets (fuzz/uc_fw/driver.inc). */
enum {
    DEV_STATUS = 0x00,
    DEV_DATA = 0x04,
    DEV_ACK = 0x08,
    DEV_ACKED = 0x0c,
    DEV_RETRACT = 0x10,
    DEV_DONE = 0x14
};

typedef struct ucf_dev {
    intc_uc *m;
    bool line;
    uint32_t pending; /* raised, not acknowledged */
    uint32_t data;
    uint32_t produced;  /* raised in all */
    uint32_t acked;     /* the driver's acknowledgements, summed */
    uint32_t retracted; /* withdrawn before acknowledgement */
    uint32_t done;      /* the driver's last DONE write */
    int gsi_err;        /* intc_uc_set_gsi failed */
} ucf_dev;

static const char *const driver_names[UCF_N_DRIVERS] = {
    "eoi_level", "lost_wakeup", "shared_counter", "missing_eoi"};

const char *ucf_driver_name(unsigned driver)
{
    return driver < UCF_N_DRIVERS ? driver_names[driver] : "unknown";
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
say(ucf_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

/* ---- the device ------------------------------------------------------ */

static void dev_line(ucf_dev *d, bool up)
{
    if (d->line == up)
        return;
    d->line = up;
    if (intc_uc_set_gsi(d->m, UCF_DEV_GSI, up) != INTC_OK)
        d->gsi_err = 1;
}

static uint64_t dev_read(void *opaque, uint32_t cpu, uint64_t off,
                         unsigned size)
{
    const ucf_dev *d = opaque;
    (void)cpu;
    (void)size;
    switch (off) {
    case DEV_STATUS:
        return d->pending;
    case DEV_DATA:
        return d->data;
    case DEV_ACKED:
        return d->acked;
    case DEV_RETRACT:
        return d->retracted;
    default:
        return 0;
    }
}

static void dev_write(void *opaque, uint32_t cpu, uint64_t off, unsigned size,
                      uint64_t val)
{
    ucf_dev *d = opaque;
    uint32_t v = (uint32_t)val;
    (void)cpu;
    (void)size;
    if (off == DEV_ACK) {
        /* The driver's word counts (it may acknowledge an event the
           device withdrew after the driver read STATUS). */
        d->acked += v;
        d->pending -= v < d->pending ? v : d->pending;
        if (d->pending == 0)
            dev_line(d, false);
    } else if (off == DEV_DONE) {
        d->done = v;
    }
}

static const intc_uc_mmio_ops dev_ops = {dev_read, dev_write};

/* ---- the input --------------------------------------------------------- */

typedef struct ucf_event {
    uint64_t delta;
    uint8_t op, arg;
} ucf_event;

/* The next event from p[*pos..n), or 0 at the end (or a truncated one). */
static int next_event(const uint8_t *p, size_t n, size_t *pos, ucf_event *e)
{
    size_t i = *pos;
    uint64_t delta = 0;
    for (unsigned k = 0;; k++) {
        if (i >= n)
            return 0;
        uint8_t b = p[i++];
        delta |= (uint64_t)(b & 0x7f) << (7 * k);
        if (!(b & 0x80) || k == 2)
            break;
    }
    if (i >= n)
        return 0;
    e->delta = delta < UCF_MAX_DELTA ? delta : UCF_MAX_DELTA;
    e->op = p[i++];
    e->arg = 0;
    if ((e->op & 3) >= 2) {
        if (i >= n)
            return 0;
        e->arg = p[i++];
    }
    *pos = i;
    return 1;
}

static void apply_event(ucf_dev *d, const ucf_event *e)
{
    switch (e->op & 3) {
    case 0: {
        uint32_t k = 1u + ((e->op >> 2) & 3u);
        d->pending += k;
        d->produced += k;
        dev_line(d, true);
        break;
    }
    case 1:
        d->retracted += d->pending;
        d->pending = 0;
        dev_line(d, false);
        break;
    case 2:
        d->data = e->arg;
        break;
    default:
        d->data = e->arg;
        d->pending++;
        d->produced++;
        dev_line(d, true);
        break;
    }
}

/* ---- findings ---------------------------------------------------------- */

static const char *exit_meaning(uint64_t code)
{
    switch (code) {
    case 0xbad1:
        return "handler entered with nothing to do more often than the "
               "device withdrew events (spurious re-delivery)";
    case 0xbad3:
        return "idle with nothing queued, events processed != events "
               "acknowledged (lost update of a shared counter)";
    case 0xbadf:
        return "unexpected vector";
    default:
        return "unknown code";
    }
}

/* Watchdog: the CPU sleeps (halted, interrupts on, nothing pending at
   its Local APIC) while the device holds work; no correct driver gets
   there (docs/fuzzing.md).  Returns 1 with a message on a finding. */
static int watchdog(intc_uc *m, const ucf_dev *d, ucf_result *r)
{
    intc_uc_cpu_info ci;
    uint64_t rflags = 0;
    if (intc_uc_cpu_info_get(m, 0, &ci) != INTC_OK ||
        ci.state != INTC_UC_CPU_HALTED)
        return 0;
    uc_reg_read(intc_uc_engine(m, 0), UC_X86_REG_EFLAGS, &rflags);
    intc_lapic *l = intc_machine_lapic(intc_uc_intc(m), 0);
    if (!(rflags & 0x200) || (intc_lapic_pending(l) & INTC_PEND_INTR))
        return 0;
    if (d->pending > 0) {
        say(r,
            "watchdog: CPU halted with interrupts on and nothing "
            "pending while the device holds %" PRIu32 " unacknowledged "
            "event(s), line %s (interrupt starved: vector never EOIed?)",
            d->pending, d->line ? "asserted" : "deasserted");
        return 1;
    }
    if (d->acked > d->done) {
        say(r,
            "watchdog: CPU halted with interrupts on and nothing "
            "pending while %" PRIu32 " acknowledged event(s) wait "
            "unprocessed (lost wake-up)",
            d->acked - d->done);
        return 1;
    }
    return 0;
}

/* Run to the horizon t.  Returns 0 on reaching it, 1 on a finding, -1
   on a harness failure. */
static int run_to(intc_uc *m, const ucf_dev *d, uint64_t t, ucf_result *r)
{
    intc_uc_stop_info si;
    if (t == 0)
        return 0; /* an event at boot: nothing runs before it (and
                     max_ns 0 would mean "no horizon") */
    if (intc_uc_run(m, 0, t, &si) != INTC_OK) {
        say(r, "harness: intc_uc_run refused");
        return -1;
    }
    r->time_ns = si.time_ns;
    r->insns = si.insns;
    if (d->gsi_err) {
        say(r, "harness: intc_uc_set_gsi failed");
        return -1;
    }
    switch (si.reason) {
    case INTC_UC_STOP_TIME_LIMIT:
        return watchdog(m, d, r);
    case INTC_UC_STOP_EXIT:
        say(r, "guest assertion 0x%" PRIx64 " at rip 0x%" PRIx64 ": %s",
            si.code, si.rip, exit_meaning(si.code));
        return 1;
    case INTC_UC_STOP_ALL_HALTED:
        say(r,
            "watchdog: every CPU halted for good (interrupts off, "
            "nothing armed), device pending %" PRIu32,
            d->pending);
        return 1;
    default:
        say(r, "machine stopped: %s, code 0x%" PRIx64 ", rip 0x%" PRIx64,
            intc_uc_stop_name(si.reason), si.code, si.rip);
        return 1;
    }
}

/* After the drain: everything raised must be acknowledged and processed
   (a driver that is busy forever is as bad as one that sleeps). */
static int final_check(const ucf_dev *d, ucf_result *r)
{
    if (d->pending > 0 || d->acked != d->done) {
        say(r,
            "watchdog: %u ns after the last event the device still has "
            "%" PRIu32 " unacknowledged and %" PRIu32 " unprocessed "
            "event(s) (no progress)",
            UCF_DRAIN_NS, d->pending,
            d->acked > d->done ? d->acked - d->done : 0);
        return 1;
    }
    return 0;
}

/* ---- one input ----------------------------------------------------------- */

static intc_uc *new_machine(ucf_dev *d, const ucf_image *img, ucf_result *r)
{
    intc_uc_config cfg;
    intc_err e = INTC_OK;
    intc_uc_config_init(&cfg);
    cfg.ram_size = UCF_RAM;
    intc_uc *m = intc_uc_new(&cfg, &e);
    if (!m) {
        say(r, "harness: intc_uc_new: %s", intc_err_name(e));
        return NULL;
    }
    d->m = m;
    if ((e = intc_uc_load(m, UCF_LOAD, img->bytes, img->size)) != INTC_OK ||
        (e = intc_uc_map_mmio(m, UCF_DEV_BASE, 0x1000, &dev_ops, d)) !=
            INTC_OK) {
        say(r, "harness: load/map: %s", intc_err_name(e));
        intc_uc_free(m);
        return NULL;
    }
    return m;
}

static int run_events(intc_uc *m, ucf_dev *d, const uint8_t *data, size_t size,
                      ucf_result *r)
{
    size_t pos = 1;
    uint64_t t = 0;
    ucf_event ev;
    int rc;
    while (r->events < UCF_MAX_EVENTS && next_event(data, size, &pos, &ev)) {
        t += ev.delta;
        if ((rc = run_to(m, d, t, r)) != 0)
            return rc;
        apply_event(d, &ev);
        r->events++;
    }
    if ((rc = run_to(m, d, t + UCF_DRAIN_NS, r)) != 0)
        return rc;
    return final_check(d, r);
}

int ucf_driver_by_name(const char *name)
{
    for (int d = 0; d < UCF_N_DRIVERS; d++)
        if (strcmp(name, driver_names[d]) == 0)
            return d;
    return -1;
}

int ucf_run(const uint8_t *data, size_t size, const ucf_opts *o,
            ucf_result *out)
{
    ucf_dev dev;
    memset(&dev, 0, sizeof dev);
    memset(out, 0, sizeof *out);
    uint8_t h = size ? data[0] : 0;
    out->driver = o->driver >= 0 ? (unsigned)o->driver % UCF_N_DRIVERS : h & 3u;
    out->fixed =
        o->variant == UCF_FIXED || (o->variant == UCF_INPUT && (h & 0x80));
    intc_uc *m = new_machine(&dev, &ucf_images[out->driver][out->fixed], out);
    if (!m)
        return -1;
    intc_machine *im = intc_uc_intc(m);
    if (o->rec && intc_machine_record(im, o->rec, o->rec_ctx) != INTC_OK) {
        say(out, "harness: intc_machine_record failed");
        intc_uc_free(m);
        return -1;
    }
    int rc = run_events(m, &dev, data, size, out);
    if (o->rec && intc_machine_record(im, NULL, NULL) != INTC_OK && rc == 0) {
        say(out, "harness: the recording failed");
        rc = -1;
    }
    intc_uc_free(m);
    if (rc < 0)
        return -1;
    out->finding = rc;
    return 0;
}

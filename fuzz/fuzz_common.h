/*
 * Shared pieces of the per-surface libFuzzer targets (fuzz/fuzz_*.c):
 *  - fz_in: a byte reader over the input (reads past the end give 0 and
 *    set done, so every input decodes to a finite operation list);
 *  - fz_host: the test kit's host (testkit/kit.h) with a guest-memory
 *    window for IOMMU tables and posted descriptors, its argument checks
 *    on and the targets' callback oracles in its hooks;
 *  - fz_new_machine: one of FZ_N_CONFIGS fixed machine configurations,
 *    chosen by an input byte, so several configurations are explored;
 *  - fz_check / fz_ok: the oracles run after every operation.
 *
 * Everything is per input (the host and the machine are created and
 * freed per input): no mutable globals.
 */
#ifndef INTC_FUZZ_COMMON_H
#define INTC_FUZZ_COMMON_H

#include <intc/intc.h>

#include "kit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- input reader ---------------------------------------------------- */

typedef struct fz_in {
    const uint8_t *p;
    size_t n, pos;
    int done; /* a read ran past the end */
} fz_in;

static inline void fz_init(fz_in *in, const uint8_t *p, size_t n)
{
    in->p = p;
    in->n = n;
    in->pos = 0;
    in->done = 0;
}

static inline uint8_t fz_u8(fz_in *in)
{
    if (in->pos >= in->n) {
        in->done = 1;
        return 0;
    }
    return in->p[in->pos++];
}

static inline uint16_t fz_u16(fz_in *in)
{
    uint16_t v = fz_u8(in);
    return (uint16_t)(v | (uint16_t)fz_u8(in) << 8);
}

static inline uint32_t fz_u32(fz_in *in)
{
    uint32_t v = fz_u16(in);
    return v | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(fz_in *in)
{
    uint64_t v = fz_u32(in);
    return v | (uint64_t)fz_u32(in) << 32;
}

static inline size_t fz_left(const fz_in *in)
{
    return in->n - in->pos;
}

/* Access size: mostly the legal ones, sometimes anything (host misuse). */
static inline unsigned fz_size(fz_in *in)
{
    static const unsigned sizes[8] = {1, 2, 4, 8, 4, 8, 0, 3};
    uint8_t b = fz_u8(in);
    return (b & 0x80) ? b & 0x7f : sizes[b & 7];
}

/* ---- oracles ----------------------------------------------------------- */

#define FZ_ABORT(...)                                                      \
    do {                                                                   \
        fprintf(stderr, "fuzz oracle: " __VA_ARGS__);                      \
        fputc('\n', stderr);                                               \
        abort();                                                           \
    } while (0)

/* The internal-consistency oracle: after every operation that returned. */
static inline void fz_check(const intc_machine *m, const char *op)
{
    char msg[512] = "";
    if (intc_machine_check(m, msg, sizeof msg) != INTC_OK)
        FZ_ABORT("intc_machine_check after %s: %s", op, msg);
}

/* A return code must be one the library defines, and never BUSY (we call
   nothing from inside a callback) or NOMEM (nothing allocates here). */
static inline intc_err fz_ok(intc_err e, const char *op)
{
    if (strcmp(intc_err_name(e), "UNKNOWN") == 0 || e == INTC_ERR_BUSY ||
        e == INTC_ERR_NOMEM || e == INTC_ERR_CORRUPT)
        FZ_ABORT("%s returned %d (%s)", op, (int)e, intc_err_name(e));
    return e;
}

/* ---- host -------------------------------------------------------------- */

#define FZ_MAX_CPUS 8u
#define FZ_MAX_IOAPICS 2u
/* Guest memory: [FZ_GM_BASE, FZ_GM_BASE + FZ_GM_SIZE). */
#define FZ_GM_BASE 0x10000000ull
#define FZ_GM_SIZE 0x10000u
/* Bounds of one input's work. */
#define FZ_MAX_OPS 512u
#define FZ_MAX_ADVANCE (1ull << 32) /* ns per advance op */

/* The host is the test kit's (testkit/kit.h), its contract checks on
   (check_args: every CPU and IOAPIC index and each event's shape against
   the machine), events counted and not stored; the target's own oracles
   run from its hooks (fz_host_new). */
typedef kit_host fz_host;

/* The guest memory window, NULL when the host has none. */
static inline uint8_t *fz_mem(fz_host *h)
{
    return kit_mem(h, FZ_GM_BASE, FZ_GM_SIZE);
}

/* event hook: a restricted callback, the machine refuses re-entry (tried
   on every 64th event). */
static inline void fz_on_event(void *ctx, const intc_event *ev)
{
    fz_host *h = ctx;
    (void)ev;
    if (h->m && ((h->n_events + h->n_events_lost - 1) & 63) == 0) {
        intc_lapic *l = intc_machine_lapic(h->m, 0);
        if (intc_lapic_set_tpr(l, 0x40) != INTC_ERR_BUSY)
            FZ_ABORT("re-entry from the event callback not refused");
    }
}

/* ---- configurations ---------------------------------------------------- */

#define FZ_N_CONFIGS 8u

static const uint32_t fz_ids_sparse[4] = {0, 1, 0x10, 0x23};
static const uint32_t fz_ids_x2[3] = {0, 0x100, 0x12345};
static const uint32_t fz_ids_8[8] = {7, 6, 5, 4, 3, 2, 1, 0};
static const uint8_t fz_wiring_pci[24] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    3, 3, 3, 3, 2, 2, 1, 1};

/* Fill *cfg and io[] (at least 2 entries) with configuration sel. */
static inline void fz_config(unsigned sel, intc_machine_config *cfg,
                             intc_ioapic_config *io)
{
    intc_machine_config_init(cfg);
    memset(io, 0, 2 * sizeof *io);
    io[0].id = 1;
    io[0].version = 0x20;
    io[0].n_pins = 24;
    io[0].gsi_base = 0;
    io[0].source_id = 0xf0f8;
    io[0].pin_wiring = fz_wiring_pci;
    cfg->ioapics = io;
    cfg->n_ioapics = 1;
    switch (sel % FZ_N_CONFIGS) {
    case 0: /* one CPU, defaults */
        break;
    case 1: /* 4 CPUs, sparse IDs, directed EOI, storm throttle */
        cfg->n_cpus = 4;
        cfg->apic_ids = fz_ids_sparse;
        cfg->directed_eoi = true;
        cfg->storm_threshold = 4;
        cfg->storm_throttle_ns = 1000;
        cfg->bsp = 1;
        break;
    case 2: /* 2 CPUs, P6-flavoured xAPIC-only, two 82093AA IOAPICs */
        cfg->n_cpus = 2;
        cfg->x2apic = false;
        cfg->tsc_deadline = false;
        cfg->lvt_cmci = false;
        cfg->lowest_priority_ipi = false;
        cfg->focus_processor = true;
        cfg->apic_bus_errors = true;
        cfg->lapic_version = 0x10;
        cfg->phys_addr_bits = 36;
        cfg->apic_timer_hz = 100000000;
        cfg->tsc_hz = 2500000000ull;
        cfg->msi_ext_dest = false;
        io[0].version = 0x11;
        io[0].pin_wiring = NULL;
        io[1].id = 2;
        io[1].version = 0x11;
        io[1].n_pins = 8;
        io[1].gsi_base = 24;
        io[1].source_id = 0xf0f9;
        io[1].pin_wiring = fz_wiring_pci + 16;
        cfg->n_ioapics = 2;
        cfg->storm_threshold = 2;
        break;
    case 3: /* 3 CPUs with x2APIC IDs, VT-d */
        cfg->n_cpus = 3;
        cfg->apic_ids = fz_ids_x2;
        cfg->iommu.kind = INTC_IOMMU_VTD;
        break;
    case 4: /* 2 CPUs, AMD-Vi */
        cfg->n_cpus = 2;
        cfg->iommu.kind = INTC_IOMMU_AMDVI;
        cfg->storm_threshold = 3;
        cfg->storm_throttle_ns = 500;
        break;
    case 5: /* 8 CPUs, small VT-d without x2APIC or posting */
        cfg->n_cpus = 8;
        cfg->apic_ids = fz_ids_8;
        cfg->iommu.kind = INTC_IOMMU_VTD;
        cfg->iommu.x2apic = false;
        cfg->iommu.posted = false;
        cfg->iommu.n_fault_regs = 1;
        cfg->iommu.cache_entries = 1;
        cfg->apic_timer_hz = 3;
        break;
    case 6: /* 2 CPUs, small AMD-Vi without XT or GA */
        cfg->n_cpus = 2;
        cfg->iommu.kind = INTC_IOMMU_AMDVI;
        cfg->iommu.x2apic = false;
        cfg->iommu.posted = false;
        cfg->iommu.cache_entries = 1;
        cfg->directed_eoi = true;
        break;
    default: /* one CPU, no IOAPIC, no extended destination */
        cfg->n_ioapics = 0;
        cfg->msi_ext_dest = false;
        cfg->lapic_version = 0x15;
        cfg->phys_addr_bits = 52;
        cfg->tsc_hz = 1;
        break;
    }
}

/* Configurations with an IOMMU of that kind (for the IOMMU targets). */
static inline unsigned fz_iommu_config(unsigned kind, uint8_t b)
{
    if (kind == INTC_IOMMU_VTD)
        return (b & 1) ? 5 : 3;
    return (b & 1) ? 6 : 4;
}

/* common.h apic_base_changed: deferred, so the host can read the MSR
   back; it must agree with the value reported. */
static inline void fz_on_apic_base(void *ctx, uint32_t cpu, uint64_t base)
{
    fz_host *h = ctx;
    uint64_t v = 0;
    intc_err e = intc_lapic_msr_read(intc_machine_lapic(h->m, cpu),
                                     INTC_MSR_APIC_BASE, &v);
    if (e != INTC_OK || v != base)
        FZ_ABORT("apic_base_changed(%u, %#llx) but the MSR reads %#llx (%s)",
                 (unsigned)cpu, (unsigned long long)base,
                 (unsigned long long)v, intc_err_name(e));
}

/* A host for one input; with_memory: the guest memory window (else every
   DMA fails).  Aborts on out-of-memory. */
static inline fz_host *fz_host_new(int with_memory)
{
    fz_host *h = kit_host_new(true);

    if (!h)
        abort();
    h->check_args = true;
    h->max_events = 0; /* counted (n_events_lost), not stored */
    h->hooks.ctx = h;
    h->hooks.event = fz_on_event;
    h->hooks.apic_base_changed = fz_on_apic_base;
    if (with_memory && !kit_region_add(h, FZ_GM_BASE, FZ_GM_SIZE))
        abort();
    return h;
}

/* Make every DMA fail (input-controlled), or not. */
static inline void fz_fail_dma(fz_host *h, int fail)
{
    h->fail_dma_read = h->fail_dma_write = fail != 0;
}

/* Bit of a target's configuration byte (FZ_UNTRACED, in targets that
   offer it) that builds the machine without an event callback, so the
   untraced fast paths (msi.c, lapic.c EOI/INTA, bus.c broadcast) run;
   only the checks in the event callback (event shape, re-entry refused)
   are skipped. */
#define FZ_UNTRACED 0x80u

/* Create the machine of configuration sel for h; aborts on failure (every
   configuration in the table is valid).  untraced: no event callback. */
static inline intc_machine *fz_new_machine_opt(fz_host *h, unsigned sel,
                                               int untraced)
{
    intc_machine_config cfg;
    intc_ioapic_config io[2];
    intc_err e = INTC_OK;

    if (untraced)
        h->ops.event = NULL;
    fz_config(sel, &cfg, io);
    if (!kit_machine(h, &cfg, &e))
        FZ_ABORT("intc_machine_new(config %u): %s", sel % FZ_N_CONFIGS,
                 intc_err_name(e));
    if (h->n_cpus != intc_machine_cpu_count(h->m))
        FZ_ABORT("config %u: %u CPUs, the machine has %u",
                 sel % FZ_N_CONFIGS, (unsigned)h->n_cpus,
                 (unsigned)intc_machine_cpu_count(h->m));
    fz_check(h->m, "intc_machine_new");
    return h->m;
}

static inline intc_machine *fz_new_machine(fz_host *h, unsigned sel)
{
    return fz_new_machine_opt(h, sel, 0);
}

/* Check, free the machine and the host. */
static inline void fz_host_free(fz_host *h)
{
    if (h->m)
        fz_check(h->m, "the last operation");
    intc_machine_free(h->m);
    kit_host_free(h);
}

/* Move the clock forward by dt (bounded) and fire every due host timer
   once, as a host's event loop would. */
static inline void fz_advance(fz_host *h, uint64_t dt)
{
    dt %= FZ_MAX_ADVANCE;
    if (h->now > UINT64_MAX - 2 - dt)
        dt = 0;
    h->now += dt;
    for (uint32_t c = 0; c < h->n_cpus; c++) {
        if (h->deadline[c] <= h->now) {
            uint64_t before = h->deadline[c];
            fz_ok(intc_lapic_timer_expired(intc_machine_lapic(h->m, c),
                                           h->now),
                  "intc_lapic_timer_expired");
            fz_check(h->m, "intc_lapic_timer_expired");
            /* A periodic timer re-arms later than now; others disarm. */
            if (h->deadline[c] != UINT64_MAX && h->deadline[c] <= h->now &&
                h->deadline[c] == before)
                FZ_ABORT("cpu %u timer still due at %llu after expiry",
                         (unsigned)c, (unsigned long long)h->now);
        }
    }
    for (uint32_t i = 0; i < h->n_ioapics; i++) {
        if (h->io_deadline[i] <= h->now) {
            fz_ok(intc_ioapic_timer_expired(intc_machine_ioapic(h->m, i),
                                            h->now),
                  "intc_ioapic_timer_expired");
            fz_check(h->m, "intc_ioapic_timer_expired");
        }
    }
}

/* Guest-memory write of n input bytes at off in the window. */
static inline void fz_mem_fill(fz_host *h, fz_in *in, uint32_t off,
                               size_t n)
{
    uint8_t *mem = fz_mem(h);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = fz_u8(in);
        if (mem)
            mem[(off + i) % FZ_GM_SIZE] = b;
    }
}

static inline void fz_mem_w64(fz_host *h, uint32_t off, uint64_t v)
{
    uint8_t *mem = fz_mem(h);
    off %= FZ_GM_SIZE - 7;
    if (mem)
        memcpy(mem + off, &v, 8);
}

/* ---- LAPIC operations shared by several targets ------------------------ */

static inline intc_lapic *fz_lapic(fz_host *h, uint8_t b)
{
    return intc_machine_lapic(h->m, b % h->n_cpus);
}

/* The CPU's side of interrupt handling: ack if INTR is pending, EOI
   through the register of the current mode. */
static inline void fz_cpu_service(fz_host *h, intc_lapic *l, uint8_t how)
{
    unsigned p;
    uint64_t base = 0;

    if (how & 1) {
        int peek = intc_lapic_ack_peek(l);
        int v = intc_lapic_ack(l);
        /* lapic.h: a vector, INTC_ACK_SPURIOUS(SVR[7:0]) or
           INTC_ACK_NONE outside callbacks, and what peek said. */
        if (v < INTC_ACK_NONE || v > INTC_ACK_SPURIOUS(0xff) || v != peek)
            FZ_ABORT("intc_lapic_ack returned %d (peek %d)", v, peek);
        fz_check(h->m, "intc_lapic_ack");
    }
    if (how & 2) {
        intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
        if (base & INTC_APIC_BASE_EXTD)
            fz_ok(intc_lapic_msr_write(l, 0x80b, 0), "wrmsr eoi");
        else
            fz_ok(intc_lapic_mmio_write(l, INTC_LAPIC_EOI, 4, 0),
                  "mmio eoi");
        fz_check(h->m, "eoi");
    }
    if (how & 4) {
        static const unsigned sig[5] = {INTC_PEND_NMI, INTC_PEND_SMI,
                                        INTC_PEND_INIT, INTC_PEND_SIPI,
                                        INTC_PEND_EXTINT};
        uint8_t sv = 0;
        unsigned what = sig[(how >> 3) % 5];
        bool wfs = intc_lapic_waiting_for_sipi(l);
        int r;
        p = intc_lapic_pending(l);
        r = intc_lapic_take(l, what, &sv);
        if (r < 0 || r > 1)
            FZ_ABORT("intc_lapic_take(%#x) returned %d", what, r);
        if (r == 1 && !wfs && !(p & what))
            FZ_ABORT("intc_lapic_take(%#x) took a signal not pending (%#x)",
                     what, p);
        fz_check(h->m, "intc_lapic_take");
    }
}

#endif /* INTC_FUZZ_COMMON_H */

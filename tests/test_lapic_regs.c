/*
 * Local APIC registers: reset state, the read/write rules of every register
 * in xAPIC (MMIO) and x2APIC (MSR) mode, hostile MMIO and MSR accesses,
 * IA32_APIC_BASE and its mode transitions, RESET and INIT.
 *
 * Section numbers are those of the Intel SDM vol. 3A chapter 11.  Where the
 * SDM leaves a choice, the expectation is the one documented in
 * include/intc/lapic.h (cited as "lapic.h").
 *
 * The register tables below (which slots exist, which bits are writable)
 * are written from the SDM, independently of the library's own tables.
 */
#include "lapic_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static void check(const intc_machine *m)
{
    char msg[256] = "";

    if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
        fail_msg("intc_machine_check: %s", msg);
}

static intc_machine_config cfg_default(void)
{
    intc_machine_config cfg;

    intc_machine_config_init(&cfg);
    return cfg;
}

/* Table 11-1: is the 16-byte slot `slot` (offset >> 4) an xAPIC register?
   Reserved: 0x000, 0x010, 0x040-0x070, 0x290-0x2E0, 0x3A0-0x3D0, 0x3F0
   (SELF IPI is x2APIC only), 0x400-0xFF0, and 0x2F0 without LVT CMCI. */
static bool x_present(unsigned slot, bool cmci)
{
    if (slot == 0x02 || slot == 0x03)
        return true; /* ID, version */
    if (slot >= 0x08 && slot <= 0x28)
        return true; /* TPR .. ESR */
    if (slot == 0x2f)
        return cmci;
    if (slot >= 0x30 && slot <= 0x39)
        return true;     /* ICR .. current count */
    return slot == 0x3e; /* divide configuration */
}

/* Does [off, off + size) touch a reserved slot? */
static bool touches_reserved(uint32_t off, unsigned size, bool cmci)
{
    for (uint32_t s = off >> 4; s <= (off + size - 1) >> 4; s++)
        if (!x_present(s, cmci))
            return true;
    return false;
}

static bool is_lvt_off(uint32_t off)
{
    return off == INTC_LAPIC_LVT_CMCI ||
           (off >= INTC_LAPIC_LVT_TIMER && off <= INTC_LAPIC_LVT_ERROR);
}

static uint32_t version_value(const intc_machine_config *cfg)
{
    /* 11.4.8, Figure 11-7: version, max LVT entry (number of LVT entries
       minus 1), EOI-broadcast suppression support (bit 24). */
    return cfg->lapic_version | (cfg->lvt_cmci ? 6u : 5u) << 16 |
           (cfg->directed_eoi ? 1u << 24 : 0);
}

/* 11.4.7.1: the power-up value of an xAPIC register. */
static uint32_t x_reset_value(uint32_t off, const intc_machine_config *cfg,
                              uint8_t xapic_id)
{
    if (off == INTC_LAPIC_ID)
        return (uint32_t)xapic_id << 24;
    if (off == INTC_LAPIC_VERSION)
        return version_value(cfg);
    if (off == INTC_LAPIC_DFR)
        return 0xffffffffu;
    if (off == INTC_LAPIC_SVR)
        return 0xff;
    if (is_lvt_off(off))
        return 0x00010000u; /* masked */
    return 0;
}

/* Aligned 32-bit reads of every present slot (reserved slots: 0, not
   read, so that taking a snapshot logs no error). */
static void snap(intc_lapic *l, bool cmci, uint32_t s[256])
{
    for (unsigned slot = 0; slot < 256; slot++)
        s[slot] = x_present(slot, cmci) ? lr(l, slot << 4) : 0;
}

static void expect_snap_equal(const uint32_t a[256], const uint32_t b[256],
                              const char *what)
{
    for (unsigned slot = 0; slot < 256; slot++)
        if (a[slot] != b[slot])
            fail_msg("%s: register %#05x is %#010x, expected %#010x", what,
                     slot << 4, b[slot], a[slot]);
}

/* Every xAPIC register holds its power-up value (11.4.7.1). */
static void expect_xapic_reset_state(intc_lapic *l,
                                     const intc_machine_config *cfg,
                                     uint8_t xapic_id)
{
    for (unsigned slot = 0; slot < 256; slot++) {
        uint32_t off = slot << 4;
        if (!x_present(slot, cfg->lvt_cmci))
            continue;
        uint32_t got = lr(l, off);
        uint32_t want = x_reset_value(off, cfg, xapic_id);
        if (got != want)
            fail_msg("cpu %u register %#05x: %#010x, reset value %#010x",
                     intc_lapic_cpu(l), off, got, want);
    }
    /* ESR: nothing was pending either (write latches, 11.5.3). */
    lw(l, INTC_LAPIC_ESR, 0);
    assert_int_equal(lr(l, INTC_LAPIC_ESR), 0);
}

/* 11.12.10.2: logical x2APIC ID = (ID[19:4] << 16) | (1 << ID[3:0]). */
static uint32_t x2_ldr_of(uint32_t id)
{
    return ((id >> 4) & 0xffffu) << 16 | 1u << (id & 0xfu);
}

/* Table 11-6: x2APIC MSRs that RDMSR may read. */
static bool x2_readable(uint32_t msr, bool cmci)
{
    unsigned s = msr - 0x800;
    if (s == 0x02 || s == 0x03 || s == 0x08 || s == 0x0a || s == 0x0d ||
        s == 0x0f)
        return true; /* ID, version, TPR, PPR, LDR, SVR */
    if (s >= 0x10 && s <= 0x28)
        return true; /* ISR, TMR, IRR, ESR */
    if (s == 0x2f)
        return cmci;
    if (s == 0x30)
        return true; /* ICR */
    if (s >= 0x32 && s <= 0x39)
        return true;  /* LVTs, initial count, current count */
    return s == 0x3e; /* DCR */
}

/* Table 11-6: x2APIC MSRs that WRMSR may write. */
static bool x2_writable(uint32_t msr, bool cmci)
{
    unsigned s = msr - 0x800;
    switch (s) {
    case 0x08: /* TPR */
    case 0x0b: /* EOI */
    case 0x0f: /* SVR */
    case 0x28: /* ESR */
    case 0x30: /* ICR */
    case 0x3e: /* DCR */
    case 0x3f: /* SELF IPI */
        return true;
    case 0x2f:
        return cmci;
    default:
        return s >= 0x32 && s <= 0x38; /* LVTs, initial count */
    }
}

#define BIT(n) (1ull << (n))
/* LVT fields (11.5.1, Figure 11-8). */
#define LVT_VEC 0xffull
#define LVT_DM 0x700ull
#define LVT_DS BIT(12)
#define LVT_POL BIT(13)
#define LVT_RIRR BIT(14)
#define LVT_TRIG BIT(15)
#define LVT_MASK BIT(16)

/* Bits a WRMSR may set without #GP (11.12.1.3: reserved bits fault;
   lapic.h: read-only LVT status bits may be written as 1, and ICR bit 12
   is accepted). */
static uint64_t x2_allowed_bits(uint32_t msr, const intc_machine_config *cfg)
{
    switch (msr - 0x800) {
    case 0x08:
        return 0xff; /* TPR[7:0] (Figure 11-18) */
    case 0x0b:
    case 0x28:
        return 0; /* EOI, ESR: only 0 (11.12.1.2) */
    case 0x0f:    /* SVR (Figure 11-23): vector, enable, focus, EOI-suppress */
        return 0x3ff | (cfg->directed_eoi ? BIT(12) : 0);
    case 0x2f: /* CMCI */
    case 0x33: /* thermal */
    case 0x34: /* performance counters */
        return LVT_VEC | LVT_DM | LVT_DS | LVT_MASK;
    case 0x32: /* timer: mode bits 17 and (TSC-deadline) 18 */
        return LVT_VEC | LVT_DS | LVT_MASK | BIT(17) |
               (cfg->tsc_deadline ? BIT(18) : 0);
    case 0x35: /* LINT0 */
    case 0x36: /* LINT1 */
        return LVT_VEC | LVT_DM | LVT_DS | LVT_POL | LVT_RIRR | LVT_TRIG |
               LVT_MASK;
    case 0x37: /* error */
        return LVT_VEC | LVT_DS | LVT_MASK;
    case 0x30: /* ICR (Figure 11-28): vector, delivery mode, destination
                  mode, (bit 12), level, trigger, shorthand, destination */
        return 0xffull | 0x700 | BIT(11) | BIT(12) | BIT(14) | BIT(15) |
               BIT(18) | BIT(19) | 0xffffffff00000000ull;
    case 0x38:
        return 0xffffffffull; /* initial count */
    case 0x3e:
        return 0xb; /* DCR bits 0, 1, 3 (Figure 11-10) */
    case 0x3f:
        return 0xff; /* SELF IPI vector (11.12.11) */
    default:
        return 0;
    }
}

/* What an accepted single-bit WRMSR reads back as (read-only status bits
   and ICR bit 12 read 0; an LVT of a software-disabled APIC stays
   masked, 11.4.7.2). */
static uint64_t x2_readback(uint32_t msr, uint64_t val, bool sw_enabled)
{
    unsigned s = msr - 0x800;
    if (s == 0x2f || (s >= 0x32 && s <= 0x37)) {
        val &= ~(LVT_DS | LVT_RIRR);
        return sw_enabled ? val : val | LVT_MASK;
    }
    if (s == 0x30)
        return val & ~BIT(12);
    return val;
}

/* Which mode the APIC is in, found by probing the interfaces. */
enum mode { M_DISABLED, M_XAPIC, M_X2APIC };

static enum mode probe_mode(intc_lapic *l)
{
    uint64_t v;
    intc_err mm = intc_lapic_mmio_read(l, INTC_LAPIC_VERSION, 4, &v);
    intc_err ms = intc_lapic_msr_read(l, X2MSR(INTC_LAPIC_VERSION), &v);

    if (mm == INTC_OK) {
        assert_int_equal(ms, INTC_ERR_GP);
        return M_XAPIC;
    }
    assert_int_equal(mm, INTC_ERR_NOT_DECODED);
    if (ms == INTC_OK)
        return M_X2APIC;
    assert_int_equal(ms, INTC_ERR_GP);
    return M_DISABLED;
}

/*
 * Put distinctive values in the registers of an xAPIC-mode APIC: guest
 * ID 0x3C, TPR, LDR, DFR (cluster), SVR, every LVT, ICR, timer, ESR
 * latched with an error, IRR/ISR/TMR bits.  LVT Error stays masked so a
 * logged error raises nothing.
 */
#define BUSY_XID 0x3cu
static void make_busy(intc_lapic *l)
{
    lw(l, INTC_LAPIC_SVR, 0x1f7); /* enabled, spurious vector 0xF7 */
    lw(l, INTC_LAPIC_ID, BUSY_XID << 24);
    lw(l, INTC_LAPIC_LDR, 0xa5000000);
    lw(l, INTC_LAPIC_DFR, 0x0fffffff);
    /* A level interrupt through LINT0 sets TMR (and LINT0 Remote IRR). */
    lw(l, INTC_LAPIC_LVT_LINT0, 0x8077);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(intc_lapic_set_lint(l, 0, false), INTC_OK);
    lw(l, INTC_LAPIC_LVT_LINT0, 0x1a7b3);
    lw(l, INTC_LAPIC_LVT_LINT1, 0x104a4);
    lw(l, INTC_LAPIC_LVT_CMCI, 0x102f6);
    lw(l, INTC_LAPIC_LVT_THERMAL, 0x104d1);
    lw(l, INTC_LAPIC_LVT_PERF, 0x103c2);
    lw(l, INTC_LAPIC_LVT_ERROR, 0x100e5);
    lw(l, INTC_LAPIC_LVT_TIMER, 0x300ee); /* periodic, masked */
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 0x12345678);
    /* ESR: an illegal-vector self IPI (ESR[5]), latched. */
    lw(l, INTC_LAPIC_ICR_LO, ICR_SELF | 5);
    lw(l, INTC_LAPIC_ESR, 0);
    lw(l, INTC_LAPIC_TPR, 0x5a);
    lw(l, INTC_LAPIC_ICR_HI, 0x5f000000);
    lw(l, INTC_LAPIC_ICR_LO, ICR_SELF | 0x21);
    lw(l, INTC_LAPIC_ICR_LO, ICR_SELF | 0x42);
    lw(l, INTC_LAPIC_ICR_LO, ICR_SELF | 0x8a);
    lw(l, INTC_LAPIC_ICR_LO, ICR_SELF | 0xfe);
    assert_int_equal(intc_lapic_ack(l), 0xfe); /* ISR 0xFE */
    lw(l, INTC_LAPIC_ICR_LO, ICR_SELF | 0x69);
    /* Sanity: the state really is busy. */
    assert_int_equal(lr(l, INTC_LAPIC_ESR), INTC_ESR_SEND_ILLEGAL_VECTOR);
    assert_int_equal(lbit(l, INTC_LAPIC_TMR0, 0x77), 1);
    assert_int_equal(lbit(l, INTC_LAPIC_ISR0, 0xfe), 1);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, 0x69), 1);
}

/* ------------------------------------------------------------------ */
/* 1. Reset state                                                      */
/* ------------------------------------------------------------------ */

/* SDM 11.4.7.1: after RESET every register is 0 except DFR (all 1s),
   SVR (0xFF), the LVTs (mask bit set), ID and version. */
static void test_reset_state_xapic_mmio(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 3;
    intc_machine *m = th_machine(h, &cfg);

    for (uint32_t c = 0; c < 3; c++)
        expect_xapic_reset_state(intc_machine_lapic(m, c), &cfg, (uint8_t)c);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.7.1 + 11.12.5.1: the same power-up state seen through the
   x2APIC MSRs after EN -> EN|EXTD (ID = initial x2APIC ID, LDR derived,
   11.12.10.2). */
static void test_reset_state_x2apic_msr(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x12345, 0x7};
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 2;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);

    for (uint32_t c = 0; c < 2; c++) {
        intc_lapic *l = intc_machine_lapic(m, c);
        uint64_t base = mr(l, INTC_MSR_APIC_BASE);
        mw(l, INTC_MSR_APIC_BASE, base | INTC_APIC_BASE_EXTD);
        for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
            uint64_t want;
            if (!x2_readable(msr, cfg.lvt_cmci))
                continue;
            switch (msr) {
            case 0x802:
                want = ids[c];
                break;
            case 0x803:
                want = version_value(&cfg);
                break;
            case 0x80d:
                want = x2_ldr_of(ids[c]);
                break;
            default:
                want = x_reset_value((msr - 0x800) << 4, &cfg, 0);
                break;
            }
            uint64_t got = mr(l, msr);
            if (got != want)
                fail_msg("cpu %u MSR %#x: %#llx, reset value %#llx", c, msr,
                         (unsigned long long)got, (unsigned long long)want);
        }
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.8 (Figure 11-7): version in bits 7:0, max LVT entry in 23:16
   (5 without CMCI, 6 with), EOI-broadcast suppression support in bit 24;
   same value through MMIO and MSR 0x803. */
static void test_version_register_variants(void **state)
{
    th_host *h = *state;
    static const uint8_t versions[] = {0x10, 0x14, 0x15};

    for (unsigned vi = 0; vi < 3; vi++)
        for (unsigned cmci = 0; cmci < 2; cmci++)
            for (unsigned deo = 0; deo < 2; deo++) {
                intc_machine_config cfg = cfg_default();
                cfg.lapic_version = versions[vi];
                cfg.lvt_cmci = cmci;
                cfg.directed_eoi = deo;
                intc_machine *m = th_machine(h, &cfg);
                intc_lapic *l = intc_machine_lapic(m, 0);
                uint32_t want = versions[vi] | (cmci ? 6u : 5u) << 16 |
                                (deo ? 1u << 24 : 0);

                assert_int_equal(lr(l, INTC_LAPIC_VERSION), want);
                x2_enable(l);
                assert_int_equal(mr(l, X2MSR(INTC_LAPIC_VERSION)), want);
                check(m);
                intc_machine_free(m);
            }
}

/* SDM 11.4.6: in xAPIC mode the ID register holds the 8-bit APIC ID in
   bits 31:24; with 32-bit initial IDs it is the low byte. */
static void test_xapic_id_is_low_byte_of_initial_id(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x12345, 0x7, 0xabc12301u};
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 3;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);

    for (uint32_t c = 0; c < 3; c++) {
        intc_lapic *l = intc_machine_lapic(m, c);
        assert_int_equal(intc_lapic_initial_id(l), ids[c]);
        assert_int_equal(lr(l, INTC_LAPIC_ID), (ids[c] & 0xff) << 24);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.12.5.1: in x2APIC mode the ID register (MSR 0x802) is the full
   32-bit initial x2APIC ID, bits 63:32 zero. */
static void test_x2apic_id_is_32bit_initial_id(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x12345, 0x7, 0xabc12301u, 0xfffffffeu};
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 4;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);

    for (uint32_t c = 0; c < 4; c++) {
        intc_lapic *l = intc_machine_lapic(m, c);
        x2_enable(l);
        assert_int_equal(mr(l, X2MSR(INTC_LAPIC_ID)), (uint64_t)ids[c]);
        check(m);
    }
    intc_machine_free(m);
}

/* SDM 11.12.10.2: LDR = (x2APIC ID[19:4] << 16) | (1 << ID[3:0]); bits
   31:20 of the ID do not take part. */
static void test_x2apic_ldr_derivation(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0,           1,          0xf,     0x10,
                                   0x1f,        0x12345,    0xffffe, 0x100003u,
                                   0xabc12345u, 0xfffffffeu};
    const uint32_t n = sizeof(ids) / sizeof(ids[0]);
    static const uint32_t want[] = {
        0x00000001, 0x00000002, 0x00008000, 0x00010001, 0x00018000,
        0x12340020, 0xffff4000, 0x00000008, 0x12340020, 0xffff4000};
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = n;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);

    for (uint32_t c = 0; c < n; c++) {
        intc_lapic *l = intc_machine_lapic(m, c);
        assert_int_equal(x2_ldr_of(ids[c]), want[c]);
        x2_enable(l);
        assert_int_equal(mr(l, X2MSR(INTC_LAPIC_LDR)), want[c]);
        /* Read-only in x2APIC mode (Table 11-6). */
        assert_int_equal(intc_lapic_msr_write(l, X2MSR(INTC_LAPIC_LDR), 0),
                         INTC_ERR_GP);
        assert_int_equal(mr(l, X2MSR(INTC_LAPIC_LDR)), want[c]);
        check(m);
    }
    intc_machine_free(m);
}

/* ------------------------------------------------------------------ */
/* 2. xAPIC register read/write rules                                  */
/* ------------------------------------------------------------------ */

/* SDM 11.4.6 (Figure 11-6): xAPIC ID bits 31:24 writable, 23:0 reserved
   (read 0). */
static void test_xapic_id_writable_bits(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_ID, 0xffffffff);
    assert_int_equal(lr(l, INTC_LAPIC_ID), 0xff000000u);
    lw(l, INTC_LAPIC_ID, 0x12345678);
    assert_int_equal(lr(l, INTC_LAPIC_ID), 0x12000000u);
    lw(l, INTC_LAPIC_ID, 0x00ffffff);
    assert_int_equal(lr(l, INTC_LAPIC_ID), 0);
    /* The initial ID is not changed by it. */
    assert_int_equal(intc_lapic_initial_id(l), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.3.1 (Figure 11-18): TPR bits 7:0, 31:8 reserved; PPR follows. */
static void test_xapic_tpr_writable_bits(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_TPR, 0xffffffff);
    assert_int_equal(lr(l, INTC_LAPIC_TPR), 0xff);
    assert_int_equal(lr(l, INTC_LAPIC_PPR), 0xff);
    lw(l, INTC_LAPIC_TPR, 0xabcdef12);
    assert_int_equal(lr(l, INTC_LAPIC_TPR), 0x12);
    assert_int_equal(intc_lapic_get_tpr(l), 0x12);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.2 (Figure 11-13): LDR logical APIC ID in bits 31:24. */
static void test_xapic_ldr_writable_bits(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_LDR, 0xffffffff);
    assert_int_equal(lr(l, INTC_LAPIC_LDR), 0xff000000u);
    lw(l, INTC_LAPIC_LDR, 0x81ffffff);
    assert_int_equal(lr(l, INTC_LAPIC_LDR), 0x81000000u);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.2 (Figure 11-14): DFR model in bits 31:28 (1111 flat, 0000
   cluster), bits 27:0 reserved and read as 1s. */
static void test_xapic_dfr_model_bits(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_DFR, 0);
    assert_int_equal(lr(l, INTC_LAPIC_DFR), 0x0fffffffu);
    lw(l, INTC_LAPIC_DFR, 0xf0000000);
    assert_int_equal(lr(l, INTC_LAPIC_DFR), 0xffffffffu);
    lw(l, INTC_LAPIC_DFR, 0x00123456);
    assert_int_equal(lr(l, INTC_LAPIC_DFR), 0x0fffffffu);
    lw(l, INTC_LAPIC_DFR, 0xffffffff);
    assert_int_equal(lr(l, INTC_LAPIC_DFR), 0xffffffffu);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.9 (Figure 11-23): SVR vector 7:0, APIC enable 8, focus
   processor checking 9; bit 12 (EOI-broadcast suppression) only when the
   version register reports it (11.8.5); the rest reserved. */
static void test_xapic_svr_writable_bits(void **state)
{
    th_host *h = *state;

    for (unsigned deo = 0; deo < 2; deo++) {
        intc_machine_config cfg = cfg_default();
        cfg.directed_eoi = deo;
        intc_machine *m = th_machine(h, &cfg);
        intc_lapic *l = intc_machine_lapic(m, 0);
        uint32_t mask = 0x3ff | (deo ? 1u << 12 : 0);

        lw(l, INTC_LAPIC_SVR, 0xffffffff);
        assert_int_equal(lr(l, INTC_LAPIC_SVR), mask);
        for (unsigned b = 0; b < 32; b++) {
            lw(l, INTC_LAPIC_SVR, 1u << b);
            assert_int_equal(lr(l, INTC_LAPIC_SVR), (1u << b) & mask);
        }
        check(m);
        intc_machine_free(m);
    }
}

/* The bits of an xAPIC LVT that a write stores (11.5.1, Figure 11-8).
   Delivery status and Remote IRR are read-only. */
static uint32_t lvt_stored_bits(uint32_t off, const intc_machine_config *cfg)
{
    switch (off) {
    case INTC_LAPIC_LVT_TIMER:
        return 0xff | 1u << 16 | 1u << 17 | (cfg->tsc_deadline ? 1u << 18 : 0);
    case INTC_LAPIC_LVT_LINT0:
    case INTC_LAPIC_LVT_LINT1:
        return 0xff | 0x700 | 1u << 13 | 1u << 15 | 1u << 16;
    case INTC_LAPIC_LVT_ERROR:
        return 0xff | 1u << 16;
    default: /* CMCI, thermal, performance */
        return 0xff | 0x700 | 1u << 16;
    }
}

static const uint32_t lvt_offs[] = {
    INTC_LAPIC_LVT_CMCI, INTC_LAPIC_LVT_TIMER, INTC_LAPIC_LVT_THERMAL,
    INTC_LAPIC_LVT_PERF, INTC_LAPIC_LVT_LINT0, INTC_LAPIC_LVT_LINT1,
    INTC_LAPIC_LVT_ERROR};

/* SDM 11.5.1 (Figure 11-8): each LVT's writable bits, for every bit. */
static void test_xapic_lvt_writable_bits(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    for (unsigned i = 0; i < 7; i++) {
        uint32_t off = lvt_offs[i];
        uint32_t mask = lvt_stored_bits(off, &cfg);
        for (unsigned b = 0; b < 32; b++) {
            lw(l, off, 1u << b);
            uint32_t got = lr(l, off);
            if (got != ((1u << b) & mask))
                fail_msg("LVT %#x write bit %u: read %#x, want %#x", off, b,
                         got, (1u << b) & mask);
        }
        lw(l, off, 0xffffffff);
        assert_int_equal(lr(l, off), mask);
        lw(l, off, 0x10000); /* masked again */
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.4.1: timer mode bit 18 (TSC-deadline) exists only when
   CPUID.1:ECX[24] is set; otherwise it is reserved. */
static void test_xapic_lvt_timer_bit18_needs_tsc_deadline(void **state)
{
    th_host *h = *state;

    for (unsigned tscd = 0; tscd < 2; tscd++) {
        intc_machine_config cfg = cfg_default();
        cfg.tsc_deadline = tscd;
        intc_machine *m = th_machine(h, &cfg);
        intc_lapic *l = intc_machine_lapic(m, 0);

        sw_enable(l);
        lw(l, INTC_LAPIC_LVT_TIMER, 0x40000 | 0x10030);
        assert_int_equal(lr(l, INTC_LAPIC_LVT_TIMER),
                         (tscd ? 0x40000u : 0) | 0x10030);
        lw(l, INTC_LAPIC_LVT_TIMER, 0x60030);
        assert_int_equal(lr(l, INTC_LAPIC_LVT_TIMER),
                         (tscd ? 0x60030u : 0x20030u));
        check(m);
        intc_machine_free(m);
    }
}

/* SDM 11.4.7.2: while software-disabled the LVT mask bits are forced set;
   a software disable sets all of them. */
static void test_xapic_lvt_masked_while_software_disabled(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    for (unsigned i = 0; i < 7; i++) {
        lw(l, lvt_offs[i], 0x31);
        assert_int_equal(lr(l, lvt_offs[i]), 0x10031);
    }
    sw_enable(l);
    for (unsigned i = 0; i < 7; i++) {
        lw(l, lvt_offs[i], 0x31);
        assert_int_equal(lr(l, lvt_offs[i]), 0x31);
    }
    lw(l, INTC_LAPIC_SVR, 0xff);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(lr(l, lvt_offs[i]), 0x10031);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.6.1 (Figure 11-12): ICR low stores vector, delivery mode,
   destination mode, level, trigger, shorthand; delivery status (12) is
   read-only and reads 0 here (delivery is instantaneous); bits 13, 16-17,
   20-31 reserved.  ICR high: destination in bits 31:24 only. */
static void test_xapic_icr_masks(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL); /* one CPU: the IPIs reach none */
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_ICR_HI, 0xffffffff);
    assert_int_equal(lr(l, INTC_LAPIC_ICR_HI), 0xff000000u);
    lw(l, INTC_LAPIC_ICR_HI, 0x00ffffff);
    assert_int_equal(lr(l, INTC_LAPIC_ICR_HI), 0);
    lw(l, INTC_LAPIC_ICR_HI, 0x42000000);
    /* All-excluding-self, ExtINT, vector 0xFF: nobody else to reach. */
    lw(l, INTC_LAPIC_ICR_LO, 0xffffffff);
    assert_int_equal(lr(l, INTC_LAPIC_ICR_LO), 0x000ccfffu);
    /* Writing ICR low does not touch ICR high. */
    assert_int_equal(lr(l, INTC_LAPIC_ICR_HI), 0x42000000u);
    /* Delivery status and reserved bits alone read 0. */
    lw(l, INTC_LAPIC_ICR_LO, 0xfff33000u | ICR_OTHERS);
    assert_int_equal(lr(l, INTC_LAPIC_ICR_LO), ICR_OTHERS);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.4 (Figure 11-10): DCR bits 0, 1 and 3; bit 2 and 31:4
   reserved. */
static void test_xapic_dcr_bits(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_TIMER_DCR, 0xffffffff);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_DCR), 0xb);
    lw(l, INTC_LAPIC_TIMER_DCR, 0x4);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_DCR), 0);
    for (unsigned b = 0; b < 32; b++) {
        lw(l, INTC_LAPIC_TIMER_DCR, 1u << b);
        assert_int_equal(lr(l, INTC_LAPIC_TIMER_DCR), (1u << b) & 0xb);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.4: the initial count register is 32-bit read/write. */
static void test_xapic_timer_initial_count_rw(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_TIMER_ICR, 0xffffffff);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 0xffffffffu);
    lw(l, INTC_LAPIC_TIMER_ICR, 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 0);
    check(m);
    intc_machine_free(m);
}

/* Table 11-1: version, APR, PPR, ISR, TMR, IRR, current count and RRD
   are read-only: writes leave them unchanged. */
static void test_xapic_readonly_registers_ignore_writes(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint32_t before[256], after[256];

    make_busy(l);
    assert_int_not_equal(lr(l, INTC_LAPIC_PPR), 0);
    assert_int_not_equal(lr(l, INTC_LAPIC_APR), 0);
    assert_int_not_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    snap(l, cfg.lvt_cmci, before);
    static const uint32_t ro[] = {INTC_LAPIC_VERSION, INTC_LAPIC_APR,
                                  INTC_LAPIC_PPR, INTC_LAPIC_RRD,
                                  INTC_LAPIC_TIMER_CCR};
    for (unsigned i = 0; i < 5; i++) {
        lw(l, ro[i], 0xffffffff);
        lw(l, ro[i], 0);
    }
    for (unsigned i = 0; i < 8; i++) {
        for (uint32_t base = INTC_LAPIC_ISR0; base <= INTC_LAPIC_IRR0;
             base += 0x80) {
            lw(l, base + 0x10 * i, 0);
            lw(l, base + 0x10 * i, 0xffffffff);
        }
    }
    snap(l, cfg.lvt_cmci, after);
    expect_snap_equal(before, after, "after writes to read-only registers");
    check(m);
    intc_machine_free(m);
}

/* Table 11-1: EOI is write-only (reads 0), also with ISR bits set; RRD
   reads 0. */
static void test_xapic_eoi_and_rrd_read_zero(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    make_busy(l);
    assert_int_equal(lr(l, INTC_LAPIC_EOI), 0);
    assert_int_equal(lr(l, INTC_LAPIC_RRD), 0);
    /* The read was not an EOI. */
    assert_int_equal(lbit(l, INTC_LAPIC_ISR0, 0xfe), 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3: writing ESR latches the errors logged since the last
   write; the value written is not stored. */
static void test_xapic_esr_write_does_not_store_value(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_ESR, 0xffffffff);
    assert_int_equal(lr(l, INTC_LAPIC_ESR), 0);
    check(m);
    intc_machine_free(m);
}

/* ------------------------------------------------------------------ */
/* 3. Hostile MMIO                                                     */
/* ------------------------------------------------------------------ */

/* The register view of the page (lapic.h): each slot's 32-bit value in
   bytes 0-3, zeros elsewhere; reserved slots read 0. */
static void build_view(const uint32_t regs[256], uint8_t view[4096])
{
    memset(view, 0, 4096);
    for (unsigned slot = 0; slot < 256; slot++)
        for (unsigned b = 0; b < 4; b++)
            view[slot * 16 + b] = (uint8_t)(regs[slot] >> (8 * b));
}

static uint64_t view_bytes(const uint8_t view[4096], uint32_t off,
                           unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)view[off + i] << (8 * i);
    return v;
}

static const unsigned sizes[] = {1, 2, 4, 8};

/* lapic.h register view; SDM 11.4.1: loads of any size and alignment in
   the page return the bytes of the register view; never an error. */
static void test_mmio_reads_every_offset_and_size(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint32_t regs[256], after[256];
    static uint8_t view[4096];

    make_busy(l);
    snap(l, cfg.lvt_cmci, regs);
    /* Reserved slots read 0 with an aligned 32-bit load too. */
    for (unsigned slot = 0; slot < 256; slot++)
        if (!x_present(slot, cfg.lvt_cmci))
            assert_int_equal(lr(l, slot << 4), 0);
    build_view(regs, view);
    for (unsigned si = 0; si < 4; si++) {
        unsigned size = sizes[si];
        for (uint32_t off = 0; off + size <= 4096; off++) {
            uint64_t v = 0xdeadbeefdeadbeefull;
            intc_err e = intc_lapic_mmio_read(l, off, size, &v);
            if (e != INTC_OK)
                fail_msg("read off %#x size %u: %s", off, size,
                         intc_err_name(e));
            uint64_t want = view_bytes(view, off, size);
            if (v != want)
                fail_msg("read off %#x size %u: %#llx, view %#llx", off, size,
                         (unsigned long long)v, (unsigned long long)want);
        }
    }
    /* Reads changed no register. */
    snap(l, cfg.lvt_cmci, after);
    expect_snap_equal(regs, after, "after the read sweep");
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 ESR[7] (illegal register address) + lapic.h: an access that
   touches a reserved slot logs ESR[7] (seen after the ESR write); an
   access touching only registers logs nothing. */
static void test_mmio_reserved_slots_set_esr7_on_read(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);

    make_busy(l);
    for (unsigned si = 0; si < 4; si++) {
        unsigned size = sizes[si];
        for (uint32_t off = 0; off + size <= 4096; off++) {
            uint64_t v;
            lw(l, INTC_LAPIC_ESR, 0);
            assert_int_equal(intc_lapic_mmio_read(l, off, size, &v), INTC_OK);
            lw(l, INTC_LAPIC_ESR, 0);
            uint32_t want = touches_reserved(off, size, cfg.lvt_cmci)
                                ? INTC_ESR_ILLEGAL_REGISTER
                                : 0;
            uint32_t esr = lr(l, INTC_LAPIC_ESR);
            if (esr != want)
                fail_msg("read off %#x size %u: ESR %#x, want %#x", off, size,
                         esr, want);
        }
    }
    check(m);
    intc_machine_free(m);
}

/* Table 11-1: 0x2F0 (LVT CMCI) is reserved when the APIC has only 5 LVT
   entries: reads 0, ESR[7], writes do nothing. */
static void test_mmio_cmci_slot_reserved_without_cmci(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    cfg.lvt_cmci = false;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint32_t before[256], after[256];

    sw_enable(l);
    snap(l, false, before);
    lw(l, INTC_LAPIC_ESR, 0);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_CMCI), 0);
    lw(l, INTC_LAPIC_ESR, 0);
    assert_int_equal(lr(l, INTC_LAPIC_ESR), INTC_ESR_ILLEGAL_REGISTER);
    lw(l, INTC_LAPIC_LVT_CMCI, 0x30);
    lw(l, INTC_LAPIC_ESR, 0);
    assert_int_equal(lr(l, INTC_LAPIC_ESR), INTC_ESR_ILLEGAL_REGISTER);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_CMCI), 0);
    lw(l, INTC_LAPIC_ESR, 0); /* latches the read's ESR[7] */
    lw(l, INTC_LAPIC_ESR, 0);
    snap(l, false, after);
    expect_snap_equal(before, after, "after CMCI slot accesses");
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.1 + lapic.h: only aligned 32-bit stores at a slot start write;
   every other store (each offset, sizes 1, 2, 4, 8) changes no register,
   is reported as INTC_EV_BAD_ACCESS, and sets ESR[7] iff it touches a
   reserved slot.  Aligned 32-bit stores to reserved slots change nothing
   and set ESR[7]. */
static void test_mmio_bad_writes_change_nothing(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint32_t base[256], now[256];

    make_busy(l);
    lw(l, INTC_LAPIC_ESR, 0);
    snap(l, cfg.lvt_cmci, base);
    assert_int_equal(base[INTC_LAPIC_ESR >> 4], 0);
    for (unsigned si = 0; si < 4; si++) {
        unsigned size = sizes[si];
        for (uint32_t off = 0; off + size <= 4096; off++) {
            bool arch = size == 4 && (off & 15) == 0;
            bool rsv = touches_reserved(off, size, cfg.lvt_cmci);
            if (arch && !rsv)
                continue; /* a real register write */
            uint64_t val = (off & 1) ? 0 : ~0ull;

            th_clear_events(h);
            intc_err e = intc_lapic_mmio_write(l, off, size, val);
            if (e != INTC_OK)
                fail_msg("write off %#x size %u: %s", off, size,
                         intc_err_name(e));
            TH_IF_TRACED(h) {
                size_t bad = th_count_events(h, INTC_EV_BAD_ACCESS);
                size_t esr_ev = th_count_events(h, INTC_EV_ESR_ERROR);
                if (h->n_events != bad + esr_ev) {
                    th_dump_events(h);
                    fail_msg("write off %#x size %u: unexpected events", off,
                             size);
                }
                if (!arch) {
                    const intc_event *ev = th_find_event(
                        h, INTC_EV_BAD_ACCESS, 0, TH_ANY_VECTOR);
                    if (bad != 1 || !ev)
                        fail_msg("write off %#x size %u: %zu BAD_ACCESS "
                                 "events",
                                 off, size, bad);
                    assert_int_equal(ev->pin, off);
                    assert_int_equal(ev->data, size);
                }
            }
            lw(l, INTC_LAPIC_ESR, 0);
            uint32_t esr = lr(l, INTC_LAPIC_ESR);
            if (esr != (rsv ? INTC_ESR_ILLEGAL_REGISTER : 0))
                fail_msg("write off %#x size %u: ESR %#x", off, size, esr);
            lw(l, INTC_LAPIC_ESR, 0);
            snap(l, cfg.lvt_cmci, now);
            for (unsigned s = 0; s < 256; s++)
                if (now[s] != base[s])
                    fail_msg("write off %#x size %u val %#llx changed "
                             "register %#05x: %#x -> %#x",
                             off, size, (unsigned long long)val, s << 4,
                             base[s], now[s]);
        }
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 + lapic.h: an illegal register access signals the LVT Error
   interrupt (once until the ESR is written again). */
static void test_mmio_reserved_access_signals_lvt_error(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint64_t v;

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_ERROR, 0xe5);
    assert_int_equal(intc_lapic_mmio_write(l, 0x400, 4, 1), INTC_OK);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, 0xe5), 1);
    assert_int_equal(intc_lapic_ack(l), 0xe5);
    lw(l, INTC_LAPIC_EOI, 0);
    /* Not re-armed: a second illegal access raises nothing. */
    assert_int_equal(intc_lapic_mmio_read(l, 0x010, 1, &v), INTC_OK);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, 0xe5), 0);
    /* The ESR write re-arms it. */
    lw(l, INTC_LAPIC_ESR, 0);
    assert_int_equal(lr(l, INTC_LAPIC_ESR), INTC_ESR_ILLEGAL_REGISTER);
    assert_int_equal(intc_lapic_mmio_read(l, 0xff8, 8, &v), INTC_OK);
    assert_int_equal(v, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, 0xe5), 1);
    check(m);
    intc_machine_free(m);
}

/* lapic.h: host misuse (size not 1/2/4/8, offset outside the page, an
   access crossing its end, NULL) is INTC_ERR_INVAL and does nothing. */
static void test_mmio_host_misuse_is_inval(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    static const struct {
        uint32_t off;
        unsigned size;
    } bad[] = {{0x80, 0},      {0x80, 3}, {0x80, 5},        {0x80, 16},
               {0x80, 7},      {4096, 1}, {4096, 4},        {4094, 4},
               {4095, 2},      {4089, 8}, {0xffffffffu, 1}, {0xfffffffcu, 4},
               {0x1000000u, 4}};
    uint32_t before[256], after[256];

    sw_enable(l);
    lw(l, INTC_LAPIC_TPR, 0x20);
    snap(l, true, before);
    th_clear_events(h);
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 0x1234;
        assert_int_equal(intc_lapic_mmio_read(l, bad[i].off, bad[i].size, &v),
                         INTC_ERR_INVAL);
        assert_int_equal(v, 0x1234);
        assert_int_equal(intc_lapic_mmio_write(l, bad[i].off, bad[i].size, 0),
                         INTC_ERR_INVAL);
    }
    assert_int_equal(intc_lapic_mmio_read(l, INTC_LAPIC_TPR, 4, NULL),
                     INTC_ERR_INVAL);
    assert_int_equal(
        intc_lapic_mmio_read(NULL, INTC_LAPIC_TPR, 4, &(uint64_t){0}),
        INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_mmio_write(NULL, INTC_LAPIC_TPR, 4, 0),
                     INTC_ERR_INVAL);
    th_assert_no_events(h);
    /* Nothing was logged or changed. */
    lw(l, INTC_LAPIC_ESR, 0);
    assert_int_equal(lr(l, INTC_LAPIC_ESR), 0);
    snap(l, true, after);
    expect_snap_equal(before, after, "after host misuse");
    check(m);
    intc_machine_free(m);
}

/* SDM 11.12.1.2: in x2APIC mode the xAPIC page is not decoded
   (lapic.h: INTC_ERR_NOT_DECODED, doing nothing). */
static void test_mmio_not_decoded_in_x2apic_mode(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    x2_enable(l);
    mw(l, X2MSR(INTC_LAPIC_TPR), 0x20);
    th_clear_events(h);
    for (unsigned si = 0; si < 4; si++)
        for (uint32_t off = 0; off + sizes[si] <= 4096; off += 4) {
            uint64_t v = 0x5555;
            assert_int_equal(intc_lapic_mmio_read(l, off, sizes[si], &v),
                             INTC_ERR_NOT_DECODED);
            assert_int_equal(v, 0x5555);
            assert_int_equal(intc_lapic_mmio_write(l, off, sizes[si], 0),
                             INTC_ERR_NOT_DECODED);
        }
    th_assert_no_events(h);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_TPR)), 0x20);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_SVR)), 0x1ff);
    mw(l, X2MSR(INTC_LAPIC_ESR), 0);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_ESR)), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.3: a globally disabled APIC does not decode its page. */
static void test_mmio_not_decoded_when_globally_disabled(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    mw(l, INTC_MSR_APIC_BASE, INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_BSP);
    th_clear_events(h);
    for (unsigned si = 0; si < 4; si++)
        for (uint32_t off = 0; off + sizes[si] <= 4096; off += 4) {
            uint64_t v = 0x5555;
            assert_int_equal(intc_lapic_mmio_read(l, off, sizes[si], &v),
                             INTC_ERR_NOT_DECODED);
            assert_int_equal(v, 0x5555);
            assert_int_equal(intc_lapic_mmio_write(l, off, sizes[si], ~0ull),
                             INTC_ERR_NOT_DECODED);
        }
    th_assert_no_events(h);
    /* Re-enabled, it is still in its power-up state. */
    mw(l, INTC_MSR_APIC_BASE,
       INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_BSP | INTC_APIC_BASE_EN);
    intc_machine_config cfg = cfg_default();
    expect_xapic_reset_state(l, &cfg, 0);
    check(m);
    intc_machine_free(m);
}

/* ------------------------------------------------------------------ */
/* 4. Hostile MSRs                                                     */
/* ------------------------------------------------------------------ */

/* SDM 11.12.1.2: the x2APIC MSR range faults (#GP) outside x2APIC mode,
   in xAPIC mode and when globally disabled. */
static void test_msr_x2apic_range_gp_outside_x2apic_mode(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
            uint64_t v;
            assert_int_equal(intc_lapic_msr_read(l, msr, &v), INTC_ERR_GP);
            assert_int_equal(intc_lapic_msr_write(l, msr, 0), INTC_ERR_GP);
            assert_int_equal(intc_lapic_msr_write(l, msr, 0x1ff), INTC_ERR_GP);
        }
        if (pass == 0) {
            /* Nothing reached the xAPIC registers. */
            intc_machine_config cfg = cfg_default();
            expect_xapic_reset_state(l, &cfg, 0);
            mw(l, INTC_MSR_APIC_BASE,
               INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_BSP);
        }
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.12.1.2, Table 11-6: in x2APIC mode RDMSR works exactly on the
   readable registers and WRMSR on the writable ones; absent MSRs (0x800,
   0x801, APR 0x809, RRD 0x80C, DFR 0x80E, ICR2 0x831, reserved) fault
   both ways, read-only ones fault on write, EOI and SELF IPI on read. */
static void x2_presence(th_host *h, intc_machine_config *cfg)
{
    intc_machine *m = th_machine(h, cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);

    x2_enable(l);
    for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
        uint64_t v = 0;
        intc_err e = intc_lapic_msr_read(l, msr, &v);
        intc_err want = x2_readable(msr, cfg->lvt_cmci) ? INTC_OK : INTC_ERR_GP;
        if (e != want)
            fail_msg("RDMSR %#x: %s, want %s", msr, intc_err_name(e),
                     intc_err_name(want));
        /* Only the ICR is 64-bit (11.12.1.2). */
        if (e == INTC_OK && msr != 0x830 && (v >> 32) != 0)
            fail_msg("RDMSR %#x: bits 63:32 = %#llx", msr,
                     (unsigned long long)(v >> 32));
        e = intc_lapic_msr_write(l, msr, 0);
        want = x2_writable(msr, cfg->lvt_cmci) ? INTC_OK : INTC_ERR_GP;
        if (e != want)
            fail_msg("WRMSR %#x, 0: %s, want %s", msr, intc_err_name(e),
                     intc_err_name(want));
    }
    check(m);
    intc_machine_free(m);
}

static void test_msr_x2apic_presence_table(void **state)
{
    intc_machine_config cfg = cfg_default();
    x2_presence(*state, &cfg);
}

static void test_msr_x2apic_presence_without_cmci(void **state)
{
    intc_machine_config cfg = cfg_default();
    cfg.lvt_cmci = false;
    x2_presence(*state, &cfg);
}

/* SDM 11.12.1.3: a WRMSR with a non-zero reserved bit faults (bits 63:32
   of 32-bit registers included).  Each bit 0..63 of each writable MSR is
   tried on its own; the accepted ones are exactly the register's defined
   bits, and an accepted write reads back (read-only status bits as 0). */
static void x2_reserved_bits(th_host *h, const intc_machine_config *cfg)
{
    intc_machine *m = th_machine(h, cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);

    x2_enable(l);
    for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
        if (!x2_writable(msr, cfg->lvt_cmci))
            continue;
        uint64_t allowed = x2_allowed_bits(msr, cfg);
        /* Start each register from the INIT state (x2APIC mode kept,
           software-disabled). */
        assert_int_equal(intc_lapic_reset(l, true), INTC_OK);
        bool sw = false;
        for (unsigned b = 0; b < 64; b++) {
            uint64_t val = BIT(b);
            intc_err e = intc_lapic_msr_write(l, msr, val);
            intc_err want = (allowed & val) ? INTC_OK : INTC_ERR_GP;
            if (e != want)
                fail_msg("WRMSR %#x bit %u: %s, want %s", msr, b,
                         intc_err_name(e), intc_err_name(want));
            if (e != INTC_OK || !x2_readable(msr, cfg->lvt_cmci) ||
                msr == 0x828)
                continue;
            if (msr == 0x80f)
                sw = b == 8;
            uint64_t got = mr(l, msr);
            uint64_t exp = x2_readback(msr, val, sw);
            if (got != exp)
                fail_msg("WRMSR %#x bit %u: reads %#llx, want %#llx", msr, b,
                         (unsigned long long)got, (unsigned long long)exp);
        }
        /* All defined bits at once are accepted too, one more bit not. */
        if (allowed) {
            assert_int_equal(intc_lapic_msr_write(l, msr, 0), INTC_OK);
            if (msr != 0x830) /* (an all-ones ICR would be an IPI storm) */
                assert_int_equal(intc_lapic_msr_write(l, msr, allowed),
                                 INTC_OK);
            if (~allowed)
                assert_int_equal(intc_lapic_msr_write(l, msr, ~0ull),
                                 INTC_ERR_GP);
        }
        check(m);
    }
    intc_machine_free(m);
}

static void test_msr_x2apic_reserved_bits_default(void **state)
{
    intc_machine_config cfg = cfg_default();
    x2_reserved_bits(*state, &cfg);
}

static void test_msr_x2apic_reserved_bits_deo_no_tscd_no_cmci(void **state)
{
    intc_machine_config cfg = cfg_default();
    cfg.directed_eoi = true;
    cfg.tsc_deadline = false;
    cfg.lvt_cmci = false;
    x2_reserved_bits(*state, &cfg);
}

/* Table 11-6: read-only and absent MSRs fault on every WRMSR value and
   keep their value. */
static void test_msr_x2apic_readonly_fault_any_value(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x12345};
    intc_machine_config cfg = cfg_default();
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);

    x2_enable(l);
    for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
        if (x2_writable(msr, true))
            continue;
        for (unsigned b = 0; b <= 64; b++) {
            uint64_t val = b == 64 ? ~0ull : BIT(b);
            if (intc_lapic_msr_write(l, msr, val) != INTC_ERR_GP)
                fail_msg("WRMSR %#x = %#llx did not fault", msr,
                         (unsigned long long)val);
        }
    }
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_ID)), 0x12345);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_LDR)), x2_ldr_of(0x12345));
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_VERSION)), version_value(&cfg));
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_PPR)), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.12.1.2: EOI and ESR accept only 0; any other value #GP and has
   no effect (no EOI, no latch). */
static void test_msr_x2apic_eoi_esr_nonzero_gp(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    x2_enable(l);
    mw(l, X2MSR(INTC_LAPIC_SELF_IPI), 0x40);
    assert_int_equal(intc_lapic_ack(l), 0x40);
    mw(l, X2MSR(INTC_LAPIC_SELF_IPI), 0x05); /* illegal vector: ESR */
    assert_int_equal(intc_lapic_msr_write(l, X2MSR(INTC_LAPIC_EOI), 1),
                     INTC_ERR_GP);
    assert_int_equal(intc_lapic_msr_write(l, X2MSR(INTC_LAPIC_EOI), 0x40),
                     INTC_ERR_GP);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_ISR0) + 2), 1u); /* 0x40 */
    assert_int_equal(intc_lapic_msr_write(l, X2MSR(INTC_LAPIC_ESR), 1),
                     INTC_ERR_GP);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_ESR)), 0); /* not latched */
    mw(l, X2MSR(INTC_LAPIC_ESR), 0);
    assert_int_not_equal(mr(l, X2MSR(INTC_LAPIC_ESR)), 0);
    mw(l, X2MSR(INTC_LAPIC_EOI), 0);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_ISR0) + 2), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.12.9: in x2APIC mode the ICR is one 64-bit MSR (destination in
   bits 63:32); a WRMSR reads back whole, delivery status (bit 12) reads
   0. */
static void test_msr_x2apic_icr_64bit_round_trip(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    x2_enable(l);
    /* Fixed, physical, to absent destinations: no receiver. */
    mw(l, 0x830, 0xdeadbeef0000c0f1ull);
    assert_int_equal(mr(l, 0x830), 0xdeadbeef0000c0f1ull);
    mw(l, 0x830, 0x123456780000d8e2ull); /* bit 12 set */
    assert_int_equal(mr(l, 0x830), 0x123456780000c8e2ull);
    mw(l, 0x830, 0xfffffffe000c4fffull & ~0xf00ull);
    assert_int_equal(mr(l, 0x830), 0xfffffffe000c40ffull);
    /* Writing the ICR with a reserved bit faults and keeps the value. */
    assert_int_equal(intc_lapic_msr_write(l, 0x830, BIT(13)), INTC_ERR_GP);
    assert_int_equal(mr(l, 0x830), 0xfffffffe000c40ffull);
    check(m);
    intc_machine_free(m);
}

/* lapic.h: MSR numbers that are not the APIC's are INTC_ERR_NOT_DECODED
   in every mode. */
static void test_msr_outside_range_not_decoded(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    static const uint32_t msrs[] = {0x0,   0x10,        0x1a,       0x1c,
                                    0x6df, 0x6e1,       0x7ff,      0x900,
                                    0x9ff, 0xc0000080u, 0xffffffffu};

    for (int mode = 0; mode < 3; mode++) {
        if (mode == 1)
            x2_enable(l);
        if (mode == 2)
            mw(l, INTC_MSR_APIC_BASE,
               INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_BSP);
        for (unsigned i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
            uint64_t v = 0x77;
            assert_int_equal(intc_lapic_msr_read(l, msrs[i], &v),
                             INTC_ERR_NOT_DECODED);
            assert_int_equal(v, 0x77);
            assert_int_equal(intc_lapic_msr_write(l, msrs[i], 0),
                             INTC_ERR_NOT_DECODED);
        }
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.4.1: IA32_TSC_DEADLINE exists only with CPUID.1:ECX[24]; when
   absent, RDMSR/WRMSR #GP.  When present it reads 0 after reset. */
static void test_msr_tsc_deadline_needs_feature(void **state)
{
    th_host *h = *state;

    for (unsigned tscd = 0; tscd < 2; tscd++) {
        intc_machine_config cfg = cfg_default();
        cfg.tsc_deadline = tscd;
        intc_machine *m = th_machine(h, &cfg);
        intc_lapic *l = intc_machine_lapic(m, 0);
        for (int mode = 0; mode < 2; mode++) {
            uint64_t v = 0x99;
            intc_err e = intc_lapic_msr_read(l, INTC_MSR_TSC_DEADLINE, &v);
            if (tscd) {
                assert_int_equal(e, INTC_OK);
                assert_int_equal(v, 0);
                assert_int_equal(
                    intc_lapic_msr_write(l, INTC_MSR_TSC_DEADLINE, 0), INTC_OK);
            } else {
                assert_int_equal(e, INTC_ERR_GP);
                assert_int_equal(
                    intc_lapic_msr_write(l, INTC_MSR_TSC_DEADLINE, 0),
                    INTC_ERR_GP);
                assert_int_equal(
                    intc_lapic_msr_write(l, INTC_MSR_TSC_DEADLINE, 1000),
                    INTC_ERR_GP);
            }
            if (mode == 0)
                x2_enable(l);
        }
        check(m);
        intc_machine_free(m);
    }
}

/* lapic.h: a NULL value pointer is host misuse. */
static void test_msr_host_misuse_is_inval(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint64_t v;

    assert_int_equal(intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, NULL),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_msr_read(NULL, INTC_MSR_APIC_BASE, &v),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_msr_write(NULL, INTC_MSR_APIC_BASE, 0),
                     INTC_ERR_INVAL);
    check(m);
    intc_machine_free(m);
}

/* ------------------------------------------------------------------ */
/* 5. IA32_APIC_BASE                                                   */
/* ------------------------------------------------------------------ */

#define BASE_XAPIC (INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EN)
#define BASE_X2APIC (BASE_XAPIC | INTC_APIC_BASE_EXTD)

/* SDM 11.4.4 (Figure 11-5), 11.4.7.1: after RESET IA32_APIC_BASE is
   0xFEE00000 | EN, plus BSP on the bootstrap processor only. */
static void test_apic_base_reset_value(void **state)
{
    th_host *h = *state;

    for (uint32_t bsp = 0; bsp < 3; bsp++) {
        intc_machine_config cfg = cfg_default();
        cfg.n_cpus = 3;
        cfg.bsp = bsp;
        intc_machine *m = th_machine(h, &cfg);
        for (uint32_t c = 0; c < 3; c++)
            assert_int_equal(mr(intc_machine_lapic(m, c), INTC_MSR_APIC_BASE),
                             c == bsp ? 0xfee00900ull : 0xfee00800ull);
        check(m);
        intc_machine_free(m);
    }
}

/* Return an APIC to xAPIC mode with IA32_APIC_BASE = base (through the
   disabled state when in x2APIC mode). */
static void back_to_xapic(intc_lapic *l, uint64_t base)
{
    uint64_t cur = mr(l, INTC_MSR_APIC_BASE);
    if (cur & INTC_APIC_BASE_EXTD)
        mw(l, INTC_MSR_APIC_BASE,
           cur & ~(INTC_APIC_BASE_EN | INTC_APIC_BASE_EXTD));
    mw(l, INTC_MSR_APIC_BASE, base);
}

/* SDM 11.4.4 (Figure 11-5), 11.12.5: bits 0-7, 9 and MAXPHYADDR..63 are
   reserved (#GP); BSP (8), EXTD (10), EN (11) and the base address bits
   12..MAXPHYADDR-1 are writable.  Each bit is toggled on its own. */
static void apic_base_bits(th_host *h, uint8_t phys, bool x2apic)
{
    intc_machine_config cfg = cfg_default();
    cfg.phys_addr_bits = phys;
    cfg.x2apic = x2apic;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);
    const uint64_t base = 0xfee00900ull;

    for (unsigned b = 0; b < 64; b++) {
        uint64_t val = base ^ BIT(b);
        bool ok =
            b == 8 || b == 11 || (b >= 12 && b < phys) || (b == 10 && x2apic);
        intc_err e = intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, val);
        if (e != (ok ? INTC_OK : INTC_ERR_GP))
            fail_msg("phys %u x2apic %d: IA32_APIC_BASE bit %u: %s", phys,
                     x2apic, b, intc_err_name(e));
        assert_int_equal(mr(l, INTC_MSR_APIC_BASE), ok ? val : base);
        check(m);
        back_to_xapic(l, base);
    }
    intc_machine_free(m);
}

static void test_apic_base_reserved_bits(void **state)
{
    static const uint8_t phys[] = {32, 36, 39, 46, 52};
    for (unsigned i = 0; i < 5; i++) {
        apic_base_bits(*state, phys[i], true);
        apic_base_bits(*state, phys[i], false);
    }
}

/* SDM 11.12.1: EXTD is reserved without x2APIC support (CPUID.1:ECX[21]
   clear): setting it #GP from any state. */
static void test_apic_base_extd_without_x2apic_gp(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    cfg.x2apic = false;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);

    assert_int_equal(intc_lapic_msr_write(l, INTC_MSR_APIC_BASE,
                                          BASE_X2APIC | INTC_APIC_BASE_BSP),
                     INTC_ERR_GP);
    assert_int_equal(
        intc_lapic_msr_write(l, INTC_MSR_APIC_BASE,
                             INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EXTD),
        INTC_ERR_GP);
    assert_int_equal(mr(l, INTC_MSR_APIC_BASE), 0xfee00900ull);
    assert_int_equal(probe_mode(l), M_XAPIC);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.12.5 (Figure 11-27): from each reachable state (disabled, xAPIC,
   x2APIC) to each state incl. the invalid EN=0/EXTD=1: legal ones take
   effect, illegal ones #GP and change nothing. */
static void test_apic_base_mode_transitions(void **state)
{
    th_host *h = *state;
    static const uint64_t enc[4] = {
        INTC_APIC_BASE_DEFAULT,                       /* disabled */
        BASE_XAPIC,                                   /* xAPIC */
        BASE_X2APIC,                                  /* x2APIC */
        INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EXTD, /* invalid */
    };
    static const char *name[4] = {"disabled", "xAPIC", "x2APIC", "invalid"};
    /* legal[from][to] */
    static const bool legal[3][4] = {
        {true, true, false, false}, /* disabled -> x2APIC: #GP */
        {true, true, true, false},  /* xAPIC */
        {true, false, true, false}, /* x2APIC -> xAPIC: #GP */
    };

    for (int from = 0; from < 3; from++)
        for (int to = 0; to < 4; to++) {
            intc_machine_config cfg = cfg_default();
            cfg.n_cpus = 2;
            intc_machine *m = th_machine(h, &cfg);
            intc_lapic *l = intc_machine_lapic(m, 1); /* an AP */
            if (from == 0)
                mw(l, INTC_MSR_APIC_BASE, enc[0]);
            else if (from == 2)
                mw(l, INTC_MSR_APIC_BASE, enc[2]);
            assert_int_equal(probe_mode(l), (enum mode)from);
            th_clear_events(h);
            intc_err e = intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, enc[to]);
            if (e != (legal[from][to] ? INTC_OK : INTC_ERR_GP))
                fail_msg("%s -> %s: %s", name[from], name[to],
                         intc_err_name(e));
            assert_int_equal(mr(l, INTC_MSR_APIC_BASE),
                             legal[from][to] ? enc[to] : enc[from]);
            assert_int_equal(probe_mode(l),
                             (enum mode)(legal[from][to] ? to : from));
            th_assert_event_count(h, INTC_EV_APIC_BASE,
                                  legal[from][to] ? 1 : 0);
            check(m);
            intc_machine_free(m);
        }
}

/* SDM 11.4.3 + lapic.h: a global disable returns the APIC to its
   power-up state (11.4.7.1); re-enabled, it has the power-up register
   values, the initial xAPIC ID included (the guest-written ID is gone,
   as in KVM's kvm_lapic_set_base). */
static void test_apic_base_disable_reenable_is_power_up_state(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 2;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 1);

    make_busy(l);
    assert_int_not_equal(intc_lapic_timer_deadline(l), UINT64_MAX);
    mw(l, INTC_MSR_APIC_BASE, INTC_APIC_BASE_DEFAULT);
    check(m);
    /* Nothing is pending (IRR, signals) and the timer is off. */
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(intc_lapic_timer_deadline(l), UINT64_MAX);
    mw(l, INTC_MSR_APIC_BASE, BASE_XAPIC);
    expect_xapic_reset_state(l, &cfg, 1);
    assert_int_equal(lr(l, INTC_LAPIC_ID), 1u << 24);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(intc_lapic_ack(l), INTC_ACK_NONE); /* IRR empty */
    check(m);
    /* Through x2APIC (disabled -> xAPIC -> x2APIC): the same state. */
    make_busy(l);
    mw(l, INTC_MSR_APIC_BASE, INTC_APIC_BASE_DEFAULT);
    mw(l, INTC_MSR_APIC_BASE, BASE_XAPIC);
    mw(l, INTC_MSR_APIC_BASE, BASE_X2APIC);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_SVR)), 0xff);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_TPR)), 0);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_IRR0) + 0x69 / 32), 0);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_LVT_LINT0)), 0x10000);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_TIMER_ICR)), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.12.5.1 + lapic.h: x2APIC -> disabled -> xAPIC leaves the xAPIC ID
   at the low 8 bits of the initial x2APIC ID (a guest-written xAPIC ID
   from before x2APIC mode is gone), the rest at power-up values. */
static void test_apic_base_x2apic_disable_xapic_id_low_byte(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x1, 0x12345};
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 2;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 1);

    lw(l, INTC_LAPIC_ID, 0x9a000000);
    x2_enable(l);
    mw(l, X2MSR(INTC_LAPIC_TPR), 0x44);
    mw(l, X2MSR(INTC_LAPIC_LVT_LINT1), 0x420);
    mw(l, INTC_MSR_APIC_BASE, INTC_APIC_BASE_DEFAULT);
    mw(l, INTC_MSR_APIC_BASE, BASE_XAPIC);
    expect_xapic_reset_state(l, &cfg, 0x45);
    check(m);
    intc_machine_free(m);
}

/* common.h apic_base_changed: the host is told IA32_APIC_BASE (SDM 11.4.4
   base address, EN; 11.12.1 EXTD) after every change of the base
   address, EN or EXTD: guest WRMSR, RESET through intc_lapic_reset or
   intc_machine_reset, snapshot load; not at creation, not for a write
   that changes nothing or only the BSP flag, not for a refused (#GP)
   write, not for INIT (11.4.7.3: INIT keeps IA32_APIC_BASE). */
static void test_apic_base_changed_callback(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 2;
    h->ops.apic_base_changed = th_apic_base_changed;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 1);
    uint64_t reloc = 0xfed00000ull | INTC_APIC_BASE_EN;
    size_t used = 0;
    void *img;

    assert_int_equal(h->n_base_changes, 0); /* power-up: known */
    /* Same value again, BSP flag only, a refused write: nothing. */
    mw(l, INTC_MSR_APIC_BASE, BASE_XAPIC);
    mw(l, INTC_MSR_APIC_BASE, BASE_XAPIC | INTC_APIC_BASE_BSP);
    mw(l, INTC_MSR_APIC_BASE, BASE_XAPIC);
    assert_int_equal(intc_lapic_msr_write(l, INTC_MSR_APIC_BASE,
                                          BASE_XAPIC | 0x100000000000000ull),
                     INTC_ERR_GP);
    assert_int_equal(h->n_base_changes, 0);

    /* Relocation. */
    mw(l, INTC_MSR_APIC_BASE, reloc);
    assert_int_equal(h->base_changes[1], 1);
    assert_int_equal(h->base_value[1], reloc);
    assert_int_equal(h->base_changes[0], 0);
    /* x2APIC: EXTD (the page is no longer decoded). */
    mw(l, INTC_MSR_APIC_BASE, reloc | INTC_APIC_BASE_EXTD);
    assert_int_equal(h->base_changes[1], 2);
    assert_int_equal(h->base_value[1], reloc | INTC_APIC_BASE_EXTD);
    /* Global disable. */
    mw(l, INTC_MSR_APIC_BASE, 0xfed00000ull);
    assert_int_equal(h->base_changes[1], 3);
    assert_int_equal(h->base_value[1], 0xfed00000ull);
    mw(l, INTC_MSR_APIC_BASE, reloc);
    assert_int_equal(h->base_changes[1], 4);

    /* INIT keeps the base: not called.  RESET restores the default. */
    assert_int_equal(intc_lapic_reset(l, true), INTC_OK);
    assert_int_equal(h->base_changes[1], 4);
    assert_int_equal(intc_lapic_reset(l, false), INTC_OK);
    assert_int_equal(h->base_changes[1], 5);
    assert_int_equal(h->base_value[1], BASE_XAPIC);
    assert_int_equal(intc_lapic_reset(l, false), INTC_OK);
    assert_int_equal(h->base_changes[1], 5);

    /* Machine reset: only the CPU whose base had changed. */
    mw(l, INTC_MSR_APIC_BASE, reloc);
    assert_int_equal(h->base_changes[1], 6);
    assert_int_equal(intc_machine_reset(m), INTC_OK);
    assert_int_equal(h->base_changes[1], 7);
    assert_int_equal(h->base_value[1], BASE_XAPIC);
    assert_int_equal(h->base_changes[0], 0);

    /* Snapshot load: the image's base (relocated), then back. */
    mw(l, INTC_MSR_APIC_BASE, reloc);
    assert_int_equal(intc_machine_save(m, NULL, 0, &used), INTC_ERR_NOSPC);
    img = malloc(used);
    assert_non_null(img);
    assert_int_equal(intc_machine_save(m, img, used, &used), INTC_OK);
    assert_int_equal(h->base_changes[1], 8);
    assert_int_equal(intc_machine_load(m, img, used), INTC_OK);
    assert_int_equal(h->base_changes[1], 8); /* same value: nothing */
    assert_int_equal(intc_machine_reset(m), INTC_OK);
    assert_int_equal(h->base_changes[1], 9);
    assert_int_equal(intc_machine_load(m, img, used), INTC_OK);
    assert_int_equal(h->base_changes[1], 10);
    assert_int_equal(h->base_value[1], reloc);
    assert_int_equal(mr(l, INTC_MSR_APIC_BASE), reloc);
    free(img);
    assert_int_equal(h->base_changes[0], 0);
    assert_int_equal(h->n_base_changes, 10);
    check(m);
    intc_machine_free(m);
}

/* common.h re-entrancy: apic_base_changed() is deferred like kick(): it
   runs after the WRMSR has completed, so the host may call back into the
   machine from it (here: read IA32_APIC_BASE and the page). */
typedef struct {
    intc_lapic *l;
    intc_err rd_err, mmio_err;
    uint64_t rd;
} base_cb_ctx;

/* The kit's apic_base_changed hook (the kit has counted the call). */
static void base_cb(void *ctx, uint32_t cpu, uint64_t base)
{
    base_cb_ctx *c = ctx;
    uint64_t v = 0;

    (void)cpu;
    (void)base;
    c->rd_err = intc_lapic_msr_read(c->l, INTC_MSR_APIC_BASE, &c->rd);
    c->mmio_err = intc_lapic_mmio_read(c->l, INTC_LAPIC_VERSION, 4, &v);
}

static void test_apic_base_changed_is_deferred(void **state)
{
    th_host *h = *state;
    base_cb_ctx c = {NULL, INTC_OK, INTC_OK, 0};
    intc_machine_config cfg = cfg_default();
    intc_machine *m;

    h->ops.apic_base_changed = th_apic_base_changed;
    h->hooks = (kit_hooks){.ctx = &c, .apic_base_changed = base_cb};
    m = th_machine(h, &cfg);
    c.l = intc_machine_lapic(m, 0);
    mw(c.l, INTC_MSR_APIC_BASE,
       0xfec00000ull | INTC_APIC_BASE_EN | INTC_APIC_BASE_BSP);
    assert_int_equal(h->n_base_changes, 1);
    assert_int_equal(c.rd_err, INTC_OK);
    assert_int_equal(c.rd, 0xfec00900ull);
    assert_int_equal(c.mmio_err, INTC_OK);
    /* x2APIC: the page is gone, and the host sees that from inside. */
    mw(c.l, INTC_MSR_APIC_BASE,
       0xfec00000ull | INTC_APIC_BASE_EN | INTC_APIC_BASE_BSP |
           INTC_APIC_BASE_EXTD);
    assert_int_equal(h->n_base_changes, 2);
    assert_int_equal(c.mmio_err, INTC_ERR_NOT_DECODED);
    intc_machine_free(m);
}

/* SDM 11.4.4: the APIC base address field (bits 12..MAXPHYADDR-1) and
   the BSP flag are read/write. */
static void test_apic_base_relocation_and_bsp_flag(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 2;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);

    mw(l, INTC_MSR_APIC_BASE, 0xfed00000ull | INTC_APIC_BASE_EN);
    assert_int_equal(mr(l, INTC_MSR_APIC_BASE), 0xfed00800ull);
    mw(l, INTC_MSR_APIC_BASE,
       0x3ffffffff000ull | INTC_APIC_BASE_EN | INTC_APIC_BASE_BSP);
    assert_int_equal(mr(l, INTC_MSR_APIC_BASE), 0x3ffffffff900ull);
    mw(l, INTC_MSR_APIC_BASE, 0x1000ull | INTC_APIC_BASE_EN);
    assert_int_equal(mr(l, INTC_MSR_APIC_BASE), 0x1800ull);
    /* The page is still decoded at its (host-mapped) offsets, registers
       untouched. */
    assert_int_equal(probe_mode(l), M_XAPIC);
    expect_xapic_reset_state(l, &cfg, 0);
    /* The AP can take the BSP flag. */
    intc_lapic *ap = intc_machine_lapic(m, 1);
    mw(ap, INTC_MSR_APIC_BASE, 0xfee00900ull);
    assert_int_equal(mr(ap, INTC_MSR_APIC_BASE), 0xfee00900ull);
    /* Relocation in x2APIC mode too (11.12.1: base ignored but kept). */
    mw(ap, INTC_MSR_APIC_BASE, 0xfee00d00ull);
    mw(ap, INTC_MSR_APIC_BASE, 0xabc00d00ull);
    assert_int_equal(mr(ap, INTC_MSR_APIC_BASE), 0xabc00d00ull);
    check(m);
    intc_machine_free(m);
}

/* lapic.h / common.h: every successful IA32_APIC_BASE write reports
   INTC_EV_APIC_BASE (cpu, data = new, data2 = old); a #GP reports
   nothing. */
static void test_apic_base_event(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 2;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 1);

    th_clear_events(h);
    mw(l, INTC_MSR_APIC_BASE, 0xfed00800ull);
    th_assert_event_count(h, INTC_EV_APIC_BASE, 1);
    TH_IF_TRACED(h) {
        const intc_event *ev =
            th_find_event(h, INTC_EV_APIC_BASE, 1, TH_ANY_VECTOR);
        assert_non_null(ev);
        assert_int_equal(ev->data, 0xfed00800ull);
        assert_int_equal(ev->data2, 0xfee00800ull);
    }
    th_clear_events(h);
    mw(l, INTC_MSR_APIC_BASE, 0xfed00c00ull);
    TH_IF_TRACED(h) {
        const intc_event *ev =
            th_find_event(h, INTC_EV_APIC_BASE, 1, TH_ANY_VECTOR);
        assert_non_null(ev);
        assert_int_equal(ev->data, 0xfed00c00ull);
        assert_int_equal(ev->data2, 0xfed00800ull);
    }
    th_clear_events(h);
    assert_int_equal(intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, 0xfed00800ull),
                     INTC_ERR_GP);
    assert_int_equal(intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, 0xfed00c01ull),
                     INTC_ERR_GP);
    th_assert_event_count(h, INTC_EV_APIC_BASE, 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.12.5.1: xAPIC -> x2APIC: the ID becomes the initial x2APIC ID and
   the LDR is derived (11.12.10.2); all other state (TPR, PPR, SVR, LVTs,
   IRR/ISR/TMR, ESR, timer) carries over. */
static void test_apic_base_xapic_to_x2apic_preserves_state(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x12345};
    intc_machine_config cfg = cfg_default();
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint32_t before[256];

    make_busy(l);
    snap(l, cfg.lvt_cmci, before);
    mw(l, INTC_MSR_APIC_BASE, BASE_X2APIC | INTC_APIC_BASE_BSP);
    for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
        uint32_t off = (msr - 0x800) << 4;
        if (!x2_readable(msr, cfg.lvt_cmci) || msr == 0x830)
            continue;
        uint64_t got = mr(l, msr);
        uint64_t want = msr == 0x802   ? 0x12345
                        : msr == 0x80d ? x2_ldr_of(0x12345)
                                       : before[off >> 4];
        if (got != want)
            fail_msg("MSR %#x after xAPIC -> x2APIC: %#llx, want %#llx", msr,
                     (unsigned long long)got, (unsigned long long)want);
    }
    check(m);
    intc_machine_free(m);
}

/* ------------------------------------------------------------------ */
/* 6. RESET and INIT (intc_lapic_reset)                                */
/* ------------------------------------------------------------------ */

/* SDM 11.4.7.1: RESET restores everything: IA32_APIC_BASE (0xFEE00000 |
   EN, BSP on the BSP), xAPIC mode, ID = initial ID, power-up registers. */
static void test_reset_restores_everything(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x12345, 0x7};
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 2;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);

    for (uint32_t c = 0; c < 2; c++) {
        intc_lapic *l = intc_machine_lapic(m, c);
        /* xAPIC, busy, relocated, BSP flag toggled. */
        make_busy(l);
        mw(l, INTC_MSR_APIC_BASE,
           0xfed00800ull ^ (c == 0 ? 0 : INTC_APIC_BASE_BSP));
        assert_int_equal(intc_lapic_reset(l, false), INTC_OK);
        assert_int_equal(mr(l, INTC_MSR_APIC_BASE),
                         c == 0 ? 0xfee00900ull : 0xfee00800ull);
        expect_xapic_reset_state(l, &cfg, (uint8_t)ids[c]);
        assert_int_equal(intc_lapic_timer_deadline(l), UINT64_MAX);
        assert_false(intc_lapic_waiting_for_sipi(l));
        check(m);
        /* From x2APIC mode. */
        x2_enable(l);
        mw(l, X2MSR(INTC_LAPIC_TPR), 0x70);
        assert_int_equal(intc_lapic_reset(l, false), INTC_OK);
        assert_int_equal(mr(l, INTC_MSR_APIC_BASE),
                         c == 0 ? 0xfee00900ull : 0xfee00800ull);
        assert_int_equal(probe_mode(l), M_XAPIC);
        expect_xapic_reset_state(l, &cfg, (uint8_t)ids[c]);
        check(m);
        /* From the disabled state. */
        mw(l, INTC_MSR_APIC_BASE, 0xfed00000ull);
        assert_int_equal(intc_lapic_reset(l, false), INTC_OK);
        assert_int_equal(probe_mode(l), M_XAPIC);
        assert_int_equal(mr(l, INTC_MSR_APIC_BASE),
                         c == 0 ? 0xfee00900ull : 0xfee00800ull);
        expect_xapic_reset_state(l, &cfg, (uint8_t)ids[c]);
        check(m);
    }
    intc_machine_free(m);
}

/* SDM 11.4.7.3: INIT resets the registers but keeps the APIC ID (also a
   guest-written xAPIC ID) and IA32_APIC_BASE; the reset call does not
   enter wait-for-SIPI (lapic.h). */
static void test_init_keeps_id_and_apic_base_xapic(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 2;
    intc_machine *m = th_machine(h, &cfg);

    for (uint32_t c = 0; c < 2; c++) {
        intc_lapic *l = intc_machine_lapic(m, c);
        make_busy(l);
        mw(l, INTC_MSR_APIC_BASE, 0xfed00800ull);
        assert_int_equal(intc_lapic_reset(l, true), INTC_OK);
        assert_int_equal(mr(l, INTC_MSR_APIC_BASE), 0xfed00800ull);
        expect_xapic_reset_state(l, &cfg, BUSY_XID);
        assert_int_equal(intc_lapic_timer_deadline(l), UINT64_MAX);
        assert_int_equal(intc_lapic_pending(l), 0);
        assert_false(intc_lapic_waiting_for_sipi(l));
        check(m);
    }
    intc_machine_free(m);
}

/* SDM 11.12.5.1 / 11.4.7.3: x2APIC mode survives INIT: still x2APIC,
   ID = initial x2APIC ID, LDR derived, other registers at power-up
   values. */
static void test_init_keeps_x2apic_mode(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x12345, 0xabc12301u};
    intc_machine_config cfg = cfg_default();
    cfg.n_cpus = 2;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);

    for (uint32_t c = 0; c < 2; c++) {
        intc_lapic *l = intc_machine_lapic(m, c);
        make_busy(l);
        x2_enable(l);
        uint64_t base = mr(l, INTC_MSR_APIC_BASE);
        mw(l, X2MSR(INTC_LAPIC_LVT_TIMER), 0x20040);
        mw(l, X2MSR(INTC_LAPIC_TIMER_ICR), 1000);
        assert_int_equal(intc_lapic_reset(l, true), INTC_OK);
        assert_int_equal(mr(l, INTC_MSR_APIC_BASE), base);
        assert_int_equal(probe_mode(l), M_X2APIC);
        for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
            if (!x2_readable(msr, cfg.lvt_cmci))
                continue;
            uint64_t want = msr == 0x802   ? ids[c]
                            : msr == 0x803 ? version_value(&cfg)
                            : msr == 0x80d
                                ? x2_ldr_of(ids[c])
                                : x_reset_value((msr - 0x800) << 4, &cfg, 0);
            uint64_t got = mr(l, msr);
            if (got != want)
                fail_msg("cpu %u MSR %#x after INIT: %#llx, want %#llx", c, msr,
                         (unsigned long long)got, (unsigned long long)want);
        }
        assert_int_equal(intc_lapic_timer_deadline(l), UINT64_MAX);
        assert_false(intc_lapic_waiting_for_sipi(l));
        check(m);
    }
    intc_machine_free(m);
}

/* SDM 11.4.7.3: INIT keeps IA32_APIC_BASE, so a globally disabled APIC
   stays disabled. */
static void test_init_keeps_disabled_state(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    mw(l, INTC_MSR_APIC_BASE, 0xfed00100ull);
    assert_int_equal(intc_lapic_reset(l, true), INTC_OK);
    assert_int_equal(mr(l, INTC_MSR_APIC_BASE), 0xfed00100ull);
    assert_int_equal(probe_mode(l), M_DISABLED);
    check(m);
    intc_machine_free(m);
}

/* ------------------------------------------------------------------ */

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)
    const struct CMUnitTest tests[] = {
        /* reset state, IDs, version */
        T(test_reset_state_xapic_mmio),
        T(test_reset_state_x2apic_msr),
        T(test_version_register_variants),
        T(test_xapic_id_is_low_byte_of_initial_id),
        T(test_x2apic_id_is_32bit_initial_id),
        T(test_x2apic_ldr_derivation),
        /* xAPIC read/write rules */
        T(test_xapic_id_writable_bits),
        T(test_xapic_tpr_writable_bits),
        T(test_xapic_ldr_writable_bits),
        T(test_xapic_dfr_model_bits),
        T(test_xapic_svr_writable_bits),
        T(test_xapic_lvt_writable_bits),
        T(test_xapic_lvt_timer_bit18_needs_tsc_deadline),
        T(test_xapic_lvt_masked_while_software_disabled),
        T(test_xapic_icr_masks),
        T(test_xapic_dcr_bits),
        T(test_xapic_timer_initial_count_rw),
        T(test_xapic_readonly_registers_ignore_writes),
        T(test_xapic_eoi_and_rrd_read_zero),
        T(test_xapic_esr_write_does_not_store_value),
        /* hostile MMIO */
        T(test_mmio_reads_every_offset_and_size),
        T(test_mmio_reserved_slots_set_esr7_on_read),
        T(test_mmio_cmci_slot_reserved_without_cmci),
        T(test_mmio_bad_writes_change_nothing),
        T(test_mmio_reserved_access_signals_lvt_error),
        T(test_mmio_host_misuse_is_inval),
        T(test_mmio_not_decoded_in_x2apic_mode),
        T(test_mmio_not_decoded_when_globally_disabled),
        /* hostile MSRs */
        T(test_msr_x2apic_range_gp_outside_x2apic_mode),
        T(test_msr_x2apic_presence_table),
        T(test_msr_x2apic_presence_without_cmci),
        T(test_msr_x2apic_reserved_bits_default),
        T(test_msr_x2apic_reserved_bits_deo_no_tscd_no_cmci),
        T(test_msr_x2apic_readonly_fault_any_value),
        T(test_msr_x2apic_eoi_esr_nonzero_gp),
        T(test_msr_x2apic_icr_64bit_round_trip),
        T(test_msr_outside_range_not_decoded),
        T(test_msr_tsc_deadline_needs_feature),
        T(test_msr_host_misuse_is_inval),
        /* IA32_APIC_BASE */
        T(test_apic_base_reset_value),
        T(test_apic_base_reserved_bits),
        T(test_apic_base_extd_without_x2apic_gp),
        T(test_apic_base_mode_transitions),
        T(test_apic_base_disable_reenable_is_power_up_state),
        T(test_apic_base_x2apic_disable_xapic_id_low_byte),
        T(test_apic_base_relocation_and_bsp_flag),
        T(test_apic_base_event),
        T(test_apic_base_changed_callback),
        T(test_apic_base_changed_is_deferred),
        T(test_apic_base_xapic_to_x2apic_preserves_state),
        /* RESET / INIT */
        T(test_reset_restores_everything),
        T(test_init_keeps_id_and_apic_base_xapic),
        T(test_init_keeps_x2apic_mode),
        T(test_init_keeps_disabled_state),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

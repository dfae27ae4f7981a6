/*
 * AMD-Vi interrupt remapping (AMD IOMMU specification, pub. 48882):
 * 2.2.2 device table entry, 2.2.5 interrupt remapping (2.2.5.1 32-bit and
 * 2.2.5.2 128-bit / guest virtual APIC IRTEs), 2.4 commands, 2.5 event
 * log, 3.4 MMIO registers.  Guest memory is a 1 MiB buffer behind the
 * host's dma_read/dma_write.
 */
#include "harness.h"
#include "ioapic_util.h"
#include "lapic_util.h"

#include <stdlib.h>
#include <string.h>

/* ---- guest memory: the kit's, [0, MEM_SIZE) ---- */

#define MEM_SIZE (1u << 20)
/* Test-only state (the library itself has no globals): the current
   test's guest memory, so the table builders below need no host. */
static uint8_t *g_mem;

static uint64_t peek64(uint64_t a)
{
    uint64_t v;
    memcpy(&v, g_mem + a, 8);
    return v;
}

static uint32_t peek32(uint64_t a)
{
    uint32_t v;
    memcpy(&v, g_mem + a, 4);
    return v;
}

static void poke64(uint64_t a, uint64_t v)
{
    memcpy(g_mem + a, &v, 8);
}

static void poke32(uint64_t a, uint32_t v)
{
    memcpy(g_mem + a, &v, 4);
}

static int amd_setup(void **state)
{
    int r = th_setup(state);

    if (r == 0)
        g_mem = th_guest_memory(*state, 0, MEM_SIZE);
    return r;
}

static int amd_teardown(void **state)
{
    g_mem = NULL;
    return th_teardown(state);
}

/* ---- layout and register helpers ---- */

/* MMIO offsets (3.4). */
#define R_DEVTAB 0x0000u
#define R_CMDBUF 0x0008u
#define R_EVTLOG 0x0010u
#define R_CONTROL 0x0018u
#define R_EXCL_BASE 0x0020u
#define R_EXCL_LIMIT 0x0028u
#define R_EFR 0x0030u
#define R_CMD_HEAD 0x2000u
#define R_CMD_TAIL 0x2008u
#define R_EVT_HEAD 0x2010u
#define R_EVT_TAIL 0x2018u
#define R_STATUS 0x2020u

/* Control bits (3.4.4). */
#define C_IOMMU_EN (1ull << 0)
#define C_EVT_LOG_EN (1ull << 2)
#define C_EVT_INT_EN (1ull << 3)
#define C_COMWAIT_INT_EN (1ull << 4)
#define C_CMDBUF_EN (1ull << 12)
#define C_GA_EN (1ull << 17)
#define C_XT_EN (1ull << 50)
/* Status bits (3.4.12). */
#define S_EVT_OVERFLOW (1ull << 0)
#define S_EVT_LOG_INT (1ull << 1)
#define S_COMWAIT_INT (1ull << 2)
#define S_EVT_LOG_RUN (1ull << 3)
#define S_CMDBUF_RUN (1ull << 4)
/* Extended features (3.4.6). */
#define F_XT (1ull << 2)
#define F_IA (1ull << 6)
#define F_GA (1ull << 7)
#define F_GAM_VAPIC (1ull << 21)

/* Event codes (2.5) and qword-0 flags. */
#define EV_ILLEGAL_DTE 1u
#define EV_IO_PAGE_FAULT 2u
#define EV_DEV_TAB_HW_ERROR 3u
#define EV_ILLEGAL_COMMAND 5u
#define EV_INVALID_DEV_REQ 8u
/* INTC_EV_IR_FAULT data of an IO_PAGE_FAULT: the code, and the entry's
   bits 63:48 (code, I bit 51, RW bit 53); bit 8 recorded, 9 suppressed */
#define IPF_EVENT \
    (EV_IO_PAGE_FAULT | (uint64_t)EV_IO_PAGE_FAULT << 60 | 1ull << 51 | \
     1ull << 53)
#define EVF_I (1ull << 51)
#define EVF_RW (1ull << 53)
#define EVF_RZ (1ull << 55)

/* Guest-physical layout. */
#define DEVTAB 0x10000u     /* Size 1: 8 KiB, device IDs 0..255 */
#define DEVTAB_SIZE 1u
#define IRT_A 0x20000u      /* interrupt tables: 32 KiB apart */
#define IRT_B 0x28000u
#define CMDBUF 0x40000u     /* 256 entries */
#define EVTLOG 0x50000u     /* 256 entries */
#define STORE 0x60000u      /* completion-wait store */
#define VAPIC 0x70000u      /* guest vAPIC backing page */

#define DEV_A 0x0010u /* 00:02.0 */
#define DEV_B 0x0018u /* 00:03.0 */
#define DEV_IOAPIC 0x00a0u
#define MSI_ADDR(dest) (0xfee00000ull | (uint64_t)(dest) << 12)

/* DTE qword 2 (2.2.2.2). */
#define IV 1ull
#define TABLEN(n) ((uint64_t)(n) << 1)
#define IG (1ull << 5)
#define INIT_PASS (1ull << 56)
#define EINT_PASS (1ull << 57)
#define NMI_PASS (1ull << 58)
#define INTCTL(c) ((uint64_t)(c) << 60)

static void dte_set(uint16_t devid, uint64_t q2)
{
    poke64(DEVTAB + 32ull * devid, 1); /* V */
    poke64(DEVTAB + 32ull * devid + 16, q2);
}

/* A remapping DTE: IV, 2^tablen entries at table, IntCtl 10b. */
static uint64_t dte_remap(uint64_t table, unsigned tablen)
{
    return IV | TABLEN(tablen) | table | INTCTL(2);
}

/* 32-bit IRTE (2.2.5.1). */
#define E_REMAP_EN 1u
#define E_SUP_IOPF 2u
#define E_TYPE(t) ((uint32_t)(t) << 2)
#define E_DM (1u << 6)
#define E_GUEST (1u << 7)
static void irte32(uint64_t table, uint32_t idx, uint32_t flags, uint8_t dest,
                   uint8_t vec)
{
    poke32(table + 4ull * idx, flags | (uint32_t)dest << 8 |
                                   (uint32_t)vec << 16);
}

/* 128-bit IRTE (2.2.5.2), non-guest: dest 32 bits split 23:0 / 31:24. */
static void irte128(uint64_t table, uint32_t idx, uint32_t flags,
                    uint32_t dest, uint8_t vec)
{
    poke64(table + 16ull * idx, flags | (uint64_t)(dest & 0xffffff) << 8);
    poke64(table + 16ull * idx + 8, vec | (uint64_t)(dest >> 24) << 56);
}

/* 128-bit guest-mode IRTE: GALogIntr bit 2, IsRun bit 6, GATag 63:32,
   vector, vAPIC page pointer 51:12. */
#define G_GALOG (1u << 2)
#define G_ISRUN (1u << 6)
static void irte_guest(uint64_t table, uint32_t idx, uint32_t flags,
                       uint32_t dest, uint8_t vec, uint64_t page,
                       uint32_t tag)
{
    poke64(table + 16ull * idx, E_REMAP_EN | E_GUEST | flags |
                                    (uint64_t)(dest & 0xffffff) << 8 |
                                    (uint64_t)tag << 32);
    poke64(table + 16ull * idx + 8,
           vec | page | (uint64_t)(dest >> 24) << 56);
}

static intc_machine *amd_machine_cfg(th_host *h, intc_machine_config *cfg)
{
    intc_machine *m;
    cfg->iommu.kind = INTC_IOMMU_AMDVI;
    m = th_machine(h, cfg);
    for (uint32_t i = 0; i < intc_machine_cpu_count(m); i++)
        sw_enable(intc_machine_lapic(m, i));
    return m;
}

static intc_machine *amd_machine(th_host *h)
{
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 4;
    return amd_machine_cfg(h, &cfg);
}

static void finish(intc_machine *m)
{
    char msg[256];
    if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
        fail_msg("intc_machine_check: %s", msg);
    intc_machine_free(m);
}

static void aw(intc_iommu *u, uint32_t off, uint64_t v)
{
    assert_int_equal(intc_iommu_mmio_write(u, off, 8, v), INTC_OK);
}

static void aw32(intc_iommu *u, uint32_t off, uint32_t v)
{
    assert_int_equal(intc_iommu_mmio_write(u, off, 4, v), INTC_OK);
}

static uint64_t ar(intc_iommu *u, uint32_t off)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(intc_iommu_mmio_read(u, off, 8, &v), INTC_OK);
    return v;
}

static uint32_t ar32(intc_iommu *u, uint32_t off)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(intc_iommu_mmio_read(u, off, 4, &v), INTC_OK);
    return (uint32_t)v;
}

/* The usual bring-up: device table, 256-entry command buffer and event
   log, then Control = IOMMUEn | EventLogEn | CmdBufEn | extra. */
static intc_iommu *amd_enable(intc_machine *m, uint64_t extra)
{
    intc_iommu *u = intc_machine_iommu(m);
    assert_non_null(u);
    aw(u, R_DEVTAB, DEVTAB | DEVTAB_SIZE);
    aw(u, R_CMDBUF, CMDBUF | 8ull << 56);
    aw(u, R_EVTLOG, EVTLOG | 8ull << 56);
    aw(u, R_CONTROL, C_IOMMU_EN | C_EVT_LOG_EN | C_CMDBUF_EN | extra);
    return u;
}

/* Queue one command at the tail and advance the tail (2.4). */
static void cmd(intc_iommu *u, uint64_t q0, uint64_t q1)
{
    uint64_t tail = ar(u, R_CMD_TAIL);
    poke64(CMDBUF + tail, q0);
    poke64(CMDBUF + tail + 8, q1);
    aw(u, R_CMD_TAIL, (tail + 16) % 4096);
}

#define OP(o) ((uint64_t)(o) << 60)

/* Event log entries written since head 0. */
static unsigned n_logged(intc_iommu *u)
{
    return (unsigned)((ar(u, R_EVT_TAIL) - ar(u, R_EVT_HEAD)) % 4096) / 16;
}

static unsigned ev_code(unsigned i)
{
    return (unsigned)(peek64(EVTLOG + 16ull * i) >> 60);
}

static uint16_t ev_dev(unsigned i)
{
    return (uint16_t)peek64(EVTLOG + 16ull * i);
}

static int irr(intc_machine *m, uint32_t cpu, unsigned v)
{
    return lbit(intc_machine_lapic(m, cpu), INTC_LAPIC_IRR0, v);
}

static unsigned pending(intc_machine *m, uint32_t cpu)
{
    return intc_lapic_pending(intc_machine_lapic(m, cpu));
}

/* Any vector set in any CPU's IRR. */
static bool any_irr(intc_machine *m)
{
    for (uint32_t c = 0; c < intc_machine_cpu_count(m); c++)
        for (unsigned w = 0; w < 8; w++)
            if (lr(intc_machine_lapic(m, c), INTC_LAPIC_IRR0 + 0x10 * w))
                return true;
    return false;
}

static void msi(intc_machine *m, uint16_t devid, uint32_t dest, uint32_t data)
{
    assert_int_equal(intc_msi_send(m, MSI_ADDR(dest), data, devid, NULL), INTC_OK);
}

/* The IOMMU's own interrupt: INTC_EV_IR_STATUS reported at the Status
   register's offset (model choice: the host owns the IOMMU's MSI). */
static const intc_event *status_irq(const th_host *h)
{
    for (size_t i = 0; i < h->n_events; i++)
        if (h->events[i].type == INTC_EV_IR_STATUS &&
            h->events[i].pin == R_STATUS)
            return &h->events[i];
    return NULL;
}

/* ==== registers (3.4) ==== */

/* 3.4: power-on values are 0; the Extended Feature register reports
   XTSup (x2APIC), GASup + GAMSup=vAPIC (posted) and IASup. */
static void test_reset_values(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = intc_machine_iommu(m);
    static const uint32_t regs[] = {R_DEVTAB,    R_CMDBUF,     R_EVTLOG,
                                    R_CONTROL,   R_EXCL_BASE,  R_EXCL_LIMIT,
                                    R_CMD_HEAD,  R_CMD_TAIL,   R_EVT_HEAD,
                                    R_EVT_TAIL,  R_STATUS};
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
        assert_int_equal(ar(u, regs[i]), 0);
    assert_int_equal(ar(u, R_EFR), F_XT | F_IA | F_GA | F_GAM_VAPIC);
    finish(m);
}

/* 3.4.6: XTSup and GASup follow the configuration; without them XTEn and
   GAEn cannot be set. */
static void test_efr_follows_config(void **state)
{
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.iommu.x2apic = false;
    cfg.iommu.posted = false;
    intc_machine *m = amd_machine_cfg(*state, &cfg);
    intc_iommu *u = intc_machine_iommu(m);
    assert_int_equal(ar(u, R_EFR), F_IA);
    aw(u, R_CONTROL, C_GA_EN | C_XT_EN);
    assert_int_equal(ar(u, R_CONTROL), 0);
    finish(m);
}

/* 3.4.6: the Extended Feature register is read-only. */
static void test_efr_read_only(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = intc_machine_iommu(m);
    uint64_t efr = ar(u, R_EFR);
    aw(u, R_EFR, ~0ull);
    aw32(u, R_EFR + 4, 0);
    assert_int_equal(ar(u, R_EFR), efr);
    finish(m);
}

/* 3.4.1-3.4.3, 3.4.13: base registers keep base 51:12 and their size
   field; head/tail pointers keep bits 18:4. */
static void test_register_writable_bits(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = intc_machine_iommu(m);
    aw(u, R_DEVTAB, ~0ull);
    assert_int_equal(ar(u, R_DEVTAB), 0x000ffffffffff1ffull);
    aw(u, R_CMDBUF, ~0ull);
    assert_int_equal(ar(u, R_CMDBUF), 0x0f0ffffffffff000ull);
    aw(u, R_EVTLOG, ~0ull);
    assert_int_equal(ar(u, R_EVTLOG), 0x0f0ffffffffff000ull);
    aw(u, R_CMD_HEAD, ~0ull);
    assert_int_equal(ar(u, R_CMD_HEAD), 0x7fff0);
    aw(u, R_EVT_HEAD, ~0ull);
    assert_int_equal(ar(u, R_EVT_HEAD), 0x7fff0);
    aw(u, R_EVT_TAIL, ~0ull);
    assert_int_equal(ar(u, R_EVT_TAIL), 0x7fff0);
    finish(m);
}

/* 3.4: 64-bit registers may be accessed as two 32-bit halves. */
static void test_register_halves(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = intc_machine_iommu(m);
    aw32(u, R_DEVTAB, 0x12345001u);
    aw32(u, R_DEVTAB + 4, 0x000abcdeu);
    assert_int_equal(ar(u, R_DEVTAB), 0x000abcde12345001ull);
    assert_int_equal(ar32(u, R_DEVTAB), 0x12345001u);
    assert_int_equal(ar32(u, R_DEVTAB + 4), 0x000abcdeu);
    /* Writing one half leaves the other alone. */
    aw32(u, R_DEVTAB, 0x00001000u);
    assert_int_equal(ar(u, R_DEVTAB), 0x000abcde00001000ull);
    finish(m);
}

/* 3.4.12: CmdBufRun and EventLogRun follow CmdBufEn and EventLogEn and
   are read-only. */
static void test_status_run_bits(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = intc_machine_iommu(m);
    aw(u, R_CONTROL, C_CMDBUF_EN | C_EVT_LOG_EN);
    assert_int_equal(ar(u, R_STATUS), S_CMDBUF_RUN | S_EVT_LOG_RUN);
    aw(u, R_STATUS, S_CMDBUF_RUN | S_EVT_LOG_RUN); /* RO */
    assert_int_equal(ar(u, R_STATUS), S_CMDBUF_RUN | S_EVT_LOG_RUN);
    aw(u, R_CONTROL, 0);
    assert_int_equal(ar(u, R_STATUS), 0);
    aw(u, R_STATUS, ~0ull);
    assert_int_equal(ar(u, R_STATUS), 0);
    finish(m);
}

/* 3.4.12: ComWaitInt and EventLogInt are write-1-to-clear. */
static void test_status_w1c(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, C_EVT_INT_EN);
    dte_set(DEV_A, IV | INTCTL(0));
    cmd(u, OP(1) | 2, 0);                /* COMPLETION_WAIT, I=1 */
    msi(m, DEV_A, 0, 0x40);              /* target abort: logged */
    uint64_t both = S_COMWAIT_INT | S_EVT_LOG_INT;
    assert_int_equal(ar(u, R_STATUS) & both, both);
    aw(u, R_STATUS, 0);
    assert_int_equal(ar(u, R_STATUS) & both, both);
    aw32(u, R_STATUS, (uint32_t)S_COMWAIT_INT);
    assert_int_equal(ar(u, R_STATUS) & both, S_EVT_LOG_INT);
    aw(u, R_STATUS, S_EVT_LOG_INT);
    assert_int_equal(ar(u, R_STATUS) & both, 0);
    finish(m);
}

/* 3.4: a machine reset returns every register to its power-on value. */
static void test_machine_reset_clears(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    aw(u, R_EVT_HEAD, 0x20);
    assert_int_equal(intc_machine_reset(m), INTC_OK);
    assert_int_equal(ar(u, R_DEVTAB), 0);
    assert_int_equal(ar(u, R_CONTROL), 0);
    assert_int_equal(ar(u, R_STATUS), 0);
    assert_int_equal(ar(u, R_EVT_HEAD), 0);
    finish(m);
}

/* ==== DTE interrupt control (2.2.5) ==== */

/* With IOMMUEn clear nothing is remapped: the message goes as sent,
   the device table is not consulted. */
static void test_iommu_disabled_passes_through(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = intc_machine_iommu(m);
    aw(u, R_DEVTAB, DEVTAB | DEVTAB_SIZE);
    dte_set(DEV_A, IV | INTCTL(0)); /* would abort */
    msi(m, DEV_A, 1, 0x41);
    assert_true(irr(m, 1, 0x41));
    finish(m);
}

/* 2.2.5: DTE.IV=0 - interrupts are forwarded unmapped. */
static void test_iv0_forwards_unmapped(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, 0 | INTCTL(2) | TABLEN(9) | IRT_A);
    msi(m, DEV_A, 2, 0x42);
    assert_true(irr(m, 2, 0x42));
    th_assert_event_count(h, INTC_EV_IR_REMAPPED, 0);
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

/* 2.2.5 IntCtl 00b: fixed/arbitrated interrupts are target aborted
   (logged as IO_PAGE_FAULT with I=1: model choice). */
static void test_intctl_00_target_abort(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, IV | INTCTL(0) | TABLEN(9) | IRT_A);
    irte32(IRT_A, 0x42, E_REMAP_EN, 1, 0x55);
    msi(m, DEV_A, 1, 0x42);
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), 1);
    assert_int_equal(ev_code(0), EV_IO_PAGE_FAULT);
    th_assert_last_event(h, INTC_EV_IR_FAULT, data,
                         IPF_EVENT | 1u << 8);
    finish(m);
}

/* 2.2.5 IntCtl 01b: forwarded unmapped (the table is ignored). */
static void test_intctl_01_forward_unmapped(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, IV | INTCTL(1) | TABLEN(9) | IRT_A);
    irte32(IRT_A, 0x42, E_REMAP_EN, 2, 0x55);
    msi(m, DEV_A, 1, 0x42);
    assert_true(irr(m, 1, 0x42));
    assert_false(irr(m, 2, 0x55));
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

/* 2.2.5 IntCtl 10b: remapped through the IRTE at index data[10:0]; the
   message's own vector and destination are replaced. */
static void test_intctl_10_remaps(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 0x42, E_REMAP_EN, 2, 0x55);
    msi(m, DEV_A, 1, 0x42);
    assert_true(irr(m, 2, 0x55));
    assert_false(irr(m, 1, 0x42));
    TH_IF_TRACED(h) {
        const intc_event *e = th_find_event(h, INTC_EV_IR_REMAPPED, INTC_NO_CPU,
                                            0x55);
        assert_non_null(e);
        assert_int_equal(e->pin, DEV_A);
        assert_int_equal(e->data, 0x42);
        assert_int_equal(e->data2, 1ull << 32 | 2);
    }
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

/* 2.2.5 IntCtl 11b is reserved: ILLEGAL_DEV_TABLE_ENTRY, blocked. */
static void test_intctl_11_illegal_dte(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, IV | INTCTL(3) | TABLEN(9) | IRT_A);
    irte32(IRT_A, 0x42, E_REMAP_EN, 2, 0x55);
    msi(m, DEV_A, 1, 0x42);
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), 1);
    assert_int_equal(ev_code(0), EV_ILLEGAL_DTE);
    assert_int_equal(ev_dev(0), DEV_A);
    finish(m);
}

/* 2.2.2.2: IntTabLen 1100b-1111b are reserved: ILLEGAL_DEV_TABLE_ENTRY. */
static void test_inttablen_reserved_illegal_dte(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 12));
    irte32(IRT_A, 0x42, E_REMAP_EN, 2, 0x55);
    msi(m, DEV_A, 1, 0x42);
    assert_false(any_irr(m));
    assert_int_equal(ev_code(0), EV_ILLEGAL_DTE);
    assert_int_equal(n_logged(u), 1);
    finish(m);
}

/* 2.2.5: NMI is forwarded unmapped when NMIPass is set. */
static void test_nmi_pass(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9) | NMI_PASS);
    msi(m, DEV_A, 1, 4u << 8);
    assert_true(pending(m, 1) & INTC_PEND_NMI);
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

/* 2.2.5: NMI without NMIPass is target aborted. */
static void test_nmi_blocked_without_pass(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9) | INIT_PASS | EINT_PASS);
    msi(m, DEV_A, 1, 4u << 8);
    assert_false(pending(m, 1) & INTC_PEND_NMI);
    assert_int_equal(n_logged(u), 1);
    assert_int_equal(ev_code(0), EV_IO_PAGE_FAULT);
    finish(m);
}

/* 2.2.5: INIT passes with InitPass, else target abort. */
static void test_init_pass(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9) | INIT_PASS);
    dte_set(DEV_B, dte_remap(IRT_B, 9) | NMI_PASS | EINT_PASS);
    msi(m, DEV_B, 2, 5u << 8);
    assert_false(pending(m, 2) & INTC_PEND_INIT);
    msi(m, DEV_A, 1, 5u << 8);
    assert_true(pending(m, 1) & INTC_PEND_INIT);
    assert_int_equal(n_logged(u), 1);
    assert_int_equal(ev_dev(0), DEV_B);
    finish(m);
}

/* 2.2.5: ExtINT passes with EIntPass, else target abort. */
static void test_extint_pass(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9) | EINT_PASS);
    dte_set(DEV_B, dte_remap(IRT_B, 9) | NMI_PASS | INIT_PASS);
    msi(m, DEV_B, 0, 7u << 8);
    assert_false(pending(m, 0) & INTC_PEND_EXTINT);
    msi(m, DEV_A, 0, 7u << 8);
    assert_true(pending(m, 0) & INTC_PEND_EXTINT);
    assert_int_equal(n_logged(u), 1);
    assert_int_equal(ev_dev(0), DEV_B);
    finish(m);
}

/* 2.2.5: SMI has no pass bit; model choice: blocked with
   INVALID_DEVICE_REQUEST (even with every pass bit set). */
static void test_smi_blocked(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9) | NMI_PASS | INIT_PASS | EINT_PASS);
    msi(m, DEV_A, 1, 2u << 8);
    assert_false(pending(m, 1) & INTC_PEND_SMI);
    assert_int_equal(ev_code(0), EV_INVALID_DEV_REQ);
    TH_IF_TRACED(h)
        assert_int_equal(th_last_event(h, INTC_EV_IR_FAULT)->data & 0xff,
                         EV_INVALID_DEV_REQ);
    assert_int_equal(n_logged(u), 1);
    finish(m);
}

/* 2.2.5: an index at or beyond 2^IntTabLen is an IO_PAGE_FAULT (I=1). */
static void test_index_beyond_inttablen(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 4)); /* 16 entries */
    irte32(IRT_A, 15, E_REMAP_EN, 1, 0x51);
    irte32(IRT_A, 16, E_REMAP_EN, 1, 0x52); /* outside the table */
    msi(m, DEV_A, 0, 16);
    assert_false(any_irr(m));
    assert_int_equal(ev_code(0), EV_IO_PAGE_FAULT);
    th_assert_last_event(h, INTC_EV_IR_FAULT, data2, 16);
    msi(m, DEV_A, 0, 15);
    assert_true(irr(m, 1, 0x51));
    assert_int_equal(n_logged(u), 1);
    finish(m);
}

/* 2.2.2.2 IG (ignore unmapped interrupts): the abort is not logged. */
static void test_ig_suppresses_unmapped_log(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 4) | IG);
    msi(m, DEV_A, 0, 16);
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), 0);
    /* recorded 0 */
    th_assert_last_event(h, INTC_EV_IR_FAULT, data, IPF_EVENT | 1u << 9);
    finish(m);
}

/* 2.2.2: a device ID beyond DevTabSize has no DTE; model choice:
   ILLEGAL_DEV_TABLE_ENTRY, blocked. */
static void test_devid_beyond_devtab(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    uint16_t far = 0x100; /* Size 1: IDs 0..255 */
    dte_set(far, 0);      /* IV=0 would forward, if it were read */
    msi(m, far, 1, 0x42);
    assert_false(any_irr(m));
    assert_int_equal(ev_code(0), EV_ILLEGAL_DTE);
    assert_int_equal(ev_dev(0), far);
    assert_int_equal(n_logged(u), 1);
    finish(m);
}

/* 2.5 DEV_TAB_HARDWARE_ERROR: the DTE cannot be read. */
static void test_devtab_read_error(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    h->fail_lo = DEVTAB + 32ull * DEV_A;
    h->fail_hi = h->fail_lo + 32;
    msi(m, DEV_A, 1, 0x42);
    assert_false(any_irr(m));
    assert_int_equal(ev_code(0), EV_DEV_TAB_HW_ERROR);
    assert_int_equal(peek64(EVTLOG + 8), DEVTAB + 32ull * DEV_A);
    assert_int_equal(n_logged(u), 1);
    finish(m);
}

/* ==== IRTE (2.2.5.1, 2.2.5.2) ==== */

/* 2.2.5.1 RemapEn=0: IO_PAGE_FAULT with I=1, blocked. */
static void test_remapen0_io_page_fault(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 7, 0, 1, 0x55);
    msi(m, DEV_A, 0, 7);
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), 1);
    assert_int_equal(ev_code(0), EV_IO_PAGE_FAULT);
    th_assert_last_event(h, INTC_EV_IR_FAULT, data,
                         IPF_EVENT | 1u << 8);
    finish(m);
}

/* 2.2.5.1 RemapEn=0 with SupIOPF: blocked silently (not logged). */
static void test_remapen0_supiopf_silent(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 7, E_SUP_IOPF, 1, 0x55);
    msi(m, DEV_A, 0, 7);
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), 0);
    th_assert_last_event(h, INTC_EV_IR_FAULT, data, IPF_EVENT | 1u << 9);
    finish(m);
}

/* 2.2.5.1: IntType 001b is arbitrated (lowest priority) and DM=1 a
   logical destination. */
static void test_irte32_arbitrated_logical(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    /* Flat logical: CPU 2 has LDR bit 2. */
    lw(intc_machine_lapic(m, 2), 0x0d0, 0x04000000u);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 0x105, E_REMAP_EN | E_TYPE(1) | E_DM, 0x04, 0x66);
    msi(m, DEV_A, 0, 0x105); /* data[10:8] = 001b: arbitrated */
    assert_true(irr(m, 2, 0x66));
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

/* 2.2.5.1: the engine reports the decoded IRTE fields; level comes from
   the MSI data's trigger-mode bit. */
static void test_irte32_fields_engine(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    intc_irq irq;
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 9, E_REMAP_EN | E_TYPE(1) | E_DM, 0x0c, 0x77);
    assert_int_equal(intc_iommu_remap(u, DEV_A, MSI_ADDR(0),
                                      9 | INTC_MSI_DATA_LEVEL |
                                          INTC_MSI_DATA_ASSERT,
                                      &irq),
                     INTC_OK);
    assert_false(irq.blocked);
    assert_true(irq.remapped);
    assert_int_equal(irq.index, 9);
    assert_int_equal(irq.vector, 0x77);
    assert_int_equal(irq.dest, 0x0c);
    assert_int_equal(irq.dm, 1);
    assert_true(irq.logical);
    assert_true(irq.level);
    assert_false(irq.x2apic);
    finish(m);
}

/* 2.2.5.1: IntType other than fixed/arbitrated is not valid for
   remapping: IO_PAGE_FAULT with RZ, blocked. */
static void test_irte32_reserved_inttype(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 7, E_REMAP_EN | E_TYPE(4), 1, 0x55); /* NMI type */
    msi(m, DEV_A, 0, 7);
    assert_false(any_irr(m));
    assert_false(pending(m, 1) & INTC_PEND_NMI);
    assert_int_equal(ev_code(0), EV_IO_PAGE_FAULT);
    assert_true(peek64(EVTLOG) & EVF_RZ);
    assert_int_equal(n_logged(u), 1);
    finish(m);
}

/* 2.2.5.1: GuestMode must be 0 in the 32-bit format. */
static void test_irte32_guest_mode_reserved(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 7, E_REMAP_EN | E_GUEST, 1, 0x55);
    msi(m, DEV_A, 0, 7);
    assert_false(any_irr(m));
    assert_true(peek64(EVTLOG) & EVF_RZ);
    assert_int_equal(n_logged(u), 1);
    finish(m);
}

/* 2.2.5.2: with GAEn the table holds 128-bit entries (vector in the
   high qword); without XTEn the destination is 8 bits. */
static void test_irte128_remaps(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, C_GA_EN);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    /* Entry 3 at 48 bytes; a 32-bit reading would find it elsewhere. */
    irte128(IRT_A, 3, E_REMAP_EN, 0xab00 | 3, 0x88);
    msi(m, DEV_A, 0, 3);
    assert_true(irr(m, 3, 0x88)); /* Destination[7:0] = 3 */
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

/* 2.2.5.2 with XTEn: a 32-bit destination (Destination[31:24] in the
   high qword) reaches an x2APIC-mode CPU with a large x2APIC ID. */
static void test_xt_32bit_destination(void **state)
{
    static const uint32_t ids[4] = {0, 1, 2, 0x01234567u};
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 4;
    cfg.apic_ids = ids;
    intc_machine *m = amd_machine_cfg(*state, &cfg);
    intc_iommu *u = amd_enable(m, C_GA_EN | C_XT_EN);
    intc_irq irq;
    x2_enable(intc_machine_lapic(m, 3));
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte128(IRT_A, 5, E_REMAP_EN, 0x01234567u, 0x99);
    assert_int_equal(intc_iommu_remap(u, DEV_A, MSI_ADDR(0), 5, &irq),
                     INTC_OK);
    assert_true(irq.x2apic);
    assert_int_equal(irq.dest, 0x01234567u);
    msi(m, DEV_A, 0, 5);
    /* IRR4 (vectors 0x80-0x9F) through its x2APIC MSR. */
    assert_true((mr(intc_machine_lapic(m, 3),
                    X2MSR(INTC_LAPIC_IRR0 + 0x10 * (0x99 / 32))) >>
                 (0x99 % 32)) & 1);
    finish(m);
}

/* 2.2.5.2 guest mode, IsRun=1: the vector is set in the vAPIC backing
   page's IRR and a doorbell is sent (INTC_EV_IR_POSTED data2=1); no
   physical APIC gets the vector. */
static void test_guest_mode_running(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, C_GA_EN);
    intc_irq irq;
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte_guest(IRT_A, 6, G_ISRUN, 2, 0x6b, VAPIC, 0x1234);
    poke32(VAPIC + 0x200 + 0x10 * 3, 0x1); /* an older bit stays */
    msi(m, DEV_A, 0, 6);
    assert_int_equal(peek32(VAPIC + 0x200 + 0x10 * 3),
                     0x1u | 1u << (0x6b % 32));
    assert_false(any_irr(m));
    TH_IF_TRACED(h) {
        const intc_event *e = th_find_event(h, INTC_EV_IR_POSTED, INTC_NO_CPU,
                                            0x6b);
        assert_non_null(e);
        assert_int_equal(e->data, VAPIC);
        assert_int_equal(e->data2, 1);
    }
    assert_int_equal(intc_iommu_remap(u, DEV_A, MSI_ADDR(0), 6, &irq),
                     INTC_OK);
    assert_true(irq.posted);
    assert_int_equal(irq.dest, 2);
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

/* 2.2.5.2 guest mode, IsRun=0 with GALogIntr: IRR set, no doorbell (the
   GA log is not modelled: INTC_EV_IR_POSTED data2=0). */
static void test_guest_mode_not_running(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, C_GA_EN);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte_guest(IRT_A, 6, G_GALOG, 2, 0x21, VAPIC, 7);
    msi(m, DEV_A, 0, 6);
    assert_int_equal(peek32(VAPIC + 0x210), 1u << 1);
    assert_false(any_irr(m));
    TH_IF_TRACED(h) {
        const intc_event *e = th_find_event(h, INTC_EV_IR_POSTED, INTC_NO_CPU,
                                            0x21);
        assert_non_null(e);
        assert_int_equal(e->data2, 0);
    }
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

/* ==== entry cache and commands (2.4) ==== */

/* 2.4.5: a rewritten IRTE is not seen until INVALIDATE_INTERRUPT_TABLE
   for the device; then the new one is used. */
static void test_stale_irte_until_invalidate(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 4, E_REMAP_EN, 1, 0x51);
    msi(m, DEV_A, 0, 4);
    assert_true(irr(m, 1, 0x51));
    irte32(IRT_A, 4, E_REMAP_EN, 2, 0x52);
    msi(m, DEV_A, 0, 4);
    assert_false(irr(m, 2, 0x52)); /* stale entry used */
    cmd(u, OP(5) | DEV_B, 0);      /* another device: no effect */
    msi(m, DEV_A, 0, 4);
    assert_false(irr(m, 2, 0x52));
    cmd(u, OP(5) | DEV_A, 0);
    msi(m, DEV_A, 0, 4);
    assert_true(irr(m, 2, 0x52));
    assert_int_equal(ar(u, R_CMD_HEAD), ar(u, R_CMD_TAIL));
    finish(m);
}

/* 2.4.2: a rewritten DTE is not seen until INVALIDATE_DEVTAB_ENTRY. */
static void test_stale_dte_until_invalidate(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 4, E_REMAP_EN, 1, 0x51);
    msi(m, DEV_A, 0, 4);
    assert_true(irr(m, 1, 0x51));
    dte_set(DEV_A, IV | INTCTL(1)); /* now: forward unmapped */
    msi(m, DEV_A, 3, 0x44);
    assert_false(irr(m, 3, 0x44));
    cmd(u, OP(2) | DEV_A, 0);
    msi(m, DEV_A, 3, 0x44);
    assert_true(irr(m, 3, 0x44));
    finish(m);
}

/* 2.4.8 INVALIDATE_IOMMU_ALL drops every cached entry. */
static void test_invalidate_all(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 4, E_REMAP_EN, 1, 0x51);
    msi(m, DEV_A, 0, 4);
    irte32(IRT_A, 4, E_REMAP_EN, 2, 0x52);
    cmd(u, OP(8), 0);
    msi(m, DEV_A, 0, 4);
    assert_true(irr(m, 2, 0x52));
    TH_IF_TRACED(h) {
        const intc_event *e = th_find_event(h, INTC_EV_IR_INVALIDATE,
                                            INTC_NO_CPU, TH_ANY_VECTOR);
        assert_non_null(e);
        assert_int_equal(e->data2, INTC_IOMMU_INV_ALL);
    }
    finish(m);
}

/* Engine: intc_iommu_invalidate(device) drops that device's DTE and
   IRTEs; intc_iommu_set_table programs the table and IOMMUEn. */
static void test_engine_set_table_invalidate(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = intc_machine_iommu(m);
    assert_int_equal(intc_iommu_set_table(u, DEVTAB | DEVTAB_SIZE, true,
                                          false),
                     INTC_OK);
    assert_int_equal(ar(u, R_DEVTAB), DEVTAB | DEVTAB_SIZE);
    assert_int_equal(ar(u, R_CONTROL) & C_IOMMU_EN, C_IOMMU_EN);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 4, E_REMAP_EN, 1, 0x51);
    msi(m, DEV_A, 0, 4);
    assert_true(irr(m, 1, 0x51));
    dte_set(DEV_A, dte_remap(IRT_B, 9));
    irte32(IRT_B, 4, E_REMAP_EN, 2, 0x53);
    assert_int_equal(intc_iommu_invalidate(u, DEV_A, 0), INTC_OK);
    msi(m, DEV_A, 0, 4);
    assert_true(irr(m, 2, 0x53));
    assert_int_equal(intc_iommu_set_table(u, DEVTAB, false, false), INTC_OK);
    assert_int_equal(ar(u, R_CONTROL) & C_IOMMU_EN, 0);
    finish(m);
}

/* Toggling GAEn changes the IRTE size: cached entries are dropped. */
static void test_gaen_change_drops_cache(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 0, E_REMAP_EN, 1, 0x51);
    msi(m, DEV_A, 0, 0);
    assert_true(irr(m, 1, 0x51));
    irte128(IRT_A, 0, E_REMAP_EN, 2, 0x54);
    aw(u, R_CONTROL, C_IOMMU_EN | C_EVT_LOG_EN | C_CMDBUF_EN | C_GA_EN);
    msi(m, DEV_A, 0, 0);
    assert_true(irr(m, 2, 0x54));
    finish(m);
}

/* 2.4.1 COMPLETION_WAIT with S stores the 64-bit data at the address. */
static void test_completion_wait_store(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    cmd(u, OP(1) | STORE | 1, 0x1122334455667788ull);
    assert_int_equal(peek64(STORE), 0x1122334455667788ull);
    assert_int_equal(ar(u, R_STATUS) & S_COMWAIT_INT, 0);
    finish(m);
}

/* 2.4.1 COMPLETION_WAIT with I sets ComWaitInt; with ComWaitIntEn the
   IOMMU's interrupt is signalled (INTC_EV_IR_STATUS at 0x2020). */
static void test_completion_wait_interrupt(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    cmd(u, OP(1) | 2, 0);
    assert_int_equal(ar(u, R_STATUS) & S_COMWAIT_INT, S_COMWAIT_INT);
    TH_IF_TRACED(h)
        assert_null(status_irq(h)); /* ComWaitIntEn clear: no interrupt */
    aw(u, R_STATUS, S_COMWAIT_INT);
    aw(u, R_CONTROL, C_IOMMU_EN | C_EVT_LOG_EN | C_CMDBUF_EN |
                         C_COMWAIT_INT_EN);
    cmd(u, OP(1) | 2, 0);
    TH_IF_TRACED(h) {
        const intc_event *e = status_irq(h);
        assert_non_null(e);
        assert_int_equal(e->pin, R_STATUS);
        assert_int_equal(e->data2, S_COMWAIT_INT);
    }
    finish(m);
}

/* 2.4, 2.5.5: an unknown opcode is an ILLEGAL_COMMAND_ERROR with the
   command's address; processing stops there (CmdBufRun cleared, head on
   the bad command, later commands not executed). */
static void test_illegal_command(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    cmd(u, OP(1) | STORE | 1, 1);   /* executes */
    poke64(CMDBUF + 16, OP(0xf));   /* illegal */
    poke64(CMDBUF + 24, 0);
    poke64(CMDBUF + 32, OP(1) | STORE | 1);
    poke64(CMDBUF + 40, 2);
    aw(u, R_CMD_TAIL, 48);
    assert_int_equal(peek64(STORE), 1);
    assert_int_equal(ar(u, R_CMD_HEAD), 16);
    assert_int_equal(ar(u, R_STATUS) & S_CMDBUF_RUN, 0);
    assert_int_equal(ev_code(0), EV_ILLEGAL_COMMAND);
    assert_int_equal(peek64(EVTLOG + 8), CMDBUF + 16);
    th_assert_event_count(h, INTC_EV_IR_QUEUE_ERROR, 1);
    finish(m);
}

/* 2.4.2: reserved bits set in a command make it illegal. */
static void test_illegal_command_reserved_bits(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    cmd(u, OP(5) | 1ull << 40 | DEV_A, 0);
    assert_int_equal(ev_code(0), EV_ILLEGAL_COMMAND);
    assert_int_equal(ar(u, R_CMD_HEAD), 0);
    finish(m);
}

/* After an illegal command software fixes it and writes CmdBufEn = 1:
   fetching resumes at head. */
static void test_command_restart(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    cmd(u, OP(0xf), 0);
    assert_int_equal(ar(u, R_STATUS) & S_CMDBUF_RUN, 0);
    poke64(CMDBUF, OP(1) | STORE | 1);
    poke64(CMDBUF + 8, 0x77);
    aw(u, R_CONTROL, C_IOMMU_EN | C_EVT_LOG_EN | C_CMDBUF_EN);
    assert_int_equal(ar(u, R_STATUS) & S_CMDBUF_RUN, S_CMDBUF_RUN);
    assert_int_equal(peek64(STORE), 0x77);
    assert_int_equal(ar(u, R_CMD_HEAD), 16);
    finish(m);
}

/* 2.4: no command is fetched while CmdBufEn is clear; enabling the
   buffer runs what is queued. */
static void test_commands_wait_for_cmdbufen(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    aw(u, R_CONTROL, C_IOMMU_EN);
    cmd(u, OP(1) | STORE | 1, 5);
    assert_int_equal(peek64(STORE), 0);
    aw(u, R_CONTROL, C_IOMMU_EN | C_CMDBUF_EN);
    assert_int_equal(peek64(STORE), 5);
    finish(m);
}

/* 2.4: the command buffer is a ring: commands wrap from the last entry
   to the first. */
static void test_commands_wrap(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    aw(u, R_CONTROL, C_IOMMU_EN);
    aw(u, R_CMD_HEAD, 4096 - 16);
    aw(u, R_CMD_TAIL, 4096 - 16);
    aw(u, R_CONTROL, C_IOMMU_EN | C_CMDBUF_EN);
    cmd(u, OP(1) | STORE | 1, 1);
    cmd(u, OP(1) | (STORE + 8) | 1, 2);
    assert_int_equal(peek64(STORE), 1);
    assert_int_equal(peek64(STORE + 8), 2);
    assert_int_equal(ar(u, R_CMD_HEAD), 16);
    finish(m);
}

/* ==== event log (2.5) ==== */

/* 2.5.3 IO_PAGE_FAULT entry: DeviceID 15:0, I (51), RW (53), code in
   63:60; the address field holds the request's MSI address. */
static void test_event_entry_format(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 7, 0, 1, 0x55);
    msi(m, DEV_A, 3, 7);
    assert_int_equal(peek64(EVTLOG),
                     (uint64_t)EV_IO_PAGE_FAULT << 60 | EVF_I | EVF_RW |
                         DEV_A);
    assert_int_equal(peek64(EVTLOG + 8), MSI_ADDR(3));
    assert_int_equal(ar(u, R_EVT_TAIL), 16);
    finish(m);
}

/* 3.4.4: with EventLogEn clear nothing is written to the log (the fault
   is still reported to the host, recorded=0). */
static void test_event_log_disabled(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    aw(u, R_CONTROL, C_IOMMU_EN | C_CMDBUF_EN);
    dte_set(DEV_A, IV | INTCTL(0));
    msi(m, DEV_A, 0, 1);
    assert_int_equal(ar(u, R_EVT_TAIL), 0);
    assert_int_equal(peek64(EVTLOG), 0);
    th_assert_last_event(h, INTC_EV_IR_FAULT, data, IPF_EVENT);
    finish(m);
}

/* 3.4.12: EventIntEn makes each logged event set EventLogInt and signal
   the IOMMU interrupt. */
static void test_event_log_interrupt(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, C_EVT_INT_EN);
    dte_set(DEV_A, IV | INTCTL(0));
    msi(m, DEV_A, 0, 1);
    assert_int_equal(ar(u, R_STATUS) & S_EVT_LOG_INT, S_EVT_LOG_INT);
    TH_IF_TRACED(h) {
        const intc_event *e = status_irq(h);
        assert_non_null(e);
        assert_int_equal(e->data2, S_EVT_LOG_INT);
    }
    finish(m);
}

/* 3.4.12 EventOverflow: with no free entry (tail + 1 == head) the event
   is discarded, EventOverflow set and logging stops until software clears
   it and writes EventLogEn = 1. */
static void test_event_log_overflow(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, IV | INTCTL(0));
    for (unsigned i = 0; i < 255; i++)
        msi(m, DEV_A, 0, 1);
    assert_int_equal(ar(u, R_EVT_TAIL), 255 * 16);
    assert_int_equal(ar(u, R_STATUS) & S_EVT_OVERFLOW, 0);
    msi(m, DEV_A, 0, 1);
    assert_int_equal(ar(u, R_EVT_TAIL), 255 * 16);
    assert_int_equal(ar(u, R_STATUS) & (S_EVT_OVERFLOW | S_EVT_LOG_RUN),
                     S_EVT_OVERFLOW);
    /* Software consumes everything; still stopped until restarted. */
    aw(u, R_EVT_HEAD, 255 * 16);
    msi(m, DEV_A, 0, 1);
    assert_int_equal(ar(u, R_EVT_TAIL), 255 * 16);
    aw(u, R_STATUS, S_EVT_OVERFLOW);
    aw(u, R_CONTROL, C_IOMMU_EN | C_EVT_LOG_EN | C_CMDBUF_EN);
    assert_int_equal(ar(u, R_STATUS) & S_EVT_LOG_RUN, S_EVT_LOG_RUN);
    msi(m, DEV_A, 0, 1);
    assert_int_equal(ar(u, R_EVT_TAIL), 0); /* wrapped */
    assert_int_equal(ev_code(255), EV_IO_PAGE_FAULT);
    finish(m);
}

/* ==== end to end ==== */

/* MSI-X table entry -> AMD-Vi IRTE -> Local APIC. */
static void test_msix_end_to_end(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    intc_err err;
    intc_msix *x = intc_msix_new(m, 4, DEV_A, &err);
    assert_non_null(x);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 2, E_REMAP_EN, 3, 0xa2);
    /* Entry 1: address 0xFEE00000, data = IRTE index 2, unmasked. */
    assert_int_equal(intc_msix_table_write(x, 16, 4, 0xfee00000u), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 20, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 24, 4, 2), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 28, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 1, NULL), INTC_OK);
    assert_true(irr(m, 3, 0xa2));
    th_assert_event_count(h, INTC_EV_IR_REMAPPED, 1);
    assert_int_equal(n_logged(u), 0);
    intc_msix_free(x);
    finish(m);
}

/* IOAPIC pin -> AMD-Vi (requester = the IOAPIC's device ID; the RTE
   vector is the IRTE index) -> Local APIC. */
static void test_ioapic_end_to_end(void **state)
{
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    intc_machine_config_init(&cfg);
    memset(&ioc, 0, sizeof(ioc));
    ioc.id = 8;
    ioc.version = 0x20;
    ioc.n_pins = 24;
    ioc.source_id = DEV_IOAPIC;
    cfg.n_cpus = 4;
    cfg.ioapics = &ioc;
    cfg.n_ioapics = 1;
    intc_machine *m = amd_machine_cfg(*state, &cfg);
    intc_iommu *u = amd_enable(m, 0);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    dte_set(DEV_IOAPIC, dte_remap(IRT_B, 8));
    irte32(IRT_B, 4, E_REMAP_EN, 2, 0xb4);
    rte_set(io, 4, RTE_VEC(4) | RTE_DEST(0));
    assert_int_equal(intc_ioapic_set_irq(io, 4, true), INTC_OK);
    assert_true(irr(m, 2, 0xb4));
    assert_false(irr(m, 0, 4));
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

/* ==== security (2.2.5): what a device cannot do ==== */

/* A device using another device's IRTE index gets its own (Linux-style
   IV=1, IntCtl=00b) DTE: never reaches a LAPIC, logged each time, while
   the owner's interrupts still work. */
static void test_security_wrong_device(void **state)
{
    th_host *h = *state;
    intc_machine *m = amd_machine(h);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    dte_set(DEV_B, IV); /* no table: target abort */
    irte32(IRT_A, 3, E_REMAP_EN, 1, 0x61);
    for (unsigned i = 0; i < 3; i++)
        msi(m, DEV_B, 1, 3);
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), 3);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(ev_dev(i), DEV_B);
    msi(m, DEV_A, 1, 3);
    assert_true(irr(m, 1, 0x61));
    assert_int_equal(n_logged(u), 3);
    finish(m);
}

/* Indices beyond the device's table never reach a LAPIC, even when
   memory past the table holds a valid-looking entry. */
static void test_security_out_of_range_index(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 3)); /* 8 entries */
    irte32(IRT_A, 0, E_REMAP_EN, 1, 0x61);
    for (uint32_t idx = 8; idx < 0x200; idx += 0x41)
        irte32(IRT_A, idx, E_REMAP_EN, 1, 0x70);
    unsigned n = 0;
    for (uint32_t idx = 8; idx < 0x200; idx += 0x41, n++)
        msi(m, DEV_A, 0, idx);
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), n);
    msi(m, DEV_A, 0, 0);
    assert_true(irr(m, 1, 0x61));
    finish(m);
}

/* Not-present (RemapEn=0) entries never reach a LAPIC and are logged
   each time; a present neighbour still works. */
static void test_security_not_present(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 1, 0, 1, 0x62);
    irte32(IRT_A, 2, E_REMAP_EN, 1, 0x63);
    msi(m, DEV_A, 1, 1);
    msi(m, DEV_A, 1, 1);
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), 2);
    msi(m, DEV_A, 1, 2);
    assert_true(irr(m, 1, 0x63));
    assert_false(irr(m, 1, 0x62));
    finish(m);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, amd_setup, amd_teardown)

/* ==== the pipeline's outcome (common.h intc_delivery) ==== */

/* intc_msi_send() with the outcome, on a poisoned struct so that every
   field is checked. */
static intc_delivery amsi(intc_machine *m, uint16_t devid, uint32_t dest,
                          uint32_t data)
{
    intc_delivery d;
    memset(&d, 0xa5, sizeof(d));
    assert_int_equal(intc_msi_send(m, MSI_ADDR(dest), data, devid, &d),
                     INTC_OK);
    return d;
}

/* 2.2.5: a request the IOMMU does not deliver is BLOCKED with the AMD-Vi
   event code (2.5) as the reason and the interrupt index concerned (0
   when no IRTE is): an index at or beyond 2^IntTabLen and an IRTE with
   RemapEn=0 are IO_PAGE_FAULT with their index; IntCtl 00b is a target
   abort (IO_PAGE_FAULT, model choice), IntCtl 11b an
   ILLEGAL_DEV_TABLE_ENTRY, neither with an entry.  No APIC gets
   anything. */
static void test_delivery_blocked_outcomes(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    intc_delivery d;
    dte_set(DEV_A, dte_remap(IRT_A, 4)); /* 16 entries */
    irte32(IRT_A, 3, 0, 1, 0x62);        /* RemapEn=0 */
    irte32(IRT_A, 16, E_REMAP_EN, 1, 0x52); /* beyond the table */
    d = amsi(m, DEV_A, 0, 16);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, EV_IO_PAGE_FAULT, 0, 16);
    d = amsi(m, DEV_A, 0, 3);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, EV_IO_PAGE_FAULT, 0, 3);
    dte_set(DEV_B, IV | INTCTL(0) | TABLEN(4) | IRT_A);
    d = amsi(m, DEV_B, 1, 3);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, EV_IO_PAGE_FAULT, 0, 0);
    dte_set(0x20, IV | INTCTL(3) | TABLEN(4) | IRT_A);
    d = amsi(m, 0x20, 1, 3);
    assert_delivery(d, INTC_DELIVERY_BLOCKED, EV_ILLEGAL_DTE, 0, 0);
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), 4);
    assert_int_equal(ev_code(3), EV_ILLEGAL_DTE);
    finish(m);
}

/* 2.2.5.1: remapped through a 32-bit IRTE (IntCtl 10b, index data[10:0]):
   ACCEPTED by the IRTE's destination with the index; 2.2.2 IV=0: the
   request is forwarded unmapped and accepted as it is, no IRTE used;
   2.2.5.2 guest virtual APIC mode: the vector goes to the vAPIC backing
   page, POSTED with the index, no physical APIC gets it. */
static void test_delivery_remapped_outcomes(void **state)
{
    intc_machine *m = amd_machine(*state);
    intc_iommu *u = amd_enable(m, 0);
    intc_delivery d;
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte32(IRT_A, 0x42, E_REMAP_EN, 2, 0x55);
    d = amsi(m, DEV_A, 1, 0x42);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, 0x42);
    assert_true(irr(m, 2, 0x55));
    assert_false(irr(m, 1, 0x42));
    /* An IRTE naming an APIC nobody has. */
    irte32(IRT_A, 0x43, E_REMAP_EN, 9, 0x56);
    d = amsi(m, DEV_A, 1, 0x43);
    assert_delivery(d, INTC_DELIVERY_NO_TARGET, 0, 0, 0x43);
    /* IV=0: forwarded unmapped. */
    dte_set(DEV_B, INTCTL(2) | TABLEN(9) | IRT_A);
    d = amsi(m, DEV_B, 3, 0x57);
    assert_delivery(d, INTC_DELIVERY_ACCEPTED, 0, 1, UINT32_MAX);
    assert_true(irr(m, 3, 0x57));
    assert_int_equal(n_logged(u), 0);
    finish(m);

    /* Guest mode (GAEn, 128-bit IRTEs). */
    m = amd_machine(*state);
    u = amd_enable(m, C_GA_EN);
    dte_set(DEV_A, dte_remap(IRT_A, 9));
    irte_guest(IRT_A, 6, G_ISRUN, 2, 0x6b, VAPIC, 0x1234);
    d = amsi(m, DEV_A, 0, 6);
    assert_delivery(d, INTC_DELIVERY_POSTED, 0, 0, 6);
    assert_true(peek32(VAPIC + 0x200 + 0x10 * (0x6b / 32)) &
                1u << (0x6b % 32));
    assert_false(any_irr(m));
    assert_int_equal(n_logged(u), 0);
    finish(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* registers */
        T(test_reset_values),
        T(test_efr_follows_config),
        T(test_efr_read_only),
        T(test_register_writable_bits),
        T(test_register_halves),
        T(test_status_run_bits),
        T(test_status_w1c),
        T(test_machine_reset_clears),
        /* DTE */
        T(test_iommu_disabled_passes_through),
        T(test_iv0_forwards_unmapped),
        T(test_intctl_00_target_abort),
        T(test_intctl_01_forward_unmapped),
        T(test_intctl_10_remaps),
        T(test_intctl_11_illegal_dte),
        T(test_inttablen_reserved_illegal_dte),
        T(test_nmi_pass),
        T(test_nmi_blocked_without_pass),
        T(test_init_pass),
        T(test_extint_pass),
        T(test_smi_blocked),
        T(test_index_beyond_inttablen),
        T(test_ig_suppresses_unmapped_log),
        T(test_devid_beyond_devtab),
        T(test_devtab_read_error),
        /* IRTE */
        T(test_remapen0_io_page_fault),
        T(test_remapen0_supiopf_silent),
        T(test_irte32_arbitrated_logical),
        T(test_irte32_fields_engine),
        T(test_irte32_reserved_inttype),
        T(test_irte32_guest_mode_reserved),
        T(test_irte128_remaps),
        T(test_xt_32bit_destination),
        T(test_guest_mode_running),
        T(test_guest_mode_not_running),
        /* cache and commands */
        T(test_stale_irte_until_invalidate),
        T(test_stale_dte_until_invalidate),
        T(test_invalidate_all),
        T(test_engine_set_table_invalidate),
        T(test_gaen_change_drops_cache),
        T(test_completion_wait_store),
        T(test_completion_wait_interrupt),
        T(test_illegal_command),
        T(test_illegal_command_reserved_bits),
        T(test_command_restart),
        T(test_commands_wait_for_cmdbufen),
        T(test_commands_wrap),
        /* event log */
        T(test_event_entry_format),
        T(test_event_log_disabled),
        T(test_event_log_interrupt),
        T(test_event_log_overflow),
        /* end to end */
        T(test_msix_end_to_end),
        T(test_ioapic_end_to_end),
        /* security */
        T(test_security_wrong_device),
        T(test_security_out_of_range_index),
        T(test_security_not_present),
        /* the pipeline's outcome */
        T(test_delivery_blocked_outcomes),
        T(test_delivery_remapped_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
